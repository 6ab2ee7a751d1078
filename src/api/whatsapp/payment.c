/*
 * payment.c — GET /v1/{sid}/wrapper/{phoneNumberId}/payments/{paymentConfigId}/{referenceId}:
 * an order's payment, its transactions and their refunds, in the body of
 * Kaleyra's Get Payment Status API (spec/whatsapp-payment-status.txt).
 */
#include "api/whatsapp/whatsapp.h"

#include "app.h"
#include "service/whatsapp.h"

struct payment_ctx {
    struct req *r;
    struct wa_path path;
    json_object *payment;
};

static enum db_status payment_cb(struct db_tx *tx, void *cls)
{
    struct payment_ctx *c = cls;
    enum db_status st = wa_path_load(tx, c->r, &c->path);
    if (st <= 0)
        return st;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    json_object_put(c->payment); /* a retry starts again */
    c->payment = NULL;
    return svc_wa_payment_json(&s, &c->path.order, &c->payment);
}

void api_wa_payment(struct req *r)
{
    struct payment_ctx c = {.r = r};
    enum db_status st = db_run(r->app->db, DB_READ, "wa_payment", payment_cb, &c);
    if (st == DB_ROLLBACK && wa_path_reply(r, &c.path))
        return;
    if (st < 0) {
        json_object_put(c.payment);
        api_reply_db_error(r, st);
        return;
    }
    json_object *o = json_object_new_object(), *list = json_object_new_array();
    json_object_array_add(list, c.payment);
    json_object_object_add(o, "payments", list);
    reply_json(r, 200, o);
    json_object_put(o);
}
