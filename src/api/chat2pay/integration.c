/*
 * integration.c — PUT /api/v2/integration: activate, deactivate or delete
 * one of the caller's integrators (IntegrationStatusRequest →
 * EntityUpdatedResponse). A DELETED integrator is final.
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include <stddef.h>

#include "app.h"
#include "util/log.h"
#include "db/merchants.h"
#include "service/settings.h"
#include "util/json.h"

struct integration_body {
    const char *application_uuid;
    struct fv_enum status;
};

static const struct field_enum status_values[] = {
    {"ACTIVATED", INTEGRATOR_ACTIVATED, -1},
    {"DEACTIVATED", INTEGRATOR_DEACTIVATED, -1},
    {"DELETED", INTEGRATOR_DELETED, -1},
    {NULL, 0, -1},
};

static const struct field_spec integration_spec[] = {
    {.name = "applicationUuid",
     .kind = FIELD_STRING,
     .offset = offsetof(struct integration_body, application_uuid),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = 64},
    {.name = "status",
     .kind = FIELD_ENUM,
     .offset = offsetof(struct integration_body, status),
     .flags = FIELD_REQUIRED,
     .enums = status_values,
     .enum_hint = "ACTIVATED, DEACTIVATED, DELETED"},
    {.name = NULL},
};

struct integration_ctx {
    struct req *r;
    struct integration_body body;
    usec_t now;
    enum integrator_change outcome;
    unsigned queued;
};

static enum db_status update_cb(struct db_tx *tx, void *cls)
{
    struct integration_ctx *c = cls;
    /* the time of the change, taken under the write lock: history entries
     * are in the order of their times */
    c->now = time_now();
    struct svc s = {.tx = tx, .a = c->r->arena, .now = c->now, .cfg = c->r->app->cfg};
    enum db_status st =
        svc_integrator_set_status(&s, c->r->auth.merchant_id, c->body.application_uuid,
                                  (enum integrator_status)c->body.status.v, &c->outcome);
    c->queued = s.queued;
    return st;
}

void api_integration_put(struct req *r)
{
    struct integration_ctx *c = arena_calloc(r->arena, 1, sizeof *c);
    struct field_errors errs = {0};
    if (!fieldspec_parse(integration_spec, r->json, &c->body, r->arena, &errs)) {
        reply_field_errors(r, &errs);
        return;
    }
    c->r = r;
    c->now = time_now();
    enum db_status st = db_run(r->app->db, DB_WRITE, "integration_put", update_cb, c);
    if (st == DB_ROLLBACK && c->outcome == INTEGRATOR_UNKNOWN) {
        reply_error(r, ERR_NOT_FOUND,
                    arena_printf(r->arena, "No application %s in this Chat 2 Pay configuration",
                                 c->body.application_uuid));
        return;
    }
    if (st == DB_ROLLBACK && c->outcome == INTEGRATOR_IS_DELETED) {
        reply_error(r, ERR_BAD_REQUEST,
                    arena_printf(r->arena,
                                 "Application %s is DELETED; its status cannot be changed",
                                 c->body.application_uuid));
        return;
    }
    if (st < 0) {
        api_reply_db_error(r, st);
        return;
    }
    app_wake_workers(r->app, c->queued);
    log_info("integrator %s of merchant %s set to %s", c->body.application_uuid,
             r->auth.merchant_id,
             db_integrator_status_name((enum integrator_status)c->body.status.v));
    json_object *o = json_object_new_object();
    json_object_object_add(o, "updateTime", json_time(c->now));
    reply_json(r, 200, o);
    json_object_put(o);
}
