/*
 * payments.h — payment transitions: the customer begins a payment, the
 * gateway's answers are recorded, the merchant captures or reverses, a
 * checkout nobody completed is closed, a payment the link cannot take is
 * returned (see service.h). Every gateway call itself is made by the caller
 * with no transaction open, between two of these.
 */
#ifndef CHATPAY_SERVICE_PAYMENTS_H
#define CHATPAY_SERVICE_PAYMENTS_H

#include <stdbool.h>

#include "core/money.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"
#include "gateway/gateway.h"
#include "service/service.h"

/* How long after a payment operation begins its hosted checkout stays open:
 * the payment page's life plus this grace (seconds). Past it, the repair
 * sweep closes the checkout at the gateway. */
#define SVC_CHECKOUT_GRACE_S 300

/* A new operation reference ("op_" + 96 random bits) into out[DB_REF_LEN]. */
void svc_new_op_ref(char *out);

/* A new refund reference ("rf_" + 96 random bits) into out[DB_REF_LEN]. */
void svc_new_refund_ref(char *out);

/* The payment status that an operation's outcome gives a payment that was
 * `current` (what the operation's log entry shows). */
int svc_payment_status_after(const struct db_payment_op *op, int current);

/* What a gateway call about operation `op` needs: the operation with its
 * link's currency and, for a follow-up, the operation it acts on (strings in
 * s->a). `again`: the call repeats one whose answer was lost. */
enum db_status svc_gw_target(struct svc *s, const struct db_payment_op *op, bool again,
                             struct gw_target *t);

/* How long a repair of a pending operation holds it: a gateway call and a
 * margin (µs). */
#define SVC_REPAIR_HOLD (GW_TIMEOUT + 5LL * 1000000)

/* Claim pending operation `op`, whose answer was lost, for a repair that
 * does it again or asks about it (a request repeating it, a job, the repair
 * sweep) until `until` (at least s->now + SVC_REPAIR_HOLD for one that calls
 * the gateway). Two repairs at once could undo each other's work at the
 * gateway: CyberSource's repair voids a request it cannot find yet, and
 * the other repair's may be that request. DB_ONE_RESULT: claimed;
 * DB_NO_RESULTS: another repair holds it, or it is not pending any more. */
enum db_status svc_payment_claim_repair(struct svc *s, const struct db_payment_op *op,
                                        usec_t until);

/* Keep the gateway's id of operation `ref` (a checkout begun, a refund the
 * gateway has not completed). */
enum db_status svc_payment_gateway_ref(struct svc *s, const char *merchant_id, const char *ref,
                                       const char *gateway_ref);

/* A signed notice said the gateway took payment `ref` (still pending) but
 * the gateway's own answer does not show it yet: the attempt is never
 * closed as abandoned, and is asked about until the gateway shows it. */
enum db_status svc_payment_claimed(struct svc *s, const char *merchant_id, const char *ref);

/* Did a notice claim that the gateway took the money (its hint)? */
bool svc_hint_paid(const char *hint);

/* What the customer's Pay button finds. */
enum pay_outcome {
    PAY_GO,         /* a new or resumed operation: send the browser to the gateway */
    PAY_NO_LINK,    /* unknown token */
    PAY_GONE,       /* expired, cancelled, unusable, or its page's time ran out */
    PAY_LOCKED,     /* too many failed attempts */
    PAY_DONE,       /* already paid, or being confirmed */
    PAY_RETURNED,   /* paid, then reversed or voided by the merchant */
    PAY_NO_GATEWAY, /* the merchant has no payment gateway */
};

/* The payment attempt of link l begun and still waiting at the gateway (no
 * outcome yet), which Pay resumes: *op, DB_ONE_RESULT; DB_NO_RESULTS (op
 * zeroed) when there is none. *cancelled (if not NULL): the last attempt
 * answered was cancelled by the customer at the gateway's checkout. */
enum db_status svc_pay_pending(struct svc *s, const struct db_link *l, struct db_payment_op *op,
                               bool *cancelled);

/* The customer presses Pay on link `token`: resumes the attempt still
 * waiting at the gateway, or stores a new one (counting as the link's first
 * open when it is). *op is the attempt; *resumed tells which. */
enum db_status svc_pay_begin(struct svc *s, const char *token, enum pay_outcome *out,
                             struct db_link *l, struct db_merchant *m, struct db_payment_op *op,
                             bool *resumed);

