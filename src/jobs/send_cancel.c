/*
 * send_cancel.c — job JOB_SEND_CANCEL: tell the customer on the link's
 * channel that the merchant cancelled the order.
 */
#include "core/currency.h"
#include "core/message.h"
#include "jobs/common.h"
#include "service/views.h"
#include "util/log.h"

enum job_result job_send_cancel(struct job_ctx *jc)
{
    struct db_link l;
    struct db_merchant m;
    enum job_result res;
    if (!job_load_link(jc, &l, &m, &res))
        return res;
    char text[MESSAGE_MAX];
    struct message_link ml = svc_message_link(&l, &m, "");
    if (!ml.currency || message_cancelled(&ml, text, sizeof text) < 0) {
        log_error("link %lld: the cancellation message cannot be rendered", (long long)l.id);
        return JOB_DONE;
    }
    struct channel_result sent;
    return job_send_text(jc, &l, &m, text, &sent);
}
