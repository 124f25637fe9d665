/* Unit tests for tools/mockxen/grow.c: mx_grow. */
#include "tests/unit/support.h"

#include <stdint.h>
#include <stdlib.h>

#include "tools/mockxen/grow.h"

static void grow_starts_at_first_cap_then_doubles(void **state)
{
    unsigned cap = 0;
    int *a = mx_grow(NULL, &cap, 1, sizeof(*a), 4);
    assert_non_null(a);
    assert_int_equal(cap, 4);
    a[3] = 42;
    assert_ptr_equal(mx_grow(a, &cap, 4, sizeof(*a), 4), a);     /* still fits */
    assert_int_equal(cap, 4);
    a = mx_grow(a, &cap, 5, sizeof(*a), 4);
    assert_non_null(a);
    assert_int_equal(cap, 8);
    assert_int_equal(a[3], 42);                                    /* contents kept */
    a = mx_grow(a, &cap, 100, sizeof(*a), 4);                     /* doubles until it fits */
    assert_non_null(a);
    assert_int_equal(cap, 128);
    free(a);
}

static void grow_refuses_overflow_and_keeps_the_array(void **state)
{
    unsigned cap = 0;
    char *a = mx_grow(NULL, &cap, 1, 1, 16);
    assert_non_null(a);
    assert_null(mx_grow(a, &cap, (size_t)UINT32_MAX + 1, 1, 16));
    assert_int_equal(cap, 16);
    assert_null(mx_grow(a, &cap, 17, SIZE_MAX / 16, 16));
    assert_int_equal(cap, 16);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grow_starts_at_first_cap_then_doubles),
        cmocka_unit_test(grow_refuses_overflow_and_keeps_the_array),
    };
    return cmocka_run_group_tests_name("mockxen_grow", tests, NULL, NULL);
}
