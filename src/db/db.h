/*
 * db.h — the storage interface.
 *
 * Callers see one `struct db` (opened from a URL) and run all their work
 * through db_run(): it takes the calling thread's connection, begins a
 * transaction, calls the callback, commits, and retries the whole callback
 * when the backend reports a transient failure (SQLite busy, PostgreSQL
 * serialization failure or deadlock). Callbacks therefore must do nothing but
 * database work through `tx` and filling their own context: no I/O to the
 * outside world, no side effects that a retry would repeat.
 *
 * Every operation returns a db_status: hard error, soft error (retry), or the
 * number of rows found/changed. The operations are grouped by aggregate, one
 * header each (db/merchants.h, db/links.h, db/payments.h, db/jobs.h,
 * db/idempotency.h, db/sandbox.h, ...); callers include the ones they use and
 * call DB_CALL(tx, group, op, ...). Each backend implements them all
 * (db/backend.h). Every operation that touches merchant data takes the
 * merchant id and scopes its query by it.
 *
 * Times are usec_t (µs since the epoch, UTC). Strings passed in are copied;
 * strings handed out live in the caller's arena.
 */
#ifndef CHATPAY_DB_DB_H
#define CHATPAY_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/time.h"

enum db_status {
    DB_ROLLBACK = -3,   /* the callback chose to abort: roll back, do not retry */
    DB_HARD_ERROR = -2, /* a fault: logged where it happened */
    DB_SOFT_ERROR = -1, /* transient: the runner retries the transaction */
    DB_NO_RESULTS = 0,
    DB_ONE_RESULT = 1, /* n > 0: that many rows */
};

enum db_mode { DB_READ, DB_WRITE };

struct db;
struct db_tx;

/* Sizes of identifiers (including the NUL). */
#define DB_UUID_LEN       37
#define DB_KEY_ID_LEN     17
#define DB_NAME_MAX       255
#define DB_MAX_CURRENCIES 32

/* Open a database from a URL: "sqlite:PATH" or "sqlite://PATH" (PATH relative
 * to the working directory; its folder is created), or PostgreSQL:
 * "postgresql://...", "postgres://..." or libpq's "key=value ..." form (the
 * password may also come from PGPASSWORD or ~/.pgpass, as libpq reads them).
 * On failure returns NULL and writes one line into err. */
struct db *db_open(const char *url, char *err, size_t errlen);
/* Open a database that is there already to read it (db check, db backup)
 * or copy from it, changing nothing in it: no migration, and on SQLite no
 * file or folder made, the journal mode left as it is and no epoch file
 * (a counter of this process's). read_only opens a SQLite file read-only
 * (a backup that may not be written); db_run(DB_WRITE) then fails. See
 * db_schema_check. */
struct db *db_open_existing(const char *url, bool read_only, char *err, size_t errlen);
/* False when url names a SQLite file that does not exist (db_open would
 * make a new, empty one); true otherwise, also for a URL db_open refuses
 * (it says why) and for PostgreSQL (the server knows). */
bool db_url_exists(const char *url);
/* Do two URLs name the same database? The same text, or two SQLite URLs
 * of one existing file however its path is spelled. (Two spellings of one
 * PostgreSQL database are not seen as one.) */
bool db_url_same(const char *a, const char *b);
/* url as it may be shown (printed, logged): a password in it (postgresql://
 * user:PASSWORD@host, or the same in a mistyped URL of any scheme but
 * sqlite:, ?password=, libpq's password=) replaced by "****". Into
 * out[cap], cut to fit. */
void db_url_display(const char *url, char *out, size_t cap);
void db_close(struct db *db);

/* PostgreSQL: how many connections this process keeps at most, how long a
 * transaction waits for one (ms) before failing as transient (503), and the
 * server-side statement timeout (ms). Zero keeps a value. Call before use. */
void db_configure(struct db *db, int pool_size, int pool_wait_ms, int statement_timeout_ms);

/* May this process run the periodic work (expiry sweep, purges, repairs)
 * now? Always on SQLite; on PostgreSQL one process of all those sharing the
 * database holds a lock for it, and another takes over when it goes. */
bool db_leader(struct db *db);

/* Apply pending migrations (each in its own transaction). */
enum db_status db_migrate(struct db *db);

/* Release the calling thread's connection (worker threads call this on exit;
 * db_close releases the rest). */
void db_thread_release(struct db *db);

typedef enum db_status (*db_txn_cb)(struct db_tx *tx, void *cls);

