/*
 * Unit tests for the virtio block device (devices/virtio_blk.c) on virtio-mmio, over a
 * temporary image file, with both I/O engines: a driver (tests/unit/support.c) brings
 * the device up, posts requests and waits for their completions the way xendm's event
 * loop does (poll the device's fd, then let it handle what is ready). Checked: the
 * configuration space and features, every request type, the spec's status for every
 * kind of bad request (and that the file is untouched then), indirect descriptors,
 * several queues, bounded work per notify, a reset with requests in flight, the image
 * lock, and a random model test against a shadow copy of the disk.
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
#include <unistd.h>

#include "devices/device.h"
#include "devices/virtio.h"
#include "util/log.h"
#include "util/macros.h"

#define RAM_SIZE    0x1000000u          /* 16 MiB */
#define BASE        0x10000000u
#define RINGS       0x100000u           /* queue q's rings at RINGS + q * 0x10000 */
#define HDRS        0x200000u           /* request headers, 16 bytes each */
#define STATUS_AT   0x210000u           /* status bytes */
#define DATA        0x400000u           /* data buffers */
#define DISK_BYTES  (4u << 20)          /* 4 MiB image: 8192 sectors */
#define SECTORS     (DISK_BYTES / 512)

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2, S_UNSET = 0xee };
#define F_RO            (1ull << 5)
#define F_FLUSH         (1ull << 9)
#define F_CONFIG_WCE    (1ull << 11)
#define F_MQ            (1ull << 12)
#define F_DISCARD       (1ull << 13)
#define F_WRITE_ZEROES  (1ull << 14)
#define F_INDIRECT      (1ull << 28)
#define F_EVENT_IDX     (1ull << 29)
#define F_ALL (F_FLUSH | F_CONFIG_WCE | F_MQ | F_DISCARD | F_WRITE_ZEROES | F_INDIRECT)

typedef struct Fixture {
    TestBoard b;
    Device *dev;
    TestVirtioDriver d;
    char path[64];
    const char *aio;
    unsigned next_req;              /* header/status slot for the next request */
} Fixture;

static void make_image(Fixture *f)
{
    snprintf(f->path, sizeof(f->path), "/tmp/xendm-test-blk-XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, DISK_BYTES), 0);
    close(fd);
}

static Device *create(Fixture *f, const char *extra, Error **errp)
{
    char spec[256];
    snprintf(spec, sizeof(spec), "virtio-blk,addr=0x%x,irq=6,file=%s,aio=%s%s%s", BASE,
             f->path, f->aio, *extra ? "," : "", extra);
    return device_create(&f->b.board, spec, errp);
}

static int setup_with(void **state, const char *aio, const char *extra)
{
    Fixture *f = calloc(1, sizeof(*f));
    f->aio = aio;
    test_board_init(&f->b, RAM_SIZE);
    make_image(f);
    Error *err = NULL;
    f->dev = create(f, extra, &err);
    if (err)
        fprintf(stderr, "%s\n", error_get_pretty(err));
    assert_null(err);
    assert_non_null(f->dev);
    *state = f;
    return 0;
}

static int setup_uring(void **state) { return setup_with(state, "io_uring", ""); }
static int setup_threads(void **state) { return setup_with(state, "threads", ""); }
static int setup_ro(void **state) { return setup_with(state, "threads", "readonly=on,serial=RO-DISK"); }
static int setup_mq(void **state) { return setup_with(state, "io_uring", "num-queues=4,serial=0123456789abcdefghijXYZ"); }

static int teardown(void **state)
{
    Fixture *f = *state;
    device_destroy(f->dev);
    test_board_fini(&f->b);
    unlink(f->path);
    free(f);
    return 0;
}

/* Replace the fixture's device by one made with more options. */
static void recreate(Fixture *f, const char *extra)
{
    if (f->dev)
        device_destroy(f->dev);
    Error *err = NULL;
    f->dev = create(f, extra, &err);
    assert_null(err);
    assert_non_null(f->dev);
}

static uint8_t start(Fixture *f, uint64_t features, unsigned nr_queues, uint16_t num)
{
    f->next_req = 0;
    return test_virtio_start(&f->d, &f->b, BASE, features, nr_queues, num, RINGS);
}

/* ---- requests ---- */

typedef struct Req {
    uint32_t type;
    uint64_t sector;
    uint64_t data;                  /* guest address of the data (0: none) */
    uint32_t len;
    unsigned slot;
    uint16_t head;
} Req;

/* Post a request as header + data + status buffers on queue q (indirect if asked). */
static void post(Fixture *f, unsigned q, Req *r, bool indirect)
{
    r->slot = f->next_req++ % 4096;
    uint64_t hdr = HDRS + 16ull * (r->slot % 4096), st = STATUS_AT + r->slot;
    uint8_t *ram = f->b.ram_ptr;
    memcpy(ram + hdr, &r->type, 4);
    memset(ram + hdr + 4, 0, 4);
    memcpy(ram + hdr + 8, &r->sector, 8);
    ram[st] = S_UNSET;
    TestVirtioBuf bufs[3];
    unsigned n = 0;
    bufs[n++] = (TestVirtioBuf){ .addr = hdr, .len = 16 };
    if (r->len)
        bufs[n++] = (TestVirtioBuf){ .addr = r->data, .len = r->len,
                                     .device_writes = r->type == T_IN || r->type == T_GET_ID };
    bufs[n++] = (TestVirtioBuf){ .addr = st, .len = 1, .device_writes = true };
    r->head = test_virtio_add(&f->d, q, bufs, n, indirect ? 0x300000 + 0x100ull * r->slot : 0);
}

static uint8_t status_of(Fixture *f, const Req *r)
{
    return f->b.ram_ptr[STATUS_AT + r->slot];
}

/* Serve completions until `n` used entries arrived on queue q (their ids in ids[]). */
static void wait_used(Fixture *f, unsigned q, unsigned n, uint32_t *ids, uint32_t *lens)
{
    unsigned got = 0;
    for (int spins = 0; got < n; spins++) {
        uint32_t id, len;
        while (got < n && test_virtio_used(&f->d, q, &id, &len)) {
            if (ids)
                ids[got] = id;
            if (lens)
                lens[got] = len;
            got++;
        }
        if (got == n)
            break;
        assert_true(spins < 2000);
        if (f->b.board.loop)
            device_work_run(&f->b.work);
        int fd = device_poll_fd(f->dev);
        assert_true(fd >= 0);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, 5);
        Error *err = NULL;
        assert_true(device_handle_readable(f->dev, &err) >= 0);
    }
}

