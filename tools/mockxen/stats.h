/*
 * tools/mockxen/stats.h — the daemon's side of the shared counter page (kinds.h):
 * creating it, arming faults from the command line, naming kinds, printing.
 *
 * The page is owned by the daemon (mx_stats_create/mx_stats_destroy); its memfd is
 * handed to every shim that says hello. Functions return 0 / -errno with an Error.
 */
#ifndef MOCKXEN_STATS_H
#define MOCKXEN_STATS_H

#include <stdbool.h>
#include <stdio.h>

#include "tools/mockxen/kinds.h"
#include "util/error.h"

typedef struct MxStats {
    MxStatsPage *page;
    int fd;
} MxStats;

int mx_stats_create(MxStats *stats, Error **errp);
void mx_stats_destroy(MxStats *stats);

/* Name of kind k ("xendevicemodel_map_io_range_to_ioreq_server", "guest_ioreq"). */
const char *mx_kind_name(enum MxKind k);
/* Is kind k modelled (false: its function fails with ENOSYS)? */
bool mx_kind_modelled(enum MxKind k);
/* Look a kind up by its full name or by the part after the library prefix
 * ("modified_memory"). -ENOENT if unknown, -EINVAL if the short name is ambiguous. */
int mx_kind_lookup(const char *name, enum MxKind *out);

/* An errno as a name (EIO) or a number (1..4095): 0, or -EINVAL. */
int mx_parse_errno(const char *s, int *out);
/* "--fail KIND:N:ERRNO" (ERRNO as a number or a name such as EIO). */
int mx_stats_arm_fail(MxStats *stats, const char *spec, Error **errp);
/* "--die-at KIND:N": the Nth call of KIND kills the daemon. */
int mx_stats_arm_die(MxStats *stats, const char *spec, Error **errp);
/* "--drop-event N": the Nth event towards a device model is lost. */
int mx_stats_arm_drop(MxStats *stats, const char *spec, Error **errp);

uint64_t mx_stats_count(const MxStats *stats, enum MxKind k);
/* One "name count" line per kind that was called (all kinds if `all`). */
void mx_stats_print(const MxStats *stats, FILE *out, bool all);

#endif
