#!/bin/bash
# KVM guests end to end: mockxen --kvm-guest runs the flat x86 images of tests/guests/
# under KVM and turns their port and MMIO exits into ioreqs. Against the null device
# model (proves the translation: sizes, PCI config decode, MMIO, string I/O, the exit
# port), against xendm (UART + PCI test device DMA) and against Debian's QEMU-xen (UART).
# Everything is skipped, with the reason, where /dev/kvm does not work.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/mockxen-client/harness.sh"
guests=$top/build/guests
xendm=$build/xendm
. "$top/tests/guests/kvm_run.sh"

for img in nulldm uart testdev fail halt; do
    if [ ! -f "$guests/$img.bin" ]; then
        not_ok "$guests/$img.bin is built (make guests)"
        done_testing
    fi
done

# has_lines FILE LINE...: FILE has every LINE as a whole line.
has_lines() {
    local file=$1 line; shift
    for line in "$@"; do grep -qxF "$line" "$file" || return 1; done
}

# uart_checks LABEL DM: run the UART guest against DM (xendm or qemu) and check it.
uart_checks() {
    kvm_run "$2-uart" uart "$2"
    check "$1: the UART guest's checks hold (exit status 0)" test "$rc" = 0
    [ "$rc" = 0 ] || kvm_show "$2-uart"
    check "$1: the greeting and the rep outsb string came out of the UART" \
        has_lines "$tmp/$2-uart.dm" "hello from KVM guest" "rep outsb through the UART"
}

# ---- KVM available? -------------------------------------------------------------------
kvm_run nulldm nulldm null
if [ "$rc" = 77 ]; then
    skip_test "$(kvm_unavailable nulldm)"
    done_testing
fi

# ---- null device model ----------------------------------------------------------------
check "null DM: every exit of the guest became an ioreq the null DM answered" test "$rc" = 0
[ "$rc" = 0 ] || kvm_show nulldm
# The guest's accesses: 21 greeting bytes (LSR poll + THR write each), 3 port reads,
# a PCI config read (0xcf8 + 0xcfc), 3 MMIO reads, 3 MMIO writes, an 8-byte rep outsb
# (KVM passes string outs one element per exit today: 8 ioreqs, 1 if it batched) and
# a 16-byte rep insb (one data_is_ptr ioreq): 62 ioreqs, or 55 with batched outs.
ioreqs=$(awk '$1 == "guest_ioreq" { print $2 }' "$tmp/nulldm.err")
check "null DM: one ioreq per exit, a string in as one data_is_ptr ioreq ($ioreqs)" \
    test "${ioreqs:-0}" -eq 62 -o "${ioreqs:-0}" -eq 55

kvm_run fail fail null
check "a guest writing 3 to the exit port makes mockxen fail" test "$rc" = 1
check "the failure names the exit status and port" \
    grep -qF "KVM guest exit status 3 (port 0x501)" "$tmp/fail.err"

kvm_run halt halt null
check "a guest that halts without the exit port makes mockxen fail" test "$rc" = 1
check "the failure says where the guest halted" \
    grep -qF "KVM guest halted at rip 0x10002 without writing the exit port 0x501" \
    "$tmp/halt.err"

kvm_run uart-on-null uart null
check "the UART guest notices a device model without a UART (scratch check, status 1)" \
    grep -qF "KVM guest exit status 1 " "$tmp/uart-on-null.err"

: >"$tmp/empty.bin"
"$mockxen" --socket "$tmp/x.sock" --xenstore "$tmp/y.sock" --kvm-guest "$tmp/empty.bin" \
    >/dev/null 2>"$tmp/empty.err"
rc=$?
check "an empty image is a usage error before the guest starts" test "$rc" = 2
check "the message names the image and the size limit" \
    grep -qF "$tmp/empty.bin: 0 bytes, must be 1..458752" "$tmp/empty.err"

# ---- xendm ----------------------------------------------------------------------------
if [ ! -x "$xendm" ]; then
    skip_test "xendm: $xendm not built"
else
    uart_checks xendm xendm

    kvm_run xendm-testdev testdev xendm
    check "xendm: the guest found the PCI test device and its DMA round trip matched" \
        test "$rc" = 0
    [ "$rc" = 0 ] || kvm_show xendm-testdev
    check "xendm: the guest reported the DMA through the UART" \
        grep -qx "testdev DMA ok" "$tmp/xendm-testdev.dm"
fi

# ---- QEMU -----------------------------------------------------------------------------
if [ ! -x "$qemu" ]; then
    skip_test "QEMU: $qemu not installed (qemu-system-xen)"
else
    uart_checks QEMU qemu
fi

done_testing
