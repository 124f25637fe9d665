/*
 * Unit tests for mockxen's guest backend (backend.c): the GuestBackendOps the script
 * interpreter calls — the buffered window, guest memory, interrupts, log-dirty and
 * counters — on a domain without a device model.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <string.h>

#include "tools/mockxen/backend.h"
#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/stats.h"
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>

typedef struct Fixture {
    MxStats stats;
    MxDomain *d;
    MxBackend be;
} Fixture;

static int setup(void **state)
{
    static Fixture f;
    MxDomainConfig cfg = { .domid = 1, .nr_vcpus = 1, .max_gfn = 0xfff };
    uint16_t id;
    uint64_t gfn = 1;
    memset(&f, 0, sizeof(f));
    assert_int_equal(mx_stats_create(&f.stats, NULL), 0);
    f.d = mx_domain_create(&cfg, f.stats.page, NULL);
    assert_non_null(f.d);
    assert_int_equal(mx_domain_populate(f.d, &gfn, 1, 0, NULL), 0);
    assert_int_equal(mx_server_create(f.d, HVM_IOREQSRV_BUFIOREQ_ATOMIC, &id, NULL), 0);
    assert_int_equal(mx_server_map_range(f.d, id, XEN_DMOP_IO_RANGE_MEMORY, 0xa0000, 0xbffff, NULL), 0);
    assert_int_equal(mx_server_set_state(f.d, id, true, NULL), 0);
    f.be = (MxBackend){ .d = f.d, .stats = &f.stats, .ioreq_timeout_ms = 100,
                        .buffered_start = 0xa0000, .buffered_end = 0xaffff };
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    mx_domain_destroy(f->d);
    mx_stats_destroy(&f->stats);
    return 0;
}

static void writes_in_the_window_use_the_ring(void **state)
{
    Fixture *f = *state;
    ioreq_t w = { .type = IOREQ_TYPE_COPY, .dir = IOREQ_WRITE, .addr = 0xa0000, .size = 4,
                  .count = 1, .data = 5 };
    assert_int_equal(mx_backend_ops.ioreq(&f->be, 0, &w, 0, NULL), 0);
    assert_int_equal(mx_stats_count(&f->stats, MX_KIND_guest_bufioreq), 1);
    ioreq_t outside = w;
    outside.addr = 0xf0000000;                          /* nobody's: unclaimed */
    assert_int_equal(mx_backend_ops.ioreq(&f->be, 0, &outside, 0, NULL), 0);
    assert_int_equal(mx_stats_count(&f->stats, MX_KIND_guest_unclaimed), 1);
    ioreq_t raw = w;                                    /* raw ioreqs are never buffered */
    raw.state = STATE_IOREQ_READY;
    Error *err = NULL;
    assert_int_equal(mx_backend_ops.ioreq(&f->be, 0, &raw, GUEST_IOREQ_RAW, &err), -ETIMEDOUT);
    error_free(err);
    assert_int_equal(mx_stats_count(&f->stats, MX_KIND_guest_bufioreq), 1);
}

static void memory_irqs_dirty_and_counters(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;
    uint32_t v = 0x1234, r = 0;
    assert_int_equal(mx_backend_ops.mem_write(&f->be, 0, 0x1010, &v, 4, NULL), 0);
    assert_int_equal(mx_backend_ops.mem_read(&f->be, 0, 0x1010, &r, 4, NULL), 0);
    assert_int_equal(r, v);
    assert_int_equal(mx_backend_ops.mem_read(&f->be, 0, 0x2000, &r, 4, &err), -EFAULT);
    error_free(err);

    GuestIrq intx = { .kind = GUEST_IRQ_INTX, .bus = 0, .dev = 3, .intx = 1 };
    MxIrqReq raise = { .kind = MX_IRQ_INTX, .line = XEN_DMOP_PCI_SBDF(0, 0, 3, 1), .level = 1 };
    assert_int_equal(mx_backend_ops.irq_level(&f->be, 0, &intx, NULL), 0);
    assert_int_equal(mx_irq_set(f->d, &raise, NULL), 0);
    assert_int_equal(mx_backend_ops.irq_level(&f->be, 0, &intx, NULL), 1);
    GuestMsi taken = { 0 };
    assert_int_equal(mx_backend_ops.wait_irq(&f->be, 0, &intx, 1000000, &taken, NULL), 0);
    GuestIrq msi = { .kind = GUEST_IRQ_MSI, .match_addr = true, .msi_addr = 0xfee01000 };
    MxIrqReq inject = { .kind = MX_IRQ_MSI, .msi_addr = 0xfee00000, .level = 0x4041 };
    assert_int_equal(mx_irq_set(f->d, &inject, NULL), 0);
    err = NULL;
    assert_int_equal(mx_backend_ops.wait_irq(&f->be, 0, &msi, 1000000, &taken, &err),
                     -ETIMEDOUT);
    error_free(err);
    GuestIrq any_msi = { .kind = GUEST_IRQ_MSI };
    assert_int_equal(mx_backend_ops.irq_level(&f->be, 0, &any_msi, NULL), 1);   /* queued */
    assert_int_equal(mx_backend_ops.irq_level(&f->be, 0, &msi, NULL), 0);       /* no match */
    assert_int_equal(mx_backend_ops.wait_irq(&f->be, 0, &any_msi, 1000000, &taken, NULL), 0);
    assert_int_equal(taken.addr, 0xfee00000);
    assert_int_equal(taken.data, 0x4041);
    assert_int_equal(mx_backend_ops.irq_level(&f->be, 0, &any_msi, NULL), 0);   /* taken */

    unsigned long bm[1] = { 0 };
    assert_int_equal(mx_backend_ops.log_dirty(&f->be, 0, true, NULL), 0);
    assert_int_equal(mx_backend_ops.mem_write(&f->be, 0, 0x1000, &v, 1, NULL), 0);
    assert_int_equal(mx_backend_ops.dirty_bitmap(&f->be, 0, 0, 4, true, bm, NULL), 0);
    assert_int_equal(bm[0], 2);
    assert_int_equal(mx_backend_ops.log_dirty(&f->be, 0, false, NULL), 0);
    err = NULL;
    assert_int_equal(mx_backend_ops.dirty_bitmap(&f->be, 0, 0, 4, false, bm, &err), -EINVAL);
    error_free(err);

    uint64_t n;
    assert_int_equal(mx_backend_ops.counter(&f->be, 0, "guest_unclaimed", &n, NULL), 0);
    assert_int_equal(n, 0);
    err = NULL;
    assert_int_equal(mx_backend_ops.counter(&f->be, 0, "no_such_counter", &n, &err), -ENOENT);
    assert_non_null(strstr(error_get_pretty(err), "no_such_counter"));
    error_free(err);
}

