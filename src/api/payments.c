/*
 * payments.c — recording gateway answers (see payments.h).
 *
 * Payment status of a link, from its operations:
 *   authorize/sale  ACCEPT → SUCCESS, DECLINE/ERROR → FAILED, REVIEW → REVIEW,
 *                   no answer → UNKNOWN (asked again by a job)
 *   REVIEW later decided by the gateway → SUCCESS or FAILED (conversion time)
 *   capture ACCEPT  → stays SUCCESS
 *   reverse ACCEPT  → REVERSED;  void ACCEPT → VOIDED
 */
#include "api/payments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/links.h"
#include "core/status.h"
#include "util/crypto.h"
#include "db/jobs.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"

/* Delays of the follow-up jobs, µs. */
#define QUERY_DELAY (2LL * 1000000)

const struct gateway_ops *payments_gateway(const struct db_merchant *m)
{
    return m->environment == ENV_SANDBOX ? &gateway_sandbox : NULL;
}

void payments_new_ref(char *out)
{
    char r[20];
    crypto_random_base62(96, r, 17);
    snprintf(out, DB_REF_LEN, "op_%s", r);
}

int payments_status_after(const struct db_payment_op *op, int current)
{
    bool payment = op->op == GW_OP_AUTHORIZE || op->op == GW_OP_SALE;
    switch (op->decision) {
    case GW_ACCEPT:
        if (payment)
            return PAY_SUCCESS;
        if (op->op == GW_OP_REVERSE)
            return PAY_REVERSED;
        if (op->op == GW_OP_VOID)
            return PAY_VOIDED;
        return current; /* a capture keeps SUCCESS */
    case GW_DECLINE:
    case GW_ERROR:
        return payment ? PAY_FAILED : current;
    case GW_REVIEW:
        return payment ? PAY_REVIEW : current;
    default:
        return payment ? PAY_UNKNOWN : current;
    }
}

static void copy_result(struct db_payment_op *op, const struct gw_result *res, usec_t now)
{
    op->state = 1;
    op->decision = res->decision;
    op->response_code = res->response_code;
    snprintf(op->request_ref, sizeof op->request_ref, "%s", res->request_ref);
    snprintf(op->auth_ref, sizeof op->auth_ref, "%s", res->auth_ref);
    snprintf(op->card_type, sizeof op->card_type, "%s", res->card_type);
    snprintf(op->masked_pan, sizeof op->masked_pan, "%s", res->masked_pan);
    snprintf(op->expiry, sizeof op->expiry, "%s", res->expiry);
    snprintf(op->error_text, sizeof op->error_text, "%s", res->error_text);
    op->gateway_at = res->at ? res->at : now;
    op->updated_at = now;
}

static enum db_status queue_job(struct db_tx *tx, const struct db_link *l, int kind, int64_t arg,
                                usec_t run_at)
{
    struct db_job job = {.kind = kind, .link_id = l->id, .arg = arg, .run_at = run_at};
    memcpy(job.merchant_id, l->merchant_id, sizeof job.merchant_id);
    return DB_CALL(tx, jobs, insert, &job);
}

static bool is_payment(const struct db_payment_op *op)
{
    return op->op == GW_OP_AUTHORIZE || op->op == GW_OP_SALE;
}

/* Does this decision leave the customer's money held at the gateway? */
static bool holds_money(enum gw_decision d)
{
    return d == GW_ACCEPT || d == GW_REVIEW;
}

static enum db_status append_status(struct db_tx *tx, const struct db_link *l, usec_t now,
                                    const char *code, const char *desc)
{
    struct db_link_status s = {.status = LINK_PAYMENT_STATUS_RECEIVED,
                               .created_at = now,
                               .http_code = code ? 200 : 0,
                               .response_code = code,
                               .response_desc = desc};
    return DB_CALL(tx, links, status_append, l->merchant_id, l->id, &s);
}

