/*
 * block/overlap.c — a read-modify-write excludes the writes that overlap it.
 *
 * Under O_DIRECT a write that covers its first or last block only partly reads that
 * block, merges the new bytes in and writes the whole block back (transfer.c). A
 * write that changed the same block in between would be undone, so a read-modify-write
 * (over its whole aligned footprint) and any other write that overlaps it never run at
 * the same time: whichever was accepted later waits (SLOT_WAITING) until the earlier
 * one has finished. Waiting is first come, first served — a write never overtakes an
 * earlier one it overlaps — so nothing waits forever. Reads never wait: the blocks a
 * read-modify-write writes back hold the same bytes outside the new ones.
 *
 * Without read-modify-writes in flight, a write costs one test; otherwise a scan of
 * the slots (queue_depth of them).
 */
#include "block/block-internal.h"

static bool conflict(const BlockSlot *a, const BlockSlot *b)
{
    return a->writes && b->writes && (a->rmw || b->rmw) && a->foot_start < b->foot_end &&
           b->foot_start < a->foot_end;
}

bool blk_overlap_blocked(const BlockBackend *bb, const BlockSlot *s)
{
    if (!s->writes || (!s->rmw && !bb->rmw_active))
        return false;
    for (unsigned i = 0; i < bb->depth; i++) {
        const BlockSlot *t = &bb->slots[i];
        bool active = t->state == SLOT_ISSUED || t->state == SLOT_WAITING;
        if (t != s && active && t->seq < s->seq && conflict(s, t))
            return true;
    }
    return false;
}

/* Beginning a slot may finish it at once (an error), which may free the next one:
 * hence the loop. Slots taken off the list stay SLOT_WAITING, so each still blocks
 * the later ones until it begins. */
void blk_overlap_release(BlockBackend *bb)
{
    while (bb->waiting.head && bb->write_finished) {
        bb->write_finished = false;
        BlockSlotList pending = bb->waiting;
        bb->waiting = (BlockSlotList){ 0 };
        BlockSlot *s;
        while ((s = slot_list_pop(&pending))) {
            if (blk_overlap_blocked(bb, s))
                slot_list_push(&bb->waiting, s);
            else
                blk_slot_begin(bb, s);
        }
    }
}
