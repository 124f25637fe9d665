/*
 * tools/mockxen/xs_server.c — the xenstore server: the listening unix socket, the
 * thread that owns every connection, start and stop. The in-process accessors of
 * xs_server.h are in xs_api.c.
 *
 * The thread polls the listening socket, an eventfd (woken by xs_server_stop() and by
 * in-process changes that queued watch events) and every connection. It takes the
 * server lock only while handling what poll() reported, never while blocked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tools/mockxen/xs_server_priv.h"

/* ---- connections ------------------------------------------------------------------- */

void xs_conn_send(XsConn *conn, uint32_t type, uint32_t req_id, uint32_t tx_id,
                  const void *payload, size_t len)
{
    if (conn->dead)
        return;
    if (xs_out_pending(&conn->out) > XS_MAX_OUTPUT_QUEUED) {
        log_warn("mockxen xenstore: client fd %d stopped reading (%zu bytes queued), "
                 "disconnecting", conn->fd, xs_out_pending(&conn->out));
        conn->dead = true;
        return;
    }
    int ret = xs_out_msg(&conn->out, type, req_id, tx_id, payload, len);
    if (ret == -E2BIG)
        ret = xs_out_error(&conn->out, req_id, tx_id, E2BIG);
    if (ret < 0)
        conn->dead = true;
}

static void conn_free(XsConn *conn)
{
    close(conn->fd);
    xs_out_free(&conn->out);
    xs_watch_clear(conn);
    for (unsigned i = 0; i < conn->ntxns; i++)
        xs_txn_abort(conn->txns[i]);
    free(conn);
}

static void accept_connection(XsServer *server)
{
    int fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    XsConn *conn;

    if (fd < 0)
        return;     /* the client went away already, or EAGAIN */
    if (server->nconns >= XS_MAX_CONNECTIONS) {
        log_warn("mockxen xenstore: refusing client: %u connections open", server->nconns);
        close(fd);
        return;
    }
    conn = calloc(1, sizeof(*conn));
    if (!conn) {
        close(fd);
        return;
    }
    conn->fd = fd;
    conn->next = server->conns;
    server->conns = conn;
    server->nconns++;
}

/* Read what the client sent and handle every complete request. */
static void conn_read(XsServer *server, XsConn *conn)
{
    char buf[8192];
    ssize_t n = recv(conn->fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn->dead = true;      /* EOF or error */
        return;
    }
    for (size_t off = 0; off < (size_t)n && !conn->dead; ) {
        size_t used;
        int ret = xs_reader_feed(&conn->reader, buf + off, (size_t)n - off, &used);
        off += used;
        if (ret < 0) {
            log_ratelimited(&server->bad_request_log, LOG_WARN,
                            "mockxen xenstore: client fd %d sent a %u-byte payload "
                            "(max %d), disconnecting", conn->fd, conn->reader.hdr.len,
                            XENSTORE_PAYLOAD_MAX);
            conn->dead = true;
        } else if (ret == 1) {
            xs_dispatch(server, conn, &conn->reader.hdr, conn->reader.body);
        }
    }
}

/* Flush every connection's output; close the dead ones. */
static void flush_and_reap(XsServer *server)
{
    for (XsConn **link = &server->conns; *link; ) {
        XsConn *conn = *link;
        if (!conn->dead && xs_out_flush(&conn->out, conn->fd) < 0)
            conn->dead = true;
        if (conn->dead) {
            *link = conn->next;
            server->nconns--;
            conn_free(conn);
        } else {
            link = &conn->next;
        }
    }
}

/* ---- the server thread ------------------------------------------------------------- */

void xs_server_wake(XsServer *server)
{
    uint64_t one = 1;
    ssize_t n = write(server->wake_fd, &one, sizeof(one));
    (void)n;    /* a full counter means a wake-up is pending anyway */
}

static void *server_thread(void *opaque)
{
    XsServer *server = opaque;
    struct pollfd *fds = calloc(XS_MAX_CONNECTIONS + 2, sizeof(*fds));
    XsConn **polled = calloc(XS_MAX_CONNECTIONS, sizeof(*polled));

    if (!fds || !polled) {
        log_error("mockxen xenstore: out of memory, server thread exits");
        free(fds);
        free(polled);
        return NULL;
    }
    pthread_mutex_lock(&server->lock);
    while (!server->stopping) {
        unsigned n = 0;
        fds[0] = (struct pollfd){ .fd = server->listen_fd, .events = POLLIN };
        fds[1] = (struct pollfd){ .fd = server->wake_fd, .events = POLLIN };
        for (XsConn *c = server->conns; c; c = c->next, n++) {
            polled[n] = c;
            fds[n + 2] = (struct pollfd){
                .fd = c->fd,
                .events = POLLIN | (xs_out_pending(&c->out) ? POLLOUT : 0) };
        }
        pthread_mutex_unlock(&server->lock);
        int ready = poll(fds, n + 2, -1);
        pthread_mutex_lock(&server->lock);
        if (ready < 0)
            continue;   /* EINTR */
        if (fds[1].revents & POLLIN) {
            uint64_t count;
            ssize_t r = read(server->wake_fd, &count, sizeof(count));
            (void)r;
        }
        /* Connections polled are still listed: only this thread removes them. */
        for (unsigned i = 0; i < n; i++)
            if (fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR))
                conn_read(server, polled[i]);
        if (fds[0].revents & POLLIN)
            accept_connection(server);
        flush_and_reap(server);
    }
    pthread_mutex_unlock(&server->lock);
    free(fds);
    free(polled);
    return NULL;
}

