/*
 * test_time.c — unit tests for util/time.c: civil-date arithmetic, RFC 3339
 * parsing and formatting, clocks, and duration parsing.
 *
 * Expected instants were computed independently (Python's datetime).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/time.h"

#define SEC  1000000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z */
#define T_MIN (-62135596800LL * SEC)
#define T_MAX 253402300799999999LL

static bool parse(const char *s, usec_t *t)
{
    return time_parse_rfc3339(s, strlen(s), t);
}

/* The test's own leap-year rule and month lengths, to check the library. */
static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_len(int64_t y, unsigned m)
{
    static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : len[m - 1];
}

/* ---- civil dates ------------------------------------------------------- */

struct civil {
    int64_t y;
    unsigned m, d;
    int64_t days;
};

static void test_days_from_civil_known(void **state)
{
    static const struct civil cases[] = {
        {1970, 1, 1, 0},         {1970, 1, 2, 1},      {1969, 12, 31, -1},
        {2000, 1, 1, 10957},     {2000, 3, 1, 11017},  {2024, 2, 29, 19782},
        {1600, 3, 1, -135080},   {1900, 3, 1, -25508}, {2100, 2, 28, 47540},
        {1582, 10, 15, -141427}, {1, 1, 1, -719162},   {9999, 12, 31, 2932896},
        {10000, 1, 1, 2932897},  {0, 3, 1, -719468},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t y;
        unsigned m, d;
        assert_int_equal(time_days_from_civil(cases[i].y, cases[i].m, cases[i].d), cases[i].days);
        time_civil_from_days(cases[i].days, &y, &m, &d);
        assert_int_equal(y, cases[i].y);
        assert_int_equal(m, cases[i].m);
        assert_int_equal(d, cases[i].d);
    }
}

/* Walk every day from 1200 BCE-ish to after 10000 and check that the dates
 * advance one calendar day at a time, and that both directions agree. */
static void test_civil_walk(void **state)
{
    int64_t y;
    unsigned m, d;
    int64_t start = time_days_from_civil(-1200, 1, 1);
    int64_t end = time_days_from_civil(10400, 12, 31);
    (void)state;

    time_civil_from_days(start, &y, &m, &d);
    assert_int_equal(y, -1200);
    assert_int_equal(m, 1);
    assert_int_equal(d, 1);

    for (int64_t day = start + 1; day <= end; day++) {
        int64_t y2;
        unsigned m2, d2;
        time_civil_from_days(day, &y2, &m2, &d2);

        /* Expected successor of (y, m, d). */
        if (d < month_len(y, m)) {
            d++;
        } else if (m < 12) {
            m++;
            d = 1;
        } else {
            y++;
            m = 1;
            d = 1;
        }
        if (y2 != y || m2 != m || d2 != d)
            print_error("day %lld: got %lld-%u-%u want %lld-%u-%u\n", (long long)day, (long long)y2,
                        m2, d2, (long long)y, m, d);
        assert_int_equal(y2, y);
        assert_int_equal(m2, m);
        assert_int_equal(d2, d);
        assert_int_equal(time_days_from_civil(y, m, d), day);
    }
}

static void test_civil_large_years(void **state)
{
    static const int64_t years[] = {-1000000000LL, -400,          -1, 0, 1, 400,
                                    1000000000LL,  100000000000LL};
    (void)state;
    for (size_t i = 0; i < sizeof years / sizeof years[0]; i++) {
        for (unsigned m = 1; m <= 12; m++) {
            int64_t y;
            unsigned mm, dd;
            int64_t days = time_days_from_civil(years[i], m, month_len(years[i], m));
            time_civil_from_days(days, &y, &mm, &dd);
            assert_int_equal(y, years[i]);
            assert_int_equal(mm, m);
            assert_int_equal(dd, month_len(years[i], m));
        }
    }
    /* 400 Gregorian years are exactly 146097 days anywhere on the line. */
    assert_int_equal(time_days_from_civil(100000000400LL, 7, 4) -
                         time_days_from_civil(100000000000LL, 7, 4),
                     146097);
}

