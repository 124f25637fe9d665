/*
 * mapcache/grant_dma.h — DMA through Xen grant references (virtio with grant_usage).
 *
 * A Xen guest whose virtio devices use grants does not hand a device guest-physical
 * addresses: Linux's grant DMA ops (drivers/xen/grant-dma-ops.c) grant each buffer to
 * the backend's domain and pass the device the address 1 << 63 | ref << 12 | offset, a
 * buffer of several pages taking consecutive refs; the driver only writes or reads
 * (device-readable buffers are granted read-only). A GrantDma is the DMA address space
 * such a device gets instead of the machine's memory: grant addresses, and nothing
 * else, so the device reaches only what the guest granted. Below 1 << 63 there is
 * nothing (a DMA there fails as a hole).
 *
 * Layout: the address space's root is a 2^64 container holding, at GRANT_DMA_ADDR_OFF,
 * a RAM region of GRANT_DMA_MAX_REFS pages whose RAMBlock has no host memory: its
 * backend maps grants. An access at ref << 12 | offset maps the refs its bytes cover
 * (consecutive, at most GRANT_DMA_MAX_MAP_PAGES per piece; longer accesses go piece by
 * piece) with the mapper, writable only when the device writes, so a read-only grant
 * serves device reads. The mapper refuses what the guest did not grant (no entry,
 * another domain, read-only for a write, revoked); the access then fails as DMA to a
 * hole does (address_space_rw*: MEMTX_DECODE_ERROR, address_space_map: -EFAULT), and
 * the device answers the request with an error.
 *
 * Ownership and lifetime of mappings: who maps is the memory layer on the device's
 * behalf; who unmaps is the same layer when the access ends. A copy
 * (address_space_rw*) maps, copies and unmaps within the call; a zero-copy mapping
 * (address_space_map) lives until the device's address_space_unmap, which a device
 * calls when its request completes. Nothing is cached across accesses: a guest ends a
 * grant as soon as the request is back (Linux marks the device broken when the
 * backend still has it mapped), and while a mapping exists Xen keeps the entry in use
 * (GTF_reading/GTF_writing), so a cached mapping would be a grant the guest cannot
 * take back. No invalidation is needed for the same reason: a grant mapping is never
 * kept past the access that made it, and an IOREQ_TYPE_INVALIDATE concerns guest frames
 * (the mapcache), not grants.
 *
 * The GrantDma owns its regions and address space; it is created once the mapper can
 * map (under Xen: an open xengnttab handle, xen/xen_grant.c), handed to devices as
 * DeviceBoard.grant_dma_as, and freed after every device that used it. Single-threaded,
 * like the memory model.
 */
#ifndef XENDM_MAPCACHE_GRANT_DMA_H
#define XENDM_MAPCACHE_GRANT_DMA_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"
#include "util/error.h"

#define GRANT_DMA_ADDR_OFF      (1ULL << 63)    /* Linux's XEN_GRANT_DMA_ADDR_OFF */
/* Refs a device can name: QEMU's XEN_MAX_VIRTIO_GRANTS; Xen's default table (64
 * frames of v1 entries) has 32768. */
#define GRANT_DMA_MAX_REFS      65536u
#define GRANT_DMA_MAX_MAP_PAGES 256u            /* refs per map call (1 MiB) */

/*
 * How grants are mapped. map() maps the grant refs refs[0..count) of the guest (the
 * mapper knows which guest) contiguously, writable or read-only, and returns the base,
 * or NULL with errno set when any of them cannot be mapped (nothing is then mapped).
 * unmap() releases a mapping map() returned, all `count` pages of it: 0 or -errno.
 */
typedef struct GrantMapperOps {
    void *(*map)(void *opaque, const uint32_t *refs, uint32_t count, bool writable);
    int (*unmap)(void *opaque, void *host, uint32_t count);
} GrantMapperOps;

typedef struct GrantDmaStats {
    uint64_t maps;              /* mapper map() calls that succeeded */
    uint64_t map_failures;      /* refused: not granted (or not as asked) */
    uint64_t unmaps;            /* mapper unmap() calls */
    uint64_t unmap_failures;
    uint64_t live_maps;         /* mapped now: maps - unmaps */
} GrantDmaStats;

typedef struct GrantDma GrantDma;

/* A grant DMA address space named `name`, mapping through ops. NULL with errp set. */
GrantDma *grant_dma_new(const GrantMapperOps *ops, void *opaque, const char *name,
                        Error **errp);
/* Release the address space and regions. Every mapping must have been released. */
void grant_dma_free(GrantDma *g);
AddressSpace *grant_dma_address_space(GrantDma *g);
void grant_dma_get_stats(const GrantDma *g, GrantDmaStats *out);

#endif
