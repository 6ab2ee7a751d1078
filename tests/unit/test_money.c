/*
 * test_money.c — unit tests for core/money.c: JSON number parsing into exact
 * decimals, conversion to minor units, formatting and their round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/money.h"

static enum money_status parse(const char *s, struct money_dec *d)
{
    return money_dec_parse(s, strlen(s), d);
}

static enum money_status parse_minor(const char *s, int exponent, int64_t *minor)
{
    return money_parse_minor(s, strlen(s), exponent, minor);
}

/* Deterministic xorshift64* generator for the property tests. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* ---- money_dec_parse: valid numbers -------------------------------------- */

struct parse_ok {
    const char *text;
    int64_t coef;
    int scale;
    bool negative;
};

static void test_parse_valid(void **state)
{
    static const struct parse_ok cases[] = {
        {"0", 0, 0, false},
        {"-0", 0, 0, true},
        {"-0.0", 0, 0, true},
        {"-0.00", 0, 0, true},
        {"0.00", 0, 0, false},
        {"0e5", 0, 0, false},
        {"0E-5", 0, 0, false},
        {"0e999999999999", 0, 0, false},
        {"0e-999999999999", 0, 0, false},
        {"-0e99999999999999999999999999999", 0, 0, true},
        {"0.000e-400", 0, 0, false},
        {"1", 1, 0, false},
        {"7", 7, 0, false},
        {"-7", 7, 0, true},
        {"10", 10, 0, false},
        {"12.50", 125, 1, false},
        {"1.50", 15, 1, false},
        {"12.5", 125, 1, false},
        {"-12.5", 125, 1, true},
        {"10.500", 105, 1, false},
        {"10.001", 10001, 3, false},
        {"0.5", 5, 1, false},
        {"0.05", 5, 2, false},
        {"0.000001", 1, 6, false},
        {"1e3", 1000, 0, false},
        {"1E3", 1000, 0, false},
        {"1e+3", 1000, 0, false},
        {"1e2", 100, 0, false},
        {"1e0", 1, 0, false},
        {"1e-0", 1, 0, false},
        {"1e+0", 1, 0, false},
        {"1e007", 10000000, 0, false},
        {"1.5e1", 15, 0, false},
        {"1.5E+1", 15, 0, false},
        {"150e-2", 15, 1, false},
        {"10e-1", 1, 0, false},
        {"1000e-3", 1, 0, false},
        {"0.1e1", 1, 0, false},
        {"0.01e1", 1, 1, false},
        {"12.345e1", 12345, 2, false},
        {"1e-18", 1, 18, false},
        {"1e17", 100000000000000000LL, 0, false},
        {"9e17", 900000000000000000LL, 0, false},
        {"100000000000000000", 100000000000000000LL, 0, false},
        {"100000000000000000000e-3", 100000000000000000LL, 0, false},
        {"999999999999999999", MONEY_MAX_COEF, 0, false},
        {"-999999999999999999", MONEY_MAX_COEF, 0, true},
        {"99999999999999999.9", MONEY_MAX_COEF, 1, false},
        {"0.999999999999999999", MONEY_MAX_COEF, 18, false},
        {"0.000000000000000001", 1, 18, false},
        {"123456789012345678e-18", 123456789012345678LL, 18, false},
        {"1.23456789012345678e17", 123456789012345678LL, 0, false},
        /* Trailing zeros are not significant, however many there are. */
        {"1.000000000000000000000000000000", 1, 0, false},
        {"12345678901234567.800000000000000000", 123456789012345678LL, 1, false},
        /* Leading zeros of the fraction are not significant either. */
        {"0.0000000000000000000000001e25", 1, 0, false},
        {"0.0000000000000000000000123456789012345678e40", 123456789012345678LL, 0, false},
        /* Exponent digits beyond int64 saturate without changing the result. */
        {"0.00000000000000000000000000000000000001e00000000000000000000000000000000038", 1, 0,
         false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct money_dec d = {-1, -1, false};
        enum money_status st = parse(cases[i].text, &d);
        if (st != MONEY_OK || d.coef != cases[i].coef || d.scale != cases[i].scale ||
            d.negative != cases[i].negative)
            print_error("case \"%s\": st=%d coef=%lld scale=%d neg=%d\n", cases[i].text, st,
                        (long long)d.coef, d.scale, d.negative);
        assert_int_equal(st, MONEY_OK);
        assert_int_equal(d.coef, cases[i].coef);
        assert_int_equal(d.scale, cases[i].scale);
        assert_int_equal(d.negative, cases[i].negative);
    }
}

/* ---- money_dec_parse: rejected input ----------------------------------- */

struct parse_bad {
    const char *text;
    enum money_status st;
    bool negative; /* expected d.negative after the error */
};

static void test_parse_invalid(void **state)
{
    static const struct parse_bad cases[] = {
        /* Not the JSON number grammar. */
        {"", MONEY_SYNTAX, false},
        {"-", MONEY_SYNTAX, false},
        {"+", MONEY_SYNTAX, false},
        {"+1", MONEY_SYNTAX, false},
        {"--1", MONEY_SYNTAX, false},
        {"-+1", MONEY_SYNTAX, false},
        {"01", MONEY_SYNTAX, false},
        {"00", MONEY_SYNTAX, false},
        {"-01", MONEY_SYNTAX, false},
        {"00.5", MONEY_SYNTAX, false},
        {"1.", MONEY_SYNTAX, false},
        {".5", MONEY_SYNTAX, false},
        {"-.5", MONEY_SYNTAX, false},
        {".", MONEY_SYNTAX, false},
        {"1e", MONEY_SYNTAX, false},
        {"1E", MONEY_SYNTAX, false},
        {"1e+", MONEY_SYNTAX, false},
        {"1e-", MONEY_SYNTAX, false},
        {"1e+-1", MONEY_SYNTAX, false},
        {"e5", MONEY_SYNTAX, false},
        {"1.e5", MONEY_SYNTAX, false},
        {"1..2", MONEY_SYNTAX, false},
        {"1.2.3", MONEY_SYNTAX, false},
        {"1e5e5", MONEY_SYNTAX, false},
        {"1e1.5", MONEY_SYNTAX, false},
        {"1-", MONEY_SYNTAX, false},
        {" 1", MONEY_SYNTAX, false},
        {"1 ", MONEY_SYNTAX, false},
        {"1\t", MONEY_SYNTAX, false},
        {"1\n", MONEY_SYNTAX, false},
        {"1,5", MONEY_SYNTAX, false},
        {"1_000", MONEY_SYNTAX, false},
        {"0x1A", MONEY_SYNTAX, false},
        {"0b1", MONEY_SYNTAX, false},
        {"abc", MONEY_SYNTAX, false},
        {"1a", MONEY_SYNTAX, false},
        {"Infinity", MONEY_SYNTAX, false},
        {"-Infinity", MONEY_SYNTAX, false},
        {"NaN", MONEY_SYNTAX, false},
        {"true", MONEY_SYNTAX, false},
        {"null", MONEY_SYNTAX, false},
        {"\"1\"", MONEY_SYNTAX, false},
        {"\xd9\xa1", MONEY_SYNTAX, false},     /* ARABIC-INDIC DIGIT ONE */
        {"\xef\xbc\x91", MONEY_SYNTAX, false}, /* FULLWIDTH DIGIT ONE */
        /* A syntax error wins over a range problem in the digits before it. */
        {"12345678901234567890x", MONEY_SYNTAX, false},
        {"-1e99999999999999999999.", MONEY_SYNTAX, false},
        /* More than 18 significant digits. */
        {"1000000000000000000", MONEY_OUT_OF_RANGE, false},
        {"1234567890123456789", MONEY_OUT_OF_RANGE, false},
        {"9999999999999999999", MONEY_OUT_OF_RANGE, false},
        {"0.1234567890123456789", MONEY_OUT_OF_RANGE, false},
        {"1.000000000000000001", MONEY_OUT_OF_RANGE, false},
        {"-1234567890123456789", MONEY_OUT_OF_RANGE, true},
        /* Too large once the exponent is applied. */
        {"1e18", MONEY_OUT_OF_RANGE, false},
        {"1e19", MONEY_OUT_OF_RANGE, false},
        {"1.5e18", MONEY_OUT_OF_RANGE, false},
        {"999999999999999999e1", MONEY_OUT_OF_RANGE, false},
        {"1e999999999999", MONEY_OUT_OF_RANGE, false},
        {"1e99999999999999999999999999999999999999", MONEY_OUT_OF_RANGE, false},
        {"-1e999", MONEY_OUT_OF_RANGE, true},
        /* Exponents that would wrap to 0 or 1 in 64-bit arithmetic. */
        {"1e18446744073709551616", MONEY_OUT_OF_RANGE, false},
        {"1e18446744073709551617", MONEY_OUT_OF_RANGE, false},
        {"1e9223372036854775808", MONEY_OUT_OF_RANGE, false},
        /* More than MONEY_MAX_SCALE decimals after normalisation. */
        {"1e-19", MONEY_TOO_PRECISE, false},
        {"0.0000000000000000001", MONEY_TOO_PRECISE, false},
        {"1e-999999999999", MONEY_TOO_PRECISE, false},
        {"1e-99999999999999999999999999999999999999", MONEY_TOO_PRECISE, false},
        {"-5e-20", MONEY_TOO_PRECISE, true},
        {"1e-18446744073709551616", MONEY_TOO_PRECISE, false},
        {"1e-18446744073709551617", MONEY_TOO_PRECISE, false},
        {"1e-9223372036854775808", MONEY_TOO_PRECISE, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct money_dec d = {12345, 7, !cases[i].negative};
        enum money_status st = parse(cases[i].text, &d);
        if (st != cases[i].st)
            print_error("case \"%s\": st=%d, want %d\n", cases[i].text, st, cases[i].st);
        assert_int_equal(st, cases[i].st);
        /* On error the value is zeroed; only the sign survives a range error. */
        assert_int_equal(d.coef, 0);
        assert_int_equal(d.scale, 0);
        assert_int_equal(d.negative, cases[i].negative);
    }
}

static void test_parse_uses_len_not_nul(void **state)
{
    struct money_dec d;
    (void)state;

    /* Only text[0..len) is read. */
    assert_int_equal(money_dec_parse("12.50xyz", 5, &d), MONEY_OK);
    assert_int_equal(d.coef, 125);
    assert_int_equal(d.scale, 1);
    assert_int_equal(money_dec_parse("12.50", 2, &d), MONEY_OK);
    assert_int_equal(d.coef, 12);
    assert_int_equal(money_dec_parse("12.50", 3, &d), MONEY_SYNTAX); /* "12." */
    assert_int_equal(money_dec_parse("12.50", 0, &d), MONEY_SYNTAX);
    /* An embedded NUL inside len is a character like any other. */
    assert_int_equal(money_dec_parse("1\0"
                                     "2",
                                     3, &d),
                     MONEY_SYNTAX);
    assert_int_equal(money_dec_parse("1\0", 2, &d), MONEY_SYNTAX);
    assert_int_equal(money_dec_parse(NULL, 0, &d), MONEY_SYNTAX);
}

static void test_parse_long_inputs(void **state)
{
    char buf[4096];
    struct money_dec d;
    (void)state;

    /* 1 followed by thousands of fractional zeros: trailing, not significant. */
    buf[0] = '1';
    buf[1] = '.';
    memset(buf + 2, '0', 4000);
    assert_int_equal(money_dec_parse(buf, 4002, &d), MONEY_OK);
    assert_int_equal(d.coef, 1);
    assert_int_equal(d.scale, 0);

    /* "0.000...0005" with 4000 leading zeros: too precise, not out of range. */
    buf[0] = '0';
    buf[4001] = '5';
    assert_int_equal(money_dec_parse(buf, 4002, &d), MONEY_TOO_PRECISE);

    /* ...but shifted back by an exponent of the same size it is just 5. */
    memcpy(buf + 4002, "e4000", 5);
    assert_int_equal(money_dec_parse(buf, 4007, &d), MONEY_OK);
    assert_int_equal(d.coef, 5);
    assert_int_equal(d.scale, 0);
    memcpy(buf + 4002, "e3999", 5);
    assert_int_equal(money_dec_parse(buf, 4007, &d), MONEY_OK);
    assert_int_equal(d.coef, 5);
    assert_int_equal(d.scale, 1);

    /* A 4000-digit integer of mostly trailing zeros is out of range. */
    buf[0] = '1';
    memset(buf + 1, '0', 3999);
    assert_int_equal(money_dec_parse(buf, 4000, &d), MONEY_OUT_OF_RANGE);
    /* ...unless an exponent brings it back: 1e3999 × 1e-3999 = 1. */
    memcpy(buf + 4000, "e-3999", 6);
    assert_int_equal(money_dec_parse(buf, 4006, &d), MONEY_OK);
    assert_int_equal(d.coef, 1);
    assert_int_equal(d.scale, 0);
}

/* The same value written several ways must parse to the same normalised
 * decimal: plain, as coefficient and negative exponent, and shifted into the
 * fraction with a positive exponent. */
static void test_parse_notations_agree(void **state)
{
    (void)state;
    for (int iter = 0; iter < 20000; iter++) {
        int64_t coef = (int64_t)(rng() % 1000000000000000LL); /* up to 15 digits */
        int scale = (int)(rng() % 19);
        int shift = (int)(rng() % 30);
        char digits[40], plain[80], expo[80], shifted[120];
        struct money_dec a, b, c;
        int64_t want_coef = coef;
        int want_scale = scale;
        int nd;

        if (iter % 7 == 0)
            coef *= 1000; /* trailing zeros in the coefficient */
        nd = snprintf(digits, sizeof digits, "%lld", (long long)coef);

        /* plain decimal */
        if (scale == 0) {
            snprintf(plain, sizeof plain, "%s", digits);
        } else if (nd > scale) {
            snprintf(plain, sizeof plain, "%.*s.%s", nd - scale, digits, digits + nd - scale);
        } else {
            snprintf(plain, sizeof plain, "0.%0*d%s", scale - nd, 0, digits);
            if (scale - nd == 0)
                snprintf(plain, sizeof plain, "0.%s", digits);
        }
        snprintf(expo, sizeof expo, "%se-%d", digits, scale);
        snprintf(shifted, sizeof shifted, "0.%0*d%se%d", shift + 1, 0, digits,
                 shift + 1 + nd - scale);

        want_coef = coef;
        want_scale = scale;
        while (want_scale > 0 && want_coef % 10 == 0) {
            want_coef /= 10;
            want_scale--;
        }
        if (want_coef == 0)
            want_scale = 0;

        assert_int_equal(parse(plain, &a), MONEY_OK);
        assert_int_equal(parse(expo, &b), MONEY_OK);
        if (parse(shifted, &c) != MONEY_OK || c.coef != want_coef || c.scale != want_scale)
            print_error("shifted \"%s\" (plain \"%s\")\n", shifted, plain);
        assert_int_equal(parse(shifted, &c), MONEY_OK);
        assert_int_equal(a.coef, want_coef);
        assert_int_equal(a.scale, want_scale);
        assert_int_equal(b.coef, want_coef);
        assert_int_equal(b.scale, want_scale);
        assert_int_equal(c.coef, want_coef);
        assert_int_equal(c.scale, want_scale);
        /* The normalisation invariant. */
        assert_true(a.scale == 0 || a.coef % 10 != 0);
    }
}

/* ---- money_to_minor --------------------------------------------------- */

struct minor_case {
    const char *text;
    int exponent;
    enum money_status st;
    int64_t minor;
};

static const struct minor_case minor_cases[] = {
    {"10.500", 2, MONEY_OK, 1050},
    {"10.50", 2, MONEY_OK, 1050},
    {"10.5", 2, MONEY_OK, 1050},
    {"10.001", 2, MONEY_TOO_PRECISE, 0},
    {"10.001", 3, MONEY_OK, 10001},
    {"10.001", 4, MONEY_OK, 100010},
    {"12.50", 0, MONEY_TOO_PRECISE, 0},
    {"12.00", 0, MONEY_OK, 12},
    {"1e2", 0, MONEY_OK, 100},
    {"1e2", 2, MONEY_OK, 10000},
    {"1.5e1", 0, MONEY_OK, 15},
    {"1.5e1", 2, MONEY_OK, 1500},
    {"150e-2", 2, MONEY_OK, 150},
    {"150e-2", 1, MONEY_OK, 15},
    {"150e-2", 0, MONEY_TOO_PRECISE, 0},
    {"0", 0, MONEY_OK, 0},
    {"0.00", 2, MONEY_OK, 0},
    {"0e-30", 4, MONEY_OK, 0},
    {"0.0001", 4, MONEY_OK, 1},
    {"0.00001", 4, MONEY_TOO_PRECISE, 0},
    {"0.123", 3, MONEY_OK, 123},
    {"7", 4, MONEY_OK, 70000},
    /* MONEY_MAX_MINOR = 10^15 - 1 at each exponent, and one past it. */
    {"999999999999999", 0, MONEY_OK, MONEY_MAX_MINOR},
    {"1000000000000000", 0, MONEY_OUT_OF_RANGE, 0},
    {"1e15", 0, MONEY_OUT_OF_RANGE, 0},
    {"9999999999999.99", 2, MONEY_OK, MONEY_MAX_MINOR},
    {"10000000000000", 2, MONEY_OUT_OF_RANGE, 0},
    {"9999999999999.991", 2, MONEY_TOO_PRECISE, 0},
    {"999999999999.999", 3, MONEY_OK, MONEY_MAX_MINOR},
    {"1000000000000", 3, MONEY_OUT_OF_RANGE, 0},
    {"99999999999.9999", 4, MONEY_OK, MONEY_MAX_MINOR},
    {"100000000000", 4, MONEY_OUT_OF_RANGE, 0},
    {"999999999999999999", 0, MONEY_OUT_OF_RANGE, 0},
    {"999999999999999999", 4, MONEY_OUT_OF_RANGE, 0},
};

static void test_to_minor(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof minor_cases / sizeof minor_cases[0]; i++) {
        const struct minor_case *c = &minor_cases[i];
        struct money_dec d;
        int64_t minor = -77;
        enum money_status st;

        assert_int_equal(parse(c->text, &d), MONEY_OK);
        st = money_to_minor(&d, c->exponent, &minor);
        if (st != c->st || minor != c->minor)
            print_error("case \"%s\" exp %d: st=%d minor=%lld\n", c->text, c->exponent, st,
                        (long long)minor);
        assert_int_equal(st, c->st);
        assert_int_equal(minor, c->minor);

        /* money_parse_minor agrees for non-negative input. */
        minor = -77;
        assert_int_equal(parse_minor(c->text, c->exponent, &minor), c->st);
        assert_int_equal(minor, c->minor);
    }
}

static void test_to_minor_negative_first(void **state)
{
    int64_t minor = 5;
    struct money_dec d;
    (void)state;

    /* Negative is reported before precision or range, even for zero. */
    d = (struct money_dec){0, 0, true};
    assert_int_equal(money_to_minor(&d, 2, &minor), MONEY_NEGATIVE);
    assert_int_equal(minor, 0);
    d = (struct money_dec){1, 5, true};
    assert_int_equal(money_to_minor(&d, 2, &minor), MONEY_NEGATIVE);
    d = (struct money_dec){MONEY_MAX_COEF, 0, true};
    assert_int_equal(money_to_minor(&d, 4, &minor), MONEY_NEGATIVE);
    d = (struct money_dec){1, 0, true};
    assert_int_equal(money_to_minor(&d, 9, &minor), MONEY_NEGATIVE);

    assert_int_equal(parse_minor("-0", 2, &minor), MONEY_NEGATIVE);
    assert_int_equal(parse_minor("-0.00", 2, &minor), MONEY_NEGATIVE);
    assert_int_equal(parse_minor("-12.50", 2, &minor), MONEY_NEGATIVE);
    assert_int_equal(parse_minor("-1.001", 2, &minor), MONEY_NEGATIVE);
    assert_int_equal(parse_minor("-1e999", 2, &minor), MONEY_NEGATIVE);
    assert_int_equal(parse_minor("-1e-999", 2, &minor), MONEY_NEGATIVE);
    assert_int_equal(parse_minor("-12345678901234567890", 2, &minor), MONEY_NEGATIVE);
    /* ...but not before a syntax error. */
    assert_int_equal(parse_minor("-", 2, &minor), MONEY_SYNTAX);
    assert_int_equal(parse_minor("-abc", 2, &minor), MONEY_SYNTAX);
    assert_int_equal(parse_minor("-01", 2, &minor), MONEY_SYNTAX);
    assert_int_equal(parse_minor("1e999", 2, &minor), MONEY_OUT_OF_RANGE);
    assert_int_equal(parse_minor("1e-999", 2, &minor), MONEY_TOO_PRECISE);
    assert_int_equal(minor, 0);
}

static void test_to_minor_bad_arguments(void **state)
{
    int64_t minor = 5;
    struct money_dec d = {1, 0, false};
    (void)state;

    /* Exponents outside 0..4 are not ISO 4217 minor units. */
    assert_int_equal(money_to_minor(&d, -1, &minor), MONEY_OUT_OF_RANGE);
    assert_int_equal(minor, 0);
    assert_int_equal(money_to_minor(&d, 5, &minor), MONEY_OUT_OF_RANGE);
    assert_int_equal(parse_minor("1", 5, &minor), MONEY_OUT_OF_RANGE);
    /* Values money_dec_parse never produces. */
    d = (struct money_dec){-1, 0, false};
    assert_int_equal(money_to_minor(&d, 2, &minor), MONEY_OUT_OF_RANGE);
    d = (struct money_dec){1, -1, false};
    assert_int_equal(money_to_minor(&d, 2, &minor), MONEY_OUT_OF_RANGE);
    d = (struct money_dec){1, MONEY_MAX_SCALE + 1, false};
    assert_int_equal(money_to_minor(&d, 2, &minor), MONEY_OUT_OF_RANGE);
    /* Non-normalised but valid: trailing zeros are dropped first. */
    d = (struct money_dec){150, 2, false};
    assert_int_equal(money_to_minor(&d, 1, &minor), MONEY_OK);
    assert_int_equal(minor, 15);
    d = (struct money_dec){100, 3, false};
    assert_int_equal(money_to_minor(&d, 0, &minor), MONEY_TOO_PRECISE);
    d = (struct money_dec){1000, 3, false};
    assert_int_equal(money_to_minor(&d, 0, &minor), MONEY_OK);
    assert_int_equal(minor, 1);
    d = (struct money_dec){0, 18, false};
    assert_int_equal(money_to_minor(&d, 0, &minor), MONEY_OK);
    assert_int_equal(minor, 0);
}

/* ---- money_format ------------------------------------------------------ */

struct fmt_case {
    int64_t minor;
    int exponent;
    const char *text;
};

static void test_format(void **state)
{
    static const struct fmt_case cases[] = {
        {1250, 2, "12.50"},
        {5, 0, "5"},
        {-5, 3, "-0.005"},
        {0, 0, "0"},
        {0, 1, "0.0"},
        {0, 2, "0.00"},
        {0, 4, "0.0000"},
        {1, 4, "0.0001"},
        {10000, 4, "1.0000"},
        {123, 3, "0.123"},
        {1234, 3, "1.234"},
        {-1, 2, "-0.01"},
        {-100, 2, "-1.00"},
        {-7, 0, "-7"},
        {10, 1, "1.0"},
        {MONEY_MAX_MINOR, 0, "999999999999999"},
        {MONEY_MAX_MINOR, 2, "9999999999999.99"},
        {MONEY_MAX_MINOR, 4, "99999999999.9999"},
        {INT64_MAX, 0, "9223372036854775807"},
        {INT64_MAX, 4, "922337203685477.5807"},
        {INT64_MIN, 0, "-9223372036854775808"},
        {INT64_MIN, 2, "-92233720368547758.08"},
        {INT64_MIN, 4, "-922337203685477.5808"},
        {INT64_MIN + 1, 3, "-9223372036854775.807"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        int n = money_format(cases[i].minor, cases[i].exponent, out, sizeof out);
        assert_string_equal(out, cases[i].text);
        assert_int_equal(n, (int)strlen(cases[i].text));
    }
}

static void test_format_capacity(void **state)
{
    char out[40];
    (void)state;

    /* Exactly enough room: length + NUL. */
    memset(out, 'x', sizeof out);
    assert_int_equal(money_format(1250, 2, out, 6), 5);
    assert_string_equal(out, "12.50");
    assert_int_equal(out[6], 'x'); /* nothing written past cap */

    /* One short: -1 and an empty string. */
    memset(out, 'x', sizeof out);
    assert_int_equal(money_format(1250, 2, out, 5), -1);
    assert_int_equal(out[0], '\0');
    assert_int_equal(out[1], 'x');

    /* cap 0 writes nothing at all. */
    memset(out, 'x', sizeof out);
    assert_int_equal(money_format(1, 0, out, 0), -1);
    assert_int_equal(out[0], 'x');

    /* The longest output (INT64_MIN, exponent 4: 21 chars) fits in 32. */
    for (int e = 0; e <= 4; e++) {
        assert_true(money_format(INT64_MIN, e, out, 32) > 0);
        assert_true(money_format(INT64_MAX, e, out, 32) > 0);
    }
    assert_int_equal(money_format(INT64_MIN, 4, out, 22), 21);
    assert_int_equal(money_format(INT64_MIN, 4, out, 21), -1);

    /* Bad exponents and a NULL buffer. */
    memset(out, 'x', sizeof out);
    assert_int_equal(money_format(1, -1, out, sizeof out), -1);
    assert_int_equal(out[0], '\0');
    assert_int_equal(money_format(1, 5, out, sizeof out), -1);
    assert_int_equal(money_format(1, 2, NULL, 32), -1);
}

/* format → parse → the same minor units, for every exponent. */
static void test_round_trip(void **state)
{
    static const int64_t fixed[] = {0,
                                    1,
                                    9,
                                    10,
                                    99,
                                    100,
                                    101,
                                    1000,
                                    1050,
                                    123456789,
                                    999999999,
                                    MONEY_MAX_MINOR - 1,
                                    MONEY_MAX_MINOR};
    (void)state;

    for (int e = 0; e <= 4; e++) {
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] + 20000; i++) {
            int64_t v = i < sizeof fixed / sizeof fixed[0]
                            ? fixed[i]
                            : (int64_t)(rng() % (uint64_t)(MONEY_MAX_MINOR + 1));
            char buf[32];
            int64_t back = -1;
            struct money_dec d;
            int n = money_format(v, e, buf, sizeof buf);

            assert_true(n > 0);
            assert_int_equal(parse_minor(buf, e, &back), MONEY_OK);
            assert_int_equal(back, v);

            /* The negated text parses to the same magnitude, flagged. */
            if (v != 0) {
                n = money_format(-v, e, buf, sizeof buf);
                assert_true(n > 1);
                assert_int_equal(buf[0], '-');
                assert_int_equal(parse(buf, &d), MONEY_OK);
                assert_true(d.negative);
                assert_int_equal(parse_minor(buf, e, &back), MONEY_NEGATIVE);
                d.negative = false;
                assert_int_equal(money_to_minor(&d, e, &back), MONEY_OK);
                assert_int_equal(back, v);
            }
        }
    }
}

static void test_status_text(void **state)
{
    (void)state;
    assert_string_equal(money_status_text(MONEY_OK), "is valid");
    assert_string_equal(money_status_text(MONEY_SYNTAX), "is not a valid number");
    assert_string_equal(money_status_text(MONEY_NEGATIVE), "must not be negative");
    assert_string_equal(money_status_text(MONEY_TOO_PRECISE), "has too many decimal places");
    assert_string_equal(money_status_text(MONEY_OUT_OF_RANGE), "is out of range");
    assert_string_equal(money_status_text((enum money_status)99), "is invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_uses_len_not_nul),
        cmocka_unit_test(test_parse_long_inputs),
        cmocka_unit_test(test_parse_notations_agree),
        cmocka_unit_test(test_to_minor),
        cmocka_unit_test(test_to_minor_negative_first),
        cmocka_unit_test(test_to_minor_bad_arguments),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_capacity),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
