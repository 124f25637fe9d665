/*
 * devices/virtio_pci.c — the modern virtio-over-PCI transport (virtio 1.x, section
 * 4.1) over the shared virtio core (virtio.c): what an x86 guest's virtio_pci driver
 * finds on its own.
 *
 * The function is 1af4:(1040 + device type), revision 1, with INTA, MSI-X and one
 * 32 KiB memory BAR 0 laid out as
 *   0x0000 common configuration (struct virtio_pci_common_cfg, 0x38 bytes)
 *   0x1000 ISR status (1 byte; reading it returns and clears it, lowering INTA)
 *   0x2000 notifications: queue q at 0x2000 + 4 * q (queue_notify_off = q, multiplier 4)
 *   0x3000 device-specific configuration (accesses of 1, 2 or 4 bytes)
 *   0x4000 MSI-X table: one vector per queue plus one for configuration changes
 *   0x5000 MSI-X pending bits
 * (the MSI-X structures in pages of their own, as PCI asks), and vendor capabilities
 * (common, ISR, notify, and device configuration when the device has one) pointing
 * there, followed by the MSI-X capability.
 *
 * Interrupts: while the driver has not enabled MSI-X, an event sets its ISR bit and
 * INTA follows the ISR byte. Once MSI-X is enabled the ISR is not used and INTA stays
 * low; an event sends the vector the driver assigned to its source (queue_msix_vector
 * or msix_config), nothing if that is VIRTIO_MSI_NO_VECTOR. A vector beyond the table
 * is refused: the register reads back VIRTIO_NO_VECTOR.
 *
 * The driver must use each common-configuration field's own width (4.1.3.1; 64-bit
 * fields as two 32-bit halves); other accesses are ignored and read all ones.
 */
#include "devices/virtio.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci_msix.h"
#include "util/macros.h"

#define VIRTIO_PCI_VENDOR       0x1af4
#define VIRTIO_PCI_DEVICE_BASE  0x1040
#define VIRTIO_PCI_BAR_SIZE     0x8000
#define REGS_SIZE               0x4000  /* common, ISR, notify, device: bar_ops */
#define COMMON_OFF              0x0000
#define COMMON_LEN              0x38
#define ISR_OFF                 0x1000
#define NOTIFY_OFF              0x2000
#define NOTIFY_MULTIPLIER       4
#define DEVICE_OFF              0x3000
#define MSIX_TABLE_OFF          0x4000
#define MSIX_PBA_OFF            0x5000

/* Config-space places of the capabilities; each cap's `next` is set as it is added. */
#define CAP_COMMON_AT           0x40
#define CAP_ISR_AT              0x50
#define CAP_NOTIFY_AT           0x60
#define CAP_DEVICE_AT           0x78
#define CAP_MSIX_AT             0x88
#define VIRTIO_CAP_LEN          16
#define VIRTIO_NOTIFY_CAP_LEN   20

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
    PciMsix msix;
    MemoryRegion bar;               /* container: regs, then the MSI-X table and PBA */
    MemoryRegion regs;
};

/* INTA follows the ISR byte, except while MSI-X is on. */
static void update_intx(VirtioCore *vc)
{
    VirtioPci *vp = container_of(vc, VirtioPci, core);
    pci_device_set_intx(&vp->pci, vc->isr != 0 && !pci_msix_enabled(&vp->msix));
}

static void interrupt(VirtioCore *vc, uint32_t source)
{
    VirtioPci *vp = container_of(vc, VirtioPci, core);
    bool config = source == VIRTIO_SOURCE_CONFIG;
    if (!pci_msix_enabled(&vp->msix)) {
        vc->isr |= config ? VIRTIO_ISR_CONFIG : VIRTIO_ISR_QUEUE;
        update_intx(vc);
        return;
    }
    if (!config && source >= vc->be.nr_queues)
        return;
    uint16_t vector = config ? vc->config_vector : vc->queue_vector[source];
    if (vector != VIRTIO_NO_VECTOR)
        pci_msix_notify(&vp->msix, vector);
}

static const VirtioTransportOps pci_transport = { .interrupt = interrupt,
                                                  .isr_changed = update_intx };

/* The guest wrote config space: MSI-X may have been turned on or off. */
static void config_written(PciDevice *dev, uint32_t reg, unsigned size)
{
    VirtioPci *vp = container_of(dev, VirtioPci, pci);
    pci_msix_config_written(&vp->msix, reg, size);
    update_intx(&vp->core);
}

/* What a vector register holds after the driver wrote val: the vector, if the table
 * has it. */
