#!/bin/bash
# xendm beside Debian's QEMU-xen on one mockxen domain, as a user adds a disk to an HVM
# guest without replacing QEMU: QEMU is the main device model (xenfv, its ioreq server
# first, the state node libxl waits on), xendm --secondary adds a virtio-blk-pci at slot
# 6. mockxen --device-models 2 starts the guest once both servers are enabled and QEMU
# said running. The guest enumerates bus 0 (QEMU's i440FX, PIIX3 and xen-platform,
# xendm's virtio device), writes, flushes and reads sectors through xendm's disk and
# prints through QEMU's UART; it counts the ioreqs mockxen sent during each device
# model's part, and xendm's own counter must equal its part exactly (QEMU keeps none:
# the rest of mockxen's count is QEMU's). Then one device model stops while the guest
# runs and the other still answers: xendm first (QEMU's devices answer, slot 6 is
# empty), then, in a second run, QEMU (xendm's disk still reads sector 7 back).
# Where /dev/kvm works, real guest code does the same: tests/guests/virtio_blk.S drives
# xendm's virtio-blk (on virtio-mmio) and prints through QEMU's UART.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
need_qemu
. "$top/tests/integration/xendm_lib.bash"
img=$tmp/disk.img

# The guest: bus 0, xendm's disk, QEMU's UART, each part's ioreqs counted.
cp "$scripts/virtio-blk-pci.gs" "$tmp/"
cat >"$tmp/both.gs" <<'GS'
count xendevicemodel_set_ioreq_server_state -> $enabled
expect $enabled >= 2                           # both device models are serving
count guest_ioreq -> $c0
out 0xcf8, 4, 0x80000000
in 0xcfc, 4 == 0x12378086                      # 00:00.0 QEMU's i440FX host bridge
out 0xcf8, 4, 0x80000000 | (1 << 11)
in 0xcfc, 4 == 0x70008086                      # 00:01.0 QEMU's PIIX3
out 0xcf8, 4, 0x80000000 | (2 << 11)
in 0xcfc, 4 == 0x00015853                      # 00:02.0 QEMU's xen-platform device
repeat 3 as $i {
    out 0xcf8, 4, 0x80000000 | ((3 + $i) << 11)
    in 0xcfc, 4 == 0xffffffff                  # 00:03-05: nobody's
}
count guest_ioreq -> $c1
include "virtio-blk-pci.gs"                    # 00:06.0 xendm's disk
count guest_ioreq -> $c2
poke 0x30000, 8, 0x0a21656469736562          # "beside!\n" through QEMU's 16550
rep-out 0x3f8, 1, 8, 0x30000
in 0x3fd, 1 -> $lsr
expect $lsr & 0x60 == 0x60
count guest_ioreq -> $c3
$x = $c2 - $c1
$q = $c1 - $c0 + $c3 - $c2
echo "ioreqs xendm" $x "qemu" $q
GS

# Then xendm stops: the guest waits for its server to go (without touching xendm's
# registers meanwhile), finds slot 6 empty and QEMU still answering.
cat >"$tmp/xendm-stops.gs" <<'GS'
include "both.gs"
count xendevicemodel_destroy_ioreq_server -> $gone
while $gone == 0 timeout 20s {
    sleep 20ms
    count xendevicemodel_destroy_ioreq_server -> $gone
}
out 0xcf8, 4, $cfg
in 0xcfc, 4 == 0xffffffff                      # 00:06.0 is gone with xendm
out 0xcf8, 4, 0x80000000
in 0xcfc, 4 == 0x12378086                      # QEMU's host bridge still answers
out 0x3ff, 1, 0x5a
in 0x3ff, 1 == 0x5a                            # and its UART's scratch register
GS

# Then QEMU stops: the guest waits for QEMU's server to go, finds QEMU's slots empty
# and reads sector 7 back through xendm's disk once more.
cat >"$tmp/qemu-stops.gs" <<'GS'
include "both.gs"
echo "parts done"
count xendevicemodel_destroy_ioreq_server -> $gone
while $gone == 0 timeout 20s {
    sleep 20ms
    count xendevicemodel_destroy_ioreq_server -> $gone
}
out 0xcf8, 4, 0x80000000
in 0xcfc, 4 == 0xffffffff                      # QEMU's host bridge is gone
out 0xcf8, 4, $cfg
in 0xcfc, 4 == 0x10421af4                      # xendm's disk is still there
fill $back, 512, 0
poke $hdr, 4, 0
poke $st, 1, 0xee
poke $avail + 10, 2, 0
poke $avail + 2, 2, 4
mmio-write $bar + 0x2000 + 4 * $noff, 2, 0
wait-irq msi data 0x4031 addr 0xfee00000
peek $used + 2, 2 == 4
peek $st, 1 == 0
compare $back, 512, 0xc3                       # sector 7, read after QEMU left
echo "xendm answered"
sleep 3s                                       # xendm is stopped meanwhile
GS

