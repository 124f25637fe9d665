#!/bin/bash
# Fidelity: Debian's unmodified xen-qemu-system-i386 (linked with BIND_NOW against the
# real Xen libraries) loads mockxen's shims, becomes the device model, and answers a
# guest script: PCI config space of its i440FX and PIIX3 through 0xcf8/0xcfc.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
need_qemu
. "$top/tests/mockxen-client/harness.sh"

cat >"$tmp/qemu.gs" <<'GS'
out 0xcf8, 4, 0x80000000
in 0xcfc, 4 == 0x12378086                  # 00:00.0 i440FX host bridge
out 0xcf8, 4, 0x80000000 | (1 << 11)
in 0xcfc, 4 == 0x70008086                  # 00:01.0 PIIX3
in 0x300, 1 == 0xff                        # nothing there
expect-count guest_ioreq >= 4
# Its 16550 UART: the scratch register, the line status, output to the chardev.
out 0x3ff, 1, 0xa5
in  0x3ff, 1 == 0xa5
in  0x3fd, 1 -> $lsr
expect $lsr & 0x60 == 0x60
poke 0x10000, 8, 0x0a21756d6571        # "qemu!\n"
rep-out 0x3f8, 1, 6, 0x10000           # rep outsb with data_is_ptr
out 0x3f8 + 4, 1, 0x10                 # MCR: loopback, so input comes from output
out 0x3f8, 1, 0x5a
rep-in 0x3f8, 1, 1, 0x11000            # rep insb with data_is_ptr
peek 0x11000, 1 == 0x5a
out 0x3f8 + 4, 1, 0x00
# IRQ 4: QEMU raises and lowers it with xendevicemodel_set_isa_irq_level, a one-way
# message; the guest sees the line low as soon as the IIR read that lowered it is done.
out 0x3f9, 1, 0x02                     # IER: THR empty
wait-irq isa 4 timeout 5s
in 0x3fa, 1 -> $iir                    # IIR: THR empty, and reading it clears that
expect $iir & 0x0f == 0x02
irq-level isa 4 == 0
out 0x3f9, 1, 0x00
expect-count set_isa_irq_level >= 2
GS
run_qemu() {
    "$mockxen" --socket "$MOCKXEN_SOCKET" --xenstore "$XENSTORED_PATH" --populate-mb 128 \
        --script "$tmp/qemu.gs" --start-timeout 30000 >"$tmp/mx.out" 2>"$tmp/mx.err" &
    mx_pid=$!
    mx_wait_sockets "$mx_pid"
    "$qemu" -xen-domid 1 -no-shutdown -nodefaults -machine xenfv,max-ram-below-4g=3840M -m 128 \
        -display none -chardev "file,id=ser,path=$tmp/serial.txt" -serial chardev:ser \
        -monitor none >"$tmp/qemu.log" 2>&1 &
    dm_pid=$!
    wait "$mx_pid"
    mx_status=$?
    mx_pid=
}
run_qemu
check "QEMU answers the guest through mockxen (PCI config, UART, rep outsb/insb, IRQ 4)" \
    test "$mx_status" -eq 0
check "QEMU wrote running to xenstore and enabled its ioreq server" \
    grep -qx 'xendevicemodel_set_ioreq_server_state [1-9][0-9]*' "$tmp/mx.err"
check "the bytes written to port 0x3f8 reached QEMU's serial chardev" \
    grep -q "qemu!" "$tmp/serial.txt"
check "QEMU's unmodelled calls were counted" grep -q '(ENOSYS)$' "$tmp/mx.err"
[ "$mx_status" -eq 0 ] || sed 's/^/# /' "$tmp/mx.err" "$tmp/qemu.log" | head -30
done_testing
