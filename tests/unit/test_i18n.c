/*
 * test_i18n.c — unit tests for web/i18n.c: parsing message catalogs (comments,
 * spaces, bad lines, duplicates, placeholders checked against English),
 * falling back to English, plural forms, filling placeholders, and choosing
 * a language from Accept-Language (q-values, region subtags, wildcards,
 * garbage). Also checks that every built-in catalog is complete and clean.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/arena.h"
#include "web/i18n.h"

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

static const char en_text[] = "# a comment\n"
                              "\n"
                              "meta.dir = ltr\n"
                              "greeting = Hello\n"
                              "  spaced   =   a  b   \n"
                              "only.en = English only\n"
                              "pay = Pay %s now\n"
                              "two = %1$s then %2$s\n"
                              "pct = 100%% sure\n"
                              "apples.one = %s apple\n"
                              "apples.other = %s apples\n"
                              "empty =\n"
                              "crlf = windows\r\n"
                              "last = no newline at the end";

static const char fr_text[] = "\xEF\xBB\xBF" /* a BOM */
                              "greeting = Bonjour\n"
                              "pay = Payer %s maintenant\n"
                              "two = %2$s après %1$s\n" /* another order: fine */
                              "pct = 100 %% sûr\n"
                              "apples.one = %s pomme\n"
                              "apples.other = %s pommes\n"
                              "apples.many = %s de pommes\n" /* a form English lacks: fine */
                              "spaced = %s\n"                /* a placeholder English lacks */
                              "unknown.key = ?\n"            /* not in English */
                              "greeting = Salut\n"           /* duplicate: the first wins */
                              "no equals sign\n"
                              "bad key! = x\n"
                              "crlf = %d\n"    /* not a placeholder */
                              "last = \x01\n"; /* control character */

static const char ar_text[] = "meta.dir = rtl\n"
                              "greeting = مرحبا\n"
                              "apples.one = تفاحة واحدة\n" /* the number left out: fine */
                              "apples.two = تفاحتان\n"
                              "apples.few = %s تفاحات\n"
                              "apples.other = %s تفاحة\n";

static struct web_i18n *load_test_set(void)
{
    const struct web_i18n_source src[] = {
        {"fr", fr_text},
        {"en", en_text},
        {"ar", ar_text},
        {"pt-BR", "greeting = Olá\n"},
    };
    struct web_i18n *set = web_i18n_load(src, sizeof src / sizeof src[0]);
    assert_non_null(set);
    return set;
}

static bool has_problem(const struct web_i18n *set, const char *needle)
{
    size_t n = web_i18n_problem_count(set);
    for (size_t i = 0; i < n && i < WEB_I18N_PROBLEMS_KEPT; i++)
        if (strstr(web_i18n_problem(set, i), needle) != NULL)
            return true;
    return false;
}

/* ---- catalogs --------------------------------------------------------------- */

