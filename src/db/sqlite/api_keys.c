/*
 * api_keys.c — API keys (SQLite). Only the SHA-256 of a key is stored.
 */
#include "db/sqlite/sqlite_internal.h"

#include <string.h>

#define KEY_COLS                                                                                   \
    "k.id, k.merchant_id, k.prefix, k.last4, k.created_at, COALESCE(k.revoked_at, 0),"             \
    " m.environment = 'PRODUCTION'"
#define KEY_FROM " FROM api_keys k JOIN merchants m ON m.id = k.merchant_id"

static void read_key(sqlite3_stmt *st, struct db_api_key *k)
{
    memset(k, 0, sizeof *k);
    sqlite_col_text(st, 0, k->id, sizeof k->id);
    sqlite_col_text(st, 1, k->merchant_id, sizeof k->merchant_id);
    sqlite_col_text(st, 2, k->prefix, sizeof k->prefix);
    sqlite_col_text(st, 3, k->last4, sizeof k->last4);
    k->created_at = sqlite3_column_int64(st, 4);
    k->revoked_at = sqlite3_column_int64(st, 5);
    k->merchant_env = sqlite3_column_int(st, 6) ? ENV_PRODUCTION : ENV_SANDBOX;
}

enum db_status sqlite_api_keys_insert(struct db_tx *tx, const struct db_api_key *k,
                                      const uint8_t hash[32])
{
    db_tx_config_changed(tx);
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_KEY_INSERT,
                                   "INSERT INTO api_keys"
                                   " (id, merchant_id, prefix, last4, hash, created_at)"
                                   " VALUES (?, ?, ?, ?, ?, ?)");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, k->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, k->merchant_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, k->prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, k->last4, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 5, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, k->created_at);
    return sqlite_exec_stmt(tx, st, "api key insert");
}

enum db_status sqlite_api_keys_find_by_hash(struct db_tx *tx, const uint8_t hash[32],
                                            struct db_api_key *out, uint8_t stored_hash[32])
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_KEY_FIND,
                                   "SELECT " KEY_COLS ", k.hash" KEY_FROM
                                   " WHERE k.hash = ? AND k.revoked_at IS NULL");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    enum db_status s;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 7) == 32) {
        read_key(st, out);
        memcpy(stored_hash, sqlite3_column_blob(st, 7), 32);
        s = DB_ONE_RESULT;
    } else {
        s = rc == SQLITE_ROW ? DB_NO_RESULTS : sqlite_status(tx, rc, "api key find");
    }
    sqlite3_reset(st);
    return s;
}

enum db_status sqlite_api_keys_revoke(struct db_tx *tx, const char *key_id, usec_t now,
                                      char merchant_id[DB_UUID_LEN])
{
    db_tx_config_changed(tx);
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_KEY_REVOKE,
                                   "UPDATE api_keys SET revoked_at = ?"
                                   " WHERE id = ? AND revoked_at IS NULL RETURNING merchant_id");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, key_id, -1, SQLITE_TRANSIENT);
    return sqlite_one_row(tx, st, "api key revoke", sqlite_read_uuid, merchant_id);
}

enum db_status sqlite_api_keys_list(struct db_tx *tx, const char *merchant_id, db_api_key_cb cb,
                                    void *cls)
{
    sqlite3_stmt *st = sqlite_stmt(tx, STMT_KEY_LIST,
                                   "SELECT " KEY_COLS KEY_FROM " WHERE k.merchant_id = ?"
                                   " ORDER BY k.created_at, k.id");
    if (!st)
        return DB_HARD_ERROR;
    sqlite3_bind_text(st, 1, merchant_id, -1, SQLITE_TRANSIENT);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_api_key k;
        read_key(st, &k);
        cb(cls, &k);
        n++;
    }
    enum db_status s =
        rc == SQLITE_DONE ? (enum db_status)n : sqlite_status(tx, rc, "api key list");
    sqlite3_reset(st);
    return s;
}
