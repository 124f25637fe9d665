/*
 * devices/irq.h — interrupt lines from devices to whoever delivers them.
 *
 * A device owns an IrqLine and raises or lowers it; the line forwards level changes to
 * an IrqRouter that the board supplies (xen/ turns it into
 * xendevicemodel_set_isa_irq_level / set_pci_intx_level, tests use a fake). Message
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
 */
typedef struct IrqRouter {
    int (*set_isa_irq)(void *opaque, unsigned irq, bool level);
    int (*set_pci_intx)(void *opaque, uint32_t sbdf, unsigned intx, bool level);
    int (*inject_msi)(void *opaque, uint64_t addr, uint32_t data);
    void *opaque;
} IrqRouter;

enum irq_line_kind {
    IRQ_LINE_NONE,              /* not connected: levels are remembered, not sent */
    IRQ_LINE_ISA,
    IRQ_LINE_PCI_INTX,
};

/* One interrupt output of a device. Only level changes reach the router. */
typedef struct IrqLine {
    const IrqRouter *router;
    enum irq_line_kind kind;
    uint32_t sbdf;              /* PCI_INTX only */
    unsigned num;               /* ISA irq number, or intx 0..3 */
    bool level;                 /* level the router last accepted */
} IrqLine;

#define ISA_NUM_IRQS 16

void irq_line_init_none(IrqLine *line);
/* Returns -EINVAL (errp set) for irq >= ISA_NUM_IRQS or a router without set_isa_irq. */
int irq_line_init_isa(IrqLine *line, const IrqRouter *router, unsigned irq, Error **errp);
int irq_line_init_pci_intx(IrqLine *line, const IrqRouter *router, uint32_t sbdf,
                           unsigned intx, Error **errp);
void irq_line_set_level(IrqLine *line, bool level);
bool irq_line_get_level(const IrqLine *line);
#endif
