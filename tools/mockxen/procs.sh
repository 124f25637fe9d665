# tools/mockxen/procs.sh — process helpers shared by the scripts that start mockxen and
# a device model: tests/mockxen-client/harness.sh, bench/lib.sh and (through either of
# them) tests/guests/kvm_run.sh. Source it; it only defines functions, sets nothing and
# starts nothing.

# mx_wait_sockets PID: wait up to 5 s for both mockxen sockets ($MOCKXEN_SOCKET and
# $XENSTORED_PATH) to exist. Fails if process PID (the daemon, or a wrapper that execs
# it) exits first or the time runs out.
mx_wait_sockets() {
    local pid=$1
    for _ in $(seq 500); do
        [ -S "$MOCKXEN_SOCKET" ] && [ -S "$XENSTORED_PATH" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}

# mx_stop_patiently PID: SIGTERM PID, SIGKILL it if it is still there 10 s later, and
# reap it. Fails if it had to be killed (the caller says so in its own words).
mx_stop_patiently() {
    local pid=$1 killed=0
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        killed=1
    fi
    wait "$pid" 2>/dev/null
    return $killed
}
