/* tests/unit/support.c — see support.h. */
#include "tests/unit/support.h"

#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/macros.h"

uint64_t test_seed(const char *test_name)
{
    const char *env = getenv("XENDM_TEST_SEED");
    uint64_t seed;
    if (env && *env) {
        seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    if (seed == 0)
        seed = 1;
    printf("# %s: seed %" PRIu64 " (replay with XENDM_TEST_SEED=%" PRIu64 ")\n",
           test_name, seed, seed);
    return seed;
}

uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t test_rand_below(uint64_t *state, uint64_t n)
{
    return n ? test_rand(state) % n : 0;
}

void test_machine_init(TestMachine *m, uint64_t size)
{
    memory_region_init(&m->root, NULL, "root", size);
    assert_int_equal(address_space_init(&m->as, &m->root, "test", NULL), 0);
}

void test_machine_fini(TestMachine *m)
{
    address_space_destroy(&m->as);
    memory_region_finalize(&m->root);
}

static TestCountingListener *counting(MemoryListener *l)
{
    return container_of(l, TestCountingListener, l);
}

static void count_begin(MemoryListener *l) { counting(l)->begins++; }
static void count_commit(MemoryListener *l) { counting(l)->commits++; }
static void count_add(MemoryListener *l, MemoryRegionSection *s) { counting(l)->adds++; }
static void count_del(MemoryListener *l, MemoryRegionSection *s) { counting(l)->dels++; }
static void count_nop(MemoryListener *l, MemoryRegionSection *s) { counting(l)->nops++; }

void test_counting_listener_init(TestCountingListener *cl)
{
    *cl = (TestCountingListener){
        .l = { .begin = count_begin, .commit = count_commit, .region_add = count_add,
               .region_del = count_del, .region_nop = count_nop, .name = "counting" },
    };
}

static int fake_set_isa_irq(void *opaque, unsigned irq, bool level)
{
    TestIrqs *t = opaque;
    if (t->fail_with)
        return t->fail_with;
    assert_true(irq < ISA_NUM_IRQS);
    t->isa[irq] = level;
    t->changes++;
    return 0;
}

static int fake_set_pci_intx(void *opaque, uint32_t sbdf, unsigned pin, bool level)
{
    TestIrqs *t = opaque;
    if (t->fail_with)
        return t->fail_with;
    t->intx.sbdf = sbdf;
    t->intx.pin = pin;
    t->intx.level = level;
    t->changes++;
    return 0;
}

static int fake_inject_msi(void *opaque, uint64_t addr, uint32_t data)
{
    TestIrqs *t = opaque;
    if (t->fail_with)
        return t->fail_with;
    t->msi[t->msis++ % TEST_MSI_LOG] = (TestMsi){ .addr = addr, .data = data };
    return 0;
}

static int fake_set_spi(void *opaque, unsigned spi, bool level)
{
    TestIrqs *t = opaque;
    if (t->fail_with)
        return t->fail_with;
    t->spi = spi;
    t->spi_level = level;
    t->changes++;
    return 0;
}

void test_irqs_init(TestIrqs *t)
{
    *t = (TestIrqs){ 0 };
    t->router = (IrqRouter){ .set_isa_irq = fake_set_isa_irq,
                             .set_pci_intx = fake_set_pci_intx,
                             .inject_msi = fake_inject_msi, .set_spi = fake_set_spi,
                             .opaque = t };
}

TestMsi test_irqs_msi(const TestIrqs *t, unsigned ago)
{
    assert_true(ago < TEST_MSI_LOG && ago < t->msis);
    return t->msi[(t->msis - 1 - ago) % TEST_MSI_LOG];
}

void test_board_init(TestBoard *b, uint64_t ram_size)
{
    memory_region_init(&b->mem_root, NULL, "system", UINT64_MAX);
    memory_region_init(&b->io_root, NULL, "io", 0x10000);
    assert_int_equal(memory_region_init_ram(&b->ram, NULL, "ram", ram_size, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&b->mem_root, 0, &b->ram, NULL), 0);
    assert_int_equal(address_space_init(&b->as, &b->mem_root, "memory", NULL), 0);
    b->ram_ptr = memory_region_get_ram_ptr(&b->ram);
    assert_non_null(b->ram_ptr);
    test_irqs_init(&b->irqs);
    b->board = (DeviceBoard){ .system_memory = &b->mem_root, .system_io = &b->io_root,
                              .dma_as = &b->as, .irq = &b->irqs.router };
}

void test_board_fini(TestBoard *b)
{
    address_space_destroy(&b->as);
    memory_region_del_subregion(&b->mem_root, &b->ram, NULL);
    memory_region_finalize(&b->ram);
    memory_region_finalize(&b->mem_root);
    memory_region_finalize(&b->io_root);
}

uint64_t test_board_read(TestBoard *b, hwaddr addr, unsigned size)
{
    uint64_t v = 0;
    address_space_read(&b->as, addr, MEMTXATTRS_UNSPECIFIED, &v, size);
    return v;
}

void test_board_write(TestBoard *b, hwaddr addr, uint64_t v, unsigned size)
{
    address_space_write(&b->as, addr, MEMTXATTRS_UNSPECIFIED, &v, size);
}

/* ---- allocation failures ------------------------------------------------------------ */

/* Weak: defined by the linker only in binaries linked with --wrap (UNIT_OOM_TESTS),
 * the only ones whose allocations reach the wrappers below. */
extern void *__real_malloc(size_t size) __attribute__((weak));
extern void *__real_calloc(size_t nmemb, size_t size) __attribute__((weak));
extern void *__real_realloc(void *ptr, size_t size) __attribute__((weak));
extern void *__real_aligned_alloc(size_t align, size_t size) __attribute__((weak));
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);

