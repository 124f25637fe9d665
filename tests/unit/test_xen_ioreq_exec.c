/*
 * Unit tests for xen/ioreq_exec.c: every request shape Xen sends, and hostile ones,
 * against real address spaces (a recording port device, an MMIO device, RAM), and
 * long reps performed in slices bounded in elements and in time (a slow device).
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memory/memory.h"
#include "util/macros.h"
#include "xen/ioreq_exec.h"

#define LOG_MAX 64

typedef struct Recorder {
    unsigned n;
    struct { uint64_t addr, data; unsigned size; bool write; } log[LOG_MAX];
    uint64_t next_read;         /* reads return next_read++ */
    uint64_t total, weighted;   /* every access; sum of (position + 1) * data of writes */
    unsigned delay_us;          /* a slow device: busy for this long per access */
    /* A device that waits for its own work: the write after `hold_after` accesses is
     * refused (MEMTX_RETRY) `holds` times before it is taken. */
    uint64_t hold_after;
    unsigned holds;
} Recorder;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void rec_access(Recorder *r, hwaddr addr, uint64_t data, unsigned size, bool write)
{
    if (r->delay_us) {
        uint64_t until = now_ns() + r->delay_us * 1000ull;
        while (now_ns() < until)
            ;
    }
    r->total++;
    if (write)
        r->weighted += r->total * data;
    if (r->n < LOG_MAX)
        r->log[r->n++] = (typeof(r->log[0])){ addr, data, size, write };
}

static uint64_t rec_read(void *opaque, hwaddr addr, unsigned size)
{
    Recorder *r = opaque;
    uint64_t v = r->next_read++;
    rec_access(r, addr, v, size, false);
    return v;
}

static MemTxResult rec_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    Recorder *r = opaque;
    if (r->holds && r->total == r->hold_after) {
        r->holds--;
        return MEMTX_RETRY;
    }
    rec_access(r, addr, data, size, true);
    return MEMTX_OK;
}

static const MemoryRegionOps rec_ops = {
    .read = rec_read, .write_with_result = rec_write, .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

typedef struct Fixture {
    MemoryRegion sys, io, ram, port_dev, mmio_dev;
    AddressSpace as_mem, as_io;
    Recorder port_rec, mmio_rec;
    IoreqExecCtx ctx;
    int invalidations;
    uint32_t pci_sbdf, pci_reg;
    uint64_t pci_val;
} Fixture;

#define RAM_SIZE   0x10000u
#define PORT_BASE  0x3f8u
#define MMIO_BASE  0xfe000000u

static void on_invalidate(void *opaque)
{
    ((Fixture *)opaque)->invalidations++;
}

static uint64_t pci_read(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size)
{
    Fixture *f = opaque;
    f->pci_sbdf = sbdf;
    f->pci_reg = reg;
    return 0x12345678u;
}

static void pci_write(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size, uint64_t v)
{
    Fixture *f = opaque;
    f->pci_sbdf = sbdf;
    f->pci_reg = reg;
    f->pci_val = v;
}

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    memory_region_init(&f->sys, NULL, "system", UINT64_MAX);
    memory_region_init(&f->io, NULL, "io", 0x10000);
    assert_int_equal(memory_region_init_ram(&f->ram, NULL, "ram", RAM_SIZE, NULL), 0);
    memory_region_init_io(&f->port_dev, NULL, &rec_ops, &f->port_rec, "port-dev", 8);
    memory_region_init_io(&f->mmio_dev, NULL, &rec_ops, &f->mmio_rec, "mmio-dev", 0x1000);
    assert_int_equal(memory_region_add_subregion(&f->sys, 0, &f->ram, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&f->sys, MMIO_BASE, &f->mmio_dev, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&f->io, PORT_BASE, &f->port_dev, NULL), 0);
    assert_int_equal(address_space_init(&f->as_mem, &f->sys, "memory", NULL), 0);
    assert_int_equal(address_space_init(&f->as_io, &f->io, "io", NULL), 0);
    f->ctx = (IoreqExecCtx){ .as_io = &f->as_io, .as_mem = &f->as_mem,
                             .handlers = { .pci_config_read = pci_read,
                                           .pci_config_write = pci_write,
                                           .invalidate = on_invalidate },
                             .handlers_opaque = f };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    address_space_destroy(&f->as_io);
    address_space_destroy(&f->as_mem);
    memory_region_del_subregion(&f->io, &f->port_dev, NULL);
    memory_region_del_subregion(&f->sys, &f->mmio_dev, NULL);
    memory_region_del_subregion(&f->sys, &f->ram, NULL);
    memory_region_finalize(&f->port_dev);
    memory_region_finalize(&f->mmio_dev);
    memory_region_finalize(&f->ram);
    memory_region_finalize(&f->io);
    memory_region_finalize(&f->sys);
    free(f);
    return 0;
}

