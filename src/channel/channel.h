/*
 * channel.h — sending messages to customers (SMS, WhatsApp) and learning
 * whether they were delivered, through messaging provider instances.
 */
#ifndef CHATPAY_CHANNEL_CHANNEL_H
#define CHATPAY_CHANNEL_CHANNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

struct channel_message {
    const char *merchant_id;
    int64_t job_id;
    int64_t link_id;
    int channel; /* CHANNEL_SMS / CHANNEL_WHATSAPP */
    const char *from, *to, *text;
};

enum channel_outcome {
    CHANNEL_SENT,      /* accepted by the provider */
    CHANNEL_REJECTED,  /* refused for good (bad number, blocked): do not retry */
    CHANNEL_TRANSIENT, /* could not reach the provider: retry later */
};

struct channel_result {
    enum channel_outcome outcome;
    int http_code;         /* the provider's HTTP status */
    char code[16];         /* the provider's response code */
    char description[128]; /* the provider's description */
    int64_t message_id;    /* the provider's id of the message (for receipts) */
};

enum channel_delivery { DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED };

struct channel_receipt {
    enum channel_delivery delivery;
    int http_code;
    char code[16];
    char description[128];
};

struct channel;

/* What a kind of messaging provider does (one table per kind). Calls are
 * made by the job workers outside any database transaction, bounded by the
 * instance's timeout; `send` must be idempotent per job id (a job may run
 * again after a crash): real providers pass the job's reference as their
 * client reference, the sandbox stores one message per job. */
struct channel_ops {
    const char *kind; /* "sandbox", ... */
    void (*send)(const struct channel *ch, const struct channel_message *m,
                 struct channel_result *out);
    /* the delivery state of a message sent earlier to `to` */
    void (*receipt)(const struct channel *ch, const char *merchant_id, int64_t message_id,
                    const char *to, struct channel_receipt *out);
    /* how long after sending a receipt is worth asking for (µs); 0: the
     * provider reports deliveries itself */
    usec_t receipt_delay;
};

/* A messaging provider instance: a kind, its configuration and its state. */
struct channel {
    const struct channel_ops *ops;
    const char *id;             /* the instance's name ("sandbox", or a configured id) */
    void *state;                /* the kind's own (the sandbox: its outbox, struct db *) */
    usec_t timeout;             /* the longest a call may take, µs */
    const _Atomic bool *cancel; /* set when the process stops: calls in flight end */
};

static inline void channel_send(const struct channel *ch, const struct channel_message *m,
                                struct channel_result *out)
{
    ch->ops->send(ch, m, out);
}
static inline void channel_receipt(const struct channel *ch, const char *merchant_id,
                                   int64_t message_id, const char *to, struct channel_receipt *out)
{
    ch->ops->receipt(ch, merchant_id, message_id, to, out);
}

/* The sandbox kind: messages go to the sandbox_messages table; numbers
 * ending in 0000 are rejected, numbers ending in 0001 are accepted and then
 * not delivered, every other number is delivered. */
extern const struct channel_ops channel_sandbox_ops;

#endif
