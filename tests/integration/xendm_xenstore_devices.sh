#!/bin/bash
# xendm --xenstore-devices against mockxen's xenstore, with the nodes written exactly as
# libxl writes them (libxl_disk.c, libxl_virtio.c, libxl__device_generic_add: backend,
# frontend and /libxl directories, permissions) through Debian's xenstore-utils, i.e.
# the real libxenstore, in one transaction each. On an x86 domain and on an Arm one
# (mockxen --arch arm, xendm --machine arm: MMIO only, SPIs, no buffered ring): the
# handshake (state 1 -> 2, and 5 -> 6 on removal, 6 when xendm stops), the guest's
# disk I/O, bad devices refused with an `error` node, devices added while the guest
# runs (served, or for a disk refused under the sandbox), a removed device's window
# reading as unclaimed, and a disk with grant_usage=1 doing its DMA through grants.
# make test runs it twice: with the x86-64 build, and with the arm64 build under
# qemu-user (XENDM_TEST_ARGS has --sandbox off there: qemu-user has no seccomp, so a
# disk added later is served instead of refused).
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"

for tool in xenstore-write xenstore-read xenstore-chmod xenstore-exists; do
    command -v "$tool" >/dev/null || { skip_test "$tool not installed (xenstore-utils)"; done_testing; }
done
export XENSTORED_PATH=$tmp/xs.sock
domid=1

