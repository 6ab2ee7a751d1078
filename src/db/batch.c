/*
 * batch.c — group commit: the write transactions that a process runs at the
 * same time share one database transaction and one durable commit.
 *
 * Every db_run(DB_WRITE) of a backend with batch_writes queues a request
 * and waits for its answer. One thread of the process, the writer (started
 * with the first request, stopped by db_close), takes up to BATCH_MAX
 * queued requests, begins one write transaction, runs each request's
 * callback inside a savepoint of its own, commits once and only then wakes
 * the requests' threads (it wakes the first; each woken thread wakes two
 * more). Meanwhile the requests that arrive queue for the next batch, which
 * the writer takes as soon as it has woken the last one's first. Batches
 * run on one connection, the writer's (db->batch_writer): its cache stays
 * warm, and no other thread needs a connection to write. Keeping one thread
 * on it, rather than handing the work to a thread of each batch in turn,
 * spares a wake-up between batches and keeps the connection's work on one
 * thread's cache.
 *
 * Failures stay with their request wherever the transaction survives them:
 * - a callback that fails (DB_ROLLBACK, DB_HARD_ERROR) is rolled back to its
 *   savepoint and only its request gets the error; the others commit;
 * - a callback with a transient failure (DB_SOFT_ERROR) is rolled back to its
 *   savepoint and its request queued again (at most DB_MAX_ATTEMPTS times);
 *   when the database is unavailable (a statement timeout, a want of
 *   resources) it is answered at once instead;
 * - a request that has waited 1.5 statement timeouts by the time its turn
 *   comes is answered as unavailable without running (a lock held elsewhere
 *   would otherwise make each request of a batch wait one out in turn);
 * - when the engine rolled the whole transaction back by itself (a savepoint
 *   operation fails then), the request that was running gets its error, the
 *   transaction is dropped and the batch runs again without that request;
 * - a transient failure of BEGIN or COMMIT runs the whole batch again after a
 *   backoff; a hard one fails every request that has no answer yet.
 * A request is answered as committed only after the COMMIT of its batch.
 */
#include "db/db_internal.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>

#include "util/log.h"
#include "util/thread.h"
#include "util/time.h"

/* The most requests one transaction carries. On PostgreSQL each request that
 * writes runs in a subtransaction (its savepoint) with an id of its own; a
 * session keeps at most 64 of those ids where other sessions' snapshots look
 * (PGPROC_MAX_CACHED_SUBXIDS). One more and the visibility checks of every
 * snapshot taken on the cluster while the group runs read pg_subtrans. A
 * request undone with its savepoint gives its id back, so a group never
 * holds more than BATCH_MAX. */
enum { BATCH_MAX = 64 };
_Static_assert(BATCH_MAX <= 64, "a group would overflow PostgreSQL's subtransaction cache");

/* One db_run(DB_WRITE) waiting for its batch; lives on its thread's stack. */
struct db_batch_req {
    db_txn_cb cb;
    void *cls;
    const char *name;
    enum db_status st; /* the answer, once done */
    int soft;          /* transient failures of its callback so far */
    usec_t queued_at;  /* monotonic: when it was first queued */
    sem_t wake;        /* posted once, when answered */
    struct db_batch_req *next;
    struct db_batch_req *wakes[2]; /* answered with it: its thread wakes them */
};

/* A request while its batch runs (the leader's own view). */
enum item_state {
    ITEM_PENDING, /* to run in this transaction */
    ITEM_RAN,     /* its callback's work is in the transaction */
    ITEM_ANSWERED,
    ITEM_AGAIN, /* to queue again */
};

struct item {
    struct db_batch_req *r;
    enum item_state state;
    bool config_changed;
};

static void answer(struct item *it, enum db_status st)
{
    it->r->st = st;
    it->state = ITEM_ANSWERED;
}

/* Every request still to run (or run in a transaction that is gone) gets st. */
static void answer_pending(struct item *items, int n, enum db_status st)
{
    for (int i = 0; i < n; i++)
        if (items[i].state == ITEM_PENDING || items[i].state == ITEM_RAN)
            answer(&items[i], st);
}

