/*
 * devices/uart16550.c — a 16550A UART: 8 I/O ports, 16-byte receive FIFO, one ISA IRQ.
 *
 * Registers (offset, DLAB = LCR bit 7): 0 RBR (read) / THR (write) / DLL (DLAB),
 * 1 IER / DLM (DLAB), 2 IIR (read) / FCR (write), 3 LCR, 4 MCR, 5 LSR, 6 MSR, 7 SCR.
 *
 * Interrupt sources, highest priority first, each gated by its IER bit:
 *   receiver line status (IIR 0x06)  an error bit in LSR (overrun, or a break that
 *                                    reached the top of the FIFO); cleared by reading LSR
 *   received data        (IIR 0x04)  RX FIFO at or above the trigger level (FIFO mode)
 *                                    or a byte held (16450 mode); cleared by reading
 *                                    RBR below the trigger
 *   character timeout    (IIR 0x0c)  FIFO mode, data below the trigger level
 *   THR empty            (IIR 0x02)  pending when IER enables it while THR is empty and
 *                                    whenever a transmission completes; cleared by
 *                                    reading IIR while it is the reported source or by
 *                                    writing THR
 *   modem status         (IIR 0x00)  a delta bit in MSR; cleared by reading MSR
 * The IRQ line is high while any enabled source is pending.
 *
 * Simplifications (documented, deliberate):
 *   - Transmission is instantaneous: a THR write hands the byte to the chardev (or, in
 *     loopback, to the receiver) at once, so THRE/TEMT always read 1, the TX FIFO is
 *     always empty and the THR-empty interrupt is pending again right after the write
 *     that cleared it. The divisor and LCR framing are stored but shape no timing.
 *   - Character timeout is immediate: there is no clock, and input arrives in batches
 *     from the event loop, so data below the trigger level is reported as a timeout
 *     as soon as it is in the FIFO (what a guest sees 4 character times later).
 *   - The emulated line has no parity or framing errors. Line status errors are
 *     overrun and, in loopback, break: setting LCR's break bit there receives one zero
 *     character flagged BI. The chardevs cannot carry a break. The OUT2 interrupt gate
 *     of PC boards is not modelled (as in QEMU): the line follows IIR alone.
 *   - Outside loopback the modem inputs read as connected: CTS, DSR and DCD set.
 */
#include "devices/device.h"
#include "devices/uart16550.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/serial_reg.h>
#include <stdlib.h>
#include <string.h>

#include "util/macros.h"

#define UART_NUM_PORTS 8

struct Uart16550 {
    Device dev;                 /* registry header */
    MemoryRegion io;
    IrqLine irq;
    Chardev *chr;               /* owned; may be NULL */
    uint8_t rx_fifo[UART16550_FIFO_SIZE];
    uint8_t rx_flags[UART16550_FIFO_SIZE];  /* per-character LSR error bits (BI) */
    unsigned rx_head, rx_count; /* ring; at most 1 byte held outside FIFO mode */
    uint8_t rbr_last;           /* what RBR reads when empty */
    uint16_t divisor;
    uint8_t ier, lcr, mcr, scr;
    uint8_t fcr;                /* enable, DMA mode and trigger bits as written */
    uint8_t lsr_errors;         /* LSR error bits until LSR is read: OE, and those of
                                 * the character at the top of the FIFO */
    uint8_t msr;                /* line states (high nibble) and deltas (low nibble) */
    bool thre_pending;
};

static const uint8_t rx_trigger_levels[4] = { 1, 4, 8, 14 };

static bool uart_fifo_enabled(const Uart16550 *u)
{
    return u->fcr & UART_FCR_ENABLE_FIFO;
}

static bool uart_loopback(const Uart16550 *u)
{
    return u->mcr & UART_MCR_LOOP;
}

static unsigned uart_rx_capacity(const Uart16550 *u)
{
    return uart_fifo_enabled(u) ? UART16550_FIFO_SIZE : 1;
}

/* ---- interrupts ---- */

static uint8_t uart_pending_iid(const Uart16550 *u)
{
    if ((u->ier & UART_IER_RLSI) && u->lsr_errors)
        return UART_IIR_RLSI;
    if ((u->ier & UART_IER_RDI) && u->rx_count) {
        if (!uart_fifo_enabled(u) || u->rx_count >= rx_trigger_levels[u->fcr >> 6])
            return UART_IIR_RDI;
        return UART_IIR_RX_TIMEOUT;
    }
    if ((u->ier & UART_IER_THRI) && u->thre_pending)
        return UART_IIR_THRI;
    if ((u->ier & UART_IER_MSI) && (u->msr & UART_MSR_ANY_DELTA))
        return UART_IIR_MSI;
    return UART_IIR_NO_INT;
}

