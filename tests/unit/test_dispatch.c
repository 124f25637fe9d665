/* Unit tests for memory/dispatch.c: the page map built from hand-made FlatViews. */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memory/memory-internal.h"
#include "util/macros.h"

#define PAGE 0x1000ULL
#define NR_REGIONS 8

static MemoryRegion regions[NR_REGIONS];

/* A view under construction: ranges appended in address order. */
typedef struct TestView {
    FlatView fv;
    FlatRange ranges[4096];
} TestView;

static TestView *view_new(void)
{
    TestView *v = calloc(1, sizeof(*v));
    assert_non_null(v);
    v->fv.ref = 1;
    v->fv.ranges = v->ranges;
    v->fv.nr_allocated = 4096;
    return v;
}

static void view_add(TestView *v, hwaddr addr, MemSize size, unsigned region, hwaddr off)
{
    assert_true(v->fv.nr < 4096);
    if (v->fv.nr) {
        const FlatRange *last = &v->ranges[v->fv.nr - 1];
        assert_true(flatrange_end(last) <= addr);
    }
    v->ranges[v->fv.nr++] = (FlatRange){
        .mr = &regions[region], .addr = addr, .size = size, .offset_in_region = off,
        .readonly = region == 1,
    };
}

/* The range holding addr, by bisection of the sorted ranges, or NULL. */
static const FlatRange *reference_lookup(const FlatView *fv, hwaddr addr)
{
    unsigned lo = 0, hi = fv->nr;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (flatrange_end(&fv->ranges[mid]) <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < fv->nr && fv->ranges[lo].addr <= addr ? &fv->ranges[lo] : NULL;
}

/* lookup(addr) must describe exactly the range the reference finds. */
static void check_addr(AddressSpaceDispatch *d, const FlatView *fv, hwaddr addr)
{
    const FlatRange *fr = reference_lookup(fv, addr);
    const MemoryRegionSection *s = address_space_dispatch_lookup(d, addr);
    if (!fr) {
        if (s)
            fail_msg("addr 0x%llx: expected a hole, got section at 0x%llx",
                     (unsigned long long)addr,
                     (unsigned long long)s->offset_within_address_space);
        hwaddr hole = address_space_dispatch_hole_size(d, addr);
        assert_true(hole >= 1 && hole <= PAGE - (addr & (PAGE - 1)));
        for (hwaddr probe = addr; probe - addr < hole; probe += (hole + 7) / 8)
            assert_null(reference_lookup(fv, probe));
        assert_null(reference_lookup(fv, addr + hole - 1));
        return;
    }
    if (!s)
        fail_msg("addr 0x%llx: expected range at 0x%llx, got a hole",
                 (unsigned long long)addr, (unsigned long long)fr->addr);
    assert_ptr_equal(s->mr, fr->mr);
    assert_true(s->offset_within_address_space == fr->addr);
    assert_true(s->size == fr->size);
    assert_true(s->offset_within_region == fr->offset_in_region);
    assert_int_equal(s->readonly, fr->readonly);
    assert_ptr_equal(s->fv, fv);
}

/* Every range boundary (±1), every page boundary next to one, and random addresses. */
static void check_view(AddressSpaceDispatch *d, const FlatView *fv, uint64_t *rng)
{
    for (unsigned i = 0; i < fv->nr; i++) {
        const FlatRange *fr = &fv->ranges[i];
        hwaddr last = (hwaddr)(flatrange_end(fr) - 1);
        hwaddr probes[] = { fr->addr, fr->addr - 1, last, last + 1,
                            fr->addr & ~(PAGE - 1), (fr->addr | (PAGE - 1)),
                            (fr->addr & ~(PAGE - 1)) - 1, last | (PAGE - 1) };
        for (unsigned k = 0; k < ARRAY_SIZE(probes); k++)
            check_addr(d, fv, probes[k]);
    }
    for (unsigned k = 0; k < 2000; k++)
        check_addr(d, fv, test_rand(rng));
    for (unsigned k = 0; k < 2000 && fv->nr; k++) {
        const FlatRange *fr = &fv->ranges[test_rand_below(rng, fv->nr)];
        uint64_t spread = fr->size > (MemSize)UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)fr->size * 2;
        check_addr(d, fv, fr->addr - spread / 4 + test_rand_below(rng, spread + 1));
    }
}

