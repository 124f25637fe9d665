/*
 * Random model test of the block backend: thousands of random reads, writes, flushes,
 * discards and write-zeroes of random sizes, alignments and iovec splits, kept in
 * flight at a random queue depth (submitted in random batches, kicked at random,
 * completions run with random budgets), on both engines, with the page cache and with
 * O_DIRECT (bounce buffers, read-modify-write), while EINTR, EAGAIN and short transfers
 * are injected now and then. Requests in flight together never share a byte, so every
 * result is known: each read is checked against a shadow copy when it completes, each
 * write updates the shadow when it completes, and the file itself is compared with
 * the shadow at the end. Byte-disjoint writes into one block under O_DIRECT are the
 * read-modify-write overlaps the backend must serialise.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/block-internal.h"
#include "util/log.h"
#include "util/macros.h"

#define IMAGE_SIZE   (256u * 1024)
#define MAX_LEN      (64u * 1024)
#define OPS_PER_RUN  1500u
#define MAX_DEPTH    32u

typedef struct ModelReq {
    BlockRequest req;
    struct iovec iov[4];
    uint8_t *mem;               /* MAX_LEN + 8192 bytes, 4096-aligned */
    struct Model *model;
    bool active;                /* submitted, callback not yet run */
} ModelReq;

typedef struct Model {
    BlockBackend *bb;
    uint8_t *shadow;
    uint64_t rng;
    bool discard_zeroes;
    bool direct;
    unsigned depth, active, completed;
    ModelReq reqs[MAX_DEPTH];
} Model;

static uint64_t below(Model *m, uint64_t n)
{
    return test_rand_below(&m->rng, n);
}

static bool overlaps_active(const Model *m, uint64_t off, uint64_t len)
{
    for (unsigned i = 0; i < m->depth; i++) {
        const ModelReq *r = &m->reqs[i];
        if (r->active && r->req.op != BLOCK_OP_FLUSH && off < r->req.offset + r->req.len &&
            r->req.offset < off + len)
            return true;
    }
    return false;
}

static void model_done(BlockRequest *req, int ret)
{
    ModelReq *r = container_of(req, ModelReq, req);
    Model *m = r->model;
    bool rw = req->op == BLOCK_OP_READ || req->op == BLOCK_OP_WRITE;
    if (ret != (rw ? (int)req->len : 0))
        fail_msg("op %d at %llu+%llu: ret %d", req->op, (unsigned long long)req->offset,
                 (unsigned long long)req->len, ret);
    uint8_t *data = req->iovcnt ? req->iov[0].iov_base : NULL;
    switch (req->op) {
    case BLOCK_OP_READ:
        if (memcmp(data, m->shadow + req->offset, req->len))
            fail_msg("read at %llu+%llu differs from the model",
                     (unsigned long long)req->offset, (unsigned long long)req->len);
        break;
    case BLOCK_OP_WRITE:
        memcpy(m->shadow + req->offset, data, req->len);
        break;
    case BLOCK_OP_DISCARD:
        if (m->discard_zeroes)
            memset(m->shadow + req->offset, 0, req->len);
        break;
    case BLOCK_OP_WRITE_ZEROES:
        memset(m->shadow + req->offset, 0, req->len);
        break;
    default:
        break;
    }
    r->active = false;
    m->active--;
    m->completed++;
}

/* Sector-aligned, byte-granular, or large and page-aligned. */
static void pick_range(Model *m, uint64_t *off, uint64_t *len)
{
    unsigned kind = (unsigned)below(m, 10);
    if (kind < 4) {
        *len = 512 * (1 + below(m, 32));
        *off = 512 * below(m, IMAGE_SIZE / 512);
    } else if (kind < 8) {
        *len = 1 + below(m, 8192);
        *off = below(m, IMAGE_SIZE);
    } else {
        *len = 4096 * (1 + below(m, MAX_LEN / 4096));
        *off = 4096 * below(m, IMAGE_SIZE / 4096);
    }
    if (*off + *len > IMAGE_SIZE)
        *len = IMAGE_SIZE - *off;
}

