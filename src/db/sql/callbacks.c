/*
 * callbacks.c — merchant callbacks: URLs, secrets, deliveries and their
 * attempts (SQLite).
 */
#include "db/sql/sql_internal.h"

#include <string.h>

static bool kind_ok(int kind)
{
    return kind >= CB_PAYMENT_STATUS && kind <= CB_SETTINGS;
}

struct config_row {
    struct arena *a;
    struct db_callback_config *out;
};

void sql_callback_config_read(struct db_stmt *st, int first, struct arena *a,
                              struct db_callback_config *out)
{
    memset(out, 0, sizeof *out);
    for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS; k++)
        out->url[k] = db_col_dup(st, first + k - 1, a);
    db_col_copy(st, first + 3, out->secret, sizeof out->secret);
    db_col_copy(st, first + 4, out->old_secret, sizeof out->old_secret);
    out->old_until = db_col_int(st, first + 5);
}

static void read_config(struct db_stmt *st, void *cls)
{
    struct config_row *c = cls;
    sql_callback_config_read(st, 0, c->a, c->out);
}

enum db_status sql_callbacks_config_get(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                        struct db_callback_config *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_CONFIG,
                                 "SELECT " SQL_CALLBACK_CONFIG_COLS " FROM merchants WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    return db_one_row(st, "callback config", read_config, &(struct config_row){.a = a, .out = out});
}

struct urls_row {
    struct arena *a;
    const char **urls;
};

static void read_urls(struct db_stmt *st, void *cls)
{
    struct urls_row *c = cls;
    for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS; k++)
        c->urls[k] = db_col_dup(st, k - 1, c->a);
}

enum db_status sql_callbacks_integrator_urls(struct db_tx *tx, const char *merchant_id,
                                             const char *app_id, struct arena *a,
                                             const char *urls[CB_KINDS])
{
    struct db_stmt *st =
        db_stmt(tx, STMT_CALLBACK_INTEGRATOR_URLS,
                "SELECT payment_status_callback, transaction_event_callback, settings_callback"
                " FROM integrators WHERE merchant_id = ? AND id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, app_id);
    for (int k = 0; k < CB_KINDS; k++)
        urls[k] = NULL;
    return db_one_row(st, "integrator callback urls", read_urls,
                      &(struct urls_row){.a = a, .urls = urls});
}

/* UPDATE <table> SET <column of kind> = ? WHERE ...: one prepared
 * statement per table and kind, kept in the connection's cache. */
enum db_status sql_callbacks_url_set(struct db_tx *tx, const char *merchant_id, int kind,
                                     const char *url)
{
    if (!kind_ok(kind))
        return DB_HARD_ERROR;
    static const char *const sql[CB_KINDS] = {
        NULL,
        "UPDATE merchants SET payment_status_callback = ? WHERE id = ?",
        "UPDATE merchants SET transaction_event_callback = ? WHERE id = ?",
        "UPDATE merchants SET settings_callback = ? WHERE id = ?",
    };
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_URL_SET + kind - 1, sql[kind]);
    if (!st)
        return DB_HARD_ERROR;
    db_bind_nonempty(st, 1, url);
    db_bind_text(st, 2, merchant_id);
    return db_exec(st, "callback url set");
}

enum db_status sql_callbacks_integrator_url_set(struct db_tx *tx, const char *merchant_id,
                                                const char *app_id, int kind, const char *url)
{
    if (!kind_ok(kind))
        return DB_HARD_ERROR;
    static const char *const sql[CB_KINDS] = {
        NULL,
        "UPDATE integrators SET payment_status_callback = ?1"
        " WHERE id = ?2 AND (CAST(?3 AS TEXT) IS NULL OR merchant_id = ?3)",
        "UPDATE integrators SET transaction_event_callback = ?1"
        " WHERE id = ?2 AND (CAST(?3 AS TEXT) IS NULL OR merchant_id = ?3)",
        "UPDATE integrators SET settings_callback = ?1"
        " WHERE id = ?2 AND (CAST(?3 AS TEXT) IS NULL OR merchant_id = ?3)",
    };
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_INTEGRATOR_URL_SET + kind - 1, sql[kind]);
    if (!st)
        return DB_HARD_ERROR;
    db_bind_nonempty(st, 1, url);
    db_bind_text(st, 2, app_id);
    db_bind_nonempty(st, 3, merchant_id);
    return db_exec(st, "integrator callback url set");
}

