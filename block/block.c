/*
 * block/block.c — opening, locking and sizing an image; checking, bouncing and
 * finishing requests. The engines (uring.c, threads.c) only move requests to the
 * kernel and back; every decision about a request's result is made here, once, for
 * both of them.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"

#define BLK_MAX_DEPTH 4096u

static LogRateLimit engine_log;

const char *blk_op_name(enum blk_op op)
{
    static const char *const names[] = { "read", "write", "flush", "discard",
                                         "write-zeroes" };
    return (unsigned)op < ARRAY_SIZE(names) ? names[op] : "?";
}

/* An OFD lock over the whole file: shared for readers, exclusive for a writer. */
static int lock_image(int fd, bool readonly, const char *path, Error **errp)
{
    struct flock fl = { .l_type = readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    int err = errno;
    if (err == EAGAIN || err == EACCES)
        error_setg(errp, "image '%s' is in use: another process holds a %s lock on it",
                   path, readonly ? "write" : "read or write");
    else
        error_setg_errno(errp, err, "cannot lock image '%s'", path);
    return -err;
}

static int block_device_geometry(int fd, BlockGeometry *g)
{
    int logical = 0;
    unsigned physical = 0, min_io = 0, opt_io = 0;
    if (ioctl(fd, BLKGETSIZE64, &g->size) < 0 || ioctl(fd, BLKSSZGET, &logical) < 0)
        return -errno;
    ioctl(fd, BLKPBSZGET, &physical);
    ioctl(fd, BLKIOMIN, &min_io);
    ioctl(fd, BLKIOOPT, &opt_io);
    g->logical_block_size = logical > 0 ? (uint32_t)logical : 512;
    g->physical_block_size = physical ? physical : g->logical_block_size;
    g->min_io_size = min_io;
    g->opt_io_size = opt_io;
    g->is_block_device = true;
    return 0;
}

static int learn_geometry(BlockBackend *bb, Error **errp)
{
    struct stat st;
    BlockGeometry *g = &bb->geo;
    if (fstat(bb->fd, &st) < 0) {
        error_setg_errno(errp, errno, "cannot stat image '%s'", bb->path);
        return -EIO;
    }
    if (S_ISBLK(st.st_mode)) {
        int ret = block_device_geometry(bb->fd, g);
        if (ret < 0)
            error_setg_errno(errp, -ret, "cannot size block device '%s'", bb->path);
        return ret;
    }
    if (!S_ISREG(st.st_mode)) {
        error_setg(errp, "image '%s' is neither a regular file nor a block device",
                   bb->path);
        return -EINVAL;
    }
    *g = (BlockGeometry){ .size = (uint64_t)st.st_size, .logical_block_size = 512,
                          .physical_block_size = st.st_blksize > 512 ? (uint32_t)st.st_blksize
                                                                     : 512,
                          .min_io_size = 512 };
    return 0;
}

static int open_image(BlockBackend *bb, Error **errp)
{
    int flags = (bb->cfg.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (bb->cfg.cache == BLK_CACHE_WRITETHROUGH)
        flags |= O_DSYNC;
    if (bb->cfg.cache == BLK_CACHE_NONE)
        flags |= O_DIRECT;
    bb->fd = open(bb->path, flags);
    if (bb->fd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot open image '%s'%s", bb->path,
                         err == EINVAL && (flags & O_DIRECT)
                         ? " with O_DIRECT (cache=none): its filesystem does not support it"
                         : "");
        return -err;
    }
    bb->direct = flags & O_DIRECT;
    return 0;
}

static int start_engine(BlockBackend *bb, Error **errp)
{
    bb->engine = bb->cfg.aio == BLK_AIO_IO_URING ? &blk_uring_engine : &blk_threads_engine;
    Error *err = NULL;
    if (bb->engine->init(bb, &err) == 0)
        return 0;
    if (bb->engine != &blk_uring_engine)
        goto fail;
    log_info("image '%s': io_uring is not available (%s); using the thread pool",
             bb->path, error_get_pretty(err));
    error_free(err);
    err = NULL;
    bb->engine = &blk_threads_engine;
    if (bb->engine->init(bb, &err) == 0)
        return 0;
fail:
    error_propagate(errp, err);
    error_prepend(errp, "image '%s'", bb->path);
    bb->engine = NULL;
    return -EIO;
}

BlockBackend *blk_open(const BlockConfig *cfg, Error **errp)
{
    if (!cfg->path || cfg->queue_depth == 0 || cfg->queue_depth > BLK_MAX_DEPTH) {
        error_setg(errp, "block: an image path and a queue depth of 1 to %u", BLK_MAX_DEPTH);
        return NULL;
    }
    BlockBackend *bb = calloc(1, sizeof(*bb));
    char *path = strdup(cfg->path);
    if (!bb || !path) {
        free(bb);
        free(path);
        error_setg_errno(errp, ENOMEM, "cannot open image '%s'", cfg->path);
        return NULL;
    }
    bb->path = path;
    bb->cfg = *cfg;
    bb->cfg.path = path;
    bb->fd = -1;
    if (open_image(bb, errp) < 0 || lock_image(bb->fd, cfg->readonly, path, errp) < 0 ||
        learn_geometry(bb, errp) < 0 || start_engine(bb, errp) < 0) {
        blk_close(bb);
        return NULL;
    }
    return bb;
}

void blk_close(BlockBackend *bb)
{
    if (!bb)
        return;
    if (bb->engine) {
        blk_drain(bb);
        bb->engine->fini(bb);
    }
    if (bb->fd >= 0)
        close(bb->fd);                  /* releases the OFD lock */
    free(bb->path);
    free(bb);
}

const BlockGeometry *blk_geometry(const BlockBackend *bb)
{
    return &bb->geo;
}

const char *blk_engine_name(const BlockBackend *bb)
{
    return bb->engine->name;
}

void blk_get_stats(const BlockBackend *bb, BlockStats *out)
{
    *out = bb->stats;
}

unsigned blk_in_flight(const BlockBackend *bb)
{
    return bb->in_flight;
}

int blk_completion_fd(const BlockBackend *bb)
{
    return bb->engine->completion_fd(bb);
}

static bool request_is_valid(const BlockBackend *bb, const BlockRequest *req)
{
    bool data = req->op == BLK_OP_READ || req->op == BLK_OP_WRITE;
    bool writes = req->op != BLK_OP_READ && req->op != BLK_OP_FLUSH;
    if ((unsigned)req->op > BLK_OP_WRITE_ZEROES || (writes && bb->cfg.readonly))
        return false;
    if (req->op == BLK_OP_FLUSH)
        return true;
    if (req->len == 0 || req->offset > bb->geo.size || req->len > bb->geo.size - req->offset)
        return false;
    return !data || (req->iov && req->iovcnt > 0);
}

/* O_DIRECT wants offset, length and every buffer aligned: copy through one that is. */
static bool needs_bounce(const BlockBackend *bb, const BlockRequest *req)
{
    uint64_t a = bb->geo.logical_block_size;
    if (!bb->direct || (req->op != BLK_OP_READ && req->op != BLK_OP_WRITE))
        return false;
    for (int i = 0; i < req->iovcnt; i++) {
        if ((uintptr_t)req->iov[i].iov_base % a || req->iov[i].iov_len % a)
            return true;
    }
    return false;
}

static int bounce(BlockBackend *bb, BlockRequest *req)
{
    size_t size = (req->len + 4095) & ~(size_t)4095;
    void *buf = aligned_alloc(4096, size);
    if (!buf)
        return -ENOMEM;
    if (req->op == BLK_OP_WRITE)
        iov_to_buf(req->iov, req->iovcnt, buf, req->len);
    req->bounce = buf;
    req->user_iov = req->iov;
    req->user_iovcnt = req->iovcnt;
    req->bounce_iov = (struct iovec){ .iov_base = buf, .iov_len = req->len };
    req->iov = &req->bounce_iov;
    req->iovcnt = 1;
    bb->stats.bounced++;
    return 0;
}

int blk_submit(BlockBackend *bb, BlockRequest *req)
{
    if (!request_is_valid(bb, req))
        return -EINVAL;
    if (bb->in_flight >= bb->cfg.queue_depth)
        return -EAGAIN;
    req->done_bytes = 0;
    req->bounce = NULL;
    req->zero_fill = false;
    req->result = 0;
    if (needs_bounce(bb, req) && bounce(bb, req) < 0)
        return -ENOMEM;
    bb->in_flight++;
    bb->stats.requests++;
    bb->engine->submit(bb, req);
    return 0;
}

void blk_submit_batch(BlockBackend *bb)
{
    bb->engine->flush(bb);
}

bool blk_process_completions(BlockBackend *bb, unsigned budget)
{
    return bb->engine->reap(bb, budget);
}

void blk_drain(BlockBackend *bb)
{
    bb->engine->flush(bb);
    while (bb->in_flight) {
        bb->engine->reap(bb, UINT32_MAX);
        if (bb->in_flight)
            bb->engine->wait(bb);
    }
}

/* Complete req: copy a bounced read out, undo a zero-fill, account, run the callback. */
static void complete(BlockBackend *bb, BlockRequest *req, int ret)
{
    if (req->zero_fill) {
        req->op = BLK_OP_WRITE_ZEROES;
        req->zero_fill = false;
        req->iov = NULL;
        req->iovcnt = 0;
    }
    if (req->bounce) {
        if (req->op == BLK_OP_READ && ret == 0)
            buf_to_iov(req->bounce, req->len, req->user_iov, req->user_iovcnt);
        free(req->bounce);
        req->bounce = NULL;
        req->iov = req->user_iov;
        req->iovcnt = req->user_iovcnt;
    }
    bb->in_flight--;
    if (ret < 0)
        bb->stats.errors++;
    else if (req->op == BLK_OP_READ)
        bb->stats.bytes_read += req->len;
    else if (req->op == BLK_OP_WRITE)
        bb->stats.bytes_written += req->len;
    else if (req->op == BLK_OP_FLUSH)
        bb->stats.flushes++;
    req->done(req, ret);
}

/* Submit the rest of req again, now. */
static bool resubmit(BlockBackend *bb, BlockRequest *req)
{
    bb->engine->submit(bb, req);
    bb->engine->flush(bb);
    return false;
}

bool blk_request_finished(BlockBackend *bb, BlockRequest *req, int res)
{
    bool transfer = req->op == BLK_OP_READ || req->op == BLK_OP_WRITE;
    if (res == -EINTR || res == -EAGAIN)
        return resubmit(bb, req);
    if (res == -EOPNOTSUPP && req->op == BLK_OP_DISCARD)
        res = 0;                        /* a hint the filesystem does not take */
    if (res == -EOPNOTSUPP && req->op == BLK_OP_WRITE_ZEROES) {
        log_ratelimited(&engine_log, LOG_INFO, "image '%s': the filesystem cannot zero "
                        "ranges; writing zeroes", bb->path);
        blk_zeroes_fallback(req);
        return resubmit(bb, req);
    }
    if (res >= 0 && transfer) {
        if (res == 0 && req->done_bytes < req->len) {
            complete(bb, req, -EIO);    /* the image ended early: it shrank under us */
            return true;
        }
        if (!blk_transfer_advance(req, (uint64_t)res))
            return resubmit(bb, req);
        res = 0;
    }
    complete(bb, req, res < 0 ? res : 0);
    return true;
}
