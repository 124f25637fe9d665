/*
 * devices/pci_testdev.h — the PCI test device (devices/pci_testdev.c), registered as
 * "pci-testdev": ID and scratch registers, a DMA engine and INTA, for testing the PCI
 * and DMA paths end to end. The register map is documented at the top of the .c file.
 */
#ifndef XENDM_DEVICES_PCI_TESTDEV_H
#define XENDM_DEVICES_PCI_TESTDEV_H

#include "devices/pci.h"
#include "memory/memory.h"
#include "util/error.h"

typedef struct PciTestDev PciTestDev;
#define PCI_TESTDEV_VENDOR_ID 0x1234
#define PCI_TESTDEV_DEVICE_ID 0x10ed
#define PCI_TESTDEV_ID        0x010000edu
#define PCI_TESTDEV_BAR_SIZE  0x2000u
#define PCI_TESTDEV_BUF_OFF   0x1000u
#define PCI_TESTDEV_BUF_SIZE  0x1000u

PciTestDev *pci_testdev_new(AddressSpace *dma_as, Error **errp);
void pci_testdev_free(PciTestDev *td);
PciDevice *pci_testdev_pci(PciTestDev *td);
MemoryRegion *pci_testdev_bar0(PciTestDev *td);

#endif
