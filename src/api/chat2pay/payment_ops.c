/*
 * payment_ops.c — POST /api/v2/payment/{paymentLinkRef}/capture[?amount=]
 * and POST /api/v2/payment/{paymentLinkRef}/reverse
 * (PaymentGatewayOperationResultResponse), and chatpay's extension
 * POST /api/v2/payment/{paymentLinkRef}/refund[?amount=] (RefundResponse).
 *
 * Capture: a successful, uncaptured authorization; amount > 0, at most the
 * authorized amount, exact to the currency (default: all of it); once.
 * Reverse: an uncaptured authorization is reversed (REVERSED); an unsettled
 * sale or capture is voided (VOIDED); a settled one needs a refund (400).
 * Refund: a settled sale or capture, partly or wholly, several times, never
 * more than was captured in total (default: all that is left); 200 with
 * the refund SUCCEEDED or FAILED, 202 while the gateway has not completed
 * it (it is asked again; the payment status callback tells the outcome).
 *
 * Step 1 (a write transaction) checks the rules and stores the operation as
 * pending (service/payments.c); a unique index admits one pending-or-
 * successful capture or reverse, and one void, per payment, so of two
 * concurrent requests exactly one proceeds; refunds are checked against
 * the refunds already pending or done in the same write transaction. An
 * operation with an Idempotency-Key is named after the key, so that
 * repeating it never makes a second refund, and a repeat of a capture or
 * reverse whose gateway did not answer (503, the key forgotten) finds the
 * same operation and asks the gateway about it, instead of being refused
 * as a second one; while another repair (the repair sweep's) is asking,
 * the repeat is answered 503 without calling the gateway.
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
    bool capture; /* else reverse (or refund) */
    bool refund;
    bool existing;           /* the operation named by the Idempotency-Key exists already */
    bool held;               /* ...pending, and another repair (the sweep's) holds it */
    char op_ref[DB_REF_LEN]; /* its name, derived from the key ("" without one) */
    int status;              /* of the reply */
    const char *ref;
    bool has_amount;
    struct money_dec amount;
    usec_t now;
    const char *refused; /* 400 reason */
    struct db_link link;
    struct db_merchant merchant;
    struct db_payment_op op; /* the new operation */
    struct gw_target target; /* what the gateway is asked */
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
    if (c->refund) {
        st = svc_refund_begin(&s, c->r->auth.merchant_id, c->ref, c->has_amount ? &c->amount : NULL,
                              c->op_ref[0] ? c->op_ref : NULL, &c->link, &c->merchant, &c->op,
                              &c->existing, &c->refused);
    } else {
        st =
            svc_payment_op_begin(&s, c->r->auth.merchant_id, c->ref, c->capture,
                                 c->has_amount ? &c->amount : NULL, c->op_ref[0] ? c->op_ref : NULL,
                                 &c->link, &c->merchant, &c->op, &c->existing, &c->refused);
    }
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    if (c->existing && c->op.state == 0) {
        /* an operation begun before, its answer lost, is repaired: unless
         * another repair has it now (two at once could undo each other's
         * work at the gateway) */
        st = svc_payment_claim_repair(&s, &c->op, c->now + SVC_REPAIR_HOLD);
        if (st < 0)
            return st;
        if (st == 0) {
            c->held = true;
            return DB_ONE_RESULT;
        }
    }
    /* an operation begun before (its answer lost) is asked again, not repeated blindly */
    return svc_gw_target(&s, &c->op, c->existing, &c->target);
}

