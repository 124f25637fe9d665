/*
 * Unit tests for mockxen's KVM guest (tools/mockxen/kvm_vcpu.c): a few instructions of
 * real x86 code run under KVM on a domain model, against a fake backend that records
 * every ioreq and answers like a device model (including DMA into guest RAM). Each test
 * is skipped, saying why, where /dev/kvm does not work.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/mockxen/kvm_guest.h"

#define GUEST_RAM_MB  64
#define STATUS_GPA    0x40010     /* the test guest exits with the dword stored here */
#define MAX_REQS      16

/*
 * The test guest (32-bit code at MX_KVM_LOAD_ADDR):
 *   out 0x3f8 <- 0x41 (byte); ax <- in 0x3f8 (word); out 0x80 <- ax
 *   rep insb from 0x3f8, 4 bytes to 0x40000 (forwards); out 0x84 <- dword at 0x40000
 *   MMIO write 0x12345678 to 0xe0000000; eax <- MMIO read 0xe0000004; out 0x88 <- eax
 *   timer port 0x502 <- 7, then <- 0; exit port 0x501 <- dword at STATUS_GPA; hlt
 */
static const uint8_t test_guest[] = {
    0x66, 0xba, 0xf8, 0x03,                         /* mov $0x3f8, %dx */
    0xb0, 0x41,                                     /* mov $0x41, %al */
    0xee,                                           /* out %al, (%dx) */
    0x66, 0xed,                                     /* in (%dx), %ax */
    0x66, 0xba, 0x80, 0x00,                         /* mov $0x80, %dx */
    0x66, 0xef,                                     /* out %ax, (%dx) */
    0xbf, 0x00, 0x00, 0x04, 0x00,                   /* mov $0x40000, %edi */
    0xb9, 0x04, 0x00, 0x00, 0x00,                   /* mov $4, %ecx */
    0x66, 0xba, 0xf8, 0x03,                         /* mov $0x3f8, %dx */
    0xfc,                                           /* cld */
    0xf3, 0x6c,                                     /* rep insb */
    0xa1, 0x00, 0x00, 0x04, 0x00,                   /* mov 0x40000, %eax */
    0x66, 0xba, 0x84, 0x00,                         /* mov $0x84, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0xc7, 0x05, 0x00, 0x00, 0x00, 0xe0,
    0x78, 0x56, 0x34, 0x12,                         /* movl $0x12345678, 0xe0000000 */
    0xa1, 0x04, 0x00, 0x00, 0xe0,                   /* mov 0xe0000004, %eax */
    0x66, 0xba, 0x88, 0x00,                         /* mov $0x88, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0x66, 0xba, 0x02, 0x05,                         /* mov $0x502, %dx */
    0xb8, 0x07, 0x00, 0x00, 0x00,                   /* mov $7, %eax */
    0xef,                                           /* out %eax, (%dx) */
    0x31, 0xc0,                                     /* xor %eax, %eax */
    0xef,                                           /* out %eax, (%dx) */
    0xa1, 0x10, 0x00, 0x04, 0x00,                   /* mov STATUS_GPA, %eax */
    0x66, 0xba, 0x01, 0x05,                         /* mov $0x501, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0xf4,                                           /* hlt */
};

/* A string read backwards: rep insb of 4 bytes from 0x3f8 to 0x40103 down to 0x40100
 * with DF set; out 0x84 <- dword at 0x40100; exit 0. */
static const uint8_t backwards_guest[] = {
    0xbf, 0x03, 0x01, 0x04, 0x00,                   /* mov $0x40103, %edi */
    0xb9, 0x04, 0x00, 0x00, 0x00,                   /* mov $4, %ecx */
    0x66, 0xba, 0xf8, 0x03,                         /* mov $0x3f8, %dx */
    0xfd,                                           /* std */
    0xf3, 0x6c,                                     /* rep insb */
    0xfc,                                           /* cld */
    0xa1, 0x00, 0x01, 0x04, 0x00,                   /* mov 0x40100, %eax */
    0x66, 0xba, 0x84, 0x00,                         /* mov $0x84, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0x31, 0xc0,                                     /* xor %eax, %eax */
    0x66, 0xba, 0x01, 0x05,                         /* mov $0x501, %dx */
    0xef,                                           /* out %eax, (%dx) */
};

