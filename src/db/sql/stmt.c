/*
 * stmt.c — the statement interface (db/sql/stmt.h): each call goes to the
 * statement's backend; the helpers above it are written once.
 */
#include "db/db_internal.h"

#include <string.h>

static const struct db_backend *be(const struct db_stmt *st)
{
    return st->tx->db->backend;
}

/* Does sql write a merchant's own tables (merchants, merchant_currencies)? */
static bool writes_merchant(const char *sql)
{
    static const char *const heads[] = {"UPDATE merchant", "INSERT INTO merchant",
                                        "DELETE FROM merchant"};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
        if (strncmp(sql, heads[i], strlen(heads[i])) == 0)
            return true;
    return false;
}

/* Every statement that writes a merchant's tables empties the transaction's
 * merchant cache (db/sql/merchants.c), whatever operation runs it. What each
 * statement does is found once, from its text. */
static struct db_stmt *stmt_of(struct db_tx *tx, enum db_stmt_id id, const char *sql)
{
    static _Atomic signed char writes[STMT__COUNT]; /* 0 not known yet, 1 yes, -1 no */
    signed char w = atomic_load_explicit(&writes[id], memory_order_relaxed);
    if (!w) {
        w = writes_merchant(sql) ? 1 : -1;
        atomic_store_explicit(&writes[id], w, memory_order_relaxed);
    }
    if (w > 0)
        db_tx_forget(tx);
    return tx->db->backend->stmt(tx, id, sql);
}

struct db_stmt *db_stmt(struct db_tx *tx, enum db_stmt_id id, const char *sql)
{
    return stmt_of(tx, id, sql);
}

struct db_stmt *db_stmt_dialect(struct db_tx *tx, enum db_stmt_id id, const char *sqlite_sql,
                                const char *pg_sql)
{
    return stmt_of(tx, id, tx->db->backend->pg_dialect ? pg_sql : sqlite_sql);
}

void db_bind_text(struct db_stmt *st, int i, const char *s)
{
    if (s)
        be(st)->bind_text(st, i, s);
    else
        be(st)->bind_null(st, i);
}

void db_bind_nonempty(struct db_stmt *st, int i, const char *s)
{
    db_bind_text(st, i, s && *s ? s : NULL);
}

void db_bind_int(struct db_stmt *st, int i, int64_t v)
{
    be(st)->bind_int(st, i, v);
}

void db_bind_null(struct db_stmt *st, int i)
{
    be(st)->bind_null(st, i);
}

void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
    be(st)->bind_blob(st, i, p, n);
}

enum db_status db_step(struct db_stmt *st, const char *what)
{
    return be(st)->step(st, what);
}

void db_reset(struct db_stmt *st)
{
    be(st)->reset(st);
}

int64_t db_col_int(struct db_stmt *st, int col)
{
    return be(st)->col_int(st, col);
}

bool db_col_null(struct db_stmt *st, int col)
{
    return be(st)->col_null(st, col);
}

const char *db_col_text(struct db_stmt *st, int col)
{
    return be(st)->col_text(st, col);
}

size_t db_col_blob(struct db_stmt *st, int col, const void **p)
{
    return be(st)->col_blob(st, col, p);
}

enum db_col_type db_col_type(struct db_stmt *st, int col)
{
    return be(st)->col_type(st, col);
}

int db_col_count(struct db_stmt *st)
{
    return be(st)->col_count(st);
}

const char *db_col_name(struct db_stmt *st, int col)
{
    return be(st)->col_name(st, col);
}

void db_col_copy(struct db_stmt *st, int col, char *out, size_t cap)
{
    const char *t = db_col_text(st, col);
    size_t n = t ? strlen(t) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, t, n);
    out[n] = '\0';
}

const char *db_col_dup(struct db_stmt *st, int col, struct arena *a)
{
    const char *t = db_col_text(st, col);
    return t ? arena_strdup(a, t) : NULL;
}

enum db_status db_exec(struct db_stmt *st, const char *what)
{
    if (!st)
        return DB_HARD_ERROR;
    enum db_status s;
    while ((s = db_step(st, what)) == DB_ONE_RESULT)
        ;
    if (s == DB_NO_RESULTS)
        s = (enum db_status)be(st)->changes(st);
    db_reset(st);
    return s;
}

enum db_status db_one_int(struct db_stmt *st, int64_t *out, const char *what)
{
    if (!st)
        return DB_HARD_ERROR;
    enum db_status s = db_step(st, what);
    if (s == DB_ONE_RESULT)
        *out = db_col_int(st, 0);
    db_reset(st);
    return s;
}

enum db_status db_insert_id(struct db_stmt *st, int64_t *out, const char *what)
{
    if (!st)
        return DB_HARD_ERROR;
    enum db_status s = db_step(st, what);
    if (s == DB_ONE_RESULT) {
        *out = db_col_int(st, 0);
    } else if (s == DB_NO_RESULTS && be(st)->last_insert_id) {
        *out = be(st)->last_insert_id(st);
        s = DB_ONE_RESULT;
    } else if (s == DB_NO_RESULTS) {
        s = DB_HARD_ERROR; /* an INSERT without its RETURNING */
    }
    db_reset(st);
    return s;
}

enum db_status db_exists(struct db_stmt *st, const char *what)
{
    if (!st)
        return DB_HARD_ERROR;
    enum db_status s = db_step(st, what);
    db_reset(st);
    return s;
}

enum db_status db_one_row(struct db_stmt *st, const char *what,
                          void (*read)(struct db_stmt *st, void *cls), void *cls)
{
    if (!st)
        return DB_HARD_ERROR;
    enum db_status s = db_step(st, what);
    if (s == DB_ONE_RESULT)
        read(st, cls);
    db_reset(st);
    return s;
}

void db_read_uuid(struct db_stmt *st, void *cls)
{
    db_col_copy(st, 0, cls, DB_UUID_LEN);
}
