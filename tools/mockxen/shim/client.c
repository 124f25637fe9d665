/* tools/mockxen/shim/client.c — a shim handle's connection to mockxen (see client.h). */
#include "tools/mockxen/shim/client.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tools/mockxen/wire.h"

#define STATS_BYTES ((sizeof(MxStatsPage) + 4095) & ~(size_t)4095)

/* This library's mapping of the daemon's counter page (set by the first hello), and the
 * daemon's pid as the kernel reports it for the socket (for --die-at). */
static MxStatsPage *stats_page;
static pid_t daemon_pid = -1;

/* A library that has no handle yet (libxentoolcore) says hello once to get the page. */
static void fetch_stats_once(void)
{
    MxClient c;
    if (getenv("MOCKXEN_SOCKET") && mx_client_open(&c, "counter") == 0)
        mx_client_close(&c);
}

int mx_shim_count(enum MxKind k)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    MxStatsPage *page = __atomic_load_n(&stats_page, __ATOMIC_ACQUIRE);
    if (!page) {
        pthread_once(&once, fetch_stats_once);
        page = __atomic_load_n(&stats_page, __ATOMIC_ACQUIRE);
    }
    return page ? mx_stats_hit(page, k, __atomic_load_n(&daemon_pid, __ATOMIC_RELAXED)) : 0;
}

int mx_shim_enter(enum MxKind k)
{
    int err = mx_shim_count(k);
    if (!err)
        return 0;
    errno = err > 0 ? err : EIO;
    return -1;
}

