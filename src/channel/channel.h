/*
 * channel.h — sending messages to customers (SMS, WhatsApp) and learning
 * whether they were delivered.
 *
 * A channel provider implements struct channel_ops. Calls are made by the
 * job workers outside any database transaction; a provider that talks to
 * the network must bound each call in time. `send` must be idempotent per
 * job id (a job may run again after a crash): real providers pass the job id
 * as their client reference, the sandbox stores one message per job.
 */
#ifndef CHATPAY_CHANNEL_CHANNEL_H
#define CHATPAY_CHANNEL_CHANNEL_H

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

struct channel_ops {
    const char *name;
    void (*send)(struct db *db, const struct channel_message *m, struct channel_result *out);
    /* the delivery state of a message sent earlier to `to` */
    void (*receipt)(struct db *db, const char *merchant_id, int64_t message_id, const char *to,
                    struct channel_receipt *out);
    /* how long after sending a receipt is worth asking for (µs) */
    usec_t receipt_delay;
};

/* The sandbox provider: messages go to the sandbox_messages table; numbers
 * ending in 0000 are rejected, numbers ending in 0001 are accepted and then
 * not delivered, every other number is delivered. */
extern const struct channel_ops channel_sandbox;

#endif