/* ---- start and stop ---------------------------------------------------------------- */

static int listen_on(const char *path, Error **errp)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        error_setg(errp, "xenstore socket path '%s' is longer than %zu bytes", path,
                   sizeof(addr.sun_path) - 1);
        return -ENAMETOOLONG;
    }
    strcpy(addr.sun_path, path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error_setg(errp, "xenstore socket path '%s' exists and is not a socket", path);
            return -EEXIST;
        }
        unlink(path);   /* a stale socket from an earlier run */
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot create the xenstore socket");
        return -err;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot listen on xenstore socket '%s'", path);
        close(fd);
        return -err;
    }
    return fd;
}

/* The nodes a freshly booted xenstored holds once xencommons has run. */
static int populate(XsStore *store)
{
    int ret = xs_store_write(store, "/local/domain/0/name", "Domain-0", 8);
    if (ret == 0)
        ret = xs_store_write(store, "/local/domain/0/domid", "0", 1);
    if (ret == 0)
        ret = xs_store_mkdir(store, "/tool");
    return ret;
}

static void server_free(XsServer *server)
{
    while (server->conns) {
        XsConn *c = server->conns;
        server->conns = c->next;
        conn_free(c);
    }
    if (server->listen_fd >= 0) {
        close(server->listen_fd);
        unlink(server->socket_path);
    }
    if (server->wake_fd >= 0)
        close(server->wake_fd);
    xs_store_free(server->store);
    pthread_cond_destroy(&server->changed);
    pthread_mutex_destroy(&server->lock);
    free(server->socket_path);
    free(server);
}

static int server_init_sync(XsServer *server)
{
    pthread_condattr_t attr;
    int ret = pthread_condattr_init(&attr);

    if (ret == 0)
        ret = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (ret == 0)
        ret = pthread_cond_init(&server->changed, &attr);
    pthread_condattr_destroy(&attr);
    if (ret == 0 && (ret = pthread_mutex_init(&server->lock, NULL)) != 0)
        pthread_cond_destroy(&server->changed);
    return -ret;
}

int xs_server_start(const char *socket_path, XsServer **out, Error **errp)
{
    XsServer *server = calloc(1, sizeof(*server));
    int ret;

    if (!server) {
        error_setg_errno(errp, ENOMEM, "cannot allocate the xenstore server");
        return -ENOMEM;
    }
    ret = server_init_sync(server);
    if (ret < 0) {
        free(server);
        error_setg_errno(errp, -ret, "cannot initialise the xenstore server lock");
        return ret;
    }
    server->listen_fd = server->wake_fd = -1;
    server->socket_path = strdup(socket_path);
    server->store = xs_store_new();
    if (!server->socket_path || !server->store || populate(server->store) < 0) {
        error_setg_errno(errp, ENOMEM, "cannot allocate the xenstore store");
        ret = -ENOMEM;
        goto fail;
    }
    server->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (server->wake_fd < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "cannot create the xenstore server's eventfd");
        goto fail;
    }
    ret = listen_on(socket_path, errp);
    if (ret < 0)
        goto fail;
    server->listen_fd = ret;
    ret = -pthread_create(&server->thread, NULL, server_thread, server);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "cannot start the xenstore server thread");
        goto fail;
    }
    *out = server;
    return 0;
fail:
    server_free(server);
    return ret;
}

void xs_server_stop(XsServer *server)
{
    if (!server)
        return;
    pthread_mutex_lock(&server->lock);
    server->stopping = true;
    pthread_cond_broadcast(&server->changed);
    while (server->waiters)     /* let xs_server_wait_value() callers leave */
        pthread_cond_wait(&server->changed, &server->lock);
    pthread_mutex_unlock(&server->lock);
    xs_server_wake(server);
    pthread_join(server->thread, NULL);
    server_free(server);
}

const char *xs_server_socket_path(const XsServer *server)
{
    return server->socket_path;
}

void xs_server_changed(XsServer *server, const char *path, bool subtree_removed)
{
    xs_watch_fire(server, path, subtree_removed);
    pthread_cond_broadcast(&server->changed);
    xs_server_wake(server);
}
