/*
 * test_format.c — unit tests for web/format.c (ICU): amounts in English,
 * French, Arabic, Portuguese and Spanish for ZAR, EUR, JPY and KWD (exact
 * strings where CLDR has been stable for years; otherwise properties: the
 * digits in the language's script, the currency's code or symbol, the
 * currency's minor-unit digits), exact decimals that a double could not
 * hold, the fallback when ICU cannot be used, whole numbers, plural
 * categories, dates, and the per-thread cache under churn and threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/currency.h"
#include "util/arena.h"
#include "web/format.h"

#define NBSP  "\xC2\xA0"     /* U+00A0 NO-BREAK SPACE */
#define NNBSP "\xE2\x80\xAF" /* U+202F NARROW NO-BREAK SPACE */
#define RLM   "\xE2\x80\x8F" /* U+200F RIGHT-TO-LEFT MARK */

static int setup(void **state)
{
    *state = arena_new(0);
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    arena_free(*state);
    return 0;
}

static const char *amount(struct arena *a, const char *locale, const char *code, int64_t minor)
{
    const struct currency *c = currency_find(code);
    assert_non_null(c);
    return web_format_amount(a, locale, c, minor);
}

/* Arabic-Indic digits of an ASCII digit string ("12" → "١٢"). */
static const char *arabic_digits(struct arena *a, const char *ascii)
{
    char *out = arena_alloc(a, strlen(ascii) * 2 + 1), *w = out;
    for (const char *p = ascii; *p != '\0'; p++) {
        *w++ = '\xD9';
        *w++ = (char)(0xA0 + (*p - '0'));
    }
    *w = '\0';
    return out;
}

/* The digits of s in order, Arabic-Indic ones as ASCII, everything else
 * (signs, separators, symbols, marks) left out. */
static const char *digits_of(struct arena *a, const char *s)
{
    char *out = arena_alloc(a, strlen(s) + 1), *w = out;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        if (*p >= '0' && *p <= '9') {
            *w++ = (char)*p++;
        } else if (p[0] == 0xD9 && p[1] >= 0xA0 && p[1] <= 0xA9) {
            *w++ = (char)('0' + (p[1] - 0xA0));
            p += 2;
        } else {
            p++;
        }
    }
    *w = '\0';
    return out;
}

static bool has_ascii_digit(const char *s)
{
    return strpbrk(s, "0123456789") != NULL;
}

/* ---- exact strings -------------------------------------------------------- */

static void test_amounts_exact(void **state)
{
    struct arena *a = *state;
    static const struct {
        const char *locale, *code;
        int64_t minor;
        const char *want;
    } cases[] = {
        /* English: ISO code for currencies without an English symbol */
        {"en", "ZAR", 11500, "ZAR" NBSP "115.00"},
        {"en", "ZAR", 123456789, "ZAR" NBSP "1,234,567.89"},
        {"en", "EUR", 123456789, "€1,234,567.89"},
        {"en", "USD", 5, "$0.05"},
        {"en", "JPY", 5000, "¥5,000"},
        {"en", "KWD", 12345, "KWD" NBSP "12.345"},
        {"en-ZA", "ZAR", 11500, "R" NBSP "115,00"},
        /* French: amount then code, narrow no-break space between thousands */
        {"fr", "ZAR", 11500, "115,00" NBSP "ZAR"},
        {"fr", "EUR", 123456789, "1" NNBSP "234" NNBSP "567,89" NBSP "€"},
        {"fr", "JPY", 5000, "5" NNBSP "000" NBSP "JPY"},
        {"fr", "KWD", 12345, "12,345" NBSP "KWD"},
        /* Spanish */
        {"es", "ZAR", 11500, "115,00" NBSP "ZAR"},
        {"es", "EUR", 123456789, "1.234.567,89" NBSP "€"},
        {"es", "KWD", 12345, "12,345" NBSP "KWD"},
        /* Portuguese (Brazil) */
        {"pt", "ZAR", 11500, "ZAR" NBSP "115,00"},
        {"pt", "EUR", 123456789, "€" NBSP "1.234.567,89"},
        {"pt", "KWD", 12345, "KWD" NBSP "12,345"},
        /* Arabic: Arabic-Indic digits, Arabic decimal separator, a RLM first */
        {"ar", "ZAR", 11500, RLM "١١٥٫٠٠" NBSP "ZAR"},
        {"ar", "EUR", 123456789, RLM "١٬٢٣٤٬٥٦٧٫٨٩" NBSP "€"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = amount(a, cases[i].locale, cases[i].code, cases[i].minor);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s %s %lld: got \"%s\", want \"%s\"", cases[i].locale, cases[i].code,
                     (long long)cases[i].minor, got, cases[i].want);
    }
}

/* ---- properties, for every language and currency --------------------------------- */

