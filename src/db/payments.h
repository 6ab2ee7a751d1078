/*
 * payments.h — gateway operations on payment links (paymentStatuses).
 *
 * Part of the storage interface (db/db.h has the transaction runner): the
 * records of this aggregate and the operations on them, which callers reach
 * with DB_CALL(tx, group, op, ...) inside db_run. Every operation that
 * touches merchant data takes the merchant id and scopes its query by it.
 */
#ifndef CHATPAY_DB_PAYMENTS_H
#define CHATPAY_DB_PAYMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#include "db/links.h"
#include "util/time.h"

#define DB_GATEWAY_REF_LEN 96

/* One gateway operation on a link: the payment itself (authorize or sale),
 * then capture, reverse or void. Stored as pending before the gateway is
 * called; finished with the gateway's answer. */
struct db_payment_op {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
    int64_t link_id;
    char ref[DB_REF_LEN];        /* our reference, the gateway's idempotency key */
    int op;                      /* enum gw_operation (gateway/gateway.h) */
    char parent_ref[DB_REF_LEN]; /* capture/reverse/void: the payment's ref; "" otherwise */
    int64_t amount_minor;
    int state;    /* 0 pending, 1 finished */
    int decision; /* enum gw_decision; 0 while pending */
    int response_code;
    char request_ref[40];
    char auth_ref[40];
    char card_type[16];
    char masked_pan[24];
    char expiry[8];
    char error_text[128];
    usec_t gateway_at;
    usec_t created_at;
    usec_t updated_at;
    unsigned flags; /* DB_OP_* */
    char note[160]; /* why chatpay closed or returned it ("" when it did not) */
    char gateway_ref[DB_GATEWAY_REF_LEN]; /* the gateway's id of it (a checkout, a refund),
                                             "" until known */
    char gateway_id[DB_UUID_LEN];         /* the gateway it went through: a provider id, ""
                                             for the sandbox gateway */
    int64_t held_minor;                   /* DB_OP_PARTIAL: what the gateway held (0: not said) */
    usec_t repair_at; /* while pending: no repair acts on it before this (set to created_at
                         by insert; claim_repair moves it) */
};

/* Flags of a payment operation. */
#define DB_OP_ABANDONED 1u /* closed by chatpay: the customer never completed the checkout */
#define DB_OP_ORPHAN    2u /* accepted when its link could not take it: returned at once */
#define DB_OP_CLAIMED                                                                              \
    4u /* a signed notice said the gateway took it, but the gateway's                              \
          answer did not show it yet: never closed as abandoned */
#define DB_OP_PARTIAL                                                                              \
    8u /* the gateway approved less than was asked, held_minor (with DB_OP_ORPHAN:                 \
          returned) */
#define DB_OP_CANCELLED                                                                            \
    16u /* not paid (GW_ERROR) because the customer cancelled at the gateway's checkout */

typedef void (*db_payment_op_cb)(void *cls, const struct db_payment_op *op);

struct db_payments_ops {
    /* sets op->id; DB_NO_RESULTS when a capture/reverse/void of the link
     * is already pending or done (the unique rule), or the ref exists */
    enum db_status (*insert)(struct db_tx *tx, struct db_payment_op *op);
    enum db_status (*get)(struct db_tx *tx, const char *merchant_id, const char *ref,
                          struct db_payment_op *out);
    /* store the gateway's answer (state, decision and gateway fields of
     * op, held_minor included) and its flags and note */
    enum db_status (*finish)(struct db_tx *tx, const struct db_payment_op *op);
    /* does any operation of the merchant go through gateway `gateway_id`?
     * (DB_ONE_RESULT when one does) */
    enum db_status (*uses_gateway)(struct db_tx *tx, const char *merchant_id,
                                   const char *gateway_id);
    /* store the gateway's id of a pending operation (DB_NO_RESULTS when it
     * is not pending any more) */
    enum db_status (*set_gateway_ref)(struct db_tx *tx, const char *merchant_id, const char *ref,
                                      const char *gateway_ref);
    /* oldest first */
    enum db_status (*list)(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                           db_payment_op_cb cb, void *cls);
    /* pending operations created before `before` whose repair time is due
     * (repair_at <= due), across merchants, the longest due first, so that
     * none waits behind others asked about again and again */
    enum db_status (*list_pending)(struct db_tx *tx, usec_t due, usec_t before, int limit,
                                   db_payment_op_cb cb, void *cls);
    /* claim a pending operation for a repair (the sweep's, a job's, a
     * request's that repeats one): its repair time becomes `until`, if it
     * is due (repair_at <= now); DB_NO_RESULTS when it is not pending any
     * more, or another repair holds it until later */
    enum db_status (*claim_repair)(struct db_tx *tx, const char *merchant_id, const char *ref,
                                   usec_t now, usec_t until);
};

const struct db_payments_ops *db_payments_ops(struct db_tx *tx);

#endif
