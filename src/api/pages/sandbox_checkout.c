/*
 * sandbox_gateway_pages.c — the sandbox gateway's hosted checkout:
 *   GET/POST /sandbox-gateway/checkout/{ref}   the test card form
 *   GET/POST /sandbox-gateway/3ds/{ref}        the 3-D Secure challenge
 *
 * This stands in for a real gateway's hosted page: it belongs to the
 * gateway, not to chatpay's payment flow, and is clearly marked as a test
 * page. Card data exists only in the request's memory while the form is
 * checked; it is wiped afterwards and never stored or logged — the record
 * keeps the brand, the masked number (first 6 + last 4) and the expiry.
 *
 * Like chatpay's own pages, these are in the language the browser asks for
 * (Accept-Language), with every text from the message catalogs; the form
 * works without JavaScript, which only groups the card number and hints at
 * a wrong check digit while typing.
 */
#include "api/api.h"
#include "api/pages/pages.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/currency.h"
#include "gateway/cards.h"
#include "gateway/gateway.h"
#include "util/crypto.h"
#include "util/form.h"
#include "web/page.h"
#include "db/links.h"
#include "db/sandbox.h"

struct gw_ctx {
    const char *ref;
    struct db_sandbox_gw g;
    bool found;
    bool closed; /* the checkout had closed (expired or cancelled) when submitted */
};

/* Has the checkout closed: cancelled by chatpay, or past its expiry? */
static bool checkout_closed(const struct db_sandbox_gw *g, usec_t now)
{
    return g->state == SANDBOX_GW_CLOSED ||
           (g->state != SANDBOX_GW_DECIDED && g->expires_at && g->expires_at <= now);
}

static enum db_status get_cb(struct db_tx *tx, void *cls)
{
    struct gw_ctx *c = cls;
    enum db_status st = DB_CALL(tx, sandbox_gateway, get, c->ref, &c->g);
    c->found = st > 0;
    return st;
}

static enum db_status update_cb(struct db_tx *tx, void *cls)
{
    struct gw_ctx *c = cls;
    /* decide once: a second submit (back button, double click) changes
     * nothing; a checkout that has closed takes no payment */
    struct db_sandbox_gw now;
    enum db_status st = DB_CALL(tx, sandbox_gateway, get, c->ref, &now);
    if (st <= 0)
        return st;
    c->closed = false;
    if (now.state == SANDBOX_GW_DECIDED) {
        c->g = now;
        return DB_ONE_RESULT;
    }
    if (checkout_closed(&now, time_now())) {
        c->closed = true;
        c->g = now;
        if (now.state == SANDBOX_GW_CLOSED)
            return DB_ONE_RESULT;
        c->g.state = SANDBOX_GW_CLOSED;
        c->g.decided_at = time_now();
    }
    return DB_CALL(tx, sandbox_gateway, update, &c->g);
}

static void redirect(struct req *r, const struct web_locale *loc, const char *url)
{
    reply_header(r, "Location", url);
    api_reply_message(r, 303, loc, "gw.returning", web_text(loc, "gw.returning"));
}

static void reply_closed(struct req *r, const struct web_locale *loc)
{
    api_reply_message(r, 410, loc, "gw.closed.title", web_text(loc, "gw.closed.text"));
}

