/* util/error.c — see error.h. */
#include "util/error.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* With no memory for a message, a failure is still reported: every such Error is this
 * one shared, static Error, which error_free() leaves alone. It says less, nothing more
 * is lost. */
static Error error_no_memory = { ENOMEM, "out of memory (no room for the message)" };

__attribute__((format(printf, 2, 0)))
static Error *error_new(int errnum, const char *fmt, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    if (n < 0)
        n = snprintf(buf, sizeof(buf), "(unformattable error message)");
    if (errnum) {
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof(buf) - used, ": %s", strerror(errnum));
    }
    size_t len = strlen(buf);
    Error *err = malloc(sizeof(*err) + len + 1);
    if (!err)
        return &error_no_memory;
    err->errnum = errnum;
    memcpy(err->msg, buf, len + 1);
    return err;
}

void error_vsetg(Error **errp, int errnum, const char *fmt, va_list ap)
{
    if (!errp)
        return;
    assert(*errp == NULL && "error set twice");
    *errp = error_new(errnum, fmt, ap);
}

void error_setg(Error **errp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vsetg(errp, 0, fmt, ap);
    va_end(ap);
}

void error_setg_errno(Error **errp, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vsetg(errp, errnum, fmt, ap);
    va_end(ap);
}

void error_prepend(Error **errp, const char *fmt, ...)
{
    if (!errp || !*errp)
        return;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    Error *old = *errp;
    *errp = NULL;
    error_setg(errp, "%s: %s", prefix, old->msg);
    if (*errp != &error_no_memory)
        (*errp)->errnum = old->errnum;
    error_free(old);
}

void error_propagate(Error **dst, Error *src)
{
    if (!src)
        return;
    if (dst && !*dst)
        *dst = src;
    else
        error_free(src);
}

const char *error_get_pretty(const Error *err)
{
    return err ? err->msg : "(no error)";
}

void error_free(Error *err)
{
    if (err != &error_no_memory)
        free(err);
}
