/*
 * admin.c — whole-database work for operators (db/db.h): checking a database
 * and copying one into another, on either backend, through the statements of
 * db/sql/stmt.h.
 */
#include "db/db_internal.h"
#include "db/jobs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"
#include "util/log.h"
#include "util/utf8.h"

/* The tables of a deployment, parents before children (the order of the
 * migrations). schema_migrations and config_version belong to each
 * database and are not copied. `id` says the table's rows are numbered by
 * an integer id the database hands out. */
static const struct {
    const char *name;
    bool id;
} tables[] = {
    {"merchants", false},          {"merchant_currencies", false},
    {"api_keys", false},           {"integrators", false},
    {"gateway_settings", false},   {"links", true},
    {"link_statuses", true},       {"jobs", true},
    {"sandbox_messages", true},    {"idempotency_keys", false},
    {"sandbox_gateway", false},    {"callbacks", true},
    {"callback_attempts", true},   {"providers", false},
    {"provider_messages", true},   {"optouts", false},
    {"payment_ops", true},         {"gateway_notices", false},
    {"mp_clients", false},         {"mp_tokens", false},
    {"mp_products", false},        {"mp_purchases", true},
    {"mp_mno_prefixes", false},    {"wa_numbers", false},
    {"wa_payment_configs", false}, {"wa_orders", true},
    {"wa_transactions", true},     {"wa_refunds", true},
};
enum { TABLES = sizeof tables / sizeof tables[0] };

/* the checks below name the marketplace's job kinds by number */
_Static_assert(JOB_MP_FULFIL == 11 && JOB_MP_RESULT == 12 && JOB_WA_SEND_ORDER == 13 &&
                   JOB_WA_REFUND == 14,
               "marketplace and WhatsApp Pay job kinds");

/* PostgreSQL: a whole table read, checked or written takes what it takes on
 * a large database, and the source waits while the target is written: this
 * transaction runs without the session's statement timeout and
 * idle-in-transaction timeout (SET LOCAL: both come back at its end), and
 * without the backend's wait for an answer that they bound.
 * Neither takes a snapshot, so that a lock taken next comes before it. */
static enum db_status untimed(struct db_tx *tx)
{
    static const char *const set[] = {"SET LOCAL statement_timeout = 0",
                                      "SET LOCAL idle_in_transaction_session_timeout = 0"};
    if (!tx->db->backend->pg_dialect)
        return DB_NO_RESULTS;
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
        enum db_status s = db_exec(db_stmt(tx, STMT_DYNAMIC_3, set[i]), "timeouts");
        if (s < 0)
            return s;
    }
    tx->untimed = true; /* nor does the backend give up waiting on the server */
    return DB_NO_RESULTS;
}

/* ---- schema ----------------------------------------------------------------- */

/* What to do about a schema at version `current` when this binary's is
 * `latest`: false with it in err; true when they are the same. */
static bool schema_same(int current, int latest, char *err, size_t errlen)
{
    if (current < latest)
        snprintf(err, errlen,
                 "its schema is at version %d, this chatpay's at %d: run `chatpay migrate` on it"
                 " first",
                 current, latest);
    else if (current > latest)
        snprintf(err, errlen,
                 "its schema is at version %d, newer than this chatpay's (%d): use the chatpay"
                 " that migrated it, or a newer one",
                 current, latest);
    return current == latest;
}

struct schema_ctx {
    int64_t tables;
    int current, latest;
};

static enum db_status schema_cb(struct db_tx *tx, void *cls)
{
    struct schema_ctx *c = cls;
    enum db_status s = db_one_int(
        db_stmt_dialect(tx, STMT_DYNAMIC_1,
                        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
                        " AND name = 'schema_migrations'",
                        "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"
                        " AND tablename = 'schema_migrations'"),
        &c->tables, "schema");
    if (s < 0 || c->tables == 0)
        return s;
    return db_schema_version(tx, &c->current, &c->latest);
}

