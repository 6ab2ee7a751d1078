/*
 * sqlite_internal.h — shared by the SQLite backend's files.
 *
 * Each connection keeps its prepared statements in a cache indexed by
 * enum db_stmt_id; a statement is prepared on first use and reset before
 * each use.
 */
#ifndef CHATPAY_DB_SQLITE_INTERNAL_H
#define CHATPAY_DB_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "db/db_internal.h"

struct sqlite_stmt {
    struct db_stmt base;
    sqlite3_stmt *h;
};

struct sqlite_conn {
    sqlite3 *h;
    struct sqlite_stmt stmts[STMT__COUNT];
};

/* Migrations of this backend, in order; versions are 1..n. */
struct sqlite_migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct sqlite_migration sqlite_migrations[];
extern const int sqlite_migration_count;

#endif
