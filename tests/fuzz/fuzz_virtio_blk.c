/*
 * tests/fuzz/fuzz_virtio_blk.c — a hostile virtio driver against the virtio block
 * device (devices/virtio_blk.c on virtio-mmio, over block/).
 *
 * The input is a program for a driver. Its first byte picks one of four disks (both
 * I/O engines; queue sizes from 8 to 1024; write-back, write-through and O_DIRECT
 * caching; one read-only; images on a disk filesystem and on tmpfs, which has no
 * in-place zeroing) and whether the device is brought up before the program
 * runs. Then come actions, each an opcode byte and its operands (operands past the
 * end of the input read as zero): raw bytes into guest RAM; descriptors and avail
 * entries; whole request chains built from the bytes (any type, sector and framing,
 * data anywhere, direct or through an indirect table); feature negotiation with any
 * bits; queue setup with any size and ring addresses (in RAM, across its end, over
 * MMIO and ROM, wrapping past 2^64); notifications of any queue; resets with requests
 * in flight; configuration and register accesses of every width (the writeback byte
 * too); interrupt acknowledgements; turns of the event loop.
 *
 * After the program the harness serves what is ready, then resets the device, which
 * waits for whatever is still in flight: every request completes within its input,
 * and the next input starts from a reset device and zeroed RAM (the images keep their
 * contents, as a disk does).
 *
 * Checked besides the sanitizers: the device reaches nothing but guest RAM (RAM is a
 * heap buffer, so ASan sees the host side; an MMIO tripwire right after it aborts on
 * any access; a ROM must keep its contents), the images never change size, and the
 * read-only one is never written (its mtime stays).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "memory/memory.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/support.h"
#include "util/log.h"
#include "util/macros.h"

/* Guest physical layout. */
#define RAM_SIZE        0x40000u        /* 256 KiB of RAM at 0 */
#define RINGS_AT        0x0u            /* bring-up queue q's rings at q * RING_STRIDE */
#define RING_STRIDE     0x8000u         /* descriptors, avail at +0x4000, used at +0x5000 */
#define HEAP_AT         0x10000u        /* headers, data, tables: a wrapping allocator */
#define TRIPWIRE_AT     RAM_SIZE        /* right after RAM: no access allowed */
#define TRIPWIRE_SIZE   0x10000u
#define ROM_AT          (TRIPWIRE_AT + TRIPWIRE_SIZE)
#define ROM_SIZE        0x1000u
#define ROM_BYTE        0xa5
#define HOLE_AT         0x20000000u     /* nothing there */
#define DISK_AT         0x10000000u     /* disk d's registers at DISK_AT + d * 0x1000 */
#define NR_DISKS        4
#define MODEL_QUEUES    2               /* queues the driver model tracks */
#define MAX_CHAIN       8               /* data buffers of a built chain */
#define MAX_WAITS       4               /* serve actions that may wait, per input */
#define WAIT_US         200             /* for I/O: page-cache I/O takes microseconds */

/* virtio-mmio registers (devices/virtio_mmio.c). */
enum {
    R_DEVICE_FEATURES = 0x010, R_DEVICE_FEATURES_SEL = 0x014, R_DRIVER_FEATURES = 0x020,
    R_DRIVER_FEATURES_SEL = 0x024, R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034,
    R_QUEUE_NUM = 0x038, R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050,
    R_INTERRUPT_STATUS = 0x060, R_INTERRUPT_ACK = 0x064, R_STATUS = 0x070,
    R_QUEUE_DESC = 0x080, R_QUEUE_DRIVER = 0x090, R_QUEUE_DEVICE = 0x0a0, R_CONFIG = 0x100,
    R_REGION = 0x200,
};
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 64 };
#define F_VERSION_1     (1ull << 32)
#define F_RO            (1ull << 5)
enum { D_NEXT = 1, D_WRITE = 2, D_INDIRECT = 4 };
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13 };
#define CFG_NUM_QUEUES  34
#define CFG_WRITEBACK   32
#define SECTORS         (FUZZ_IMAGE_BYTES / 512)

