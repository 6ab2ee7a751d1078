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
 * names, order number, amounts, numbers, times and the catalog's texts alike
 * (a text whose placeholders take markup is escaped first, and the markup
 * put in holds only escaped values). The markup uses no
 * inline script, no style attribute and no <style> element, so the page works
 * under WEB_CSP; all presentation is in web_css().
 */
#include "web/page.h"
#include "util/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "web/assets.h"
#include "web/format.h"

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

/* The code point at p (-1: malformed) and its length in *n; ASCII without
 * the decoder, most of what is escaped. */
static int32_t next_cp(const unsigned char *p, size_t *n)
{
    if (*p < 0x80) {
        *n = 1;
        return *p;
    }
    return utf8_decode_z(p, n);
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
        const char *rep = escape_for(next_cp(p, &n));
        need += rep != NULL ? strlen(rep) : n;
    }
    out = w = arena_alloc(a, need + 1);
    for (p = (const unsigned char *)s; *p != '\0'; p += n) {
        const char *rep = escape_for(next_cp(p, &n));
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
        (void)next_cp((const unsigned char *)s + i, &n);
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

/* The locale to use: the page's, or English. */
static const struct web_locale *loc_or_default(const struct web_locale *loc, struct web_locale *tmp)
{
    if (loc != NULL && loc->cat != NULL)
        return loc;
    web_locale_for(NULL, "en", tmp);
    return tmp;
}

char *web_html_textv(struct arena *a, const struct web_locale *loc, const char *key,
                     const char *const *html_args, size_t nargs)
{
    return web_text_fill(a, web_text(loc, key), html_args, nargs, web_escape);
}

/* s with every U+00A0 NO-BREAK SPACE written as a plain space (for text that
 * is kept on one line by the stylesheet instead). */
static char *plain_spaces(struct arena *a, const char *s)
{
    size_t n = strlen(s), w = 0;
    char *out = arena_alloc(a, n + 1);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] == 0xC2 && (unsigned char)s[i + 1] == 0xA0) {
            out[w++] = ' ';
            i++;
        } else {
            out[w++] = s[i];
        }
    }
    out[w] = '\0';
    return out;
}

char *web_amount_html(struct arena *a, const struct web_locale *loc, const struct currency *c,
                      int64_t minor)
{
    struct web_locale tmp;
    const struct web_locale *l = loc_or_default(loc, &tmp);
    const char *text = web_format_amount(a, l->tag, c, minor);
    return arena_printf(a, "<span class=\"amt\">%s</span>", web_escape(a, plain_spaces(a, text)));
}

/* A count in the page's language ("1 234", "١٢"). */
static const char *count_text(struct arena *a, const struct web_locale *l, int64_t n)
{
    return web_format_int(a, l->tag, n);
}

/* A counted text: the plural form for n, with n in the page's digits. */
static char *counted(struct arena *a, const struct web_locale *l, const char *key, int64_t n)
{
    const char *num = count_text(a, l, n);
    return web_text_fill(a, web_text_plural(l, key, n), &num, 1, NULL);
}

/* The last time left put in words by this thread: it changes once a
 * minute, and every view of a page asks for it (ICU's plural rules and
 * number formatting). */
struct left_memo {
    char tag[WEB_LOCALE_MAX];
    int64_t minutes;
    char text[256];
};
static _Thread_local struct left_memo last_left;

/* time_left_text() (below) for one minute or more. */
static const char *minutes_left_text(struct arena *a, const struct web_locale *l, int64_t minutes)
{
    if (minutes < 120)
        return counted(a, l, "time.minutes", minutes);
    if (minutes < 2 * 24 * 60) {
        int64_t rest = minutes % 60;
        const char *hours = counted(a, l, "time.hours", minutes / 60);
        if (rest == 0)
            return hours;
        return WEB_TEXTF(a, l, "time.hours_minutes", hours, counted(a, l, "time.minutes", rest));
    }
    return counted(a, l, "time.days", minutes / (24 * 60));
}

/* Time left until expiry in words: minutes below two hours (the common case:
 * links live for minutes), then hours and minutes, then days. NULL when the
 * link has expired. */
