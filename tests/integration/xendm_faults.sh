#!/bin/bash
# xendm's start-up errors and injected faults: each is reported with what failed, and
# xendm exits (non-zero) after undoing what it had set up — or, for a fault the guest
# causes at run time, keeps serving.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"

# dm_alone ARGS: run xendm once against whatever is (not) there, capture status/stderr.
dm_alone() {
    env LD_LIBRARY_PATH="$shim" "$@" >"$tmp/alone.out" 2>"$tmp/alone.err"
    alone_status=$?
}

dm_alone env -u MOCKXEN_SOCKET "$xendm" --domid 1
check "without Xen or mockxen: exit 1" test "$alone_status" -eq 1
check "... naming the interface it could not open" grep -q "cannot open xenctrl" "$tmp/alone.err"

dm_alone "$xendm"
check "no --domid: a usage error" grep -q -- "--domid is required" "$tmp/alone.err"
dm_alone "$xendm" --domid 1 --memory lots
check "a bad option value is named" grep -q "invalid value 'lots'" "$tmp/alone.err"
dm_alone "$xendm" --domid 1 --mapcache-bucket 2
check "a bucket the mapcache cannot take is refused before Xen is touched" \
    grep -q "mapcache-bucket must be a power of two, at least 4 KiB" "$tmp/alone.err"
dm_alone "$xendm" --domid 1 --mapcache-bucket 4096 --mapcache-max 1
check "... and so is a mapcache smaller than one bucket" \
    grep -q "mapcache-max must hold at least one bucket" "$tmp/alone.err"
check "help and version succeed" bash -c "'$xendm' --help | grep -q Usage && '$xendm' --version | grep -q xendm"
dm_alone "$xendm" --domid 1 --stats "$tmp/no-such-dir/stats"
check "a --stats file that cannot be created stops start-up before Xen is touched" \
    bash -c "[ $alone_status -eq 1 ] && grep -q \"open the statistics file: cannot open '$tmp/no-such-dir/stats': No such file\" '$tmp/alone.err' && ! grep -q 'open the Xen interfaces' '$tmp/alone.err'"

printf 'sleep 300ms\n' >"$tmp/idle.gs"
xendm_run "$tmp/idle.gs" --start-timeout 2000 -- --domid 7
check "no such domain: exit 1" test "$dm_status" -eq 1
check "... says which domain" grep -q "no such domain: 7" "$tmp/dm.err"

xendm_run "$tmp/idle.gs" --start-timeout 2000 --fail xendevicemodel_create_ioreq_server:1:ENOSPC
check "Xen refusing the ioreq server: exit 1 with the reason" \
    bash -c "[ $dm_status -eq 1 ] && grep -q 'cannot create an ioreq server.*No space' '$tmp/dm.err'"

xendm_run "$tmp/idle.gs" --start-timeout 2000 \
    --fail xendevicemodel_map_io_range_to_ioreq_server:1:ENOSPC -- --log info
check "a refused range stops start-up: exit 1" test "$dm_status" -eq 1
check "... naming the range" grep -q "Xen refused port range 0x3f8-0x3ff of 'serial'" "$tmp/dm.err"
check "... and undoing the steps done, in reverse" \
    bash -c "grep undo: '$tmp/dm.err' | tr -d '\n' | grep -q 'guest memory access.*create the ioreq server.*open the Xen interfaces.*signal handling'"
check "... the ioreq server was destroyed" test "$(mx_count xendevicemodel_destroy_ioreq_server)" -eq 1

cat >"$tmp/dmafail.gs" <<'GS'
$cfg = 0x80000000 | (3 << 11)
$bar = 0xe0000000
out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, $bar
out 0xcf8, 4, $cfg | 0x04
out 0xcfc, 2, 0x0006
# The first foreign map fails (injected): the DMA reports an error, xendm lives on.
mmio-write $bar + 0x10, 8, 0x10000
mmio-write $bar + 0x18, 8, 0
mmio-write $bar + 0x20, 8, 64
mmio-write $bar + 0x28, 4, 0x1
mmio-read  $bar + 0x08, 4 -> $st
expect $st & 0x2 == 0x2
# The next attempt maps again and works.
fill 0x10000, 64, 0x3c
mmio-write $bar + 0x28, 4, 0x1
mmio-read  $bar + 0x08, 4 -> $st
expect $st & 0x3 == 0x1
mmio-read  $bar + 0x1000, 8 == 0x3c3c3c3c3c3c3c3c
GS
xendm_run "$tmp/dmafail.gs" --fail xenforeignmemory_map:1:EFAULT
check "a failed foreign map fails that DMA only; the next one maps and works" \
    test "$mx_status" -eq 0
check "... and xendm is still running to exit cleanly" test "$dm_status" -eq 0

printf 'repeat 100 { out 0x3ff, 1, 0x55 }\n' >"$tmp/loop.gs"
xendm_run "$tmp/loop.gs" --die-at guest_ioreq:20
check "mockxen dying under xendm: xendm notices and exits 1" test "$dm_status" -eq 1
check "... saying the event channel is gone" grep -q "stopping:" "$tmp/dm.err"
done_testing
