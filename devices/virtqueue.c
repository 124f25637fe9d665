/*
 * devices/virtqueue.c — split virtqueues (virtio 1.x, section 2.7) in guest memory.
 *
 * Everything in the three rings is written by the guest while we read it, so every
 * field is read once into a local and checked before use: the avail index may not run
 * more than the queue size ahead of us, a head or next index must be below the queue
 * size, a chain may not be longer than the queue (a loop) nor have more than
 * VIRTQ_MAX_SEGS buffers, and indirect descriptors (a feature we never offer) are
 * refused. A violation is the driver's error: the caller marks the device as needing
 * a reset and stops using the queue.
 *
 * Ordering: the avail index is read before the ring entries it covers (acquire fence),
 * and a used entry is written before the used index that publishes it (release fence).
 * All guest memory goes through the DMA address space, so the mapcache maps it and
 * writes are marked dirty for log-dirty; the rings must be RAM (not MMIO: a ring over
 * the device's own registers would re-enter it, nor a hole).
 */
#include "devices/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

typedef struct VirtqDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
} __attribute__((packed)) VirtqDesc;

/* Move len bytes between buf and guest RAM at addr (nothing else: see above). */
static int vq_access(AddressSpace *as, uint64_t addr, void *buf, size_t len, bool is_write,
                     Error **errp)
{
    if (address_space_rw_ram_only(as, addr, buf, len, is_write) != MEMTX_OK) {
        error_setg(errp, "virtqueue: cannot %s %zu bytes of guest RAM at 0x%" PRIx64,
                   is_write ? "write" : "read", len, addr);
        return -EIO;
    }
    return 0;
}

static int read_u16(AddressSpace *as, uint64_t addr, uint16_t *out, Error **errp)
{
    uint16_t v;
    int ret = vq_access(as, addr, &v, sizeof(v), false, errp);
    *out = le16toh(v);
    return ret;
}

/* Walk the chain from head into elem. */
static int read_chain(VirtQueue *vq, AddressSpace *as, uint16_t head, VirtqElem *elem,
                      Error **errp)
{
    elem->head = head;
    elem->nr = 0;
    uint16_t i = head;
    for (unsigned walked = 0;; walked++) {
        if (i >= vq->num || walked >= vq->num) {
            error_setg(errp, "virtqueue: %s in the chain from head %u (queue size %u)",
                       i >= vq->num ? "descriptor index out of range" : "a loop", head,
                       vq->num);
            return -EIO;
        }
        VirtqDesc d;
        if (vq_access(as, vq->desc + (uint64_t)i * sizeof(d), &d, sizeof(d), false, errp) < 0)
            return -EIO;
        uint16_t flags = le16toh(d.flags);
        if (flags & VIRTQ_DESC_F_INDIRECT) {
            error_setg(errp, "virtqueue: indirect descriptor %u (not negotiated)", i);
            return -EIO;
        }
        if (elem->nr == VIRTQ_MAX_SEGS) {
            error_setg(errp, "virtqueue: chain from head %u has more than %d buffers", head,
                       VIRTQ_MAX_SEGS);
            return -EIO;
        }
        elem->seg[elem->nr++] = (VirtqSeg){ .addr = le64toh(d.addr), .len = le32toh(d.len),
                                            .device_writes = flags & VIRTQ_DESC_F_WRITE };
        if (!(flags & VIRTQ_DESC_F_NEXT))
            return 0;
        i = le16toh(d.next);
    }
}

int virtq_pop(VirtQueue *vq, AddressSpace *as, VirtqElem *elem, Error **errp)
{
    uint16_t avail_idx;
    if (read_u16(as, vq->avail + 2, &avail_idx, errp) < 0)
        return -EIO;
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
    if (pending == 0)
        return 0;
    if (pending > vq->num) {
        error_setg(errp, "virtqueue: avail index %u is %u entries ahead (queue size %u)",
                   avail_idx, pending, vq->num);
        return -EIO;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);     /* the entries after the index */
    uint16_t head;
    uint64_t slot = vq->avail + 4 + 2 * (uint64_t)(vq->last_avail % vq->num);
    if (read_u16(as, slot, &head, errp) < 0 || read_chain(vq, as, head, elem, errp) < 0)
        return -EIO;
    vq->last_avail++;
    return 1;
}

int virtq_push(VirtQueue *vq, AddressSpace *as, const VirtqElem *elem, uint32_t len,
               Error **errp)
{
    struct { uint32_t id, len; } used = { htole32(elem->head), htole32(len) };
    uint64_t slot = vq->used + 4 + 8 * (uint64_t)(vq->used_idx % vq->num);
    if (vq_access(as, slot, &used, sizeof(used), true, errp) < 0)
        return -EIO;
    __atomic_thread_fence(__ATOMIC_RELEASE);     /* the entry before the index */
    uint16_t idx = htole16((uint16_t)(vq->used_idx + 1));
    if (vq_access(as, vq->used + 2, &idx, sizeof(idx), true, errp) < 0)
        return -EIO;
    vq->used_idx++;
    return 0;
}

bool virtq_wants_interrupt(VirtQueue *vq, AddressSpace *as)
{
    uint16_t flags;
    if (read_u16(as, vq->avail, &flags, NULL) < 0)
        return true;
    return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

int virtq_check_layout(const VirtQueue *vq, uint16_t max, Error **errp)
{
    if (vq->num == 0 || vq->num > max || (vq->num & (vq->num - 1))) {
        error_setg(errp, "virtqueue: size %u (a power of two up to %u)", vq->num, max);
        return -EINVAL;
    }
    /* Alignment the split ring requires (2.7): 16 for descriptors, 2 avail, 4 used. */
    if ((vq->desc & 15) || (vq->avail & 1) || (vq->used & 3)) {
        error_setg(errp, "virtqueue: misaligned rings (desc 0x%" PRIx64 ", avail 0x%" PRIx64
                   ", used 0x%" PRIx64 ")", vq->desc, vq->avail, vq->used);
        return -EINVAL;
    }
    return 0;
}
