/*
 * db.h — the storage interface.
 *
 * Callers see one `struct db` (opened from a URL) and run all their work
 * through db_run(): it takes the calling thread's connection, begins a
 * transaction, calls the callback, commits, and retries the whole callback
 * when the backend reports a transient failure (SQLite busy, PostgreSQL
 * serialization failure or deadlock). Callbacks therefore must do nothing but
 * database work through `tx` and filling their own context: no I/O to the
 * outside world, no side effects that a retry would repeat.
 *
 * Every operation returns a db_status: hard error, soft error (retry), or the
 * number of rows found/changed. Each backend implements `struct db_ops`; the
 * inline wrappers below are what callers use. Every operation that touches
 * merchant data takes the merchant id and scopes its query by it.
 *
 * Times are usec_t (µs since the epoch, UTC). Strings passed in are copied;
 * strings handed out live in the caller's arena.
 */
#ifndef CHATPAY_DB_DB_H
#define CHATPAY_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/time.h"

enum db_status {
    DB_ROLLBACK = -3,   /* the callback chose to abort: roll back, do not retry */
    DB_HARD_ERROR = -2, /* a fault: logged where it happened */
    DB_SOFT_ERROR = -1, /* transient: the runner retries the transaction */
    DB_NO_RESULTS = 0,
    DB_ONE_RESULT = 1, /* n > 0: that many rows */
};

enum db_mode { DB_READ, DB_WRITE };

struct db;
struct db_tx;

/* Sizes of identifiers (including the NUL). */
#define DB_UUID_LEN       37
#define DB_KEY_ID_LEN     17
#define DB_NAME_MAX       255
#define DB_MAX_CURRENCIES 32

enum db_environment { ENV_SANDBOX = 0, ENV_PRODUCTION = 1 };
enum integrator_status { INTEGRATOR_ACTIVATED = 0, INTEGRATOR_DEACTIVATED, INTEGRATOR_DELETED };
enum integrator_type { INTEGRATOR_OMS = 0, INTEGRATOR_CLICKATELL_PRODUCT, INTEGRATOR_APPLICATION };

const char *db_environment_name(enum db_environment e); /* "SANDBOX" / "PRODUCTION" */
bool db_environment_parse(const char *s, enum db_environment *out);
const char *db_integrator_status_name(enum integrator_status s);
bool db_integrator_status_parse(const char *s, enum integrator_status *out);
const char *db_integrator_type_name(enum integrator_type t);
bool db_integrator_type_parse(const char *s, enum integrator_type *out);

struct db_merchant {
    char id[DB_UUID_LEN];
    char name[DB_NAME_MAX + 1];
    enum db_environment environment;
    bool sms_enabled;
    bool whatsapp_enabled;
    usec_t created_at;
    usec_t updated_at;            /* last change to the merchant's configuration */
    int default_transaction_type; /* TXN_SALE or TXN_AUTHORIZATION (core/status.h) */
    int64_t link_ttl_s;           /* an unopened link expires after this many seconds */
    int64_t click_ttl_s;          /* the first open extends the link to now + this */
    int64_t page_ttl_s;           /* the payment page lives this long after the first open */
    char sms_from[16];            /* sender number for SMS ("" = the provider's default) */
    char whatsapp_from[16];       /* sender number for WhatsApp */
    int max_payment_attempts;     /* failed payments allowed on one link before it locks */
    int64_t settlement_delay_s;   /* a sale or capture settles this long after it succeeded */
    int64_t review_settle_s;      /* sandbox: a REVIEW outcome is decided this long after */
    /* read only (set with merchants.logo_set): */
    char logo_type[16]; /* media type of the logo, "" when none */
    int64_t logo_bytes; /* its size */
};

/* A merchant's logo (the bytes live in the arena given to the read). */
struct db_logo {
    char type[16]; /* "image/png", "image/jpeg", "image/webp", "image/svg+xml" */
    const void *data;
    size_t len;
    usec_t updated_at; /* the merchant's updated_at */
};

/* Defaults of a new merchant (the published API's behaviour). */
#define DB_DEFAULT_LINK_TTL_S       300
#define DB_DEFAULT_CLICK_TTL_S      900
#define DB_DEFAULT_PAGE_TTL_S       900
#define DB_DEFAULT_PAYMENT_ATTEMPTS 3
#define DB_DEFAULT_SETTLEMENT_S     86400
#define DB_DEFAULT_REVIEW_S         60

/* A supported currency of a merchant, in the merchant's order. */
struct db_currency {
    char code[4];
    bool is_default;
};