static void test_catalog_parsing(void **state)
{
    struct web_i18n *set = load_test_set();
    const struct web_catalog *en = web_i18n_find(set, "en");
    const struct web_catalog *fr = web_i18n_find(set, "FR"); /* case-insensitive */
    (void)state;

    assert_int_equal(web_i18n_count(set), 4);
    assert_ptr_equal(web_i18n_at(set, 0), fr);
    assert_null(web_i18n_at(set, 4));
    assert_null(web_i18n_find(set, "de"));
    assert_string_equal(web_catalog_tag(fr), "fr");

    assert_string_equal(web_catalog_get(en, "greeting"), "Hello");
    assert_string_equal(web_catalog_get(en, "spaced"), "a  b"); /* ends trimmed */
    assert_string_equal(web_catalog_get(en, "crlf"), "windows");
    assert_string_equal(web_catalog_get(en, "last"), "no newline at the end");
    assert_null(web_catalog_get(en, "empty")); /* empty: missing */
    assert_null(web_catalog_get(en, "# a comment"));
    assert_null(web_catalog_get(en, "nothing"));

    assert_string_equal(web_catalog_get(fr, "greeting"), "Bonjour"); /* BOM skipped, first wins */
    assert_string_equal(web_catalog_get(fr, "two"), "%2$s après %1$s");
    assert_string_equal(web_catalog_get(fr, "apples.many"), "%s de pommes");
    /* dropped lines read as missing */
    assert_null(web_catalog_get(fr, "spaced"));
    assert_null(web_catalog_get(fr, "unknown.key"));
    assert_null(web_catalog_get(fr, "crlf"));
    assert_null(web_catalog_get(fr, "last"));

    /* each problem names file and line */
    assert_true(web_i18n_problem_count(set) >= 7);
    assert_true(has_problem(set, "fr.txt:8: placeholders differ from en.txt: spaced"));
    assert_true(has_problem(set, "fr.txt:9: key not in en.txt: unknown.key"));
    assert_true(has_problem(set, "fr.txt:10: duplicate key"));
    assert_true(has_problem(set, "fr.txt:11: not a `key = text` line"));
    assert_true(has_problem(set, "fr.txt:12: bad key"));
    assert_true(has_problem(set, "fr.txt:13: bad placeholder"));
    assert_true(has_problem(set, "fr.txt:14: text is not UTF-8 or holds control characters"));
    for (size_t i = 0; i < web_i18n_problem_count(set); i++) {
        assert_true(strncmp(web_i18n_problem(set, i), "ar.txt", 6) != 0);
        assert_true(strncmp(web_i18n_problem(set, i), "en.txt", 6) != 0);
    }
    assert_null(web_i18n_problem(set, 9999));

    /* direction */
    assert_false(web_catalog_rtl(en));
    assert_false(web_catalog_rtl(fr));
    assert_true(web_catalog_rtl(web_i18n_find(set, "ar")));

    /* what a catalog lacks of English (plural forms count once) */
    const char *first;
    assert_int_equal(web_catalog_missing(set, en, &first), 0);
    assert_null(first);
    assert_int_equal(web_catalog_missing(set, fr, &first),
                     5); /* meta.dir crlf last only.en spaced */
    assert_string_equal(first, "crlf");
    assert_int_equal(web_catalog_missing(set, web_i18n_find(set, "ar"), &first), 7);
    web_i18n_free(set);
}

static void test_catalog_bad_sources(void **state)
{
    (void)state;
    assert_null(web_i18n_load(NULL, 0));
    const struct web_i18n_source none[] = {{"en", "x = y\n"}};
    assert_null(web_i18n_load(none, 0));

    /* bad tags and a second catalog for one language are skipped; without
     * "en" the first catalog is the reference */
    const struct web_i18n_source src[] = {
        {"../etc", "x = y\n"}, {"de", "x = Ja\n"}, {"DE", "x = Nein\n"}, {"es", NULL}};
    struct web_i18n *set = web_i18n_load(src, 4);
    assert_non_null(set);
    assert_int_equal(web_i18n_count(set), 1);
    assert_string_equal(web_catalog_get(web_i18n_find(set, "de"), "x"), "Ja");
    assert_int_equal(web_i18n_problem_count(set), 3);
    struct web_locale l;
    web_locale_negotiate(set, "fr", &l);
    assert_string_equal(web_locale_lang(&l), "de");
    assert_string_equal(web_text(&l, "x"), "Ja");
    web_i18n_free(set);
    web_i18n_free(NULL);
}

/* ---- texts and fallback ---------------------------------------------------------- */

