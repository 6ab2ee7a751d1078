/*
 * test_db_batch.c — group commit of write transactions (src/db/batch.c) on
 * SQLite: concurrent writers all commit; a request that fails in a batch
 * fails alone and leaves nothing; one that fails transiently runs again;
 * when the engine loses the whole transaction, the others run again; the
 * configuration epoch moves only for committed changes; a database locked
 * by another connection is waited out; followers open no connection; a
 * full disk is reported as the database unavailable, not as a fault; a
 * request that waited 1.5 statement timeouts is not run.
 *
 * To put requests in one batch, a "gate" request holds the writer (its
 * callback waits) until the others are queued behind it: they then form the
 * next batch, in the order they were queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/jobs.h"
#include "db/merchants.h"
#include "db/sqlite/sqlite_internal.h" /* the connection's handle, to lose a transaction */
#include "util/crypto.h"

#include "db_temp.h"

static usec_t ms_since(usec_t t0)
{
    return (time_now() - t0) / 1000;
}

/* ---- requests ---------------------------------------------------------------------------- */

enum mode {
    OK,                /* insert a merchant (a configuration change) */
    REFUSE,            /* insert one, then DB_ROLLBACK */
    FAULT,             /* insert one, then DB_HARD_ERROR */
    BUSY_ONCE,         /* insert one, then DB_SOFT_ERROR the first time; OK the next */
    LOSE,              /* insert one, then roll the whole transaction back as SQLite does after
                          SQLITE_FULL or SQLITE_IOERR, and fail */
    JOB,               /* insert a job (not a configuration change) */
    JOB_CONFIG,        /* insert a job and report a configuration change */
    JOB_CONFIG_REFUSE, /* that, then DB_ROLLBACK */
    GATE,              /* insert a job, then wait until `gate_for` requests are queued */
    FILL,              /* insert jobs until the database is full (max_page_count) */
};

struct req {
    struct db *db;
    enum mode mode;
    struct db_merchant m;
    int calls;
    enum db_status st;
    bool had_conn; /* its thread opened a connection */
};

static int gate_for;
static atomic_bool gate_open;   /* the gate's callback is running */
static atomic_bool gate_passed; /* it saw the others queued: the writer may take them */
static bool gate_until_stop;    /* it also waits for db_batch_stop */
static int gate_hold_ms;        /* then it holds the writer this long */

/* Whether db_batch_stop has been called on db. */
static bool stopping(struct db *db)
{
    pthread_mutex_lock(&db->write_lock);
    bool stop = db->batch_stop;
    pthread_mutex_unlock(&db->write_lock);
    return stop;
}

/* Wait (at most 30 s) for the gate's callback to run. */
static void wait_gate_open(void)
{
    usec_t t0 = time_now();
    while (!atomic_load(&gate_open)) {
        if (time_now() - t0 > 30 * 1000000LL)
            fail_msg("the gate did not open in 30 s");
        usleep(1000);
    }
}

/* Wait (at most 30 s) until at least n requests are queued, or the gate has
 * passed (then the writer may already have taken them). */
static void wait_queued(struct db *db, int n)
{
    usec_t t0 = time_now();
    while (db_batch_waiting(db) < n && !atomic_load(&gate_passed)) {
        if (time_now() - t0 > 30 * 1000000LL)
            fail_msg("%d requests were not queued in 30 s", n);
        usleep(200);
    }
}

static enum db_status insert_job(struct db_tx *tx)
{
    struct db_job j = {.kind = 1, .run_at = time_now() + 3600 * 1000000LL};
    snprintf(j.merchant_id, sizeof j.merchant_id, "batch-test");
    return DB_CALL(tx, jobs, insert, &j);
}

