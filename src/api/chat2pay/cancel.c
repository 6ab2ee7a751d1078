/*
 * cancel.c — POST /api/v2/cancel/{paymentLinkRef}: cancel a link that has
 * not been opened yet (PaymentCancellationResponse). The customer is told on
 * the channel the link was sent on.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/status.h"
#include "service/links.h"

struct cancel_ctx {
    struct req *r;
    const char *ref;
    usec_t now;
    const char *refused;
    struct db_link link;
};

static enum db_status cancel_cb(struct db_tx *tx, void *cls)
{
    struct cancel_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = c->now, .cfg = c->r->app->cfg};
    enum db_status st = svc_link_cancel(&s, c->r->auth.merchant_id, c->ref, &c->link, &c->refused);
    return st == 0 ? DB_ROLLBACK : st;
}

void api_cancel(struct req *r)
{
    struct cancel_ctx c = {.r = r, .ref = req_param(r, "paymentLinkRef"), .now = time_now()};
    enum db_status st = db_run(r->app->db, DB_WRITE, "cancel", cancel_cb, &c);
    if (st == DB_ROLLBACK && !c.refused) {
        reply_error(r, ERR_NOT_FOUND, "No payment link with this reference");
        return;
    }
    if (st == DB_ROLLBACK) {
        reply_error(r, ERR_BAD_REQUEST, c.refused);
        return;
    }
    if (st < 0) {
        api_reply_db_error(r, st);
        return;
    }
    app_wake_workers(r->app);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "paymentLinkRef", json_object_new_string(c.link.ref));
    json_object_object_add(o, "transactionStatus",
                           json_object_new_string(link_status_name(LINK_PAYMENT_LINK_CANCELLED)));
    char id[8];
    snprintf(id, sizeof id, "%d", LINK_PAYMENT_LINK_CANCELLED);
    json_object_object_add(o, "transactionStatusId", json_object_new_string(id));
    if (c.link.additional_data)
        json_object_object_add(o, "additionalData", json_object_new_string(c.link.additional_data));
    json_object_object_add(o, "timestamp", json_time(c.now));
    reply_json(r, 200, o);
    json_object_put(o);
}
