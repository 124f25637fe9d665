/*
 * memory/flatview.c — rendering a region tree into sorted, non-overlapping ranges.
 *
 * Rendering has two steps. First a depth-first walk from the root, clipped to the
 * requested window, collects "pieces": for every terminating region that is enabled
 * and intersects the window, its extent clipped by every container and alias on the
 * way (an alias places its target at alias address - alias_offset). The walk visits
 * children highest priority first (later-added first among equals) and a region's own
 * piece after its children, so a piece's index is its precedence: lower wins, exactly
 * as QEMU's "fill only the gaps" rendering. Second, a sweep over piece starts with a
 * min-heap of active pieces emits, between consecutive boundaries, the winning piece,
 * and merges adjacent output of the same region when contiguous in the region and
 * equal in attributes. The walk only descends into children that intersect the window
 * (region_index.c), so rendering a small window of a huge tree is cheap.
 *
 * FlatViews are reference counted; the last unref frees the ranges and the dispatch.
 */
#include "memory/memory-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 SignedAddr;    /* a region placed through an alias may start below 0 */

typedef struct RenderPiece {
    MemSize start, end;         /* clipped extent in the address space */
    MemoryRegion *mr;
    hwaddr offset;              /* offset in mr at start */
    bool readonly;
} RenderPiece;

typedef struct RenderCtx {
    RenderPiece *pieces;
    size_t nr_pieces, cap_pieces;
    MemoryRegion **cand;        /* a stack of children candidates, one frame per level */
    size_t nr_cand, cap_cand;
    int err;
} RenderCtx;

static int compare_precedence(const void *pa, const void *pb)
{
    const MemoryRegion *a = *(MemoryRegion *const *)pa, *b = *(MemoryRegion *const *)pb;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    return a->add_seq > b->add_seq ? -1 : a->add_seq < b->add_seq;
}

static void add_piece(RenderCtx *ctx, MemSize start, MemSize end, MemoryRegion *mr,
                      hwaddr offset, bool readonly)
{
    if (memory_vec_reserve((void **)&ctx->pieces, &ctx->cap_pieces, ctx->nr_pieces + 1,
                           sizeof(*ctx->pieces)) < 0) {
        ctx->err = -ENOMEM;
        return;
    }
    ctx->pieces[ctx->nr_pieces++] = (RenderPiece){ start, end, mr, offset, readonly };
}

static void render_region(RenderCtx *ctx, MemoryRegion *mr, SignedAddr base,
                          MemSize clip_start, MemSize clip_end, bool readonly);

/* Are the children in address order without overlaps? Their precedence then cannot
 * matter (their pieces are disjoint), and sorting them by it can be skipped. */
static bool children_disjoint(MemoryRegion *const *c, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if ((MemSize)c[i - 1]->addr + c[i - 1]->size > c[i]->addr)
            return false;
    return true;
}

static void render_children(RenderCtx *ctx, MemoryRegion *mr, SignedAddr base,
                            MemSize start, MemSize end, bool readonly)
{
    size_t frame = ctx->nr_cand;
    if (child_index_query(mr, (MemSize)((SignedAddr)start - base),
                          (MemSize)((SignedAddr)end - base),
                          &ctx->cand, &ctx->nr_cand, &ctx->cap_cand) < 0) {
        ctx->err = -ENOMEM;
        return;
    }
    size_t n = ctx->nr_cand - frame;
    if (n > 1 && !children_disjoint(&ctx->cand[frame], n))
        qsort(&ctx->cand[frame], n, sizeof(*ctx->cand), compare_precedence);
    for (size_t i = 0; i < n && !ctx->err; i++) {
        MemoryRegion *child = ctx->cand[frame + i];     /* re-read: recursion may realloc */
        render_region(ctx, child, base + (SignedAddr)child->addr, start, end, readonly);
    }
    ctx->nr_cand = frame;
}

static void render_region(RenderCtx *ctx, MemoryRegion *mr, SignedAddr base,
                          MemSize clip_start, MemSize clip_end, bool readonly)
{
    if (ctx->err || !mr->enabled)
        return;
    readonly |= mr->readonly;
    SignedAddr s = base > (SignedAddr)clip_start ? base : (SignedAddr)clip_start;
    SignedAddr e = base + (SignedAddr)mr->size;
    if (e > (SignedAddr)clip_end)
        e = (SignedAddr)clip_end;
    if (s >= e)
        return;
    if (mr->kind == MR_KIND_ALIAS) {
        render_region(ctx, mr->alias, base - (SignedAddr)mr->alias_offset,
                      (MemSize)s, (MemSize)e, readonly);
        return;
    }
    render_children(ctx, mr, base, (MemSize)s, (MemSize)e, readonly);
    if (mr->terminates)
        add_piece(ctx, (MemSize)s, (MemSize)e, mr, (hwaddr)(s - base), readonly);
}

/* ---- sweep: pieces → ranges ------------------------------------------------------ */

uint8_t memory_region_effective_log_mask(const MemoryRegion *mr)
{
    uint8_t mask = mr->dirty_log_mask;
    if (memory_global_dirty_log_active() && memory_region_is_ram(mr))
        mask |= 1u << DIRTY_MEMORY_MIGRATION;
    return mask;
}

bool flatrange_can_merge(const FlatRange *a, const FlatRange *b)
{
    return a->mr == b->mr && flatrange_end(a) == b->addr
        && (MemSize)a->offset_in_region + a->size == b->offset_in_region
        && a->dirty_log_mask == b->dirty_log_mask && a->romd_mode == b->romd_mode
        && a->readonly == b->readonly;
}

