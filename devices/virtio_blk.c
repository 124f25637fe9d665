/*
 * devices/virtio_blk.c — a virtio block device (virtio 1.x, section 5.2) over a raw
 * image file or block device, as "virtio-blk" (virtio-mmio) and "virtio-blk-pci".
 *
 * A request is a chain: a 16-byte header the device reads (type, sector), data, and a
 * status byte the device writes last. The chain is parsed as two byte streams — what
 * the device reads, then what it writes — so any framing works (the spec forbids
 * assuming one). Reads and writes go to the host without copies: each data buffer is
 * mapped for DMA (address_space_map: RAM only, held until the I/O completes) and
 * handed to the block layer (block/block.h) as an iovec; the requests of one notify
 * are submitted in one batch, and completions arrive on the block layer's fd, which
 * the event loop polls. A completion writes the status, releases the mappings (which
 * marks written pages dirty), returns the chain and, once per batch, interrupts.
 *
 * Requests the spec defines as bad get its status without touching the file: IOERR
 * for ranges outside the disk, data lengths that are not whole sectors, buffers that
 * are not guest RAM and writes to a read-only disk; UNSUPP for unknown types, unmap on
 * a discard and more segments than offered. Host errors become IOERR with a
 * rate-limited log line.
 *
 * Durability: FLUSH completes only once every write completed before it is on stable
 * storage (the block layer's flush); while the driver has the write cache off
 * (CONFIG_WCE, or cache=writethrough) each write completes only once durable.
 *
 * Bounded work: one notify takes at most BLK_BUDGET requests and never more than the
 * block layer's queue depth; the rest waits for a later loop turn or for completions
 * to free depth (then the queue is kicked again). A reset, a queue being disabled and
 * the device going away let requests in flight complete into the old rings first, so
 * nothing is written into guest memory on their behalf afterwards. On virtio-pci a
 * reset does not wait for them: it completes once they have (the driver waits for the
 * status to read 0); elsewhere the device waits for them.
 */
#include "devices/virtio.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "block/block.h"
#include "util/log.h"
#include "util/macros.h"

#define VIRTIO_ID_BLOCK         2
#define BLK_SECTOR              512u
#define BLK_DEFAULT_QUEUE_SIZE  256u
#define BLK_BUDGET              64u         /* requests taken per notify */
#define BLK_COMPLETION_BUDGET   256u        /* completions handled per wake-up */
#define BLK_MAX_QUEUES          16u
#define BLK_ID_BYTES            20u
#define BLK_MAX_DISCARD_SECTORS (UINT32_MAX / BLK_SECTOR)
#define BLK_MAX_IOV             1024u       /* IOV_MAX: pieces of one request's data */

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX       (1ull << 1)
#define VIRTIO_BLK_F_SEG_MAX        (1ull << 2)
#define VIRTIO_BLK_F_RO             (1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE       (1ull << 6)
#define VIRTIO_BLK_F_FLUSH          (1ull << 9)
#define VIRTIO_BLK_F_TOPOLOGY       (1ull << 10)
#define VIRTIO_BLK_F_CONFIG_WCE     (1ull << 11)
#define VIRTIO_BLK_F_MQ             (1ull << 12)
#define VIRTIO_BLK_F_DISCARD        (1ull << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES   (1ull << 14)

/* Request types and status values (5.2.6). */
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };
#define DWZ_FLAG_UNMAP 1u

/* Configuration layout (5.2.4), byte offsets. */
enum {
    CFG_CAPACITY = 0, CFG_SIZE_MAX = 8, CFG_SEG_MAX = 12, CFG_BLK_SIZE = 20,
    CFG_PHYS_BLOCK_EXP = 24, CFG_ALIGN_OFFSET = 25, CFG_MIN_IO = 26, CFG_OPT_IO = 28,
    CFG_WRITEBACK = 32, CFG_NUM_QUEUES = 34, CFG_MAX_DISCARD_SECTORS = 36,
    CFG_MAX_DISCARD_SEG = 40, CFG_DISCARD_ALIGN = 44, CFG_MAX_WZ_SECTORS = 48,
    CFG_MAX_WZ_SEG = 52, CFG_WZ_MAY_UNMAP = 56, CFG_LEN = 60,
};

