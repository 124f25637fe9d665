/*
 * Unit tests for the block layer (block/): opening, locking and sizing images, every
 * request type on both engines and with O_DIRECT (misaligned buffers bounce), request
 * checks, host errors reaching the callback, the io_uring → threads fallback, bounded
 * completion processing, and acknowledged writes surviving a SIGKILL.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "block/block.h"
#include "util/log.h"
#include "util/macros.h"

#define IMAGE_BYTES (1u << 20)

typedef struct Fixture {
    char path[64];
    enum blk_aio aio;
    enum blk_cache cache;
    BlockBackend *bb;
} Fixture;

typedef struct Done {
    BlockRequest req;
    struct iovec iov[4];
    int ret;
    bool done;
} Done;

static void on_done(BlockRequest *req, int ret)
{
    Done *d = container_of(req, Done, req);
    d->ret = ret;
    d->done = true;
}

static BlockBackend *open_image(Fixture *f, bool readonly, unsigned depth, Error **errp)
{
    BlockConfig cfg = { .path = f->path, .readonly = readonly, .cache = f->cache,
                        .aio = f->aio, .queue_depth = depth };
    return blk_open(&cfg, errp);
}

static int setup_with(void **state, enum blk_aio aio, enum blk_cache cache)
{
    Fixture *f = calloc(1, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "/tmp/xendm-test-block-XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, IMAGE_BYTES), 0);
    close(fd);
    f->aio = aio;
    f->cache = cache;
    Error *err = NULL;
    f->bb = open_image(f, false, 64, &err);
    assert_null(err);
    *state = f;
    return 0;
}

static int setup_uring(void **state) { return setup_with(state, BLK_AIO_IO_URING, BLK_CACHE_WRITEBACK); }
static int setup_threads(void **state) { return setup_with(state, BLK_AIO_THREADS, BLK_CACHE_WRITEBACK); }
static int setup_direct(void **state) { return setup_with(state, BLK_AIO_IO_URING, BLK_CACHE_NONE); }
static int setup_direct_threads(void **state) { return setup_with(state, BLK_AIO_THREADS, BLK_CACHE_NONE); }

static int teardown(void **state)
{
    Fixture *f = *state;
    blk_close(f->bb);
    unlink(f->path);
    free(f);
    return 0;
}

/* Submit, batch, and serve completions until d is done. */
static int run(Fixture *f, Done *d)
{
    d->req.done = on_done;
    d->done = false;
    int ret = blk_submit(f->bb, &d->req);
    if (ret < 0)
        return ret;
    blk_submit_batch(f->bb);
    for (int spins = 0; !d->done; spins++) {
        assert_true(spins < 1000);
        struct pollfd p = { .fd = blk_completion_fd(f->bb), .events = POLLIN };
        poll(&p, 1, 10);
        blk_process_completions(f->bb, 16);
    }
    return d->ret;
}

static int rw(Fixture *f, enum blk_op op, uint64_t off, void *buf, size_t len)
{
    Done d = { .req = { .op = op, .offset = off, .len = len, .iov = d.iov, .iovcnt = 1 } };
    d.iov[0] = (struct iovec){ .iov_base = buf, .iov_len = len };
    return run(f, &d);
}

