/*
 * worker.c — the worker pools and the sweeper thread (see jobs.h).
 *
 * A pool's thread claims the next due job of its pool (one write commit that
 * locks it), runs it with no transaction open, and — unless the runner
 * recorded and completed it in its own transaction — completes it or
 * schedules the next try (a second commit). A thread that dies mid-job
 * leaves the lock to run out, and the job runs again. A job that failed
 * max_attempts times is given up: completed, with its last error kept, and
 * an error line in the log.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "jobs/jobs.h"
#include "util/log.h"
#include "util/thread.h"

enum {
    THREADS_MAX = 160,
    POLL_MS = 200,  /* idle threads look for due jobs this often */
    SWEEP_MS = 250, /* the sweeper looks for expired links this often */
    SWEEP_BATCH = 200,
    /* runs past a kind's tries that never ended (each stopped the process,
     * or hung past its lease) before the job is given up without running:
     * one such run still records the outcome of the last try */
    OVERDUE_RUNS = 2,
};
#define CLAIM_LEASE  (60LL * 1000000)  /* µs a claim locks a job before its kind's lease is set */
#define REPAIR_EVERY (5LL * 1000000)   /* µs between looks for pending payment operations */
#define PURGE_EVERY  (600LL * 1000000) /* µs between purges */
#define PURGE_RETRY  (30LL * 1000000)  /* µs after a purge that failed */

static const unsigned default_threads[POOL_COUNT] = {
    [POOL_MESSAGES] = 2,
    [POOL_PAYMENTS] = 1,
    [POOL_CALLBACKS] = 4,
};

struct pool_thread {
    struct workers *w;
    enum job_pool pool;
    pthread_t id;
};

struct workers {
    struct app *app;
    struct pool_thread threads[THREADS_MAX];
    unsigned n;
    pthread_t sweeper;
    bool sweeper_started;
    pthread_mutex_t mu;
    /* on CLOCK_MONOTONIC (thread_cond_init_mono): a step of the wall clock
     * does not stall the waits */
    pthread_cond_t cv[POOL_COUNT]; /* a pool's threads: new jobs, or stop */
    pthread_cond_t sweep_cv;       /* the sweeper: stop only */
    unsigned pending[POOL_COUNT];  /* wakes not taken yet, per pool */
    unsigned npool[POOL_COUNT];    /* threads per pool */
    bool stop;
};

struct claim_ctx {
    enum job_pool pool;
    struct db_job job;
};

static enum db_status claim_cb(struct db_tx *tx, void *cls)
{
    struct claim_ctx *c = cls;
    usec_t now = time_now();
    enum db_status st = DB_CALL(tx, jobs, claim, c->pool, now, CLAIM_LEASE, &c->job);
    if (st <= 0)
        return st;
    const struct job_kind_info *k = job_kind_info(c->job.kind);
    if (k && k->lease != CLAIM_LEASE) {
        enum db_status ls = DB_CALL(tx, jobs, lease, &c->job, now + k->lease);
        if (ls < 0)
            return ls;
    }
    return st;
}

struct finish_ctx {
    const struct job_kind_info *kind;
    struct job_ctx *jc;
    enum job_result result;
    const char *error;
    usec_t retry_at;
};

static enum db_status finish_cb(struct db_tx *tx, void *cls)
{
    struct finish_ctx *c = cls;
    const struct db_job *job = c->jc->job;
    usec_t now = time_now();
    int max = c->kind ? c->kind->max_attempts : 1;
    if (c->result == JOB_DONE)
        return DB_CALL(tx, jobs, complete, job, now);
    if (job->attempts >= max) {
        /* given up: what that means is recorded with it, under its claim */
        enum db_status st = DB_CALL(tx, jobs, complete, job, now);
        if (st <= 0 || !c->kind || !c->kind->give_up)
            return st;
        unsigned queued = c->jc->queued;
        st = c->kind->give_up(c->jc, tx);
        if (st < 0)
            c->jc->queued = queued;
        return st < 0 ? st : DB_ONE_RESULT;
    }
    usec_t at = c->retry_at ? c->retry_at : now + job_backoff(c->kind, job->attempts);
    return DB_CALL(tx, jobs, retry, job, at, c->error ? c->error : "failed");
}

