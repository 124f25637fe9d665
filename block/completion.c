/*
 * block/completion.c — results back to the caller.
 *
 * A request whose host work is over is SLOT_FINISHED and waits on the finished list
 * for its callback. blk_process_completions() runs those callbacks (at most its budget)
 * and, when the list is empty, reaps the engines' raw results into transfer.c, which
 * finishes requests or issues their next operations; those are handed to the kernel
 * once, at the end. The eventfd is cleared before anything is looked at, so a result
 * that arrives meanwhile makes it readable again: no wake-up is lost.
 *
 * The slot goes back to the free list before its callback runs, so the callback may
 * submit a new request even when the queue was full.
 */
#include "block/block-internal.h"

#include <assert.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"

/* blk_drain() looks again this often even without a wake-up (an engine kick that
 * failed for want of kernel resources is retried then). */
#define DRAIN_POLL_MS 100
#define REAP_BATCH 32u

void blk_slot_finish(BlockBackend *bb, BlockSlot *s, int result)
{
    if (s->rmw)
        bb->rmw_active--;
    if (s->writes)
        bb->write_finished = true;
    s->state = SLOT_FINISHED;
    s->result = result;
    /* Inside blk_process_completions() its return value says there is more. */
    if (!bb->finished.head && !bb->processing)
        eventfd_write(bb->event_fd, 1);
    slot_list_push(&bb->finished, s);
}

static int kick_engine(BlockBackend *bb, BlockEngine *e)
{
    int ret = e->ops->kick(e);
    if (ret > 0)
        bb->stats.kicks++;
    return ret < 0 ? ret : 0;
}

int blk_engines_kick(BlockBackend *bb)
{
    int ret = kick_engine(bb, bb->engine);
    if (bb->helper) {
        int helper_ret = kick_engine(bb, bb->helper);
        ret = ret ? ret : helper_ret;
    }
    return ret;
}

static void count(BlockStats *st, const BlockRequest *req, int ret)
{
    st->completed[req->op]++;
    st->in_flight--;
    if (ret < 0)
        st->errors++;
    else if (req->op == BLOCK_OP_READ)
        st->bytes_read += (uint64_t)ret;
    else if (req->op == BLOCK_OP_WRITE)
        st->bytes_written += (uint64_t)ret;
}

static void complete(BlockBackend *bb, BlockSlot *s)
{
    BlockRequest *req = s->req;
    int ret = s->result;
    count(&bb->stats, req, ret);
    free(s->bounce);
    s->bounce = NULL;
    s->req = NULL;
    s->state = SLOT_FREE;
    slot_list_push(&bb->free, s);
    bb->in_callback = true;
    req->done(req, ret);
    bb->in_callback = false;
}

static unsigned reap_engine(BlockBackend *bb, BlockEngine *e, unsigned max)
{
    BlockSlot *batch[REAP_BATCH];
    unsigned n = e->ops->reap(e, batch, max < REAP_BATCH ? max : REAP_BATCH);
    for (unsigned i = 0; i < n; i++)
        blk_slot_host_done(bb, batch[i]);
    return n;
}

/* Each raw result finishes at most one request, so `max` bounds the callbacks. */
static unsigned reap(BlockBackend *bb, unsigned max)
{
    unsigned n = reap_engine(bb, bb->engine, max);
    if (bb->helper && n < max)
        n += reap_engine(bb, bb->helper, max - n);
    blk_overlap_release(bb);
    return n;
}

static bool more_waiting(BlockBackend *bb)
{
    return bb->finished.head || bb->engine->ops->pending(bb->engine) ||
           (bb->helper && bb->helper->ops->pending(bb->helper));
}

bool blk_process_completions(BlockBackend *bb, unsigned budget)
{
    assert(!bb->in_callback && !bb->processing);
    bb->processing = true;
    eventfd_t ignored;
    eventfd_read(bb->event_fd, &ignored);
    unsigned ran = 0;
    while (ran < budget) {
        BlockSlot *s = slot_list_pop(&bb->finished);
        if (s) {
            complete(bb, s);
            ran++;
        } else if (!reap(bb, budget - ran)) {
            break;
        }
    }
    int ret = blk_engines_kick(bb);
    if (ret < 0)
        log_ratelimited(&bb->kick_log, LOG_WARN, "block: %s: %s kick failed (%d), retrying",
                        bb->path, bb->engine->ops->name, ret);
    bb->processing = false;
    return more_waiting(bb);
}

void blk_drain(BlockBackend *bb)
{
    assert(!bb->in_callback && !bb->processing);
    while (bb->stats.in_flight) {
        blk_kick(bb);
        if (blk_process_completions(bb, UINT_MAX) || !bb->stats.in_flight)
            continue;
        struct pollfd pfd = { .fd = bb->event_fd, .events = POLLIN };
        poll(&pfd, 1, DRAIN_POLL_MS);
    }
}