/* Run cb in a transaction on the calling thread's connection. Retries on
 * DB_SOFT_ERROR up to a bounded number of times with a short randomized
 * backoff. Returns the callback's status after commit, DB_ROLLBACK if the
 * callback asked for it, or DB_HARD_ERROR. `name` is used in logs.
 *
 * Write transactions are committed in groups (on both backends): the write
 * transactions that threads of this process run at the same time share one
 * transaction and one durable commit, each callback inside a savepoint of
 * its own, run by whichever thread leads the group, on the process's one
 * writer connection. A callback's failure rolls back its own savepoint
 * only, and db_run returns only after the commit of the group. So a write
 * callback must use nothing of the calling thread (thread-locals, the
 * thread's connection) and must not call db_run itself. */
enum db_status db_run(struct db *db, enum db_mode mode, const char *name, db_txn_cb cb, void *cls);

/* The configuration epoch: a counter that changes after every committed
 * change to merchants, their currencies, API keys or integrators — made by
 * this process or by any other chatpay process on the same database (for
 * SQLite it lives in a small shared file beside the database, "<path>-epoch";
 * on PostgreSQL a version row whose changes are announced with NOTIFY, and
 * read again every second, so that every node sees a change within 1 s).
 * In-memory caches of such data stay valid while the epoch is unchanged.
 * Reading it costs one atomic load. */
uint64_t db_config_epoch(struct db *db);

/* Operations that change configuration call this inside the transaction;
 * db_run advances the epoch after the commit. */
void db_tx_config_changed(struct db_tx *tx);

/* Counters of this process's transactions since the database was opened.
 * write_commits counts each committed db_run(DB_WRITE), also when several
 * were committed together in one group; durable_commits counts the commits
 * that reached the disk (one per group). */
struct db_stats {
    uint64_t read_commits, write_commits; /* committed transactions */
    uint64_t rollbacks;                   /* callbacks that rolled back (refusals, faults) */
    uint64_t retries;                     /* transient failures (busy) tried again */
    uint64_t durable_commits;             /* commits of write transactions to the disk */
};
void db_stats(struct db *db, struct db_stats *out);

/* The backend's name ("sqlite", "postgresql"). */
const char *db_backend_name(const struct db *db);

/* Is the database there and answering? (a trivial query) */
enum db_status db_ping(struct db_tx *tx);
/* The schema version the database has, and the one this binary expects. */
enum db_status db_schema_version(struct db_tx *tx, int *current, int *latest);

/* --- whole-database work for operators (db/admin.c, db/sqlite/) ---------------- */

/* Is there chatpay's schema in a database opened with db_open_existing
 * (and, when `exact`, at this binary's version)? false with a message
 * naming what to do (`chatpay migrate`, a newer chatpay) in err. */
bool db_schema_check(struct db *db, bool exact, char *err, size_t errlen);

/* Check a database: the engine's own integrity checks and chatpay's
 * invariants (every payment belongs to a link, amounts add up, no job for a
 * missing link, ...). cb is called once per check with the number of rows
 * that break it (0 when it holds) and a detail, possibly "". Returns how
 * many checks failed, or -1 when the database could not be read. */
typedef void (*db_check_cb)(void *cls, const char *check, int64_t problems, const char *detail);
int db_check(struct db *db, db_check_cb cb, void *cls);

/* Copy every row of a deployment from `from` into `to` (both migrated to
 * this binary's schema; `to` must be empty), in one transaction on each
 * side (the source's a write transaction, on PostgreSQL with every copied
 * table locked against writes, so that nothing changes it meanwhile).
 * Each table is read back from the target and compared with the source by
 * row count and an order-independent SHA-256 checksum of its rows; cb is
 * called per table. Any difference rolls the target back. Returns 0, or
 * -1 with a message in err. */
/* May `to` (opened with db_open_existing, nothing written to it) be copied
 * into? 0: it has no chatpay schema (nor any of its tables), to be
 * migrated first; 1: it is at this binary's schema with every copied table
 * empty; -1: it is refused (a deployment, or a schema of another version)
 * or cannot be read, with a message in err saying so and that nothing was
 * changed in it. */
int db_copy_target_check(struct db *to, char *err, size_t errlen);
typedef void (*db_copy_cb)(void *cls, const char *table, int64_t rows, int64_t copied,
                           const uint8_t checksum[32], bool same);
int db_copy(struct db *from, struct db *to, db_copy_cb cb, void *cls, char *err, size_t errlen);

/* SQLite: a consistent copy of the database into the file `path` (which
 * must not exist) while it is in use, with SQLite's online backup API; a
 * lock is waited for db_statement_timeout_ms at most. Returns false with a
 * message in err (also for other backends); true with err empty, or with a
 * warning in it (the file is made, but its folder could not be synced). */
bool db_backup(struct db *db, const char *path, char *err, size_t errlen);

/* Call operation `op` of aggregate `group` (declared in db/<group>.h as
 * struct db_<group>_ops, reached with db_<group>_ops(tx)). */
#define DB_CALL(tx, group, op, ...) (db_##group##_ops(tx)->op((tx), __VA_ARGS__))

#endif
