/* Unit tests for mockxen's model: rangesets, the domain, ioreq servers, refused ranges,
 * routing between several servers, and the wait for the device models to be ready. */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/mockxen/dm_ready.h"
#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/stats.h"
#include "util/macros.h"
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>
#include <xen/sched.h>

static MxStats stats;

static MxDomain *new_domain(unsigned vcpus)
{
    MxDomainConfig cfg = { .domid = 3, .nr_vcpus = vcpus, .max_gfn = 0xfff };
    Error *err = NULL;
    if (!stats.page)
        assert_int_equal(mx_stats_create(&stats, &err), 0);
    MxDomain *d = mx_domain_create(&cfg, stats.page, &err);
    assert_non_null(d);
    return d;
}

static void rangeset_merges_and_limits(void **state)
{
    static MxRangeSet rs;
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(mx_rangeset_add(&rs, 0x10, 0x1f), 0);
    assert_int_equal(mx_rangeset_add(&rs, 0x20, 0x2f), 0);        /* adjacent: merged */
    assert_int_equal(rs.nr, 1);
    assert_true(mx_rangeset_contains(&rs, 0x10, 0x2f));
    assert_int_equal(mx_rangeset_add(&rs, 0x2f, 0x30), -EEXIST);
    assert_int_equal(mx_rangeset_add(&rs, 5, 4), -EINVAL);
    assert_int_equal(mx_rangeset_remove(&rs, 0x18, 0x19), 0);     /* split */
    assert_int_equal(rs.nr, 2);
    assert_false(mx_rangeset_contains(&rs, 0x17, 0x18));
    assert_int_equal(mx_rangeset_remove(&rs, 0x18, 0x18), -ENOENT);
    assert_int_equal(mx_rangeset_remove(&rs, 0x10, 0x17), 0);
    assert_int_equal(mx_rangeset_remove(&rs, 0x1a, 0x2f), 0);
    assert_int_equal(rs.nr, 0);
    for (unsigned i = 0; i < MX_MAX_RANGES; i++)
        assert_int_equal(mx_rangeset_add(&rs, 4 * i, 4 * i + 2), 0);
    assert_int_equal(mx_rangeset_add(&rs, 0x100000, 0x100001), -ENOMEM);
    assert_int_equal(mx_rangeset_remove(&rs, 4, 4), 0);            /* shrinking frees nothing */
    assert_int_equal(mx_rangeset_add(&rs, 0x100000, 0x100001), -ENOMEM);
    assert_int_equal(mx_rangeset_remove(&rs, 9, 9), -ENOMEM);      /* a split needs a slot */
    assert_int_equal(mx_rangeset_remove(&rs, 0, 2), 0);
    assert_int_equal(mx_rangeset_add(&rs, 0x100000, 0x100001), 0);
    assert_int_equal(mx_rangeset_add(&rs, UINT64_MAX - 1, UINT64_MAX), -ENOMEM);
}