static void uart_update_irq(Uart16550 *u)
{
    irq_line_set_level(&u->irq, uart_pending_iid(u) != UART_IIR_NO_INT);
}

/* ---- receive path ---- */

static void uart_rx_clear(Uart16550 *u)
{
    u->rx_head = u->rx_count = 0;
    memset(u->rx_flags, 0, sizeof(u->rx_flags));
}

/* A character's error bits show in LSR once it is at the top of the FIFO. */
static void uart_rx_reveal_head(Uart16550 *u)
{
    if (u->rx_count) {
        u->lsr_errors |= u->rx_flags[u->rx_head];
        u->rx_flags[u->rx_head] = 0;
    }
}

/* One character off the line. A full FIFO loses the new one; the 16450-mode holding
 * register is overwritten. Either way it is an overrun. */
static void uart_rx_push(Uart16550 *u, uint8_t byte, uint8_t flags)
{
    if (u->rx_count == uart_rx_capacity(u)) {
        u->lsr_errors |= UART_LSR_OE;
        if (!uart_fifo_enabled(u)) {
            u->rx_fifo[u->rx_head] = byte;
            u->lsr_errors |= flags;
        }
        return;
    }
    unsigned tail = (u->rx_head + u->rx_count) % UART16550_FIFO_SIZE;
    u->rx_fifo[tail] = byte;
    u->rx_flags[tail] = flags;
    u->rx_count++;
    uart_rx_reveal_head(u);
}

static uint8_t uart_rx_pop(Uart16550 *u)
{
    if (u->rx_count) {
        u->rbr_last = u->rx_fifo[u->rx_head];
        u->rx_head = (u->rx_head + 1) % UART16550_FIFO_SIZE;
        u->rx_count--;
        uart_rx_reveal_head(u);
    }
    return u->rbr_last;
}

/* LSR bit 7 (FIFO mode): an error is flagged anywhere in the receive FIFO. */
static bool uart_rx_fifo_error(const Uart16550 *u)
{
    if (!uart_fifo_enabled(u))
        return false;
    if (u->lsr_errors & UART_LSR_BRK_ERROR_BITS & ~UART_LSR_OE)
        return true;
    for (unsigned i = 0; i < u->rx_count; i++)
        if (u->rx_flags[(u->rx_head + i) % UART16550_FIFO_SIZE])
            return true;
    return false;
}

size_t uart16550_can_receive(void *opaque)
{
    Uart16550 *u = opaque;
    if (uart_loopback(u))           /* the serial input is disconnected in loopback */
        return 0;
    return uart_rx_capacity(u) - u->rx_count;
}

void uart16550_receive(void *opaque, const uint8_t *buf, size_t len)
{
    Uart16550 *u = opaque;
    if (uart_loopback(u))
        return;
    for (size_t i = 0; i < len; i++)
        uart_rx_push(u, buf[i], 0);
    uart_update_irq(u);
}

/* ---- transmit path ---- */

static void uart_transmit(Uart16550 *u, uint8_t byte)
{
    u->thre_pending = false;
    if (uart_loopback(u))
        uart_rx_push(u, byte, 0);
    else if (u->chr)
        chardev_write(u->chr, &byte, 1);
    u->thre_pending = true;         /* transmission completes at once */
}

/* ---- modem lines ---- */

static uint8_t uart_modem_inputs(const Uart16550 *u)
{
    if (!uart_loopback(u))
        return UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
    uint8_t in = 0;                 /* loopback wires the outputs back to the inputs */
    if (u->mcr & UART_MCR_RTS)
        in |= UART_MSR_CTS;
    if (u->mcr & UART_MCR_DTR)
        in |= UART_MSR_DSR;
    if (u->mcr & UART_MCR_OUT1)
        in |= UART_MSR_RI;
    if (u->mcr & UART_MCR_OUT2)
        in |= UART_MSR_DCD;
    return in;
}

