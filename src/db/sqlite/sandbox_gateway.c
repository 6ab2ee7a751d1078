/*
 * sandbox_gateway.c — the sandbox gateway's records (SQLite).
 */
#include "db/sqlite/sqlite_internal.h"

#include <string.h>

#define GW_COLS                                                                                    \
    "ref, merchant_id, op, COALESCE(parent_ref, ''), amount_minor, currency,"                      \
    " COALESCE(return_url, ''), state, decision, response_code, request_ref, auth_ref,"            \
    " card_type, masked_pan, expiry, error_text, answered, created_at, decided_at, expires_at"

enum db_status sqlite_sandbox_gw_insert(struct db_tx *tx, const struct db_sandbox_gw *g)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_SANDBOX_GW_INSERT,
                                   "INSERT INTO sandbox_gateway (ref, merchant_id, op, parent_ref,"
                                   " amount_minor, currency, return_url, created_at, expires_at)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, g->ref, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, g->merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, g->op);
    sqlite3_bind_text(st, 4, g->parent_ref, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, g->amount_minor);
    sqlite3_bind_text(st, 6, g->currency, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, g->return_url, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 8, g->created_at);
    sqlite3_bind_int64(st, 9, g->expires_at);
    return sqlite_exec_stmt(tx, st, "sandbox gateway insert");
}

enum db_status sqlite_sandbox_gw_get(struct db_tx *tx, const char *ref, struct db_sandbox_gw *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_SANDBOX_GW_GET,
                                   "SELECT " GW_COLS " FROM sandbox_gateway WHERE ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        struct db_sandbox_gw *g = out;
        memset(g, 0, sizeof *g);
        sqlite_col_text(st, 0, g->ref, sizeof g->ref);
        sqlite_col_text(st, 1, g->merchant_id, sizeof g->merchant_id);
        g->op = sqlite3_column_int(st, 2);
        sqlite_col_text(st, 3, g->parent_ref, sizeof g->parent_ref);
        g->amount_minor = sqlite3_column_int64(st, 4);
        sqlite_col_text(st, 5, g->currency, sizeof g->currency);
        sqlite_col_text(st, 6, g->return_url, sizeof g->return_url);
        g->state = sqlite3_column_int(st, 7);
        g->decision = sqlite3_column_int(st, 8);
        g->response_code = sqlite3_column_int(st, 9);
        sqlite_col_text(st, 10, g->request_ref, sizeof g->request_ref);
        sqlite_col_text(st, 11, g->auth_ref, sizeof g->auth_ref);
        sqlite_col_text(st, 12, g->card_type, sizeof g->card_type);
        sqlite_col_text(st, 13, g->masked_pan, sizeof g->masked_pan);
        sqlite_col_text(st, 14, g->expiry, sizeof g->expiry);
        sqlite_col_text(st, 15, g->error_text, sizeof g->error_text);
        g->answered = sqlite3_column_int(st, 16) != 0;
        g->created_at = sqlite3_column_int64(st, 17);
        g->decided_at = sqlite3_column_int64(st, 18);
        g->expires_at = sqlite3_column_int64(st, 19);
        s = DB_ONE_RESULT;
    } else {
        s = sqlite_status(tx, rc, "sandbox gateway get");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_sandbox_gw_update(struct db_tx *tx, const struct db_sandbox_gw *g)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_SANDBOX_GW_UPDATE,
                                   "UPDATE sandbox_gateway SET state = ?, decision = ?,"
                                   " response_code = ?, request_ref = ?, auth_ref = ?,"
                                   " card_type = ?, masked_pan = ?, expiry = ?, error_text = ?,"
                                   " answered = ?, decided_at = ? WHERE ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int(st, 1, g->state);
    sqlite3_bind_int(st, 2, g->decision);
    sqlite3_bind_int(st, 3, g->response_code);
    sqlite3_bind_text(st, 4, g->request_ref, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, g->auth_ref, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, g->card_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, g->masked_pan, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, g->expiry, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 9, g->error_text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 10, g->answered);
    sqlite3_bind_int64(st, 11, g->decided_at);
    sqlite3_bind_text(st, 12, g->ref, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "sandbox gateway update");
}
