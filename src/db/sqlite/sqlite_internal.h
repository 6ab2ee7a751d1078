/*
 * sqlite_internal.h — shared by the SQLite backend's files.
 *
 * Each connection keeps its prepared statements in a cache indexed by the
 * statement ids below; a statement is prepared on first use and reset after
 * each use (sqlite_stmt / sqlite_done).
 */
#ifndef CHATPAY_DB_SQLITE_INTERNAL_H
#define CHATPAY_DB_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "db/db_internal.h"

enum sqlite_stmt_id {
    STMT_BEGIN_READ,
    STMT_BEGIN_WRITE,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SCHEMA_VERSION,
    STMT_PING,
    STMT_MERCHANT_INSERT,
    STMT_MERCHANT_GET,
    STMT_MERCHANT_UPDATE,
    STMT_MERCHANT_TOUCH,
    STMT_MERCHANT_COUNT,
    STMT_MERCHANT_LIST,
    STMT_MERCHANT_LOGO_SET,
    STMT_MERCHANT_LOGO_GET,
    STMT_CURRENCY_DELETE,
    STMT_CURRENCY_INSERT,
    STMT_CURRENCY_LIST,
    STMT_KEY_INSERT,
    STMT_KEY_FIND,
    STMT_KEY_REVOKE,
    STMT_KEY_LIST,
    STMT_INTEGRATOR_INSERT,
    STMT_INTEGRATOR_GET,
    STMT_INTEGRATOR_SET_STATUS,
    STMT_INTEGRATOR_LIST,
    STMT_GATEWAY_EXISTS,
    STMT_GATEWAY_INSERT,
    STMT_LINK_INSERT,
    STMT_LINK_BY_REF,
    STMT_LINK_BY_ORDER,
    STMT_LINK_BY_RECEIPT,
    STMT_LINK_BY_ID,
    STMT_LINK_BY_TOKEN,
    STMT_LINK_ORDER_BLOCK,
    STMT_LINK_UPDATE,
    STMT_LINK_EXPIRED,
    STMT_LINK_STATUS_INSERT,
    STMT_LINK_STATUS_LIST,
    STMT_JOB_INSERT,
    STMT_JOB_CLAIM,
    STMT_JOB_LEASE,
    STMT_JOB_COMPLETE,
    STMT_JOB_RETRY,
    STMT_JOB_PENDING,
    STMT_JOB_PURGE,
    STMT_JOB_HURRY,
    STMT_MESSAGE_PURGE,
    STMT_MESSAGE_INSERT,
    STMT_MESSAGE_BY_JOB,
    STMT_MESSAGE_STATUS,
    STMT_MESSAGE_LIST,
    STMT_IDEM_BEGIN,
    STMT_IDEM_GET,
    STMT_IDEM_RESTART,
    STMT_IDEM_FINISH,
    STMT_IDEM_FORGET,
    STMT_IDEM_PURGE,
    STMT_PAYMENT_INSERT,
    STMT_PAYMENT_GET,
    STMT_PAYMENT_FINISH,
    STMT_PAYMENT_LIST,
    STMT_PAYMENT_PENDING,
    STMT_PAYMENT_GATEWAY_REF,
    STMT_PAYMENT_USES_GATEWAY,
    STMT_SANDBOX_GW_INSERT,
    STMT_SANDBOX_GW_GET,
    STMT_SANDBOX_GW_UPDATE,
    STMT_CALLBACK_CONFIG,
    STMT_CALLBACK_INTEGRATOR_URLS,
    STMT_CALLBACK_URL_SET, /* + kind - 1: three statements */
    STMT_CALLBACK_URL_SET_2,
    STMT_CALLBACK_URL_SET_3,
    STMT_CALLBACK_INTEGRATOR_URL_SET, /* + kind - 1 */
    STMT_CALLBACK_INTEGRATOR_URL_SET_2,
    STMT_CALLBACK_INTEGRATOR_URL_SET_3,
    STMT_CALLBACK_INTEGRATOR_MERCHANT,
    STMT_CALLBACK_SECRET_SET,
    STMT_CALLBACK_INSERT,
    STMT_CALLBACK_GET,
    STMT_CALLBACK_GET_REF,
    STMT_CALLBACK_UPDATE,
    STMT_CALLBACK_ATTEMPT_INSERT,
    STMT_CALLBACK_LIST,
    STMT_CALLBACK_ATTEMPTS,
    STMT_CALLBACK_PURGE,
    STMT_PROVIDER_INSERT,
    STMT_PROVIDER_GET,
    STMT_PROVIDER_LIST,
    STMT_PROVIDER_LIST_ALL,
    STMT_PROVIDER_UPDATE,
    STMT_PROVIDER_REMOVE,
    STMT_PROVIDER_HEALTH,
    STMT_NOTICE_SEEN,
    STMT_NOTICE_ADD,
    STMT_NOTICE_PURGE,
    STMT_PMESSAGE_INSERT,
    STMT_PMESSAGE_GET,
    STMT_PMESSAGE_FIND,
    STMT_PMESSAGE_UPDATE,
    STMT_OPTOUT_ADD,
    STMT_OPTOUT_REMOVE,
    STMT_OPTOUT_GET,
    STMT_OPTOUT_LIST,
    STMT__COUNT
};

