/*
 * devices/virtio.h — virtio devices: the state every transport shares (devices/virtio.c),
 * the two transports, virtio-mmio version 2 (devices/virtio_mmio.c) and modern
 * virtio-pci with MSI-X (devices/virtio_pci.c), and the registration that gives one
 * device both (devices/virtio_device.c).
 *
 * A device is written once, as a VirtioDeviceType: its device id, features, queues,
 * configuration space and what to do when the driver kicks a queue. Registering it
 * (VIRTIO_DEVICE_REGISTER) creates two device types, "virtio-NAME" on virtio-mmio and
 * "virtio-NAME-pci" on PCI, as kvmtool's devices work on either transport. The
 * transport embeds a VirtioCore and maps its registers onto the core's fields and
 * functions; the device reaches its state from the core through `opaque`.
 *
 * Bounded work: a notify handler processes at most a budget of requests and returns 1
 * when more remain; the core then runs it again on a coming turn of the event loop
 * (DeviceLoop), after other vCPUs' ioreqs were served. The same happens for
 * virtio_core_kick_later(), which a device calls when it can take more work again
 * (for example once I/O completed and queue depth is free).
 *
 * Ownership: the transport owns its core, queues and regions; the device state is
 * created by the type's `create` and released by its `destroy`, which runs before the
 * transport is freed (requests in flight complete into the rings); the transport never
 * calls the device once it is being freed. Single-threaded.
 */
#ifndef XENDM_DEVICES_VIRTIO_H
#define XENDM_DEVICES_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "devices/virtqueue.h"
#include "memory/memory.h"
#include "util/error.h"
#include "util/log.h"

typedef struct VirtioCore VirtioCore;
#define VIRTIO_MAX_QUEUES   64
#define VIRTIO_CONFIG_MAX   256         /* device configuration space, bytes */
#define VIRTIO_NO_VECTOR    0xffff
#define VIRTIO_ISR_QUEUE    1u          /* used buffers */
#define VIRTIO_ISR_CONFIG   2u          /* configuration change (or needs reset) */
/* Interrupt sources: a queue index, or this one for configuration changes. */
#define VIRTIO_SOURCE_CONFIG UINT32_MAX

/* Feature bits the core knows (the backend offers them through `features`). */
#define VIRTIO_F_INDIRECT_DESC  (1ull << 28)
#define VIRTIO_F_EVENT_IDX      (1ull << 29)
#define VIRTIO_F_VERSION_1      (1ull << 32)
#define VIRTIO_F_ACCESS_PLATFORM (1ull << 33)

/*
 * What a virtio device adds to a transport. notify runs when the driver kicks queue q
 * of a running device (or again, later, when it returned 1: more work than its budget);
 * -EIO (errp set) means the driver broke the queue, and the device then needs a reset.
 * quiesce (optional) runs before a queue stops (the driver disables it, or the device
 * goes away): after it returns, nothing the device took from any queue is still in use
 * (what was in flight has been returned to its queue, which is still as it was).
 * reset (optional) runs when the driver resets the device: after it returns, the device
 * must not touch guest memory on behalf of the old queues. config_write (optional)
 * receives driver writes to the configuration space (len 1, 2 or 4 bytes, offset
 * inside config_len; the core already stored them in vc->config when `writable`
 * says the bytes are). driver_ok (optional) runs when the driver sets DRIVER_OK, with
 * the negotiated features in vc->driver_features.
 */
typedef struct VirtioBackend {
    uint32_t device_id;             /* virtio device type: 2 block, 4 entropy source */
    uint64_t features;              /* offered besides VIRTIO_F_VERSION_1 */
    uint64_t features_required;     /* of those, FEATURES_OK is refused without these */
    unsigned nr_queues;
    uint16_t queue_max;             /* a power of two, at most VIRTQ_MAX_SIZE */
    uint32_t config_len;            /* bytes of device configuration, <= VIRTIO_CONFIG_MAX */
    int (*notify)(VirtioCore *vc, unsigned q, void *opaque, Error **errp);
    void (*quiesce)(VirtioCore *vc, void *opaque);
    void (*reset)(VirtioCore *vc, void *opaque);
    void (*config_write)(VirtioCore *vc, void *opaque, uint32_t off, unsigned len,
                         uint32_t val);
    void (*driver_ok)(VirtioCore *vc, void *opaque);
    /* Optional, for a transport whose drivers wait for a reset to complete (virtio-pci:
     * status reads non-zero until then): the driver asked for a reset. Return true if
     * the device is idle (the reset completes now, through `reset`), false if it has
     * requests in flight: the core then leaves the queues alone, and the device calls
     * virtio_core_reset_done() once they finished, instead of waiting for them. */
    bool (*reset_begin)(VirtioCore *vc, void *opaque);
    /* Optional, for the same transports: are requests the device took from its queues
     * still in flight? A queue disable then waits for them (virtio_core_enable_queue
     * returns false until they finished) instead of quiescing the device at once. */
    bool (*busy)(VirtioCore *vc, void *opaque);
    /* Run a notified queue after the loop has answered the driver's notify (in the same
     * loop turn, as deferred work) instead of before: for a backend whose notify starts
     * slow work (a disk submit, whose page-cache copies io_uring may do inline), so
     * that the vCPU goes on meanwhile. Without a DeviceLoop the queue runs at once. */
    bool notify_after_answer;
    void *opaque;
} VirtioBackend;

