/*
 * Unit tests for the block backend's error and edge paths, on both engines: host
 * errors reach the callback (EIO, ENOSPC, injected at the engine's result), EINTR and
 * EAGAIN are retried up to a bound, short transfers continue, deallocation the host
 * refuses falls back (WRITE_ZEROES down to writing zeros, DISCARD to nothing), an image
 * that shrank under the backend fails reads with -EIO instead of looping, durable
 * deallocations sync, O_DIRECT takes misaligned buffers and offsets (bounce buffer,
 * read-modify-write that waits for overlapping writes), and running out of memory
 * fails blk_open() and blk_submit() cleanly.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/block-internal.h"
#include "util/log.h"
#include "util/macros.h"

#define IMAGE_SIZE (4u << 20)

static const TestDiskSpec io_uring = { BLOCK_AIO_IO_URING, IMAGE_SIZE };
static const TestDiskSpec threads = { BLOCK_AIO_THREADS, IMAGE_SIZE };

static void inject(BlockBackend *bb, BlockOp op, unsigned count, int error, uint64_t short_len)
{
    blk_inject_fault(bb, &(BlockFault){ .ops = 1u << op, .count = count, .error = error,
                                        .short_len = short_len });
}

static void host_errors_reach_the_callback(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 4);
    uint8_t buf[4096];
    inject(bb, BLOCK_OP_READ, 1, EIO, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, 0, buf, sizeof(buf)), -EIO);
    inject(bb, BLOCK_OP_WRITE, 1, ENOSPC, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE, 0, buf, sizeof(buf)), -ENOSPC);
    inject(bb, BLOCK_OP_FLUSH, 1, EIO, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_FLUSH, 0, NULL, 0), -EIO);
    inject(bb, BLOCK_OP_WRITE_ZEROES, 1, ENOSPC, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 0, NULL, 512), -ENOSPC);
    /* The fault is spent: the next requests work. */
    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, 0, buf, sizeof(buf)), sizeof(buf));
    assert_int_equal(test_blk_io(bb, BLOCK_OP_FLUSH, 0, NULL, 0), 0);
    BlockStats st;
    blk_get_stats(bb, &st);
    assert_int_equal(st.errors, 4);
    assert_int_equal(st.bytes_read, sizeof(buf));
    assert_int_equal(st.bytes_written, 0);
    blk_close(bb);
}

static void eintr_and_eagain_are_retried(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 4);
    uint8_t buf[1000];
    memset(buf, 0x42, sizeof(buf));
    inject(bb, BLOCK_OP_WRITE, 3, EINTR, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE, 777, buf, sizeof(buf)), sizeof(buf));
    inject(bb, BLOCK_OP_FLUSH, 2, EAGAIN, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_FLUSH, 0, NULL, 0), 0);
    BlockStats st;
    blk_get_stats(bb, &st);
    assert_int_equal(st.retries, 5);
    assert_int_equal(st.errors, 0);

    /* A host that keeps saying EAGAIN gets its error reported, not an endless loop. */
    inject(bb, BLOCK_OP_READ, BLOCK_MAX_RETRIES + 1, EAGAIN, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, 0, buf, sizeof(buf)), -EAGAIN);
    blk_get_stats(bb, &st);
    assert_int_equal(st.retries, 5 + BLOCK_MAX_RETRIES);
    blk_close(bb);
    test_assert_file_bytes(f->path, 777, sizeof(buf), 0x42);
}

static void short_transfers_continue(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 4);
    uint8_t buf[300], back[300];
    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i ^ 0x5c);
    struct iovec iov[] = { { buf, 100 }, { buf + 100, 1 }, { buf + 101, 199 } };
    BlockRequest w = { .op = BLOCK_OP_WRITE, .offset = 5000, .len = sizeof(buf), .iov = iov,
                       .iovcnt = ARRAY_SIZE(iov) };
    /* 7 bytes at a time for 20 operations, then the rest in one. */
    inject(bb, BLOCK_OP_WRITE, 20, 0, 7);
    assert_int_equal(test_blk_sync(bb, &w), sizeof(buf));
    struct iovec riov[] = { { back, 150 }, { back + 150, 150 } };
    BlockRequest r = { .op = BLOCK_OP_READ, .offset = 5000, .len = sizeof(back), .iov = riov,
                       .iovcnt = ARRAY_SIZE(riov) };
    inject(bb, BLOCK_OP_READ, 1000, 0, 1);
    assert_int_equal(test_blk_sync(bb, &r), sizeof(back));
    assert_memory_equal(buf, back, sizeof(buf));
    BlockStats st;
    blk_get_stats(bb, &st);
    /* The read's last byte was all that was left: not short. */
    assert_int_equal(st.retries, 20 + 299);
    blk_close(bb);
    test_assert_file_bytes(f->path, 4990, 10, -1);
    test_assert_file_bytes(f->path, 5300, 10, -1);
}

