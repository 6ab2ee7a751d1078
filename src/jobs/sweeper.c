/*
 * sweeper.c — what the sweeper thread does, besides jobs: expire links whose
 * time is up, repair payment operations left pending (a crash between a
 * gateway call and its record, a checkout nobody completed), and drop old
 * records (a bounded number per pass, in short transactions).
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "db/callbacks.h"
#include "db/idempotency.h"
#include "db/jobs.h"
#include "db/marketplace.h"
#include "db/providers.h"
#include "db/sandbox.h"
#include "gateway/registry.h"
#include "jobs/common.h"
#include "service/links.h"
#include "service/payments.h"
#include "util/log.h"

/* The repair schedule of a pending operation (µs; docs/operations.md). It is
 * first asked about REPAIR_AFTER after it was stored (through a configured
 * gateway: REPAIR_MARGIN after its call's timeout, when the call is surely
 * over), then again after as long as it has been pending, at least
 * REPAIR_MIN and at most REPAIR_CAP: at 15 s, 30 s, 1 min, 2 min … then
 * hourly, for as long as it stays pending (still pending after REPAIR_WINDOW:
 * an error in the log each time). A checkout is asked about again as soon as
 * it counts as abandoned. */
#define REPAIR_AFTER  (5LL * 1000000)
#define REPAIR_MARGIN (5LL * 1000000)
#define REPAIR_MIN    (15LL * 1000000)
#define REPAIR_CAP    (3600LL * 1000000)
#define REPAIR_WINDOW (24LL * 3600 * 1000000)
/* A pass starts no other operation after this long: the sweeper thread
 * expires links and purges too (the rest come first at the next pass). */
#define REPAIR_BUDGET    (2LL * 1000000)
#define IDEMPOTENCY_KEEP (24LL * 3600 * 1000000)      /* idempotency records are kept */
#define JOBS_KEEP        (7LL * 24 * 3600 * 1000000)  /* finished jobs and sandbox messages */
#define CALLBACKS_KEEP   (30LL * 24 * 3600 * 1000000) /* delivered or given-up callbacks */
#define NOTICES_KEEP                                                                               \
    (7LL * 24 * 3600 * 1000000) /* gateways' notices handled (their retries                        \
                                   end within days) */

enum { REPAIR_MAX = 64 };

/* the sweep's next time holds an operation it asks about while its call
 * runs: no request or job repeats it meanwhile */
_Static_assert(REPAIR_MIN >= SVC_REPAIR_HOLD, "a repair's call ends before its next time");

/* ---- expiry ----------------------------------------------------------------------------- */

struct expire_ctx {
    struct app *app;
    struct arena *a;
    int limit, listed, expired;
    unsigned queued;
};

static enum db_status expire_cb(struct db_tx *tx, void *cls)
{
    struct expire_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->a, .now = time_now(), .cfg = c->app->cfg};
    enum db_status st = svc_links_expire_due(&s, c->limit, &c->listed, &c->expired);
    c->queued = s.queued;
    return st;
}

int jobs_expire_links(struct app *app, int limit)
{
    struct expire_ctx c = {.app = app, .a = arena_new(0), .limit = limit};
    enum db_status st = db_run(app->db, DB_WRITE, "expire_links", expire_cb, &c);
    arena_free(c.a);
    if (st >= 0)
        app_wake_workers(app, c.queued);
    return st < 0 ? -1 : c.listed;
}

/* ---- repair ----------------------------------------------------------------------------- */

struct pending {
    struct db_payment_op ops[REPAIR_MAX];
    int n;
    usec_t now;
};

static void collect(void *cls, const struct db_payment_op *op)
{
    struct pending *p = cls;
    if (p->n < REPAIR_MAX)
        p->ops[p->n++] = *op;
}

static enum db_status list_cb(struct db_tx *tx, void *cls)
{
    struct pending *p = cls;
    p->n = 0;
    return DB_CALL(tx, payments, list_pending, p->now, p->now - REPAIR_AFTER, REPAIR_MAX, collect,
                   p);
}

struct schedule_ctx {
    const struct db_payment_op *op;
    usec_t now, at;
};

/* The operation's next time stored: the sweep's claim on it (another repair,
 * a request repeating it, may hold it now) */
static enum db_status schedule_cb(struct db_tx *tx, void *cls)
{
    const struct schedule_ctx *c = cls;
    struct svc s = {.tx = tx, .now = c->now};
    return svc_payment_claim_repair(&s, c->op, c->at);
}

/* When the sweep asks about op next, given that it is looked at now (gw
 * and m: its gateway and merchant, gw NULL when there is none); *ask: may
 * it be asked about now. */
