/*
 * devices/irq.h — interrupt lines from devices to whoever delivers them.
 *
 * A device owns an IrqLine and raises or lowers it; the line forwards level changes to
 * an IrqRouter that the board supplies (xen/ turns it into
 * xendevicemodel_set_isa_irq_level / set_pci_intx_level on x86, set_irq_level for an
 * Arm SPI; tests use a fake). Message
 * signalled interrupts have no line: a PCI function sends them through the same router
 * (pci_device_send_msi, devices/pci.h). The router must outlive every line and device
 * that points to it. Single-threaded.
 */
#ifndef XENDM_DEVICES_IRQ_H
#define XENDM_DEVICES_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

/*
 * The interrupt backend. Each callback returns 0 or -errno; on failure the line keeps
 * its old level, so the next set_level retries. set_pci_intx's sbdf is
 * segment << 16 | bus << 8 | devfn, intx 0..3 is INTA..INTD. inject_msi (optional: a
 * board without it has no MSI) delivers one message, the 32-bit write of `data` to
 * `addr` that the guest programmed into the device (xendevicemodel_inject_msi).
 * set_spi (optional: a board without it has no GIC) sets the level of an Arm shared
 * peripheral interrupt, GIC id 32..1019 (xendevicemodel_set_irq_level; Xen injects the
 * interrupt on every rise and ignores falls, as for the edge-rising SPIs of virtio-mmio).
 */
typedef struct IrqRouter {
    int (*set_isa_irq)(void *opaque, unsigned irq, bool level);
    int (*set_pci_intx)(void *opaque, uint32_t sbdf, unsigned intx, bool level);
    int (*inject_msi)(void *opaque, uint64_t addr, uint32_t data);
    int (*set_spi)(void *opaque, unsigned spi, bool level);
    void *opaque;
} IrqRouter;

enum irq_line_kind {
    IRQ_LINE_NONE,              /* not connected: levels are remembered, not sent */
    IRQ_LINE_ISA,
    IRQ_LINE_PCI_INTX,
    IRQ_LINE_SPI,               /* an Arm GIC shared peripheral interrupt */
};

/* One interrupt output of a device. Only level changes reach the router. */
typedef struct IrqLine {
    const IrqRouter *router;
    enum irq_line_kind kind;
    uint32_t sbdf;              /* PCI_INTX only */
    unsigned num;               /* ISA irq number, intx 0..3, or SPI GIC id */
    bool level;                 /* level the router last accepted */
} IrqLine;

#define ISA_NUM_IRQS 16
#define GIC_SPI_FIRST 32            /* GIC ids 0..31 are SGIs and PPIs */
#define GIC_SPI_LAST  1019          /* 1020..1023 are special */

void irq_line_init_none(IrqLine *line);
/* Returns -EINVAL (errp set) for irq >= ISA_NUM_IRQS or a router without set_isa_irq. */
int irq_line_init_isa(IrqLine *line, const IrqRouter *router, unsigned irq, Error **errp);
int irq_line_init_pci_intx(IrqLine *line, const IrqRouter *router, uint32_t sbdf,
                           unsigned intx, Error **errp);
/* Returns -EINVAL (errp set) for a GIC id outside GIC_SPI_FIRST..GIC_SPI_LAST or a router
 * without set_spi. */
int irq_line_init_spi(IrqLine *line, const IrqRouter *router, unsigned spi, Error **errp);
void irq_line_set_level(IrqLine *line, bool level);
bool irq_line_get_level(const IrqLine *line);
#endif