# start_qemu: QEMU-xen as the main device model, its UART into serial.txt, one trace
# line per ioreq it serves (its counter) in qemu-trace.log.
start_qemu() {
    "${xendm_env[@]}" "$qemu" -xen-domid 1 -no-shutdown -nodefaults \
        -machine xenfv,max-ram-below-4g=3840M -m 128 -display none \
        -chardev "file,id=ser,path=$tmp/serial.txt" -serial chardev:ser -monitor none \
        -trace handle_ioreq -D "$tmp/qemu-trace.log" >"$tmp/qemu.log" 2>&1 &
    qemu_pid=$!
}

# run SCRIPT: mockxen, QEMU (main), xendm (secondary) on the same domain.
run() {
    rm -f "$tmp"/mx.* "$tmp/xs.sock" "$tmp"/dm.* "$tmp/serial.txt"
    rm -f "$img"; truncate -s 1M "$img"
    "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --populate-mb 128 \
        --device-models 2 --start-timeout 30000 --script "$tmp/$1" --param slot=6 \
        >"$tmp/mx.out" \
        2>"$tmp/mx.err" &
    mx_pid=$!
    for _ in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
    start_qemu
    "${xendm_env[@]}" "$xendm" --domid 1 --secondary --log info --stats "$tmp/dm.stats" \
        --device "virtio-blk-pci,slot=6,file=$img" >"$tmp/dm.out" 2>"$tmp/dm.err" &
    dm_pid=$!
}
wait_for() {
    for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
# ioreqs WHO: the guest's count of the ioreqs sent during WHO's part (xendm or qemu).
ioreqs() {
    local line _v _w x _q q
    line=$(grep -m1 -o 'ioreqs xendm [0-9a-fx]* qemu [0-9a-fx]*' "$tmp/mx.out") || return 0
    read -r _v _w x _q q <<<"$line"
    if [ "$1" = xendm ]; then echo $((x)); else echo $((q)); fi
}
show_failure() {
    grep -v '^[a-z_]* [0-9]*$' "$tmp/mx.err" | tail -5 | sed 's/^/# mockxen: /'
    tail -5 "$tmp/dm.err" | sed 's/^/# xendm: /'
    tail -5 "$tmp/qemu.log" | sed 's/^/# qemu: /'
}

# ---- xendm stops first -----------------------------------------------------------------
run xendm-stops.gs
wait_for "$tmp/mx.out" "ioreqs xendm"
kill -TERM "$dm_pid"; wait "$dm_pid"; dm_status=$?
wait "$mx_pid"; mx_status=$?
kill -TERM "$qemu_pid"; wait "$qemu_pid" 2>/dev/null
check "beside QEMU: the guest finds i440FX, PIIX3, xen-platform and xendm's virtio-blk, uses the disk and QEMU's UART; with xendm stopped QEMU still answers" \
    test "$mx_status" -eq 0
[ "$mx_status" -eq 0 ] || show_failure
check "xendm stopped cleanly" test "$dm_status" -eq 0
check "QEMU's UART printed the guest's line" grep -q 'beside!' "$tmp/serial.txt"
# QEMU's counter: its handle_ioreq trace, one line per ioreq it served. 0xcf8 is QEMU's
# port (its PCI host claims 0xcf8-0xcff; Xen latches the address and forwards the write
# to that port's owner too), so the config accesses of xendm's part write 0xcf8 through
# QEMU; every other ioreq of that part is xendm's. One 0xcf8 write selecting 00:06.0
# comes after xendm's part (the check that the slot is empty).
trace=$tmp/qemu-trace.log
q_all=$(grep -c '^handle_ioreq ' "$trace")
q_cf8_slot6=$(grep -c 'type=0 dir=0 .* port=0xcf8 data=0x800030' "$trace")
x_part=$(ioreqs xendm)
diag "ioreqs: mockxen $(mx_count guest_ioreq), xendm $(dm_stat ioreq.sync), QEMU $q_all;" \
     "xendm's part ${x_part:-?} with $((q_cf8_slot6 - 1)) 0xcf8 writes"
check "every ioreq reached exactly one device model (xendm's counter + QEMU's trace)" \
    test "$(( $(dm_stat ioreq.sync) + q_all ))" = "$(mx_count guest_ioreq)"
check "xendm's counter is exactly its part, less the 0xcf8 writes QEMU took" \
    test -n "$x_part" -a "$(dm_stat ioreq.sync)" = "$((x_part - (q_cf8_slot6 - 1)))"
check "QEMU saw none of xendm's: no config access to 00:06, nothing in its BAR" \
    bash -c "! grep -E 'type=2 .* port=0x3[0-7][0-9a-f]{8} |type=1 .* port=0xe200[0-7][0-9a-f]{3} ' '$trace'"
check "xendm claimed slot 6 in its own entry" grep -q "claimed slots 0x00000040" "$tmp/dm.err"

# ---- QEMU stops first ------------------------------------------------------------------
run qemu-stops.gs
if wait_for "$tmp/mx.out" "parts done"; then
    kill -TERM "$qemu_pid"
fi
wait_for "$tmp/mx.out" "xendm answered"
kill -TERM "$dm_pid"; wait "$dm_pid"; dm_status=$?
wait "$mx_pid"; mx_status=$?
wait "$qemu_pid" 2>/dev/null
check "with QEMU stopped, xendm's disk still answers (sector 7 read back)" \
    test "$mx_status" -eq 0
[ "$mx_status" -eq 0 ] || show_failure
check "... and xendm stops cleanly afterwards" test "$dm_status" -eq 0

# ---- the KVM guest: xendm's disk, QEMU's UART -----------------------------------------
kvm_image=$top/build/guests/virtio_blk.bin
rm -f "$tmp"/mx.* "$tmp/xs.sock" "$tmp"/dm.* "$tmp/serial.txt" "$tmp/qemu-trace.log" "$img"
truncate -s 1M "$img"
timeout 120 "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 \
    --mem-mb 128 --populate-mb 128 --device-models 2 --start-timeout 30000 \
    --kvm-guest "$kvm_image" >"$tmp/mx.out" 2>"$tmp/mx.err" &
mx_pid=$!
for _ in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
start_qemu
"${xendm_env[@]}" "$xendm" --domid 1 --secondary --stats "$tmp/dm.stats" \
    --device "virtio-blk,file=$img" >"$tmp/dm.out" 2>"$tmp/dm.err" &
dm_pid=$!
wait "$mx_pid"; mx_status=$?
kill -TERM "$dm_pid" "$qemu_pid" 2>/dev/null
wait "$dm_pid" "$qemu_pid" 2>/dev/null
if [ "$mx_status" -eq 77 ]; then
    skip_test "the KVM guest beside QEMU: $(grep -m1 -o 'KVM unavailable:.*' "$tmp/mx.err")"
else
    check "KVM guest beside QEMU: its virtio-blk driver's checks held against xendm's disk" \
        test "$mx_status" -eq 0
    [ "$mx_status" -eq 0 ] || show_failure
    check "... and it printed through QEMU's UART what it wrote" \
        grep -qF "virtio-blk sectors 0x000007f8-0x000007ff written, flushed, read back" \
        "$tmp/serial.txt"
    check "... the image's last sector holds its number in every dword" \
        test "$(od -An -tu4 -v -j $((2047 * 512)) -N 512 "$img" | tr -s ' ' '\n' |
                sed '/^$/d' | sort -u)" = 2047
    q_all=$(grep -c '^handle_ioreq ' "$tmp/qemu-trace.log")
    diag "ioreqs: mockxen $(mx_count guest_ioreq), xendm $(dm_stat ioreq.sync), QEMU $q_all"
    check "... every ioreq reached exactly one device model, xendm's at least its disk's" \
        test "$(( $(dm_stat ioreq.sync) + q_all ))" = "$(mx_count guest_ioreq)" \
        -a "$(dm_stat ioreq.sync)" -gt 10
    check "... QEMU saw nothing of xendm's window 0xfeb01000-0xfeb011ff" \
        bash -c "! grep -E 'type=1 .* port=0xfeb01[0-1][0-9a-f]{2} ' '$tmp/qemu-trace.log'"
fi

done_testing
