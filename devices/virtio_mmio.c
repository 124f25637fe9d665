/*
 * devices/virtio_mmio.c — the virtio-over-MMIO transport, version 2 (virtio 1.x,
 * section 4.2), for one device backend (virtio_rng.c is one).
 *
 * Register map (32-bit accesses only; other widths are refused and read all ones):
 *   0x000 MagicValue "virt"   0x004 Version 2        0x008 DeviceID   0x00c VendorID
 *   0x010 DeviceFeatures      0x014 DeviceFeaturesSel (bank 0: bits 0-31, 1: 32-63)
 *   0x020 DriverFeatures      0x024 DriverFeaturesSel
 *   0x030 QueueSel  0x034 QueueNumMax  0x038 QueueNum  0x044 QueueReady
 *   0x050 QueueNotify         0x060 InterruptStatus  0x064 InterruptACK
 *   0x070 Status              0x080/0x084 QueueDesc   0x090/0x094 QueueDriver (avail)
 *   0x0a0/0x0a4 QueueDevice (used)                    0x0fc ConfigGeneration
 * The devices here have no configuration space (0x100 onwards reads as zero).
 *
 * The device offers VIRTIO_F_VERSION_1 plus the backend's features; FEATURES_OK sticks
 * only if the driver accepted VERSION_1 and nothing else. A queue's layout is checked
 * when the driver makes it ready, and queue registers are frozen while it is. When the
 * driver breaks a queue (backend notify fails), the device sets DEVICE_NEEDS_RESET,
 * raises a configuration-change interrupt and ignores notifications until a reset
 * (Status = 0). The interrupt line is high while InterruptStatus is non-zero.
 */
#include "devices/devices.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define VIRTIO_MMIO_MAGIC       0x74726976u     /* "virt" */
#define VIRTIO_MMIO_VENDOR      0x4d444e58u     /* "XNDM" */
#define VIRTIO_F_VERSION_1      (1ull << 32)
#define STATUS_FEATURES_OK      8u
#define STATUS_DRIVER_OK        4u
#define STATUS_NEEDS_RESET      64u
#define INT_USED_BUFFER         1u
#define INT_CONFIG_CHANGE       2u

enum {
    REG_MAGIC = 0x000, REG_VERSION = 0x004, REG_DEVICE_ID = 0x008, REG_VENDOR_ID = 0x00c,
    REG_DEVICE_FEATURES = 0x010, REG_DEVICE_FEATURES_SEL = 0x014,
    REG_DRIVER_FEATURES = 0x020, REG_DRIVER_FEATURES_SEL = 0x024,
    REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM_MAX = 0x034, REG_QUEUE_NUM = 0x038,
    REG_QUEUE_READY = 0x044, REG_QUEUE_NOTIFY = 0x050,
    REG_INTERRUPT_STATUS = 0x060, REG_INTERRUPT_ACK = 0x064, REG_STATUS = 0x070,
    REG_QUEUE_DESC_LOW = 0x080, REG_QUEUE_DESC_HIGH = 0x084,
    REG_QUEUE_DRIVER_LOW = 0x090, REG_QUEUE_DRIVER_HIGH = 0x094,
    REG_QUEUE_DEVICE_LOW = 0x0a0, REG_QUEUE_DEVICE_HIGH = 0x0a4,
    REG_CONFIG_GENERATION = 0x0fc,
};

struct VirtioMmio {
    VirtioBackend be;
    IrqLine irq;
    AddressSpace *dma_as;
    MemoryRegion io;
    uint32_t status, int_status;
    uint32_t device_features_sel, driver_features_sel, queue_sel;
    uint64_t driver_features;
    VirtQueue vq[VIRTIO_MMIO_MAX_QUEUES];
    LogRateLimit rl;
};

static void update_irq(VirtioMmio *vm)
{
    irq_line_set_level(&vm->irq, vm->int_status != 0);
}

