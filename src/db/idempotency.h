/*
 * idempotency.h — idempotency records (Idempotency-Key).
 *
 * Part of the storage interface (db/db.h has the transaction runner): the
 * records of this aggregate and the operations on them, which callers reach
 * with DB_CALL(tx, group, op, ...) inside db_run. Every operation that
 * touches merchant data takes the merchant id and scopes its query by it.
 */
#ifndef CHATPAY_DB_IDEMPOTENCY_H
#define CHATPAY_DB_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#include "util/arena.h"
#include "util/time.h"

/* An idempotency record: the first request with a key, and its reply. */
enum idem_state { IDEM_IN_PROGRESS = 0, IDEM_DONE = 1 };
struct db_idempotency {
    uint8_t request_hash[32];
    int state;        /* enum idem_state */
    int status;       /* HTTP status of the stored reply */
    const char *body; /* the stored reply body (arena) */
    usec_t created_at;
};

struct db_idempotency_ops {
    /* insert an IN_PROGRESS record; DB_NO_RESULTS when the key exists */
    enum db_status (*begin)(struct db_tx *tx, const char *merchant_id, const char *key,
                            const uint8_t hash[32], usec_t now);
    enum db_status (*get)(struct db_tx *tx, const char *merchant_id, const char *key,
                          struct arena *a, struct db_idempotency *out);
    /* replace a stale or finished record by a new IN_PROGRESS one */
    enum db_status (*restart)(struct db_tx *tx, const char *merchant_id, const char *key,
                              const uint8_t hash[32], usec_t now);
    /* store the reply of a claim: only while it is that claim's
     * (IN_PROGRESS, the same request hash and claim time), never over a
     * claim another request took over; DB_NO_RESULTS when there is none such */
    enum db_status (*finish)(struct db_tx *tx, const char *merchant_id, const char *key,
                             const uint8_t hash[32], usec_t claimed_at, int status,
                             const char *body);
    /* drop the record of a claim that ended without its reply stored: only
     * while it is that claim's (IN_PROGRESS, the same request hash and
     * claim time), never a finished record or another request's claim;
     * DB_NO_RESULTS when there is none such */
    enum db_status (*forget)(struct db_tx *tx, const char *merchant_id, const char *key,
                             const uint8_t hash[32], usec_t claimed_at);
    /* drop at most `limit` of the records made before `before`, the oldest
     * first: how many it dropped */
    enum db_status (*purge)(struct db_tx *tx, usec_t before, int limit);
};

const struct db_idempotency_ops *db_idempotency_ops(struct db_tx *tx);

#endif
