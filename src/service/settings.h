/*
 * settings.h — changes of a merchant's configuration that its integrators
 * and systems see (GET /api/v2/config): API keys, integrators' status. Each
 * queues the merchant's settings callbacks in the same transaction (see
 * service/callbacks.h); so do the operator's other changes (currencies,
 * channels, environment: `chatpay merchant update`), which call
 * svc_cb_settings themselves.
 */
#ifndef CHATPAY_SERVICE_SETTINGS_H
#define CHATPAY_SERVICE_SETTINGS_H

#include <stdint.h>

#include "db/merchants.h"
#include "service/service.h"

/* Store a new API key (its row and the SHA-256 of its text). */
enum db_status svc_apikey_add(struct svc *s, const struct db_api_key *k, const uint8_t hash[32]);

/* Revoke API key `key_id`. DB_NO_RESULTS when there is no such active key. */
enum db_status svc_apikey_revoke(struct svc *s, const char *key_id);

/* What became of an integrator status change. */
enum integrator_change { INTEGRATOR_CHANGED, INTEGRATOR_UNKNOWN, INTEGRATOR_IS_DELETED };

/* Set one of the merchant's integrators' status (a DELETED one is final:
 * refused). *out says which; DB_ROLLBACK when refused. Setting the status
 * it has changes nothing (and sends no settings callback). */
enum db_status svc_integrator_set_status(struct svc *s, const char *merchant_id, const char *app_id,
                                         enum integrator_status status,
                                         enum integrator_change *out);

/* Add an integrator to the merchant. DB_NO_RESULTS: no such merchant. */
enum db_status svc_integrator_add(struct svc *s, const char *merchant_id,
                                  const struct db_integrator *it);

#endif