typedef struct VirtioBlk VirtioBlk;

/* One request in flight. */
typedef struct BlkReq {
    BlockRequest io;                /* what the block layer runs */
    VirtioBlk *blk;
    unsigned q;
    VirtqElem *elem;
    uint64_t status_addr;           /* guest address of the status byte */
    uint8_t status;                 /* what to answer when not submitted */
    uint32_t written;               /* bytes the device writes (data + status) */
    unsigned nr_maps, cap_maps;
    DmaMap *maps;                   /* the data buffers, mapped */
    struct iovec *iov;              /* parallel to maps */
} BlkReq;

/* What to do with a parsed request. */
enum req_action {
    REQ_SUBMIT,                     /* r->io goes to the block layer */
    REQ_ANSWER,                     /* answer r->status now */
    REQ_UNANSWERABLE,               /* no status byte: return the chain, 0 bytes */
};

struct VirtioBlk {
    VirtioCore *vc;                 /* the transport's core: set by the reset at creation */
    BlockBackend *bb;
    char serial[BLK_ID_BYTES];
    bool readonly;
    uint64_t sectors;
    unsigned nr_queues;
    uint16_t queue_size;
    unsigned in_flight;
    unsigned queue_depth;           /* requests the block layer takes at once */
    uint64_t completed;             /* queues that got buffers back in this batch */
    uint64_t starved;               /* queues that stopped at full depth */
    bool reset_pending;             /* the driver reset us: done when nothing is in flight */
    bool writeback_default;         /* the write cache at reset (cache=writethrough: off) */
    DeviceWork completions;         /* more completions than one wake-up's budget */
    const DeviceLoop *loop;
    LogRateLimit rl;
};

/* ---- the chain as two byte streams --------------------------------------------- */

/* Bytes the device reads (readable buffers, which come first) and writes. */
typedef struct ChainLayout {
    unsigned nr_out;                /* the first nr_out buffers are device-readable */
    uint64_t out_bytes, in_bytes;
} ChainLayout;

static int chain_layout(const VirtqElem *elem, ChainLayout *l)
{
    *l = (ChainLayout){ 0 };
    unsigned i = 0;
    for (; i < elem->nr && !elem->seg[i].device_writes; i++)
        l->out_bytes += elem->seg[i].len;
    l->nr_out = i;
    for (; i < elem->nr; i++) {
        if (!elem->seg[i].device_writes)
            return -EINVAL;         /* a readable buffer after a writable one */
        l->in_bytes += elem->seg[i].len;
    }
    return 0;
}

/* Copy len bytes at stream offset `off` of segments [first, last) into buf (RAM only). */
static int stream_read(AddressSpace *as, const VirtqElem *elem, unsigned first,
                       unsigned last, uint64_t off, void *buf, uint64_t len)
{
    uint8_t *out = buf;
    for (unsigned i = first; i < last && len; i++) {
        const VirtqSeg *s = &elem->seg[i];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        uint64_t n = s->len - off < len ? s->len - off : len;
        if (address_space_rw_ram_only(as, s->addr + off, out, n, false) != MEMTX_OK)
            return -EFAULT;
        out += n;
        len -= n;
        off = 0;
    }
    return len ? -EINVAL : 0;
}

/* Guest address of stream byte `off` of segments [first, last), or UINT64_MAX. */
static uint64_t stream_addr(const VirtqElem *elem, unsigned first, unsigned last, uint64_t off)
{
    for (unsigned i = first; i < last; i++) {
        if (off < elem->seg[i].len)
            return elem->seg[i].addr + off;
        off -= elem->seg[i].len;
    }
    return UINT64_MAX;
}

/* ---- requests ------------------------------------------------------------------- */

static void req_free(BlkReq *r)
{
    for (unsigned i = 0; i < r->nr_maps; i++)
        address_space_unmap(&r->maps[i], 0);
    free(r->maps);
    free(r->iov);
    free(r->elem);
    free(r);
}