/* One request, start to finish; returns its status, *used_len what the device said. */
static uint8_t run(Fixture *f, unsigned q, uint32_t type, uint64_t sector, uint64_t data,
                   uint32_t len, uint32_t *used_len)
{
    Req r = { .type = type, .sector = sector, .data = data, .len = len };
    post(f, q, &r, false);
    test_virtio_kick(&f->d, q);
    uint32_t id, l;
    wait_used(f, q, 1, &id, &l);
    assert_int_equal(id, r.head);
    if (used_len)
        *used_len = l;
    return status_of(f, &r);
}

static void read_file(Fixture *f, uint64_t off, void *buf, size_t len)
{
    int fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

/* ---- tests ---- */

static void configuration_describes_the_disk(void **state)
{
    Fixture *f = *state;
    f->d = (TestVirtioDriver){ .b = &f->b, .base = BASE };
    uint64_t feat = test_virtio_device_features(&f->d);
    assert_true((feat & F_ALL) == F_ALL);
    assert_true(feat & F_EVENT_IDX);
    assert_false(feat & F_RO);
    assert_int_equal(start(f, F_ALL, 1, 128) & 0x08, 0x08);
    assert_int_equal(test_virtio_config(&f->d, 0, 4), SECTORS);     /* capacity */
    assert_int_equal(test_virtio_config(&f->d, 4, 4), 0);
    assert_int_equal(test_virtio_config(&f->d, 12, 4), 256 - 2);     /* seg_max */
    assert_int_equal(test_virtio_config(&f->d, 20, 4), 512);         /* blk_size */
    assert_int_equal(test_virtio_config(&f->d, 32, 1), 1);           /* writeback */
    assert_int_equal(test_virtio_config(&f->d, 34, 2), 1);           /* num_queues */
    assert_int_equal(test_virtio_config(&f->d, 40, 4), 1);           /* max_discard_seg */
    assert_int_equal(test_virtio_config(&f->d, 60, 4), 0);           /* past the end */
}

static void writes_reach_the_file_and_read_back(void **state)
{
    Fixture *f = *state;
    start(f, F_ALL, 1, 128);
    fill(f->b.ram_ptr + DATA, 8192, 3);
    uint32_t used;
    assert_int_equal(run(f, 0, T_OUT, 16, DATA, 8192, &used), S_OK);
    assert_int_equal(used, 1);
    uint8_t file[8192];
    read_file(f, 16 * 512, file, sizeof(file));
    assert_memory_equal(file, f->b.ram_ptr + DATA, 8192);
    memset(f->b.ram_ptr + DATA + 0x10000, 0, 8192);
    assert_int_equal(run(f, 0, T_IN, 16, DATA + 0x10000, 8192, &used), S_OK);
    assert_int_equal(used, 8192 + 1);
    assert_memory_equal(f->b.ram_ptr + DATA + 0x10000, file, 8192);
    assert_int_equal(run(f, 0, T_FLUSH, 0, 0, 0, NULL), S_OK);
}

static void bad_requests_get_the_spec_status_and_touch_nothing(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    start(f, F_ALL, 1, 128);
    fill(f->b.ram_ptr + DATA, 4096, 9);
    /* Past the end, straddling the end, not whole sectors, data outside RAM. */
    assert_int_equal(run(f, 0, T_OUT, SECTORS, DATA, 512, NULL), S_IOERR);
    assert_int_equal(run(f, 0, T_OUT, SECTORS - 1, DATA, 1024, NULL), S_IOERR);
    assert_int_equal(run(f, 0, T_OUT, 0, DATA, 100, NULL), S_IOERR);
    assert_int_equal(run(f, 0, T_IN, 0, RAM_SIZE + 0x1000, 512, NULL), S_IOERR);
    assert_int_equal(run(f, 0, T_IN, 1ull << 60, DATA, 512, NULL), S_IOERR);
    /* Unknown type; a discard with the unmap flag. */
    assert_int_equal(run(f, 0, 77, 0, 0, 0, NULL), S_UNSUPP);
    uint8_t *seg = f->b.ram_ptr + DATA + 0x8000;
    uint64_t sector = 0;
    uint32_t num = 8, flags = 1;
    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &num, 4);
    memcpy(seg + 12, &flags, 4);
    assert_int_equal(run(f, 0, T_DISCARD, 0, DATA + 0x8000, 16, NULL), S_UNSUPP);
    /* Two segments where one is offered. */
    memcpy(seg + 16, seg, 16);
    flags = 0;
    memcpy(seg + 12, &flags, 4);
    assert_int_equal(run(f, 0, T_DISCARD, 0, DATA + 0x8000, 32, NULL), S_UNSUPP);
    /* The file is still all zeroes. */
    uint8_t file[4096], zero[4096] = { 0 };
    read_file(f, 0, file, sizeof(file));
    assert_memory_equal(file, zero, sizeof(file));
    read_file(f, DISK_BYTES - 4096, file, sizeof(file));
    assert_memory_equal(file, zero, sizeof(file));
    log_set_level(LOG_WARN);
}

