/*
 * channel.h — sending messages to customers (SMS, WhatsApp) through
 * messaging provider instances, learning what became of them, and reading
 * what the providers post back (delivery receipts, replies).
 *
 * A kind of provider (the sandbox, Clickatell, WhatsApp Cloud, Twilio) is a
 * table of operations (struct channel_ops, one file each); an instance
 * (struct channel) is one merchant's configured provider: its settings
 * (secrets opened), the process's outbound HTTP (src/net) and the stop flag.
 * Every call is made by a worker or a handler with no database transaction
 * open, and is bounded by the instance's timeout.
 *
 * Sending has four outcomes, and the difference between the last two
 * matters: a request that cannot have been acted on (connection refused,
 * 429/503, Clickatell code 43) is CHANNEL_TRANSIENT and is retried; a
 * request that may have been acted on (a read timeout after the request was
 * sent) is CHANNEL_UNKNOWN and is never sent again blindly: the delivery
 * receipt or the status query tells what happened. No provider offers an
 * idempotency key for messages.
 */
#ifndef CHATPAY_CHANNEL_CHANNEL_H
#define CHATPAY_CHANNEL_CHANNEL_H

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/provider.h"
#include "db/db.h"
#include "util/arena.h"
#include "util/time.h"

struct net;

/* ---- sending --------------------------------------------------------------------------- */

/* What to send. WhatsApp messages with a button carry the link as a "Pay"
 * button (interactive cta_url) inside the 24-hour customer-service window
 * and as the merchant's approved template outside it. */
struct channel_message {
    const char *merchant_id;
    int64_t job_id; /* the job sending it (the sandbox keeps one message per job) */
    int64_t link_id;
    int channel;            /* CHANNEL_SMS / CHANNEL_WHATSAPP (core/status.h) */
    const char *from;       /* sender number (digits) or NULL: the provider's default */
    const char *to;         /* the customer's number: digits, no '+' */
    const char *text;       /* the message (an SMS: one segment) */
    const char *ref;        /* our reference of the message ("cpm_<job id>": one per job), sent
                               where the provider echoes it (clientMessageId,
                               biz_opaque_callback_data) */
    const char *status_url; /* where the provider should report this message's status
                               (Twilio's StatusCallback); NULL when configured at the provider */
    /* WhatsApp: a button under the text (NULL: plain text) */
    const char *button_text; /* at most 20 characters */
    const char *button_url;
    /* WhatsApp: the template to use when the 24-hour window is closed (NULL:
     * none configured); its body parameters in order */
    const char *template_name, *template_lang;
    const char *const *template_params;
    size_t ntemplate_params;
    /* WhatsApp: send the template alone, not the text first (the text was
     * taken before and then reported undelivered for the closed window) */
    bool template_only;
};

enum channel_outcome {
    CHANNEL_SENT,      /* the provider took it (provider_ref says how to find it) */
    CHANNEL_REJECTED,  /* refused for good: do not retry */
    CHANNEL_TRANSIENT, /* cannot have been acted on: retry (not before retry_after) */
    CHANNEL_UNKNOWN,   /* may have been acted on: do not send again; reconcile */
};

/* Why a send was refused, where it matters to what chatpay does next. */
enum channel_reason {
    CHANNEL_R_OTHER = 0,
    CHANNEL_R_AUTH,           /* the provider refused the credentials: it is unhealthy */
    CHANNEL_R_NOT_ON_CHANNEL, /* the number is not on WhatsApp (SMS fallback) */
    CHANNEL_R_WINDOW_CLOSED,  /* WhatsApp's 24-hour window is closed: the template, else the
                                 SMS fallback */
    CHANNEL_R_OPTED_OUT,      /* the customer opted out at the provider */
};

struct channel_result {
    enum channel_outcome outcome;
    enum channel_reason reason;
    int http_code;         /* the provider's HTTP status (0: no answer) */
    char code[16];         /* the provider's code for it ("" when none) */
    char description[128]; /* the provider's text (never a secret, never the message) */
    char provider_ref[96]; /* the provider's id of the message (apiMessageId, wamid, SM sid) */
    usec_t retry_after;    /* CHANNEL_TRANSIENT: wait at least this long (and the job's backoff) */
};

/* The answer *out to a WhatsApp template sent because the 24-hour window
 * is closed (or alone, after a report that it was): a refusal of the
 * template itself (its name, language or parameters: Meta's 132xxx) stays
 * the closed window's, so that the merchant's SMS fallback still takes the
 * link; a number not on WhatsApp, an opt-out or refused credentials keep
 * their own reason. */
static inline void channel_template_answered(struct channel_result *out)
{
    if (out->outcome == CHANNEL_REJECTED && out->reason == CHANNEL_R_OTHER)
        out->reason = CHANNEL_R_WINDOW_CLOSED;
}

/* ---- what became of a message --------------------------------------------------------- */