/* Why the link cannot take a payment the gateway has just accepted for it
 * (NULL: it can). `late`: the operation had been closed as abandoned. */
static enum db_status orphan_reason(struct db_tx *tx, struct arena *a, const struct db_link *l,
                                    bool late, usec_t now, const char **why)
{
    *why = NULL;
    if (late) {
        *why = "the checkout had been closed";
        return DB_ONE_RESULT;
    }
    switch (l->payment_status) {
    case PAY_SUCCESS:
    case PAY_REVIEW:
        *why = "the link had already been paid";
        return DB_ONE_RESULT;
    case PAY_REVERSED:
    case PAY_VOIDED:
        *why = "the link's payment had already been returned";
        return DB_ONE_RESULT;
    default:
        break;
    }
    if (!l->live) {
        *why = l->status == LINK_PAYMENT_LINK_CANCELLED     ? "the link had been cancelled"
               : l->status == LINK_PAYMENT_LINK_SENT_FAILED ? "the link could not be sent"
                                                            : "the link had expired";
        return DB_ONE_RESULT;
    }
    enum order_block block;
    char ref[DB_REF_LEN];
    enum db_status st =
        DB_CALL(tx, links, order_block, l->merchant_id, l->order_number, l->id, now, &block, ref);
    if (st < 0)
        return st;
    if (block == ORDER_PAID)
        *why = arena_printf(a, "the order had been paid with payment link %s", ref);
    else if (block == ORDER_IN_PROGRESS)
        *why = arena_printf(a, "the order had a payment in progress on payment link %s", ref);
    return DB_ONE_RESULT;
}

/* What returns an orphan payment: a reversal of an authorization or of a
 * payment under review, a void of an accepted sale. */
enum gw_operation payments_return_op(const struct db_payment_op *payment)
{
    return payment->op == GW_OP_SALE && payment->decision == GW_ACCEPT ? GW_OP_VOID : GW_OP_REVERSE;
}

/* Does the link have a payment of its own: one running, or one the gateway
 * accepted or holds for review that is not an orphan? */
static void find_own_payment(void *cls, const struct db_payment_op *op)
{
    bool *own = cls;
    if (is_payment(op) && !(op->flags & DB_OP_ORPHAN) &&
        (op->state == 0 || op->decision == GW_ACCEPT || op->decision == GW_REVIEW))
        *own = true;
}

/* A reversal or void of an orphan payment was answered: the link keeps a
 * payment of its own (it was paid otherwise), else it shows the return. */
static enum db_status record_return(struct db_tx *tx, struct arena *a, struct db_link *l,
                                    const struct db_payment_op *op, usec_t now)
{
    bool own = false;
    enum db_status st = DB_CALL(tx, payments, list, l->merchant_id, l->id, find_own_payment, &own);
    if (st < 0)
        return st;
    if (op->decision == GW_ACCEPT && !own) {
        l->payment_status = op->op == GW_OP_VOID ? PAY_VOIDED : PAY_REVERSED;
        l->payment_status_at = now;
        l->live = false;
        st = DB_CALL(tx, links, update, l);
        if (st < 0)
            return st;
    }
    const char *desc =
        op->decision == GW_ACCEPT
            ? arena_printf(a, "%s: the payment that was not taken has been %s",
                           gw_decision_name(op->decision),
                           op->op == GW_OP_VOID ? "voided" : "reversed")
            : arena_printf(a,
                           "%s: the payment that was not taken could not be %s (%s); it is "
                           "tried again",
                           gw_decision_name(op->decision),
                           op->op == GW_OP_VOID ? "voided" : "reversed", op->error_text);
    return append_status(tx, l, now, arena_printf(a, "%d", op->response_code), desc);
}

