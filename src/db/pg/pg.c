/*
 * pg.c — the PostgreSQL backend (libpq): connections, transactions,
 * statements, migrations, the configuration epoch and the periodic-work lock.
 *
 * Connections come from a pool shared by the process's threads (db.c). Write
 * transactions run SERIALIZABLE, reads REPEATABLE READ: the aggregates'
 * operations were written for SQLite's one-writer-at-a-time, and
 * serializable isolation keeps their invariants (one operation per
 * idempotency key, never more refunded than captured) with many writers
 * and many nodes; a serialization failure or deadlock (40001, 40P01) is
 * reported transient and db_run runs the transaction again.
 *
 * A connection that breaks (server restart, network) is marked and opened
 * again at the next transaction; while the server cannot be reached,
 * transactions fail at once as transient (the API answers 503) instead of
 * waiting. Each session has a statement timeout, and the client does not
 * wait for an answer much longer than that: a server that is there but
 * answers nothing (a frozen host, a stalled disk, a stopped process: its
 * statement timeout never fires) has the connection dropped after the
 * statement timeout and a second (stalled()). Connections are in libpq's
 * nonblocking mode and every answer is waited for with poll() against a
 * deadline (next_result()).
 *
 * Statements are prepared on first use on each connection (named "s<id>"),
 * with the types of their first bindings; parameters go as text, results
 * come back as text (bytea in hex).
 */
#include "db/db_internal.h"
#include "db/pg/pg_migrations.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

enum { PG_MAX_PARAMS = 48, PG_CONNECT_TIMEOUT_S = 3 };

/* How much longer than the statement timeout an answer is waited for: the
 * server's own timeout, its error on the way, a commit's flush. */
enum { PG_GRACE_MS = 1000 };

/* Type oids of the parameters we send (pg_type.h). */
enum { OID_BYTEA = 17, OID_INT8 = 20, OID_TEXT = 25 };

/* The advisory lock keys: migrations, and the periodic work. */
#define PG_LOCK_MIGRATE  INT64_C(0x63686174706d6967) /* "chatpmig" */
#define PG_LOCK_PERIODIC INT64_C(0x6368617470706572) /* "chatpper" */

struct pg_stmt {
    struct db_stmt base;
    char *sql; /* with $n parameters */
    int nparams;
    bool prepared;
    char *vals[PG_MAX_PARAMS];
    int lens[PG_MAX_PARAMS];
    int fmts[PG_MAX_PARAMS];
    unsigned types[PG_MAX_PARAMS];
    PGresult *res;
    int row, nrows;
    int64_t changes;
    unsigned char *blob; /* decoded bytea of the current column */
};

struct pg_conn {
    PGconn *h;
    bool broken;
    bool release_due;   /* a group's savepoint to release, sent with what comes next */
    bool savepoint_due; /* a request's savepoint to begin, sent with its first statement */
    bool savepoint_bad; /* the savepoint sent ahead failed: the group cannot go on */
    bool stalled;       /* broken because the server did not answer in time */
    bool reopen;        /* its prepared statements are unsure: open it again at the next begin */
    int timeout_ms;     /* the statement timeout set on the session */
    struct pg_stmt stmts[STMT__COUNT];
};

/* Per-database state: the epoch and its listener, the periodic-work lock. */
struct pg_state {
    _Atomic uint64_t epoch;
    _Atomic bool stop;
    int wake[2]; /* a pipe: a byte on it ends the listener's wait at once (close) */
    pthread_t listener;
    bool listening;
    pthread_mutex_t leader_lock;
    PGconn *leader;
    bool leader_held;
    usec_t leader_checked;
};

static struct pg_conn *conn_of(struct db_tx *tx)
{
    return tx->conn;
}

static struct pg_stmt *ps(struct db_stmt *st)
{
    return (struct pg_stmt *)st;
}

/* The server's notices and warnings go to the log (as JSON lines), not to
 * stderr as libpq would print them. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    snprintf(line, sizeof line, "%s", message);
    line[strcspn(line, "\n")] = '\0';
    log_warn("postgresql: %s", line);
}

/* The statement timeout in force (db_configure may change it). */
static int statement_timeout(struct db *db)
{
    pthread_mutex_lock(&db->lock);
    int ms = db->statement_timeout_ms;
    pthread_mutex_unlock(&db->lock);
    return ms;
}

/* --- waiting for the server, with a deadline ------------------------------------ */

/* The deadline (time_mono) of an answer to a statement sent now under a
 * statement timeout of ms; 0 (none) when there is no timeout. */
static usec_t deadline_after(int ms)
{
    return ms > 0 ? time_mono() + (usec_t)(ms + PG_GRACE_MS) * 1000 : 0;
}

/* Wait until the socket can be read (or written: out), or the deadline (0:
 * none) passes: false then. A socket error is left for libpq to report. */
static bool wait_socket(PGconn *h, bool out, usec_t deadline)
{
    int fd = PQsocket(h);
    if (fd < 0)
        return true;
    for (;;) {
        int ms = -1;
        if (deadline) {
            usec_t now = time_mono();
            if (now >= deadline)
                return false;
            usec_t left = (deadline - now + 999) / 1000;
            ms = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = (short)(POLLIN | (out ? POLLOUT : 0))};
        int n = poll(&p, 1, ms);
        if (n > 0 || (n < 0 && errno != EINTR))
            return true;
    }
}

