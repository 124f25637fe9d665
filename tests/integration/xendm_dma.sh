#!/bin/bash
# xendm end to end: the PCI test device found through config space, its BAR placed and
# moved (exactly one unmap and one map per move), DMA into guest memory through the
# mapcache, reported to the log-dirty bitmap with few modified_memory calls; and the
# virtio entropy device driven through a split virtqueue in guest RAM.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"

xendm_run "$scripts/pci-testdev.gs"
check "config space, BAR placement, MMIO, DMA both ways and INTx" test "$mx_status" -eq 0
check "the test device was registered with map_pcidev" \
    test "$(mx_count xendevicemodel_map_pcidev_to_ioreq_server)" -ge 1
check "the DMA went through the mapcache" test "$(dm_stat mapcache.maps)" -ge 1

xendm_run "$scripts/virtio-rng.gs" -- --device virtio-rng
check "virtio-rng: probe, feature negotiation, a split queue in guest RAM, random bytes by DMA, IRQ 5" \
    test "$mx_status" -eq 0
check "... its registers claimed as one more range (UART ports, virtio MMIO)" \
    test "$(mx_count xendevicemodel_map_io_range_to_ioreq_server)" -eq 2

xendm_run "$scripts/virtio-rng-pci.gs" -- --device virtio-rng-pci,slot=4
check "virtio-rng-pci: capabilities, common configuration, notify, INTA, then MSI-X messages" \
    test "$mx_status" -eq 0
check "... registered with map_pcidev beside the test device" \
    test "$(mx_count xendevicemodel_map_pcidev_to_ioreq_server)" -eq 2

xendm_run "$scripts/virtio-pci-caps.gs" --param slot=6 -- --device virtio-rng-pci,slot=6
check "virtio-pci-caps.gs (slot 6 as a parameter): capability walk, queue, used-ring poll, INTA" \
    test "$mx_status" -eq 0
"$mockxen" --socket "$tmp/param.sock" --xenstore "$tmp/param-xs.sock" \
    --script "$scripts/virtio-pci-caps.gs" 2>"$tmp/param.err"
check "... without --param slot=N mockxen refuses to start (status 2)" test "$?" -eq 2
check "... and says which parameter" grep -q 'parameter \$slot has no value' "$tmp/param.err"

xendm_run "$scripts/log-dirty.gs" -- --log-dirty
check "DMA shows up in the log-dirty bitmap" test "$mx_status" -eq 0
calls=$(dm_stat xen.modified_memory_calls)
check "a 4 KiB DMA is reported in one modified_memory_bulk call per request" \
    test "${calls:-0}" -ge 1 -a "${calls:-0}" -le 4
check "only the pages DMA wrote are reported (not the toolstack's RAM at start-up)" \
    test "$(dm_stat xen.modified_memory_pages)" -le 4

cat >"$tmp/move.gs" <<'GS'
include "pci-testdev.gs"
count xendevicemodel_map_io_range_to_ioreq_server -> $maps0
count xendevicemodel_unmap_io_range_from_ioreq_server -> $unmaps0
out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, 0xe1000000                      # move BAR0
count xendevicemodel_map_io_range_to_ioreq_server -> $maps1
count xendevicemodel_unmap_io_range_from_ioreq_server -> $unmaps1
expect $maps1 - $maps0 == 1
expect $unmaps1 - $unmaps0 == 1
mmio-read 0xe1000000, 4 == 0x010000ed          # the device answers at the new place
mmio-read 0xe0000000, 4 == 0xffffffff          # and no longer at the old one
out 0xcf8, 4, $cfg | 0x04
out 0xcfc, 2, 0x0004                           # memory decode off
count xendevicemodel_unmap_io_range_from_ioreq_server -> $unmaps2
expect $unmaps2 - $unmaps1 == 1
mmio-read 0xe1000000, 4 == 0xffffffff
GS
cp "$scripts/pci-testdev.gs" "$tmp/"
xendm_run "$tmp/move.gs"
check "a BAR move is one unmap and one map; decode off is one unmap" test "$mx_status" -eq 0
done_testing
