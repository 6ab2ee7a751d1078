/*
 * providers.c — messaging providers, the messages sent through them and
 * opt-outs (SQLite).
 */
#include "db/sql/sql_internal.h"
#include "util/msisdn.h"

#include <string.h>

#define PROVIDER_COLS                                                                              \
    "id, merchant_id, kind, settings, secrets, inbound_token, healthy, health_reason,"             \
    " health_at, created_at, updated_at, live"

struct provider_row {
    struct arena *a;
    struct db_provider *out;
};

static void read_provider(struct db_stmt *st, struct arena *a, struct db_provider *p)
{
    memset(p, 0, sizeof *p);
    db_col_copy(st, 0, p->id, sizeof p->id);
    db_col_copy(st, 1, p->merchant_id, sizeof p->merchant_id);
    db_col_copy(st, 2, p->kind, sizeof p->kind);
    p->settings = db_col_dup(st, 3, a);
    p->secrets = db_col_dup(st, 4, a);
    db_col_copy(st, 5, p->inbound_token, sizeof p->inbound_token);
    p->healthy = (int)db_col_int(st, 6) != 0;
    p->health_reason = db_col_dup(st, 7, a);
    p->health_at = db_col_int(st, 8);
    p->created_at = db_col_int(st, 9);
    p->updated_at = db_col_int(st, 10);
    p->live = (int)db_col_int(st, 11) != 0;
}

static void read_provider_row(struct db_stmt *st, void *cls)
{
    struct provider_row *r = cls;
    read_provider(st, r->a, r->out);
}

enum db_status sql_providers_insert(struct db_tx *tx, const struct db_provider *p)
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_PROVIDER_INSERT,
                                 "INSERT INTO providers (" PROVIDER_COLS ")"
                                 " VALUES (?, ?, ?, ?, ?, ?, 1, NULL, 0, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, p->id);
    db_bind_text(st, 2, p->merchant_id);
    db_bind_text(st, 3, p->kind);
    db_bind_text(st, 4, p->settings);
    db_bind_text(st, 5, p->secrets);
    db_bind_text(st, 6, p->inbound_token);
    db_bind_int(st, 7, p->created_at);
    db_bind_int(st, 8, p->updated_at);
    db_bind_int(st, 9, p->live);
    return db_exec(st, "provider insert");
}

enum db_status sql_providers_get(struct db_tx *tx, const char *merchant_id, const char *id,
                                 struct arena *a, struct db_provider *out)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_PROVIDER_GET,
                "SELECT " PROVIDER_COLS " FROM providers"
                " WHERE id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR merchant_id = ?2)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, merchant_id);
    return db_one_row(st, "provider get", read_provider_row,
                      &(struct provider_row){.a = a, .out = out});
}

static enum db_status each_provider(struct db_tx *tx, struct db_stmt *st, struct arena *a,
                                    db_provider_cb cb, void *cls, const char *what)
{
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, what)) == DB_ONE_RESULT) {
        struct db_provider p;
        read_provider(st, a, &p);
        cb(cls, &p);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}

enum db_status sql_providers_list(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                  db_provider_cb cb, void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_PROVIDER_LIST,
                                 "SELECT " PROVIDER_COLS " FROM providers"
                                 " WHERE merchant_id = ? ORDER BY created_at, id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    return each_provider(tx, st, a, cb, cls, "provider list");
}

enum db_status sql_providers_list_all(struct db_tx *tx, struct arena *a, db_provider_cb cb,
                                      void *cls)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_PROVIDER_LIST_ALL, "SELECT " PROVIDER_COLS " FROM providers ORDER BY id");
    if (!st)
        return DB_HARD_ERROR;
    return each_provider(tx, st, a, cb, cls, "provider list all");
}

enum db_status sql_providers_update(struct db_tx *tx, const struct db_provider *p)
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_PROVIDER_UPDATE,
                                 "UPDATE providers SET settings = ?, secrets = ?, updated_at = ?,"
                                 " healthy = 1, health_reason = NULL, live = ?"
                                 " WHERE id = ? AND merchant_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, p->settings);
    db_bind_text(st, 2, p->secrets);
    db_bind_int(st, 3, p->updated_at);
    db_bind_int(st, 4, p->live);
    db_bind_text(st, 5, p->id);
    db_bind_text(st, 6, p->merchant_id);
    return db_exec(st, "provider update");
}

