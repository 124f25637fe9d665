/*
 * block/geometry.c — what the image looks like: size, block sizes, I/O hints, whether
 * it can deallocate, and the alignment O_DIRECT wants.
 *
 * Regular files report 512-byte logical blocks and st_blksize as the physical block;
 * block devices report what the kernel says (BLKGETSIZE64, BLKSSZGET, BLKPBSZGET,
 * BLKIOMIN, BLKIOOPT). Discard support: a block device's queue says so in sysfs; a file
 * is asked to punch a hole past its end, which changes nothing where it works.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "util/macros.h"

/* Used when statx cannot say what O_DIRECT needs: large enough for every device. */
#define DIO_ALIGN_FALLBACK 4096u

static bool file_can_punch(int fd, uint64_t size)
{
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size,
                     DIO_ALIGN_FALLBACK) == 0;
}

/* A partition has no queue directory of its own: its disk's serves it. */
static bool bdev_can_discard(dev_t rdev)
{
    static const char *const queue_dir[] = { "queue", "../queue" };
    for (unsigned i = 0; i < ARRAY_SIZE(queue_dir); i++) {
        char path[96];
        snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s/discard_max_bytes",
                 major(rdev), minor(rdev), queue_dir[i]);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        unsigned long long max = 0;
        int n = fscanf(f, "%llu", &max);
        fclose(f);
        return n == 1 && max > 0;
    }
    return false;
}

static int bdev_geometry(BlockBackend *bb, Error **errp)
{
    BlockGeometry *g = &bb->geo;
    int logical = 0;
    unsigned physical = 0, min_io = 0, opt_io = 0;
    if (ioctl(bb->fd, BLKGETSIZE64, &g->size) < 0 || ioctl(bb->fd, BLKSSZGET, &logical) < 0 ||
        ioctl(bb->fd, BLKPBSZGET, &physical) < 0 || ioctl(bb->fd, BLKIOMIN, &min_io) < 0 ||
        ioctl(bb->fd, BLKIOOPT, &opt_io) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot read the geometry of block device '%s'",
                         bb->path);
        return -err;
    }
    g->logical_block = (uint32_t)logical;
    g->physical_block = physical;
    g->min_io = min_io;
    g->opt_io = opt_io;
    g->block_device = true;
    return 0;
}

/* statx (6.1) knows; reporting alignment 0 means the file has no direct I/O. */
static int learn_dio_align(BlockBackend *bb, Error **errp)
{
    struct statx stx;
    if (statx(bb->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN)) {
        if (!stx.stx_dio_offset_align || !stx.stx_dio_mem_align) {
            error_setg(errp, "'%s' does not support direct I/O (cache=none)", bb->path);
            return -EINVAL;
        }
        bb->dio_mem_align = stx.stx_dio_mem_align;
        bb->dio_offset_align = stx.stx_dio_offset_align;
        return 0;
    }
    bb->dio_mem_align = DIO_ALIGN_FALLBACK;
    bb->dio_offset_align = bb->geo.block_device && bb->geo.logical_block > DIO_ALIGN_FALLBACK
                               ? bb->geo.logical_block
                               : DIO_ALIGN_FALLBACK;
    return 0;
}

int blk_learn_geometry(BlockBackend *bb, Error **errp)
{
    struct stat st;
    if (fstat(bb->fd, &st) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot stat '%s'", bb->path);
        return -err;
    }
    BlockGeometry *g = &bb->geo;
    bool unmap = bb->discard_mode == BLOCK_DISCARD_UNMAP && !g->readonly;
    if (S_ISBLK(st.st_mode)) {
        int ret = bdev_geometry(bb, errp);
        if (ret < 0)
            return ret;
        g->discard = unmap && bdev_can_discard(st.st_rdev);
    } else if (S_ISREG(st.st_mode)) {
        g->size = (uint64_t)st.st_size;
        g->logical_block = 512;
        g->physical_block = (uint32_t)st.st_blksize;
        g->discard = unmap && file_can_punch(bb->fd, g->size);
    } else {
        error_setg(errp, "'%s' is neither a regular file nor a block device", bb->path);
        return -EINVAL;
    }
    if (!bb->direct)
        return 0;
    int ret = learn_dio_align(bb, errp);
    if (ret < 0)
        return ret;
    if (g->size % bb->dio_offset_align) {
        error_setg(errp, "cache=none needs the size of '%s' (%" PRIu64 " bytes) to be a "
                   "multiple of its direct I/O alignment (%" PRIu32 " bytes)",
                   bb->path, g->size, bb->dio_offset_align);
        return -EINVAL;
    }
    return 0;
}
