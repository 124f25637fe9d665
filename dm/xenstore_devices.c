/*
 * dm/xenstore_devices.c — --xenstore-devices: the virtio devices libxl describes in
 * xenstore for the domain, served as they come and go.
 *
 * Ownership: the DmXsDevices (dm->xsdev) tracks one entry per backend directory under
 * backend/virtio_disk/<domid> and backend/virtio/<domid>; a served entry's device sits
 * in a slot of dm->devices, made and destroyed only here (dm_machine_add_device,
 * dm_machine_remove_device), so its ranges come and go in memory transactions and its
 * fds join and leave the loop's set at the next turn (dm/event_loop.c).
 *
 * The handshake is a standalone backend's, as libxl waits for it
 * (libxl__wait_device_connection, libxl__initiate_device_generic_remove):
 *   - a backend directory whose state is 1 (Initialising) is checked
 *     (dm/xenstore_device_spec.c) and its device created, then the backend state
 *     becomes 2 (InitWait), which libxl waits for before it runs the guest;
 *   - a device xendm refuses gets an `error` node, "<errno> <message>" as Linux's
 *     xenbus_dev_error formats it, and state 6 (Closed): libxl then times out naming
 *     the device;
 *   - the toolstack removes a device by writing online=0 and state 5 (Closing) and
 *     waiting for 6 (Closed); a frontend that goes to Closing or Closed does the same.
 *     xendm destroys the device (its window then reads as unclaimed) and writes 6;
 *   - a backend directory that disappears takes its device with it;
 *   - a directory without a state node yet is not complete: it is looked at again at
 *     the next change (libxl writes everything in one transaction anyway).
 * When xendm stops it closes every backend it serves (state 6).
 *
 * Every change under the watched directories fires a watch; the handler takes up to a
 * budget of events and then compares xenstore with what it serves, once: a few
 * bounded round trips per device, on the loop thread (nothing else blocks).
 *
 * The sandbox: after start-up xendm cannot open a file (docs/SECURITY.md). A disk is
 * served only if its directory is there when xendm starts (its image is opened then,
 * in the start-up step); one added later is refused with an `error` node saying so,
 * unless the sandbox is off. Devices that open nothing (virtio-rng) are served whenever
 * they come. libxl itself refuses hotplug of specification=virtio disks.
 */
#include "dm/xenstore_devices.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/macros.h"

#define XSDEV_MAX DM_MAX_DEVICES
#define XSDEV_EVENT_BUDGET 64       /* watch events taken per loop turn */
#define XSDEV_KEYS 32               /* keys one parse may read */
#define XSDEV_PATH_MAX 160

typedef struct XsDev {
    bool used;
    enum xsdev_kind kind;
    unsigned devid;
    int slot;                       /* in dm->devices; -1: none (refused or closed) */
    int state;                      /* the backend state xendm last wrote; 0: none */
    char *frontend;                 /* the frontend directory, or NULL */
} XsDev;

struct DmXsDevices {
    XenStore *xs;                   /* the DM's connection at start-up, then watch_xs */
    XenStore *watch_xs;             /* owned: opened once the handles are restricted */
    bool late;                      /* start-up is over: the sandbox may be in place */
    char dir[XSDEV_NR_KINDS][64];   /* backend/<kind>/<domid> (relative: our domain) */
    char fe_dir[XSDEV_NR_KINDS][96];    /* /local/domain/<domid>/device/<kind> */
    XsDev dev[XSDEV_MAX];
};

static const char watch_token[] = "xendm-devices";

static void key_path(const DmXsDevices *x, const XsDev *d, const char *key, char *buf)
{
    snprintf(buf, XSDEV_PATH_MAX, "%s/%u/%s", x->dir[d->kind], d->devid, key);
}

/* The value of a key of d's backend directory (free() it), or NULL. */
static char *read_key(const DmXsDevices *x, const XsDev *d, const char *key)
{
    char path[XSDEV_PATH_MAX];
    key_path(x, d, key, path);
    return xen_store_read(x->xs, path);
}

