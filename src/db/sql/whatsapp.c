/*
 * whatsapp.c — WhatsApp Pay's numbers, payment configurations, orders,
 * transactions and refunds (db/whatsapp.h).
 */
#include "db/sql/sql_internal.h"

#include <string.h>

#include "db/whatsapp.h"

/* Run a listing statement: cb per row read by `read`. */
#define LIST_ROWS(st, what, type, read_row, cb, cls)                                               \
    do {                                                                                           \
        enum db_status rc_;                                                                        \
        int n_ = 0;                                                                                \
        while ((rc_ = db_step(st, what)) == DB_ONE_RESULT) {                                       \
            type row_;                                                                             \
            read_row;                                                                              \
            cb(cls, &row_);                                                                        \
            n_++;                                                                                  \
        }                                                                                          \
        db_reset(st);                                                                              \
        return rc_ == DB_NO_RESULTS ? (enum db_status)n_ : rc_;                                    \
    } while (0)

/* ---- numbers ------------------------------------------------------------------------------ */

#define NUMBER_COLS "phone_number_id, merchant_id, display_number, enabled, created_at, updated_at"

static void read_number(struct db_stmt *st, void *cls)
{
    struct db_wa_number *n = cls;
    memset(n, 0, sizeof *n);
    db_col_copy(st, 0, n->phone_number_id, sizeof n->phone_number_id);
    db_col_copy(st, 1, n->merchant_id, sizeof n->merchant_id);
    db_col_copy(st, 2, n->display_number, sizeof n->display_number);
    n->enabled = db_col_int(st, 3) != 0;
    n->created_at = db_col_int(st, 4);
    n->updated_at = db_col_int(st, 5);
}

static enum db_status sql_wa_number_add(struct db_tx *tx, const struct db_wa_number *n)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_NUMBER_ADD,
                                 "INSERT INTO wa_numbers (" NUMBER_COLS ")"
                                 " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, n->phone_number_id);
    db_bind_text(st, 2, n->merchant_id);
    db_bind_text(st, 3, n->display_number);
    db_bind_int(st, 4, n->enabled);
    db_bind_int(st, 5, n->created_at);
    db_bind_int(st, 6, n->updated_at);
    return db_exec(st, "wa number add");
}

static enum db_status sql_wa_number_get(struct db_tx *tx, const char *merchant_id, const char *pnid,
                                        struct db_wa_number *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_NUMBER_GET,
                                 "SELECT " NUMBER_COLS " FROM wa_numbers"
                                 " WHERE merchant_id = ? AND phone_number_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, pnid);
    return db_one_row(st, "wa number get", read_number, out);
}

static enum db_status sql_wa_number_by_display(struct db_tx *tx, const char *merchant_id,
                                               const char *display, struct db_wa_number *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_NUMBER_BY_DISPLAY,
                                 "SELECT " NUMBER_COLS " FROM wa_numbers WHERE merchant_id = ?"
                                 " AND display_number = ? AND enabled = 1"
                                 " ORDER BY created_at LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, display);
    return db_one_row(st, "wa number by display", read_number, out);
}

static enum db_status sql_wa_number_enable(struct db_tx *tx, const char *merchant_id,
                                           const char *pnid, bool enabled, usec_t now)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_NUMBER_ENABLE,
                                 "UPDATE wa_numbers SET enabled = ?, updated_at = ?"
                                 " WHERE merchant_id = ? AND phone_number_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, enabled);
    db_bind_int(st, 2, now);
    db_bind_text(st, 3, merchant_id);
    db_bind_text(st, 4, pnid);
    return db_exec(st, "wa number enable");
}

static enum db_status sql_wa_number_list(struct db_tx *tx, const char *merchant_id,
                                         db_wa_number_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_NUMBER_LIST,
                                 "SELECT " NUMBER_COLS " FROM wa_numbers WHERE merchant_id = ?"
                                 " ORDER BY created_at, phone_number_id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    LIST_ROWS(st, "wa number list", struct db_wa_number, read_number(st, &row_), cb, cls);
}

