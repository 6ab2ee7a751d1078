/*
 * payments.c — payment transitions (see payments.h).
 *
 * A link's payment status moves by core/payment_fsm.h. The gateway's
 * answers map to its events:
 *   authorize/sale  ACCEPT → ACCEPTED, DECLINE/ERROR → DECLINED,
 *                   REVIEW → HELD, no answer → NO_ANSWER (asked again by a job)
 *   REVIEW later decided by the gateway → REVIEW_ACCEPTED / REVIEW_DECLINED
 *   capture ACCEPT → CAPTURED; reverse ACCEPT → REVERSED; void ACCEPT → VOIDED
 * A payment attempt's answer is always in the link's history; a follow-up's
 * only when it changes the payment status.
 */
#include "service/payments.h"

#include <stdio.h>
#include <string.h>

#include "core/currency.h"
#include "core/payment_fsm.h"
#include "core/status.h"
#include "gateway/registry.h"
#include "service/callbacks.h"
#include "service/links.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/time.h"

/* Delay of the first query of an unanswered payment, µs. */
#define QUERY_DELAY (2LL * 1000000)

void svc_new_op_ref(char *out)
{
    char r[20];
    crypto_random_base62(96, r, 17);
    snprintf(out, DB_REF_LEN, "op_%s", r);
}