/* Load the record; answer and return false when there is no form to show. */
static bool load(struct req *r, const struct web_locale *loc, struct gw_ctx *c, int want_state)
{
    c->ref = req_param(r, "ref");
    if (strlen(c->ref) >= DB_REF_LEN ||
        db_run(r->app->db, DB_READ, "sandbox_gw_page", get_cb, c) < 0 || !c->found) {
        api_reply_message(r, 404, loc, "gw.unknown.title", web_text(loc, "gw.unknown.text"));
        return false;
    }
    if (c->g.state == SANDBOX_GW_DECIDED) {
        if (c->g.return_url[0]) {
            redirect(r, loc, c->g.return_url);
        } else {
            /* a capture, reversal or void: made server to server, no page of its own */
            api_reply_message(r, 200, loc, "gw.done.title", web_text(loc, "gw.done.text"));
        }
        return false;
    }
    if (checkout_closed(&c->g, time_now())) {
        reply_closed(r, loc);
        return false;
    }
    if (c->g.state != want_state) {
        if (c->g.state == SANDBOX_GW_CHALLENGE && strcmp(r->method, "GET") == 0) {
            /* back at the card form (Pay pressed again) while 3-D Secure
             * waits: on to the check, not a dead end */
            reply_header(r, "Location", arena_printf(r->arena, "/sandbox-gateway/3ds/%s", c->ref));
            api_reply_message(r, 303, loc, "msg.continue.title",
                              web_text(loc, "msg.continue.text"));
            return false;
        }
        api_reply_message(r, 409, loc, "gw.other_step.title", web_text(loc, "gw.other_step.text"));
        return false;
    }
    return true;
}

struct form_view {
    const char *name;
    struct card_errors errs;
    bool has_errors;
};

/* The catalog keys of the card checks' messages (gateway/cards.c gives them
 * in English): the page shows them in its own language. */
static const struct {
    const char *english, *key;
} card_messages[] = {
    {"Enter the card number", "card.number.missing"},
    {"Enter a valid card number", "card.number.invalid"},
    {"This card number does not pass the check digit test", "card.number.luhn"},
    {"Use one of the sandbox test cards", "card.number.not_test"},
    {"Enter the expiry date", "card.expiry.missing"},
    {"Enter the expiry date as MM/YY", "card.expiry.format"},
    {"The expiry month must be from 01 to 12", "card.expiry.month"},
    {"This card has expired", "card.expiry.past"},
    {"Enter a valid expiry year", "card.expiry.year"},
    {"Enter the security code (CVC)", "card.cvc.missing"},
    {"Enter the 4-digit security code from the front of the card", "card.cvc.amex"},
    {"Enter the 3-digit security code from the back of the card", "card.cvc.other"},
    {"Enter a valid security code (CVC)", "card.cvc.invalid"},
    {"Enter the name on the card", "card.name.missing"},
    {"The name can be at most 100 characters", "card.name.long"},
    {"The name contains characters that are not allowed", "card.name.chars"},
};

/* A card check's message in the page's language (a message without a key
 * is shown as it is). */
static const char *card_message(const struct web_locale *loc, const char *english)
{
    if (english == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof card_messages / sizeof card_messages[0]; i++)
        if (strcmp(english, card_messages[i].english) == 0)
            return web_text(loc, card_messages[i].key);
    return english;
}

/* One labelled input. The error (if any) sits between label and input and
 * is tied to the input with aria-describedby; hint_html is an element the
 * script shows (hidden until then). */
static void field(struct web_buf *b, const struct web_locale *loc, const char *id,
                  const char *label_key, const char *type, const char *autocomplete,
                  const char *inputmode, const char *value, const char *error, const char *extra,
                  const char *hint_html)
{
    struct arena *a = b->a;
    web_buf_printf(b, "<div class=\"field\"><label for=\"%s\">%s</label>", id,
                   web_escape(a, web_text(loc, label_key)));
    if (error)
        web_buf_printf(b, "<p class=\"error\" id=\"%s-error\">%s</p>", id,
                       web_escape(a, card_message(loc, error)));
    web_buf_printf(
        b,
        "<input id=\"%s\" name=\"%s\" type=\"%s\" autocomplete=\"%s\" inputmode=\"%s\" "
        "value=\"%s\" %s%s>%s</div>\n",
        id, id, type, autocomplete, inputmode, value ? web_escape(a, value) : "",
        extra ? extra : "",
        error ? arena_printf(a, " aria-invalid=\"true\" aria-describedby=\"%s-error\"", id) : "",
        hint_html ? hint_html : "");
}

