/*
 * Unit tests for the block backend (block/): geometry of an image file, the one-writer
 * lock, every operation on both engines (io_uring and the thread pool), the queue's
 * rules (nothing before a kick, one hand-over per batch, -EAGAIN when full, a callback
 * may resubmit), the completion budget, and what blk_submit() refuses.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"

#define IMAGE_SIZE (1u << 20)

static const TestDiskSpec io_uring = { BLOCK_AIO_IO_URING, IMAGE_SIZE };
static const TestDiskSpec threads = { BLOCK_AIO_THREADS, IMAGE_SIZE };

static BlockBackend *open_with(const char *path, BlockConfig cfg, Error **errp)
{
    cfg.path = path;
    return blk_open(&cfg, errp);
}

static void assert_open_fails(const char *path, BlockConfig cfg, const char *needle)
{
    Error *err = NULL;
    assert_null(open_with(path, cfg, &err));
    assert_non_null(err);
    if (!strstr(error_get_pretty(err), needle))
        fail_msg("error '%s' does not say '%s'", error_get_pretty(err), needle);
    error_free(err);
}

/* ---- geometry and opening ------------------------------------------------------------ */

static void file_geometry(void **state)
{
    TestDisk *f = *state;
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 0);
    const BlockGeometry *g = blk_geometry(bb);
    assert_int_equal(g->size, IMAGE_SIZE);
    assert_int_equal(g->logical_block, 512);
    assert_int_equal(g->physical_block, st.st_blksize);
    assert_int_equal(g->min_io, 0);
    assert_int_equal(g->opt_io, 0);
    assert_false(g->readonly);
    assert_false(g->block_device);

    /* discard=unmap: deallocation works on this file system iff punching a hole does. */
    int fd = open(f->path, O_RDWR);
    bool can_punch = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, IMAGE_SIZE,
                               4096) == 0;
    close(fd);
    assert_int_equal(g->discard, can_punch);
    blk_close(bb);

    bb = open_with(f->path, (BlockConfig){ .readonly = true, .discard = BLOCK_DISCARD_UNMAP },
                   NULL);
    assert_true(blk_geometry(bb)->readonly);
    assert_false(blk_geometry(bb)->discard);
    blk_close(bb);
    bb = open_with(f->path, (BlockConfig){ .discard = BLOCK_DISCARD_IGNORE }, NULL);
    assert_false(blk_geometry(bb)->discard);
    blk_close(bb);
}

static void open_refusals(void **state)
{
    TestDisk *f = *state;
    char missing[TEST_PATH_MAX + 16];
    snprintf(missing, sizeof(missing), "%s.missing", f->path);
    assert_open_fails(missing, (BlockConfig){ 0 }, missing);
    assert_open_fails("/dev/null", (BlockConfig){ 0 }, "neither a regular file");
    assert_open_fails("", (BlockConfig){ 0 }, "needs the path");
    assert_open_fails(f->path, (BlockConfig){ .queue_depth = BLOCK_MAX_QUEUE_DEPTH + 1 },
                      "queue depth");
    assert_open_fails(f->path, (BlockConfig){ .cache = 7 }, "invalid cache");

    /* O_DIRECT cannot write a partial last block: such an image is refused. */
    test_direct_io_or_skip(f->path);
    assert_int_equal(truncate(f->path, IMAGE_SIZE - 100), 0);
    assert_open_fails(f->path, (BlockConfig){ .cache = BLOCK_CACHE_NONE }, "multiple of");
}

/* ---- the lock ----------------------------------------------------------------------- */