/* The last check of a hand-built view (check_view, seeded for replay under test_name),
 * then d and v are freed. */
static void check_view_and_free(AddressSpaceDispatch *d, TestView *v, const char *test_name)
{
    uint64_t rng = test_seed(test_name);
    check_view(d, &v->fv, &rng);
    address_space_dispatch_free(d);
    free(v);
}

static AddressSpaceDispatch *build(FlatView *fv)
{
    Error *err = NULL;
    AddressSpaceDispatch *d = address_space_dispatch_new(fv, &err);
    assert_null(err);
    assert_non_null(d);
    return d;
}

static void empty_view_is_all_hole(void **state)
{
    TestView *v = view_new();
    AddressSpaceDispatch *d = build(&v->fv);
    assert_null(address_space_dispatch_lookup(d, 0));
    assert_null(address_space_dispatch_lookup(d, UINT64_MAX));
    assert_int_equal(address_space_dispatch_hole_size(d, 0x1234), PAGE - 0x234);
    assert_int_equal(address_space_dispatch_hole_size(d, UINT64_MAX), 1);
    address_space_dispatch_free(d);
    free(v);
}

static void whole_address_space_section(void **state)
{
    TestView *v = view_new();
    view_add(v, 0, MEMSIZE_2_64, 0, 0);
    AddressSpaceDispatch *d = build(&v->fv);
    hwaddr probes[] = { 0, 1, PAGE, 0x7fffffffffffffffULL, UINT64_MAX - PAGE, UINT64_MAX };
    for (unsigned i = 0; i < 6; i++) {
        const MemoryRegionSection *s = address_space_dispatch_lookup(d, probes[i]);
        assert_non_null(s);
        assert_ptr_equal(s->mr, &regions[0]);
        assert_true(s->size == MEMSIZE_2_64);
    }
    address_space_dispatch_free(d);
    free(v);
}

static void subpage_sections_and_holes(void **state)
{
    TestView *v = view_new();
    view_add(v, 0x1000, 4, 0, 0);
    view_add(v, 0x1004, 0xc, 1, 0x10);
    view_add(v, 0x1100, 0x100, 2, 0);
    view_add(v, 0x1ff0, 0x2020, 3, 0);          /* tail of page 1, pages 2-3, head of 4 */
    view_add(v, 0x4010, 1, 4, 0);
    AddressSpaceDispatch *d = build(&v->fv);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x1003)->mr, &regions[0]);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x1004)->mr, &regions[1]);
    assert_null(address_space_dispatch_lookup(d, 0x1010));
    assert_int_equal(address_space_dispatch_hole_size(d, 0x1010), 0xf0);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x11ff)->mr, &regions[2]);
    assert_int_equal(address_space_dispatch_hole_size(d, 0x1200), 0xdf0);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x1ff0)->mr, &regions[3]);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x3000)->mr, &regions[3]);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x400f)->mr, &regions[3]);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x4010)->mr, &regions[4]);
    assert_null(address_space_dispatch_lookup(d, 0x4011));
    assert_int_equal(address_space_dispatch_hole_size(d, 0x4011), PAGE - 0x11);
    check_view_and_free(d, v, __func__);
}

static void last_page_of_address_space(void **state)
{
    TestView *v = view_new();
    view_add(v, UINT64_MAX - 3 * PAGE + 1, 2 * PAGE, 0, 0);
    view_add(v, UINT64_MAX - 0xf, 0x8, 1, 0);
    view_add(v, UINT64_MAX - 0x7, 0x8, 2, 0);  /* ends exactly at 2^64 */
    AddressSpaceDispatch *d = build(&v->fv);
    assert_ptr_equal(address_space_dispatch_lookup(d, UINT64_MAX)->mr, &regions[2]);
    assert_ptr_equal(address_space_dispatch_lookup(d, UINT64_MAX - 8)->mr, &regions[1]);
    assert_null(address_space_dispatch_lookup(d, UINT64_MAX - 0x10));
    assert_ptr_equal(address_space_dispatch_lookup(d, UINT64_MAX - PAGE)->mr, &regions[0]);
    check_view_and_free(d, v, __func__);
}

