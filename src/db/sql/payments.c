/*
 * payments.c — gateway operations on payment links (SQLite).
 *
 * A capture, reverse or void is refused by a unique index while another one
 * of the same link is pending or has succeeded: two concurrent requests
 * cannot both go to the gateway.
 */
#include "db/sql/sql_internal.h"

#include <string.h>

#define OP_COLS                                                                                    \
    "id, merchant_id, link_id, ref, op, COALESCE(parent_ref, ''), amount_minor, state,"            \
    " decision, response_code, request_ref, auth_ref, card_type, masked_pan, expiry,"              \
    " error_text, gateway_at, created_at, updated_at, flags, COALESCE(note, ''), gateway_ref,"     \
    " gateway_id, held_minor, repair_at"

static void read_op(struct db_stmt *st, struct db_payment_op *o)
{
    memset(o, 0, sizeof *o);
    o->id = db_col_int(st, 0);
    db_col_copy(st, 1, o->merchant_id, sizeof o->merchant_id);
    o->link_id = db_col_int(st, 2);
    db_col_copy(st, 3, o->ref, sizeof o->ref);
    o->op = (int)db_col_int(st, 4);
    db_col_copy(st, 5, o->parent_ref, sizeof o->parent_ref);
    o->amount_minor = db_col_int(st, 6);
    o->state = (int)db_col_int(st, 7);
    o->decision = (int)db_col_int(st, 8);
    o->response_code = (int)db_col_int(st, 9);
    db_col_copy(st, 10, o->request_ref, sizeof o->request_ref);
    db_col_copy(st, 11, o->auth_ref, sizeof o->auth_ref);
    db_col_copy(st, 12, o->card_type, sizeof o->card_type);
    db_col_copy(st, 13, o->masked_pan, sizeof o->masked_pan);
    db_col_copy(st, 14, o->expiry, sizeof o->expiry);
    db_col_copy(st, 15, o->error_text, sizeof o->error_text);
    o->gateway_at = db_col_int(st, 16);
    o->created_at = db_col_int(st, 17);
    o->updated_at = db_col_int(st, 18);
    o->flags = (unsigned)(int)db_col_int(st, 19);
    db_col_copy(st, 20, o->note, sizeof o->note);
    db_col_copy(st, 21, o->gateway_ref, sizeof o->gateway_ref);
    db_col_copy(st, 22, o->gateway_id, sizeof o->gateway_id);
    o->held_minor = db_col_int(st, 23);
    o->repair_at = db_col_int(st, 24);
}

enum db_status sql_payments_insert(struct db_tx *tx, struct db_payment_op *o)
{
    struct db_stmt *st = db_stmt(tx, STMT_PAYMENT_INSERT,
                                 "INSERT INTO payment_ops (merchant_id, link_id, ref, op,"
                                 " parent_ref, amount_minor, created_at, updated_at, flags,"
                                 " note, gateway_id, repair_at)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                 " ON CONFLICT DO NOTHING RETURNING id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, o->merchant_id);
    db_bind_int(st, 2, o->link_id);
    db_bind_text(st, 3, o->ref);
    db_bind_int(st, 4, o->op);
    db_bind_nonempty(st, 5, o->parent_ref);
    db_bind_int(st, 6, o->amount_minor);
    db_bind_int(st, 7, o->created_at);
    db_bind_int(st, 8, o->created_at);
    db_bind_int(st, 9, (int)o->flags);
    db_bind_nonempty(st, 10, o->note);
    db_bind_text(st, 11, o->gateway_id);
    db_bind_int(st, 12, o->created_at);
    enum db_status rc = db_one_int(st, &o->id, "payment op insert");
    if (rc == DB_ONE_RESULT)
        o->repair_at = o->created_at;
    return rc;
}

