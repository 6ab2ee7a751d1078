/*
 * db.c — opening databases, per-thread connections and the transaction runner.
 *
 * Invariant: a struct db_tx is used by one thread at a time (its own, or for
 * the batch writer the thread leading the batches, batch.c); SQLite
 * connections are opened without internal mutexes for that reason.
 */
#include "db/db_internal.h"
#include "db/sql/sql_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

#include "util/crypto.h"
#include "util/log.h"
#include "util/thread.h"

/* Defaults of a pooled backend (db_configure changes them). */
enum { DB_POOL_SIZE = 16, DB_POOL_WAIT_MS = 5000, DB_STATEMENT_TIMEOUT_MS = 5000 };

/* Which backend a URL names, and the backend's target: for SQLite the path
 * after "sqlite:" or "sqlite://"; for PostgreSQL the whole URL
 * (postgresql://, postgres://) or a libpq "key=value ..." string. */
static const struct db_backend *backend_of(const char *url, const char **target, char *err,
                                           size_t errlen)
{
    if (strncmp(url, "sqlite://", 9) == 0) {
        *target = url + 9;
        return &db_sqlite_backend;
    }
    if (strncmp(url, "sqlite:", 7) == 0) {
        *target = url + 7;
        return &db_sqlite_backend;
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0 ||
        (strchr(url, '=') && !strstr(url, "://"))) {
        *target = url;
        return &db_pg_backend;
    }
    char shown[512]; /* a mistyped URL may hold a password too */
    db_url_display(url, shown, sizeof shown);
    snprintf(err, errlen,
             "database URL %s: expected sqlite:PATH, postgresql://... or libpq key=value settings",
             shown);
    return NULL;
}

/* Append s[0..n) to out[cap] at *len (cut to fit, NUL-terminated). */
static void put_text(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + 1 >= cap)
        return;
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

void db_url_display(const char *url, char *out, size_t cap)
{
    if (!cap)
        return;
    out[0] = '\0';
    size_t len = 0;
    const char *p = url;
    const char *scheme = strstr(url, "://");
    if (scheme && strncmp(url, "sqlite:", 7) != 0) {
        /* postgresql://user:password@host/db?...: the userinfo's password
         * (whatever the scheme: a mistyped one is shown in an error) */
        const char *auth = scheme + 3;
        const char *end = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *q = auth; q < end; q++)
            if (*q == '@')
                at = q;
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            put_text(out, cap, &len, url, (size_t)(colon + 1 - url));
            put_text(out, cap, &len, "****", 4);
            p = at;
        }
    }
    /* password=VALUE, in a query string (&password=) or libpq's key=value
     * form (password = 'quoted value') */
    while (*p) {
        const char *k = strstr(p, "password");
        if (!k) {
            put_text(out, cap, &len, p, strlen(p));
            break;
        }
        bool starts = k == url || strchr("?& \t", k[-1]);
        const char *v = k + 8;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!starts || *v != '=') {
            put_text(out, cap, &len, p, (size_t)(k + 8 - p));
            p = k + 8;
            continue;
        }
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        put_text(out, cap, &len, p, (size_t)(v - p));
        put_text(out, cap, &len, "****", 4);
        if (*v == '\'') { /* quoted: up to the closing quote (\' escapes one) */
            for (v++; *v && *v != '\''; v++)
                if (*v == '\\' && v[1])
                    v++;
            if (*v)
                v++;
        } else {
            v += strcspn(v, "& \t");
        }
        p = v;
    }
}

bool db_url_exists(const char *url)
{
    const char *target = NULL;
    char err[128];
    const struct db_backend *backend = backend_of(url, &target, err, sizeof err);
    return backend != &db_sqlite_backend || !*target || strcmp(target, ":memory:") == 0 ||
           access(target, F_OK) == 0;
}

