/*
 * dm/control.c — the control socket (--control PATH): look into a running xendm, or
 * stop it, with tools/xendm-ctl (or anything that speaks a line over a Unix socket).
 *
 * Protocol: a client connects, sends one command line (less than DM_CONTROL_LINE_MAX
 * bytes, ended by a newline or by shutting down its side) and reads the reply until
 * the server closes the connection. A reply that starts with "error: " is a failure.
 * Commands: help, stats, mtree, flatview, stop. The lines and the commands are
 * dm/control_protocol.c's; this file is the socket.
 *
 * The socket is created at start-up with mode 0600 (only xendm's user may connect)
 * and removed at exit. A file left at PATH by a process that is gone is replaced; a
 * PATH where something still listens is refused.
 *
 * Clients are served on the event-loop thread, the thread that serves the guest, and
 * never make it wait: the listening socket and the clients sit in an epoll set of
 * their own, whose fd (dm->control_fd) the loop polls as one source. A client's line
 * is gathered from whatever each read brings, and must be complete within
 * CONTROL_LINE_DEADLINE_MS of connecting: a late client is told so and dropped (the
 * loop wakes for the deadline, see dm_control_timeout_ms). The reply is sent with one
 * non-blocking send and the connection closed, so a client that does not read its
 * reply costs nothing: the reply waits in the socket's buffer. Replies are a few
 * hundred bytes against a buffer of at least 4 KiB (208 KiB by default); one the
 * buffer cannot hold is cut, with a warning. At most CONTROL_MAX_CLIENTS are served at
 * once; one more is told so and closed.
 */
#include "dm/dm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"

#define CONTROL_LINE_DEADLINE_MS 1000   /* for the whole command line, from connecting */
#define CONTROL_MAX_CLIENTS 4
#define CONTROL_LISTENER CONTROL_MAX_CLIENTS    /* epoll data of the listening socket */

typedef struct ControlClient {
    int fd;                     /* -1: a free slot */
    uint64_t deadline_ms;       /* CLOCK_MONOTONIC: the line must be complete by then */
    DmControlLine line;
} ControlClient;

struct DmControl {
    int listen_fd;
    int epfd;                   /* the listener and the clients; dm->control_fd */
    ControlClient clients[CONTROL_MAX_CLIENTS];
};

static int control_address(const char *path, struct sockaddr_un *sa, Error **errp)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        error_setg(errp, "control socket path '%s' is longer than %zu bytes", path,
                   sizeof(sa->sun_path) - 1);
        return -ENAMETOOLONG;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

/* Something at the path: a socket nobody listens on any more is removed (0); anything
 * else is an error. */
static int remove_stale_socket(const struct sockaddr_un *sa, Error **errp)
{
    struct stat st;
    if (lstat(sa->sun_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        error_setg(errp, "'%s' exists and is not a socket", sa->sun_path);
        return -EEXIST;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot create a socket");
        return -err;
    }
    int rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
    int err = errno;
    close(probe);
    if (rc == 0) {
        error_setg(errp, "another process listens on '%s'", sa->sun_path);
        return -EADDRINUSE;
    }
    if (err != ECONNREFUSED || unlink(sa->sun_path) < 0) {
        err = err == ECONNREFUSED ? errno : err;
        error_setg_errno(errp, err, "cannot replace '%s'", sa->sun_path);
        return -err;
    }
    return 0;
}

static int bind_and_listen(int fd, const struct sockaddr_un *sa, Error **errp)
{
    mode_t old = umask(0177);           /* the socket is created 0600 */
    int rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
    if (rc == -EADDRINUSE) {
        rc = remove_stale_socket(sa, errp);
        if (rc < 0) {
            umask(old);
            return rc;
        }
        rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
    }
    umask(old);
    if (rc < 0) {
        error_setg_errno(errp, -rc, "cannot bind '%s'", sa->sun_path);
        return rc;
    }
    if (listen(fd, 4) < 0) {
        rc = -errno;
        error_setg_errno(errp, -rc, "cannot listen on '%s'", sa->sun_path);
        unlink(sa->sun_path);
        return rc;
    }
    return 0;
}

static int control_watch(DmControl *c, int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = { .events = events, .data.u64 = data };
    return epoll_ctl(c->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static void control_free(DmControl *c)
{
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->epfd >= 0)
        close(c->epfd);
    free(c);
}

int dm_control_open(Dm *dm, Error **errp)
{
    dm->control_fd = -1;
    const char *path = dm->opts.control_path;
    if (!path)
        return 0;
    struct sockaddr_un sa;
    int rc = control_address(path, &sa, errp);
    if (rc < 0)
        return rc;
    DmControl *c = calloc(1, sizeof(*c));
    if (!c) {
        error_setg_errno(errp, ENOMEM, "cannot allocate the control server");
        return -ENOMEM;
    }
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
        c->clients[i].fd = -1;
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (c->listen_fd < 0 || c->epfd < 0) {
        rc = -errno;
        error_setg_errno(errp, -rc, "cannot create the control socket");
        control_free(c);
        return rc;
    }
    rc = bind_and_listen(c->listen_fd, &sa, errp);
    if (rc == 0) {
        rc = control_watch(c, EPOLL_CTL_ADD, c->listen_fd, EPOLLIN, CONTROL_LISTENER);
        if (rc < 0) {
            error_setg_errno(errp, -rc, "cannot watch the control socket");
            unlink(sa.sun_path);
        }
    }
    if (rc < 0) {
        control_free(c);
        return rc;
    }
    dm->control = c;
    dm->control_fd = c->epfd;
    log_info("control socket at %s", path);
    return 0;
}

static void client_close(ControlClient *cl)
{
    close(cl->fd);                      /* also leaves the epoll set */
    cl->fd = -1;
    cl->line = (DmControlLine){ 0 };
}

void dm_control_close(Dm *dm)
{
    DmControl *c = dm->control;
    if (!c)
        return;
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        if (c->clients[i].fd >= 0)
            client_close(&c->clients[i]);
    }
    control_free(c);
    dm->control = NULL;
    dm->control_fd = -1;
    unlink(dm->opts.control_path);
}

/* ---- one client ---------------------------------------------------------------------- */

/* Send text with one non-blocking send: what the socket does not take now is lost.
 * Returns the bytes sent. */
static size_t send_now(int fd, const char *text, size_t len)
{
    ssize_t n = send(fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n > 0 ? (size_t)n : 0;
}

/* Reply with one non-blocking send and let the client go. */
static void client_finish(ControlClient *cl, const char *text, size_t len)
{
    size_t sent = send_now(cl->fd, text, len);
    if (sent < len)
        log_warn("control socket: reply cut at %zu of %zu bytes (the client's socket did "
                 "not take it)", sent, len);
    client_close(cl);
}

static void client_refuse(ControlClient *cl, const char *error)
{
    client_finish(cl, error, strlen(error));
}

/* The command line is complete (or too long): reply. */
static void client_run(Dm *dm, ControlClient *cl)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out)
        dm_control_reply(dm, &cl->line, out);
    if (out && fclose(out) == 0)
        client_finish(cl, text, len);
    else
        client_refuse(cl, "error: out of memory\n");
    free(text);
}

