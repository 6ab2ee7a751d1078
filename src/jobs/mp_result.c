/*
 * mp_result.c — job JOB_MP_RESULT: one try of the delivery of a marketplace
 * purchase's result to the client's result URL (arg: the purchase's id).
 *
 * The body made when the purchase ended is POSTed as it is, with a
 * Signature header (base64 HMAC-SHA256 of the body under the client's
 * signature secret) for clients that use signatures. Delivered means any
 * 2xx within 15 seconds. A production client's URL must be https and may
 * not reach loopback, private or link-local addresses (the SSRF guard of
 * src/net). The try, the purchase's delivery state and the job's next run
 * (or its end) are recorded in one transaction.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "db/marketplace.h"
#include "jobs/common.h"
#include "net/net.h"
#include "service/purchases.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/secretbox.h"

#define RESULT_TIMEOUT_MS 15000
#define RESULT_CONNECT_MS 5000

struct result_ctx {
    struct job_ctx *jc;
    struct db_mp_purchase p;
    struct db_mp_client client;
    int attempts_seen;
    int http;
    bool delivered;
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct result_ctx *c = cls;
    enum db_status st = DB_CALL(tx, marketplace, purchase_get, c->jc->job->arg, c->jc->a, &c->p);
    if (st <= 0)
        return st;
    if (strcmp(c->p.client_uuid, c->jc->job->merchant_id) != 0)
        return DB_NO_RESULTS;
    return DB_CALL(tx, marketplace, client_get_by_uuid, c->p.client_uuid, c->jc->a, &c->client);
}

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct result_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    struct db_mp_purchase p;
    enum db_status st = DB_CALL(tx, marketplace, purchase_get, c->p.id, c->jc->a, &p);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    if (p.result_state != MP_RESULT_PENDING || p.result_attempts != c->attempts_seen)
        return DB_ROLLBACK; /* another run recorded this try */
    usec_t next_at;
    st = svc_mp_result_try(&s, &p, c->http, c->delivered, &next_at);
    if (st < 0)
        return st;
    st = next_at ? DB_CALL(tx, jobs, retry, c->jc->job, next_at, "result not delivered")
                 : DB_CALL(tx, jobs, complete, c->jc->job, s.now);
    return st < 0 ? st : DB_ONE_RESULT;
}

static enum db_status none_cb(struct db_tx *tx, void *cls)
{
    struct result_ctx *c = cls;
    struct db_mp_purchase p;
    enum db_status st = DB_CALL(tx, marketplace, purchase_get, c->p.id, c->jc->a, &p);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    if (p.result_state != MP_RESULT_PENDING)
        return DB_ROLLBACK;
    p.result_state = MP_RESULT_NONE;
    p.updated_at = time_now();
    return DB_CALL(tx, marketplace, purchase_result_try, &p);
}

/* base64(HMAC-SHA256(secret, body)) of the client's sealed secret; false
 * when it cannot be opened. */
static bool sign(struct job_ctx *jc, const struct db_mp_client *cl, const char *body, char *out,
                 size_t cap)
{
    uint8_t key[SECRETBOX_KEY_LEN], mac[32];
    size_t n = 0;
    if (!config_secrets_key(jc->app->cfg, key))
        return false;
    const char *secret = secretbox_open(key, cl->id, cl->signature_secret, jc->a, &n);
    if (!secret)
        return false;
    crypto_hmac_sha256(secret, n, body, strlen(body), mac);
    return crypto_base64(mac, sizeof mac, out, cap) > 0;
}

enum job_result job_mp_result(struct job_ctx *jc)
{
    struct result_ctx c = {.jc = jc};
    enum db_status st = db_run(jc->app->db, DB_READ, "mp_result_load", load_cb, &c);
    if (st < 0) {
        jc->error = "cannot read the purchase";
        return JOB_RETRY;
    }
    if (st == 0 || c.p.result_state != MP_RESULT_PENDING || !c.p.result_body)
        return JOB_DONE;
    if (!c.client.result_url) {
        /* the URL was removed while the result waited: nothing to deliver */
        st = db_run(jc->app->db, DB_WRITE, "mp_result_none", none_cb, &c);
        if (st < 0 && st != DB_ROLLBACK) {
            jc->error = "cannot record that the result has nowhere to go";
            return JOB_RETRY;
        }
        return JOB_DONE;
    }
    c.attempts_seen = c.p.result_attempts;
    bool production = c.client.environment == ENV_PRODUCTION;
    /* every result is signed, so that any client can tell a genuine one
     * (it carries tokens and PINs) from a forged one; one that cannot be
     * signed goes unsigned only to a client that does not sign its own
     * requests */
    char signature[64];
    bool is_signed = sign(jc, &c.client, c.p.result_body, signature, sizeof signature);
    const char *error = NULL;
    if (production && !net_url_is_https(c.client.result_url)) {
        error = "refused: a production client's result URL must be https";
    } else if (!is_signed && c.client.require_signature) {
        error = "the signature secret does not open with this server's secrets_key";
    } else {
        if (!is_signed)
            log_warn("result of purchase %s sent unsigned: the signature secret does not open "
                     "with this server's secrets_key",
                     c.p.raas_ref);
        struct net_header headers[] = {
            {"Content-Type", "application/json"},
            {"Signature", signature},
        };
        struct job_post post = {
            .what = "result",
            .url = c.client.result_url,
            .headers = headers,
            .nheaders = is_signed ? 2 : 1,
            .body = c.p.result_body,
            .connect_timeout_ms = RESULT_CONNECT_MS,
            .timeout_ms = RESULT_TIMEOUT_MS,
            .allow_private = !production,
        };
        struct job_post_answer answer;
        if (!job_post(jc, &post, &answer))
            return JOB_RETRY;
        c.http = answer.http;
        c.delivered = answer.delivered;
        error = answer.error;
    }
    st = db_run(jc->app->db, DB_WRITE, "mp_result_record", record_cb, &c);
    if (st < 0 && st != DB_ROLLBACK) {
        jc->error = "cannot record the result's try";
        return JOB_RETRY;
    }
    if (error && st > 0)
        log_fields(LOG_INFO, "transact result not delivered",
                   (struct log_field[]){LFS("raasTxnRef", c.p.raas_ref),
                                        LFI("try", c.attempts_seen + 1), LFI("http", c.http),
                                        LFS("error", error)},
                   4);
    jc->completed = true;
    return JOB_DONE;
}