static void test_text_fallback(void **state)
{
    struct arena *a = *state;
    struct web_i18n *set = load_test_set();
    struct web_locale fr, ar, pt;

    web_locale_for(set, "fr", &fr);
    assert_string_equal(web_text(&fr, "greeting"), "Bonjour");
    assert_string_equal(web_text(&fr, "only.en"), "English only"); /* missing: English */
    assert_string_equal(web_text(&fr, "spaced"), "a  b");          /* dropped: English */
    assert_string_equal(web_text(&fr, "crlf"), "windows");
    assert_string_equal(web_text(&fr, "no.such.key"), "no.such.key"); /* nowhere: the key */
    assert_string_equal(WEB_TEXTF(a, &fr, "pay", "5 €"), "Payer 5 € maintenant");
    assert_string_equal(WEB_TEXTF(a, &fr, "two", "A", "B"), "B après A");
    assert_string_equal(WEB_TEXTF(a, &fr, "pct", "x"), "100 % sûr");

    /* plural forms by the language's rules; "other" when a form is missing,
     * English (by English rules) when the key is */
    assert_string_equal(web_text_plural(&fr, "apples", 1), "%s pomme");
    assert_string_equal(web_text_plural(&fr, "apples", 0), "%s pomme"); /* French: 0 is "one" */
    assert_string_equal(web_text_plural(&fr, "apples", 2), "%s pommes");
    assert_string_equal(web_text_plural(&fr, "apples", 1000000), "%s de pommes");
    web_locale_for(set, "ar", &ar);
    assert_string_equal(web_text_plural(&ar, "apples", 1), "تفاحة واحدة");
    assert_string_equal(web_text_plural(&ar, "apples", 2), "تفاحتان");
    assert_string_equal(web_text_plural(&ar, "apples", 7), "%s تفاحات");
    assert_string_equal(web_text_plural(&ar, "apples", 11), "%s تفاحة"); /* many → other */
    assert_string_equal(web_text_plural(&ar, "apples", 100), "%s تفاحة");
    web_locale_for(set, "pt-BR", &pt);
    assert_string_equal(web_text_plural(&pt, "apples", 1), "%s apple");
    assert_string_equal(web_text_plural(&pt, "apples", 0), "%s apples"); /* English rules */
    assert_string_equal(web_text_plural(&pt, "pears", 3), "pears");

    /* an unknown tag is English */
    struct web_locale x;
    web_locale_for(set, "xx", &x);
    assert_string_equal(web_locale_lang(&x), "en");
    assert_string_equal(web_text(&x, "greeting"), "Hello");
    /* no locale at all: the built-in English */
    assert_string_equal(web_text(NULL, "link.total"), "Total");
    web_i18n_free(set);
}

static void test_text_fill(void **state)
{
    struct arena *a = *state;
    const char *ab[] = {"A", "B"};

    assert_string_equal(web_text_fill(a, "%s and %s", ab, 2, NULL), "A and B");
    assert_string_equal(web_text_fill(a, "%2$s, %1$s, %2$s", ab, 2, NULL), "B, A, B");
    assert_string_equal(web_text_fill(a, "%s and %s", ab, 1, NULL), "A and "); /* missing: "" */
    assert_string_equal(web_text_fill(a, "50%% of %s", ab, 1, NULL), "50% of A");
    assert_string_equal(web_text_fill(a, "odd % and %d", ab, 2, NULL), "odd % and %d");
    assert_string_equal(web_text_fill(a, "", ab, 2, NULL), "");
    assert_string_equal(web_text_fill(a, NULL, ab, 2, NULL), "");
    assert_string_equal(web_text_fill(a, "end %", ab, 2, NULL), "end %");
    /* arguments are not templates */
    const char *pct[] = {"%s%%"};
    assert_string_equal(web_text_fill(a, "[%s]", pct, 1, NULL), "[%s%%]");

    assert_int_equal(web_text_placeholders("plain"), 0);
    assert_int_equal(web_text_placeholders("%s"), 1);
    assert_int_equal(web_text_placeholders("%s %s %s"), 7);
    assert_int_equal(web_text_placeholders("%2$s"), 2);
    assert_int_equal(web_text_placeholders("%1$s %3$s %1$s"), 5);
    assert_int_equal(web_text_placeholders("100%%"), 0);
    assert_int_equal(web_text_placeholders("%d"), -1);
    assert_int_equal(web_text_placeholders("%"), -1);
    assert_int_equal(web_text_placeholders("%0$s"), -1);
    assert_int_equal(web_text_placeholders("%1$d"), -1);
    assert_int_equal(web_text_placeholders("%s %1$s"), -1); /* mixed */
    assert_int_equal(web_text_placeholders(NULL), -1);
}

