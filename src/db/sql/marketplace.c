/*
 * marketplace.c — the marketplace's clients, access tokens, catalogue,
 * purchases and MNO prefixes (db/marketplace.h).
 */
#include "db/sql/sql_internal.h"

#include <string.h>

#include "db/marketplace.h"

static const char *const product_types[MP_PRODUCT_TYPES] = {"airtime", "data", "electricity",
                                                            "bill", "voucher"};

const char *mp_product_type_name(enum mp_product_type t)
{
    return (unsigned)t < MP_PRODUCT_TYPES ? product_types[t] : "airtime";
}

bool mp_product_type_parse(const char *s, enum mp_product_type *out)
{
    for (int i = 0; i < MP_PRODUCT_TYPES; i++) {
        if (s && strcmp(s, product_types[i]) == 0) {
            *out = (enum mp_product_type)i;
            return true;
        }
    }
    return false;
}

const char *mp_api_key_prefix(enum db_environment env)
{
    return env == ENV_PRODUCTION ? "mak_live_" : "mak_sandbox_";
}

bool mp_product_issues_tokens(enum mp_product_type t)
{
    return t == MP_ELECTRICITY || t == MP_VOUCHER;
}

const char *mp_purchase_status_name(enum mp_purchase_status s)
{
    switch (s) {
    case MP_SUCCESS:
        return "SUCCESS";
    case MP_FAILED:
        return "FAILED";
    default:
        return "PROCESSING";
    }
}

const char *mp_result_state_name(enum mp_result_state s)
{
    switch (s) {
    case MP_RESULT_PENDING:
        return "PENDING";
    case MP_RESULT_DELIVERED:
        return "DELIVERED";
    case MP_RESULT_FAILED:
        return "FAILED";
    default:
        return "NONE";
    }
}

/* Copy a blob column of 32 bytes (zeros when it is not). */
static void col_hash(struct db_stmt *st, int col, uint8_t out[32])
{
    const void *p = NULL;
    size_t n = db_col_blob(st, col, &p);
    memset(out, 0, 32);
    if (p && n == 32)
        memcpy(out, p, 32);
}

/* ---- clients ----------------------------------------------------------------------------- */

#define CLIENT_COLS                                                                                \
    "c.id, c.client_id, c.name, c.funding_source_id, c.result_url, c.require_signature,"           \
    " c.environment, c.status, c.secret_hash, c.api_key_hash, c.api_key_prefix,"                   \
    " c.api_key_last4, c.signature_secret, c.created_at, c.updated_at"

static void read_client(struct db_stmt *st, struct arena *a, struct db_mp_client *c)
{
    memset(c, 0, sizeof *c);
    db_col_copy(st, 0, c->id, sizeof c->id);
    c->client_id = db_col_int(st, 1);
    c->name = db_col_dup(st, 2, a);
    c->funding_source_id = db_col_int(st, 3);
    c->result_url = db_col_dup(st, 4, a);
    c->require_signature = db_col_int(st, 5) != 0;
    c->environment = db_col_int(st, 6) == ENV_PRODUCTION ? ENV_PRODUCTION : ENV_SANDBOX;
    c->status = db_col_int(st, 7) == MP_CLIENT_ACTIVE ? MP_CLIENT_ACTIVE : MP_CLIENT_DISABLED;
    col_hash(st, 8, c->secret_hash);
    col_hash(st, 9, c->api_key_hash);
    db_col_copy(st, 10, c->api_key_prefix, sizeof c->api_key_prefix);
    db_col_copy(st, 11, c->api_key_last4, sizeof c->api_key_last4);
    c->signature_secret = db_col_dup(st, 12, a);
    c->created_at = db_col_int(st, 13);
    c->updated_at = db_col_int(st, 14);
}

struct client_read {
    struct arena *a;
    struct db_mp_client *out;
};

static void client_reader(struct db_stmt *st, void *cls)
{
    struct client_read *r = cls;
    read_client(st, r->a, r->out);
}

