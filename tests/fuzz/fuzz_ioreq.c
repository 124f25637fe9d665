/*
 * tests/fuzz/fuzz_ioreq.c — hostile ioreqs against xendm's default machine.
 *
 * The input is a sequence of raw ioreq_t images (32 bytes each, every field and pad
 * bit as the guest-influenced page could hold it), executed one after another by
 * ioreq_exec() on a machine like dm/machine.c builds: RAM at 0, the UART, the PCI host
 * and the PCI test device, with PCI config requests going to the PCI host, plus the
 * virtio entropy device on virtio-mmio at 0xe0180000 and on PCI (slot 4), and the
 * virtio block device on virtio-mmio at 0xe0190000 (io_uring) and on PCI (slot 5,
 * the thread pool), each over its own small image, whose queues live in whatever RAM
 * holds, and a virtio entropy device with grant_usage=1 at 0xe01a0000, whose rings and
 * buffers are grant addresses (1 << 63 | ref << 12 | offset): ref r grants page r of
 * RAM, read-write when r % 3 == 0, read-only when r % 3 == 1, not at all otherwise or
 * beyond RAM; every mapping must be released by the end of each input. The test
 * device's DMA and rep data_is_ptr requests point at RAM, holes and MMIO.
 *
 * Like xendm, the machine has an event loop: after each input, one turn of it serves
 * the disks' completions that are ready (without waiting) and the deferred device
 * work, so requests progress across inputs as they would between a guest's exits.
 * At exit the disks are destroyed, which waits for what they still have in flight.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "mapcache/grant_dma.h"
#include "memory/memory.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/support.h"
#include "util/log.h"
#include "util/macros.h"
#include "xen/ioreq_exec.h"

#define GUEST_RAM (1u << 20)

typedef struct FuzzMachine {
    FuzzBoard b;
    Device *uart, *testdev, *rng, *rng_pci;
    Device *disks[2];               /* virtio-blk on virtio-mmio and on PCI */
    GrantDma *grants;
    Device *rng_grants;             /* virtio-rng with grant_usage=1 */
    unsigned grant_pages;           /* mapped now */
    IoreqExecCtx exec;
} FuzzMachine;

static uint64_t pci_read(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size)
{
    return pci_host_config_read(opaque, sbdf, reg, size);
}

static void pci_write(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size, uint64_t v)
{
    pci_host_config_write(opaque, sbdf, reg, size, (uint32_t)v);
}

static FuzzMachine fm;

static void *grant_map(void *opaque, const uint32_t *refs, uint32_t count, bool writable)
{
    for (uint32_t i = 0; i < count; i++) {
        uint32_t r = refs[i];
        if (r != refs[0] + i)
            abort();                /* grant DMA asks for consecutive refs */
        if (r >= GUEST_RAM >> 12 || r % 3 == 2 || (writable && r % 3 == 1))
            return NULL;
    }
    fm.grant_pages += count;
    return (uint8_t *)memory_region_get_ram_ptr(&fm.b.ram) + ((uint64_t)refs[0] << 12);
}

static int grant_unmap(void *opaque, void *host, uint32_t count)
{
    if (count > fm.grant_pages)
        abort();                    /* unmapping more than was mapped */
    fm.grant_pages -= count;
    return 0;
}

static const GrantMapperOps grant_ops = { .map = grant_map, .unmap = grant_unmap };

/* Requests still in flight finish (into guest RAM) before the process goes. */
static void destroy_disks(void)
{
    for (unsigned i = 0; i < ARRAY_SIZE(fm.disks); i++) {
        device_destroy(fm.disks[i]);
        fm.disks[i] = NULL;
    }
}

/* Built once: the fuzzer keeps state across inputs, as a long-running xendm does. */
static FuzzMachine *machine(void)
{
    static bool ready;
    if (ready)
        return &fm;
    log_set_level(LOG_ERROR);
    fuzz_board_init(&fm.b, GUEST_RAM);
    fm.grants = grant_dma_new(&grant_ops, NULL, "grant-dma", NULL);
    if (!fm.grants)
        abort();
    fm.b.board.grant_dma_as = grant_dma_address_space(fm.grants);
    const DeviceBoard *board = &fm.b.board;
    fm.uart = device_create(board, "uart,chardev=null", NULL);
    fm.testdev = device_create(board, "pci-testdev", NULL);
    fm.rng = device_create(board, "virtio-rng,addr=0xe0180000", NULL);
    fm.rng_pci = device_create(board, "virtio-rng-pci", NULL);
    fm.rng_grants = device_create(board, "virtio-rng,addr=0xe01a0000,grant_usage=1", NULL);
    if (!fm.uart || !fm.testdev || !fm.rng || !fm.rng_pci || !fm.rng_grants)
        abort();
    fm.disks[0] = fuzz_create_blk(board, "virtio-blk,addr=0xe0190000,irq=6,queue-size=64",
                                  NULL, FUZZ_IMAGE_TMP, NULL);
    fm.disks[1] = fuzz_create_blk(board, "virtio-blk-pci,slot=5,aio=threads,queue-size=16",
                                  NULL, FUZZ_IMAGE_TMP, NULL);
    atexit(destroy_disks);
    fm.exec = (IoreqExecCtx){ .as_io = &fm.b.as_io, .as_mem = &fm.b.as_mem,
                              .handlers = { .pci_config_read = pci_read,
                                            .pci_config_write = pci_write },
                              .handlers_opaque = fm.b.pci };
    ready = true;
    return &fm;
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
    fuzz_serve_turn(m->disks, ARRAY_SIZE(m->disks), &m->b.work, 0);
    if (m->grant_pages)
        abort();                    /* a grant mapping outlived its access */
    return 0;
}
