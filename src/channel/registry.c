/*
 * registry.c — which messaging provider serves a merchant (see registry.h).
 */
#include "channel/registry.h"

const struct channel_ops *channel_for_merchant(const struct db_merchant *m)
{
    return m->environment == ENV_SANDBOX ? &channel_sandbox : NULL;
}