/* ---- payment configurations --------------------------------------------------------------- */

#define CONFIG_COLS "merchant_id, name, gateway, enabled, created_at, updated_at"

static void read_config(struct db_stmt *st, void *cls)
{
    struct db_wa_config *c = cls;
    memset(c, 0, sizeof *c);
    db_col_copy(st, 0, c->merchant_id, sizeof c->merchant_id);
    db_col_copy(st, 1, c->name, sizeof c->name);
    db_col_copy(st, 2, c->gateway, sizeof c->gateway);
    c->enabled = db_col_int(st, 3) != 0;
    c->created_at = db_col_int(st, 4);
    c->updated_at = db_col_int(st, 5);
}

static enum db_status sql_wa_config_add(struct db_tx *tx, const struct db_wa_config *c)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_CONFIG_ADD,
                                 "INSERT INTO wa_payment_configs (" CONFIG_COLS ")"
                                 " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, c->merchant_id);
    db_bind_text(st, 2, c->name);
    db_bind_text(st, 3, c->gateway);
    db_bind_int(st, 4, c->enabled);
    db_bind_int(st, 5, c->created_at);
    db_bind_int(st, 6, c->updated_at);
    return db_exec(st, "wa config add");
}

static enum db_status sql_wa_config_get(struct db_tx *tx, const char *merchant_id, const char *name,
                                        struct db_wa_config *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_CONFIG_GET,
                                 "SELECT " CONFIG_COLS " FROM wa_payment_configs"
                                 " WHERE merchant_id = ? AND name = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, name);
    return db_one_row(st, "wa config get", read_config, out);
}

static enum db_status sql_wa_config_enable(struct db_tx *tx, const char *merchant_id,
                                           const char *name, bool enabled, usec_t now)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_CONFIG_ENABLE,
                                 "UPDATE wa_payment_configs SET enabled = ?, updated_at = ?"
                                 " WHERE merchant_id = ? AND name = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, enabled);
    db_bind_int(st, 2, now);
    db_bind_text(st, 3, merchant_id);
    db_bind_text(st, 4, name);
    return db_exec(st, "wa config enable");
}

static enum db_status sql_wa_config_list(struct db_tx *tx, const char *merchant_id,
                                         db_wa_config_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_CONFIG_LIST,
                                 "SELECT " CONFIG_COLS " FROM wa_payment_configs"
                                 " WHERE merchant_id = ? ORDER BY created_at, name");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    LIST_ROWS(st, "wa config list", struct db_wa_config, read_config(st, &row_), cb, cls);
}

/* ---- orders ------------------------------------------------------------------------------- */

#define ORDER_COLS                                                                                 \
    "id, merchant_id, reference_id, message_id, token, phone_number_id, payment_config,"           \
    " gateway, msisdn_to, currency, total_value, amount_offset, status, message_text,"             \
    " order_json, echo, message_state, created_at, updated_at"

struct order_read {
    struct arena *a;
    struct db_wa_order *out;
};