static void domain_memory_and_dirty_log(void **state)
{
    MxDomain *d = new_domain(1);
    Error *err = NULL;
    uint64_t gfns[2] = { 1, 2 }, beyond = 0x1000;
    uint32_t v = 0x11223344, r = 0;
    assert_int_equal(mx_domain_write(d, 0x1000, &v, 4, &err), -EFAULT);
    error_free(err);
    err = NULL;
    assert_int_equal(mx_domain_populate(d, gfns, 2, 0, NULL), 0);
    assert_int_equal(mx_domain_populate(d, &beyond, 1, 0, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "above max_gfn 0xfff"));
    error_free(err);
    assert_int_equal(mx_domain_populate(d, gfns, 1, 1, NULL), -EINVAL);
    assert_int_equal(d->nr_populated, 2);
    assert_int_equal(mx_domain_write(d, 0x1ffe, &v, 4, NULL), 0);   /* spans frames 1-2 */
    assert_int_equal(mx_domain_read(d, 0x1ffe, &r, 4, NULL), 0);
    assert_int_equal(r, v);
    assert_int_equal(mx_domain_read(d, 0x2ffe, &r, 4, NULL), -EFAULT);
    assert_int_equal(mx_domain_read(d, UINT64_MAX - 1, &r, 4, NULL), -EFAULT);

    unsigned long bm[1] = { 0 };
    assert_int_equal(mx_domain_dirty_bitmap(d, 0, 8, false, bm, NULL), -EINVAL);
    mx_domain_set_log_dirty(d, true);
    assert_int_equal(mx_domain_write(d, 0x1000, &v, 1, NULL), 0);
    assert_int_equal(mx_domain_mark_dirty(d, 5, 2, NULL), 0);
    assert_int_equal(mx_domain_mark_dirty(d, 0xfff, 2, NULL), -EINVAL);
    assert_int_equal(mx_domain_dirty_bitmap(d, 0, 8, true, bm, NULL), 0);
    assert_int_equal(bm[0], (1ul << 1) | (3ul << 5));
    bm[0] = 0;
    assert_int_equal(mx_domain_dirty_bitmap(d, 0, 8, false, bm, NULL), 0);
    assert_int_equal(bm[0], 0);

    uint64_t p;
    assert_int_equal(mx_domain_param_set(d, HVM_PARAM_TIMER_MODE, 2, NULL), 0);
    assert_int_equal(mx_domain_param_get(d, HVM_PARAM_TIMER_MODE, &p, NULL), 0);
    assert_int_equal(p, 2);
    assert_int_equal(mx_domain_param_get(d, HVM_NR_PARAMS, &p, NULL), -EINVAL);
    mx_domain_destroy(d);
}

/* decrease_reservation: frames go in order, an unpopulated one stops it (those before
 * stay freed), and a frame populated again reads as zeros. */
static void domain_frames_can_be_given_back(void **state)
{
    MxDomain *d = new_domain(1);
    Error *err = NULL;
    uint64_t gfns[3] = { 1, 2, 3 }, mixed[3] = { 1, 5, 2 };
    uint32_t v = 0xdeadbeef, r = 1;
    assert_int_equal(mx_domain_populate(d, gfns, 3, 0, NULL), 0);
    assert_int_equal(mx_domain_write(d, 0x1000, &v, 4, NULL), 0);
    assert_int_equal(mx_domain_depopulate(d, mixed, 3, 0, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "gfn 0x5 is not populated (1 of 3"));
    error_free(err);
    assert_false(mx_domain_is_populated(d, 1));
    assert_true(mx_domain_is_populated(d, 2));
    assert_int_equal(d->nr_populated, 2);
    assert_int_equal(mx_domain_read(d, 0x1000, &r, 4, NULL), -EFAULT);
    assert_int_equal(mx_domain_depopulate(d, gfns, 1, 1, NULL), -EINVAL);   /* order 1 */
    assert_int_equal(mx_domain_populate(d, gfns, 1, 0, NULL), 0);
    assert_int_equal(mx_domain_read(d, 0x1000, &r, 4, NULL), 0);
    assert_int_equal(r, 0);                                     /* scrubbed */
    mx_domain_destroy(d);
}

/* libxl's layout: RAM below the PCI hole (256 MiB by default, or xl's mmio_hole), the
 * rest from 4 GiB; a 6 GiB domain is populated there and nowhere else. */