bool db_schema_check(struct db *db, bool exact, char *err, size_t errlen)
{
    struct schema_ctx c = {0};
    if (db_run(db, DB_READ, "db_schema_check", schema_cb, &c) < 0) {
        snprintf(err, errlen, "it cannot be read (see the log above)");
        return false;
    }
    if (c.tables == 0 || c.current == 0) {
        snprintf(err, errlen,
                 "there is no chatpay schema in it: not a chatpay database (`chatpay migrate`"
                 " makes one)");
        return false;
    }
    return !exact || schema_same(c.current, c.latest, err, errlen);
}

/* ---- check ------------------------------------------------------------------ */

/* A check: a query counting the rows that break it (pg: PostgreSQL's text,
 * when it needs another), or (listing) one row per finding, "ok" when
 * there is none. */
struct check {
    const char *name, *sql, *pg;
    bool listing;
};

/* The engine's own checks: SQLite's integrity and foreign key checks;
 * PostgreSQL checks its structures itself, so: no constraint left
 * unvalidated and no index left invalid (by a failed concurrent build). */
static const struct check engine_sqlite[] = {
    {"SQLite integrity check", "PRAGMA integrity_check", NULL, true},
    {"SQLite foreign key check", "SELECT COUNT(*) FROM pragma_foreign_key_check", NULL, false},
};
static const struct check engine_pg[] = {
    {"no constraint left unvalidated",
     "SELECT COUNT(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
     " WHERE NOT c.convalidated AND n.nspname = current_schema()",
     NULL, false},
    {"no index left invalid",
     "SELECT COUNT(*) FROM pg_index i JOIN pg_class r ON r.oid = i.indrelid"
     " JOIN pg_namespace n ON n.oid = r.relnamespace"
     " WHERE NOT i.indisvalid AND n.nspname = current_schema()",
     NULL, false},
};