static void read_order(struct db_stmt *st, void *cls)
{
    struct order_read *r = cls;
    struct db_wa_order *o = r->out;
    memset(o, 0, sizeof *o);
    o->id = db_col_int(st, 0);
    db_col_copy(st, 1, o->merchant_id, sizeof o->merchant_id);
    db_col_copy(st, 2, o->reference_id, sizeof o->reference_id);
    db_col_copy(st, 3, o->message_id, sizeof o->message_id);
    db_col_copy(st, 4, o->token, sizeof o->token);
    db_col_copy(st, 5, o->phone_number_id, sizeof o->phone_number_id);
    db_col_copy(st, 6, o->payment_config, sizeof o->payment_config);
    db_col_copy(st, 7, o->gateway, sizeof o->gateway);
    db_col_copy(st, 8, o->msisdn_to, sizeof o->msisdn_to);
    db_col_copy(st, 9, o->currency, sizeof o->currency);
    o->total_value = db_col_int(st, 10);
    o->amount_offset = db_col_int(st, 11);
    int s = (int)db_col_int(st, 12);
    o->status = s == WA_ORDER_CAPTURED ? WA_ORDER_CAPTURED
                : s == WA_ORDER_FAILED ? WA_ORDER_FAILED
                                       : WA_ORDER_PENDING;
    o->message_text = db_col_dup(st, 13, r->a);
    o->order_json = db_col_dup(st, 14, r->a);
    o->echo = db_col_dup(st, 15, r->a);
    int m = (int)db_col_int(st, 16);
    o->message_state = m == WA_MSG_SENT     ? WA_MSG_SENT
                       : m == WA_MSG_FAILED ? WA_MSG_FAILED
                                            : WA_MSG_QUEUED;
    o->created_at = db_col_int(st, 17);
    o->updated_at = db_col_int(st, 18);
}

static enum db_status sql_wa_order_insert(struct db_tx *tx, struct db_wa_order *o)
{
    struct db_stmt *st = db_stmt(
        tx, STMT_WA_ORDER_INSERT,
        "INSERT INTO wa_orders (merchant_id, reference_id, message_id, token, phone_number_id,"
        " payment_config, gateway, msisdn_to, currency, total_value, amount_offset, status,"
        " message_text, order_json, echo, message_state, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING RETURNING id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, o->merchant_id);
    db_bind_text(st, 2, o->reference_id);
    db_bind_text(st, 3, o->message_id);
    db_bind_text(st, 4, o->token);
    db_bind_text(st, 5, o->phone_number_id);
    db_bind_text(st, 6, o->payment_config);
    db_bind_text(st, 7, o->gateway);
    db_bind_text(st, 8, o->msisdn_to);
    db_bind_text(st, 9, o->currency);
    db_bind_int(st, 10, o->total_value);
    db_bind_int(st, 11, o->amount_offset);
    db_bind_int(st, 12, o->status);
    db_bind_text(st, 13, o->message_text);
    db_bind_text(st, 14, o->order_json);
    db_bind_text(st, 15, o->echo);
    db_bind_int(st, 16, o->message_state);
    db_bind_int(st, 17, o->created_at);
    db_bind_int(st, 18, o->updated_at);
    return db_one_int(st, &o->id, "wa order insert");
}

static enum db_status sql_wa_order_by_ref(struct db_tx *tx, const char *merchant_id,
                                          const char *ref, struct arena *a, struct db_wa_order *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_ORDER_BY_REF,
                                 "SELECT " ORDER_COLS " FROM wa_orders"
                                 " WHERE merchant_id = ? AND reference_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, ref);
    return db_one_row(st, "wa order by ref", read_order, &(struct order_read){a, out});
}

static enum db_status sql_wa_order_by_token(struct db_tx *tx, const char *token, struct arena *a,
                                            struct db_wa_order *out)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_WA_ORDER_BY_TOKEN, "SELECT " ORDER_COLS " FROM wa_orders WHERE token = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, token);
    return db_one_row(st, "wa order by token", read_order, &(struct order_read){a, out});
}

static enum db_status sql_wa_order_get(struct db_tx *tx, const char *merchant_id, int64_t id,
                                       struct arena *a, struct db_wa_order *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_ORDER_GET,
                                 "SELECT " ORDER_COLS " FROM wa_orders"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, id);
    return db_one_row(st, "wa order get", read_order, &(struct order_read){a, out});
}

static enum db_status sql_wa_order_update(struct db_tx *tx, const struct db_wa_order *o)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_ORDER_UPDATE,
                                 "UPDATE wa_orders SET status = ?, message_state = ?,"
                                 " updated_at = ? WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, o->status);
    db_bind_int(st, 2, o->message_state);
    db_bind_int(st, 3, o->updated_at);
    db_bind_text(st, 4, o->merchant_id);
    db_bind_int(st, 5, o->id);
    return db_exec(st, "wa order update");
}