/* ---- Accept-Language -------------------------------------------------------------- */

/* The catalog chosen and the formatting locale for a header. */
static void check_lang(const struct web_i18n *set, const char *header, const char *lang,
                       const char *locale)
{
    struct web_locale l;
    web_locale_negotiate(set, header, &l);
    if (strcmp(web_locale_lang(&l), lang) != 0 || strcmp(l.tag, locale) != 0)
        fail_msg("\"%s\": got %s/%s, want %s/%s", header ? header : "(null)", web_locale_lang(&l),
                 l.tag, lang, locale);
}

static void test_accept_language(void **state)
{
    struct web_i18n *set = load_test_set();
    (void)state;

    /* nothing, or nothing usable: English */
    check_lang(set, NULL, "en", "en");
    check_lang(set, "", "en", "en");
    check_lang(set, "   ", "en", "en");
    check_lang(set, "de", "en", "en");
    check_lang(set, "de-DE, ja;q=0.5", "en", "en");

    /* exact, case-insensitive */
    check_lang(set, "fr", "fr", "fr");
    check_lang(set, "FR", "fr", "fr");
    check_lang(set, "ar", "ar", "ar");

    /* region subtags: the language's catalog, the region kept for formats */
    check_lang(set, "fr-CA", "fr", "fr-CA");
    check_lang(set, "fr-ca", "fr", "fr-CA");
    check_lang(set, "ar-EG", "ar", "ar-EG");
    check_lang(set, "en-ZA", "en", "en-ZA");
    check_lang(set, "pt-BR", "pt-BR", "pt-BR");
    check_lang(set, "pt-br", "pt-BR", "pt-BR");
    check_lang(set, "pt", "en", "en"); /* "pt" does not match "pt-BR" (lookup, not filtering) */
    check_lang(set, "fr-Latn-CA", "fr", "fr-Latn-CA");
    check_lang(set, "fr-x-private", "fr", "fr");
    check_lang(set, "fr-CA-u-nu-arab", "fr", "fr-CA");
    check_lang(set, "ar-001", "ar", "ar-001");
    check_lang(set, "fr-CAN", "fr", "fr"); /* not a region subtag */

    /* q-values */
    check_lang(set, "en;q=0.5, fr", "fr", "fr");
    check_lang(set, "fr;q=0.5, ar;q=0.8", "ar", "ar");
    check_lang(set, "de, fr;q=0.1", "fr", "fr");
    check_lang(set, "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "fr", "fr-CH");
    check_lang(set, "fr;q=0, ar", "ar", "ar");
    check_lang(set, "fr;q=0", "en", "en");
    check_lang(set, "fr;q=0.000", "en", "en");
    check_lang(set, "ar;q=0.5, fr;q=0.500", "ar", "ar"); /* ties: the header's order */
    check_lang(set, "ar;q=0.5, fr;q=0.501", "fr", "fr");
    check_lang(set, "ar;q=1, fr;q=1.000", "ar", "ar");
    check_lang(set, "fr ; q=0.5 , ar;Q=0.4", "fr", "fr");
    check_lang(set, "fr;q=0.5;level=1", "fr", "fr"); /* other parameters ignored */

    /* the wildcard: the default, where it ranks */
    check_lang(set, "*", "en", "en");
    check_lang(set, "*;q=0.5, ar;q=0.4", "en", "en");
    check_lang(set, "ar;q=0.6, *;q=0.5", "ar", "ar");

    /* malformed elements are skipped, the rest still counts */
    check_lang(set, "fr;q=1.5, ar", "ar", "ar");
    check_lang(set, "fr;q=abc, ar", "ar", "ar");
    check_lang(set, "fr;q=, ar", "ar", "ar");
    check_lang(set, "fr;q=0.1234, ar;q=0.1", "ar", "ar");
    check_lang(set, "f!r, ar", "ar", "ar");
    check_lang(set, "fr ca, ar", "ar", "ar");
    check_lang(set, "abcdefghi, ar", "ar", "ar"); /* subtag over 8 characters */
    check_lang(set, "1fr, ar", "ar", "ar");       /* the language is letters */
    check_lang(set, "fr-, ar", "ar", "ar");
    check_lang(set, ",,, ;;; ,fr", "fr", "fr");
    check_lang(set, "\xff\xfe, \x01fr", "en", "en");
    check_lang(set, "fr\"><script>", "en", "en");

    /* bounded: a very long header, many ranges */
    char big[9000];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "de-%02d;q=0.9, ", i);
    snprintf(big + n, sizeof big - n, "fr"); /* the 41st range: past the first 32 */
    check_lang(set, big, "en", "en");
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    check_lang(set, big, "en", "en");
    memcpy(big, "ar, ", 4);
    check_lang(set, big, "ar", "ar");
    web_i18n_free(set);
}

