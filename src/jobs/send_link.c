/*
 * send_link.c — job JOB_SEND_LINK: send a payment link to the customer and
 * record PAYMENT_LINK_SENT or PAYMENT_LINK_SENT_FAILED; a delivery receipt
 * follows, and reminders when the merchant wants them. On WhatsApp the
 * link is a "Pay" button under the text. Its arg (enum send_link_how) says
 * whether this is the first send or the link again after a report that
 * WhatsApp could not deliver it (service/messages.c).
 */
#include <stdio.h>

#include "app.h"
#include "core/link_fsm.h"
#include "core/message.h"
#include "core/status.h"
#include "db/providers.h"
#include "jobs/common.h"
#include "service/messages.h"
#include "service/views.h"
#include "util/log.h"

/* The link's message, sent as reminder `reminder` (0: the first send, or
 * the link again as jc's arg says: enum send_link_how) when due(l) says it
 * still is. */
enum job_result job_send_link_text(struct job_ctx *jc, int reminder,
                                   bool (*due)(const struct db_link *l))
{
    int64_t how = reminder ? SEND_LINK_FIRST : jc->job->arg;
    struct db_link l;
    struct db_merchant m;
    enum job_result res;
    if (!job_load_link(jc, &l, &m, &res))
        return res;
    if (!due(&l))
        return JOB_DONE;
    char text[MESSAGE_MAX];
    const char *url = arena_printf(jc->a, "%s/p/%s", jc->app->cfg->public_url, l.token);
    struct message_link ml = svc_message_link(&l, &m, url);
    int n = !ml.currency ? -1
            : reminder   ? message_reminder(&ml, text, sizeof text)
                         : message_payment_request(&ml, text, sizeof text);
    if (n < 0) /* permanent: the same link renders the same way on every attempt */
        log_error("link %lld: the message cannot be rendered (public URL too long for an SMS?)",
                  (long long)l.id);
    struct job_text t = {
        .text = n >= 0 ? text : NULL,
        .why = "The message could not be composed (link too long for one SMS)",
        .button_text = "Pay",
        .button_url = l.channel == CHANNEL_WHATSAPP ? url : NULL,
        .template_ok = true,
        .purpose = PM_LINK,
        .reminder = reminder,
        .template_only = how == SEND_LINK_TEMPLATE,
        .again = how != SEND_LINK_FIRST,
    };
    return job_send_and_record(jc, &l, &m, &t);
}

/* Not cancelled, expired or unusable before it could be sent. */
static bool still_to_send(const struct db_link *l)
{
    return !link_state_final(link_state_from_status(l->status)) && l->live;
}

bool job_link_awaited(const struct db_link *l)
{
    return svc_link_awaits_customer(l, time_now());
}

enum job_result job_send_link(struct job_ctx *jc)
{
    return job_send_link_text(jc, 0,
                              jc->job->arg == SEND_LINK_FIRST ? still_to_send : job_link_awaited);
}
