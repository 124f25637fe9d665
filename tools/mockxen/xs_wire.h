/*
 * tools/mockxen/xs_wire.h — module-private to mockxen's xenstore (see xs_server.h):
 * framing of the xenstore wire protocol (xen/io/xs_wire.h) on a byte stream.
 *
 * A message is a struct xsd_sockmsg header followed by `len` payload bytes, len at most
 * XENSTORE_PAYLOAD_MAX in both directions. XsMsgReader assembles incoming messages
 * from whatever pieces the socket delivers; XsOutBuf queues outgoing ones until the
 * socket takes them. Both are plain data owned by their connection; nothing locks.
 */
#ifndef MOCKXEN_XS_WIRE_H
#define MOCKXEN_XS_WIRE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

typedef struct XsMsgReader {
    struct xsd_sockmsg hdr;
    char body[XENSTORE_PAYLOAD_MAX + 1];    /* payload, always NUL-terminated */
    size_t have;                            /* bytes of header + payload so far */
} XsMsgReader;

/*
 * Consume bytes from buf[0..len) into the reader; *used says how many were taken.
 * Returns 1 when a whole message is assembled (hdr/body valid until the next feed,
 * which starts a new message), 0 if more bytes are needed, -E2BIG if the header
 * announces a payload over XENSTORE_PAYLOAD_MAX (the stream cannot be resynchronised:
 * close the connection).
 */
int xs_reader_feed(XsMsgReader *reader, const char *buf, size_t len, size_t *used);

/*
 * Split a payload into its NUL-terminated strings: up to `max` pointers into body go to
 * args. Returns the number of strings, or -EINVAL if the payload does not end in a NUL
 * (or has more than `max` strings).
 */
int xs_payload_split(const char *body, unsigned len, const char **args, unsigned max);

/* The xs_wire.h name of an errno ("ENOENT"); "EINVAL" for errnos the protocol lacks. */
const char *xs_errno_name(int errnum);

typedef struct XsOutBuf {
    char *data;
    size_t len;         /* bytes queued */
    size_t sent;        /* of which already written */
    size_t capacity;
} XsOutBuf;

/* Queue one message. 0, -E2BIG (payload over XENSTORE_PAYLOAD_MAX: nothing queued) or
 * -ENOMEM. */
int xs_out_msg(XsOutBuf *out, uint32_t type, uint32_t req_id, uint32_t tx_id,
               const void *payload, size_t len);
/* Queue an XS_ERROR reply naming errnum (positive). */
int xs_out_error(XsOutBuf *out, uint32_t req_id, uint32_t tx_id, int errnum);
/* Bytes queued and not yet written. */
size_t xs_out_pending(const XsOutBuf *out);
/* Write as much as the (non-blocking) fd takes. 0 when everything is written, 1 if some
 * remains (the fd would block), -errno if the connection failed. */
int xs_out_flush(XsOutBuf *out, int fd);
void xs_out_free(XsOutBuf *out);

#endif