static void test_amounts_properties(void **state)
{
    struct arena *a = *state;
    static const char *const locales[] = {"en", "fr", "ar", "pt", "es", "fr-CA", "ar-EG"};
    static const struct {
        const char *code;
        int64_t minor;
        const char *digits;   /* every digit, in order */
        const char *marks[3]; /* one of these is in the text */
    } cases[] = {
        {"ZAR", 123456789, "123456789", {"ZAR", "R", NULL}},
        {"EUR", 100, "100", {"€", "EUR", NULL}},
        {"JPY", 1234567, "1234567", {"¥", "JPY", NULL}},
        {"KWD", 1234567, "1234567", {"KWD", "د.ك.", NULL}},
        {"KWD", 5, "0005", {"KWD", "د.ك.", NULL}},
    };
    for (size_t l = 0; l < sizeof locales / sizeof locales[0]; l++) {
        bool arabic = strncmp(locales[l], "ar", 2) == 0;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const char *got = amount(a, locales[l], cases[i].code, cases[i].minor);
            const char *ctx = arena_printf(a, "%s %s %lld: \"%s\"", locales[l], cases[i].code,
                                           (long long)cases[i].minor, got);
            /* the exact digits: every minor unit is shown, nothing rounded */
            if (strcmp(digits_of(a, got), cases[i].digits) != 0)
                fail_msg("%s: digits %s, want %s", ctx, digits_of(a, got), cases[i].digits);
            /* Arabic writes Arabic-Indic digits, the others ASCII ones */
            if (arabic && has_ascii_digit(got))
                fail_msg("%s: ASCII digits in Arabic", ctx);
            if (!arabic && strstr(got, arabic_digits(a, "1")) != NULL)
                fail_msg("%s: Arabic digits", ctx);
            bool mark = false;
            for (size_t k = 0; k < 3 && cases[i].marks[k] != NULL; k++)
                mark = mark || strstr(got, cases[i].marks[k]) != NULL;
            if (!mark)
                fail_msg("%s: no currency code or symbol", ctx);
        }
    }
    /* the currency's minor units, not ICU's: JPY has no decimals, KWD three */
    assert_null(strchr(amount(a, "en", "JPY", 1234567), '.'));
    assert_non_null(strstr(amount(a, "en", "KWD", 1), "0.001"));
    assert_non_null(strstr(amount(a, "en", "CLF", 12345), "1.2345"));
}

/* Exact from the decimal text: a double holds 15-17 significant digits. */
static void test_amounts_exact_decimal(void **state)
{
    struct arena *a = *state;

    assert_string_equal(amount(a, "en", "USD", 99999999999999999LL), "$999,999,999,999,999.99");
    assert_string_equal(amount(a, "en", "USD", 99999999999999901LL), "$999,999,999,999,999.01");
    assert_string_equal(web_format_decimal(a, "en", "USD", "123456789012345678.91", 2),
                        "$123,456,789,012,345,678.91");
    assert_string_equal(web_format_decimal(a, "en", "USD", "0.10", 2), "$0.10");
    assert_string_equal(web_format_decimal(a, "fr", "EUR", "7", 2), "7,00" NBSP "€");
    /* not decimals */
    assert_null(web_format_decimal(a, "en", "USD", "", 2));
    assert_null(web_format_decimal(a, "en", "USD", "-1", 2));
    assert_null(web_format_decimal(a, "en", "USD", "1e5", 2));
    assert_null(web_format_decimal(a, "en", "USD", "1.", 2));
    assert_null(web_format_decimal(a, "en", "USD", ".5", 2));
    assert_null(web_format_decimal(a, "en", "USD", "1.2.3", 2));
    assert_null(web_format_decimal(a, "en", "USD", "12 000", 2));
    assert_null(web_format_decimal(a, "en", "US", "1", 2));
    assert_null(web_format_decimal(a, "en", NULL, "1", 2));
    assert_null(web_format_decimal(a, "en", "USD", NULL, 2));
}

/* When ICU cannot be used: "ZAR 115.00". */
static void test_amounts_fallback(void **state)
{
    struct arena *a = *state;
    static const struct currency odd = {"ZAR", 710, "Rand", "R", 7};

    /* a locale too long to be one */
    assert_string_equal(amount(a, "en-this-is-not-a-locale-tag", "ZAR", 11500), "ZAR 115.00");
    assert_string_equal(amount(a, "en-this-is-not-a-locale-tag", "JPY", 5000), "JPY 5000");
    assert_string_equal(amount(a, "en-this-is-not-a-locale-tag", "KWD", 12345), "KWD 12.345");
    /* no currency, or one whose exponent money_format refuses */
    assert_string_equal(web_format_amount(a, "en", NULL, 1), "?");
    assert_string_equal(web_format_amount(a, "en", &odd, 1), "ZAR ?");
    /* an unknown or empty locale still gives an amount with its digits */
    assert_string_equal(digits_of(a, amount(a, "", "ZAR", 11500)), "11500");
    assert_string_equal(digits_of(a, amount(a, NULL, "ZAR", 11500)), "11500");
    assert_true(web_format_icu_ok());
}

