/*
 * callbacks.h — merchant callbacks: where a merchant (or one of its
 * integrators) wants to be told about its links and configuration, the
 * secret that signs what is sent, and every delivery with its attempts (the
 * delivery log).
 *
 * Part of the storage interface (db/db.h has the transaction runner). Every
 * operation that touches merchant data takes the merchant id and scopes its
 * query by it; the workers' reads by id go across merchants.
 */
#ifndef CHATPAY_DB_CALLBACKS_H
#define CHATPAY_DB_CALLBACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "util/arena.h"
#include "util/time.h"

/* The three kinds of Chat 2 Pay callbacks. */
enum callback_kind {
    CB_PAYMENT_STATUS = 1, /* after every change of a link's payment status */
    CB_TRANSACTION_EVENT,  /* on every entry of a link's history */
    CB_SETTINGS,           /* on every change of the merchant's configuration */
};
#define CB_KINDS 4 /* array size for index by kind (0 unused) */

#define DB_URL_MAX    2048 /* a callback URL, bytes */
#define DB_SECRET_MAX 64   /* a secret (util/webhook.h WEBHOOK_SECRET_LEN), and its NUL */

/* Where and how a merchant's callbacks go. Strings live in the arena given
 * to the read; a URL is NULL when not set. */
struct db_callback_config {
    const char *url[CB_KINDS];      /* the merchant's, by kind */
    char secret[DB_SECRET_MAX];     /* "" when the merchant has none yet */
    char old_secret[DB_SECRET_MAX]; /* the one before a rotation, "" when none */
    usec_t old_until;               /* the old secret signs too until then */
};

/* A callback delivery: one event for one recipient, tried until delivered
 * or given up. Each try goes to the recipient's URL as it is then (see
 * service/callbacks.h); `url` is where the latest try or replay went. */
enum callback_state { CB_PENDING = 0, CB_DELIVERED = 1, CB_FAILED = 2 };
struct db_callback {
    int64_t id;
    char ref[DB_UUID_LEN]; /* public id: "cb_" + base62 */
    char merchant_id[DB_UUID_LEN];
    int64_t link_id;              /* 0 for settings callbacks */
    int kind;                     /* enum callback_kind */
    const char *url;              /* arena */
    char app_id[DB_UUID_LEN];     /* a settings callback's integrator ("": the merchant) */
    char webhook_id[DB_UUID_LEN]; /* "msg_" + base62: the same for every try and replay */
    const char *body;             /* the event's JSON (arena) */
    int state;                    /* enum callback_state */
    int attempts;                 /* tries so far */
    int last_http;                /* the last try's HTTP status (0: none) */
    usec_t created_at, updated_at;
    usec_t delivered_at;        /* 0 until delivered */
    usec_t next_at;             /* when the next try is due (pending only) */
    char link_ref[DB_UUID_LEN]; /* read only: the link's paymentLinkRef ("" for settings) */
};

/* One try of a delivery. */
struct db_callback_attempt {
    usec_t at;
    int http_status; /* 0 when no response came */
    int latency_ms;
    const char *url;   /* where it went, NULL when nowhere (arena) */
    const char *error; /* why it failed, NULL when delivered (arena) */
};

/* What the delivery log lists. */
struct db_callback_filter {
    int64_t link_id;        /* 0: every link (and settings) */
    int state;              /* -1: any */
    int64_t starting_after; /* list callbacks older than this one (id), 0: from the newest */
    int limit;
};

typedef void (*db_callback_cb)(void *cls, const struct db_callback *cb);
typedef void (*db_callback_attempt_cb)(void *cls, const struct db_callback_attempt *a);

struct db_callbacks_ops {
    /* the merchant's URLs and secrets; DB_NO_RESULTS: no such merchant */
    enum db_status (*config_get)(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                 struct db_callback_config *out);
    /* an integrator's URL of each kind (NULL when not set); DB_NO_RESULTS:
     * no such integrator of the merchant */
    enum db_status (*integrator_urls)(struct db_tx *tx, const char *merchant_id, const char *app_id,
                                      struct arena *a, const char *urls[CB_KINDS]);
    /* set (url) or clear (NULL) the merchant's URL of a kind */
    enum db_status (*url_set)(struct db_tx *tx, const char *merchant_id, int kind, const char *url);
    /* set or clear an integrator's URL of a kind; DB_NO_RESULTS: no such
     * integrator (of the merchant, when merchant_id is not NULL) */
    enum db_status (*integrator_url_set)(struct db_tx *tx, const char *merchant_id,
                                         const char *app_id, int kind, const char *url);
    /* the merchant an integrator belongs to; DB_NO_RESULTS: no such integrator */
    enum db_status (*integrator_merchant)(struct db_tx *tx, const char *app_id,
                                          char merchant_id[DB_UUID_LEN]);
    /* the signing secret, and the previous one with its end */
    enum db_status (*secret_set)(struct db_tx *tx, const char *merchant_id, const char *secret,
                                 const char *old_secret, usec_t old_until);
    /* sets cb->id */
    enum db_status (*insert)(struct db_tx *tx, struct db_callback *cb);
    /* by id (workers) or by the merchant's ref */
    enum db_status (*get)(struct db_tx *tx, int64_t id, struct arena *a, struct db_callback *out);
    enum db_status (*get_by_ref)(struct db_tx *tx, const char *merchant_id, const char *ref,
                                 struct arena *a, struct db_callback *out);
    /* store url, state, attempts, last_http, delivered_at, next_at, updated_at */
    enum db_status (*update)(struct db_tx *tx, const struct db_callback *cb);
    enum db_status (*attempt_insert)(struct db_tx *tx, int64_t callback_id,
                                     const struct db_callback_attempt *a);
    /* newest first */
    enum db_status (*list)(struct db_tx *tx, const char *merchant_id,
                           const struct db_callback_filter *f, struct arena *a, db_callback_cb cb,
                           void *cls);
    /* oldest first */
    enum db_status (*attempts)(struct db_tx *tx, int64_t callback_id, struct arena *a,
                               db_callback_attempt_cb cb, void *cls);
    /* drop at most `limit` of the deliveries that ended (delivered or given
     * up) before `before`, with their attempts, the earliest ended first: how
     * many it dropped; pending ones stay */
    enum db_status (*purge)(struct db_tx *tx, usec_t before, int limit);
};

const struct db_callbacks_ops *db_callbacks_ops(struct db_tx *tx);

#endif
