#!/bin/bash
# xendm end to end through mockxen: every ioreq type and size, rep in both directions
# with both direction flags, buffered writes, several vCPUs at once, PCI config
# routing, both ways of mapping the ioreq pages, and hostile raw requests.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"

xendm_run "$scripts/uart-loopback.gs"
check "UART loopback, registers and its ISA IRQ through xendm" test "$mx_status" -eq 0
check "xendm exits 0 on SIGTERM" test "$dm_status" -eq 0
check "xenstore state was announced" grep -q "xendevicemodel_set_ioreq_server_state" "$tmp/mx.err"

xendm_run "$scripts/xendm-ioreq-types.gs"
check "PIO/MMIO of every size, rep both ways and both df, invalidate" test "$mx_status" -eq 0
check "the ioreq pages came from map_resource" \
    test "$(mx_count xenforeignmemory_map_resource)" -ge 1
check "no request was rejected" test "$(dm_stat ioreq.rejected)" = 0

xendm_run "$scripts/xendm-ioreq-types.gs" -- --legacy-ioreq-pages
check "the legacy gfn path for the ioreq pages works too" test "$mx_status" -eq 0
check "... and did not use map_resource" \
    test "$(mx_count xenforeignmemory_map_resource)" = 0

xendm_run "$scripts/xendm-ioreq-types.gs" --fail xenforeignmemory_map_resource:1:EOPNOTSUPP -- --log info
check "map_resource failing with EOPNOTSUPP falls back to the gfn path" test "$mx_status" -eq 0
check "... and says so" grep -q "legacy gfn path" "$tmp/dm.err"

cat >"$tmp/buffered.gs" <<'GS'
include "pci-testdev.gs"
# Move BAR0 into the buffered window: writes there go through the buffered ring.
out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, 0xa0000
mmio-write 0xa1000, 4, 0x12345678
mmio-write 0xa1008, 8, 0x1122334455667788
mmio-write 0xa1004, 2, 0xbeef
mmio-read  0xa1000, 4 == 0x12345678
mmio-read  0xa1004, 2 == 0xbeef
mmio-read  0xa1008, 8 == 0x1122334455667788
GS
cp "$scripts/pci-testdev.gs" "$tmp/"
xendm_run "$tmp/buffered.gs"
check "buffered writes (4, 2 and an 8-byte pair) land before the next sync read" \
    test "$mx_status" -eq 0
check "... and went through the buffered ring" test "$(dm_stat ioreq.buffered)" -ge 3

xendm_run "$scripts/multi-vcpu.gs" --vcpus 4
check "four vCPUs at once, each on its own slot" test "$mx_status" -eq 0

xendm_run "$scripts/hostile-ioreqs.gs"
check "mockxen's hostile raw ioreqs are answered and xendm keeps serving" test "$mx_status" -eq 0
xendm_run "$scripts/xendm-hostile.gs"
check "hostile ioreqs aimed at xendm's ranges are answered, xendm keeps serving" \
    test "$mx_status" -eq 0
check "xendm rejected each of the 9 and logged it" \
    test "$(dm_stat ioreq.rejected)" -eq 9 -a "$(grep -c 'ignoring bad ioreq' "$tmp/dm.err")" -eq 9
check "xendm survived them (clean exit on SIGTERM)" test "$dm_status" -eq 0
done_testing
