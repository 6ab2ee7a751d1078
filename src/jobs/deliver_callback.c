/*
 * deliver_callback.c — job JOB_DELIVER_CALLBACK: one try of a merchant
 * callback delivery (arg: the delivery's id; see service/callbacks.h).
 *
 * The body stored with the delivery is POSTed to its recipient's URL as it
 * is now (svc_cb_destination: not the one of when the event happened), or,
 * when the recipient has none any more, the delivery is given up with the
 * reason as its try. The POST has the Standard Webhooks headers:
 * webhook-id (the delivery's, the same on every try), webhook-timestamp
 * (now) and webhook-signature (one "v1," entry per secret of the
 * merchant's that signs, whoever the recipient: two for 24 hours after a
 * rotation). Delivered means HTTP 200 within 15 seconds. A production
 * merchant's URL must be https and may not reach loopback, private or
 * link-local addresses (the SSRF guard of src/net, checked again now,
 * whatever it was when the URL was set).
 *
 * The try, the delivery's new state and the job's next run (or its end) are
 * recorded in one transaction. A try cut short because the process stops
 * is not a try: the job runs again at once after the restart, under the
 * same webhook-id.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "db/callbacks.h"
#include "db/merchants.h"
#include "jobs/common.h"
#include "net/net.h"
#include "service/callbacks.h"
#include "util/log.h"
#include "util/webhook.h"

#define CALLBACK_TIMEOUT_MS 15000
#define CALLBACK_CONNECT_MS 5000

struct load_ctx {
    struct job_ctx *jc;
    struct db_callback cb;
    struct db_callback_config config; /* the merchant's: its secret signs, whoever the recipient */
    enum db_environment env;
    const char *url;  /* where this try goes; NULL: nowhere, */
    const char *none; /* and why */
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct load_ctx *c = cls;
    enum db_status st = DB_CALL(tx, callbacks, get, c->jc->job->arg, c->jc->a, &c->cb);
    if (st <= 0)
        return st;
    struct db_merchant m;
    st = DB_CALL(tx, merchants, get, c->cb.merchant_id, &m);
    if (st <= 0)
        return st;
    c->env = m.environment;
    st = DB_CALL(tx, callbacks, config_get, c->cb.merchant_id, c->jc->a, &c->config);
    if (st <= 0 || c->cb.state != CB_PENDING)
        return st;
    struct svc s = job_svc(c->jc, tx);
    return svc_cb_destination(&s, &c->cb, &c->url, &c->none);
}

/* A merchant whose URL was set before it had a secret: make one now. */
static enum db_status secret_cb(struct db_tx *tx, void *cls)
{
    struct load_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    char secret[WEBHOOK_SECRET_LEN];
    enum db_status st = svc_cb_secret(&s, c->cb.merchant_id, secret);
    if (st > 0)
        snprintf(c->config.secret, sizeof c->config.secret, "%s", secret);
    return st;
}

struct record_ctx {
    struct job_ctx *jc;
    int64_t id;
    int attempts_seen; /* the delivery's tries when it was read */
    struct db_callback_attempt attempt;
    bool delivered;
    bool last;     /* there is nowhere to send it: given up */
    bool recorded; /* this try was recorded (not: another run's was, or none is pending) */
};

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct record_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    struct db_callback cb;
    enum db_status st = DB_CALL(tx, callbacks, get, c->id, c->jc->a, &cb);
    if (st < 0)
        return st;
    if (st == 0 || cb.state != CB_PENDING || cb.attempts != c->attempts_seen) {
        /* another run of this job recorded this try already (this run's
         * lease ran out), or the callback is gone or settled: nothing is
         * recorded, and the job follows the callback's own schedule, not
         * the kind's backoff. When this run lost its claim, the run that
         * holds it decides (DB_ROLLBACK: done here). */
        st = st > 0 && cb.state == CB_PENDING
                 ? DB_CALL(tx, jobs, retry, c->jc->job, cb.next_at, "another run made this try")
                 : DB_CALL(tx, jobs, complete, c->jc->job, s.now);
        return st < 0 ? st : st == 0 ? DB_ROLLBACK : DB_ONE_RESULT;
    }
    c->recorded = true;
    usec_t next_at;
    st = svc_cb_attempt(&s, &cb, &c->attempt, c->delivered, c->last, &next_at);
    if (st < 0)
        return st;
    st = next_at ? DB_CALL(tx, jobs, retry, c->jc->job, next_at,
                           c->attempt.error ? c->attempt.error : "not delivered")
                 : DB_CALL(tx, jobs, complete, c->jc->job, s.now);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* "v1,<a>" or "v1,<a> v1,<b>" while the old secret still signs. */
