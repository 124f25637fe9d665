/*
 * Randomized differential tests of FlatView rendering.
 *
 * Each round builds a random tree (nested containers, io leaves, aliases of leaves and
 * containers, priorities, overlaps, 2^64-sized regions, regions near the top of the
 * address space) through the public API and then applies random edits (add, delete,
 * move, resize, enable toggles, alias offsets, readonly), some grouped in transactions.
 * After every commit:
 *  - the view is well formed (sorted, non-overlapping, nothing left unmerged);
 *  - the incrementally maintained view equals a full render of the tree;
 *  - at every interesting address (each region boundary, one byte either side, and
 *    every range boundary) the view, and address_space_lookup (through dispatch),
 *    answer what a naive resolver written here finds by walking the tree;
 *  - a listener's region_del/region_add/region_nop events, replayed onto a copy of the
 *    old view, give exactly the new view;
 *  - a view that a reader held (flatview_ref) across the commit did not change.
 * A third test makes allocations fail during the edits and commits (test_oom_arm) and
 * checks all of that after the next commit with memory back.
 * The seed is printed; XENDM_TEST_SEED replays a run.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory/memory-internal.h"
#include "util/log.h"
#include "util/macros.h"

#define ROUNDS 1000
#define EDITS_PER_ROUND 24
#define NR_CONTAINERS 5
#define NR_LEAVES 12
#define NR_ALIASES 6
#define NR_POOL (NR_CONTAINERS + NR_LEAVES + NR_ALIASES)
#define TOP 0xffffffffffffffffULL

typedef __int128 SignedAddr;

typedef struct World {
    uint64_t rng;
    MemoryRegion root;
    MemoryRegion pool[NR_POOL];     /* containers, then leaves, then aliases */
    AddressSpace as;
} World;

/* ---- random tree ------------------------------------------------------------------- */

static uint64_t rnd(World *w, uint64_t n)
{
    return test_rand_below(&w->rng, n);
}

static uint64_t random_size(World *w)
{
    switch (rnd(w, 10)) {
    case 0:
        return UINT64_MAX;                  /* 2^64 */
    case 1:
        return 1 + rnd(w, 4);
    default:
        return 0x10 * (1 + rnd(w, 0x40));
    }
}

static hwaddr random_addr(World *w)
{
    switch (rnd(w, 10)) {
    case 0:
        return TOP - rnd(w, 0x200);        /* near the top: clipping at 2^64 */
    case 1:
        return rnd(w, 0x400);               /* unaligned */
    default:
        return 0x10 * rnd(w, 0x40);
    }
}

static uint64_t random_container_size(World *w)
{
    return rnd(w, 6) ? 0x100 * (1 + rnd(w, 8)) : UINT64_MAX;
}

static void world_init(World *w)
{
    char name[16];
    memory_region_init(&w->root, NULL, "root", rnd(w, 4) ? UINT64_MAX : 0x400);
    for (int i = 0; i < NR_CONTAINERS; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        memory_region_init(&w->pool[i], NULL, name, random_container_size(w));
    }
    for (int i = 0; i < NR_LEAVES; i++) {
        snprintf(name, sizeof(name), "io%d", i);
        memory_region_init_io(&w->pool[NR_CONTAINERS + i], NULL, NULL, NULL, name,
                              random_size(w));
    }
    for (int i = 0; i < NR_ALIASES; i++) {
        /* targets: leaves or containers, or an earlier alias (aliases of aliases) */
        int target = (int)rnd(w, NR_CONTAINERS + NR_LEAVES + i);
        snprintf(name, sizeof(name), "a%d", i);
        memory_region_init_alias(&w->pool[NR_CONTAINERS + NR_LEAVES + i], NULL, name,
                                 &w->pool[target], rnd(w, 0x100), random_size(w));
    }
    assert_int_equal(address_space_init(&w->as, &w->root, "random", NULL), 0);
}

