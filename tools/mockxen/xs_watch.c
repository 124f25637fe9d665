/*
 * tools/mockxen/xs_watch.c — xenstore watches: per-connection registrations and the
 * matching of changed paths against them.
 *
 * Matching follows xenstored: a change of P fires every watch on P or an ancestor of
 * P, naming P; removing P's subtree also fires watches below P, naming the watch's own
 * path. Events for relative watches carry relative paths. "@introduceDomain" and
 * "@releaseDomain" only match themselves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/grow.h"
#include "tools/mockxen/xs_server_priv.h"

static void watch_free(XsWatch *w)
{
    free(w->path);
    free(w->abs);
    free(w->token);
}

static XsWatch *watch_find(XsConn *conn, const char *abs, const char *token)
{
    for (unsigned i = 0; i < conn->nwatches; i++)
        if (strcmp(conn->watches[i].abs, abs) == 0 &&
            strcmp(conn->watches[i].token, token) == 0)
            return &conn->watches[i];
    return NULL;
}

int xs_watch_add(XsConn *conn, const char *path, const char *token)
{
    XsWatch w = { 0 };

    w.abs = xs_path_canonical(path, conn->domid, true);
    if (!w.abs)
        return -errno;
    if (watch_find(conn, w.abs, token)) {
        free(w.abs);
        return -EEXIST;
    }
    if (conn->nwatches >= XS_MAX_WATCHES_PER_CONN) {
        free(w.abs);
        return -E2BIG;
    }
    XsWatch *a = mx_grow(conn->watches, &conn->watch_capacity, conn->nwatches + 1,
                         sizeof(*a), 8);
    if (!a) {
        free(w.abs);
        return -ENOMEM;
    }
    conn->watches = a;
    w.path = strdup(path);
    w.token = strdup(token);
    w.relative = path[0] != '/' && path[0] != '@';
    if (!w.path || !w.token) {
        watch_free(&w);
        return -ENOMEM;
    }
    conn->watches[conn->nwatches++] = w;
    return 0;
}

int xs_watch_remove(XsConn *conn, const char *path, const char *token)
{
    char *abs = xs_path_canonical(path, conn->domid, true);
    XsWatch *w;

    if (!abs)
        return -errno;
    w = watch_find(conn, abs, token);
    free(abs);
    if (!w)
        return -ENOENT;
    watch_free(w);
    *w = conn->watches[--conn->nwatches];
    return 0;
}

void xs_watch_clear(XsConn *conn)
{
    for (unsigned i = 0; i < conn->nwatches; i++)
        watch_free(&conn->watches[i]);
    free(conn->watches);
    conn->watches = NULL;
    conn->nwatches = conn->watch_capacity = 0;
}

static void send_event(XsConn *conn, const char *path, const char *token)
{
    size_t plen = strlen(path) + 1, tlen = strlen(token) + 1;
    char buf[XENSTORE_PAYLOAD_MAX];

    if (plen + tlen > sizeof(buf))
        return;     /* cannot happen: both were bounded when the watch was set */
    memcpy(buf, path, plen);
    memcpy(buf + plen, token, tlen);
    xs_conn_send(conn, XS_WATCH_EVENT, 0, 0, buf, plen + tlen);
}

void xs_watch_fire_initial(XsConn *conn, const char *path, const char *token)
{
    send_event(conn, path, token);
}

/* The path to report to `w` for a change of `path`, or NULL if w does not match. */
static const char *event_path(const XsWatch *w, const char *path, bool subtree_removed)
{
    if (path[0] == '@' || w->abs[0] == '@')
        return strcmp(path, w->abs) == 0 ? w->path : NULL;
    if (xs_path_is_child(path, w->abs)) {
        if (!w->relative)
            return path;
        /* w->abs = "<domain path>/<w->path>": strip the domain path and its '/'. */
        return path + (strlen(w->abs) - strlen(w->path));
    }
    if (subtree_removed && xs_path_is_child(w->abs, path))
        return w->path;
    return NULL;
}

void xs_watch_fire(XsServer *server, const char *path, bool subtree_removed)
{
    for (XsConn *c = server->conns; c; c = c->next) {
        for (unsigned i = 0; i < c->nwatches && !c->dead; i++) {
            const char *ep = event_path(&c->watches[i], path, subtree_removed);
            if (ep)
                send_event(c, ep, c->watches[i].token);
        }
    }
}
