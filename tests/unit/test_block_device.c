/*
 * Block backend on a real block device: a loop device with 4 KiB logical blocks over
 * a temporary file. Geometry comes from the block ioctls (checked against sysfs),
 * DISCARD goes through BLKDISCARD and WRITE_ZEROES through BLKZEROOUT (on io_uring via
 * the helper thread pool) or a hole punched into the device, ranges must be whole
 * logical blocks, O_DIRECT works in 4 KiB blocks, and a writable device is opened
 * exclusively. Needs root and /dev/loop-control: elsewhere every test is skipped.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "block/block-internal.h"
#include "util/log.h"

#define IMAGE_SIZE (4u << 20)
#define LOGICAL 4096u

static const TestDiskSpec io_uring = { BLOCK_AIO_IO_URING, IMAGE_SIZE };
static const TestDiskSpec threads = { BLOCK_AIO_THREADS, IMAGE_SIZE };

/* The disk's file, behind a loop device. */
typedef struct Fixture {
    TestDisk *disk;
    BlockAio aio;
    char dev[64];
    int loop_fd;                /* held open: the device detaches at its last close */
} Fixture;

/* A free loop device over `backing`; -1 if this machine cannot have one. Another
 * process may take the free device first (EBUSY): then ask again. */
static int attach_loop(const char *backing, char dev[64])
{
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    int file = open(backing, O_RDWR | O_CLOEXEC);
    int loop_fd = -1;
    for (unsigned tries = 0; ctl >= 0 && file >= 0 && loop_fd < 0 && tries < 20; tries++) {
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0)
            break;
        snprintf(dev, 64, "/dev/loop%d", n);
        loop_fd = open(dev, O_RDWR | O_CLOEXEC);
        if (loop_fd < 0)
            break;
        struct loop_config cfg = { .fd = (unsigned)file, .block_size = LOGICAL,
                                   .info = { .lo_flags = LO_FLAGS_AUTOCLEAR } };
        if (ioctl(loop_fd, LOOP_CONFIGURE, &cfg) < 0) {
            int err = errno;
            close(loop_fd);
            loop_fd = -1;
            if (err != EBUSY)
                break;
        }
    }
    if (file >= 0)
        close(file);
    if (ctl >= 0)
        close(ctl);
    return loop_fd;
}

static int setup(void **state)
{
    test_disk_setup(state);
    Fixture *f = calloc(1, sizeof(*f));
    f->disk = *state;
    f->aio = f->disk->aio;
    f->loop_fd = geteuid() == 0 ? attach_loop(f->disk->path, f->dev) : -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    if (f->loop_fd >= 0)
        close(f->loop_fd);
    *state = f->disk;
    free(f);
    return test_disk_teardown(state);
}

static Fixture *device_or_skip(void **state)
{
    Fixture *f = *state;
    if (f->loop_fd < 0)
        skip();                 /* not root, or no loop devices here */
    return f;
}

static uint32_t sysfs_u32(const Fixture *f, const char *attr)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/block/%s/queue/%s", f->dev + strlen("/dev/"), attr);
    FILE *file = fopen(path, "re");
    assert_non_null(file);
    unsigned value = 0;
    assert_int_equal(fscanf(file, "%u", &value), 1);
    fclose(file);
    return value;
}

static void assert_device_bytes(const Fixture *f, uint64_t off, uint64_t len, int fill)
{
    test_assert_file_bytes(f->dev, off, len, fill);
}

static void geometry_from_the_kernel(void **state)
{
    Fixture *f = device_or_skip(state);
    BlockBackend *bb = test_blk_open(f->dev, f->aio, BLOCK_CACHE_WRITEBACK, 8);
    const BlockGeometry *g = blk_geometry(bb);
    assert_int_equal(g->size, IMAGE_SIZE);
    assert_true(g->block_device);
    assert_int_equal(g->logical_block, LOGICAL);
    assert_int_equal(g->logical_block, sysfs_u32(f, "logical_block_size"));
    assert_int_equal(g->physical_block, sysfs_u32(f, "physical_block_size"));
    assert_int_equal(g->min_io, sysfs_u32(f, "minimum_io_size"));
    assert_int_equal(g->opt_io, sysfs_u32(f, "optimal_io_size"));
    assert_int_equal(g->discard, sysfs_u32(f, "discard_max_bytes") > 0);
    blk_close(bb);
}

