/*
 * block/engine_uring.c — host operations through io_uring (liburing).
 *
 * The ring has an entry per request slot (a slot has at most one operation in flight),
 * so neither queue can overflow. The image is the ring's only registered file and every
 * operation names it by index (IOSQE_FIXED_FILE). The ring is created disabled and
 * restricted before it is enabled (IORING_REGISTER_RESTRICTIONS): only the four
 * operations below, only on registered files, and no further registrations, so a
 * compromised xendm cannot turn the ring into a way around its seccomp filter (which
 * forbids io_uring_setup and io_uring_register once started). Completions signal the
 * backend's eventfd (IORING_REGISTER_EVENTFD).
 * The ioctls for block devices (BLKDISCARD, BLKZEROOUT) have no io_uring operation;
 * the backend gives those to a thread pool.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/macros.h"

/* The image's index among the ring's registered files. */
#define IMAGE_FILE 0

typedef struct UringEngine {
    BlockEngine engine;
    struct io_uring ring;
    unsigned unsubmitted;       /* SQEs prepared and not yet taken by the kernel */
} UringEngine;

static UringEngine *uring_of(BlockEngine *e)
{
    return container_of(e, UringEngine, engine);
}

static bool uring_can(BlockHostKind kind)
{
    return kind == BLOCK_HOST_READV || kind == BLOCK_HOST_WRITEV ||
           kind == BLOCK_HOST_FDATASYNC || kind == BLOCK_HOST_FALLOCATE;
}

static int uring_stage(BlockEngine *e, BlockSlot *slot)
{
    UringEngine *u = uring_of(e);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe)
        return -EBUSY;          /* more operations than slots: cannot happen */
    const BlockHostOp *op = &slot->host;
    switch (op->kind) {
    case BLOCK_HOST_READV:
        io_uring_prep_readv(sqe, IMAGE_FILE, op->iov, op->iovcnt, op->offset);
        break;
    case BLOCK_HOST_WRITEV:
        io_uring_prep_writev2(sqe, IMAGE_FILE, op->iov, op->iovcnt, op->offset,
                              op->rw_flags);
        break;
    case BLOCK_HOST_FDATASYNC:
        io_uring_prep_fsync(sqe, IMAGE_FILE, IORING_FSYNC_DATASYNC);
        break;
    case BLOCK_HOST_FALLOCATE:
        io_uring_prep_fallocate(sqe, IMAGE_FILE, op->falloc_mode, (off_t)op->offset,
                                (off_t)op->len);
        break;
    default:
        abort();                /* routed to the helper: see uring_can() */
    }
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
    io_uring_sqe_set_data(sqe, slot);
    u->unsubmitted++;
    return 0;
}

static int uring_kick(BlockEngine *e)
{
    UringEngine *u = uring_of(e);
    if (!u->unsubmitted)
        return 0;
    int ret = io_uring_submit(&u->ring);
    if (ret < 0)
        return ret;             /* the SQEs stay in the ring for the next submit */
    u->unsubmitted -= (unsigned)ret < u->unsubmitted ? (unsigned)ret : u->unsubmitted;
    return 1;
}

static unsigned uring_reap(BlockEngine *e, BlockSlot **out, unsigned max)
{
    UringEngine *u = uring_of(e);
    unsigned n = 0;
    struct io_uring_cqe *cqe;
    while (n < max && io_uring_peek_cqe(&u->ring, &cqe) == 0) {
        BlockSlot *slot = io_uring_cqe_get_data(cqe);
        slot->host_ret = cqe->res;
        io_uring_cqe_seen(&u->ring, cqe);
        out[n++] = slot;
    }
    return n;
}

static bool uring_pending(BlockEngine *e)
{
    return io_uring_cq_ready(&uring_of(e)->ring) > 0;
}

static void uring_destroy(BlockEngine *e)
{
    UringEngine *u = uring_of(e);
    io_uring_queue_exit(&u->ring);
    free(u);
}

struct io_uring *blk_uring_engine_ring(BlockEngine *e)
{
    return &uring_of(e)->ring;
}

static const BlockEngineOps uring_ops = {
    .name = "io_uring",
    .can = uring_can,
    .stage = uring_stage,
    .kick = uring_kick,
    .reap = uring_reap,
    .pending = uring_pending,
    .destroy = uring_destroy,
};

/* SUBMIT_ALL (5.18) keeps one refused SQE from holding back the rest of a batch.
 * R_DISABLED (5.10): the ring takes no SQE until uring_restrict() enabled it. */
static int ring_init(struct io_uring *ring, unsigned depth)
{
    struct io_uring_params params = {
        .flags = IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL };
    int ret = io_uring_queue_init_params(depth, ring, &params);
    if (ret == -EINVAL) {
        memset(&params, 0, sizeof(params));
        params.flags = IORING_SETUP_R_DISABLED;
        ret = io_uring_queue_init_params(depth, ring, &params);
    }
    return ret;
}

/* What uring_stage() submits, and nothing else: the SQE opcodes, each on a registered
 * file (FIXED_FILE required, no other SQE flag allowed); no register opcode at all. */
static const struct io_uring_restriction uring_allowed[] = {
    { .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
    { .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
    { .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FSYNC },
    { .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_FALLOCATE },
    { .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
    { .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_FIXED_FILE },
};

/* io_uring_register(2) itself: Debian's liburing 2.3 declares
 * io_uring_register_restrictions and io_uring_enable_rings but does not export them. */
static int ring_register(struct io_uring *ring, unsigned opcode, const void *arg,
                         unsigned nr_args)
{
    return syscall(__NR_io_uring_register, ring->ring_fd, opcode, arg, nr_args) < 0 ? -errno
                                                                                     : 0;
}

/* Register the image and the eventfd, restrict the ring, enable it. 0 or -errno, with
 * *what naming the call that failed. */
static int uring_register(struct io_uring *ring, int fd, int event_fd, const char **what)
{
    *what = "io_uring_register_files";
    int ret = io_uring_register_files(ring, &fd, 1);
    if (ret >= 0) {
        *what = "io_uring_register_eventfd";
        ret = io_uring_register_eventfd(ring, event_fd);
    }
    if (ret >= 0) {
        *what = "io_uring_register_restrictions";
        ret = ring_register(ring, IORING_REGISTER_RESTRICTIONS, uring_allowed,
                            ARRAY_SIZE(uring_allowed));
    }
    if (ret >= 0) {
        *what = "io_uring_enable_rings";
        ret = ring_register(ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    }
    return ret < 0 ? ret : 0;
}

BlockEngine *blk_uring_engine_new(int fd, int event_fd, unsigned depth, Error **errp)
{
    UringEngine *u = calloc(1, sizeof(*u));
    if (!u) {
        error_setg_errno(errp, ENOMEM, "cannot allocate an io_uring engine");
        return NULL;
    }
    u->engine.ops = &uring_ops;
    int ret = ring_init(&u->ring, depth);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "io_uring_queue_init(%u entries) failed", depth);
        free(u);
        return NULL;
    }
    const char *what;
    ret = uring_register(&u->ring, fd, event_fd, &what);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "%s failed", what);
        uring_destroy(&u->engine);
        return NULL;
    }
    return &u->engine;
}
