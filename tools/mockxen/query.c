/* tools/mockxen/query.c — control-interface commands (see query.h). */
#include "tools/mockxen/query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define DIRTY_QUERY_MAX (1u << 20)

static void print_status(MxDomain *d, FILE *out)
{
    MxDomainInfo info;
    mx_domain_info(d, &info);
    fprintf(out, "domid %u\nvcpus %u\npopulated %" PRIu64 "\ncrashed %u\nshutdown %u\n"
            "servers-enabled %u\n", info.domid, info.nr_online_vcpus, info.nr_pages,
            info.crashed, info.shutdown, mx_server_count_enabled(d));
    pthread_mutex_lock(&d->lock);
    fprintf(out, "log-dirty %s\n", d->log_dirty ? "on" : "off");
    if (d->crashed)
        fprintf(out, "crash-reason %s\n", d->crash_reason);
    pthread_mutex_unlock(&d->lock);
}

static void print_irqs(MxDomain *d, FILE *out)
{
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 0; i < 16; i++)
        if (d->isa_level[i])
            fprintf(out, "isa %u high\n", i);
    for (unsigned dev = 0; dev < MX_PCI_DEVICES; dev++)
        for (unsigned pin = 0; pin < 4; pin++)
            if (d->intx_level[dev][pin])
                fprintf(out, "intx 0000:00:%02x pin %u high\n", dev, pin);
    fprintf(out, "msi-pending %u\n", d->msi_count);
    pthread_mutex_unlock(&d->lock);
}

/* Every range of every ioreq server, as Xen's rangesets hold them (inclusive). */
static void print_ranges(MxDomain *d, FILE *out)
{
    static const char *const type_names[MX_NR_RANGE_TYPES] = { "port", "mmio", "pci" };
    pthread_mutex_lock(&d->lock);
    for (unsigned id = 0; id < MX_MAX_SERVERS; id++) {
        const MxIoreqServer *s = &d->servers[id];
        if (!s->used)
            continue;
        fprintf(out, "server %u %s\n", id, s->enabled ? "enabled" : "disabled");
        for (unsigned t = 0; t < MX_NR_RANGE_TYPES; t++)
            for (unsigned i = 0; i < s->ranges[t].nr; i++)
                fprintf(out, "  %-4s 0x%" PRIx64 "-0x%" PRIx64 "\n", type_names[t],
                        s->ranges[t].r[i].start, s->ranges[t].r[i].end);
    }
    pthread_mutex_unlock(&d->lock);
}

static int print_dirty(MxDomain *d, const char *args, FILE *out, Error **errp)
{
    char *end;
    uint64_t first = strtoull(args, &end, 0);
    uint64_t nr = end != args ? strtoull(end, &end, 0) : 0;
    if (*end != '\0' || nr == 0 || nr > DIRTY_QUERY_MAX) {
        error_setg_errno(errp, EINVAL, "dirty '%s': expected FIRST NR with 0 < NR <= %u",
                         args, DIRTY_QUERY_MAX);
        return -EINVAL;
    }
    const unsigned bits = 8 * sizeof(unsigned long);
    unsigned long *bitmap = calloc((nr + bits - 1) / bits, sizeof(unsigned long));
    if (!bitmap) {
        error_setg_errno(errp, ENOMEM, "dirty bitmap of %" PRIu64 " frames", nr);
        return -ENOMEM;
    }
    int rc = mx_domain_dirty_bitmap(d, first, nr, false, bitmap, errp);
    for (uint64_t i = 0; rc == 0 && i < nr; i++)
        if (bitmap[i / bits] & (1ul << (i % bits)))
            fprintf(out, "0x%" PRIx64 "\n", first + i);
    free(bitmap);
    return rc;
}

int mx_query_answer(MxDomain *d, const MxStats *stats, const char *cmd, FILE *out,
                    Error **errp)
{
    if (strcmp(cmd, "counters") == 0 || strcmp(cmd, "counters-all") == 0) {
        mx_stats_print(stats, out, strcmp(cmd, "counters-all") == 0);
    } else if (strcmp(cmd, "status") == 0) {
        print_status(d, out);
    } else if (strcmp(cmd, "irqs") == 0) {
        print_irqs(d, out);
    } else if (strcmp(cmd, "ranges") == 0) {
        print_ranges(d, out);
    } else if (strcmp(cmd, "log-dirty on") == 0 || strcmp(cmd, "log-dirty off") == 0) {
        mx_domain_set_log_dirty(d, strcmp(cmd, "log-dirty on") == 0);
    } else if (strncmp(cmd, "dirty ", 6) == 0) {
        return print_dirty(d, cmd + 6, out, errp);
    } else {
        error_setg_errno(errp, EINVAL, "unknown query '%s' (counters, counters-all, status, "
                         "irqs, ranges, log-dirty on|off, dirty FIRST NR)", cmd);
        return -EINVAL;
    }
    return 0;
}
