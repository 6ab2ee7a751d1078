/*
 * links.h — payment links and their history (transactionStatuses).
 *
 * Part of the storage interface (db/db.h has the transaction runner): the
 * records of this aggregate and the operations on them, which callers reach
 * with DB_CALL(tx, group, op, ...) inside db_run. Every operation that
 * touches merchant data takes the merchant id and scopes its query by it.
 */
#ifndef CHATPAY_DB_LINKS_H
#define CHATPAY_DB_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#include "util/arena.h"
#include "util/time.h"

/* A payment link. Variable-length text lives in the arena given to the read. */
#define DB_REF_LEN 32
struct db_link {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
    char ref[DB_REF_LEN];   /* paymentLinkRef */
    char token[DB_REF_LEN]; /* the secret in <public-url>/p/<token> */
    const char *order_number;
    int channel; /* enum channel_type */
    char msisdn_to[16];
    char msisdn_from[16]; /* "" when not given */
    char currency[4];
    int64_t total_minor;
    bool has_subtotal, has_tax;
    int64_t subtotal_minor, tax_minor;
    int transaction_type;                  /* enum transaction_type */
    char application_id[DB_UUID_LEN];      /* "" when not given */
    char gateway_settings_id[DB_UUID_LEN]; /* "" when not given */
    const char *reconciliation_id;         /* NULL when not given */
    const char *merchant_descriptor;       /* NULL when not given */
    const char *additional_data;           /* JSON object text or NULL */
    const char *line_items;                /* JSON array text (normalised) or NULL */
    bool auto_reversal;
    usec_t request_timestamp; /* the client's "timestamp" */
    int status;               /* current transactionStatus id (core/status.h) */
    int payment_status;       /* enum payment_status */
    bool live; /* blocks a new link for the order: not expired (unless paid), cancelled,
                  failed to send, reversed or voided */
    usec_t created_at;
    usec_t expires_at;        /* the link stops working at this time */
    usec_t clicked_at;        /* first open; 0 before */
    usec_t page_expires_at;   /* payment page deadline; 0 before the first open */
    const char *receipt_ref;  /* receiptLinkRef or NULL */
    int attempts;             /* payments tried on this link */
    usec_t payment_status_at; /* when payment_status last changed; 0 before */
    usec_t conversion_at;     /* when a REVIEW outcome was finalised; 0 otherwise */
    const char *receipt_link; /* the receipt's URL the customer was sent, or NULL */
    int receipt_state;        /* enum receipt_state */
};

/* Where the link's receipt is (POST /api/v2/order-receipt). */
enum receipt_state {
    RECEIPT_NONE = 0,
    RECEIPT_REQUESTED, /* asked for, being sent */
    RECEIPT_SENT,      /* the channel took it */
    RECEIPT_FAILED,    /* it could not be sent, or not delivered: another may be asked for */
    RECEIPT_DELIVERED,
};

/* Why an order number cannot have a new link (links.order_block). */
enum order_block {
    ORDER_FREE = 0,
    ORDER_LIVE,        /* a link that has not expired and is not paid */
    ORDER_IN_PROGRESS, /* a payment is running: pending at the gateway, UNKNOWN or REVIEW */
    ORDER_PAID,        /* a successful payment that was not reversed or voided */
};

/* One entry of a link's history (transactionStatuses). */
struct db_link_status {
    int status;
    usec_t created_at;
    int http_code;             /* 0 when no provider answered */
    const char *response_code; /* NULL when none */
    const char *response_desc; /* NULL when none */
};

typedef void (*db_link_status_cb)(void *cls, const struct db_link_status *s);
typedef void (*db_link_id_cb)(void *cls, int64_t link_id, const char *merchant_id);

struct db_links_ops {
    /* A new link with its first history entry, unless its order is taken:
     * a live link of the order blocks it (order_block's rules, at
     * l->created_at). DB_ONE_RESULT and l->id; DB_NO_RESULTS, nothing
     * written, with the reason in *why and that link's reference in
     * ref[DB_REF_LEN]. One statement where the backend can: the check and
     * the writes are one round trip to PostgreSQL. */
    enum db_status (*insert)(struct db_tx *tx, struct db_link *l,
                             const struct db_link_status *first, enum order_block *why, char *ref);
    enum db_status (*get_by_ref)(struct db_tx *tx, const char *merchant_id, const char *ref,
                                 struct arena *a, struct db_link *out);
    /* the newest link for an order number */
    enum db_status (*get_by_order)(struct db_tx *tx, const char *merchant_id,
                                   const char *order_number, struct arena *a, struct db_link *out);
    enum db_status (*get_by_receipt)(struct db_tx *tx, const char *merchant_id,
                                     const char *receipt_ref, struct arena *a, struct db_link *out);
    enum db_status (*get_by_id)(struct db_tx *tx, const char *merchant_id, int64_t id,
                                struct arena *a, struct db_link *out);
    /* by the token of /p/<token>; the token itself identifies the merchant */
    enum db_status (*get_by_token)(struct db_tx *tx, const char *token, struct arena *a,
                                   struct db_link *out);
    /* What keeps the order from a new link: the strongest reason among
     * its live links other than `except_id` (0: none) into *reason,
     * and that link's reference into ref[DB_REF_LEN] ("" when free). */
    enum db_status (*order_block)(struct db_tx *tx, const char *merchant_id,
                                  const char *order_number, int64_t except_id, usec_t now,
                                  enum order_block *reason, char *ref);
    /* store status, payment_status, live, expires_at, clicked_at, page_expires_at,
     * attempts, payment_status_at, conversion_at and the receipt's fields */
    enum db_status (*update)(struct db_tx *tx, const struct db_link *l);
    /* live, unpaid links whose expiry has passed and that have no
     * payment running at the gateway (workers: across merchants) */
    enum db_status (*list_expired)(struct db_tx *tx, usec_t now, int limit, db_link_id_cb cb,
                                   void *cls);
    enum db_status (*status_append)(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                    const struct db_link_status *s);
    enum db_status (*status_list)(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                  struct arena *a, db_link_status_cb cb, void *cls);
};

const struct db_links_ops *db_links_ops(struct db_tx *tx);

#endif