/* Reads the MSI port twice, sending each answer out to ports 0x84 and 0x88; exit 0. */
static const uint8_t msi_guest[] = {
    0x66, 0xba, 0x03, 0x05,                         /* mov $0x503, %dx */
    0xed,                                           /* in (%dx), %eax */
    0x66, 0xba, 0x84, 0x00,                         /* mov $0x84, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0x66, 0xba, 0x03, 0x05,                         /* mov $0x503, %dx */
    0xed,                                           /* in (%dx), %eax */
    0x66, 0xba, 0x88, 0x00,                         /* mov $0x88, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0x31, 0xc0,                                     /* xor %eax, %eax */
    0x66, 0xba, 0x01, 0x05,                         /* mov $0x501, %dx */
    0xef,                                           /* out %eax, (%dx) */
};

/*
 * mockxen's own ports and the parameter page: out 0x84 <- the first parameter's first
 * value (dword at 0x9f028); out 0x88 <- the clock (in 0x502); sleep 20000 us (0x505);
 * out 0x8c <- the clock; print the string at PRINT_GPA (0x504); exit 0.
 */
#define PRINT_GPA 0x40020
static const uint8_t own_ports_guest[] = {
    0xa1, 0x28, 0xf0, 0x09, 0x00,                   /* mov 0x9f028, %eax */
    0x66, 0xba, 0x84, 0x00,                         /* mov $0x84, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0x66, 0xba, 0x02, 0x05,                         /* mov $0x502, %dx */
    0xed,                                           /* in (%dx), %eax */
    0x66, 0xba, 0x88, 0x00,                         /* mov $0x88, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0x66, 0xba, 0x05, 0x05,                         /* mov $0x505, %dx */
    0xb8, 0x20, 0x4e, 0x00, 0x00,                   /* mov $20000, %eax */
    0xef,                                           /* out %eax, (%dx) */
    0x66, 0xba, 0x02, 0x05,                         /* mov $0x502, %dx */
    0xed,                                           /* in (%dx), %eax */
    0x66, 0xba, 0x8c, 0x00,                         /* mov $0x8c, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0xb8, 0x20, 0x00, 0x04, 0x00,                   /* mov $PRINT_GPA, %eax */
    0x66, 0xba, 0x04, 0x05,                         /* mov $0x504, %dx */
    0xef,                                           /* out %eax, (%dx) */
    0x31, 0xc0,                                     /* xor %eax, %eax */
    0x66, 0xba, 0x01, 0x05,                         /* mov $0x501, %dx */
    0xef,                                           /* out %eax, (%dx) */
};

typedef struct Fake {
    MxDomain *d;
    MxKvmGuest *g;
    char image_path[64];
    ioreq_t reqs[MAX_REQS];
    unsigned nreqs;
    const char *timed_name;
    uint64_t timed_iterations;
    unsigned msis;                  /* MSIs the fake device model has injected */
    unsigned msi_waits;
    char printed[MX_KVM_PRINT_MAX];
} Fake;

/* The fake device model: records, answers reads, and for a string read DMAs element i
 * = 'a' + i (bytes) into guest RAM the way Xen defines it: at data + i, or data - i
 * with df. */
static int fake_ioreq(void *opaque, unsigned vcpu, ioreq_t *req, unsigned flags, Error **errp)
{
    Fake *f = opaque;
    assert_int_equal(vcpu, 0);
    assert_int_equal(flags, 0);
    assert_true(f->nreqs < MAX_REQS);
    f->reqs[f->nreqs++] = *req;
    if (req->dir != IOREQ_READ)
        return 0;
    if (req->data_is_ptr) {
        assert_int_equal(req->size, 1);
        for (uint32_t i = 0; i < req->count; i++)
            f->d->ram[req->df ? req->data - i : req->data + i] = 'a' + i;
    } else
        req->data = req->type == IOREQ_TYPE_COPY ? 0xcafef00d : 0xbeef;
    return 0;
}

static void fake_report_time(void *opaque, unsigned vcpu, const char *name, const char *goal,
                             uint64_t iterations, uint64_t total_ns)
{
    Fake *f = opaque;
    f->timed_name = name;
    f->timed_iterations = iterations;
}

