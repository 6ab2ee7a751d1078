/*
 * page.c — the customer-facing HTML pages of a payment link (see page.h).
 *
 * Pages are assembled in a growable buffer that lives in the request arena
 * (struct html below): it doubles when full and the old copy is simply left
 * in the arena, which is released with the request. The buffer is bounded by
 * PAGE_MAX; the inputs are clipped before rendering (names to a number of
 * code points, the item list to ITEMS_SHOWN rows) so that a page never comes
 * near that bound, and reaching it anyway returns NULL rather than a page cut
 * in the middle of a tag.
 *
 * Everything that does not come from this file goes through web_escape():
 * names, order number, amounts, numbers and times alike. The markup uses no
 * inline script, no style attribute and no <style> element, so the page works
 * under WEB_CSP; all presentation is in web_css().
 */
#include "web/page.h"
#include "util/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/money.h"

#define PAGE_MAX     (1024 * 1024) /* bytes: the most one page may take */
#define PAGE_INITIAL 8192          /* first buffer size: a typical page fits */
#define ITEMS_SHOWN  100           /* line items listed; the rest are counted */
#define NAME_CP_MAX  200           /* code points of a merchant or item name shown */
#define ORDER_CP_MAX 64            /* code points of an order number shown */
#define TEXT_CP_MAX  1000          /* code points of a message page's title or text */

#define USEC_PER_MIN  (60LL * 1000000LL)
#define USEC_PER_HOUR (60LL * USEC_PER_MIN)
#define USEC_PER_DAY  (24LL * USEC_PER_HOUR)

/* ---- UTF-8 and escaping --------------------------------------------------- */

/* Characters HTML does not allow in text (parse errors: controls other than
 * tab/LF/CR, noncharacters), and malformed bytes: shown as U+FFFD. */
static bool html_unfit(int32_t cp)
{
    return cp < 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
           (cp >= 0x7F && cp <= 0x9F) || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

/* What replaces code point cp in HTML text or an attribute value, or NULL to
 * copy it as it is. */
static const char *escape_for(int32_t cp)
{
    switch (cp) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return html_unfit(cp) ? "\xEF\xBF\xBD" : NULL;
    }
}

char *web_escape(struct arena *a, const char *s)
{
    const unsigned char *p;
    size_t need = 0, n;
    char *out, *w;

    if (s == NULL)
        return arena_strdup(a, "");
    /* First pass: the size; second: the text. */
    for (p = (const unsigned char *)s; *p != '\0'; p += n) {
        const char *rep = escape_for(utf8_decode_z(p, &n));
        need += rep != NULL ? strlen(rep) : n;
    }
    out = w = arena_alloc(a, need + 1);
    for (p = (const unsigned char *)s; *p != '\0'; p += n) {
        const char *rep = escape_for(utf8_decode_z(p, &n));
        size_t len = rep != NULL ? strlen(rep) : n;
        memcpy(w, rep != NULL ? rep : (const char *)p, len);
        w += len;
    }
    *w = '\0';
    return out;
}

/* s cut after max_cp code points (and at most 4 bytes per code point, so that
 * malformed input is bounded too), with "…" appended when cut. */
static const char *clip(struct arena *a, const char *s, size_t max_cp)
{
    size_t i = 0, ncp = 0, max_bytes = 4 * max_cp;
    char *out;

    if (s == NULL)
        return "";
    while (s[i] != '\0') {
        size_t n;
        (void)utf8_decode_z((const unsigned char *)s + i, &n);
        if (ncp == max_cp || i + n > max_bytes)
            break;
        ncp++;
        i += n;
    }
    if (s[i] == '\0')
        return s;
    out = arena_alloc(a, i + sizeof "\xE2\x80\xA6");
    memcpy(out, s, i);
    memcpy(out + i, "\xE2\x80\xA6", sizeof "\xE2\x80\xA6"); /* … */
    return out;
}

/* ---- the page buffer ------------------------------------------------------ */

/* A growable, bounded, always NUL-terminated string in the arena. */
struct html {
    struct arena *a;
    char *buf;
    size_t len, cap;
    bool failed; /* PAGE_MAX was reached: the page is abandoned */
};

static void h_init(struct html *h, struct arena *a)
{
    h->a = a;
    h->cap = PAGE_INITIAL;
    h->buf = arena_alloc(a, h->cap);
    h->len = 0;
    h->failed = false;
}