/* Take what the client sent so far (one read: the loop comes back for more). */
static void client_read(Dm *dm, ControlClient *cl)
{
    char buf[DM_CONTROL_LINE_MAX];             /* no more than the line has room for */
    ssize_t n = read(cl->fd, buf, sizeof(buf) - 1 - cl->line.len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        client_close(cl);
        return;
    }
    if (dm_control_take(&cl->line, buf, (size_t)n))
        client_run(dm, cl);
}

static void client_accept(DmControl *c)
{
    int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            log_warn("control socket: accept failed: %s", strerror(errno));
        return;
    }
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        ControlClient *cl = &c->clients[i];
        if (cl->fd >= 0)
            continue;
        if (control_watch(c, EPOLL_CTL_ADD, fd, EPOLLIN, i) < 0)
            break;
        cl->fd = fd;
        cl->deadline_ms = clock_monotonic_ms() + CONTROL_LINE_DEADLINE_MS;
        return;
    }
    char busy[80];
    int len = snprintf(busy, sizeof(busy),
                       "error: too many control clients (at most %d at once)\n",
                       CONTROL_MAX_CLIENTS);
    send_now(fd, busy, (size_t)len);
    close(fd);
}

/* Drop the clients whose deadline has passed. */
static void expire_clients(DmControl *c, uint64_t now)
{
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        ControlClient *cl = &c->clients[i];
        if (cl->fd < 0 || now < cl->deadline_ms)
            continue;
        log_info("control socket: client dropped: no complete command within %d ms",
                 CONTROL_LINE_DEADLINE_MS);
        char late[80];
        snprintf(late, sizeof(late), "error: no complete command within %d ms\n",
                 CONTROL_LINE_DEADLINE_MS);
        client_refuse(cl, late);
    }
}

/* At most this many ready sources per call: the listener and every client. */
#define CONTROL_EVENTS (CONTROL_MAX_CLIENTS + 1)

void dm_control_serve(Dm *dm)
{
    DmControl *c = dm->control;
    if (!c)
        return;
    struct epoll_event ev[CONTROL_EVENTS];
    int n = epoll_wait(c->epfd, ev, CONTROL_EVENTS, 0);
    for (int i = 0; i < n; i++) {
        uint64_t src = ev[i].data.u64;
        if (src == CONTROL_LISTENER) {
            client_accept(c);
            continue;
        }
        ControlClient *cl = &c->clients[src];
        if (cl->fd >= 0)                /* else closed earlier in this batch */
            client_read(dm, cl);
    }
    expire_clients(c, clock_monotonic_ms());
}

int dm_control_timeout_ms(const Dm *dm)
{
    const DmControl *c = dm->control;
    if (!c)
        return -1;
    uint64_t now = clock_monotonic_ms(), first = UINT64_MAX;
    for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        if (c->clients[i].fd >= 0 && c->clients[i].deadline_ms < first)
            first = c->clients[i].deadline_ms;
    }
    if (first == UINT64_MAX)
        return -1;
    return first <= now ? 0 : (int)(first - now);
}