static bool sign(const struct db_callback_config *cfg, const struct db_callback *cb, int64_t ts,
                 usec_t now, char *out, size_t cap)
{
    char sig[WEBHOOK_SIG_LEN], old[WEBHOOK_SIG_LEN];
    size_t len = strlen(cb->body);
    if (!webhook_sign(cfg->secret, cb->webhook_id, ts, cb->body, len, sig))
        return false;
    if (cfg->old_secret[0] && cfg->old_until > now &&
        webhook_sign(cfg->old_secret, cb->webhook_id, ts, cb->body, len, old))
        snprintf(out, cap, "%s %s", sig, old);
    else
        snprintf(out, cap, "%s", sig);
    return true;
}

enum job_result job_deliver_callback(struct job_ctx *jc)
{
    struct load_ctx c = {.jc = jc};
    enum db_status st = db_run(jc->app->db, DB_READ, "callback_load", load_cb, &c);
    if (st < 0) {
        jc->error = "cannot read the callback";
        return JOB_RETRY;
    }
    if (st == 0 || c.cb.state != CB_PENDING)
        return JOB_DONE; /* gone, or recorded by an earlier run */
    if (c.url && !webhook_secret_valid(c.config.secret) &&
        db_run(jc->app->db, DB_WRITE, "callback_secret", secret_cb, &c) <= 0) {
        jc->error = "cannot make the signing secret";
        return JOB_RETRY;
    }

    bool production = c.env == ENV_PRODUCTION;
    usec_t now = time_now();
    struct record_ctx r = {.jc = jc, .id = c.cb.id, .attempts_seen = c.cb.attempts};
    r.attempt.at = now;
    r.attempt.url = c.url;
    char signature[2 * WEBHOOK_SIG_LEN + 1], ts[24];
    if (!c.url) {
        r.attempt.error = c.none;
        r.last = true;
    } else if (production && !net_url_is_https(c.url)) {
        r.attempt.error = "refused: a production merchant's callback URL must be https";
    } else if (!sign(&c.config, &c.cb, now / 1000000, now, signature, sizeof signature)) {
        r.attempt.error = "the signing secret is not valid";
    } else {
        snprintf(ts, sizeof ts, "%lld", (long long)(now / 1000000));
        const struct net_header headers[] = {
            {"Content-Type", "application/json"},
            {"webhook-id", c.cb.webhook_id},
            {"webhook-timestamp", ts},
            {"webhook-signature", signature},
        };
        struct job_post post = {
            .what = "callback",
            .url = c.url,
            .headers = headers,
            .nheaders = sizeof headers / sizeof headers[0],
            .body = c.cb.body,
            .connect_timeout_ms = CALLBACK_CONNECT_MS,
            .timeout_ms = CALLBACK_TIMEOUT_MS,
            .allow_private = !production,
            .only_200 = true,
        };
        struct job_post_answer answer;
        if (!job_post(jc, &post, &answer))
            return JOB_RETRY;
        r.attempt.http_status = answer.http;
        r.attempt.latency_ms = answer.latency_ms;
        r.delivered = answer.delivered;
        r.attempt.error = answer.error;
    }
    st = db_run(jc->app->db, DB_WRITE, "callback_record", record_cb, &r);
    if (st < 0 && st != DB_ROLLBACK) {
        jc->error = "cannot record the callback's try";
        return JOB_RETRY;
    }
    /* DB_ROLLBACK: another run holds the job now and owns its schedule */
    if (!r.delivered && st > 0 && r.recorded)
        log_fields(LOG_INFO, "callback not delivered",
                   (struct log_field[]){LFS("callback", c.cb.ref), LFI("try", c.cb.attempts + 1),
                                        LFI("http", r.attempt.http_status),
                                        LFS("error", r.attempt.error)},
                   4);
    jc->completed = true;
    return JOB_DONE;
}
