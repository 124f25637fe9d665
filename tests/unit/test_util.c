/* Unit tests for util/: Error messages and log rate limiting. */
#include "tests/unit/support.h"

#include <errno.h>
#include <string.h>

#include "util/error.h"
#include "util/log.h"

static void error_message_and_errno(void **state)
{
    Error *err = NULL;
    error_setg_errno(&err, ENOMEM, "cannot map %u pages at 0x%x", 4u, 0x1000u);
    assert_non_null(err);
    assert_int_equal(err->errnum, ENOMEM);
    assert_string_equal(error_get_pretty(err),
                        "cannot map 4 pages at 0x1000: Cannot allocate memory");
    error_prepend(&err, "xen_ram_alloc");
    assert_string_equal(error_get_pretty(err),
                        "xen_ram_alloc: cannot map 4 pages at 0x1000: Cannot allocate memory");
    error_free(err);
}

static void error_null_errp_is_ignored(void **state)
{
    error_setg(NULL, "nobody listens");
    error_prepend(NULL, "x");
    Error *dst = NULL, *src = NULL;
    error_setg(&src, "moved");
    error_propagate(&dst, src);
    assert_string_equal(error_get_pretty(dst), "moved");
    error_free(dst);
}

static void log_level_parse(void **state)
{
    enum log_level l;
    assert_int_equal(log_parse_level("debug", &l), 0);
    assert_int_equal(l, LOG_DEBUG);
    assert_int_equal(log_parse_level("loud", &l), -EINVAL);
}

static void log_ratelimit_suppresses_floods(void **state)
{
    log_set_level(LOG_WARN);
    LogRateLimit rl = { 0 };
    for (int i = 0; i < 1000; i++)
        log_ratelimited(&rl, LOG_WARN, "guest flood %d", i);
    assert_int_equal(rl.tokens, 0);
    assert_int_equal(rl.suppressed, 1000 - LOG_RATELIMIT_BURST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(error_message_and_errno),
        cmocka_unit_test(error_null_errp_is_ignored),
        cmocka_unit_test(log_level_parse),
        cmocka_unit_test(log_ratelimit_suppresses_floods),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
