/*
 * devices/devices.h — the emulated devices of xendm and the small interfaces they use.
 *
 * A device is a guest-visible model (16550A UART, PCI host bridge, PCI test device, the
 * virtio entropy device on PCI or MMIO) that answers accesses through MemoryRegions
 * with MemoryRegionOps (memory/memory.h). Devices never call Xen: interrupts go out
 * through an IrqRouter that the board supplies (xen/ turns it into
 * xendevicemodel_set_isa_irq_level / set_pci_intx_level, tests use a fake), DMA goes
 * through an AddressSpace with address_space_rw(), and the PCI host
 * tells whoever installed PciHostHooks which functions exist on bus 0 (xen/ turns that
 * into xendevicemodel_map_pcidev_to_ioreq_server).
 *
 * Device types register themselves at start-up (DEVICE_TYPE_REGISTER, a constructor
 * in each device's own file); dm/ creates instances by name from an option string such
 * as "uart,port=0x3f8,irq=4,chardev=stdio".
 *
 * Ownership: device_create() returns a Device that the caller releases with
 * device_destroy(); the device owns its MemoryRegions, its IRQ line and its Chardev,
 * and removes its regions from the board's containers when destroyed. The board
 * (DeviceBoard) and everything it points to must outlive every device created on it.
 * Everything here is single-threaded: it runs on the ioreq loop's thread.
 *
 * Everything a guest can reach (register offsets, sizes, values, DMA parameters) is
 * hostile: it is checked, answered (all ones for refused reads) and, where useful,
 * logged with a rate limit; it never crashes the process.
 */
#ifndef XENDM_DEVICES_H
#define XENDM_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memory/memory.h"
#include "util/error.h"
#include "util/log.h"

/* ---- IRQ lines (devices/irq.c) ---------------------------------------------------- */

/*
 * The interrupt backend. Each callback returns 0 or -errno; on failure the line keeps
 * its old level, so the next set_level retries. set_pci_intx's sbdf is
 * segment << 16 | bus << 8 | devfn, intx 0..3 is INTA..INTD.
 */
typedef struct IrqRouter {
    int (*set_isa_irq)(void *opaque, unsigned irq, bool level);
    int (*set_pci_intx)(void *opaque, uint32_t sbdf, unsigned intx, bool level);
    void *opaque;
} IrqRouter;

enum irq_line_kind {
    IRQ_LINE_NONE,              /* not connected: levels are remembered, not sent */
    IRQ_LINE_ISA,
    IRQ_LINE_PCI_INTX,
};

/* One interrupt output of a device. Only level changes reach the router. */
typedef struct IrqLine {
    const IrqRouter *router;
    enum irq_line_kind kind;
    uint32_t sbdf;              /* PCI_INTX only */
    unsigned num;               /* ISA irq number, or intx 0..3 */
    bool level;                 /* level the router last accepted */
} IrqLine;

#define ISA_NUM_IRQS 16

void irq_line_init_none(IrqLine *line);
/* Returns -EINVAL (errp set) for irq >= ISA_NUM_IRQS or a router without set_isa_irq. */
int irq_line_init_isa(IrqLine *line, const IrqRouter *router, unsigned irq, Error **errp);
int irq_line_init_pci_intx(IrqLine *line, const IrqRouter *router, uint32_t sbdf,
                           unsigned intx, Error **errp);
void irq_line_set_level(IrqLine *line, bool level);
bool irq_line_get_level(const IrqLine *line);

/* ---- Character backends (devices/chardev.c) --------------------------------------- */

/*
 * A byte stream between a device and the outside world. Specs:
 *   "null"               output discarded, no input
 *   "stdio"              output to stdout, input from stdin (a terminal is used as
 *                        it is: line-buffered and echoing, not switched to raw mode)
 *   "stdout"             output to stdout, no input
 *   "file:OUT[:IN]"      output to file OUT (truncated), input read from IN if given
 *   "unix:PATH"          listens on unix socket PATH and serves one client at a time:
 *                        output goes to the client (dropped while none is connected or
 *                        the client does not keep up), input comes from it
 * Output never blocks the ioreq loop for sockets (bytes that do not fit are dropped
 * and counted); stdout and files are written with plain write(). The program should
 * ignore SIGPIPE. Input is pulled by the event loop: it polls chardev_poll_fd() for
 * POLLIN and calls chardev_handle_readable(), which feeds at most as many bytes as the
 * receiver can take. The fd changes over time (accepted clients, EOF), so the loop
 * asks for it before every poll.
 */
