/*
 * xen/ioreq_exec.c — validate and perform one ioreq (see ioreq_exec.h).
 *
 * Shapes of requests, as Xen sends them:
 *   PIO/COPY, data_is_ptr = 0: one access of `size` bytes at addr; `data` holds the
 *     value (write) or receives it (read). count > 1 repeats it (ports: same port,
 *     MMIO: successive addresses), as QEMU does.
 *   PIO/COPY, data_is_ptr = 1 ("rep ins/outs/movs"): `count` elements of `size` bytes
 *     move between the device at addr and guest memory at data. Guest addresses step
 *     by +size, or by -size when df is set; for MMIO the device address steps too, for
 *     ports it stays. dir = IOREQ_READ moves device → guest memory.
 * Guest memory is reached through the memory address space, so RAM under Xen goes
 * through the mapcache and writes reach the dirty log, as device DMA does.
 *
 * Reps run in slices so that no request holds the loop. Xen cannot take a partial
 * answer (it reads back only `data` from the slot and keeps its own `count`), so a
 * request is answered once every element is done; until then the caller serves
 * other work between slices. A slice ends after one page of data (Xen never puts more
 * in one request, so a request shaped by Xen completes in one slice) or after
 * IOREQ_SLICE_NS, whichever comes first: the time bound is for devices whose accesses
 * are slow (a UART writing each byte to a file).
 */
#include "xen/ioreq_exec.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "util/clock.h"

/* Upper bound on the bytes one request may move. Xen itself never sends more than a
 * page per emulated rep; larger requests are still served, a slice at a time. */
#define IOREQ_MAX_REP_BYTES (16u << 20)
/* One slice: at most a page of elements (also the bounce buffer), at most this long,
 * with the clock read every IOREQ_CLOCK_EVERY elements. */
#define IOREQ_SLICE_BYTES   4096u
#define IOREQ_SLICE_NS      500000u
#define IOREQ_CLOCK_EVERY   64u

/* 1, 2 or 4 bytes; 8 only for memory (x86 ports and PCI config are at most 4 wide). */
static bool size_is_valid(uint32_t size, uint32_t type)
{
    switch (size) {
    case 1: case 2: case 4:
        return true;
    case 8:
        return type == IOREQ_TYPE_COPY;
    default:
        return false;
    }
}

/* Does [base, base + span) fit in 64 bits going up, or (base - span + size) going down? */
static bool range_is_valid(uint64_t base, uint64_t span, uint32_t size, bool down)
{
    if (span == 0)
        return true;
    if (!down)
        return base + (span - 1) >= base;
    return base + size - 1 >= base && base >= span - size;
}

static int reject(IoreqExecCtx *ctx, ioreq_t *req, const char *why)
{
    ctx->rejected++;
    log_ratelimited(&ctx->bad_request_log, LOG_WARN,
                    "ignoring bad ioreq (%s): type %u dir %u size %u count %u "
                    "addr 0x%" PRIx64 " data 0x%" PRIx64 " ptr %u df %u",
                    why, req->type, req->dir, req->size, req->count, req->addr, req->data,
                    req->data_is_ptr, req->df);
    if (req->dir == IOREQ_READ && !req->data_is_ptr)
        req->data = ~(uint64_t)0;
    return -EINVAL;
}

static int validate(IoreqExecCtx *ctx, ioreq_t *req)
{
    if (!size_is_valid(req->size, req->type))
        return reject(ctx, req, "size");
    if (req->count == 0)
        return reject(ctx, req, "count 0");
    uint64_t span = (uint64_t)req->count * req->size;       /* ≤ 2^35: no overflow */
    if (req->count > 1 && span > IOREQ_MAX_REP_BYTES)
        return reject(ctx, req, "count too large");
    bool down = req->df;
    if (req->type == IOREQ_TYPE_PIO) {
        if (req->addr > 0xffff || req->addr + req->size > 0x10000)
            return reject(ctx, req, "port out of range");
    } else if (!range_is_valid(req->addr, span, req->size, down)) {
        return reject(ctx, req, "address wraps");
    }
    if (req->data_is_ptr && !range_is_valid(req->data, span, req->size, down))
        return reject(ctx, req, "guest buffer wraps");
    return 0;
}

