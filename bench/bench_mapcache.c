/*
 * bench/bench_mapcache.c — mapcache lookup cost and map-call count.
 *
 * Guest RAM is a memfd (the memfd mapper), wrapped to count map calls independently of
 * the cache's own counters. Rows:
 *   mapcache.hit_ns         ns per mapcache_map() hit, over 64 mapped buckets visited
 *                           in a scattered order (the hash path, not only last-entry)
 *   mapcache.hit_last_ns    ns per hit on the bucket of the previous lookup
 *   mapcache.hook_pair_ns   ns per RAM backend map+release (locked) on a hit
 *   mapcache.maps_per_gib   map calls for a 1 GiB sequential read through the backend in
 *                           64 KiB pieces, looping on shortened lengths as the access
 *                           layer does (goal: one per 1 MiB bucket, 1024)
 *   mapcache.maps_per_gib_4k  the same in 4 KiB pieces
 * Timings are the best of HIT_ROUNDS rounds, to filter out other load on the machine.
 * The process exits non-zero when a map count misses its goal.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/support.h"
#include "mapcache/mapcache.h"

#define GIB         (1ULL << 30)
#define MAX_CHUNK   (64u << 10)
#define HIT_BUCKETS 64u
#define HIT_LOOKUPS (1u << 16)  /* per round: short, so some rounds run unpreempted */
#define HIT_ROUNDS  256u        /* the best round counts: the machine is shared */

typedef struct CountingMapper {
    MemfdMapper *mem;
    uint64_t maps;
} CountingMapper;

static void *counting_map(void *opaque, uint64_t first_gfn, size_t nr, int prot, int *err)
{
    CountingMapper *c = opaque;
    c->maps++;
    return memfd_mapper_ops.map(c->mem, first_gfn, nr, prot, err);
}

static int counting_unmap(void *opaque, void *host, size_t nr)
{
    CountingMapper *c = opaque;
    return memfd_mapper_ops.unmap(c->mem, host, nr);
}

static const MapperOps counting_ops = { .map = counting_map, .unmap = counting_unmap };

static MapCache *new_cache(CountingMapper *c)
{
    Error *err = NULL;
    MapCache *mc = mapcache_new(NULL, &counting_ops, c, &err);
    if (!mc) {
        fprintf(stderr, "bench_mapcache: %s\n", error_get_pretty(err));
        exit(1);
    }
    return mc;
}

static void *must_map(MapCache *mc, uint64_t gpa, uint64_t *len, bool lock)
{
    void *p = mapcache_map(mc, gpa, len, lock, NULL);
    if (!p) {
        fprintf(stderr, "bench_mapcache: map of gpa 0x%" PRIx64 " failed\n", gpa);
        exit(1);
    }
    return p;
}

/* One timed round of HIT_LOOKUPS operations on mc; returns an XOR of the pointers. */
typedef uintptr_t (*Round)(MapCache *mc);

static double best_of_rounds(MapCache *mc, Round round)
{
    double best = 1e30;
    uintptr_t sink = 0;
    for (unsigned r = 0; r < HIT_ROUNDS; r++) {
        double t0 = bench_wall_ns();
        sink ^= round(mc);
        double ns = (bench_wall_ns() - t0) / HIT_LOOKUPS;
        if (ns < best)
            best = ns;
    }
    if (sink == 1)
        puts("");               /* keeps the work from being optimised away */
    return best;
}

/* Hits over HIT_BUCKETS buckets, stepping by a stride coprime with their count. */
static uintptr_t round_hit_scattered(MapCache *mc)
{
    const uint64_t bucket = mapcache_bucket_size(mc);
    uintptr_t sink = 0;
    unsigned b = 0;
    for (unsigned i = 0; i < HIT_LOOKUPS; i++) {
        uint64_t len = 8;
        b = (b + 37) % HIT_BUCKETS;
        sink ^= (uintptr_t)must_map(mc, b * bucket + (i & 0xff8), &len, false);
    }
    return sink;
}

