/*
 * sandbox_gateway.c — the sandbox gateway's records (SQLite).
 */
#include "db/sql/sql_internal.h"

#include <string.h>

#define GW_COLS                                                                                    \
    "ref, merchant_id, op, COALESCE(parent_ref, ''), amount_minor, currency,"                      \
    " COALESCE(return_url, ''), state, decision, response_code, request_ref, auth_ref,"            \
    " card_type, masked_pan, expiry, error_text, answered, created_at, decided_at, expires_at"

enum db_status sql_sandbox_gw_insert(struct db_tx *tx, const struct db_sandbox_gw *g)
{
    struct db_stmt *st = db_stmt(tx, STMT_SANDBOX_GW_INSERT,
                                 "INSERT INTO sandbox_gateway (ref, merchant_id, op, parent_ref,"
                                 " amount_minor, currency, return_url, created_at, expires_at)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, g->ref);
    db_bind_text(st, 2, g->merchant_id);
    db_bind_int(st, 3, g->op);
    db_bind_text(st, 4, g->parent_ref);
    db_bind_int(st, 5, g->amount_minor);
    db_bind_text(st, 6, g->currency);
    db_bind_text(st, 7, g->return_url);
    db_bind_int(st, 8, g->created_at);
    db_bind_int(st, 9, g->expires_at);
    return db_exec(st, "sandbox gateway insert");
}

enum db_status sql_sandbox_gw_get(struct db_tx *tx, const char *ref, struct db_sandbox_gw *out)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_SANDBOX_GW_GET, "SELECT " GW_COLS " FROM sandbox_gateway WHERE ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, ref);
    enum db_status rc = db_step(st, "sandbox gateway get");
    enum db_status s;
    if (rc == DB_ONE_RESULT) {
        struct db_sandbox_gw *g = out;
        memset(g, 0, sizeof *g);
        db_col_copy(st, 0, g->ref, sizeof g->ref);
        db_col_copy(st, 1, g->merchant_id, sizeof g->merchant_id);
        g->op = (int)db_col_int(st, 2);
        db_col_copy(st, 3, g->parent_ref, sizeof g->parent_ref);
        g->amount_minor = db_col_int(st, 4);
        db_col_copy(st, 5, g->currency, sizeof g->currency);
        db_col_copy(st, 6, g->return_url, sizeof g->return_url);
        g->state = (int)db_col_int(st, 7);
        g->decision = (int)db_col_int(st, 8);
        g->response_code = (int)db_col_int(st, 9);
        db_col_copy(st, 10, g->request_ref, sizeof g->request_ref);
        db_col_copy(st, 11, g->auth_ref, sizeof g->auth_ref);
        db_col_copy(st, 12, g->card_type, sizeof g->card_type);
        db_col_copy(st, 13, g->masked_pan, sizeof g->masked_pan);
        db_col_copy(st, 14, g->expiry, sizeof g->expiry);
        db_col_copy(st, 15, g->error_text, sizeof g->error_text);
        g->answered = (int)db_col_int(st, 16) != 0;
        g->created_at = db_col_int(st, 17);
        g->decided_at = db_col_int(st, 18);
        g->expires_at = db_col_int(st, 19);
        s = DB_ONE_RESULT;
    } else {
        s = rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_sandbox_gw_update(struct db_tx *tx, const struct db_sandbox_gw *g)
{
    struct db_stmt *st = db_stmt(tx, STMT_SANDBOX_GW_UPDATE,
                                 "UPDATE sandbox_gateway SET state = ?, decision = ?,"
                                 " response_code = ?, request_ref = ?, auth_ref = ?,"
                                 " card_type = ?, masked_pan = ?, expiry = ?, error_text = ?,"
                                 " answered = ?, decided_at = ? WHERE ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, g->state);
    db_bind_int(st, 2, g->decision);
    db_bind_int(st, 3, g->response_code);
    db_bind_text(st, 4, g->request_ref);
    db_bind_text(st, 5, g->auth_ref);
    db_bind_text(st, 6, g->card_type);
    db_bind_text(st, 7, g->masked_pan);
    db_bind_text(st, 8, g->expiry);
    db_bind_text(st, 9, g->error_text);
    db_bind_int(st, 10, g->answered);
    db_bind_int(st, 11, g->decided_at);
    db_bind_text(st, 12, g->ref);
    return db_exec(st, "sandbox gateway update");
}
