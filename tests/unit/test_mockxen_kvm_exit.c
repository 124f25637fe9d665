/*
 * Unit tests for the KVM exit <-> ioreq translation of mockxen's KVM guest
 * (tools/mockxen/kvm_exit.c), on a struct kvm_run in ordinary memory: no /dev/kvm.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/kvm_guest.h"
#include "util/macros.h"

#define RUN_SIZE    8192            /* like KVM_GET_VCPU_MMAP_SIZE: two pages */
#define DATA_OFFSET 4096
#define RFLAGS_DF   (1ull << 10)

typedef struct Fixture {
    struct kvm_run *run;
    uint8_t *data;                  /* the run area's I/O data */
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    f->run = calloc(1, RUN_SIZE);
    f->data = (uint8_t *)f->run + DATA_OFFSET;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    free(f->run);
    free(f);
    return 0;
}

static void set_io(Fixture *f, uint8_t direction, uint8_t size, uint16_t port, uint32_t count)
{
    f->run->exit_reason = KVM_EXIT_IO;
    f->run->io.direction = direction;
    f->run->io.size = size;
    f->run->io.port = port;
    f->run->io.count = count;
    f->run->io.data_offset = DATA_OFFSET;
}

static void set_mmio(Fixture *f, uint64_t addr, uint32_t len, bool is_write)
{
    f->run->exit_reason = KVM_EXIT_MMIO;
    f->run->mmio.phys_addr = addr;
    f->run->mmio.len = len;
    f->run->mmio.is_write = is_write;
}

/* ---- port I/O ------------------------------------------------------------------------ */

