#!/bin/bash
# The emulated devices end to end: mockxen runs a guest script against xendm (ASan
# build) with its default machine (UART at 0x3f8/IRQ 4, pci-testdev at 00:03.0), and
# counts the hypercalls xendm made. Covers the UART in loopback with its ISA interrupt,
# a file chardev carrying THR output, and the test device's config space, BAR sizing,
# MMIO registers, INTx, and a BAR move / decode-off each costing one range change.
# (DMA needs guest RAM that mockxen's toolstack side does not populate yet.)
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
build=${XENDM_BUILD:-$top/build/asan}
mockxen=$build/tools/mockxen/mockxen
xendm=$build/xendm
shims=$top/build/shim

for bin in "$mockxen" "$xendm"; do
    if [ ! -x "$bin" ]; then
        not_ok "$bin is built"
        done_testing
    fi
done

tmp=$(mktemp -d /tmp/devices-e2e-XXXXXX)
dm_pid=
cleanup() {
    [ -n "$dm_pid" ] && kill "$dm_pid" 2>/dev/null
    rm -rf "$tmp"
}
at_exit cleanup

# run NAME [xendm options]: mockxen runs $tmp/NAME.gs against a fresh xendm; $rc is
# mockxen's exit status, $tmp/NAME.{out,err} its output, $tmp/NAME.dm the xendm log.
run() {
    local name=$1; shift
    rm -f "$tmp"/*.sock
    timeout -k 10 120 "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" \
        --script "$tmp/$name.gs" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    local mx_pid=$!
    for _ in $(seq 100); do [ -S "$tmp/mx.sock" ] && break; sleep 0.05; done
    LD_LIBRARY_PATH=$shims MOCKXEN_SOCKET=$tmp/mx.sock XENDM_LOG=warn \
        XENSTORED_PATH=$tmp/xs.sock timeout -k 10 120 "$xendm" --domid 1 -m 16 "$@" \
        </dev/null >"$tmp/$name.dm" 2>&1 &
    dm_pid=$!
    wait "$mx_pid"
    rc=$?
    kill "$dm_pid" 2>/dev/null
    wait "$dm_pid" 2>/dev/null
    dm_pid=
    if grep -qE 'Sanitizer|runtime error' "$tmp/$name.dm"; then
        diag "xendm reported a sanitizer error in $name"
        rc=99
    fi
    [ "$rc" = 0 ] || { sed 's/^/# mockxen: /' "$tmp/$name.err" | head -20;
                       sed 's/^/# xendm: /' "$tmp/$name.dm" | head -20; }
}

# count NAME KIND: the hypercall counter mockxen printed at exit.
count() {
    awk -v k="$2" '$1 == k { print $2 }' "$tmp/$1.err"
}

cp "$top/tests/guest-scripts/uart-loopback.gs" "$tmp/uart.gs"
run uart
check "UART loopback script passes against xendm" test "$rc" = 0
check "UART interrupt raised and lowered through set_isa_irq_level" \
    test "$(count uart xendevicemodel_set_isa_irq_level)" = 2

cat >"$tmp/uart-file.gs" <<'GS'
out 0x3f8, 1, 'h'
out 0x3f8, 1, 'i'
in  0x3fd, 1 == 0x60
GS
run uart-file --no-defaults --device "uart,chardev=file:$tmp/serial.txt"
check "UART output reaches a file chardev" test "$rc" = 0 -a "$(cat "$tmp/serial.txt")" = hi

cat >"$tmp/pci.gs" <<'GS'
$dev  = 3
$cfg  = 0x80000000 | ($dev << 11)
$bar  = 0xe0000000
out 0xcf8, 4, $cfg | 0x00
in  0xcfc, 4 == 0x10ed1234                   # device:vendor
out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, 0xffffffff
in  0xcfc, 4 == 0xffffe000                   # BAR0 sizing: 8 KiB memory
out 0xcfc, 4, $bar
out 0xcf8, 4, $cfg | 0x04
out 0xcfc, 2, 0x0006                         # memory decode, bus master
mmio-read  $bar + 0x00, 4 == 0x010000ed
mmio-write $bar + 0x04, 4, 0xcafef00d
mmio-read  $bar + 0x04, 4 == 0xcafef00d
mmio-write $bar + 0x34, 4, 0x4               # raise by software
wait-irq intx 0, $dev, a timeout 1s
mmio-write $bar + 0x30, 4, 0x4               # acknowledge
irq-level intx 0, $dev, a == 0
out 0xcf8, 4, $cfg | 0x10                    # move BAR0
out 0xcfc, 4, 0xe0100000
mmio-read  0xe0100000, 4 == 0x010000ed
mmio-read  0xe0000000, 4 == 0xffffffff       # the old place is unclaimed
out 0xcf8, 4, $cfg | 0x04                    # decode off
out 0xcfc, 2, 0x0000
mmio-read  0xe0100000, 4 == 0xffffffff
GS
run pci
check "pci-testdev config, BAR, MMIO and INTx script passes" test "$rc" = 0
check "the device was registered with map_pcidev_to_ioreq_server" \
    test "$(count pci xendevicemodel_map_pcidev_to_ioreq_server)" = 1
check "UART + BAR + moved BAR: three range maps" \
    test "$(count pci xendevicemodel_map_io_range_to_ioreq_server)" = 3
check "BAR move and decode off: two range unmaps" \
    test "$(count pci xendevicemodel_unmap_io_range_from_ioreq_server)" = 2
check "INTx raised and lowered through set_pci_intx_level" \
    test "$(count pci xendevicemodel_set_pci_intx_level)" = 2

done_testing
