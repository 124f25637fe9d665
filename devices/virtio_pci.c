/*
 * devices/virtio_pci.c — the modern virtio-over-PCI transport (virtio 1.x, section
 * 4.1) over the shared virtio core (virtio.c): what an x86 guest's virtio_pci driver
 * finds on its own.
 *
 * The function is 1af4:(1040 + device type), revision 1, with INTA and one 16 KiB
 * memory BAR 0 laid out as
 *   0x0000 common configuration (struct virtio_pci_common_cfg, 0x38 bytes)
 *   0x1000 ISR status (1 byte; reading it returns and clears it, lowering INTA)
 *   0x2000 notifications: queue q at 0x2000 + 4 * q (queue_notify_off = q, multiplier 4)
 *   0x3000 device-specific configuration (accesses of 1, 2 or 4 bytes)
 * and vendor capabilities (common, ISR, notify, and device configuration when the
 * device has one) pointing there. No MSI-X yet: the vector registers read
 * VIRTIO_MSI_NO_VECTOR and ignore writes.
 *
 * The driver must use each common-configuration field's own width (4.1.3.1; 64-bit
 * fields as two 32-bit halves); other accesses are ignored and read all ones.
 */
#include "devices/virtio.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "util/macros.h"

#define VIRTIO_PCI_VENDOR       0x1af4
#define VIRTIO_PCI_DEVICE_BASE  0x1040
#define VIRTIO_PCI_BAR_SIZE     0x4000
#define COMMON_OFF              0x0000
#define COMMON_LEN              0x38
#define ISR_OFF                 0x1000
#define NOTIFY_OFF              0x2000
#define NOTIFY_MULTIPLIER       4
#define DEVICE_OFF              0x3000
#define NO_VECTOR               0xffff

enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4 };

/* Common configuration fields: offset and width. */
enum {
    CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c,
    CC_MSIX = 0x10, CC_NUMQ = 0x12, CC_STATUS = 0x14, CC_CFGGEN = 0x15,
    CC_Q_SELECT = 0x16, CC_Q_SIZE = 0x18, CC_Q_MSIX = 0x1a, CC_Q_ENABLE = 0x1c,
    CC_Q_NOFF = 0x1e, CC_Q_DESCLO = 0x20, CC_Q_DESCHI = 0x24, CC_Q_AVAILLO = 0x28,
    CC_Q_AVAILHI = 0x2c, CC_Q_USEDLO = 0x30, CC_Q_USEDHI = 0x34,
};

struct VirtioPci {
    VirtioCore core;
    PciDevice pci;
    MemoryRegion bar;
};

static void update_intx(VirtioCore *vc)
{
    VirtioPci *vp = container_of(vc, VirtioPci, core);
    pci_device_set_intx(&vp->pci, vc->isr != 0);
}

static void raise_intx(VirtioCore *vc, uint32_t source)
{
    vc->isr |= source == VIRTIO_SOURCE_CONFIG ? VIRTIO_ISR_CONFIG : VIRTIO_ISR_QUEUE;
    update_intx(vc);
}

static const VirtioTransportOps pci_transport = { .interrupt = raise_intx,
                                                  .isr_changed = update_intx };

static unsigned field_width(hwaddr off)
{
    if (off == CC_STATUS || off == CC_CFGGEN)
        return 1;
    if (off >= CC_MSIX && off < CC_Q_DESCLO)
        return 2;
    return 4;
}

static uint64_t common_read(VirtioPci *vp, hwaddr off)
{
    VirtioCore *vc = &vp->core;
    VirtQueue *vq = virtio_core_selected_queue(vc);
    switch (off) {
    case CC_DFSELECT:   return vc->device_features_sel;
    case CC_DF:         return virtio_core_device_features(vc);
    case CC_GFSELECT:   return vc->driver_features_sel;
    case CC_GF:         return virtio_core_driver_features(vc);
    case CC_MSIX:       return NO_VECTOR;
    case CC_NUMQ:       return vc->be.nr_queues;
    case CC_STATUS:     return vc->status;
    case CC_CFGGEN:     return (uint8_t)vc->config_generation;
    case CC_Q_SELECT:   return vc->queue_sel;
    case CC_Q_SIZE:     return vq ? vq->num : 0;
    case CC_Q_MSIX:     return NO_VECTOR;
    case CC_Q_ENABLE:   return vq ? vq->ready : 0;
    case CC_Q_NOFF:     return vq ? vc->queue_sel : 0;
    case CC_Q_DESCLO:   return vq ? (uint32_t)vq->desc : 0;
    case CC_Q_DESCHI:   return vq ? (uint32_t)(vq->desc >> 32) : 0;
    case CC_Q_AVAILLO:  return vq ? (uint32_t)vq->avail : 0;
    case CC_Q_AVAILHI:  return vq ? (uint32_t)(vq->avail >> 32) : 0;
    case CC_Q_USEDLO:   return vq ? (uint32_t)vq->used : 0;
    case CC_Q_USEDHI:   return vq ? (uint32_t)(vq->used >> 32) : 0;
    default:            return 0;
    }
}

/* The selected queue's size and ring addresses, as virtio_core_write_queue() fields. */
static void queue_write(VirtQueue *vq, hwaddr off, uint32_t val)
{
    switch (off) {
    case CC_Q_SIZE:     virtio_core_write_queue(vq, VQ_SIZE, val); break;
    case CC_Q_DESCLO:   virtio_core_write_queue(vq, VQ_DESC_LOW, val); break;
    case CC_Q_DESCHI:   virtio_core_write_queue(vq, VQ_DESC_HIGH, val); break;
    case CC_Q_AVAILLO:  virtio_core_write_queue(vq, VQ_DRIVER_LOW, val); break;
    case CC_Q_AVAILHI:  virtio_core_write_queue(vq, VQ_DRIVER_HIGH, val); break;
    case CC_Q_USEDLO:   virtio_core_write_queue(vq, VQ_DEVICE_LOW, val); break;
    case CC_Q_USEDHI:   virtio_core_write_queue(vq, VQ_DEVICE_HIGH, val); break;
    }
}