static void uart_update_msr(Uart16550 *u)
{
    uint8_t now = uart_modem_inputs(u), before = u->msr & 0xf0, changed = now ^ before;
    uint8_t delta = u->msr & UART_MSR_ANY_DELTA;
    if (changed & UART_MSR_CTS)
        delta |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR)
        delta |= UART_MSR_DDSR;
    if (changed & UART_MSR_DCD)
        delta |= UART_MSR_DDCD;
    if ((before & UART_MSR_RI) && !(now & UART_MSR_RI))
        delta |= UART_MSR_TERI;
    u->msr = now | delta;
}

/* ---- register access ---- */

static void uart_write_fcr(Uart16550 *u, uint8_t val)
{
    if (!(val & UART_FCR_ENABLE_FIFO)) {    /* other bits only count with bit 0 set */
        if (uart_fifo_enabled(u))
            uart_rx_clear(u);
        u->fcr = 0;
        return;
    }
    if (!uart_fifo_enabled(u) || (val & UART_FCR_CLEAR_RCVR))
        uart_rx_clear(u);
    /* UART_FCR_CLEAR_XMIT: the TX FIFO is always empty (instant transmission). */
    u->fcr = val & (UART_FCR_ENABLE_FIFO | UART_FCR_DMA_SELECT | UART_FCR_TRIGGER_MASK);
}

static void uart_write_ier(Uart16550 *u, uint8_t val)
{
    uint8_t old = u->ier;
    u->ier = val & 0x0f;
    if (!(old & UART_IER_THRI) && (u->ier & UART_IER_THRI))
        u->thre_pending = true;     /* THR is always empty: 16550A raises at once */
}

static uint8_t uart_read_reg(Uart16550 *u, unsigned reg)
{
    bool dlab = u->lcr & UART_LCR_DLAB;
    uint8_t val;
    switch (reg) {
    case UART_RX:
        return dlab ? (uint8_t)u->divisor : uart_rx_pop(u);
    case UART_IER:
        return dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
    case UART_IIR:
        val = uart_pending_iid(u);
        if (val == UART_IIR_THRI)
            u->thre_pending = false;
        return val | (uart_fifo_enabled(u) ? 0xc0 : 0);
    case UART_LCR:
        return u->lcr;
    case UART_MCR:
        return u->mcr;
    case UART_LSR:
        val = (u->rx_count ? UART_LSR_DR : 0) | u->lsr_errors | UART_LSR_THRE |
              UART_LSR_TEMT | (uart_rx_fifo_error(u) ? UART_LSR_FIFOE : 0);
        u->lsr_errors = 0;
        return val;
    case UART_MSR:
        val = u->msr;
        u->msr &= (uint8_t)~UART_MSR_ANY_DELTA;
        return val;
    default:
        return u->scr;
    }
}

static void uart_write_reg(Uart16550 *u, unsigned reg, uint8_t val)
{
    bool dlab = u->lcr & UART_LCR_DLAB;
    switch (reg) {
    case UART_TX:
        if (dlab)
            u->divisor = (uint16_t)((u->divisor & 0xff00) | val);
        else
            uart_transmit(u, val);
        break;
    case UART_IER:
        if (dlab)
            u->divisor = (uint16_t)((u->divisor & 0x00ff) | val << 8);
        else
            uart_write_ier(u, val);
        break;
    case UART_FCR:
        uart_write_fcr(u, val);
        break;
    case UART_LCR:
        if (uart_loopback(u) && (val & ~u->lcr & UART_LCR_SBC))
            uart_rx_push(u, 0, UART_LSR_BI);    /* the looped-back line goes to break */
        u->lcr = val;
        break;
    case UART_MCR:
        u->mcr = val & 0x1f;
        uart_update_msr(u);
        break;
    case UART_LSR:
    case UART_MSR:
        break;                      /* read-only (LSR writes are a factory test mode) */
    default:
        u->scr = val;
        break;
    }
}

/* The ops declare byte accesses only; a wider call (never from the memory layer) is
 * treated as a byte access, and offsets wrap within the 8 ports. */
static uint64_t uart_io_read(void *opaque, hwaddr addr, unsigned size)
{
    Uart16550 *u = opaque;
    uint8_t val = uart_read_reg(u, addr % UART_NUM_PORTS);
    uart_update_irq(u);
    return val;
}

static void uart_io_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    Uart16550 *u = opaque;
    uart_write_reg(u, addr % UART_NUM_PORTS, (uint8_t)data);
    uart_update_irq(u);
}