/* The bold label and text of the sandbox banner. */
static const char *banner(struct arena *a, const struct web_locale *loc, const char *key)
{
    return WEB_HTMLF(
        a, loc, key,
        arena_printf(a, "<strong>%s</strong>", web_escape(a, web_text(loc, "gw.label"))));
}

static void render_form(struct req *r, const struct web_locale *loc, const struct db_sandbox_gw *g,
                        const struct form_view *v, int status)
{
    struct web_buf b;
    struct arena *a = r->arena;
    web_buf_init(&b, a);
    const struct currency *cur = currency_find(g->currency);
    const char *amount;
    if (cur != NULL) {
        amount = web_amount_html(a, loc, cur, g->amount_minor);
    } else {
        char num[32];
        money_format(g->amount_minor, 2, num, sizeof num);
        amount = web_escape(a, arena_printf(a, "%s %s", g->currency, num));
    }
    web_buf_printf(&b,
                   "<header class=\"sandbox\" role=\"note\">%s</header>\n<main class=\"card\">\n"
                   "<h1>%s</h1>\n<p class=\"due-amount\">%s</p>\n",
                   banner(a, loc, "gw.banner"), web_escape(a, web_text(loc, "gw.heading")), amount);
    if (v->has_errors)
        web_buf_printf(&b, "<p class=\"notice\" role=\"alert\">%s</p>\n",
                       web_escape(a, web_text(loc, "gw.correct")));
    web_buf_printf(&b,
                   "<form method=\"post\" action=\"/sandbox-gateway/checkout/%s\" "
                   "novalidate>\n",
                   web_escape(a, g->ref));
    field(&b, loc, "name", "gw.name", "text", "cc-name", "text", v->name,
          v->errs.name ? v->errs.name_msg : NULL, "maxlength=\"100\"", NULL);
    field(&b, loc, "number", "gw.number", "text", "cc-number", "numeric", NULL,
          v->errs.number ? v->errs.number_msg : NULL,
          "maxlength=\"23\" data-luhn-hint=\"number-hint\"",
          arena_printf(a, "<p class=\"hint\" id=\"number-hint\" hidden>%s</p>",
                       web_escape(a, web_text(loc, "gw.luhn_hint"))));
    field(&b, loc, "expiry", "gw.expiry", "text", "cc-exp", "numeric", NULL,
          v->errs.expiry ? v->errs.expiry_msg : NULL,
          arena_printf(a, "maxlength=\"7\" placeholder=\"%s\"",
                       web_escape(a, web_text(loc, "gw.expiry_placeholder"))),
          NULL);
    field(&b, loc, "cvc", "gw.cvc", "password", "cc-csc", "numeric", NULL,
          v->errs.cvc ? v->errs.cvc_msg : NULL, "maxlength=\"4\"", NULL);
    web_buf_printf(&b, "<button type=\"submit\" class=\"button\">%s</button>\n</form>\n",
                   WEB_HTMLF(a, loc, "gw.pay", amount));
    static const struct {
        const char *number, *key;
    } cards[] = {
        {"4111 1111 1111 1111", "gw.card.accept"},
        {"4000 0000 0000 0002", "gw.card.decline"},
        {"4000 0000 0000 9995", "gw.card.insufficient"},
        {"4000 0000 0000 0101", "gw.card.review"},
        {"4000 0000 0000 0119", "gw.card.error"},
        {"4000 0000 0000 0259", "gw.card.timeout"},
        {"4000 0027 6000 3184", "gw.card.3ds"},
        {"4000 0000 0000 5126", "gw.card.refund_fails"},
    };
    web_buf_printf(&b, "<details><summary>%s</summary><ul>",
                   web_escape(a, web_text(loc, "gw.test_cards")));
    for (size_t i = 0; i < sizeof cards / sizeof cards[0]; i++)
        web_buf_printf(&b, "<li><span class=\"pan\">%s</span> — %s</li>", /* allowed: test cards */
                       cards[i].number, web_escape(a, web_text(loc, cards[i].key)));
    web_buf_printf(&b, "</ul><p>%s</p></details>\n</main>\n",
                   web_escape(a, web_text(loc, "gw.cards_note")));
    size_t len;
    char *html = web_page(a, loc, web_text(loc, "gw.title"), b.data, true, &len);
    api_reply_html(r, status, loc, html, len);
}

