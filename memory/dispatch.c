/*
 * memory/dispatch.c — the dispatch page map: guest-physical address → section.
 *
 * The map is a radix tree over the 52-bit page number (4 KiB pages, the full 64-bit
 * address space): six levels of 512-entry nodes. Each entry is 32 bits, a `skip` count
 * and a `ptr` (as QEMU's PhysPageEntry):
 *   skip == 0   a leaf; ptr is a section id (0: hole), or DISPATCH_SUBPAGE_FLAG plus
 *               a subpage id. A leaf in a level-L slot answers for the whole
 *               2^(9L)-page block.
 *   skip >= 1   ptr is a node `skip` levels further down. skip > 1 means the levels in
 *               between were single-child nodes that the full build compacted away.
 * Because compaction drops address bits, a lookup that follows a skip may land on an
 * entry belonging to another address: the final leaf is therefore always checked (the
 * section must cover the address, the subpage must be for this page).
 *
 * A page shared by several sections (or by a section and a hole) is a subpage: a sorted
 * list of (offset, section) pieces covering the page, searched by bisection.
 *
 * Sections, subpages and nodes are stored in arrays and named by ids; freed ids go to
 * free lists and are reused. Filling a page range expands whatever skip or leaf it
 * meets on the way down. Builds fill in address order, so the level-0 node written last
 * is remembered (the "cursor") and reused without a walk from the root. How FlatViews
 * become sections and page ranges is dispatch_build.c's business.
 *
 * The last section found is remembered (MRU) and tried first by the next lookup.
 */
#include "memory/dispatch-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SKIP_MAX        63u
#define PTR_LIMIT       (1u << DISPATCH_PTR_BITS)

/* Where a slot lives: the root, or entry `idx` of node `node`. Nodes move when the node
 * array grows, so slots are named, not pointed at, across allocations. */
typedef struct SlotRef {
    uint32_t node;                  /* UINT32_MAX: the root */
    uint32_t idx;
} SlotRef;

#define ROOT_SLOT ((SlotRef){ .node = UINT32_MAX, .idx = 0 })

static PageEntry *slot_ptr(AddressSpaceDispatch *d, SlotRef s)
{
    return s.node == UINT32_MAX ? &d->root : &d->nodes[s.node].e[s.idx];
}

/* Pages covered by one slot of `level` (DISPATCH_ROOT_LEVEL: 2^54, more than exist). */
static uint64_t level_block(unsigned level)
{
    return 1ULL << dispatch_level_shift(level);
}

/* ---- pools and growth ------------------------------------------------------------ */

int dispatch_grow(void **array, uint32_t *alloc, uint32_t need, size_t elem, uint32_t limit)
{
    if (need <= *alloc)
        return 0;
    if (need > limit)
        return -E2BIG;
    uint64_t n = *alloc ? (uint64_t)*alloc * 2 : 16;
    while (n < need)
        n *= 2;
    if (n > limit)
        n = limit;
    void *p = realloc(*array, n * elem);
    if (!p)
        return -ENOMEM;
    *array = p;
    *alloc = (uint32_t)n;
    return 0;
}

static int pool_push(IdPool *pool, uint32_t id)
{
    int r = dispatch_grow((void **)&pool->ids, &pool->alloc, pool->nr + 1, sizeof(uint32_t),
                 UINT32_MAX);
    if (r == 0)
        pool->ids[pool->nr++] = id;
    return r;
}

static bool pool_pop(IdPool *pool, uint32_t *id)
{
    if (!pool->nr)
        return false;
    *id = pool->ids[--pool->nr];
    return true;
}

/* A new node whose every entry is `fill`, covering pages from `base`. */
static int node_alloc(AddressSpaceDispatch *d, PageEntry fill, uint64_t base, uint32_t *out)
{
    uint32_t id;
    if (!pool_pop(&d->free_nodes, &id)) {
        int r = dispatch_grow((void **)&d->nodes, &d->nodes_alloc, d->nodes_nb + 1,
                     sizeof(PageNode), PTR_LIMIT);
        if (r == 0)
            r = dispatch_grow((void **)&d->node_base, &d->node_base_alloc, d->nodes_nb + 1,
                     sizeof(uint64_t), PTR_LIMIT);
        if (r)
            return r;
        id = d->nodes_nb++;
    }
    PageNode *n = &d->nodes[id];
    if (fill.skip == 0 && fill.ptr == DISPATCH_HOLE_ID) {
        memset(n, 0, sizeof(*n));
    } else {
        for (unsigned i = 0; i < DISPATCH_LEVEL_SIZE; i++)
            n->e[i] = fill;
    }
    d->node_base[id] = base;
    *out = id;
    return 0;
}

