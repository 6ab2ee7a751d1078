/*
 * admin.c — creating merchants and API keys (CLI and `serve --dev`).
 */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/currency.h"
#include "util/crypto.h"
#include "db/merchants.h"
#include "service/callbacks.h"
#include "service/settings.h"

bool admin_parse_currencies(const char *csv, struct db_currency *list, size_t *n, char *err,
                            size_t errlen)
{
    *n = 0;
    const char *p = csv;
    for (;;) {
        size_t len = strcspn(p, ",");
        char code[8] = {0};
        while (len && *p == ' ') {
            p++;
            len--;
        }
        while (len && p[len - 1] == ' ')
            len--;
        if (len != 3) {
            snprintf(err, errlen, "currencies: \"%.*s\" is not a three-letter ISO 4217 code",
                     (int)(len > 16 ? 16 : len), p);
            return false;
        }
        memcpy(code, p, 3);
        const struct currency *cur = currency_find(code);
        if (!cur) {
            snprintf(err, errlen, "currencies: %s is not a known ISO 4217 currency", code);
            return false;
        }
        for (size_t i = 0; i < *n; i++)
            if (strcmp(list[i].code, cur->code) == 0) {
                snprintf(err, errlen, "currencies: %s is listed twice", cur->code);
                return false;
            }
        if (*n >= DB_MAX_CURRENCIES) {
            snprintf(err, errlen, "currencies: at most %d", DB_MAX_CURRENCIES);
            return false;
        }
        memcpy(list[*n].code, cur->code, 4);
        list[*n].is_default = *n == 0;
        (*n)++;
        p += strcspn(p, ",");
        if (!*p)
            break;
        p++;
    }
    return true;
}

/* Fill a new key's text and row; the caller inserts it with its hash. */
static void make_key(const char *merchant_id, enum db_environment env, char key[API_KEY_MAX],
                     struct db_api_key *k, uint8_t hash[32])
{
    memset(k, 0, sizeof *k);
    const char *prefix = db_key_prefix(env);
    char secret[48];
    crypto_random_base62(256, secret, 43);
    snprintf(key, API_KEY_MAX, "%s%s", prefix, secret);
    char id[13];
    crypto_random_base62(64, id, 12);
    snprintf(k->id, sizeof k->id, "key_%s", id);
    snprintf(k->merchant_id, sizeof k->merchant_id, "%s", merchant_id);
    snprintf(k->prefix, sizeof k->prefix, "%s", prefix);
    size_t n = strlen(key);
    memcpy(k->last4, key + n - 4, 5);
    k->created_at = time_now();
    crypto_sha256(key, n, hash);
}

struct key_ctx {
    const struct db_api_key *key;
    const uint8_t *hash;
};

static enum db_status insert_key_cb(struct db_tx *tx, void *cls)
{
    struct key_ctx *c = cls;
    struct arena *a = arena_new(0);
    struct svc s = {.tx = tx, .a = a, .now = time_now()};
    enum db_status st = svc_apikey_add(&s, c->key, c->hash);
    arena_free(a);
    return st;
}

bool admin_apikey_create(struct db *db, const char *merchant_id, enum db_environment env,
                         char key[API_KEY_MAX], struct db_api_key *out)
{
    uint8_t hash[32];
    make_key(merchant_id, env, key, out, hash);
    struct key_ctx c = {out, hash};
    return db_run(db, DB_WRITE, "apikey_create", insert_key_cb, &c) > 0;
}

struct merchant_ctx {
    struct db_merchant *m;
    char *callback_secret;
    struct db_currency currencies[DB_MAX_CURRENCIES];
    size_t ncurrencies;
    struct db_api_key *key;
    uint8_t hash[32];
    char gateway_settings_id[DB_UUID_LEN];
};

static enum db_status create_merchant_cb(struct db_tx *tx, void *cls)
{
    struct merchant_ctx *c = cls;
    enum db_status st = DB_CALL(tx, merchants, insert, c->m);
    if (st < 0)
        return st;
    st = DB_CALL(tx, currencies, set, c->m->id, c->currencies, c->ncurrencies);
    if (st < 0)
        return st;
    st = DB_CALL(tx, api_keys, insert, c->key, c->hash);
    if (st < 0)
        return st;
    st = DB_CALL(tx, settings, gateway_settings_insert, c->m->id, c->gateway_settings_id,
                 "Sandbox gateway", c->m->created_at);
    if (st < 0)
        return st;
    struct arena *a = arena_new(0);
    struct svc s = {.tx = tx, .a = a, .now = c->m->created_at};
    st = svc_cb_secret(&s, c->m->id, c->callback_secret);
    arena_free(a);
    return st < 0 ? st : DB_ONE_RESULT;
}

bool admin_merchant_create(struct db *db, const struct merchant_new *in, struct db_merchant *out,
                           char key[API_KEY_MAX], struct db_api_key *key_out, char *callback_secret,
                           char *err, size_t errlen)
{
    size_t nlen = strlen(in->name);
    if (nlen == 0 || nlen > DB_NAME_MAX) {
        snprintf(err, errlen, "name: must be 1 to %d characters", DB_NAME_MAX);
        return false;
    }
    struct merchant_ctx c = {.m = out, .key = key_out, .callback_secret = callback_secret};
    if (!admin_parse_currencies(in->currencies, c.currencies, &c.ncurrencies, err, errlen))
        return false;
    memset(out, 0, sizeof *out);
    crypto_uuid_v4(out->id);
    memcpy(out->name, in->name, nlen + 1);
    out->environment = in->environment;
    out->sms_enabled = in->sms_enabled;
    out->whatsapp_enabled = in->whatsapp_enabled;
    out->created_at = out->updated_at = time_now();
    out->default_transaction_type = 2; /* Sale */
    out->link_ttl_s = DB_DEFAULT_LINK_TTL_S;
    out->click_ttl_s = DB_DEFAULT_CLICK_TTL_S;
    out->page_ttl_s = DB_DEFAULT_PAGE_TTL_S;
    out->max_payment_attempts = DB_DEFAULT_PAYMENT_ATTEMPTS;
    out->settlement_delay_s = DB_DEFAULT_SETTLEMENT_S;
    out->review_settle_s = DB_DEFAULT_REVIEW_S;
    out->quiet_start = out->quiet_end = -1;
    snprintf(out->timezone, sizeof out->timezone, "UTC");
    crypto_uuid_v4(c.gateway_settings_id);
    make_key(out->id, in->environment, key, key_out, c.hash);
    if (db_run(db, DB_WRITE, "merchant_create", create_merchant_cb, &c) <= 0) {
        snprintf(err, errlen, "could not store the merchant (see the log above)");
        return false;
    }
    return true;
}
