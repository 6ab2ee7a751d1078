/*
 * pay.c — the customer pays: POST /p/{token}/pay starts a payment at the
 * merchant's gateway; GET /p/{token}/return is where the gateway sends the
 * browser back, and shows the outcome.
 *
 * The pending operation is stored (with its reference, the gateway's
 * idempotency key) before the gateway is involved, and the answer is
 * recorded in a second transaction; a worker asks the gateway about any
 * operation left pending (crash, lost answer), so nothing is charged twice
 * or lost.
 */
#include "api/api.h"
#include "api/pages/pages.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gateway/registry.h"
#include "service/payments.h"
#include "app.h"
#include "core/status.h"
#include "web/page.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"

struct pay_ctx {
    unsigned queued; /* pools of the jobs queued */
    struct req *r;
    const char *token;
    usec_t now;
    enum pay_outcome outcome;
    struct db_link link;
    struct db_merchant merchant;
    struct db_payment_op op;
    bool resumed;
};

static enum db_status pay_cb(struct db_tx *tx, void *cls)
{
    struct pay_ctx *c = cls;
    /* the time of the change, taken under the write lock: history entries
     * are in the order of their times */
    c->now = time_now();
    struct svc s = {.tx = tx, .a = c->r->arena, .now = c->now, .cfg = c->r->app->cfg};
    enum db_status st =
        svc_pay_begin(&s, c->token, &c->outcome, &c->link, &c->merchant, &c->op, &c->resumed);
    c->queued = s.queued;
    return st;
}

static void reply_not_payable(struct req *r, const struct web_locale *loc, enum pay_outcome o,
                              const struct db_link *l, const char *merchant)
{
    switch (o) {
    case PAY_NO_LINK:
        api_reply_message(r, 404, loc, "msg.not_found.title", web_text(loc, "msg.not_found.text"));
        return;
    case PAY_GONE:
        API_REPLY_MESSAGEF(r, 410, loc, "msg.unusable.title", "msg.new_link", merchant);
        return;
    case PAY_LOCKED:
        API_REPLY_MESSAGEF(r, 410, loc, "msg.locked.title", "msg.locked.text", merchant);
        return;
    case PAY_DONE:
        api_reply_message(r, 409, loc, "msg.already_paid.title",
                          web_text(loc, "msg.already_paid.text"));
        return;
    case PAY_RETURNED: /* what the link's page says */
        API_REPLY_MESSAGEF(r, 410, loc, "msg.reversed.title", "msg.reversed.text", l->order_number);
        return;
    case PAY_NO_GATEWAY:
        API_REPLY_MESSAGEF(r, 503, loc, "msg.no_gateway.title", "msg.no_gateway.text", merchant);
        return;
    case PAY_GO:
        break;
    }
}

struct ref_ctx {
    struct req *r;
    const char *merchant_id, *ref, *gateway_ref;
};

static enum db_status ref_cb(struct db_tx *tx, void *cls)
{
    struct ref_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    return svc_payment_gateway_ref(&s, c->merchant_id, c->ref, c->gateway_ref);
}

/* "https://host[:port]" of an absolute URL (for form-action). */
static const char *origin_of(struct arena *a, const char *url)
{
    const char *host = strstr(url, "://");
    if (!host)
        return "'none'";
    host += 3;
    size_t n = strcspn(host, "/?#");
    return arena_printf(a, "%.*s", (int)(host - url + (ptrdiff_t)n), url);
}

/* GET /p/{token}/pay: the address bar after Pay (a reload, Enter): the
 * link's page, which has the Pay button, rather than an error in JSON */
