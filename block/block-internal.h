/*
 * block/block-internal.h — what block.c shares with the engines (uring.c, threads.c)
 * and the transfer helpers (transfer.c). Private to block/.
 *
 * block.c owns the BlockBackend: the file, its lock and geometry, the request checks,
 * O_DIRECT bouncing and the in-flight count. An engine moves requests to the kernel
 * and back: submit() stages one (it cannot fail for want of room: block.c keeps the
 * in-flight count below the depth the engine was made for), flush() hands the staged
 * ones over, reap() finishes up to a budget of completed requests through
 * blk_request_finished(), and wait() blocks until some request completed.
 */
#ifndef XENDM_BLOCK_INTERNAL_H
#define XENDM_BLOCK_INTERNAL_H

#include "block/block.h"

typedef struct BlockEngineOps {
    const char *name;
    int (*init)(BlockBackend *bb, Error **errp);
    void (*fini)(BlockBackend *bb);
    void (*submit)(BlockBackend *bb, BlockRequest *req);
    void (*flush)(BlockBackend *bb);
    /* Finish up to budget completed requests; true when more are ready now. */
    bool (*reap)(BlockBackend *bb, unsigned budget);
    void (*wait)(BlockBackend *bb);
    int (*completion_fd)(const BlockBackend *bb);
} BlockEngineOps;

extern const BlockEngineOps blk_uring_engine;
extern const BlockEngineOps blk_threads_engine;

struct BlockBackend {
    int fd;
    char *path;
    BlockConfig cfg;
    BlockGeometry geo;
    bool direct;                    /* O_DIRECT: buffers must be aligned */
    const BlockEngineOps *engine;
    void *engine_state;
    unsigned in_flight;
    BlockStats stats;
};

/*
 * Transfer helpers (transfer.c), shared by the engines.
 *
 * blk_transfer_advance: a READ/WRITE moved n more bytes: true when the request is
 * complete, false when the rest must be submitted again (req->iov/iovcnt now describe
 * the rest, req->offset + req->done_bytes is where it goes).
 * blk_fallocate_mode: the fallocate mode of a DISCARD/WRITE_ZEROES (0: nothing to do).
 * blk_zeroes_fallback: the filesystem cannot zero a range (EOPNOTSUPP): the request
 * becomes a plain write of zeroes, from a shared zero page, in pieces.
 */
bool blk_transfer_advance(BlockRequest *req, uint64_t n);
int blk_fallocate_mode(const BlockBackend *bb, const BlockRequest *req);
void blk_zeroes_fallback(BlockRequest *req);
/* Copy between an iovec array and a flat buffer (len bytes, the iovecs hold them). */
void iov_to_buf(const struct iovec *iov, int iovcnt, void *buf, uint64_t len);
void buf_to_iov(const void *buf, uint64_t len, const struct iovec *iov, int iovcnt);
/* The zero buffer (BLK_ZERO_CHUNK bytes, aligned for O_DIRECT). */
#define BLK_ZERO_CHUNK (1u << 20)
const void *blk_zero_chunk(void);

/* The engine saw req finish with res (bytes of this piece, or -errno): account for it,
 * and either resubmit the rest (returns false) or complete it (callback run, true). */
bool blk_request_finished(BlockBackend *bb, BlockRequest *req, int res);

#endif