struct sqlite_conn {
    sqlite3 *h;
    sqlite3_stmt *stmts[STMT__COUNT];
};

/* The prepared statement `id` with text `sql` on tx's connection, reset and
 * with bindings cleared. NULL on failure (logged). */
sqlite3_stmt *sqlite_stmt(struct db_tx *tx, enum sqlite_stmt_id id, const char *sql);

/* Map a result code to a db_status, logging hard errors with the statement. */
enum db_status sqlite_status(struct db_tx *tx, int rc, const char *what);

/* Run a statement that returns no rows; returns changed rows or an error. */
enum db_status sqlite_exec_stmt(struct db_tx *tx, sqlite3_stmt *st, const char *what);

/* Step a query (parameters bound) whose first row's first column is an
 * integer: into *out, DB_ONE_RESULT; DB_NO_RESULTS without a row. */
enum db_status sqlite_one_int64(struct db_tx *tx, sqlite3_stmt *st, int64_t *out, const char *what);
/* Step a bound query: DB_ONE_RESULT when it gives a row, DB_NO_RESULTS when
 * none; the statement is reset. */
enum db_status sqlite_exists(struct db_tx *tx, sqlite3_stmt *st, const char *what);

/* Copy column `col` as text into out[cap] (truncating; "" for NULL). */
void sqlite_col_text(sqlite3_stmt *st, int col, char *out, size_t cap);
/* Column text copied into the arena; NULL for SQL NULL. */
const char *sqlite_col_dup(sqlite3_stmt *st, int col, struct arena *a);
/* Bind s, or SQL NULL when s is NULL (_or_null) or NULL or "" (_nonempty). */
void sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *s);
void sqlite_bind_nonempty(sqlite3_stmt *st, int i, const char *s);
/* Step a statement that gives at most one row: read(st, cls) on a row
 * (DB_ONE_RESULT), DB_NO_RESULTS on none, else the error; then reset it. */
enum db_status sqlite_one_row(struct db_tx *tx, sqlite3_stmt *st, const char *what,
                              void (*read)(sqlite3_stmt *st, void *cls), void *cls);
/* A reader for sqlite_one_row: column 0 into cls, a char[DB_UUID_LEN]. */
void sqlite_read_uuid(sqlite3_stmt *st, void *cls);

/* Migrations of this backend, in order; versions are 1..n. */
struct sqlite_migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct sqlite_migration sqlite_migrations[];
extern const int sqlite_migration_count;

/* The operations (one group per file: sqlite.c, merchants.c, api_keys.c,
 * integrators.c); the table is in sqlite.c. */
enum db_status sqlite_begin(struct db_tx *tx, enum db_mode mode);
enum db_status sqlite_commit(struct db_tx *tx);
void sqlite_rollback(struct db_tx *tx);
enum db_status sqlite_migrate(struct db *db);
enum db_status sqlite_schema_version(struct db_tx *tx, int *current, int *latest);
enum db_status sqlite_ping(struct db_tx *tx);

