/*
 * inbound.c — POST (and GET) /hooks/{providerId}/{token}[/{rest}]: what a
 * messaging provider reports. The provider's channel checks its signature
 * and reads the events (channel_ops.inbound); they are applied in one
 * transaction (service/messages.h), and only then is the provider answered
 * 200, so that a report chatpay could not store is sent again.
 *
 * A report can overtake its send: the provider answered the send, and its
 * report came before chatpay wrote the answer down (milliseconds later). The
 * transaction is then run again a few times for up to EARLY_WAIT_MS, and
 * only a send still unrecorded after that is answered 503: Twilio does not
 * post a status callback again after a 5xx, so a 503 leaves the message's
 * state to the status query (10 minutes after the send).
 */
#include "api/api.h"
#include "api/hooks/hooks.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "channel/registry.h"
#include "gateway/gateway.h"
#include "service/messages.h"
#include "util/log.h"
#include "util/time.h"

/* Waiting for the record of a send that a report overtook: at most
 * EARLY_TRIES runs of the transaction, within EARLY_WAIT_MS of the first;
 * the pause between two runs doubles from EARLY_PAUSE_MS up to
 * EARLY_PAUSE_MAX_MS (25+50+100+200+400+500+500 ms: the eighth run comes
 * 1.8 s after the first). The HTTP thread waits meanwhile, as it does for
 * a commit; no transaction is open while it waits. */
enum { EARLY_TRIES = 8, EARLY_WAIT_MS = 2000, EARLY_PAUSE_MS = 25, EARLY_PAUSE_MAX_MS = 500 };

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

/* The events' transaction, run again (bounded: EARLY_TRIES, EARLY_WAIT_MS)
 * while a report's send is not recorded yet and that is all that stopped
 * it. Each run is whole or rolled back, so a run again applies nothing
 * twice. *tries: the runs made. */
static enum db_status run_events(struct events_ctx *c, int *tries)
{
    usec_t deadline = time_mono() + (usec_t)EARLY_WAIT_MS * 1000;
    long pause = EARLY_PAUSE_MS;
    enum db_status st = DB_HARD_ERROR;
    for (*tries = 1; *tries <= EARLY_TRIES; *tries += 1) {
        c->early = 0; /* stale if the runner fails before the callback */
        st = db_run(c->r->app->db, DB_WRITE, "hook_events", events_cb, c);
        if (st != DB_ROLLBACK || !c->early || *tries == EARLY_TRIES)
            break;
        usec_t left_ms = (deadline - time_mono()) / 1000;
        if (left_ms <= 0 || atomic_load(&c->r->app->stopping))
            break;
        time_sleep((pause < left_ms ? pause : left_ms) * 1000);
        pause = pause * 2 < EARLY_PAUSE_MAX_MS ? pause * 2 : EARLY_PAUSE_MAX_MS;
    }
    return st;
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
    int tries = 0;
    enum db_status st = run_events(&c, &tries);
    if (st < 0 && !(st == DB_ROLLBACK && c.early)) {
        api_reply_db_error(r, st); /* 503: the provider sends it again */
        return;
    }
    if (c.early) {
        /* nothing stored; the provider sends the post again (a status
         * report is never answered with a reply of its own) */
        log_info("webhook of provider %s: %d report(s) came before their send was recorded, "
                 "which it still was not after %d tries; 503 so that they come again",
                 r->auth.key_id, c.early, tries);
        reply_error(r, ERR_UNAVAILABLE,
                    "A report names a message whose send is still being recorded; send it again");
        return;
    }
    if (tries > 1)
        log_info("webhook of provider %s: applied at try %d, once the send it reports on was "
                 "recorded",
                 r->auth.key_id, tries);
    app_wake_workers(r->app, c.queued);
    /* the kind's own answer when it has one (Twilio texts a text/plain
     * answer to an incoming message back to its sender: it gets empty TwiML) */
    if (answer.status)
        reply_text(r, answer.status, answer.content_type ? answer.content_type : "text/plain",
                   answer.body ? answer.body : "", answer.body ? strlen(answer.body) : 0);
    else
        reply_text(r, 200, "text/plain", "ok", 2);
}