enum db_status sql_callbacks_integrator_merchant(struct db_tx *tx, const char *app_id,
                                                 char merchant_id[DB_UUID_LEN])
{
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_INTEGRATOR_MERCHANT,
                                 "SELECT merchant_id FROM integrators WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, app_id);
    return db_one_row(st, "integrator merchant", db_read_uuid, merchant_id);
}

enum db_status sql_callbacks_secret_set(struct db_tx *tx, const char *merchant_id,
                                        const char *secret, const char *old_secret,
                                        usec_t old_until)
{
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_SECRET_SET,
                                 "UPDATE merchants SET callback_secret = ?,"
                                 " callback_secret_old = ?, callback_secret_old_until = ?"
                                 " WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, secret);
    db_bind_nonempty(st, 2, old_secret);
    db_bind_int(st, 3, old_until);
    db_bind_text(st, 4, merchant_id);
    return db_exec(st, "callback secret set");
}

enum db_status sql_callbacks_insert(struct db_tx *tx, struct db_callback *cb)
{
    struct db_stmt *st =
        INSERT_ID_STMT(tx, STMT_CALLBACK_INSERT,
                       "INSERT INTO callbacks (ref, merchant_id, link_id, kind, url,"
                       " webhook_id, body, state, attempts, created_at, updated_at,"
                       " next_at, application_id) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, cb->ref);
    db_bind_text(st, 2, cb->merchant_id);
    db_bind_int(st, 3, cb->link_id);
    db_bind_int(st, 4, cb->kind);
    db_bind_text(st, 5, cb->url);
    db_bind_text(st, 6, cb->webhook_id);
    db_bind_text(st, 7, cb->body);
    db_bind_int(st, 8, cb->created_at);
    db_bind_int(st, 9, cb->created_at);
    db_bind_int(st, 10, cb->next_at);
    db_bind_nonempty(st, 11, cb->app_id);
    return db_insert_id(st, &cb->id, "callback insert");
}

#define CB_COLS                                                                                    \
    "c.id, c.ref, c.merchant_id, c.link_id, c.kind, c.url, c.webhook_id, c.body, c.state,"         \
    " c.attempts, c.last_http, c.created_at, c.updated_at, c.delivered_at, c.next_at,"             \
    " COALESCE(l.ref, ''), c.application_id"
#define CB_FROM " FROM callbacks c LEFT JOIN links l ON l.id = c.link_id"

static void read_callback(struct db_stmt *st, struct arena *a, struct db_callback *cb)
{
    memset(cb, 0, sizeof *cb);
    cb->id = db_col_int(st, 0);
    db_col_copy(st, 1, cb->ref, sizeof cb->ref);
    db_col_copy(st, 2, cb->merchant_id, sizeof cb->merchant_id);
    cb->link_id = db_col_int(st, 3);
    cb->kind = (int)db_col_int(st, 4);
    cb->url = db_col_dup(st, 5, a);
    db_col_copy(st, 6, cb->webhook_id, sizeof cb->webhook_id);
    cb->body = db_col_dup(st, 7, a);
    cb->state = (int)db_col_int(st, 8);
    cb->attempts = (int)db_col_int(st, 9);
    cb->last_http = (int)db_col_int(st, 10);
    cb->created_at = db_col_int(st, 11);
    cb->updated_at = db_col_int(st, 12);
    cb->delivered_at = db_col_int(st, 13);
    cb->next_at = db_col_int(st, 14);
    db_col_copy(st, 15, cb->link_ref, sizeof cb->link_ref);
    db_col_copy(st, 16, cb->app_id, sizeof cb->app_id);
}

struct callback_row {
    struct arena *a;
    struct db_callback *out;
};

static void read_callback_row(struct db_stmt *st, void *cls)
{
    struct callback_row *c = cls;
    read_callback(st, c->a, c->out);
}

static enum db_status one_callback(struct db_tx *tx, struct db_stmt *st, struct arena *a,
                                   struct db_callback *out, const char *what)
{
    return db_one_row(st, what, read_callback_row, &(struct callback_row){.a = a, .out = out});
}

enum db_status sql_callbacks_get(struct db_tx *tx, int64_t id, struct arena *a,
                                 struct db_callback *out)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_CALLBACK_GET, "SELECT " CB_COLS CB_FROM " WHERE c.id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, id);
    return one_callback(tx, st, a, out, "callback get");
}

