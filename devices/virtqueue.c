/*
 * devices/virtqueue.c — split virtqueues (virtio 1.x, section 2.7) in guest memory.
 *
 * Everything in the three rings (and in indirect tables) is written by the guest while
 * we read it, so every field is read once into a local and checked before use: the
 * avail index may not run more than the queue size ahead of us, a head or next index
 * must be inside its table, a chain may not have more buffers than the queue size (which
 * also catches loops, indirect tables included), an indirect table must be a whole
 * number of descriptors, no bigger than the queue, and may neither nest nor be chained
 * (2.7.5.3.1). A violation is the driver's error: the caller marks the device as
 * needing a reset and stops using the queue.
 *
 * Ordering: the avail index is read before the ring entries it covers (acquire fence),
 * a used entry is written before the used index that publishes it (release fence), and
 * with EVENT_IDX the avail_event we publish is followed by a full fence and a second
 * look at the avail index, so a buffer added meanwhile is not missed (the driver reads
 * avail_event after writing its index).
 *
 * All guest memory goes through the DMA address space as RAM only
 * (address_space_rw_ram_only): a ring over the device's own registers would re-enter
 * it, and a hole has nothing to read. The whole extent of every ring is checked once,
 * when the driver enables the queue.
 */
#include "devices/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

typedef struct VirtqDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
} __attribute__((packed)) VirtqDesc;

/* Byte sizes of the rings (2.7): the trailing event field only with EVENT_IDX. */
static uint64_t desc_bytes(const VirtQueue *vq)
{
    return 16ull * vq->num;
}

static uint64_t avail_bytes(const VirtQueue *vq, bool event_idx)
{
    return 4 + 2ull * vq->num + (event_idx ? 2 : 0);
}

static uint64_t used_bytes(const VirtQueue *vq, bool event_idx)
{
    return 4 + 8ull * vq->num + (event_idx ? 2 : 0);
}

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

static int write_u16(AddressSpace *as, uint64_t addr, uint16_t val, Error **errp)
{
    uint16_t v = htole16(val);
    return vq_access(as, addr, &v, sizeof(v), true, errp);
}

/* The ring [addr, addr + len) neither wraps nor leaves RAM: read it whole (and, for a
 * ring the device writes, write the same bytes back, which proves it writable without
 * changing it: the driver never writes the used ring). */
static int check_ring(AddressSpace *as, const char *what, uint64_t addr, uint64_t len,
                      bool device_writes, Error **errp)
{
    if (addr + len - 1 < addr) {
        error_setg(errp, "virtqueue: %s ring at 0x%" PRIx64 " (%" PRIu64 " bytes) wraps "
                   "past 2^64", what, addr, len);
        return -EINVAL;
    }
    uint8_t *probe = malloc(len);
    if (!probe) {
        error_setg_errno(errp, ENOMEM, "virtqueue: cannot check the %s ring", what);
        return -ENOMEM;
    }
    int ret = 0;
    if (address_space_rw_ram_only(as, addr, probe, len, false) != MEMTX_OK ||
        (device_writes && address_space_rw_ram_only(as, addr, probe, len, true) != MEMTX_OK)) {
        error_setg(errp, "virtqueue: %s ring at 0x%" PRIx64 " (%" PRIu64 " bytes) is not "
                   "all %sguest RAM", what, addr, len, device_writes ? "writable " : "");
        ret = -EINVAL;
    }
    free(probe);
    return ret;
}

int virtq_enable(VirtQueue *vq, AddressSpace *as, uint16_t max, bool event_idx,
                 bool indirect, Error **errp)
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
    if (check_ring(as, "descriptor", vq->desc, desc_bytes(vq), false, errp) < 0 ||
        check_ring(as, "available", vq->avail, avail_bytes(vq, event_idx), false, errp) < 0 ||
        check_ring(as, "used", vq->used, used_bytes(vq, event_idx), true, errp) < 0)
        return -EINVAL;
    VirtqSeg *scratch = realloc(vq->scratch, vq->num * sizeof(*scratch));
    if (!scratch) {
        error_setg_errno(errp, ENOMEM, "virtqueue: cannot allocate %u chain entries", vq->num);
        return -ENOMEM;
    }
    vq->scratch = scratch;
    vq->event_idx = event_idx;
    vq->indirect = indirect;
    vq->signalled_used_valid = false;
    vq->ready = true;
    return 0;
}

void virtq_reset(VirtQueue *vq, uint16_t num)
{
    free(vq->scratch);
    *vq = (VirtQueue){ .num = num };
}

/* Where a chain's descriptors come from: the ring, or one indirect table. */
typedef struct DescTable {
    uint64_t addr;
    uint32_t count;
} DescTable;

static int read_desc(AddressSpace *as, const DescTable *t, uint16_t i, VirtqDesc *d,
                     Error **errp)
{
    if (vq_access(as, t->addr + 16ull * i, d, sizeof(*d), false, errp) < 0)
        return -EIO;
    d->addr = le64toh(d->addr);
    d->len = le32toh(d->len);
    d->flags = le16toh(d->flags);
    d->next = le16toh(d->next);
    return 0;
}

/* Append one buffer; the chain may hold at most num of them in all. */
static int add_seg(VirtQueue *vq, unsigned *nr, const VirtqDesc *d, uint16_t head,
                   Error **errp)
{
    if (*nr == vq->num) {
        error_setg(errp, "virtqueue: chain from head %u has more than %u buffers (a loop?)",
                   head, vq->num);
        return -EIO;
    }
    vq->scratch[(*nr)++] = (VirtqSeg){ .addr = d->addr, .len = d->len,
                                       .device_writes = d->flags & VIRTQ_DESC_F_WRITE };
    return 0;
}

