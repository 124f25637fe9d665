/*
 * block/backend.c — opening and closing an image, and what the backend tells about it.
 *
 * blk_open() opens the image with the flags the cache mode asks for, locks it, learns
 * its geometry and starts an engine: io_uring when asked for and the kernel allows it,
 * otherwise the thread pool. With io_uring, a block device also gets a one-thread
 * helper pool for the ioctls io_uring cannot issue.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* The thread pool's size: one thread per request, up to this many. */
#define POOL_MAX_THREADS 8u

static int check_config(const BlockConfig *cfg, Error **errp)
{
    if (!cfg->path || !*cfg->path) {
        error_setg(errp, "a block backend needs the path of an image");
        return -EINVAL;
    }
    if (cfg->queue_depth > BLOCK_MAX_QUEUE_DEPTH) {
        error_setg(errp, "queue depth %u for '%s' is above the maximum %u", cfg->queue_depth,
                   cfg->path, BLOCK_MAX_QUEUE_DEPTH);
        return -EINVAL;
    }
    if ((unsigned)cfg->cache > BLOCK_CACHE_NONE || (unsigned)cfg->aio > BLOCK_AIO_THREADS ||
        (unsigned)cfg->discard > BLOCK_DISCARD_UNMAP) {
        error_setg(errp, "invalid cache, aio or discard mode for '%s'", cfg->path);
        return -EINVAL;
    }
    return 0;
}

/* A writable block device is opened exclusively: the kernel then refuses it while it
 * is mounted or claimed by another exclusive user. */
static int open_image(BlockBackend *bb, const BlockConfig *cfg, Error **errp)
{
    int flags = O_CLOEXEC | (cfg->readonly ? O_RDONLY : O_RDWR);
    if (bb->direct)
        flags |= O_DIRECT;
    if (bb->writethrough)
        flags |= O_DSYNC;
    struct stat st;
    if (!cfg->readonly && stat(bb->path, &st) == 0 && S_ISBLK(st.st_mode))
        flags |= O_EXCL;
    bb->fd = open(bb->path, flags);
    if (bb->fd >= 0)
        return 0;
    int err = errno;
    if (err == EBUSY && (flags & O_EXCL))
        error_setg(errp, "block device '%s' is in use (mounted, or held by another "
                   "program)", bb->path);
    else if (err == EINVAL && bb->direct)
        error_setg(errp, "'%s' does not support direct I/O (cache=none)", bb->path);
    else
        error_setg_errno(errp, err, "cannot open '%s' %s", bb->path,
                         cfg->readonly ? "read-only" : "for writing");
    return -err;
}

static int alloc_slots(BlockBackend *bb, Error **errp)
{
    bb->slots = calloc(bb->depth, sizeof(*bb->slots));
    bb->zero_buf = blk_aligned_alloc(BLOCK_ZERO_CHUNK, BLOCK_ZERO_CHUNK);
    bb->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!bb->slots || !bb->zero_buf || bb->event_fd < 0) {
        int err = bb->event_fd < 0 ? errno : ENOMEM;
        error_setg_errno(errp, err, "cannot set up %u request slots for '%s'", bb->depth,
                         bb->path);
        return -err;
    }
    memset(bb->zero_buf, 0, BLOCK_ZERO_CHUNK);
    for (unsigned i = 0; i < bb->depth; i++)
        slot_list_push(&bb->free, &bb->slots[i]);
    return 0;
}

static int start_engines(BlockBackend *bb, BlockAio aio, Error **errp)
{
    if (aio == BLOCK_AIO_IO_URING) {
        Error *err = NULL;
        bb->engine = blk_uring_engine_new(bb->fd, bb->event_fd, bb->depth, &err);
        if (!bb->engine)
            log_warn("block: %s: io_uring is not available (%s); using the thread pool",
                     bb->path, error_get_pretty(err));
        error_free(err);
    }
    unsigned nthreads = bb->depth < POOL_MAX_THREADS ? bb->depth : POOL_MAX_THREADS;
    if (!bb->engine)
        bb->engine = blk_threads_engine_new(bb->fd, bb->event_fd, nthreads, errp);
    if (!bb->engine)
        return -ENOMEM;
    if (bb->geo.block_device && !bb->engine->ops->can(BLOCK_HOST_BLKDISCARD)) {
        bb->helper = blk_threads_engine_new(bb->fd, bb->event_fd, 1, errp);
        if (!bb->helper)
            return -ENOMEM;
    }
    return 0;
}

static void backend_free(BlockBackend *bb)
{
    if (bb->helper)
        bb->helper->ops->destroy(bb->helper);
    if (bb->engine)
        bb->engine->ops->destroy(bb->engine);
    for (unsigned i = 0; bb->slots && i < bb->depth; i++)
        free(bb->slots[i].rest);
    free(bb->slots);
    free(bb->zero_buf);
    if (bb->event_fd >= 0)
        close(bb->event_fd);
    if (bb->fd >= 0) {
        blk_image_unlock(bb->fd);
        close(bb->fd);
    }
    free(bb->path);
    free(bb);
}

BlockBackend *blk_open(const BlockConfig *cfg, Error **errp)
{
    if (check_config(cfg, errp) < 0)
        return NULL;
    BlockBackend *bb = calloc(1, sizeof(*bb));
    char *path = strdup(cfg->path);
    if (!bb || !path) {
        error_setg_errno(errp, ENOMEM, "cannot open '%s'", cfg->path);
        free(bb);
        free(path);
        return NULL;
    }
    bb->path = path;
    bb->fd = bb->event_fd = -1;
    bb->depth = cfg->queue_depth ? cfg->queue_depth : BLOCK_DEFAULT_QUEUE_DEPTH;
    bb->direct = cfg->cache == BLOCK_CACHE_NONE;
    bb->writethrough = cfg->cache == BLOCK_CACHE_WRITETHROUGH && !cfg->readonly;
    bb->discard_mode = cfg->discard;
    bb->geo.readonly = cfg->readonly;
    if (open_image(bb, cfg, errp) < 0 || blk_image_lock(bb->fd, !cfg->readonly, path, errp) < 0 ||
        blk_learn_geometry(bb, errp) < 0 || alloc_slots(bb, errp) < 0 ||
        start_engines(bb, cfg->aio, errp) < 0) {
        backend_free(bb);
        return NULL;
    }
    return bb;
}

void blk_close(BlockBackend *bb)
{
    if (!bb)
        return;
    blk_drain(bb);
    backend_free(bb);
}

const BlockGeometry *blk_geometry(const BlockBackend *bb)
{
    return &bb->geo;
}

const char *blk_engine_name(const BlockBackend *bb)
{
    return bb->engine->ops->name;
}

void blk_get_stats(const BlockBackend *bb, BlockStats *out)
{
    *out = bb->stats;
}

int blk_completion_fd(const BlockBackend *bb)
{
    return bb->event_fd;
}

void blk_inject_fault(BlockBackend *bb, const BlockFault *fault)
{
    bb->fault = *fault;
}
