/*
 * tests/guests/nulldm.S — proves the exits become ioreqs against mockxen's null device
 * model, which answers every read with 0x12345678 masked to the access size and never
 * touches guest memory: port reads of 1/2/4 bytes, a PCI config read (decoded by
 * mockxen from 0xcf8/0xcfc), MMIO reads of 1/2/4 bytes, writes, `rep outsb`, and a
 * `rep insb` whose buffer must come back unchanged (mockxen hands KVM what is in guest
 * RAM after the device model answered). Failure statuses 20-29.
 */
#include "tests/guests/guest.h"

#define MMIO_ADDR 0xfebf0000
#define STR_BUF   DATA_AREA

    .code32
    .text
    .globl _start
_start:
    mov $hello, %esi
    call uart_puts                  /* LSR reads 0x78: THRE set */

    mov $COM1, %dx
    inb %dx, %al
    CHECK_EQ($0x78, %al, 20)
    inw %dx, %ax
    CHECK_EQ($0x5678, %ax, 21)
    inl %dx, %eax
    CHECK_EQ($0x12345678, %eax, 22)
    mov $PCI_CFG(3, 0), %eax
    call pci_cfg_read
    CHECK_EQ($0x12345678, %eax, 23)

    movb MMIO_ADDR, %al
    CHECK_EQ($0x78, %al, 24)
    movw MMIO_ADDR + 2, %ax
    CHECK_EQ($0x5678, %ax, 25)
    movl MMIO_ADDR + 4, %eax
    CHECK_EQ($0x12345678, %eax, 26)
    movl $0xdeadbeef, MMIO_ADDR
    movw $0xbeef, MMIO_ADDR + 8
    movb $0xef, MMIO_ADDR + 10

    mov $hello, %esi
    mov $8, %ecx
    mov $COM1, %dx
    cld
    rep outsb

    mov $0xc3, %al                  /* rep insb: the null DM leaves memory alone */
    mov $STR_BUF, %edi
    mov $16, %ecx
    call fill_bytes
    mov $COM1, %dx
    rep insb
    mov $STR_BUF, %edi
    mov $16, %ecx
    call all_bytes_equal
    FAIL_UNLESS_ZF(27)

    xor %eax, %eax
    jmp guest_exit

    .section .rodata
hello:
    .asciz "hello from KVM guest\n"
