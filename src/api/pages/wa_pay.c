/*
 * wa_pay.c — GET/POST /wa/{token}: the sandbox page a WhatsApp Pay order's
 * "Review and pay" button opens. It stands in for WhatsApp's in-chat
 * payment sheet: it shows the order and lets a tester choose the method
 * (UPI, card, netbanking, wallet) and the outcome (success, failure with a
 * gateway error code and reason, pending). Each submit is a payment try
 * recorded by service/whatsapp.c (a pending try is decided by the next
 * one; at most WA_TRIES_MAX per order), and the page shows the result. An
 * order whose business number or payment configuration has been disabled
 * since takes no new try: the page (410) says so.
 * Like every customer page it is in the browser's language and works
 * without JavaScript.
 */
#include "api/api.h"
#include "api/pages/pages.h"

#include <string.h>

#include "app.h"
#include "core/currency.h"
#include "db/merchants.h"
#include "db/whatsapp.h"
#include "service/whatsapp.h"
#include "util/form.h"
#include "util/utf8.h"
#include "web/i18n.h"
#include "web/page.h"

struct wa_ctx {
    struct req *r;
    struct db_wa_order o;
    bool production;        /* the merchant is in production: no simulated payment */
    bool withdrawn;         /* its number or configuration was disabled: no new try */
    const char *last_error; /* the last try's error, when it failed */
    bool pending;           /* the last try is pending */
    int tries;              /* the order's payment tries */
    /* submit */
    const char *method, *code, *reason;
    enum wa_status outcome;
    enum wa_pay_refusal refused;
    unsigned queued;
};

static void last_cb(void *cls, const struct db_wa_txn *t)
{
    struct wa_ctx *c = cls;
    c->tries++;
    c->pending = t->status == WA_PENDING;
    c->last_error = t->status == WA_FAILED
                        ? arena_printf(c->r->arena, "%s: %s", t->error_code ? t->error_code : "",
                                       t->error_reason ? t->error_reason : "")
                        : NULL;
}

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct wa_ctx *c = cls;
    enum db_status st =
        DB_CALL(tx, whatsapp, order_by_token, req_param(c->r, "token"), c->r->arena, &c->o);
    if (st <= 0)
        return st;
    struct db_merchant m;
    st = DB_CALL(tx, merchants, get, c->o.merchant_id, &m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    c->production = m.environment == ENV_PRODUCTION;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    bool open = false;
    st = svc_wa_order_open(&s, &c->o, &open);
    if (st < 0)
        return st;
    c->withdrawn = !open;
    st = DB_CALL(tx, whatsapp, txn_list, c->o.merchant_id, c->o.id, c->r->arena, last_cb, c);
    return st < 0 ? st : DB_ONE_RESULT;
}

static enum db_status pay_cb(struct db_tx *tx, void *cls)
{
    struct wa_ctx *c = cls;
    enum db_status st =
        DB_CALL(tx, whatsapp, order_by_token, req_param(c->r, "token"), c->r->arena, &c->o);
    if (st <= 0)
        return st;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    st = svc_wa_pay(&s, &c->o, c->method, c->outcome, c->code, c->reason, &c->refused);
    c->queued = s.queued;
    return st;
}

static const char *amount_html(struct arena *a, const struct web_locale *loc,
                               const struct db_wa_order *o, int64_t minor)
{
    const struct currency *cur = currency_find(o->currency);
    return cur ? web_amount_html(a, loc, cur, minor)
               : web_escape(a, arena_printf(a, "%s %lld", o->currency, (long long)minor));
}

static void radio(struct web_buf *b, const struct web_locale *loc, const char *name,
                  const char *value, const char *key, bool checked)
{
    web_buf_printf(b, "<label><input type=\"radio\" name=\"%s\" value=\"%s\"%s> %s</label>\n", name,
                   value, checked ? " checked" : "", web_escape(b->a, web_text(loc, key)));
}

