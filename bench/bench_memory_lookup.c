/*
 * bench/bench_memory_lookup.c — dispatch page map speed.
 *
 * Rows: memory.lookup_ns (random addresses over 10^4 sections, mixed sub-page and
 * multi-page sizes), memory.lookup_section_ns (a random section each time, so sub-page
 * sections weigh as much as big ones), memory.lookup_mru_ns (repeated lookups in one
 * section), and, for the commit path, memory.dispatch_build_us (full build of 10^5
 * sections) and memory.dispatch_update_us (incremental update for one changed range
 * among 10^5). Times are the thread's CPU time (the machine may be shared), best of 5.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/support.h"
#include "memory/memory-internal.h"

#define LOOKUP_SECTIONS   10000u
#define COMMIT_SECTIONS   100000u
#define NR_ADDRS          (1u << 16)

static MemoryRegion region;

/* nr ranges back to back from 0: a third sub-page (16 B .. 2 KiB), the rest 4 KiB ..
 * 256 KiB, one in sixteen followed by a gap. */
static FlatView *make_view(unsigned nr)
{
    FlatView *fv = calloc(1, sizeof(*fv));
    fv->ranges = calloc(nr, sizeof(FlatRange));
    if (!fv->ranges)
        abort();
    fv->ref = 1;
    fv->nr = fv->nr_allocated = nr;
    hwaddr at = 0;
    for (unsigned i = 0; i < nr; i++) {
        uint64_t size = bench_rand_below(3) == 0 ? 16 + bench_rand_below(2032)
                                                 : 4096 + bench_rand_below(256 << 10);
        fv->ranges[i] = (FlatRange){ .mr = &region, .addr = at, .size = size };
        at += size + (bench_rand_below(16) == 0 ? 4096 : 0);
    }
    return fv;
}

static AddressSpaceDispatch *build(FlatView *fv)
{
    Error *err = NULL;
    AddressSpaceDispatch *d = address_space_dispatch_new(fv, &err);
    if (!d) {
        fprintf(stderr, "bench: %s\n", error_get_pretty(err));
        exit(1);
    }
    return d;
}

/* Best-of-5 ns per lookup of addrs[], NR_ADDRS of them, repeated `rounds` times. */
static double time_lookups(AddressSpaceDispatch *d, const hwaddr *addrs, unsigned rounds,
                           uintptr_t *sink)
{
    double best = 1e30;
    for (unsigned rep = 0; rep < 5; rep++) {
        double t0 = bench_cpu_ns();
        for (unsigned r = 0; r < rounds; r++)
            for (unsigned i = 0; i < NR_ADDRS; i++)
                *sink += (uintptr_t)address_space_dispatch_lookup(d, addrs[i]);
        double ns = (bench_cpu_ns() - t0) / ((double)rounds * NR_ADDRS);
        best = ns < best ? ns : best;
    }
    return best;
}

static void bench_lookup(void)
{
    FlatView *fv = make_view(LOOKUP_SECTIONS);
    AddressSpaceDispatch *d = build(fv);
    hwaddr span = (hwaddr)flatrange_end(&fv->ranges[fv->nr - 1]);
    hwaddr *addrs = malloc(NR_ADDRS * sizeof(hwaddr));
    uintptr_t sink = 0;
    for (unsigned i = 0; i < NR_ADDRS; i++)
        addrs[i] = bench_rand() % span;
    printf("row\tmemory.lookup_ns\t%.1f\tns\tgoal <= 50 (random addresses, %u sections)\n",
           time_lookups(d, addrs, 64, &sink), LOOKUP_SECTIONS);
    for (unsigned i = 0; i < NR_ADDRS; i++) {
        const FlatRange *fr = &fv->ranges[bench_rand() % fv->nr];
        addrs[i] = fr->addr + bench_rand() % (uint64_t)fr->size;
    }
    printf("row\tmemory.lookup_section_ns\t%.1f\tns\t"
           "random section, random offset (%u sections)\n",
           time_lookups(d, addrs, 64, &sink), LOOKUP_SECTIONS);

    /* MRU: addresses inside one section, so the page map is never walked. */
    for (unsigned i = 0; i < NR_ADDRS; i++)
        addrs[i] = fv->ranges[fv->nr / 2].addr + (i & 7);
    printf("row\tmemory.lookup_mru_ns\t%.1f\tns\tgoal <= 10 (same section again)\n",
           time_lookups(d, addrs, 64, &sink));
    printf("# sink %" PRIuPTR "\n", sink);
    address_space_dispatch_free(d);
    free(addrs);
    free(fv->ranges);
    free(fv);
}

static void bench_commit(void)
{
    FlatView *fv = make_view(COMMIT_SECTIONS);
    double best = 1e30;
    for (unsigned rep = 0; rep < 5; rep++) {
        double t0 = bench_cpu_ns();
        AddressSpaceDispatch *d = build(fv);
        double us = (bench_cpu_ns() - t0) / 1e3;
        best = us < best ? us : best;
        address_space_dispatch_free(d);
    }
    printf("row\tmemory.dispatch_build_us\t%.0f\tus\tfull page-map build, %u sections\n",
           best, COMMIT_SECTIONS);

    /* Toggle one mid-view range between two regions, as a commit that edits it would. */
    AddressSpaceDispatch *d = build(fv);
    static MemoryRegion other;
    FlatRange *fr = &fv->ranges[COMMIT_SECTIONS / 2];
    unsigned updates = 1000;
    double t0 = bench_cpu_ns();
    for (unsigned i = 0; i < updates; i++) {
        fr->mr = (i & 1) ? &region : &other;
        if (address_space_dispatch_update(d, fv, fr->addr, fr->size, NULL)) {
            fprintf(stderr, "bench: dispatch update failed\n");
            exit(1);
        }
    }
    double us = (bench_cpu_ns() - t0) / 1e3 / updates;
    printf("row\tmemory.dispatch_update_us\t%.2f\tus\tincremental update of 1 of %u sections\n",
           us, COMMIT_SECTIONS);
    address_space_dispatch_free(d);
    free(fv->ranges);
    free(fv);
}

int main(void)
{
    bench_lookup();
    bench_commit();
    return 0;
}
