/*
 * registry.h — the messaging provider instances of a process, and which one
 * serves a merchant.
 *
 * The registry holds one instance per configured provider; the sandbox
 * channel built into chatpay is one registered instance like the others. A
 * merchant's configuration selects its instance: sandbox merchants'
 * messages go to the sandbox outbox; a production merchant needs a provider
 * of its own (none is built in yet).
 */
#ifndef CHATPAY_CHANNEL_REGISTRY_H
#define CHATPAY_CHANNEL_REGISTRY_H

#include "channel/channel.h"
#include "db/merchants.h"

struct channel_registry;

/* The registry of a process; the sandbox instance keeps its outbox in db.
 * Calls end early once *cancel is true. NULL when out of memory. */
struct channel_registry *channel_registry_new(struct db *db, const _Atomic bool *cancel);
void channel_registry_free(struct channel_registry *reg);

/* The merchant's provider instance for a channel (CHANNEL_SMS or
 * CHANNEL_WHATSAPP), or NULL when it has none. */
const struct channel *channel_for_merchant(const struct channel_registry *reg,
                                           const struct db_merchant *m, int channel);

#endif
