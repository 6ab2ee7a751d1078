/*
 * link_jobs.c — what the job workers do for payment links: send the link,
 * collect its delivery receipt, tell the customer about a cancellation, and
 * expire links whose time is up.
 *
 * Each job reads what it needs in one transaction, calls the channel with no
 * transaction open, and records the outcome in a second transaction. Running
 * a job twice (after a crash) sends at most one message: the channel is
 * idempotent per job id.
 */
#include "jobs/worker.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "channel/channel.h"
#include "core/currency.h"
#include "core/message.h"
#include "core/status.h"
#include "util/arena.h"
#include "util/log.h"
#include "db/jobs.h"
#include "db/links.h"
#include "db/merchants.h"

struct load_ctx {
    const struct db_job *job;
    struct arena *a;
    struct db_link link;
    struct db_merchant merchant;
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct load_ctx *c = cls;
    enum db_status st =
        DB_CALL(tx, links, get_by_id, c->job->merchant_id, c->job->link_id, c->a, &c->link);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, merchants, get, c->job->merchant_id, &c->merchant);
    return st < 0 ? st : (st == 0 ? DB_NO_RESULTS : DB_ONE_RESULT);
}

/* Statuses that end a link's life: later events are history only. */
static bool is_final(int status)
{
    return status == LINK_PAYMENT_LINK_CANCELLED || status == LINK_PAYMENT_URL_EXPIRED ||
           status == LINK_PAYMENT_LINK_SENT_FAILED;
}

struct record_ctx {
    const struct db_job *job;
    struct arena *a;
    struct db_link_status status;
    bool end_link;      /* the link can no longer be used (send failed) */
    struct db_job next; /* a job to queue (kind 0: none) */
};

/* Complete the job, append a status to the link's history, move its
 * current status and queue the follow-up job, in one transaction: a job run
 * again after a crash finds itself complete and records nothing twice. */