/* Write the status, return the chain with `written` bytes. */
static int finish(VirtioBlk *blk, unsigned q, VirtqElem *elem, uint64_t status_addr,
                  uint8_t status, uint32_t written, Error **errp)
{
    VirtioCore *vc = blk->vc;
    if (status_addr != UINT64_MAX &&
        address_space_rw_ram_only(vc->dma_as, status_addr, &status, 1, true) != MEMTX_OK) {
        error_setg(errp, "virtio-blk: status byte at 0x%" PRIx64 " is not guest RAM",
                   status_addr);
        return -EIO;
    }
    return virtq_push(&vc->vq[q], vc->dma_as, elem, written, errp);
}

/* Room for one more mapping (IOV_MAX in all, what preadv takes). */
static int reserve_map(BlkReq *r)
{
    if (r->nr_maps < r->cap_maps)
        return 0;
    unsigned cap = r->cap_maps ? 2 * r->cap_maps : 8;
    if (cap > BLK_MAX_IOV)
        return -E2BIG;
    DmaMap *maps = realloc(r->maps, cap * sizeof(*maps));
    if (maps)
        r->maps = maps;
    struct iovec *iov = realloc(r->iov, cap * sizeof(*iov));
    if (iov)
        r->iov = iov;
    if (!maps || !iov)
        return -ENOMEM;
    r->cap_maps = cap;
    return 0;
}

/* Map [off, off + len) of segments [first, last) into r->iov (one iovec per mapped
 * piece: a buffer may span several mapcache buckets). 0 or -errno (-EFAULT: not RAM). */
static int map_data(BlkReq *r, AddressSpace *as, unsigned first, unsigned last, uint64_t off,
                    uint64_t len, bool device_writes)
{
    const VirtqElem *elem = r->elem;
    for (unsigned i = first; i < last && len; i++) {
        const VirtqSeg *s = &elem->seg[i];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        uint64_t addr = s->addr + off, left = s->len - off < len ? s->len - off : len;
        while (left) {
            int ret = reserve_map(r);
            if (ret < 0)
                return ret;
            DmaMap *m = &r->maps[r->nr_maps];
            if (address_space_map(as, addr, left, device_writes, m) < 0)
                return -EFAULT;
            r->iov[r->nr_maps++] = (struct iovec){ .iov_base = m->host, .iov_len = m->len };
            addr += m->len;
            left -= m->len;
            len -= m->len;
        }
        off = 0;
    }
    return len ? -EFAULT : 0;
}

static void blk_io_done(BlockRequest *io, int ret);

static bool range_ok(const VirtioBlk *blk, uint64_t sector, uint64_t bytes)
{
    uint64_t n = bytes / BLK_SECTOR;
    return bytes % BLK_SECTOR == 0 && sector <= blk->sectors && n <= blk->sectors - sector;
}

/* Build the block-layer request for a read or write; S_OK, or the status to answer. */
static uint8_t prepare_rw(VirtioBlk *blk, BlkReq *r, const ChainLayout *l, uint32_t type,
                          uint64_t sector)
{
    bool is_read = type == T_IN;
    uint64_t bytes = is_read ? l->in_bytes - 1 : l->out_bytes - 16;
    if (!is_read && blk->readonly)
        return S_IOERR;
    if (!range_ok(blk, sector, bytes))
        return S_IOERR;
    int ret = is_read ? map_data(r, blk->vc->dma_as, l->nr_out, r->elem->nr, 0, bytes, true)
                      : map_data(r, blk->vc->dma_as, 0, l->nr_out, 16, bytes, false);
    if (ret < 0)
        return S_IOERR;
    r->io = (BlockRequest){ .op = is_read ? BLOCK_OP_READ : BLOCK_OP_WRITE,
                            .offset = sector * BLK_SECTOR, .len = bytes, .iov = r->iov,
                            .iovcnt = r->nr_maps, .done = blk_io_done,
                            .durable = !is_read && !blk->vc->config[CFG_WRITEBACK] };
    r->written = is_read ? (uint32_t)bytes + 1 : 1;
    return S_OK;
}