static ioreq_t req_of(uint8_t type, uint8_t dir, uint64_t addr, uint32_t size, uint32_t count,
                      uint64_t data, bool ptr, bool df)
{
    ioreq_t r = { .addr = addr, .data = data, .count = count, .size = size,
                  .state = STATE_IOREQ_READY, .data_is_ptr = ptr, .dir = dir, .df = df,
                  .type = type };
    return r;
}

static uint8_t *guest(Fixture *f, uint64_t gpa)
{
    return (uint8_t *)memory_region_get_ram_ptr(&f->ram) + gpa;
}

static void pio_every_size(void **state)
{
    Fixture *f = *state;
    static const uint32_t sizes[] = { 1, 2, 4 };
    for (unsigned i = 0; i < 3; i++) {
        f->port_rec.n = 0;
        ioreq_t w = req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE + 4, sizes[i], 1,
                           0x11223344u, false, false);
        assert_int_equal(ioreq_exec(&f->ctx, &w), 0);
        assert_int_equal(f->port_rec.n, 1);
        assert_int_equal(f->port_rec.log[0].addr, 4);
        assert_int_equal(f->port_rec.log[0].size, sizes[i]);
        assert_true(f->port_rec.log[0].write);
        f->port_rec.next_read = 0xab;
        ioreq_t r = req_of(IOREQ_TYPE_PIO, IOREQ_READ, PORT_BASE, sizes[i], 1, 0, false, false);
        assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
        assert_int_equal(r.data, 0xab);
    }
}

static void mmio_every_size(void **state)
{
    Fixture *f = *state;
    static const uint32_t sizes[] = { 1, 2, 4, 8 };
    for (unsigned i = 0; i < 4; i++) {
        f->mmio_rec.n = 0;
        ioreq_t w = req_of(IOREQ_TYPE_COPY, IOREQ_WRITE, MMIO_BASE + 0x10, sizes[i], 1,
                           0x0102030405060708ull, false, false);
        assert_int_equal(ioreq_exec(&f->ctx, &w), 0);
        assert_int_equal(f->mmio_rec.n, 1);
        assert_int_equal(f->mmio_rec.log[0].size, sizes[i]);
        uint64_t mask = sizes[i] == 8 ? ~0ull : (1ull << (8 * sizes[i])) - 1;
        assert_int_equal(f->mmio_rec.log[0].data, 0x0102030405060708ull & mask);
    }
}

static void rep_outsb_from_guest_memory(void **state)
{
    Fixture *f = *state;
    memcpy(guest(f, 0x100), "hello", 5);
    f->port_rec.n = 0;
    ioreq_t r = req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 1, 5, 0x100, true, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(f->port_rec.n, 5);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(f->port_rec.log[i].data, (uint8_t)"hello"[i]);
        assert_int_equal(f->port_rec.log[i].addr, 0);       /* the port does not move */
    }
}

