/*
 * jobs.c — the durable job queue (outbox), sandbox messages and idempotency
 * records (SQLite).
 *
 * A job is claimed by setting locked_until; a worker that dies leaves the lock
 * to run out and another worker takes the job again (at least once). Jobs are
 * kept after completion (done_at) for inspection.
 */
#include "db/sql/sql_internal.h"

#include <string.h>

enum db_status sql_jobs_insert(struct db_tx *tx, struct db_job *j)
{
    struct db_stmt *st = INSERT_ID_STMT(tx, STMT_JOB_INSERT,
                                        "INSERT INTO jobs (merchant_id, kind, link_id, arg, run_at,"
                                        " created_at, pool) VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, j->merchant_id);
    db_bind_int(st, 2, j->kind);
    db_bind_int(st, 3, j->link_id);
    db_bind_int(st, 4, j->arg);
    db_bind_int(st, 5, j->run_at);
    db_bind_int(st, 6, time_now());
    db_bind_int(st, 7, (int)job_kind_pool(j->kind));
    return db_insert_id(st, &j->id, "job insert");
}

#define JOB_COLS "id, merchant_id, kind, link_id, arg, run_at, attempts, retried, done_at, acted"

static void read_job(struct db_stmt *st, struct db_job *out)
{
    memset(out, 0, sizeof *out);
    out->id = db_col_int(st, 0);
    db_col_copy(st, 1, out->merchant_id, sizeof out->merchant_id);
    out->kind = (int)db_col_int(st, 2);
    out->link_id = db_col_int(st, 3);
    out->arg = db_col_int(st, 4);
    out->run_at = db_col_int(st, 5);
    out->attempts = (int)db_col_int(st, 6);
    out->retried = (int)db_col_int(st, 7);
    out->done_at = db_col_int(st, 8);
    out->acted = (int)db_col_int(st, 9);
}

enum db_status sql_jobs_get(struct db_tx *tx, const char *merchant_id, int64_t id,
                            struct db_job *out)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_JOB_GET, "SELECT " JOB_COLS " FROM jobs WHERE id = ? AND merchant_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, id);
    db_bind_text(st, 2, merchant_id);
    enum db_status rc = db_step(st, "job get");
    if (rc == DB_ONE_RESULT)
        read_job(st, out);
    db_reset(st);
    return rc;
}

enum db_status sql_jobs_exists(struct db_tx *tx, const char *merchant_id, int kind, int64_t arg)
{
    /* through jobs_target (kind, arg) */
    struct db_stmt *st =
        db_stmt(tx, STMT_JOB_EXISTS,
                "SELECT id FROM jobs WHERE kind = ? AND arg = ? AND merchant_id = ?"
                " LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, kind);
    db_bind_int(st, 2, arg);
    db_bind_text(st, 3, merchant_id);
    int64_t id;
    return db_one_int(st, &id, "job exists");
}

enum db_status sql_jobs_claim(struct db_tx *tx, enum job_pool pool, usec_t now, usec_t lease,
                              struct db_job *out)
{
    /* on PostgreSQL, workers of several processes claim at once: each takes
     * a job no other holds (SKIP LOCKED) instead of queuing behind it */
#define JOB_CLAIM(lock)                                                                            \
    "UPDATE jobs SET locked_until = ?1 + ?2, attempts = attempts + 1"                              \
    " WHERE id = (SELECT id FROM jobs WHERE pool = ?3 AND done_at = 0 AND run_at <= ?1"            \
    "             AND locked_until <= ?1 ORDER BY run_at, id LIMIT 1" lock ")"                     \
    " RETURNING " JOB_COLS
    struct db_stmt *st =
        db_stmt_dialect(tx, STMT_JOB_CLAIM, JOB_CLAIM(""), JOB_CLAIM(" FOR UPDATE SKIP LOCKED"));
#undef JOB_CLAIM
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, now);
    db_bind_int(st, 2, lease);
    db_bind_int(st, 3, (int)pool);
    enum db_status rc = db_step(st, "job claim");
    enum db_status s;
    if (rc == DB_ONE_RESULT) {
        read_job(st, out);
        /* step to the end so that the UPDATE completes */
        while ((rc = db_step(st, "job claim")) == DB_ONE_RESULT)
            ;
        s = rc == DB_NO_RESULTS ? DB_ONE_RESULT : rc;
    } else {
        s = rc;
    }
    db_reset(st);
    return s;
}

