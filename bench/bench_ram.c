/*
 * bench/bench_ram.c — RAM block placement and dirty marking.
 *
 * ram.alloc_1e3_us / ram.alloc_1e4_us: µs per qemu_ram_alloc with 10^3 / 10^4 blocks
 * live, in a fragmented list (random sizes, random frees): the median over 301 rounds
 * of 100 allocations, best of 3 alternating runs. Blocks come from a backend that
 * provides no host memory, as under Xen, so the figure is placement + bookkeeping, not
 * mmap. The seed's find_ram_offset is quadratic in the block count; the goal is a 10^4
 * figure at most 2x the 10^3 one.
 *
 * ram.dirty_gbps: GiB of guest memory marked dirty per second by 2 MiB
 * cpu_physical_memory_set_dirty_range calls (all three clients), beside
 * ram.dirty_limit_gbps: memset(0xff) of the same bitmap bytes per 2 MiB chunk (64 bytes
 * per client) — the cost of the writes alone. Goal: at least half the limit.
 *
 * All times are this thread's CPU time, the best of alternating runs (3 for placement,
 * 15 short ones for dirty marking): the machine is shared with builds and other
 * benchmarks, and wall time measured mostly their load.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/support.h"
#include "memory/memory.h"
#include "memory/ram-internal.h"

#define PAGE RAM_PAGE_SIZE
#define CHUNK (2ULL << 20)
#define DIRTY_GUEST_BYTES (4ULL << 30)
/* Many short alternating runs rather than a few long ones: a burst of load from the
 * other core (or steal time, which counts as our CPU time in a VM) then spoils a
 * few runs of each side instead of deciding a whole figure. */
#define DIRTY_RUNS 15
#define DIRTY_RUN_S 0.1

static double cpu_s(void)
{
    return bench_cpu_ns() * 1e-9;
}

/* Blocks without host memory, as under Xen (nothing maps them here). */
static const RamBackend no_host_memory = { 0 };

static RAMBlock *alloc_or_die(void)
{
    Error *err = NULL;
    RAMBlock *b = qemu_ram_alloc((1 + bench_rand_below(16)) * PAGE, &no_host_memory, NULL,
                                 &err);
    if (!b) {
        fprintf(stderr, "bench_ram: %s\n", error_get_pretty(err));
        exit(1);
    }
    return b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/*
 * Keep `live` blocks, fragmented by replacing random ones; then time rounds of
 * ALLOC_BATCH allocations, freeing random blocks after each round so `live` stay.
 * Returns the median over rounds of µs per allocation (the machine is shared: the
 * median ignores rounds where another process took the CPU).
 */
#define ALLOC_BATCH 100
#define ALLOC_ROUNDS 301

static double alloc_us_with_live(unsigned live)
{
    unsigned cap = live + ALLOC_BATCH;
    RAMBlock **blocks = calloc(cap, sizeof(*blocks));
    static double per_round[ALLOC_ROUNDS];
    if (!blocks)
        exit(1);
    ram_reset_for_tests();
    for (unsigned i = 0; i < live; i++)
        blocks[i] = alloc_or_die();
    for (unsigned i = 0; i < 4 * live; i++) {       /* fragment */
        unsigned k = (unsigned)bench_rand_below(live);
        qemu_ram_free(blocks[k]);
        blocks[k] = alloc_or_die();
    }

    for (unsigned r = 0; r < ALLOC_ROUNDS; r++) {
        double t0 = cpu_s();
        for (unsigned i = live; i < cap; i++)
            blocks[i] = alloc_or_die();
        per_round[r] = (cpu_s() - t0) * 1e6 / ALLOC_BATCH;
        for (unsigned i = cap; i-- > live;) {       /* free random ones, keep `live` */
            unsigned k = (unsigned)bench_rand_below(i + 1);
            RAMBlock *victim = blocks[k];
            blocks[k] = blocks[i];
            qemu_ram_free(victim);
        }
    }
    ram_reset_for_tests();
    free(blocks);
    qsort(per_round, ALLOC_ROUNDS, sizeof(per_round[0]), cmp_double);
    return per_round[ALLOC_ROUNDS / 2];
}

static double dirty_set_gbps(void)
{
    uint64_t passes = 0;
    double t0 = cpu_s(), t;
    do {
        for (ram_addr_t a = 0; a < DIRTY_GUEST_BYTES; a += CHUNK)
            cpu_physical_memory_set_dirty_range(a, CHUNK, DIRTY_CLIENTS_ALL);
        passes++;
    } while ((t = cpu_s() - t0) < DIRTY_RUN_S);
    if (!cpu_physical_memory_get_dirty(DIRTY_GUEST_BYTES - PAGE, PAGE, DIRTY_MEMORY_CODE)) {
        fprintf(stderr, "bench_ram: set_dirty_range did not mark the last page\n");
        exit(1);
    }
    return (double)(passes * DIRTY_GUEST_BYTES) / t / (double)(1ULL << 30);
}

/*
 * The limit: memset of the very bitmap bytes set_dirty_range writes (ram_list's own
 * bitmaps, so placement and alignment are the same for both), per 2 MiB chunk or as
 * one memset per whole bitmap.
 */
static double memset_limit_gbps(bool per_chunk)
{
    const size_t chunk_bytes = CHUNK / PAGE / 8, total = DIRTY_GUEST_BYTES / PAGE / 8;
    uint64_t passes = 0;
    double t0 = cpu_s(), t;
    do {
        for (unsigned c = 0; c < DIRTY_MEMORY_NUM && !per_chunk; c++)
            memset(ram_list.dirty_memory[c], 0xff, total);
        for (size_t off = 0; off < total && per_chunk; off += chunk_bytes) {
            for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++)
                memset((char *)ram_list.dirty_memory[c] + off, 0xff, chunk_bytes);
        }
        passes++;
        __asm__ volatile("" ::: "memory");  /* the stores must happen every pass */
    } while ((t = cpu_s() - t0) < DIRTY_RUN_S);
    return (double)(passes * DIRTY_GUEST_BYTES) / t / (double)(1ULL << 30);
}

