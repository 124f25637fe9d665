/*
 * tests/guests/blk_bench.c — the KVM guest of bench/blk.sh: a polling virtio 1.x block
 * driver for virtio-blk-pci that runs the benchmark's workloads and times them itself.
 * A 64-bit user-mode guest (user64.h): under nested KVM its loop runs natively.
 *
 * The device. Nothing about the device model is assumed: the guest scans bus 0 for a
 * virtio block function (1af4:1042, or QEMU's transitional 1af4:1001), walks its
 * vendor capabilities for the common, notify and device configuration structures,
 * gives every unassigned memory BAR an address from BAR_WINDOW (mockxen has no
 * firmware), enables memory decode and bus mastering, negotiates VERSION_1 and FLUSH
 * (if offered) and sets up queue 0 with up to MAX_QUEUE entries, no MSI-X vector, and
 * VIRTQ_AVAIL_F_NO_INTERRUPT: completions are taken by polling the used ring. Notifies
 * honour VIRTQ_USED_F_NO_NOTIFY. Request slot s is the chain of descriptors 3s (the
 * 16-byte header), 3s+1 (the data) and 3s+2 (the status byte); a flush skips 3s+1.
 *
 * The workloads are mockxen's --param entries, run in order: NAME=KIND,BYTES,DEPTH,
 * PATTERN,COUNT with KIND 0 read, 1 write, 4 flush (COUNT pairs of a random 4 KiB write
 * and a FLUSH, at depth 1), PATTERN 0 sequential, 1 random (a 64-bit LCG over the
 * disk's BYTES-sized blocks). DEPTH requests are kept outstanding until COUNT have
 * completed; every status byte must be OK. The parameter idle_us=N (not a workload)
 * makes the guest sleep N us after each line it prints, so that a benchmark can sample
 * CPU times between workloads.
 *
 * Output (mockxen prints "vcpu0: " first):
 *   ready SLOT QUEUE_SIZE SECTORS           the device is set up
 *   begin NAME                              before each workload
 *   result NAME REQUESTS WALL_NS OWN_NS NOTIFY_NS NOTIFIES
 *       after it: REQUESTS requests (flush: pairs) took WALL_NS in all (mockxen's
 *       clock); OWN_NS of it the guest spent in its own code (taking completions,
 *       checking them, refilling and publishing: TSC, scaled by the clock), NOTIFY_NS
 *       in its NOTIFIES notify writes (each a trip through the device model), the rest
 *       polling the used ring.
 * Exit status 0, or one of the GUEST_E* below after a line "error ...".
 */
#include "tests/guests/user64.h"

enum {
    GUEST_E_NO_DEVICE = 40, GUEST_E_NO_CAPS, GUEST_E_FEATURES, GUEST_E_RESET,
    GUEST_E_QUEUE, GUEST_E_PARAM, GUEST_E_USED_ID, GUEST_E_STATUS, GUEST_E_TIMEOUT,
};

#define VIRTIO_VENDOR       0x1af4
#define VIRTIO_BLK_MODERN   0x1042
#define VIRTIO_BLK_TRANS    0x1001
#define PCI_COMMAND         0x04
#define PCI_CMD_MEM_MASTER  0x0006
#define PCI_BAR0            0x10
#define PCI_CAP_PTR         0x34
#define PCI_CAP_VENDOR      0x09
#define CAP_COMMON          1
#define CAP_NOTIFY          2
#define CAP_DEVICE          4
#define BAR_WINDOW          0xe2000000ull   /* in both device models' PCI hole */

/* common configuration (virtio 1.x, 4.1.4.3) */
#define CC_DFSELECT   0x00
#define CC_DF         0x04
#define CC_GFSELECT   0x08
#define CC_GF         0x0c
#define CC_STATUS     0x14
#define CC_Q_SELECT   0x16
#define CC_Q_SIZE     0x18
#define CC_Q_MSIX     0x1a
#define CC_Q_ENABLE   0x1c
#define CC_Q_NOFF     0x1e
#define CC_Q_DESC     0x20
#define CC_Q_DRIVER   0x28
#define CC_Q_DEVICE   0x30
#define S_ACK_DRIVER  3
#define S_FEATURES_OK 11
#define S_DRIVER_OK   15
#define F_FLUSH       (1u << 9)
#define F_VERSION_1   (1u << 0)             /* in feature word 1 */
#define NO_VECTOR     0xffff

