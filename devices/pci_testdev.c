/*
 * devices/pci_testdev.c — a PCI test function in the spirit of QEMU's edu device: an ID,
 * a scratch register, a DMA engine between guest memory and a 4 KiB device buffer, and
 * an INTx interrupt. Vendor 0x1234, device 0x10ed, class 0xff0000, INTA.
 *
 * BAR0: 8 KiB 32-bit memory, little endian. Registers take aligned 4-byte accesses;
 * the 64-bit ones (*) also aligned 8-byte writes, and aligned 8-byte reads work at any
 * register offset. Reserved offsets read 0 and ignore writes; other access sizes are
 * refused (reads all ones).
 *   0x00  ID          RO    0x010000ed (version 1.0)
 *   0x04  SCRATCH     RW    any 32-bit value
 *   0x08  STATUS      RO    bit 0 last DMA done, bit 1 last DMA failed,
 *                           bits 15:8 error code (enum testdev_dma_error)
 *   0x10  DMA_SRC*    RW    source: guest physical address, or buffer offset
 *   0x18  DMA_DST*    RW    destination: buffer offset, or guest physical address
 *   0x20  DMA_COUNT*  RW    bytes to copy, at most 4096
 *   0x28  DMA_CMD     RW    bit 0 START (write 1 runs the transfer; reads 0),
 *                           bit 1 DIR (0: guest RAM → buffer, 1: buffer → guest RAM),
 *                           bit 2 IRQ (raise the interrupt when the transfer ends)
 *   0x30  IRQ_STATUS  R/W1C bit 0 DMA done, bit 1 DMA error, bit 2 raised by software;
 *                           writing 1s acknowledges; INTA is asserted while non-zero
 *   0x34  IRQ_RAISE   WO    bits written are set in IRQ_STATUS
 *   0x1000..0x1fff    the DMA buffer, RW with aligned 1/2/4/8-byte accesses
 *
 * A transfer runs synchronously inside the DMA_CMD write, through
 * address_space_rw_ram_only on the DMA address space (so through the mapcache and the
 * dirty log). It is refused, with DMA error status and no memory touched, when bus
 * mastering is off, the count exceeds the buffer, the buffer range or guest range
 * wraps or runs off the end, or any byte of the guest range is not RAM (a hole or
 * MMIO — including this BAR, which rules out re-entry): the guest range is read first
 * in either direction, RAM only, and a write to the guest follows only if that read
 * found nothing but RAM. A write that reaches read-only memory (ROM) is refused there
 * too (error 4), after the RAM before it. STATUS bits 15:8 say which check failed
 * (enum testdev_dma_error). If the memory layer itself fails a transfer (under Xen:
 * the mapcache cannot map a frame), STATUS reports error 5; a read from the guest
 * leaves the buffer untouched, a write to it may be partial.
 */
#include "devices/device.h"
#include "devices/pci_testdev.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/macros.h"

enum {
    REG_ID = 0x00,
    REG_SCRATCH = 0x04,
    REG_STATUS = 0x08,
    REG_DMA_SRC = 0x10,
    REG_DMA_DST = 0x18,
    REG_DMA_COUNT = 0x20,
    REG_DMA_CMD = 0x28,
    REG_IRQ_STATUS = 0x30,
    REG_IRQ_RAISE = 0x34,
};

#define STATUS_DMA_DONE   (1u << 0)
#define STATUS_DMA_ERROR  (1u << 1)
#define DMA_CMD_START     (1u << 0)
#define DMA_CMD_TO_GUEST  (1u << 1)
#define DMA_CMD_IRQ       (1u << 2)
#define IRQ_DMA_DONE      (1u << 0)
#define IRQ_DMA_ERROR     (1u << 1)
#define IRQ_SOFTWARE      (1u << 2)
#define IRQ_ALL           (IRQ_DMA_DONE | IRQ_DMA_ERROR | IRQ_SOFTWARE)