/* Discard or write zeroes: one segment (max_*_seg is 1). */
static uint8_t prepare_dwz(VirtioBlk *blk, BlkReq *r, const ChainLayout *l, uint32_t type)
{
    struct { uint64_t sector; uint32_t num, flags; } seg;
    if (l->out_bytes - 16 != sizeof(seg))
        return l->out_bytes - 16 > sizeof(seg) && (l->out_bytes - 16) % sizeof(seg) == 0
               ? S_UNSUPP : S_IOERR;
    if (stream_read(blk->vc->dma_as, r->elem, 0, l->nr_out, 16, &seg, sizeof(seg)) < 0)
        return S_IOERR;
    uint64_t sector = le64toh(seg.sector);
    uint32_t num = le32toh(seg.num), flags = le32toh(seg.flags);
    if (flags & ~DWZ_FLAG_UNMAP || (type == T_DISCARD && (flags & DWZ_FLAG_UNMAP)))
        return S_UNSUPP;
    if (blk->readonly || !range_ok(blk, sector, (uint64_t)num * BLK_SECTOR))
        return S_IOERR;
    r->io = (BlockRequest){ .op = type == T_DISCARD ? BLOCK_OP_DISCARD : BLOCK_OP_WRITE_ZEROES,
                            .offset = sector * BLK_SECTOR, .len = (uint64_t)num * BLK_SECTOR,
                            .unmap = flags & DWZ_FLAG_UNMAP, .done = blk_io_done };
    r->written = 1;
    return S_OK;
}

/* GET_ID: the serial, as much as fits before the status byte. */
static uint8_t answer_get_id(VirtioBlk *blk, BlkReq *r, const ChainLayout *l)
{
    uint64_t room = l->in_bytes - 1;
    uint64_t want = room < BLK_ID_BYTES ? room : BLK_ID_BYTES, done = 0;
    for (unsigned i = l->nr_out; i < r->elem->nr && done < want; i++) {
        const VirtqSeg *s = &r->elem->seg[i];
        uint64_t k = s->len < want - done ? s->len : want - done;
        if (address_space_rw_ram_only(blk->vc->dma_as, s->addr, blk->serial + done, k,
                                      true) != MEMTX_OK)
            return S_IOERR;
        done += k;
    }
    r->written = (uint32_t)done + 1;
    return S_OK;
}

/* Parse a chain into r: its status address, and either r->io to submit or r->status
 * to answer. */
static enum req_action parse_request(VirtioBlk *blk, BlkReq *r)
{
    ChainLayout l;
    struct { uint32_t type, reserved; uint64_t sector; } hdr;
    /* No status byte, or a readable buffer after the writable ones: there is no byte
     * the device may write the status to (it must not write readable buffers). */
    if (chain_layout(r->elem, &l) < 0 || l.in_bytes == 0)
        return REQ_UNANSWERABLE;
    r->status_addr = stream_addr(r->elem, l.nr_out, r->elem->nr, l.in_bytes - 1);
    r->written = 1;
    r->status = S_IOERR;
    if (l.out_bytes < sizeof(hdr) ||
        stream_read(blk->vc->dma_as, r->elem, 0, l.nr_out, 0, &hdr, sizeof(hdr)) < 0)
        return REQ_ANSWER;
    uint32_t type = le32toh(hdr.type);
    switch (type) {
    case T_IN:
    case T_OUT:
        r->status = prepare_rw(blk, r, &l, type, le64toh(hdr.sector));
        break;
    case T_FLUSH:
        r->io = (BlockRequest){ .op = BLOCK_OP_FLUSH, .done = blk_io_done };
        r->status = S_OK;
        break;
    case T_GET_ID:
        r->status = answer_get_id(blk, r, &l);
        return REQ_ANSWER;
    case T_DISCARD:
    case T_WRITE_ZEROES:
        r->status = virtio_core_has_feature(blk->vc, type == T_DISCARD
                                                     ? VIRTIO_BLK_F_DISCARD
                                                     : VIRTIO_BLK_F_WRITE_ZEROES)
                    ? prepare_dwz(blk, r, &l, type) : S_UNSUPP;
        break;
    default:
        r->status = S_UNSUPP;
        break;
    }
    if (r->status != S_OK)
        r->written = 1;
    return r->status == S_OK ? REQ_SUBMIT : REQ_ANSWER;
}

