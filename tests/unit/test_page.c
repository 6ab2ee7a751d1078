/*
 * test_page.c — unit tests for web/page.c: HTML escaping, the order summary
 * page (document skeleton, items, totals, expiry, sandbox banner), the
 * message page and the stylesheet. Every page is also checked for what the
 * Content-Security-Policy forbids: inline script and inline style.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/currency.h"
#include "util/arena.h"
#include "web/page.h"

#define MIN (60LL * 1000000LL)
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

/* What the CSP and the HTML rules require of every page. */
static void assert_page_shape(const char *html, size_t len)
{
    assert_non_null(html);
    assert_int_equal(strlen(html), len);
    assert_true(strncmp(html, "<!doctype html>\n", 16) == 0);
    assert_non_null(strstr(html, "<html lang=\"en\">"));
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
    assert_false(contains_ci(html, "<script"));
    assert_false(contains_ci(html, "<style"));
    assert_false(contains_ci(html, "style="));
    assert_false(contains_ci(html, "javascript:"));
    assert_false(contains_ci(html, "http://"));
    assert_false(contains_ci(html, "https://"));
    assert_false(in_tag(html, " on")); /* no event handler attributes (onerror=...) */
    assert_false(in_tag(html, "\ton"));
    assert_false(in_tag(html, "\non"));
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
    assert_non_null(strstr(html, "<h1>Sandbox Store</h1>"));
    assert_non_null(strstr(html, "<strong class=\"ref\">1001</strong>"));
    /* amount due, and the totals */
    assert_non_null(strstr(html, "<p class=\"due-amount\">ZAR 125.50</p>"));
    assert_non_null(strstr(html, "<dt>Subtotal</dt><dd>ZAR 110.00</dd>"));
    assert_non_null(strstr(html, "<dt>Tax</dt><dd>ZAR 15.50</dd>"));
    assert_non_null(strstr(html, "<div class=\"total\"><dt>Total</dt><dd>ZAR 125.50</dd></div>"));
    /* items: name as row header, quantity, line total and unit price */
    assert_non_null(strstr(html, "<caption class=\"vh\">Items in order 1001</caption>"));
    assert_non_null(strstr(html, "<th scope=\"col\">Item</th>"));
    assert_non_null(strstr(html, "<tr><th scope=\"row\">Widget</th><td class=\"num\">2</td>"
                                 "<td class=\"num\">ZAR 20.00 <span class=\"each\">ZAR 10.00 "
                                 "each</span></td></tr>"));
    assert_non_null(strstr(html, "<tr><th scope=\"row\">Gadget</th><td class=\"num\">1</td>"
                                 "<td class=\"num\">ZAR 45.00</td></tr>"));
    assert_non_null(strstr(html, "<th scope=\"row\">Sprocket</th><td class=\"num\">3</td>"
                                 "<td class=\"num\">ZAR 45.00 <span class=\"each\">ZAR 15.00"));
    assert_int_equal(count(html, "<tr>"), 4);
    assert_int_equal(count(html, "</tr>"), 4);
    /* expiry: minutes left and the UTC time */
    assert_non_null(strstr(html, "This link expires in <strong>42 minutes</strong>, at "
                                 "<time datetime=\"2026-11-22T05:04:37.000Z\">2026-11-22 05:04 "
                                 "UTC</time>."));
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

    assert_non_null(
        strstr(html, "<h1>Evil &lt;script&gt;alert(&quot;m&quot;)&lt;/script&gt; &amp; &#39;Co&#39;"
                     "</h1>"));
    assert_non_null(strstr(html, "<title>Pay Evil &lt;script&gt;alert(&quot;m&quot;)"
                                 "&lt;/script&gt; &amp; &#39;Co&#39; \xC2\xB7 order "
                                 "&lt;b&gt;&quot;1&#39;&lt;/b&gt;</title>"));
    assert_non_null(strstr(html, "<strong class=\"ref\">&lt;b&gt;&quot;1&#39;&lt;/b&gt;</strong>"));
    assert_non_null(strstr(html, "Items in order &lt;b&gt;&quot;1&#39;&lt;/b&gt;</caption>"));
    assert_non_null(strstr(html, "<th scope=\"row\">&lt;script&gt;alert(&#39;item&#39;)"
                                 "&lt;/script&gt;</th>"));
    assert_non_null(strstr(html, "<th scope=\"row\">&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
                                 "</th>"));
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
    assert_non_null(strstr(html, "<dt>Total</dt><dd>ZAR 125.50</dd>"));

    /* currencies with other exponents */
    p.currency = currency_find("JPY");
    p.total_minor = 5000;
    html = web_link_page(a, &p, &len);
    assert_non_null(strstr(html, "<p class=\"due-amount\">JPY 5000</p>"));
    p.currency = currency_find("KWD");
    p.total_minor = 12345;
    html = web_link_page(a, &p, &len);
    assert_non_null(strstr(html, "<p class=\"due-amount\">KWD 12.345</p>"));

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
        {59 * 1000000LL, "expires in <strong>less than a minute</strong>"},
        {MIN, "expires in <strong>1 minute</strong>"},
        {2 * MIN - 1, "expires in <strong>1 minute</strong>"},
        {2 * MIN, "expires in <strong>2 minutes</strong>"},
        {119 * MIN + 59000000LL, "expires in <strong>119 minutes</strong>"},
        {120 * MIN, "expires in <strong>2 hours</strong>"},
        {121 * MIN, "expires in <strong>2 hours 1 minute</strong>"},
        {(24 * 60 + 30) * MIN, "expires in <strong>24 hours 30 minutes</strong>"},
        {3 * 24 * 60 * MIN + 5, "expires in <strong>3 days</strong>"},
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
    assert_non_null(strstr(html, "&quot;\xE2\x80\xA6</h1>")); /* clipped with "…" */
    assert_non_null(strstr(html, "<td class=\"num\"><span class=\"each\">ZAR 0.03 each</span>"));

    p.nitems = 101;
    html = web_link_page(a, &p, &len);
    assert_non_null(strstr(html, "<p class=\"more\">and 1 more item</p>"));
}

/* ---- the message page ----------------------------------------------------- */

static void test_message_page(void **state)
{
    struct arena *a = *state;
    size_t len = 0;
    char *html = web_message_page(a, "This payment link has expired",
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
    char *html = web_message_page(a, "<script>alert(1)</script>",
                                  "Ask \"Bob's\" <Shop> & co for a new link.", &len);

    assert_page_shape(html, len);
    assert_non_null(strstr(html, "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"));
    assert_non_null(strstr(html, "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"));
    assert_non_null(
        strstr(html, "<p>Ask &quot;Bob&#39;s&quot; &lt;Shop&gt; &amp; co for a new link.</p>"));

    /* no text: no paragraph; no title: a generic one (HTML wants one) */
    html = web_message_page(a, NULL, NULL, &len);
    assert_page_shape(html, len);
    assert_non_null(strstr(html, "<title>Payment link</title>"));
    assert_non_null(strstr(html, "<h1>Payment link</h1>\n</main>"));
    html = web_message_page(a, "", "", &len);
    assert_non_null(strstr(html, "<h1>Payment link</h1>\n</main>"));
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
    assert_non_null(strstr(css, "min-height:48px"));
    /* braces balance */
    assert_int_equal(count(css, "{"), count(css, "}"));
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
        cmocka_unit_test_setup_teardown(test_message_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_page_escapes, setup, teardown),
        cmocka_unit_test(test_css),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
