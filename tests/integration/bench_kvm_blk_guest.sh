#!/bin/bash
# The KVM guest of bench/blk.sh (tests/guests/blk_bench.c, parameters from
# bench/blk_kvm_guest.sh) at a small scale: under KVM it finds xendm's virtio-blk-pci
# function (ASan build, both I/O engines) and Debian's QEMU-xen's from config space
# alone, runs every workload the benchmark runs by polling the used ring with every
# status checked, and reports each with its own time below the wall time; what it wrote
# lands in the image, and no device model interrupted it. A guest without a disk, or
# with a workload it cannot run, fails with the status that says so. Skipped, with the
# reason, where /dev/kvm does not work.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/mockxen-client/harness.sh"
. "$top/bench/blk_kvm_guest.sh"
guests=$top/build/guests
xendm=$build/xendm
. "$top/tests/guests/kvm_run.sh"

if [ ! -f "$guests/blk_bench.bin" ]; then
    not_ok "$guests/blk_bench.bin is built (make guests)"
    done_testing
fi
if ! blk_kvm_usable "$mockxen" "$guests/blk_bench.bin"; then
    skip_test "$blk_kvm_why"
    done_testing
fi

img=$tmp/disk.img
new_image() { rm -f "$img"; truncate -s 8M "$img"; }
mapfile -t params < <(
    blk_kvm_flush flush 4
    blk_kvm_workload randread_qd1 read 4096 1 rand 16
    blk_kvm_workload randwrite_qd32 write 4096 32 rand 256
    blk_kvm_workload randread_qd32 read 4096 32 rand 256
    blk_kvm_workload seqread read 1048576 32 seq 40
    blk_kvm_workload seqwrite write 1048576 4 seq 16)
counts="flush_write:4 flush:4 randread_qd1:16 randwrite_qd32:256 randread_qd32:256 seqread:40 seqwrite:16"

# results_sound NAME: a result line for every workload, with its request count, a wall
# time, and the guest's own and notify time within it.
results_sound() {
    local w name n line
    for w in $counts; do
        name=${w%:*} n=${w#*:}
        line=$(grep -m1 "^vcpu0: result $name " "$tmp/$1.out") || { diag "no result for $name"; return 1; }
        read -r _ _ _ req wall own notify notifies <<<"$line"
        if [ "$req" != "$n" ] || [ "$wall" -le 0 ] || [ $((own + notify)) -gt "$wall" ] ||
            [ "$notifies" -lt 1 ]; then
            diag "$line"
            return 1
        fi
    done
}
image_written() { od -An -tx1 -v "$img" | grep -q a5; }
no_interrupts() { ! grep -qE '^xendevicemodel_(inject_msi|set_pci_intx_level) [1-9]' "$tmp/$1.err"; }

for aio in io_uring threads; do
    new_image
    kvm_run "xendm-$aio" blk_bench xendm --populate-mb 64 "${params[@]}" -- \
        --device "virtio-blk-pci,slot=5,file=$img,aio=$aio"
    check "xendm $aio: the KVM bench guest's workloads complete with status OK" test "$rc" = 0
    [ "$rc" = 0 ] || kvm_show "xendm-$aio"
    check "... its device found at 00:05.0, a 256-entry queue, 16384 sectors" \
        grep -qx "vcpu0: ready 5 256 16384" "$tmp/xendm-$aio.out"
    check "... a sound result line for each workload" results_sound "xendm-$aio"
    check "... the writes in the image" image_written
    check "... and no interrupt (the guest polls)" no_interrupts "xendm-$aio"
done

new_image
kvm_run no-disk blk_bench xendm "${params[@]}"
check "without a virtio block function the guest fails with status 40" \
    grep -q "KVM guest exit status 40 " "$tmp/no-disk.err"
kvm_run bad-workload blk_bench xendm --param "deep=0,4096,200,1,10" -- \
    --device "virtio-blk-pci,slot=5,file=$img"
check "a workload deeper than the queue allows fails with status 45" \
    grep -q "KVM guest exit status 45 " "$tmp/bad-workload.err"
check "... naming it" grep -qx "vcpu0: error deep 0" "$tmp/bad-workload.out"

need_qemu
new_image
kvm_run qemu blk_bench qemu "${params[@]}" -- \
    -drive "if=none,id=d0,file=$img,format=raw,cache=writeback,aio=threads" \
    -device virtio-blk-pci,drive=d0,addr=5
check "QEMU-xen: the same guest finds its transitional virtio-blk-pci and completes" \
    test "$rc" = 0
[ "$rc" = 0 ] || kvm_show qemu
check "... a sound result line for each workload" results_sound qemu
check "... the writes in the image" image_written
check "... and no MSI (the guest polls)" \
    bash -c "! grep -qE '^xendevicemodel_inject_msi [1-9]' '$tmp/qemu.err'"
done_testing
