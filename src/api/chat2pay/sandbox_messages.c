/*
 * sandbox_messages.c — GET /api/v2/sandbox/messages?to=&limit=: the messages
 * the sandbox channel "sent" for the calling sandbox merchant, newest first.
 * Production merchants get 404: their messages go to real providers.
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/status.h"
#include "db/merchants.h"
#include "db/sandbox.h"
#include "util/json.h"

enum { MESSAGES_DEFAULT = 20, MESSAGES_MAX = 100 };

struct messages_ctx {
    struct req *r;
    const char *to;
    int limit;
    bool sandbox;
    json_object *list;
};

static const char *message_status_name(const char *s)
{
    return s ? s : "SENT";
}

static void add_message(void *cls, const struct db_message *m)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(m->id));
    json_object_object_add(o, "channel", json_object_new_string(channel_name(m->channel)));
    json_object_object_add(o, "from", json_object_new_string(m->msisdn_from));
    json_object_object_add(o, "to", json_object_new_string(m->msisdn_to));
    json_object_object_add(o, "text", json_object_new_string(m->text ? m->text : ""));
    json_object_object_add(o, "status", json_object_new_string(message_status_name(m->status)));
    json_object_object_add(o, "createdAt", json_time(m->created_at));
    json_object_array_add(cls, o);
}

static enum db_status messages_cb(struct db_tx *tx, void *cls)
{
    struct messages_ctx *c = cls;
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, c->r->auth.merchant_id, &m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    c->sandbox = m.environment == ENV_SANDBOX;
    if (!c->sandbox)
        return DB_NO_RESULTS;
    json_object_put(c->list);
    c->list = json_object_new_array();
    st = DB_CALL(tx, messages, list, m.id, c->to, c->limit, c->r->arena, add_message, c->list);
    return st < 0 ? st : DB_ONE_RESULT;
}

void api_sandbox_messages(struct req *r)
{
    struct messages_ctx c = {.r = r, .limit = MESSAGES_DEFAULT};
    struct field_errors errs = {0};
    const char *to = req_query(r, "to");
    if (to) {
        const char *d = to[0] == '+' ? to + 1 : to;
        size_t n = strlen(d);
        if (n < 7 || n > 15 || strspn(d, "0123456789") != n)
            field_errors_add(&errs, r->arena, "to",
                             "must be an international phone number (7 to 15 digits, "
                             "optional leading +)");
        c.to = d;
    }
    api_query_limit(r, MESSAGES_MAX, &c.limit, &errs);
    if (errs.count) {
        reply_field_errors(r, &errs);
        return;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "sandbox_messages", messages_cb, &c);
    if (st < 0) {
        json_object_put(c.list);
        api_reply_db_error(r, st);
        return;
    }
    if (!c.sandbox) {
        json_object_put(c.list);
        reply_error(r, ERR_NOT_FOUND,
                    "The sandbox message outbox exists only for sandbox merchants");
        return;
    }
    reply_json(r, 200, c.list);
    json_object_put(c.list);
}