/* Append n bytes, growing the buffer by doubling up to PAGE_MAX. */
static void h_put(struct html *h, const char *s, size_t n)
{
    if (h->failed)
        return;
    if (n >= PAGE_MAX - h->len) {
        h->failed = true;
        return;
    }
    if (h->len + n + 1 > h->cap) {
        size_t cap = h->cap;
        char *buf;
        while (cap < h->len + n + 1)
            cap *= 2;
        if (cap > PAGE_MAX)
            cap = PAGE_MAX;
        buf = arena_alloc(h->a, cap);
        memcpy(buf, h->buf, h->len);
        h->buf = buf;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
    h->buf[h->len] = '\0';
}

/* Markup written by this file (trusted, not escaped). */
static void h_raw(struct html *h, const char *s)
{
    h_put(h, s, strlen(s));
}

/* A dynamic value: always escaped. */
static void h_text(struct html *h, const char *s)
{
    h_raw(h, web_escape(h->a, s));
}

/* The finished page, or NULL if it outgrew PAGE_MAX. */
static char *h_finish(struct html *h, size_t *len)
{
    if (h->failed) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    if (len != NULL)
        *len = h->len;
    return h->buf;
}

/* ---- pieces --------------------------------------------------------------- */

/* "ZAR 125.50" in the arena. */
static const char *money_text(struct arena *a, int64_t minor, const struct currency *c)
{
    char num[32];

    if (money_format(minor, c->exponent, num, sizeof num) < 0)
        return arena_printf(a, "%s ?", c->code); /* exponent outside 0..4: not in the table */
    return arena_printf(a, "%s %s", c->code, num);
}

/* Time left until expiry in words: minutes below two hours (the common case:
 * links live for minutes), then hours and minutes, then days. NULL when the
 * link has expired. */
static const char *time_left_text(struct arena *a, usec_t now, usec_t expires_at)
{
    int64_t left, minutes;

    if (__builtin_sub_overflow(expires_at, now, &left))
        left = expires_at > now ? INT64_MAX : -1;
    if (left <= 0)
        return NULL;
    if (left < USEC_PER_MIN)
        return "less than a minute";
    minutes = left / USEC_PER_MIN;
    if (minutes == 1)
        return "1 minute";
    if (minutes < 120)
        return arena_printf(a, "%lld minutes", (long long)minutes);
    if (left < 2 * USEC_PER_DAY) {
        int64_t rest = minutes % 60;
        if (rest == 0)
            return arena_printf(a, "%lld hours", (long long)(minutes / 60));
        return arena_printf(a, "%lld hours %lld minute%s", (long long)(minutes / 60),
                            (long long)rest, rest == 1 ? "" : "s");
    }
    return arena_printf(a, "%lld days", (long long)(left / USEC_PER_DAY));
}

/* The document head up to and including <body>. title is plain text. */
static void page_open(struct html *h, const char *title)
{
    h_raw(h, "<!doctype html>\n"
             "<html lang=\"en\">\n"
             "<head>\n"
             "<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             /* a payment link is private: keep it out of search engines and
              * out of the Referer header of anything the page links to */
             "<meta name=\"robots\" content=\"noindex, nofollow\">\n"
             "<meta name=\"referrer\" content=\"no-referrer\">\n"
             "<title>");
    h_text(h, title);
    h_raw(h, "</title>\n"
             "<link rel=\"stylesheet\" href=\"" WEB_CSS_PATH "\">\n"
             "</head>\n"
             "<body>\n");
}

static void page_close(struct html *h)
{
    h_raw(h, "<footer class=\"foot\">\n"
             "<p>Secure payment page. Never share your card PIN.</p>\n"
             "</footer>\n"
             "</body>\n"
             "</html>\n");
}

void web_buf_init(struct web_buf *b, struct arena *a)
{
    b->a = a;
    b->cap = 4096;
    b->len = 0;
    b->data = arena_alloc(a, b->cap);
}

void web_buf_printf(struct web_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *d = arena_alloc(b->a, cap);
        memcpy(d, b->data, b->len + 1);
        b->data = d;
        b->cap = cap;
    }
}

char *web_page(struct arena *a, const char *title, const char *body_html, size_t *len)
{
    struct html h;
    h_init(&h, a);
    page_open(&h, title);
    h_raw(&h, body_html);
    page_close(&h);
    return h_finish(&h, len);
}

