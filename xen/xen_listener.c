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
 * commit that changes nothing costs no hypercall. Listener callbacks cannot fail; a
 * refusal is recorded and reported by xen_dm_check_ranges() after the commit.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "util/log.h"

static bool section_needs_emulation(const MemoryRegionSection *s)
{
    const MemoryRegion *mr = s->mr;
    return mr->kind == MR_KIND_IO || mr->kind == MR_KIND_ROM_DEVICE;
}

static void update_range(XenDM *xd, MemoryRegionSection *s, bool is_port, bool add)
{
    if (!section_needs_emulation(s))
        return;
    uint64_t start = s->offset_within_address_space;
    MemSize last = (MemSize)start + s->size - 1;
    uint64_t end = last > UINT64_MAX ? UINT64_MAX : (uint64_t)last;
    if (is_port && end > 0xffff)
        end = 0xffff;
    if (start > end)
        return;
    int type = is_port ? XEN_DMOP_IO_RANGE_PORT : XEN_DMOP_IO_RANGE_MEMORY;
    int rc = add ? xendevicemodel_map_io_range_to_ioreq_server(xd->dmod, xd->cfg.domid,
                                                               xd->ioservid, type, start, end)
                 : xendevicemodel_unmap_io_range_from_ioreq_server(xd->dmod, xd->cfg.domid,
                                                                   xd->ioservid, type, start,
                                                                   end);
    if (rc < 0) {
        int err = errno;
        log_error("cannot %s %s range 0x%" PRIx64 "-0x%" PRIx64 " (%s): %s",
                  add ? "register" : "unregister", is_port ? "port" : "MMIO", start, end,
                  s->mr->name, strerror(err));
        if (!xd->listener_error)
            error_setg_errno(&xd->listener_error, err, "Xen refused %s range 0x%" PRIx64
                             "-0x%" PRIx64 " of '%s'", is_port ? "port" : "MMIO", start, end,
                             s->mr->name);
        return;
    }
    if (add)
        xd->stats.ranges_mapped++;
    else
        xd->stats.ranges_unmapped++;
    log_debug("%s %s range 0x%" PRIx64 "-0x%" PRIx64 " (%s)", add ? "mapped" : "unmapped",
              is_port ? "port" : "MMIO", start, end, s->mr->name);
}

#define XEN_OF(l, member) ((XenDM *)((char *)(l) - offsetof(XenDM, member)))

static void mmio_region_add(MemoryListener *l, MemoryRegionSection *s)
{
    update_range(XEN_OF(l, mem_listener), s, false, true);
}

static void mmio_region_del(MemoryListener *l, MemoryRegionSection *s)
{
    update_range(XEN_OF(l, mem_listener), s, false, false);
}

static void pio_region_add(MemoryListener *l, MemoryRegionSection *s)
{
    update_range(XEN_OF(l, io_listener), s, true, true);
}

static void pio_region_del(MemoryListener *l, MemoryRegionSection *s)
{
    update_range(XEN_OF(l, io_listener), s, true, false);
}

int xen_dm_attach_address_spaces(XenDM *xd, AddressSpace *as_mem, AddressSpace *as_io,
                                 Error **errp)
{
    if (!xd->server_created) {
        error_setg(errp, "ranges can only be registered once the ioreq server exists");
        return -EINVAL;
    }
    xd->mem_listener = (MemoryListener){ .region_add = mmio_region_add,
                                         .region_del = mmio_region_del,
                                         .priority = 10, .name = "xen-mmio" };
    xd->io_listener = (MemoryListener){ .region_add = pio_region_add,
                                        .region_del = pio_region_del,
                                        .priority = 10, .name = "xen-pio" };
    memory_listener_register(&xd->mem_listener, as_mem);
    memory_listener_register(&xd->io_listener, as_io);
    xd->listeners_attached = true;
    return xen_dm_check_ranges(xd, errp);
}

int xen_dm_check_ranges(XenDM *xd, Error **errp)
{
    if (!xd->listener_error)
        return 0;
    int err = xd->listener_error->errnum ? xd->listener_error->errnum : EIO;
    error_propagate(errp, xd->listener_error);
    xd->listener_error = NULL;
    return -err;
}

void xen_dm_detach_address_spaces(XenDM *xd)
{
    if (!xd->listeners_attached)
        return;
    memory_listener_unregister(&xd->io_listener);
    memory_listener_unregister(&xd->mem_listener);
    xd->listeners_attached = false;
    error_free(xd->listener_error);
    xd->listener_error = NULL;
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
