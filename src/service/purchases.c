/*
 * purchases.c — marketplace purchases (see purchases.h).
 */
#include "service/purchases.h"

#include <stdio.h>
#include <string.h>

#include "util/crypto.h"
#include "util/json.h"

#define SEC 1000000LL

enum db_status svc_mp_terms(struct svc *s, int64_t product_id, int64_t amount,
                            struct db_mp_product *p, enum mp_refusal *refusal, const char **why)
{
    *refusal = MP_ACCEPTED;
    *why = NULL;
    enum db_status st = DB_CALL(s->tx, marketplace, product_get, product_id, p);
    if (st < 0)
        return st;
    if (st == 0) {
        *refusal = MP_UNKNOWN_PRODUCT;
        *why = arena_printf(s->a, "productId: there is no product %lld", (long long)product_id);
    } else if (!p->active) {
        *refusal = MP_PRODUCT_INACTIVE;
        *why = arena_printf(s->a, "productId: product %lld is not active", (long long)product_id);
    } else if (amount < p->min_amount) {
        *refusal = MP_BELOW_MIN;
        *why = arena_printf(s->a, "purchaseAmount: must be at least %lld (the product's minimum)",
                            (long long)p->min_amount);
    } else if (amount > p->max_amount) {
        *refusal = MP_ABOVE_MAX;
        *why = arena_printf(s->a, "purchaseAmount: must be at most %lld (the product's maximum)",
                            (long long)p->max_amount);
    }
    return DB_ONE_RESULT;
}

bool svc_mp_vendor_for(int environment, enum mp_refusal *refusal, const char **why)
{
    if (environment != ENV_PRODUCTION)
        return true;
    *refusal = MP_NOT_AVAILABLE;
    *why = "productId: no live vendor is connected for this product";
    return false;
}

/* The earlier purchase of this clientTxnRef: a replay when the body is the
 * same, else a refusal. DB_NO_RESULTS when there is none. A purchase stored
 * before repeats were compared on their fields holds the SHA-256 of its raw
 * body: the same bytes sent again replay it too. */
static enum db_status earlier(struct svc *s, const struct db_mp_client *c, struct db_mp_purchase *p,
                              const uint8_t raw_hash[32], bool *replay, enum mp_refusal *refusal,
                              const char **why)
{
    struct db_mp_purchase old;
    struct db_mp_refs refs = {.client_txn_ref = p->client_txn_ref};
    enum db_status st = DB_CALL(s->tx, marketplace, purchase_find, c->id, &refs, s->a, &old);
    if (st <= 0)
        return st;
    if (crypto_equal(old.body_hash, p->body_hash, sizeof old.body_hash) ||
        crypto_equal(old.body_hash, raw_hash, sizeof old.body_hash)) {
        *replay = true;
        *p = old;
    } else {
        *refusal = MP_DUPLICATE_REF;
        *why = arena_printf(s->a, "clientTxnRef: \"%s\" was used before for another request (%s)",
                            p->client_txn_ref, old.raas_ref);
    }
    return DB_ONE_RESULT;
}

