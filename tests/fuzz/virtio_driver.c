/* tests/fuzz/virtio_driver.c — see virtio_driver.h. */
#include "tests/fuzz/virtio_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/support.h"
#include "util/log.h"
#include "util/macros.h"

#define RINGS_AT        0x0u            /* bring-up queue q's rings at q * RING_STRIDE */
#define RING_STRIDE     0x8000u         /* descriptors, avail at +0x4000, used at +0x5000 */
#define TRIPWIRE_AT     FUZZ_RAM_SIZE   /* right after RAM: no access allowed */
#define TRIPWIRE_SIZE   0x10000u
#define ROM_AT          (TRIPWIRE_AT + TRIPWIRE_SIZE)
#define ROM_SIZE        0x1000u
#define ROM_BYTE        0xa5
#define HOLE_AT         0x20000000u     /* nothing there */
#define MAX_WAITS       4               /* serve actions that may wait, per input */
#define WAIT_US         200             /* for I/O: page-cache I/O takes microseconds */
#define MAX_PROBED_QUEUES 16

/* virtio-mmio registers (devices/virtio_mmio.c) besides those of the header. */
enum {
    R_DRIVER_FEATURES = 0x020, R_DRIVER_FEATURES_SEL = 0x024, R_QUEUE_NUM = 0x038,
    R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050, R_INTERRUPT_STATUS = 0x060,
    R_INTERRUPT_ACK = 0x064, R_QUEUE_DESC = 0x080, R_QUEUE_DRIVER = 0x090,
    R_QUEUE_DEVICE = 0x0a0, R_REGION = 0x200,
};
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 64 };
#define F_VERSION_1     (1ull << 32)

/* ---- the machine ------------------------------------------------------------------ */

static int irq_isa(void *opaque, unsigned irq, bool level) { return 0; }

static uint64_t tripwire_read(void *opaque, hwaddr addr, unsigned size)
{
    fprintf(stderr, "fuzz: a %u-byte read at RAM end + 0x%llx\n", size,
            (unsigned long long)addr);
    abort();
}

static void tripwire_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    fprintf(stderr, "fuzz: a %u-byte write at RAM end + 0x%llx\n", size,
            (unsigned long long)addr);
    abort();
}

static const MemoryRegionOps tripwire_ops = {
    .read = tripwire_read, .write = tripwire_write, .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
};

static uint32_t reg_read(FuzzVirtioMachine *m, uint64_t addr)
{
    return address_space_ldl_le(&m->as, addr, MEMTXATTRS_UNSPECIFIED, NULL);
}

static void reg_write(FuzzVirtioMachine *m, uint64_t addr, uint32_t val)
{
    address_space_stl_le(&m->as, addr, val, MEMTXATTRS_UNSPECIFIED, NULL);
}

void fuzz_virtio_machine_init(FuzzVirtioMachine *m)
{
    log_set_level(LOG_SILENT);
    memory_region_init(&m->root, "/machine", "system", UINT64_MAX);
    m->ram_ptr = aligned_alloc(4096, FUZZ_RAM_SIZE);
    memory_region_init_io(&m->tripwire, "/machine", &tripwire_ops, NULL, "tripwire",
                          TRIPWIRE_SIZE);
    if (!m->ram_ptr ||
        memory_region_init_ram_ptr(&m->ram, "/machine", "ram", FUZZ_RAM_SIZE, m->ram_ptr,
                                   NULL) < 0 ||
        memory_region_init_rom(&m->rom, "/machine", "rom", ROM_SIZE, NULL) < 0 ||
        memory_region_add_subregion(&m->root, 0, &m->ram, NULL) < 0 ||
        memory_region_add_subregion(&m->root, TRIPWIRE_AT, &m->tripwire, NULL) < 0 ||
        memory_region_add_subregion(&m->root, ROM_AT, &m->rom, NULL) < 0 ||
        address_space_init(&m->as, &m->root, "memory", NULL) < 0)
        abort();
    m->rom_ptr = memory_region_get_ram_ptr(&m->rom);
    memset(m->rom_ptr, ROM_BYTE, ROM_SIZE);
    m->irq = (IrqRouter){ .set_isa_irq = irq_isa };
    device_work_queue_init(&m->work);
    m->loop = (DeviceLoop){ .work = &m->work };
    m->board = (DeviceBoard){ .system_memory = &m->root, .dma_as = &m->as, .irq = &m->irq,
                              .loop = &m->loop };
}