/* A key as a number; -1 when absent or not a number. */
static int read_state(const DmXsDevices *x, const XsDev *d, const char *key)
{
    char *v = read_key(x, d, key);
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : -1;
    int state = v && *v && !*end && n >= 0 && n < 100 ? (int)n : -1;
    free(v);
    return state;
}

static void write_key(const DmXsDevices *x, const XsDev *d, const char *key, const char *value)
{
    char path[XSDEV_PATH_MAX];
    Error *err = NULL;
    key_path(x, d, key, path);
    if (xen_store_write(x->xs, path, value, &err) < 0) {
        log_warn("%s", error_get_pretty(err));
        error_free(err);
    }
}

static void set_state(DmXsDevices *x, XsDev *d, int state)
{
    char text[4];
    snprintf(text, sizeof(text), "%d", state);
    write_key(x, d, "state", text);
    d->state = state;
}

/* ---- the parse's view of a backend directory: each key read once, freed after ---- */

typedef struct KeyReader {
    const DmXsDevices *x;
    const XsDev *d;
    struct { const char *key; char *value; } got[XSDEV_KEYS];
    unsigned nr;
} KeyReader;

static const char *reader_get(void *opaque, const char *key)
{
    KeyReader *r = opaque;
    for (unsigned i = 0; i < r->nr; i++)
        if (strcmp(r->got[i].key, key) == 0)
            return r->got[i].value;
    if (r->nr == XSDEV_KEYS)
        return NULL;            /* not reached: a parse reads fewer keys */
    char *v = read_key(r->x, r->d, key);
    r->got[r->nr].key = key;
    r->got[r->nr++].value = v;
    return v;
}

static void reader_free(KeyReader *r)
{
    for (unsigned i = 0; i < r->nr; i++)
        free(r->got[i].value);
}

/* ---- one device ---- */

static void refuse(DmXsDevices *x, XsDev *d, int ret, Error *err)
{
    char text[600];
    snprintf(text, sizeof(text), "%d %s", -ret, error_get_pretty(err));
    log_warn("%s %u refused: %s", xsdev_kind_name[d->kind], d->devid, error_get_pretty(err));
    error_free(err);
    write_key(x, d, "error", text);
    set_state(x, d, XSDEV_STATE_CLOSED);
    d->slot = -1;
}

static void serve(Dm *dm, XsDev *d)
{
    DmXsDevices *x = dm->xsdev;
    Error *err = NULL;
    XsDevConfig cfg;
    KeyReader r = { .x = x, .d = d };
    int ret = xsdev_parse(d->kind, dm->opts.domid, dm->opts.machine, reader_get, &r, &cfg,
                          &err);
    reader_free(&r);
    if (ret == 0 && x->late && cfg.opens_file && dm->opts.sandbox) {
        error_setg(&err, "virtio_disk: a disk added after start-up cannot be opened: "
                   "xendm's sandbox forbids opening files once it runs (restart xendm "
                   "with the disk in xenstore, or run it with --sandbox off)");
        ret = -EPERM;
    }
    if (ret == 0) {
        ret = dm_machine_add_device(dm, cfg.spec, cfg.base, XSDEV_WINDOW, &err);
    }
    if (ret < 0) {
        refuse(x, d, ret, err);
        return;
    }
    d->slot = ret;
    free(d->frontend);
    d->frontend = read_key(x, d, "frontend");
    set_state(x, d, XSDEV_STATE_INITWAIT);
    log_info("%s %u served: %s", xsdev_kind_name[d->kind], d->devid, cfg.spec);
}

/* Destroy d's device (if any) and forget d. */
static void forget(Dm *dm, XsDev *d)
{
    if (d->slot >= 0)
        dm_machine_remove_device(dm, (unsigned)d->slot);
    free(d->frontend);
    *d = (XsDev){ .used = false };
}

