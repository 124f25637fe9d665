/*
 * memory/access_region.c — one access to one region: memory_region_dispatch_read/write.
 *
 * The guest's access is first checked against ops->valid (size, alignment, accepts);
 * a refused access is answered with all ones (reads) and MEMTX_ACCESS_ERROR. It is
 * then fitted to ops->impl, the sizes the callbacks implement, as QEMU's
 * access_with_adjusted_size: too wide an access becomes several callbacks of
 * impl.max_access_size, too narrow one is widened to impl.min_access_size. Unlike
 * QEMU, when impl.unaligned is false the callbacks are always given addresses aligned
 * to their size: the access is carried out on the aligned window around it, reads
 * extracting the wanted bytes and partial writes read-modify-writing the edge words.
 *
 * Endianness: values at this interface are in the guest's order (little endian); a
 * big-endian device sees byte-swapped values, so that for every device the bytes of
 * the memory image are the same whichever access width is used.
 *
 * RAM-backed regions (RAM, ROM, a ROM device in romd mode for reads) are served from
 * their RAMBlock, so the ioreq loop can hand any section's region to these functions.
 */
#include "memory/access-internal.h"

#include <assert.h>
#include <inttypes.h>

#include "util/log.h"

static uint64_t unassigned_read(void *opaque, hwaddr addr, unsigned size)
{
    return access_all_ones(size);
}

static void unassigned_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
}

const MemoryRegionOps unassigned_mem_ops = {
    .read = unassigned_read,
    .write = unassigned_write,
    .endianness = DEVICE_NATIVE_ENDIAN,
};

static LogRateLimit refused_log;

static bool size_is_valid(unsigned size)
{
    return size - 1 < 8 && !(size & (size - 1));       /* 1, 2, 4 or 8 */
}

static bool access_valid(const MemoryRegion *mr, hwaddr addr, unsigned size, bool is_write)
{
    const MemoryRegionOps *ops = mr->ops;
    if (!size_is_valid(size))
        return false;
    if (ops->valid.accepts && !ops->valid.accepts(mr->opaque, addr, size, is_write))
        return false;
    if (!ops->valid.unaligned && (addr & (size - 1)))
        return false;
    if (!ops->valid.max_access_size)
        return true;                /* no constraint, as QEMU */
    return size >= ops->valid.min_access_size && size <= ops->valid.max_access_size;
}

static bool device_is_big_endian(const MemoryRegion *mr)
{
    return mr->ops->endianness == DEVICE_BIG_ENDIAN;
}

/* Guest-order value ↔ the device's order, for n bytes. */
static uint64_t device_order(const MemoryRegion *mr, uint64_t v, unsigned n)
{
    return device_is_big_endian(mr) ? access_bswap(v, n) : v;
}

static uint64_t call_read(MemoryRegion *mr, hwaddr addr, unsigned n)
{
    uint64_t v = mr->ops->read ? mr->ops->read(mr->opaque, addr, n) : access_all_ones(n);
    return v & access_all_ones(n);
}

static MemTxResult call_write(MemoryRegion *mr, hwaddr addr, uint64_t v, unsigned n)
{
    if (mr->ops->write_with_result)
        return mr->ops->write_with_result(mr->opaque, addr, v, n);
    if (mr->ops->write)
        mr->ops->write(mr->opaque, addr, v, n);
    return MEMTX_OK;
}

/* Callback n-byte word of the device ↔ its bytes in memory-image order. */
static void image_put(const MemoryRegion *mr, uint8_t *img, uint64_t v, unsigned n)
{
    access_stn_le(img, n, device_order(mr, v, n));
}

static uint64_t image_get(const MemoryRegion *mr, const uint8_t *img, unsigned n)
{
    return device_order(mr, access_ldn_le(img, n), n);
}

/* The callback words of w bytes an access covers: [start, start + len). */
typedef struct Window {
    hwaddr start;
    unsigned len;
} Window;

static Window window_for(const MemoryRegionOps *ops, hwaddr addr, unsigned size, unsigned w)
{
    if (ops->impl.unaligned)
        return (Window){ .start = addr, .len = size > w ? size : w };
    hwaddr start = addr & ~(hwaddr)(w - 1);
    unsigned head = addr - start;
    return (Window){ .start = start, .len = (head + size + w - 1) & ~(w - 1) };
}

/* One callback of exactly the access. */
static inline MemTxResult call_direct(MemoryRegion *mr, hwaddr addr, uint64_t *data,
                                      unsigned size, bool is_write)
{
    if (is_write)
        return call_write(mr, addr, device_order(mr, *data, size), size);
    *data = device_order(mr, call_read(mr, addr, size), size);
    return MEMTX_OK;
}

/* What a read that nothing answers returns. */
static void fill_all_ones(uint64_t *data, unsigned size, bool is_write)
{
    if (!is_write)
        *data = access_all_ones(size < 8 ? size : 8);
}

