/*
 * devices/virtio.h — virtio devices: the state every transport shares (devices/virtio.c)
 * and the two transports, virtio-mmio version 2 (devices/virtio_mmio.c) and modern
 * virtio-pci (devices/virtio_pci.c).
 *
 * A device type supplies a VirtioBackend (its device id, features, queues and what to
 * do when the driver kicks a queue); a transport embeds a VirtioCore and maps its
 * registers onto the core's fields and functions. The transport owns its core and
 * regions; the backend's opaque must outlive the transport. Single-threaded.
 */
#ifndef XENDM_DEVICES_VIRTIO_H
#define XENDM_DEVICES_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/irq.h"
#include "devices/pci.h"
#include "devices/virtqueue.h"
#include "memory/memory.h"
#include "util/error.h"
#include "util/log.h"

typedef struct VirtioCore VirtioCore;
#define VIRTIO_MAX_QUEUES   4
#define VIRTIO_ISR_QUEUE    1u          /* used buffers */
#define VIRTIO_ISR_CONFIG   2u          /* configuration change (or needs reset) */

/* What a virtio device adds to a transport. notify runs when the driver kicks queue q
 * of a running device; -EIO (errp set) means the driver broke the queue, and the
 * device then needs a reset. reset (optional) runs when the driver resets the device. */
typedef struct VirtioBackend {
    uint32_t device_id;             /* virtio device type: 4 = entropy source */
    uint64_t features;              /* offered besides VIRTIO_F_VERSION_1 */
    unsigned nr_queues;
    uint16_t queue_max;             /* a power of two */
    int (*notify)(VirtioCore *vc, unsigned q, void *opaque, Error **errp);
    void (*reset)(void *opaque);
    void *opaque;
} VirtioBackend;

/* The state every transport shares (devices/virtio.c); a transport embeds it and maps
 * its registers onto these fields and functions. */
struct VirtioCore {
    VirtioBackend be;
    AddressSpace *dma_as;
    const char *name;
    uint16_t initial_queue_size;    /* what a queue's size reads after reset (PCI: max) */
    void (*isr_changed)(VirtioCore *vc);    /* the transport drives its interrupt */
    uint8_t status, isr;
    uint32_t device_features_sel, driver_features_sel, queue_sel;
    uint64_t driver_features;
    VirtQueue vq[VIRTIO_MAX_QUEUES];
    LogRateLimit rl;
};

int virtio_core_init(VirtioCore *vc, const VirtioBackend *be, AddressSpace *dma_as,
                     const char *name, uint16_t initial_queue_size,
                     void (*isr_changed)(VirtioCore *vc), Error **errp);
void virtio_core_reset(VirtioCore *vc);
uint32_t virtio_core_device_features(const VirtioCore *vc);     /* the selected bank */
void virtio_core_write_driver_features(VirtioCore *vc, uint32_t val);
void virtio_core_write_status(VirtioCore *vc, uint8_t val);
VirtQueue *virtio_core_selected_queue(VirtioCore *vc);          /* NULL: no such queue */
/* A queue's size or ring address (64-bit ones in halves); ignored while it is enabled
 * (and for vq NULL: no such queue). */
enum virtio_queue_field {
    VQ_SIZE, VQ_DESC_LOW, VQ_DESC_HIGH, VQ_DRIVER_LOW, VQ_DRIVER_HIGH, VQ_DEVICE_LOW,
    VQ_DEVICE_HIGH,
};
void virtio_core_write_queue(VirtQueue *vq, enum virtio_queue_field field, uint32_t val);
/* Enable (after checking its layout) or disable a queue. */
void virtio_core_enable_queue(VirtioCore *vc, VirtQueue *vq, bool enable);
void virtio_core_notify(VirtioCore *vc, uint32_t q);
/* The backend put buffers in queue q's used ring: interrupt unless the driver said no. */
void virtio_core_used_buffers(VirtioCore *vc, unsigned q);
void virtio_core_ack_isr(VirtioCore *vc, uint32_t bits);
/* Set the low or high 32 bits of a 64-bit register. */
void virtio_core_set_half(uint64_t *value, bool high, uint32_t half);

/* The virtio-mmio transport, version 2 (devices/virtio_mmio.c): the registers as a
 * region of VIRTIO_MMIO_REGION_SIZE named `name` for the board to map. */
typedef struct VirtioMmio VirtioMmio;
#define VIRTIO_MMIO_REGION_SIZE 0x200
VirtioMmio *virtio_mmio_new(const VirtioBackend *be, IrqLine irq, AddressSpace *dma_as,
                            const char *name, Error **errp);
void virtio_mmio_free(VirtioMmio *vm);
MemoryRegion *virtio_mmio_region(VirtioMmio *vm);

/* The virtio-pci transport, modern (devices/virtio_pci.c): a PCI function with the
 * virtio capabilities and one memory BAR, interrupting through INTA. */
typedef struct VirtioPci VirtioPci;
VirtioPci *virtio_pci_new(const VirtioBackend *be, AddressSpace *dma_as, const char *name,
                          Error **errp);
void virtio_pci_free(VirtioPci *vp);
PciDevice *virtio_pci_device(VirtioPci *vp);
#endif
