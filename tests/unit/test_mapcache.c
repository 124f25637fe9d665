/* Unit tests for mapcache/: buckets, counters, LRU, locks, reverse lookup, invalidation,
 * failed frames, the mapcache as a RAM backend and the memfd mapper. No Xen needed: the
 * cache maps through a wrapper around the memfd mapper that counts calls, remembers
 * live mappings and injects failures. */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mapcache/mapcache.h"
#include "util/log.h"
#include "util/macros.h"

#define PAGE        MAPCACHE_PAGE_SIZE
#define BUCKET      (16 * PAGE)             /* the tests' bucket: 64 KiB */
#define GUEST_PAGES 4096u                   /* 16 MiB of guest RAM, 256 buckets */
#define MAX_LIVE    8192u

/* ---- the fake mapper ------------------------------------------------------------- */

typedef struct LiveMapping {
    void *host;
    uint64_t gfn;
    size_t nr;
} LiveMapping;

typedef struct Fake {
    MemfdMapper *mem;
    uint64_t maps, unmaps;
    int fail_next_map;              /* errno for the next map call, 0: none */
    int unmap_result;               /* what unmap reports (it always unmaps) */
    uint64_t last_map_gfn, last_unmap_gfn;
    LiveMapping live[MAX_LIVE];
    unsigned nr_live;
} Fake;

static void *fake_map(void *opaque, uint64_t first_gfn, size_t nr, int prot, int *err)
{
    Fake *f = opaque;
    f->maps++;
    f->last_map_gfn = first_gfn;
    if (f->fail_next_map) {
        errno = f->fail_next_map;
        f->fail_next_map = 0;
        return NULL;
    }
    void *host = memfd_mapper_ops.map(f->mem, first_gfn, nr, prot, err);
    if (host) {
        assert_true(f->nr_live < MAX_LIVE);
        f->live[f->nr_live++] = (LiveMapping){ host, first_gfn, nr };
    }
    return host;
}

static int fake_unmap(void *opaque, void *host, size_t nr)
{
    Fake *f = opaque;
    f->unmaps++;
    for (unsigned i = 0; i < f->nr_live; i++) {
        if (f->live[i].host == host) {
            assert_int_equal(f->live[i].nr, nr);      /* whole mappings only */
            f->last_unmap_gfn = f->live[i].gfn;
            f->live[i] = f->live[--f->nr_live];
            assert_int_equal(memfd_mapper_ops.unmap(f->mem, host, nr), 0);
            return f->unmap_result;
        }
    }
    fail_msg("unmap of %p, which is not mapped", host);
    return -EINVAL;
}

static const MapperOps fake_ops = { .map = fake_map, .unmap = fake_unmap };

static int fake_setup(void **state)
{
    Fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->mem = memfd_mapper_new(GUEST_PAGES, NULL);
    assert_non_null(f->mem);
    *state = f;
    return 0;
}

static int fake_teardown(void **state)
{
    Fake *f = *state;
    memfd_mapper_free(f->mem);
    free(f);
    return 0;
}

static MapCache *new_cache(Fake *f, uint64_t bucket, uint64_t max)
{
    MapCacheConfig cfg = { .bucket_size = bucket, .max_size = max };
    Error *err = NULL;
    MapCache *mc = mapcache_new(&cfg, &fake_ops, f, &err);
    assert_null(err);
    assert_non_null(mc);
    return mc;
}

/* Free the cache and check every mapping went back. */
static void free_cache(Fake *f, MapCache *mc)
{
    mapcache_free(mc);
    assert_int_equal(f->nr_live, 0);
}

static MapCacheStats stats_of(const MapCache *mc)
{
    MapCacheStats st;
    mapcache_get_stats(mc, &st);
    return st;
}

/* Map len bytes at gpa, expecting success and the full length. */
static uint8_t *map_ok(MapCache *mc, uint64_t gpa, uint64_t len, bool lock)
{
    Error *err = NULL;
    uint64_t got = len;
    uint8_t *p = mapcache_map(mc, gpa, &got, lock, &err);
    if (!p)
        fail_msg("map of gpa 0x%llx failed: %s", (unsigned long long)gpa,
                 error_get_pretty(err));
    assert_int_equal(got, len);
    return p;
}

/* Map expecting failure with the given errno in the Error. */
static void map_fails(MapCache *mc, uint64_t gpa, uint64_t len, bool lock, int errnum)
{
    Error *err = NULL;
    uint64_t got = len;
    assert_null(mapcache_map(mc, gpa, &got, lock, &err));
    assert_non_null(err);
    assert_int_equal(err->errnum, errnum);
    error_free(err);
}

/* ---- configuration --------------------------------------------------------------- */

static void config_defaults(void **state)
{
    Fake *f = *state;
    MapCache *mc = mapcache_new(NULL, &fake_ops, f, NULL);
    assert_non_null(mc);
    assert_int_equal(mapcache_bucket_size(mc), 1u << 20);
    assert_int_equal(stats_of(mc).max_buckets, (1ULL << 35) >> 20);
    map_ok(mc, 0x123456, 16, false);
    assert_int_equal(f->maps, 1);
    assert_int_equal(f->live[0].nr, 256);                 /* one 1 MiB bucket */
    assert_int_equal(f->last_map_gfn, 0x100);
    free_cache(f, mc);
}