/* One access of req->size bytes to the device side. False: the device could not take
 * the write yet (MEMTX_RETRY) and nothing was done. */
static bool device_access(IoreqExecCtx *ctx, const ioreq_t *req, uint64_t addr, void *val,
                          bool is_write)
{
    AddressSpace *as = req->type == IOREQ_TYPE_PIO ? ctx->as_io : ctx->as_mem;
    return !(address_space_rw(as, addr, MEMTXATTRS_UNSPECIFIED, val, req->size, is_write) &
             MEMTX_RETRY);
}

/*
 * A port rep hits one port `count` times: when a single io region holds the whole
 * port, find it once and call it directly per element instead of looking the port up
 * every time. Returns NULL when the port needs the general path (a hole, or a region
 * that ends inside the access).
 */
static MemoryRegion *rep_port_region(IoreqExecCtx *ctx, const ioreq_t *req, hwaddr *offset)
{
    if (req->type != IOREQ_TYPE_PIO)
        return NULL;
    MemoryRegionSection s = address_space_lookup(ctx->as_io, req->addr);
    if (!s.mr || s.mr->kind != MR_KIND_IO || s.size < req->size)
        return NULL;
    *offset = s.offset_within_region;
    return s.mr;
}

/* Element values in the bounce buffer are little-endian, as in guest memory (x86). The
 * switch lets the compiler use plain loads and stores instead of a memcpy call. */
static uint64_t element_load(const uint8_t *slot, unsigned size)
{
    uint8_t b1; uint16_t b2; uint32_t b4;
    switch (size) {
    case 1: memcpy(&b1, slot, 1); return b1;
    case 2: memcpy(&b2, slot, 2); return b2;
    default: memcpy(&b4, slot, 4); return b4;      /* ports: at most 4 bytes */
    }
}

static void element_store(uint8_t *slot, unsigned size, uint64_t v)
{
    uint8_t b1 = (uint8_t)v; uint16_t b2 = (uint16_t)v; uint32_t b4 = (uint32_t)v;
    switch (size) {
    case 1: memcpy(slot, &b1, 1); break;
    case 2: memcpy(slot, &b2, 2); break;
    default: memcpy(slot, &b4, 4); break;
    }
}

/* One element of a port rep; false as device_access. */
static bool port_element(IoreqExecCtx *ctx, const ioreq_t *req, MemoryRegion *mr,
                         hwaddr offset, uint8_t *slot, bool is_write)
{
    if (!mr)
        return device_access(ctx, req, req->addr, slot, is_write);
    if (is_write)
        return !(memory_region_dispatch_write(mr, offset, element_load(slot, req->size),
                                              req->size, MEMTXATTRS_UNSPECIFIED) &
                 MEMTX_RETRY);
    uint64_t v = 0;
    memory_region_dispatch_read(mr, offset, &v, req->size, MEMTXATTRS_UNSPECIFIED);
    element_store(slot, req->size, v);
    return true;
}

/* After `done` elements of this slice: has the slice used up its time? */
static bool slice_expired(uint32_t done, uint64_t deadline_ns)
{
    return done % IOREQ_CLOCK_EVERY == 0 && clock_monotonic_ns() >= deadline_ns;
}

/* Elements the next slice may perform: what is left, at most a page of data. */
static uint32_t slice_elements(const ioreq_t *req, uint32_t done)
{
    uint32_t left = req->count - done, per_slice = IOREQ_SLICE_BYTES / req->size;
    return left < per_slice ? left : per_slice;
}

