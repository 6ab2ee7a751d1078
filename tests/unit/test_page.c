/*
 * test_page.c — unit tests for web/page.c: HTML escaping, the order summary
 * page (document skeleton, items, totals, expiry, sandbox banner, logo), the
 * message page, pages in other languages (French, Arabic right to left), the
 * stylesheet and the script. Every page is also checked for what the
 * Content-Security-Policy forbids: inline script and inline style.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/currency.h"
#include "util/arena.h"
#include "web/i18n.h"
#include "web/page.h"

#define MIN (60LL * 1000000LL)
/* an amount as the pages write it: a span that never wraps */
#define AMT(x) "<span class=\"amt\">" x "</span>"
/* 2026-11-22T04:22:07Z */
#define NOW 1795321327000000LL

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

/* Case-insensitive substring search (ASCII). */
static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p != '\0'; p++) {
        size_t i = 0;
        while (i < n && p[i] != '\0') {
            char a = p[i], b = needle[i];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z')
                b = (char)(b - 'A' + 'a');
            if (a != b)
                break;
            i++;
        }
        if (i == n)
            return true;
    }
    return false;
}

/* Whether needle occurs inside any tag (between '<' and '>'). Escaped text
 * holds no '<', so this sees only real markup. */
static bool in_tag(const char *html, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = strchr(html, '<'); p != NULL; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        for (const char *q = p; q + n <= end; q++)
            if (strncmp(q, needle, n) == 0)
                return true;
    }
    return false;
}

static size_t count(const char *hay, const char *needle)
{
    size_t k = 0, n = strlen(needle);
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + n, needle))
        k++;
    return k;
}

/* Whether every <script> element is an external script with an empty body
 * (the CSP allows scripts from 'self' only, never inline). */
static bool scripts_external_only(const char *html)
{
    for (const char *p = strstr(html, "<script"); p != NULL; p = strstr(p + 1, "<script")) {
        const char *end = strchr(p, '>');
        if (end == NULL ||
            strncmp(p, "<script src=\"" WEB_JS_PATH "\"", 13 + strlen(WEB_JS_PATH) + 1))
            return false;
        if (strncmp(end + 1, "</script>", 9) != 0)
            return false;
    }
    return true;
}

/* What the CSP and the HTML rules require of every page; lang: the expected
 * <html lang> ("ar" pages are right to left). */