/* ---- RFC 3339 parsing: accepted -------------------------------------- */

struct ts_ok {
    const char *text;
    usec_t t;
};

static void test_parse_valid(void **state)
{
    static const struct ts_ok cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01t00:00:00z", 0},
        {"1970-01-01T00:00:01Z", SEC},
        {"1969-12-31T23:59:59Z", -SEC},
        {"1969-12-31T23:59:59.5Z", -SEC / 2},
        {"1969-12-31T23:59:59.999999Z", -1},
        {"1970-01-01T00:00:00.000001Z", 1},
        {"2026-11-22T04:22:07Z", 1795321327000000LL},
        {"2026-11-22T04:22:07.123456+02:00", 1795314127123456LL},
        {"2026-11-22t04:22:07.123456+02:00", 1795314127123456LL},
        {"1969-07-20T20:17:40Z", -14182940000000LL},
        {"2024-02-29T12:00:00Z", 1709208000000000LL},
        {"2000-02-29T00:00:00Z", 951782400000000LL},
        {"2000-03-01T00:00:00Z", 951868800000000LL},
        /* Offsets: the extremes in use, and the odd half-hour ones. */
        {"2026-01-01T00:00:00+14:00", 1767175200000000LL},
        {"2026-01-01T00:00:00-00:30", 1767227400000000LL},
        {"2026-01-01T00:00:00+00:00", 1767225600000000LL},
        {"2026-01-01T00:00:00-00:00", 1767225600000000LL},
        {"2026-01-01T00:00:00-12:00", 1767225600000000LL + 12 * HOUR},
        {"2026-01-01T00:00:00+05:45", 1767225600000000LL - 5 * HOUR - 45 * MIN},
        {"2026-01-01T00:00:00+23:59", 1767225600000000LL - 23 * HOUR - 59 * MIN},
        {"2026-01-01T00:00:00-23:59", 1767225600000000LL + 23 * HOUR + 59 * MIN},
        /* A leap second folds into :59. */
        {"2016-12-31T23:59:60Z", 1483228799000000LL},
        {"2016-12-31T23:59:60.5Z", 1483228799500000LL},
        /* The ends of the supported range. */
        {"0001-01-01T00:00:00Z", T_MIN},
        {"0001-01-01T00:30:00-01:00", T_MIN + 90 * MIN},
        {"0001-01-01T01:00:00+01:00", T_MIN},
        {"9999-12-31T23:59:59.999999Z", T_MAX},
        {"9999-12-31T23:59:59.999999999Z", T_MAX},
        {"9999-12-31T23:30:00+01:00", T_MAX + 1 - 90 * MIN},
        {"9999-12-31T22:59:59.999999-01:00", T_MAX},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        usec_t t = 42;
        bool ok = parse(cases[i].text, &t);
        if (!ok || t != cases[i].t)
            print_error("case \"%s\": ok=%d t=%lld\n", cases[i].text, ok, (long long)t);
        assert_true(ok);
        assert_int_equal(t, cases[i].t);
    }
}

static void test_parse_fraction_digits(void **state)
{
    /* 1..9 digits; beyond six the extra digits are truncated, not rounded. */
    static const struct ts_ok cases[] = {
        {"1970-01-01T00:00:00.1Z", 100000},         {"1970-01-01T00:00:00.12Z", 120000},
        {"1970-01-01T00:00:00.123Z", 123000},       {"1970-01-01T00:00:00.1234Z", 123400},
        {"1970-01-01T00:00:00.12345Z", 123450},     {"1970-01-01T00:00:00.123456Z", 123456},
        {"1970-01-01T00:00:00.1234567Z", 123456},   {"1970-01-01T00:00:00.12345678Z", 123456},
        {"1970-01-01T00:00:00.123456789Z", 123456}, {"1970-01-01T00:00:00.999999999Z", 999999},
        {"1970-01-01T00:00:00.000000999Z", 0},      {"1970-01-01T00:00:00.0Z", 0},
        {"1970-01-01T00:00:00.000000001+00:00", 0}, {"1970-01-01T00:00:00.9+01:00", -HOUR + 900000},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        usec_t t = 42;
        assert_true(parse(cases[i].text, &t));
        assert_int_equal(t, cases[i].t);
    }
}

