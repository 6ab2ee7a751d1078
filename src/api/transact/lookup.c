/*
 * lookup.c — GET /lookup-api/2.0: Transaction Lookup. A purchase of the
 * authenticated client by any of its references: what was asked, its
 * status, the response codes of each step and the delivery of its result.
 */
#include "api/transact/transact.h"

#include <string.h>

#include "app.h"
#include "util/json.h"

struct find_ctx {
    struct req *r;
    const struct db_mp_refs *refs;
    struct db_mp_purchase *out;
    struct db_mp_product *product;
};

static enum db_status find_cb(struct db_tx *tx, void *cls)
{
    struct find_ctx *c = cls;
    enum db_status st =
        DB_CALL(tx, marketplace, purchase_find, mp_auth(c->r)->uuid, c->refs, c->r->arena, c->out);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, marketplace, product_get, c->out->product_id, c->product);
    return st < 0 ? st : DB_ONE_RESULT;
}

bool mp_find_purchase_or_reply(struct req *r, struct db_mp_purchase *out,
                               struct db_mp_product *product)
{
    struct field_errors errs = {0};
    struct db_mp_refs refs;
    if (!mp_query_client_or_reply(r, &errs))
        return false;
    mp_query_refs(r, &refs, &errs);
    if (errs.count) {
        mp_refuse(r, MPC_INVALID, errs.items, errs.count);
        return false;
    }
    memset(product, 0, sizeof *product);
    struct find_ctx c = {r, &refs, out, product};
    enum db_status st = db_run(r->app->db, DB_READ, "mp_lookup", find_cb, &c);
    if (st < 0)
        mp_reply_db_error(r, st);
    else if (st == 0)
        mp_refuse1(r, MPC_NOT_FOUND, "no transaction of this client with these references");
    return st > 0;
}

static json_object *str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *time_or_null(usec_t t)
{
    return t ? json_time(t) : NULL;
}

static json_object *purchase_json(const struct mp_auth *a, const struct db_mp_purchase *p,
                                  const struct db_mp_product *prod)
{
    json_object *o = mp_body(MPC_OK);
    json_object_object_add(o, "raasTxnRef", json_object_new_string(p->raas_ref));
    json_object_object_add(o, "clientId", json_object_new_int64(a->client_id));
    json_object_object_add(o, "fundingSourceId", json_object_new_int64(p->funding_source_id));
    json_object_object_add(o, "clientTxnRef", json_object_new_string(p->client_txn_ref));
    json_object_object_add(o, "reserveFundsTxnRef", json_object_new_string(p->reserve_ref));
    json_object_object_add(o, "productId", json_object_new_int64(p->product_id));
    json_object_object_add(o, "productName", json_object_new_string(prod->name));
    json_object_object_add(o, "productType",
                           json_object_new_string(mp_product_type_name(prod->type)));
    json_object_object_add(o, "vendor", json_object_new_string(prod->vendor));
    json_object_object_add(o, "purchaseAmount", json_object_new_int64(p->purchase_amount));
    json_object_object_add(o, "feeAmount", json_object_new_int64(p->fee_amount));
    json_object_object_add(o, "currencyCode", json_object_new_string(p->currency));
    json_object_object_add(o, "sourceIdentifier", json_object_new_string(p->source_identifier));
    json_object_object_add(o, "targetIdentifier", json_object_new_string(p->target_identifier));
    json_object_object_add(o, "channelId", json_object_new_int64(p->channel_id));
    json_object_object_add(o, "channelName", json_object_new_string(p->channel_name));
    json_object_object_add(o, "status", json_object_new_string(mp_purchase_status_name(p->status)));
    json_object_object_add(o, "reserveResponseCode", NULL);
    json_object_object_add(o, "transactResponseCode", json_object_new_string("0000"));
    json_object_object_add(o, "resultResponseCode", str_or_null(p->result_code));
    json_object_object_add(o, "resultResponseMessage", str_or_null(p->result_message));
    json_object *d = json_object_new_object();
    json_object_object_add(d, "state",
                           json_object_new_string(mp_result_state_name(p->result_state)));
    json_object_object_add(d, "attempts", json_object_new_int(p->result_attempts));
    /* null before the first try, and when the last one got no HTTP answer
     * (refused, timed out, closed: recorded as 0) */
    json_object_object_add(d, "lastHttpStatus",
                           p->result_attempts && p->result_last_http > 0
                               ? json_object_new_int(p->result_last_http)
                               : NULL);
    json_object_object_add(d, "deliveredAt", time_or_null(p->result_delivered_at));
    json_object_object_add(o, "resultDelivery", d);
    json_object_object_add(o, "requestTimestamp", json_object_new_string(p->request_timestamp));
    json_object_object_add(o, "createdAt", json_time(p->created_at));
    json_object_object_add(o, "updatedAt", json_time(p->updated_at));
    json_object_object_add(o, "completedAt", time_or_null(p->completed_at));
    return o;
}

void api_mp_lookup(struct req *r)
{
    struct db_mp_purchase p;
    struct db_mp_product prod;
    if (mp_find_purchase_or_reply(r, &p, &prod))
        mp_reply_body(r, MPC_OK, purchase_json(mp_auth(r), &p, &prod));
}
