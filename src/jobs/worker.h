/*
 * worker.h — the background workers of `chatpay serve`: job runners that
 * claim jobs from the durable queue (outbox), and the expiry sweeper.
 */
#ifndef CHATPAY_JOBS_WORKER_H
#define CHATPAY_JOBS_WORKER_H

#include "db/db.h"
#include "db/jobs.h"

struct app;
struct workers;

/* Start `n` job threads and one sweeper thread. NULL on failure. */
struct workers *workers_start(struct app *app, unsigned n);

/* A job was queued: wake an idle job thread now rather than at its next poll. */
void workers_wake(struct workers *w);

/* Stop the threads (each finishes the job in hand) and free. */
void workers_stop(struct workers *w);

/* Outcome of one job run. */
enum job_result { JOB_DONE, JOB_RETRY };

/* Run one claimed job (link_jobs.c). On JOB_RETRY, *error says why. */
enum job_result jobs_run(struct app *app, const struct db_job *job, const char **error);

/* Payment jobs (payment_jobs.c): JOB_PAYMENT_QUERY, JOB_REVIEW_SETTLE,
 * JOB_AUTO_REVERSE. */
enum job_result payment_jobs_run(struct app *app, const struct db_job *job, const char **error);

/* Ask the gateway about operations left pending for a while (a crash
 * between a gateway call and its record) and record final answers. Returns
 * how many were resolved, or -1 on error. */
int jobs_repair_payments(struct app *app, usec_t now);

/* Record PAYMENT_URL_EXPIRED on every live link whose time is up (at most
 * `limit` per call). Returns how many links expired, or -1 on error. */
int jobs_expire_links(struct app *app, usec_t now, int limit);

#endif