/* lease, complete and retry act only on the claim the caller holds (its
 * attempt): a run that outlived its lease, and whose job another run has
 * claimed since, changes nothing */
enum db_status sql_jobs_lease(struct db_tx *tx, const struct db_job *j, usec_t until)
{
    struct db_stmt *st = db_stmt(tx, STMT_JOB_LEASE,
                                 "UPDATE jobs SET locked_until = ? WHERE id = ? AND attempts = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, until);
    db_bind_int(st, 2, j->id);
    db_bind_int(st, 3, j->attempts);
    return db_exec(st, "job lease");
}

enum db_status sql_jobs_acting(struct db_tx *tx, const struct db_job *j)
{
    struct db_stmt *st = db_stmt(tx, STMT_JOB_ACTING,
                                 "UPDATE jobs SET acted = attempts WHERE id = ? AND done_at = 0"
                                 " AND attempts = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, j->id);
    db_bind_int(st, 2, j->attempts);
    return db_exec(st, "job acting");
}

enum db_status sql_jobs_complete(struct db_tx *tx, const struct db_job *j, usec_t now)
{
    struct db_stmt *st = db_stmt(tx, STMT_JOB_COMPLETE,
                                 "UPDATE jobs SET done_at = ? WHERE id = ? AND done_at = 0"
                                 " AND attempts = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, now);
    db_bind_int(st, 2, j->id);
    db_bind_int(st, 3, j->attempts);
    return db_exec(st, "job complete");
}

enum db_status sql_jobs_retry(struct db_tx *tx, const struct db_job *j, usec_t run_at,
                              const char *error)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_JOB_RETRY,
                "UPDATE jobs SET run_at = ?, locked_until = 0, last_error = ?,"
                " retried = attempts WHERE id = ? AND done_at = 0 AND attempts = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, run_at);
    db_bind_text(st, 2, error);
    db_bind_int(st, 3, j->id);
    db_bind_int(st, 4, j->attempts);
    return db_exec(st, "job retry");
}

enum db_status sql_jobs_hurry(struct db_tx *tx, int kind, int64_t arg, usec_t run_at)
{
    /* through jobs_target: `+done_at` keeps PostgreSQL off jobs_due (every
     * job waiting in the pool; see PAYMENT_RUNNING in links.c) */
    struct db_stmt *st = db_stmt(tx, STMT_JOB_HURRY,
                                 "UPDATE jobs SET run_at = CASE WHEN locked_until <= ?1"
                                 " AND run_at > ?1 THEN ?1 ELSE run_at END"
                                 " WHERE pool = ?2 AND +done_at = 0 AND kind = ?3 AND arg = ?4");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, run_at);
    db_bind_int(st, 2, job_kind_pool(kind));
    db_bind_int(st, 3, kind);
    db_bind_int(st, 4, arg);
    return db_exec(st, "job hurry");
}

enum db_status sql_jobs_count_pending(struct db_tx *tx, int64_t *n)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_JOB_PENDING, "SELECT COUNT(*) FROM jobs WHERE done_at = 0");
    if (!st)
        return DB_HARD_ERROR;
    return db_one_int(st, n, "jobs pending");
}

