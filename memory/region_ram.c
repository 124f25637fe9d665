/*
 * memory/region_ram.c — regions backed by a RAMBlock: RAM (host memory or a backend's),
 * caller-memory RAM, ROM and ROM devices, and the region → host pointer / ram_addr
 * queries.
 *
 * As QEMU's memory_region_init_ram: the common region init, then a RAMBlock of the
 * region's size tied to it (block->mr = mr, mr->ram_block = block), and a destructor
 * that frees the block when the region is finalised. If the block cannot be allocated
 * the init fails as a whole: the region is finalised again (nothing stays allocated)
 * and the caller must not finalise it a second time.
 */
#include "memory/memory-internal.h"
#include "memory/ram-internal.h"

#include <errno.h>

static void region_ram_destructor(MemoryRegion *mr)
{
    qemu_ram_free(mr->ram_block);
    mr->ram_block = NULL;
}

/* Common init of `kind`, then a block of `size` bytes: caller memory if host, else
 * from backend if given, else anonymous host memory. */
static int init_with_block(MemoryRegion *mr, const char *owner, const char *name,
                           uint64_t size, void *host, const RamBackend *backend,
                           enum memory_region_kind kind, Error **errp)
{
    RAMBlock *block;
    int ret;

    memory_region_init_common(mr, owner, name, memory_size_from_u64(size), kind);
    ret = ram_alloc_internal(size, size, NULL, host, backend, false, mr, &block, errp);
    if (ret) {
        memory_region_finalize(mr);
        return ret;
    }
    mr->ram_block = block;
    mr->destructor = region_ram_destructor;
    return 0;
}

int memory_region_init_ram(MemoryRegion *mr, const char *owner, const char *name,
                           uint64_t size, Error **errp)
{
    return init_with_block(mr, owner, name, size, NULL, NULL, MR_KIND_RAM, errp);
}

int memory_region_init_ram_backed(MemoryRegion *mr, const char *owner, const char *name,
                                  uint64_t size, const RamBackend *backend, Error **errp)
{
    return init_with_block(mr, owner, name, size, NULL, backend, MR_KIND_RAM, errp);
}

int memory_region_init_ram_ptr(MemoryRegion *mr, const char *owner, const char *name,
                               uint64_t size, void *host, Error **errp)
{
    if (!host) {
        error_setg(errp, "RAM region '%s': NULL host pointer", name ? name : "(anonymous)");
        return -EINVAL;
    }
    return init_with_block(mr, owner, name, size, host, NULL, MR_KIND_RAM, errp);
}

int memory_region_init_rom(MemoryRegion *mr, const char *owner, const char *name,
                           uint64_t size, Error **errp)
{
    int ret = init_with_block(mr, owner, name, size, NULL, NULL, MR_KIND_ROM, errp);
    if (!ret)
        mr->readonly = true;
    return ret;
}

int memory_region_init_rom_device(MemoryRegion *mr, const char *owner,
                                  const MemoryRegionOps *ops, void *opaque,
                                  const char *name, uint64_t size, Error **errp)
{
    int ret = init_with_block(mr, owner, name, size, NULL, NULL, MR_KIND_ROM_DEVICE, errp);
    if (!ret) {
        mr->ops = ops;
        mr->opaque = opaque;
    }
    return ret;
}

/* Follow aliases down to the region that owns the block, adding their offsets. */
static const MemoryRegion *resolve_alias(const MemoryRegion *mr, hwaddr *offset)
{
    *offset = 0;
    while (mr->alias) {
        *offset += mr->alias_offset;
        mr = mr->alias;
    }
    return mr;
}

void *memory_region_get_ram_ptr(const MemoryRegion *mr)
{
    hwaddr offset;
    mr = resolve_alias(mr, &offset);
    return mr->ram_block ? ram_block_host_ptr(mr->ram_block, offset) : NULL;
}

ram_addr_t memory_region_get_ram_addr(const MemoryRegion *mr)
{
    return mr->ram_block ? mr->ram_block->offset : RAM_ADDR_INVALID;
}
