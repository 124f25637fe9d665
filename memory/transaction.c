/*
 * memory/transaction.c — transactions and the bookkeeping of what changed.
 *
 * Edits report the region they touch (memory_region_note_change) before and after the
 * change. For every address space whose root the region sits under, the region's
 * extent at that moment, clipped by its containers and followed through every alias
 * that shows it, is recorded as a pending span; the outermost commit re-renders only
 * the pending spans of the address spaces that have any. When too many separate spans
 * pile up in one transaction (one full render is then cheaper than many small ones), or
 * one cannot be recorded for lack of memory, the whole address space is re-rendered:
 * that request is a flag in the AddressSpace, so making it never needs memory.
 *
 * An update that runs out of memory leaves a view that is consistent but may lag the
 * tree (as_update.c). It is not retried within the same commit, which could loop for
 * as long as memory stays short: the address space is marked stale, and the next
 * outermost commit renders it whole.
 */
#include "memory/memory-internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define MAX_PENDING_SPANS 64

typedef __int128 SignedAddr;

typedef struct PendingUpdate {
    AddressSpace *as;
    MemSpan *spans;             /* sorted, disjoint, not touching */
    size_t nr, cap;
} PendingUpdate;

static unsigned transaction_depth;
static PendingUpdate *pending;
static size_t nr_pending, cap_pending;

unsigned memory_region_transaction_depth(void)
{
    return transaction_depth;
}

void memory_region_transaction_begin(void)
{
    transaction_depth++;
}

static PendingUpdate *pending_for(AddressSpace *as)
{
    for (size_t i = 0; i < nr_pending; i++)
        if (pending[i].as == as)
            return &pending[i];
    if (memory_vec_reserve((void **)&pending, &cap_pending, nr_pending + 1,
                           sizeof(*pending)) < 0)
        return NULL;
    pending[nr_pending] = (PendingUpdate){ .as = as };
    return &pending[nr_pending++];
}

/* Add [start, end) to p's spans, merging with the spans it overlaps or touches. */
static void pending_add_span(PendingUpdate *p, MemSize start, MemSize end)
{
    if (p->as->render_whole || start >= end)
        return;
    size_t lo = 0;
    while (lo < p->nr && p->spans[lo].end < start)
        lo++;
    size_t hi = lo;
    while (hi < p->nr && p->spans[hi].start <= end) {
        if (p->spans[hi].start < start)
            start = p->spans[hi].start;
        if (p->spans[hi].end > end)
            end = p->spans[hi].end;
        hi++;
    }
    /* spans[lo, hi) are replaced by one span */
    if (hi == lo) {
        if (p->nr >= MAX_PENDING_SPANS ||
            memory_vec_reserve((void **)&p->spans, &p->cap, p->nr + 1, sizeof(*p->spans)) < 0) {
            p->as->render_whole = true;
            p->nr = 0;
            return;
        }
        memmove(&p->spans[lo + 1], &p->spans[lo], (p->nr - lo) * sizeof(*p->spans));
        p->nr++;
    } else if (hi > lo + 1) {
        memmove(&p->spans[lo + 1], &p->spans[hi], (p->nr - hi) * sizeof(*p->spans));
        p->nr -= hi - lo - 1;
    }
    p->spans[lo] = (MemSpan){ start, end };
}

void memory_mark_all_for_full_render(void)
{
    AddressSpace *as;
    TAILQ_FOREACH(as, &memory_address_spaces, address_spaces_link)
        as->render_whole = true;
}

/*
 * Record [start, end) of node (in node's coordinates) in every address space that
 * shows node: walk up the containers, clipping to each one's extent as rendering
 * does, and follow every alias of every region on the way.
 */
static void note_span(const MemoryRegion *node, SignedAddr start, SignedAddr end)
{
    for (; node; node = node->container) {
        if (start < 0)
            start = 0;
        if (end > (SignedAddr)node->size)
            end = (SignedAddr)node->size;
        if (start >= end)
            return;
        AddressSpace *as;
        TAILQ_FOREACH(as, &memory_address_spaces, address_spaces_link) {
            if (as->root != node)
                continue;
            PendingUpdate *p = as->render_whole ? NULL : pending_for(as);
            if (p)
                pending_add_span(p, (MemSize)start, (MemSize)end);
            else
                as->render_whole = true;  /* or it could not be recorded: all of it */
        }
        const MemoryRegion *alias;
        TAILQ_FOREACH(alias, &node->aliases, aliases_link)
            note_span(alias, start - (SignedAddr)alias->alias_offset,
                      end - (SignedAddr)alias->alias_offset);
        start += (SignedAddr)node->addr;
        end += (SignedAddr)node->addr;
    }
}

void memory_region_note_change(MemoryRegion *mr)
{
    assert(transaction_depth > 0 && "note_change outside a transaction");
    note_span(mr, 0, (SignedAddr)mr->size);
}

void memory_address_space_forget(AddressSpace *as)
{
    for (size_t i = 0; i < nr_pending; i++) {
        if (pending[i].as == as) {
            free(pending[i].spans);
            pending[i] = pending[--nr_pending];
            return;
        }
    }
}

static void update_one(AddressSpace *as, const MemSpan *spans, size_t nr, bool whole)
{
    Error *err = NULL;
    if (address_space_update(as, spans, nr, whole, &err) < 0) {
        log_error("address space '%s': %s (retried at the next commit)", as->name,
                  error_get_pretty(err));
        error_free(err);
        as->view_stale = true;
    }
}

/* One round: the pending spans of the address spaces, then those to render whole
 * (whose spans are skipped: the whole render covers them). Listeners told about it may
 * edit the tree; their edits wait for the next round. */
static void commit_round(void)
{
    PendingUpdate *work = pending;
    size_t nr_work = nr_pending;
    pending = NULL;
    nr_pending = cap_pending = 0;
    for (size_t i = 0; i < nr_work; i++) {
        if (work[i].nr && !work[i].as->render_whole)
            update_one(work[i].as, work[i].spans, work[i].nr, false);
        free(work[i].spans);
    }
    free(work);
    AddressSpace *as;
    TAILQ_FOREACH(as, &memory_address_spaces, address_spaces_link) {
        if (as->render_whole) {
            as->render_whole = false;
            update_one(as, NULL, 0, true);
        }
    }
}

static bool round_needed(void)
{
    AddressSpace *as;
    TAILQ_FOREACH(as, &memory_address_spaces, address_spaces_link)
        if (as->render_whole)
            return true;
    return nr_pending > 0;
}

void memory_region_transaction_commit(void)
{
    assert(transaction_depth > 0 && "commit without begin");
    if (--transaction_depth)
        return;
    /* Listeners may edit the tree from their callbacks: keep this commit's work apart. */
    transaction_depth++;
    AddressSpace *as;
    TAILQ_FOREACH(as, &memory_address_spaces, address_spaces_link) {
        if (as->view_stale) {           /* once per commit, not per round */
            as->view_stale = false;
            as->render_whole = true;
        }
    }
    do
        commit_round();
    while (round_needed());             /* a listener edited the tree */
    transaction_depth--;
}