/* What a transport provides to the core. interrupt delivers an event of `source` (a
 * queue or VIRTIO_SOURCE_CONFIG); level follows `isr` for line-based interrupts. */
typedef struct VirtioTransportOps {
    void (*interrupt)(VirtioCore *vc, uint32_t source);
    void (*isr_changed)(VirtioCore *vc);
} VirtioTransportOps;

/* A queue's deferred notify (private to devices/virtio.c). */
typedef struct VirtioKick {
    DeviceWork work;
    VirtioCore *vc;
    unsigned q;
} VirtioKick;

/* The state every transport shares (devices/virtio.c). */
struct VirtioCore {
    VirtioBackend be;
    AddressSpace *dma_as;
    const DeviceLoop *loop;         /* where deferred queue work runs; NULL: at once */
    const char *name;
    uint16_t initial_queue_size;    /* what a queue's size reads after reset (PCI: max) */
    VirtioTransportOps ops;
    bool async_reset;               /* the transport can wait for a reset: its drivers
                                     * wait for status 0, or it holds their write */
    bool resetting;                 /* a reset waits for the device's requests in flight */
    uint64_t stopping;              /* queues whose disable waits for them (bit q) */
    uint8_t status, isr;
    uint32_t device_features_sel, driver_features_sel, queue_sel;
    uint64_t driver_features;
    uint8_t config[VIRTIO_CONFIG_MAX];      /* device configuration, little endian */
    uint8_t config_writable[VIRTIO_CONFIG_MAX]; /* 1: the driver may write this byte */
    uint32_t config_generation;
    uint16_t config_vector;         /* virtio-pci MSI-X vector for config changes */
    VirtQueue *vq;                  /* be.nr_queues of them */
    uint16_t *queue_vector;         /* per queue: virtio-pci MSI-X vector */
    VirtioKick *kick;               /* per queue: notify again on a later loop turn */
    LogRateLimit rl;
};

int virtio_core_init(VirtioCore *vc, const VirtioBackend *be, AddressSpace *dma_as,
                     const DeviceLoop *loop, const char *name, uint16_t initial_queue_size,
                     const VirtioTransportOps *ops, Error **errp);
/* Quiesce the backend (requests in flight complete into the queues, while the transport
 * can still deliver their interrupts), then release the queues; pending deferred work
 * is cancelled. Transports call it before taking anything else down. */
void virtio_core_fini(VirtioCore *vc);
void virtio_core_reset(VirtioCore *vc);
/* The device finished what was in flight when the driver asked for a reset. */
void virtio_core_reset_done(VirtioCore *vc);
uint32_t virtio_core_device_features(const VirtioCore *vc);     /* the selected bank */
uint32_t virtio_core_driver_features(const VirtioCore *vc);     /* the selected bank */
void virtio_core_write_driver_features(VirtioCore *vc, uint32_t val);
/* False while a reset waits for requests in flight: the write was not done (virtio-pci
 * drops it, its driver waits for status 0; virtio-mmio holds the driver's write and
 * performs it again later). */
bool virtio_core_write_status(VirtioCore *vc, uint8_t val);
VirtQueue *virtio_core_selected_queue(VirtioCore *vc);          /* NULL: no such queue */
/* A queue's size or ring address (64-bit ones in halves); ignored while it is enabled
 * (and for vq NULL: no such queue). */
enum virtio_queue_field {
    VQ_SIZE, VQ_DESC_LOW, VQ_DESC_HIGH, VQ_DRIVER_LOW, VQ_DRIVER_HIGH, VQ_DEVICE_LOW,
    VQ_DEVICE_HIGH,
};
void virtio_core_write_queue(VirtQueue *vq, enum virtio_queue_field field, uint32_t val);
/* Enable (after checking its layout) or disable a queue; disabling an enabled queue
 * quiesces the backend first, so the queue is out of use once it reads as disabled.
 * Where the transport can wait (async_reset) and the backend is busy, a disable takes
 * no new requests from the queue and returns false until those in flight finished:
 * the transport then performs the same write again later. True: done. */
