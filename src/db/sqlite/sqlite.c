/*
 * sqlite.c — the SQLite backend: connections, transactions, statements,
 * migrations.
 *
 * Each thread gets its own connection (SQLITE_OPEN_NOMUTEX). The database runs
 * in WAL mode with synchronous=FULL: a commit that returned is on disk. Write
 * transactions start with BEGIN IMMEDIATE so that a busy database is reported
 * at BEGIN (and retried by db_run) rather than half-way through.
 */
#include "db/sqlite/sqlite_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* How long SQLite itself waits on a lock before reporting SQLITE_BUSY (ms). */
enum { SQLITE_BUSY_TIMEOUT_MS = 5000 };

/* Create the folders leading to `path` (like mkdir -p of its dirname). */
static bool make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        snprintf(err, errlen, "database path too long");
        return false;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) == -1 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
            return false;
        }
        *p = '/';
    }
    return true;
}

static void *conn_open(struct db *db, char *err, size_t errlen)
{
    if (strcmp(db->target, ":memory:") != 0 && !make_parent_dirs(db->target, err, errlen))
        return NULL;
    struct sqlite_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2(
        db->target, &c->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", db->target,
                 c->h ? sqlite3_errmsg(c->h) : sqlite3_errstr(rc));
        sqlite3_close(c->h);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->h, SQLITE_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(c->h, 1);
    char *msg = NULL;
    rc = sqlite3_exec(c->h,
                      "PRAGMA journal_mode=WAL;"
                      "PRAGMA synchronous=FULL;"
                      "PRAGMA foreign_keys=ON;"
                      "PRAGMA temp_store=MEMORY;",
                      NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot configure database %s: %s", db->target,
                 msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(c->h);
        free(c);
        return NULL;
    }
    return c;
}

static void conn_close(void *p)
{
    struct sqlite_conn *c = p;
    if (!c)
        return;
    for (int i = 0; i < STMT__COUNT; i++)
        sqlite3_finalize(c->stmts[i]);
    sqlite3_close(c->h);
    free(c);
}

static struct sqlite_conn *conn_of(struct db_tx *tx)
{
    return tx->conn;
}

sqlite3_stmt *sqlite_stmt(struct db_tx *tx, enum sqlite_stmt_id id, const char *sql)
{
    struct sqlite_conn *c = conn_of(tx);
    sqlite3_stmt *st = c->stmts[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    int rc = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        log_error("sqlite prepare failed: %s in: %s", sqlite3_errmsg(c->h), sql);
        return NULL;
    }
    c->stmts[id] = st;
    return st;
}

const char *sqlite_col_dup(sqlite3_stmt *st, int col, struct arena *a)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    return arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, col));
}

void sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

void sqlite_bind_nonempty(sqlite3_stmt *st, int i, const char *s)
{
    sqlite_bind_text_or_null(st, i, s && *s ? s : NULL);
}

void sqlite_read_uuid(sqlite3_stmt *st, void *cls)
{
    sqlite_col_text(st, 0, cls, DB_UUID_LEN);
}

enum db_status sqlite_one_row(struct db_tx *tx, sqlite3_stmt *st, const char *what,
                              void (*read)(sqlite3_stmt *st, void *cls), void *cls)
{
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        read(st, cls);
        s = DB_ONE_RESULT;
    } else {
        s = sqlite_status(tx, rc, what);
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_status(struct db_tx *tx, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return DB_NO_RESULTS;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DB_SOFT_ERROR;
    default:
        log_error("sqlite %s: %s (%d)", what, sqlite3_errmsg(conn_of(tx)->h), rc);
        return DB_HARD_ERROR;
    }
}

enum db_status sqlite_exec_stmt(struct db_tx *tx, sqlite3_stmt *st, const char *what)
{
    if (!st)
        return DB_HARD_ERROR;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        enum db_status s = sqlite_status(tx, rc, what);
        sqlite3_reset(st);
        return s;
    }
    int changes = sqlite3_changes(conn_of(tx)->h);
    sqlite3_reset(st);
    return (enum db_status)changes;
}

enum db_status sqlite_one_int64(struct db_tx *tx, sqlite3_stmt *st, int64_t *out, const char *what)
{
    if (!st)
        return DB_HARD_ERROR;
    int rc = sqlite3_step(st);
    enum db_status s = DB_ONE_RESULT;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        s = sqlite_status(tx, rc, what);
    sqlite3_reset(st);
    return s;
}

void sqlite_col_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, t, n);
    out[n] = '\0';
}

static enum db_status run_simple(struct db_tx *tx, enum sqlite_stmt_id id, const char *sql)
{
    sqlite3_stmt *st = sqlite_stmt(tx, id, sql);
    enum db_status s = sqlite_exec_stmt(tx, st, sql);
    return s < 0 ? s : DB_NO_RESULTS;
}