static void malformed_chains_are_answered(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    start(f, F_ALL, 1, 128);
    /* A header of 8 bytes: IOERR in the status byte. */
    f->b.ram_ptr[STATUS_AT] = S_UNSET;
    TestVirtioBuf short_hdr[2] = { { .addr = HDRS, .len = 8 },
                                   { .addr = STATUS_AT, .len = 1, .device_writes = true } };
    test_virtio_add(&f->d, 0, short_hdr, 2, 0);
    test_virtio_kick(&f->d, 0);
    uint32_t id, len;
    wait_used(f, 0, 1, &id, &len);
    assert_int_equal(f->b.ram_ptr[STATUS_AT], S_IOERR);
    assert_int_equal(len, 1);
    /* No writable byte at all: returned with nothing written. */
    TestVirtioBuf no_status[1] = { { .addr = HDRS, .len = 16 } };
    test_virtio_add(&f->d, 0, no_status, 1, 0);
    test_virtio_kick(&f->d, 0);
    wait_used(f, 0, 1, &id, &len);
    assert_int_equal(len, 0);
    /* A readable buffer after the writable one: nothing may be written. */
    f->b.ram_ptr[STATUS_AT] = S_UNSET;
    TestVirtioBuf mixed[3] = { { .addr = HDRS, .len = 16 },
                               { .addr = STATUS_AT, .len = 1, .device_writes = true },
                               { .addr = DATA, .len = 512 } };
    test_virtio_add(&f->d, 0, mixed, 3, 0);
    test_virtio_kick(&f->d, 0);
    wait_used(f, 0, 1, &id, &len);
    assert_int_equal(len, 0);
    assert_int_equal(f->b.ram_ptr[STATUS_AT], S_UNSET);
    /* The status byte outside RAM: the driver broke the queue. */
    TestVirtioBuf bad_status[2] = { { .addr = HDRS, .len = 16 },
                                    { .addr = RAM_SIZE + 5, .len = 1, .device_writes = true } };
    memset(f->b.ram_ptr + HDRS, 0, 16);
    uint32_t flush = T_FLUSH;
    memcpy(f->b.ram_ptr + HDRS, &flush, 4);
    test_virtio_add(&f->d, 0, bad_status, 2, 0);
    test_virtio_kick(&f->d, 0);
    for (int i = 0; i < 200 && !(test_virtio_read(&f->d, 0x70) & 64); i++) {
        int fd = device_poll_fd(f->dev);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, 5);
        device_handle_readable(f->dev, NULL);
    }
    assert_true(test_virtio_read(&f->d, 0x70) & 64);             /* DEVICE_NEEDS_RESET */
    /* A reset brings it back. */
    start(f, F_ALL, 1, 128);
    assert_int_equal(run(f, 0, T_FLUSH, 0, 0, 0, NULL), S_OK);
    log_set_level(LOG_WARN);
}

