/*
 * block/transfer.c — one request's way from acceptance to its result.
 *
 * blk_slot_prepare() decides how the request is carried out (its method) and what it
 * needs (an aligned bounce buffer under O_DIRECT, read-modify-write for a write that
 * covers only part of its first or last block). blk_slot_begin() starts its first
 * phase; each host operation's raw result comes back to blk_slot_host_done(), which
 * is the same for every engine:
 *   - EINTR and EAGAIN reissue the operation (BLOCK_MAX_RETRIES times in a row);
 *   - a short transfer continues with the rest; a transfer of 0 bytes means the image
 *     ended early (it shrank under us) and fails with -EIO;
 *   - EOPNOTSUPP from a deallocation falls back (a DISCARD is then done: it is a
 *     hint; WRITE_ZEROES tries the next method) and the backend remembers it;
 *   - any other error is the request's result.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdlib.h>

#include "util/log.h"

static BlockMethod zeroes_method(const BlockBackend *bb, bool unmap)
{
    /* discard=ignore means never deallocate, whatever the request allows. */
    bool may_unmap = unmap && bb->discard_mode == BLOCK_DISCARD_UNMAP;
    if (bb->geo.block_device)
        return may_unmap && !bb->no_punch_hole ? METHOD_PUNCH_HOLE : METHOD_BLKZEROOUT;
    if (may_unmap && !bb->no_punch_hole)
        return METHOD_PUNCH_HOLE;
    if (!bb->no_zero_range)
        return METHOD_ZERO_RANGE;
    return bb->no_punch_hole ? METHOD_WRITE_ZEROS : METHOD_PUNCH_HOLE;
}

static BlockMethod choose_method(const BlockBackend *bb, const BlockRequest *req)
{
    switch (req->op) {
    case BLOCK_OP_READ:
    case BLOCK_OP_WRITE:
        return req->len ? METHOD_RW : METHOD_NOTHING;
    case BLOCK_OP_FLUSH:
        return bb->geo.readonly ? METHOD_NOTHING : METHOD_FDATASYNC;
    case BLOCK_OP_DISCARD:
        if (!req->len || !bb->geo.discard)
            return METHOD_NOTHING;
        if (bb->geo.block_device)
            return METHOD_BLKDISCARD;
        return bb->no_punch_hole ? METHOD_NOTHING : METHOD_PUNCH_HOLE;
    case BLOCK_OP_WRITE_ZEROES:
        return req->len ? zeroes_method(bb, req->unmap) : METHOD_NOTHING;
    case BLOCK_OP_COUNT:
        break;
    }
    abort();                    /* blk_submit() refused it */
}

static uint64_t align_down(uint64_t x, uint32_t a)
{
    return x / a * a;
}

/* Under O_DIRECT, a transfer the kernel would refuse goes through an aligned copy of
 * the blocks it touches; a write that covers those blocks only partly reads them
 * first (PHASE_READ_HEAD/TAIL) so that the rest of them is written back unchanged. */
static int prepare_bounce(BlockBackend *bb, BlockSlot *s)
{
    const BlockRequest *req = s->req;
    uint32_t a = bb->dio_offset_align;
    bool range_aligned = req->offset % a == 0 && req->len % a == 0;
    if (range_aligned && blk_iov_aligned(req->iov, req->iovcnt, bb->dio_mem_align, a))
        return 0;
    s->foot_start = align_down(req->offset, a);
    s->foot_end = align_down(req->offset + req->len + a - 1, a);
    s->bounce = blk_aligned_alloc(bb->dio_mem_align, s->foot_end - s->foot_start);
    if (!s->bounce)
        return -ENOMEM;
    bb->stats.bounced++;
    if (req->op == BLOCK_OP_WRITE && !range_aligned) {
        s->rmw = true;
        s->phase = req->offset % a ? PHASE_READ_HEAD : PHASE_READ_TAIL;
        bb->stats.read_modify_write++;
    }
    return 0;
}

int blk_slot_prepare(BlockBackend *bb, BlockSlot *s, BlockRequest *req)
{
    BlockOp op = req->op;
    bool durable = req->durable || bb->writethrough;
    s->req = req;
    s->method = choose_method(bb, req);
    s->phase = PHASE_MAIN;
    s->writes = op == BLOCK_OP_WRITE || op == BLOCK_OP_DISCARD ||
                op == BLOCK_OP_WRITE_ZEROES;
    /* O_DSYNC already makes every write durable under writethrough. */
    s->rw_flags = op == BLOCK_OP_WRITE && req->durable && !bb->writethrough ? RWF_DSYNC : 0;
    /* fallocate and ioctls know no O_DSYNC: a durable deallocation syncs afterwards. */
    s->sync_after = (op == BLOCK_OP_DISCARD || op == BLOCK_OP_WRITE_ZEROES) && durable &&
                    s->method != METHOD_NOTHING;
    s->rmw = false;
    s->bounce = NULL;
    s->foot_start = req->offset;
    s->foot_end = op == BLOCK_OP_FLUSH ? req->offset : req->offset + req->len;
    s->result = 0;
    if (s->method == METHOD_RW && bb->direct)
        return prepare_bounce(bb, s);
    return 0;
}