enum db_status sqlite_begin(struct db_tx *tx, enum db_mode mode)
{
    if (mode == DB_WRITE)
        return run_simple(tx, STMT_BEGIN_WRITE, "BEGIN IMMEDIATE");
    return run_simple(tx, STMT_BEGIN_READ, "BEGIN");
}

enum db_status sqlite_commit(struct db_tx *tx)
{
    return run_simple(tx, STMT_COMMIT, "COMMIT");
}

void sqlite_rollback(struct db_tx *tx)
{
    /* after some errors SQLite has already rolled back: that is fine */
    if (!sqlite3_get_autocommit(conn_of(tx)->h))
        (void)run_simple(tx, STMT_ROLLBACK, "ROLLBACK");
}

enum db_status sqlite_exists(struct db_tx *tx, sqlite3_stmt *st, const char *what)
{
    if (!st)
        return DB_HARD_ERROR;
    int rc = sqlite3_step(st);
    enum db_status s = rc == SQLITE_ROW ? DB_ONE_RESULT : sqlite_status(tx, rc, what);
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_ping(struct db_tx *tx)
{
    return sqlite_exists(tx, sqlite_stmt(tx, STMT_PING, "SELECT 1"), "ping");
}

enum db_status sqlite_schema_version(struct db_tx *tx, int *current, int *latest)
{
    *latest = sqlite_migrations[sqlite_migration_count - 1].version;
    *current = 0;
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_SCHEMA_VERSION,
                                   "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    int64_t v = 0;
    enum db_status s = sqlite_one_int64(tx, st, &v, "schema version");
    *current = (int)v;
    return s;
}

/* Apply each pending migration in its own IMMEDIATE transaction, so that
 * several processes starting at once apply each migration exactly once. */
enum db_status sqlite_migrate(struct db *db)
{
    struct db_tx *tx = db_thread_tx(db);
    if (!tx)
        return DB_HARD_ERROR;
    sqlite3 *h = conn_of(tx)->h;
    char *msg = NULL;
    if (sqlite3_exec(h,
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at INTEGER NOT NULL)",
                     NULL, NULL, &msg) != SQLITE_OK) {
        log_error("cannot create schema_migrations: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return DB_HARD_ERROR;
    }
    for (int i = 0; i < sqlite_migration_count; i++) {
        const struct sqlite_migration *m = &sqlite_migrations[i];
        if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
            log_error("migration %d: cannot begin: %s", m->version, msg ? msg : "?");
            sqlite3_free(msg);
            return DB_HARD_ERROR;
        }
        sqlite3_stmt *q = NULL;
        sqlite3_prepare_v2(h, "SELECT 1 FROM schema_migrations WHERE version = ?", -1, &q, NULL);
        sqlite3_bind_int(q, 1, m->version);
        bool applied = sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
        if (applied) {
            sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
            continue;
        }
        if (sqlite3_exec(h, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
            log_error("migration %d (%s) failed: %s", m->version, m->name, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return DB_HARD_ERROR;
        }
        sqlite3_prepare_v2(h,
                           "INSERT INTO schema_migrations(version, name, applied_at)"
                           " VALUES (?, ?, ?)",
                           -1, &q, NULL);
        sqlite3_bind_int(q, 1, m->version);
        sqlite3_bind_text(q, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, time_now());
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE || sqlite3_exec(h, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            log_error("migration %d: cannot record: %s", m->version, msg ? msg : sqlite3_errmsg(h));
            sqlite3_free(msg);
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return DB_HARD_ERROR;
        }
        log_info("applied migration %d: %s", m->version, m->name);
    }
    return DB_NO_RESULTS;
}

const struct db_ops db_sqlite_ops = {
    .backend = "sqlite",
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .ping = sqlite_ping,
    .merchants = {sqlite_merchants_insert, sqlite_merchants_get, sqlite_merchants_update,
                  sqlite_merchants_touch, sqlite_merchants_count, sqlite_merchants_list,
                  sqlite_merchants_logo_set, sqlite_merchants_logo_get},
    .currencies = {sqlite_currencies_set, sqlite_currencies_list},
    .api_keys = {sqlite_api_keys_insert, sqlite_api_keys_find_by_hash, sqlite_api_keys_revoke,
                 sqlite_api_keys_list},
    .settings = {sqlite_settings_gateway_exists, sqlite_settings_gateway_insert},
    .links = {sqlite_links_insert, sqlite_links_get_by_ref, sqlite_links_get_by_order,
              sqlite_links_get_by_receipt, sqlite_links_get_by_id, sqlite_links_get_by_token,
              sqlite_links_order_block, sqlite_links_update, sqlite_links_list_expired,
              sqlite_links_status_append, sqlite_links_status_list},
    .payments = {sqlite_payments_insert, sqlite_payments_get, sqlite_payments_finish,
                 sqlite_payments_uses_gateway, sqlite_payments_set_gateway_ref,
                 sqlite_payments_list, sqlite_payments_list_pending},
    .sandbox_gateway = {sqlite_sandbox_gw_insert, sqlite_sandbox_gw_get, sqlite_sandbox_gw_update},
    .jobs = {sqlite_jobs_insert, sqlite_jobs_claim, sqlite_jobs_lease, sqlite_jobs_complete,
             sqlite_jobs_retry, sqlite_jobs_count_pending, sqlite_jobs_hurry, sqlite_jobs_purge},
    .messages = {sqlite_messages_insert, sqlite_messages_get_by_job, sqlite_messages_set_status,
                 sqlite_messages_list},
    .idempotency = {sqlite_idempotency_begin, sqlite_idempotency_get, sqlite_idempotency_restart,
                    sqlite_idempotency_finish, sqlite_idempotency_forget, sqlite_idempotency_purge},
    .integrators = {sqlite_integrators_insert, sqlite_integrators_get,
                    sqlite_integrators_set_status, sqlite_integrators_list},
    .callbacks = {sqlite_callbacks_config_get, sqlite_callbacks_integrator_urls,
                  sqlite_callbacks_url_set, sqlite_callbacks_integrator_url_set,
                  sqlite_callbacks_integrator_merchant, sqlite_callbacks_secret_set,
                  sqlite_callbacks_insert, sqlite_callbacks_get, sqlite_callbacks_get_by_ref,
                  sqlite_callbacks_update, sqlite_callbacks_attempt_insert, sqlite_callbacks_list,
                  sqlite_callbacks_attempts, sqlite_callbacks_purge},
    .providers = {sqlite_providers_insert, sqlite_providers_get, sqlite_providers_list,
                  sqlite_providers_update, sqlite_providers_remove, sqlite_providers_set_health,
                  sqlite_providers_list_all, sqlite_providers_message_insert,
                  sqlite_providers_message_get, sqlite_providers_message_find,
                  sqlite_providers_message_update, sqlite_providers_optout_add,
                  sqlite_providers_optout_remove, sqlite_providers_optout_get,
                  sqlite_providers_optout_list, sqlite_providers_notice_seen,
                  sqlite_providers_notice_add, sqlite_providers_notice_purge},
};

/* The configuration epoch lives in "<database>-epoch", one page mapped
 * MAP_SHARED by every chatpay process using the database, so that a change
 * made by `chatpay apikey revoke` is seen by a running server at once. An
 * in-memory database has a process-local counter instead. */
static _Atomic uint64_t memory_epoch;

static bool epoch_open(struct db *db, char *err, size_t errlen)
{
    if (strcmp(db->target, ":memory:") == 0) {
        db->epoch = &memory_epoch;
        return true;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s-epoch", db->target);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    long page = sysconf(_SC_PAGESIZE);
    struct stat stt;
    if (fstat(fd, &stt) == -1 || (stt.st_size < page && ftruncate(fd, page) == -1)) {
        snprintf(err, errlen, "cannot size %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    void *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        return false;
    }
    db->epoch_map = p;
    db->epoch = p;
    return true;
}

static void epoch_close(struct db *db)
{
    if (db->epoch_map)
        munmap(db->epoch_map, (size_t)sysconf(_SC_PAGESIZE));
    db->epoch_map = NULL;
}

static enum db_status sqlite_savepoint(struct db_tx *tx, enum db_savepoint op);

const struct db_backend db_sqlite_backend = {
    .ops = &db_sqlite_ops,
    .conn_open = conn_open,
    .conn_close = conn_close,
    .epoch_open = epoch_open,
    .epoch_close = epoch_close,
    .serialize_writes = true, /* SQLite has one writer at a time anyway */
    .batch_writes = true,     /* so its writers share commits (db/batch.c) */
    .savepoint = sqlite_savepoint,
};

/* Group commit (db/batch.c): each request of a batch runs in this savepoint.
 * Outside a transaction (SQLite rolls the whole transaction back by itself
 * after some errors: SQLITE_FULL, SQLITE_IOERR, ...) every operation fails:
 * a SAVEPOINT there would begin a new transaction of its own. */
static enum db_status sqlite_savepoint(struct db_tx *tx, enum db_savepoint op)
{
    static const char *const sql[] = {
        [DB_SAVEPOINT_BEGIN] = "SAVEPOINT batch_request",
        [DB_SAVEPOINT_RELEASE] = "RELEASE batch_request",
        [DB_SAVEPOINT_ROLLBACK] = "ROLLBACK TO batch_request; RELEASE batch_request",
    };
    sqlite3 *h = ((struct sqlite_conn *)tx->conn)->h;
    if (sqlite3_get_autocommit(h)) {
        log_error("sqlite %s: the transaction was rolled back", sql[op]);
        return DB_HARD_ERROR;
    }
    int rc = sqlite3_exec(h, sql[op], NULL, NULL, NULL);
    return rc == SQLITE_OK ? DB_NO_RESULTS : sqlite_status(tx, rc, sql[op]);
}
