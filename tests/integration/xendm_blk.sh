#!/bin/bash
# The virtio block device end to end: a guest script drives xendm's virtio-blk over a
# raw image through mockxen, on virtio-mmio and on PCI, with both I/O engines; the
# image holds what the guest wrote. What a flush acknowledged survives a SIGKILL of
# xendm (with every cache mode), a second xendm cannot open an image the first holds,
# and a read-only disk refuses writes.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"

img=$tmp/disk.img
new_image() { rm -f "$img"; truncate -s 1M "$img"; }
# sector N of the image as one hex byte if all 512 bytes are equal, else "mixed"
sector_byte() {
    dd if="$img" bs=512 skip="$1" count=1 status=none | od -An -tx1 -v | tr -s ' \n' '\n' |
        sed '/^$/d' | sort -u | awk 'NR > 1 { m = 1 } { b = $1 } END { print m ? "mixed" : b }'
}

for aio in io_uring threads; do
    new_image
    xendm_run "$scripts/virtio-blk.gs" -- \
        --device "virtio-blk,file=$img,serial=xendm-disk-0,aio=$aio"
    check "virtio-blk ($aio): probe, capacity, write, flush, read back, GET_ID, IOERR past the end" \
        test "$mx_status" -eq 0 -a "$dm_status" -eq 0
    check "... sector 5 of the image holds the guest's bytes" test "$(sector_byte 5)" = 5a
    check "... and nothing else was written" test "$(sector_byte 4)$(sector_byte 6)" = 0000
done

# A reset with 16 MiB of writes in flight: the driver's status write is held until they
# completed (docs/LOOP-BOUNDS.md), not waited for on the loop.
for aio in io_uring threads; do
    rm -f "$img"; truncate -s 16M "$img"
    xendm_run "$scripts/virtio-blk-reset.gs" -- --device "virtio-blk,file=$img,aio=$aio"
    check "virtio-blk ($aio): a reset with requests in flight completes them first" \
        test "$mx_status" -eq 0 -a "$dm_status" -eq 0
    diag "... the status write was held $(dm_stat ioreq.waits) times"
    check "... the image holds every request's data" \
        test "$(sector_byte 0)$(sector_byte 16383)$(sector_byte 32767)" = 010810
done

new_image
xendm_run "$scripts/virtio-blk-pci.gs" -- --device "virtio-blk-pci,slot=5,file=$img,serial=xendm-disk-0"
check "virtio-blk-pci: capabilities, device configuration, MSI-X, write, flush, read back" \
    test "$mx_status" -eq 0 -a "$dm_status" -eq 0
check "... sector 7 of the image holds the guest's bytes" test "$(sector_byte 7)" = c3

for cache in writeback writethrough none; do
    new_image
    dm_signal=KILL xendm_run "$scripts/virtio-blk.gs" -- \
        --device "virtio-blk,file=$img,serial=xendm-disk-0,cache=$cache"
    check "cache=$cache: the guest saw its write and flush complete" test "$mx_status" -eq 0
    check "... and after a SIGKILL of xendm the image holds them" test "$(sector_byte 5)" = 5a
done

new_image
cat >"$tmp/ro.gs" <<'GS'
$base = 0xfeb01000
mmio-write $base + 0x070, 4, 0
mmio-write $base + 0x070, 4, 3
mmio-write $base + 0x014, 4, 0
mmio-read  $base + 0x010, 4 -> $f
expect $f & 0x20 == 0x20                       # VIRTIO_BLK_F_RO
expect $f & 0x2000 == 0                        # no DISCARD on a read-only disk
GS
xendm_run "$tmp/ro.gs" -- --device "virtio-blk,file=$img,readonly=on"
check "readonly=on offers VIRTIO_BLK_F_RO" test "$mx_status" -eq 0

# Two device models on one image: the second is refused at start-up, naming the image.
new_image
printf 'mmio-read 0xfeb01000, 4 == 0x74726976\n' >"$tmp/none.gs"
xendm_run "$tmp/none.gs" --start-timeout 3000 -- --device "virtio-blk,file=$img" \
    --device "virtio-blk-pci,file=$img"
check "a second writer of one image is refused at start-up" test "$dm_status" -ne 0
check "... with a message naming the image" grep -q "'$img' is locked by another user" "$tmp/dm.err"

done_testing
