/*
 * delivery_receipt.c — jobs JOB_DELIVERY_RECEIPT (and JOB_RECEIPT_DELIVERY,
 * its former name for receipts): ask the provider what became of a message
 * (arg: its provider_messages id) when no report came by itself, and apply
 * the answer like a report (service/messages.h). Tried again while the
 * provider does not know yet.
 */
#include "app.h"
#include "channel/registry.h"
#include "db/providers.h"
#include "jobs/common.h"
#include "service/messages.h"

struct load_ctx {
    struct job_ctx *jc;
    struct db_provider_message msg;
    struct db_link l;
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct load_ctx *c = cls;
    enum db_status st = DB_CALL(tx, providers, message_get, c->jc->job->arg, &c->msg);
    if (st <= 0)
        return st;
    return DB_CALL(tx, links, get_by_id, c->msg.merchant_id, c->msg.link_id, c->jc->a, &c->l);
}

struct report_ctx {
    struct job_ctx *jc;
    const struct channel_receipt *rc;
};

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct report_ctx *c = cls;
    enum db_status st = job_finish_in(tx, c->jc);
    if (st <= 0)
        return st;
    struct svc s = job_svc(c->jc, tx);
    struct db_provider_message msg;
    st = DB_CALL(tx, providers, message_get, c->jc->job->arg, &msg);
    if (st <= 0)
        return st;
    /* the entry carries the HTTP status of the query that told it */
    struct svc_report r = {.delivery = c->rc->delivery,
                           .status = c->rc->status,
                           .code = c->rc->code[0] ? c->rc->code : NULL,
                           .desc = c->rc->description[0] ? c->rc->description : NULL,
                           .http = c->rc->http_code,
                           .at = c->rc->at,
                           .reason = c->rc->reason};
    st = svc_message_report(&s, &msg, &r);
    c->jc->queued |= s.queued;
    return st < 0 ? st : DB_ONE_RESULT;
}

enum job_result job_delivery_receipt(struct job_ctx *jc)
{
    struct load_ctx c = {.jc = jc};
    enum db_status st = db_run(jc->app->db, DB_READ, "receipt_load", load_cb, &c);
    if (st < 0) {
        jc->error = "cannot read the message";
        return JOB_RETRY;
    }
    if (st == 0 || c.msg.state == PM_DELIVERED || c.msg.state == PM_FAILED)
        return JOB_DONE; /* gone, or its report came */
    const char *why = NULL;
    const struct channel *ch = channel_acquire_provider(jc->app->channels, c.msg.provider_id, &why);
    if (!ch || !ch->ops->query) {
        channel_release(jc->app->channels, ch);
        return JOB_DONE;
    }
    struct channel_receipt rc;
    ch->ops->query(ch, c.msg.merchant_id, c.msg.provider_ref, c.msg.ref, c.l.msisdn_to, &rc);
    channel_release(jc->app->channels, ch);
    if (rc.delivery == DELIVERY_PENDING) {
        jc->error = "no delivery receipt yet";
        return JOB_RETRY;
    }
    struct report_ctx r = {.jc = jc, .rc = &rc};
    return job_recorded(jc, db_run(jc->app->db, DB_WRITE, "record_receipt", record_cb, &r));
}

enum job_result job_receipt_delivery(struct job_ctx *jc)
{
    return job_delivery_receipt(jc);
}