enum db_status sql_callbacks_get_by_ref(struct db_tx *tx, const char *merchant_id, const char *ref,
                                        struct arena *a, struct db_callback *out)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_CALLBACK_GET_REF,
                "SELECT " CB_COLS CB_FROM " WHERE c.merchant_id = ? AND c.ref = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, ref);
    return one_callback(tx, st, a, out, "callback get by ref");
}

enum db_status sql_callbacks_update(struct db_tx *tx, const struct db_callback *cb)
{
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_UPDATE,
                                 "UPDATE callbacks SET state = ?, attempts = ?, last_http = ?,"
                                 " delivered_at = ?, next_at = ?, updated_at = ?, url = ?"
                                 " WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, cb->state);
    db_bind_int(st, 2, cb->attempts);
    db_bind_int(st, 3, cb->last_http);
    db_bind_int(st, 4, cb->delivered_at);
    db_bind_int(st, 5, cb->next_at);
    db_bind_int(st, 6, cb->updated_at);
    db_bind_text(st, 7, cb->url);
    db_bind_int(st, 8, cb->id);
    return db_exec(st, "callback update");
}

enum db_status sql_callbacks_attempt_insert(struct db_tx *tx, int64_t callback_id,
                                            const struct db_callback_attempt *a)
{
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_ATTEMPT_INSERT,
                                 "INSERT INTO callback_attempts (callback_id, at, http_status,"
                                 " latency_ms, error, url) VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, callback_id);
    db_bind_int(st, 2, a->at);
    db_bind_int(st, 3, a->http_status);
    db_bind_int(st, 4, a->latency_ms);
    db_bind_nonempty(st, 5, a->error);
    db_bind_nonempty(st, 6, a->url);
    return db_exec(st, "callback attempt insert");
}

enum db_status sql_callbacks_list(struct db_tx *tx, const char *merchant_id,
                                  const struct db_callback_filter *f, struct arena *a,
                                  db_callback_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_LIST,
                                 "SELECT " CB_COLS CB_FROM " WHERE c.merchant_id = ?1"
                                 " AND (?2 = 0 OR c.link_id = ?2)"
                                 " AND (?3 < 0 OR c.state = ?3)"
                                 " AND (?4 = 0 OR c.id < ?4)"
                                 " ORDER BY c.id DESC LIMIT ?5");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, f->link_id);
    db_bind_int(st, 3, f->state);
    db_bind_int(st, 4, f->starting_after);
    db_bind_int(st, 5, f->limit);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "callbacks")) == DB_ONE_RESULT) {
        struct db_callback c;
        read_callback(st, a, &c);
        cb(cls, &c);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}

enum db_status sql_callbacks_attempts(struct db_tx *tx, int64_t callback_id, struct arena *a,
                                      db_callback_attempt_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_ATTEMPTS,
                                 "SELECT at, http_status, latency_ms, error, url"
                                 " FROM callback_attempts WHERE callback_id = ? ORDER BY id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, callback_id);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "callback attempts")) == DB_ONE_RESULT) {
        struct db_callback_attempt at = {
            .at = db_col_int(st, 0),
            .http_status = (int)db_col_int(st, 1),
            .latency_ms = (int)db_col_int(st, 2),
            .error = db_col_dup(st, 3, a),
            .url = db_col_dup(st, 4, a),
        };
        cb(cls, &at);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}

enum db_status sql_callbacks_purge(struct db_tx *tx, usec_t before, int limit)
{
    /* through callbacks_ended (migration 20), the earliest ended first; their
     * attempts go with them (ON DELETE CASCADE) */
    struct db_stmt *st = db_stmt(tx, STMT_CALLBACK_PURGE,
                                 "DELETE FROM callbacks WHERE id IN (SELECT id FROM callbacks"
                                 " WHERE state <> 0 AND updated_at < ?1"
                                 " ORDER BY updated_at LIMIT ?2)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, before);
    db_bind_int(st, 2, limit);
    return db_exec(st, "callback purge");
}
