/*
 * mapcache/grant_dma.c — the grant DMA address space (mapcache/grant_dma.h).
 *
 * The grant region is a RAM region whose RamBackend is this file: `alloc` learns where
 * the block sits in the ram_addr space (its base), `map` turns a ram_addr into the ref
 * and offset the guest put in its DMA address and maps the refs the access covers,
 * `release` unmaps them. The memory layer calls map and release in pairs (memory/ram.h),
 * with the pointer and length map returned, so release finds the whole mapping from
 * them: it starts at the pointer's page and covers the pages up to its end.
 */
#include "mapcache/grant_dma.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1ULL << PAGE_SHIFT)

struct GrantDma {
    GrantMapperOps ops;
    void *opaque;
    MemoryRegion root, grants;
    AddressSpace as;
    ram_addr_t base;            /* the grant block's offset in the ram_addr space */
    bool allocated;
    GrantDmaStats stats;
    LogRateLimit rl;
};

static int grant_alloc(void *opaque, ram_addr_t ram_addr, ram_addr_t size, MemoryRegion *mr,
                       Error **errp)
{
    GrantDma *g = opaque;
    if (g->allocated) {
        error_setg(errp, "grant DMA: a second block for one grant space");
        return -EBUSY;
    }
    g->base = ram_addr;
    g->allocated = true;
    return 0;
}

/* Pages of a mapping that starts at in-page offset `off` and spans len bytes. */
static uint32_t pages_spanned(uint64_t off, uint64_t len)
{
    return (uint32_t)((off + len + PAGE_SIZE - 1) >> PAGE_SHIFT);
}

static void *grant_map(void *opaque, ram_addr_t ram_addr, hwaddr *len, bool is_write)
{
    GrantDma *g = opaque;
    if (ram_addr < g->base)
        return NULL;
    uint64_t off = ram_addr - g->base;
    uint32_t first = (uint32_t)(off >> PAGE_SHIFT);
    uint64_t in_page = off & (PAGE_SIZE - 1);
    uint64_t want = *len, most = GRANT_DMA_MAX_MAP_PAGES * PAGE_SIZE - in_page;
    if (first >= GRANT_DMA_MAX_REFS || want == 0)
        return NULL;
    if (want > most)
        want = most;
    uint32_t count = pages_spanned(in_page, want);
    if (count > GRANT_DMA_MAX_REFS - first) {     /* the block's size keeps us inside */
        count = GRANT_DMA_MAX_REFS - first;
        want = count * PAGE_SIZE - in_page;
    }
    uint32_t refs[GRANT_DMA_MAX_MAP_PAGES];
    for (uint32_t i = 0; i < count; i++)
        refs[i] = first + i;
    uint8_t *host = g->ops.map(g->opaque, refs, count, is_write);
    if (!host) {
        g->stats.map_failures++;
        log_ratelimited(&g->rl, LOG_WARN, "grant DMA: cannot map grant refs %u..%u %s: %s",
                        first, first + count - 1, is_write ? "writable" : "read-only",
                        strerror(errno));
        return NULL;
    }
    g->stats.maps++;
    g->stats.live_maps++;
    *len = want;
    return host + in_page;
}

static void grant_release(void *opaque, void *host, hwaddr len, bool is_write)
{
    GrantDma *g = opaque;
    uint64_t in_page = (uintptr_t)host & (PAGE_SIZE - 1);
    int ret = g->ops.unmap(g->opaque, (uint8_t *)host - in_page, pages_spanned(in_page, len));
    g->stats.unmaps++;
    g->stats.live_maps--;
    if (ret < 0) {
        g->stats.unmap_failures++;
        log_ratelimited(&g->rl, LOG_WARN, "grant DMA: cannot unmap %p (%" PRIu64 " bytes): %s",
                        host, len, strerror(-ret));
    }
}

GrantDma *grant_dma_new(const GrantMapperOps *ops, void *opaque, const char *name,
                        Error **errp)
{
    GrantDma *g = calloc(1, sizeof(*g));
    if (!g) {
        error_setg_errno(errp, ENOMEM, "cannot allocate the grant DMA space '%s'", name);
        return NULL;
    }
    g->ops = *ops;
    g->opaque = opaque;
    RamBackend backend = { .alloc = grant_alloc, .map = grant_map, .release = grant_release,
                           .opaque = g };
    memory_region_init(&g->root, "/machine", name, UINT64_MAX);
    if (memory_region_init_ram_backed(&g->grants, "/machine", "xen.grants",
                                      GRANT_DMA_MAX_REFS * PAGE_SIZE, &backend, errp) < 0) {
        memory_region_finalize(&g->root);
        free(g);
        return NULL;
    }
    if (memory_region_add_subregion(&g->root, GRANT_DMA_ADDR_OFF, &g->grants, errp) < 0 ||
        address_space_init(&g->as, &g->root, name, errp) < 0) {
        if (g->grants.container)
            memory_region_del_subregion(&g->root, &g->grants, NULL);
        memory_region_finalize(&g->grants);
        memory_region_finalize(&g->root);
        free(g);
        return NULL;
    }
    return g;
}

void grant_dma_free(GrantDma *g)
{
    if (!g)
        return;
    if (g->stats.live_maps)
        log_warn("grant DMA: %" PRIu64 " mappings still live at teardown", g->stats.live_maps);
    address_space_destroy(&g->as);
    memory_region_del_subregion(&g->root, &g->grants, NULL);
    memory_region_finalize(&g->grants);
    memory_region_finalize(&g->root);
    free(g);
}

AddressSpace *grant_dma_address_space(GrantDma *g)
{
    return &g->as;
}

void grant_dma_get_stats(const GrantDma *g, GrantDmaStats *out)
{
    *out = g->stats;
}
