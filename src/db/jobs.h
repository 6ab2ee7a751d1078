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
    JOB_DELIVERY_RECEIPT, /* ask what became of a message (arg: its provider_messages id) */
    JOB_SEND_CANCEL,      /* tell the customer the link was cancelled (arg: the link's id) */
    JOB_PAYMENT_QUERY,    /* ask the gateway about the link's pending or unanswered operations */
    JOB_REVIEW_SETTLE,    /* ask the gateway how a REVIEW payment ended */
    JOB_AUTO_REVERSE,     /* return a payment: a REVIEW one (paymentReviewAutoReversal) or one
                             the link could not take */
    JOB_DELIVER_CALLBACK, /* deliver a merchant callback (arg: the callback's id) */
    JOB_SEND_RECEIPT,     /* send a receipt link to the customer */
    JOB_RECEIPT_DELIVERY, /* (unused: receipts and links share JOB_DELIVERY_RECEIPT) */
    JOB_SEND_REMINDER,    /* send an unopened link again (arg: which reminder, from 1) */
    JOB_MP_FULFIL,        /* marketplace: have the vendor issue a purchase (arg: the purchase's
                             id; merchant_id: the client's internal id; link_id 0) */
    JOB_MP_RESULT,        /* marketplace: deliver a purchase's result to the client */
    JOB_WA_SEND_ORDER,    /* WhatsApp Pay: send an order's message (arg: the order's id) */
    JOB_WA_REFUND,        /* WhatsApp Pay: have the gateway settle a refund (arg: its id) */
    JOB_KIND_MAX = JOB_WA_REFUND,
};

/* JOB_SEND_LINK's arg: how the link goes out. */
enum send_link_how {
    SEND_LINK_FIRST = 0,    /* its first send (then its reminders are queued) */
    SEND_LINK_TEMPLATE = 1, /* again, as the merchant's WhatsApp template alone: the text was
                               taken, then reported undelivered for the closed window */
    SEND_LINK_AGAIN = 2,    /* again, by SMS: the WhatsApp message was taken, then reported
                               undelivered (its reminders were queued already) */
};

/* The worker pools: each has threads of its own, so that slow calls of one
 * kind (a merchant's callback URL) never delay another (sending links). */
enum job_pool { POOL_MESSAGES = 0, POOL_PAYMENTS, POOL_CALLBACKS, POOL_COUNT };

/* The pool a kind of job runs in. */
static inline enum job_pool job_kind_pool(int kind)
{
    switch (kind) {
    case JOB_PAYMENT_QUERY:
    case JOB_REVIEW_SETTLE:
    case JOB_AUTO_REVERSE:
    case JOB_MP_FULFIL:
    case JOB_WA_REFUND:
        return POOL_PAYMENTS;
    case JOB_DELIVER_CALLBACK:
    case JOB_MP_RESULT:
        return POOL_CALLBACKS;
    default:
        return POOL_MESSAGES;
    }
}

struct db_job {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
    int kind; /* enum job_kind */
    int64_t link_id;
    int64_t arg; /* kind-specific (JOB_DELIVERY_RECEIPT: message id) */
    usec_t run_at;
    int attempts;   /* times claimed so far, including this one */
    int retried;    /* `attempts` when a retry was last recorded: less than attempts - 1 means
                       a run ended without recording anything (the process died in it) */
    int acted;      /* `attempts` when a run last said it was about to call a provider
                       (acting): more than `retried`, a run that ended without recording
                       anything may have acted */
    usec_t done_at; /* when it was completed or given up (0: not yet) */
};

struct db_jobs_ops {
    /* sets j->id; the job goes to the pool of its kind (job_kind_pool) */
    enum db_status (*insert)(struct db_tx *tx, struct db_job *j);
    /* take the next due job of a pool and lock it until now + lease
     * (workers: across merchants) */
    enum db_status (*claim)(struct db_tx *tx, enum job_pool pool, usec_t now, usec_t lease,
                            struct db_job *out);
    /* lease, complete and retry act on the claim j holds (its id and
     * attempt): DB_NO_RESULTS when the job is complete already, or was
     * claimed again since (this run outlived its lease) */
    /* lock a claimed job until `until` instead */
    enum db_status (*lease)(struct db_tx *tx, const struct db_job *j, usec_t until);
    /* this run is about to call a provider (acted = its attempt), so that a
     * later run knows it may have acted if it ends without a record */
    enum db_status (*acting)(struct db_tx *tx, const struct db_job *j);
    enum db_status (*complete)(struct db_tx *tx, const struct db_job *j, usec_t now);
    enum db_status (*retry)(struct db_tx *tx, const struct db_job *j, usec_t run_at,
                            const char *error);
    enum db_status (*count_pending)(struct db_tx *tx, int64_t *n);
    /* have a pending job of this kind and arg run no later than run_at (one
     * running now keeps its own next run); DB_NO_RESULTS when there is none */
    enum db_status (*hurry)(struct db_tx *tx, int kind, int64_t arg, usec_t run_at);
    /* drop at most `limit` of the jobs finished before `before`, the earliest
     * finished first, never the newest job (its id would come back): how
     * many it dropped */
    enum db_status (*purge)(struct db_tx *tx, usec_t before, int limit);
    /* has the merchant a job of this kind and argument, finished or not
     * (until purged)? DB_ONE_RESULT when it has */
    enum db_status (*exists)(struct db_tx *tx, const char *merchant_id, int kind, int64_t arg);
    /* one of a merchant's jobs, finished or not (DB_NO_RESULTS: none, or purged) */
    enum db_status (*get)(struct db_tx *tx, const char *merchant_id, int64_t id,
                          struct db_job *out);
};

const struct db_jobs_ops *db_jobs_ops(struct db_tx *tx);

#endif
