/*
 * tools/mockxen/sockserver.c — the request loop behind $MOCKXEN_SOCKET (sockserver.h).
 */
#include "tools/mockxen/sockserver.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/memory.h>

#include "tools/mockxen/query.h"
#include "tools/mockxen/wire.h"
#include "util/log.h"

#define MAX_CONNS 256
#define CONN_IO_TIMEOUT_S 5   /* a client stuck mid-message is dropped after this */
#define CATCH_UP_ROUNDS 1024  /* messages per connection handled to catch up, at most */

typedef struct Conn {
    int fd;
    char lib[28];
    bool restricted;
    uint32_t restrict_domid;
    bool dead;                /* to be closed at the end of the server loop's pass */
    uint64_t caught_up_pass;  /* served out of turn in this pass (catch_up) */
    MxEvtchnHandle *evtchn;
    MxGrantHandle *gnttab;    /* the connection's grant mappings, from its first map */
} Conn;

struct MxSockServer {
    int listen_fd;
    int stop_fd;
    pthread_t thread;
    MxDomain *d;
    MxStats *stats;
    Conn *conns[MAX_CONNS];
    unsigned nconns;
    uint64_t pass;            /* the server loop's poll() round */
    bool catching_up;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* What a handler answers besides ret/errno. */
typedef struct Reply {
    void *data;
    size_t len;
    bool owned;                 /* data is malloc'd */
    int fds[MX_MSG_MAX_FDS];
    unsigned nfds;
    uint8_t small[64];
} Reply;

typedef struct Req {
    MxSockServer *s;
    Conn *c;
    const uint8_t *p;
    size_t len;
} Req;

static void reply_small(Reply *r, const void *data, size_t len)
{
    memcpy(r->small, data, len);
    r->data = r->small;
    r->len = len;
}

/* Pass two descriptors with the answer. */
static void reply_fds(Reply *r, int first, int second)
{
    r->fds[0] = first;
    r->fds[1] = second;
    r->nfds = 2;
}

/* A handler's tail: answer `data` if the operation (rc) succeeded; pass rc on. */
static int reply_small_if_ok(int rc, Reply *r, const void *data, size_t len)
{
    if (rc == 0)
        reply_small(r, data, len);
    return rc;
}

/* The payload must be at least `size` bytes. */
static int need(const Req *q, size_t size, Error **errp)
{
    if (q->len >= size)
        return 0;
    error_setg_errno(errp, EINVAL, "request of %zu bytes, need %zu", q->len, size);
    return -EINVAL;
}

/* Copy the fixed part of the request (the payload is not aligned) after checking it. */
static int take(const Req *q, void *req, size_t size, Error **errp)
{
    int rc = need(q, size, errp);
    if (rc == 0)
        memcpy(req, q->p, size);
    return rc;
}

/* May this connection act on domid? Xen refuses other domains after restrict. */
static int check_domain(const Req *q, uint32_t domid, Error **errp)
{
    if (q->c->restricted && domid != q->c->restrict_domid) {
        error_setg_errno(errp, EPERM, "handle restricted to domain %u, asked for %u",
                         q->c->restrict_domid, domid);
        return -EPERM;
    }
    if (domid != q->s->d->domid) {
        error_setg_errno(errp, ESRCH, "no domain %u (mockxen models domain %u)", domid,
                         q->s->d->domid);
        return -ESRCH;
    }
    return 0;
}

/* libxenctrl's operations are refused outright once its handle is restricted. */
static int check_privileged(const Req *q, uint32_t domid, Error **errp)
{
    if (q->c->restricted) {
        error_setg_errno(errp, EPERM, "privileged call on a restricted handle");
        return -EPERM;
    }
    return check_domain(q, domid, errp);
}

/* Every request addressed to a domain begins with its domid (proto.h). */
_Static_assert(offsetof(MxDomainReq, domid) == 0 && offsetof(MxPopulateReq, domid) == 0 &&
               offsetof(MxParamReq, domid) == 0 && offsetof(MxResourceReq, domid) == 0 &&
               offsetof(MxServerReq, domid) == 0 && offsetof(MxRangeReq, domid) == 0 &&
               offsetof(MxExtentReq, domid) == 0 && offsetof(MxIrqReq, domid) == 0 &&
               offsetof(MxBindReq, domid) == 0 && offsetof(MxGrantMapReq, domid) == 0 &&
               offsetof(MxGrantUnmapReq, domid) == 0, "a request's domid comes first");

static uint32_t req_domid(const void *req)
{
    uint32_t domid;
    memcpy(&domid, req, sizeof(domid));
    return domid;
}

/* take() a request, then check_domain() on its domid. */
static int take_for_domain(const Req *q, void *req, size_t size, Error **errp)
{
    int rc = take(q, req, size, errp);
    return rc ? rc : check_domain(q, req_domid(req), errp);
}

/* take() a request, then check_privileged() on its domid. */
static int take_privileged(const Req *q, void *req, size_t size, Error **errp)
{
    int rc = take(q, req, size, errp);
    return rc ? rc : check_privileged(q, req_domid(req), errp);
}

static int op_domain_info(Req *q, Reply *r, Error **errp)
{
    MxDomainReq req;
    int rc = take(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    /* libxenctrl is refused outright once restricted; others may ask about their domain */
    if (q->c->restricted && (strcmp(q->c->lib, "xenctrl") == 0 ||
                             req.domid != q->c->restrict_domid)) {
        error_setg_errno(errp, EPERM, "getinfo on a restricted handle");
        return -EPERM;
    }
    if (req.domid > q->s->d->domid)
        return 0;
    MxDomainInfo info;
    mx_domain_info(q->s->d, &info);
    reply_small(r, &info, sizeof(info));
    return 1;
}

/* MX_OP_POPULATE and MX_OP_DEPOPULATE: a frame list for the domain. */
static int op_frames(Req *q, bool populate, Error **errp)
{
    const char *what = populate ? "populate" : "decrease_reservation";
    MxPopulateReq req;
    int rc = take_privileged(q, &req, sizeof(req), errp);
    if (rc || (rc = need(q, sizeof(req) + req.nr * sizeof(uint64_t), errp)))
        return rc;
    if (req.nr > MX_POPULATE_CHUNK) {
        error_setg_errno(errp, E2BIG, "%s: %llu frames in one request", what,
                         (unsigned long long)req.nr);
        return -E2BIG;
    }
    uint64_t *gfns = malloc(req.nr * sizeof(uint64_t) + 1);
    if (!gfns) {
        error_setg_errno(errp, ENOMEM, "%s: %llu frames", what, (unsigned long long)req.nr);
        return -ENOMEM;
    }
    memcpy(gfns, q->p + sizeof(req), req.nr * sizeof(uint64_t));
    rc = populate ? mx_domain_populate(q->s->d, gfns, req.nr, req.extent_order, errp)
                  : mx_domain_depopulate(q->s->d, gfns, req.nr, req.extent_order, errp);
    free(gfns);
    return rc;
}

static int op_param(Req *q, Reply *r, bool set, Error **errp)
{
    MxParamReq req;
    int rc = take_privileged(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    if (set)
        return mx_domain_param_set(q->s->d, req.param, req.value, errp);
    rc = mx_domain_param_get(q->s->d, req.param, &req.value, errp);
    return reply_small_if_ok(rc, r, &req, sizeof(req));
}

static int op_guest_memory(Req *q, Reply *r, Error **errp)
{
    MxDomainReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    MxGuestMemory gm = { .nr_frames = q->s->d->nr_frames,
                         .bitmap_bytes = q->s->d->bitmap_bytes };
    reply_small(r, &gm, sizeof(gm));
    reply_fds(r, q->s->d->ram_fd, q->s->d->bitmap_fd);
    return 0;
}

static int op_resource(Req *q, Reply *r, Error **errp)
{
    MxResourceReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    if (req.type != XENMEM_resource_ioreq_server) {
        error_setg_errno(errp, EOPNOTSUPP, "resource type %u is not modelled", req.type);
        return -EOPNOTSUPP;
    }
    MxResourceReply out;
    rc = mx_server_resource(q->s->d, req.id, req.frame, req.nr_frames, &out, errp);
    return reply_small_if_ok(rc, r, &out, sizeof(out));
}

static int op_server(Req *q, Reply *r, uint32_t op, Error **errp)
{
    MxServerReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    MxDomain *d = q->s->d;
    switch (op) {
    case MX_OP_SERVER_CREATE:
        rc = mx_server_create(d, req.handle_bufioreq, &req.id, errp);
        return reply_small_if_ok(rc, r, &req, sizeof(req));
    case MX_OP_SERVER_DESTROY:
        return mx_server_destroy(d, req.id, errp);
    case MX_OP_SERVER_STATE:
        return mx_server_set_state(d, req.id, req.enabled, errp);
    default: {
        MxServerInfo info;
        rc = mx_server_info(d, req.id, &info, errp);
        return reply_small_if_ok(rc, r, &info, sizeof(info));
    }
    }
}

static int op_range(Req *q, bool map, Error **errp)
{
    MxRangeReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    return map ? mx_server_map_range(q->s->d, req.id, req.type, req.start, req.end, errp)
               : mx_server_unmap_range(q->s->d, req.id, req.type, req.start, req.end, errp);
}

static int op_modified_memory(Req *q, Error **errp)
{
    MxDomainReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc || (rc = need(q, sizeof(req) + (uint64_t)req.nr * sizeof(MxExtent), errp)))
        return rc;
    for (uint32_t i = 0; i < req.nr; i++) {
        MxExtent e;
        memcpy(&e, q->p + sizeof(req) + i * sizeof(e), sizeof(e));
        if ((rc = mx_domain_mark_dirty(q->s->d, e.first_pfn, e.nr, errp)))
            return rc;
    }
    return 0;
}

/* Xen's track_dirty_vram: nr == 0 stops tracking; the first call reports all dirty. */
static int op_track_dirty_vram(Req *q, Reply *r, Error **errp)
{
    MxExtentReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    MxDomain *d = q->s->d;
    if (req.nr == 0) {
        mx_domain_set_log_dirty(d, false);
        return 0;
    }
    if (req.nr > (1u << 20)) {
        error_setg_errno(errp, E2BIG, "track_dirty_vram: %llu frames",
                         (unsigned long long)req.nr);
        return -E2BIG;
    }
    size_t bytes = (req.nr + 63) / 64 * 8;
    unsigned long *bitmap = calloc(1, bytes);
    if (!bitmap) {
        error_setg_errno(errp, ENOMEM, "track_dirty_vram bitmap");
        return -ENOMEM;
    }
    pthread_mutex_lock(&d->lock);
    bool was_on = d->log_dirty;
    pthread_mutex_unlock(&d->lock);
    if (!was_on) {
        mx_domain_set_log_dirty(d, true);
        memset(bitmap, 0xff, bytes);
    } else if ((rc = mx_domain_dirty_bitmap(d, req.first_pfn, req.nr, true, bitmap, errp))) {
        free(bitmap);
        return rc;
    }
    r->data = bitmap;
    r->len = bytes;
    r->owned = true;
    return 0;
}

static int op_irq(Req *q, Error **errp)
{
    MxIrqReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    return mx_irq_set(q->s->d, &req, errp);
}

static int op_restrict(Req *q, Error **errp)
{
    MxDomainReq req;
    int rc = take(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    if (q->c->restricted && q->c->restrict_domid != req.domid) {
        error_setg_errno(errp, EPERM, "handle already restricted to domain %u",
                         q->c->restrict_domid);
        return -EPERM;
    }
    q->c->restricted = true;
    q->c->restrict_domid = req.domid;
    return 0;
}

static int op_shutdown(Req *q, Error **errp)
{
    MxDomainReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    mx_domain_shut_down(q->s->d, (unsigned)req.arg);
    return 0;
}

static int op_evtchn_open(Req *q, Reply *r, Error **errp)
{
    if (q->c->evtchn) {
        error_setg_errno(errp, EBUSY, "event channel handle already open on this connection");
        return -EBUSY;
    }
    q->c->evtchn = mx_evtchn_open(errp);
    if (!q->c->evtchn)
        return -ENOMEM;
    reply_fds(r, q->c->evtchn->efd, q->c->evtchn->page_fd);
    return 0;
}

static int op_evtchn_bind(Req *q, Reply *r, bool bind, Error **errp)
{
    MxBindReq req;
    int rc = take(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    if (!q->c->evtchn) {
        error_setg_errno(errp, EBADF, "no event channel handle on this connection");
        return -EBADF;
    }
    if (!bind)
        return mx_evtchn_unbind(q->s->d, q->c->evtchn, req.port, errp);
    if ((rc = check_domain(q, req.domid, errp)))
        return rc;
    int kick;
    rc = mx_evtchn_bind(q->s->d, q->c->evtchn, req.port, &kick, errp);
    if (rc > 0) {
        r->fds[0] = kick;
        r->nfds = 1;
    }
    return rc;
}

static int op_gnttab_map(Req *q, Reply *r, Error **errp)
{
    MxGrantMapReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    if (req.count == 0 || req.count > MX_GNTTAB_MAX_ENTRIES) {
        error_setg_errno(errp, EINVAL, "grant map of %u entries (1 to %u)", req.count,
                         MX_GNTTAB_MAX_ENTRIES);
        return -EINVAL;
    }
    if ((rc = need(q, sizeof(req) + req.count * sizeof(uint32_t), errp)))
        return rc;
    if (!q->c->gnttab && !(q->c->gnttab = mx_gnttab_open(errp)))
        return -ENOMEM;
    size_t len = sizeof(MxGrantMapReply) + req.count * sizeof(uint64_t);
    uint8_t *out = malloc(len);
    uint32_t *refs = malloc(req.count * sizeof(*refs));
    uint64_t *gfns = malloc(req.count * sizeof(*gfns));
    rc = -ENOMEM;
    if (!out || !refs || !gfns) {
        error_setg_errno(errp, ENOMEM, "grant map of %u entries", req.count);
    } else {
        MxGrantMapReply rep = { .count = req.count };
        memcpy(refs, q->p + sizeof(req), req.count * sizeof(*refs));
        rc = mx_gnttab_map(q->s->d, q->c->gnttab, refs, req.count, req.writable, gfns,
                           &rep.id, errp);
        memcpy(out, &rep, sizeof(rep));
        memcpy(out + sizeof(rep), gfns, req.count * sizeof(*gfns));
    }
    free(refs);
    free(gfns);
    if (rc) {
        free(out);
        return rc;
    }
    *r = (Reply){ .data = out, .len = len, .owned = true };
    return 0;
}

static int op_gnttab_unmap(Req *q, Error **errp)
{
    MxGrantUnmapReq req;
    int rc = take_for_domain(q, &req, sizeof(req), errp);
    if (rc)
        return rc;
    if (!q->c->gnttab) {
        error_setg_errno(errp, EINVAL, "no grant mapping %u on this connection", req.id);
        return -EINVAL;
    }
    return mx_gnttab_unmap(q->s->d, q->c->gnttab, req.id, req.count, errp);
}

static int op_query(Req *q, Reply *r, Error **errp)
{
    char cmd[128];
    size_t n = q->len < sizeof(cmd) - 1 ? q->len : sizeof(cmd) - 1;
    memcpy(cmd, q->p, n);
    cmd[n] = '\0';
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        error_setg_errno(errp, ENOMEM, "query answer");
        return -ENOMEM;
    }
    int rc = mx_query_answer(q->s->d, q->s->stats, cmd, out, errp);
    fclose(out);
    if (rc) {
        free(text);
        return rc;
    }
    r->data = text;
    r->len = len + 1;
    r->owned = true;
    return 0;
}

static int dispatch(Req *q, uint32_t op, Reply *r, Error **errp)
{
    switch (op) {
    case MX_OP_DOMAIN_INFO:     return op_domain_info(q, r, errp);
    case MX_OP_POPULATE:        return op_frames(q, true, errp);
    case MX_OP_DEPOPULATE:      return op_frames(q, false, errp);
    case MX_OP_HVM_PARAM_GET:   return op_param(q, r, false, errp);
    case MX_OP_HVM_PARAM_SET:   return op_param(q, r, true, errp);
    case MX_OP_GUEST_MEMORY:    return op_guest_memory(q, r, errp);
    case MX_OP_IOREQ_RESOURCE:  return op_resource(q, r, errp);
    case MX_OP_SERVER_CREATE:
    case MX_OP_SERVER_DESTROY:
    case MX_OP_SERVER_INFO:
    case MX_OP_SERVER_STATE:    return op_server(q, r, op, errp);
    case MX_OP_MAP_RANGE:       return op_range(q, true, errp);
    case MX_OP_UNMAP_RANGE:     return op_range(q, false, errp);
    case MX_OP_MODIFIED_MEMORY: return op_modified_memory(q, errp);
    case MX_OP_TRACK_DIRTY_VRAM: return op_track_dirty_vram(q, r, errp);
    case MX_OP_IRQ:             return op_irq(q, errp);
    case MX_OP_RESTRICT:        return op_restrict(q, errp);
    case MX_OP_SHUTDOWN:        return op_shutdown(q, errp);
    case MX_OP_EVTCHN_OPEN:     return op_evtchn_open(q, r, errp);
    case MX_OP_EVTCHN_BIND:     return op_evtchn_bind(q, r, true, errp);
    case MX_OP_EVTCHN_UNBIND:   return op_evtchn_bind(q, r, false, errp);
    case MX_OP_QUERY:           return op_query(q, r, errp);
    case MX_OP_GNTTAB_MAP:      return op_gnttab_map(q, r, errp);
    case MX_OP_GNTTAB_UNMAP:    return op_gnttab_unmap(q, errp);
    default:
        error_setg_errno(errp, ENOSYS, "unknown request %u", op);
        return -ENOSYS;
    }
}

static int handle_hello(MxSockServer *s, Conn *c, const uint8_t *p, size_t len)
{
    MxHello hello;
    MxHelloReply rep = { .version = MX_PROTO_VERSION, .nr_kinds = MX_KIND_NR,
                         .domid = s->d->domid, .arch = s->d->arch };
    MxReplyHdr hdr = { .ret = 0, .len = sizeof(rep), .nfds = 1 };
    if (len >= sizeof(hello))
        memcpy(&hello, p, sizeof(hello));
    if (len < sizeof(hello) || hello.version != MX_PROTO_VERSION) {
        /* a shim of another build: its messages would be misread */
        log_warn("a client said hello with protocol %u, mockxen speaks %u",
                 len < sizeof(hello) ? 0 : hello.version, MX_PROTO_VERSION);
        hdr = (MxReplyHdr){ .ret = -1, .err = EPROTO };
        return mx_wire_send(c->fd, &hdr, sizeof(hdr), NULL, 0, NULL, 0);
    }
    memcpy(c->lib, hello.library, sizeof(c->lib) - 1);
    log_debug("connection %d: %s (protocol %u)", c->fd, c->lib, hello.version);
    return mx_wire_send(c->fd, &hdr, sizeof(hdr), &rep, sizeof(rep), &s->stats->fd, 1);
}

static void catch_up(MxSockServer *s, Conn *except);

/* Handle one request; answer it unless it is one-way (then only log a failure). */
static int handle_request(MxSockServer *s, Conn *c, uint32_t op, const uint8_t *payload,
                          size_t len)
{
    static LogRateLimit oneway_failure_rl;
    bool oneway = op & MX_MSG_ONEWAY;
    op &= ~MX_MSG_ONEWAY;
    if (!oneway)
        catch_up(s, c);
    Req q = { .s = s, .c = c, .p = payload, .len = len };
    Reply r = { 0 };
    Error *err = NULL;
    int ret = dispatch(&q, op, &r, &err);
    int rc = 0;
    if (err) {
        if (oneway)
            log_ratelimited(&oneway_failure_rl, LOG_WARN, "%s one-way request %u failed: %s",
                            c->lib, op, error_get_pretty(err));
        else
            log_debug("%s request %u failed: %s", c->lib, op, error_get_pretty(err));
        error_free(err);
    }
    if (oneway) {
        mx_oneway_done(s->d);
    } else {
        MxReplyHdr rep = { .ret = ret < 0 ? -1 : ret, .err = ret < 0 ? -ret : 0,
                           .len = ret < 0 ? 0 : r.len, .nfds = ret < 0 ? 0 : r.nfds };
        rc = mx_wire_send(c->fd, &rep, sizeof(rep), r.data, rep.len, r.fds, rep.nfds);
    }
    if (r.owned)
        free(r.data);
    return rc;
}

/* Read and handle one message. A non-zero return closes the connection. */
static int serve_one(MxSockServer *s, Conn *c)
{
    MxMsgHdr hdr;
    int rc = mx_wire_recv(c->fd, &hdr, sizeof(hdr), NULL, 0, NULL);
    if (rc)
        return rc;
    if (hdr.len > MX_MSG_MAX_PAYLOAD) {
        log_warn("%s connection sent a %u-byte request: closing it", c->lib, hdr.len);
        return -EMSGSIZE;
    }
    uint8_t *payload = malloc(hdr.len + 1);
    if (!payload)
        return -ENOMEM;
    rc = mx_wire_recv(c->fd, payload, hdr.len, NULL, 0, NULL);
    if (rc == 0 && hdr.op == MX_OP_HELLO)
        rc = handle_hello(s, c, payload, hdr.len);
    else if (rc == 0)
        rc = handle_request(s, c, hdr.op, payload, hdr.len);
    free(payload);
    return rc;
}

/*
 * Before answering a request, handle the one-way messages other connections sent
 * before it: their bytes are here already (oneway.c). A process that raised an
 * interrupt on one handle and then asks something on another finds it done, as with
 * Xen's synchronous hypercalls. Connections are only marked dead here (the server loop
 * closes them), and those served are skipped by the loop's current pass, whose poll()
 * results are stale for them.
 */
static void catch_up(MxSockServer *s, Conn *except)
{
    if (s->catching_up)
        return;                     /* serving out of turn already */
    s->catching_up = true;
    struct pollfd pfds[MAX_CONNS];
    unsigned n = s->nconns;
    for (unsigned round = 0; round < CATCH_UP_ROUNDS && mx_oneway_behind(s->d); round++) {
        for (unsigned i = 0; i < n; i++) {
            Conn *c = s->conns[i];
            pfds[i] = (struct pollfd){ .fd = c == except || c->dead ? -1 : c->fd,
                                       .events = POLLIN };
        }
        if (poll(pfds, n, 0) <= 0)
            break;
        for (unsigned i = 0; i < n; i++) {
            Conn *c = s->conns[i];
            if (!pfds[i].revents || c->dead)
                continue;
            c->caught_up_pass = s->pass;
            c->dead = serve_one(s, c) != 0;
        }
    }
    s->catching_up = false;
}

static void close_conn(MxSockServer *s, unsigned i)
{
    Conn *c = s->conns[i];
    if (c->evtchn)
        mx_evtchn_close(s->d, c->evtchn);
    mx_gnttab_close(s->d, c->gnttab);
    close(c->fd);
    free(c);
    s->conns[i] = s->conns[--s->nconns];
}

static void close_dead_conns(MxSockServer *s)
{
    for (unsigned i = s->nconns; i-- > 0;)      /* backwards: close_conn moves the last */
        if (s->conns[i]->dead)
            close_conn(s, i);
}

static void accept_conn(MxSockServer *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    Conn *c = s->nconns < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        log_warn("refusing a connection: %u connections open", s->nconns);
        close(fd);
        return;
    }
    /* One thread serves everybody: never let a half-sent request or an unread reply
     * block it for long. */
    struct timeval tv = { .tv_sec = CONN_IO_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    c->fd = fd;
    snprintf(c->lib, sizeof(c->lib), "client");
    s->conns[s->nconns++] = c;
}

static void *server_thread(void *opaque)
{
    MxSockServer *s = opaque;
    struct pollfd pfds[MAX_CONNS + 2];
    for (;;) {
        unsigned n = s->nconns;
        pfds[0] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
        pfds[1] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
        for (unsigned i = 0; i < n; i++)
            pfds[i + 2] = (struct pollfd){ .fd = s->conns[i]->fd, .events = POLLIN };
        if (poll(pfds, n + 2, -1) < 0)
            continue;
        if (pfds[0].revents)
            break;
        s->pass++;
        for (unsigned i = 0; i < n; i++) {
            Conn *c = s->conns[i];
            if (pfds[i + 2].revents && !c->dead && c->caught_up_pass != s->pass)
                c->dead = serve_one(s, c) != 0;
        }
        close_dead_conns(s);
        if (pfds[1].revents)
            accept_conn(s);
    }
    return NULL;
}

/* Fill *addr for the socket at path. */
static int unix_addr(const char *path, struct sockaddr_un *addr, Error **errp)
{
    *addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr->sun_path)) {
        error_setg_errno(errp, ENAMETOOLONG, "socket path '%s'", path);
        return -ENAMETOOLONG;
    }
    strcpy(addr->sun_path, path);
    return 0;
}

int mx_sockserver_start(const char *path, MxDomain *domain, MxStats *stats,
                        MxSockServer **out, Error **errp)
{
    struct sockaddr_un addr;
    int rc = unix_addr(path, &addr, errp);
    if (rc)
        return rc;
    MxSockServer *s = calloc(1, sizeof(*s));
    if (!s) {
        error_setg_errno(errp, ENOMEM, "socket server");
        return -ENOMEM;
    }
    s->d = domain;
    s->stats = stats;
    strcpy(s->path, path);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    unlink(path);
    if (s->listen_fd < 0 || s->stop_fd < 0 ||
        bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(s->listen_fd, 64) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "listening on '%s'", path);
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        if (s->stop_fd >= 0)
            close(s->stop_fd);
        free(s);
        return -err;
    }
    rc = pthread_create(&s->thread, NULL, server_thread, s);
    if (rc) {
        error_setg_errno(errp, rc, "starting the socket server thread");
        close(s->listen_fd);
        close(s->stop_fd);
        unlink(path);
        free(s);
        return -rc;
    }
    *out = s;
    return 0;
}

