/*
 * cancel.c — POST /api/v2/cancel/{paymentLinkRef}: cancel a link that has
 * not been opened yet (PaymentCancellationResponse). The customer is told on
 * the channel the link was sent on.
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/status.h"
#include "service/links.h"
#include "util/json.h"

struct cancel_ctx {
    unsigned queued; /* pools of the jobs queued */
    struct req *r;
    const char *ref;
    usec_t now;
    const char *refused;
    struct db_link link;
    struct c2p_idem_claim idem; /* Idempotency-Key */
    const char *reply;          /* the 200 body, built and stored inside the transaction */
    size_t reply_len;
};

/* PaymentCancellationResponse */
static const char *cancellation_json(struct cancel_ctx *c, size_t *len)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "paymentLinkRef", json_object_new_string(c->link.ref));
    json_object_object_add(o, "transactionStatus",
                           json_object_new_string(link_status_name(LINK_PAYMENT_LINK_CANCELLED)));
    char id[8];
    snprintf(id, sizeof id, "%d", LINK_PAYMENT_LINK_CANCELLED);
    json_object_object_add(o, "transactionStatusId", json_object_new_string(id));
    json_add_string(o, "additionalData", c->link.additional_data, false);
    json_object_object_add(o, "timestamp", json_time(c->now));
    const char *text = json_text(c->r->arena, o, len);
    json_object_put(o);
    return text;
}

static enum db_status cancel_cb(struct db_tx *tx, void *cls)
{
    struct cancel_ctx *c = cls;
    /* the time of the change, taken under the write lock: history entries
     * are in the order of their times */
    c->now = time_now();
    enum db_status st = c2p_idem_begin(tx, c->r, c->now, &c->idem);
    if (st <= 0)
        return st;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = c->now, .cfg = c->r->app->cfg};
    st = svc_link_cancel(&s, c->r->auth.merchant_id, c->ref, &c->link, &c->refused);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    c->queued = s.queued;
    c->reply = cancellation_json(c, &c->reply_len);
    st = c2p_idem_store(tx, c->r, 200, c->reply);
    return st < 0 ? st : DB_ONE_RESULT;
}

void api_cancel(struct req *r)
{
    struct cancel_ctx c = {.r = r, .ref = req_param(r, "paymentLinkRef"), .now = time_now()};
    enum db_status st = db_run(r->app->db, DB_WRITE, "cancel", cancel_cb, &c);
    if (c2p_reply_link_op(r, st, &c.idem, c.refused))
        return;
    app_wake_workers(r->app, c.queued);
    reply_text(r, 200, "application/json", c.reply, c.reply_len);
}