/* The next result of what was sent on h, as PQgetResult gives it (NULL at
 * the end of a command's results), having sent what libpq still holds and
 * waited for the answer no later than the deadline: when it passes, NULL
 * and *late. A failed connection gives libpq's error result, or NULL when
 * the sending failed. */
static PGresult *next_result(PGconn *h, usec_t deadline, bool *late)
{
    *late = false;
    int f;
    while ((f = PQflush(h)) > 0) {
        if (!wait_socket(h, true, deadline)) {
            *late = true;
            return NULL;
        }
        if (!PQconsumeInput(h))
            break;
    }
    if (f < 0)
        return NULL; /* taken for the end of the results: no result is a failure */
    while (PQisBusy(h)) {
        if (!wait_socket(h, false, deadline)) {
            *late = true;
            return NULL;
        }
        if (!PQconsumeInput(h))
            break;
    }
    return PQgetResult(h);
}

/* PQexec's answer to what was just sent (sent: the send call's result):
 * every result read, the last one kept; NULL when it could not be sent, or
 * (with *late) when the deadline passed. */
static PGresult *collect(PGconn *h, int sent, usec_t deadline, bool *late)
{
    *late = false;
    if (!sent)
        return NULL;
    PGresult *last = NULL, *r;
    while ((r = next_result(h, deadline, late))) {
        PQclear(last);
        last = r;
        if (PQstatus(h) == CONNECTION_BAD)
            break;
    }
    if (*late) {
        PQclear(last);
        return NULL;
    }
    return last;
}

/* PQexec, waiting no later than the deadline. */
static PGresult *exec_until(PGconn *h, const char *sql, usec_t deadline, bool *late)
{
    return collect(h, PQsendQuery(h, sql), deadline, late);
}

/* Set a session's statement timeout (and the idle-in-transaction one). */
static bool session_timeout(PGconn *h, int ms)
{
    char set[128];
    snprintf(set, sizeof set,
             "SET statement_timeout = %d; SET idle_in_transaction_session_timeout = %d", ms,
             ms * 4);
    bool late;
    PGresult *r = exec_until(h, set, deadline_after(PG_CONNECT_TIMEOUT_S * 1000), &late);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

/* Connect with our defaults, which the URL may override: a connect
 * timeout, an application name, and TCP keepalives with a user timeout, so
 * that a connection to a host that vanished without a word (power loss, a
 * partition) fails in about half a minute instead of the system's two
 * hours: a request, the writer, the listener or the periodic-work lock
 * waiting on it. Then the session settings (*timeout_ms: the statement
 * timeout set, when not NULL). */
static PGconn *pg_connect(struct db *db, char *err, size_t errlen, int *timeout_ms)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", PG_CONNECT_TIMEOUT_S);
    const char *keys[] = {"connect_timeout",
                          "application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "dbname",
                          NULL};
    const char *vals[] = {timeout, "chatpay", "1", "10", "5", "3", "30000", db->target, NULL};
    PGconn *h = PQconnectdbParams(keys, vals, 1);
    if (!h || PQstatus(h) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
                 h ? PQerrorMessage(h) : "out of memory");
        /* one line */
        for (char *p = err; *p; p++)
            if (*p == '\n')
                *p = ' ';
        PQfinish(h);
        return NULL;
    }
    PQsetNoticeProcessor(h, on_notice, NULL);
    int ms = statement_timeout(db);
    bool late;
    PGresult *r = PQsetnonblocking(h, 1) == 0
                      ? exec_until(h, "SET client_min_messages = warning",
                                   deadline_after(PG_CONNECT_TIMEOUT_S * 1000), &late)
                      : NULL;
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK && session_timeout(h, ms);
    PQclear(r);
    if (timeout_ms)
        *timeout_ms = ms;
    if (!ok) {
        snprintf(err, errlen, "cannot configure the PostgreSQL session: %s",
                 *PQerrorMessage(h) ? PQerrorMessage(h) : "no answer in time");
        PQfinish(h);
        return NULL;
    }
    return h;
}