static const char *time_left_text(struct arena *a, const struct web_locale *l, usec_t now,
                                  usec_t expires_at)
{
    int64_t left, minutes;
    struct left_memo *m = &last_left;
    const char *text;

    if (__builtin_sub_overflow(expires_at, now, &left))
        left = expires_at > now ? INT64_MAX : -1;
    if (left <= 0)
        return NULL;
    if (left < USEC_PER_MIN)
        return web_text(l, "time.under_minute");
    minutes = left / USEC_PER_MIN;
    if (m->text[0] != '\0' && m->minutes == minutes && strcmp(m->tag, l->tag) == 0)
        return arena_strdup(a, m->text);
    text = minutes_left_text(a, l, minutes);
    if (text != NULL && strlen(text) < sizeof m->text) {
        memcpy(m->tag, l->tag, sizeof m->tag);
        m->minutes = minutes;
        memcpy(m->text, text, strlen(text) + 1);
    }
    return text;
}

/* Seconds left, for the script's countdown (0 when expired). */
static int64_t seconds_left(usec_t now, usec_t expires_at)
{
    int64_t left;
    if (__builtin_sub_overflow(expires_at, now, &left))
        left = expires_at > now ? INT64_MAX : -1;
    return left <= 0 ? 0 : left / 1000000;
}

/* The document head up to and including <body>. title is plain text. */
static void page_open_to(struct html *h, const struct web_locale *l, const char *title, bool script,
                         const char *refresh)
{
    h_raw(h, "<!doctype html>\n<html lang=\"");
    h_text(h, web_locale_lang(l));
    h_raw(h, web_locale_rtl(l) ? "\" dir=\"rtl\">\n" : "\" dir=\"ltr\">\n");
    h_raw(h, "<head>\n"
             "<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             /* a payment link is private: keep it out of search engines and
              * out of the Referer header of anything the page links to */
             "<meta name=\"robots\" content=\"noindex, nofollow\">\n"
             "<meta name=\"referrer\" content=\"no-referrer\">\n"
             "<title>");
    h_text(h, title);
    h_raw(h, "</title>\n"
             "<link rel=\"stylesheet\" href=\"" WEB_CSS_PATH "\">\n");
    if (script)
        h_raw(h, "<script src=\"" WEB_JS_PATH "\" defer></script>\n");
    if (refresh) {
        h_raw(h, "<meta http-equiv=\"refresh\" content=\"0; url=");
        h_text(h, refresh);
        h_raw(h, "\">\n");
    }
    h_raw(h, "</head>\n"
             "<body>\n");
}

static void page_open(struct html *h, const struct web_locale *l, const char *title, bool script)
{
    page_open_to(h, l, title, script, NULL);
}

