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
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/currency.h"
#include "gateway/cards.h"
#include "gateway/gateway.h"
#include "util/crypto.h"
#include "util/form.h"
#include "web/page.h"

enum { GW_WAITING = 0, GW_CHALLENGE = 1, GW_DECIDED = 2 };

struct gw_ctx {
    const char *ref;
    struct db_sandbox_gw g;
    bool found;
};

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
    /* decide once: a second submit (back button, double click) changes nothing */
    struct db_sandbox_gw now;
    enum db_status st = DB_CALL(tx, sandbox_gateway, get, c->ref, &now);
    if (st <= 0)
        return st;
    if (now.state == GW_DECIDED) {
        c->g = now;
        return DB_ONE_RESULT;
    }
    return DB_CALL(tx, sandbox_gateway, update, &c->g);
}

static void send_html(struct req *r, int status, const char *html, size_t len)
{
    reply_header(r, "Content-Security-Policy", WEB_CSP);
    reply_header(r, "Referrer-Policy", "no-referrer");
    reply_header(r, "X-Frame-Options", "DENY");
    reply_text(r, status, "text/html; charset=utf-8", html, len);
}

static void send_message(struct req *r, int status, const char *title, const char *text)
{
    size_t len;
    char *html = web_message_page(r->arena, title, text, &len);
    send_html(r, status, html, len);
}

static void redirect(struct req *r, const char *url)
{
    reply_header(r, "Location", url);
    send_message(r, 303, "Returning to the merchant", "Returning to the merchant.");
}

/* Load the record; answer 404/409 and return false when there is no form to show. */
static bool load(struct req *r, struct gw_ctx *c, int want_state)
{
    c->ref = req_param(r, "ref");
    if (strlen(c->ref) >= DB_REF_LEN ||
        db_run(r->app->db, DB_READ, "sandbox_gw_page", get_cb, c) < 0 || !c->found) {
        send_message(r, 404, "Unknown payment", "The sandbox gateway has no such payment.");
        return false;
    }
    if (c->g.state == GW_DECIDED) {
        redirect(r, c->g.return_url);
        return false;
    }
    if (c->g.state != want_state) {
        send_message(r, 409, "Payment in another step", "Go back to the merchant's page.");
        return false;
    }
    return true;
}

struct form_view {
    const char *name;
    struct card_errors errs;
    bool has_errors;
};

static void field(struct web_buf *b, const char *id, const char *label, const char *type,
                  const char *autocomplete, const char *inputmode, const char *value,
                  const char *error, const char *extra)
{
    web_buf_printf(b, "<div class=\"field\"><label for=\"%s\">%s</label>", id, label);
    if (error)
        web_buf_printf(b, "<p class=\"error\" id=\"%s-error\">%s</p>", id, web_escape(b->a, error));
    web_buf_printf(
        b,
        "<input id=\"%s\" name=\"%s\" type=\"%s\" autocomplete=\"%s\" inputmode=\"%s\" "
        "value=\"%s\" %s%s></div>\n",
        id, id, type, autocomplete, inputmode, value ? web_escape(b->a, value) : "",
        extra ? extra : "",
        error ? arena_printf(b->a, " aria-invalid=\"true\" aria-describedby=\"%s-error\"", id)
              : "");
}

static void render_form(struct req *r, const struct db_sandbox_gw *g, const struct form_view *v,
                        int status)
{
    struct web_buf b;
    web_buf_init(&b, r->arena);
    const struct currency *cur = currency_find(g->currency);
    char amount[32];
    money_format(g->amount_minor, cur ? cur->exponent : 2, amount, sizeof amount);
    web_buf_printf(&b,
                   "<header class=\"sandbox\" role=\"note\"><strong>Sandbox gateway</strong> — "
                   "test cards only; no real money moves.</header>\n<main class=\"card\">\n"
                   "<h1>Test card payment</h1>\n<p class=\"due-amount\">%s %s</p>\n",
                   g->currency, amount);
    if (v->has_errors)
        web_buf_printf(&b, "<p class=\"notice\" role=\"alert\">Please correct the fields "
                           "marked below.</p>\n");
    web_buf_printf(&b,
                   "<form method=\"post\" action=\"/sandbox-gateway/checkout/%s\" "
                   "novalidate>\n",
                   g->ref);
    field(&b, "name", "Name on card", "text", "cc-name", "text", v->name,
          v->errs.name ? v->errs.name_msg : NULL, "maxlength=\"100\"");
    field(&b, "number", "Card number", "text", "cc-number", "numeric", NULL,
          v->errs.number ? v->errs.number_msg : NULL, "maxlength=\"23\"");
    field(&b, "expiry", "Expiry (MM/YY)", "text", "cc-exp", "numeric", NULL,
          v->errs.expiry ? v->errs.expiry_msg : NULL, "maxlength=\"7\" placeholder=\"MM/YY\"");
    field(&b, "cvc", "Security code (CVC)", "password", "cc-csc", "numeric", NULL,
          v->errs.cvc ? v->errs.cvc_msg : NULL, "maxlength=\"4\"");
    web_buf_printf(&b, "<button type=\"submit\" class=\"button\">Pay %s %s</button>\n</form>\n",
                   g->currency, amount);
    web_buf_printf(&b, "<details><summary>Test cards</summary><ul>"
                       "<li>4111 1111 1111 1111 — accepted</li>"
                       "<li>4000 0000 0000 0002 — declined</li>"
                       "<li>4000 0000 0000 9995 — insufficient funds</li>"
                       "<li>4000 0000 0000 0101 — review</li>"
                       "<li>4000 0000 0000 0119 — error</li>"
                       "<li>4000 0000 0000 0259 — no answer (timeout)</li>"
                       "<li>4000 0027 6000 3184 — 3-D Secure challenge</li>"
                       "</ul><p>Any future expiry, any 3-digit CVC (4 for Amex).</p></details>\n"
                       "</main>\n");
    size_t len;
    char *html = web_page(r->arena, "Sandbox gateway — test card payment", b.data, &len);
    send_html(r, status, html, len);
}