#define T_IN          0
#define T_OUT         1
#define T_FLUSH       4
#define STATUS_UNSET  0xff
#define DESC_F_NEXT   1
#define DESC_F_WRITE  2
#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY     1

#define MAX_QUEUE     256
#define RING_DESC     0x100000ull
#define RING_AVAIL    0x101000ull
#define RING_USED     0x102000ull
#define REQ_HEADERS   0x103000ull           /* 16 bytes per slot */
#define REQ_STATUS    0x104000ull           /* 1 byte per slot */
#define DATA_BUFFERS  0x200000ull           /* BYTES per slot */
#define DATA_LIMIT    0x4000000ull          /* the data stays in 64 MiB of RAM */
#define WAIT_LIMIT_US 10000000ull           /* no completion for this long: fail */

typedef struct Desc { uint64_t addr; uint32_t len; uint16_t flags, next; } Desc;
typedef struct Avail { uint16_t flags, idx, ring[MAX_QUEUE]; } Avail;
typedef struct UsedElem { uint32_t id, len; } UsedElem;
typedef struct Used { uint16_t flags, idx; UsedElem ring[MAX_QUEUE]; } Used;
typedef struct ReqHeader { uint32_t type, reserved; uint64_t sector; } ReqHeader;

/* The device as set up, and the queue's driver state. */
typedef struct Blk {
    unsigned slot;
    uint64_t common, notify, device;        /* MMIO addresses */
    bool flush;                             /* FLUSH negotiated */
    uint64_t sectors;
    unsigned qsize;
    uint16_t avail_idx, used_seen;
    uint64_t tsc_per_ms;
    uint32_t idle_us;
} Blk;

static volatile Desc *const desc = (volatile Desc *)RING_DESC;
static volatile Avail *const avail = (volatile Avail *)RING_AVAIL;
static volatile Used *const used = (volatile Used *)RING_USED;
static ReqHeader *const headers = (ReqHeader *)REQ_HEADERS;
static volatile uint8_t *const status = (volatile uint8_t *)REQ_STATUS;

static int fail(int code, const char *what, uint64_t value)
{
    Line l = { 0 };
    line_str(&l, "error ");
    line_str(&l, what);
    line_str(&l, " ");
    line_u64(&l, value);
    line_print(&l);
    return code;
}

static void say(const Blk *b, Line *l)
{
    line_print(l);
    if (b->idle_us)
        sleep_us(b->idle_us);
}

/* ---- finding and setting up the device ---------------------------------------------- */

static bool find_function(Blk *b)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        uint32_t id = pci_read32(dev, 0);
        if ((id & 0xffff) == VIRTIO_VENDOR &&
            ((id >> 16) == VIRTIO_BLK_MODERN || (id >> 16) == VIRTIO_BLK_TRANS)) {
            b->slot = dev;
            return true;
        }
    }
    return false;
}

/* The address of memory BAR `bar`, placed at the next free spot of BAR_WINDOW (aligned
 * to its size) if nothing placed it yet; 0 if it is not a memory BAR. */
static uint64_t bar_address(unsigned dev, unsigned bar, uint64_t *next_free)
{
    unsigned reg = PCI_BAR0 + 4 * bar;
    uint32_t orig = pci_read32(dev, reg);
    bool is64 = (orig & 6) == 4;
    if (orig & 1)
        return 0;
    uint64_t addr = orig & ~0xfull;
    if (is64)
        addr |= (uint64_t)pci_read32(dev, reg + 4) << 32;
    if (addr)
        return addr;
    pci_write32(dev, reg, 0xffffffff);
    uint64_t size = (uint32_t)~(pci_read32(dev, reg) & ~0xfu) + 1ull;
    addr = (*next_free + size - 1) & ~(size - 1);
    *next_free = addr + size;
    pci_write32(dev, reg, (uint32_t)addr);
    if (is64)
        pci_write32(dev, reg + 4, 0);
    return addr;
}