/* Data at an aligned or odd address, in 1 to 4 iovecs split at random. The iovecs are
 * contiguous so that iov[0].iov_base is the whole buffer. */
static void fill_iov(Model *m, ModelReq *r)
{
    uint64_t len = r->req.len;
    uint8_t *data = r->mem + (below(m, 2) ? 0 : 1 + below(m, 15));
    if (r->req.op == BLOCK_OP_WRITE) {
        for (uint64_t i = 0; i < len; i++)
            data[i] = (uint8_t)test_rand(&m->rng);
    }
    unsigned cnt = 1 + (unsigned)below(m, 4);
    uint64_t at = 0;
    for (unsigned i = 0; i < cnt; i++) {
        uint64_t piece = i + 1 == cnt ? len - at : below(m, len - at + 1);
        r->iov[i] = (struct iovec){ data + at, piece };
        at += piece;
    }
    r->req.iov = r->iov;
    r->req.iovcnt = cnt;
}

static const BlockOp op_table[] = {
    BLOCK_OP_READ, BLOCK_OP_READ, BLOCK_OP_READ, BLOCK_OP_READ, BLOCK_OP_READ,
    BLOCK_OP_WRITE, BLOCK_OP_WRITE, BLOCK_OP_WRITE, BLOCK_OP_WRITE, BLOCK_OP_WRITE,
    BLOCK_OP_DISCARD, BLOCK_OP_DISCARD, BLOCK_OP_WRITE_ZEROES, BLOCK_OP_WRITE_ZEROES,
    BLOCK_OP_WRITE_ZEROES, BLOCK_OP_FLUSH,
};

/* Submit one random request if a free request and a free range turn up. */
static void submit_one(Model *m)
{
    ModelReq *r = NULL;
    for (unsigned i = 0; i < m->depth && !r; i++)
        r = m->reqs[i].active ? NULL : &m->reqs[i];
    assert_non_null(r);
    BlockOp op = op_table[below(m, ARRAY_SIZE(op_table))];
    uint64_t off = 0, len = 0;
    if (op != BLOCK_OP_FLUSH) {
        unsigned tries = 0;
        do {
            pick_range(m, &off, &len);
        } while (overlaps_active(m, off, len) && ++tries < 8);
        if (tries == 8)
            return;
    }
    r->req = (BlockRequest){ .op = op, .offset = off, .len = len, .done = model_done,
                             .durable = below(m, 20) == 0, .unmap = below(m, 2) };
    if (op == BLOCK_OP_READ || op == BLOCK_OP_WRITE)
        fill_iov(m, r);
    assert_int_equal(blk_submit(m->bb, &r->req), 0);
    r->active = true;
    m->active++;
}

/* EINTR, EAGAIN or a short transfer, for the next few host operations. Under O_DIRECT
 * a short transfer ends on a block boundary, as the kernel's do. */
static void maybe_inject(Model *m)
{
    if (below(m, 25))
        return;
    static const int errors[] = { 0, EINTR, EAGAIN };
    BlockFault fault = { .ops = (unsigned)(1 + below(m, (1u << BLOCK_OP_COUNT) - 1)),
                         .count = 1 + (unsigned)below(m, 3),
                         .error = errors[below(m, ARRAY_SIZE(errors))] };
    fault.short_len = m->direct ? 512 * (1 + below(m, 8)) : 1 + below(m, 4096);
    blk_inject_fault(m->bb, &fault);
}

/* Wait only for what was kicked: requests still queued never complete. */
static void run_completions(Model *m)
{
    unsigned budget = 1 + (unsigned)below(m, 4);
    if (blk_process_completions(m->bb, budget) || !m->active)
        return;
    assert_int_equal(blk_kick(m->bb), 0);
    struct pollfd pfd = { .fd = blk_completion_fd(m->bb), .events = POLLIN };
    assert_true(poll(&pfd, 1, 10000) == 1);
}

