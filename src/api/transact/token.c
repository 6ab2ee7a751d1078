/*
 * token.c — POST /token (and /auth/token): the Security Service. A client's
 * id and secret (form fields, or HTTP Basic) for an access token that lives
 * 300 seconds (OAuth 2.0 client credentials grant; docs/marketplace.md).
 *
 * The token is 256 random bits; only its SHA-256 is stored, with the client
 * and the expiry.
 */
#include "api/transact/transact.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "config.h"
#include "util/crypto.h"
#include "util/form.h"

struct token_ctx {
    struct req *r;
    int64_t client_id;
    const char *secret;
    usec_t now;
    char token[64];
    bool refused; /* unknown client, wrong secret, disabled */
};

static enum db_status token_cb(struct db_tx *tx, void *cls)
{
    struct token_ctx *c = cls;
    struct db_mp_client cl;
    enum db_status st = DB_CALL(tx, marketplace, client_get, c->client_id, c->r->arena, &cl);
    if (st < 0)
        return st;
    uint8_t hash[32];
    crypto_sha256(c->secret, strlen(c->secret), hash);
    /* compared even for an unknown client, so the time taken says nothing */
    bool ok = crypto_equal(hash, st > 0 ? cl.secret_hash : (uint8_t[32]){0}, sizeof hash);
    if (st == 0 || !ok || cl.status != MP_CLIENT_ACTIVE) {
        c->refused = true;
        return DB_ROLLBACK;
    }
    char tok[44]; /* 43 characters carry 256 bits */
    crypto_random_base62(256, tok, sizeof tok - 1);
    snprintf(c->token, sizeof c->token, "mat_%s", tok);
    crypto_sha256(c->token, strlen(c->token), hash);
    st = DB_CALL(tx, marketplace, token_insert, hash, cl.id,
                 c->now + (usec_t)c->r->app->cfg->mp_token_ttl * 1000000, c->now);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* How many fields of the form body are named `name`. */
static int field_count(const char *body, size_t len, const char *name)
{
    size_t n = strlen(name);
    int count = 0;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end - i >= n && memcmp(body + i, name, n) == 0 && (end - i == n || body[i + n] == '='))
            count++;
        i = end + 1;
    }
    return count;
}

static void oauth_error(struct req *r, int status, const char *error, const char *description)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(error));
    json_object_object_add(o, "error_description", json_object_new_string(description));
    reply_json(r, status, o);
    json_object_put(o);
}

/* "Basic base64(id:secret)" → id and secret in the arena; false when it is
 * not that. */
static bool basic_credentials(struct req *r, const char *h, const char **id, const char **secret)
{
    h += 6;
    while (*h == ' ')
        h++;
    uint8_t buf[512];
    size_t n = 0;
    if (strlen(h) > 680 || !crypto_base64_decode(h, buf, sizeof buf - 1, &n))
        return false;
    buf[n] = '\0';
    char *text = arena_strndup(r->arena, (const char *)buf, n);
    char *colon = strchr(text, ':');
    if (!colon || strlen(text) != n)
        return false;
    *colon = '\0';
    *id = text;
    *secret = colon + 1;
    return true;
}

void api_mp_token(struct req *r)
{
    const char *ct = req_header(r, "Content-Type");
    size_t len = 0;
    const char *body = req_body(r, &len);
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        oauth_error(r, 400, "invalid_request",
                    "the body must be application/x-www-form-urlencoded");
        return;
    }
    static const char *const names[] = {"grant_type", "client_id", "client_secret"};
    for (size_t i = 0; i < 3; i++) {
        if (field_count(body, len, names[i]) > 1) {
            oauth_error(r, 400, "invalid_request",
                        arena_printf(r->arena, "%s: given more than once", names[i]));
            return;
        }
    }
    const char *grant = form_get(r->arena, body, len, "grant_type");
    const char *id = form_get(r->arena, body, len, "client_id");
    const char *secret = form_get(r->arena, body, len, "client_secret");
    const char *h = req_header(r, "Authorization");
    bool basic = h && strncasecmp(h, "Basic ", 6) == 0;
    if (!grant) {
        oauth_error(r, 400, "invalid_request", "grant_type: is required");
        return;
    }
    if (strcmp(grant, "client_credentials") != 0) {
        oauth_error(r, 400, "unsupported_grant_type",
                    "grant_type: only client_credentials is supported");
        return;
    }
    if (basic && (id || secret)) {
        oauth_error(r, 400, "invalid_request",
                    "give the client's credentials either in the body or as HTTP Basic, not both");
        return;
    }
    if (basic && !basic_credentials(r, h, &id, &secret)) {
        oauth_error(r, 400, "invalid_request", "Authorization: malformed Basic credentials");
        return;
    }
    if (!id || !secret) {
        oauth_error(r, 400, "invalid_request",
                    !id ? "client_id: is required" : "client_secret: is required");
        return;
    }
    struct token_ctx c = {.r = r, .secret = secret, .now = time_now()};
    size_t digits = strspn(id, "0123456789");
    bool id_ok = digits > 0 && digits <= 5 && id[digits] == '\0' && strlen(secret) <= 256;
    for (size_t i = 0; id_ok && i < digits; i++)
        c.client_id = c.client_id * 10 + (id[i] - '0');
    enum db_status st = id_ok ? db_run(r->app->db, DB_WRITE, "mp_token", token_cb, &c) : 0;
    if (!id_ok || c.refused) {
        if (basic)
            reply_header(r, "WWW-Authenticate", "Basic realm=\"chatpay\"");
        oauth_error(r, 401, "invalid_client",
                    "the client is unknown or disabled, or the secret is wrong");
        return;
    }
    if (st < 0) {
        oauth_error(r, st == DB_SOFT_ERROR ? 503 : 500,
                    st == DB_SOFT_ERROR ? "temporarily_unavailable" : "server_error",
                    st == DB_SOFT_ERROR ? "the database is busy; try again" : "internal error");
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "access_token", json_object_new_string(c.token));
    json_object_object_add(o, "token_type", json_object_new_string("bearer"));
    json_object_object_add(o, "expires_in", json_object_new_int((int)r->app->cfg->mp_token_ttl));
    json_object_object_add(o, "refresh_expires_in", json_object_new_int(0));
    json_object_object_add(o, "not-before-policy", json_object_new_int(0));
    json_object_object_add(o, "scope", json_object_new_string("transact lookup"));
    /* RFC 6749 5.1: no cache may keep a token (Cache-Control: no-store is
     * on every reply; Pragma for HTTP/1.0 caches) */
    reply_header(r, "Pragma", "no-cache");
    reply_json(r, 200, o);
    json_object_put(o);
}