/* Record the gateway's answer `res` for the pending operation `ref`: finish
 * the operation, move the link's payment status (core/payment_fsm.h), add
 * PAYMENT_STATUS_RECEIVED to its history and queue follow-up jobs (query an
 * unanswered payment, settle or auto-reverse a REVIEW). An operation that is
 * already finished is left alone (a repeated answer changes nothing).
 * GW_NO_ANSWER leaves the operation pending and the payment UNKNOWN.
 *
 * A payment the gateway accepted (or holds for review) when its link can no
 * longer take it — the link expired, was cancelled or is paid already, the
 * order was paid with another link, or chatpay had closed the checkout — is
 * an orphan: it is recorded with the reason (DB_OP_ORPHAN, note, a history
 * entry), the link's payment status is left as it is, and a job returns
 * the money at once (svc_payment_return_op). An order never keeps two
 * successful payments. *l and *op receive the state after recording. */
enum db_status svc_payment_record(struct svc *s, const char *merchant_id, const char *ref,
                                  const struct gw_result *res, struct db_link *l,
                                  struct db_payment_op *op);

/* The merchant asks to capture (amount: NULL for all of it) or to reverse
 * link `ref`'s payment: the rules are checked and the operation stored as
 * pending; *refused says why not (DB_ROLLBACK), and a link that is not the
 * merchant's gives DB_NO_RESULTS. op_ref names the operation when the
 * request carries an Idempotency-Key (derived from it), so that a repeat
 * whose claim was forgotten meanwhile (its gateway did not answer) finds
 * the same operation (*existing, *op is it, pending or answered) instead of
 * being refused as a second one; NULL for a new one. */
enum db_status svc_payment_op_begin(struct svc *s, const char *merchant_id, const char *ref,
                                    bool capture, const struct money_dec *amount,
                                    const char *op_ref, struct db_link *l, struct db_merchant *m,
                                    struct db_payment_op *op, bool *existing, const char **refused);

/* The merchant asks to refund link `ref`'s settled sale or capture (amount:
 * NULL for all that is not refunded yet). Refunds are several per payment,
 * never more than was captured in total: pending refunds count, and the
 * check and the insert are one write transaction. refund_ref names the
 * refund when the request carries an Idempotency-Key (derived from it), so
 * that a repeat whose claim was lost meanwhile finds the same refund
 * (*existing, *op is it) instead of making a second; NULL for a new one.
 * *refused says why not (DB_ROLLBACK); a link that is not the merchant's
 * gives DB_NO_RESULTS. An unsettled payment is reversed (voided), not
 * refunded. */
enum db_status svc_refund_begin(struct svc *s, const char *merchant_id, const char *ref,
                                const struct money_dec *amount, const char *refund_ref,
                                struct db_link *l, struct db_merchant *m, struct db_payment_op *op,
                                bool *existing, const char **refused);

/* Close a payment operation whose checkout the customer never completed,
 * after the gateway has closed it too (gateway_ops.cancel): no money moved.
 * A payment shown as UNKNOWN becomes FAILED. An operation answered
 * meanwhile is left alone. */
enum db_status svc_payment_close_abandoned(struct svc *s, const char *merchant_id, const char *ref,
                                           struct db_link *l, struct db_payment_op *op);

/* The operation that returns a payment chatpay could not take, or that a
 * link asked to reverse when held for review: a void of an accepted sale,
 * else a reversal. */
enum gw_operation svc_payment_return_op(const struct db_payment_op *payment);

/* Is `payment` one chatpay returns itself: held for review (with
 * paymentReviewAutoReversal), or accepted when its link could not take it? */
bool svc_payment_returnable(const struct db_payment_op *payment);

/* Store the operation that returns `payment` (an orphan, or a REVIEW payment
 * with paymentReviewAutoReversal) as pending, under a reference derived
 * from the payment's so that doing it again returns it once. *op receives
 * it (also when it existed already). DB_NO_RESULTS when there is nothing
 * to return any more: the payment, read again in this transaction, is no
 * longer one to return (a review decided meanwhile), or another capture,
 * reversal or void of it holds its place. */
enum db_status svc_payment_return_begin(struct svc *s, const struct db_payment_op *payment,
                                        struct db_payment_op *op);

#endif