/* The toolstack or the frontend is done with d: Closing, the device goes, Closed. */
static void close_device(Dm *dm, XsDev *d, int state_now)
{
    DmXsDevices *x = dm->xsdev;
    if (state_now != XSDEV_STATE_CLOSING)
        set_state(x, d, XSDEV_STATE_CLOSING);
    dm_machine_remove_device(dm, (unsigned)d->slot);
    d->slot = -1;
    set_state(x, d, XSDEV_STATE_CLOSED);
    log_info("%s %u closed", xsdev_kind_name[d->kind], d->devid);
}

static int frontend_state(const DmXsDevices *x, const XsDev *d)
{
    if (!d->frontend)
        return -1;
    char path[XSDEV_PATH_MAX];
    snprintf(path, sizeof(path), "%s/state", d->frontend);
    char *v = xen_store_read(x->xs, path);
    int state = v ? atoi(v) : -1;
    free(v);
    return state;
}

/* A directory first seen, or written anew after xendm closed or skipped it. */
static void consider(Dm *dm, XsDev *d)
{
    int state = read_state(dm->xsdev, d, "state");
    if (state == XSDEV_STATE_INITIALISING)
        serve(dm, d);
    else if (state >= 0 && d->state == 0)
        log_info("%s %u is in state %d, not 1 (Initialising): not served",
                 xsdev_kind_name[d->kind], d->devid, state);
}

/* A directory xendm knows: follow what the toolstack and the frontend write. */
static void follow(Dm *dm, XsDev *d)
{
    DmXsDevices *x = dm->xsdev;
    int state = read_state(x, d, "state");
    if (d->slot < 0) {
        if (state == XSDEV_STATE_INITIALISING)      /* written again by the toolstack */
            serve(dm, d);
        return;
    }
    int online = read_state(x, d, "online");
    int fe = frontend_state(x, d);
    bool toolstack = state == XSDEV_STATE_CLOSING || state == XSDEV_STATE_CLOSED ||
                     online == 0;
    bool frontend = fe == XSDEV_STATE_CLOSING || fe == XSDEV_STATE_CLOSED;
    if (toolstack || frontend)
        close_device(dm, d, state);
}

static XsDev *find(DmXsDevices *x, enum xsdev_kind kind, unsigned devid)
{
    for (unsigned i = 0; i < XSDEV_MAX; i++)
        if (x->dev[i].used && x->dev[i].kind == kind && x->dev[i].devid == devid)
            return &x->dev[i];
    return NULL;
}

static XsDev *track(DmXsDevices *x, enum xsdev_kind kind, unsigned devid)
{
    for (unsigned i = 0; i < XSDEV_MAX; i++) {
        if (!x->dev[i].used) {
            x->dev[i] = (XsDev){ .used = true, .kind = kind, .devid = devid, .slot = -1 };
            return &x->dev[i];
        }
    }
    log_warn("%s %u: xendm follows at most %d devices: ignored", xsdev_kind_name[kind], devid,
             XSDEV_MAX);
    return NULL;
}

static bool parse_devid(const char *name, unsigned *devid)
{
    char *end;
    unsigned long v = strtoul(name, &end, 10);
    if (!*name || *end || v > INT32_MAX)
        return false;
    *devid = (unsigned)v;
    return true;
}

/* Bring what xendm serves of `kind` in line with xenstore. */
static void reconcile_kind(Dm *dm, enum xsdev_kind kind)
{
    DmXsDevices *x = dm->xsdev;
    unsigned nr;
    char **names = xen_store_directory(x->xs, x->dir[kind], &nr);
    bool present[XSDEV_MAX] = { false };
    for (unsigned i = 0; i < nr; i++) {
        unsigned devid;
        if (!parse_devid(names[i], &devid))
            continue;
        XsDev *d = find(x, kind, devid);
        if (d) {
            present[d - x->dev] = true;
            follow(dm, d);
        } else if ((d = track(x, kind, devid))) {
            present[d - x->dev] = true;
            consider(dm, d);
        }
    }
    free(names);
    for (unsigned i = 0; i < XSDEV_MAX; i++) {
        XsDev *d = &x->dev[i];
        if (d->used && d->kind == kind && !present[i]) {
            log_info("%s %u: its backend directory is gone", xsdev_kind_name[kind], d->devid);
            forget(dm, d);
        }
    }
}