static void ram_is_laid_out_and_populated_as_libxl_does(void **state)
{
    const uint64_t mib = 1ull << 20, frame_4g = 1ull << 20;
    MxRamLayout l = mx_ram_layout(MX_ARCH_X86, 64 * mib, MX_DEFAULT_MMIO_HOLE);
    assert_int_equal(l.size[0], 64 * mib);
    assert_int_equal(l.size[1], 0);
    assert_int_equal(l.frames_end, 64 * 256);
    l = mx_ram_layout(MX_ARCH_X86, 3840 * mib, MX_DEFAULT_MMIO_HOLE);
    assert_int_equal(l.size[0], 3840 * mib);
    assert_int_equal(l.size[1], 0);
    l = mx_ram_layout(MX_ARCH_X86, 6144 * mib, 1024 * mib);              /* mmio_hole=1024 */
    assert_int_equal(l.size[0], 3072 * mib);
    assert_int_equal(l.size[1], 3072 * mib);
    assert_int_equal(l.frames_end, frame_4g + 3072 * 256);

    l = mx_ram_layout(MX_ARCH_X86, 6144 * mib, MX_DEFAULT_MMIO_HOLE);
    assert_int_equal(l.size[0], 0xf0000000ull);
    assert_int_equal(l.size[1], 2304 * mib);
    MxDomainConfig cfg = { .domid = 3, .nr_vcpus = 1, .max_gfn = l.frames_end - 1 };
    MxDomain *d = mx_domain_create(&cfg, stats.page, NULL);
    assert_non_null(d);
    assert_int_equal(mx_domain_populate_ram(d, 6144 * mib, MX_DEFAULT_MMIO_HOLE, NULL), 0);
    assert_int_equal(d->nr_populated, 6144 * 256);
    assert_true(mx_domain_is_populated(d, 0));
    assert_true(mx_domain_is_populated(d, 0xeffff));        /* the last frame below the hole */
    assert_false(mx_domain_is_populated(d, 0xf0000));       /* the hole */
    assert_false(mx_domain_is_populated(d, frame_4g - 1));
    assert_true(mx_domain_is_populated(d, frame_4g));
    assert_true(mx_domain_is_populated(d, l.frames_end - 1));
    uint64_t v = 0x1122334455667788, r = 0;
    assert_int_equal(mx_domain_write(d, (l.frames_end << 12) - 8, &v, 8, NULL), 0);
    assert_int_equal(mx_domain_read(d, (l.frames_end << 12) - 8, &r, 8, NULL), 0);
    assert_int_equal(r, v);
    assert_int_equal(mx_domain_read(d, 0xf0000000ull, &r, 8, NULL), -EFAULT);
    mx_domain_destroy(d);

    cfg.max_gfn = frame_4g;                                 /* too small for the high RAM */
    d = mx_domain_create(&cfg, stats.page, NULL);
    assert_non_null(d);
    Error *err = NULL;
    assert_int_equal(mx_domain_populate_ram(d, 6144 * mib, MX_DEFAULT_MMIO_HOLE, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "above max_gfn 0x100000"));
    error_free(err);
    mx_domain_destroy(d);
}

/* An Arm domain's RAM: up to 3 GiB from 1 GiB, the rest from 8 GiB, and nothing below. */
static void arm_ram_is_laid_out_and_populated_as_libxl_does(void **state)
{
    const uint64_t mib = 1ull << 20;
    MxRamLayout l = mx_ram_layout(MX_ARCH_ARM, 16 * mib, MX_DEFAULT_MMIO_HOLE);
    assert_true(l.base[0] == 0x40000000 && l.size[0] == 16 * mib && l.size[1] == 0);
    assert_int_equal(l.frames_end, 0x41000);
    l = mx_ram_layout(MX_ARCH_ARM, 4096 * mib, MX_DEFAULT_MMIO_HOLE);
    assert_true(l.size[0] == 3072 * mib && l.base[1] == 0x200000000 && l.size[1] == 1024 * mib);
    assert_int_equal(l.frames_end, 0x240000);

    MxDomainConfig cfg = { .domid = 3, .nr_vcpus = 1, .max_gfn = 0x40fff, .arch = MX_ARCH_ARM };
    MxDomain *d = mx_domain_create(&cfg, stats.page, NULL);
    assert_non_null(d);
    assert_int_equal(mx_domain_populate_ram(d, 16 * mib, MX_DEFAULT_MMIO_HOLE, NULL), 0);
    assert_int_equal(d->nr_populated, 16 * 256);
    assert_false(mx_domain_is_populated(d, 0));
    assert_false(mx_domain_is_populated(d, 0x3ffff));
    assert_true(mx_domain_is_populated(d, 0x40000));
    assert_true(mx_domain_is_populated(d, 0x40fff));
    mx_domain_destroy(d);
}