static void config_rejects_bad_values(void **state)
{
    Fake *f = *state;
    static const MapCacheConfig bad[] = {
        { .bucket_size = 3 * PAGE },                        /* not a power of two */
        { .bucket_size = 2048 },                            /* below a page */
        { .bucket_size = 2ULL << 30 },                      /* above 1 GiB */
        { .bucket_size = BUCKET, .max_size = BUCKET - 1 },  /* limit below one bucket */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        Error *err = NULL;
        assert_null(mapcache_new(&bad[i], &fake_ops, f, &err));
        assert_non_null(err);
        assert_int_equal(err->errnum, EINVAL);
        error_free(err);
    }
    Error *err = NULL;
    assert_null(mapcache_new(NULL, NULL, f, &err));
    assert_int_equal(err->errnum, EINVAL);
    error_free(err);
    err = NULL;
    MapperOps no_unmap = { .map = fake_map };
    assert_null(mapcache_new(NULL, &no_unmap, f, &err));
    assert_string_equal(error_get_pretty(err),
                        "mapcache: the mapper needs map and unmap: Invalid argument");
    error_free(err);
    err = NULL;
    MapCacheConfig small = { .bucket_size = 2 * PAGE, .max_size = 1 };
    assert_null(mapcache_new(&small, &fake_ops, f, &err));
    assert_string_equal(error_get_pretty(err), "mapcache size limit 0x1 is below one "
                        "bucket (0x2000): Invalid argument");
    error_free(err);
    assert_int_equal(f->maps, 0);
    mapcache_free(NULL);
}

/* ---- counters and the lookup paths ------------------------------------------------ */

static void counts_hits_misses_and_maps(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 64 * BUCKET);
    uint8_t *view = memfd_mapper_view(f->mem);

    uint8_t *a = map_ok(mc, 0x10, 8, false);               /* miss: bucket 0 */
    memcpy(a, "bucket-0", 8);
    assert_memory_equal(view + 0x10, "bucket-0", 8);
    assert_ptr_equal(map_ok(mc, 0x20, 8, false), a + 0x10);   /* hit: last entry */
    uint8_t *b = map_ok(mc, 5 * BUCKET + 0x30, 4, false);  /* miss: bucket 5 */
    memcpy(b, "five", 4);
    assert_memory_equal(view + 5 * BUCKET + 0x30, "five", 4);
    assert_ptr_equal(map_ok(mc, 0x10, 8, false), a);       /* hit: through the hash */
    assert_ptr_equal(map_ok(mc, 5 * BUCKET, 1, false), b - 0x30);

    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.maps, 2);
    assert_int_equal(f->maps, 2);
    assert_int_equal(st.unmaps, 0);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.nr_buckets, 2);
    assert_int_equal(f->last_map_gfn, 5 * BUCKET / PAGE);

    mapcache_free(mc);
    assert_int_equal(f->unmaps, 2);
    assert_int_equal(f->nr_live, 0);
}

static void clips_at_bucket_end_for_straddling_access(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 64 * BUCKET);
    uint8_t *view = memfd_mapper_view(f->mem);
    for (unsigned i = 0; i < 300; i++)
        view[3 * BUCKET - 100 + i] = (uint8_t)i;

    /* A 300-byte access from 100 bytes before a bucket end: the access loops. */
    uint8_t buf[300];
    uint64_t gpa = 3 * BUCKET - 100, done = 0;
    unsigned pieces = 0;
    while (done < sizeof(buf)) {
        uint64_t len = sizeof(buf) - done;
        uint8_t *p = mapcache_map(mc, gpa + done, &len, false, NULL);
        assert_non_null(p);
        assert_int_equal(len, pieces == 0 ? 100 : 200);
        memcpy(buf + done, p, len);
        done += len;
        pieces++;
    }
    assert_int_equal(pieces, 2);
    for (unsigned i = 0; i < 300; i++)
        assert_int_equal(buf[i], (uint8_t)i);
    assert_int_equal(stats_of(mc).maps, 2);

    /* A length past the end of the address space is clipped too, never wrapped. */
    uint64_t len = UINT64_MAX;
    assert_non_null(mapcache_map(mc, BUCKET + 1, &len, false, NULL));
    assert_int_equal(len, BUCKET - 1);
    free_cache(f, mc);
}

/* ---- LRU and the size limit -------------------------------------------------------- */

static void evicts_least_recently_used(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 3 * BUCKET);
    map_ok(mc, 0 * BUCKET, 1, false);
    map_ok(mc, 1 * BUCKET, 1, false);
    map_ok(mc, 2 * BUCKET, 1, false);
    map_ok(mc, 0 * BUCKET, 1, false);                      /* bucket 0 is now the newest */
    map_ok(mc, 3 * BUCKET, 1, false);                      /* evicts bucket 1 */
    assert_int_equal(f->last_unmap_gfn, 1 * BUCKET / PAGE);
    map_ok(mc, 4 * BUCKET, 1, false);                      /* evicts bucket 2 */
    assert_int_equal(f->last_unmap_gfn, 2 * BUCKET / PAGE);
    map_ok(mc, 0 * BUCKET, 1, false);                      /* still there: a hit */
    map_ok(mc, 5 * BUCKET, 1, false);                      /* evicts bucket 3 */
    assert_int_equal(f->last_unmap_gfn, 3 * BUCKET / PAGE);

    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.evictions, 3);
    assert_int_equal(st.unmaps, 3);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 6);
    assert_int_equal(st.nr_buckets, 3);
    assert_int_equal(f->nr_live, 3);
    free_cache(f, mc);
}