/* ---- numbers, plurals, dates --------------------------------------------------------- */

static void test_numbers_plurals_dates(void **state)
{
    struct arena *a = *state;

    assert_string_equal(web_format_int(a, "en", 1234567), "1,234,567");
    assert_string_equal(web_format_int(a, "fr", 1234), "1" NNBSP "234");
    assert_string_equal(web_format_int(a, "es", 42), "42");
    assert_string_equal(web_format_int(a, "ar", 42), "٤٢");
    assert_string_equal(web_format_int(a, "en", -7), "-7");

    assert_string_equal(web_format_numbering(a, "en"), "latn");
    assert_string_equal(web_format_numbering(a, "ar"), "arab");
    assert_string_equal(web_format_numbering(a, "fr-CA"), "latn");

    static const struct {
        const char *locale;
        int64_t n;
        const char *want;
    } plurals[] = {
        {"en", 0, "other"}, {"en", 1, "one"},     {"en", 2, "other"}, {"fr", 0, "one"},
        {"fr", 1, "one"},   {"fr", 2, "other"},   {"pt", 0, "one"},   {"pt", 1, "one"},
        {"es", 1, "one"},   {"es", 2, "other"},   {"ar", 0, "zero"},  {"ar", 1, "one"},
        {"ar", 2, "two"},   {"ar", 3, "few"},     {"ar", 10, "few"},  {"ar", 11, "many"},
        {"ar", 99, "many"}, {"ar", 100, "other"}, {"ar", 103, "few"}, {"ar-EG", 2, "two"},
    };
    for (size_t i = 0; i < sizeof plurals / sizeof plurals[0]; i++) {
        const char *got = web_plural_category(plurals[i].locale, plurals[i].n);
        if (strcmp(got, plurals[i].want) != 0)
            fail_msg("%s %lld: %s, want %s", plurals[i].locale, (long long)plurals[i].n, got,
                     plurals[i].want);
    }
    assert_string_equal(web_plural_category("en-this-is-not-a-locale-tag", 1), "other");

    /* 2026-11-22T05:04:37Z */
    usec_t t = 1795323877000000LL;
    assert_string_equal(web_format_datetime(a, "en", t), "Nov 22, 2026, 5:04" NNBSP "AM");
    assert_string_equal(web_format_datetime(a, "fr", t), "22 nov. 2026, 05:04");
    const char *ar = web_format_datetime(a, "ar", t);
    assert_false(has_ascii_digit(ar));
    assert_string_equal(web_format_datetime(a, "en-this-is-not-a-locale-tag", t),
                        "2026-11-22 05:04");
}

/* ---- the cache ------------------------------------------------------------------------ */

/* More locale/currency pairs than the cache holds, twice over: entries are
 * replaced and every result stays right. */
static void test_cache_churn(void **state)
{
    struct arena *a = *state;
    static const char *const locales[] = {"en", "fr", "ar", "pt", "es", "en-ZA", "fr-CA"};
    static const char *const codes[] = {"ZAR", "EUR", "JPY", "KWD", "USD"};
    for (int round = 0; round < 3; round++)
        for (size_t l = 0; l < 7; l++)
            for (size_t c = 0; c < 5; c++)
                assert_string_equal(digits_of(a, amount(a, locales[l], codes[c], 123456)),
                                    "123456");
    assert_string_equal(amount(a, "en", "ZAR", 11500), "ZAR" NBSP "115.00");
}

static void *format_thread(void *arg)
{
    struct arena *a = arena_new(0);
    intptr_t id = (intptr_t)arg;
    bool ok = true;
    for (int i = 0; i < 300 && ok; i++) {
        const char *fr = web_format_amount(a, "fr", currency_find("EUR"), 123456789);
        const char *en = web_format_amount(a, id % 2 ? "en" : "en-GB", currency_find("ZAR"), 11500);
        const char *ar = web_format_int(a, "ar", 42);
        ok = strcmp(fr, "1" NNBSP "234" NNBSP "567,89" NBSP "€") == 0 &&
             strcmp(en, "ZAR" NBSP "115.00") == 0 && strcmp(ar, "٤٢") == 0 &&
             strcmp(web_plural_category("ar", 2), "two") == 0;
    }
    arena_free(a);
    return ok ? arg : NULL;
}

/* Each thread has its own formatters: concurrent use gives right results
 * (and, under ASan, no races or leaks when the threads end). */
static void test_threads(void **state)
{
    pthread_t t[4];
    (void)state;
    for (intptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, format_thread, (void *)(i + 1)), 0);
    for (intptr_t i = 0; i < 4; i++) {
        void *ret;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_ptr_equal(ret, (void *)(i + 1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_amounts_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_amounts_properties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_amounts_exact_decimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_amounts_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers_plurals_dates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_churn, setup, teardown),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
