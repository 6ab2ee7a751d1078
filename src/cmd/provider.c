/*
 * provider.c — `chatpay provider add|list|show|update|remove`: a merchant's
 * messaging providers (Clickatell, WhatsApp Cloud, Twilio) and payment
 * gateways (Stripe, CyberSource) and their settings. Secret settings are
 * sealed with the server's secrets_key and never printed again. A gateway's
 * credentials are test or live ones: test ones serve sandbox merchants only,
 * live ones production merchants only.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "channel/channel.h"
#include "channel/registry.h"
#include "gateway/gateway.h"
#include "gateway/registry.h"
#include "db/payments.h"
#include "db/providers.h"
#include "util/crypto.h"
#include "util/json.h"
#include "util/secretbox.h"

static const char usage[] =
    "usage: chatpay provider add --merchant MERCHANT_ID --kind KIND --set NAME=VALUE ...\n"
    "                            --public-url URL [--db URL] [--config FILE] [--json]\n"
    "       chatpay provider list --merchant MERCHANT_ID [--json]\n"
    "       chatpay provider show PROVIDER_ID [--json]\n"
    "       chatpay provider update PROVIDER_ID --set NAME=VALUE ... [--json]\n"
    "       chatpay provider remove PROVIDER_ID\n"
    "\n"
    "KIND and its settings (* required; secret ones are sealed with secrets_key):\n"
    "  clickatell      api_key*(secret) base_url sms_from whatsapp_from\n"
    "  whatsapp-cloud  access_token*(secret) app_secret*(secret) verify_token*(secret)\n"
    "                  phone_number_id* api_version base_url\n"
    "  twilio          account_sid* auth_token*(secret) api_key_sid api_key_secret(secret)\n"
    "                  messaging_service_sid sms_from whatsapp_from base_url\n"
    "  stripe          secret_key*(secret) webhook_secret*(secret) base_url\n"
    "  cybersource     merchant_id* profile_id* access_key* secret_key*(secret)\n"
    "                  key_id* shared_secret*(secret) sa_base_url rest_base_url\n"
    "\n"
    "add      configure a provider; prints its id and the URLs to register with it\n"
    "         (delivery receipts and replies; a gateway's webhook or merchant POST URL).\n"
    "         Select it with `chatpay merchant update ID --sms-provider PROVIDER_ID`,\n"
    "         `--whatsapp-provider PROVIDER_ID` or `--gateway PROVIDER_ID`. A gateway's\n"
    "         test credentials (sk_test_, apitest.cybersource.com) serve sandbox\n"
    "         merchants only, live ones production merchants only.\n"
    "update   change settings (the others are kept); the provider is healthy again.\n"
    "         Secrets sealed with another secrets_key cannot be kept: give every\n"
    "         required secret again to seal them with this one.\n"
    "remove   delete it; refused while the merchant has it selected.\n"
    "The URLs to register are built from --public-url (CHATPAY_PUBLIC_URL, or public_url\n"
    "in the config file), the address the providers reach, as the servers': add needs\n"
    "it; without it the other subcommands show them as <public_url>/hooks/....\n"
    "Secrets need secrets_key (CHATPAY_SECRETS_KEY), the same as the server's.\n";

enum { SETS_MAX = 16 };

struct provider_args {
    const char *merchant, *kind, *db, *config, *id, *public_url;
    const char *sets[SETS_MAX];
    size_t nsets;
    bool json;
};

/* ---- kinds --------------------------------------------------------------------------------- */

/* A kind of provider: a messaging provider's or a gateway's. */
struct kind {
    const char *kind;
    const struct provider_setting *settings;
    void *(*create)(const struct provider_config *cfg, char *err, size_t errlen);
    void (*destroy)(void *state);
    bool (*live)(const struct provider_config *cfg); /* gateways only */
};

static bool kind_of(const char *name, struct kind *out)
{
    const struct channel_ops *ch = name ? channel_kind(name) : NULL;
    if (ch && ch != &channel_sandbox_ops) {
        *out = (struct kind){ch->kind, ch->settings, ch->create, ch->destroy, NULL};
        return true;
    }
    const struct gateway_ops *gw = name ? gateway_kind(name) : NULL;
    if (gw) {
        *out = (struct kind){gw->kind, gw->settings, gw->create, gw->destroy, gw->live};
        return true;
    }
    return false;
}

