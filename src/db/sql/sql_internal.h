/*
 * sql_internal.h — the aggregates' operations, written once over
 * db/sql/stmt.h for every backend; the table of them is in ops.c.
 */
#ifndef CHATPAY_DB_SQL_INTERNAL_H
#define CHATPAY_DB_SQL_INTERNAL_H

#include "db/db_internal.h"
#include "db/marketplace.h"
#include "db/whatsapp.h"

enum db_status sql_merchants_insert(struct db_tx *tx, const struct db_merchant *m);
enum db_status sql_merchants_get(struct db_tx *tx, const char *merchant_id,
                                 struct db_merchant *out);
enum db_status sql_merchants_get_with_callbacks(struct db_tx *tx, const char *merchant_id,
                                                struct db_merchant *out, struct arena *a,
                                                struct db_callback_config *cfg);
enum db_status sql_merchants_update(struct db_tx *tx, const struct db_merchant *m);
enum db_status sql_merchants_touch(struct db_tx *tx, const char *merchant_id, usec_t now);
enum db_status sql_merchants_count(struct db_tx *tx, int64_t *n);
enum db_status sql_merchants_list(struct db_tx *tx, db_merchant_cb cb, void *cls);
enum db_status sql_merchants_logo_set(struct db_tx *tx, const char *merchant_id, const char *type,
                                      const void *data, size_t len, usec_t now);
enum db_status sql_merchants_logo_get(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                      struct db_logo *out);
enum db_status sql_currencies_set(struct db_tx *tx, const char *merchant_id,
                                  const struct db_currency *list, size_t n);
enum db_status sql_currencies_list(struct db_tx *tx, const char *merchant_id,
                                   struct db_currency *out, size_t cap, size_t *n);

enum db_status sql_api_keys_insert(struct db_tx *tx, const struct db_api_key *k,
                                   const uint8_t hash[32]);
enum db_status sql_api_keys_find_by_hash(struct db_tx *tx, const uint8_t hash[32],
                                         struct db_api_key *out, uint8_t stored_hash[32]);
enum db_status sql_api_keys_revoke(struct db_tx *tx, const char *key_id, usec_t now,
                                   char merchant_id[DB_UUID_LEN]);
enum db_status sql_api_keys_list(struct db_tx *tx, const char *merchant_id, db_api_key_cb cb,
                                 void *cls);

enum db_status sql_integrators_insert(struct db_tx *tx, const char *merchant_id,
                                      const struct db_integrator *it);
enum db_status sql_integrators_get(struct db_tx *tx, const char *merchant_id, const char *app_id,
                                   struct db_integrator *out);
enum db_status sql_integrators_set_status(struct db_tx *tx, const char *merchant_id,
                                          const char *app_id, enum integrator_status st,
                                          usec_t now);
enum db_status sql_integrators_list(struct db_tx *tx, const char *merchant_id, db_integrator_cb cb,
                                    void *cls);

enum db_status sql_settings_gateway_exists(struct db_tx *tx, const char *merchant_id,
                                           const char *id);
enum db_status sql_settings_gateway_insert(struct db_tx *tx, const char *merchant_id,
                                           const char *id, const char *name, usec_t now);

enum db_status sql_links_insert(struct db_tx *tx, struct db_link *l,
                                const struct db_link_status *first, enum order_block *why,
                                char *ref);
enum db_status sql_links_get_by_ref(struct db_tx *tx, const char *merchant_id, const char *ref,
                                    struct arena *a, struct db_link *out);
enum db_status sql_links_get_by_order(struct db_tx *tx, const char *merchant_id,
                                      const char *order_number, struct arena *a,
                                      struct db_link *out);
enum db_status sql_links_get_by_receipt(struct db_tx *tx, const char *merchant_id,
                                        const char *receipt_ref, struct arena *a,
                                        struct db_link *out);
enum db_status sql_links_get_by_id(struct db_tx *tx, const char *merchant_id, int64_t id,
                                   struct arena *a, struct db_link *out);
enum db_status sql_links_get_by_token(struct db_tx *tx, const char *token, struct arena *a,
                                      struct db_link *out);
enum db_status sql_links_order_block(struct db_tx *tx, const char *merchant_id,
                                     const char *order_number, int64_t except_id, usec_t now,
                                     enum order_block *reason, char *ref);
enum db_status sql_links_update(struct db_tx *tx, const struct db_link *l);
enum db_status sql_links_list_expired(struct db_tx *tx, usec_t now, int limit, db_link_id_cb cb,
                                      void *cls);
enum db_status sql_links_status_append(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                       const struct db_link_status *s);
enum db_status sql_links_status_list(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                     struct arena *a, db_link_status_cb cb, void *cls);