/* One row of the totals list. */
static void total_row(struct html *h, const char *cls, const char *label, const char *amount)
{
    h_raw(h, cls != NULL ? "<div class=\"" : "<div>");
    if (cls != NULL) {
        h_raw(h, cls);
        h_raw(h, "\">");
    }
    h_raw(h, "<dt>");
    h_raw(h, label);
    h_raw(h, "</dt><dd>");
    h_text(h, amount);
    h_raw(h, "</dd></div>\n");
}

/* The line items as a table: the name is the row header; the amount column
 * shows the line total and, for more than one, the unit price. */
static void items_table(struct html *h, const struct web_link_page *p, const char *order)
{
    size_t shown = p->nitems < ITEMS_SHOWN ? p->nitems : ITEMS_SHOWN;

    h_raw(h, "<table class=\"items\">\n<caption class=\"vh\">Items in order ");
    h_text(h, order);
    h_raw(h, "</caption>\n"
             "<thead><tr><th scope=\"col\">Item</th>"
             "<th scope=\"col\" class=\"num\">Qty</th>"
             "<th scope=\"col\" class=\"num\">Amount</th></tr></thead>\n"
             "<tbody>\n");
    for (size_t i = 0; i < shown; i++) {
        const struct web_line_item *it = &p->items[i];
        const char *unit = money_text(h->a, it->unit_price_minor, p->currency);
        int64_t line;
        bool has_line = !__builtin_mul_overflow(it->quantity, it->unit_price_minor, &line);

        h_raw(h, "<tr><th scope=\"row\">");
        h_text(h, clip(h->a, it->name, NAME_CP_MAX));
        h_raw(h, "</th><td class=\"num\">");
        h_text(h, arena_printf(h->a, "%lld", (long long)it->quantity));
        h_raw(h, "</td><td class=\"num\">");
        if (it->quantity == 1) {
            h_text(h, unit);
        } else {
            if (has_line) {
                h_text(h, money_text(h->a, line, p->currency));
                h_raw(h, " ");
            }
            h_raw(h, "<span class=\"each\">");
            h_text(h, unit);
            h_raw(h, " each</span>");
        }
        h_raw(h, "</td></tr>\n");
    }
    h_raw(h, "</tbody>\n</table>\n");
    if (p->nitems > shown) {
        size_t more = p->nitems - shown;
        h_raw(h, "<p class=\"more\">");
        h_text(h, arena_printf(h->a, "and %zu more item%s", more, more == 1 ? "" : "s"));
        h_raw(h, "</p>\n");
    }
}

char *web_link_page(struct arena *a, const struct web_link_page *p, size_t *len)
{
    struct html h;
    const char *merchant, *order, *total, *left;
    char when[32];

    if (len != NULL)
        *len = 0;
    if (a == NULL || p == NULL || p->currency == NULL || (p->nitems > 0 && p->items == NULL))
        return NULL;

    merchant = clip(a, p->merchant_name, NAME_CP_MAX);
    order = clip(a, p->order_number, ORDER_CP_MAX);
    total = money_text(a, p->total_minor, p->currency);

    h_init(&h, a);
    page_open(&h, arena_printf(a, "%sPay %s \xC2\xB7 order %s", p->sandbox ? "[Sandbox] " : "",
                               merchant, order));

    if (p->sandbox)
        h_raw(&h, "<header class=\"sandbox\">\n"
                  "<p><strong>Sandbox</strong> \xE2\x80\x94 this is a test payment. "
                  "No real money will be charged.</p>\n"
                  "</header>\n");

    h_raw(&h, "<main class=\"card\">\n<h1>");
    h_text(&h, merchant);
    h_raw(&h, "</h1>\n<p class=\"lede\">Payment request for order <strong class=\"ref\">");
    h_text(&h, order);
    h_raw(&h, "</strong></p>\n"
              "<div class=\"due\">\n<p class=\"due-label\">Amount due</p>\n"
              "<p class=\"due-amount\">");
    h_text(&h, total);
    h_raw(&h, "</p>\n</div>\n");

    /* Expiry: minutes left, and the instant in UTC. */
    left = time_left_text(a, p->now, p->expires_at);
    h_raw(&h, "<p class=\"expiry\">");
    if (left == NULL) {
        h_raw(&h, "This payment link has expired.");
    } else {
        h_raw(&h, "This link expires in <strong>");
        h_text(&h, left);
        h_raw(&h, "</strong>");
        if (time_format_rfc3339(p->expires_at, when, sizeof when) > 0) {
            /* "2026-11-22T05:04:07.000Z" shown as "2026-11-22 05:04 UTC" */
            h_raw(&h, ", at <time datetime=\"");
            h_text(&h, when);
            h_raw(&h, "\">");
            h_text(&h, arena_printf(a, "%.10s %.5s UTC", when, when + 11));
            h_raw(&h, "</time>");
        }
        h_raw(&h, ".");
    }
    h_raw(&h, "</p>\n");

    h_raw(&h, "<section aria-labelledby=\"summary\">\n<h2 id=\"summary\">Order summary</h2>\n");
    if (p->nitems > 0)
        items_table(&h, p, order);
    h_raw(&h, "<dl class=\"totals\">\n");
    if (p->has_subtotal)
        total_row(&h, NULL, "Subtotal", money_text(a, p->subtotal_minor, p->currency));
    if (p->has_tax)
        total_row(&h, NULL, "Tax", money_text(a, p->tax_minor, p->currency));
    total_row(&h, "total", "Total", total);
    h_raw(&h, "</dl>\n</section>\n");
    if (p->notice) {
        h_raw(&h, "<p class=\"notice\" role=\"alert\">");
        h_text(&h, p->notice);
        h_raw(&h, "</p>\n");
    }
    if (p->pay_url) {
        h_raw(&h, "<form method=\"post\" action=\"");
        h_text(&h, p->pay_url);
        h_raw(&h, "\">\n<button type=\"submit\" class=\"button\">Pay ");
        h_text(&h, total);
        h_raw(&h, "</button>\n</form>\n");
    }
    h_raw(&h, "</main>\n");

    page_close(&h);
    return h_finish(&h, len);
}

