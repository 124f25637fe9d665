/*
 * block/submit.c — accepting requests and handing them to the kernel in batches.
 *
 * blk_submit() checks a request against the image (everything in it may come from a
 * guest), gives it a free slot and queues it; nothing reaches the kernel before
 * blk_kick(), which starts every queued request and then kicks each engine once.
 */
#include "block/block-internal.h"

#include <assert.h>
#include <errno.h>

static bool is_rw(BlockOp op)
{
    return op == BLOCK_OP_READ || op == BLOCK_OP_WRITE;
}

/* The iovecs add up to len; each is checked before the sum so that it cannot wrap. */
static int check_iov(const BlockRequest *req)
{
    if (req->len > BLOCK_MAX_RW_BYTES || req->iovcnt > BLOCK_MAX_IOV ||
        (req->iovcnt && !req->iov))
        return -EINVAL;
    uint64_t sum = 0;
    for (unsigned i = 0; i < req->iovcnt; i++) {
        if (req->iov[i].iov_len > BLOCK_MAX_RW_BYTES)
            return -EINVAL;
        sum += req->iov[i].iov_len;
    }
    return sum == req->len ? 0 : -EINVAL;
}

static int check_request(const BlockBackend *bb, const BlockRequest *req)
{
    if ((unsigned)req->op >= BLOCK_OP_COUNT)
        return -EINVAL;
    if (req->op == BLOCK_OP_FLUSH)
        return 0;
    if (req->op != BLOCK_OP_READ && bb->geo.readonly)
        return -EROFS;
    if (req->offset > bb->geo.size || req->len > bb->geo.size - req->offset)
        return -EINVAL;
    if (is_rw(req->op))
        return check_iov(req);
    /* The kernel deallocates and zeroes a block device in whole logical blocks. */
    if (bb->geo.block_device && (req->offset | req->len) % bb->geo.logical_block)
        return -EINVAL;
    return 0;
}

int blk_submit(BlockBackend *bb, BlockRequest *req)
{
    assert(req && req->done);
    int ret = check_request(bb, req);
    if (ret < 0)
        return ret;
    BlockSlot *s = slot_list_pop(&bb->free);
    if (!s)
        return -EAGAIN;
    ret = blk_slot_prepare(bb, s, req);
    if (ret < 0) {
        s->req = NULL;
        slot_list_push(&bb->free, s);
        return ret;
    }
    s->seq = bb->next_seq++;
    s->state = SLOT_QUEUED;
    slot_list_push(&bb->queued, s);
    bb->stats.in_flight++;
    return 0;
}

int blk_kick(BlockBackend *bb)
{
    BlockSlot *s;
    while ((s = slot_list_pop(&bb->queued)))
        blk_slot_start(bb, s);
    blk_overlap_release(bb);
    return blk_engines_kick(bb);
}
