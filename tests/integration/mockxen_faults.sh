#!/bin/bash
# mockxen fault injection from the command line: the Nth call of a kind fails with an
# errno, an event towards the device model is lost, the daemon dies at a point.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/mockxen-client/harness.sh"

check "start with --fail create_ioreq_server:1:EIO" \
    mx_start --fail xendevicemodel_create_ioreq_server:1:EIO --fail xc_interface_open:2:12
check "the 1st create_ioreq_server fails with EIO, the 2nd works" \
    "$mxclient" expect-errno create_ioreq_server 5 1
check "the 1st xc_interface_open works" "$mxclient" check params 1
check "the 2nd xc_interface_open fails with ENOMEM, the 3rd works" \
    "$mxclient" expect-errno interface_open 12 1
mx_stop

# The pause lets the device model take the event its ports start with when bound (as
# on Xen); the first event counted is then the ioreq's.
printf 'sleep 300ms\nin 0x100, 4 == 0xa0000100\n' >"$tmp/one.gs"
mx_guest "$tmp/one.gs" echo --drop-event 1 --ioreq-timeout 300
check "a dropped event leaves the vCPU waiting until it times out" \
    bash -c "[ $mx_status -eq 1 ] && grep -q 'did not answer' '$tmp/mx.err'"
mx_guest "$tmp/one.gs" echo --drop-event 2
check "dropping a later event spares the first ioreq" test "$mx_status" -eq 0

mx_guest "$tmp/one.gs" echo --die-at xendevicemodel_set_ioreq_server_state:1
check "--die-at kills the daemon at the chosen call (counted by a shim)" test "$mx_status" -eq 137
printf 'in 0x100, 4\nin 0x100, 4\n' >"$tmp/two.gs"
mx_guest "$tmp/two.gs" echo --die-at guest_ioreq:2
check "--die-at on a daemon event (the 2nd guest ioreq)" test "$mx_status" -eq 137
# A SIGKILLed daemon leaves its socket files behind; the next run must not hand them
# to its device model before the new daemon has replaced them (it did ~1 run in 6).
stale_runs_ok() {
    local i
    for i in 1 2 3 4 5 6 7 8; do
        rm -f "$MOCKXEN_SOCKET" "$XENSTORED_PATH"
        python3 -c 'import socket, sys
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX); s.bind(path); s.close()' \
            "$MOCKXEN_SOCKET" "$XENSTORED_PATH" || return 1
        mx_guest "$tmp/one.gs" echo --start-timeout 3000 >/dev/null
        [ "$mx_status" -eq 0 ] || return 1
    done
}
check "runs over stale sockets (left by a killed daemon) reach the new daemon" stale_runs_ok
# hangup ERRNO SIGNAL: a client waits on its event channel fd while the daemon gets SIGNAL
hangup() {
    mx_start || return 1
    "$mxclient" expect-hangup "$1" 1 >"$tmp/hup.out" &
    local client=$!
    for _ in $(seq 500); do grep -q ready "$tmp/hup.out" 2>/dev/null && break; sleep 0.02; done
    kill -"$2" "$mx_pid"
    wait "$mx_pid" 2>/dev/null
    mx_pid=
    wait "$client"
}
check "the daemon dying wakes event channel pollers: pending() fails with ENOTCONN" \
    hangup 107 KILL
check "an orderly exit wakes them once: pending() says EAGAIN, then the fd is quiet" \
    hangup 11 TERM
check "a domid beyond Xen's range is a usage error, not truncated to 32 bits" \
    bash -c "timeout 10 '$mockxen' --socket '$tmp/x' --xenstore '$tmp/y' --domid 4294967297 2>/dev/null; test \$? -eq 2"
check "a malformed --fail is a usage error" \
    bash -c "'$mockxen' --socket x --xenstore y --fail foo 2>/dev/null; test \$? -eq 2"
done_testing