/* Wait until woken, stopped, or `ms` passed. Returns false when stopping. */
static bool idle_wait(struct workers *w, enum job_pool pool, long ms)
{
    struct timespec ts = thread_deadline_mono(ms);
    pthread_mutex_lock(&w->mu);
    while (!w->stop && !w->pending[pool])
        if (pthread_cond_timedwait(&w->cv[pool], &w->mu, &ts) == ETIMEDOUT)
            break;
    if (w->pending[pool])
        w->pending[pool]--;
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

static void run_one(struct workers *w, const struct db_job *job)
{
    const struct job_kind_info *k = job_kind_info(job->kind);
    struct job_ctx jc = {.app = w->app, .job = job, .a = arena_new(0)};
    enum job_result res = JOB_DONE;
    if (k && job->attempts > k->max_attempts + OVERDUE_RUNS) {
        /* its runs never ended (each stopped the process, or hung past its
         * lease): not run again, given up (and what that means recorded) */
        jc.error = "its last runs never ended (the process stopped, or the run outlived its "
                   "lease)";
        res = JOB_RETRY;
    } else if (k) {
        res = k->run(&jc);
    } else {
        log_error("job %lld: unknown kind %d", (long long)job->id, job->kind);
    }
    if (res == JOB_RETRY) {
        log_fields(LOG_WARN, "job failed",
                   (struct log_field[]){LFI("job", job->id), LFS("kind", k ? k->name : "?"),
                                        LFI("attempt", job->attempts),
                                        LFS("error", jc.error ? jc.error : "?")},
                   4);
        if (k && job->attempts >= k->max_attempts)
            log_error("job %lld (%s) given up after %d attempts", (long long)job->id, k->name,
                      job->attempts);
    }
    if (jc.unrecorded) {
        log_error("job %lld (%s): the provider's answer could not be recorded; the job runs "
                  "again when its lease ends, as after a crash",
                  (long long)job->id, k ? k->name : "?");
    } else if (!(res == JOB_DONE && jc.completed)) {
        struct finish_ctx f = {k, &jc, res, jc.error, jc.retry_at};
        if (db_run(w->app->db, DB_WRITE, "job_finish", finish_cb, &f) < 0)
            log_error("job %lld: could not record the outcome; it will run again",
                      (long long)job->id);
    }
    app_wake_workers(w->app, jc.queued);
    arena_free(jc.a);
}

static void *pool_thread_main(void *arg)
{
    struct pool_thread *t = arg;
    struct workers *w = t->w;
    struct db *db = w->app->db;
    while (!stopping(w)) {
        struct claim_ctx c = {.pool = t->pool};
        enum db_status st = db_run(db, DB_WRITE, "job_claim", claim_cb, &c);
        if (st <= 0) {
            if (!idle_wait(w, t->pool, POLL_MS))
                break;
            continue;
        }
        run_one(w, &c.job);
    }
    db_thread_release(db);
    return NULL;
}

static void *sweeper_main(void *arg)
{
    struct workers *w = arg;
    /* paced by the monotonic clock: a wall clock stepped back (NTP, a VM
     * restored) must not stop repairs and purges for as long; the work
     * itself is given the wall time */
    usec_t start = time_mono();
    usec_t last_purge = start - PURGE_EVERY - 1, last_repair = start - REPAIR_EVERY - 1;
    while (!stopping(w)) {
        usec_t now = time_now(), mono = time_mono();
        /* with several processes on one database, one sweeps at a time (and
         * another takes over when it goes) */
        if (db_leader(w->app->db)) {
            /* keep going while full batches come back (and the periodic
             * work is still this process's: each step asks again) */
            while (jobs_expire_links(w->app, SWEEP_BATCH) == SWEEP_BATCH && !stopping(w) &&
                   db_leader(w->app->db))
                ;
            if (mono - last_repair > REPAIR_EVERY && db_leader(w->app->db)) {
                jobs_repair_payments(w->app, now);
                last_repair = mono;
            }
            /* a purge that failed (a statement timeout on a large table)
             * is tried again after PURGE_RETRY, not at every turn */
            if (mono - last_purge > PURGE_EVERY && db_leader(w->app->db))
                last_purge = jobs_purge(w->app, now) ? mono : mono - PURGE_EVERY + PURGE_RETRY;
        }
        struct timespec abs = thread_deadline_mono(SWEEP_MS);
        pthread_mutex_lock(&w->mu);
        if (!w->stop)
            pthread_cond_timedwait(&w->sweep_cv, &w->mu, &abs);
        pthread_mutex_unlock(&w->mu);
    }
    db_thread_release(w->app->db);
    return NULL;
}

struct workers *workers_start(struct app *app, const struct workers_config *cfg)
{
    /* every kind runs in the pool its rows go to */
    for (int k = 1; k <= JOB_KIND_MAX; k++) {
        const struct job_kind_info *info = job_kind_info(k);
        if (!info || info->pool != job_kind_pool(k)) {
            log_error("job kind %d has no runner in its pool", k);
            return NULL;
        }
    }
    struct workers *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->app = app;
    pthread_mutex_init(&w->mu, NULL);
    bool ok = true;
    for (int p = 0; p < POOL_COUNT; p++)
        ok = thread_cond_init_mono(&w->cv[p]) == 0 && ok;
    ok = thread_cond_init_mono(&w->sweep_cv) == 0 && ok; /* else no thread starts */
    for (int p = 0; p < POOL_COUNT && ok; p++) {
        unsigned n = cfg && cfg->threads[p] ? cfg->threads[p] : default_threads[p];
        for (unsigned i = 0; i < n && w->n < THREADS_MAX; i++) {
            struct pool_thread *t = &w->threads[w->n];
            t->w = w;
            t->pool = (enum job_pool)p;
            if (pthread_create(&t->id, NULL, pool_thread_main, t) != 0) {
                ok = false;
                break;
            }
            w->n++;
            w->npool[p]++;
        }
    }
    if (ok && (!cfg || cfg->sweeper))
        ok = w->sweeper_started = pthread_create(&w->sweeper, NULL, sweeper_main, w) == 0;
    if (!ok) {
        workers_stop(w);
        return NULL;
    }
    return w;
}

void workers_wake(struct workers *w, unsigned pools)
{
    pthread_mutex_lock(&w->mu);
    /* one more thread of each pool named: a thread that finds a job keeps
     * claiming until the pool has none due, so one wake per commit is enough */
    for (int p = 0; p < POOL_COUNT; p++) {
        if (!(pools & (1u << p)) || !w->npool[p])
            continue;
        if (w->pending[p] < w->npool[p])
            w->pending[p]++;
        pthread_cond_signal(&w->cv[p]);
    }
    pthread_mutex_unlock(&w->mu);
}

void workers_stop(struct workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    for (int p = 0; p < POOL_COUNT; p++)
        pthread_cond_broadcast(&w->cv[p]);
    pthread_cond_broadcast(&w->sweep_cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->n; i++)
        pthread_join(w->threads[i].id, NULL);
    if (w->sweeper_started)
        pthread_join(w->sweeper, NULL);
    for (int p = 0; p < POOL_COUNT; p++)
        pthread_cond_destroy(&w->cv[p]);
    pthread_cond_destroy(&w->sweep_cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
