/*
 * links.c — payment links and their history (SQLite).
 */
#include "db/sql/sql_internal.h"

#include <string.h>

#define LINK_COLS                                                                                  \
    "id, merchant_id, ref, token, order_number, channel, msisdn_to, msisdn_from, currency,"        \
    " total_minor, subtotal_minor, tax_minor, transaction_type, application_id,"                   \
    " gateway_settings_id, reconciliation_id, merchant_descriptor, additional_data, line_items,"   \
    " auto_reversal, request_timestamp, status, payment_status, live, created_at, expires_at,"     \
    " clicked_at, page_expires_at, receipt_ref, attempts, payment_status_at, conversion_at,"       \
    " receipt_link, receipt_state"

static void read_link(struct db_stmt *st, struct arena *a, struct db_link *l)
{
    memset(l, 0, sizeof *l);
    l->id = db_col_int(st, 0);
    db_col_copy(st, 1, l->merchant_id, sizeof l->merchant_id);
    db_col_copy(st, 2, l->ref, sizeof l->ref);
    db_col_copy(st, 3, l->token, sizeof l->token);
    l->order_number = db_col_dup(st, 4, a);
    l->channel = (int)db_col_int(st, 5);
    db_col_copy(st, 6, l->msisdn_to, sizeof l->msisdn_to);
    db_col_copy(st, 7, l->msisdn_from, sizeof l->msisdn_from);
    db_col_copy(st, 8, l->currency, sizeof l->currency);
    l->total_minor = db_col_int(st, 9);
    l->has_subtotal = !db_col_null(st, 10);
    l->subtotal_minor = db_col_int(st, 10);
    l->has_tax = !db_col_null(st, 11);
    l->tax_minor = db_col_int(st, 11);
    l->transaction_type = (int)db_col_int(st, 12);
    db_col_copy(st, 13, l->application_id, sizeof l->application_id);
    db_col_copy(st, 14, l->gateway_settings_id, sizeof l->gateway_settings_id);
    l->reconciliation_id = db_col_dup(st, 15, a);
    l->merchant_descriptor = db_col_dup(st, 16, a);
    l->additional_data = db_col_dup(st, 17, a);
    l->line_items = db_col_dup(st, 18, a);
    l->auto_reversal = (int)db_col_int(st, 19) != 0;
    l->request_timestamp = db_col_int(st, 20);
    l->status = (int)db_col_int(st, 21);
    l->payment_status = (int)db_col_int(st, 22);
    l->live = (int)db_col_int(st, 23) != 0;
    l->created_at = db_col_int(st, 24);
    l->expires_at = db_col_int(st, 25);
    l->clicked_at = db_col_int(st, 26);
    l->page_expires_at = db_col_int(st, 27);
    l->receipt_ref = db_col_dup(st, 28, a);
    l->attempts = (int)db_col_int(st, 29);
    l->payment_status_at = db_col_int(st, 30);
    l->conversion_at = db_col_int(st, 31);
    l->receipt_link = db_col_dup(st, 32, a);
    l->receipt_state = (int)db_col_int(st, 33);
}

/* A payment operation (authorize or sale) of the link still waits for the
 * gateway's answer. Found through the link's operations (payment_ops_link),
 * a few rows: `+o.state` keeps both planners off payment_ops_pending, which
 * holds every operation still waiting, of every link (thousands while a
 * gateway is down), and which PostgreSQL takes on tables it has not
 * analyzed yet. */
#define PAYMENT_RUNNING                                                                            \
    "EXISTS (SELECT 1 FROM payment_ops o WHERE o.link_id = links.id AND +o.state = 0"              \
    " AND o.op IN (1, 2))"

/* The strongest reason an order's live links give against a new link for
 * it, as `why` (enum order_block) with the link's `ref`: paid (SUCCESS), in
 * progress (UNKNOWN, REVIEW or a payment at the gateway), live (not
 * expired). Its arguments are the parameters of the time now, the merchant
 * and the order number. Through links_order: `+live` keeps PostgreSQL off
 * links_expiry (every live link of every merchant), which it takes on a
 * table it has not analyzed yet, making each creation slower than the
 * last. */
#define ORDER_BLOCK(now, merchant, order)                                                          \
    "SELECT ref, CASE WHEN payment_status = 1 THEN 3"                                              \
    " WHEN payment_status IN (4, 5) OR " PAYMENT_RUNNING " THEN 2"                                 \
    " WHEN expires_at > " now " THEN 1 ELSE 0 END AS why"                                          \
    " FROM links WHERE merchant_id = " merchant " AND order_number = " order " AND +live = 1"