/* Walk the vendor capabilities for the three structures we use (at most 48 steps). */
static int find_structures(Blk *b, uint32_t *notify_mult)
{
    uint64_t next_free = BAR_WINDOW;
    unsigned cap = pci_read32(b->slot, PCI_CAP_PTR) & 0xfc;
    for (unsigned steps = 0; cap && steps < 48; steps++) {
        uint32_t head = pci_read32(b->slot, cap);
        if ((head & 0xff) == PCI_CAP_VENDOR) {
            unsigned type = head >> 24, bar = pci_read32(b->slot, cap + 4) & 0xff;
            uint32_t off = pci_read32(b->slot, cap + 8);
            uint64_t base = bar < 6 ? bar_address(b->slot, bar, &next_free) : 0;
            if (base && type == CAP_COMMON)
                b->common = base + off;
            if (base && type == CAP_DEVICE)
                b->device = base + off;
            if (base && type == CAP_NOTIFY) {
                b->notify = base + off;
                *notify_mult = pci_read32(b->slot, cap + 16);
            }
        }
        cap = (head >> 8) & 0xfc;
    }
    if (!b->common || !b->notify || !b->device)
        return fail(GUEST_E_NO_CAPS, "virtio structures missing on slot", b->slot);
    pci_write16(b->slot, PCI_COMMAND, PCI_CMD_MEM_MASTER);
    return 0;
}

static int negotiate(Blk *b)
{
    mmio_write8(b->common + CC_STATUS, 0);
    for (unsigned i = 0; mmio_read8(b->common + CC_STATUS) != 0; i++)
        if (i == 100000)
            return fail(GUEST_E_RESET, "device status stays non-zero after reset", 0);
    mmio_write8(b->common + CC_STATUS, S_ACK_DRIVER);
    mmio_write32(b->common + CC_DFSELECT, 1);
    if (!(mmio_read32(b->common + CC_DF) & F_VERSION_1))
        return fail(GUEST_E_FEATURES, "no VERSION_1, feature word 1", 0);
    mmio_write32(b->common + CC_DFSELECT, 0);
    b->flush = mmio_read32(b->common + CC_DF) & F_FLUSH;
    mmio_write32(b->common + CC_GFSELECT, 0);
    mmio_write32(b->common + CC_GF, b->flush ? F_FLUSH : 0);
    mmio_write32(b->common + CC_GFSELECT, 1);
    mmio_write32(b->common + CC_GF, F_VERSION_1);
    mmio_write8(b->common + CC_STATUS, S_FEATURES_OK);
    uint8_t st = mmio_read8(b->common + CC_STATUS);
    if (st != S_FEATURES_OK)
        return fail(GUEST_E_FEATURES, "FEATURES_OK not kept, status", st);
    b->sectors = mmio_read32(b->device) | (uint64_t)mmio_read32(b->device + 4) << 32;
    return 0;
}

static void write_addr(uint64_t reg, uint64_t addr)
{
    mmio_write32(reg, (uint32_t)addr);
    mmio_write32(reg + 4, (uint32_t)(addr >> 32));
}

static int setup_queue(Blk *b, uint32_t notify_mult)
{
    memset((void *)RING_DESC, 0, REQ_STATUS + 0x1000 - RING_DESC);
    mmio_write16(b->common + CC_Q_SELECT, 0);
    unsigned max = mmio_read16(b->common + CC_Q_SIZE);
    b->qsize = MAX_QUEUE;
    while (b->qsize > max)
        b->qsize /= 2;
    if (b->qsize < 4)
        return fail(GUEST_E_QUEUE, "queue 0 too small:", max);
    mmio_write16(b->common + CC_Q_SIZE, b->qsize);
    mmio_write16(b->common + CC_Q_MSIX, NO_VECTOR);
    write_addr(b->common + CC_Q_DESC, RING_DESC);
    write_addr(b->common + CC_Q_DRIVER, RING_AVAIL);
    write_addr(b->common + CC_Q_DEVICE, RING_USED);
    avail->flags = AVAIL_F_NO_INTERRUPT;
    mmio_write16(b->common + CC_Q_ENABLE, 1);
    b->notify += (uint64_t)mmio_read16(b->common + CC_Q_NOFF) * notify_mult;
    mmio_write8(b->common + CC_STATUS, S_DRIVER_OK);
    return 0;
}