static void one_writer_per_image(void **state)
{
    TestDisk *f = *state;
    BlockConfig rw = { .aio = f->aio }, ro = { .aio = f->aio, .readonly = true };
    BlockBackend *writer = open_with(f->path, rw, NULL);
    assert_non_null(writer);
    assert_open_fails(f->path, rw, f->path);
    assert_open_fails(f->path, rw, "locked");
    assert_open_fails(f->path, ro, "locked");
    blk_close(writer);

    /* Readers share; a writer waits for all of them to go. */
    BlockBackend *r1 = open_with(f->path, ro, NULL), *r2 = open_with(f->path, ro, NULL);
    assert_non_null(r1);
    assert_non_null(r2);
    assert_open_fails(f->path, rw, "write lock");
    blk_close(r1);
    assert_open_fails(f->path, rw, "write lock");
    blk_close(r2);
    writer = open_with(f->path, rw, NULL);
    assert_non_null(writer);
    blk_close(writer);
}

/* ---- every operation ----------------------------------------------------------------- */

static void every_operation(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 8);
    uint8_t buf[3000], back[3000];

    /* A read and a write of three iovecs each. */
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    struct iovec wiov[] = { { buf, 1000 }, { buf + 1000, 1 }, { buf + 1001, 1999 } };
    BlockRequest w = { .op = BLOCK_OP_WRITE, .offset = 4097, .len = sizeof(buf),
                       .iov = wiov, .iovcnt = 3 };
    assert_int_equal(test_blk_sync(bb, &w), sizeof(buf));
    struct iovec riov[] = { { back, 5 }, { back + 5, sizeof(back) - 5 } };
    BlockRequest r = { .op = BLOCK_OP_READ, .offset = 4097, .len = sizeof(back),
                       .iov = riov, .iovcnt = 2 };
    assert_int_equal(test_blk_sync(bb, &r), sizeof(back));
    assert_memory_equal(buf, back, sizeof(buf));

    /* A durable write (RWF_DSYNC), a flush, an empty read. */
    w.durable = true;
    w.offset = 65536;
    assert_int_equal(test_blk_sync(bb, &w), sizeof(buf));
    assert_int_equal(test_blk_io(bb, BLOCK_OP_FLUSH, 0, NULL, 0), 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, 100, back, 0), 0);

    /* Deallocation and zeroing read back as zeros; their neighbours are untouched. */
    assert_true(blk_geometry(bb)->discard);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_DISCARD, 131072 + 10, NULL, 8192), 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 262144 + 3, NULL, 5000), 0);
    BlockRequest z = { .op = BLOCK_OP_WRITE_ZEROES, .offset = 393216, .len = 70000,
                       .unmap = true, .durable = true };
    assert_int_equal(test_blk_sync(bb, &z), 0);

    BlockStats st;
    blk_get_stats(bb, &st);
    assert_int_equal(st.completed[BLOCK_OP_READ], 2);
    assert_int_equal(st.completed[BLOCK_OP_WRITE], 2);
    assert_int_equal(st.completed[BLOCK_OP_FLUSH], 1);
    assert_int_equal(st.completed[BLOCK_OP_DISCARD], 1);
    assert_int_equal(st.completed[BLOCK_OP_WRITE_ZEROES], 2);
    assert_int_equal(st.bytes_written, 2 * sizeof(buf));
    assert_int_equal(st.bytes_read, sizeof(back));
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.in_flight, 0);
    const char *engine = blk_engine_name(bb);      /* the engine's static name */
    blk_close(bb);

    uint8_t disk[3000];
    test_file_read(f->path, 65536, disk, sizeof(disk));
    assert_memory_equal(disk, buf, sizeof(buf));
    test_assert_file_bytes(f->path, 131072, 10, -1);
    test_assert_file_bytes(f->path, 131072 + 10, 8192, 0);
    test_assert_file_bytes(f->path, 131072 + 10 + 8192, 100, -1);
    test_assert_file_bytes(f->path, 262144, 3, -1);
    test_assert_file_bytes(f->path, 262144 + 3, 5000, 0);
    test_assert_file_bytes(f->path, 262144 + 5003, 100, -1);
    test_assert_file_bytes(f->path, 393216, 70000, 0);
    test_assert_file_bytes(f->path, 393216 + 70000, 100, -1);

    /* Last: skipped where io_uring cannot be set up, and the backend rightly fell back. */
    if (f->aio == BLOCK_AIO_IO_URING && strcmp(engine, "io_uring"))
        test_io_uring_or_skip();
    assert_string_equal(engine, f->aio == BLOCK_AIO_THREADS ? "threads" : "io_uring");
}