enum testdev_dma_error {
    DMA_OK = 0,
    DMA_ERR_COUNT = 1,          /* count > buffer size */
    DMA_ERR_BUFFER_RANGE = 2,   /* buffer offset + count beyond the buffer */
    DMA_ERR_ADDR_WRAP = 3,      /* guest address + count wraps past 2^64 */
    DMA_ERR_NOT_RAM = 4,        /* part of the guest range is not (writable) RAM */
    DMA_ERR_FAULT = 5,          /* the memory layer failed the access */
    DMA_ERR_NO_MASTER = 6,      /* bus mastering disabled in the command register */
};

struct PciTestDev {
    Device dev;                 /* registry header */
    PciDevice pci;
    MemoryRegion bar0;
    AddressSpace *dma_as;
    uint32_t scratch, status, cmd, irq_status;
    uint64_t dma_src, dma_dst, dma_count;
    uint8_t buf[PCI_TESTDEV_BUF_SIZE];
    LogRateLimit rl;
};

/* ---- interrupt ---- */

static void testdev_set_irq_status(PciTestDev *td, uint32_t status)
{
    td->irq_status = status & IRQ_ALL;
    pci_device_set_intx(&td->pci, td->irq_status != 0);
}

/* ---- DMA ---- */


static enum testdev_dma_error testdev_dma_check(PciTestDev *td, uint64_t guest,
                                                uint64_t buf_off)
{
    uint64_t count = td->dma_count;
    if (!(td->pci.config[PCI_COMMAND] & PCI_COMMAND_MASTER))
        return DMA_ERR_NO_MASTER;
    if (count > PCI_TESTDEV_BUF_SIZE)
        return DMA_ERR_COUNT;
    if (buf_off > PCI_TESTDEV_BUF_SIZE || count > PCI_TESTDEV_BUF_SIZE - buf_off)
        return DMA_ERR_BUFFER_RANGE;
    if (count && guest + (count - 1) < guest)
        return DMA_ERR_ADDR_WRAP;
    return DMA_OK;
}

/* How the device reports what guest memory said: a piece that is not RAM was refused
 * untouched (MEMTX_ACCESS_ERROR), anything else failed in the memory layer. */
static enum testdev_dma_error dma_result(MemTxResult r)
{
    if (r & MEMTX_ACCESS_ERROR)
        return DMA_ERR_NOT_RAM;
    return r == MEMTX_OK ? DMA_OK : DMA_ERR_FAULT;
}

static enum testdev_dma_error testdev_dma_copy(PciTestDev *td, uint64_t guest,
                                               uint64_t buf_off, bool to_guest)
{
    uint8_t bounce[PCI_TESTDEV_BUF_SIZE];  /* the buffer changes only on success */
    uint64_t count = td->dma_count;
    enum testdev_dma_error err =
        dma_result(address_space_rw_ram_only(td->dma_as, guest, bounce, count, false));
    if (err != DMA_OK)
        return err;
    if (!to_guest) {
        memcpy(td->buf + buf_off, bounce, count);
        return DMA_OK;
    }
    return dma_result(address_space_rw_ram_only(td->dma_as, guest, td->buf + buf_off, count,
                                                true));
}

static void testdev_dma_run(PciTestDev *td)
{
    bool to_guest = td->cmd & DMA_CMD_TO_GUEST;
    uint64_t guest = to_guest ? td->dma_dst : td->dma_src;
    uint64_t buf_off = to_guest ? td->dma_src : td->dma_dst;
    enum testdev_dma_error err = testdev_dma_check(td, guest, buf_off);
    if (err == DMA_OK && td->dma_count)
        err = testdev_dma_copy(td, guest, buf_off, to_guest);
    if (err != DMA_OK)
        log_ratelimited(&td->rl, LOG_WARN, "pci-testdev: DMA of %" PRIu64 " bytes %s guest "
                        "0x%" PRIx64 " buffer 0x%" PRIx64 " refused (error %d)", td->dma_count,
                        to_guest ? "to" : "from", guest, buf_off, err);
    td->status = err == DMA_OK ? STATUS_DMA_DONE : STATUS_DMA_ERROR | (uint32_t)err << 8;
    if (td->cmd & DMA_CMD_IRQ)
        testdev_set_irq_status(td, td->irq_status | (err == DMA_OK ? IRQ_DMA_DONE
                                                                    : IRQ_DMA_ERROR));
}