static usec_t next_repair(const struct gateway *gw, const struct db_merchant *m,
                          const struct db_payment_op *op, usec_t now, bool *ask)
{
    usec_t age = now - op->created_at;
    /* a real gateway's call may still be under way (it may take the whole
     * timeout): not before it is surely over */
    if (gw && gw->merchant_id && age < gw->timeout + REPAIR_MARGIN) {
        *ask = false;
        return op->created_at + gw->timeout + REPAIR_MARGIN;
    }
    *ask = gw != NULL;
    usec_t wait = age < REPAIR_MIN ? REPAIR_MIN : age > REPAIR_CAP ? REPAIR_CAP : age;
    if (gw && (op->op == GW_OP_AUTHORIZE || op->op == GW_OP_SALE)) {
        usec_t abandoned =
            op->created_at + (usec_t)(m->page_ttl_s + SVC_CHECKOUT_GRACE_S) * 1000000 + 1;
        if (abandoned > now && abandoned < now + wait)
            wait = abandoned - now;
    }
    return now + wait;
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
    struct job_ctx *jc;
    const struct db_payment_op *op;
};

static enum db_status abandon_cb(struct db_tx *tx, void *cls)
{
    struct abandon_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    struct db_link l;
    struct db_payment_op out;
    enum db_status st = svc_payment_close_abandoned(&s, c->op->merchant_id, c->op->ref, &l, &out);
    c->jc->queued |= s.queued;
    return st;
}

/* A checkout the customer never completed: closed at the gateway first, so
 * that no payment can follow, then here. A gateway that took the payment
 * meanwhile gives its answer, which is recorded instead. */
static bool abandon(struct job_ctx *jc, const struct gateway *gw, const struct db_payment_op *op,
                    const struct gw_target *t)
{
    struct gw_result res;
    enum gw_cancel gc = gateway_cancel(gw, t, &res);
    if (gc == GW_CANCEL_FAILED)
        return false;
    if (gc == GW_CANCEL_COMPLETED)
        return job_record_answer(jc, op->merchant_id, op->ref, &res);
    struct abandon_ctx c = {.jc = jc, .op = op};
    bool ok = db_run(jc->app->db, DB_WRITE, "payment_abandon", abandon_cb, &c) >= 0;
    if (!ok)
        log_warn("payment operation %s: could not be closed", op->ref);
    return ok;
}

/* One pending operation: a follow-up (capture, reverse, void, refund) whose
 * answer was lost is done again under the same reference (the gateway does
 * it at most once, or finds out first); a payment is asked about, and a
 * checkout open longer than the payment page can live, plus a grace, was
 * abandoned. */
static bool repair(struct job_ctx *jc, const struct gateway *gw, const struct db_merchant *m,
                   const struct db_payment_op *op, usec_t now)
{
    bool payment = op->op == GW_OP_AUTHORIZE || op->op == GW_OP_SALE;
    struct gw_result res;
    if (!payment)
        return job_operate_and_record(jc, gw, op, true, &res);
    if (job_ask_and_record(jc, gw, op, &res))
        return true;
    if (now - op->created_at <= (m->page_ttl_s + SVC_CHECKOUT_GRACE_S) * 1000000)
        return false;
    if (op->flags & DB_OP_CLAIMED) {
        /* a signed notice said it was paid: asked about, never closed */
        log_warn("payment operation %s: the gateway's notice says it was paid, its answer does "
                 "not show it yet",
                 op->ref);
        return false;
    }
    struct gw_target t;
    return job_target(jc, op, true, &t) && abandon(jc, gw, op, &t);
}

/* One operation whose repair time is due: its next time is stored first,
 * so that one which cannot be asked about, or whose call hangs, does not
 * come back at every pass; then it is asked about. Whether it was resolved. */
static bool repair_due(struct app *app, struct job_ctx *jc, const struct db_payment_op *op,
                       usec_t now)
{
    struct merchant_ctx m = {.id = op->merchant_id};
    const struct gateway *gw = NULL;
    if (db_run(app->db, DB_READ, "repair_merchant", merchant_cb, &m) > 0)
        gw = gateway_acquire_op(app->gateways, &m.m, op->gateway_id, NULL);
    bool ask;
    struct schedule_ctx sc = {.op = op, .now = now, .at = next_repair(gw, &m.m, op, now, &ask)};
    /* 0: it is not pending any more, or another repair holds it */
    bool pending = db_run(app->db, DB_WRITE, "repair_schedule", schedule_cb, &sc) > 0;
    bool done = pending && ask && repair(jc, gw, &m.m, op, now);
    if (gw)
        gateway_release(app->gateways, gw);
    if (pending && !done && now - op->created_at > REPAIR_WINDOW)
        log_error("payment operation %s of merchant %s: pending for %lld hours, the gateway has "
                  "given no outcome (asked again hourly)",
                  op->ref, op->merchant_id, (long long)((now - op->created_at) / 3600000000LL));
    return done;
}

int jobs_repair_payments(struct app *app, usec_t now)
{
    struct pending p = {.now = now};
    if (db_run(app->db, DB_READ, "repair_list", list_cb, &p) < 0)
        return -1;
    struct job_ctx jc = {.app = app, .a = arena_new(0)};
    usec_t start = time_mono();
    int done = 0;
    /* within the budget, and while this process still holds the periodic
     * work (a repair can take a gateway's timeout; the lock may have gone
     * to another process meanwhile) */
    for (int i = 0;
         i < p.n && (i == 0 || time_mono() - start < REPAIR_BUDGET) && db_leader(app->db); i++)
        done += repair_due(app, &jc, &p.ops[i], time_now());
    arena_free(jc.a);
    app_wake_workers(app, jc.queued);
    return done;
}