static void *conn_open(struct db *db, char *err, size_t errlen)
{
    int ms;
    PGconn *h = pg_connect(db, err, errlen, &ms);
    if (!h)
        return NULL;
    struct pg_conn *c = calloc(1, sizeof *c);
    if (!c) {
        PQfinish(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->h = h;
    c->timeout_ms = ms;
    return c;
}

static void stmt_clear(struct pg_stmt *st)
{
    PQclear(st->res);
    st->res = NULL;
    free(st->blob);
    st->blob = NULL;
    for (int i = 0; i < PG_MAX_PARAMS; i++) {
        free(st->vals[i]);
        st->vals[i] = NULL;
        st->lens[i] = 0;
        st->fmts[i] = 0;
    }
    st->row = -1;
    st->nrows = 0;
    st->changes = 0;
}

static void conn_close(void *p)
{
    struct pg_conn *c = p;
    if (!c)
        return;
    for (int i = 0; i < STMT__COUNT; i++) {
        stmt_clear(&c->stmts[i]);
        free(c->stmts[i].sql);
    }
    PQfinish(c->h);
    free(c);
}

/* The connection broke: nothing prepared on it survives. */
static void mark_broken(struct db_tx *tx)
{
    struct pg_conn *c = conn_of(tx);
    c->broken = true;
    tx->unavailable = true;
    for (int i = 0; i < STMT__COUNT; i++)
        c->stmts[i].prepared = false;
}

/* The server did not answer in time: what it does with what was sent is
 * unknown (a COMMIT may still take effect), and the connection is dropped
 * at the next begin. Answered like a lost connection: 503. */
static void stalled(struct db_tx *tx, const char *what)
{
    struct pg_conn *c = conn_of(tx);
    log_warn("database: %s: no answer from PostgreSQL within %d ms (the statement timeout and "
             "%d ms): the connection is given up",
             what, c->timeout_ms + PG_GRACE_MS, PG_GRACE_MS);
    mark_broken(tx);
    c->stalled = true;
}

/* How long a statement sent now may take to be answered (0: no limit). */
static usec_t tx_deadline(struct db_tx *tx)
{
    return tx->untimed ? 0 : deadline_after(conn_of(tx)->timeout_ms);
}

/* collect() for a statement of the transaction; a deadline passed breaks
 * the connection (stalled), and NULL comes back as for a lost one. */
static PGresult *tx_collect(struct db_tx *tx, int sent, const char *what)
{
    bool late;
    PGresult *r = collect(conn_of(tx)->h, sent, tx_deadline(tx), &late);
    if (late)
        stalled(tx, what);
    return r;
}

/* Reopen a broken connection; false (and tx->unavailable) when the server
 * still cannot be reached. */
static bool revive(struct db_tx *tx)
{
    struct pg_conn *c = conn_of(tx);
    if (!c->broken && !c->reopen && PQstatus(c->h) == CONNECTION_OK)
        return true;
    char err[512];
    int ms;
    PGconn *h = pg_connect(tx->db, err, sizeof err, &ms);
    if (!h) {
        log_warn("database: %s", err);
        mark_broken(tx);
        return false;
    }
    PQfinish(c->h);
    c->h = h;
    c->timeout_ms = ms;
    if (c->broken)
        log_info("database: connection to PostgreSQL restored");
    c->broken = c->stalled = c->reopen = false;
    for (int i = 0; i < STMT__COUNT; i++)
        c->stmts[i].prepared = false;
    return true;
}

/* Map a failed result to a status: transient for serialization failures,
 * deadlocks, lock timeouts and an unreachable server; unavailable (answered
 * at once, not retried) for the statement timeout and insufficient
 * resources; a fault otherwise. */
static enum db_status pg_error(struct db_tx *tx, PGresult *r, const char *what)
{
    struct pg_conn *c = conn_of(tx);
    if (c->broken) { /* given up already (stalled), and said so */
        tx->unavailable = true;
        return DB_SOFT_ERROR;
    }
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(c->h) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
        strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0) {
        log_warn("database: %s: connection lost: %s", what, PQerrorMessage(c->h));
        mark_broken(tx);
        return DB_SOFT_ERROR;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return DB_SOFT_ERROR;
    if (strcmp(state, "57014") == 0) {
        /* the statement timeout: the database is overloaded; do not pile on */
        log_warn("database: %s: statement timeout", what);
        tx->unavailable = true;
        return DB_SOFT_ERROR;
    }
    if (strncmp(state, "53", 2) == 0) {
        /* insufficient resources (disk full, out of memory, too many
         * connections): the database cannot take it now, which the client
         * is told (503) rather than that the request was at fault */
        log_error("database: %s: insufficient resources (%s): %s", what, state,
                  r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : "");
        tx->unavailable = true;
        return DB_SOFT_ERROR;
    }
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c->h);
    char line[512];
    snprintf(line, sizeof line, "%s", msg);
    for (char *p = line; *p; p++)
        if (*p == '\n')
            *p = ' ';
    log_error("postgresql %s: %s (%s)", what, line, state);
    return DB_HARD_ERROR;
}

static enum db_status savepoint_send(struct db_tx *tx);

/* Run a command with no parameters and no rows. */
static enum db_status simple(struct db_tx *tx, const char *sql)
{
    struct pg_conn *c = conn_of(tx);
    if (c->savepoint_due) {
        enum db_status s = savepoint_send(tx);
        if (s < 0)
            return s;
    }
    if (c->broken) {
        tx->unavailable = true;
        return DB_SOFT_ERROR;
    }
    PGresult *r = tx_collect(tx, PQsendQuery(c->h, sql), sql);
    enum db_status s = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK
                           ? DB_NO_RESULTS
                           : pg_error(tx, r, sql);
    PQclear(r);
    return s;
}

/* SQLite's parameters (`?`, `?N`) as PostgreSQL's (`$N`): a bare `?` takes
 * the number after the largest so far, as in SQLite. Quoted text is left. */
static char *convert_sql(const char *sql, int *nparams)
{
    size_t n = strlen(sql);
    char *out = malloc(n * 4 + 1);
    if (!out)
        return NULL;
    char *o = out;
    int max = 0;
    bool quoted = false;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        if (quoted || *p != '?') {
            *o++ = *p;
            continue;
        }
        int num;
        if (p[1] >= '0' && p[1] <= '9') {
            num = 0;
            while (p[1] >= '0' && p[1] <= '9' && num < 100000) /* stmt() refuses > 48 */
                num = num * 10 + (*++p - '0');
        } else {
            num = max + 1;
        }
        if (num > max)
            max = num;
        /* "?" becomes "$N": at most 4 bytes each way the buffer was sized
         * (n * 4 + 1), so this never truncates */
        int w = snprintf(o, (size_t)(out + n * 4 + 1 - o), "$%d", num);
        if (w < 0 || (size_t)w >= (size_t)(out + n * 4 + 1 - o)) {
            free(out);
            return NULL;
        }
        o += w;
    }
    *o = '\0';
    *nparams = max;
    return out;
}