/* A device that cannot take a write yet holds the request (IOREQ_EXEC_WAIT) with the
 * elements before it done; each later call tries the same element again, and the rep
 * goes on from there once the device takes it. Nothing is done twice or skipped. */
static void held_write_waits_and_resumes(void **state)
{
    Fixture *f = *state;
    memcpy(guest(f, 0x100), "hello", 5);
    f->port_rec = (Recorder){ .hold_after = 2, .holds = 3 };
    IoreqRun run = { .req = req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 1, 5, 0x100,
                                   true, false) };
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(ioreq_exec_slice(&f->ctx, &run), IOREQ_EXEC_WAIT);
        assert_int_equal(run.done, 2);
    }
    assert_int_equal(ioreq_exec_slice(&f->ctx, &run), 0);
    assert_int_equal(f->port_rec.n, 5);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(f->port_rec.log[i].data, (uint8_t)"hello"[i]);

    /* A single MMIO write, as a virtio-mmio status write. */
    f->mmio_rec = (Recorder){ .hold_after = 0, .holds = 1 };
    run = (IoreqRun){ .req = req_of(IOREQ_TYPE_COPY, IOREQ_WRITE, MMIO_BASE + 0x70, 4, 1, 0,
                                    false, false) };
    assert_int_equal(ioreq_exec_slice(&f->ctx, &run), IOREQ_EXEC_WAIT);
    assert_int_equal(f->mmio_rec.n, 0);
    assert_int_equal(ioreq_exec_slice(&f->ctx, &run), 0);
    assert_int_equal(f->mmio_rec.n, 1);

    /* Nobody can wait for a buffered write: ioreq_exec drops what is held, and counts. */
    f->mmio_rec = (Recorder){ .hold_after = 0, .holds = 1 };
    ioreq_t w = req_of(IOREQ_TYPE_COPY, IOREQ_WRITE, MMIO_BASE, 4, 1, 7, false, false);
    assert_int_equal(ioreq_exec(&f->ctx, &w), IOREQ_EXEC_WAIT);
    assert_int_equal(f->ctx.dropped, 1);
    assert_int_equal(f->mmio_rec.n, 0);
}

static void rep_outsb_backwards(void **state)
{
    Fixture *f = *state;
    memcpy(guest(f, 0x200), "abc", 3);
    f->port_rec.n = 0;
    /* df: elements at data, data - 1, data - 2 */
    ioreq_t r = req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 1, 3, 0x202, true, true);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(f->port_rec.log[0].data, 'c');
    assert_int_equal(f->port_rec.log[1].data, 'b');
    assert_int_equal(f->port_rec.log[2].data, 'a');
}