static enum db_status sql_mp_client_insert(struct db_tx *tx, const struct db_mp_client *c)
{
    db_tx_config_changed(tx);
    struct db_stmt *st =
        db_stmt(tx, STMT_MP_CLIENT_INSERT,
                "INSERT INTO mp_clients (id, client_id, name, funding_source_id, result_url,"
                " require_signature, environment, status, secret_hash, api_key_hash,"
                " api_key_prefix, api_key_last4, signature_secret, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, c->id);
    db_bind_int(st, 2, c->client_id);
    db_bind_text(st, 3, c->name);
    db_bind_int(st, 4, c->funding_source_id);
    db_bind_nonempty(st, 5, c->result_url);
    db_bind_int(st, 6, c->require_signature);
    db_bind_int(st, 7, c->environment);
    db_bind_int(st, 8, c->status);
    db_bind_blob(st, 9, c->secret_hash, 32);
    db_bind_blob(st, 10, c->api_key_hash, 32);
    db_bind_text(st, 11, c->api_key_prefix);
    db_bind_text(st, 12, c->api_key_last4);
    db_bind_text(st, 13, c->signature_secret);
    db_bind_int(st, 14, c->created_at);
    db_bind_int(st, 15, c->updated_at);
    return db_exec(st, "mp client insert");
}

static enum db_status sql_mp_client_get(struct db_tx *tx, int64_t client_id, struct arena *a,
                                        struct db_mp_client *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_CLIENT_GET,
                                 "SELECT " CLIENT_COLS " FROM mp_clients c WHERE c.client_id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, client_id);
    return db_one_row(st, "mp client get", client_reader, &(struct client_read){a, out});
}

static enum db_status sql_mp_client_get_by_uuid(struct db_tx *tx, const char *uuid, struct arena *a,
                                                struct db_mp_client *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_CLIENT_GET_UUID,
                                 "SELECT " CLIENT_COLS " FROM mp_clients c WHERE c.id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, uuid);
    return db_one_row(st, "mp client get", client_reader, &(struct client_read){a, out});
}

static enum db_status sql_mp_client_update(struct db_tx *tx, const struct db_mp_client *c)
{
    db_tx_config_changed(tx);
    struct db_stmt *st =
        db_stmt(tx, STMT_MP_CLIENT_UPDATE,
                "UPDATE mp_clients SET name = ?, funding_source_id = ?, result_url = ?,"
                " require_signature = ?, environment = ?, status = ?, api_key_hash = ?,"
                " api_key_prefix = ?, api_key_last4 = ?, updated_at = ? WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, c->name);
    db_bind_int(st, 2, c->funding_source_id);
    db_bind_nonempty(st, 3, c->result_url);
    db_bind_int(st, 4, c->require_signature);
    db_bind_int(st, 5, c->environment);
    db_bind_int(st, 6, c->status);
    db_bind_blob(st, 7, c->api_key_hash, 32);
    db_bind_text(st, 8, c->api_key_prefix);
    db_bind_text(st, 9, c->api_key_last4);
    db_bind_int(st, 10, c->updated_at);
    db_bind_text(st, 11, c->id);
    return db_exec(st, "mp client update");
}

static enum db_status sql_mp_client_list(struct db_tx *tx, struct arena *a, db_mp_client_cb cb,
                                         void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_CLIENT_LIST,
                                 "SELECT " CLIENT_COLS " FROM mp_clients c ORDER BY c.client_id");
    if (!st)
        return DB_HARD_ERROR;
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "mp client list")) == DB_ONE_RESULT) {
        struct db_mp_client c;
        read_client(st, a, &c);
        cb(cls, &c);
        n++;
    }
    db_reset(st);
    return rc == DB_NO_RESULTS ? (enum db_status)n : rc;
}

/* ---- access tokens ------------------------------------------------------------------------ */