static void virtio_mmio_reset(VirtioMmio *vm)
{
    vm->status = vm->int_status = 0;
    vm->device_features_sel = vm->driver_features_sel = vm->queue_sel = 0;
    vm->driver_features = 0;
    memset(vm->vq, 0, sizeof(vm->vq));
    if (vm->be.reset)
        vm->be.reset(vm->be.opaque);
    update_irq(vm);
}

/* The driver broke the device: stop using it until it resets us. */
static void needs_reset(VirtioMmio *vm, Error *err)
{
    log_ratelimited(&vm->rl, LOG_WARN, "%s: %s: the device needs a reset",
                    memory_region_name(&vm->io), error_get_pretty(err));
    error_free(err);
    vm->status |= STATUS_NEEDS_RESET;
    vm->int_status |= INT_CONFIG_CHANGE;
    update_irq(vm);
}

static uint64_t device_features(const VirtioMmio *vm)
{
    return VIRTIO_F_VERSION_1 | vm->be.features;
}

static VirtQueue *selected_queue(VirtioMmio *vm)
{
    return vm->queue_sel < vm->be.nr_queues ? &vm->vq[vm->queue_sel] : NULL;
}

static uint64_t virtio_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    VirtioMmio *vm = opaque;
    VirtQueue *vq = selected_queue(vm);
    switch (addr) {
    case REG_MAGIC:             return VIRTIO_MMIO_MAGIC;
    case REG_VERSION:           return 2;
    case REG_DEVICE_ID:         return vm->be.device_id;
    case REG_VENDOR_ID:         return VIRTIO_MMIO_VENDOR;
    case REG_DEVICE_FEATURES:
        return vm->device_features_sel > 1 ? 0
               : (uint32_t)(device_features(vm) >> (32 * vm->device_features_sel));
    case REG_QUEUE_NUM_MAX:     return vq ? vm->be.queue_max : 0;
    case REG_QUEUE_READY:       return vq ? vq->ready : 0;
    case REG_INTERRUPT_STATUS:  return vm->int_status;
    case REG_STATUS:            return vm->status;
    case REG_CONFIG_GENERATION: return 0;
    default:                    return 0;   /* write-only registers, config space */
    }
}

static void write_status(VirtioMmio *vm, uint32_t val)
{
    if (val == 0) {
        virtio_mmio_reset(vm);
        return;
    }
    if ((val & STATUS_FEATURES_OK) && !(vm->status & STATUS_FEATURES_OK) &&
        (!(vm->driver_features & VIRTIO_F_VERSION_1) ||
         (vm->driver_features & ~device_features(vm))))
        val &= ~STATUS_FEATURES_OK;     /* the driver reads it back and gives up */
    vm->status = (val & 0xff & ~STATUS_NEEDS_RESET) | (vm->status & STATUS_NEEDS_RESET);
}

static void write_queue_ready(VirtioMmio *vm, VirtQueue *vq, uint32_t val)
{
    if (!val) {
        vq->ready = false;
        return;
    }
    Error *err = NULL;
    if (virtq_check_layout(vq, vm->be.queue_max, &err) < 0) {
        needs_reset(vm, err);
        return;
    }
    vq->ready = true;
}

static void notify_queue(VirtioMmio *vm, uint32_t q)
{
    if (q >= vm->be.nr_queues || !vm->vq[q].ready || !(vm->status & STATUS_DRIVER_OK) ||
        (vm->status & STATUS_NEEDS_RESET))
        return;
    Error *err = NULL;
    if (vm->be.notify(vm, q, vm->be.opaque, &err) < 0)
        needs_reset(vm, err);
}

/* Set the low or high 32 bits of a 64-bit guest address. */
static void set_half(uint64_t *addr, bool high, uint32_t val)
{
    unsigned shift = high ? 32 : 0;
    *addr = (*addr & ~(0xffffffffull << shift)) | (uint64_t)val << shift;
}

/* Queue configuration registers; ignored while the queue is ready (the spec forbids
 * the driver to change them then). */
