/*
 * xen/xen_listener.c — mirror the I/O sections of the address spaces into ranges of the
 * ioreq server, so Xen forwards exactly those accesses to us.
 *
 * Only sections that need emulation are registered: io regions and ROM devices. RAM is
 * accessed by the guest directly through the p2m. A ROM device is registered in romd
 * mode too: its RAM is not in the p2m at the device's address, so its reads must reach
 * us as well (they are served from that RAM); and the decision must not depend on the
 * romd mode, because a romd change arrives as region_del + region_add with the region
 * already in its new mode, and the del must undo exactly what the add did.
 * The listener sees the FlatView diff, so a BAR move costs one unmap and one map, and a
 * commit that changes nothing costs no hypercall.
 *
 * Listener callbacks cannot fail. A range Xen refuses to map (say a BAR the guest moved
 * somewhere Xen will not have it) is counted, logged once, and kept in a retry set: the
 * listener's commit callback tries it again after each later commit of its address
 * space, until Xen takes it or the section leaves the view (its region_del then drops
 * it, with nothing to unmap). A section that comes back is a new range. The set only
 * holds sections of the current view, so the guest cannot grow it beyond the machine's
 * I/O sections. xen_dm_check_ranges() reports what is still refused.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/macros.h"

static const char *range_kind(bool is_port)
{
    return is_port ? "port" : "MMIO";
}

/* The inclusive range a section registers, if it needs emulation at all. */
static bool section_range(const MemoryRegionSection *s, bool is_port, uint64_t *start,
                          uint64_t *end)
{
    if (s->mr->kind != MR_KIND_IO && s->mr->kind != MR_KIND_ROM_DEVICE)
        return false;
    MemSize last = (MemSize)s->offset_within_address_space + s->size - 1;
    *start = s->offset_within_address_space;
    *end = last > UINT64_MAX ? UINT64_MAX : (uint64_t)last;
    if (is_port && *end > 0xffff)
        *end = 0xffff;
    return *start <= *end;
}

/* One map or unmap call: 0 or -errno. */
static int change_range(XenDM *xd, bool is_port, uint64_t start, uint64_t end, bool map)
{
    int type = is_port ? XEN_DMOP_IO_RANGE_PORT : XEN_DMOP_IO_RANGE_MEMORY;
    int rc = map ? xendevicemodel_map_io_range_to_ioreq_server(xd->dmod, xd->cfg.domid,
                                                               xd->ioservid, type, start, end)
                 : xendevicemodel_unmap_io_range_from_ioreq_server(xd->dmod, xd->cfg.domid,
                                                                   xd->ioservid, type, start,
                                                                   end);
    if (rc == 0)
        return 0;
    return errno ? -errno : -EIO;
}

/* ---- the retry set ------------------------------------------------------------------ */

static void park_refused(XenDM *xd, bool is_port, uint64_t start, uint64_t end,
                         const MemoryRegion *mr, int err)
{
    xd->stats.ranges_refused++;
    log_ratelimited(&xd->range_log, LOG_WARN, "Xen refused %s range 0x%" PRIx64 "-0x%" PRIx64
                    " of '%s': %s (retried after every commit)", range_kind(is_port), start,
                    end, mr->name, strerror(err));
    if (xd->nr_refused == xd->cap_refused) {
        unsigned cap = xd->cap_refused ? 2 * xd->cap_refused : 8;
        XenRefusedRange *r = realloc(xd->refused, cap * sizeof(*r));
        if (!r) {
            log_error("out of memory: %s range 0x%" PRIx64 "-0x%" PRIx64 " of '%s' will "
                      "not be retried", range_kind(is_port), start, end, mr->name);
            return;
        }
        xd->refused = r;
        xd->cap_refused = cap;
    }
    xd->refused[xd->nr_refused++] = (XenRefusedRange){
        .is_port = is_port, .start = start, .end = end, .err = err, .mr = mr,
    };
}

static void forget_refused(XenDM *xd, unsigned i)
{
    memmove(&xd->refused[i], &xd->refused[i + 1],
            (xd->nr_refused - i - 1) * sizeof(xd->refused[0]));
    xd->nr_refused--;
}

/* Drop the refused range a removed section had; false if it was not refused. */
static bool drop_refused(XenDM *xd, bool is_port, uint64_t start, uint64_t end)
{
    for (unsigned i = 0; i < xd->nr_refused; i++) {
        const XenRefusedRange *r = &xd->refused[i];
        if (r->is_port == is_port && r->start == start && r->end == end) {
            log_debug("%s range 0x%" PRIx64 "-0x%" PRIx64 " left the view before Xen took "
                      "it", range_kind(is_port), start, end);
            forget_refused(xd, i);
            return true;
        }
    }
    return false;
}

/* Ask Xen again for a refused range; true if it took it this time. */
static bool remap_refused(XenDM *xd, XenRefusedRange *r)
{
    int ret = change_range(xd, r->is_port, r->start, r->end, true);
    if (ret < 0) {
        r->err = -ret;
        return false;
    }
    xd->stats.ranges_mapped++;
    log_info("%s range 0x%" PRIx64 "-0x%" PRIx64 " of '%s' mapped at a retry",
             range_kind(r->is_port), r->start, r->end, r->mr->name);
    return true;
}

/* At the end of a commit: try the ranges of one kind refused at earlier commits again;
 * those refused during this one become due for the next. */
static void retry_refused(XenDM *xd, bool is_port)
{
    for (unsigned i = 0; i < xd->nr_refused;) {
        XenRefusedRange *r = &xd->refused[i];
        if (r->is_port == is_port && r->due && remap_refused(xd, r)) {
            forget_refused(xd, i);
            continue;
        }
        if (r->is_port == is_port)
            r->due = true;
        i++;
    }
}