static void discard_and_write_zeroes_clear_the_range(void **state)
{
    Fixture *f = *state;
    start(f, F_ALL, 1, 128);
    fill(f->b.ram_ptr + DATA, 65536, 1);
    assert_int_equal(run(f, 0, T_OUT, 0, DATA, 65536, NULL), S_OK);
    uint8_t *seg = f->b.ram_ptr + DATA + 0x20000;
    for (int unmap = 0; unmap < 2; unmap++) {
        uint64_t sector = 8 + 32 * unmap;
        uint32_t num = 16, flags = (uint32_t)unmap;
        memcpy(seg, &sector, 8);
        memcpy(seg + 8, &num, 4);
        memcpy(seg + 12, &flags, 4);
        assert_int_equal(run(f, 0, T_WRITE_ZEROES, 0, DATA + 0x20000, 16, NULL), S_OK);
    }
    uint32_t zero_flags = 0;
    uint64_t dsector = 96;
    memcpy(seg, &dsector, 8);
    memcpy(seg + 12, &zero_flags, 4);
    assert_int_equal(run(f, 0, T_DISCARD, 0, DATA + 0x20000, 16, NULL), S_OK);
    uint8_t file[65536];
    read_file(f, 0, file, sizeof(file));
    for (unsigned s = 0; s < 128; s++) {
        bool cleared = (s >= 8 && s < 24) || (s >= 40 && s < 56);
        uint8_t expect[512];
        if (cleared)
            memset(expect, 0, 512);
        else
            memcpy(expect, f->b.ram_ptr + DATA + 512 * s, 512);
        if (s >= 96 && s < 112)
            continue;                       /* discarded: contents unspecified */
        assert_memory_equal(file + 512 * s, expect, 512);
    }
}

static void indirect_chains_and_event_idx_work(void **state)
{
    Fixture *f = *state;
    assert_true(start(f, F_ALL | F_EVENT_IDX, 1, 64) & 0x04);
    fill(f->b.ram_ptr + DATA, 4096, 5);
    Req w = { .type = T_OUT, .sector = 100, .data = DATA, .len = 4096 };
    post(f, 0, &w, true);
    test_virtio_kick(&f->d, 0);
    wait_used(f, 0, 1, NULL, NULL);
    assert_int_equal(status_of(f, &w), S_OK);
    Req r = { .type = T_IN, .sector = 100, .data = DATA + 0x10000, .len = 4096 };
    post(f, 0, &r, true);
    test_virtio_kick(&f->d, 0);
    wait_used(f, 0, 1, NULL, NULL);
    assert_memory_equal(f->b.ram_ptr + DATA + 0x10000, f->b.ram_ptr + DATA, 4096);
    /* The device asked to hear of the next entry: avail_event = entries it took. */
    uint16_t avail_event;
    memcpy(&avail_event, f->b.ram_ptr + f->d.q[0].used + 4 + 8 * 64, 2);
    assert_int_equal(avail_event, 2);
}

/* With EVENT_IDX the driver says (used_event) which completion it wants to hear of:
 * after the first (which always interrupts), used_event = 2 lets the second pass
 * silently and the third interrupt. */
