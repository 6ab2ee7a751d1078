/*
 * registry.c — which payment gateway serves a merchant (see registry.h).
 */
#include "gateway/registry.h"

const struct gateway_ops *gateway_for_merchant(const struct db_merchant *m)
{
    return m->environment == ENV_SANDBOX ? &gateway_sandbox : NULL;
}

bool gateway_configured(const struct db_merchant *m)
{
    return gateway_for_merchant(m) != NULL;
}