enum db_status sql_payments_insert(struct db_tx *tx, struct db_payment_op *o);
enum db_status sql_payments_get(struct db_tx *tx, const char *merchant_id, const char *ref,
                                struct db_payment_op *out);
enum db_status sql_payments_finish(struct db_tx *tx, const struct db_payment_op *o);
enum db_status sql_payments_uses_gateway(struct db_tx *tx, const char *merchant_id,
                                         const char *gateway_id);
enum db_status sql_payments_set_gateway_ref(struct db_tx *tx, const char *merchant_id,
                                            const char *ref, const char *gateway_ref);
enum db_status sql_payments_list(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                 db_payment_op_cb cb, void *cls);
enum db_status sql_payments_list_pending(struct db_tx *tx, usec_t due, usec_t before, int limit,
                                         db_payment_op_cb cb, void *cls);
enum db_status sql_payments_claim_repair(struct db_tx *tx, const char *merchant_id, const char *ref,
                                         usec_t now, usec_t until);

enum db_status sql_sandbox_gw_insert(struct db_tx *tx, const struct db_sandbox_gw *g);
enum db_status sql_sandbox_gw_get(struct db_tx *tx, const char *ref, struct db_sandbox_gw *out);
enum db_status sql_sandbox_gw_update(struct db_tx *tx, const struct db_sandbox_gw *g);

enum db_status sql_jobs_insert(struct db_tx *tx, struct db_job *j);
enum db_status sql_jobs_claim(struct db_tx *tx, enum job_pool pool, usec_t now, usec_t lease,
                              struct db_job *out);
enum db_status sql_jobs_lease(struct db_tx *tx, const struct db_job *j, usec_t until);
enum db_status sql_jobs_acting(struct db_tx *tx, const struct db_job *j);
enum db_status sql_jobs_complete(struct db_tx *tx, const struct db_job *j, usec_t now);
enum db_status sql_jobs_retry(struct db_tx *tx, const struct db_job *j, usec_t run_at,
                              const char *error);
enum db_status sql_jobs_hurry(struct db_tx *tx, int kind, int64_t arg, usec_t run_at);
enum db_status sql_jobs_count_pending(struct db_tx *tx, int64_t *n);
enum db_status sql_jobs_purge(struct db_tx *tx, usec_t before, int limit);
enum db_status sql_jobs_exists(struct db_tx *tx, const char *merchant_id, int kind, int64_t arg);
enum db_status sql_jobs_get(struct db_tx *tx, const char *merchant_id, int64_t id,
                            struct db_job *out);

enum db_status sql_messages_insert(struct db_tx *tx, struct db_message *m);
enum db_status sql_messages_get_by_job(struct db_tx *tx, int64_t job_id, struct arena *a,
                                       struct db_message *out);
enum db_status sql_messages_set_status(struct db_tx *tx, const char *merchant_id, int64_t id,
                                       const char *status);
enum db_status sql_messages_list(struct db_tx *tx, const char *merchant_id, const char *to,
                                 int limit, struct arena *a, db_message_cb cb, void *cls);
enum db_status sql_messages_purge(struct db_tx *tx, usec_t before, int limit);

enum db_status sql_idempotency_begin(struct db_tx *tx, const char *merchant_id, const char *key,
                                     const uint8_t hash[32], usec_t now);
enum db_status sql_idempotency_get(struct db_tx *tx, const char *merchant_id, const char *key,
                                   struct arena *a, struct db_idempotency *out);
enum db_status sql_idempotency_restart(struct db_tx *tx, const char *merchant_id, const char *key,
                                       const uint8_t hash[32], usec_t now);
enum db_status sql_idempotency_finish(struct db_tx *tx, const char *merchant_id, const char *key,
                                      const uint8_t hash[32], usec_t claimed_at, int status,
                                      const char *body);
enum db_status sql_idempotency_forget(struct db_tx *tx, const char *merchant_id, const char *key,
                                      const uint8_t hash[32], usec_t claimed_at);
enum db_status sql_idempotency_purge(struct db_tx *tx, usec_t before, int limit);

/* callbacks.c */
/* A merchant's callback configuration as its columns are selected (from
 * column `first` on), for callbacks.config_get and merchants.get_with_callbacks. */
#define SQL_CALLBACK_CONFIG_COLS                                                                   \
    "payment_status_callback, transaction_event_callback, settings_callback,"                      \
    " COALESCE(callback_secret, ''), COALESCE(callback_secret_old, ''), callback_secret_old_until"
