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
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/time.h"

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

/* A database opened as it is (db_open_existing) must be there, and keeps
 * its journal mode: a backup stays a single file. */
static void *conn_open(struct db *db, char *err, size_t errlen)
{
    if (!db->as_is && strcmp(db->target, ":memory:") != 0 &&
        !make_parent_dirs(db->target, err, errlen))
        return NULL;
    struct sqlite_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int flags = db->read_only ? SQLITE_OPEN_READONLY
                : db->as_is   ? SQLITE_OPEN_READWRITE
                              : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(db->target, &c->h, flags | SQLITE_OPEN_NOMUTEX, NULL);
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
                      db->as_is ? "PRAGMA synchronous=FULL;"
                                  "PRAGMA foreign_keys=ON;"
                                  "PRAGMA temp_store=MEMORY;"
                                : "PRAGMA journal_mode=WAL;"
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
        sqlite3_finalize(c->stmts[i].h);
    sqlite3_close(c->h);
    free(c);
}

static struct sqlite_conn *conn_of(struct db_tx *tx)
{
    return tx->conn;
}

static sqlite3_stmt *h_of(struct db_stmt *st)
{
    return ((struct sqlite_stmt *)st)->h;
}

static struct db_stmt *stmt(struct db_tx *tx, enum db_stmt_id id, const char *sql)
{
    struct sqlite_conn *c = conn_of(tx);
    struct sqlite_stmt *st = &c->stmts[id];
    if (st->h && STMT_IS_DYNAMIC(id)) {
        sqlite3_finalize(st->h);
        st->h = NULL;
    }
    if (st->h) {
        sqlite3_reset(st->h);
        sqlite3_clear_bindings(st->h);
        st->base.tx = tx;
        return &st->base;
    }
    int rc = sqlite3_prepare_v3(c->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->h, NULL);
    if (rc != SQLITE_OK) {
        log_error("sqlite prepare failed: %s in: %s", sqlite3_errmsg(c->h), sql);
        st->h = NULL;
        return NULL;
    }
    st->base.tx = tx;
    return &st->base;
}

static void bind_text(struct db_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(h_of(st), i, s, -1, SQLITE_TRANSIENT);
}

static void bind_int(struct db_stmt *st, int i, int64_t v)
{
    sqlite3_bind_int64(h_of(st), i, v);
}

static void bind_null(struct db_stmt *st, int i)
{
    sqlite3_bind_null(h_of(st), i);
}

static void bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
    sqlite3_bind_blob(h_of(st), i, p, (int)n, SQLITE_TRANSIENT);
}

static enum db_status sqlite_status(struct db_tx *tx, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return DB_NO_RESULTS;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DB_SOFT_ERROR;
    case SQLITE_FULL:
        /* the disk (or the file's size limit) is full: the database cannot
         * take it now, which the client is told (503, as on PostgreSQL)
         * rather than that the request was at fault; not retried */
        log_error("sqlite %s: the database or disk is full", what);
        tx->unavailable = true;
        return DB_SOFT_ERROR;
    default:
        log_error("sqlite %s: %s (%d)", what, sqlite3_errmsg(conn_of(tx)->h), rc);
        return DB_HARD_ERROR;
    }
}

static enum db_status step(struct db_stmt *st, const char *what)
{
    int rc = sqlite3_step(h_of(st));
    if (rc == SQLITE_ROW)
        return DB_ONE_RESULT;
    return sqlite_status(st->tx, rc, what);
}

static void reset(struct db_stmt *st)
{
    sqlite3_reset(h_of(st));
}

static int64_t col_int(struct db_stmt *st, int col)
{
    return sqlite3_column_int64(h_of(st), col);
}

static bool col_null(struct db_stmt *st, int col)
{
    return sqlite3_column_type(h_of(st), col) == SQLITE_NULL;
}

static const char *col_text(struct db_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(h_of(st), col);
}

static size_t col_blob(struct db_stmt *st, int col, const void **p)
{
    *p = sqlite3_column_blob(h_of(st), col);
    return (size_t)sqlite3_column_bytes(h_of(st), col);
}

static int64_t last_insert_id(struct db_stmt *st)
{
    return sqlite3_last_insert_rowid(conn_of(st->tx)->h);
}

static int64_t changes(struct db_stmt *st)
{
    return sqlite3_changes64(conn_of(st->tx)->h);
}

static enum db_col_type col_type(struct db_stmt *st, int col)
{
    switch (sqlite3_column_type(h_of(st), col)) {
    case SQLITE_INTEGER:
        return DB_COL_INT;
    case SQLITE_BLOB:
        return DB_COL_BLOB;
    case SQLITE_NULL:
        return DB_COL_NULL;
    default:
        return DB_COL_TEXT;
    }
}

static int col_count(struct db_stmt *st)
{
    return sqlite3_column_count(h_of(st));
}

static const char *col_name(struct db_stmt *st, int col)
{
    return sqlite3_column_name(h_of(st), col);
}

