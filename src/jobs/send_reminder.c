/*
 * send_reminder.c — job JOB_SEND_REMINDER (arg: which reminder, from 1):
 * send an unopened link again, at the merchant's reminder offsets (from the
 * link's creation), never after it was opened, paid, cancelled or expired;
 * held while the merchant's quiet hours last. Its record queues the next.
 */
#include "app.h"
#include "core/link_fsm.h"
#include "core/status.h"
#include "jobs/common.h"
#include "service/messages.h"

enum job_result job_send_reminder(struct job_ctx *jc)
{
    struct db_link l;
    struct db_merchant m;
    enum job_result res;
    if (!job_load_link(jc, &l, &m, &res))
        return res;
    if (!job_link_awaited(&l))
        return JOB_DONE;
    /* quiet hours: wait for their end */
    usec_t now = time_now(), release = svc_quiet_release(&m, now);
    if (release > now) {
        jc->error = "quiet hours";
        jc->retry_at = release;
        return JOB_RETRY;
    }
    return job_send_link_text(jc, (int)jc->job->arg, job_link_awaited);
}