/* chatpay's invariants. */
static const struct check invariants[] = {
    {.name = "every payment operation belongs to a link of its merchant",
     .sql = "SELECT COUNT(*) FROM payment_ops p WHERE NOT EXISTS (SELECT 1 FROM links l"
            " WHERE l.id = p.link_id AND l.merchant_id = p.merchant_id)"},
    {.name = "every capture, reversal, void and refund follows a payment of the same link",
     .sql = "SELECT COUNT(*) FROM payment_ops p WHERE p.op >= 3 AND NOT EXISTS (SELECT 1 FROM"
            " payment_ops q WHERE q.ref = p.parent_ref AND q.link_id = p.link_id"
            /* a capture is voided (before it settled) or refunded too */
            " AND (q.op IN (1, 2) OR (p.op IN (5, 6) AND q.op = 3)))"},
    {.name = "no capture is larger than its authorization",
     .sql = "SELECT COUNT(*) FROM payment_ops c JOIN payment_ops a ON a.ref = c.parent_ref"
            " WHERE c.op = 3 AND c.amount_minor > a.amount_minor"},
    {.name = "refunds (pending or done) add up to no more than what was paid",
     .sql = "SELECT COUNT(*) FROM (SELECT p.ref, p.amount_minor AS paid,"
            " SUM(r.amount_minor) AS refunded FROM payment_ops p JOIN payment_ops r"
            " ON r.parent_ref = p.ref AND r.op = 6"
            " AND (r.state = 0 OR r.decision = 1) GROUP BY p.ref, p.amount_minor) t"
            " WHERE refunded > paid"},
    /* a sum past int64: SQLite goes on in floating point, PostgreSQL's
     * bigint would fail the query; numeric does not */
    {.name = "a link's subtotal and tax add up to its total",
     .sql = "SELECT COUNT(*) FROM links WHERE subtotal_minor IS NOT NULL AND tax_minor IS NOT NULL"
            " AND subtotal_minor + tax_minor <> total_minor",
     .pg = "SELECT COUNT(*) FROM links WHERE subtotal_minor IS NOT NULL AND tax_minor IS NOT NULL"
           " AND subtotal_minor::numeric + tax_minor <> total_minor"},
    {.name = "every job is for a link of its merchant",
     .sql = "SELECT COUNT(*) FROM jobs j WHERE j.kind NOT IN (7, 11, 12, 13, 14) AND NOT EXISTS"
            " (SELECT 1 FROM links l WHERE l.id = j.link_id AND l.merchant_id = j.merchant_id)"},
    /* a callback's job: of a link (its own, then) or not (settings, WhatsApp
     * Pay). Only a delivery still to be made needs its callback: a finished
     * callback is purged after CALLBACKS_KEEP while its finished job may
     * stay (the newest job is always kept) */
    {.name = "every callback delivery is for a callback of its merchant",
     .sql = "SELECT COUNT(*) FROM jobs j WHERE j.kind = 7 AND j.done_at = 0 AND NOT EXISTS"
            " (SELECT 1 FROM callbacks c WHERE c.id = j.arg AND c.merchant_id = j.merchant_id"
            " AND c.link_id = j.link_id)"},
    {.name = "every marketplace job is for a purchase of its client",
     .sql = "SELECT COUNT(*) FROM jobs j WHERE j.kind IN (11, 12) AND NOT EXISTS (SELECT 1 FROM"
            " mp_purchases p WHERE p.id = j.arg AND p.client_uuid = j.merchant_id)"},
    {.name = "every WhatsApp Pay job is for an order or refund of its merchant",
     .sql =
         "SELECT COUNT(*) FROM jobs j WHERE (j.kind = 13 AND NOT EXISTS (SELECT 1 FROM wa_orders o"
         " WHERE o.id = j.arg AND o.merchant_id = j.merchant_id)) OR (j.kind = 14 AND NOT EXISTS"
         " (SELECT 1 FROM wa_refunds r WHERE r.id = j.arg AND r.merchant_id = j.merchant_id))"},
    {.name = "a WhatsApp Pay payment's refunds add up to no more than it",
     .sql =
         "SELECT COUNT(*) FROM (SELECT r.transaction_id, SUM(r.amount) AS refunded, o.total_value"
         " FROM wa_refunds r JOIN wa_orders o ON o.id = r.order_id WHERE r.status <> 2"
         " GROUP BY r.transaction_id, o.total_value) t WHERE refunded > total_value"},
    {.name = "every finished purchase has a result code",
     .sql = "SELECT COUNT(*) FROM mp_purchases WHERE status <> 0 AND (result_code IS NULL"
            " OR completed_at = 0)"},
    {.name = "every link's history belongs to an existing link",
     .sql = "SELECT COUNT(*) FROM link_statuses s WHERE NOT EXISTS (SELECT 1 FROM links l"
            " WHERE l.id = s.link_id)"},
    {.name = "every callback is for a link of its merchant",
     .sql = "SELECT COUNT(*) FROM callbacks c WHERE c.link_id <> 0 AND NOT EXISTS"
            " (SELECT 1 FROM links l WHERE l.id = c.link_id AND l.merchant_id = c.merchant_id)"},
    {.name = "every integrator's callback is for an integrator of its merchant",
     .sql = "SELECT COUNT(*) FROM callbacks c WHERE c.application_id IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM integrators i WHERE i.id = c.application_id"
            " AND i.merchant_id = c.merchant_id)"},
};

/* One check, run in a transaction of its own: a query that fails (a
 * damaged table, a sum out of range) fails its check alone, where on
 * PostgreSQL it would abort a transaction shared with those after it. */
struct check_run {
    const struct check *c;
    int64_t bad;
    char detail[256];
};

static enum db_status check_cb(struct db_tx *tx, void *cls)
{
    struct check_run *r = cls;
    r->bad = 0;
    r->detail[0] = '\0';
    enum db_status s = untimed(tx);
    if (s < 0)
        return s;
    const char *what = r->c->name;
    struct db_stmt *st =
        db_stmt_dialect(tx, STMT_DYNAMIC_1, r->c->sql, r->c->pg ? r->c->pg : r->c->sql);
    if (!r->c->listing)
        return db_one_int(st, &r->bad, what);
    if (!st)
        return DB_HARD_ERROR;
    while ((s = db_step(st, what)) == DB_ONE_RESULT) {
        const char *t = db_col_text(st, 0);
        if (t && strcmp(t, "ok") != 0) {
            if (!r->bad)
                snprintf(r->detail, sizeof r->detail, "%s", t);
            r->bad++;
        }
    }
    db_reset(st);
    return s;
}

