/*
 * tools/mockxen/sockserver.h — the unix-socket server the shim libraries talk to
 * (protocol in proto.h).
 *
 * One thread owns the listening socket and every connection and answers requests one at
 * a time by calling the domain model (mockxen.h). Each connection is one library handle
 * and remembers what that handle did: its library, a `restrict` domid, its event
 * channel handle. Ownership: main creates the MxSockServer with mx_sockserver_start()
 * and releases it with mx_sockserver_stop() (joins the thread, closes connections and
 * their event channel handles, unlinks the socket). Domain and stats must outlive it.
 */
#ifndef MOCKXEN_SOCKSERVER_H
#define MOCKXEN_SOCKSERVER_H

#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/stats.h"
#include "util/error.h"

typedef struct MxSockServer MxSockServer;

int mx_sockserver_start(const char *path, MxDomain *domain, MxStats *stats,
                        MxSockServer **out, Error **errp);
void mx_sockserver_stop(MxSockServer *server);

/*
 * Client side of MX_OP_QUERY (used by `mockxen --query`): connect to the daemon at
 * `path`, send `command` (see query.h), return the answer (malloc'd, NUL-terminated)
 * in *answer.
 */
int mx_query(const char *path, const char *command, char **answer, Error **errp);

#endif
