/*
 * block/block.h — the host side of a virtual disk: one raw image file or block device.
 *
 * A BlockBackend opens the image, locks it against a second writer (an OFD lock: a write
 * lock when writable, a read lock when read-only), learns its geometry and performs
 * asynchronous reads, writes, flushes, discards and write-zeroes on it for a device model
 * (virtio-blk). It knows nothing of virtio or of Xen: requests are byte ranges and host
 * iovecs.
 *
 * Threads: every function is called from one thread, the event loop's. Once the image
 * is open (blk_open() opens, locks and probes it synchronously, at start-up), none of
 * them blocks on file I/O except blk_drain() and blk_close(): requests go to io_uring
 * or to a small thread pool, and their completions are announced on an eventfd the
 * loop polls.
 *
 * Ownership:
 *   - The caller owns each BlockRequest, its iovec array and the memory the iovecs point
 *     at (the data is transferred straight to and from that memory). All of it must stay
 *     valid and untouched from a successful blk_submit() until the request's `done`
 *     callback has been called, which happens exactly once per accepted request, always
 *     from blk_process_completions() (or blk_drain()/blk_close()), never from inside
 *     blk_submit(). The backend never writes to the request or its iovec array.
 *   - A callback may submit new requests and call blk_kick(); it must not call
 *     blk_process_completions(), blk_drain() or blk_close().
 *   - blk_close() drains, then releases the lock, the engine and the file.
 */
#ifndef XENDM_BLOCK_H
#define XENDM_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/error.h"

typedef enum BlockCache {
    BLOCK_CACHE_WRITEBACK,      /* host page cache; durability only through FLUSH */
    BLOCK_CACHE_WRITETHROUGH,   /* O_DSYNC: every write is durable when it completes */
    BLOCK_CACHE_NONE,           /* O_DIRECT: bypass the host page cache */
} BlockCache;

typedef enum BlockDiscardMode {
    BLOCK_DISCARD_IGNORE,       /* DISCARD completes successfully and changes nothing */
    BLOCK_DISCARD_UNMAP,        /* DISCARD deallocates (punches a hole / BLKDISCARD) */
} BlockDiscardMode;

typedef enum BlockAio {
    BLOCK_AIO_IO_URING,         /* falls back to threads (with a log line) if unavailable */
    BLOCK_AIO_THREADS,
} BlockAio;

#define BLOCK_DEFAULT_QUEUE_DEPTH 64u
#define BLOCK_MAX_QUEUE_DEPTH     1024u
/* Upper bound of a READ or WRITE's len, so that `done` can report it as an int. */
#define BLOCK_MAX_RW_BYTES        (1u << 30)
/* Upper bound of a READ or WRITE's iovcnt (the kernel's IOV_MAX). */
#define BLOCK_MAX_IOV             1024u

/* A zero-initialised BlockConfig with a path is a writable, write-back, io_uring image
 * that ignores discards, with the default queue depth. */
typedef struct BlockConfig {
    const char *path;
    bool readonly;
    BlockCache cache;
    BlockDiscardMode discard;
    BlockAio aio;
    unsigned queue_depth;       /* requests accepted at once; 0: the default */
} BlockConfig;

/* What a device model advertises to its guest. WRITE_ZEROES works on every image: the
 * host zeroes the range without data transfer where it can, or zeros are written. */
typedef struct BlockGeometry {
    uint64_t size;              /* bytes */
    uint32_t logical_block;     /* bytes; files: 512 */
    uint32_t physical_block;    /* bytes; files: st_blksize */
    uint32_t min_io;            /* bytes; 0: the host does not say */
    uint32_t opt_io;            /* bytes; 0: the host does not say */
    bool discard;               /* DISCARD deallocates (discard=unmap and the host can) */
    bool readonly;
    bool block_device;
} BlockGeometry;

