#!/bin/bash
# xendm --secondary, alone on mockxen (the test plays the main device model's part: it
# writes device-model/<domid>/state itself). The guest drives xendm's virtio-blk-pci at
# slot 6; xendm publishes its claims in xenstore and leaves the main model's state node
# alone; when its ioreq server is destroyed (as Xen does with the domain) it stops by
# itself, cleanly, and the guest then finds the slot empty. At start-up it refuses what
# is not its own (no slot=, slots 0/1, fixed ports), what another xendm claimed (a slot,
# an MMIO window), and what Xen refuses; an entry left by a xendm that is gone is ignored.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"
mxclient=$build/tests/mockxen-client/mxclient
xs() { XENSTORED_PATH="$tmp/xs.sock" "$@"; }
entries=/local/domain/0/device-model/1/xendm
img=$tmp/disk.img img2=$tmp/disk2.img
truncate -s 1M "$img" "$img2"

# start_mockxen [options]: mockxen on $tmp's sockets, its pid in $mx_pid.
start_mockxen() {
    rm -f "$tmp"/mx.* "$tmp/xs.sock"
    "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --mem-mb 4096 \
        --populate-mb 64 --start-timeout 20000 "$@" >"$tmp/mx.out" 2>"$tmp/mx.err" &
    mx_pid=$!
    for _ in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
}
# start_secondary NAME [options]: xendm --secondary, output in $tmp/NAME.*, pid in $dm_pid.
start_secondary() {
    local name=$1; shift
    "${xendm_env[@]}" "$xendm" --domid 1 --secondary --log info "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    dm_pid=$!
}
# wait_until SECONDS CMD...: poll CMD every 50 ms.
wait_until() {
    local tries=$(($1 * 20)); shift
    for _ in $(seq "$tries"); do "$@" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
# entry_running ID: xendm $dm_pid's entry under ioreq server ID says running.
entry_running() {
    [ "$(xs xenstore-read "$entries/$1/pid")" = "$dm_pid" ] &&
        [ "$(xs xenstore-read "$entries/$1/state")" = running ]
}
exited() { ! kill -0 "$1" 2>/dev/null; }
# refused NAME MESSAGE [xendm options]: xendm --secondary fails to start, saying MESSAGE.
refused() {
    local name=$1 message=$2; shift 2
    start_secondary "$name" "$@"
    wait "$dm_pid"; local status=$?
    [ "$status" -ne 0 ] && grep -q -- "$message" "$tmp/$name.err" ||
        { diag "exit $status"; tail -3 "$tmp/$name.err" | sed 's/^/# /'; return 1; }
}

# ---- beside a main device model: the disk, the claims, the domain's end --------------
cat >"$tmp/guest.gs" <<'GS'
include "virtio-blk-pci.gs"
echo "disk done"
out 0xcf8, 4, $cfg
in 0xcfc, 4 -> $id
while $id != 0xffffffff timeout 20s {      # until xendm's server is gone
    sleep 20ms
    in 0xcfc, 4 -> $id
}
sleep 3s                                    # the domain lives on while xendm notices
GS
cp "$scripts/virtio-blk-pci.gs" "$tmp/"
start_mockxen --script "$tmp/guest.gs" --param slot=6
start_secondary dm --device "virtio-blk-pci,slot=6,file=$img,serial=xendm-disk-0" \
    --stats "$tmp/dm.stats"
check "xendm publishes its entry and says running there" wait_until 10 entry_running 0
check "... with its pid and slot, and no MMIO window" \
    test "$(xs xenstore-read $entries/0/pid):$(xs xenstore-read $entries/0/slots):$(xs xenstore-read $entries/0/mmio)" = "$dm_pid:6:"
check "... and leaves the main device model's state node alone" \
    bash -c "! XENSTORED_PATH=$tmp/xs.sock xenstore-read /local/domain/0/device-model/1/state 2>/dev/null"
xs xenstore-write /local/domain/0/device-model/1/state running   # the main model's part
check "the guest writes, flushes and reads through xendm's virtio-blk-pci at slot 6" \
    wait_until 20 grep -q "disk done" "$tmp/mx.out"
"${xendm_env[@]}" "$mxclient" destroy-server 0 1
check "once its ioreq server is destroyed xendm stops by itself" wait_until 5 exited "$dm_pid"
wait "$dm_pid"; dm_status=$?
check "... cleanly (exit 0), saying why" \
    bash -c "[ $dm_status -eq 0 ] && grep -q 'domain 1 has ended' '$tmp/dm.err'"
check "... after serving the guest's requests" test "$(dm_stat ioreq.sync)" -gt 30
wait "$mx_pid"; mx_status=$?
check "the guest then finds slot 6 empty, and every expectation held" test "$mx_status" -eq 0
check "sector 7 of the image holds the guest's bytes" \
    test "$(dd if="$img" bs=512 skip=7 count=1 status=none | od -An -tx1 -v |
            tr -s ' \n' '\n' | sed '/^$/d' | sort -u)" = c3

