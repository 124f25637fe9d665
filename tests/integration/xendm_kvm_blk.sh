#!/bin/bash
# xendm's virtio block device driven by real guest code: tests/guests/virtio_blk.S, a
# polling virtio-mmio driver, runs under KVM (mockxen --kvm-guest) against xendm with
# --device virtio-blk over a raw image, with both I/O engines. The guest's own checks
# must hold (it writes the disk's last 8 sectors, flushes, reads them back, gets IOERR
# past the end), its UART must name the image's capacity and the sectors it wrote, and
# afterwards the image must hold the guest's patterns (every dword of sector s is s)
# and zeros before them. A guest without the disk, or with a read-only one, must fail
# with the status that says so. Everything is skipped, with the reason, where /dev/kvm
# does not work.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/mockxen-client/harness.sh"
guests=$top/build/guests
xendm=$build/xendm
. "$top/tests/guests/kvm_run.sh"

if [ ! -f "$guests/virtio_blk.bin" ]; then
    not_ok "$guests/virtio_blk.bin is built (make guests)"
    done_testing
fi
if [ ! -x "$xendm" ]; then
    skip_test "xendm: $xendm not built"
    done_testing
fi

img=$tmp/disk.img
SECTOR=512
GUEST_SECTORS=8                 # virtio_blk.S: BLK_SECTORS

# sector_values N: the distinct 32-bit values in sector N of the image, one a line.
sector_values() {
    od -An -tu4 -v -j $(($1 * SECTOR)) -N $SECTOR "$img" | tr -s ' ' '\n' | sed '/^$/d' |
        sort -un
}

# sectors_hold_numbers FIRST LAST: every dword of each sector s in FIRST..LAST is s.
sectors_hold_numbers() {
    local s values
    for s in $(seq "$1" "$2"); do
        values=$(sector_values "$s")
        [ "$values" = "$s" ] || { diag "sector $s holds" $values; return 1; }
    done
}

# guest_status NAME: the exit status the guest of run NAME wrote, per mockxen.
guest_status() {
    grep -m1 -o 'KVM guest exit status [0-9]*' "$tmp/$1.err" | awk '{ print $NF }'
}

# disk_run NAME SIZE DEVICE-OPTIONS: the guest against a fresh zeroed image of SIZE.
disk_run() {
    rm -f "$img"
    truncate -s "$2" "$img"
    kvm_run "$1" virtio_blk xendm -- --device "virtio-blk,file=$img,$3"
}

# guest_wrote_its_sectors LABEL NAME SECTORS: the checks of a run that should succeed on
# a disk of SECTORS sectors.
guest_wrote_its_sectors() {
    local label=$1 name=$2 sectors=$3
    local first=$((sectors - GUEST_SECTORS)) last=$((sectors - 1))
    check "$label: the guest's driver checks held (exit status 0)" test "$rc" = 0
    [ "$rc" = 0 ] || kvm_show "$name"
    check "... its UART names the capacity, $sectors sectors" grep -qxF \
        "$(printf 'virtio-blk capacity 0x%08x sectors' "$sectors")" "$tmp/$name.dm"
    check "... and sectors $first-$last written, flushed, read back" grep -qxF \
        "$(printf 'virtio-blk sectors 0x%08x-0x%08x written, flushed, read back' \
            "$first" "$last")" "$tmp/$name.dm"
    check "... the image holds each sector's number in its every dword" \
        sectors_hold_numbers "$first" "$last"
    check "... and zeros before them" cmp -s -n $((first * SECTOR)) "$img" /dev/zero
}

# ---- KVM available? -------------------------------------------------------------------
disk_run blk-io_uring 1M aio=io_uring
if [ "$rc" = 77 ]; then
    skip_test "$(kvm_unavailable blk-io_uring)"
    done_testing
fi
guest_wrote_its_sectors "virtio-blk (aio=io_uring, 1 MiB)" blk-io_uring 2048

disk_run blk-threads 1M aio=threads
guest_wrote_its_sectors "virtio-blk (aio=threads, 1 MiB)" blk-threads 2048

# The guest takes the capacity from the configuration space, not from an assumption.
disk_run blk-small 20K aio=threads
guest_wrote_its_sectors "virtio-blk (20 KiB)" blk-small 40

# ---- failures the guest must report ---------------------------------------------------
kvm_run blk-none virtio_blk xendm
check "without the disk the guest fails at the magic value (status 20)" \
    test "$(guest_status blk-none)" = 20

disk_run blk-ro 1M readonly=on
check "on a read-only disk the guest reports its write refused (status 31)" \
    test "$(guest_status blk-ro)" = 31
check "... and the image stays zeros" cmp -s -n $((1 << 20)) "$img" /dev/zero

done_testing