#define LINK_INSERT_COLS                                                                           \
    "INSERT INTO links (merchant_id, ref, token, order_number, channel, msisdn_to,"                \
    " msisdn_from, currency, total_minor, subtotal_minor, tax_minor, transaction_type,"            \
    " application_id, gateway_settings_id, reconciliation_id, merchant_descriptor,"                \
    " additional_data, line_items, auto_reversal, request_timestamp, status,"                      \
    " payment_status, live, created_at, expires_at)"
#define LINK_VALUES "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
enum { LINK_INSERT_PARAMS = 25 };

#define STATUS_INSERT                                                                              \
    "INSERT INTO link_statuses (link_id, merchant_id, status, created_at, http_code,"              \
    " response_code, response_desc)"

static void bind_link(struct db_stmt *st, const struct db_link *l)
{
    db_bind_text(st, 1, l->merchant_id);
    db_bind_text(st, 2, l->ref);
    db_bind_text(st, 3, l->token);
    db_bind_text(st, 4, l->order_number);
    db_bind_int(st, 5, l->channel);
    db_bind_text(st, 6, l->msisdn_to);
    db_bind_text(st, 7, l->msisdn_from);
    db_bind_text(st, 8, l->currency);
    db_bind_int(st, 9, l->total_minor);
    if (l->has_subtotal)
        db_bind_int(st, 10, l->subtotal_minor);
    else
        db_bind_null(st, 10);
    if (l->has_tax)
        db_bind_int(st, 11, l->tax_minor);
    else
        db_bind_null(st, 11);
    db_bind_int(st, 12, l->transaction_type);
    db_bind_text(st, 13, l->application_id);
    db_bind_text(st, 14, l->gateway_settings_id);
    db_bind_text(st, 15, l->reconciliation_id);
    db_bind_text(st, 16, l->merchant_descriptor);
    db_bind_text(st, 17, l->additional_data);
    db_bind_text(st, 18, l->line_items);
    db_bind_int(st, 19, l->auto_reversal);
    db_bind_int(st, 20, l->request_timestamp);
    db_bind_int(st, 21, l->status);
    db_bind_int(st, 22, l->payment_status);
    db_bind_int(st, 23, l->live);
    db_bind_int(st, 24, l->created_at);
    db_bind_int(st, 25, l->expires_at);
}

/* A history entry's columns after its link's id, from parameter `first` on. */
static void bind_status(struct db_stmt *st, int first, const char *merchant_id,
                        const struct db_link_status *s)
{
    db_bind_text(st, first, merchant_id);
    db_bind_int(st, first + 1, s->status);
    db_bind_int(st, first + 2, s->created_at);
    db_bind_int(st, first + 3, s->http_code);
    db_bind_text(st, first + 4, s->response_code);
    db_bind_text(st, first + 5, s->response_desc);
}

/* PostgreSQL: the order's strongest reason (b), the link unless b holds
 * the order (l), its history entry with the id l returns (s), and one row:
 * the new id (NULL when refused), the reason, the holding link's ref. The
 * link's parameters come first (bind_link; ?24, its time, is the check's
 * now), then the history entry's (bind_status). */
#define LINK_ORDER_CHECK ORDER_BLOCK("?24", "?1", "?4") " ORDER BY why DESC, id DESC LIMIT 1"
#define LINK_INSERT_CHECKED                                                                        \
    "WITH b AS (" LINK_ORDER_CHECK "),"                                                            \
    " l AS (" LINK_INSERT_COLS                                                                     \
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, CAST(?10 AS BIGINT), CAST(?11 AS BIGINT),"        \
    " ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25"                        \
    " WHERE NOT EXISTS (SELECT 1 FROM b WHERE why > 0) RETURNING id),"                             \
    " s AS (" STATUS_INSERT " SELECT id, ?26, ?27, ?28, ?29, ?30, ?31 FROM l RETURNING link_id)"   \
    " SELECT (SELECT link_id FROM s), COALESCE((SELECT why FROM b), 0),"                           \
    " COALESCE((SELECT ref FROM b), '')"

