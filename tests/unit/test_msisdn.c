/*
 * test_msisdn.c — the other form of a Brazilian or Mexican mobile number
 * (util/msisdn.c), and none for the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "util/msisdn.h"

static void test_brazil(void **state)
{
    (void)state;
    char out[MSISDN_MAX];
    /* the dialled ninth digit, and the wa_id of an older account */
    assert_true(msisdn_alternate("5511987654321", out));
    assert_string_equal(out, "551187654321");
    assert_true(msisdn_alternate("551187654321", out));
    assert_string_equal(out, "5511987654321");
    /* a landline (2 to 5 first) has no ninth digit; nor has a 13-digit
     * number without the 9 */
    assert_false(msisdn_alternate("551134567890", out));
    assert_string_equal(out, "");
    assert_false(msisdn_alternate("5511887654321", out));
}

static void test_mexico(void **state)
{
    (void)state;
    char out[MSISDN_MAX];
    assert_true(msisdn_alternate("5215512345678", out));
    assert_string_equal(out, "525512345678");
    assert_true(msisdn_alternate("525512345678", out));
    assert_string_equal(out, "5215512345678");
    assert_false(msisdn_alternate("5225512345678", out));
}

static void test_others_have_none(void **state)
{
    (void)state;
    char out[MSISDN_MAX] = "x";
    static const char *const none[] = {
        "27820001111",    "447700900123",  "14155550100",   "", "55119876543210", "5511",
        "+5511987654321", "55119876543a1", "5501987654321",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        assert_false(msisdn_alternate(none[i], out));
        assert_string_equal(out, "");
    }
    assert_false(msisdn_alternate(NULL, out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brazil),
        cmocka_unit_test(test_mexico),
        cmocka_unit_test(test_others_have_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
