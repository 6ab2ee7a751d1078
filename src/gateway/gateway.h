/*
 * gateway.h — payment gateways.
 *
 * chatpay never sees a card number from a real gateway: a payment begins by
 * sending the customer's browser to the gateway's hosted checkout (a
 * redirect, or a signed form the browser posts; for the sandbox, chatpay's
 * own clearly-marked test form under /sandbox-gateway/), and ends when the
 * browser returns or the gateway sends a notice; chatpay then asks the
 * gateway for the result of its own reference, and only that answer is
 * recorded. Later operations (capture, reverse, void, refund) and repairs
 * (query) go server to server. Every call is made with no database
 * transaction open, after the intent has been stored, so that a crash is
 * repaired by asking the gateway with the same reference: nothing is charged
 * twice or lost.
 *
 * A kind of gateway (the sandbox, Stripe, CyberSource) is a table of
 * operations; an instance (struct gateway) is the built-in sandbox or one
 * merchant's configured gateway (`chatpay provider add --kind stripe`).
 */
#ifndef CHATPAY_GATEWAY_GATEWAY_H
#define CHATPAY_GATEWAY_GATEWAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/provider.h"
#include "db/db.h"
#include "util/arena.h"

enum gw_decision {
    GW_ACCEPT = 1,
    GW_DECLINE,
    GW_REVIEW,
    GW_ERROR,
    GW_NO_ANSWER, /* timeout or not yet decided: ask again later (query) */
};

const char *gw_decision_name(enum gw_decision d); /* "ACCEPT", ... "UNKNOWN" */

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

#define GW_REF_LEN 96 /* the gateway's id of an operation, with its NUL */

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
    /* the gateway's id of the operation, to keep with it (also while it is
     * pending: the refund a later query asks about); "" when nothing new */
    char gateway_ref[GW_REF_LEN];
    /* GW_NO_ANSWER because the gateway could not be asked (no connection,
     * a timeout, 5xx), not because the operation is not final */
    bool unreachable;
    /* GW_NO_ANSWER because the hosted checkout is still open: the customer
     * has not finished it (nothing happened yet, so nothing to record) */
    bool checkout_open;
    /* GW_ACCEPT of a payment for less than was asked (a partial approval):
     * not the payment asked for, so it is returned; held_minor is what the
     * gateway holds (0: it did not say) */
    bool partial;
    int64_t held_minor;
    /* GW_ERROR because the customer cancelled at the hosted checkout:
     * nothing was charged, and nothing went wrong */
    bool cancelled;
    /* GW_ERROR because the gateway itself says the payment was canceled
     * there (Stripe cancels an uncaptured authorization after 7 days, or the
     * merchant cancels it in Stripe's dashboard): an authorization recorded
     * as accepted is no longer held; error_text says why. Only from the
     * payment's own status, never for a call that failed */
    bool released;
};

/* A payment to begin (the customer pressed Pay). */
struct gw_payment {
    const char *merchant_id;
    const char *ref; /* our reference of the operation (unique, also the gateway's key) */
    int64_t amount_minor;
    const char *currency;
    enum gw_operation op;    /* GW_OP_AUTHORIZE or GW_OP_SALE */
    const char *return_url;  /* where the gateway sends the browser back with the result */
    const char *cancel_url;  /* where it sends a customer who gives up (the link's page) */
    const char *base_url;    /* chatpay's public URL (the sandbox gateway lives under it) */
    const char *locale;      /* the page's language ("en", "fr", ...) */
    const char *link_ref;    /* the link's paymentLinkRef */
    const char *description; /* what is paid for, in words ("Shop, order 42") */
    usec_t created_at;       /* when the operation was stored (the same on every resume) */
    const char *gateway_ref; /* the gateway's id of the checkout begun before ("" none) */
    usec_t expires_at;       /* the checkout takes no payment after this */
};

/* A field the browser posts to the gateway. */
struct gw_field {
    const char *name, *value;
};

/* Where the customer's browser goes: a redirect to url (nfields == 0), or
 * a form of these fields posted to url (auto-submitted, with a button for
 * browsers without JavaScript). Strings live in the arena given. */
struct gw_checkout {
    const char *url;
    const struct gw_field *fields;
    size_t nfields;
    char gateway_ref[GW_REF_LEN]; /* the gateway's id of the checkout, "" when none */
};

/* An operation, as a call about it sees it. */
struct gw_target {
    const char *merchant_id;
    const char *ref;         /* our reference (the gateway's idempotency key) */
    const char *gateway_ref; /* the gateway's id of it, "" until known */
    enum gw_operation op;
    int64_t amount_minor;
    const char *currency;
    /* a follow-up: the operation it acts on */
    const char *parent_ref;
    const char *parent_gateway_ref; /* the gateway's reference of the parent (request_ref) */
    enum gw_operation parent_op;
    /* asked again after an answer was lost: a kind whose operations are not
     * idempotent finds out what happened before doing anything */
    bool again;
    /* the decision a checked notice claimed ("CANCEL", ...; NULL none): a
     * hint where the gateway has nothing to show (a cancelled checkout) */
    const char *hint;
};

/* What closing a hosted checkout found (gateway_ops.cancel). */
enum gw_cancel {
    GW_CANCEL_CLOSED,    /* closed: no payment can follow (or none was ever begun) */
    GW_CANCEL_COMPLETED, /* too late: the customer paid; the result is in *out */
    GW_CANCEL_FAILED,    /* the gateway did not answer: try again later */
};

