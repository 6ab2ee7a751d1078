/*
 * delivery_receipt.c — job JOB_DELIVERY_RECEIPT: ask the channel whether the
 * link's message was delivered, and record PAYMENT_LINK_DELIVERED or
 * PAYMENT_LINK_DELIVERY_FAILED. Tried again while the channel does not know
 * yet.
 */
#include "app.h"
#include "channel/registry.h"
#include "jobs/common.h"
#include "service/links.h"

struct receipt_ctx {
    struct job_ctx *jc;
    bool delivered;
    struct svc_entry detail;
};

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct receipt_ctx *c = cls;
    enum db_status st = job_finish_in(tx, c->jc);
    if (st <= 0)
        return st;
    struct svc s = job_svc(c->jc, tx);
    return svc_link_delivery(&s, c->jc->job->merchant_id, c->jc->job->link_id, c->delivered,
                             &c->detail);
}

enum job_result job_delivery_receipt(struct job_ctx *jc)
{
    struct db_link l;
    struct db_merchant m;
    enum job_result res;
    if (!job_load_link(jc, &l, &m, &res))
        return res;
    const struct channel *ch = channel_for_merchant(jc->app->channels, &m, l.channel);
    if (!ch)
        return JOB_DONE;
    struct channel_receipt rc;
    channel_receipt(ch, jc->job->merchant_id, jc->job->arg, l.msisdn_to, &rc);
    if (rc.delivery == DELIVERY_PENDING) {
        jc->error = "no delivery receipt yet";
        return JOB_RETRY;
    }
    struct receipt_ctx c = {
        .jc = jc,
        .delivered = rc.delivery == DELIVERY_DELIVERED,
        .detail = {.http = rc.http_code,
                   .code = rc.code[0] ? rc.code : NULL,
                   .desc = rc.description[0] ? rc.description : NULL},
    };
    return job_recorded(jc, db_run(jc->app->db, DB_WRITE, "record_receipt", record_cb, &c));
}