static void domain_config_is_checked(void **state)
{
    MxDomainConfig cfg = { .domid = 0, .nr_vcpus = 1, .max_gfn = 0xff };
    Error *err = NULL;
    assert_null(mx_domain_create(&cfg, stats.page, &err));
    error_free(err);
    cfg = (MxDomainConfig){ .domid = 1, .nr_vcpus = MX_MAX_VCPUS + 1, .max_gfn = 0xff };
    err = NULL;
    assert_null(mx_domain_create(&cfg, stats.page, &err));
    assert_non_null(strstr(error_get_pretty(err), "vcpus"));
    error_free(err);
}

static void servers_limit_and_resources(void **state)
{
    MxDomain *d = new_domain(2);
    uint16_t id[MX_MAX_SERVERS], extra;
    for (unsigned i = 0; i < MX_MAX_SERVERS; i++)
        assert_int_equal(mx_server_create(d, i == 0, &id[i], NULL), 0);
    assert_int_equal(mx_server_create(d, 0, &extra, NULL), -ENOSPC);
    assert_int_equal(mx_server_create(d, 3, &extra, NULL), -EINVAL);
    MxResourceReply res;
    assert_int_equal(mx_server_resource(d, id[0], 0, 2, &res, NULL), 0);
    assert_int_equal(res.gfn, d->special_gfn);
    assert_true(mx_domain_is_populated(d, res.gfn + 1));
    assert_int_equal(mx_server_resource(d, id[1], 0, 1, &res, NULL), -EINVAL); /* no ring */
    assert_int_equal(mx_server_resource(d, id[1], 1, 1, &res, NULL), 0);
    assert_int_equal(mx_server_resource(d, id[0], 1, 2, &res, NULL), -EINVAL);
    MxServerInfo info;
    assert_int_equal(mx_server_info(d, id[0], &info, NULL), 0);
    assert_int_equal(info.ioreq_gfn, d->special_gfn + 1);
    assert_int_not_equal(info.bufioreq_port, 0);
    assert_int_not_equal(d->servers[id[0]].ioreq_page->vcpu_ioreq[1].vp_eport, 0);
    assert_int_equal(mx_server_destroy(d, id[2], NULL), 0);
    assert_false(mx_domain_is_populated(d, d->special_gfn + 2 * id[2] + 1));
    assert_int_equal(mx_server_destroy(d, id[2], NULL), -ENOENT);
    assert_int_equal(mx_server_set_state(d, id[2], true, NULL), -ENOENT);
    assert_int_equal(mx_server_map_range(d, id[1], 3, 0, 1, NULL), -EINVAL);
    assert_int_equal(mx_server_map_range(d, id[1], 0, 2, 1, NULL), -EINVAL);
    assert_int_equal(mx_server_unmap_range(d, id[1], 0, 1, 1, NULL), -ENOENT);
    mx_domain_destroy(d);
}

static void refusal_specs_are_checked(void **state)
{
    MxDomainConfig cfg = { .domid = 3, .nr_vcpus = 1, .max_gfn = 0xfff };
    Error *err = NULL;
    assert_int_equal(mx_refusal_add(&cfg, "memory:0xd0000000-0xd0001fff", NULL), 0);
    assert_int_equal(cfg.refusals[0].type, XEN_DMOP_IO_RANGE_MEMORY);
    assert_int_equal(cfg.refusals[0].start, 0xd0000000);
    assert_int_equal(cfg.refusals[0].end, 0xd0001fff);
    assert_int_equal(cfg.refusals[0].err, EPERM);           /* the default */
    assert_int_equal(mx_refusal_add(&cfg, "port:0x3f8-0x3ff:EBUSY", NULL), 0);
    assert_int_equal(cfg.refusals[1].type, XEN_DMOP_IO_RANGE_PORT);
    assert_int_equal(cfg.refusals[1].err, EBUSY);
    assert_int_equal(mx_refusal_add(&cfg, "pci:24-24:28", NULL), 0);
    assert_int_equal(cfg.refusals[2].type, XEN_DMOP_IO_RANGE_PCI);
    assert_int_equal(cfg.refusals[2].err, 28);
    static const char *const bad[] = {
        "mmio:1-2", "memory", "memory:", "memory:5", "memory:2-1", "memory:1-2:",
        "memory:1-2:EWHAT", "memory:-2", "memory:1-", "memory:1:2-3", "memory:x-2",
        "port:1-2:0",
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(mx_refusal_add(&cfg, bad[i], &err), -EINVAL);
        assert_non_null(strstr(error_get_pretty(err), "expected TYPE:START-END[:ERRNO]"));
        error_free(err);
        err = NULL;
    }
    assert_int_equal(cfg.nr_refusals, 3);
    while (cfg.nr_refusals < MX_MAX_REFUSALS)
        assert_int_equal(mx_refusal_add(&cfg, "memory:1-1", NULL), 0);
    assert_int_equal(mx_refusal_add(&cfg, "memory:1-1", &err), -ENOSPC);
    error_free(err);
}