static void common_write(VirtioPci *vp, hwaddr off, uint32_t val)
{
    VirtioCore *vc = &vp->core;
    VirtQueue *vq = virtio_core_selected_queue(vc);
    switch (off) {
    case CC_DFSELECT:   vc->device_features_sel = val; break;
    case CC_GFSELECT:   vc->driver_features_sel = val; break;
    case CC_GF:         virtio_core_write_driver_features(vc, val); break;
    case CC_STATUS:     virtio_core_write_status(vc, (uint8_t)val); break;
    case CC_Q_SELECT:   vc->queue_sel = val; break;
    case CC_Q_ENABLE:   if (vq && val == 1) virtio_core_enable_queue(vc, vq, true); break;
    default:            queue_write(vq, off, val); break;
    }
}

static uint64_t bar_read(void *opaque, hwaddr addr, unsigned size)
{
    VirtioPci *vp = opaque;
    if (addr < COMMON_LEN)
        return size == field_width(addr) ? common_read(vp, addr) : ~0ull;
    if (addr >= DEVICE_OFF)
        return virtio_core_config_read(&vp->core, (uint32_t)(addr - DEVICE_OFF), size);
    if (addr == ISR_OFF && size == 1) {
        uint8_t isr = vp->core.isr;
        virtio_core_ack_isr(&vp->core, isr);
        return isr;
    }
    return addr >= NOTIFY_OFF ? 0 : ~0ull;     /* notify area reads as 0 */
}

static void bar_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    VirtioPci *vp = opaque;
    if (addr < COMMON_LEN && size == field_width(addr))
        common_write(vp, addr, (uint32_t)data);
    else if (addr >= DEVICE_OFF)
        virtio_core_config_write(&vp->core, (uint32_t)(addr - DEVICE_OFF), size, (uint32_t)data);
    else if (addr >= NOTIFY_OFF && !((addr - NOTIFY_OFF) % NOTIFY_MULTIPLIER))
        virtio_core_notify(&vp->core, (uint32_t)((addr - NOTIFY_OFF) / NOTIFY_MULTIPLIER));
}

static const MemoryRegionOps bar_ops = {
    .read = bar_read,
    .write = bar_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

/* One struct virtio_pci_cap (4.1.4) at config offset `at`, linked to `next`. */
static void put_cap(PciDevice *dev, uint8_t at, uint8_t next, uint8_t type, uint32_t off,
                    uint32_t len, uint8_t cap_len)
{
    uint8_t *c = dev->config + at;
    c[0] = PCI_CAP_ID_VNDR;
    c[1] = next;
    c[2] = cap_len;
    c[3] = type;
    c[4] = 0;                       /* BAR 0 */
    memcpy(c + 8, &off, 4);
    memcpy(c + 12, &len, 4);
}

static void put_caps(PciDevice *dev, unsigned nr_queues, uint32_t config_len)
{
    dev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    dev->config[PCI_CAPABILITY_LIST] = 0x40;
    put_cap(dev, 0x40, 0x50, CAP_COMMON, COMMON_OFF, COMMON_LEN, 16);
    put_cap(dev, 0x50, 0x60, CAP_ISR, ISR_OFF, 1, 16);
    put_cap(dev, 0x60, config_len ? 0x78 : 0x00, CAP_NOTIFY, NOTIFY_OFF,
            NOTIFY_MULTIPLIER * nr_queues, 20);
    uint32_t multiplier = NOTIFY_MULTIPLIER;
    memcpy(dev->config + 0x60 + 16, &multiplier, 4);
    if (config_len)
        put_cap(dev, 0x78, 0x00, CAP_DEVICE, DEVICE_OFF, config_len, 16);
}

VirtioPci *virtio_pci_new(const VirtioBackend *be, AddressSpace *dma_as,
                          const DeviceLoop *loop, const char *name, Error **errp)
{
    VirtioPci *vp = calloc(1, sizeof(*vp));
    if (!vp) {
        error_setg_errno(errp, ENOMEM, "virtio-pci '%s': cannot allocate device state", name);
        return NULL;
    }
    pci_device_init(&vp->pci, name, VIRTIO_PCI_VENDOR,
                    (uint16_t)(VIRTIO_PCI_DEVICE_BASE + be->device_id), 0xff0000, 1, 1);
    put_caps(&vp->pci, be->nr_queues, be->config_len);
    memory_region_init_io(&vp->bar, "/machine/virtio-pci", &bar_ops, vp, name,
                          VIRTIO_PCI_BAR_SIZE);
    if (pci_device_init_bar(&vp->pci, 0, PCI_BAR_MEM32, &vp->bar, errp) < 0 ||
        virtio_core_init(&vp->core, be, dma_as, loop, name, be->queue_max, &pci_transport,
                         errp) < 0) {
        virtio_pci_free(vp);
        return NULL;
    }
    return vp;
}

void virtio_pci_free(VirtioPci *vp)
{
    if (!vp)
        return;
    memory_region_finalize(&vp->bar);
    virtio_core_fini(&vp->core);
    free(vp);
}

PciDevice *virtio_pci_device(VirtioPci *vp)
{
    return &vp->pci;
}

VirtioCore *virtio_pci_core(VirtioPci *vp)
{
    return &vp->core;
}