/* ZERO_RANGE refused, then PUNCH_HOLE refused: zeros are written, in several host
 * operations for a range larger than one (BLOCK_ZERO_IOV * BLOCK_ZERO_CHUNK). */
static void write_zeroes_falls_back_to_writing_zeros(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 4);
    inject(bb, BLOCK_OP_WRITE_ZEROES, 1, EOPNOTSUPP, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 1000, NULL, 3000), 0);
    assert_true(bb->no_zero_range);
    assert_false(bb->no_punch_hole);
    inject(bb, BLOCK_OP_WRITE_ZEROES, 1, EOPNOTSUPP, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 10000, NULL, 5000), 0);
    assert_true(bb->no_punch_hole);

    uint64_t big = 2 * BLOCK_ZERO_IOV * BLOCK_ZERO_CHUNK + 12345;
    blk_inject_fault(bb, &(BlockFault){ .ops = 1u << BLOCK_OP_WRITE_ZEROES, .count = 100 });
    BlockRequest z = { .op = BLOCK_OP_WRITE_ZEROES, .offset = 65536 + 1, .len = big,
                       .unmap = true };
    assert_int_equal(test_blk_sync(bb, &z), 0);
    assert_int_equal(bb->fault.count, 100 - 3);     /* three writes of zeros */
    blk_close(bb);
    test_assert_file_bytes(f->path, 990, 10, -1);
    test_assert_file_bytes(f->path, 1000, 3000, 0);
    test_assert_file_bytes(f->path, 4000, 10, -1);
    test_assert_file_bytes(f->path, 10000, 5000, 0);
    test_assert_file_bytes(f->path, 65536, 1, -1);
    test_assert_file_bytes(f->path, 65537, big, 0);
    test_assert_file_bytes(f->path, 65537 + big, 100, -1);
}

static void refused_discard_is_a_no_op(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 4);
    inject(bb, BLOCK_OP_DISCARD, 1, EOPNOTSUPP, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_DISCARD, 0, NULL, 4096), 0);
    assert_true(bb->no_punch_hole);
    /* From now on discards do not reach the host: the armed fault stays unspent. */
    inject(bb, BLOCK_OP_DISCARD, 1, EIO, 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_DISCARD, 8192, NULL, 4096), 0);
    assert_int_equal(bb->fault.count, 1);
    blk_close(bb);
    test_assert_file_bytes(f->path, 8192, 4096, -1);
}

/* Host operations per request, counted by a fault that changes nothing. */
static unsigned host_ops(BlockBackend *bb, const BlockRequest *req)
{
    blk_inject_fault(bb, &(BlockFault){ .ops = 1u << req->op, .count = 100 });
    assert_int_equal(test_blk_sync(bb, req), 0);
    return 100 - bb->fault.count;
}

static void durable_deallocation_syncs(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 4);
    BlockRequest d = { .op = BLOCK_OP_DISCARD, .offset = 0, .len = 4096 };
    BlockRequest z = { .op = BLOCK_OP_WRITE_ZEROES, .offset = 8192, .len = 4096 };
    assert_int_equal(host_ops(bb, &d), 1);
    assert_int_equal(host_ops(bb, &z), 1);
    d.durable = z.durable = true;
    assert_int_equal(host_ops(bb, &d), 2);
    assert_int_equal(host_ops(bb, &z), 2);
    blk_close(bb);

    /* Under writethrough every deallocation is durable. */
    bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITETHROUGH, 4);
    d.durable = z.durable = false;
    assert_int_equal(host_ops(bb, &d), 2);
    assert_int_equal(host_ops(bb, &z), 2);
    blk_close(bb);
}