static const MemoryRegionOps uart_io_ops = {
    .read = uart_io_read,
    .write = uart_io_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 1 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static void uart_reset(Uart16550 *u)
{
    uart_rx_clear(u);
    u->rbr_last = 0;
    u->divisor = 0;
    u->ier = u->lcr = u->mcr = u->scr = u->fcr = u->lsr_errors = 0;
    u->thre_pending = false;
    u->msr = uart_modem_inputs(u);
}

Uart16550 *uart16550_new(IrqLine irq, Chardev *chr, Error **errp)
{
    Uart16550 *u = calloc(1, sizeof(*u));
    if (!u) {
        error_setg_errno(errp, ENOMEM, "uart16550: cannot allocate device state");
        chardev_close(chr);
        return NULL;
    }
    u->irq = irq;
    u->chr = chr;
    uart_reset(u);
    memory_region_init_io(&u->io, "/machine/uart", &uart_io_ops, u, "serial", UART_NUM_PORTS);
    if (chr) {
        ChardevReceiver rx = { uart16550_can_receive, uart16550_receive, u };
        chardev_set_receiver(chr, &rx);
    }
    irq_line_set_level(&u->irq, false);
    return u;
}

void uart16550_free(Uart16550 *u)
{
    if (!u)
        return;
    if (u->io.container)
        memory_region_del_subregion(u->io.container, &u->io, NULL);
    memory_region_finalize(&u->io);
    irq_line_set_level(&u->irq, false);
    chardev_close(u->chr);
    free(u);
}

MemoryRegion *uart16550_region(Uart16550 *u)
{
    return &u->io;
}

/* ---- registry ---- */

static const char *const uart_keys[] = { "port", "irq", "chardev", NULL };

static Device *uart_create(const DeviceType *type, const DeviceBoard *board,
                           const DeviceOpts *opts, Error **errp);

static void uart_destroy(Device *dev)
{
    uart16550_free(container_of(dev, Uart16550, dev));
}

static int uart_poll_fd(Device *dev)
{
    Uart16550 *u = container_of(dev, Uart16550, dev);
    return u->chr ? chardev_poll_fd(u->chr) : -1;
}

static int uart_handle_readable(Device *dev, Error **errp)
{
    Uart16550 *u = container_of(dev, Uart16550, dev);
    return u->chr ? chardev_handle_readable(u->chr, errp) : 0;
}

static int uart_poll_out_fd(Device *dev)
{
    Uart16550 *u = container_of(dev, Uart16550, dev);
    return u->chr ? chardev_poll_out_fd(u->chr) : -1;
}

static void uart_handle_writable(Device *dev)
{
    Uart16550 *u = container_of(dev, Uart16550, dev);
    if (u->chr)
        chardev_handle_writable(u->chr);
}

static const DeviceType uart_type = {
    .name = "uart",
    .help = "16550A UART: port=0x3f8 irq=4 chardev=stdio "
            "(null, stdio, stdout, file:OUT[:IN], unix:PATH)",
    .keys = uart_keys,
    .create = uart_create,
    .destroy = uart_destroy,
    .poll_fd = uart_poll_fd,
    .handle_readable = uart_handle_readable,
    .poll_out_fd = uart_poll_out_fd,
    .handle_writable = uart_handle_writable,
};
DEVICE_TYPE_REGISTER(uart_type)

static Device *uart_create(const DeviceType *type, const DeviceBoard *board,
                           const DeviceOpts *opts, Error **errp)
{
    uint64_t port;
    IrqLine line;
    if (!board->system_io) {
        error_setg(errp, "uart: the machine has no port I/O (an Arm machine?)");
        return NULL;
    }
    if (device_opts_get_u64(opts, "port", UART16550_DEFAULT_PORT, 0x10000 - UART_NUM_PORTS,
                            &port, errp) < 0 ||
        device_opts_get_isa_irq(opts, board, UART16550_DEFAULT_IRQ, &line, errp) < 0)
        return NULL;
    const char *spec = device_opts_get(opts, "chardev");
    Chardev *chr = chardev_open(spec ? spec : "stdio", errp);
    if (!chr)
        return NULL;
    Uart16550 *u = uart16550_new(line, chr, errp);
    if (!u)
        return NULL;
    if (memory_region_add_subregion(board->system_io, port, &u->io, errp) < 0) {
        error_prepend(errp, "uart at port 0x%" PRIx64, port);
        uart16550_free(u);
        return NULL;
    }
    u->dev.type = type;
    return &u->dev;
}