/* The disks: what varies is the engine, the queues, caching, read-only and the
 * filesystem under the image. */
static const struct {
    const char *opts, *fallback;    /* fallback: where the host has no O_DIRECT */
    enum fuzz_image_fs fs;
} disk_opts[NR_DISKS] = {
    { "num-queues=2,queue-size=1024,serial=fuzz-serial-longer-than-20", NULL,
      FUZZ_IMAGE_TMP },
    { "aio=threads,queue-size=8,cache=writethrough,discard=ignore", NULL, FUZZ_IMAGE_TMPFS },
    { "queue-size=64,cache=none", "queue-size=64", FUZZ_IMAGE_TMP },
    { "aio=threads,queue-size=16,readonly=on", NULL, FUZZ_IMAGE_TMPFS },
};

typedef struct Disk {
    Device *dev;
    uint64_t base;
    unsigned nr_queues;
    uint16_t queue_max;
    bool readonly;
    int image_fd;
    struct timespec mtime;          /* read-only: what it must stay */
} Disk;

typedef struct Machine {
    MemoryRegion root, ram, tripwire, rom;
    AddressSpace as;
    uint8_t *ram_ptr, *rom_ptr;
    IrqRouter irq;
    DeviceBoard board;
    DeviceWorkQueue work;
    DeviceLoop loop;
    Disk disks[NR_DISKS];
} Machine;

/* The driver's view of a queue: where it put the rings and what it posted. */
typedef struct DriverQueue {
    uint16_t num, avail_idx, next_desc;
    uint64_t desc, avail, used;
} DriverQueue;

typedef struct Driver {
    Machine *m;
    Disk *disk;
    const uint8_t *in;              /* the rest of the input */
    size_t left;
    DriverQueue q[MODEL_QUEUES];
    unsigned sel;                   /* the queue chains go to */
    uint64_t heap;                  /* next free byte of the allocator */
    unsigned waits;
} Driver;

/* ---- the machine ------------------------------------------------------------------ */

static int irq_isa(void *opaque, unsigned irq, bool level) { return 0; }

static uint64_t tripwire_read(void *opaque, hwaddr addr, unsigned size)
{
    fprintf(stderr, "fuzz_virtio_blk: a %u-byte read at RAM end + 0x%llx\n", size,
            (unsigned long long)addr);
    abort();
}

static void tripwire_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    fprintf(stderr, "fuzz_virtio_blk: a %u-byte write at RAM end + 0x%llx\n", size,
            (unsigned long long)addr);
    abort();
}

static const MemoryRegionOps tripwire_ops = {
    .read = tripwire_read, .write = tripwire_write, .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
};

static uint32_t reg_read(Machine *m, uint64_t addr)
{
    return address_space_ldl_le(&m->as, addr, MEMTXATTRS_UNSPECIFIED, NULL);
}

static void reg_write(Machine *m, uint64_t addr, uint32_t val)
{
    address_space_stl_le(&m->as, addr, val, MEMTXATTRS_UNSPECIFIED, NULL);
}

/* Create disk d and learn its queues and read-only bit from its registers. */
static void create_disk(Machine *m, unsigned d)
{
    static const unsigned irqs[NR_DISKS] = { 5, 6, 7, 9 };
    Disk *disk = &m->disks[d];
    char spec[2][256];
    const char *opts[2] = { disk_opts[d].opts, disk_opts[d].fallback };
    disk->base = DISK_AT + 0x1000ull * d;
    for (unsigned i = 0; i < 2 && opts[i]; i++)
        snprintf(spec[i], sizeof(spec[i]), "virtio-blk,addr=0x%llx,irq=%u,%s",
                 (unsigned long long)disk->base, irqs[d], opts[i]);
    disk->dev = fuzz_create_blk(&m->board, spec[0], opts[1] ? spec[1] : NULL,
                                disk_opts[d].fs, &disk->image_fd);
    reg_write(m, disk->base + R_QUEUE_SEL, 0);
    disk->queue_max = (uint16_t)reg_read(m, disk->base + R_QUEUE_NUM_MAX);
    disk->nr_queues = address_space_lduw_le(&m->as, disk->base + R_CONFIG + CFG_NUM_QUEUES,
                                            MEMTXATTRS_UNSPECIFIED, NULL);
    reg_write(m, disk->base + R_DEVICE_FEATURES_SEL, 0);
    disk->readonly = reg_read(m, disk->base + R_DEVICE_FEATURES) & F_RO;
    struct stat st;
    if (fstat(disk->image_fd, &st) < 0)
        abort();
    disk->mtime = st.st_mtim;
}