static struct db_stmt *stmt(struct db_tx *tx, enum db_stmt_id id, const char *sql)
{
    struct pg_conn *c = conn_of(tx);
    struct pg_stmt *st = &c->stmts[id];
    stmt_clear(st);
    st->base.tx = tx;
    if (st->sql && STMT_IS_DYNAMIC(id)) {
        if (st->prepared && !c->broken) {
            /* when it fails (a failed transaction refuses it), the server
             * keeps the old statement under this name, and preparing the
             * new one would fail until the session ends: the connection is
             * opened again at the next begin */
            char dealloc[32];
            snprintf(dealloc, sizeof dealloc, "DEALLOCATE s%d", (int)id);
            PGresult *r = tx_collect(tx, PQsendQuery(c->h, dealloc), dealloc);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                c->reopen = true;
            PQclear(r);
        }
        free(st->sql);
        st->sql = NULL;
        st->prepared = false;
        memset(st->types, 0, sizeof st->types);
    }
    if (!st->sql) {
        st->sql = convert_sql(sql, &st->nparams);
        if (!st->sql)
            return NULL;
        if (st->nparams > PG_MAX_PARAMS) {
            log_error("postgresql: %d parameters in: %s", st->nparams, sql);
            free(st->sql);
            st->sql = NULL;
            return NULL;
        }
    }
    return &st->base;
}

static bool param_ok(struct pg_stmt *st, int i)
{
    if (i < 1 || i > st->nparams) {
        log_error("postgresql: parameter %d of %d in: %s", i, st->nparams, st->sql);
        return false;
    }
    free(st->vals[i - 1]);
    st->vals[i - 1] = NULL;
    return true;
}

static void bind_text(struct db_stmt *s, int i, const char *v)
{
    struct pg_stmt *st = ps(s);
    if (!param_ok(st, i))
        return;
    st->vals[i - 1] = strdup(v);
    st->lens[i - 1] = 0;
    st->fmts[i - 1] = 0;
    if (!st->prepared)
        st->types[i - 1] = OID_TEXT;
}

static void bind_int(struct db_stmt *s, int i, int64_t v)
{
    struct pg_stmt *st = ps(s);
    if (!param_ok(st, i))
        return;
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    st->vals[i - 1] = strdup(buf);
    st->fmts[i - 1] = 0;
    if (!st->prepared)
        st->types[i - 1] = OID_INT8;
}

static void bind_null(struct db_stmt *s, int i)
{
    struct pg_stmt *st = ps(s);
    if (param_ok(st, i) && !st->prepared && !st->types[i - 1])
        st->types[i - 1] = 0; /* the server infers it */
}

static void bind_blob(struct db_stmt *s, int i, const void *p, size_t n)
{
    struct pg_stmt *st = ps(s);
    if (!param_ok(st, i))
        return;
    st->vals[i - 1] = malloc(n ? n : 1);
    if (st->vals[i - 1] && n)
        memcpy(st->vals[i - 1], p, n);
    st->lens[i - 1] = (int)n;
    st->fmts[i - 1] = 1; /* binary */
    if (!st->prepared)
        st->types[i - 1] = OID_BYTEA;
}

/* Begin the request's savepoint (releasing the last one, when owed) and run
 * its first statement in one round trip: libpq's pipeline mode sends them
 * all, then one Sync, and reads their results in order. Once a command
 * fails, the server skips the rest (PGRES_PIPELINE_ABORTED). A failed
 * savepoint command leaves the group unsure of what its savepoint holds:
 * savepoint_bad makes the rollback that follows fail, so that the group is
 * run again without this request. On success st->res holds the
 * statement's result. */
