/*
 * registry.h — which messaging provider serves a merchant.
 *
 * Sandbox merchants' messages go to the sandbox channel's outbox; a
 * production merchant needs a provider of its own (none is built in yet).
 */
#ifndef CHATPAY_CHANNEL_REGISTRY_H
#define CHATPAY_CHANNEL_REGISTRY_H

#include "channel/channel.h"
#include "db/merchants.h"

/* The merchant's provider, or NULL when it has none. */
const struct channel_ops *channel_for_merchant(const struct db_merchant *m);

#endif
