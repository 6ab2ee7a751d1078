/*
 * auto_reverse.c — job JOB_AUTO_REVERSE: return a payment at the gateway: one
 * held for REVIEW on a link that asked for paymentReviewAutoReversal, or one
 * the link could not take (an orphan: service/payments.c). A void for an
 * accepted sale, a reversal otherwise, under a reference derived from the
 * payment's, so that the job run twice returns it once.
 */
#include "app.h"
#include "jobs/common.h"
#include "jobs/payments_common.h"
#include "service/payments.h"
#include "util/log.h"

struct begin_ctx {
    struct job_ctx *jc;
    const struct db_payment_op *payment;
    struct db_payment_op op;
    bool held; /* begun before, still pending, and another repair (the sweep's) has it */
};

static enum db_status begin_cb(struct db_tx *tx, void *cls)
{
    struct begin_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    enum db_status st = svc_payment_return_begin(&s, c->payment, &c->op);
    c->jc->queued |= s.queued;
    if (st <= 0 || c->op.state != 0 || c->op.created_at == s.now)
        return st; /* not pending, or made now: this run's call is its first */
    /* begun before, its answer lost: done again only if no other repair
     * has it now (two at once could undo each other's work at the gateway) */
    st = svc_payment_claim_repair(&s, &c->op, s.now + SVC_REPAIR_HOLD);
    c->held = st == 0;
    return st < 0 ? st : DB_ONE_RESULT;
}

static enum job_result run(struct job_ctx *jc, const struct gateway *gw,
                           const struct db_payment_op *op)
{
    if (!op->ref[0] || !svc_payment_returnable(op))
        return JOB_DONE;
    struct begin_ctx c = {.jc = jc, .payment = op};
    enum db_status st = db_run(jc->app->db, DB_WRITE, "auto_reverse_begin", begin_cb, &c);
    if (st < 0) {
        jc->error = "cannot store the reversal";
        return JOB_RETRY;
    }
    if (st == 0 || c.op.state == 1)
        return JOB_DONE; /* nothing to return any more, or answered by an earlier run */
    if (c.held) {
        jc->error = "the repair sweep is asking the gateway about the reversal";
        return JOB_RETRY;
    }
    /* an earlier run that died may have asked already */
    struct gw_result res;
    if (!job_operate_and_record(jc, gw, &c.op, jc->job->attempts > 1, &res)) {
        jc->error = res.decision == GW_NO_ANSWER ? "the gateway has not answered"
                                                 : "cannot record the reversal";
        return JOB_RETRY;
    }
    if (res.decision != GW_ACCEPT)
        log_error("payment %s could not be returned at the gateway (%s); it needs a refund there",
                  op->ref, res.error_text);
    return JOB_DONE;
}

enum job_result job_auto_reverse(struct job_ctx *jc)
{
    struct db_payment_op op;
    struct db_merchant m;
    const struct gateway *gw;
    if (job_load_payment(jc, &op, &m, &gw) == JOB_RETRY)
        return JOB_RETRY;
    enum job_result r = run(jc, gw, &op);
    job_release_gateway(jc, gw);
    return r;
}
