#!/bin/bash
# The guest of bench/blk.sh (bench/blk_guest.sh) at a small scale: its generated script
# finds xendm's virtio-blk-pci function (ASan build, both I/O engines) and, where it is
# installed, Debian's QEMU-xen's, from config space alone, and runs every workload the
# benchmark runs (flush pairs, random 4 KiB at QD 1 and 32, 1 MiB sequential, the
# guest loop) with every status checked; what it wrote lands in the image.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"
. "$top/bench/blk_guest.sh"

img=$tmp/disk.img
blk_image_bytes=$((8 << 20))
{
    blk_gs_setup 5
    echo "fill 0x200000, 32 * 4096, 0xa5            # what the random writes write"
    blk_gs_flush flush 4
    blk_gs_workload randread_qd1 read 4096 1 rand 16
    blk_gs_workload randwrite_qd32 write 4096 32 rand 256
    blk_gs_workload randread_qd32 read 4096 32 rand 256
    blk_gs_workload seqread read 1048576 32 seq 40
    blk_gs_workload seqwrite write 1048576 4 seq 16
    blk_gs_guest_loop loop 100
    blk_gs_marker end
} >"$tmp/blk.gs"
rows="flush_write flush randread_qd1 randwrite_qd32 randread_qd32 seqread seqwrite loop"

new_image() { rm -f "$img"; truncate -s "$blk_image_bytes" "$img"; }
# all_rows: mockxen printed a benchmark row for every timed block.
all_rows() {
    local r
    for r in $rows; do grep -qP "^row\t$r\t[0-9.]+\tns\t" "$tmp/mx.out" || return 1; done
}
# image_written: the random writes' 0xa5 pages are in the image.
image_written() { od -An -tx1 -v "$img" | grep -q a5; }

for aio in io_uring threads; do
    new_image
    xendm_run "$tmp/blk.gs" --populate-mb 128 -- --device "virtio-blk-pci,slot=5,file=$img,aio=$aio"
    check "xendm $aio: the bench guest's workloads all complete with status OK" \
        test "$mx_status" -eq 0 -a "$dm_status" -eq 0
    check "... with a benchmark row for each" all_rows
    check "... and the random writes in the image" image_written
    # each workload's requests and the QD it drains at the end; a flush pair is two
    check "... the marker counts every request" grep -qx \
        "vcpu0: end 0x$(printf '%x' $((3 * 4 + 16 + 1 + 2 * (256 + 32) + 40 + 32 + 16 + 4))) .*" "$tmp/mx.out"
done

need_qemu
new_image
rm -f "$tmp"/mx.* "$tmp"/xs.sock
"$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --populate-mb 128 \
    --start-timeout 30000 --script "$tmp/blk.gs" >"$tmp/mx.out" 2>"$tmp/mx.err" &
mx_pid=$!
for _ in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
"${xendm_env[@]}" "$qemu" -xen-domid 1 -no-shutdown -nodefaults \
    -machine xenfv,max-ram-below-4g=3840M -m 128 -display none -serial null -monitor none \
    -drive "if=none,id=d0,file=$img,format=raw,cache=writeback,aio=threads" \
    -device virtio-blk-pci,drive=d0,addr=5 </dev/null >/dev/null 2>"$tmp/qemu.err" &
qemu_pid=$!
wait "$mx_pid"; mx_status=$?
kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null
[ "$mx_status" -eq 0 ] || { grep -v '^[a-z_]* [0-9]*' "$tmp/mx.err" | tail -3 | sed 's/^/# /'; }
check "QEMU-xen: the same guest finds its transitional virtio-blk-pci (BAR 4 + BAR 1) and completes" \
    test "$mx_status" -eq 0
check "... with a benchmark row for each" all_rows
check "... and the random writes in the image" image_written
done_testing