/* Built once: creating disks (io_uring rings, thread pools) is too slow per input. */
static Machine *machine(void)
{
    static Machine m;
    static bool ready;
    if (ready)
        return &m;
    log_set_level(LOG_SILENT);
    memory_region_init(&m.root, "/machine", "system", UINT64_MAX);
    m.ram_ptr = aligned_alloc(4096, RAM_SIZE);
    memory_region_init_io(&m.tripwire, "/machine", &tripwire_ops, NULL, "tripwire",
                          TRIPWIRE_SIZE);
    if (!m.ram_ptr ||
        memory_region_init_ram_ptr(&m.ram, "/machine", "ram", RAM_SIZE, m.ram_ptr, NULL) < 0 ||
        memory_region_init_rom(&m.rom, "/machine", "rom", ROM_SIZE, NULL) < 0 ||
        memory_region_add_subregion(&m.root, 0, &m.ram, NULL) < 0 ||
        memory_region_add_subregion(&m.root, TRIPWIRE_AT, &m.tripwire, NULL) < 0 ||
        memory_region_add_subregion(&m.root, ROM_AT, &m.rom, NULL) < 0 ||
        address_space_init(&m.as, &m.root, "memory", NULL) < 0)
        abort();
    m.rom_ptr = memory_region_get_ram_ptr(&m.rom);
    memset(m.rom_ptr, ROM_BYTE, ROM_SIZE);
    m.irq = (IrqRouter){ .set_isa_irq = irq_isa };
    device_work_queue_init(&m.work);
    m.loop = (DeviceLoop){ .work = &m.work };
    m.board = (DeviceBoard){ .system_memory = &m.root, .dma_as = &m.as, .irq = &m.irq,
                             .loop = &m.loop };
    for (unsigned d = 0; d < NR_DISKS; d++)
        create_disk(&m, d);
    ready = true;
    return &m;
}

/* ---- reading the input ------------------------------------------------------------ */

/* The next `bytes` (up to 8) bytes as a little-endian number; zeroes past the end. */
static uint64_t take(Driver *d, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && d->left; i++, d->left--)
        v |= (uint64_t)*d->in++ << (8 * i);
    return v;
}

static uint8_t take8(Driver *d) { return (uint8_t)take(d, 1); }
static uint16_t take16(Driver *d) { return (uint16_t)take(d, 2); }
static uint32_t take32(Driver *d) { return (uint32_t)take(d, 4); }

/* ---- guest memory as the driver writes it ----------------------------------------- */

/* v as `bytes` little-endian bytes at p. */
static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The driver writes its own RAM; what it aims elsewhere goes nowhere. */
static void guest_put(Driver *d, uint64_t addr, const void *buf, size_t len)
{
    if (addr < RAM_SIZE && len <= RAM_SIZE - addr)
        memcpy(d->m->ram_ptr + addr, buf, len);
}

/* A 16-bit field of the driver's RAM (addr + 2 inside it). */
static uint16_t guest_get16(Driver *d, uint64_t addr)
{
    const uint8_t *p = d->m->ram_ptr + addr;
    return (uint16_t)(p[0] | p[1] << 8);
}

static void guest_put16(Driver *d, uint64_t addr, uint16_t v)
{
    uint8_t b[2];
    put_le(b, v, sizeof(b));
    guest_put(d, addr, b, sizeof(b));
}

