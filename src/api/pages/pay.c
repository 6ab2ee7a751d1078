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
                              const char *merchant)
{
    struct arena *a = r->arena;
    switch (o) {
    case PAY_NO_LINK:
        api_reply_message(r, 404, loc, "msg.not_found.title", web_text(loc, "msg.not_found.text"));
        return;
    case PAY_GONE:
        api_reply_message(r, 410, loc, "msg.unusable.title",
                          WEB_TEXTF(a, loc, "msg.new_link", merchant));
        return;
    case PAY_LOCKED:
        api_reply_message(r, 410, loc, "msg.locked.title",
                          WEB_TEXTF(a, loc, "msg.locked.text", merchant));
        return;
    case PAY_DONE:
        api_reply_message(r, 409, loc, "msg.already_paid.title",
                          web_text(loc, "msg.already_paid.text"));
        return;
    case PAY_NO_GATEWAY:
        api_reply_message(r, 503, loc, "msg.no_gateway.title",
                          WEB_TEXTF(a, loc, "msg.no_gateway.text", merchant));
        return;
    case PAY_GO:
        break;
    }
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
        reply_not_payable(r, &loc, c.outcome, c.merchant.name);
        return;
    }
    if (st < 0) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "msg.retry.pay"));
        return;
    }
    const char *back = arena_printf(r->arena, "%s/p/%s/return?ref=%s", r->app->cfg->public_url,
                                    c.link.token, c.op.ref);
    struct gw_payment p = {
        .merchant_id = c.link.merchant_id,
        .ref = c.op.ref,
        .amount_minor = c.op.amount_minor,
        .currency = c.link.currency,
        .op = (enum gw_operation)c.op.op,
        .return_url = back,
        .base_url = r->app->cfg->public_url,
        .expires_at = c.op.created_at + (c.merchant.page_ttl_s + SVC_CHECKOUT_GRACE_S) * 1000000,
    };
    char url[800];
    const struct gateway *gw = gateway_for_merchant(r->app->gateways, &c.merchant);
    if (!gw || !gateway_begin(gw, &p, url, sizeof url)) {
        api_reply_message(r, 503, &loc, "msg.retry.title", web_text(&loc, "msg.retry.pay"));
        return;
    }
    reply_header(r, "Location", url);
    api_reply_message(r, 303, &loc, "msg.continue.title", web_text(&loc, "msg.continue.text"));
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
    return DB_ONE_RESULT;
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
    return st;
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
    const struct gateway *gw = gateway_for_merchant(r->app->gateways, &c.merchant);
    /* an operation chatpay closed is asked about again: a gateway that
     * took the payment anyway says so, and it is returned */
    if ((c.op.state == 0 || (c.op.flags & DB_OP_ABANDONED)) && gw) {
        /* ask the gateway with no transaction open, then record */
        gateway_result(gw, c.link.merchant_id, c.ref, &c.res);
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
    if (c.op.flags & DB_OP_ORPHAN) {
        /* the gateway took a payment this link could not take: it is returned */
        api_reply_message(r, 200, &loc, "result.not_taken.title",
                          WEB_TEXTF(a, &loc, "result.not_taken.text", order, merchant));
        return;
    }
    switch (c.link.payment_status) {
    case PAY_REVERSED:
    case PAY_VOIDED:
        api_reply_message(r, 200, &loc, "msg.reversed.title",
                          WEB_TEXTF(a, &loc, "msg.reversed.text", order));
        return;
    case PAY_SUCCESS:
        api_reply_message(r, 200, &loc, "result.success.title",
                          WEB_TEXTF(a, &loc, "result.success.text", merchant, order));
        return;
    case PAY_REVIEW:
        api_reply_message(r, 200, &loc, "result.review.title",
                          WEB_TEXTF(a, &loc, "result.review.text", order, merchant));
        return;
    case PAY_UNKNOWN:
    case PAY_PENDING:
        api_reply_message(r, 202, &loc, "result.confirming.title",
                          web_text(&loc, "result.confirming.text"));
        return;
    default:
        break;
    }
    bool retry = c.link.attempts < max && c.link.live && c.link.expires_at > c.now;
    bool error = c.op.decision == GW_ERROR;
    const char *why = web_text(&loc, error ? "result.error.text" : "result.declined.text");
    api_reply_message(r, 200, &loc, error ? "result.error.title" : "result.declined.title",
                      retry ? WEB_TEXTF(a, &loc, "result.retry", why)
                            : WEB_TEXTF(a, &loc, "result.new_link", why, merchant));
}