/* ---- RFC 3339 parsing: rejected -------------------------------------- */

static void test_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "Z",
        "2026",
        "2026-11-22",
        "2026-11-22T",
        "2026-11-22T04:22Z",
        "2026-11-22T04:22:07",   /* no offset */
        "2026-11-22T04:22:07 Z", /* space */
        " 2026-11-22T04:22:07Z", /* leading space */
        "2026-11-22T04:22:07Z ", /* trailing space */
        "2026-11-22T04:22:07ZZ", /* trailing junk */
        "2026-11-22T04:22:07Zx",
        "2026-11-22 04:22:07Z", /* space separator */
        "2026-11-22_04:22:07Z",
        "2026/11/22T04:22:07Z",
        "2026-11-22T04.22.07Z",
        "+2026-11-22T04:22:07Z",
        "-2026-11-22T04:22:07Z",
        "02026-11-22T04:22:07Z", /* five-digit year */
        "10000-01-01T00:00:00Z",
        "226-11-22T04:22:07Z",
        "2026-1-22T04:22:07Z",
        "2026-11-2T04:22:07Z",
        "2026-11-22T4:22:07Z",
        "2026-11-22T04:2:07Z",
        "2026-11-22T04:22:7Z",
        "2026-11-22T04:22:07.Z",           /* empty fraction */
        "2026-11-22T04:22:07.1234567890Z", /* 10 fraction digits */
        "2026-11-22T04:22:07,5Z",
        "2026-11-22T04:22:07.5.5Z",
        "2026-11-22T04:22:07.-5Z",
        "2026-11-22T04:22:07+02",
        "2026-11-22T04:22:07+0200",
        "2026-11-22T04:22:07+2:00",
        "2026-11-22T04:22:07+02:0",
        "2026-11-22T04:22:07+02:000",
        "2026-11-22T04:22:07+02:00Z",
        "2026-11-22T04:22:07+24:00", /* offset hour */
        "2026-11-22T04:22:07+00:60", /* offset minute */
        "2026-11-22T04:22:07+99:99",
        "2026-11-22T04:22:07 +02:00",
        "2026-11-22T04:22:07*02:00",
        "2026-11-22T04:22:07UTC",
        "2026-11-22T04:22:07GMT",
        /* out-of-range fields */
        "0000-01-01T00:00:00Z",
        "0000-12-31T23:30:00-01:00", /* year 0000 in the text, 0001 in UTC */
        "2026-00-22T04:22:07Z",
        "2026-13-22T04:22:07Z",
        "2026-11-00T04:22:07Z",
        "2026-11-31T04:22:07Z",
        "2026-01-32T04:22:07Z",
        "2026-04-31T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z", /* century, not a leap year */
        "2100-02-29T00:00:00Z",
        "2026-11-22T24:00:00Z",
        "2026-11-22T04:60:00Z",
        "2026-11-22T04:22:61Z",
        "2026-11-22T99:22:07Z",
        /* the instant must stay within 0001..9999 UTC */
        "0001-01-01T00:30:00+01:00",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:30:00-01:00",
        "9999-12-31T23:00:00-01:00", /* exactly 10000-01-01T00:00:00Z */
        "9999-12-31T23:59:59-00:01",
        /* not ASCII digits */
        "2O26-11-22T04:22:07Z",
        "2026-11-22T04:22:07.\xd9\xa1Z",
        "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96-11-22T04:22:07Z",
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        usec_t t = 42;
        if (parse(bad[i], &t))
            print_error("accepted \"%s\" as %lld\n", bad[i], (long long)t);
        assert_false(parse(bad[i], &t));
        assert_int_equal(t, 42); /* untouched on failure */
    }
}

