/*
 * gateway.h — payment gateways.
 *
 * chatpay never sees a card number from a real gateway: a payment begins by
 * sending the customer's browser to the gateway's hosted checkout (for the
 * sandbox, chatpay's own clearly-marked test form under /sandbox-gateway/),
 * and ends when the browser returns or the gateway sends a notice; chatpay
 * then asks the gateway for the result of its own reference. Later
 * operations (capture, reverse, void) and repairs (query) go server to
 * server. Every call is made with no database transaction open, after the
 * intent has been stored, so that a crash is repaired by querying the
 * gateway with the same reference: nothing is charged twice or lost.
 */
#ifndef CHATPAY_GATEWAY_GATEWAY_H
#define CHATPAY_GATEWAY_GATEWAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

enum gw_decision {
    GW_ACCEPT = 1,
    GW_DECLINE,
    GW_REVIEW,
    GW_ERROR,
    GW_NO_ANSWER, /* timeout or not yet decided: ask again later (query) */
};

const char *gw_decision_name(enum gw_decision d); /* "ACCEPT", ... "UNKNOWN" */

/* What a gateway answered for one operation. */
struct gw_result {
    enum gw_decision decision;
    int response_code;    /* e.g. 100 accepted, 203 declined */
    char request_ref[40]; /* the gateway's reference of this request */
    char auth_ref[40];    /* authorization reconciliation reference */
    char card_type[16];   /* "VISA", "MASTERCARD", "AMEX" */
    char masked_pan[24];  /* first 6 + last 4 at most */
    char expiry[8];       /* "MM/YYYY" */
    char error_text[128]; /* reason when declined or failed */
    usec_t at;            /* the gateway's time of the answer */
};

/* GW_OP_REFUND returns part or all of a settled sale or capture; a payment
 * may have several, never more than was captured in total. */
enum gw_operation {
    GW_OP_AUTHORIZE = 1,
    GW_OP_SALE,
    GW_OP_CAPTURE,
    GW_OP_REVERSE,
    GW_OP_VOID,
    GW_OP_REFUND
};

struct gw_payment {
    const char *merchant_id;
    const char *ref; /* our reference of the operation (unique, also the gateway's key) */
    int64_t amount_minor;
    const char *currency;
    enum gw_operation op;   /* GW_OP_AUTHORIZE or GW_OP_SALE for a payment */
    const char *return_url; /* where the gateway sends the browser back */
    const char *base_url;   /* chatpay's public URL (the sandbox gateway lives under it) */
    usec_t expires_at;      /* the checkout takes no payment after this */
};

/* What closing a hosted checkout found (gateway_ops.cancel). */
enum gw_cancel {
    GW_CANCEL_CLOSED,    /* closed: no payment can follow (or none was ever begun) */
    GW_CANCEL_COMPLETED, /* too late: the customer paid; the result is in *out */
    GW_CANCEL_FAILED,    /* the gateway did not answer: try again later */
};

struct gateway;

/* What a kind of gateway does (one table per kind: the sandbox, ...). Every
 * call is bounded by the instance's timeout and ends early when its cancel
 * flag is set; a call that does not get an answer says GW_NO_ANSWER (or
 * GW_CANCEL_FAILED), and the caller asks again later. */
struct gateway_ops {
    const char *kind; /* "sandbox", ... */
    /* The URL to send the customer's browser to (into url[cap]). */
    bool (*begin)(const struct gateway *g, const struct gw_payment *p, char *url, size_t cap);
    /* The result of a payment begun with `ref` (after the browser returned). */
    void (*result)(const struct gateway *g, const char *merchant_id, const char *ref,
                   struct gw_result *out);
    /* Server-to-server operations on an earlier payment `payment_ref`, made
     * under the operation's own reference `ref` (idempotent per ref):
     * capture, reverse, void, and refund (payment_ref: the sale or capture
     * refunded; amount_minor: this refund's). A refund the gateway has taken
     * but not yet completed says GW_NO_ANSWER and is asked again. */
    void (*operate)(const struct gateway *g, const char *merchant_id, enum gw_operation op,
                    const char *ref, const char *payment_ref, int64_t amount_minor,
                    struct gw_result *out);
    /* Ask again for an operation whose answer was lost or not final. */
    void (*query)(const struct gateway *g, const char *merchant_id, const char *ref,
                  struct gw_result *out);
    /* Close the hosted checkout of a payment begun with `ref` that the
     * customer has not completed, so that it can take no payment later. */
    enum gw_cancel (*cancel)(const struct gateway *g, const char *merchant_id, const char *ref,
                             struct gw_result *out);
};

/* A gateway instance: a kind, its configuration and its state. */
struct gateway {
    const struct gateway_ops *ops;
    const char *id;             /* the instance's name ("sandbox", or a configured id) */
    void *state;                /* the kind's own (the sandbox: its storage, struct db *) */
    usec_t timeout;             /* the longest a call may take, µs */
    const _Atomic bool *cancel; /* set when the process stops: calls in flight end */
};

/* The calls, through an instance. */
static inline bool gateway_begin(const struct gateway *g, const struct gw_payment *p, char *url,
                                 size_t cap)
{
    return g->ops->begin(g, p, url, cap);
}
static inline void gateway_result(const struct gateway *g, const char *merchant_id, const char *ref,
                                  struct gw_result *out)
{
    g->ops->result(g, merchant_id, ref, out);
}
static inline void gateway_operate(const struct gateway *g, const char *merchant_id,
                                   enum gw_operation op, const char *ref, const char *payment_ref,
                                   int64_t amount_minor, struct gw_result *out)
{
    g->ops->operate(g, merchant_id, op, ref, payment_ref, amount_minor, out);
}
static inline void gateway_query(const struct gateway *g, const char *merchant_id, const char *ref,
                                 struct gw_result *out)
{
    g->ops->query(g, merchant_id, ref, out);
}
static inline enum gw_cancel gateway_cancel(const struct gateway *g, const char *merchant_id,
                                            const char *ref, struct gw_result *out)
{
    return g->ops->cancel(g, merchant_id, ref, out);
}

/* The sandbox gateway kind (sandbox.c). */
extern const struct gateway_ops gateway_sandbox_ops;

#endif
