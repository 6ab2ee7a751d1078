/*
 * merchants.c — merchants, their supported currencies and logos (SQLite).
 *
 * The logo's bytes are read only by merchants.logo_get (the page that shows
 * it); reads of a merchant carry just its type and size.
 */
#include "db/sqlite/sqlite_internal.h"

#include <string.h>

#define MERCHANT_COLS                                                                              \
    "id, name, environment, sms_enabled, whatsapp_enabled, created_at, updated_at,"                \
    " default_transaction_type, link_ttl_s, click_ttl_s, page_ttl_s, sms_from, whatsapp_from,"     \
    " max_payment_attempts, settlement_delay_s, review_settle_s, sms_provider_id,"                 \
    " whatsapp_provider_id, fallback_sms, reminders, quiet_start, quiet_end, timezone,"            \
    " wa_template, wa_template_lang, wa_template_params, gateway_provider_id"
/* what reads select: the columns above, then the logo's type and size */
#define MERCHANT_SELECT MERCHANT_COLS ", COALESCE(logo_type, ''), COALESCE(length(logo), 0)"

static void read_merchant(sqlite3_stmt *st, struct db_merchant *m)
{
    memset(m, 0, sizeof *m);
    sqlite_col_text(st, 0, m->id, sizeof m->id);
    sqlite_col_text(st, 1, m->name, sizeof m->name);
    char env[16];
    sqlite_col_text(st, 2, env, sizeof env);
    m->environment = strcmp(env, "PRODUCTION") == 0 ? ENV_PRODUCTION : ENV_SANDBOX;
    m->sms_enabled = sqlite3_column_int(st, 3) != 0;
    m->whatsapp_enabled = sqlite3_column_int(st, 4) != 0;
    m->created_at = sqlite3_column_int64(st, 5);
    m->updated_at = sqlite3_column_int64(st, 6);
    m->default_transaction_type = sqlite3_column_int(st, 7);
    m->link_ttl_s = sqlite3_column_int64(st, 8);
    m->click_ttl_s = sqlite3_column_int64(st, 9);
    m->page_ttl_s = sqlite3_column_int64(st, 10);
    sqlite_col_text(st, 11, m->sms_from, sizeof m->sms_from);
    sqlite_col_text(st, 12, m->whatsapp_from, sizeof m->whatsapp_from);
    m->max_payment_attempts = sqlite3_column_int(st, 13);
    m->settlement_delay_s = sqlite3_column_int64(st, 14);
    m->review_settle_s = sqlite3_column_int64(st, 15);
    sqlite_col_text(st, 16, m->sms_provider, sizeof m->sms_provider);
    sqlite_col_text(st, 17, m->whatsapp_provider, sizeof m->whatsapp_provider);
    m->fallback_sms = sqlite3_column_int(st, 18) != 0;
    sqlite_col_text(st, 19, m->reminders, sizeof m->reminders);
    m->quiet_start = sqlite3_column_int(st, 20);
    m->quiet_end = sqlite3_column_int(st, 21);
    sqlite_col_text(st, 22, m->timezone, sizeof m->timezone);
    sqlite_col_text(st, 23, m->wa_template, sizeof m->wa_template);
    sqlite_col_text(st, 24, m->wa_template_lang, sizeof m->wa_template_lang);
    sqlite_col_text(st, 25, m->wa_template_params, sizeof m->wa_template_params);
    sqlite_col_text(st, 26, m->gateway_provider, sizeof m->gateway_provider);
    sqlite_col_text(st, 27, m->logo_type, sizeof m->logo_type);
    m->logo_bytes = sqlite3_column_int64(st, 28);
}

