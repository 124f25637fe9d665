/*
 * tools/mockxen/xs_perms.c — xenstore node permissions: the "<letter><domid>" strings
 * of the wire protocol and the access rule xenstored applies to them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/xs_store.h"

static const char perm_letters[] = { [XS_ACCESS_NONE] = 'n', [XS_ACCESS_READ] = 'r',
                                     [XS_ACCESS_WRITE] = 'w', [XS_ACCESS_BOTH] = 'b' };

int xs_perm_parse(const char *s, XsPerm *out)
{
    unsigned domid;

    for (unsigned access = 0; access < sizeof(perm_letters); access++) {
        if (s[0] != perm_letters[access])
            continue;
        if (xs_parse_domid(s + 1, &domid) < 0)
            return -EINVAL;
        out->domid = (uint16_t)domid;
        out->access = (uint8_t)access;
        return 0;
    }
    return -EINVAL;
}

int xs_perm_format(const XsPerm *perm, char *buf, unsigned long size)
{
    return snprintf(buf, size, "%c%u", perm_letters[perm->access & XS_ACCESS_BOTH],
                    perm->domid);
}

bool xs_perms_allow(const XsPerms *perms, unsigned domid, unsigned want)
{
    if (domid == 0 || perms->entries[0].domid == domid)
        return true;
    for (unsigned i = 1; i < perms->count; i++)
        if (perms->entries[i].domid == domid)
            return (perms->entries[i].access & want) == want;
    return (perms->entries[0].access & want) == want;
}

int xs_perms_copy(XsPerms *dst, const XsPerms *src)
{
    XsPerm *entries = malloc(src->count * sizeof(*entries));

    if (!entries)
        return -ENOMEM;
    memcpy(entries, src->entries, src->count * sizeof(*entries));
    dst->entries = entries;
    dst->count = src->count;
    return 0;
}

void xs_perms_clear(XsPerms *perms)
{
    free(perms->entries);
    perms->entries = NULL;
    perms->count = 0;
}