static void rep_insw_both_directions(void **state)
{
    Fixture *f = *state;
    f->port_rec.next_read = 0x100;
    ioreq_t r = req_of(IOREQ_TYPE_PIO, IOREQ_READ, PORT_BASE, 2, 3, 0x300, true, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    uint16_t got[3];
    memcpy(got, guest(f, 0x300), sizeof(got));
    assert_int_equal(got[0], 0x100);
    assert_int_equal(got[1], 0x101);
    assert_int_equal(got[2], 0x102);

    f->port_rec.next_read = 0x200;
    r = req_of(IOREQ_TYPE_PIO, IOREQ_READ, PORT_BASE, 2, 3, 0x404, true, true);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    memcpy(got, guest(f, 0x400), sizeof(got));
    assert_int_equal(got[2], 0x200);        /* first element at data */
    assert_int_equal(got[1], 0x201);
    assert_int_equal(got[0], 0x202);
}

static void rep_movs_mmio_to_memory(void **state)
{
    Fixture *f = *state;
    f->mmio_rec.n = 0;
    f->mmio_rec.next_read = 7;
    ioreq_t r = req_of(IOREQ_TYPE_COPY, IOREQ_READ, MMIO_BASE + 0x20, 4, 4, 0x500, true, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(f->mmio_rec.log[i].addr, 0x20 + 4 * i);    /* device side moves */
        uint32_t v;
        memcpy(&v, guest(f, 0x500 + 4 * i), 4);
        assert_int_equal(v, 7 + i);
    }
}

static void rep_movs_backwards_moves_both_sides(void **state)
{
    Fixture *f = *state;
    /* df: element i is device addr - 4i and guest data - 4i, in both directions. */
    f->mmio_rec.n = 0;
    f->mmio_rec.next_read = 0x70;
    ioreq_t r = req_of(IOREQ_TYPE_COPY, IOREQ_READ, MMIO_BASE + 0x2c, 4, 3, 0x60c, true, true);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(f->mmio_rec.log[i].addr, 0x2c - 4 * i);
        uint32_t v;
        memcpy(&v, guest(f, 0x60c - 4 * i), 4);
        assert_int_equal(v, 0x70 + i);
    }
    f->mmio_rec.n = 0;
    r = req_of(IOREQ_TYPE_COPY, IOREQ_WRITE, MMIO_BASE + 0x4c, 4, 3, 0x60c, true, true);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(f->mmio_rec.log[i].addr, 0x4c - 4 * i);
        assert_int_equal(f->mmio_rec.log[i].data, 0x70 + i);
    }
}

static void large_rep_crosses_bounce_chunks(void **state)
{
    Fixture *f = *state;
    for (unsigned i = 0; i < 10000; i++)
        guest(f, 0x1000)[i] = (uint8_t)(i * 7);
    /* 10000 one-byte elements: more than one bounce chunk. The recorder keeps the
     * first 64 accesses. */
    f->port_rec.n = 0;
    ioreq_t r = req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 1, 10000, 0x1000, true, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(f->port_rec.n, LOG_MAX);
    assert_int_equal(f->port_rec.log[LOG_MAX - 1].data, (uint8_t)((LOG_MAX - 1) * 7));
}

/* A rep longer than a page runs a page at a time (what Xen puts in one request), and
 * only the last slice completes it; the elements still arrive once each, in order. */
static void long_rep_runs_in_page_slices(void **state)
{
    Fixture *f = *state;
    uint64_t expect = 0;
    for (unsigned i = 0; i < 10000; i++) {
        guest(f, 0x1000)[i] = (uint8_t)(i * 7);
        expect += (i + 1ull) * (uint8_t)(i * 7);
    }
    IoreqRun run = { .req = req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 1, 10000, 0x1000,
                                   true, false) };
    unsigned slices = 0;
    int ret;
    do {
        uint32_t before = run.done;
        ret = ioreq_exec_slice(&f->ctx, &run);
        slices++;
        assert_true(run.done > before);
        assert_true(run.done - before <= 4096);
        assert_int_equal(f->ctx.handled, ret == 0 ? 1 : 0);
    } while (ret == IOREQ_EXEC_MORE);
    assert_int_equal(ret, 0);
    assert_true(slices >= 3);
    assert_int_equal(f->port_rec.total, 10000);
    assert_int_equal(f->port_rec.weighted, expect);
    assert_int_equal(f->ctx.split, 1);
}

/* Run run to the end, a slice at a time; returns the number of slices, and checks that
 * each slice on this slow device stopped at the first clock check past its budget. */
static unsigned run_slow(Fixture *f, IoreqRun *run)
{
    unsigned slices = 0;
    int ret;
    do {
        uint32_t before = run->done;
        ret = ioreq_exec_slice(&f->ctx, run);
        slices++;
        if (ret == IOREQ_EXEC_MORE)
            assert_int_equal(run->done - before, 64);   /* 64 x 40 us > 500 us */
    } while (ret == IOREQ_EXEC_MORE);
    assert_int_equal(ret, 0);
    return slices;
}

/* rep insw of 150 elements from the slow port into guest memory at data, going down
 * with df: the reads 0x1000, 0x1001, ... land at data, data -/+ 2, ... */