/* ---- transactions ------------------------------------------------------------------------- */

#define TXN_COLS                                                                                   \
    "id, order_id, merchant_id, ref, status, method, error_code, error_reason, created_at,"        \
    " updated_at"

static void read_txn(struct db_stmt *st, struct arena *a, struct db_wa_txn *t)
{
    memset(t, 0, sizeof *t);
    t->id = db_col_int(st, 0);
    t->order_id = db_col_int(st, 1);
    db_col_copy(st, 2, t->merchant_id, sizeof t->merchant_id);
    db_col_copy(st, 3, t->ref, sizeof t->ref);
    int s = (int)db_col_int(st, 4);
    t->status = s == WA_SUCCESS ? WA_SUCCESS : s == WA_FAILED ? WA_FAILED : WA_PENDING;
    db_col_copy(st, 5, t->method, sizeof t->method);
    t->error_code = db_col_dup(st, 6, a);
    t->error_reason = db_col_dup(st, 7, a);
    t->created_at = db_col_int(st, 8);
    t->updated_at = db_col_int(st, 9);
}

static enum db_status sql_wa_txn_insert(struct db_tx *tx, struct db_wa_txn *t)
{
    struct db_stmt *st =
        INSERT_ID_STMT(tx, STMT_WA_TXN_INSERT,
                       "INSERT INTO wa_transactions (order_id, merchant_id, ref, status,"
                       " method, error_code, error_reason, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, t->order_id);
    db_bind_text(st, 2, t->merchant_id);
    db_bind_text(st, 3, t->ref);
    db_bind_int(st, 4, t->status);
    db_bind_text(st, 5, t->method);
    db_bind_text(st, 6, t->error_code);
    db_bind_text(st, 7, t->error_reason);
    db_bind_int(st, 8, t->created_at);
    db_bind_int(st, 9, t->updated_at);
    return db_insert_id(st, &t->id, "wa txn insert");
}

static enum db_status sql_wa_txn_update(struct db_tx *tx, const struct db_wa_txn *t)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_TXN_UPDATE,
                                 "UPDATE wa_transactions SET status = ?, method = ?,"
                                 " error_code = ?, error_reason = ?, updated_at = ?"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, t->status);
    db_bind_text(st, 2, t->method);
    db_bind_text(st, 3, t->error_code);
    db_bind_text(st, 4, t->error_reason);
    db_bind_int(st, 5, t->updated_at);
    db_bind_text(st, 6, t->merchant_id);
    db_bind_int(st, 7, t->id);
    return db_exec(st, "wa txn update");
}

static enum db_status sql_wa_txn_list(struct db_tx *tx, const char *merchant_id, int64_t order_id,
                                      struct arena *a, db_wa_txn_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_TXN_LIST,
                                 "SELECT " TXN_COLS " FROM wa_transactions"
                                 " WHERE merchant_id = ? AND order_id = ? ORDER BY id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, order_id);
    LIST_ROWS(st, "wa txn list", struct db_wa_txn, read_txn(st, a, &row_), cb, cls);
}

/* ---- refunds ------------------------------------------------------------------------------ */

#define REFUND_COLS                                                                                \
    "id, transaction_id, order_id, merchant_id, ref, amount, speed, status, created_at,"           \
    " updated_at"

static void read_refund(struct db_stmt *st, void *cls)
{
    struct db_wa_refund *r = cls;
    memset(r, 0, sizeof *r);
    r->id = db_col_int(st, 0);
    r->transaction_id = db_col_int(st, 1);
    r->order_id = db_col_int(st, 2);
    db_col_copy(st, 3, r->merchant_id, sizeof r->merchant_id);
    db_col_copy(st, 4, r->ref, sizeof r->ref);
    r->amount = db_col_int(st, 5);
    db_col_copy(st, 6, r->speed, sizeof r->speed);
    int s = (int)db_col_int(st, 7);
    r->status = s == WA_SUCCESS ? WA_SUCCESS : s == WA_FAILED ? WA_FAILED : WA_PENDING;
    r->created_at = db_col_int(st, 8);
    r->updated_at = db_col_int(st, 9);
}

