/*
 * wa_send_order.c — job JOB_WA_SEND_ORDER: send a WhatsApp Pay order's
 * message (arg: the order's id) through the merchant's WhatsApp channel: the
 * order's text, then its "Review and pay" link (also as a button where the
 * channel has them), as this job ("cpm_<job id>"), from the business number
 * the order names (its `from`). The outcome is recorded
 * on the order with the job's completion. A run that died before recording
 * its outcome is not sent again (the provider may have it), nor is a
 * customer who opted out (replied STOP) since the order was taken, nor is
 * it sent once the merchant has switched its WhatsApp channel off: the
 * order's message is then recorded as failed.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "channel/registry.h"
#include "config.h"
#include "core/status.h"
#include "db/providers.h"
#include "db/whatsapp.h"
#include "jobs/common.h"

struct order_ctx {
    struct job_ctx *jc;
    struct db_wa_order o;
    struct db_merchant m;
    enum wa_message_state state;
    bool opted_out; /* the customer replied STOP since the order was taken */
    char from[16];  /* the order's business number (digits): its sender */
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct order_ctx *c = cls;
    enum db_status st =
        DB_CALL(tx, whatsapp, order_get, c->jc->job->merchant_id, c->jc->job->arg, c->jc->a, &c->o);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, providers, optout_get, c->o.merchant_id, c->o.msisdn_to);
    if (st < 0)
        return st;
    c->opted_out = st > 0;
    /* the number the order names (enabled or not since) */
    struct db_wa_number num;
    st = DB_CALL(tx, whatsapp, number_get, c->o.merchant_id, c->o.phone_number_id, &num);
    if (st < 0)
        return st;
    snprintf(c->from, sizeof c->from, "%s", st > 0 ? num.display_number : "");
    return DB_CALL(tx, merchants, get, c->o.merchant_id, &c->m);
}

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct order_ctx *c = cls;
    enum db_status st = job_finish_in(tx, c->jc);
    if (st <= 0)
        return st;
    struct db_wa_order o;
    st = DB_CALL(tx, whatsapp, order_get, c->o.merchant_id, c->o.id, c->jc->a, &o);
    if (st <= 0)
        return st < 0 ? st : DB_ROLLBACK;
    o.message_state = c->state;
    o.updated_at = time_now();
    return DB_CALL(tx, whatsapp, order_update, &o);
}

enum job_result job_wa_send_order(struct job_ctx *jc)
{
    struct order_ctx c = {.jc = jc};
    enum db_status st = db_run(jc->app->db, DB_READ, "wa_order_load", load_cb, &c);
    if (st < 0) {
        jc->error = "cannot read the order";
        return JOB_RETRY;
    }
    if (st == 0 || c.o.message_state != WA_MSG_QUEUED)
        return JOB_DONE;
    const char *why = NULL;
    const struct channel *ch = channel_acquire(jc->app->channels, &c.m, CHANNEL_WHATSAPP, &why);
    struct channel_result res;
    memset(&res, 0, sizeof res);
    res.outcome = CHANNEL_REJECTED;
    bool acted = false; /* the provider was called, or may have been by an earlier run */
    if (!ch || c.opted_out || !c.m.whatsapp_enabled) {
        /* not sent: no provider, the customer opted out, or the merchant
         * switched its WhatsApp channel off since the order was taken */
    } else if (job_earlier_run_unrecorded(jc)) {
        acted = true;
    } else if (ch->merchant_id && strcmp(ch->id, "sandbox") != 0 && !job_acting(jc)) {
        channel_release(jc->app->channels, ch);
        return JOB_RETRY; /* not sent: nothing says a run may have sent it */
    } else {
        char ref[40];
        snprintf(ref, sizeof ref, "cpm_%lld", (long long)jc->job->id);
        const char *url = arena_printf(jc->a, "%s/wa/%s", jc->app->cfg->public_url, c.o.token);
        struct channel_message msg = {
            .merchant_id = c.m.id,
            .job_id = jc->job->id,
            .channel = CHANNEL_WHATSAPP,
            .from = c.from[0] ? c.from : NULL,
            .to = c.o.msisdn_to,
            .text = arena_printf(jc->a, "%s\n\nReview and pay: %s", c.o.message_text, url),
            .ref = ref,
            .button_text = "Review and pay",
            .button_url = url,
        };
        channel_send(ch, &msg, &res);
        acted = true;
    }
    /* a real provider, not the sandbox outbox (which keeps the message by
     * the job: a run again finds it there and sends nothing twice) */
    bool real = ch && ch->merchant_id && strcmp(ch->id, "sandbox") != 0;
    channel_release(jc->app->channels, ch);
    if (job_channel_retry(jc, &res))
        return JOB_RETRY;
    c.state = res.outcome == CHANNEL_SENT ? WA_MSG_SENT : WA_MSG_FAILED;
    st = db_run(jc->app->db, DB_WRITE, "wa_order_sent", record_cb, &c);
    job_note_unrecorded(jc, st, acted && real);
    return job_recorded(jc, st);
}
