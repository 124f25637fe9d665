/*
 * block/block-internal.h — what the files of block/ share.
 *
 * A request accepted by blk_submit() occupies one BlockSlot (a backend has queue_depth
 * of them) until its callback has run. The slot carries the request through phases,
 * each made of host operations (BlockHostOp: one preadv2, pwritev2, fdatasync,
 * fallocate or ioctl) that an engine performs asynchronously:
 *
 *   QUEUED --blk_kick--> [WAITING] --> ISSUED --host op done--> ISSUED (next op) ...
 *                                                           \--> FINISHED --callback--> FREE
 *
 * A phase is a range of the image and, for data transfers, an iovec list; `done` counts
 * the bytes of it already performed, so a short transfer continues with the rest. The
 * engines only perform host operations and hand back their raw result: retrying,
 * continuing and interpreting results is transfer.c's job, the same for every engine.
 *
 * Every slot is on at most one BlockSlotList at a time (they share one link): the
 * backend's free, queued, waiting and finished lists, or an engine's own queues.
 */
#ifndef XENDM_BLOCK_INTERNAL_H
#define XENDM_BLOCK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "block/block.h"
#include "util/log.h"

/* ---- host operations ------------------------------------------------------------ */

typedef enum BlockHostKind {
    BLOCK_HOST_READV,
    BLOCK_HOST_WRITEV,
    BLOCK_HOST_FDATASYNC,
    BLOCK_HOST_FALLOCATE,
    BLOCK_HOST_BLKDISCARD,      /* ioctl, block devices */
    BLOCK_HOST_BLKZEROOUT,      /* ioctl, block devices */
} BlockHostKind;

typedef struct BlockHostOp {
    BlockHostKind kind;
    uint64_t offset, len;
    const struct iovec *iov;    /* READV, WRITEV: iovecs adding up to len */
    unsigned iovcnt;
    int rw_flags;               /* WRITEV: RWF_DSYNC or 0 */
    int falloc_mode;            /* FALLOCATE */
} BlockHostOp;

/* Perform op on fd now (blocking): bytes transferred, 0, or -errno. */
int64_t blk_host_op_run(int fd, const BlockHostOp *op);

/* ---- slots ---------------------------------------------------------------------- */

typedef enum BlockSlotState {
    SLOT_FREE,
    SLOT_QUEUED,                /* accepted, waits for blk_kick() */
    SLOT_WAITING,               /* held back by an overlapping read-modify-write */
    SLOT_ISSUED,                /* a host operation is with an engine */
    SLOT_FINISHED,              /* result known, callback not yet run */
} BlockSlotState;

typedef enum BlockPhase {
    PHASE_READ_HEAD,            /* read-modify-write: read the partial first block */
    PHASE_READ_TAIL,            /* read-modify-write: read the partial last block */
    PHASE_MAIN,                 /* the operation itself */
    PHASE_SYNC,                 /* fdatasync after a durable DISCARD or WRITE_ZEROES */
} BlockPhase;

/* How PHASE_MAIN is carried out. WRITE_ZEROES falls back along
 * PUNCH_HOLE/ZERO_RANGE -> the other one -> WRITE_ZEROS as the host refuses. */
typedef enum BlockMethod {
    METHOD_NOTHING,             /* completes at once (empty transfer, ignored discard, ...) */
    METHOD_RW,                  /* readv/writev of the caller's iovecs or the bounce buffer */
    METHOD_FDATASYNC,
    METHOD_PUNCH_HOLE,          /* fallocate(PUNCH_HOLE | KEEP_SIZE) */
    METHOD_ZERO_RANGE,          /* fallocate(ZERO_RANGE | KEEP_SIZE) */
    METHOD_WRITE_ZEROS,         /* writev of the backend's zero buffer */
    METHOD_BLKDISCARD,
    METHOD_BLKZEROOUT,
} BlockMethod;

