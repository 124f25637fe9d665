/*
 * Unit tests for the buffered ioreq ring consumer (xen/ioreq_loop.c): Xen's slot
 * format, 8-byte pairs, a pair whose second half is not yet published, reads (which
 * Xen never buffers), insane ring pointers from a hostile page, and a guest that keeps
 * the ring full while it is drained.
 */
#include "tests/unit/support.h"

#include <stdlib.h>
#include <string.h>

#include "xen/xen-internal.h"

typedef struct Fixture {
    MemoryRegion sys, io, dev;
    AddressSpace as_mem, as_io;
    XenDM *xd;
    buffered_iopage_t *page;
    unsigned writes;
    uint64_t last_addr, last_data;
    unsigned last_size;
    bool xen_canonicalises;     /* act as Xen between two requests (see below) */
    unsigned refills;           /* act as a guest appending a write per write served */
} Fixture;

static void push(Fixture *f, uint8_t dir, uint8_t size_code, uint32_t addr, uint32_t data);

/* What Xen does with HVM_IOREQSRV_BUFIOREQ_ATOMIC while the device model runs: take the
 * same multiple of the slot count off both pointers, atomically as a pair. */
static void canonicalise(buffered_iopage_t *page)
{
    uint32_t n = page->read_pointer / IOREQ_BUFFER_SLOT_NUM;
    page->read_pointer -= n * IOREQ_BUFFER_SLOT_NUM;
    page->write_pointer -= n * IOREQ_BUFFER_SLOT_NUM;
}

static uint64_t dev_read(void *opaque, hwaddr addr, unsigned size)
{
    return 0;
}

static void dev_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    Fixture *f = opaque;
    f->writes++;
    f->last_addr = addr;
    f->last_data = data;
    f->last_size = size;
    if (f->xen_canonicalises)
        canonicalise(f->page);
    if (f->refills > 0) {
        f->refills--;
        push(f, IOREQ_WRITE, 0, 0xa0000, 0x77);
    }
}

static const MemoryRegionOps dev_ops = {
    .read = dev_read, .write = dev_write, .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    memory_region_init(&f->sys, NULL, "system", UINT64_MAX);
    memory_region_init(&f->io, NULL, "io", 0x10000);
    memory_region_init_io(&f->dev, NULL, &dev_ops, f, "vga", 0x20000);
    assert_int_equal(memory_region_add_subregion(&f->sys, 0xa0000, &f->dev, NULL), 0);
    assert_int_equal(address_space_init(&f->as_mem, &f->sys, "memory", NULL), 0);
    assert_int_equal(address_space_init(&f->as_io, &f->io, "io", NULL), 0);
    f->xd = calloc(1, sizeof(*f->xd));
    f->page = aligned_alloc(4096, 4096);
    memset(f->page, 0, 4096);
    f->xd->buffered_page = f->page;
    f->xd->exec.as_mem = &f->as_mem;
    f->xd->exec.as_io = &f->as_io;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    address_space_destroy(&f->as_io);
    address_space_destroy(&f->as_mem);
    memory_region_del_subregion(&f->sys, &f->dev, NULL);
    memory_region_finalize(&f->dev);
    memory_region_finalize(&f->io);
    memory_region_finalize(&f->sys);
    free(f->page);
    free(f->xd);
    free(f);
    return 0;
}

/* Append one slot as Xen does (size code: 0=1, 1=2, 2=4, 3=8). */
static void push(Fixture *f, uint8_t dir, uint8_t size_code, uint32_t addr, uint32_t data)
{
    buf_ioreq_t *b = &f->page->buf_ioreq[f->page->write_pointer % IOREQ_BUFFER_SLOT_NUM];
    memset(b, 0, sizeof(*b));
    b->type = IOREQ_TYPE_COPY;
    b->dir = dir;
    b->size = size_code;
    b->addr = addr;
    b->data = data;
    f->page->write_pointer++;
}

static void writes_are_performed_in_order(void **state)
{
    Fixture *f = *state;
    push(f, IOREQ_WRITE, 2, 0xa0010, 0x11223344);
    push(f, IOREQ_WRITE, 1, 0xa0020, 0xbeef);
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 2);
    assert_int_equal(f->last_addr, 0x20);
    assert_int_equal(f->last_data, 0xbeef);
    assert_int_equal(f->last_size, 2);
    assert_int_equal(f->page->read_pointer, 2);
    assert_int_equal(f->xd->stats.buffered_ioreqs, 2);
}

