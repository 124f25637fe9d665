/*
 * xen/xen_mapper.c — the mapcache's MapperOps over xenforeignmemory.
 *
 * One map call maps a bucket's frames contiguously; Xen reports frames it could not
 * map (unpopulated, or not ours) per page in err[], which the mapcache honours.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <stdlib.h>

#include "mapcache/mapcache.h"

static void *xen_mapper_map(void *opaque, uint64_t first_gfn, size_t nr_pages, int prot,
                            int *err)
{
    XenDM *xd = opaque;
    /* Maps are rare (one per bucket): a heap array keeps the stack small. */
    xen_pfn_t *pfns = malloc(nr_pages * sizeof(*pfns));
    if (!pfns) {
        errno = ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < nr_pages; i++)
        pfns[i] = first_gfn + i;
    void *host = xenforeignmemory_map(xd->fmem, xd->cfg.domid, prot, nr_pages, pfns, err);
    int saved = errno;
    free(pfns);
    errno = saved;
    return host;
}

static int xen_mapper_unmap(void *opaque, void *host, size_t nr_pages)
{
    XenDM *xd = opaque;
    return xenforeignmemory_unmap(xd->fmem, host, nr_pages) < 0 ? -errno : 0;
}

const MapperOps xen_mapper_ops = {
    .map = xen_mapper_map,
    .unmap = xen_mapper_unmap,
};
