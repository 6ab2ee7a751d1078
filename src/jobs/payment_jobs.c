/*
 * payment_jobs.c — what the workers do for payments: ask the gateway about
 * operations left without an answer, settle REVIEW payments, reverse REVIEW
 * payments automatically, and repair operations left pending by a crash.
 *
 * As everywhere: read, call the gateway with no transaction open, record
 * the answer in a second transaction (api/payments.c). Asking twice is
 * harmless: a recorded operation is not recorded again.
 */
#include "jobs/worker.h"

#include <stdio.h>
#include <string.h>

#include "api/payments.h"
#include "app.h"
#include "core/status.h"
#include "util/arena.h"
#include "util/log.h"
#include "db/jobs.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"

/* How long an unanswered payment is asked about before it is left to the
 * repair sweep (µs), and how far back the sweep looks. */
#define QUERY_FOR     (10LL * 60 * 1000000)
#define REPAIR_AFTER  (5LL * 1000000)
#define REPAIR_WINDOW (24LL * 3600 * 1000000)

enum { OPS_MAX = 32 };

struct ops_ctx {
    const struct db_job *job;
    struct db_merchant merchant;
    struct db_payment_op ops[OPS_MAX];
    int n;
};

static void collect(void *cls, const struct db_payment_op *op)
{
    struct ops_ctx *c = cls;
    if (c->n < OPS_MAX)
        c->ops[c->n++] = *op;
}

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct ops_ctx *c = cls;
    c->n = 0;
    enum db_status st = DB_CALL(tx, merchants, get, c->job->merchant_id, &c->merchant);
    if (st <= 0)
        return st;
    return DB_CALL(tx, payments, list, c->job->merchant_id, c->job->link_id, collect, c);
}

struct record_ctx {
    const char *merchant_id;
    const char *ref;
    struct gw_result res;
    struct db_link link;
    struct db_payment_op op;
    struct arena *a;
};

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct record_ctx *c = cls;
    return payments_record(tx, c->a, c->merchant_id, c->ref, &c->res, time_now(), &c->link, &c->op);
}

/* Ask the gateway about one operation and record a final answer. Returns
 * false when the answer was not final yet (or could not be recorded). */
static bool ask_and_record(struct app *app, const struct gateway_ops *gw, const char *merchant_id,
                           const char *ref)
{
    struct record_ctx r = {.merchant_id = merchant_id, .ref = ref};
    gw->query(app->db, merchant_id, ref, &r.res);
    if (r.res.decision == GW_NO_ANSWER)
        return false;
    r.a = arena_new(0);
    enum db_status st = db_run(app->db, DB_WRITE, "payment_query_record", record_cb, &r);
    arena_free(r.a);
    return st >= 0;
}

struct reverse_ctx {
    struct db_payment_op op;
    const struct db_payment_op *parent;
    bool inserted;
};

static enum db_status reverse_begin_cb(struct db_tx *tx, void *cls)
{
    struct reverse_ctx *c = cls;
    enum db_status st = DB_CALL(tx, payments, insert, &c->op);
    c->inserted = st > 0;
    return st;
}

enum job_result payment_jobs_run(struct app *app, const struct db_job *job, const char **error)
{
    struct ops_ctx c = {.job = job};
    if (db_run(app->db, DB_READ, "payment_job_load", load_cb, &c) < 0) {
        *error = "cannot read the payment";
        return JOB_RETRY;
    }
    const struct gateway_ops *gw = payments_gateway(&c.merchant);
    if (!gw)
        return JOB_DONE;
    bool pending = false;
    for (int i = 0; i < c.n; i++) {
        const struct db_payment_op *op = &c.ops[i];
        bool payment = op->op == GW_OP_AUTHORIZE || op->op == GW_OP_SALE;
        if (!payment || op->id != job->arg)
            continue;
        if (job->kind == JOB_PAYMENT_QUERY && op->state == 0) {
            if (!ask_and_record(app, gw, job->merchant_id, op->ref) &&
                time_now() - op->created_at < QUERY_FOR)
                pending = true;
        } else if (job->kind == JOB_REVIEW_SETTLE && op->state == 1 && op->decision == GW_REVIEW) {
            pending = !ask_and_record(app, gw, job->merchant_id, op->ref);
        } else if (job->kind == JOB_AUTO_REVERSE && op->state == 1 &&
                   (op->decision == GW_REVIEW ||
                    ((op->flags & DB_OP_ORPHAN) && op->decision == GW_ACCEPT))) {
            /* a REVIEW payment the link asked to reverse, or a payment the
             * link could not take: returned under a reference derived from
             * the payment's, so that a repeated job returns it once */
            struct reverse_ctx r = {.parent = op};
            memcpy(r.op.merchant_id, op->merchant_id, sizeof r.op.merchant_id);
            r.op.link_id = op->link_id;
            snprintf(r.op.ref, sizeof r.op.ref, "rv_%.26s", op->ref + 3);
            snprintf(r.op.parent_ref, sizeof r.op.parent_ref, "%s", op->ref);
            r.op.op = payments_return_op(op);
            r.op.amount_minor = op->amount_minor;
            r.op.created_at = time_now();
            if (op->flags & DB_OP_ORPHAN)
                snprintf(r.op.note, sizeof r.op.note, "Returns %s, which the link could not take",
                         op->ref);
            if (db_run(app->db, DB_WRITE, "auto_reverse_begin", reverse_begin_cb, &r) < 0) {
                pending = true;
                continue;
            }
            struct record_ctx rec = {.merchant_id = job->merchant_id, .ref = r.op.ref};
            gw->operate(app->db, job->merchant_id, (enum gw_operation)r.op.op, r.op.ref, op->ref,
                        op->amount_minor, &rec.res);
            if (rec.res.decision == GW_NO_ANSWER) {
                pending = true;
                continue;
            }
            if (rec.res.decision != GW_ACCEPT)
                log_error("payment %s could not be returned at the gateway (%s); it needs a "
                          "refund there",
                          op->ref, rec.res.error_text);
            rec.a = arena_new(0);
            if (db_run(app->db, DB_WRITE, "auto_reverse_record", record_cb, &rec) < 0)
                pending = true;
            arena_free(rec.a);
        }
    }
    if (pending) {
        *error = "the gateway has not answered yet";
        return JOB_RETRY;
    }
    return JOB_DONE;
}

