/*
 * auth.c — API key authentication of the Chat 2 Pay family.
 *
 * The key arrives as "Authorization: <key>" (the published API's form) or
 * "Authorization: Bearer <key>". Its SHA-256 is looked up among active keys;
 * the stored hash is compared again in constant time. A revoked key is not
 * found, so revocation takes effect on the next request.
 *
 * Valid keys are remembered per server thread, tagged with the database's
 * configuration epoch (db_config_epoch): any committed change to keys or
 * merchants — revocation included, from any process — advances the epoch
 * and so invalidates every remembered key before the next request.
 */
#include "api/chat2pay/chat2pay.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "util/crypto.h"
#include "util/log.h"
#include "db/merchants.h"

/* Longest Authorization value considered (real keys are ~60 characters). */
enum { AUTH_MAX_KEY = 256 };

struct auth_ctx {
    uint8_t hash[32];
    struct db_api_key key;
    uint8_t stored[32];
};

static enum db_status find_key_cb(struct db_tx *tx, void *cls)
{
    struct auth_ctx *c = cls;
    return DB_CALL(tx, api_keys, find_by_hash, c->hash, &c->key, c->stored);
}

/* A direct-mapped cache of valid keys, one per thread (no locking). */
enum { AUTH_CACHE_SLOTS = 256 };
struct auth_cache_slot {
    const struct db *db;
    uint64_t epoch;
    uint8_t hash[32];
    struct req_auth auth;
};
static _Thread_local struct auth_cache_slot auth_cache[AUTH_CACHE_SLOTS];

static void reply_unauthorized(struct req *r, const char *why)
{
    reply_error(r, ERR_UNAUTHORIZED, why);
}

enum c2p_key_check c2p_check_key(struct req *r, const char *h, size_t n, const char **why)
{
    *why = NULL;
    if (n == 0 || n > AUTH_MAX_KEY)
        return C2P_KEY_REFUSED;
    struct auth_ctx c;
    memset(&c, 0, sizeof c);
    crypto_sha256(h, n, c.hash);
    /* read the epoch before the database: a change committed after this
     * point carries a newer epoch and invalidates what is cached below */
    uint64_t epoch = db_config_epoch(r->app->db);
    struct auth_cache_slot *slot = &auth_cache[c.hash[0]];
    if (slot->db == r->app->db && slot->epoch == epoch &&
        crypto_equal(slot->hash, c.hash, sizeof c.hash)) {
        r->auth = slot->auth;
        r->authenticated = true;
        return C2P_KEY_OK;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "auth", find_key_cb, &c);
    if (st < 0)
        return C2P_KEY_UNAVAILABLE;
    if (st == DB_NO_RESULTS || !crypto_equal(c.hash, c.stored, sizeof c.hash))
        return C2P_KEY_REFUSED;
    /* a sandbox key never moves real money, and a live key never works
     * for a sandbox merchant: the prefix must match the merchant's
     * environment now (a change of environment invalidates the cache) */
    if (strcmp(c.key.prefix, db_key_prefix(c.key.merchant_env)) != 0) {
        *why = c.key.merchant_env == ENV_PRODUCTION
                   ? "This is a sandbox API key and the merchant works in "
                     "production now: use a cp_live_ key"
                   : "This is a production API key and the merchant works in "
                     "the sandbox now: use a cp_sandbox_ key";
        return C2P_KEY_REFUSED;
    }
    snprintf(r->auth.merchant_id, sizeof r->auth.merchant_id, "%s", c.key.merchant_id);
    snprintf(r->auth.key_id, sizeof r->auth.key_id, "%s", c.key.id);
    snprintf(r->auth.key_prefix, sizeof r->auth.key_prefix, "%s", c.key.prefix);
    snprintf(r->auth.key_last4, sizeof r->auth.key_last4, "%s", c.key.last4);
    r->authenticated = true;
    slot->db = r->app->db;
    slot->epoch = epoch;
    memcpy(slot->hash, c.hash, sizeof c.hash);
    slot->auth = r->auth;
    return C2P_KEY_OK;
}

bool c2p_authenticate_or_reply(struct req *r)
{
    const char *h = req_header(r, "Authorization");
    if (!h || !*h) {
        reply_unauthorized(r, "Missing Authorization header with a Chat 2 Pay API key");
        return false;
    }
    if (strncasecmp(h, "Bearer ", 7) == 0)
        h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n && h[n - 1] == ' ')
        n--;
    const char *why;
    switch (c2p_check_key(r, h, n, &why)) {
    case C2P_KEY_OK:
        return true;
    case C2P_KEY_UNAVAILABLE:
        reply_error(r, ERR_UNAVAILABLE, "Cannot check the API key right now; try again");
        return false;
    case C2P_KEY_REFUSED:
        break;
    }
    reply_unauthorized(r, why);
    return false;
}
