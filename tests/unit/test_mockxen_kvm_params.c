/*
 * Unit tests for the KVM guest's parameter block (tools/mockxen/kvm_params.c): parsing
 * "NAME=V[,V...]" and the little-endian page the guest reads. No /dev/kvm needed.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <string.h>

#include "tools/mockxen/kvm_guest.h"

static uint64_t le64_at(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void test_parse_name_and_values(void **state)
{
    (void)state;
    MxKvmParam p;
    assert_int_equal(mx_kvm_param_parse("blk_randread_4k_iops_qd32=0,4096,32,1,0x7530", &p,
                                        NULL), 0);
    assert_string_equal(p.name, "blk_randread_4k_iops_qd32");
    assert_int_equal(p.nvalues, 5);
    assert_int_equal(p.values[0], 0);
    assert_int_equal(p.values[1], 4096);
    assert_int_equal(p.values[2], 32);
    assert_int_equal(p.values[3], 1);
    assert_int_equal(p.values[4], 30000);
    assert_int_equal(p.values[5], 0);

    assert_int_equal(mx_kvm_param_parse("a.b-c=18446744073709551615", &p, NULL), 0);
    assert_int_equal(p.nvalues, 1);
    assert_true(p.values[0] == UINT64_MAX);
}

/* Each bad spec is refused with a message that names it and says what is wrong. */
static void test_parse_refuses(void **state)
{
    (void)state;
    static const struct { const char *spec, *why; } bad[] = {
        { "novalue", "expected NAME=V[,V...]" },
        { "=1", "the name needs 1 to 31 characters" },
        { "a_name_of_thirty_two_characters_=1", "the name needs 1 to 31 characters" },
        { "sp ace=1", "' ' in the name" },
        { "x=", "expected 1 to 6 numbers" },
        { "x=1,,2", "expected 1 to 6 numbers" },
        { "x=1,2,3,4,5,6,7", "expected 1 to 6 numbers" },
        { "x=12z", "value 1" },
        { "x=1,-2", "value 2" },
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        MxKvmParam p;
        Error *err = NULL;
        assert_int_equal(mx_kvm_param_parse(bad[i].spec, &p, &err), -EINVAL);
        const char *msg = error_get_pretty(err);
        if (!strstr(msg, bad[i].spec) || !strstr(msg, bad[i].why))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].spec, msg, bad[i].why);
        error_free(err);
    }
}

static void test_block_layout(void **state)
{
    (void)state;
    MxKvmParam p[2];
    assert_int_equal(mx_kvm_param_parse("first=0x1122334455667788", &p[0], NULL), 0);
    assert_int_equal(mx_kvm_param_parse("second=1,2,3,4,5,6", &p[1], NULL), 0);
    uint8_t page[MX_PAGE_SIZE];
    memset(page, 0xee, sizeof(page));
    mx_kvm_params_write(p, 2, page);

    assert_memory_equal(page, "first\0\0\0", 8);
    assert_int_equal(le64_at(page + 32), 1);
    assert_int_equal(page[40], 0x88);                   /* little endian */
    assert_true(le64_at(page + 40) == 0x1122334455667788ull);
    assert_int_equal(le64_at(page + 48), 0);
    assert_memory_equal(page + 88, "second\0", 7);
    assert_int_equal(le64_at(page + 88 + 32), 6);
    for (unsigned v = 0; v < 6; v++)
        assert_int_equal(le64_at(page + 88 + 40 + 8 * v), v + 1);
    for (unsigned i = 2 * 88; i < sizeof(page); i++)    /* terminator, and the rest zero */
        assert_int_equal(page[i], 0);

    mx_kvm_params_write(p, 0, page);                    /* no parameters: a terminator */
    for (unsigned i = 0; i < sizeof(page); i++)
        assert_int_equal(page[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_name_and_values),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_block_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