/* len bytes of the heap, `align`-aligned (a power of two); it wraps when full. */
static uint64_t alloc(Driver *d, uint64_t len, uint64_t align)
{
    d->heap = (d->heap + align - 1) & ~(align - 1);
    if (len > RAM_SIZE - HEAP_AT)
        len = RAM_SIZE - HEAP_AT;
    if (d->heap < HEAP_AT || d->heap + len > RAM_SIZE)
        d->heap = HEAP_AT;
    uint64_t at = d->heap;
    d->heap += len;
    return at;
}

/* Somewhere that is not RAM, or only partly. */
static uint64_t odd_place(Driver *d, uint8_t how)
{
    switch (how % 6) {
    case 0:  return TRIPWIRE_AT + take16(d) % TRIPWIRE_SIZE;
    case 1:  return ROM_AT + take16(d) % ROM_SIZE;
    case 2:  return d->disk->base + take16(d) % R_REGION;       /* the device itself */
    case 3:  return HOLE_AT + take16(d);
    case 4:  return RAM_SIZE - 1 - take8(d);                    /* across RAM's end */
    default: return UINT64_MAX - take8(d);                      /* wraps past 2^64 */
    }
}

/* Where a buffer of len bytes goes: mostly fresh heap, else anywhere at all. */
static uint64_t take_addr(Driver *d, uint64_t len)
{
    uint8_t how = take8(d);
    switch (how >> 5) {
    case 0: case 1: case 2:
        return alloc(d, len, 512);
    case 3:
        return alloc(d, len + 16, 8) + (how & 15);                /* misaligned */
    case 4:
        return take32(d) % RAM_SIZE;
    case 5: case 6:
        return odd_place(d, how);
    default:
        return take(d, 8);
    }
}

/* A data length: mostly whole sectors. */
static uint32_t take_len(Driver *d)
{
    uint8_t how = take8(d);
    switch (how >> 6) {
    case 0: case 1: return ((how & 63) + 1) * 512u;
    case 2:         return take16(d);
    default:        return take32(d);
    }
}

/* A sector: near the start, near the end, anywhere on the disk, anything. */
static uint64_t take_sector(Driver *d)
{
    uint8_t how = take8(d);
    switch (how >> 6) {
    case 0:  return how & 63;
    case 1:  return SECTORS - 1 - (how & 63);
    case 2:  return take16(d) % SECTORS;
    default: return take(d, 8);
    }
}

/* ---- the driver's queues ---------------------------------------------------------- */

typedef struct Buf {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;                 /* D_WRITE and, rarely, anything */
} Buf;

static void put_desc(Driver *d, uint64_t at, const Buf *b, uint16_t flags, uint16_t next)
{
    uint8_t desc[16];
    put_le(desc, b->addr, 8);
    put_le(desc + 8, b->len, 4);
    put_le(desc + 12, b->flags | flags, 2);
    put_le(desc + 14, next, 2);
    guest_put(d, at, desc, sizeof(desc));
}

/* Make head the next available entry of q and publish it. */
static void publish(Driver *d, DriverQueue *q, uint16_t head)
{
    guest_put16(d, q->avail + 4 + 2ull * (q->avail_idx % q->num), head);
    q->avail_idx++;
    guest_put16(d, q->avail + 2, q->avail_idx);
}

/* Post bufs as one chain on q: in the ring's descriptors (round robin), or in an
 * indirect table that one ring descriptor points at. */
static void post(Driver *d, DriverQueue *q, const Buf *bufs, unsigned n, bool indirect)
{
    if (!q->num || !n)
        return;
    uint16_t head = q->next_desc % q->num;
    if (indirect) {
        uint64_t table = take8(d) < 240 ? alloc(d, 16ull * n, 16) : odd_place(d, take8(d));
        for (unsigned i = 0; i < n; i++)
            put_desc(d, table + 16ull * i, &bufs[i], i + 1 < n ? D_NEXT : 0, (uint16_t)(i + 1));
        Buf t = { .addr = table, .len = 16 * n, .flags = D_INDIRECT };
        put_desc(d, q->desc + 16ull * head, &t, 0, 0);
        q->next_desc = (uint16_t)((head + 1) % q->num);
    } else {
        for (unsigned i = 0; i < n; i++) {
            uint16_t at = q->next_desc % q->num, next = (uint16_t)((at + 1) % q->num);
            put_desc(d, q->desc + 16ull * at, &bufs[i], i + 1 < n ? D_NEXT : 0, next);
            q->next_desc = next;
        }
    }
    publish(d, q, head);
}

