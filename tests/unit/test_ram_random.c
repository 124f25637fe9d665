/*
 * Differential test of RAM block placement: 10^4 random alloc / free / resize steps run
 * against xendm's O(log n) gap index and against a naive model written here from the
 * seed's description (find_ram_offset's double loop over a list kept in ram_block_add's
 * biggest → smallest order). After every step the offsets, the list order,
 * last_ram_offset and a block lookup must be identical.
 *
 * The model's only change from the seed: the search runs over [0, limit) instead of
 * [0, RAM_ADDR_MAX), and "no gap" is a failure instead of an abort.
 *
 * A third run makes allocations fail at random during the steps (test_oom_arm): an
 * operation that runs out of memory must fail whole, with an error, and leave the list
 * exactly as the model has it (no half-added block, no lost gap).
 */
#include "tests/unit/support.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory/memory.h"
#include "util/macros.h"

#define PAGE RAM_PAGE_SIZE
#define STEPS 10000
#define MAX_LIVE 300

typedef struct ModelBlock {
    ram_addr_t offset, used_length, max_length;
    RAMBlock *real;             /* the xendm block it mirrors */
} ModelBlock;

/* The model's list, in the seed's order (index 0 = head). */
static ModelBlock model[MAX_LIVE];
static unsigned model_n;

/* find_ram_offset as the seed does it: every block's gap to the nearest block start at
 * or after its end; keep the first strictly smaller gap that fits. */
static bool model_find_offset(ram_addr_t size, ram_addr_t limit, ram_addr_t *out)
{
    ram_addr_t offset = UINT64_MAX, mingap = UINT64_MAX;

    if (model_n == 0) {
        *out = 0;
        return size <= limit;
    }
    for (unsigned i = 0; i < model_n; i++) {
        ram_addr_t end = model[i].offset + model[i].max_length, next = limit;
        for (unsigned j = 0; j < model_n; j++) {
            if (model[j].offset >= end && model[j].offset < next)
                next = model[j].offset;
        }
        if (next - end >= size && next - end < mingap) {
            offset = end;
            mingap = next - end;
        }
    }
    *out = offset;
    return offset != UINT64_MAX;
}

/* ram_block_add's insertion: before the first block that is strictly smaller. */
static void model_insert(ModelBlock nb)
{
    unsigned i = 0;
    while (i < model_n && model[i].max_length >= nb.max_length)
        i++;
    memmove(&model[i + 1], &model[i], (model_n - i) * sizeof(model[0]));
    model[i] = nb;
    model_n++;
}

static void model_remove(unsigned i)
{
    memmove(&model[i], &model[i + 1], (model_n - i - 1) * sizeof(model[0]));
    model_n--;
}

static ram_addr_t model_last_offset(void)
{
    ram_addr_t last = 0;
    for (unsigned i = 0; i < model_n; i++) {
        ram_addr_t end = model[i].offset + model[i].max_length;
        last = end > last ? end : last;
    }
    return last;
}

/* Blocks without host memory (nothing maps them): any size is cheap. */
static const RamBackend no_host_memory = { 0 };

/* Sizes with many repeats (ties in list order and in gap sizes) and some spread. */
static ram_addr_t random_pages(uint64_t *rng)
{
    static const ram_addr_t common[] = { 1, 1, 2, 2, 3, 4, 4, 8, 16 };
    if (test_rand_below(rng, 4))
        return common[test_rand_below(rng, ARRAY_SIZE(common))];
    return 1 + test_rand_below(rng, 40);
}

static void compare_state(unsigned step, ram_addr_t limit, uint64_t *rng)
{
    RAMBlock *real = ram_list_first();
    for (unsigned i = 0; i < model_n; i++, real = real->next) {
        if (real != model[i].real) {
            fail_msg("step %u: list position %u differs", step, i);
        }
        assert_int_equal(real->offset, model[i].offset);
        assert_int_equal(real->used_length, model[i].used_length);
        assert_int_equal(real->max_length, model[i].max_length);
    }
    assert_null(real);
    assert_int_equal(last_ram_offset(), model_last_offset());

    ram_addr_t addr = test_rand_below(rng, limit);
    RAMBlock *want = NULL;
    for (unsigned i = 0; i < model_n; i++) {
        if (addr - model[i].offset < model[i].max_length)
            want = model[i].real;
    }
    assert_ptr_equal(qemu_get_ram_block(addr), want);
}

static bool starving;           /* the current run makes allocations fail */

/* With `starving`, arm allocation failures for the next operation, sometimes. */
static void maybe_starve(uint64_t *rng)
{
    if (starving && test_rand_below(rng, 3) == 0)
        test_oom_arm(test_rand_below(rng, 4), test_rand_below(rng, 4) == 0);
}

