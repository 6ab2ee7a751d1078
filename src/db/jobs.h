/*
 * jobs.h — the durable job queue (the outbox).
 *
 * Part of the storage interface (db/db.h has the transaction runner): the
 * records of this aggregate and the operations on them, which callers reach
 * with DB_CALL(tx, group, op, ...) inside db_run. Every operation that
 * touches merchant data takes the merchant id and scopes its query by it.
 */
#ifndef CHATPAY_DB_JOBS_H
#define CHATPAY_DB_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#include "util/time.h"

/* A durable job (the outbox). */
enum job_kind {
    JOB_SEND_LINK = 1,
    JOB_DELIVERY_RECEIPT,
    JOB_SEND_CANCEL,
    JOB_PAYMENT_QUERY, /* ask the gateway about the link's pending or unanswered operations */
    JOB_REVIEW_SETTLE, /* ask the gateway how a REVIEW payment ended */
    JOB_AUTO_REVERSE,  /* reverse a REVIEW payment (paymentReviewAutoReversal) */
};
struct db_job {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
    int kind; /* enum job_kind */
    int64_t link_id;
    int64_t arg; /* kind-specific (JOB_DELIVERY_RECEIPT: message id) */
    usec_t run_at;
    int attempts; /* times claimed so far, including this one */
};

struct db_jobs_ops {
    /* sets j->id */
    enum db_status (*insert)(struct db_tx *tx, struct db_job *j);
    /* take the next due job and lock it until now + lease (workers: across merchants) */
    enum db_status (*claim)(struct db_tx *tx, usec_t now, usec_t lease, struct db_job *out);
    /* DB_NO_RESULTS when the job was already complete */
    enum db_status (*complete)(struct db_tx *tx, int64_t id, usec_t now);
    enum db_status (*retry)(struct db_tx *tx, int64_t id, usec_t run_at, const char *error);
    enum db_status (*count_pending)(struct db_tx *tx, int64_t *n);
    /* drop jobs finished before `before`, and sandbox messages older than it */
    enum db_status (*purge)(struct db_tx *tx, usec_t before);
};

const struct db_jobs_ops *db_jobs_ops(struct db_tx *tx);

#endif
