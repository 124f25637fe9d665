/*
 * block/host_op.c — one host operation, performed synchronously.
 *
 * The thread pool's workers call this; the result is the raw one (bytes, 0 or -errno),
 * interpreted by transfer.c like an io_uring completion.
 *
 * A durable write is pwritev2 with RWF_DSYNC. Where pwritev2 takes no flags (glibc
 * then fails it with EOPNOTSUPP: a kernel without pwritev2, or qemu-user 7.2, which
 * lacks it), it is the same write followed by fdatasync, which is as durable.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

static ssize_t writev_durably(int fd, const BlockHostOp *op)
{
    ssize_t ret = pwritev2(fd, op->iov, (int)op->iovcnt, (off_t)op->offset, RWF_DSYNC);
    if (ret >= 0 || errno != EOPNOTSUPP)
        return ret;
    ret = pwritev(fd, op->iov, (int)op->iovcnt, (off_t)op->offset);
    return ret < 0 || fdatasync(fd) < 0 ? -1 : ret;
}

static int range_ioctl(int fd, unsigned long request, const BlockHostOp *op)
{
    uint64_t range[2] = { op->offset, op->len };
    return ioctl(fd, request, range);
}

int64_t blk_host_op_run(int fd, const BlockHostOp *op)
{
    int64_t ret = -1;
    switch (op->kind) {
    case BLOCK_HOST_READV:
        ret = preadv2(fd, op->iov, (int)op->iovcnt, (off_t)op->offset, 0);
        break;
    case BLOCK_HOST_WRITEV:
        ret = op->rw_flags == RWF_DSYNC
                  ? writev_durably(fd, op)
                  : pwritev2(fd, op->iov, (int)op->iovcnt, (off_t)op->offset, op->rw_flags);
        break;
    case BLOCK_HOST_FDATASYNC:
        ret = fdatasync(fd);
        break;
    case BLOCK_HOST_FALLOCATE:
        ret = fallocate(fd, op->falloc_mode, (off_t)op->offset, (off_t)op->len);
        break;
    case BLOCK_HOST_BLKDISCARD:
        ret = range_ioctl(fd, BLKDISCARD, op);
        break;
    case BLOCK_HOST_BLKZEROOUT:
        ret = range_ioctl(fd, BLKZEROOUT, op);
        break;
    }
    return ret < 0 ? -errno : ret;
}