/* ---- purge ------------------------------------------------------------------------------ */

/* A purge statement drops at most JOBS_PURGE_BATCH rows, found through an index
 * of the table's age column, in a write transaction of its own: whatever a
 * table's size, the write lock (SQLite) is held for one short statement,
 * far from the statement timeout (PostgreSQL). A pass takes the tables in
 * turn, a batch of each while full batches come back: every table's first
 * batch, then more of them for as long as PURGE_BUDGET lasts, at most
 * PURGE_BATCHES of a table; what is left waits for the next pass. */
enum { PURGE_BATCHES = 40 };
#define PURGE_BUDGET (3LL * 1000000)

enum purge_table {
    PURGE_IDEMPOTENCY,
    PURGE_JOBS,
    PURGE_SANDBOX_MESSAGES,
    PURGE_MP_TOKENS,
    PURGE_GATEWAY_NOTICES,
    PURGE_CALLBACKS,
    PURGE_TABLES
};

static const struct {
    const char *name; /* the transaction's name, for logs */
    usec_t keep;      /* how long rows are kept past their age column's time */
} purge_tables[PURGE_TABLES] = {
    [PURGE_IDEMPOTENCY] = {"purge_idempotency", IDEMPOTENCY_KEEP},
    [PURGE_JOBS] = {"purge_jobs", JOBS_KEEP},
    [PURGE_SANDBOX_MESSAGES] = {"purge_sandbox_messages", JOBS_KEEP},
    [PURGE_MP_TOKENS] = {"purge_mp_tokens", 0}, /* once expired */
    [PURGE_GATEWAY_NOTICES] = {"purge_gateway_notices", NOTICES_KEEP},
    [PURGE_CALLBACKS] = {"purge_callbacks", CALLBACKS_KEEP},
};

struct purge_ctx {
    enum purge_table table;
    usec_t before;
};

/* One batch of one table: how many rows it dropped */
static enum db_status purge_cb(struct db_tx *tx, void *cls)
{
    const struct purge_ctx *c = cls;
    switch (c->table) {
    case PURGE_IDEMPOTENCY:
        return DB_CALL(tx, idempotency, purge, c->before, JOBS_PURGE_BATCH);
    case PURGE_JOBS:
        return DB_CALL(tx, jobs, purge, c->before, JOBS_PURGE_BATCH);
    case PURGE_SANDBOX_MESSAGES:
        return DB_CALL(tx, messages, purge, c->before, JOBS_PURGE_BATCH);
    case PURGE_MP_TOKENS:
        return DB_CALL(tx, marketplace, token_purge, c->before, JOBS_PURGE_BATCH);
    case PURGE_GATEWAY_NOTICES:
        return DB_CALL(tx, providers, notice_purge, c->before, JOBS_PURGE_BATCH);
    case PURGE_CALLBACKS:
        return DB_CALL(tx, callbacks, purge, c->before, JOBS_PURGE_BATCH);
    case PURGE_TABLES:
        break;
    }
    return DB_HARD_ERROR;
}

bool jobs_purge(struct app *app, usec_t now)
{
    bool more[PURGE_TABLES], ok = true;
    long long dropped[PURGE_TABLES] = {0};
    for (int i = 0; i < PURGE_TABLES; i++)
        more[i] = true;
    usec_t start = time_mono();
    bool left = true; /* a table gave a full batch last */
    for (int round = 0; round < PURGE_BATCHES && left; round++) {
        left = false;
        for (int i = 0; i < PURGE_TABLES; i++) {
            if (!more[i])
                continue;
            /* every table has its first batch; then the budget, and the
             * periodic work must still be this process's */
            if ((round > 0 && time_mono() - start >= PURGE_BUDGET) || !db_leader(app->db))
                goto out;
            struct purge_ctx c = {.table = i, .before = now - purge_tables[i].keep};
            enum db_status st = db_run(app->db, DB_WRITE, purge_tables[i].name, purge_cb, &c);
            if (st < 0) {
                /* the other tables are purged still; this one is tried again
                 * at the next pass */
                log_warn("%s: failed after %lld rows dropped (tried again later)",
                         purge_tables[i].name, dropped[i]);
                ok = false;
                more[i] = false;
                continue;
            }
            dropped[i] += st;
            more[i] = (int)st >= JOBS_PURGE_BATCH;
            left |= more[i];
        }
    }
out:
    for (int i = 0; i < PURGE_TABLES; i++)
        if (more[i] && dropped[i] > 0)
            log_info("%s: %lld rows dropped, more left for the next pass", purge_tables[i].name,
                     dropped[i]);
    return ok;
}