struct db_integrator {
    char application_id[DB_UUID_LEN];
    char name[DB_NAME_MAX + 1];
    enum integrator_type type;
    enum integrator_status status;
    usec_t created_at;
    usec_t updated_at;
};

/* What a valid API key tells about its caller. */
struct db_api_key {
    char id[DB_KEY_ID_LEN]; /* public key id, e.g. for revocation */
    char merchant_id[DB_UUID_LEN];
    char prefix[24]; /* "cp_sandbox_" / "cp_live_" */
    char last4[5];
    usec_t created_at;
    usec_t revoked_at;                /* 0 when active */
    enum db_environment merchant_env; /* read only: its merchant's environment now */
};

/* The key prefix of an environment: "cp_sandbox_" or "cp_live_". A key
 * works only while its merchant is in the environment of its prefix. */
const char *db_key_prefix(enum db_environment env);

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
};

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
};

/* Flags of a payment operation. */
#define DB_OP_ABANDONED 1u /* closed by chatpay: the customer never completed the checkout */
#define DB_OP_ORPHAN    2u /* accepted when its link could not take it: returned at once */

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

/* A durable job (the outbox). */
enum job_kind {
    JOB_SEND_LINK = 1,
    JOB_DELIVERY_RECEIPT,
    JOB_SEND_CANCEL,
    JOB_PAYMENT_QUERY, /* ask the gateway about the link's pending or unanswered operations */
    JOB_REVIEW_SETTLE, /* ask the gateway how a REVIEW payment ended */
    JOB_AUTO_REVERSE,  /* reverse a REVIEW payment (paymentReviewAutoReversal) */
};
struct db_job {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
    int kind; /* enum job_kind */
    int64_t link_id;
    int64_t arg; /* kind-specific (JOB_DELIVERY_RECEIPT: message id) */
    usec_t run_at;
    int attempts; /* times claimed so far, including this one */
};

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

/* An idempotency record: the first request with a key, and its reply. */
enum idem_state { IDEM_IN_PROGRESS = 0, IDEM_DONE = 1 };
struct db_idempotency {
    uint8_t request_hash[32];
    int state;        /* enum idem_state */
    int status;       /* HTTP status of the stored reply */
    const char *body; /* the stored reply body (arena) */
    usec_t created_at;
};

enum sandbox_gw_state {
    SANDBOX_GW_WAITING = 0,   /* waiting for the card form */
    SANDBOX_GW_CHALLENGE = 1, /* waiting for 3-D Secure */
    SANDBOX_GW_DECIDED = 2,
    SANDBOX_GW_CLOSED = 3, /* closed without a payment (expired or cancelled) */
};

/* The sandbox gateway's own record of an operation (what a real gateway
 * would keep on its side). Never holds a card number. */
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

typedef void (*db_payment_op_cb)(void *cls, const struct db_payment_op *op);
typedef void (*db_link_status_cb)(void *cls, const struct db_link_status *s);
typedef void (*db_message_cb)(void *cls, const struct db_message *m);
typedef void (*db_link_id_cb)(void *cls, int64_t link_id, const char *merchant_id);

typedef void (*db_merchant_cb)(void *cls, const struct db_merchant *m);
typedef void (*db_api_key_cb)(void *cls, const struct db_api_key *k);
typedef void (*db_integrator_cb)(void *cls, const struct db_integrator *it);

struct db_ops {
    const char *backend; /* "sqlite" */

    /* transactions (used by db_run only) */
    enum db_status (*begin)(struct db_tx *tx, enum db_mode mode);
    enum db_status (*commit)(struct db_tx *tx);
    void (*rollback)(struct db_tx *tx);

    /* schema */
    enum db_status (*migrate)(struct db *db);
    enum db_status (*schema_version)(struct db_tx *tx, int *current, int *latest);
    enum db_status (*ping)(struct db_tx *tx);

    struct {
        enum db_status (*insert)(struct db_tx *tx, const struct db_merchant *m);
        enum db_status (*get)(struct db_tx *tx, const char *merchant_id, struct db_merchant *out);
        enum db_status (*update)(struct db_tx *tx, const struct db_merchant *m);
        enum db_status (*touch)(struct db_tx *tx, const char *merchant_id, usec_t now);
        enum db_status (*count)(struct db_tx *tx, int64_t *n);
        enum db_status (*list)(struct db_tx *tx, db_merchant_cb cb, void *cls);
        /* set the logo (type: a media type, data/len its bytes) or remove it
         * (type NULL); updated_at becomes now. DB_NO_RESULTS: no merchant */
        enum db_status (*logo_set)(struct db_tx *tx, const char *merchant_id, const char *type,
                                   const void *data, size_t len, usec_t now);
        /* DB_NO_RESULTS when the merchant has no logo or does not exist */
        enum db_status (*logo_get)(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                   struct db_logo *out);
    } merchants;

