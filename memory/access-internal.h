/*
 * memory/access-internal.h — what the access layer's files share: byte-order helpers
 * and the two ways an access reaches a region (RAM copy, MemoryRegionOps).
 *
 * access.c walks an address range section by section (address_space_rw); access_ram.c
 * copies to and from a region's RAMBlock; access_region.c applies MemoryRegionOps
 * constraints and endianness (memory_region_dispatch_*); access_sized.c builds the
 * ld/st helpers on top. Values handed between them are in the guest's byte order
 * (x86: little endian): the value of n bytes of memory image is their little-endian
 * reading. Private to memory/.
 */
#ifndef XENDM_MEMORY_ACCESS_INTERNAL_H
#define XENDM_MEMORY_ACCESS_INTERNAL_H

#include <endian.h>

#include "memory/dispatch-internal.h"

/* Little-endian value of the n (1..8) bytes at p. */
static inline uint64_t access_ldn_le(const void *p, unsigned n)
{
    const uint8_t *b = p;
    switch (n) {
    case 1: return b[0];
    case 2: { uint16_t v; __builtin_memcpy(&v, b, 2); return le16toh(v); }
    case 4: { uint32_t v; __builtin_memcpy(&v, b, 4); return le32toh(v); }
    case 8: { uint64_t v; __builtin_memcpy(&v, b, 8); return le64toh(v); }
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* Store the low n (1..8) bytes of v at p, little endian. */
static inline void access_stn_le(void *p, unsigned n, uint64_t v)
{
    uint8_t *b = p;
    switch (n) {
    case 1: b[0] = (uint8_t)v; return;
    case 2: { uint16_t w = htole16((uint16_t)v); __builtin_memcpy(b, &w, 2); return; }
    case 4: { uint32_t w = htole32((uint32_t)v); __builtin_memcpy(b, &w, 4); return; }
    case 8: { uint64_t w = htole64(v); __builtin_memcpy(b, &w, 8); return; }
    }
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* Reverse the order of the low n (1, 2, 4, 8) bytes of v. */
static inline uint64_t access_bswap(uint64_t v, unsigned n)
{
    switch (n) {
    case 2: return __builtin_bswap16((uint16_t)v);
    case 4: return __builtin_bswap32((uint32_t)v);
    case 8: return __builtin_bswap64(v);
    }
    return v;
}

/* All ones in the low n (1..8) bytes: what an unanswered read returns. */
static inline uint64_t access_all_ones(unsigned n)
{
    return n >= 8 ? UINT64_MAX : (1ULL << (8 * n)) - 1;
}

/* Does this region answer through MemoryRegionOps that actually decode something? */
static inline bool access_has_ops(const MemoryRegion *mr)
{
    return mr->ops && mr->ops != &unassigned_mem_ops;
}

/* Is a read (or write) of mr served from its RAMBlock rather than its ops? */
static inline bool access_is_ram(const MemoryRegion *mr, bool is_write)
{
    switch (mr->kind) {
    case MR_KIND_RAM:
    case MR_KIND_ROM:
        return true;
    case MR_KIND_ROM_DEVICE:
        return !is_write && mr->romd_mode;
    default:
        return false;
    }
}

/* The dirty clients a write to mr's RAM is logged for: the region's, and migration
 * while it runs. */
static inline uint8_t access_dirty_mask(const MemoryRegion *mr)
{
    uint8_t mask = mr->dirty_log_mask;
    if (ram_dirty_migration_active())
        mask |= 1u << DIRTY_MEMORY_MIGRATION;
    return mask;
}

/* Are guest writes to this RAM-backed region dropped? */
static inline bool access_ram_readonly(const MemoryRegion *mr)
{
    return mr->readonly || mr->kind == MR_KIND_ROM;
}

/*
 * One access of `size` bytes at region offset addr through mr's ops (which must be
 * set): checks ops->valid, fits the access to ops->impl, converts endianness. *data is
 * the guest-order value, read or written.
 */
MemTxResult access_ops(MemoryRegion *mr, hwaddr addr, uint64_t *data, unsigned size,
                       bool is_write);

/*
 * Copy len bytes at offset `off` of mr's RAMBlock to (is_write: from) buf, through the
 * host pointer or the block's backend, marking written pages dirty. Does not check
 * readonly (the caller does). Returns MEMTX_DECODE_ERROR, with unread bytes set to
 * 0xff, when the block is missing, too short, or cannot be mapped.
 */
MemTxResult access_ram(MemoryRegion *mr, hwaddr off, void *buf, hwaddr len, bool is_write);

#endif
