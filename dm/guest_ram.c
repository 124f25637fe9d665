/*
 * dm/guest_ram.c — the machine's guest RAM, laid out as Xen lays out an HVM guest.
 *
 * The toolstack populated the guest's frames below the PCI hole and from 4 GiB
 * (xen_ram_layout_compute has the split); here they become one RAM block made with the
 * Xen RAM backend (dm->xen_ram: mapped through the mapcache, writes reported to
 * log-dirty) and, in system memory, an alias of its part below the hole at 0 and, with
 * high RAM, an alias of its part from 4 GiB at 4 GiB. The block is the first one
 * allocated, at ram_addr 0, so ram_addr == guest physical for both (what the mapcache
 * and log-dirty are keyed by); the hole's part of the block is in no alias, so to
 * devices the hole is not RAM. The size is --memory, else what the domain's populated
 * frames stand for; the split is --max-ram-below-4g, else what the toolstack wrote to
 * xenstore for a bigger PCI hole (xl's mmio_hole), else Xen's default.
 */
#include "dm/dm.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "util/log.h"

static uint64_t guest_ram_bytes(const Dm *dm)
{
    if (dm->opts.memory_mib)
        return dm->opts.memory_mib << 20;
    return xen_ram_size_of_populated(xen_dm_guest_memory(dm->xen));
}

static int add_alias(Dm *dm, MemoryRegion *alias, const char *name, hwaddr gpa,
                     uint64_t size, Error **errp)
{
    memory_region_init_alias(alias, "/machine", name, &dm->ram, gpa, size);
    return memory_region_add_subregion(&dm->system_memory, gpa, alias, errp);
}

int dm_guest_ram_create(Dm *dm, Error **errp)
{
    uint64_t bytes = guest_ram_bytes(dm);
    if (bytes == 0) {
        error_setg(errp, "domain %u has no memory to serve", dm->opts.domid);
        return -EINVAL;
    }
    uint64_t below_4g = dm->opts.max_ram_below_4g ? dm->opts.max_ram_below_4g
                                                  : xen_dm_max_ram_below_4g(dm->xen);
    XenRamLayout l;
    int ret = xen_ram_layout_compute(bytes, below_4g, &l, errp);
    if (ret < 0)
        return ret;
    xen_ram_set_toolstack_region(dm->xen_ram, &dm->ram);
    RamBackend backend = xen_ram_backend(dm->xen_ram);
    ret = memory_region_init_ram_backed(&dm->ram, "/machine", "ram", l.block_size, &backend,
                                        errp);
    if (ret < 0)
        return ret;
    dm->ram_ready = true;
    ret = add_alias(dm, &dm->ram_below_4g, "ram-below-4g", 0, l.below_4g, errp);
    if (ret == 0 && l.above_4g)
        ret = add_alias(dm, &dm->ram_above_4g, "ram-above-4g", XEN_RAM_HIGH_BASE,
                        l.above_4g, errp);
    if (ret == 0)
        log_info("guest RAM: %" PRIu64 " MiB at 0, %" PRIu64 " MiB at 4 GiB",
                 l.below_4g >> 20, l.above_4g >> 20);
    return ret;
}

static void remove_alias(Dm *dm, MemoryRegion *alias)
{
    if (!alias->alias)
        return;                         /* never initialised */
    if (alias->container)
        memory_region_del_subregion(&dm->system_memory, alias, NULL);
    memory_region_finalize(alias);
    memset(alias, 0, sizeof(*alias));
}

void dm_guest_ram_destroy(Dm *dm)
{
    if (!dm->ram_ready)
        return;
    remove_alias(dm, &dm->ram_above_4g);
    remove_alias(dm, &dm->ram_below_4g);
    memory_region_finalize(&dm->ram);
    dm->ram_ready = false;
}