char *web_message_page(struct arena *a, const char *title, const char *text, size_t *len)
{
    struct html h;
    const char *t;

    if (len != NULL)
        *len = 0;
    if (a == NULL)
        return NULL;
    /* HTML requires a non-empty <title>; the heading says the same. */
    t = clip(a, title != NULL && title[0] != '\0' ? title : "Payment link", TEXT_CP_MAX);

    h_init(&h, a);
    page_open(&h, t);
    h_raw(&h, "<main class=\"card message\">\n<h1>");
    h_text(&h, t);
    h_raw(&h, "</h1>\n");
    if (text != NULL && text[0] != '\0') {
        h_raw(&h, "<p>");
        h_text(&h, clip(a, text, TEXT_CP_MAX));
        h_raw(&h, "</p>\n");
    }
    h_raw(&h, "</main>\n");
    page_close(&h);
    return h_finish(&h, len);
}

/* ---- stylesheet ------------------------------------------------------------ */

/* Phone first: one column up to 30rem wide, wider padding from 33rem. Every
 * text/background pair has at least 6.5:1 contrast (WCAG AA asks 4.5:1),
 * in the light and the dark scheme; the muted grey on the amount box is the
 * lowest. Tap targets are at least 48 px high. System fonts only; no
 * external URL of any kind. */
