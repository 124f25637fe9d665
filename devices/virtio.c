/*
 * devices/virtio.c — what every virtio 1.x transport shares (section 2 and 3 of the
 * spec): device status, feature negotiation, the queues' configuration, the interrupt
 * status bits, and what happens when a driver breaks a queue. The transports
 * (virtio_mmio.c, virtio_pci.c) only map registers onto this and drive their own
 * interrupt line from `isr` through the isr_changed hook.
 *
 * The device offers VIRTIO_F_VERSION_1 plus the backend's features; FEATURES_OK sticks
 * only if the driver accepted VERSION_1 and nothing that was not offered. A queue's
 * layout is checked when the driver enables it, and its registers are frozen while it
 * is enabled. When the driver breaks a queue (the backend's notify fails), the device
 * sets DEVICE_NEEDS_RESET, raises a configuration-change interrupt and ignores
 * notifications until the driver resets it (status 0).
 */
#include "devices/virtio.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

#define VIRTIO_F_VERSION_1      (1ull << 32)
#define STATUS_FEATURES_OK      8u
#define STATUS_DRIVER_OK        4u
#define STATUS_NEEDS_RESET      64u

int virtio_core_init(VirtioCore *vc, const VirtioBackend *be, AddressSpace *dma_as,
                     const char *name, uint16_t initial_queue_size,
                     void (*isr_changed)(VirtioCore *vc), Error **errp)
{
    if (be->nr_queues == 0 || be->nr_queues > VIRTIO_MAX_QUEUES || !be->notify) {
        error_setg(errp, "virtio device '%s': %u queues (1 to %d) and a notify callback",
                   name, be->nr_queues, VIRTIO_MAX_QUEUES);
        return -EINVAL;
    }
    *vc = (VirtioCore){ .be = *be, .dma_as = dma_as, .name = name,
                        .initial_queue_size = initial_queue_size, .isr_changed = isr_changed };
    virtio_core_reset(vc);
    return 0;
}

void virtio_core_reset(VirtioCore *vc)
{
    vc->status = vc->isr = 0;
    vc->device_features_sel = vc->driver_features_sel = vc->queue_sel = 0;
    vc->driver_features = 0;
    memset(vc->vq, 0, sizeof(vc->vq));
    for (unsigned q = 0; q < vc->be.nr_queues; q++)
        vc->vq[q].num = vc->initial_queue_size;
    if (vc->be.reset)
        vc->be.reset(vc->be.opaque);
    vc->isr_changed(vc);
}

/* The driver broke the device: stop using it until it resets us. */
static void needs_reset(VirtioCore *vc, Error *err)
{
    log_ratelimited(&vc->rl, LOG_WARN, "%s: %s: the device needs a reset", vc->name,
                    error_get_pretty(err));
    error_free(err);
    vc->status |= STATUS_NEEDS_RESET;
    vc->isr |= VIRTIO_ISR_CONFIG;
    vc->isr_changed(vc);
}

static uint64_t device_features(const VirtioCore *vc)
{
    return VIRTIO_F_VERSION_1 | vc->be.features;
}

uint32_t virtio_core_device_features(const VirtioCore *vc)
{
    return vc->device_features_sel > 1
           ? 0 : (uint32_t)(device_features(vc) >> (32 * vc->device_features_sel));
}

void virtio_core_set_half(uint64_t *value, bool high, uint32_t half)
{
    unsigned shift = high ? 32 : 0;
    *value = (*value & ~(0xffffffffull << shift)) | (uint64_t)half << shift;
}

void virtio_core_write_driver_features(VirtioCore *vc, uint32_t val)
{
    if (vc->driver_features_sel <= 1 && !(vc->status & STATUS_FEATURES_OK))
        virtio_core_set_half(&vc->driver_features, vc->driver_features_sel == 1, val);
}

void virtio_core_write_status(VirtioCore *vc, uint8_t val)
{
    if (val == 0) {
        virtio_core_reset(vc);
        return;
    }
    if ((val & STATUS_FEATURES_OK) && !(vc->status & STATUS_FEATURES_OK) &&
        (!(vc->driver_features & VIRTIO_F_VERSION_1) ||
         (vc->driver_features & ~device_features(vc))))
        val &= (uint8_t)~STATUS_FEATURES_OK;    /* the driver reads it back and gives up */
    vc->status = (val & ~STATUS_NEEDS_RESET) | (vc->status & STATUS_NEEDS_RESET);
}

VirtQueue *virtio_core_selected_queue(VirtioCore *vc)
{
    return vc->queue_sel < vc->be.nr_queues ? &vc->vq[vc->queue_sel] : NULL;
}

void virtio_core_write_queue(VirtQueue *vq, enum virtio_queue_field field, uint32_t val)
{
    if (!vq || vq->ready)
        return;                     /* frozen while enabled, as the spec requires */
    switch (field) {
    case VQ_SIZE:           vq->num = (uint16_t)(val > UINT16_MAX ? 0 : val); break;
    case VQ_DESC_LOW:
    case VQ_DESC_HIGH:      virtio_core_set_half(&vq->desc, field == VQ_DESC_HIGH, val); break;
    case VQ_DRIVER_LOW:
    case VQ_DRIVER_HIGH:    virtio_core_set_half(&vq->avail, field == VQ_DRIVER_HIGH, val); break;
    case VQ_DEVICE_LOW:
    case VQ_DEVICE_HIGH:    virtio_core_set_half(&vq->used, field == VQ_DEVICE_HIGH, val); break;
    }
}

void virtio_core_enable_queue(VirtioCore *vc, VirtQueue *vq, bool enable)
{
    if (!enable) {
        vq->ready = false;
        return;
    }
    Error *err = NULL;
    if (virtq_check_layout(vq, vc->be.queue_max, &err) < 0) {
        needs_reset(vc, err);
        return;
    }
    vq->ready = true;
}

void virtio_core_notify(VirtioCore *vc, uint32_t q)
{
    if (q >= vc->be.nr_queues || !vc->vq[q].ready || !(vc->status & STATUS_DRIVER_OK) ||
        (vc->status & STATUS_NEEDS_RESET))
        return;
    Error *err = NULL;
    if (vc->be.notify(vc, q, vc->be.opaque, &err) < 0)
        needs_reset(vc, err);
}

void virtio_core_used_buffers(VirtioCore *vc, unsigned q)
{
    if (q < vc->be.nr_queues && virtq_wants_interrupt(&vc->vq[q], vc->dma_as)) {
        vc->isr |= VIRTIO_ISR_QUEUE;
        vc->isr_changed(vc);
    }
}

void virtio_core_ack_isr(VirtioCore *vc, uint32_t bits)
{
    vc->isr &= (uint8_t)~bits;
    vc->isr_changed(vc);
}
