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
    bool payment = op->op == GW_OP_AUTHORIZE || op->op == GW_OP_SALE;
    bool conversion = op->state == 1 && payment && op->decision == GW_REVIEW &&
                      (res->decision == GW_ACCEPT || res->decision == GW_DECLINE);
    if (op->state == 1 && !conversion)
        return DB_ONE_RESULT; /* already recorded */
    if (res->decision == GW_NO_ANSWER) {
        /* still pending: the payment is UNKNOWN until a query finds it */
        if (payment && l->payment_status != PAY_UNKNOWN) {
            l->payment_status = PAY_UNKNOWN;
            l->payment_status_at = now;
            st = DB_CALL(tx, links, update, l);
            if (st < 0)
                return st;
            struct db_link_status s = {.status = LINK_PAYMENT_STATUS_RECEIVED, .created_at = now};
            st = DB_CALL(tx, links, status_append, l->merchant_id, l->id, &s);
            if (st < 0)
                return st;
            st = queue_job(tx, l, JOB_PAYMENT_QUERY, op->id, now + QUERY_DELAY);
            if (st < 0)
                return st;
        }
        return DB_ONE_RESULT;
    }
    copy_result(op, res, now);
    st = DB_CALL(tx, payments, finish, op);
    if (st < 0)
        return st;
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
        struct db_link_status s = {.status = LINK_PAYMENT_STATUS_RECEIVED,
                                   .created_at = now,
                                   .http_code = 200,
                                   .response_code = arena_printf(a, "%d", op->response_code),
                                   .response_desc = gw_decision_name(op->decision)};
        st = DB_CALL(tx, links, status_append, l->merchant_id, l->id, &s);
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
    /* the status this operation produced (a capture: the payment stays SUCCESS),
     * not the link's current one */
    int status = op->state ? payments_status_after(op, PAY_SUCCESS) : PAY_UNKNOWN;
    json_object_object_add(o, "paymentStatus", json_object_new_string(payment_status_name(status)));
    char id[8];
    snprintf(id, sizeof id, "%d", status);
    json_object_object_add(o, "paymentStatusId", json_object_new_string(id));
    return o;
}