enum db_status sql_payments_get(struct db_tx *tx, const char *merchant_id, const char *ref,
                                struct db_payment_op *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_PAYMENT_GET,
                                 "SELECT " OP_COLS " FROM payment_ops"
                                 " WHERE merchant_id = ? AND ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, ref);
    enum db_status rc = db_step(st, "payment op get");
    enum db_status s;
    if (rc == DB_ONE_RESULT) {
        read_op(st, out);
        s = DB_ONE_RESULT;
    } else {
        s = rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_payments_finish(struct db_tx *tx, const struct db_payment_op *o)
{
    struct db_stmt *st = db_stmt(tx, STMT_PAYMENT_FINISH,
                                 "UPDATE payment_ops SET state = ?, decision = ?,"
                                 " response_code = ?, request_ref = ?, auth_ref = ?,"
                                 " card_type = ?, masked_pan = ?, expiry = ?, error_text = ?,"
                                 " gateway_at = ?, updated_at = ?, flags = ?, note = ?,"
                                 " gateway_ref = ?, held_minor = ?"
                                 " WHERE merchant_id = ? AND ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, o->state);
    db_bind_int(st, 2, o->decision);
    db_bind_int(st, 3, o->response_code);
    db_bind_nonempty(st, 4, o->request_ref);
    db_bind_nonempty(st, 5, o->auth_ref);
    db_bind_nonempty(st, 6, o->card_type);
    db_bind_nonempty(st, 7, o->masked_pan);
    db_bind_nonempty(st, 8, o->expiry);
    db_bind_nonempty(st, 9, o->error_text);
    db_bind_int(st, 10, o->gateway_at);
    db_bind_int(st, 11, o->updated_at);
    db_bind_int(st, 12, (int)o->flags);
    db_bind_nonempty(st, 13, o->note);
    db_bind_text(st, 14, o->gateway_ref);
    db_bind_int(st, 15, o->held_minor);
    db_bind_text(st, 16, o->merchant_id);
    db_bind_text(st, 17, o->ref);
    return db_exec(st, "payment op finish");
}

enum db_status sql_payments_uses_gateway(struct db_tx *tx, const char *merchant_id,
                                         const char *gateway_id)
{
    struct db_stmt *st = db_stmt(tx, STMT_PAYMENT_USES_GATEWAY,
                                 "SELECT 1 FROM payment_ops WHERE merchant_id = ?"
                                 " AND gateway_id = ? LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, gateway_id);
    return db_exists(st, "uses gateway");
}

enum db_status sql_payments_set_gateway_ref(struct db_tx *tx, const char *merchant_id,
                                            const char *ref, const char *gateway_ref)
{
    /* by its ref: `+state` keeps PostgreSQL off payment_ops_pending (see
     * PAYMENT_RUNNING in links.c) */
    struct db_stmt *st = db_stmt(tx, STMT_PAYMENT_GATEWAY_REF,
                                 "UPDATE payment_ops SET gateway_ref = ?"
                                 " WHERE merchant_id = ? AND ref = ? AND +state = 0");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, gateway_ref);
    db_bind_text(st, 2, merchant_id);
    db_bind_text(st, 3, ref);
    return db_exec(st, "payment op gateway ref");
}

static enum db_status each_op(struct db_tx *tx, struct db_stmt *st, db_payment_op_cb cb, void *cls,
                              const char *what)
{
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, what)) == DB_ONE_RESULT) {
        struct db_payment_op o;
        read_op(st, &o);
        cb(cls, &o);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}

enum db_status sql_payments_list(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                 db_payment_op_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_PAYMENT_LIST,
                                 "SELECT " OP_COLS " FROM payment_ops"
                                 " WHERE merchant_id = ? AND link_id = ? ORDER BY id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, link_id);
    return each_op(tx, st, cb, cls, "payment op list");
}

enum db_status sql_payments_list_pending(struct db_tx *tx, usec_t due, usec_t before, int limit,
                                         db_payment_op_cb cb, void *cls)
{
    /* through payment_ops_repair, in its order */
    struct db_stmt *st = db_stmt(tx, STMT_PAYMENT_PENDING,
                                 "SELECT " OP_COLS " FROM payment_ops"
                                 " WHERE state = 0 AND repair_at <= ? AND created_at < ?"
                                 " ORDER BY repair_at LIMIT ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, due);
    db_bind_int(st, 2, before);
    db_bind_int(st, 3, limit);
    return each_op(tx, st, cb, cls, "payment op pending");
}

enum db_status sql_payments_claim_repair(struct db_tx *tx, const char *merchant_id, const char *ref,
                                         usec_t now, usec_t until)
{
    /* by its ref: `+state` keeps PostgreSQL off the pending indexes (see
     * PAYMENT_RUNNING in links.c) */
    struct db_stmt *st = db_stmt(tx, STMT_PAYMENT_REPAIR_AT,
                                 "UPDATE payment_ops SET repair_at = ?"
                                 " WHERE merchant_id = ? AND ref = ? AND +state = 0"
                                 " AND repair_at <= ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, until);
    db_bind_text(st, 2, merchant_id);
    db_bind_text(st, 3, ref);
    db_bind_int(st, 4, now);
    return db_exec(st, "payment op repair claim");
}