enum db_status sql_jobs_purge(struct db_tx *tx, usec_t before, int limit)
{
    /* the newest job stays: SQLite gives a new row the highest id + 1, and a
     * job id must never come back (messages are named cpm_<job id>); the
     * batch is found through jobs_done (migration 20), the earliest
     * finished first */
    struct db_stmt *st = db_stmt(tx, STMT_JOB_PURGE,
                                 "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                                 " WHERE done_at > 0 AND done_at < ?1"
                                 " AND id < (SELECT MAX(id) FROM jobs) ORDER BY done_at LIMIT ?2)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, before);
    db_bind_int(st, 2, limit);
    return db_exec(st, "job purge");
}

/* --- sandbox messages ------------------------------------------------------------ */

#define MESSAGE_COLS                                                                               \
    "id, merchant_id, job_id, link_id, channel, msisdn_from, msisdn_to, text, status, created_at"

static void read_message(struct db_stmt *st, struct arena *a, struct db_message *m)
{
    memset(m, 0, sizeof *m);
    m->id = db_col_int(st, 0);
    db_col_copy(st, 1, m->merchant_id, sizeof m->merchant_id);
    m->job_id = db_col_int(st, 2);
    m->link_id = db_col_int(st, 3);
    m->channel = (int)db_col_int(st, 4);
    db_col_copy(st, 5, m->msisdn_from, sizeof m->msisdn_from);
    db_col_copy(st, 6, m->msisdn_to, sizeof m->msisdn_to);
    m->text = db_col_dup(st, 7, a);
    m->status = db_col_dup(st, 8, a);
    m->created_at = db_col_int(st, 9);
}

enum db_status sql_messages_insert(struct db_tx *tx, struct db_message *m)
{
    struct db_stmt *st = db_stmt(tx, STMT_MESSAGE_INSERT,
                                 "INSERT INTO sandbox_messages (merchant_id, job_id, link_id,"
                                 " channel, msisdn_from, msisdn_to, text, status, created_at)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                 " ON CONFLICT (job_id) DO NOTHING RETURNING id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, m->merchant_id);
    db_bind_int(st, 2, m->job_id);
    db_bind_int(st, 3, m->link_id);
    db_bind_int(st, 4, m->channel);
    db_bind_text(st, 5, m->msisdn_from);
    db_bind_text(st, 6, m->msisdn_to);
    db_bind_text(st, 7, m->text);
    db_bind_text(st, 8, m->status);
    db_bind_int(st, 9, m->created_at);
    return db_one_int(st, &m->id, "message insert");
}

enum db_status sql_messages_purge(struct db_tx *tx, usec_t before, int limit)
{
    /* through sandbox_messages_age (migration 20), the oldest first */
    struct db_stmt *st = db_stmt(tx, STMT_MESSAGE_PURGE,
                                 "DELETE FROM sandbox_messages WHERE id IN (SELECT id"
                                 " FROM sandbox_messages WHERE created_at < ?1"
                                 " ORDER BY created_at LIMIT ?2)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, before);
    db_bind_int(st, 2, limit);
    return db_exec(st, "message purge");
}

enum db_status sql_messages_get_by_job(struct db_tx *tx, int64_t job_id, struct arena *a,
                                       struct db_message *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_MESSAGE_BY_JOB,
                                 "SELECT " MESSAGE_COLS " FROM sandbox_messages"
                                 " WHERE job_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, job_id);
    enum db_status rc = db_step(st, "message by job");
    enum db_status s;
    if (rc == DB_ONE_RESULT) {
        read_message(st, a, out);
        s = DB_ONE_RESULT;
    } else {
        s = rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_messages_set_status(struct db_tx *tx, const char *merchant_id, int64_t id,
                                       const char *status)
{
    struct db_stmt *st = db_stmt(tx, STMT_MESSAGE_STATUS,
                                 "UPDATE sandbox_messages SET status = ?"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, status);
    db_bind_text(st, 2, merchant_id);
    db_bind_int(st, 3, id);
    return db_exec(st, "message status");
}

enum db_status sql_messages_list(struct db_tx *tx, const char *merchant_id, const char *to,
                                 int limit, struct arena *a, db_message_cb cb, void *cls)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_MESSAGE_LIST,
                "SELECT " MESSAGE_COLS " FROM sandbox_messages"
                " WHERE merchant_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR msisdn_to = ?2)"
                " ORDER BY id DESC LIMIT ?3");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    if (to)
        db_bind_text(st, 2, to);
    else
        db_bind_null(st, 2);
    db_bind_int(st, 3, limit);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "messages")) == DB_ONE_RESULT) {
        struct db_message m;
        read_message(st, a, &m);
        cb(cls, &m);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}

/* --- idempotency ------------------------------------------------------------------ */