void api_pay_page(struct req *r)
{
    struct web_locale loc;
    api_page_locale(r, &loc);
    /* only what could be a token goes into Location (the path is decoded:
     * %0D%0A must not become a header of the reply) */
    const char *token = req_param(r, "token");
    size_t n = strlen(token);
    if (n > PAGE_TOKEN_MAX ||
        strspn(token, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != n) {
        api_reply_message(r, 404, &loc, "msg.not_found.title",
                          web_text(&loc, "msg.not_found.text"));
        return;
    }
    reply_header(r, "Location", arena_printf(r->arena, "/p/%s", token));
    api_reply_message(r, 303, &loc, "msg.continue.title", web_text(&loc, "msg.continue.text"));
}

void api_pay(struct req *r)
{
    struct pay_ctx c = {.r = r, .token = req_param(r, "token"), .now = time_now()};
    struct web_locale loc;
    api_page_locale(r, &loc);
    if (!api_form_origin_or_reply(r, &loc))
        return;
    enum db_status st = db_run(r->app->db, DB_WRITE, "pay", pay_cb, &c);
    if (st == DB_ROLLBACK) {
        reply_not_payable(r, &loc, c.outcome, &c.link, c.merchant.name);
        return;
    }
    if (st < 0) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "msg.retry.pay"));
        return;
    }
    const char *pub = r->app->cfg->public_url;
    struct gw_payment p = {
        .merchant_id = c.link.merchant_id,
        .ref = c.op.ref,
        .amount_minor = c.op.amount_minor,
        .currency = c.link.currency,
        .op = (enum gw_operation)c.op.op,
        .return_url = arena_printf(r->arena, "%s/p/%s/return?ref=%s", pub, c.link.token, c.op.ref),
        .cancel_url = arena_printf(r->arena, "%s/p/%s", pub, c.link.token),
        .base_url = pub,
        .locale = web_locale_lang(&loc),
        .link_ref = c.link.ref,
        .description = arena_printf(r->arena, "%s, order %s", c.merchant.name, c.link.order_number),
        .created_at = c.op.created_at,
        .gateway_ref = c.op.gateway_ref,
        .expires_at = c.op.created_at + (c.merchant.page_ttl_s + SVC_CHECKOUT_GRACE_S) * 1000000,
    };
    struct gw_checkout co;
    const struct gateway *gw =
        gateway_acquire_op(r->app->gateways, &c.merchant, c.op.gateway_id, NULL);
    bool ok = gw && gateway_begin(gw, &p, r->arena, &co);
    gateway_release(r->app->gateways, gw);
    /* the gateway's id of the checkout, kept before the browser goes there */
    if (ok && co.gateway_ref[0] && strcmp(co.gateway_ref, c.op.gateway_ref) != 0) {
        struct ref_ctx rc = {.r = r,
                             .merchant_id = c.link.merchant_id,
                             .ref = c.op.ref,
                             .gateway_ref = co.gateway_ref};
        /* 0: the attempt was closed meanwhile: not a checkout to send anyone to */
        ok = db_run(r->app->db, DB_WRITE, "pay_gateway_ref", ref_cb, &rc) > 0;
    }
    if (!ok) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "msg.retry.pay"));
        return;
    }
    if (co.nfields == 0 && strncmp(co.url, pub, strlen(pub)) == 0 &&
        strchr("/?", co.url[strlen(pub)])) {
        /* chatpay's own (the sandbox gateway): a redirect */
        reply_header(r, "Location", co.url);
        api_reply_message(r, 303, &loc, "msg.continue.title", web_text(&loc, "msg.continue.text"));
        return;
    }
    size_t len;
    if (co.nfields == 0) {
        /* another site: under form-action 'self' the Pay form's answer may
         * not redirect there, so a page takes the browser on */
        char *html = web_go_page(r->arena, &loc, web_text(&loc, "msg.continue.title"),
                                 web_text(&loc, "msg.continue.text"),
                                 web_text(&loc, "msg.continue.button"), co.url, &len);
        api_reply_html(r, 200, &loc, html, len);
        return;
    }
    /* a form the browser posts to the gateway (sent at once by the script;
     * without JavaScript the customer presses its button) */
    const char **names = arena_calloc(r->arena, co.nfields, sizeof *names);
    const char **values = arena_calloc(r->arena, co.nfields, sizeof *values);
    for (size_t i = 0; i < co.nfields; i++) {
        names[i] = co.fields[i].name;
        values[i] = co.fields[i].value;
    }
    char *html = web_post_page(
        r->arena, &loc, web_text(&loc, "msg.continue.title"), web_text(&loc, "msg.continue.text"),
        web_text(&loc, "msg.continue.button"), co.url, names, values, co.nfields, &len);
    api_reply_html_csp(r, 200, &loc, html, len,
                       arena_printf(r->arena,
                                    "default-src 'none'; script-src 'self'; style-src 'self'; "
                                    "img-src 'self' data:; form-action 'self' %s; base-uri 'none'; "
                                    "frame-ancestors 'none'",
                                    origin_of(r->arena, co.url)));
}

