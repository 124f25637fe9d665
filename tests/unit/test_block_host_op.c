/*
 * Unit tests for one host operation (block/host_op.c) where pwritev2 takes no flags:
 * pwritev2 and fdatasync are wrapped (ld --wrap, see the Makefile), and the wrapper
 * fails a pwritev2 with flags with EOPNOTSUPP, as glibc does on a kernel without
 * pwritev2 (or under qemu-user 7.2). A durable write then becomes a plain write and an
 * fdatasync; where RWF_DSYNC is taken, nothing else happens.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "block/block-internal.h"

ssize_t __real_pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags);
ssize_t __wrap_pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags);
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

static bool flags_refused;          /* pwritev2 fails any flags with EOPNOTSUPP */
static unsigned pwritev2_calls, fdatasync_calls;
static int fdatasync_error;         /* fdatasync fails with this, if not 0 */

ssize_t __wrap_pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags)
{
    pwritev2_calls++;
    if (flags && flags_refused) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return __real_pwritev2(fd, iov, iovcnt, offset, flags);
}

int __wrap_fdatasync(int fd)
{
    fdatasync_calls++;
    if (fdatasync_error) {
        errno = fdatasync_error;
        return -1;
    }
    return __real_fdatasync(fd);
}

typedef struct Fixture {
    char path[64];
    int fd;
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "/tmp/xendm-test-hostop-XXXXXX");
    f->fd = mkstemp(f->path);
    assert_true(f->fd >= 0);
    flags_refused = false;
    pwritev2_calls = fdatasync_calls = 0;
    fdatasync_error = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    close(f->fd);
    unlink(f->path);
    free(f);
    return 0;
}

/* A durable write of "durable!" at offset 4096; its result. */
static int64_t durable_write(Fixture *f)
{
    static char data[] = "durable!";
    struct iovec iov = { data, sizeof(data) - 1 };
    BlockHostOp op = { .kind = BLOCK_HOST_WRITEV, .iov = &iov, .iovcnt = 1,
                       .offset = 4096, .rw_flags = RWF_DSYNC };
    return blk_host_op_run(f->fd, &op);
}

static void assert_written(Fixture *f)
{
    char back[8];
    assert_int_equal(pread(f->fd, back, sizeof(back), 4096), sizeof(back));
    assert_memory_equal(back, "durable!", sizeof(back));
}

static void rwf_dsync_taken_needs_no_sync(void **state)
{
    Fixture *f = *state;
    if (__real_pwritev2(f->fd, NULL, 0, 0, RWF_DSYNC) < 0) {
        print_message("# pwritev2 takes no RWF_DSYNC here (%s, as under qemu-user)\n",
                      strerror(errno));
        skip();
    }
    assert_int_equal(durable_write(f), 8);
    assert_written(f);
    assert_int_equal(pwritev2_calls, 1);
    assert_int_equal(fdatasync_calls, 0);
}

static void rwf_dsync_refused_writes_then_syncs(void **state)
{
    Fixture *f = *state;
    flags_refused = true;
    assert_int_equal(durable_write(f), 8);
    assert_written(f);
    assert_int_equal(pwritev2_calls, 1);
    assert_int_equal(fdatasync_calls, 1);
}

static void failed_sync_fails_the_write(void **state)
{
    Fixture *f = *state;
    flags_refused = true;
    fdatasync_error = EIO;
    assert_int_equal(durable_write(f), -EIO);
}

static void other_errors_are_not_retried(void **state)
{
    Fixture *f = *state;
    close(f->fd);
    f->fd = open(f->path, O_RDONLY);
    assert_true(f->fd >= 0);
    assert_int_equal(durable_write(f), -EBADF);
    assert_int_equal(pwritev2_calls, 1);
    assert_int_equal(fdatasync_calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rwf_dsync_taken_needs_no_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(rwf_dsync_refused_writes_then_syncs, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_sync_fails_the_write, setup, teardown),
        cmocka_unit_test_setup_teardown(other_errors_are_not_retried, setup, teardown),
    };
    return cmocka_run_group_tests_name("block_host_op", tests, NULL, NULL);
}
