# bench/lib.sh — shared launcher for benchmarks that run a device model on mockxen.
#
# Source it; it defines the programs and a scratch folder:
#   top, rel                  the source tree and the optimised build (build/rel, or
#                             $XENDM_TOP / $XENDM_REL_BUILD as scripts/run-bench.sh sets)
#   mockxen, xendm, qemu      the programs (qemu: Debian's unmodified QEMU-xen)
#   tmp                       a scratch folder, removed on exit
#   bench_cpu                 if set (by the caller, after sourcing), mockxen and the
#                             device models run pinned to this one CPU
# and exports MOCKXEN_SOCKET, XENSTORED_PATH and LD_LIBRARY_PATH (the shims) so that
# every device model started here talks to the mockxen started here.
#
# Ownership: one mockxen and at most one device model at a time. mx_pid and dm_pid
# name the running ones (empty when none); the exit trap stops both, so a benchmark
# that fails half-way leaves no process behind. Device models are stopped with
# SIGTERM and, if they ignore it for 10 s, SIGKILL (bench_dm_stop).
[ "${BASH_SOURCE[0]}" != "$0" ] || exit 0      # a library: nothing to run on its own
set -u
top=${XENDM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
rel=${XENDM_REL_BUILD:-$top/build/rel}
mockxen=$rel/tools/mockxen/mockxen
xendm=$rel/xendm
qemu=${XENDM_QEMU:-/usr/libexec/xen-qemu-system-i386}
tmp=$(mktemp -d /tmp/xendm-bench-XXXXXX)
export MOCKXEN_SOCKET=$tmp/mx.sock XENSTORED_PATH=$tmp/xs.sock LD_LIBRARY_PATH=$top/build/shim
mkfifo "$tmp/dm.stdin"                  # xendm's console input: open, never a byte
. "$top/tools/mockxen/procs.sh"
mx_pid= dm_pid= bench_cpu=

bench_cleanup() {
    bench_dm_stop
    if [ -n "$mx_pid" ]; then kill "$mx_pid" 2>/dev/null; wait "$mx_pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap bench_cleanup EXIT

# bench_on_cpu PROGRAM ARGS...: run PROGRAM (exec'd, so $! stays its pid) on
# $bench_cpu if that is set. The subshell pins itself first and then execs PROGRAM
# directly (no taskset in between), so that PROGRAM's start is one execve.
bench_on_cpu() {
    if [ -n "$bench_cpu" ]; then taskset -pc "$bench_cpu" "$BASHPID" >/dev/null || return; fi
    exec "$@"
}

# bench_exec_stamped PROGRAM ARGS...: like bench_on_cpu, and write the wall-clock time
# of the execve ($EPOCHREALTIME, in s) to $tmp/dm.t0: start-up is timed from there, so
# it counts the device model's own loading and set-up but not the shell's fork.
bench_exec_stamped() {
    if [ -n "$bench_cpu" ]; then taskset -pc "$bench_cpu" "$BASHPID" >/dev/null || return; fi
    echo "$EPOCHREALTIME" >"$tmp/dm.t0"
    exec "$@"
}

# bench_mx_start OUT [mockxen options]: start mockxen in the background with its stdout
# (guest echo lines and benchmark rows) going to OUT and its stderr (messages and
# counters) to $tmp/mx.err, and wait until both of its sockets exist. Returns 1 if
# mockxen died first or had no sockets after 5 s.
bench_mx_start() {
    local out=$1; shift
    rm -f "$MOCKXEN_SOCKET" "$XENSTORED_PATH"
    (bench_on_cpu "$mockxen" --socket "$MOCKXEN_SOCKET" --xenstore "$XENSTORED_PATH" \
        --start-timeout 20000 "$@") >"$out" 2>"$tmp/mx.err" &
    mx_pid=$!
    mx_wait_sockets "$mx_pid"
}

# bench_mx_wait: wait for mockxen to exit; its exit status is the return value.
bench_mx_wait() {
    local rc=0
    wait "$mx_pid" || rc=$?
    mx_pid=
    return $rc
}

# bench_dm_start KIND [extra options]: start the device model KIND (xendm or qemu)
# for domain 1 in the background; $dm_pid is its pid, its stderr goes to $tmp/dm.err,
# the time of its execve to $tmp/dm.t0.
# xendm's UART output is discarded and its input is an idle fifo: a console with
# nothing to say (no EOF, no bytes), so its input handling costs nothing; QEMU gets the machine libxl would give a small
# HVM guest with a null serial line and 128 MiB (extra options come last, and QEMU
# takes the last -m it is given).
bench_dm_start() {
    local kind=$1; shift
    case $kind in
    xendm)
        (XENDM_LOG=warn bench_exec_stamped "$xendm" --domid 1 "$@") <>"$tmp/dm.stdin" \
            >/dev/null 2>"$tmp/dm.err" & ;;
    qemu)
        (bench_exec_stamped "$qemu" -xen-domid 1 -no-shutdown -nodefaults \
            -machine xenfv,max-ram-below-4g=3840M -m 128 -display none -serial null \
            -monitor none "$@") </dev/null >/dev/null 2>"$tmp/dm.err" & ;;
    *)
        echo "bench_dm_start: unknown device model $kind" >&2; return 1 ;;
    esac
    dm_pid=$!
}

