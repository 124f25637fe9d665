/*
 * tests/unit/support.h — shared helpers for the cmocka unit tests.
 *
 * Every unit test binary includes this (it pulls in cmocka's prerequisites in the
 * right order) and links tests/unit/support.c: seeded randomness, and the fixtures that
 * several test files build alike (a root + address space, a counting listener, a fake
 * interrupt router).
 */
#ifndef XENDM_TEST_SUPPORT_H
#define XENDM_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "block/block.h"
#include "devices/device.h"
#include "devices/irq.h"
#include "memory/memory.h"

/* Seed for randomized tests: $XENDM_TEST_SEED if set, else time-based. Printed so a
 * failure can be replayed. */
uint64_t test_seed(const char *test_name);
/* xorshift64* PRNG; state must be non-zero. */
uint64_t test_rand(uint64_t *state);
/* Uniform in [0, n). */
uint64_t test_rand_below(uint64_t *state, uint64_t n);

/*
 * Allocation failures. A test binary named in the Makefile's UNIT_OOM_TESTS is linked
 * with ld --wrap for malloc, calloc, realloc and aligned_alloc, so that every allocation
 * of the code under test (the same objects, unchanged) passes through here (strdup and
 * other allocations inside libc do not). Armed, the allocation
 * `fail_at` calls from now is refused (NULL), and with `fail_rest` every later one too,
 * until disarmed. Pausing lets a test's own bookkeeping allocate while armed. In other
 * binaries these calls change nothing.
 */
void test_oom_arm(unsigned long fail_at, bool fail_rest);
void test_oom_disarm(void);
/* Armed since the last test_oom_arm() and not disarmed since (even if spent). */
bool test_oom_active(void);
/* Pause (true) or resume (false) refusals; returns the previous setting. */
bool test_oom_pause(bool pause);
/* Allocations refused so far in this process. */
unsigned long test_oom_refused(void);

/* The smallest memory "machine": a root container of `size` bytes (UINT64_MAX for all
 * of 2^64) and the address space "test" over it. */
typedef struct TestMachine {
    MemoryRegion root;
    AddressSpace as;
} TestMachine;

void test_machine_init(TestMachine *m, uint64_t size);
/* Destroys the address space and finalises the root (its subregions must be gone). */
void test_machine_fini(TestMachine *m);

/* A listener that counts the calls it gets and does nothing else. */
typedef struct TestCountingListener {
    MemoryListener l;           /* the callbacks get back with container_of */
    unsigned begins, commits, adds, dels, nops;
} TestCountingListener;

/* Zero counts and every counting callback set; the caller registers cl->l. */
void test_counting_listener_init(TestCountingListener *cl);

/* A fake interrupt router for device tests: remembers every ISA irq's level, the last
 * PCI INTx change and the last TEST_MSI_LOG messages. While fail_with is non-zero every
 * call fails with it and changes nothing. */
#define TEST_MSI_LOG 16
typedef struct TestMsi {
    uint64_t addr;
    uint32_t data;
} TestMsi;

typedef struct TestIrqs {
    IrqRouter router;           /* routes to this TestIrqs */
    bool isa[ISA_NUM_IRQS];
    struct {
        uint32_t sbdf;
        unsigned pin;           /* 0 = INTA */
        bool level;
    } intx;
    unsigned spi;               /* the last SPI set, and its level */
    bool spi_level;
    unsigned changes;           /* calls that succeeded, ISA, INTx and SPI */
    TestMsi msi[TEST_MSI_LOG];  /* message n (counting from 0) at msi[n % TEST_MSI_LOG] */
    unsigned msis;              /* messages accepted */
    int fail_with;
} TestIrqs;

void test_irqs_init(TestIrqs *t);
/* The message accepted `ago` messages before the last one (0: the last); fails the
 * test if there is none. */
TestMsi test_irqs_msi(const TestIrqs *t, unsigned ago);

/* A board for device tests: RAM of ram_size at 0 in the memory root (all of 2^64), an
 * I/O root of 64 KiB, the memory address space (also where DMA goes) and a TestIrqs
 * router; no PCI host. test_board_fini() expects the devices gone and only the RAM
 * left in the memory root. */
typedef struct TestBoard {
    MemoryRegion mem_root, io_root, ram;
    AddressSpace as;
    TestIrqs irqs;
    DeviceBoard board;
    uint8_t *ram_ptr;
    DeviceWorkQueue work;       /* the board's loop, once test_board_use_loop() */
    DeviceLoop loop;
} TestBoard;

void test_board_init(TestBoard *b, uint64_t ram_size);
void test_board_fini(TestBoard *b);
/* One guest access of size (1, 2, 4 or 8) bytes at addr in the memory space, as a
 * little-endian value; what nothing answers or a device refuses reads all ones. */
uint64_t test_board_read(TestBoard *b, hwaddr addr, unsigned size);
void test_board_write(TestBoard *b, hwaddr addr, uint64_t v, unsigned size);
/* Give the board an event loop's work queue: deferred device work then waits until
 * the test runs it (device_work_run(&b->work)), as it waits for a loop turn in xendm. */
void test_board_use_loop(TestBoard *b);

/*
 * A virtio 1.x driver for device tests, over virtio-mmio at `base` of a TestBoard, as
 * a guest's driver does it (3.1.1): reset, negotiate, lay out split queues in guest RAM
 * (queue q's rings at ring_base + q * TEST_VIRTQ_STRIDE: descriptors, then avail at
 * +0x4000, used at +0x8000), DRIVER_OK; then post chains of buffers and read used
 * entries. Descriptors of a queue are used round-robin.
 */
#define TEST_VIRTQ_STRIDE 0x10000u
#define TEST_VIRTIO_MAX_QUEUES 8