/* --- repair: operations left pending (crash between the call and the record) --- */

struct repair_ctx {
    struct db_payment_op ops[OPS_MAX];
    int n;
    usec_t now;
};

static void repair_collect(void *cls, const struct db_payment_op *op)
{
    struct repair_ctx *c = cls;
    if (c->n < OPS_MAX)
        c->ops[c->n++] = *op;
}

static enum db_status repair_list_cb(struct db_tx *tx, void *cls)
{
    struct repair_ctx *c = cls;
    c->n = 0;
    return DB_CALL(tx, payments, list_pending, c->now - REPAIR_WINDOW, c->now - REPAIR_AFTER,
                   OPS_MAX, repair_collect, c);
}

struct merchant_ctx {
    const char *id;
    struct db_merchant m;
};

static enum db_status merchant_cb(struct db_tx *tx, void *cls)
{
    struct merchant_ctx *c = cls;
    return DB_CALL(tx, merchants, get, c->id, &c->m);
}

struct abandon_ctx {
    const struct db_payment_op *op;
    struct arena *a;
    struct db_link link;
    struct db_payment_op out;
};

static enum db_status abandon_cb(struct db_tx *tx, void *cls)
{
    struct abandon_ctx *c = cls;
    return payments_close_abandoned(tx, c->a, c->op->merchant_id, c->op->ref, time_now(), &c->link,
                                    &c->out);
}

/* A checkout the customer never completed: closed at the gateway first, so
 * that no payment can follow, then here. A gateway that took the payment
 * meanwhile gives its answer, which is recorded instead. */
static bool abandon(struct app *app, const struct gateway_ops *gw, const struct db_payment_op *op)
{
    struct record_ctx r = {.merchant_id = op->merchant_id, .ref = op->ref};
    enum gw_cancel gc = gw->cancel(app->db, op->merchant_id, op->ref, &r.res);
    if (gc == GW_CANCEL_FAILED)
        return false;
    r.a = arena_new(0);
    enum db_status st;
    if (gc == GW_CANCEL_COMPLETED) {
        st = db_run(app->db, DB_WRITE, "payment_query_record", record_cb, &r);
    } else {
        struct abandon_ctx c = {.op = op, .a = r.a};
        st = db_run(app->db, DB_WRITE, "payment_abandon", abandon_cb, &c);
    }
    arena_free(r.a);
    if (st < 0)
        log_warn("payment operation %s: could not be closed", op->ref);
    return st >= 0;
}

/* Repeat a capture, reverse or void whose answer was lost, under the same
 * reference: the gateway does it at most once and answers again. */
static bool redo_and_record(struct app *app, const struct gateway_ops *gw,
                            const struct db_payment_op *op)
{
    struct record_ctx r = {.merchant_id = op->merchant_id, .ref = op->ref};
    gw->operate(app->db, op->merchant_id, (enum gw_operation)op->op, op->ref, op->parent_ref,
                op->amount_minor, &r.res);
    if (r.res.decision == GW_NO_ANSWER)
        return false;
    r.a = arena_new(0);
    enum db_status st = db_run(app->db, DB_WRITE, "payment_redo_record", record_cb, &r);
    arena_free(r.a);
    return st >= 0;
}

int jobs_repair_payments(struct app *app, usec_t now)
{
    struct repair_ctx c = {.now = now};
    if (db_run(app->db, DB_READ, "repair_list", repair_list_cb, &c) < 0)
        return -1;
    int done = 0;
    for (int i = 0; i < c.n; i++) {
        struct db_payment_op *op = &c.ops[i];
        struct merchant_ctx m = {.id = op->merchant_id};
        if (db_run(app->db, DB_READ, "repair_merchant", merchant_cb, &m) <= 0)
            continue;
        const struct gateway_ops *gw = payments_gateway(&m.m);
        if (!gw)
            continue;
        bool payment = op->op == GW_OP_AUTHORIZE || op->op == GW_OP_SALE;
        if (!payment) {
            done += redo_and_record(app, gw, op);
            continue;
        }
        if (ask_and_record(app, gw, op->merchant_id, op->ref)) {
            done++;
            continue;
        }
        /* still no answer: a checkout open longer than the payment page can
         * live, plus a grace, was abandoned */
        if (now - op->created_at > (m.m.page_ttl_s + PAYMENTS_CHECKOUT_GRACE_S) * 1000000)
            done += abandon(app, gw, op);
    }
    return done;
}
