/*
 * tools/mockxen/xs_txn.c — xenstore transactions: work on a snapshot, commit by
 * replaying the recorded changes on the live store unless a node the transaction
 * looked at has changed since it started (then the commit fails with EAGAIN, as
 * xenstored's does, and the client retries).
 *
 * Replaying is sound because the snapshot recorded every node each change depended
 * on: if none of them changed, each change does on the live store exactly what it did
 * on the snapshot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/grow.h"
#include "tools/mockxen/xs_store.h"

typedef struct XsTxnChange {
    XsChangeKind kind;
    char *path;
    char *value;        /* XS_CHANGE_WRITE */
    unsigned len;
    XsPerms perms;      /* XS_CHANGE_SET_PERMS */
} XsTxnChange;

struct XsTxn {
    uint32_t id;
    XsStore *snapshot;
    XsTxnChange *changes;
    unsigned nchanges, capacity;
};

XsTxn *xs_txn_begin(const XsStore *live, uint32_t id)
{
    XsTxn *txn = calloc(1, sizeof(*txn));

    if (!txn)
        return NULL;
    txn->id = id;
    txn->snapshot = xs_store_snapshot(live);
    if (!txn->snapshot) {
        free(txn);
        return NULL;
    }
    return txn;
}

uint32_t xs_txn_id(const XsTxn *txn)
{
    return txn->id;
}

XsStore *xs_txn_store(XsTxn *txn)
{
    return txn->snapshot;
}

/* Append a change (copying its data) to the replay log. */
static int record(XsTxn *txn, XsChangeKind kind, const char *path, const void *value,
                  unsigned len, const XsPerms *perms)
{
    XsTxnChange c = { .kind = kind, .len = len };

    XsTxnChange *a = mx_grow(txn->changes, &txn->capacity, txn->nchanges + 1, sizeof(*a), 8);
    if (!a)
        return -ENOMEM;
    txn->changes = a;
    c.path = strdup(path);
    if (value) {
        c.value = malloc(len ? len : 1);
        if (c.value)
            memcpy(c.value, value, len);
    }
    if (!c.path || (value && !c.value) || (perms && xs_perms_copy(&c.perms, perms) < 0)) {
        free(c.path);
        free(c.value);
        return -ENOMEM;
    }
    txn->changes[txn->nchanges++] = c;
    return 0;
}

int xs_txn_write(XsTxn *txn, const char *path, const void *value, unsigned len)
{
    int ret = xs_store_write(txn->snapshot, path, value, len);
    return ret < 0 ? ret : record(txn, XS_CHANGE_WRITE, path, value, len, NULL);
}

/* MKDIR of an existing node and RM of a missing one change nothing: they are not
 * replayed, so they fire no watch at commit (as outside a transaction). */
int xs_txn_mkdir(XsTxn *txn, const char *path)
{
    bool existed = xs_store_exists(txn->snapshot, path);
    int ret = xs_store_mkdir(txn->snapshot, path);
    if (ret < 0 || existed)
        return ret;
    return record(txn, XS_CHANGE_MKDIR, path, NULL, 0, NULL);
}

int xs_txn_rm(XsTxn *txn, const char *path)
{
    bool existed = xs_store_exists(txn->snapshot, path);
    int ret = xs_store_rm(txn->snapshot, path);
    if (ret < 0 || !existed)
        return ret;
    return record(txn, XS_CHANGE_RM, path, NULL, 0, NULL);
}

int xs_txn_set_perms(XsTxn *txn, const char *path, const XsPerms *perms)
{
    int ret = xs_store_set_perms(txn->snapshot, path, perms);
    return ret < 0 ? ret : record(txn, XS_CHANGE_SET_PERMS, path, NULL, 0, perms);
}

static int apply(XsStore *live, const XsTxnChange *c)
{
    switch (c->kind) {
    case XS_CHANGE_WRITE:     return xs_store_write(live, c->path, c->value, c->len);
    case XS_CHANGE_MKDIR:     return xs_store_mkdir(live, c->path);
    case XS_CHANGE_RM:        return xs_store_rm(live, c->path);
    case XS_CHANGE_SET_PERMS: return xs_store_set_perms(live, c->path, &c->perms);
    }
    return -EINVAL;
}

int xs_txn_commit(XsTxn *txn, XsStore *live,
                  void (*applied)(const XsChange *change, void *opaque), void *opaque)
{
    int ret = 0;

    if (xs_store_snapshot_conflicts(txn->snapshot, live))
        ret = -EAGAIN;
    for (unsigned i = 0; ret == 0 && i < txn->nchanges; i++) {
        const XsTxnChange *c = &txn->changes[i];
        /* Only ENOMEM can make a replayed change fail; later changes still apply, as
         * xenstored would have lost the same write. */
        if (apply(live, c) == 0 && applied)
            applied(&(XsChange){ .kind = c->kind, .path = c->path }, opaque);
    }
    xs_txn_abort(txn);
    return ret;
}

void xs_txn_abort(XsTxn *txn)
{
    if (!txn)
        return;
    for (unsigned i = 0; i < txn->nchanges; i++) {
        free(txn->changes[i].path);
        free(txn->changes[i].value);
        xs_perms_clear(&txn->changes[i].perms);
    }
    free(txn->changes);
    xs_store_free(txn->snapshot);
    free(txn);
}
