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
 * pending (service/payments.c); a unique index admits one pending-or-
 * successful capture or reverse, and one void, per payment, so of two
 * concurrent requests exactly one proceeds.
 * Step 2 calls the gateway with no transaction open. Step 3 records the
 * answer. A crash between 2 and 3 is repaired by the worker that asks the
 * gateway about pending operations.
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include <string.h>

#include "app.h"
#include "gateway/registry.h"
#include "service/payments.h"
#include "service/views.h"
#include "util/json.h"

struct op_ctx {
    unsigned queued; /* pools of the jobs queued by the answer */
    struct req *r;
    bool capture; /* else reverse */
    const char *ref;
    bool has_amount;
    struct money_dec amount;
    usec_t now;
    const char *refused; /* 400 reason */
    struct db_link link;
    struct db_merchant merchant;
    struct db_payment_op op; /* the new operation */
    struct gw_result res;
    struct c2p_idem_claim idem; /* Idempotency-Key */
    const char *reply;          /* the 200 body, built and stored with the answer */
    size_t reply_len;
};

static enum db_status begin_cb(struct db_tx *tx, void *cls)
{
    struct op_ctx *c = cls;
    /* the time of the change, taken under the write lock: history entries
     * are in the order of their times */
    c->now = time_now();
    enum db_status st = c2p_idem_begin(tx, c->r, c->now, &c->idem);
    if (st <= 0)
        return st;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = c->now, .cfg = c->r->app->cfg};
    st = svc_payment_op_begin(&s, c->r->auth.merchant_id, c->ref, c->capture,
                              c->has_amount ? &c->amount : NULL, &c->link, &c->merchant, &c->op,
                              &c->refused);
    return st == 0 ? DB_ROLLBACK : st;
}

static enum db_status finish_cb(struct db_tx *tx, void *cls)
{
    struct op_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    enum db_status st =
        svc_payment_record(&s, c->link.merchant_id, c->op.ref, &c->res, &c->link, &c->op);
    c->queued = s.queued;
    if (st < 0 || c->op.state == 0)
        return st;
    /* the answer, stored with the Idempotency-Key in this same transaction */
    json_object *o = svc_op_view(&c->op, &c->link);
    c->reply = json_text(c->r->arena, o, &c->reply_len);
    json_object_put(o);
    enum db_status is = c2p_idem_store(tx, c->r, 200, c->reply);
    return is < 0 ? is : st;
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
    if (c2p_reply_link_op(r, st, &c->idem, c->refused))
        return;
    /* the gateway, with no transaction open; then its answer */
    const struct gateway *gw = gateway_for_merchant(r->app->gateways, &c->merchant);
    if (gw)
        gateway_operate(gw, c->link.merchant_id, (enum gw_operation)c->op.op, c->op.ref,
                        c->op.parent_ref, c->op.amount_minor, &c->res);
    else
        c->res.decision = GW_NO_ANSWER;
    st = db_run(r->app->db, DB_WRITE, "payment_op_record", finish_cb, c);
    if (st < 0) {
        /* the operation stays pending; the worker asks the gateway later */
        api_reply_db_error(r, st);
        return;
    }
    app_wake_workers(r->app, c->queued);
    if (c->op.state == 0) {
        reply_error(r, ERR_UNAVAILABLE,
                    "The gateway did not answer; the operation will be confirmed shortly");
        return;
    }
    reply_text(r, 200, "application/json", c->reply, c->reply_len);
}

void api_capture(struct req *r)
{
    run(r, true);
}

void api_reverse(struct req *r)
{
    run(r, false);
}