/* ---- the listeners -------------------------------------------------------------------- */

static void region_add(XenDM *xd, MemoryRegionSection *s, bool is_port)
{
    uint64_t start, end;
    if (!section_range(s, is_port, &start, &end))
        return;
    int ret = change_range(xd, is_port, start, end, true);
    if (ret < 0) {
        park_refused(xd, is_port, start, end, s->mr, -ret);
        return;
    }
    xd->stats.ranges_mapped++;
    log_debug("mapped %s range 0x%" PRIx64 "-0x%" PRIx64 " (%s)", range_kind(is_port), start,
              end, s->mr->name);
}

static void region_del(XenDM *xd, MemoryRegionSection *s, bool is_port)
{
    uint64_t start, end;
    if (!section_range(s, is_port, &start, &end) || drop_refused(xd, is_port, start, end))
        return;
    int ret = change_range(xd, is_port, start, end, false);
    if (ret < 0) {
        log_error("cannot unregister %s range 0x%" PRIx64 "-0x%" PRIx64 " (%s): %s",
                  range_kind(is_port), start, end, s->mr->name, strerror(-ret));
        if (!xd->unmap_error)
            error_setg_errno(&xd->unmap_error, -ret, "Xen refused to unregister %s range "
                             "0x%" PRIx64 "-0x%" PRIx64 " of '%s'", range_kind(is_port),
                             start, end, s->mr->name);
        return;
    }
    xd->stats.ranges_unmapped++;
    log_debug("unmapped %s range 0x%" PRIx64 "-0x%" PRIx64 " (%s)", range_kind(is_port),
              start, end, s->mr->name);
}

static void mmio_region_add(MemoryListener *l, MemoryRegionSection *s)
{
    region_add(container_of(l, XenDM, mem_listener), s, false);
}

static void mmio_region_del(MemoryListener *l, MemoryRegionSection *s)
{
    region_del(container_of(l, XenDM, mem_listener), s, false);
}

static void mmio_commit(MemoryListener *l)
{
    retry_refused(container_of(l, XenDM, mem_listener), false);
}

static void pio_region_add(MemoryListener *l, MemoryRegionSection *s)
{
    region_add(container_of(l, XenDM, io_listener), s, true);
}

static void pio_region_del(MemoryListener *l, MemoryRegionSection *s)
{
    region_del(container_of(l, XenDM, io_listener), s, true);
}

static void pio_commit(MemoryListener *l)
{
    retry_refused(container_of(l, XenDM, io_listener), true);
}

int xen_dm_attach_address_spaces(XenDM *xd, AddressSpace *as_mem, AddressSpace *as_io,
                                 Error **errp)
{
    if (!xd->server_created) {
        error_setg(errp, "ranges can only be registered once the ioreq server exists");
        return -EINVAL;
    }
    xd->exec.as_mem = as_mem;
    xd->exec.as_io = as_io;
    xd->mem_listener = (MemoryListener){ .region_add = mmio_region_add,
                                         .region_del = mmio_region_del,
                                         .commit = mmio_commit,
                                         .priority = 10, .name = "xen-mmio" };
    xd->io_listener = (MemoryListener){ .region_add = pio_region_add,
                                        .region_del = pio_region_del,
                                        .commit = pio_commit,
                                        .priority = 10, .name = "xen-pio" };
    memory_listener_register(&xd->mem_listener, as_mem);
    memory_listener_register(&xd->io_listener, as_io);
    xd->listeners_attached = true;
    return xen_dm_check_ranges(xd, errp);
}

int xen_dm_check_ranges(XenDM *xd, Error **errp)
{
    if (xd->unmap_error) {
        int err = xd->unmap_error->errnum ? xd->unmap_error->errnum : EIO;
        error_propagate(errp, xd->unmap_error);
        xd->unmap_error = NULL;
        return -err;
    }
    if (!xd->nr_refused)
        return 0;
    const XenRefusedRange *r = &xd->refused[0];
    error_setg_errno(errp, r->err, "Xen refused %s range 0x%" PRIx64 "-0x%" PRIx64 " of '%s'",
                     range_kind(r->is_port), r->start, r->end, r->mr->name);
    return -r->err;
}

void xen_dm_detach_address_spaces(XenDM *xd)
{
    if (!xd->listeners_attached)
        return;
    memory_listener_unregister(&xd->io_listener);
    memory_listener_unregister(&xd->mem_listener);
    xd->listeners_attached = false;
    xd->exec.as_mem = xd->exec.as_io = NULL;
    free(xd->refused);
    xd->refused = NULL;
    xd->nr_refused = xd->cap_refused = 0;
    error_free(xd->unmap_error);
    xd->unmap_error = NULL;
}

int xen_dm_map_pcidev(XenDM *xd, uint8_t bus, uint8_t dev, uint8_t fn, Error **errp)
{
    if (xendevicemodel_map_pcidev_to_ioreq_server(xd->dmod, xd->cfg.domid, xd->ioservid, 0,
                                                  bus, dev, fn) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot register PCI device 00:%02x.%x on bus %u", dev,
                         fn, bus);
        return -err;
    }
    return 0;
}

int xen_dm_unmap_pcidev(XenDM *xd, uint8_t bus, uint8_t dev, uint8_t fn, Error **errp)
{
    if (xendevicemodel_unmap_pcidev_from_ioreq_server(xd->dmod, xd->cfg.domid, xd->ioservid,
                                                      0, bus, dev, fn) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot unregister PCI device 00:%02x.%x on bus %u",
                         dev, fn, bus);
        return -err;
    }
    return 0;
}
