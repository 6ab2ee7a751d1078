/*
 * test_utf8.c — unit tests for util/utf8.c: checking and cleaning text so
 * that what chatpay shows or logs is always well-formed UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/utf8.h"

static void test_valid(void **state)
{
    assert_true(utf8_valid(""));
    assert_true(utf8_valid("/api/v2/config"));
    assert_true(utf8_valid("caf\xc3\xa9 \xe5\xb1\xb1 \xf0\x9f\x98\x80"));
    assert_false(utf8_valid("\xff"));
    assert_false(utf8_valid("a\xc3"));            /* cut short */
    assert_false(utf8_valid("\xc0\xaf"));         /* overlong "/" */
    assert_false(utf8_valid("\xed\xa0\x80"));     /* a surrogate */
    assert_false(utf8_valid("\xf4\x90\x80\x80")); /* above U+10FFFF */
}

static void test_clean(void **state)
{
    char out[64];
    assert_string_equal(utf8_clean("/p/abc", out, sizeof out), "/p/abc");
    assert_string_equal(utf8_clean("a\xff"
                                   "b",
                                   out, sizeof out),
                        "a\xef\xbf\xbd"
                        "b");
    assert_string_equal(utf8_clean("\xc0\xaf", out, sizeof out), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(utf8_clean("caf\xc3\xa9", out, sizeof out), "caf\xc3\xa9");
    assert_string_equal(utf8_clean("x\xe5\xb1", out, sizeof out), "x\xef\xbf\xbd\xef\xbf\xbd");
    assert_true(utf8_valid(utf8_clean("\x80\x81\x82\xfe\xff", out, sizeof out)));
}

static void test_clean_cuts_at_a_character(void **state)
{
    char out[16];
    /* 10 bytes fit whole */
    assert_string_equal(utf8_clean("0123456789", out, sizeof out), "0123456789");
    /* longer: cut, with "…", never past the buffer */
    utf8_clean("0123456789abcdefghij", out, sizeof out);
    assert_true(strlen(out) < sizeof out);
    assert_string_equal(out, "0123456789ab\xe2\x80\xa6");
    /* never inside a character: 3-byte characters */
    utf8_clean("\xe5\xb1\xb1\xe5\xb1\xb1\xe5\xb1\xb1\xe5\xb1\xb1\xe5\xb1\xb1\xe5\xb1\xb1", out,
               sizeof out);
    assert_true(utf8_valid(out));
    assert_string_equal(out, "\xe5\xb1\xb1\xe5\xb1\xb1\xe5\xb1\xb1\xe5\xb1\xb1\xe2\x80\xa6");
    /* the smallest buffer allowed */
    char small[8];
    utf8_clean("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", small, sizeof small);
    assert_true(utf8_valid(small));
    assert_string_equal(small, "\xf0\x9f\x98\x80\xe2\x80\xa6");
}

static void test_control(void **state)
{
    static const uint32_t control[] = {0x00, 0x09, 0x0a, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9b, 0x9f};
    for (size_t i = 0; i < sizeof control / sizeof control[0]; i++)
        assert_true(utf8_is_control(control[i]));
    static const uint32_t text[] = {0x20, 0x41, 0x7e, 0xa0, 0xe9, 0x2028, 0x2029, 0xfeff};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        assert_false(utf8_is_control(text[i]));
    assert_true(utf8_is_separator(0x2028));
    assert_true(utf8_is_separator(0x2029));
    assert_false(utf8_is_separator(0x85));
    assert_false(utf8_is_separator(0x20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_clean_cuts_at_a_character),
        cmocka_unit_test(test_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