# bench_dm_stop: SIGTERM the device model, SIGKILL it if it is still there 10 s later.
bench_dm_stop() {
    [ -n "$dm_pid" ] || return 0
    mx_stop_patiently "$dm_pid" ||
        echo "bench: the device model ignored SIGTERM for 10 s: killed" >&2
    dm_pid=
}

# bench_cpu_ns PID: CPU time (user + system, all threads) PID has used so far, in ns;
# fails (no output) if PID is gone. /proc/PID/task/*/schedstat counts it in ns;
# /proc/PID/stat's utime+stime hold the same time in clock ticks, the fallback where
# schedstat is missing.
bench_cpu_ns() {
    local pid=$1 sum=0 found= run rest f stat
    [ -n "$pid" ] && [ -d /proc/"$pid" ] || return 1
    for f in /proc/"$pid"/task/*/schedstat; do
        read -r run rest 2>/dev/null <"$f" && sum=$((sum + run)) found=1
    done
    if [ -z "$found" ]; then
        read -r stat 2>/dev/null </proc/"$pid"/stat || return 1
        set -- ${stat##*) }          # the fields from the 3rd (state) on
        sum=$(( (${12} + ${13}) * 1000000000 / $(getconf CLK_TCK) ))
    fi
    echo "$sum"
}

# bench_rss_kib PID: resident memory of PID (VmRSS) in KiB, empty if PID is gone.
bench_rss_kib() {
    awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status 2>/dev/null
}

# bench_qmp SOCKET COMMAND...: connect to QEMU's QMP unix socket (waiting up to 20 s
# for it), run each JSON COMMAND in turn and wait for its answer. Fails with a message
# on stderr if a command returns an error.
bench_qmp() {
    python3 - "$@" <<'PY'
import json, socket, sys, time
path, commands = sys.argv[1], sys.argv[2:]
deadline = time.monotonic() + 20
while True:
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        break
    except OSError as e:
        sock.close()
        if time.monotonic() > deadline:
            sys.exit("qmp: cannot connect to %s: %s" % (path, e))
        time.sleep(0.01)
stream = sock.makefile("rw")
json.loads(stream.readline())                      # the greeting
for command in commands:
    stream.write(command + "\n")
    stream.flush()
    while True:
        line = stream.readline()
        if not line:
            sys.exit("qmp: %s: QEMU closed the connection" % command)
        answer = json.loads(line)
        if "error" in answer:
            sys.exit("qmp: %s: %s" % (command, answer["error"].get("desc", answer["error"])))
        if "return" in answer:
            break                                  # events are skipped
PY
}