static void every_operation_on_a_device(void **state)
{
    Fixture *f = device_or_skip(state);
    if (f->aio == BLOCK_AIO_IO_URING)
        test_io_uring_or_skip();
    BlockBackend *bb = test_blk_open(f->dev, f->aio, BLOCK_CACHE_WRITEBACK, 8);
    assert_string_equal(blk_engine_name(bb), f->aio == BLOCK_AIO_THREADS ? "threads"
                                                                         : "io_uring");
    /* io_uring has no ioctl: BLKDISCARD and BLKZEROOUT go to a helper pool. */
    assert_int_equal(bb->helper != NULL, f->aio == BLOCK_AIO_IO_URING);
    static uint8_t buf[3 * LOGICAL], back[3 * LOGICAL];
    memset(buf, 0x77, sizeof(buf));
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE, LOGICAL, buf, sizeof(buf)), sizeof(buf));
    assert_int_equal(test_blk_io(bb, BLOCK_OP_READ, LOGICAL, back, sizeof(back)), sizeof(back));
    assert_memory_equal(buf, back, sizeof(buf));
    assert_int_equal(test_blk_io(bb, BLOCK_OP_FLUSH, 0, NULL, 0), 0);

    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 16 * LOGICAL, NULL, 2 * LOGICAL), 0);
    BlockRequest z = { .op = BLOCK_OP_WRITE_ZEROES, .offset = 32 * LOGICAL, .len = LOGICAL,
                       .unmap = true, .durable = true };
    assert_int_equal(test_blk_sync(bb, &z), 0);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_DISCARD, 64 * LOGICAL, NULL, 4 * LOGICAL), 0);
    /* Deallocation and zeroing only in whole logical blocks. */
    assert_int_equal(test_blk_io(bb, BLOCK_OP_DISCARD, 512, NULL, LOGICAL), -EINVAL);
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE_ZEROES, 0, NULL, 1000), -EINVAL);
    BlockStats st;
    blk_get_stats(bb, &st);
    assert_int_equal(st.errors, 0);
    blk_close(bb);

    assert_device_bytes(f, 0, LOGICAL, -1);
    assert_device_bytes(f, LOGICAL, sizeof(buf), 0x77);
    assert_device_bytes(f, 16 * LOGICAL, 2 * LOGICAL, 0);
    assert_device_bytes(f, 18 * LOGICAL, LOGICAL, -1);
    assert_device_bytes(f, 32 * LOGICAL, LOGICAL, 0);
    assert_device_bytes(f, 33 * LOGICAL, LOGICAL, -1);
    assert_device_bytes(f, 68 * LOGICAL, LOGICAL, -1);
}

static void direct_io_in_device_blocks(void **state)
{
    Fixture *f = device_or_skip(state);
    BlockBackend *bb = test_blk_open(f->dev, f->aio, BLOCK_CACHE_NONE, 8);
    uint8_t data[700];
    memset(data, 0x3c, sizeof(data));
    /* 700 bytes at 512 within a 4 KiB block: read-modify-write of that block. */
    assert_int_equal(test_blk_io(bb, BLOCK_OP_WRITE, 8192 + 512, data, sizeof(data)),
                     sizeof(data));
    BlockStats st;
    blk_get_stats(bb, &st);
    assert_int_equal(st.read_modify_write, 1);
    blk_close(bb);
    assert_device_bytes(f, 8192, 512, -1);
    assert_device_bytes(f, 8192 + 512, sizeof(data), 0x3c);
    assert_device_bytes(f, 8192 + 512 + sizeof(data), 4096 - 512 - sizeof(data), -1);
}

static void writable_device_is_exclusive(void **state)
{
    Fixture *f = device_or_skip(state);
    BlockBackend *bb = test_blk_open(f->dev, f->aio, BLOCK_CACHE_WRITEBACK, 8);
    BlockConfig cfg = { .path = f->dev, .aio = f->aio };
    Error *err = NULL;
    assert_null(blk_open(&cfg, &err));
    assert_non_null(strstr(error_get_pretty(err), f->dev));
    assert_non_null(strstr(error_get_pretty(err), "in use"));
    error_free(err);
    blk_close(bb);
}

#define ON(fn, spec) { #fn "/" #spec, fn, setup, teardown, (void *)&(spec) }
#define BOTH(fn) ON(fn, io_uring), ON(fn, threads)

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        BOTH(geometry_from_the_kernel),
        BOTH(every_operation_on_a_device),
        BOTH(direct_io_in_device_blocks),
        BOTH(writable_device_is_exclusive),
    };
    return cmocka_run_group_tests_name("block_device", tests, NULL, NULL);
}
