/* tests/guests/fail.S — exits with status 3 at once: mockxen must report a failure. */
#include "tests/guests/guest.h"

    .code32
    .text
    .globl _start
_start:
    mov $3, %eax
    jmp guest_exit