/* ---- registers ---- */

static bool is_64bit_reg(hwaddr reg)
{
    return reg == REG_DMA_SRC || reg == REG_DMA_DST || reg == REG_DMA_COUNT;
}

/* The register file seen as little-endian quadwords; 4-byte reads take a half. */
static uint64_t testdev_reg_qword(const PciTestDev *td, hwaddr qword)
{
    switch (qword) {
    case REG_ID:          return PCI_TESTDEV_ID | (uint64_t)td->scratch << 32;
    case REG_STATUS:      return td->status;
    case REG_DMA_SRC:     return td->dma_src;
    case REG_DMA_DST:     return td->dma_dst;
    case REG_DMA_COUNT:   return td->dma_count;
    case REG_DMA_CMD:     return td->cmd & ~DMA_CMD_START;
    case REG_IRQ_STATUS:  return td->irq_status;
    default:              return 0;
    }
}

static uint64_t *testdev_reg64(PciTestDev *td, hwaddr qword)
{
    switch (qword) {
    case REG_DMA_SRC:   return &td->dma_src;
    case REG_DMA_DST:   return &td->dma_dst;
    default:            return &td->dma_count;
    }
}

static void testdev_write_reg32(PciTestDev *td, hwaddr reg, uint32_t val)
{
    switch (reg) {
    case REG_SCRATCH:
        td->scratch = val;
        break;
    case REG_DMA_CMD:
        td->cmd = val & (DMA_CMD_START | DMA_CMD_TO_GUEST | DMA_CMD_IRQ);
        if (val & DMA_CMD_START)
            testdev_dma_run(td);
        break;
    case REG_IRQ_STATUS:
        testdev_set_irq_status(td, td->irq_status & ~val);
        break;
    case REG_IRQ_RAISE:
        testdev_set_irq_status(td, td->irq_status | val);
        break;
    default:
        if (is_64bit_reg(reg & ~(hwaddr)7)) {
            uint64_t *r = testdev_reg64(td, reg & ~(hwaddr)7);
            unsigned shift = (reg & 4) * 8;
            *r = (*r & ~((uint64_t)UINT32_MAX << shift)) | (uint64_t)val << shift;
        }
        break;              /* ID, STATUS and reserved offsets ignore writes */
    }
}

/* ---- MMIO ---- */

/* Buffer: aligned 1/2/4/8 bytes. Registers: aligned 4 bytes; aligned 8-byte reads
 * anywhere (two registers at once), 8-byte writes only to the 64-bit registers. */
static bool testdev_accepts(void *opaque, hwaddr addr, unsigned size, bool is_write)
{
    if ((size != 1 && size != 2 && size != 4 && size != 8) || addr % size ||
        addr >= PCI_TESTDEV_BAR_SIZE)
        return false;
    if (addr >= PCI_TESTDEV_BUF_OFF || size == 4)
        return true;
    return size == 8 && (!is_write || is_64bit_reg(addr));
}

static uint64_t testdev_read(void *opaque, hwaddr addr, unsigned size)
{
    PciTestDev *td = opaque;
    if (!testdev_accepts(td, addr, size, false)) {
        log_ratelimited(&td->rl, LOG_WARN, "pci-testdev: refused read at 0x%" PRIx64
                        " size %u", addr, size);
        return size == 1 ? 0xff : size == 2 ? 0xffff : size == 4 ? UINT32_MAX : UINT64_MAX;
    }
    uint64_t v = 0;
    if (addr >= PCI_TESTDEV_BUF_OFF) {
        const uint8_t *p = td->buf + (addr - PCI_TESTDEV_BUF_OFF);
        for (unsigned i = 0; i < size; i++)
            v |= (uint64_t)p[i] << (8 * i);
        return v;
    }
    v = testdev_reg_qword(td, addr & ~(hwaddr)7);
    return size == 8 ? v : (uint32_t)(v >> ((addr & 4) * 8));
}