typedef struct TestVirtq {
    uint16_t num, avail_idx, used_seen, next_desc;
    uint64_t desc, avail, used;
} TestVirtq;

typedef struct TestVirtioDriver {
    TestBoard *b;
    uint64_t base;
    uint64_t dma_base;          /* OR-ed into the ring addresses the device is told */
    uint64_t features;          /* negotiated */
    unsigned nr_queues;
    TestVirtq q[TEST_VIRTIO_MAX_QUEUES];
} TestVirtioDriver;

/* One buffer of a chain: guest address, length, whether the device writes it. */
typedef struct TestVirtioBuf {
    uint64_t addr;
    uint32_t len;
    bool device_writes;
} TestVirtioBuf;

uint32_t test_virtio_read(TestVirtioDriver *d, uint64_t reg);
/* MEMTX_RETRY: the device holds the write (it waits for requests in flight). */
MemTxResult test_virtio_write(TestVirtioDriver *d, uint64_t reg, uint32_t val);
uint64_t test_virtio_device_features(TestVirtioDriver *d);
/* Reset and bring the device up with `features` (VERSION_1 added) and nr_queues queues
 * of num entries. Returns the status read back (FEATURES_OK clear: refused). */
uint8_t test_virtio_start(TestVirtioDriver *d, TestBoard *b, uint64_t base, uint64_t features,
                          unsigned nr_queues, uint16_t num, uint64_t ring_base);
/* The same for a device that sees RAM at other addresses (grant DMA: the rings' RAM
 * offsets OR-ed with dma_base); the rings are still written at their RAM offsets. */
uint8_t test_virtio_start_dma(TestVirtioDriver *d, TestBoard *b, uint64_t base,
                              uint64_t features, unsigned nr_queues, uint16_t num,
                              uint64_t ring_base, uint64_t dma_base);
/* Write a chain into queue q's descriptors and the avail ring; returns its head. With
 * indirect_at != 0 the chain goes into an indirect table at that guest address. */
uint16_t test_virtio_add(TestVirtioDriver *d, unsigned q, const TestVirtioBuf *bufs,
                         unsigned n, uint64_t indirect_at);
void test_virtio_kick(TestVirtioDriver *d, unsigned q);
/* The next used entry of queue q: true and its id/len, or false if none is new. */
bool test_virtio_used(TestVirtioDriver *d, unsigned q, uint32_t *id, uint32_t *len);
/* Device configuration space at byte `off`, `size` 1, 2 or 4. */
uint32_t test_virtio_config(TestVirtioDriver *d, uint32_t off, unsigned size);

/* Disk images for block/ tests: a new file of `size` bytes under $TMPDIR (else /tmp)
 * whose byte at offset o is test_image_byte(o); its path goes to path[]. The test
 * removes it with unlink(). */
#define TEST_PATH_MAX 256
void test_image_create(char path[TEST_PATH_MAX], uint64_t size);
uint8_t test_image_byte(uint64_t offset);
/* Read the file's bytes through a descriptor of its own (not the backend's). */
void test_file_read(const char *path, uint64_t offset, void *buf, size_t len);
/* Fail unless the file's bytes [offset, offset + len) are all `fill`, or with fill -1
 * still those test_image_create() wrote. */
void test_assert_file_bytes(const char *path, uint64_t offset, uint64_t len, int fill);

/*
 * A block test case runs on one engine over a fresh image: its prestate is a
 * TestDiskSpec, test_disk_setup() turns it into the TestDisk the test gets as *state.
 *   static const TestDiskSpec io_uring = { BLOCK_AIO_IO_URING, SIZE }, threads = ...;
 *   TEST_DISK_CASE(fn, io_uring)   runs fn as "fn/io_uring"
 */
typedef struct TestDiskSpec {
    BlockAio aio;
    uint64_t size;
} TestDiskSpec;

typedef struct TestDisk {
    BlockAio aio;
    char path[TEST_PATH_MAX];
} TestDisk;

int test_disk_setup(void **state);
int test_disk_teardown(void **state);
#define TEST_DISK_CASE(fn, spec)                                                       \
    { #fn "/" #spec, fn, test_disk_setup, test_disk_teardown, (void *)&(spec) }

/* Open or fail the test (skip it where direct I/O cannot be tested, see below). */
BlockBackend *test_blk_open(const char *path, BlockAio aio, BlockCache cache,
                            unsigned queue_depth);
/*
 * Skip the test, saying why, where statx reports no direct I/O alignment for `path`
 * although it opens with O_DIRECT: qemu-user 7.2 (the arm64 build's tests) passes the
 * STATX_DIOALIGN bit through without the alignments, so cache=none is refused there.
 */
void test_direct_io_or_skip(const char *path);
/* Skip the test, saying why, where io_uring cannot be set up (as under qemu-user). */
void test_io_uring_or_skip(void);
/* Wait (10 s at most) for the completion fd, then run every completion. */
void test_blk_wait(BlockBackend *bb);

/* A request whose callback records its result. */
typedef struct TestBlkRequest {
    BlockRequest req;
    struct iovec iov;
    int ret;
    bool done;
} TestBlkRequest;

/* One buffer (buf NULL: none); ret starts at 1, which no request returns. */
void test_blk_request_init(TestBlkRequest *t, BlockOp op, uint64_t offset, void *buf,
                           uint64_t len);
/* Submit a copy of req with a recording callback, kick and wait for the callback: its
 * ret, or blk_submit()'s error. */
int test_blk_sync(BlockBackend *bb, const BlockRequest *req);
/* The same for one buffer: READ, WRITE, or another op with buf NULL. */
int test_blk_io(BlockBackend *bb, BlockOp op, uint64_t offset, void *buf, uint64_t len);

#endif
