/*
 * transact.c — POST /core-transact/4.0 (and its /apiman-gateway/... alias):
 * buy a product for a client's customer after the client reserved the
 * funds (spec/transact-api.txt; docs/marketplace.md).
 *
 * The Signature (when present, or required by the client) is checked over
 * the raw body first; then every field of the body, all problems at once;
 * then the client and funding source; then, in one transaction, the
 * product's rules and the purchase with its fulfilment job
 * (service/purchases.c). A clientTxnRef sent again with the same body gets
 * the first reply; a refusal stores nothing. The authCode is not stored and
 * the accountIdentifier only masked; the repeat hash covers both as sent.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/transact/transact.h"
#include "app.h"
#include "config.h"
#include "service/purchases.h"
#include "util/crypto.h"
#include "util/json.h"
#include "util/secretbox.h"

enum { ADDITIONAL_DATA_MAX = 4096 };

struct transact_body {
    const char *account_identifier, *auth_code, *channel_name, *channel_session_id;
    const char *client_txn_ref, *reserve_ref, *source_identifier, *target_identifier;
    const char *timestamp, *currency;
    struct fv_int purchase_amount, channel_id, client_id, product_id, fee_amount, funding_source_id;
};

#define B(f)       offsetof(struct transact_body, f)
#define AMOUNT_MAX 999999999999LL
static const struct field_spec transact_spec[] = {
    {.name = "accountIdentifier",
     .kind = FIELD_STRING,
     .offset = B(account_identifier),
     .flags = FIELD_LENIENT,
     .max = 64},
    {.name = "purchaseAmount",
     .kind = FIELD_INT,
     .offset = B(purchase_amount),
     .flags = FIELD_REQUIRED | FIELD_LENIENT,
     .min = 1,
     .max = AMOUNT_MAX},
    {.name = "authCode",
     .kind = FIELD_STRING,
     .offset = B(auth_code),
     .flags = FIELD_LENIENT,
     .max = 64},
    {.name = "channelId",
     .kind = FIELD_INT,
     .offset = B(channel_id),
     .flags = FIELD_REQUIRED | FIELD_LENIENT,
     .min = 0,
     .max = 99},
    {.name = "channelName",
     .kind = FIELD_STRING,
     .offset = B(channel_name),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK | FIELD_LENIENT,
     .max = 64},
    {.name = "channelSessionId",
     .kind = FIELD_STRING,
     .offset = B(channel_session_id),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK | FIELD_LENIENT,
     .max = 64},
    {.name = "clientId",
     .kind = FIELD_INT,
     .offset = B(client_id),
     .flags = FIELD_REQUIRED | FIELD_LENIENT,
     .min = 1,
     .max = 99999},
    {.name = "clientTxnRef",
     .kind = FIELD_STRING,
     .offset = B(client_txn_ref),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK | FIELD_LENIENT,
     .max = 64},
    {.name = "productId",
     .kind = FIELD_INT,
     .offset = B(product_id),
     .flags = FIELD_REQUIRED | FIELD_LENIENT,
     .min = 1,
     .max = 99999},
    {.name = "reserveFundsTxnRef",
     .kind = FIELD_STRING,
     .offset = B(reserve_ref),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK | FIELD_LENIENT,
     .max = 64},
    {.name = "sourceIdentifier",
     .kind = FIELD_STRING,
     .offset = B(source_identifier),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK | FIELD_LENIENT,
     .max = 32},
    {.name = "targetIdentifier",
     .kind = FIELD_STRING,
     .offset = B(target_identifier),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK | FIELD_LENIENT,
     .max = 32},
    {.name = "timestamp",
     .kind = FIELD_STRING,
     .offset = B(timestamp),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = 32},
    {.name = "feeAmount",
     .kind = FIELD_INT,
     .offset = B(fee_amount),
     .flags = FIELD_REQUIRED | FIELD_LENIENT,
     .min = 0,
     .max = AMOUNT_MAX},
    {.name = "currencyCode",
     .kind = FIELD_STRING,
     .offset = B(currency),
     .flags = FIELD_REQUIRED,
     .max = 3},
    {.name = "fundingSourceId",
     .kind = FIELD_INT,
     .offset = B(funding_source_id),
     .flags = FIELD_REQUIRED | FIELD_LENIENT,
     .min = 1,
     .max = 99999},
    {.name = NULL},
};

struct transact_ctx {
    struct req *r;
    const struct mp_auth *auth;
    struct db_mp_purchase p;
    uint8_t raw_hash[32]; /* SHA-256 of the raw body: the hash of a purchase stored before
                             repeats were compared on their fields */
    struct db_mp_client client;
    bool replay;
    enum mp_refusal refusal;
    const char *why;
    unsigned queued;
};

