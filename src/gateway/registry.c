/*
 * registry.c — the payment gateway instances of a process (see registry.h).
 */
#include "gateway/registry.h"

#include <stdlib.h>

/* The longest a gateway call may take. */
#define GATEWAY_TIMEOUT (10LL * 1000000)

struct gateway_registry {
    struct gateway sandbox;
};

struct gateway_registry *gateway_registry_new(struct db *db, const _Atomic bool *cancel)
{
    struct gateway_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    reg->sandbox = (struct gateway){.ops = &gateway_sandbox_ops,
                                    .id = "sandbox",
                                    .state = db,
                                    .timeout = GATEWAY_TIMEOUT,
                                    .cancel = cancel};
    return reg;
}

void gateway_registry_free(struct gateway_registry *reg)
{
    free(reg);
}

bool gateway_configured(const struct db_merchant *m)
{
    return m->environment == ENV_SANDBOX;
}

const struct gateway *gateway_for_merchant(const struct gateway_registry *reg,
                                           const struct db_merchant *m)
{
    if (!reg || !gateway_configured(m))
        return NULL;
    return &reg->sandbox;
}
