/*
 * tests/guests/uart.S — the UART-only guest, for any device model with a 16550 at
 * COM1 (xendm, QEMU): uart_checks, a last line, exit 0.
 */
#include "tests/guests/guest.h"

    .code32
    .text
    .globl _start
_start:
    call uart_checks
    mov $bye, %esi
    call uart_puts
    xor %eax, %eax
    jmp guest_exit

    .section .rodata
bye:
    .asciz "uart guest done\n"
