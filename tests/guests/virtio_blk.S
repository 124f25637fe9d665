/*
 * tests/guests/virtio_blk.S — a polling virtio 1.x block driver on virtio-mmio, for
 * xendm with --device virtio-blk,file=IMAGE (devices/virtio_blk.c, at VIRTIO_MMIO):
 * probe, negotiate VERSION_1 and FLUSH, read the capacity from the configuration
 * space, set up queue 0 in guest RAM with VIRTQ_AVAIL_F_NO_INTERRUPT, then write the
 * last BLK_SECTORS sectors of the disk in one request (every dword of a sector holds
 * that sector's number), flush, read them back into another buffer and compare, and
 * read one sector past the end (IOERR). Each request is waited for by polling the used
 * ring's index, for at most POLL_TSC_LIMIT TSC ticks (a bound in time: how fast the
 * loop spins depends on whether KVM runs the guest or emulates it). The UART gets the
 * capacity and the sectors written, so the test can check the image against them.
 * Failure statuses 20-39.
 */
#include "tests/guests/guest.h"

#define VIRTIO_MMIO        0xfeb01000
#define REG_MAGIC          0x000
#define REG_VERSION        0x004
#define REG_DEVICE_ID      0x008
#define REG_DEV_FEATURES   0x010
#define REG_DEV_FEAT_SEL   0x014
#define REG_DRV_FEATURES   0x020
#define REG_DRV_FEAT_SEL   0x024
#define REG_QUEUE_SEL      0x030
#define REG_QUEUE_NUM_MAX  0x034
#define REG_QUEUE_NUM      0x038
#define REG_QUEUE_READY    0x044
#define REG_QUEUE_NOTIFY   0x050
#define REG_INT_STATUS     0x060
#define REG_STATUS         0x070
#define REG_QUEUE_DESC     0x080            /* low dword; the high one follows */
#define REG_QUEUE_DRIVER   0x090
#define REG_QUEUE_DEVICE   0x0a0
#define REG_CONFIG         0x100            /* virtio-blk: capacity (le64) first */
#define MMIO(reg)          (VIRTIO_MMIO + (reg))

#define MAGIC_VIRT         0x74726976       /* "virt" */
#define DEVICE_ID_BLOCK    2
#define S_ACK_DRIVER       3                /* ACKNOWLEDGE | DRIVER */
#define S_FEATURES_OK      11               /* ... | FEATURES_OK */
#define S_DRIVER_OK        15               /* ... | DRIVER_OK */
#define F_FLUSH            (1 << 9)         /* bank 0 */
#define F_VERSION_1_HI     (1 << 0)         /* bank 1: feature bit 32 */

#define T_IN               0
#define T_OUT              1
#define T_FLUSH            4
#define BLK_S_OK           0
#define BLK_S_IOERR        1
#define STATUS_UNSET       0xff             /* a status byte the device never writes */

#define DESC_F_NEXT        1
#define DESC_F_WRITE       2
#define AVAIL_F_NO_INTERRUPT 1

/* Queue 0 and the request header and status live in one zeroed area. */
#define QUEUE_SIZE         8
#define RING_AREA          DATA_AREA
#define RING_AREA_LEN      0x400
#define DESC               (RING_AREA + 0x000)  /* 16 bytes each: addr, len, flags, next */
#define AVAIL              (RING_AREA + 0x100)  /* flags, idx, ring[QUEUE_SIZE] */
#define USED               (RING_AREA + 0x200)  /* flags, idx, {id, len}[QUEUE_SIZE] */
#define REQ_HDR            (RING_AREA + 0x300)  /* type, reserved, sector (le64) */
#define REQ_STATUS         (RING_AREA + 0x310)
#define DESC_ADDR(i)       (DESC + 16 * (i))
#define DESC_LEN(i)        (DESC + 16 * (i) + 8)
#define DESC_FLAGS(i)      (DESC + 16 * (i) + 12)
#define DESC_NEXT(i)       (DESC + 16 * (i) + 14)

#define SECTOR_SIZE        512
#define BLK_SECTORS        8
#define BUF_LEN            (BLK_SECTORS * SECTOR_SIZE)
#define WRITE_BUF          (DATA_AREA + 0x1000)
#define READ_BUF           (DATA_AREA + 0x2000)
#define POLL_TSC_LIMIT_HI  8                /* 8 << 32 ticks: 17 s at 2 GHz, 9 s at 4 */

    .code32
    .text
    .globl _start
