/*
 * registry.c — the messaging provider instances of a process (see
 * registry.h).
 *
 * The instances made from one configuration epoch form a generation. A
 * caller that acquires an instance holds its generation; a generation that
 * is no longer current is freed when the last holder releases it.
 */
#include "channel/registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/status.h"
#include "db/providers.h"
#include "util/log.h"
#include "util/secretbox.h"

/* The longest a provider call may take. */
#define CHANNEL_TIMEOUT (10LL * 1000000)

struct generation;

struct instance {
    struct channel ch;
    struct generation *gen;
    char id[DB_UUID_LEN];
    char merchant_id[DB_UUID_LEN];
    char inbound_url[1024];
    const char *error; /* why it could not be made (NULL: made) */
};

struct generation {
    int refs;
    bool current;
    uint64_t epoch;
    size_t n;
    struct instance *items;
    struct arena *a;
};

struct channel_registry {
    struct db *db;
    const struct config *cfg;
    uint8_t key[SECRETBOX_KEY_LEN];
    bool has_key;
    struct net *net;
    const _Atomic bool *cancel;
    struct channel sandbox;
    pthread_mutex_t mu;
    struct generation *gen;
};

static const struct channel_ops *const kinds[] = {
    &channel_sandbox_ops,
    &channel_clickatell_ops,
    &channel_whatsapp_cloud_ops,
    &channel_twilio_ops,
};

const struct channel_ops *channel_kind(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i]->kind, kind) == 0)
            return kinds[i];
    return NULL;
}

void channel_inbound_url(const struct config *cfg, const char *provider_id, const char *token,
                         char *out, size_t cap)
{
    snprintf(out, cap, "%s/hooks/%s/%s", cfg->public_url, provider_id, token);
}

struct channel_registry *channel_registry_new(struct db *db, const struct config *cfg,
                                              const uint8_t *secrets_key, struct net *net,
                                              const _Atomic bool *cancel)
{
    struct channel_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    reg->db = db;
    reg->cfg = cfg;
    reg->net = net;
    reg->cancel = cancel;
    if (secrets_key) {
        memcpy(reg->key, secrets_key, sizeof reg->key);
        reg->has_key = true;
    }
    reg->sandbox = (struct channel){.ops = &channel_sandbox_ops,
                                    .id = "sandbox",
                                    .state = db,
                                    .timeout = CHANNEL_TIMEOUT,
                                    .cancel = cancel};
    pthread_mutex_init(&reg->mu, NULL);
    return reg;
}

static void generation_free(struct generation *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        if (g->items[i].ch.state && g->items[i].ch.ops->destroy)
            g->items[i].ch.ops->destroy(g->items[i].ch.state);
    free(g->items);
    arena_free(g->a);
    free(g);
}

void channel_registry_free(struct channel_registry *reg)
{
    if (!reg)
        return;
    generation_free(reg->gen);
    pthread_mutex_destroy(&reg->mu);
    memset(reg->key, 0, sizeof reg->key);
    free(reg);
}

/* ---- making a generation ----------------------------------------------------------------- */

struct rows {
    struct arena *a;
    struct db_provider *items;
    enum db_environment *envs;
    size_t n, cap;
};

static void collect(void *cls, const struct db_provider *p)
{
    struct rows *r = cls;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct db_provider *items = arena_calloc(r->a, cap, sizeof *items);
        if (r->n)
            memcpy(items, r->items, r->n * sizeof *items);
        r->items = items;
        r->cap = cap;
    }
    r->items[r->n++] = *p;
}

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct rows *r = cls;
    r->n = 0;
    enum db_status st = DB_CALL(tx, providers, list_all, r->a, collect, r);
    if (st < 0)
        return st;
    r->envs = arena_calloc(r->a, r->n ? r->n : 1, sizeof *r->envs);
    for (size_t i = 0; i < r->n; i++) {
        struct db_merchant m;
        st = DB_CALL(tx, merchants, get, r->items[i].merchant_id, &m);
        if (st < 0)
            return st;
        r->envs[i] = st > 0 ? m.environment : ENV_PRODUCTION;
    }
    return DB_ONE_RESULT;
}

