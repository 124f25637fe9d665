/*
 * memory/access_map.c — mapping guest RAM for a device's zero-copy DMA.
 *
 * A disk hands the kernel pointers straight into guest memory, so the mapping must
 * outlive one call: address_space_map() finds the RAM section at an address (RAM only,
 * as address_space_rw_ram_only: MMIO, holes and, for a device that writes, ROM or
 * readonly RAM are refused) and returns a host pointer for the contiguous prefix it
 * can give — the section's end, or what the block's backend mapped (under Xen the
 * mapcache, which keeps the bucket locked until released). address_space_unmap()
 * releases it and marks what the device wrote dirty, as a copy would have.
 *
 * The DmaMap remembers the region and offset, so unmapping needs no reverse lookup.
 * The region must not go away while mapped: devices release every mapping before the
 * machine tears its memory down (a disk waits for its requests in flight).
 */
#include "memory/access-internal.h"

#include <errno.h>

int address_space_map(AddressSpace *as, hwaddr addr, hwaddr len, bool is_write, DmaMap *m)
{
    *m = (DmaMap){ 0 };
    if (len == 0)
        return -EINVAL;
    MemoryRegionSection s = address_space_lookup(as, addr);
    MemoryRegion *mr = s.mr;
    if (!mr || !access_is_ram(mr, is_write) ||
        (is_write && (s.readonly || access_ram_readonly(mr))))
        return -EFAULT;
    RAMBlock *block = mr->ram_block;
    hwaddr off = s.offset_within_region + (addr - s.offset_within_address_space);
    hwaddr left = s.size - (addr - s.offset_within_address_space);
    if (!block || off >= block->used_length)
        return -EFAULT;
    if (left > block->used_length - off)
        left = block->used_length - off;
    hwaddr n = len < left ? len : left;
    void *host;
    if (block->host) {
        host = block->host + off;
    } else {
        if (!block->backend.map)
            return -EFAULT;
        host = block->backend.map(block->backend.opaque, block->offset + off, &n, is_write);
        if (!host || n == 0)
            return -EFAULT;
        if (n > len)
            n = len;
    }
    *m = (DmaMap){ .host = host, .len = n, .mr = mr, .offset = off, .is_write = is_write };
    return 0;
}

void address_space_unmap(DmaMap *m, hwaddr access_len)
{
    if (!m->host)
        return;
    RAMBlock *block = m->mr->ram_block;
    if (m->is_write && access_len) {
        if (access_len > m->len)
            access_len = m->len;
        ram_block_set_dirty(block, m->offset, access_len, access_dirty_mask(m->mr));
    }
    if (!block->host && block->backend.release)
        block->backend.release(block->backend.opaque, m->host, m->len, m->is_write);
    *m = (DmaMap){ 0 };
}
