/*
 * dm/machine.c — the machine xendm presents to the guest.
 *
 * Two address spaces: "memory" (a 2^64 container holding guest RAM and the devices'
 * MMIO) and "io" (64 KiB of ports). What else the machine has follows its description
 * (dm/machines.c): on x86 ports, PCI bus 0 and ISA interrupt lines; on Arm no device
 * gets the port space (it stays empty, so no port range reaches Xen), there is no PCI
 * host, and interrupts are GIC SPIs. Guest RAM, whose frames the toolstack populated
 * below the PCI hole and from 4 GiB, is built by dm/guest_ram.c. The ioreq executor
 * is handed the address spaces and the machine's request handlers (PCI configuration,
 * mapcache invalidation). Virtio devices with grant_usage=1 get a third address space
 * for their DMA, grant addresses only (mapcache/grant_dma.h over
 * xen_grant_mapper_ops), when xengnttab is available. Devices are created from their
 * option strings inside one transaction, so their ranges reach Xen in one batch once
 * the listeners are attached.
 */
#include "dm/dm.h"

#include <errno.h>
#include <inttypes.h>

#include "util/log.h"
#include "util/macros.h"

static int irq_set_isa(void *opaque, unsigned irq, bool level)
{
    return xen_dm_set_isa_irq_level(opaque, (uint8_t)irq, level);
}

static int irq_set_pci_intx(void *opaque, uint32_t sbdf, unsigned intx, bool level)
{
    return xen_dm_set_pci_intx_level(opaque, (uint8_t)(sbdf >> 8), (uint8_t)((sbdf & 0xff) >> 3),
                                     (uint8_t)intx, level);
}

static int irq_inject_msi(void *opaque, uint64_t addr, uint32_t data)
{
    return xen_dm_inject_msi(opaque, addr, data);
}

static int irq_set_spi(void *opaque, unsigned spi, bool level)
{
    return xen_dm_set_irq_level(opaque, spi, level);
}

static int pci_device_added(void *opaque, uint32_t sbdf, Error **errp)
{
    return xen_dm_map_pcidev(opaque, (uint8_t)(sbdf >> 8), (uint8_t)((sbdf & 0xff) >> 3),
                             (uint8_t)(sbdf & 7), errp);
}

static void pci_device_removed(void *opaque, uint32_t sbdf)
{
    Error *err = NULL;
    if (xen_dm_unmap_pcidev(opaque, (uint8_t)(sbdf >> 8), (uint8_t)((sbdf & 0xff) >> 3),
                            (uint8_t)(sbdf & 7), &err) < 0) {
        log_warn("%s", error_get_pretty(err));
        error_free(err);
    }
}

/* The requests the machine answers for the ioreq executor; opaque is the Dm. */
static uint64_t request_pci_read(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size)
{
    return pci_host_config_read(((Dm *)opaque)->pci, sbdf, reg, size);
}

static void request_pci_write(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size,
                              uint64_t val)
{
    pci_host_config_write(((Dm *)opaque)->pci, sbdf, reg, size, (uint32_t)val);
}

static void request_invalidate(void *opaque)
{
    mapcache_invalidate(((Dm *)opaque)->mapcache);
}

static const IoreqHandlers request_handlers = {
    .pci_config_read = request_pci_read,
    .pci_config_write = request_pci_write,
    .invalidate = request_invalidate,
};

/* A machine without PCI (Arm): configuration requests read all ones. */
static const IoreqHandlers no_pci_handlers = {
    .invalidate = request_invalidate,
};

/* After the RAM: guest RAM's ram_addr must stay its guest-physical address. */
static int create_grant_dma(Dm *dm, Error **errp)
{
    if (!xen_dm_grants_available(dm->xen))
        return 0;
    dm->grants = grant_dma_new(&xen_grant_mapper_ops, dm->xen, "grant-dma", errp);
    return dm->grants ? 0 : -EINVAL;
}

static int create_devices(Dm *dm, Error **errp)
{
    const DmMachineDesc *m = dm->opts.machine;
    device_work_queue_init(&dm->work);
    dm->loop = (DeviceLoop){ .work = &dm->work };
    dm->board = (DeviceBoard){
        .system_memory = &dm->system_memory, .system_io = m->port_io ? &dm->system_io : NULL,
        .dma_as = &dm->as_mem, .irq = &dm->irq, .pci = dm->pci, .loop = &dm->loop,
        .grant_dma_as = dm->grants ? grant_dma_address_space(dm->grants) : NULL,
        .irq_spi = m->irq_spi,
    };
    unsigned nr_default = dm->opts.no_defaults ? 0 : m->nr_default_devices;
    for (unsigned i = 0; i < nr_default + dm->opts.nr_devices; i++) {
        const char *spec = i < nr_default ? m->default_devices[i]
                                          : dm->opts.devices[i - nr_default];
        if (dm->nr_devices == DM_MAX_DEVICES) {
            error_setg(errp, "too many devices (at most %d)", DM_MAX_DEVICES);
            return -E2BIG;
        }
        Device *dev = device_create(&dm->board, spec, errp);
        if (!dev) {
            error_prepend(errp, "device '%s'", spec);
            return -EINVAL;
        }
        dm->devices[dm->nr_devices++] = dev;
        log_info("device '%s' created", spec);
    }
    return 0;
}

