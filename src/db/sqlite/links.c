/*
 * links.c — payment links and their history (SQLite).
 */
#include "db/sqlite/sqlite_internal.h"

#include <string.h>

#define LINK_COLS                                                                                  \
    "id, merchant_id, ref, token, order_number, channel, msisdn_to, msisdn_from, currency,"        \
    " total_minor, subtotal_minor, tax_minor, transaction_type, application_id,"                   \
    " gateway_settings_id, reconciliation_id, merchant_descriptor, additional_data, line_items,"   \
    " auto_reversal, request_timestamp, status, payment_status, live, created_at, expires_at,"     \
    " clicked_at, page_expires_at, receipt_ref, attempts, payment_status_at, conversion_at,"       \
    " receipt_link, receipt_state"

static void read_link(sqlite3_stmt *st, struct arena *a, struct db_link *l)
{
    memset(l, 0, sizeof *l);
    l->id = sqlite3_column_int64(st, 0);
    sqlite_col_text(st, 1, l->merchant_id, sizeof l->merchant_id);
    sqlite_col_text(st, 2, l->ref, sizeof l->ref);
    sqlite_col_text(st, 3, l->token, sizeof l->token);
    l->order_number = sqlite_col_dup(st, 4, a);
    l->channel = sqlite3_column_int(st, 5);
    sqlite_col_text(st, 6, l->msisdn_to, sizeof l->msisdn_to);
    sqlite_col_text(st, 7, l->msisdn_from, sizeof l->msisdn_from);
    sqlite_col_text(st, 8, l->currency, sizeof l->currency);
    l->total_minor = sqlite3_column_int64(st, 9);
    l->has_subtotal = sqlite3_column_type(st, 10) != SQLITE_NULL;
    l->subtotal_minor = sqlite3_column_int64(st, 10);
    l->has_tax = sqlite3_column_type(st, 11) != SQLITE_NULL;
    l->tax_minor = sqlite3_column_int64(st, 11);
    l->transaction_type = sqlite3_column_int(st, 12);
    sqlite_col_text(st, 13, l->application_id, sizeof l->application_id);
    sqlite_col_text(st, 14, l->gateway_settings_id, sizeof l->gateway_settings_id);
    l->reconciliation_id = sqlite_col_dup(st, 15, a);
    l->merchant_descriptor = sqlite_col_dup(st, 16, a);
    l->additional_data = sqlite_col_dup(st, 17, a);
    l->line_items = sqlite_col_dup(st, 18, a);
    l->auto_reversal = sqlite3_column_int(st, 19) != 0;
    l->request_timestamp = sqlite3_column_int64(st, 20);
    l->status = sqlite3_column_int(st, 21);
    l->payment_status = sqlite3_column_int(st, 22);
    l->live = sqlite3_column_int(st, 23) != 0;
    l->created_at = sqlite3_column_int64(st, 24);
    l->expires_at = sqlite3_column_int64(st, 25);
    l->clicked_at = sqlite3_column_int64(st, 26);
    l->page_expires_at = sqlite3_column_int64(st, 27);
    l->receipt_ref = sqlite_col_dup(st, 28, a);
    l->attempts = sqlite3_column_int(st, 29);
    l->payment_status_at = sqlite3_column_int64(st, 30);
    l->conversion_at = sqlite3_column_int64(st, 31);
    l->receipt_link = sqlite_col_dup(st, 32, a);
    l->receipt_state = sqlite3_column_int(st, 33);
}

