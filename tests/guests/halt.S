/* tests/guests/halt.S — halts without writing the exit port: mockxen must say so. */
    .code32
    .text
    .globl _start
_start:
    cli
    hlt
