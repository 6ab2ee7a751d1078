/*
 * db_internal.h — what db.c and the backends share; callers never include it.
 */
#ifndef CHATPAY_DB_INTERNAL_H
#define CHATPAY_DB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "db/backend.h"

/* What struct db_backend.savepoint does in the open transaction: begin a
 * savepoint, release it (its work stays in the transaction), or roll back
 * to it and release it (its work is gone, the transaction goes on). */
enum db_savepoint { DB_SAVEPOINT_BEGIN, DB_SAVEPOINT_RELEASE, DB_SAVEPOINT_ROLLBACK };

/* A backend: its operations plus per-thread connection management. */
struct db_backend {
    const struct db_ops *ops;
    /* open a connection for the calling thread; NULL + err on failure */
    void *(*conn_open)(struct db *db, char *err, size_t errlen);
    void (*conn_close)(void *conn);
    /* map the shared configuration epoch counter into db->epoch */
    bool (*epoch_open)(struct db *db, char *err, size_t errlen);
    void (*epoch_close)(struct db *db);
    /* one writer at a time: queue this process's write transactions on a
     * mutex instead of letting them spin in the engine's busy handler */
    bool serialize_writes;
    /* group commit (batch.c): this process's concurrent write transactions
     * run in one transaction, each in a savepoint, and commit together */
    bool batch_writes;
    /* with batch_writes: see enum db_savepoint. Fails (< 0) whenever the
     * transaction is no longer open (the engine rolled it back by itself). */
    enum db_status (*savepoint)(struct db_tx *tx, enum db_savepoint op);
};

/* One connection, owned by one thread (or by a CLI command); the batch
 * writer is used by the thread leading the batches, one at a time. */
struct db_tx {
    struct db *db;
    void *conn; /* backend connection */
    bool in_txn;
    bool config_changed; /* set by operations; db_run advances the epoch */
    struct db_tx *next;  /* on db->all, for db_close */
};

struct db {
    const struct db_backend *backend;
    char *target;      /* backend-specific: file path for SQLite */
    pthread_key_t key; /* the calling thread's struct db_tx */
    pthread_mutex_t lock;
    pthread_mutex_t write_lock; /* see db_backend.serialize_writes; with batch_writes
                                   it guards the queue below */
    struct db_batch_req *batch_head, *batch_tail; /* write requests waiting (batch.c) */
    bool batch_leader;                            /* a thread is running batches */
    struct db_tx *batch_writer; /* the connection batches run on (the leader's alone) */
    struct db_tx *all;
    _Atomic uint64_t *epoch; /* shared configuration epoch (see db_config_epoch) */
    _Atomic uint64_t commits[2], rollbacks, retries; /* db_stats; commits by enum db_mode */
    _Atomic uint64_t durable_commits;                /* db_stats */
    void *epoch_map;                                 /* backend's mapping of it */
};

/* The calling thread's connection, opened on first use. NULL on failure. */
struct db_tx *db_thread_tx(struct db *db);
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

extern const struct db_backend db_sqlite_backend;

#endif
