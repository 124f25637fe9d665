/*
 * The io_uring engine's ring is restricted (block/engine_uring.c): only readv, writev,
 * fsync and fallocate, only on its registered file, and no registration once enabled.
 * The kernel answers anything else with -EACCES.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "block/block-internal.h"

typedef struct RingFixture {
    int image_fd, event_fd, other_fd;
    BlockEngine *engine;
    struct io_uring *ring;
    char buf[512];
    struct iovec iov;
} RingFixture;

static int ring_setup(void **state)
{
    RingFixture *f = calloc(1, sizeof(*f));
    char path[] = "/tmp/xendm-uring-XXXXXX";
    f->image_fd = mkstemp(path);
    assert_true(f->image_fd >= 0);
    unlink(path);
    assert_int_equal(ftruncate(f->image_fd, 1 << 20), 0);
    f->other_fd = dup(f->image_fd);
    f->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    Error *err = NULL;
    f->engine = blk_uring_engine_new(f->image_fd, f->event_fd, 4, &err);
    if (!f->engine) {
        error_free(err);
        free(f);
        *state = NULL;
        return 0;
    }
    f->ring = blk_uring_engine_ring(f->engine);
    f->iov = (struct iovec){ f->buf, sizeof(f->buf) };
    *state = f;
    return 0;
}

static int ring_teardown(void **state)
{
    RingFixture *f = *state;
    if (!f)
        return 0;
    f->engine->ops->destroy(f->engine);
    close(f->image_fd);
    close(f->other_fd);
    close(f->event_fd);
    free(f);
    return 0;
}

/* Submit the one prepared SQE and return its result. */
static int submit_one(struct io_uring *ring)
{
    assert_int_equal(io_uring_submit(ring), 1);
    struct io_uring_cqe *cqe;
    assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
    int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return res;
}

#define NEED_RING(f)                                                 \
    do {                                                             \
        if (!(f))                                                    \
            skip();                                                  \
    } while (0)

static void allowed_read_on_the_registered_file(void **state)
{
    RingFixture *f = *state;
    NEED_RING(f);
    struct io_uring_sqe *sqe = io_uring_get_sqe(f->ring);
    io_uring_prep_readv(sqe, 0, &f->iov, 1, 0);
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
    assert_int_equal(submit_one(f->ring), (int)sizeof(f->buf));
}

static void refused_an_fd_that_is_not_registered(void **state)
{
    RingFixture *f = *state;
    NEED_RING(f);
    struct io_uring_sqe *sqe = io_uring_get_sqe(f->ring);
    io_uring_prep_readv(sqe, f->other_fd, &f->iov, 1, 0);
    assert_int_equal(submit_one(f->ring), -EACCES);
}

static void refused_an_unlisted_operation(void **state)
{
    RingFixture *f = *state;
    NEED_RING(f);
    struct io_uring_sqe *sqe = io_uring_get_sqe(f->ring);
    io_uring_prep_read(sqe, 0, f->buf, sizeof(f->buf), 0);     /* READ, not READV */
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
    assert_int_equal(submit_one(f->ring), -EACCES);
    sqe = io_uring_get_sqe(f->ring);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
    assert_int_equal(submit_one(f->ring), -EACCES);
}

static void refused_an_unlisted_flag(void **state)
{
    RingFixture *f = *state;
    NEED_RING(f);
    struct io_uring_sqe *sqe = io_uring_get_sqe(f->ring);
    io_uring_prep_readv(sqe, 0, &f->iov, 1, 0);
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE | IOSQE_IO_DRAIN);
    assert_int_equal(submit_one(f->ring), -EACCES);
}

static void refused_further_registrations(void **state)
{
    RingFixture *f = *state;
    NEED_RING(f);
    int fd = f->other_fd;
    assert_int_equal(io_uring_register_files_update(f->ring, 0, &fd, 1), -EACCES);
    assert_int_equal(io_uring_unregister_eventfd(f->ring), -EACCES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define RING_TEST(fn) cmocka_unit_test_setup_teardown(fn, ring_setup, ring_teardown)
        RING_TEST(allowed_read_on_the_registered_file),
        RING_TEST(refused_an_fd_that_is_not_registered),
        RING_TEST(refused_an_unlisted_operation),
        RING_TEST(refused_an_unlisted_flag),
        RING_TEST(refused_further_registrations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