static enum db_status execute_after_savepoint(struct db_tx *tx, struct pg_stmt *st,
                                              const char *name, const char *what)
{
    struct pg_conn *c = conn_of(tx);
    const char *cmds[2];
    int ncmds = 0;
    if (c->release_due)
        cmds[ncmds++] = "RELEASE SAVEPOINT batch_request";
    cmds[ncmds++] = "SAVEPOINT batch_request";
    c->release_due = c->savepoint_due = false;
    bool prepare = !st->prepared;
    bool sent = PQenterPipelineMode(c->h);
    for (int i = 0; sent && i < ncmds; i++)
        sent = PQsendQueryParams(c->h, cmds[i], 0, NULL, NULL, NULL, NULL, 0);
    if (sent && prepare)
        sent = PQsendPrepare(c->h, name, st->sql, st->nparams, (const Oid *)st->types);
    if (sent)
        sent = PQsendQueryPrepared(c->h, name, st->nparams, (const char *const *)st->vals, st->lens,
                                   st->fmts, 0);
    if (sent)
        sent = PQpipelineSync(c->h);
    if (!sent) {
        c->savepoint_bad = true;
        log_warn("database: %s: pipeline: %s", what, PQerrorMessage(c->h));
        mark_broken(tx); /* what was sent of it is unknown */
        return DB_SOFT_ERROR;
    }
    /* the commands' results, the statement's (after its PREPARE's), the Sync */
    int nq = ncmds + (prepare ? 1 : 0) + 1;
    enum db_status out = DB_NO_RESULTS;
    usec_t deadline = tx_deadline(tx);
    bool late = false;
    for (int i = 0; i <= nq && !c->broken; i++) {
        PGresult *r = next_result(c->h, deadline, &late);
        if (late) {
            stalled(tx, what);
            out = DB_SOFT_ERROR;
            break;
        }
        ExecStatusType t = PQresultStatus(r);
        if (i == nq) {
            if (t != PGRES_PIPELINE_SYNC) {
                enum db_status e = pg_error(tx, r, what);
                out = out < 0 ? out : e;
            }
            PQclear(r);
            break;
        }
        bool last = i == nq - 1;
        if (t == PGRES_PIPELINE_ABORTED) {
            PQclear(r);
        } else if (t == PGRES_COMMAND_OK || (last && t == PGRES_TUPLES_OK)) {
            if (last)
                st->res = r;
            else
                PQclear(r);
            if (prepare && i == ncmds)
                st->prepared = true;
        } else {
            enum db_status e = pg_error(tx, r, i < ncmds ? cmds[i] : what);
            out = out < 0 ? out : e;
            c->savepoint_bad |= i < ncmds;
            PQclear(r);
        }
        /* each command's results end with a NULL */
        PGresult *end = r && !c->broken ? next_result(c->h, deadline, &late) : NULL;
        if (late) {
            stalled(tx, what);
            out = DB_SOFT_ERROR;
            break;
        }
        if (end) {
            PQclear(end);
            log_warn("database: %s: pipeline: unexpected result", what);
            mark_broken(tx);
            out = DB_SOFT_ERROR;
        }
    }
    if (!c->broken && !PQexitPipelineMode(c->h)) {
        log_warn("database: %s: pipeline: %s", what, PQerrorMessage(c->h));
        mark_broken(tx);
        out = DB_SOFT_ERROR;
    }
    if (c->broken)
        c->savepoint_bad = true;
    if (out < 0) {
        PQclear(st->res);
        st->res = NULL;
    }
    return out;
}

static enum db_status execute(struct pg_stmt *st, const char *what)
{
    struct db_tx *tx = st->base.tx;
    struct pg_conn *c = conn_of(tx);
    if (c->broken) {
        tx->unavailable = true;
        return DB_SOFT_ERROR;
    }
    char name[16];
    snprintf(name, sizeof name, "s%d", (int)(st - c->stmts));
    if (c->savepoint_due) {
        enum db_status s = execute_after_savepoint(tx, st, name, what);
        if (s < 0)
            return s;
    } else if (!st->prepared) {
        PGresult *r = tx_collect(
            tx, PQsendPrepare(c->h, name, st->sql, st->nparams, (const Oid *)st->types), what);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            enum db_status s = pg_error(tx, r, what);
            PQclear(r);
            return s;
        }
        PQclear(r);
        st->prepared = true;
    }
    if (!st->res)
        st->res =
            tx_collect(tx,
                       PQsendQueryPrepared(c->h, name, st->nparams, (const char *const *)st->vals,
                                           st->lens, st->fmts, 0),
                       what);
    ExecStatusType t = PQresultStatus(st->res);
    if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK) {
        enum db_status s = pg_error(tx, st->res, what);
        PQclear(st->res);
        st->res = NULL;
        return s;
    }
    st->nrows = t == PGRES_TUPLES_OK ? PQntuples(st->res) : 0;
    st->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
    st->row = -1;
    return DB_NO_RESULTS;
}

static enum db_status step(struct db_stmt *s, const char *what)
{
    struct pg_stmt *st = ps(s);
    if (!st->res) {
        enum db_status e = execute(st, what);
        if (e < 0)
            return e;
    }
    free(st->blob);
    st->blob = NULL;
    if (st->row + 1 >= st->nrows) {
        st->row = st->nrows;
        return DB_NO_RESULTS;
    }
    st->row++;
    return DB_ONE_RESULT;
}

static void reset(struct db_stmt *s)
{
    struct pg_stmt *st = ps(s);
    PQclear(st->res);
    st->res = NULL;
    free(st->blob);
    st->blob = NULL;
}

static bool has_row(struct pg_stmt *st, int col)
{
    return st->res && st->row >= 0 && st->row < st->nrows && col < PQnfields(st->res);
}

static bool col_null(struct db_stmt *s, int col)
{
    struct pg_stmt *st = ps(s);
    return !has_row(st, col) || PQgetisnull(st->res, st->row, col);
}

static const char *col_text(struct db_stmt *s, int col)
{
    struct pg_stmt *st = ps(s);
    if (col_null(s, col))
        return NULL;
    return PQgetvalue(st->res, st->row, col);
}

static int64_t col_int(struct db_stmt *s, int col)
{
    const char *t = col_text(s, col);
    if (!t)
        return 0;
    if (t[0] == 't' && !t[1])
        return 1; /* a boolean expression */
    if (t[0] == 'f' && !t[1])
        return 0;
    return strtoll(t, NULL, 10);
}

