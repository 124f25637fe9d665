/* devices/irq.c — IRQ lines: a device's interrupt output, forwarded on level changes. */
#include "devices/irq.h"

#include <errno.h>

void irq_line_init_none(IrqLine *line)
{
    *line = (IrqLine){ .kind = IRQ_LINE_NONE };
}

int irq_line_init_isa(IrqLine *line, const IrqRouter *router, unsigned irq, Error **errp)
{
    if (irq >= ISA_NUM_IRQS) {
        error_setg(errp, "ISA irq %u out of range (0..%u)", irq, ISA_NUM_IRQS - 1);
        return -EINVAL;
    }
    if (!router || !router->set_isa_irq) {
        error_setg(errp, "ISA irq %u: the board has no ISA interrupt router", irq);
        return -EINVAL;
    }
    *line = (IrqLine){ .router = router, .kind = IRQ_LINE_ISA, .num = irq };
    return 0;
}

int irq_line_init_pci_intx(IrqLine *line, const IrqRouter *router, uint32_t sbdf,
                           unsigned intx, Error **errp)
{
    if (intx > 3) {
        error_setg(errp, "PCI %04x:%02x:%02x.%u: INTx %u out of range (0..3)",
                   sbdf >> 16, (sbdf >> 8) & 0xff, (sbdf >> 3) & 0x1f, sbdf & 7, intx);
        return -EINVAL;
    }
    if (!router || !router->set_pci_intx) {
        error_setg(errp, "PCI %04x:%02x:%02x.%u: the board has no INTx router",
                   sbdf >> 16, (sbdf >> 8) & 0xff, (sbdf >> 3) & 0x1f, sbdf & 7);
        return -EINVAL;
    }
    *line = (IrqLine){ .router = router, .kind = IRQ_LINE_PCI_INTX, .sbdf = sbdf,
                       .num = intx };
    return 0;
}

int irq_line_init_spi(IrqLine *line, const IrqRouter *router, unsigned spi, Error **errp)
{
    if (spi < GIC_SPI_FIRST || spi > GIC_SPI_LAST) {
        error_setg(errp, "irq %u is not an SPI (GIC ids %u..%u)", spi, GIC_SPI_FIRST,
                   GIC_SPI_LAST);
        return -EINVAL;
    }
    if (!router || !router->set_spi) {
        error_setg(errp, "SPI %u: the board has no GIC interrupt router", spi);
        return -EINVAL;
    }
    *line = (IrqLine){ .router = router, .kind = IRQ_LINE_SPI, .num = spi };
    return 0;
}

void irq_line_set_level(IrqLine *line, bool level)
{
    if (line->level == level)
        return;
    int ret = 0;
    switch (line->kind) {
    case IRQ_LINE_NONE:
        break;
    case IRQ_LINE_ISA:
        ret = line->router->set_isa_irq(line->router->opaque, line->num, level);
        break;
    case IRQ_LINE_PCI_INTX:
        ret = line->router->set_pci_intx(line->router->opaque, line->sbdf, line->num, level);
        break;
    case IRQ_LINE_SPI:
        ret = line->router->set_spi(line->router->opaque, line->num, level);
        break;
    }
    if (ret == 0)           /* on failure keep the old level so the next change retries */
        line->level = level;
}

bool irq_line_get_level(const IrqLine *line)
{
    return line->level;
}