enum db_status sql_links_insert(struct db_tx *tx, struct db_link *l,
                                const struct db_link_status *first, enum order_block *why,
                                char *ref)
{
    *why = ORDER_FREE;
    ref[0] = '\0';
    if (tx->db->backend->pg_dialect) {
        /* one statement, one round trip */
        struct db_stmt *st = db_stmt(tx, STMT_LINK_INSERT_CHECKED, LINK_INSERT_CHECKED);
        if (!st)
            return DB_HARD_ERROR;
        bind_link(st, l);
        bind_status(st, LINK_INSERT_PARAMS + 1, l->merchant_id, first);
        enum db_status rc = db_step(st, "link insert");
        enum db_status s = rc < 0 ? rc : DB_HARD_ERROR; /* it always gives one row */
        if (rc == DB_ONE_RESULT && !db_col_null(st, 0)) {
            l->id = db_col_int(st, 0);
            s = DB_ONE_RESULT;
        } else if (rc == DB_ONE_RESULT && db_col_int(st, 1) > 0) {
            *why = (enum order_block)db_col_int(st, 1);
            db_col_copy(st, 2, ref, DB_REF_LEN);
            s = DB_NO_RESULTS;
        }
        db_reset(st);
        return s;
    }
    enum db_status s =
        sql_links_order_block(tx, l->merchant_id, l->order_number, 0, l->created_at, why, ref);
    if (s < 0 || *why != ORDER_FREE)
        return s < 0 ? s : DB_NO_RESULTS;
    struct db_stmt *st = db_stmt(tx, STMT_LINK_INSERT, LINK_INSERT_COLS " VALUES " LINK_VALUES);
    if (!st)
        return DB_HARD_ERROR;
    bind_link(st, l);
    s = db_insert_id(st, &l->id, "link insert");
    if (s < 0)
        return s;
    enum db_status h = sql_links_status_append(tx, l->merchant_id, l->id, first);
    return h < 0 ? h : s;
}

/* Run a one-row link query whose parameters are already bound. */
static enum db_status one_link(struct db_tx *tx, struct db_stmt *st, struct arena *a,
                               struct db_link *out, const char *what)
{
    enum db_status rc = db_step(st, what);
    enum db_status s;
    if (rc == DB_ONE_RESULT) {
        read_link(st, a, out);
        s = DB_ONE_RESULT;
    } else {
        s = rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_links_get_by_ref(struct db_tx *tx, const char *merchant_id, const char *ref,
                                    struct arena *a, struct db_link *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_LINK_BY_REF,
                                 "SELECT " LINK_COLS " FROM links"
                                 " WHERE merchant_id = ? AND ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, ref);
    return one_link(tx, st, a, out, "link by ref");
}

enum db_status sql_links_get_by_order(struct db_tx *tx, const char *merchant_id,
                                      const char *order_number, struct arena *a,
                                      struct db_link *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_LINK_BY_ORDER,
                                 "SELECT " LINK_COLS " FROM links"
                                 " WHERE merchant_id = ? AND order_number = ?"
                                 " ORDER BY id DESC LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, order_number);
    return one_link(tx, st, a, out, "link by order");
}

enum db_status sql_links_get_by_receipt(struct db_tx *tx, const char *merchant_id,
                                        const char *receipt_ref, struct arena *a,
                                        struct db_link *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_LINK_BY_RECEIPT,
                                 "SELECT " LINK_COLS " FROM links"
                                 " WHERE merchant_id = ? AND receipt_ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, receipt_ref);
    return one_link(tx, st, a, out, "link by receipt");
}

enum db_status sql_links_get_by_id(struct db_tx *tx, const char *merchant_id, int64_t id,
                                   struct arena *a, struct db_link *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_LINK_BY_ID,
                                 "SELECT " LINK_COLS " FROM links"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, id);
    return one_link(tx, st, a, out, "link by id");
}

enum db_status sql_links_get_by_token(struct db_tx *tx, const char *token, struct arena *a,
                                      struct db_link *out)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_LINK_BY_TOKEN, "SELECT " LINK_COLS " FROM links WHERE token = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, token);
    return one_link(tx, st, a, out, "link by token");
}