static void test_out_sizes(void **state)
{
    Fixture *f = *state;
    static const uint8_t sizes[] = { 1, 2, 4 };
    for (unsigned i = 0; i < sizeof(sizes); i++) {
        set_io(f, KVM_EXIT_IO_OUT, sizes[i], 0x3f8, 1);
        memcpy(f->data, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
        ioreq_t req;
        memset(&req, 0xee, sizeof(req));
        assert_int_equal(mx_kvm_io_to_ioreq(f->run, RUN_SIZE, NULL, &req, NULL), 0);
        assert_int_equal(req.type, IOREQ_TYPE_PIO);
        assert_int_equal(req.addr, 0x3f8);
        assert_int_equal(req.size, sizes[i]);
        assert_int_equal(req.count, 1);
        assert_int_equal(req.dir, IOREQ_WRITE);
        assert_int_equal(req.data_is_ptr, 0);
        assert_int_equal(req.df, 0);
        assert_int_equal(req.state, 0);
        uint64_t expect = 0x8877665544332211ull & ((1ull << (8 * sizes[i])) - 1);
        assert_int_equal(req.data, expect);
    }
}

static void test_in_single_completes_size_bytes(void **state)
{
    Fixture *f = *state;
    set_io(f, KVM_EXIT_IO_IN, 2, 0xcfc, 1);
    ioreq_t req;
    assert_int_equal(mx_kvm_io_to_ioreq(f->run, RUN_SIZE, NULL, &req, NULL), 0);
    assert_int_equal(req.dir, IOREQ_READ);
    assert_int_equal(req.data, 0);
    memset(f->data, 0xaa, 8);
    req.data = 0x12345678;          /* the device model's answer, wider than the access */
    mx_kvm_io_complete(f->run, &req, NULL);
    assert_memory_equal(f->data, "\x78\x56\xaa\xaa", 4);
}

static void test_out_single_needs_no_completion(void **state)
{
    Fixture *f = *state;
    set_io(f, KVM_EXIT_IO_OUT, 1, 0x80, 1);
    f->data[0] = 0x42;
    ioreq_t req;
    assert_int_equal(mx_kvm_io_to_ioreq(f->run, RUN_SIZE, NULL, &req, NULL), 0);
    req.data = 0xff;
    mx_kvm_io_complete(f->run, &req, NULL);
    assert_int_equal(f->data[0], 0x42);
}

static void test_string_in_forward(void **state)
{
    Fixture *f = *state;
    set_io(f, KVM_EXIT_IO_IN, 2, 0x3ff, 4);
    MxKvmStringBuf buf = { .gpa = 0x40000, .df = false };
    ioreq_t req;
    assert_int_equal(mx_kvm_io_to_ioreq(f->run, RUN_SIZE, &buf, &req, NULL), 0);
    assert_int_equal(req.data_is_ptr, 1);
    assert_int_equal(req.data, 0x40000);
    assert_int_equal(req.count, 4);
    assert_int_equal(req.size, 2);
    assert_int_equal(req.df, 0);
    assert_int_equal(req.dir, IOREQ_READ);
    /* the device model wrote elements 0..3 upwards from gpa */
    const uint8_t ram[] = { 0x00, 0x01, 0x10, 0x11, 0x20, 0x21, 0x30, 0x31 };
    memset(f->data, 0xee, 16);
    mx_kvm_io_complete(f->run, &req, ram);
    assert_memory_equal(f->data, ram, sizeof(ram));
    assert_int_equal(f->data[8], 0xee);
}

static void test_string_in_backward(void **state)
{
    Fixture *f = *state;
    set_io(f, KVM_EXIT_IO_IN, 2, 0x3ff, 3);
    MxKvmStringBuf buf = { .gpa = 0x40004, .df = true };
    ioreq_t req;
    assert_int_equal(mx_kvm_io_to_ioreq(f->run, RUN_SIZE, &buf, &req, NULL), 0);
    assert_int_equal(req.data_is_ptr, 1);
    assert_int_equal(req.data, 0x40004);
    assert_int_equal(req.df, 1);
    /* RAM from the lowest address 0x40000: element 2, element 1, element 0 */
    const uint8_t ram[] = { 0x20, 0x21, 0x10, 0x11, 0x00, 0x01 };
    mx_kvm_io_complete(f->run, &req, ram);
    /* KVM wants the elements in I/O order: element 0 first, bytes kept in order */
    assert_memory_equal(f->data, "\x00\x01\x10\x11\x20\x21", 6);
}

static void test_string_out_is_data_is_ptr(void **state)
{
    Fixture *f = *state;
    set_io(f, KVM_EXIT_IO_OUT, 1, 0x3f8, 5);
    memcpy(f->data, "hello", 5);
    MxKvmStringBuf buf = { .gpa = 0x20000, .df = false };
    ioreq_t req;
    assert_int_equal(mx_kvm_io_to_ioreq(f->run, RUN_SIZE, &buf, &req, NULL), 0);
    assert_int_equal(req.data_is_ptr, 1);
    assert_int_equal(req.data, 0x20000);
    assert_int_equal(req.count, 5);
    assert_int_equal(req.dir, IOREQ_WRITE);
    mx_kvm_io_complete(f->run, &req, NULL);       /* writes complete without data */
    assert_memory_equal(f->data, "hello", 5);
}

static void expect_bad_io(Fixture *f, const MxKvmStringBuf *buf, size_t run_size)
{
    Error *err = NULL;
    ioreq_t req;
    assert_int_equal(mx_kvm_io_to_ioreq(f->run, run_size, buf, &req, &err), -EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(error_get_pretty(err), "malformed KVM I/O exit: port 0x"));
    error_free(err);
}

static void test_malformed_io_rejected(void **state)
{
    Fixture *f = *state;
    MxKvmStringBuf buf = { .gpa = 0x1000 };
    static const uint8_t bad_sizes[] = { 0, 3, 8, 16 };
    for (unsigned i = 0; i < sizeof(bad_sizes); i++) {
        set_io(f, KVM_EXIT_IO_OUT, bad_sizes[i], 0x80, 1);
        expect_bad_io(f, &buf, RUN_SIZE);
    }
    set_io(f, KVM_EXIT_IO_IN, 1, 0x80, 0);                  /* count 0 */
    expect_bad_io(f, &buf, RUN_SIZE);
    set_io(f, KVM_EXIT_IO_IN, 4, 0x80, 1025);               /* data runs off the area */
    expect_bad_io(f, &buf, RUN_SIZE);
    set_io(f, KVM_EXIT_IO_IN, 4, 0x80, 1024);               /* exactly fits */
    ioreq_t req;
    assert_int_equal(mx_kvm_io_to_ioreq(f->run, RUN_SIZE, &buf, &req, NULL), 0);
    set_io(f, KVM_EXIT_IO_IN, 4, 0x80, 0xffffffff);         /* size * count far past the area */
    expect_bad_io(f, &buf, RUN_SIZE);
    set_io(f, KVM_EXIT_IO_IN, 1, 0x80, 1);
    f->run->io.data_offset = RUN_SIZE + 1;                  /* offset beyond the area */
    expect_bad_io(f, &buf, RUN_SIZE);
    set_io(f, KVM_EXIT_IO_IN, 1, 0x80, 2);                  /* string I/O without a buffer */
    expect_bad_io(f, NULL, RUN_SIZE);
}

/* ---- MMIO ---------------------------------------------------------------------------- */

static void test_mmio_write_sizes(void **state)
{
    Fixture *f = *state;
    static const uint8_t sizes[] = { 1, 2, 4, 8 };
    for (unsigned i = 0; i < sizeof(sizes); i++) {
        set_mmio(f, 0xfebf0010, sizes[i], true);
        memcpy(f->run->mmio.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
        ioreq_t req;
        assert_int_equal(mx_kvm_mmio_to_ioreq(f->run, &req, NULL), 0);
        assert_int_equal(req.type, IOREQ_TYPE_COPY);
        assert_int_equal(req.addr, 0xfebf0010);
        assert_int_equal(req.size, sizes[i]);
        assert_int_equal(req.count, 1);
        assert_int_equal(req.dir, IOREQ_WRITE);
        assert_int_equal(req.data_is_ptr, 0);
        uint64_t expect = 0x0807060504030201ull;
        if (sizes[i] < 8)
            expect &= (1ull << (8 * sizes[i])) - 1;
        assert_int_equal(req.data, expect);
    }
}

static void test_mmio_read_sizes(void **state)
{
    Fixture *f = *state;
    static const uint8_t sizes[] = { 1, 2, 4, 8 };
    for (unsigned i = 0; i < sizeof(sizes); i++) {
        set_mmio(f, 0xe0000000, sizes[i], false);
        ioreq_t req;
        assert_int_equal(mx_kvm_mmio_to_ioreq(f->run, &req, NULL), 0);
        assert_int_equal(req.dir, IOREQ_READ);
        assert_int_equal(req.data, 0);
        memset(f->run->mmio.data, 0xcc, 8);
        req.data = 0x1122334455667788ull;
        mx_kvm_mmio_complete(f->run, &req);
        const uint8_t le[8] = { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
        assert_memory_equal(f->run->mmio.data, le, sizes[i]);
        for (unsigned b = sizes[i]; b < 8; b++)
            assert_int_equal(f->run->mmio.data[b], 0xcc);
    }
}

static void test_mmio_odd_length_rejected(void **state)
{
    Fixture *f = *state;
    static const uint32_t lens[] = { 0, 3, 5, 16 };
    for (unsigned i = 0; i < ARRAY_SIZE(lens); i++) {
        set_mmio(f, 0xfebf0001, lens[i], i & 1);
        Error *err = NULL;
        ioreq_t req;
        assert_int_equal(mx_kvm_mmio_to_ioreq(f->run, &req, &err), -EINVAL);
        assert_non_null(strstr(error_get_pretty(err), "at 0xfebf0001"));
        error_free(err);
    }
}

/* ---- string buffer address ------------------------------------------------------------ */

static struct kvm_sregs flat_sregs(bool db, bool l)
{
    struct kvm_sregs s;
    memset(&s, 0, sizeof(s));
    s.cs.db = db;
    s.cs.l = l;
    s.es.base = 0x100000;
    s.ds.base = 0x200000;
    return s;
}

static void test_string_linear_in_uses_es_edi(void **state)
{
    struct kvm_sregs s = flat_sregs(true, false);
    struct kvm_regs r = { .rdi = 0x100001234ull, .rsi = 0x5678, .rflags = 2 };
    bool df = true;
    assert_int_equal(mx_kvm_string_linear(&r, &s, true, 16, 1, &df), 0x100000 + 0x1234);
    assert_false(df);
    r.rflags |= RFLAGS_DF;                  /* ins is not yet stepped: no adjustment */
    assert_int_equal(mx_kvm_string_linear(&r, &s, true, 16, 4, &df), 0x101234);
    assert_true(df);
}

static void test_string_linear_out_unsteps_esi(void **state)
{
    struct kvm_sregs s = flat_sregs(true, false);
    bool df;
    /* outs has stepped ESI past `count` elements already */
    struct kvm_regs r = { .rsi = 0x20005, .rflags = 2 };
    assert_int_equal(mx_kvm_string_linear(&r, &s, false, 1, 1, &df), 0x200000 + 0x20004);
    assert_false(df);
    assert_int_equal(mx_kvm_string_linear(&r, &s, false, 2, 2, &df), 0x200000 + 0x20001);
    r.rflags |= RFLAGS_DF;                  /* backwards: ESI went down */
    r.rsi = 0x2000b;
    assert_int_equal(mx_kvm_string_linear(&r, &s, false, 1, 1, &df), 0x200000 + 0x2000c);
    assert_true(df);
}

static void test_string_linear_address_size(void **state)
{
    bool df;
    struct kvm_regs r = { .rdi = 0xabcd1234ull, .rsi = 0x10000, .rflags = 2 };
    struct kvm_sregs s16 = flat_sregs(false, false);
    assert_int_equal(mx_kvm_string_linear(&r, &s16, true, 1, 1, &df), 0x100000 + 0x1234);
    /* 16-bit SI wraps below zero when un-stepped */
    assert_int_equal(mx_kvm_string_linear(&r, &s16, false, 1, 1, &df), 0x200000 + 0xffff);
    struct kvm_sregs s64 = flat_sregs(false, true);
    r.rdi = 0x123456789ull;
    /* 64-bit code: full RDI, and the ES base does not count */
    assert_int_equal(mx_kvm_string_linear(&r, &s64, true, 1, 1, &df), 0x123456789ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_out_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_single_completes_size_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_single_needs_no_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_in_forward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_in_backward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_out_is_data_is_ptr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_io_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmio_write_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmio_read_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmio_odd_length_rejected, setup, teardown),
        cmocka_unit_test(test_string_linear_in_uses_es_edi),
        cmocka_unit_test(test_string_linear_out_unsteps_esi),
        cmocka_unit_test(test_string_linear_address_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