static size_t col_blob(struct db_stmt *s, int col, const void **p)
{
    struct pg_stmt *st = ps(s);
    *p = NULL;
    const char *t = col_text(s, col);
    if (!t)
        return 0;
    free(st->blob);
    size_t n = 0;
    st->blob = PQunescapeBytea((const unsigned char *)t, &n);
    *p = st->blob;
    return st->blob ? n : 0;
}

static int64_t changes(struct db_stmt *s)
{
    return ps(s)->changes;
}

static enum db_col_type col_type(struct db_stmt *s, int col)
{
    struct pg_stmt *st = ps(s);
    if (col_null(s, col))
        return DB_COL_NULL;
    switch (PQftype(st->res, col)) {
    case 20: /* int8 */
    case 21: /* int2 */
    case 23: /* int4 */
        return DB_COL_INT;
    case OID_BYTEA:
        return DB_COL_BLOB;
    default:
        return DB_COL_TEXT;
    }
}

static int col_count(struct db_stmt *s)
{
    struct pg_stmt *st = ps(s);
    return st->res ? PQnfields(st->res) : 0;
}

static const char *col_name(struct db_stmt *s, int col)
{
    struct pg_stmt *st = ps(s);
    return st->res ? PQfname(st->res, col) : NULL;
}

/* --- transactions -------------------------------------------------------------- */

static enum db_status pg_begin(struct db_tx *tx, enum db_mode mode)
{
    /* a connection idle in the pool learns that the server restarted only
     * when it is used: BEGIN fails, and is tried once more on a new one (not
     * when the server did not answer: a new connection would wait too) */
    enum db_status st = DB_SOFT_ERROR;
    tx->untimed = false;
    for (int i = 0; i < 2; i++) {
        tx->unavailable = false;
        if (!revive(tx))
            return DB_SOFT_ERROR;
        conn_of(tx)->release_due = conn_of(tx)->savepoint_due = conn_of(tx)->savepoint_bad = false;
        /* a connection opened before db_configure changed the timeout */
        int ms = statement_timeout(tx->db);
        if (conn_of(tx)->timeout_ms != ms) {
            if (!session_timeout(conn_of(tx)->h, ms)) {
                st = pg_error(tx, NULL, "statement timeout");
                if (st == DB_SOFT_ERROR && conn_of(tx)->broken && !conn_of(tx)->stalled)
                    continue;
                return st;
            }
            conn_of(tx)->timeout_ms = ms;
        }
        st = simple(tx, mode == DB_WRITE ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                                         : "BEGIN ISOLATION LEVEL REPEATABLE READ");
        if (!(st == DB_SOFT_ERROR && conn_of(tx)->broken && !conn_of(tx)->stalled))
            break;
    }
    return st;
}

static enum db_status pg_commit(struct db_tx *tx)
{
    struct pg_conn *c = conn_of(tx);
    c->release_due = false; /* COMMIT releases it */
    c->savepoint_due = c->savepoint_bad = false;
    PGresult *r = c->broken ? NULL : tx_collect(tx, PQsendQuery(c->h, "COMMIT"), "commit");
    tx->untimed = false;
    enum db_status s;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        s = pg_error(tx, r, "commit");
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        s = DB_HARD_ERROR; /* the transaction had failed: it rolled back */
    else
        s = DB_NO_RESULTS;
    PQclear(r);
    return s;
}

static void pg_rollback(struct db_tx *tx)
{
    struct pg_conn *c = conn_of(tx);
    c->release_due = c->savepoint_due = c->savepoint_bad = false;
    for (int i = 0; i < STMT__COUNT; i++)
        reset(&c->stmts[i].base);
    if (!c->broken && PQtransactionStatus(c->h) != PQTRANS_IDLE)
        (void)simple(tx, "ROLLBACK");
    tx->untimed = false;
}

static enum db_status pg_config_changed(struct db_tx *tx)
{
    enum db_status s = simple(tx, "UPDATE config_version SET version = version + 1 WHERE id = 1");
    return s < 0 ? s : simple(tx, "NOTIFY chatpay_config");
}

static int pg_latest_schema(void)
{
    return pg_migrations[pg_migration_count - 1].version;
}

/* Apply each pending migration in its own transaction, holding an advisory
 * lock so that nodes starting together apply each exactly once. */