int dispatch_section_alloc(AddressSpaceDispatch *d, uint32_t *out)
{
    uint32_t id;
    if (!pool_pop(&d->free_sections, &id)) {
        int r = dispatch_grow((void **)&d->sections, &d->sections_alloc, d->sections_nb + 1,
                     sizeof(MemoryRegionSection), DISPATCH_SECTION_LIMIT);
        if (r)
            return r;
        id = d->sections_nb++;
    }
    *out = id;
    return 0;
}

/* Free a section once (a section is met once per leaf that names it). */
int dispatch_section_release(AddressSpaceDispatch *d, uint32_t id)
{
    if (id == DISPATCH_HOLE_ID || !d->sections[id].mr)
        return 0;
    d->sections[id] = (MemoryRegionSection){ 0 };
    return pool_push(&d->free_sections, id);
}

int dispatch_subpage_store(AddressSpaceDispatch *d, Subpage *sp, uint32_t *out)
{
    uint32_t id;
    if (!pool_pop(&d->free_subpages, &id)) {
        int r = dispatch_grow((void **)&d->subpages, &d->subpages_alloc, d->subpages_nb + 1,
                     sizeof(Subpage *), DISPATCH_SECTION_LIMIT);
        if (r)
            return r;
        id = d->subpages_nb++;
    }
    d->subpages[id] = sp;
    *out = id;
    return 0;
}

int dispatch_subpage_release(AddressSpaceDispatch *d, uint32_t id)
{
    free(d->subpages[id]);
    d->subpages[id] = NULL;
    return pool_push(&d->free_subpages, id);
}

/* ---- lookup ---------------------------------------------------------------------- */

const MemoryRegionSection *address_space_dispatch_lookup(AddressSpaceDispatch *d, hwaddr addr)
{
    const MemoryRegionSection *s = d->mru;
    if (__builtin_expect(dispatch_section_covers(s, addr), 1))
        return s;
    uint32_t id = dispatch_lookup_id(d, addr);
    if (id == DISPATCH_HOLE_ID)
        return NULL;
    d->mru = &d->sections[id];
    return d->mru;
}

hwaddr address_space_dispatch_hole_size(AddressSpaceDispatch *d, hwaddr addr)
{
    uint64_t page = addr >> DISPATCH_PAGE_BITS;
    unsigned off = addr & (DISPATCH_PAGE_SIZE - 1);
    PageEntry e = dispatch_leaf(d, page);
    if (e.ptr & DISPATCH_SUBPAGE_FLAG) {
        const Subpage *sp = dispatch_subpage_of(d, e, page);
        unsigned i = sp ? dispatch_subpage_find(sp, off) : 0;
        if (sp && i + 1 < sp->nr)
            return sp->piece[i + 1].start - off;
    }
    return DISPATCH_PAGE_SIZE - off;
}

/* ---- editing the tree ------------------------------------------------------------ */

/*
 * Make the slot (of `level`, covering pages from `base`) point at a node one level
 * down, and return that node: a leaf is spread over a new node, a skip is undone by
 * inserting the single-child node it had compacted away.
 */
static int slot_expand(AddressSpaceDispatch *d, SlotRef s, unsigned level, uint64_t base,
                       uint32_t *node)
{
    PageEntry e = *slot_ptr(d, s);
    uint32_t id;
    int r;
    if (e.skip == 1) {
        *node = e.ptr;
        return 0;
    }
    if (e.skip == 0) {
        r = node_alloc(d, e, base, &id);
    } else {
        r = node_alloc(d, DISPATCH_HOLE_ENTRY, base, &id);
        if (r == 0) {
            uint64_t target = d->node_base[e.ptr];
            unsigned idx =
                (target >> dispatch_level_shift(level - 1)) & (DISPATCH_LEVEL_SIZE - 1);
            d->nodes[id].e[idx] = (PageEntry){ .skip = e.skip - 1, .ptr = e.ptr };
        }
    }
    if (r)
        return r;
    *slot_ptr(d, s) = (PageEntry){ .skip = 1, .ptr = id };
    *node = id;
    return 0;
}

/* Release what a slot being overwritten holds: nodes always; its sections and subpages
 * only when `release` (they belong to the span being replaced). */
static int slot_clear(AddressSpaceDispatch *d, PageEntry e, bool release)
{
    int r = 0;
    if (e.skip) {
        for (unsigned i = 0; i < DISPATCH_LEVEL_SIZE && r == 0; i++)
            r = slot_clear(d, d->nodes[e.ptr].e[i], release);
        d->cursor_node = UINT32_MAX;        /* it may be the node being freed */
        return r ? r : pool_push(&d->free_nodes, e.ptr);
    }
    if (!release || e.ptr == DISPATCH_HOLE_ID)
        return 0;
    if (e.ptr & DISPATCH_SUBPAGE_FLAG) {
        uint32_t sp_id = e.ptr & ~DISPATCH_SUBPAGE_FLAG;
        const Subpage *sp = d->subpages[sp_id];
        for (unsigned i = 0; i < sp->nr && r == 0; i++)
            r = dispatch_section_release(d, sp->piece[i].section);
        return r ? r : dispatch_subpage_release(d, sp_id);
    }
    return dispatch_section_release(d, e.ptr);
}

