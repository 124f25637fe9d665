/*
 * dm/xenstore_devices.h — the virtio devices libxl describes in xenstore, read into
 * xendm device strings (dm/xenstore_device_spec.c), for dm/xenstore_devices.c and its
 * tests.
 *
 * libxl writes a device's backend directory in one transaction,
 * /local/domain/<backend>/backend/<kind>/<domid>/<devid>, with a frontend directory
 * /local/domain/<domid>/device/<kind>/<devid> (libxl__device_generic_add):
 *   - virtio_disk (libxl_disk.c, backendtype=standalone, specification=virtio): params
 *     (the image path), mode (w or r), type (standalone), device-type (disk or cdrom),
 *     discard-enable (0 or 1), specification (virtio), transport (mmio), base
 *     (decimal), irq (decimal), grant_usage (0 or 1), frontend-id, online, state (1),
 *     frontend, and removable, bootable, dev, direct-io-safe, which xendm does not need;
 *   - virtio (libxl_virtio.c): type (virtio,device<N>, N the virtio device id in hex),
 *     transport (mmio), base (hex, 0x...), irq (decimal), grant_usage, frontend-id,
 *     online, state (1), frontend.
 * Parsing is pure: the caller hands a lookup for the directory's keys. Everything in
 * those keys is checked, and a refusal names the key and the value.
 */
#ifndef XENDM_DM_XENSTORE_DEVICES_H
#define XENDM_DM_XENSTORE_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "dm/dm.h"

enum xsdev_kind { XSDEV_DISK, XSDEV_VIRTIO, XSDEV_NR_KINDS };
/* The kind's name in xenstore paths: "virtio_disk", "virtio". */
extern const char *const xsdev_kind_name[XSDEV_NR_KINDS];

#define XSDEV_WINDOW     0x200      /* bytes of one virtio-mmio window (libxl_arm.c) */
#define XSDEV_SPEC_MAX   1200
#define XSDEV_STATE_INITIALISING 1  /* XenbusState, xen/io/xenbus.h */
#define XSDEV_STATE_INITWAIT     2
#define XSDEV_STATE_CLOSING      5
#define XSDEV_STATE_CLOSED       6

/* One device, checked: where it sits and the string device_create makes it from. */
typedef struct XsDevConfig {
    uint64_t base;
    unsigned irq;
    bool opens_file;                /* a disk: its image is opened at creation */
    char spec[XSDEV_SPEC_MAX];
} XsDevConfig;

/* A key of the backend directory: its value, or NULL if the node is absent. */
typedef const char *(*XsDevLookup)(void *opaque, const char *key);

/* Check the backend directory of a device of `kind` for domain `domid` on machine m,
 * and make its device string. 0, or -EINVAL / -ENOTSUP with errp naming the key. */
int xsdev_parse(enum xsdev_kind kind, uint32_t domid, const DmMachineDesc *m,
                XsDevLookup get, void *opaque, XsDevConfig *out, Error **errp);

#endif