static enum db_status pg_migrate(struct db *db)
{
    struct db_tx *tx = db_tx_get(db);
    if (!tx)
        return DB_HARD_ERROR;
    enum db_status st = revive(tx) ? DB_NO_RESULTS : DB_HARD_ERROR;
    PGconn *h = conn_of(tx)->h;
    /* no statement timeout: waiting for another node's migrations, or an
     * index built on a large table, takes what it takes */
    if (st == DB_NO_RESULTS)
        st = simple(tx, "SET statement_timeout = 0");
    conn_of(tx)->timeout_ms = 0;
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%" PRId64 ")", PG_LOCK_MIGRATE);
    if (st == DB_NO_RESULTS)
        st = simple(tx, sql);
    bool locked = st == DB_NO_RESULTS;
    if (st == DB_NO_RESULTS)
        st = simple(tx, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
                        " applied_at BIGINT NOT NULL)");
    for (int i = 0; st == DB_NO_RESULTS && i < pg_migration_count; i++) {
        const struct pg_migration *m = &pg_migrations[i];
        char v[16], at[24];
        snprintf(v, sizeof v, "%d", m->version);
        snprintf(at, sizeof at, "%" PRId64, (int64_t)time_now());
        const char *p1[] = {v};
        PGresult *r = PQexecParams(h, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL,
                                   p1, NULL, NULL, 0);
        bool applied = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        if (applied)
            continue;
        if ((st = simple(tx, "BEGIN")) < 0)
            break;
        r = PQexec(h, m->sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            log_error("migration %d (%s) failed: %s", m->version, m->name, PQresultErrorMessage(r));
            PQclear(r);
            (void)simple(tx, "ROLLBACK");
            st = DB_HARD_ERROR;
            break;
        }
        PQclear(r);
        const char *p3[] = {v, m->name, at};
        r = PQexecParams(h,
                         "INSERT INTO schema_migrations (version, name, applied_at)"
                         " VALUES ($1, $2, $3)",
                         3, NULL, p3, NULL, NULL, 0);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok || simple(tx, "COMMIT") < 0) {
            log_error("migration %d: cannot record: %s", m->version, PQerrorMessage(h));
            (void)simple(tx, "ROLLBACK");
            st = DB_HARD_ERROR;
            break;
        }
        log_info("applied migration %d: %s", m->version, m->name);
    }
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%" PRId64 ")", PG_LOCK_MIGRATE);
    if (locked && !conn_of(tx)->broken)
        (void)simple(tx, sql);
    db_tx_put(tx); /* (its next transaction sets the statement timeout again) */
    return st < 0 ? DB_HARD_ERROR : DB_NO_RESULTS;
}

/* --- the configuration epoch -------------------------------------------------- */

/* The version row, or -1 when it cannot be read; a server that does not
 * answer within the statement timeout and a second has the connection
 * closed (*h NULL: the listener connects again). */
static int64_t read_version(struct db *db, PGconn **h)
{
    bool late;
    PGresult *r = exec_until(*h, "SELECT version FROM config_version WHERE id = 1",
                             deadline_after(statement_timeout(db)), &late);
    int64_t v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (late) {
        log_warn("database: the change listener's connection does not answer: opening another");
        PQfinish(*h);
        *h = NULL;
    }
    return v;
}

/* Listen for change notices; read the version row every second as well (a
 * notice sent while this connection was away is missed). Any change, and
 * every reconnection, advances this process's epoch. */
static void *listener(void *arg)
{
    struct db *db = arg;
    struct pg_state *ps_ = db->backend_state;
    PGconn *h = NULL;
    int64_t seen = -1;
    usec_t last_read = 0;
    while (!atomic_load(&ps_->stop)) {
        if (!h || PQstatus(h) != CONNECTION_OK) {
            PQfinish(h);
            char err[512];
            h = pg_connect(db, err, sizeof err, NULL);
            bool late;
            PGresult *r = h ? exec_until(h, "LISTEN chatpay_config",
                                         deadline_after(statement_timeout(db)), &late)
                            : NULL;
            bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) {
                PQfinish(h);
                h = NULL;
                for (int i = 0; i < 10 && !atomic_load(&ps_->stop); i++)
                    nanosleep(&(struct timespec){0, 100000000L}, NULL);
                continue;
            }
            atomic_fetch_add(&ps_->epoch, 1);
            seen = read_version(db, &h);
            last_read = time_mono();
            if (!h)
                continue;
        }
        struct pollfd pfd[2] = {{.fd = PQsocket(h), .events = POLLIN},
                                {.fd = ps_->wake[0], .events = POLLIN}};
        int n = poll(pfd, 2, 200);
        bool changed = false;
        if (n > 0 && (pfd[1].revents & POLLIN))
            break; /* closing */
        if (n > 0) {
            if (!PQconsumeInput(h))
                continue; /* reconnect above */
            PGnotify *nt;
            while ((nt = PQnotifies(h))) {
                changed = true;
                PQfreemem(nt);
            }
        }
        usec_t now = time_mono(); /* a step of the wall clock does not stop it */
        if (changed || now - last_read >= 1000000) {
            int64_t v = read_version(db, &h);
            last_read = now;
            if (v != seen || changed) {
                seen = v;
                atomic_fetch_add(&ps_->epoch, 1);
            }
        }
    }
    PQfinish(h);
    return NULL;
}

static bool epoch_open(struct db *db, char *err, size_t errlen)
{
    struct pg_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
        free(s);
        return false;
    }
    pthread_mutex_init(&s->leader_lock, NULL);
    db->backend_state = s;
    db->epoch = &s->epoch;
    s->listening = pthread_create(&s->listener, NULL, listener, db) == 0;
    if (!s->listening) {
        snprintf(err, errlen, "cannot start the change listener");
        pthread_mutex_destroy(&s->leader_lock);
        close(s->wake[0]);
        close(s->wake[1]);
        free(s);
        db->backend_state = NULL;
        return false;
    }
    return true;
}