static enum db_status req_cb(struct db_tx *tx, void *cls)
{
    struct req *r = cls;
    r->calls++;
    enum db_status st;
    switch (r->mode) {
    case JOB:
    case JOB_CONFIG:
    case JOB_CONFIG_REFUSE:
        st = insert_job(tx);
        if (st != 1)
            return DB_HARD_ERROR;
        if (r->mode != JOB)
            db_tx_config_changed(tx);
        return r->mode == JOB_CONFIG_REFUSE ? DB_ROLLBACK : DB_ONE_RESULT;
    case FILL: {
        /* the file may not grow: inserts fail once its pages are used */
        sqlite3 *h = ((struct sqlite_conn *)tx->conn)->h;
        sqlite3_exec(h, "PRAGMA max_page_count = 1", NULL, NULL, NULL);
        for (int i = 0; i < 100000; i++)
            if ((st = insert_job(tx)) != 1)
                break;
        sqlite3_exec(h, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL);
        return st;
    }
    case GATE: {
        st = insert_job(tx);
        atomic_store(&gate_open, true);
        usec_t t0 = time_now();
        while (db_batch_waiting(r->db) < gate_for || (gate_until_stop && !stopping(r->db))) {
            if (ms_since(t0) > 20000)
                return DB_HARD_ERROR; /* the others never queued */
            usleep(1000);
        }
        atomic_store(&gate_passed, true);
        if (gate_hold_ms > 0)
            usleep((useconds_t)gate_hold_ms * 1000);
        return st;
    }
    default:
        break;
    }
    st = DB_CALL(tx, merchants, insert, &r->m);
    if (st != 1)
        return DB_HARD_ERROR;
    switch (r->mode) {
    case REFUSE:
        return DB_ROLLBACK;
    case FAULT:
        return DB_HARD_ERROR;
    case BUSY_ONCE:
        return r->calls == 1 ? DB_SOFT_ERROR : DB_ONE_RESULT;
    case LOSE:
        sqlite3_exec(((struct sqlite_conn *)tx->conn)->h, "ROLLBACK", NULL, NULL, NULL);
        return DB_HARD_ERROR;
    default:
        return DB_ONE_RESULT;
    }
}

static void new_req(struct req *r, struct db *db, enum mode mode)
{
    memset(r, 0, sizeof *r);
    r->db = db;
    r->mode = mode;
    crypto_uuid_v4(r->m.id);
    snprintf(r->m.name, sizeof r->m.name, "batch %d", (int)mode);
    r->m.environment = ENV_SANDBOX;
    r->m.created_at = r->m.updated_at = time_now();
}

static void *run_req(void *p)
{
    struct req *r = p;
    r->st = db_run(r->db, DB_WRITE, "batch test", req_cb, r);
    r->had_conn = pthread_getspecific(r->db->key) != NULL;
    db_thread_release(r->db);
    return NULL;
}

static enum db_status get_cb(struct db_tx *tx, void *cls)
{
    struct db_merchant *m = cls;
    return DB_CALL(tx, merchants, get, m->id, m);
}

static bool stored(struct db *db, const struct db_merchant *m)
{
    struct db_merchant got = *m;
    enum db_status st = db_run(db, DB_READ, "t", get_cb, &got);
    assert_true(st >= 0);
    return st == 1;
}

/* Run `gate` then reqs[0..n) queued behind it in that order, all in
 * threads; wait for them all. */
static void run_gated(struct db *db, struct req *gate, struct req *reqs, int n)
{
    pthread_t gt, t[64];
    gate_for = n;
    gate_until_stop = false;
    atomic_store(&gate_open, false);
    atomic_store(&gate_passed, false);
    assert_int_equal(pthread_create(&gt, NULL, run_req, gate), 0);
    wait_gate_open();
    for (int i = 0; i < n; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, run_req, &reqs[i]), 0);
        wait_queued(db, i + 1);
    }
    pthread_join(gt, NULL);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(gate->st, 1);
}

/* A gate, then one request of each mode queued behind it, with the
 * counters before and after. */
static void run_modes(struct db *db, const enum mode *modes, int n, struct req *gate,
                      struct req *reqs, struct db_stats *before, struct db_stats *after)
{
    new_req(gate, db, GATE);
    for (int i = 0; i < n; i++)
        new_req(&reqs[i], db, modes[i]);
    db_stats(db, before);
    run_gated(db, gate, reqs, n);
    db_stats(db, after);
}