/* TSC ticks per millisecond, against mockxen's clock over about 20 ms. */
static uint64_t calibrate_tsc(void)
{
    uint32_t start = clock_us(), now;
    uint64_t t0 = rdtsc();
    while ((now = clock_us()) - start < 20000)
        ;
    return (rdtsc() - t0) * 1000 / (now - start);
}

/* ---- one workload ------------------------------------------------------------------- */

typedef struct Workload {
    const char *name;
    uint64_t kind, bytes, depth, random, count;
    uint64_t requests, next_block, lcg;     /* requests submitted; sequential position */
    uint64_t own_tsc, notify_tsc, notifies;
} Workload;

static uint64_t next_sector(Blk *b, Workload *w)
{
    uint64_t blocks = b->sectors / (w->bytes / 512), block;
    if (w->random) {
        w->lcg = w->lcg * 6364136223846793005ull + 1442695040888963407ull;
        block = (w->lcg >> 33) % blocks;
    } else {
        block = w->next_block++ % blocks;
    }
    return block * (w->bytes / 512);
}

/* Build slot s's chain for request number w->requests and put it in the avail ring. */
static void submit(Blk *b, Workload *w, unsigned s)
{
    uint32_t type = (uint32_t)w->kind;
    if (w->kind == T_FLUSH)
        type = w->requests % 2 ? T_FLUSH : T_OUT;
    headers[s] = (ReqHeader){ .type = type,
                              .sector = type == T_FLUSH ? 0 : next_sector(b, w) };
    status[s] = STATUS_UNSET;
    unsigned d = 3 * s;
    desc[d].next = type == T_FLUSH ? d + 2 : d + 1;
    desc[d + 1].flags = DESC_F_NEXT | (type == T_IN ? DESC_F_WRITE : 0);
    avail->ring[b->avail_idx % b->qsize] = d;
    b->avail_idx++;
    w->requests++;
}

/* Publish what was submitted and notify unless the device said it polls. */
static void publish(Blk *b, Workload *w)
{
    compiler_barrier();                     /* chains and ring entries before the index */
    avail->idx = b->avail_idx;
    full_barrier();                         /* the index before reading the used flags */
    if (used->flags & USED_F_NO_NOTIFY)
        return;
    uint64_t t = rdtsc();
    mmio_write16(b->notify, 0);
    w->notify_tsc += rdtsc() - t;
    w->notifies++;
}

/* The fixed part of slot s's chain: header, data (BYTES), status. */
static void prepare_slot(Workload *w, unsigned s)
{
    unsigned d = 3 * s;
    desc[d] = (Desc){ .addr = REQ_HEADERS + 16 * s, .len = 16, .flags = DESC_F_NEXT };
    desc[d + 1] = (Desc){ .addr = DATA_BUFFERS + w->bytes * s, .len = (uint32_t)w->bytes,
                          .next = d + 2 };
    desc[d + 2] = (Desc){ .addr = REQ_STATUS + s, .len = 1, .flags = DESC_F_WRITE };
    if (w->kind != T_IN)
        memset((void *)(DATA_BUFFERS + w->bytes * s), 0xa5, w->bytes);
}

static int check_workload(const Blk *b, const Workload *w)
{
    bool ok = (w->kind == T_IN || w->kind == T_OUT || (w->kind == T_FLUSH && b->flush)) &&
              w->bytes >= 512 && w->bytes % 512 == 0 && w->bytes <= b->sectors * 512 &&
              w->depth >= 1 && 3 * w->depth <= b->qsize &&
              DATA_BUFFERS + w->bytes * w->depth <= DATA_LIMIT && w->count >= 1 &&
              w->random <= 1 && (w->kind != T_FLUSH || (w->depth == 1 && w->bytes == 4096));
    return ok ? 0 : fail(GUEST_E_PARAM, w->name, w->kind);
}

/* Take the completions the device has put in the used ring; refill their slots while
 * requests are left. -errno-like exit status on a bad entry. */
static int take_completions(Blk *b, Workload *w, uint16_t used_idx, uint64_t total,
                            uint64_t *done)
{
    compiler_barrier();                     /* the entries after the index */
    while (b->used_seen != used_idx) {
        uint32_t id = used->ring[b->used_seen % b->qsize].id;
        unsigned s = id / 3;
        if (id % 3 || s >= w->depth)
            return fail(GUEST_E_USED_ID, "used ring names descriptor", id);
        if (status[s] != 0)
            return fail(GUEST_E_STATUS, w->name, status[s]);
        b->used_seen++;
        (*done)++;
        if (w->requests < total)
            submit(b, w, s);
    }
    return 0;
}

