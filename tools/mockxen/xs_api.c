/*
 * tools/mockxen/xs_api.c — the in-process side of mockxen's xenstore (xs_server.h):
 * reads, writes and waits for the daemon's own threads, and the nodes of a new domain.
 *
 * Each call takes the server lock for its duration. Changes fire watches like a
 * client's would; the server thread is woken to send the events.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xen/xen.h>

#include "tools/mockxen/xs_server_priv.h"

/* ---- in-process access ------------------------------------------------------------- */

/* Canonicalise an in-process path (absolute only), with a message on failure. */
static char *api_path(const char *path, Error **errp)
{
    char *canon = path[0] == '/' ? xs_path_canonical(path, 0, false) : NULL;

    if (!canon)
        error_setg(errp, "invalid xenstore path '%s'", path);
    return canon;
}

char *xs_server_read(XsServer *server, const char *path)
{
    char *canon = api_path(path, NULL), *copy = NULL;
    const char *value;
    unsigned len;
    int ret;

    if (!canon) {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&server->lock);
    ret = xs_store_read(server->store, canon, &value, &len);
    if (ret == 0 && !(copy = strndup(value, len)))
        ret = -ENOMEM;
    pthread_mutex_unlock(&server->lock);
    free(canon);
    errno = -ret;
    return copy;
}

int xs_server_write(XsServer *server, const char *path, const char *value, Error **errp)
{
    char *canon = api_path(path, errp);
    int ret;

    if (!canon)
        return -EINVAL;
    pthread_mutex_lock(&server->lock);
    ret = xs_store_write(server->store, canon, value, (unsigned)strlen(value));
    if (ret == 0)
        xs_server_changed(server, canon, false);
    pthread_mutex_unlock(&server->lock);
    if (ret < 0)
        error_setg_errno(errp, -ret, "cannot write xenstore node '%s'", path);
    free(canon);
    return ret;
}

int xs_server_rm(XsServer *server, const char *path, Error **errp)
{
    char *canon = api_path(path, errp);
    int ret;

    if (!canon)
        return -EINVAL;
    pthread_mutex_lock(&server->lock);
    ret = xs_store_exists(server->store, canon) ? xs_store_rm(server->store, canon)
                                                : -ENOENT;
    if (ret == 0)
        xs_server_changed(server, canon, true);
    pthread_mutex_unlock(&server->lock);
    if (ret < 0)
        error_setg_errno(errp, -ret, "cannot remove xenstore node '%s'", path);
    free(canon);
    return ret;
}

static bool value_is(XsServer *server, const char *path, const char *want)
{
    const char *value;
    unsigned len;

    return xs_store_read(server->store, path, &value, &len) == 0 &&
           len == strlen(want) && memcmp(value, want, len) == 0;
}

/* Explain why xs_server_wait_value() gave up. Called with the lock held. */
static void wait_error(XsServer *server, const char *canon, const char *path,
                       const char *value, int timeout_ms, int ret, Error **errp)
{
    const char *seen;
    unsigned len;

    if (ret == -ESHUTDOWN) {
        error_setg(errp, "xenstore server stopped while waiting for '%s' = '%s'",
                   path, value);
        return;
    }
    if (xs_store_read(server->store, canon, &seen, &len) < 0)
        seen = NULL;
    error_setg(errp, "xenstore node '%s' did not become '%s' within %d ms (it is %s%s%s)",
               path, value, timeout_ms, seen ? "'" : "", seen ? seen : "absent",
               seen ? "'" : "");
}

static struct timespec deadline_after(int timeout_ms)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

int xs_server_wait_value(XsServer *server, const char *path, const char *value,
                         int timeout_ms, Error **errp)
{
    char *canon = api_path(path, errp);
    struct timespec deadline = deadline_after(timeout_ms < 0 ? 0 : timeout_ms);
    int ret = 0;

    if (!canon)
        return -EINVAL;
    pthread_mutex_lock(&server->lock);
    server->waiters++;
    while (ret == 0 && !value_is(server, canon, value)) {
        if (server->stopping)
            ret = -ESHUTDOWN;
        else if (timeout_ms < 0)
            pthread_cond_wait(&server->changed, &server->lock);
        else if (pthread_cond_timedwait(&server->changed, &server->lock, &deadline) &&
                 !value_is(server, canon, value))
            ret = -ETIMEDOUT;
    }
    if (ret < 0)
        wait_error(server, canon, path, value, timeout_ms, ret, errp);
    server->waiters--;
    if (server->stopping)
        pthread_cond_broadcast(&server->changed);     /* xs_server_stop() waits */
    pthread_mutex_unlock(&server->lock);
    free(canon);
    return ret;
}

