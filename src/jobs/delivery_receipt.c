/*
 * delivery_receipt.c — jobs JOB_DELIVERY_RECEIPT and JOB_RECEIPT_DELIVERY:
 * ask the channel whether a message was delivered (the payment link's, or
 * the receipt's) and record PAYMENT_LINK_DELIVERED / _DELIVERY_FAILED or
 * RECEIPT_LINK_DELIVERED / _DELIVERY_FAILED. Tried again while the channel
 * does not know yet.
 */
#include "app.h"
#include "channel/registry.h"
#include "jobs/common.h"
#include "service/links.h"
#include "service/receipts.h"

typedef enum db_status (*delivered_fn)(struct svc *s, const char *merchant_id, int64_t link_id,
                                       bool delivered, const struct svc_entry *detail);

struct receipt_ctx {
    struct job_ctx *jc;
    delivered_fn record;
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
    st = c->record(&s, c->jc->job->merchant_id, c->jc->job->link_id, c->delivered, &c->detail);
    c->jc->queued |= s.queued;
    return st;
}

static enum job_result ask(struct job_ctx *jc, delivered_fn record)
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
        .record = record,
        .delivered = rc.delivery == DELIVERY_DELIVERED,
        .detail = {.http = rc.http_code,
                   .code = rc.code[0] ? rc.code : NULL,
                   .desc = rc.description[0] ? rc.description : NULL},
    };
    return job_recorded(jc, db_run(jc->app->db, DB_WRITE, "record_receipt", record_cb, &c));
}

enum job_result job_delivery_receipt(struct job_ctx *jc)
{
    return ask(jc, svc_link_delivery);
}

enum job_result job_receipt_delivery(struct job_ctx *jc)
{
    return ask(jc, svc_receipt_delivery);
}