/* A queue's rings at base as the bring-up lays them out (room for 1024 entries). */
static void standard_rings(DriverQueue *q, uint64_t base)
{
    q->desc = base;
    q->avail = base + 0x4000;
    q->used = base + 0x5000;
}

/* Program queue sel's registers from the model's view (sel may be no queue at all),
 * then write `ready` to QueueReady. */
static void program_queue(Driver *d, uint32_t sel, const DriverQueue *q, uint32_t ready)
{
    Machine *m = d->m;
    uint64_t base = d->disk->base;
    reg_write(m, base + R_QUEUE_SEL, sel);
    reg_write(m, base + R_QUEUE_NUM, q->num);
    const uint64_t ring[3] = { q->desc, q->avail, q->used };
    const uint32_t reg[3] = { R_QUEUE_DESC, R_QUEUE_DRIVER, R_QUEUE_DEVICE };
    for (unsigned i = 0; i < 3; i++) {
        reg_write(m, base + reg[i], (uint32_t)ring[i]);
        reg_write(m, base + reg[i] + 4, (uint32_t)(ring[i] >> 32));
    }
    reg_write(m, base + R_QUEUE_READY, ready);
}

static void forget_queues(Driver *d)
{
    memset(d->q, 0, sizeof(d->q));
    d->sel = 0;
}

/* ---- actions ------------------------------------------------------------------------ */

/* Reset, negotiate the offered features the input's mask keeps, set every queue up
 * with a size the input picks, DRIVER_OK: the way a guest's driver starts. */
