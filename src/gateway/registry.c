/*
 * registry.c — the payment gateway instances of a process (see registry.h).
 */
#include "gateway/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel/registry.h"
#include "config.h"
#include "db/providers.h"
#include "util/log.h"
#include "util/secretbox.h"

struct gateway_registry {
    struct db *db;
    const struct config *cfg;
    uint8_t key[SECRETBOX_KEY_LEN];
    bool has_key;
    struct net *net;
    const _Atomic bool *cancel;
    struct gateway sandbox;
};

/* A configured gateway, made for one use. */
struct held {
    struct gateway g;
    char id[DB_UUID_LEN];
    char merchant_id[DB_UUID_LEN];
};

static const struct gateway_ops *const kinds[] = {&gateway_stripe_ops, &gateway_cybersource_ops};

const struct gateway_ops *gateway_kind(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i]->kind, kind) == 0)
            return kinds[i];
    return NULL;
}

const char *gw_decision_name(enum gw_decision d)
{
    switch (d) {
    case GW_ACCEPT:
        return "ACCEPT";
    case GW_DECLINE:
        return "DECLINE";
    case GW_REVIEW:
        return "REVIEW";
    case GW_ERROR:
        return "ERROR";
    default:
        return "UNKNOWN";
    }
}

void gw_no_answer(struct gw_result *out, const char *why)
{
    memset(out, 0, sizeof *out);
    out->decision = GW_NO_ANSWER;
    snprintf(out->error_text, sizeof out->error_text, "%s", why);
}

bool gw_id_ok(const char *id, size_t max)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
              (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '-'))
            return false;
    return true;
}

bool gateway_fits(bool live, enum db_environment env)
{
    return live == (env == ENV_PRODUCTION);
}

struct gateway_registry *gateway_registry_new(struct db *db, const struct config *cfg,
                                              const uint8_t *secrets_key, struct net *net,
                                              const _Atomic bool *cancel)
{
    struct gateway_registry *reg = calloc(1, sizeof *reg);
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
    reg->sandbox = (struct gateway){.ops = &gateway_sandbox_ops,
                                    .id = "sandbox",
                                    .state = db,
                                    .timeout = GW_TIMEOUT,
                                    .cancel = cancel};
    return reg;
}

void gateway_registry_free(struct gateway_registry *reg)
{
    if (!reg)
        return;
    memset(reg->key, 0, sizeof reg->key);
    free(reg);
}

bool gateway_configured(const struct db_merchant *m)
{
    return m->gateway_provider[0] || m->environment == ENV_SANDBOX;
}

struct load_ctx {
    const char *id, *merchant_id;
    struct arena *a;
    struct db_provider p;
    enum db_environment env;
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct load_ctx *c = cls;
    enum db_status st = DB_CALL(tx, providers, get, c->merchant_id, c->id, c->a, &c->p);
    if (st <= 0)
        return st;
    struct db_merchant m;
    st = DB_CALL(tx, merchants, get, c->p.merchant_id, &m);
    if (st <= 0)
        return st < 0 ? st : DB_NO_RESULTS;
    c->env = m.environment;
    return DB_ONE_RESULT;
}

static _Thread_local char why_copy[256];

static const struct gateway *refuse(const char **why, const char *text)
{
    snprintf(why_copy, sizeof why_copy, "%s", text);
    if (why)
        *why = why_copy;
    return NULL;
}

static const struct gateway *make(struct gateway_registry *reg, const char *id,
                                  const char *merchant_id, const char **why)
{
    struct load_ctx c = {.id = id, .merchant_id = merchant_id, .a = arena_new(0)};
    enum db_status st = db_run(reg->db, DB_READ, "gateway_load", load_cb, &c);
    const struct gateway *out = NULL;
    const struct gateway_ops *ops = st > 0 ? gateway_kind(c.p.kind) : NULL;
    if (st < 0) {
        refuse(why, "the gateway's settings cannot be read");
    } else if (!ops) {
        refuse(why, st == 0 ? "no such gateway" : "the provider is not a payment gateway");
    } else if (!gateway_fits(c.p.live, c.env)) {
        refuse(why, c.p.live ? "live credentials serve production merchants only"
                             : "test credentials serve sandbox merchants only");
    } else {
        const char *reason = NULL;
        json_object *settings = secretbox_open_settings(reg->has_key ? reg->key : NULL, c.p.id,
                                                        c.p.settings, c.p.secrets, c.a, &reason);
        char inbound[1024];
        channel_inbound_url(reg->cfg, c.p.id, c.p.inbound_token, inbound, sizeof inbound);
        struct provider_config cfg = {.provider_id = c.p.id,
                                      .merchant_id = c.p.merchant_id,
                                      .settings = settings,
                                      .net = reg->net,
                                      .inbound_url = inbound,
                                      .test_mode = c.env == ENV_SANDBOX};
        char err[200] = "";
        void *state = settings ? ops->create(&cfg, err, sizeof err) : NULL;
        json_object_put(settings);
        struct held *h = state ? calloc(1, sizeof *h) : NULL;
        if (h) {
            snprintf(h->id, sizeof h->id, "%s", c.p.id);
            snprintf(h->merchant_id, sizeof h->merchant_id, "%s", c.p.merchant_id);
            h->g = (struct gateway){.ops = ops,
                                    .id = h->id,
                                    .merchant_id = h->merchant_id,
                                    .state = state,
                                    .timeout = GW_TIMEOUT,
                                    .cancel = reg->cancel};
            out = &h->g;
        } else {
            if (state && ops->destroy)
                ops->destroy(state);
            refuse(why, reason ? reason : err[0] ? err : "its settings are not usable");
            log_warn("payment gateway %s cannot be used: %s", id, why_copy);
        }
    }
    arena_free(c.a);
    return out;
}

const struct gateway *gateway_acquire_op(struct gateway_registry *reg, const struct db_merchant *m,
                                         const char *gateway_id, const char **why)
{
    if (why)
        *why = NULL;
    if (!reg)
        return refuse(why, "no gateways in this process");
    if (gateway_id[0])
        return make(reg, gateway_id, m->id, why);
    if (m->environment == ENV_SANDBOX)
        return &reg->sandbox;
    return refuse(why, "the sandbox gateway serves sandbox merchants only");
}

const struct gateway *gateway_acquire_provider(struct gateway_registry *reg,
                                               const char *provider_id, const char **why)
{
    if (why)
        *why = NULL;
    return reg ? make(reg, provider_id, NULL, why) : NULL;
}

void gateway_release(struct gateway_registry *reg, const struct gateway *g)
{
    if (!reg || !g || g == &reg->sandbox)
        return;
    struct held *h = (struct held *)g;
    if (h->g.state && h->g.ops->destroy)
        h->g.ops->destroy(h->g.state);
    free(h);
}