/* ---- submission and completion ---------------------------------------------------- */

/* Return a request that is not (or no longer) in flight: status, used ring, free. */
static int answer(VirtioBlk *blk, BlkReq *r, Error **errp)
{
    int ret = finish(blk, r->q, r->elem, r->status_addr, r->status, r->written, errp);
    req_free(r);
    return ret;
}

/* Take the next chain of queue q into a new request: 1, 0 (none), or -errno. */
static int take_request(VirtioBlk *blk, unsigned q, BlkReq **out, Error **errp)
{
    VirtioCore *vc = blk->vc;
    BlkReq *r = calloc(1, sizeof(*r));
    if (!r) {
        error_setg_errno(errp, ENOMEM, "virtio-blk: cannot allocate a request");
        return -ENOMEM;
    }
    int ret = virtq_pop(&vc->vq[q], vc->dma_as, &r->elem, errp);
    if (ret <= 0) {
        free(r);
        return ret;
    }
    r->blk = blk;
    r->q = q;
    *out = r;
    return 1;
}

/* Parse r and either hand it to the block layer or answer it. 0 or -EIO (errp). */
static int start_request(VirtioBlk *blk, BlkReq *r, bool *answered, Error **errp)
{
    switch (parse_request(blk, r)) {
    case REQ_SUBMIT:
        if (blk_submit(blk->bb, &r->io) == 0) {
            blk->in_flight++;
            return 0;
        }
        r->status = S_IOERR;
        r->written = 1;
        log_ratelimited(&blk->rl, LOG_WARN, "virtio-blk: the block layer refused a request");
        break;
    case REQ_ANSWER:
        break;
    case REQ_UNANSWERABLE:
        log_ratelimited(&blk->rl, LOG_WARN, "virtio-blk: request without a status byte");
        r->status_addr = UINT64_MAX;
        r->written = 0;
        break;
    }
    *answered = true;
    return answer(blk, r, errp);
}

static int blk_notify(VirtioCore *vc, unsigned q, void *opaque, Error **errp)
{
    VirtioBlk *blk = opaque;
    unsigned taken = 0;
    bool answered = false;
    int ret = 0;
    while (taken < BLK_BUDGET) {
        if (blk->in_flight >= blk->queue_depth) {
            blk->starved |= 1ull << q;      /* completions kick the queue again */
            break;
        }
        BlkReq *r;
        ret = take_request(blk, q, &r, errp);
        if (ret <= 0)
            break;
        taken++;
        ret = start_request(blk, r, &answered, errp);
        if (ret < 0)
            break;
    }
    blk_kick(blk->bb);              /* one submission for everything taken */
    if (answered)
        virtio_core_used_buffers(vc, q);
    if (ret < 0)
        return ret;
    return taken == BLK_BUDGET ? 1 : 0;
}

static const char *op_name(BlockOp op)
{
    static const char *const names[BLOCK_OP_COUNT] = { "read", "write", "flush", "discard",
                                                       "write-zeroes" };
    return op < BLOCK_OP_COUNT ? names[op] : "?";
}

static void blk_io_done(BlockRequest *io, int ret)
{
    BlkReq *r = container_of(io, BlkReq, io);
    VirtioBlk *blk = r->blk;
    bool is_read = io->op == BLOCK_OP_READ;
    if (ret < 0) {
        log_ratelimited(&blk->rl, LOG_WARN, "virtio-blk: %s of %" PRIu64 " bytes at %" PRIu64
                        " failed: %s", op_name(io->op), io->len, io->offset, strerror(-ret));
        r->status = S_IOERR;
        r->written = 1;
    } else {
        r->status = S_OK;
    }
    /* A failed read may still have written part of the buffers: mark them all. */
    for (unsigned i = 0; i < r->nr_maps; i++)
        address_space_unmap(&r->maps[i], is_read ? r->maps[i].len : 0);
    r->nr_maps = 0;
    blk->in_flight--;
    blk->completed |= 1ull << r->q;
    Error *err = NULL;
    if (answer(blk, r, &err) < 0)
        virtio_core_needs_reset(blk->vc, err);
}

