/*
 * merchants.c — merchants, their supported currencies and logos (SQLite).
 *
 * The logo's bytes are read only by merchants.logo_get (the page that shows
 * it); reads of a merchant carry just its type and size.
 */
#include "db/sql/sql_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MERCHANT_COLS                                                                              \
    "id, name, environment, sms_enabled, whatsapp_enabled, created_at, updated_at,"                \
    " default_transaction_type, link_ttl_s, click_ttl_s, page_ttl_s, sms_from, whatsapp_from,"     \
    " max_payment_attempts, settlement_delay_s, review_settle_s, sms_provider_id,"                 \
    " whatsapp_provider_id, fallback_sms, reminders, quiet_start, quiet_end, timezone,"            \
    " wa_template, wa_template_lang, wa_template_params, gateway_provider_id"
/* what reads select: the columns above, then the logo's type and size */
#define MERCHANT_SELECT MERCHANT_COLS ", COALESCE(logo_type, ''), COALESCE(length(logo), 0)"

static void read_merchant(struct db_stmt *st, struct db_merchant *m)
{
    memset(m, 0, sizeof *m);
    db_col_copy(st, 0, m->id, sizeof m->id);
    db_col_copy(st, 1, m->name, sizeof m->name);
    char env[16];
    db_col_copy(st, 2, env, sizeof env);
    m->environment = strcmp(env, "PRODUCTION") == 0 ? ENV_PRODUCTION : ENV_SANDBOX;
    m->sms_enabled = (int)db_col_int(st, 3) != 0;
    m->whatsapp_enabled = (int)db_col_int(st, 4) != 0;
    m->created_at = db_col_int(st, 5);
    m->updated_at = db_col_int(st, 6);
    m->default_transaction_type = (int)db_col_int(st, 7);
    m->link_ttl_s = db_col_int(st, 8);
    m->click_ttl_s = db_col_int(st, 9);
    m->page_ttl_s = db_col_int(st, 10);
    db_col_copy(st, 11, m->sms_from, sizeof m->sms_from);
    db_col_copy(st, 12, m->whatsapp_from, sizeof m->whatsapp_from);
    m->max_payment_attempts = (int)db_col_int(st, 13);
    m->settlement_delay_s = db_col_int(st, 14);
    m->review_settle_s = db_col_int(st, 15);
    db_col_copy(st, 16, m->sms_provider, sizeof m->sms_provider);
    db_col_copy(st, 17, m->whatsapp_provider, sizeof m->whatsapp_provider);
    m->fallback_sms = (int)db_col_int(st, 18) != 0;
    db_col_copy(st, 19, m->reminders, sizeof m->reminders);
    m->quiet_start = (int)db_col_int(st, 20);
    m->quiet_end = (int)db_col_int(st, 21);
    db_col_copy(st, 22, m->timezone, sizeof m->timezone);
    db_col_copy(st, 23, m->wa_template, sizeof m->wa_template);
    db_col_copy(st, 24, m->wa_template_lang, sizeof m->wa_template_lang);
    db_col_copy(st, 25, m->wa_template_params, sizeof m->wa_template_params);
    db_col_copy(st, 26, m->gateway_provider, sizeof m->gateway_provider);
    db_col_copy(st, 27, m->logo_type, sizeof m->logo_type);
    m->logo_bytes = db_col_int(st, 28);
}

