/*
 * registry.h — the payment gateway instances of a process, and which one
 * serves a merchant.
 *
 * The registry holds one instance per configured gateway; the sandbox
 * gateway built into chatpay is one registered instance like the others.
 * A merchant's configuration selects its instance: sandbox merchants pay at
 * the sandbox; a production merchant needs a gateway of its own (none is
 * built in yet).
 */
#ifndef CHATPAY_GATEWAY_REGISTRY_H
#define CHATPAY_GATEWAY_REGISTRY_H

#include <stdbool.h>

#include "db/merchants.h"
#include "gateway/gateway.h"

struct gateway_registry;

/* The registry of a process; the sandbox instance keeps its records in db.
 * Calls end early once *cancel is true. NULL when out of memory. */
struct gateway_registry *gateway_registry_new(struct db *db, const _Atomic bool *cancel);
void gateway_registry_free(struct gateway_registry *reg);

/* The merchant's gateway instance, or NULL when it has none. */
const struct gateway *gateway_for_merchant(const struct gateway_registry *reg,
                                           const struct db_merchant *m);

/* Does the merchant have a gateway? (its configuration only: no registry,
 * no I/O) */
bool gateway_configured(const struct db_merchant *m);

#endif