/* A lone range high up compacts into skips; addresses sharing its low bits but not its
 * high bits must not be routed to it. */
static void compacted_paths_reject_foreign_addresses(void **state)
{
    TestView *v = view_new();
    view_add(v, 0x123456789000ULL, PAGE, 0, 0);
    view_add(v, 0x123456789000ULL + PAGE, 0x10, 1, 0);
    AddressSpaceDispatch *d = build(&v->fv);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x123456789abcULL)->mr, &regions[0]);
    assert_null(address_space_dispatch_lookup(d, 0x789abcULL));
    assert_null(address_space_dispatch_lookup(d, 0x923456789abcULL));
    assert_null(address_space_dispatch_lookup(d, 0x12345678a000ULL + 0x10 + (1ULL << 40)));
    assert_null(address_space_dispatch_lookup(d, 0x12345678a004ULL ^ (1ULL << 50)));
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x12345678a004ULL)->mr, &regions[1]);
    check_view_and_free(d, v, __func__);
}

static void mru_never_answers_for_other_addresses(void **state)
{
    TestView *v = view_new();
    view_add(v, 0x1000, 0x10, 0, 0);
    view_add(v, 0x1010, 0x10, 1, 0);
    AddressSpaceDispatch *d = build(&v->fv);
    const MemoryRegionSection *a = address_space_dispatch_lookup(d, 0x1000);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x100f), a);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x1010)->mr, &regions[1]);
    assert_null(address_space_dispatch_lookup(d, 0x1020));
    assert_null(address_space_dispatch_lookup(d, 0xfff));
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x1000), a);
    address_space_dispatch_free(d);
    free(v);
}

/* A random view: ranges of mixed sizes (bytes to terabytes) with random gaps. */
static void random_view(TestView *v, uint64_t *rng, unsigned nr)
{
    v->fv.nr = 0;
    unsigned where = test_rand_below(rng, 3);
    MemSize at = where == 0 ? 0 : where == 1 ? test_rand_below(rng, 0x10000) : test_rand(rng);
    for (unsigned i = 0; i < nr && at < MEMSIZE_2_64; i++) {
        static const uint64_t scale[] = { 0x10, 0x1000, 0x10000, 0x1000000, 1ULL << 40 };
        uint64_t gap = test_rand_below(rng, 4) ? 0 : test_rand_below(rng, scale[test_rand_below(rng, 5)]);
        MemSize size = 1 + test_rand_below(rng, scale[test_rand_below(rng, 5)]);
        at += gap;
        if (at >= MEMSIZE_2_64)
            break;
        if (at + size > MEMSIZE_2_64)
            size = MEMSIZE_2_64 - at;
        view_add(v, (hwaddr)at, size, test_rand_below(rng, NR_REGIONS), test_rand(rng) & ~0xfffULL);
        at += size;
    }
}

static void random_views_match_reference(void **state)
{
    uint64_t rng = test_seed("random_views_match_reference");
    TestView *v = view_new();
    for (unsigned round = 0; round < 40; round++) {
        random_view(v, &rng, 1 + test_rand_below(&rng, 300));
        AddressSpaceDispatch *d = build(&v->fv);
        check_view(d, &v->fv, &rng);
        address_space_dispatch_free(d);
    }
    free(v);
}

/* Replace the ranges of `from` overlapping [s, e) by a random new layout of that span,
 * clipping the ranges straddling its ends (as a commit that edits in place would). */