static void size_limit_edges(void **state)
{
    Fake *f = *state;
    /* A limit of exactly one bucket: every new bucket replaces the previous one. */
    MapCache *mc = new_cache(f, BUCKET, BUCKET);
    for (unsigned i = 0; i < 10; i++) {
        map_ok(mc, i * BUCKET, 1, false);
        assert_int_equal(stats_of(mc).nr_buckets, 1);
    }
    assert_int_equal(stats_of(mc).evictions, 9);
    free_cache(f, mc);

    /* A limit that is not a multiple of the bucket size rounds down. */
    mc = new_cache(f, BUCKET, 2 * BUCKET + BUCKET / 2);
    assert_int_equal(stats_of(mc).max_buckets, 2);
    for (unsigned i = 0; i < 5; i++)
        map_ok(mc, i * BUCKET, 1, false);
    assert_int_equal(stats_of(mc).nr_buckets, 2);
    assert_int_equal(stats_of(mc).evictions, 3);
    free_cache(f, mc);
}

/* ---- locks --------------------------------------------------------------------------- */

static void locked_bucket_is_never_evicted(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 2 * BUCKET);
    uint8_t *view = memfd_mapper_view(f->mem);
    uint8_t *locked = map_ok(mc, 7 * BUCKET + 8, 8, true);
    for (unsigned i = 0; i < 20; i++) {
        map_ok(mc, i * BUCKET + (i == 7 ? BUCKET : 0), 1, false);
        memcpy(locked, "stillok", 8);                      /* faults if it was unmapped */
        assert_memory_equal(view + 7 * BUCKET + 8, "stillok", 8);
    }
    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.nr_buckets, 2);
    assert_int_equal(st.nr_locked, 1);
    assert_int_equal(st.evictions, 18);
    assert_int_equal(st.maps, 20);
    uint64_t gpa;
    assert_int_equal(mapcache_host_to_gpa(mc, locked, &gpa), 0);
    assert_int_equal(gpa, 7 * BUCKET + 8);

    /* Unlocked, it becomes the most recently used: the next miss evicts the other. */
    assert_int_equal(mapcache_unlock(mc, locked, NULL), 0);
    map_ok(mc, 100 * BUCKET, 1, false);
    assert_int_equal(f->last_unmap_gfn, 19 * BUCKET / PAGE);
    map_ok(mc, 101 * BUCKET, 1, false);
    assert_int_equal(f->last_unmap_gfn, 7 * BUCKET / PAGE);
    free_cache(f, mc);
}

static void all_locked_grows_past_limit_then_shrinks(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 2 * BUCKET);
    uint8_t *p[4];
    for (unsigned i = 0; i < 4; i++)
        p[i] = map_ok(mc, i * BUCKET, BUCKET, true);
    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.nr_buckets, 4);                    /* the decision: grow */
    assert_int_equal(st.nr_locked, 4);
    assert_int_equal(st.evictions, 0);
    for (unsigned i = 0; i < 4; i++) {
        memset(p[i], 0xa0 + i, BUCKET);                    /* all still mapped */
        assert_int_equal(mapcache_unlock(mc, p[i] + BUCKET - 1, NULL), 0);
    }
    /* The next miss evicts back under the limit, oldest unlock first. */
    map_ok(mc, 10 * BUCKET, 1, false);
    st = stats_of(mc);
    assert_int_equal(st.nr_buckets, 2);
    assert_int_equal(st.nr_locked, 0);
    assert_int_equal(st.evictions, 3);
    assert_ptr_equal(map_ok(mc, 3 * BUCKET, 1, false), p[3]);  /* newest unlock kept */
    free_cache(f, mc);
}

static void lock_counts(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 8 * BUCKET);
    uint8_t *a = map_ok(mc, 2 * BUCKET + 0x100, 16, true);
    uint8_t *b = map_ok(mc, 2 * BUCKET + 0x2000, 16, true);   /* same bucket */
    uint8_t *c = map_ok(mc, 2 * BUCKET + 0x100, 16, false);   /* unlocked use */
    assert_ptr_equal(c, a);
    assert_int_equal(mapcache_lock_count(mc, a), 2);
    assert_int_equal(mapcache_lock_count(mc, b + 5), 2);
    assert_int_equal(stats_of(mc).nr_locked, 1);
    assert_int_equal(mapcache_unlock(mc, b, NULL), 0);
    assert_int_equal(mapcache_lock_count(mc, a), 1);
    assert_int_equal(mapcache_unlock(mc, a, NULL), 0);
    assert_int_equal(mapcache_lock_count(mc, a), 0);
    assert_int_equal(stats_of(mc).nr_locked, 0);

    Error *err = NULL;
    assert_int_equal(mapcache_unlock(mc, a, &err), -EINVAL);
    assert_non_null(err);
    error_free(err);
    err = NULL;
    int local;
    assert_int_equal(mapcache_unlock(mc, &local, &err), -ENOENT);
    assert_int_equal(err->errnum, ENOENT);
    error_free(err);
    assert_int_equal(mapcache_lock_count(mc, &local), -ENOENT);
    assert_int_equal(stats_of(mc).maps, 1);
    free_cache(f, mc);
}