# libxl's three directories of one device, in one transaction, then its permissions
# (backend: dom0's, readable by the guest; frontend: the guest's, readable by dom0).
# add_device KIND DEVID BACKEND-KEY VALUE ...
add_device() {
    local kind=$1 devid=$2; shift 2
    local be=/local/domain/0/backend/$kind/$domid/$devid
    local fe=/local/domain/$domid/device/$kind/$devid
    local lx=/libxl/$domid/device/$kind/$devid
    local args=("$lx/frontend" "$fe" "$lx/backend" "$be" "$fe/backend" "$be"
                "$fe/backend-id" 0 "$fe/state" 1 "$be/frontend" "$fe")
    [ "$kind" = virtio_disk ] && args+=("$fe/virtual-device" "$devid" "$fe/device-type" disk
                                        "$fe/trusted" 1)
    while [ $# -gt 0 ]; do args+=("$be/$1" "$2" "$lx/$1" "$2"); shift 2; done
    xenstore-write "${args[@]}" && xenstore-chmod "$be" n0 r$domid &&
        xenstore-chmod "$fe" n$domid r0
}

# A disk as libxl_disk.c writes it (backendtype=standalone, specification=virtio):
# disk DEVID IMAGE BASE IRQ [KEY VALUE ...] (later keys override)
disk() {
    local devid=$1 image=$2 base=$3 irq=$4; shift 4
    local -A keys=([params]=$image [frontend-id]=$domid [online]=1 [removable]=0
                   [bootable]=1 [state]=1 [dev]=xvd$devid [type]=standalone [mode]=w
                   [device-type]=disk [discard-enable]=1 [specification]=virtio
                   [transport]=mmio [base]=$(printf %u "$base") [irq]=$irq [grant_usage]=0)
    while [ $# -gt 0 ]; do if [ "$2" = - ]; then unset "keys[$1]"; else keys[$1]=$2; fi; shift 2; done
    local kv=() k
    for k in "${!keys[@]}"; do kv+=("$k" "${keys[$k]}"); done
    add_device virtio_disk "$devid" "${kv[@]}"
}

# A generic device as libxl_virtio.c writes it: virtio DEVID TYPE BASE IRQ
virtio() {
    add_device virtio "$1" frontend-id $domid online 1 state 1 irq "$4" \
        base "$(printf %#x "$3")" type "$2" transport mmio grant_usage 0
}

be() { echo "/local/domain/0/backend/$1/$domid/$2"; }
node() { xenstore-read "$1" 2>/dev/null; }
# wait_node PATH VALUE: up to 15 s
wait_node() {
    local i
    for i in $(seq 300); do [ "$(node "$1")" = "$2" ] && return 0; sleep 0.05; done
    diag "$1 is '$(node "$1")', expected '$2'"
    return 1
}
sector_byte() {
    dd if="$1" bs=512 skip="$2" count=1 status=none | od -An -tx1 -v | tr -s ' \n' '\n' |
        sed '/^$/d' | sort -u | awk 'NR > 1 { m = 1 } { b = $1 } END { print m ? "mixed" : b }'
}

start_mockxen() {
    rm -f "$tmp"/mx.* "$tmp"/xs.sock "$tmp"/dm.*
    "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid $domid --mem-mb 4096 \
        --populate-mb 64 --start-timeout 20000 "$@" >"$tmp/mx.out" 2>"$tmp/mx.err" &
    mx_pid=$!
    local i
    for i in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
}
start_xendm() {
    env LD_LIBRARY_PATH="$shim" MOCKXEN_SOCKET="$tmp/mx.sock" "$xendm" --domid $domid \
        --xenstore-devices --log info ${XENDM_TEST_ARGS:-} "$@" >"$tmp/dm.out" 2>"$tmp/dm.err" &
    dm_pid=$!
}
# stop_xendm: SIGTERM; sets dm_status
stop_xendm() { kill -TERM "$dm_pid" 2>/dev/null; wait "$dm_pid"; dm_status=$?; }
show_logs() {
    grep -v '^[a-z_]* [0-9]*\( (ENOSYS)\)\?$' "$tmp/mx.err" | tail -5 | sed 's/^/# mockxen: /'
    grep -v ': info: ' "$tmp/dm.err" | tail -8 | sed 's/^/# xendm: /'
}

# ---- x86: one disk on an ISA line, driven by the guest, then removed ----------------------
img=$tmp/x86.img; truncate -s 1M "$img"
start_mockxen --script "$scripts/virtio-blk-xs.gs" --param base=0xfeb02000 --param irq=7 \
    --param removed=1
check "x86: libxl's nodes for a virtio disk are written through libxenstore" \
    disk 51712 "$img" 0xfeb02000 7
start_xendm --machine x86
check "x86: the backend goes from Initialising to InitWait" wait_node "$(be virtio_disk 51712)/state" 2
for i in $(seq 300); do [ "$(sector_byte "$img" 5)" = 5a ] && break; sleep 0.05; done
check "x86: the guest's write reached the image (ISA IRQ 7)" test "$(sector_byte "$img" 5)" = 5a
check "x86: removal: the toolstack writes online=0 and Closing" \
    xenstore-write "$(be virtio_disk 51712)/online" 0 "$(be virtio_disk 51712)/state" 5
check "... and xendm answers Closed" wait_node "$(be virtio_disk 51712)/state" 6
stop_xendm
check "x86: xendm stopped cleanly" test "$dm_status" -eq 0
wait "$mx_pid"; mx_status=$?
check "x86: the guest saw the disk work, then its window unclaimed" test "$mx_status" -eq 0
[ "$mx_status" -eq 0 ] && [ "$dm_status" -eq 0 ] || show_logs

# ---- Arm: two disks and a virtio-rng at libxl's places; bad devices; changes at run time --
img1=$tmp/arm1.img img2=$tmp/arm2.img img3=$tmp/arm3.img
truncate -s 1M "$img1" "$img2" "$img3"
# 16 MiB of RAM where libxl puts an Arm guest's, from 1 GiB (GUEST_RAM0_BASE): the
# rings and buffers are there, above libxl's virtio-mmio area at 32 MiB.
start_mockxen --arch arm --populate-mb 16 --script "$scripts/virtio-xs-arm.gs" \
    --param base=0x2000000 --param irq=33 --param arm=1 --param ram=0x40000000
disk 51712 "$img1" 0x2000000 33 &&
    disk 51728 "$img2" 0x2000200 34 &&
    virtio 0 virtio,device4 0x2000400 35
check "arm: libxl's nodes for two virtio disks and a virtio-rng are written" test $? -eq 0
# Refused: each gets an error node and Closed, the others are served all the same.
disk 51744 "$img2" 0x2000800 37 mode -                       # a key missing
disk 51760 "$img2" 0x2100000 38                              # base past libxl's area
disk 51776 "$img2" 0x2000a00 44                              # irq past SPI 43
disk 51792 "$img2" 0x2000200 39                              # the second disk's window
disk 51808 "$tmp/none.img" 0x2000c00 40                      # an image that is not there
virtio 1 virtio,device22 0x2001000 42                        # a device xendm lacks
start_xendm --machine arm
for dev in "virtio_disk 51712" "virtio_disk 51728" "virtio 0"; do
    check "arm: $dev: InitWait" wait_node "$(be $dev)/state" 2
done
refused() {     # refused KIND DEVID TEXT: Closed, and an error node with TEXT
    wait_node "$(be "$1" "$2")/state" 6 &&
        node "$(be "$1" "$2")/error" | grep -q -- "$3" ||
        { diag "error node: '$(node "$(be "$1" "$2")/error")'"; return 1; }
}
check "arm: a missing key: refused, 'error' names it" \
    refused virtio_disk 51744 "^22 virtio_disk: the key 'mode' is missing"
check "arm: base out of libxl's area: refused" refused virtio_disk 51760 "^34 .*base=0x2100000"
check "arm: irq out of range: refused" refused virtio_disk 51776 "irq=44 is outside .* 33-43"
check "arm: an overlapping window: refused" refused virtio_disk 51792 "^17 .*overlaps"
check "arm: an unreadable image: refused" refused virtio_disk 51808 "none.img"
check "arm: a virtio device xendm lacks: refused" refused virtio 1 "no virtio device with id 0x22"
for i in $(seq 300); do [ "$(sector_byte "$img1" 5)" = 5a ] && break; sleep 0.05; done
check "arm: the guest's write reached the first image (SPI 33)" test "$(sector_byte "$img1" 5)" = 5a
virtio 2 virtio,device4 0x2000600 36
check "arm: a virtio-rng added while the guest runs is served" wait_node "$(be virtio 2)/state" 2
disk 51840 "$img3" 0x2001200 43
case " ${XENDM_TEST_ARGS:-} " in
*" --sandbox off "*)    # the arm64 run under qemu-user, which has no seccomp
    check "arm: a disk added while the guest runs is served (no sandbox)" \
        wait_node "$(be virtio_disk 51840)/state" 2 ;;
*)  check "arm: a disk added while the guest runs is refused: the sandbox cannot open it" \
        refused virtio_disk 51840 "sandbox forbids opening files" ;;
