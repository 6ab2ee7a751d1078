/*
 * link_page.c — GET /p/{token}: what the customer sees when opening a payment
 * link, and GET /static/chatpay.css.
 *
 * The first open by a person records PAYMENT_LINK_CLICKED and extends the
 * link's life (click TTL) and starts the payment page's (page TTL). Link
 * preview robots of messaging apps fetch the URL too; they get the page but
 * do not count as an open. An expired, cancelled or unusable link answers
 * 410 with a page that says so.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/links.h"
#include "app.h"
#include "core/currency.h"
#include "core/status.h"
#include "web/page.h"

enum { TOKEN_MAX = 64, PAGE_ITEMS_MAX = 100 };

/* User agents of link-preview fetchers (substring match, case-insensitive). */
static const char *const preview_agents[] = {
    "WhatsApp",   "facebookexternalhit", "Facebot",    "TelegramBot",     "Slackbot",
    "Twitterbot", "LinkedInBot",         "Discordbot", "SkypeUriPreview", "Googlebot",
};

static bool is_preview(const char *ua)
{
    if (!ua)
        return false;
    for (size_t i = 0; i < sizeof preview_agents / sizeof preview_agents[0]; i++)
        if (strcasestr(ua, preview_agents[i]))
            return true;
    return false;
}

enum page_outcome { PAGE_OPEN, PAGE_UNKNOWN, PAGE_EXPIRED, PAGE_CANCELLED, PAGE_UNUSABLE };

struct page_ctx {
    struct req *r;
    const char *token;
    bool preview;
    usec_t now;
    enum page_outcome outcome;
    struct db_link link;
    struct db_merchant merchant;
};

static enum db_status page_cb(struct db_tx *tx, void *cls)
{
    struct page_ctx *c = cls;
    struct db_link *l = &c->link;
    enum db_status st = DB_CALL(tx, links, get_by_token, c->token, c->r->arena, l);
    if (st <= 0) {
        c->outcome = PAGE_UNKNOWN;
        return st;
    }
    st = DB_CALL(tx, merchants, get, l->merchant_id, &c->merchant);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    if (l->status == LINK_PAYMENT_LINK_CANCELLED) {
        c->outcome = PAGE_CANCELLED;
        return DB_ONE_RESULT;
    }
    if (l->payment_status != PAY_PENDING && l->payment_status != PAY_FAILED) {
        c->outcome = PAGE_OPEN; /* paid or being confirmed: the page says so */
        return DB_ONE_RESULT;
    }
    if (l->expires_at <= c->now || l->status == LINK_PAYMENT_URL_EXPIRED) {
        c->outcome = PAGE_EXPIRED;
        return DB_ONE_RESULT;
    }
    if (!l->live) {
        c->outcome = PAGE_UNUSABLE;
        return DB_ONE_RESULT;
    }
    c->outcome = PAGE_OPEN;
    if (l->clicked_at || c->preview)
        return DB_ONE_RESULT;
    /* the first open */
    l->clicked_at = c->now;
    l->expires_at = c->now + c->merchant.click_ttl_s * 1000000;
    l->page_expires_at = c->now + c->merchant.page_ttl_s * 1000000;
    l->status = LINK_PAYMENT_LINK_CLICKED;
    st = DB_CALL(tx, links, update, l);
    if (st < 0)
        return st;
    struct db_link_status s = {.status = LINK_PAYMENT_LINK_CLICKED, .created_at = c->now};
    st = DB_CALL(tx, links, status_append, l->merchant_id, l->id, &s);
    return st < 0 ? st : DB_ONE_RESULT;
}

static void reply_page(struct req *r, int status, const char *html, size_t len)
{
    reply_header(r, "Content-Security-Policy", WEB_CSP);
    reply_header(r, "Referrer-Policy", "no-referrer");
    reply_header(r, "X-Frame-Options", "DENY");
    reply_text(r, status, "text/html; charset=utf-8", html, len);
}

static void reply_message(struct req *r, int status, const char *title, const char *text)
{
    size_t len;
    char *html = web_message_page(r->arena, title, text, &len);
    reply_page(r, status, html, len);
}

