/*
 * memory/as_update.c — bringing an address space's FlatView up to date at a commit.
 *
 * Each pending span is first widened to whole ranges of the current view (a window),
 * windows that overlap or touch are joined, then every window is handled alone:
 * render the tree inside it, join the rendered edge ranges with the neighbours they
 * continue (so the view stays maximally merged, exactly as a full render), diff the
 * old ranges of the window against the new ones, and splice. Outside the windows
 * nothing changed, so the result equals a full render (the randomized test checks
 * that). A full update is the window [0, 2^64).
 *
 * The view is edited in place when only the address space holds it; otherwise a copy
 * becomes the new current view and readers keep the old one intact. Every step that
 * can fail (rendering, reserving room) runs before the window's view is touched.
 */
#include "memory/memory-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Same placement and attributes except the dirty log mask, as QEMU's flatrange_equal. */
static bool flatrange_same(const FlatRange *a, const FlatRange *b)
{
    return a->mr == b->mr && a->addr == b->addr && a->size == b->size
        && a->offset_in_region == b->offset_in_region && a->romd_mode == b->romd_mode
        && a->readonly == b->readonly;
}

static int push_change(FlatViewChange **v, size_t *nr, size_t *cap,
                       enum flatview_change_kind kind, const FlatRange *fr, uint8_t old_mask)
{
    if (memory_vec_reserve((void **)v, cap, *nr + 1, sizeof(**v)) < 0)
        return -ENOMEM;
    (*v)[(*nr)++] = (FlatViewChange){ kind, *fr, old_mask };
    return 0;
}

/* Diff old[0..nold) against new[0..nnew), both sorted, as QEMU's topology pass. */
static int diff_ranges(const FlatRange *old, size_t nold, const FlatRange *new,
                       size_t nnew, FlatViewChanges *c)
{
    size_t i = 0, j = 0;
    int ret = 0;
    while ((i < nold || j < nnew) && !ret) {
        const FlatRange *o = i < nold ? &old[i] : NULL, *n = j < nnew ? &new[j] : NULL;
        if (o && (!n || o->addr < n->addr || (o->addr == n->addr && !flatrange_same(o, n)))) {
            ret = push_change(&c->dels, &c->nr_dels, &c->cap_dels, FV_CHANGE_DEL, o, 0);
            i++;
        } else if (o && n && flatrange_same(o, n)) {
            ret = push_change(&c->adds, &c->nr_adds, &c->cap_adds, FV_CHANGE_NOP, n,
                              o->dirty_log_mask);
            i++, j++;
        } else {
            ret = push_change(&c->adds, &c->nr_adds, &c->cap_adds, FV_CHANGE_ADD, n, 0);
            j++;
        }
    }
    return ret;
}

static int ioeventfd_push(IoeventfdVec *v, const MemoryRegionIoeventfd *e)
{
    if (memory_vec_reserve((void **)&v->e, &v->cap, v->nr + 1, sizeof(*v->e)) < 0)
        return -ENOMEM;
    v->e[v->nr++] = *e;
    return 0;
}

