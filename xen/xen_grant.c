/*
 * xen/xen_grant.c — the grant DMA mapper (mapcache/grant_dma.h) over libxengnttab.
 *
 * One handle serves every grant_usage device of the guest; each map names the guest's
 * refs (consecutive for a multi-page buffer) and asks for write access only when the
 * device writes, so the guest's read-only grants serve device reads. Xen refuses refs
 * the guest did not grant to our domain (or granted read-only, for a write), and the
 * whole map fails (gntdev: EINVAL).
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <sys/mman.h>

#include "mapcache/grant_dma.h"

static void *xen_grant_map(void *opaque, const uint32_t *refs, uint32_t count, bool writable)
{
    XenDM *xd = opaque;
    /* The library takes a non-const array; it only reads it. */
    return xengnttab_map_domain_grant_refs(xd->xgt, count, xd->cfg.domid, (uint32_t *)refs,
                                           writable ? PROT_READ | PROT_WRITE : PROT_READ);
}

static int xen_grant_unmap(void *opaque, void *host, uint32_t count)
{
    XenDM *xd = opaque;
    return xengnttab_unmap(xd->xgt, host, count) < 0 ? -errno : 0;
}

const GrantMapperOps xen_grant_mapper_ops = {
    .map = xen_grant_map,
    .unmap = xen_grant_unmap,
};

bool xen_dm_grants_available(const XenDM *xd)
{
    return xd->xgt != NULL;
}
