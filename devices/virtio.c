/*
 * devices/virtio.c — what every virtio 1.x transport shares (sections 2 and 3 of the
 * spec): device status, feature negotiation, the queues' configuration, the device
 * configuration space with its generation counter, interrupt sources, bounded queue
 * work, and what happens when a driver breaks a queue. The transports (virtio_mmio.c,
 * virtio_pci.c) only map registers onto this and deliver interrupts their own way.
 *
 * The device offers VIRTIO_F_VERSION_1 plus the backend's features; FEATURES_OK sticks
 * only if the driver accepted VERSION_1 and the backend's required features
 * (features_required: ACCESS_PLATFORM for grant DMA) and nothing that was not offered.
 * A queue's layout is checked when the driver enables it, with the ring features it
 * negotiated (EVENT_IDX changes the rings' sizes), and its registers are frozen while
 * it is enabled. When the driver breaks a queue (the backend's notify fails), the device sets
 * DEVICE_NEEDS_RESET, raises a configuration-change interrupt and ignores notifications
 * until the driver resets it (status 0).
 */
#include "devices/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/macros.h"

#define STATUS_FEATURES_OK      8u
#define STATUS_DRIVER_OK        4u
#define STATUS_NEEDS_RESET      64u

static void kick_run(DeviceWork *work);

/* The backend returns everything it took from the queues (see VirtioBackend). */
static void quiesce_backend(VirtioCore *vc)
{
    if (vc->be.quiesce)
        vc->be.quiesce(vc, vc->be.opaque);
}

/* Cancel the queues' deferred work and free them. */
static void release_queues(VirtioCore *vc)
{
    for (unsigned q = 0; vc->vq && vc->kick && q < vc->be.nr_queues; q++) {
        device_loop_cancel(vc->loop, &vc->kick[q].work);
        virtq_reset(&vc->vq[q], 0);
    }
    free(vc->vq);
    free(vc->queue_vector);
    free(vc->kick);
    vc->vq = NULL;
    vc->queue_vector = NULL;
    vc->kick = NULL;
}

int virtio_core_init(VirtioCore *vc, const VirtioBackend *be, AddressSpace *dma_as,
                     const DeviceLoop *loop, const char *name, uint16_t initial_queue_size,
                     const VirtioTransportOps *ops, Error **errp)
{
    if (be->nr_queues == 0 || be->nr_queues > VIRTIO_MAX_QUEUES || !be->notify ||
        be->queue_max == 0 || be->queue_max > VIRTQ_MAX_SIZE ||
        (be->queue_max & (be->queue_max - 1)) || be->config_len > VIRTIO_CONFIG_MAX) {
        error_setg(errp, "virtio device '%s': %u queues (1 to %d) of at most %u (a power "
                   "of two up to %d), %u configuration bytes (up to %d), and a notify "
                   "callback", name, be->nr_queues, VIRTIO_MAX_QUEUES, be->queue_max,
                   VIRTQ_MAX_SIZE, be->config_len, VIRTIO_CONFIG_MAX);
        return -EINVAL;
    }
    *vc = (VirtioCore){ .be = *be, .dma_as = dma_as, .loop = loop, .name = name,
                        .initial_queue_size = initial_queue_size, .ops = *ops };
    vc->vq = calloc(be->nr_queues, sizeof(*vc->vq));
    vc->queue_vector = calloc(be->nr_queues, sizeof(*vc->queue_vector));
    vc->kick = calloc(be->nr_queues, sizeof(*vc->kick));
    if (!vc->vq || !vc->queue_vector || !vc->kick) {
        release_queues(vc);
        error_setg_errno(errp, ENOMEM, "virtio device '%s': cannot allocate %u queues", name,
                         be->nr_queues);
        return -ENOMEM;
    }
    for (unsigned q = 0; q < be->nr_queues; q++)
        vc->kick[q] = (VirtioKick){ .work.run = kick_run, .vc = vc, .q = q };
    virtio_core_reset(vc);
    return 0;
}

void virtio_core_fini(VirtioCore *vc)
{
    /* Requests in flight complete into the queues now, not into freed state once the
     * transport is gone. */
    if (vc->vq)
        quiesce_backend(vc);
    release_queues(vc);
}

