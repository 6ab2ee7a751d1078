/*
 * review_settle.c — job JOB_REVIEW_SETTLE: once the review delay has passed,
 * ask the gateway how a payment held for REVIEW ended, and record it.
 */
#include "jobs/common.h"
#include "jobs/payments_common.h"

enum job_result job_review_settle(struct job_ctx *jc)
{
    struct db_payment_op op;
    struct db_merchant m;
    const struct gateway *gw;
    if (job_load_payment(jc, &op, &m, &gw) == JOB_RETRY)
        return JOB_RETRY;
    enum job_result r = JOB_DONE;
    if (op.ref[0] && op.state == 1 && op.decision == GW_REVIEW &&
        !job_ask_and_record(jc, gw, &op)) {
        jc->error = "the gateway has not decided yet";
        r = JOB_RETRY;
    }
    job_release_gateway(jc, gw);
    return r;
}