static enum db_status run_simple(struct db_tx *tx, enum db_stmt_id id, const char *sql)
{
    enum db_status s = db_exec(db_stmt(tx, id, sql), sql);
    return s < 0 ? s : DB_NO_RESULTS;
}

static enum db_status sqlite_begin(struct db_tx *tx, enum db_mode mode)
{
    if (mode == DB_WRITE)
        return run_simple(tx, STMT_BEGIN_WRITE, "BEGIN IMMEDIATE");
    return run_simple(tx, STMT_BEGIN_READ, "BEGIN");
}

static enum db_status sqlite_commit(struct db_tx *tx)
{
    return run_simple(tx, STMT_COMMIT, "COMMIT");
}

static void sqlite_rollback(struct db_tx *tx)
{
    /* after some errors SQLite has already rolled back: that is fine */
    if (!sqlite3_get_autocommit(conn_of(tx)->h))
        (void)run_simple(tx, STMT_ROLLBACK, "ROLLBACK");
}

static int sqlite_latest_schema(void)
{
    return sqlite_migrations[sqlite_migration_count - 1].version;
}

/* Apply each pending migration in its own IMMEDIATE transaction, so that
 * several processes starting at once apply each migration exactly once. */
static enum db_status sqlite_migrate(struct db *db)
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

/* The configuration epoch lives in "<database>-epoch", one page mapped
 * MAP_SHARED by every chatpay process using the database, so that a change
 * made by `chatpay apikey revoke` is seen by a running server at once. An
 * in-memory database has a process-local counter instead, and so has one
 * opened as it is (db_open_existing: read, backed up or copied from, with
 * nothing made beside it). */
static _Atomic uint64_t memory_epoch;

static bool epoch_open(struct db *db, char *err, size_t errlen)
{
    if (strcmp(db->target, ":memory:") == 0 || db->as_is) {
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
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    db->epoch_map = p;
    db->epoch = p;
    db->epoch_fd = fd;
    return true;
}

static void epoch_close(struct db *db)
{
    if (db->epoch_map) {
        munmap(db->epoch_map, (size_t)sysconf(_SC_PAGESIZE));
        close(db->epoch_fd); /* and with it the leader's lock */
    }
    db->epoch_map = NULL;
    db->epoch_locked = false;
}

/* The process that runs the periodic work (the sweeper): the one holding an
 * exclusive lock on the epoch file, which every process of the database
 * opens. It holds it until it exits (the kernel releases it then, however
 * it ends); another asks again at its next turn. Called from one thread
 * (the sweeper's). */
static bool sqlite_leader(struct db *db)
{
    if (!db->epoch_map)
        return true; /* in memory, or opened as it is: no other process */
    if (db->epoch_locked)
        return true;
    if (flock(db->epoch_fd, LOCK_EX | LOCK_NB) != 0)
        return false;
    db->epoch_locked = true;
    log_info("database: this process now runs the periodic work");
    return true;
}

/* The online backup: every page is copied in one step, that is in one read
 * transaction of a connection of its own. The database is in WAL mode, so
 * the server's writers go on meanwhile (they only keep the WAL from being
 * restarted until the copy ends). Copying a batch of pages at a time instead
 * would release the snapshot between batches, and SQLite starts the copy
 * again whenever another connection wrote in between: against a server that
 * commits every few milliseconds, it might never end. The copy is written to
 * "<path>.part", checked, synced, and renamed into place. A database that
 * stays locked (another process's exclusive lock, a recovery) is waited for
 * db_statement_timeout_ms, then the backup fails and the part file goes. */
/* sqlite3_exec's row callback for an integrity check: the first row that
 * is not "ok" into cls (a char[256]). */
static int first_problem(void *cls, int ncols, char **values, char **names)
{
    (void)names;
    char *problem = cls;
    if (ncols > 0 && values[0] && strcmp(values[0], "ok") != 0 && !problem[0])
        snprintf(problem, 256, "%s", values[0]);
    return 0;
}

/* fsync a file or (flags O_DIRECTORY) a folder; false with errno set. */
static bool sync_path(const char *p, int flags)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC | flags);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

