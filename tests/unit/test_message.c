/*
 * test_message.c — unit tests for core/message.c: GSM-7 septet counting and
 * cleaning, the SMS templates and their 160-septet limit (shorter templates,
 * then a shortened merchant name, never a cut URL), WhatsApp texts, the
 * cancellation texts and the receipt texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/currency.h"
#include "core/message.h"
#include "core/status.h"

/* A 60-character link URL: 26 characters of prefix and 34 of reference. */
#define URL60 "https://pay.example.com/p/AbCdEfGhIjKlMnOpQrStUvWxYz01234567"

/* A link for ZAR 125.50, order 1001, on `channel`. */
static struct message_link link_for(int channel, const char *merchant, const char *url)
{
    struct message_link m = {
        .channel = channel,
        .merchant_name = merchant,
        .order_number = "1001",
        .total_minor = 12550,
        .currency = currency_find("ZAR"),
        .link_url = url,
    };
    return m;
}

/* n copies of the UTF-8 character c, in a static buffer. */
static const char *repeat(const char *c, size_t n)
{
    static char buf[4096];
    size_t len = strlen(c);
    assert_true(n * len < sizeof buf);
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * len, c, len);
    buf[n * len] = '\0';
    return buf;
}

/* Concatenate the NULL-terminated list of strings into out, asserting that
 * they fit cap. */
static void join(char *out, size_t cap, ...)
{
    va_list ap;
    size_t len = 0;
    const char *part;

    va_start(ap, cap);
    while ((part = va_arg(ap, const char *)) != NULL) {
        size_t n = strlen(part);
        assert_true(n < cap - len);
        memcpy(out + len, part, n);
        len += n;
    }
    va_end(ap);
    out[len] = '\0';
}

/* Septets of s, asserting it is pure GSM-7. */
static size_t septets(const char *s)
{
    bool all = false;
    size_t n = message_gsm7_septets(s, &all);
    assert_true(all);
    return n;
}

/* ---- counting ------------------------------------------------------------ */

static void test_url60_is_60(void **state)
{
    (void)state;
    assert_int_equal(strlen(URL60), 60);
}

static void test_septets_basic(void **state)
{
    bool all = false;
    (void)state;

    assert_int_equal(message_gsm7_septets("", &all), 0);
    assert_true(all);
    assert_int_equal(message_gsm7_septets("Hello, World! 0123456789 @$_", &all), 28);
    assert_true(all);
    /* Basic-table letters outside ASCII: one septet each. */
    assert_int_equal(message_gsm7_septets("£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", &all), 39);
    assert_true(all);
    assert_int_equal(message_gsm7_septets("a\nb\rc", &all), 5);
    assert_true(all);
    /* all_gsm7 may be NULL */
    assert_int_equal(message_gsm7_septets("abc", NULL), 3);
}

static void test_septets_extension(void **state)
{
    bool all = false;
    (void)state;

    /* Every extension-table character counts two. */
    assert_int_equal(message_gsm7_septets("^", &all), 2);
    assert_int_equal(message_gsm7_septets("{}", &all), 4);
    assert_int_equal(message_gsm7_septets("\\", &all), 2);
    assert_int_equal(message_gsm7_septets("[~]|", &all), 8);
    assert_true(all);
    assert_int_equal(message_gsm7_septets("\f", &all), 2);
    assert_true(all);
    assert_int_equal(message_gsm7_septets("^{}\\[~]|€", &all), 18);
    assert_true(all);
}

static void test_septets_euro(void **state)
{
    bool all = false;
    (void)state;

    assert_int_equal(message_gsm7_septets("€", &all), 2);
    assert_true(all);
    assert_int_equal(message_gsm7_septets("EUR €5", &all), 7);
    assert_true(all);
}

static void test_septets_non_gsm(void **state)
{
    bool all = true;
    (void)state;

    /* Outside GSM-7: counted as one each, and flagged. */
    assert_int_equal(message_gsm7_septets("ë", &all), 1);
    assert_false(all);
    all = true;
    assert_int_equal(message_gsm7_septets("`", &all), 1); /* ASCII, but not GSM-7 */
    assert_false(all);
    all = true;
    assert_int_equal(message_gsm7_septets("a😀b", &all), 3);
    assert_false(all);
    all = true;
    assert_int_equal(message_gsm7_septets("\t", &all), 1);
    assert_false(all);
    /* Malformed UTF-8: one per bad byte. */
    all = true;
    assert_int_equal(message_gsm7_septets("a\xff\xfe"
                                          "b",
                                          &all),
                     4);
    assert_false(all);
    all = true;
    assert_int_equal(message_gsm7_septets("\xe2\x82", &all), 2); /* truncated € */
    assert_false(all);
    all = true;
    assert_int_equal(message_gsm7_septets("\xc0\xa4", &all), 2); /* overlong '$' */
    assert_false(all);
}

