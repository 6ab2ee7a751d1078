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

#include <stdio.h>
#include <string.h>

#include "api/links.h"
#include "api/payments.h"
#include "app.h"
#include "core/status.h"
#include "web/page.h"

enum pay_outcome {
    PAY_GO,        /* a new or resumed operation: send the browser to the gateway */
    PAY_NO_LINK,   /* unknown token */
    PAY_GONE,      /* expired, cancelled, unusable */
    PAY_LOCKED,    /* too many failed attempts */
    PAY_DONE,      /* already paid, or being confirmed */
    PAY_NO_GATEWAY /* production merchant without a gateway */
};

struct pay_ctx {
    struct req *r;
    const char *token;
    usec_t now;
    enum pay_outcome outcome;
    struct db_link link;
    struct db_merchant merchant;
    struct db_payment_op op;
    bool resumed;
};

static void find_pending(void *cls, const struct db_payment_op *op)
{
    struct pay_ctx *c = cls;
    if (op->state == 0 && (op->op == GW_OP_AUTHORIZE || op->op == GW_OP_SALE)) {
        c->op = *op;
        c->resumed = true;
    }
}

/* Is the link in a state where the customer may (still) pay? */
static enum pay_outcome payable(const struct db_link *l, const struct db_merchant *m, usec_t now)
{
    if (l->payment_status == PAY_SUCCESS || l->payment_status == PAY_REVIEW ||
        l->payment_status == PAY_UNKNOWN || l->payment_status == PAY_REVERSED ||
        l->payment_status == PAY_VOIDED)
        return PAY_DONE;
    if (l->status == LINK_PAYMENT_LINK_CANCELLED || !l->live || l->expires_at <= now ||
        (l->page_expires_at && l->page_expires_at <= now))
        return PAY_GONE;
    if (l->attempts >= m->max_payment_attempts)
        return PAY_LOCKED;
    return PAY_GO;
}

static enum db_status pay_cb(struct db_tx *tx, void *cls)
{
    struct pay_ctx *c = cls;
    struct db_link *l = &c->link;
    struct arena *a = c->r->arena;
    c->resumed = false;
    enum db_status st = DB_CALL(tx, links, get_by_token, c->token, a, l);
    if (st <= 0) {
        c->outcome = PAY_NO_LINK;
        return st < 0 ? st : DB_ROLLBACK;
    }
    st = DB_CALL(tx, merchants, get, l->merchant_id, &c->merchant);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    c->outcome = payable(l, &c->merchant, c->now);
    if (c->outcome != PAY_GO)
        return DB_ROLLBACK;
    if (!payments_gateway(&c->merchant)) {
        c->outcome = PAY_NO_GATEWAY;
        return DB_ROLLBACK;
    }
    /* a payment already begun (the customer came back): continue it */
    st = DB_CALL(tx, payments, list, l->merchant_id, l->id, find_pending, c);
    if (st < 0 || c->resumed)
        return st < 0 ? st : DB_ONE_RESULT;
    bool first_open = !l->clicked_at;
    if (first_open) {
        /* paying counts as opening the link */
        l->clicked_at = c->now;
        l->page_expires_at = c->now + c->merchant.page_ttl_s * 1000000;
        l->status = LINK_PAYMENT_LINK_CLICKED;
    }
    l->attempts++;
    st = DB_CALL(tx, links, update, l);
    if (st < 0)
        return st;
    if (first_open) {
        struct db_link_status s = {.status = LINK_PAYMENT_LINK_CLICKED, .created_at = c->now};
        st = DB_CALL(tx, links, status_append, l->merchant_id, l->id, &s);
        if (st < 0)
            return st;
    }
    struct db_payment_op *op = &c->op;
    memset(op, 0, sizeof *op);
    memcpy(op->merchant_id, l->merchant_id, sizeof op->merchant_id);
    op->link_id = l->id;
    payments_new_ref(op->ref);
    op->op = l->transaction_type == TXN_AUTHORIZATION ? GW_OP_AUTHORIZE : GW_OP_SALE;
    op->amount_minor = l->total_minor;
    op->created_at = c->now;
    st = DB_CALL(tx, payments, insert, op);
    if (st < 0)
        return st;
    return st == 0 ? DB_SOFT_ERROR : DB_ONE_RESULT;
}

static void reply_page(struct req *r, int status, const char *title, const char *text)
{
    size_t len;
    char *html = web_message_page(r->arena, title, text, &len);
    reply_header(r, "Content-Security-Policy", WEB_CSP);
    reply_header(r, "Referrer-Policy", "no-referrer");
    reply_header(r, "X-Frame-Options", "DENY");
    reply_text(r, status, "text/html; charset=utf-8", html, len);
}