# ---- start-up refusals -------------------------------------------------------------
start_mockxen
check "a PCI device without slot= is refused" \
    refused noslot "slot= is required on a bus shared" --device "virtio-rng-pci"
check "slot 1 (the main model's ISA bridge) is refused" \
    refused slot1 "slot 1 belongs to the other device model" --device "virtio-rng-pci,slot=1"
check "a device on fixed I/O ports is refused" \
    refused ports "takes the fixed I/O ports 0x3f8-0x3ff" --device uart

start_secondary first --device "virtio-rng-pci,slot=6" --device "virtio-blk,file=$img"
first_pid=$dm_pid
check "a first secondary xendm starts with a slot and an MMIO window" wait_until 10 entry_running 0
check "... and publishes them, without the default devices (slot 3, port 0x3f8)" \
    test "$(xs xenstore-read $entries/0/slots):$(xs xenstore-read $entries/0/mmio)" = "6:0xfeb01000-0xfeb011ff"
check "a second one wanting the same slot is refused, naming the first" \
    refused second-slot "PCI slot 6 is already used by xendm pid $first_pid" \
    --device "virtio-rng-pci,slot=6"
check "a second one wanting an overlapping MMIO window is refused" \
    refused second-mmio "MMIO window 0xfeb01000-0xfeb011ff overlaps 0xfeb01000-0xfeb011ff" \
    --device "virtio-blk,file=$img2"
start_secondary second --device "virtio-rng-pci,slot=7" --device "virtio-rng"
check "a second one with a slot and a window of its own starts beside it" \
    wait_until 10 entry_running 1
kill "$dm_pid" "$first_pid"; wait "$dm_pid" "$first_pid"

# The first two stopped with restricted handles: their entries stay, their pids are gone.
check "a stopped xendm's entry stays (xenstore is cut by the restriction)" \
    xs xenstore-exists "$entries/0"
start_secondary third --device "virtio-rng-pci,slot=6" --no-restrict
check "an entry whose process is gone is ignored (with a warning)" wait_until 10 entry_running 0
check "... the warning names it" grep -q "$entries/1: xendm pid [0-9]* is no longer running" \
    "$tmp/third.err"
kill "$dm_pid"; wait "$dm_pid"
check "with --no-restrict the entry is removed at the stop" \
    bash -c "! XENSTORED_PATH=$tmp/xs.sock xenstore-exists $entries/0"
kill "$mx_pid"; wait "$mx_pid"

start_mockxen --refuse-range memory:0xfeb01000-0xfeb01fff:EEXIST
check "a window Xen refuses (EEXIST) fails the start" \
    refused xen-mmio "Xen refused MMIO range 0xfeb01000-0xfeb011ff" --device "virtio-blk,file=$img"
check "... and leaves no entry behind" bash -c "! XENSTORED_PATH=$tmp/xs.sock xenstore-exists $entries/0"
kill "$mx_pid"; wait "$mx_pid"
start_mockxen --refuse-range pci:0x30-0x37:EEXIST
check "a PCI function Xen refuses fails the start" \
    refused xen-pci "cannot register PCI device 00:06.0" --device "virtio-rng-pci,slot=6"
kill "$mx_pid"; wait "$mx_pid"

done_testing
