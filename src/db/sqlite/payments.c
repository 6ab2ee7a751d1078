/*
 * payments.c — gateway operations on payment links (SQLite).
 *
 * A capture, reverse or void is refused by a unique index while another one
 * of the same link is pending or has succeeded: two concurrent requests
 * cannot both go to the gateway.
 */
#include "db/sqlite/sqlite_internal.h"

#include <string.h>

#define OP_COLS                                                                                    \
    "id, merchant_id, link_id, ref, op, COALESCE(parent_ref, ''), amount_minor, state,"            \
    " decision, response_code, request_ref, auth_ref, card_type, masked_pan, expiry,"              \
    " error_text, gateway_at, created_at, updated_at, flags, COALESCE(note, ''), gateway_ref,"     \
    " gateway_id"

static void read_op(sqlite3_stmt *st, struct db_payment_op *o)
{
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    sqlite_col_text(st, 1, o->merchant_id, sizeof o->merchant_id);
    o->link_id = sqlite3_column_int64(st, 2);
    sqlite_col_text(st, 3, o->ref, sizeof o->ref);
    o->op = sqlite3_column_int(st, 4);
    sqlite_col_text(st, 5, o->parent_ref, sizeof o->parent_ref);
    o->amount_minor = sqlite3_column_int64(st, 6);
    o->state = sqlite3_column_int(st, 7);
    o->decision = sqlite3_column_int(st, 8);
    o->response_code = sqlite3_column_int(st, 9);
    sqlite_col_text(st, 10, o->request_ref, sizeof o->request_ref);
    sqlite_col_text(st, 11, o->auth_ref, sizeof o->auth_ref);
    sqlite_col_text(st, 12, o->card_type, sizeof o->card_type);
    sqlite_col_text(st, 13, o->masked_pan, sizeof o->masked_pan);
    sqlite_col_text(st, 14, o->expiry, sizeof o->expiry);
    sqlite_col_text(st, 15, o->error_text, sizeof o->error_text);
    o->gateway_at = sqlite3_column_int64(st, 16);
    o->created_at = sqlite3_column_int64(st, 17);
    o->updated_at = sqlite3_column_int64(st, 18);
    o->flags = (unsigned)sqlite3_column_int(st, 19);
    sqlite_col_text(st, 20, o->note, sizeof o->note);
    sqlite_col_text(st, 21, o->gateway_ref, sizeof o->gateway_ref);
    sqlite_col_text(st, 22, o->gateway_id, sizeof o->gateway_id);
}

enum db_status sqlite_payments_insert(struct db_tx *tx, struct db_payment_op *o)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_PAYMENT_INSERT,
                                   "INSERT INTO payment_ops (merchant_id, link_id, ref, op,"
                                   " parent_ref, amount_minor, created_at, updated_at, flags,"
                                   " note, gateway_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                   " ON CONFLICT DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, o->merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, o->link_id);
    sqlite3_bind_text(st, 3, o->ref, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, o->op);
    sqlite_bind_nonempty(st, 5, o->parent_ref);
    sqlite3_bind_int64(st, 6, o->amount_minor);
    sqlite3_bind_int64(st, 7, o->created_at);
    sqlite3_bind_int64(st, 8, o->created_at);
    sqlite3_bind_int(st, 9, (int)o->flags);
    sqlite_bind_nonempty(st, 10, o->note);
    sqlite3_bind_text(st, 11, o->gateway_id, -1, SQLITE_TRANSIENT);
    enum db_status s = sqlite_exec_stmt(tx, st, "payment op insert");
    if (s > 0)
        o->id = sqlite3_last_insert_rowid(((struct sqlite_conn *)tx->conn)->h);
    return s;
}

enum db_status sqlite_payments_get(struct db_tx *tx, const char *merchant_id, const char *ref,
                                   struct db_payment_op *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_PAYMENT_GET,
                                   "SELECT " OP_COLS " FROM payment_ops"
                                   " WHERE merchant_id = ? AND ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        read_op(st, out);
        s = DB_ONE_RESULT;
    } else {
        s = sqlite_status(tx, rc, "payment op get");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_payments_finish(struct db_tx *tx, const struct db_payment_op *o)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_PAYMENT_FINISH,
                                   "UPDATE payment_ops SET state = ?, decision = ?,"
                                   " response_code = ?, request_ref = ?, auth_ref = ?,"
                                   " card_type = ?, masked_pan = ?, expiry = ?, error_text = ?,"
                                   " gateway_at = ?, updated_at = ?, flags = ?, note = ?,"
                                   " gateway_ref = ?"
                                   " WHERE merchant_id = ? AND ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int(st, 1, o->state);
    sqlite3_bind_int(st, 2, o->decision);
    sqlite3_bind_int(st, 3, o->response_code);
    sqlite_bind_nonempty(st, 4, o->request_ref);
    sqlite_bind_nonempty(st, 5, o->auth_ref);
    sqlite_bind_nonempty(st, 6, o->card_type);
    sqlite_bind_nonempty(st, 7, o->masked_pan);
    sqlite_bind_nonempty(st, 8, o->expiry);
    sqlite_bind_nonempty(st, 9, o->error_text);
    sqlite3_bind_int64(st, 10, o->gateway_at);
    sqlite3_bind_int64(st, 11, o->updated_at);
    sqlite3_bind_int(st, 12, (int)o->flags);
    sqlite_bind_nonempty(st, 13, o->note);
    sqlite3_bind_text(st, 14, o->gateway_ref, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 15, o->merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 16, o->ref, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "payment op finish");
}

enum db_status sqlite_payments_uses_gateway(struct db_tx *tx, const char *merchant_id,
                                            const char *gateway_id)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_PAYMENT_USES_GATEWAY,
                                   "SELECT 1 FROM payment_ops WHERE merchant_id = ?"
                                   " AND gateway_id = ? LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, gateway_id, -1, SQLITE_TRANSIENT);
    return sqlite_exists(tx, st, "uses gateway");
}

enum db_status sqlite_payments_set_gateway_ref(struct db_tx *tx, const char *merchant_id,
                                               const char *ref, const char *gateway_ref)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_PAYMENT_GATEWAY_REF,
                                   "UPDATE payment_ops SET gateway_ref = ?"
                                   " WHERE merchant_id = ? AND ref = ? AND state = 0");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, gateway_ref, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, ref, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "payment op gateway ref");
}

static enum db_status each_op(struct db_tx *tx, sqlite3_stmt *st, db_payment_op_cb cb, void *cls,
                              const char *what)
{
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_payment_op o;
        read_op(st, &o);
        cb(cls, &o);
        n++;
    }
    enum db_status s = rc == SQLITE_DONE ? (enum db_status)n : sqlite_status(tx, rc, what);
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_payments_list(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                    db_payment_op_cb cb, void *cls)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_PAYMENT_LIST,
                                   "SELECT " OP_COLS " FROM payment_ops"
                                   " WHERE merchant_id = ? AND link_id = ? ORDER BY id");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, link_id);
    return each_op(tx, st, cb, cls, "payment op list");
}

enum db_status sqlite_payments_list_pending(struct db_tx *tx, usec_t after, usec_t before,
                                            int limit, db_payment_op_cb cb, void *cls)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_PAYMENT_PENDING,
                                   "SELECT " OP_COLS " FROM payment_ops"
                                   " WHERE state = 0 AND created_at >= ? AND created_at < ?"
                                   " ORDER BY op <= 2, created_at LIMIT ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, before);
    sqlite3_bind_int(st, 3, limit);
    return each_op(tx, st, cb, cls, "payment op pending");
}
