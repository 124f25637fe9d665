/*
 * devices/pci_host.c — PCI bus 0: type-0 config space, BAR mapping, INTx, 0xcf8/0xcfc.
 *
 * The host holds up to 256 functions (devfn) on bus 0 of one segment. Config space is
 * a byte array per function; a guest write changes only the bits in wmask. After a write
 * to the command register or a BAR the host recomputes every BAR's address and makes
 * the MemoryRegion tree agree, inside one transaction so the FlatView changes once:
 *   - first mapping       memory_region_add_subregion_overlap(root, addr, mr, 1)
 *   - move                memory_region_set_address (+ set_enabled(true))
 *   - decode off/unmapped memory_region_set_enabled(false)
 * A BAR is unmapped while its decode bit (IO or MEMORY) is clear, while it reads 0, and
 * while it holds the sizing pattern (all ones: the last slot of the 32-bit or 64-bit
 * space, or a port range beyond 0xffff), as on real chipsets.
 */
#include "devices/pci.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define PCI_BAR_OVERLAP_PRIORITY 1  /* a BAR wins over RAM it is moved onto */
#define PCI_IO_BAR_MAX           256
#define PCI_IO_SPACE_LAST        0xffffu
#define CF8_ENABLE               0x80000000u
#define CF8_WRITABLE             0x80fffffcu
#define PCI_HEADER_MULTI_FUNCTION 0x80
#define PCI_CAP_FIRST            0x40    /* capabilities live after the type-0 header */
#define PCI_CAP_LIST_BUDGET      48      /* (256 - 0x40) / 4: a longer list has a loop */

struct PciHost {
    MemoryRegion *mem_root, *io_root;
    const IrqRouter *irq;
    uint16_t segment;
    PciDevice *devices[256];
    PciHostHooks hooks;
    MemoryRegion legacy_io;     /* 0xcf8..0xcff */
    uint32_t config_address;    /* the 0xcf8 latch */
    bool shared;                /* another device model has functions on this bus */
    uint32_t reserved_slots;    /* bit n: slot n is the other model's */
    LogRateLimit bad_access_rl;
};

/* ---- little-endian config space helpers ---- */

static uint32_t config_get(const uint8_t *cfg, unsigned off, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)cfg[off + i] << (8 * i);
    return v;
}

static void config_set(uint8_t *cfg, unsigned off, unsigned size, uint32_t v)
{
    for (unsigned i = 0; i < size; i++)
        cfg[off + i] = (uint8_t)(v >> (8 * i));
}

/* What a refused or unanswered access reads: all ones of its size (4 if nonsense). */
static uint32_t all_ones(unsigned size)
{
    return size == 1 ? 0xff : size == 2 ? 0xffff : UINT32_MAX;
}

/* ---- devices ---- */