int main(void)
{
    /* Alternate the two sizes and keep each one's best median, so a burst of load
     * from other processes on this shared machine does not decide the ratio. */
    double us_1e3 = 1e9, us_1e4 = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double a = alloc_us_with_live(1000), b = alloc_us_with_live(10000);
        us_1e3 = a < us_1e3 ? a : us_1e3;
        us_1e4 = b < us_1e4 ? b : us_1e4;
    }
    printf("row\tram.alloc_1e3_us\t%.3f\tus\tper qemu_ram_alloc, 10^3 blocks live "
           "(placement only, Xen-style backend)\n", us_1e3);
    printf("row\tram.alloc_1e4_us\t%.3f\tus\tgoal <= 2x ram.alloc_1e3_us: %.2fx %s\n",
           us_1e4, us_1e4 / us_1e3, us_1e4 <= 2 * us_1e3 ? "(met)" : "(NOT met)");

    ram_reset_for_tests();
    if (!qemu_ram_alloc(DIRTY_GUEST_BYTES, &no_host_memory, NULL, NULL)) {
        fprintf(stderr, "bench_ram: cannot allocate the dirty-bitmap block\n");
        return 1;
    }
    double gbps = 0, limit = 0, bulk = 0;
    for (int rep = 0; rep < DIRTY_RUNS; rep++) {    /* alternate; keep each one's best */
        double g = dirty_set_gbps(), l = memset_limit_gbps(true), b = memset_limit_gbps(false);
        gbps = g > gbps ? g : gbps;
        limit = l > limit ? l : limit;
        bulk = b > bulk ? b : bulk;
    }
    printf("row\tram.dirty_gbps\t%.0f\tGiB/s\t2 MiB set_dirty_range calls, 3 clients; "
           "goal >= 0.5x ram.dirty_limit_gbps: %.2fx %s\n",
           gbps, gbps / limit, gbps >= 0.5 * limit ? "(met)" : "(NOT met)");
    printf("row\tram.dirty_limit_gbps\t%.0f\tGiB/s\tmemset(0xff) of the same bitmap bytes, "
           "64 B per client per 2 MiB (one bulk memset of whole bitmaps: %.0f GiB/s)\n",
           limit, bulk);
    ram_reset_for_tests();
    return 0;
}
