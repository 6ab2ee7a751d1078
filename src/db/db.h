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
    usec_t updated_at; /* last change to the merchant's configuration */
};

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
    usec_t revoked_at; /* 0 when active */
};

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