/* Queues are those whose QueueNumMax is not zero, from queue 0 on. */
void fuzz_virtio_probe(FuzzVirtioMachine *m, FuzzVirtioDev *dev)
{
    dev->nr_queues = 0;
    for (unsigned q = 0; q < MAX_PROBED_QUEUES; q++) {
        reg_write(m, dev->base + FUZZ_R_QUEUE_SEL, q);
        uint16_t max = (uint16_t)reg_read(m, dev->base + FUZZ_R_QUEUE_NUM_MAX);
        if (!max)
            break;
        if (q == 0)
            dev->queue_max = max;
        dev->nr_queues++;
    }
    reg_write(m, dev->base + FUZZ_R_QUEUE_SEL, 0);
    reg_write(m, dev->base + FUZZ_R_DEVICE_FEATURES_SEL, 0);
    dev->features_lo = reg_read(m, dev->base + FUZZ_R_DEVICE_FEATURES);
    if (!dev->nr_queues)
        abort();                    /* a virtio device without queues: not one we test */
}

/* ---- reading the input ------------------------------------------------------------ */

uint64_t fuzz_take(FuzzDriver *d, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && d->left; i++, d->left--)
        v |= (uint64_t)*d->in++ << (8 * i);
    return v;
}

uint8_t fuzz_take8(FuzzDriver *d) { return (uint8_t)fuzz_take(d, 1); }
uint16_t fuzz_take16(FuzzDriver *d) { return (uint16_t)fuzz_take(d, 2); }
uint32_t fuzz_take32(FuzzDriver *d) { return (uint32_t)fuzz_take(d, 4); }

/* ---- guest memory as the driver writes it ----------------------------------------- */

void fuzz_put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void fuzz_guest_put(FuzzDriver *d, uint64_t addr, const void *buf, size_t len)
{
    if (addr < FUZZ_RAM_SIZE && len <= FUZZ_RAM_SIZE - addr)
        memcpy(d->m->ram_ptr + addr, buf, len);
}

/* A 16-bit field of the driver's RAM (addr + 2 inside it). */
static uint16_t guest_get16(FuzzDriver *d, uint64_t addr)
{
    const uint8_t *p = d->m->ram_ptr + addr;
    return (uint16_t)(p[0] | p[1] << 8);
}

static void guest_put16(FuzzDriver *d, uint64_t addr, uint16_t v)
{
    uint8_t b[2];
    fuzz_put_le(b, v, sizeof(b));
    fuzz_guest_put(d, addr, b, sizeof(b));
}

uint64_t fuzz_alloc(FuzzDriver *d, uint64_t len, uint64_t align)
{
    d->heap = (d->heap + align - 1) & ~(align - 1);
    if (len > FUZZ_RAM_SIZE - FUZZ_HEAP_AT)
        len = FUZZ_RAM_SIZE - FUZZ_HEAP_AT;
    if (d->heap < FUZZ_HEAP_AT || d->heap + len > FUZZ_RAM_SIZE)
        d->heap = FUZZ_HEAP_AT;
    uint64_t at = d->heap;
    d->heap += len;
    return at;
}

/* Somewhere that is not RAM, or only partly. */
static uint64_t odd_place(FuzzDriver *d, uint8_t how)
{
    switch (how % 6) {
    case 0:  return TRIPWIRE_AT + fuzz_take16(d) % TRIPWIRE_SIZE;
    case 1:  return ROM_AT + fuzz_take16(d) % ROM_SIZE;
    case 2:  return d->dev->base + fuzz_take16(d) % R_REGION;     /* the device itself */
    case 3:  return HOLE_AT + fuzz_take16(d);
    case 4:  return FUZZ_RAM_SIZE - 1 - fuzz_take8(d);           /* across RAM's end */
    default: return UINT64_MAX - fuzz_take8(d);                  /* wraps past 2^64 */
    }
}

