/*
 * db_internal.h — what db.c and the backends share; callers never include it.
 */
#ifndef CHATPAY_DB_INTERNAL_H
#define CHATPAY_DB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "db/backend.h"

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
};

/* One connection, owned by one thread (or by a CLI command). */
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
    pthread_mutex_t write_lock; /* see db_backend.serialize_writes */
    struct db_tx *all;
    _Atomic uint64_t *epoch; /* shared configuration epoch (see db_config_epoch) */
    _Atomic uint64_t commits[2], rollbacks, retries; /* db_stats; commits by enum db_mode */
    void *epoch_map;                                 /* backend's mapping of it */
};

/* The calling thread's connection, opened on first use. NULL on failure. */
struct db_tx *db_thread_tx(struct db *db);

extern const struct db_backend db_sqlite_backend;

#endif
