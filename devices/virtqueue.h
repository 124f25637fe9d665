/*
 * devices/virtqueue.h — split virtqueues in guest memory (virtio 1.x, 2.7).
 *
 * The driver lays the rings out in guest memory; the device reads every guest field
 * exactly once, checks it, and reaches rings and buffers only as RAM
 * (address_space_rw_ram_only), so a ring placed over a device's registers cannot
 * re-enter it. A VirtQueue is plain state embedded in its transport. Single-threaded.
 */
#ifndef XENDM_DEVICES_VIRTQUEUE_H
#define XENDM_DEVICES_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "memory/memory.h"
#include "util/error.h"

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
#endif