static void model_run(BlockAio aio, BlockCache cache, const char *name)
{
    Model *m = calloc(1, sizeof(*m));
    m->rng = test_seed(name);
    m->depth = 1 + (unsigned)below(m, MAX_DEPTH);
    char path[TEST_PATH_MAX];
    test_image_create(path, IMAGE_SIZE);
    m->shadow = malloc(IMAGE_SIZE);
    test_file_read(path, 0, m->shadow, IMAGE_SIZE);
    for (unsigned i = 0; i < m->depth; i++) {
        m->reqs[i].mem = aligned_alloc(4096, MAX_LEN + 8192);
        m->reqs[i].model = m;
    }
    m->bb = test_blk_open(path, aio, cache, m->depth);
    m->discard_zeroes = blk_geometry(m->bb)->discard;
    m->direct = cache == BLOCK_CACHE_NONE;

    unsigned submitted = 0;
    while (submitted < OPS_PER_RUN) {
        unsigned batch = 1 + (unsigned)below(m, m->depth);
        while (batch-- && m->active < m->depth && submitted < OPS_PER_RUN) {
            submit_one(m);
            submitted++;
        }
        if (m->active == m->depth) {
            BlockRequest extra = { .op = BLOCK_OP_FLUSH, .done = model_done };
            assert_int_equal(blk_submit(m->bb, &extra), -EAGAIN);
        }
        maybe_inject(m);
        if (below(m, 4) || m->active == m->depth)
            assert_int_equal(blk_kick(m->bb), 0);
        if (below(m, 2) || m->active == m->depth)
            run_completions(m);
    }
    blk_drain(m->bb);
    assert_int_equal(m->active, 0);

    BlockStats st;
    blk_get_stats(m->bb, &st);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.in_flight, 0);
    printf("# %s: depth %u, %u requests, %llu retries, %llu bounced, %llu rmw, %llu kicks\n",
           name, m->depth, m->completed, (unsigned long long)st.retries,
           (unsigned long long)st.bounced, (unsigned long long)st.read_modify_write,
           (unsigned long long)st.kicks);
    blk_inject_fault(m->bb, &(BlockFault){ 0 });
    blk_close(m->bb);

    uint8_t *disk = malloc(IMAGE_SIZE);
    test_file_read(path, 0, disk, IMAGE_SIZE);
    for (uint64_t i = 0; i < IMAGE_SIZE; i++) {
        if (disk[i] != m->shadow[i])
            fail_msg("byte %llu of the image is %u, the model says %u", (unsigned long long)i,
                     disk[i], m->shadow[i]);
    }
    unlink(path);
    free(disk);
    for (unsigned i = 0; i < m->depth; i++)
        free(m->reqs[i].mem);
    free(m->shadow);
    free(m);
}

static void io_uring_page_cache(void **state)
{
    model_run(BLOCK_AIO_IO_URING, BLOCK_CACHE_WRITEBACK, "io_uring_page_cache");
}

static void threads_page_cache(void **state)
{
    model_run(BLOCK_AIO_THREADS, BLOCK_CACHE_WRITEBACK, "threads_page_cache");
}

static void io_uring_direct(void **state)
{
    model_run(BLOCK_AIO_IO_URING, BLOCK_CACHE_NONE, "io_uring_direct");
}

static void threads_direct(void **state)
{
    model_run(BLOCK_AIO_THREADS, BLOCK_CACHE_NONE, "threads_direct");
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(io_uring_page_cache),
        cmocka_unit_test(threads_page_cache),
        cmocka_unit_test(io_uring_direct),
        cmocka_unit_test(threads_direct),
    };
    return cmocka_run_group_tests_name("block_random", tests, NULL, NULL);
}
