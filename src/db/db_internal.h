/*
 * db_internal.h — what db.c, db/sql/ and the backends share; callers never
 * include it.
 */
#ifndef CHATPAY_DB_INTERNAL_H
#define CHATPAY_DB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "db/backend.h"
#include "db/sql/stmt.h"

/* What struct db_backend.savepoint does in the open transaction: begin a
 * savepoint, release it (its work stays in the transaction), or roll back
 * to it and release it (its work is gone, the transaction goes on). */
enum db_savepoint { DB_SAVEPOINT_BEGIN, DB_SAVEPOINT_RELEASE, DB_SAVEPOINT_ROLLBACK };

/* A backend: connections, transactions, schema and statements. */
struct db_backend {
    const char *name; /* "sqlite", "postgresql" */
    bool pg_dialect;  /* which text of db_stmt_dialect() it runs */

    /* open a connection; NULL + err on failure */
    void *(*conn_open)(struct db *db, char *err, size_t errlen);
    void (*conn_close)(void *conn);
    /* set up db->epoch, the configuration epoch this process reads */
    bool (*epoch_open)(struct db *db, char *err, size_t errlen);
    void (*epoch_close)(struct db *db);

    /* transactions (db_run only) */
    enum db_status (*begin)(struct db_tx *tx, enum db_mode mode);
    enum db_status (*commit)(struct db_tx *tx);
    void (*rollback)(struct db_tx *tx);
    /* inside a transaction that changed configuration, before its commit:
     * tell the other processes (NULL: db_run advances the shared epoch
     * after the commit) */
    enum db_status (*config_changed)(struct db_tx *tx);
    /* may this process run the periodic work now? (NULL: always) */
    bool (*leader)(struct db *db);

    /* a consistent copy into a new file while in use (NULL: not offered) */
    bool (*backup)(struct db *db, const char *path, char *err, size_t errlen);

    /* schema */
    enum db_status (*migrate)(struct db *db);
    int (*latest_schema)(void); /* the version of the last migration */

    /* statements (db/sql/stmt.h) */
    struct db_stmt *(*stmt)(struct db_tx *tx, enum db_stmt_id id, const char *sql);
    void (*bind_text)(struct db_stmt *st, int i, const char *s);
    void (*bind_int)(struct db_stmt *st, int i, int64_t v);
    void (*bind_null)(struct db_stmt *st, int i);
    void (*bind_blob)(struct db_stmt *st, int i, const void *p, size_t n);
    enum db_status (*step)(struct db_stmt *st, const char *what);
    void (*reset)(struct db_stmt *st);
    int64_t (*col_int)(struct db_stmt *st, int col);
    bool (*col_null)(struct db_stmt *st, int col);
    const char *(*col_text)(struct db_stmt *st, int col);
    size_t (*col_blob)(struct db_stmt *st, int col, const void **p);
    int64_t (*changes)(struct db_stmt *st);
    /* the rowid of the connection's last INSERT (SQLite); NULL where an
     * INSERT names its new id with RETURNING (PostgreSQL; see db_insert_id) */
    int64_t (*last_insert_id)(struct db_stmt *st);
    enum db_col_type (*col_type)(struct db_stmt *st, int col);
    int (*col_count)(struct db_stmt *st);
    const char *(*col_name)(struct db_stmt *st, int col);

    /* one writer at a time: queue this process's write transactions on a
     * mutex instead of letting them spin in the engine's busy handler */
    bool serialize_writes;
    /* connections come from a pool of db->pool_size shared by all threads
     * (else each thread keeps its own) */
    bool pooled;
    /* group commit (batch.c): this process's concurrent write transactions
     * run in one transaction, each in a savepoint, and commit together */
    bool batch_writes;
    /* with batch_writes: see enum db_savepoint. Fails (< 0) whenever the
     * transaction is no longer open (the engine rolled it back by itself). */
    enum db_status (*savepoint)(struct db_tx *tx, enum db_savepoint op);
};

/* One connection, used by one thread at a time: its own thread's, a pooled
 * one taken for one transaction, or the batch writer by the thread leading
 * the batches (or a CLI command's). */
