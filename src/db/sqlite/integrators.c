/*
 * integrators.c — a merchant's integrators (applications) (SQLite).
 */
#include "db/sqlite/sqlite_internal.h"

#include <string.h>

#define INTEGRATOR_COLS "id, name, type, status, created_at, updated_at"

static void read_integrator(sqlite3_stmt *st, struct db_integrator *it)
{
    memset(it, 0, sizeof *it);
    char buf[32];
    sqlite_col_text(st, 0, it->application_id, sizeof it->application_id);
    sqlite_col_text(st, 1, it->name, sizeof it->name);
    sqlite_col_text(st, 2, buf, sizeof buf);
    if (!db_integrator_type_parse(buf, &it->type))
        it->type = INTEGRATOR_APPLICATION;
    sqlite_col_text(st, 3, buf, sizeof buf);
    if (!db_integrator_status_parse(buf, &it->status))
        it->status = INTEGRATOR_DELETED;
    it->created_at = sqlite3_column_int64(st, 4);
    it->updated_at = sqlite3_column_int64(st, 5);
}

enum db_status sqlite_integrators_insert(struct db_tx *tx, const char *merchant_id,
                                         const struct db_integrator *it)
{
    db_tx_config_changed(tx);
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_INTEGRATOR_INSERT,
                                   "INSERT INTO integrators"
                                   " (id, merchant_id, name, type, status, created_at, updated_at)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, it->application_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, it->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, db_integrator_type_name(it->type), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, db_integrator_status_name(it->status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, it->created_at);
    sqlite3_bind_int64(st, 7, it->updated_at);
    return sqlite_exec_stmt(tx, st, "integrator insert");
}

enum db_status sqlite_integrators_get(struct db_tx *tx, const char *merchant_id, const char *app_id,
                                      struct db_integrator *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_INTEGRATOR_GET,
                                   "SELECT " INTEGRATOR_COLS " FROM integrators"
                                   " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, app_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        read_integrator(st, out);
        s = DB_ONE_RESULT;
    } else {
        s = sqlite_status(tx, rc, "integrator get");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_integrators_set_status(struct db_tx *tx, const char *merchant_id,
                                             const char *app_id, enum integrator_status status,
                                             usec_t now)
{
    db_tx_config_changed(tx);
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_INTEGRATOR_SET_STATUS,
                                   "UPDATE integrators SET status = ?, updated_at = ?"
                                   " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, db_integrator_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, app_id, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "integrator status");
}

enum db_status sqlite_integrators_list(struct db_tx *tx, const char *merchant_id,
                                       db_integrator_cb cb, void *cls)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_INTEGRATOR_LIST,
                                   "SELECT " INTEGRATOR_COLS " FROM integrators"
                                   " WHERE merchant_id = ? ORDER BY created_at, id");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_integrator it;
        read_integrator(st, &it);
        cb(cls, &it);
        n++;
    }
    enum db_status s =
        rc == SQLITE_DONE ? (enum db_status)n : sqlite_status(tx, rc, "integrator list");
    sqlite3_reset(st);
    return s;
}
