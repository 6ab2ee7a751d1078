/*
 * callbacks.c — the delivery log of merchant callbacks (a chatpay
 * extension):
 *   GET  /api/v2/callbacks?paymentLinkRef=&status=&limit=&startingAfter=
 *        the caller's deliveries, newest first, each with every try
 *   POST /api/v2/callbacks/{callbackId}/replay
 *        send a delivered or given-up callback again (same webhook-id, new
 *        timestamp and signature): 202 with the delivery, now pending
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include <string.h>

#include "app.h"
#include "service/callbacks.h"

enum { QUERY_MAX = 128, LIMIT_DEFAULT = 20, LIMIT_MAX = 100 };

struct list_ctx {
    struct req *r;
    const char *link_ref, *after;
    int state, limit;
    const char *problem;
    json_object *reply;
};

static enum db_status list_cb(struct db_tx *tx, void *cls)
{
    struct list_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    json_object_put(c->reply);
    c->reply = NULL;
    return svc_cb_list(&s, c->r->auth.merchant_id, c->link_ref, c->state, c->after, c->limit,
                       &c->reply, &c->problem);
}

static void check_text(struct req *r, struct field_errors *errs, const char *name,
                       const char *value)
{
    if (value && (!*value || strlen(value) > QUERY_MAX))
        field_errors_add(errs, r->arena, name, "must be 1 to %d characters", QUERY_MAX);
}

void api_callbacks_list(struct req *r)
{
    struct list_ctx c = {.r = r, .state = -1, .limit = LIMIT_DEFAULT};
    struct field_errors errs = {0};
    c.link_ref = req_query(r, "paymentLinkRef");
    c.after = req_query(r, "startingAfter");
    check_text(r, &errs, "paymentLinkRef", c.link_ref);
    check_text(r, &errs, "startingAfter", c.after);
    const char *status = req_query(r, "status");
    if (status && (c.state = svc_cb_state_parse(status)) < 0)
        field_errors_add(&errs, r->arena, "status", "must be pending, delivered or failed");
    api_query_limit(r, LIMIT_MAX, &c.limit, &errs);
    if (errs.count) {
        reply_field_errors(r, &errs);
        return;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "callbacks_list", list_cb, &c);
    if (st <= 0 || c.problem) {
        json_object_put(c.reply);
        if (c.problem) {
            field_errors_add(&errs, r->arena, NULL, "%s", c.problem);
            reply_field_errors(r, &errs);
        } else if (st == DB_NO_RESULTS) {
            reply_error(r, ERR_NOT_FOUND, "No payment link with this reference");
        } else {
            api_reply_db_error(r, st);
        }
        return;
    }
    reply_json(r, 200, c.reply);
    json_object_put(c.reply);
}

struct replay_ctx {
    struct req *r;
    const char *ref;
    const char *refused;
    unsigned queued;
    json_object *reply;
};

static enum db_status replay_cb(struct db_tx *tx, void *cls)
{
    struct replay_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    struct db_callback cb;
    json_object_put(c->reply);
    c->reply = NULL;
    enum db_status st = svc_cb_replay(&s, c->r->auth.merchant_id, c->ref, &cb, &c->refused);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    c->queued = s.queued;
    return svc_cb_view(&s, &cb, &c->reply);
}

void api_callback_replay(struct req *r)
{
    struct replay_ctx c = {.r = r, .ref = req_param(r, "callbackId")};
    enum db_status st = db_run(r->app->db, DB_WRITE, "callback_replay", replay_cb, &c);
    if (st <= 0) {
        json_object_put(c.reply);
        if (st == DB_ROLLBACK && c.refused)
            reply_error(r, ERR_CONFLICT, c.refused);
        else if (st == DB_ROLLBACK)
            reply_error(r, ERR_NOT_FOUND, "No callback with this id");
        else
            api_reply_db_error(r, st);
        return;
    }
    app_wake_workers(r->app, c.queued);
    reply_json(r, 202, c.reply);
    json_object_put(c.reply);
}
