/*
 * tools/mockxen/xs_path.c — xenstore path rules: which paths are legal, how relative
 * paths resolve, and the parent/child relation watches use.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "tools/mockxen/xs_store.h"

bool xs_path_is_child(const char *path, const char *parent)
{
    size_t plen = strlen(parent);

    if (strcmp(parent, "/") == 0)
        return path[0] == '/';
    return strncmp(path, parent, plen) == 0 && (path[plen] == '\0' || path[plen] == '/');
}

static bool path_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '/' || c == '_' || c == '@';
}

/* The syntax rules shared by absolute paths and "@special" watch names. */
static bool path_syntax_ok(const char *path)
{
    size_t len = strlen(path);

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!path_char_ok(path[i]))
            return false;
        if (path[i] == '/' && path[i + 1] == '/')
            return false;
    }
    return len == 1 || path[len - 1] != '/';
}

void xs_path_domain(char *buf, unsigned long size, unsigned domid)
{
    snprintf(buf, size, "/local/domain/%u", domid);
}

char *xs_path_canonical(const char *path, unsigned domid, bool allow_special)
{
    char *out;

    if (path[0] == '@') {
        if (!allow_special || !path_syntax_ok(path) || strchr(path, '/') ||
            strlen(path) > XENSTORE_REL_PATH_MAX) {
            errno = EINVAL;
            return NULL;
        }
        out = strdup(path);
    } else if (path[0] == '/') {
        if (!path_syntax_ok(path) || strlen(path) > XENSTORE_ABS_PATH_MAX) {
            errno = EINVAL;
            return NULL;
        }
        out = strdup(path);
    } else {
        char base[32];
        if (strlen(path) > XENSTORE_REL_PATH_MAX) {
            errno = EINVAL;
            return NULL;
        }
        xs_path_domain(base, sizeof(base), domid);
        if (asprintf(&out, "%s/%s", base, path) < 0)
            out = NULL;
        else if (!path_syntax_ok(out)) {
            free(out);
            errno = EINVAL;
            return NULL;
        }
    }
    if (!out)
        errno = ENOMEM;
    return out;
}

int xs_parse_domid(const char *s, unsigned *domid)
{
    unsigned long v = 0;

    if (*s == '\0' || strlen(s) > 5)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v > XS_DOMID_MAX)
        return -EINVAL;
    *domid = (unsigned)v;
    return 0;
}