typedef struct Chardev Chardev;

typedef struct ChardevReceiver {
    size_t (*can_receive)(void *opaque);    /* bytes the device can take now */
    void (*receive)(void *opaque, const uint8_t *buf, size_t len);
    void *opaque;
} ChardevReceiver;

Chardev *chardev_open(const char *spec, Error **errp);
/* Wrap existing descriptors (-1: none); the Chardev closes them when owned. */
Chardev *chardev_from_fds(int in_fd, int out_fd, bool owned, Error **errp);
void chardev_close(Chardev *chr);
void chardev_write(Chardev *chr, const uint8_t *buf, size_t len);
void chardev_set_receiver(Chardev *chr, const ChardevReceiver *rx);
/* The fd to poll for POLLIN now, or -1 when there is nothing to wait for. */
int chardev_poll_fd(const Chardev *chr);
/* Accept a client or feed input to the receiver. Returns bytes fed, or -errno. */
int chardev_handle_readable(Chardev *chr, Error **errp);
uint64_t chardev_dropped_bytes(const Chardev *chr);

/* ---- PCI (devices/pci_host.c) ----------------------------------------------------- */

#define PCI_CONFIG_SPACE_SIZE 256
#define PCI_NUM_BARS          6
#define PCI_BAR_UNMAPPED      UINT64_MAX
#define PCI_DEVFN(slot, fn)   ((uint8_t)(((slot) << 3) | (fn)))
#define PCI_SBDF(seg, bus, devfn) ((uint32_t)(seg) << 16 | (uint32_t)(bus) << 8 | (devfn))

typedef struct PciHost PciHost;

/* BAR kinds, encoded as the low bits of the BAR register. */
enum pci_bar_type {
    PCI_BAR_MEM32 = 0x0,
    PCI_BAR_IO = 0x1,
    PCI_BAR_MEM64 = 0x4,
    PCI_BAR_MEM32_PREFETCH = 0x8,
    PCI_BAR_MEM64_PREFETCH = 0xc,
};

typedef struct PciBar {
    MemoryRegion *mr;           /* the device's region; NULL: BAR not implemented */
    uint64_t size;              /* power of two: the region's size */
    enum pci_bar_type type;
    uint64_t addr;              /* where mr is mapped, or PCI_BAR_UNMAPPED */
    bool in_root;               /* mr is a subregion of the root (possibly disabled) */
} PciBar;

/*
 * One PCI function with a type-0 header. The device model embeds it, fills it with
 * pci_device_init() and pci_device_init_bar(), then registers it on the host. Config
 * space writes go through wmask (1 = the guest may change the bit); the host keeps the
 * BAR mappings and the INTx line in step with the header.
 */
typedef struct PciDevice {
    char name[32];
    PciHost *host;              /* NULL until registered */
    uint8_t devfn;
    uint8_t config[PCI_CONFIG_SPACE_SIZE];
    uint8_t wmask[PCI_CONFIG_SPACE_SIZE];
    PciBar bars[PCI_NUM_BARS];
    IrqLine intx;
    bool intx_requested;        /* the level the device asks for, before INTx disable */
} PciDevice;

/* Called when a function appears on or leaves bus 0 (xen/: map_pcidev_to_ioreq_server). */
typedef struct PciHostHooks {
    int (*device_added)(void *opaque, uint32_t sbdf, Error **errp);
    void (*device_removed)(void *opaque, uint32_t sbdf);
    void *opaque;
} PciHostHooks;

/* BARs are mapped into mem_root / io_root (the roots of the memory and I/O address
 * spaces); INTx goes to irq. All must outlive the host. */
PciHost *pci_host_new(MemoryRegion *mem_root, MemoryRegion *io_root, const IrqRouter *irq,
                      uint16_t segment, Error **errp);
/* Every device must have been unregistered. */
void pci_host_free(PciHost *host);
/* Install hooks; device_added is replayed for functions already on the bus. Returns the
 * first replay failure. */
int pci_host_set_hooks(PciHost *host, const PciHostHooks *hooks, Error **errp);
/* The 0xcf8/0xcfc configuration mechanism #1 as an 8-port I/O region; the board adds
 * it to the I/O space at 0xcf8 if it wants it (Xen decodes those ports itself). */
MemoryRegion *pci_host_legacy_io_region(PciHost *host);
PciDevice *pci_host_find_device(PciHost *host, uint8_t devfn);