static bool sqlite_backup(struct db *db, const char *path, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    if (strcmp(db->target, ":memory:") == 0) {
        snprintf(err, errlen, "an in-memory database cannot be backed up");
        return false;
    }
    if (access(path, F_OK) == 0) {
        snprintf(err, errlen, "%s exists: back up into a new file", path);
        return false;
    }
    char part[4200];
    snprintf(part, sizeof part, "%s.part", path);
    /* the part file is claimed, not just looked for: of two backups into
     * one path, one goes on */
    int fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { /* someone's file, or a backup that died: not ours to drop */
        snprintf(err, errlen,
                 errno == EEXIST ? "%s exists: remove it, or back up into another file"
                                 : "cannot create %s: %s",
                 part, strerror(errno));
        return false;
    }
    close(fd);
    sqlite3 *src = NULL, *dst = NULL;
    bool ok = false;
    if (sqlite3_open_v2(db->target, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", db->target, sqlite3_errmsg(src));
        goto done;
    }
    sqlite3_busy_timeout(src, SQLITE_BUSY_TIMEOUT_MS);
    if (sqlite3_open_v2(part, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot create %s: %s", part, sqlite3_errmsg(dst));
        goto done;
    }
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        snprintf(err, errlen, "cannot start the backup: %s", sqlite3_errmsg(dst));
        goto done;
    }
    /* a database kept locked (another process's exclusive lock, a
     * recovery) is waited for as long as a statement may take
     * (db_statement_timeout_ms), not for ever: each step's busy handler
     * gets the time that is left */
    pthread_mutex_lock(&db->lock);
    int ms = db->statement_timeout_ms;
    pthread_mutex_unlock(&db->lock);
    const usec_t deadline = time_mono() + 1000LL * ms;
    int rc;
    for (;;) {
        usec_t left = deadline - time_mono();
        sqlite3_busy_timeout(src, left > 0 ? (int)((left + 999) / 1000) : 0);
        rc = sqlite3_backup_step(b, -1);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || time_mono() >= deadline)
            break;
        sqlite3_sleep(5); /* SQLITE_LOCKED returns at once: not a busy loop */
    }
    sqlite3_backup_finish(b);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        snprintf(err, errlen,
                 "the database stayed locked for %d ms (db_statement_timeout_ms): another"
                 " process holds a lock on it (an exclusive lock, or a recovery);"
                 " nothing was written (%s removed)",
                 ms, part);
        goto done;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "backup failed: %s", sqlite3_errstr(rc));
        goto done;
    }
    /* the copy in rollback-journal mode, checked and on disk before it takes
     * its name */
    char *msg = NULL;
    char problem[256] = "";
    if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(dst, "PRAGMA quick_check", first_problem, problem, &msg) != SQLITE_OK ||
        problem[0]) {
        snprintf(err, errlen, "the copy does not check: %s",
                 problem[0] ? problem
                 : msg      ? msg
                            : "?");
        sqlite3_free(msg);
        goto done;
    }
    sqlite3_close(dst);
    dst = NULL;
    if (!sync_path(part, 0)) {
        snprintf(err, errlen, "cannot sync %s: %s", part, strerror(errno));
        goto done;
    }
    /* never over a file that appeared meanwhile */
    if (renameat2(AT_FDCWD, part, AT_FDCWD, path, RENAME_NOREPLACE) != 0 &&
        (errno != EINVAL || link(part, path) != 0 || unlink(part) != 0)) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", part, path, strerror(errno));
        goto done;
    }
    /* the new name on disk too */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    /* FILE is there, complete, checked and its bytes on disk: the backup
     * succeeded (failing now would report a failure beside the file, and a
     * second run would refuse it as existing). Only its name may not
     * survive a power loss: a warning, in err. */
    if (!sync_path(slash ? dir : ".", O_DIRECTORY))
        snprintf(err, errlen,
                 "%s is complete and checked, but its folder could not be synced (%s):"
                 " a power loss before the system writes the folder may lose its name"
                 " (run sync to write it now)",
                 path, strerror(errno));
    ok = true;
done:
    sqlite3_close(dst);
    sqlite3_close(src);
    if (!ok)
        unlink(part);
    return ok;
}
static enum db_status sqlite_savepoint(struct db_tx *tx, enum db_savepoint op);

const struct db_backend db_sqlite_backend = {
    .name = "sqlite",
    .conn_open = conn_open,
    .conn_close = conn_close,
    .epoch_open = epoch_open,
    .epoch_close = epoch_close,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .backup = sqlite_backup,
    .leader = sqlite_leader,
    .migrate = sqlite_migrate,
    .latest_schema = sqlite_latest_schema,
    .stmt = stmt,
    .bind_text = bind_text,
    .bind_int = bind_int,
    .bind_null = bind_null,
    .bind_blob = bind_blob,
    .step = step,
    .reset = reset,
    .col_int = col_int,
    .col_null = col_null,
    .col_text = col_text,
    .col_blob = col_blob,
    .changes = changes,
    .last_insert_id = last_insert_id,
    .col_type = col_type,
    .col_count = col_count,
    .col_name = col_name,
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
    /* the two of every request are prepared once; a rollback is rare */
    if (op == DB_SAVEPOINT_BEGIN)
        return run_simple(tx, STMT_SAVEPOINT, sql[op]);
    if (op == DB_SAVEPOINT_RELEASE)
        return run_simple(tx, STMT_RELEASE, sql[op]);
    int rc = sqlite3_exec(h, sql[op], NULL, NULL, NULL);
    return rc == SQLITE_OK ? DB_NO_RESULTS : sqlite_status(tx, rc, sql[op]);
}
