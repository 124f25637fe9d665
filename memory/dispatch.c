/*
 * memory/dispatch.c — the dispatch page map: guest-physical address → section.
 *
 * The map is a radix tree over the 52-bit page number (4 KiB pages, the full 64-bit
 * address space): six levels of 512-entry nodes. Each entry is 32 bits, a `skip` count
 * and a `ptr` (as QEMU's PhysPageEntry):
 *   skip == 0   a leaf; ptr is a section id (0: hole) or SUBPAGE_FLAG | subpage id.
 *               A leaf in a level-L slot answers for the whole 2^(9L)-page block.
 *   skip >= 1   ptr is a node `skip` levels further down. skip > 1 means the levels in
 *               between were single-child nodes that the full build compacted away.
 * Because compaction drops address bits, a lookup that follows a skip may land on an
 * entry belonging to another address: the final leaf is therefore always checked (the
 * section must cover the address, the subpage must be for this page).
 *
 * A page shared by several sections (or by a section and a hole) is a subpage: a sorted
 * list of (offset, section) pieces covering the page, searched by bisection.
 *
 * Sections are one per FlatRange, copied out of the FlatView (the view may be edited in
 * place, see memory-internal.h) and addressed by a stable id, so an incremental update
 * only touches the ids, nodes and subpages of the changed span. Freed ids, nodes and
 * subpages go to free lists and are reused.
 *
 * The last section found is remembered (MRU) and tried first by the next lookup.
 */
#include "memory/dispatch-internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_BITS       12
#define PAGE_SIZE       (1ULL << PAGE_BITS)
#define LEVEL_BITS      DISPATCH_LEVEL_BITS
#define LEVEL_SIZE      (1u << LEVEL_BITS)
#define LEVELS          6                       /* 6 * 9 = 54 >= 64 - 12 */
#define ROOT_LEVEL      LEVELS                  /* the root slot sits above level 5 */

#define SKIP_MAX        63u
#define PTR_BITS        DISPATCH_PTR_BITS
#define PTR_LIMIT       (1u << PTR_BITS)
#define SUBPAGE_FLAG    (1u << (PTR_BITS - 1))
#define SECTION_LIMIT   SUBPAGE_FLAG            /* section and subpage ids stay below */
#define HOLE_ID         0u

#define HOLE_ENTRY      ((PageEntry){ .skip = 0, .ptr = HOLE_ID })

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

static unsigned level_shift(unsigned level)
{
    return LEVEL_BITS * level;
}

/* Pages covered by one slot of `level` (ROOT_LEVEL: 2^54, more than exist). */
static uint64_t level_block(unsigned level)
{
    return 1ULL << level_shift(level);
}

static MemSize section_end(const MemoryRegionSection *s)
{
    return (MemSize)s->offset_within_address_space + s->size;
}

static bool section_covers(const MemoryRegionSection *s, hwaddr addr)
{
    /* Unsigned wrap makes addr < start fail too, since start + size <= 2^64. */
    return (MemSize)(addr - s->offset_within_address_space) < s->size;
}

/* ---- pools and growth ------------------------------------------------------------ */

static int grow(void **array, uint32_t *alloc, uint32_t need, size_t elem, uint32_t limit)
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
    int r = grow((void **)&pool->ids, &pool->alloc, pool->nr + 1, sizeof(uint32_t),
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
        int r = grow((void **)&d->nodes, &d->nodes_alloc, d->nodes_nb + 1,
                     sizeof(PageNode), PTR_LIMIT);
        if (r == 0)
            r = grow((void **)&d->node_base, &d->node_base_alloc, d->nodes_nb + 1,
                     sizeof(uint64_t), PTR_LIMIT);
        if (r)
            return r;
        id = d->nodes_nb++;
    }
    PageNode *n = &d->nodes[id];
    if (fill.skip == 0 && fill.ptr == HOLE_ID) {
        memset(n, 0, sizeof(*n));
    } else {
        for (unsigned i = 0; i < LEVEL_SIZE; i++)
            n->e[i] = fill;
    }
    d->node_base[id] = base;
    *out = id;
    return 0;
}