static enum db_status transact_cb(struct db_tx *tx, void *cls)
{
    struct transact_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    enum db_status st =
        DB_CALL(tx, marketplace, client_get_by_uuid, c->auth->uuid, c->r->arena, &c->client);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = svc_mp_purchase_accept(&s, &c->client, &c->p, c->raw_hash, &c->replay, &c->refusal,
                                &c->why);
    if (st < 0)
        return st;
    if (c->refusal != MP_ACCEPTED)
        return DB_ROLLBACK;
    c->queued = s.queued;
    return DB_ONE_RESULT;
}

/* Check the Signature header over the raw body: true to go on, false after
 * answering. */
static bool signature_ok_or_reply(struct req *r, const struct mp_auth *a)
{
    const char *sig = req_header(r, "Signature");
    if (!sig || !*sig) {
        if (!a->require_signature)
            return true;
        mp_refuse1(r, MPC_NEED_SIGNATURE,
                   "Signature: this client must sign its requests (base64 HMAC-SHA256 of the "
                   "body under its signatureSecret)");
        return false;
    }
    uint8_t key[SECRETBOX_KEY_LEN];
    size_t n = 0;
    const char *secret = config_secrets_key(r->app->cfg, key)
                             ? secretbox_open(key, a->uuid, a->signature_secret, r->arena, &n)
                             : NULL;
    if (!secret) {
        mp_refuse1(r, MPC_INTERNAL, "the client's signature secret cannot be opened");
        return false;
    }
    size_t len = 0;
    const char *body = req_body(r, &len);
    uint8_t mac[32], given[64];
    size_t given_len = 0;
    crypto_hmac_sha256(secret, n, body, len, mac);
    bool ok = strlen(sig) < 90 && crypto_base64_decode(sig, given, sizeof given, &given_len) &&
              given_len == sizeof mac && crypto_equal(given, mac, sizeof mac);
    if (!ok) {
        mp_refuse1(r, MPC_BAD_SIGNATURE, "Signature: does not match the body");
        return false;
    }
    return true;
}

/* What tells a repeat of a purchase from another request with its
 * clientTxnRef: every field but the timestamp (the time the request was
 * sent, which a client writes anew when it sends a request again after a
 * timeout), and not the body's spelling (spaces, the order of the fields;
 * additionalData's members count in their order). */
static void purchase_hash(struct arena *a, const struct db_mp_purchase *p, uint8_t out[32])
{
    const char *const texts[] = {p->client_txn_ref, p->reserve_ref,        p->account_identifier,
                                 p->auth_code,      p->source_identifier,  p->target_identifier,
                                 p->channel_name,   p->channel_session_id, p->currency,
                                 p->additional_data};
    char *s = arena_printf(a, "%lld|%lld|%lld|%lld|%lld", (long long)p->purchase_amount,
                           (long long)p->fee_amount, (long long)p->product_id,
                           (long long)p->funding_source_id, (long long)p->channel_id);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        s = texts[i] ? arena_printf(a, "%s|%zu:%s", s, strlen(texts[i]), texts[i])
                     : arena_printf(a, "%s|-", s);
    crypto_sha256(s, strlen(s), out);
}

/* An account identifier as it is stored: every character but the last 4
 * replaced by '*' (all of them when there are 4 or fewer), so that a card
 * number or account sent in full is never kept. Characters, not bytes: a
 * UTF-8 sequence is one '*'. */
static const char *masked(struct arena *a, const char *s)
{
    if (!s)
        return NULL;
    size_t chars = 0, len = strlen(s);
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    size_t hide = chars > 4 ? chars - 4 : chars, seen = 0, i = 0;
    char *out = arena_alloc(a, len + 1), *o = out;
    for (; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (seen == hide)
                break;
            seen++;
            *o++ = '*';
        }
    }
    memcpy(o, s + i, len - i + 1);
    return out;
}