static void file_bytes(Fixture *f, uint64_t off, void *buf, size_t len)
{
    int fd = open(f->path, O_RDONLY);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void geometry_of_a_file(void **state)
{
    Fixture *f = *state;
    const BlockGeometry *g = blk_geometry(f->bb);
    assert_int_equal(g->size, IMAGE_BYTES);
    assert_int_equal(g->logical_block_size, 512);
    assert_true(g->physical_block_size >= 512);
    assert_false(g->is_block_device);
    assert_string_equal(blk_engine_name(f->bb), f->aio == BLK_AIO_IO_URING ? "io_uring"
                                                                           : "threads");
}

static void every_operation(void **state)
{
    Fixture *f = *state;
    uint8_t *w = aligned_alloc(4096, 65536), *r = aligned_alloc(4096, 65536);
    for (unsigned i = 0; i < 65536; i++)
        w[i] = (uint8_t)(i * 13 + 1);
    /* A write of two iovecs, read back as one. */
    Done d = { .req = { .op = BLK_OP_WRITE, .offset = 8192, .len = 65536, .iov = d.iov,
                        .iovcnt = 2, .durable = true } };
    d.iov[0] = (struct iovec){ w, 4096 };
    d.iov[1] = (struct iovec){ w + 4096, 65536 - 4096 };
    assert_int_equal(run(f, &d), 0);
    assert_int_equal(rw(f, BLK_OP_READ, 8192, r, 65536), 0);
    assert_memory_equal(r, w, 65536);
    Done flush = { .req = { .op = BLK_OP_FLUSH } };
    assert_int_equal(run(f, &flush), 0);
    /* Write-zeroes (with and without unmap) and discard. */
    Done z = { .req = { .op = BLK_OP_WRITE_ZEROES, .offset = 8192, .len = 4096 } };
    assert_int_equal(run(f, &z), 0);
    Done zu = { .req = { .op = BLK_OP_WRITE_ZEROES, .offset = 16384, .len = 8192, .unmap = true } };
    assert_int_equal(run(f, &zu), 0);
    Done disc = { .req = { .op = BLK_OP_DISCARD, .offset = 65536, .len = 4096 } };
    assert_int_equal(run(f, &disc), 0);
    uint8_t file[65536];
    file_bytes(f, 8192, file, sizeof(file));
    for (unsigned i = 0; i < 4096; i++)
        assert_int_equal(file[i], 0);
    assert_memory_equal(file + 4096, w + 4096, 4096);
    for (unsigned i = 8192; i < 16384; i++)
        assert_int_equal(file[i], 0);
    assert_memory_equal(file + 16384, w + 16384, 65536 - 8192 - 16384);
    for (unsigned i = 65536 - 8192; i < 65536 - 8192 + 4096; i++)
        assert_int_equal(file[i], 0);           /* discarded: a hole reads as zeroes */
    assert_memory_equal(file + 61440, w + 61440, 65536 - 61440);
    BlockStats st;
    blk_get_stats(f->bb, &st);
    assert_int_equal(st.requests, 6);
    assert_int_equal(st.bytes_written, 65536);
    assert_int_equal(st.errors, 0);
    free(w);
    free(r);
}

/* O_DIRECT with buffers that are not aligned: the data still arrives, through a bounce. */
static void misaligned_buffers_under_o_direct(void **state)
{
    Fixture *f = *state;
    uint8_t *raw = malloc(8192 + 3), *buf = raw + 3, back[8192];
    for (unsigned i = 0; i < 8192; i++)
        buf[i] = (uint8_t)(i ^ 0x5a);
    assert_int_equal(rw(f, BLK_OP_WRITE, 4096, buf, 8192), 0);
    memset(buf, 0, 8192);
    assert_int_equal(rw(f, BLK_OP_READ, 4096, buf, 8192), 0);
    file_bytes(f, 4096, back, sizeof(back));
    assert_memory_equal(back, buf, 8192);
    for (unsigned i = 0; i < 8192; i++)
        assert_int_equal(buf[i], (uint8_t)(i ^ 0x5a));
    BlockStats st;
    blk_get_stats(f->bb, &st);
    assert_int_equal(st.bounced, 2);
    free(raw);
}

static void bad_requests_are_refused(void **state)
{
    Fixture *f = *state;
    uint8_t buf[512];
    assert_int_equal(rw(f, BLK_OP_READ, IMAGE_BYTES, buf, 512), -EINVAL);
    assert_int_equal(rw(f, BLK_OP_READ, IMAGE_BYTES - 256, buf, 512), -EINVAL);
    assert_int_equal(rw(f, BLK_OP_WRITE, UINT64_MAX - 100, buf, 512), -EINVAL);
    assert_int_equal(rw(f, BLK_OP_WRITE, 0, buf, 0), -EINVAL);
    Done d = { .req = { .op = 99 } };
    assert_int_equal(run(f, &d), -EINVAL);
    /* A read-only image refuses writes of every kind. */
    blk_close(f->bb);
    Error *err = NULL;
    f->bb = open_image(f, true, 4, &err);
    assert_null(err);
    assert_int_equal(rw(f, BLK_OP_WRITE, 0, buf, 512), -EINVAL);
    Done z = { .req = { .op = BLK_OP_WRITE_ZEROES, .offset = 0, .len = 512 } };
    assert_int_equal(run(f, &z), -EINVAL);
    assert_int_equal(rw(f, BLK_OP_READ, 0, buf, 512), 0);
}

static void queue_depth_is_enforced_and_completions_are_bounded(void **state)
{
    Fixture *f = *state;
    static Done d[64];
    static uint8_t buf[64][512];
    for (unsigned i = 0; i < 64; i++) {
        d[i] = (Done){ .req = { .op = BLK_OP_WRITE, .offset = 512ull * i, .len = 512,
                                .iov = d[i].iov, .iovcnt = 1, .done = on_done } };
        d[i].iov[0] = (struct iovec){ buf[i], 512 };
        assert_int_equal(blk_submit(f->bb, &d[i].req), 0);
    }
    Done extra = { .req = { .op = BLK_OP_FLUSH, .done = on_done } };
    assert_int_equal(blk_submit(f->bb, &extra.req), -EAGAIN);
    assert_int_equal(blk_in_flight(f->bb), 64);
    blk_submit_batch(f->bb);
    unsigned finished = 0;
    for (int spins = 0; finished < 64; spins++) {
        assert_true(spins < 1000);
        struct pollfd p = { .fd = blk_completion_fd(f->bb), .events = POLLIN };
        poll(&p, 1, 10);
        unsigned before = 64 - blk_in_flight(f->bb);
        blk_process_completions(f->bb, 5);
        unsigned after = 64 - blk_in_flight(f->bb);
        assert_true(after - before <= 5);
        finished = after;
    }
    for (unsigned i = 0; i < 64; i++)
        assert_int_equal(d[i].ret, 0);
}

/* A host error reaches the callback: writing past RLIMIT_FSIZE gives EFBIG. */
static void host_errors_reach_the_callback(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    struct rlimit old, small = { .rlim_cur = 4096, .rlim_max = RLIM_INFINITY };
    getrlimit(RLIMIT_FSIZE, &old);
    small.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    uint8_t buf[512] = { 1 };
    int ret = rw(f, BLK_OP_WRITE, 65536, buf, 512);
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(ret, -EFBIG);
    BlockStats st;
    blk_get_stats(f->bb, &st);
    assert_int_equal(st.errors, 1);
    log_set_level(LOG_WARN);
}

static void images_are_locked(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;
    assert_null(open_image(f, false, 4, &err));
    assert_non_null(strstr(error_get_pretty(err), "in use"));
    error_free(err);
    err = NULL;
    assert_null(open_image(f, true, 4, &err));      /* a reader waits for the writer */
    error_free(err);
    err = NULL;
    blk_close(f->bb);
    f->bb = open_image(f, true, 4, &err);           /* two readers are fine */
    BlockBackend *second = open_image(f, true, 4, &err);
    assert_non_null(f->bb);
    assert_non_null(second);
    blk_close(second);
    const char *bad[] = { "/nonexistent/image", "/dev/null", "/tmp" };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        BlockConfig cfg = { .path = bad[i], .queue_depth = 4 };
        assert_null(blk_open(&cfg, &err));
        assert_non_null(strstr(error_get_pretty(err), bad[i]));
        error_free(err);
        err = NULL;
    }
}