int db_check(struct db *db, db_check_cb cb, void *cls)
{
    bool pg = db->backend->pg_dialect;
    const struct check *engine = pg ? engine_pg : engine_sqlite;
    enum { ENGINE = sizeof engine_pg / sizeof engine_pg[0] };
    _Static_assert(ENGINE == sizeof engine_sqlite / sizeof engine_sqlite[0], "engine checks");
    int failed = 0;
    for (size_t i = 0; i < ENGINE + sizeof invariants / sizeof invariants[0]; i++) {
        struct check_run r = {.c = i < ENGINE ? &engine[i] : &invariants[i - ENGINE]};
        enum db_status s = db_run(db, DB_READ, "db_check", check_cb, &r);
        if (s == DB_SOFT_ERROR)
            return -1; /* busy past every retry, or the server went away */
        if (s < 0) {
            /* what damage keeps from being read is a failed check, not
             * the end of them all */
            if (!r.bad)
                snprintf(r.detail, sizeof r.detail, "%s",
                         r.c->listing ? "it could not read the whole database (see the log)"
                                      : "it could not be run (see the log)");
            r.bad++;
        }
        cb(cls, r.c->name, r.bad, r.detail);
        failed += r.bad > 0;
    }
    return failed;
}

/* ---- copy ------------------------------------------------------------------ */

/* A checksum of a table that does not depend on the order of its rows: the
 * SHA-256 of each row (every value with its type), added up as four 64-bit
 * lanes. */
struct table_sum {
    int64_t rows;
    uint64_t lane[4];
};

/* A growing buffer for one row's bytes. */
struct rowbuf {
    uint8_t *p;
    size_t n, cap;
    bool failed;
};