enum db_status sqlite_merchants_insert(struct db_tx *tx, const struct db_merchant *m);
enum db_status sqlite_merchants_get(struct db_tx *tx, const char *merchant_id,
                                    struct db_merchant *out);
enum db_status sqlite_merchants_update(struct db_tx *tx, const struct db_merchant *m);
enum db_status sqlite_merchants_touch(struct db_tx *tx, const char *merchant_id, usec_t now);
enum db_status sqlite_merchants_count(struct db_tx *tx, int64_t *n);
enum db_status sqlite_merchants_list(struct db_tx *tx, db_merchant_cb cb, void *cls);
enum db_status sqlite_merchants_logo_set(struct db_tx *tx, const char *merchant_id,
                                         const char *type, const void *data, size_t len,
                                         usec_t now);
enum db_status sqlite_merchants_logo_get(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                         struct db_logo *out);
enum db_status sqlite_currencies_set(struct db_tx *tx, const char *merchant_id,
                                     const struct db_currency *list, size_t n);
enum db_status sqlite_currencies_list(struct db_tx *tx, const char *merchant_id,
                                      struct db_currency *out, size_t cap, size_t *n);

enum db_status sqlite_api_keys_insert(struct db_tx *tx, const struct db_api_key *k,
                                      const uint8_t hash[32]);
enum db_status sqlite_api_keys_find_by_hash(struct db_tx *tx, const uint8_t hash[32],
                                            struct db_api_key *out, uint8_t stored_hash[32]);
enum db_status sqlite_api_keys_revoke(struct db_tx *tx, const char *key_id, usec_t now,
                                      char merchant_id[DB_UUID_LEN]);
enum db_status sqlite_api_keys_list(struct db_tx *tx, const char *merchant_id, db_api_key_cb cb,
                                    void *cls);

enum db_status sqlite_integrators_insert(struct db_tx *tx, const char *merchant_id,
                                         const struct db_integrator *it);
enum db_status sqlite_integrators_get(struct db_tx *tx, const char *merchant_id, const char *app_id,
                                      struct db_integrator *out);
enum db_status sqlite_integrators_set_status(struct db_tx *tx, const char *merchant_id,
                                             const char *app_id, enum integrator_status st,
                                             usec_t now);
enum db_status sqlite_integrators_list(struct db_tx *tx, const char *merchant_id,
                                       db_integrator_cb cb, void *cls);

enum db_status sqlite_settings_gateway_exists(struct db_tx *tx, const char *merchant_id,
                                              const char *id);
enum db_status sqlite_settings_gateway_insert(struct db_tx *tx, const char *merchant_id,
                                              const char *id, const char *name, usec_t now);

enum db_status sqlite_links_insert(struct db_tx *tx, struct db_link *l);
enum db_status sqlite_links_get_by_ref(struct db_tx *tx, const char *merchant_id, const char *ref,
                                       struct arena *a, struct db_link *out);
enum db_status sqlite_links_get_by_order(struct db_tx *tx, const char *merchant_id,
                                         const char *order_number, struct arena *a,
                                         struct db_link *out);
enum db_status sqlite_links_get_by_receipt(struct db_tx *tx, const char *merchant_id,
                                           const char *receipt_ref, struct arena *a,
                                           struct db_link *out);
enum db_status sqlite_links_get_by_id(struct db_tx *tx, const char *merchant_id, int64_t id,
                                      struct arena *a, struct db_link *out);
enum db_status sqlite_links_get_by_token(struct db_tx *tx, const char *token, struct arena *a,
                                         struct db_link *out);
enum db_status sqlite_links_order_block(struct db_tx *tx, const char *merchant_id,
                                        const char *order_number, int64_t except_id, usec_t now,
                                        enum order_block *reason, char *ref);
enum db_status sqlite_links_update(struct db_tx *tx, const struct db_link *l);
enum db_status sqlite_links_list_expired(struct db_tx *tx, usec_t now, int limit, db_link_id_cb cb,
                                         void *cls);
