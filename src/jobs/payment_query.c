/*
 * payment_query.c — job JOB_PAYMENT_QUERY: a payment whose answer did not
 * come (UNKNOWN) is asked about, first 2 seconds after, then with the
 * backoff, for 10 minutes; after that the repair sweep keeps asking.
 */
#include "jobs/common.h"
#include "jobs/payments_common.h"

/* How long an unanswered payment is asked about by this job (µs). */
#define QUERY_FOR (10LL * 60 * 1000000)

enum job_result job_payment_query(struct job_ctx *jc)
{
    struct db_payment_op op;
    struct db_merchant m;
    const struct gateway *gw;
    if (job_load_payment(jc, &op, &m, &gw) == JOB_RETRY)
        return JOB_RETRY;
    enum job_result r = JOB_DONE;
    struct gw_result res;
    if (op.ref[0] && op.state == 0 && !job_ask_and_record(jc, gw, &op, &res) &&
        time_now() - op.created_at < QUERY_FOR) {
        jc->error = "the gateway has not answered yet";
        r = JOB_RETRY;
    }
    job_release_gateway(jc, gw);
    return r;
}