/* An Arm domain: no buffered ring, no port I/O, MMIO one access at a time (no rep, no
 * data pointer), only SPIs; a raised SPI is queued once until the guest takes it, a
 * level of 0 changes nothing (Xen ignores falling edges). */
static void arm_domain_has_mmio_and_spis_only(void **state)
{
    MxStats stats;
    MxDomainConfig cfg = { .domid = 1, .nr_vcpus = 1, .max_gfn = 0xfff, .arch = MX_ARCH_ARM };
    uint16_t id;
    Error *err = NULL;
    assert_int_equal(mx_stats_create(&stats, NULL), 0);
    MxDomain *d = mx_domain_create(&cfg, stats.page, NULL);
    assert_non_null(d);
    assert_int_equal(mx_server_create(d, HVM_IOREQSRV_BUFIOREQ_ATOMIC, &id, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "no buffered ioreq ring"));
    error_free(err);
    assert_int_equal(mx_server_create(d, HVM_IOREQSRV_BUFIOREQ_OFF, &id, NULL), 0);

    MxBackend be = { .d = d, .stats = &stats, .ioreq_timeout_ms = 100 };
    ioreq_t pio = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_READ, .addr = 0x3f8, .size = 1,
                    .count = 1 };
    err = NULL;
    assert_int_equal(mx_backend_ops.ioreq(&be, 0, &pio, 0, &err), -EOPNOTSUPP);
    error_free(err);
    /* MMIO only one access at a time, data inline, as Xen on Arm forwards a data abort */
    ioreq_t rep = { .type = IOREQ_TYPE_COPY, .dir = IOREQ_READ, .addr = 0x2000000,
                    .size = 4, .count = 2 };
    ioreq_t ptr = { .type = IOREQ_TYPE_COPY, .dir = IOREQ_READ, .addr = 0x2000000,
                    .size = 4, .count = 1, .data_is_ptr = 1, .data = 0x1000 };
    err = NULL;
    assert_int_equal(mx_backend_ops.ioreq(&be, 0, &rep, 0, &err), -EOPNOTSUPP);
    assert_non_null(strstr(error_get_pretty(err), "count 2"));
    error_free(err);
    err = NULL;
    assert_int_equal(mx_backend_ops.ioreq(&be, 0, &ptr, 0, &err), -EOPNOTSUPP);
    assert_non_null(strstr(error_get_pretty(err), "data in memory"));
    error_free(err);

    MxIrqReq isa = { .domid = 1, .kind = MX_IRQ_ISA, .line = 5, .level = 1 };
    MxIrqReq spi = { .domid = 1, .kind = MX_IRQ_SPI, .line = 33, .level = 1 };
    MxIrqReq low = spi, below = spi, above = spi;
    low.level = 0;
    below.line = 31;
    above.line = 32 + MX_ARM_NR_SPIS;
    assert_int_equal(mx_irq_req_check(&isa, MX_ARCH_ARM), -EOPNOTSUPP);
    assert_int_equal(mx_irq_req_check(&spi, MX_ARCH_X86), -EOPNOTSUPP);
    assert_int_equal(mx_irq_req_check(&below, MX_ARCH_ARM), -EINVAL);
    assert_int_equal(mx_irq_req_check(&above, MX_ARCH_ARM), -EINVAL);

    GuestIrq g = { .kind = GUEST_IRQ_SPI, .isa = 33 };
    GuestMsi msi;
    assert_int_equal(mx_backend_ops.irq_level(&be, 0, &g, NULL), 0);
    assert_int_equal(mx_irq_set(d, &spi, NULL), 0);
    assert_int_equal(mx_irq_set(d, &spi, NULL), 0);          /* queued once */
    assert_int_equal(mx_irq_set(d, &low, NULL), 0);          /* a fall: ignored */
    assert_int_equal(mx_backend_ops.irq_level(&be, 0, &g, NULL), 1);
    assert_int_equal(mx_backend_ops.wait_irq(&be, 0, &g, 1000000, &msi, NULL), 0);
    assert_int_equal(mx_backend_ops.irq_level(&be, 0, &g, NULL), 0);   /* taken */
    err = NULL;
    assert_int_equal(mx_backend_ops.wait_irq(&be, 0, &g, 1000000, &msi, &err), -ETIMEDOUT);
    error_free(err);
    mx_domain_destroy(d);
    mx_stats_destroy(&stats);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(writes_in_the_window_use_the_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_irqs_dirty_and_counters, setup, teardown),
        cmocka_unit_test(arm_domain_has_mmio_and_spis_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
