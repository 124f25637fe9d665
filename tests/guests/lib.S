/*
 * tests/guests/lib.S — helpers for the KVM test guests (guest.h). Arguments and
 * results in registers; every helper preserves the registers it does not return in,
 * except EDX (the port register).
 */
#include "tests/guests/guest.h"

    .code32
    .text

/* uart_putc: send AL through COM1 once the transmit holding register is empty. */
    .globl uart_putc
uart_putc:
    push %eax
    mov $COM1_LSR, %dx
1:  inb %dx, %al
    test $LSR_THRE, %al
    jz 1b
    pop %eax
    mov $COM1, %dx
    outb %al, %dx
    ret

/* uart_puts: send the NUL-terminated string at ESI. */
    .globl uart_puts
uart_puts:
    push %eax
    push %esi
1:  lodsb
    test %al, %al
    jz 2f
    call uart_putc
    jmp 1b
2:  pop %esi
    pop %eax
    ret

/* uart_puthex: send EAX as 0x and eight hex digits. */
    .globl uart_puthex
uart_puthex:
    push %eax
    push %ebx
    push %ecx
    mov %eax, %ebx
    mov $'0', %al
    call uart_putc
    mov $'x', %al
    call uart_putc
    mov $8, %ecx
1:  rol $4, %ebx                /* the next nibble, most significant first */
    mov %bl, %al
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $('a' - '9' - 1), %al
2:  call uart_putc
    loop 1b
    pop %ecx
    pop %ebx
    pop %eax
    ret

/* guest_exit: end the run with status EAX. Never returns. */
    .globl guest_exit
guest_exit:
    mov $EXIT_PORT, %dx
    outl %eax, %dx
    hlt                         /* mockxen stops at the exit port: never reached */
    jmp guest_exit

/* pci_cfg_read: EAX = PCI_CFG(dev, reg) -> EAX = the config dword. */
    .globl pci_cfg_read
pci_cfg_read:
    mov $PCI_CONF_ADDR, %dx
    outl %eax, %dx
    mov $PCI_CONF_DATA, %dx
    inl %dx, %eax
    ret

/* pci_cfg_write: EAX = PCI_CFG(dev, reg), ECX = the dword to write. */
    .globl pci_cfg_write
pci_cfg_write:
    push %eax
    mov $PCI_CONF_ADDR, %dx
    outl %eax, %dx
    mov $PCI_CONF_DATA, %dx
    mov %ecx, %eax
    outl %eax, %dx
    pop %eax
    ret

/* fill_bytes: ECX bytes at EDI get AL (direction forward). */
    .globl fill_bytes
fill_bytes:
    push %ecx
    push %edi
    cld
    rep stosb
    pop %edi
    pop %ecx
    ret

/* all_bytes_equal: ZF set if the ECX bytes at EDI all equal AL. */
    .globl all_bytes_equal
all_bytes_equal:
    push %ecx
    push %edi
    cld
    repe scasb
    pop %edi
    pop %ecx
    ret