static void shrunk_image_fails_reads_with_eio(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_WRITEBACK, 4);
    assert_int_equal(truncate(f->path, 6000), 0);
    uint8_t buf[4096];
    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, 8192, buf, sizeof(buf)), -EIO);
    /* A read across the new end gets what is there, then -EIO. */
    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, 4096, buf, sizeof(buf)), -EIO);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, 0, buf, sizeof(buf)), sizeof(buf));
    blk_close(bb);
}

/* ---- O_DIRECT ------------------------------------------------------------------------ */

static void direct_io_takes_any_buffer_and_offset(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_NONE, 4);
    uint8_t *mem = aligned_alloc(4096, 3 * 4096);
    uint8_t *odd = mem + 1, back[4096 + 8];
    memset(mem, 0x11, 3 * 4096);

    /* Aligned range, odd address: bounced, no read-modify-write. */
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE, 4096, odd, 4096), 4096);
    BlockStats st;
    blk_get_stats(bb, &st);
    assert_int_equal(st.bounced, 1);
    assert_int_equal(st.read_modify_write, 0);
    /* Aligned everything: straight from the caller's memory. */
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE, 8192, mem, 4096), 4096);
    blk_get_stats(bb, &st);
    assert_int_equal(st.bounced, 1);

    /* Odd offset and length in odd pieces: read-modify-write of the edge blocks. */
    for (unsigned i = 0; i < 1000; i++)
        odd[i] = (uint8_t)(i * 3);
    struct iovec iov[] = { { odd, 100 }, { odd + 100, 311 }, { odd + 411, 589 } };
    BlockRequest w = { .op = BLOCK_OP_WRITE, .offset = 20000 + 3, .len = 1000, .iov = iov,
                       .iovcnt = ARRAY_SIZE(iov) };
    assert_int_equal(test_blk_sync(bb, &w), 1000);
    /* Within one block: only its head is read. */
    w.offset = 40000 + 7;
    w.len = iov[0].iov_len = 100;
    w.iovcnt = 1;
    assert_int_equal(test_blk_sync(bb, &w), 100);
    blk_get_stats(bb, &st);
    assert_int_equal(st.read_modify_write, 2);

    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, 20000 + 3, back + 1, 1000), 1000);
    assert_memory_equal(back + 1, odd, 1000);
    blk_close(bb);
    test_assert_file_bytes(f->path, 4096, 4096, 0x11);
    test_assert_file_bytes(f->path, 8192, 4096, 0x11);
    test_assert_file_bytes(f->path, 20000 - 500, 503, -1);
    test_assert_file_bytes(f->path, 20000 + 1003, 500, -1);
    test_assert_file_bytes(f->path, 40000, 7, -1);
    test_assert_file_bytes(f->path, 40107, 400, -1);
    free(mem);
}

static BlockSlot *slot_of(BlockBackend *bb, const BlockRequest *req)
{
    for (unsigned i = 0; i < bb->depth; i++) {
        if (bb->slots[i].req == req)
            return &bb->slots[i];
    }
    fail_msg("no slot holds the request");
    return NULL;
}

/* Two writes to different bytes of one block, and a zeroing of a third part of it:
 * each read-modify-write must wait for the one before, or it writes back stale bytes. */