enum db_status payments_record(struct db_tx *tx, struct arena *a, const char *merchant_id,
                               const char *ref, const struct gw_result *res, usec_t now,
                               struct db_link *l, struct db_payment_op *op)
{
    enum db_status st = DB_CALL(tx, payments, get, merchant_id, ref, op);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, links, get_by_id, merchant_id, op->link_id, a, l);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    bool payment = is_payment(op);
    /* the gateway took a payment after chatpay had closed its checkout */
    bool late =
        op->state == 1 && payment && (op->flags & DB_OP_ABANDONED) && holds_money(res->decision);
    bool conversion = op->state == 1 && payment && op->decision == GW_REVIEW &&
                      !(op->flags & DB_OP_ORPHAN) &&
                      (res->decision == GW_ACCEPT || res->decision == GW_DECLINE);
    if (op->state == 1 && !conversion && !late)
        return DB_ONE_RESULT; /* already recorded */
    if (res->decision == GW_NO_ANSWER) {
        /* still pending: the payment is UNKNOWN until a query finds it */
        if (payment && op->state == 0 && l->payment_status != PAY_UNKNOWN &&
            l->payment_status != PAY_SUCCESS && l->payment_status != PAY_REVIEW) {
            l->payment_status = PAY_UNKNOWN;
            l->payment_status_at = now;
            st = DB_CALL(tx, links, update, l);
            if (st < 0)
                return st;
            st = append_status(tx, l, now, NULL, NULL);
            if (st < 0)
                return st;
            st = queue_job(tx, l, JOB_PAYMENT_QUERY, op->id, now + QUERY_DELAY);
            if (st < 0)
                return st;
        }
        return DB_ONE_RESULT;
    }
    const char *orphan = NULL;
    if (payment && !conversion && holds_money(res->decision)) {
        st = orphan_reason(tx, a, l, late, now, &orphan);
        if (st < 0)
            return st;
    }
    copy_result(op, res, now);
    if (orphan) {
        /* the gateway holds money the link cannot take: keep the record,
         * say why, and return the money at once (a job, outside this
         * transaction); the link's own payment status is not touched */
        enum gw_operation back = payments_return_op(op);
        const char *how = back == GW_OP_VOID ? "voids" : "reverses";
        op->flags = (op->flags & ~DB_OP_ABANDONED) | DB_OP_ORPHAN;
        snprintf(op->note, sizeof op->note, "Not taken: %s; chatpay %s it automatically", orphan,
                 how);
        st = DB_CALL(tx, payments, finish, op);
        if (st < 0)
            return st;
        st = append_status(tx, l, now, arena_printf(a, "%d", op->response_code),
                           arena_printf(a, "%s, not taken: %s; chatpay %s it",
                                        gw_decision_name(op->decision), orphan, how));
        if (st < 0)
            return st;
        st = queue_job(tx, l, JOB_AUTO_REVERSE, op->id, now);
        return st < 0 ? st : DB_ONE_RESULT;
    }
    st = DB_CALL(tx, payments, finish, op);
    if (st < 0)
        return st;
    if (!payment && op->parent_ref[0]) {
        struct db_payment_op parent;
        st = DB_CALL(tx, payments, get, merchant_id, op->parent_ref, &parent);
        if (st < 0)
            return st;
        if (st > 0 && (parent.flags & DB_OP_ORPHAN))
            return record_return(tx, a, l, op, now);
    }
    int before = l->payment_status;
    l->payment_status = payments_status_after(op, l->payment_status);
    if (conversion)
        l->conversion_at = now;
    if (l->payment_status != before || payment) {
        l->payment_status_at = now;
        /* a paid order keeps its link live (no second link for the order)
         * until the payment is reversed or voided */
        if (l->payment_status == PAY_REVERSED || l->payment_status == PAY_VOIDED)
            l->live = false;
        st = DB_CALL(tx, links, update, l);
        if (st < 0)
            return st;
        st = append_status(tx, l, now, arena_printf(a, "%d", op->response_code),
                           gw_decision_name(op->decision));
        if (st < 0)
            return st;
    }
    if (payment && op->decision == GW_REVIEW && !conversion) {
        struct db_merchant m;
        st = DB_CALL(tx, merchants, get, merchant_id, &m);
        if (st <= 0)
            return st < 0 ? st : DB_HARD_ERROR;
        st = l->auto_reversal
                 ? queue_job(tx, l, JOB_AUTO_REVERSE, op->id, now)
                 : queue_job(tx, l, JOB_REVIEW_SETTLE, op->id, now + m.review_settle_s * 1000000);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

enum db_status payments_close_abandoned(struct db_tx *tx, struct arena *a, const char *merchant_id,
                                        const char *ref, usec_t now, struct db_link *l,
                                        struct db_payment_op *op)
{
    enum db_status st = DB_CALL(tx, payments, get, merchant_id, ref, op);
    if (st <= 0)
        return st;
    if (op->state != 0)
        return DB_ONE_RESULT; /* answered meanwhile */
    st = DB_CALL(tx, links, get_by_id, merchant_id, op->link_id, a, l);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    op->state = 1;
    op->decision = GW_ERROR;
    op->flags |= DB_OP_ABANDONED;
    snprintf(op->error_text, sizeof op->error_text, "checkout abandoned by the customer");
    snprintf(op->note, sizeof op->note,
             "Closed by chatpay: the customer did not complete the checkout; nothing was charged");
    op->updated_at = now;
    st = DB_CALL(tx, payments, finish, op);
    if (st < 0)
        return st;
    /* a payment shown as UNKNOWN (its answer was lost) now has its outcome */
    if (is_payment(op) && l->payment_status == PAY_UNKNOWN) {
        l->payment_status = PAY_FAILED;
        l->payment_status_at = now;
        st = DB_CALL(tx, links, update, l);
        if (st < 0)
            return st;
        st = append_status(tx, l, now, NULL, "closed at the gateway without a payment");
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

static void add_str(json_object *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_object_add(o, key, json_object_new_string(v));
}

json_object *payments_op_json(const struct db_payment_op *op, const struct db_link *l)
{
    static const char *const op_names[] = {"",        "Authorization", "Sale",
                                           "Capture", "Authorization", "Void"};
    json_object *o = json_object_new_object();
    json_object_object_add(
        o, "transactionType",
        json_object_new_string(op->op >= 1 && op->op <= 5 ? op_names[op->op] : "Sale"));
    json_object_object_add(o, "totalAmount", links_amount_json(op->amount_minor, l->currency));
    json_object_object_add(
        o, "paymentGatewayDecision",
        json_object_new_string(op->state ? gw_decision_name(op->decision) : "UNKNOWN"));
    add_str(o, "paymentGatewayReqReferenceNumber", op->request_ref);
    if (op->gateway_at)
        json_object_object_add(o, "paymentGatewayResponseTimestamp", json_time(op->gateway_at));
    if (op->response_code)
        json_object_object_add(o, "paymentGatewayResponseCode",
                               json_object_new_int(op->response_code));
    add_str(o, "paymentGatewayErrorDecision", op->error_text);
    add_str(o, "paymentGatewayAuthReconciliationReferenceNumber", op->auth_ref);
    add_str(o, "cardType", op->card_type);
    add_str(o, "maskedCardNumber", op->masked_pan);
    add_str(o, "cardExpiryDate", op->expiry);
    add_str(o, "statusReason", op->note);
    /* the status this operation produced (a capture: the payment stays SUCCESS),
     * not the link's current one */
    int status = op->state ? payments_status_after(op, PAY_SUCCESS) : PAY_UNKNOWN;
    json_object_object_add(o, "paymentStatus", json_object_new_string(payment_status_name(status)));
    char id[8];
    snprintf(id, sizeof id, "%d", status);
    json_object_object_add(o, "paymentStatusId", json_object_new_string(id));
    return o;
}