static void lock_count_limit(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 8 * BUCKET);
    uint8_t *p = NULL;
    for (unsigned i = 0; i < MAPCACHE_MAX_LOCKS; i++)
        p = map_ok(mc, BUCKET + 8, 8, true);
    assert_int_equal(mapcache_lock_count(mc, p), MAPCACHE_MAX_LOCKS);
    map_fails(mc, BUCKET, 8, true, EOVERFLOW);
    assert_ptr_equal(map_ok(mc, BUCKET + 8, 8, false), p);     /* unlocked use still fine */
    assert_int_equal(mapcache_unlock(mc, p, NULL), 0);
    map_ok(mc, BUCKET, 8, true);
    assert_int_equal(mapcache_lock_count(mc, p), MAPCACHE_MAX_LOCKS);
    for (unsigned i = 0; i < MAPCACHE_MAX_LOCKS; i++)
        assert_int_equal(mapcache_unlock(mc, p, NULL), 0);
    assert_int_equal(stats_of(mc).nr_locked, 0);
    free_cache(f, mc);
}

/* ---- reverse lookup ---------------------------------------------------------------- */

/* Map every bucket of guest RAM and look random pointers (first, last and random bytes
 * of their buckets) up again. */
static void check_reverse_lookup(Fake *f, uint64_t bucket, uint64_t *seed)
{
    const unsigned n = (unsigned)(GUEST_PAGES * PAGE / bucket);
    MapCache *mc = new_cache(f, bucket, n * bucket);
    uint8_t **base = calloc(n, sizeof(*base));
    assert_non_null(base);
    for (unsigned i = 0; i < n; i++) {
        uint64_t len = bucket;
        base[i] = mapcache_map(mc, (uint64_t)i * bucket, &len, false, NULL);
        assert_non_null(base[i]);
    }
    for (unsigned k = 0; k < 20000; k++) {
        unsigned i = (unsigned)test_rand_below(seed, n);
        uint64_t off = k % 3 == 0 ? 0 : k % 3 == 1 ? bucket - 1 : test_rand_below(seed, bucket);
        uint64_t gpa = 0;
        assert_int_equal(mapcache_host_to_gpa(mc, base[i] + off, &gpa), 0);
        assert_int_equal(gpa, (uint64_t)i * bucket + off);
    }
    int local;
    uint64_t gpa;
    assert_int_equal(mapcache_host_to_gpa(mc, &local, &gpa), -ENOENT);
    assert_int_equal(mapcache_host_to_gpa(mc, NULL, &gpa), -ENOENT);
    /* Evicted buckets are gone from the reverse map too. */
    mapcache_invalidate(mc);
    assert_int_equal(mapcache_host_to_gpa(mc, base[0], &gpa), -ENOENT);
    free(base);
    free_cache(f, mc);
}

static void reverse_lookup_every_byte_class(void **state)
{
    uint64_t seed = test_seed(__func__);
    /* Page-sized buckets: every mapping is bucket-aligned (one host chunk each). */
    check_reverse_lookup(*state, PAGE, &seed);
    /* 16 KiB buckets: mappings are rarely aligned and straddle two host chunks. */
    check_reverse_lookup(*state, 4 * PAGE, &seed);
}

/* ---- invalidation ------------------------------------------------------------------ */

static void invalidate_drops_unlocked_keeps_locked(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 16 * BUCKET);
    uint8_t *view = memfd_mapper_view(f->mem);
    for (unsigned i = 0; i < 5; i++)
        map_ok(mc, i * BUCKET, 1, false);
    uint8_t *held = map_ok(mc, 2 * BUCKET + 0x40, 8, true);
    map_ok(mc, 2 * BUCKET + 0x40, 8, true);                    /* lock count 2 */

    mapcache_invalidate(mc);
    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.invalidations, 1);
    assert_int_equal(st.unmaps, 4);
    assert_int_equal(st.nr_buckets, 1);
    assert_int_equal(st.nr_locked, 1);
    memcpy(held, "kept!!!", 8);                                /* still mapped */
    assert_memory_equal(view + 2 * BUCKET + 0x40, "kept!!!", 8);
    uint64_t gpa;
    assert_int_equal(mapcache_host_to_gpa(mc, held, &gpa), 0);
    assert_int_equal(gpa, 2 * BUCKET + 0x40);
    assert_int_equal(mapcache_lock_count(mc, held), 2);

    /* Lookups no longer see the kept bucket: they map the frames afresh. */
    uint64_t maps = st.maps;
    uint8_t *fresh = map_ok(mc, 2 * BUCKET + 0x40, 8, false);
    assert_ptr_not_equal(fresh, held);
    assert_memory_equal(fresh, "kept!!!", 8);
    assert_int_equal(stats_of(mc).maps, maps + 1);
    assert_int_equal(stats_of(mc).nr_buckets, 2);
    /* The last unlock of the detached bucket unmaps it; the fresh one stays. */
    assert_int_equal(mapcache_unlock(mc, held, NULL), 0);
    assert_int_equal(stats_of(mc).unmaps, 4);
    assert_int_equal(mapcache_unlock(mc, held + 7, NULL), 0);
    assert_int_equal(stats_of(mc).unmaps, 5);
    assert_int_equal(stats_of(mc).nr_buckets, 1);
    assert_int_equal(stats_of(mc).nr_locked, 0);
    assert_int_equal(mapcache_host_to_gpa(mc, fresh, &gpa), 0);
    assert_ptr_equal(map_ok(mc, 2 * BUCKET + 0x40, 8, false), fresh);

    /* The last-entry fast path does not survive an invalidation. */
    mapcache_invalidate(mc);
    assert_int_equal(stats_of(mc).nr_buckets, 0);
    map_ok(mc, 2 * BUCKET + 0x40, 8, false);
    assert_int_equal(stats_of(mc).maps, maps + 2);
    free_cache(f, mc);
}

/* ---- frames that fail to map -------------------------------------------------------- */

