/*
 * link_page.c — GET /p/{token}: what the customer sees when opening a payment
 * link; GET /m/{merchantId}/logo, the merchant's logo shown on it; and the
 * pages' stylesheet and script, GET /static/chatpay.css and chatpay.js.
 *
 * The first open by a person records PAYMENT_LINK_CLICKED and extends the
 * link's life (click TTL) and starts the payment page's (page TTL). Link
 * preview robots of messaging apps fetch the URL too, and link checkers ask
 * with HEAD; they get the page (or its head) but do not count as an open.
 * An expired, cancelled or unusable link answers 410 with a page that says
 * so. Every page is in the language the browser asks for (Accept-Language),
 * English by default.
 */
#include "api/api.h"
#include "api/pages/pages.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "core/currency.h"
#include "core/status.h"
#include "service/links.h"
#include "service/payments.h"
#include "service/views.h"
#include "util/origin.h"
#include "web/format.h"
#include "web/logo.h"
#include "web/page.h"
#include "db/links.h"
#include "db/merchants.h"

enum { PAGE_ITEMS_MAX = 100 };

/* How long browsers may keep the stylesheet, the script and logos. */
#define STATIC_CACHE "public, max-age=300"

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

struct page_ctx {
    unsigned queued; /* pools of the jobs queued (callbacks of the first open) */
    struct req *r;
    const char *token;
    bool preview;
    bool record; /* a write transaction: a first open is recorded */
    usec_t now;
    enum link_visit outcome;
    struct db_link link;
    struct db_merchant merchant;
    bool locked;      /* the attempts are used up, the last one failed */
    bool running;     /* an attempt is running (the status is of the one before) */
    bool cancelled;   /* the last attempt answered was cancelled by the customer */
    int64_t refunded; /* of a paid link: what has gone back to the card (minor units) */
};

static enum db_status page_cb(struct db_tx *tx, void *cls)
{
    struct page_ctx *c = cls;
    /* the time of the change, taken under the write lock: history entries
     * are in the order of their times */
    c->now = time_now();
    struct svc s = {.tx = tx, .a = c->r->arena, .now = c->now, .cfg = c->r->app->cfg};
    enum db_status st =
        svc_link_visit(&s, c->token, c->preview, c->record, &c->outcome, &c->link, &c->merchant);
    c->queued = s.queued;
    c->locked = c->running = c->cancelled = false;
    c->refunded = 0;
    if (st > 0 && c->link.payment_status == PAY_SUCCESS) {
        enum db_status rs = svc_refunded(&s, &c->link, &c->refunded);
        return rs < 0 ? rs : st;
    }
    if (st <= 0 || c->link.attempts == 0 ||
        (c->link.payment_status != PAY_FAILED && c->link.payment_status != PAY_PENDING))
        return st;
    /* the status stays FAILED (PENDING after a checkout closed without an
     * answer) while a new attempt runs: the page does not say that the last
     * payment failed then; the last attempt allowed, still running, is
     * resumed from the Pay button; none running, Pay refuses, and so does
     * the page */
    struct db_payment_op op;
    enum db_status pst = svc_pay_pending(&s, &c->link, &op, &c->cancelled);
    if (pst < 0)
        return pst;
    c->running = pst > 0;
    c->locked = !c->running && c->link.attempts >= c->merchant.max_payment_attempts;
    return st;
}

void api_page_locale(struct req *r, struct web_locale *out)
{
    web_locale_negotiate(NULL, req_header(r, "Accept-Language"), out);
}

void api_reply_html(struct req *r, int status, const struct web_locale *loc, const char *html,
                    size_t len)
{
    api_reply_html_csp(r, status, loc, html, len, WEB_CSP);
}

void api_reply_html_csp(struct req *r, int status, const struct web_locale *loc, const char *html,
                        size_t len, const char *csp)
{
    reply_header(r, "Content-Security-Policy", csp);
    reply_header(r, "Referrer-Policy", "no-referrer");
    reply_header(r, "X-Frame-Options", "DENY");
    reply_header(r, "Content-Language", web_locale_lang(loc));
    reply_header(r, "Vary", "Accept-Language");
    reply_text(r, status, "text/html; charset=utf-8", html, len);
}

bool api_form_origin_or_reply(struct req *r, const struct web_locale *loc)
{
    if (origin_is_same_site(r->app->cfg->public_url, req_header(r, "Origin"),
                            req_header(r, "Sec-Fetch-Site")))
        return true;
    api_reply_message(r, 403, loc, "msg.forbidden.title", web_text(loc, "msg.forbidden.text"));
    return false;
}