static void test_parse_uses_len(void **state)
{
    usec_t t = 0;
    const char *s = "1970-01-01T00:00:01Zjunk";
    (void)state;

    assert_true(time_parse_rfc3339(s, 20, &t));
    assert_int_equal(t, SEC);
    assert_false(time_parse_rfc3339(s, 19, &t)); /* offset cut off */
    assert_false(time_parse_rfc3339(s, 21, &t)); /* junk included */
    assert_false(time_parse_rfc3339(s, 0, &t));
    /* Offset cut short by len. */
    assert_false(time_parse_rfc3339("1970-01-01T00:00:00+01:00", 24, &t));
    /* Fraction cut short by len: no offset left. */
    assert_false(time_parse_rfc3339("1970-01-01T00:00:00.123Z", 23, &t));
    /* Embedded NUL. */
    assert_false(time_parse_rfc3339("1970-01-01T00:00:00\0Z", 21, &t));
    assert_false(time_parse_rfc3339(NULL, 20, &t));
    assert_false(time_parse_rfc3339(s, 20, NULL));
}

/* ISO 8601 as clients write it: what RFC 3339 allows, and offsets without
 * a colon or minutes, seconds left out, a comma before the fraction, no
 * offset (UTC); never a space for the T, a one-digit offset or junk. */
static void test_parse_iso8601(void **state)
{
    static const struct {
        const char *text;
        long long sec, us;
    } good[] = {
        {"2026-01-31T12:00:00Z", 1769860800, 0},
        {"2026-01-31T12:00:00.25+02:00", 1769853600, 250000},
        {"2026-01-31T12:00:00.000+0200", 1769853600, 0},
        {"2026-01-31T12:00:00-03", 1769871600, 0},
        {"2026-01-31T12:00:00,5Z", 1769860800, 500000},
        {"2026-01-31T12:00:00", 1769860800, 0},
        {"2026-01-31T12:00", 1769860800, 0},
        {"2026-01-31T12:00+0100", 1769857200, 0},
        {"2026-01-31t12:00:00.123456789z", 1769860800, 123456},
    };
    static const char *const bad[] = {
        "2026-01-31 12:00:00Z",
        "2026-01-31T12:00:00+2",
        "2026-01-31T12:00:00+020",
        "2026-01-31T12:00:00+02:0",
        "2026-01-31T12:00:00+0200Z",
        "2026-01-31T12",
        "2026-01-31T12:00:0",
        "2026-01-31T12:00:00.Z",
        "2026-01-31T12:00:00.1234567890Z",
        "2026-02-30T12:00",
        "2026-01-31T24:00",
        "2026-01-31T12:00:00 ",
        "2026-01-31",
        "",
        "2026-01-31T12:00:00+24:00",
    };
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        usec_t t = 0;
        if (!time_parse_iso8601(good[i].text, strlen(good[i].text), &t))
            print_error("refused \"%s\"\n", good[i].text);
        assert_true(time_parse_iso8601(good[i].text, strlen(good[i].text), &t));
        assert_int_equal(t, good[i].sec * SEC + good[i].us);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        usec_t t = 42;
        if (time_parse_iso8601(bad[i], strlen(bad[i]), &t))
            print_error("accepted \"%s\"\n", bad[i]);
        assert_false(time_parse_iso8601(bad[i], strlen(bad[i]), &t));
        assert_int_equal(t, 42);
    }
    usec_t t;
    assert_false(time_parse_iso8601(NULL, 16, &t));
    /* only len characters are read */
    assert_true(time_parse_iso8601("2026-01-31T12:00Zjunk", 17, &t));
    assert_false(time_parse_iso8601("2026-01-31T12:00Zjunk", 18, &t));
}

/* ---- formatting -------------------------------------------------------- */

struct ts_fmt {
    usec_t t;
    const char *ms;
    const char *us;
};

