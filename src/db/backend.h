/*
 * backend.h — the operation table a storage backend implements: the
 * transaction and schema operations, and one table per aggregate (declared
 * in db/<aggregate>.h). Only db/ and the backends include it.
 */
#ifndef CHATPAY_DB_BACKEND_H
#define CHATPAY_DB_BACKEND_H

#include "db/callbacks.h"
#include "db/db.h"
#include "db/idempotency.h"
#include "db/jobs.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"
#include "db/providers.h"
#include "db/sandbox.h"

struct db_ops {
    const char *backend; /* "sqlite" */

    /* transactions (used by db_run only) */
    enum db_status (*begin)(struct db_tx *tx, enum db_mode mode);
    enum db_status (*commit)(struct db_tx *tx);
    void (*rollback)(struct db_tx *tx);

    /* schema */
    enum db_status (*migrate)(struct db *db);
    enum db_status (*schema_version)(struct db_tx *tx, int *current, int *latest);
    enum db_status (*ping)(struct db_tx *tx);

    struct db_merchants_ops merchants;

    struct db_currencies_ops currencies;

    struct db_api_keys_ops api_keys;

    struct db_settings_ops settings;

    struct db_links_ops links;

    struct db_payments_ops payments;

    struct db_sandbox_gateway_ops sandbox_gateway;

    struct db_jobs_ops jobs;

    struct db_messages_ops messages;

    struct db_idempotency_ops idempotency;

    struct db_integrators_ops integrators;
    struct db_callbacks_ops callbacks;
    struct db_providers_ops providers;
};

/* The operation table of a transaction's backend. */
const struct db_ops *db_tx_ops(struct db_tx *tx);

#endif