void api_reply_message(struct req *r, int status, const struct web_locale *loc,
                       const char *title_key, const char *text)
{
    size_t len;
    char *html = web_message_page(r->arena, loc, web_text(loc, title_key), text, &len);
    api_reply_html(r, status, loc, html, len);
}

void api_reply_retry(struct req *r, const struct web_locale *loc, const char *title_key,
                     const char *why, const char *token)
{
    const char *args[] = {web_isolated(r->arena, why)};
    size_t len;
    char *html = web_message_page_action(r->arena, loc, web_text(loc, title_key),
                                         web_html_textv(r->arena, loc, "result.retry", args, 1),
                                         web_text(loc, "result.try_again"),
                                         arena_printf(r->arena, "/p/%s", token), &len);
    api_reply_html(r, 200, loc, html, len);
}

void api_reply_message_v(struct req *r, int status, const struct web_locale *loc,
                         const char *title_key, const char *text_key, const char *const *args,
                         size_t nargs)
{
    const char *html_args[4];
    size_t len;

    if (nargs > sizeof html_args / sizeof html_args[0])
        nargs = sizeof html_args / sizeof html_args[0];
    for (size_t i = 0; i < nargs; i++)
        html_args[i] = web_isolated(r->arena, args[i]);
    char *html =
        web_message_page_html(r->arena, loc, web_text(loc, title_key),
                              web_html_textv(r->arena, loc, text_key, html_args, nargs), &len);
    api_reply_html(r, status, loc, html, len);
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

/* ---- the pages rendered, kept per thread ------------------------------------------- */

/* A link's page is the same from one view to the next but for its expiry
 * line (the time left). Each server thread keeps the rest, head and tail,
 * of the last pages it rendered, found by everything they show, and renders
 * only that line again: the whole page (ICU's number and date formatting,
 * escaping, the line items' JSON) cost more than the rest of a view. */
enum { PAGE_CACHE_SLOTS = 64, PAGE_CACHE_MAX = 64 * 1024 };

struct page_slot {
    char *key; /* everything the head and tail show (page_key) */
    size_t key_len;
    char *html; /* head then tail */
    size_t head_len, tail_len;
};

static pthread_key_t page_cache_key;
static pthread_once_t page_cache_once = PTHREAD_ONCE_INIT;
static bool page_cache_ok;

static void page_cache_free(void *p)
{
    struct page_slot *slots = p;
    for (size_t i = 0; i < PAGE_CACHE_SLOTS; i++) {
        free(slots[i].key);
        free(slots[i].html);
    }
    free(slots);
}

static void page_cache_init(void)
{
    page_cache_ok = pthread_key_create(&page_cache_key, page_cache_free) == 0;
}

/* The slot for key in this thread's cache; NULL: no cache. */
static struct page_slot *page_slot(const char *key, size_t key_len)
{
    pthread_once(&page_cache_once, page_cache_init);
    if (!page_cache_ok)
        return NULL;
    struct page_slot *slots = pthread_getspecific(page_cache_key);
    if (!slots) {
        slots = calloc(PAGE_CACHE_SLOTS, sizeof *slots);
        if (!slots || pthread_setspecific(page_cache_key, slots) != 0) {
            free(slots);
            return NULL;
        }
    }
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < key_len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    return &slots[h % PAGE_CACHE_SLOTS];
}

/* Everything the head and tail of the page show, each field with its
 * length, so that two different pages never have the same key. */
static char *page_key(struct arena *a, const struct page_ctx *c, const struct web_locale *loc,
                      size_t *len)
{
    const struct db_link *l = &c->link;
    const struct db_merchant *m = &c->merchant;
    const char *items = l->line_items ? l->line_items : "";
    char *key = arena_printf(
        a, "%zu:%s %zu:%s %zu:%s %zu:%s %s %lld %d %lld %d %lld %d %d %d %d %zu:%s %lld %zu:%s",
        strlen(loc->tag), loc->tag, strlen(l->token), l->token, strlen(m->name), m->name,
        strlen(l->order_number), l->order_number, l->currency, (long long)l->total_minor,
        l->has_subtotal, (long long)l->subtotal_minor, l->has_tax, (long long)l->tax_minor,
        l->payment_status, c->running, c->cancelled, m->environment, strlen(m->logo_type),
        m->logo_type, (long long)m->updated_at, strlen(items), items);
    *len = strlen(key);
    return key;
}

static bool cached_parts(struct page_slot *slot, const char *key, size_t key_len,
                         struct web_link_parts *out)
{
    if (!slot || !slot->key || slot->key_len != key_len || memcmp(slot->key, key, key_len) != 0)
        return false;
    *out = (struct web_link_parts){.head = slot->html,
                                   .head_len = slot->head_len,
                                   .tail = slot->html + slot->head_len,
                                   .tail_len = slot->tail_len};
    return true;
}

static void keep_parts(struct page_slot *slot, const char *key, size_t key_len,
                       const struct web_link_parts *parts)
{
    if (!slot || parts->head_len + parts->tail_len > PAGE_CACHE_MAX)
        return;
    char *k = malloc(key_len), *html = malloc(parts->head_len + parts->tail_len);
    if (!k || !html) {
        free(k);
        free(html);
        return;
    }
    memcpy(k, key, key_len);
    memcpy(html, parts->head, parts->head_len);
    memcpy(html + parts->head_len, parts->tail, parts->tail_len);
    free(slot->key);
    free(slot->html);
    *slot = (struct page_slot){.key = k,
                               .key_len = key_len,
                               .html = html,
                               .head_len = parts->head_len,
                               .tail_len = parts->tail_len};
}

void api_link_page(struct req *r)
{
    struct page_ctx c = {.r = r, .token = req_param(r, "token"), .now = time_now()};
    struct web_locale loc;
    struct arena *a = r->arena;
    api_page_locale(r, &loc);
    /* a HEAD request (a link checker, a monitor) is not a customer's visit */
    c.preview = r->head || is_preview(req_header(r, "User-Agent"));
    if (strlen(c.token) > PAGE_TOKEN_MAX) {
        api_reply_message(r, 404, &loc, "msg.not_found.title",
                          web_text(&loc, "msg.not_found.text"));
        return;
    }
    /* a read transaction; a write one only for the first open, which
     * records the click (views do not queue on the database's writers) */
    enum db_status st = db_run(r->app->db, DB_READ, "link_page", page_cb, &c);
    if (st >= 0 && c.outcome == VISIT_FIRST_OPEN) {
        c.record = true;
        st = db_run(r->app->db, DB_WRITE, "link_open", page_cb, &c);
    }
    if (st < 0) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "msg.retry.page"));
        return;
    }
    app_wake_workers(r->app, c.queued);
    const char *merchant = c.merchant.name;
    switch (c.outcome) {
    case VISIT_UNKNOWN:
        api_reply_message(r, 404, &loc, "msg.not_found.title",
                          web_text(&loc, "msg.not_found.text"));
        return;
    case VISIT_EXPIRED:
        API_REPLY_MESSAGEF(r, 410, &loc, "msg.expired.title", "msg.new_link", merchant);
        return;
    case VISIT_CANCELLED:
        API_REPLY_MESSAGEF(r, 410, &loc, "msg.cancelled.title", "msg.cancelled.text", merchant,
                           c.link.order_number);
        return;
    case VISIT_UNUSABLE:
        API_REPLY_MESSAGEF(r, 410, &loc, "msg.unusable.title", "msg.new_link", merchant);
        return;
    case VISIT_OPEN:
    case VISIT_FIRST_OPEN: /* not after a write transaction */
        break;
    }
    struct web_link_page p = {
        .loc = &loc,
        .merchant_name = merchant,
        .order_number = c.link.order_number,
        .currency = currency_find(c.link.currency),
        .total_minor = c.link.total_minor,
        .has_subtotal = c.link.has_subtotal,
        .subtotal_minor = c.link.subtotal_minor,
        .has_tax = c.link.has_tax,
        .tax_minor = c.link.tax_minor,
        .sandbox = c.merchant.environment == ENV_SANDBOX,
        /* Pay refuses the link once either its own life or, once opened,
         * its page's is over: the page shows whichever ends first */
        .expires_at = c.link.page_expires_at && c.link.page_expires_at < c.link.expires_at
                          ? c.link.page_expires_at
                          : c.link.expires_at,
        .now = c.now,
    };
    if (c.link.payment_status == PAY_REVERSED || c.link.payment_status == PAY_VOIDED) {
        API_REPLY_MESSAGEF(r, 410, &loc, "msg.reversed.title", "msg.reversed.text",
                           c.link.order_number);
        return;
    }
    /* paid, or a payment that may be: said as the return page says it */
    switch (c.link.payment_status) {
    case PAY_PENDING:
    case PAY_FAILED:
        break;
    case PAY_UNKNOWN: /* the gateway's answer was lost: asked again */
        api_reply_message(r, 200, &loc, "result.confirming.title",
                          web_text(&loc, "result.confirming.text"));
        return;
    case PAY_REVIEW: /* held by the gateway until it decides */
        API_REPLY_MESSAGEF(r, 200, &loc, "result.review.title", "result.review.text",
                           c.link.order_number, merchant);
        return;
    default:
        if (c.refunded > 0) { /* the customer sees the money went back */
            API_REPLY_MESSAGEF(
                r, 200, &loc, "msg.refunded.title", "msg.refunded.text", c.link.order_number,
                web_format_amount(r->arena, loc.tag, currency_find(c.link.currency), c.refunded));
            return;
        }
        API_REPLY_MESSAGEF(r, 200, &loc, "msg.paid.title", "msg.paid.text", c.link.order_number);
        return;
    }
    /* locked once the last attempt allowed has failed (one still running can
     * be resumed from the pay button) */
    if (c.locked) {
        API_REPLY_MESSAGEF(r, 410, &loc, "msg.locked.title", "msg.locked.text", merchant);
        return;
    }
    if (c.link.page_expires_at && c.link.page_expires_at <= c.now) {
        API_REPLY_MESSAGEF(r, 410, &loc, "msg.page_expired.title", "msg.new_link", merchant);
        return;
    }
    p.pay_url = arena_printf(a, "/p/%s/pay", c.link.token);
    /* a customer who cancelled at the gateway's checkout is not told that
     * their payment failed */
    if (c.link.payment_status == PAY_FAILED && !c.running && !c.cancelled)
        p.notice = web_text(&loc, "link.last_failed");
    if (c.merchant.logo_type[0] != '\0')
        /* the version parameter changes with every change to the merchant,
         * so that a new logo shows at once despite the browser's cache */
        p.logo_url =
            arena_printf(a, "/m/%s/logo?v=%lld", c.merchant.id, (long long)c.merchant.updated_at);
    size_t key_len, len;
    const char *key = page_key(a, &c, &loc, &key_len);
    struct page_slot *slot = page_slot(key, key_len);
    struct web_link_parts parts;
    char *html = NULL;
    if (cached_parts(slot, key, key_len, &parts)) {
        html = web_link_page_with(a, &parts, &p, &len);
    } else if (p.currency) {
        struct web_line_item *items;
        p.nitems = page_items(a, c.link.line_items, &items);
        p.items = items;
        if (web_link_page_parts(a, &p, &parts)) {
            keep_parts(slot, key, key_len, &parts);
            html = web_link_page_with(a, &parts, &p, &len);
        }
    }
    if (!html) {
        api_reply_message(r, 500, &loc, "msg.error.title", web_text(&loc, "msg.error.text"));
        return;
    }
    api_reply_html(r, 200, &loc, html, len);
}

