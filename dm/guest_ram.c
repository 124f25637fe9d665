/*
 * dm/guest_ram.c — the machine's guest RAM, laid out as Xen's toolstack lays it out.
 *
 * The toolstack populated the guest's frames in at most two banks (xen/ram_layout.c):
 * on x86 below the PCI hole and from 4 GiB, on Arm from 1 GiB and from 8 GiB. Here they
 * become one RAM block made with the Xen RAM backend (dm->xen_ram: mapped through the
 * mapcache, writes reported to log-dirty) and, in system memory, an alias of each
 * bank's part of the block at the bank's address. The block is the first one
 * allocated, at ram_addr 0, so ram_addr == guest physical in every bank (what the
 * mapcache and log-dirty are keyed by); what lies between banks is in no alias, so to
 * devices it is not RAM. The size is --memory, else what the domain's populated frames
 * stand for; on x86 the split is --max-ram-below-4g, else what the toolstack wrote to
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

static int guest_ram_layout(const Dm *dm, uint64_t bytes, XenRamLayout *l, Error **errp)
{
    if (dm->opts.machine->ram_layout == DM_RAM_ARM_BANKS)
        return xen_ram_layout_arm(bytes, l, errp);
    uint64_t below_4g = dm->opts.max_ram_below_4g ? dm->opts.max_ram_below_4g
                                                  : xen_dm_max_ram_below_4g(dm->xen);
    return xen_ram_layout_compute(bytes, below_4g, l, errp);
}

static int add_bank(Dm *dm, unsigned i, const XenRamBank *bank, Error **errp)
{
    char name[16];
    snprintf(name, sizeof(name), "ram-bank%u", i);
    memory_region_init_alias(&dm->ram_banks[i], "/machine", name, &dm->ram, bank->base,
                             bank->size);
    return memory_region_add_subregion(&dm->system_memory, bank->base, &dm->ram_banks[i],
                                       errp);
}

int dm_guest_ram_create(Dm *dm, Error **errp)
{
    uint64_t bytes = guest_ram_bytes(dm);
    if (bytes == 0) {
        error_setg(errp, "domain %u has no memory to serve", dm->opts.domid);
        return -EINVAL;
    }
    XenRamLayout l;
    int ret = guest_ram_layout(dm, bytes, &l, errp);
    if (ret < 0)
        return ret;
    xen_ram_set_toolstack_region(dm->xen_ram, &dm->ram);
    RamBackend backend = xen_ram_backend(dm->xen_ram);
    ret = memory_region_init_ram_backed(&dm->ram, "/machine", "ram", l.block_size, &backend,
                                        errp);
    if (ret < 0)
        return ret;
    dm->ram_ready = true;
    for (unsigned i = 0; i < XEN_RAM_MAX_BANKS && ret == 0; i++)
        if (l.bank[i].size)
            ret = add_bank(dm, i, &l.bank[i], errp);
    if (ret == 0)
        log_info("guest RAM: %" PRIu64 " MiB at 0x%" PRIx64 ", %" PRIu64 " MiB at 0x%" PRIx64,
                 l.bank[0].size >> 20, l.bank[0].base, l.bank[1].size >> 20, l.bank[1].base);
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
    for (unsigned i = XEN_RAM_MAX_BANKS; i-- > 0;)
        remove_alias(dm, &dm->ram_banks[i]);
    memory_region_finalize(&dm->ram);
    dm->ram_ready = false;
}