enum db_status sql_providers_notice_seen(struct db_tx *tx, const char *provider_id,
                                         const char *event_id)
{
    struct db_stmt *st = db_stmt(tx, STMT_NOTICE_SEEN,
                                 "SELECT 1 FROM gateway_notices"
                                 " WHERE provider_id = ? AND event_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, provider_id);
    db_bind_text(st, 2, event_id);
    return db_exists(st, "notice seen");
}

enum db_status sql_providers_notice_add(struct db_tx *tx, const char *provider_id,
                                        const char *event_id, usec_t now)
{
    struct db_stmt *st = db_stmt(tx, STMT_NOTICE_ADD,
                                 "INSERT INTO gateway_notices (provider_id, event_id,"
                                 " received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, provider_id);
    db_bind_text(st, 2, event_id);
    db_bind_int(st, 3, now);
    return db_exec(st, "notice add");
}

enum db_status sql_providers_notice_purge(struct db_tx *tx, usec_t before, int limit)
{
    /* through gateway_notices_age, the oldest first */
    struct db_stmt *st = db_stmt(tx, STMT_NOTICE_PURGE,
                                 "DELETE FROM gateway_notices WHERE (provider_id, event_id) IN"
                                 " (SELECT provider_id, event_id FROM gateway_notices"
                                 " WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, before);
    db_bind_int(st, 2, limit);
    return db_exec(st, "notice purge");
}

enum db_status sql_providers_remove(struct db_tx *tx, const char *merchant_id, const char *id)
{
    db_tx_config_changed(tx);
    struct db_stmt *st =
        db_stmt(tx, STMT_PROVIDER_REMOVE, "DELETE FROM providers WHERE id = ? AND merchant_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, merchant_id);
    return db_exec(st, "provider remove");
}

enum db_status sql_providers_set_health(struct db_tx *tx, const char *id, bool healthy,
                                        const char *reason, usec_t now)
{
    struct db_stmt *st = db_stmt(tx, STMT_PROVIDER_HEALTH,
                                 "UPDATE providers SET healthy = ?1, health_reason = ?2,"
                                 " health_at = ?3 WHERE id = ?4 AND healthy <> ?1");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, healthy);
    db_bind_text(st, 2, healthy ? NULL : reason);
    db_bind_int(st, 3, now);
    db_bind_text(st, 4, id);
    enum db_status s = db_exec(st, "provider health");
    if (s > 0)
        db_tx_config_changed(tx);
    return s;
}

/* ---- messages ------------------------------------------------------------------------- */

#define MESSAGE_COLS                                                                               \
    "id, merchant_id, provider_id, link_id, purpose, channel, ref, provider_ref, state, status,"   \
    " status_at, created_at"

static void read_message(struct db_stmt *st, void *cls)
{
    struct db_provider_message *m = cls;
    memset(m, 0, sizeof *m);
    m->id = db_col_int(st, 0);
    db_col_copy(st, 1, m->merchant_id, sizeof m->merchant_id);
    db_col_copy(st, 2, m->provider_id, sizeof m->provider_id);
    m->link_id = db_col_int(st, 3);
    m->purpose = (int)db_col_int(st, 4);
    m->channel = (int)db_col_int(st, 5);
    db_col_copy(st, 6, m->ref, sizeof m->ref);
    db_col_copy(st, 7, m->provider_ref, sizeof m->provider_ref);
    m->state = (int)db_col_int(st, 8);
    db_col_copy(st, 9, m->status, sizeof m->status);
    m->status_at = db_col_int(st, 10);
    m->created_at = db_col_int(st, 11);
}

enum db_status sql_providers_message_insert(struct db_tx *tx, struct db_provider_message *m)
{
    struct db_stmt *st = db_stmt(
        tx, STMT_PMESSAGE_INSERT,
        "INSERT INTO provider_messages (merchant_id, provider_id, link_id, purpose,"
        " channel, ref, provider_ref, state, status, status_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING RETURNING id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, m->merchant_id);
    db_bind_text(st, 2, m->provider_id);
    db_bind_int(st, 3, m->link_id);
    db_bind_int(st, 4, m->purpose);
    db_bind_int(st, 5, m->channel);
    db_bind_text(st, 6, m->ref);
    db_bind_text(st, 7, m->provider_ref);
    db_bind_int(st, 8, m->state);
    db_bind_text(st, 9, m->status);
    db_bind_int(st, 10, m->status_at);
    db_bind_int(st, 11, m->created_at);
    return db_one_int(st, &m->id, "provider message insert");
}

enum db_status sql_providers_message_get(struct db_tx *tx, int64_t id,
                                         struct db_provider_message *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_PMESSAGE_GET,
                                 "SELECT " MESSAGE_COLS " FROM provider_messages WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, id);
    return db_one_row(st, "provider message get", read_message, out);
}

enum db_status sql_providers_message_find(struct db_tx *tx, const char *provider_id,
                                          const char *provider_ref, const char *ref,
                                          struct db_provider_message *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_PMESSAGE_FIND,
                                 "SELECT " MESSAGE_COLS " FROM provider_messages"
                                 " WHERE provider_id = ?1 AND ((?2 <> '' AND provider_ref = ?2)"
                                 " OR (?3 <> '' AND ref = ?3)) LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, provider_id);
    db_bind_text(st, 2, provider_ref ? provider_ref : "");
    db_bind_text(st, 3, ref ? ref : "");
    return db_one_row(st, "provider message find", read_message, out);
}

enum db_status sql_providers_message_update(struct db_tx *tx, const struct db_provider_message *m)
{
    struct db_stmt *st = db_stmt(tx, STMT_PMESSAGE_UPDATE,
                                 "UPDATE provider_messages SET provider_ref = ?, state = ?,"
                                 " status = ?, status_at = ? WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, m->provider_ref);
    db_bind_int(st, 2, m->state);
    db_bind_text(st, 3, m->status);
    db_bind_int(st, 4, m->status_at);
    db_bind_int(st, 5, m->id);
    return db_exec(st, "provider message update");
}

static void read_nothing(struct db_stmt *st, void *cls)
{
    (void)st;
    (void)cls;
}

enum db_status sql_providers_link_reached(struct db_tx *tx, const char *merchant_id,
                                          int64_t link_id)
{
    struct db_stmt *st = db_stmt(tx, STMT_PMESSAGE_LINK_REACHED,
                                 "SELECT 1 FROM provider_messages"
                                 " WHERE merchant_id = ? AND link_id = ? AND purpose = ?"
                                 " AND state IN (?, ?, ?) LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_int(st, 2, link_id);
    db_bind_int(st, 3, PM_LINK);
    db_bind_int(st, 4, PM_UNKNOWN);
    db_bind_int(st, 5, PM_SENT);
    db_bind_int(st, 6, PM_DELIVERED);
    return db_one_row(st, "provider messages link reached", read_nothing, NULL);
}

/* ---- opt-outs ------------------------------------------------------------------------- */

enum db_status sql_providers_optout_add(struct db_tx *tx, const char *merchant_id,
                                        const char *msisdn, const char *source, usec_t at)
{
    struct db_stmt *st = db_stmt(tx, STMT_OPTOUT_ADD,
                                 "INSERT INTO optouts (merchant_id, msisdn, source, created_at)"
                                 " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, msisdn);
    db_bind_text(st, 3, source);
    db_bind_int(st, 4, at);
    enum db_status s = db_exec(st, "optout add");
    if (s != DB_NO_RESULTS)
        return s;
    /* so already: a newer STOP moves its time, so that a START written
     * between the two (re-delivered late) does not lift it */
    st = db_stmt(tx, STMT_OPTOUT_RENEW,
                 "UPDATE optouts SET created_at = ? WHERE merchant_id = ? AND msisdn = ?"
                 " AND created_at < ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, at);
    db_bind_text(st, 2, merchant_id);
    db_bind_text(st, 3, msisdn);
    db_bind_int(st, 4, at);
    s = db_exec(st, "optout renew");
    return s < 0 ? s : DB_NO_RESULTS;
}

enum db_status sql_providers_optout_remove(struct db_tx *tx, const char *merchant_id,
                                           const char *msisdn, usec_t until)
{
    /* under either form of the number (util/msisdn.h) */
    char alt[MSISDN_MAX];
    struct db_stmt *st = db_stmt(tx, STMT_OPTOUT_REMOVE,
                                 "DELETE FROM optouts WHERE merchant_id = ? AND msisdn IN (?, ?)"
                                 " AND created_at <= ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, msisdn);
    db_bind_text(st, 3, msisdn_alternate(msisdn, alt) ? alt : msisdn);
    db_bind_int(st, 4, until);
    return db_exec(st, "optout remove");
}

enum db_status sql_providers_optout_get(struct db_tx *tx, const char *merchant_id,
                                        const char *msisdn)
{
    /* under either form of the number (util/msisdn.h) */
    char alt[MSISDN_MAX];
    struct db_stmt *st = db_stmt(tx, STMT_OPTOUT_GET,
                                 "SELECT 1 FROM optouts WHERE merchant_id = ? AND msisdn IN (?, ?)"
                                 " LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    db_bind_text(st, 2, msisdn);
    db_bind_text(st, 3, msisdn_alternate(msisdn, alt) ? alt : msisdn);
    return db_one_row(st, "optout get", read_nothing, NULL);
}

enum db_status sql_providers_optout_list(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                         void (*cb)(void *cls, const char *msisdn,
                                                    const char *source, usec_t at),
                                         void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_OPTOUT_LIST,
                                 "SELECT msisdn, source, created_at FROM optouts"
                                 " WHERE merchant_id = ? ORDER BY created_at, msisdn");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "optouts")) == DB_ONE_RESULT) {
        cb(cls, db_col_dup(st, 0, a), db_col_dup(st, 1, a), db_col_int(st, 2));
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}