static void testdev_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    PciTestDev *td = opaque;
    if (!testdev_accepts(td, addr, size, true)) {
        log_ratelimited(&td->rl, LOG_WARN, "pci-testdev: refused write at 0x%" PRIx64
                        " size %u", addr, size);
        return;
    }
    if (addr >= PCI_TESTDEV_BUF_OFF) {
        uint8_t *p = td->buf + (addr - PCI_TESTDEV_BUF_OFF);
        for (unsigned i = 0; i < size; i++)
            p[i] = (uint8_t)(data >> (8 * i));
    } else if (size == 8) {
        *testdev_reg64(td, addr) = data;
    } else {
        testdev_write_reg32(td, addr, (uint32_t)data);
    }
}

static const MemoryRegionOps testdev_ops = {
    .read = testdev_read,
    .write = testdev_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8, .accepts = testdev_accepts },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

/* ---- lifecycle ---- */

PciTestDev *pci_testdev_new(AddressSpace *dma_as, Error **errp)
{
    PciTestDev *td = calloc(1, sizeof(*td));
    if (!td) {
        error_setg_errno(errp, ENOMEM, "pci-testdev: cannot allocate device state");
        return NULL;
    }
    td->dma_as = dma_as;
    pci_device_init(&td->pci, "pci-testdev", PCI_TESTDEV_VENDOR_ID, PCI_TESTDEV_DEVICE_ID,
                    0xff0000, 0x10, 1);
    memory_region_init_io(&td->bar0, "/machine/pci-testdev", &testdev_ops, td, "testdev-bar0",
                          PCI_TESTDEV_BAR_SIZE);
    if (pci_device_init_bar(&td->pci, 0, PCI_BAR_MEM32, &td->bar0, errp) < 0) {
        memory_region_finalize(&td->bar0);
        free(td);
        return NULL;
    }
    return td;
}

void pci_testdev_free(PciTestDev *td)
{
    if (!td)
        return;
    if (td->pci.host)
        pci_host_unregister_device(td->pci.host, &td->pci);
    memory_region_finalize(&td->bar0);
    free(td);
}

PciDevice *pci_testdev_pci(PciTestDev *td)
{
    return &td->pci;
}

MemoryRegion *pci_testdev_bar0(PciTestDev *td)
{
    return &td->bar0;
}

/* ---- registry ---- */

static const char *const testdev_keys[] = { "slot", "fn", NULL };

static Device *testdev_create(const DeviceType *type, const DeviceBoard *board,
                              const DeviceOpts *opts, Error **errp);

static void testdev_destroy(Device *dev)
{
    pci_testdev_free(container_of(dev, PciTestDev, dev));
}

static const DeviceType testdev_type = {
    .name = "pci-testdev",
    .help = "PCI test device (ID, scratch, DMA, INTA): slot=first free from 3, fn=0",
    .keys = testdev_keys,
    .create = testdev_create,
    .destroy = testdev_destroy,
};
DEVICE_TYPE_REGISTER(testdev_type)

static Device *testdev_create(const DeviceType *type, const DeviceBoard *board,
                              const DeviceOpts *opts, Error **errp)
{
    uint8_t devfn;
    if (!board->pci || !board->dma_as) {
        error_setg(errp, "pci-testdev: the machine has no PCI bus or DMA address space");
        return NULL;
    }
    if (pci_host_pick_slot(board->pci, opts, "pci-testdev", &devfn, errp) < 0)
        return NULL;
    PciTestDev *td = pci_testdev_new(board->dma_as, errp);
    if (!td)
        return NULL;
    if (pci_host_register_device(board->pci, &td->pci, devfn, errp) < 0) {
        pci_testdev_free(td);
        return NULL;
    }
    td->dev.type = type;
    return &td->dev;
}