/* ---- cleaning ------------------------------------------------------------ */

static void assert_clean(const char *in, const char *want)
{
    char out[256];
    int n = message_gsm7_clean(in, out, sizeof out);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
    (void)septets(out); /* the result is pure GSM-7 */
}

static void test_clean_keeps_gsm(void **state)
{
    (void)state;
    assert_clean("Sandbox Store", "Sandbox Store");
    assert_clean("Café Señor £5 €5 [x] {y}", "Café Señor £5 €5 [x] {y}");
    assert_clean("Ñandú", "Ñandu"); /* ù is GSM-7, ú is not */
    assert_clean("ΔΦΓ", "ΔΦΓ");
    assert_clean("", "");
}

static void test_clean_lookalikes(void **state)
{
    (void)state;
    assert_clean("Zoë’s “Bäckerei” — Łódź", "Zoe's \"Bäckerei\" - Lodz");
    assert_clean("‘a’ «b» „c“", "'a' \"b\" \"c\"");
    assert_clean("a–b−c", "a-b-c");
    assert_clean("wait…", "wait...");
    assert_clean("a\xc2\xa0"
                 "b\tc",
                 "a b c"); /* no-break space, tab */
    assert_clean("ab\xe2\x80\x8b"
                 "c",
                 "abc"); /* zero width space dropped */
    assert_clean("`x`", "'x'");
    assert_clean("Ærøskøbing Œuvre Þór", "Ærøskøbing OEuvre Thor");
    assert_clean("ÀÁÂÃ àáâã ç È Ê ÿ Ž š ő", "AAAA àaaa c E E y Z s o");
}

static void test_clean_replaces_others(void **state)
{
    (void)state;
    assert_clean("Shop 😀", "Shop ?");
    assert_clean("❤️ love", "? love"); /* the variation selector is dropped */
    assert_clean("日本", "??");
    assert_clean("a\x01"
                 "b",
                 "a?b");
    assert_clean("bad\xff"
                 "byte",
                 "bad?byte");
    assert_clean("\xe2\x82", "??"); /* truncated sequence: one '?' per byte */
}

static void test_clean_cap(void **state)
{
    char out[8];
    (void)state;

    assert_int_equal(message_gsm7_clean("abcdefg", out, sizeof out), 7);
    assert_int_equal(message_gsm7_clean("abcdefgh", out, sizeof out), -1);
    assert_string_equal(out, "");
    /* "…" becomes three bytes, so it needs room for them. */
    assert_int_equal(message_gsm7_clean("abcd…", out, sizeof out), 7);
    assert_int_equal(message_gsm7_clean("abcde…", out, sizeof out), -1);
    assert_int_equal(message_gsm7_clean("abcd", out, 0), -1);
    assert_int_equal(message_gsm7_clean("x", NULL, 4), -1);
}

/* ---- SMS payment request ------------------------------------------------- */

static void test_sms_normal(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Sandbox Store", "https://pay.example.com/p/xyz");
    int n;
    (void)state;

    n = message_payment_request(&m, out, sizeof out);
    assert_string_equal(
        out,
        "Sandbox Store asks you to pay ZAR 125.50 for order 1001: https://pay.example.com/p/xyz");
    assert_int_equal(n, (int)strlen(out));
}

static void test_sms_currency_exponents(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Tokyo Shop", "https://p.example/x");
    (void)state;

    m.currency = currency_find("JPY");
    m.total_minor = 5000;
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    assert_string_equal(out,
                        "Tokyo Shop asks you to pay JPY 5000 for order 1001: https://p.example/x");

    m.currency = currency_find("KWD");
    m.total_minor = 1005;
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    assert_string_equal(out,
                        "Tokyo Shop asks you to pay KWD 1.005 for order 1001: https://p.example/x");
}

/* With a 60-character URL, amount "ZAR 125.50" and order "1001", the full
 * template has 104 septets besides the name: names up to 56 fit it. */
static void test_sms_boundary_full_template(void **state)
{
    char out[MESSAGE_MAX], want[MESSAGE_MAX];
    char name[64] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, URL60);
    int n;
    (void)state;

    memcpy(name, repeat("M", 56), 57);
    n = message_payment_request(&m, out, sizeof out);
    join(want, sizeof want, name, " asks you to pay ZAR 125.50 for order 1001: ", URL60,
         (const char *)NULL);
    assert_string_equal(out, want);
    assert_int_equal(n, 160);
    assert_int_equal(septets(out), 160);
}

/* 57..67 characters: the second template "<name>: pay ... for order ...",
 * 93 septets besides the name. */
