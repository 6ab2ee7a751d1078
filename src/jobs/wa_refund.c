/*
 * wa_refund.c — job JOB_WA_REFUND: the payment gateway settles a WhatsApp
 * Pay refund (arg: the refund's id). Every payment configuration is served
 * by chatpay's sandbox gateway in this version: a refund whose amount's
 * value ends in 13 fails, any other succeeds. The outcome is recorded with
 * the job's completion (and the merchant's callback queued) in one
 * transaction.
 */
#include "app.h"
#include "db/whatsapp.h"
#include "jobs/common.h"
#include "service/whatsapp.h"

struct refund_ctx {
    struct job_ctx *jc;
};

static enum db_status settle_cb(struct db_tx *tx, void *cls)
{
    struct refund_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    enum db_status st = job_finish_in(tx, c->jc);
    if (st <= 0)
        return st;
    struct db_wa_refund r;
    st = DB_CALL(tx, whatsapp, refund_get, c->jc->job->merchant_id, c->jc->job->arg, &r);
    if (st <= 0)
        return st;
    st = svc_wa_refund_settled(&s, &r, r.amount % 100 == 13 ? WA_FAILED : WA_SUCCESS);
    c->jc->queued |= s.queued;
    return st < 0 ? st : DB_ONE_RESULT;
}

enum job_result job_wa_refund(struct job_ctx *jc)
{
    struct refund_ctx c = {jc};
    return job_recorded(jc, db_run(jc->app->db, DB_WRITE, "wa_refund_settle", settle_cb, &c));
}