enum { SQL_CALLBACK_CONFIG_NCOLS = 6 };
void sql_callback_config_read(struct db_stmt *st, int first, struct arena *a,
                              struct db_callback_config *out);
enum db_status sql_callbacks_config_get(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                        struct db_callback_config *out);
enum db_status sql_callbacks_integrator_urls(struct db_tx *tx, const char *merchant_id,
                                             const char *app_id, struct arena *a,
                                             const char *urls[CB_KINDS]);
enum db_status sql_callbacks_url_set(struct db_tx *tx, const char *merchant_id, int kind,
                                     const char *url);
enum db_status sql_callbacks_integrator_url_set(struct db_tx *tx, const char *merchant_id,
                                                const char *app_id, int kind, const char *url);
enum db_status sql_callbacks_integrator_merchant(struct db_tx *tx, const char *app_id,
                                                 char merchant_id[DB_UUID_LEN]);
enum db_status sql_callbacks_secret_set(struct db_tx *tx, const char *merchant_id,
                                        const char *secret, const char *old_secret,
                                        usec_t old_until);
enum db_status sql_callbacks_insert(struct db_tx *tx, struct db_callback *cb);
enum db_status sql_callbacks_get(struct db_tx *tx, int64_t id, struct arena *a,
                                 struct db_callback *out);
enum db_status sql_callbacks_get_by_ref(struct db_tx *tx, const char *merchant_id, const char *ref,
                                        struct arena *a, struct db_callback *out);
enum db_status sql_callbacks_update(struct db_tx *tx, const struct db_callback *cb);
enum db_status sql_callbacks_attempt_insert(struct db_tx *tx, int64_t callback_id,
                                            const struct db_callback_attempt *a);
enum db_status sql_callbacks_list(struct db_tx *tx, const char *merchant_id,
                                  const struct db_callback_filter *f, struct arena *a,
                                  db_callback_cb cb, void *cls);
enum db_status sql_callbacks_attempts(struct db_tx *tx, int64_t callback_id, struct arena *a,
                                      db_callback_attempt_cb cb, void *cls);
enum db_status sql_callbacks_purge(struct db_tx *tx, usec_t before, int limit);

/* providers.c */
enum db_status sql_providers_insert(struct db_tx *tx, const struct db_provider *p);
enum db_status sql_providers_notice_seen(struct db_tx *tx, const char *provider_id,
                                         const char *event_id);
enum db_status sql_providers_notice_add(struct db_tx *tx, const char *provider_id,
                                        const char *event_id, usec_t now);
enum db_status sql_providers_notice_purge(struct db_tx *tx, usec_t before, int limit);
enum db_status sql_providers_get(struct db_tx *tx, const char *merchant_id, const char *id,
                                 struct arena *a, struct db_provider *out);
enum db_status sql_providers_list(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                  db_provider_cb cb, void *cls);
enum db_status sql_providers_list_all(struct db_tx *tx, struct arena *a, db_provider_cb cb,
                                      void *cls);
enum db_status sql_providers_update(struct db_tx *tx, const struct db_provider *p);
enum db_status sql_providers_remove(struct db_tx *tx, const char *merchant_id, const char *id);
enum db_status sql_providers_set_health(struct db_tx *tx, const char *id, bool healthy,
                                        const char *reason, usec_t now);
enum db_status sql_providers_message_insert(struct db_tx *tx, struct db_provider_message *m);
enum db_status sql_providers_message_get(struct db_tx *tx, int64_t id,
                                         struct db_provider_message *out);
enum db_status sql_providers_message_find(struct db_tx *tx, const char *provider_id,
                                          const char *provider_ref, const char *ref,
                                          struct db_provider_message *out);
enum db_status sql_providers_message_update(struct db_tx *tx, const struct db_provider_message *m);
enum db_status sql_providers_link_reached(struct db_tx *tx, const char *merchant_id,
                                          int64_t link_id);
enum db_status sql_providers_optout_add(struct db_tx *tx, const char *merchant_id,
                                        const char *msisdn, const char *source, usec_t at);
enum db_status sql_providers_optout_remove(struct db_tx *tx, const char *merchant_id,
                                           const char *msisdn, usec_t until);
enum db_status sql_providers_optout_get(struct db_tx *tx, const char *merchant_id,
                                        const char *msisdn);
enum db_status sql_providers_optout_list(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                         void (*cb)(void *cls, const char *msisdn,
                                                    const char *source, usec_t at),
                                         void *cls);

/* the marketplace (marketplace.c) */
extern const struct db_marketplace_ops sql_marketplace_ops;
/* WhatsApp Pay (whatsapp.c) */
extern const struct db_whatsapp_ops sql_whatsapp_ops;

#endif