/* The stored line items (minor units) for the page. */
static size_t page_items(struct arena *a, const char *stored, struct web_line_item **out)
{
    *out = NULL;
    json_object *in = stored ? json_tokener_parse(stored) : NULL;
    size_t n = in && json_object_is_type(in, json_type_array) ? json_object_array_length(in) : 0;
    if (n > PAGE_ITEMS_MAX)
        n = PAGE_ITEMS_MAX;
    struct web_line_item *items = n ? arena_calloc(a, n, sizeof *items) : NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *it = json_object_array_get_idx(in, i), *v;
        items[i].name = json_object_object_get_ex(it, "name", &v)
                            ? arena_strdup(a, json_object_get_string(v))
                            : "";
        items[i].quantity =
            json_object_object_get_ex(it, "quantity", &v) ? json_object_get_int64(v) : 1;
        items[i].unit_price_minor =
            json_object_object_get_ex(it, "unitPriceMinor", &v) ? json_object_get_int64(v) : 0;
    }
    json_object_put(in);
    *out = items;
    return n;
}

void api_link_page(struct req *r)
{
    struct page_ctx c = {.r = r, .token = req_param(r, "token"), .now = time_now()};
    c.preview = is_preview(req_header(r, "User-Agent"));
    if (strlen(c.token) > TOKEN_MAX) {
        reply_message(r, 404, "Payment link not found",
                      "Check that the whole link from your message was opened.");
        return;
    }
    enum db_status st = db_run(r->app->db, DB_WRITE, "link_page", page_cb, &c);
    if (st < 0) {
        reply_message(r, 503, "Please try again",
                      "The payment page cannot be shown right now. Try again in a moment.");
        return;
    }
    const char *merchant = c.merchant.name;
    switch (c.outcome) {
    case PAGE_UNKNOWN:
        reply_message(r, 404, "Payment link not found",
                      "Check that the whole link from your message was opened.");
        return;
    case PAGE_EXPIRED:
        reply_message(r, 410, "This payment link has expired",
                      arena_printf(r->arena, "Ask %s for a new payment link.", merchant));
        return;
    case PAGE_CANCELLED:
        reply_message(r, 410, "This payment link was cancelled",
                      arena_printf(r->arena, "%s cancelled order %s. No payment is due.", merchant,
                                   c.link.order_number));
        return;
    case PAGE_UNUSABLE:
        reply_message(r, 410, "This payment link can no longer be used",
                      arena_printf(r->arena, "Ask %s for a new payment link.", merchant));
        return;
    case PAGE_OPEN:
        break;
    }
    struct web_link_page p = {
        .merchant_name = merchant,
        .order_number = c.link.order_number,
        .currency = currency_find(c.link.currency),
        .total_minor = c.link.total_minor,
        .has_subtotal = c.link.has_subtotal,
        .subtotal_minor = c.link.subtotal_minor,
        .has_tax = c.link.has_tax,
        .tax_minor = c.link.tax_minor,
        .sandbox = c.merchant.environment == ENV_SANDBOX,
        .expires_at = c.link.page_expires_at ? c.link.page_expires_at : c.link.expires_at,
        .now = c.now,
    };
    bool paid = c.link.payment_status != PAY_PENDING && c.link.payment_status != PAY_FAILED;
    if (paid) {
        reply_message(r, 200, "This order is paid",
                      arena_printf(r->arena,
                                   "A payment for order %s has been made or is being "
                                   "confirmed.",
                                   c.link.order_number));
        return;
    }
    if (c.link.attempts >= c.merchant.max_payment_attempts) {
        reply_message(r, 410, "Too many payment attempts",
                      arena_printf(r->arena,
                                   "This link is locked after several unsuccessful payments. "
                                   "Ask %s for a new payment link.",
                                   merchant));
        return;
    }
    if (c.link.page_expires_at && c.link.page_expires_at <= c.now) {
        reply_message(r, 410, "This payment page has expired",
                      arena_printf(r->arena, "Ask %s for a new payment link.", merchant));
        return;
    }
    p.pay_url = arena_printf(r->arena, "/p/%s/pay", c.link.token);
    if (c.link.payment_status == PAY_FAILED)
        p.notice = "Your last payment did not go through and no money was taken. You can try "
                   "again with another card.";
    struct web_line_item *items;
    p.nitems = page_items(r->arena, c.link.line_items, &items);
    p.items = items;
    size_t len;
    char *html = p.currency ? web_link_page(r->arena, &p, &len) : NULL;
    if (!html) {
        reply_message(r, 500, "Something went wrong",
                      "This payment page cannot be shown. Please contact the merchant.");
        return;
    }
    reply_page(r, 200, html, len);
}

void api_static_css(struct req *r)
{
    size_t len;
    const char *css = web_css(&len);
    reply_text(r, 200, "text/css; charset=utf-8", css, len);
}