static void epoch_close(struct db *db)
{
    struct pg_state *s = db->backend_state;
    if (!s)
        return;
    atomic_store(&s->stop, true);
    if (write(s->wake[1], "x", 1) < 0) {
        /* full or closed: the listener sees stop within its 200 ms wait */
    }
    if (s->listening)
        pthread_join(s->listener, NULL);
    close(s->wake[0]);
    close(s->wake[1]);
    PQfinish(s->leader);
    pthread_mutex_destroy(&s->leader_lock);
    free(s);
    db->backend_state = NULL;
}

/* --- periodic work: one process at a time --------------------------------------- */

/* A session-level advisory lock on a connection of its own: held while that
 * connection lives, released by the server when the process dies or the
 * connection breaks, and then taken by the next process that asks. The
 * connection is checked at most once a second. */
static bool pg_leader(struct db *db)
{
    struct pg_state *s = db->backend_state;
    if (!s)
        return false;
    pthread_mutex_lock(&s->leader_lock);
    /* monotonic: a wall clock stepped back must not keep a lost lock
     * unchecked */
    usec_t now = time_mono();
    if (s->leader_held && now - s->leader_checked < 1000000) {
        pthread_mutex_unlock(&s->leader_lock);
        return true;
    }
    s->leader_checked = now;
    if (s->leader && PQstatus(s->leader) != CONNECTION_OK) {
        PQfinish(s->leader);
        s->leader = NULL;
        s->leader_held = false;
    }
    if (!s->leader) {
        char err[512];
        s->leader = pg_connect(db, err, sizeof err, NULL);
    }
    if (s->leader) {
        char sql[96];
        if (s->leader_held)
            snprintf(sql, sizeof sql, "SELECT 1");
        else
            snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%" PRId64 ")", PG_LOCK_PERIODIC);
        bool late;
        PGresult *r = exec_until(s->leader, sql, deadline_after(statement_timeout(db)), &late);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            if (late)
                log_warn("database: the periodic-work lock's connection does not answer: "
                         "letting the lock go");
            s->leader_held = false;
            PQfinish(s->leader);
            s->leader = NULL;
        } else if (!s->leader_held) {
            s->leader_held = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
            if (s->leader_held)
                log_info("database: this process now runs the periodic work");
        }
        PQclear(r);
    }
    bool held = s->leader_held;
    pthread_mutex_unlock(&s->leader_lock);
    return held;
}

/* Send the request's savepoint on its own: before a command that is not a
 * prepared statement (simple). */
static enum db_status savepoint_send(struct db_tx *tx)
{
    struct pg_conn *c = conn_of(tx);
    bool due = c->release_due;
    c->release_due = c->savepoint_due = false;
    enum db_status s = simple(tx, due ? "RELEASE SAVEPOINT batch_request; SAVEPOINT batch_request"
                                      : "SAVEPOINT batch_request");
    if (s < 0)
        c->savepoint_bad = true;
    return s;
}

/* Group commit (db/batch.c): each request of a group runs in this savepoint;
 * a failed statement (a serialization failure among them) is undone with it
 * and the transaction goes on. A round trip costs more than the statement
 * here, so neither is sent on its own. The SAVEPOINT goes with the
 * request's first statement (execute_after_savepoint), or not at all when
 * the request runs none. A request's release goes with the next request's
 * SAVEPOINT, and COMMIT (or ROLLBACK) makes it unneeded. It is owed only
 * while the transaction is sound, where a RELEASE cannot fail; in a failed
 * transaction it is sent at once, so that its error is its own request's. */
static enum db_status pg_savepoint(struct db_tx *tx, enum db_savepoint op)
{
    struct pg_conn *c = conn_of(tx);
    if (c->broken || PQtransactionStatus(c->h) == PQTRANS_IDLE)
        return DB_HARD_ERROR;
    switch (op) {
    case DB_SAVEPOINT_BEGIN:
        c->savepoint_due = true;
        return DB_NO_RESULTS;
    case DB_SAVEPOINT_RELEASE:
        if (c->savepoint_due) { /* no statement ran in it: nothing to release */
            c->savepoint_due = false;
            return DB_NO_RESULTS;
        }
        if (PQtransactionStatus(c->h) == PQTRANS_INTRANS) {
            c->release_due = true;
            return DB_NO_RESULTS;
        }
        return simple(tx, "RELEASE SAVEPOINT batch_request");
    case DB_SAVEPOINT_ROLLBACK:
        for (int i = 0; i < STMT__COUNT; i++)
            reset(&c->stmts[i].base);
        if (c->savepoint_bad)
            return DB_HARD_ERROR;
        if (c->savepoint_due) { /* no statement ran in it: nothing to undo */
            c->savepoint_due = false;
            return DB_NO_RESULTS;
        }
        return simple(tx, "ROLLBACK TO SAVEPOINT batch_request; RELEASE SAVEPOINT batch_request");
    }
    return DB_HARD_ERROR;
}

const struct db_backend db_pg_backend = {
    .name = "postgresql",
    .pg_dialect = true,
    .conn_open = conn_open,
    .conn_close = conn_close,
    .epoch_open = epoch_open,
    .epoch_close = epoch_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .config_changed = pg_config_changed,
    .leader = pg_leader,
    .migrate = pg_migrate,
    .latest_schema = pg_latest_schema,
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
    .col_type = col_type,
    .col_count = col_count,
    .col_name = col_name,
    .pooled = true,
    .batch_writes = true, /* this process's writers share transactions and commits */
    .savepoint = pg_savepoint,
};