/* ---- tests ------------------------------------------------------------------------------- */

/* Rounds of 64 threads that each write once, all at the same time. */
enum { WRITERS = 64, ROUNDS = 8 };

static void test_concurrent_writers_all_commit(void **state)
{
    struct db *db = *state;
    struct db_stats s0, s1;
    db_stats(db, &s0);
    static struct req reqs[WRITERS];
    pthread_t t[WRITERS];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < WRITERS; i++) {
            new_req(&reqs[i], db, OK);
            assert_int_equal(pthread_create(&t[i], NULL, run_req, &reqs[i]), 0);
        }
        for (int i = 0; i < WRITERS; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < WRITERS; i++) {
            assert_int_equal(reqs[i].st, 1);
            assert_int_equal(reqs[i].calls, 1);
            assert_true(stored(db, &reqs[i].m));
        }
    }
    db_stats(db, &s1);
    /* every request counts as a write commit; they shared durable commits */
    uint64_t commits = s1.write_commits - s0.write_commits;
    assert_int_equal(commits, WRITERS * ROUNDS);
    assert_true(s1.durable_commits - s0.durable_commits < commits);
    assert_int_equal(s1.rollbacks, s0.rollbacks);
}

static void test_failures_stay_in_their_request(void **state)
{
    struct db *db = *state;
    static const enum mode modes[] = {OK, REFUSE, OK, FAULT, BUSY_ONCE, OK, FAULT, OK};
    enum { N = sizeof modes / sizeof *modes };
    struct req gate, reqs[N];
    struct db_stats s0, s1;
    run_modes(db, modes, N, &gate, reqs, &s0, &s1);
    for (int i = 0; i < N; i++) {
        switch (modes[i]) {
        case OK:
            assert_int_equal(reqs[i].st, 1);
            assert_int_equal(reqs[i].calls, 1);
            assert_true(stored(db, &reqs[i].m));
            break;
        case BUSY_ONCE: /* rolled back to its savepoint, run again in the next batch */
            assert_int_equal(reqs[i].st, 1);
            assert_int_equal(reqs[i].calls, 2);
            assert_true(stored(db, &reqs[i].m));
            break;
        default: /* its error, and nothing of what it wrote */
            assert_int_equal(reqs[i].st, modes[i] == REFUSE ? DB_ROLLBACK : DB_HARD_ERROR);
            assert_int_equal(reqs[i].calls, 1);
            assert_false(stored(db, &reqs[i].m));
        }
    }
    /* the gate's commit, the batch of eight, the one run again */
    assert_int_equal(s1.durable_commits - s0.durable_commits, 3);
    assert_int_equal(s1.write_commits - s0.write_commits, 1 + 4 + 1);
    assert_int_equal(s1.rollbacks - s0.rollbacks, 3);
    assert_int_equal(s1.retries - s0.retries, 1);
    /* batches run on the process's writer connection: writing opened no
     * connection of the requesting threads' own */
    assert_false(gate.had_conn);
    for (int i = 0; i < N; i++)
        assert_false(reqs[i].had_conn);
}

static void test_lost_transaction_runs_again(void **state)
{
    struct db *db = *state;
    static const enum mode modes[] = {OK, OK, LOSE, OK, REFUSE, OK};
    enum { N = sizeof modes / sizeof *modes };
    struct req gate, reqs[N];
    struct db_stats s0, s1;
    run_modes(db, modes, N, &gate, reqs, &s0, &s1);
    for (int i = 0; i < N; i++) {
        if (modes[i] == OK) {
            /* the first two ran in the transaction that was lost: again */
            assert_int_equal(reqs[i].st, 1);
            assert_int_equal(reqs[i].calls, i < 2 ? 2 : 1);
            assert_true(stored(db, &reqs[i].m));
        } else {
            assert_int_equal(reqs[i].st, modes[i] == LOSE ? DB_HARD_ERROR : DB_ROLLBACK);
            assert_int_equal(reqs[i].calls, 1);
            assert_false(stored(db, &reqs[i].m));
        }
    }
    assert_int_equal(s1.write_commits - s0.write_commits, 1 + 4);
    assert_int_equal(s1.durable_commits - s0.durable_commits, 2);
}