/* ---- domains ----------------------------------------------------------------------- */

/* Owner dom0, readable by the domain: what xl gives a domain's own directories. */
static int domain_mkdir(XsStore *store, const char *path, unsigned domid)
{
    XsPerm entries[2] = { { .domid = 0, .access = XS_ACCESS_NONE },
                          { .domid = (uint16_t)domid, .access = XS_ACCESS_READ } };
    XsPerms perms = { .count = 2, .entries = entries };
    int ret = xs_store_mkdir(store, path);

    return ret < 0 ? ret : xs_store_set_perms(store, path, &perms);
}

int xs_server_add_domain(XsServer *server, unsigned domid, const char *name,
                         Error **errp)
{
    char dom[32], dm[64], node[64], id[16];
    int ret;

    if (domid == 0 || domid >= DOMID_FIRST_RESERVED) {
        error_setg(errp, "cannot add xenstore nodes for domain %u: not a guest domid",
                   domid);
        return -EINVAL;
    }
    xs_path_domain(dom, sizeof(dom), domid);
    snprintf(dm, sizeof(dm), "/local/domain/0/device-model/%u", domid);
    snprintf(node, sizeof(node), "%s/domid", dom);
    snprintf(id, sizeof(id), "%u", domid);
    pthread_mutex_lock(&server->lock);
    ret = domain_mkdir(server->store, dom, domid);
    if (ret == 0)
        ret = xs_store_write(server->store, node, id, (unsigned)strlen(id));
    if (ret == 0 && name) {
        snprintf(node, sizeof(node), "%s/name", dom);
        ret = xs_store_write(server->store, node, name, (unsigned)strlen(name));
    }
    if (ret == 0)
        ret = domain_mkdir(server->store, dm, domid);
    if (ret == 0) {
        xs_domid_set(server->exists, domid, true);
        xs_domid_set(server->introduced, domid, true);
        xs_domid_set(server->shutdown, domid, false);
        xs_server_changed(server, dom, false);
        xs_server_changed(server, dm, false);
        xs_watch_fire(server, "@introduceDomain", false);
    }
    pthread_mutex_unlock(&server->lock);
    if (ret < 0)
        error_setg_errno(errp, -ret, "cannot add xenstore nodes for domain %u", domid);
    return ret;
}

int xs_server_remove_domain(XsServer *server, unsigned domid, Error **errp)
{
    char dom[32], dm[64];
    int ret = 0;

    if (domid == 0 || domid >= DOMID_FIRST_RESERVED) {
        error_setg(errp, "cannot remove domain %u: not a guest domid", domid);
        return -EINVAL;
    }
    xs_path_domain(dom, sizeof(dom), domid);
    snprintf(dm, sizeof(dm), "/local/domain/0/device-model/%u", domid);
    pthread_mutex_lock(&server->lock);
    const char *paths[] = { dom, dm };
    for (unsigned i = 0; i < 2 && ret == 0; i++) {
        if (!xs_store_exists(server->store, paths[i]))
            continue;
        ret = xs_store_rm(server->store, paths[i]);
        if (ret == 0)
            xs_server_changed(server, paths[i], true);
    }
    if (ret == 0) {
        xs_domid_set(server->exists, domid, false);
        xs_domid_set(server->introduced, domid, false);
        xs_watch_fire(server, "@releaseDomain", false);
    }
    pthread_mutex_unlock(&server->lock);
    if (ret < 0)
        error_setg_errno(errp, -ret, "cannot remove xenstore nodes of domain %u", domid);
    return ret;
}

void xs_server_domain_shut_down(XsServer *server, unsigned domid)
{
    if (domid > XS_DOMID_MAX)
        return;
    pthread_mutex_lock(&server->lock);
    if (xs_domid_test(server->introduced, domid) && !xs_domid_test(server->shutdown, domid)) {
        xs_domid_set(server->shutdown, domid, true);
        xs_watch_fire(server, "@releaseDomain", false);
        xs_server_wake(server);             /* the server thread sends the events */
    }
    pthread_mutex_unlock(&server->lock);
}