enum channel_delivery {
    DELIVERY_PENDING,   /* queued or sent, not delivered yet (or the provider does not know) */
    DELIVERY_DELIVERED, /* on the phone (or read) */
    DELIVERY_FAILED,    /* it will not be delivered */
};

struct channel_receipt {
    enum channel_delivery delivery;
    bool known; /* the provider has the message at all */
    int http_code;
    char code[16];
    char description[128];
    char status[32];            /* the provider's name of the state */
    usec_t at;                  /* the provider's time of it (0: unknown) */
    enum channel_reason reason; /* FAILED: why, where it matters (NOT_ON_CHANNEL, WINDOW_CLOSED) */
};

/* ---- what providers post back ---------------------------------------------------------- */

enum channel_event_kind {
    CHANNEL_EV_STATUS = 1, /* a message's state changed */
    CHANNEL_EV_REPLY,      /* the customer wrote (STOP, START, ...) */
};

struct channel_event {
    enum channel_event_kind kind;
    /* STATUS: which message (either may be empty) and what became of it */
    char provider_ref[96];
    char ref[40];
    enum channel_delivery delivery;
    char status[32];            /* the provider's name of the state */
    char code[16];              /* the provider's error code, "" when none */
    char description[128];      /* its text, "" when none */
    usec_t at;                  /* the provider's time of the event (0: unknown) */
    enum channel_reason reason; /* FAILED: why, where it matters (NOT_ON_CHANNEL, WINDOW_CLOSED) */
    /* REPLY: who wrote, to which number, what */
    char from[16], to[16];
    const char *text; /* in the arena given to inbound() */
};

enum channel_inbound_verdict {
    INBOUND_EVENTS,    /* signature good: *events holds n events (maybe 0); store, then 200 */
    INBOUND_ANSWER,    /* answer *reply as it is (a verification handshake) */
    INBOUND_FORBIDDEN, /* signature or verify token wrong or missing: 403, nothing stored */
    INBOUND_MALFORMED, /* signed but not understood: 400 */
};

struct channel_inbound_reply {
    int status;
    const char *content_type;
    const char *body;
};

/* ---- the kinds of providers ------------------------------------------------------------ */

struct channel;

struct channel_ops {
    const char *kind;  /* "sandbox", "clickatell", ... */
    unsigned channels; /* 1 << CHANNEL_SMS | 1 << CHANNEL_WHATSAPP it carries */
    const struct provider_setting *settings; /* ends with {NULL} */
    /* parse and check cfg into the kind's state; NULL with a message in err */
    void *(*create)(const struct provider_config *cfg, char *err, size_t errlen);
    void (*destroy)(void *state);
    void (*send)(const struct channel *ch, const struct channel_message *m,
                 struct channel_result *out);
    /* ask the provider about a message of the merchant's (its provider_ref;
     * our ref; the number it went to); NULL when the kind has no status query */
    void (*query)(const struct channel *ch, const char *merchant_id, const char *provider_ref,
                  const char *ref, const char *to, struct channel_receipt *out);
    /* how long after a send to ask query() when no receipt came (µs) */
    usec_t receipt_delay;
    /* its status reports are not signed (only the URL's token vouches for
     * them): a report of a final state only has query() asked at once, and
     * query()'s answer is what is recorded */
    bool confirm_reports;
    /* a posted body over the hooks' limit is answered 200 and dropped
     * unread: the kind posts media inline, which chatpay has no use for,
     * and would send it again for ever after a 413 */
    bool drops_oversize;
    /* check and read an inbound request; events and texts in the arena;
     * NULL when the kind receives nothing */
    enum channel_inbound_verdict (*inbound)(const struct channel *ch,
                                            const struct provider_inbound *rq, struct arena *a,
                                            struct channel_event **events, size_t *n,
                                            struct channel_inbound_reply *reply);
};

/* A messaging provider instance. */
struct channel {
    const struct channel_ops *ops;
    const char *id;             /* the provider's id ("sandbox" for the built-in one) */
    const char *merchant_id;    /* NULL for the sandbox (it serves every sandbox merchant) */
    const char *inbound_url;    /* <public_url>/hooks/<id>/<token>; NULL for the sandbox */
    void *state;                /* the kind's own (the sandbox: its outbox, struct db *) */
    usec_t timeout;             /* the longest a call may take, µs */
    const _Atomic bool *cancel; /* set when the process stops: calls in flight end */
};

static inline void channel_send(const struct channel *ch, const struct channel_message *m,
                                struct channel_result *out)
{
    ch->ops->send(ch, m, out);
}

/* The kinds: the sandbox (messages go to the sandbox_messages table;
 * numbers ending in 0000 are rejected, numbers ending in 0001 are accepted
 * and then not delivered, every other number is delivered), and the real
 * providers. */
extern const struct channel_ops channel_sandbox_ops;
extern const struct channel_ops channel_clickatell_ops;
extern const struct channel_ops channel_whatsapp_cloud_ops;
extern const struct channel_ops channel_twilio_ops;

/* The kind named `kind`, NULL when there is none. */
const struct channel_ops *channel_kind(const char *kind);

#endif
