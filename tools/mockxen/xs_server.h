/*
 * tools/mockxen/xs_server.h — mockxen's xenstore: an in-memory store served over the
 * xenstore wire protocol (xen/io/xs_wire.h) on a unix socket.
 *
 * The real libxenstore (and therefore Debian's xenstore-read/-write/-ls/-rm/-watch,
 * libxl-free tools and xendm itself) reaches it through XENSTORED_PATH=<socket path>.
 * Every unix-socket client is treated as dom0, so it may do everything; node
 * permissions ("n0", "r1", ...) are still stored, returned and validated like xenstored
 * does. Supported requests: READ, WRITE, MKDIR, RM, DIRECTORY, DIRECTORY_PART,
 * GET_PERMS, SET_PERMS, WATCH, UNWATCH (with the initial event on registration and
 * events for children and removed subtrees), TRANSACTION_START/END (a conflicting
 * commit fails with EAGAIN), GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED, and the domain
 * requests as xenstored (4.17) answers them: INTRODUCE (refused with EINVAL for a
 * domain the hypervisor does not have, see xs_server_add_domain), RELEASE and RESUME
 * (ENOENT for a domain not introduced, EINVAL for dom0), SET_TARGET (ENOENT unless both
 * are introduced) — bookkeeping plus @introduceDomain/@releaseDomain events: there are
 * no rings. Also RESET_WATCHES, CONTROL ("print" and "help"). Anything else (unknown
 * types) is answered with an XS_ERROR "ENOSYS" reply; malformed
 * messages get an error reply, and a message whose length exceeds XENSTORE_PAYLOAD_MAX
 * closes its connection. libxenstore sends nothing on connect. Per connection at most
 * 1024 watches (then E2BIG) and 64 open transactions (then ENOSPC); a client that
 * stops reading while 1 MiB of replies and events is queued is disconnected.
 *
 * At start the store holds what xenstored holds once xencommons has run:
 * /local/domain/0/{name = "Domain-0", domid = "0"} and /tool.
 *
 * Ownership and threading: xs_server_start() creates the socket (replacing a stale one
 * at the same path) and one server thread that owns every connection. The XsServer is
 * owned by the caller and released with xs_server_stop(), which joins the thread,
 * closes every connection and unlinks the socket. The in-process accessors below may be
 * called from any thread at any time between start and stop; one mutex serialises them
 * with the server thread. Watch events caused by in-process writes are delivered to
 * socket clients like any other.
 */
#ifndef MOCKXEN_XS_SERVER_H
#define MOCKXEN_XS_SERVER_H

#include <stdbool.h>

#include "util/error.h"

typedef struct XsServer XsServer;

/* Start serving on the unix socket `socket_path`. On success *out is the new server. */
int xs_server_start(const char *socket_path, XsServer **out, Error **errp);
/* Stop the thread, close every connection, unlink the socket, free. NULL is a no-op. */
void xs_server_stop(XsServer *server);
/* The socket path the server listens on (owned by the server). */
const char *xs_server_socket_path(const XsServer *server);

/*
 * In-process access, as dom0, outside any transaction. Paths are absolute.
 * xs_server_read returns a malloc'd NUL-terminated copy of the value (the caller frees
 * it), or NULL with errno set (ENOENT, EINVAL).
 */
char *xs_server_read(XsServer *server, const char *path);
/* Write `value` (a string) at `path`, creating missing parents. 0 or -errno. */
int xs_server_write(XsServer *server, const char *path, const char *value, Error **errp);
/* Remove `path` and its subtree. 0, or -errno (-ENOENT if it does not exist). */
int xs_server_rm(XsServer *server, const char *path, Error **errp);

/*
 * Wait until `path` holds exactly `value`, or `timeout_ms` milliseconds pass (a
 * negative timeout waits forever). Returns 0 once the value is there (also if it
 * already was), -ETIMEDOUT on timeout (with a message naming the path and the value
 * last seen), -ESHUTDOWN if the server is stopping.
 */
int xs_server_wait_value(XsServer *server, const char *path, const char *value,
                         int timeout_ms, Error **errp);

/*
 * Create the nodes a toolstack creates for a new HVM domain `domid`, as xl does:
 *   /local/domain/<domid>                  (owner dom0, readable by domid)
 *   /local/domain/<domid>/domid            = "<domid>"
 *   /local/domain/<domid>/name             = `name` (if not NULL)
 *   /local/domain/0/device-model/<domid>   (owner dom0, readable by domid)
 * and mark the domain existing (INTRODUCE accepts it) and introduced
 * (XS_IS_DOMAIN_INTRODUCED answers "T"). Idempotent.
 * Returns 0 or -errno (-EINVAL for domid 0 or >= DOMID_FIRST_RESERVED).
 */
int xs_server_add_domain(XsServer *server, unsigned domid, const char *name,
                         Error **errp);
/* Forget domain `domid`: remove /local/domain/<domid> and its device-model node and
 * fire @releaseDomain watches. 0 or -errno. */
int xs_server_remove_domain(XsServer *server, unsigned domid, Error **errp);
/*
 * The hypervisor says domain `domid` shut down or crashed (Xen's VIRQ_DOM_EXC): as
 * xenstored's check_domains, an introduced domain whose shutdown was not noticed yet
 * fires @releaseDomain; it fires again only after a RESUME. Any thread may call it.
 */
void xs_server_domain_shut_down(XsServer *server, unsigned domid);

#endif