int dm_machine_create(Dm *dm, Error **errp)
{
    memory_region_init(&dm->system_memory, "/machine", "system", UINT64_MAX);
    memory_region_init(&dm->system_io, "/machine", "io", 0x10000);
    if (address_space_init(&dm->as_mem, &dm->system_memory, "memory", errp) < 0)
        return -EINVAL;
    if (address_space_init(&dm->as_io, &dm->system_io, "I/O", errp) < 0) {
        address_space_destroy(&dm->as_mem);
        return -EINVAL;
    }
    dm->as_ready = true;
    const DmMachineDesc *m = dm->opts.machine;
    if (m->irq_spi)
        dm->irq = (IrqRouter){ .set_spi = irq_set_spi, .opaque = dm->xen };
    else
        dm->irq = (IrqRouter){ .set_isa_irq = irq_set_isa, .set_pci_intx = irq_set_pci_intx,
                               .inject_msi = irq_inject_msi, .opaque = dm->xen };
    memory_region_transaction_begin();
    int ret = dm_guest_ram_create(dm, errp);
    if (ret == 0)
        ret = create_grant_dma(dm, errp);
    if (ret == 0 && m->pci) {
        dm->pci = pci_host_new(&dm->system_memory, &dm->system_io, &dm->irq, 0, errp);
        ret = dm->pci ? 0 : -EINVAL;
    }
    if (ret == 0 && dm->pci && dm->opts.secondary)
        dm_secondary_share_bus(dm);
    if (ret == 0 && m->pci) {
        PciHostHooks hooks = { .device_added = pci_device_added,
                               .device_removed = pci_device_removed, .opaque = dm->xen };
        ret = pci_host_set_hooks(dm->pci, &hooks, errp);
    }
    if (ret == 0)
        ret = create_devices(dm, errp);
    memory_region_transaction_commit();
    if (ret < 0)
        return ret;

    xen_dm_set_request_handlers(dm->xen, m->pci ? &request_handlers : &no_pci_handlers, dm);
    return xen_dm_attach_address_spaces(dm->xen, &dm->as_mem, &dm->as_io, errp);
}

/* 0 when nothing in the memory address space decodes [base, base + size). */
static int check_range_free(Dm *dm, uint64_t base, uint64_t size, Error **errp)
{
    for (uint64_t a = base; a - base < size;) {
        MemoryRegionSection s = address_space_lookup(&dm->as_mem, a);
        if (s.mr) {
            error_setg(errp, "0x%" PRIx64 "-0x%" PRIx64 " overlaps '%s' at 0x%" PRIx64,
                       base, base + size - 1, memory_region_name(s.mr), a);
            return -EEXIST;
        }
        a += s.size ? s.size : 1;
    }
    return 0;
}

static int free_slot(Dm *dm, Error **errp)
{
    for (unsigned i = 0; i < dm->nr_devices; i++)
        if (!dm->devices[i])
            return (int)i;
    if (dm->nr_devices == DM_MAX_DEVICES) {
        error_setg(errp, "too many devices (at most %d)", DM_MAX_DEVICES);
        return -E2BIG;
    }
    dm->devices[dm->nr_devices] = NULL;
    return (int)dm->nr_devices++;
}

int dm_machine_add_device(Dm *dm, const char *spec, uint64_t base, uint64_t size,
                          Error **errp)
{
    int ret = check_range_free(dm, base, size, errp);
    int slot = ret < 0 ? ret : free_slot(dm, errp);
    if (slot < 0)
        return slot;
    memory_region_transaction_begin();
    Device *dev = device_create(&dm->board, spec, errp);
    memory_region_transaction_commit();
    if (!dev) {
        dm_machine_remove_device(dm, (unsigned)slot);
        return -EINVAL;
    }
    dm->devices[slot] = dev;
    ret = xen_dm_check_ranges(dm->xen, errp);
    if (ret < 0) {
        dm_machine_remove_device(dm, (unsigned)slot);
        return ret;
    }
    log_info("device '%s' created in slot %d", spec, slot);
    return slot;
}

void dm_machine_remove_device(Dm *dm, unsigned slot)
{
    device_destroy(dm->devices[slot]);
    dm->devices[slot] = NULL;
    while (dm->nr_devices && !dm->devices[dm->nr_devices - 1])
        dm->nr_devices--;
}

void dm_machine_destroy(Dm *dm)
{
    /* No transaction around this: each device frees its regions as it goes, so every
     * removal must be committed before the region's memory is released. */
    xen_dm_detach_address_spaces(dm->xen);
    xen_dm_set_request_handlers(dm->xen, NULL, NULL);
    while (dm->nr_devices)
        device_destroy(dm->devices[--dm->nr_devices]);
    if (dm->pci) {
        pci_host_free(dm->pci);
        dm->pci = NULL;
    }
    grant_dma_free(dm->grants);
    dm->grants = NULL;
    dm_guest_ram_destroy(dm);
    if (dm->as_ready) {
        address_space_destroy(&dm->as_io);
        address_space_destroy(&dm->as_mem);
        memory_region_finalize(&dm->system_io);
        memory_region_finalize(&dm->system_memory);
        dm->as_ready = false;
    }
}
