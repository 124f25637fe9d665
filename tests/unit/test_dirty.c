/*
 * Unit tests for dirty memory (memory/dirty.c): set / get / test-and-clear /
 * snapshot-and-clear checked against a plain bool-per-page model over random ranges
 * (any alignment, word edges, whole 64-byte lines), per-client masks, clipping at the
 * end of the bitmaps, cache-line alignment across growth, and atomicity under a
 * concurrent reader that clears while a writer sets bits or whole lines.
 */
#include "tests/unit/support.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "memory/memory.h"
#include "memory/ram-internal.h"

#define PAGE RAM_PAGE_SIZE
#define BITS_PER_LONG (8 * sizeof(unsigned long))

/* Blocks without host memory (nothing maps them): any size is cheap. */
static const RamBackend no_host_memory = { 0 };

/* A fresh list with one block of `pages` pages, its dirty bits all cleared. */
static RAMBlock *setup_block(uint64_t pages)
{
    ram_reset_for_tests();
    RAMBlock *b = qemu_ram_alloc(pages * PAGE, &no_host_memory, NULL, NULL);
    assert_non_null(b);
    cpu_physical_memory_clear_dirty_range(0, pages * PAGE);
    return b;
}

static int teardown(void **state)
{
    ram_reset_for_tests();
    return 0;
}

static bool bit_of(const unsigned long *bm, uint64_t i)
{
    return bm[i / BITS_PER_LONG] >> (i % BITS_PER_LONG) & 1;
}