static void writethrough_writes(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITETHROUGH, 4);
    uint8_t buf[512];
    memset(buf, 0xa5, sizeof(buf));
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE, 512, buf, sizeof(buf)), 512);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 2048, NULL, 512), 0);
    blk_close(bb);
    test_assert_file_bytes(f->path, 512, 512, 0xa5);
    test_assert_file_bytes(f->path, 2048, 512, 0);
}

static void discard_ignore_changes_nothing(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = open_with(f->path, (BlockConfig){ .aio = f->aio }, NULL);
    assert_false(blk_geometry(bb)->discard);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_DISCARD, 0, NULL, IMAGE_SIZE), 0);
    /* Nor may WRITE_ZEROES deallocate: it zeroes all the same. */
    BlockRequest z = { .op = BLOCK_OP_WRITE_ZEROES, .offset = 4096, .len = 4096,
                       .unmap = true };
    assert_int_equal(test_blk_sync(bb, &z), 0);
    blk_close(bb);
    test_assert_file_bytes(f->path, 0, 4096, -1);
    test_assert_file_bytes(f->path, 4096, 4096, 0);
    test_assert_file_bytes(f->path, 8192, IMAGE_SIZE - 8192, -1);
}

static void read_only_refuses_writes(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = open_with(f->path, (BlockConfig){ .aio = f->aio, .readonly = true },
                                 NULL);
    uint8_t buf[100];
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE, 0, buf, sizeof(buf)), -EROFS);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_DISCARD, 0, NULL, 512), -EROFS);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 0, NULL, 512), -EROFS);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_FLUSH, 0, NULL, 0), 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, 10, buf, sizeof(buf)), sizeof(buf));
    assert_int_equal(buf[0], test_image_byte(10));
    blk_close(bb);
}

static void done_not_called(BlockRequest *req, int ret)
{
    fail_msg("callback of a refused request");
}

static void bad_requests_are_refused(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 4);
    uint8_t buf[16];
    struct iovec iov = { buf, sizeof(buf) };
    struct iovec many[BLOCK_MAX_IOV + 1];
    for (unsigned i = 0; i < ARRAY_SIZE(many); i++)
        many[i] = (struct iovec){ buf, 1 };
    struct iovec huge = { buf, (size_t)1 << 40 };
    const BlockRequest bad[] = {
        { .op = BLOCK_OP_READ, .offset = IMAGE_SIZE - 8, .len = 16, .iov = &iov, .iovcnt = 1 },
        { .op = BLOCK_OP_READ, .offset = IMAGE_SIZE + 1, .len = 0 },
        { .op = BLOCK_OP_READ, .offset = UINT64_MAX - 4, .len = 16, .iov = &iov, .iovcnt = 1 },
        { .op = BLOCK_OP_READ, .offset = 0, .len = 15, .iov = &iov, .iovcnt = 1 },
        { .op = BLOCK_OP_WRITE, .offset = 0, .len = 16, .iov = NULL, .iovcnt = 1 },
        { .op = BLOCK_OP_WRITE, .offset = 0, .len = ARRAY_SIZE(many), .iov = many,
          .iovcnt = ARRAY_SIZE(many) },
        { .op = BLOCK_OP_WRITE, .offset = 0, .len = 16, .iov = &huge, .iovcnt = 1 },
        { .op = BLOCK_OP_DISCARD, .offset = 4096, .len = IMAGE_SIZE },
        { .op = BLOCK_OP_WRITE_ZEROES, .offset = UINT64_MAX, .len = 2 },
        { .op = BLOCK_OP_COUNT },
        { .op = (BlockOp)-1 },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        BlockRequest req = bad[i];
        req.done = done_not_called;
        assert_int_equal(blk_submit(bb, &req), -EINVAL);
    }
    assert_int_equal(blk_kick(bb), 0);
    BlockStats st;
    blk_get_stats(bb, &st);
    assert_int_equal(st.in_flight, 0);
    assert_false(blk_process_completions(bb, 10));
    blk_close(bb);
}

