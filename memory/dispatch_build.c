/*
 * memory/dispatch_build.c — building and updating the dispatch page map from a
 * FlatView.
 *
 * Sections are one per FlatRange, copied out of the view (which may later be edited in
 * place, see memory-internal.h) and named by stable ids. A full build replaces the span
 * [0, 2^64) of an empty map. An incremental update first widens its span until no old
 * section and no new range straddles its ends, then replaces just that span: the
 * sections, subpages and nodes inside are freed and the view's ranges there get new
 * sections. Pages the span shares with its neighbours keep their pieces outside the
 * span untouched, so the windows of one commit can be brought up to date one after
 * the other. Updates leave skips expanded where they walked; only full builds compact.
 */
#include "memory/dispatch-internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
    return (unsigned)flatview_first_ending_after(fv, addr);
}

/* A page's mapping under construction: pieces in offset order, neighbours with the
 * same section merged (so a page one section covers ends up as a single piece). */
typedef struct PagePieces {
    unsigned nr;
    SubpagePiece piece[DISPATCH_PAGE_SIZE];
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
    PageEntry e = dispatch_leaf(d, page);
    const Subpage *sp =
        (e.ptr & DISPATCH_SUBPAGE_FLAG) ? dispatch_subpage_of(d, e, page) : NULL;
    if (!sp) {
        pieces_add(pp, from, dispatch_lookup_id(d, page << DISPATCH_PAGE_BITS));
        return;
    }
    unsigned i = dispatch_subpage_find(sp, from);
    for (; i < sp->nr && sp->piece[i].start < to; i++)
        pieces_add(pp, sp->piece[i].start > from ? sp->piece[i].start : from,
                   sp->piece[i].section);
}

/* Append the view's ranges at offsets [from, to) of the page; they are all in the
 * span (the span's ends are boundaries of the view). */
static void pieces_add_view(const FlatView *fv, const SpanIds *span, uint64_t page,
                            unsigned from, unsigned to, PagePieces *pp)
{
    hwaddr start = page << DISPATCH_PAGE_BITS;
    unsigned at = from;               /* offset up to which pieces are known */
    for (unsigned i = first_range_ending_after(fv, start + from, span->hint);
         i < fv->nr && fv->ranges[i].addr < (MemSize)start + to; i++) {
        const FlatRange *fr = &fv->ranges[i];
        unsigned lo = fr->addr > start + from ? (unsigned)(fr->addr - start) : from;
        assert(i >= span->first && i - span->first < span->nr);
        if (lo > at)
            pieces_add(pp, at, DISPATCH_HOLE_ID);
        pieces_add(pp, lo, span->ids[i - span->first]);
        MemSize fr_end = flatrange_end(fr);
        at = fr_end >= (MemSize)start + to ? to : (unsigned)(fr_end - start);
        if (at == to)
            break;
    }
    if (at < to)
        pieces_add(pp, at, DISPATCH_HOLE_ID);
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
    pieces_add_current(d, page, to, DISPATCH_PAGE_SIZE, &pp);
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
        int r = dispatch_subpage_store(d, sp, &id);
        if (r) {
            free(sp);
            return r;
        }
        id |= DISPATCH_SUBPAGE_FLAG;
    }
    return dispatch_fill_pages(d, page, 1, (PageEntry){ .skip = 0, .ptr = id }, false);
}

static int page_build(AddressSpaceDispatch *d, const FlatView *fv, const SpanIds *span,
                      uint64_t page)
{
    Subpage *sp;
    uint32_t id;
    int r = page_compose(d, fv, span, page, 0, DISPATCH_PAGE_SIZE, &sp, &id);
    return r ? r : page_install(d, page, sp, id);
}

/*
 * A page holding an end of the span [s, e): rebuild it, keeping the pieces outside the
 * span and freeing the sections inside.
 */