/*
 * Point pages [first, first + count), which lie in the block of slot s (of `level`),
 * at `leaf`. Whole blocks get the leaf directly; partial blocks are split into nodes.
 */
static int fill(AddressSpaceDispatch *d, SlotRef s, unsigned level, uint64_t first,
                uint64_t count, PageEntry leaf, bool release)
{
    PageEntry old = *slot_ptr(d, s);
    if (old.skip == 0 && old.ptr == leaf.ptr)
        return 0;
    if (count == level_block(level)) {
        int r = slot_clear(d, old, release);
        if (r == 0)
            *slot_ptr(d, s) = leaf;
        return r;
    }
    uint64_t base = first & ~(level_block(level) - 1);
    uint32_t node;
    int r = slot_expand(d, s, level, base, &node);
    unsigned child = level - 1;
    uint64_t block = level_block(child);
    unsigned idx = (first >> dispatch_level_shift(child)) & (DISPATCH_LEVEL_SIZE - 1);
    if (r == 0 && child == 0) {
        /* Page slots are always leaves: overwrite them in one sweep. */
        PageEntry *e = &d->nodes[node].e[idx];
        d->cursor_node = node;
        d->cursor_base = base;
        for (uint64_t k = 0; release && k < count && r == 0; k++)
            r = slot_clear(d, e[k], true);
        for (uint64_t k = 0; k < count && r == 0; k++)
            e[k] = leaf;
        return r;
    }
    while (r == 0 && count) {
        uint64_t n = block - (first & (block - 1));
        if (n > count)
            n = count;
        r = fill(d, (SlotRef){ .node = node, .idx = idx++ }, child, first, n, leaf, release);
        first += n;
        count -= n;
    }
    return r;
}

int dispatch_fill_pages(AddressSpaceDispatch *d, uint64_t first, uint64_t count,
                      PageEntry leaf, bool release)
{
    if (!count)
        return 0;
    uint64_t block = first & ~(uint64_t)(DISPATCH_LEVEL_SIZE - 1);
    if (!release && d->cursor_node != UINT32_MAX && block == d->cursor_base &&
        count <= DISPATCH_LEVEL_SIZE - (first - block)) {
        /* Same level-0 node as the last fill (builds go in address order). */
        PageEntry *e = &d->nodes[d->cursor_node].e[first - block];
        for (uint64_t k = 0; k < count; k++)
            e[k] = leaf;
        return 0;
    }
    return fill(d, ROOT_SLOT, DISPATCH_ROOT_LEVEL, first, count, leaf, release);
}

/* Fold chains of single-child nodes into skips (full builds only). Level-0 nodes have
 * no node children, so the walk stops above them. */
static void compact_slot(AddressSpaceDispatch *d, SlotRef s, unsigned level)
{
    PageEntry e = *slot_ptr(d, s);
    if (!e.skip || level - e.skip == 0)
        return;
    unsigned node_level = level - e.skip;
    unsigned used = 0, only = 0;
    for (unsigned i = 0; i < DISPATCH_LEVEL_SIZE; i++) {
        compact_slot(d, (SlotRef){ .node = e.ptr, .idx = i }, node_level);
        PageEntry c = d->nodes[e.ptr].e[i];
        if (c.skip || c.ptr != DISPATCH_HOLE_ID) {
            used++;
            only = i;
        }
    }
    PageEntry c = d->nodes[e.ptr].e[only];
    if (used != 1 || !c.skip || (unsigned)e.skip + c.skip > SKIP_MAX)
        return;
    /* Cannot fail in practice; if the free list cannot dispatch_grow the node just leaks into
     * the array until the dispatch is freed. */
    d->cursor_node = UINT32_MAX;
    (void)pool_push(&d->free_nodes, e.ptr);
    *slot_ptr(d, s) = (PageEntry){ .skip = e.skip + c.skip, .ptr = c.ptr };
}

void dispatch_compact(AddressSpaceDispatch *d)
{
    compact_slot(d, ROOT_SLOT, DISPATCH_ROOT_LEVEL);
}

void address_space_dispatch_free(AddressSpaceDispatch *d)
{
    if (!d)
        return;
    for (uint32_t i = 0; i < d->subpages_nb; i++)
        free(d->subpages[i]);
    free(d->subpages);
    free(d->free_subpages.ids);
    free(d->sections);
    free(d->free_sections.ids);
    free(d->nodes);
    free(d->node_base);
    free(d->free_nodes.ids);
    free(d);
}