/* ---- the queue ----------------------------------------------------------------------- */

static unsigned count_done(const TestBlkRequest *t, unsigned n)
{
    unsigned done = 0;
    for (unsigned i = 0; i < n; i++)
        done += t[i].done;
    return done;
}

static bool fd_readable(BlockBackend *bb, int timeout_ms)
{
    struct pollfd pfd = { .fd = blk_completion_fd(bb), .events = POLLIN };
    return poll(&pfd, 1, timeout_ms) == 1;
}

static void nothing_happens_before_a_kick(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 4);
    uint8_t buf[4096];
    memset(buf, 0x5a, sizeof(buf));
    TestBlkRequest c;
    test_blk_request_init(&c, BLOCK_OP_WRITE, 0, buf, sizeof(buf));
    assert_int_equal(blk_submit(bb, &c.req), 0);
    assert_false(fd_readable(bb, 50));
    assert_false(blk_process_completions(bb, 10));
    assert_false(c.done);
    test_assert_file_bytes(f->path, 0, sizeof(buf), -1);

    assert_int_equal(blk_kick(bb), 0);
    while (!c.done)
        test_blk_wait(bb);
    assert_int_equal(c.ret, sizeof(buf));
    test_assert_file_bytes(f->path, 0, sizeof(buf), 0x5a);
    blk_close(bb);
}

static void one_kick_per_batch_and_eagain_when_full(void **state)
{
    TestDisk *f = *state;
    enum { DEPTH = 16 };
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, DEPTH);
    static uint8_t bufs[DEPTH][512];
    TestBlkRequest c[DEPTH + 1];
    for (unsigned i = 0; i <= DEPTH; i++) {
        memset(bufs[i % DEPTH], (int)i, 512);
        test_blk_request_init(&c[i], BLOCK_OP_WRITE, i * 4096, bufs[i % DEPTH], 512);
    }
    for (unsigned i = 0; i < DEPTH; i++)
        assert_int_equal(blk_submit(bb, &c[i].req), 0);
    assert_int_equal(blk_submit(bb, &c[DEPTH].req), -EAGAIN);
    BlockStats before, after;
    blk_get_stats(bb, &before);
    assert_int_equal(before.in_flight, DEPTH);
    assert_int_equal(blk_kick(bb), 0);
    blk_get_stats(bb, &after);
    assert_int_equal(after.kicks, before.kicks + 1);
    assert_int_equal(blk_submit(bb, &c[DEPTH].req), -EAGAIN);
    while (count_done(c, DEPTH) < DEPTH)
        test_blk_wait(bb);
    for (unsigned i = 0; i < DEPTH; i++)
        assert_int_equal(c[i].ret, 512);
    assert_int_equal(blk_submit(bb, &c[DEPTH].req), 0);
    blk_close(bb);              /* drains the last one, never kicked */
    assert_int_equal(count_done(c, DEPTH + 1), DEPTH + 1);
    assert_int_equal(c[DEPTH].ret, 512);
    test_assert_file_bytes(f->path, 3 * 4096, 512, 3);
}

/* With a queue depth of 1, each callback submits the next write: the slot is free
 * before the callback runs. */
typedef struct Chain {
    BlockRequest req;
    struct iovec iov;
    BlockBackend *bb;
    uint8_t buf[64];
    unsigned left, done;
} Chain;

