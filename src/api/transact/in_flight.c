/*
 * in_flight.c — GET /in-flight-check/1.0: before a purchase, is another of
 * this client with the same source, target, product and amount still being
 * fulfilled? The new purchase's own references leave it out.
 */
#include "api/transact/transact.h"

#include "app.h"
#include "util/json.h"

enum { IN_FLIGHT_MAX = 20 };

struct flight_ctx {
    struct req *r;
    struct db_mp_purchase like;
    struct db_mp_refs refs;
    json_object *list;
};

static void flight_cb(void *cls, const struct db_mp_purchase *p)
{
    struct flight_ctx *c = cls;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "raasTxnRef", json_object_new_string(p->raas_ref));
    json_object_object_add(o, "clientTxnRef", json_object_new_string(p->client_txn_ref));
    json_object_object_add(o, "reserveFundsTxnRef", json_object_new_string(p->reserve_ref));
    json_object_object_add(o, "status", json_object_new_string(mp_purchase_status_name(p->status)));
    json_object_object_add(o, "createdAt", json_time(p->created_at));
    json_object_array_add(c->list, o);
}

static enum db_status flight_txn(struct db_tx *tx, void *cls)
{
    struct flight_ctx *c = cls;
    json_object_put(c->list);
    c->list = json_object_new_array();
    /* the purchase being checked (any of its references) is left out by
     * the query itself, so that the limit counts only the others */
    return DB_CALL(tx, marketplace, purchase_in_flight, mp_auth(c->r)->uuid, &c->like, &c->refs,
                   IN_FLIGHT_MAX, c->r->arena, flight_cb, c);
}

void api_mp_in_flight(struct req *r)
{
    struct field_errors errs = {0};
    struct flight_ctx c = {.r = r};
    if (!mp_query_client_or_reply(r, &errs))
        return;
    c.like.source_identifier = mp_query_text(r, "sourceIdentifier", 32, &errs);
    c.like.target_identifier = mp_query_text(r, "targetIdentifier", 32, &errs);
    if (!req_query(r, "sourceIdentifier"))
        field_errors_add(&errs, r->arena, "sourceIdentifier", "is required");
    if (!req_query(r, "targetIdentifier"))
        field_errors_add(&errs, r->arena, "targetIdentifier", "is required");
    mp_query_int(r, "productId", 1, 99999, true, &c.like.product_id, &errs);
    mp_query_int(r, "purchaseAmount", 1, 999999999999LL, true, &c.like.purchase_amount, &errs);
    mp_query_refs(r, &c.refs, &errs);
    if (errs.count) {
        mp_refuse(r, MPC_INVALID, errs.items, errs.count);
        return;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "mp_in_flight", flight_txn, &c);
    if (st < 0) {
        json_object_put(c.list);
        mp_reply_db_error(r, st);
        return;
    }
    json_object *o = mp_body(MPC_OK);
    json_object_object_add(o, "inFlight",
                           json_object_new_boolean(json_object_array_length(c.list) > 0));
    json_object_object_add(o, "transactions", c.list);
    mp_reply_body(r, MPC_OK, o);
}