/* One element of a data_is_ptr = 0 request at addr: req->data is written, or read
 * into. False if the device cannot take it yet. */
static bool immediate_element(IoreqExecCtx *ctx, ioreq_t *req, uint64_t addr)
{
    bool is_write = req->dir == IOREQ_WRITE;
    uint64_t val = is_write ? req->data : 0;
    if (!device_access(ctx, req, addr, &val, is_write))
        return false;
    if (!is_write)
        req->data = val;
    return true;
}

/* data_is_ptr = 0: the same value (or a read) `count` times. Returns elements done;
 * *wait is set when the slice stopped at an element the device could not take yet. */
static uint32_t exec_immediate(IoreqExecCtx *ctx, ioreq_t *req, uint32_t done,
                               uint64_t deadline_ns, bool *wait)
{
    uint64_t step = req->type == IOREQ_TYPE_COPY ? req->size : 0;
    if (req->df)
        step = -step;
    const uint32_t n = slice_elements(req, done);
    uint64_t addr = req->addr + done * step;
    uint32_t k = 0;
    while (k < n) {
        if (!immediate_element(ctx, req, addr)) {
            *wait = true;
            break;
        }
        addr += step;
        if (slice_expired(++k, deadline_ns))
            break;
    }
    return k;
}

/*
 * data_is_ptr: move the elements through a bounce buffer, one guest-memory access per
 * slice (so RAM is mapped and marked dirty once per slice, not per element). The
 * pointer side is guest RAM only, as Xen gives it: a pointer at MMIO (a device's own
 * registers among them) reaches no device, reads all ones and drops writes. With df
 * set, element i lives at data - i * size: the slice [done, done + n) is the guest
 * block ending at data - done * size + size, in reverse element order, so the first
 * k elements of the slice sit in the block's top k slots. Returns elements done, and
 * *wait as exec_immediate (only writes to a device wait, so the bounce buffer was read
 * from the guest, not written to it: the next slice reads it again).
 */
static uint32_t exec_indirect(IoreqExecCtx *ctx, ioreq_t *req, uint32_t done,
                              uint64_t deadline_ns, bool *wait)
{
    uint8_t bounce[IOREQ_SLICE_BYTES];
    const uint32_t size = req->size, n = slice_elements(req, done);
    const bool to_guest = req->dir == IOREQ_READ;
    const uint64_t dev_step = req->type == IOREQ_TYPE_COPY ? size : 0;
    hwaddr port_offset = 0;
    MemoryRegion *port_mr = rep_port_region(ctx, req, &port_offset);
    uint64_t off = (uint64_t)done * size, len = (uint64_t)n * size;
    uint64_t gaddr = req->df ? req->data - off - len + size : req->data + off;

    if (!to_guest)
        address_space_rw_ram_only(ctx->as_mem, gaddr, bounce, len, false);
    uint32_t k = 0;
    while (k < n) {
        uint64_t elem = done + k;
        uint8_t *slot = bounce + (req->df ? (uint64_t)(n - 1 - k) * size : (uint64_t)k * size);
        uint64_t dev = req->df ? req->addr - elem * dev_step : req->addr + elem * dev_step;
        bool taken = req->type == IOREQ_TYPE_PIO
                         ? port_element(ctx, req, port_mr, port_offset, slot, !to_guest)
                         : device_access(ctx, req, dev, slot, !to_guest);
        if (!taken) {
            *wait = true;
            break;
        }
        if (slice_expired(++k, deadline_ns))
            break;
    }
    if (to_guest) {
        uint64_t skip = req->df ? (uint64_t)(n - k) * size : 0;    /* slots not filled */
        address_space_rw_ram_only(ctx->as_mem, gaddr + skip, bounce + skip,
                                  (uint64_t)k * size, true);
    }
    return k;
}

