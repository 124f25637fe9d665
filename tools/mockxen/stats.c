/* tools/mockxen/stats.c — counters and fault injection (see stats.h, kinds.h). */
#include "tools/mockxen/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/macros.h"

#define STATS_BYTES ((sizeof(MxStatsPage) + 4095) & ~(size_t)4095)

static const struct {
    const char *name;
    bool modelled;
} kinds[MX_KIND_NR] = {
#define MX_KIND_ENTRY(n, m) [MX_KIND_##n] = { #n, m },
    MX_KINDS(MX_KIND_ENTRY)
#undef MX_KIND_ENTRY
};

static const struct {
    const char *name;
    int value;
} errno_names[] = {
    { "EPERM", EPERM }, { "ENOENT", ENOENT }, { "ESRCH", ESRCH }, { "EINTR", EINTR },
    { "EIO", EIO }, { "E2BIG", E2BIG }, { "EBADF", EBADF }, { "EAGAIN", EAGAIN },
    { "ENOMEM", ENOMEM }, { "EACCES", EACCES }, { "EFAULT", EFAULT }, { "EBUSY", EBUSY },
    { "EEXIST", EEXIST }, { "ENODEV", ENODEV }, { "EINVAL", EINVAL }, { "ENOSPC", ENOSPC },
    { "ENOSYS", ENOSYS }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ETIMEDOUT", ETIMEDOUT },
};

int mx_stats_create(MxStats *stats, Error **errp)
{
    stats->fd = memfd_create("mockxen-stats", MFD_CLOEXEC);
    if (stats->fd < 0 || ftruncate(stats->fd, STATS_BYTES) < 0) {
        error_setg_errno(errp, errno, "creating the counter page");
        if (stats->fd >= 0)
            close(stats->fd);
        return -errno;
    }
    stats->page = mmap(NULL, STATS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, stats->fd, 0);
    if (stats->page == MAP_FAILED) {
        int err = errno;
        error_setg_errno(errp, err, "mapping the counter page");
        close(stats->fd);
        return -err;
    }
    stats->page->magic = MX_STATS_MAGIC;
    stats->page->nr_kinds = MX_KIND_NR;
    return 0;
}

void mx_stats_destroy(MxStats *stats)
{
    if (stats->page)
        munmap(stats->page, STATS_BYTES);
    if (stats->fd >= 0)
        close(stats->fd);
    stats->page = NULL;
    stats->fd = -1;
}

const char *mx_kind_name(enum MxKind k)
{
    return k < MX_KIND_NR ? kinds[k].name : "?";
}

bool mx_kind_modelled(enum MxKind k)
{
    return k < MX_KIND_NR && kinds[k].modelled;
}

int mx_kind_lookup(const char *name, enum MxKind *out)
{
    int found = -1;
    for (int k = 0; k < MX_KIND_NR; k++) {
        if (strcmp(kinds[k].name, name) == 0) {
            *out = k;
            return 0;
        }
        const char *us = strchr(kinds[k].name, '_');
        if (us && strcmp(us + 1, name) == 0 && strncmp(kinds[k].name, "xc_", 3) != 0 &&
            strncmp(kinds[k].name, "guest", 5) != 0) {
            if (found >= 0)
                return -EINVAL;
            found = k;
        }
    }
    if (found < 0)
        return -ENOENT;
    *out = found;
    return 0;
}

/* Parse "KIND:N" into kind and count; rest points after N (at ':' or '\0'). */
static int parse_kind_count(const char *spec, enum MxKind *kind, uint64_t *n,
                            const char **rest, Error **errp)
{
    const char *colon = strchr(spec, ':');
    char name[64];
    if (!colon || (size_t)(colon - spec) >= sizeof(name)) {
        error_setg_errno(errp, EINVAL, "fault spec '%s': expected KIND:N", spec);
        return -EINVAL;
    }
    memcpy(name, spec, colon - spec);
    name[colon - spec] = '\0';
    int rc = mx_kind_lookup(name, kind);
    if (rc) {
        error_setg_errno(errp, -rc, "fault spec '%s': unknown call kind '%s'", spec, name);
        return rc;
    }
    char *end;
    errno = 0;
    *n = strtoull(colon + 1, &end, 0);
    if (errno || end == colon + 1 || *n == 0 || (*end && *end != ':')) {
        error_setg_errno(errp, EINVAL, "fault spec '%s': N must be a positive number", spec);
        return -EINVAL;
    }
    *rest = end;
    return 0;
}

int mx_parse_errno(const char *s, int *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++) {
        if (strcmp(errno_names[i].name, s) == 0) {
            *out = errno_names[i].value;
            return 0;
        }
    }
    char *end;
    long v = strtol(s, &end, 0);
    if (*s == '\0' || *end || v <= 0 || v > 4095)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

int mx_stats_arm_fail(MxStats *stats, const char *spec, Error **errp)
{
    enum MxKind k;
    uint64_t n;
    const char *rest;
    int err, rc = parse_kind_count(spec, &k, &n, &rest, errp);
    if (rc)
        return rc;
    if (*rest != ':' || mx_parse_errno(rest + 1, &err)) {
        error_setg_errno(errp, EINVAL, "fault spec '%s': expected KIND:N:ERRNO", spec);
        return -EINVAL;
    }
    stats->page->kind[k].fail_at = n;
    stats->page->kind[k].fail_errno = err;
    return 0;
}

int mx_stats_arm_die(MxStats *stats, const char *spec, Error **errp)
{
    enum MxKind k;
    uint64_t n;
    const char *rest;
    int rc = parse_kind_count(spec, &k, &n, &rest, errp);
    if (rc)
        return rc;
    if (*rest) {
        error_setg_errno(errp, EINVAL, "die spec '%s': expected KIND:N", spec);
        return -EINVAL;
    }
    stats->page->kind[k].die_at = n;
    return 0;
}

int mx_stats_arm_drop(MxStats *stats, const char *spec, Error **errp)
{
    char *end;
    errno = 0;
    uint64_t n = strtoull(spec, &end, 0);
    if (errno || *spec == '\0' || *end || n == 0) {
        error_setg_errno(errp, EINVAL, "--drop-event '%s': expected a positive number", spec);
        return -EINVAL;
    }
    stats->page->kind[MX_KIND_event_to_dm].fail_at = n;
    stats->page->kind[MX_KIND_event_to_dm].fail_errno = 0;
    return 0;
}

uint64_t mx_stats_count(const MxStats *stats, enum MxKind k)
{
    return __atomic_load_n(&stats->page->kind[k].calls, __ATOMIC_RELAXED);
}

void mx_stats_print(const MxStats *stats, FILE *out, bool all)
{
    for (int k = 0; k < MX_KIND_NR; k++) {
        uint64_t n = mx_stats_count(stats, k);
        if (n || all)
            fprintf(out, "%s %" PRIu64 "%s\n", kinds[k].name, n,
                    kinds[k].modelled ? "" : " (ENOSYS)");
    }
}