static void failed_frames_are_never_handed_out(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 16 * BUCKET);
    const uint64_t b = 4 * BUCKET, hole_gfn = b / PAGE + 5;
    assert_int_equal(memfd_mapper_set_populated(f->mem, hole_gfn, 1, false), 0);

    /* An access running into the hole is cut before it; the good prefix works. */
    uint64_t len = BUCKET;
    uint8_t *p = mapcache_map(mc, b, &len, false, NULL);
    assert_non_null(p);
    assert_int_equal(len, 5 * PAGE);
    memset(p, 0x5a, len);
    assert_int_equal(stats_of(mc).maps, 1);

    /* An access starting in the hole fails; the unlocked bucket is remapped once. */
    map_fails(mc, hole_gfn * PAGE + 8, 8, false, EFAULT);
    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.maps, 2);
    assert_int_equal(st.bad_page_refusals, 1);
    assert_int_equal(st.misses, 2);
    /* Pages after the hole are fine, and the bucket is still one mapping. */
    p = map_ok(mc, hole_gfn * PAGE + PAGE, BUCKET - 6 * PAGE, false);
    memset(p, 0x6b, BUCKET - 6 * PAGE);
    assert_int_equal(stats_of(mc).nr_buckets, 1);

    /* A locked bucket is never remapped under its holder: the hole just fails. */
    uint8_t *held = map_ok(mc, b, PAGE, true);
    map_fails(mc, hole_gfn * PAGE, 1, true, EFAULT);
    assert_int_equal(stats_of(mc).maps, 2);
    assert_int_equal(mapcache_lock_count(mc, held), 1);
    assert_int_equal(mapcache_unlock(mc, held, NULL), 0);

    /* Once the guest populates the frame, the next access remaps and succeeds. */
    assert_int_equal(memfd_mapper_set_populated(f->mem, hole_gfn, 1, true), 0);
    p = map_ok(mc, hole_gfn * PAGE, 2 * PAGE, false);
    memset(p, 0x7c, 2 * PAGE);
    assert_int_equal(stats_of(mc).maps, 3);
    len = BUCKET;
    assert_non_null(mapcache_map(mc, b, &len, false, NULL));
    assert_int_equal(len, BUCKET);
    free_cache(f, mc);
}

static void frames_outside_guest_fail_cleanly(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 16 * BUCKET);
    map_fails(mc, (uint64_t)GUEST_PAGES * PAGE, 4, false, EFAULT);
    map_fails(mc, UINT64_MAX - 3, 4, true, EFAULT);
    map_fails(mc, UINT64_MAX - 3, 4, false, EFAULT);       /* remapped, still bad */
    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.bad_page_refusals, 3);
    assert_int_equal(st.nr_locked, 0);
    free_cache(f, mc);

    /* A bucket bigger than guest RAM: the part inside works, the rest is refused. */
    const uint64_t big = 32 << 20, end = (uint64_t)GUEST_PAGES * PAGE;
    mc = new_cache(f, big, 2 * big);
    uint64_t len = 100;
    uint8_t *p = mapcache_map(mc, end - 8, &len, false, NULL);
    assert_non_null(p);
    assert_int_equal(len, 8);
    memcpy(p, "lastword", 8);
    assert_memory_equal(memfd_mapper_view(f->mem) + end - 8, "lastword", 8);
    map_fails(mc, end, 1, false, EFAULT);
    free_cache(f, mc);
}

static void whole_map_failure_is_an_error(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 16 * BUCKET);
    f->fail_next_map = ENOMEM;
    Error *err = NULL;
    uint64_t len = 8;
    assert_null(mapcache_map(mc, 3 * BUCKET, &len, true, &err));
    assert_int_equal(err->errnum, ENOMEM);
    assert_string_equal(error_get_pretty(err),
                        "mapcache: cannot map 16 frames at gfn 0x30: Cannot allocate memory");
    error_free(err);
    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.map_failures, 1);
    assert_int_equal(st.nr_buckets, 0);
    assert_int_equal(st.nr_locked, 0);
    map_ok(mc, 3 * BUCKET, 8, false);                      /* nothing cached: retried */
    assert_int_equal(stats_of(mc).maps, 2);

    /* A remap that fails takes the bucket away cleanly. */
    uint64_t gfn = 5 * BUCKET / PAGE;
    memfd_mapper_set_populated(f->mem, gfn + 1, 1, false);
    map_ok(mc, 5 * BUCKET, PAGE, false);
    f->fail_next_map = EIO;
    map_fails(mc, (gfn + 1) * PAGE, 1, false, EIO);
    assert_int_equal(stats_of(mc).nr_buckets, 1);
    memfd_mapper_set_populated(f->mem, gfn + 1, 1, true);
    map_ok(mc, (gfn + 1) * PAGE, 1, false);
    free_cache(f, mc);
}

static void unmap_failure_is_logged_not_fatal(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, BUCKET);
    map_ok(mc, 0, 1, false);
    f->unmap_result = -EINVAL;
    map_ok(mc, BUCKET, 1, false);                          /* evicts: unmap "fails" */
    assert_int_equal(stats_of(mc).unmaps, 1);
    assert_int_equal(stats_of(mc).nr_buckets, 1);
    f->unmap_result = 0;
    free_cache(f, mc);
}

static void bad_arguments(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 16 * BUCKET);
    map_fails(mc, 0, 0, false, EINVAL);                    /* zero length */
    assert_int_equal(stats_of(mc).maps, 0);
    assert_int_equal(stats_of(mc).hits + stats_of(mc).misses, 0);
    assert_int_equal(mapcache_unlock(mc, NULL, NULL), -ENOENT);
    free_cache(f, mc);
}