static struct generation *build(struct channel_registry *reg, uint64_t epoch)
{
    struct generation *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->a = arena_new(0);
    g->epoch = epoch;
    g->current = true;
    struct rows r = {.a = g->a};
    if (db_run(reg->db, DB_READ, "channel_registry", load_cb, &r) < 0) {
        generation_free(g);
        return NULL;
    }
    g->items = calloc(r.n ? r.n : 1, sizeof *g->items);
    if (!g->items) {
        generation_free(g);
        return NULL;
    }
    for (size_t i = 0; i < r.n; i++) {
        const struct db_provider *p = &r.items[i];
        if (!channel_kind(p->kind))
            continue; /* a payment gateway (gateway/registry.c) */
        struct instance *in = &g->items[g->n++];
        in->gen = g;
        snprintf(in->id, sizeof in->id, "%s", p->id);
        snprintf(in->merchant_id, sizeof in->merchant_id, "%s", p->merchant_id);
        in->ch = (struct channel){.ops = channel_kind(p->kind),
                                  .id = in->id,
                                  .merchant_id = in->merchant_id,
                                  .timeout = CHANNEL_TIMEOUT,
                                  .cancel = reg->cancel};
        if (in->ch.ops == &channel_sandbox_ops) {
            in->error = arena_printf(g->a, "unknown kind %s", p->kind);
            continue;
        }
        const char *why = NULL;
        json_object *settings = secretbox_open_settings(reg->has_key ? reg->key : NULL, p->id,
                                                        p->settings, p->secrets, g->a, &why);
        if (!settings) {
            log_warn("messaging provider %s of merchant %s cannot be used: %s", p->id,
                     p->merchant_id, why);
            in->error = why;
            continue;
        }
        channel_inbound_url(reg->cfg, p->id, p->inbound_token, in->inbound_url,
                            sizeof in->inbound_url);
        in->ch.inbound_url = in->inbound_url;
        const char *url = in->inbound_url;
        struct provider_config cfg = {.provider_id = p->id,
                                      .merchant_id = p->merchant_id,
                                      .settings = settings,
                                      .net = reg->net,
                                      .inbound_url = url,
                                      .test_mode = r.envs[i] == ENV_SANDBOX};
        char err[256] = "";
        in->ch.state = in->ch.ops->create(&cfg, err, sizeof err);
        json_object_put(settings);
        if (!in->ch.state) {
            in->error = arena_printf(g->a, "its settings are not usable: %s", err);
            log_warn("messaging provider %s of merchant %s cannot be used: %s", p->id,
                     p->merchant_id, in->error);
        }
    }
    return g;
}

/* The current generation, made again when the epoch moved; NULL when it
 * cannot be made. Called with the lock held. */
static struct generation *current(struct channel_registry *reg)
{
    uint64_t epoch = db_config_epoch(reg->db);
    if (reg->gen && reg->gen->epoch == epoch)
        return reg->gen;
    struct generation *g = build(reg, epoch);
    if (!g)
        return reg->gen; /* keep serving what there is */
    if (reg->gen) {
        reg->gen->current = false;
        if (reg->gen->refs == 0)
            generation_free(reg->gen);
    }
    reg->gen = g;
    return g;
}

static const struct channel *hold(struct channel_registry *reg, const char *merchant_id,
                                  const char *provider_id, int channel, const char **why)
{
    pthread_mutex_lock(&reg->mu);
    struct generation *g = current(reg);
    const struct channel *found = NULL;
    const char *reason = "no such provider";
    for (size_t i = 0; g && i < g->n; i++) {
        struct instance *in = &g->items[i];
        if (strcmp(in->id, provider_id) != 0 ||
            (merchant_id && strcmp(in->merchant_id, merchant_id) != 0))
            continue;
        if (in->error) {
            reason = in->error;
        } else if (channel >= 0 && !(in->ch.ops->channels & (1u << channel))) {
            reason = "the provider does not carry this channel";
        } else {
            g->refs++;
            found = &in->ch;
        }
        break;
    }
    if (!g)
        reason = "the providers cannot be read";
    /* the reason may live in the generation, which another thread can free
     * once the lock is released: the caller gets this thread's copy (valid
     * until its next call) */
    static _Thread_local char reason_copy[256];
    snprintf(reason_copy, sizeof reason_copy, "%s", reason);
    pthread_mutex_unlock(&reg->mu);
    if (!found && why)
        *why = reason_copy;
    return found;
}

const struct channel *channel_acquire(struct channel_registry *reg, const struct db_merchant *m,
                                      int channel, const char **why)
{
    if (why)
        *why = NULL;
    if (!reg)
        return NULL;
    const char *provider = channel == CHANNEL_WHATSAPP ? m->whatsapp_provider
                           : channel == CHANNEL_SMS    ? m->sms_provider
                                                       : "";
    if (!provider[0]) {
        if (m->environment == ENV_SANDBOX)
            return &reg->sandbox;
        if (why)
            *why = "no provider is selected for this channel";
        return NULL;
    }
    return hold(reg, m->id, provider, channel, why);
}

const struct channel *channel_acquire_provider(struct channel_registry *reg,
                                               const char *provider_id, const char **why)
{
    if (why)
        *why = NULL;
    if (reg && strcmp(provider_id, "sandbox") == 0)
        return &reg->sandbox;
    return reg ? hold(reg, NULL, provider_id, -1, why) : NULL;
}

void channel_release(struct channel_registry *reg, const struct channel *ch)
{
    if (!reg || !ch || ch == &reg->sandbox)
        return;
    const struct instance *in = (const struct instance *)ch;
    struct generation *g = in->gen;
    pthread_mutex_lock(&reg->mu);
    g->refs--;
    bool gone = g->refs == 0 && !g->current;
    pthread_mutex_unlock(&reg->mu);
    if (gone)
        generation_free(g);
}
