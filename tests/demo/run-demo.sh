#!/bin/bash
# make demo: mockxen with a domain, xendm against it (the same binary a Xen user runs,
# the shim libraries through LD_LIBRARY_PATH), a guest that exercises it, and a report.
set -u
build=${1:?build dir}
top=$(cd "$(dirname "$0")/../.." && pwd)
mockxen=$build/tools/mockxen/mockxen
tmp=$(mktemp -d)
trap 'kill $mx_pid $dm_pid 2>/dev/null; rm -rf "$tmp"' EXIT
mx_pid= dm_pid=

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "starting mockxen (domain 1, 64 MiB populated) and xendm"
truncate -s 1M "$tmp/disk.img"
"$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --populate-mb 64 \
    --script "$top/tests/demo/demo.gs" >"$tmp/mx.out" 2>"$tmp/mx.err" &
mx_pid=$!
for _ in $(seq 100); do [ -S "$tmp/mx.sock" ] && break; sleep 0.05; done
echo "\$ LD_LIBRARY_PATH=build/shim MOCKXEN_SOCKET=... XENSTORED_PATH=... xendm --domid 1 --log-dirty --control ... ..."
env LD_LIBRARY_PATH="$top/build/shim" MOCKXEN_SOCKET="$tmp/mx.sock" XENSTORED_PATH="$tmp/xs.sock" \
    "$build/xendm" --domid 1 --log-dirty --log info --no-defaults \
    --device "uart,chardev=file:$tmp/uart.txt" --device pci-testdev --device virtio-rng \
    --device "virtio-blk,file=$tmp/disk.img,serial=xendm-disk-0" \
    --stats "$tmp/dm.stats" --control "$tmp/ctl.sock" >"$tmp/dm.out" 2>"$tmp/dm.err" &
dm_pid=$!

section "the guest (mockxen's scripted vCPU 0)"
for _ in $(seq 200); do grep -q "waiting for the inspection" "$tmp/mx.out" 2>/dev/null && break
    kill -0 $mx_pid 2>/dev/null || break; sleep 0.05; done
sed 's/^vcpu0: /  /' "$tmp/mx.out"
section "ranges mockxen has registered for xendm's ioreq server"
"$mockxen" --query "$tmp/mx.sock" ranges 2>&1 | sed 's/^/  /'
section "xendm's live counters, asked over its control socket"
echo "\$ xendm-ctl \$sock stats"
"$build/xendm-ctl" "$tmp/ctl.sock" stats 2>&1 | grep -E '^(ioreq|mapcache)' | sed 's/^/  /'
wait $mx_pid; mx_status=$?
echo
echo "\$ xendm-ctl \$sock stop"
"$build/xendm-ctl" "$tmp/ctl.sock" stop 2>&1 | sed 's/^/  /' || kill -TERM $dm_pid
wait $dm_pid; dm_status=$?
mx_pid= dm_pid=

section "what the guest wrote to the UART (xendm's chardev file)"
sed 's/^/  | /' "$tmp/uart.txt"
section "the disk image after the guest (sector 5, as the guest wrote it)"
od -Ax -tx1 -j $((5 * 512)) -N 32 "$tmp/disk.img" | sed 's/^/  /'
section "xendm start-up steps"
grep -E "step|undo" "$tmp/dm.err" | sed 's/^xendm: info: /  /' | head -30
section "memory tree and flat view (xendm, at exit)"
sed -n '/^# mtree/,$p' "$tmp/dm.stats" | sed 's/^/  /'
section "xendm counters (ioreqs, mapcache, dirty reports)"
grep -v '^#' "$tmp/dm.stats" | sed -n '1,/^$/p' | grep -E '^(ioreq|xen|mapcache)' | sed 's/^/  /'
section "hypercall counts seen by mockxen"
sed -n '/counters:/,$p' "$tmp/mx.err" | tail -n +2 | sed 's/^/  /'

errors=$(grep -E "error" "$tmp/mx.err" "$tmp/dm.err" | grep -v "Connection reset" | head -5)
echo
sector5=$(od -An -v -tx1 -j $((5 * 512)) -N 512 "$tmp/disk.img" | tr -s ' \n' '\n' | sed '/^$/d' | sort -u)
if [ "$mx_status" -eq 0 ] && [ "$dm_status" -eq 0 ] && grep -q "rep from" "$tmp/uart.txt" &&
   [ "$sector5" = 5a ]; then
    echo "demo: PASS — the guest's UART, PCI, DMA, log-dirty, BAR move, virtio-rng and virtio-blk all worked through xendm"
    exit 0
fi
echo "demo: FAIL — mockxen exit $mx_status, xendm exit $dm_status"
[ -n "$errors" ] && echo "$errors"
exit 1