static void world_fini(World *w)
{
    memory_region_transaction_begin();
    for (int i = 0; i < NR_POOL; i++)
        if (w->pool[i].container)
            assert_int_equal(memory_region_del_subregion(w->pool[i].container, &w->pool[i],
                                                         NULL), 0);
    memory_region_transaction_commit();
    assert_int_equal(w->as.current_map->nr, 0);
    address_space_destroy(&w->as);
    for (int i = NR_POOL - 1; i >= 0; i--)      /* aliases before their targets */
        memory_region_finalize(&w->pool[i]);
    memory_region_finalize(&w->root);
}

/* The root a third of the time, so that most of the pool ends up visible. */
static MemoryRegion *random_container(World *w)
{
    int i = (int)rnd(w, NR_CONTAINERS + NR_CONTAINERS / 2);
    return i >= NR_CONTAINERS ? &w->root : &w->pool[i];
}

static void random_add(World *w, MemoryRegion *mr)
{
    MemoryRegion *c = random_container(w);
    hwaddr addr = random_addr(w);
    int ret = rnd(w, 3)
        ? memory_region_add_subregion_overlap(c, addr, mr, (int)rnd(w, 5) - 2, NULL)
        : memory_region_add_subregion(c, addr, mr, NULL);
    assert_true(ret == 0 || ret == -ELOOP || (ret == -ENOMEM && test_oom_active()));
}

