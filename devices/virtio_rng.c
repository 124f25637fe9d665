/*
 * devices/virtio_rng.c — a virtio entropy device (virtio 1.x, section 5.4) on the
 * virtio-mmio transport, registered as "virtio-rng".
 *
 * One queue; the driver posts device-writable buffers and the device fills them from
 * the host's getrandom(). A buffer gets at most RNG_MAX_BYTES_PER_BUFFER bytes (the
 * spec lets the device write less than offered; the used length says how much), so a
 * request cannot keep the ioreq loop busy for long; buffers the device may only read
 * are returned untouched. Linux finds such a device with
 * virtio_mmio.device=512@0xfeb00000:5 on its command line (the defaults below).
 */
#include "devices/devices.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/random.h>

#define VIRTIO_ID_RNG               4
#define RNG_QUEUE_MAX               64
#define RNG_MAX_BYTES_PER_BUFFER    4096u
#define VIRTIO_RNG_DEFAULT_ADDR     0xfeb00000ull
#define VIRTIO_RNG_DEFAULT_IRQ      5

typedef struct VirtioRng {
    Device dev;                     /* first: the registry casts back from it */
    VirtioMmio *vm;
} VirtioRng;

/* Fill one buffer, setting *written (fewer bytes than asked when the kernel's entropy
 * runs short, which an entropy device may answer). 0, or -EIO (errp) when the buffer
 * is not guest RAM. */
static int fill_segment(VirtioRng *rng, const VirtqSeg *seg, uint32_t *written, Error **errp)
{
    uint8_t buf[RNG_MAX_BYTES_PER_BUFFER];
    uint32_t want = seg->len < sizeof(buf) ? seg->len : (uint32_t)sizeof(buf);
    ssize_t got = getrandom(buf, want, GRND_NONBLOCK);
    if (got <= 0)
        return 0;                   /* nothing now; an empty answer is allowed */
    AddressSpace *as = virtio_mmio_dma(rng->vm);
    if (!address_space_range_is_ram(as, seg->addr, (uint64_t)got, true) ||
        address_space_write(as, seg->addr, MEMTXATTRS_UNSPECIFIED, buf, (size_t)got) !=
        MEMTX_OK) {
        error_setg(errp, "virtio-rng: buffer at 0x%" PRIx64 " (%zd bytes) is not guest RAM",
                   seg->addr, got);
        return -EIO;
    }
    *written = (uint32_t)got;
    return 0;
}

static int rng_notify(VirtioMmio *vm, unsigned q, void *opaque, Error **errp)
{
    VirtioRng *rng = opaque;
    VirtQueue *vq = virtio_mmio_queue(vm, q);
    AddressSpace *as = virtio_mmio_dma(vm);
    VirtqElem elem;
    bool used = false;
    int ret;
    while ((ret = virtq_pop(vq, as, &elem, errp)) > 0) {
        uint32_t total = 0;
        for (unsigned i = 0; i < elem.nr && total < RNG_MAX_BYTES_PER_BUFFER; i++) {
            uint32_t written = 0;
            if (!elem.seg[i].device_writes)
                continue;
            VirtqSeg seg = elem.seg[i];
            if (seg.len > RNG_MAX_BYTES_PER_BUFFER - total)
                seg.len = RNG_MAX_BYTES_PER_BUFFER - total;
            if (fill_segment(rng, &seg, &written, errp) < 0)
                return -EIO;
            total += written;
        }
        if (virtq_push(vq, as, &elem, total, errp) < 0)
            return -EIO;
        used = true;
    }
    if (used)
        virtio_mmio_used_buffers(vm, q);
    return ret;
}

/* ---- registry ---- */

static const char *const rng_keys[] = { "addr", "irq", NULL };

static void rng_destroy(Device *dev)
{
    VirtioRng *rng = (VirtioRng *)dev;
    virtio_mmio_free(rng->vm);
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
    VirtioBackend be = { .device_id = VIRTIO_ID_RNG, .nr_queues = 1,
                         .queue_max = RNG_QUEUE_MAX, .notify = rng_notify, .opaque = rng };
    rng->vm = virtio_mmio_new(&be, line, board->dma_as, "virtio-rng", errp);
    if (!rng->vm ||
        memory_region_add_subregion(board->system_memory, addr, virtio_mmio_region(rng->vm),
                                    errp) < 0) {
        error_prepend(errp, "virtio-rng at 0x%" PRIx64, addr);
        virtio_mmio_free(rng->vm);
        free(rng);
        return NULL;
    }
    rng->dev.type = &rng_type;
    return &rng->dev;
}