static void put(struct rowbuf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* A text value's bytes, all of them: SQLite's text may hold a NUL byte,
 * which a C string would end at (PostgreSQL's text cannot). */
static size_t text_of(struct db_stmt *st, int col, const void **p)
{
    if (st->tx->db->backend->pg_dialect) {
        *p = db_col_text(st, col);
        return strlen(*p);
    }
    (void)db_col_text(st, col);
    return db_col_blob(st, col, p); /* the same bytes, with their length */
}

static bool sum_row(struct db_stmt *st, int ncols, struct table_sum *sum, struct rowbuf *b)
{
    b->n = 0;
    for (int i = 0; i < ncols; i++) {
        enum db_col_type t = db_col_type(st, i);
        uint8_t tag = (uint8_t)t;
        put(b, &tag, 1);
        const void *p = NULL;
        size_t n = 0;
        char num[24];
        if (t == DB_COL_INT) {
            n = (size_t)snprintf(num, sizeof num, "%" PRId64, db_col_int(st, i));
            p = num;
        } else if (t == DB_COL_BLOB) {
            n = db_col_blob(st, i, &p);
        } else if (t == DB_COL_TEXT) {
            n = text_of(st, i, &p);
        }
        uint64_t len = n;
        put(b, &len, sizeof len);
        put(b, p, n);
    }
    if (b->failed)
        return false;
    uint8_t d[32];
    crypto_sha256(b->p, b->n, d);
    for (int l = 0; l < 4; l++) {
        uint64_t v;
        memcpy(&v, d + 8 * l, 8);
        sum->lane[l] += v;
    }
    sum->rows++;
    return true;
}

/* Read a whole table in the column order of `cols` ("a, b, c"), summing it;
 * when `into` is set, insert each row there too. */
struct copy_ctx {
    struct db *from;
    db_copy_cb cb;
    void *cls;
    struct db_tx *src; /* the source's transaction while the target's runs */
    char *err;
    size_t errlen;
    bool done;
};

/* On PostgreSQL a table is read through a cursor, FETCH_ROWS at a time: a
 * statement's whole result would be held in this process's memory. */
enum { FETCH_ROWS = 1000 };

/* A text value the target would not hold as it is: one with a NUL byte
 * (bound as a C string, it would end there; PostgreSQL's text cannot
 * hold one) or, into PostgreSQL, one that is not UTF-8. false, saying
 * which table, column and row (by its first column) in err. */
static bool text_copyable(struct db_stmt *st, int col, bool into_pg, const char *table, char *err,
                          size_t errlen)
{
    const void *p;
    size_t n = text_of(st, col, &p);
    const char *why = NULL;
    if (n && memchr(p, '\0', n))
        why = "a NUL byte";
    else if (into_pg && !utf8_valid(p ? p : ""))
        why = "bytes that are not UTF-8 (PostgreSQL's text must be)";
    if (!why)
        return true;
    char row[128];
    if (db_col_type(st, 0) == DB_COL_INT)
        snprintf(row, sizeof row, "%" PRId64, db_col_int(st, 0));
    else if (db_col_type(st, 0) == DB_COL_TEXT)
        snprintf(row, sizeof row, "'%s'", db_col_text(st, 0));
    else
        snprintf(row, sizeof row, "(not text or a number)");
    snprintf(err, errlen,
             "table %s, column %s of the row whose %s is %s: its text holds %s, which the copy"
             " would not keep; correct it in the source, then copy again",
             table, db_col_name(st, col), db_col_name(st, 0), row, why);
    return false;
}

static enum db_status table_pass(struct db_tx *src, struct db_tx *dst, const char *table,
                                 const char *cols, int ncols, struct table_sum *sum, char *err,
                                 size_t errlen)
{
    bool cursor = src->db->backend->pg_dialect;
    char sql[4096];
    snprintf(sql, sizeof sql, "%sSELECT %s FROM %s",
             cursor ? "DECLARE admin_rows NO SCROLL CURSOR FOR " : "", cols, table);
    struct db_stmt *st = db_stmt(src, STMT_DYNAMIC_1, sql);
    if (cursor) {
        enum db_status s = db_exec(st, table);
        if (s < 0)
            return s;
        snprintf(sql, sizeof sql, "FETCH FORWARD %d FROM admin_rows", FETCH_ROWS);
        st = db_stmt(src, STMT_DYNAMIC_1, sql);
    }
    struct db_stmt *ins = NULL;
    if (dst) {
        char q[2048], *p = q;
        for (int i = 0; i < ncols; i++)
            p += snprintf(p, sizeof q - (size_t)(p - q), "%s?", i ? ", " : "");
        char isql[8192];
        snprintf(isql, sizeof isql, "INSERT INTO %s (%s) VALUES (%s)", table, cols, q);
        ins = db_stmt(dst, STMT_DYNAMIC_2, isql);
        if (!ins)
            return DB_HARD_ERROR;
    }
    if (!st)
        return DB_HARD_ERROR;
    memset(sum, 0, sizeof *sum);
    struct rowbuf buf = {0};
    enum db_status s;
    int fetched = 0; /* rows of this FETCH */
    for (;;) {
        s = db_step(st, table);
        if (s == DB_NO_RESULTS && cursor && fetched == FETCH_ROWS) {
            db_reset(st); /* stepped again, it runs again: the next rows */
            fetched = 0;
            continue;
        }
        if (s != DB_ONE_RESULT)
            break;
        fetched++;
        if (!sum_row(st, ncols, sum, &buf)) {
            s = DB_HARD_ERROR;
            break;
        }
        if (!ins)
            continue;
        /* every parameter is bound again for each row */
        for (int i = 0; i < ncols; i++) {
            switch (db_col_type(st, i)) {
            case DB_COL_NULL:
                db_bind_null(ins, i + 1);
                break;
            case DB_COL_INT:
                db_bind_int(ins, i + 1, db_col_int(st, i));
                break;
            case DB_COL_BLOB: {
                const void *p = NULL;
                size_t n = db_col_blob(st, i, &p);
                db_bind_blob(ins, i + 1, p, n);
                break;
            }
            case DB_COL_TEXT:
                if (s != DB_ROLLBACK &&
                    !text_copyable(st, i, dst->db->backend->pg_dialect, table, err, errlen))
                    s = DB_ROLLBACK;
                db_bind_text(ins, i + 1, db_col_text(st, i));
                break;
            }
        }
        if (s == DB_ROLLBACK)
            break;
        enum db_status is = db_exec(ins, table);
        if (is != DB_ONE_RESULT) {
            s = is < 0 ? is : DB_HARD_ERROR;
            break;
        }
    }
    free(buf.p);
    db_reset(st);
    if (s >= 0 && cursor)
        s = db_exec(db_stmt(src, STMT_DYNAMIC_1, "CLOSE admin_rows"), table);
    return s < 0 ? s : DB_NO_RESULTS;
}

/* The columns of a table as the source has them, in order. */
static enum db_status columns_of(struct db_tx *tx, const char *table, char *out, size_t cap, int *n)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE 1 = 0", table);
    struct db_stmt *st = db_stmt(tx, STMT_DYNAMIC_3, sql);
    if (!st)
        return DB_HARD_ERROR;
    enum db_status s = db_step(st, table);
    if (s < 0)
        return s;
    *n = db_col_count(st);
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < *n; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", db_col_name(st, i));
        if (w < 0 || (size_t)w >= cap - used) {
            db_reset(st);
            return DB_HARD_ERROR;
        }
        used += (size_t)w;
    }
    db_reset(st);
    return DB_NO_RESULTS;
}