/* The descriptor d points at an indirect table: check it and return it. */
static int indirect_table(VirtQueue *vq, const VirtqDesc *d, bool nested, uint16_t head,
                          DescTable *t, Error **errp)
{
    if (!vq->indirect || nested || (d->flags & VIRTQ_DESC_F_NEXT) || d->len == 0 ||
        d->len % 16 || d->len / 16 > vq->num) {
        error_setg(errp, "virtqueue: bad indirect descriptor in the chain from head %u "
                   "(%s, %u bytes, flags 0x%x)", head,
                   !vq->indirect ? "not negotiated" : nested ? "nested" : "malformed",
                   d->len, d->flags);
        return -EIO;
    }
    *t = (DescTable){ .addr = d->addr, .count = d->len / 16 };
    return 0;
}

/* Walk the chain from head into vq->scratch; returns the number of buffers or -EIO. */
static int read_chain(VirtQueue *vq, AddressSpace *as, uint16_t head, Error **errp)
{
    DescTable t = { .addr = vq->desc, .count = vq->num };
    bool in_indirect = false;
    unsigned nr = 0, walked = 0;
    uint16_t i = head;
    for (;;) {
        VirtqDesc d;
        if (i >= t.count || walked++ >= vq->num) {
            error_setg(errp, "virtqueue: %s in the chain from head %u (table of %u)",
                       i >= t.count ? "descriptor index out of range" : "a loop", head, t.count);
            return -EIO;
        }
        if (read_desc(as, &t, i, &d, errp) < 0)
            return -EIO;
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (indirect_table(vq, &d, in_indirect, head, &t, errp) < 0)
                return -EIO;
            in_indirect = true;
            walked = 0;
            i = 0;
            continue;
        }
        if (add_seg(vq, &nr, &d, head, errp) < 0)
            return -EIO;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return (int)nr;
        i = d.next;
    }
}

/* Entries the driver has made available beyond ours: 0..num, or -EIO (errp). */
static int pending_entries(VirtQueue *vq, AddressSpace *as, Error **errp)
{
    uint16_t avail_idx;
    if (read_u16(as, vq->avail + 2, &avail_idx, errp) < 0)
        return -EIO;
    uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
    if (pending > vq->num) {
        error_setg(errp, "virtqueue: avail index %u is %u entries ahead (queue size %u)",
                   avail_idx, pending, vq->num);
        return -EIO;
    }
    return pending;
}

/* EVENT_IDX: ask to be notified when the driver adds entry last_avail, then look once
 * more, so an entry added before the driver could see our request is not missed. */
static int request_notification(VirtQueue *vq, AddressSpace *as, Error **errp)
{
    if (write_u16(as, vq->used + 4 + 8ull * vq->num, vq->last_avail, errp) < 0)
        return -EIO;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return pending_entries(vq, as, errp);
}

int virtq_pop(VirtQueue *vq, AddressSpace *as, VirtqElem **out, Error **errp)
{
    int pending = pending_entries(vq, as, errp);
    if (pending == 0 && vq->event_idx)
        pending = request_notification(vq, as, errp);
    if (pending <= 0)
        return pending;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);     /* the entries after the index */
    uint16_t head;
    uint64_t slot = vq->avail + 4 + 2 * (uint64_t)(vq->last_avail % vq->num);
    if (read_u16(as, slot, &head, errp) < 0)
        return -EIO;
    int nr = read_chain(vq, as, head, errp);
    if (nr < 0)
        return -EIO;
    VirtqElem *elem = malloc(sizeof(*elem) + (size_t)nr * sizeof(elem->seg[0]));
    if (!elem) {
        error_setg_errno(errp, ENOMEM, "virtqueue: cannot take a chain of %d buffers", nr);
        return -ENOMEM;
    }
    elem->head = head;
    elem->nr = (unsigned)nr;
    memcpy(elem->seg, vq->scratch, (size_t)nr * sizeof(elem->seg[0]));
    vq->last_avail++;
    *out = elem;
    return 1;
}

bool virtq_has_work(VirtQueue *vq, AddressSpace *as)
{
    return vq->ready && pending_entries(vq, as, NULL) > 0;
}

int virtq_push(VirtQueue *vq, AddressSpace *as, const VirtqElem *elem, uint32_t len,
               Error **errp)
{
    struct { uint32_t id, len; } used = { htole32(elem->head), htole32(len) };
    uint64_t slot = vq->used + 4 + 8 * (uint64_t)(vq->used_idx % vq->num);
    if (vq_access(as, slot, &used, sizeof(used), true, errp) < 0)
        return -EIO;
    __atomic_thread_fence(__ATOMIC_RELEASE);     /* the entry before the index */
    if (write_u16(as, vq->used + 2, (uint16_t)(vq->used_idx + 1), errp) < 0)
        return -EIO;
    vq->used_idx++;
    return 0;
}

bool virtq_should_interrupt(VirtQueue *vq, AddressSpace *as)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);     /* used index before the driver's flags */
    if (!vq->event_idx) {
        uint16_t flags;
        return read_u16(as, vq->avail, &flags, NULL) < 0 ||
               !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    uint16_t old = vq->signalled_used, now = vq->used_idx, event;
    bool valid = vq->signalled_used_valid;
    vq->signalled_used = now;
    vq->signalled_used_valid = true;
    if (read_u16(as, vq->avail + 4 + 2ull * vq->num, &event, NULL) < 0 || !valid)
        return true;
    /* Interrupt if used_event lies in (old, now]: the driver asked to hear of it. */
    return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}