static void reconcile(Dm *dm)
{
    for (unsigned k = 0; k < XSDEV_NR_KINDS; k++)
        reconcile_kind(dm, k);
}

/* ---- start-up, the loop, teardown ---- */

int dm_xsdev_start(Dm *dm, Error **errp)
{
    DmXsDevices *x = calloc(1, sizeof(*x));
    if (!x) {
        error_setg_errno(errp, ENOMEM, "cannot allocate the xenstore device state");
        return -ENOMEM;
    }
    x->xs = xen_dm_xenstore(dm->xen);
    for (unsigned k = 0; k < XSDEV_NR_KINDS; k++) {
        snprintf(x->dir[k], sizeof(x->dir[k]), "backend/%s/%u", xsdev_kind_name[k],
                 dm->opts.domid);
        snprintf(x->fe_dir[k], sizeof(x->fe_dir[k]), "/local/domain/%u/device/%s",
                 dm->opts.domid, xsdev_kind_name[k]);
    }
    dm->xsdev = x;
    reconcile(dm);
    return 0;
}

int dm_xsdev_watch(Dm *dm, Error **errp)
{
    DmXsDevices *x = dm->xsdev;
    x->watch_xs = xen_store_open(errp);
    if (!x->watch_xs)
        return -ENODEV;
    x->xs = x->watch_xs;
    int ret = 0;
    for (unsigned k = 0; ret == 0 && k < XSDEV_NR_KINDS; k++) {
        ret = xen_store_watch(x->xs, x->dir[k], watch_token, errp);
        if (ret == 0)
            ret = xen_store_watch(x->xs, x->fe_dir[k], watch_token, errp);
    }
    if (ret == 0)
        ret = xen_store_watch_fd(x->xs, errp);
    if (ret < 0)
        return ret;
    dm->xsdev_fd = ret;
    reconcile(dm);              /* what changed since the devices were created */
    x->late = true;
    return 0;
}

void dm_xsdev_handle(Dm *dm)
{
    DmXsDevices *x = dm->xsdev;
    unsigned events = 0;
    char **ev;
    while (events < XSDEV_EVENT_BUDGET && (ev = xen_store_next_watch(x->xs))) {
        log_debug("xenstore: %s changed", ev[XS_WATCH_PATH]);
        free(ev);
        events++;
    }
    if (events)
        reconcile(dm);
}

void dm_xsdev_stop(Dm *dm)
{
    DmXsDevices *x = dm->xsdev;
    if (!x)
        return;
    for (unsigned i = 0; i < XSDEV_MAX; i++) {
        XsDev *d = &x->dev[i];
        if (!d->used)
            continue;
        /* Closed only where the directory is still there: a write would make it again. */
        bool closed = d->slot >= 0 && read_state(x, d, "state") >= 0;
        XsDev gone = *d;
        forget(dm, d);
        if (closed)
            set_state(x, &gone, XSDEV_STATE_CLOSED);
    }
    if (x->watch_xs) {
        for (unsigned k = 0; k < XSDEV_NR_KINDS; k++) {
            xen_store_unwatch(x->watch_xs, x->dir[k], watch_token);
            xen_store_unwatch(x->watch_xs, x->fe_dir[k], watch_token);
        }
        xen_store_close(x->watch_xs);
    }
    dm->xsdev_fd = -1;
    free(x);
    dm->xsdev = NULL;
}
