/*
 * Unit tests for mockxen's libxengnttab shim (tools/mockxen/shim/gnttab.c, linked into
 * this test) against the daemon's socket server and grant table in this process: grant
 * maps alias the granted guest frames, read-only grants map only for reading, refused
 * maps fail with EINVAL, entries are in use while mapped and free after
 * xengnttab_unmap (or when the handle closes), and unmap checks its arguments as
 * Linux's libxengnttab does.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xengnttab.h>
#include <xen/grant_table.h>

#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/sockserver.h"
#include "tools/mockxen/stats.h"
#include "util/macros.h"

#define DOMID     3
#define TABLE_GPA 0x10000ull
#define DATA_GFN  0x20

typedef struct Fixture {
    MxStats stats;
    MxDomain *d;
    MxSockServer *srv;
    xengnttab_handle *xgt;
    char path[64];
} Fixture;

static int group_setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof(f));
    MxDomainConfig cfg = { .domid = DOMID, .nr_vcpus = 1, .max_gfn = 0xfff };
    snprintf(f.path, sizeof(f.path), "/tmp/mx-shim-gnt-%d.sock", (int)getpid());
    assert_int_equal(mx_stats_create(&f.stats, NULL), 0);
    f.d = mx_domain_create(&cfg, f.stats.page, NULL);
    assert_non_null(f.d);
    uint64_t gfns[] = { TABLE_GPA >> 12, DATA_GFN, DATA_GFN + 1, DATA_GFN + 2, DATA_GFN + 3 };
    assert_int_equal(mx_domain_populate(f.d, gfns, ARRAY_SIZE(gfns), 0, NULL), 0);
    assert_int_equal(mx_gnttab_setup(f.d, TABLE_GPA, 1, NULL), 0);
    assert_int_equal(mx_sockserver_start(f.path, f.d, &f.stats, &f.srv, NULL), 0);
    setenv("MOCKXEN_SOCKET", f.path, 1);
    f.xgt = xengnttab_open(NULL, 0);
    assert_non_null(f.xgt);
    *state = &f;
    return 0;
}

static int group_teardown(void **state)
{
    Fixture *f = *state;
    xengnttab_close(f->xgt);
    mx_sockserver_stop(f->srv);
    mx_domain_destroy(f->d);
    mx_stats_destroy(&f->stats);
    return 0;
}

static uint16_t flags_of(Fixture *f, uint32_t ref)
{
    uint16_t flags;
    assert_int_equal(mx_domain_read(f->d, TABLE_GPA + 8ull * ref, &flags, 2, NULL), 0);
    return flags;
}

static void grant(Fixture *f, uint32_t ref, uint32_t gfn, bool readonly)
{
    assert_int_equal(mx_gnttab_grant(f->d, ref, MX_DM_DOMID, gfn, readonly, NULL), 0);
}

/* Two refs naming frames out of order map as one area, each page its frame. */
static void map_aliases_granted_frames(void **state)
{
    Fixture *f = *state;
    uint32_t refs[] = { 1, 2 };
    grant(f, 1, DATA_GFN + 3, false);
    grant(f, 2, DATA_GFN + 1, false);
    uint8_t *p = xengnttab_map_domain_grant_refs(f->xgt, 2, DOMID, refs,
                                                 PROT_READ | PROT_WRITE);
    assert_non_null(p);
    assert_int_equal(flags_of(f, 1), GTF_permit_access | GTF_reading | GTF_writing);
    memset(p, 0xa1, MX_PAGE_SIZE);
    memset(p + MX_PAGE_SIZE, 0xb2, MX_PAGE_SIZE);
    uint8_t b;
    assert_int_equal(mx_domain_read(f->d, (DATA_GFN + 3ull) << 12, &b, 1, NULL), 0);
    assert_int_equal(b, 0xa1);
    assert_int_equal(mx_domain_read(f->d, ((DATA_GFN + 1ull) << 12) + 4095, &b, 1, NULL), 0);
    assert_int_equal(b, 0xb2);
    assert_int_equal(mx_gnttab_revoke(f->d, 1, NULL), 0);          /* in use */
    assert_int_equal(xengnttab_unmap(f->xgt, p, 1), -1);           /* not its count */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xengnttab_unmap(f->xgt, p + MX_PAGE_SIZE, 1), -1);   /* not its start */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xengnttab_unmap(f->xgt, NULL, 1), -1);
    assert_int_equal(xengnttab_unmap(f->xgt, p, 2), 0);
    assert_int_equal(flags_of(f, 1), GTF_permit_access);
    assert_int_equal(mx_gnttab_revoke(f->d, 1, NULL), 1);
    assert_int_equal(mx_gnttab_revoke(f->d, 2, NULL), 1);
    assert_int_equal(f->d->gnttab.nr_pins, 0);
}