uint64_t fuzz_take_addr(FuzzDriver *d, uint64_t len)
{
    uint8_t how = fuzz_take8(d);
    switch (how >> 5) {
    case 0: case 1: case 2:
        return fuzz_alloc(d, len, 512);
    case 3:
        return fuzz_alloc(d, len + 16, 8) + (how & 15);          /* misaligned */
    case 4:
        return fuzz_take32(d) % FUZZ_RAM_SIZE;
    case 5: case 6:
        return odd_place(d, how);
    default:
        return fuzz_take(d, 8);
    }
}

uint32_t fuzz_take_len(FuzzDriver *d)
{
    uint8_t how = fuzz_take8(d);
    switch (how >> 6) {
    case 0: case 1: return ((how & 63) + 1) * 512u;
    case 2:         return fuzz_take16(d);
    default:        return fuzz_take32(d);
    }
}

/* ---- the driver's queues ---------------------------------------------------------- */

static void put_desc(FuzzDriver *d, uint64_t at, const FuzzBuf *b, uint16_t flags,
                     uint16_t next)
{
    uint8_t desc[16];
    fuzz_put_le(desc, b->addr, 8);
    fuzz_put_le(desc + 8, b->len, 4);
    fuzz_put_le(desc + 12, b->flags | flags, 2);
    fuzz_put_le(desc + 14, next, 2);
    fuzz_guest_put(d, at, desc, sizeof(desc));
}

/* Make head the next available entry of q and publish it. */
static void publish(FuzzDriver *d, FuzzDriverQueue *q, uint16_t head)
{
    guest_put16(d, q->avail + 4 + 2ull * (q->avail_idx % q->num), head);
    q->avail_idx++;
    guest_put16(d, q->avail + 2, q->avail_idx);
}

void fuzz_post(FuzzDriver *d, const FuzzBuf *bufs, unsigned n, bool indirect)
{
    FuzzDriverQueue *q = &d->q[d->sel];
    if (!q->num || !n)
        return;
    uint16_t head = q->next_desc % q->num;
    if (indirect) {
        uint64_t table = fuzz_take8(d) < 240 ? fuzz_alloc(d, 16ull * n, 16)
                                             : odd_place(d, fuzz_take8(d));
        for (unsigned i = 0; i < n; i++)
            put_desc(d, table + 16ull * i, &bufs[i], i + 1 < n ? FUZZ_D_NEXT : 0,
                     (uint16_t)(i + 1));
        FuzzBuf t = { .addr = table, .len = 16 * n, .flags = FUZZ_D_INDIRECT };
        put_desc(d, q->desc + 16ull * head, &t, 0, 0);
        q->next_desc = (uint16_t)((head + 1) % q->num);
    } else {
        for (unsigned i = 0; i < n; i++) {
            uint16_t at = q->next_desc % q->num, next = (uint16_t)((at + 1) % q->num);
            put_desc(d, q->desc + 16ull * at, &bufs[i], i + 1 < n ? FUZZ_D_NEXT : 0, next);
            q->next_desc = next;
        }
    }
    publish(d, q, head);
}

/* A queue's rings at base as the bring-up lays them out (room for 1024 entries). */
static void standard_rings(FuzzDriverQueue *q, uint64_t base)
{
    q->desc = base;
    q->avail = base + 0x4000;
    q->used = base + 0x5000;
}

/* Program queue sel's registers from the model's view (sel may be no queue at all),
 * then write `ready` to QueueReady. */
static void program_queue(FuzzDriver *d, uint32_t sel, const FuzzDriverQueue *q,
                          uint32_t ready)
{
    FuzzVirtioMachine *m = d->m;
    uint64_t base = d->dev->base;
    reg_write(m, base + FUZZ_R_QUEUE_SEL, sel);
    reg_write(m, base + R_QUEUE_NUM, q->num);
    const uint64_t ring[3] = { q->desc, q->avail, q->used };
    const uint32_t reg[3] = { R_QUEUE_DESC, R_QUEUE_DRIVER, R_QUEUE_DEVICE };
    for (unsigned i = 0; i < 3; i++) {
        reg_write(m, base + reg[i], (uint32_t)ring[i]);
        reg_write(m, base + reg[i] + 4, (uint32_t)(ring[i] >> 32));
    }
    reg_write(m, base + R_QUEUE_READY, ready);
}

static void forget_queues(FuzzDriver *d)
{
    memset(d->q, 0, sizeof(d->q));
    d->sel = 0;
}