void virtio_core_reset(VirtioCore *vc)
{
    /* The backend first: it must stop using the old queues before they are cleared. */
    if (vc->be.reset)
        vc->be.reset(vc, vc->be.opaque);
    vc->status = vc->isr = 0;
    vc->device_features_sel = vc->driver_features_sel = vc->queue_sel = 0;
    vc->driver_features = 0;
    vc->stopping = 0;
    vc->config_vector = VIRTIO_NO_VECTOR;
    for (unsigned q = 0; q < vc->be.nr_queues; q++) {
        device_loop_cancel(vc->loop, &vc->kick[q].work);
        virtq_reset(&vc->vq[q], vc->initial_queue_size);
        vc->queue_vector[q] = VIRTIO_NO_VECTOR;
    }
    vc->ops.isr_changed(vc);
}

void virtio_core_needs_reset(VirtioCore *vc, Error *err)
{
    log_ratelimited(&vc->rl, LOG_WARN, "%s: %s: the device needs a reset", vc->name,
                    error_get_pretty(err));
    error_free(err);
    vc->status |= STATUS_NEEDS_RESET;
    vc->ops.interrupt(vc, VIRTIO_SOURCE_CONFIG);
}

static uint64_t device_features(const VirtioCore *vc)
{
    return VIRTIO_F_VERSION_1 | vc->be.features;
}

bool virtio_core_has_feature(const VirtioCore *vc, uint64_t f)
{
    return (vc->driver_features & f) == f;
}

static uint32_t feature_bank(uint64_t features, uint32_t sel)
{
    return sel > 1 ? 0 : (uint32_t)(features >> (32 * sel));
}

uint32_t virtio_core_device_features(const VirtioCore *vc)
{
    return feature_bank(device_features(vc), vc->device_features_sel);
}

