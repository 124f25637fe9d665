/*
 * tests/fuzz/fuzz_ioreq.c — hostile ioreqs against xendm's default machine.
 *
 * The input is a sequence of raw ioreq_t images (32 bytes each, every field and pad
 * bit as the guest-influenced page could hold it), executed one after another by
 * ioreq_exec() on a machine like dm/machine.c builds: RAM at 0, the UART, the PCI host
 * and the PCI test device, with PCI config requests going to the PCI host, plus the
 * virtio entropy device on virtio-mmio at 0xe0180000 and on PCI (slot 4), whose
 * queues live in whatever RAM holds. The test device's DMA and rep data_is_ptr
 * requests point at RAM, holes and MMIO.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "memory/memory.h"
#include "tests/fuzz/fuzz.h"
#include "util/log.h"
#include "xen/ioreq_exec.h"

#define GUEST_RAM (1u << 20)

typedef struct FuzzMachine {
    MemoryRegion sys, io, ram;
    AddressSpace as_mem, as_io;
    IrqRouter irq;
    PciHost *pci;
    Device *uart, *testdev, *rng, *rng_pci;
    IoreqExecCtx exec;
} FuzzMachine;

static int irq_isa(void *opaque, unsigned irq, bool level) { return 0; }
static int irq_intx(void *opaque, uint32_t sbdf, unsigned intx, bool level) { return 0; }
static int irq_msi(void *opaque, uint64_t addr, uint32_t data) { return 0; }

static uint64_t pci_read(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size)
{
    return pci_host_config_read(opaque, sbdf, reg, size);
}

static void pci_write(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size, uint64_t v)
{
    pci_host_config_write(opaque, sbdf, reg, size, (uint32_t)v);
}

/* Built once: the fuzzer keeps state across inputs, as a long-running xendm does. */
static FuzzMachine *machine(void)
{
    static FuzzMachine m;
    static bool ready;
    if (ready)
        return &m;
    log_set_level(LOG_ERROR);
    memory_region_init(&m.sys, "/machine", "system", UINT64_MAX);
    memory_region_init(&m.io, "/machine", "io", 0x10000);
    if (memory_region_init_ram(&m.ram, "/machine", "ram", GUEST_RAM, NULL) < 0 ||
        memory_region_add_subregion(&m.sys, 0, &m.ram, NULL) < 0 ||
        address_space_init(&m.as_mem, &m.sys, "memory", NULL) < 0 ||
        address_space_init(&m.as_io, &m.io, "I/O", NULL) < 0)
        abort();
    m.irq = (IrqRouter){ .set_isa_irq = irq_isa, .set_pci_intx = irq_intx,
                         .inject_msi = irq_msi };
    m.pci = pci_host_new(&m.sys, &m.io, &m.irq, 0, NULL);
    DeviceBoard board = { .system_memory = &m.sys, .system_io = &m.io, .dma_as = &m.as_mem,
                          .irq = &m.irq, .pci = m.pci };
    m.uart = device_create(&board, "uart,chardev=null", NULL);
    m.testdev = device_create(&board, "pci-testdev", NULL);
    m.rng = device_create(&board, "virtio-rng,addr=0xe0180000", NULL);
    m.rng_pci = device_create(&board, "virtio-rng-pci", NULL);
    if (!m.pci || !m.uart || !m.testdev || !m.rng || !m.rng_pci)
        abort();
    m.exec = (IoreqExecCtx){ .as_io = &m.as_io, .as_mem = &m.as_mem,
                             .handlers = { .pci_config_read = pci_read,
                                           .pci_config_write = pci_write },
                             .handlers_opaque = m.pci };
    ready = true;
    return &m;
}

/*
 * Random bytes rarely form a request that gets past validation. The low bits of the
 * ioreq's own padding (a field nobody reads) steer the fields towards the interesting
 * ranges; with those bits clear, the raw values go through untouched.
 */
static void shape(ioreq_t *req)
{
    uint16_t how = req->_pad0;
    if (how & 1)
        req->type %= 9;                                     /* known types, and 3..6 */
    if (how & 2)
        req->size = 1u << (req->size & 3);
    if (how & 4)
        req->addr = req->type == IOREQ_TYPE_PIO ? req->addr % 0x10000
                  : req->type == IOREQ_TYPE_PCI_CONFIG ? (req->addr & 0xff00000fffull)
                  : req->addr % (2ull * GUEST_RAM) + ((how & 8) ? 0xe0000000u : 0);
    if (how & 16)
        req->data %= 2ull * GUEST_RAM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzMachine *m = machine();
    for (size_t off = 0; off + sizeof(ioreq_t) <= size; off += sizeof(ioreq_t)) {
        ioreq_t req;
        memcpy(&req, data + off, sizeof(req));
        shape(&req);
        /* Keep the work per input bounded: huge reps are valid but slow, not bugs. */
        if (req.count > 4096)
            req.count %= 4096;
        ioreq_exec(&m->exec, &req);
    }
    return 0;
}