static struct {
    bool armed, active, paused, fail_rest;
    unsigned long fail_at, refused;
} oom;

void test_oom_arm(unsigned long fail_at, bool fail_rest)
{
    oom.armed = oom.active = true;
    oom.fail_at = fail_at;
    oom.fail_rest = fail_rest;
}

void test_oom_disarm(void)
{
    oom.armed = oom.active = false;
}

bool test_oom_active(void)
{
    return oom.active;
}

bool test_oom_pause(bool pause)
{
    bool was = oom.paused;
    oom.paused = pause;
    return was;
}

unsigned long test_oom_refused(void)
{
    return oom.refused;
}

static bool oom_refuse(void)
{
    if (!oom.armed || oom.paused)
        return false;
    if (oom.fail_at > 0) {
        oom.fail_at--;
        return false;
    }
    oom.armed = oom.fail_rest;
    oom.refused++;
    return true;
}

void *__wrap_malloc(size_t size)
{
    return oom_refuse() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
    return oom_refuse() ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    return oom_refuse() ? NULL : __real_realloc(ptr, size);
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
    return oom_refuse() ? NULL : __real_aligned_alloc(align, size);
}

/* ---- the board's loop and a virtio-mmio driver ------------------------------------ */

void test_board_use_loop(TestBoard *b)
{
    device_work_queue_init(&b->work);
    b->loop = (DeviceLoop){ .work = &b->work };
    b->board.loop = &b->loop;
}

enum {
    VM_DEV_FEATURES = 0x010, VM_DEV_FEATURES_SEL = 0x014, VM_DRV_FEATURES = 0x020,
    VM_DRV_FEATURES_SEL = 0x024, VM_QUEUE_SEL = 0x030, VM_QUEUE_NUM = 0x038,
    VM_QUEUE_READY = 0x044, VM_QUEUE_NOTIFY = 0x050, VM_STATUS = 0x070,
    VM_DESC_LOW = 0x080, VM_DESC_HIGH = 0x084, VM_DRIVER_LOW = 0x090, VM_DRIVER_HIGH = 0x094,
    VM_DEVICE_LOW = 0x0a0, VM_DEVICE_HIGH = 0x0a4, VM_CONFIG = 0x100,
};
enum { VS_ACK = 1, VS_DRIVER = 2, VS_DRIVER_OK = 4, VS_FEATURES_OK = 8 };

