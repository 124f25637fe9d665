/*
 * block/image_lock.c — one writer per image.
 *
 * An open file description (OFD) lock over the whole image: a write lock when the
 * backend may write, a read lock when it is read-only. Two device models can thus not
 * both write one image, nor can one read an image another is writing, while any number
 * may share it read-only. OFD locks belong to the open file, not the process: they
 * conflict between two opens in one process too, and fork() does not duplicate them.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <fcntl.h>

static int set_lock(int fd, short type)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

int blk_image_lock(int fd, bool writable, const char *path, Error **errp)
{
    int ret = set_lock(fd, writable ? F_WRLCK : F_RDLCK);
    if (ret == -EAGAIN || ret == -EACCES)
        error_setg(errp, "'%s' is locked by another user of the image (another device "
                   "model?): cannot take its %s lock", path, writable ? "write" : "read");
    else if (ret < 0)
        error_setg_errno(errp, -ret, "cannot lock '%s'", path);
    return ret;
}

/* Explicit, because closing the fd may not end the open file description at once: an
 * io_uring that registered it drops its reference asynchronously. */
void blk_image_unlock(int fd)
{
    set_lock(fd, F_UNLCK);
}
