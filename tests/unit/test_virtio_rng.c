/*
 * Unit tests for the virtio entropy device on virtio-mmio (devices/virtio_mmio.c,
 * devices/virtqueue.c, devices/virtio_rng.c): a driver written here probes the
 * registers, negotiates features, lays out a split queue in guest RAM and posts
 * buffers; the device fills them, publishes them in the used ring and interrupts.
 * A hostile driver (loops, bad indices, runaway avail index, indirect descriptors,
 * buffers outside RAM, rings over the device's own registers, bad queue layouts)
 * makes the device need a reset: never a crash nor re-entry, and a reset brings it
 * back.
 */
#include "tests/unit/support.h"

#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "devices/virtio.h"
#include "util/log.h"
#include "util/macros.h"

#define RAM_SIZE  0x100000u
#define BASE      0x10000000u
#define IRQ       5
#define DESC      0x1000u
#define AVAIL     0x2000u
#define USED      0x3000u
#define BUF       0x10000u

enum { MAGIC = 0x000, VERSION = 0x004, DEVICE_ID = 0x008, DEV_FEATURES = 0x010,
       DEV_FEATURES_SEL = 0x014, DRV_FEATURES = 0x020, DRV_FEATURES_SEL = 0x024,
       QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034, QUEUE_NUM = 0x038, QUEUE_READY = 0x044,
       QUEUE_NOTIFY = 0x050, INT_STATUS = 0x060, INT_ACK = 0x064, STATUS = 0x070,
       DESC_LOW = 0x080, DRIVER_LOW = 0x090, DEVICE_LOW = 0x0a0 };
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 64 };
enum { F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4 };

typedef struct Fixture {
    TestBoard b;
    Device *dev;
    uint16_t avail_idx, num;
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    test_board_init(&f->b, RAM_SIZE);
    Error *err = NULL;
    f->dev = device_create(&f->b.board, "virtio-rng,addr=0x10000000,irq=5", &err);
    assert_null(err);
    assert_non_null(f->dev);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    device_destroy(f->dev);
    test_board_fini(&f->b);
    free(f);
    return 0;
}

static uint32_t rd(Fixture *f, hwaddr reg)
{
    return address_space_ldl_le(&f->b.as, BASE + reg, MEMTXATTRS_UNSPECIFIED, NULL);
}

static void wr(Fixture *f, hwaddr reg, uint32_t val)
{
    address_space_stl_le(&f->b.as, BASE + reg, val, MEMTXATTRS_UNSPECIFIED, NULL);
}

