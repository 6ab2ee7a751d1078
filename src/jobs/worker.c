/*
 * worker.c — job threads and the expiry sweeper.
 *
 * A job thread claims the next due job (a short write transaction that locks
 * it for JOB_LEASE), runs it with no transaction open, and records the
 * outcome. A thread that dies mid-job leaves the lock to run out, and the job
 * runs again: job handlers are idempotent. Failed runs are retried with
 * exponential backoff up to JOB_MAX_ATTEMPTS, then given up (logged; the
 * job keeps its last error).
 */
#include "jobs/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "util/log.h"
#include "db/idempotency.h"
#include "db/jobs.h"

enum {
    WORKERS_MAX = 16,
    JOB_MAX_ATTEMPTS = 12,
    POLL_MS = 200,  /* idle job threads look for due jobs this often */
    SWEEP_MS = 250, /* the sweeper looks for expired links this often */
    SWEEP_BATCH = 200,
};
#define JOB_LEASE        (15LL * 1000000) /* µs a claimed job stays locked; a run ends sooner */
#define IDEMPOTENCY_KEEP (24LL * 3600 * 1000000) /* µs idempotency records are kept */
#define JOBS_KEEP        (7LL * 24 * 3600 * 1000000) /* µs finished jobs and sandbox messages are kept */
#define REPAIR_EVERY     (5LL * 1000000) /* µs between looks for pending payment operations */
#define PURGE_EVERY      (600LL * 1000000)

struct workers {
    struct app *app;
    pthread_t threads[WORKERS_MAX];
    unsigned n;
    pthread_t sweeper;
    bool sweeper_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned pending_wakes;
    bool stop;
};

static enum db_status claim_cb(struct db_tx *tx, void *cls)
{
    return DB_CALL(tx, jobs, claim, time_now(), JOB_LEASE, (struct db_job *)cls);
}

struct finish_ctx {
    const struct db_job *job;
    enum job_result result;
    const char *error;
};

static enum db_status finish_cb(struct db_tx *tx, void *cls)
{
    struct finish_ctx *c = cls;
    usec_t now = time_now();
    if (c->result == JOB_DONE || c->job->attempts >= JOB_MAX_ATTEMPTS)
        return DB_CALL(tx, jobs, complete, c->job->id, now);
    /* 1 s, 2 s, 4 s ... capped at 5 minutes */
    int shift = c->job->attempts < 9 ? c->job->attempts - 1 : 8;
    usec_t delay = (1000000LL << (shift > 0 ? shift : 0));
    if (delay > 300LL * 1000000)
        delay = 300LL * 1000000;
    return DB_CALL(tx, jobs, retry, c->job->id, now + delay, c->error ? c->error : "failed");
}

/* Wait until woken, stopped, or `ms` passed. Returns false when stopping. */
static bool idle_wait(struct workers *w, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->stop && !w->pending_wakes)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
            break;
    if (w->pending_wakes)
        w->pending_wakes--;
    bool go_on = !w->stop;
    pthread_mutex_unlock(&w->mu);
    return go_on;
}

static bool stopping(struct workers *w)
{
    pthread_mutex_lock(&w->mu);
    bool s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

static void *job_thread(void *arg)
{
    struct workers *w = arg;
    struct db *db = w->app->db;
    while (!stopping(w)) {
        struct db_job job;
        enum db_status st = db_run(db, DB_WRITE, "job_claim", claim_cb, &job);
        if (st <= 0) {
            if (!idle_wait(w, POLL_MS))
                break;
            continue;
        }
        const char *error = NULL;
        enum job_result res = jobs_run(w->app, &job, &error);
        if (res == JOB_RETRY)
            log_warn("job %lld (kind %d, attempt %d) failed: %s", (long long)job.id, job.kind,
                     job.attempts, error ? error : "?");
        if (res == JOB_RETRY && job.attempts >= JOB_MAX_ATTEMPTS)
            log_error("job %lld given up after %d attempts", (long long)job.id, job.attempts);
        struct finish_ctx f = {&job, res, error};
        if (db_run(db, DB_WRITE, "job_finish", finish_cb, &f) < 0)
            log_error("job %lld: could not record the outcome; it will run again",
                      (long long)job.id);
    }
    db_thread_release(db);
    return NULL;
}

static enum db_status purge_cb(struct db_tx *tx, void *cls)
{
    usec_t now = *(usec_t *)cls;
    enum db_status st = DB_CALL(tx, idempotency, purge, now - IDEMPOTENCY_KEEP);
    if (st < 0)
        return st;
    return DB_CALL(tx, jobs, purge, now - JOBS_KEEP);
}

static void *sweeper_thread(void *arg)
{
    struct workers *w = arg;
    usec_t last_purge = 0, last_repair = 0;
    while (!stopping(w)) {
        usec_t now = time_now();
        /* keep going while full batches come back */
        while (jobs_expire_links(w->app, now, SWEEP_BATCH) == SWEEP_BATCH && !stopping(w))
            ;
        if (now - last_repair > REPAIR_EVERY) {
            jobs_repair_payments(w->app, now);
            last_repair = now;
        }
        if (now - last_purge > PURGE_EVERY) {
            if (db_run(w->app->db, DB_WRITE, "purge", purge_cb, &now) >= 0)
                last_purge = now;
        }
        struct timespec ts = {0, SWEEP_MS * 1000000L};
        pthread_mutex_lock(&w->mu);
        struct timespec abs;
        clock_gettime(CLOCK_REALTIME, &abs);
        abs.tv_nsec += ts.tv_nsec;
        if (abs.tv_nsec >= 1000000000L) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000L;
        }
        if (!w->stop)
            pthread_cond_timedwait(&w->cv, &w->mu, &abs);
        pthread_mutex_unlock(&w->mu);
    }
    db_thread_release(w->app->db);
    return NULL;
}

struct workers *workers_start(struct app *app, unsigned n)
{
    struct workers *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->app = app;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (n > WORKERS_MAX)
        n = WORKERS_MAX;
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&w->threads[i], NULL, job_thread, w) != 0)
            break;
        w->n++;
    }
    w->sweeper_started = pthread_create(&w->sweeper, NULL, sweeper_thread, w) == 0;
    if (!w->n || !w->sweeper_started) {
        workers_stop(w);
        return NULL;
    }
    return w;
}

void workers_wake(struct workers *w)
{
    pthread_mutex_lock(&w->mu);
    if (w->pending_wakes < w->n)
        w->pending_wakes++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void workers_stop(struct workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    if (w->sweeper_started)
        pthread_join(w->sweeper, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
