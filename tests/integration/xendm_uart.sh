#!/bin/bash
# The UART's chardev through xendm: what the guest writes reaches the output, input
# bytes reach the guest's receiver (served by xendm's event loop), and IRQ 4 follows.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"

printf 'hi' >"$tmp/in.txt"
cat >"$tmp/uart.gs" <<'GS'
$com1 = 0x3f8
out $com1 + 1, 1, 0x01                 # IER: received data available
wait-irq isa 4 timeout 5s              # the input file's bytes arrive
in $com1 + 5, 1 -> $lsr
expect $lsr & 0x01 == 0x01
in $com1, 1 == 'h'
in $com1, 1 == 'i'
in $com1 + 5, 1 -> $lsr
expect $lsr & 0x01 == 0                # nothing more: the file ended
out $com1 + 1, 1, 0x00
out $com1, 1, 'o'
out $com1, 1, 'k'
GS
xendm_run "$tmp/uart.gs" -- --no-defaults \
    --device "uart,chardev=file:$tmp/out.txt:$tmp/in.txt"
check "input from the chardev reaches the guest, with its interrupt" test "$mx_status" -eq 0
check "the guest's output reaches the chardev" test "$(cat "$tmp/out.txt" 2>/dev/null)" = "ok"

cat >"$tmp/com2.gs" <<'GS'
out 0x2ff, 1, 0x42                     # COM2 scratch
in  0x2ff, 1 == 0x42
in  0x3ff, 1 == 0xff                   # nothing at COM1 any more
GS
xendm_run "$tmp/com2.gs" -- --no-defaults --device "uart,port=0x2f8,irq=3,chardev=null"
check "a UART placed at 0x2f8 answers there and 0x3f8 is unclaimed" test "$mx_status" -eq 0
check "... with exactly one range registered" \
    test "$(mx_count xendevicemodel_map_io_range_to_ioreq_server)" -eq 1
# Two UARTs on unix sockets. A client of the second leaves and a client of the first
# arrives while xendm is stopped, so both events come in one wake-up: the second UART
# closes its fd and the first UART's accept() gets the same number. The first UART's
# input must still be watched (the stale fd of the second must not unwatch it).
cat >"$tmp/fdswap.gs" <<'GS'
out 0x3f9, 1, 0x01                     # COM1 IER: received data available
wait-irq isa 4 timeout 10s
in 0x3f8, 1 == 'x'
GS
cat >"$tmp/fdswap.py" <<'PY'
import os, signal, socket, sys, time
dm, com1, com2 = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for _ in range(200):
    if os.path.exists(com1) and os.path.exists(com2):
        break
    time.sleep(0.05)
time.sleep(0.5)                        # xendm is in its loop
nfds = lambda: len(os.listdir("/proc/%d/fd" % dm))
before = nfds()
a = socket.socket(socket.AF_UNIX); a.connect(com2)
for _ in range(500):                   # until accepted: COM2 then polls the client fd
    if nfds() > before:
        break
    time.sleep(0.01)
time.sleep(0.3)                        # and xendm waits again
os.kill(dm, signal.SIGSTOP)
a.close()
b = socket.socket(socket.AF_UNIX); b.connect(com1); b.send(b"x")
time.sleep(0.2)
os.kill(dm, signal.SIGCONT)
time.sleep(5)
PY
rm -f "$tmp"/mx.* "$tmp"/xs.sock
"$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --mem-mb 64 \
    --populate-mb 64 --start-timeout 20000 --script "$tmp/fdswap.gs" \
    >"$tmp/mx.out" 2>"$tmp/mx.err" &
mx_pid=$!
for _ in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
"${xendm_env[@]}" "$xendm" --domid 1 --no-defaults --device "uart,chardev=unix:$tmp/com1" \
    --device "uart,port=0x2f8,irq=3,chardev=unix:$tmp/com2" >"$tmp/dm.out" 2>"$tmp/dm.err" &
dm_pid=$!
python3 "$tmp/fdswap.py" "$dm_pid" "$tmp/com1" "$tmp/com2" &
py_pid=$!
wait "$mx_pid"; mx_status=$?
kill -TERM "$dm_pid"; wait "$dm_pid"; dm_status=$?
kill "$py_pid" 2>/dev/null; wait "$py_pid" 2>/dev/null
[ "$mx_status" -ne 0 ] && grep -v '^[a-z_]* [0-9]*$' "$tmp/mx.err" | tail -3 | sed 's/^/# mockxen: /'
[ "$dm_status" -ne 0 ] && tail -3 "$tmp/dm.err" | sed 's/^/# xendm: /'
check "an fd number passed from one UART to another in one wake-up stays watched" \
    test "$mx_status" -eq 0 -a "$dm_status" -eq 0
done_testing
