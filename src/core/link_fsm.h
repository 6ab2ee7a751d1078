/*
 * link_fsm.h — the life of a payment link, as a table: for each state and
 * each event, what happens.
 *
 * A link is created REQUESTED, sent (or not: channel none), maybe delivered,
 * opened by the customer, and ends cancelled, expired or unusable (its
 * message could not be sent). Events that come after the end, or that no
 * longer change where the link is (a send result recorded after the customer
 * already opened the link), are kept in the history but leave the state.
 *
 * The payment on a link has a table of its own (core/payment_fsm.h); the
 * two meet in the service layer (an expiry waits for a running payment).
 * Pure: no I/O; unit-tested for every (state, event) pair.
 */
#ifndef CHATPAY_CORE_LINK_FSM_H
#define CHATPAY_CORE_LINK_FSM_H

#include <stdbool.h>

enum link_state {
    LINK_S_REQUESTED,   /* created; not sent yet (or never: channel none) */
    LINK_S_SENT,        /* the channel took the message */
    LINK_S_DELIVERED,   /* the channel says the customer's phone has it */
    LINK_S_UNDELIVERED, /* the channel could not deliver it (the link still works) */
    LINK_S_OPENED,      /* the customer opened it (page or Pay button) */
    LINK_S_SEND_FAILED, /* the message could not be sent: the link is unusable (final) */
    LINK_S_CANCELLED,   /* cancelled by the merchant before it was opened (final) */
    LINK_S_EXPIRED,     /* its time ran out (final) */
    LINK_STATE_COUNT
};

enum link_event {
    LINK_E_SENT,            /* the channel accepted the message */
    LINK_E_SEND_FAILED,     /* the channel refused it for good */
    LINK_E_DELIVERED,       /* delivery receipt: delivered */
    LINK_E_DELIVERY_FAILED, /* delivery receipt: not delivered */
    LINK_E_OPEN,            /* the customer's first request (page or Pay button) */
    LINK_E_CANCEL,          /* the merchant cancels */
    LINK_E_EXPIRE,          /* the link's time is up (and no payment holds it open) */
    LINK_EVENT_COUNT
};

enum fsm_verdict {
    FSM_MOVE,   /* go to `next`; record the event in the history */
    FSM_STAY,   /* record the event in the history; the state does not change */
    FSM_IGNORE, /* nothing to do, nothing recorded (it happened already) */
    FSM_REFUSE, /* not allowed: `reason` says why */
};

struct link_rule {
    enum fsm_verdict verdict;
    enum link_state next; /* FSM_MOVE only */
    const char *reason;   /* FSM_REFUSE only: for the merchant's API */
};

/* The rule for event e in state s (both in range). */
const struct link_rule *link_fsm(enum link_state s, enum link_event e);

/* Final states: the link can no longer be used. */
bool link_state_final(enum link_state s);

/* The transactionStatus id (core/status.h) that stands for a state, and
 * back (a status that is not a state's gives LINK_S_REQUESTED). */
int link_state_status(enum link_state s);
enum link_state link_state_from_status(int status);

/* The history entry (transactionStatus id) an event records. */
int link_event_status(enum link_event e);

const char *link_state_name(enum link_state s); /* "REQUESTED", ... */
const char *link_event_name(enum link_event e); /* "SENT", ... */

#endif