/* --- the merchant's logo --------------------------------------------------------- */

struct logo_ctx {
    const char *merchant_id;
    struct arena *a;
    struct db_logo logo;
};

static enum db_status logo_cb(struct db_tx *tx, void *cls)
{
    struct logo_ctx *c = cls;
    return DB_CALL(tx, merchants, logo_get, c->merchant_id, c->a, &c->logo);
}

void api_merchant_logo(struct req *r)
{
    struct logo_ctx c = {.merchant_id = req_param(r, "merchantId"), .a = r->arena};
    if (strlen(c.merchant_id) >= DB_UUID_LEN) {
        reply_error(r, ERR_NOT_FOUND, "This merchant has no logo");
        return;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "merchant_logo", logo_cb, &c);
    if (st < 0) {
        api_reply_db_error(r, st);
        return;
    }
    /* a stored type is checked again: only an image type ever goes out */
    if (st == 0 || !web_logo_type_known(c.logo.type)) {
        reply_error(r, ERR_NOT_FOUND, "This merchant has no logo");
        return;
    }
    reply_header(r, "Cache-Control", STATIC_CACHE);
    /* an SVG opened on its own runs no script and loads nothing */
    reply_header(r, "Content-Security-Policy", WEB_LOGO_CSP);
    reply_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    reply_text(r, 200, c.logo.type, c.logo.data, c.logo.len);
}

/* --- stylesheet and script -------------------------------------------------------- */

void api_static_css(struct req *r)
{
    size_t len;
    const char *css = web_css(&len);
    reply_header(r, "Cache-Control", STATIC_CACHE);
    reply_text(r, 200, "text/css; charset=utf-8", css, len);
}

void api_static_js(struct req *r)
{
    size_t len;
    const char *js = web_js(&len);
    reply_header(r, "Cache-Control", STATIC_CACHE);
    reply_text(r, 200, "text/javascript; charset=utf-8", js, len);
}
