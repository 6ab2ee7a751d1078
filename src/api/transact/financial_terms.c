/*
 * financial_terms.c — GET /financial-terms/1.0: the fee and the settlement
 * amount of a purchase of a product, before it is made.
 */
#include "api/transact/transact.h"

#include "app.h"

struct terms_ctx {
    struct req *r;
    int64_t product_id, amount;
    struct db_mp_product p;
    enum mp_refusal refusal;
    const char *why;
};

static enum db_status terms_cb(struct db_tx *tx, void *cls)
{
    struct terms_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    return svc_mp_terms(&s, c->product_id, c->amount, &c->p, &c->refusal, &c->why);
}

void api_mp_financial_terms(struct req *r)
{
    struct field_errors errs = {0};
    struct terms_ctx c = {.r = r};
    if (!mp_query_client_or_reply(r, &errs))
        return;
    mp_query_int(r, "productId", 1, 99999, true, &c.product_id, &errs);
    mp_query_int(r, "purchaseAmount", 1, 999999999999LL, true, &c.amount, &errs);
    if (errs.count) {
        mp_refuse(r, MPC_INVALID, errs.items, errs.count);
        return;
    }
    if (!svc_mp_vendor_for(mp_auth(r)->environment, &c.refusal, &c.why)) {
        mp_refuse1(r, mp_refusal_code(c.refusal), c.why);
        return;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "mp_terms", terms_cb, &c);
    if (st < 0) {
        mp_reply_db_error(r, st);
        return;
    }
    if (c.refusal != MP_ACCEPTED) {
        mp_refuse1(r, mp_refusal_code(c.refusal), c.why);
        return;
    }
    json_object *o = mp_body(MPC_OK);
    json_object_object_add(o, "clientId", json_object_new_int64(mp_auth(r)->client_id));
    json_object_object_add(o, "productId", json_object_new_int64(c.p.id));
    json_object_object_add(o, "currencyCode", json_object_new_string(c.p.currency));
    json_object_object_add(o, "purchaseAmount", json_object_new_int64(c.amount));
    json_object_object_add(o, "feeAmount", json_object_new_int64(c.p.fee));
    json_object_object_add(o, "settlementAmount", json_object_new_int64(c.amount + c.p.fee));
    mp_reply_body(r, MPC_OK, o);
}