/* A map that touches a refused place fails with its errno, whatever server asks;
 * elsewhere, other types and unmaps are untouched. */
static void refused_ranges_cannot_be_mapped(void **state)
{
    MxDomainConfig cfg = { .domid = 3, .nr_vcpus = 1, .max_gfn = 0xfff };
    assert_int_equal(mx_refusal_add(&cfg, "memory:0xd0000000-0xd0001fff:EBUSY", NULL), 0);
    Error *err = NULL;
    MxDomain *d = mx_domain_create(&cfg, stats.page, &err);
    assert_non_null(d);
    uint16_t id;
    assert_int_equal(mx_server_create(d, 0, &id, NULL), 0);
    const uint32_t mem = XEN_DMOP_IO_RANGE_MEMORY;
    assert_int_equal(mx_server_map_range(d, id, mem, 0xd0000000, 0xd0001fff, &err), -EBUSY);
    assert_string_equal(error_get_pretty(err), "ioreq server 0: map memory range "
                        "[0xd0000000, 0xd0001fff]: refused (--refuse-range): Device or "
                        "resource busy");
    error_free(err);
    err = NULL;
    assert_int_equal(mx_server_map_range(d, id, mem, 0xcfffe000, 0xd0000000, NULL), -EBUSY);
    assert_int_equal(mx_server_map_range(d, id, mem, 0xd0001fff, 0xd0002fff, NULL), -EBUSY);
    assert_int_equal(d->servers[id].ranges[mem].nr, 0);     /* nothing was added */
    assert_int_equal(mx_server_map_range(d, id, mem, 0xcfffe000, 0xcfffffff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, id, mem, 0xd0002000, 0xd0003fff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, id, XEN_DMOP_IO_RANGE_PORT, 0xd000, 0xd0ff, NULL),
                     0);
    assert_int_equal(mx_server_unmap_range(d, id, mem, 0xd0002000, 0xd0003fff, NULL), 0);
    assert_int_equal(mx_server_unmap_range(d, id, mem, 0xd0000000, 0xd0000fff, NULL), -ENOENT);
    mx_domain_destroy(d);
    cfg.nr_refusals = MX_MAX_REFUSALS + 1;
    assert_null(mx_domain_create(&cfg, stats.page, &err));
    error_free(err);
}

static int route(MxDomain *d, ioreq_t *req)
{
    pthread_mutex_lock(&d->lock);
    int s = mx_route_locked(d, req);
    pthread_mutex_unlock(&d->lock);
    return s;
}