static enum db_status sql_mp_token_insert(struct db_tx *tx, const uint8_t hash[32],
                                          const char *client_uuid, usec_t expires_at, usec_t now)
{
    /* the client's expired tokens go first: a client asking for a token
     * every few seconds keeps only the live ones */
    struct db_stmt *st = db_stmt(tx, STMT_MP_TOKEN_PURGE_CLIENT,
                                 "DELETE FROM mp_tokens WHERE client_uuid = ? AND expires_at <= ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, client_uuid);
    db_bind_int(st, 2, now);
    enum db_status s = db_exec(st, "mp token purge");
    if (s < 0)
        return s;
    /* and its live ones beyond the newest MP_TOKENS_LIVE_MAX - 1: however
     * often a client asks, its tokens stay bounded */
    st =
        db_stmt(tx, STMT_MP_TOKEN_CAP_CLIENT,
                "DELETE FROM mp_tokens WHERE client_uuid = ? AND expires_at <= (SELECT expires_at"
                " FROM mp_tokens WHERE client_uuid = ? ORDER BY expires_at DESC LIMIT 1 OFFSET ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, client_uuid);
    db_bind_text(st, 2, client_uuid);
    db_bind_int(st, 3, MP_TOKENS_LIVE_MAX - 1);
    if ((s = db_exec(st, "mp token cap")) < 0)
        return s;
    st = db_stmt(tx, STMT_MP_TOKEN_INSERT,
                 "INSERT INTO mp_tokens (hash, client_uuid, expires_at, created_at)"
                 " VALUES (?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_blob(st, 1, hash, 32);
    db_bind_text(st, 2, client_uuid);
    db_bind_int(st, 3, expires_at);
    db_bind_int(st, 4, now);
    return db_exec(st, "mp token insert");
}

struct token_read {
    struct arena *a;
    struct db_mp_client *out;
    usec_t *expires_at;
};

static void token_reader(struct db_stmt *st, void *cls)
{
    struct token_read *r = cls;
    read_client(st, r->a, r->out);
    *r->expires_at = db_col_int(st, 15);
}

static enum db_status sql_mp_token_find(struct db_tx *tx, const uint8_t hash[32], usec_t now,
                                        struct arena *a, struct db_mp_client *out,
                                        usec_t *expires_at)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_TOKEN_FIND,
                                 "SELECT " CLIENT_COLS ", t.expires_at FROM mp_tokens t"
                                 " JOIN mp_clients c ON c.id = t.client_uuid"
                                 " WHERE t.hash = ? AND t.expires_at > ? AND c.status = 0");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_blob(st, 1, hash, 32);
    db_bind_int(st, 2, now);
    return db_one_row(st, "mp token find", token_reader, &(struct token_read){a, out, expires_at});
}

static enum db_status sql_mp_token_purge(struct db_tx *tx, usec_t before, int limit)
{
    /* through mp_tokens_expiry, the first expired first */
    struct db_stmt *st = db_stmt(tx, STMT_MP_TOKEN_PURGE,
                                 "DELETE FROM mp_tokens WHERE hash IN (SELECT hash FROM mp_tokens"
                                 " WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, before);
    db_bind_int(st, 2, limit);
    return db_exec(st, "mp token purge");
}

/* ---- products ------------------------------------------------------------------------------ */

#define PRODUCT_COLS                                                                               \
    "id, name, type, vendor, currency, min_amount, max_amount, fee, active, created_at,"           \
    " updated_at"

static void read_product(struct db_stmt *st, void *cls)
{
    struct db_mp_product *p = cls;
    char type[16];
    memset(p, 0, sizeof *p);
    p->id = db_col_int(st, 0);
    db_col_copy(st, 1, p->name, sizeof p->name);
    db_col_copy(st, 2, type, sizeof type);
    if (!mp_product_type_parse(type, &p->type))
        p->type = MP_AIRTIME;
    db_col_copy(st, 3, p->vendor, sizeof p->vendor);
    db_col_copy(st, 4, p->currency, sizeof p->currency);
    p->min_amount = db_col_int(st, 5);
    p->max_amount = db_col_int(st, 6);
    p->fee = db_col_int(st, 7);
    p->active = db_col_int(st, 8) != 0;
    p->created_at = db_col_int(st, 9);
    p->updated_at = db_col_int(st, 10);
}

static enum db_status sql_mp_product_insert(struct db_tx *tx, const struct db_mp_product *p)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_MP_PRODUCT_INSERT,
                "INSERT INTO mp_products (" PRODUCT_COLS ")"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, p->id);
    db_bind_text(st, 2, p->name);
    db_bind_text(st, 3, mp_product_type_name(p->type));
    db_bind_text(st, 4, p->vendor);
    db_bind_text(st, 5, p->currency);
    db_bind_int(st, 6, p->min_amount);
    db_bind_int(st, 7, p->max_amount);
    db_bind_int(st, 8, p->fee);
    db_bind_int(st, 9, p->active);
    db_bind_int(st, 10, p->created_at);
    db_bind_int(st, 11, p->updated_at);
    return db_exec(st, "mp product insert");
}