void pci_device_init(PciDevice *dev, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code, uint8_t revision, uint8_t intx_pin)
{
    memset(dev, 0, sizeof(*dev));
    snprintf(dev->name, sizeof(dev->name), "%s", name);
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        dev->bars[i].addr = PCI_BAR_UNMAPPED;
    irq_line_init_none(&dev->intx);
    uint8_t *c = dev->config;
    config_set(c, PCI_VENDOR_ID, 2, vendor);
    config_set(c, PCI_DEVICE_ID, 2, device);
    config_set(c, PCI_REVISION_ID, 1, revision);
    config_set(c, PCI_CLASS_PROG, 3, class_code);
    config_set(c, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);
    config_set(c, PCI_SUBSYSTEM_VENDOR_ID, 2, vendor);
    config_set(c, PCI_SUBSYSTEM_ID, 2, device);
    config_set(c, PCI_INTERRUPT_PIN, 1, intx_pin <= 4 ? intx_pin : 0);
    config_set(dev->wmask, PCI_COMMAND, 2,
               PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
               PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    dev->wmask[PCI_LATENCY_TIMER] = 0xff;
    dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

static bool bar_is_64(enum pci_bar_type type)
{
    return type & PCI_BASE_ADDRESS_MEM_TYPE_64;
}

static bool bar_slot_taken(const PciDevice *dev, unsigned bar)
{
    return dev->bars[bar].mr ||
           (bar > 0 && dev->bars[bar - 1].mr && bar_is_64(dev->bars[bar - 1].type));
}

static int bar_check_size(const PciDevice *dev, unsigned bar, enum pci_bar_type type,
                          uint64_t size, Error **errp)
{
    bool io = type == PCI_BAR_IO;
    uint64_t min = io ? 4 : 16;
    uint64_t max = io ? PCI_IO_BAR_MAX : bar_is_64(type) ? 1ull << 63 : 1ull << 31;
    if (size < min || size > max || (size & (size - 1))) {
        error_setg(errp, "%s: BAR%u size 0x%" PRIx64 " is not a power of two in "
                   "[0x%" PRIx64 ", 0x%" PRIx64 "]", dev->name, bar, size, min, max);
        return -EINVAL;
    }
    return 0;
}

int pci_device_init_bar(PciDevice *dev, unsigned bar, enum pci_bar_type type,
                        MemoryRegion *mr, Error **errp)
{
    bool is64 = bar_is_64(type);
    if (type != PCI_BAR_IO && type != PCI_BAR_MEM32 && type != PCI_BAR_MEM64 &&
        type != PCI_BAR_MEM32_PREFETCH && type != PCI_BAR_MEM64_PREFETCH) {
        error_setg(errp, "%s: BAR%u has unknown type 0x%x", dev->name, bar, type);
        return -EINVAL;
    }
    if (bar + (is64 ? 1 : 0) >= PCI_NUM_BARS || bar_slot_taken(dev, bar) ||
        (is64 && dev->bars[bar + 1].mr)) {
        error_setg(errp, "%s: BAR%u is out of range or already used", dev->name, bar);
        return -EINVAL;
    }
    uint64_t size = memory_region_size(mr);
    if (bar_check_size(dev, bar, type, size, errp) < 0)
        return -EINVAL;
    unsigned off = PCI_BASE_ADDRESS_0 + 4 * bar;
    uint64_t addr_mask = ~(size - 1) & (type == PCI_BAR_IO ? ~(uint64_t)0x3 : ~(uint64_t)0xf);
    config_set(dev->config, off, 4, type);
    config_set(dev->wmask, off, 4, (uint32_t)addr_mask);
    if (is64)
        config_set(dev->wmask, off + 4, 4, (uint32_t)(addr_mask >> 32));
    dev->bars[bar] = (PciBar){ .mr = mr, .size = size, .type = type,
                               .addr = PCI_BAR_UNMAPPED };
    return 0;
}

uint32_t pci_device_sbdf(const PciDevice *dev)
{
    return PCI_SBDF(dev->host ? dev->host->segment : 0, 0, dev->devfn);
}

static bool pci_intx_disabled(const PciDevice *dev)
{
    return config_get(dev->config, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE;
}

static void pci_update_intx(PciDevice *dev)
{
    irq_line_set_level(&dev->intx, dev->intx_requested && !pci_intx_disabled(dev));
}

void pci_device_set_intx(PciDevice *dev, bool level)
{
    dev->intx_requested = level;
    if (level)
        dev->config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        dev->config[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    pci_update_intx(dev);
}

int pci_device_add_capability(PciDevice *dev, uint8_t id, unsigned at, unsigned len,
                              Error **errp)
{
    if (at < PCI_CAP_FIRST || (at & 3) || len < 2 || len > PCI_CONFIG_SPACE_SIZE - at) {
        error_setg(errp, "%s: capability 0x%02x of %u bytes does not fit at config offset "
                   "0x%x", dev->name, id, len, at);
        return -EINVAL;
    }
    uint8_t *link = &dev->config[PCI_CAPABILITY_LIST];
    for (unsigned n = 0; *link; n++) {
        if (*link == at || n == PCI_CAP_LIST_BUDGET) {
            error_setg(errp, "%s: capability 0x%02x at 0x%x: the offset is taken or the "
                       "list is full", dev->name, id, at);
            return -EINVAL;
        }
        link = &dev->config[*link + PCI_CAP_LIST_NEXT];
    }
    *link = (uint8_t)at;
    dev->config[at + PCI_CAP_LIST_ID] = id;
    dev->config[at + PCI_CAP_LIST_NEXT] = 0;
    dev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    return 0;
}

int pci_device_send_msi(PciDevice *dev, uint64_t addr, uint32_t data)
{
    if (!dev->host)
        return -ENODEV;
    if (!(config_get(dev->config, PCI_COMMAND, 2) & PCI_COMMAND_MASTER))
        return -EACCES;
    const IrqRouter *irq = dev->host->irq;
    if (!irq || !irq->inject_msi)
        return -ENOTSUP;
    return irq->inject_msi(irq->opaque, addr, data);
}

/* ---- BAR mapping ---- */

/* Where BAR bar decodes now, or PCI_BAR_UNMAPPED. */
static uint64_t pci_bar_address(const PciDevice *dev, unsigned bar)
{
    const PciBar *b = &dev->bars[bar];
    uint16_t cmd = (uint16_t)config_get(dev->config, PCI_COMMAND, 2);
    unsigned off = PCI_BASE_ADDRESS_0 + 4 * bar;
    uint64_t addr = config_get(dev->config, off, 4);
    if (b->type == PCI_BAR_IO) {
        addr &= PCI_BASE_ADDRESS_IO_MASK;
        if (!(cmd & PCI_COMMAND_IO) || addr == 0 || addr + b->size - 1 > PCI_IO_SPACE_LAST)
            return PCI_BAR_UNMAPPED;
        return addr;
    }
    if (!(cmd & PCI_COMMAND_MEMORY))
        return PCI_BAR_UNMAPPED;
    addr &= PCI_BASE_ADDRESS_MEM_MASK;
    if (bar_is_64(b->type))
        addr |= (uint64_t)config_get(dev->config, off + 4, 4) << 32;
    uint64_t last = addr + b->size - 1;
    if (addr == 0 || last < addr || last == UINT64_MAX ||
        (!bar_is_64(b->type) && last >= UINT32_MAX))
        return PCI_BAR_UNMAPPED;
    return addr;
}

static void pci_bar_move(PciHost *host, PciDevice *dev, unsigned bar, uint64_t addr)
{
    PciBar *b = &dev->bars[bar];
    if (addr == b->addr)
        return;
    if (addr == PCI_BAR_UNMAPPED) {
        memory_region_set_enabled(b->mr, false);
    } else if (!b->in_root) {
        MemoryRegion *root = b->type == PCI_BAR_IO ? host->io_root : host->mem_root;
        Error *err = NULL;
        if (memory_region_add_subregion_overlap(root, addr, b->mr, PCI_BAR_OVERLAP_PRIORITY,
                                                &err) < 0) {
            log_warn("%s: cannot map BAR%u at 0x%" PRIx64 ": %s", dev->name, bar, addr,
                     error_get_pretty(err));
            error_free(err);
            return;
        }
        memory_region_set_enabled(b->mr, true);
        b->in_root = true;
    } else {
        memory_region_set_address(b->mr, addr);
        memory_region_set_enabled(b->mr, true);
    }
    b->addr = addr;
}

static void pci_update_bars(PciHost *host, PciDevice *dev)
{
    memory_region_transaction_begin();
    for (unsigned i = 0; i < PCI_NUM_BARS; i++)
        if (dev->bars[i].mr)
            pci_bar_move(host, dev, i, pci_bar_address(dev, i));
    memory_region_transaction_commit();
}

static void pci_remove_bars(PciDevice *dev)
{
    memory_region_transaction_begin();
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        PciBar *b = &dev->bars[i];
        if (b->mr && b->in_root) {
            memory_region_del_subregion(b->mr->container, b->mr, NULL);
            memory_region_set_enabled(b->mr, true);
        }
        b->in_root = false;
        b->addr = PCI_BAR_UNMAPPED;
    }
    memory_region_transaction_commit();
}

/* ---- config space access ---- */

static PciDevice *pci_host_lookup(PciHost *host, uint32_t sbdf)
{
    if (sbdf >> 16 != host->segment || ((sbdf >> 8) & 0xff) != 0)
        return NULL;
    return host->devices[sbdf & 0xff];
}

static bool pci_config_access_ok(PciHost *host, uint32_t sbdf, uint32_t reg, unsigned size)
{
    if ((size == 1 || size == 2 || size == 4) && reg < PCI_CONFIG_SPACE_SIZE &&
        size <= PCI_CONFIG_SPACE_SIZE - reg)
        return true;
    log_ratelimited(&host->bad_access_rl, LOG_WARN,
                    "pci: refused config access sbdf %04x:%02x:%02x.%u reg 0x%x size %u",
                    sbdf >> 16, (sbdf >> 8) & 0xff, (sbdf >> 3) & 0x1f, sbdf & 7, reg, size);
    return false;
}

uint32_t pci_host_config_read(PciHost *host, uint32_t sbdf, uint32_t reg, unsigned size)
{
    PciDevice *dev = pci_host_lookup(host, sbdf);
    if (!dev || !pci_config_access_ok(host, sbdf, reg, size))
        return all_ones(size);
    return config_get(dev->config, reg, size);
}

void pci_host_config_write(PciHost *host, uint32_t sbdf, uint32_t reg, unsigned size,
                           uint32_t value)
{
    PciDevice *dev = pci_host_lookup(host, sbdf);
    if (!dev || !pci_config_access_ok(host, sbdf, reg, size))
        return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t wm = dev->wmask[reg + i], byte = (uint8_t)(value >> (8 * i));
        dev->config[reg + i] = (uint8_t)((dev->config[reg + i] & ~wm) | (byte & wm));
    }
    bool command = pci_config_write_touches(reg, size, PCI_COMMAND, 2);
    if (command || pci_config_write_touches(reg, size, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS))
        pci_update_bars(host, dev);
    if (command)
        pci_update_intx(dev);
    if (dev->config_written)
        dev->config_written(dev, reg, size);
}

/* ---- configuration mechanism #1: 0xcf8 address latch, 0xcfc..0xcff data ---- */

static bool cf8_target(PciHost *host, hwaddr addr, uint32_t *sbdf, uint32_t *reg)
{
    uint32_t ca = host->config_address;
    if (!(ca & CF8_ENABLE))
        return false;
    *sbdf = PCI_SBDF(host->segment, (ca >> 16) & 0xff, (ca >> 8) & 0xff);
    *reg = (ca & 0xfc) | (uint32_t)(addr & 3);
    return true;
}

static uint64_t pci_legacy_read(void *opaque, hwaddr addr, unsigned size)
{
    PciHost *host = opaque;
    uint32_t sbdf, reg;
    if (addr < 4)
        return addr == 0 && size == 4 ? host->config_address : all_ones(size);
    if (!cf8_target(host, addr, &sbdf, &reg))
        return all_ones(size);
    return pci_host_config_read(host, sbdf, reg, size);
}

static void pci_legacy_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    PciHost *host = opaque;
    uint32_t sbdf, reg;
    if (addr < 4) {
        if (addr == 0 && size == 4)     /* narrower writes go to other ISA ports */
            host->config_address = (uint32_t)data & CF8_WRITABLE;
        return;
    }
    if (cf8_target(host, addr, &sbdf, &reg))
        pci_host_config_write(host, sbdf, reg, size, (uint32_t)data);
}

static const MemoryRegionOps pci_legacy_ops = {
    .read = pci_legacy_read,
    .write = pci_legacy_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

/* ---- the host ---- */

PciHost *pci_host_new(MemoryRegion *mem_root, MemoryRegion *io_root, const IrqRouter *irq,
                      uint16_t segment, Error **errp)
{
    PciHost *host = calloc(1, sizeof(*host));
    if (!host) {
        error_setg_errno(errp, ENOMEM, "pci: cannot allocate host for segment %u", segment);
        return NULL;
    }
    host->mem_root = mem_root;
    host->io_root = io_root;
    host->irq = irq;
    host->segment = segment;
    memory_region_init_io(&host->legacy_io, "/machine/pci-host", &pci_legacy_ops, host,
                          "pci-conf", 8);
    return host;
}

void pci_host_free(PciHost *host)
{
    if (!host)
        return;
    for (unsigned i = 0; i < 256; i++)
        assert(!host->devices[i] && "pci_host_free with devices still registered");
    if (host->legacy_io.container)
        memory_region_del_subregion(host->legacy_io.container, &host->legacy_io, NULL);
    memory_region_finalize(&host->legacy_io);
    free(host);
}

MemoryRegion *pci_host_legacy_io_region(PciHost *host)
{
    return &host->legacy_io;
}

PciDevice *pci_host_find_device(PciHost *host, uint8_t devfn)
{
    return host->devices[devfn];
}

int pci_host_set_hooks(PciHost *host, const PciHostHooks *hooks, Error **errp)
{
    host->hooks = hooks ? *hooks : (PciHostHooks){ 0 };
    if (!host->hooks.device_added)
        return 0;
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        PciDevice *dev = host->devices[devfn];
        if (!dev)
            continue;
        int ret = host->hooks.device_added(host->hooks.opaque, pci_device_sbdf(dev), errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Function 0 of a slot tells the guest to scan the others (header type bit 7). */
static void pci_update_multifunction(PciHost *host, unsigned slot)
{
    PciDevice *fn0 = host->devices[PCI_DEVFN(slot, 0)];
    if (!fn0)
        return;
    bool others = false;
    for (unsigned fn = 1; fn < 8; fn++)
        others |= host->devices[PCI_DEVFN(slot, fn)] != NULL;
    if (others)
        fn0->config[PCI_HEADER_TYPE] |= PCI_HEADER_MULTI_FUNCTION;
    else
        fn0->config[PCI_HEADER_TYPE] &= (uint8_t)~PCI_HEADER_MULTI_FUNCTION;
}

void pci_host_share_bus(PciHost *host, uint32_t reserved_slots)
{
    host->shared = true;
    host->reserved_slots = reserved_slots;
}

int pci_host_register_device(PciHost *host, PciDevice *dev, uint8_t devfn, Error **errp)
{
    if (host->reserved_slots & (1u << (devfn >> 3))) {
        error_setg(errp, "pci: cannot put %s at %02x.%u: slot %u belongs to the other device "
                   "model on this bus", dev->name, devfn >> 3, devfn & 7, devfn >> 3);
        return -EBUSY;
    }
    if (host->devices[devfn] || dev->host) {
        error_setg(errp, "pci: cannot put %s at %02x.%u: slot taken or device already on a bus",
                   dev->name, devfn >> 3, devfn & 7);
        return -EBUSY;
    }
    uint32_t sbdf = PCI_SBDF(host->segment, 0, devfn);
    uint8_t pin = dev->config[PCI_INTERRUPT_PIN];
    if (pin && irq_line_init_pci_intx(&dev->intx, host->irq, sbdf, pin - 1u, errp) < 0)
        return -EINVAL;
    if (host->hooks.device_added) {
        int ret = host->hooks.device_added(host->hooks.opaque, sbdf, errp);
        if (ret < 0) {
            irq_line_init_none(&dev->intx);
            return ret;
        }
    }
    dev->devfn = devfn;
    dev->host = host;
    host->devices[devfn] = dev;
    pci_update_multifunction(host, devfn >> 3);
    pci_update_intx(dev);
    return 0;
}

void pci_host_unregister_device(PciHost *host, PciDevice *dev)
{
    if (dev->host != host || host->devices[dev->devfn] != dev)
        return;
    pci_remove_bars(dev);
    irq_line_set_level(&dev->intx, false);
    if (host->hooks.device_removed)
        host->hooks.device_removed(host->hooks.opaque, pci_device_sbdf(dev));
    host->devices[dev->devfn] = NULL;
    pci_update_multifunction(host, dev->devfn >> 3);
    dev->host = NULL;
    irq_line_init_none(&dev->intx);
}

int pci_host_pick_slot(PciHost *host, const DeviceOpts *opts, const char *who, uint8_t *devfn,
                       Error **errp)
{
    uint64_t slot, fn;
    if (device_opts_get_u64(opts, "fn", 0, 7, &fn, errp) < 0)
        return -EINVAL;
    if (device_opts_get(opts, "slot")) {
        if (device_opts_get_u64(opts, "slot", 0, 31, &slot, errp) < 0)
            return -EINVAL;
        *devfn = PCI_DEVFN(slot, fn);
        return 0;
    }
    if (host->shared) {
        error_setg(errp, "%s: slot= is required on a bus shared with another device model "
                   "(which slots that one uses cannot be seen from here)", who);
        return -EINVAL;
    }
    for (slot = PCI_FIRST_DEFAULT_SLOT; slot < 32; slot++) {
        if (!pci_host_find_device(host, PCI_DEVFN(slot, fn))) {
            *devfn = PCI_DEVFN(slot, fn);
            return 0;
        }
    }
    error_setg(errp, "%s: no free slot for function %" PRIu64 " on bus 0", who, fn);
    return -EBUSY;
}
