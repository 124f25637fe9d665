/* Unit tests for mockxen's grant table v1 (tools/mockxen/grant_table.c): what a map
 * checks (the table's bounds, permit-access, the domid, read-only), the in-use bits it
 * sets and the unmap clears, revocation refused while in use and racing with maps, and
 * a handle's mappings released when it closes. */
#include "tests/unit/support.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <xen/grant_table.h>

#include "tools/mockxen/backend.h"
#include "tools/mockxen/guest.h"
#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/stats.h"
#include "util/macros.h"

#define TABLE_GPA 0x10000ull        /* frame 0x10: one frame, 512 entries */
#define DATA_GFN  0x20

typedef struct Fixture {
    MxStats stats;
    MxDomain *d;
    MxGrantHandle *h;
} Fixture;

static int setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof(f));
    MxDomainConfig cfg = { .domid = 3, .nr_vcpus = 1, .max_gfn = 0xfff };
    assert_int_equal(mx_stats_create(&f.stats, NULL), 0);
    f.d = mx_domain_create(&cfg, f.stats.page, NULL);
    assert_non_null(f.d);
    uint64_t gfns[] = { TABLE_GPA >> 12, DATA_GFN, DATA_GFN + 1, DATA_GFN + 2 };
    assert_int_equal(mx_domain_populate(f.d, gfns, ARRAY_SIZE(gfns), 0, NULL), 0);
    assert_int_equal(mx_gnttab_setup(f.d, TABLE_GPA, 1, NULL), 0);
    f.h = mx_gnttab_open(NULL);
    assert_non_null(f.h);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    mx_gnttab_close(f->d, f->h);
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

/* Map refs; the error number (0 on success), the mapping's id in *id. */
static int map(Fixture *f, const uint32_t *refs, uint32_t n, bool writable, uint64_t *gfns,
               uint32_t *id)
{
    Error *err = NULL;
    int rc = mx_gnttab_map(f->d, f->h, refs, n, writable, gfns, id, &err);
    if (rc)
        error_free(err);
    return rc;
}

static void permit_map_unmap(void **state)
{
    Fixture *f = *state;
    uint32_t refs[] = { 7, 8 }, id;
    uint64_t gfns[2];
    assert_int_equal(mx_gnttab_grant(f->d, 7, MX_DM_DOMID, DATA_GFN + 2, false, NULL), 0);
    assert_int_equal(mx_gnttab_grant(f->d, 8, MX_DM_DOMID, DATA_GFN, false, NULL), 0);
    assert_int_equal(flags_of(f, 7), GTF_permit_access);
    assert_int_equal(map(f, refs, 2, true, gfns, &id), 0);
    assert_int_equal(gfns[0], DATA_GFN + 2);
    assert_int_equal(gfns[1], DATA_GFN);
    assert_int_equal(flags_of(f, 7), GTF_permit_access | GTF_reading | GTF_writing);
    assert_int_equal(f->d->gnttab.nr_pins, 2);
    assert_int_equal(mx_gnttab_unmap(f->d, f->h, id, 1, NULL), -EINVAL);    /* wrong count */
    assert_int_equal(mx_gnttab_unmap(f->d, f->h, id, 2, NULL), 0);
    assert_int_equal(flags_of(f, 7), GTF_permit_access);
    assert_int_equal(f->d->gnttab.nr_pins, 0);
    assert_int_equal(mx_gnttab_unmap(f->d, f->h, id, 2, NULL), -EINVAL);    /* gone */
}

static void readonly_grants(void **state)
{
    Fixture *f = *state;
    uint32_t ref = 9, id;
    uint64_t gfn;
    assert_int_equal(mx_gnttab_grant(f->d, ref, MX_DM_DOMID, DATA_GFN, true, NULL), 0);
    assert_int_equal(map(f, &ref, 1, true, &gfn, &id), -EINVAL);
    assert_int_equal(flags_of(f, ref), GTF_permit_access | GTF_readonly);   /* untouched */
    assert_int_equal(map(f, &ref, 1, false, &gfn, &id), 0);
    assert_int_equal(flags_of(f, ref), GTF_permit_access | GTF_readonly | GTF_reading);
    assert_int_equal(mx_gnttab_unmap(f->d, f->h, id, 1, NULL), 0);
    assert_int_equal(flags_of(f, ref), GTF_permit_access | GTF_readonly);
}