static enum db_status sql_mp_product_get(struct db_tx *tx, int64_t id, struct db_mp_product *out)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_MP_PRODUCT_GET, "SELECT " PRODUCT_COLS " FROM mp_products WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, id);
    return db_one_row(st, "mp product get", read_product, out);
}

static enum db_status sql_mp_product_update(struct db_tx *tx, const struct db_mp_product *p)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_MP_PRODUCT_UPDATE,
                "UPDATE mp_products SET name = ?, vendor = ?, min_amount = ?, max_amount = ?,"
                " fee = ?, active = ?, updated_at = ? WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, p->name);
    db_bind_text(st, 2, p->vendor);
    db_bind_int(st, 3, p->min_amount);
    db_bind_int(st, 4, p->max_amount);
    db_bind_int(st, 5, p->fee);
    db_bind_int(st, 6, p->active);
    db_bind_int(st, 7, p->updated_at);
    db_bind_int(st, 8, p->id);
    return db_exec(st, "mp product update");
}

static enum db_status sql_mp_product_list(struct db_tx *tx, int type, db_mp_product_cb cb,
                                          void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_PRODUCT_LIST,
                                 "SELECT " PRODUCT_COLS " FROM mp_products"
                                 " WHERE CAST(?1 AS TEXT) IS NULL OR type = ?1 ORDER BY id");
    if (!st)
        return DB_HARD_ERROR;
    if (type >= 0)
        db_bind_text(st, 1, mp_product_type_name((enum mp_product_type)type));
    else
        db_bind_null(st, 1);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "mp product list")) == DB_ONE_RESULT) {
        struct db_mp_product p;
        read_product(st, &p);
        cb(cls, &p);
        n++;
    }
    db_reset(st);
    return rc == DB_NO_RESULTS ? (enum db_status)n : rc;
}

static enum db_status sql_mp_product_count(struct db_tx *tx, int64_t *n)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_PRODUCT_COUNT, "SELECT COUNT(*) FROM mp_products");
    if (!st)
        return DB_HARD_ERROR;
    return db_one_int(st, n, "mp product count");
}

/* ---- purchases ----------------------------------------------------------------------------- */

#define PURCHASE_COLS                                                                              \
    "id, raas_ref, client_uuid, client_txn_ref, body_hash, reserve_ref, product_id,"               \
    " funding_source_id, account_identifier, auth_code, source_identifier,"                        \
    " target_identifier, channel_id, channel_name, channel_session_id, currency,"                  \
    " purchase_amount, fee_amount, request_timestamp, additional_data, status, result_code,"       \
    " result_message, tokens, status_checks, result_body, result_state, result_attempts,"          \
    " result_last_http, result_delivered_at, created_at, updated_at, completed_at"

struct purchase_read {
    struct arena *a;
    struct db_mp_purchase *out;
};

static void read_purchase(struct db_stmt *st, struct arena *a, struct db_mp_purchase *p)
{
    memset(p, 0, sizeof *p);
    p->id = db_col_int(st, 0);
    db_col_copy(st, 1, p->raas_ref, sizeof p->raas_ref);
    db_col_copy(st, 2, p->client_uuid, sizeof p->client_uuid);
    p->client_txn_ref = db_col_dup(st, 3, a);
    col_hash(st, 4, p->body_hash);
    p->reserve_ref = db_col_dup(st, 5, a);
    p->product_id = db_col_int(st, 6);
    p->funding_source_id = db_col_int(st, 7);
    p->account_identifier = db_col_dup(st, 8, a);
    p->auth_code = db_col_dup(st, 9, a);
    p->source_identifier = db_col_dup(st, 10, a);
    p->target_identifier = db_col_dup(st, 11, a);
    p->channel_id = db_col_int(st, 12);
    p->channel_name = db_col_dup(st, 13, a);
    p->channel_session_id = db_col_dup(st, 14, a);
    db_col_copy(st, 15, p->currency, sizeof p->currency);
    p->purchase_amount = db_col_int(st, 16);
    p->fee_amount = db_col_int(st, 17);
    p->request_timestamp = db_col_dup(st, 18, a);
    p->additional_data = db_col_dup(st, 19, a);
    int status = (int)db_col_int(st, 20);
    p->status = status == MP_SUCCESS ? MP_SUCCESS : status == MP_FAILED ? MP_FAILED : MP_PROCESSING;
    p->result_code = db_col_dup(st, 21, a);
    p->result_message = db_col_dup(st, 22, a);
    p->tokens = db_col_dup(st, 23, a);
    p->status_checks = (int)db_col_int(st, 24);
    p->result_body = db_col_dup(st, 25, a);
    int rs = (int)db_col_int(st, 26);
    p->result_state =
        rs >= MP_RESULT_NONE && rs <= MP_RESULT_FAILED ? (enum mp_result_state)rs : MP_RESULT_NONE;
    p->result_attempts = (int)db_col_int(st, 27);
    p->result_last_http = (int)db_col_int(st, 28);
    p->result_delivered_at = db_col_int(st, 29);
    p->created_at = db_col_int(st, 30);
    p->updated_at = db_col_int(st, 31);
    p->completed_at = db_col_int(st, 32);
}

