/*
 * block/bounce.c — iovec arithmetic and aligned buffers.
 *
 * O_DIRECT wants every iovec's address and length aligned; caller memory (guest pages)
 * need not be, so such requests go through an aligned buffer. A short transfer
 * continues with the iovecs that remain after the bytes already done.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool blk_iov_aligned(const struct iovec *iov, unsigned cnt, uint32_t mem_align,
                     uint32_t len_align)
{
    for (unsigned i = 0; i < cnt; i++) {
        if ((uintptr_t)iov[i].iov_base % mem_align || iov[i].iov_len % len_align)
            return false;
    }
    return true;
}

void blk_iov_to_buf(const struct iovec *iov, unsigned cnt, uint8_t *buf, uint64_t len)
{
    for (unsigned i = 0; i < cnt && len; i++) {
        size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
        memcpy(buf, iov[i].iov_base, n);
        buf += n;
        len -= n;
    }
}

void blk_buf_to_iov(const uint8_t *buf, uint64_t len, const struct iovec *iov,
                    unsigned cnt)
{
    for (unsigned i = 0; i < cnt && len; i++) {
        size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
        memcpy(iov[i].iov_base, buf, n);
        buf += n;
        len -= n;
    }
}

int blk_iov_after(const struct iovec *iov, unsigned cnt, uint64_t skip,
                  struct iovec **out, unsigned *out_cap, unsigned *out_cnt)
{
    unsigned first = 0;
    while (first < cnt && skip >= iov[first].iov_len)
        skip -= iov[first++].iov_len;
    unsigned n = cnt - first;
    if (n > *out_cap) {
        struct iovec *grown = realloc(*out, n * sizeof(**out));
        if (!grown)
            return -ENOMEM;
        *out = grown;
        *out_cap = n;
    }
    memcpy(*out, iov + first, n * sizeof(**out));
    if (n) {
        (*out)[0].iov_base = (uint8_t *)(*out)[0].iov_base + skip;
        (*out)[0].iov_len -= skip;
    }
    *out_cnt = n;
    return 0;
}

void *blk_aligned_alloc(uint32_t align, uint64_t len)
{
    if (align < sizeof(void *))
        align = sizeof(void *);
    /* C11 wants a multiple of the alignment. */
    return aligned_alloc(align, (len + align - 1) / align * align);
}