    struct {
        /* replace the whole list: codes in order, the first is the default */
        enum db_status (*set)(struct db_tx *tx, const char *merchant_id,
                              const struct db_currency *list, size_t n);
        enum db_status (*list)(struct db_tx *tx, const char *merchant_id, struct db_currency *out,
                               size_t cap, size_t *n);
    } currencies;

    struct {
        enum db_status (*insert)(struct db_tx *tx, const struct db_api_key *k,
                                 const uint8_t hash[32]);
        /* an active (not revoked) key by the SHA-256 of its full text */
        enum db_status (*find_by_hash)(struct db_tx *tx, const uint8_t hash[32],
                                       struct db_api_key *out, uint8_t stored_hash[32]);
        enum db_status (*revoke)(struct db_tx *tx, const char *key_id, usec_t now);
        enum db_status (*list)(struct db_tx *tx, const char *merchant_id, db_api_key_cb cb,
                               void *cls);
    } api_keys;

    struct {
        /* is `id` one of the merchant's payment gateway settings? */
        enum db_status (*gateway_settings_exists)(struct db_tx *tx, const char *merchant_id,
                                                  const char *id);
        enum db_status (*gateway_settings_insert)(struct db_tx *tx, const char *merchant_id,
                                                  const char *id, const char *name, usec_t now);
    } settings;

    struct {
        /* sets l->id */
        enum db_status (*insert)(struct db_tx *tx, struct db_link *l);
        enum db_status (*get_by_ref)(struct db_tx *tx, const char *merchant_id, const char *ref,
                                     struct arena *a, struct db_link *out);
        /* the newest link for an order number */
        enum db_status (*get_by_order)(struct db_tx *tx, const char *merchant_id,
                                       const char *order_number, struct arena *a,
                                       struct db_link *out);
        enum db_status (*get_by_receipt)(struct db_tx *tx, const char *merchant_id,
                                         const char *receipt_ref, struct arena *a,
                                         struct db_link *out);
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
        /* store status, payment_status, live, expires_at, clicked_at, page_expires_at */
        enum db_status (*update)(struct db_tx *tx, const struct db_link *l);
        /* live, unpaid links whose expiry has passed and that have no
         * payment running at the gateway (workers: across merchants) */
        enum db_status (*list_expired)(struct db_tx *tx, usec_t now, int limit, db_link_id_cb cb,
                                       void *cls);
        enum db_status (*status_append)(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                        const struct db_link_status *s);
        enum db_status (*status_list)(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                      struct arena *a, db_link_status_cb cb, void *cls);
    } links;

    struct {
        /* sets op->id; DB_NO_RESULTS when a capture/reverse/void of the link
         * is already pending or done (the unique rule), or the ref exists */
        enum db_status (*insert)(struct db_tx *tx, struct db_payment_op *op);
        enum db_status (*get)(struct db_tx *tx, const char *merchant_id, const char *ref,
                              struct db_payment_op *out);
        /* store the gateway's answer (state, decision and gateway fields of
         * op) and its flags and note */
        enum db_status (*finish)(struct db_tx *tx, const struct db_payment_op *op);
        /* oldest first */
        enum db_status (*list)(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                               db_payment_op_cb cb, void *cls);
        /* pending operations created in [after, before) (workers: across merchants) */
        enum db_status (*list_pending)(struct db_tx *tx, usec_t after, usec_t before, int limit,
                                       db_payment_op_cb cb, void *cls);
    } payments;

    struct {
        /* DB_NO_RESULTS when the ref exists already */
        enum db_status (*insert)(struct db_tx *tx, const struct db_sandbox_gw *g);
        enum db_status (*get)(struct db_tx *tx, const char *ref, struct db_sandbox_gw *out);
        /* store state, decision and result fields */
        enum db_status (*update)(struct db_tx *tx, const struct db_sandbox_gw *g);
    } sandbox_gateway;