static void read_modify_writes_wait_for_overlapping_writes(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_NONE, 8);
    static uint8_t a[50], b[60], c[4096] __attribute__((aligned(4096)));
    memset(a, 0xaa, sizeof(a));
    memset(b, 0xbb, sizeof(b));
    memset(c, 0xcc, sizeof(c));
    TestBlkRequest p[4];
    test_blk_request_init(&p[0], BLOCK_OP_WRITE, 65536 + 10, a, sizeof(a));
    test_blk_request_init(&p[1], BLOCK_OP_WRITE, 65536 + 200, b, sizeof(b));
    test_blk_request_init(&p[2], BLOCK_OP_WRITE_ZEROES, 65536 + 300, NULL, 20);
    test_blk_request_init(&p[3], BLOCK_OP_WRITE, 131072, c, sizeof(c));
    for (unsigned i = 0; i < ARRAY_SIZE(p); i++)
        assert_int_equal(blk_submit(bb, &p[i].req), 0);
    assert_int_equal(blk_kick(bb), 0);
    assert_int_equal(slot_of(bb, &p[0].req)->state, SLOT_ISSUED);
    assert_int_equal(slot_of(bb, &p[1].req)->state, SLOT_WAITING);
    assert_int_equal(slot_of(bb, &p[2].req)->state, SLOT_WAITING);
    assert_int_equal(slot_of(bb, &p[3].req)->state, SLOT_ISSUED);
    blk_drain(bb);
    assert_int_equal(p[0].ret, sizeof(a));
    assert_int_equal(p[1].ret, sizeof(b));
    assert_int_equal(p[2].ret, 0);
    assert_int_equal(p[3].ret, sizeof(c));
    blk_close(bb);
    test_assert_file_bytes(f->path, 65536, 10, -1);
    test_assert_file_bytes(f->path, 65536 + 10, sizeof(a), 0xaa);
    test_assert_file_bytes(f->path, 65536 + 60, 140, -1);
    test_assert_file_bytes(f->path, 65536 + 200, sizeof(b), 0xbb);
    test_assert_file_bytes(f->path, 65536 + 260, 40, -1);
    test_assert_file_bytes(f->path, 65536 + 300, 20, 0);
    test_assert_file_bytes(f->path, 65536 + 320, 200, -1);
    test_assert_file_bytes(f->path, 131072, sizeof(c), 0xcc);
}

/* Without ZERO_RANGE and PUNCH_HOLE, O_DIRECT can only write zeros over whole blocks. */
static void direct_zero_writing_needs_aligned_ranges(void **state)
{
    TestDisk *f = *state;
    BlockBackend *bb = test_blk_open(f->path, f->aio, BLOCK_CACHE_NONE, 4);
    bb->no_zero_range = bb->no_punch_hole = true;
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 4096, NULL, 8192), 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 100, NULL, 8192), -EINVAL);
    blk_close(bb);
    test_assert_file_bytes(f->path, 4096, 8192, 0);
    test_assert_file_bytes(f->path, 0, 4096, -1);
}

/* ---- out of memory --------------------------------------------------------------------- */

static void out_of_memory_fails_cleanly(void **state)
{
    TestDisk *f = *state;
    test_direct_io_or_skip(f->path);
    BlockConfig cfg = { .path = f->path, .aio = f->aio, .cache = BLOCK_CACHE_NONE,
                        .queue_depth = 4 };
    unsigned refused_opens = 0;
    for (unsigned long at = 0;; at++) {
        Error *err = NULL;
        unsigned long refused = test_oom_refused();
        test_oom_arm(at, false);
        BlockBackend *bb = blk_open(&cfg, &err);
        test_oom_disarm();
        if (bb) {
            /* Without its ring the backend still opens, on the thread pool. */
            blk_close(bb);
            if (test_oom_refused() == refused)
                break;
        } else {
            assert_non_null(err);
            error_free(err);
            refused_opens++;
        }
    }
    assert_true(refused_opens > 0);

    BlockBackend *bb = blk_open(&cfg, NULL);
    uint8_t *mem = aligned_alloc(4096, 8192);
    TestBlkRequest p;
    test_blk_request_init(&p, BLOCK_OP_WRITE, 0, mem + 1, 100);
    test_oom_arm(0, true);
    assert_int_equal(blk_submit(bb, &p.req), -ENOMEM);
    test_oom_disarm();
    BlockStats st;
    blk_get_stats(bb, &st);
    assert_int_equal(st.in_flight, 0);
    assert_int_equal(test_blk_sync(bb, &p.req), 100);
    blk_close(bb);
    free(mem);
}

#define BOTH(fn) TEST_DISK_CASE(fn, io_uring), TEST_DISK_CASE(fn, threads)

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        BOTH(host_errors_reach_the_callback),
        BOTH(eintr_and_eagain_are_retried),
        BOTH(short_transfers_continue),
        BOTH(write_zeroes_falls_back_to_writing_zeros),
        BOTH(refused_discard_is_a_no_op),
        BOTH(durable_deallocation_syncs),
        BOTH(shrunk_image_fails_reads_with_eio),
        BOTH(direct_io_takes_any_buffer_and_offset),
        BOTH(read_modify_writes_wait_for_overlapping_writes),
        BOTH(direct_zero_writing_needs_aligned_ranges),
        BOTH(out_of_memory_fails_cleanly),
    };
    return cmocka_run_group_tests_name("block_errors", tests, NULL, NULL);
}
