/*
 * tests/guests/pio_bench.S — PIO_ITERATIONS one-byte writes to the UART scratch
 * register, timed by mockxen between two writes to TIMER_PORT: a benchmark row of the
 * mean round trip of a KVM port exit through the device model.
 */
#include "tests/guests/guest.h"

#ifndef PIO_ITERATIONS
#define PIO_ITERATIONS 20000
#endif

    .code32
    .text
    .globl _start
_start:
    mov $PIO_ITERATIONS, %eax
    mov $TIMER_PORT, %dx
    outl %eax, %dx
    mov $PIO_ITERATIONS, %ecx
    mov $COM1_SCRATCH, %dx
    mov $0x55, %al
1:  outb %al, %dx
    dec %ecx
    jnz 1b
    xor %eax, %eax
    mov $TIMER_PORT, %dx
    outl %eax, %dx
    jmp guest_exit