/* The zero buffer WRITE_ZEROS writes, and how many times one host op repeats it. */
#define BLOCK_ZERO_CHUNK   (64u * 1024)
#define BLOCK_ZERO_IOV     16u
/* Retries of one host operation (EINTR, EAGAIN) before its error is reported. */
#define BLOCK_MAX_RETRIES  64u

typedef struct BlockEngine BlockEngine;
typedef struct BlockEngineOps BlockEngineOps;
typedef struct BlockSlot BlockSlot;

struct BlockSlot {
    BlockRequest *req;
    BlockSlotState state;
    BlockPhase phase;
    BlockMethod method;
    uint64_t seq;               /* acceptance order */
    int result;                 /* SLOT_FINISHED: what done() gets */

    /* The current phase: xfer_len bytes at xfer_off, from or into xfer_iov. */
    uint64_t xfer_off, xfer_len, done;
    const struct iovec *xfer_iov;
    unsigned xfer_iovcnt;
    unsigned tries;             /* consecutive retries without progress */

    bool writes;                /* changes the image (WRITE, DISCARD, WRITE_ZEROES) */
    bool sync_after;            /* PHASE_SYNC follows PHASE_MAIN */
    int rw_flags;               /* for data writes */

    /* cache=none: an aligned copy of [foot_start, foot_end) when the caller's request
     * is not aligned; rmw: a WRITE whose edge blocks must be read first. The footprint
     * is also what overlap.c compares. */
    uint64_t foot_start, foot_end;
    uint8_t *bounce;
    struct iovec bounce_iov;
    bool rmw;

    struct iovec *rest;         /* the iovecs still to transfer after a short one */
    unsigned rest_cap;
    struct iovec zero_iov[BLOCK_ZERO_IOV];

    BlockHostOp host;           /* SLOT_ISSUED: the operation the engine performs */
    int64_t host_ret;           /* set by the engine before handing the slot back */
    BlockSlot *next;            /* BlockSlotList link */
};

typedef struct BlockSlotList {
    BlockSlot *head, *tail;
} BlockSlotList;

static inline void slot_list_push(BlockSlotList *l, BlockSlot *s)
{
    s->next = NULL;
    if (l->tail)
        l->tail->next = s;
    else
        l->head = s;
    l->tail = s;
}

static inline BlockSlot *slot_list_pop(BlockSlotList *l)
{
    BlockSlot *s = l->head;
    if (s) {
        l->head = s->next;
        if (!l->head)
            l->tail = NULL;
        s->next = NULL;
    }
    return s;
}

/* Append all of src to dst, leaving src empty. */
static inline void slot_list_splice(BlockSlotList *dst, BlockSlotList *src)
{
    if (!src->head)
        return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    src->head = src->tail = NULL;
}

/* ---- engines -------------------------------------------------------------------- */

/*
 * An engine performs host operations asynchronously on one fd and announces results on
 * the backend's eventfd. All calls come from the loop thread and never block on I/O.
 */
struct BlockEngineOps {
    const char *name;
    bool (*can)(BlockHostKind kind);
    /* Take slot->host; it starts no later than the next kick. 0 or -errno. */
    int (*stage)(BlockEngine *e, BlockSlot *slot);
    /* Start everything staged at once: 1 if something was handed over, 0 if nothing
     * was staged, -errno (then the staged operations stay staged). */
    int (*kick)(BlockEngine *e);
    /* Up to max slots whose operation has ended, host_ret set. */
    unsigned (*reap)(BlockEngine *e, BlockSlot **out, unsigned max);
    /* Results are waiting to be reaped. */
    bool (*pending)(BlockEngine *e);
    /* Release everything; nothing may be staged or in flight. */
    void (*destroy)(BlockEngine *e);
};

struct BlockEngine {
    const BlockEngineOps *ops;
};

BlockEngine *blk_uring_engine_new(int fd, int event_fd, unsigned depth, Error **errp);
/* The engine's ring, for tests of its restrictions. */
struct io_uring *blk_uring_engine_ring(BlockEngine *e);
BlockEngine *blk_threads_engine_new(int fd, int event_fd, unsigned nthreads,
                                    Error **errp);