/* ---- settings ------------------------------------------------------------------------------ */

static const struct provider_setting *find_setting(const struct kind *ops, const char *name)
{
    for (const struct provider_setting *s = ops->settings; s && s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

/* Merge --set NAME=VALUE into the public and secret objects (both owned by
 * the caller). Returns 0 or the exit code after the message. */
static int apply_sets(const struct kind *ops, const struct provider_args *a, json_object *pub,
                      json_object *sec)
{
    for (size_t i = 0; i < a->nsets; i++) {
        const char *eq = strchr(a->sets[i], '=');
        if (!eq || eq == a->sets[i])
            return cmd_usage_error(usage, "--set: expected NAME=VALUE, got \"%s\"", a->sets[i]);
        char name[64];
        size_t n = (size_t)(eq - a->sets[i]);
        if (n >= sizeof name)
            return cmd_usage_error(usage, "--set: unknown setting");
        memcpy(name, a->sets[i], n);
        name[n] = '\0';
        const struct provider_setting *s = find_setting(ops, name);
        if (!s)
            return cmd_usage_error(usage, "--set %s: not a setting of %s (see --help)", name,
                                   ops->kind);
        const char *value = eq + 1;
        size_t len = strlen(value);
        if (len > 1024)
            return cmd_usage_error(usage, "--set %s: at most 1024 characters", name);
        for (size_t k = 0; k < len; k++)
            if ((unsigned char)value[k] < 0x20 || value[k] == 0x7f)
                return cmd_usage_error(usage, "--set %s: control characters are not allowed", name);
        json_object *target = s->secret ? sec : pub;
        json_object_object_del(pub, name);
        json_object_object_del(sec, name);
        if (len)
            json_object_object_add(target, name, json_object_new_string(value));
    }
    for (const struct provider_setting *s = ops->settings; s && s->name; s++)
        if (s->required && !json_object_object_get_ex(s->secret ? sec : pub, s->name, NULL))
            return cmd_usage_error(usage, "%s needs --set %s=VALUE", ops->kind, s->name);
    return 0;
}

/* Is NAME given by one of the --set NAME=VALUE (with a value)? */
static bool set_given(const struct provider_args *a, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < a->nsets; i++)
        if (strncmp(a->sets[i], name, n) == 0 && a->sets[i][n] == '=' && a->sets[i][n + 1])
            return true;
    return false;
}

/* The stored secrets do not open under this secrets_key: an update must
 * give every required secret again. Returns 0 or the exit code after a
 * message listing the missing ones. */
static int secrets_all_given(const struct kind *ops, const struct provider_args *a, const char *id)
{
    char missing[512] = "";
    size_t len = 0;
    for (const struct provider_setting *s = ops->settings; s && s->name; s++)
        if (s->secret && s->required && !set_given(a, s->name)) {
            int n = snprintf(missing + len, sizeof missing - len, "%s--set %s=VALUE",
                             len ? " " : "", s->name);
            if (n > 0 && (size_t)n < sizeof missing - len)
                len += (size_t)n;
        }
    if (!len)
        return 0;
    return cmd_fail("provider %s: its secrets do not open with this secrets_key (sealed with "
                    "another key, or none is set): give every secret again to seal them with "
                    "this one; missing: %s",
                    id, missing);
}

/* Let the kind check the settings as an instance would see them; a
 * gateway's also say whether its credentials are live (*live). */
static int check_settings(const struct kind *ops, json_object *pub, json_object *sec, bool *live)
{
    json_object *all = json_object_new_object();
    json_object_object_foreach(pub, k1, v1) json_object_object_add(all, k1, json_object_get(v1));
    json_object_object_foreach(sec, k2, v2) json_object_object_add(all, k2, json_object_get(v2));
    struct provider_config cfg = {.provider_id = "check",
                                  .merchant_id = "check",
                                  .settings = all,
                                  .inbound_url = "http://check/hooks/check/check"};
    char err[256] = "";
    void *state = ops->create(&cfg, err, sizeof err);
    *live = state && ops->live && ops->live(&cfg);
    json_object_put(all);
    if (!state)
        return cmd_usage_error(usage, "%s settings: %s", ops->kind, err[0] ? err : "not usable");
    if (ops->destroy)
        ops->destroy(state);
    return 0;
}

static const char *seal(const struct config *cfg, const char *id, json_object *sec, struct arena *a,
                        int *rc)
{
    *rc = 0;
    if (json_object_object_length(sec) == 0)
        return "";
    uint8_t key[SECRETBOX_KEY_LEN];
    if (!config_secrets_key(cfg, key)) {
        *rc = cmd_fail("secrets_key is not set: the provider's credentials cannot be sealed "
                       "(set secrets_key in the config file or CHATPAY_SECRETS_KEY, the same "
                       "key as the server's; `openssl rand -hex 32` makes one)");
        return NULL;
    }
    const char *text = json_object_to_json_string_ext(sec, JSON_C_TO_STRING_PLAIN);
    const char *sealed = secretbox_seal(key, id, text, strlen(text), a);
    memset(key, 0, sizeof key);
    if (!sealed)
        *rc = cmd_fail("could not seal the credentials");
    return sealed;
}

/* The provider's secret settings as an object (empty when none are
 * stored), or NULL when they are sealed with another key. */
static json_object *open_secrets(const struct config *cfg, const struct db_provider *p,
                                 struct arena *a)
{
    if (!p->secrets || !p->secrets[0])
        return json_object_new_object();
    uint8_t key[SECRETBOX_KEY_LEN];
    size_t n;
    const char *text =
        config_secrets_key(cfg, key) ? secretbox_open(key, p->id, p->secrets, a, &n) : NULL;
    memset(key, 0, sizeof key);
    json_object *sec = text ? json_tokener_parse(text) : NULL;
    if (sec && !json_object_is_type(sec, json_type_object)) {
        json_object_put(sec);
        sec = NULL;
    }
    return sec;
}

/* ---- output -------------------------------------------------------------------------------- */

static json_object *provider_json(const struct config *cfg, const struct db_provider *p)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "providerId", json_object_new_string(p->id));
    json_object_object_add(o, "merchantId", json_object_new_string(p->merchant_id));
    json_object_object_add(o, "kind", json_object_new_string(p->kind));
    json_object *settings = json_tokener_parse(p->settings ? p->settings : "{}");
    json_object_object_add(o, "settings", settings ? settings : json_object_new_object());
    /* the names of the secrets that are set, never their values */
    struct arena *a = arena_new(0);
    json_object *sec = open_secrets(cfg, p, a), *secrets = NULL;
    arena_free(a);
    if (sec) { /* null when they do not open with this secrets_key */
        secrets = json_object_new_array();
        json_object_object_foreach(sec, name, v)
        {
            (void)v;
            json_object_array_add(secrets, json_object_new_string(name));
        }
        json_object_put(sec);
    }
    json_object_object_add(o, "secretsSet", secrets);
    char base[1024];
    channel_inbound_url(cfg, p->id, p->inbound_token, base, sizeof base);
    json_object *urls = json_object_new_object();
    if (strcmp(p->kind, "whatsapp-cloud") == 0 || strcmp(p->kind, "stripe") == 0) {
        json_object_object_add(urls, "webhook", json_object_new_string(base));
    } else if (strcmp(p->kind, "cybersource") == 0) {
        json_object_object_add(urls, "merchantPost", json_object_new_string(base));
    } else {
        char url[1100];
        snprintf(url, sizeof url, "%s/status", base);
        json_object_object_add(urls, "status", json_object_new_string(url));
        snprintf(url, sizeof url, "%s/reply", base);
        json_object_object_add(urls, "reply", json_object_new_string(url));
    }
    json_object_object_add(o, "inboundUrls", urls);
    if (gateway_kind(p->kind))
        json_object_object_add(o, "live", json_object_new_boolean(p->live));
    json_object_object_add(o, "healthy", json_object_new_boolean(p->healthy));
    json_object_object_add(o, "healthReason",
                           p->health_reason ? json_object_new_string(p->health_reason) : NULL);
    json_object_object_add(o, "createdAt", json_time(p->created_at));
    json_object_object_add(o, "updatedAt", json_time(p->updated_at));
    return o;
}