static void routing_follows_xen(void **state)
{
    MxDomain *d = new_domain(1);
    uint16_t a, b;
    assert_int_equal(mx_server_create(d, 0, &a, NULL), 0);
    assert_int_equal(mx_server_create(d, 0, &b, NULL), 0);
    assert_int_equal(mx_server_map_range(d, a, XEN_DMOP_IO_RANGE_PORT, 0x100, 0x1ff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, b, XEN_DMOP_IO_RANGE_PORT, 0x200, 0x2ff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, b, XEN_DMOP_IO_RANGE_MEMORY, 0x1000, 0x1fff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, a, XEN_DMOP_IO_RANGE_PCI, 0x18, 0x18, NULL), 0);
    ioreq_t pio = { .type = IOREQ_TYPE_PIO, .addr = 0x100, .size = 4, .count = 1 };
    assert_int_equal(route(d, &pio), -1);                 /* not enabled yet */
    assert_int_equal(mx_server_set_state(d, a, true, NULL), 0);
    assert_int_equal(mx_server_set_state(d, b, true, NULL), 0);
    assert_int_equal(route(d, &pio), a);
    pio.addr = 0x1fe;                                     /* straddles a and b */
    assert_int_equal(route(d, &pio), -1);
    pio.addr = 0x2fc;
    assert_int_equal(route(d, &pio), b);
    ioreq_t mmio = { .type = IOREQ_TYPE_COPY, .addr = 0x1ff0, .size = 4, .count = 4 };
    assert_int_equal(route(d, &mmio), b);
    mmio.count = 5;                                       /* runs past the range */
    assert_int_equal(route(d, &mmio), -1);
    mmio.addr = UINT64_MAX - 2;                           /* wraps */
    assert_int_equal(route(d, &mmio), -1);
    ioreq_t cfg = { .type = IOREQ_TYPE_PIO, .addr = 0xcfe, .size = 2, .count = 1 };
    d->pci_cf8 = 0x80000000 | (3 << 11) | 0x40;
    assert_int_equal(route(d, &cfg), a);
    assert_int_equal(cfg.type, IOREQ_TYPE_PCI_CONFIG);
    assert_int_equal(cfg.addr, (0x18ull << 32) | 0x42);
    ioreq_t other = { .type = IOREQ_TYPE_PIO, .addr = 0xcfc, .size = 4, .count = 1 };
    d->pci_cf8 = 0x80000000 | (5 << 11);
    assert_int_equal(route(d, &other), -1);
    assert_int_equal(other.type, IOREQ_TYPE_PIO);
    ioreq_t odd = { .type = IOREQ_TYPE_TIMEOFFSET, .addr = 0x100, .size = 4, .count = 1 };
    assert_int_equal(route(d, &odd), -1);
    mx_domain_destroy(d);
}

/* Xen's ioreq_server_map_io_range refuses (EEXIST) a range overlapping the server's own
 * rangeset only: another server may claim the same place, and ioreq_server_select,
 * walking ids downwards, gives such an access to the higher id. */
static void overlapping_claims_follow_xen(void **state)
{
    MxDomain *d = new_domain(1);
    uint16_t a, b;
    Error *err = NULL;
    assert_int_equal(mx_server_create(d, 0, &a, NULL), 0);
    assert_int_equal(mx_server_create(d, 0, &b, NULL), 0);
    assert_true(b > a);
    assert_int_equal(mx_server_map_range(d, a, XEN_DMOP_IO_RANGE_PORT, 0x3f8, 0x3ff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, a, XEN_DMOP_IO_RANGE_PORT, 0x3fc, 0x400, &err),
                     -EEXIST);                            /* its own range: refused */
    error_free(err);
    assert_int_equal(mx_server_map_range(d, b, XEN_DMOP_IO_RANGE_PORT, 0x3f8, 0x3ff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, a, XEN_DMOP_IO_RANGE_PCI, 0x18, 0x18, NULL), 0);
    assert_int_equal(mx_server_map_range(d, b, XEN_DMOP_IO_RANGE_PCI, 0x18, 0x18, NULL), 0);
    assert_int_equal(mx_server_set_state(d, a, true, NULL), 0);
    ioreq_t pio = { .type = IOREQ_TYPE_PIO, .addr = 0x3f8, .size = 1, .count = 1 };
    assert_int_equal(route(d, &pio), a);                  /* b is not enabled */
    assert_int_equal(mx_server_set_state(d, b, true, NULL), 0);
    assert_int_equal(route(d, &pio), b);                  /* the higher id wins */
    ioreq_t cfg = { .type = IOREQ_TYPE_PIO, .addr = 0xcfc, .size = 4, .count = 1 };
    d->pci_cf8 = 0x80000000 | (3 << 11);
    assert_int_equal(route(d, &cfg), b);
    assert_int_equal(mx_server_destroy(d, b, NULL), 0);
    pio.addr = 0x3f8;
    assert_int_equal(route(d, &pio), a);                  /* a serves it again */
    mx_domain_destroy(d);
}