static int section_alloc(AddressSpaceDispatch *d, uint32_t *out)
{
    uint32_t id;
    if (!pool_pop(&d->free_sections, &id)) {
        int r = grow((void **)&d->sections, &d->sections_alloc, d->sections_nb + 1,
                     sizeof(MemoryRegionSection), SECTION_LIMIT);
        if (r)
            return r;
        id = d->sections_nb++;
    }
    *out = id;
    return 0;
}

/* Free a section once (a section is met once per leaf that names it). */
static int section_release(AddressSpaceDispatch *d, uint32_t id)
{
    if (id == HOLE_ID || !d->sections[id].mr)
        return 0;
    d->sections[id] = (MemoryRegionSection){ 0 };
    return pool_push(&d->free_sections, id);
}

static int subpage_store(AddressSpaceDispatch *d, Subpage *sp, uint32_t *out)
{
    uint32_t id;
    if (!pool_pop(&d->free_subpages, &id)) {
        int r = grow((void **)&d->subpages, &d->subpages_alloc, d->subpages_nb + 1,
                     sizeof(Subpage *), SECTION_LIMIT);
        if (r)
            return r;
        id = d->subpages_nb++;
    }
    d->subpages[id] = sp;
    *out = id;
    return 0;
}

static int subpage_release(AddressSpaceDispatch *d, uint32_t id)
{
    free(d->subpages[id]);
    d->subpages[id] = NULL;
    return pool_push(&d->free_subpages, id);
}

/* ---- lookup ---------------------------------------------------------------------- */

/* The leaf answering for page (possibly a foreign one reached through a skip). */
static inline PageEntry leaf_for_page(const AddressSpaceDispatch *d, uint64_t page)
{
    PageEntry e = d->root;
    unsigned level = ROOT_LEVEL;
    while (e.skip) {
        level -= e.skip;
        e = d->nodes[e.ptr].e[(page >> level_shift(level)) & (LEVEL_SIZE - 1)];
    }
    return e;
}