uint32_t test_virtio_read(TestVirtioDriver *d, uint64_t reg)
{
    return address_space_ldl_le(&d->b->as, d->base + reg, MEMTXATTRS_UNSPECIFIED, NULL);
}

MemTxResult test_virtio_write(TestVirtioDriver *d, uint64_t reg, uint32_t val)
{
    MemTxResult r = MEMTX_OK;
    address_space_stl_le(&d->b->as, d->base + reg, val, MEMTXATTRS_UNSPECIFIED, &r);
    return r;
}

uint64_t test_virtio_device_features(TestVirtioDriver *d)
{
    test_virtio_write(d, VM_DEV_FEATURES_SEL, 1);
    uint64_t hi = test_virtio_read(d, VM_DEV_FEATURES);
    test_virtio_write(d, VM_DEV_FEATURES_SEL, 0);
    return hi << 32 | test_virtio_read(d, VM_DEV_FEATURES);
}

static void setup_queue(TestVirtioDriver *d, unsigned q, uint16_t num, uint64_t rings)
{
    TestVirtq *vq = &d->q[q];
    *vq = (TestVirtq){ .num = num, .desc = rings, .avail = rings + 0x4000,
                       .used = rings + 0x8000 };
    memset(d->b->ram_ptr + rings, 0, TEST_VIRTQ_STRIDE);
    test_virtio_write(d, VM_QUEUE_SEL, q);
    test_virtio_write(d, VM_QUEUE_NUM, num);
    const uint64_t told[] = { vq->desc | d->dma_base, vq->avail | d->dma_base,
                              vq->used | d->dma_base };
    test_virtio_write(d, VM_DESC_LOW, (uint32_t)told[0]);
    test_virtio_write(d, VM_DESC_HIGH, (uint32_t)(told[0] >> 32));
    test_virtio_write(d, VM_DRIVER_LOW, (uint32_t)told[1]);
    test_virtio_write(d, VM_DRIVER_HIGH, (uint32_t)(told[1] >> 32));
    test_virtio_write(d, VM_DEVICE_LOW, (uint32_t)told[2]);
    test_virtio_write(d, VM_DEVICE_HIGH, (uint32_t)(told[2] >> 32));
    test_virtio_write(d, VM_QUEUE_READY, 1);
}

uint8_t test_virtio_start(TestVirtioDriver *d, TestBoard *b, uint64_t base, uint64_t features,
                          unsigned nr_queues, uint16_t num, uint64_t ring_base)
{
    return test_virtio_start_dma(d, b, base, features, nr_queues, num, ring_base, 0);
}

uint8_t test_virtio_start_dma(TestVirtioDriver *d, TestBoard *b, uint64_t base,
                              uint64_t features, unsigned nr_queues, uint16_t num,
                              uint64_t ring_base, uint64_t dma_base)
{
    assert_true(nr_queues <= TEST_VIRTIO_MAX_QUEUES);
    *d = (TestVirtioDriver){ .b = b, .base = base, .dma_base = dma_base,
                             .nr_queues = nr_queues, .features = features | 1ull << 32 };
    test_virtio_write(d, VM_STATUS, 0);
    test_virtio_write(d, VM_STATUS, VS_ACK | VS_DRIVER);
    for (unsigned bank = 0; bank < 2; bank++) {
        test_virtio_write(d, VM_DRV_FEATURES_SEL, bank);
        test_virtio_write(d, VM_DRV_FEATURES, (uint32_t)(d->features >> (32 * bank)));
    }
    test_virtio_write(d, VM_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK);
    uint8_t status = (uint8_t)test_virtio_read(d, VM_STATUS);
    if (!(status & VS_FEATURES_OK))
        return status;
    for (unsigned q = 0; q < nr_queues; q++)
        setup_queue(d, q, num, ring_base + (uint64_t)q * TEST_VIRTQ_STRIDE);
    test_virtio_write(d, VM_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK);
    return (uint8_t)test_virtio_read(d, VM_STATUS);
}