void api_sandbox_checkout(struct req *r)
{
    struct gw_ctx c = {0};
    struct web_locale loc;
    api_page_locale(r, &loc);
    if (!load(r, &loc, &c, SANDBOX_GW_WAITING))
        return;
    struct form_view v = {0};
    render_form(r, &loc, &c.g, &v, 200);
}

static void decide(struct db_sandbox_gw *g, enum gw_decision d, int code, const char *error)
{
    g->state = SANDBOX_GW_DECIDED;
    g->decision = d;
    g->response_code = code;
    g->answered = true;
    g->decided_at = time_now();
    char rr[20];
    crypto_random_base62(96, rr, 17);
    snprintf(g->request_ref, sizeof g->request_ref, "SBX%s", rr);
    if (d == GW_ACCEPT || d == GW_REVIEW) {
        char ar[20];
        crypto_random_base62(96, ar, 17);
        snprintf(g->auth_ref, sizeof g->auth_ref, "AUTH%s", ar);
    }
    snprintf(g->error_text, sizeof g->error_text, "%s", error ? error : "");
}

static void checkout_submit(struct req *r, const char *body, size_t len);

void api_sandbox_checkout_submit(struct req *r)
{
    size_t len;
    const char *body = req_body(r, &len);
    checkout_submit(r, body, len);
    /* the card data is not needed any more, whatever the answer was */
    cards_wipe((char *)body, len);
}

static void checkout_submit(struct req *r, const char *body, size_t len)
{
    struct gw_ctx c = {0};
    struct web_locale loc;
    api_page_locale(r, &loc);
    if (!api_form_origin_or_reply(r, &loc) || !load(r, &loc, &c, SANDBOX_GW_WAITING))
        return;
    struct arena *a = r->arena;
    char *name = form_get(a, body, len, "name");
    char *number = form_get(a, body, len, "number");
    char *expiry = form_get(a, body, len, "expiry");
    char *month = form_get(a, body, len, "exp-month");
    char *year = form_get(a, body, len, "exp-year");
    char *cvc = form_get(a, body, len, "cvc");
    /* digits typed on an Arabic or fullwidth keyboard count as digits
     * (chatpay.js does the same before the post, where JavaScript runs) */
    char *const typed[] = {number, expiry, month, year, cvc};
    for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++)
        cards_ascii_digits(typed[i]);
    int y, mo;
    usec_t now = time_now();
    int64_t yy;
    unsigned mm, dd;
    time_civil_from_days(now / 86400000000LL, &yy, &mm, &dd);
    y = (int)yy;
    mo = (int)mm;
    struct card_check card;
    struct form_view v = {.name = name};
    bool ok = cards_check(name, number, expiry, month, year, cvc, y, mo, &card, &v.errs);
    /* the card data is not needed any more: wipe every copy */
    if (number)
        cards_wipe(number, strlen(number));
    if (cvc)
        cards_wipe(cvc, strlen(cvc));
    if (!ok) {
        v.has_errors = true;
        render_form(r, &loc, &c.g, &v, 422);
        return;
    }
    struct db_sandbox_gw *g = &c.g;
    snprintf(g->card_type, sizeof g->card_type, "%s", cards_brand_name(card.brand));
    snprintf(g->masked_pan, sizeof g->masked_pan, "%s", card.masked);
    snprintf(g->expiry, sizeof g->expiry, "%s", card.expiry);
    switch (card.behaviour) {
    case CARD_ACCEPT:
    case CARD_REFUND_FAILS:
        decide(g, GW_ACCEPT, 100, NULL);
        break;
    case CARD_DECLINE:
        decide(g, GW_DECLINE, 203, "General decline of the card");
        break;
    case CARD_INSUFFICIENT:
        decide(g, GW_DECLINE, 204, "Insufficient funds in the account");
        break;
    case CARD_REVIEW:
        decide(g, GW_REVIEW, 480, "The order is marked for review");
        break;
    case CARD_ERROR:
        decide(g, GW_ERROR, 150, "General system failure");
        break;
    case CARD_TIMEOUT:
        /* accepted, but the answer never reaches chatpay: only a query finds it */
        decide(g, GW_ACCEPT, 100, NULL);
        g->answered = false;
        break;
    case CARD_3DS:
        g->state = SANDBOX_GW_CHALLENGE;
        break;
    }
    if (db_run(r->app->db, DB_WRITE, "sandbox_gw_decide", update_cb, &c) < 0) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "gw.busy"));
        return;
    }
    if (c.closed) {
        reply_closed(r, &loc);
        return;
    }
    if (c.g.state == SANDBOX_GW_CHALLENGE) {
        redirect(r, &loc, arena_printf(a, "/sandbox-gateway/3ds/%s", c.g.ref));
        return;
    }
    redirect(r, &loc, c.g.return_url);
}