static void test_sms_boundary_second_template(void **state)
{
    char out[MESSAGE_MAX], want[MESSAGE_MAX];
    char name[80] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, URL60);
    (void)state;

    memcpy(name, repeat("M", 57), 58);
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    join(want, sizeof want, name, ": pay ZAR 125.50 for order 1001: ", URL60, (const char *)NULL);
    assert_string_equal(out, want);
    assert_int_equal(septets(out), 150);

    memcpy(name, repeat("M", 67), 68);
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    join(want, sizeof want, name, ": pay ZAR 125.50 for order 1001: ", URL60, (const char *)NULL);
    assert_string_equal(out, want);
    assert_int_equal(septets(out), 160);
}

/* 68..70 characters: the shortest template "<name>: pay ..., order ...", 90
 * septets besides the name. */
static void test_sms_boundary_third_template(void **state)
{
    char out[MESSAGE_MAX], want[MESSAGE_MAX];
    char name[80] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, URL60);
    (void)state;

    memcpy(name, repeat("M", 68), 69);
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    join(want, sizeof want, name, ": pay ZAR 125.50, order 1001: ", URL60, (const char *)NULL);
    assert_string_equal(out, want);
    assert_int_equal(septets(out), 158);

    memcpy(name, repeat("M", 70), 71);
    assert_int_equal(message_payment_request(&m, out, sizeof out), 160);
    join(want, sizeof want, name, ": pay ZAR 125.50, order 1001: ", URL60, (const char *)NULL);
    assert_string_equal(out, want);
}

/* 71 and more: the name is cut to 67 characters + "...", exactly 160. */
static void test_sms_boundary_shortened(void **state)
{
    char out[MESSAGE_MAX], want[MESSAGE_MAX];
    char name[400] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, URL60);
    (void)state;

    memcpy(name, repeat("M", 71), 72);
    assert_int_equal(message_payment_request(&m, out, sizeof out), 160);
    join(want, sizeof want, repeat("M", 67), "...: pay ZAR 125.50, order 1001: ", URL60,
         (const char *)NULL);
    assert_string_equal(out, want);

    /* A name far beyond one SMS gives the same. */
    memcpy(name, repeat("M", 300), 301);
    assert_int_equal(message_payment_request(&m, out, sizeof out), 160);
    assert_string_equal(out, want);
}

/* A realistic long name: cut at a word boundary, the space before the
 * "..." dropped. */
static void test_sms_shortened_real_name(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS,
                                     "The Very Long Name Of A Family Owned Hardware And Garden "
                                     "Supplies Store Of Cape Town",
                                     URL60);
    (void)state;

    /* 67 septets of budget end in "Supplies S": the cut goes back to the
     * end of "Supplies" (65 characters), so the text has 158 septets. */
    assert_int_equal(message_payment_request(&m, out, sizeof out), 158);
    assert_string_equal(out,
                        "The Very Long Name Of A Family Owned Hardware And Garden Supplies...: "
                        "pay ZAR 125.50, order 1001: " URL60);

    /* A word boundary in the first half is not worth it: cut mid-word. */
    m.merchant_name = "Shop WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW";
    assert_int_equal(message_payment_request(&m, out, sizeof out), 160);
    assert_string_equal(out,
                        "Shop WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW...: "
                        "pay ZAR 125.50, order 1001: " URL60);
}

/* Extension characters in the name count two: 28 '[' = 56 septets fit the
 * full template exactly; one more letter does not. */
static void test_sms_extension_chars(void **state)
{
    char out[MESSAGE_MAX], want[MESSAGE_MAX];
    char name[200] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, URL60);
    (void)state;

    memcpy(name, repeat("[", 28), 29);
    assert_int_equal(message_payment_request(&m, out, sizeof out), 132); /* bytes */
    assert_int_equal(septets(out), 160);
    join(want, sizeof want, name, " asks you to pay ZAR 125.50 for order 1001: ", URL60,
         (const char *)NULL);
    assert_string_equal(out, want);

    join(name, sizeof name, repeat("[", 28), "a", (const char *)NULL);
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    join(want, sizeof want, name, ": pay ZAR 125.50 for order 1001: ", URL60, (const char *)NULL);
    assert_string_equal(out, want);
    assert_int_equal(septets(out), 150);

    /* Shortening never splits an escape pair: an odd budget of 67 septets
     * takes 33 '{' and the text has 159 septets; with order "10011" the
     * budget is 66, still 33 '{', and the text has 160. */
    memcpy(name, repeat("{", 80), 81);
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    join(want, sizeof want, repeat("{", 33), "...: pay ZAR 125.50, order 1001: ", URL60,
         (const char *)NULL);
    assert_string_equal(out, want);
    assert_int_equal(septets(out), 159);

    m.order_number = "10011";
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    join(want, sizeof want, repeat("{", 33), "...: pay ZAR 125.50, order 10011: ", URL60,
         (const char *)NULL);
    assert_string_equal(out, want);
    assert_int_equal(septets(out), 160);
}

