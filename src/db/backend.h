/*
 * backend.h — the operation tables of the aggregates (declared in
 * db/<aggregate>.h). They are written once (db/sql/) over the statements of
 * db/sql/stmt.h, which each backend implements (db_internal.h). Only db/
 * includes it.
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

/* The operation table (the same on every backend). */
extern const struct db_ops db_sql_ops;

#endif