/* ---- the mapcache as a RAM backend's map and release -------------------------------- */

/* A layout like a PC's: ram_addr [0, 1 MiB) at gpa 0, the rest at gpa + 1 MiB hole,
 * with nothing for ram_addr at or beyond 8 MiB. */
static uint64_t test_ram_to_gpa(void *opaque, ram_addr_t ram_addr, hwaddr *len)
{
    unsigned *calls = opaque;
    (*calls)++;
    const uint64_t low = 1 << 20, end = 8 << 20;
    if (ram_addr >= end)
        return MAPCACHE_NO_GPA;
    uint64_t limit = ram_addr < low ? low : end;
    if (*len > limit - ram_addr)
        *len = limit - ram_addr;
    return ram_addr < low ? ram_addr : ram_addr + low;
}

/* Copy len bytes out of guest RAM at ram_addr the way the access layer does. */
static unsigned backend_read(const RamBackend *h, ram_addr_t ram_addr, uint8_t *buf,
                          hwaddr len)
{
    unsigned pieces = 0;
    while (len) {
        hwaddr l = len;
        uint8_t *p = h->map(h->opaque, ram_addr, &l, false);
        assert_non_null(p);
        assert_true(l > 0 && l <= len);
        memcpy(buf, p, l);
        h->release(h->opaque, p, l, false);
        ram_addr += l;
        buf += l;
        len -= l;
        pieces++;
    }
    return pieces;
}

static void backend_identity_locks_while_copying(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 16 * BUCKET);
    RamBackend h = mapcache_ram_backend(mc, NULL, NULL);
    assert_ptr_equal(h.opaque, mc);
    assert_null(h.alloc);                                   /* the frames exist */
    assert_null(h.modified);
    uint8_t *view = memfd_mapper_view(f->mem);
    for (unsigned i = 0; i < 3 * BUCKET; i++)
        view[i] = (uint8_t)(i * 7);

    hwaddr len = 64;
    uint8_t *p = h.map(h.opaque, BUCKET - 16, &len, true);
    assert_non_null(p);
    assert_int_equal(len, 16);                             /* prefix to the bucket end */
    assert_int_equal(mapcache_lock_count(mc, p), 1);
    h.release(h.opaque, p, len, true);
    assert_int_equal(mapcache_lock_count(mc, p), 0);

    uint8_t buf[2 * BUCKET + 100];
    assert_int_equal(backend_read(&h, 50, buf, sizeof(buf)), 3);
    for (unsigned i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], (uint8_t)((i + 50) * 7));
    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.maps, 3);
    assert_int_equal(st.nr_locked, 0);

    /* Failures come back as NULL, never a crash; a stray release is only logged. */
    memfd_mapper_set_populated(f->mem, 10 * BUCKET / PAGE, 1, false);
    len = 8;
    assert_null(h.map(h.opaque, 10 * BUCKET, &len, true));
    int local;
    h.release(h.opaque, &local, 4, false);
    assert_int_equal(stats_of(mc).nr_locked, 0);
    memfd_mapper_set_populated(f->mem, 10 * BUCKET / PAGE, 1, true);
    free_cache(f, mc);
}

static void backend_converts_ram_addr(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 64 * BUCKET);
    unsigned calls = 0;
    RamBackend h = mapcache_ram_backend(mc, test_ram_to_gpa, &calls);
    uint8_t *view = memfd_mapper_view(f->mem);
    const uint64_t low = 1 << 20;
    memcpy(view + low - 4, "LOW.", 4);
    memcpy(view + 2 * low, "HIGH", 4);                     /* ram_addr low → gpa 2 MiB */

    uint8_t buf[8];
    /* The piece ends where the conversion stops being contiguous, not later. */
    assert_int_equal(backend_read(&h, low - 4, buf, 8), 2);
    assert_memory_equal(buf, "LOW.HIGH", 8);
    assert_int_equal(calls, 2);
    uint64_t gpa;
    hwaddr len = 4;
    uint8_t *p = h.map(h.opaque, low, &len, false);
    assert_int_equal(mapcache_host_to_gpa(mc, p, &gpa), 0);
    assert_int_equal(gpa, 2 * low);
    h.release(h.opaque, p, len, false);

    len = 4;
    assert_null(h.map(h.opaque, 8 << 20, &len, false));   /* no gpa for it */
    assert_int_equal(stats_of(mc).nr_locked, 0);
    free_cache(f, mc);
}

/* ---- end to end: address_space_rw on host-less RAM through the mapcache -------------- */

#define AS_RAM_GPA  0x100000ULL                 /* where the RAM region sits */
#define AS_RAM_SIZE (4ULL << 20)

static ram_addr_t as_ram_base;

/* The caller's conversion: the block's ram_addr range sits at AS_RAM_GPA. */
static uint64_t as_ram_to_gpa(void *opaque, ram_addr_t ram_addr, hwaddr *len)
{
    if (ram_addr < as_ram_base || ram_addr - as_ram_base >= AS_RAM_SIZE)
        return MAPCACHE_NO_GPA;
    return ram_addr - as_ram_base + AS_RAM_GPA;
}