/* € takes two septets: 28 of them fill the full template's 56. */
static void test_sms_euro(void **state)
{
    char out[MESSAGE_MAX], want[MESSAGE_MAX];
    char name[200] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, URL60);
    (void)state;

    m.currency = currency_find("EUR");
    m.total_minor = 999;
    /* "EUR 9.99" is 2 shorter than "ZAR 125.50": room for 58 septets. */
    memcpy(name, repeat("€", 29), 29 * 3 + 1);
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    join(want, sizeof want, name, " asks you to pay EUR 9.99 for order 1001: ", URL60,
         (const char *)NULL);
    assert_string_equal(out, want);
    assert_int_equal(septets(out), 160);

    join(name, sizeof name, repeat("€", 29), "x", (const char *)NULL);
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    join(want, sizeof want, name, ": pay EUR 9.99 for order 1001: ", URL60, (const char *)NULL);
    assert_string_equal(out, want);
}

/* Non-GSM characters in name and order number are replaced (otherwise the
 * whole SMS would be sent as UCS-2, 70 characters). */
static void test_sms_non_gsm_replaced(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Zoë’s Café 😀", "https://p.example/x");
    (void)state;

    m.order_number = "A–7`1";
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    assert_string_equal(
        out, "Zoe's Café ? asks you to pay ZAR 125.50 for order A-7'1: https://p.example/x");
    (void)septets(out);
}

/* Line breaks in a name do not break the text; surrounding spaces go. */
static void test_sms_fields_one_line(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "  Two\nLines \r\n", "https://p.example/x");
    (void)state;

    m.order_number = " 1001\t";
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    assert_string_equal(out,
                        "Two Lines asks you to pay ZAR 125.50 for order 1001: https://p.example/x");
}

/* The URL is never cut: when even a one-character name plus "..." does not
 * fit, the call fails. Shortest form around the URL: "M...: pay ZAR 125.50,
 * order 1001: " = 34 septets, so 126 is the longest URL that works. */
