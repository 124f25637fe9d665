/*
 * memory/access.c — guest-physical accesses: address_space_rw and friends.
 *
 * An access is walked section by section through the AddressSpace's current dispatch
 * map. RAM sections are copied (access_ram.c); io sections are cut into the widest
 * pieces the device accepts (ops->valid.max_access_size, 4 if unset, and alignment
 * unless impl.unaligned; QEMU's memory_access_size) and handed to
 * memory_region_dispatch_read/write. Bytes that nothing decodes — holes, io regions
 * without ops, and any part of an access beyond 2^64 (it does not wrap to 0) — read as
 * all ones, drop writes and give MEMTX_DECODE_ERROR; each access that touches them
 * counts once in as->unassigned_reads/writes and is logged, rate-limited. Writes to
 * readonly RAM and ROM are dropped with MEMTX_ACCESS_ERROR. Results of the pieces are
 * OR-ed together.
 */
#include "memory/access-internal.h"

#include <inttypes.h>
#include <string.h>

#include "util/log.h"

static LogRateLimit unassigned_log;

static void note_unassigned(AddressSpace *as, hwaddr addr, hwaddr len, bool is_write)
{
    if (is_write)
        as->unassigned_writes++;
    else
        as->unassigned_reads++;
    log_ratelimited(&unassigned_log, LOG_INFO,
                    "%s: unassigned %s of %" PRIu64 " bytes at 0x%" PRIx64,
                    as->name ? as->name : "?", is_write ? "write" : "read", len, addr);
}

/* Widest piece at region offset `off` the device takes, at most len bytes (and 8). */
static unsigned mmio_piece(const MemoryRegionOps *ops, hwaddr off, hwaddr len)
{
    hwaddr max = ops->valid.max_access_size ? ops->valid.max_access_size : 4;
    if (max > 8)
        max = 8;
    if (!ops->impl.unaligned) {
        hwaddr align = off & -off;
        if (align && align < max)
            max = align;
    }
    hwaddr n = len < max ? len : max;
    return 1u << (63 - __builtin_clzll(n));        /* round down to a power of two */
}

/* One piece of n bytes at region offset off, through the region's ops. */
static inline MemTxResult mmio_one(MemoryRegion *mr, hwaddr off, uint8_t *buf,
                                   unsigned n, bool is_write)
{
    uint64_t v = is_write ? access_ldn_le(buf, n) : 0;
    MemTxResult r = access_ops(mr, off, &v, n, is_write);
    if (!is_write)
        access_stn_le(buf, n, v);
    return r;
}

static MemTxResult access_mmio(MemoryRegion *mr, hwaddr off, uint8_t *buf, hwaddr len,
                               bool is_write)
{
    MemTxResult r = MEMTX_OK;
    while (len) {
        unsigned n = mmio_piece(mr->ops, off, len);
        r |= mmio_one(mr, off, buf, n, is_write);
        off += n;
        buf += n;
        len -= n;
    }
    return r;
}

static MemTxResult unassigned(uint8_t *buf, hwaddr len, bool is_write, bool *hit)
{
    if (!is_write)
        memset(buf, 0xff, len);
    *hit = true;
    return MEMTX_DECODE_ERROR;
}

/* A piece a RAM-only access may not touch. */
static MemTxResult refused(uint8_t *buf, hwaddr len, bool is_write)
{
    if (!is_write)
        memset(buf, 0xff, len);
    return MEMTX_ACCESS_ERROR;
}

/* len bytes at offset off of the section's region. */
static MemTxResult access_section(const MemoryRegionSection *s, hwaddr off, uint8_t *buf,
                                  hwaddr len, bool is_write, bool ram_only,
                                  bool *hit_unassigned)
{
    MemoryRegion *mr = s->mr;
    if (access_is_ram(mr, is_write)) {
        if (is_write && (s->readonly || access_ram_readonly(mr)))
            return MEMTX_ACCESS_ERROR;
        return access_ram(mr, off, buf, len, is_write);
    }
    if (ram_only)
        return refused(buf, len, is_write);
    if (!access_has_ops(mr))
        return unassigned(buf, len, is_write, hit_unassigned);
    return access_mmio(mr, off, buf, len, is_write);
}

