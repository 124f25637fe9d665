/*
 * devices/virtio_device.c — one virtio device, both transports.
 *
 * Registering a VirtioDeviceType registers two device types with the registry:
 * "virtio-NAME" on virtio-mmio (options addr= and irq=, defaults from the type) and
 * "virtio-NAME-pci" on modern virtio-pci (options slot= and fn=), each also taking the
 * device's own options and grant_usage=0|1. With grant_usage=1 the device's DMA goes
 * to the board's grant DMA space (grant addresses only, mapcache/grant_dma.h), and it
 * offers VIRTIO_F_ACCESS_PLATFORM and refuses FEATURES_OK without it: a driver that
 * does not accept it would give the device guest-physical addresses, which it cannot
 * reach (Linux's grant DMA ops accept it, and refuse a device that does not offer it). Creating one makes the device's state (the type's create,
 * which fills in its VirtioBackend), then the transport around it; destroying undoes
 * both, transport first: its core stops the device as a reset does (requests in flight
 * complete into the rings while the transport is whole), so neither side is ever called
 * once the other's state is gone.
 */
#include "devices/virtio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/macros.h"

#define VIRTIO_MAX_KEYS 24

/* The two registry entries of one VirtioDeviceType, made at registration. */
struct VirtioDeviceTypes {
    VirtioDeviceType *vt;
    DeviceType mmio, pci;
    char mmio_name[48], pci_name[48], mmio_help[256], pci_help[256];
    const char *mmio_keys[VIRTIO_MAX_KEYS], *pci_keys[VIRTIO_MAX_KEYS];
};

/* An instance: the registry header, the device's backend and its transport. */
typedef struct VirtioDevice {
    Device dev;
    const VirtioDeviceType *vt;
    VirtioBackend be;
    VirtioMmio *mmio;               /* the transport: one of these two */
    VirtioPci *pci;
    PciHost *host;                  /* where pci is registered */
} VirtioDevice;

VirtioCore *virtio_device_core(Device *dev)
{
    VirtioDevice *vd = container_of(dev, VirtioDevice, dev);
    return vd->mmio ? virtio_mmio_core(vd->mmio) : virtio_pci_core(vd->pci);
}

static void virtio_device_destroy(Device *dev)
{
    VirtioDevice *vd = container_of(dev, VirtioDevice, dev);
    virtio_mmio_free(vd->mmio);
    if (vd->pci) {
        pci_host_unregister_device(vd->host, virtio_pci_device(vd->pci));
        virtio_pci_free(vd->pci);
    }
    if (vd->be.opaque)
        vd->vt->destroy(vd->be.opaque);
    free(vd);
}

static int virtio_device_poll_fd(Device *dev)
{
    VirtioDevice *vd = container_of(dev, VirtioDevice, dev);
    return vd->vt->poll_fd ? vd->vt->poll_fd(vd->be.opaque) : -1;
}

static int virtio_device_handle_readable(Device *dev, Error **errp)
{
    VirtioDevice *vd = container_of(dev, VirtioDevice, dev);
    return vd->vt->handle_readable ? vd->vt->handle_readable(vd->be.opaque, errp) : 0;
}

static int attach_mmio(VirtioDevice *vd, const DeviceBoard *board, AddressSpace *dma_as,
                       const DeviceOpts *opts, const char *name, Error **errp)
{
    uint64_t addr;
    IrqLine line;
    if (device_opts_get_u64(opts, "addr", vd->vt->mmio_default_addr,
                            UINT64_MAX - VIRTIO_MMIO_REGION_SIZE, &addr, errp) < 0 ||
        device_opts_get_irq(opts, board, vd->vt->mmio_default_irq, &line, errp) < 0)
        return -EINVAL;
    if (addr & (VIRTIO_MMIO_REGION_SIZE - 1)) {
        error_setg(errp, "%s: addr 0x%" PRIx64 " is not %u-byte aligned", name, addr,
                   VIRTIO_MMIO_REGION_SIZE);
        return -EINVAL;
    }
    vd->mmio = virtio_mmio_new(&vd->be, line, dma_as, board->loop, name, errp);
    if (!vd->mmio || memory_region_add_subregion(board->system_memory, addr,
                                                 virtio_mmio_region(vd->mmio), errp) < 0) {
        error_prepend(errp, "%s at 0x%" PRIx64, name, addr);
        return -EINVAL;
    }
    return 0;
}