static void test_format(void **state)
{
    static const struct ts_fmt cases[] = {
        {0, "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.000000Z"},
        {1, "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.000001Z"},
        {999, "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.000999Z"},
        {1000, "1970-01-01T00:00:00.001Z", "1970-01-01T00:00:00.001000Z"},
        {-1, "1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999999Z"},
        {-1000, "1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999000Z"},
        {-1001, "1969-12-31T23:59:59.998Z", "1969-12-31T23:59:59.998999Z"},
        {-DAY, "1969-12-31T00:00:00.000Z", "1969-12-31T00:00:00.000000Z"},
        {1795314127123456LL, "2026-11-22T02:22:07.123Z", "2026-11-22T02:22:07.123456Z"},
        {1709208000000000LL, "2024-02-29T12:00:00.000Z", "2024-02-29T12:00:00.000000Z"},
        {951868800000000LL - 1, "2000-02-29T23:59:59.999Z", "2000-02-29T23:59:59.999999Z"},
        {T_MIN, "0001-01-01T00:00:00.000Z", "0001-01-01T00:00:00.000000Z"},
        {T_MAX, "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999999Z"},
        /* Year 0 still fits the four-digit field. */
        {-62167219200LL * SEC, "0000-01-01T00:00:00.000Z", "0000-01-01T00:00:00.000000Z"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        assert_int_equal(time_format_rfc3339(cases[i].t, buf, sizeof buf), 24);
        assert_string_equal(buf, cases[i].ms);
        assert_int_equal(time_format_rfc3339_us(cases[i].t, buf, sizeof buf), 27);
        assert_string_equal(buf, cases[i].us);
    }
}

static void test_format_limits(void **state)
{
    char buf[64];
    (void)state;

    /* Exactly the documented capacity, and one less. */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(time_format_rfc3339(0, buf, 25), 24);
    assert_int_equal(buf[24], '\0');
    assert_int_equal(buf[25], 'x');
    memset(buf, 'x', sizeof buf);
    assert_int_equal(time_format_rfc3339(0, buf, 24), -1);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'x');
    assert_int_equal(time_format_rfc3339_us(0, buf, 28), 27);
    assert_int_equal(time_format_rfc3339_us(0, buf, 27), -1);
    assert_int_equal(buf[0], '\0');
    memset(buf, 'x', sizeof buf);
    assert_int_equal(time_format_rfc3339(0, buf, 0), -1);
    assert_int_equal(buf[0], 'x');
    assert_int_equal(time_format_rfc3339(0, NULL, 64), -1);

    /* Years that do not fit four digits. */
    assert_int_equal(time_format_rfc3339(T_MAX + 1, buf, sizeof buf), -1);
    assert_string_equal(buf, "");
    assert_int_equal(time_format_rfc3339(-62167219200LL * SEC - 1, buf, sizeof buf), -1);
    assert_int_equal(time_format_rfc3339(INT64_MAX, buf, sizeof buf), -1);
    assert_int_equal(time_format_rfc3339(INT64_MIN, buf, sizeof buf), -1);
    assert_int_equal(time_format_rfc3339_us(INT64_MAX, buf, sizeof buf), -1);
    assert_int_equal(time_format_rfc3339_us(INT64_MIN, buf, sizeof buf), -1);
}

/* format → parse gives the instant back (truncated to ms for the ms form). */
static void test_round_trip(void **state)
{
    uint64_t x = 0x243F6A8885A308D3ULL;
    const uint64_t span = (uint64_t)(T_MAX - T_MIN) + 1;
    (void)state;

    for (int i = 0; i < 200000; i++) {
        char buf[32];
        usec_t t, back = 0, ms_floor;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t = T_MIN + (int64_t)(x % span);
        if (i < 4)
            t = (usec_t[]){T_MIN, T_MAX, 0, -1}[i];

        assert_int_equal(time_format_rfc3339_us(t, buf, sizeof buf), 27);
        assert_true(parse(buf, &back));
        assert_int_equal(back, t);

        ms_floor = t - ((t % 1000) + 1000) % 1000;
        assert_int_equal(time_format_rfc3339(t, buf, sizeof buf), 24);
        assert_true(parse(buf, &back));
        assert_int_equal(back, ms_floor);
    }
}