static void put_desc(uint8_t *at, const TestVirtioBuf *buf, uint16_t flags, uint16_t next)
{
    memcpy(at, &buf->addr, 8);
    memcpy(at + 8, &buf->len, 4);
    flags |= buf->device_writes ? 2 : 0;
    memcpy(at + 12, &flags, 2);
    memcpy(at + 14, &next, 2);
}

uint16_t test_virtio_add(TestVirtioDriver *d, unsigned q, const TestVirtioBuf *bufs,
                         unsigned n, uint64_t indirect_at)
{
    TestVirtq *vq = &d->q[q];
    uint8_t *ram = d->b->ram_ptr;
    uint16_t head = vq->next_desc;
    if (indirect_at) {
        for (unsigned i = 0; i < n; i++)
            put_desc(ram + indirect_at + 16 * i, &bufs[i], i + 1 < n ? 1 : 0, (uint16_t)(i + 1));
        TestVirtioBuf table = { .addr = indirect_at, .len = 16 * n };
        put_desc(ram + vq->desc + 16 * head, &table, 4, 0);
        vq->next_desc = (uint16_t)((head + 1) % vq->num);
    } else {
        for (unsigned i = 0; i < n; i++) {
            uint16_t at = vq->next_desc, next = (uint16_t)((at + 1) % vq->num);
            put_desc(ram + vq->desc + 16 * at, &bufs[i], i + 1 < n ? 1 : 0, next);
            vq->next_desc = next;
        }
    }
    memcpy(ram + vq->avail + 4 + 2 * (vq->avail_idx % vq->num), &head, 2);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    vq->avail_idx++;
    memcpy(ram + vq->avail + 2, &vq->avail_idx, 2);
    return head;
}

void test_virtio_kick(TestVirtioDriver *d, unsigned q)
{
    test_virtio_write(d, VM_QUEUE_NOTIFY, q);
}

bool test_virtio_used(TestVirtioDriver *d, unsigned q, uint32_t *id, uint32_t *len)
{
    TestVirtq *vq = &d->q[q];
    uint8_t *ram = d->b->ram_ptr;
    uint16_t idx;
    memcpy(&idx, ram + vq->used + 2, 2);
    if (idx == vq->used_seen)
        return false;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    const uint8_t *e = ram + vq->used + 4 + 8 * (vq->used_seen % vq->num);
    memcpy(id, e, 4);
    memcpy(len, e + 4, 4);
    vq->used_seen++;
    return true;
}

uint32_t test_virtio_config(TestVirtioDriver *d, uint32_t off, unsigned size)
{
    uint64_t a = d->base + VM_CONFIG + off;
    AddressSpace *as = &d->b->as;
    switch (size) {
    case 1:  return address_space_ldub(as, a, MEMTXATTRS_UNSPECIFIED, NULL);
    case 2:  return address_space_lduw_le(as, a, MEMTXATTRS_UNSPECIFIED, NULL);
    default: return address_space_ldl_le(as, a, MEMTXATTRS_UNSPECIFIED, NULL);
    }
}

/* ---- disk images -------------------------------------------------------------------- */

uint8_t test_image_byte(uint64_t offset)
{
    uint64_t x = (offset + 1) * 0x9E3779B97F4A7C15ULL;
    return (uint8_t)(x >> 56 ^ x >> 29);
}

void test_image_create(char path[TEST_PATH_MAX], uint64_t size)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, TEST_PATH_MAX, "%s/xendm-image-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t chunk[4096];
    for (uint64_t off = 0; off < size; off += sizeof(chunk)) {
        size_t n = size - off < sizeof(chunk) ? size - off : sizeof(chunk);
        for (size_t i = 0; i < n; i++)
            chunk[i] = test_image_byte(off + i);
        assert_int_equal(pwrite(fd, chunk, n, (off_t)off), (ssize_t)n);
    }
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
}

