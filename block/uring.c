/*
 * block/uring.c — the io_uring engine (liburing).
 *
 * One ring per image, with at least as many entries as the image's queue depth, so a
 * submission queue entry is always free for a request block.c lets through. The image
 * is registered as fixed file 0 (IOSQE_FIXED_FILE on every request), which is also
 * what lets a sandbox restrict the ring to that file. Completions are signalled on an
 * eventfd registered with the ring; reap() clears it and then takes completion entries
 * up to its budget, so the caller comes back (without waiting for the fd) when it
 * says more are ready.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"

typedef struct Uring {
    struct io_uring ring;
    bool ring_ready;
    int efd;
    unsigned staged;
} Uring;

static Uring *uring_of(const BlockBackend *bb)
{
    return bb->engine_state;
}

static void uring_fini(BlockBackend *bb)
{
    Uring *u = uring_of(bb);
    if (!u)
        return;
    if (u->ring_ready) {
        /* The ring holds a reference to the image: drop it now (unregistering waits
         * for it), not whenever the kernel gets round to tearing the ring down, so the
         * image's lock is released by the time blk_close() returns. */
        io_uring_unregister_files(&u->ring);
        io_uring_queue_exit(&u->ring);
    }
    if (u->efd >= 0)
        close(u->efd);
    free(u);
    bb->engine_state = NULL;
}

static int uring_init(BlockBackend *bb, Error **errp)
{
    Uring *u = calloc(1, sizeof(*u));
    if (!u) {
        error_setg_errno(errp, ENOMEM, "cannot allocate the io_uring engine");
        return -ENOMEM;
    }
    u->efd = -1;
    bb->engine_state = u;
    unsigned entries = 8;
    while (entries < bb->cfg.queue_depth)
        entries <<= 1;
    int ret = io_uring_queue_init(entries, &u->ring, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "io_uring_queue_init(%u)", entries);
        goto fail;
    }
    u->ring_ready = true;
    if ((ret = io_uring_register_files(&u->ring, &bb->fd, 1)) < 0) {
        error_setg_errno(errp, -ret, "io_uring_register_files");
        goto fail;
    }
    u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (u->efd < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "eventfd");
        goto fail;
    }
    if ((ret = io_uring_register_eventfd(&u->ring, u->efd)) < 0) {
        error_setg_errno(errp, -ret, "io_uring_register_eventfd");
        goto fail;
    }
    return 0;
fail:
    uring_fini(bb);
    return ret;
}

static struct io_uring_sqe *get_sqe(Uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        /* Full of staged entries: hand them over to make room. */
        io_uring_submit(&u->ring);
        u->staged = 0;
        sqe = io_uring_get_sqe(&u->ring);
    }
    /* block.c keeps at most queue_depth requests in flight and the ring has at least
     * that many entries: running out is a bug here, not something a guest can cause. */
    if (!sqe)
        abort();
    return sqe;
}

static void uring_submit(BlockBackend *bb, BlockRequest *req)
{
    Uring *u = uring_of(bb);
    struct io_uring_sqe *sqe = get_sqe(u);
    uint64_t off = req->offset + req->done_bytes;
    int mode;
    switch (req->op) {
    case BLK_OP_READ:
        io_uring_prep_readv(sqe, 0, req->iov, (unsigned)req->iovcnt, off);
        break;
    case BLK_OP_WRITE:
        io_uring_prep_writev(sqe, 0, req->iov, (unsigned)req->iovcnt, off);
        sqe->rw_flags = req->durable ? RWF_DSYNC : 0;
        break;
    case BLK_OP_FLUSH:
        io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
        break;
    case BLK_OP_DISCARD:
    case BLK_OP_WRITE_ZEROES:
        mode = blk_fallocate_mode(bb, req);
        if (mode)
            io_uring_prep_fallocate(sqe, 0, mode, (off_t)req->offset, (off_t)req->len);
        else
            io_uring_prep_nop(sqe);
        break;
    }
    if (sqe->opcode != IORING_OP_NOP)
        sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data(sqe, req);
    u->staged++;
}

static LogRateLimit submit_log;

static void uring_flush(BlockBackend *bb)
{
    Uring *u = uring_of(bb);
    while (u->staged) {
        int ret = io_uring_submit(&u->ring);
        if (ret >= 0) {
            u->staged = 0;
            return;
        }
        if (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
            /* The entries stay in the ring; the next flush or a drain tries again. */
            log_ratelimited(&submit_log, LOG_WARN, "image '%s': io_uring_submit: %s",
                            bb->path, strerror(-ret));
            return;
        }
        if (ret == -EBUSY)
            return;                     /* completions must be reaped first */
    }
}

static bool uring_reap(BlockBackend *bb, unsigned budget)
{
    Uring *u = uring_of(bb);
    eventfd_t ignored;
    eventfd_read(u->efd, &ignored);
    for (unsigned n = 0; n < budget; n++) {
        struct io_uring_cqe *cqe;
        if (io_uring_peek_cqe(&u->ring, &cqe) != 0)
            return false;
        BlockRequest *req = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&u->ring, cqe);
        blk_request_finished(bb, req, res);
    }
    return io_uring_cq_ready(&u->ring) > 0;
}

static void uring_wait(BlockBackend *bb)
{
    Uring *u = uring_of(bb);
    struct io_uring_cqe *cqe;
    int ret = io_uring_submit_and_wait(&u->ring, 1);
    if (ret >= 0)
        u->staged = 0;
    else if (ret != -EINTR)
        io_uring_wait_cqe(&u->ring, &cqe);
}

static int uring_completion_fd(const BlockBackend *bb)
{
    return uring_of(bb)->efd;
}

const BlockEngineOps blk_uring_engine = {
    .name = "io_uring",
    .init = uring_init,
    .fini = uring_fini,
    .submit = uring_submit,
    .flush = uring_flush,
    .reap = uring_reap,
    .wait = uring_wait,
    .completion_fd = uring_completion_fd,
};