/* After completions: one interrupt per queue that got buffers back, and queues that
 * waited for depth run again. */
static void after_completions(VirtioBlk *blk)
{
    uint64_t completed = blk->completed, starved = blk->starved;
    blk->completed = blk->starved = 0;
    for (unsigned q = 0; completed; q++, completed >>= 1) {
        if (completed & 1)
            virtio_core_used_buffers(blk->vc, q);
    }
    for (unsigned q = 0; starved; q++, starved >>= 1) {
        if (starved & 1)
            virtio_core_kick_later(blk->vc, q);
    }
    if (blk->reset_pending && blk->in_flight == 0) {
        blk->reset_pending = false;
        virtio_core_reset_done(blk->vc);
    }
}

static void run_completions(VirtioBlk *blk)
{
    bool more = blk_process_completions(blk->bb, BLK_COMPLETION_BUDGET);
    after_completions(blk);
    if (more)
        device_loop_schedule(blk->loop, &blk->completions);
}

static void completions_work(DeviceWork *work)
{
    run_completions(container_of(work, VirtioBlk, completions));
}

static int blk_poll_fd(void *opaque)
{
    VirtioBlk *blk = opaque;
    return blk_completion_fd(blk->bb);
}

static int blk_handle_readable(void *opaque, Error **errp)
{
    run_completions(opaque);
    return 0;
}

/* ---- configuration, reset, creation ----------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, unsigned len)
{
    for (unsigned i = 0; i < len; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static unsigned log2_ratio(uint32_t big, uint32_t small)
{
    unsigned e = 0;
    while (small && (small << (e + 1)) <= big && e < 15)
        e++;
    return e;
}

/* The configuration space (5.2.4) from the disk's geometry. */
static void fill_config(const VirtioBlk *blk, VirtioCore *vc)
{
    const BlockGeometry *g = blk_geometry(blk->bb);
    uint8_t *c = vc->config;
    memset(c, 0, CFG_LEN);
    memset(vc->config_writable, 0, CFG_LEN);
    put_le(c + CFG_CAPACITY, blk->sectors, 8);
    put_le(c + CFG_SIZE_MAX, 1u << 20, 4);
    put_le(c + CFG_SEG_MAX, blk->queue_size - 2u, 4);
    put_le(c + CFG_BLK_SIZE, g->logical_block, 4);
    c[CFG_PHYS_BLOCK_EXP] = (uint8_t)log2_ratio(g->physical_block, g->logical_block);
    put_le(c + CFG_MIN_IO, g->min_io / g->logical_block, 2);
    put_le(c + CFG_OPT_IO, g->opt_io / g->logical_block, 4);
    c[CFG_WRITEBACK] = blk->writeback_default;
    vc->config_writable[CFG_WRITEBACK] = 1;
    put_le(c + CFG_NUM_QUEUES, blk->nr_queues, 2);
    put_le(c + CFG_MAX_DISCARD_SECTORS, BLK_MAX_DISCARD_SECTORS, 4);
    put_le(c + CFG_MAX_DISCARD_SEG, 1, 4);
    put_le(c + CFG_DISCARD_ALIGN, g->logical_block / BLK_SECTOR, 4);
    put_le(c + CFG_MAX_WZ_SECTORS, BLK_MAX_DISCARD_SECTORS, 4);
    put_le(c + CFG_MAX_WZ_SEG, 1, 4);
    c[CFG_WZ_MAY_UNMAP] = 1;
}

/* The driver turned the write cache on or off (CONFIG_WCE); anything else is refused. */
static void blk_config_write(VirtioCore *vc, void *opaque, uint32_t off, unsigned len,
                             uint32_t val)
{
    VirtioBlk *blk = opaque;
    if (!virtio_core_has_feature(vc, VIRTIO_BLK_F_CONFIG_WCE) || val > 1)
        vc->config[CFG_WRITEBACK] = blk->writeback_default;
}