/* The ioeventfds that ranges[0..nr) make visible, address-space relative, sorted. */
static int collect_ioeventfds(const FlatRange *ranges, size_t nr, IoeventfdVec *out)
{
    for (size_t i = 0; i < nr; i++) {
        const FlatRange *fr = &ranges[i];
        for (unsigned k = 0; k < fr->mr->ioeventfd_nb; k++) {
            MemoryRegionIoeventfd e = fr->mr->ioeventfds[k];
            if (e.addr < fr->offset_in_region ||
                (MemSize)e.addr >= (MemSize)fr->offset_in_region + fr->size)
                continue;
            e.addr = fr->addr + (e.addr - fr->offset_in_region);
            if (ioeventfd_push(out, &e) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

/* Diff two sorted ioeventfd lists into c. */
static int diff_ioeventfds(const MemoryRegionIoeventfd *old, size_t nold,
                           const IoeventfdVec *new, FlatViewChanges *c)
{
    size_t i = 0, j = 0;
    while (i < nold || j < new->nr) {
        int cmp = i >= nold ? 1 : j >= new->nr ? -1
                : memory_ioeventfd_compare(&old[i], &new->e[j]);
        int ret = 0;
        if (cmp < 0)
            ret = ioeventfd_push(&c->efd_dels, &old[i++]);
        else if (cmp > 0)
            ret = ioeventfd_push(&c->efd_adds, &new->e[j++]);
        else
            i++, j++;
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* [first, last) of as->ioeventfds with addr in [start, end). */
static void ioeventfd_slice(const AddressSpace *as, MemSize start, MemSize end,
                            size_t *first, size_t *last)
{
    size_t lo = 0, hi = as->ioeventfd_nb;        /* first addr >= start */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((MemSize)as->ioeventfds[mid].addr < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i = lo;
    *first = i;
    while (i < as->ioeventfd_nb && (MemSize)as->ioeventfds[i].addr < end)
        i++;
    *last = i;
}

static int splice_ioeventfds(AddressSpace *as, size_t first, size_t last,
                             const IoeventfdVec *new)
{
    size_t nr = as->ioeventfd_nb - (last - first) + new->nr;
    if (nr > as->ioeventfd_nb) {
        MemoryRegionIoeventfd *e = realloc(as->ioeventfds, nr * sizeof(*e));
        if (!e)
            return -ENOMEM;
        as->ioeventfds = e;
    }
    if (as->ioeventfd_nb > last)
        memmove(&as->ioeventfds[first + new->nr], &as->ioeventfds[last],
                (as->ioeventfd_nb - last) * sizeof(*as->ioeventfds));
    if (new->nr)
        memcpy(&as->ioeventfds[first], new->e, new->nr * sizeof(*new->e));
    as->ioeventfd_nb = (unsigned)nr;
    return 0;
}

/* Replace ranges [i0, i1) of fv by n. Room was reserved by the caller. */
static void splice_ranges(FlatView *fv, size_t i0, size_t i1, const FlatRangeVec *n)
{
    if (fv->nr > i1)
        memmove(&fv->ranges[i0 + n->nr], &fv->ranges[i1],
                (fv->nr - i1) * sizeof(*fv->ranges));
    if (n->nr)
        memcpy(&fv->ranges[i0], n->r, n->nr * sizeof(*n->r));
    fv->nr = (unsigned)(fv->nr - (i1 - i0) + n->nr);
}

static int reserve_ranges(FlatView *fv, size_t need)
{
    size_t cap = fv->nr_allocated;
    if (memory_vec_reserve((void **)&fv->ranges, &cap, need, sizeof(*fv->ranges)) < 0)
        return -ENOMEM;
    fv->nr_allocated = (unsigned)cap;
    return 0;
}

/* Join the rendered edge ranges n with the neighbours of fv->ranges[*i0, *i1) they
 * continue: the neighbours then count as replaced, so the view stays fully merged. */
static void merge_edges(const FlatView *fv, FlatRangeVec *n, size_t *i0, size_t *i1)
{
    if (!n->nr)
        return;
    if (*i0 > 0 && flatrange_can_merge(&fv->ranges[*i0 - 1], &n->r[0])) {
        const FlatRange *left = &fv->ranges[--*i0];
        n->r[0].addr = left->addr;
        n->r[0].offset_in_region = left->offset_in_region;
        n->r[0].size += left->size;
    }
    if (*i1 < fv->nr && flatrange_can_merge(&n->r[n->nr - 1], &fv->ranges[*i1]))
        n->r[n->nr - 1].size += fv->ranges[(*i1)++].size;
}

/* The addresses that old ranges old[0, nold) and new ranges n cover, with w. */
static MemSpan covered_span(MemSpan w, const FlatRange *old, size_t nold,
                            const FlatRangeVec *n)
{
    if (nold && old[0].addr < w.start)
        w.start = old[0].addr;
    if (n->nr && n->r[0].addr < w.start)
        w.start = n->r[0].addr;
    if (nold && flatrange_end(&old[nold - 1]) > w.end)
        w.end = flatrange_end(&old[nold - 1]);
    if (n->nr && flatrange_end(&n->r[n->nr - 1]) > w.end)
        w.end = flatrange_end(&n->r[n->nr - 1]);
    return w;
}

/* Re-render *window of fv (which covers whole ranges), record the differences in c and
 * splice the new ranges and ioeventfds in. *window becomes the span that actually
 * changed (it grows when edge ranges merge). On failure nothing changed, c included. */
static int update_window(AddressSpace *as, FlatView *fv, MemSpan *window,
                         FlatViewChanges *c, Error **errp)
{
    const FlatViewChanges before = *c;
    FlatRangeVec n = { 0 };
    IoeventfdVec efds = { 0 };
    int ret = flatview_render_window(as->root, window->start, window->end, &n, errp);
    if (ret < 0)
        goto out;
    size_t i0 = flatview_first_ending_after(fv, window->start), i1 = i0;
    while (i1 < fv->nr && fv->ranges[i1].addr < window->end)
        i1++;
    merge_edges(fv, &n, &i0, &i1);
    /* An empty view or ioeventfd list has NULL arrays: NULL + 0 is undefined in C. */
    const FlatRange *old = fv->ranges ? fv->ranges + i0 : NULL;
    MemSpan changed = covered_span(*window, old, i1 - i0, &n);
    size_t efirst, elast;
    ioeventfd_slice(as, changed.start, changed.end, &efirst, &elast);
    ret = collect_ioeventfds(n.r, n.nr, &efds);
    if (!ret)
        ret = diff_ranges(old, i1 - i0, n.r, n.nr, c);
    if (!ret)
        ret = diff_ioeventfds(as->ioeventfds ? as->ioeventfds + efirst : NULL, elast - efirst,
                              &efds, c);
    if (!ret)
        ret = reserve_ranges(fv, fv->nr - (i1 - i0) + n.nr);
    if (!ret)
        ret = splice_ioeventfds(as, efirst, elast, &efds);
    if (ret < 0) {
        error_setg(errp, "cannot update the view of '%s': out of memory", as->name);
        c->nr_dels = before.nr_dels;            /* forget this window's events */
        c->nr_adds = before.nr_adds;
        c->efd_dels.nr = before.efd_dels.nr;
        c->efd_adds.nr = before.efd_adds.nr;
        goto out;
    }
    splice_ranges(fv, i0, i1, &n);
    *window = changed;
out:
    free(n.r);
    free(efds.e);
    return ret;
}

/*
 * Must window w be handled together with the window before it? Yes when they overlap
 * or touch, and also when exactly one range separates them: that range may merge with
 * the new edge ranges of both windows, and the second merge would delete a range the
 * first window only just announced.
 */
static bool joins(const FlatView *fv, const MemSpan *prev, const MemSpan *w)
{
    if (prev->end >= w->start)
        return true;
    size_t k = flatview_first_ending_after(fv, prev->end);
    return k < fv->nr && fv->ranges[k].addr == prev->end
        && flatrange_end(&fv->ranges[k]) == w->start;
}

/* Widen spans to whole ranges of fv and join the ones that overlap, touch, or are
 * separated by a single range (see joins()). */
static int make_windows(const FlatView *fv, const MemSpan *spans, size_t nr,
                        MemSpan **out, size_t *nr_out)
{
    size_t cap = 0;
    *out = NULL;
    *nr_out = 0;
    for (size_t i = 0; i < nr; i++) {
        MemSpan w = spans[i];
        size_t k = flatview_first_ending_after(fv, w.start);
        if (k < fv->nr && fv->ranges[k].addr < w.start)
            w.start = fv->ranges[k].addr;
        k = flatview_first_ending_after(fv, w.end - 1);
        if (k < fv->nr && fv->ranges[k].addr < w.end && flatrange_end(&fv->ranges[k]) > w.end)
            w.end = flatrange_end(&fv->ranges[k]);
        if (*nr_out && joins(fv, &(*out)[*nr_out - 1], &w)) {
            if (w.end > (*out)[*nr_out - 1].end)
                (*out)[*nr_out - 1].end = w.end;
            continue;
        }
        if (memory_vec_reserve((void **)out, &cap, *nr_out + 1, sizeof(**out)) < 0)
            return -ENOMEM;
        (*out)[(*nr_out)++] = w;
    }
    return 0;
}

/* The view to edit: the current one if nobody else holds it, else a private copy. */
static FlatView *view_for_update(AddressSpace *as)
{
    FlatView *cur = as->current_map;
    if (cur->ref == 1)
        return cur;
    FlatView *fv = flatview_new(as->root);
    if (!fv)
        return NULL;
    if (cur->nr && reserve_ranges(fv, cur->nr) < 0) {
        free(fv);
        return NULL;
    }
    if (cur->nr)
        memcpy(fv->ranges, cur->ranges, cur->nr * sizeof(*cur->ranges));
    fv->nr = cur->nr;
    return fv;
}

/*
 * Bring fv's dispatch up to date: span by span when fv kept its dispatch (edited in
 * place), else (a new copy, or the span update failed) a full build. A span update
 * that fails may leave the map half edited, so that map is dropped whatever happens
 * next; if the full build fails too, fv has no dispatch and lookups search the
 * FlatView itself (slower, still right) until a later commit builds one.
 */
static int rebuild_dispatch(FlatView *fv, const MemSpan *changed, size_t nr, Error **errp)
{
    int ret = 0;
    for (size_t i = 0; i < nr && fv->dispatch && !ret; i++) {
        Error *err = NULL;
        ret = address_space_dispatch_update(fv->dispatch, fv, (hwaddr)changed[i].start,
                                            changed[i].end - changed[i].start, &err);
        error_free(err);
    }
    if (fv->dispatch && !ret)
        return 0;
    if (fv->dispatch) {
        address_space_dispatch_free(fv->dispatch);
        fv->dispatch = NULL;
    }
    fv->dispatch = address_space_dispatch_new(fv, errp);
    return fv->dispatch ? 0 : -ENOMEM;
}

static bool changes_alter_ranges(const FlatViewChanges *c)
{
    if (c->nr_dels)
        return true;
    for (size_t i = 0; i < c->nr_adds; i++)
        if (c->adds[i].kind == FV_CHANGE_ADD)
            return true;
    return false;
}

int address_space_update(AddressSpace *as, const MemSpan *spans, size_t nr_spans, bool full,
                         Error **errp)
{
    static const MemSpan everything = { 0, MEMSIZE_2_64 };
    FlatViewChanges c = { 0 };
    MemSpan *windows = NULL;
    size_t nr_windows = 0;
    FlatView *fv = view_for_update(as);
    int ret = fv ? 0 : -ENOMEM;
    if (!ret && full)
        ret = make_windows(fv, &everything, 1, &windows, &nr_windows);
    else if (!ret)
        ret = make_windows(fv, spans, nr_spans, &windows, &nr_windows);
    if (ret < 0)
        error_setg(errp, "cannot update the view of '%s': out of memory", as->name);
    size_t nr_done = 0;
    for (; nr_done < nr_windows && !ret; nr_done++)
        ret = update_window(as, fv, &windows[nr_done], &c, errp);
    if (fv && (fv != as->current_map || !fv->dispatch || changes_alter_ranges(&c))) {
        Error *derr = NULL;
        if (rebuild_dispatch(fv, windows, nr_done, &derr) < 0) {
            if (!ret)
                error_propagate(errp, derr);
            else
                error_free(derr);
            ret = -ENOMEM;
        }
        if (fv != as->current_map) {
            FlatView *old = as->current_map;
            as->current_map = fv;
            flatview_unref(old);
        }
    }
    free(windows);
    if (fv)
        memory_listeners_announce(as, as->current_map, &c);
    flatview_changes_free(&c);
    return ret;
}