esac
xenstore-write "$(be virtio_disk 51712)/online" 0 "$(be virtio_disk 51712)/state" 5
check "arm: the first disk, removed by the toolstack, is Closed" \
    wait_node "$(be virtio_disk 51712)/state" 6
check "arm: the backend directory of the added virtio-rng removed: its device goes" \
    xenstore-rm "$(be virtio 2)"
stop_xendm
check "arm: xendm stopped cleanly" test "$dm_status" -eq 0
check "arm: at exit the backends it served are Closed" \
    test "$(node "$(be virtio_disk 51728)/state")$(node "$(be virtio 0)/state")" = 66
wait "$mx_pid"; mx_status=$?
check "arm: the guest drove a disk on SPIs and saw every device come and go" test "$mx_status" -eq 0
check "arm: interrupts went through xendevicemodel_set_irq_level" \
    test "$(mx_count xendevicemodel_set_irq_level)" -gt 0
check "arm: no ISA interrupt, no port range, no buffered ring" \
    test "$(mx_count xendevicemodel_set_isa_irq_level)$(grep -c 'port range\|bufioreq' "$tmp/dm.err")" = 00
check "arm: guest RAM laid out as libxl's: 16 MiB at 1 GiB" \
    grep -q "guest RAM: 16 MiB at 0x40000000, 0 MiB at 0x200000000" "$tmp/dm.err"
[ "$mx_status" -eq 0 ] && [ "$dm_status" -eq 0 ] || show_logs
kill "$mx_pid" 2>/dev/null

# ---- Arm: a disk with grant_usage=1, driven through grant references ----------------------
# The guest (virtio-blk-grants.gs) grants domain 0 each page it hands the device and
# gives grant addresses; xendm maps them with libxengnttab. What it was not granted
# fails the request.
img=$tmp/grants.img; truncate -s 1M "$img"
start_mockxen --arch arm --populate-mb 16 --script "$scripts/virtio-blk-grants.gs" \
    --param base=0x2000000 --param irq=33 --param arm=1 --param ram=0x40000000
check "arm: libxl's nodes for a virtio disk with grant_usage=1 are written" \
    disk 51712 "$img" 0x2000000 33 grant_usage 1
start_xendm --machine arm
wait "$mx_pid"; mx_status=$?        # xenstore ends with the guest: the log tells the rest
check "arm: grant_usage=1: served as a virtio-blk with grant_usage=1" \
    grep -q "virtio_disk 51712 served: virtio-blk,addr=0x2000000,irq=33,grant_usage=1," "$tmp/dm.err"
check "arm: the guest's I/O through grants worked, and what it did not grant failed" \
    test "$mx_status" -eq 0
check "... the image holds the bytes written from the granted pages" \
    test "$(sector_byte "$img" 8)$(sector_byte "$img" 16)$(sector_byte "$img" 0)" = 5aa500
check "... mapped with xengnttab_map_domain_grant_refs" \
    test "$(mx_count xengnttab_map_domain_grant_refs)" -gt 0
stop_xendm
check "arm: xendm stopped cleanly" test "$dm_status" -eq 0
[ "$mx_status" -eq 0 ] && [ "$dm_status" -eq 0 ] || show_logs

done_testing