static int attach_pci(VirtioDevice *vd, const DeviceBoard *board, AddressSpace *dma_as,
                      const DeviceOpts *opts, const char *name, Error **errp)
{
    uint8_t devfn;
    if (!board->pci) {
        error_setg(errp, "%s: the machine has no PCI bus", name);
        return -ENODEV;
    }
    if (pci_host_pick_slot(board->pci, opts, name, &devfn, errp) < 0)
        return -EINVAL;
    vd->pci = virtio_pci_new(&vd->be, dma_as, board->loop, name, errp);
    if (!vd->pci)
        return -EINVAL;
    if (pci_host_register_device(board->pci, virtio_pci_device(vd->pci), devfn, errp) < 0) {
        virtio_pci_free(vd->pci);
        vd->pci = NULL;
        return -EINVAL;
    }
    vd->host = board->pci;
    return 0;
}

/* Where the device's DMA goes: the board's DMA space, or with grant_usage=1 its grant
 * DMA space. NULL with errp set. */
static AddressSpace *pick_dma_as(const DeviceBoard *board, const DeviceOpts *opts,
                                 const char *name, bool *grants, Error **errp)
{
    uint64_t grant_usage;
    if (device_opts_get_u64(opts, "grant_usage", 0, 1, &grant_usage, errp) < 0)
        return NULL;
    *grants = grant_usage;
    AddressSpace *as = grant_usage ? board->grant_dma_as : board->dma_as;
    if (!as)
        error_setg(errp, "%s: the machine has no %sDMA address space", name,
                   grant_usage ? "grant " : "");
    return as;
}

static Device *virtio_device_create(const DeviceType *type, const DeviceBoard *board,
                                    const DeviceOpts *opts, Error **errp)
{
    const struct VirtioDeviceTypes *t = type->type_data;
    bool on_pci = type == &t->pci, grants;
    AddressSpace *dma_as = pick_dma_as(board, opts, type->name, &grants, errp);
    if (!dma_as)
        return NULL;
    VirtioDevice *vd = calloc(1, sizeof(*vd));
    if (!vd) {
        error_setg_errno(errp, ENOMEM, "%s: cannot allocate device state", type->name);
        return NULL;
    }
    vd->dev.type = type;
    vd->vt = t->vt;
    if (t->vt->create(board, opts, &vd->be, errp) < 0) {
        free(vd);
        return NULL;
    }
    if (grants) {
        vd->be.features |= VIRTIO_F_ACCESS_PLATFORM;
        vd->be.features_required |= VIRTIO_F_ACCESS_PLATFORM;
    }
    int ret = on_pci ? attach_pci(vd, board, dma_as, opts, type->name, errp)
                     : attach_mmio(vd, board, dma_as, opts, type->name, errp);
    if (ret < 0) {
        virtio_device_destroy(&vd->dev);
        return NULL;
    }
    return &vd->dev;
}

/* keys = the transport's keys, grant_usage, then the device's own. */
static void merge_keys(const char **out, const char *a, const char *b,
                       const char *const *own)
{
    unsigned n = 0;
    out[n++] = a;
    out[n++] = b;
    out[n++] = "grant_usage";
    for (; own && *own && n < VIRTIO_MAX_KEYS - 1; own++)
        out[n++] = *own;
    out[n] = NULL;
}

void virtio_device_type_register(VirtioDeviceType *vt)
{
    /* Registration runs from constructors: there is no caller to report to, and a
     * program without memory at that point cannot run at all. */
    struct VirtioDeviceTypes *t = calloc(1, sizeof(*t));
    if (!t)
        abort();
    t->vt = vt;
    vt->registered = t;
    snprintf(t->mmio_name, sizeof(t->mmio_name), "virtio-%s", vt->name);
    snprintf(t->pci_name, sizeof(t->pci_name), "virtio-%s-pci", vt->name);
    snprintf(t->mmio_help, sizeof(t->mmio_help), "%s on virtio-mmio: addr=0x%" PRIx64
             " irq=%u grant_usage=0", vt->help, vt->mmio_default_addr, vt->mmio_default_irq);
    snprintf(t->pci_help, sizeof(t->pci_help), "%s on PCI (modern): slot=first free from "
             "%d, fn=0, grant_usage=0", vt->help, PCI_FIRST_DEFAULT_SLOT);
    merge_keys(t->mmio_keys, "addr", "irq", vt->keys);
    merge_keys(t->pci_keys, "slot", "fn", vt->keys);
    DeviceType common = { .create = virtio_device_create, .destroy = virtio_device_destroy,
                          .type_data = t, .poll_fd = virtio_device_poll_fd,
                          .handle_readable = virtio_device_handle_readable };
    t->mmio = common;
    t->mmio.name = t->mmio_name;
    t->mmio.help = t->mmio_help;
    t->mmio.keys = t->mmio_keys;
    t->pci = common;
    t->pci.name = t->pci_name;
    t->pci.help = t->pci_help;
    t->pci.keys = t->pci_keys;
    device_type_register(&t->mmio);
    device_type_register(&t->pci);
}