enum db_status sqlite_links_insert(struct db_tx *tx, struct db_link *l)
{
    sqlite3_stmt *st = sqlite_stmt(
        tx, STMT_LINK_INSERT,
        "INSERT INTO links (merchant_id, ref, token, order_number, channel, msisdn_to,"
        " msisdn_from, currency, total_minor, subtotal_minor, tax_minor, transaction_type,"
        " application_id, gateway_settings_id, reconciliation_id, merchant_descriptor,"
        " additional_data, line_items, auto_reversal, request_timestamp, status,"
        " payment_status, live, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, l->merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, l->ref, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, l->token, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, l->order_number, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 5, l->channel);
    sqlite3_bind_text(st, 6, l->msisdn_to, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, l->msisdn_from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, l->currency, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, l->total_minor);
    if (l->has_subtotal)
        sqlite3_bind_int64(st, 10, l->subtotal_minor);
    else
        sqlite3_bind_null(st, 10);
    if (l->has_tax)
        sqlite3_bind_int64(st, 11, l->tax_minor);
    else
        sqlite3_bind_null(st, 11);
    sqlite3_bind_int(st, 12, l->transaction_type);
    sqlite3_bind_text(st, 13, l->application_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 14, l->gateway_settings_id, -1, SQLITE_TRANSIENT);
    sqlite_bind_text_or_null(st, 15, l->reconciliation_id);
    sqlite_bind_text_or_null(st, 16, l->merchant_descriptor);
    sqlite_bind_text_or_null(st, 17, l->additional_data);
    sqlite_bind_text_or_null(st, 18, l->line_items);
    sqlite3_bind_int(st, 19, l->auto_reversal);
    sqlite3_bind_int64(st, 20, l->request_timestamp);
    sqlite3_bind_int(st, 21, l->status);
    sqlite3_bind_int(st, 22, l->payment_status);
    sqlite3_bind_int(st, 23, l->live);
    sqlite3_bind_int64(st, 24, l->created_at);
    sqlite3_bind_int64(st, 25, l->expires_at);
    enum db_status s = sqlite_exec_stmt(tx, st, "link insert");
    if (s > 0)
        l->id = sqlite3_last_insert_rowid(((struct sqlite_conn *)tx->conn)->h);
    return s;
}

/* Run a one-row link query whose parameters are already bound. */
static enum db_status one_link(struct db_tx *tx, sqlite3_stmt *st, struct arena *a,
                               struct db_link *out, const char *what)
{
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        read_link(st, a, out);
        s = DB_ONE_RESULT;
    } else {
        s = sqlite_status(tx, rc, what);
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_links_get_by_ref(struct db_tx *tx, const char *merchant_id, const char *ref,
                                       struct arena *a, struct db_link *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_LINK_BY_REF,
                                   "SELECT " LINK_COLS " FROM links"
                                   " WHERE merchant_id = ? AND ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_TRANSIENT);
    return one_link(tx, st, a, out, "link by ref");
}

enum db_status sqlite_links_get_by_order(struct db_tx *tx, const char *merchant_id,
                                         const char *order_number, struct arena *a,
                                         struct db_link *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_LINK_BY_ORDER,
                                   "SELECT " LINK_COLS " FROM links"
                                   " WHERE merchant_id = ? AND order_number = ?"
                                   " ORDER BY id DESC LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, order_number, -1, SQLITE_TRANSIENT);
    return one_link(tx, st, a, out, "link by order");
}

enum db_status sqlite_links_get_by_receipt(struct db_tx *tx, const char *merchant_id,
                                           const char *receipt_ref, struct arena *a,
                                           struct db_link *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_LINK_BY_RECEIPT,
                                   "SELECT " LINK_COLS " FROM links"
                                   " WHERE merchant_id = ? AND receipt_ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, receipt_ref, -1, SQLITE_TRANSIENT);
    return one_link(tx, st, a, out, "link by receipt");
}

enum db_status sqlite_links_get_by_id(struct db_tx *tx, const char *merchant_id, int64_t id,
                                      struct arena *a, struct db_link *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_LINK_BY_ID,
                                   "SELECT " LINK_COLS " FROM links"
                                   " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, id);
    return one_link(tx, st, a, out, "link by id");
}

enum db_status sqlite_links_get_by_token(struct db_tx *tx, const char *token, struct arena *a,
                                         struct db_link *out)
{
    sqlite3_stmt *st =
        sqlite_stmt(tx, STMT_LINK_BY_TOKEN, "SELECT " LINK_COLS " FROM links WHERE token = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, token, -1, SQLITE_TRANSIENT);
    return one_link(tx, st, a, out, "link by token");
}

/* A payment operation (authorize or sale) of the link still waits for the
 * gateway's answer. */
#define PAYMENT_RUNNING(link)                                                                      \
    "EXISTS (SELECT 1 FROM payment_ops o WHERE o.link_id = " link " AND o.state = 0"               \
    " AND o.op IN (1, 2))"

enum db_status sqlite_links_order_block(struct db_tx *tx, const char *merchant_id,
                                        const char *order_number, int64_t except_id, usec_t now,
                                        enum order_block *reason, char *ref)
{
    /* the link's own reason: paid (SUCCESS), in progress (UNKNOWN, REVIEW or
     * a payment at the gateway), live (not expired); the strongest wins */
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_LINK_ORDER_BLOCK,
                                   "SELECT ref, CASE WHEN payment_status = 1 THEN 3"
                                   " WHEN payment_status IN (4, 5) OR " PAYMENT_RUNNING(
                                       "links.id") " THEN 2"
                                                   " WHEN expires_at > ? THEN 1 ELSE 0 END AS why"
                                                   " FROM links WHERE merchant_id = ? AND "
                                                   "order_number = ? AND live = 1 AND id <> ?"
                                                   " ORDER BY why DESC, id DESC LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, order_number, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, except_id);
    *reason = ORDER_FREE;
    ref[0] = '\0';
    int rc = sqlite3_step(st);
    enum db_status s = DB_NO_RESULTS;
    if (rc == SQLITE_ROW) {
        int why = sqlite3_column_int(st, 1);
        if (why > 0) {
            *reason = (enum order_block)why;
            sqlite_col_text(st, 0, ref, DB_REF_LEN);
            s = DB_ONE_RESULT;
        }
    } else if (rc != SQLITE_DONE) {
        s = sqlite_status(tx, rc, "link order block");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_links_update(struct db_tx *tx, const struct db_link *l)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_LINK_UPDATE,
                                   "UPDATE links SET status = ?, payment_status = ?, live = ?,"
                                   " expires_at = ?, clicked_at = ?, page_expires_at = ?,"
                                   " attempts = ?, payment_status_at = ?, conversion_at = ?,"
                                   " receipt_ref = ?, receipt_link = ?, receipt_state = ?,"
                                   " channel = ?, msisdn_from = ?"
                                   " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int(st, 1, l->status);
    sqlite3_bind_int(st, 2, l->payment_status);
    sqlite3_bind_int(st, 3, l->live);
    sqlite3_bind_int64(st, 4, l->expires_at);
    sqlite3_bind_int64(st, 5, l->clicked_at);
    sqlite3_bind_int64(st, 6, l->page_expires_at);
    sqlite3_bind_int(st, 7, l->attempts);
    sqlite3_bind_int64(st, 8, l->payment_status_at);
    sqlite3_bind_int64(st, 9, l->conversion_at);
    sqlite_bind_text_or_null(st, 10, l->receipt_ref);
    sqlite_bind_text_or_null(st, 11, l->receipt_link);
    sqlite3_bind_int(st, 12, l->receipt_state);
    sqlite3_bind_int(st, 13, l->channel);
    sqlite3_bind_text(st, 14, l->msisdn_from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 15, l->merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 16, l->id);
    return sqlite_exec_stmt(tx, st, "link update");
}

enum db_status sqlite_links_list_expired(struct db_tx *tx, usec_t now, int limit, db_link_id_cb cb,
                                         void *cls)
{
    sqlite3_stmt *st =
        sqlite_stmt(tx, STMT_LINK_EXPIRED,
                    "SELECT id, merchant_id FROM links"
                    " WHERE live = 1 AND expires_at <= ?"
                    " AND payment_status IN (2, 3)" /* FAILED, PENDING */
                    " AND NOT " PAYMENT_RUNNING("links.id") " ORDER BY expires_at LIMIT ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char mid[DB_UUID_LEN];
        sqlite_col_text(st, 1, mid, sizeof mid);
        cb(cls, sqlite3_column_int64(st, 0), mid);
        n++;
    }
    enum db_status s = rc == SQLITE_DONE ? (enum db_status)n : sqlite_status(tx, rc, "expired");
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_links_status_append(struct db_tx *tx, const char *merchant_id,
                                          int64_t link_id, const struct db_link_status *s)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_LINK_STATUS_INSERT,
                                   "INSERT INTO link_statuses (link_id, merchant_id, status,"
                                   " created_at, http_code, response_code, response_desc)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, link_id);
    sqlite3_bind_text(st, 2, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, s->status);
    sqlite3_bind_int64(st, 4, s->created_at);
    sqlite3_bind_int(st, 5, s->http_code);
    sqlite_bind_text_or_null(st, 6, s->response_code);
    sqlite_bind_text_or_null(st, 7, s->response_desc);
    return sqlite_exec_stmt(tx, st, "link status insert");
}

enum db_status sqlite_links_status_list(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                        struct arena *a, db_link_status_cb cb, void *cls)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_LINK_STATUS_LIST,
                                   "SELECT status, created_at, http_code, response_code,"
                                   " response_desc FROM link_statuses"
                                   " WHERE merchant_id = ? AND link_id = ? ORDER BY id");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, link_id);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_link_status s = {
            .status = sqlite3_column_int(st, 0),
            .created_at = sqlite3_column_int64(st, 1),
            .http_code = sqlite3_column_int(st, 2),
            .response_code = sqlite_col_dup(st, 3, a),
            .response_desc = sqlite_col_dup(st, 4, a),
        };
        cb(cls, &s);
        n++;
    }
    enum db_status s =
        rc == SQLITE_DONE ? (enum db_status)n : sqlite_status(tx, rc, "link status list");
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_settings_gateway_exists(struct db_tx *tx, const char *merchant_id,
                                              const char *id)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_GATEWAY_EXISTS,
                                   "SELECT 1 FROM gateway_settings"
                                   " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    return sqlite_exists(tx, st, "gateway settings exists");
}

enum db_status sqlite_settings_gateway_insert(struct db_tx *tx, const char *merchant_id,
                                              const char *id, const char *name, usec_t now)
{
    db_tx_config_changed(tx);
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_GATEWAY_INSERT,
                                   "INSERT INTO gateway_settings (id, merchant_id, name,"
                                   " created_at) VALUES (?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now);
    return sqlite_exec_stmt(tx, st, "gateway settings insert");
}
