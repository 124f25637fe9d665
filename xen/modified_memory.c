/*
 * xen/modified_memory.c — tell Xen's log-dirty machinery which guest pages device
 * emulation wrote.
 *
 * QEMU sends one xendevicemodel_modified_memory call per write. We collect the pages a
 * request (or a DMA) touches into extents, merging each new range into the previous
 * extent when they touch or overlap, and send them all in one
 * xendevicemodel_modified_memory_bulk call when the request is done (or the batch is
 * full). Reporting is off unless log-dirty mode is on.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "util/log.h"

void xen_dm_set_log_dirty(XenDM *xd, bool on)
{
    if (!on)
        xen_modified_memory_flush(xd);
    xd->log_dirty = on;
}

/*
 * Merge pages [first, last] into the batch: into the last extent when the range touches
 * or overlaps it, else as a new extent. Returns how many pages from `first` on were
 * taken; fewer than asked only when the batch is full (the caller flushes and retries).
 */
static uint64_t dirty_batch_add(XenDM *xd, uint64_t first, uint64_t last)
{
    uint64_t want = last - first + 1;       /* pfns are < 2^52: no overflow */
    if (xd->dirty_batch_nr) {
        struct xen_dm_op_modified_memory_extent *prev = &xd->dirty_batch[xd->dirty_batch_nr - 1];
        uint64_t end = prev->first_pfn + prev->nr;              /* exclusive */
        if (first >= prev->first_pfn && first <= end) {
            if (last < end)
                return want;                                    /* already covered */
            uint64_t add = last + 1 - end, room = UINT32_MAX - prev->nr;
            if (add > room)
                add = room;
            prev->nr += (uint32_t)add;
            return end + add - first;
        }
    }
    if (xd->dirty_batch_nr == XEN_DIRTY_BATCH)
        return 0;
    uint64_t take = want > UINT32_MAX ? UINT32_MAX : want;
    xd->dirty_batch[xd->dirty_batch_nr++] =
        (struct xen_dm_op_modified_memory_extent){ .first_pfn = first, .nr = (uint32_t)take };
    return take;
}

void xen_modified_memory(XenDM *xd, uint64_t start, uint64_t len)
{
    log_debug("modified memory 0x%" PRIx64 "+0x%" PRIx64 " (log-dirty %s)", start, len,
              xd->log_dirty ? "on" : "off");
    if (!xd->log_dirty || len == 0)
        return;
    uint64_t first = start >> 12;
    uint64_t last = start + len - 1 < start ? UINT64_MAX >> 12 : (start + len - 1) >> 12;
    for (;;) {
        uint64_t taken = dirty_batch_add(xd, first, last);
        if (taken > last - first)
            return;
        first += taken;
        xen_modified_memory_flush(xd);
    }
}

void xen_modified_memory_flush(XenDM *xd)
{
    if (xd->dirty_batch_nr == 0)
        return;
    unsigned nr = xd->dirty_batch_nr;
    uint64_t pages = 0;
    for (unsigned i = 0; i < nr; i++)
        pages += xd->dirty_batch[i].nr;
    xd->dirty_batch_nr = 0;
    xd->stats.modified_memory_calls++;
    xd->stats.modified_memory_pages += pages;
    if (xendevicemodel_modified_memory_bulk(xd->dmod, xd->cfg.domid, xd->dirty_batch, nr) < 0)
        log_ratelimited(&xd->loop_log, LOG_WARN,
                        "cannot report %" PRIu64 " dirty pages in %u extents: %s", pages, nr,
                        strerror(errno));
}