/* Two device models, each with its own ports, MMIO and PCI device: every access goes
 * to its owner only; what nobody claims (a port between them, a third device's config
 * space, even with 0xcfc itself claimed as a port) is left to Xen's null handler. */
static void each_server_gets_only_its_own(void **state)
{
    MxDomain *d = new_domain(2);
    uint16_t a, b;
    assert_int_equal(mx_server_create(d, 0, &a, NULL), 0);
    assert_int_equal(mx_server_create(d, 0, &b, NULL), 0);
    assert_int_equal(mx_server_map_range(d, a, XEN_DMOP_IO_RANGE_PORT, 0x3f8, 0x3ff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, a, XEN_DMOP_IO_RANGE_PORT, 0xcf8, 0xcff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, a, XEN_DMOP_IO_RANGE_PCI, 0x18, 0x18, NULL), 0);
    assert_int_equal(mx_server_map_range(d, b, XEN_DMOP_IO_RANGE_PORT, 0x2f8, 0x2ff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, b, XEN_DMOP_IO_RANGE_MEMORY, 0xfe000000,
                                         0xfe000fff, NULL), 0);
    assert_int_equal(mx_server_map_range(d, b, XEN_DMOP_IO_RANGE_PCI, 0x20, 0x20, NULL), 0);
    assert_int_equal(mx_server_set_state(d, a, true, NULL), 0);
    assert_int_equal(mx_server_set_state(d, b, true, NULL), 0);
    ioreq_t pio = { .type = IOREQ_TYPE_PIO, .addr = 0x3f8, .size = 1, .count = 1 };
    assert_int_equal(route(d, &pio), a);
    pio.addr = 0x2fd;
    assert_int_equal(route(d, &pio), b);
    pio.addr = 0x300;
    assert_int_equal(route(d, &pio), -1);
    ioreq_t mmio = { .type = IOREQ_TYPE_COPY, .addr = 0xfe000ffc, .size = 4, .count = 1 };
    assert_int_equal(route(d, &mmio), b);
    mmio.addr = 0xfe001000;
    assert_int_equal(route(d, &mmio), -1);
    /* A rep access with DF set runs downwards from addr (ioreq_mmio_first_byte). */
    ioreq_t down = { .type = IOREQ_TYPE_COPY, .addr = 0xfe00000c, .size = 4, .count = 4,
                     .df = 1 };
    assert_int_equal(route(d, &down), b);                 /* 0xfe000000..0xfe00000f */
    down.count = 5;                                       /* starts at 0xfdfffffc */
    assert_int_equal(route(d, &down), -1);
    ioreq_t cfg = { .type = IOREQ_TYPE_PIO, .addr = 0xcfc, .size = 4, .count = 1 };
    d->pci_cf8 = 0x80000000 | (4 << 11) | 0x10;           /* 00:04.0 is b's */
    assert_int_equal(route(d, &cfg), b);
    assert_int_equal(cfg.addr, (0x20ull << 32) | 0x10);
    cfg = (ioreq_t){ .type = IOREQ_TYPE_PIO, .addr = 0xcfc, .size = 4, .count = 1 };
    d->pci_cf8 = 0x80000000 | (3 << 11);                  /* 00:03.0 is a's */
    assert_int_equal(route(d, &cfg), a);
    cfg = (ioreq_t){ .type = IOREQ_TYPE_PIO, .addr = 0xcfc, .size = 4, .count = 1 };
    d->pci_cf8 = 0x80000000 | (5 << 11);                  /* nobody's: not a's port */
    assert_int_equal(route(d, &cfg), -1);
    cfg.addr = 0xcf8;                                     /* 0xcf8 itself is a port */
    assert_int_equal(route(d, &cfg), a);
    mx_domain_destroy(d);
}

