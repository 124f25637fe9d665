/*
 * tools/mockxen/shim/client.h — what every shim library shares: the connection of one
 * library handle to the mockxen daemon, and call counting / fault injection.
 *
 * Each shim .so links its own copy (all symbols here are hidden by the version
 * scripts). A handle owns its MxClient: mx_client_open() connects to $MOCKXEN_SOCKET
 * and says hello, mx_client_close() disconnects. Calls on one client are serialised by
 * its mutex. Entry points of the Xen APIs start with MX_ENTER(kind, fail_value), which
 * counts the call in the daemon's shared counter page and applies injected faults;
 * unmodelled APIs are MX_ENOSYS(kind, fail_value): counted, then errno = ENOSYS.
 */
#ifndef MOCKXEN_SHIM_CLIENT_H
#define MOCKXEN_SHIM_CLIENT_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/mockxen/kinds.h"
#include "tools/mockxen/proto.h"

typedef struct MxClient {
    int fd;
    pthread_mutex_t lock;
    uint32_t domid;           /* the domain the daemon models (from its hello) */
    uint32_t arch;            /* enum MxArch, from the hello */
    bool restricted;          /* restrict succeeded: only restrict_domid from now on */
    uint32_t restrict_domid;
} MxClient;

/* Connect and say hello as `library`. 0, or -1 with errno set (and a message on stderr). */
int mx_client_open(MxClient *c, const char *library);
void mx_client_close(MxClient *c);

/*
 * One request: req (req_len bytes) followed by extra (extra_len bytes). The reply
 * payload (at most out_max bytes; a longer one is an error) goes to out, its length to
 * *out_len (may be NULL), descriptors to fds (up to max_fds; count in *nfds).
 * Returns the daemon's ret (>= 0), or -1 with errno set.
 */
int mx_client_call(MxClient *c, uint32_t op, const void *req, size_t req_len,
                   const void *extra, size_t extra_len, void *out, size_t out_max,
                   size_t *out_len, int *fds, unsigned max_fds, unsigned *nfds);

/* A call whose reply carries exactly two descriptors, in fds (the caller owns them):
 * 0, or -1 with errno (EPROTO, and none kept, when the daemon sent fewer). */
int mx_client_call_two_fds(MxClient *c, uint32_t op, const void *req, size_t req_len,
                           void *out, size_t out_max, int fds[2]);

/* MX_OP_GUEST_MEMORY for domid: the RAM memfd in fds[0], the populated-frame bitmap's
 * in fds[1] (the caller owns both), their sizes in *gm. 0, or -1 with errno (EPROTO
 * when the daemon did not send both descriptors). */
int mx_client_guest_memory(MxClient *c, uint32_t domid, MxGuestMemory *gm, int fds[2]);

/* Count a call of kind k: 0, or the errno an injected fault asks for. */
int mx_shim_count(enum MxKind k);
/* Count a call of kind k: 0, or -1 with errno set when a fault is injected. */
int mx_shim_enter(enum MxKind k);

/* mx_client_open(), then count the handle's open call (kind): an injected fault closes
 * the connection again. 0, or -1 with errno set. */
int mx_client_open_counted(MxClient *c, const char *library, enum MxKind kind);

/*
 * A one-way request (proto.h): sent, never answered, so the caller must have decided
 * every error Xen would report (mx_client_check_domain, argument checks). 0, or -1
 * with errno set if it could not be sent.
 */
int mx_client_post(MxClient *c, uint32_t op, const void *req, size_t req_len);
/* May this handle act on domain `domid`, as the daemon would decide: EPERM after a
 * restrict to another domain, ESRCH for a domain mockxen does not model. 0, or -1
 * with errno set. */
int mx_client_check_domain(MxClient *c, uint32_t domid);
/* The handle's restrict to `domid` succeeded. */
void mx_client_note_restrict(MxClient *c, uint32_t domid);

/* A request whose reply has no payload: 0, or -1 with errno set. */
int mx_client_simple_call(MxClient *c, uint32_t op, const void *req, size_t req_len);
/* A request whose reply payload goes to out (at most out_max bytes): the daemon's ret
 * (>= 0), or -1 with errno set. */
int mx_client_reply_call(MxClient *c, uint32_t op, const void *req, size_t req_len,
                         void *out, size_t out_max);

/* The macros return from the entry point itself: no function can do that. */
#define MX_ENTER(kind, fail_value) do {                 \
        if (mx_shim_enter(MX_KIND_##kind))              \
            return fail_value;                          \
    } while (0)

#define MX_ENOSYS(kind, fail_value) do {                \
        MX_ENTER(kind, fail_value);                     \
        errno = ENOSYS;                                 \
        return fail_value;                              \
    } while (0)

#endif
