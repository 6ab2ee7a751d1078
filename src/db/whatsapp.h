/*
 * whatsapp.h — WhatsApp Pay: a merchant's business numbers and payment
 * configurations, its orders (order_details messages), their payment
 * transactions and refunds.
 *
 * Part of the storage interface (db/db.h has the transaction runner),
 * reached with DB_CALL(tx, whatsapp, op, ...) inside db_run. Every
 * operation takes the merchant id and scopes its query by it, but the
 * order by its page token (the customer's page knows nothing else).
 */
#ifndef CHATPAY_DB_WHATSAPP_H
#define CHATPAY_DB_WHATSAPP_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "util/arena.h"
#include "util/time.h"

#define WA_ID_MAX 64 /* phone number ids, configuration names */

struct db_wa_number {
    char phone_number_id[WA_ID_MAX + 1];
    char merchant_id[DB_UUID_LEN];
    char display_number[16]; /* digits */
    bool enabled;
    usec_t created_at, updated_at;
};

struct db_wa_config {
    char merchant_id[DB_UUID_LEN];
    char name[WA_ID_MAX + 1];
    char gateway[16]; /* sandbox, razorpay, payu, billdesk, zaakpay */
    bool enabled;
    usec_t created_at, updated_at;
};

/* An order's payment: pending until a transaction succeeds (captured) or
 * the last one failed (failed; a new try may still succeed). */
enum wa_order_status { WA_ORDER_PENDING = 0, WA_ORDER_CAPTURED, WA_ORDER_FAILED };
/* A transaction's and a refund's status. */
enum wa_status { WA_PENDING = 0, WA_SUCCESS, WA_FAILED };
/* Whether the order's message went out. */
enum wa_message_state { WA_MSG_QUEUED = 0, WA_MSG_SENT, WA_MSG_FAILED };

struct db_wa_order {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
    char reference_id[36];
    char message_id[DB_UUID_LEN];
    char token[24]; /* the sandbox page's */
    char phone_number_id[WA_ID_MAX + 1];
    char payment_config[WA_ID_MAX + 1];
    char gateway[16];
    char msisdn_to[16];
    char currency[4];
    int64_t total_value, amount_offset;
    enum wa_order_status status;
    const char *message_text; /* body and footer */
    const char *order_json;   /* the order (items, subtotal, tax), for the page */
    const char *echo;         /* receipt, notes, udf*, additional_info*: a JSON object */
    enum wa_message_state message_state;
    usec_t created_at, updated_at;
};

struct db_wa_txn {
    int64_t id, order_id;
    char merchant_id[DB_UUID_LEN];
    char ref[40];
    enum wa_status status;
    char method[16];                       /* upi, card, netbanking, wallet */
    const char *error_code, *error_reason; /* failed only */
    usec_t created_at, updated_at;
};

struct db_wa_refund {
    int64_t id, transaction_id, order_id;
    char merchant_id[DB_UUID_LEN];
    char ref[40];
    int64_t amount; /* minor units */
    char speed[10]; /* normal, instant */
    enum wa_status status;
    usec_t created_at, updated_at;
};

typedef void (*db_wa_number_cb)(void *cls, const struct db_wa_number *n);
typedef void (*db_wa_config_cb)(void *cls, const struct db_wa_config *c);
typedef void (*db_wa_txn_cb)(void *cls, const struct db_wa_txn *t);
typedef void (*db_wa_refund_cb)(void *cls, const struct db_wa_refund *r);

struct db_whatsapp_ops {
    /* numbers: DB_NO_RESULTS when the phone number id is taken */
    enum db_status (*number_add)(struct db_tx *tx, const struct db_wa_number *n);
    enum db_status (*number_get)(struct db_tx *tx, const char *merchant_id, const char *pnid,
                                 struct db_wa_number *out);
    /* the enabled number with this display number */
    enum db_status (*number_by_display)(struct db_tx *tx, const char *merchant_id,
                                        const char *display, struct db_wa_number *out);
    enum db_status (*number_enable)(struct db_tx *tx, const char *merchant_id, const char *pnid,
                                    bool enabled, usec_t now);
    enum db_status (*number_list)(struct db_tx *tx, const char *merchant_id, db_wa_number_cb cb,
                                  void *cls);
    /* configurations: DB_NO_RESULTS when the merchant has one of this name */
    enum db_status (*config_add)(struct db_tx *tx, const struct db_wa_config *c);
    enum db_status (*config_get)(struct db_tx *tx, const char *merchant_id, const char *name,
                                 struct db_wa_config *out);
    enum db_status (*config_enable)(struct db_tx *tx, const char *merchant_id, const char *name,
                                    bool enabled, usec_t now);
    enum db_status (*config_list)(struct db_tx *tx, const char *merchant_id, db_wa_config_cb cb,
                                  void *cls);
    /* orders: DB_NO_RESULTS when the merchant has one with this reference
     * id (nothing inserted); sets o->id */
    enum db_status (*order_insert)(struct db_tx *tx, struct db_wa_order *o);
    enum db_status (*order_by_ref)(struct db_tx *tx, const char *merchant_id, const char *ref,
                                   struct arena *a, struct db_wa_order *out);
    enum db_status (*order_by_token)(struct db_tx *tx, const char *token, struct arena *a,
                                     struct db_wa_order *out);
    enum db_status (*order_get)(struct db_tx *tx, const char *merchant_id, int64_t id,
                                struct arena *a, struct db_wa_order *out);
    /* status, message_state, updated_at */
    enum db_status (*order_update)(struct db_tx *tx, const struct db_wa_order *o);
    /* transactions of an order, oldest first */
    enum db_status (*txn_insert)(struct db_tx *tx, struct db_wa_txn *t);
    enum db_status (*txn_update)(struct db_tx *tx, const struct db_wa_txn *t);
    enum db_status (*txn_list)(struct db_tx *tx, const char *merchant_id, int64_t order_id,
                               struct arena *a, db_wa_txn_cb cb, void *cls);
    /* refunds */
    enum db_status (*refund_insert)(struct db_tx *tx, struct db_wa_refund *r);
    enum db_status (*refund_get)(struct db_tx *tx, const char *merchant_id, int64_t id,
                                 struct db_wa_refund *out);
    enum db_status (*refund_update)(struct db_tx *tx, const struct db_wa_refund *r);
    /* of an order, oldest first */
    enum db_status (*refund_list)(struct db_tx *tx, const char *merchant_id, int64_t order_id,
                                  db_wa_refund_cb cb, void *cls);
    /* the amount of a transaction's refunds that are pending or succeeded */
    enum db_status (*refund_total)(struct db_tx *tx, const char *merchant_id,
                                   int64_t transaction_id, int64_t *out);
};

const struct db_whatsapp_ops *db_whatsapp_ops(struct db_tx *tx);

#endif