static void event_idx_suppresses_interrupts(void **state)
{
    Fixture *f = *state;
    start(f, F_ALL | F_EVENT_IDX, 1, 64);
    uint16_t used_event = 2;
    memcpy(f->b.ram_ptr + f->d.q[0].avail + 4 + 2 * 64, &used_event, 2);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(run(f, 0, T_FLUSH, 0, 0, 0, NULL), S_OK);
        assert_int_equal(f->b.irqs.isa[6], i != 1);
        test_virtio_write(&f->d, 0x064, 1);         /* acknowledge */
    }
}

/* Queues of up to 1024 entries; a ring that wraps past 2^64, or leaves RAM, or a size
 * that is not a power of two, is refused when the driver enables the queue. */
static void ring_extents_are_checked_at_enable(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    recreate(f, "queue-size=1024");
    assert_true(start(f, F_ALL, 1, 1024) & 0x04);
    assert_int_equal(run(f, 0, T_FLUSH, 0, 0, 0, NULL), S_OK);
    static const struct { uint64_t desc, avail, used; uint16_t num; } bad[] = {
        { 0xfffffffffffff000ull, 0x1000, 0x2000, 256 },        /* wraps */
        { 0x1000, 0xffffffffffffff00ull, 0x2000, 256 },
        { RAM_SIZE - 0x800, 0x1000, 0x2000, 256 },              /* runs out of RAM */
        { 0x1000, 0x3000, BASE, 16 },                           /* over the registers */
        { 0x1000, 0x3000, 0x5000, 100 },                        /* not a power of two */
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        test_virtio_start(&f->d, &f->b, BASE, F_ALL, 0, 0, RINGS);
        test_virtio_write(&f->d, 0x030, 0);
        test_virtio_write(&f->d, 0x038, bad[i].num);
        test_virtio_write(&f->d, 0x080, (uint32_t)bad[i].desc);
        test_virtio_write(&f->d, 0x084, (uint32_t)(bad[i].desc >> 32));
        test_virtio_write(&f->d, 0x090, (uint32_t)bad[i].avail);
        test_virtio_write(&f->d, 0x094, (uint32_t)(bad[i].avail >> 32));
        test_virtio_write(&f->d, 0x0a0, (uint32_t)bad[i].used);
        test_virtio_write(&f->d, 0x0a4, (uint32_t)(bad[i].used >> 32));
        test_virtio_write(&f->d, 0x044, 1);
        assert_int_equal(test_virtio_read(&f->d, 0x044), 0);        /* not enabled */
        assert_true(test_virtio_read(&f->d, 0x070) & 64);           /* needs reset */
    }
    log_set_level(LOG_WARN);
}

/* The write cache byte: the driver may turn it off only with CONFIG_WCE negotiated. */
static void write_cache_toggle_needs_config_wce(void **state)
{
    Fixture *f = *state;
    start(f, F_FLUSH, 1, 16);
    address_space_stb(&f->b.as, BASE + 0x100 + 32, 0, MEMTXATTRS_UNSPECIFIED, NULL);
    assert_int_equal(test_virtio_config(&f->d, 32, 1), 1);
    start(f, F_FLUSH | F_CONFIG_WCE, 1, 16);
    address_space_stb(&f->b.as, BASE + 0x100 + 32, 0, MEMTXATTRS_UNSPECIFIED, NULL);
    assert_int_equal(test_virtio_config(&f->d, 32, 1), 0);
    fill(f->b.ram_ptr + DATA, 512, 0x42);
    assert_int_equal(run(f, 0, T_OUT, 3, DATA, 512, NULL), S_OK);   /* a durable write */
    uint8_t file[512];
    read_file(f, 3 * 512, file, sizeof(file));
    assert_memory_equal(file, f->b.ram_ptr + DATA, 512);
    address_space_stb(&f->b.as, BASE + 0x100 + 0, 0xff, MEMTXATTRS_UNSPECIFIED, NULL);
    assert_int_equal(test_virtio_config(&f->d, 0, 4), SECTORS);      /* capacity: read-only */
    assert_int_equal(test_virtio_read(&f->d, 0x0fc), 0);             /* config generation */
    start(f, F_FLUSH | F_CONFIG_WCE, 1, 16);
    assert_int_equal(test_virtio_config(&f->d, 32, 1), 1);           /* reset: back on */
}