/* Put (almost) every pool region somewhere, in random order. */
static void populate(World *w)
{
    int order[NR_POOL];
    for (int i = 0; i < NR_POOL; i++)
        order[i] = i;
    for (int i = NR_POOL - 1; i > 0; i--) {
        int j = (int)rnd(w, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    bool batch = rnd(w, 2);
    if (batch)
        memory_region_transaction_begin();
    for (int i = 0; i < NR_POOL; i++)
        if (rnd(w, 8))
            random_add(w, &w->pool[order[i]]);
    if (batch)
        memory_region_transaction_commit();
}

static void random_edit(World *w)
{
    MemoryRegion *mr = &w->pool[rnd(w, NR_POOL)];
    switch (rnd(w, 10)) {
    case 0: case 1: case 2:
        if (!mr->container)
            random_add(w, mr);
        break;
    case 3:
        if (mr->container)
            assert_int_equal(memory_region_del_subregion(mr->container, mr, NULL), 0);
        break;
    case 4: case 9:
        memory_region_set_address(mr, random_addr(w));
        break;
    case 5:
        memory_region_set_size(mr, random_size(w));
        break;
    case 6:
        memory_region_set_enabled(mr, !mr->enabled);
        break;
    case 7:
        if (mr->kind == MR_KIND_ALIAS)
            memory_region_set_alias_offset(mr, rnd(w, 0x100));
        break;
    default:
        memory_region_set_readonly(mr, !mr->readonly);
        break;
    }
}

/* ---- naive resolver ------------------------------------------------------------------ */

typedef struct Answer {
    MemoryRegion *mr;           /* NULL: hole */
    hwaddr offset;
    bool readonly;
} Answer;

/* What answers at offset a of mr, by walking children in list order. */
static Answer naive(MemoryRegion *mr, SignedAddr a, bool readonly)
{
    Answer none = { 0 };
    if (!mr->enabled || a < 0 || a >= (SignedAddr)mr->size)
        return none;
    readonly |= mr->readonly;
    if (mr->kind == MR_KIND_ALIAS)
        return naive(mr->alias, a + (SignedAddr)mr->alias_offset, readonly);
    MemoryRegion *c;
    TAILQ_FOREACH(c, &mr->subregions, subregions_link) {
        Answer r = naive(c, a - (SignedAddr)c->addr, readonly);
        if (r.mr)
            return r;
    }
    if (mr->terminates)
        return (Answer){ mr, (hwaddr)a, readonly };
    return none;
}

typedef struct Points {
    hwaddr v[4096];
    size_t nr;
} Points;

static void add_point(Points *p, SignedAddr a)
{
    if (a < 0 || a > (SignedAddr)TOP || p->nr == ARRAY_SIZE(p->v))
        return;
    p->v[p->nr++] = (hwaddr)a;
}

/* Every boundary of every region instance reachable from mr placed at base. */
static void collect_points(MemoryRegion *mr, SignedAddr base, Points *p, int depth)
{
    SignedAddr end = base + (SignedAddr)mr->size;
    add_point(p, base - 1);
    add_point(p, base);
    add_point(p, end - 1);
    add_point(p, end);
    if (depth > 8)
        return;
    if (mr->kind == MR_KIND_ALIAS)
        collect_points(mr->alias, base - (SignedAddr)mr->alias_offset, p, depth + 1);
    MemoryRegion *c;
    TAILQ_FOREACH(c, &mr->subregions, subregions_link)
        collect_points(c, base + (SignedAddr)c->addr, p, depth + 1);
}

/* ---- checks ---------------------------------------------------------------------- */

static const FlatRange *view_find(const FlatView *fv, hwaddr addr)
{
    size_t i = flatview_first_ending_after(fv, addr);
    return i < fv->nr && fv->ranges[i].addr <= addr ? &fv->ranges[i] : NULL;
}

static void check_well_formed(const FlatView *fv)
{
    for (unsigned i = 0; i < fv->nr; i++) {
        const FlatRange *fr = &fv->ranges[i];
        assert_true(fr->size > 0);
        assert_true(flatrange_end(fr) <= MEMSIZE_2_64);
        assert_true(fr->mr->terminates);
        if (i) {
            assert_true(flatrange_end(&fv->ranges[i - 1]) <= fr->addr);
            if (flatrange_can_merge(&fv->ranges[i - 1], fr))
                fail_msg("ranges %u and %u at 0x%" PRIx64 " should have been merged",
                         i - 1, i, fr->addr);
        }
    }
}

static bool range_equal(const FlatRange *a, const FlatRange *b)
{
    return a->mr == b->mr && a->addr == b->addr && a->size == b->size
        && a->offset_in_region == b->offset_in_region
        && a->dirty_log_mask == b->dirty_log_mask && a->romd_mode == b->romd_mode
        && a->readonly == b->readonly;
}

static void check_same_ranges(const FlatRange *a, size_t na, const FlatRange *b, size_t nb,
                              const char *what)
{
    if (na != nb)
        fail_msg("%s: %zu ranges vs %zu", what, na, nb);
    for (size_t i = 0; i < na; i++)
        if (!range_equal(&a[i], &b[i]))
            fail_msg("%s: range %zu differs (0x%" PRIx64 " %s vs 0x%" PRIx64 " %s)", what, i,
                     a[i].addr, a[i].mr->name, b[i].addr, b[i].mr->name);
}

static void check_against_full_render(World *w)
{
    FlatView *full = flatview_render(&w->root, NULL);
    assert_non_null(full);
    check_same_ranges(w->as.current_map->ranges, w->as.current_map->nr, full->ranges,
                      full->nr, "incremental vs full render");
    flatview_unref(full);
}

static void check_addresses(World *w)
{
    static Points p;
    FlatView *fv = w->as.current_map;
    p.nr = 0;
    collect_points(&w->root, 0, &p, 0);
    for (unsigned i = 0; i < fv->nr; i++) {
        add_point(&p, fv->ranges[i].addr);
        add_point(&p, (SignedAddr)flatrange_end(&fv->ranges[i]) - 1);
        add_point(&p, (SignedAddr)flatrange_end(&fv->ranges[i]));
    }
    for (size_t i = 0; i < p.nr; i++) {
        hwaddr a = p.v[i];
        Answer want = naive(&w->root, a, false);
        const FlatRange *fr = view_find(fv, a);
        MemoryRegionSection s = address_space_lookup(&w->as, a);
        if (!want.mr) {
            if (fr)
                fail_msg("0x%" PRIx64 ": expected a hole, view has '%s'", a, fr->mr->name);
            assert_null(s.mr);
            continue;
        }
        if (!fr)
            fail_msg("0x%" PRIx64 ": expected '%s'@0x%" PRIx64 ", view has a hole", a,
                     want.mr->name, want.offset);
        hwaddr off = fr->offset_in_region + (a - fr->addr);
        if (fr->mr != want.mr || off != want.offset || fr->readonly != want.readonly)
            fail_msg("0x%" PRIx64 ": expected '%s'@0x%" PRIx64 "%s, view has '%s'@0x%" PRIx64
                     "%s", a, want.mr->name, want.offset, want.readonly ? " ro" : "",
                     fr->mr->name, off, fr->readonly ? " ro" : "");
        assert_ptr_equal(s.mr, want.mr);
        assert_int_equal(s.offset_within_region, want.offset);
        assert_true(s.offset_within_address_space == a);
        assert_true((MemSize)a + s.size == flatrange_end(fr));
    }
}

/* ---- listener replay --------------------------------------------------------------- */

typedef struct Replica {
    MemoryListener l;
    FlatRange *r;               /* the listener's idea of the view */
    size_t nr, cap;
    bool in_commit;
} Replica;

static size_t replica_find(const Replica *rp, const MemoryRegionSection *s)
{
    for (size_t i = 0; i < rp->nr; i++)
        if (rp->r[i].addr == s->offset_within_address_space && rp->r[i].mr == s->mr &&
            rp->r[i].size == s->size && rp->r[i].offset_in_region == s->offset_within_region)
            return i;
    return SIZE_MAX;
}

static void replica_begin(MemoryListener *l)
{
    Replica *rp = (Replica *)l;
    assert_false(rp->in_commit);
    rp->in_commit = true;
}

static void replica_commit(MemoryListener *l)
{
    ((Replica *)l)->in_commit = false;
}

static void replica_del(MemoryListener *l, MemoryRegionSection *s)
{
    Replica *rp = (Replica *)l;
    size_t i = replica_find(rp, s);
    if (i == SIZE_MAX)
        fail_msg("region_del of 0x%" PRIx64 " '%s' that the listener never saw",
                 s->offset_within_address_space, s->mr->name);
    memmove(&rp->r[i], &rp->r[i + 1], (rp->nr - i - 1) * sizeof(*rp->r));
    rp->nr--;
}

static void replica_add(MemoryListener *l, MemoryRegionSection *s)
{
    Replica *rp = (Replica *)l;
    assert_true(rp->in_commit);
    bool paused = test_oom_pause(true);     /* the replica is the test's, not the code's */
    size_t i = 0;
    while (i < rp->nr && rp->r[i].addr < s->offset_within_address_space)
        i++;
    if (i < rp->nr && (MemSize)s->offset_within_address_space + s->size > rp->r[i].addr)
        fail_msg("region_add of 0x%" PRIx64 " '%s' overlaps a range still present",
                 s->offset_within_address_space, s->mr->name);
    assert_int_equal(memory_vec_reserve((void **)&rp->r, &rp->cap, rp->nr + 1,
                                        sizeof(*rp->r)), 0);
    memmove(&rp->r[i + 1], &rp->r[i], (rp->nr - i) * sizeof(*rp->r));
    rp->r[i] = (FlatRange){
        .mr = s->mr, .addr = s->offset_within_address_space, .size = s->size,
        .offset_in_region = s->offset_within_region, .readonly = s->readonly,
    };
    rp->nr++;
    test_oom_pause(paused);
}

static void replica_nop(MemoryListener *l, MemoryRegionSection *s)
{
    if (replica_find((Replica *)l, s) == SIZE_MAX)
        fail_msg("region_nop of 0x%" PRIx64 " '%s' that the listener does not have",
                 s->offset_within_address_space, s->mr->name);
}

static void check_replica(const Replica *rp, const FlatView *fv)
{
    if (rp->nr != fv->nr)
        fail_msg("listener replica has %zu ranges, view %u", rp->nr, fv->nr);
    for (size_t i = 0; i < rp->nr; i++) {
        const FlatRange *a = &rp->r[i], *b = &fv->ranges[i];
        if (a->mr != b->mr || a->addr != b->addr || a->size != b->size ||
            a->offset_in_region != b->offset_in_region || a->readonly != b->readonly)
            fail_msg("listener replica range %zu (0x%" PRIx64 ") differs from the view", i,
                     a->addr);
    }
}

/* ---- the rounds -------------------------------------------------------------------- */

static void check_all(World *w, Replica *rp)
{
    check_well_formed(w->as.current_map);
    check_against_full_render(w);
    check_addresses(w);
    if (rp)
        check_replica(rp, w->as.current_map);
}

/* One edit (or a transaction of a few), then every check. Sometimes a reader holds
 * the view across the commit: what it holds must not change. With `starve`, an
 * allocation during the edits and their commit fails (sometimes every one after it
 * too); the view may then lag, but the next commit must bring it, the dispatch and
 * the listeners back to the tree. */
static void edit_and_check(World *w, Replica *rp, bool starve)
{
    FlatView *held = rnd(w, 8) == 0 ? address_space_get_flatview(&w->as) : NULL;
    FlatRange *saved = NULL;
    unsigned held_nr = held ? held->nr : 0;
    if (held_nr) {
        saved = malloc(held_nr * sizeof(*saved));
        assert_non_null(saved);
        memcpy(saved, held->ranges, held_nr * sizeof(*saved));
    }
    bool batch = rnd(w, 4) == 0;
    if (starve)
        test_oom_arm(rnd(w, 24), rnd(w, 3) == 0);
    if (batch)
        memory_region_transaction_begin();
    int n = batch ? 2 + (int)rnd(w, 4) : 1;
    for (int k = 0; k < n; k++)
        random_edit(w);
    if (batch)
        memory_region_transaction_commit();
    if (starve) {
        test_oom_disarm();
        memory_region_transaction_begin();      /* memory is back: any commit recovers */
        memory_region_transaction_commit();
    }
    check_all(w, rp);
    if (held) {
        check_same_ranges(held->ranges, held->nr, saved, held_nr, "held view");
        flatview_unref(held);
        free(saved);
    }
}

static void run_round(World *w, uint64_t rng, bool with_listener, bool starve)
{
    memset(w, 0, sizeof(*w));
    w->rng = rng ? rng : 1;
    world_init(w);
    Replica replica = { .l = { .begin = replica_begin, .commit = replica_commit,
                               .region_add = replica_add, .region_del = replica_del,
                               .region_nop = replica_nop, .name = "replica" } };
    Replica *rp = with_listener ? &replica : NULL;
    if (rp)
        memory_listener_register(&rp->l, &w->as);
    populate(w);
    check_all(w, rp);
    for (int e = 0; e < EDITS_PER_ROUND; e++)
        edit_and_check(w, rp, starve);
    if (rp) {
        memory_listener_unregister(&rp->l);
        assert_int_equal(rp->nr, 0);
        free(rp->r);
    }
    world_fini(w);
}

/* Each test passes its own World: after a failed check the world stays registered
 * (cmocka leaves the test by longjmp), and must stay valid memory for the next test. */
static void run_rounds(World *w, const char *name, bool with_listener, bool starve)
{
    uint64_t seed = test_seed(name);
    /* plain adds that overlap warn, refused allocations are logged as errors: neither
     * is interesting here */
    log_set_level(starve ? LOG_SILENT : LOG_ERROR);
    for (int round = 0; round < ROUNDS; round++)
        run_round(w, seed + (uint64_t)round * 0x9e3779b97f4a7c15ULL, with_listener, starve);
    log_set_level(LOG_WARN);
}

static void flatview_matches_naive_resolver(void **state)
{
    static World w;
    run_rounds(&w, "flatview_matches_naive_resolver", false, false);
}

static void listener_replay_matches_new_view(void **state)
{
    static World w;
    run_rounds(&w, "listener_replay_matches_new_view", true, false);
}

static void failed_allocations_are_recovered_at_the_next_commit(void **state)
{
    static World w;
    unsigned long before = test_oom_refused();
    run_rounds(&w, "failed_allocations_are_recovered", true, true);
    assert_true(test_oom_refused() - before > ROUNDS);  /* the failures did happen */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flatview_matches_naive_resolver),
        cmocka_unit_test(listener_replay_matches_new_view),
        cmocka_unit_test(failed_allocations_are_recovered_at_the_next_commit),
    };
    return cmocka_run_group_tests_name("flatview_random", tests, NULL, NULL);
}