static void test_epoch_moves_for_committed_changes_only(void **state)
{
    struct db *db = *state;
    struct req gate, reqs[3];
    struct db_stats s0, s1;
    /* one request of the batch changes the configuration: the epoch moves */
    uint64_t e0 = db_config_epoch(db);
    run_modes(db, (enum mode[]){JOB, JOB_CONFIG, JOB}, 3, &gate, reqs, &s0, &s1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(reqs[i].st, 1);
    uint64_t e1 = db_config_epoch(db);
    assert_true(e1 > e0);

    /* the one that changes it is rolled back: the others commit, it stays */
    run_modes(db, (enum mode[]){JOB, JOB_CONFIG_REFUSE, JOB}, 3, &gate, reqs, &s0, &s1);
    assert_int_equal(reqs[0].st, 1);
    assert_int_equal(reqs[1].st, DB_ROLLBACK);
    assert_int_equal(reqs[2].st, 1);
    assert_int_equal(db_config_epoch(db), e1);
}

/* Another connection (the CLI, a `chatpay worker`) holds the write lock for
 * longer than SQLite's own busy wait (5 s): BEGIN reports busy, the batch is
 * begun again, and every request commits once the lock is gone. */
static void test_busy_database_is_waited_out(void **state)
{
    struct db *db = *state;
    sqlite3 *other;
    assert_int_equal(sqlite3_open(db_temp_path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    enum { N = 6 };
    struct req reqs[N];
    pthread_t t[N];
    struct db_stats s0, s;
    db_stats(db, &s0);
    for (int i = 0; i < N; i++) {
        new_req(&reqs[i], db, OK);
        assert_int_equal(pthread_create(&t[i], NULL, run_req, &reqs[i]), 0);
    }
    /* until SQLite has given up waiting once and the batch begins again */
    usec_t t0 = time_now();
    do {
        assert_true(ms_since(t0) < 20000);
        usleep(10000);
        db_stats(db, &s);
    } while (s.retries == s0.retries);
    usleep(100000);
    for (int i = 0; i < N; i++)
        assert_int_equal(reqs[i].calls, 0); /* nobody got in */
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(reqs[i].st, 1);
        assert_true(stored(db, &reqs[i].m));
    }
}

/* ---- the writer thread ------------------------------------------------------------------- */

struct on_thread {
    struct db *db;
    pthread_t ran_on[8]; /* the thread each callback ran on */
    int n;
    enum db_status st[8];
};

static enum db_status note_thread_cb(struct db_tx *tx, void *cls)
{
    struct on_thread *o = cls;
    o->ran_on[o->n] = pthread_self();
    return insert_job(tx);
}

static void *write_twice(void *p)
{
    struct on_thread *o = p;
    for (int i = 0; i < 2; i++) {
        o->st[o->n] = db_run(o->db, DB_WRITE, "t", note_thread_cb, o);
        o->n++;
    }
    db_thread_release(o->db);
    return NULL;
}

/* Every batch runs on one thread of the database's, never the caller's:
 * writes from different threads, one after another, all ran there. */
static void test_batches_run_on_one_writer_thread(void **state)
{
    struct db *db = *state;
    struct on_thread a = {.db = db}, b = {.db = db};
    write_twice(&a);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_twice, &b), 0);
    pthread_join(t, NULL);
    assert_int_equal(a.n, 2);
    assert_int_equal(b.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a.st[i], 1);
        assert_int_equal(b.st[i], 1);
        assert_false(pthread_equal(a.ran_on[i], pthread_self()));
        assert_false(pthread_equal(b.ran_on[i], t));
        assert_true(pthread_equal(a.ran_on[i], a.ran_on[0]));
        assert_true(pthread_equal(b.ran_on[i], a.ran_on[0]));
    }
}

/* A write queued after the ones a test made fail commits. */
static void assert_next_write_commits(struct db *db)
{
    struct req next;
    new_req(&next, db, OK);
    run_req(&next);
    assert_int_equal(next.st, 1);
    assert_true(stored(db, &next.m));
}

