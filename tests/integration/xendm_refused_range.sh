#!/bin/bash
# A range Xen refuses is not lost: the guest moves the test device's BAR onto a place
# mockxen refuses (--refuse-range), then somewhere valid. The refusal is counted
# (xen.ranges_refused), logged once however often it is retried (after every commit),
# and the BAR is not served there; at the valid place it is mapped and served, and the
# refused range is dropped (no unmap, no more retries). A refusal that Xen lifts (one
# failed call, --fail) is taken at the retry after the next commit, without a move.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"
cp "$scripts/pci-testdev.gs" "$tmp/"

# Guest-script helpers: the virtio-rng-pci function in slot 4 gives commits that do not
# touch the test device (its BAR placed, its decode switched).
cat >"$tmp/other.gs" <<'GS'
$rng = 0x80000000 | (4 << 11)
out 0xcf8, 4, $rng | 0x10
out 0xcfc, 4, 0xe2000000
GS

cat >"$tmp/refused.gs" <<'GS'
include "pci-testdev.gs"                       # BAR0 at 0xe0000000, decoded, served
include "other.gs"
count xendevicemodel_map_io_range_to_ioreq_server -> $m0
count xendevicemodel_unmap_io_range_from_ioreq_server -> $u0
out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, 0xd0000000                       # onto the place Xen refuses
count xendevicemodel_map_io_range_to_ioreq_server -> $m1
expect $m1 - $m0 == 1
mmio-read 0xd0000000, 4 == 0xffffffff          # refused: not served there
mmio-read 0xe0000000, 4 == 0xffffffff          # nor at the old place
out 0xcf8, 4, $rng | 0x04
out 0xcfc, 2, 0x0002                           # another device's commits (its memory
out 0xcfc, 2, 0x0000                           # decode on, off, on): each retries it
out 0xcfc, 2, 0x0002
count xendevicemodel_map_io_range_to_ioreq_server -> $m2
expect $m2 - $m1 == 9                          # virtio's BAR twice (registers, MSI-X
                                               # table, PBA: 3 ranges), three retries
mmio-read 0xd0000000, 4 == 0xffffffff          # still refused
out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, 0xe1000000                       # somewhere valid
count xendevicemodel_map_io_range_to_ioreq_server -> $m3
count xendevicemodel_unmap_io_range_from_ioreq_server -> $u3
expect $m3 - $m2 == 1                          # the new place only
expect $u3 - $u0 == 4                          # 0xe0000000 and virtio's 3, never the refused one
mmio-read 0xe1000000, 4 == 0x010000ed          # served
out 0xcf8, 4, $rng | 0x04
out 0xcfc, 2, 0x0000                           # one more commit: nothing left to retry
count xendevicemodel_map_io_range_to_ioreq_server -> $m4
expect $m4 == $m3
GS
xendm_run "$tmp/refused.gs" --refuse-range memory:0xd0000000-0xd000ffff:EBUSY \
    -- --device virtio-rng-pci,slot=4
check "a BAR moved onto a refused range is not served; moved again, it is" \
    test "$mx_status" -eq 0
check "... the refusal is counted once (xen.ranges_refused 1)" \
    test "$(dm_stat xen.ranges_refused)" = 1
check "... and logged once, not per retry" \
    test "$(grep -c "Xen refused MMIO range 0xd0000000-0xd0001fff of 'testdev-bar0'" \
            "$tmp/dm.err")" -eq 1
check "... and the refused range is never unregistered" \
    bash -c "! grep -q 'unregister MMIO range 0xd0000000' '$tmp/dm.err'"

cat >"$tmp/lifted.gs" <<'GS'
include "pci-testdev.gs"
include "other.gs"
count xendevicemodel_map_io_range_to_ioreq_server -> $m0
expect $m0 == 2                                # UART ports, BAR0: the move's map is the 3rd
out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, 0xe1000000                       # Xen refuses this map once (--fail)
mmio-read 0xe1000000, 4 == 0xffffffff
out 0xcf8, 4, $rng | 0x04
out 0xcfc, 2, 0x0002                           # the next commit retries it
mmio-read 0xe1000000, 4 == 0x010000ed          # taken: served without a move
GS
xendm_run "$tmp/lifted.gs" --fail xendevicemodel_map_io_range_to_ioreq_server:3:EBUSY \
    -- --device virtio-rng-pci,slot=4 --log info
check "a range refused once is taken at the retry after the next commit" \
    test "$mx_status" -eq 0
check "... counted as refused once and mapped at a retry" \
    bash -c "[ '$(dm_stat xen.ranges_refused)' = 1 ] &&
             grep -q 'MMIO range 0xe1000000-0xe1001fff of .testdev-bar0. mapped at a retry' \
                 '$tmp/dm.err'"
done_testing
