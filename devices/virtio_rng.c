/*
 * devices/virtio_rng.c — a virtio entropy device (virtio 1.x, section 5.4), on the
 * virtio-mmio transport as "virtio-rng" and on PCI as "virtio-rng-pci".
 *
 * One queue; the driver posts device-writable buffers and the device fills them from
 * the host's getrandom(). A buffer gets at most RNG_MAX_BYTES_PER_BUFFER bytes (the
 * spec lets the device write less than offered; the used length says how much), so a
 * request cannot keep the ioreq loop busy for long; buffers the device may only read
 * are returned untouched. Linux finds such a device with
 * virtio_mmio.device=512@0xfeb00000:5 on its command line (the defaults below).
 */
#include "devices/device.h"
#include "devices/virtio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/random.h>

#include "util/macros.h"

#define VIRTIO_ID_RNG               4
#define RNG_QUEUE_MAX               64
#define RNG_MAX_BYTES_PER_BUFFER    4096u
#define VIRTIO_RNG_DEFAULT_ADDR     0xfeb00000ull
#define VIRTIO_RNG_DEFAULT_IRQ      5

typedef struct VirtioRng {
    Device dev;                     /* registry header */
    VirtioMmio *mmio;               /* the transport: one of these two */
    VirtioPci *pci;
    PciHost *host;                  /* where pci is registered */
} VirtioRng;

/* Fill one buffer, setting *written (fewer bytes than asked when the kernel's entropy
 * runs short, which an entropy device may answer). 0, or -EIO (errp) when the buffer
 * is not guest RAM. */
static int fill_segment(AddressSpace *as, const VirtqSeg *seg, uint32_t *written,
                        Error **errp)
{
    uint8_t buf[RNG_MAX_BYTES_PER_BUFFER];
    uint32_t want = seg->len < sizeof(buf) ? seg->len : (uint32_t)sizeof(buf);
    ssize_t got = getrandom(buf, want, GRND_NONBLOCK);
    if (got <= 0)
        return 0;                   /* nothing now; an empty answer is allowed */
    if (address_space_rw_ram_only(as, seg->addr, buf, (hwaddr)got, true) != MEMTX_OK) {
        error_setg(errp, "virtio-rng: buffer at 0x%" PRIx64 " (%zd bytes) is not guest RAM",
                   seg->addr, got);
        return -EIO;
    }
    *written = (uint32_t)got;
    return 0;
}

static int rng_notify(VirtioCore *vc, unsigned q, void *opaque, Error **errp)
{
    VirtQueue *vq = &vc->vq[q];
    VirtqElem elem;
    bool used = false;
    int ret;
    while ((ret = virtq_pop(vq, vc->dma_as, &elem, errp)) > 0) {
        uint32_t total = 0;
        for (unsigned i = 0; i < elem.nr && total < RNG_MAX_BYTES_PER_BUFFER; i++) {
            uint32_t written = 0;
            if (!elem.seg[i].device_writes)
                continue;
            VirtqSeg seg = elem.seg[i];
            if (seg.len > RNG_MAX_BYTES_PER_BUFFER - total)
                seg.len = RNG_MAX_BYTES_PER_BUFFER - total;
            if (fill_segment(vc->dma_as, &seg, &written, errp) < 0)
                return -EIO;
            total += written;
        }
        if (virtq_push(vq, vc->dma_as, &elem, total, errp) < 0)
            return -EIO;
        used = true;
    }
    if (used)
        virtio_core_used_buffers(vc, q);
    return ret;
}

static const VirtioBackend rng_backend = {
    .device_id = VIRTIO_ID_RNG, .nr_queues = 1, .queue_max = RNG_QUEUE_MAX,
    .notify = rng_notify,
};

/* ---- registry ---- */

static const char *const rng_keys[] = { "addr", "irq", NULL };