static void random_edit(const TestView *from, TestView *to, uint64_t *rng, MemSize s, MemSize e)
{
    /* Ranges below s, a new layout of [s, e), ranges from e on. */
    TestView *tmp = view_new();
    for (unsigned i = 0; i < from->fv.nr; i++) {
        const FlatRange *fr = &from->ranges[i];
        if (fr->addr < s) {
            MemSize end = flatrange_end(fr);
            view_add(tmp, fr->addr, (end < s ? end : s) - fr->addr, fr->mr - regions,
                     fr->offset_in_region);
        }
    }
    for (MemSize at = s; at < e;) {
        MemSize room = e - at;
        uint64_t size = 1 + test_rand_below(rng, room > 0x3000 ? 0x3000 : (uint64_t)room);
        if (test_rand_below(rng, 4) == 0 && room > 0x3000)
            size = (uint64_t)(room / 2);
        if (test_rand_below(rng, 3))
            view_add(tmp, (hwaddr)at, size, test_rand_below(rng, NR_REGIONS), 0);
        at += size;
    }
    for (unsigned i = 0; i < from->fv.nr; i++) {
        const FlatRange *fr = &from->ranges[i];
        MemSize end = flatrange_end(fr);
        if (end > e) {
            MemSize start = fr->addr > e ? fr->addr : e;
            view_add(tmp, (hwaddr)start, end - start, fr->mr - regions,
                     fr->offset_in_region + (hwaddr)(start - fr->addr));
        }
    }
    /* Sometimes a range from outside grows into the span (a view that merges adjacent
     * pieces of one region does this): only the new view then straddles the edge. */
    for (unsigned i = 0; i + 1 < tmp->fv.nr; i++) {
        FlatRange *a = &tmp->ranges[i], *b = &tmp->ranges[i + 1];
        if (flatrange_end(a) != b->addr || (b->addr != s && b->addr != e) ||
            test_rand_below(rng, 2))
            continue;
        if (b->addr == s) {                     /* a (outside) swallows b (inside) */
            a->size += b->size;
        } else {                                /* b (outside) swallows a (inside) */
            b->offset_in_region -= (hwaddr)a->size;
            b->addr = a->addr;
            b->size += a->size;
            *a = *b;
        }
        memmove(b, b + 1, (tmp->fv.nr - i - 2) * sizeof(FlatRange));
        tmp->fv.nr--;
    }
    memcpy(to->ranges, tmp->ranges, tmp->fv.nr * sizeof(FlatRange));
    to->fv.nr = tmp->fv.nr;
    free(tmp);
}

/* A span around a random existing boundary, sometimes page aligned. */
static void random_span(const TestView *v, uint64_t *rng, MemSize *s, MemSize *e)
{
    const FlatRange *fr = v->fv.nr ? &v->ranges[test_rand_below(rng, v->fv.nr)] : NULL;
    *s = fr ? fr->addr : test_rand(rng);
    if (*s >= 0x800 && test_rand_below(rng, 2))
        *s -= test_rand_below(rng, 0x800);
    *e = *s + 1 + test_rand_below(rng, test_rand_below(rng, 2) ? 0x200 : 0x20000);
    if (test_rand_below(rng, 3) == 0) {
        *s &= ~(MemSize)(PAGE - 1);
        *e = (*e + PAGE - 1) & ~(MemSize)(PAGE - 1);
    }
    if (*e > MEMSIZE_2_64)
        *e = MEMSIZE_2_64;
}

/* Edit the view in place over [s, e), as the commit does. */
static void edit_in_place(TestView *a, TestView *scratch, uint64_t *rng, MemSize s, MemSize e)
{
    random_edit(a, scratch, rng, s, e);
    memcpy(a->ranges, scratch->ranges, scratch->fv.nr * sizeof(FlatRange));
    a->fv.nr = scratch->fv.nr;
}

static void update(AddressSpaceDispatch *d, FlatView *fv, MemSize s, MemSize e)
{
    Error *err = NULL;
    assert_int_equal(address_space_dispatch_update(d, fv, (hwaddr)s, e - s, &err), 0);
    assert_null(err);
}