static void slow_rep_insw(Fixture *f, uint64_t data, bool df)
{
    f->port_rec.next_read = 0x1000;
    IoreqRun run = { .req = req_of(IOREQ_TYPE_PIO, IOREQ_READ, PORT_BASE, 2, 150, data,
                                   true, df) };
    assert_int_equal(run_slow(f, &run), 3);
    for (unsigned i = 0; i < 150; i++) {
        uint16_t v;
        memcpy(&v, guest(f, df ? data - 2 * i : data + 2 * i), 2);
        assert_int_equal(v, 0x1000 + i);
    }
}

/* A slow device: the slice ends on time, long before a page, and the partial slices
 * of a read land where they belong in guest memory, in both directions. */
static void slow_device_slices_end_on_time(void **state)
{
    Fixture *f = *state;
    f->port_rec.delay_us = 40;
    slow_rep_insw(f, 0x3000, false);
    slow_rep_insw(f, 0x5000, true);
    assert_int_equal(guest(f, 0x5000 - 2 * 150 + 1)[0], 0);    /* nothing below */
}

/* data_is_ptr = 0 with a count (rep stos to MMIO): sliced too, addresses continue. */
static void slow_immediate_rep_continues_its_addresses(void **state)
{
    Fixture *f = *state;
    f->mmio_rec.delay_us = 40;
    IoreqRun run = { .req = req_of(IOREQ_TYPE_COPY, IOREQ_WRITE, MMIO_BASE + 0x400, 4, 100,
                                   0x5a, false, true) };
    assert_int_equal(run_slow(f, &run), 2);
    assert_int_equal(f->mmio_rec.total, 100);
    assert_int_equal(f->mmio_rec.log[LOG_MAX - 1].addr, 0x400 - 4 * (LOG_MAX - 1));
}

static void hostile_requests_are_refused(void **state)
{
    Fixture *f = *state;
    struct { ioreq_t r; const char *what; } bad[] = {
        { req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 3, 1, 0, false, false), "size 3" },
        { req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 8, 1, 0, false, false), "8-byte port" },
        { req_of(IOREQ_TYPE_COPY, IOREQ_WRITE, MMIO_BASE, 16, 1, 0, false, false), "size 16" },
        { req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, 0x10000, 1, 1, 0, false, false), "port 0x10000" },
        { req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, 0xffff, 2, 1, 0, false, false), "port wraps" },
        { req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 1, 0, 0, false, false), "count 0" },
        { req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 4, 0xffffffffu, 0, true, false),
          "huge count" },
        { req_of(IOREQ_TYPE_COPY, IOREQ_READ, UINT64_MAX - 2, 4, 1, 0, false, false),
          "address wraps" },
        { req_of(IOREQ_TYPE_PIO, IOREQ_READ, PORT_BASE, 4, 4, UINT64_MAX - 8, true, false),
          "buffer wraps" },
        { req_of(IOREQ_TYPE_PIO, IOREQ_READ, PORT_BASE, 4, 4, 8, true, true),
          "buffer wraps below 0" },
        { req_of(42, IOREQ_READ, 0, 4, 1, 0, false, false), "unknown type" },
        { req_of(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, 4095, 4, 1, 0, false, false),
          "config past 4 KiB" },
        { req_of(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, 0x10, 3, 1, 0, false, false),
          "config size 3" },
        { req_of(IOREQ_TYPE_PCI_CONFIG, IOREQ_WRITE, 4096, 0, 1, 0, false, false),
          "config size 0 at 4 KiB" },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        uint64_t rejected = f->ctx.rejected;
        ioreq_t r = bad[i].r;
        if (ioreq_exec(&f->ctx, &r) != -EINVAL)
            fail_msg("%s was accepted", bad[i].what);
        assert_int_equal(f->ctx.rejected, rejected + 1);
        if (r.dir == IOREQ_READ && !r.data_is_ptr)
            assert_int_equal(r.data, UINT64_MAX);
    }
}