int flatrange_vec_append(FlatRangeVec *v, const FlatRange *fr)
{
    if (v->nr && flatrange_can_merge(&v->r[v->nr - 1], fr)) {
        v->r[v->nr - 1].size += fr->size;
        return 0;
    }
    if (memory_vec_reserve((void **)&v->r, &v->cap, v->nr + 1, sizeof(*v->r)) < 0)
        return -ENOMEM;
    v->r[v->nr++] = *fr;
    return 0;
}

static void emit(const RenderPiece *p, MemSize from, MemSize to, FlatRangeVec *out, int *err)
{
    FlatRange fr = {
        .mr = p->mr,
        .offset_in_region = p->offset + (hwaddr)(from - p->start),
        .addr = (hwaddr)from,
        .size = to - from,
        .dirty_log_mask = memory_region_effective_log_mask(p->mr),
        .romd_mode = p->mr->romd_mode,
        .readonly = p->readonly,
    };
    if (flatrange_vec_append(out, &fr) < 0)
        *err = -ENOMEM;
}

static int compare_piece_start(const void *pa, const void *pb, void *pieces)
{
    const RenderPiece *p = pieces;
    MemSize a = p[*(const size_t *)pa].start, b = p[*(const size_t *)pb].start;
    return a < b ? -1 : a > b;
}

/* Min-heap of piece indexes (lower index = higher precedence). */
static void heap_push(size_t *heap, size_t *n, size_t v)
{
    size_t i = (*n)++;
    while (i && heap[(i - 1) / 2] > v) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = v;
}

static void heap_pop(size_t *heap, size_t *n)
{
    size_t v = heap[--(*n)], i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && heap[c + 1] < heap[c])
            c++;
        if (heap[c] >= v)
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (*n)
        heap[i] = v;
}

static int sweep(const RenderCtx *ctx, FlatRangeVec *out)
{
    size_t np = ctx->nr_pieces;
    if (!np)
        return 0;
    size_t *order = malloc(np * sizeof(*order));
    size_t *heap = malloc(np * sizeof(*heap));
    if (!order || !heap) {
        free(order);
        free(heap);
        return -ENOMEM;
    }
    for (size_t i = 0; i < np; i++)
        order[i] = i;
    qsort_r(order, np, sizeof(*order), compare_piece_start, ctx->pieces);

    const RenderPiece *p = ctx->pieces;
    size_t next_start = 0, nheap = 0;
    MemSize pos = 0;
    int err = 0;
    while ((next_start < np || nheap) && !err) {
        if (!nheap)
            pos = p[order[next_start]].start;
        while (next_start < np && p[order[next_start]].start <= pos)
            heap_push(heap, &nheap, order[next_start++]);
        while (nheap && p[heap[0]].end <= pos)
            heap_pop(heap, &nheap);
        if (!nheap)
            continue;
        MemSize to = p[heap[0]].end;
        if (next_start < np && p[order[next_start]].start < to)
            to = p[order[next_start]].start;
        emit(&p[heap[0]], pos, to, out, &err);
        pos = to;
    }
    free(order);
    free(heap);
    return err;
}

int flatview_render_window(MemoryRegion *root, MemSize start, MemSize end,
                           FlatRangeVec *out, Error **errp)
{
    RenderCtx ctx = { 0 };
    if (root)
        render_region(&ctx, root, 0, start, end, false);
    int ret = ctx.err ? ctx.err : sweep(&ctx, out);
    free(ctx.pieces);
    free(ctx.cand);
    if (ret < 0)
        error_setg(errp, "cannot render the memory tree of '%s': out of memory",
                   root ? memory_region_name(root) : "(none)");
    return ret;
}

/* ---- FlatView objects ------------------------------------------------------------ */

FlatView *flatview_new(MemoryRegion *root)
{
    FlatView *fv = calloc(1, sizeof(*fv));
    if (fv) {
        fv->ref = 1;
        fv->root = root;
    }
    return fv;
}

FlatView *flatview_render(MemoryRegion *root, Error **errp)
{
    FlatView *fv = flatview_new(root);
    if (!fv) {
        error_setg(errp, "cannot allocate a FlatView for '%s'",
                   root ? memory_region_name(root) : "(none)");
        return NULL;
    }
    FlatRangeVec v = { 0 };
    if (flatview_render_window(root, 0, MEMSIZE_2_64, &v, errp) < 0) {
        free(v.r);
        free(fv);
        return NULL;
    }
    flatview_adopt_ranges(fv, &v);
    return fv;
}

void flatview_adopt_ranges(FlatView *fv, FlatRangeVec *v)
{
    free(fv->ranges);
    fv->ranges = v->r;
    fv->nr = (unsigned)v->nr;
    fv->nr_allocated = (unsigned)v->cap;
    *v = (FlatRangeVec){ 0 };
}

void flatview_ref(FlatView *fv)
{
    fv->ref++;
}

void flatview_unref(FlatView *fv)
{
    if (!fv || --fv->ref)
        return;
    if (fv->dispatch)
        address_space_dispatch_free(fv->dispatch);
    free(fv->ranges);
    free(fv);
}

/* Index of the first range whose end is above addr (fv->nr if none). */
size_t flatview_first_ending_after(const FlatView *fv, MemSize addr)
{
    size_t lo = 0, hi = fv->nr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (flatrange_end(&fv->ranges[mid]) <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
