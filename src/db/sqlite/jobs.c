/*
 * jobs.c — the durable job queue (outbox), sandbox messages and idempotency
 * records (SQLite).
 *
 * A job is claimed by setting locked_until; a worker that dies leaves the lock
 * to run out and another worker takes the job again (at least once). Jobs are
 * kept after completion (done_at) for inspection.
 */
#include "db/sqlite/sqlite_internal.h"

#include <string.h>

enum db_status sqlite_jobs_insert(struct db_tx *tx, struct db_job *j)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_JOB_INSERT,
                                   "INSERT INTO jobs (merchant_id, kind, link_id, arg, run_at,"
                                   " created_at, pool) VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, j->merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, j->kind);
    sqlite3_bind_int64(st, 3, j->link_id);
    sqlite3_bind_int64(st, 4, j->arg);
    sqlite3_bind_int64(st, 5, j->run_at);
    sqlite3_bind_int64(st, 6, time_now());
    sqlite3_bind_int(st, 7, (int)job_kind_pool(j->kind));
    enum db_status s = sqlite_exec_stmt(tx, st, "job insert");
    if (s > 0)
        j->id = sqlite3_last_insert_rowid(((struct sqlite_conn *)tx->conn)->h);
    return s;
}

enum db_status sqlite_jobs_claim(struct db_tx *tx, enum job_pool pool, usec_t now, usec_t lease,
                                 struct db_job *out)
{
    sqlite3_stmt *st = sqlite_stmt(
        tx, STMT_JOB_CLAIM,
        "UPDATE jobs SET locked_until = ?1 + ?2, attempts = attempts + 1"
        " WHERE id = (SELECT id FROM jobs WHERE pool = ?3 AND done_at = 0 AND run_at <= ?1"
        "             AND locked_until <= ?1 ORDER BY run_at, id LIMIT 1)"
        " RETURNING id, merchant_id, kind, link_id, arg, run_at, attempts, retried");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, lease);
    sqlite3_bind_int(st, 3, (int)pool);
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        sqlite_col_text(st, 1, out->merchant_id, sizeof out->merchant_id);
        out->kind = sqlite3_column_int(st, 2);
        out->link_id = sqlite3_column_int64(st, 3);
        out->arg = sqlite3_column_int64(st, 4);
        out->run_at = sqlite3_column_int64(st, 5);
        out->attempts = sqlite3_column_int(st, 6);
        out->retried = sqlite3_column_int(st, 7);
        /* step to the end so that the UPDATE completes */
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        s = rc == SQLITE_DONE ? DB_ONE_RESULT : sqlite_status(tx, rc, "job claim");
    } else {
        s = sqlite_status(tx, rc, "job claim");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_jobs_lease(struct db_tx *tx, int64_t id, usec_t until)
{
    sqlite3_stmt *st =
        sqlite_stmt(tx, STMT_JOB_LEASE, "UPDATE jobs SET locked_until = ? WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, until);
    sqlite3_bind_int64(st, 2, id);
    return sqlite_exec_stmt(tx, st, "job lease");
}

enum db_status sqlite_jobs_complete(struct db_tx *tx, int64_t id, usec_t now)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_JOB_COMPLETE,
                                   "UPDATE jobs SET done_at = ? WHERE id = ? AND done_at = 0");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, id);
    return sqlite_exec_stmt(tx, st, "job complete");
}

enum db_status sqlite_jobs_retry(struct db_tx *tx, int64_t id, usec_t run_at, const char *error)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_JOB_RETRY,
                                   "UPDATE jobs SET run_at = ?, locked_until = 0, last_error = ?,"
                                   " retried = attempts WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, run_at);
    sqlite3_bind_text(st, 2, error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, id);
    return sqlite_exec_stmt(tx, st, "job retry");
}

