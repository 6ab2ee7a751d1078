/*
 * test_json.c — unit tests for the strict parsing helpers of util/json.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/json.h"

/* The compact text of the whole-value parse of s, or "NULL". */
static const char *whole(const char *s, size_t n, char *buf, size_t cap)
{
    json_object *o = json_parse_whole(s, n);
    snprintf(buf, cap, "%s",
             o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "NULL");
    json_object_put(o);
    return buf;
}

static void test_parse_whole(void **state)
{
    (void)state;
    char b[64];
    /* any JSON value, white space after it allowed */
    assert_string_equal(whole("{\"a\":1}", 7, b, sizeof b), "{\"a\":1}");
    assert_string_equal(whole("{\"a\":1}\r\n ", 10, b, sizeof b), "{\"a\":1}");
    assert_string_equal(whole("123", 3, b, sizeof b), "123");
    assert_string_equal(whole("true", 4, b, sizeof b), "true");
    assert_string_equal(whole("\"s\" ", 4, b, sizeof b), "\"s\"");
    assert_string_equal(whole("[1,2]", 5, b, sizeof b), "[1,2]");
    /* nothing else */
    assert_string_equal(whole("", 0, b, sizeof b), "NULL");
    assert_string_equal(whole("{\"a\":1} x", 9, b, sizeof b), "NULL");
    assert_string_equal(whole("{\"a\":1}{}", 9, b, sizeof b), "NULL");
    assert_string_equal(whole("{\"a\":1", 6, b, sizeof b), "NULL");
    assert_string_equal(whole("12a", 3, b, sizeof b), "NULL");
    assert_string_equal(whole("nul", 3, b, sizeof b), "NULL");
    assert_string_equal(whole("{\"a\":1}\0", 8, b, sizeof b), "NULL"); /* a NUL inside */
    assert_string_equal(whole("123", 2, b, sizeof b), "12");           /* only n bytes */
}

static void test_members(void **state)
{
    (void)state;
    json_object *o = json_parse_object("{\"s\":\"x\",\"n\":2,\"o\":{}}", 22);
    assert_non_null(o);
    assert_string_equal(json_member_string(o, "s"), "x");
    assert_null(json_member_string(o, "n")); /* not a string */
    assert_null(json_member_string(o, "missing"));
    assert_non_null(json_member(o, "o", json_type_object));
    assert_null(json_member(o, "o", json_type_array));
    assert_null(
        json_member(json_member(o, "n", json_type_int), "x", json_type_int)); /* not an object */
    assert_null(json_member(NULL, "s", json_type_string));
    json_object_put(o);
    assert_null(json_parse_object("[1]", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_whole),
        cmocka_unit_test(test_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