static void step_alloc(unsigned step, ram_addr_t limit, uint64_t *rng, unsigned *failures)
{
    ram_addr_t used = random_pages(rng) * PAGE, max = used;
    bool resizeable = test_rand_below(rng, 4) == 0;
    if (resizeable)
        max += random_pages(rng) * PAGE;

    ram_addr_t want;
    bool fits = model_find_offset(max, limit, &want);
    Error *err = NULL;
    unsigned long refused = test_oom_refused();
    maybe_starve(rng);
    RAMBlock *b = resizeable
                      ? qemu_ram_alloc_resizeable(used, max, NULL, &no_host_memory, NULL, &err)
                      : qemu_ram_alloc(used, &no_host_memory, NULL, &err);
    test_oom_disarm();
    if (!b && test_oom_refused() != refused) {      /* out of memory: nothing happened */
        assert_non_null(err);
        error_free(err);
        (*failures)++;
        return;
    }
    if (!fits) {
        if (b)
            fail_msg("step %u: xendm placed %" PRIu64 " bytes at 0x%" PRIx64
                     " where the seed finds no gap", step, max, b->offset);
        char msg[64];
        snprintf(msg, sizeof(msg), "cannot find a gap of %" PRIu64 " bytes", max);
        assert_string_equal(error_get_pretty(err), msg);
        error_free(err);
        (*failures)++;
        return;
    }
    if (!b)
        fail_msg("step %u: %s (the seed places it at 0x%" PRIx64 ")", step,
                 error_get_pretty(err), want);
    if (b->offset != want)
        fail_msg("step %u: %" PRIu64 " bytes placed at 0x%" PRIx64 ", seed says 0x%" PRIx64,
                 step, max, b->offset, want);
    model_insert((ModelBlock){ .offset = want, .used_length = used, .max_length = max,
                               .real = b });
}

static void step_free(uint64_t *rng)
{
    unsigned i = (unsigned)test_rand_below(rng, model_n);
    maybe_starve(rng);
    qemu_ram_free(model[i].real);               /* must succeed, whatever the memory */
    test_oom_disarm();
    model_remove(i);
}

static void step_resize(uint64_t *rng)
{
    unsigned i = (unsigned)test_rand_below(rng, model_n);
    ram_addr_t newsize = (1 + test_rand_below(rng, model[i].max_length / PAGE + 2)) * PAGE;
    bool ok = newsize == model[i].used_length ||
              ((model[i].real->flags & RAM_RESIZEABLE) && newsize <= model[i].max_length);
    maybe_starve(rng);
    int ret = qemu_ram_resize(model[i].real, newsize, NULL);
    test_oom_disarm();
    assert_int_equal(ret == 0, ok);
    if (ok)
        model[i].used_length = newsize;
}

/* Run STEPS random operations in a space of `limit_pages` pages. */
static void run_differential(const char *name, ram_addr_t limit_pages, bool starve)
{
    starving = starve;
    uint64_t rng = test_seed(name);
    ram_addr_t limit = limit_pages * PAGE;
    unsigned failures = 0;

    ram_reset_for_tests();
    model_n = 0;
    assert_int_equal(ram_set_addr_space_size(limit, NULL), 0);
    for (unsigned step = 0; step < STEPS; step++) {
        uint64_t dice = test_rand_below(&rng, 100);
        if (model_n == 0 || (dice < 50 && model_n < MAX_LIVE))
            step_alloc(step, limit, &rng, &failures);
        else if (dice < 85)
            step_free(&rng);
        else
            step_resize(&rng);
        compare_state(step, limit, &rng);
    }
    printf("# %s: %u live blocks at the end, %u allocations failed\n", name, model_n,
           failures);
    ram_reset_for_tests();
}

/* A roomy space: placement in many gaps, rarely full. */
static void differential_roomy_space(void **state)
{
    run_differential("ram_random.roomy", 1 << 20, false);
}

/* A tight space: frequent exhaustion, and both sides must agree on it. */
static void differential_tight_space(void **state)
{
    run_differential("ram_random.tight", 1024, false);
}

/* Out of memory at random points: every operation fails whole or not at all. */
static void differential_with_allocation_failures(void **state)
{
    unsigned long before = test_oom_refused();
    run_differential("ram_random.starved", 4096, true);
    assert_true(test_oom_refused() > before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(differential_roomy_space),
        cmocka_unit_test(differential_tight_space),
        cmocka_unit_test(differential_with_allocation_failures),
    };
    return cmocka_run_group_tests_name("ram_random", tests, NULL, NULL);
}
