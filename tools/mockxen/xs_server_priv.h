/*
 * tools/mockxen/xs_server_priv.h — module-private to mockxen's xenstore (see
 * xs_server.h): the server and connection state shared by xs_server.c (sockets,
 * thread, start/stop), xs_api.c (the in-process accessors), xs_dispatch.c (one handler
 * per request type) and xs_watch.c (watch registration and events).
 *
 * Everything here is protected by XsServer.lock; functions declared here expect the
 * caller to hold it.
 */
#ifndef MOCKXEN_XS_SERVER_PRIV_H
#define MOCKXEN_XS_SERVER_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tools/mockxen/xs_server.h"
#include "tools/mockxen/xs_store.h"
#include "tools/mockxen/xs_wire.h"
#include "util/log.h"

/* Per-connection limits: a client that exceeds them gets an error, not more memory. */
#define XS_MAX_WATCHES_PER_CONN      1024
#define XS_MAX_TXNS_PER_CONN         64
#define XS_MAX_CONNECTIONS           256
/* A client that stops reading while this much output is queued is disconnected. */
#define XS_MAX_OUTPUT_QUEUED         (1u << 20)

typedef struct XsWatch {
    char *path;         /* as the client gave it (events echo it for relative watches) */
    char *abs;          /* canonical absolute path, or "@special" */
    char *token;
    bool relative;
} XsWatch;

typedef struct XsConn {
    int fd;
    unsigned domid;             /* always 0: unix-socket clients are dom0 */
    bool dead;                  /* to be closed by the server thread */
    XsMsgReader reader;
    XsOutBuf out;
    XsWatch *watches;
    unsigned nwatches, watch_capacity;
    XsTxn *txns[XS_MAX_TXNS_PER_CONN];
    unsigned ntxns;
    struct XsConn *next;
} XsConn;

struct XsServer {
    pthread_mutex_t lock;
    pthread_cond_t changed;     /* broadcast after every change to the store */
    XsStore *store;
    XsConn *conns;
    unsigned nconns;
    char *socket_path;
    int listen_fd;
    int wake_fd;                /* eventfd: wakes the server thread's poll() */
    pthread_t thread;
    bool stopping;
    unsigned waiters;           /* threads inside xs_server_wait_value() */
    uint32_t last_txn_id;
    /* Per domid, as xenstored's struct domain: the hypervisor has the domain (it
     * exists), it is introduced, and its shutdown has been noticed (@releaseDomain
     * fired; RESUME clears it). */
    uint8_t exists[(XS_DOMID_MAX + 1) / 8];
    uint8_t introduced[(XS_DOMID_MAX + 1) / 8];
    uint8_t shutdown[(XS_DOMID_MAX + 1) / 8];
    LogRateLimit bad_request_log;
};

static inline bool xs_domid_test(const uint8_t *map, unsigned domid)
{
    return map[domid / 8] & (1u << (domid % 8));
}

static inline void xs_domid_set(uint8_t *map, unsigned domid, bool on)
{
    if (on)
        map[domid / 8] |= (uint8_t)(1u << (domid % 8));
    else
        map[domid / 8] &= (uint8_t)~(1u << (domid % 8));
}

/* xs_dispatch.c: handle one complete request from `conn` (queueing its reply). */
void xs_dispatch(XsServer *server, XsConn *conn, const struct xsd_sockmsg *hdr,
                 const char *body);

/* xs_watch.c */
/* Register a watch (the path is canonicalised for the connection's domain) and queue
 * the initial event after the caller's reply. 0 or -errno (EEXIST, E2BIG, EINVAL). */
int xs_watch_add(XsConn *conn, const char *path, const char *token);
int xs_watch_remove(XsConn *conn, const char *path, const char *token);
void xs_watch_clear(XsConn *conn);
/* Queue the initial event of the watch just registered with (path, token). */
void xs_watch_fire_initial(XsConn *conn, const char *path, const char *token);
/*
 * `path` (absolute, or "@introduceDomain"/"@releaseDomain") changed: queue an event for
 * every watch on it or on an ancestor of it; with `subtree_removed`, also for watches
 * below it (the event then names the watch's own path).
 */
void xs_watch_fire(XsServer *server, const char *path, bool subtree_removed);

/* xs_server.c: after `path` of the live store changed, fire its watches, wake
 * in-process waiters and the server thread (which sends the queued events). */
void xs_server_changed(XsServer *server, const char *path, bool subtree_removed);
/* Wake the server thread (to send events queued outside it, or to stop). */
void xs_server_wake(XsServer *server);
/* Queue a message on a connection; a connection that cannot take it is marked dead. */
void xs_conn_send(XsConn *conn, uint32_t type, uint32_t req_id, uint32_t tx_id,
                  const void *payload, size_t len);

#endif