/* A host error (here EFBIG: the file may not grow past RLIMIT_FSIZE) is IOERR. */
static void host_errors_are_ioerr(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    start(f, F_ALL, 1, 16);
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = (struct rlimit){ .rlim_cur = 4096, .rlim_max = old.rlim_max };
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    uint8_t st = run(f, 0, T_OUT, 64, DATA, 512, NULL);
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(st, S_IOERR);
    assert_int_equal(run(f, 0, T_OUT, 64, DATA, 512, NULL), S_OK);    /* and then it works */
    log_set_level(LOG_WARN);
}

static void read_only_disks_refuse_writes(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    f->d = (TestVirtioDriver){ .b = &f->b, .base = BASE };
    uint64_t feat = test_virtio_device_features(&f->d);
    assert_true(feat & F_RO);
    assert_false(feat & F_DISCARD);
    start(f, F_FLUSH | F_RO, 1, 16);
    fill(f->b.ram_ptr + DATA, 512, 1);
    assert_int_equal(run(f, 0, T_OUT, 0, DATA, 512, NULL), S_IOERR);
    uint8_t file[512], zero[512] = { 0 };
    read_file(f, 0, file, sizeof(file));
    assert_memory_equal(file, zero, sizeof(file));
    assert_int_equal(run(f, 0, T_IN, 0, DATA, 512, NULL), S_OK);
    uint32_t used;
    assert_int_equal(run(f, 0, T_GET_ID, 0, DATA + 0x1000, 20, &used), S_OK);
    assert_int_equal(used, 21);
    assert_memory_equal(f->b.ram_ptr + DATA + 0x1000, "RO-DISK\0\0\0\0\0\0\0\0\0\0\0\0", 20);
    log_set_level(LOG_WARN);
}

static void several_queues_and_a_long_serial(void **state)
{
    Fixture *f = *state;
    start(f, F_ALL, 4, 32);
    assert_int_equal(test_virtio_config(&f->d, 34, 2), 4);
    for (unsigned q = 0; q < 4; q++) {
        fill(f->b.ram_ptr + DATA + 0x1000 * q, 512, (uint8_t)q);
        assert_int_equal(run(f, q, T_OUT, q, DATA + 0x1000 * q, 512, NULL), S_OK);
    }
    uint8_t file[2048];
    read_file(f, 0, file, sizeof(file));
    for (unsigned q = 0; q < 4; q++)
        assert_memory_equal(file + 512 * q, f->b.ram_ptr + DATA + 0x1000 * q, 512);
    assert_int_equal(run(f, 3, T_GET_ID, 0, DATA + 0x8000, 64, NULL), S_OK);
    assert_memory_equal(f->b.ram_ptr + DATA + 0x8000, "0123456789abcdefghij", 20);
}

/* More requests than one notify takes: the rest waits for a later loop turn. */
static void one_notify_takes_a_bounded_batch(void **state)
{
    Fixture *f = *state;
    test_board_use_loop(&f->b);
    recreate(f, "queue-size=256");
    start(f, F_ALL, 1, 256);
    Req reqs[200];
    for (unsigned i = 0; i < 200; i++) {
        reqs[i] = (Req){ .type = T_OUT, .sector = i, .data = DATA, .len = 512 };
        post(f, 0, &reqs[i], true);
    }
    test_virtio_kick(&f->d, 0);
    assert_true(device_work_pending(&f->b.work));     /* the rest is deferred */
    wait_used(f, 0, 200, NULL, NULL);
    for (unsigned i = 0; i < 200; i++)
        assert_int_equal(status_of(f, &reqs[i]), S_OK);
}

/* Post n writes of 4 KiB (request i at sector 8 * i) on queue 0 and kick once: they
 * are in flight when this returns. */
static void post_writes_in_flight(Fixture *f, Req *reqs, unsigned n, bool indirect)
{
    for (unsigned i = 0; i < n; i++) {
        reqs[i] = (Req){ .type = T_OUT, .sector = 8 * i, .data = DATA, .len = 4096 };
        post(f, 0, &reqs[i], indirect);
    }
    test_virtio_kick(&f->d, 0);
}

/* Every one of reqs was answered OK, and queue 0 holds exactly n new used entries. */
static void assert_all_answered(Fixture *f, const Req *reqs, unsigned n)
{
    uint32_t id, len;
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(status_of(f, &reqs[i]), S_OK);
        assert_true(test_virtio_used(&f->d, 0, &id, &len));
    }
    assert_false(test_virtio_used(&f->d, 0, &id, &len));
}