static void set_get_and_masks(void **state)
{
    setup_block(256);
    /* A byte range marks every page it touches. */
    cpu_physical_memory_set_dirty_range(PAGE - 1, 2, 1u << DIRTY_MEMORY_VGA);
    assert_true(cpu_physical_memory_get_dirty(0, PAGE, DIRTY_MEMORY_VGA));
    assert_true(cpu_physical_memory_get_dirty(PAGE, 1, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(2 * PAGE, 254 * PAGE, DIRTY_MEMORY_VGA));
    /* Only the clients in the mask. */
    assert_false(cpu_physical_memory_get_dirty(0, 256 * PAGE, DIRTY_MEMORY_CODE));
    assert_false(cpu_physical_memory_get_dirty(0, 256 * PAGE, DIRTY_MEMORY_MIGRATION));
    cpu_physical_memory_set_dirty_range(64 * PAGE, 64 * PAGE,
                                        1u << DIRTY_MEMORY_CODE | 1u << DIRTY_MEMORY_MIGRATION);
    assert_true(cpu_physical_memory_get_dirty(127 * PAGE, PAGE, DIRTY_MEMORY_CODE));
    assert_false(cpu_physical_memory_get_dirty(128 * PAGE, PAGE, DIRTY_MEMORY_CODE));
    assert_false(cpu_physical_memory_get_dirty(63 * PAGE, PAGE, DIRTY_MEMORY_MIGRATION));
    assert_false(cpu_physical_memory_get_dirty(64 * PAGE, 64 * PAGE, DIRTY_MEMORY_VGA));
    /* Zero length marks and reports nothing. */
    cpu_physical_memory_set_dirty_range(200 * PAGE, 0, DIRTY_CLIENTS_ALL);
    assert_false(cpu_physical_memory_get_dirty(200 * PAGE, PAGE, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(0, 0, DIRTY_MEMORY_VGA));
    /* Clearing one range clears it for every client. */
    cpu_physical_memory_clear_dirty_range(64 * PAGE, 32 * PAGE);
    assert_false(cpu_physical_memory_get_dirty(64 * PAGE, 32 * PAGE, DIRTY_MEMORY_CODE));
    assert_true(cpu_physical_memory_get_dirty(96 * PAGE, PAGE, DIRTY_MEMORY_MIGRATION));
}

static void ranges_beyond_the_bitmaps_are_clipped(void **state)
{
    setup_block(10);
    assert_int_equal(ram_dirty_bitmap_pages(), 10);
    /* Straddling the end: the part inside is marked, the rest ignored. */
    cpu_physical_memory_set_dirty_range(8 * PAGE, 100 * PAGE, DIRTY_CLIENTS_ALL);
    assert_true(cpu_physical_memory_get_dirty(9 * PAGE, PAGE, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(10 * PAGE, 1000 * PAGE, DIRTY_MEMORY_VGA));
    /* Wholly outside, or wrapping the top of the address space: no effect, no crash. */
    cpu_physical_memory_set_dirty_range(UINT64_MAX - 10, 100, DIRTY_CLIENTS_ALL);
    cpu_physical_memory_set_dirty_range(5 * PAGE, UINT64_MAX, 1u << DIRTY_MEMORY_CODE);
    assert_true(cpu_physical_memory_get_dirty(9 * PAGE, PAGE, DIRTY_MEMORY_CODE));
    assert_false(cpu_physical_memory_test_and_clear_dirty(20 * PAGE, PAGE, DIRTY_MEMORY_VGA));
    unsigned long dest[2] = { ~0UL, ~0UL };
    assert_int_equal(cpu_physical_memory_snapshot_and_clear_dirty(8 * PAGE, 4 * PAGE,
                                                                  DIRTY_MEMORY_VGA, dest), 2);
    assert_int_equal(dest[0], 0x3);         /* pages 8, 9; 10 and 11 do not exist */
}

static void test_and_clear_reports_and_clears_only_the_range(void **state)
{
    setup_block(200);
    cpu_physical_memory_set_dirty_range(0, 200 * PAGE, 1u << DIRTY_MEMORY_VGA);
    assert_true(cpu_physical_memory_test_and_clear_dirty(60 * PAGE, 10 * PAGE,
                                                         DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_test_and_clear_dirty(60 * PAGE, 10 * PAGE,
                                                          DIRTY_MEMORY_VGA));
    assert_true(cpu_physical_memory_get_dirty(59 * PAGE, PAGE, DIRTY_MEMORY_VGA));
    assert_true(cpu_physical_memory_get_dirty(70 * PAGE, PAGE, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_test_and_clear_dirty(0, 200 * PAGE, DIRTY_MEMORY_CODE));
}

/* Random operations against a bool-per-page model, over ranges that start and end
 * anywhere (often on or next to a word boundary). */
static void random_ranges_match_a_page_model(void **state)
{
    enum { PAGES = 2000, LINE = 512 };   /* LINE: pages per 64-byte bitmap line */
    static bool model[DIRTY_MEMORY_NUM][PAGES];
    uint64_t rng = test_seed("dirty.random");
    setup_block(PAGES);
    memset(model, 0, sizeof(model));

    for (unsigned step = 0; step < 20000; step++) {
        uint64_t first = test_rand_below(&rng, PAGES);
        if (test_rand_below(&rng, 2))
            first = first / 64 * 64 + (test_rand_below(&rng, 3) + 63) % 64;
        first %= PAGES;
        uint64_t npages = 1 + test_rand_below(&rng, test_rand_below(&rng, 2) ? 8 : 300);
        if (test_rand_below(&rng, 8) == 0) {    /* whole lines: dirty.c's fast path */
            first = test_rand_below(&rng, PAGES / LINE) * LINE;
            npages = (1 + test_rand_below(&rng, 2)) * LINE;
        }
        if (first + npages > PAGES)
            npages = PAGES - first;
        /* A byte range inside those pages, touching the first and last. */
        ram_addr_t start = first * PAGE + test_rand_below(&rng, PAGE);
        ram_addr_t last_lo = (first + npages - 1) * PAGE;
        if (last_lo < start)
            last_lo = start;
        ram_addr_t last = last_lo + test_rand_below(&rng, (first + npages) * PAGE - last_lo);
        ram_addr_t length = last - start + 1;
        unsigned client = (unsigned)test_rand_below(&rng, DIRTY_MEMORY_NUM);
        bool any = false;
        for (uint64_t p = first; p < first + npages; p++)
            any |= model[client][p];

        switch (test_rand_below(&rng, 4)) {
        case 0: {
            uint8_t mask = (uint8_t)test_rand_below(&rng, DIRTY_CLIENTS_ALL + 1);
            cpu_physical_memory_set_dirty_range(start, length, mask);
            for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++)
                for (uint64_t p = first; p < first + npages && (mask >> c & 1); p++)
                    model[c][p] = true;
            break;
        }
        case 1:
            assert_int_equal(cpu_physical_memory_get_dirty(start, length, client), any);
            break;
        case 2:
            assert_int_equal(cpu_physical_memory_test_and_clear_dirty(start, length, client),
                             any);
            memset(&model[client][first], 0, npages);
            break;
        default: {
            unsigned long dest[PAGES / BITS_PER_LONG + 2];
            memset(dest, 0xa5, sizeof(dest));
            uint64_t n = cpu_physical_memory_snapshot_and_clear_dirty(start, length, client,
                                                                      dest);
            uint64_t want = 0;
            for (uint64_t p = first; p < first + npages; p++) {
                assert_int_equal(bit_of(dest, p - first), model[client][p]);
                want += model[client][p];
            }
            /* Whole words are written: bits past the range are zero. */
            for (uint64_t i = npages; i % BITS_PER_LONG; i++)
                assert_false(bit_of(dest, i));
            assert_int_equal(n, want);
            memset(&model[client][first], 0, npages);
            break;
        }
        }
    }
    for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++)
        for (uint64_t p = 0; p < PAGES; p++)
            assert_int_equal(cpu_physical_memory_get_dirty(p * PAGE, PAGE, c), model[c][p]);
}

/* ---- atomicity --------------------------------------------------------------------- */

enum { RACE_PAGES = 1 << 16 };

static volatile bool writer_done;

/* Each page exactly once, `pages` at a time (1: single bits; 512: whole 64-byte
 * lines, dirty.c's vector stores), in an order that hits every word many times. */
static void *dirty_writer(void *arg)
{
    uint64_t pages = (uintptr_t)arg, chunks = RACE_PAGES / pages;
    for (uint64_t i = 0; i < chunks; i++) {
        uint64_t chunk = (i * 40503) % chunks;
        cpu_physical_memory_set_dirty_range(chunk * pages * PAGE, pages * PAGE,
                                            1u << DIRTY_MEMORY_VGA);
    }
    __atomic_store_n(&writer_done, true, __ATOMIC_RELEASE);
    return NULL;
}

static void race_writer_against_clears(uint64_t pages_per_call)
{
    static unsigned long snap[RACE_PAGES / BITS_PER_LONG];
    static unsigned seen[RACE_PAGES];
    setup_block(RACE_PAGES);
    memset(seen, 0, sizeof(seen));
    writer_done = false;

    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, dirty_writer, (void *)(uintptr_t)pages_per_call),
                     0);
    uint64_t total = 0;
    bool last_round = false;
    while (!last_round) {
        last_round = __atomic_load_n(&writer_done, __ATOMIC_ACQUIRE);
        total += cpu_physical_memory_snapshot_and_clear_dirty(0, RACE_PAGES * PAGE,
                                                              DIRTY_MEMORY_VGA, snap);
        for (uint64_t p = 0; p < RACE_PAGES; p++)
            seen[p] += bit_of(snap, p);
    }
    pthread_join(t, NULL);
    /* Every page set once is collected exactly once: no bit lost, none duplicated. */
    assert_int_equal(total, RACE_PAGES);
    for (uint64_t p = 0; p < RACE_PAGES; p++)
        assert_int_equal(seen[p], 1);
}

static void concurrent_clear_never_loses_a_set_bit(void **state)
{
    race_writer_against_clears(1);
}

static void concurrent_clear_never_loses_a_line_store(void **state)
{
    race_writer_against_clears(512);
}

/* The same two checks through the portable word-store path for whole lines. */
static void word_store_path_matches_the_model(void **state)
{
    ram_dirty_set_word_stores_for_tests(true);
    random_ranges_match_a_page_model(state);
    race_writer_against_clears(512);
    ram_dirty_set_word_stores_for_tests(false);
}

/* The bitmaps start on a cache line, however often they grew: the line-store path
 * relies on it (an unaligned movdqa faults). */
static void bitmaps_stay_cache_line_aligned(void **state)
{
    ram_reset_for_tests();
    for (unsigned i = 0; i < 12; i++) {
        assert_non_null(qemu_ram_alloc((1u + i * 37) * PAGE, &no_host_memory, NULL, NULL));
        for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++)
            assert_int_equal((uintptr_t)ram_list.dirty_memory[c] % 64, 0);
    }
    /* Bits set before a growth survive the copy. */
    cpu_physical_memory_clear_dirty_range(0, last_ram_offset());
    cpu_physical_memory_set_dirty_range(0, 512 * PAGE, DIRTY_CLIENTS_ALL);
    assert_non_null(qemu_ram_alloc(4096 * PAGE, &no_host_memory, NULL, NULL));
    assert_true(cpu_physical_memory_get_dirty(511 * PAGE, PAGE, DIRTY_MEMORY_CODE));
    assert_int_equal((uintptr_t)ram_list.dirty_memory[DIRTY_MEMORY_CODE] % 64, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(set_get_and_masks, teardown),
        cmocka_unit_test_teardown(ranges_beyond_the_bitmaps_are_clipped, teardown),
        cmocka_unit_test_teardown(test_and_clear_reports_and_clears_only_the_range, teardown),
        cmocka_unit_test_teardown(random_ranges_match_a_page_model, teardown),
        cmocka_unit_test_teardown(concurrent_clear_never_loses_a_set_bit, teardown),
        cmocka_unit_test_teardown(concurrent_clear_never_loses_a_line_store, teardown),
        cmocka_unit_test_teardown(bitmaps_stay_cache_line_aligned, teardown),
        cmocka_unit_test_teardown(word_store_path_matches_the_model, teardown),
    };
    return cmocka_run_group_tests_name("dirty", tests, NULL, NULL);
}