static void test_sms_url_too_long(void **state)
{
    char out[MESSAGE_MAX], url[300] = "", want[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Sandbox Store", url);
    (void)state;

    join(url, sizeof url, "https://pay.example.com/p/", repeat("x", 126 - 26), (const char *)NULL);
    assert_int_equal(strlen(url), 126);
    assert_int_equal(message_payment_request(&m, out, sizeof out), 160);
    join(want, sizeof want, "S...: pay ZAR 125.50, order 1001: ", url, (const char *)NULL);
    assert_string_equal(out, want);

    join(url, sizeof url, "https://pay.example.com/p/", repeat("x", 127 - 26), (const char *)NULL);
    out[0] = 'x';
    assert_int_equal(message_payment_request(&m, out, sizeof out), -1);
    assert_string_equal(out, "");

    join(url, sizeof url, "https://pay.example.com/p/", repeat("x", 200), (const char *)NULL);
    assert_int_equal(message_payment_request(&m, out, sizeof out), -1);

    /* An extension character in the URL counts two as well. */
    join(url, sizeof url, "https://pay.example.com/~p/", repeat("x", 125 - 27), (const char *)NULL);
    assert_int_equal(strlen(url), 125);
    assert_int_equal(message_payment_request(&m, out, sizeof out), 159); /* bytes: 160 septets */
    join(url, sizeof url, "https://pay.example.com/~p/", repeat("x", 126 - 27), (const char *)NULL);
    assert_int_equal(message_payment_request(&m, out, sizeof out), -1);
}

static void test_sms_bad_input(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Sandbox Store", "https://p.example/x");
    struct message_link b;
    (void)state;

    b = m;
    b.link_url = "https://p.example/a b"; /* a space would end the link */
    assert_int_equal(message_payment_request(&b, out, sizeof out), -1);
    b = m;
    b.link_url = "https://p.example/ü`"; /* not GSM-7: cannot be sent as is */
    assert_int_equal(message_payment_request(&b, out, sizeof out), -1);
    b = m;
    b.link_url = NULL;
    assert_int_equal(message_payment_request(&b, out, sizeof out), -1);
    b = m;
    b.merchant_name = NULL;
    assert_int_equal(message_payment_request(&b, out, sizeof out), -1);
    b = m;
    b.merchant_name = "   ";
    assert_int_equal(message_payment_request(&b, out, sizeof out), -1);
    b = m;
    b.order_number = "";
    assert_int_equal(message_payment_request(&b, out, sizeof out), -1);
    b = m;
    b.currency = NULL;
    assert_int_equal(message_payment_request(&b, out, sizeof out), -1);
    b = m;
    b.channel = CHANNEL_NONE;
    assert_int_equal(message_payment_request(&b, out, sizeof out), -1);
    assert_int_equal(message_payment_request(NULL, out, sizeof out), -1);
    assert_int_equal(message_payment_request(&m, NULL, 100), -1);
}

static void test_sms_cap(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Sandbox Store", "https://p.example/x");
    int n;
    (void)state;

    n = message_payment_request(&m, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(message_payment_request(&m, out, (size_t)n + 1), n);
    out[0] = 'x';
    assert_int_equal(message_payment_request(&m, out, (size_t)n), -1);
    assert_string_equal(out, "");
    assert_int_equal(message_payment_request(&m, out, 0), -1);
}

/* ---- WhatsApp ------------------------------------------------------------ */

static void test_whatsapp_request(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m =
        link_for(CHANNEL_WHATSAPP, "Zoë’s Café", "https://pay.example.com/p/xyz");
    int n;
    (void)state;

    m.order_number = "INV-2026/07";
    n = message_payment_request(&m, out, sizeof out);
    assert_int_equal(n, (int)strlen(out));
    /* UTF-8 is kept as it is on WhatsApp. */
    assert_non_null(strstr(out, "Zoë’s Café"));
    assert_non_null(strstr(out, "ZAR 125.50"));
    assert_non_null(strstr(out, "INV-2026/07"));
    assert_non_null(strstr(out, "https://pay.example.com/p/xyz"));
    assert_string_equal(out, "Hello! Zoë’s Café has sent you a payment request.\n"
                             "\n"
                             "Order: INV-2026/07\n"
                             "Amount due: ZAR 125.50\n"
                             "\n"
                             "Pay securely here: https://pay.example.com/p/xyz\n"
                             "\n"
                             "If you were not expecting this message, you can ignore it.");
    /* Friendlier, so longer than one SMS may be. */
    assert_true(n > 160);
}

static void test_whatsapp_sanitised(void **state)
{
    char out[MESSAGE_MAX];
    char name[3000] = "";
    struct message_link m = link_for(CHANNEL_WHATSAPP, name, "https://p.example/x");
    (void)state;

    /* Controls become spaces, bidi overrides go, bad bytes become '?'. */
    join(name, sizeof name, "Evil\nShop\xe2\x80\xae", "cba\xff", (const char *)NULL);
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    assert_non_null(strstr(out, "Hello! Evil Shopcba? has sent"));

    /* A huge name is cut, so the text still fits MESSAGE_MAX. */
    memcpy(name, repeat("ß", 1200), 2401);
    assert_true(message_payment_request(&m, out, sizeof out) > 0);
    assert_non_null(strstr(out, "ßßß..."));
    assert_non_null(strstr(out, "https://p.example/x"));
}

/* ---- cancellation -------------------------------------------------------- */

static void test_cancel_sms(void **state)
{
    char out[MESSAGE_MAX], want[MESSAGE_MAX];
    char name[400] = "";
    struct message_link m = link_for(CHANNEL_SMS, "Sandbox Store", NULL);
    int n;
    (void)state;

    n = message_cancelled(&m, out, sizeof out);
    assert_string_equal(out, "Order 1001 from Sandbox Store was cancelled. No payment is due.");
    assert_int_equal(n, (int)strlen(out));

    /* The fixed text and order take 50 septets: 110 are left for the name. */
    m.merchant_name = name;
    memcpy(name, repeat("N", 110), 111);
    assert_int_equal(message_cancelled(&m, out, sizeof out), 160);
    memcpy(name, repeat("N", 200), 201);
    assert_int_equal(message_cancelled(&m, out, sizeof out), 160);
    join(want, sizeof want, "Order 1001 from ", repeat("N", 107),
         "... was cancelled. No payment is due.", (const char *)NULL);
    assert_string_equal(out, want);

    /* Non-GSM characters replaced here too. */
    m.merchant_name = "Łódź “Deli”";
    assert_true(message_cancelled(&m, out, sizeof out) > 0);
    assert_string_equal(out, "Order 1001 from Lodz \"Deli\" was cancelled. No payment is due.");
}

static void test_cancel_whatsapp(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_WHATSAPP, "Zoë’s Café", NULL);
    (void)state;

    assert_true(message_cancelled(&m, out, sizeof out) > 0);
    assert_non_null(strstr(out, "Order 1001 from Zoë’s Café was cancelled."));
    assert_non_null(strstr(out, "No payment is due"));
    m.merchant_name = NULL;
    assert_int_equal(message_cancelled(&m, out, sizeof out), -1);
    m.merchant_name = "x";
    m.channel = 7;
    assert_int_equal(message_cancelled(&m, out, sizeof out), -1);
}

/* ---- receipt ------------------------------------------------------------- */

/* A 60-character receipt URL. */
#define RURL60 "https://shop.example.com/receipts/AbCdEfGhIjKlMnOpQrStUvWxYz"

static void test_rurl60_is_60(void **state)
{
    (void)state;
    assert_int_equal(strlen(RURL60), 60);
}

static void test_receipt_sms_normal(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Sandbox Store", NULL);
    int n;
    (void)state;

    n = message_receipt(&m, "https://shop.example.com/r/1", out, sizeof out);
    assert_string_equal(out, "Thank you for paying Sandbox Store ZAR 125.50 for order 1001. "
                             "Your receipt: https://shop.example.com/r/1");
    assert_int_equal(n, (int)strlen(out));

    /* the link URL is not used: the receipt URL takes its place */
    m.link_url = URL60;
    assert_int_equal(message_receipt(&m, "https://shop.example.com/r/1", out, sizeof out), n);
    assert_null(strstr(out, "/p/"));
    m.link_url = "https://bad url";
    assert_int_equal(message_receipt(&m, "https://shop.example.com/r/1", out, sizeof out), n);

    m.currency = currency_find("JPY");
    m.total_minor = 5000;
    assert_true(message_receipt(&m, "https://r.example/1", out, sizeof out) > 0);
    assert_string_equal(out, "Thank you for paying Sandbox Store JPY 5000 for order 1001. "
                             "Your receipt: https://r.example/1");
}

/* With a 60-character URL, "ZAR 125.50" and order "1001", the full template
 * has 123 septets besides the name: names up to 37 fit it. */
static void test_receipt_sms_boundary_full_template(void **state)
{
    char out[MESSAGE_MAX], want[MESSAGE_MAX];
    char name[64] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, NULL);
    (void)state;

    memcpy(name, repeat("M", 37), 38);
    assert_int_equal(message_receipt(&m, RURL60, out, sizeof out), 160);
    join(want, sizeof want, "Thank you for paying ", name,
         " ZAR 125.50 for order 1001. Your receipt: ", RURL60, (const char *)NULL);
    assert_string_equal(out, want);
    assert_int_equal(septets(out), 160);
}