/* Every request in flight completes into its queue now (waiting for the block layer:
 * a queue is being disabled, the device goes away, or a reset on a transport whose
 * driver does not wait). Their interrupts wait for the next batch of completions. */
static void blk_quiesce(VirtioCore *vc, void *opaque)
{
    VirtioBlk *blk = opaque;
    blk->vc = vc;
    if (blk->in_flight)
        blk_drain(blk->bb);                 /* runs their callbacks */
}

/* The transport waits for the reset to complete (virtio-pci: the driver waits for
 * status 0; virtio-mmio: the driver's write is held): with requests in flight, let them
 * finish (into the old rings) on later loop turns and complete the reset then
 * (after_completions), instead of waiting for the disk here. */
static bool blk_reset_begin(VirtioCore *vc, void *opaque)
{
    VirtioBlk *blk = opaque;
    blk->reset_pending = blk->in_flight > 0;
    return !blk->reset_pending;
}

static bool blk_busy(VirtioCore *vc, void *opaque)
{
    (void)vc;
    return ((VirtioBlk *)opaque)->in_flight > 0;
}

/* Requests in flight complete (into the old rings) before the queues are cleared, so
 * nothing is written to guest memory on their behalf after the reset. */
static void blk_reset(VirtioCore *vc, void *opaque)
{
    VirtioBlk *blk = opaque;
    blk_quiesce(vc, blk);
    device_loop_cancel(blk->loop, &blk->completions);
    blk->completed = blk->starved = 0;
    fill_config(blk, vc);
}

static uint64_t blk_features(const VirtioBlk *blk)
{
    uint64_t f = VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
                 VIRTIO_BLK_F_TOPOLOGY | VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_CONFIG_WCE |
                 VIRTIO_BLK_F_MQ | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;
    /* Discard and write-zeroes work on any writable image (block/ falls back to
     * writing zeroes where the filesystem cannot zero a range). */
    return blk->readonly ? f | VIRTIO_BLK_F_RO
                         : f | VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
}