enum db_status sqlite_jobs_hurry(struct db_tx *tx, int kind, int64_t arg, usec_t run_at)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_JOB_HURRY,
                                   "UPDATE jobs SET run_at = CASE WHEN locked_until <= ?1"
                                   " THEN MIN(run_at, ?1) ELSE run_at END"
                                   " WHERE pool = ?2 AND done_at = 0 AND kind = ?3 AND arg = ?4");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, run_at);
    sqlite3_bind_int(st, 2, job_kind_pool(kind));
    sqlite3_bind_int(st, 3, kind);
    sqlite3_bind_int64(st, 4, arg);
    return sqlite_exec_stmt(tx, st, "job hurry");
}

enum db_status sqlite_jobs_count_pending(struct db_tx *tx, int64_t *n)
{
    sqlite3_stmt *st =
        sqlite_stmt(tx, STMT_JOB_PENDING, "SELECT COUNT(*) FROM jobs WHERE done_at = 0");
    if (!st)
        return DB_HARD_ERROR;
    return sqlite_one_int64(tx, st, n, "jobs pending");
}

enum db_status sqlite_jobs_purge(struct db_tx *tx, usec_t before)
{
    /* the newest job stays: SQLite gives a new row the highest id + 1, and a
     * job id must never come back (messages are named cpm_<job id>) */
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_JOB_PURGE,
                                   "DELETE FROM jobs WHERE done_at > 0 AND done_at < ?"
                                   " AND id < (SELECT MAX(id) FROM jobs)");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, before);
    enum db_status s = sqlite_exec_stmt(tx, st, "job purge");
    if (s < 0)
        return s;
    st = sqlite_stmt(tx, STMT_MESSAGE_PURGE, "DELETE FROM sandbox_messages WHERE created_at < ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, before);
    return sqlite_exec_stmt(tx, st, "message purge");
}

/* --- sandbox messages ------------------------------------------------------------ */

#define MESSAGE_COLS                                                                               \
    "id, merchant_id, job_id, link_id, channel, msisdn_from, msisdn_to, text, status, created_at"

static void read_message(sqlite3_stmt *st, struct arena *a, struct db_message *m)
{
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(st, 0);
    sqlite_col_text(st, 1, m->merchant_id, sizeof m->merchant_id);
    m->job_id = sqlite3_column_int64(st, 2);
    m->link_id = sqlite3_column_int64(st, 3);
    m->channel = sqlite3_column_int(st, 4);
    sqlite_col_text(st, 5, m->msisdn_from, sizeof m->msisdn_from);
    sqlite_col_text(st, 6, m->msisdn_to, sizeof m->msisdn_to);
    m->text = sqlite_col_dup(st, 7, a);
    m->status = sqlite_col_dup(st, 8, a);
    m->created_at = sqlite3_column_int64(st, 9);
}

enum db_status sqlite_messages_insert(struct db_tx *tx, struct db_message *m)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MESSAGE_INSERT,
                                   "INSERT INTO sandbox_messages (merchant_id, job_id, link_id,"
                                   " channel, msisdn_from, msisdn_to, text, status, created_at)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                   " ON CONFLICT (job_id) DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, m->merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, m->job_id);
    sqlite3_bind_int64(st, 3, m->link_id);
    sqlite3_bind_int(st, 4, m->channel);
    sqlite3_bind_text(st, 5, m->msisdn_from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, m->msisdn_to, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, m->text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, m->status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, m->created_at);
    enum db_status s = sqlite_exec_stmt(tx, st, "message insert");
    if (s > 0)
        m->id = sqlite3_last_insert_rowid(((struct sqlite_conn *)tx->conn)->h);
    return s;
}

enum db_status sqlite_messages_get_by_job(struct db_tx *tx, int64_t job_id, struct arena *a,
                                          struct db_message *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MESSAGE_BY_JOB,
                                   "SELECT " MESSAGE_COLS " FROM sandbox_messages"
                                   " WHERE job_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, job_id);
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        read_message(st, a, out);
        s = DB_ONE_RESULT;
    } else {
        s = sqlite_status(tx, rc, "message by job");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_messages_set_status(struct db_tx *tx, const char *merchant_id, int64_t id,
                                          const char *status)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MESSAGE_STATUS,
                                   "UPDATE sandbox_messages SET status = ?"
                                   " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, id);
    return sqlite_exec_stmt(tx, st, "message status");
}

