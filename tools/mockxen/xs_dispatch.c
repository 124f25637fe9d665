/*
 * tools/mockxen/xs_dispatch.c — one handler per xenstore request type.
 *
 * A handler either queues its reply and returns 0, or returns -errno and the
 * dispatcher answers with an XS_ERROR naming it. Requests carrying a tx_id work on that
 * transaction's snapshot; others on the live store, where every change fires watches
 * and wakes in-process waiters. Payloads come from clients: every length and string is
 * checked before use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <xen/xen.h>

#include "tools/mockxen/xs_server_priv.h"

/* Enough for SET_PERMS: a payload of XENSTORE_PAYLOAD_MAX bytes holds at most this
 * many NUL-terminated strings. */
#define MAX_ARGS (XENSTORE_PAYLOAD_MAX / 2 + 1)

typedef struct XsRequest {
    XsServer *server;
    XsConn *conn;
    const struct xsd_sockmsg *hdr;
    const char *body;
    const char *args[MAX_ARGS];
    int nargs;              /* -EINVAL if the payload is not a list of strings */
    XsTxn *txn;             /* the transaction named by hdr->tx_id, or NULL */
} XsRequest;

static void reply(XsRequest *req, const void *payload, size_t len)
{
    xs_conn_send(req->conn, req->hdr->type, req->hdr->req_id, req->hdr->tx_id,
                 payload, len);
}

static void reply_string(XsRequest *req, const char *s)
{
    reply(req, s, strlen(s) + 1);
}

static XsStore *store_of(XsRequest *req)
{
    return req->txn ? xs_txn_store(req->txn) : req->server->store;
}

/* The request's only argument as a canonical absolute path (malloc'd), or NULL with
 * *err set. */
static char *path_arg(XsRequest *req, int *err)
{
    char *path;

    if (req->nargs != 1) {
        *err = -EINVAL;
        return NULL;
    }
    path = xs_path_canonical(req->args[0], req->conn->domid, false);
    if (!path)
        *err = -errno;
    return path;
}

static void on_commit_change(const XsChange *change, void *opaque)
{
    xs_server_changed(opaque, change->path, change->kind == XS_CHANGE_RM);
}

/* ---- nodes ------------------------------------------------------------------------- */

