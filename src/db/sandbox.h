/*
 * sandbox.h — what the sandbox providers keep: the sandbox channel's outbox
 * (messages) and the sandbox gateway's records.
 *
 * Part of the storage interface (db/db.h has the transaction runner): the
 * records of this aggregate and the operations on them, which callers reach
 * with DB_CALL(tx, group, op, ...) inside db_run. Every operation that
 * touches merchant data takes the merchant id and scopes its query by it.
 */
#ifndef CHATPAY_DB_SANDBOX_H
#define CHATPAY_DB_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#include "db/links.h"
#include "util/arena.h"
#include "util/time.h"

/* A message recorded by the sandbox channel. */
struct db_message {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
    int64_t job_id; /* the job that sent it (unique: a retried job sends once) */
    int64_t link_id;
    int channel;
    char msisdn_from[16];
    char msisdn_to[16];
    const char *text;
    const char *status; /* "SENT", "DELIVERED", "FAILED", "UNDELIVERED" */
    usec_t created_at;
};

typedef void (*db_message_cb)(void *cls, const struct db_message *m);

enum sandbox_gw_state {
    SANDBOX_GW_WAITING = 0,   /* waiting for the card form */
    SANDBOX_GW_CHALLENGE = 1, /* waiting for 3-D Secure */
    SANDBOX_GW_DECIDED = 2,
    SANDBOX_GW_CLOSED = 3, /* closed without a payment (expired or cancelled) */
};

/* The sandbox gateway's own record of an operation (what a real gateway
 * would keep on its side). Never holds a card number. */
/* card_type of a WhatsApp Pay payment the sandbox gateway took, followed by
 * its method ("wa:upi"): its refunds whose amount ends in 13 (minor units)
 * are declined, as the test card's are for card payments. */
#define SANDBOX_GW_WHATSAPP "wa:"

struct db_sandbox_gw {
    char ref[DB_REF_LEN];
    char merchant_id[DB_UUID_LEN];
    int op;
    char parent_ref[DB_REF_LEN];
    int64_t amount_minor;
    char currency[4];
    char return_url[600];
    int state;    /* enum sandbox_gw_state */
    int decision; /* enum gw_decision */
    int response_code;
    char request_ref[40];
    char auth_ref[40];
    char card_type[16];
    char masked_pan[24];
    char expiry[8];
    char error_text[128];
    bool answered; /* false: the decision exists but the answer was "lost" (timeout card) */
    usec_t created_at;
    usec_t decided_at;
    usec_t expires_at; /* the checkout form refuses payments after this (0: never) */
};

struct db_messages_ops {
    /* sets m->id; DB_NO_RESULTS when the job already sent its message */
    enum db_status (*insert)(struct db_tx *tx, struct db_message *m);
    enum db_status (*get_by_job)(struct db_tx *tx, int64_t job_id, struct arena *a,
                                 struct db_message *out);
    enum db_status (*set_status)(struct db_tx *tx, const char *merchant_id, int64_t id,
                                 const char *status);
    /* newest first; to may be NULL for all */
    enum db_status (*list)(struct db_tx *tx, const char *merchant_id, const char *to, int limit,
                           struct arena *a, db_message_cb cb, void *cls);
    /* drop at most `limit` of the messages stored before `before`, the
     * oldest first: how many it dropped */
    enum db_status (*purge)(struct db_tx *tx, usec_t before, int limit);
};

struct db_sandbox_gateway_ops {
    /* DB_NO_RESULTS when the ref exists already */
    enum db_status (*insert)(struct db_tx *tx, const struct db_sandbox_gw *g);
    enum db_status (*get)(struct db_tx *tx, const char *ref, struct db_sandbox_gw *out);
    /* store state, decision and result fields */
    enum db_status (*update)(struct db_tx *tx, const struct db_sandbox_gw *g);
};

const struct db_messages_ops *db_messages_ops(struct db_tx *tx);
const struct db_sandbox_gateway_ops *db_sandbox_gateway_ops(struct db_tx *tx);

#endif
