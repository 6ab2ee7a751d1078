/*
 * api_keys.c — API keys (SQLite). Only the SHA-256 of a key is stored.
 */
#include "db/sql/sql_internal.h"

#include <string.h>

#define KEY_COLS                                                                                   \
    "k.id, k.merchant_id, k.prefix, k.last4, k.created_at, COALESCE(k.revoked_at, 0),"             \
    " m.environment = 'PRODUCTION'"
#define KEY_FROM " FROM api_keys k JOIN merchants m ON m.id = k.merchant_id"

static void read_key(struct db_stmt *st, struct db_api_key *k)
{
    memset(k, 0, sizeof *k);
    db_col_copy(st, 0, k->id, sizeof k->id);
    db_col_copy(st, 1, k->merchant_id, sizeof k->merchant_id);
    db_col_copy(st, 2, k->prefix, sizeof k->prefix);
    db_col_copy(st, 3, k->last4, sizeof k->last4);
    k->created_at = db_col_int(st, 4);
    k->revoked_at = db_col_int(st, 5);
    k->merchant_env = (int)db_col_int(st, 6) ? ENV_PRODUCTION : ENV_SANDBOX;
}

enum db_status sql_api_keys_insert(struct db_tx *tx, const struct db_api_key *k,
                                   const uint8_t hash[32])
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_KEY_INSERT,
                                 "INSERT INTO api_keys"
                                 " (id, merchant_id, prefix, last4, hash, created_at)"
                                 " VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, k->id);
    db_bind_text(st, 2, k->merchant_id);
    db_bind_text(st, 3, k->prefix);
    db_bind_text(st, 4, k->last4);
    db_bind_blob(st, 5, hash, 32);
    db_bind_int(st, 6, k->created_at);
    return db_exec(st, "api key insert");
}

enum db_status sql_api_keys_find_by_hash(struct db_tx *tx, const uint8_t hash[32],
                                         struct db_api_key *out, uint8_t stored_hash[32])
{
    struct db_stmt *st = db_stmt(tx, STMT_KEY_FIND,
                                 "SELECT " KEY_COLS ", k.hash" KEY_FROM
                                 " WHERE k.hash = ? AND k.revoked_at IS NULL");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_blob(st, 1, hash, 32);
    enum db_status rc = db_step(st, "api key find");
    enum db_status s;
    const void *h = NULL;
    if (rc == DB_ONE_RESULT && db_col_blob(st, 7, &h) == 32) {
        read_key(st, out);
        memcpy(stored_hash, h, 32);
        s = DB_ONE_RESULT;
    } else {
        s = rc == DB_ONE_RESULT ? DB_NO_RESULTS : rc;
    }
    db_reset(st);
    return s;
}

enum db_status sql_api_keys_revoke(struct db_tx *tx, const char *key_id, usec_t now,
                                   char merchant_id[DB_UUID_LEN])
{
    db_tx_config_changed(tx);
    struct db_stmt *st = db_stmt(tx, STMT_KEY_REVOKE,
                                 "UPDATE api_keys SET revoked_at = ?"
                                 " WHERE id = ? AND revoked_at IS NULL RETURNING merchant_id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_int(st, 1, now);
    db_bind_text(st, 2, key_id);
    return db_one_row(st, "api key revoke", db_read_uuid, merchant_id);
}

enum db_status sql_api_keys_list(struct db_tx *tx, const char *merchant_id, db_api_key_cb cb,
                                 void *cls)
{
    struct db_stmt *st = db_stmt(tx, STMT_KEY_LIST,
                                 "SELECT " KEY_COLS KEY_FROM " WHERE k.merchant_id = ?"
                                 " ORDER BY k.created_at, k.id");
    if (!st)
        return DB_HARD_ERROR;
    db_bind_text(st, 1, merchant_id);
    enum db_status rc;
    int n = 0;
    while ((rc = db_step(st, "api key list")) == DB_ONE_RESULT) {
        struct db_api_key k;
        read_key(st, &k);
        cb(cls, &k);
        n++;
    }
    enum db_status s = rc == DB_NO_RESULTS ? (enum db_status)n : rc;
    db_reset(st);
    return s;
}