/* One wake-up of the loop for the device, if its fd turns readable within 20 ms. */
static void serve_once(Fixture *f)
{
    struct pollfd p = { .fd = device_poll_fd(f->dev), .events = POLLIN };
    poll(&p, 1, 20);
    assert_true(device_handle_readable(f->dev, NULL) >= 0);
}

static void reset_with_requests_in_flight(void **state)
{
    Fixture *f = *state;
    start(f, F_ALL, 1, 128);
    Req reqs[32];
    post_writes_in_flight(f, reqs, 32, true);
    test_virtio_write(&f->d, 0x70, 0);              /* reset: waits for them */
    for (unsigned i = 0; i < 32; i++)
        assert_int_equal(status_of(f, &reqs[i]), S_OK);
    /* Nothing is left to complete into the old rings. */
    memset(f->b.ram_ptr + STATUS_AT, S_UNSET, 64);
    serve_once(f);
    for (unsigned i = 0; i < 32; i++)
        assert_int_equal(f->b.ram_ptr[STATUS_AT + reqs[i].slot], S_UNSET);
    start(f, F_ALL, 1, 128);
    assert_int_equal(run(f, 0, T_FLUSH, 0, 0, 0, NULL), S_OK);
}

/* The driver disables the queue (QueueReady 0, read back, as virtio-mmio's driver must
 * to stop using it) with requests in flight, then gives it size 0: the requests have
 * completed into the queue as it was, and nothing later touches it. */
static void disabling_a_queue_with_requests_in_flight(void **state)
{
    Fixture *f = *state;
    start(f, F_ALL, 1, 128);
    Req reqs[16];
    post_writes_in_flight(f, reqs, 16, false);
    test_virtio_write(&f->d, 0x030, 0);             /* QueueSel */
    test_virtio_write(&f->d, 0x044, 0);             /* QueueReady */
    assert_int_equal(test_virtio_read(&f->d, 0x044), 0);
    assert_all_answered(f, reqs, 16);
    test_virtio_write(&f->d, 0x038, 0);             /* QueueNum */
    serve_once(f);
    assert_all_answered(f, reqs, 0);
    assert_int_equal(test_virtio_read(&f->d, 0x070) & 64, 0);     /* no NEEDS_RESET */
}

/* Destroying the device (as xendm does at exit) with requests in flight: they complete
 * into the rings first, while the transport is still there to take them. */
static void destroy_with_requests_in_flight(void **state)
{
    Fixture *f = *state;
    start(f, F_ALL, 1, 128);
    Req reqs[16];
    post_writes_in_flight(f, reqs, 16, false);
    device_destroy(f->dev);
    f->dev = NULL;
    assert_all_answered(f, reqs, 16);
}

static void a_locked_image_is_refused(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;
    Device *second = device_create(&f->b.board, "virtio-blk-pci,file=/nonexistent", &err);
    assert_null(second);
    assert_non_null(err);
    error_free(err);
    err = NULL;
    char spec[160];
    snprintf(spec, sizeof(spec), "virtio-blk,addr=0x20000000,file=%s", f->path);
    second = device_create(&f->b.board, spec, &err);
    assert_null(second);
    assert_non_null(err);
    assert_non_null(strstr(error_get_pretty(err), f->path));
    error_free(err);
}

static void bad_options_are_refused(void **state)
{
    Fixture *f = *state;
    const char *bad[] = { "cache=sometimes", "queue-size=100", "queue-size=2048",
                          "num-queues=0", "num-queues=99", "aio=magic", "readonly=maybe",
                          "discard=yes", "color=blue" };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        Error *err = NULL;
        char spec[200];
        snprintf(spec, sizeof(spec), "virtio-blk,addr=0x20000000,file=%s,%s", f->path, bad[i]);
        assert_null(device_create(&f->b.board, spec, &err));
        assert_non_null(err);
        error_free(err);
    }
    Error *err = NULL;
    assert_null(device_create(&f->b.board, "virtio-blk,addr=0x20000000", &err));
    assert_non_null(strstr(error_get_pretty(err), "file="));
    error_free(err);
}

/* Random reads, writes, flushes, discards and write-zeroes on random queues at random
 * depths, checked against a shadow copy of the disk. */
