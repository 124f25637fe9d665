/*
 * The seed's madvise policy checked on real mappings: the VmFlags of a block's mapping
 * in /proc/self/smaps (dd = DONTDUMP, dc = DONTFORK, hg = HUGEPAGE, mg = MERGEABLE).
 * A kernel without THP or KSM rejects that advice; the test detects it with a probe
 * mapping and skips only the affected check, saying why. Under qemu-user (the arm64
 * build's tests) advice never shows in smaps, and every check of it is skipped.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "memory/memory.h"

#define PAGE RAM_PAGE_SIZE
#define BLOCK_SIZE (8 * PAGE)

static int reset(void **state)
{
    ram_reset_for_tests();
    return 0;
}

/* Copy the VmFlags of the mapping containing addr into flags (" dd dc " form, padded
 * with spaces so " xx " can be searched). False if not found, or if they do not fit
 * (a cut list could lack the flag searched for). */
static bool vm_flags_of(const void *addr, char *flags, size_t len)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return false;
    char line[512];
    bool in_mapping = false, found = false;
    while (fgets(line, sizeof(line), f)) {
        uintptr_t lo, hi;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2) {     /* a mapping */
            in_mapping = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        } else if (in_mapping && strncmp(line, "VmFlags:", 8) == 0) {
            line[strcspn(line, "\n")] = '\0';
            found = (size_t)snprintf(flags, len, "%s ", line + 8) < len;
            break;
        }
    }
    fclose(f);
    return found;
}

static bool has_flag(const void *addr, const char *flag)
{
    char flags[256], want[8];
    if (!vm_flags_of(addr, flags, sizeof(flags)))
        fail_msg("no VmFlags for %p in /proc/self/smaps", addr);
    snprintf(want, sizeof(want), " %s ", flag);
    return strstr(flags, want) != NULL;
}

/* Does the kernel accept this advice at all? (EINVAL: no THP / no KSM.) */
static bool kernel_accepts(int advice)
{
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    bool ok = madvise(p, PAGE, advice) == 0;
    munmap(p, PAGE);
    return ok;
}

/* Does advice show in /proc/self/smaps here? Not under qemu-user, which takes madvise
 * without passing it on and writes smaps itself: skip the test, saying so. */
static void advice_visible_or_skip(void)
{
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(madvise(p, PAGE, MADV_DONTFORK), 0);
    bool visible = has_flag(p, "dc");
    munmap(p, PAGE);
    if (!visible) {
        print_message("# MADV_DONTFORK does not show in /proc/self/smaps here "
                      "(as under qemu-user): cannot see the advice\n");
        skip();
    }
}

static RAMBlock *alloc_block(void)
{
    Error *err = NULL;
    RAMBlock *b = qemu_ram_alloc(BLOCK_SIZE, NULL, NULL, &err);
    if (!b)
        fail_msg("%s", error_get_pretty(err));
    return b;
}

static void dontfork_always(void **state)
{
    advice_visible_or_skip();
    RAMBlock *b = alloc_block();
    assert_true(has_flag(b->host, "dc"));
    assert_true(has_flag(b->host + BLOCK_SIZE - 1, "dc"));
}

static void hugepage_always(void **state)
{
    advice_visible_or_skip();
    if (!kernel_accepts(MADV_HUGEPAGE)) {
        print_message("# kernel rejects MADV_HUGEPAGE (no transparent huge pages): "
                      "cannot see 'hg'\n");
        skip();
    }
    RAMBlock *b = alloc_block();
    assert_true(has_flag(b->host, "hg"));
}

static void dontdump_only_when_core_dumps_are_off(void **state)
{
    advice_visible_or_skip();
    RAMBlock *with_dump = alloc_block();
    assert_false(has_flag(with_dump->host, "dd"));
    ram_set_dump_guest_core(false);
    RAMBlock *without = alloc_block();
    assert_true(has_flag(without->host, "dd"));
    assert_false(has_flag(with_dump->host, "dd"));
}

static void mergeable_only_when_merging_is_on(void **state)
{
    advice_visible_or_skip();
    RAMBlock *plain = alloc_block();
    assert_false(has_flag(plain->host, "mg"));
    if (!kernel_accepts(MADV_MERGEABLE)) {
        print_message("# kernel rejects MADV_MERGEABLE (no KSM): cannot see 'mg'\n");
        skip();
    }
    ram_set_mem_merge(true);
    RAMBlock *merged = alloc_block();
    assert_true(has_flag(merged->host, "mg"));
    assert_false(has_flag(plain->host, "mg"));
}

static void caller_memory_gets_the_policy_too(void **state)
{
    advice_visible_or_skip();
    /* As the seed: the policy applies to any block with a host pointer. */
    uint8_t *mem = mmap(NULL, BLOCK_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    ram_set_dump_guest_core(false);
    RAMBlock *b = qemu_ram_alloc_from_ptr(BLOCK_SIZE, mem, NULL, NULL);
    assert_non_null(b);
    assert_true(has_flag(mem, "dc"));
    assert_true(has_flag(mem, "dd"));
    qemu_ram_free(b);
    munmap(mem, BLOCK_SIZE);
}

static void mapping_is_trimmed_to_the_block(void **state)
{
    RAMBlock *b = alloc_block();
    /* The 2 MiB slack is unmapped: the advised mapping ends where the block ends, and
     * the bytes before the start (if not another mapping) are not ours. */
    char flags[256];
    assert_true(vm_flags_of(b->host, flags, sizeof(flags)));
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        uintptr_t lo, hi;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 &&
            (uintptr_t)b->host >= lo && (uintptr_t)b->host < hi) {
            assert_int_equal(hi, (uintptr_t)b->host + BLOCK_SIZE);
            found = true;
        }
    }
    fclose(f);
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(dontfork_always, reset),
        cmocka_unit_test_teardown(hugepage_always, reset),
        cmocka_unit_test_teardown(dontdump_only_when_core_dumps_are_off, reset),
        cmocka_unit_test_teardown(mergeable_only_when_merging_is_on, reset),
        cmocka_unit_test_teardown(caller_memory_gets_the_policy_too, reset),
        cmocka_unit_test_teardown(mapping_is_trimmed_to_the_block, reset),
    };
    return cmocka_run_group_tests_name("ram_madvise", tests, reset, NULL);
}