/* The transaction was rolled back: what had run must run again. */
static void forget_ran(struct item *items, int n)
{
    for (int i = 0; i < n; i++)
        if (items[i].state == ITEM_RAN)
            items[i].state = ITEM_PENDING;
}

/* Run one request's callback in a savepoint. False when the transaction can
 * not go on (a savepoint operation failed: the engine may have rolled it all
 * back); the request has its answer or is to be queued again either way. */
static bool run_one(struct db *db, struct db_tx *tx, struct item *it)
{
    enum db_status (*savepoint)(struct db_tx *, enum db_savepoint) = db->backend->savepoint;
    if (savepoint(tx, DB_SAVEPOINT_BEGIN) < 0) {
        answer(it, DB_HARD_ERROR);
        return false;
    }
    tx->config_changed = false;
    tx->unavailable = false; /* this request's own, not one before it */
    enum db_status st = it->r->cb(tx, it->r->cls);
    if (st >= 0) {
        if (savepoint(tx, DB_SAVEPOINT_RELEASE) < 0) {
            answer(it, DB_HARD_ERROR);
            return false;
        }
        it->r->st = st;
        it->state = ITEM_RAN;
        it->config_changed = tx->config_changed;
        return true;
    }
    atomic_fetch_add_explicit(st == DB_SOFT_ERROR ? &db->retries : &db->rollbacks, 1,
                              memory_order_relaxed);
    /* the server is away or overloaded (a statement timeout): answered at
     * once, as db_run does, not tried again on the node's one writer */
    bool away = st == DB_SOFT_ERROR && tx->unavailable;
    bool kept = savepoint(tx, DB_SAVEPOINT_ROLLBACK) >= 0;
    db_tx_forget(tx); /* it may have read what it wrote */
    if (away && kept)
        tx->unavailable = false; /* the others of the group go on */
    if (st != DB_SOFT_ERROR || away) {
        answer(it, st);
    } else if (++it->r->soft < DB_MAX_ATTEMPTS) {
        it->state = ITEM_AGAIN;
    } else {
        log_error("transaction %s: still busy after %d attempts", it->r->name, DB_MAX_ATTEMPTS);
        answer(it, DB_SOFT_ERROR);
    }
    return kept;
}

/* After the commit: count, advance the epoch, answer. */
static void committed(struct db *db, struct item *items, int n)
{
    uint64_t ran = 0;
    bool config_changed = false;
    for (int i = 0; i < n; i++) {
        if (items[i].state != ITEM_RAN)
            continue;
        ran++;
        config_changed |= items[i].config_changed;
        items[i].state = ITEM_ANSWERED; /* r->st is the callback's status */
    }
    if (config_changed)
        atomic_fetch_add_explicit(db->epoch, 1, memory_order_acq_rel);
    atomic_fetch_add_explicit(&db->commits[DB_WRITE], ran, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->durable_commits, 1, memory_order_relaxed);
}

/* Run a batch in one transaction on the writer connection until every
 * request is answered or to be queued again. */
