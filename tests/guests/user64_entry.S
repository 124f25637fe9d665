/*
 * tests/guests/user64_entry.S — the start of a 64-bit user-mode KVM guest (user64.h):
 * from mockxen's 32-bit entry state it switches to long mode and runs guest_main() in
 * ring 3 with IOPL 3, then writes its return value to the exit port.
 *
 * Why ring 3: under nested KVM, guest ring-0 code is emulated one instruction at a
 * time (about a million a second) while 64-bit ring-3 code runs natively, so the
 * ring-0 part here is a few thousand instructions and everything else runs in ring 3.
 * IOPL 3 lets ring 3 use in/out; the pages are user pages, so ring 3 reaches RAM and
 * MMIO alike.
 *
 * Memory: 4-level page tables in low RAM (PAGE_TABLES: PML4, one PDPT, four page
 * directories) identity-map the first 4 GiB with 2 MiB pages, present, writable and
 * user (the guest's RAM and the PCI hole above MX_KVM_MMIO_HOLE). The GDT holds 64-bit
 * code and data segments for rings 0 and 3; no IDT and no TSS: the guest runs with
 * interrupts off and an exception is a triple fault, which mockxen reports with the
 * instruction pointer. guest_main gets the stack below GUEST_STACK_TOP (16-byte aligned
 * at the call, as the ABI wants). .bss is zeroed before guest_main runs.
 *
 * Linked first (tests/guests/user64.ld puts .text.entry at the load address).
 */
#include "tests/guests/guest.h"

#define PAGE_TABLES     0x1000          /* 0x1000 PML4, 0x2000 PDPT, 0x3000-0x6fff PDs */
#define PML4            (PAGE_TABLES)
#define PDPT            (PAGE_TABLES + 0x1000)
#define PD              (PAGE_TABLES + 0x2000)
#define PAGE_TABLES_LEN 0x6000
#define PT_P_RW_US      0x7             /* present, writable, user */
#define PT_PS           0x80            /* a 2 MiB page */
#define GUEST_STACK_TOP 0x9f000         /* = MX_KVM_STACK_TOP */

#define CR0_PG          0x80000000
#define CR4_PAE         0x20
#define MSR_EFER        0xc0000080
#define EFER_LME        0x100
#define RFLAGS_IOPL3    0x3002          /* IOPL 3, reserved bit 1; IF off */

#define SEL_KCODE       0x08
#define SEL_KDATA       0x10
#define SEL_UDATA       (0x18 | 3)
#define SEL_UCODE       (0x20 | 3)

    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    cld
    mov $__bss_start, %edi              /* .bss is not in the flat image */
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    mov $PAGE_TABLES, %edi
    mov $(PAGE_TABLES_LEN / 4), %ecx
    rep stosl
    movl $(PDPT | PT_P_RW_US), PML4
    mov $PDPT, %edi                     /* four PDPT entries, one per GiB */
    mov $(PD | PT_P_RW_US), %eax
    mov $4, %ecx
1:  mov %eax, (%edi)
    add $0x1000, %eax
    add $8, %edi
    loop 1b
    mov $PD, %edi                       /* 2048 entries of 2 MiB: 0 .. 4 GiB */
    mov $(PT_P_RW_US | PT_PS), %eax
    mov $2048, %ecx
2:  mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 2b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $PML4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    or $CR0_PG, %eax
    mov %eax, %cr0
    lgdt gdt_pointer
    ljmp $SEL_KCODE, $long_mode

    .code64
long_mode:
    mov $SEL_KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    pushq $SEL_UDATA                    /* iretq's frame: SS, RSP, RFLAGS, CS, RIP */
    pushq $GUEST_STACK_TOP
    pushq $RFLAGS_IOPL3
    pushq $SEL_UCODE
    pushq $user_mode
    iretq

user_mode:
    call guest_main
    mov $EXIT_PORT, %dx
    out %eax, %dx
3:  jmp 3b                              /* mockxen stops at the exit port */

    .section .rodata
    .balign 8
gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* ring 0 code, 64-bit */
    .quad 0x00cf92000000ffff            /* ring 0 data */
    .quad 0x00cff2000000ffff            /* ring 3 data */
    .quad 0x00affa000000ffff            /* ring 3 code, 64-bit */
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .long gdt

    .section .note.GNU-stack, "", @progbits