static void print_provider(const struct config *cfg, const struct db_provider *p, bool json)
{
    json_object *o = provider_json(cfg, p);
    if (json) {
        cmd_print_json(o);
        return;
    }
    printf("providerId: %s\nmerchantId: %s\nkind:       %s\nhealthy:    %s%s%s\n", p->id,
           p->merchant_id, p->kind, p->healthy ? "yes" : "no", p->health_reason ? " — " : "",
           p->health_reason ? p->health_reason : "");
    json_object *settings, *urls;
    json_object_object_get_ex(o, "settings", &settings);
    json_object_object_foreach(settings, k, v) printf("  %-22s %s\n", k, json_object_get_string(v));
    json_object *secrets;
    json_object_object_get_ex(o, "secretsSet", &secrets);
    if (!secrets)
        printf("  (secrets sealed with another secrets_key: not readable here)\n");
    for (size_t i = 0; secrets && i < json_object_array_length(secrets); i++)
        printf("  %-22s (set, not shown)\n",
               json_object_get_string(json_object_array_get_idx(secrets, i)));
    json_object_object_get_ex(o, "inboundUrls", &urls);
    printf("Register with the provider:\n");
    json_object_object_foreach(urls, name, url)
        printf("  %-8s %s\n", name, json_object_get_string(url));
    json_object_put(o);
}

