/*
 * test_currency.c — unit tests for core/currency.c: table invariants, known
 * entries, and lookup by alphabetic and numeric code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/currency.h"

/* Strict UTF-8 check: no overlongs, no surrogates, nothing above U+10FFFF,
 * no control characters. */
static bool valid_utf8_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, n, cp;
        if (c < 0x20 || c == 0x7F)
            return false;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

static void test_utf8_checker(void **state)
{
    (void)state;
    /* The helper itself must be able to say no. */
    assert_true(valid_utf8_text("\xe2\x82\xac"));      /* € */
    assert_false(valid_utf8_text("\xe2\x82"));         /* truncated */
    assert_false(valid_utf8_text("\xc0\xa4"));         /* overlong '$' */
    assert_false(valid_utf8_text("\xed\xa0\x80"));     /* surrogate */
    assert_false(valid_utf8_text("\xf4\x90\x80\x80")); /* > U+10FFFF */
    assert_false(valid_utf8_text("a\x01"));
}

static void test_table_invariants(void **state)
{
    size_t n = 0;
    const struct currency *t = currency_table(&n);
    (void)state;

    assert_non_null(t);
    /* ISO 4217 lists about 180 codes, ~165 of them with minor units. */
    assert_true(n >= 150);
    assert_true(n <= 200);
    assert_ptr_equal(currency_table(NULL), t);

    for (size_t i = 0; i < n; i++) {
        const struct currency *c = &t[i];
        for (int k = 0; k < 3; k++)
            assert_true(c->code[k] >= 'A' && c->code[k] <= 'Z');
        assert_int_equal(c->code[3], '\0');
        assert_true(c->numeric >= 1 && c->numeric <= 999);
        assert_true(c->exponent >= 0 && c->exponent <= 4);
        assert_non_null(c->name);
        assert_true(strlen(c->name) > 0);
        assert_true(valid_utf8_text(c->name));
        assert_non_null(c->symbol);
        assert_true(strlen(c->symbol) > 0);
        assert_true(strlen(c->symbol) <= 16);
        assert_true(valid_utf8_text(c->symbol));

        /* Strictly ascending: sorted for binary search and no duplicates. */
        if (i > 0)
            assert_true(strcmp(t[i - 1].code, c->code) < 0);
        /* Numeric codes are unique, so currency_find_numeric is unambiguous. */
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(t[j].numeric, c->numeric);
        /* Units without minor units (XAU, XDR, XXX, ...) are not here. */
        assert_string_not_equal(c->code, "XAU");
        assert_string_not_equal(c->code, "XXX");
    }
}

struct known {
    const char *code;
    int numeric;
    const char *name; /* NULL: not checked */
    const char *symbol;
    int exponent;
};