/* The section at addr and how many of len bytes it holds; NULL (and the hole's
 * length) where nothing answers. Views without a dispatch map (it could not be
 * allocated) are searched directly. */
static const MemoryRegionSection *find(AddressSpace *as, hwaddr addr, hwaddr len,
                                       MemoryRegionSection *tmp, hwaddr *piece)
{
    AddressSpaceDispatch *d = as->current_map->dispatch;
    const MemoryRegionSection *s;
    if (d) {
        s = dispatch_lookup(d, addr);
        if (!s) {
            hwaddr hole = address_space_dispatch_hole_size(d, addr);
            *piece = hole < len ? hole : len;
            return NULL;
        }
    } else {
        *tmp = address_space_lookup(as, addr);
        s = tmp;
    }
    MemSize left = s->size - (addr - s->offset_within_address_space);
    *piece = left < len ? (hwaddr)left : len;
    return s->mr ? s : NULL;
}

/* The general case: walk the access section by section. (Out of line so that the
 * single-register case below stays lean.) */
__attribute__((noinline))
static MemTxResult access_walk(AddressSpace *as, hwaddr addr, uint8_t *p, hwaddr len,
                               bool is_write, bool ram_only)
{
    hwaddr start = addr, total = len;
    MemTxResult r = MEMTX_OK;
    bool hit_unassigned = false;
    while (len) {
        MemoryRegionSection tmp;
        hwaddr n;
        const MemoryRegionSection *s = find(as, addr, len, &tmp, &n);
        if (s)
            r |= access_section(s, s->offset_within_region +
                                   (addr - s->offset_within_address_space),
                                p, n, is_write, ram_only, &hit_unassigned);
        else if (ram_only)
            r |= refused(p, n, is_write);
        else
            r |= unassigned(p, n, is_write, &hit_unassigned);
        p += n;
        len -= n;
        addr += n;
        if (len && addr == 0) {             /* ran past 2^64 */
            r |= ram_only ? refused(p, len, is_write) : unassigned(p, len, is_write,
                                                                   &hit_unassigned);
            break;
        }
    }
    if (hit_unassigned)
        note_unassigned(as, start, total, is_write);
    return r;
}

/*
 * The hot case (a PIO or MMIO register access): one io section with ops holds the
 * whole access and the device takes it in one piece. Returns false if that is not so.
 */
static bool access_single_io(AddressSpace *as, hwaddr addr, uint8_t *buf, hwaddr len,
                             bool is_write, MemTxResult *r)
{
    AddressSpaceDispatch *d = as->current_map->dispatch;
    const MemoryRegionSection *s = d ? dispatch_lookup(d, addr) : NULL;
    if (!s || s->mr->kind != MR_KIND_IO || !access_has_ops(s->mr) || len - 1 >= 8 ||
        (len & (len - 1)))
        return false;
    hwaddr in = addr - s->offset_within_address_space;
    hwaddr off = s->offset_within_region + in;
    /* Aligned and within valid.max: what mmio_piece() would leave whole. */
    unsigned max = s->mr->ops->valid.max_access_size;
    if (s->size - in < len || (off & (len - 1)) || len > (max ? max : 4))
        return false;
    *r = mmio_one(s->mr, off, buf, len, is_write);
    return true;
}

MemTxResult address_space_rw(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, void *buf,
                             hwaddr len, bool is_write)
{
    MemTxResult r;
    if (access_single_io(as, addr, buf, len, is_write, &r))
        return r;
    return access_walk(as, addr, buf, len, is_write, false);
}

MemTxResult address_space_rw_ram_only(AddressSpace *as, hwaddr addr, void *buf, hwaddr len,
                                      bool is_write)
{
    return access_walk(as, addr, buf, len, is_write, true);
}

MemTxResult address_space_read(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, void *buf,
                               hwaddr len)
{
    return address_space_rw(as, addr, attrs, buf, len, false);
}

MemTxResult address_space_write(AddressSpace *as, hwaddr addr, MemTxAttrs attrs,
                                const void *buf, hwaddr len)
{
    return address_space_rw(as, addr, attrs, (void *)buf, len, true);
}