/* Any-MSI waits only: each takes one of f->msis (data 0x4040 + its number). */
static int fake_wait_irq(void *opaque, unsigned vcpu, const GuestIrq *irq,
                         uint64_t timeout_ns, GuestMsi *msi, Error **errp)
{
    Fake *f = opaque;
    assert_int_equal(irq->kind, GUEST_IRQ_MSI);
    assert_false(irq->match_data || irq->match_addr);
    assert_int_equal(timeout_ns, GUEST_DEFAULT_IRQ_TIMEOUT_NS);
    if (f->msi_waits == f->msis) {
        error_setg(errp, "no MSI");
        return -ETIMEDOUT;
    }
    *msi = (GuestMsi){ .addr = 0xfee00000, .data = 0x4040 + f->msi_waits++ };
    return 0;
}

static void fake_print(void *opaque, unsigned vcpu, const char *text)
{
    Fake *f = opaque;
    assert_int_equal(vcpu, 0);
    snprintf(f->printed, sizeof(f->printed), "%s", text);
}

static const GuestBackendOps fake_ops = {
    .ioreq = fake_ioreq,
    .wait_irq = fake_wait_irq,
    .print = fake_print,
    .report_time = fake_report_time,
};

static void write_image(Fake *f, const void *bytes, size_t len)
{
    snprintf(f->image_path, sizeof(f->image_path), "/tmp/kvm-guest-XXXXXX");
    int fd = mkstemp(f->image_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    close(fd);
}

static int setup(void **state)
{
    Fake *f = calloc(1, sizeof(*f));
    MxDomainConfig cfg = { .domid = 1, .nr_vcpus = 1,
                           .max_gfn = ((uint64_t)GUEST_RAM_MB << (20 - MX_PAGE_SHIFT)) - 1 };
    f->d = mx_domain_create(&cfg, NULL, NULL);
    assert_non_null(f->d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fake *f = *state;
    if (f->image_path[0])
        unlink(f->image_path);
    mx_kvm_guest_destroy(f->g);
    mx_domain_destroy(f->d);
    free(f);
    return 0;
}

/* Create the KVM guest, or skip the test saying why KVM is unavailable. */
static void create_or_skip(Fake *f)
{
    Error *err = NULL;
    f->g = mx_kvm_guest_create(&err);
    if (!f->g) {
        assert_non_null(strstr(error_get_pretty(err), "KVM unavailable: "));
        print_message("# %s\n", error_get_pretty(err));
        error_free(err);
        skip();
    }
}

static void assert_req(const ioreq_t *r, uint8_t type, uint8_t dir, uint64_t addr,
                       uint32_t size, uint64_t data)
{
    assert_int_equal(r->type, type);
    assert_int_equal(r->dir, dir);
    assert_int_equal(r->addr, addr);
    assert_int_equal(r->size, size);
    assert_int_equal(r->data, data);
}

static void test_exits_become_ioreqs(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    write_image(f, test_guest, sizeof(test_guest));
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, NULL), 0);
    Error *err = NULL;
    int rc = mx_kvm_guest_run(f->g, f->d, &fake_ops, f, &err);
    if (rc)
        fail_msg("run: %s", error_get_pretty(err));

    assert_int_equal(f->nreqs, 8);          /* timer and exit ports never reach the DM */
    assert_req(&f->reqs[0], IOREQ_TYPE_PIO, IOREQ_WRITE, 0x3f8, 1, 0x41);
    assert_req(&f->reqs[1], IOREQ_TYPE_PIO, IOREQ_READ, 0x3f8, 2, 0);   /* as sent */
    assert_req(&f->reqs[2], IOREQ_TYPE_PIO, IOREQ_WRITE, 0x80, 2, 0xbeef);   /* answer seen */
    assert_req(&f->reqs[3], IOREQ_TYPE_PIO, IOREQ_READ, 0x3f8, 1, 0x40000);
    assert_int_equal(f->reqs[3].data_is_ptr, 1);
    assert_int_equal(f->reqs[3].count, 4);
    assert_int_equal(f->reqs[3].df, 0);
    /* what the fake DMA'd into RAM is what the guest read back */
    assert_req(&f->reqs[4], IOREQ_TYPE_PIO, IOREQ_WRITE, 0x84, 4, 0x64636261);
    assert_req(&f->reqs[5], IOREQ_TYPE_COPY, IOREQ_WRITE, 0xe0000000, 4, 0x12345678);
    assert_req(&f->reqs[6], IOREQ_TYPE_COPY, IOREQ_READ, 0xe0000004, 4, 0);
    assert_req(&f->reqs[7], IOREQ_TYPE_PIO, IOREQ_WRITE, 0x88, 4, 0xcafef00d);
    for (unsigned i = 0; i < f->nreqs; i++)
        assert_int_equal(f->reqs[i].count, i == 3 ? 4 : 1);

    assert_string_equal(f->timed_name, "kvm-guest");
    assert_int_equal(f->timed_iterations, 7);
    /* the loader populated the low RAM the DM needs to map for string I/O */
    assert_true(mx_domain_is_populated(f->d, 0x40));
    assert_true(mx_domain_is_populated(f->d, 0x9f));
    assert_false(mx_domain_is_populated(f->d, 0xa0));
}