static int exec_pci_config(IoreqExecCtx *ctx, ioreq_t *req)
{
    uint32_t sbdf = (uint32_t)(req->addr >> 32), reg = (uint32_t)req->addr;
    if (!size_is_valid(req->size, IOREQ_TYPE_PIO) || req->count != 1 || req->data_is_ptr ||
        reg + req->size > 4096)
        return reject(ctx, req, "PCI config access");
    const IoreqHandlers *h = &ctx->handlers;
    if (req->dir == IOREQ_READ) {
        req->data = h->pci_config_read
                        ? h->pci_config_read(ctx->handlers_opaque, sbdf, reg, req->size)
                        : ~(uint64_t)0;
    } else if (h->pci_config_write) {
        uint64_t mask = req->size == 4 ? 0xffffffffu : (1u << (req->size * 8)) - 1;
        h->pci_config_write(ctx->handlers_opaque, sbdf, reg, req->size, req->data & mask);
    }
    return 0;
}

/* One slice of a PIO or COPY request; see ioreq_exec_slice. */
static int exec_slice(IoreqExecCtx *ctx, IoreqRun *run)
{
    ioreq_t *req = &run->req;
    if (run->done == 0) {
        int ret = validate(ctx, req);
        if (ret < 0)
            return ret;
    }
    /* Every plain access: one element, no slice to keep, no deadline. */
    if (req->count == 1 && !req->data_is_ptr) {
        if (!immediate_element(ctx, req, req->addr)) {
            ctx->waits++;
            return IOREQ_EXEC_WAIT;
        }
        run->done = 1;
        return 0;
    }
    /* slice_expired reads the clock only every IOREQ_CLOCK_EVERY elements: a shorter
     * rest never looks at the deadline, nor costs a clock read. */
    uint64_t deadline_ns = req->count - run->done >= IOREQ_CLOCK_EVERY
                               ? clock_monotonic_ns() + IOREQ_SLICE_NS : 0;
    uint32_t before = run->done;
    bool wait = false;
    if (req->data_is_ptr)
        run->done += exec_indirect(ctx, req, run->done, deadline_ns, &wait);
    else
        run->done += exec_immediate(ctx, req, run->done, deadline_ns, &wait);
    if (wait) {
        ctx->waits++;
        return IOREQ_EXEC_WAIT;
    }
    if (run->done < req->count)
        return IOREQ_EXEC_MORE;
    if (before > 0)
        ctx->split++;
    return 0;
}

int ioreq_exec_slice(IoreqExecCtx *ctx, IoreqRun *run)
{
    ioreq_t *req = &run->req;
    int ret = 0;
    switch (req->type) {
    case IOREQ_TYPE_PIO:
    case IOREQ_TYPE_COPY:
        ret = exec_slice(ctx, run);
        if (ret == -EINVAL)
            return ret;
        break;
    case IOREQ_TYPE_PCI_CONFIG:
        ret = exec_pci_config(ctx, req);
        break;
    case IOREQ_TYPE_TIMEOFFSET:
        /* Guest-chosen: add modulo 2^64 (a signed overflow would be undefined). */
        ctx->time_offset = (int64_t)((uint64_t)ctx->time_offset + req->data);
        break;
    case IOREQ_TYPE_INVALIDATE:
        if (ctx->handlers.invalidate)
            ctx->handlers.invalidate(ctx->handlers_opaque);
        break;
    default:
        return reject(ctx, req, "unknown type");
    }
    if (ret == 0)
        ctx->handled++;
    if (ctx->request_done)
        ctx->request_done(ctx->request_done_opaque);
    return ret;
}

int ioreq_exec(IoreqExecCtx *ctx, ioreq_t *req)
{
    IoreqRun run = { .req = *req };
    int ret;
    do {
        ret = ioreq_exec_slice(ctx, &run);
    } while (ret == IOREQ_EXEC_MORE);
    if (ret == IOREQ_EXEC_WAIT)
        ctx->dropped++;         /* see ioreq_exec() in ioreq_exec.h */
    *req = run.req;
    return ret;
}
