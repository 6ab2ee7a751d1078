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
#include "core/money.h"
#include "db/providers.h"
#include "service/messages.h"
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

/* The merchant's WhatsApp template parameters for a link, in order. */
static size_t template_params(struct job_ctx *jc, const struct db_link *l,
                              const struct db_merchant *m, const char *url, const char ***out)
{
    const char **params = arena_calloc(jc->a, 8, sizeof *params);
    size_t n = 0;
    const char *p = m->wa_template_params;
    while (*p && n < 8) {
        size_t len = strcspn(p, ",");
        const struct currency *cur = currency_find(l->currency);
        char amount[48];
        if (len == 8 && strncmp(p, "merchant", len) == 0) {
            params[n++] = m->name;
        } else if (len == 6 && strncmp(p, "amount", len) == 0 && cur) {
            char digits[32];
            money_format(l->total_minor, cur->exponent, digits, sizeof digits);
            snprintf(amount, sizeof amount, "%s %s", cur->code, digits);
            params[n++] = arena_strdup(jc->a, amount);
        } else if (len == 5 && strncmp(p, "order", len) == 0) {
            params[n++] = l->order_number;
        } else if (len == 3 && strncmp(p, "url", len) == 0) {
            params[n++] = url;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    *out = params;
    return n;
}

struct optout_ctx {
    const char *merchant_id, *to;
    bool out;
};

static enum db_status optout_cb(struct db_tx *tx, void *cls)
{
    struct optout_ctx *c = cls;
    enum db_status st = DB_CALL(tx, providers, optout_get, c->merchant_id, c->to);
    c->out = st > 0;
    return st < 0 ? st : DB_ONE_RESULT;
}

static void refuse(struct channel_result *res, enum channel_reason reason, const char *why)
{
    memset(res, 0, sizeof *res);
    res->outcome = CHANNEL_REJECTED;
    res->reason = reason;
    snprintf(res->description, sizeof res->description, "%s", why);
}

struct sent_ctx {
    struct job_ctx *jc;
    const struct db_merchant *m;
    int64_t link_id;
    struct svc_send snd;
};

static enum db_status sent_cb(struct db_tx *tx, void *cls)
{
    struct sent_ctx *c = cls;
    enum db_status st = job_finish_in(tx, c->jc);
    if (st <= 0)
        return st;
    struct svc s = job_svc(c->jc, tx);
    st = svc_message_sent(&s, c->m, c->link_id, &c->snd);
    c->jc->queued |= s.queued;
    return st;
}

enum job_result job_send_and_record(struct job_ctx *jc, const struct db_link *l,
                                    const struct db_merchant *m, const struct job_text *t)
{
    struct channel_result res;
    bool acted = false; /* the provider was called, or may have been by an earlier run */
    const char *why = NULL;
    char ref[40];
    snprintf(ref, sizeof ref, "cpm_%lld", (long long)jc->job->id);
    const struct channel *ch = channel_acquire(jc->app->channels, m, l->channel, &why);
    struct optout_ctx oc = {.merchant_id = m->id, .to = l->msisdn_to};
    const char *selected = l->channel == CHANNEL_SMS        ? m->sms_provider
                           : l->channel == CHANNEL_WHATSAPP ? m->whatsapp_provider
                                                            : "";
    const struct job_kind_info *kind = job_kind_info(jc->job->kind);
    if (!ch && selected[0] && kind && jc->job->attempts < kind->max_attempts) {
        /* a provider is selected but cannot be used here now (this node has
         * no secrets_key, its settings were just changed): try again; the
         * last try records the failure */
        jc->error = why ? arena_strdup(jc->a, why) : "the merchant's provider cannot be used";
        return JOB_RETRY;
    }
    if (!ch) {
        refuse(&res, CHANNEL_R_OTHER,
               arena_printf(jc->a, "No %s provider can send this merchant's messages%s%s",
                            channel_name(l->channel), why ? ": " : "", why ? why : ""));
    } else if (!t->text) {
        refuse(&res, CHANNEL_R_OTHER, t->why);
    } else if (t->template_only && !m->wa_template[0]) {
        /* the template was removed since the window was reported closed:
         * the text would fail again (the fallback may take it by SMS) */
        refuse(&res, CHANNEL_R_WINDOW_CLOSED,
               "The 24-hour window is closed and the merchant has no WhatsApp template any more");
    } else if (db_run(jc->app->db, DB_READ, "optout_get", optout_cb, &oc) < 0) {
        channel_release(jc->app->channels, ch);
        jc->error = "cannot read the opt-out list";
        return JOB_RETRY;
    } else if (oc.out) {
        refuse(&res, CHANNEL_R_OPTED_OUT,
               "The customer opted out of this merchant's messages (replied STOP)");
    } else if (ch->merchant_id && job_earlier_run_unrecorded(jc)) {
        memset(&res, 0, sizeof res);
        res.outcome = CHANNEL_UNKNOWN;
        snprintf(res.description, sizeof res.description,
                 "an earlier attempt stopped before its outcome was recorded");
        acted = true;
    } else if (ch->merchant_id && !job_acting(jc)) {
        channel_release(jc->app->channels, ch);
        return JOB_RETRY; /* not sent: nothing says a run may have sent it */
    } else {
        const char **params = NULL;
        size_t nparams = t->template_ok && m->wa_template[0]
                             ? template_params(jc, l, m, t->button_url, &params)
                             : 0;
        struct channel_message msg = {
            .merchant_id = m->id,
            .job_id = jc->job->id,
            .link_id = l->id,
            .channel = l->channel,
            .from = l->msisdn_from[0] ? l->msisdn_from : NULL,
            .to = l->msisdn_to,
            .text = t->text,
            .ref = ref,
            .status_url =
                ch->inbound_url ? arena_printf(jc->a, "%s/status", ch->inbound_url) : NULL,
            .button_text = t->button_url ? t->button_text : NULL,
            .button_url = t->button_url,
            .template_name = t->template_ok && m->wa_template[0] ? m->wa_template : NULL,
            .template_lang = m->wa_template_lang,
            .template_params = params,
            .ntemplate_params = nparams,
            .template_only = t->template_only,
        };
        channel_send(ch, &msg, &res);
        acted = true;
    }
    /* the instance's id is the registry's: copied, since the instance may
     * be freed at its release (the merchant's settings changed meanwhile) */
    const char *provider_id = arena_strdup(jc->a, ch ? ch->id : "none");
    struct sent_ctx c = {
        .jc = jc,
        .m = m,
        .link_id = l->id,
        .snd = {.purpose = t->purpose,
                .channel = l->channel,
                .reminder = t->reminder,
                .again = t->again,
                .provider_id = provider_id,
                .ref = ref,
                .res = &res,
                .receipt_delay = ch && ch->ops->query ? ch->ops->receipt_delay : 0},
    };
    channel_release(jc->app->channels, ch);
    if (job_channel_retry(jc, &res))
        return JOB_RETRY;
    if (res.outcome == CHANNEL_TRANSIENT) /* the last try: recorded as not sent */
        res.outcome = CHANNEL_REJECTED;
    enum db_status st = db_run(jc->app->db, DB_WRITE, "record_send", sent_cb, &c);
    job_note_unrecorded(jc, st, acted && strcmp(c.snd.provider_id, "sandbox") != 0);
    return job_recorded(jc, st);
}

bool job_earlier_run_unrecorded(const struct job_ctx *jc)
{
    return jc->job->acted > jc->job->retried && jc->job->acted < jc->job->attempts;
}

static enum db_status acting_cb(struct db_tx *tx, void *cls)
{
    const struct job_ctx *jc = cls;
    return DB_CALL(tx, jobs, acting, jc->job);
}

bool job_acting(struct job_ctx *jc)
{
    enum db_status st = db_run(jc->app->db, DB_WRITE, "job_acting", acting_cb, jc);
    if (st > 0)
        return true;
    jc->error = st == 0 ? "another run holds the job now" : "cannot record the provider's call";
    return false;
}

void job_note_unrecorded(struct job_ctx *jc, enum db_status st, bool real_acted)
{
    jc->unrecorded = st < 0 && st != DB_ROLLBACK && real_acted;
}

bool job_channel_retry(struct job_ctx *jc, const struct channel_result *res)
{
    const struct job_kind_info *kind = job_kind_info(jc->job->kind);
    if (res->outcome != CHANNEL_TRANSIENT || !kind || jc->job->attempts >= kind->max_attempts)
        return false;
    jc->error = "the provider could not take the message now";
    usec_t wait = job_backoff(kind, jc->job->attempts);
    jc->retry_at = time_now() + (res->retry_after > wait ? res->retry_after : wait);
    return true;
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

struct target_ctx {
    struct job_ctx *jc;
    const struct db_payment_op *op;
    bool again;
    struct gw_target t;
};

static enum db_status target_cb(struct db_tx *tx, void *cls)
{
    struct target_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    return svc_gw_target(&s, c->op, c->again, &c->t);
}

bool job_target(struct job_ctx *jc, const struct db_payment_op *op, bool again, struct gw_target *t)
{
    struct target_ctx c = {.jc = jc, .op = op, .again = again};
    if (db_run(jc->app->db, DB_READ, "payment_target", target_cb, &c) <= 0)
        return false;
    *t = c.t;
    return true;
}

bool job_ask_and_record(struct job_ctx *jc, const struct gateway *gw,
                        const struct db_payment_op *op, struct gw_result *res)
{
    struct gw_target t;
    if (!job_target(jc, op, true, &t)) {
        gw_no_answer(res, "the operation cannot be read");
        return false;
    }
    gateway_query(gw, &t, res);
    if (res->decision == GW_NO_ANSWER && !res->gateway_ref[0])
        return false;
    bool ok = job_record_answer(jc, op->merchant_id, op->ref, res);
    return ok && res->decision != GW_NO_ANSWER;
}

bool job_operate_and_record(struct job_ctx *jc, const struct gateway *gw,
                            const struct db_payment_op *op, bool again, struct gw_result *res)
{
    struct gw_target t;
    if (!job_target(jc, op, again, &t)) {
        gw_no_answer(res, "the operation cannot be read");
        return false;
    }
    gateway_operate(gw, &t, res);
    if (res->decision == GW_NO_ANSWER && !res->gateway_ref[0])
        return false;
    bool ok = job_record_answer(jc, op->merchant_id, op->ref, res);
    return ok && res->decision != GW_NO_ANSWER;
}

bool job_post(struct job_ctx *jc, const struct job_post *p, struct job_post_answer *out)
{
    struct net_request rq = {
        .method = "POST",
        .url = p->url,
        .headers = p->headers,
        .nheaders = p->nheaders,
        .body = p->body,
        .body_len = strlen(p->body),
        .connect_timeout_ms = p->connect_timeout_ms,
        .timeout_ms = p->timeout_ms,
        .allow_private = p->allow_private,
        .cancel = &jc->app->stopping,
    };
    struct net_response res;
    net_perform(jc->app->net, &rq, &res);
    net_response_free(&res);
    if (res.error == NET_CANCELLED) {
        jc->error = arena_printf(jc->a, "stopped before the %s was answered", p->what);
        jc->retry_at = time_now();
        return false;
    }
    bool status_ok = p->only_200 ? res.status == 200 : res.status >= 200 && res.status < 300;
    *out = (struct job_post_answer){
        .http = res.status,
        .latency_ms = (int)(res.seconds * 1000 + 0.5),
        .delivered = status_ok && (res.error == NET_OK || res.error == NET_TOO_LARGE),
    };
    if (!out->delivered)
        out->error = res.error != NET_OK
                         ? arena_printf(jc->a, "%s: %s", net_error_name(res.error), res.message)
                     : p->only_200
                         ? arena_printf(jc->a, "HTTP %d (delivered means 200)", res.status)
                         : arena_printf(jc->a, "HTTP %d", res.status);
    return true;
}