struct db_tx {
    struct db *db;
    void *conn; /* backend connection */
    bool in_txn;
    bool config_changed; /* set by operations; db_run tells the others */
    bool unavailable;    /* set by the backend: the server cannot be reached */
    bool untimed; /* no statement timeout in this transaction (db/admin.c); the backend resets it */
    struct db_merchant_cache *merchant_cache; /* db/sql/merchants.c; freed with the tx */
    struct db_tx *next;                       /* on db->all (per-thread) or db->free (pooled) */
};

/* Forget what the transaction read of a merchant (db/sql/merchants.c): at
 * its beginning, when a request of a group is rolled back to its savepoint,
 * and when a statement writes a merchant's tables (db_stmt). */
void db_tx_forget(struct db_tx *tx);

struct db {
    const struct db_backend *backend;
    char *target;      /* backend-specific: file path for SQLite, conninfo for PostgreSQL */
    bool as_is;        /* db_open_existing: nothing made or changed (SQLite: no file, no
                          journal mode, no epoch file) */
    bool read_only;    /* db_open_existing(read_only): a SQLite file opened read-only */
    pthread_key_t key; /* the calling thread's struct db_tx (not pooled) */
    pthread_mutex_t lock;
    pthread_cond_t freed;       /* a pooled connection came back */
    pthread_mutex_t write_lock; /* see db_backend.serialize_writes; with batch_writes
                                   it guards the queue below */
    struct db_batch_req *batch_head, *batch_tail; /* write requests waiting (batch.c) */
    pthread_cond_t batch_queued;                  /* for the writer: a request, or stop */
    pthread_t batch_thread;                       /* the writer (batch.c) */
    bool batch_thread_on, batch_stop;
    struct db_tx *batch_writer; /* the connection batches run on (the writer's alone) */
    struct db_tx *all;          /* per-thread connections, for db_close */
    struct db_tx *free;         /* pooled connections not in use */
    int pool_size, pool_open;   /* pooled: the limit, and how many exist */
    int pool_wait_ms;           /* pooled: how long db_run waits for one */
    int statement_timeout_ms;
    _Atomic uint64_t *epoch;                         /* configuration epoch (see db_config_epoch) */
    _Atomic uint64_t commits[2], rollbacks, retries; /* db_stats; commits by enum db_mode */
    _Atomic uint64_t durable_commits;                /* db_stats */
    void *epoch_map;                                 /* backend's mapping of it */
    int epoch_fd;        /* SQLite: the epoch file, kept open while mapped (its lock elects
                            the process that runs the periodic work) */
    bool epoch_locked;   /* SQLite: this process holds that lock */
    void *backend_state; /* backend's per-database state */
};

/* The calling thread's connection (not pooled), opened on first use. NULL on
 * failure. */
struct db_tx *db_thread_tx(struct db *db);
/* A connection for one piece of work: the thread's own, or one taken from
 * the pool (waiting up to pool_wait_ms); give it back with db_tx_put. NULL
 * when none could be had. */
struct db_tx *db_tx_get(struct db *db);
void db_tx_put(struct db_tx *tx);
/* A new connection, closed by db_close. NULL on failure (logged). */
struct db_tx *db_tx_open(struct db *db);

/* How many times a transaction is tried before giving up on transient errors. */
enum { DB_MAX_ATTEMPTS = 20 };

/* Sleep a random 0.5..2 ms × attempt, so that competing writers spread out. */
void db_backoff(int attempt);

/* db_run(DB_WRITE) for a backend with batch_writes (batch.c). */
enum db_status db_batch_run(struct db *db, const char *name, db_txn_cb cb, void *cls);
/* How many write requests are queued and not yet in a batch (for tests). */
int db_batch_waiting(struct db *db);
/* Stop the writer thread of batch.c, once what is queued is answered (db_close). */
void db_batch_stop(struct db *db);

extern const struct db_backend db_sqlite_backend;
extern const struct db_backend db_pg_backend;

#endif