static enum db_status sql_wa_refund_insert(struct db_tx *tx, struct db_wa_refund *r)
{
    struct db_stmt *st =
        INSERT_ID_STMT(tx, STMT_WA_REFUND_INSERT,
                       "INSERT INTO wa_refunds (transaction_id, order_id, merchant_id,"
                       " ref, amount, speed, status, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, r->transaction_id);
    db_bind_int(st, 2, r->order_id);
    db_bind_text(st, 3, r->merchant_id);
    db_bind_text(st, 4, r->ref);
    db_bind_int(st, 5, r->amount);
    db_bind_text(st, 6, r->speed);
    db_bind_int(st, 7, r->status);
    db_bind_int(st, 8, r->created_at);
    db_bind_int(st, 9, r->updated_at);
    return db_insert_id(st, &r->id, "wa refund insert");
}

static enum db_status sql_wa_refund_get(struct db_tx *tx, const char *merchant_id, int64_t id,
                                        struct db_wa_refund *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_REFUND_GET,
                                 "SELECT " REFUND_COLS " FROM wa_refunds"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, id);
    return db_one_row(st, "wa refund get", read_refund, out);
}

static enum db_status sql_wa_refund_update(struct db_tx *tx, const struct db_wa_refund *r)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_REFUND_UPDATE,
                                 "UPDATE wa_refunds SET status = ?, updated_at = ?"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, r->status);
    db_bind_int(st, 2, r->updated_at);
    db_bind_text(st, 3, r->merchant_id);
    db_bind_int(st, 4, r->id);
    return db_exec(st, "wa refund update");
}

static enum db_status sql_wa_refund_list(struct db_tx *tx, const char *merchant_id,
                                         int64_t order_id, db_wa_refund_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_REFUND_LIST,
                                 "SELECT " REFUND_COLS " FROM wa_refunds"
                                 " WHERE merchant_id = ? AND order_id = ? ORDER BY id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, order_id);
    LIST_ROWS(st, "wa refund list", struct db_wa_refund, read_refund(st, &row_), cb, cls);
}

static enum db_status sql_wa_refund_total(struct db_tx *tx, const char *merchant_id,
                                          int64_t transaction_id, int64_t *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_WA_REFUND_TOTAL,
                                 "SELECT COALESCE(SUM(amount), 0) FROM wa_refunds"
                                 " WHERE merchant_id = ? AND transaction_id = ? AND status <> 2");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, transaction_id);
    return db_one_int(st, out, "wa refund total");
}

const struct db_whatsapp_ops sql_whatsapp_ops = {
    .number_add = sql_wa_number_add,
    .number_get = sql_wa_number_get,
    .number_by_display = sql_wa_number_by_display,
    .number_enable = sql_wa_number_enable,
    .number_list = sql_wa_number_list,
    .config_add = sql_wa_config_add,
    .config_get = sql_wa_config_get,
    .config_enable = sql_wa_config_enable,
    .config_list = sql_wa_config_list,
    .order_insert = sql_wa_order_insert,
    .order_by_ref = sql_wa_order_by_ref,
    .order_by_token = sql_wa_order_by_token,
    .order_get = sql_wa_order_get,
    .order_update = sql_wa_order_update,
    .txn_insert = sql_wa_txn_insert,
    .txn_update = sql_wa_txn_update,
    .txn_list = sql_wa_txn_list,
    .refund_insert = sql_wa_refund_insert,
    .refund_get = sql_wa_refund_get,
    .refund_update = sql_wa_refund_update,
    .refund_list = sql_wa_refund_list,
    .refund_total = sql_wa_refund_total,
};