static void rng_destroy(Device *dev)
{
    VirtioRng *rng = container_of(dev, VirtioRng, dev);
    virtio_mmio_free(rng->mmio);
    if (rng->pci) {
        pci_host_unregister_device(rng->host, virtio_pci_device(rng->pci));
        virtio_pci_free(rng->pci);
    }
    free(rng);
}

static Device *rng_create(const DeviceBoard *board, const DeviceOpts *opts, Error **errp);

static const DeviceType rng_type = {
    .name = "virtio-rng",
    .help = "virtio entropy source on virtio-mmio: addr=0xfeb00000 irq=5",
    .keys = rng_keys,
    .create = rng_create,
    .destroy = rng_destroy,
};
DEVICE_TYPE_REGISTER(rng_type)

static const char *const rng_pci_keys[] = { "slot", "fn", NULL };
static Device *rng_pci_create(const DeviceBoard *board, const DeviceOpts *opts,
                              Error **errp);

static const DeviceType rng_pci_type = {
    .name = "virtio-rng-pci",
    .help = "virtio entropy source on PCI (modern, INTA): slot=first free from 3, fn=0",
    .keys = rng_pci_keys,
    .create = rng_pci_create,
    .destroy = rng_destroy,
};
DEVICE_TYPE_REGISTER(rng_pci_type)

static Device *rng_pci_create(const DeviceBoard *board, const DeviceOpts *opts,
                              Error **errp)
{
    uint8_t devfn;
    if (!board->pci || !board->dma_as) {
        error_setg(errp, "virtio-rng-pci: the machine has no PCI bus or DMA address space");
        return NULL;
    }
    if (pci_host_pick_slot(board->pci, opts, "virtio-rng-pci", &devfn, errp) < 0)
        return NULL;
    VirtioRng *rng = calloc(1, sizeof(*rng));
    if (!rng) {
        error_setg_errno(errp, ENOMEM, "virtio-rng-pci: cannot allocate device state");
        return NULL;
    }
    rng->pci = virtio_pci_new(&rng_backend, board->dma_as, "virtio-rng-pci", errp);
    if (!rng->pci ||
        pci_host_register_device(board->pci, virtio_pci_device(rng->pci), devfn, errp) < 0) {
        virtio_pci_free(rng->pci);
        free(rng);
        return NULL;
    }
    rng->host = board->pci;
    rng->dev.type = &rng_pci_type;
    return &rng->dev;
}

static Device *rng_create(const DeviceBoard *board, const DeviceOpts *opts, Error **errp)
{
    uint64_t addr;
    IrqLine line;
    if (device_opts_get_u64(opts, "addr", VIRTIO_RNG_DEFAULT_ADDR,
                            UINT64_MAX - VIRTIO_MMIO_REGION_SIZE, &addr, errp) < 0 ||
        device_opts_get_isa_irq(opts, board, VIRTIO_RNG_DEFAULT_IRQ, &line, errp) < 0)
        return NULL;
    if (addr & (VIRTIO_MMIO_REGION_SIZE - 1)) {
        error_setg(errp, "virtio-rng: addr 0x%" PRIx64 " is not %u-byte aligned", addr,
                   VIRTIO_MMIO_REGION_SIZE);
        return NULL;
    }
    VirtioRng *rng = calloc(1, sizeof(*rng));
    if (!rng) {
        error_setg_errno(errp, ENOMEM, "virtio-rng: cannot allocate device state");
        return NULL;
    }
    rng->mmio = virtio_mmio_new(&rng_backend, line, board->dma_as, "virtio-rng", errp);
    if (!rng->mmio ||
        memory_region_add_subregion(board->system_memory, addr, virtio_mmio_region(rng->mmio),
                                    errp) < 0) {
        error_prepend(errp, "virtio-rng at 0x%" PRIx64, addr);
        rng_destroy(&rng->dev);
        return NULL;
    }
    rng->dev.type = &rng_type;
    return &rng->dev;
}