/* A choice among named values: `names` is NULL-terminated; the index goes to *out. */
static int opt_choice(const DeviceOpts *opts, const char *key, const char *const *names,
                      unsigned def, unsigned *out, Error **errp)
{
    const char *v = device_opts_get(opts, key);
    *out = def;
    if (!v)
        return 0;
    for (unsigned i = 0; names[i]; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    error_setg(errp, "virtio-blk: %s=%s is not one of the accepted values", key, v);
    return -EINVAL;
}

static const char *const on_off[] = { "off", "on", NULL };
static const char *const cache_modes[] = { "writeback", "writethrough", "none", NULL };
static const char *const discard_modes[] = { "unmap", "ignore", NULL };
static const char *const aio_modes[] = { "io_uring", "threads", NULL };

/* file=, readonly=, cache=, discard=, aio= as a block-layer configuration. */
static int parse_block_config(const DeviceOpts *opts, unsigned depth, BlockConfig *cfg,
                              Error **errp)
{
    unsigned ro, cache, discard, aio;
    *cfg = (BlockConfig){ .path = device_opts_get(opts, "file"), .queue_depth = depth };
    if (!cfg->path || !*cfg->path) {
        error_setg(errp, "virtio-blk: file=PATH is required");
        return -EINVAL;
    }
    if (opt_choice(opts, "readonly", on_off, 0, &ro, errp) < 0 ||
        opt_choice(opts, "cache", cache_modes, 0, &cache, errp) < 0 ||
        opt_choice(opts, "discard", discard_modes, 0, &discard, errp) < 0 ||
        opt_choice(opts, "aio", aio_modes, 0, &aio, errp) < 0)
        return -EINVAL;
    cfg->readonly = ro;
    cfg->cache = cache == 0 ? BLOCK_CACHE_WRITEBACK : cache == 1 ? BLOCK_CACHE_WRITETHROUGH
                                                               : BLOCK_CACHE_NONE;
    cfg->discard = discard == 0 ? BLOCK_DISCARD_UNMAP : BLOCK_DISCARD_IGNORE;
    cfg->aio = aio == 0 ? BLOCK_AIO_IO_URING : BLOCK_AIO_THREADS;
    return 0;
}

/* num-queues= and queue-size=; the block layer's depth follows from them. */
static int parse_queues(const DeviceOpts *opts, VirtioBlk *blk, Error **errp)
{
    uint64_t nq, qs;
    if (device_opts_get_u64(opts, "num-queues", 1, BLK_MAX_QUEUES, &nq, errp) < 0 ||
        device_opts_get_u64(opts, "queue-size", BLK_DEFAULT_QUEUE_SIZE, VIRTQ_MAX_SIZE, &qs,
                            errp) < 0)
        return -EINVAL;
    if (nq == 0 || qs < 4 || (qs & (qs - 1))) {
        error_setg(errp, "virtio-blk: num-queues=%" PRIu64 " (1 to %u), queue-size=%" PRIu64
                   " (a power of two from 4 to %u)", nq, BLK_MAX_QUEUES, qs, VIRTQ_MAX_SIZE);
        return -EINVAL;
    }
    blk->nr_queues = (unsigned)nq;
    blk->queue_size = (uint16_t)qs;
    /* Requests in flight at once: every queue full, as far as the block layer goes. */
    blk->queue_depth = nq * qs < BLOCK_MAX_QUEUE_DEPTH ? (unsigned)(nq * qs)
                                                        : BLOCK_MAX_QUEUE_DEPTH;
    return 0;
}

static void blk_destroy(void *opaque)
{
    VirtioBlk *blk = opaque;
    device_loop_cancel(blk->loop, &blk->completions);
    blk_close(blk->bb);                 /* in-flight requests finish first */
    free(blk);
}

static int blk_create(const DeviceBoard *board, const DeviceOpts *opts, VirtioBackend *be,
                      Error **errp)
{
    VirtioBlk *blk = calloc(1, sizeof(*blk));
    if (!blk) {
        error_setg_errno(errp, ENOMEM, "virtio-blk: cannot allocate device state");
        return -ENOMEM;
    }
    BlockConfig cfg;
    const char *serial = device_opts_get(opts, "serial");
    if (parse_queues(opts, blk, errp) < 0 ||
        parse_block_config(opts, blk->queue_depth, &cfg, errp) < 0 ||
        !(blk->bb = blk_open(&cfg, errp))) {
        free(blk);
        return -EINVAL;
    }
    /* The ID is 20 bytes, NUL-padded, not necessarily terminated (5.2.6). */
    if (serial)
        memcpy(blk->serial, serial, strnlen(serial, sizeof(blk->serial)));
    blk->readonly = cfg.readonly;
    blk->writeback_default = cfg.cache != BLOCK_CACHE_WRITETHROUGH;
    blk->sectors = blk_geometry(blk->bb)->size / BLK_SECTOR;
    blk->loop = board->loop;
    blk->completions.run = completions_work;
    *be = (VirtioBackend){ .device_id = VIRTIO_ID_BLOCK, .features = blk_features(blk),
                           .nr_queues = blk->nr_queues, .queue_max = blk->queue_size,
                           .config_len = CFG_LEN, .notify = blk_notify,
                           .quiesce = blk_quiesce, .reset = blk_reset,
                           .reset_begin = blk_reset_begin, .busy = blk_busy,
                           .config_write = blk_config_write, .notify_after_answer = true,
                           .opaque = blk };
    return 0;
}

static const char *const blk_keys[] = { "file", "readonly", "serial", "num-queues",
                                        "queue-size", "cache", "discard", "aio", NULL };

static VirtioDeviceType blk_type = {
    .name = "blk",
    .help = "virtio disk over a raw image or block device: file=PATH (required) readonly=off "
            "serial= num-queues=1 queue-size=256 cache=writeback|writethrough|none "
            "discard=unmap|ignore aio=io_uring|threads",
    .keys = blk_keys,
    .mmio_default_addr = 0xfeb01000ull,
    .mmio_default_irq = 6,
    .create = blk_create,
    .destroy = blk_destroy,
    .poll_fd = blk_poll_fd,
    .handle_readable = blk_handle_readable,
};
VIRTIO_DEVICE_REGISTER(blk_type)
