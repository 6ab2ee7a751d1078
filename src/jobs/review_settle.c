/*
 * review_settle.c — job JOB_REVIEW_SETTLE: once the review delay has passed,
 * ask the gateway how a payment held for REVIEW ended, and record it.
 *
 * A review can take days (a CyberSource Decision Manager case waits for a
 * person): while the gateway still answers REVIEW nothing is recorded and
 * the gateway is asked again, 15 minutes later, then after twice as long
 * each time, at most every 4 hours, for up to 14 days after the payment
 * attempt. A payment still under review then stays REVIEW (an error line in
 * the log; the merchant decides it in the gateway's console).
 */
#include "jobs/common.h"
#include "jobs/payments_common.h"
#include "util/log.h"

#define MINUTE            (60LL * 1000000)
#define REVIEW_FIRST_WAIT (15 * MINUTE)
#define REVIEW_MAX_WAIT   (240 * MINUTE)
#define REVIEW_BOUND      (14 * 24 * 60 * MINUTE)

/* The wait after the gateway answered REVIEW on the job's n-th try. */
static usec_t review_wait(int tries)
{
    usec_t d = REVIEW_FIRST_WAIT;
    for (int i = 1; i < tries && d < REVIEW_MAX_WAIT; i++)
        d *= 2;
    return d < REVIEW_MAX_WAIT ? d : REVIEW_MAX_WAIT;
}

/* Ask about op, held for review: JOB_DONE when decided and recorded (or
 * given up), JOB_RETRY (with the next try's time while still under review)
 * when not yet. A REVIEW answer again changes nothing recorded. */
static enum job_result settle(struct job_ctx *jc, const struct gateway *gw,
                              const struct db_payment_op *op)
{
    struct gw_result res;
    if (!job_ask_and_record(jc, gw, op, &res)) {
        jc->error = "the gateway has not decided yet";
        return JOB_RETRY;
    }
    if (res.decision != GW_REVIEW)
        return JOB_DONE;
    usec_t now = time_now();
    if (now - op->created_at >= REVIEW_BOUND) {
        log_error("payment %s: still under review at the gateway 14 days after the attempt; "
                  "no longer asked (it stays REVIEW)",
                  op->ref);
        return JOB_DONE;
    }
    jc->error = "the gateway still holds the payment for review";
    jc->retry_at = now + review_wait(jc->job->attempts);
    return JOB_RETRY;
}

enum job_result job_review_settle(struct job_ctx *jc)
{
    struct db_payment_op op;
    struct db_merchant m;
    const struct gateway *gw;
    if (job_load_payment(jc, &op, &m, &gw) == JOB_RETRY)
        return JOB_RETRY;
    enum job_result r = JOB_DONE;
    if (op.ref[0] && op.state == 1 && op.decision == GW_REVIEW)
        r = settle(jc, gw, &op);
    job_release_gateway(jc, gw);
    return r;
}