static uintptr_t round_hit_last(MapCache *mc)
{
    uintptr_t sink = 0;
    for (unsigned i = 0; i < HIT_LOOKUPS; i++) {
        uint64_t len = 8;
        sink ^= (uintptr_t)must_map(mc, 0x1000 + (i & 0xfff8), &len, false);
    }
    return sink;
}

static uintptr_t round_hook_pair(MapCache *mc)
{
    RamBackend h = mapcache_ram_backend(mc, NULL, NULL);
    uintptr_t sink = 0;
    for (unsigned i = 0; i < HIT_LOOKUPS; i++) {
        hwaddr len = 8;
        void *p = h.map(h.opaque, 0x2000 + (i & 0xfff8), &len, false);
        sink ^= (uintptr_t)p;
        h.release(h.opaque, p, len, false);
    }
    return sink;
}

/* Read 1 GiB sequentially through the backend in `chunk`-byte pieces, looping on
 * shortened lengths; returns the map calls it took. */
static uint64_t sequential_dma_maps(CountingMapper *c, uint32_t chunk, MapCacheStats *st)
{
    MapCache *mc = new_cache(c);
    RamBackend h = mapcache_ram_backend(mc, NULL, NULL);
    static uint8_t buf[MAX_CHUNK];
    uint64_t before = c->maps;
    for (uint64_t addr = 0; addr < GIB; addr += chunk) {
        hwaddr done = 0;
        while (done < chunk) {
            hwaddr len = chunk - done;
            void *p = h.map(h.opaque, addr + done, &len, false);
            if (!p) {
                fprintf(stderr, "bench_mapcache: DMA at 0x%" PRIx64 " failed\n", addr + done);
                exit(1);
            }
            memcpy(buf + done, p, len);
            h.release(h.opaque, p, len, false);
            done += len;
        }
    }
    mapcache_get_stats(mc, st);
    mapcache_free(mc);
    return c->maps - before;
}

int main(void)
{
    Error *err = NULL;
    CountingMapper c = { .mem = memfd_mapper_new(GIB / MAPCACHE_PAGE_SIZE, &err) };
    if (!c.mem) {
        fprintf(stderr, "bench_mapcache: %s\n", error_get_pretty(err));
        return 1;
    }
    MapCache *mc = new_cache(&c);
    for (unsigned b = 0; b < HIT_BUCKETS; b++) {
        uint64_t len = 8;
        must_map(mc, b * mapcache_bucket_size(mc), &len, false);
    }
    double hit = best_of_rounds(mc, round_hit_scattered);
    double last = best_of_rounds(mc, round_hit_last);
    double pair = best_of_rounds(mc, round_hook_pair);
    mapcache_free(mc);

    MapCacheStats st, st4k;
    uint64_t maps = sequential_dma_maps(&c, 64u << 10, &st);
    uint64_t maps4k = sequential_dma_maps(&c, 4u << 10, &st4k);
    memfd_mapper_free(c.mem);

    const unsigned long long want = GIB / MAPCACHE_DEFAULT_BUCKET_SIZE;
    printf("# bucket size %llu KiB; sequential DMA: %" PRIu64 "/%" PRIu64 " hits/misses "
           "in 64 KiB pieces, %" PRIu64 "/%" PRIu64 " in 4 KiB pieces\n",
           MAPCACHE_DEFAULT_BUCKET_SIZE >> 10, st.hits, st.misses, st4k.hits, st4k.misses);
    printf("row\tmapcache.hit_ns\t%.1f\tns\tgoal <= 15 (64 buckets, scattered order)\n", hit);
    printf("row\tmapcache.hit_last_ns\t%.1f\tns\tlast-entry fast path\n", last);
    printf("row\tmapcache.hook_pair_ns\t%.1f\tns\tRAM backend map+release, locked, on a hit\n",
           pair);
    printf("row\tmapcache.maps_per_gib\t%" PRIu64 "\tcalls\tgoal exactly %llu (one per "
           "bucket, 64 KiB pieces)\n", maps, want);
    printf("row\tmapcache.maps_per_gib_4k\t%" PRIu64 "\tcalls\tgoal exactly %llu (one per "
           "bucket, 4 KiB pieces)\n", maps4k, want);
    return maps == want && maps4k == want ? 0 : 1;
}
