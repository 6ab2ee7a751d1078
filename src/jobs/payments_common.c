/*
 * payments_common.c — the payment operation of a payment job (see
 * payments_common.h).
 */
#include "jobs/payments_common.h"

#include <string.h>

#include "app.h"
#include "gateway/registry.h"

struct load_ctx {
    const struct db_job *job;
    struct db_payment_op *op;
    struct db_merchant *m;
};

static void find_op(void *cls, const struct db_payment_op *op)
{
    struct load_ctx *c = cls;
    if (op->id == c->job->arg)
        *c->op = *op;
}

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct load_ctx *c = cls;
    memset(c->op, 0, sizeof *c->op);
    enum db_status st = DB_CALL(tx, merchants, get, c->job->merchant_id, c->m);
    if (st <= 0)
        return st;
    return DB_CALL(tx, payments, list, c->job->merchant_id, c->job->link_id, find_op, c);
}

enum job_result job_load_payment(struct job_ctx *jc, struct db_payment_op *op,
                                 struct db_merchant *m, const struct gateway **gw)
{
    struct load_ctx c = {.job = jc->job, .op = op, .m = m};
    enum db_status st = db_run(jc->app->db, DB_READ, "payment_job_load", load_cb, &c);
    if (st < 0) {
        jc->error = "cannot read the payment";
        return JOB_RETRY;
    }
    *gw = NULL;
    if (st > 0 && op->ref[0] && (op->gateway_id[0] || m->environment == ENV_SANDBOX)) {
        *gw = gateway_acquire_op(jc->app->gateways, m, op->gateway_id, NULL);
        if (!*gw) {
            jc->error = "the merchant's payment gateway cannot be used now";
            return JOB_RETRY;
        }
    }
    if (!*gw)
        memset(op, 0, sizeof *op);
    return JOB_DONE;
}

void job_release_gateway(struct job_ctx *jc, const struct gateway *gw)
{
    gateway_release(jc->app->gateways, gw);
}