void mx_sockserver_stop(MxSockServer *s)
{
    if (!s)
        return;
    uint64_t one = 1;
    if (write(s->stop_fd, &one, sizeof(one)) < 0)
        log_warn("stopping the socket server: %m");
    pthread_join(s->thread, NULL);
    for (unsigned i = 0; i < s->nconns; i++)      /* an orderly exit, not a crash */
        if (s->conns[i]->evtchn)
            __atomic_store_n(&s->conns[i]->evtchn->page->daemon_exiting, 1, __ATOMIC_SEQ_CST);
    while (s->nconns)
        close_conn(s, s->nconns - 1);
    close(s->listen_fd);
    close(s->stop_fd);
    unlink(s->path);
    free(s);
}

int mx_query(const char *path, const char *command, char **answer, Error **errp)
{
    struct sockaddr_un addr;
    int rc = unix_addr(path, &addr, errp);
    if (rc)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "connecting to mockxen at '%s'", path);
        if (fd >= 0)
            close(fd);
        return -err;
    }
    MxMsgHdr hdr = { .op = MX_OP_QUERY, .len = strlen(command) + 1 };
    MxReplyHdr rep;
    rc = mx_wire_send(fd, &hdr, sizeof(hdr), command, hdr.len, NULL, 0);
    if (rc == 0)
        rc = mx_wire_recv(fd, &rep, sizeof(rep), NULL, 0, NULL);
    if (rc == 0 && rep.ret < 0)
        rc = -rep.err;
    char *text = NULL;
    if (rc == 0 && (rep.len > MX_MSG_MAX_PAYLOAD || !(text = malloc(rep.len + 1))))
        rc = -ENOMEM;
    if (rc == 0 && (rc = mx_wire_recv(fd, text, rep.len, NULL, 0, NULL)) == 0)
        text[rep.len] = '\0';
    close(fd);
    if (rc) {
        free(text);
        error_setg_errno(errp, -rc, "query '%s' to mockxen at '%s'", command, path);
        return rc;
    }
    *answer = text;
    return 0;
}