/* IOREQ_TYPE_PCI_CONFIG: sbdf = ioreq addr >> 32, reg = low 32 bits, size 1/2/4.
 * Absent functions, other segments/buses, bad sizes or offsets read all ones. */
uint32_t pci_host_config_read(PciHost *host, uint32_t sbdf, uint32_t reg, unsigned size);
void pci_host_config_write(PciHost *host, uint32_t sbdf, uint32_t reg, unsigned size,
                           uint32_t value);

/* class_code is the 24-bit base/sub/prog-if; intx_pin 0: no interrupt, 1..4 INTA..D. */
void pci_device_init(PciDevice *dev, const char *name, uint16_t vendor, uint16_t device,
                     uint32_t class_code, uint8_t revision, uint8_t intx_pin);
/* Declare BAR bar (a 64-bit BAR also takes bar + 1) backed by mr, whose size must be a
 * power of two (at least 4 for I/O, 16 for memory). Returns -EINVAL (errp set). */
int pci_device_init_bar(PciDevice *dev, unsigned bar, enum pci_bar_type type,
                        MemoryRegion *mr, Error **errp);
/* Put the function at devfn on bus 0; -EBUSY if taken, or the hook's error. */
int pci_host_register_device(PciHost *host, PciDevice *dev, uint8_t devfn, Error **errp);
/* Unmaps its BARs, lowers its INTx and tells the hooks. */
void pci_host_unregister_device(PciHost *host, PciDevice *dev);
/* The device's interrupt request; the line follows it unless the command register's
 * INTx disable bit is set. Status bit "interrupt status" always reflects it. */
void pci_device_set_intx(PciDevice *dev, bool level);
uint32_t pci_device_sbdf(const PciDevice *dev);

/* ---- Virtqueues (devices/virtqueue.c) ---------------------------------------------- */

/* A split virtqueue the driver laid out in guest memory (virtio 1.x, 2.7). The device
 * owns last_avail and used_idx; the rest is what the driver configured. */
typedef struct VirtQueue {
    uint16_t num;                   /* queue size */
    bool ready;
    uint64_t desc, avail, used;     /* guest addresses of the three rings */
    uint16_t last_avail;            /* next avail entry to take */
    uint16_t used_idx;              /* next used entry to fill */
} VirtQueue;

#define VIRTQ_MAX_SEGS 16

typedef struct VirtqSeg {
    uint64_t addr;
    uint32_t len;
    bool device_writes;             /* VIRTQ_DESC_F_WRITE: a buffer for the device to fill */
} VirtqSeg;

/* One available chain, its buffers in order. */
typedef struct VirtqElem {
    uint16_t head;
    unsigned nr;
    VirtqSeg seg[VIRTQ_MAX_SEGS];
} VirtqElem;

/* Size and alignment of a queue the driver wants to enable: 0 or -EINVAL (errp). */
int virtq_check_layout(const VirtQueue *vq, uint16_t max, Error **errp);
/* Take the next available chain: 1 (elem filled), 0 (none), or -EIO (errp) for a
 * malformed queue or guest memory that cannot be read: the driver's error. */
int virtq_pop(VirtQueue *vq, AddressSpace *as, VirtqElem *elem, Error **errp);
/* Hand the chain back with `len` bytes written into it. 0 or -EIO (errp). */
int virtq_push(VirtQueue *vq, AddressSpace *as, const VirtqElem *elem, uint32_t len,
               Error **errp);
/* Whether the driver wants an interrupt for used buffers (avail flags). */
bool virtq_wants_interrupt(VirtQueue *vq, AddressSpace *as);

/* ---- virtio devices (devices/virtio.c, virtio_mmio.c, virtio_pci.c) ----------------- */

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

/* ---- Device registry (devices/registry.c) ------------------------------------------ */

/* What the machine offers to the devices created on it. */
typedef struct DeviceBoard {
    MemoryRegion *system_memory;    /* root of the memory address space */
    MemoryRegion *system_io;        /* root of the I/O port address space */
    AddressSpace *dma_as;           /* where bus-master DMA goes */
    const IrqRouter *irq;
    PciHost *pci;                   /* bus 0, or NULL when the machine has no PCI */
} DeviceBoard;

#define DEVICE_OPTS_MAX 16