static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct record_ctx *c = cls;
    enum db_status st = DB_CALL(tx, jobs, complete, c->job->id, time_now());
    if (st <= 0)
        return st < 0 ? st : DB_ROLLBACK; /* recorded by an earlier run */
    struct db_link l;
    st = DB_CALL(tx, links, get_by_id, c->job->merchant_id, c->job->link_id, c->a, &l);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, links, status_append, l.merchant_id, l.id, &c->status);
    if (st < 0)
        return st;
    if (!is_final(l.status)) {
        l.status = c->status.status;
        if (c->end_link)
            l.live = false;
        st = DB_CALL(tx, links, update, &l);
        if (st < 0)
            return st;
    }
    if (c->next.kind) {
        st = DB_CALL(tx, jobs, insert, &c->next);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

static const struct channel_ops *channel_for(const struct db_merchant *m)
{
    /* production providers are configured per merchant; none is built in yet */
    return m->environment == ENV_SANDBOX ? &channel_sandbox : NULL;
}

static void fill_message(struct message_link *ml, const struct load_ctx *c, const char *url)
{
    ml->channel = c->link.channel;
    ml->merchant_name = c->merchant.name;
    ml->order_number = c->link.order_number;
    ml->total_minor = c->link.total_minor;
    ml->currency = currency_find(c->link.currency);
    ml->link_url = url;
}

static enum job_result send_text(struct app *app, const struct db_job *job, struct load_ctx *c,
                                 const char *text, struct channel_result *res, const char **error)
{
    const struct channel_ops *ch = channel_for(&c->merchant);
    if (!ch) {
        memset(res, 0, sizeof *res);
        res->outcome = CHANNEL_REJECTED;
        snprintf(res->description, sizeof res->description,
                 "No %s provider is configured for this production merchant",
                 channel_name(c->link.channel));
        return JOB_DONE;
    }
    struct channel_message m = {
        .merchant_id = job->merchant_id,
        .job_id = job->id,
        .link_id = job->link_id,
        .channel = c->link.channel,
        .from = c->link.msisdn_from,
        .to = c->link.msisdn_to,
        .text = text,
    };
    ch->send(app->db, &m, res);
    if (res->outcome == CHANNEL_TRANSIENT) {
        *error = "channel unavailable";
        return JOB_RETRY;
    }
    return JOB_DONE;
}

static enum job_result run_send_link(struct app *app, const struct db_job *job, struct load_ctx *c,
                                     const char **error)
{
    if (!c->link.live || c->link.status == LINK_PAYMENT_LINK_CANCELLED)
        return JOB_DONE; /* cancelled or expired before it could be sent */
    char url[600], text[MESSAGE_MAX];
    snprintf(url, sizeof url, "%s/p/%s", app->cfg->public_url, c->link.token);
    struct message_link ml;
    fill_message(&ml, c, url);
    struct channel_result res;
    if (!ml.currency || message_payment_request(&ml, text, sizeof text) < 0) {
        /* permanent: the same link renders the same way on every attempt */
        log_error("link %lld: the message cannot be rendered (public URL too long for an SMS?)",
                  (long long)c->link.id);
        memset(&res, 0, sizeof res);
        res.outcome = CHANNEL_REJECTED;
        snprintf(res.description, sizeof res.description,
                 "The message could not be composed (link too long for one SMS)");
    } else if (send_text(app, job, c, text, &res, error) == JOB_RETRY) {
        return JOB_RETRY;
    }
    bool sent = res.outcome == CHANNEL_SENT;
    struct record_ctx r = {
        .job = job,
        .a = c->a,
        .status = {.status = sent ? LINK_PAYMENT_LINK_SENT : LINK_PAYMENT_LINK_SENT_FAILED,
                   .created_at = time_now(),
                   .http_code = res.http_code,
                   .response_code = res.code[0] ? res.code : NULL,
                   .response_desc = res.description[0] ? res.description : NULL},
        .end_link = !sent,
    };
    const struct channel_ops *ch = channel_for(&c->merchant);
    if (sent && ch) {
        r.next.kind = JOB_DELIVERY_RECEIPT;
        r.next.link_id = job->link_id;
        r.next.arg = res.message_id;
        r.next.run_at = time_now() + ch->receipt_delay;
        memcpy(r.next.merchant_id, job->merchant_id, sizeof r.next.merchant_id);
    }
    enum db_status rs = db_run(app->db, DB_WRITE, "record_send", record_cb, &r);
    if (rs < 0 && rs != DB_ROLLBACK) { /* DB_ROLLBACK: an earlier run recorded it */
        *error = "cannot record the send";
        return JOB_RETRY;
    }
    return JOB_DONE;
}

static enum job_result run_receipt(struct app *app, const struct db_job *job, struct load_ctx *c,
                                   const char **error)
{
    const struct channel_ops *ch = channel_for(&c->merchant);
    if (!ch)
        return JOB_DONE;
    struct channel_receipt rc;
    ch->receipt(app->db, job->merchant_id, job->arg, c->link.msisdn_to, &rc);
    if (rc.delivery == DELIVERY_PENDING) {
        *error = "no delivery receipt yet";
        return JOB_RETRY;
    }
    struct record_ctx r = {
        .job = job,
        .a = c->a,
        .status = {.status = rc.delivery == DELIVERY_DELIVERED ? LINK_PAYMENT_LINK_DELIVERED
                                                               : LINK_PAYMENT_LINK_DELIVERY_FAILED,
                   .created_at = time_now(),
                   .http_code = rc.http_code,
                   .response_code = rc.code[0] ? rc.code : NULL,
                   .response_desc = rc.description[0] ? rc.description : NULL},
    };
    enum db_status rs = db_run(app->db, DB_WRITE, "record_receipt", record_cb, &r);
    if (rs < 0 && rs != DB_ROLLBACK) { /* DB_ROLLBACK: an earlier run recorded it */
        *error = "cannot record the receipt";
        return JOB_RETRY;
    }
    return JOB_DONE;
}

static enum job_result run_send_cancel(struct app *app, const struct db_job *job,
                                       struct load_ctx *c, const char **error)
{
    char text[MESSAGE_MAX];
    struct message_link ml;
    fill_message(&ml, c, "");
    if (!ml.currency || message_cancelled(&ml, text, sizeof text) < 0) {
        log_error("link %lld: the cancellation message cannot be rendered", (long long)c->link.id);
        return JOB_DONE;
    }
    struct channel_result res;
    return send_text(app, job, c, text, &res, error);
}

enum job_result jobs_run(struct app *app, const struct db_job *job, const char **error)
{
    if (job->kind == JOB_PAYMENT_QUERY || job->kind == JOB_REVIEW_SETTLE ||
        job->kind == JOB_AUTO_REVERSE)
        return payment_jobs_run(app, job, error);
    struct load_ctx c = {.job = job, .a = arena_new(0)};
    enum job_result res = JOB_DONE;
    enum db_status st = db_run(app->db, DB_READ, "job_load", load_cb, &c);
    if (st < 0) {
        *error = "cannot read the link";
        res = JOB_RETRY;
    } else if (st == 0) {
        log_warn("job %lld: link %lld is gone", (long long)job->id, (long long)job->link_id);
    } else if (job->kind == JOB_SEND_LINK) {
        res = run_send_link(app, job, &c, error);
    } else if (job->kind == JOB_DELIVERY_RECEIPT) {
        res = run_receipt(app, job, &c, error);
    } else if (job->kind == JOB_SEND_CANCEL) {
        res = run_send_cancel(app, job, &c, error);
    } else {
        log_error("job %lld: unknown kind %d", (long long)job->id, job->kind);
    }
    arena_free(c.a);
    return res;
}

/* --- expiry ------------------------------------------------------------------------ */

struct expired {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
};

struct expire_list {
    struct expired *items;
    int n, cap;
};

static void collect_cb(void *cls, int64_t link_id, const char *merchant_id)
{
    struct expire_list *l = cls;
    if (l->n >= l->cap)
        return;
    l->items[l->n].id = link_id;
    snprintf(l->items[l->n].merchant_id, DB_UUID_LEN, "%s", merchant_id);
    l->n++;
}

struct expire_ctx {
    usec_t now;
    int limit;
    struct expire_list list;
    struct arena *a;
    int expired;
};

static enum db_status expire_cb(struct db_tx *tx, void *cls)
{
    struct expire_ctx *c = cls;
    c->list.n = 0;
    c->expired = 0;
    enum db_status st = DB_CALL(tx, links, list_expired, c->now, c->limit, collect_cb, &c->list);
    if (st < 0)
        return st;
    for (int i = 0; i < c->list.n; i++) {
        struct db_link l;
        st = DB_CALL(tx, links, get_by_id, c->list.items[i].merchant_id, c->list.items[i].id, c->a,
                     &l);
        if (st < 0)
            return st;
        if (st == 0 || !l.live || l.expires_at > c->now ||
            (l.payment_status != PAY_PENDING && l.payment_status != PAY_FAILED))
            continue;
        l.live = false;
        l.status = LINK_PAYMENT_URL_EXPIRED;
        st = DB_CALL(tx, links, update, &l);
        if (st < 0)
            return st;
        struct db_link_status s = {.status = LINK_PAYMENT_URL_EXPIRED, .created_at = c->now};
        st = DB_CALL(tx, links, status_append, l.merchant_id, l.id, &s);
        if (st < 0)
            return st;
        c->expired++;
    }
    return (enum db_status)c->list.n;
}

int jobs_expire_links(struct app *app, usec_t now, int limit)
{
    struct expire_ctx c = {.now = now, .limit = limit, .a = arena_new(0)};
    c.list.items = arena_calloc(c.a, (size_t)limit, sizeof *c.list.items);
    c.list.cap = limit;
    enum db_status st = db_run(app->db, DB_WRITE, "expire_links", expire_cb, &c);
    arena_free(c.a);
    if (st < 0)
        return -1;
    return c.list.n;
}