/* A notice from a gateway (a webhook, CyberSource's merchant POST or the
 * browser's receipt POST), after its signature was checked. It is a hint:
 * chatpay asks the gateway (result) before recording anything. */
struct gw_notice {
    char event_id[128]; /* the gateway's id of the notice ("" none): repeats are dropped */
    char ref[40];       /* our reference of the operation it is about ("" unknown) */
    char gateway_ref[GW_REF_LEN]; /* the gateway's id of it ("" unknown) */
    char decision[16];            /* what the notice claims ("" none): only a hint */
    /* the amount and currency the notice is for (has_amount): they must be
     * the operation's, or the notice is refused */
    bool has_amount;
    int64_t amount_minor;
    char currency[4];
};

enum gw_inbound_verdict {
    GW_IN_NOTICES,   /* signature good: notices[0..n) (maybe none) */
    GW_IN_FORBIDDEN, /* signature wrong or missing, or it does not match us: 403 */
    GW_IN_MALFORMED, /* signed but not understood: 400 */
};

struct gateway;

/* What a kind of gateway does. Every call is bounded by the instance's
 * timeout and ends early when its cancel flag is set; a call that does not
 * get an answer says GW_NO_ANSWER (or GW_CANCEL_FAILED), and the caller asks
 * again later. */
struct gateway_ops {
    const char *kind;                        /* "sandbox", "stripe", "cybersource" */
    const struct provider_setting *settings; /* ends with {NULL}; NULL for the sandbox */
    /* parse and check cfg into the kind's state; NULL with a message in err */
    void *(*create)(const struct provider_config *cfg, char *err, size_t errlen);
    void (*destroy)(void *state);
    /* do these settings hold live (production) credentials? test ones are
     * for sandbox merchants only */
    bool (*live)(const struct provider_config *cfg);
    /* Where to send the browser for payment p (the same payment begun again
     * gives the same checkout). */
    bool (*begin)(const struct gateway *g, const struct gw_payment *p, struct arena *a,
                  struct gw_checkout *out);
    /* The result of a payment (after the browser returned or a notice). */
    void (*result)(const struct gateway *g, const struct gw_target *t, struct gw_result *out);
    /* Capture, reverse, void or refund t (idempotent per t->ref). */
    void (*operate)(const struct gateway *g, const struct gw_target *t, struct gw_result *out);
    /* Ask again for an operation whose answer was lost or not final. */
    void (*query)(const struct gateway *g, const struct gw_target *t, struct gw_result *out);
    /* Close the hosted checkout of payment t, which the customer has not
     * completed, so that it can take no payment later. */
    enum gw_cancel (*cancel)(const struct gateway *g, const struct gw_target *t,
                             struct gw_result *out);
    /* Check and read what the gateway (or the browser, rq->rest "return")
     * posts; NULL when the kind posts nothing. */
    enum gw_inbound_verdict (*inbound)(const struct gateway *g, const struct provider_inbound *rq,
                                       struct arena *a, struct gw_notice **notices, size_t *n);
    /* its notices of a payment still unanswered are answered at once and
     * the gateway asked afterwards (a job): it wants a quick answer and
     * does not promise to post again */
    bool answer_first;
};

/* The longest a gateway call may take (a real gateway's instances have it
 * as their timeout), µs. */
#define GW_TIMEOUT (10LL * 1000000)

/* A gateway instance: a kind, its configuration and its state. */
struct gateway {
    const struct gateway_ops *ops;
    const char *id;             /* "sandbox", or the provider's id */
    const char *merchant_id;    /* NULL for the sandbox (it serves every sandbox merchant) */
    void *state;                /* the kind's own (the sandbox: its storage, struct db *) */
    usec_t timeout;             /* the longest a call may take, µs */
    const _Atomic bool *cancel; /* set when the process stops: calls in flight end */
};

/* The calls, through an instance. */
static inline bool gateway_begin(const struct gateway *g, const struct gw_payment *p,
                                 struct arena *a, struct gw_checkout *out)
{
    return g->ops->begin(g, p, a, out);
}
static inline void gateway_result(const struct gateway *g, const struct gw_target *t,
                                  struct gw_result *out)
{
    g->ops->result(g, t, out);
}
static inline void gateway_operate(const struct gateway *g, const struct gw_target *t,
                                   struct gw_result *out)
{
    g->ops->operate(g, t, out);
}
static inline void gateway_query(const struct gateway *g, const struct gw_target *t,
                                 struct gw_result *out)
{
    g->ops->query(g, t, out);
}
static inline enum gw_cancel gateway_cancel(const struct gateway *g, const struct gw_target *t,
                                            struct gw_result *out)
{
    return g->ops->cancel(g, t, out);
}

/* Is id a gateway's id chatpay may put into a URL or keep: 1 to max - 1
 * characters of [A-Za-z0-9_-]? (ids come from the gateway's answers) */
bool gw_id_ok(const char *id, size_t max);

/* A result that says the gateway did not answer (why: a short reason). */
void gw_no_answer(struct gw_result *out, const char *why);

/* The kinds. */
extern const struct gateway_ops gateway_sandbox_ops;
extern const struct gateway_ops gateway_stripe_ops;
extern const struct gateway_ops gateway_cybersource_ops;

/* The configurable kind named `kind` (not the sandbox), NULL when none. */
const struct gateway_ops *gateway_kind(const char *kind);

#endif