/* ---- the catalogs in the binary ------------------------------------------------------- */

static void test_builtin_catalogs(void **state)
{
    const struct web_i18n *set = web_i18n_builtin();
    static const char *const langs[] = {"en", "fr", "pt", "es", "ar"};
    (void)state;

    assert_non_null(set);
    assert_ptr_equal(web_i18n_builtin(), set);
    for (size_t i = 0; i < web_i18n_problem_count(set) && i < WEB_I18N_PROBLEMS_KEPT; i++)
        print_error("%s\n", web_i18n_problem(set, i));
    assert_int_equal(web_i18n_problem_count(set), 0);
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        const struct web_catalog *c = web_i18n_find(set, langs[i]);
        const char *first;
        if (c == NULL)
            fail_msg("no catalog %s", langs[i]);
        size_t missing = web_catalog_missing(set, c, &first);
        if (missing != 0)
            fail_msg("%s.txt lacks %zu texts, the first %s", langs[i], missing, first);
        assert_non_null(web_catalog_get(c, "meta.name"));
        assert_int_equal(web_catalog_rtl(c), strcmp(langs[i], "ar") == 0);
    }
    /* any other catalog found in src/web/i18n may be partial (its missing
     * texts are shown in English): listed, not failed */
    for (size_t i = 0; i < web_i18n_count(set); i++) {
        const char *first;
        const struct web_catalog *c = web_i18n_at(set, i);
        size_t missing = web_catalog_missing(set, c, &first);
        if (missing != 0)
            print_message("note: %s.txt lacks %zu texts (shown in English), the first %s\n",
                          web_catalog_tag(c), missing, first);
    }

    struct web_locale l;
    web_locale_negotiate(NULL, "es-MX,es;q=0.9", &l);
    assert_string_equal(web_locale_lang(&l), "es");
    assert_string_equal(l.tag, "es-MX");
    assert_false(web_locale_rtl(&l));
    assert_string_equal(web_text(&l, "link.total"), "Total");
    assert_string_equal(web_text(&l, "link.amount_due"), "Importe a pagar");
    web_locale_negotiate(NULL, "ar-SA", &l);
    assert_true(web_locale_rtl(&l));
    assert_string_equal(web_text(&l, "link.summary"), "ملخص الطلب");
    web_locale_negotiate(NULL, "pt-PT", &l);
    assert_string_equal(web_text(&l, "link.pay"), "Pagar %s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_parsing),
        cmocka_unit_test(test_catalog_bad_sources),
        cmocka_unit_test_setup_teardown(test_text_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_fill, setup, teardown),
        cmocka_unit_test(test_accept_language),
        cmocka_unit_test(test_builtin_catalogs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