static void purchase_reader(struct db_stmt *st, void *cls)
{
    struct purchase_read *r = cls;
    read_purchase(st, r->a, r->out);
}

static enum db_status sql_mp_purchase_insert(struct db_tx *tx, struct db_mp_purchase *p)
{
    struct db_stmt *st = db_stmt(
        tx, STMT_MP_PURCHASE_INSERT,
        "INSERT INTO mp_purchases (raas_ref, client_uuid, client_txn_ref, body_hash,"
        " reserve_ref, product_id, funding_source_id, account_identifier, auth_code,"
        " source_identifier, target_identifier, channel_id, channel_name, channel_session_id,"
        " currency, purchase_amount, fee_amount, request_timestamp, additional_data, status,"
        " result_state, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING RETURNING id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, p->raas_ref);
    db_bind_text(st, 2, p->client_uuid);
    db_bind_text(st, 3, p->client_txn_ref);
    db_bind_blob(st, 4, p->body_hash, 32);
    db_bind_text(st, 5, p->reserve_ref);
    db_bind_int(st, 6, p->product_id);
    db_bind_int(st, 7, p->funding_source_id);
    db_bind_text(st, 8, p->account_identifier);
    db_bind_text(st, 9, p->auth_code);
    db_bind_text(st, 10, p->source_identifier);
    db_bind_text(st, 11, p->target_identifier);
    db_bind_int(st, 12, p->channel_id);
    db_bind_text(st, 13, p->channel_name);
    db_bind_text(st, 14, p->channel_session_id);
    db_bind_text(st, 15, p->currency);
    db_bind_int(st, 16, p->purchase_amount);
    db_bind_int(st, 17, p->fee_amount);
    db_bind_text(st, 18, p->request_timestamp);
    db_bind_text(st, 19, p->additional_data);
    db_bind_int(st, 20, p->status);
    db_bind_int(st, 21, p->result_state);
    db_bind_int(st, 22, p->created_at);
    db_bind_int(st, 23, p->updated_at);
    return db_one_int(st, &p->id, "mp purchase insert");
}

static bool ref_matches(const char *given, const char *have)
{
    return !given || (have && strcmp(given, have) == 0);
}

static enum db_status sql_mp_purchase_find(struct db_tx *tx, const char *client_uuid,
                                           const struct db_mp_refs *refs, struct arena *a,
                                           struct db_mp_purchase *out)
{
    /* by the most selective reference given, through its index; the others
     * are compared after */
    struct db_stmt *st;
    const char *ref;
    if ((ref = refs->raas_ref))
        st = db_stmt(tx, STMT_MP_PURCHASE_FIND,
                     "SELECT " PURCHASE_COLS " FROM mp_purchases"
                     " WHERE client_uuid = ? AND raas_ref = ?");
    else if ((ref = refs->client_txn_ref))
        st = db_stmt(tx, STMT_MP_PURCHASE_FIND_CLIENT_REF,
                     "SELECT " PURCHASE_COLS " FROM mp_purchases"
                     " WHERE client_uuid = ? AND client_txn_ref = ?");
    else if ((ref = refs->reserve_ref))
        st = db_stmt(tx, STMT_MP_PURCHASE_FIND_RESERVE,
                     "SELECT " PURCHASE_COLS " FROM mp_purchases"
                     " WHERE client_uuid = ? AND reserve_ref = ? ORDER BY id LIMIT 1");
    else
        return DB_NO_RESULTS;
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, client_uuid);
    db_bind_text(st, 2, ref);
    enum db_status s =
        db_one_row(st, "mp purchase find", purchase_reader, &(struct purchase_read){a, out});
    if (s > 0 && !(ref_matches(refs->raas_ref, out->raas_ref) &&
                   ref_matches(refs->client_txn_ref, out->client_txn_ref) &&
                   ref_matches(refs->reserve_ref, out->reserve_ref)))
        s = DB_NO_RESULTS;
    return s;
}