enum db_status sql_idempotency_begin(struct db_tx *tx, const char *merchant_id, const char *key,
                                     const uint8_t hash[32], usec_t now)
{
    struct db_stmt *st = db_stmt(tx, STMT_IDEM_BEGIN,
                                 "INSERT INTO idempotency_keys (merchant_id, key, request_hash,"
                                 " state, created_at) VALUES (?, ?, ?, 0, ?)"
                                 " ON CONFLICT (merchant_id, key) DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, key);
    db_bind_blob(st, 3, hash, 32);
    db_bind_int(st, 4, now);
    return db_exec(st, "idempotency begin");
}

enum db_status sql_idempotency_get(struct db_tx *tx, const char *merchant_id, const char *key,
                                   struct arena *a, struct db_idempotency *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_IDEM_GET,
                                 "SELECT request_hash, state, status, body, created_at"
                                 " FROM idempotency_keys WHERE merchant_id = ? AND key = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, key);
    enum db_status rc = db_step(st, "idempotency get");
    enum db_status s;
    if (rc == DB_ONE_RESULT) {
        memset(out, 0, sizeof *out);
        const void *h = NULL;
        if (db_col_blob(st, 0, &h) == 32)
            memcpy(out->request_hash, h, 32);
        out->state = (int)db_col_int(st, 1);
        out->status = (int)db_col_int(st, 2);
        out->body = db_col_dup(st, 3, a);
        out->created_at = db_col_int(st, 4);
        s = DB_ONE_RESULT;
    } else {
        s = rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_idempotency_restart(struct db_tx *tx, const char *merchant_id, const char *key,
                                       const uint8_t hash[32], usec_t now)
{
    struct db_stmt *st = db_stmt(tx, STMT_IDEM_RESTART,
                                 "UPDATE idempotency_keys SET request_hash = ?, state = 0,"
                                 " status = 0, body = NULL, created_at = ?"
                                 " WHERE merchant_id = ? AND key = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_blob(st, 1, hash, 32);
    db_bind_int(st, 2, now);
    db_bind_text(st, 3, merchant_id);
    db_bind_text(st, 4, key);
    return db_exec(st, "idempotency restart");
}

enum db_status sql_idempotency_finish(struct db_tx *tx, const char *merchant_id, const char *key,
                                      const uint8_t hash[32], usec_t claimed_at, int status,
                                      const char *body)
{
    struct db_stmt *st = db_stmt(tx, STMT_IDEM_FINISH,
                                 "UPDATE idempotency_keys SET state = 1, status = ?, body = ?"
                                 " WHERE merchant_id = ? AND key = ? AND state = 0"
                                 " AND request_hash = ? AND created_at = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, status);
    db_bind_text(st, 2, body);
    db_bind_text(st, 3, merchant_id);
    db_bind_text(st, 4, key);
    db_bind_blob(st, 5, hash, 32);
    db_bind_int(st, 6, claimed_at);
    return db_exec(st, "idempotency finish");
}

enum db_status sql_idempotency_forget(struct db_tx *tx, const char *merchant_id, const char *key,
                                      const uint8_t hash[32], usec_t claimed_at)
{
    struct db_stmt *st = db_stmt(tx, STMT_IDEM_FORGET,
                                 "DELETE FROM idempotency_keys WHERE merchant_id = ? AND key = ?"
                                 " AND state = 0 AND request_hash = ? AND created_at = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, key);
    db_bind_blob(st, 3, hash, 32);
    db_bind_int(st, 4, claimed_at);
    return db_exec(st, "idempotency forget");
}

enum db_status sql_idempotency_purge(struct db_tx *tx, usec_t before, int limit)
{
    /* through idempotency_age, the oldest first (the key is the primary key) */
    struct db_stmt *st = db_stmt(tx, STMT_IDEM_PURGE,
                                 "DELETE FROM idempotency_keys WHERE (merchant_id, key) IN"
                                 " (SELECT merchant_id, key FROM idempotency_keys"
                                 " WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, before);
    db_bind_int(st, 2, limit);
    return db_exec(st, "idempotency purge");
}
