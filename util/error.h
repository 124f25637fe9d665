/*
 * util/error.h — error reporting through an Error ** out parameter.
 *
 * Functions that can fail return 0 / -errno (or NULL) and, when the caller passes a
 * non-NULL `Error **errp`, store a heap-allocated Error whose message says what failed
 * and with which values. The caller owns the Error and releases it with error_free().
 * Passing NULL means "I do not want the message". An Error is set at most once: setting
 * one over an existing Error is a programming error (assert). Out of memory, the Error
 * is a shared static one saying so (error_free() knows it): reporting never aborts.
 */
#ifndef XENDM_UTIL_ERROR_H
#define XENDM_UTIL_ERROR_H

#include <stdarg.h>

typedef struct Error {
    int errnum;         /* positive errno that best describes the failure, or 0 */
    char msg[];         /* NUL-terminated human-readable message */
} Error;

/* Set *errp (if errp != NULL) to a new Error with a printf-style message. */
void error_setg(Error **errp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, remembering errnum; the message gets ": <strerror(errnum)>" appended. */
void error_setg_errno(Error **errp, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void error_vsetg(Error **errp, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Prefix an existing message: "prefix: old message". No-op if errp or *errp is NULL. */
void error_prepend(Error **errp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Move src into *dst (or free it if dst is NULL). */
void error_propagate(Error **dst, Error *src);
const char *error_get_pretty(const Error *err);
void error_free(Error *err);

#endif