/* Bind the settable columns at positions first..first+25 (all but id). */
static void bind_merchant(sqlite3_stmt *st, int first, const struct db_merchant *m)
{
    sqlite3_bind_text(st, first, m->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 1, db_environment_name(m->environment), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, first + 2, m->sms_enabled);
    sqlite3_bind_int(st, first + 3, m->whatsapp_enabled);
    sqlite3_bind_int64(st, first + 4, m->created_at);
    sqlite3_bind_int64(st, first + 5, m->updated_at);
    sqlite3_bind_int(st, first + 6, m->default_transaction_type ? m->default_transaction_type : 2);
    sqlite3_bind_int64(st, first + 7, m->link_ttl_s ? m->link_ttl_s : DB_DEFAULT_LINK_TTL_S);
    sqlite3_bind_int64(st, first + 8, m->click_ttl_s ? m->click_ttl_s : DB_DEFAULT_CLICK_TTL_S);
    sqlite3_bind_int64(st, first + 9, m->page_ttl_s ? m->page_ttl_s : DB_DEFAULT_PAGE_TTL_S);
    sqlite3_bind_text(st, first + 10, m->sms_from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 11, m->whatsapp_from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, first + 12,
                     m->max_payment_attempts ? m->max_payment_attempts
                                             : DB_DEFAULT_PAYMENT_ATTEMPTS);
    sqlite3_bind_int64(st, first + 13,
                       m->settlement_delay_s ? m->settlement_delay_s : DB_DEFAULT_SETTLEMENT_S);
    sqlite3_bind_int64(st, first + 14,
                       m->review_settle_s ? m->review_settle_s : DB_DEFAULT_REVIEW_S);
    sqlite3_bind_text(st, first + 15, m->sms_provider, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 16, m->whatsapp_provider, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, first + 17, m->fallback_sms);
    sqlite3_bind_text(st, first + 18, m->reminders, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, first + 19, m->quiet_start);
    sqlite3_bind_int(st, first + 20, m->quiet_end);
    sqlite3_bind_text(st, first + 21, m->timezone[0] ? m->timezone : "UTC", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 22, m->wa_template, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 23, m->wa_template_lang, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 24, m->wa_template_params, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, first + 25, m->gateway_provider, -1, SQLITE_TRANSIENT);
}

enum db_status sqlite_merchants_insert(struct db_tx *tx, const struct db_merchant *m)
{
    db_tx_config_changed(tx);
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MERCHANT_INSERT,
                                   "INSERT INTO merchants (" MERCHANT_COLS ")"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                                   " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, m->id, -1, SQLITE_TRANSIENT);
    bind_merchant(st, 2, m);
    return sqlite_exec_stmt(tx, st, "merchant insert");
}

enum db_status sqlite_merchants_get(struct db_tx *tx, const char *merchant_id,
                                    struct db_merchant *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MERCHANT_GET,
                                   "SELECT " MERCHANT_SELECT " FROM merchants WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        read_merchant(st, out);
        s = DB_ONE_RESULT;
    } else {
        s = sqlite_status(tx, rc, "merchant get");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_merchants_update(struct db_tx *tx, const struct db_merchant *m)
{
    db_tx_config_changed(tx);
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MERCHANT_UPDATE,
                                   "UPDATE merchants SET name = ?, environment = ?,"
                                   " sms_enabled = ?, whatsapp_enabled = ?, created_at = ?,"
                                   " updated_at = ?, default_transaction_type = ?,"
                                   " link_ttl_s = ?, click_ttl_s = ?, page_ttl_s = ?,"
                                   " sms_from = ?, whatsapp_from = ?, max_payment_attempts = ?,"
                                   " settlement_delay_s = ?, review_settle_s = ?,"
                                   " sms_provider_id = ?, whatsapp_provider_id = ?,"
                                   " fallback_sms = ?, reminders = ?, quiet_start = ?,"
                                   " quiet_end = ?, timezone = ?, wa_template = ?,"
                                   " wa_template_lang = ?, wa_template_params = ?,"
                                   " gateway_provider_id = ?"
                                   " WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    bind_merchant(st, 1, m);
    sqlite3_bind_text(st, 27, m->id, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "merchant update");
}

enum db_status sqlite_merchants_touch(struct db_tx *tx, const char *merchant_id, usec_t now)
{
    db_tx_config_changed(tx);
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MERCHANT_TOUCH,
                                   "UPDATE merchants SET updated_at = MAX(updated_at, ?)"
                                   " WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, merchant_id, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "merchant touch");
}

enum db_status sqlite_merchants_count(struct db_tx *tx, int64_t *n)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MERCHANT_COUNT, "SELECT COUNT(*) FROM merchants");
    if (!st)
        return DB_HARD_ERROR;
    return sqlite_one_int64(tx, st, n, "merchant count");
}