/* The fields the table cannot check; fills the purchase. */
static void check_and_fill(struct transact_ctx *c, const struct transact_body *b,
                           struct field_errors *errs)
{
    struct req *r = c->r;
    struct db_mp_purchase *p = &c->p;
    usec_t t;
    if (b->timestamp && !time_parse_iso8601(b->timestamp, strlen(b->timestamp), &t))
        field_errors_add(errs, r->arena, "timestamp",
                         "must be an ISO 8601 date-time (e.g. 2017-06-29T16:39:42.735Z)");
    if (b->currency) {
        if (currency_find_upper(b->currency))
            snprintf(p->currency, sizeof p->currency, "%s", b->currency);
        else
            field_errors_add(errs, r->arena, "currencyCode",
                             "must be a known ISO 4217 code in upper case (e.g. NGN)");
    }
    json_object *ad = NULL;
    if (json_object_object_get_ex(r->json, "additionalData", &ad) && ad) {
        json_object *obj = NULL;
        if (json_object_is_type(ad, json_type_object)) {
            p->additional_data = json_text(r->arena, ad, NULL);
        } else if (json_object_is_type(ad, json_type_string) &&
                   (obj = json_parse_object(json_object_get_string(ad),
                                            (size_t)json_object_get_string_len(ad)))) {
            p->additional_data = json_text(r->arena, obj, NULL);
            json_object_put(obj);
        } else {
            field_errors_add(errs, r->arena, "additionalData",
                             "must be a JSON object (or a string holding one)");
        }
        if (p->additional_data && strlen(p->additional_data) > ADDITIONAL_DATA_MAX)
            field_errors_add(errs, r->arena, "additionalData", "must be at most %d bytes as JSON",
                             ADDITIONAL_DATA_MAX);
    }
    p->account_identifier = b->account_identifier;
    p->auth_code = b->auth_code;
    p->channel_name = b->channel_name;
    p->channel_session_id = b->channel_session_id;
    p->client_txn_ref = b->client_txn_ref;
    p->reserve_ref = b->reserve_ref;
    p->source_identifier = b->source_identifier;
    p->target_identifier = b->target_identifier;
    p->request_timestamp = b->timestamp;
    p->purchase_amount = b->purchase_amount.v;
    p->channel_id = b->channel_id.v;
    p->product_id = b->product_id.v;
    p->fee_amount = b->fee_amount.v;
    p->funding_source_id = b->funding_source_id.v;
    purchase_hash(r->arena, p, p->body_hash);
    /* the hash covers both in full; neither is kept as sent: the authCode
     * (a PIN or one-time code) is read by nothing, the accountIdentifier is
     * kept masked */
    p->auth_code = NULL;
    p->account_identifier = masked(r->arena, b->account_identifier);
    size_t len = 0;
    const char *raw = req_body(r, &len);
    crypto_sha256(raw, len, c->raw_hash);
}

enum mp_code mp_refusal_code(enum mp_refusal f)
{
    switch (f) {
    case MP_UNKNOWN_PRODUCT:
        return MPC_UNKNOWN_PRODUCT;
    case MP_PRODUCT_INACTIVE:
        return MPC_INACTIVE;
    case MP_BELOW_MIN:
        return MPC_BELOW_MIN;
    case MP_ABOVE_MAX:
        return MPC_ABOVE_MAX;
    case MP_WRONG_FEE:
        return MPC_WRONG_FEE;
    case MP_CURRENCY_MISMATCH:
        return MPC_CURRENCY;
    case MP_DUPLICATE_REF:
        return MPC_DUPLICATE;
    case MP_NOT_AVAILABLE:
        return MPC_NOT_AVAILABLE;
    default:
        return MPC_INTERNAL;
    }
}

void api_mp_transact(struct req *r)
{
    struct transact_ctx *c = arena_alloc(r->arena, sizeof *c);
    memset(c, 0, sizeof *c);
    c->r = r;
    c->auth = mp_auth(r);
    if (!signature_ok_or_reply(r, c->auth))
        return;
    struct transact_body b;
    struct field_errors errs;
    memset(&b, 0, sizeof b);
    memset(&errs, 0, sizeof errs);
    fieldspec_parse(transact_spec, r->json, &b, r->arena, &errs);
    check_and_fill(c, &b, &errs);
    if (errs.count) {
        mp_refuse(r, MPC_INVALID, errs.items, errs.count);
        return;
    }
    if (b.client_id.v != c->auth->client_id) {
        mp_refuse1(r, MPC_CLIENT_MISMATCH, "clientId: not the authenticated client's");
        return;
    }
    if (b.funding_source_id.v != c->auth->funding_source_id) {
        mp_refuse1(r, MPC_FUNDING_MISMATCH, "fundingSourceId: not the client's funding source");
        return;
    }
    enum db_status st = db_run(r->app->db, DB_WRITE, "mp_transact", transact_cb, c);
    if (st == DB_ROLLBACK && c->refusal != MP_ACCEPTED) {
        mp_refuse1(r, mp_refusal_code(c->refusal), c->why);
        return;
    }
    if (st < 0) {
        mp_reply_db_error(r, st);
        return;
    }
    app_wake_workers(r->app, c->queued);
    json_object *o = mp_body(MPC_PROCESSING);
    json_object_object_add(o, "raasTxnRef", json_object_new_string(c->p.raas_ref));
    mp_reply_body(r, MPC_PROCESSING, o);
}