void svc_new_refund_ref(char *out)
{
    char r[20];
    crypto_random_base62(96, r, 17);
    snprintf(out, DB_REF_LEN, "rf_%s", r);
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

int svc_payment_status_after(const struct db_payment_op *op, int current)
{
    bool payment = is_payment(op);
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

/* The payment event an answer to operation `op` is; -1 for a follow-up the
 * gateway did not accept (it changes nothing). */
static int answer_event(const struct db_payment_op *op, enum gw_decision d, bool conversion)
{
    if (is_payment(op)) {
        switch (d) {
        case GW_ACCEPT:
            return conversion ? PAY_E_REVIEW_ACCEPTED : PAY_E_ACCEPTED;
        case GW_REVIEW:
            return PAY_E_HELD;
        case GW_DECLINE:
        case GW_ERROR:
            return conversion ? PAY_E_REVIEW_DECLINED : PAY_E_DECLINED;
        default:
            return PAY_E_NO_ANSWER;
        }
    }
    if (d != GW_ACCEPT)
        return -1;
    return op->op == GW_OP_CAPTURE ? PAY_E_CAPTURED
           : op->op == GW_OP_VOID  ? PAY_E_VOIDED
                                   : PAY_E_REVERSED;
}

enum db_status svc_gw_target(struct svc *s, const struct db_payment_op *op, bool again,
                             struct gw_target *t)
{
    struct db_link l;
    enum db_status st = DB_CALL(s->tx, links, get_by_id, op->merchant_id, op->link_id, s->a, &l);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    *t = (struct gw_target){.merchant_id = arena_strdup(s->a, op->merchant_id),
                            .ref = arena_strdup(s->a, op->ref),
                            .gateway_ref = arena_strdup(s->a, op->gateway_ref),
                            .op = (enum gw_operation)op->op,
                            .amount_minor = op->amount_minor,
                            .currency = arena_strdup(s->a, l.currency),
                            .parent_ref = "",
                            .parent_gateway_ref = "",
                            .again = again};
    if (!op->parent_ref[0])
        return DB_ONE_RESULT;
    struct db_payment_op parent;
    st = DB_CALL(s->tx, payments, get, op->merchant_id, op->parent_ref, &parent);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    t->parent_ref = arena_strdup(s->a, parent.ref);
    t->parent_gateway_ref = arena_strdup(s->a, parent.request_ref);
    t->parent_op = (enum gw_operation)parent.op;
    return DB_ONE_RESULT;
}

enum db_status svc_payment_claim_repair(struct svc *s, const struct db_payment_op *op, usec_t until)
{
    return DB_CALL(s->tx, payments, claim_repair, op->merchant_id, op->ref, s->now, until);
}

enum db_status svc_payment_claimed(struct svc *s, const char *merchant_id, const char *ref)
{
    struct db_payment_op op;
    enum db_status st = DB_CALL(s->tx, payments, get, merchant_id, ref, &op);
    if (st <= 0 || op.state != 0 || (op.flags & DB_OP_CLAIMED))
        return st;
    op.flags |= DB_OP_CLAIMED;
    return DB_CALL(s->tx, payments, finish, &op);
}

bool svc_hint_paid(const char *hint)
{
    return hint && (strcmp(hint, "ACCEPT") == 0 || strcmp(hint, "REVIEW") == 0);
}

enum db_status svc_payment_gateway_ref(struct svc *s, const char *merchant_id, const char *ref,
                                       const char *gateway_ref)
{
    return DB_CALL(s->tx, payments, set_gateway_ref, merchant_id, ref, gateway_ref);
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
    if (res->gateway_ref[0])
        snprintf(op->gateway_ref, sizeof op->gateway_ref, "%s", res->gateway_ref);
}

static enum db_status payment_entry(struct svc *s, const struct db_link *l, const char *code,
                                    const char *desc)
{
    return svc_history(s, l,
                       &(struct svc_entry){.status = LINK_PAYMENT_STATUS_RECEIVED,
                                           .http = code ? 200 : 0,
                                           .code = code,
                                           .desc = desc});
}

/* The link's payment status changed (or a payment attempt was answered):
 * its history entry, then the payment status callback with the link as it
 * is now. */
static enum db_status payment_changed(struct svc *s, const struct db_link *l, const char *code,
                                      const char *desc)
{
    enum db_status st = payment_entry(s, l, code, desc);
    return st < 0 ? st : svc_cb_payment_status(s, l);
}

/* ---- the customer pays ---------------------------------------------------------------- */

struct pending_scan {
    struct db_payment_op *pending;
    bool cancelled; /* the last attempt answered was the customer's cancel */
};

static void find_pending(void *cls, const struct db_payment_op *op)
{
    struct pending_scan *scan = cls;
    if (!is_payment(op))
        return;
    if (op->state == 0)
        *scan->pending = *op;
    else /* oldest first: the last one answered wins */
        scan->cancelled = (op->flags & DB_OP_CANCELLED) != 0;
}

enum db_status svc_pay_pending(struct svc *s, const struct db_link *l, struct db_payment_op *op,
                               bool *cancelled)
{
    memset(op, 0, sizeof *op);
    struct pending_scan scan = {.pending = op};
    enum db_status st = DB_CALL(s->tx, payments, list, l->merchant_id, l->id, find_pending, &scan);
    if (cancelled)
        *cancelled = scan.cancelled;
    return st < 0 ? st : op->ref[0] ? DB_ONE_RESULT : DB_NO_RESULTS;
}

enum db_status svc_pay_begin(struct svc *s, const char *token, enum pay_outcome *out,
                             struct db_link *l, struct db_merchant *m, struct db_payment_op *op,
                             bool *resumed)
{
    *resumed = false;
    enum db_status st = DB_CALL(s->tx, links, get_by_token, token, s->a, l);
    if (st <= 0) {
        *out = PAY_NO_LINK;
        return st < 0 ? st : DB_ROLLBACK;
    }
    st = svc_merchant_get(s, l->merchant_id, m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    if (payment_fsm(l->payment_status, PAY_E_BEGIN)->verdict == FSM_REFUSE) {
        *out = l->payment_status == PAY_REVERSED || l->payment_status == PAY_VOIDED ? PAY_RETURNED
                                                                                    : PAY_DONE;
        return DB_ROLLBACK;
    }
    if (link_state_final(link_state_from_status(l->status)) || !l->live ||
        l->expires_at <= s->now || (l->page_expires_at && l->page_expires_at <= s->now)) {
        *out = PAY_GONE;
        return DB_ROLLBACK;
    }
    if (!gateway_configured(m)) {
        *out = PAY_NO_GATEWAY;
        return DB_ROLLBACK;
    }
    /* a payment already begun (the customer came back): continue it, even
     * when it was the last attempt allowed */
    st = svc_pay_pending(s, l, op, NULL);
    if (st < 0)
        return st;
    if (st > 0) {
        *resumed = true;
        *out = PAY_GO;
        return DB_ONE_RESULT;
    }
    if (l->attempts >= m->max_payment_attempts) {
        *out = PAY_LOCKED;
        return DB_ROLLBACK;
    }
    /* paying counts as opening the link */
    st = svc_link_open(s, l, m);
    if (st < 0)
        return st;
    l->attempts++;
    st = DB_CALL(s->tx, links, update, l);
    if (st < 0)
        return st;
    memcpy(op->merchant_id, l->merchant_id, sizeof op->merchant_id);
    memcpy(op->gateway_id, m->gateway_provider, sizeof op->gateway_id);
    op->link_id = l->id;
    svc_new_op_ref(op->ref);
    op->op = l->transaction_type == TXN_AUTHORIZATION ? GW_OP_AUTHORIZE : GW_OP_SALE;
    op->amount_minor = l->total_minor;
    op->created_at = s->now;
    st = DB_CALL(s->tx, payments, insert, op);
    if (st < 0)
        return st;
    *out = PAY_GO;
    return st == 0 ? DB_SOFT_ERROR : DB_ONE_RESULT;
}

/* ---- recording answers ---------------------------------------------------------------- */

/* Why the link cannot take a payment the gateway has just accepted for it
 * (NULL: it can). `late`: the operation had been closed as abandoned
 * (`closed`) or recorded as not paid. */
static enum db_status orphan_reason(struct svc *s, const struct db_link *l, bool late, bool closed,
                                    const char **why)
{
    *why = NULL;
    if (late) {
        *why = closed ? "the checkout had been closed"
                      : "the attempt had been recorded as not paid (declined, failed or cancelled)";
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
        enum link_state state = link_state_from_status(l->status);
        *why = state == LINK_S_CANCELLED     ? "the link had been cancelled"
               : state == LINK_S_SEND_FAILED ? "the link could not be sent"
                                             : "the link had expired";
        return DB_ONE_RESULT;
    }
    enum order_block block;
    char ref[DB_REF_LEN];
    enum db_status st = DB_CALL(s->tx, links, order_block, l->merchant_id, l->order_number, l->id,
                                s->now, &block, ref);
    if (st < 0)
        return st;
    if (block == ORDER_PAID)
        *why = arena_printf(s->a, "the order had been paid with payment link %s", ref);
    else if (block == ORDER_IN_PROGRESS)
        *why = arena_printf(s->a, "the order had a payment in progress on payment link %s", ref);
    return DB_ONE_RESULT;
}

/* Why a partial approval is not the link's payment: the amounts. */
static const char *partial_reason(struct svc *s, const struct db_link *l,
                                  const struct db_payment_op *op, const struct gw_result *res)
{
    const struct currency *cur = currency_find(l->currency);
    int exp = cur ? cur->exponent : 2;
    char asked[32], held[32];
    money_format(op->amount_minor, exp, asked, sizeof asked);
    if (res->held_minor <= 0 || res->held_minor >= op->amount_minor)
        return arena_printf(s->a, "the bank approved only part of %s %s", asked, l->currency);
    money_format(res->held_minor, exp, held, sizeof held);
    return arena_printf(s->a, "the bank approved only %s of %s %s", held, asked, l->currency);
}

bool svc_payment_returnable(const struct db_payment_op *payment)
{
    return payment->state == 1 &&
           (payment->decision == GW_REVIEW ||
            ((payment->flags & DB_OP_ORPHAN) && payment->decision == GW_ACCEPT));
}

enum gw_operation svc_payment_return_op(const struct db_payment_op *payment)
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
 * payment of its own (it was paid otherwise), else it shows the return;
 * the return of a partial approval told as a decline leaves the link as it
 * is (FAILED, payable with another card). */
static enum db_status record_return(struct svc *s, struct db_link *l,
                                    const struct db_payment_op *op,
                                    const struct db_payment_op *parent)
{
    bool own = (parent->flags & DB_OP_PARTIAL) && l->payment_status == PAY_FAILED;
    enum db_status st =
        own ? DB_NO_RESULTS
            : DB_CALL(s->tx, payments, list, l->merchant_id, l->id, find_own_payment, &own);
    if (st < 0)
        return st;
    if (op->decision == GW_ACCEPT && !own) {
        l->payment_status = op->op == GW_OP_VOID ? PAY_VOIDED : PAY_REVERSED;
        l->payment_status_at = s->now;
        l->live = false;
        st = DB_CALL(s->tx, links, update, l);
        if (st < 0)
            return st;
    }
    const char *how = op->op == GW_OP_VOID ? "voided" : "reversed";
    const char *desc =
        op->decision == GW_ACCEPT
            ? arena_printf(s->a, "%s: the payment that was not taken has been %s",
                           gw_decision_name(op->decision), how)
            : arena_printf(s->a,
                           "%s: the payment that was not taken could not be %s (%s); it "
                           "needs a refund at the gateway",
                           gw_decision_name(op->decision), how, op->error_text);
    const char *code = arena_printf(s->a, "%d", op->response_code);
    return op->decision == GW_ACCEPT && !own ? payment_changed(s, l, code, desc)
                                             : payment_entry(s, l, code, desc);
}

/* The gateway holds money the link cannot take: keep the record, say why,
 * and return the money at once (a job, outside this transaction); the
 * link's own payment status is not touched. */
static enum db_status record_orphan(struct svc *s, struct db_link *l, struct db_payment_op *op,
                                    const char *why)
{
    const char *how = svc_payment_return_op(op) == GW_OP_VOID ? "voids" : "reverses";
    op->flags = (op->flags & ~DB_OP_ABANDONED) | DB_OP_ORPHAN;
    snprintf(op->note, sizeof op->note, "Not taken: %s; chatpay %s it automatically", why, how);
    enum db_status st = DB_CALL(s->tx, payments, finish, op);
    if (st < 0)
        return st;
    st = payment_entry(s, l, arena_printf(s->a, "%d", op->response_code),
                       arena_printf(s->a, "%s, not taken: %s; chatpay %s it",
                                    gw_decision_name(op->decision), why, how));
    if (st < 0)
        return st;
    st = svc_enqueue(s, l, JOB_AUTO_REVERSE, op->id, s->now);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* The link's attempt did not pay (its answer is already history): the
 * link's payment status moves as for a decline, and the merchant is told. */
static enum db_status link_declined(struct svc *s, struct db_link *l)
{
    const struct pay_rule *rule = payment_fsm(l->payment_status, PAY_E_DECLINED);
    if (rule->verdict != FSM_MOVE)
        return DB_ONE_RESULT;
    l->payment_status = rule->next;
    l->payment_status_at = s->now;
    enum db_status st = DB_CALL(s->tx, links, update, l);
    if (st < 0)
        return st;
    st = svc_cb_payment_status(s, l);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* A void the gateway had accepted failed afterwards (Stripe makes a void
 * of a captured payment as a full refund, and a refund can fail after it
 * succeeded): the money did not go back. The link's own payment is SUCCESS
 * again and its link live (a second link for the order would charge the
 * customer twice; the merchant may refund it), and the merchant is told;
 * the return of a payment the link could not take needs a refund at the
 * gateway, which the history and the log say. */
static enum db_status record_unvoided(struct svc *s, struct db_link *l, struct db_payment_op *op,
                                      const struct gw_result *res)
{
    copy_result(op, res, s->now);
    enum db_status st = DB_CALL(s->tx, payments, finish, op);
    if (st < 0)
        return st;
    struct db_payment_op parent;
    st = DB_CALL(s->tx, payments, get, op->merchant_id, op->parent_ref, &parent);
    if (st < 0)
        return st;
    const char *code = arena_printf(s->a, "%d", op->response_code);
    if (st > 0 && (parent.flags & DB_OP_ORPHAN)) {
        log_error("the void %s of payment %s failed at the gateway after it had succeeded (%s); "
                  "the payment needs a refund there",
                  op->ref, parent.ref, op->error_text);
        return payment_entry(
            s, l, code,
            arena_printf(s->a,
                         "Void %s of the payment that was not taken failed at the "
                         "gateway afterwards (%s): it needs a refund at the gateway",
                         op->ref, op->error_text));
    }
    if (l->payment_status == PAY_VOIDED) {
        l->payment_status = PAY_SUCCESS;
        l->payment_status_at = s->now;
        l->live = true;
        st = DB_CALL(s->tx, links, update, l);
        if (st < 0)
            return st;
    }
    return payment_changed(
        s, l, code,
        arena_printf(s->a, "Void %s failed at the gateway afterwards (%s): the payment stands",
                     op->ref, op->error_text));
}

/* A new operation `kind` (to insert) on the link of `from`, through its
 * gateway, for its amount. */
static void new_op_like(const struct svc *s, const struct db_payment_op *from, int kind,
                        struct db_payment_op *o)
{
    memset(o, 0, sizeof *o);
    memcpy(o->merchant_id, from->merchant_id, sizeof o->merchant_id);
    memcpy(o->gateway_id, from->gateway_id, sizeof o->gateway_id);
    o->link_id = from->link_id;
    svc_new_op_ref(o->ref);
    o->op = kind;
    o->amount_minor = from->amount_minor;
    o->created_at = s->now;
}

/* An authorization recorded as accepted that the gateway says it has
 * canceled (Stripe cancels one left uncaptured for 7 days; the merchant may
 * cancel it in Stripe's dashboard): the payment was reversed, by the
 * gateway. It is recorded as a reversal of it, answered by the gateway
 * (so that it is neither captured nor reversed again), the link's payment
 * REVERSED, with a history entry and the merchant's callback. When a
 * capture or reversal of it is pending or made (chatpay's own reversal
 * cancels it at the gateway too) that operation's answer tells: nothing is
 * recorded here. */
static enum db_status record_released(struct svc *s, struct db_link *l,
                                      const struct db_payment_op *payment,
                                      const struct gw_result *res)
{
    const struct pay_rule *rule = payment_fsm(l->payment_status, PAY_E_REVERSED);
    if (rule->verdict != FSM_MOVE)
        return DB_ONE_RESULT;
    struct db_payment_op o;
    new_op_like(s, payment, GW_OP_REVERSE, &o);
    memcpy(o.parent_ref, payment->ref, sizeof o.parent_ref);
    enum db_status st = DB_CALL(s->tx, payments, insert, &o);
    if (st <= 0)
        return st < 0 ? st : DB_ONE_RESULT; /* a capture or reversal of it is pending or made */
    copy_result(&o, res, s->now);
    o.decision = GW_ACCEPT;
    o.response_code = 100;
    o.error_text[0] = '\0';
    snprintf(o.note, sizeof o.note, "%s; chatpay did not ask for it", res->error_text);
    st = DB_CALL(s->tx, payments, finish, &o);
    if (st < 0)
        return st;
    l->payment_status = rule->next;
    l->payment_status_at = s->now;
    l->live = false;
    st = DB_CALL(s->tx, links, update, l);
    if (st < 0)
        return st;
    return payment_changed(s, l, "100",
                           arena_printf(s->a, "%s: the payment is reversed", res->error_text));
}

/* A refund was answered: its history entry and the payment status
 * callback (the link's payment status stays SUCCESS; the callback's
 * refunds say what changed). A refund the gateway has not completed stays
 * pending, and the repair sweep asks again under the same reference. */
static enum db_status record_refund(struct svc *s, struct db_link *l, struct db_payment_op *op,
                                    const struct gw_result *res)
{
    if (res->decision == GW_NO_ANSWER)
        return DB_ONE_RESULT;
    copy_result(op, res, s->now);
    enum db_status st = DB_CALL(s->tx, payments, finish, op);
    if (st < 0)
        return st;
    const struct currency *cur = currency_find(l->currency);
    char amount[32];
    money_format(op->amount_minor, cur ? cur->exponent : 2, amount, sizeof amount);
    const char *desc =
        op->decision == GW_ACCEPT
            ? arena_printf(s->a, "Refund %s of %s %s: ACCEPT", op->ref, amount, l->currency)
            : arena_printf(s->a, "Refund %s of %s %s: %s (%s)", op->ref, amount, l->currency,
                           gw_decision_name(op->decision), op->error_text);
    return payment_changed(s, l, arena_printf(s->a, "%d", op->response_code), desc);
}

struct tx_find {
    const char *request_ref;
    bool found;
};

static void find_tx(void *cls, const struct db_payment_op *op)
{
    struct tx_find *f = cls;
    if (is_payment(op) && op->state == 1 && strcmp(op->request_ref, f->request_ref) == 0)
        f->found = true;
}

/* Another payment the gateway took under the reference of attempt `op`,
 * recorded before: *op becomes a pending operation of its own for it, on
 * which its answer is recorded (DB_NO_RESULTS: that transaction is recorded
 * on the link already). */
static enum db_status other_payment(struct svc *s, const struct db_link *l,
                                    struct db_payment_op *op, const char *request_ref)
{
    struct tx_find f = {.request_ref = request_ref};
    enum db_status st = DB_CALL(s->tx, payments, list, l->merchant_id, l->id, find_tx, &f);
    if (st < 0 || f.found)
        return st < 0 ? st : DB_NO_RESULTS;
    struct db_payment_op o;
    new_op_like(s, op, op->op, &o);
    st = DB_CALL(s->tx, payments, insert, &o);
    if (st <= 0)
        return st < 0 ? st : DB_SOFT_ERROR;
    *op = o;
    return DB_ONE_RESULT;
}

enum db_status svc_payment_record(struct svc *s, const char *merchant_id, const char *ref,
                                  const struct gw_result *res, struct db_link *l,
                                  struct db_payment_op *op)
{
    enum db_status st = DB_CALL(s->tx, payments, get, merchant_id, ref, op);
    if (st <= 0)
        return st;
    st = DB_CALL(s->tx, links, get_by_id, merchant_id, op->link_id, s->a, l);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    bool payment = is_payment(op);
    /* the gateway took a payment after chatpay had closed its checkout */
    /* an answer about another of the gateway's transactions than the one
     * recorded for the attempt (a checkout posted again under the same
     * reference, a late notice about an earlier try): it never changes the
     * recorded attempt's decision */
    bool other = op->state == 1 && payment && op->request_ref[0] && res->request_ref[0] &&
                 strcmp(res->request_ref, op->request_ref) != 0;
    /* the gateway took a payment for an attempt chatpay had closed or
     * recorded as not paid (declined, failed, cancelled): it is returned */
    bool late = op->state == 1 && payment && !(op->flags & DB_OP_ORPHAN) &&
                ((op->flags & DB_OP_ABANDONED) || !holds_money(op->decision)) &&
                holds_money(res->decision);
    bool conversion = op->state == 1 && payment && op->decision == GW_REVIEW &&
                      !(op->flags & DB_OP_ORPHAN) && !other &&
                      (res->decision == GW_ACCEPT || res->decision == GW_DECLINE);
    /* a refund the gateway reports failed after it had succeeded (Stripe's
     * refunds can fail later): its money did not go back after all */
    bool unrefunded = op->state == 1 && op->op == GW_OP_REFUND && op->decision == GW_ACCEPT &&
                      (res->decision == GW_DECLINE || res->decision == GW_ERROR);
    /* likewise a void Stripe made as a full refund: the payment stands */
    bool unvoided = op->state == 1 && op->op == GW_OP_VOID && op->decision == GW_ACCEPT &&
                    (res->decision == GW_DECLINE || res->decision == GW_ERROR);
    /* an accepted authorization (this transaction, not another) that the
     * gateway says is canceled there, not a query that failed: reversed */
    bool released = op->state == 1 && op->op == GW_OP_AUTHORIZE && op->decision == GW_ACCEPT &&
                    !(op->flags & DB_OP_ORPHAN) && res->released && res->decision == GW_ERROR &&
                    op->request_ref[0] && strcmp(res->request_ref, op->request_ref) == 0;
    if (released)
        return record_released(s, l, op, res);
    /* another payment than the attempt's, which holds money: never the
     * link's (it was answered already), so it is recorded as not taken and
     * returned, as a late one is */
    bool again = other && !late && holds_money(res->decision);
    if (again) {
        st = other_payment(s, l, op, res->request_ref);
        if (st <= 0)
            return st < 0 ? st : DB_ONE_RESULT; /* recorded before */
    }
    if (op->state == 1 && !conversion && !late && !unrefunded && !unvoided)
        return DB_ONE_RESULT; /* already recorded */
    if (unvoided)
        return record_unvoided(s, l, op, res);
    if (res->decision == GW_NO_ANSWER && res->gateway_ref[0] &&
        strcmp(res->gateway_ref, op->gateway_ref) != 0) {
        /* not final, but the gateway named it: a later query asks by that */
        snprintf(op->gateway_ref, sizeof op->gateway_ref, "%s", res->gateway_ref);
        st = svc_payment_gateway_ref(s, merchant_id, op->ref, op->gateway_ref);
        if (st < 0)
            return st;
    }
    if (op->op == GW_OP_REFUND)
        return record_refund(s, l, op, res);
    int event = answer_event(op, res->decision, conversion);
    if (res->decision == GW_NO_ANSWER) {
        /* still pending: the payment is UNKNOWN until a query finds it */
        if (event != PAY_E_NO_ANSWER || op->state != 0 ||
            payment_fsm(l->payment_status, PAY_E_NO_ANSWER)->verdict != FSM_MOVE)
            return DB_ONE_RESULT;
        l->payment_status = PAY_UNKNOWN;
        l->payment_status_at = s->now;
        st = DB_CALL(s->tx, links, update, l);
        if (st < 0)
            return st;
        st = payment_changed(s, l, NULL, NULL);
        if (st < 0)
            return st;
        st = svc_enqueue(s, l, JOB_PAYMENT_QUERY, op->id, s->now + QUERY_DELAY);
        return st < 0 ? st : DB_ONE_RESULT;
    }
    const char *orphan =
        again ? arena_printf(s->a, "payment attempt %s had already been answered", ref) : NULL;
    bool own_partial = false; /* the link's attempt, approved for less than asked */
    if (payment && !conversion && !again && holds_money(res->decision)) {
        st = orphan_reason(s, l, late, (op->flags & DB_OP_ABANDONED) != 0, &orphan);
        if (st < 0)
            return st;
        if (!orphan && res->partial && res->decision == GW_ACCEPT) {
            orphan = partial_reason(s, l, op, res);
            own_partial = true;
        }
    }
    copy_result(op, res, s->now);
    /* the customer's own cancel, told apart from a failure on their page */
    if (payment && res->cancelled && res->decision == GW_ERROR)
        op->flags |= DB_OP_CANCELLED;
    else
        op->flags &= ~DB_OP_CANCELLED;
    if (payment && res->partial && res->decision == GW_ACCEPT) {
        op->flags |= DB_OP_PARTIAL;
        if (res->held_minor > 0 && res->held_minor < op->amount_minor)
            op->held_minor = res->held_minor;
    }
    if (orphan) {
        st = record_orphan(s, l, op, orphan);
        /* for the link a partial approval is a decline: the money goes
         * back, and the customer may try another card */
        return st < 0 || !own_partial ? st : link_declined(s, l);
    }
    st = DB_CALL(s->tx, payments, finish, op);
    if (st < 0)
        return st;
    if (!payment && op->parent_ref[0]) {
        struct db_payment_op parent;
        st = DB_CALL(s->tx, payments, get, merchant_id, op->parent_ref, &parent);
        if (st < 0)
            return st;
        if (st > 0 && (parent.flags & DB_OP_ORPHAN))
            return record_return(s, l, op, &parent);
    }
    if (event < 0)
        return DB_ONE_RESULT; /* a follow-up the gateway did not accept */
    const struct pay_rule *rule = payment_fsm(l->payment_status, (enum pay_event)event);
    /* a payment attempt's answer is always history; a follow-up's only
     * when it moves the payment */
    bool record = rule->verdict == FSM_MOVE || (payment && rule->verdict == FSM_STAY);
    if (rule->verdict == FSM_MOVE) {
        l->payment_status = rule->next;
        if (conversion)
            l->conversion_at = s->now;
        /* a paid order keeps its link live (no second link for the order)
         * until the payment is reversed or voided */
        if (l->payment_status == PAY_REVERSED || l->payment_status == PAY_VOIDED)
            l->live = false;
    }
    if (record) {
        l->payment_status_at = s->now;
        st = DB_CALL(s->tx, links, update, l);
        if (st < 0)
            return st;
        st = payment_changed(s, l, arena_printf(s->a, "%d", op->response_code),
                             gw_decision_name(op->decision));
        if (st < 0)
            return st;
    } else if (event == PAY_E_CAPTURED && rule->verdict == FSM_STAY) {
        /* a capture leaves the payment SUCCESS (and the history as it is),
         * but the merchant is told of it like of every other outcome */
        st = svc_cb_payment_status(s, l);
        if (st < 0)
            return st;
    }
    if (event == PAY_E_HELD && rule->verdict == FSM_MOVE) {
        struct db_merchant m;
        st = DB_CALL(s->tx, merchants, get, merchant_id, &m);
        if (st <= 0)
            return st < 0 ? st : DB_HARD_ERROR;
        st = l->auto_reversal ? svc_enqueue(s, l, JOB_AUTO_REVERSE, op->id, s->now)
                              : svc_enqueue(s, l, JOB_REVIEW_SETTLE, op->id,
                                            s->now + m.review_settle_s * 1000000);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

/* ---- the merchant captures or reverses ----------------------------------------------- */

struct followups {
    struct db_payment_op payment; /* the accepted authorization or sale */
    bool have_payment;
    struct db_payment_op capture; /* its accepted capture */
    bool captured;
};

static void collect_followups(void *cls, const struct db_payment_op *o)
{
    struct followups *f = cls;
    /* a payment the link could not take is returned by chatpay itself */
    if (is_payment(o) && o->state == 1 && o->decision == GW_ACCEPT && !(o->flags & DB_OP_ORPHAN)) {
        f->payment = *o;
        f->have_payment = true;
    }
    if (o->op == GW_OP_CAPTURE && o->state == 1 && o->decision == GW_ACCEPT) {
        f->capture = *o;
        f->captured = true;
    }
}

/* A reason of the payment table with its "%s" (if any) filled in. */
static const char *reason_with(struct arena *a, const char *reason, const char *value)
{
    const char *at = strstr(reason, "%s");
    if (!at)
        return reason;
    return arena_printf(a, "%.*s%s%s", (int)(at - reason), reason, value, at + 2);
}

static enum db_status refuse(const char **refused, const char *why)
{
    *refused = why;
    return DB_ROLLBACK;
}

/* The most refunds one payment takes, whatever their outcome: each adds to
 * the link's history and to every later callback's body, so that the
 * payment's record stays bounded (one per line item of the largest order). */
enum { REFUNDS_MAX = 100 };

struct refund_scan {
    struct followups f;
    bool returning;   /* a reversal or void of the payment is pending */
    int64_t refunded; /* refunds pending or accepted, per the money they return */
    int refunds;      /* refunds asked for, whatever their outcome */
    const char *money_ref, *payment_ref;
};

static void collect_refunds(void *cls, const struct db_payment_op *o)
{
    struct refund_scan *r = cls;
    if (o->op == GW_OP_REFUND && strcmp(o->parent_ref, r->money_ref) == 0) {
        r->refunds++;
        if (o->state == 0 || o->decision == GW_ACCEPT)
            r->refunded += o->amount_minor;
    }
    if ((o->op == GW_OP_REVERSE || o->op == GW_OP_VOID) && o->state == 0 &&
        (strcmp(o->parent_ref, r->money_ref) == 0 || strcmp(o->parent_ref, r->payment_ref) == 0))
        r->returning = true;
}

/* The merchant's link `ref` and the merchant. */
static enum db_status load_link(struct svc *s, const char *merchant_id, const char *ref,
                                struct db_link *l, struct db_merchant *m)
{
    enum db_status st = DB_CALL(s->tx, links, get_by_ref, merchant_id, ref, s->a, l);
    if (st <= 0)
        return st;
    st = svc_merchant_get(s, l->merchant_id, m);
    return st < 0 ? st : st == 0 ? DB_HARD_ERROR : DB_ONE_RESULT;
}

/* An amount asked for, in minor units of `currency` (into *minor): NULL,
 * or why it cannot be taken (not > 0, or more decimals than the currency). */
static const char *minor_amount(struct arena *a, const struct money_dec *amount,
                                const char *currency, int64_t *minor)
{
    const struct currency *cur = currency_find(currency);
    enum money_status ms = money_to_minor(amount, cur ? cur->exponent : 2, minor);
    if (ms == MONEY_TOO_PRECISE)
        return arena_printf(a, "amount: has more decimal places than %s allows", currency);
    if (ms == MONEY_OUT_OF_RANGE)
        return arena_printf(a, "amount: %s", money_status_text(ms));
    if (ms != MONEY_OK || *minor <= 0)
        return "amount: must be greater than 0";
    return NULL;
}

/* The operation an Idempotency-Key names (op_ref), when it exists: it must be
 * this link's and of this kind. */
static enum db_status named_op(struct svc *s, const struct db_link *l, const char *op_ref,
                               bool (*kind_ok)(int op), struct db_payment_op *op, bool *existing,
                               const char **refused)
{
    *existing = false;
    if (!op_ref)
        return DB_NO_RESULTS;
    enum db_status st = DB_CALL(s->tx, payments, get, l->merchant_id, op_ref, op);
    if (st <= 0)
        return st;
    if (op->link_id != l->id || !kind_ok(op->op))
        return refuse(refused, "This Idempotency-Key was already used for another payment "
                               "operation");
    *existing = true;
    return DB_ONE_RESULT;
}

static bool is_capture(int op)
{
    return op == GW_OP_CAPTURE;
}

static bool is_return(int op)
{
    return op == GW_OP_REVERSE || op == GW_OP_VOID;
}

static bool is_refund(int op)
{
    return op == GW_OP_REFUND;
}

enum db_status svc_payment_op_begin(struct svc *s, const char *merchant_id, const char *ref,
                                    bool capture, const struct money_dec *amount,
                                    const char *op_ref, struct db_link *l, struct db_merchant *m,
                                    struct db_payment_op *op, bool *existing, const char **refused)
{
    struct arena *a = s->a;
    *refused = NULL;
    *existing = false;
    enum db_status st = load_link(s, merchant_id, ref, l, m);
    if (st <= 0)
        return st;
    st = named_op(s, l, op_ref, capture ? is_capture : is_return, op, existing, refused);
    if (st != DB_NO_RESULTS)
        return st;
    struct followups f = {0};
    st = DB_CALL(s->tx, payments, list, l->merchant_id, l->id, collect_followups, &f);
    if (st < 0)
        return st;
    const struct pay_rule *rule =
        payment_fsm(l->payment_status, capture ? PAY_E_CAPTURE : PAY_E_REVERSE);
    const char *status = payment_status_name(l->payment_status);
    if (rule->verdict == FSM_REFUSE)
        return refuse(refused, reason_with(a, rule->reason, status));
    if (!f.have_payment) /* SUCCESS, but only from a payment being returned */
        return refuse(
            refused,
            reason_with(a,
                        payment_fsm(PAY_PENDING, capture ? PAY_E_CAPTURE : PAY_E_REVERSE)->reason,
                        status));
    memset(op, 0, sizeof *op);
    memcpy(op->merchant_id, l->merchant_id, sizeof op->merchant_id);
    memcpy(op->gateway_id, f.payment.gateway_id, sizeof op->gateway_id); /* the payment's */
    op->link_id = l->id;
    if (op_ref)
        snprintf(op->ref, sizeof op->ref, "%s", op_ref);
    else
        svc_new_op_ref(op->ref);
    op->created_at = s->now;
    if (capture) {
        if (f.payment.op != GW_OP_AUTHORIZE)
            return refuse(refused, "Only an authorization can be captured; this payment was a "
                                   "Sale");
        if (f.captured)
            return refuse(refused, "The authorization has already been captured");
        int64_t minor = f.payment.amount_minor;
        if (amount) {
            const char *why = minor_amount(a, amount, l->currency, &minor);
            if (why)
                return refuse(refused, why);
            if (minor > f.payment.amount_minor)
                return refuse(refused, "amount: must not exceed the authorized amount");
        }
        op->op = GW_OP_CAPTURE;
        op->amount_minor = minor;
    } else {
        /* settled: a sale or capture older than the settlement delay */
        const struct db_payment_op *money = f.captured ? &f.capture : &f.payment;
        bool moved = f.captured || f.payment.op == GW_OP_SALE;
        if (moved && money->gateway_at + m->settlement_delay_s * 1000000 <= s->now)
            return refuse(refused, "The payment has been settled and cannot be reversed; "
                                   "refund it instead");
        if (moved) {
            /* a void returns all of it: not once part of it was refunded */
            struct refund_scan rs = {.money_ref = money->ref, .payment_ref = f.payment.ref};
            st = DB_CALL(s->tx, payments, list, l->merchant_id, l->id, collect_refunds, &rs);
            if (st < 0)
                return st;
            if (rs.refunded > 0)
                return refuse(refused, "The payment has refunds; refund the rest instead of "
                                       "voiding it");
        }
        op->op = moved ? GW_OP_VOID : GW_OP_REVERSE;
        op->amount_minor = money->amount_minor;
    }
    snprintf(op->parent_ref, sizeof op->parent_ref, "%s",
             f.captured && op->op == GW_OP_VOID ? f.capture.ref : f.payment.ref);
    st = DB_CALL(s->tx, payments, insert, op);
    if (st < 0)
        return st;
    if (st == 0)
        return refuse(refused, "Another capture, reversal or void of this payment is in "
                               "progress or has been done");
    return DB_ONE_RESULT;
}

/* ---- the merchant refunds -------------------------------------------------------------- */

enum db_status svc_refund_begin(struct svc *s, const char *merchant_id, const char *ref,
                                const struct money_dec *amount, const char *refund_ref,
                                struct db_link *l, struct db_merchant *m, struct db_payment_op *op,
                                bool *existing, const char **refused)
{
    struct arena *a = s->a;
    *refused = NULL;
    *existing = false;
    enum db_status st = load_link(s, merchant_id, ref, l, m);
    if (st <= 0)
        return st;
    st = named_op(s, l, refund_ref, is_refund, op, existing, refused);
    if (st != DB_NO_RESULTS)
        return st;
    struct refund_scan r = {0};
    st = DB_CALL(s->tx, payments, list, l->merchant_id, l->id, collect_followups, &r.f);
    if (st < 0)
        return st;
    const char *status = payment_status_name(l->payment_status);
    if (l->payment_status != PAY_SUCCESS || !r.f.have_payment)
        return refuse(refused, arena_printf(a,
                                            "Only a successful payment can be refunded; this "
                                            "payment is %s",
                                            status));
    if (r.f.payment.op == GW_OP_AUTHORIZE && !r.f.captured)
        return refuse(refused, "The authorization has not been captured: nothing has been "
                               "charged to refund; reverse it instead");
    const struct db_payment_op *money = r.f.captured ? &r.f.capture : &r.f.payment;
    r.money_ref = money->ref;
    r.payment_ref = r.f.payment.ref;
    st = DB_CALL(s->tx, payments, list, l->merchant_id, l->id, collect_refunds, &r);
    if (st < 0)
        return st;
    if (r.returning)
        return refuse(refused, "A void of this payment is in progress");
    usec_t settles = money->gateway_at + m->settlement_delay_s * 1000000;
    if (settles > s->now) {
        char when[40];
        time_format_rfc3339(settles, when, sizeof when);
        return refuse(refused, arena_printf(a,
                                            "The payment has not been settled yet (it settles "
                                            "at %s); reverse it instead, which voids it",
                                            when));
    }
    int64_t left = money->amount_minor - r.refunded;
    if (left <= 0)
        return refuse(refused, "The payment has been refunded in full");
    if (r.refunds >= REFUNDS_MAX)
        return refuse(refused, arena_printf(a,
                                            "The payment has had %d refunds, the most one "
                                            "payment takes",
                                            REFUNDS_MAX));
    int64_t minor = left;
    if (amount) {
        const char *why = minor_amount(a, amount, l->currency, &minor);
        if (why)
            return refuse(refused, why);
        if (minor > left) {
            const struct currency *cur = currency_find(l->currency);
            char text[32];
            money_format(left, cur ? cur->exponent : 2, text, sizeof text);
            return refuse(refused, arena_printf(a,
                                                "amount: must not exceed the amount that can "
                                                "still be refunded (%s %s)",
                                                text, l->currency));
        }
    }
    memset(op, 0, sizeof *op);
    memcpy(op->merchant_id, l->merchant_id, sizeof op->merchant_id);
    memcpy(op->gateway_id, money->gateway_id, sizeof op->gateway_id); /* the payment's */
    op->link_id = l->id;
    if (refund_ref)
        snprintf(op->ref, sizeof op->ref, "%s", refund_ref);
    else
        svc_new_refund_ref(op->ref);
    snprintf(op->parent_ref, sizeof op->parent_ref, "%s", money->ref);
    op->op = GW_OP_REFUND;
    op->amount_minor = minor;
    op->created_at = s->now;
    st = DB_CALL(s->tx, payments, insert, op);
    if (st < 0)
        return st;
    return st == 0 ? DB_SOFT_ERROR : DB_ONE_RESULT;
}

/* ---- closing and returning ------------------------------------------------------------ */

enum db_status svc_payment_close_abandoned(struct svc *s, const char *merchant_id, const char *ref,
                                           struct db_link *l, struct db_payment_op *op)
{
    enum db_status st = DB_CALL(s->tx, payments, get, merchant_id, ref, op);
    if (st <= 0)
        return st;
    if (op->state != 0)
        return DB_ONE_RESULT; /* answered meanwhile */
    st = DB_CALL(s->tx, links, get_by_id, merchant_id, op->link_id, s->a, l);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    op->state = 1;
    op->decision = GW_ERROR;
    op->flags |= DB_OP_ABANDONED;
    snprintf(op->error_text, sizeof op->error_text, "checkout abandoned by the customer");
    snprintf(op->note, sizeof op->note,
             "Closed by chatpay: the customer did not complete the checkout; nothing was charged");
    op->updated_at = s->now;
    st = DB_CALL(s->tx, payments, finish, op);
    if (st < 0)
        return st;
    /* a payment shown as UNKNOWN (its answer was lost) now has its outcome */
    if (is_payment(op) && payment_fsm(l->payment_status, PAY_E_ABANDONED)->verdict == FSM_MOVE) {
        l->payment_status = payment_fsm(l->payment_status, PAY_E_ABANDONED)->next;
        l->payment_status_at = s->now;
        st = DB_CALL(s->tx, links, update, l);
        if (st < 0)
            return st;
        st = payment_changed(s, l, NULL, "closed at the gateway without a payment");
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

enum db_status svc_payment_return_begin(struct svc *s, const struct db_payment_op *payment,
                                        struct db_payment_op *op)
{
    memset(op, 0, sizeof *op);
    /* the payment as it is now, under the write lock: a review accepted and
     * captured since the job read it is not reversed */
    struct db_payment_op cur;
    enum db_status st = DB_CALL(s->tx, payments, get, payment->merchant_id, payment->ref, &cur);
    if (st <= 0)
        return st;
    if (!svc_payment_returnable(&cur))
        return DB_NO_RESULTS;
    payment = &cur;
    memcpy(op->merchant_id, payment->merchant_id, sizeof op->merchant_id);
    memcpy(op->gateway_id, payment->gateway_id, sizeof op->gateway_id);
    op->link_id = payment->link_id;
    snprintf(op->ref, sizeof op->ref, "rv_%.26s", payment->ref + 3);
    memcpy(op->parent_ref, payment->ref, sizeof op->parent_ref);
    op->op = svc_payment_return_op(payment);
    /* what the gateway holds goes back (a reversal of more than a partial
     * approval held is refused) */
    op->amount_minor = payment->held_minor > 0 ? payment->held_minor : payment->amount_minor;
    op->created_at = s->now;
    if (payment->flags & DB_OP_ORPHAN)
        snprintf(op->note, sizeof op->note, "Returns %.*s, which the link could not take",
                 (int)sizeof payment->ref - 1, payment->ref);
    st = DB_CALL(s->tx, payments, insert, op);
    if (st < 0)
        return st;
    if (st == 0) /* begun before: it is there already (or another operation holds its place) */
        st = DB_CALL(s->tx, payments, get, payment->merchant_id, op->ref, op);
    return st;
}