enum db_status sqlite_merchants_list(struct db_tx *tx, db_merchant_cb cb, void *cls)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MERCHANT_LIST,
                                   "SELECT " MERCHANT_SELECT " FROM merchants"
                                   " ORDER BY created_at, id");
    if (!st)
        return DB_HARD_ERROR;
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_merchant m;
        read_merchant(st, &m);
        cb(cls, &m);
        n++;
    }
    enum db_status s =
        rc == SQLITE_DONE ? (enum db_status)n : sqlite_status(tx, rc, "merchant list");
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_merchants_logo_set(struct db_tx *tx, const char *merchant_id,
                                         const char *type, const void *data, size_t len, usec_t now)
{
    db_tx_config_changed(tx);
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MERCHANT_LOGO_SET,
                                   "UPDATE merchants SET logo = ?, logo_type = ?,"
                                   " updated_at = MAX(updated_at, ?) WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    if (type != NULL && len <= INT32_MAX) {
        sqlite3_bind_blob(st, 1, data, (int)len, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, type, -1, SQLITE_TRANSIENT);
    } else if (type != NULL) {
        return DB_HARD_ERROR;
    }
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, merchant_id, -1, SQLITE_TRANSIENT);
    return sqlite_exec_stmt(tx, st, "merchant logo set");
}

enum db_status sqlite_merchants_logo_get(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                         struct db_logo *out)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_MERCHANT_LOGO_GET,
                                   "SELECT logo_type, logo, updated_at FROM merchants"
                                   " WHERE id = ? AND logo IS NOT NULL AND logo_type IS NOT NULL");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        sqlite_col_text(st, 0, out->type, sizeof out->type);
        const void *blob = sqlite3_column_blob(st, 1);
        int n = sqlite3_column_bytes(st, 1);
        out->len = n > 0 ? (size_t)n : 0;
        void *copy = arena_alloc(a, out->len + 1);
        if (out->len > 0)
            memcpy(copy, blob, out->len);
        out->data = copy;
        out->updated_at = sqlite3_column_int64(st, 2);
        s = DB_ONE_RESULT;
    } else {
        s = sqlite_status(tx, rc, "merchant logo get");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_currencies_set(struct db_tx *tx, const char *merchant_id,
                                     const struct db_currency *list, size_t n)
{
    db_tx_config_changed(tx);
    sqlite3_stmt *del = sqlite_stmt(tx, STMT_CURRENCY_DELETE,
                                    "DELETE FROM merchant_currencies WHERE merchant_id = ?");
    if (!del)
        return DB_HARD_ERROR;
    sqlite3_bind_text(del, 1, merchant_id, -1, SQLITE_TRANSIENT);
    enum db_status s = sqlite_exec_stmt(tx, del, "currency delete");
    if (s < 0)
        return s;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *ins = sqlite_stmt(tx, STMT_CURRENCY_INSERT,
                                        "INSERT INTO merchant_currencies"
                                        " (merchant_id, code, position, is_default)"
                                        " VALUES (?, ?, ?, ?)");
        if (!ins)
            return DB_HARD_ERROR;
        sqlite3_bind_text(ins, 1, merchant_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, list[i].code, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 3, (sqlite3_int64)i);
        sqlite3_bind_int(ins, 4, list[i].is_default);
        s = sqlite_exec_stmt(tx, ins, "currency insert");
        if (s < 0)
            return s;
    }
    return (enum db_status)n;
}

enum db_status sqlite_currencies_list(struct db_tx *tx, const char *merchant_id,
                                      struct db_currency *out, size_t cap, size_t *n)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_CURRENCY_LIST,
                                   "SELECT code, is_default FROM merchant_currencies"
                                   " WHERE merchant_id = ? ORDER BY position");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < cap) {
        sqlite_col_text(st, 0, out[*n].code, sizeof out[*n].code);
        out[*n].is_default = sqlite3_column_int(st, 1) != 0;
        (*n)++;
    }
    enum db_status s = (rc == SQLITE_DONE || rc == SQLITE_ROW)
                           ? (enum db_status) * n
                           : sqlite_status(tx, rc, "currency list");
    sqlite3_reset(st);
    return s;
}