static void incremental_updates_match_reference(void **state)
{
    uint64_t rng = test_seed("incremental_updates_match_reference");
    TestView *a = view_new(), *b = view_new();
    for (unsigned round = 0; round < 10; round++) {
        random_view(a, &rng, 1 + test_rand_below(&rng, 200));
        AddressSpaceDispatch *d = build(&a->fv);
        for (unsigned step = 0; step < 30; step++) {
            MemSize s, e, s2, e2;
            random_span(a, &rng, &s, &e);
            edit_in_place(a, b, &rng, s, e);
            /* Sometimes a second, disjoint window changes in the same commit; the
             * windows are then brought up to date one after the other. */
            random_span(a, &rng, &s2, &e2);
            if (test_rand_below(&rng, 2) && (e2 < s || s2 > e)) {
                edit_in_place(a, b, &rng, s2, e2);
                update(d, &a->fv, s2, e2);
            }
            update(d, &a->fv, s, e);
            check_view(d, &a->fv, &rng);
        }
        address_space_dispatch_free(d);
    }
    free(a);
    free(b);
}

static void update_retargets_to_a_new_view(void **state)
{
    TestView *a = view_new(), *b = view_new();
    view_add(a, 0x1000, 0x10, 0, 0);
    view_add(a, 0x5000, PAGE, 1, 0);
    view_add(b, 0x1000, 0x10, 0, 0);
    view_add(b, 0x3000, 0x20, 2, 0);
    view_add(b, 0x5000, PAGE, 1, 0);
    AddressSpaceDispatch *d = build(&a->fv);
    assert_int_equal(address_space_dispatch_update(d, &b->fv, 0x3000, 0x20, NULL), 0);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x3010)->mr, &regions[2]);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x5000)->fv, &b->fv);
    assert_ptr_equal(address_space_dispatch_lookup(d, 0x1000)->fv, &b->fv);
    /* An empty span changes nothing but the view. */
    assert_int_equal(address_space_dispatch_update(d, &b->fv, 0x9000, 0, NULL), 0);
    uint64_t rng = test_seed("update_retargets_to_a_new_view");
    check_view(d, &b->fv, &rng);
    address_space_dispatch_free(d);
    free(a);
    free(b);
}

static void update_at_the_top_of_the_address_space(void **state)
{
    TestView *v = view_new();
    view_add(v, 0, MEMSIZE_2_64, 0, 0);
    AddressSpaceDispatch *d = build(&v->fv);
    v->fv.nr = 0;
    view_add(v, 0, MEMSIZE_2_64 - 0x10, 0, 0);
    view_add(v, UINT64_MAX - 0xf, 0x10, 3, 0);
    assert_int_equal(address_space_dispatch_update(d, &v->fv, UINT64_MAX - 0xf,
                                                   MEMSIZE_2_64 - (UINT64_MAX - 0xf), NULL), 0);
    assert_ptr_equal(address_space_dispatch_lookup(d, UINT64_MAX)->mr, &regions[3]);
    assert_ptr_equal(address_space_dispatch_lookup(d, UINT64_MAX - 0x10)->mr, &regions[0]);
    /* A span running past 2^64 is clipped. */
    assert_int_equal(address_space_dispatch_update(d, &v->fv, UINT64_MAX, 0x100, NULL), 0);
    check_view_and_free(d, v, __func__);
}

static void too_many_ranges_is_refused(void **state)
{
    /* The limit is checked before any range is read. */
    FlatView fv = { .ref = 1, .nr = 1u << 25, .ranges = NULL };
    Error *err = NULL;
    assert_null(address_space_dispatch_new(&fv, &err));
    assert_non_null(err);
    assert_non_null(strstr(error_get_pretty(err), "33554432 ranges"));
    error_free(err);
    address_space_dispatch_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_view_is_all_hole),
        cmocka_unit_test(whole_address_space_section),
        cmocka_unit_test(subpage_sections_and_holes),
        cmocka_unit_test(last_page_of_address_space),
        cmocka_unit_test(compacted_paths_reject_foreign_addresses),
        cmocka_unit_test(mru_never_answers_for_other_addresses),
        cmocka_unit_test(random_views_match_reference),
        cmocka_unit_test(incremental_updates_match_reference),
        cmocka_unit_test(update_retargets_to_a_new_view),
        cmocka_unit_test(update_at_the_top_of_the_address_space),
        cmocka_unit_test(too_many_ranges_is_refused),
    };
    return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