/* Index of the piece holding offset `off` (the last piece starting at or before it). */
static unsigned subpage_find(const Subpage *sp, unsigned off)
{
    unsigned lo = 0, hi = sp->nr;          /* piece[lo].start <= off < piece[hi].start */
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (sp->piece[mid].start <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static const Subpage *subpage_of(const AddressSpaceDispatch *d, PageEntry e, uint64_t page)
{
    const Subpage *sp = d->subpages[e.ptr & ~SUBPAGE_FLAG];
    return sp->page == page ? sp : NULL;
}

static inline uint32_t lookup_id(const AddressSpaceDispatch *d, hwaddr addr)
{
    uint64_t page = addr >> PAGE_BITS;
    PageEntry e = leaf_for_page(d, page);
    if (e.ptr & SUBPAGE_FLAG) {
        const Subpage *sp = subpage_of(d, e, page);
        return sp ? sp->piece[subpage_find(sp, addr & (PAGE_SIZE - 1))].section : HOLE_ID;
    }
    return section_covers(&d->sections[e.ptr], addr) ? e.ptr : HOLE_ID;
}

const MemoryRegionSection *address_space_dispatch_lookup(AddressSpaceDispatch *d, hwaddr addr)
{
    const MemoryRegionSection *s = d->mru;
    if (__builtin_expect(section_covers(s, addr), 1))
        return s;
    uint32_t id = lookup_id(d, addr);
    if (id == HOLE_ID)
        return NULL;
    d->mru = &d->sections[id];
    return d->mru;
}

hwaddr address_space_dispatch_hole_size(AddressSpaceDispatch *d, hwaddr addr)
{
    uint64_t page = addr >> PAGE_BITS;
    unsigned off = addr & (PAGE_SIZE - 1);
    PageEntry e = leaf_for_page(d, page);
    if (e.ptr & SUBPAGE_FLAG) {
        const Subpage *sp = subpage_of(d, e, page);
        unsigned i = sp ? subpage_find(sp, off) : 0;
        if (sp && i + 1 < sp->nr)
            return sp->piece[i + 1].start - off;
    }
    return PAGE_SIZE - off;
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
        r = node_alloc(d, HOLE_ENTRY, base, &id);
        if (r == 0) {
            uint64_t target = d->node_base[e.ptr];
            unsigned idx = (target >> level_shift(level - 1)) & (LEVEL_SIZE - 1);
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
        for (unsigned i = 0; i < LEVEL_SIZE && r == 0; i++)
            r = slot_clear(d, d->nodes[e.ptr].e[i], release);
        d->cursor_node = UINT32_MAX;        /* it may be the node being freed */
        return r ? r : pool_push(&d->free_nodes, e.ptr);
    }
    if (!release || e.ptr == HOLE_ID)
        return 0;
    if (e.ptr & SUBPAGE_FLAG) {
        uint32_t sp_id = e.ptr & ~SUBPAGE_FLAG;
        const Subpage *sp = d->subpages[sp_id];
        for (unsigned i = 0; i < sp->nr && r == 0; i++)
            r = section_release(d, sp->piece[i].section);
        return r ? r : subpage_release(d, sp_id);
    }
    return section_release(d, e.ptr);
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
    unsigned idx = (first >> level_shift(child)) & (LEVEL_SIZE - 1);
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

static int fill_pages(AddressSpaceDispatch *d, uint64_t first, uint64_t count,
                      PageEntry leaf, bool release)
{
    if (!count)
        return 0;
    uint64_t block = first & ~(uint64_t)(LEVEL_SIZE - 1);
    if (!release && d->cursor_node != UINT32_MAX && block == d->cursor_base &&
        count <= LEVEL_SIZE - (first - block)) {
        /* Same level-0 node as the last fill (builds go in address order). */
        PageEntry *e = &d->nodes[d->cursor_node].e[first - block];
        for (uint64_t k = 0; k < count; k++)
            e[k] = leaf;
        return 0;
    }
    return fill(d, ROOT_SLOT, ROOT_LEVEL, first, count, leaf, release);
}

/* Fold chains of single-child nodes into skips (full builds only). Level-0 nodes have
 * no node children, so the walk stops above them. */
static void compact(AddressSpaceDispatch *d, SlotRef s, unsigned level)
{
    PageEntry e = *slot_ptr(d, s);
    if (!e.skip || level - e.skip == 0)
        return;
    unsigned node_level = level - e.skip;
    unsigned used = 0, only = 0;
    for (unsigned i = 0; i < LEVEL_SIZE; i++) {
        compact(d, (SlotRef){ .node = e.ptr, .idx = i }, node_level);
        PageEntry c = d->nodes[e.ptr].e[i];
        if (c.skip || c.ptr != HOLE_ID) {
            used++;
            only = i;
        }
    }
    PageEntry c = d->nodes[e.ptr].e[only];
    if (used != 1 || !c.skip || (unsigned)e.skip + c.skip > SKIP_MAX)
        return;
    /* Cannot fail in practice; if the free list cannot grow the node just leaks into
     * the array until the dispatch is freed. */
    d->cursor_node = UINT32_MAX;
    (void)pool_push(&d->free_nodes, e.ptr);
    *slot_ptr(d, s) = (PageEntry){ .skip = e.skip + c.skip, .ptr = c.ptr };
}

/* ---- building from a FlatView ---------------------------------------------------- */

/* New sections for ranges [first, first + nr) of the view; ids[i] is range first+i's. */
typedef struct SpanIds {
    unsigned first, nr;
    uint32_t *ids;
    unsigned hint;              /* a range near the page being composed (a search hint) */
} SpanIds;

/* First range of fv whose end is above addr (fv->nr if none). `hint` is a range at or
 * after the answer and close to it, or fv->nr for no idea. */
static unsigned first_range_ending_after(const FlatView *fv, MemSize addr, unsigned hint)
{
    if (hint < fv->nr && flatrange_end(&fv->ranges[hint]) > addr &&
        (hint == 0 || flatrange_end(&fv->ranges[hint - 1]) <= addr))
        return hint;
    unsigned lo = 0, hi = fv->nr;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (flatrange_end(&fv->ranges[mid]) <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A page's mapping under construction: pieces in offset order, neighbours with the
 * same section merged (so a page one section covers ends up as a single piece). */
typedef struct PagePieces {
    unsigned nr;
    SubpagePiece piece[PAGE_SIZE];
} PagePieces;

static void pieces_add(PagePieces *pp, unsigned start, uint32_t id)
{
    if (pp->nr && pp->piece[pp->nr - 1].section == id)
        return;
    pp->piece[pp->nr++] = (SubpagePiece){ .start = start, .section = id };
}

/* Append what the map holds now at offsets [from, to) of the page. */
static void pieces_add_current(const AddressSpaceDispatch *d, uint64_t page, unsigned from,
                               unsigned to, PagePieces *pp)
{
    if (from >= to)
        return;
    PageEntry e = leaf_for_page(d, page);
    const Subpage *sp = (e.ptr & SUBPAGE_FLAG) ? subpage_of(d, e, page) : NULL;
    if (!sp) {
        pieces_add(pp, from, lookup_id(d, page << PAGE_BITS));
        return;
    }
    for (unsigned i = subpage_find(sp, from); i < sp->nr && sp->piece[i].start < to; i++)
        pieces_add(pp, sp->piece[i].start > from ? sp->piece[i].start : from,
                   sp->piece[i].section);
}

/* Append the view's ranges at offsets [from, to) of the page; they are all in the
 * span (the span's ends are boundaries of the view). */
static void pieces_add_view(const FlatView *fv, const SpanIds *span, uint64_t page,
                            unsigned from, unsigned to, PagePieces *pp)
{
    hwaddr start = page << PAGE_BITS;
    unsigned at = from;               /* offset up to which pieces are known */
    for (unsigned i = first_range_ending_after(fv, start + from, span->hint);
         i < fv->nr && fv->ranges[i].addr < (MemSize)start + to; i++) {
        const FlatRange *fr = &fv->ranges[i];
        unsigned lo = fr->addr > start + from ? (unsigned)(fr->addr - start) : from;
        assert(i >= span->first && i - span->first < span->nr);
        if (lo > at)
            pieces_add(pp, at, HOLE_ID);
        pieces_add(pp, lo, span->ids[i - span->first]);
        MemSize fr_end = flatrange_end(fr);
        at = fr_end >= (MemSize)start + to ? to : (unsigned)(fr_end - start);
        if (at == to)
            break;
    }
    if (at < to)
        pieces_add(pp, at, HOLE_ID);
}

/*
 * Work out what the page should hold: the view's ranges at offsets [from, to), what
 * the map holds now elsewhere (so an update never touches what lies outside its
 * span). The result is a single leaf when one section (or a hole) covers the page,
 * else a new subpage.
 */
static int page_compose(const AddressSpaceDispatch *d, const FlatView *fv,
                        const SpanIds *span, uint64_t page, unsigned from, unsigned to,
                        Subpage **out_sp, uint32_t *out_id)
{
    PagePieces pp;
    pp.nr = 0;
    pieces_add_current(d, page, 0, from, &pp);
    pieces_add_view(fv, span, page, from, to, &pp);
    pieces_add_current(d, page, to, PAGE_SIZE, &pp);
    *out_sp = NULL;
    *out_id = pp.piece[0].section;
    if (pp.nr == 1)
        return 0;
    Subpage *sp = malloc(sizeof(*sp) + pp.nr * sizeof(SubpagePiece));
    if (!sp)
        return -ENOMEM;
    sp->page = page;
    sp->nr = pp.nr;
    memcpy(sp->piece, pp.piece, pp.nr * sizeof(SubpagePiece));
    *out_sp = sp;
    return 0;
}

static int page_install(AddressSpaceDispatch *d, uint64_t page, Subpage *sp, uint32_t id)
{
    if (sp) {
        int r = subpage_store(d, sp, &id);
        if (r) {
            free(sp);
            return r;
        }
        id |= SUBPAGE_FLAG;
    }
    return fill_pages(d, page, 1, (PageEntry){ .skip = 0, .ptr = id }, false);
}

static int page_build(AddressSpaceDispatch *d, const FlatView *fv, const SpanIds *span,
                      uint64_t page)
{
    Subpage *sp;
    uint32_t id;
    int r = page_compose(d, fv, span, page, 0, PAGE_SIZE, &sp, &id);
    return r ? r : page_install(d, page, sp, id);
}

/*
 * A page holding an end of the span [s, e): rebuild it, keeping the pieces outside the
 * span and freeing the sections inside.
 */
static int edge_page_rebuild(AddressSpaceDispatch *d, const FlatView *fv,
                             const SpanIds *span, uint64_t page, hwaddr s, MemSize e)
{
    MemSize start = (MemSize)page << PAGE_BITS;
    unsigned from = s > start ? (unsigned)(s - start) : 0;
    unsigned to = e < start + PAGE_SIZE ? (unsigned)(e - start) : PAGE_SIZE;
    Subpage *sp;
    uint32_t id;
    int r = page_compose(d, fv, span, page, from, to, &sp, &id);
    if (r)
        return r;
    PageEntry old = leaf_for_page(d, page);
    const Subpage *old_sp = (old.ptr & SUBPAGE_FLAG) ? subpage_of(d, old, page) : NULL;
    for (unsigned i = 0; old_sp && i < old_sp->nr && r == 0; i++) {
        const MemoryRegionSection *sec = &d->sections[old_sp->piece[i].section];
        if (sec->mr && sec->offset_within_address_space >= s && section_end(sec) <= e)
            r = section_release(d, old_sp->piece[i].section);
    }
    if (r == 0 && old_sp)
        r = subpage_release(d, old.ptr & ~SUBPAGE_FLAG);
    if (r) {
        free(sp);
        return r;
    }
    return page_install(d, page, sp, id);
}

/* Sections and full pages of the view's ranges in the span (edge pages excluded). */
static int span_fill(AddressSpaceDispatch *d, const FlatView *fv, SpanIds *span,
                     uint64_t first_page, uint64_t end_page)
{
    uint64_t composed = UINT64_MAX;   /* last partial page built, to build each once */
    int r = 0;
    for (unsigned k = 0; k < span->nr && r == 0; k++) {
        const FlatRange *fr = &fv->ranges[span->first + k];
        MemSize end = flatrange_end(fr);
        uint64_t head = fr->addr >> PAGE_BITS;
        uint64_t full_first = (uint64_t)(((MemSize)fr->addr + PAGE_SIZE - 1) >> PAGE_BITS);
        uint64_t full_end = (uint64_t)(end >> PAGE_BITS);
        uint64_t tail = (uint64_t)((end - 1) >> PAGE_BITS);
        if (full_first < full_end)
            r = fill_pages(d, full_first, full_end - full_first,
                           (PageEntry){ .skip = 0, .ptr = span->ids[k] }, false);
        uint64_t partial[2] = { head, tail };
        bool is_partial[2] = { head < full_first, tail >= full_end };
        for (unsigned j = 0; j < 2 && r == 0; j++) {
            uint64_t p = partial[j];
            if (!is_partial[j] || p == composed || p < first_page || p >= end_page)
                continue;
            span->hint = span->first + k;
            r = page_build(d, fv, span, p);
            composed = p;
        }
    }
    return r;
}

/* Replace everything in [s, e) — boundaries of both the old map and fv — by fv's ranges. */
static int span_replace(AddressSpaceDispatch *d, FlatView *fv, MemSize s, MemSize e)
{
    SpanIds span = { .first = first_range_ending_after(fv, s, fv->nr), .hint = fv->nr };
    while (span.first + span.nr < fv->nr && fv->ranges[span.first + span.nr].addr < e)
        span.nr++;
    span.ids = malloc((span.nr ? span.nr : 1) * sizeof(uint32_t));
    if (!span.ids)
        return -ENOMEM;
    int r = 0;
    for (unsigned k = 0; k < span.nr && r == 0; k++) {
        r = section_alloc(d, &span.ids[k]);
        if (r == 0)
            d->sections[span.ids[k]] = flatrange_section(fv, &fv->ranges[span.first + k]);
    }
    uint64_t first_page = (uint64_t)((s + PAGE_SIZE - 1) >> PAGE_BITS);
    uint64_t end_page = (uint64_t)(e >> PAGE_BITS);
    uint64_t s_page = (uint64_t)(s >> PAGE_BITS), e_page = (uint64_t)(e >> PAGE_BITS);
    bool s_edge = s & (PAGE_SIZE - 1), e_edge = e & (PAGE_SIZE - 1);
    if (r == 0 && s_edge)
        r = edge_page_rebuild(d, fv, &span, s_page, (hwaddr)s, e);
    if (r == 0 && e_edge && !(s_edge && s_page == e_page))
        r = edge_page_rebuild(d, fv, &span, e_page, (hwaddr)s, e);
    if (r == 0 && first_page < end_page)
        r = fill_pages(d, first_page, end_page - first_page, HOLE_ENTRY, true);
    if (r == 0)
        r = span_fill(d, fv, &span, first_page, end_page);
    free(span.ids);
    return r;
}

/* Grow [*s, *e) until no old section and no range of fv straddles either end. */
static void span_widen(const AddressSpaceDispatch *d, const FlatView *fv, MemSize *s,
                       MemSize *e)
{
    bool changed;
    do {
        changed = false;
        const MemoryRegionSection *old = &d->sections[lookup_id(d, (hwaddr)*s)];
        unsigned i = first_range_ending_after(fv, *s, fv->nr);
        if (old->mr && old->offset_within_address_space < *s) {
            *s = old->offset_within_address_space;
            changed = true;
        }
        if (i < fv->nr && fv->ranges[i].addr < *s) {
            *s = fv->ranges[i].addr;
            changed = true;
        }
        MemSize last = *e - 1;
        old = &d->sections[lookup_id(d, (hwaddr)last)];
        i = first_range_ending_after(fv, last, fv->nr);
        if (old->mr && section_end(old) > *e) {
            *e = section_end(old);
            changed = true;
        }
        if (i < fv->nr && fv->ranges[i].addr <= last && flatrange_end(&fv->ranges[i]) > *e) {
            *e = flatrange_end(&fv->ranges[i]);
            changed = true;
        }
    } while (changed);
}

static void dispatch_retarget(AddressSpaceDispatch *d, FlatView *fv)
{
    if (d->fv != fv) {
        for (uint32_t i = 1; i < d->sections_nb; i++)
            if (d->sections[i].mr)
                d->sections[i].fv = fv;
        d->fv = fv;
    }
    d->mru = &d->sections[0];
}

static void dispatch_error(Error **errp, int err, const FlatView *fv, const char *what)
{
    if (err == -E2BIG)
        error_setg(errp, "%s: page map for %u ranges exceeds %u sections or nodes", what,
                   fv->nr, SECTION_LIMIT);
    else
        error_setg_errno(errp, -err, "%s: cannot allocate the page map for %u ranges",
                         what, fv->nr);
}

int address_space_dispatch_update(AddressSpaceDispatch *d, FlatView *fv, hwaddr start,
                                  MemSize size, Error **errp)
{
    MemSize s = start, e = s + size;
    if (e > MEMSIZE_2_64)
        e = MEMSIZE_2_64;
    int r = 0;
    d->mru = &d->sections[0];
    if (s < e) {
        span_widen(d, fv, &s, &e);
        r = span_replace(d, fv, s, e);
    }
    dispatch_retarget(d, fv);
    if (r)
        dispatch_error(errp, r, fv, "dispatch update");
    return r;
}

AddressSpaceDispatch *address_space_dispatch_new(FlatView *fv, Error **errp)
{
    AddressSpaceDispatch *d = calloc(1, sizeof(*d));
    int r = d ? grow((void **)&d->sections, &d->sections_alloc, fv->nr + 1,
                     sizeof(MemoryRegionSection), SECTION_LIMIT) : -ENOMEM;
    if (r == 0) {
        d->sections[0] = (MemoryRegionSection){ .fv = fv };   /* the hole */
        d->cursor_node = UINT32_MAX;
        d->sections_nb = 1;
        d->fv = fv;
        r = span_replace(d, fv, 0, MEMSIZE_2_64);
    }
    if (r) {
        dispatch_error(errp, r, fv, "dispatch build");
        address_space_dispatch_free(d);
        return NULL;
    }
    compact(d, ROOT_SLOT, ROOT_LEVEL);
    d->mru = &d->sections[0];
    return d;
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
