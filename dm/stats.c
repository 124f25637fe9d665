/*
 * dm/stats.c — xendm's counters, one "name value" per line, for the demo, the tests
 * and anyone debugging a guest.
 */
#include "dm/dm.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "util/log.h"

void dm_print_stats(Dm *dm, FILE *out)
{
    if (dm->xen) {
        const XenDMStats *x = xen_dm_stats(dm->xen);
        const IoreqExecCtx *e = xen_dm_exec_ctx(dm->xen);
        fprintf(out, "ioreq.wakeups %" PRIu64 "\n", x->wakeups);
        fprintf(out, "ioreq.sync %" PRIu64 "\n", x->sync_ioreqs);
        fprintf(out, "ioreq.buffered %" PRIu64 "\n", x->buffered_ioreqs);
        fprintf(out, "ioreq.rejected %" PRIu64 "\n", e->rejected);
        fprintf(out, "ioreq.split %" PRIu64 "\n", e->split);
        fprintf(out, "ioreq.waits %" PRIu64 "\n", e->waits);
        fprintf(out, "ioreq.dropped %" PRIu64 "\n", e->dropped);
        fprintf(out, "xen.ranges_mapped %" PRIu64 "\n", x->ranges_mapped);
        fprintf(out, "xen.ranges_unmapped %" PRIu64 "\n", x->ranges_unmapped);
        fprintf(out, "xen.ranges_refused %" PRIu64 "\n", x->ranges_refused);
        fprintf(out, "xen.modified_memory_calls %" PRIu64 "\n", x->modified_memory_calls);
        fprintf(out, "xen.modified_memory_pages %" PRIu64 "\n", x->modified_memory_pages);
    }
    fprintf(out, "loop.max_busy_us %" PRIu64 "\n", dm->loop_max_busy_ns / 1000);
    if (dm->mapcache) {
        MapCacheStats m;
        mapcache_get_stats(dm->mapcache, &m);
        fprintf(out, "mapcache.hits %" PRIu64 "\n", m.hits);
        fprintf(out, "mapcache.misses %" PRIu64 "\n", m.misses);
        fprintf(out, "mapcache.maps %" PRIu64 "\n", m.maps);
        fprintf(out, "mapcache.unmaps %" PRIu64 "\n", m.unmaps);
        fprintf(out, "mapcache.evictions %" PRIu64 "\n", m.evictions);
        fprintf(out, "mapcache.invalidations %" PRIu64 "\n", m.invalidations);
    }
    if (dm->as_ready) {
        fprintf(out, "memory.unassigned_reads %" PRIu64 "\n", dm->as_mem.unassigned_reads);
        fprintf(out, "memory.unassigned_writes %" PRIu64 "\n", dm->as_mem.unassigned_writes);
        fprintf(out, "io.unassigned_reads %" PRIu64 "\n", dm->as_io.unassigned_reads);
        fprintf(out, "io.unassigned_writes %" PRIu64 "\n", dm->as_io.unassigned_writes);
    }
}

int dm_stats_open(Dm *dm, Error **errp)
{
    const char *path = dm->opts.stats_file;
    if (!path)
        return 0;
    dm->stats_out = strcmp(path, "-") == 0 ? stderr : fopen(path, "we");
    if (!dm->stats_out) {
        int err = errno;
        error_setg_errno(errp, err, "cannot open '%s'", path);
        return -err;
    }
    return 0;
}

void dm_write_stats(Dm *dm)
{
    FILE *f = dm->stats_out;
    if (!f)
        return;
    dm_print_stats(dm, f);
    if (f != stderr && dm->as_ready) {
        fprintf(f, "\n# mtree\n");
        mtree_print(f, &dm->as_mem);
        mtree_print(f, &dm->as_io);
        fprintf(f, "\n# flat view\n");
        mtree_print_flatview(f, &dm->as_mem);
        mtree_print_flatview(f, &dm->as_io);
    }
    fflush(f);
}

void dm_stats_close(Dm *dm)
{
    FILE *f = dm->stats_out;
    dm->stats_out = NULL;
    if (f && f != stderr && fclose(f) != 0)
        log_error("cannot write the statistics file '%s': %s", dm->opts.stats_file,
                  strerror(errno));
}