/* ---- the backend ---------------------------------------------------------------- */

/*
 * Test seam: the raw results of the next `count` host operations of requests whose op
 * is in `ops` (a mask of 1u << BlockOp) are replaced: by -error when error is set, else
 * a positive transfer result is cut to short_len bytes (0: left alone, which counts
 * host operations). The operation itself is performed as usual.
 */
typedef struct BlockFault {
    unsigned ops;
    unsigned count;
    int error;
    uint64_t short_len;
} BlockFault;

void blk_inject_fault(BlockBackend *bb, const BlockFault *fault);

struct BlockBackend {
    char *path;
    int fd;
    int event_fd;               /* completions: engines and local finishes signal it */
    BlockGeometry geo;
    BlockDiscardMode discard_mode;
    bool direct;                /* O_DIRECT: offsets, lengths and memory must align */
    bool writethrough;          /* O_DSYNC */
    uint32_t dio_mem_align, dio_offset_align;
    bool no_punch_hole, no_zero_range;  /* the host said EOPNOTSUPP */

    BlockEngine *engine;
    BlockEngine *helper;        /* threads for the ops `engine` cannot do, or NULL */

    BlockSlot *slots;
    unsigned depth;
    BlockSlotList free, queued, waiting, finished;
    uint64_t next_seq;
    unsigned rmw_active;        /* read-modify-writes WAITING or ISSUED */
    bool write_finished;        /* since the last blk_overlap_release() */
    bool processing;            /* inside blk_process_completions() */
    bool in_callback;

    void *zero_buf;             /* BLOCK_ZERO_CHUNK bytes of zeros, aligned */
    BlockStats stats;
    BlockFault fault;
    LogRateLimit kick_log;
};

/* geometry.c: fill bb->geo, bb->dio_* for bb->fd. */
int blk_learn_geometry(BlockBackend *bb, Error **errp);

/* image_lock.c */
int blk_image_lock(int fd, bool writable, const char *path, Error **errp);
void blk_image_unlock(int fd);

/* transfer.c: the per-request state machine. */
/* Choose the method, allocate what it needs: 0 or -ENOMEM (nothing left allocated). */
int blk_slot_prepare(BlockBackend *bb, BlockSlot *s, BlockRequest *req);
/* At blk_kick(): finish at once, wait behind an overlapping write, or begin. */
void blk_slot_start(BlockBackend *bb, BlockSlot *s);
/* Issue the first host operation of the slot's first phase. */
void blk_slot_begin(BlockBackend *bb, BlockSlot *s);
/* The engine is done with s->host (s->host_ret): continue, retry or finish. */
void blk_slot_host_done(BlockBackend *bb, BlockSlot *s);

/* completion.c: the request's host work is over; its callback runs later. */
void blk_slot_finish(BlockBackend *bb, BlockSlot *s, int result);
/* Kick the engine and the helper; 0 or the first -errno. */
int blk_engines_kick(BlockBackend *bb);

/* overlap.c: read-modify-writes exclude overlapping writes. */
bool blk_overlap_blocked(const BlockBackend *bb, const BlockSlot *s);
/* Begin the waiting slots no longer blocked, if a write has finished since last time. */
void blk_overlap_release(BlockBackend *bb);

/* bounce.c */
bool blk_iov_aligned(const struct iovec *iov, unsigned cnt, uint32_t mem_align,
                     uint32_t len_align);
void blk_iov_to_buf(const struct iovec *iov, unsigned cnt, uint8_t *buf, uint64_t len);
void blk_buf_to_iov(const uint8_t *buf, uint64_t len, const struct iovec *iov,
                    unsigned cnt);
/* The iovecs of (iov, cnt) after the first `skip` bytes, in *out (grown as needed). */
int blk_iov_after(const struct iovec *iov, unsigned cnt, uint64_t skip,
                  struct iovec **out, unsigned *out_cap, unsigned *out_cnt);
void *blk_aligned_alloc(uint32_t align, uint64_t len);

#endif
