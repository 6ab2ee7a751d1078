/*
 * test_messages.c — unit tests for the pure parts of service/messages.c
 * (reminder schedules, quiet hours, opt-out words) and util/tz.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "service/messages.h"
#include "util/tz.h"

#define MIN (60LL * 1000000)

static void test_reminders(void **state)
{
    usec_t w[SVC_REMINDERS_MAX];
    assert_int_equal(svc_reminders_parse("10m,2h", w), 2);
    assert_int_equal(w[0], 10 * MIN);
    assert_int_equal(w[1], 120 * MIN);
    assert_int_equal(svc_reminders_parse("1m,2m,3m,4m,5m", w), 5);
    assert_int_equal(svc_reminders_parse("", w), 0);
    static const char *const bad[] = {"1m,2m,3m,4m,5m,6m", /* too many */
                                      "2h,10m",            /* not increasing */
                                      "10m,10m",           /* not increasing */
                                      "30s",               /* under a minute */
                                      "8d",                /* over a week */
                                      "10m,",
                                      ",10m",
                                      "10",
                                      "ten",
                                      "10m,,2h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(svc_reminders_parse(bad[i], w), -1);
}

static void test_optout_words(void **state)
{
    assert_int_equal(svc_optout_word("STOP"), 1);
    assert_int_equal(svc_optout_word("  stop \n"), 1);
    assert_int_equal(svc_optout_word("Unsubscribe"), 1);
    assert_int_equal(svc_optout_word("start"), -1);
    assert_int_equal(svc_optout_word("UNSTOP"), -1);
    assert_int_equal(svc_optout_word("please stop"), 0);
    assert_int_equal(svc_optout_word("stopp"), 0);
    assert_int_equal(svc_optout_word(""), 0);
    assert_int_equal(svc_optout_word(NULL), 0);
}

static void test_tz(void **state)
{
    assert_true(tz_valid("Africa/Johannesburg"));
    assert_true(tz_valid("UTC"));
    assert_false(tz_valid("Mars/Olympus"));
    assert_false(tz_valid(""));
    assert_false(tz_valid(NULL));
    /* 2026-01-15 10:30:00Z: 12:30 in Johannesburg (UTC+2), 05:30 in New York (UTC-5) */
    usec_t at = 1768473000LL * 1000000;
    assert_int_equal(tz_minute_of_day("UTC", at), 10 * 60 + 30);
    assert_int_equal(tz_minute_of_day("Africa/Johannesburg", at), 12 * 60 + 30);
    assert_int_equal(tz_minute_of_day("America/New_York", at), 5 * 60 + 30);
    assert_int_equal(tz_minute_of_day("Nowhere/Else", at), -1);
}

static void test_quiet_hours(void **state)
{
    struct db_merchant m = {.quiet_start = 21 * 60, .quiet_end = 8 * 60};
    snprintf(m.timezone, sizeof m.timezone, "Africa/Johannesburg");
    usec_t day = 1768435200LL * 1000000; /* 2026-01-15 00:00:00Z = 02:00 local */
    /* 02:00 local is quiet: released at 08:00 local = 06:00Z */
    assert_int_equal(svc_quiet_release(&m, day), day + 6 * 60 * MIN);
    /* 12:00 local: not quiet */
    assert_int_equal(svc_quiet_release(&m, day + 10 * 60 * MIN), day + 10 * 60 * MIN);
    /* 22:30 local (20:30Z) is quiet until 08:00 local the next day (06:00Z) */
    usec_t late = day + (20 * 60 + 30) * MIN + 17 * 1000000;
    assert_int_equal(svc_quiet_release(&m, late), day + (24 + 6) * 60 * MIN);
    /* a window within one day: 13:00-14:00 */
    m.quiet_start = 13 * 60;
    m.quiet_end = 14 * 60;
    assert_int_equal(svc_quiet_release(&m, day + 11 * 60 * MIN), day + 12 * 60 * MIN);
    assert_int_equal(svc_quiet_release(&m, day + 12 * 60 * MIN), day + 12 * 60 * MIN);
    /* across daylight saving changes the window still ends at 08:00 local */
    m.quiet_start = 22 * 60;
    m.quiet_end = 8 * 60;
    snprintf(m.timezone, sizeof m.timezone, "Europe/London");
    usec_t spring = 1774738800LL * 1000000; /* 2026-03-28 23:00 GMT; BST from 01:00Z */
    assert_int_equal(svc_quiet_release(&m, spring), 1774767600LL * 1000000); /* 08:00 BST */
    usec_t autumn = 1792879200LL * 1000000; /* 2026-10-24 23:00 BST; GMT from 01:00Z */
    assert_int_equal(svc_quiet_release(&m, autumn), 1792915200LL * 1000000); /* 08:00 GMT */
    /* a window ending in the hour that does not exist: the first time after */
    m.quiet_start = 0;
    m.quiet_end = 90;                                   /* 01:30, skipped on 2026-03-29 */
    usec_t skipped = 1774738800LL * 1000000 + 90 * MIN; /* 00:30 GMT */
    assert_int_equal(svc_quiet_release(&m, skipped), skipped + 60 * MIN); /* 02:30 BST */
    /* none */
    m.quiet_start = m.quiet_end = -1;
    assert_int_equal(svc_quiet_release(&m, day), day);
    m.quiet_start = m.quiet_end = 300;
    assert_int_equal(svc_quiet_release(&m, day), day);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reminders),
        cmocka_unit_test(test_optout_words),
        cmocka_unit_test(test_tz),
        cmocka_unit_test(test_quiet_hours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