/* Bind the settable columns at positions first..first+25 (all but id). */
static void bind_merchant(struct db_stmt *st, int first, const struct db_merchant *m)
{
    db_bind_text(st, first, m->name);
    db_bind_text(st, first + 1, db_environment_name(m->environment));
    db_bind_int(st, first + 2, m->sms_enabled);
    db_bind_int(st, first + 3, m->whatsapp_enabled);
    db_bind_int(st, first + 4, m->created_at);
    db_bind_int(st, first + 5, m->updated_at);
    db_bind_int(st, first + 6, m->default_transaction_type ? m->default_transaction_type : 2);
    db_bind_int(st, first + 7, m->link_ttl_s ? m->link_ttl_s : DB_DEFAULT_LINK_TTL_S);
    db_bind_int(st, first + 8, m->click_ttl_s ? m->click_ttl_s : DB_DEFAULT_CLICK_TTL_S);
    db_bind_int(st, first + 9, m->page_ttl_s ? m->page_ttl_s : DB_DEFAULT_PAGE_TTL_S);
    db_bind_text(st, first + 10, m->sms_from);
    db_bind_text(st, first + 11, m->whatsapp_from);
    db_bind_int(st, first + 12,
                m->max_payment_attempts ? m->max_payment_attempts : DB_DEFAULT_PAYMENT_ATTEMPTS);
    db_bind_int(st, first + 13,
                m->settlement_delay_s ? m->settlement_delay_s : DB_DEFAULT_SETTLEMENT_S);
    db_bind_int(st, first + 14, m->review_settle_s ? m->review_settle_s : DB_DEFAULT_REVIEW_S);
    db_bind_text(st, first + 15, m->sms_provider);
    db_bind_text(st, first + 16, m->whatsapp_provider);
    db_bind_int(st, first + 17, m->fallback_sms);
    db_bind_text(st, first + 18, m->reminders);
    db_bind_int(st, first + 19, m->quiet_start);
    db_bind_int(st, first + 20, m->quiet_end);
    db_bind_text(st, first + 21, m->timezone[0] ? m->timezone : "UTC");
    db_bind_text(st, first + 22, m->wa_template);
    db_bind_text(st, first + 23, m->wa_template_lang);
    db_bind_text(st, first + 24, m->wa_template_params);
    db_bind_text(st, first + 25, m->gateway_provider);
}

enum db_status sql_merchants_insert(struct db_tx *tx, const struct db_merchant *m)
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_MERCHANT_INSERT,
                                 "INSERT INTO merchants (" MERCHANT_COLS ")"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                                 " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, m->id);
    bind_merchant(st, 2, m);
    return db_exec(st, "merchant insert");
}

/* What this transaction read of one merchant: its row with its callback
 * configuration, and its currencies. A group commit runs many requests of
 * one merchant in one transaction (a round trip each on PostgreSQL); each
 * reads the merchant, and all but the first find it here. The transaction
 * sees the same row however often it reads it, but for its own writes:
 * db_tx_forget empties this when one may have changed it. */
struct db_merchant_cache {
    char merchant_id[DB_UUID_LEN]; /* whose ("" nobody's) */
    bool has_row;
    struct db_merchant m;
    struct db_callback_config cfg; /* without its urls: */
    bool has_url[CB_KINDS];
    char url[CB_KINDS][DB_URL_MAX + 1];
    bool has_currencies;
    size_t ncur;
    struct db_currency cur[DB_MAX_CURRENCIES];
};

void db_tx_forget(struct db_tx *tx)
{
    if (tx->merchant_cache)
        tx->merchant_cache->merchant_id[0] = '\0';
}

/* The cache if it holds merchant_id's reads, else NULL. */
static struct db_merchant_cache *cached(struct db_tx *tx, const char *merchant_id)
{
    struct db_merchant_cache *c = tx->merchant_cache;
    return c && c->merchant_id[0] && strcmp(c->merchant_id, merchant_id) == 0 ? c : NULL;
}

/* The cache, made merchant_id's (emptied if it held another's); NULL when
 * out of memory (nothing is kept then). */
static struct db_merchant_cache *cache_for(struct db_tx *tx, const char *merchant_id)
{
    struct db_merchant_cache *c = cached(tx, merchant_id);
    if (c)
        return c;
    if (!tx->merchant_cache && !(tx->merchant_cache = calloc(1, sizeof *tx->merchant_cache)))
        return NULL;
    c = tx->merchant_cache;
    c->has_row = c->has_currencies = false;
    snprintf(c->merchant_id, sizeof c->merchant_id, "%s", merchant_id);
    return c;
}

