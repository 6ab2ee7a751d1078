/*
 * payment_fsm.h — the payment on a link, as a table: for each payment
 * status and each event, what happens.
 *
 * A link's payment is PENDING until the customer pays; the gateway's answer
 * makes it SUCCESS, FAILED (the customer may try again), REVIEW (the gateway
 * holds it) or UNKNOWN (no answer yet: asked again in the background). An
 * accepted payment can be captured (an authorization), reversed
 * (REVERSED) or voided (VOIDED). The statuses are the published
 * paymentStatus enum (core/status.h, PAY_*).
 *
 * A gateway answer that the table refuses (a payment accepted for a link
 * that is paid already) is not lost: the service records it and returns the
 * money (see service/payments.c). Pure: no I/O; unit-tested for every
 * (status, event) pair.
 */
#ifndef CHATPAY_CORE_PAYMENT_FSM_H
#define CHATPAY_CORE_PAYMENT_FSM_H

#include "core/link_fsm.h" /* enum fsm_verdict */

enum pay_event {
    PAY_E_BEGIN,           /* the customer starts a payment attempt */
    PAY_E_NO_ANSWER,       /* the attempt's answer did not come */
    PAY_E_ACCEPTED,        /* the gateway accepted the attempt */
    PAY_E_HELD,            /* the gateway holds the attempt for review */
    PAY_E_DECLINED,        /* the gateway declined the attempt, or failed */
    PAY_E_REVIEW_ACCEPTED, /* a payment under review was accepted */
    PAY_E_REVIEW_DECLINED, /* a payment under review was declined */
    PAY_E_CAPTURE,         /* the merchant asks to capture */
    PAY_E_REVERSE,         /* the merchant asks to reverse or void */
    PAY_E_CAPTURED,        /* the gateway accepted a capture */
    PAY_E_REVERSED,        /* the gateway accepted a reversal */
    PAY_E_VOIDED,          /* the gateway accepted a void */
    PAY_E_ABANDONED,       /* the checkout was closed without a payment */
    PAY_EVENT_COUNT
};

/* Payment statuses PAY_SUCCESS (1) .. PAY_VOIDED (7) */
#define PAY_STATUS_MIN 1
#define PAY_STATUS_MAX 7

struct pay_rule {
    enum fsm_verdict verdict;
    int next;           /* FSM_MOVE only: a payment status */
    const char *reason; /* FSM_REFUSE only; may hold one %s: the current status's name */
};

/* The rule for event e when the payment status is `status`. */
const struct pay_rule *payment_fsm(int status, enum pay_event e);

const char *pay_event_name(enum pay_event e);

#endif
