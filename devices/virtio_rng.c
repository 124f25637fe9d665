/*
 * devices/virtio_rng.c — a virtio entropy device (virtio 1.x, section 5.4), on the
 * virtio-mmio transport as "virtio-rng" and on PCI as "virtio-rng-pci".
 *
 * One queue; the driver posts device-writable buffers and the device fills them from
 * the host's getrandom(). A buffer gets at most RNG_MAX_BYTES_PER_BUFFER bytes (the
 * spec lets the device write less than offered; the used length says how much) and
 * one notify fills at most RNG_BUDGET buffers before the core defers the rest to a
 * later loop turn, so a driver cannot keep the ioreq loop busy; buffers the device may
 * only read are returned untouched. Linux finds the mmio device with
 * virtio_mmio.device=512@0xfeb00000:5 on its command line (the defaults below).
 */
#include "devices/virtio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/random.h>

#define VIRTIO_ID_RNG               4
#define RNG_QUEUE_MAX               64
#define RNG_MAX_BYTES_PER_BUFFER    4096u
#define RNG_BUDGET                  64u

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

/* Fill one chain's device-writable buffers, up to the per-chain limit. */
static int fill_chain(AddressSpace *as, const VirtqElem *elem, uint32_t *total, Error **errp)
{
    *total = 0;
    for (unsigned i = 0; i < elem->nr && *total < RNG_MAX_BYTES_PER_BUFFER; i++) {
        if (!elem->seg[i].device_writes)
            continue;
        VirtqSeg seg = elem->seg[i];
        uint32_t written = 0;
        if (seg.len > RNG_MAX_BYTES_PER_BUFFER - *total)
            seg.len = RNG_MAX_BYTES_PER_BUFFER - *total;
        if (fill_segment(as, &seg, &written, errp) < 0)
            return -EIO;
        *total += written;
    }
    return 0;
}

static int rng_notify(VirtioCore *vc, unsigned q, void *opaque, Error **errp)
{
    VirtQueue *vq = &vc->vq[q];
    unsigned done = 0;
    int ret = 0;
    while (done < RNG_BUDGET) {
        VirtqElem *elem;
        ret = virtq_pop(vq, vc->dma_as, &elem, errp);
        if (ret <= 0)
            break;
        uint32_t total;
        ret = fill_chain(vc->dma_as, elem, &total, errp);
        if (ret == 0)
            ret = virtq_push(vq, vc->dma_as, elem, total, errp);
        free(elem);
        if (ret < 0)
            return ret;
        done++;
    }
    if (done)
        virtio_core_used_buffers(vc, q);
    if (ret < 0)
        return ret;
    return done == RNG_BUDGET ? 1 : 0;
}

/* The entropy device keeps no state of its own: the backend's opaque is a marker that
 * the device exists (the registry releases it with the device). */
static int rng_create(const DeviceBoard *board, const DeviceOpts *opts, VirtioBackend *be,
                      Error **errp)
{
    static const char state;
    *be = (VirtioBackend){ .device_id = VIRTIO_ID_RNG, .nr_queues = 1,
                           .queue_max = RNG_QUEUE_MAX, .notify = rng_notify,
                           .opaque = (void *)&state };
    return 0;
}

static void rng_destroy(void *opaque)
{
}

static const char *const rng_keys[] = { NULL };

static VirtioDeviceType rng_type = {
    .name = "rng",
    .help = "virtio entropy source",
    .keys = rng_keys,
    .mmio_default_addr = 0xfeb00000ull,
    .mmio_default_irq = 5,
    .create = rng_create,
    .destroy = rng_destroy,
};
VIRTIO_DEVICE_REGISTER(rng_type)
