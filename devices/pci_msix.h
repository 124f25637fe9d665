/*
 * devices/pci_msix.h — the MSI-X capability of a PCI function (PCI Local Bus 3.0,
 * section 6.8.2): up to 2048 message vectors, each an address/data pair the guest
 * programs into a table in one of the function's memory BARs, a pending-bit array
 * (PBA) beside it, and the capability in config space through which the guest enables
 * MSI-X and masks the whole function.
 *
 * A device embeds a PciMsix and, after declaring the BAR, calls pci_msix_init(): the
 * capability joins the config-space list, and the table and PBA become subregions of
 * the BAR's region, which must therefore be a container (they sit above anything else
 * the device put there). The device forwards its PciDevice.config_written callback to
 * pci_msix_config_written() and fires vectors with pci_msix_notify(): a vector that is
 * masked (by its own mask bit or the function mask) gets its pending bit instead, and
 * the message goes out when it is unmasked; with MSI-X disabled nothing is sent or
 * recorded. Messages leave through pci_device_send_msi(). While MSI-X is enabled the
 * function must not use INTx (the device asks pci_msix_enabled()).
 *
 * The guest's table and PBA accesses must be aligned dwords or qwords (the spec leaves
 * anything else undefined: here such reads return all ones and writes are ignored).
 * Ownership: the PciMsix belongs to the device; pci_msix_fini() takes the regions out
 * of the BAR and must run before the BAR's region is finalised. Single-threaded.
 */
#ifndef XENDM_DEVICES_PCI_MSIX_H
#define XENDM_DEVICES_PCI_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"
#include "memory/memory.h"
#include "util/error.h"
#include "util/log.h"

#define PCI_MSIX_MAX_VECTORS    2048
#define PCI_MSIX_ENTRY_SIZE     16      /* address low, address high, data, control */
#define PCI_MSIX_CAP_SIZE       12

/* Where the pieces go: the capability at cap_offset in config space, the table and the
 * PBA at 8-byte aligned, non-overlapping offsets inside memory BAR `bar`. */
typedef struct PciMsixLayout {
    unsigned nr_vectors;        /* 1 .. PCI_MSIX_MAX_VECTORS */
    unsigned cap_offset;
    unsigned bar;
    uint32_t table_offset;
    uint32_t pba_offset;
} PciMsixLayout;

typedef struct PciMsix {
    PciDevice *dev;
    unsigned nr_vectors;
    unsigned cap;               /* config offset of the capability; 0: not initialised */
    uint32_t *table;            /* 4 dwords per vector, as the guest reads them */
    uint64_t *pba;              /* bit v: vector v fired while masked */
    bool enabled, function_masked;  /* Message Control, as last applied */
    MemoryRegion table_mr, pba_mr;
    LogRateLimit rl;
} PciMsix;

/* Build the capability and the table (every vector masked, as after reset) and add the
 * regions to the BAR. Returns -EINVAL (bad layout or BAR) or -ENOMEM, errp set. */
int pci_msix_init(PciMsix *msix, PciDevice *dev, const PciMsixLayout *layout, Error **errp);
/* Remove the regions and free the table; safe on a zeroed or failed PciMsix. */
void pci_msix_fini(PciMsix *msix);
/* The guest wrote config space [reg, reg + size): picks up MSI-X Enable and Function
 * Mask, and sends what became deliverable. */
void pci_msix_config_written(PciMsix *msix, uint32_t reg, unsigned size);
bool pci_msix_enabled(const PciMsix *msix);
/* Vector fires: the message is sent (0 or pci_device_send_msi()'s error), or marked
 * pending while masked (0); nothing happens while MSI-X is disabled (0). -EINVAL for a
 * vector beyond the table. */
int pci_msix_notify(PciMsix *msix, unsigned vector);

#endif
