/*
 * auth.c — authentication of the marketplace family: an access token
 * (Authorization: Bearer, from POST /token) and the client's API key
 * (X-API-Key), both of the same active client.
 *
 * The key's prefix must fit the client's environment (mak_sandbox_ for a
 * sandbox client, mak_live_ for a production one).
 *
 * Tokens and keys are stored as their SHA-256. A token found is remembered
 * by the server thread until it expires or the configuration epoch changes
 * (a client disabled or changed on any node advances it), so a request with
 * a known token reads nothing from the database, for TOKEN_RECHECK at most:
 * then the token is read again, so that one ended by its client's cap of
 * live tokens (the 101st ends the oldest; that does not advance the epoch,
 * which would empty every cache of every node each time) stops working
 * within TOKEN_RECHECK too.
 */
#include "api/transact/transact.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "util/crypto.h"

enum { TOKEN_MAX = 256, CACHE_SLOTS = 256 };
#define TOKEN_RECHECK (2 * 1000000LL) /* usec a remembered token is trusted unread */

struct auth_slot {
    const struct db *db;
    uint64_t epoch;
    uint8_t token_hash[32];
    usec_t expires_at, checked_at;
    uint8_t api_key_hash[32];
    char key_prefix[24], key_last4[5];
    struct mp_auth auth;
    char secret[160]; /* the sealed signature secret */
};
static _Thread_local struct auth_slot cache[CACHE_SLOTS];

struct find_ctx {
    uint8_t hash[32];
    usec_t now, expires_at;
    struct arena *a;
    struct db_mp_client client;
};

static enum db_status find_cb(struct db_tx *tx, void *cls)
{
    struct find_ctx *c = cls;
    return DB_CALL(tx, marketplace, token_find, c->hash, c->now, c->a, &c->client, &c->expires_at);
}

const struct mp_auth *mp_auth(const struct req *r)
{
    return r->family_state;
}

/* `value` without surrounding spaces, when it is 1..TOKEN_MAX long. */
static bool trimmed(const char *value, const char **s, size_t *n)
{
    while (*value == ' ')
        value++;
    size_t len = strlen(value);
    while (len && value[len - 1] == ' ')
        len--;
    *s = value;
    *n = len;
    return len > 0 && len <= TOKEN_MAX;
}

bool mp_authenticate_or_reply(struct req *r)
{
    const char *h = req_header(r, "Authorization"), *tok;
    size_t tok_len;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !trimmed(h + 7, &tok, &tok_len)) {
        mp_refuse1(r, MPC_BAD_TOKEN,
                   "Authorization: an access token is required (Bearer, from POST /token)");
        return false;
    }
    struct find_ctx c = {.now = time_now(), .a = r->arena};
    crypto_sha256(tok, tok_len, c.hash);
    uint64_t epoch = db_config_epoch(r->app->db);
    struct auth_slot *slot = &cache[c.hash[0]];
    if (!(slot->db == r->app->db && slot->epoch == epoch && slot->expires_at > c.now &&
          c.now >= slot->checked_at && c.now - slot->checked_at < TOKEN_RECHECK &&
          crypto_equal(slot->token_hash, c.hash, sizeof c.hash))) {
        enum db_status st = db_run(r->app->db, DB_READ, "mp_auth", find_cb, &c);
        if (st < 0) {
            mp_reply_db_error(r, st);
            return false;
        }
        if (st == 0) {
            mp_refuse1(r, MPC_BAD_TOKEN,
                       "Authorization: the access token is not valid or has "
                       "expired; get a new one from POST /token");
            return false;
        }
        if (strlen(c.client.signature_secret) >= sizeof slot->secret) {
            mp_refuse1(r, MPC_INTERNAL, NULL);
            return false;
        }
        slot->db = r->app->db;
        slot->epoch = epoch;
        memcpy(slot->token_hash, c.hash, sizeof c.hash);
        slot->expires_at = c.expires_at;
        slot->checked_at = c.now;
        memcpy(slot->api_key_hash, c.client.api_key_hash, sizeof slot->api_key_hash);
        snprintf(slot->key_prefix, sizeof slot->key_prefix, "%s", c.client.api_key_prefix);
        snprintf(slot->key_last4, sizeof slot->key_last4, "%s", c.client.api_key_last4);
        snprintf(slot->secret, sizeof slot->secret, "%s", c.client.signature_secret);
        slot->auth = (struct mp_auth){.client_id = c.client.client_id,
                                      .funding_source_id = c.client.funding_source_id,
                                      .require_signature = c.client.require_signature,
                                      .environment = c.client.environment};
        snprintf(slot->auth.uuid, sizeof slot->auth.uuid, "%s", c.client.id);
    }
    const char *key = req_header(r, "X-API-Key"), *k;
    size_t k_len;
    uint8_t key_hash[32];
    if (!key || !trimmed(key, &k, &k_len)) {
        mp_refuse1(r, MPC_BAD_API_KEY, "X-API-Key: the client's API key is required");
        return false;
    }
    crypto_sha256(k, k_len, key_hash);
    if (!crypto_equal(key_hash, slot->api_key_hash, sizeof key_hash)) {
        mp_refuse1(r, MPC_BAD_API_KEY, "X-API-Key: not the API key of the token's client");
        return false;
    }
    /* a sandbox key never buys for a production client, nor a live key for
     * a sandbox one: the prefix must fit the client's environment now */
    if (strcmp(slot->key_prefix, mp_api_key_prefix(slot->auth.environment)) != 0) {
        mp_refuse1(r, MPC_BAD_API_KEY,
                   slot->auth.environment == ENV_PRODUCTION
                       ? "X-API-Key: a sandbox key (mak_sandbox_), and the client works in "
                         "production now: use its mak_live_ key"
                       : "X-API-Key: a production key (mak_live_), and the client works in the "
                         "sandbox now: use its mak_sandbox_ key");
        return false;
    }
    struct mp_auth *a = arena_alloc(r->arena, sizeof *a);
    *a = slot->auth;
    a->signature_secret = arena_strdup(r->arena, slot->secret);
    r->family_state = a;
    snprintf(r->auth.merchant_id, sizeof r->auth.merchant_id, "%s", a->uuid);
    snprintf(r->auth.key_id, sizeof r->auth.key_id, "%lld", (long long)a->client_id);
    snprintf(r->auth.key_prefix, sizeof r->auth.key_prefix, "%s", slot->key_prefix);
    snprintf(r->auth.key_last4, sizeof r->auth.key_last4, "%s", slot->key_last4);
    r->authenticated = true;
    return true;
}