static void assert_page_shape_lang(const char *html, size_t len, const char *lang)
{
    char want[64];
    assert_non_null(html);
    assert_int_equal(strlen(html), len);
    assert_true(strncmp(html, "<!doctype html>\n", 16) == 0);
    snprintf(want, sizeof want, "<html lang=\"%s\" dir=\"%s\">", lang,
             strcmp(lang, "ar") == 0 ? "rtl" : "ltr");
    assert_non_null(strstr(html, want));
    assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
    assert_non_null(
        strstr(html, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    assert_int_equal(count(html, "<title>"), 1);
    assert_int_equal(count(html, "</title>"), 1);
    assert_non_null(strstr(html, "<link rel=\"stylesheet\" href=\"" WEB_CSS_PATH "\">"));
    assert_int_equal(count(html, "<main"), 1);
    assert_int_equal(count(html, "</main>"), 1);
    assert_int_equal(count(html, "<h1>"), 1);
    assert_int_equal(count(html, "</h1>"), 1);
    assert_non_null(strstr(html, "</body>\n</html>\n"));
    /* nothing the policy would block, nothing external */
    assert_true(scripts_external_only(html));
    assert_false(contains_ci(html, "<style"));
    assert_false(contains_ci(html, "style="));
    assert_false(contains_ci(html, "javascript:"));
    assert_false(contains_ci(html, "http://"));
    assert_false(contains_ci(html, "https://"));
    assert_false(in_tag(html, " on")); /* no event handler attributes (onerror=...) */
    assert_false(in_tag(html, "\ton"));
    assert_false(in_tag(html, "\non"));
}

static void assert_page_shape(const char *html, size_t len)
{
    assert_page_shape_lang(html, len, "en");
}

static const struct web_line_item items3[] = {
    {"Widget", 2, 1000},
    {"Gadget", 1, 4500},
    {"Sprocket", 3, 1500},
};

/* ZAR 125.50 = 110.00 + 15.50 tax; expires in 42.5 minutes. */
static struct web_link_page sample(void)
{
    struct web_link_page p = {
        .merchant_name = "Sandbox Store",
        .order_number = "1001",
        .currency = currency_find("ZAR"),
        .total_minor = 12550,
        .has_subtotal = true,
        .subtotal_minor = 11000,
        .has_tax = true,
        .tax_minor = 1550,
        .items = items3,
        .nitems = 3,
        .sandbox = false,
        .expires_at = NOW + 42 * MIN + 30000000LL,
        .now = NOW,
    };
    return p;
}

/* ---- web_escape ----------------------------------------------------------- */

static void test_escape(void **state)
{
    struct arena *a = *state;

    assert_string_equal(web_escape(a, "<>&\"'"), "&lt;&gt;&amp;&quot;&#39;");
    assert_string_equal(web_escape(a, "plain text"), "plain text");
    assert_string_equal(web_escape(a, ""), "");
    assert_string_equal(web_escape(a, NULL), "");
    assert_string_equal(web_escape(a, "<script>alert(1)</script>"),
                        "&lt;script&gt;alert(1)&lt;/script&gt;");
    assert_string_equal(web_escape(a, "&amp;"), "&amp;amp;");
    /* UTF-8 is kept; tab and line breaks too */
    assert_string_equal(web_escape(a, "Zoë’s Café €5 日本 😀"), "Zoë’s Café €5 日本 😀");
    assert_string_equal(web_escape(a, "a\tb\nc"), "a\tb\nc");
    /* what HTML does not allow becomes U+FFFD */
    assert_string_equal(web_escape(a, "a\x01z"), "a\xEF\xBF\xBDz");
    assert_string_equal(web_escape(a, "bad\xff"), "bad\xEF\xBF\xBD");
    assert_string_equal(web_escape(a, "\xc0\xbc"), "\xEF\xBF\xBD\xEF\xBF\xBD"); /* overlong '<' */
    assert_string_equal(web_escape(a, "\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_string_equal(web_escape(a, "\xc2\x85"), "\xEF\xBF\xBD");     /* C1 control */
    assert_string_equal(web_escape(a, "\xef\xbf\xbe"), "\xEF\xBF\xBD"); /* U+FFFE */
}

/* ---- the link page -------------------------------------------------------- */

static void test_link_page_normal(void **state)
{
    struct arena *a = *state;
    struct web_link_page p = sample();
    size_t len = 0;
    char *html = web_link_page(a, &p, &len);

    assert_page_shape(html, len);
    assert_non_null(strstr(html, "<title>Pay Sandbox Store \xC2\xB7 order 1001</title>"));
    assert_non_null(strstr(html, "<h1><bdi>Sandbox Store</bdi></h1>"));
    assert_non_null(strstr(html, "<strong class=\"ref\" dir=\"auto\">1001</strong>"));
    /* amount due, and the totals */
    assert_non_null(strstr(html, "<p class=\"due-amount\">" AMT("ZAR 125.50") "</p>"));
    assert_non_null(strstr(html, "<dt>Subtotal</dt><dd>" AMT("ZAR 110.00") "</dd>"));
    assert_non_null(strstr(html, "<dt>Tax</dt><dd>" AMT("ZAR 15.50") "</dd>"));
    assert_non_null(
        strstr(html, "<div class=\"total\"><dt>Total</dt><dd>" AMT("ZAR 125.50") "</dd></div>"));
    /* items: name as row header, quantity, line total and unit price */
    assert_non_null(strstr(html, "<caption class=\"vh\">Items in order <bdi>1001</bdi></caption>"));
    assert_non_null(strstr(html, "<th scope=\"col\">Item</th>"));
    assert_non_null(strstr(html,
                           "<tr><th scope=\"row\"><bdi>Widget</bdi></th><td class=\"num\">2</td>"
                           "<td class=\"num\">" AMT("ZAR 20.00") " <span class=\"each\">" AMT(
                               "ZAR 10.00") " each</span></td></tr>"));
    assert_non_null(strstr(html,
                           "<tr><th scope=\"row\"><bdi>Gadget</bdi></th><td class=\"num\">1</td>"
                           "<td class=\"num\">" AMT("ZAR 45.00") "</td></tr>"));
    assert_non_null(strstr(
        html, "<th scope=\"row\"><bdi>Sprocket</bdi></th><td class=\"num\">3</td>"
              "<td class=\"num\">" AMT("ZAR 45.00") " <span class=\"each\">" AMT("ZAR 15.00")));
    assert_int_equal(count(html, "<tr>"), 4);
    assert_int_equal(count(html, "</tr>"), 4);
    /* expiry: minutes left (for the script: seconds, digits, the text when
     * over) and the time in UTC as the language writes it (ICU puts U+202F
     * before AM) */
    assert_non_null(strstr(html, "<p class=\"expiry\" data-expires-in=\"2550\" "
                                 "data-numbering=\"latn\" data-expired-text=\"This payment link "
                                 "has expired.\">"));
    assert_non_null(strstr(html,
                           "This link expires in <strong class=\"left\" role=\"timer\">42 "
                           "minutes</strong> (<time datetime=\"2026-11-22T05:04:37.000Z\">Nov "
                           "22, 2026, 5:04\xE2\x80\xAF"
                           "AM UTC</time>)."));
    /* no Pay button: no script either */
    assert_null(strstr(html, "<script"));
    /* headings in order: h1, then h2 */
    assert_true(strstr(html, "<h1>") < strstr(html, "<h2"));
    assert_null(strstr(html, "<h3"));
    /* no sandbox banner on a live link */
    assert_null(strstr(html, "class=\"sandbox\""));
    assert_false(contains_ci(html, "sandbox \xE2\x80\x94"));
    assert_false(contains_ci(html, "no real money"));
}

static void test_link_page_sandbox_banner(void **state)
{
    struct arena *a = *state;
    struct web_link_page p = sample();
    size_t len = 0;
    char *html;

    p.sandbox = true;
    html = web_link_page(a, &p, &len);
    assert_page_shape(html, len);
    assert_non_null(strstr(html, "<header class=\"sandbox\">"));
    assert_non_null(strstr(html, "No real money will be charged."));
    assert_non_null(strstr(html, "<title>[Sandbox] Pay Sandbox Store"));
    /* the banner comes before the page's content */
    assert_true(strstr(html, "class=\"sandbox\"") < strstr(html, "<main"));
}

static void test_link_page_escapes(void **state)
{
    struct arena *a = *state;
    static const struct web_line_item evil_items[] = {
        {"<script>alert('item')</script>", 1, 100},
        {"\"><img src=x onerror=alert(1)>", 2, 100},
    };
    struct web_link_page p = sample();
    size_t len = 0;
    char *html;

    p.merchant_name = "Evil <script>alert(\"m\")</script> & 'Co'";
    p.order_number = "<b>\"1'</b>";
    p.items = evil_items;
    p.nitems = 2;
    html = web_link_page(a, &p, &len);
    assert_page_shape(html, len);

    assert_non_null(strstr(html,
                           "<h1><bdi>Evil &lt;script&gt;alert(&quot;m&quot;)&lt;/script&gt; &amp; "
                           "&#39;Co&#39;</bdi></h1>"));
    assert_non_null(strstr(html, "<title>Pay Evil &lt;script&gt;alert(&quot;m&quot;)"
                                 "&lt;/script&gt; &amp; &#39;Co&#39; \xC2\xB7 order "
                                 "&lt;b&gt;&quot;1&#39;&lt;/b&gt;</title>"));
    assert_non_null(strstr(
        html, "<strong class=\"ref\" dir=\"auto\">&lt;b&gt;&quot;1&#39;&lt;/b&gt;</strong>"));
    assert_non_null(
        strstr(html, "Items in order <bdi>&lt;b&gt;&quot;1&#39;&lt;/b&gt;</bdi></caption>"));
    assert_non_null(strstr(html, "<th scope=\"row\"><bdi>&lt;script&gt;alert(&#39;item&#39;)"
                                 "&lt;/script&gt;</bdi></th>"));
    assert_non_null(strstr(html,
                           "<th scope=\"row\"><bdi>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
                           "</bdi></th>"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<b>"));
}

static void test_link_page_optional_parts(void **state)
{
    struct arena *a = *state;
    struct web_link_page p = sample();
    size_t len = 0;
    char *html;

    /* no subtotal, no tax, no items: only the total */
    p.has_subtotal = false;
    p.has_tax = false;
    p.items = NULL;
    p.nitems = 0;
    html = web_link_page(a, &p, &len);
    assert_page_shape(html, len);
    assert_null(strstr(html, "Subtotal"));
    assert_null(strstr(html, "<dt>Tax"));
    assert_null(strstr(html, "<table"));
    assert_non_null(strstr(html, "<dt>Total</dt><dd>" AMT("ZAR 125.50") "</dd>"));

    /* currencies with other exponents */
    p.currency = currency_find("JPY");
    p.total_minor = 5000;
    html = web_link_page(a, &p, &len);
    assert_non_null(strstr(html, "<p class=\"due-amount\">" AMT("\xC2\xA5"
                                                                "5,000") "</p>"));
    p.currency = currency_find("KWD");
    p.total_minor = 12345;
    html = web_link_page(a, &p, &len);
    assert_non_null(strstr(html, "<p class=\"due-amount\">" AMT("KWD 12.345") "</p>"));

    /* len may be NULL */
    assert_non_null(web_link_page(a, &p, NULL));
    /* bad input */
    p.currency = NULL;
    len = 99;
    assert_null(web_link_page(a, &p, &len));
    assert_int_equal(len, 0);
    assert_null(web_link_page(a, NULL, &len));
}

/* Minutes left: rounded down, singular, under a minute, hours, days, expired. */
static void test_link_page_expiry(void **state)
{
    struct arena *a = *state;
    static const struct {
        int64_t left;
        const char *want;
    } cases[] = {
#define LEFT "expires in <strong class=\"left\" role=\"timer\">"
        {59 * 1000000LL, LEFT "less than a minute</strong>"},
        {MIN, LEFT "1 minute</strong>"},
        {2 * MIN - 1, LEFT "1 minute</strong>"},
        {2 * MIN, LEFT "2 minutes</strong>"},
        {119 * MIN + 59000000LL, LEFT "119 minutes</strong>"},
        {120 * MIN, LEFT "2 hours</strong>"},
        {121 * MIN, LEFT "2 hours 1 minute</strong>"},
        {(24 * 60 + 30) * MIN, LEFT "24 hours 30 minutes</strong>"},
        {3 * 24 * 60 * MIN + 5, LEFT "3 days</strong>"},
#undef LEFT
        {0, "This payment link has expired."},
        {-5 * MIN, "This payment link has expired."},
    };
    struct web_link_page p = sample();

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = 0;
        char *html;
        p.expires_at = NOW + cases[i].left;
        html = web_link_page(a, &p, &len);
        assert_page_shape(html, len);
        if (strstr(html, cases[i].want) == NULL)
            fail_msg("case %zu: no \"%s\"", i, cases[i].want);
    }

    /* extreme instants neither overflow nor print a bogus time */
    p.now = INT64_MIN;
    p.expires_at = INT64_MAX;
    assert_non_null(web_link_page(a, &p, NULL));
    p.now = INT64_MAX;
    p.expires_at = INT64_MIN;
    assert_non_null(strstr(web_link_page(a, &p, NULL), "has expired"));
}

/* Long names are clipped, long item lists summarised: the page stays small. */
static void test_link_page_bounded(void **state)
{
    struct arena *a = *state;
    static struct web_line_item many[150];
    static char huge[20000];
    struct web_link_page p = sample();
    size_t len = 0;
    char *html;

    memset(huge, '"', sizeof huge - 1);
    for (size_t i = 0; i < 150; i++) {
        many[i].name = huge;
        many[i].quantity = INT64_MAX; /* the line total overflows: unit price only */
        many[i].unit_price_minor = 3;
    }
    p.merchant_name = huge;
    p.order_number = huge;
    p.items = many;
    p.nitems = 150;
    html = web_link_page(a, &p, &len);
    assert_page_shape(html, len);
    assert_true(len < 400000);
    assert_non_null(strstr(html, "<p class=\"more\">and 50 more items</p>"));
    assert_int_equal(count(html, "<tr>"), 101);
    assert_non_null(strstr(html, "&quot;\xE2\x80\xA6</bdi></h1>")); /* clipped with "…" */
    assert_non_null(
        strstr(html, "<td class=\"num\"><span class=\"each\">" AMT("ZAR 0.03") " each</span>"));

    p.nitems = 101;
    html = web_link_page(a, &p, &len);
    assert_non_null(strstr(html, "<p class=\"more\">and 1 more item</p>"));
}

/* The Pay button posts to the pay URL and brings the script; the logo shows
 * with the merchant's name as its alt text. */
static void test_link_page_pay_and_logo(void **state)
{
    struct arena *a = *state;
    struct web_link_page p = sample();
    size_t len = 0;
    char *html;

    p.pay_url = "/p/tok123/pay";
    p.logo_url = "/m/5b0e/logo?v=1";
    p.merchant_name = "Bob's \"Shop\"";
    html = web_link_page(a, &p, &len);
    assert_page_shape(html, len);
    assert_non_null(strstr(html, "<script src=\"" WEB_JS_PATH "\" defer></script>\n</head>"));
    assert_int_equal(count(html, "<script"), 1);
    assert_non_null(strstr(
        html, "<form method=\"post\" action=\"/p/tok123/pay\">\n"
              "<button type=\"submit\" class=\"button\">Pay " AMT("ZAR 125.50") "</button>"));
    /* decorative (alt=""): the heading after it names the merchant */
    assert_non_null(strstr(html, "<img class=\"logo\" src=\"/m/5b0e/logo?v=1\" alt=\"\">\n"
                                 "<h1><bdi>Bob&#39;s &quot;Shop&quot;</bdi></h1>"));
    /* the logo comes before the heading */
    assert_true(strstr(html, "<img") < strstr(html, "<h1>"));

    p.logo_url = NULL;
    html = web_link_page(a, &p, &len);
    assert_null(strstr(html, "<img"));
}

/* The same page in French and in Arabic (right to left, Arabic-Indic
 * digits, six plural forms); a language without a catalog is English. */
static void test_link_page_languages(void **state)
{
    struct arena *a = *state;
    struct web_link_page p = sample();
    struct web_locale fr, ar, de;
    size_t len = 0;
    char *html;

    web_locale_negotiate(NULL, "fr-FR,fr;q=0.9", &fr);
    p.loc = &fr;
    p.pay_url = "/p/t/pay";
    html = web_link_page(a, &p, &len);
    assert_page_shape_lang(html, len, "fr");
    assert_non_null(strstr(html, "<title>Payer Sandbox Store \xC2\xB7 commande 1001</title>"));
    assert_non_null(
        strstr(html, "Demande de paiement pour la commande <strong class=\"ref\" dir=\"auto\">1001"
                     "</strong>"));
    assert_non_null(strstr(html, "<p class=\"due-amount\">" AMT("125,50 ZAR") "</p>"));
    assert_non_null(strstr(html, "<dt>Sous-total</dt><dd>" AMT("110,00 ZAR") "</dd>"));
    assert_non_null(strstr(html, "Ce lien expire dans <strong class=\"left\" role=\"timer\">42 "
                                 "minutes</strong>"));
    assert_non_null(strstr(html, "Payer " AMT("125,50 ZAR") "</button>"));
    assert_non_null(strstr(html, "<p>Page de paiement sécurisée."));
    assert_null(strstr(html, "Order summary"));

    web_locale_negotiate(NULL, "ar", &ar);
    p.loc = &ar;
    p.sandbox = true;
    p.nitems = 3;
    html = web_link_page(a, &p, &len);
    assert_page_shape_lang(html, len, "ar");
    assert_non_null(strstr(html, "<strong>بيئة الاختبار</strong> — هذه عملية دفع تجريبية."));
    assert_non_null(strstr(html, "<h2 id=\"summary\">ملخص الطلب</h2>"));
    /* ١٢٥٫٥٠ with a right-to-left mark first */
    assert_non_null(strstr(html, AMT("\xE2\x80\x8F١٢٥٫٥٠ ZAR")));
    assert_non_null(strstr(html, "data-numbering=\"arab\""));
    assert_non_null(strstr(html, "<td class=\"num\">٢</td>")); /* quantity 2 */
    assert_non_null(strstr(html, "role=\"timer\">٤٢ دقيقة</strong>"));

    /* Arabic plural forms: 1, 2, 3-10, 11-99, 100+ */
    static struct web_line_item many[205];
    for (size_t i = 0; i < 205; i++)
        many[i] = (struct web_line_item){"x", 1, 1};
    p.items = many;
    static const struct {
        size_t n;
        const char *want;
    } more[] = {{101, "ومنتج واحد آخر"},
                {102, "ومنتجان آخران"},
                {103, "و٣ منتجات أخرى"},
                {111, "و١١ منتجًا آخر"},
                {200, "و١٠٠ منتج آخر"}};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        p.nitems = more[i].n;
        html = web_link_page(a, &p, &len);
        if (strstr(html, more[i].want) == NULL)
            fail_msg("%zu items: no \"%s\"", more[i].n, more[i].want);
    }

    /* German has no catalog: English */
    web_locale_negotiate(NULL, "de-DE", &de);
    p.loc = &de;
    p.nitems = 3;
    p.items = items3;
    html = web_link_page(a, &p, &len);
    assert_page_shape_lang(html, len, "en");
    assert_non_null(strstr(html, "Order summary"));
}

/* ---- the message page ----------------------------------------------------- */

static void test_message_page(void **state)
{
    struct arena *a = *state;
    size_t len = 0;
    char *html = web_message_page(a, NULL, "This payment link has expired",
                                  "Ask Sandbox Store for a new link.", &len);

    assert_page_shape(html, len);
    assert_non_null(strstr(html, "<title>This payment link has expired</title>"));
    assert_non_null(strstr(html,
                           "<main class=\"card message\">\n<h1>This payment link has "
                           "expired</h1>\n<p>Ask Sandbox Store for a new link.</p>\n</main>"));
}

static void test_message_page_escapes(void **state)
{
    struct arena *a = *state;
    size_t len = 0;
    char *html = web_message_page(a, NULL, "<script>alert(1)</script>",
                                  "Ask \"Bob's\" <Shop> & co for a new link.", &len);

    assert_page_shape(html, len);
    assert_non_null(strstr(html, "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"));
    assert_non_null(strstr(html, "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"));
    assert_non_null(
        strstr(html, "<p>Ask &quot;Bob&#39;s&quot; &lt;Shop&gt; &amp; co for a new link.</p>"));

    /* no text: no paragraph; no title: a generic one (HTML wants one) */
    html = web_message_page(a, NULL, NULL, NULL, &len);
    assert_page_shape(html, len);
    assert_non_null(strstr(html, "<title>Payment link</title>"));
    assert_non_null(strstr(html, "<h1>Payment link</h1>\n</main>"));
    html = web_message_page(a, NULL, "", "", &len);
    assert_non_null(strstr(html, "<h1>Payment link</h1>\n</main>"));
}

static void test_message_page_language(void **state)
{
    struct arena *a = *state;
    struct web_locale l;
    size_t len = 0;

    web_locale_negotiate(NULL, "ar;q=0.9, es", &l);
    char *html = web_message_page(a, &l, web_text(&l, "msg.expired.title"),
                                  WEB_TEXTF(a, &l, "msg.new_link", "<Tienda>"), &len);
    assert_page_shape_lang(html, len, "es");
    assert_non_null(strstr(html, "<h1>Este enlace de pago ha caducado</h1>"));
    assert_non_null(strstr(html, "<p>Pide a &lt;Tienda&gt; un nuevo enlace de pago.</p>"));
    assert_null(strstr(html, "<script")); /* message pages need no script */

    /* no title: the language's generic one */
    web_locale_negotiate(NULL, "ar", &l);
    html = web_message_page(a, &l, NULL, NULL, &len);
    assert_page_shape_lang(html, len, "ar");
    assert_non_null(strstr(html, "<h1>رابط الدفع</h1>"));
}

/* A sentence with the merchant's texts in it: each is escaped, clipped and
 * isolated, so that a bidi control in one cannot reorder the sentence. */
static void test_message_page_isolates(void **state)
{
    struct arena *a = *state;
    struct web_locale l;
    size_t len = 0;
    char long_name[1200];

    web_locale_negotiate(NULL, "ar", &l);
    char *html = web_message_page_html(a, &l, web_text(&l, "msg.cancelled.title"),
                                       WEB_HTMLF(a, &l, "msg.cancelled.text",
                                                 web_isolated(a, "Bob's <Shop>\xE2\x80\xAE!"),
                                                 web_isolated(a, "A-1")),
                                       &len);
    assert_page_shape_lang(html, len, "ar");
    assert_non_null(strstr(html, "<bdi>Bob&#39;s &lt;Shop&gt;\xE2\x80\xAE!</bdi>"));
    assert_non_null(strstr(html, "<bdi>A-1</bdi>"));
    assert_int_equal(count(html, "<bdi>"), 2);
    assert_int_equal(count(html, "</bdi>"), 2);

    /* a long name is clipped inside its isolate */
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *iso = web_isolated(a, long_name);
    assert_true(strlen(iso) < 300);
    assert_non_null(strstr(iso, "x\xE2\x80\xA6</bdi>"));
    assert_string_equal(web_isolated(a, NULL), "<bdi></bdi>");

    /* a button back (a plain link), its text and address escaped */
    html = web_message_page_action(a, &l, "Payment declined", "No money was taken.",
                                   "Try \"another\" card", "/p/T?a=1&b=2", &len);
    assert_page_shape_lang(html, len, "ar");
    assert_non_null(strstr(html, "<p>No money was taken.</p>\n<p><a class=\"button\" "
                                 "href=\"/p/T?a=1&amp;b=2\">Try &quot;another&quot; "
                                 "card</a></p>\n</main>"));
    html = web_message_page_html(a, &l, "Payment declined", "No money was taken.", &len);
    assert_null(strstr(html, "<a "));
}

/* web_page (the sandbox gateway's pages) and the HTML form of a text. */
static void test_web_page(void **state)
{
    struct arena *a = *state;
    struct web_locale l;
    size_t len = 0;

    web_locale_negotiate(NULL, "pt-BR", &l);
    char *html = web_page(a, &l, "T<>", "<main><h1>x</h1></main>\n", true, &len);
    assert_page_shape_lang(html, len, "pt");
    assert_non_null(strstr(html, "<title>T&lt;&gt;</title>"));
    assert_int_equal(count(html, "<script"), 1);
    html = web_page(a, &l, "T", "<main><h1>x</h1></main>\n", false, &len);
    assert_null(strstr(html, "<script"));

    /* the template is escaped, the arguments go in as they are */
    assert_string_equal(WEB_HTMLF(a, &l, "link.pay", "<b>R$ 1</b>"), "Pagar <b>R$ 1</b>");
    web_locale_negotiate(NULL, NULL, &l);
    assert_string_equal(WEB_HTMLF(a, &l, "result.confirming.text"),
                        "We are waiting for the bank&#39;s answer. Reload this page in a moment; "
                        "you will not be charged twice.");
    /* amounts: one span, no-break spaces written as plain spaces */
    assert_string_equal(web_amount_html(a, &l, currency_find("ZAR"), 11500), AMT("ZAR 115.00"));
    assert_string_equal(web_amount_html(a, NULL, currency_find("USD"), 11500), AMT("$115.00"));
}

/* ---- the stylesheet ------------------------------------------------------- */

static void test_css(void **state)
{
    size_t len = 0;
    const char *css = web_css(&len);
    (void)state;

    assert_non_null(css);
    assert_int_equal(strlen(css), len);
    assert_true(len > 500);
    assert_ptr_equal(web_css(NULL), css); /* static */
    assert_non_null(strstr(css, "system-ui"));
    assert_non_null(strstr(css, "sans-serif"));
    /* no web fonts, no imports, nothing external */
    assert_false(contains_ci(css, "@font-face"));
    assert_false(contains_ci(css, "@import"));
    assert_false(contains_ci(css, "url("));
    assert_false(contains_ci(css, "http"));
    /* the classes the pages use are styled */
    assert_non_null(strstr(css, ".sandbox{"));
    assert_non_null(strstr(css, ".items"));
    assert_non_null(strstr(css, ".totals"));
    assert_non_null(strstr(css, ".vh{"));
    assert_non_null(strstr(css, "min-block-size:48px"));
    /* braces balance */
    assert_int_equal(count(css, "{"), count(css, "}"));
    /* right to left works: logical properties, no physical sides */
    assert_false(contains_ci(css, "-left"));
    assert_false(contains_ci(css, "-right"));
    assert_false(contains_ci(css, "text-align:left"));
    assert_false(contains_ci(css, "text-align:right"));
    assert_false(contains_ci(css, "float:"));
    assert_non_null(strstr(css, "text-align:start"));
    assert_non_null(strstr(css, "text-align:end"));
    assert_non_null(strstr(css, "padding-inline-start"));
    assert_non_null(strstr(css, ".amt{white-space:nowrap;unicode-bidi:isolate}"));
    assert_non_null(strstr(css, ".logo{"));
    assert_non_null(strstr(css, ".hint{"));
}

/* ---- the script and the policy ---------------------------------------------- */

static void test_js_and_csp(void **state)
{
    size_t len = 0;
    const char *js = web_js(&len);
    (void)state;

    assert_non_null(js);
    assert_int_equal(strlen(js), len);
    assert_true(len > 500);
    /* what the pages hook it to */
    assert_non_null(strstr(js, "data-expires-in"));
    assert_non_null(strstr(js, "data-expired-text"));
    assert_non_null(strstr(js, "data-numbering"));
    assert_non_null(strstr(js, "data-luhn-hint"));
    /* only enhances: builds no markup from strings, evaluates nothing, loads
     * nothing, and holds no text of its own */
    assert_null(strstr(js, "innerHTML"));
    assert_null(strstr(js, "eval("));
    assert_null(strstr(js, "XMLHttpRequest"));
    assert_null(strstr(js, "fetch("));
    assert_false(contains_ci(js, "http://"));
    assert_false(contains_ci(js, "https://"));

    /* the policy: the script from chatpay itself, nothing inline */
    assert_non_null(strstr(WEB_CSP, "script-src 'self'"));
    assert_non_null(strstr(WEB_CSP, "default-src 'none'"));
    assert_null(strstr(WEB_CSP, "unsafe-inline"));
    assert_null(strstr(WEB_CSP, "unsafe-eval"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_page_normal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_page_sandbox_banner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_page_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_page_optional_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_page_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_page_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_page_pay_and_logo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_page_languages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_page_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_page_language, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_page_isolates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_page, setup, teardown),
        cmocka_unit_test(test_css),
        cmocka_unit_test(test_js_and_csp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
