/*
 * send_cancel.c — job JOB_SEND_CANCEL: tell the customer on the link's
 * channel that the merchant cancelled the order.
 */
#include "core/message.h"
#include "db/providers.h"
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
    bool composed = ml.currency && message_cancelled(&ml, text, sizeof text) >= 0;
    if (!composed)
        log_error("link %lld: the cancellation message cannot be rendered", (long long)l.id);
    struct job_text t = {.text = composed ? text : NULL,
                         .why = "The cancellation message could not be composed",
                         .purpose = PM_CANCEL};
    return job_send_and_record(jc, &l, &m, &t);
}
