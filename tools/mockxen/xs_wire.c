/*
 * tools/mockxen/xs_wire.c — xenstore message framing: assembling requests from a byte
 * stream, splitting payloads into strings, queueing replies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/mockxen/xs_wire.h"
#include "util/macros.h"

#define HDR_SIZE sizeof(struct xsd_sockmsg)

int xs_reader_feed(XsMsgReader *reader, const char *buf, size_t len, size_t *used)
{
    size_t take;

    *used = 0;
    if (reader->have >= HDR_SIZE && reader->have == HDR_SIZE + reader->hdr.len)
        reader->have = 0;   /* the previous message was delivered: start anew */
    if (reader->have < HDR_SIZE) {
        take = HDR_SIZE - reader->have;
        if (take > len)
            take = len;
        memcpy((char *)&reader->hdr + reader->have, buf, take);
        reader->have += take;
        *used += take;
        if (reader->have < HDR_SIZE)
            return 0;
        if (reader->hdr.len > XENSTORE_PAYLOAD_MAX)
            return -E2BIG;
    }
    size_t body_have = reader->have - HDR_SIZE;
    take = reader->hdr.len - body_have;
    if (take > len - *used)
        take = len - *used;
    memcpy(reader->body + body_have, buf + *used, take);
    reader->have += take;
    *used += take;
    if (reader->have < HDR_SIZE + reader->hdr.len)
        return 0;
    reader->body[reader->hdr.len] = '\0';
    return 1;
}

int xs_payload_split(const char *body, unsigned len, const char **args, unsigned max)
{
    unsigned n = 0;
    const char *p = body, *end = body + len;

    if (len == 0)
        return 0;
    if (body[len - 1] != '\0')
        return -EINVAL;
    while (p < end) {
        if (n == max)
            return -EINVAL;
        args[n++] = p;
        p += strlen(p) + 1;
    }
    return (int)n;
}

const char *xs_errno_name(int errnum)
{
    for (size_t i = 0; i < ARRAY_SIZE(xsd_errors); i++)
        if (xsd_errors[i].errnum == errnum)
            return xsd_errors[i].errstring;
    return "EINVAL";
}

static int out_reserve(XsOutBuf *out, size_t more)
{
    if (out->sent && out->sent == out->len)
        out->sent = out->len = 0;       /* all written: reuse from the start */
    if (out->len + more <= out->capacity)
        return 0;
    size_t cap = out->capacity ? out->capacity : 256;
    while (cap < out->len + more)
        cap *= 2;
    char *data = realloc(out->data, cap);
    if (!data)
        return -ENOMEM;
    out->data = data;
    out->capacity = cap;
    return 0;
}

int xs_out_msg(XsOutBuf *out, uint32_t type, uint32_t req_id, uint32_t tx_id,
               const void *payload, size_t len)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = req_id, .tx_id = tx_id,
                               .len = (uint32_t)len };

    if (len > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    if (out_reserve(out, HDR_SIZE + len) < 0)
        return -ENOMEM;
    memcpy(out->data + out->len, &hdr, HDR_SIZE);
    if (len)
        memcpy(out->data + out->len + HDR_SIZE, payload, len);
    out->len += HDR_SIZE + len;
    return 0;
}

int xs_out_error(XsOutBuf *out, uint32_t req_id, uint32_t tx_id, int errnum)
{
    const char *name = xs_errno_name(errnum);
    return xs_out_msg(out, XS_ERROR, req_id, tx_id, name, strlen(name) + 1);
}

size_t xs_out_pending(const XsOutBuf *out)
{
    return out->len - out->sent;
}

int xs_out_flush(XsOutBuf *out, int fd)
{
    while (out->sent < out->len) {
        ssize_t n = send(fd, out->data + out->sent, out->len - out->sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            return -errno;
        }
        out->sent += (size_t)n;
    }
    out->sent = out->len = 0;
    return 0;
}

void xs_out_free(XsOutBuf *out)
{
    free(out->data);
    *out = (XsOutBuf){ 0 };
}
