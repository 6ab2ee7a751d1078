/*
 * common.c — what several job runners share (see common.h).
 */
#include "jobs/common.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "channel/registry.h"
#include "core/currency.h"
#include "core/status.h"
#include "service/payments.h"

struct svc job_svc(struct job_ctx *jc, struct db_tx *tx)
{
    return (struct svc){.tx = tx, .a = jc->a, .now = time_now(), .cfg = jc->app->cfg};
}

struct load_ctx {
    const struct db_job *job;
    struct arena *a;
    struct db_link *l;
    struct db_merchant *m;
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct load_ctx *c = cls;
    enum db_status st =
        DB_CALL(tx, links, get_by_id, c->job->merchant_id, c->job->link_id, c->a, c->l);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, merchants, get, c->job->merchant_id, c->m);
    return st < 0 ? st : (st == 0 ? DB_NO_RESULTS : DB_ONE_RESULT);
}

bool job_load_link(struct job_ctx *jc, struct db_link *l, struct db_merchant *m,
                   enum job_result *res)
{
    struct load_ctx c = {.job = jc->job, .a = jc->a, .l = l, .m = m};
    enum db_status st = db_run(jc->app->db, DB_READ, "job_load", load_cb, &c);
    *res = st < 0 ? JOB_RETRY : JOB_DONE;
    if (st < 0)
        jc->error = "cannot read the link";
    return st > 0;
}

enum job_result job_send_text(struct job_ctx *jc, const struct db_link *l,
                              const struct db_merchant *m, const char *text,
                              struct channel_result *res)
{
    const struct channel *ch = channel_for_merchant(jc->app->channels, m, l->channel);
    if (!ch) {
        memset(res, 0, sizeof *res);
        res->outcome = CHANNEL_REJECTED;
        snprintf(res->description, sizeof res->description,
                 "No %s provider is configured for this production merchant",
                 channel_name(l->channel));
        return JOB_DONE;
    }
    struct channel_message msg = {
        .merchant_id = jc->job->merchant_id,
        .job_id = jc->job->id,
        .link_id = jc->job->link_id,
        .channel = l->channel,
        .from = l->msisdn_from,
        .to = l->msisdn_to,
        .text = text,
    };
    channel_send(ch, &msg, res);
    if (res->outcome == CHANNEL_TRANSIENT) {
        jc->error = "channel unavailable";
        return JOB_RETRY;
    }
    return JOB_DONE;
}

struct sent_ctx {
    struct job_ctx *jc;
    const struct db_link *l;
    job_sent_fn record;
    bool sent;
    struct svc_entry detail;
    int64_t message_id;
    usec_t receipt_at;
};

static enum db_status sent_cb(struct db_tx *tx, void *cls)
{
    struct sent_ctx *c = cls;
    enum db_status st = job_finish_in(tx, c->jc);
    if (st <= 0)
        return st;
    struct svc s = job_svc(c->jc, tx);
    st = c->record(&s, c->l->merchant_id, c->l->id, c->sent, &c->detail, c->message_id,
                   c->receipt_at);
    c->jc->queued |= s.queued;
    return st;
}

enum job_result job_send_and_record(struct job_ctx *jc, const struct db_link *l,
                                    const struct db_merchant *m, const char *text, const char *why,
                                    job_sent_fn record)
{
    struct channel_result sent;
    if (!text) {
        memset(&sent, 0, sizeof sent);
        sent.outcome = CHANNEL_REJECTED;
        snprintf(sent.description, sizeof sent.description, "%s", why);
    } else if (job_send_text(jc, l, m, text, &sent) == JOB_RETRY) {
        return JOB_RETRY;
    }
    struct sent_ctx c = {
        .jc = jc,
        .l = l,
        .record = record,
        .sent = sent.outcome == CHANNEL_SENT,
        .detail = {.http = sent.http_code,
                   .code = sent.code[0] ? sent.code : NULL,
                   .desc = sent.description[0] ? sent.description : NULL},
        .message_id = sent.message_id,
    };
    const struct channel *ch = channel_for_merchant(jc->app->channels, m, l->channel);
    if (c.sent && ch && ch->ops->receipt_delay)
        c.receipt_at = time_now() + ch->ops->receipt_delay;
    return job_recorded(jc, db_run(jc->app->db, DB_WRITE, "record_send", sent_cb, &c));
}

struct record_ctx {
    struct job_ctx *jc;
    const char *merchant_id;
    const char *ref;
    const struct gw_result *res;
};

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct record_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    struct db_link l;
    struct db_payment_op op;
    enum db_status st = svc_payment_record(&s, c->merchant_id, c->ref, c->res, &l, &op);
    c->jc->queued |= s.queued;
    return st;
}

bool job_record_answer(struct job_ctx *jc, const char *merchant_id, const char *ref,
                       const struct gw_result *res)
{
    struct record_ctx c = {.jc = jc, .merchant_id = merchant_id, .ref = ref, .res = res};
    return db_run(jc->app->db, DB_WRITE, "payment_record", record_cb, &c) >= 0;
}

bool job_ask_and_record(struct job_ctx *jc, const struct gateway *gw, const char *merchant_id,
                        const char *ref)
{
    struct gw_result res;
    gateway_query(gw, merchant_id, ref, &res);
    if (res.decision == GW_NO_ANSWER)
        return false;
    return job_record_answer(jc, merchant_id, ref, &res);
}
