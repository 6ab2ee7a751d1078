/*
 * gateway.c — POST /hooks/{providerId}/{token}: what a payment gateway
 * posts (Stripe's webhooks, CyberSource's merchant POST).
 *
 * The gateway checks the signature and reads which of our operations a
 * notice is about (gateway_ops.inbound); a notice handled before (its id)
 * is dropped. chatpay then asks the gateway itself about that operation,
 * with no transaction open, and records the answer with the notice's id in
 * one transaction; only then is the gateway answered 200. A notice whose
 * operation the gateway could not be asked about is answered 503, so that
 * the gateway sends it again; one about nothing of ours is answered 200.
 * A gateway that wants a quick answer (answer_first: CyberSource) has a
 * notice of a payment still unanswered queued instead: the gateway's id of
 * it is kept, a paid hint claims it, a payment query job asks the gateway
 * at once, and the notice is answered 200 without waiting for the gateway.
 */
#include "api/api.h"
#include "api/hooks/hooks.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "db/providers.h"
#include "gateway/registry.h"
#include "service/payments.h"
#include "util/log.h"

struct notice_ctx {
    struct req *r;
    const struct gw_notice *n;
    bool seen;
    struct db_payment_op op;
    struct gw_target t;
    struct gw_result res;
    unsigned queued;
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct notice_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    if (c->n->event_id[0]) {
        enum db_status st = DB_CALL(tx, providers, notice_seen, c->r->auth.key_id, c->n->event_id);
        if (st < 0)
            return st;
        c->seen = st > 0;
        if (c->seen)
            return DB_ONE_RESULT;
    }
    enum db_status st = DB_CALL(tx, payments, get, c->r->auth.merchant_id, c->n->ref, &c->op);
    if (st <= 0)
        return st;
    return svc_gw_target(&s, &c->op, true, &c->t);
}

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct notice_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    struct db_link l;
    struct db_payment_op op;
    enum db_status st = DB_ONE_RESULT;
    if (c->res.decision != GW_NO_ANSWER)
        st = svc_payment_record(&s, c->r->auth.merchant_id, c->n->ref, &c->res, &l, &op);
    else if (c->res.gateway_ref[0] && strcmp(c->res.gateway_ref, c->op.gateway_ref) != 0)
        /* not final (the customer is still at the checkout, a refund is
         * pending): nothing to record but the gateway's id of it */
        st = svc_payment_gateway_ref(&s, c->r->auth.merchant_id, c->n->ref, c->res.gateway_ref);
    if (st >= 0 && c->res.decision == GW_NO_ANSWER && svc_hint_paid(c->t.hint))
        st = svc_payment_claimed(&s, c->r->auth.merchant_id, c->n->ref);
    c->queued |= s.queued;
    if (st < 0)
        return st;
    if (c->n->event_id[0]) {
        st = DB_CALL(tx, providers, notice_add, c->r->auth.key_id, c->n->event_id, s.now);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

/* Queue the notice of a payment still unanswered: what it says is kept, and
 * the payment query job asks the gateway. */
static enum db_status queue_cb(struct db_tx *tx, void *cls)
{
    struct notice_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    const char *mid = c->r->auth.merchant_id;
    struct db_payment_op op;
    enum db_status st = DB_CALL(tx, payments, get, mid, c->n->ref, &op);
    if (st <= 0)
        return st;
    /* the gateway's id the notice names, when the operation has none yet
     * (the job's answer is checked against our reference) */
    if (c->n->gateway_ref[0] && !op.gateway_ref[0])
        st = svc_payment_gateway_ref(&s, mid, op.ref, c->n->gateway_ref);
    if (st >= 0 && svc_hint_paid(c->t.hint))
        st = svc_payment_claimed(&s, mid, op.ref);
    struct db_link l;
    if (st >= 0)
        st = DB_CALL(tx, links, get_by_id, mid, op.link_id, s.a, &l);
    if (st == 0)
        return DB_HARD_ERROR;
    if (st > 0)
        st = svc_enqueue(&s, &l, JOB_PAYMENT_QUERY, op.id, s.now);
    if (st >= 0 && c->n->event_id[0])
        st = DB_CALL(tx, providers, notice_add, c->r->auth.key_id, c->n->event_id, s.now);
    c->queued |= s.queued;
    return st < 0 ? st : DB_ONE_RESULT;
}

/* One notice: true when it is handled (or not ours), false when the gateway
 * must send it again. */
static bool handle(struct req *r, const struct gateway *gw, const struct gw_notice *n,
                   unsigned *queued)
{
    struct notice_ctx c = {.r = r, .n = n};
    enum db_status st =
        n->ref[0] ? db_run(r->app->db, DB_READ, "gateway_notice_load", load_cb, &c) : 0;
    if (st < 0)
        return false;
    if (st == 0 || c.seen || strcmp(c.op.gateway_id, r->auth.key_id) != 0)
        return true; /* not about an operation of ours (through this gateway), or handled */
    if (n->has_amount &&
        (n->amount_minor != c.op.amount_minor || strcmp(n->currency, c.t.currency) != 0)) {
        log_warn("notice of gateway %s about %s: amount or currency not the operation's; "
                 "ignored",
                 r->auth.key_id, n->ref);
        return true;
    }
    c.t.hint = n->decision[0] ? n->decision : NULL;
    /* the gateway's id the notice names (a payment made again under a
     * reference that had failed has a new one); the gateway's answer is
     * checked against our reference */
    if (n->gateway_ref[0])
        c.t.gateway_ref = n->gateway_ref;
    bool payment = c.op.op == GW_OP_AUTHORIZE || c.op.op == GW_OP_SALE;
    if (payment && c.op.state == 0 && gw->ops->answer_first) {
        st = db_run(r->app->db, DB_WRITE, "gateway_notice_queue", queue_cb, &c);
        *queued |= c.queued;
        return st >= 0;
    }
    if (payment)
        gateway_result(gw, &c.t, &c.res);
    else
        gateway_query(gw, &c.t, &c.res);
    if (c.res.unreachable)
        return false;
    /* (only an id the gateway's answer confirmed is kept: res.gateway_ref) */
    st = db_run(r->app->db, DB_WRITE, "gateway_notice_record", record_cb, &c);
    *queued |= c.queued;
    return st >= 0;
}

void api_gateway_hook(struct req *r)
{
    const char *why = NULL;
    const struct gateway *gw = gateway_acquire_provider(r->app->gateways, r->auth.key_id, &why);
    if (!gw || !gw->ops->inbound) {
        gateway_release(r->app->gateways, gw);
        reply_error(
            r, gw ? ERR_NOT_FOUND : ERR_UNAVAILABLE,
            gw ? "This gateway posts nothing here"
               : arena_printf(r->arena, "The gateway cannot be used: %s", why ? why : "unknown"));
        return;
    }
    struct provider_inbound in =
        api_inbound_request(r, req_param(r, "rest") ? req_param(r, "rest") : "");
    struct gw_notice *notices = NULL;
    size_t n = 0;
    enum gw_inbound_verdict v = gw->ops->inbound(gw, &in, r->arena, &notices, &n);
    bool ok = true;
    unsigned queued = 0;
    if (v == GW_IN_NOTICES)
        for (size_t i = 0; i < n && ok; i++)
            ok = handle(r, gw, &notices[i], &queued);
    gateway_release(r->app->gateways, gw);
    app_wake_workers(r->app, queued);
    switch (v) {
    case GW_IN_FORBIDDEN:
        log_warn("notice of gateway %s: signature refused", r->auth.key_id);
        reply_error(r, ERR_FORBIDDEN, "The request's signature does not verify");
        return;
    case GW_IN_MALFORMED:
        reply_error(r, ERR_BAD_REQUEST, "The request is not one this gateway sends");
        return;
    case GW_IN_NOTICES:
        break;
    }
    if (!ok) {
        reply_error(r, ERR_UNAVAILABLE, "The notice could not be confirmed now; send it again");
        return;
    }
    reply_text(r, 200, "text/plain", "ok", 2);
}
