/*
 * memory/access_sized.c — the sized load/store helpers (address_space_ld*, st*).
 *
 * Each is one guest access of its size: when a single io section holds it, the region
 * gets exactly one memory_region_dispatch_read/write of that size (so ops->valid judges
 * the whole access, as QEMU's ld/st helpers); anything else (RAM, holes, an access
 * straddling sections) goes through address_space_rw on a small buffer. _le/_be say
 * how the bytes of memory are turned into the returned host value.
 */
#include "memory/access-internal.h"

/* The io region answering all of [addr, addr + size) through its ops, or NULL. */
static MemoryRegion *single_io_region(AddressSpace *as, hwaddr addr, unsigned size,
                                      bool is_write, hwaddr *off)
{
    AddressSpaceDispatch *d = as->current_map->dispatch;
    const MemoryRegionSection *s = d ? dispatch_lookup(d, addr) : NULL;
    if (!s || !access_has_ops(s->mr) || access_is_ram(s->mr, is_write))
        return NULL;
    hwaddr in = addr - s->offset_within_address_space;
    if (s->size - in < size)
        return NULL;
    *off = s->offset_within_region + in;
    return s->mr;
}

/* Guest-order (little-endian) value of size bytes at addr. */
static uint64_t load(AddressSpace *as, hwaddr addr, unsigned size, MemTxAttrs attrs,
                     MemTxResult *result)
{
    hwaddr off;
    uint64_t v;
    MemTxResult r;
    MemoryRegion *mr = single_io_region(as, addr, size, false, &off);
    if (mr) {
        r = memory_region_dispatch_read(mr, off, &v, size, attrs);
    } else {
        uint8_t buf[8];
        r = address_space_rw(as, addr, attrs, buf, size, false);
        v = access_ldn_le(buf, size);
    }
    if (result)
        *result = r;
    return v;
}

static void store(AddressSpace *as, hwaddr addr, uint64_t v, unsigned size,
                  MemTxAttrs attrs, MemTxResult *result)
{
    hwaddr off;
    MemTxResult r;
    MemoryRegion *mr = single_io_region(as, addr, size, true, &off);
    if (mr) {
        r = memory_region_dispatch_write(mr, off, v, size, attrs);
    } else {
        uint8_t buf[8];
        access_stn_le(buf, size, v);
        r = address_space_rw(as, addr, attrs, buf, size, true);
    }
    if (result)
        *result = r;
}

/*
 * The public helpers differ only in name, width and byte order, so one macro writes
 * each load/store pair: address_space_ld<name> and address_space_st<name>. `ld` is
 * QEMU's load name (ldub, lduw, ...), `st` the store's (stb, stw, ...); `swap` turns a
 * little-endian value into the wanted order (keep_le for _le and bytes, a bswap for _be).
 */
#define keep_le(v) (v)

#define DEFINE_LD_ST(ld, st, type, size, swap)                                           \
    type address_space_##ld(AddressSpace *as, hwaddr addr, MemTxAttrs attrs,              \
                            MemTxResult *r)                                               \
    {                                                                                     \
        return swap((type)load(as, addr, size, attrs, r));                                \
    }                                                                                     \
    void address_space_##st(AddressSpace *as, hwaddr addr, type val, MemTxAttrs attrs,    \
                            MemTxResult *r)                                               \
    {                                                                                     \
        store(as, addr, swap(val), size, attrs, r);                                       \
    }

DEFINE_LD_ST(ldub, stb, uint8_t, 1, keep_le)
DEFINE_LD_ST(lduw_le, stw_le, uint16_t, 2, keep_le)
DEFINE_LD_ST(ldl_le, stl_le, uint32_t, 4, keep_le)
DEFINE_LD_ST(ldq_le, stq_le, uint64_t, 8, keep_le)
DEFINE_LD_ST(lduw_be, stw_be, uint16_t, 2, __builtin_bswap16)
DEFINE_LD_ST(ldl_be, stl_be, uint32_t, 4, __builtin_bswap32)
DEFINE_LD_ST(ldq_be, stq_be, uint64_t, 8, __builtin_bswap64)