enum db_status svc_mp_purchase_accept(struct svc *s, const struct db_mp_client *c,
                                      struct db_mp_purchase *p, const uint8_t raw_hash[32],
                                      bool *replay, enum mp_refusal *refusal, const char **why)
{
    *replay = false;
    *refusal = MP_ACCEPTED;
    *why = NULL;
    enum db_status st = earlier(s, c, p, raw_hash, replay, refusal, why);
    if (st != 0)
        return st;
    /* the bank reserves funds once per purchase: a reservation that paid
     * for another purchase cannot pay for this one too */
    struct db_mp_purchase other;
    st = DB_CALL(s->tx, marketplace, purchase_find, c->id,
                 &(struct db_mp_refs){.reserve_ref = p->reserve_ref}, s->a, &other);
    if (st < 0)
        return st;
    if (st > 0) {
        *refusal = MP_DUPLICATE_REF;
        *why = arena_printf(s->a,
                            "reserveFundsTxnRef: \"%s\" paid for another purchase already "
                            "(clientTxnRef \"%s\", %s)",
                            p->reserve_ref, other.client_txn_ref, other.raas_ref);
        return DB_ONE_RESULT;
    }
    if (!svc_mp_vendor_for(c->environment, refusal, why))
        return DB_ONE_RESULT;
    struct db_mp_product prod;
    st = svc_mp_terms(s, p->product_id, p->purchase_amount, &prod, refusal, why);
    if (st < 0 || *refusal != MP_ACCEPTED)
        return st;
    if (p->fee_amount != prod.fee) {
        *refusal = MP_WRONG_FEE;
        *why =
            arena_printf(s->a, "feeAmount: must be %lld (the product's fee)", (long long)prod.fee);
        return DB_ONE_RESULT;
    }
    if (strcmp(p->currency, prod.currency) != 0) {
        *refusal = MP_CURRENCY_MISMATCH;
        *why =
            arena_printf(s->a, "currencyCode: must be %s (the product's currency)", prod.currency);
        return DB_ONE_RESULT;
    }
    snprintf(p->client_uuid, sizeof p->client_uuid, "%s", c->id);
    crypto_uuid_v4(p->raas_ref);
    p->status = MP_PROCESSING;
    p->result_state = c->result_url ? MP_RESULT_PENDING : MP_RESULT_NONE;
    p->created_at = p->updated_at = s->now;
    st = DB_CALL(s->tx, marketplace, purchase_insert, p);
    if (st < 0)
        return st;
    if (st == 0) { /* the same reference committed meanwhile (another node) */
        st = earlier(s, c, p, raw_hash, replay, refusal, why);
        /* not visible yet to this transaction: try it again */
        return st < 0 ? st : st == 0 ? DB_SOFT_ERROR : DB_ONE_RESULT;
    }
    st = svc_enqueue_for(s, c->id, 0, JOB_MP_FULFIL, p->id, s->now);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* The body POSTed to the client's result URL, made once. */
static const char *result_body(struct svc *s, const struct db_mp_purchase *p,
                               const struct db_mp_client *c)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "raasTxnRef", json_object_new_string(p->raas_ref));
    json_object_object_add(o, "clientId", json_object_new_int64(c->client_id));
    json_object_object_add(o, "fundingSourceId", json_object_new_int64(p->funding_source_id));
    json_object_object_add(o, "clientTxnRef", json_object_new_string(p->client_txn_ref));
    json_object_object_add(o, "reserveFundsTxnRef", json_object_new_string(p->reserve_ref));
    json_object_object_add(o, "productId", json_object_new_int64(p->product_id));
    json_object_object_add(o, "purchaseAmount", json_object_new_int64(p->purchase_amount));
    json_object_object_add(o, "feeAmount", json_object_new_int64(p->fee_amount));
    json_object_object_add(o, "currencyCode", json_object_new_string(p->currency));
    json_object_object_add(o, "sourceIdentifier", json_object_new_string(p->source_identifier));
    json_object_object_add(o, "targetIdentifier", json_object_new_string(p->target_identifier));
    json_object_object_add(o, "status", json_object_new_string(mp_purchase_status_name(p->status)));
    json_object_object_add(o, "responseCode", json_object_new_string(p->result_code));
    json_object_object_add(o, "responseMessage", json_object_new_string(p->result_message));
    json_object *tokens = p->tokens ? json_tokener_parse(p->tokens) : NULL;
    json_object_object_add(o, "tokens", tokens ? tokens : json_object_new_array());
    json_object_object_add(o, "timestamp", json_time(s->now));
    const char *text = json_text(s->a, o, NULL);
    json_object_put(o);
    return text;
}

enum db_status svc_mp_purchase_fulfilled(struct svc *s, struct db_mp_purchase *p,
                                         const struct db_mp_client *c,
                                         const struct mp_fulfilment *f)
{
    if (p->status != MP_PROCESSING)
        return DB_NO_RESULTS; /* recorded before */
    p->result_code = f->code;
    p->result_message = f->message;
    p->updated_at = s->now;
    if (f->status == MP_PROCESSING) {
        p->status_checks++;
        return DB_CALL(s->tx, marketplace, purchase_fulfilment, p);
    }
    p->status = f->status;
    p->tokens = f->status == MP_SUCCESS ? f->tokens : NULL;
    p->completed_at = s->now;
    p->result_state = c->result_url ? MP_RESULT_PENDING : MP_RESULT_NONE;
    p->result_body = result_body(s, p, c);
    enum db_status st = DB_CALL(s->tx, marketplace, purchase_fulfilment, p);
    if (st <= 0 || !c->result_url)
        return st;
    st = svc_enqueue_for(s, c->id, 0, JOB_MP_RESULT, p->id, s->now);
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_mp_result_try(struct svc *s, struct db_mp_purchase *p, int http, bool delivered,
                                 usec_t *next_at)
{
    p->result_attempts++;
    p->result_last_http = http;
    p->updated_at = s->now;
    *next_at = 0;
    if (delivered) {
        p->result_state = MP_RESULT_DELIVERED;
        p->result_delivered_at = s->now;
    } else if (p->result_attempts >= MP_RESULT_TRIES) {
        p->result_state = MP_RESULT_FAILED;
    } else {
        /* 1, 2, 4, ... seconds, at most 5 minutes apart */
        usec_t wait = SEC << (p->result_attempts - 1 < 9 ? p->result_attempts - 1 : 9);
        *next_at = s->now + (wait < 300 * SEC ? wait : 300 * SEC);
    }
    return DB_CALL(s->tx, marketplace, purchase_result_try, p);
}

json_object *svc_mp_product_json(const struct db_mp_product *p)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "productId", json_object_new_int64(p->id));
    json_object_object_add(o, "name", json_object_new_string(p->name));
    json_object_object_add(o, "type", json_object_new_string(mp_product_type_name(p->type)));
    json_object_object_add(o, "vendor", json_object_new_string(p->vendor));
    json_object_object_add(o, "currencyCode", json_object_new_string(p->currency));
    json_object_object_add(o, "minAmount", json_object_new_int64(p->min_amount));
    json_object_object_add(o, "maxAmount", json_object_new_int64(p->max_amount));
    json_object_object_add(o, "feeAmount", json_object_new_int64(p->fee));
    json_object_object_add(o, "active", json_object_new_boolean(p->active));
    json_object_object_add(o, "issuesTokens",
                           json_object_new_boolean(mp_product_issues_tokens(p->type)));
    return o;
}