static void put_desc(Fixture *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    uint8_t *d = f->b.ram_ptr + DESC + 16 * i;
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

/* Put head in the avail ring and kick the queue. */
static void post(Fixture *f, uint16_t head)
{
    memcpy(f->b.ram_ptr + AVAIL + 4 + 2 * (f->avail_idx % f->num), &head, 2);
    f->avail_idx++;
    memcpy(f->b.ram_ptr + AVAIL + 2, &f->avail_idx, 2);
    wr(f, QUEUE_NOTIFY, 0);
}

static uint16_t used_idx(Fixture *f)
{
    uint16_t v;
    memcpy(&v, f->b.ram_ptr + USED + 2, 2);
    return v;
}

static void used_elem(Fixture *f, unsigned i, uint32_t *id, uint32_t *len)
{
    memcpy(id, f->b.ram_ptr + USED + 4 + 8 * i, 4);
    memcpy(len, f->b.ram_ptr + USED + 4 + 8 * i + 4, 4);
}

/* What a driver does (virtio 1.x, 3.1.1) up to DRIVER_OK with one queue of num. */
static void driver_init(Fixture *f, uint16_t num)
{
    memset(f->b.ram_ptr, 0, 0x4000);
    f->avail_idx = 0;
    f->num = num;
    wr(f, STATUS, 0);
    wr(f, STATUS, S_ACK | S_DRIVER);
    wr(f, DRV_FEATURES_SEL, 1);
    wr(f, DRV_FEATURES, 1);                         /* VIRTIO_F_VERSION_1 */
    wr(f, STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    assert_true(rd(f, STATUS) & S_FEATURES_OK);
    wr(f, QUEUE_SEL, 0);
    wr(f, QUEUE_NUM, num);
    wr(f, DESC_LOW, DESC);
    wr(f, DRIVER_LOW, AVAIL);
    wr(f, DEVICE_LOW, USED);
    wr(f, QUEUE_READY, 1);
    wr(f, STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void registers_identify_a_virtio_1_entropy_device(void **state)
{
    Fixture *f = *state;
    assert_int_equal(rd(f, MAGIC), 0x74726976);
    assert_int_equal(rd(f, VERSION), 2);
    assert_int_equal(rd(f, DEVICE_ID), 4);
    wr(f, DEV_FEATURES_SEL, 1);
    assert_int_equal(rd(f, DEV_FEATURES), 1);       /* VERSION_1, nothing else */
    wr(f, DEV_FEATURES_SEL, 0);
    assert_int_equal(rd(f, DEV_FEATURES), 0);
    assert_int_equal(rd(f, QUEUE_NUM_MAX), 64);
    wr(f, QUEUE_SEL, 1);                            /* no such queue */
    assert_int_equal(rd(f, QUEUE_NUM_MAX), 0);
    /* Registers take 32-bit accesses only. */
    assert_int_equal(address_space_ldub(&f->b.as, BASE, MEMTXATTRS_UNSPECIFIED, NULL), 0xff);
}

static void fills_buffers_and_interrupts(void **state)
{
    Fixture *f = *state;
    driver_init(f, 8);
    put_desc(f, 3, BUF, 32, F_WRITE | F_NEXT, 5);
    put_desc(f, 5, BUF + 0x100, 100, F_WRITE, 0);
    post(f, 3);
    uint32_t id, len;
    assert_int_equal(used_idx(f), 1);
    used_elem(f, 0, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, 132);
    assert_false(all_zero(f->b.ram_ptr + BUF, 32));
    assert_false(all_zero(f->b.ram_ptr + BUF + 0x100, 100));
    assert_true(all_zero(f->b.ram_ptr + BUF + 32, 0x100 - 32));  /* nothing past the buffer */
    assert_true(f->b.irqs.isa[IRQ]);
    assert_int_equal(rd(f, INT_STATUS), 1);
    wr(f, INT_ACK, 1);
    assert_false(f->b.irqs.isa[IRQ]);
    /* A second request, with the ring index wrapping past the queue size. */
    for (unsigned k = 0; k < 9; k++) {
        put_desc(f, 0, BUF, 16, F_WRITE, 0);
        post(f, 0);
    }
    assert_int_equal(used_idx(f), 10);
}

static void big_buffers_get_4k_and_readable_ones_nothing(void **state)
{
    Fixture *f = *state;
    driver_init(f, 4);
    put_desc(f, 0, BUF, 0x8000, F_WRITE, 0);
    post(f, 0);
    uint32_t id, len;
    used_elem(f, 0, &id, &len);
    assert_int_equal(len, 4096);
    assert_true(all_zero(f->b.ram_ptr + BUF + 4096, 0x1000));
    memset(f->b.ram_ptr + BUF + 0x9000, 0x5a, 64);
    put_desc(f, 1, BUF + 0x9000, 64, 0, 0);         /* the device may only read it */
    post(f, 1);
    used_elem(f, 1, &id, &len);
    assert_int_equal(id, 1);
    assert_int_equal(len, 0);
    assert_int_equal(f->b.ram_ptr[BUF + 0x9000], 0x5a);
}

static void chains_as_long_as_the_queue_are_taken(void **state)
{
    Fixture *f = *state;
    driver_init(f, 32);
    for (uint16_t i = 0; i < 32; i++)
        put_desc(f, i, BUF + 16 * i, 16, F_WRITE | (i < 31 ? F_NEXT : 0), i + 1);
    post(f, 0);
    uint32_t id, len;
    assert_int_equal(used_idx(f), 1);
    used_elem(f, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 32 * 16);
    assert_false(rd(f, STATUS) & S_NEEDS_RESET);
}

static void driver_may_suppress_interrupts(void **state)
{
    Fixture *f = *state;
    driver_init(f, 4);
    uint16_t no_interrupt = 1;
    memcpy(f->b.ram_ptr + AVAIL, &no_interrupt, 2);
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    post(f, 0);
    assert_int_equal(used_idx(f), 1);
    assert_false(f->b.irqs.isa[IRQ]);
}

static void expect_needs_reset(Fixture *f)
{
    assert_true(rd(f, STATUS) & S_NEEDS_RESET);
    assert_true(rd(f, INT_STATUS) & 2);             /* configuration change */
    assert_true(f->b.irqs.isa[IRQ]);
    /* Ignored from now on ... */
    uint16_t before = used_idx(f);
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    post(f, 0);
    assert_int_equal(used_idx(f), before);
    /* ... until a reset; then it works again. */
    driver_init(f, 4);
    assert_false(rd(f, STATUS) & S_NEEDS_RESET);
    assert_false(f->b.irqs.isa[IRQ]);
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    post(f, 0);
    assert_int_equal(used_idx(f), 1);
}

static void hostile_queues_need_a_reset(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);                      /* each case logs a warning */
    for (int c = 0; c < 9; c++) {
        driver_init(f, 4);
        switch (c) {
        case 8:                                     /* a loop through the whole table */
            driver_init(f, 32);
            for (uint16_t i = 0; i < 32; i++)
                put_desc(f, i, BUF + 16 * i, 16, F_WRITE | F_NEXT, (uint16_t)((i + 1) % 32));
            post(f, 0);
            break;
        case 0:                                     /* a loop */
            put_desc(f, 0, BUF, 8, F_WRITE | F_NEXT, 1);
            put_desc(f, 1, BUF, 8, F_WRITE | F_NEXT, 0);
            post(f, 0);
            break;
        case 1:                                     /* head beyond the queue */
            post(f, 4);
            break;
        case 2:                                     /* next beyond the queue */
            put_desc(f, 0, BUF, 8, F_WRITE | F_NEXT, 200);
            post(f, 0);
            break;
        case 3:                                     /* avail index far ahead */
            f->avail_idx = 100;
            post(f, 0);
            break;
        case 4:                                     /* indirect: not negotiated */
            put_desc(f, 0, BUF, 16, F_INDIRECT, 0);
            post(f, 0);
            break;
        case 5:                                     /* a buffer outside guest RAM */
            put_desc(f, 0, 0xf0000000u, 64, F_WRITE, 0);
            post(f, 0);
            break;
        case 6:                                     /* used ring over its registers */
            wr(f, STATUS, 0);
            wr(f, QUEUE_NUM, 4);
            wr(f, DESC_LOW, DESC);
            wr(f, DRIVER_LOW, AVAIL);
            wr(f, DEVICE_LOW, BASE + QUEUE_NOTIFY - 4);   /* used idx would kick it */
            wr(f, QUEUE_READY, 1);
            wr(f, STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
            put_desc(f, 0, BUF, 8, F_WRITE, 0);
            post(f, 0);
            break;
        case 7:                                     /* rings outside guest RAM */
            wr(f, STATUS, 0);
            wr(f, QUEUE_NUM, 4);
            wr(f, DESC_LOW, 0x7fff0000);
            wr(f, DRIVER_LOW, 0x7fff1000);
            wr(f, DEVICE_LOW, 0x7fff2000);
            wr(f, QUEUE_READY, 1);
            wr(f, STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
            wr(f, QUEUE_NOTIFY, 0);
            break;
        }
        expect_needs_reset(f);
    }
    log_set_level(LOG_WARN);
}

static void queue_layout_and_features_are_checked(void **state)
{
    Fixture *f = *state;
    log_set_level(LOG_SILENT);
    static const struct { uint32_t num, desc; } bad[] = {
        { 3, DESC }, { 128, DESC }, { 0, DESC }, { 4, DESC + 8 },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        wr(f, STATUS, 0);
        wr(f, QUEUE_NUM, bad[i].num);
        wr(f, DESC_LOW, bad[i].desc);
        wr(f, DRIVER_LOW, AVAIL);
        wr(f, DEVICE_LOW, USED);
        wr(f, QUEUE_READY, 1);
        assert_int_equal(rd(f, QUEUE_READY), 0);
        assert_true(rd(f, STATUS) & S_NEEDS_RESET);
    }
    log_set_level(LOG_WARN);
    /* A driver that does not accept VERSION_1 (a legacy driver) does not get
     * FEATURES_OK; nor does one that accepts a feature never offered. */
    wr(f, STATUS, 0);
    wr(f, STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    assert_false(rd(f, STATUS) & S_FEATURES_OK);
    wr(f, STATUS, 0);
    wr(f, DRV_FEATURES_SEL, 1);
    wr(f, DRV_FEATURES, 1 | 2);
    wr(f, STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    assert_false(rd(f, STATUS) & S_FEATURES_OK);
    /* Queue registers are frozen while the queue is ready; notifications before
     * DRIVER_OK are ignored. */
    driver_init(f, 4);
    wr(f, QUEUE_NUM, 2);
    wr(f, STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    put_desc(f, 0, BUF, 8, F_WRITE, 0);
    post(f, 0);
    assert_int_equal(used_idx(f), 0);
    wr(f, STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    wr(f, QUEUE_NOTIFY, 0);
    assert_int_equal(used_idx(f), 1);
}

static void bad_options_are_refused(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;
    assert_null(device_create(&f->b.board, "virtio-rng,addr=0x10000100", &err));
    assert_non_null(strstr(error_get_pretty(err), "not 512-byte aligned"));
    error_free(err);
    err = NULL;
    assert_null(device_create(&f->b.board, "virtio-rng,irq=16", &err));
    assert_non_null(err);
    error_free(err);
    err = NULL;
    Device *second = device_create(&f->b.board, "virtio-rng,addr=0x10000200,irq=6", &err);
    assert_non_null(second);
    assert_int_equal(address_space_ldl_le(&f->b.as, 0x10000200 + DEVICE_ID,
                                          MEMTXATTRS_UNSPECIFIED, NULL), 4);
    device_destroy(second);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(registers_identify_a_virtio_1_entropy_device),
        T(fills_buffers_and_interrupts),
        T(big_buffers_get_4k_and_readable_ones_nothing),
        T(chains_as_long_as_the_queue_are_taken),
        T(driver_may_suppress_interrupts),
        T(hostile_queues_need_a_reset),
        T(queue_layout_and_features_are_checked),
        T(bad_options_are_refused),
    };
    return cmocka_run_group_tests_name("virtio_rng", tests, NULL, NULL);
}
