/*
 * registry.h — the payment gateway instances of a process, and which one
 * serves a merchant.
 *
 * The sandbox gateway built into chatpay serves every sandbox merchant that
 * selected no gateway of its own. A merchant's configured gateway (`chatpay
 * provider add --kind stripe|cybersource`, selected with `chatpay merchant
 * update ID --gateway PROVIDER_ID`) is made from its row for each use —
 * settings, secrets opened with the server's secrets key, the merchant's
 * environment — and freed when released: gateway calls are few and each is
 * a network round trip, and no change of configuration is ever missed. Test
 * credentials serve sandbox merchants only, live ones production merchants
 * only; a gateway whose credentials do not fit its merchant is refused.
 */
#ifndef CHATPAY_GATEWAY_REGISTRY_H
#define CHATPAY_GATEWAY_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "db/merchants.h"
#include "gateway/gateway.h"

struct gateway_registry;
struct config;
struct net;

/* The registry of a process; the sandbox instance keeps its records in db.
 * secrets_key: the server's key (NULL when none: configured gateways are then
 * unusable, and say so). Calls end early once *cancel is true. NULL when out
 * of memory. */
struct gateway_registry *gateway_registry_new(struct db *db, const struct config *cfg,
                                              const uint8_t *secrets_key, struct net *net,
                                              const _Atomic bool *cancel);
void gateway_registry_free(struct gateway_registry *reg);

/* The gateway an operation of merchant m went through (its gateway_id:
 * a provider id, "" for the sandbox gateway; a new payment's is the
 * merchant's gateway_provider), held until gateway_release; NULL when it
 * cannot be used (*why says why, valid until this thread's next acquire;
 * why may be NULL). Follow-ups and repairs go there whatever the merchant
 * selected since. */
const struct gateway *gateway_acquire_op(struct gateway_registry *reg, const struct db_merchant *m,
                                         const char *gateway_id, const char **why);

/* A configured gateway by its provider id (its notices), held likewise. */
const struct gateway *gateway_acquire_provider(struct gateway_registry *reg,
                                               const char *provider_id, const char **why);

/* Give back an instance (NULL is ok). */
void gateway_release(struct gateway_registry *reg, const struct gateway *g);

/* Does the merchant have a gateway? (its configuration only: no I/O) */
bool gateway_configured(const struct db_merchant *m);

/* Do credentials that are `live` fit a merchant in `env`? (test ones for
 * sandbox merchants, live ones for production merchants) */
bool gateway_fits(bool live, enum db_environment env);

#endif