static void set_xfer(BlockSlot *s, uint64_t off, uint64_t len, const struct iovec *iov,
                     unsigned iovcnt)
{
    s->xfer_off = off;
    s->xfer_len = len;
    s->xfer_iov = iov;
    s->xfer_iovcnt = iovcnt;
}

static void set_bounce_xfer(BlockSlot *s, uint64_t off, uint64_t len)
{
    s->bounce_iov = (struct iovec){ s->bounce + (off - s->foot_start), len };
    set_xfer(s, off, len, &s->bounce_iov, 1);
}

static void begin_phase(BlockBackend *bb, BlockSlot *s, BlockPhase phase)
{
    const BlockRequest *req = s->req;
    uint32_t a = bb->dio_offset_align;
    s->phase = phase;
    s->done = 0;
    s->tries = 0;
    switch (phase) {
    case PHASE_READ_HEAD:
        set_bounce_xfer(s, s->foot_start, a);
        break;
    case PHASE_READ_TAIL:
        set_bounce_xfer(s, s->foot_end - a, a);
        break;
    case PHASE_MAIN:
        if (s->bounce && req->op == BLOCK_OP_WRITE)
            blk_iov_to_buf(req->iov, req->iovcnt, s->bounce + (req->offset - s->foot_start),
                           req->len);
        if (s->bounce)
            set_bounce_xfer(s, s->foot_start, s->foot_end - s->foot_start);
        else
            set_xfer(s, req->offset, req->op == BLOCK_OP_FLUSH ? 0 : req->len, req->iov,
                     req->iovcnt);
        break;
    case PHASE_SYNC:
        set_xfer(s, 0, 0, NULL, 0);
        break;
    }
}

/* The iovecs of the current phase still to transfer. */
static int remaining_iov(BlockSlot *s, BlockHostOp *op)
{
    if (!s->done) {
        op->iov = s->xfer_iov;
        op->iovcnt = s->xfer_iovcnt;
        return 0;
    }
    int ret = blk_iov_after(s->xfer_iov, s->xfer_iovcnt, s->done, &s->rest, &s->rest_cap,
                            &op->iovcnt);
    op->iov = s->rest;          /* after: blk_iov_after() may have moved it */
    return ret;
}

/* Up to BLOCK_ZERO_IOV repetitions of the zero buffer. O_DIRECT cannot write part of a
 * block: without host zeroing, a range that is not aligned cannot be zeroed there. */
static int zero_iov(BlockBackend *bb, BlockSlot *s, BlockHostOp *op)
{
    if (bb->direct && (op->offset % bb->dio_offset_align || op->len % bb->dio_offset_align))
        return -EINVAL;
    unsigned n = 0;
    uint64_t left = op->len;
    while (left && n < BLOCK_ZERO_IOV) {
        size_t len = left < BLOCK_ZERO_CHUNK ? left : BLOCK_ZERO_CHUNK;
        s->zero_iov[n++] = (struct iovec){ bb->zero_buf, len };
        left -= len;
    }
    op->len -= left;
    op->iov = s->zero_iov;
    op->iovcnt = n;
    return 0;
}

static int build_main_op(BlockBackend *bb, BlockSlot *s, BlockHostOp *op)
{
    switch (s->method) {
    case METHOD_RW:
        op->kind = s->req->op == BLOCK_OP_READ ? BLOCK_HOST_READV : BLOCK_HOST_WRITEV;
        op->rw_flags = s->rw_flags;
        return remaining_iov(s, op);
    case METHOD_FDATASYNC:
        op->kind = BLOCK_HOST_FDATASYNC;
        return 0;
    case METHOD_PUNCH_HOLE:
        op->kind = BLOCK_HOST_FALLOCATE;
        op->falloc_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
        return 0;
    case METHOD_ZERO_RANGE:
        op->kind = BLOCK_HOST_FALLOCATE;
        op->falloc_mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
        return 0;
    case METHOD_WRITE_ZEROS:
        op->kind = BLOCK_HOST_WRITEV;
        return zero_iov(bb, s, op);
    case METHOD_BLKDISCARD:
        op->kind = BLOCK_HOST_BLKDISCARD;
        return 0;
    case METHOD_BLKZEROOUT:
        op->kind = BLOCK_HOST_BLKZEROOUT;
        return 0;
    case METHOD_NOTHING:
        break;
    }
    abort();                    /* finished without an operation: blk_slot_start() */
}

static int build_host_op(BlockBackend *bb, BlockSlot *s, BlockHostOp *op)
{
    *op = (BlockHostOp){ .offset = s->xfer_off + s->done, .len = s->xfer_len - s->done };
    switch (s->phase) {
    case PHASE_READ_HEAD:
    case PHASE_READ_TAIL:
        op->kind = BLOCK_HOST_READV;
        return remaining_iov(s, op);
    case PHASE_MAIN:
        return build_main_op(bb, s, op);
    case PHASE_SYNC:
        op->kind = BLOCK_HOST_FDATASYNC;
        return 0;
    }
    abort();
}