/* ---- subcommands ---------------------------------------------------------------------------- */

struct write_ctx {
    struct db_provider p;
    struct arena *a;
    const char *secrets_in; /* update: the stored secrets (sealed) */
    bool selected;
    bool gateway;      /* a payment gateway: its credentials must fit the merchant */
    bool has_payments; /* remove: payments went through it */
    bool misfit;       /* they do not */
};

static int misfit_error(bool live)
{
    return cmd_fail(live ? "live credentials serve production merchants only: this merchant is "
                           "in the sandbox (use test credentials, e.g. sk_test_…)"
                         : "test credentials serve sandbox merchants only: this merchant is in "
                           "production (use live credentials, e.g. sk_live_…)");
}

static enum db_status add_txn(struct db_tx *tx, void *cls)
{
    struct write_ctx *c = cls;
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, c->p.merchant_id, &m);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    if (c->gateway && !gateway_fits(c->p.live, m.environment)) {
        c->misfit = true;
        return DB_ROLLBACK;
    }
    st = DB_CALL(tx, providers, insert, &c->p);
    return st < 0 ? st : DB_ONE_RESULT;
}

static int do_add(struct provider_args *a, struct db *db, const struct config *cfg)
{
    struct kind k;
    const struct kind *ops = &k;
    if (!a->merchant || !kind_of(a->kind, &k))
        return cmd_usage_error(usage, "provider add: --merchant and --kind "
                                      "clickatell|whatsapp-cloud|twilio|stripe|cybersource are "
                                      "required");
    json_object *pub = json_object_new_object(), *sec = json_object_new_object();
    bool live = false;
    int rc = apply_sets(ops, a, pub, sec);
    if (rc == 0)
        rc = check_settings(ops, pub, sec, &live);
    struct write_ctx c = {.a = arena_new(0), .gateway = ops->live != NULL};
    c.p.live = live;
    if (rc == 0) {
        char r[24];
        crypto_random_base62(96, r, 17);
        snprintf(c.p.id, sizeof c.p.id, "prv_%s", r);
        snprintf(c.p.merchant_id, sizeof c.p.merchant_id, "%s", a->merchant);
        snprintf(c.p.kind, sizeof c.p.kind, "%s", ops->kind);
        crypto_random_base62(256, c.p.inbound_token, 43);
        c.p.settings =
            arena_strdup(c.a, json_object_to_json_string_ext(pub, JSON_C_TO_STRING_PLAIN));
        c.p.secrets = seal(cfg, c.p.id, sec, c.a, &rc);
        c.p.healthy = true;
        c.p.created_at = c.p.updated_at = time_now();
    }
    json_object_put(pub);
    json_object_put(sec);
    if (rc == 0) {
        enum db_status st = db_run(db, DB_WRITE, "provider_add", add_txn, &c);
        if (st == DB_ROLLBACK && c.misfit)
            rc = misfit_error(c.p.live);
        else if (st == DB_ROLLBACK)
            rc = cmd_fail("no merchant %s", a->merchant);
        else if (st < 0)
            rc = cmd_fail("could not store the provider");
        else
            print_provider(cfg, &c.p, a->json);
    }
    arena_free(c.a);
    return rc;
}