/* A write that finds the disk full (SQLITE_FULL) is answered at once as
 * transient with the database unavailable (a 503 to the client, as on
 * PostgreSQL), not run again and again nor called a fault; the next write
 * commits once there is room. */
static void test_full_disk_is_unavailable(void **state)
{
    struct db *db = *state;
    struct req full;
    new_req(&full, db, FILL);
    run_req(&full);
    assert_int_equal(full.st, DB_SOFT_ERROR);
    assert_int_equal(full.calls, 1);
    assert_next_write_commits(db);
}

/* A request whose turn comes after it has waited 1.5 statement timeouts
 * (a lock held elsewhere makes each request ahead of it wait one out) is
 * answered as unavailable without running; the one that held the writer
 * commits, and a request queued afterwards runs. */
static void test_a_request_waiting_past_the_statement_timeout_is_unavailable(void **state)
{
    struct db *db = *state;
    db_configure(db, 0, 0, 100); /* 100 ms: it gives up after 150 ms */
    static const enum mode modes[] = {OK, JOB};
    enum { N = sizeof modes / sizeof *modes };
    struct req gate, reqs[N];
    struct db_stats s0, s1;
    gate_hold_ms = 400; /* the gate holds the writer past their deadline */
    run_modes(db, modes, N, &gate, reqs, &s0, &s1);
    gate_hold_ms = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(reqs[i].st, DB_SOFT_ERROR);
        assert_int_equal(reqs[i].calls, 0);
    }
    assert_false(stored(db, &reqs[0].m));
    assert_next_write_commits(db);
}

/* db_close answers what is queued before it stops the writer: a request
 * queued behind a running gate still commits, and the database then
 * closes (the writer joined, its connection closed) without waiting on
 * anyone. */
static void test_close_answers_the_queued_first(void **state)
{
    struct db *db = *state;
    struct req gate, last;
    new_req(&gate, db, GATE);
    new_req(&last, db, JOB);
    gate_for = 1;
    gate_until_stop = true; /* so that `last` is still queued when it stops */
    atomic_store(&gate_open, false);
    atomic_store(&gate_passed, false);
    pthread_t gt, lt;
    assert_int_equal(pthread_create(&gt, NULL, run_req, &gate), 0);
    wait_gate_open();
    assert_int_equal(pthread_create(&lt, NULL, run_req, &last), 0);
    wait_queued(db, 1);
    db_batch_stop(db); /* as db_close does first */
    pthread_join(gt, NULL);
    pthread_join(lt, NULL);
    assert_int_equal(gate.st, 1);
    assert_int_equal(last.st, 1);
    assert_int_equal(last.calls, 1);
    /* stopped: a write now is refused at once, not left waiting */
    struct req late;
    new_req(&late, db, JOB);
    run_req(&late);
    assert_int_equal(late.st, DB_HARD_ERROR);
    assert_int_equal(late.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_writers_all_commit, db_temp_setup,
                                        db_temp_teardown),
        cmocka_unit_test_setup_teardown(test_failures_stay_in_their_request, db_temp_setup,
                                        db_temp_teardown),
        cmocka_unit_test_setup_teardown(test_lost_transaction_runs_again, db_temp_setup,
                                        db_temp_teardown),
        cmocka_unit_test_setup_teardown(test_epoch_moves_for_committed_changes_only, db_temp_setup,
                                        db_temp_teardown),
        cmocka_unit_test_setup_teardown(test_busy_database_is_waited_out, db_temp_setup,
                                        db_temp_teardown),
        cmocka_unit_test_setup_teardown(test_batches_run_on_one_writer_thread, db_temp_setup,
                                        db_temp_teardown),
        cmocka_unit_test_setup_teardown(test_close_answers_the_queued_first, db_temp_setup,
                                        db_temp_teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_is_unavailable, db_temp_setup,
                                        db_temp_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_request_waiting_past_the_statement_timeout_is_unavailable, db_temp_setup,
            db_temp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