static void readonly_grant_maps_for_reading(void **state)
{
    Fixture *f = *state;
    uint32_t ref = 3;
    grant(f, ref, DATA_GFN, true);
    uint32_t v = 0x5a5a1234;
    assert_int_equal(mx_domain_write(f->d, (uint64_t)DATA_GFN << 12, &v, 4, NULL), 0);
    errno = 0;
    assert_null(xengnttab_map_grant_ref(f->xgt, DOMID, ref, PROT_READ | PROT_WRITE));
    assert_int_equal(errno, EINVAL);
    uint32_t *p = xengnttab_map_grant_ref(f->xgt, DOMID, ref, PROT_READ);
    assert_non_null(p);
    assert_int_equal(*p, v);
    assert_int_equal(flags_of(f, ref), GTF_permit_access | GTF_readonly | GTF_reading);
    assert_int_equal(xengnttab_unmap(f->xgt, p, 1), 0);
    assert_int_equal(mx_gnttab_revoke(f->d, ref, NULL), 1);
}

static void refused_maps(void **state)
{
    Fixture *f = *state;
    uint32_t ungranted = 4, beyond = MX_GNTTAB_PER_FRAME, refs[] = { 5, 4 };
    uint32_t domids[] = { DOMID, DOMID + 1 };
    grant(f, 5, DATA_GFN, false);
    assert_null(xengnttab_map_grant_ref(f->xgt, DOMID, ungranted, PROT_READ));
    assert_int_equal(errno, EINVAL);
    assert_null(xengnttab_map_grant_ref(f->xgt, DOMID, beyond, PROT_READ));
    assert_int_equal(errno, EINVAL);
    assert_null(xengnttab_map_domain_grant_refs(f->xgt, 2, DOMID, refs, PROT_READ));
    assert_int_equal(flags_of(f, 5), GTF_permit_access);       /* all or nothing */
    assert_null(xengnttab_map_grant_refs(f->xgt, 2, domids, refs, PROT_READ));
    assert_int_equal(errno, EINVAL);
    assert_null(xengnttab_map_grant_ref(f->xgt, DOMID + 1, 5, PROT_READ));
    assert_int_equal(errno, ESRCH);                            /* no such domain */
    assert_int_equal(f->d->gnttab.nr_pins, 0);
    assert_int_equal(mx_gnttab_revoke(f->d, 5, NULL), 1);
}

static void close_unpins(void **state)
{
    Fixture *f = *state;
    uint32_t ref = 6;
    grant(f, ref, DATA_GFN + 2, false);
    xengnttab_handle *other = xengnttab_open(NULL, 0);
    assert_non_null(other);
    assert_non_null(xengnttab_map_grant_ref(other, DOMID, ref, PROT_READ | PROT_WRITE));
    assert_int_equal(f->d->gnttab.nr_pins, 1);
    assert_int_equal(xengnttab_close(other), 0);
    /* The daemon notices the connection going on its next pass. */
    for (unsigned i = 0; i < 200 && mx_gnttab_revoke(f->d, ref, NULL) == 0; i++)
        usleep(10 * 1000);
    assert_int_equal(flags_of(f, ref), 0);
    assert_int_equal(f->d->gnttab.nr_pins, 0);
}

static void calls_are_counted(void **state)
{
    Fixture *f = *state;
    uint64_t maps = mx_stats_count(&f->stats, MX_KIND_xengnttab_map_grant_ref);
    uint64_t unmaps = mx_stats_count(&f->stats, MX_KIND_xengnttab_unmap);
    assert_null(xengnttab_map_grant_ref(f->xgt, DOMID, 7, PROT_READ));
    assert_int_equal(xengnttab_unmap(f->xgt, NULL, 1), -1);
    assert_int_equal(mx_stats_count(&f->stats, MX_KIND_xengnttab_map_grant_ref), maps + 1);
    assert_int_equal(mx_stats_count(&f->stats, MX_KIND_xengnttab_unmap), unmaps + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(map_aliases_granted_frames),
        cmocka_unit_test(readonly_grant_maps_for_reading),
        cmocka_unit_test(refused_maps),
        cmocka_unit_test(close_unpins),
        cmocka_unit_test(calls_are_counted),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