typedef enum BlockOp {
    BLOCK_OP_READ,
    BLOCK_OP_WRITE,
    BLOCK_OP_FLUSH,             /* covers every write completed before it was submitted */
    BLOCK_OP_DISCARD,
    BLOCK_OP_WRITE_ZEROES,
    BLOCK_OP_COUNT
} BlockOp;

typedef struct BlockRequest BlockRequest;

/* ret: the request's len for a successful READ or WRITE, 0 for the other operations'
 * success, -errno on failure (the host's error, e.g. -EIO or -ENOSPC). */
typedef void BlockDoneFn(BlockRequest *req, int ret);

struct BlockRequest {
    BlockOp op;
    uint64_t offset;            /* bytes; READ, WRITE, DISCARD, WRITE_ZEROES */
    uint64_t len;               /* bytes; for READ and WRITE the sum of the iovecs */
    const struct iovec *iov;    /* READ, WRITE: caller memory, any alignment */
    unsigned iovcnt;
    bool durable;               /* WRITE, DISCARD, WRITE_ZEROES: on stable storage at
                                 * completion (the guest has no write cache) */
    bool unmap;                 /* WRITE_ZEROES: the range may be deallocated */
    BlockDoneFn *done;
};

/* Counters since blk_open(). */
typedef struct BlockStats {
    uint64_t completed[BLOCK_OP_COUNT]; /* requests completed, by op, errors included */
    uint64_t bytes_read, bytes_written;
    uint64_t errors;            /* requests completed with ret < 0 */
    uint64_t retries;           /* host operations reissued (EINTR, EAGAIN, short I/O) */
    uint64_t bounced;           /* READ/WRITE through an aligned buffer (cache=none) */
    uint64_t read_modify_write; /* WRITEs that first read their partial edge blocks */
    uint64_t kicks;             /* hand-overs to the kernel or the thread pool */
    unsigned in_flight;         /* requests accepted and not completed */
} BlockStats;

typedef struct BlockBackend BlockBackend;

/* Open, lock and measure cfg->path. A locked image fails with a message naming it. */
BlockBackend *blk_open(const BlockConfig *cfg, Error **errp);
/* Drain, then release everything. NULL is a no-op. */
void blk_close(BlockBackend *bb);

const BlockGeometry *blk_geometry(const BlockBackend *bb);
/* "io_uring" or "threads": the engine actually in use. */
const char *blk_engine_name(const BlockBackend *bb);
void blk_get_stats(const BlockBackend *bb, BlockStats *out);

/*
 * Queue a request; it reaches the kernel at the next blk_kick(). Never blocks.
 * Returns 0 (done will be called), or, with nothing queued and done never called:
 *   -EAGAIN  queue_depth requests are already accepted and not completed;
 *   -EINVAL  unknown op, a range beyond the image, iovecs that do not add up to len,
 *            more than BLOCK_MAX_IOV iovecs or more than BLOCK_MAX_RW_BYTES, or a
 *            DISCARD or WRITE_ZEROES on a block device not in whole logical blocks;
 *   -EROFS   a WRITE, DISCARD or WRITE_ZEROES on a read-only image;
 *   -ENOMEM  no memory for an aligned buffer (cache=none).
 */
int blk_submit(BlockBackend *bb, BlockRequest *req);
/* Hand every queued request to the kernel (one io_uring_submit) or the thread pool
 * (one wake-up). Returns 0, or io_uring_submit's -errno: the requests then stay in the
 * ring and the next kick or blk_process_completions() submits them again. */
int blk_kick(BlockBackend *bb);

/* Readable when completions are waiting: poll it for POLLIN, then call
 * blk_process_completions(). */
int blk_completion_fd(const BlockBackend *bb);
/* Run at most `budget` completion callbacks. Returns true if more completions are
 * already waiting (call again: the fd may not become readable for them). */
bool blk_process_completions(BlockBackend *bb, unsigned budget);
/* Kick, then wait until every accepted request has completed and its callback has
 * run (callbacks that submit more extend the wait). Blocks: for shutdown and reset. */
void blk_drain(BlockBackend *bb);

#endif