static void test_known_entries(void **state)
{
    static const struct known cases[] = {
        {"ZAR", 710, "South African Rand", "R", 2},
        {"USD", 840, "US Dollar", "$", 2},
        {"EUR", 978, "Euro", "\xe2\x82\xac", 2},
        {"GBP", 826, NULL, "\xc2\xa3", 2},
        {"JPY", 392, NULL, NULL, 0},
        {"KRW", 410, NULL, NULL, 0},
        {"ISK", 352, NULL, NULL, 0},
        {"VND", 704, NULL, NULL, 0},
        {"CLP", 152, NULL, NULL, 0},
        {"XOF", 952, NULL, NULL, 0},
        {"XAF", 950, NULL, NULL, 0},
        {"UYI", 940, NULL, NULL, 0},
        {"KWD", 414, NULL, NULL, 3},
        {"BHD", 48, NULL, NULL, 3},
        {"TND", 788, NULL, NULL, 3},
        {"OMR", 512, NULL, NULL, 3},
        {"JOD", 400, NULL, NULL, 3},
        {"IQD", 368, NULL, NULL, 3},
        {"LYD", 434, NULL, NULL, 3},
        {"CLF", 990, NULL, NULL, 4},
        {"UYW", 927, NULL, NULL, 4},
        {"CHF", 756, NULL, NULL, 2},
        {"ALL", 8, NULL, NULL, 2},
        {"KES", 404, NULL, NULL, 2},
        {"NGN", 566, NULL, NULL, 2},
        {"INR", 356, NULL, NULL, 2},
        {"CNY", 156, NULL, NULL, 2},
        {"SLE", 925, NULL, NULL, 2},
        {"VES", 928, NULL, NULL, 2},
        {"ZWG", 924, NULL, NULL, 2},
        {"XCG", 532, NULL, NULL, 2},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct currency *c = currency_find(cases[i].code);
        if (c == NULL)
            print_error("%s not found\n", cases[i].code);
        assert_non_null(c);
        assert_string_equal(c->code, cases[i].code);
        assert_int_equal(c->numeric, cases[i].numeric);
        assert_int_equal(c->exponent, cases[i].exponent);
        if (cases[i].name != NULL)
            assert_string_equal(c->name, cases[i].name);
        if (cases[i].symbol != NULL)
            assert_string_equal(c->symbol, cases[i].symbol);
        assert_ptr_equal(currency_find_numeric(cases[i].numeric), c);
    }
}

static void test_find_every_entry(void **state)
{
    size_t n = 0;
    const struct currency *t = currency_table(&n);
    (void)state;

    for (size_t i = 0; i < n; i++) {
        char lower[4], mixed[4];
        for (int k = 0; k < 3; k++) {
            lower[k] = (char)(t[i].code[k] - 'A' + 'a');
            mixed[k] = k == 1 ? lower[k] : t[i].code[k];
        }
        lower[3] = mixed[3] = '\0';
        assert_ptr_equal(currency_find(t[i].code), &t[i]);
        assert_ptr_equal(currency_find(lower), &t[i]);
        assert_ptr_equal(currency_find(mixed), &t[i]);
        assert_ptr_equal(currency_find_numeric(t[i].numeric), &t[i]);
    }
    /* The ends of the table, where an off-by-one in the search would show. */
    assert_string_equal(t[0].code, "AED");
    assert_string_equal(t[n - 1].code, "ZWG");
}

static void test_find_rejects(void **state)
{
    static const char *const bad[] = {
        "",    "Z",   "ZA",  "ZARX", "ZAR ", " ZAR", "ZA1", "Z-R", "ZA\xc3\xa4", "AAA",
        "ZZZ", "ABC", "XAU", "XAG",  "XDR",  "XTS",  "XXX", "XSU", "XUA",        "HRK",
        "VEF", "MRO", "STD", "BYR",  "{AR",  "@AR",  "ZA[", "za`", "ZA{",
    };
    (void)state;

    assert_null(currency_find(NULL));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (currency_find(bad[i]) != NULL)
            print_error("\"%s\" unexpectedly found\n", bad[i]);
        assert_null(currency_find(bad[i]));
    }
    /* A code inside a longer buffer only matches when NUL-terminated. */
    assert_null(currency_find("USDX"));
    assert_non_null(currency_find("USD\0X"));
}

static void test_find_numeric_rejects(void **state)
{
    (void)state;
    assert_null(currency_find_numeric(0));
    assert_null(currency_find_numeric(-840));
    assert_null(currency_find_numeric(999)); /* XXX, not in the table */
    assert_null(currency_find_numeric(959)); /* XAU */
    assert_null(currency_find_numeric(960)); /* XDR */
    assert_null(currency_find_numeric(1000));
    assert_null(currency_find_numeric(1));
    assert_null(currency_find_numeric(191)); /* HRK, withdrawn */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_checker),  cmocka_unit_test(test_table_invariants),
        cmocka_unit_test(test_known_entries), cmocka_unit_test(test_find_every_entry),
        cmocka_unit_test(test_find_rejects),  cmocka_unit_test(test_find_numeric_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