    struct {
        /* sets j->id */
        enum db_status (*insert)(struct db_tx *tx, struct db_job *j);
        /* take the next due job and lock it until now + lease (workers: across merchants) */
        enum db_status (*claim)(struct db_tx *tx, usec_t now, usec_t lease, struct db_job *out);
        /* DB_NO_RESULTS when the job was already complete */
        enum db_status (*complete)(struct db_tx *tx, int64_t id, usec_t now);
        enum db_status (*retry)(struct db_tx *tx, int64_t id, usec_t run_at, const char *error);
        enum db_status (*count_pending)(struct db_tx *tx, int64_t *n);
        /* drop jobs finished before `before`, and sandbox messages older than it */
        enum db_status (*purge)(struct db_tx *tx, usec_t before);
    } jobs;

    struct {
        /* sets m->id; DB_NO_RESULTS when the job already sent its message */
        enum db_status (*insert)(struct db_tx *tx, struct db_message *m);
        enum db_status (*get_by_job)(struct db_tx *tx, int64_t job_id, struct arena *a,
                                     struct db_message *out);
        enum db_status (*set_status)(struct db_tx *tx, const char *merchant_id, int64_t id,
                                     const char *status);
        /* newest first; to may be NULL for all */
        enum db_status (*list)(struct db_tx *tx, const char *merchant_id, const char *to, int limit,
                               struct arena *a, db_message_cb cb, void *cls);
    } messages;

    struct {
        /* insert an IN_PROGRESS record; DB_NO_RESULTS when the key exists */
        enum db_status (*begin)(struct db_tx *tx, const char *merchant_id, const char *key,
                                const uint8_t hash[32], usec_t now);
        enum db_status (*get)(struct db_tx *tx, const char *merchant_id, const char *key,
                              struct arena *a, struct db_idempotency *out);
        /* replace a stale or finished record by a new IN_PROGRESS one */
        enum db_status (*restart)(struct db_tx *tx, const char *merchant_id, const char *key,
                                  const uint8_t hash[32], usec_t now);
        enum db_status (*finish)(struct db_tx *tx, const char *merchant_id, const char *key,
                                 int status, const char *body);
        enum db_status (*forget)(struct db_tx *tx, const char *merchant_id, const char *key);
        /* drop records older than `before` */
        enum db_status (*purge)(struct db_tx *tx, usec_t before);
    } idempotency;

    struct {
        enum db_status (*insert)(struct db_tx *tx, const char *merchant_id,
                                 const struct db_integrator *it);
        enum db_status (*get)(struct db_tx *tx, const char *merchant_id, const char *app_id,
                              struct db_integrator *out);
        enum db_status (*set_status)(struct db_tx *tx, const char *merchant_id, const char *app_id,
                                     enum integrator_status st, usec_t now);
        /* oldest first */
        enum db_status (*list)(struct db_tx *tx, const char *merchant_id, db_integrator_cb cb,
                               void *cls);
    } integrators;
};

/* Open a database from a URL: "sqlite:PATH" or "sqlite://PATH" (PATH relative
 * to the working directory; its folder is created). On failure returns NULL
 * and writes one line into err. */
struct db *db_open(const char *url, char *err, size_t errlen);
void db_close(struct db *db);
const struct db_ops *db_ops(const struct db *db);

/* Apply pending migrations (each in its own transaction). */
enum db_status db_migrate(struct db *db);

/* Release the calling thread's connection (worker threads call this on exit;
 * db_close releases the rest). */
void db_thread_release(struct db *db);

typedef enum db_status (*db_txn_cb)(struct db_tx *tx, void *cls);

/* Run cb in a transaction on the calling thread's connection. Retries on
 * DB_SOFT_ERROR up to a bounded number of times with a short randomized
 * backoff. Returns the callback's status after commit, DB_ROLLBACK if the
 * callback asked for it, or DB_HARD_ERROR. `name` is used in logs. */
enum db_status db_run(struct db *db, enum db_mode mode, const char *name, db_txn_cb cb, void *cls);

/* The configuration epoch: a counter that changes after every committed
 * change to merchants, their currencies, API keys or integrators — made by
 * this process or by any other chatpay process on the same database (for
 * SQLite it lives in a small shared file beside the database, "<path>-epoch").
 * In-memory caches of such data stay valid while the epoch is unchanged.
 * Reading it costs one atomic load. */
uint64_t db_config_epoch(struct db *db);

/* Operations that change configuration call this inside the transaction;
 * db_run advances the epoch after the commit. */
void db_tx_config_changed(struct db_tx *tx);

/* The operation table of a transaction's backend; callers use DB_CALL. */
const struct db_ops *db_tx_ops(struct db_tx *tx);

#define DB_CALL(tx, group, op, ...) (db_tx_ops(tx)->group.op((tx), __VA_ARGS__))

#endif