static void render(struct req *r, const struct web_locale *loc, struct wa_ctx *c)
{
    struct arena *a = r->arena;
    const struct db_wa_order *o = &c->o;
    struct web_buf b;
    web_buf_init(&b, a);
    web_buf_printf(
        &b,
        "<header class=\"sandbox\" role=\"note\">%s</header>\n<main class=\"card\">\n"
        "<h1>%s</h1>\n<p>%s</p>\n",
        WEB_HTMLF(a, loc, "wa.banner",
                  arena_printf(a, "<strong>%s</strong>", web_escape(a, web_text(loc, "gw.label")))),
        web_escape(a, web_text(loc, "wa.heading")),
        WEB_HTMLF(a, loc, "wa.order", web_escape(a, o->reference_id)));
    web_buf_printf(&b, "<p>%s</p>\n", web_escape(a, o->message_text));
    json_object *order = json_tokener_parse(o->order_json), *items = NULL, *v;
    web_buf_printf(&b, "<table class=\"items\">\n");
    if (order && json_object_object_get_ex(order, "items", &items)) {
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *it = json_object_array_get_idx(items, i), *name, *amount, *qty, *val;
            json_object_object_get_ex(it, "name", &name);
            json_object_object_get_ex(it, "amount", &amount);
            json_object_object_get_ex(it, "quantity", &qty);
            int64_t value = amount && json_object_object_get_ex(amount, "value", &val)
                                ? json_object_get_int64(val)
                                : 0;
            web_buf_printf(&b, "<tr><td>%s × %lld</td><td>%s</td></tr>\n",
                           web_escape(a, json_object_get_string(name)),
                           (long long)json_object_get_int64(qty),
                           amount_html(a, loc, o, value * json_object_get_int64(qty)));
        }
    }
    static const char *const parts[] = {"subtotal", "tax"};
    for (size_t i = 0; order && i < 2; i++) {
        json_object *val;
        if (json_object_object_get_ex(order, parts[i], &v) &&
            json_object_object_get_ex(v, "value", &val))
            web_buf_printf(&b, "<tr><td>%s</td><td>%s</td></tr>\n",
                           web_escape(a, web_text(loc, i ? "wa.tax" : "wa.subtotal")),
                           amount_html(a, loc, o, json_object_get_int64(val)));
    }
    json_object_put(order);
    const char *total = amount_html(a, loc, o, o->total_value);
    web_buf_printf(&b, "<tr class=\"total\"><th>%s</th><th>%s</th></tr>\n</table>\n",
                   web_escape(a, web_text(loc, "wa.total")), total);
    if (o->status == WA_ORDER_CAPTURED) {
        web_buf_printf(&b, "<p class=\"notice\" role=\"status\">%s</p>\n</main>\n",
                       web_escape(a, web_text(loc, "wa.status.captured")));
    } else if (!c->pending && c->tries >= WA_TRIES_MAX) {
        /* a new try would be refused: no form */
        web_buf_printf(
            &b, "<p class=\"notice\" role=\"alert\">%s</p>\n</main>\n",
            WEB_HTMLF(a, loc, "wa.tries.text", arena_printf(a, "%d", (int)WA_TRIES_MAX)));
    } else {
        if (o->status == WA_ORDER_FAILED && c->last_error)
            web_buf_printf(&b, "<p class=\"notice\" role=\"alert\">%s</p>\n",
                           WEB_HTMLF(a, loc, "wa.status.failed", web_escape(a, c->last_error)));
        else if (c->pending)
            web_buf_printf(&b, "<p class=\"notice\" role=\"status\">%s</p>\n",
                           web_escape(a, web_text(loc, "wa.status.pending")));
        web_buf_printf(&b,
                       "<form method=\"post\" action=\"/wa/%s\">\n<fieldset><legend>%s</legend>\n",
                       web_escape(a, o->token), web_escape(a, web_text(loc, "wa.method")));
        radio(&b, loc, "method", "upi", "wa.method.upi", true);
        radio(&b, loc, "method", "card", "wa.method.card", false);
        radio(&b, loc, "method", "netbanking", "wa.method.netbanking", false);
        radio(&b, loc, "method", "wallet", "wa.method.wallet", false);
        web_buf_printf(&b, "</fieldset>\n<fieldset><legend>%s</legend>\n",
                       web_escape(a, web_text(loc, "wa.outcome")));
        radio(&b, loc, "outcome", "success", "wa.outcome.success", true);
        radio(&b, loc, "outcome", "failure", "wa.outcome.failure", false);
        radio(&b, loc, "outcome", "pending", "wa.outcome.pending", false);
        web_buf_printf(&b,
                       "</fieldset>\n<label>%s <input name=\"error_code\" maxlength=\"64\" "
                       "value=\"BAD_REQUEST_ERROR\"></label>\n<label>%s <input "
                       "name=\"error_reason\" maxlength=\"256\" value=\"payment_failed\"></label>\n"
                       "<button type=\"submit\" class=\"button\">%s</button>\n</form>\n</main>\n",
                       web_escape(a, web_text(loc, "wa.error_code")),
                       web_escape(a, web_text(loc, "wa.error_reason")),
                       WEB_HTMLF(a, loc, "wa.pay", total));
    }
    size_t len;
    char *html = web_page(a, loc, web_text(loc, "wa.heading"), b.data, false, &len);
    api_reply_html(r, 200, loc, html, len);
}

