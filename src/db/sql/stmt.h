/*
 * stmt.h — the statements the aggregates' SQL runs through, on either backend.
 *
 * The operations of every aggregate (the files of db/sql/) are written once, in the
 * SQL that SQLite and PostgreSQL both accept, against this small interface;
 * each backend (db/sqlite/, db/pg/) implements it. Parameters are written `?`
 * or `?N` and numbered from 1; columns are numbered from 0. Where the two
 * dialects differ, db_stmt_dialect() names one text for each.
 *
 * A statement is prepared on first use on its connection and cached under its
 * id; db_stmt() hands it back reset, with no bindings. Integers are int64
 * (booleans 0/1); text is UTF-8; blobs are bytes (BYTEA on PostgreSQL).
 */
#ifndef CHATPAY_DB_SQL_STMT_H
#define CHATPAY_DB_SQL_STMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/sql/stmt_ids.h"
#include "util/arena.h"

struct db_stmt {
    struct db_tx *tx;
};

/* The statement `id` with text `sql`, reset; NULL on failure (logged). */
struct db_stmt *db_stmt(struct db_tx *tx, enum db_stmt_id id, const char *sql);
/* The same where SQLite and PostgreSQL need different texts. */
struct db_stmt *db_stmt_dialect(struct db_tx *tx, enum db_stmt_id id, const char *sqlite_sql,
                                const char *pg_sql);

/* Bindings. Text and blobs are copied; NULL text binds SQL NULL. */
void db_bind_text(struct db_stmt *st, int i, const char *s);
/* SQL NULL for NULL or "". */
void db_bind_nonempty(struct db_stmt *st, int i, const char *s);
void db_bind_int(struct db_stmt *st, int i, int64_t v);
void db_bind_null(struct db_stmt *st, int i);
void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n);

/* Advance to the next row: DB_ONE_RESULT on a row, DB_NO_RESULTS at the end,
 * or an error (logged with `what`). A statement that changes rows runs to
 * its end on the first step. */
enum db_status db_step(struct db_stmt *st, const char *what);
/* Done with the statement: releases its result (the next db_stmt resets it
 * anyway). */
void db_reset(struct db_stmt *st);

/* Columns of the current row. */
enum db_col_type { DB_COL_NULL, DB_COL_INT, DB_COL_TEXT, DB_COL_BLOB };
enum db_col_type db_col_type(struct db_stmt *st, int col);
int db_col_count(struct db_stmt *st);
/* The column's name (valid until the next step). */
const char *db_col_name(struct db_stmt *st, int col);
int64_t db_col_int(struct db_stmt *st, int col);
bool db_col_null(struct db_stmt *st, int col);
/* Text of the column, NUL-terminated, valid until the next step; NULL for
 * SQL NULL. */
const char *db_col_text(struct db_stmt *st, int col);
/* Copy into out[cap] (truncating; "" for NULL). */
void db_col_copy(struct db_stmt *st, int col, char *out, size_t cap);
/* Copy into the arena; NULL for SQL NULL. */
const char *db_col_dup(struct db_stmt *st, int col, struct arena *a);
/* The column's bytes (valid until the next step); their length. */
size_t db_col_blob(struct db_stmt *st, int col, const void **p);

/* Run a statement that returns no rows (or whose rows are not wanted):
 * the number of rows it changed, or an error. st may be NULL (a failed
 * prepare): DB_HARD_ERROR. */
enum db_status db_exec(struct db_stmt *st, const char *what);
/* First column of the first row as an integer: DB_ONE_RESULT, or
 * DB_NO_RESULTS without a row. */
enum db_status db_one_int(struct db_stmt *st, int64_t *out, const char *what);
/* Run a one-row INSERT and read its new id into *out: DB_ONE_RESULT, or an
 * error. Prepare it with INSERT_ID_STMT, which adds RETURNING id where the
 * backend needs it: on SQLite, RETURNING would make each insert build a
 * temporary table for its one value; the connection's last rowid is it. */
enum db_status db_insert_id(struct db_stmt *st, int64_t *out, const char *what);
#define INSERT_ID_STMT(tx, id, insert_sql)                                                         \
    db_stmt_dialect(tx, id, insert_sql, insert_sql " RETURNING id")
/* DB_ONE_RESULT when the query gives a row, DB_NO_RESULTS when none. */
enum db_status db_exists(struct db_stmt *st, const char *what);
/* At most one row: read(st, cls) on it (DB_ONE_RESULT), DB_NO_RESULTS on
 * none. */
enum db_status db_one_row(struct db_stmt *st, const char *what,
                          void (*read)(struct db_stmt *st, void *cls), void *cls);
/* A reader for db_one_row: column 0 into cls, a char[DB_UUID_LEN]. */
void db_read_uuid(struct db_stmt *st, void *cls);

#endif
