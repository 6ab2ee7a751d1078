/*
 * page.h — the customer-facing HTML pages of a payment link.
 *
 * Pure rendering into the request arena: no I/O. Every dynamic value is
 * HTML-escaped. Pages use no inline script or style and no third-party
 * resource: the stylesheet is served by chatpay at WEB_CSS_PATH, so the
 * strict Content-Security-Policy below holds. Pages are phone-first
 * (readable at 360 px) and work without JavaScript.
 */
#ifndef CHATPAY_WEB_PAGE_H
#define CHATPAY_WEB_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/currency.h"
#include "util/arena.h"
#include "util/time.h"

#define WEB_CSS_PATH "/static/chatpay.css"
#define WEB_CSP                                                                                    \
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "             \
    "base-uri 'none'; frame-ancestors 'none'"

struct web_line_item {
    const char *name;
    int64_t quantity;         /* >= 1 */
    int64_t unit_price_minor; /* in the link's currency */
};

struct web_link_page {
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
    const char *pay_url; /* POST target of the "Pay" button; NULL: no button */
    const char *notice;  /* a message above the button (e.g. the last attempt failed) */
};

/* The order summary of an open link (amounts formatted with the currency's
 * exponent and code, e.g. "ZAR 125.50"; the expiry shown as minutes left and
 * as a UTC time). Returns NUL-terminated HTML; *len receives its length. */
char *web_link_page(struct arena *a, const struct web_link_page *p, size_t *len);

/* A page for a link that cannot be used: title and explanation, e.g.
 * ("This payment link has expired", "Ask <merchant> for a new link."). */
char *web_message_page(struct arena *a, const char *title, const char *text, size_t *len);

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
 * footer. The title is escaped here. */
char *web_page(struct arena *a, const char *title, const char *body_html, size_t *len);

/* The stylesheet served at WEB_CSS_PATH (static, not allocated). */
const char *web_css(size_t *len);

/* HTML-escape s into the arena (& < > " ' escaped). */
char *web_escape(struct arena *a, const char *s);

#endif