void api_sandbox_3ds(struct req *r)
{
    struct gw_ctx c = {0};
    struct web_locale loc;
    struct arena *a = r->arena;
    api_page_locale(r, &loc);
    if (!load(r, &loc, &c, SANDBOX_GW_CHALLENGE))
        return;
    struct web_buf b;
    web_buf_init(&b, a);
    web_buf_printf(
        &b,
        "<header class=\"sandbox\" role=\"note\">%s</header>\n<main class=\"card\">\n"
        "<h1>%s</h1>\n"
        "<p>%s</p>\n"
        "<form method=\"post\" action=\"/sandbox-gateway/3ds/%s\">\n"
        "<button type=\"submit\" name=\"action\" value=\"approve\" class=\"button\">"
        "%s</button>\n"
        "<button type=\"submit\" name=\"action\" value=\"deny\" class=\"button "
        "secondary\">%s</button>\n</form>\n</main>\n",
        banner(a, &loc, "gw.3ds.banner"), web_escape(a, web_text(&loc, "gw.3ds.heading")),
        WEB_HTMLF(a, &loc, "gw.3ds.text",
                  arena_printf(a, "<span class=\"pan\">%s</span>", web_escape(a, c.g.masked_pan))),
        web_escape(a, c.g.ref), web_escape(a, web_text(&loc, "gw.3ds.approve")),
        web_escape(a, web_text(&loc, "gw.3ds.deny")));
    size_t len;
    char *html = web_page(a, &loc, web_text(&loc, "gw.3ds.title"), b.data, false, &len);
    api_reply_html(r, 200, &loc, html, len);
}

void api_sandbox_3ds_submit(struct req *r)
{
    struct gw_ctx c = {0};
    struct web_locale loc;
    api_page_locale(r, &loc);
    if (!api_form_origin_or_reply(r, &loc) || !load(r, &loc, &c, SANDBOX_GW_CHALLENGE))
        return;
    size_t len;
    const char *body = req_body(r, &len);
    const char *action = form_get(r->arena, body, len, "action");
    if (action && strcmp(action, "approve") == 0)
        decide(&c.g, GW_ACCEPT, 100, NULL);
    else
        decide(&c.g, GW_DECLINE, 476, "The cardholder did not pass 3-D Secure authentication");
    if (db_run(r->app->db, DB_WRITE, "sandbox_gw_3ds", update_cb, &c) < 0) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "gw.busy"));
        return;
    }
    if (c.closed) {
        reply_closed(r, &loc);
        return;
    }
    redirect(r, &loc, c.g.return_url);
}