static int edge_page_rebuild(AddressSpaceDispatch *d, const FlatView *fv,
                             const SpanIds *span, uint64_t page, hwaddr s, MemSize e)
{
    MemSize start = (MemSize)page << DISPATCH_PAGE_BITS;
    unsigned from = s > start ? (unsigned)(s - start) : 0;
    unsigned to = e < start + DISPATCH_PAGE_SIZE ? (unsigned)(e - start) : DISPATCH_PAGE_SIZE;
    Subpage *sp;
    uint32_t id;
    int r = page_compose(d, fv, span, page, from, to, &sp, &id);
    if (r)
        return r;
    PageEntry old = dispatch_leaf(d, page);
    const Subpage *old_sp =
        (old.ptr & DISPATCH_SUBPAGE_FLAG) ? dispatch_subpage_of(d, old, page) : NULL;
    for (unsigned i = 0; old_sp && i < old_sp->nr && r == 0; i++) {
        const MemoryRegionSection *sec = &d->sections[old_sp->piece[i].section];
        if (sec->mr && sec->offset_within_address_space >= s && dispatch_section_end(sec) <= e)
            r = dispatch_section_release(d, old_sp->piece[i].section);
    }
    if (r == 0 && old_sp)
        r = dispatch_subpage_release(d, old.ptr & ~DISPATCH_SUBPAGE_FLAG);
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
        uint64_t head = fr->addr >> DISPATCH_PAGE_BITS;
        uint64_t full_first =
            (uint64_t)(((MemSize)fr->addr + DISPATCH_PAGE_SIZE - 1) >> DISPATCH_PAGE_BITS);
        uint64_t full_end = (uint64_t)(end >> DISPATCH_PAGE_BITS);
        uint64_t tail = (uint64_t)((end - 1) >> DISPATCH_PAGE_BITS);
        if (full_first < full_end)
            r = dispatch_fill_pages(d, full_first, full_end - full_first,
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
        r = dispatch_section_alloc(d, &span.ids[k]);
        if (r == 0)
            d->sections[span.ids[k]] = flatrange_section(fv, &fv->ranges[span.first + k]);
    }
    uint64_t first_page = (uint64_t)((s + DISPATCH_PAGE_SIZE - 1) >> DISPATCH_PAGE_BITS);
    uint64_t end_page = (uint64_t)(e >> DISPATCH_PAGE_BITS);
    uint64_t s_page = (uint64_t)(s >> DISPATCH_PAGE_BITS);
    uint64_t e_page = (uint64_t)(e >> DISPATCH_PAGE_BITS);
    bool s_edge = s & (DISPATCH_PAGE_SIZE - 1), e_edge = e & (DISPATCH_PAGE_SIZE - 1);
    if (r == 0 && s_edge)
        r = edge_page_rebuild(d, fv, &span, s_page, (hwaddr)s, e);
    if (r == 0 && e_edge && !(s_edge && s_page == e_page))
        r = edge_page_rebuild(d, fv, &span, e_page, (hwaddr)s, e);
    if (r == 0 && first_page < end_page)
        r = dispatch_fill_pages(d, first_page, end_page - first_page, DISPATCH_HOLE_ENTRY,
                                true);
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
        const MemoryRegionSection *old = &d->sections[dispatch_lookup_id(d, (hwaddr)*s)];
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
        old = &d->sections[dispatch_lookup_id(d, (hwaddr)last)];
        i = first_range_ending_after(fv, last, fv->nr);
        if (old->mr && dispatch_section_end(old) > *e) {
            *e = dispatch_section_end(old);
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
                   fv->nr, DISPATCH_SECTION_LIMIT);
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
    int r = d ? dispatch_grow((void **)&d->sections, &d->sections_alloc, fv->nr + 1,
                     sizeof(MemoryRegionSection), DISPATCH_SECTION_LIMIT) : -ENOMEM;
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
    dispatch_compact(d);
    d->mru = &d->sections[0];
    return d;
}

