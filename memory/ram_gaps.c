/*
 * memory/ram_gaps.c — where a new RAM block goes, in O(log n).
 *
 * QEMU's find_ram_offset looks, for every block in list order, at the gap from the
 * block's end to the nearest block start at or after it (or the end of the space), and
 * keeps the first strictly smaller gap that still fits. So it picks the smallest
 * fitting gap, and among equal gaps the one whose block comes first in the list. Gaps
 * before the lowest block are never considered (an empty list places at 0).
 *
 * Here every block carries its gap (block->gap) and is indexed three ways:
 *   by_gap    a tree ordered by (gap, list position) of the blocks with a gap: the
 *             first node with gap >= size is exactly the block find_ram_offset would
 *             choose, because the tree order is its preference order (smaller gap
 *             first, then earlier in the list). Blocks with no space after them (most,
 *             in a packed space) can never be chosen and stay out of the tree;
 *   addr_prev/addr_next  neighbours by offset: a new block goes right after the block
 *             whose gap it takes, and freeing a block gives its space (and its gap) to
 *             its lower neighbour — so only that one block's gap ever changes;
 *   by_addr   a tree ordered by offset, for "which block holds this ram_addr".
 */
#include "memory/ram-internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>

static RAMBlock *block_of_addr_node(const RamTreeNode *n)
{
    return RAM_TREE_ENTRY(n, RAMBlock, by_addr);
}

static RAMBlock *block_of_gap_node(const RamTreeNode *n)
{
    return RAM_TREE_ENTRY(n, RAMBlock, by_gap);
}

static int cmp_by_addr(const RamTreeNode *a, const RamTreeNode *b)
{
    ram_addr_t x = block_of_addr_node(a)->offset, y = block_of_addr_node(b)->offset;
    return x < y ? -1 : x > y;
}

static int cmp_by_gap(const RamTreeNode *a, const RamTreeNode *b)
{
    const RAMBlock *x = block_of_gap_node(a), *y = block_of_gap_node(b);
    if (x->gap != y->gap)
        return x->gap < y->gap ? -1 : 1;
    return ram_block_list_cmp(x, y);
}

static int probe_offset_at_or_below(const RamTreeNode *n, const void *key)
{
    return block_of_addr_node(n)->offset <= *(const ram_addr_t *)key ? -1 : 0;
}

static int probe_gap_too_small(const RamTreeNode *n, const void *key)
{
    return block_of_gap_node(n)->gap < *(const ram_addr_t *)key ? -1 : 0;
}

static ram_addr_t block_end(const RAMBlock *b)
{
    return b->offset + b->max_length;
}

void ram_gaps_init(RamGaps *g, ram_addr_t limit)
{
    *g = (RamGaps){
        .by_addr = RAM_TREE_INIT(cmp_by_addr),
        .by_gap = RAM_TREE_INIT(cmp_by_gap),
        .limit = limit,
    };
}

/* Re-key b in the gap tree; a block is in the tree iff its gap is non-zero. */
static void set_gap(RamGaps *g, RAMBlock *b, ram_addr_t gap)
{
    if (b->gap)
        ram_tree_remove(&g->by_gap, &b->by_gap);
    b->gap = gap;
    if (gap)
        ram_tree_insert(&g->by_gap, &b->by_gap);
}

int ram_gaps_set_limit(RamGaps *g, ram_addr_t limit, Error **errp)
{
    ram_addr_t end = ram_gaps_end(g);
    if (limit == 0 || limit % RAM_PAGE_SIZE || limit < end) {
        error_setg(errp, "invalid ram_addr space size 0x%" PRIx64
                   " (must be a non-zero multiple of 0x%llx covering 0x%" PRIx64 ")",
                   limit, RAM_PAGE_SIZE, end);
        return -EINVAL;
    }
    g->limit = limit;
    if (g->highest)
        set_gap(g, g->highest, limit - end);
    return 0;
}

int ram_gaps_find(const RamGaps *g, ram_addr_t size, ram_addr_t *offset, RAMBlock **after,
                  Error **errp)
{
    *after = NULL;
    if (!g->highest && size <= g->limit) {
        *offset = 0;
        return 0;
    }
    RAMBlock *best = block_of_gap_node(
        ram_tree_first_at_or_after(&g->by_gap, probe_gap_too_small, &size));
    if (!best) {
        error_setg(errp, "cannot find a gap of %" PRIu64 " bytes", size);
        return -ENOSPC;
    }
    *after = best;
    *offset = block_end(best);
    return 0;
}

void ram_gaps_insert(RamGaps *g, RAMBlock *block, RAMBlock *after)
{
    RAMBlock *next = after ? after->addr_next : NULL;
    ram_addr_t next_start = after ? block_end(after) + after->gap : g->limit;

    assert(after ? block->offset == block_end(after) : !g->highest);
    assert(block_end(block) <= next_start);
    block->gap = 0;
    set_gap(g, block, next_start - block_end(block));
    block->addr_prev = after;
    block->addr_next = next;
    if (next)
        next->addr_prev = block;
    else
        g->highest = block;
    if (after) {
        after->addr_next = block;
        ram_tree_insert_after(&g->by_addr, &after->by_addr, &block->by_addr);
        set_gap(g, after, 0);
    } else {
        ram_tree_insert(&g->by_addr, &block->by_addr);
    }
}

void ram_gaps_remove(RamGaps *g, RAMBlock *block)
{
    RAMBlock *prev = block->addr_prev, *next = block->addr_next;
    ram_addr_t next_start = block_end(block) + block->gap;

    ram_tree_remove(&g->by_addr, &block->by_addr);
    set_gap(g, block, 0);
    if (next)
        next->addr_prev = prev;
    else
        g->highest = prev;
    if (prev) {
        prev->addr_next = next;
        set_gap(g, prev, next_start - block_end(prev));
    }
    block->addr_prev = block->addr_next = NULL;
}

RAMBlock *ram_gaps_block_containing(const RamGaps *g, ram_addr_t addr)
{
    RAMBlock *b = block_of_addr_node(
        ram_tree_last_before(&g->by_addr, probe_offset_at_or_below, &addr));
    return b && addr - b->offset < b->max_length ? b : NULL;
}

RAMBlock *ram_gaps_first_ending_after(const RamGaps *g, ram_addr_t addr)
{
    RAMBlock *b = block_of_addr_node(
        ram_tree_last_before(&g->by_addr, probe_offset_at_or_below, &addr));
    if (!b)
        return block_of_addr_node(ram_tree_first(&g->by_addr));
    return addr - b->offset < b->max_length ? b : b->addr_next;
}

ram_addr_t ram_gaps_end(const RamGaps *g)
{
    return g->highest ? block_end(g->highest) : 0;
}