/* ---- clocks -------------------------------------------------------------- */

static void test_clocks(void **state)
{
    usec_t now = time_now();
    time_t sys = time(NULL);
    usec_t m1, m2;
    (void)state;

    /* After 2020-01-01, before 2200-01-01, and agreeing with time() to 2 s. */
    assert_true(now > 1577836800LL * SEC);
    assert_true(now < 7258118400LL * SEC);
    assert_true(now / SEC - (int64_t)sys <= 2 && (int64_t)sys - now / SEC <= 2);

    m1 = time_mono();
    for (int i = 0; i < 1000; i++) {
        m2 = time_mono();
        assert_true(m2 >= m1);
        m1 = m2;
    }
    assert_true(m1 > 0);
}

/* ---- durations ------------------------------------------------------------ */

struct dur_ok {
    const char *text;
    usec_t v;
};

static void test_duration_valid(void **state)
{
    static const struct dur_ok cases[] = {
        {"90s", 90 * SEC},
        {"5m", 5 * MIN},
        {"2h", 2 * HOUR},
        {"1d", DAY},
        {"250ms", 250000},
        {"1ms", 1000},
        {"1s", SEC},
        {"007s", 7 * SEC},
        {"86400s", DAY},
        {"9223372036854775ms", 9223372036854775LL * 1000},
        {"9223372036854s", 9223372036854LL * SEC},
        {"153722867280m", 153722867280LL * MIN},
        {"2562047788h", 2562047788LL * HOUR},
        {"106751d", 106751LL * DAY},
        {"106751991d", 106751991LL * DAY},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        usec_t v = 0;
        if (!time_parse_duration(cases[i].text, &v))
            print_error("rejected \"%s\"\n", cases[i].text);
        assert_true(time_parse_duration(cases[i].text, &v));
        assert_int_equal(v, cases[i].v);
    }
}

static void test_duration_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "s",
        "ms",
        "10", /* missing unit */
        "0s", /* zero */
        "00ms",
        "0d",
        "10x",
        "10us",
        "10ns",
        "10S", /* units are lower case */
        "10MS",
        "10 s",
        " 10s",
        "10s ",
        "10s\n",
        "-5s",
        "+5s",
        "1.5s",
        "1,5s",
        "10sm",
        "10mss",
        "10ms5",
        "5m30s",
        "1e3s",
        "0x10s",
        "9223372036854775808s", /* count overflows */
        "99999999999999999999999ms",
        "9223372036854775807",   /* digits alone */
        "9223372036854775807ms", /* usec overflows */
        "9223372036854776ms",
        "9223372036855s",
        "153722867281m",
        "2562047789h",
        "106751992d",
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        usec_t v = 42;
        if (time_parse_duration(bad[i], &v))
            print_error("accepted \"%s\" as %lld\n", bad[i], (long long)v);
        assert_false(time_parse_duration(bad[i], &v));
        assert_int_equal(v, 42);
    }
    assert_false(time_parse_duration(NULL, NULL));
    assert_false(time_parse_duration("5s", NULL));
}

/* time_sleep: at least the time asked for; nothing for 0 or less. */
static void test_sleep(void **state)
{
    (void)state;
    usec_t t0 = time_mono();
    time_sleep(20000);
    assert_true(time_mono() - t0 >= 20000);
    t0 = time_mono();
    time_sleep(0);
    time_sleep(-5);
    assert_true(time_mono() - t0 < 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_from_civil_known),
        cmocka_unit_test(test_civil_walk),
        cmocka_unit_test(test_civil_large_years),
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_fraction_digits),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_uses_len),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_limits),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_iso8601),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_duration_valid),
        cmocka_unit_test(test_duration_invalid),
        cmocka_unit_test(test_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