static enum db_status sql_mp_purchase_get(struct db_tx *tx, int64_t id, struct arena *a,
                                          struct db_mp_purchase *out)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_PURCHASE_GET,
                                 "SELECT " PURCHASE_COLS " FROM mp_purchases WHERE id = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, id);
    return db_one_row(st, "mp purchase get", purchase_reader, &(struct purchase_read){a, out});
}

static enum db_status sql_mp_purchase_fulfilment(struct db_tx *tx, const struct db_mp_purchase *p)
{
    struct db_stmt *st =
        db_stmt(tx, STMT_MP_PURCHASE_FULFILMENT,
                "UPDATE mp_purchases SET status = ?, result_code = ?, result_message = ?,"
                " tokens = ?, status_checks = ?, result_body = ?, result_state = ?,"
                " completed_at = ?, updated_at = ? WHERE id = ? AND client_uuid = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, p->status);
    db_bind_text(st, 2, p->result_code);
    db_bind_text(st, 3, p->result_message);
    db_bind_text(st, 4, p->tokens);
    db_bind_int(st, 5, p->status_checks);
    db_bind_text(st, 6, p->result_body);
    db_bind_int(st, 7, p->result_state);
    db_bind_int(st, 8, p->completed_at);
    db_bind_int(st, 9, p->updated_at);
    db_bind_int(st, 10, p->id);
    db_bind_text(st, 11, p->client_uuid);
    return db_exec(st, "mp purchase fulfilment");
}

static enum db_status sql_mp_purchase_result_try(struct db_tx *tx, const struct db_mp_purchase *p)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_PURCHASE_RESULT_TRY,
                                 "UPDATE mp_purchases SET result_state = ?, result_attempts = ?,"
                                 " result_last_http = ?, result_delivered_at = ?, updated_at = ?"
                                 " WHERE id = ? AND client_uuid = ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, p->result_state);
    db_bind_int(st, 2, p->result_attempts);
    db_bind_int(st, 3, p->result_last_http);
    db_bind_int(st, 4, p->result_delivered_at);
    db_bind_int(st, 5, p->updated_at);
    db_bind_int(st, 6, p->id);
    db_bind_text(st, 7, p->client_uuid);
    return db_exec(st, "mp purchase result try");
}

static enum db_status sql_mp_purchase_in_flight(struct db_tx *tx, const char *client_uuid,
                                                const struct db_mp_purchase *like,
                                                const struct db_mp_refs *except, int limit,
                                                struct arena *a, db_mp_purchase_cb cb, void *cls)
{
    /* the references left out, in the query (before its limit): "" is none
     * (a stored reference is never empty) */
    struct db_stmt *st =
        db_stmt(tx, STMT_MP_PURCHASE_IN_FLIGHT,
                "SELECT " PURCHASE_COLS " FROM mp_purchases"
                " WHERE client_uuid = ? AND status = 0 AND target_identifier = ?"
                " AND source_identifier = ? AND product_id = ?"
                " AND purchase_amount = ? AND raas_ref <> ? AND client_txn_ref <> ?"
                " AND reserve_ref <> ? ORDER BY id LIMIT ?");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, client_uuid);
    db_bind_text(st, 2, like->target_identifier);
    db_bind_text(st, 3, like->source_identifier);
    db_bind_int(st, 4, like->product_id);
    db_bind_int(st, 5, like->purchase_amount);
    db_bind_text(st, 6, except && except->raas_ref ? except->raas_ref : "");
    db_bind_text(st, 7, except && except->client_txn_ref ? except->client_txn_ref : "");
    db_bind_text(st, 8, except && except->reserve_ref ? except->reserve_ref : "");
    db_bind_int(st, 9, limit);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "mp purchase in flight")) == DB_ONE_RESULT) {
        struct db_mp_purchase p;
        read_purchase(st, a, &p);
        cb(cls, &p);
        n++;
    }
    db_reset(st);
    return rc == DB_NO_RESULTS ? (enum db_status)n : rc;
}