static unsigned exceptions;

static void count_exception(void *opaque, uint32_t domid)
{
    assert_ptr_equal(opaque, &exceptions);
    assert_int_equal(domid, 3);
    exceptions++;
}

/* Xen raises VIRQ_DOM_EXC on every shutdown and on the crash (xenstored then fires
 * @releaseDomain): the domain tells its hook. */
static void shutdown_and_crash_are_told(void **state)
{
    MxDomain *d = new_domain(1);
    exceptions = 0;
    mx_domain_on_exception(d, count_exception, &exceptions);
    mx_domain_shut_down(d, SHUTDOWN_reboot);
    assert_int_equal(exceptions, 1);
    MxDomainInfo info;
    mx_domain_info(d, &info);
    assert_true(info.shutdown);
    assert_int_equal(info.shutdown_reason, SHUTDOWN_reboot);
    mx_domain_crash(d, "test crash");
    assert_int_equal(exceptions, 2);
    mx_domain_crash(d, "again");                          /* crashed already */
    assert_int_equal(exceptions, 2);
    mx_domain_destroy(d);
}

static int wait_ready(MxDomain *d, XsServer *xs, unsigned dms, bool dm_state)
{
    MxDmReady ready = { .domid = 3, .device_models = dms, .dm_state = dm_state,
                        .timeout_ms = 50 };
    Error *err = NULL;
    int rc = mx_wait_dm_ready(d, xs, &ready, &err);
    error_free(err);
    return rc;
}

/* The guest starts once N servers are enabled and, unless dropped, the main device
 * model's state node says running. */
static void guest_waits_for_every_device_model(void **state)
{
    char dir[] = "/tmp/mx-ready-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/xs", dir);
    XsServer *xs;
    assert_int_equal(xs_server_start(path, &xs, NULL), 0);
    MxDomain *d = new_domain(1);
    uint16_t a, b;
    assert_int_equal(mx_server_create(d, 0, &a, NULL), 0);
    assert_int_equal(mx_server_create(d, 0, &b, NULL), 0);
    assert_int_equal(mx_server_set_state(d, a, true, NULL), 0);
    assert_int_equal(wait_ready(d, xs, 1, false), 0);
    assert_int_equal(wait_ready(d, xs, 1, true), -ETIMEDOUT);     /* no state yet */
    assert_int_equal(xs_server_write(xs, "/local/domain/0/device-model/3/state", "running",
                                     NULL), 0);
    assert_int_equal(wait_ready(d, xs, 1, true), 0);
    assert_int_equal(wait_ready(d, xs, 2, true), -ETIMEDOUT);     /* b is not enabled */
    assert_int_equal(mx_server_set_state(d, b, true, NULL), 0);
    assert_int_equal(wait_ready(d, xs, 2, true), 0);
    assert_int_equal(wait_ready(d, xs, 3, false), -ETIMEDOUT);
    mx_domain_destroy(d);
    xs_server_stop(xs);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rangeset_merges_and_limits),
        cmocka_unit_test(domain_memory_and_dirty_log),
        cmocka_unit_test(domain_frames_can_be_given_back),
        cmocka_unit_test(ram_is_laid_out_and_populated_as_libxl_does),
        cmocka_unit_test(arm_ram_is_laid_out_and_populated_as_libxl_does),
        cmocka_unit_test(domain_config_is_checked),
        cmocka_unit_test(servers_limit_and_resources),
        cmocka_unit_test(refusal_specs_are_checked),
        cmocka_unit_test(refused_ranges_cannot_be_mapped),
        cmocka_unit_test(routing_follows_xen),
        cmocka_unit_test(overlapping_claims_follow_xen),
        cmocka_unit_test(each_server_gets_only_its_own),
        cmocka_unit_test(shutdown_and_crash_are_told),
        cmocka_unit_test(guest_waits_for_every_device_model),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mx_stats_destroy(&stats);
    return rc;
}
