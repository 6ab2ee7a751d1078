/*
 * page.h — the customer-facing HTML pages of a payment link.
 *
 * Pure rendering into the request arena: no I/O. Every dynamic value is
 * HTML-escaped. Every text comes from the message catalog of the page's
 * language (web/i18n.h); amounts and numbers are formatted for it with ICU
 * (web/format.h). Right-to-left languages get dir="rtl", and the stylesheet
 * uses logical properties only, so one stylesheet serves both directions.
 *
 * Pages use no inline script or style and no third-party resource: the
 * stylesheet and the script are served by chatpay at WEB_CSS_PATH and
 * WEB_JS_PATH, so the strict Content-Security-Policy below holds. Pages are
 * phone-first (readable at 360 px) and work without JavaScript: the script
 * only enhances (a live countdown to the expiry, card number grouping and a
 * check-digit hint on the sandbox gateway's form).
 */
#ifndef CHATPAY_WEB_PAGE_H
#define CHATPAY_WEB_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/currency.h"
#include "util/arena.h"
#include "util/time.h"
#include "web/i18n.h"

#define WEB_CSS_PATH "/static/chatpay.css"
#define WEB_JS_PATH  "/static/chatpay.js"
#define WEB_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

struct web_line_item {
    const char *name;
    int64_t quantity;         /* >= 1 */
    int64_t unit_price_minor; /* in the link's currency */
};

struct web_link_page {
    const struct web_locale *loc; /* the page's language; NULL: English */
    const char *merchant_name;
    const char *order_number;
    const struct currency *currency;
    int64_t total_minor;
    bool has_subtotal;
    int64_t subtotal_minor;
    bool has_tax;
    int64_t tax_minor;
    const struct web_line_item *items;
    size_t nitems;
    bool sandbox;      /* show a clear "Sandbox — no real money" banner */
    usec_t expires_at; /* when the page stops accepting a payment */
    usec_t now;
    const char *pay_url;  /* POST target of the "Pay" button; NULL: no button */
    const char *notice;   /* a message above the button (e.g. the last attempt failed) */
    const char *logo_url; /* the merchant's logo, shown with the name as alt text; NULL: none */
};

/* The order summary of an open link (amounts formatted for the language and
 * the currency, e.g. en "ZAR 125.50", fr "125,50 ZAR"; the expiry shown as
 * time left, which the script counts down, and as a UTC time). Returns
 * NUL-terminated HTML; *len receives its length. */
char *web_link_page(struct arena *a, const struct web_link_page *p, size_t *len);

/* The same page as a head and a tail around its expiry line: only that line
 * depends on p->now and p->expires_at, so head and tail may be kept and used
 * again, with web_link_page_with(), for as long as the rest of *p is the
 * same. They are in the arena (not NUL-terminated). */
struct web_link_parts {
    const char *head, *tail;
    size_t head_len, tail_len;
};
bool web_link_page_parts(struct arena *a, const struct web_link_page *p,
                         struct web_link_parts *out);
/* The page: head and tail from web_link_page_parts() with p's expiry line. */
char *web_link_page_with(struct arena *a, const struct web_link_parts *parts,
                         const struct web_link_page *p, size_t *len);

/* A page for a link that cannot be used: title and explanation (plain text,
 * already in the page's language), e.g. ("This payment link has expired",
 * "Ask <merchant> for a new link."). loc NULL: English. */
char *web_message_page(struct arena *a, const struct web_locale *loc, const char *title,
                       const char *text, size_t *len);

/* web_message_page with the text already HTML, e.g. a catalog text filled
 * with web_isolated values (WEB_HTMLF). */
char *web_message_page_html(struct arena *a, const struct web_locale *loc, const char *title,
                            const char *text_html, size_t *len);

/* The same with a link button below the text (a plain link: it works
 * without JavaScript), e.g. back to the link's page to try another card. */
char *web_message_page_action(struct arena *a, const struct web_locale *loc, const char *title,
                              const char *text_html, const char *action, const char *url,
                              size_t *len);

/* A merchant's text (name, order number) for a sentence of the page:
 * escaped, clipped and isolated (<bdi>), so that a name in one script on a
 * page in another keeps its own order and a bidi control in it cannot
 * reorder the sentence around it. */
char *web_isolated(struct arena *a, const char *s);

/* A page that posts a form of hidden fields to another site (a gateway's
 * hosted checkout): title and text (plain, in the page's language), a
 * visible button (its label) that sends it, and data-autosubmit, with which
 * the script sends it at once; without JavaScript the customer presses the
 * button. The page must be served with form-action allowing `action`. */
char *web_post_page(struct arena *a, const struct web_locale *loc, const char *title,
                    const char *text, const char *button, const char *action,
                    const char *const *names, const char *const *values, size_t n, size_t *len);

/* A page that takes the browser to `url` on another site (a gateway's
 * hosted checkout): a refresh to it at once, and a link button for a
 * browser that does not follow it. A form's answer may not redirect
 * elsewhere under form-action 'self', so the Pay button's answer is this
 * page instead of a 303 when the checkout is not chatpay's own. */
char *web_go_page(struct arena *a, const struct web_locale *loc, const char *title,
                  const char *text, const char *button, const char *url, size_t *len);

/* A growable HTML buffer in an arena, for pages built elsewhere (the
 * sandbox gateway's pages). The caller escapes dynamic values (web_escape). */
struct web_buf {
    struct arena *a;
    char *data; /* NUL-terminated */
    size_t len, cap;
};
void web_buf_init(struct web_buf *b, struct arena *a);
void web_buf_printf(struct web_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A whole page around body_html (already HTML): doctype, head, stylesheet,
 * the script when `script` is set, footer. The title is escaped here. */
char *web_page(struct arena *a, const struct web_locale *loc, const char *title,
               const char *body_html, bool script, size_t *len);

/* A catalog text as HTML: the text is escaped and its placeholders are
 * filled with html_args as they are (already HTML, e.g. "<strong>…</strong>"
 * around an escaped value). */
char *web_html_textv(struct arena *a, const struct web_locale *loc, const char *key,
                     const char *const *html_args, size_t nargs);
#define WEB_HTMLF(a, l, key, ...)                                                                  \
    web_html_textv((a), (l), (key), (const char *const[]){__VA_ARGS__},                            \
                   sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* An amount as HTML for the page's language: <span class="amt">…</span>,
 * a span that never wraps (so ICU's no-break spaces are written as plain
 * spaces) and is isolated for bidirectional text. */
char *web_amount_html(struct arena *a, const struct web_locale *loc, const struct currency *c,
                      int64_t minor);

/* The stylesheet served at WEB_CSS_PATH (static, not allocated). */
const char *web_css(size_t *len);

/* The script served at WEB_JS_PATH (static, not allocated). */
const char *web_js(size_t *len);

/* HTML-escape s into the arena (& < > " ' escaped). */
char *web_escape(struct arena *a, const char *s);

#endif
