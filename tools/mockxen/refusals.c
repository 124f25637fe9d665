/*
 * tools/mockxen/refusals.c — places Xen will not have an ioreq server range: fault
 * injection by address (--refuse-range), where --fail picks a call by its number.
 *
 * A device model whose guest moves a BAR somewhere Xen refuses must cope with the
 * refusal (and with the range being accepted once it moves again). The rules come from
 * the command line through MxDomainConfig and never change afterwards, so the check
 * needs no lock.
 */
#include <errno.h>
#include <string.h>

#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/stats.h"
#include "util/parse.h"

/* TYPE up to the first ':' of spec; *rest is what follows that ':'. */
static int parse_type(const char *spec, uint32_t *type, const char **rest)
{
    const char *colon = strchr(spec, ':');
    if (!colon)
        return -EINVAL;
    for (uint32_t t = 0; t < MX_NR_RANGE_TYPES; t++) {
        const char *name = mx_range_type_name(t);
        if (strlen(name) == (size_t)(colon - spec) && !strncmp(spec, name, colon - spec)) {
            *type = t;
            *rest = colon + 1;
            return 0;
        }
    }
    return -EINVAL;
}

/* "START-END[:ERRNO]" into r. */
static int parse_bounds(const char *text, MxRefusal *r)
{
    char buf[64];
    const char *dash = strchr(text, '-'), *colon = strchr(text, ':');
    if (!dash || (colon && colon < dash) || strlen(text) >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, text, strlen(text) + 1);
    buf[dash - text] = '\0';
    if (colon)
        buf[colon - text] = '\0';
    r->err = EPERM;
    if (parse_u64(buf, UINT64_MAX, &r->start, NULL) ||
        parse_u64(buf + (dash - text) + 1, UINT64_MAX, &r->end, NULL) || r->start > r->end ||
        (colon && mx_parse_errno(colon + 1, &r->err)))
        return -EINVAL;
    return 0;
}

int mx_refusal_add(MxDomainConfig *cfg, const char *spec, Error **errp)
{
    MxRefusal r;
    const char *rest;
    if (parse_type(spec, &r.type, &rest) || parse_bounds(rest, &r)) {
        error_setg_errno(errp, EINVAL, "refusal '%s': expected TYPE:START-END[:ERRNO] with "
                         "TYPE port, memory or pci and START <= END", spec);
        return -EINVAL;
    }
    if (cfg->nr_refusals == MX_MAX_REFUSALS) {
        error_setg_errno(errp, ENOSPC, "refusal '%s': at most %d", spec, MX_MAX_REFUSALS);
        return -ENOSPC;
    }
    cfg->refusals[cfg->nr_refusals++] = r;
    return 0;
}

const MxRefusal *mx_refusal_find(const MxDomain *d, uint32_t type, uint64_t start,
                                 uint64_t end)
{
    for (unsigned i = 0; i < d->nr_refusals; i++) {
        const MxRefusal *r = &d->refusals[i];
        if (r->type == type && start <= r->end && r->start <= end)
            return r;
    }
    return NULL;
}