static void test_string_read_backwards(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    write_image(f, backwards_guest, sizeof(backwards_guest));
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, NULL), 0);
    Error *err = NULL;
    int rc = mx_kvm_guest_run(f->g, f->d, &fake_ops, f, &err);
    if (rc)
        fail_msg("run: %s", error_get_pretty(err));
    assert_int_equal(f->nreqs, 2);
    assert_req(&f->reqs[0], IOREQ_TYPE_PIO, IOREQ_READ, 0x3f8, 1, 0x40103);
    assert_int_equal(f->reqs[0].data_is_ptr, 1);
    assert_int_equal(f->reqs[0].df, 1);
    assert_int_equal(f->reqs[0].count, 4);
    /* element 0 ('a') at 0x40103 down to element 3 ('d') at 0x40100 */
    assert_req(&f->reqs[1], IOREQ_TYPE_PIO, IOREQ_WRITE, 0x84, 4, 0x61626364);
}

static void test_string_buffer_outside_ram_fails(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    static const uint8_t to_mmio[] = {
        0xbf, 0x00, 0x00, 0x00, 0xe0,               /* mov $0xe0000000, %edi */
        0xb9, 0x04, 0x00, 0x00, 0x00,               /* mov $4, %ecx */
        0x66, 0xba, 0xf8, 0x03,                     /* mov $0x3f8, %dx */
        0xf3, 0x6c,                                 /* rep insb */
    };
    write_image(f, to_mmio, sizeof(to_mmio));
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, NULL), 0);
    Error *err = NULL;
    assert_int_equal(mx_kvm_guest_run(f->g, f->d, &fake_ops, f, &err), -EFAULT);
    assert_non_null(strstr(error_get_pretty(err), "string I/O on port 0x3f8: buffer "
                                                  "0xe0000000 (4 x 1 bytes) is not guest RAM"));
    error_free(err);
    assert_int_equal(f->nreqs, 0);
}

static void test_nonzero_exit_status_fails(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    write_image(f, test_guest, sizeof(test_guest));
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, NULL), 0);
    memcpy(f->d->ram + STATUS_GPA, "\x05\x00\x00\x00", 4);
    Error *err = NULL;
    assert_int_equal(mx_kvm_guest_run(f->g, f->d, &fake_ops, f, &err), -EPROTO);
    assert_string_equal(error_get_pretty(err),
                        "KVM guest exit status 5 (port 0x501): Protocol error");
    error_free(err);
}

/* The MSI port: a read takes the next MSI and gives its data, all ones if none came. */
static void test_msi_port(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    write_image(f, msi_guest, sizeof(msi_guest));
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, NULL), 0);
    f->msis = 1;
    Error *err = NULL;
    if (mx_kvm_guest_run(f->g, f->d, &fake_ops, f, &err))
        fail_msg("%s", error_get_pretty(err));
    assert_int_equal(f->nreqs, 2);                      /* the MSI port is mockxen's */
    assert_req(&f->reqs[0], IOREQ_TYPE_PIO, IOREQ_WRITE, 0x84, 4, 0x4040);
    assert_req(&f->reqs[1], IOREQ_TYPE_PIO, IOREQ_WRITE, 0x88, 4, 0xffffffff);
}

