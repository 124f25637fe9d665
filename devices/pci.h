/*
 * devices/pci.h — PCI functions on bus 0 and the host bridge that serves their
 * configuration space (devices/pci_host.c).
 *
 * A PCI device model embeds a PciDevice, fills it with pci_device_init() and
 * pci_device_init_bar(), and registers it on the PciHost; the host keeps the BAR
 * mappings and the INTx line in step with what the guest writes to the header, and
 * tells whoever installed PciHostHooks which functions exist (xen/ turns that into
 * xendevicemodel_map_pcidev_to_ioreq_server). A device with more to follow in config
 * space than the header (MSI-X: devices/pci_msix.h) adds capabilities and is told of
 * every guest write through its config_written callback; it sends message signalled
 * interrupts with pci_device_send_msi(). The host does not own the devices: each
 * must be unregistered before it is freed, and all before the host. Single-threaded.
 */
#ifndef XENDM_DEVICES_PCI_H
#define XENDM_DEVICES_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "memory/memory.h"
#include "util/error.h"

#define PCI_CONFIG_SPACE_SIZE 256
#define PCI_NUM_BARS          6
#define PCI_BAR_UNMAPPED      UINT64_MAX
#define PCI_DEVFN(slot, fn)   ((uint8_t)(((slot) << 3) | (fn)))
#define PCI_SBDF(seg, bus, devfn) ((uint32_t)(seg) << 16 | (uint32_t)(bus) << 8 | (devfn))

typedef struct PciHost PciHost;

/* BAR kinds, encoded as the low bits of the BAR register. */
enum pci_bar_type {
    PCI_BAR_MEM32 = 0x0,
    PCI_BAR_IO = 0x1,
    PCI_BAR_MEM64 = 0x4,
    PCI_BAR_MEM32_PREFETCH = 0x8,
    PCI_BAR_MEM64_PREFETCH = 0xc,
};

typedef struct PciBar {
    MemoryRegion *mr;           /* the device's region; NULL: BAR not implemented */
    uint64_t size;              /* power of two: the region's size */
    enum pci_bar_type type;
    uint64_t addr;              /* where mr is mapped, or PCI_BAR_UNMAPPED */
    bool in_root;               /* mr is a subregion of the root (possibly disabled) */
} PciBar;

/*
 * One PCI function with a type-0 header. The device model embeds it, fills it with
 * pci_device_init() and pci_device_init_bar(), then registers it on the host. Config
 * space writes go through wmask (1 = the guest may change the bit); the host keeps the
 * BAR mappings and the INTx line in step with the header, then calls config_written
 * (optional, set by the device) with the register and size of the guest's write, so
 * the device can act on the bits that changed (wmask applied, values in config).
 */
typedef struct PciDevice PciDevice;
struct PciDevice {
    char name[32];
    PciHost *host;              /* NULL until registered */
    uint8_t devfn;
    uint8_t config[PCI_CONFIG_SPACE_SIZE];
    uint8_t wmask[PCI_CONFIG_SPACE_SIZE];
    PciBar bars[PCI_NUM_BARS];
    IrqLine intx;
    bool intx_requested;        /* the level the device asks for, before INTx disable */
    void (*config_written)(PciDevice *dev, uint32_t reg, unsigned size);
};

/* Called when a function appears on or leaves bus 0 (xen/: map_pcidev_to_ioreq_server). */
typedef struct PciHostHooks {
    int (*device_added)(void *opaque, uint32_t sbdf, Error **errp);
    void (*device_removed)(void *opaque, uint32_t sbdf);
    void *opaque;
} PciHostHooks;

/* BARs are mapped into mem_root / io_root (the roots of the memory and I/O address
 * spaces); INTx goes to irq. All must outlive the host. */
PciHost *pci_host_new(MemoryRegion *mem_root, MemoryRegion *io_root, const IrqRouter *irq,
                      uint16_t segment, Error **errp);
/* Every device must have been unregistered. */
void pci_host_free(PciHost *host);
/* Install hooks; device_added is replayed for functions already on the bus. Returns the
 * first replay failure. */
