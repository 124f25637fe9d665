#!/bin/bash
# kvm_pio_rtt_ns: ns per one-byte `out` to the UART scratch port (0x3ff) by real guest
# code under KVM, through mockxen's ioreq transport to the device model and back:
# KVM exit -> ioreq -> event -> device model -> answer -> KVM_RUN. The guest
# (tests/guests/pio_bench.S) times 20000 writes between two writes to mockxen's timer
# port; the row is the best of 5 runs (the machine is shared and noisy). One row per
# device model: the null DM (the transport's floor), xendm and Debian's QEMU-xen; "n/a"
# with the reason where KVM, xendm or QEMU is missing.
set -u
top=${XENDM_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
rel=${XENDM_REL_BUILD:-$top/build/rel}
mockxen=$rel/tools/mockxen/mockxen
xendm=$rel/xendm
qemu=/usr/libexec/xen-qemu-system-i386
guests=$top/build/guests
tmp=$(mktemp -d /tmp/kvm-bench-XXXXXX)
export MOCKXEN_SOCKET=$tmp/mx.sock XENSTORED_PATH=$tmp/xs.sock LD_LIBRARY_PATH=$top/build/shim
mx_pid= dm_pid=
cleanup() {
    [ -n "$dm_pid" ] && kill "$dm_pid" 2>/dev/null
    [ -n "$mx_pid" ] && kill "$mx_pid" 2>/dev/null
    wait
    rm -rf "$tmp"
}
. "$top/scripts/strays.bash"
run_guard
at_exit cleanup
. "$top/tests/guests/kvm_run.sh"
runs=5
what="KVM guest outb to port 0x3ff, best of $runs x 20000"

if [ ! -x "$mockxen" ] || [ ! -f "$guests/pio_bench.bin" ]; then
    echo "kvm_pio_rtt: $mockxen or $guests/pio_bench.bin is missing (make bench-build)" >&2
    exit 1
fi

# row LABEL DM: measure with DM and print its row.
row() {
    local label=$1 dm=$2 best= i v
    for i in $(seq "$runs"); do
        kvm_run "bench-$dm" pio_bench "$dm"
        if [ "$rc" = 77 ]; then
            printf 'row\tkvm_pio_rtt_ns\tn/a\tns\t%s: %s\n' "$label" \
                "$(kvm_unavailable "bench-$dm")"
            return 0
        fi
        v=$(awk -F'\t' '$1 == "row" && $2 == "kvm-guest" { printf "%.0f", $3 }' \
            "$tmp/bench-$dm.out")
        if [ "$rc" != 0 ] || [ -z "$v" ]; then
            echo "kvm_pio_rtt: $label run failed (status $rc):" >&2
            grep -v ' [0-9]*\( (ENOSYS)\)\?$' "$tmp/bench-$dm.err" | head -10 >&2
            status=1
            return 0
        fi
        if [ -z "$best" ] || [ "$v" -lt "$best" ]; then best=$v; fi
    done
    printf 'row\tkvm_pio_rtt_ns\t%s\tns\t%s: %s\n' "$best" "$label" "$what"
}

status=0
row "null DM" null
if [ -x "$xendm" ]; then row xendm xendm
else printf 'row\tkvm_pio_rtt_ns\tn/a\tns\txendm: %s not built\n' "$xendm"; fi
if [ -x "$qemu" ]; then row QEMU qemu
else printf 'row\tkvm_pio_rtt_ns\tn/a\tns\tQEMU: %s not installed\n' "$qemu"; fi
exit $status
