#!/bin/bash
# xendm --control and xendm-ctl: a running xendm answers help, stats, mtree and
# flatview; an unknown or overlong command is an error (exit 1); 'stop' shuts it down
# the way SIGTERM does (exit 0, start-up undone, socket removed). A socket file left by
# a process that is gone is replaced; a path another xendm listens on, or a path that
# is not a socket, stops start-up.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"
. "$top/tools/mockxen/procs.sh"
ctl=$build/xendm-ctl
sock=$tmp/ctl.sock

# start_pair: mockxen with a guest that writes the UART scratch register twice, then
# idles; xendm with the control socket. Sets mx_pid and dm_pid.
start_pair() {
    printf 'out 0x3ff, 1, 0x5a\nin 0x3ff, 1 == 0x5a\nsleep 30s\n' >"$tmp/guest.gs"
    rm -f "$tmp"/mx.sock "$tmp"/xs.sock
    "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --populate-mb 16 \
        --script "$tmp/guest.gs" >"$tmp/mx.out" 2>"$tmp/mx.err" &
    mx_pid=$!
    MOCKXEN_SOCKET=$tmp/mx.sock XENSTORED_PATH=$tmp/xs.sock mx_wait_sockets "$mx_pid"
    "${xendm_env[@]}" "$xendm" --domid 1 --control "$sock" --log info "$@" \
        >"$tmp/dm.out" 2>"$tmp/dm.err" &
    dm_pid=$!
    local i
    for i in $(seq 100); do grep -q "vcpu0" "$tmp/mx.out" 2>/dev/null && [ -S "$sock" ] && break; sleep 0.05; done
    sleep 0.2                       # let the two port accesses finish
}

start_pair
"$ctl" "$sock" stats >"$tmp/stats" 2>"$tmp/ctl.err"
check "stats: exit 0" test $? -eq 0
check "... counts the guest's port accesses" \
    awk '$1 == "ioreq.sync" || $1 == "ioreq.buffered" { n += $2 } END { exit !(n >= 2) }' "$tmp/stats"
"$ctl" "$sock" mtree >"$tmp/mtree"
check "mtree shows the UART's ports" grep -q "00000000000003f8-00000000000003ff.*serial" "$tmp/mtree"
"$ctl" "$sock" flatview >"$tmp/flat"
check "flatview shows both address spaces" \
    bash -c "grep -q 'memory' '$tmp/flat' && grep -q 'io' '$tmp/flat'"
"$ctl" "$sock" help | grep -q "^stop"
check "help lists the commands" test $? -eq 0
"$ctl" "$sock" reboot >/dev/null 2>"$tmp/ctl.err"
check "an unknown command: exit 1 with its name" \
    bash -c "[ $? -eq 1 ] && grep -q \"error: unknown command 'reboot'\" '$tmp/ctl.err'"
"$ctl" "$sock" "$(printf 'x%.0s' $(seq 280))" >/dev/null 2>"$tmp/ctl.err"
check "an overlong command is refused" grep -q "error: command longer than 255 bytes" "$tmp/ctl.err"
check "the socket is private (0600)" test "$(stat -c %a "$sock")" = 600

"${xendm_env[@]}" "$xendm" --domid 1 --control "$sock" >/dev/null 2>"$tmp/second.err"
check "a second xendm on the same path stops start-up" \
    bash -c "[ $? -eq 1 ] && grep -q 'another process listens on' '$tmp/second.err'"
check "... and leaves the first one's socket alone" test -S "$sock"

"$ctl" "$sock" stop >"$tmp/stop.out"
wait "$dm_pid"; dm_status=$?
check "stop: xendm exits 0" test "$dm_status" -eq 0
check "... after undoing its start-up" \
    bash -c "grep -q 'control socket: stop' '$tmp/dm.err' && grep -q 'undo: open the control socket' '$tmp/dm.err'"
check "... and removes the socket" test ! -e "$sock"
"$ctl" "$sock" stats >/dev/null 2>"$tmp/ctl.err"
check "xendm-ctl without a xendm: exit 2, saying why" \
    bash -c "[ $? -eq 2 ] && grep -q 'cannot connect to' '$tmp/ctl.err'"
kill "$mx_pid" 2>/dev/null; wait "$mx_pid" 2>/dev/null

# A socket file whose owner is gone (here: bound, then the binder exits).
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$sock"
start_pair
check "a stale socket file is replaced" bash -c "'$ctl' '$sock' stats | grep -q ioreq"
"$ctl" "$sock" stop >/dev/null
wait "$dm_pid"
kill "$mx_pid" 2>/dev/null; wait "$mx_pid" 2>/dev/null

: >"$tmp/plain-file"
"${xendm_env[@]}" "$xendm" --domid 1 --control "$tmp/plain-file" >/dev/null 2>"$tmp/plain.err"
check "a path that is not a socket stops start-up, untouched" \
    bash -c "[ $? -eq 1 ] && grep -q 'exists and is not a socket' '$tmp/plain.err' && [ -f '$tmp/plain-file' ]"
done_testing