/* 38..75 characters: "<name> receipt for order 1001: <url>", 85 septets
 * besides the name. */
static void test_receipt_sms_boundary_second_template(void **state)
{
    char out[MESSAGE_MAX], want[MESSAGE_MAX];
    char name[100] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, NULL);
    (void)state;

    memcpy(name, repeat("M", 38), 39);
    assert_int_equal(message_receipt(&m, RURL60, out, sizeof out), 123);
    join(want, sizeof want, name, " receipt for order 1001: ", RURL60, (const char *)NULL);
    assert_string_equal(out, want);

    memcpy(name, repeat("M", 75), 76);
    assert_int_equal(message_receipt(&m, RURL60, out, sizeof out), 160);
    join(want, sizeof want, name, " receipt for order 1001: ", RURL60, (const char *)NULL);
    assert_string_equal(out, want);
}

/* 76 and more: "Receipt, order 1001: <url>" (81 septets), without the name;
 * a name longer than one SMS gives the same. */
static void test_receipt_sms_boundary_third_template(void **state)
{
    char out[MESSAGE_MAX];
    char name[400] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, NULL);
    (void)state;

    memcpy(name, repeat("M", 76), 77);
    assert_int_equal(message_receipt(&m, RURL60, out, sizeof out), 81);
    assert_string_equal(out, "Receipt, order 1001: " RURL60);

    memcpy(name, repeat("M", 160), 161);
    assert_int_equal(message_receipt(&m, RURL60, out, sizeof out), 81);
    assert_string_equal(out, "Receipt, order 1001: " RURL60);

    memcpy(name, repeat("M", 300), 301);
    assert_int_equal(message_receipt(&m, RURL60, out, sizeof out), 81);
    assert_string_equal(out, "Receipt, order 1001: " RURL60);

    /* extension characters in the name count two: 38 '{' (76 septets) no
     * longer fit the second template */
    memcpy(name, repeat("{", 37), 38);
    assert_int_equal(message_receipt(&m, RURL60, out, sizeof out), 37 + 85);
    assert_int_equal(septets(out), 159);
    memcpy(name, repeat("{", 38), 39);
    assert_int_equal(message_receipt(&m, RURL60, out, sizeof out), 81);
    assert_string_equal(out, "Receipt, order 1001: " RURL60);
}

/* The URL is never cut: the shortest text around it has 21 septets, so 139
 * is the longest URL that works (an extension character counts two). */