static void refused_maps_pin_nothing(void **state)
{
    Fixture *f = *state;
    uint32_t id;
    uint64_t gfns[2];
    uint32_t ungranted = 10, beyond = MX_GNTTAB_PER_FRAME, other_dom = 11, bad_frame = 12;
    assert_int_equal(mx_gnttab_grant(f->d, other_dom, 5, DATA_GFN, false, NULL), 0);
    assert_int_equal(mx_gnttab_grant(f->d, bad_frame, MX_DM_DOMID, 0x30, false, NULL), 0);
    assert_int_equal(mx_gnttab_grant(f->d, 13, MX_DM_DOMID, DATA_GFN, false, NULL), 0);
    assert_int_equal(mx_gnttab_grant(f->d, beyond, MX_DM_DOMID, DATA_GFN, false, NULL),
                     -EINVAL);
    assert_int_equal(map(f, &ungranted, 1, false, gfns, &id), -EINVAL);
    assert_int_equal(map(f, &beyond, 1, false, gfns, &id), -EINVAL);
    assert_int_equal(map(f, &other_dom, 1, false, gfns, &id), -EINVAL);
    assert_int_equal(map(f, &bad_frame, 1, false, gfns, &id), -EINVAL);   /* unpopulated */
    uint32_t good_then_bad[] = { 13, ungranted };
    assert_int_equal(map(f, good_then_bad, 2, false, gfns, &id), -EINVAL);
    assert_int_equal(flags_of(f, 13), GTF_permit_access);                 /* undone */
    assert_int_equal(flags_of(f, bad_frame), GTF_permit_access);
    assert_int_equal(f->d->gnttab.nr_pins, 0);
}

static void in_use_cannot_be_revoked(void **state)
{
    Fixture *f = *state;
    uint32_t ref = 14, id, id2;
    uint64_t gfn;
    assert_int_equal(mx_gnttab_grant(f->d, ref, MX_DM_DOMID, DATA_GFN, false, NULL), 0);
    assert_int_equal(map(f, &ref, 1, true, &gfn, &id), 0);
    assert_int_equal(map(f, &ref, 1, false, &gfn, &id2), 0);     /* a second pin */
    assert_int_equal(mx_gnttab_revoke(f->d, ref, NULL), 0);
    assert_int_equal(mx_gnttab_unmap(f->d, f->h, id, 1, NULL), 0);
    assert_int_equal(flags_of(f, ref), GTF_permit_access | GTF_reading);  /* writer gone */
    assert_int_equal(mx_gnttab_revoke(f->d, ref, NULL), 0);
    assert_int_equal(mx_gnttab_unmap(f->d, f->h, id2, 1, NULL), 0);
    assert_int_equal(mx_gnttab_revoke(f->d, ref, NULL), 1);
    assert_int_equal(flags_of(f, ref), 0);
    assert_int_equal(map(f, &ref, 1, false, &gfn, &id), -EINVAL);  /* revoked */
    assert_int_equal(mx_gnttab_setup(f->d, TABLE_GPA, 1, NULL), 0);
}

static void table_placement(void **state)
{
    Fixture *f = *state;
    uint32_t ref = 15, id;
    uint64_t gfn;
    assert_int_equal(mx_gnttab_setup(f->d, TABLE_GPA + 1, 1, NULL), -EINVAL);
    assert_int_equal(mx_gnttab_setup(f->d, TABLE_GPA, 0, NULL), -EINVAL);
    assert_int_equal(mx_gnttab_setup(f->d, TABLE_GPA, MX_GNTTAB_MAX_FRAMES + 1, NULL), -EINVAL);
    assert_int_equal(mx_gnttab_setup(f->d, 0x40000, 1, NULL), -EINVAL);  /* unpopulated */
    assert_int_equal(mx_gnttab_grant(f->d, ref, MX_DM_DOMID, DATA_GFN, false, NULL), 0);
    assert_int_equal(map(f, &ref, 1, false, &gfn, &id), 0);
    assert_int_equal(mx_gnttab_setup(f->d, (uint64_t)DATA_GFN << 12, 1, NULL), -EBUSY);
    assert_int_equal(mx_gnttab_unmap(f->d, f->h, id, 1, NULL), 0);
}

static void close_releases_mappings(void **state)
{
    Fixture *f = *state;
    uint32_t ref = 16, id;
    uint64_t gfn;
    assert_int_equal(mx_gnttab_grant(f->d, ref, MX_DM_DOMID, DATA_GFN, false, NULL), 0);
    assert_int_equal(map(f, &ref, 1, true, &gfn, &id), 0);
    mx_gnttab_close(f->d, f->h);
    f->h = mx_gnttab_open(NULL);
    assert_int_equal(flags_of(f, ref), GTF_permit_access);
    assert_int_equal(f->d->gnttab.nr_pins, 0);
}