static void data_is_ptr_outside_ram_is_harmless(void **state)
{
    Fixture *f = *state;
    /* A buffer in a hole: reads see all ones, writes vanish; nothing crashes. */
    f->port_rec.n = 0;
    ioreq_t r = req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 1, 4, 0x80000000u, true, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(f->port_rec.n, 4);
    assert_int_equal(f->port_rec.log[0].data, 0xff);
    r = req_of(IOREQ_TYPE_PIO, IOREQ_READ, PORT_BASE, 1, 4, 0x80000000u, true, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
}

/* The pointer side of a rep is guest RAM (Xen only hands out RAM there): a pointer at
 * a device's registers must not reach that device, neither read nor written. */
static void data_is_ptr_at_mmio_does_not_reach_the_device(void **state)
{
    Fixture *f = *state;
    f->mmio_rec.n = 0;
    ioreq_t r = req_of(IOREQ_TYPE_PIO, IOREQ_READ, PORT_BASE, 1, 4, MMIO_BASE, true, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);               /* rep insb into MMIO */
    r = req_of(IOREQ_TYPE_PIO, IOREQ_WRITE, PORT_BASE, 1, 4, MMIO_BASE, true, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);               /* rep outsb from MMIO */
    assert_int_equal(f->mmio_rec.n, 0);
}

static void pci_config_timeoffset_invalidate(void **state)
{
    Fixture *f = *state;
    ioreq_t r = req_of(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, (0x18ull << 32) | 0x10, 4, 1, 0,
                       false, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(r.data, 0x12345678u);
    assert_int_equal(f->pci_sbdf, 0x18);
    assert_int_equal(f->pci_reg, 0x10);
    r = req_of(IOREQ_TYPE_PCI_CONFIG, IOREQ_WRITE, (0x18ull << 32) | 0x4, 2, 1, 0xdead0007,
               false, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(f->pci_val, 0x0007);               /* masked to the size */

    r = req_of(IOREQ_TYPE_TIMEOFFSET, IOREQ_WRITE, 0, 8, 1, (uint64_t)-5, false, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(f->ctx.time_offset, -5);

    /* The offset is guest-chosen: it wraps rather than overflow (UBSan would abort). */
    r = req_of(IOREQ_TYPE_TIMEOFFSET, IOREQ_WRITE, 0, 8, 1, (uint64_t)INT64_MAX, false, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(f->ctx.time_offset, (int64_t)((uint64_t)INT64_MAX * 2 - 5));

    r = req_of(IOREQ_TYPE_INVALIDATE, IOREQ_WRITE, 0, 8, 1, 0, false, false);
    assert_int_equal(ioreq_exec(&f->ctx, &r), 0);
    assert_int_equal(f->invalidations, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pio_every_size, setup, teardown),
        cmocka_unit_test_setup_teardown(mmio_every_size, setup, teardown),
        cmocka_unit_test_setup_teardown(rep_outsb_from_guest_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(held_write_waits_and_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(rep_outsb_backwards, setup, teardown),
        cmocka_unit_test_setup_teardown(rep_insw_both_directions, setup, teardown),
        cmocka_unit_test_setup_teardown(rep_movs_mmio_to_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(rep_movs_backwards_moves_both_sides, setup, teardown),
        cmocka_unit_test_setup_teardown(large_rep_crosses_bounce_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(long_rep_runs_in_page_slices, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_device_slices_end_on_time, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_immediate_rep_continues_its_addresses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(hostile_requests_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(data_is_ptr_outside_ram_is_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(data_is_ptr_at_mmio_does_not_reach_the_device, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(pci_config_timeoffset_invalidate, setup, teardown),
    };
    return cmocka_run_group_tests_name("xen_ioreq_exec", tests, NULL, NULL);
}