/* What a database copied into holds, read before anything is written to
 * it (db_copy_target_check). */
struct target_probe {
    int64_t has_versions; /* is there a schema_migrations table? */
    int current, latest;
    char *err;
    size_t errlen;
    bool refused, has_schema;
};

/* The target of a copy must not hold a deployment: say why it is refused,
 * and that nothing was written to it. */
#define UNTOUCHED "; nothing was changed in it: copy only into a new, empty database"

static enum db_status target_probe_cb(struct db_tx *tx, void *cls)
{
    struct target_probe *p = cls;
    p->refused = p->has_schema = false;
    p->current = 0;
    enum db_status s = untimed(tx);
    if (s < 0)
        return s;
    static const char exists_sqlite[] =
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?";
    static const char exists_pg[] =
        "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?";
    struct db_stmt *st = db_stmt_dialect(tx, STMT_DYNAMIC_1, exists_sqlite, exists_pg);
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, "schema_migrations");
    if ((s = db_one_int(st, &p->has_versions, "target schema")) < 0)
        return s;
    p->latest = tx->db->backend->latest_schema();
    if (p->has_versions && (s = db_schema_version(tx, &p->current, &p->latest)) < 0)
        return s;
    if (p->current == 0) {
        /* no chatpay schema: no table at all either (chatpay's, left by a
         * failed start, or another application's: a database named by
         * mistake), or it is not one the migrations may be run on */
        static const char tables_sqlite[] = "SELECT COUNT(*) FROM sqlite_master WHERE type = "
                                            "'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
        static const char tables_pg[] =
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()";
        int64_t n = 0;
        st = db_stmt_dialect(tx, STMT_DYNAMIC_1, tables_sqlite, tables_pg);
        if (!st)
            return DB_HARD_ERROR;
        if ((s = db_one_int(st, &n, "target tables")) < 0)
            return s;
        if (n > 0) {
            snprintf(p->err, p->errlen,
                     "the target database has %" PRId64
                     " table(s) but no chatpay schema version" UNTOUCHED,
                     n);
            p->refused = true;
        }
        return DB_NO_RESULTS;
    }
    if (p->current != p->latest) {
        snprintf(p->err, p->errlen,
                 "the target database's schema is at version %d, %s this chatpay's (%d)" UNTOUCHED,
                 p->current, p->current < p->latest ? "behind" : "newer than", p->latest);
        p->refused = true;
        return DB_NO_RESULTS;
    }
    p->has_schema = true;
    for (int i = 0; i < TABLES; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", tables[i].name);
        int64_t n = 0;
        if ((s = db_one_int(db_stmt(tx, STMT_DYNAMIC_1, sql), &n, "target count")) < 0)
            return s;
        if (n > 0) {
            snprintf(p->err, p->errlen,
                     "the target database is not empty (table %s has %" PRId64 " rows)" UNTOUCHED,
                     tables[i].name, n);
            p->refused = true;
            return DB_NO_RESULTS;
        }
    }
    return DB_NO_RESULTS;
}