static int do_read(XsRequest *req)
{
    const char *value;
    unsigned len;
    int ret;
    char *path = path_arg(req, &ret);

    if (!path)
        return ret;
    ret = xs_store_read(store_of(req), path, &value, &len);
    free(path);
    if (ret < 0)
        return ret;
    if (len > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    reply(req, value, len);
    return 0;
}

static int do_write(XsRequest *req)
{
    const char *nul = memchr(req->body, '\0', req->hdr->len);
    char *path;
    int ret;

    if (!nul)
        return -EINVAL;
    path = xs_path_canonical(req->body, req->conn->domid, false);
    if (!path)
        return -errno;
    const char *value = nul + 1;
    unsigned len = req->hdr->len - (unsigned)(value - req->body);
    if (req->txn)
        ret = xs_txn_write(req->txn, path, value, len);
    else if ((ret = xs_store_write(req->server->store, path, value, len)) == 0)
        xs_server_changed(req->server, path, false);
    free(path);
    if (ret == 0)
        reply_string(req, "OK");
    return ret;
}

/* MKDIR and RM: one path, no result. */
static int do_mkdir_rm(XsRequest *req)
{
    bool rm = req->hdr->type == XS_RM;
    int ret;
    char *path = path_arg(req, &ret);

    if (!path)
        return ret;
    if (req->txn)
        ret = rm ? xs_txn_rm(req->txn, path) : xs_txn_mkdir(req->txn, path);
    else {
        /* xenstored fires no event for a MKDIR of an existing node or an RM of a
         * missing one. */
        bool existed = xs_store_exists(req->server->store, path);
        ret = rm ? xs_store_rm(req->server->store, path)
                 : xs_store_mkdir(req->server->store, path);
        if (ret == 0 && existed == rm)
            xs_server_changed(req->server, path, rm);
    }
    free(path);
    if (ret == 0)
        reply_string(req, "OK");
    return ret;
}

static int do_directory(XsRequest *req)
{
    char *names;
    unsigned len;
    uint64_t gen;
    int ret;
    char *path = path_arg(req, &ret);

    if (!path)
        return ret;
    ret = xs_store_directory(store_of(req), path, &names, &len, &gen);
    free(path);
    if (ret < 0)
        return ret;
    if (len > XENSTORE_PAYLOAD_MAX)
        ret = -E2BIG;   /* libxenstore then falls back to DIRECTORY_PART */
    else
        reply(req, names, len);
    free(names);
    return ret;
}

/*
 * DIRECTORY_PART <path>|<offset>|: "<generation>|" followed by the children list from
 * byte <offset> on, as many whole names as fit; the last part ends with an extra NUL.
 */
static int do_directory_part(XsRequest *req)
{
    char *path, *names, buf[XENSTORE_PAYLOAD_MAX];
    unsigned len, offset;
    uint64_t gen;
    char *end;
    int ret;

    if (req->nargs != 2)
        return -EINVAL;
    unsigned long off = strtoul(req->args[1], &end, 10);
    if (*req->args[1] == '\0' || *end != '\0' || off > UINT32_MAX)
        return -EINVAL;
    offset = (unsigned)off;
    path = xs_path_canonical(req->args[0], req->conn->domid, false);
    if (!path)
        return -errno;
    ret = xs_store_directory(store_of(req), path, &names, &len, &gen);
    free(path);
    if (ret < 0)
        return ret;
    if (offset > len || (offset > 0 && names[offset - 1] != '\0')) {
        free(names);
        return -EINVAL;     /* not the start of a name */
    }
    size_t pos = (size_t)snprintf(buf, sizeof(buf), "%llu", (unsigned long long)gen) + 1;
    unsigned i = offset;
    while (i < len) {
        size_t n = strlen(names + i) + 1;
        if (pos + n + 1 > sizeof(buf))      /* keep room for the final NUL */
            break;
        memcpy(buf + pos, names + i, n);
        pos += n;
        i += (unsigned)n;
    }
    if (i == len)
        buf[pos++] = '\0';
    free(names);
    if (i == offset && i < len)
        return -E2BIG;      /* a single name longer than a payload: cannot happen */
    reply(req, buf, pos);
    return 0;
}

/* ---- permissions ------------------------------------------------------------------- */

static int do_get_perms(XsRequest *req)
{
    XsPerms perms;
    char buf[XENSTORE_PAYLOAD_MAX];
    size_t pos = 0;
    int ret;
    char *path = path_arg(req, &ret);

    if (!path)
        return ret;
    ret = xs_store_get_perms(store_of(req), path, &perms);
    free(path);
    if (ret < 0)
        return ret;
    for (unsigned i = 0; i < perms.count && ret == 0; i++) {
        if (pos + 8 > sizeof(buf))
            ret = -E2BIG;
        else
            pos += (size_t)xs_perm_format(&perms.entries[i], buf + pos, 8) + 1;
    }
    xs_perms_clear(&perms);
    if (ret == 0)
        reply(req, buf, pos);
    return ret;
}

static int do_set_perms(XsRequest *req)
{
    XsPerms perms = { 0 };
    char *path;
    int ret = 0;

    if (req->nargs < 2)
        return -EINVAL;
    perms.count = (unsigned)req->nargs - 1;
    perms.entries = calloc(perms.count, sizeof(*perms.entries));
    if (!perms.entries)
        return -ENOMEM;
    for (unsigned i = 0; i < perms.count && ret == 0; i++)
        ret = xs_perm_parse(req->args[i + 1], &perms.entries[i]);
    path = ret == 0 ? xs_path_canonical(req->args[0], req->conn->domid, false) : NULL;
    if (ret == 0 && !path)
        ret = -errno;
    if (ret == 0) {
        if (req->txn)
            ret = xs_txn_set_perms(req->txn, path, &perms);
        else if ((ret = xs_store_set_perms(req->server->store, path, &perms)) == 0)
            xs_server_changed(req->server, path, false);
    }
    free(path);
    xs_perms_clear(&perms);
    if (ret == 0)
        reply_string(req, "OK");
    return ret;
}

/* ---- watches ----------------------------------------------------------------------- */

/* WATCH and UNWATCH <path>|<token>|?: the tx_id is ignored. */
static int do_watch(XsRequest *req)
{
    int ret;

    if (req->nargs < 2)
        return -EINVAL;
    if (req->hdr->type == XS_WATCH)
        ret = xs_watch_add(req->conn, req->args[0], req->args[1]);
    else
        ret = xs_watch_remove(req->conn, req->args[0], req->args[1]);
    if (ret < 0)
        return ret;
    reply_string(req, "OK");
    if (req->hdr->type == XS_WATCH)
        xs_watch_fire_initial(req->conn, req->args[0], req->args[1]);
    return 0;
}

static void conn_drop_txns(XsConn *conn)
{
    for (unsigned i = 0; i < conn->ntxns; i++)
        xs_txn_abort(conn->txns[i]);
    conn->ntxns = 0;
}

static int do_reset_watches(XsRequest *req)
{
    xs_watch_clear(req->conn);
    conn_drop_txns(req->conn);
    reply_string(req, "OK");
    return 0;
}

/* ---- transactions ------------------------------------------------------------------ */

static int do_transaction_start(XsRequest *req)
{
    XsConn *conn = req->conn;
    char id[16];

    if (req->hdr->tx_id != 0)
        return -EBUSY;      /* no nested transactions */
    if (conn->ntxns == XS_MAX_TXNS_PER_CONN)
        return -ENOSPC;
    /* Ids are unique over the server's life and never 0 (= no transaction). */
    uint32_t txid = ++req->server->last_txn_id;
    if (txid == 0)
        txid = ++req->server->last_txn_id;
    XsTxn *txn = xs_txn_begin(req->server->store, txid);
    if (!txn)
        return -ENOMEM;
    conn->txns[conn->ntxns++] = txn;
    snprintf(id, sizeof(id), "%u", txid);
    reply_string(req, id);
    return 0;
}

static int do_transaction_end(XsRequest *req)
{
    XsConn *conn = req->conn;
    bool commit;
    int ret = 0;

    if (req->nargs != 1 || (strcmp(req->args[0], "T") && strcmp(req->args[0], "F")))
        return -EINVAL;
    commit = req->args[0][0] == 'T';
    for (unsigned i = 0; i < conn->ntxns; i++) {
        if (conn->txns[i] != req->txn)
            continue;
        conn->txns[i] = conn->txns[--conn->ntxns];
        break;
    }
    if (commit)
        ret = xs_txn_commit(req->txn, req->server->store, on_commit_change, req->server);
    else
        xs_txn_abort(req->txn);
    req->txn = NULL;
    if (ret == 0)
        reply_string(req, "OK");
    return ret;
}

/* ---- domains ----------------------------------------------------------------------- */

static int domid_arg(XsRequest *req, unsigned min_args, unsigned *domid)
{
    if (req->nargs < (int)min_args)
        return -EINVAL;
    return xs_parse_domid(req->args[0], domid);
}

static int do_get_domain_path(XsRequest *req)
{
    unsigned domid;
    char path[32];
    int ret = domid_arg(req, 1, &domid);

    if (ret < 0)
        return ret;
    xs_path_domain(path, sizeof(path), domid);
    reply_string(req, path);
    return 0;
}

static bool is_introduced(const XsServer *server, unsigned domid)
{
    return domid == 0 || xs_domid_test(server->introduced, domid);
}

static int do_is_domain_introduced(XsRequest *req)
{
    unsigned domid;
    int ret = domid_arg(req, 1, &domid);

    if (ret < 0)
        return ret;
    reply_string(req, is_introduced(req->server, domid) ? "T" : "F");
    return 0;
}

/*
 * INTRODUCE <domid>|<gfn>|<evtchn>|: as xenstored's do_introduce, an event channel
 * port of 0 is EINVAL; a domain already introduced (dom0 always is) only gets its
 * event channel rebound, without an event; a new one must exist: xenstored maps its
 * xenstore page through the grant table, which fails with EINVAL for a domain Xen does
 * not have. mockxen has no rings, so the rest is bookkeeping and @introduceDomain.
 */
static int do_introduce(XsRequest *req)
{
    unsigned domid;
    int ret = domid_arg(req, 3, &domid);

    if (ret < 0)
        return ret;
    if (atoi(req->args[2]) <= 0)
        return -EINVAL;
    XsServer *server = req->server;
    if (!is_introduced(server, domid)) {
        if (!xs_domid_test(server->exists, domid))
            return -EINVAL;
        xs_domid_set(server->introduced, domid, true);
        xs_domid_set(server->shutdown, domid, false);
        xs_watch_fire(server, "@introduceDomain", false);
    }
    reply_string(req, "OK");
    return 0;
}

/* The domain of RELEASE and RESUME, as xenstored's onearg_domain: dom0 is EINVAL, a
 * domain not introduced ENOENT. */
static int introduced_guest_arg(XsRequest *req, unsigned *domid)
{
    int ret = domid_arg(req, 1, domid);

    if (ret < 0)
        return ret;
    if (*domid == 0)
        return -EINVAL;
    return is_introduced(req->server, *domid) ? 0 : -ENOENT;
}

/* RELEASE <domid>|: the domain is forgotten and @releaseDomain fires. */
static int do_release(XsRequest *req)
{
    unsigned domid;
    int ret = introduced_guest_arg(req, &domid);

    if (ret < 0)
        return ret;
    xs_domid_set(req->server->introduced, domid, false);
    reply_string(req, "OK");
    xs_watch_fire(req->server, "@releaseDomain", false);
    return 0;
}

/* RESUME <domid>|: forget that the domain was seen shut down, so that its next
 * shutdown fires @releaseDomain again. */
static int do_resume(XsRequest *req)
{
    unsigned domid;
    int ret = introduced_guest_arg(req, &domid);

    if (ret < 0)
        return ret;
    xs_domid_set(req->server->shutdown, domid, false);
    reply_string(req, "OK");
    return 0;
}

/* SET_TARGET <domid>|<target>|: both must be introduced (ENOENT otherwise). xenstored
 * then lets domid's connection act with target's privileges; mockxen's clients are all
 * dom0 sockets, so there is nothing more to record. */
static int do_set_target(XsRequest *req)
{
    unsigned domid, target;
    int ret = domid_arg(req, 2, &domid);

    if (ret == 0)
        ret = xs_parse_domid(req->args[1], &target);
    if (ret < 0)
        return ret;
    if (!is_introduced(req->server, domid) || !is_introduced(req->server, target))
        return -ENOENT;
    reply_string(req, "OK");
    return 0;
}

/* CONTROL <command>|[<parameters>|]: "print" logs its parameter, "help" lists. */
static int do_control(XsRequest *req)
{
    const char *cmd = memchr(req->body, '\0', req->hdr->len) ? req->body : NULL;

    if (!cmd)
        return -EINVAL;
    if (strcmp(cmd, "help") == 0) {
        reply_string(req, "help\nprint <string>\n");
        return 0;
    }
    if (strcmp(cmd, "print") == 0 && req->nargs == 2) {
        log_info("mockxen xenstore: %s", req->args[1]);
        reply_string(req, "OK");
        return 0;
    }
    return -EINVAL;
}

/* ---- dispatch ---------------------------------------------------------------------- */

typedef int (*XsHandler)(XsRequest *req);

static const XsHandler handlers[XS_TYPE_COUNT] = {
    [XS_CONTROL]              = do_control,
    [XS_DIRECTORY]            = do_directory,
    [XS_READ]                 = do_read,
    [XS_GET_PERMS]            = do_get_perms,
    [XS_WATCH]                = do_watch,
    [XS_UNWATCH]              = do_watch,
    [XS_TRANSACTION_START]    = do_transaction_start,
    [XS_TRANSACTION_END]      = do_transaction_end,
    [XS_INTRODUCE]            = do_introduce,
    [XS_RELEASE]              = do_release,
    [XS_RESUME]               = do_resume,
    [XS_SET_TARGET]           = do_set_target,
    [XS_GET_DOMAIN_PATH]      = do_get_domain_path,
    [XS_WRITE]                = do_write,
    [XS_MKDIR]                = do_mkdir_rm,
    [XS_RM]                   = do_mkdir_rm,
    [XS_SET_PERMS]            = do_set_perms,
    [XS_IS_DOMAIN_INTRODUCED] = do_is_domain_introduced,
    [XS_RESET_WATCHES]        = do_reset_watches,
    [XS_DIRECTORY_PART]       = do_directory_part,
};

/* Requests whose payload is not a list of strings (the rest must be). */
static bool payload_is_binary(uint32_t type)
{
    return type == XS_WRITE || type == XS_CONTROL;
}

static XsTxn *find_txn(XsConn *conn, uint32_t id)
{
    for (unsigned i = 0; i < conn->ntxns; i++)
        if (xs_txn_id(conn->txns[i]) == id)
            return conn->txns[i];
    return NULL;
}

/* Transactions apply to store accesses; WATCH/UNWATCH ignore tx_id, START rejects it. */
static bool uses_txn(uint32_t type)
{
    return type != XS_WATCH && type != XS_UNWATCH && type != XS_TRANSACTION_START;
}

static int validate_and_run(XsRequest *req)
{
    uint32_t type = req->hdr->type;
    XsHandler handler = type < XS_TYPE_COUNT ? handlers[type] : NULL;

    if (!handler)
        return -ENOSYS;
    req->nargs = xs_payload_split(req->body, req->hdr->len, req->args, MAX_ARGS);
    if (req->nargs < 0 && !payload_is_binary(type))
        return -EINVAL;
    if (req->hdr->tx_id != 0 && uses_txn(type)) {
        req->txn = find_txn(req->conn, req->hdr->tx_id);
        if (!req->txn)
            return -ENOENT;
    } else if (type == XS_TRANSACTION_END) {
        return -ENOENT;     /* END needs a transaction */
    }
    return handler(req);
}

void xs_dispatch(XsServer *server, XsConn *conn, const struct xsd_sockmsg *hdr,
                 const char *body)
{
    /* 16 KiB of argument pointers: fine on the server thread's default stack. */
    XsRequest req = { .server = server, .conn = conn, .hdr = hdr, .body = body };
    int ret;

    ret = validate_and_run(&req);
    if (ret < 0) {
        if (ret == -ENOSYS || ret == -EINVAL)
            log_ratelimited(&server->bad_request_log, LOG_DEBUG,
                            "mockxen xenstore: request type %u (len %u) rejected: %s",
                            hdr->type, hdr->len, xs_errno_name(-ret));
        xs_out_error(&conn->out, hdr->req_id, hdr->tx_id, -ret);
    }
}