static void page_close(struct html *h, const struct web_locale *l)
{
    h_raw(h, "<footer class=\"foot\">\n<p>");
    h_text(h, web_text(l, "page.footer"));
    h_raw(h, "</p>\n"
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

char *web_page(struct arena *a, const struct web_locale *loc, const char *title,
               const char *body_html, bool script, size_t *len)
{
    struct html h;
    struct web_locale tmp;
    const struct web_locale *l = loc_or_default(loc, &tmp);
    h_init(&h, a);
    page_open(&h, l, title, script);
    h_raw(&h, body_html);
    page_close(&h, l);
    return h_finish(&h, len);
}

/* One row of the totals list; amount_html is already HTML. */
static void total_row(struct html *h, const char *cls, const char *label, const char *amount_html)
{
    h_raw(h, cls != NULL ? "<div class=\"" : "<div>");
    if (cls != NULL) {
        h_raw(h, cls);
        h_raw(h, "\">");
    }
    h_raw(h, "<dt>");
    h_text(h, label);
    h_raw(h, "</dt><dd>");
    h_raw(h, amount_html);
    h_raw(h, "</dd></div>\n");
}

/* The line items as a table: the name is the row header; the amount column
 * shows the line total and, for more than one, the unit price. */
static void items_table(struct html *h, const struct web_link_page *p, const struct web_locale *l,
                        const char *order)
{
    size_t shown = p->nitems < ITEMS_SHOWN ? p->nitems : ITEMS_SHOWN;

    h_raw(h, "<table class=\"items\">\n<caption class=\"vh\">");
    h_raw(h, WEB_HTMLF(h->a, l, "link.items_caption", web_isolated(h->a, order)));
    h_raw(h, "</caption>\n<thead><tr><th scope=\"col\">");
    h_text(h, web_text(l, "link.item"));
    h_raw(h, "</th><th scope=\"col\" class=\"num\">");
    h_text(h, web_text(l, "link.quantity"));
    h_raw(h, "</th><th scope=\"col\" class=\"num\">");
    h_text(h, web_text(l, "link.amount"));
    h_raw(h, "</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < shown; i++) {
        const struct web_line_item *it = &p->items[i];
        const char *unit = web_amount_html(h->a, l, p->currency, it->unit_price_minor);
        int64_t line;
        bool has_line = !__builtin_mul_overflow(it->quantity, it->unit_price_minor, &line);

        h_raw(h, "<tr><th scope=\"row\"><bdi>");
        h_text(h, clip(h->a, it->name, NAME_CP_MAX));
        h_raw(h, "</bdi></th><td class=\"num\">");
        h_text(h, count_text(h->a, l, it->quantity));
        h_raw(h, "</td><td class=\"num\">");
        if (it->quantity == 1) {
            h_raw(h, unit);
        } else {
            if (has_line) {
                h_raw(h, web_amount_html(h->a, l, p->currency, line));
                h_raw(h, " ");
            }
            h_raw(h, "<span class=\"each\">");
            h_raw(h, WEB_HTMLF(h->a, l, "link.each", unit));
            h_raw(h, "</span>");
        }
        h_raw(h, "</td></tr>\n");
    }
    h_raw(h, "</tbody>\n</table>\n");
    if (p->nitems > shown) {
        h_raw(h, "<p class=\"more\">");
        h_text(h, counted(h->a, l, "link.more_items", (int64_t)(p->nitems - shown)));
        h_raw(h, "</p>\n");
    }
}

/* The expiry line: time left (counted down by the script) and the instant
 * in UTC; or that the link has expired. */
static void expiry_line(struct html *h, const struct web_link_page *p, const struct web_locale *l)
{
    struct arena *a = h->a;
    const char *left = time_left_text(a, l, p->now, p->expires_at);
    char when[32];

    if (left == NULL) {
        h_raw(h, "<p class=\"expiry\">");
        h_text(h, web_text(l, "link.expired"));
        h_raw(h, "</p>\n");
        return;
    }
    h_raw(h, "<p class=\"expiry\" data-expires-in=\"");
    h_text(h, arena_printf(a, "%lld", (long long)seconds_left(p->now, p->expires_at)));
    h_raw(h, "\" data-numbering=\"");
    h_text(h, web_format_numbering(a, l->tag));
    h_raw(h, "\" data-expired-text=\"");
    h_text(h, web_text(l, "link.expired"));
    h_raw(h, "\">");
    const char *left_html =
        arena_printf(a, "<strong class=\"left\" role=\"timer\">%s</strong>", web_escape(a, left));
    const char *local = web_format_datetime(a, l->tag, p->expires_at);
    if (local != NULL && time_format_rfc3339(p->expires_at, when, sizeof when) > 0) {
        /* e.g. en "Nov 22, 2026, 5:04 AM UTC", fr "22 nov. 2026, 05:04 UTC" */
        const char *shown = WEB_TEXTF(a, l, "time.utc", plain_spaces(a, local));
        const char *time_html = arena_printf(a, "<time datetime=\"%s\">%s</time>",
                                             web_escape(a, when), web_escape(a, shown));
        h_raw(h, WEB_HTMLF(a, l, "link.expires_at", left_html, time_html));
    } else {
        h_raw(h, WEB_HTMLF(a, l, "link.expires", left_html));
    }
    h_raw(h, "</p>\n");
}

/* The link page into h, all but the expiry line, whose place is *cut. */
static bool link_page_but_expiry(struct html *h, struct arena *a, const struct web_link_page *p,
                                 size_t *cut)
{
    struct web_locale tmp;
    const struct web_locale *l;
    const char *merchant, *order, *total;

    if (a == NULL || p == NULL || p->currency == NULL || (p->nitems > 0 && p->items == NULL))
        return false;

    l = loc_or_default(p->loc, &tmp);
    merchant = clip(a, p->merchant_name, NAME_CP_MAX);
    order = clip(a, p->order_number, ORDER_CP_MAX);
    total = web_amount_html(a, l, p->currency, p->total_minor);

    h_init(h, a);
    page_open(h, l,
              WEB_TEXTF(a, l, p->sandbox ? "link.title_sandbox" : "link.title", merchant, order),
              p->pay_url != NULL);

    if (p->sandbox) {
        h_raw(h, "<header class=\"sandbox\">\n<p>");
        h_raw(h, WEB_HTMLF(a, l, "link.sandbox_banner",
                           arena_printf(a, "<strong>%s</strong>",
                                        web_escape(a, web_text(l, "sandbox.label")))));
        h_raw(h, "</p>\n</header>\n");
    }

    h_raw(h, "<main class=\"card\">\n");
    if (p->logo_url != NULL) {
        /* no text alternative: the heading right after it names the
         * merchant, which a screen reader would otherwise read twice */
        h_raw(h, "<img class=\"logo\" src=\"");
        h_text(h, p->logo_url);
        h_raw(h, "\" alt=\"\">\n");
    }
    /* the merchant's texts are isolated (bdi, dir="auto"): a name in one
     * script on a page in another keeps its own order, punctuation
     * included, and a bidi control in it cannot reorder the sentence */
    h_raw(h, "<h1><bdi>");
    h_text(h, merchant);
    h_raw(h, "</bdi></h1>\n<p class=\"lede\">");
    h_raw(h, WEB_HTMLF(a, l, "link.lede",
                       arena_printf(a, "<strong class=\"ref\" dir=\"auto\">%s</strong>",
                                    web_escape(a, order))));
    h_raw(h, "</p>\n<div class=\"due\">\n<p class=\"due-label\">");
    h_text(h, web_text(l, "link.amount_due"));
    h_raw(h, "</p>\n<p class=\"due-amount\">");
    h_raw(h, total);
    h_raw(h, "</p>\n</div>\n");

    *cut = h->len;

    h_raw(h, "<section aria-labelledby=\"summary\">\n<h2 id=\"summary\">");
    h_text(h, web_text(l, "link.summary"));
    h_raw(h, "</h2>\n");
    if (p->nitems > 0)
        items_table(h, p, l, order);
    h_raw(h, "<dl class=\"totals\">\n");
    if (p->has_subtotal)
        total_row(h, NULL, web_text(l, "link.subtotal"),
                  web_amount_html(a, l, p->currency, p->subtotal_minor));
    if (p->has_tax)
        total_row(h, NULL, web_text(l, "link.tax"),
                  web_amount_html(a, l, p->currency, p->tax_minor));
    total_row(h, "total", web_text(l, "link.total"), total);
    h_raw(h, "</dl>\n</section>\n");
    if (p->notice) {
        h_raw(h, "<p class=\"notice\" role=\"alert\">");
        h_text(h, p->notice);
        h_raw(h, "</p>\n");
    }
    if (p->pay_url) {
        h_raw(h, "<form method=\"post\" action=\"");
        h_text(h, p->pay_url);
        h_raw(h, "\">\n<button type=\"submit\" class=\"button\">");
        h_raw(h, WEB_HTMLF(a, l, "link.pay", total));
        h_raw(h, "</button>\n</form>\n");
    }
    h_raw(h, "</main>\n");

    page_close(h, l);
    return !h->failed;
}

bool web_link_page_parts(struct arena *a, const struct web_link_page *p, struct web_link_parts *out)
{
    struct html h;
    size_t cut;

    memset(out, 0, sizeof *out);
    if (!link_page_but_expiry(&h, a, p, &cut))
        return false;
    out->head = h.buf;
    out->head_len = cut;
    out->tail = h.buf + cut;
    out->tail_len = h.len - cut;
    return true;
}

char *web_link_page_with(struct arena *a, const struct web_link_parts *parts,
                         const struct web_link_page *p, size_t *len)
{
    struct html h;
    struct web_locale tmp;

    h_init(&h, a);
    h_put(&h, parts->head, parts->head_len);
    expiry_line(&h, p, loc_or_default(p->loc, &tmp));
    h_put(&h, parts->tail, parts->tail_len);
    return h_finish(&h, len);
}

char *web_link_page(struct arena *a, const struct web_link_page *p, size_t *len)
{
    struct web_link_parts parts;

    if (len != NULL)
        *len = 0;
    if (!web_link_page_parts(a, p, &parts))
        return NULL;
    return web_link_page_with(a, &parts, p, len);
}

/* A page's head and the start of its card: title as heading, text below. */
static void card_open(struct html *h, struct arena *a, const struct web_locale *l,
                      const char *title, const char *text, bool script, const char *refresh)
{
    h_init(h, a);
    page_open_to(h, l, title, script, refresh);
    h_raw(h, "<main class=\"card message\">\n<h1>");
    h_text(h, title);
    h_raw(h, "</h1>\n<p>");
    h_text(h, text);
    h_raw(h, "</p>\n");
}

char *web_post_page(struct arena *a, const struct web_locale *loc, const char *title,
                    const char *text, const char *button, const char *action,
                    const char *const *names, const char *const *values, size_t n, size_t *len)
{
    struct html h;
    struct web_locale tmp;
    if (len != NULL)
        *len = 0;
    if (a == NULL)
        return NULL;
    const struct web_locale *l = loc_or_default(loc, &tmp);
    card_open(&h, a, l, title, text, true, NULL);
    h_raw(&h, "<form method=\"post\" action=\"");
    h_text(&h, action);
    h_raw(&h, "\" data-autosubmit>\n");
    for (size_t i = 0; i < n; i++) {
        h_raw(&h, "<input type=\"hidden\" name=\"");
        h_text(&h, names[i]);
        h_raw(&h, "\" value=\"");
        h_text(&h, values[i]);
        h_raw(&h, "\">\n");
    }
    h_raw(&h, "<button type=\"submit\" class=\"button\">");
    h_text(&h, button);
    h_raw(&h, "</button>\n</form>\n</main>\n");
    page_close(&h, l);
    return h_finish(&h, len);
}

char *web_go_page(struct arena *a, const struct web_locale *loc, const char *title,
                  const char *text, const char *button, const char *url, size_t *len)
{
    struct html h;
    struct web_locale tmp;
    if (len != NULL)
        *len = 0;
    if (a == NULL)
        return NULL;
    const struct web_locale *l = loc_or_default(loc, &tmp);
    card_open(&h, a, l, title, text, false, url);
    h_raw(&h, "<p><a class=\"button\" href=\"");
    h_text(&h, url);
    h_raw(&h, "\">");
    h_text(&h, button);
    h_raw(&h, "</a></p>\n</main>\n");
    page_close(&h, l);
    return h_finish(&h, len);
}

char *web_isolated(struct arena *a, const char *s)
{
    return arena_printf(a, "<bdi>%s</bdi>", web_escape(a, clip(a, s, NAME_CP_MAX)));
}

char *web_message_page_html(struct arena *a, const struct web_locale *loc, const char *title,
                            const char *text_html, size_t *len)
{
    return web_message_page_action(a, loc, title, text_html, NULL, NULL, len);
}

char *web_message_page_action(struct arena *a, const struct web_locale *loc, const char *title,
                              const char *text_html, const char *action, const char *url,
                              size_t *len)
{
    struct html h;
    struct web_locale tmp;
    const struct web_locale *l;
    const char *t;

    if (len != NULL)
        *len = 0;
    if (a == NULL)
        return NULL;
    l = loc_or_default(loc, &tmp);
    /* HTML requires a non-empty <title>; the heading says the same. */
    t = clip(a, title != NULL && title[0] != '\0' ? title : web_text(l, "page.default_title"),
             TEXT_CP_MAX);

    h_init(&h, a);
    page_open(&h, l, t, false);
    h_raw(&h, "<main class=\"card message\">\n<h1>");
    h_text(&h, t);
    h_raw(&h, "</h1>\n");
    if (text_html != NULL && text_html[0] != '\0') {
        h_raw(&h, "<p>");
        h_raw(&h, text_html);
        h_raw(&h, "</p>\n");
    }
    if (action != NULL && url != NULL) {
        h_raw(&h, "<p><a class=\"button\" href=\"");
        h_text(&h, url);
        h_raw(&h, "\">");
        h_text(&h, action);
        h_raw(&h, "</a></p>\n");
    }
    h_raw(&h, "</main>\n");
    page_close(&h, l);
    return h_finish(&h, len);
}

char *web_message_page(struct arena *a, const struct web_locale *loc, const char *title,
                       const char *text, size_t *len)
{
    if (a == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    return web_message_page_html(
        a, loc, title, text != NULL ? web_escape(a, clip(a, text, TEXT_CP_MAX)) : NULL, len);
}

/* ---- stylesheet ------------------------------------------------------------ */

/* Phone first: one column up to 30rem wide, wider padding from 33rem. Every
 * text/background pair has at least 6.5:1 contrast (WCAG AA asks 4.5:1),
 * in the light and the dark scheme; the muted grey on the amount box is the
 * lowest. Tap targets are at least 48 px high. System fonts only; no
 * external URL of any kind. Only logical properties and values (inline/
 * block, start/end), so that dir="rtl" pages mirror without a second
 * stylesheet; amounts are isolated runs that never wrap. */
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
    "\"Noto Sans\",\"Noto Sans Arabic\",Tahoma,sans-serif;font-size:1rem;line-height:1.5}\n"
    ".sandbox{background:var(--warn-bg);color:var(--warn-text);"
    "border-block-end:3px solid var(--warn-line)}\n"
    ".sandbox p{max-inline-size:30rem;margin:0 auto;padding:.75rem 1rem;text-align:center;"
    "font-weight:600}\n"
    "main{flex:0 0 auto;inline-size:auto;max-inline-size:30rem;margin:1rem}\n"
    "@media (min-width:33rem){main{inline-size:100%;margin:2.5rem auto}}\n"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:12px;"
    "padding:1.25rem 1rem}\n"
    "@media (min-width:33rem){.card{padding:2rem}}\n"
    ".logo{display:block;block-size:3.5rem;inline-size:auto;max-inline-size:100%;"
    "margin:0 0 1rem;object-fit:contain;object-position:left center}\n"
    "[dir=rtl] .logo{object-position:right center}\n"
    "h1{margin:0 0 .25rem;font-size:1.5rem;line-height:1.25;overflow-wrap:anywhere}\n"
    "h2{margin:1.75rem 0 .5rem;font-size:1.125rem;line-height:1.3}\n"
    "p{margin:0 0 .75rem}\n"
    ".lede{color:var(--muted)}\n"
    /* an order number moves to the next line whole, and breaks only when
     * longer than a line */
    ".ref{display:inline-block;max-inline-size:100%;color:var(--text);overflow-wrap:anywhere}\n"
    ".amt{white-space:nowrap;unicode-bidi:isolate}\n"
    ".due{margin:1.25rem 0 .75rem;padding:1rem;border-radius:10px;background:var(--bg);"
    "text-align:center}\n"
    ".due-label{margin:0;color:var(--muted);font-size:.9375rem}\n"
    ".due-amount{margin:.25rem 0 0;font-size:2rem;font-weight:700;line-height:1.2;"
    "font-variant-numeric:tabular-nums;overflow-wrap:anywhere}\n"
    "@media (max-width:22rem){.due-amount{font-size:1.625rem}}\n"
    ".due-amount .amt{white-space:normal}\n"
    ".expiry{color:var(--muted);font-size:.9375rem;text-align:center}\n"
    ".expiry strong{color:var(--text);font-variant-numeric:tabular-nums}\n"
    ".expiry.over{color:var(--text);font-weight:600}\n"
    ".items{inline-size:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}\n"
    ".items th,.items td{padding:.625rem 0;border-block-end:1px solid var(--line);"
    "text-align:start;vertical-align:top}\n"
    ".items thead th{padding-block-start:0;font-size:.8125rem;font-weight:600;"
    "letter-spacing:.04em;text-transform:uppercase;color:var(--muted)}\n"
    "[dir=rtl] .items thead th{letter-spacing:0}\n"
    ".items tbody th{font-weight:400;overflow-wrap:anywhere;word-break:break-word}\n"
    ".items .num{padding-inline-start:.75rem;text-align:end;white-space:nowrap}\n"
    ".each{display:block;font-size:.8125rem;color:var(--muted);white-space:normal}\n"
    ".more{margin:.5rem 0 0;color:var(--muted);font-size:.9375rem}\n"
    ".totals{margin:.75rem 0 0}\n"
    ".totals div{display:flex;justify-content:space-between;gap:1rem;padding:.25rem 0}\n"
    ".totals dt{color:var(--muted)}\n"
    ".totals dd{margin:0;text-align:end;font-variant-numeric:tabular-nums}\n"
    ".totals .total{margin-block-start:.375rem;padding-block-start:.625rem;"
    "border-block-start:2px solid var(--text);font-size:1.125rem;font-weight:700}\n"
    ".totals .total dt{color:var(--text)}\n"
    ".message h1{font-size:1.375rem}\n"
    ".message p{margin:.75rem 0 0;overflow-wrap:anywhere}\n"
    "a{color:var(--accent)}\n"
    /* tap targets: at least 48 px high for links and buttons */
    "a,button,.button{min-block-size:48px}\n"
    ".button,button{display:inline-flex;flex-wrap:wrap;align-items:center;"
    "justify-content:center;column-gap:.3em;inline-size:100%;"
    "padding:.75rem 1.25rem;border:0;border-radius:10px;background:var(--accent);"
    "color:var(--on-accent);font:inherit;font-weight:600;text-decoration:none;cursor:pointer}\n"
    "button:disabled{opacity:.55;cursor:not-allowed}\n"
    ":focus-visible{outline:3px solid var(--accent);outline-offset:2px}\n"
    "button.secondary{margin-block-start:.75rem;background:var(--bg);color:var(--text);"
    "border:1px solid var(--line)}\n"
    "form{margin-block-start:1.25rem}\n"
    "header.sandbox{padding:.75rem 1rem;text-align:center}\n"
    ".notice{margin:1rem 0 0;padding:.75rem;border-radius:10px;background:var(--warn-bg);"
    "color:var(--warn-text)}\n"
    ".field{margin:0 0 1rem}\n"
    ".field label{display:block;margin:0 0 .25rem;font-weight:600}\n"
    ".field input{inline-size:100%;min-block-size:48px;padding:.625rem .75rem;border:1px solid "
    "var(--muted);border-radius:8px;background:var(--card);color:var(--text);font:inherit}\n"
    /* card numbers, dates and codes are written left to right in every script */
    ".field input[inputmode=numeric]{direction:ltr;text-align:start;"
    "font-variant-numeric:tabular-nums}\n"
    "[dir=rtl] .field input[inputmode=numeric]{text-align:end}\n"
    ".field input[aria-invalid=true]{border:2px solid var(--warn-line)}\n"
    ".error{margin:0 0 .25rem;color:var(--text);font-weight:600}\n"
    ".hint{margin:.375rem 0 0;padding:.375rem .625rem;border-radius:8px;"
    "background:var(--warn-bg);color:var(--warn-text);font-size:.9375rem}\n"
    ".hint[hidden]{display:none}\n"
    "details{margin-block-start:1.25rem;color:var(--muted)}\n"
    "details ul{padding-inline-start:1.25rem}\n"
    ".pan{direction:ltr;unicode-bidi:isolate;white-space:nowrap;font-variant-numeric:"
    "tabular-nums}\n"
    /* the footer keeps to the bottom of a short page */
    ".foot{margin-block-start:auto;padding:0 1rem 1.5rem;text-align:center;color:var(--muted);"
    "font-size:.8125rem}\n"
    ".foot p{margin:0}\n"
    /* visually hidden, still read by screen readers */
    ".vh{position:absolute;inline-size:1px;block-size:1px;margin:-1px;padding:0;"
    "overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap;border:0}\n";

const char *web_css(size_t *len)
{
    if (len != NULL)
        *len = sizeof css - 1;
    return css;
}

const char *web_js(size_t *len)
{
    return web_assets_js(len);
}