static void run_batch(struct db *db, struct db_tx *tx, struct item *items, int n)
{
    const struct db_backend *ops = db->backend;
    int attempt = 1;
    const usec_t deadline = 1500LL * db->statement_timeout_ms; /* 1.5 timeouts, usec */
    for (;;) {
        tx->unavailable = false;
        db_tx_forget(tx);
        enum db_status st = ops->begin(tx, DB_WRITE);
        if (st == DB_SOFT_ERROR && tx->unavailable) {
            /* the server is away: answer now, not after every retry */
            answer_pending(items, n, DB_SOFT_ERROR);
            return;
        }
        if (st == DB_SOFT_ERROR && attempt < DB_MAX_ATTEMPTS) {
            atomic_fetch_add_explicit(&db->retries, 1, memory_order_relaxed);
            db_backoff(attempt++);
            continue;
        }
        if (st < 0) {
            if (st == DB_SOFT_ERROR)
                log_error("transaction %s: still busy after %d attempts", items[0].r->name,
                          DB_MAX_ATTEMPTS);
            answer_pending(items, n, st == DB_SOFT_ERROR ? DB_SOFT_ERROR : DB_HARD_ERROR);
            return;
        }
        tx->in_txn = true;
        bool kept = true, any = false;
        for (int i = 0; i < n && kept; i++) {
            if (items[i].state != ITEM_PENDING)
                continue;
            /* a request that has waited one and a half statement timeouts
             * already is answered as unavailable (503) without running: behind a
             * lock held elsewhere each request of a group would otherwise
             * wait out the timeout in turn on this one connection */
            if (time_mono() - items[i].r->queued_at > deadline) {
                answer(&items[i], DB_SOFT_ERROR);
                continue;
            }
            kept = run_one(db, tx, &items[i]);
            any |= items[i].state == ITEM_RAN;
        }
        if (!kept || !any) {
            /* lost: again without the request it was lost in (each time one
             * request fewer, so this ends); nothing ran: nothing to commit */
            ops->rollback(tx);
            tx->in_txn = false;
            forget_ran(items, n);
            if (!kept)
                continue;
            return;
        }
        /* tell the other processes of a configuration change, in the
         * transaction (PostgreSQL's notice; nothing to do for SQLite) */
        bool changed = false;
        for (int i = 0; i < n; i++)
            changed |= items[i].state == ITEM_RAN && items[i].config_changed;
        st = changed && ops->config_changed ? ops->config_changed(tx) : DB_NO_RESULTS;
        if (st >= 0)
            st = ops->commit(tx);
        if (st >= 0) {
            tx->in_txn = false;
            committed(db, items, n);
            return;
        }
        ops->rollback(tx);
        tx->in_txn = false;
        forget_ran(items, n);
        if (st == DB_SOFT_ERROR && attempt < DB_MAX_ATTEMPTS && !tx->unavailable) {
            atomic_fetch_add_explicit(&db->retries, 1, memory_order_relaxed);
            db_backoff(attempt++);
            continue;
        }
        answer_pending(items, n, st == DB_SOFT_ERROR ? DB_SOFT_ERROR : DB_HARD_ERROR);
        return;
    }
}

/* The queue (db->batch_head/tail) and the lead are guarded by db->write_lock. */

static void enqueue(struct db *db, struct db_batch_req *r)
{
    r->next = NULL;
    if (db->batch_tail)
        db->batch_tail->next = r;
    else
        db->batch_head = r;
    db->batch_tail = r;
}

/* Up to BATCH_MAX requests from the head of the queue. */
static int take(struct db *db, struct item *items)
{
    int n = 0;
    while (db->batch_head && n < BATCH_MAX) {
        items[n++] = (struct item){.r = db->batch_head, .state = ITEM_PENDING};
        db->batch_head = db->batch_head->next;
    }
    if (!db->batch_head)
        db->batch_tail = NULL;
    return n;
}

/* Those to try again go back first in the queue, in their order. */
static void requeue(struct db *db, struct item *items, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        if (items[i].state != ITEM_AGAIN)
            continue;
        items[i].r->next = db->batch_head;
        db->batch_head = items[i].r;
        if (!db->batch_tail)
            db->batch_tail = items[i].r;
    }
}

/* The answered go home (they are no longer queued: no lock). Waking a
 * thread costs the waker a system call and the scheduler's work; so that the
 * writer is not kept from the next batch by a batch's worth of them, it
 * wakes the first answered request only, and each woken thread wakes two
 * more before it goes on (a tree: the k-th answered wakes the (2k+1)-th and
 * the (2k+2)-th), so the wake-ups run on every core at once. */
