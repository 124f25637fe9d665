/*
 * devices/virtio_mmio.c — the virtio-over-MMIO transport, version 2 (virtio 1.x,
 * section 4.2), over the shared virtio core (virtio.c).
 *
 * Register map (32-bit accesses only; other widths are refused and read all ones):
 *   0x000 MagicValue "virt"   0x004 Version 2        0x008 DeviceID   0x00c VendorID
 *   0x010 DeviceFeatures      0x014 DeviceFeaturesSel (bank 0: bits 0-31, 1: 32-63)
 *   0x020 DriverFeatures      0x024 DriverFeaturesSel
 *   0x030 QueueSel  0x034 QueueNumMax  0x038 QueueNum  0x044 QueueReady
 *   0x050 QueueNotify         0x060 InterruptStatus  0x064 InterruptACK
 *   0x070 Status              0x080/0x084 QueueDesc   0x090/0x094 QueueDriver (avail)
 *   0x0a0/0x0a4 QueueDevice (used)                    0x0fc ConfigGeneration
 *   0x100 onwards: the device's configuration space, in accesses of 1, 2 or 4 bytes
 *   (bytes past the device's configuration read as zero).
 * The interrupt line is high while InterruptStatus is non-zero; every event (used
 * buffers, configuration change) sets its InterruptStatus bit.
 */
#include "devices/virtio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/macros.h"

#define VIRTIO_MMIO_MAGIC       0x74726976u     /* "virt" */
#define VIRTIO_MMIO_VENDOR      0x4d444e58u     /* "XNDM" */
#define VIRTIO_MMIO_CONFIG      0x100

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
    VirtioCore core;
    IrqLine irq;
    MemoryRegion io;
};

static void update_irq(VirtioCore *vc)
{
    VirtioMmio *vm = container_of(vc, VirtioMmio, core);
    irq_line_set_level(&vm->irq, vc->isr != 0);
}

static void raise_irq(VirtioCore *vc, uint32_t source)
{
    vc->isr |= source == VIRTIO_SOURCE_CONFIG ? VIRTIO_ISR_CONFIG : VIRTIO_ISR_QUEUE;
    update_irq(vc);
}

static const VirtioTransportOps mmio_transport = { .interrupt = raise_irq,
                                                   .isr_changed = update_irq };

static uint64_t virtio_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    VirtioMmio *vm = opaque;
    VirtioCore *vc = &vm->core;
    if (addr >= VIRTIO_MMIO_CONFIG)
        return virtio_core_config_read(vc, (uint32_t)(addr - VIRTIO_MMIO_CONFIG), size);
    if (size != 4)
        return ~0ull;
    VirtQueue *vq = virtio_core_selected_queue(vc);
    switch (addr) {
    case REG_MAGIC:             return VIRTIO_MMIO_MAGIC;
    case REG_VERSION:           return 2;
    case REG_DEVICE_ID:         return vc->be.device_id;
    case REG_VENDOR_ID:         return VIRTIO_MMIO_VENDOR;
    case REG_DEVICE_FEATURES:   return virtio_core_device_features(vc);
    case REG_QUEUE_NUM_MAX:     return vq ? vc->be.queue_max : 0;
    case REG_DRIVER_FEATURES:   return virtio_core_driver_features(vc);
    case REG_QUEUE_READY:       return vq ? vq->ready : 0;
    case REG_INTERRUPT_STATUS:  return vc->isr;
    case REG_STATUS:            return vc->status;
    case REG_CONFIG_GENERATION: return vc->config_generation;
    default:                    return 0;   /* write-only registers */
    }
}