/* --- the return from the gateway -------------------------------------------------- */

struct return_ctx {
    unsigned queued; /* pools of the jobs queued */
    struct req *r;
    const char *token, *ref;
    usec_t now;
    struct db_link link;
    struct db_merchant merchant;
    struct db_payment_op op;
    struct gw_target target;
    struct gw_result res;
    bool found;
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct return_ctx *c = cls;
    enum db_status st = DB_CALL(tx, links, get_by_token, c->token, c->r->arena, &c->link);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, merchants, get, c->link.merchant_id, &c->merchant);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = DB_CALL(tx, payments, get, c->link.merchant_id, c->ref, &c->op);
    if (st <= 0)
        return st;
    c->found = c->op.link_id == c->link.id;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    return c->found ? svc_gw_target(&s, &c->op, false, &c->target) : DB_ONE_RESULT;
}

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct return_ctx *c = cls;
    /* the time of the change, taken under the write lock: history entries
     * are in the order of their times */
    c->now = time_now();
    struct svc s = {.tx = tx, .a = c->r->arena, .now = c->now, .cfg = c->r->app->cfg};
    enum db_status st =
        svc_payment_record(&s, c->link.merchant_id, c->ref, &c->res, &c->link, &c->op);
    c->queued = s.queued;
    if (st >= 0 && c->res.decision == GW_NO_ANSWER && svc_hint_paid(c->target.hint))
        st = svc_payment_claimed(&s, c->link.merchant_id, c->ref);
    return st;
}

/* The browser's POST of the gateway's signed result: checked by the
 * gateway (signature, and that it answers this operation). */
static bool receipt_ok(struct req *r, const struct gateway *gw, struct return_ctx *c)
{
    if (!gw || !gw->ops->inbound)
        return false;
    struct provider_inbound in = api_inbound_request(r, "return");
    struct gw_notice *notices = NULL;
    size_t n = 0;
    if (gw->ops->inbound(gw, &in, r->arena, &notices, &n) != GW_IN_NOTICES || n != 1 ||
        strcmp(notices[0].ref, c->ref) != 0)
        return false;
    /* the attempt's own amount and currency, or a tampered result */
    const struct gw_notice *nt = &notices[0];
    if (nt->has_amount &&
        (nt->amount_minor != c->op.amount_minor || strcmp(nt->currency, c->link.currency) != 0))
        return false;
    if (nt->gateway_ref[0]) /* checked against our reference by the gateway's answer */
        c->target.gateway_ref = arena_strdup(r->arena, nt->gateway_ref);
    c->target.hint = nt->decision[0] ? arena_strdup(r->arena, nt->decision) : NULL;
    return true;
}