static void reply_not_payable(struct req *r, enum pay_outcome o, const char *merchant)
{
    switch (o) {
    case PAY_NO_LINK:
        reply_page(r, 404, "Payment link not found",
                   "Check that the whole link from your message was opened.");
        return;
    case PAY_GONE:
        reply_page(r, 410, "This payment link can no longer be used",
                   arena_printf(r->arena, "Ask %s for a new payment link.", merchant));
        return;
    case PAY_LOCKED:
        reply_page(r, 410, "Too many payment attempts",
                   arena_printf(r->arena,
                                "This link is locked after several unsuccessful payments. "
                                "Ask %s for a new payment link.",
                                merchant));
        return;
    case PAY_DONE:
        reply_page(r, 409, "This order is already paid",
                   "A payment for this order has been made or is being confirmed.");
        return;
    case PAY_NO_GATEWAY:
        reply_page(r, 503, "Payments are not available",
                   arena_printf(r->arena, "%s cannot take card payments right now.", merchant));
        return;
    case PAY_GO:
        break;
    }
}

void api_pay(struct req *r)
{
    struct pay_ctx c = {.r = r, .token = req_param(r, "token"), .now = time_now()};
    enum db_status st = db_run(r->app->db, DB_WRITE, "pay", pay_cb, &c);
    if (st == DB_ROLLBACK) {
        reply_not_payable(r, c.outcome, c.merchant.name);
        return;
    }
    if (st < 0) {
        reply_page(r, 503, "Please try again", "The payment cannot start right now.");
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
    };
    char url[800];
    const struct gateway_ops *gw = payments_gateway(&c.merchant);
    if (!gw->begin(r->app->db, &p, url, sizeof url)) {
        reply_page(r, 503, "Please try again", "The payment cannot start right now.");
        return;
    }
    reply_header(r, "Location", url);
    reply_page(r, 303, "Continue to payment", "Continue to the payment page.");
}

/* --- the return from the gateway -------------------------------------------------- */

struct return_ctx {
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
    return payments_record(tx, c->r->arena, c->link.merchant_id, c->ref, &c->res, c->now, &c->link,
                           &c->op);
}

void api_pay_return(struct req *r)
{
    struct return_ctx c = {.r = r, .token = req_param(r, "token"), .now = time_now()};
    c.ref = req_query(r, "ref");
    if (!c.ref || strlen(c.ref) >= DB_REF_LEN) {
        reply_page(r, 400, "Payment not found", "This page was opened without a payment.");
        return;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "pay_return_load", load_cb, &c);
    if (st < 0) {
        reply_page(r, 503, "Please try again", "The payment result cannot be shown right now.");
        return;
    }
    if (!c.found) {
        reply_page(r, 404, "Payment not found", "This payment does not belong to this link.");
        return;
    }
    const struct gateway_ops *gw = payments_gateway(&c.merchant);
    if (c.op.state == 0 && gw) {
        /* ask the gateway with no transaction open, then record */
        gw->result(r->app->db, c.link.merchant_id, c.ref, &c.res);
        st = db_run(r->app->db, DB_WRITE, "pay_return_record", record_cb, &c);
        if (st < 0) {
            reply_page(r, 503, "Please try again",
                       "Your payment is being confirmed. Reload this page in a moment.");
            return;
        }
        links_wake_workers(r->app);
    }
    const char *merchant = c.merchant.name;
    const char *order = c.link.order_number;
    int max = c.merchant.max_payment_attempts;
    switch (c.link.payment_status) {
    case PAY_SUCCESS:
        reply_page(r, 200, "Payment successful",
                   arena_printf(r->arena, "Thank you. %s has received your payment for order %s.",
                                merchant, order));
        return;
    case PAY_REVIEW:
        reply_page(r, 200, "Payment under review",
                   arena_printf(r->arena,
                                "Your payment for order %s is being reviewed. %s will let you "
                                "know the outcome.",
                                order, merchant));
        return;
    case PAY_UNKNOWN:
    case PAY_PENDING:
        reply_page(r, 202, "Payment being confirmed",
                   "We are waiting for the bank's answer. Reload this page in a moment; you "
                   "will not be charged twice.");
        return;
    default:
        break;
    }
    bool retry = c.link.attempts < max && c.link.live && c.link.expires_at > c.now;
    const char *title =
        c.op.decision == GW_ERROR ? "Payment could not be processed" : "Payment declined";
    const char *why = c.op.decision == GW_ERROR
                          ? "Something went wrong while processing your card. No money was taken."
                          : "Your bank declined the payment. No money was taken.";
    reply_page(r, 200, title,
               retry ? arena_printf(r->arena, "%s Open the link again to try another card.", why)
                     : arena_printf(r->arena, "%s Ask %s for a new payment link.", why, merchant));
}
