/*
 * bench/bench_memory_commit.c — cost of committing a one-region change.
 *
 * An address space holds N io regions of one page each, every other page (so the
 * FlatView has N ranges) and a listener like the Xen one (counts region_add/del). Each
 * measured commit is one edit of one random region: alternately a move into a free
 * page and back, or an enable toggle. The figure is the mean wall-clock time per
 * commit, render + splice + dispatch update + listener announcement included, as
 * thread CPU time (the machine running the benchmarks is shared; wall-clock time is
 * printed beside it).
 * For comparison, memory.render_full_1e5 is one full render of the 10^5-region tree,
 * which is what re-rendering the whole view on every commit (QEMU's way) costs before
 * even rebuilding dispatch.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/support.h"
#include "memory/memory-internal.h"
#include "util/log.h"
#include "util/macros.h"

#define PAGE 0x1000ULL

static uint64_t adds, dels;

static void count_add(MemoryListener *l, MemoryRegionSection *s) { adds++; }
static void count_del(MemoryListener *l, MemoryRegionSection *s) { dels++; }

static double now_us(clockid_t clock)
{
    return bench_clock_ns(clock) / 1e3;
}

typedef struct Setup {
    MemoryRegion root;
    MemoryRegion *regions;
    AddressSpace as;
    MemoryListener listener;
    size_t n;
} Setup;

static void setup(Setup *s, size_t n)
{
    s->n = n;
    s->regions = calloc(n, sizeof(*s->regions));
    if (!s->regions) {
        fprintf(stderr, "out of memory for %zu regions\n", n);
        exit(1);
    }
    memory_region_init(&s->root, NULL, "root", UINT64_MAX);
    if (address_space_init(&s->as, &s->root, "bench", NULL) < 0)
        exit(1);
    memory_region_transaction_begin();
    for (size_t i = 0; i < n; i++) {
        memory_region_init_io(&s->regions[i], NULL, NULL, NULL, "dev", PAGE);
        if (memory_region_add_subregion(&s->root, 2 * PAGE * i, &s->regions[i], NULL) < 0)
            exit(1);
    }
    memory_region_transaction_commit();
    s->listener = (MemoryListener){ .region_add = count_add, .region_del = count_del };
    memory_listener_register(&s->listener, &s->as);
}

static void teardown(Setup *s)
{
    memory_listener_unregister(&s->listener);
    memory_region_transaction_begin();
    for (size_t i = 0; i < s->n; i++)
        memory_region_del_subregion(&s->root, &s->regions[i], NULL);
    memory_region_transaction_commit();
    address_space_destroy(&s->as);
    for (size_t i = 0; i < s->n; i++)
        memory_region_finalize(&s->regions[i]);
    memory_region_finalize(&s->root);
    free(s->regions);
}

/* Mean µs per commit of a one-region edit: thread CPU time (what the model costs,
 * steady on a shared machine) and wall-clock time. */
static double measure_commits(Setup *s, unsigned commits, double *wall_us)
{
    double t0 = now_us(CLOCK_THREAD_CPUTIME_ID), w0 = now_us(CLOCK_MONOTONIC);
    for (unsigned k = 0; k < commits; k += 2) {
        MemoryRegion *mr = &s->regions[bench_rand_below(s->n)];
        if (k % 4 == 0) {
            hwaddr home = mr->addr;
            memory_region_set_address(mr, home + PAGE);     /* the free page after it */
            memory_region_set_address(mr, home);
        } else {
            memory_region_set_enabled(mr, false);
            memory_region_set_enabled(mr, true);
        }
    }
    *wall_us = (now_us(CLOCK_MONOTONIC) - w0) / commits;
    return (now_us(CLOCK_THREAD_CPUTIME_ID) - t0) / commits;
}

static double measure_full_render(Setup *s)
{
    double t0 = now_us(CLOCK_THREAD_CPUTIME_ID);
    FlatView *fv = flatview_render(&s->root, NULL);
    double t = now_us(CLOCK_THREAD_CPUTIME_ID) - t0;
    if (!fv || fv->nr != s->n)
        exit(1);
    flatview_unref(fv);
    return t;
}

int main(void)
{
    static const struct { const char *row; size_t n; unsigned commits; } cases[] = {
        { "memory.commit_1e3", 1000, 4000 },
        { "memory.commit_1e4", 10000, 2000 },
        { "memory.commit_1e5", 100000, 1000 },
    };
    log_set_level(LOG_ERROR);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        Setup s;
        setup(&s, cases[i].n);
        double wall;
        measure_commits(&s, 100, &wall);                    /* warm up */
        double us = measure_commits(&s, cases[i].commits, &wall);
        printf("row\t%s\t%.2f\tus\tCPU time per one-region move/toggle commit, %zu "
               "regions (wall %.2f us); goal < 1000 at 1e5\n", cases[i].row, us, cases[i].n,
               wall);
        if (cases[i].n == 100000)
            printf("row\tmemory.render_full_1e5\t%.0f\tus\tone full render of the same tree, "
                   "for comparison (no dispatch)\n", measure_full_render(&s));
        teardown(&s);
    }
    printf("# listener saw %" PRIu64 " adds, %" PRIu64 " dels\n", adds, dels);
    return 0;
}