static void test_receipt_sms_url_too_long(void **state)
{
    char out[MESSAGE_MAX], url[1100] = "", want[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Sandbox Store", NULL);
    (void)state;

    join(url, sizeof url, "https://shop.example.com/r/", repeat("x", 139 - 27), (const char *)NULL);
    assert_int_equal(strlen(url), 139);
    assert_int_equal(message_receipt(&m, url, out, sizeof out), 160);
    join(want, sizeof want, "Receipt, order 1001: ", url, (const char *)NULL);
    assert_string_equal(out, want);

    join(url, sizeof url, "https://shop.example.com/r/", repeat("x", 140 - 27), (const char *)NULL);
    out[0] = 'x';
    assert_int_equal(message_receipt(&m, url, out, sizeof out), -1);
    assert_string_equal(out, "");

    join(url, sizeof url, "https://shop.example.com/r/", repeat("x", 1000), (const char *)NULL);
    assert_int_equal(message_receipt(&m, url, out, sizeof out), -1);

    join(url, sizeof url, "https://shop.example.com/~r/", repeat("x", 138 - 28),
         (const char *)NULL);
    assert_int_equal(strlen(url), 138);
    assert_int_equal(message_receipt(&m, url, out, sizeof out), 159); /* 160 septets */
    join(url, sizeof url, "https://shop.example.com/~r/", repeat("x", 139 - 28),
         (const char *)NULL);
    assert_int_equal(message_receipt(&m, url, out, sizeof out), -1);

    /* a longer order number leaves less room */
    m.order_number = "10011";
    join(url, sizeof url, "https://shop.example.com/r/", repeat("x", 139 - 27), (const char *)NULL);
    assert_int_equal(message_receipt(&m, url, out, sizeof out), -1);
}

/* Whether a URL fits does not depend on the merchant's name when the text
 * that fits has no name in it: the third template, exactly 160 septets,
 * whether the name is 100 characters or longer than one SMS (then the
 * shortening path is taken, which must not need room for a cut name that
 * the third template does not show). */
static void test_receipt_sms_long_name_full_url(void **state)
{
    char out[MESSAGE_MAX], url[300] = "", want[MESSAGE_MAX];
    char name[400] = "";
    struct message_link m = link_for(CHANNEL_SMS, name, NULL);
    (void)state;

    join(url, sizeof url, "https://shop.example.com/r/", repeat("x", 139 - 27), (const char *)NULL);
    join(want, sizeof want, "Receipt, order 1001: ", url, (const char *)NULL);
    memcpy(name, repeat("M", 100), 101);
    assert_int_equal(message_receipt(&m, url, out, sizeof out), 160);
    assert_string_equal(out, want);
    memcpy(name, repeat("M", 200), 201);
    assert_int_equal(message_receipt(&m, url, out, sizeof out), 160);
    assert_string_equal(out, want);

    /* 159 septets; a name of two-septet characters longer than one SMS */
    join(url, sizeof url, "https://shop.example.com/r/", repeat("x", 138 - 27), (const char *)NULL);
    join(want, sizeof want, "Receipt, order 1001: ", url, (const char *)NULL);
    memcpy(name, repeat("€", 90), 90 * 3 + 1);
    assert_int_equal(message_receipt(&m, url, out, sizeof out), 159);
    assert_string_equal(out, want);
}

static void test_receipt_non_gsm_fields(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, " Zoë’s\nCafé 😀 ", NULL);
    (void)state;

    m.order_number = "A–7`1";
    assert_true(message_receipt(&m, "https://r.example/1", out, sizeof out) > 0);
    assert_string_equal(out, "Thank you for paying Zoe's Café ? ZAR 125.50 for order A-7'1. "
                             "Your receipt: https://r.example/1");
    (void)septets(out);
}

static void test_receipt_bad_input(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Sandbox Store", NULL);
    struct message_link b;
    const char *const bad_urls[] = {
        "",
        "https://r.example/a b",  /* a space would end the link */
        "https://r.example/a\tb", /* control characters too */
        "https://r.example/a\nb",
        "https://r.example/\x7f",
        "https://r.example/ë", /* not GSM-7: cannot be sent as is */
        "https://r.example/`",
    };
    const char *url = "https://r.example/1";
    (void)state;

    for (int c = 0; c < 2; c++) {
        b = m;
        b.channel = c == 0 ? CHANNEL_SMS : CHANNEL_WHATSAPP;
        assert_true(message_receipt(&b, url, out, sizeof out) > 0);
        for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
            out[0] = 'x';
            assert_int_equal(message_receipt(&b, bad_urls[i], out, sizeof out), -1);
            assert_string_equal(out, "");
        }
        assert_int_equal(message_receipt(&b, NULL, out, sizeof out), -1);
    }
    b = m;
    b.merchant_name = NULL;
    assert_int_equal(message_receipt(&b, url, out, sizeof out), -1);
    b = m;
    b.merchant_name = " \n ";
    assert_int_equal(message_receipt(&b, url, out, sizeof out), -1);
    b = m;
    b.order_number = "";
    assert_int_equal(message_receipt(&b, url, out, sizeof out), -1);
    b = m;
    b.order_number = NULL;
    assert_int_equal(message_receipt(&b, url, out, sizeof out), -1);
    b = m;
    b.currency = NULL;
    assert_int_equal(message_receipt(&b, url, out, sizeof out), -1);
    b = m;
    b.channel = CHANNEL_NONE;
    assert_int_equal(message_receipt(&b, url, out, sizeof out), -1);
    assert_int_equal(message_receipt(NULL, url, out, sizeof out), -1);
    assert_int_equal(message_receipt(&m, url, NULL, 100), -1);
}