void api_pay_return(struct req *r)
{
    struct return_ctx c = {.r = r, .token = req_param(r, "token"), .now = time_now()};
    struct web_locale loc;
    struct arena *a = r->arena;
    api_page_locale(r, &loc);
    c.ref = req_query(r, "ref");
    if (!c.ref || strlen(c.ref) >= DB_REF_LEN) {
        api_reply_message(r, 400, &loc, "msg.payment_not_found.title",
                          web_text(&loc, "msg.payment_not_found.no_ref"));
        return;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "pay_return_load", load_cb, &c);
    if (st < 0) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "msg.retry.result"));
        return;
    }
    if (!c.found) {
        api_reply_message(r, 404, &loc, "msg.payment_not_found.title",
                          web_text(&loc, "msg.payment_not_found.other_link"));
        return;
    }
    const struct gateway *gw =
        gateway_acquire_op(r->app->gateways, &c.merchant, c.op.gateway_id, NULL);
    /* a gateway that posts its result with the browser (CyberSource's
     * receipt): signed, and about this operation, or refused; it names the
     * gateway's transaction, which is then asked about */
    if (strcmp(r->method, "POST") == 0 && !receipt_ok(r, gw, &c)) {
        gateway_release(r->app->gateways, gw);
        api_reply_message(r, 403, &loc, "msg.forbidden.title",
                          web_text(&loc, "msg.forbidden.text"));
        return;
    }
    /* an operation chatpay closed is asked about again: a gateway that
     * took the payment anyway says so, and it is returned */
    bool posted = strcmp(r->method, "POST") == 0;
    bool not_paid = c.op.state == 1 && (c.op.decision == GW_DECLINE || c.op.decision == GW_ERROR);
    bool ask = (c.op.state == 0 || (c.op.flags & DB_OP_ABANDONED) || (posted && not_paid)) && gw;
    if (ask)
        gateway_result(gw, &c.target, &c.res);
    gateway_release(r->app->gateways, gw);
    if (ask && !posted && c.op.state == 0 && c.res.decision == GW_NO_ANSWER &&
        c.res.checkout_open) {
        /* the gateway answered that the checkout is not finished: the
         * return page was opened before paying (or by a link checker).
         * Nothing to record; the link's page takes the customer back to
         * the same checkout. */
        reply_header(r, "Location", arena_printf(a, "/p/%s", c.token));
        api_reply_message(r, 303, &loc, "msg.continue.title", web_text(&loc, "msg.continue.text"));
        return;
    }
    if (ask) {
        /* record what the gateway said (asked with no transaction open) */
        st = db_run(r->app->db, DB_WRITE, "pay_return_record", record_cb, &c);
        if (st < 0) {
            api_reply_message(r, 503, &loc, "msg.retry.title",
                              web_text(&loc, "msg.retry.confirming"));
            return;
        }
        app_wake_workers(r->app, c.queued);
    }
    const char *merchant = c.merchant.name;
    const char *order = c.link.order_number;
    int max = c.merchant.max_payment_attempts;
    /* a partial approval of the link's attempt: returned, and told like a
     * decline (another card may be tried) */
    bool partial = (c.op.flags & DB_OP_ORPHAN) && (c.op.flags & DB_OP_PARTIAL) &&
                   c.link.payment_status == PAY_FAILED;
    if ((c.op.flags & DB_OP_ORPHAN) && !partial) {
        /* the gateway took a payment this link could not take: it is returned */
        API_REPLY_MESSAGEF(r, 200, &loc, "result.not_taken.title", "result.not_taken.text", order,
                           merchant);
        return;
    }
    switch (c.link.payment_status) {
    case PAY_REVERSED:
    case PAY_VOIDED:
        API_REPLY_MESSAGEF(r, 200, &loc, "msg.reversed.title", "msg.reversed.text", order);
        return;
    case PAY_SUCCESS:
        API_REPLY_MESSAGEF(r, 200, &loc, "result.success.title", "result.success.text", merchant,
                           order);
        return;
    case PAY_REVIEW:
        API_REPLY_MESSAGEF(r, 200, &loc, "result.review.title", "result.review.text", order,
                           merchant);
        return;
    case PAY_UNKNOWN:
    case PAY_PENDING:
        api_reply_message(r, 202, &loc, "result.confirming.title",
                          web_text(&loc, "result.confirming.text"));
        return;
    default:
        break;
    }
    /* another card only while the link's page still takes one (what Pay
     * checks: the link's life and, once opened, its page's) */
    bool retry = c.link.attempts < max && c.link.live && c.link.expires_at > c.now &&
                 !(c.link.page_expires_at && c.link.page_expires_at <= c.now);
    bool error = c.op.decision == GW_ERROR;
    bool cancelled = error && (c.op.flags & DB_OP_CANCELLED); /* by the customer */
    const char *why = web_text(&loc, partial     ? "result.partial.text"
                                     : cancelled ? "result.cancelled.text"
                                     : error     ? "result.error.text"
                                                 : "result.declined.text");
    const char *title = partial     ? "result.not_taken.title"
                        : cancelled ? "result.cancelled.title"
                        : error     ? "result.error.title"
                                    : "result.declined.title";
    if (retry)
        api_reply_retry(r, &loc, title, why, c.link.token);
    else
        API_REPLY_MESSAGEF(r, 200, &loc, title, "result.new_link", why, merchant);
}