void api_sandbox_checkout(struct req *r)
{
    struct gw_ctx c = {0};
    if (!load(r, &c, GW_WAITING))
        return;
    struct form_view v = {0};
    render_form(r, &c.g, &v, 200);
}

static void decide(struct db_sandbox_gw *g, enum gw_decision d, int code, const char *error)
{
    g->state = GW_DECIDED;
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

void api_sandbox_checkout_submit(struct req *r)
{
    struct gw_ctx c = {0};
    if (!load(r, &c, GW_WAITING))
        return;
    size_t len;
    const char *body = req_body(r, &len);
    struct arena *a = r->arena;
    char *name = form_get(a, body, len, "name");
    char *number = form_get(a, body, len, "number");
    char *expiry = form_get(a, body, len, "expiry");
    char *month = form_get(a, body, len, "exp-month");
    char *year = form_get(a, body, len, "exp-year");
    char *cvc = form_get(a, body, len, "cvc");
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
    cards_wipe((char *)body, len);
    if (!ok) {
        v.has_errors = true;
        render_form(r, &c.g, &v, 422);
        return;
    }
    struct db_sandbox_gw *g = &c.g;
    snprintf(g->card_type, sizeof g->card_type, "%s", cards_brand_name(card.brand));
    snprintf(g->masked_pan, sizeof g->masked_pan, "%s", card.masked);
    snprintf(g->expiry, sizeof g->expiry, "%s", card.expiry);
    switch (card.behaviour) {
    case CARD_ACCEPT:
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
        g->state = GW_CHALLENGE;
        break;
    }
    if (db_run(r->app->db, DB_WRITE, "sandbox_gw_decide", update_cb, &c) < 0) {
        send_message(r, 503, "Please try again", "The sandbox gateway is busy.");
        return;
    }
    if (c.g.state == GW_CHALLENGE) {
        redirect(r, arena_printf(a, "/sandbox-gateway/3ds/%s", c.g.ref));
        return;
    }
    redirect(r, c.g.return_url);
}

void api_sandbox_3ds(struct req *r)
{
    struct gw_ctx c = {0};
    if (!load(r, &c, GW_CHALLENGE))
        return;
    struct web_buf b;
    web_buf_init(&b, r->arena);
    web_buf_printf(&b,
                   "<header class=\"sandbox\" role=\"note\"><strong>Sandbox gateway</strong> — "
                   "simulated 3-D Secure check.</header>\n<main class=\"card\">\n"
                   "<h1>Confirm this payment</h1>\n"
                   "<p>Your bank asks you to confirm the payment with card %s.</p>\n"
                   "<form method=\"post\" action=\"/sandbox-gateway/3ds/%s\">\n"
                   "<button type=\"submit\" name=\"action\" value=\"approve\" class=\"button\">"
                   "Approve</button>\n"
                   "<button type=\"submit\" name=\"action\" value=\"deny\" class=\"button "
                   "secondary\">Deny</button>\n</form>\n</main>\n",
                   web_escape(r->arena, c.g.masked_pan), c.g.ref);
    size_t len;
    char *html = web_page(r->arena, "Sandbox gateway — 3-D Secure", b.data, &len);
    send_html(r, 200, html, len);
}

void api_sandbox_3ds_submit(struct req *r)
{
    struct gw_ctx c = {0};
    if (!load(r, &c, GW_CHALLENGE))
        return;
    size_t len;
    const char *body = req_body(r, &len);
    const char *action = form_get(r->arena, body, len, "action");
    if (action && strcmp(action, "approve") == 0)
        decide(&c.g, GW_ACCEPT, 100, NULL);
    else
        decide(&c.g, GW_DECLINE, 476, "The cardholder did not pass 3-D Secure authentication");
    if (db_run(r->app->db, DB_WRITE, "sandbox_gw_3ds", update_cb, &c) < 0) {
        send_message(r, 503, "Please try again", "The sandbox gateway is busy.");
        return;
    }
    redirect(r, c.g.return_url);
}