/* Queue configuration registers, as virtio_core_write_queue() fields. */
static void write_queue_reg(VirtQueue *vq, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case REG_QUEUE_NUM:         virtio_core_write_queue(vq, VQ_SIZE, val); break;
    case REG_QUEUE_DESC_LOW:    virtio_core_write_queue(vq, VQ_DESC_LOW, val); break;
    case REG_QUEUE_DESC_HIGH:   virtio_core_write_queue(vq, VQ_DESC_HIGH, val); break;
    case REG_QUEUE_DRIVER_LOW:  virtio_core_write_queue(vq, VQ_DRIVER_LOW, val); break;
    case REG_QUEUE_DRIVER_HIGH: virtio_core_write_queue(vq, VQ_DRIVER_HIGH, val); break;
    case REG_QUEUE_DEVICE_LOW:  virtio_core_write_queue(vq, VQ_DEVICE_LOW, val); break;
    case REG_QUEUE_DEVICE_HIGH: virtio_core_write_queue(vq, VQ_DEVICE_HIGH, val); break;
    }
}

/* A reset (status 0) or a queue disable while requests are in flight waits for them:
 * Linux's virtio-mmio driver does not read the status back, so the write itself is
 * held (MEMTX_RETRY: the writing vCPU waits, the loop serves everyone else) and done
 * again once the device is idle. */
static MemTxResult virtio_mmio_write(void *opaque, hwaddr addr, uint64_t data,
                                     unsigned size)
{
    VirtioMmio *vm = opaque;
    VirtioCore *vc = &vm->core;
    uint32_t val = (uint32_t)data;
    if (addr >= VIRTIO_MMIO_CONFIG) {
        virtio_core_config_write(vc, (uint32_t)(addr - VIRTIO_MMIO_CONFIG), size, val);
        return MEMTX_OK;
    }
    if (size != 4)
        return MEMTX_OK;
    VirtQueue *vq = virtio_core_selected_queue(vc);
    switch (addr) {
    case REG_QUEUE_READY:
        return !vq || virtio_core_enable_queue(vc, vq, val != 0) ? MEMTX_OK : MEMTX_RETRY;
    case REG_STATUS:
        return virtio_core_write_status(vc, (uint8_t)val) ? MEMTX_OK : MEMTX_RETRY;
    case REG_DEVICE_FEATURES_SEL: vc->device_features_sel = val; break;
    case REG_DRIVER_FEATURES_SEL: vc->driver_features_sel = val; break;
    case REG_DRIVER_FEATURES:   virtio_core_write_driver_features(vc, val); break;
    case REG_QUEUE_SEL:         vc->queue_sel = val; break;
    case REG_QUEUE_NOTIFY:      virtio_core_notify(vc, val); break;
    case REG_INTERRUPT_ACK:     virtio_core_ack_isr(vc, val); break;
    default:                    write_queue_reg(vq, addr, val); break;
    }
    return MEMTX_OK;
}

static const MemoryRegionOps virtio_mmio_ops = {
    .read = virtio_mmio_read,
    .write_with_result = virtio_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

VirtioMmio *virtio_mmio_new(const VirtioBackend *be, IrqLine irq, AddressSpace *dma_as,
                            const DeviceLoop *loop, const char *name, Error **errp)
{
    VirtioMmio *vm = calloc(1, sizeof(*vm));
    if (!vm) {
        error_setg_errno(errp, ENOMEM, "virtio-mmio '%s': cannot allocate device state", name);
        return NULL;
    }
    vm->irq = irq;
    memory_region_init_io(&vm->io, "/machine/virtio-mmio", &virtio_mmio_ops, vm, name,
                          VIRTIO_MMIO_REGION_SIZE);
    if (virtio_core_init(&vm->core, be, dma_as, loop, name, 0, &mmio_transport, errp) < 0) {
        virtio_mmio_free(vm);
        return NULL;
    }
    vm->core.async_reset = true;    /* its status and queue-ready writes are held */
    return vm;
}

void virtio_mmio_free(VirtioMmio *vm)
{
    if (!vm)
        return;
    virtio_core_fini(&vm->core);        /* first: the backend may still interrupt */
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

VirtioCore *virtio_mmio_core(VirtioMmio *vm)
{
    return &vm->core;
}