/* ---- MNO prefixes ---------------------------------------------------------------------------- */

static enum db_status sql_mp_mno_clear(struct db_tx *tx)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_MNO_CLEAR, "DELETE FROM mp_mno_prefixes");
    return st ? db_exec(st, "mno clear") : DB_HARD_ERROR;
}

static enum db_status sql_mp_mno_insert(struct db_tx *tx, const struct db_mp_mno *m)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_MNO_INSERT,
                                 "INSERT INTO mp_mno_prefixes (prefix, mno, country_code)"
                                 " VALUES (?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, m->prefix);
    db_bind_text(st, 2, m->mno);
    db_bind_nonempty(st, 3, m->country_code);
    return db_exec(st, "mno insert");
}

static void read_mno(struct db_stmt *st, void *cls)
{
    struct db_mp_mno *m = cls;
    db_col_copy(st, 0, m->prefix, sizeof m->prefix);
    db_col_copy(st, 1, m->mno, sizeof m->mno);
    db_col_copy(st, 2, m->country_code, sizeof m->country_code);
}

static enum db_status sql_mp_mno_lookup(struct db_tx *tx, const char *msisdn, struct db_mp_mno *out)
{
    /* every prefix of the number, looked up by the primary key: the
     * longest that is in the table wins */
    struct db_stmt *st =
        db_stmt(tx, STMT_MP_MNO_LOOKUP,
                "SELECT prefix, mno, country_code FROM mp_mno_prefixes WHERE prefix IN"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ORDER BY length(prefix) DESC LIMIT 1");
    if (!st)
        return DB_HARD_ERROR;
    size_t len = strlen(msisdn);
    char p[16];
    for (int i = 1; i <= 15; i++) {
        size_t n = (size_t)i < len ? (size_t)i : len;
        if (n >= sizeof p)
            n = sizeof p - 1;
        memcpy(p, msisdn, n);
        p[n] = '\0';
        db_bind_text(st, i, p);
    }
    memset(out, 0, sizeof *out);
    return db_one_row(st, "mno lookup", read_mno, out);
}

static enum db_status sql_mp_mno_count(struct db_tx *tx, int64_t *n)
{
    struct db_stmt *st = db_stmt(tx, STMT_MP_MNO_COUNT, "SELECT COUNT(*) FROM mp_mno_prefixes");
    return st ? db_one_int(st, n, "mno count") : DB_HARD_ERROR;
}

const struct db_marketplace_ops sql_marketplace_ops = {
    .client_insert = sql_mp_client_insert,
    .client_get = sql_mp_client_get,
    .client_get_by_uuid = sql_mp_client_get_by_uuid,
    .client_update = sql_mp_client_update,
    .client_list = sql_mp_client_list,
    .token_insert = sql_mp_token_insert,
    .token_find = sql_mp_token_find,
    .token_purge = sql_mp_token_purge,
    .product_insert = sql_mp_product_insert,
    .product_get = sql_mp_product_get,
    .product_update = sql_mp_product_update,
    .product_list = sql_mp_product_list,
    .product_count = sql_mp_product_count,
    .purchase_insert = sql_mp_purchase_insert,
    .purchase_find = sql_mp_purchase_find,
    .purchase_get = sql_mp_purchase_get,
    .purchase_fulfilment = sql_mp_purchase_fulfilment,
    .purchase_result_try = sql_mp_purchase_result_try,
    .purchase_in_flight = sql_mp_purchase_in_flight,
    .mno_clear = sql_mp_mno_clear,
    .mno_insert = sql_mp_mno_insert,
    .mno_lookup = sql_mp_mno_lookup,
    .mno_count = sql_mp_mno_count,
};