struct read_ctx {
    const char *id, *merchant;
    struct arena *a;
    struct db_provider p;
    json_object *list;
    const struct config *cfg;
};

static enum db_status get_txn(struct db_tx *tx, void *cls)
{
    struct read_ctx *c = cls;
    return DB_CALL(tx, providers, get, NULL, c->id, c->a, &c->p);
}

static void list_cb(void *cls, const struct db_provider *p)
{
    struct read_ctx *c = cls;
    json_object_array_add(c->list, provider_json(c->cfg, p));
}

static enum db_status list_txn(struct db_tx *tx, void *cls)
{
    struct read_ctx *c = cls;
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, c->merchant, &m);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    json_object_put(c->list);
    c->list = json_object_new_array();
    return DB_CALL(tx, providers, list, c->merchant, c->a, list_cb, c);
}

static int do_list(struct provider_args *a, struct db *db, const struct config *cfg)
{
    if (!a->merchant)
        return cmd_usage_error(usage, "provider list: --merchant is required");
    struct read_ctx c = {.merchant = a->merchant, .a = arena_new(0), .cfg = cfg};
    enum db_status st = db_run(db, DB_READ, "provider_list", list_txn, &c);
    arena_free(c.a);
    if (st < 0 || st == DB_ROLLBACK) {
        json_object_put(c.list);
        return st == DB_ROLLBACK ? cmd_fail("no merchant %s", a->merchant)
                                 : cmd_fail("could not list providers");
    }
    if (a->json) {
        cmd_print_json(c.list);
        return 0;
    }
    for (size_t i = 0; i < json_object_array_length(c.list); i++) {
        json_object *o = json_object_array_get_idx(c.list, i), *id, *kind, *healthy;
        json_object_object_get_ex(o, "providerId", &id);
        json_object_object_get_ex(o, "kind", &kind);
        json_object_object_get_ex(o, "healthy", &healthy);
        printf("%-22s %-15s %s\n", json_object_get_string(id), json_object_get_string(kind),
               json_object_get_boolean(healthy) ? "healthy" : "unhealthy");
    }
    json_object_put(c.list);
    return 0;
}

static int do_show(struct provider_args *a, struct db *db, const struct config *cfg)
{
    struct read_ctx c = {.id = a->id, .a = arena_new(0)};
    enum db_status st = db_run(db, DB_READ, "provider_show", get_txn, &c);
    int rc = st < 0    ? cmd_fail("could not read provider %s", a->id)
             : st == 0 ? cmd_fail("no provider %s", a->id)
                       : 0;
    if (rc == 0)
        print_provider(cfg, &c.p, a->json);
    arena_free(c.a);
    return rc;
}

static enum db_status update_txn(struct db_tx *tx, void *cls)
{
    struct write_ctx *c = cls;
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, c->p.merchant_id, &m);
    if (st < 0)
        return st;
    if (st > 0 && c->gateway && !gateway_fits(c->p.live, m.environment)) {
        c->misfit = true;
        return DB_ROLLBACK;
    }
    st = DB_CALL(tx, providers, update, &c->p);
    return st == 0 ? DB_ROLLBACK : st;
}

