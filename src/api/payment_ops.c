/*
 * payment_ops.c — POST /api/v2/payment/{paymentLinkRef}/capture[?amount=]
 * and POST /api/v2/payment/{paymentLinkRef}/reverse
 * (PaymentGatewayOperationResultResponse).
 *
 * Capture: a successful, uncaptured authorization; amount > 0, at most the
 * authorized amount, exact to the currency (default: all of it); once.
 * Reverse: an uncaptured authorization is reversed (REVERSED); an unsettled
 * sale or capture is voided (VOIDED); a settled one needs a refund at the
 * gateway (400).
 *
 * Step 1 (a write transaction) checks the rules and stores the operation as
 * pending; a unique index admits one pending-or-successful capture, reverse
 * or void per link, so of two concurrent requests exactly one proceeds.
 * Step 2 calls the gateway with no transaction open. Step 3 records the
 * answer. A crash between 2 and 3 is repaired by the worker that asks the
 * gateway about pending operations.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "api/payments.h"
#include "app.h"
#include "core/currency.h"
#include "core/status.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"

struct op_ctx {
    struct req *r;
    bool capture; /* else reverse */
    const char *ref;
    bool has_amount;
    struct money_dec amount;
    usec_t now;
    const char *error; /* 400 reason */
    bool unknown;      /* 404 */
    struct db_link link;
    struct db_merchant merchant;
    struct db_payment_op payment; /* the authorization or sale */
    bool have_payment;
    struct db_payment_op capture_op; /* a successful capture, if any */
    bool captured;
    struct db_payment_op op; /* the new operation */
};

static void collect(void *cls, const struct db_payment_op *o)
{
    struct op_ctx *c = cls;
    /* a payment the link could not take is returned by chatpay itself */
    if ((o->op == GW_OP_AUTHORIZE || o->op == GW_OP_SALE) && o->state == 1 &&
        o->decision == GW_ACCEPT && !(o->flags & DB_OP_ORPHAN)) {
        c->payment = *o;
        c->have_payment = true;
    }
    if (o->op == GW_OP_CAPTURE && o->state == 1 && o->decision == GW_ACCEPT) {
        c->capture_op = *o;
        c->captured = true;
    }
}

static enum db_status refuse(struct op_ctx *c, const char *why)
{
    c->error = why;
    return DB_ROLLBACK;
}

static enum db_status begin_cb(struct db_tx *tx, void *cls)
{
    struct op_ctx *c = cls;
    struct arena *a = c->r->arena;
    c->have_payment = c->captured = false;
    enum db_status st = DB_CALL(tx, links, get_by_ref, c->r->auth.merchant_id, c->ref, a, &c->link);
    if (st < 0)
        return st;
    if (st == 0) {
        c->unknown = true;
        return DB_ROLLBACK;
    }
    st = DB_CALL(tx, merchants, get, c->link.merchant_id, &c->merchant);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = DB_CALL(tx, payments, list, c->link.merchant_id, c->link.id, collect, c);
    if (st < 0)
        return st;
    const struct db_link *l = &c->link;
    if (l->payment_status == PAY_REVERSED)
        return refuse(c, "The payment has already been reversed");
    if (l->payment_status == PAY_VOIDED)
        return refuse(c, "The payment has already been voided");
    if (l->payment_status != PAY_SUCCESS || !c->have_payment)
        return refuse(c, arena_printf(a,
                                      "There is no successful payment to %s (payment status "
                                      "is %s)",
                                      c->capture ? "capture" : "reverse",
                                      payment_status_name(l->payment_status)));
    struct db_payment_op *op = &c->op;
    memset(op, 0, sizeof *op);
    memcpy(op->merchant_id, l->merchant_id, sizeof op->merchant_id);
    op->link_id = l->id;
    payments_new_ref(op->ref);
    op->created_at = c->now;
    if (c->capture) {
        if (c->payment.op != GW_OP_AUTHORIZE)
            return refuse(c, "Only an authorization can be captured; this payment was a Sale");
        if (c->captured)
            return refuse(c, "The authorization has already been captured");
        int64_t amount = c->payment.amount_minor;
        if (c->has_amount) {
            const struct currency *cur = currency_find(l->currency);
            enum money_status ms = money_to_minor(&c->amount, cur ? cur->exponent : 2, &amount);
            if (ms == MONEY_TOO_PRECISE)
                return refuse(c, arena_printf(a, "amount: has more decimal places than %s allows",
                                              l->currency));
            if (ms != MONEY_OK || amount <= 0)
                return refuse(c, "amount: must be greater than 0");
            if (amount > c->payment.amount_minor)
                return refuse(c, "amount: must not exceed the authorized amount");
        }
        op->op = GW_OP_CAPTURE;
        op->amount_minor = amount;
    } else {
        /* settled: a sale or capture older than the settlement delay */
        const struct db_payment_op *money = c->captured ? &c->capture_op : &c->payment;
        bool moved = c->captured || c->payment.op == GW_OP_SALE;
        if (moved && money->gateway_at + c->merchant.settlement_delay_s * 1000000 <= c->now)
            return refuse(c, "The payment has been settled and cannot be reversed; a refund is "
                             "needed (at the payment gateway)");
        op->op = moved ? GW_OP_VOID : GW_OP_REVERSE;
        op->amount_minor = money->amount_minor;
    }
    snprintf(op->parent_ref, sizeof op->parent_ref, "%s",
             c->captured && op->op == GW_OP_VOID ? c->capture_op.ref : c->payment.ref);
    st = DB_CALL(tx, payments, insert, op);
    if (st < 0)
        return st;
    if (st == 0)
        return refuse(c, "Another capture, reversal or void of this payment is in progress or "
                         "has been done");
    return DB_ONE_RESULT;
}