static uint16_t vector_or_none(VirtioPci *vp, uint32_t val)
{
    return val < vp->msix.nr_vectors ? (uint16_t)val : VIRTIO_NO_VECTOR;
}

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
    case CC_MSIX:       return vc->config_vector;
    case CC_NUMQ:       return vc->be.nr_queues;
    case CC_STATUS:     return vc->status;
    case CC_CFGGEN:     return (uint8_t)vc->config_generation;
    case CC_Q_SELECT:   return vc->queue_sel;
    case CC_Q_SIZE:     return vq ? vq->num : 0;
    case CC_Q_MSIX:     return vq ? vc->queue_vector[vc->queue_sel] : VIRTIO_NO_VECTOR;
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
    case CC_MSIX:       vc->config_vector = vector_or_none(vp, val); break;
    case CC_STATUS:     virtio_core_write_status(vc, (uint8_t)val); break;
    case CC_Q_SELECT:   vc->queue_sel = val; break;
    case CC_Q_MSIX:     if (vq) vc->queue_vector[vc->queue_sel] = vector_or_none(vp, val); break;
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

/* One struct virtio_pci_cap (4.1.4) of cap_len bytes at config offset `at`. */
static int put_cap(PciDevice *dev, unsigned at, uint8_t type, uint32_t off, uint32_t len,
                   uint8_t cap_len, Error **errp)
{
    if (pci_device_add_capability(dev, PCI_CAP_ID_VNDR, at, cap_len, errp) < 0)
        return -EINVAL;
    uint8_t *c = dev->config + at;
    c[2] = cap_len;
    c[3] = type;
    c[4] = 0;                       /* BAR 0 */
    memcpy(c + 8, &off, 4);
    memcpy(c + 12, &len, 4);
    return 0;
}

static int put_caps(VirtioPci *vp, unsigned nr_queues, uint32_t config_len, Error **errp)
{
    PciDevice *dev = &vp->pci;
    uint32_t multiplier = NOTIFY_MULTIPLIER;
    if (put_cap(dev, CAP_COMMON_AT, CAP_COMMON, COMMON_OFF, COMMON_LEN, VIRTIO_CAP_LEN,
                errp) < 0 ||
        put_cap(dev, CAP_ISR_AT, CAP_ISR, ISR_OFF, 1, VIRTIO_CAP_LEN, errp) < 0 ||
        put_cap(dev, CAP_NOTIFY_AT, CAP_NOTIFY, NOTIFY_OFF, NOTIFY_MULTIPLIER * nr_queues,
                VIRTIO_NOTIFY_CAP_LEN, errp) < 0 ||
        (config_len && put_cap(dev, CAP_DEVICE_AT, CAP_DEVICE, DEVICE_OFF, config_len,
                               VIRTIO_CAP_LEN, errp) < 0))
        return -EINVAL;
    memcpy(dev->config + CAP_NOTIFY_AT + 16, &multiplier, 4);
    PciMsixLayout msix = { .nr_vectors = nr_queues + 1, .cap_offset = CAP_MSIX_AT, .bar = 0,
                           .table_offset = MSIX_TABLE_OFF, .pba_offset = MSIX_PBA_OFF };
    return pci_msix_init(&vp->msix, dev, &msix, errp);
}

/* BAR 0: a container with the registers at 0 (the MSI-X pieces join it later). */
static int init_bar(VirtioPci *vp, const char *name, Error **errp)
{
    memory_region_init(&vp->bar, "/machine/virtio-pci", name, VIRTIO_PCI_BAR_SIZE);
    memory_region_init_io(&vp->regs, "/machine/virtio-pci", &bar_ops, vp, "regs", REGS_SIZE);
    if (memory_region_add_subregion(&vp->bar, 0, &vp->regs, errp) < 0)
        return -EINVAL;
    return pci_device_init_bar(&vp->pci, 0, PCI_BAR_MEM32, &vp->bar, errp);
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
    vp->pci.config_written = config_written;
    if (init_bar(vp, name, errp) < 0 || put_caps(vp, be->nr_queues, be->config_len, errp) < 0 ||
        virtio_core_init(&vp->core, be, dma_as, loop, name, be->queue_max, &pci_transport,
                         errp) < 0) {
        virtio_pci_free(vp);
        return NULL;
    }
    vp->core.async_reset = true;    /* drivers wait for status 0 (4.1.4.3.2) */
    return vp;
}

void virtio_pci_free(VirtioPci *vp)
{
    if (!vp)
        return;
    virtio_core_fini(&vp->core);        /* first: the backend may still interrupt */
    pci_msix_fini(&vp->msix);
    if (vp->regs.container)
        memory_region_del_subregion(&vp->bar, &vp->regs, NULL);
    memory_region_finalize(&vp->regs);
    memory_region_finalize(&vp->bar);
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
