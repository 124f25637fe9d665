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
static uint64_t load(AddressSpace *as, hwaddr addr, unsigned size, MemTxResult *result)
{
    hwaddr off;
    uint64_t v;
    MemTxResult r;
    MemoryRegion *mr = single_io_region(as, addr, size, false, &off);
    if (mr) {
        r = memory_region_dispatch_read(mr, off, &v, size, MEMTXATTRS_UNSPECIFIED);
    } else {
        uint8_t buf[8];
        r = address_space_rw(as, addr, MEMTXATTRS_UNSPECIFIED, buf, size, false);
        v = access_ldn_le(buf, size);
    }
    if (result)
        *result = r;
    return v;
}

static void store(AddressSpace *as, hwaddr addr, uint64_t v, unsigned size,
                  MemTxResult *result)
{
    hwaddr off;
    MemTxResult r;
    MemoryRegion *mr = single_io_region(as, addr, size, true, &off);
    if (mr) {
        r = memory_region_dispatch_write(mr, off, v, size, MEMTXATTRS_UNSPECIFIED);
    } else {
        uint8_t buf[8];
        access_stn_le(buf, size, v);
        r = address_space_rw(as, addr, MEMTXATTRS_UNSPECIFIED, buf, size, true);
    }
    if (result)
        *result = r;
}

uint8_t address_space_ldub(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r)
{
    return (uint8_t)load(as, addr, 1, r);
}

uint16_t address_space_lduw_le(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r)
{
    return (uint16_t)load(as, addr, 2, r);
}

uint32_t address_space_ldl_le(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r)
{
    return (uint32_t)load(as, addr, 4, r);
}

uint64_t address_space_ldq_le(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r)
{
    return load(as, addr, 8, r);
}

uint16_t address_space_lduw_be(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r)
{
    return __builtin_bswap16((uint16_t)load(as, addr, 2, r));
}

uint32_t address_space_ldl_be(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r)
{
    return __builtin_bswap32((uint32_t)load(as, addr, 4, r));
}

uint64_t address_space_ldq_be(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r)
{
    return __builtin_bswap64(load(as, addr, 8, r));
}

void address_space_stb(AddressSpace *as, hwaddr addr, uint8_t val, MemTxAttrs attrs,
                       MemTxResult *r)
{
    store(as, addr, val, 1, r);
}

void address_space_stw_le(AddressSpace *as, hwaddr addr, uint16_t val, MemTxAttrs attrs,
                          MemTxResult *r)
{
    store(as, addr, val, 2, r);
}

void address_space_stl_le(AddressSpace *as, hwaddr addr, uint32_t val, MemTxAttrs attrs,
                          MemTxResult *r)
{
    store(as, addr, val, 4, r);
}

void address_space_stq_le(AddressSpace *as, hwaddr addr, uint64_t val, MemTxAttrs attrs,
                          MemTxResult *r)
{
    store(as, addr, val, 8, r);
}

void address_space_stw_be(AddressSpace *as, hwaddr addr, uint16_t val, MemTxAttrs attrs,
                          MemTxResult *r)
{
    store(as, addr, __builtin_bswap16(val), 2, r);
}

void address_space_stl_be(AddressSpace *as, hwaddr addr, uint32_t val, MemTxAttrs attrs,
                          MemTxResult *r)
{
    store(as, addr, __builtin_bswap32(val), 4, r);
}

void address_space_stq_be(AddressSpace *as, hwaddr addr, uint64_t val, MemTxAttrs attrs,
                          MemTxResult *r)
{
    store(as, addr, __builtin_bswap64(val), 8, r);
}
