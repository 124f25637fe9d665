/*
 * block/transfer.c — what both engines need to finish a request in pieces: moving a
 * request's iovecs past the bytes already done, the fallocate mode of a discard or
 * write-zeroes, and turning a write-zeroes the filesystem cannot do into writes of a
 * shared zero buffer.
 */
#include "block/block-internal.h"

#include <linux/falloc.h>
#include <stdalign.h>
#include <string.h>

static alignas(4096) const uint8_t zero_chunk[BLK_ZERO_CHUNK];

const void *blk_zero_chunk(void)
{
    return zero_chunk;
}

void iov_to_buf(const struct iovec *iov, int iovcnt, void *buf, uint64_t len)
{
    uint8_t *out = buf;
    for (int i = 0; i < iovcnt && len; i++) {
        size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
        memcpy(out, iov[i].iov_base, n);
        out += n;
        len -= n;
    }
}

void buf_to_iov(const void *buf, uint64_t len, const struct iovec *iov, int iovcnt)
{
    const uint8_t *in = buf;
    for (int i = 0; i < iovcnt && len; i++) {
        size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
        memcpy(iov[i].iov_base, in, n);
        in += n;
        len -= n;
    }
}

/* A zero-fill request writes the next chunk of zeroes. */
static void next_zero_chunk(BlockRequest *req)
{
    uint64_t left = req->len - req->done_bytes;
    req->bounce_iov = (struct iovec){ .iov_base = (void *)zero_chunk,
                                      .iov_len = left < BLK_ZERO_CHUNK ? left : BLK_ZERO_CHUNK };
    req->iov = &req->bounce_iov;
    req->iovcnt = 1;
}

bool blk_transfer_advance(BlockRequest *req, uint64_t n)
{
    req->done_bytes += n;
    if (req->done_bytes >= req->len)
        return true;
    if (req->zero_fill) {
        next_zero_chunk(req);
        return false;
    }
    while (req->iovcnt > 0 && n >= req->iov[0].iov_len) {
        n -= req->iov[0].iov_len;
        req->iov++;
        req->iovcnt--;
    }
    if (n) {
        req->iov[0].iov_base = (uint8_t *)req->iov[0].iov_base + n;
        req->iov[0].iov_len -= n;
    }
    return false;
}

int blk_fallocate_mode(const BlockBackend *bb, const BlockRequest *req)
{
    if (req->op == BLK_OP_DISCARD)
        return bb->cfg.discard == BLK_DISCARD_IGNORE ? 0
                                                     : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    if (req->op == BLK_OP_WRITE_ZEROES)
        return req->unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                          : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    return 0;
}

void blk_zeroes_fallback(BlockRequest *req)
{
    req->op = BLK_OP_WRITE;
    req->zero_fill = true;
    req->done_bytes = 0;
    next_zero_chunk(req);
}
