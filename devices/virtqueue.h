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

/* Largest queue size a device may offer (the split ring allows 32768; 1024 is what
 * block and network devices use, and bounds the work one chain can cause). */
#define VIRTQ_MAX_SIZE 1024

typedef struct VirtqSeg {
    uint64_t addr;
    uint32_t len;
    bool device_writes;             /* VIRTQ_DESC_F_WRITE: a buffer for the device to fill */
} VirtqSeg;

/* A split virtqueue the driver laid out in guest memory (virtio 1.x, 2.7). The device
 * owns last_avail, used_idx and the event bookkeeping; desc/avail/used/num are what
 * the driver configured, frozen while the queue is enabled. */
typedef struct VirtQueue {
    uint16_t num;                   /* queue size */
    bool ready;
    uint64_t desc, avail, used;     /* guest addresses of the three rings */
    uint16_t last_avail;            /* next avail entry to take */
    uint16_t used_idx;              /* next used entry to fill */
    /* Negotiated features that change the ring (set by virtq_enable). */
    bool event_idx;                 /* VIRTIO_F_EVENT_IDX: used_event / avail_event */
    bool indirect;                  /* VIRTIO_F_INDIRECT_DESC */
    uint16_t signalled_used;        /* used_idx when the driver was last interrupted */
    bool signalled_used_valid;      /* false: interrupt at the next opportunity */
    VirtqSeg *scratch;              /* num entries: a chain is walked into this */
} VirtQueue;

/* One available chain, its buffers in order (at most the queue size of them).
 * Allocated by virtq_pop(), released by the caller with free(). */
typedef struct VirtqElem {
    uint16_t head;
    unsigned nr;
    VirtqSeg seg[];
} VirtqElem;

/*
 * Check what the driver configured and enable the queue: the size is a power of two
 * up to max, the rings are aligned, each ring's full extent (with the event fields
 * when event_idx) neither wraps past 2^64 nor leaves RAM (the used ring: writable
 * RAM). 0, or -EINVAL / -ENOMEM with errp set (the queue stays disabled).
 */
int virtq_enable(VirtQueue *vq, AddressSpace *as, uint16_t max, bool event_idx,
                 bool indirect, Error **errp);
/* Forget everything but nothing the driver can see: back to the reset state with
 * size `num`. Releases the scratch space. */
void virtq_reset(VirtQueue *vq, uint16_t num);
/* Take the next available chain: 1 (*elem set), 0 (none: with event_idx, the device
 * has asked to be notified of the next one), -EIO (errp) for a malformed queue or
 * guest memory that cannot be read (the driver's error), -ENOMEM (errp; try again
 * later, nothing was taken). */
int virtq_pop(VirtQueue *vq, AddressSpace *as, VirtqElem **elem, Error **errp);
/* Whether buffers are available (no side effects). false also when unreadable. */
bool virtq_has_work(VirtQueue *vq, AddressSpace *as);
/* Hand the chain back with `len` bytes written into it. 0 or -EIO (errp). */
int virtq_push(VirtQueue *vq, AddressSpace *as, const VirtqElem *elem, uint32_t len,
               Error **errp);
/* After a batch of pushes: whether the driver wants an interrupt now (avail flags, or
 * used_event with event_idx). Records that it was asked when it says yes. */
bool virtq_should_interrupt(VirtQueue *vq, AddressSpace *as);

#endif