static void writable_unmap_dirties(void **state)
{
    Fixture *f = *state;
    uint32_t ref = 17, id;
    uint64_t gfn;
    unsigned long bits = 0;
    mx_domain_set_log_dirty(f->d, true);
    assert_int_equal(mx_gnttab_grant(f->d, ref, MX_DM_DOMID, DATA_GFN + 1, false, NULL), 0);
    assert_int_equal(map(f, &ref, 1, true, &gfn, &id), 0);
    assert_int_equal(mx_gnttab_unmap(f->d, f->h, id, 1, NULL), 0);
    assert_int_equal(mx_domain_dirty_bitmap(f->d, DATA_GFN, 4, false, &bits, NULL), 0);
    assert_int_equal(bits, 2);
    mx_domain_set_log_dirty(f->d, false);
}

/* A guest revoking while a device model maps: each round, either the revoke wins and
 * the map fails, or the map wins and the revoke fails; never both. */
typedef struct Race {
    Fixture *f;
    int revoked;
} Race;

static void *revoker(void *opaque)
{
    Race *r = opaque;
    r->revoked = mx_gnttab_revoke(r->f->d, 18, NULL);
    return NULL;
}

static void revocation_races_maps(void **state)
{
    Fixture *f = *state;
    uint32_t ref = 18, id;
    uint64_t gfn;
    for (unsigned round = 0; round < 200; round++) {
        assert_int_equal(mx_gnttab_grant(f->d, ref, MX_DM_DOMID, DATA_GFN, false, NULL), 0);
        Race r = { .f = f };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, revoker, &r), 0);
        int mapped = map(f, &ref, 1, true, &gfn, &id) == 0;
        pthread_join(t, NULL);
        assert_int_equal(mapped + r.revoked, 1);
        if (mapped) {
            assert_int_equal(mx_gnttab_unmap(f->d, f->h, id, 1, NULL), 0);
            assert_int_equal(mx_gnttab_revoke(f->d, ref, NULL), 1);
        }
        assert_int_equal(flags_of(f, ref), 0);
    }
}

/* The script statements: grant-table, grant [readonly] [domid], grant-revoke's value. */
static int run_script(Fixture *f, const char *text)
{
    Error *err = NULL;
    GuestScript *script = guest_script_parse("t.gs", text, strlen(text), &err);
    assert_non_null(script);
    MxBackend be = { .d = f->d, .stats = &f->stats, .ioreq_timeout_ms = 1000 };
    int ret = guest_run(script, &mx_backend_ops, &be, &err);
    if (ret)
        error_free(err);
    guest_script_free(script);
    return ret;
}

static void script_statements(void **state)
{
    Fixture *f = *state;
    uint32_t ref = 20, id;
    uint64_t gfn;
    assert_int_equal(run_script(f, "grant-table 0x10000, 1\n"
                                   "grant 20, 0x21 readonly\n"
                                   "grant 21, 0x22 domid 7\n"
                                   "peek 0x10000 + 20 * 8, 8 == 0x21 << 32 | 5\n"
                                   "peek 0x10000 + 21 * 8, 8 == 0x22 << 32 | 7 << 16 | 1\n"),
                     0);
    assert_int_equal(map(f, &ref, 1, false, &gfn, &id), 0);
    assert_int_equal(gfn, 0x21);
    assert_int_equal(run_script(f, "grant-revoke 20 == 0\ngrant-revoke 21 == 1\n"), 0);
    assert_int_equal(mx_gnttab_unmap(f->d, f->h, id, 1, NULL), 0);
    assert_int_equal(run_script(f, "grant-revoke 20 -> $r\nexpect $r == 1\n"), 0);
    assert_int_equal(run_script(f, "grant 512, 0x21\n"), -EINVAL);       /* beyond */
    assert_int_equal(run_script(f, "grant 1, 0x21 domid 0x10000\n"), -EINVAL);
    assert_int_equal(run_script(f, "grant-table 0x10001, 1\n"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(permit_map_unmap, setup, teardown),
        cmocka_unit_test_setup_teardown(readonly_grants, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_maps_pin_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(in_use_cannot_be_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(table_placement, setup, teardown),
        cmocka_unit_test_setup_teardown(close_releases_mappings, setup, teardown),
        cmocka_unit_test_setup_teardown(writable_unmap_dirties, setup, teardown),
        cmocka_unit_test_setup_teardown(revocation_races_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(script_statements, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
