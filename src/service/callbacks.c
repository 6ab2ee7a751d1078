/*
 * callbacks.c — merchant callbacks: what is queued, where it goes, and what
 * each try of a delivery records (see callbacks.h).
 */
#include "service/callbacks.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "core/status.h"
#include "db/merchants.h"
#include "service/views.h"
#include "util/crypto.h"
#include "util/json.h"

/* The URLs read in one transaction: the merchant's, and one integrator's. */
struct svc_cb_cache {
    char merchant_id[DB_UUID_LEN];
    struct db_callback_config config;
    char app_id[DB_UUID_LEN];
    const char *app_urls[CB_KINDS];
};

const char *svc_cb_kind_name(int kind)
{
    switch (kind) {
    case CB_PAYMENT_STATUS:
        return "payment_status";
    case CB_TRANSACTION_EVENT:
        return "transaction_event";
    case CB_SETTINGS:
        return "settings";
    default:
        return "";
    }
}

static const char *const state_names[] = {
    [CB_PENDING] = "pending", [CB_DELIVERED] = "delivered", [CB_FAILED] = "failed"};

const char *svc_cb_state_name(int state)
{
    return state >= CB_PENDING && state <= CB_FAILED ? state_names[state] : "";
}

int svc_cb_state_parse(const char *name)
{
    for (int i = CB_PENDING; i <= CB_FAILED; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

/* The transaction's cache, emptied, for a merchant's configuration to be
 * read into; remembered() then names whose it is. */
static struct db_callback_config *emptied_cache(struct svc *s)
{
    if (!s->cb)
        s->cb = arena_calloc(s->a, 1, sizeof *s->cb);
    memset(s->cb, 0, sizeof *s->cb);
    return &s->cb->config;
}

static void remembered(struct svc *s, const char *merchant_id)
{
    snprintf(s->cb->merchant_id, sizeof s->cb->merchant_id, "%s", merchant_id);
}

enum db_status svc_merchant_get(struct svc *s, const char *merchant_id, struct db_merchant *m)
{
    enum db_status st =
        DB_CALL(s->tx, merchants, get_with_callbacks, merchant_id, m, s->a, emptied_cache(s));
    if (st > 0)
        remembered(s, merchant_id);
    return st;
}

/* The merchant's callback configuration, read once per transaction. */
static enum db_status merchant_config(struct svc *s, const char *merchant_id,
                                      const struct db_callback_config **out)
{
    if (s->cb && strcmp(s->cb->merchant_id, merchant_id) == 0) {
        *out = &s->cb->config;
        return DB_ONE_RESULT;
    }
    enum db_status st = DB_CALL(s->tx, callbacks, config_get, merchant_id, s->a, emptied_cache(s));
    if (st <= 0)
        return st;
    remembered(s, merchant_id);
    *out = &s->cb->config;
    return DB_ONE_RESULT;
}

/* Where link l's callback of `kind` goes: its integrator's URL, else the
 * merchant's; *url NULL when neither is set. */
static enum db_status link_url(struct svc *s, const struct db_link *l, int kind, const char **url)
{
    *url = NULL;
    const struct db_callback_config *mc;
    enum db_status st = merchant_config(s, l->merchant_id, &mc);
    if (st <= 0)
        return st;
    if (l->application_id[0]) {
        if (strcmp(s->cb->app_id, l->application_id) != 0) {
            memset(s->cb->app_urls, 0, sizeof s->cb->app_urls);
            /* a deleted integrator gets nothing more: the merchant's URL */
            struct db_integrator it;
            st = DB_CALL(s->tx, integrators, get, l->merchant_id, l->application_id, &it);
            if (st > 0 && it.status != INTEGRATOR_DELETED)
                st = DB_CALL(s->tx, callbacks, integrator_urls, l->merchant_id, l->application_id,
                             s->a, s->cb->app_urls);
            if (st < 0)
                return st;
            snprintf(s->cb->app_id, sizeof s->cb->app_id, "%s", l->application_id);
        }
        if (s->cb->app_urls[kind]) {
            *url = s->cb->app_urls[kind];
            return DB_ONE_RESULT;
        }
    }
    *url = mc->url[kind];
    return DB_ONE_RESULT;
}

/* Store one delivery of `body` (to `url` now; app_id: a settings
 * callback's integrator, NULL for the merchant) and queue the job that
 * makes it. */
static enum db_status queue(struct svc *s, const char *merchant_id, int64_t link_id, int kind,
                            const char *url, const char *app_id, const char *body)
{
    struct db_callback cb = {
        .link_id = link_id,
        .kind = kind,
        .url = url,
        .body = body,
        .state = CB_PENDING,
        .created_at = s->now,
        .updated_at = s->now,
        .next_at = s->now,
    };
    char r[24];
    crypto_random_base62(128, r, 22);
    snprintf(cb.ref, sizeof cb.ref, "cb_%s", r);
    crypto_random_base62(128, r, 22);
    snprintf(cb.webhook_id, sizeof cb.webhook_id, "msg_%s", r);
    snprintf(cb.merchant_id, sizeof cb.merchant_id, "%s", merchant_id);
    snprintf(cb.app_id, sizeof cb.app_id, "%s", app_id ? app_id : "");
    enum db_status st = DB_CALL(s->tx, callbacks, insert, &cb);
    if (st < 0)
        return st;
    st = svc_enqueue_for(s, merchant_id, link_id, JOB_DELIVER_CALLBACK, cb.id, s->now);
    return st < 0 ? st : DB_ONE_RESULT;
}

static const char *text_of(struct svc *s, json_object *o)
{
    size_t len;
    const char *text = json_text(s->a, o, &len);
    json_object_put(o);
    return text;
}

enum db_status svc_cb_payment_status(struct svc *s, const struct db_link *l)
{
    const char *url;
    enum db_status st = link_url(s, l, CB_PAYMENT_STATUS, &url);
    if (st <= 0 || !url)
        return st < 0 ? st : DB_ONE_RESULT;
    struct db_merchant m;
    st = DB_CALL(s->tx, merchants, get, l->merchant_id, &m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    json_object *view;
    st = svc_link_view(s, l, m.environment, &view);
    if (st < 0)
        return st;
    return queue(s, l->merchant_id, l->id, CB_PAYMENT_STATUS, url, NULL, text_of(s, view));
}

/* History entries that are about payment status callbacks themselves. */
static bool about_notifications(int status)
{
    return status == LINK_PAYMENT_STATUS_NOTIFICATION_SENT ||
           status == LINK_PAYMENT_STATUS_NOTIFICATION_DELIVERY_SUCCESSFUL ||
           status == LINK_PAYMENT_STATUS_NOTIFICATION_DELIVERY_FAILED;
}

enum db_status svc_cb_transaction_event(struct svc *s, const struct db_link *l,
                                        const struct db_link_status *e)
{
    if (about_notifications(e->status))
        return DB_ONE_RESULT;
    const char *url;
    enum db_status st = link_url(s, l, CB_TRANSACTION_EVENT, &url);
    if (st <= 0 || !url)
        return st < 0 ? st : DB_ONE_RESULT;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "paymentLinkRef", json_object_new_string(l->ref));
    json_object_object_add(o, "orderNumber", json_object_new_string(l->order_number));
    json_object_object_add(o, "transactionStatus",
                           json_object_new_string(link_status_name(e->status)));
    json_object_object_add(o, "transactionStatusId", json_object_new_int(e->status));
    json_object_object_add(o, "timestamp", json_time(e->created_at));
    json_object_object_add(o, "from",
                           l->msisdn_from[0] ? json_object_new_string(l->msisdn_from) : NULL);
    json_object_object_add(o, "to", json_object_new_string(l->msisdn_to));
    json_object_object_add(o, "applicationId",
                           l->application_id[0] ? json_object_new_string(l->application_id) : NULL);
    return queue(s, l->merchant_id, l->id, CB_TRANSACTION_EVENT, url, NULL, text_of(s, o));
}

/* ---- settings ------------------------------------------------------------------------ */

struct app_ids {
    struct arena *a;
    const char **ids;
    size_t n, cap;
};

static void collect_app(void *cls, const struct db_integrator *it)
{
    struct app_ids *c = cls;
    if (it->status == INTEGRATOR_DELETED)
        return; /* deleted is final: it hears nothing more */
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        const char **ids = arena_alloc(c->a, cap * sizeof *ids);
        if (c->n)
            memcpy(ids, c->ids, c->n * sizeof *ids);
        c->ids = ids;
        c->cap = cap;
    }
    c->ids[c->n++] = arena_strdup(c->a, it->application_id);
}

enum db_status svc_cb_merchant_payment(struct svc *s, const char *merchant_id, const char *body)
{
    const struct db_callback_config *mc;
    enum db_status st = merchant_config(s, merchant_id, &mc);
    if (st <= 0 || !mc->url[CB_PAYMENT_STATUS])
        return st < 0 ? st : DB_ONE_RESULT;
    return queue(s, merchant_id, 0, CB_PAYMENT_STATUS, mc->url[CB_PAYMENT_STATUS], NULL, body);
}

enum db_status svc_cb_settings(struct svc *s, const char *merchant_id, const char *const *changed,
                               size_t n)
{
    const struct db_callback_config *mc;
    enum db_status st = merchant_config(s, merchant_id, &mc);
    if (st <= 0)
        return st;
    /* the merchant's URL, then each integrator's that is not already listed */
    struct app_ids apps = {.a = s->a};
    st = DB_CALL(s->tx, integrators, list, merchant_id, collect_app, &apps);
    if (st < 0)
        return st;
    const char **urls = arena_alloc(s->a, (apps.n + 1) * sizeof *urls);
    const char **to = arena_alloc(s->a, (apps.n + 1) * sizeof *to); /* NULL: the merchant */
    size_t nurls = 0;
    if (mc->url[CB_SETTINGS]) {
        to[nurls] = NULL;
        urls[nurls++] = mc->url[CB_SETTINGS];
    }
    for (size_t i = 0; i < apps.n; i++) {
        const char *au[CB_KINDS] = {0};
        st = DB_CALL(s->tx, callbacks, integrator_urls, merchant_id, apps.ids[i], s->a, au);
        if (st < 0)
            return st;
        bool seen = !au[CB_SETTINGS];
        for (size_t j = 0; j < nurls && !seen; j++)
            seen = strcmp(urls[j], au[CB_SETTINGS]) == 0;
        if (!seen) {
            to[nurls] = apps.ids[i];
            urls[nurls++] = au[CB_SETTINGS];
        }
    }
    if (nurls == 0)
        return DB_ONE_RESULT;
    json_object *view;
    st = svc_config_view(s, merchant_id, NULL, &view);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(list, json_object_new_string(changed[i]));
    json_object_object_add(view, "changed", list);
    const char *body = text_of(s, view);
    for (size_t i = 0; i < nurls; i++) {
        st = queue(s, merchant_id, 0, CB_SETTINGS, urls[i], to[i], body);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

/* ---- configuration -------------------------------------------------------------------- */

enum db_status svc_cb_secret(struct svc *s, const char *merchant_id, char out[WEBHOOK_SECRET_LEN])
{
    const struct db_callback_config *mc;
    enum db_status st = merchant_config(s, merchant_id, &mc);
    if (st <= 0)
        return st;
    if (webhook_secret_valid(mc->secret)) {
        snprintf(out, WEBHOOK_SECRET_LEN, "%s", mc->secret);
        return DB_ONE_RESULT;
    }
    webhook_new_secret(out);
    s->cb = NULL;
    st = DB_CALL(s->tx, callbacks, secret_set, merchant_id, out, NULL, 0);
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_cb_rotate_secret(struct svc *s, const char *merchant_id,
                                    char out[WEBHOOK_SECRET_LEN])
{
    const struct db_callback_config *mc;
    enum db_status st = merchant_config(s, merchant_id, &mc);
    if (st <= 0)
        return st;
    bool had = webhook_secret_valid(mc->secret);
    char old[DB_SECRET_MAX];
    snprintf(old, sizeof old, "%s", had ? mc->secret : "");
    webhook_new_secret(out);
    s->cb = NULL;
    st = DB_CALL(s->tx, callbacks, secret_set, merchant_id, out, had ? old : NULL,
                 had ? s->now + SVC_CB_ROTATION_OVERLAP : 0);
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_cb_url_set(struct svc *s, const char *merchant_id, const char *app_id, int kind,
                              const char *url)
{
    s->cb = NULL;
    enum db_status st =
        app_id ? DB_CALL(s->tx, callbacks, integrator_url_set, merchant_id, app_id, kind, url)
               : DB_CALL(s->tx, callbacks, url_set, merchant_id, kind, url);
    if (st <= 0)
        return st;
    /* a URL set means callbacks will be signed: have the secret ready */
    char secret[WEBHOOK_SECRET_LEN];
    return url ? svc_cb_secret(s, merchant_id, secret) : DB_ONE_RESULT;
}

/* ---- delivery ------------------------------------------------------------------------- */

enum db_status svc_cb_destination(struct svc *s, const struct db_callback *cb, const char **url,
                                  const char **none)
{
    *url = NULL;
    *none = NULL;
    enum db_status st;
    if (cb->link_id) {
        struct db_link l;
        st = DB_CALL(s->tx, links, get_by_id, cb->merchant_id, cb->link_id, s->a, &l);
        if (st < 0)
            return st;
        if (st > 0) {
            st = link_url(s, &l, cb->kind, url);
            if (st < 0)
                return st;
        }
    } else if (cb->app_id[0]) {
        /* a deleted integrator gets no settings callbacks (nor does one
         * that is gone) */
        struct db_integrator it;
        st = DB_CALL(s->tx, integrators, get, cb->merchant_id, cb->app_id, &it);
        if (st < 0)
            return st;
        if (st == 0 || it.status == INTEGRATOR_DELETED) {
            *none = "the integrator was deleted";
            return DB_ONE_RESULT;
        }
        const char *au[CB_KINDS] = {0};
        st = DB_CALL(s->tx, callbacks, integrator_urls, cb->merchant_id, cb->app_id, s->a, au);
        if (st < 0)
            return st;
        *url = au[cb->kind];
    } else {
        const struct db_callback_config *mc;
        st = merchant_config(s, cb->merchant_id, &mc);
        if (st < 0)
            return st;
        if (st > 0)
            *url = mc->url[cb->kind];
    }
    if (!*url)
        *none = "the callback URL was removed";
    return DB_ONE_RESULT;
}

/* The payment status notification entries of the link's history. */
static enum db_status notification_history(struct svc *s, const struct db_callback *cb,
                                           const struct db_callback_attempt *a, bool first,
                                           bool delivered, usec_t next_at)
{
    struct db_link l;
    enum db_status st = DB_CALL(s->tx, links, get_by_id, cb->merchant_id, cb->link_id, s->a, &l);
    if (st <= 0)
        return st;
    if (first) {
        st = svc_history(s, &l,
                         &(struct svc_entry){.status = LINK_PAYMENT_STATUS_NOTIFICATION_SENT});
        if (st < 0)
            return st;
    }
    if (delivered)
        return svc_history(
            s, &l,
            &(struct svc_entry){.status = LINK_PAYMENT_STATUS_NOTIFICATION_DELIVERY_SUCCESSFUL,
                                .http = a->http_status});
    const char *desc =
        next_at ? arena_printf(s->a, "%s (try %d; tried again later)", a->error, cb->attempts)
                : arena_printf(s->a, "%s (try %d; given up)", a->error, cb->attempts);
    return svc_history(
        s, &l,
        &(struct svc_entry){.status = LINK_PAYMENT_STATUS_NOTIFICATION_DELIVERY_FAILED,
                            .http = a->http_status,
                            .desc = desc});
}

static void count_attempt(void *cls, const struct db_callback_attempt *a)
{
    (void)a;
    ++*(int *)cls;
}

/* Every try of the delivery so far, in all its rounds. */
static enum db_status tries_of(struct svc *s, const struct db_callback *cb, int *tries)
{
    *tries = 0;
    enum db_status st = DB_CALL(s->tx, callbacks, attempts, cb->id, s->a, count_attempt, tries);
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_cb_attempt(struct svc *s, struct db_callback *cb,
                              const struct db_callback_attempt *a, bool delivered, bool last,
                              usec_t *next_at)
{
    *next_at = 0;
    enum db_status st = DB_CALL(s->tx, callbacks, attempt_insert, cb->id, a);
    if (st < 0)
        return st;
    /* a replay begins a new round, but the tries of all rounds are bounded */
    int tries = 0;
    if (!delivered && !last && (st = tries_of(s, cb, &tries)) < 0)
        return st;
    bool first = cb->attempts == 0;
    cb->attempts++;
    cb->last_http = a->http_status;
    cb->updated_at = s->now;
    cb->next_at = 0;
    if (a->url)
        cb->url = a->url;
    if (delivered) {
        cb->state = CB_DELIVERED;
        cb->delivered_at = s->now;
    } else if (!last && tries < CB_TRIES_MAX &&
               (unsigned)cb->attempts <= s->cfg->callback_retries) {
        cb->next_at = *next_at = s->now + s->cfg->callback_retry[cb->attempts - 1];
    } else {
        cb->state = CB_FAILED;
    }
    st = DB_CALL(s->tx, callbacks, update, cb);
    if (st < 0)
        return st;
    if (cb->kind == CB_PAYMENT_STATUS && cb->link_id) {
        st = notification_history(s, cb, a, first, delivered, *next_at);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

enum db_status svc_cb_replay(struct svc *s, const char *merchant_id, const char *ref,
                             struct db_callback *cb, const char **refused)
{
    *refused = NULL;
    enum db_status st = DB_CALL(s->tx, callbacks, get_by_ref, merchant_id, ref, s->a, cb);
    if (st <= 0)
        return st;
    if (cb->state == CB_PENDING) {
        *refused = "The callback is still being delivered; it can be sent again once it is "
                   "delivered or given up";
        return DB_ROLLBACK;
    }
    /* every try is kept, and a link's tries are in its history: bounded */
    int tries;
    if ((st = tries_of(s, cb, &tries)) < 0)
        return st;
    if (tries >= CB_TRIES_MAX) {
        *refused = arena_printf(s->a,
                                "The callback has been tried %d times, the most one callback "
                                "takes",
                                CB_TRIES_MAX);
        return DB_ROLLBACK;
    }
    /* to where its recipient wants it now */
    const char *url, *none;
    if ((st = svc_cb_destination(s, cb, &url, &none)) < 0)
        return st;
    if (!url) {
        *refused = arena_printf(s->a, "The callback cannot be sent again: %s", none);
        return DB_ROLLBACK;
    }
    cb->url = url;
    cb->state = CB_PENDING;
    cb->attempts = 0;
    cb->delivered_at = 0;
    cb->next_at = s->now;
    cb->updated_at = s->now;
    st = DB_CALL(s->tx, callbacks, update, cb);
    if (st < 0)
        return st;
    st = svc_enqueue_for(s, merchant_id, cb->link_id, JOB_DELIVER_CALLBACK, cb->id, s->now);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* ---- the delivery log ----------------------------------------------------------------- */

static void add_attempt(void *cls, const struct db_callback_attempt *a)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "at", json_time(a->at));
    json_object_object_add(o, "httpStatus",
                           a->http_status ? json_object_new_int(a->http_status) : NULL);
    json_object_object_add(o, "latencyMs", json_object_new_int(a->latency_ms));
    json_object_object_add(o, "url", a->url ? json_object_new_string(a->url) : NULL);
    json_object_object_add(o, "error", a->error ? json_object_new_string(a->error) : NULL);
    json_object_array_add(cls, o);
}

enum db_status svc_cb_view(struct svc *s, const struct db_callback *cb, json_object **out)
{
    json_object *tries = json_object_new_array();
    enum db_status st = DB_CALL(s->tx, callbacks, attempts, cb->id, s->a, add_attempt, tries);
    if (st < 0) {
        json_object_put(tries);
        return st;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(cb->ref));
    json_object_object_add(o, "type", json_object_new_string(svc_cb_kind_name(cb->kind)));
    json_object_object_add(o, "status", json_object_new_string(svc_cb_state_name(cb->state)));
    json_object_object_add(o, "paymentLinkRef",
                           cb->link_ref[0] ? json_object_new_string(cb->link_ref) : NULL);
    json_object_object_add(o, "url", json_object_new_string(cb->url));
    json_object_object_add(o, "webhookId", json_object_new_string(cb->webhook_id));
    json_object_object_add(o, "createdAt", json_time(cb->created_at));
    json_object_object_add(o, "updatedAt", json_time(cb->updated_at));
    json_object_object_add(o, "deliveredAt", cb->delivered_at ? json_time(cb->delivered_at) : NULL);
    json_object_object_add(o, "nextAttemptAt",
                           cb->state == CB_PENDING ? json_time(cb->next_at) : NULL);
    json_object_object_add(o, "attempts", tries);
    json_object *payload = json_tokener_parse(cb->body);
    json_object_object_add(o, "payload", payload);
    *out = o;
    return DB_ONE_RESULT;
}

struct list_ctx {
    struct arena *a;
    struct db_callback *items;
    int n, cap;
};

static void collect_callback(void *cls, const struct db_callback *cb)
{
    struct list_ctx *c = cls;
    if (c->n < c->cap)
        c->items[c->n++] = *cb;
}

enum db_status svc_cb_list(struct svc *s, const char *merchant_id, const char *link_ref, int state,
                           const char *starting_after, int limit, json_object **out,
                           const char **problem)
{
    *problem = NULL;
    struct db_callback_filter f = {.state = state, .limit = limit + 1};
    enum db_status st;
    if (link_ref) {
        struct db_link l;
        st = DB_CALL(s->tx, links, get_by_ref, merchant_id, link_ref, s->a, &l);
        if (st <= 0)
            return st;
        f.link_id = l.id;
    }
    if (starting_after) {
        struct db_callback after;
        st = DB_CALL(s->tx, callbacks, get_by_ref, merchant_id, starting_after, s->a, &after);
        if (st < 0)
            return st;
        if (st == 0) {
            *problem = "startingAfter: no callback with this id";
            return DB_ROLLBACK;
        }
        f.starting_after = after.id;
    }
    struct list_ctx c = {.a = s->a, .cap = limit + 1};
    c.items = arena_calloc(s->a, (size_t)c.cap, sizeof *c.items);
    st = DB_CALL(s->tx, callbacks, list, merchant_id, &f, s->a, collect_callback, &c);
    if (st < 0)
        return st;
    json_object *data = json_object_new_array();
    for (int i = 0; i < c.n && i < limit; i++) {
        json_object *v;
        st = svc_cb_view(s, &c.items[i], &v);
        if (st < 0) {
            json_object_put(data);
            return st;
        }
        json_object_array_add(data, v);
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "data", data);
    json_object_object_add(o, "hasMore", json_object_new_boolean(c.n > limit));
    *out = o;
    return DB_ONE_RESULT;
}
