/*
 * xen/xen_store.c — xenstore for what the toolstack describes there: reads, writes,
 * listings and watches, for the devices libxl writes for the domain
 * (dm/xenstore_devices.c), on the XenDM's connection or on one of their own.
 *
 * Every call is one round trip to xenstored: bounded, so the event loop may make them.
 * Watch events are taken without blocking (xs_check_watch) once xs_fileno's fd is
 * readable. libxenstore starts its reader thread with the first watch and creates the
 * fd's pipe on the first xs_fileno: both happen at start-up, before the sandbox forbids
 * creating threads and pipes (docs/SECURITY.md).
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <string.h>

XenStore *xen_dm_xenstore(XenDM *xd)
{
    return xd->xs;
}

XenStore *xen_store_open(Error **errp)
{
    XenStore *xs = xs_open(0);
    if (!xs)
        error_setg_errno(errp, errno ? errno : EIO, "cannot open xenstore");
    return xs;
}

void xen_store_close(XenStore *xs)
{
    if (xs)
        xs_close(xs);
}

char *xen_store_read(XenStore *xs, const char *path)
{
    unsigned int len;
    return xs_read(xs, XBT_NULL, path, &len);
}

int xen_store_write(XenStore *xs, const char *path, const char *value, Error **errp)
{
    if (!xs_write(xs, XBT_NULL, path, value, strlen(value))) {
        int err = errno ? errno : EIO;
        error_setg_errno(errp, err, "cannot write '%s' to xenstore %s", value, path);
        return -err;
    }
    return 0;
}

char **xen_store_directory(XenStore *xs, const char *path, unsigned *nr)
{
    unsigned int n = 0;
    char **list = xs_directory(xs, XBT_NULL, path, &n);
    *nr = list ? n : 0;
    return list;
}

int xen_store_watch(XenStore *xs, const char *path, const char *token, Error **errp)
{
    if (!xs_watch(xs, path, token)) {
        int err = errno ? errno : EIO;
        error_setg_errno(errp, err, "cannot watch xenstore %s", path);
        return -err;
    }
    return 0;
}

void xen_store_unwatch(XenStore *xs, const char *path, const char *token)
{
    xs_unwatch(xs, path, token);
}

int xen_store_watch_fd(XenStore *xs, Error **errp)
{
    int fd = xs_fileno(xs);
    if (fd < 0) {
        int err = errno ? errno : EIO;
        error_setg_errno(errp, err, "cannot get xenstore's watch fd");
        return -err;
    }
    return fd;
}

char **xen_store_next_watch(XenStore *xs)
{
    return xs_check_watch(xs);
}
