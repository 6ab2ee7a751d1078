/*
 * jobs.h — the background work of chatpay: job runners over the durable
 * queue (the outbox table `jobs`), in pools, and a sweeper.
 *
 * Every kind of job is a row of one table (registry.c): its runner, how long
 * a claim locks it (lease), how often it is tried, how long it waits between
 * tries, and its pool. Each pool has threads of its own, so that slow calls
 * of one pool (merchants' callback URLs) never delay another (sending
 * links). A job costs at most two write commits: the claim, and then either
 * the runner's own transaction that records its outcome and completes it
 * (job_finish_in), or the runner's retry or completion.
 *
 * A runner reads what it needs, calls the outside world (a channel, a
 * gateway, a URL) with no transaction open, and records the outcome through
 * the service layer. A job may run more than once (a crash after the call,
 * before the record): runners are idempotent, and providers are called with
 * the job's own reference.
 */
#ifndef CHATPAY_JOBS_JOBS_H
#define CHATPAY_JOBS_JOBS_H

#include <stdbool.h>

#include "db/jobs.h"
#include "util/arena.h"
#include "util/time.h"

struct app;
struct workers;

enum job_result { JOB_DONE, JOB_RETRY };

/* What a runner gets: the job, an arena freed after the run, and where to
 * say why it must be tried again. */
struct job_ctx {
    struct app *app;
    const struct db_job *job;
    struct arena *a;
    const char *error; /* JOB_RETRY: why */
    bool completed;    /* the runner completed the job in its own transaction */
    usec_t retry_at;   /* JOB_RETRY: when (0: the kind's backoff) */
    unsigned queued;   /* pools of the jobs its transactions queued (woken after the run) */
    bool unrecorded;   /* a provider may have acted, and what it answered could not be
                          recorded: the job is left as a run that died is (its lease runs
                          out, and the next run must not act again) */
};

typedef enum job_result (*job_run_fn)(struct job_ctx *jc);

/* One kind of job. */
struct job_kind_info {
    enum job_kind kind;
    const char *name;
    job_run_fn run;
    usec_t lease;     /* a claim locks the job this long; a run ends well before */
    int max_attempts; /* then given up (logged, kept with its last error) */
    usec_t backoff;   /* wait after the first failed try; doubled each time */
    usec_t backoff_cap;
    enum job_pool pool;
    /* when the last try failed: records what giving up means for the job's
     * subject, in the transaction that gives it up (NULL: nothing) */
    enum db_status (*give_up)(struct job_ctx *jc, struct db_tx *tx);
};

/* The kind's row, or NULL for an unknown kind. */
const struct job_kind_info *job_kind_info(int kind);

/* The wait before the next try after `attempts` failed tries: the kind's
 * backoff, doubled per failed try, at most its cap (k NULL: 1 s, at most
 * 5 minutes). */
usec_t job_backoff(const struct job_kind_info *k, int attempts);

/* The pool's name ("messages", "payments", "callbacks"). */
const char *job_pool_name(enum job_pool pool);

/* Inside the runner's record transaction: complete the job. DB_ROLLBACK when
 * an earlier run completed it already (then nothing is to be recorded). */
enum db_status job_finish_in(struct db_tx *tx, struct job_ctx *jc);

/* The runner's result after db_run of its record transaction (which began
 * with job_finish_in): done when recorded, or recorded before; retry when the
 * database failed. */
enum job_result job_recorded(struct job_ctx *jc, enum db_status st);

/* The runners (one file each). */
enum job_result job_send_link(struct job_ctx *jc);
enum job_result job_delivery_receipt(struct job_ctx *jc);
enum job_result job_send_cancel(struct job_ctx *jc);
enum job_result job_payment_query(struct job_ctx *jc);
enum job_result job_review_settle(struct job_ctx *jc);
enum job_result job_auto_reverse(struct job_ctx *jc);
enum job_result job_send_receipt(struct job_ctx *jc);
enum job_result job_receipt_delivery(struct job_ctx *jc);
enum job_result job_send_reminder(struct job_ctx *jc);
enum job_result job_deliver_callback(struct job_ctx *jc);
enum job_result job_mp_fulfil(struct job_ctx *jc);
enum job_result job_mp_result(struct job_ctx *jc);
enum job_result job_wa_send_order(struct job_ctx *jc);
enum job_result job_wa_refund(struct job_ctx *jc);
enum db_status job_wa_refund_give_up(struct job_ctx *jc, struct db_tx *tx);

/* ---- the workers ----------------------------------------------------------------------- */

struct workers_config {
    unsigned threads[POOL_COUNT]; /* per pool; 0 → the default */
    bool sweeper;                 /* run the expiry, repair and purge sweeper */
};

/* Start the pools' threads and the sweeper. NULL on failure. */
struct workers *workers_start(struct app *app, const struct workers_config *cfg);

/* Jobs of these pools (1 << enum job_pool) were queued: wake an idle
 * thread of each now rather than at its next poll. */
void workers_wake(struct workers *w, unsigned pools);

/* Stop the threads (each finishes the job in hand) and free. NULL ok. */
void workers_stop(struct workers *w);

/* The sweeper's passes (sweeper.c), one call each: */
/* record PAYMENT_URL_EXPIRED on links whose time is up, at most `limit`;
 * the number looked at (a full batch: call again), or -1 on error */
int jobs_expire_links(struct app *app, int limit);
/* ask the gateway about operations left pending for a while (a crash
 * between a call and its record), and close checkouts nobody completed;
 * how many were resolved, or -1 on error */
int jobs_repair_payments(struct app *app, usec_t now);
/* rows a purge statement drops at most */
enum { JOBS_PURGE_BATCH = 5000 };
/* drop old idempotency records, finished jobs, sandbox messages, expired
 * marketplace tokens, handled gateway notices and ended callbacks: each
 * table in batches, each batch in a transaction of its own, a bounded
 * number per call (the rest at the next); false when a table's purge
 * failed (the others were purged still) */
bool jobs_purge(struct app *app, usec_t now);

#endif
