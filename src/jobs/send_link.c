/*
 * send_link.c — job JOB_SEND_LINK: send a payment link to the customer and
 * record PAYMENT_LINK_SENT or PAYMENT_LINK_SENT_FAILED; when sent, the
 * delivery receipt job follows.
 */
#include <stdio.h>

#include "app.h"
#include "core/link_fsm.h"
#include "core/message.h"
#include "jobs/common.h"
#include "service/links.h"
#include "service/views.h"
#include "util/log.h"

enum job_result job_send_link(struct job_ctx *jc)
{
    struct db_link l;
    struct db_merchant m;
    enum job_result res;
    if (!job_load_link(jc, &l, &m, &res))
        return res;
    /* cancelled or expired before it could be sent */
    if (link_state_final(link_state_from_status(l.status)) || !l.live)
        return JOB_DONE;
    char url[600], text[MESSAGE_MAX];
    snprintf(url, sizeof url, "%s/p/%s", jc->app->cfg->public_url, l.token);
    struct message_link ml = svc_message_link(&l, &m, url);
    bool composed = ml.currency && message_payment_request(&ml, text, sizeof text) >= 0;
    if (!composed) /* permanent: the same link renders the same way on every attempt */
        log_error("link %lld: the message cannot be rendered (public URL too long for an SMS?)",
                  (long long)l.id);
    return job_send_and_record(jc, &l, &m, composed ? text : NULL,
                               "The message could not be composed (link too long for one SMS)",
                               svc_link_send_result);
}
