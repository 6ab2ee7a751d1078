/*
 * mp_fulfil.c — job JOB_MP_FULFIL: have the vendor issue a marketplace
 * purchase (arg: the purchase's id; merchant_id: the client's internal id).
 *
 * The purchase, its product and client are read; the vendor is called with
 * no transaction open; its answer is recorded with the job's completion in
 * one transaction (service/purchases.c), which also queues the delivery of
 * the result. A vendor that has not answered yet (a timeout) is asked again
 * two seconds later, as a status check: the same job runs again.
 *
 * The sandbox vendor serves sandbox clients only: a purchase whose client
 * was moved to production while it was still processing is not issued but
 * ends FAILED with 2010 (the code Transact refuses a production client
 * with), checked before the vendor is called and again when its answer is
 * recorded; its result goes out as any failure's does.
 */
#include <string.h>

#include "app.h"
#include "db/marketplace.h"
#include "jobs/common.h"
#include "service/purchases.h"
#include "vendor/vendor.h"

#define STATUS_CHECK_DELAY (2 * 1000000LL)

static const struct mp_fulfilment NOT_AVAILABLE = {MP_FAILED, "2010", "Product not available",
                                                   NULL};

/* May the sandbox vendor issue a purchase of this client (now)? */
static bool sandbox_client(const struct db_mp_client *client)
{
    enum mp_refusal refusal;
    const char *why;
    return svc_mp_vendor_for(client->environment, &refusal, &why);
}

struct fulfil_ctx {
    struct job_ctx *jc;
    struct db_mp_purchase p;
    struct db_mp_product product;
    struct db_mp_client client;
    struct mp_fulfilment f;
    int checks_seen;
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct fulfil_ctx *c = cls;
    enum db_status st = DB_CALL(tx, marketplace, purchase_get, c->jc->job->arg, c->jc->a, &c->p);
    if (st <= 0)
        return st;
    if (strcmp(c->p.client_uuid, c->jc->job->merchant_id) != 0)
        return DB_NO_RESULTS;
    st = DB_CALL(tx, marketplace, product_get, c->p.product_id, &c->product);
    if (st <= 0)
        return st;
    return DB_CALL(tx, marketplace, client_get_by_uuid, c->p.client_uuid, c->jc->a, &c->client);
}

static enum db_status record_cb(struct db_tx *tx, void *cls)
{
    struct fulfil_ctx *c = cls;
    struct svc s = job_svc(c->jc, tx);
    struct db_mp_purchase p;
    struct db_mp_client client;
    enum db_status st = DB_CALL(tx, marketplace, purchase_get, c->p.id, c->jc->a, &p);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    /* another run recorded this answer already (its lease ran out) */
    if (p.status != MP_PROCESSING || p.status_checks != c->checks_seen)
        return DB_ROLLBACK;
    /* the client as it is now: moved to production while the vendor was
     * asked, the sandbox vendor's answer does not count */
    st = DB_CALL(tx, marketplace, client_get_by_uuid, p.client_uuid, c->jc->a, &client);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    if (!sandbox_client(&client))
        c->f = NOT_AVAILABLE;
    st = svc_mp_purchase_fulfilled(&s, &p, &client, &c->f);
    if (st < 0)
        return st;
    c->jc->queued |= s.queued;
    st = c->f.status == MP_PROCESSING
             ? DB_CALL(tx, jobs, retry, c->jc->job, s.now + STATUS_CHECK_DELAY,
                       "vendor timeout: its status is checked again")
             : DB_CALL(tx, jobs, complete, c->jc->job, s.now);
    return st < 0 ? st : DB_ONE_RESULT;
}

enum job_result job_mp_fulfil(struct job_ctx *jc)
{
    struct fulfil_ctx c = {.jc = jc};
    enum db_status st = db_run(jc->app->db, DB_READ, "mp_fulfil_load", load_cb, &c);
    if (st < 0) {
        jc->error = "cannot read the purchase";
        return JOB_RETRY;
    }
    if (st == 0 || c.p.status != MP_PROCESSING)
        return JOB_DONE; /* gone, or recorded by an earlier run */
    c.checks_seen = c.p.status_checks;
    if (sandbox_client(&c.client))
        vendor_sandbox_fulfil(&c.p, c.product.type, jc->a, &c.f);
    else
        c.f = NOT_AVAILABLE;
    st = db_run(jc->app->db, DB_WRITE, "mp_fulfil_record", record_cb, &c);
    if (st < 0 && st != DB_ROLLBACK) {
        jc->error = "cannot record the vendor's answer";
        return JOB_RETRY;
    }
    jc->completed = true;
    return JOB_DONE;
}