uint32_t virtio_core_driver_features(const VirtioCore *vc)
{
    return feature_bank(vc->driver_features, vc->driver_features_sel);
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

/* The driver wrote 0 to the status. Where its driver waits for the status to read 0
 * (async_reset), a device with requests in flight finishes them first while the loop
 * goes on; elsewhere the reset is done now (the device waits for its requests). */
static void begin_reset(VirtioCore *vc)
{
    if (vc->async_reset && vc->be.reset_begin && !vc->be.reset_begin(vc, vc->be.opaque)) {
        vc->resetting = true;
        for (unsigned q = 0; q < vc->be.nr_queues; q++)
            device_loop_cancel(vc->loop, &vc->kick[q].work);
        return;
    }
    virtio_core_reset(vc);
}

void virtio_core_reset_done(VirtioCore *vc)
{
    if (!vc->resetting)
        return;
    vc->resetting = false;
    virtio_core_reset(vc);
}

bool virtio_core_write_status(VirtioCore *vc, uint8_t val)
{
    if (vc->resetting)
        return false;               /* the status reads 0 once the reset is over */
    if (val == 0) {
        begin_reset(vc);
        return !vc->resetting;
    }
    uint64_t required = VIRTIO_F_VERSION_1 | vc->be.features_required;
    if ((val & STATUS_FEATURES_OK) && !(vc->status & STATUS_FEATURES_OK) &&
        ((vc->driver_features & required) != required ||
         (vc->driver_features & ~device_features(vc))))
        val &= (uint8_t)~STATUS_FEATURES_OK;    /* the driver reads it back and gives up */
    bool driver_ok = (val & STATUS_DRIVER_OK) && !(vc->status & STATUS_DRIVER_OK);
    vc->status = (val & ~STATUS_NEEDS_RESET) | (vc->status & STATUS_NEEDS_RESET);
    if (driver_ok && vc->be.driver_ok)
        vc->be.driver_ok(vc, vc->be.opaque);
    return true;
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

/* Disable queue vq; see virtio_core_enable_queue. */
static bool disable_queue(VirtioCore *vc, VirtQueue *vq)
{
    uint64_t bit = 1ull << (vq - vc->vq);
    if (vq->ready && vc->async_reset && vc->be.busy && vc->be.busy(vc, vc->be.opaque)) {
        vc->stopping |= bit;
        return false;
    }
    /* A driver stops using a queue by disabling it and reading that back; then it may
     * reuse the rings, so nothing in flight may complete into them later. */
    if (vq->ready)
        quiesce_backend(vc);
    vq->ready = false;
    vc->stopping &= ~bit;
    return true;
}

bool virtio_core_enable_queue(VirtioCore *vc, VirtQueue *vq, bool enable)
{
    if (!enable)
        return disable_queue(vc, vq);
    Error *err = NULL;
    if (virtq_enable(vq, vc->dma_as, vc->be.queue_max,
                     virtio_core_has_feature(vc, VIRTIO_F_EVENT_IDX),
                     virtio_core_has_feature(vc, VIRTIO_F_INDIRECT_DESC), &err) < 0)
        virtio_core_needs_reset(vc, err);
    return true;
}

static bool queue_runs(const VirtioCore *vc, uint32_t q)
{
    return q < vc->be.nr_queues && vc->vq[q].ready && (vc->status & STATUS_DRIVER_OK) &&
           !(vc->status & STATUS_NEEDS_RESET) && !vc->resetting &&
           !(vc->stopping & (1ull << q));
}

/* Run the backend for queue q; more work than its budget goes to a later loop turn. */
static void run_queue(VirtioCore *vc, uint32_t q)
{
    for (;;) {
        if (!queue_runs(vc, q))
            return;
        Error *err = NULL;
        int ret = vc->be.notify(vc, q, vc->be.opaque, &err);
        if (ret == -ENOMEM) {
            /* Ours, not the driver's: nothing was taken, try again on a later turn. */
            log_ratelimited(&vc->rl, LOG_WARN, "%s: %s", vc->name, error_get_pretty(err));
            error_free(err);
            if (vc->loop && vc->loop->work)
                device_work_schedule(vc->loop->work, &vc->kick[q].work);
            return;
        }
        if (ret < 0) {
            virtio_core_needs_reset(vc, err);
            return;
        }
        if (ret == 0)
            return;
        if (vc->loop && vc->loop->work) {
            device_work_schedule(vc->loop->work, &vc->kick[q].work);
            return;
        }
        /* No loop to come back from (some tests): carry on now. */
    }
}

static void kick_run(DeviceWork *work)
{
    VirtioKick *kick = container_of(work, VirtioKick, work);
    run_queue(kick->vc, kick->q);
}

void virtio_core_notify(VirtioCore *vc, uint32_t q)
{
    if (vc->be.notify_after_answer && q < vc->be.nr_queues && vc->loop && vc->loop->work) {
        device_work_schedule(vc->loop->work, &vc->kick[q].work);
        return;
    }
    run_queue(vc, q);
}

void virtio_core_kick_later(VirtioCore *vc, unsigned q)
{
    if (q < vc->be.nr_queues)
        device_loop_schedule(vc->loop, &vc->kick[q].work);
}

void virtio_core_used_buffers(VirtioCore *vc, unsigned q)
{
    if (q < vc->be.nr_queues && virtq_should_interrupt(&vc->vq[q], vc->dma_as))
        vc->ops.interrupt(vc, q);
}

void virtio_core_config_changed(VirtioCore *vc)
{
    vc->config_generation++;
    vc->ops.interrupt(vc, VIRTIO_SOURCE_CONFIG);
}

uint32_t virtio_core_config_read(VirtioCore *vc, uint32_t off, unsigned len)
{
    if ((len != 1 && len != 2 && len != 4) || off >= vc->be.config_len ||
        len > vc->be.config_len - off)
        return 0;
    uint32_t val = 0;
    for (unsigned i = 0; i < len; i++)
        val |= (uint32_t)vc->config[off + i] << (8 * i);
    return val;
}

void virtio_core_config_write(VirtioCore *vc, uint32_t off, unsigned len, uint32_t val)
{
    if ((len != 1 && len != 2 && len != 4) || off >= vc->be.config_len ||
        len > vc->be.config_len - off)
        return;
    for (unsigned i = 0; i < len; i++) {
        if (!vc->config_writable[off + i])
            return;                 /* read-only bytes: the whole write is ignored */
    }
    for (unsigned i = 0; i < len; i++)
        vc->config[off + i] = (uint8_t)(val >> (8 * i));
    if (vc->be.config_write)
        vc->be.config_write(vc, vc->be.opaque, off, len, val);
}

void virtio_core_ack_isr(VirtioCore *vc, uint32_t bits)
{
    vc->isr &= (uint8_t)~bits;
    vc->ops.isr_changed(vc);
}
