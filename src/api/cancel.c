/*
 * cancel.c — POST /api/v2/cancel/{paymentLinkRef}: cancel a link that has
 * not been opened yet (PaymentCancellationResponse). The customer is told on
 * the channel the link was sent on.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "api/links.h"
#include "app.h"
#include "core/status.h"
#include "db/jobs.h"
#include "db/links.h"

enum cancel_outcome { CANCEL_OK, CANCEL_UNKNOWN, CANCEL_REFUSED };

struct cancel_ctx {
    struct req *r;
    const char *ref;
    usec_t now;
    enum cancel_outcome outcome;
    const char *why;
    struct db_link link;
};

static enum db_status cancel_cb(struct db_tx *tx, void *cls)
{
    struct cancel_ctx *c = cls;
    struct db_link *l = &c->link;
    enum db_status st =
        DB_CALL(tx, links, get_by_ref, c->r->auth.merchant_id, c->ref, c->r->arena, l);
    if (st < 0)
        return st;
    if (st == 0) {
        c->outcome = CANCEL_UNKNOWN;
        return DB_ROLLBACK;
    }
    c->outcome = CANCEL_REFUSED;
    if (l->status == LINK_PAYMENT_LINK_CANCELLED) {
        c->why = "The payment link is already cancelled";
        return DB_ROLLBACK;
    }
    if (l->clicked_at) {
        c->why = "The payment link has been opened by the customer and can no longer be "
                 "cancelled";
        return DB_ROLLBACK;
    }
    if (!l->live || l->expires_at <= c->now) {
        c->why = "The payment link has expired";
        return DB_ROLLBACK;
    }
    l->status = LINK_PAYMENT_LINK_CANCELLED;
    l->live = false;
    st = DB_CALL(tx, links, update, l);
    if (st < 0)
        return st;
    struct db_link_status s = {.status = LINK_PAYMENT_LINK_CANCELLED, .created_at = c->now};
    st = DB_CALL(tx, links, status_append, l->merchant_id, l->id, &s);
    if (st < 0)
        return st;
    if (l->channel != CHANNEL_NONE) {
        struct db_job job = {.kind = JOB_SEND_CANCEL, .link_id = l->id, .run_at = c->now};
        memcpy(job.merchant_id, l->merchant_id, sizeof job.merchant_id);
        st = DB_CALL(tx, jobs, insert, &job);
        if (st < 0)
            return st;
    }
    c->outcome = CANCEL_OK;
    return DB_ONE_RESULT;
}

void api_cancel(struct req *r)
{
    struct cancel_ctx c = {.r = r, .ref = req_param(r, "paymentLinkRef"), .now = time_now()};
    enum db_status st = db_run(r->app->db, DB_WRITE, "cancel", cancel_cb, &c);
    if (st == DB_ROLLBACK && c.outcome == CANCEL_UNKNOWN) {
        reply_error(r, ERR_NOT_FOUND, "No payment link with this reference");
        return;
    }
    if (st == DB_ROLLBACK) {
        reply_error(r, ERR_BAD_REQUEST, c.why);
        return;
    }
    if (st < 0) {
        api_reply_db_error(r, st);
        return;
    }
    links_wake_workers(r->app);
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