/* ---- the shared actions ------------------------------------------------------------- */

/* Reset, negotiate the offered features the input's mask keeps, set every queue up
 * with a size the input picks, DRIVER_OK: the way a guest's driver starts. */
static void act_bring_up(FuzzDriver *d)
{
    FuzzVirtioMachine *m = d->m;
    uint64_t base = d->dev->base, mask = fuzz_take(d, 8);
    uint8_t size_how = fuzz_take8(d);
    forget_queues(d);
    reg_write(m, base + FUZZ_R_STATUS, 0);
    reg_write(m, base + FUZZ_R_STATUS, S_ACK | S_DRIVER);
    for (uint32_t bank = 0; bank < 2; bank++) {
        reg_write(m, base + FUZZ_R_DEVICE_FEATURES_SEL, bank);
        uint64_t offered = reg_read(m, base + FUZZ_R_DEVICE_FEATURES);
        uint64_t want = (offered & (mask >> (32 * bank))) |
                        (uint32_t)(F_VERSION_1 >> (32 * bank));
        reg_write(m, base + R_DRIVER_FEATURES_SEL, bank);
        reg_write(m, base + R_DRIVER_FEATURES, (uint32_t)want);
    }
    reg_write(m, base + FUZZ_R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    for (unsigned q = 0; q < d->dev->nr_queues && q < FUZZ_MODEL_QUEUES; q++) {
        FuzzDriverQueue *vq = &d->q[q];
        vq->num = (uint16_t)(d->dev->queue_max >> (size_how & 7));
        vq->num = vq->num ? vq->num : 1;
        standard_rings(vq, RINGS_AT + (uint64_t)q * RING_STRIDE);
        program_queue(d, q, vq, 1);
    }
    reg_write(m, base + FUZZ_R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

/* Notify a queue of the device, or any number. */
static void act_kick(FuzzDriver *d)
{
    uint8_t q = fuzz_take8(d);
    uint32_t which = q & 0x80 ? q : q % d->dev->nr_queues;
    reg_write(d->m, d->dev->base + R_QUEUE_NOTIFY, which);
}

/* Whether waiting for I/O may be worth it: the device runs and a queue has chains
 * the driver posted and has not got back. (A guess, for speed only: the driver's view
 * of hostile rings need not be the device's.) */
static bool awaits_chains(FuzzDriver *d)
{
    uint32_t status = reg_read(d->m, d->dev->base + FUZZ_R_STATUS);
    if ((status & (S_DRIVER_OK | S_NEEDS_RESET)) != S_DRIVER_OK)
        return false;
    for (unsigned i = 0; i < FUZZ_MODEL_QUEUES; i++) {
        const FuzzDriverQueue *q = &d->q[i];
        if (q->num && q->used < FUZZ_RAM_SIZE - 4 && guest_get16(d, q->used + 2) != q->avail_idx)
            return true;
    }
    return false;
}

/* One turn of the event loop; a few per input may wait a moment for I/O. */
static void act_serve(FuzzDriver *d)
{
    bool wait = (fuzz_take8(d) & 1) && d->waits < MAX_WAITS && awaits_chains(d);
    d->waits += wait;
    fuzz_serve_turn(&d->dev->dev, 1, &d->m->work, wait ? WAIT_US : 0);
}

static void act_work(FuzzDriver *d)
{
    device_work_run(&d->m->work);
}

static void act_ram_bytes(FuzzDriver *d)
{
    uint64_t at = fuzz_take32(d) % FUZZ_RAM_SIZE;
    size_t len = fuzz_take8(d);
    len = len < d->left ? len : d->left;
    fuzz_guest_put(d, at, d->in, len < FUZZ_RAM_SIZE - at ? len : FUZZ_RAM_SIZE - at);
    d->in += len;
    d->left -= len;
}

/* One descriptor of the selected queue's table, every field from the input. */
static void act_desc(FuzzDriver *d)
{
    FuzzDriverQueue *q = &d->q[d->sel];
    uint16_t idx = fuzz_take16(d);
    FuzzBuf b;
    b.len = fuzz_take_len(d);
    b.addr = fuzz_take_addr(d, b.len);
    b.flags = fuzz_take8(d) < 250 ? fuzz_take8(d) & 7 : fuzz_take16(d);
    uint16_t next = fuzz_take16(d);
    put_desc(d, q->desc + 16ull * (q->num ? idx % q->num : idx), &b, 0, next);
}

/* An avail entry naming any head. */
static void act_avail(FuzzDriver *d)
{
    FuzzDriverQueue *q = &d->q[d->sel];
    uint16_t head = fuzz_take16(d);
    if (q->num)
        publish(d, q, head);
}

/* A 16-bit ring field the driver owns (avail flags, avail idx, used_event), or any
 * bytes of the used ring, which it must not write. */
static void act_ring_field(FuzzDriver *d)
{
    FuzzDriverQueue *q = &d->q[d->sel];
    uint8_t which = fuzz_take8(d);
    uint16_t v = fuzz_take16(d);
    switch (which % 4) {
    case 0: guest_put16(d, q->avail, v); break;
    case 1: q->avail_idx = v; guest_put16(d, q->avail + 2, v); break;
    case 2: guest_put16(d, q->avail + 4 + 2ull * q->num, v); break;
    default: guest_put16(d, q->used + fuzz_take16(d) % (4 + 8ull * q->num + 2), v); break;
    }
}

static void act_features(FuzzDriver *d)
{
    FuzzVirtioMachine *m = d->m;
    uint8_t bank = fuzz_take8(d);
    uint32_t sel = bank & 0x80 ? fuzz_take32(d) : bank & 1;
    reg_write(m, d->dev->base + FUZZ_R_DEVICE_FEATURES_SEL, sel);
    reg_read(m, d->dev->base + FUZZ_R_DEVICE_FEATURES);
    reg_write(m, d->dev->base + R_DRIVER_FEATURES_SEL, sel);
    reg_write(m, d->dev->base + R_DRIVER_FEATURES, fuzz_take32(d));
    reg_read(m, d->dev->base + R_DRIVER_FEATURES);
}

static void act_status(FuzzDriver *d)
{
    uint8_t status = fuzz_take8(d);
    reg_write(d->m, d->dev->base + FUZZ_R_STATUS, status);
    if (!status)
        forget_queues(d);
}

/* Rings for a queue of num entries: where a driver would put them, or not. */
static void place_rings(FuzzDriver *d, FuzzDriverQueue *q, uint32_t sel)
{
    uint8_t how = fuzz_take8(d);
    uint64_t slot = RINGS_AT + (uint64_t)(sel % FUZZ_MODEL_QUEUES) * RING_STRIDE;
    switch (how % 6) {
    case 0: case 1:
        standard_rings(q, slot);
        break;
    case 2:                         /* misaligned by the input's low bits */
        standard_rings(q, slot);
        q->desc += fuzz_take8(d) & 15;
        q->avail += fuzz_take8(d) & 1;
        q->used += fuzz_take8(d) & 3;
        break;
    case 3:                         /* each ring somewhere, maybe overlapping */
        q->desc = fuzz_take_addr(d, 16ull * q->num);
        q->avail = fuzz_take_addr(d, 6 + 2ull * q->num);
        q->used = fuzz_take_addr(d, 6 + 8ull * q->num);
        break;
    case 4:                         /* aligned, but across the end of the address space */
        standard_rings(q, 0 - 0x5000 - 16ull * fuzz_take8(d));
        break;
    default:
        q->desc = fuzz_take(d, 8);
        q->avail = fuzz_take(d, 8);
        q->used = fuzz_take(d, 8);
        break;
    }
}

/* Set a queue up: any queue number, size and rings, then any QueueReady value. */
static void act_queue(FuzzDriver *d)
{
    uint8_t sel_how = fuzz_take8(d), size_how = fuzz_take8(d);
    uint32_t sel = sel_how & 0x80 ? fuzz_take32(d) : sel_how % d->dev->nr_queues;
    FuzzDriverQueue scratch, *q = sel < FUZZ_MODEL_QUEUES ? &d->q[sel] : &scratch;
    *q = (FuzzDriverQueue){ 0 };
    q->num = size_how & 0x80 ? fuzz_take16(d)
                             : (uint16_t)(d->dev->queue_max >> (size_how & 7));
    place_rings(d, q, sel);
    uint8_t ready = fuzz_take8(d);
    program_queue(d, sel, q, ready & 0x80 ? fuzz_take32(d) : 1);
}

/* An access of 1, 2, 4 bytes, or 3 and 8, which the memory core splits. */
static unsigned take_width(FuzzDriver *d)
{
    static const unsigned widths[] = { 1, 2, 4, 4, 1, 2, 3, 8 };
    return widths[fuzz_take8(d) % ARRAY_SIZE(widths)];
}

static void mem_access(FuzzDriver *d, uint64_t addr, unsigned width, bool is_write)
{
    uint64_t v = is_write ? fuzz_take(d, width) : 0;
    if (is_write)
        address_space_write(&d->m->as, addr, MEMTXATTRS_UNSPECIFIED, &v, width);
    else
        address_space_read(&d->m->as, addr, MEMTXATTRS_UNSPECIFIED, &v, width);
}

/* Configuration space, the device's hot offset a quarter of the time. */
static void config_access(FuzzDriver *d, bool is_write)
{
    uint8_t off = fuzz_take8(d);
    unsigned width = take_width(d);
    mem_access(d, d->dev->base + FUZZ_R_CONFIG + (off < 0x40 ? d->dev->hot_config : off),
               width, is_write);
}

static void act_config_read(FuzzDriver *d) { config_access(d, false); }
static void act_config_write(FuzzDriver *d) { config_access(d, true); }

/* Any register, any width. */
static void reg_access(FuzzDriver *d, bool is_write)
{
    uint16_t off = fuzz_take16(d) % R_REGION;
    mem_access(d, d->dev->base + off, take_width(d), is_write);
}

static void act_reg_read(FuzzDriver *d) { reg_access(d, false); }
static void act_reg_write(FuzzDriver *d) { reg_access(d, true); }

static void act_ack(FuzzDriver *d)
{
    uint32_t isr = reg_read(d->m, d->dev->base + R_INTERRUPT_STATUS);
    uint8_t how = fuzz_take8(d);
    reg_write(d->m, d->dev->base + R_INTERRUPT_ACK, how & 0x80 ? fuzz_take32(d) : isr);
}

static void act_select(FuzzDriver *d)
{
    d->sel = fuzz_take8(d) % FUZZ_MODEL_QUEUES;
}

/* ---- one input ---------------------------------------------------------------------- */

/* Serve what is ready, then reset: the reset waits for everything in flight. */
static void finish_input(FuzzDriver *d)
{
    for (unsigned turn = 0; turn < 64; turn++) {
        if (!fuzz_serve_turn(&d->dev->dev, 1, &d->m->work, 0) &&
            !device_work_pending(&d->m->work))
            break;
    }
    reg_write(d->m, d->dev->base + FUZZ_R_STATUS, 0);
    device_work_run(&d->m->work);
}

static void check_rom(const FuzzVirtioMachine *m)
{
    for (unsigned i = 0; i < ROM_SIZE; i++) {
        if (m->rom_ptr[i] != ROM_BYTE) {
            fprintf(stderr, "fuzz: ROM byte 0x%x was written\n", i);
            abort();
        }
    }
}

/* Opcode n is actions[n % ARRAY_SIZE(actions)], NULL the target's chains: see
 * fuzz_virtio_run() in the header. */
static FuzzAction *const actions[] = {
    act_bring_up, NULL, act_kick, act_serve, act_work, act_ram_bytes, act_desc, act_avail,
    act_ring_field, act_features, act_status, act_queue, act_config_read,
    act_config_write, act_reg_read, act_reg_write, act_ack, act_select,
};

void fuzz_virtio_run(FuzzVirtioMachine *m, FuzzVirtioDev *dev, bool bring_up,
                     const uint8_t *prog, size_t len, FuzzAction *chain)
{
    FuzzDriver d = { .m = m, .dev = dev, .in = prog, .left = len, .heap = FUZZ_HEAP_AT };
    memset(m->ram_ptr, 0, FUZZ_RAM_SIZE);
    if (bring_up)
        act_bring_up(&d);
    while (d.left) {
        FuzzAction *act = actions[fuzz_take8(&d) % ARRAY_SIZE(actions)];
        (act ? act : chain)(&d);
    }
    finish_input(&d);
    check_rom(m);
}
