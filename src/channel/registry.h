/*
 * registry.h — the messaging provider instances of a process, and which one
 * serves a merchant.
 *
 * The registry holds the sandbox channel (one instance for every sandbox
 * merchant) and one instance per configured provider (`chatpay provider
 * add`), made from its row: settings, secrets opened with the server's
 * secrets key, the merchant's environment (a sandbox merchant's provider
 * runs in its test mode). The instances are made again when the database's
 * configuration epoch moves (a provider added, changed or removed, a
 * merchant's choice changed); a caller holds the instance it got until it
 * releases it, so a change never frees an instance in use.
 *
 * A merchant's messages on a channel go to the provider it selected for
 * that channel; a sandbox merchant that selected none uses the sandbox
 * channel; a production merchant that selected none has no channel.
 */
#ifndef CHATPAY_CHANNEL_REGISTRY_H
#define CHATPAY_CHANNEL_REGISTRY_H

#include <stdint.h>

#include "channel/channel.h"
#include "db/merchants.h"

struct channel_registry;
struct config;

/* The registry of a process. secrets_key: the server's key (NULL when none
 * is configured: providers with secrets are then unusable, and say so).
 * Calls end early once *cancel is true. NULL when out of memory. */
struct channel_registry *channel_registry_new(struct db *db, const struct config *cfg,
                                              const uint8_t *secrets_key, struct net *net,
                                              const _Atomic bool *cancel);
void channel_registry_free(struct channel_registry *reg);

/* The merchant's instance for a channel (CHANNEL_SMS or CHANNEL_WHATSAPP),
 * held until channel_release; NULL when it has none (*why says why, valid
 * until this thread's next acquire; why may be NULL). */
const struct channel *channel_acquire(struct channel_registry *reg, const struct db_merchant *m,
                                      int channel, const char **why);

/* A provider's instance by its id (inbound webhooks), held likewise; NULL
 * when there is none or it cannot be made (*why as above). */
const struct channel *channel_acquire_provider(struct channel_registry *reg,
                                               const char *provider_id, const char **why);

/* Give back an instance (NULL is ok). */
void channel_release(struct channel_registry *reg, const struct channel *ch);

/* The inbound URL of a provider: <public_url>/hooks/<providerId>/<token>
 * (into out[cap]). */
void channel_inbound_url(const struct config *cfg, const char *provider_id, const char *token,
                         char *out, size_t cap);

#endif