void test_file_read(const char *path, uint64_t offset, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)offset), (ssize_t)len);
    close(fd);
}

void test_assert_file_bytes(const char *path, uint64_t offset, uint64_t len, int fill)
{
    uint8_t *buf = malloc(len);
    test_file_read(path, offset, buf, len);
    for (uint64_t i = 0; i < len; i++) {
        int want = fill >= 0 ? fill : test_image_byte(offset + i);
        if (buf[i] != want)
            fail_msg("byte %" PRIu64 " of %s is %u, not %d", offset + i, path, buf[i], want);
    }
    free(buf);
}

int test_disk_setup(void **state)
{
    const TestDiskSpec *spec = *state;
    TestDisk *d = calloc(1, sizeof(*d));
    d->aio = spec->aio;
    test_image_create(d->path, spec->size);
    *state = d;
    return 0;
}

int test_disk_teardown(void **state)
{
    TestDisk *d = *state;
    unlink(d->path);
    free(d);
    return 0;
}

void test_direct_io_or_skip(const char *path)
{
    struct statx stx;
    if (statx(AT_FDCWD, path, 0, STATX_DIOALIGN, &stx) < 0 ||
        !(stx.stx_mask & STATX_DIOALIGN) || stx.stx_dio_offset_align)
        return;
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0)
        return;
    close(fd);
    print_message("# '%s' opens with O_DIRECT but statx reports no direct I/O alignment "
                  "(as under qemu-user): cannot test direct I/O\n", path);
    skip();
}

void test_io_uring_or_skip(void)
{
    struct io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc == 0) {
        io_uring_queue_exit(&ring);
        return;
    }
    print_message("# io_uring cannot be set up here (%s, as under qemu-user)\n", strerror(-rc));
    skip();
}

BlockBackend *test_blk_open(const char *path, BlockAio aio, BlockCache cache,
                            unsigned queue_depth)
{
    if (cache == BLOCK_CACHE_NONE)
        test_direct_io_or_skip(path);
    BlockConfig cfg = { .path = path, .aio = aio, .cache = cache,
                        .discard = BLOCK_DISCARD_UNMAP, .queue_depth = queue_depth };
    Error *err = NULL;
    BlockBackend *bb = blk_open(&cfg, &err);
    if (!bb)
        fail_msg("blk_open: %s", error_get_pretty(err));
    return bb;
}

void test_blk_wait(BlockBackend *bb)
{
    struct pollfd pfd = { .fd = blk_completion_fd(bb), .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    while (blk_process_completions(bb, UINT_MAX)) {
    }
}

static void test_blk_request_done(BlockRequest *req, int ret)
{
    TestBlkRequest *t = container_of(req, TestBlkRequest, req);
    t->ret = ret;
    t->done = true;
}

void test_blk_request_init(TestBlkRequest *t, BlockOp op, uint64_t offset, void *buf,
                           uint64_t len)
{
    *t = (TestBlkRequest){ .req = { .op = op, .offset = offset, .len = len,
                                    .done = test_blk_request_done },
                           .iov = { buf, len }, .ret = 1 };
    if (buf) {
        t->req.iov = &t->iov;
        t->req.iovcnt = 1;
    }
}

int test_blk_sync(BlockBackend *bb, const BlockRequest *req)
{
    TestBlkRequest t = { .req = *req, .ret = 1 };
    t.req.done = test_blk_request_done;
    int ret = blk_submit(bb, &t.req);
    if (ret < 0)
        return ret;
    assert_int_equal(blk_kick(bb), 0);
    while (!t.done)
        test_blk_wait(bb);
    return t.ret;
}

int test_blk_io(BlockBackend *bb, BlockOp op, uint64_t offset, void *buf, uint64_t len)
{
    TestBlkRequest t;
    test_blk_request_init(&t, op, offset, buf, len);
    return test_blk_sync(bb, &t.req);
}
