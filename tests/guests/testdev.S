/*
 * tests/guests/testdev.S — the xendm guest: uart_checks, then the PCI test device
 * (devices/pci_testdev.c) found by scanning bus 0 through 0xcf8/0xcfc, BAR0 placed at
 * TESTDEV_BAR, and a DMA of a byte pattern guest RAM -> device buffer -> other guest
 * RAM, compared byte by byte. Failure statuses 10-19.
 */
#include "tests/guests/guest.h"

#define TESTDEV_ID    0x10ed1234        /* device:vendor */
#define TESTDEV_BAR   0xe0000000        /* above the guest's RAM, like pci-testdev.gs */
#define REG_ID        0x00
#define REG_SCRATCH   0x04
#define REG_STATUS    0x08
#define REG_DMA_SRC   0x10
#define REG_DMA_DST   0x18
#define REG_DMA_COUNT 0x20
#define REG_DMA_CMD   0x28
#define REG_BUFFER    0x1000
#define DMA_LEN       64
#define SRC_BUF       (DATA_AREA + 0x1000)
#define DST_BUF       (DATA_AREA + 0x2000)

/* Write a 64-bit testdev register as two aligned 32-bit halves. */
#define TESTDEV_W64(reg, value) \
    movl $(value), TESTDEV_BAR + (reg); \
    movl $0, TESTDEV_BAR + (reg) + 4

    .code32
    .text
    .globl _start
_start:
    call uart_checks

    xor %ebx, %ebx                  /* EBX = config address of the device */
1:  mov %ebx, %eax
    or $PCI_CFG(0, 0), %eax
    call pci_cfg_read
    cmp $TESTDEV_ID, %eax
    je 2f
    add $(1 << 11), %ebx
    cmp $(32 << 11), %ebx
    jb 1b
    mov $10, %eax                   /* not on bus 0 */
    jmp guest_exit
2:  or $PCI_CFG(0, 0), %ebx

    lea 0x10(%ebx), %eax            /* BAR0 */
    mov $TESTDEV_BAR, %ecx
    call pci_cfg_write
    call pci_cfg_read
    and $0xfffffff0, %eax
    CHECK_EQ($TESTDEV_BAR, %eax, 11)
    lea 0x04(%ebx), %eax            /* command: memory space + bus master */
    mov $0x0006, %ecx
    call pci_cfg_write

    mov TESTDEV_BAR + REG_ID, %eax
    CHECK_EQ($0x010000ed, %eax, 12)
    movl $0xcafef00d, TESTDEV_BAR + REG_SCRATCH
    mov TESTDEV_BAR + REG_SCRATCH, %eax
    CHECK_EQ($0xcafef00d, %eax, 13)

    mov $SRC_BUF, %edi              /* source pattern: byte i = i * 7 + 3 */
    xor %ecx, %ecx
3:  lea 3(%ecx,%ecx,2), %eax
    lea (%eax,%ecx,4), %eax
    mov %al, (%edi,%ecx)
    inc %ecx
    cmp $DMA_LEN, %ecx
    jb 3b
    mov $DST_BUF, %edi
    mov $DMA_LEN, %ecx
    xor %eax, %eax
    call fill_bytes

    TESTDEV_W64(REG_DMA_SRC, SRC_BUF)   /* guest RAM -> device buffer */
    TESTDEV_W64(REG_DMA_DST, 0)
    TESTDEV_W64(REG_DMA_COUNT, DMA_LEN)
    movl $1, TESTDEV_BAR + REG_DMA_CMD
    mov TESTDEV_BAR + REG_STATUS, %eax
    and $3, %eax
    CHECK_EQ($1, %eax, 14)
    mov TESTDEV_BAR + REG_BUFFER, %eax
    CHECK_EQ(SRC_BUF, %eax, 15)     /* first dword of the buffer = of the source */

    TESTDEV_W64(REG_DMA_SRC, 0)         /* device buffer -> other guest RAM */
    TESTDEV_W64(REG_DMA_DST, DST_BUF)
    movl $3, TESTDEV_BAR + REG_DMA_CMD
    mov TESTDEV_BAR + REG_STATUS, %eax
    and $3, %eax
    CHECK_EQ($1, %eax, 16)

    mov $SRC_BUF, %esi              /* what the device wrote is visible to the vCPU */
    mov $DST_BUF, %edi
    mov $DMA_LEN, %ecx
    cld
    repe cmpsb
    FAIL_UNLESS_ZF(17)

    mov $dma_ok, %esi
    call uart_puts
    xor %eax, %eax
    jmp guest_exit

    .section .rodata
dma_ok:
    .asciz "testdev DMA ok\n"