static void act_bring_up(Driver *d)
{
    Machine *m = d->m;
    uint64_t base = d->disk->base, mask = take(d, 8);
    uint8_t size_how = take8(d);
    forget_queues(d);
    reg_write(m, base + R_STATUS, 0);
    reg_write(m, base + R_STATUS, S_ACK | S_DRIVER);
    for (uint32_t bank = 0; bank < 2; bank++) {
        reg_write(m, base + R_DEVICE_FEATURES_SEL, bank);
        uint64_t offered = reg_read(m, base + R_DEVICE_FEATURES);
        uint64_t want = (offered & (mask >> (32 * bank))) | (uint32_t)(F_VERSION_1 >> (32 * bank));
        reg_write(m, base + R_DRIVER_FEATURES_SEL, bank);
        reg_write(m, base + R_DRIVER_FEATURES, (uint32_t)want);
    }
    reg_write(m, base + R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    for (unsigned q = 0; q < d->disk->nr_queues && q < MODEL_QUEUES; q++) {
        DriverQueue *vq = &d->q[q];
        vq->num = (uint16_t)(d->disk->queue_max >> (size_how & 7));
        vq->num = vq->num ? vq->num : 1;
        standard_rings(vq, RINGS_AT + (uint64_t)q * RING_STRIDE);
        program_queue(d, q, vq, 1);
    }
    reg_write(m, base + R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

/* A request type: the six the device knows, mostly, or any number. */
static uint32_t request_type(Driver *d, uint8_t how)
{
    static const uint32_t known[] = { T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD,
                                      T_WRITE_ZEROES, T_IN };
    return how < ARRAY_SIZE(known) ? known[how] : take32(d);
}

/* The buffers after the header: data, or discard/write-zeroes segments. */
static unsigned data_bufs(Driver *d, uint32_t type, Buf *bufs)
{
    unsigned n = take8(d) % (MAX_CHAIN - 2);
    bool is_segs = type == T_DISCARD || type == T_WRITE_ZEROES;
    uint16_t flags = type == T_IN || type == T_GET_ID ? D_WRITE : 0;
    for (unsigned i = 0; i < n; i++) {
        if (is_segs) {
            uint8_t seg[16];
            uint64_t sector = take_sector(d);
            uint32_t num = take8(d) < 200 ? take8(d) : take32(d), seg_flags = take8(d) % 4;
            put_le(seg, sector, 8);
            put_le(seg + 8, num, 4);
            put_le(seg + 12, seg_flags, 4);
            bufs[i] = (Buf){ .addr = alloc(d, sizeof(seg), 16), .len = sizeof(seg) };
            guest_put(d, bufs[i].addr, seg, sizeof(seg));
        } else {
            uint32_t len = take_len(d);
            bufs[i] = (Buf){ .addr = take_addr(d, len), .len = len, .flags = flags };
        }
    }
    return n;
}

/*
 * A request chain on the selected queue. kind: bits 0-2 the type, 3 indirect, 4 the
 * header in two pieces, 5 the status byte at the end of the last data buffer, 6 one
 * buffer's WRITE flag flipped, 7 the header anywhere.
 */
static void act_chain(Driver *d)
{
    uint8_t kind = take8(d);
    uint32_t type = request_type(d, kind & 7);
    uint64_t sector = take_sector(d);
    uint64_t hdr = kind & 0x80 ? take_addr(d, 16) : alloc(d, 16, 16);
    uint8_t h[16] = { 0 };
    put_le(h, type, 4);
    put_le(h + 8, sector, 8);
    guest_put(d, hdr, h, sizeof(h));
    Buf bufs[MAX_CHAIN];
    unsigned n = 0;
    if (kind & 0x10) {
        bufs[n++] = (Buf){ .addr = hdr, .len = 8 };
        bufs[n++] = (Buf){ .addr = hdr + 8, .len = 8 };
    } else {
        bufs[n++] = (Buf){ .addr = hdr, .len = 16 };
    }
    n += data_bufs(d, type, bufs + n);
    if ((kind & 0x20) && (bufs[n - 1].flags & D_WRITE))
        bufs[n - 1].len++;
    else
        bufs[n++] = (Buf){ .addr = alloc(d, 1, 1), .len = 1, .flags = D_WRITE };
    if (kind & 0x40)
        bufs[take8(d) % n].flags ^= D_WRITE;
    post(d, &d->q[d->sel], bufs, n, kind & 8);
}

static void act_kick(Driver *d)
{
    uint8_t q = take8(d);
    uint32_t which = q & 0x80 ? q : q % d->disk->nr_queues;
    reg_write(d->m, d->disk->base + R_QUEUE_NOTIFY, which);
}

/* Whether waiting for I/O may be worth it: the device runs and a queue has chains
 * the driver posted and has not got back. (A guess, for speed only: the driver's view
 * of hostile rings need not be the device's.) */
static bool awaits_chains(Driver *d)
{
    uint32_t status = reg_read(d->m, d->disk->base + R_STATUS);
    if ((status & (S_DRIVER_OK | S_NEEDS_RESET)) != S_DRIVER_OK)
        return false;
    for (unsigned i = 0; i < MODEL_QUEUES; i++) {
        const DriverQueue *q = &d->q[i];
        if (q->num && q->used < RAM_SIZE - 4 && guest_get16(d, q->used + 2) != q->avail_idx)
            return true;
    }
    return false;
}

/* One turn of the event loop; a few per input may wait a moment for I/O. */
static void act_serve(Driver *d)
{
    bool wait = (take8(d) & 1) && d->waits < MAX_WAITS && awaits_chains(d);
    d->waits += wait;
    fuzz_serve_turn(&d->disk->dev, 1, &d->m->work, wait ? WAIT_US : 0);
}

static void act_work(Driver *d)
{
    device_work_run(&d->m->work);
}

static void act_ram_bytes(Driver *d)
{
    uint64_t at = take32(d) % RAM_SIZE;
    size_t len = take8(d);
    len = len < d->left ? len : d->left;
    guest_put(d, at, d->in, len < RAM_SIZE - at ? len : RAM_SIZE - at);
    d->in += len;
    d->left -= len;
}

/* One descriptor of the selected queue's table, every field from the input. */
static void act_desc(Driver *d)
{
    DriverQueue *q = &d->q[d->sel];
    uint16_t idx = take16(d);
    Buf b;
    b.len = take_len(d);
    b.addr = take_addr(d, b.len);
    b.flags = take8(d) < 250 ? take8(d) & 7 : take16(d);
    uint16_t next = take16(d);
    put_desc(d, q->desc + 16ull * (q->num ? idx % q->num : idx), &b, 0, next);
}

/* An avail entry naming any head. */
static void act_avail(Driver *d)
{
    DriverQueue *q = &d->q[d->sel];
    uint16_t head = take16(d);
    if (q->num)
        publish(d, q, head);
}

/* A 16-bit ring field the driver owns (avail flags, avail idx, used_event), or any
 * bytes of the used ring, which it must not write. */
static void act_ring_field(Driver *d)
{
    DriverQueue *q = &d->q[d->sel];
    uint8_t which = take8(d);
    uint16_t v = take16(d);
    switch (which % 4) {
    case 0: guest_put16(d, q->avail, v); break;
    case 1: q->avail_idx = v; guest_put16(d, q->avail + 2, v); break;
    case 2: guest_put16(d, q->avail + 4 + 2ull * q->num, v); break;
    default: guest_put16(d, q->used + take16(d) % (4 + 8ull * q->num + 2), v); break;
    }
}

static void act_features(Driver *d)
{
    Machine *m = d->m;
    uint8_t bank = take8(d);
    uint32_t sel = bank & 0x80 ? take32(d) : bank & 1;
    reg_write(m, d->disk->base + R_DEVICE_FEATURES_SEL, sel);
    reg_read(m, d->disk->base + R_DEVICE_FEATURES);
    reg_write(m, d->disk->base + R_DRIVER_FEATURES_SEL, sel);
    reg_write(m, d->disk->base + R_DRIVER_FEATURES, take32(d));
    reg_read(m, d->disk->base + R_DRIVER_FEATURES);
}

static void act_status(Driver *d)
{
    uint8_t status = take8(d);
    reg_write(d->m, d->disk->base + R_STATUS, status);
    if (!status)
        forget_queues(d);
}

/* Rings for a queue of num entries: where a driver would put them, or not. */
static void place_rings(Driver *d, DriverQueue *q, uint32_t sel)
{
    uint8_t how = take8(d);
    uint64_t slot = RINGS_AT + (uint64_t)(sel % MODEL_QUEUES) * RING_STRIDE;
    switch (how % 6) {
    case 0: case 1:
        standard_rings(q, slot);
        break;
    case 2:                         /* misaligned by the input's low bits */
        standard_rings(q, slot);
        q->desc += take8(d) & 15;
        q->avail += take8(d) & 1;
        q->used += take8(d) & 3;
        break;
    case 3:                         /* each ring somewhere, maybe overlapping */
        q->desc = take_addr(d, 16ull * q->num);
        q->avail = take_addr(d, 6 + 2ull * q->num);
        q->used = take_addr(d, 6 + 8ull * q->num);
        break;
    case 4:                         /* aligned, but across the end of the address space */
        standard_rings(q, 0 - 0x5000 - 16ull * take8(d));
        break;
    default:
        q->desc = take(d, 8);
        q->avail = take(d, 8);
        q->used = take(d, 8);
        break;
    }
}

/* Set a queue up: any queue number, size and rings, then any QueueReady value. */
static void act_queue(Driver *d)
{
    uint8_t sel_how = take8(d), size_how = take8(d);
    uint32_t sel = sel_how & 0x80 ? take32(d) : sel_how % d->disk->nr_queues;
    DriverQueue scratch, *q = sel < MODEL_QUEUES ? &d->q[sel] : &scratch;
    *q = (DriverQueue){ 0 };
    q->num = size_how & 0x80 ? take16(d) : (uint16_t)(d->disk->queue_max >> (size_how & 7));
    place_rings(d, q, sel);
    uint8_t ready = take8(d);
    program_queue(d, sel, q, ready & 0x80 ? take32(d) : 1);
}

/* An access of 1, 2, 4 bytes, or 3 and 8, which the memory core splits. */
static unsigned take_width(Driver *d)
{
    static const unsigned widths[] = { 1, 2, 4, 4, 1, 2, 3, 8 };
    return widths[take8(d) % ARRAY_SIZE(widths)];
}

static void mem_access(Driver *d, uint64_t addr, unsigned width, bool is_write)
{
    uint64_t v = is_write ? take(d, width) : 0;
    if (is_write)
        address_space_write(&d->m->as, addr, MEMTXATTRS_UNSPECIFIED, &v, width);
    else
        address_space_read(&d->m->as, addr, MEMTXATTRS_UNSPECIFIED, &v, width);
}

/* Configuration space, the writeback byte a quarter of the time. */
static void config_access(Driver *d, bool is_write)
{
    uint8_t off = take8(d);
    unsigned width = take_width(d);
    mem_access(d, d->disk->base + R_CONFIG + (off < 0x40 ? CFG_WRITEBACK : off), width, is_write);
}

static void act_config_read(Driver *d) { config_access(d, false); }
static void act_config_write(Driver *d) { config_access(d, true); }

/* Any register, any width. */
static void reg_access(Driver *d, bool is_write)
{
    uint16_t off = take16(d) % R_REGION;
    mem_access(d, d->disk->base + off, take_width(d), is_write);
}

static void act_reg_read(Driver *d) { reg_access(d, false); }
static void act_reg_write(Driver *d) { reg_access(d, true); }

static void act_ack(Driver *d)
{
    uint32_t isr = reg_read(d->m, d->disk->base + R_INTERRUPT_STATUS);
    uint8_t how = take8(d);
    reg_write(d->m, d->disk->base + R_INTERRUPT_ACK, how & 0x80 ? take32(d) : isr);
}

static void act_select(Driver *d)
{
    d->sel = take8(d) % MODEL_QUEUES;
}

/* Opcode n is actions[n % ARRAY_SIZE(actions)]: the seeds (tests/fuzz/corpus/) rely
 * on this order. */
static void (*const actions[])(Driver *d) = {
    act_bring_up, act_chain, act_kick, act_serve, act_work, act_ram_bytes, act_desc,
    act_avail, act_ring_field, act_features, act_status, act_queue, act_config_read,
    act_config_write, act_reg_read, act_reg_write, act_ack, act_select,
};

/* ---- one input ---------------------------------------------------------------------- */

/* Serve what is ready, then reset: the reset waits for everything in flight. */
static void finish_input(Driver *d)
{
    for (unsigned turn = 0; turn < 64; turn++) {
        if (!fuzz_serve_turn(&d->disk->dev, 1, &d->m->work, 0) &&
            !device_work_pending(&d->m->work))
            break;
    }
    reg_write(d->m, d->disk->base + R_STATUS, 0);
    device_work_run(&d->m->work);
}

/* What no input may change: the ROM, the images' sizes, the read-only image. */
static void check_invariants(Machine *m, const Disk *disk)
{
    for (unsigned i = 0; i < ROM_SIZE; i++) {
        if (m->rom_ptr[i] != ROM_BYTE) {
            fprintf(stderr, "fuzz_virtio_blk: ROM byte 0x%x was written\n", i);
            abort();
        }
    }
    struct stat st;
    if (fstat(disk->image_fd, &st) < 0 || st.st_size != FUZZ_IMAGE_BYTES ||
        (disk->readonly && (st.st_mtim.tv_sec != disk->mtime.tv_sec ||
                            st.st_mtim.tv_nsec != disk->mtime.tv_nsec))) {
        fprintf(stderr, "fuzz_virtio_blk: the image changed size (%lld bytes) or, read-only, "
                "was written\n", (long long)st.st_size);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Machine *m = machine();
    if (!size)
        return 0;
    Driver d = { .m = m, .disk = &m->disks[data[0] % NR_DISKS], .in = data + 1,
                 .left = size - 1, .heap = HEAP_AT };
    memset(m->ram_ptr, 0, RAM_SIZE);
    if (data[0] & 0x80)
        act_bring_up(&d);
    while (d.left)
        actions[take8(&d) % ARRAY_SIZE(actions)](&d);
    finish_input(&d);
    check_invariants(m, d.disk);
    return 0;
}