/* The parameter page, the clock, the sleep and the print port never reach the DM. */
static void test_own_ports_and_params(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    write_image(f, own_ports_guest, sizeof(own_ports_guest));
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, NULL), 0);
    assert_int_equal(mx_kvm_guest_add_param(f->g, "depth=0x1234abcd,7", NULL), 0);
    memcpy(f->d->ram + PRINT_GPA, "result x 5", 11);
    Error *err = NULL;
    if (mx_kvm_guest_run(f->g, f->d, &fake_ops, f, &err))
        fail_msg("%s", error_get_pretty(err));
    assert_int_equal(f->nreqs, 3);
    assert_req(&f->reqs[0], IOREQ_TYPE_PIO, IOREQ_WRITE, 0x84, 4, 0x1234abcd);
    uint32_t slept_us = (uint32_t)f->reqs[2].data - (uint32_t)f->reqs[1].data;
    assert_true(slept_us >= 20000 && slept_us < 10000000);
    assert_string_equal(f->printed, "result x 5");
    /* the terminator follows the one parameter */
    assert_memory_equal(f->d->ram + MX_KVM_PARAM_ADDR, "depth", 6);
    for (unsigned i = sizeof(MxKvmParam); i < 2 * sizeof(MxKvmParam); i++)
        assert_int_equal(f->d->ram[MX_KVM_PARAM_ADDR + i], 0);
}

/* A print of something that is not a string in RAM fails the run, saying where. */
static void test_print_outside_ram_fails(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    write_image(f, own_ports_guest, sizeof(own_ports_guest));
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, NULL), 0);
    memset(f->d->ram + PRINT_GPA, 'x', MX_KVM_PRINT_MAX);     /* no NUL in 256 bytes */
    Error *err = NULL;
    assert_int_equal(mx_kvm_guest_run(f->g, f->d, &fake_ops, f, &err), -EFAULT);
    assert_non_null(strstr(error_get_pretty(err), "print port 0x504: no NUL-terminated "
                                                  "string of at most 255 bytes in guest "
                                                  "RAM at 0x40020"));
    error_free(err);
    assert_string_equal(f->printed, "");
}

static void test_halt_fails_with_rip(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    static const uint8_t halt[] = { 0x90, 0xf4 };      /* nop; hlt */
    write_image(f, halt, sizeof(halt));
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, NULL), 0);
    Error *err = NULL;
    assert_int_equal(mx_kvm_guest_run(f->g, f->d, &fake_ops, f, &err), -EFAULT);
    assert_non_null(strstr(error_get_pretty(err), "halted at rip 0x10002 without writing "
                                                  "the exit port 0x501"));
    error_free(err);
    assert_int_equal(f->nreqs, 0);
}

static void test_bad_images_rejected(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    Error *err = NULL;
    assert_int_equal(mx_kvm_guest_run(f->g, f->d, &fake_ops, f, &err), -EINVAL);
    assert_string_equal(error_get_pretty(err), "KVM guest run without an image: "
                                               "Invalid argument");
    error_free(err);
    err = NULL;
    assert_int_equal(mx_kvm_guest_load_image(f->g, "/nonexistent/guest.bin", &err), -ENOENT);
    assert_non_null(strstr(error_get_pretty(err), "/nonexistent/guest.bin"));
    error_free(err);

    write_image(f, "", 0);
    err = NULL;
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "0 bytes, must be 1..458752"));
    error_free(err);
    unlink(f->image_path);

    uint8_t *big = calloc(1, MX_KVM_IMAGE_MAX + 1);
    write_image(f, big, MX_KVM_IMAGE_MAX + 1);
    free(big);
    err = NULL;
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, &err), -EFBIG);
    assert_non_null(strstr(error_get_pretty(err), "458753 bytes"));
    error_free(err);
}

static void test_domain_too_small(void **state)
{
    Fake *f = *state;
    create_or_skip(f);
    write_image(f, test_guest, sizeof(test_guest));
    assert_int_equal(mx_kvm_guest_load_image(f->g, f->image_path, NULL), 0);
    MxDomainConfig cfg = { .domid = 2, .nr_vcpus = 1, .max_gfn = 0x7f };   /* 512 KiB */
    MxDomain *small = mx_domain_create(&cfg, NULL, NULL);
    assert_non_null(small);
    Error *err = NULL;
    assert_int_equal(mx_kvm_guest_run(f->g, small, &fake_ops, f, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "needs at least 0xa0000 bytes of RAM, the "
                                                  "domain has 0x80000"));
    error_free(err);
    mx_domain_destroy(small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exits_become_ioreqs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_read_backwards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_buffer_outside_ram_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonzero_exit_status_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msi_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_ports_and_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_outside_ram_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_halt_fails_with_rip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_images_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_too_small, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