static void address_space_dma_goes_through_mapcache(void **state)
{
    Fake *f = *state;
    MapCache *mc = new_cache(f, BUCKET, 16 * BUCKET);
    uint8_t *view = memfd_mapper_view(f->mem);
    MemoryRegion root, ram;
    AddressSpace as;
    memory_region_init(&root, NULL, "root", UINT64_MAX);
    /* Host stays NULL: every access goes through the mapcache. */
    RamBackend backend = mapcache_ram_backend(mc, as_ram_to_gpa, NULL);
    assert_int_equal(memory_region_init_ram_backed(&ram, "/machine", "ram", AS_RAM_SIZE,
                                                   &backend, NULL), 0);
    assert_null(memory_region_get_ram_ptr(&ram));
    as_ram_base = memory_region_get_ram_addr(&ram);
    assert_int_equal(memory_region_add_subregion(&root, AS_RAM_GPA, &ram, NULL), 0);
    assert_int_equal(address_space_init(&as, &root, "mapcache-test", NULL), 0);

    /* A write straddling a bucket boundary lands in guest RAM, in two pieces. */
    uint8_t w[300], r[300];
    for (unsigned i = 0; i < sizeof(w); i++)
        w[i] = (uint8_t)(i ^ 0x5a);
    const hwaddr at = AS_RAM_GPA + BUCKET - 100;
    assert_int_equal(address_space_write(&as, at, MEMTXATTRS_UNSPECIFIED, w, sizeof(w)),
                     MEMTX_OK);
    assert_memory_equal(view + at, w, sizeof(w));
    assert_int_equal(address_space_read(&as, at, MEMTXATTRS_UNSPECIFIED, r, sizeof(r)),
                     MEMTX_OK);
    assert_memory_equal(r, w, sizeof(r));
    MapCacheStats st = stats_of(mc);
    assert_int_equal(st.maps, 2);
    assert_int_equal(st.nr_locked, 0);                     /* every piece was released */

    /* 1 MiB of DMA maps each new bucket once. */
    static uint8_t big[1 << 20];
    memset(big, 0xc3, sizeof(big));
    assert_int_equal(address_space_write(&as, AS_RAM_GPA, MEMTXATTRS_UNSPECIFIED, big,
                                         sizeof(big)), MEMTX_OK);
    assert_int_equal(stats_of(mc).maps, sizeof(big) / BUCKET);
    assert_int_equal(view[AS_RAM_GPA + sizeof(big) - 1], 0xc3);

    /* DMA running into an unpopulated frame fails cleanly after the good prefix. */
    const hwaddr hole = AS_RAM_GPA + 2 * (1 << 20) + 3 * PAGE;
    memfd_mapper_set_populated(f->mem, hole / PAGE, 1, false);
    memset(big, 0x11, 2 * PAGE);
    assert_int_equal(address_space_write(&as, hole - PAGE, MEMTXATTRS_UNSPECIFIED, big,
                                         2 * PAGE), MEMTX_DECODE_ERROR);
    assert_int_equal(view[hole - 1], 0x11);
    assert_int_equal(address_space_read(&as, hole - 8, MEMTXATTRS_UNSPECIFIED, r, 16),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(r[7], 0x11);
    assert_int_equal(r[8], 0xff);                          /* the failed part reads ones */
    assert_int_equal(stats_of(mc).nr_locked, 0);

    /* After an invalidation the next access maps again. */
    uint64_t maps = stats_of(mc).maps;
    mapcache_invalidate(mc);
    assert_int_equal(address_space_read(&as, at, MEMTXATTRS_UNSPECIFIED, r, 8), MEMTX_OK);
    assert_memory_equal(r, view + at, 8);
    assert_int_equal(r[0], 0xc3);
    assert_int_equal(stats_of(mc).maps, maps + 1);

    address_space_destroy(&as);
    assert_int_equal(memory_region_del_subregion(&root, &ram, NULL), 0);
    memory_region_finalize(&ram);
    memory_region_finalize(&root);
    free_cache(f, mc);
}

/* ---- a random workload against a model ---------------------------------------------- */

/*
 * Random maps (locked or not), unlocks and invalidations, with the cache's counts, the
 * fake's live mappings and every held pointer checked after each step. With `starve`,
 * some maps run with allocations failing (test_oom_arm): such a map may fail, with an
 * Error, and only then; everything after it must still hold.
 */
static void run_random_workload(Fake *f, const char *name, bool starve)
{
    uint64_t seed = test_seed(name);
    MapCache *mc = new_cache(f, BUCKET, 8 * BUCKET);
    uint8_t *view = memfd_mapper_view(f->mem);
    const uint64_t guest = (uint64_t)GUEST_PAGES * PAGE;
    struct { uint8_t *p; uint64_t gpa; } held[32];
    unsigned nr_held = 0;

    for (unsigned step = 0; step < 20000; step++) {
        uint64_t misses = stats_of(mc).misses;
        unsigned op = (unsigned)test_rand_below(&seed, 100);
        if (op < 2) {
            mapcache_invalidate(mc);
        } else if (op < 20 && nr_held) {
            unsigned i = (unsigned)test_rand_below(&seed, nr_held);
            assert_int_equal(*held[i].p, memfd_mapper_view(f->mem)[held[i].gpa]);
            assert_int_equal(mapcache_unlock(mc, held[i].p, NULL), 0);
            held[i] = held[--nr_held];
        } else {
            uint64_t gpa = test_rand_below(&seed, guest);
            uint64_t len = 1 + test_rand_below(&seed, 2 * BUCKET);
            bool lock = op < 35 && nr_held < 32;
            uint64_t got = len;
            unsigned long refused = test_oom_refused();
            if (starve && test_rand_below(&seed, 4) == 0)
                test_oom_arm(test_rand_below(&seed, 3), test_rand_below(&seed, 4) == 0);
            Error *err = NULL;
            uint8_t *p = mapcache_map(mc, gpa, &got, lock, &err);
            test_oom_disarm();
            if (!p) {
                assert_true(test_oom_refused() > refused);  /* no other reason here */
                assert_non_null(err);
                error_free(err);
                continue;
            }
            assert_null(err);
            assert_true(got >= 1 && got <= len);
            assert_true((gpa & (BUCKET - 1)) + got <= BUCKET);
            *p = (uint8_t)(gpa >> 3);
            assert_int_equal(view[gpa], (uint8_t)(gpa >> 3));
            p[got - 1] = (uint8_t)(gpa >> 5);
            assert_int_equal(view[gpa + got - 1], (uint8_t)(gpa >> 5));
            *p = (uint8_t)(gpa >> 3);
            if (lock)
                held[nr_held++] = (typeof(held[0])){ p, gpa };
        }
        MapCacheStats st = stats_of(mc);
        assert_int_equal(st.nr_buckets, f->nr_live);
        if (st.misses != misses)       /* a miss evicts down to the limit or the locks */
            assert_true(st.nr_buckets <= 8 || st.nr_buckets <= st.nr_locked + 1);
        assert_true(st.nr_locked <= nr_held);
        assert_int_equal(st.maps, f->maps);
        assert_int_equal(st.unmaps, f->unmaps);
        for (unsigned i = 0; i < nr_held; i++) {
            uint64_t gpa;
            assert_int_equal(mapcache_host_to_gpa(mc, held[i].p, &gpa), 0);
            assert_int_equal(gpa, held[i].gpa);
            assert_true(mapcache_lock_count(mc, held[i].p) >= 1);
        }
    }
    free_cache(f, mc);                                     /* unmaps locked ones too */
}

static void random_workload_keeps_invariants(void **state)
{
    run_random_workload(*state, __func__, false);
}

static void random_workload_survives_allocation_failures(void **state)
{
    unsigned long before = test_oom_refused();
    run_random_workload(*state, __func__, true);
    assert_true(test_oom_refused() > before);   /* failures were injected */
}

/* ---- the memfd mapper itself ---------------------------------------------------------- */

static void memfd_mapper_reports_per_page_errors(void **state)
{
    Error *err = NULL;
    assert_null(memfd_mapper_new(0, &err));
    assert_int_equal(err->errnum, EINVAL);
    error_free(err);
    err = NULL;
    assert_null(memfd_mapper_new((1ULL << 40) + 1, &err));
    assert_int_equal(err->errnum, EINVAL);
    error_free(err);
    err = NULL;
    assert_null(memfd_mapper_new(1ULL << 40, &err));      /* 4 PiB: cannot be mapped */
    assert_non_null(err);
    error_free(err);

    MemfdMapper *m = memfd_mapper_new(8, NULL);
    assert_non_null(m);
    assert_int_equal(memfd_mapper_set_populated(m, 7, 2, false), -EINVAL);
    assert_int_equal(memfd_mapper_set_populated(m, UINT64_MAX, 1, false), -EINVAL);
    assert_int_equal(memfd_mapper_set_populated(m, 2, 1, false), 0);
    int errs[10];
    uint8_t *p = memfd_mapper_ops.map(m, 0, 10, PROT_READ | PROT_WRITE, errs);
    assert_non_null(p);
    for (int i = 0; i < 10; i++)
        assert_int_equal(errs[i], i == 2 ? -ENOENT : i >= 8 ? -EINVAL : 0);
    p[3 * PAGE] = 0x42;
    assert_int_equal(memfd_mapper_view(m)[3 * PAGE], 0x42);
    assert_int_equal(memfd_mapper_ops.unmap(m, p, 10), 0);

    errno = 0;
    assert_null(memfd_mapper_ops.map(m, 0, 0, PROT_READ, errs));
    assert_int_equal(errno, EINVAL);
    p = memfd_mapper_ops.map(m, UINT64_MAX, 2, PROT_READ, errs);
    assert_non_null(p);
    assert_int_equal(errs[0], -EINVAL);
    assert_int_equal(errs[1], -EINVAL);                    /* wrapped: still outside */
    assert_int_equal(memfd_mapper_ops.unmap(m, p, 2), 0);
    memfd_mapper_free(m);
    memfd_mapper_free(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fake_setup, fake_teardown)

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        T(config_defaults),
        T(config_rejects_bad_values),
        T(counts_hits_misses_and_maps),
        T(clips_at_bucket_end_for_straddling_access),
        T(evicts_least_recently_used),
        T(size_limit_edges),
        T(locked_bucket_is_never_evicted),
        T(all_locked_grows_past_limit_then_shrinks),
        T(lock_counts),
        T(lock_count_limit),
        T(reverse_lookup_every_byte_class),
        T(invalidate_drops_unlocked_keeps_locked),
        T(failed_frames_are_never_handed_out),
        T(frames_outside_guest_fail_cleanly),
        T(whole_map_failure_is_an_error),
        T(unmap_failure_is_logged_not_fatal),
        T(bad_arguments),
        T(backend_identity_locks_while_copying),
        T(backend_converts_ram_addr),
        T(address_space_dma_goes_through_mapcache),
        T(random_workload_keeps_invariants),
        T(random_workload_survives_allocation_failures),
        cmocka_unit_test(memfd_mapper_reports_per_page_errors),
    };
    return cmocka_run_group_tests_name("mapcache", tests, NULL, NULL);
}