static void adopt_stats(int fd, int sock)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
        __atomic_store_n(&daemon_pid, cred.pid, __ATOMIC_RELAXED);
    void *map = mmap(NULL, STATS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return;
    MxStatsPage *expected = NULL;
    if (((MxStatsPage *)map)->magic != MX_STATS_MAGIC ||
        !__atomic_compare_exchange_n(&stats_page, &expected, map, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        munmap(map, STATS_BYTES);
}

static int fail(int err, const char *what, const char *path)
{
    fprintf(stderr, "mockxen shim: %s%s%s: %s\n", what, path ? " " : "", path ? path : "",
            strerror(err));
    errno = err;
    return -1;
}

int mx_client_open(MxClient *c, const char *library)
{
    const char *path = getenv("MOCKXEN_SOCKET");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (!path || !*path)
        return fail(ENOENT, "MOCKXEN_SOCKET is not set", NULL);
    if (strlen(path) >= sizeof(addr.sun_path))
        return fail(ENAMETOOLONG, "socket path too long:", path);
    strcpy(addr.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return fail(errno, "socket()", NULL);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        close(c->fd);
        return fail(err, "cannot connect to mockxen at", path);
    }
    pthread_mutex_init(&c->lock, NULL);
    MxHello hello = { .version = MX_PROTO_VERSION };
    snprintf(hello.library, sizeof(hello.library), "%s", library);
    MxHelloReply rep;
    int fd = -1;
    unsigned nfds = 0;
    if (mx_client_call(c, MX_OP_HELLO, &hello, sizeof(hello), NULL, 0, &rep, sizeof(rep),
                       NULL, &fd, 1, &nfds) < 0 || rep.nr_kinds != MX_KIND_NR || nfds != 1) {
        int err = errno ? errno : EPROTO;
        if (nfds)
            close(fd);
        mx_client_close(c);
        return fail(err, "hello to mockxen at", path);
    }
    adopt_stats(fd, c->fd);
    c->domid = rep.domid;
    c->arch = rep.arch;
    c->restricted = false;
    return 0;
}

int mx_client_open_counted(MxClient *c, const char *library, enum MxKind kind)
{
    if (mx_client_open(c, library) < 0)
        return -1;
    if (mx_shim_enter(kind) < 0) {
        int err = errno;
        mx_client_close(c);
        errno = err;
        return -1;
    }
    return 0;
}

void mx_client_close(MxClient *c)
{
    close(c->fd);
    pthread_mutex_destroy(&c->lock);
}

/* Drop `len` unwanted reply bytes. */
static int discard(int fd, size_t len)
{
    char buf[256];
    while (len) {
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        int rc = mx_wire_recv(fd, buf, n, NULL, 0, NULL);
        if (rc)
            return rc;
        len -= n;
    }
    return 0;
}

int mx_client_call(MxClient *c, uint32_t op, const void *req, size_t req_len,
                   const void *extra, size_t extra_len, void *out, size_t out_max,
                   size_t *out_len, int *fds, unsigned max_fds, unsigned *nfds)
{
    MxMsgHdr hdr = { .op = op, .len = req_len + extra_len };
    MxReplyHdr rep;
    unsigned got_fds = 0;
    int rc;

    if (req_len + extra_len > MX_MSG_MAX_PAYLOAD) {
        errno = EMSGSIZE;
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    rc = mx_wire_send(c->fd, &hdr, sizeof(hdr), req, req_len, NULL, 0);
    if (rc == 0 && extra_len)
        rc = mx_wire_send(c->fd, extra, extra_len, NULL, 0, NULL, 0);
    if (rc == 0)
        rc = mx_wire_recv(c->fd, &rep, sizeof(rep), fds, max_fds, &got_fds);
    if (rc == 0 && rep.len > out_max) {
        discard(c->fd, rep.len);
        rc = -EPROTO;
    } else if (rc == 0) {
        rc = mx_wire_recv(c->fd, out, rep.len, NULL, 0, NULL);
    }
    pthread_mutex_unlock(&c->lock);
    if (nfds)
        *nfds = got_fds;
    else
        for (unsigned i = 0; i < got_fds; i++)
            close(fds[i]);
    if (rc) {
        for (unsigned i = 0; nfds && i < got_fds; i++)
            close(fds[i]);
        if (nfds)
            *nfds = 0;
        errno = -rc;
        return -1;
    }
    if (out_len)
        *out_len = rep.len;
    if (rep.ret < 0) {
        errno = rep.err ? rep.err : EIO;
        return -1;
    }
    errno = 0;
    return rep.ret;
}

int mx_client_post(MxClient *c, uint32_t op, const void *req, size_t req_len)
{
    MxMsgHdr hdr = { .op = op | MX_MSG_ONEWAY, .len = req_len };
    MxStatsPage *page = __atomic_load_n(&stats_page, __ATOMIC_ACQUIRE);
    if (page)                   /* before the send: the daemon waits until it is handled */
        __atomic_add_fetch(&page->oneway_sent, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&c->lock);
    int rc = mx_wire_send(c->fd, &hdr, sizeof(hdr), req, req_len, NULL, 0);
    pthread_mutex_unlock(&c->lock);
    if (rc) {
        errno = -rc;
        return -1;
    }
    return 0;
}

int mx_client_check_domain(MxClient *c, uint32_t domid)
{
    pthread_mutex_lock(&c->lock);
    int err = c->restricted && domid != c->restrict_domid ? EPERM
              : domid != c->domid                          ? ESRCH : 0;
    pthread_mutex_unlock(&c->lock);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

void mx_client_note_restrict(MxClient *c, uint32_t domid)
{
    pthread_mutex_lock(&c->lock);
    c->restricted = true;
    c->restrict_domid = domid;
    pthread_mutex_unlock(&c->lock);
}

int mx_client_simple_call(MxClient *c, uint32_t op, const void *req, size_t req_len)
{
    return mx_client_call(c, op, req, req_len, NULL, 0, NULL, 0, NULL, NULL, 0, NULL) < 0
               ? -1 : 0;
}

int mx_client_reply_call(MxClient *c, uint32_t op, const void *req, size_t req_len,
                         void *out, size_t out_max)
{
    return mx_client_call(c, op, req, req_len, NULL, 0, out, out_max, NULL, NULL, 0, NULL);
}

int mx_client_call_two_fds(MxClient *c, uint32_t op, const void *req, size_t req_len,
                           void *out, size_t out_max, int fds[2])
{
    unsigned nfds = 0;
    if (mx_client_call(c, op, req, req_len, NULL, 0, out, out_max, NULL, fds, 2, &nfds) < 0)
        return -1;
    if (nfds != 2) {
        for (unsigned i = 0; i < nfds; i++)
            close(fds[i]);
        errno = EPROTO;
        return -1;
    }
    return 0;
}

int mx_client_guest_memory(MxClient *c, uint32_t domid, MxGuestMemory *gm, int fds[2])
{
    MxDomainReq req = { .domid = domid };
    return mx_client_call_two_fds(c, MX_OP_GUEST_MEMORY, &req, sizeof(req), gm, sizeof(*gm),
                                  fds);
}