bool virtio_core_enable_queue(VirtioCore *vc, VirtQueue *vq, bool enable);
void virtio_core_notify(VirtioCore *vc, uint32_t q);
/* Run queue q's notify handler again on a coming loop turn (no-op if already due). */
void virtio_core_kick_later(VirtioCore *vc, unsigned q);
/* The backend put buffers in queue q's used ring: interrupt unless the driver said no. */
void virtio_core_used_buffers(VirtioCore *vc, unsigned q);
/* The backend changed its configuration: new generation, configuration interrupt. */
void virtio_core_config_changed(VirtioCore *vc);
/* Configuration space accesses of 1, 2 or 4 bytes (little endian); reads outside
 * config_len give 0, writes go to the backend where allowed. */
uint32_t virtio_core_config_read(VirtioCore *vc, uint32_t off, unsigned len);
void virtio_core_config_write(VirtioCore *vc, uint32_t off, unsigned len, uint32_t val);
/* The driver broke the device (err is consumed): DEVICE_NEEDS_RESET and a
 * configuration interrupt, nothing more until it resets the device. */
void virtio_core_needs_reset(VirtioCore *vc, Error *err);
void virtio_core_ack_isr(VirtioCore *vc, uint32_t bits);
/* Set the low or high 32 bits of a 64-bit register. */
void virtio_core_set_half(uint64_t *value, bool high, uint32_t half);
/* Whether the driver accepted feature f (a VIRTIO_F_* or device bit mask). */
bool virtio_core_has_feature(const VirtioCore *vc, uint64_t f);

/* The virtio-mmio transport, version 2 (devices/virtio_mmio.c): the registers as a
 * region of VIRTIO_MMIO_REGION_SIZE named `name` for the board to map. */
typedef struct VirtioMmio VirtioMmio;
#define VIRTIO_MMIO_REGION_SIZE 0x200
VirtioMmio *virtio_mmio_new(const VirtioBackend *be, IrqLine irq, AddressSpace *dma_as,
                            const DeviceLoop *loop, const char *name, Error **errp);
void virtio_mmio_free(VirtioMmio *vm);
MemoryRegion *virtio_mmio_region(VirtioMmio *vm);
VirtioCore *virtio_mmio_core(VirtioMmio *vm);

/* The virtio-pci transport, modern (devices/virtio_pci.c): a PCI function with the
 * virtio capabilities, MSI-X (one vector per queue plus one for configuration
 * changes) and INTA while the driver has not enabled MSI-X. */
typedef struct VirtioPci VirtioPci;
VirtioPci *virtio_pci_new(const VirtioBackend *be, AddressSpace *dma_as,
                          const DeviceLoop *loop, const char *name, Error **errp);
void virtio_pci_free(VirtioPci *vp);
PciDevice *virtio_pci_device(VirtioPci *vp);
VirtioCore *virtio_pci_core(VirtioPci *vp);

/* ---- One device, both transports (devices/virtio_device.c) ---------------------- */

/*
 * A virtio device type. create() makes the device's state from its options (only the
 * keys in `keys`; the transport's own keys are handled here) and fills *be with its
 * backend (be->opaque: the state); destroy() finishes what is in flight (the transport
 * is still there to complete into) and releases that state. `name` is the short name: "blk" registers "virtio-blk" and "virtio-blk-pci".
 */
typedef struct VirtioDeviceType {
    const char *name;
    const char *help;               /* the device's own options, one line */
    const char *const *keys;        /* the device's own option keys, NULL-terminated */
    uint64_t mmio_default_addr;     /* virtio-mmio placement when addr= is not given */
    unsigned mmio_default_irq;
    int (*create)(const DeviceBoard *board, const DeviceOpts *opts, VirtioBackend *be,
                  Error **errp);
    void (*destroy)(void *opaque);
    /* Optional, as DeviceType's: an fd for the event loop (completions) and its handler. */
    int (*poll_fd)(void *opaque);
    int (*handle_readable)(void *opaque, Error **errp);
    /* Set at registration: the two device types. */
    struct VirtioDeviceTypes *registered;
} VirtioDeviceType;

void virtio_device_type_register(VirtioDeviceType *type);
#define VIRTIO_DEVICE_REGISTER(type)                                                   \
    static void __attribute__((constructor)) register_virtio_##type(void)              \
    {                                                                                  \
        virtio_device_type_register(&(type));                                          \
    }

/* The core of a device created from a VirtioDeviceType (for its callbacks and tests). */
VirtioCore *virtio_device_core(Device *dev);

#endif