int db_copy_target_check(struct db *to, char *err, size_t errlen)
{
    struct target_probe p = {.err = err, .errlen = errlen};
    err[0] = '\0';
    if (db_run(to, DB_READ, "db_copy_target_check", target_probe_cb, &p) < 0) {
        snprintf(err, errlen, "the target database cannot be read (see the log above)" UNTOUCHED);
        return -1;
    }
    if (p.refused)
        return -1;
    return p.has_schema ? 1 : 0;
}

static enum db_status copy_target_cb(struct db_tx *dst, void *cls)
{
    struct copy_ctx *c = cls;
    struct db_tx *src = c->src;
    c->done = false; /* (tried again: not until this attempt is through) */
    enum db_status us = untimed(dst);
    if (us < 0)
        return us;
    /* the target must be at this binary's schema (db_copy_target_check
     * said so before it was migrated; this holds it in the transaction) */
    int current = 0, latest = 0;
    if ((us = db_schema_version(dst, &current, &latest)) < 0)
        return us;
    char why[256];
    if (!schema_same(current, latest, why, sizeof why)) {
        snprintf(c->err, c->errlen, "the target database: %s", why);
        return DB_ROLLBACK;
    }
    /* the target must be empty */
    for (int i = 0; i < TABLES; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", tables[i].name);
        int64_t n = 0;
        enum db_status s = db_one_int(db_stmt(dst, STMT_DYNAMIC_1, sql), &n, "target count");
        if (s < 0)
            return s;
        if (n > 0) {
            snprintf(c->err, c->errlen,
                     "the target database is not empty (table %s has %" PRId64
                     " rows): copy only into a new, empty database",
                     tables[i].name, n);
            return DB_ROLLBACK;
        }
    }
    for (int i = 0; i < TABLES; i++) {
        char cols[4096];
        int ncols = 0;
        enum db_status s = columns_of(src, tables[i].name, cols, sizeof cols, &ncols);
        if (s < 0)
            return s;
        struct table_sum from, to;
        if ((s = table_pass(src, dst, tables[i].name, cols, ncols, &from, c->err, c->errlen)) < 0)
            return s;
        /* read back what the target now holds */
        if ((s = table_pass(dst, NULL, tables[i].name, cols, ncols, &to, c->err, c->errlen)) < 0)
            return s;
        bool same = from.rows == to.rows && memcmp(from.lane, to.lane, sizeof from.lane) == 0;
        uint8_t digest[32];
        memcpy(digest, from.lane, sizeof digest);
        c->cb(c->cls, tables[i].name, from.rows, to.rows, digest, same);
        if (!same) {
            snprintf(c->err, c->errlen,
                     "table %s: the copy differs from the source (%" PRId64 " rows read, %" PRId64
                     " in the target)",
                     tables[i].name, from.rows, to.rows);
            return DB_ROLLBACK;
        }
        if (tables[i].id && dst->db->backend->pg_dialect) {
            /* ids handed out later continue after the copied ones */
            char sql[320];
            snprintf(sql, sizeof sql,
                     "SELECT setval(pg_get_serial_sequence('%s', 'id'),"
                     " COALESCE((SELECT MAX(id) FROM %s), 0) + 1, false)",
                     tables[i].name, tables[i].name);
            if ((s = db_exists(db_stmt(dst, STMT_DYNAMIC_1, sql), "sequence")) < 0)
                return s;
        }
    }
    c->done = true;
    return DB_NO_RESULTS;
}

struct copy_source {
    struct copy_ctx *c;
    struct db *to;
    enum db_status target;
    bool committed; /* the target's transaction, the copy verified, committed */
};