static void cache_row(struct db_tx *tx, const struct db_merchant *m,
                      const struct db_callback_config *cfg)
{
    struct db_merchant_cache *c = cache_for(tx, m->id);
    if (!c)
        return;
    for (int k = 0; k < CB_KINDS; k++) {
        size_t n = cfg->url[k] ? strlen(cfg->url[k]) : 0;
        if (n > DB_URL_MAX)
            return; /* not kept: read again next time */
        c->has_url[k] = cfg->url[k] != NULL;
        if (cfg->url[k])
            memcpy(c->url[k], cfg->url[k], n + 1);
    }
    c->m = *m;
    c->cfg = *cfg;
    memset(c->cfg.url, 0, sizeof c->cfg.url);
    c->has_row = true;
}

enum db_status sql_merchants_get_with_callbacks(struct db_tx *tx, const char *merchant_id,
                                                struct db_merchant *out, struct arena *a,
                                                struct db_callback_config *cfg)
{
    struct db_merchant_cache *c = cached(tx, merchant_id);
    if (c && c->has_row) {
        *out = c->m;
        *cfg = c->cfg;
        for (int k = 0; k < CB_KINDS; k++) {
            cfg->url[k] = c->has_url[k] ? arena_strdup(a, c->url[k]) : NULL;
            if (c->has_url[k] && !cfg->url[k])
                return DB_HARD_ERROR;
        }
        return DB_ONE_RESULT;
    }
    struct db_stmt *st = db_stmt(tx, STMT_MERCHANT_GET_WITH_CALLBACKS,
                                 "SELECT " MERCHANT_SELECT ", " SQL_CALLBACK_CONFIG_COLS
                                 " FROM merchants WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    enum db_status rc = db_step(st, "merchant get with callbacks");
    if (rc == DB_ONE_RESULT) {
        read_merchant(st, out);
        /* the callback configuration's columns come last */
        sql_callback_config_read(st, db_col_count(st) - SQL_CALLBACK_CONFIG_NCOLS, a, cfg);
    }
    db_reset(st);
    if (rc == DB_ONE_RESULT)
        cache_row(tx, out, cfg);
    return rc;
}

enum db_status sql_merchants_get(struct db_tx *tx, const char *merchant_id, struct db_merchant *out)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_MERCHANT_GET, "SELECT " MERCHANT_SELECT " FROM merchants WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    enum db_status rc = db_step(st, "merchant get");
    enum db_status s;
    if (rc == DB_ONE_RESULT) {
        read_merchant(st, out);
        s = DB_ONE_RESULT;
    } else {
        s = rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_merchants_update(struct db_tx *tx, const struct db_merchant *m)
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_MERCHANT_UPDATE,
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
    db_bind_text(st, 27, m->id);
    return db_exec(st, "merchant update");
}

enum db_status sql_merchants_touch(struct db_tx *tx, const char *merchant_id, usec_t now)
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_MERCHANT_TOUCH,
                                 "UPDATE merchants SET updated_at = CASE WHEN updated_at > ?1"
                                 " THEN updated_at ELSE ?1 END WHERE id = ?2");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, now);
    db_bind_text(st, 2, merchant_id);
    return db_exec(st, "merchant touch");
}

enum db_status sql_merchants_count(struct db_tx *tx, int64_t *n)
{
    struct db_stmt *st = db_stmt(tx, STMT_MERCHANT_COUNT, "SELECT COUNT(*) FROM merchants");
    if (!st)
        return DB_HARD_ERROR;
    return db_one_int(st, n, "merchant count");
}

enum db_status sql_merchants_list(struct db_tx *tx, db_merchant_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_MERCHANT_LIST,
                                 "SELECT " MERCHANT_SELECT " FROM merchants"
                                 " ORDER BY created_at, id");
    if (!st)
        return DB_HARD_ERROR;
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "merchant list")) == DB_ONE_RESULT) {
        struct db_merchant m;
        read_merchant(st, &m);
        cb(cls, &m);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}