enum db_status sqlite_links_status_append(struct db_tx *tx, const char *merchant_id,
                                          int64_t link_id, const struct db_link_status *s);
enum db_status sqlite_links_status_list(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                        struct arena *a, db_link_status_cb cb, void *cls);

enum db_status sqlite_payments_insert(struct db_tx *tx, struct db_payment_op *o);
enum db_status sqlite_payments_get(struct db_tx *tx, const char *merchant_id, const char *ref,
                                   struct db_payment_op *out);
enum db_status sqlite_payments_finish(struct db_tx *tx, const struct db_payment_op *o);
enum db_status sqlite_payments_uses_gateway(struct db_tx *tx, const char *merchant_id,
                                            const char *gateway_id);
enum db_status sqlite_payments_set_gateway_ref(struct db_tx *tx, const char *merchant_id,
                                               const char *ref, const char *gateway_ref);
enum db_status sqlite_payments_list(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                    db_payment_op_cb cb, void *cls);
enum db_status sqlite_payments_list_pending(struct db_tx *tx, usec_t after, usec_t before,
                                            int limit, db_payment_op_cb cb, void *cls);

enum db_status sqlite_sandbox_gw_insert(struct db_tx *tx, const struct db_sandbox_gw *g);
enum db_status sqlite_sandbox_gw_get(struct db_tx *tx, const char *ref, struct db_sandbox_gw *out);
enum db_status sqlite_sandbox_gw_update(struct db_tx *tx, const struct db_sandbox_gw *g);

enum db_status sqlite_jobs_insert(struct db_tx *tx, struct db_job *j);
enum db_status sqlite_jobs_claim(struct db_tx *tx, enum job_pool pool, usec_t now, usec_t lease,
                                 struct db_job *out);
enum db_status sqlite_jobs_lease(struct db_tx *tx, int64_t id, usec_t until);
enum db_status sqlite_jobs_complete(struct db_tx *tx, int64_t id, usec_t now);
enum db_status sqlite_jobs_retry(struct db_tx *tx, int64_t id, usec_t run_at, const char *error);
enum db_status sqlite_jobs_hurry(struct db_tx *tx, int kind, int64_t arg, usec_t run_at);
enum db_status sqlite_jobs_count_pending(struct db_tx *tx, int64_t *n);
enum db_status sqlite_jobs_purge(struct db_tx *tx, usec_t before);

enum db_status sqlite_messages_insert(struct db_tx *tx, struct db_message *m);
enum db_status sqlite_messages_get_by_job(struct db_tx *tx, int64_t job_id, struct arena *a,
                                          struct db_message *out);
enum db_status sqlite_messages_set_status(struct db_tx *tx, const char *merchant_id, int64_t id,
                                          const char *status);
enum db_status sqlite_messages_list(struct db_tx *tx, const char *merchant_id, const char *to,
                                    int limit, struct arena *a, db_message_cb cb, void *cls);

enum db_status sqlite_idempotency_begin(struct db_tx *tx, const char *merchant_id, const char *key,
                                        const uint8_t hash[32], usec_t now);
enum db_status sqlite_idempotency_get(struct db_tx *tx, const char *merchant_id, const char *key,
                                      struct arena *a, struct db_idempotency *out);
enum db_status sqlite_idempotency_restart(struct db_tx *tx, const char *merchant_id,
                                          const char *key, const uint8_t hash[32], usec_t now);
enum db_status sqlite_idempotency_finish(struct db_tx *tx, const char *merchant_id, const char *key,
                                         int status, const char *body);
enum db_status sqlite_idempotency_forget(struct db_tx *tx, const char *merchant_id,
                                         const char *key);
enum db_status sqlite_idempotency_purge(struct db_tx *tx, usec_t before);

/* callbacks.c */
enum db_status sqlite_callbacks_config_get(struct db_tx *tx, const char *merchant_id,
                                           struct arena *a, struct db_callback_config *out);
enum db_status sqlite_callbacks_integrator_urls(struct db_tx *tx, const char *merchant_id,
                                                const char *app_id, struct arena *a,
                                                const char *urls[CB_KINDS]);