_start:
    call probe_and_negotiate
    mov MMIO(REG_CONFIG + 4), %eax          /* capacity: below 2^32 sectors, */
    CHECK_EQ($0, %eax, 26)
    mov MMIO(REG_CONFIG), %ebp              /* EBP = capacity from here on */
    cmp $BLK_SECTORS, %ebp                  /* and room for the sectors written */
    FAIL_UNLESS(ae, 26)
    mov $capacity_msg, %esi
    call uart_puts
    mov %ebp, %eax
    call uart_puthex
    mov $capacity_end, %esi
    call uart_puts
    call setup_queue

    lea -BLK_SECTORS(%ebp), %ebx            /* EBX = the first sector written */
    mov %ebx, %eax                          /* every dword of sector s holds s */
    mov $WRITE_BUF, %edi
    cld
1:  mov $(SECTOR_SIZE / 4), %ecx
    rep stosl
    inc %eax
    cmp %ebp, %eax
    jb 1b
    mov $READ_BUF, %edi
    mov $BUF_LEN, %ecx
    mov $0xaa, %al
    call fill_bytes

    mov $T_OUT, %eax
    mov $WRITE_BUF, %edi
    mov $BUF_LEN, %ecx
    call blk_request
    CHECK_EQ($BLK_S_OK, %al, 31)
    CHECK_EQ($1, %ecx, 32)                  /* the device wrote the status byte only */

    mov $T_FLUSH, %eax
    xor %ecx, %ecx
    call blk_request
    CHECK_EQ($BLK_S_OK, %al, 33)
    CHECK_EQ($1, %ecx, 34)

    mov $T_IN, %eax
    mov $READ_BUF, %edi
    mov $BUF_LEN, %ecx
    call blk_request
    CHECK_EQ($BLK_S_OK, %al, 35)
    CHECK_EQ($(BUF_LEN + 1), %ecx, 36)      /* the data and the status byte */
    mov $WRITE_BUF, %esi
    mov $READ_BUF, %edi
    mov $(BUF_LEN / 4), %ecx
    cld
    repe cmpsl
    FAIL_UNLESS_ZF(37)

    push %ebx
    mov %ebp, %ebx                          /* one sector past the end */
    mov $T_IN, %eax
    mov $READ_BUF, %edi
    mov $SECTOR_SIZE, %ecx
    call blk_request
    CHECK_EQ($BLK_S_IOERR, %al, 38)
    pop %ebx

    mov MMIO(REG_INT_STATUS), %eax          /* NO_INTERRUPT: no used-buffer interrupt */
    CHECK_EQ($0, %eax, 39)

    mov $sectors_msg, %esi
    call uart_puts
    mov %ebx, %eax
    call uart_puthex
    mov $dash, %esi
    call uart_puts
    lea -1(%ebp), %eax
    call uart_puthex
    mov $done_msg, %esi
    call uart_puts
    xor %eax, %eax
    jmp guest_exit

/*
 * probe_and_negotiate: check the device is a virtio-mmio version 2 block device (20-22),
 * reset it, accept exactly VERSION_1 and FLUSH (23, 24 if not offered) and check the
 * device keeps FEATURES_OK (25).
 */
probe_and_negotiate:
    mov MMIO(REG_MAGIC), %eax
    CHECK_EQ($MAGIC_VIRT, %eax, 20)
    mov MMIO(REG_VERSION), %eax
    CHECK_EQ($2, %eax, 21)
    mov MMIO(REG_DEVICE_ID), %eax
    CHECK_EQ($DEVICE_ID_BLOCK, %eax, 22)
    movl $0, MMIO(REG_STATUS)
    movl $S_ACK_DRIVER, MMIO(REG_STATUS)

    movl $0, MMIO(REG_DEV_FEAT_SEL)
    mov MMIO(REG_DEV_FEATURES), %eax
    test $F_FLUSH, %eax
    FAIL_UNLESS(nz, 23)
    movl $1, MMIO(REG_DEV_FEAT_SEL)
    mov MMIO(REG_DEV_FEATURES), %eax
    test $F_VERSION_1_HI, %eax
    FAIL_UNLESS(nz, 24)
    movl $0, MMIO(REG_DRV_FEAT_SEL)
    movl $F_FLUSH, MMIO(REG_DRV_FEATURES)
    movl $1, MMIO(REG_DRV_FEAT_SEL)
    movl $F_VERSION_1_HI, MMIO(REG_DRV_FEATURES)

    movl $S_FEATURES_OK, MMIO(REG_STATUS)
    mov MMIO(REG_STATUS), %eax
    CHECK_EQ($S_FEATURES_OK, %eax, 25)
    ret

