/*
 * test_config.c — unit tests for the settings of config.c that have rules
 * of their own: the callback retry schedule, the callback workers and the
 * public URL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define SEC 1000000LL

static void test_default_schedule(void **state)
{
    struct config c;
    config_init(&c);
    static const int64_t want[] = {5 * SEC,     300 * SEC,   1800 * SEC, 7200 * SEC,
                                   18000 * SEC, 36000 * SEC, 36000 * SEC};
    assert_int_equal(c.callback_retries, 7);
    assert_memory_equal(c.callback_retry, want, sizeof want);
    assert_int_equal(c.callback_workers, 16);
}

static void test_schedule_setting(void **state)
{
    struct config c;
    config_init(&c);
    char err[200];
    assert_true(config_set(&c, "callback_retry_schedule", "250ms,2s,1m", err, sizeof err));
    assert_int_equal(c.callback_retries, 3);
    assert_int_equal(c.callback_retry[0], 250000);
    assert_int_equal(c.callback_retry[1], 2 * SEC);
    assert_int_equal(c.callback_retry[2], 60 * SEC);
    /* malformed: nothing changes, the message names the setting */
    static const char *const bad[] = {"",
                                      "5s,",
                                      ",5s",
                                      "5s,,5m",
                                      "5",
                                      "-5s",
                                      "0s",
                                      "8d",
                                      "5 s",
                                      "5s, 5m",
                                      "abc",
                                      "5x",
                                      "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_false(config_set(&c, "callback_retry_schedule", bad[i], err, sizeof err));
        assert_non_null(strstr(err, "callback_retry_schedule"));
        assert_int_equal(c.callback_retries, 3);
        assert_int_equal(c.callback_retry[0], 250000);
    }
    /* sixteen waits are allowed */
    assert_true(config_set(&c, "callback_retry_schedule",
                           "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,7d", err, sizeof err));
    assert_int_equal(c.callback_retries, 16);
    assert_int_equal(c.callback_retry[15], 7 * 24 * 3600 * SEC);
}

static void test_callback_workers(void **state)
{
    struct config c;
    config_init(&c);
    char err[200];
    assert_true(config_set(&c, "callback_workers", "128", err, sizeof err));
    assert_int_equal(c.callback_workers, 128);
    assert_false(config_set(&c, "callback_workers", "0", err, sizeof err));
    assert_false(config_set(&c, "callback_workers", "129", err, sizeof err));
    assert_int_equal(c.callback_workers, 128);
}

static void test_public_url(void **state)
{
    struct config c;
    config_init(&c);
    char err[300];
    static const struct {
        const char *in, *out;
    } good[] = {
        {"https://pay.example.com", "https://pay.example.com"},
        {"https://pay.example.com/", "https://pay.example.com"},
        {"http://127.0.0.1:8080//", "http://127.0.0.1:8080"},
        {"https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"},
        {"HTTPS://Pay.Example.com", "https://Pay.Example.com"},
        {"http://[::1]", "http://[::1]"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(config_set(&c, "public_url", good[i].in, err, sizeof err));
        assert_string_equal(c.public_url, good[i].out);
    }
    /* refused, naming the setting; the last good value stays */
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"ftp://x", "must start with http:// or https://"},
        {"https://", "has no host"},
        {"https://:8080", "has no host"},
        {"https://pay.example.com/pay", "no path, query or fragment"},
        {"https://pay.example.com/?x=1", "no path, query or fragment"},
        {"https://pay.example.com#top", "no path, query or fragment"},
        {"https://user@pay.example.com", "'@'"},
        {"https://pay example.com", "spaces"},
        {"https://pay.example.com:0", "port"},
        {"https://pay.example.com:65536", "port"},
        {"https://pay.example.com:", "port"},
        {"https://pay.example.com:80x", "port"},
        {"https://[::1", "IPv6"},
        {"https://[::1]8080", "IPv6"},
        {"http://2001:db8::1", "IPv6"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_false(config_set(&c, "public_url", bad[i].in, err, sizeof err));
        assert_true(strncmp(err, "public_url: ", 12) == 0);
        if (!strstr(err, bad[i].why))
            fail_msg("%s: %s", bad[i].in, err);
        assert_string_equal(c.public_url, "http://[::1]");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_schedule),
        cmocka_unit_test(test_schedule_setting),
        cmocka_unit_test(test_callback_workers),
        cmocka_unit_test(test_public_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