static void test_receipt_cap(void **state)
{
    char out[MESSAGE_MAX];
    struct message_link m = link_for(CHANNEL_SMS, "Sandbox Store", NULL);
    const char *url = "https://r.example/1";
    int n;
    (void)state;

    n = message_receipt(&m, url, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(message_receipt(&m, url, out, (size_t)n + 1), n);
    out[0] = 'x';
    assert_int_equal(message_receipt(&m, url, out, (size_t)n), -1);
    assert_string_equal(out, "");
    assert_int_equal(message_receipt(&m, url, out, 0), -1);

    m.channel = CHANNEL_WHATSAPP;
    n = message_receipt(&m, url, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(message_receipt(&m, url, out, (size_t)n + 1), n);
    assert_int_equal(message_receipt(&m, url, out, (size_t)n), -1);
    assert_string_equal(out, "");
}

static void test_receipt_whatsapp(void **state)
{
    char out[MESSAGE_MAX], url[1100] = "";
    char name[3000] = "";
    struct message_link m = link_for(CHANNEL_WHATSAPP, "Zoë’s Café", NULL);
    int n;
    (void)state;

    m.order_number = "INV-2026/07";
    n = message_receipt(&m, "https://shop.example.com/r/1", out, sizeof out);
    assert_int_equal(n, (int)strlen(out));
    /* UTF-8 is kept as it is on WhatsApp */
    assert_string_equal(out, "Hello! Thank you for your payment to Zoë’s Café.\n"
                             "\n"
                             "Order: INV-2026/07\n"
                             "Amount paid: ZAR 125.50\n"
                             "\n"
                             "Your receipt: https://shop.example.com/r/1");

    /* no SMS limit: a 1024-character URL is sent whole */
    join(url, sizeof url, "https://shop.example.com/r/", repeat("x", 1024 - 27),
         (const char *)NULL);
    assert_true(message_receipt(&m, url, out, sizeof out) > 1024);
    assert_non_null(strstr(out, url));

    /* controls become spaces, bidi overrides go, bad bytes become '?', and a
     * huge name is cut */
    m.merchant_name = name;
    join(name, sizeof name, "Evil\nShop\xe2\x80\xae", "cba\xff", (const char *)NULL);
    assert_true(message_receipt(&m, "https://r.example/1", out, sizeof out) > 0);
    assert_non_null(strstr(out, "payment to Evil Shopcba?.\n"));
    memcpy(name, repeat("ß", 1200), 2401);
    assert_true(message_receipt(&m, url, out, sizeof out) > 0);
    assert_non_null(strstr(out, "ßßß...."));
    assert_non_null(strstr(out, url));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url60_is_60),
        cmocka_unit_test(test_septets_basic),
        cmocka_unit_test(test_septets_extension),
        cmocka_unit_test(test_septets_euro),
        cmocka_unit_test(test_septets_non_gsm),
        cmocka_unit_test(test_clean_keeps_gsm),
        cmocka_unit_test(test_clean_lookalikes),
        cmocka_unit_test(test_clean_replaces_others),
        cmocka_unit_test(test_clean_cap),
        cmocka_unit_test(test_sms_normal),
        cmocka_unit_test(test_sms_currency_exponents),
        cmocka_unit_test(test_sms_boundary_full_template),
        cmocka_unit_test(test_sms_boundary_second_template),
        cmocka_unit_test(test_sms_boundary_third_template),
        cmocka_unit_test(test_sms_boundary_shortened),
        cmocka_unit_test(test_sms_shortened_real_name),
        cmocka_unit_test(test_sms_extension_chars),
        cmocka_unit_test(test_sms_euro),
        cmocka_unit_test(test_sms_non_gsm_replaced),
        cmocka_unit_test(test_sms_fields_one_line),
        cmocka_unit_test(test_sms_url_too_long),
        cmocka_unit_test(test_sms_bad_input),
        cmocka_unit_test(test_sms_cap),
        cmocka_unit_test(test_whatsapp_request),
        cmocka_unit_test(test_whatsapp_sanitised),
        cmocka_unit_test(test_cancel_sms),
        cmocka_unit_test(test_cancel_whatsapp),
        cmocka_unit_test(test_rurl60_is_60),
        cmocka_unit_test(test_receipt_sms_normal),
        cmocka_unit_test(test_receipt_sms_boundary_full_template),
        cmocka_unit_test(test_receipt_sms_boundary_second_template),
        cmocka_unit_test(test_receipt_sms_boundary_third_template),
        cmocka_unit_test(test_receipt_sms_url_too_long),
        cmocka_unit_test(test_receipt_sms_long_name_full_url),
        cmocka_unit_test(test_receipt_non_gsm_fields),
        cmocka_unit_test(test_receipt_bad_input),
        cmocka_unit_test(test_receipt_cap),
        cmocka_unit_test(test_receipt_whatsapp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