enum db_status sql_links_order_block(struct db_tx *tx, const char *merchant_id,
                                     const char *order_number, int64_t except_id, usec_t now,
                                     enum order_block *reason, char *ref)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_LINK_ORDER_BLOCK,
                ORDER_BLOCK("?1", "?2", "?3") " AND id <> ?4 ORDER BY why DESC, id DESC LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, now);
    db_bind_text(st, 2, merchant_id);
    db_bind_text(st, 3, order_number);
    db_bind_int(st, 4, except_id);
    *reason = ORDER_FREE;
    ref[0] = '\0';
    enum db_status rc = db_step(st, "link order block");
    enum db_status s = DB_NO_RESULTS;
    if (rc == DB_ONE_RESULT) {
        int why = (int)db_col_int(st, 1);
        if (why > 0) {
            *reason = (enum order_block)why;
            db_col_copy(st, 0, ref, DB_REF_LEN);
            s = DB_ONE_RESULT;
        }
    } else if (rc != DB_NO_RESULTS) {
        s = rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_links_update(struct db_tx *tx, const struct db_link *l)
{
    struct db_stmt *st = db_stmt(tx, STMT_LINK_UPDATE,
                                 "UPDATE links SET status = ?, payment_status = ?, live = ?,"
                                 " expires_at = ?, clicked_at = ?, page_expires_at = ?,"
                                 " attempts = ?, payment_status_at = ?, conversion_at = ?,"
                                 " receipt_ref = ?, receipt_link = ?, receipt_state = ?,"
                                 " channel = ?, msisdn_from = ?"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, l->status);
    db_bind_int(st, 2, l->payment_status);
    db_bind_int(st, 3, l->live);
    db_bind_int(st, 4, l->expires_at);
    db_bind_int(st, 5, l->clicked_at);
    db_bind_int(st, 6, l->page_expires_at);
    db_bind_int(st, 7, l->attempts);
    db_bind_int(st, 8, l->payment_status_at);
    db_bind_int(st, 9, l->conversion_at);
    db_bind_text(st, 10, l->receipt_ref);
    db_bind_text(st, 11, l->receipt_link);
    db_bind_int(st, 12, l->receipt_state);
    db_bind_int(st, 13, l->channel);
    db_bind_text(st, 14, l->msisdn_from);
    db_bind_text(st, 15, l->merchant_id);
    db_bind_int(st, 16, l->id);
    return db_exec(st, "link update");
}

enum db_status sql_links_list_expired(struct db_tx *tx, usec_t now, int limit, db_link_id_cb cb,
                                      void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_LINK_EXPIRED,
                                 "SELECT id, merchant_id FROM links"
                                 " WHERE live = 1 AND expires_at <= ?"
                                 " AND payment_status IN (2, 3)" /* FAILED, PENDING */
                                 " AND NOT " PAYMENT_RUNNING " ORDER BY expires_at LIMIT ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, now);
    db_bind_int(st, 2, limit);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "expired")) == DB_ONE_RESULT) {
        char mid[DB_UUID_LEN];
        db_col_copy(st, 1, mid, sizeof mid);
        cb(cls, db_col_int(st, 0), mid);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}

enum db_status sql_links_status_append(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                       const struct db_link_status *s)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_LINK_STATUS_INSERT, STATUS_INSERT " VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, link_id);
    bind_status(st, 2, merchant_id, s);
    return db_exec(st, "link status insert");
}

enum db_status sql_links_status_list(struct db_tx *tx, const char *merchant_id, int64_t link_id,
                                     struct arena *a, db_link_status_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_LINK_STATUS_LIST,
                                 "SELECT status, created_at, http_code, response_code,"
                                 " response_desc FROM link_statuses"
                                 " WHERE merchant_id = ? AND link_id = ? ORDER BY id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, link_id);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "link status list")) == DB_ONE_RESULT) {
        struct db_link_status s = {
            .status = (int)db_col_int(st, 0),
            .created_at = db_col_int(st, 1),
            .http_code = (int)db_col_int(st, 2),
            .response_code = db_col_dup(st, 3, a),
            .response_desc = db_col_dup(st, 4, a),
        };
        cb(cls, &s);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}

enum db_status sql_settings_gateway_exists(struct db_tx *tx, const char *merchant_id,
                                           const char *id)
{
    struct db_stmt *st = db_stmt(tx, STMT_GATEWAY_EXISTS,
                                 "SELECT 1 FROM gateway_settings"
                                 " WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, id);
    return db_exists(st, "gateway settings exists");
}

enum db_status sql_settings_gateway_insert(struct db_tx *tx, const char *merchant_id,
                                           const char *id, const char *name, usec_t now)
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_GATEWAY_INSERT,
                                 "INSERT INTO gateway_settings (id, merchant_id, name,"
                                 " created_at) VALUES (?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, merchant_id);
    db_bind_text(st, 3, name);
    db_bind_int(st, 4, now);
    return db_exec(st, "gateway settings insert");
}
