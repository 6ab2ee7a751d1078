/*
 * pg_migrations.h — the PostgreSQL schema, as numbered migrations.
 *
 * The same versions and names as the SQLite backend's migrations, so that a
 * database of either backend at version n has the same tables, columns (in
 * the same order), indexes and constraints. Each migration is one string of
 * several statements, applied in its own transaction. No libpq here: the
 * array is plain data.
 */
#ifndef CHATPAY_DB_PG_MIGRATIONS_H
#define CHATPAY_DB_PG_MIGRATIONS_H

/* Migrations of this backend, in order; versions are 1..n. */
struct pg_migration {
    int version;
    const char *name;
    const char *sql;
};
extern const struct pg_migration pg_migrations[];
extern const int pg_migration_count;

#endif
