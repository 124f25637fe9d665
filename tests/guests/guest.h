/*
 * tests/guests/guest.h — constants and macros shared by the KVM test guests.
 *
 * The guests are flat binaries that mockxen (--kvm-guest, tools/mockxen/kvm_guest.h)
 * loads at GUEST_LOAD_ADDR and enters in 32-bit flat protected mode with paging and
 * interrupts off and ESP set. Every port or MMIO access becomes an ioreq to the device
 * model; ports 0x501 (exit status), 0x502 (timer) and 0x503 (MSIs: a read waits for
 * the next one and gives its data, all ones if none came) are mockxen's own. A guest
 * ends by writing its status to EXIT_PORT: 0 = every check held, otherwise the number
 * of the check that failed (see each guest's CHECK lines).
 */
#ifndef TESTS_GUESTS_GUEST_H
#define TESTS_GUESTS_GUEST_H

#define GUEST_LOAD_ADDR  0x10000    /* = MX_KVM_LOAD_ADDR */
#define EXIT_PORT        0x501      /* = MX_KVM_EXIT_PORT */
#define TIMER_PORT       0x502      /* = MX_KVM_TIMER_PORT */
#define MSI_PORT         0x503      /* = MX_KVM_MSI_PORT */
#define DATA_AREA        0x40000    /* scratch RAM for buffers, below the stack */

#define COM1             0x3f8
#define COM1_LSR         (COM1 + 5)
#define COM1_SCRATCH     (COM1 + 7)
#define LSR_THRE         0x20

#define PCI_CONF_ADDR    0xcf8
#define PCI_CONF_DATA    0xcfc
#define PCI_CFG(dev, reg) (0x80000000 | ((dev) << 11) | (reg))

/* Fail with status `code` unless condition `cc` (e, ae, nz, ...) holds. */
#define FAIL_UNLESS(cc, code) \
    j##cc 9f;                 \
    mov $(code), %eax;        \
    jmp guest_exit;           \
9:

/* Fail with status `code` unless ZF is set (the last comparison found equality). */
#define FAIL_UNLESS_ZF(code) FAIL_UNLESS(e, code)

/* Fail with status `code` unless the two operands are equal. */
#define CHECK_EQ(a, b, code) \
    cmp a, b;                \
    FAIL_UNLESS_ZF(code)

#endif