enum db_status sqlite_messages_list(struct db_tx *tx, const char *merchant_id, const char *to,
                                    int limit, struct arena *a, db_message_cb cb, void *cls)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MESSAGE_LIST,
                                   "SELECT " MESSAGE_COLS " FROM sandbox_messages"
                                   " WHERE merchant_id = ?1 AND (?2 IS NULL OR msisdn_to = ?2)"
                                   " ORDER BY id DESC LIMIT ?3");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    if (to)
        sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int(st, 3, limit);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_message m;
        read_message(st, a, &m);
        cb(cls, &m);
        n++;
    }
    enum db_status s = rc == SQLITE_DONE ? (enum db_status)n : sqlite_status(tx, rc, "messages");
    sqlite3_reset(st);
    return s;
}

/* --- idempotency ------------------------------------------------------------------ */

enum db_status sqlite_idempotency_begin(struct db_tx *tx, const char *merchant_id, const char *key,
                                        const uint8_t hash[32], usec_t now)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_IDEM_BEGIN,
                                   "INSERT INTO idempotency_keys (merchant_id, key, request_hash,"
                                   " state, created_at) VALUES (?, ?, ?, 0, ?)"
                                   " ON CONFLICT (merchant_id, key) DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 3, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now);
    return sqlite_exec_stmt(tx, st, "idempotency begin");
}

enum db_status sqlite_idempotency_get(struct db_tx *tx, const char *merchant_id, const char *key,
                                      struct arena *a, struct db_idempotency *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_IDEM_GET,
                                   "SELECT request_hash, state, status, body, created_at"
                                   " FROM idempotency_keys WHERE merchant_id = ? AND key = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        if (sqlite3_column_bytes(st, 0) == 32)
            memcpy(out->request_hash, sqlite3_column_blob(st, 0), 32);
        out->state = sqlite3_column_int(st, 1);
        out->status = sqlite3_column_int(st, 2);
        out->body = sqlite_col_dup(st, 3, a);
        out->created_at = sqlite3_column_int64(st, 4);
        s = DB_ONE_RESULT;
    } else {
        s = sqlite_status(tx, rc, "idempotency get");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_idempotency_restart(struct db_tx *tx, const char *merchant_id,
                                          const char *key, const uint8_t hash[32], usec_t now)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_IDEM_RESTART,
                                   "UPDATE idempotency_keys SET request_hash = ?, state = 0,"
                                   " status = 0, body = NULL, created_at = ?"
                                   " WHERE merchant_id = ? AND key = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "idempotency restart");
}

enum db_status sqlite_idempotency_finish(struct db_tx *tx, const char *merchant_id, const char *key,
                                         int status, const char *body)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_IDEM_FINISH,
                                   "UPDATE idempotency_keys SET state = 1, status = ?, body = ?"
                                   " WHERE merchant_id = ? AND key = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int(st, 1, status);
    sqlite3_bind_text(st, 2, body, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "idempotency finish");
}

enum db_status sqlite_idempotency_forget(struct db_tx *tx, const char *merchant_id, const char *key)
{
    sqlite3_stmt *st = sqlite_stmt(
        tx, STMT_IDEM_FORGET, "DELETE FROM idempotency_keys WHERE merchant_id = ? AND key = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "idempotency forget");
}

enum db_status sqlite_idempotency_purge(struct db_tx *tx, usec_t before)
{
    sqlite3_stmt *st =
        sqlite_stmt(tx, STMT_IDEM_PURGE, "DELETE FROM idempotency_keys WHERE created_at < ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, before);
    return sqlite_exec_stmt(tx, st, "idempotency purge");
}
