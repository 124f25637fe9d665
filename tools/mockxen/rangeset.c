/*
 * tools/mockxen/rangeset.c — inclusive ranges kept sorted and merged, with Xen's
 * per-rangeset limit, for ioreq server port/MMIO/PCI claims.
 */
#include <errno.h>
#include <string.h>

#include "tools/mockxen/mockxen.h"

/* Index of the first range whose end is >= addr (nr if none). */
static unsigned first_ending_at_or_after(const MxRangeSet *rs, uint64_t addr)
{
    unsigned lo = 0, hi = rs->nr;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (rs->r[mid].end < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool mx_rangeset_overlaps(const MxRangeSet *rs, uint64_t start, uint64_t end)
{
    unsigned i = first_ending_at_or_after(rs, start);
    return i < rs->nr && rs->r[i].start <= end;
}

bool mx_rangeset_contains(const MxRangeSet *rs, uint64_t start, uint64_t end)
{
    unsigned i = first_ending_at_or_after(rs, start);
    return start <= end && i < rs->nr && rs->r[i].start <= start && rs->r[i].end >= end;
}

static void remove_at(MxRangeSet *rs, unsigned i)
{
    memmove(&rs->r[i], &rs->r[i + 1], (rs->nr - i - 1) * sizeof(rs->r[0]));
    rs->nr--;
}

static void insert_at(MxRangeSet *rs, unsigned i, uint64_t start, uint64_t end)
{
    memmove(&rs->r[i + 1], &rs->r[i], (rs->nr - i) * sizeof(rs->r[0]));
    rs->r[i] = (MxRange){ start, end };
    rs->nr++;
}

int mx_rangeset_add(MxRangeSet *rs, uint64_t start, uint64_t end)
{
    if (start > end)
        return -EINVAL;
    if (mx_rangeset_overlaps(rs, start, end))
        return -EEXIST;
    unsigned i = first_ending_at_or_after(rs, start);   /* first range after us */
    bool join_prev = i > 0 && rs->r[i - 1].end + 1 == start;
    bool join_next = i < rs->nr && end != UINT64_MAX && rs->r[i].start == end + 1;
    if (join_prev && join_next) {
        rs->r[i - 1].end = rs->r[i].end;
        remove_at(rs, i);
    } else if (join_prev) {
        rs->r[i - 1].end = end;
    } else if (join_next) {
        rs->r[i].start = start;
    } else {
        if (rs->nr == MX_MAX_RANGES)
            return -ENOMEM;
        insert_at(rs, i, start, end);
    }
    return 0;
}

int mx_rangeset_remove(MxRangeSet *rs, uint64_t start, uint64_t end)
{
    if (!mx_rangeset_contains(rs, start, end))
        return -ENOENT;
    unsigned i = first_ending_at_or_after(rs, start);
    MxRange *r = &rs->r[i];
    if (r->start == start && r->end == end) {
        remove_at(rs, i);
    } else if (r->start == start) {
        r->start = end + 1;
    } else if (r->end == end) {
        r->end = start - 1;
    } else {
        if (rs->nr == MX_MAX_RANGES)
            return -ENOMEM;
        uint64_t old_end = r->end;
        r->end = start - 1;
        insert_at(rs, i + 1, end + 1, old_end);
    }
    return 0;
}