enum db_status sqlite_callbacks_url_set(struct db_tx *tx, const char *merchant_id, int kind,
                                        const char *url);
enum db_status sqlite_callbacks_integrator_url_set(struct db_tx *tx, const char *merchant_id,
                                                   const char *app_id, int kind, const char *url);
enum db_status sqlite_callbacks_integrator_merchant(struct db_tx *tx, const char *app_id,
                                                    char merchant_id[DB_UUID_LEN]);
enum db_status sqlite_callbacks_secret_set(struct db_tx *tx, const char *merchant_id,
                                           const char *secret, const char *old_secret,
                                           usec_t old_until);
enum db_status sqlite_callbacks_insert(struct db_tx *tx, struct db_callback *cb);
enum db_status sqlite_callbacks_get(struct db_tx *tx, int64_t id, struct arena *a,
                                    struct db_callback *out);
enum db_status sqlite_callbacks_get_by_ref(struct db_tx *tx, const char *merchant_id,
                                           const char *ref, struct arena *a,
                                           struct db_callback *out);
enum db_status sqlite_callbacks_update(struct db_tx *tx, const struct db_callback *cb);
enum db_status sqlite_callbacks_attempt_insert(struct db_tx *tx, int64_t callback_id,
                                               const struct db_callback_attempt *a);
enum db_status sqlite_callbacks_list(struct db_tx *tx, const char *merchant_id,
                                     const struct db_callback_filter *f, struct arena *a,
                                     db_callback_cb cb, void *cls);
enum db_status sqlite_callbacks_attempts(struct db_tx *tx, int64_t callback_id, struct arena *a,
                                         db_callback_attempt_cb cb, void *cls);
enum db_status sqlite_callbacks_purge(struct db_tx *tx, usec_t before);

/* providers.c */
enum db_status sqlite_providers_insert(struct db_tx *tx, const struct db_provider *p);
enum db_status sqlite_providers_notice_seen(struct db_tx *tx, const char *provider_id,
                                            const char *event_id);
enum db_status sqlite_providers_notice_add(struct db_tx *tx, const char *provider_id,
                                           const char *event_id, usec_t now);
enum db_status sqlite_providers_notice_purge(struct db_tx *tx, usec_t before);
enum db_status sqlite_providers_get(struct db_tx *tx, const char *merchant_id, const char *id,
                                    struct arena *a, struct db_provider *out);
enum db_status sqlite_providers_list(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                     db_provider_cb cb, void *cls);
enum db_status sqlite_providers_list_all(struct db_tx *tx, struct arena *a, db_provider_cb cb,
                                         void *cls);
enum db_status sqlite_providers_update(struct db_tx *tx, const struct db_provider *p);
enum db_status sqlite_providers_remove(struct db_tx *tx, const char *merchant_id, const char *id);
enum db_status sqlite_providers_set_health(struct db_tx *tx, const char *id, bool healthy,
                                           const char *reason, usec_t now);
enum db_status sqlite_providers_message_insert(struct db_tx *tx, struct db_provider_message *m);
enum db_status sqlite_providers_message_get(struct db_tx *tx, int64_t id,
                                            struct db_provider_message *out);
enum db_status sqlite_providers_message_find(struct db_tx *tx, const char *provider_id,
                                             const char *provider_ref, const char *ref,
                                             struct db_provider_message *out);
enum db_status sqlite_providers_message_update(struct db_tx *tx,
                                               const struct db_provider_message *m);
enum db_status sqlite_providers_optout_add(struct db_tx *tx, const char *merchant_id,
                                           const char *msisdn, const char *source, usec_t now);
enum db_status sqlite_providers_optout_remove(struct db_tx *tx, const char *merchant_id,
                                              const char *msisdn);
enum db_status sqlite_providers_optout_get(struct db_tx *tx, const char *merchant_id,
                                           const char *msisdn);
enum db_status sqlite_providers_optout_list(
    struct db_tx *tx, const char *merchant_id, struct arena *a,
    void (*cb)(void *cls, const char *msisdn, const char *source, usec_t at), void *cls);

#endif