/* a * b / c for a <= c, through the 128-bit product (no libgcc here). */
static uint64_t scale(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t q, r;
    __asm__("mulq %3\n\tdivq %4" : "=a"(q), "=&d"(r) : "a"(a), "rm"(b), "rm"(c) : "cc");
    return q;
}

static int run_workload(Blk *b, Workload *w, uint64_t *wall_ns)
{
    uint64_t total = w->kind == T_FLUSH ? 2 * w->count : w->count, done = 0;
    uint64_t depth = w->depth < total ? w->depth : total;
    for (unsigned s = 0; s < depth; s++)
        prepare_slot(w, s);
    uint32_t us0 = clock_us();
    uint64_t tsc0 = rdtsc();
    for (unsigned s = 0; s < depth; s++)
        submit(b, w, s);
    publish(b, w);
    while (done < total) {
        uint64_t wait_start = rdtsc();
        uint16_t idx;
        while ((idx = used->idx) == b->used_seen) {
            cpu_relax();
            if (rdtsc() - wait_start > WAIT_LIMIT_US / 1000 * b->tsc_per_ms)
                return fail(GUEST_E_TIMEOUT, w->name, done);
        }
        uint64_t t = rdtsc(), submitted = w->requests;
        int rc = take_completions(b, w, idx, total, &done);
        if (rc)
            return rc;
        w->own_tsc += rdtsc() - t;
        if (w->requests != submitted)
            publish(b, w);
    }
    uint64_t tsc = rdtsc() - tsc0 + 1;
    *wall_ns = (uint64_t)(clock_us() - us0) * 1000;
    w->own_tsc = scale(w->own_tsc, *wall_ns, tsc);      /* now in ns */
    w->notify_tsc = scale(w->notify_tsc, *wall_ns, tsc);
    return 0;
}

static int run_param(Blk *b, const GuestParam *p)
{
    if (p->nvalues != 5)
        return fail(GUEST_E_PARAM, p->name, p->nvalues);
    Workload w = { .name = p->name, .kind = p->values[0], .bytes = p->values[1],
                   .depth = p->values[2], .random = p->values[3], .count = p->values[4],
                   .lcg = 0x2545f4914f6cdd1dull };
    int rc = check_workload(b, &w);
    if (rc)
        return rc;
    Line l = { 0 };
    line_str(&l, "begin ");
    line_str(&l, w.name);
    say(b, &l);
    uint64_t wall_ns = 0;
    rc = run_workload(b, &w, &wall_ns);
    if (rc)
        return rc;
    uint64_t fields[] = { w.count, wall_ns, w.own_tsc, w.notify_tsc, w.notifies };
    line_str(&l, "result ");
    line_str(&l, w.name);
    for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        line_str(&l, " ");
        line_u64(&l, fields[i]);
    }
    say(b, &l);
    return 0;
}

int guest_main(void)
{
    Blk b = { 0 };
    uint32_t notify_mult = 0;
    const GuestParam *idle = guest_param("idle_us");
    if (idle)
        b.idle_us = (uint32_t)idle->values[0];
    if (!find_function(&b))
        return fail(GUEST_E_NO_DEVICE, "no virtio block function on bus 0, slots", 32);
    int rc = find_structures(&b, &notify_mult);
    if (rc == 0)
        rc = negotiate(&b);
    if (rc == 0)
        rc = setup_queue(&b, notify_mult);
    if (rc)
        return rc;
    b.tsc_per_ms = calibrate_tsc();
    Line l = { 0 };
    uint64_t ready[] = { b.slot, b.qsize, b.sectors };
    line_str(&l, "ready");
    for (unsigned i = 0; i < 3; i++) {
        line_str(&l, " ");
        line_u64(&l, ready[i]);
    }
    say(&b, &l);
    for (const GuestParam *p = guest_params(); rc == 0 && p->name[0]; p++)
        if (!str_eq(p->name, "idle_us"))
            rc = run_param(&b, p);
    return rc;
}