void api_wa_page(struct req *r)
{
    struct web_locale loc;
    api_page_locale(r, &loc);
    struct wa_ctx c = {.r = r};
    enum db_status st = strlen(req_param(r, "token")) < sizeof c.o.token
                            ? db_run(r->app->db, DB_READ, "wa_page", load_cb, &c)
                            : DB_NO_RESULTS;
    if (st < 0) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "msg.retry.page"));
        return;
    }
    if (st == 0) {
        api_reply_message(r, 404, &loc, "wa.unknown.title", web_text(&loc, "wa.unknown.text"));
        return;
    }
    if (c.production) {
        api_reply_message(r, 410, &loc, "wa.closed.title", web_text(&loc, "wa.closed.text"));
        return;
    }
    if (c.withdrawn && c.o.status != WA_ORDER_CAPTURED && !c.pending) {
        /* a paid order's page still says it is paid; a pending try can
         * still be decided */
        api_reply_message(r, 410, &loc, "wa.closed.title", web_text(&loc, "wa.withdrawn.text"));
        return;
    }
    render(r, &loc, &c);
}

static bool one_of(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

void api_wa_page_submit(struct req *r)
{
    struct web_locale loc;
    api_page_locale(r, &loc);
    if (!api_form_origin_or_reply(r, &loc))
        return;
    size_t len;
    const char *body = req_body(r, &len);
    struct wa_ctx c = {.r = r};
    c.method = form_get(r->arena, body, len, "method");
    const char *outcome = form_get(r->arena, body, len, "outcome");
    c.code = form_get(r->arena, body, len, "error_code");
    c.reason = form_get(r->arena, body, len, "error_reason");
    static const char *const methods[] = {"upi", "card", "netbanking", "wallet"};
    static const char *const outcomes[] = {"success", "failure", "pending"};
    /* the error's code and reason go into the payment's JSON: text only */
    if (!one_of(c.method, methods, 4) || !one_of(outcome, outcomes, 3) ||
        (c.code && (strlen(c.code) > 64 || !utf8_valid(c.code))) ||
        (c.reason && (strlen(c.reason) > 256 || !utf8_valid(c.reason)))) {
        api_reply_message(r, 400, &loc, "wa.bad.title", web_text(&loc, "wa.bad.text"));
        return;
    }
    c.outcome = strcmp(outcome, "success") == 0   ? WA_SUCCESS
                : strcmp(outcome, "failure") == 0 ? WA_FAILED
                                                  : WA_PENDING;
    if (!c.code || !*c.code)
        c.code = "BAD_REQUEST_ERROR";
    if (!c.reason || !*c.reason)
        c.reason = "payment_failed";
    enum db_status st = strlen(req_param(r, "token")) < sizeof c.o.token
                            ? db_run(r->app->db, DB_WRITE, "wa_pay", pay_cb, &c)
                            : DB_NO_RESULTS;
    if (st == DB_ROLLBACK && c.refused == WA_PAY_PRODUCTION) {
        api_reply_message(r, 410, &loc, "wa.closed.title", web_text(&loc, "wa.closed.text"));
        return;
    }
    if (st == DB_ROLLBACK && c.refused == WA_PAY_PAID) {
        api_reply_message(r, 409, &loc, "wa.paid.title", web_text(&loc, "wa.paid.text"));
        return;
    }
    if (st == DB_ROLLBACK && c.refused == WA_PAY_WITHDRAWN) {
        api_reply_message(r, 410, &loc, "wa.closed.title", web_text(&loc, "wa.withdrawn.text"));
        return;
    }
    if (st == DB_ROLLBACK && c.refused == WA_PAY_TOO_MANY) {
        API_REPLY_MESSAGEF(r, 409, &loc, "wa.tries.title", "wa.tries.text",
                           arena_printf(r->arena, "%d", (int)WA_TRIES_MAX));
        return;
    }
    if (st < 0) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "msg.retry.page"));
        return;
    }
    if (st == 0) {
        api_reply_message(r, 404, &loc, "wa.unknown.title", web_text(&loc, "wa.unknown.text"));
        return;
    }
    app_wake_workers(r->app, c.queued);
    /* back to the page, which shows the outcome */
    reply_header(r, "Location", arena_printf(r->arena, "/wa/%s", c.o.token));
    api_reply_message(r, 303, &loc, "gw.returning", web_text(&loc, "gw.returning"));
}
