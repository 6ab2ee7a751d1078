/*
 * registry.c — every kind of job, as data (see jobs.h).
 */
#include "jobs/jobs.h"

#include <stddef.h>
#include <string.h>

#include "db/db.h"

#define SEC (1000000LL)

static const struct job_kind_info kinds[] = {
    /* kind, name, runner, lease (longer than the slowest call a runner makes:
     * providers and gateways are given 10 s), tries, backoff, cap, pool, and
     * what giving up records */
    {JOB_SEND_LINK, "send_link", job_send_link, 15 * SEC, 12, SEC, 300 * SEC, POOL_MESSAGES, NULL},
    {JOB_DELIVERY_RECEIPT, "delivery_receipt", job_delivery_receipt, 15 * SEC, 12, SEC, 300 * SEC,
     POOL_MESSAGES, NULL},
    {JOB_SEND_CANCEL, "send_cancel", job_send_cancel, 15 * SEC, 12, SEC, 300 * SEC, POOL_MESSAGES,
     NULL},
    {JOB_PAYMENT_QUERY, "payment_query", job_payment_query, 15 * SEC, 12, SEC, 300 * SEC,
     POOL_PAYMENTS, NULL},
    /* a payment under review is asked about for up to 14 days, at most every
     * 4 hours (review_settle.c sets each next try): that bound ends it */
    {JOB_REVIEW_SETTLE, "review_settle", job_review_settle, 15 * SEC, 1000, SEC, 300 * SEC,
     POOL_PAYMENTS, NULL},
    {JOB_AUTO_REVERSE, "auto_reverse", job_auto_reverse, 15 * SEC, 12, SEC, 300 * SEC,
     POOL_PAYMENTS, NULL},
    {JOB_SEND_RECEIPT, "send_receipt", job_send_receipt, 15 * SEC, 12, SEC, 300 * SEC,
     POOL_MESSAGES, NULL},
    {JOB_RECEIPT_DELIVERY, "receipt_delivery", job_receipt_delivery, 15 * SEC, 12, SEC, 300 * SEC,
     POOL_MESSAGES, NULL},
    {JOB_SEND_REMINDER, "send_reminder", job_send_reminder, 15 * SEC, 48, SEC, 300 * SEC,
     POOL_MESSAGES, NULL},
    /* a callback's tries follow the retry schedule (the runner sets each next
     * run); the backoff here only spaces runs the database cut short. Its
     * lease covers the 15 s a merchant's URL is given, and the name lookup */
    {JOB_DELIVER_CALLBACK, "deliver_callback", job_deliver_callback, 25 * SEC, 1000, 5 * SEC,
     300 * SEC, POOL_CALLBACKS, NULL},
    /* the vendor answers in process; a status check runs 2 s after a timeout */
    {JOB_MP_FULFIL, "mp_fulfil", job_mp_fulfil, 15 * SEC, 12, SEC, 300 * SEC, POOL_PAYMENTS, NULL},
    /* a result's tries follow its own schedule (service/purchases.c) */
    {JOB_MP_RESULT, "mp_result", job_mp_result, 25 * SEC, 1000, 5 * SEC, 300 * SEC, POOL_CALLBACKS,
     NULL},
    {JOB_WA_SEND_ORDER, "wa_send_order", job_wa_send_order, 15 * SEC, 12, SEC, 300 * SEC,
     POOL_MESSAGES, NULL},
    {JOB_WA_REFUND, "wa_refund", job_wa_refund, 15 * SEC, 12, SEC, 300 * SEC, POOL_PAYMENTS,
     job_wa_refund_give_up},
};

const struct job_kind_info *job_kind_info(int kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if ((int)kinds[i].kind == kind)
            return &kinds[i];
    return NULL;
}

usec_t job_backoff(const struct job_kind_info *k, int attempts)
{
    usec_t base = k ? k->backoff : SEC, cap = k ? k->backoff_cap : 300 * SEC;
    usec_t d = base;
    for (int i = 1; i < attempts && d < cap; i++)
        d *= 2;
    return d < cap ? d : cap;
}

const char *job_pool_name(enum job_pool pool)
{
    static const char *const names[POOL_COUNT] = {"messages", "payments", "callbacks"};
    return (unsigned)pool < POOL_COUNT ? names[pool] : "?";
}

enum db_status job_finish_in(struct db_tx *tx, struct job_ctx *jc)
{
    enum db_status st = DB_CALL(tx, jobs, complete, jc->job, time_now());
    if (st < 0)
        return st;
    return st == 0 ? DB_ROLLBACK : DB_ONE_RESULT;
}

enum job_result job_recorded(struct job_ctx *jc, enum db_status st)
{
    if (st >= 0 || st == DB_ROLLBACK) { /* DB_ROLLBACK: an earlier run recorded it */
        jc->completed = true;
        return JOB_DONE;
    }
    jc->error = "cannot record the outcome";
    return JOB_RETRY;
}