static enum db_status finish_cb(struct db_tx *tx, void *cls)
{
    struct op_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    enum db_status st =
        svc_payment_record(&s, c->link.merchant_id, c->op.ref, &c->res, &c->link, &c->op);
    c->queued = s.queued;
    if (st < 0 || (c->op.state == 0 && !c->refund))
        return st;
    json_object *o;
    c->status = 200;
    if (c->refund) {
        /* a refund not completed yet: 202, and the same reply to a repeat */
        int64_t refunded;
        enum db_status rs = svc_refunded(&s, &c->link, &refunded);
        if (rs < 0)
            return rs;
        o = svc_refund_view(&c->op, &c->link);
        json_object_object_add(o, "paymentLinkRef", json_object_new_string(c->link.ref));
        json_object_object_add(o, "refundedAmount", svc_amount_json(refunded, c->link.currency));
        if (c->op.state == 0)
            c->status = 202;
    } else {
        o = svc_op_view(&c->op, &c->link);
    }
    /* the answer, stored with the Idempotency-Key in this same transaction */
    c->reply = json_text(c->r->arena, o, &c->reply_len);
    json_object_put(o);
    enum db_status is = c2p_idem_store(tx, c->r, c->status, c->reply);
    return is < 0 ? is : st;
}

enum op_kind { OP_CAPTURE, OP_REVERSE, OP_REFUND };

static void run(struct req *r, enum op_kind kind)
{
    static const char *const names[] = {"capture", "reverse", "refund"};
    struct op_ctx *c = arena_calloc(r->arena, 1, sizeof *c);
    c->r = r;
    c->capture = kind == OP_CAPTURE;
    c->refund = kind == OP_REFUND;
    c->ref = req_param(r, "paymentLinkRef");
    c->now = time_now();
    /* named after the Idempotency-Key: repeated, it is found, never made twice */
    static const char *const prefixes[] = {"cp_", "rs_", "rf_"};
    c2p_idem_ref(r, prefixes[kind], c->op_ref);
    const char *amount = kind != OP_REVERSE ? req_query(r, "amount") : NULL;
    if (amount) {
        struct field_errors errs = {0};
        enum money_status ms = money_dec_parse(amount, strlen(amount), &c->amount);
        if (ms != MONEY_OK || c->amount.negative) {
            field_errors_add(&errs, r->arena, "amount", "%s",
                             ms == MONEY_OK       ? "must be greater than 0"
                             : ms == MONEY_SYNTAX ? "must be a number"
                                                  : money_status_text(ms));
            reply_field_errors(r, &errs);
            return;
        }
        c->has_amount = true;
    }
    enum db_status st = db_run(r->app->db, DB_WRITE, names[kind], begin_cb, c);
    if (c2p_reply_link_op(r, st, &c->idem, c->refused))
        return;
    if (c->held) { /* 503: the key is forgotten, and the same request may come again */
        reply_error(r, ERR_UNAVAILABLE,
                    "The gateway's answer to this operation is being asked for; it will be "
                    "confirmed shortly");
        return;
    }
    /* the gateway, with no transaction open; then its answer (a refund that
     * exists already is asked again under its reference while pending) */
    const struct gateway *gw = NULL;
    if (c->op.state != 0)
        c->res.decision = (enum gw_decision)c->op.decision;
    else if ((gw = gateway_acquire_op(r->app->gateways, &c->merchant, c->op.gateway_id, NULL)))
        gateway_operate(gw, &c->target, &c->res);
    else
        gw_no_answer(&c->res, "the merchant's gateway cannot be used now");
    gateway_release(r->app->gateways, gw);
    st = db_run(r->app->db, DB_WRITE, "payment_op_record", finish_cb, c);
    if (st < 0) {
        /* the operation stays pending; the worker asks the gateway later */
        api_reply_db_error(r, st);
        return;
    }
    app_wake_workers(r->app, c->queued);
    if (c->op.state == 0 && !c->refund) {
        reply_error(r, ERR_UNAVAILABLE,
                    "The gateway did not answer; the operation will be confirmed shortly");
        return;
    }
    reply_text(r, c->status, "application/json", c->reply, c->reply_len);
}

void api_capture(struct req *r)
{
    run(r, OP_CAPTURE);
}

void api_reverse(struct req *r)
{
    run(r, OP_REVERSE);
}

void api_refund(struct req *r)
{
    run(r, OP_REFUND);
}
