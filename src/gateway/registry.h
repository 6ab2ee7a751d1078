/*
 * registry.h — which payment gateway serves a merchant.
 *
 * Sandbox merchants pay at the sandbox gateway built into chatpay; a
 * production merchant needs a gateway of its own (none is built in yet).
 */
#ifndef CHATPAY_GATEWAY_REGISTRY_H
#define CHATPAY_GATEWAY_REGISTRY_H

#include <stdbool.h>

#include "db/merchants.h"
#include "gateway/gateway.h"

/* The merchant's gateway, or NULL when it has none. */
const struct gateway_ops *gateway_for_merchant(const struct db_merchant *m);

/* Does the merchant have a gateway? (no I/O) */
bool gateway_configured(const struct db_merchant *m);

#endif