/* io_uring that cannot be set up (here: no file descriptor left for its eventfd)
 * falls back to the thread pool. */
static void io_uring_failure_falls_back_to_threads(void **state)
{
    Fixture *f = *state;
    blk_close(f->bb);
    f->bb = NULL;
    int probe = dup(0);
    struct rlimit old, lim;
    getrlimit(RLIMIT_NOFILE, &old);
    close(probe);
    /* Room for the image and the ring, not for the ring's eventfd. */
    lim = (struct rlimit){ .rlim_cur = (rlim_t)probe + 2, .rlim_max = old.rlim_max };
    log_set_level(LOG_SILENT);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    Error *err = NULL;
    f->aio = BLK_AIO_IO_URING;
    BlockBackend *bb = open_image(f, false, 4, &err);
    setrlimit(RLIMIT_NOFILE, &old);
    log_set_level(LOG_WARN);
    if (err)
        fprintf(stderr, "%s\n", error_get_pretty(err));
    assert_non_null(bb);
    assert_string_equal(blk_engine_name(bb), "threads");
    f->bb = bb;
    uint8_t buf[512] = { 7 };
    assert_int_equal(rw(f, BLK_OP_WRITE, 0, buf, 512), 0);
}

/* What the callback reported done survives a SIGKILL of the process. */
static void acknowledged_writes_survive_sigkill(void **state)
{
    Fixture *f = *state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    /* The child opens the image itself: a fork has none of the parent's I/O threads. */
    blk_close(f->bb);
    f->bb = NULL;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        f->bb = open_image(f, false, 4, NULL);
        if (!f->bb)
            _exit(1);
        uint8_t buf[4096];
        memset(buf, 0xa5, sizeof(buf));
        Done w = { .req = { .op = BLK_OP_WRITE, .offset = 12288, .len = 4096, .iov = w.iov,
                            .iovcnt = 1 } };
        w.iov[0] = (struct iovec){ buf, sizeof(buf) };
        Done fl = { .req = { .op = BLK_OP_FLUSH } };
        if (run(f, &w) == 0 && run(f, &fl) == 0)
            (void)!write(pipefd[1], "k", 1);
        for (;;)
            pause();                            /* killed here, image still open */
    }
    char c;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    /* The lock dies with the child's last reference to the image; a killed process's
     * io_uring drops its reference a moment later, in the kernel's own time. */
    for (int i = 0; i < 200 && !f->bb; i++) {
        f->bb = open_image(f, false, 4, NULL);
        if (!f->bb)
            usleep(5000);
    }
    assert_non_null(f->bb);
    uint8_t back[4096];
    file_bytes(f, 12288, back, sizeof(back));
    for (unsigned i = 0; i < sizeof(back); i++)
        assert_int_equal(back[i], 0xa5);
    close(pipefd[0]);
    close(pipefd[1]);
}

#define BOTH(fn) cmocka_unit_test_setup_teardown(fn, setup_uring, teardown), \
                 cmocka_unit_test_setup_teardown(fn, setup_threads, teardown)
#define DIRECT(fn) cmocka_unit_test_setup_teardown(fn, setup_direct, teardown), \
                   cmocka_unit_test_setup_teardown(fn, setup_direct_threads, teardown)

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        BOTH(geometry_of_a_file),
        BOTH(every_operation),
        DIRECT(every_operation),
        DIRECT(misaligned_buffers_under_o_direct),
        BOTH(bad_requests_are_refused),
        BOTH(queue_depth_is_enforced_and_completions_are_bounded),
        cmocka_unit_test_setup_teardown(host_errors_reach_the_callback, setup_threads, teardown),
        BOTH(images_are_locked),
        cmocka_unit_test_setup_teardown(io_uring_failure_falls_back_to_threads, setup_threads,
                                        teardown),
        BOTH(acknowledged_writes_survive_sigkill),
    };
    return cmocka_run_group_tests_name("block", tests, NULL, NULL);
}
