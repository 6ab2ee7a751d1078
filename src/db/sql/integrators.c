/*
 * integrators.c — a merchant's integrators (applications) (SQLite).
 */
#include "db/sql/sql_internal.h"

#include <string.h>

#define INTEGRATOR_COLS "id, name, type, status, created_at, updated_at"

static void read_integrator(struct db_stmt *st, struct db_integrator *it)
{
    memset(it, 0, sizeof *it);
    char buf[32];
    db_col_copy(st, 0, it->application_id, sizeof it->application_id);
    db_col_copy(st, 1, it->name, sizeof it->name);
    db_col_copy(st, 2, buf, sizeof buf);
    if (!db_integrator_type_parse(buf, &it->type))
        it->type = INTEGRATOR_APPLICATION;
    db_col_copy(st, 3, buf, sizeof buf);
    if (!db_integrator_status_parse(buf, &it->status))
        it->status = INTEGRATOR_DELETED;
    it->created_at = db_col_int(st, 4);
    it->updated_at = db_col_int(st, 5);
}

enum db_status sql_integrators_insert(struct db_tx *tx, const char *merchant_id,
                                      const struct db_integrator *it)
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_INTEGRATOR_INSERT,
                                 "INSERT INTO integrators"
                                 " (id, merchant_id, name, type, status, created_at, updated_at)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, it->application_id);
    db_bind_text(st, 2, merchant_id);
    db_bind_text(st, 3, it->name);
    db_bind_text(st, 4, db_integrator_type_name(it->type));
    db_bind_text(st, 5, db_integrator_status_name(it->status));
    db_bind_int(st, 6, it->created_at);
    db_bind_int(st, 7, it->updated_at);
    return db_exec(st, "integrator insert");
}

enum db_status sql_integrators_get(struct db_tx *tx, const char *merchant_id, const char *app_id,
                                   struct db_integrator *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_INTEGRATOR_GET,
                                 "SELECT " INTEGRATOR_COLS " FROM integrators"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, app_id);
    enum db_status rc = db_step(st, "integrator get");
    enum db_status s;
    if (rc == DB_ONE_RESULT) {
        read_integrator(st, out);
        s = DB_ONE_RESULT;
    } else {
        s = rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_integrators_set_status(struct db_tx *tx, const char *merchant_id,
                                          const char *app_id, enum integrator_status status,
                                          usec_t now)
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_INTEGRATOR_SET_STATUS,
                                 "UPDATE integrators SET status = ?, updated_at = ?"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, db_integrator_status_name(status));
    db_bind_int(st, 2, now);
    db_bind_text(st, 3, merchant_id);
    db_bind_text(st, 4, app_id);
    return db_exec(st, "integrator status");
}

enum db_status sql_integrators_list(struct db_tx *tx, const char *merchant_id, db_integrator_cb cb,
                                    void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_INTEGRATOR_LIST,
                                 "SELECT " INTEGRATOR_COLS " FROM integrators"
                                 " WHERE merchant_id = ? ORDER BY created_at, id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "integrator list")) == DB_ONE_RESULT) {
        struct db_integrator it;
        read_integrator(st, &it);
        cb(cls, &it);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}
