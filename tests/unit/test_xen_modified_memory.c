/*
 * Unit tests for xen/modified_memory.c: how dirty ranges are coalesced into extents
 * before one modified_memory_bulk call. Only the batching is tested here (the batch is
 * never flushed: no Xen call happens); the call itself is covered by the integration
 * tests against mockxen.
 */
#include "tests/unit/support.h"

#include <stdlib.h>

#include "xen/xen-internal.h"

static XenDM *new_dm(void)
{
    XenDM *xd = calloc(1, sizeof(*xd));
    xd->log_dirty = true;
    return xd;
}

static void off_means_nothing_recorded(void **state)
{
    XenDM *xd = new_dm();
    xd->log_dirty = false;
    xen_modified_memory(xd, 0x1000, 0x1000);
    assert_int_equal(xd->dirty_batch_nr, 0);
    free(xd);
}

static void sequential_writes_become_one_extent(void **state)
{
    XenDM *xd = new_dm();
    for (uint64_t a = 0x100000; a < 0x200000; a += 512)    /* 1 MiB in 512-byte DMAs */
        xen_modified_memory(xd, a, 512);
    assert_int_equal(xd->dirty_batch_nr, 1);
    assert_int_equal(xd->dirty_batch[0].first_pfn, 0x100);
    assert_int_equal(xd->dirty_batch[0].nr, 0x100);
    free(xd);
}

static void overlap_and_unaligned_ranges(void **state)
{
    XenDM *xd = new_dm();
    xen_modified_memory(xd, 0x1ffe, 4);             /* straddles pfn 1 and 2 */
    assert_int_equal(xd->dirty_batch_nr, 1);
    assert_int_equal(xd->dirty_batch[0].first_pfn, 1);
    assert_int_equal(xd->dirty_batch[0].nr, 2);
    xen_modified_memory(xd, 0x1000, 0x10);          /* inside: nothing new */
    assert_int_equal(xd->dirty_batch[0].nr, 2);
    xen_modified_memory(xd, 0x3000, 1);             /* adjacent: extends */
    assert_int_equal(xd->dirty_batch_nr, 1);
    assert_int_equal(xd->dirty_batch[0].nr, 3);
    xen_modified_memory(xd, 0x9000, 1);             /* a gap: new extent */
    assert_int_equal(xd->dirty_batch_nr, 2);
    assert_int_equal(xd->dirty_batch[1].first_pfn, 9);
    xen_modified_memory(xd, 0x5000, 0);             /* empty: ignored */
    assert_int_equal(xd->dirty_batch_nr, 2);
    free(xd);
}

static void range_at_top_of_memory_does_not_wrap(void **state)
{
    XenDM *xd = new_dm();
    xen_modified_memory(xd, UINT64_MAX - 0xfff, 0x2000);   /* runs past 2^64 */
    assert_int_equal(xd->dirty_batch_nr, 1);
    assert_int_equal(xd->dirty_batch[0].first_pfn, UINT64_MAX >> 12);
    assert_int_equal(xd->dirty_batch[0].nr, 1);
    free(xd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(off_means_nothing_recorded),
        cmocka_unit_test(sequential_writes_become_one_extent),
        cmocka_unit_test(overlap_and_unaligned_ranges),
        cmocka_unit_test(range_at_top_of_memory_does_not_wrap),
    };
    return cmocka_run_group_tests_name("xen_modified_memory", tests, NULL, NULL);
}
