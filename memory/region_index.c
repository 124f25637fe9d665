/*
 * memory/region_index.c — a container's children indexed by address.
 *
 * Rendering a window of an address space and checking a new child for overlaps both
 * ask "which children intersect [start, end)?". A container may hold 10^5 children,
 * so walking the priority-ordered list is too slow. Children up to NARROW_MAX bytes
 * are kept in an array sorted by address together with the largest size ever held
 * there (reset when the array empties): a query binary-searches for the first child
 * that can reach the window and scans until children start past it. Wider children
 * (typically a handful: backgrounds, big RAM) sit in a list that every query scans.
 *
 * The index holds every child, enabled or not; callers filter. It must be told about a
 * child before its addr or size changes (remove) and after (insert).
 */
#include "memory/memory-internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NARROW_MAX ((MemSize)1 << 32)

struct MemoryRegionChildIndex {
    MemoryRegion **narrow;      /* sorted by addr */
    size_t nr_narrow, cap_narrow;
    MemSize max_narrow;
    MemoryRegion **wide;
    size_t nr_wide, cap_wide;
};

static bool is_narrow(const MemoryRegion *child)
{
    return child->size <= NARROW_MAX;
}

/* First index in narrow[] whose addr is >= addr. */
static size_t narrow_lower_bound(const struct MemoryRegionChildIndex *ix, MemSize addr)
{
    size_t lo = 0, hi = ix->nr_narrow;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((MemSize)ix->narrow[mid]->addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int child_index_insert(MemoryRegion *container, MemoryRegion *child)
{
    struct MemoryRegionChildIndex *ix = container->child_index;
    if (!ix) {
        ix = calloc(1, sizeof(*ix));
        if (!ix)
            return -ENOMEM;
        container->child_index = ix;
    }
    if (!is_narrow(child)) {
        if (memory_vec_reserve((void **)&ix->wide, &ix->cap_wide, ix->nr_wide + 1,
                               sizeof(*ix->wide)) < 0)
            return -ENOMEM;
        ix->wide[ix->nr_wide++] = child;
        return 0;
    }
    if (memory_vec_reserve((void **)&ix->narrow, &ix->cap_narrow, ix->nr_narrow + 1,
                           sizeof(*ix->narrow)) < 0)
        return -ENOMEM;
    size_t pos = narrow_lower_bound(ix, (MemSize)child->addr + 1);
    memmove(&ix->narrow[pos + 1], &ix->narrow[pos],
            (ix->nr_narrow - pos) * sizeof(*ix->narrow));
    ix->narrow[pos] = child;
    ix->nr_narrow++;
    if (child->size > ix->max_narrow)
        ix->max_narrow = child->size;
    return 0;
}

int child_index_reserve_move(MemoryRegion *container)
{
    struct MemoryRegionChildIndex *ix = container->child_index;
    assert(ix);
    if (memory_vec_reserve((void **)&ix->wide, &ix->cap_wide, ix->nr_wide + 1,
                           sizeof(*ix->wide)) < 0 ||
        memory_vec_reserve((void **)&ix->narrow, &ix->cap_narrow, ix->nr_narrow + 1,
                           sizeof(*ix->narrow)) < 0)
        return -ENOMEM;
    return 0;
}

static void remove_at(MemoryRegion **arr, size_t *nr, size_t pos)
{
    memmove(&arr[pos], &arr[pos + 1], (*nr - pos - 1) * sizeof(*arr));
    (*nr)--;
}

void child_index_remove(MemoryRegion *container, MemoryRegion *child)
{
    struct MemoryRegionChildIndex *ix = container->child_index;
    assert(ix);
    if (!is_narrow(child)) {
        for (size_t i = 0; i < ix->nr_wide; i++) {
            if (ix->wide[i] == child) {
                remove_at(ix->wide, &ix->nr_wide, i);
                return;
            }
        }
    } else {
        for (size_t i = narrow_lower_bound(ix, child->addr);
             i < ix->nr_narrow && ix->narrow[i]->addr == child->addr; i++) {
            if (ix->narrow[i] == child) {
                remove_at(ix->narrow, &ix->nr_narrow, i);
                if (!ix->nr_narrow)
                    ix->max_narrow = 0;
                return;
            }
        }
    }
    assert(!"child missing from its container's index");
}

static bool intersects(const MemoryRegion *child, MemSize start, MemSize end)
{
    return (MemSize)child->addr < end && (MemSize)child->addr + child->size > start;
}

int child_index_query(const MemoryRegion *container, MemSize start, MemSize end,
                      MemoryRegion ***out, size_t *nr, size_t *cap)
{
    const struct MemoryRegionChildIndex *ix = container->child_index;
    if (!ix)
        return 0;
    for (size_t i = 0; i < ix->nr_wide; i++) {
        if (!intersects(ix->wide[i], start, end))
            continue;
        if (memory_vec_reserve((void **)out, cap, *nr + 1, sizeof(**out)) < 0)
            return -ENOMEM;
        (*out)[(*nr)++] = ix->wide[i];
    }
    MemSize from = start > ix->max_narrow ? start - ix->max_narrow : 0;
    for (size_t i = narrow_lower_bound(ix, from);
         i < ix->nr_narrow && (MemSize)ix->narrow[i]->addr < end; i++) {
        if (!intersects(ix->narrow[i], start, end))
            continue;
        if (memory_vec_reserve((void **)out, cap, *nr + 1, sizeof(**out)) < 0)
            return -ENOMEM;
        (*out)[(*nr)++] = ix->narrow[i];
    }
    return 0;
}

void child_index_free(MemoryRegion *container)
{
    struct MemoryRegionChildIndex *ix = container->child_index;
    if (!ix)
        return;
    free(ix->narrow);
    free(ix->wide);
    free(ix);
    container->child_index = NULL;
}
