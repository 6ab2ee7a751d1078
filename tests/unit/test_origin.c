/*
 * test_origin.c — unit tests for util/origin.c: which form posts count as
 * coming from chatpay's own pages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/origin.h"

static const char PUB[] = "https://pay.example.com";

static void test_matching_origin(void **state)
{
    assert_true(origin_is_same_site(PUB, "https://pay.example.com", NULL));
    assert_true(origin_is_same_site(PUB, "https://PAY.example.com", "cross-site"));
    assert_true(origin_is_same_site(PUB, "https://pay.example.com:443", NULL));
    assert_true(
        origin_is_same_site("https://pay.example.com/base/", "https://pay.example.com", NULL));
    assert_true(origin_is_same_site("http://127.0.0.1:8080", "http://127.0.0.1:8080", NULL));
    assert_true(origin_is_same_site("http://[::1]:8080", "http://[::1]:8080", NULL));
    assert_true(origin_is_same_site("http://pay.example.com:80", "http://pay.example.com", NULL));
}

static void test_other_origin(void **state)
{
    assert_false(origin_is_same_site(PUB, "https://evil.example", NULL));
    assert_false(origin_is_same_site(PUB, "https://evil.example", "same-origin"));
    assert_false(origin_is_same_site(PUB, "http://pay.example.com", NULL));       /* scheme */
    assert_false(origin_is_same_site(PUB, "https://pay.example.com:8443", NULL)); /* port */
    assert_false(origin_is_same_site(PUB, "https://pay.example.com.evil.example", NULL));
    assert_false(origin_is_same_site(PUB, "https://sub.pay.example.com", NULL));
    assert_false(origin_is_same_site(PUB, "https://pay.example", NULL));
    assert_false(origin_is_same_site(PUB, "https://pay.example.com/x", NULL));
    assert_false(origin_is_same_site(PUB, "https://pay.example.com:", NULL));
    assert_false(origin_is_same_site(PUB, "https://pay.example.com:99999", NULL));
    assert_false(origin_is_same_site(PUB, "ftp://pay.example.com", NULL));
    assert_false(origin_is_same_site(PUB, "garbage", NULL));
    assert_false(origin_is_same_site("http://[::1]:8080", "http://[::1]:8081", NULL));
}

static void test_no_usable_origin(void **state)
{
    /* our own pages post with Origin: null (Referrer-Policy: no-referrer) */
    assert_true(origin_is_same_site(PUB, "null", "same-origin"));
    assert_true(origin_is_same_site(PUB, NULL, "same-origin"));
    assert_true(origin_is_same_site(PUB, "", "none"));
    assert_false(origin_is_same_site(PUB, "null", "cross-site"));
    assert_false(origin_is_same_site(PUB, NULL, "cross-site"));
    assert_false(origin_is_same_site(PUB, NULL, "Cross-Site"));
    assert_false(origin_is_same_site(PUB, NULL, "same-site"));
    assert_false(origin_is_same_site(PUB, NULL, "bogus"));
    /* neither header: not a browser that could be tricked into posting */
    assert_true(origin_is_same_site(PUB, NULL, NULL));
    assert_true(origin_is_same_site(PUB, "null", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching_origin),
        cmocka_unit_test(test_other_origin),
        cmocka_unit_test(test_no_usable_origin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
