/*
 * send_link.c — job JOB_SEND_LINK: send a payment link to the customer and
 * record PAYMENT_LINK_SENT or PAYMENT_LINK_SENT_FAILED; when sent, the
 * delivery receipt job follows.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/currency.h"
#include "core/link_fsm.h"
#include "core/message.h"
#include "core/status.h"
#include "channel/registry.h"
#include "jobs/common.h"
#include "service/links.h"
#include "util/log.h"

struct sent_ctx {
    struct job_ctx *jc;
    const struct db_link *l;
    bool sent;
    struct svc_entry detail;
    int64_t message_id;
    usec_t receipt_at;
};

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct sent_ctx *c = cls;
    enum db_status st = job_finish_in(tx, c->jc);
    if (st <= 0)
        return st;
    struct svc s = job_svc(c->jc, tx);
    return svc_link_send_result(&s, c->l->merchant_id, c->l->id, c->sent, &c->detail, c->message_id,
                                c->receipt_at);
}

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
    struct message_link ml = job_message_link(&l, &m, url);
    struct channel_result sent;
    if (!ml.currency || message_payment_request(&ml, text, sizeof text) < 0) {
        /* permanent: the same link renders the same way on every attempt */
        log_error("link %lld: the message cannot be rendered (public URL too long for an SMS?)",
                  (long long)l.id);
        memset(&sent, 0, sizeof sent);
        sent.outcome = CHANNEL_REJECTED;
        snprintf(sent.description, sizeof sent.description,
                 "The message could not be composed (link too long for one SMS)");
    } else if (job_send_text(jc, &l, &m, text, &sent) == JOB_RETRY) {
        return JOB_RETRY;
    }
    struct sent_ctx c = {
        .jc = jc,
        .l = &l,
        .sent = sent.outcome == CHANNEL_SENT,
        .detail = {.http = sent.http_code,
                   .code = sent.code[0] ? sent.code : NULL,
                   .desc = sent.description[0] ? sent.description : NULL},
        .message_id = sent.message_id,
    };
    const struct channel *ch = channel_for_merchant(jc->app->channels, &m, l.channel);
    if (c.sent && ch)
        c.receipt_at = ch->ops->receipt_delay ? time_now() + ch->ops->receipt_delay : 0;
    enum db_status st = db_run(jc->app->db, DB_WRITE, "record_send", record_cb, &c);
    app_wake_workers(jc->app);
    return job_recorded(jc, st);
}