static void chain_done(BlockRequest *req, int ret)
{
    Chain *ch = container_of(req, Chain, req);
    assert_int_equal(ret, sizeof(ch->buf));
    ch->done++;
    if (!--ch->left)
        return;
    ch->req.offset += 4096;
    assert_int_equal(blk_submit(ch->bb, &ch->req), 0);
    assert_int_equal(blk_kick(ch->bb), 0);
}

static void callbacks_may_resubmit(void **state)
{
    TestDisk *f = *state;
    Chain ch = { .left = 20 };
    ch.bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 1);
    memset(ch.buf, 0xee, sizeof(ch.buf));
    ch.iov = (struct iovec){ ch.buf, sizeof(ch.buf) };
    ch.req = (BlockRequest){ .op = BLOCK_OP_WRITE, .len = sizeof(ch.buf), .iov = &ch.iov,
                             .iovcnt = 1, .done = chain_done };
    assert_int_equal(blk_submit(ch.bb, &ch.req), 0);
    assert_int_equal(blk_kick(ch.bb), 0);
    while (ch.left)
        test_blk_wait(ch.bb);
    assert_int_equal(ch.done, 20);
    blk_close(ch.bb);
    for (unsigned i = 0; i < 20; i++)
        test_assert_file_bytes(f->path, i * 4096, sizeof(ch.buf), 0xee);
}

/* Ignored discards finish without the kernel: all eight are ready at once. */
static void budget_limits_callbacks(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = open_with(f->path, (BlockConfig){ .aio = f->aio }, NULL);
    TestBlkRequest c[8];
    for (unsigned i = 0; i < 8; i++) {
        test_blk_request_init(&c[i], BLOCK_OP_DISCARD, i * 512, NULL, 512);
        assert_int_equal(blk_submit(bb, &c[i].req), 0);
    }
    assert_int_equal(blk_kick(bb), 0);
    assert_true(fd_readable(bb, 1000));
    assert_true(blk_process_completions(bb, 3));
    assert_int_equal(count_done(c, 8), 3);
    assert_true(blk_process_completions(bb, 3));
    assert_int_equal(count_done(c, 8), 6);
    assert_false(blk_process_completions(bb, 3));
    assert_int_equal(count_done(c, 8), 8);
    assert_false(blk_process_completions(bb, 0));
    blk_close(bb);
}

static void drain_waits_for_everything(void **state)
{
    TestDisk *f = *state;
    enum { N = 32 };
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, N);
    static uint8_t buf[N][4096];
    TestBlkRequest c[N];
    for (unsigned i = 0; i < N; i++) {
        memset(buf[i], 0x30 + (int)i, sizeof(buf[i]));
        test_blk_request_init(&c[i], BLOCK_OP_WRITE, i * 8192, buf[i], sizeof(buf[i]));
        assert_int_equal(blk_submit(bb, &c[i].req), 0);
    }
    blk_drain(bb);
    assert_int_equal(count_done(c, N), N);
    BlockStats st;
    blk_get_stats(bb, &st);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(st.bytes_written, sizeof(buf));
    blk_close(bb);
    for (unsigned i = 0; i < N; i++)
        test_assert_file_bytes(f->path, i * 8192, 4096, 0x30 + (int)i);
}

#define BOTH(fn) TEST_DISK_CASE(fn, io_uring), TEST_DISK_CASE(fn, threads)

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        TEST_DISK_CASE(file_geometry, io_uring),
        TEST_DISK_CASE(open_refusals, io_uring),
        BOTH(one_writer_per_image),
        BOTH(every_operation),
        BOTH(writethrough_writes),
        BOTH(discard_ignore_changes_nothing),
        BOTH(read_only_refuses_writes),
        BOTH(bad_requests_are_refused),
        BOTH(nothing_happens_before_a_kick),
        BOTH(one_kick_per_batch_and_eagain_when_full),
        BOTH(callbacks_may_resubmit),
        BOTH(budget_limits_callbacks),
        BOTH(drain_waits_for_everything),
    };
    return cmocka_run_group_tests_name("block", tests, NULL, NULL);
}