/*
 * setup_queue: queue 0 with QUEUE_SIZE entries in the zeroed RING_AREA (27 if the
 * device offers fewer), DRIVER_OK (28 if the device does not keep it), no interrupts
 * wanted, and the descriptors every request shares: 0 = header, 2 = status.
 */
setup_queue:
    mov $RING_AREA, %edi
    mov $RING_AREA_LEN, %ecx
    xor %eax, %eax
    call fill_bytes
    movl $0, MMIO(REG_QUEUE_SEL)
    mov MMIO(REG_QUEUE_NUM_MAX), %eax
    cmp $QUEUE_SIZE, %eax
    FAIL_UNLESS(ae, 27)
    movl $QUEUE_SIZE, MMIO(REG_QUEUE_NUM)
    movl $DESC, MMIO(REG_QUEUE_DESC)
    movl $0, MMIO(REG_QUEUE_DESC + 4)
    movl $AVAIL, MMIO(REG_QUEUE_DRIVER)
    movl $0, MMIO(REG_QUEUE_DRIVER + 4)
    movl $USED, MMIO(REG_QUEUE_DEVICE)
    movl $0, MMIO(REG_QUEUE_DEVICE + 4)
    movl $1, MMIO(REG_QUEUE_READY)
    movl $S_DRIVER_OK, MMIO(REG_STATUS)
    mov MMIO(REG_STATUS), %eax
    CHECK_EQ($S_DRIVER_OK, %eax, 28)

    movw $AVAIL_F_NO_INTERRUPT, AVAIL
    movl $REQ_HDR, DESC_ADDR(0)
    movl $16, DESC_LEN(0)
    movw $DESC_F_NEXT, DESC_FLAGS(0)
    movl $REQ_STATUS, DESC_ADDR(2)
    movl $1, DESC_LEN(2)
    movw $DESC_F_WRITE, DESC_FLAGS(2)
    ret

/*
 * blk_request: make one request, the chain header → data → status (header → status
 * if ECX = 0), and wait for its used entry (29 on timeout, 30 if the entry names
 * another chain). EAX = type, EBX = sector, EDI = the data buffer, ECX = its length.
 * Returns AL = the status byte, ECX = the length the used entry reports.
 */
blk_request:
    push %ebx
    push %edx
    mov %eax, REQ_HDR
    movl $0, REQ_HDR + 4
    mov %ebx, REQ_HDR + 8
    movl $0, REQ_HDR + 12
    movb $STATUS_UNSET, REQ_STATUS
    movw $2, DESC_NEXT(0)
    test %ecx, %ecx
    jz 1f
    movw $1, DESC_NEXT(0)
    mov %edi, DESC_ADDR(1)
    movl $0, DESC_ADDR(1) + 4
    mov %ecx, DESC_LEN(1)
    movw $2, DESC_NEXT(1)
    movw $DESC_F_NEXT, DESC_FLAGS(1)
    cmp $T_IN, %eax
    jne 1f
    movw $(DESC_F_NEXT | DESC_F_WRITE), DESC_FLAGS(1)  /* the device writes the data */

1:  movzwl AVAIL + 2, %ebx                  /* publish chain 0, then the new index */
    mov %ebx, %edx
    and $(QUEUE_SIZE - 1), %edx
    movw $0, AVAIL + 4(,%edx,2)
    inc %ebx
    mov %bx, AVAIL + 2
    movl $0, MMIO(REG_QUEUE_NOTIFY)
    call wait_used

    dec %ebx
    and $(QUEUE_SIZE - 1), %ebx
    mov USED + 4(,%ebx,8), %eax
    CHECK_EQ($0, %eax, 30)
    mov USED + 8(,%ebx,8), %ecx
    movzbl REQ_STATUS, %eax
    pop %edx
    pop %ebx
    ret

/* wait_used: spin until the used ring's index equals BX; 29 after POLL_TSC_LIMIT_HI << 32
 * TSC ticks. Clobbers EAX, EDX. */
wait_used:
    push %esi
    push %edi
    rdtsc
    mov %eax, %esi
    mov %edx, %edi
1:  cmp %bx, USED + 2
    je 2f
    pause
    rdtsc
    sub %esi, %eax
    sbb %edi, %edx
    cmp $POLL_TSC_LIMIT_HI, %edx
    jb 1b
    mov $29, %eax
    jmp guest_exit
2:  pop %edi
    pop %esi
    ret

    .section .rodata
capacity_msg:
    .asciz "virtio-blk capacity "
sectors_msg:
    .asciz "virtio-blk sectors "
dash:
    .asciz "-"
done_msg:
    .asciz " written, flushed, read back\n"
capacity_end:
    .asciz " sectors\n"