static void wake_answered(struct item *items, int n)
{
    struct db_batch_req *answered[BATCH_MAX];
    int m = 0;
    for (int i = 0; i < n; i++)
        if (items[i].state == ITEM_ANSWERED)
            answered[m++] = items[i].r;
    for (int k = 0; k < m; k++)
        for (int c = 0; c < 2; c++)
            answered[k]->wakes[c] = 2 * k + 1 + c < m ? answered[2 * k + 1 + c] : NULL;
    if (m > 0)
        sem_post(&answered[0]->wake); /* it may be gone once posted */
}

/* The database a thread is running a batch of (to refuse db_run inside). */
static _Thread_local struct db *running;

/* The writer: batches while requests are queued, until db_batch_stop. */
static void *writer_main(void *arg)
{
    struct db *db = arg;
    running = db;
    pthread_mutex_lock(&db->write_lock);
    for (;;) {
        while (!db->batch_head && !db->batch_stop)
            pthread_cond_wait(&db->batch_queued, &db->write_lock);
        if (!db->batch_head)
            break; /* stopping, and nothing is waiting */
        struct item items[BATCH_MAX];
        int n = take(db, items);
        pthread_mutex_unlock(&db->write_lock);

        if (!db->batch_writer)
            db->batch_writer = db_tx_open(db);
        if (db->batch_writer)
            run_batch(db, db->batch_writer, items, n);
        else
            answer_pending(items, n, DB_HARD_ERROR); /* tried again for the next */

        pthread_mutex_lock(&db->write_lock);
        requeue(db, items, n);
        pthread_mutex_unlock(&db->write_lock);
        wake_answered(items, n);
        pthread_mutex_lock(&db->write_lock);
    }
    pthread_mutex_unlock(&db->write_lock);
    return NULL;
}

/* Start the writer (under write_lock). */
static bool start_writer(struct db *db)
{
    int rc = thread_start_quiet(&db->batch_thread, writer_main, db);
    if (rc != 0) {
        log_error("cannot start the database writer thread: %s", strerror(rc));
        return false;
    }
    pthread_setname_np(db->batch_thread, "chatpay-writer");
    db->batch_thread_on = true;
    return true;
}

enum db_status db_batch_run(struct db *db, const char *name, db_txn_cb cb, void *cls)
{
    /* a callback that ran db_run would wait for itself */
    if (running == db) {
        log_error("transaction %s: begun inside another transaction", name);
        return DB_HARD_ERROR;
    }
    struct db_batch_req me = {.cb = cb, .cls = cls, .name = name, .queued_at = time_mono()};
    if (sem_init(&me.wake, 0, 0) == -1) {
        log_error("transaction %s: sem_init failed", name);
        return DB_HARD_ERROR;
    }
    pthread_mutex_lock(&db->write_lock);
    if (db->batch_stop || (!db->batch_thread_on && !start_writer(db))) {
        pthread_mutex_unlock(&db->write_lock);
        sem_destroy(&me.wake);
        return DB_HARD_ERROR;
    }
    enqueue(db, &me);
    pthread_cond_signal(&db->batch_queued);
    pthread_mutex_unlock(&db->write_lock);
    while (sem_wait(&me.wake) == -1 && errno == EINTR)
        ;
    for (int c = 0; c < 2; c++)
        if (me.wakes[c])
            sem_post(&me.wakes[c]->wake);
    sem_destroy(&me.wake);
    return me.st;
}

void db_batch_stop(struct db *db)
{
    pthread_mutex_lock(&db->write_lock);
    db->batch_stop = true;
    bool on = db->batch_thread_on;
    db->batch_thread_on = false; /* joined once, below */
    pthread_cond_signal(&db->batch_queued);
    pthread_mutex_unlock(&db->write_lock);
    if (on)
        pthread_join(db->batch_thread, NULL);
}

int db_batch_waiting(struct db *db)
{
    int n = 0;
    pthread_mutex_lock(&db->write_lock);
    for (struct db_batch_req *q = db->batch_head; q; q = q->next)
        n++;
    pthread_mutex_unlock(&db->write_lock);
    return n;
}