/* The access does not fit one callback: go through the memory image of its window.
 * (Out of line, like the refusal below, to keep the common path lean.) */
__attribute__((noinline))
static MemTxResult access_adjusted(MemoryRegion *mr, hwaddr addr, uint64_t *data,
                                   unsigned size, unsigned w, bool is_write)
{
    Window win = window_for(mr->ops, addr, size, w);
    unsigned head = addr - win.start;
    uint8_t img[16];
    for (unsigned k = 0; k < win.len; k += w) {
        /* Reads need every word; writes only those they cover partially. */
        bool partial = k < head || k + w > head + size;
        if (!is_write || partial)
            image_put(mr, img + k, call_read(mr, win.start + k, w), w);
    }
    if (!is_write) {
        *data = access_ldn_le(img + head, size);
        return MEMTX_OK;
    }
    access_stn_le(img + head, size, *data);
    MemTxResult r = MEMTX_OK;
    for (unsigned k = 0; k < win.len; k += w)
        r |= call_write(mr, win.start + k, image_get(mr, img + k, w), w);
    return r;
}

__attribute__((noinline, cold))
static MemTxResult access_refused(MemoryRegion *mr, hwaddr addr, uint64_t *data,
                                  unsigned size, bool is_write)
{
    log_ratelimited(&refused_log, LOG_INFO, "refused %u-byte %s at 0x%" PRIx64 " of '%s'",
                    size, is_write ? "write" : "read", addr, memory_region_name(mr));
    fill_all_ones(data, size, is_write);
    return MEMTX_ACCESS_ERROR;
}

/* Can the callbacks take this access as it is, with no check left to make? (Aligned,
 * a size both valid and implemented, no accepts() to ask.) */
static bool ops_take_directly(const MemoryRegionOps *ops, hwaddr addr, unsigned size)
{
    unsigned vmax = ops->valid.max_access_size;
    unsigned imin = ops->impl.min_access_size, imax = ops->impl.max_access_size;
    return size_is_valid(size) && !(addr & (size - 1)) && !ops->valid.accepts &&
           (!vmax || (size >= ops->valid.min_access_size && size <= vmax)) &&
           size >= imin && size <= (imax ? imax : 4);
}

/* Everything access_ops() does not do directly. */
__attribute__((noinline))
static MemTxResult access_ops_general(MemoryRegion *mr, hwaddr addr, uint64_t *data,
                                      unsigned size, bool is_write)
{
    const MemoryRegionOps *ops = mr->ops;
    if (!access_valid(mr, addr, size, is_write))
        return access_refused(mr, addr, data, size, is_write);
    unsigned min = ops->impl.min_access_size ? ops->impl.min_access_size : 1;
    unsigned max = ops->impl.max_access_size ? ops->impl.max_access_size : 4;
    unsigned w = size < min ? min : size > max ? max : size;
    assert(w <= 8 && !(w & (w - 1)) && "impl sizes must be powers of two up to 8");
    if (w == size && (ops->impl.unaligned || !(addr & (w - 1))))
        return call_direct(mr, addr, data, size, is_write);
    return access_adjusted(mr, addr, data, size, w, is_write);
}

MemTxResult access_ops(MemoryRegion *mr, hwaddr addr, uint64_t *data, unsigned size,
                       bool is_write)
{
    if (!ops_take_directly(mr->ops, addr, size))
        return access_ops_general(mr, addr, data, size, is_write);
    return call_direct(mr, addr, data, size, is_write);
}

/* A RAM-backed region, as a guest-order value. */
static MemTxResult dispatch_ram(MemoryRegion *mr, hwaddr addr, uint64_t *data,
                                unsigned size, bool is_write)
{
    uint8_t buf[8];
    if (!size_is_valid(size) || (is_write && access_ram_readonly(mr))) {
        fill_all_ones(data, size, is_write);
        return MEMTX_ACCESS_ERROR;
    }
    if (is_write)
        access_stn_le(buf, size, *data);
    MemTxResult r = access_ram(mr, addr, buf, size, is_write);
    if (!is_write)
        *data = access_ldn_le(buf, size);
    return r;
}

static MemTxResult dispatch(MemoryRegion *mr, hwaddr addr, uint64_t *data, unsigned size,
                            bool is_write)
{
    if (access_is_ram(mr, is_write))
        return dispatch_ram(mr, addr, data, size, is_write);
    if (!access_has_ops(mr)) {
        fill_all_ones(data, size, is_write);
        return MEMTX_DECODE_ERROR;
    }
    return access_ops(mr, addr, data, size, is_write);
}

MemTxResult memory_region_dispatch_read(MemoryRegion *mr, hwaddr addr, uint64_t *data,
                                        unsigned size, MemTxAttrs attrs)
{
    return dispatch(mr, addr, data, size, false);
}

MemTxResult memory_region_dispatch_write(MemoryRegion *mr, hwaddr addr, uint64_t data,
                                         unsigned size, MemTxAttrs attrs)
{
    return dispatch(mr, addr, &data, size, true);
}
