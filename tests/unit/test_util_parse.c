/* Unit tests for util/parse.c: parse_u64. */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdint.h>

#include "util/macros.h"
#include "util/parse.h"

static void parse_u64_accepts_bases_up_to_max(void **state)
{
    uint64_t v = 0;
    assert_int_equal(parse_u64("42", 100, &v, NULL), 0);
    assert_int_equal(v, 42);
    assert_int_equal(parse_u64("0x10", 100, &v, NULL), 0);
    assert_int_equal(v, 16);
    assert_int_equal(parse_u64("010", 100, &v, NULL), 0);
    assert_int_equal(v, 8);
    assert_int_equal(parse_u64("100", 100, &v, NULL), 0);
    assert_int_equal(v, 100);
    assert_int_equal(parse_u64("18446744073709551615", UINT64_MAX, &v, NULL), 0);
    assert_true(v == UINT64_MAX);
}

static void parse_u64_refuses_malformed_text(void **state)
{
    static const char *const bad[] = {
        "", " 5", "-1", "+5", "5x", "0x", "lots", "101", "18446744073709551616",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint64_t v = 7;
        assert_int_equal(parse_u64(bad[i], 100, &v, NULL), -EINVAL);
        assert_int_equal(v, 7);              /* untouched on failure */
    }
}

static void parse_u64_names_value_and_range(void **state)
{
    Error *err = NULL;
    uint64_t v;
    assert_int_equal(parse_u64("lots", 3840, &v, &err), -EINVAL);
    assert_non_null(err);
    assert_string_equal(error_get_pretty(err), "invalid value 'lots' (expected 0..3840)");
    error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_u64_accepts_bases_up_to_max),
        cmocka_unit_test(parse_u64_refuses_malformed_text),
        cmocka_unit_test(parse_u64_names_value_and_range),
    };
    return cmocka_run_group_tests_name("util_parse", tests, NULL, NULL);
}