/* PostgreSQL: the source's write transaction is only a snapshot, and
 * other sessions' writes would commit beside it, missing from the copy
 * that reports every table the same: take every copied table in EXCLUSIVE
 * mode (reads go on, writes wait until the copy ends), before the first
 * read takes the snapshot. A session writing them already is waited for
 * as long as a statement may take (db_statement_timeout_ms). SQLite's
 * write transaction (BEGIN IMMEDIATE) holds its write lock already. */
static enum db_status lock_source(struct db_tx *src, struct copy_ctx *c)
{
    if (!src->db->backend->pg_dialect)
        return DB_NO_RESULTS;
    pthread_mutex_lock(&src->db->lock);
    int ms = src->db->statement_timeout_ms;
    pthread_mutex_unlock(&src->db->lock);
    char sql[1024];
    snprintf(sql, sizeof sql, "SET LOCAL lock_timeout = %d", ms);
    enum db_status s = db_exec(db_stmt(src, STMT_DYNAMIC_3, sql), "lock timeout");
    if (s < 0)
        return s;
    size_t n = (size_t)snprintf(sql, sizeof sql, "LOCK TABLE");
    for (int i = 0; i < TABLES && n < sizeof sql; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s %s", i ? "," : "", tables[i].name);
    if (n < sizeof sql)
        snprintf(sql + n, sizeof sql - n, " IN EXCLUSIVE MODE");
    s = db_exec(db_stmt(src, STMT_DYNAMIC_3, sql), "lock the source");
    if (s == DB_SOFT_ERROR && !src->unavailable) { /* lock timeout, deadlock */
        snprintf(c->err, c->errlen,
                 "the source's tables could not be locked within %d ms (db_statement_timeout_ms):"
                 " another session is writing them; stop every chatpay process using the"
                 " source, then copy again",
                 ms);
        return DB_ROLLBACK;
    }
    return s;
}

static enum db_status copy_source_cb(struct db_tx *src, void *cls)
{
    struct copy_source *cs = cls;
    /* the source's transaction only reads: tried again after the copy
     * was committed to the target (a failed COMMIT), it has nothing left
     * to do, and copying again would be refused, the target not empty */
    if (cs->committed)
        return DB_NO_RESULTS;
    cs->c->src = src;
    enum db_status s = untimed(src);
    if (s < 0 || (s = lock_source(src, cs->c)) < 0)
        return s;
    /* the source's schema must be the one this binary knows */
    int current = 0, latest = 0;
    s = db_schema_version(src, &current, &latest);
    if (s < 0)
        return s;
    char why[256];
    if (!schema_same(current, latest, why, sizeof why)) {
        snprintf(cs->c->err, cs->c->errlen, "the source database: %s", why);
        return DB_ROLLBACK;
    }
    cs->target = db_run(cs->to, DB_WRITE, "db_copy", copy_target_cb, cs->c);
    cs->committed = cs->target >= 0 && cs->c->done;
    return DB_NO_RESULTS;
}

int db_copy(struct db *from, struct db *to, db_copy_cb cb, void *cls, char *err, size_t errlen)
{
    err[0] = '\0';
    struct copy_ctx c = {.from = from, .cb = cb, .cls = cls, .err = err, .errlen = errlen};
    struct copy_source cs = {.c = &c, .to = to};
    /* a write transaction on the source, whose tables no one else can
     * write meanwhile (lock_source) */
    enum db_status s = db_run(from, DB_WRITE, "db_copy_source", copy_source_cb, &cs);
    if (cs.committed) {
        /* the copy is in the target, verified: what became of the source's
         * read-only transaction after that (a connection lost at its
         * COMMIT) changes nothing in either database */
        if (s < 0)
            log_warn("db copy: the source's transaction failed after the copy was committed to"
                     " the target; the copy is complete");
        return 0;
    }
    if (s < 0 || cs.target < 0 || !c.done) {
        if (!err[0])
            snprintf(err, errlen, "the copy failed (see the log above)");
        return -1;
    }
    return 0;
}
