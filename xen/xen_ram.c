/*
 * xen/xen_ram.c — guest RAM under Xen: the memory model's RAM backend.
 *
 * Under Xen a RAMBlock gets no host memory of ours: its frames are populated in the
 * guest (xc_domain_populate_physmap_exact) at guest frame = ram_addr / 4 KiB, the same
 * convention QEMU uses, and every access goes through the mapcache. The machine's main
 * guest RAM was populated by the toolstack before we started, so that block is skipped.
 * An allocation that Xen refuses part way gives back the frames it had populated.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define POPULATE_BATCH 1024u

static XenDM *ram_dm;
static const MemoryRegion *toolstack_ram;

void xen_ram_set_dm(XenDM *xd)
{
    ram_dm = xd;
}

void xen_ram_set_toolstack_region(const MemoryRegion *mr)
{
    toolstack_ram = mr;
}

static void fill_frames(xen_pfn_t *pfns, uint64_t first, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        pfns[i] = first + i;
}

/* Give back the nr frames from `first` this allocation populated before it failed, so
 * that a failed RAM block leaves nothing in the guest either. Best effort: a failure
 * here is logged (the error the caller reports is the populate's). */
static void release_frames(uint64_t first, uint64_t nr, const char *name)
{
    xen_pfn_t pfns[POPULATE_BATCH];
    for (uint64_t done = 0; done < nr;) {
        unsigned n = nr - done < POPULATE_BATCH ? (unsigned)(nr - done) : POPULATE_BATCH;
        fill_frames(pfns, first + done, n);
        if (xc_domain_decrease_reservation_exact(ram_dm->xc, ram_dm->cfg.domid, n, 0,
                                                 pfns) < 0) {
            log_warn("cannot give back %" PRIu64 " frames at gfn 0x%" PRIx64 " of '%s' "
                     "(domain %u): %s", nr - done, first + done, name, ram_dm->cfg.domid,
                     strerror(errno));
            return;
        }
        done += n;
    }
}

int xen_ram_alloc(ram_addr_t ram_addr, ram_addr_t size, MemoryRegion *mr, Error **errp)
{
    if (mr && mr == toolstack_ram)
        return 0;
    if (!ram_dm) {
        error_setg(errp, "xen_ram_alloc: no Xen device model to populate '%s' with",
                   mr ? mr->name : "(anonymous)");
        return -EINVAL;
    }
    xen_pfn_t pfns[POPULATE_BATCH];
    const char *name = mr ? memory_region_name(mr) : "(anonymous)";
    uint64_t first = ram_addr >> 12, nr = (size + 4095) >> 12;
    for (uint64_t done = 0; done < nr;) {
        unsigned n = nr - done < POPULATE_BATCH ? (unsigned)(nr - done) : POPULATE_BATCH;
        fill_frames(pfns, first + done, n);
        if (xc_domain_populate_physmap_exact(ram_dm->xc, ram_dm->cfg.domid, n, 0, 0, pfns) < 0) {
            int err = errno;
            error_setg_errno(errp, err, "Xen refused to populate %u frames at gfn 0x%" PRIx64
                             " for '%s' (domain %u)", n, (uint64_t)(first + done), name,
                             ram_dm->cfg.domid);
            release_frames(first, done, name);
            return -err;
        }
        done += n;
    }
    log_info("populated %" PRIu64 " frames at gfn 0x%" PRIx64 " for '%s'", nr, first, name);
    return 0;
}
