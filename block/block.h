/*
 * block/block.h — the host side of a disk: a raw image file or block device, and
 * asynchronous I/O on it that never blocks the caller's event loop.
 *
 * blk_open() opens the image, takes an OFD lock on it (a write lock when writable, a
 * read lock when read-only: two device models can never both write one image) and
 * learns its geometry. Requests are caller-owned BlockRequests: blk_submit() queues
 * one, blk_submit_batch() hands everything queued to the kernel in one go, and
 * completions are signalled on blk_completion_fd(), which the caller polls; then
 * blk_process_completions() runs the requests' done callbacks, a bounded number at a
 * time. Data moves without copies: a request's iovecs point straight at the caller's
 * memory (guest RAM), which must stay valid until its callback ran. (Only cache=none
 * with a misaligned buffer goes through an aligned bounce buffer, as O_DIRECT needs.)
 *
 * Two engines do the I/O: io_uring (liburing, the default: one system call per batch,
 * the image registered as a fixed file) and a small pool of threads doing
 * preadv2/pwritev2/fdatasync/fallocate, used when asked for or when io_uring cannot be
 * set up (containers often forbid it). Both complete short transfers, retry EINTR and
 * EAGAIN, and report real host errors (EIO, ENOSPC, EFBIG) to the callback.
 *
 * Semantics: FLUSH completes once every write that completed before it was submitted
 * is on stable storage (fdatasync). A `durable` write completes only once it is on
 * stable storage (RWF_DSYNC). DISCARD punches a hole (a hint: unsupported is success;
 * discard=ignore does nothing); WRITE_ZEROES zeroes the range (ZERO_RANGE, or with
 * unmap a hole; written zeroes where the filesystem supports neither).
 *
 * Ownership: the caller owns the BlockBackend (blk_open → blk_close) and each
 * BlockRequest until its callback runs. blk_close() waits for everything in flight and
 * runs the callbacks first. Everything but the engines' own workers runs on the
 * caller's thread; callbacks run there too, from blk_process_completions() or
 * blk_drain().
 */
#ifndef XENDM_BLOCK_BLOCK_H
#define XENDM_BLOCK_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/error.h"

enum blk_cache { BLK_CACHE_WRITEBACK, BLK_CACHE_WRITETHROUGH, BLK_CACHE_NONE };
enum blk_discard { BLK_DISCARD_UNMAP, BLK_DISCARD_IGNORE };
enum blk_aio { BLK_AIO_IO_URING, BLK_AIO_THREADS };

typedef struct BlockConfig {
    const char *path;
    bool readonly;
    enum blk_cache cache;           /* writethrough: O_DSYNC; none: O_DIRECT */
    enum blk_discard discard;
    enum blk_aio aio;
    unsigned queue_depth;           /* requests in flight at most (1 to 4096) */
} BlockConfig;

typedef struct BlockGeometry {
    uint64_t size;                  /* bytes */
    uint32_t logical_block_size;    /* what addressing and O_DIRECT alignment use */
    uint32_t physical_block_size;
    uint32_t min_io_size, opt_io_size;  /* bytes; 0: not known */
    bool is_block_device;
} BlockGeometry;

enum blk_op { BLK_OP_READ, BLK_OP_WRITE, BLK_OP_FLUSH, BLK_OP_DISCARD, BLK_OP_WRITE_ZEROES };

typedef struct BlockRequest BlockRequest;
struct BlockRequest {
    enum blk_op op;
    uint64_t offset, len;           /* bytes (not for FLUSH) */
    struct iovec *iov;              /* READ/WRITE: len bytes; may be changed while in flight */
    int iovcnt;
    bool unmap;                     /* WRITE_ZEROES: may deallocate */
    bool durable;                   /* WRITE: on stable storage before completing */
    /* ret: 0 when all of it was done, or -errno. */
    void (*done)(BlockRequest *req, int ret);
    /* Private to the block layer. */
    uint64_t done_bytes;            /* of a transfer completed in pieces */
    void *bounce;                   /* O_DIRECT: aligned copy of the data */
    struct iovec bounce_iov, *user_iov;
    int user_iovcnt;
    bool zero_fill;                 /* WRITE_ZEROES carried out as writes of zeroes */
    int result;
    BlockRequest *next;
};

typedef struct BlockStats {
    uint64_t requests, bytes_read, bytes_written, flushes, errors, bounced;
} BlockStats;

typedef struct BlockBackend BlockBackend;

/* Open, lock and size the image. NULL with errp set: the message names the path. */
BlockBackend *blk_open(const BlockConfig *cfg, Error **errp);
/* Wait for everything in flight (callbacks run), unlock, close. NULL: nothing. */
void blk_close(BlockBackend *bb);

const BlockGeometry *blk_geometry(const BlockBackend *bb);
/* The engine in use ("io_uring" or "threads": the fallback may have been taken). */
const char *blk_engine_name(const BlockBackend *bb);
const char *blk_op_name(enum blk_op op);
void blk_get_stats(const BlockBackend *bb, BlockStats *out);

/* Queue req: 0, -EAGAIN (queue_depth requests in flight already) or -EINVAL (a range
 * outside the image, a write to a read-only image, an empty READ/WRITE). */
int blk_submit(BlockBackend *bb, BlockRequest *req);
/* Hand everything queued to the kernel (or the workers) in one go. */
void blk_submit_batch(BlockBackend *bb);
/* Readable when completions are ready. */
int blk_completion_fd(const BlockBackend *bb);
/* Run at most budget completions' callbacks; true when more are ready now. */
bool blk_process_completions(BlockBackend *bb, unsigned budget);
/* Submit what is queued and wait until nothing is in flight (callbacks run). Blocks:
 * for shutdown, device reset and a queue the driver stops, only. */
void blk_drain(BlockBackend *bb);
unsigned blk_in_flight(const BlockBackend *bb);

#endif