enum db_status sql_merchants_logo_set(struct db_tx *tx, const char *merchant_id, const char *type,
                                      const void *data, size_t len, usec_t now)
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_MERCHANT_LOGO_SET,
                                 "UPDATE merchants SET logo = ?1, logo_type = ?2, updated_at ="
                                 " CASE WHEN updated_at > ?3 THEN updated_at ELSE ?3 END"
                                 " WHERE id = ?4");
    if (!st)
        return DB_HARD_ERROR;
    if (type != NULL && len <= INT32_MAX) {
        db_bind_blob(st, 1, data, len);
        db_bind_text(st, 2, type);
    } else if (type != NULL) {
        return DB_HARD_ERROR;
    }
    db_bind_int(st, 3, now);
    db_bind_text(st, 4, merchant_id);
    return db_exec(st, "merchant logo set");
}

enum db_status sql_merchants_logo_get(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                      struct db_logo *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_MERCHANT_LOGO_GET,
                                 "SELECT logo_type, logo, updated_at FROM merchants"
                                 " WHERE id = ? AND logo IS NOT NULL AND logo_type IS NOT NULL");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    enum db_status rc = db_step(st, "merchant logo get");
    enum db_status s;
    if (rc == DB_ONE_RESULT) {
        memset(out, 0, sizeof *out);
        db_col_copy(st, 0, out->type, sizeof out->type);
        const void *blob = NULL;
        out->len = db_col_blob(st, 1, &blob);
        void *copy = arena_alloc(a, out->len + 1);
        if (out->len > 0)
            memcpy(copy, blob, out->len);
        out->data = copy;
        out->updated_at = db_col_int(st, 2);
        s = DB_ONE_RESULT;
    } else {
        s = rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_currencies_set(struct db_tx *tx, const char *merchant_id,
                                  const struct db_currency *list, size_t n)
{
    db_tx_config_changed(tx);
    struct db_stmt *del =
        db_stmt(tx, STMT_CURRENCY_DELETE, "DELETE FROM merchant_currencies WHERE merchant_id = ?");
    if (!del)
        return DB_HARD_ERROR;
    db_bind_text(del, 1, merchant_id);
    enum db_status s = db_exec(del, "currency delete");
    if (s < 0)
        return s;
    for (size_t i = 0; i < n; i++) {
        struct db_stmt *ins = db_stmt(tx, STMT_CURRENCY_INSERT,
                                      "INSERT INTO merchant_currencies"
                                      " (merchant_id, code, position, is_default)"
                                      " VALUES (?, ?, ?, ?)");
        if (!ins)
            return DB_HARD_ERROR;
        db_bind_text(ins, 1, merchant_id);
        db_bind_text(ins, 2, list[i].code);
        db_bind_int(ins, 3, (int64_t)i);
        db_bind_int(ins, 4, list[i].is_default);
        s = db_exec(ins, "currency insert");
        if (s < 0)
            return s;
    }
    return (enum db_status)n;
}

enum db_status sql_currencies_list(struct db_tx *tx, const char *merchant_id,
                                   struct db_currency *out, size_t cap, size_t *n)
{
    struct db_merchant_cache *c = cached(tx, merchant_id);
    if (c && c->has_currencies) {
        *n = c->ncur < cap ? c->ncur : cap;
        memcpy(out, c->cur, *n * sizeof *out);
        return (enum db_status) * n;
    }
    struct db_stmt *st = db_stmt(tx, STMT_CURRENCY_LIST,
                                 "SELECT code, is_default FROM merchant_currencies"
                                 " WHERE merchant_id = ? ORDER BY position");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    enum db_status rc;
    *n = 0;
    while ((rc = db_step(st, "currency list")) == DB_ONE_RESULT && *n < cap) {
        db_col_copy(st, 0, out[*n].code, sizeof out[*n].code);
        out[*n].is_default = (int)db_col_int(st, 1) != 0;
        (*n)++;
    }
    enum db_status s = (rc == DB_NO_RESULTS || rc == DB_ONE_RESULT) ? (enum db_status) * n : rc;
    db_reset(st);
    /* kept when it is the whole list */
    if (rc == DB_NO_RESULTS && *n <= DB_MAX_CURRENCIES && (c = cache_for(tx, merchant_id))) {
        memcpy(c->cur, out, *n * sizeof *out);
        c->ncur = *n;
        c->has_currencies = true;
    }
    return s;
}
