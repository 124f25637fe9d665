/*
 * tests/guests/uart_checks.S — the UART part every device-model guest runs: a greeting
 * through the transmit register (polling LSR), a `rep outsb`, and string reads of the
 * scratch register in both directions, checked byte by byte. Needs a 16550 at COM1
 * (xendm, QEMU). Failure statuses 1-9.
 */
#include "tests/guests/guest.h"

    .code32
    .text

#define FWD_BUF  DATA_AREA              /* 32 bytes: 16 read forwards, 16 untouched */
#define BACK_BUF (DATA_AREA + 0x100)    /* 32 bytes: [8,24) read backwards */

/* uart_checks: returns if every check held, else exits with the failed check. */
    .globl uart_checks
uart_checks:
    mov $hello, %esi
    call uart_puts

    mov $rep_msg, %esi              /* string output: one exit per byte on KVM */
    mov $rep_len, %ecx
    mov $COM1, %dx
    cld
    rep outsb

    mov $COM1_SCRATCH, %dx          /* a plain write and read of the scratch register */
    mov $0x5a, %al
    outb %al, %dx
    inb %dx, %al
    CHECK_EQ($0x5a, %al, 1)

    xor %eax, %eax                  /* rep insb forwards: data_is_ptr, df = 0 */
    mov $FWD_BUF, %edi
    mov $32, %ecx
    call fill_bytes
    mov $16, %ecx
    mov $COM1_SCRATCH, %dx
    rep insb
    mov $FWD_BUF, %edi
    mov $0x5a, %al
    call all_bytes_equal
    FAIL_UNLESS_ZF(2)
    xor %eax, %eax
    mov $FWD_BUF + 16, %edi
    mov $16, %ecx
    call all_bytes_equal
    FAIL_UNLESS_ZF(3)

    mov $COM1_SCRATCH, %dx          /* rep insb backwards: df = 1 */
    mov $0xa5, %al
    outb %al, %dx
    xor %eax, %eax
    mov $BACK_BUF, %edi
    mov $32, %ecx
    call fill_bytes
    mov $BACK_BUF + 23, %edi
    mov $16, %ecx
    std
    rep insb
    cld
    CHECK_EQ($BACK_BUF + 7, %edi, 4) /* the CPU stepped EDI down past 16 bytes */
    mov $BACK_BUF + 8, %edi
    mov $16, %ecx
    mov $0xa5, %al
    call all_bytes_equal
    FAIL_UNLESS_ZF(5)
    xor %eax, %eax
    mov $BACK_BUF, %edi
    mov $8, %ecx
    call all_bytes_equal
    FAIL_UNLESS_ZF(6)
    mov $BACK_BUF + 24, %edi
    call all_bytes_equal
    FAIL_UNLESS_ZF(6)
    ret

    .section .rodata
hello:
    .asciz "hello from KVM guest\n"
rep_msg:
    .ascii "rep outsb through the UART\n"
    .set rep_len, . - rep_msg