struct finish_ctx {
    struct op_ctx *c;
    struct gw_result res;
};

static enum db_status finish_cb(struct db_tx *tx, void *cls)
{
    struct finish_ctx *f = cls;
    struct op_ctx *c = f->c;
    return payments_record(tx, c->r->arena, c->link.merchant_id, c->op.ref, &f->res, time_now(),
                           &c->link, &c->op);
}

static void run(struct req *r, bool capture)
{
    struct op_ctx *c = arena_alloc(r->arena, sizeof *c);
    c->r = r;
    c->capture = capture;
    c->ref = req_param(r, "paymentLinkRef");
    c->now = time_now();
    const char *amount = capture ? req_query(r, "amount") : NULL;
    if (amount) {
        struct field_errors errs = {0};
        enum money_status ms = money_dec_parse(amount, strlen(amount), &c->amount);
        if (ms != MONEY_OK || c->amount.negative) {
            field_errors_add(&errs, r->arena, "amount",
                             ms == MONEY_OK ? "must be greater than 0" : "must be a number");
            reply_field_errors(r, &errs);
            return;
        }
        c->has_amount = true;
    }
    enum db_status st = db_run(r->app->db, DB_WRITE, capture ? "capture" : "reverse", begin_cb, c);
    if (st == DB_ROLLBACK && c->unknown) {
        reply_error(r, ERR_NOT_FOUND, "No payment link with this reference");
        return;
    }
    if (st == DB_ROLLBACK) {
        reply_error(r, ERR_BAD_REQUEST, c->error);
        return;
    }
    if (st < 0) {
        api_reply_db_error(r, st);
        return;
    }
    const struct gateway_ops *gw = payments_gateway(&c->merchant);
    struct finish_ctx f = {.c = c};
    if (gw)
        gw->operate(r->app->db, c->link.merchant_id, (enum gw_operation)c->op.op, c->op.ref,
                    c->op.parent_ref, c->op.amount_minor, &f.res);
    else
        f.res.decision = GW_NO_ANSWER;
    st = db_run(r->app->db, DB_WRITE, "payment_op_record", finish_cb, &f);
    if (st < 0) {
        /* the operation stays pending; the worker asks the gateway later */
        api_reply_db_error(r, st);
        return;
    }
    if (c->op.state == 0) {
        reply_error(r, ERR_UNAVAILABLE,
                    "The gateway did not answer; the operation will be confirmed shortly");
        return;
    }
    json_object *o = payments_op_json(&c->op, &c->link);
    reply_json(r, 200, o);
    json_object_put(o);
}

void api_capture(struct req *r)
{
    run(r, true);
}

void api_reverse(struct req *r)
{
    run(r, false);
}