int pci_host_set_hooks(PciHost *host, const PciHostHooks *hooks, Error **errp);
/* The 0xcf8/0xcfc configuration mechanism #1 as an 8-port I/O region; the board adds
 * it to the I/O space at 0xcf8 if it wants it (Xen decodes those ports itself). */
MemoryRegion *pci_host_legacy_io_region(PciHost *host);
PciDevice *pci_host_find_device(PciHost *host, uint8_t devfn);

/* IOREQ_TYPE_PCI_CONFIG: sbdf = ioreq addr >> 32, reg = low 32 bits, size 1/2/4.
 * Absent functions, other segments/buses, bad sizes or offsets read all ones. */
uint32_t pci_host_config_read(PciHost *host, uint32_t sbdf, uint32_t reg, unsigned size);
void pci_host_config_write(PciHost *host, uint32_t sbdf, uint32_t reg, unsigned size,
                           uint32_t value);

/* class_code is the 24-bit base/sub/prog-if; intx_pin 0: no interrupt, 1..4 INTA..D. */
void pci_device_init(PciDevice *dev, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code, uint8_t revision, uint8_t intx_pin);
/* Declare BAR bar (a 64-bit BAR also takes bar + 1) backed by mr, whose size must be a
 * power of two (at least 4 for I/O, 16 for memory). Returns -EINVAL (errp set). */
int pci_device_init_bar(PciDevice *dev, unsigned bar, enum pci_bar_type type,
                        MemoryRegion *mr, Error **errp);
/* Bus 0 shared with another device model (an ioreq server beside it, e.g. QEMU's):
 * pci_host_pick_slot no longer chooses a slot (the other model's are not visible
 * here), so every function must name one, and the slots in reserved_slots (bit n:
 * slot n) are refused by pci_host_register_device. */
void pci_host_share_bus(PciHost *host, uint32_t reserved_slots);
/* Put the function at devfn on bus 0; -EBUSY if taken or reserved, or the hook's error. */
int pci_host_register_device(PciHost *host, PciDevice *dev, uint8_t devfn, Error **errp);
/* Unmaps its BARs, lowers its INTx and tells the hooks. */
void pci_host_unregister_device(PciHost *host, PciDevice *dev);
/* The device's interrupt request; the line follows it unless the command register's
 * INTx disable bit is set. Status bit "interrupt status" always reflects it. */
void pci_device_set_intx(PciDevice *dev, bool level);
uint32_t pci_device_sbdf(const PciDevice *dev);
/* Whether a config-space write of `size` bytes at `reg` touched [field, field + len):
 * for config_written callbacks. */
static inline bool pci_config_write_touches(uint32_t reg, unsigned size, unsigned field,
                                            unsigned len)
{
    return reg < field + len && field < reg + size;
}
/* Add a capability of len bytes (at least 2) with the given ID at config offset `at`
 * (dword aligned, inside 0x40..0xff) to the end of the capability list; the caller
 * fills in the rest and places capabilities so that they do not overlap. Returns
 * -EINVAL (errp set) for a bad place or one already in the list. */
int pci_device_add_capability(PciDevice *dev, uint8_t id, unsigned at, unsigned len,
                              Error **errp);
/* Send one message signalled interrupt (the write of data to addr) for the function.
 * Returns 0, -ENODEV when it is not on a bus, -EACCES when the guest turned bus
 * mastering off (the message is dropped, as a function that may not write memory
 * cannot signal), -ENOTSUP when the board cannot deliver MSIs, or the router's error. */
int pci_device_send_msi(PciDevice *dev, uint64_t addr, uint32_t data);

/* The "slot" and "fn" options of a PCI device as a devfn on bus 0: the slot given, or
 * the first free one from PCI_FIRST_DEFAULT_SLOT (slots 0-2 are where PC chipsets put
 * the host bridge, ISA bridge and VGA); on a shared bus (pci_host_share_bus) the slot
 * must be given. `who` names the device in errors. */
#define PCI_FIRST_DEFAULT_SLOT 3
int pci_host_pick_slot(PciHost *host, const DeviceOpts *opts, const char *who, uint8_t *devfn,
                       Error **errp);

#endif