static int do_update(struct provider_args *a, struct db *db, const struct config *cfg)
{
    if (a->nsets == 0)
        return cmd_usage_error(usage, "provider update: nothing to change (--set NAME=VALUE)");
    struct read_ctx r = {.id = a->id, .a = arena_new(0)};
    enum db_status st = db_run(db, DB_READ, "provider_get", get_txn, &r);
    if (st <= 0) {
        arena_free(r.a);
        return st < 0 ? cmd_fail("could not read provider %s", a->id)
                      : cmd_fail("no provider %s", a->id);
    }
    struct kind k;
    const struct kind *ops = kind_of(r.p.kind, &k) ? &k : NULL;
    bool live = false;
    json_object *pub = json_tokener_parse(r.p.settings ? r.p.settings : "{}");
    json_object *sec = NULL;
    int rc = 0;
    if (!ops || !pub)
        rc = cmd_fail("provider %s has an unknown kind or unreadable settings", a->id);
    if (rc == 0)
        sec = open_secrets(cfg, &r.p, r.a);
    if (rc == 0 && !sec) {
        /* sealed with another secrets_key (the key was changed): the old
         * secrets are lost, so every secret the kind needs must be given
         * again; they are sealed under this key */
        sec = json_object_new_object();
        rc = secrets_all_given(ops, a, a->id);
    }
    if (rc == 0)
        rc = apply_sets(ops, a, pub, sec);
    if (rc == 0)
        rc = check_settings(ops, pub, sec, &live);
    struct write_ctx c = {.p = r.p, .a = r.a, .gateway = ops && ops->live};
    c.p.live = live;
    if (rc == 0) {
        c.p.settings =
            arena_strdup(r.a, json_object_to_json_string_ext(pub, JSON_C_TO_STRING_PLAIN));
        c.p.secrets = seal(cfg, c.p.id, sec, r.a, &rc);
        c.p.updated_at = time_now();
        c.p.healthy = true;
        c.p.health_reason = NULL;
    }
    json_object_put(pub);
    json_object_put(sec);
    if (rc == 0) {
        st = db_run(db, DB_WRITE, "provider_update", update_txn, &c);
        if (st == DB_ROLLBACK && c.misfit)
            rc = misfit_error(c.p.live);
        else if (st < 0 || st == DB_ROLLBACK)
            rc = cmd_fail("could not update provider %s", a->id);
        else
            print_provider(cfg, &c.p, a->json);
    }
    arena_free(r.a);
    return rc;
}

static enum db_status remove_txn(struct db_tx *tx, void *cls)
{
    struct write_ctx *c = cls;
    enum db_status st = DB_CALL(tx, providers, get, NULL, c->p.id, c->a, &c->p);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    struct db_merchant m;
    st = DB_CALL(tx, merchants, get, c->p.merchant_id, &m);
    if (st < 0)
        return st;
    if (st > 0 &&
        (strcmp(m.sms_provider, c->p.id) == 0 || strcmp(m.whatsapp_provider, c->p.id) == 0 ||
         strcmp(m.gateway_provider, c->p.id) == 0)) {
        c->selected = true;
        return DB_ROLLBACK;
    }
    /* a gateway's payments are captured, returned and refunded through it */
    st = DB_CALL(tx, payments, uses_gateway, c->p.merchant_id, c->p.id);
    if (st < 0)
        return st;
    if (st > 0) {
        c->has_payments = true;
        return DB_ROLLBACK;
    }
    return DB_CALL(tx, providers, remove, c->p.merchant_id, c->p.id);
}