bool db_url_same(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    const char *ta = NULL, *tb = NULL;
    char err[128];
    if (backend_of(a, &ta, err, sizeof err) != &db_sqlite_backend ||
        backend_of(b, &tb, err, sizeof err) != &db_sqlite_backend || strcmp(ta, ":memory:") == 0 ||
        strcmp(tb, ":memory:") == 0)
        return false;
    /* one file however it is spelled (./, .., a relative path, a link) */
    struct stat sa, sb;
    return stat(ta, &sa) == 0 && stat(tb, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static struct db *open_db(const char *url, bool as_is, bool read_only, char *err, size_t errlen)
{
    const char *target = NULL;
    const struct db_backend *backend = backend_of(url, &target, err, errlen);
    if (!backend)
        return NULL;
    if (!*target) {
        snprintf(err, errlen, "database URL %s: empty path", url);
        return NULL;
    }
    struct db *db = calloc(1, sizeof *db);
    if (!db || !(db->target = strdup(target))) {
        free(db);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->backend = backend;
    db->as_is = as_is;
    db->read_only = read_only;
    db->pool_size = DB_POOL_SIZE;
    db->pool_wait_ms = DB_POOL_WAIT_MS;
    db->statement_timeout_ms = DB_STATEMENT_TIMEOUT_MS;
    pthread_key_create(&db->key, NULL);
    pthread_mutex_init(&db->lock, NULL);
    thread_cond_init_mono(&db->freed);
    pthread_mutex_init(&db->write_lock, NULL);
    pthread_cond_init(&db->batch_queued, NULL);
    /* open a first connection now so that a bad path or server fails here */
    void *conn = backend->conn_open(db, err, errlen);
    if (conn && !backend->epoch_open(db, err, errlen)) {
        backend->conn_close(conn);
        conn = NULL;
    }
    if (!conn) {
        pthread_key_delete(db->key);
        pthread_mutex_destroy(&db->lock);
        pthread_cond_destroy(&db->freed);
        pthread_mutex_destroy(&db->write_lock);
        pthread_cond_destroy(&db->batch_queued);
        free(db->target);
        free(db);
        return NULL;
    }
    struct db_tx *tx = calloc(1, sizeof *tx);
    if (!tx)
        abort();
    tx->db = db;
    tx->conn = conn;
    if (backend->pooled) {
        db->pool_open = 1;
        db->free = tx;
    } else {
        tx->next = db->all;
        db->all = tx;
        pthread_setspecific(db->key, tx);
    }
    return db;
}

struct db *db_open(const char *url, char *err, size_t errlen)
{
    return open_db(url, false, false, err, errlen);
}

struct db *db_open_existing(const char *url, bool read_only, char *err, size_t errlen)
{
    return open_db(url, true, read_only, err, errlen);
}

void db_configure(struct db *db, int pool_size, int pool_wait_ms, int statement_timeout_ms)
{
    pthread_mutex_lock(&db->lock);
    if (pool_size > 0)
        db->pool_size = pool_size;
    if (pool_wait_ms > 0)
        db->pool_wait_ms = pool_wait_ms;
    if (statement_timeout_ms > 0)
        db->statement_timeout_ms = statement_timeout_ms;
    pthread_mutex_unlock(&db->lock);
}

/* A new connection in a struct db_tx; NULL (logged) when it cannot be had. */
static struct db_tx *tx_open(struct db *db)
{
    char err[256];
    void *conn = db->backend->conn_open(db, err, sizeof err);
    if (!conn) {
        log_error("database connection failed: %s", err);
        return NULL;
    }
    struct db_tx *tx = calloc(1, sizeof *tx);
    if (!tx)
        abort();
    tx->db = db;
    tx->conn = conn;
    return tx;
}

struct db_tx *db_tx_open(struct db *db)
{
    struct db_tx *tx = tx_open(db);
    if (!tx)
        return NULL;
    pthread_mutex_lock(&db->lock);
    tx->next = db->all;
    db->all = tx;
    pthread_mutex_unlock(&db->lock);
    return tx;
}

struct db_tx *db_thread_tx(struct db *db)
{
    struct db_tx *tx = pthread_getspecific(db->key);
    if (!tx && (tx = db_tx_open(db)))
        pthread_setspecific(db->key, tx);
    return tx;
}

/* Take a pooled connection: a free one, a new one while under the limit, or
 * wait for one to come back. */
static struct db_tx *pool_get(struct db *db)
{
    struct timespec until = thread_deadline_mono(db->pool_wait_ms);
    pthread_mutex_lock(&db->lock);
    for (;;) {
        struct db_tx *tx = db->free;
        if (tx) {
            db->free = tx->next;
            tx->next = NULL;
            pthread_mutex_unlock(&db->lock);
            return tx;
        }
        if (db->pool_open < db->pool_size) {
            db->pool_open++;
            pthread_mutex_unlock(&db->lock);
            if ((tx = tx_open(db)))
                return tx;
            pthread_mutex_lock(&db->lock);
            db->pool_open--;
            pthread_cond_signal(&db->freed);
            pthread_mutex_unlock(&db->lock);
            return NULL;
        }
        if (pthread_cond_timedwait(&db->freed, &db->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&db->lock);
            log_warn("database: no connection free after %d ms (pool of %d)", db->pool_wait_ms,
                     db->pool_size);
            return NULL;
        }
    }
}

struct db_tx *db_tx_get(struct db *db)
{
    return db->backend->pooled ? pool_get(db) : db_thread_tx(db);
}

void db_tx_put(struct db_tx *tx)
{
    struct db *db = tx->db;
    if (!db->backend->pooled)
        return;
    pthread_mutex_lock(&db->lock);
    tx->next = db->free;
    db->free = tx;
    pthread_cond_signal(&db->freed);
    pthread_mutex_unlock(&db->lock);
}

void db_thread_release(struct db *db)
{
    if (db->backend->pooled)
        return;
    struct db_tx *tx = pthread_getspecific(db->key);
    if (!tx)
        return;
    pthread_setspecific(db->key, NULL);
    pthread_mutex_lock(&db->lock);
    for (struct db_tx **p = &db->all; *p; p = &(*p)->next) {
        if (*p == tx) {
            *p = tx->next;
            break;
        }
    }
    pthread_mutex_unlock(&db->lock);
    db->backend->conn_close(tx->conn);
    free(tx->merchant_cache);
    free(tx);
}

void db_close(struct db *db)
{
    if (!db)
        return;
    db_batch_stop(db); /* before its connection closes */
    db->backend->epoch_close(db);
    struct db_tx *lists[2] = {db->all, db->free};
    for (int i = 0; i < 2; i++) {
        struct db_tx *tx = lists[i];
        while (tx) {
            struct db_tx *next = tx->next;
            db->backend->conn_close(tx->conn);
            free(tx->merchant_cache);
            free(tx);
            tx = next;
        }
    }
    pthread_key_delete(db->key);
    pthread_mutex_destroy(&db->lock);
    pthread_cond_destroy(&db->freed);
    pthread_mutex_destroy(&db->write_lock);
    pthread_cond_destroy(&db->batch_queued);
    free(db->target);
    free(db);
}

uint64_t db_config_epoch(struct db *db)
{
    return atomic_load_explicit(db->epoch, memory_order_acquire);
}

void db_tx_config_changed(struct db_tx *tx)
{
    tx->config_changed = true;
}

const char *db_backend_name(const struct db *db)
{
    return db->backend->name;
}

bool db_backup(struct db *db, const char *path, char *err, size_t errlen)
{
    if (!db->backend->backup) {
        snprintf(err, errlen,
                 "db backup copies SQLite databases; back up PostgreSQL with its own tools"
                 " (pg_dump, pg_basebackup, or your provider's snapshots)");
        return false;
    }
    return db->backend->backup(db, path, err, errlen);
}

bool db_leader(struct db *db)
{
    return !db->backend->leader || db->backend->leader(db);
}

enum db_status db_ping(struct db_tx *tx)
{
    return db_exists(db_stmt(tx, STMT_PING, "SELECT 1"), "ping");
}

enum db_status db_schema_version(struct db_tx *tx, int *current, int *latest)
{
    *latest = tx->db->backend->latest_schema();
    *current = 0;
    int64_t v = 0;
    enum db_status s = db_one_int(
        db_stmt(tx, STMT_SCHEMA_VERSION, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"),
        &v, "schema version");
    *current = (int)v;
    return s;
}

/* The aggregates' operation tables (DB_CALL). */
#define DB_AGGREGATE(name)                                                                         \
    const struct db_##name##_ops *db_##name##_ops(struct db_tx *tx)                                \
    {                                                                                              \
        (void)tx;                                                                                  \
        return &db_sql_ops.name;                                                                   \
    }
DB_AGGREGATE(merchants)
DB_AGGREGATE(currencies)
DB_AGGREGATE(api_keys)
DB_AGGREGATE(settings)
DB_AGGREGATE(integrators)
DB_AGGREGATE(links)
DB_AGGREGATE(payments)
DB_AGGREGATE(jobs)
DB_AGGREGATE(idempotency)
DB_AGGREGATE(messages)
DB_AGGREGATE(sandbox_gateway)
DB_AGGREGATE(callbacks)
DB_AGGREGATE(providers)

const struct db_marketplace_ops *db_marketplace_ops(struct db_tx *tx)
{
    (void)tx;
    return &sql_marketplace_ops;
}

const struct db_whatsapp_ops *db_whatsapp_ops(struct db_tx *tx)
{
    (void)tx;
    return &sql_whatsapp_ops;
}

enum db_status db_migrate(struct db *db)
{
    return db->backend->migrate(db);
}

void db_backoff(int attempt)
{
    uint16_t r;
    crypto_random(&r, sizeof r);
    time_sleep((usec_t)(500 + r % 1500) * attempt);
}

static enum db_status run_attempts(struct db *db, struct db_tx *tx, enum db_mode mode,
                                   const char *name, db_txn_cb cb, void *cls)
{
    const struct db_backend *ops = db->backend;
    for (int attempt = 1; attempt <= DB_MAX_ATTEMPTS; attempt++) {
        tx->unavailable = false;
        db_tx_forget(tx);
        enum db_status st = ops->begin(tx, mode);
        if (st == DB_SOFT_ERROR && tx->unavailable)
            return DB_SOFT_ERROR; /* the server is away: answer now, not after every retry */
        if (st == DB_SOFT_ERROR) {
            atomic_fetch_add_explicit(&db->retries, 1, memory_order_relaxed);
            db_backoff(attempt);
            continue;
        }
        if (st < 0)
            return DB_HARD_ERROR;
        tx->in_txn = true;
        tx->config_changed = false;
        st = cb(tx, cls);
        if (st >= 0 && tx->config_changed && ops->config_changed) {
            enum db_status n = ops->config_changed(tx);
            if (n < 0)
                st = n;
        }
        if (st < 0) {
            ops->rollback(tx);
            tx->in_txn = false;
            atomic_fetch_add_explicit(st == DB_SOFT_ERROR ? &db->retries : &db->rollbacks, 1,
                                      memory_order_relaxed);
            if (st == DB_SOFT_ERROR && !tx->unavailable) {
                db_backoff(attempt);
                continue;
            }
            return st;
        }
        enum db_status cst = ops->commit(tx);
        if (cst < 0) {
            ops->rollback(tx);
            tx->in_txn = false;
            if (cst == DB_SOFT_ERROR && !tx->unavailable) {
                atomic_fetch_add_explicit(&db->retries, 1, memory_order_relaxed);
                db_backoff(attempt);
                continue;
            }
            /* a commit whose answer was lost may have happened: report
             * the fault, never success */
            return tx->unavailable ? DB_SOFT_ERROR : DB_HARD_ERROR;
        }
        tx->in_txn = false;
        /* this process sees its own change at once; the others through the
         * shared epoch file (SQLite) or the notice (config_changed hook) */
        if (tx->config_changed)
            atomic_fetch_add_explicit(db->epoch, 1, memory_order_acq_rel);
        atomic_fetch_add_explicit(&db->commits[mode == DB_WRITE], 1, memory_order_relaxed);
        if (mode == DB_WRITE)
            atomic_fetch_add_explicit(&db->durable_commits, 1, memory_order_relaxed);
        return st;
    }
    log_error("transaction %s: still busy after %d attempts", name, DB_MAX_ATTEMPTS);
    return DB_SOFT_ERROR;
}

void db_stats(struct db *db, struct db_stats *out)
{
    out->read_commits = atomic_load_explicit(&db->commits[0], memory_order_relaxed);
    out->write_commits = atomic_load_explicit(&db->commits[1], memory_order_relaxed);
    out->rollbacks = atomic_load_explicit(&db->rollbacks, memory_order_relaxed);
    out->retries = atomic_load_explicit(&db->retries, memory_order_relaxed);
    out->durable_commits = atomic_load_explicit(&db->durable_commits, memory_order_relaxed);
}

enum db_status db_run(struct db *db, enum db_mode mode, const char *name, db_txn_cb cb, void *cls)
{
    if (mode == DB_WRITE && db->backend->batch_writes)
        return db_batch_run(db, name, cb, cls);
    struct db_tx *tx = db_tx_get(db);
    if (!tx)
        return db->backend->pooled ? DB_SOFT_ERROR : DB_HARD_ERROR;
    bool serialize = mode == DB_WRITE && db->backend->serialize_writes;
    if (serialize)
        pthread_mutex_lock(&db->write_lock);
    enum db_status st = run_attempts(db, tx, mode, name, cb, cls);
    if (serialize)
        pthread_mutex_unlock(&db->write_lock);
    db_tx_put(tx);
    return st;
}

/* --- enum names shared by every backend and by the API ------------------------- */

static const char *const env_names[] = {"SANDBOX", "PRODUCTION"};
static const char *const integrator_status_names[] = {"ACTIVATED", "DEACTIVATED", "DELETED"};
static const char *const integrator_type_names[] = {"OMS", "CLICKATELL_PRODUCT", "APPLICATION"};

static bool parse_name(const char *s, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

const char *db_key_prefix(enum db_environment env)
{
    return env == ENV_PRODUCTION ? "cp_live_" : "cp_sandbox_";
}

const char *db_environment_name(enum db_environment e)
{
    return env_names[e == ENV_PRODUCTION];
}

bool db_environment_parse(const char *s, enum db_environment *out)
{
    int v;
    if (!parse_name(s, env_names, 2, &v))
        return false;
    *out = (enum db_environment)v;
    return true;
}

const char *db_integrator_status_name(enum integrator_status s)
{
    return (unsigned)s < 3 ? integrator_status_names[s] : "DELETED";
}

bool db_integrator_status_parse(const char *s, enum integrator_status *out)
{
    int v;
    if (!parse_name(s, integrator_status_names, 3, &v))
        return false;
    *out = (enum integrator_status)v;
    return true;
}

const char *db_integrator_type_name(enum integrator_type t)
{
    return (unsigned)t < 3 ? integrator_type_names[t] : "APPLICATION";
}

bool db_integrator_type_parse(const char *s, enum integrator_type *out)
{
    int v;
    if (!parse_name(s, integrator_type_names, 3, &v))
        return false;
    *out = (enum integrator_type)v;
    return true;
}
