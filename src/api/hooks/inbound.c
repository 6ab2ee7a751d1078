/*
 * inbound.c — POST (and GET) /hooks/{providerId}/{token}[/{rest}]: what a
 * messaging provider reports. The provider's channel checks its signature
 * and reads the events (channel_ops.inbound); they are applied in one
 * transaction (service/messages.h), and only then is the provider answered
 * 200, so that a report chatpay could not store is sent again.
 */
#include "api/api.h"
#include "api/hooks/hooks.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "channel/registry.h"
#include "gateway/gateway.h"
#include "service/messages.h"
#include "util/log.h"

struct events_ctx {
    struct req *r;
    const struct channel_event *events;
    size_t n;
    bool confirm; /* the kind's reports are confirmed by its status query */
    int applied;
    int early; /* reports that overtook their send's record */
    unsigned queued;
};

static enum db_status events_cb(struct db_tx *tx, void *cls)
{
    struct events_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    enum db_status st = svc_channel_events(&s, c->r->auth.key_id, c->r->auth.merchant_id,
                                           c->confirm, c->events, c->n, &c->applied, &c->early);
    c->queued = s.queued;
    /* a report that overtook its send: nothing of the post is kept, the
     * provider sends all of it again (its replies applied twice could undo
     * a later START or STOP) */
    return st >= 0 && c->early ? DB_ROLLBACK : st;
}

/* A body over the limit (dropped unread by the HTTP layer): 200 for a kind
 * that posts what chatpay has no use for that large, else 413. */
static void oversized(struct req *r, const struct channel *ch)
{
    size_t n = req_body_dropped(r);
    if (ch && ch->ops->drops_oversize) {
        log_warn("webhook of provider %s: a %zu-byte report was dropped unread (over %zu bytes; "
                 "media are not used)",
                 r->auth.key_id, n, r->route->max_body);
        reply_text(r, 200, "text/plain", "ok", 2);
        return;
    }
    reply_error(r, ERR_PAYLOAD_TOO_LARGE,
                arena_printf(r->arena, "Request body exceeds %zu bytes", r->route->max_body));
}

void api_hook(struct req *r)
{
    if (r->family_state && gateway_kind(r->family_state)) {
        if (req_body_dropped(r)) {
            oversized(r, NULL);
            return;
        }
        api_gateway_hook(r);
        return;
    }
    const char *why = NULL;
    const struct channel *ch = channel_acquire_provider(r->app->channels, r->auth.key_id, &why);
    if (req_body_dropped(r)) {
        oversized(r, ch);
        channel_release(r->app->channels, ch);
        return;
    }
    if (!ch || !ch->ops->inbound) {
        channel_release(r->app->channels, ch);
        reply_error(
            r, ch ? ERR_NOT_FOUND : ERR_UNAVAILABLE,
            ch ? "This provider posts nothing here"
               : arena_printf(r->arena, "The provider cannot be used: %s", why ? why : "unknown"));
        return;
    }
    struct provider_inbound in =
        api_inbound_request(r, req_param(r, "rest") ? req_param(r, "rest") : "");
    struct channel_event *events = NULL;
    size_t n = 0;
    struct channel_inbound_reply answer = {0};
    enum channel_inbound_verdict v = ch->ops->inbound(ch, &in, r->arena, &events, &n, &answer);
    bool confirm = ch->ops->confirm_reports;
    channel_release(r->app->channels, ch);
    switch (v) {
    case INBOUND_ANSWER:
        reply_text(r, answer.status ? answer.status : 200,
                   answer.content_type ? answer.content_type : "text/plain",
                   answer.body ? answer.body : "", answer.body ? strlen(answer.body) : 0);
        return;
    case INBOUND_FORBIDDEN:
        log_warn("webhook of provider %s: signature or verify token refused", r->auth.key_id);
        reply_error(r, ERR_FORBIDDEN, "The request's signature does not verify");
        return;
    case INBOUND_MALFORMED:
        reply_error(r, ERR_BAD_REQUEST, "The request is not one this provider sends");
        return;
    case INBOUND_EVENTS:
        break;
    }
    struct events_ctx c = {.r = r, .events = events, .n = n, .confirm = confirm};
    enum db_status st = db_run(r->app->db, DB_WRITE, "hook_events", events_cb, &c);
    if (st < 0 && !(st == DB_ROLLBACK && c.early)) {
        api_reply_db_error(r, st); /* 503: the provider sends it again */
        return;
    }
    if (c.early) {
        /* nothing stored; the provider sends the post again (a status
         * report is never answered with a reply of its own) */
        log_info("webhook of provider %s: %d report(s) came before their send was recorded; "
                 "503 so that they come again",
                 r->auth.key_id, c.early);
        reply_error(r, ERR_UNAVAILABLE,
                    "A report names a message whose send is still being recorded; send it again");
        return;
    }
    app_wake_workers(r->app, c.queued);
    /* the kind's own answer when it has one (Twilio texts a text/plain
     * answer to an incoming message back to its sender: it gets empty TwiML) */
    if (answer.status)
        reply_text(r, answer.status, answer.content_type ? answer.content_type : "text/plain",
                   answer.body ? answer.body : "", answer.body ? strlen(answer.body) : 0);
    else
        reply_text(r, 200, "text/plain", "ok", 2);
}