static int do_remove(struct provider_args *a, struct db *db)
{
    struct write_ctx c = {.a = arena_new(0)};
    snprintf(c.p.id, sizeof c.p.id, "%s", a->id);
    enum db_status st = db_run(db, DB_WRITE, "provider_remove", remove_txn, &c);
    arena_free(c.a);
    if (st == DB_ROLLBACK && c.has_payments)
        return cmd_fail("provider %s has payments, which are captured, returned and refunded "
                        "through it: select another gateway with `chatpay merchant update "
                        "--gateway` instead of removing it",
                        a->id);
    if (st == DB_ROLLBACK && c.selected)
        return cmd_fail("provider %s is selected by its merchant: select another (or none) "
                        "with `chatpay merchant update` first",
                        a->id);
    if (st == DB_ROLLBACK)
        return cmd_fail("no provider %s", a->id);
    if (st < 0)
        return cmd_fail("could not remove provider %s", a->id);
    if (a->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "providerId", json_object_new_string(a->id));
        json_object_object_add(o, "removed", json_object_new_boolean(true));
        cmd_print_json(o);
    } else {
        printf("Provider %s removed.\n", a->id);
    }
    return 0;
}

int cmd_provider(int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage_error(usage, "provider: missing subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    enum {
        OPT_MERCHANT = 1,
        OPT_KIND,
        OPT_SET,
        OPT_DB,
        OPT_CONFIG,
        OPT_PUBLIC_URL,
        OPT_JSON,
        OPT_HELP
    };
    static const struct option options[] = {
        {"merchant", required_argument, NULL, OPT_MERCHANT},
        {"kind", required_argument, NULL, OPT_KIND},
        {"set", required_argument, NULL, OPT_SET},
        {"db", required_argument, NULL, OPT_DB},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct provider_args a = {0};
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_MERCHANT:
            a.merchant = optarg;
            break;
        case OPT_KIND:
            a.kind = optarg;
            break;
        case OPT_SET:
            if (a.nsets == SETS_MAX)
                return cmd_usage_error(usage, "--set: at most %d", SETS_MAX);
            a.sets[a.nsets++] = optarg;
            break;
        case OPT_DB:
            a.db = optarg;
            break;
        case OPT_CONFIG:
            a.config = optarg;
            break;
        case OPT_PUBLIC_URL:
            a.public_url = optarg;
            break;
        case OPT_JSON:
            a.json = true;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            return 0;
        default:
            return cmd_usage_error(usage, "provider %s: unknown or incomplete option %s", sub,
                                   argv[optind]);
        }
    }
    int npos = argc - 1 - optind;
    bool add = strcmp(sub, "add") == 0, list = strcmp(sub, "list") == 0;
    bool show = strcmp(sub, "show") == 0, update = strcmp(sub, "update") == 0,
         remove = strcmp(sub, "remove") == 0;
    if (!add && !list && !show && !update && !remove)
        return cmd_usage_error(usage, "provider: unknown subcommand \"%s\"", sub);
    if ((show || update || remove) != (npos == 1) || npos > 1)
        return cmd_usage_error(usage, "provider %s: %s", sub,
                               show || update || remove ? "expected one PROVIDER_ID"
                                                        : "unexpected argument");
    if (npos == 1)
        a.id = argv[1 + optind];
    if ((a.kind && !add) || (a.merchant && !add && !list) || (a.nsets && !add && !update))
        return cmd_usage_error(usage, "provider %s: --kind, --merchant or --set do not apply", sub);
    static struct config cfg;
    if (!cmd_config(&cfg, a.config, a.db))
        return EXIT_RUNTIME;
    char err[600];
    if (a.public_url && !config_set(&cfg, "public_url", a.public_url, err, sizeof err))
        return cmd_usage_error(usage, "--public-url: %s", err);
    /* the URLs add prints are registered with the provider: they must be
     * the address it reaches, never the loopback default */
    if (add && !config_public_url_ok(&cfg, true, err, sizeof err))
        return cmd_fail("provider add: %s", err);
    if (!config_finish(&cfg, err, sizeof err))
        return cmd_fail("%s", err);
    if (!cfg.public_url_set) /* shown, not guessed */
        snprintf(cfg.public_url, sizeof cfg.public_url, "<public_url>");
    struct db *db = cmd_open_db(&cfg);
    if (!db)
        return EXIT_RUNTIME;
    int rc = add      ? do_add(&a, db, &cfg)
             : list   ? do_list(&a, db, &cfg)
             : show   ? do_show(&a, db, &cfg)
             : update ? do_update(&a, db, &cfg)
                      : do_remove(&a, db);
    db_close(db);
    return rc;
}
