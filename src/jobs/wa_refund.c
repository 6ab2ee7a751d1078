/*
 * wa_refund.c — job JOB_WA_REFUND: a WhatsApp Pay refund (arg: its id),
 * made with the payment gateway's refund operation — the same one as Chat 2
 * Pay's refunds — on the payment's successful transaction. Every WhatsApp
 * Pay configuration's payments are the sandbox gateway's in this version
 * (the sandbox page records them there): it accepts a refund, and declines
 * one whose amount ends in 13 (minor units). The call is made with no
 * transaction open and under the refund's own reference, so a run that is
 * repeated gets the same answer; the answer is recorded with the job's
 * completion (and the merchant's callback queued) in one transaction. No
 * answer: tried again; after the last try, the refund is failed.
 */
#include <string.h>

#include "app.h"
#include "db/whatsapp.h"
#include "gateway/registry.h"
#include "jobs/common.h"
#include "service/whatsapp.h"

struct refund_ctx {
    struct job_ctx *jc;
    struct db_wa_refund r;
    struct db_wa_order o;
    struct db_merchant m;
    char txn_ref[40];
    enum wa_status outcome;
};

static void txn_cb(void *cls, const struct db_wa_txn *t)
{
    struct refund_ctx *c = cls;
    if (t->id == c->r.transaction_id)
        memcpy(c->txn_ref, t->ref, sizeof c->txn_ref);
}

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct refund_ctx *c = cls;
    const char *mid = c->jc->job->merchant_id;
    enum db_status st = DB_CALL(tx, whatsapp, refund_get, mid, c->jc->job->arg, &c->r);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, whatsapp, order_get, mid, c->r.order_id, c->jc->a, &c->o);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, whatsapp, txn_list, mid, c->o.id, c->jc->a, txn_cb, c);
    if (st < 0)
        return st;
    return DB_CALL(tx, merchants, get, mid, &c->m);
}

static enum db_status settle_cb(struct db_tx *tx, void *cls)
{
    struct refund_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    enum db_status st = job_finish_in(tx, c->jc);
    if (st <= 0)
        return st;
    struct db_wa_refund r;
    st = DB_CALL(tx, whatsapp, refund_get, c->r.merchant_id, c->r.id, &r);
    if (st <= 0)
        return st;
    st = svc_wa_refund_settled(&s, &r, c->outcome);
    c->jc->queued |= s.queued;
    return st < 0 ? st : DB_ONE_RESULT;
}

/* The last try found no answer (the gateway cannot be used, or never
 * answered): the refund is failed, so that the merchant is told (callback)
 * and its amount can be refunded again, instead of pending for ever. */
enum db_status job_wa_refund_give_up(struct job_ctx *jc, struct db_tx *tx)
{
    struct svc s = job_svc(jc, tx);
    struct db_wa_refund r;
    enum db_status st = DB_CALL(tx, whatsapp, refund_get, jc->job->merchant_id, jc->job->arg, &r);
    if (st <= 0)
        return st;
    st = svc_wa_refund_settled(&s, &r, WA_FAILED);
    jc->queued |= s.queued;
    return st;
}

enum job_result job_wa_refund(struct job_ctx *jc)
{
    struct refund_ctx c = {.jc = jc};
    enum db_status st = db_run(jc->app->db, DB_READ, "wa_refund_load", load_cb, &c);
    if (st < 0) {
        jc->error = "cannot read the refund";
        return JOB_RETRY;
    }
    if (st == 0 || c.r.status != WA_PENDING)
        return JOB_DONE; /* gone, or settled by an earlier run */
    const char *why = NULL;
    const struct gateway *g = gateway_acquire_op(jc->app->gateways, &c.m, "", &why);
    if (!g) {
        jc->error = why ? arena_strdup(jc->a, why) : "the sandbox gateway cannot be used";
        return JOB_RETRY;
    }
    struct gw_target t = {
        .merchant_id = c.m.id,
        .ref = c.r.ref,
        .gateway_ref = "",
        .op = GW_OP_REFUND,
        .amount_minor = c.r.amount,
        .currency = c.o.currency,
        .parent_ref = c.txn_ref,
        .parent_gateway_ref = "",
        .parent_op = GW_OP_SALE,
    };
    struct gw_result res;
    memset(&res, 0, sizeof res);
    gateway_operate(g, &t, &res);
    gateway_release(jc->app->gateways, g);
    if (res.decision != GW_ACCEPT && res.decision != GW_DECLINE && res.decision != GW_ERROR) {
        jc->error = "the gateway did not answer the refund";
        return JOB_RETRY;
    }
    c.outcome = res.decision == GW_ACCEPT ? WA_SUCCESS : WA_FAILED;
    return job_recorded(jc, db_run(jc->app->db, DB_WRITE, "wa_refund_settle", settle_cb, &c));
}
