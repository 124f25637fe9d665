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
done_testing