static void write_queue_reg(VirtioMmio *vm, VirtQueue *vq, hwaddr addr, uint32_t val)
{
    if (!vq || vq->ready)
        return;
    switch (addr) {
    case REG_QUEUE_NUM:         vq->num = (uint16_t)(val > UINT16_MAX ? 0 : val); break;
    case REG_QUEUE_DESC_LOW:
    case REG_QUEUE_DESC_HIGH:   set_half(&vq->desc, addr == REG_QUEUE_DESC_HIGH, val); break;
    case REG_QUEUE_DRIVER_LOW:
    case REG_QUEUE_DRIVER_HIGH: set_half(&vq->avail, addr == REG_QUEUE_DRIVER_HIGH, val); break;
    case REG_QUEUE_DEVICE_LOW:
    case REG_QUEUE_DEVICE_HIGH: set_half(&vq->used, addr == REG_QUEUE_DEVICE_HIGH, val); break;
    }
}

static void virtio_mmio_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    VirtioMmio *vm = opaque;
    uint32_t val = (uint32_t)data;
    VirtQueue *vq = selected_queue(vm);
    switch (addr) {
    case REG_DEVICE_FEATURES_SEL: vm->device_features_sel = val; break;
    case REG_DRIVER_FEATURES_SEL: vm->driver_features_sel = val; break;
    case REG_DRIVER_FEATURES:
        if (vm->driver_features_sel <= 1 && !(vm->status & STATUS_FEATURES_OK))
            set_half(&vm->driver_features, vm->driver_features_sel == 1, val);
        break;
    case REG_QUEUE_SEL:         vm->queue_sel = val; break;
    case REG_QUEUE_READY:       if (vq) write_queue_ready(vm, vq, val); break;
    case REG_QUEUE_NOTIFY:      notify_queue(vm, val); break;
    case REG_INTERRUPT_ACK:
        vm->int_status &= ~val;
        update_irq(vm);
        break;
    case REG_STATUS:            write_status(vm, val); break;
    default:                    write_queue_reg(vm, vq, addr, val); break;
    }
}

static const MemoryRegionOps virtio_mmio_ops = {
    .read = virtio_mmio_read,
    .write = virtio_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

VirtioMmio *virtio_mmio_new(const VirtioBackend *be, IrqLine irq, AddressSpace *dma_as,
                            const char *name, Error **errp)
{
    if (be->nr_queues == 0 || be->nr_queues > VIRTIO_MMIO_MAX_QUEUES || !be->notify) {
        error_setg(errp, "virtio-mmio '%s': %u queues (1 to %d) and a notify callback",
                   name, be->nr_queues, VIRTIO_MMIO_MAX_QUEUES);
        return NULL;
    }
    VirtioMmio *vm = calloc(1, sizeof(*vm));
    if (!vm) {
        error_setg_errno(errp, ENOMEM, "virtio-mmio '%s': cannot allocate device state", name);
        return NULL;
    }
    vm->be = *be;
    vm->irq = irq;
    vm->dma_as = dma_as;
    memory_region_init_io(&vm->io, "/machine/virtio-mmio", &virtio_mmio_ops, vm, name,
                          VIRTIO_MMIO_REGION_SIZE);
    virtio_mmio_reset(vm);
    return vm;
}

void virtio_mmio_free(VirtioMmio *vm)
{
    if (!vm)
        return;
    if (vm->io.container)
        memory_region_del_subregion(vm->io.container, &vm->io, NULL);
    memory_region_finalize(&vm->io);
    irq_line_set_level(&vm->irq, false);
    free(vm);
}

MemoryRegion *virtio_mmio_region(VirtioMmio *vm)
{
    return &vm->io;
}

VirtQueue *virtio_mmio_queue(VirtioMmio *vm, unsigned q)
{
    return q < vm->be.nr_queues ? &vm->vq[q] : NULL;
}

AddressSpace *virtio_mmio_dma(VirtioMmio *vm)
{
    return vm->dma_as;
}

void virtio_mmio_used_buffers(VirtioMmio *vm, unsigned q)
{
    if (q < vm->be.nr_queues && virtq_wants_interrupt(&vm->vq[q], vm->dma_as)) {
        vm->int_status |= INT_USED_BUFFER;
        update_irq(vm);
    }
}