/* A parsed "type,key=value,..." string. */
typedef struct DeviceOpts {
    char *type;
    unsigned count;
    struct { char *key, *value; } opt[DEVICE_OPTS_MAX];
    char *storage;              /* owned copy of the string the pointers point into */
} DeviceOpts;

typedef struct Device Device;

typedef struct DeviceType {
    const char *name;
    const char *help;               /* one line: options and their defaults */
    const char *const *keys;        /* accepted option keys, NULL-terminated */
    Device *(*create)(const DeviceBoard *board, const DeviceOpts *opts, Error **errp);
    void (*destroy)(Device *dev);
    /* Optional: an fd the event loop polls for POLLIN (-1: none now), and what to do
     * when it is readable (>= 0, or -errno with errp set). See devices/device_input.c. */
    int (*poll_fd)(Device *dev);
    int (*handle_readable)(Device *dev, Error **errp);
} DeviceType;

/* The first member of every device's state. */
struct Device {
    const DeviceType *type;
};

void device_type_register(const DeviceType *type);
#define DEVICE_TYPE_REGISTER(type)                                                     \
    static void __attribute__((constructor)) register_##type(void)                     \
    {                                                                                  \
        device_type_register(&(type));                                                 \
    }

const DeviceType *device_type_find(const char *name);
/* "name: help" for every registered type, sorted by name. */
void device_types_print(FILE *out);

int device_opts_parse(DeviceOpts *opts, const char *str, Error **errp);
void device_opts_free(DeviceOpts *opts);
const char *device_opts_get(const DeviceOpts *opts, const char *key);
/* Value of key as a number (decimal, 0x hex, 0 octal) in [0, max], or def if absent. */
int device_opts_get_u64(const DeviceOpts *opts, const char *key, uint64_t def,
                        uint64_t max, uint64_t *out, Error **errp);

/* The "irq" option (default def) as an ISA interrupt line on the board's router. */
int device_opts_get_isa_irq(const DeviceOpts *opts, const DeviceBoard *board, unsigned def,
                            IrqLine *line, Error **errp);

/* The "slot" and "fn" options of a PCI device as a devfn on bus 0: the slot given, or
 * the first free one from PCI_FIRST_DEFAULT_SLOT (slots 0-2 are where PC chipsets put
 * the host bridge, ISA bridge and VGA). `who` names the device in errors. */
#define PCI_FIRST_DEFAULT_SLOT 3
int pci_host_pick_slot(PciHost *host, const DeviceOpts *opts, const char *who, uint8_t *devfn,
                       Error **errp);

/* Parse str, check its keys against the type, create the device. */
Device *device_create(const DeviceBoard *board, const char *str, Error **errp);
void device_destroy(Device *dev);
/* Input for the event loop: the fd to poll now (-1: none) and its handler. */
int device_poll_fd(Device *dev);
int device_handle_readable(Device *dev, Error **errp);

/* ---- Device models ----------------------------------------------------------------- */

/* 16550A UART (devices/uart16550.c); 8 I/O ports, registered as "uart". */
typedef struct Uart16550 Uart16550;
#define UART16550_DEFAULT_PORT 0x3f8
#define UART16550_DEFAULT_IRQ  4
#define UART16550_FIFO_SIZE    16

/* Takes ownership of chr (may be NULL: output discarded, no input). */
Uart16550 *uart16550_new(IrqLine irq, Chardev *chr, Error **errp);
void uart16550_free(Uart16550 *uart);
MemoryRegion *uart16550_region(Uart16550 *uart);
/* The receive side, as the chardev calls it (also for tests). */
size_t uart16550_can_receive(void *uart);
void uart16550_receive(void *uart, const uint8_t *buf, size_t len);

/* PCI test device (devices/pci_testdev.c), registered as "pci-testdev"; the register
 * map is documented at the top of that file. */
typedef struct PciTestDev PciTestDev;
#define PCI_TESTDEV_VENDOR_ID 0x1234
#define PCI_TESTDEV_DEVICE_ID 0x10ed
#define PCI_TESTDEV_ID        0x010000edu
#define PCI_TESTDEV_BAR_SIZE  0x2000u
#define PCI_TESTDEV_BUF_OFF   0x1000u
#define PCI_TESTDEV_BUF_SIZE  0x1000u

PciTestDev *pci_testdev_new(AddressSpace *dma_as, Error **errp);
void pci_testdev_free(PciTestDev *td);
PciDevice *pci_testdev_pci(PciTestDev *td);
MemoryRegion *pci_testdev_bar0(PciTestDev *td);

#endif
