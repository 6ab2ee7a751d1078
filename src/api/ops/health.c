/*
 * health.c — GET /livez, /readyz, /metrics: for load balancers and monitoring.
 *
 * /livez answers as long as the process serves HTTP. /readyz also checks that
 * the database answers and that its schema is at least at the version this
 * binary expects (so a node is taken out of rotation while the database is
 * away or not yet migrated, and an older node keeps serving a database
 * migrated ahead of it during a rolling upgrade), that the node is not
 * draining (stopping: a load balancer is to stop sending it requests),
 * and lists the messaging providers that refused their credentials to
 * whoever may read /metrics (the list names merchants and providers).
 */
#include "api/api.h"
#include "api/ops/ops.h"

#include <string.h>
#include <strings.h>

#include "app.h"
#include "http/server.h"
#include "db/providers.h"
#include "util/crypto.h"
#include "util/json.h"

void api_livez(struct req *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    reply_json(r, 200, o);
    json_object_put(o);
}

static bool metrics_token_ok(struct req *r);

struct ready_ctx {
    bool operator; /* the caller may read /metrics: the providers are listed */
    int current, latest;
    struct arena *a;
    json_object *unhealthy; /* providers that refused their credentials */
};

static void unhealthy_cb(void *cls, const struct db_provider *p)
{
    struct ready_ctx *c = cls;
    if (p->healthy)
        return;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "providerId", json_object_new_string(p->id));
    json_object_object_add(o, "merchantId", json_object_new_string(p->merchant_id));
    json_object_object_add(o, "kind", json_object_new_string(p->kind));
    json_object_object_add(o, "reason",
                           p->health_reason ? json_object_new_string(p->health_reason) : NULL);
    json_object_object_add(o, "since", json_time(p->health_at));
    json_object_array_add(c->unhealthy, o);
}

static enum db_status ready_cb(struct db_tx *tx, void *cls)
{
    struct ready_ctx *c = cls;
    enum db_status st = db_ping(tx);
    if (st < 0)
        return st;
    st = db_schema_version(tx, &c->current, &c->latest);
    if (st < 0 || c->current < c->latest)
        return st;
    if (!c->operator)
        return DB_ONE_RESULT;
    json_object_put(c->unhealthy);
    c->unhealthy = json_object_new_array();
    st = DB_CALL(tx, providers, list_all, c->a, unhealthy_cb, c);
    return st < 0 ? st : DB_ONE_RESULT;
}

void api_readyz(struct req *r)
{
    /* on the admin listener when there is one, with the metrics token
     * when one is set: the public address tells only whether it is ready */
    struct ready_ctx c = {.a = r->arena,
                          .operator= req_serves(r, ROUTE_ADMIN) && metrics_token_ok(r)};
    enum db_status st = db_run(r->app->db, DB_READ, "readyz", ready_cb, &c);
    if (st < 0) {
        json_object_put(c.unhealthy);
        c.unhealthy = NULL;
    }
    bool db_ok = st >= 0;
    /* a database migrated ahead of this binary serves it still (migrations
     * only add): that is what lets nodes be replaced one at a time */
    bool schema_ok = db_ok && c.current >= c.latest;
    bool draining = req_draining(r);
    bool ready = schema_ok && !draining;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(ready ? "ready" : "not ready"));
    if (!ready)
        json_object_object_add(o, "reason",
                               json_object_new_string(draining ? "draining"
                                                      : !db_ok ? "database unreachable"
                                                               : "schema behind"));
    json_object_object_add(o, "database", json_object_new_string(db_ok ? "ok" : "unreachable"));
    if (db_ok) {
        json_object_object_add(o, "schemaVersion", json_object_new_int(c.current));
        json_object_object_add(o, "expectedSchemaVersion", json_object_new_int(c.latest));
    }
    /* a merchant's provider refusing its credentials does not take the node out of
     * rotation: it is reported here (and in `chatpay provider show`) */
    if (c.unhealthy)
        json_object_object_add(o, "unhealthyProviders", c.unhealthy);
    reply_json(r, ready ? 200 : 503, o);
    json_object_put(o);
}

/* With metrics_token set, GET /metrics needs "Authorization: Bearer <token>"
 * (compared in constant time, through hashes of equal length). */
static bool metrics_token_ok(struct req *r)
{
    const char *want = r->app->cfg->metrics_token;
    if (!want[0])
        return true;
    const char *h = req_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    uint8_t a[32], b[32];
    crypto_sha256(h + 7, strlen(h + 7), a);
    crypto_sha256(want, strlen(want), b);
    return crypto_equal(a, b, sizeof a);
}

void api_metrics(struct req *r)
{
    if (!metrics_token_ok(r)) {
        reply_header(r, "WWW-Authenticate", "Bearer realm=\"metrics\"");
        reply_error(r, ERR_UNAUTHORIZED,
                    "GET /metrics needs Authorization: Bearer <metrics_token> on this server");
        return;
    }
    size_t len;
    char *text = http_metrics_text(r->arena, &len);
    struct db_stats ds;
    db_stats(r->app->db, &ds);
    text = arena_printf(
        r->arena,
        "%s# HELP chatpay_db_transactions_total Database transactions of this process.\n"
        "# TYPE chatpay_db_transactions_total counter\n"
        "chatpay_db_transactions_total{mode=\"read\",result=\"commit\"} %llu\n"
        "chatpay_db_transactions_total{mode=\"write\",result=\"commit\"} %llu\n"
        "chatpay_db_transactions_total{mode=\"any\",result=\"rollback\"} %llu\n"
        "chatpay_db_transactions_total{mode=\"any\",result=\"retry\"} %llu\n"
        "# HELP chatpay_db_durable_commits_total Commits of write transactions to the disk"
        " (one commits several write transactions when they come at once).\n"
        "# TYPE chatpay_db_durable_commits_total counter\n"
        "chatpay_db_durable_commits_total %llu\n",
        text, (unsigned long long)ds.read_commits, (unsigned long long)ds.write_commits,
        (unsigned long long)ds.rollbacks, (unsigned long long)ds.retries,
        (unsigned long long)ds.durable_commits);
    len = strlen(text);
    reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