static void issue(BlockBackend *bb, BlockSlot *s)
{
    int ret = build_host_op(bb, s, &s->host);
    if (!ret) {
        BlockEngine *e = bb->engine->ops->can(s->host.kind) ? bb->engine : bb->helper;
        s->state = SLOT_ISSUED;
        ret = e->ops->stage(e, s);
    }
    if (ret < 0)
        blk_slot_finish(bb, s, ret);
}

void blk_slot_begin(BlockBackend *bb, BlockSlot *s)
{
    begin_phase(bb, s, s->phase);
    issue(bb, s);
}

void blk_slot_start(BlockBackend *bb, BlockSlot *s)
{
    if (s->method == METHOD_NOTHING) {
        blk_slot_finish(bb, s, 0);
        return;
    }
    if (s->rmw)
        bb->rmw_active++;
    if (blk_overlap_blocked(bb, s)) {
        s->state = SLOT_WAITING;
        slot_list_push(&bb->waiting, s);
        return;
    }
    blk_slot_begin(bb, s);
}

/* The edge blocks of a read-modify-write: the tail is read unless it is the head. */
static bool needs_tail(const BlockBackend *bb, const BlockSlot *s)
{
    uint32_t a = bb->dio_offset_align;
    if ((s->req->offset + s->req->len) % a == 0)
        return false;
    return s->req->offset % a == 0 || s->foot_end - s->foot_start > a;
}

static void next_phase(BlockBackend *bb, BlockSlot *s, BlockPhase phase)
{
    begin_phase(bb, s, phase);
    issue(bb, s);
}

static void phase_done(BlockBackend *bb, BlockSlot *s)
{
    const BlockRequest *req = s->req;
    switch (s->phase) {
    case PHASE_READ_HEAD:
        next_phase(bb, s, needs_tail(bb, s) ? PHASE_READ_TAIL : PHASE_MAIN);
        return;
    case PHASE_READ_TAIL:
        next_phase(bb, s, PHASE_MAIN);
        return;
    case PHASE_MAIN:
        if (s->bounce && req->op == BLOCK_OP_READ)
            blk_buf_to_iov(s->bounce + (req->offset - s->foot_start), req->len, req->iov,
                           req->iovcnt);
        if (s->sync_after) {
            next_phase(bb, s, PHASE_SYNC);
            return;
        }
        break;
    case PHASE_SYNC:
        break;
    }
    bool rw = req->op == BLOCK_OP_READ || req->op == BLOCK_OP_WRITE;
    blk_slot_finish(bb, s, rw ? (int)req->len : 0);
}

static void remember_unsupported(BlockBackend *bb, bool *flag, const char *what)
{
    if (!*flag)
        log_info("block: %s: the host cannot %s here; falling back", bb->path, what);
    *flag = true;
}

/* EOPNOTSUPP from PHASE_MAIN: true if the request went on another way. */
static bool fall_back(BlockBackend *bb, BlockSlot *s)
{
    switch (s->method) {
    case METHOD_PUNCH_HOLE:
        remember_unsupported(bb, &bb->no_punch_hole, "punch holes");
        break;
    case METHOD_ZERO_RANGE:
        remember_unsupported(bb, &bb->no_zero_range, "zero ranges (ZERO_RANGE)");
        break;
    case METHOD_BLKDISCARD:
        break;
    default:
        return false;
    }
    if (s->req->op == BLOCK_OP_DISCARD) {
        blk_slot_finish(bb, s, 0);
        return true;
    }
    s->method = zeroes_method(bb, s->req->unmap);
    next_phase(bb, s, PHASE_MAIN);
    return true;
}

static int64_t apply_fault(BlockBackend *bb, const BlockSlot *s, int64_t ret)
{
    BlockFault *f = &bb->fault;
    if (!f->count || !(f->ops & (1u << s->req->op)))
        return ret;
    f->count--;
    if (f->error)
        return -f->error;
    bool cut = f->short_len && ret > 0 && (uint64_t)ret > f->short_len;
    return cut ? (int64_t)f->short_len : ret;
}

void blk_slot_host_done(BlockBackend *bb, BlockSlot *s)
{
    int64_t ret = apply_fault(bb, s, s->host_ret);
    if ((ret == -EINTR || ret == -EAGAIN) && ++s->tries <= BLOCK_MAX_RETRIES) {
        bb->stats.retries++;
        issue(bb, s);
        return;
    }
    if (ret == -EOPNOTSUPP && s->phase == PHASE_MAIN && fall_back(bb, s))
        return;
    if (ret < 0) {
        blk_slot_finish(bb, s, (int)ret);
        return;
    }
    bool data = s->host.kind == BLOCK_HOST_READV || s->host.kind == BLOCK_HOST_WRITEV;
    if (data) {
        if (ret == 0) {
            blk_slot_finish(bb, s, -EIO);
            return;
        }
        uint64_t n = (uint64_t)ret < s->host.len ? (uint64_t)ret : s->host.len;
        s->done += n;
        if (n < s->host.len) {
            bb->stats.retries++;
            s->tries = 0;
        }
        if (s->done < s->xfer_len) {
            issue(bb, s);
            return;
        }
    }
    phase_done(bb, s);
}