static void random_requests_match_a_shadow_disk(void **state)
{
    Fixture *f = *state;
    uint64_t rng = test_seed("virtio_blk random");
    test_board_use_loop(&f->b);
    recreate(f, "num-queues=4,queue-size=128");
    start(f, F_ALL, 4, 128);
    uint8_t *shadow = calloc(1, DISK_BYTES);
    uint8_t *ram = f->b.ram_ptr;
    for (unsigned round = 0; round < 150; round++) {
        unsigned q = (unsigned)test_rand_below(&rng, 4), depth = 1 + (unsigned)test_rand_below(&rng, 24);
        Req reqs[24];
        /* Requests in one batch touch disjoint sectors, so their order does not matter. */
        uint64_t next = test_rand_below(&rng, SECTORS / 2);
        for (unsigned i = 0; i < depth; i++) {
            unsigned kind = (unsigned)test_rand_below(&rng, 10);
            uint32_t nsec = 1 + (uint32_t)test_rand_below(&rng, 16);
            if (next + nsec > SECTORS)
                next = 0;
            Req *r = &reqs[i];
            uint64_t buf = DATA + 0x10000ull * i;
            *r = (Req){ .sector = next, .data = buf, .len = nsec * 512 };
            if (kind < 4) {
                r->type = T_OUT;
                for (uint32_t k = 0; k < r->len; k++)
                    ram[buf + k] = (uint8_t)test_rand(&rng);
                memcpy(shadow + next * 512, ram + buf, r->len);
            } else if (kind < 8) {
                r->type = T_IN;
                memset(ram + buf, 0xcc, r->len);
            } else if (kind == 8) {
                r->type = T_FLUSH;
                r->data = 0;
                r->len = 0;
            } else {
                r->type = T_WRITE_ZEROES;
                uint32_t flags = (uint32_t)test_rand_below(&rng, 2);
                memcpy(ram + buf, &next, 8);
                memcpy(ram + buf + 8, &nsec, 4);
                memcpy(ram + buf + 12, &flags, 4);
                r->len = 16;
                memset(shadow + next * 512, 0, nsec * 512);
            }
            next += nsec;
            post(f, q, r, test_rand_below(&rng, 2));
        }
        test_virtio_kick(&f->d, q);
        wait_used(f, q, depth, NULL, NULL);
        for (unsigned i = 0; i < depth; i++) {
            assert_int_equal(status_of(f, &reqs[i]), S_OK);
            if (reqs[i].type == T_IN)
                assert_memory_equal(ram + reqs[i].data, shadow + reqs[i].sector * 512, reqs[i].len);
        }
    }
    uint8_t *file = malloc(DISK_BYTES);
    read_file(f, 0, file, DISK_BYTES);
    assert_memory_equal(file, shadow, DISK_BYTES);
    free(file);
    free(shadow);
}

#define BOTH(fn) cmocka_unit_test_setup_teardown(fn, setup_uring, teardown), \
                 cmocka_unit_test_setup_teardown(fn, setup_threads, teardown)

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        BOTH(configuration_describes_the_disk),
        BOTH(writes_reach_the_file_and_read_back),
        BOTH(bad_requests_get_the_spec_status_and_touch_nothing),
        BOTH(malformed_chains_are_answered),
        BOTH(discard_and_write_zeroes_clear_the_range),
        BOTH(indirect_chains_and_event_idx_work),
        BOTH(event_idx_suppresses_interrupts),
        cmocka_unit_test_setup_teardown(ring_extents_are_checked_at_enable, setup_threads,
                                        teardown),
        cmocka_unit_test_setup_teardown(write_cache_toggle_needs_config_wce, setup_threads,
                                        teardown),
        cmocka_unit_test_setup_teardown(host_errors_are_ioerr, setup_threads, teardown),
        cmocka_unit_test_setup_teardown(read_only_disks_refuse_writes, setup_ro, teardown),
        cmocka_unit_test_setup_teardown(several_queues_and_a_long_serial, setup_mq, teardown),
        BOTH(one_notify_takes_a_bounded_batch),
        BOTH(reset_with_requests_in_flight),
        BOTH(destroy_with_requests_in_flight),
        BOTH(disabling_a_queue_with_requests_in_flight),
        cmocka_unit_test_setup_teardown(a_locked_image_is_refused, setup_threads, teardown),
        cmocka_unit_test_setup_teardown(bad_options_are_refused, setup_threads, teardown),
        BOTH(random_requests_match_a_shadow_disk),
    };
    return cmocka_run_group_tests_name("virtio_blk", tests, NULL, NULL);
}
