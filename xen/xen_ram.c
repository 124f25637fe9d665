/*
 * xen/xen_ram.c — guest RAM under Xen: the RAM backend of a machine's RAM regions.
 *
 * Under Xen a RAMBlock gets no host memory of ours: its frames are populated in the
 * guest (xc_domain_populate_physmap_exact) at guest frame = ram_addr / 4 KiB, the same
 * convention QEMU uses, every access maps them through the mapcache, and every write
 * is reported to log-dirty (xen_modified_memory, which returns at once while log-dirty
 * is off). The machine's main guest RAM was populated by the toolstack before we
 * started, so that block is not populated again; it must be the first block, at
 * ram_addr 0, for its ram_addr to be the guest-physical address of its frames. An allocation that Xen refuses part
 * way gives back the frames it had populated.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mapcache/mapcache.h"
#include "util/log.h"

#define POPULATE_BATCH 1024u

struct XenRam {
    XenDM *xd;                          /* the domain whose frames these are */
    RamBackend frames;                  /* the mapcache's map and release, or none */
    const MemoryRegion *toolstack_ram;  /* populated by the toolstack: skipped */
};

XenRam *xen_ram_new(XenDM *xd, MapCache *mc, Error **errp)
{
    XenRam *xr = calloc(1, sizeof(*xr));
    if (!xr) {
        error_setg_errno(errp, ENOMEM, "cannot allocate the Xen RAM backend");
        return NULL;
    }
    xr->xd = xd;
    if (mc)
        xr->frames = mapcache_ram_backend(mc, NULL, NULL);     /* ram_addr == gpa */
    return xr;
}

void xen_ram_free(XenRam *xr)
{
    free(xr);
}

void xen_ram_set_toolstack_region(XenRam *xr, const MemoryRegion *mr)
{
    xr->toolstack_ram = mr;
}

static void fill_frames(xen_pfn_t *pfns, uint64_t first, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        pfns[i] = first + i;
}

/* Give back the nr frames from `first` this allocation populated before it failed, so
 * that a failed RAM block leaves nothing in the guest either. Best effort: a failure
 * here is logged (the error the caller reports is the populate's). */
static void release_frames(XenDM *xd, uint64_t first, uint64_t nr, const char *name)
{
    xen_pfn_t pfns[POPULATE_BATCH];
    for (uint64_t done = 0; done < nr;) {
        unsigned n = nr - done < POPULATE_BATCH ? (unsigned)(nr - done) : POPULATE_BATCH;
        fill_frames(pfns, first + done, n);
        if (xc_domain_decrease_reservation_exact(xd->xc, xd->cfg.domid, n, 0, pfns) < 0) {
            log_warn("cannot give back %" PRIu64 " frames at gfn 0x%" PRIx64 " of '%s' "
                     "(domain %u): %s", nr - done, first + done, name, xd->cfg.domid,
                     strerror(errno));
            return;
        }
        done += n;
    }
}

static int populate(XenDM *xd, uint64_t first, uint64_t nr, const char *name, Error **errp)
{
    xen_pfn_t pfns[POPULATE_BATCH];
    for (uint64_t done = 0; done < nr;) {
        unsigned n = nr - done < POPULATE_BATCH ? (unsigned)(nr - done) : POPULATE_BATCH;
        fill_frames(pfns, first + done, n);
        if (xc_domain_populate_physmap_exact(xd->xc, xd->cfg.domid, n, 0, 0, pfns) < 0) {
            int err = errno;
            error_setg_errno(errp, err, "Xen refused to populate %u frames at gfn 0x%" PRIx64
                             " for '%s' (domain %u)", n, (uint64_t)(first + done), name,
                             xd->cfg.domid);
            release_frames(xd, first, done, name);
            return -err;
        }
        done += n;
    }
    log_info("populated %" PRIu64 " frames at gfn 0x%" PRIx64 " for '%s'", nr, first, name);
    return 0;
}

static int xen_ram_alloc(void *opaque, ram_addr_t ram_addr, ram_addr_t size,
                         MemoryRegion *mr, Error **errp)
{
    XenRam *xr = opaque;
    if (mr && mr == xr->toolstack_ram) {
        if (ram_addr != 0) {            /* the mapcache takes ram_addr for guest physical */
            error_setg_errno(errp, EINVAL, "'%s' lands at ram_addr 0x%" PRIx64 ", not at 0 "
                             "where the guest's frames are", memory_region_name(mr),
                             ram_addr);
            return -EINVAL;
        }
        return 0;
    }
    const char *name = mr ? memory_region_name(mr) : "(anonymous)";
    return populate(xr->xd, ram_addr >> 12, (size + 4095) >> 12, name, errp);
}

static void *xen_ram_map(void *opaque, ram_addr_t ram_addr, hwaddr *len, bool is_write)
{
    const RamBackend *frames = &((XenRam *)opaque)->frames;
    return frames->map ? frames->map(frames->opaque, ram_addr, len, is_write) : NULL;
}

static void xen_ram_release(void *opaque, void *host, hwaddr len, bool is_write)
{
    const RamBackend *frames = &((XenRam *)opaque)->frames;
    if (frames->release)
        frames->release(frames->opaque, host, len, is_write);
}

static void xen_ram_modified(void *opaque, ram_addr_t start, ram_addr_t length)
{
    xen_modified_memory(((XenRam *)opaque)->xd, start, length);    /* ram_addr == gpa */
}

RamBackend xen_ram_backend(XenRam *xr)
{
    return (RamBackend){ .alloc = xen_ram_alloc, .map = xen_ram_map,
                         .release = xen_ram_release, .modified = xen_ram_modified,
                         .opaque = xr };
}