static void eight_byte_write_takes_two_slots(void **state)
{
    Fixture *f = *state;
    push(f, IOREQ_WRITE, 3, 0xa0100, 0x55667788);
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 0);                 /* high half not published yet */
    assert_int_equal(f->page->read_pointer, 0);
    push(f, IOREQ_WRITE, 3, 0xa0100, 0x11223344);   /* Xen repeats the slot header */
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 1);
    assert_int_equal(f->last_size, 8);
    assert_int_equal(f->last_data, 0x1122334455667788ull);
    assert_int_equal(f->page->read_pointer, 2);
}

static void ring_wraps_around(void **state)
{
    Fixture *f = *state;
    f->page->read_pointer = f->page->write_pointer = IOREQ_BUFFER_SLOT_NUM - 1;
    push(f, IOREQ_WRITE, 0, 0xa0001, 1);
    push(f, IOREQ_WRITE, 0, 0xa0002, 2);
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 2);
    assert_int_equal(f->last_data, 2);
}

static void pointers_canonicalised_by_xen_meanwhile(void **state)
{
    Fixture *f = *state;
    f->page->read_pointer = f->page->write_pointer = 3 * IOREQ_BUFFER_SLOT_NUM + 7;
    push(f, IOREQ_WRITE, 0, 0xa0001, 1);
    push(f, IOREQ_WRITE, 0, 0xa0002, 2);
    push(f, IOREQ_WRITE, 3, 0xa0008, 0x44);     /* an 8-byte pair */
    push(f, IOREQ_WRITE, 3, 0xa0008, 0x55);
    f->xen_canonicalises = true;                /* after each write performed */
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 3);
    assert_int_equal(f->last_data, 0x5500000044ull);
    /* Every slot given back, relative to Xen's current (small) pointers. */
    assert_int_equal(f->page->read_pointer, f->page->write_pointer);
    assert_true(f->page->read_pointer < IOREQ_BUFFER_SLOT_NUM);
    /* The ring keeps working: the next write is performed, nothing is dropped. */
    f->xen_canonicalises = false;
    push(f, IOREQ_WRITE, 0, 0xa0003, 3);
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 4);
    assert_int_equal(f->last_data, 3);
    assert_int_equal(f->xd->stats.bad_ioreqs, 0);
}

static void reads_are_ignored(void **state)
{
    Fixture *f = *state;
    push(f, IOREQ_READ, 2, 0xa0000, 0);
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 0);
    assert_int_equal(f->xd->stats.bad_ioreqs, 1);
    assert_int_equal(f->page->read_pointer, 1);     /* consumed all the same */
}

static void insane_pointers_drop_the_ring(void **state)
{
    Fixture *f = *state;
    f->page->read_pointer = 5;
    f->page->write_pointer = 5 + IOREQ_BUFFER_SLOT_NUM + 1;     /* more than the ring holds */
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 0);
    assert_int_equal(f->xd->stats.bad_ioreqs, 1);
    assert_int_equal(f->page->read_pointer, f->page->write_pointer);
    f->page->read_pointer = 10;
    f->page->write_pointer = 3;                                 /* behind the reader */
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 0);
    assert_int_equal(f->xd->stats.bad_ioreqs, 2);
}

/* Another vCPU appending as fast as the ring is drained must not hold the loop: one
 * call serves what was there when it started, the rest waits for the next call. */
static void drain_stops_at_the_write_pointer_it_found(void **state)
{
    Fixture *f = *state;
    for (unsigned i = 0; i < 3; i++)
        push(f, IOREQ_WRITE, 0, 0xa0000, i);
    f->refills = 1000;
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 3);
    assert_int_equal(f->page->write_pointer - f->page->read_pointer, 3);
    xen_ioreq_drain_buffered(f->xd);
    assert_int_equal(f->writes, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(writes_are_performed_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(eight_byte_write_takes_two_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(ring_wraps_around, setup, teardown),
        cmocka_unit_test_setup_teardown(pointers_canonicalised_by_xen_meanwhile, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reads_are_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(insane_pointers_drop_the_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(drain_stops_at_the_write_pointer_it_found, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("xen_buffered_ring", tests, NULL, NULL);
}
