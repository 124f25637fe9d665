/*
 * tools/mockxen/wire.h — framed messages with file descriptors over a unix stream
 * socket, used by both ends of the mockxen protocol (proto.h).
 *
 * Dependency-free (libc only): the shim libraries compile this file too. Functions
 * return 0 or -errno; a peer that closed the connection gives -ECONNRESET. Received
 * descriptors are owned by the caller (close them); on error none are left open.
 */
#ifndef MOCKXEN_WIRE_H
#define MOCKXEN_WIRE_H

#include <stddef.h>

/* Send head (with fds attached to its first byte) followed by body; all or error. */
int mx_wire_send(int sock, const void *head, size_t head_len, const void *body,
                 size_t body_len, const int *fds, unsigned nfds);
/*
 * Receive exactly len bytes. Descriptors arriving with them are stored in fds (up to
 * max_fds; extra ones are closed) and counted in *nfds (may be NULL if max_fds is 0).
 */
int mx_wire_recv(int sock, void *buf, size_t len, int *fds, unsigned max_fds,
                 unsigned *nfds);

#endif