static const char css[] =
    ":root{color-scheme:light dark;"
    "--bg:#eef0f3;--card:#ffffff;--text:#111827;--muted:#4b5563;--line:#d1d5db;"
    "--accent:#1d4ed8;--on-accent:#ffffff;--warn-bg:#fde68a;--warn-text:#3b2102;"
    "--warn-line:#b45309}\n"
    "@media (prefers-color-scheme:dark){:root{"
    "--bg:#0b0f17;--card:#161b26;--text:#f3f4f6;--muted:#c3c8d2;--line:#374151;"
    "--accent:#93c5fd;--on-accent:#0b0f17;--warn-bg:#fbbf24;--warn-text:#1c1300;"
    "--warn-line:#fde68a}}\n"
    "*,*::before,*::after{box-sizing:border-box}\n"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\n"
    "body{margin:0;min-height:100vh;display:flex;flex-direction:column;"
    "background:var(--bg);color:var(--text);"
    "font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,"
    "\"Noto Sans\",sans-serif;font-size:1rem;line-height:1.5}\n"
    ".sandbox{background:var(--warn-bg);color:var(--warn-text);"
    "border-bottom:3px solid var(--warn-line)}\n"
    ".sandbox p{max-width:30rem;margin:0 auto;padding:.75rem 1rem;text-align:center;"
    "font-weight:600}\n"
    "main{flex:1 0 auto;width:auto;max-width:30rem;margin:1rem}\n"
    "@media (min-width:33rem){main{width:100%;margin:2.5rem auto}}\n"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:12px;"
    "padding:1.25rem 1rem}\n"
    "@media (min-width:33rem){.card{padding:2rem}}\n"
    "h1{margin:0 0 .25rem;font-size:1.5rem;line-height:1.25;overflow-wrap:anywhere}\n"
    "h2{margin:1.75rem 0 .5rem;font-size:1.125rem;line-height:1.3}\n"
    "p{margin:0 0 .75rem}\n"
    ".lede{color:var(--muted)}\n"
    ".ref{color:var(--text);overflow-wrap:anywhere}\n"
    ".due{margin:1.25rem 0 .75rem;padding:1rem;border-radius:10px;background:var(--bg);"
    "text-align:center}\n"
    ".due-label{margin:0;color:var(--muted);font-size:.9375rem}\n"
    ".due-amount{margin:.25rem 0 0;font-size:2rem;font-weight:700;line-height:1.2;"
    "font-variant-numeric:tabular-nums;overflow-wrap:anywhere}\n"
    ".expiry{color:var(--muted);font-size:.9375rem;text-align:center}\n"
    ".expiry strong{color:var(--text)}\n"
    ".items{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}\n"
    ".items th,.items td{padding:.625rem 0;border-bottom:1px solid var(--line);"
    "text-align:left;vertical-align:top}\n"
    ".items thead th{padding-top:0;font-size:.8125rem;font-weight:600;letter-spacing:.04em;"
    "text-transform:uppercase;color:var(--muted)}\n"
    ".items tbody th{font-weight:400;overflow-wrap:anywhere;word-break:break-word}\n"
    ".items .num{padding-left:.75rem;text-align:right;white-space:nowrap}\n"
    ".each{display:block;font-size:.8125rem;color:var(--muted);white-space:normal}\n"
    ".more{margin:.5rem 0 0;color:var(--muted);font-size:.9375rem}\n"
    ".totals{margin:.75rem 0 0}\n"
    ".totals div{display:flex;justify-content:space-between;gap:1rem;padding:.25rem 0}\n"
    ".totals dt{color:var(--muted)}\n"
    ".totals dd{margin:0;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\n"
    ".totals .total{margin-top:.375rem;padding-top:.625rem;border-top:2px solid var(--text);"
    "font-size:1.125rem;font-weight:700}\n"
    ".totals .total dt{color:var(--text)}\n"
    ".message h1{font-size:1.375rem}\n"
    ".message p{margin:.75rem 0 0;overflow-wrap:anywhere}\n"
    "a{color:var(--accent)}\n"
    /* tap targets: at least 48 px high for links and buttons */
    "a,button,.button{min-height:48px}\n"
    ".button,button{display:inline-flex;align-items:center;justify-content:center;width:100%;"
    "padding:.75rem 1.25rem;border:0;border-radius:10px;background:var(--accent);"
    "color:var(--on-accent);font:inherit;font-weight:600;text-decoration:none;cursor:pointer}\n"
    ":focus-visible{outline:3px solid var(--accent);outline-offset:2px}\n"
    "button.secondary{margin-top:.75rem;background:var(--bg);color:var(--text);"
    "border:1px solid var(--line)}\n"
    "form{margin-top:1.25rem}\n"
    "header.sandbox{padding:.75rem 1rem;text-align:center}\n"
    ".notice{margin:1rem 0 0;padding:.75rem;border-radius:10px;background:var(--warn-bg);"
    "color:var(--warn-text)}\n"
    ".field{margin:0 0 1rem}\n"
    ".field label{display:block;margin:0 0 .25rem;font-weight:600}\n"
    ".field input{width:100%;min-height:48px;padding:.625rem .75rem;border:1px solid "
    "var(--muted);border-radius:8px;background:var(--card);color:var(--text);font:inherit}\n"
    ".field input[aria-invalid=true]{border:2px solid var(--warn-line)}\n"
    ".error{margin:0 0 .25rem;color:var(--text);font-weight:600}\n"
    "details{margin-top:1.25rem;color:var(--muted)}\n"
    ".foot{padding:0 1rem 1.5rem;text-align:center;color:var(--muted);font-size:.8125rem}\n"
    ".foot p{margin:0}\n"
    /* visually hidden, still read by screen readers */
    ".vh{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;"
    "clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap;border:0}\n";

const char *web_css(size_t *len)
{
    if (len != NULL)
        *len = sizeof css - 1;
    return css;
}
