/*
 * marketplace.c — `chatpay marketplace client|product|mno ...`: the clients
 * that buy through the marketplace APIs, the product catalogue and the MNO
 * prefix table (docs/marketplace.md).
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "core/currency.h"
#include "db/callbacks.h"
#include "db/marketplace.h"
#include "net/net.h"
#include "service/purchases.h"
#include "util/crypto.h"
#include "util/secretbox.h"

static const char usage[] =
    "usage: chatpay marketplace client create --client-id N --name NAME [--funding-source-id N]\n"
    "                            [--result-url URL] [--require-signature]\n"
    "                            [--environment sandbox|production] [--json]\n"
    "       chatpay marketplace client list [--json]\n"
    "       chatpay marketplace client show CLIENT_ID [--json]\n"
    "       chatpay marketplace client update CLIENT_ID [--name NAME] [--funding-source-id N]\n"
    "                            [--result-url URL|none] [--require-signature]\n"
    "                            [--no-require-signature] [--environment sandbox|production]\n"
    "                            [--json]\n"
    "       chatpay marketplace client disable CLIENT_ID [--json]\n"
    "       chatpay marketplace product add --id N --name NAME\n"
    "                            --type airtime|data|electricity|bill|voucher --vendor NAME\n"
    "                            --currency CUR --min MINOR --max MINOR [--fee MINOR]\n"
    "                            [--inactive] [--json]\n"
    "       chatpay marketplace product list [--json]\n"
    "       chatpay marketplace product update ID [--name NAME] [--vendor NAME] [--min MINOR]\n"
    "                            [--max MINOR] [--fee MINOR] [--active] [--inactive] [--json]\n"
    "       chatpay marketplace mno import FILE [--json]\n"
    "   (each also takes [--db URL] [--config FILE])\n"
    "\n"
    "client create  a client of the marketplace APIs; prints its clientSecret, apiKey and\n"
    "               signatureSecret once (needs secrets_key, the same as the server's).\n"
    "               Ids are 1 to 99999; the funding source defaults to the client id.\n"
    "client update  --environment: a client that changes environment gets a new apiKey\n"
    "               (mak_sandbox_ / mak_live_), printed once; its old key is refused from\n"
    "               the next request.\n"
    "client disable refuses the client's tokens and API key from the next request.\n"
    "product add    a product of the catalogue; amounts in minor units of its currency.\n"
    "mno import     replace the MNO prefix table with FILE's lines: prefix,mno[,countryCode]\n"
    "               (a header line and lines starting with # are skipped).\n";

#define AMOUNT_MAX    999999999999LL
#define PRODUCTS_MAX  10000
#define MNO_LINES_MAX 100000

/* ---- shared ------------------------------------------------------------------------------- */

static bool parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits > 18 || s[digits])
        return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno || v < min || v > max)
        return false;
    *out = v;
    return true;
}

struct common {
    const char *db, *config;
    bool json;
};
/* --json, --db and --config, into a struct common */
#define COMMON_OPTIONS(co)                                                                         \
    {"json", NULL, &(co).json}, {"db", &(co).db, NULL},                                            \
    {                                                                                              \
        "config", &(co).config, NULL                                                               \
    }

static struct db *open_db(const struct common *c, struct config *cfg)
{
    return cmd_config_open_db(cfg, c->config, c->db);
}

/* ---- clients ------------------------------------------------------------------------------ */

static json_object *client_json(const struct db_mp_client *c)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "clientId", json_object_new_int64(c->client_id));
    json_object_object_add(o, "name", json_object_new_string(c->name));
    json_object_object_add(o, "fundingSourceId", json_object_new_int64(c->funding_source_id));
    json_object_object_add(o, "resultUrl",
                           c->result_url ? json_object_new_string(c->result_url) : NULL);
    json_object_object_add(o, "requireSignature", json_object_new_boolean(c->require_signature));
    json_object_object_add(
        o, "environment",
        json_object_new_string(c->environment == ENV_PRODUCTION ? "production" : "sandbox"));
    json_object_object_add(
        o, "status", json_object_new_string(c->status == MP_CLIENT_ACTIVE ? "active" : "disabled"));
    char masked[40];
    snprintf(masked, sizeof masked, "%s****%s", c->api_key_prefix, c->api_key_last4);
    json_object_object_add(o, "apiKey", json_object_new_string(masked));
    return o;
}

static void client_print(const struct db_mp_client *c)
{
    printf("%-5lld  %-10s  %-8s  funding %-5lld  %s%s  %s\n", (long long)c->client_id,
           c->environment == ENV_PRODUCTION ? "production" : "sandbox",
           c->status == MP_CLIENT_ACTIVE ? "active" : "disabled", (long long)c->funding_source_id,
           c->require_signature ? "signed  " : "", c->name,
           c->result_url ? c->result_url : "(no result URL)");
}

/* Check a result URL for a client of environment env: 0, or the exit code
 * after the message. */
static int check_result_url(const char *url, enum db_environment env)
{
    if (strlen(url) > DB_URL_MAX)
        return cmd_usage_error(usage, "--result-url: at most %d bytes", DB_URL_MAX);
    char why[256];
    bool sandbox = env == ENV_SANDBOX;
    enum net_error e = net_check_url(url, sandbox, !sandbox, why, sizeof why);
    if (e == NET_BAD_URL)
        return cmd_usage_error(usage, "--result-url: %s", why);
    if (e != NET_OK)
        return cmd_fail("--result-url: %s%s", why,
                        e == NET_REFUSED_ADDRESS ? " (only sandbox clients may use such addresses)"
                                                 : "");
    return 0;
}

static bool parse_env(const char *s, enum db_environment *out)
{
    if (strcasecmp(s, "sandbox") == 0)
        *out = ENV_SANDBOX;
    else if (strcasecmp(s, "production") == 0)
        *out = ENV_PRODUCTION;
    else
        return false;
    return true;
}

struct client_txn {
    struct db_mp_client c;
    struct arena *a;
    bool exists, missing;
};

static enum db_status insert_txn(struct db_tx *tx, void *cls)
{
    struct client_txn *t = cls;
    enum db_status st = DB_CALL(tx, marketplace, client_insert, &t->c);
    if (st == 0)
        t->exists = true;
    return st == 0 ? DB_ROLLBACK : st;
}

/* "<prefix>" + 43 base62 characters (256 bits) into out[cap]. */
static void credential(const char *prefix, char *out, size_t cap)
{
    char r[44]; /* 43 characters carry 256 bits */
    crypto_random_base62(256, r, sizeof r - 1);
    snprintf(out, cap, "%s%s", prefix, r);
}

/* A new API key of the client's environment into out[64], its SHA-256,
 * prefix and last four characters into c. */
static void new_api_key(struct db_mp_client *c, char *out, size_t cap)
{
    const char *prefix = mp_api_key_prefix(c->environment);
    credential(prefix, out, cap);
    crypto_sha256(out, strlen(out), c->api_key_hash);
    snprintf(c->api_key_prefix, sizeof c->api_key_prefix, "%s", prefix);
    snprintf(c->api_key_last4, sizeof c->api_key_last4, "%s", out + strlen(out) - 4);
}

static int client_create_in(int argc, char **argv, struct arena *a)
{
    struct common co = {0};
    const char *id = NULL, *name = NULL, *funding = NULL, *url = NULL, *env = NULL;
    bool sign = false;
    int rc = cmd_parse_options(argc, argv, "marketplace client create", usage,
                               (const struct cmd_option[]){{"client-id", &id, NULL},
                                                           {"name", &name, NULL},
                                                           {"funding-source-id", &funding, NULL},
                                                           {"result-url", &url, NULL},
                                                           {"require-signature", NULL, &sign},
                                                           {"environment", &env, NULL},
                                                           COMMON_OPTIONS(co),
                                                           {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    struct client_txn t = {.a = a};
    struct db_mp_client *c = &t.c;
    if (!id || !parse_int(id, 1, 99999, &c->client_id))
        return cmd_usage_error(usage, "--client-id: a whole number from 1 to 99999 is required");
    if (!name || !cmd_name_ok(name))
        return cmd_usage_error(usage, "--name: " CMD_NAME_RULE " is required");
    c->funding_source_id = c->client_id;
    if (funding && !parse_int(funding, 1, 99999, &c->funding_source_id))
        return cmd_usage_error(usage, "--funding-source-id: a whole number from 1 to 99999");
    c->environment = ENV_SANDBOX;
    if (env && !parse_env(env, &c->environment))
        return cmd_usage_error(usage, "--environment: sandbox or production");
    if (url && (rc = check_result_url(url, c->environment)) != 0)
        return rc;
    static struct config cfg;
    uint8_t key[SECRETBOX_KEY_LEN];
    if (!cmd_config(&cfg, co.config, co.db))
        return EXIT_RUNTIME;
    if (!config_secrets_key(&cfg, key))
        return cmd_fail("secrets_key is not set: the client's signature secret cannot be sealed "
                        "(set secrets_key in the config file or CHATPAY_SECRETS_KEY, the same "
                        "as the server's)");
    struct db *db = cmd_open_db(&cfg);
    if (!db)
        return EXIT_RUNTIME;
    char secret[64], api_key[64], sig[64];
    credential("mcs_", secret, sizeof secret);
    credential("mss_", sig, sizeof sig);
    crypto_uuid_v4(c->id);
    c->name = name;
    c->result_url = url;
    c->require_signature = sign;
    c->status = MP_CLIENT_ACTIVE;
    crypto_sha256(secret, strlen(secret), c->secret_hash);
    new_api_key(c, api_key, sizeof api_key);
    c->signature_secret = secretbox_seal(key, c->id, sig, strlen(sig), t.a);
    c->created_at = c->updated_at = time_now();
    enum db_status st = db_run(db, DB_WRITE, "mp_client_create", insert_txn, &t);
    db_close(db);
    if (t.exists)
        return cmd_fail("client %lld exists already", (long long)c->client_id);
    if (st < 0)
        return cmd_fail("could not store the client");
    if (co.json) {
        json_object *o = client_json(c);
        json_object_object_add(o, "clientSecret", json_object_new_string(secret));
        json_object_object_add(o, "apiKey", json_object_new_string(api_key));
        json_object_object_add(o, "signatureSecret", json_object_new_string(sig));
        cmd_print_json(o);
    } else {
        client_print(c);
        printf("  clientSecret:    %s\n  apiKey:          %s\n  signatureSecret: %s\n"
               "  (shown once: store them now)\n",
               secret, api_key, sig);
    }
    return 0;
}

static enum db_status get_txn(struct db_tx *tx, void *cls)
{
    struct client_txn *t = cls;
    enum db_status st = DB_CALL(tx, marketplace, client_get, t->c.client_id, t->a, &t->c);
    if (st == 0)
        t->missing = true;
    return st;
}

/* What `client update` and `client disable` change. */
struct update_args {
    const char *name, *funding, *url, *env;
    bool sign, no_sign, disable;
    int64_t funding_v;
    enum db_environment env_v;
    int rc;
    char api_key[64]; /* the new API key when the environment changed, else "" */
};

struct client_update_ctx {
    struct client_txn t;
    struct update_args u;
};

static enum db_status apply_txn(struct db_tx *tx, void *cls)
{
    struct client_update_ctx *x = cls;
    struct client_txn *t = &x->t;
    struct update_args *u = &x->u;
    int64_t client_id = t->c.client_id;
    enum db_status st = DB_CALL(tx, marketplace, client_get, client_id, t->a, &t->c);
    if (st <= 0) {
        t->missing = st == 0;
        return st == 0 ? DB_ROLLBACK : st;
    }
    if (u->name)
        t->c.name = u->name;
    if (u->funding)
        t->c.funding_source_id = u->funding_v;
    if (u->url)
        t->c.result_url = strcmp(u->url, "none") == 0 ? NULL : u->url;
    if (u->sign)
        t->c.require_signature = true;
    if (u->no_sign)
        t->c.require_signature = false;
    /* a key works for one environment (mak_sandbox_ / mak_live_): a client
     * that changes environment gets a new one, and the old one is refused */
    u->api_key[0] = '\0';
    if (u->env && u->env_v != t->c.environment) {
        t->c.environment = u->env_v;
        new_api_key(&t->c, u->api_key, sizeof u->api_key);
    }
    if (u->disable)
        t->c.status = MP_CLIENT_DISABLED;
    /* a production client's URL must be https on a public address */
    if ((u->url || u->env) && t->c.result_url) {
        char why[256];
        bool sandbox = t->c.environment == ENV_SANDBOX;
        if (net_check_url(t->c.result_url, sandbox, !sandbox, why, sizeof why) != NET_OK) {
            u->rc = cmd_fail("result URL %s: %s (only sandbox clients may use it)", t->c.result_url,
                             why);
            return DB_ROLLBACK;
        }
    }
    t->c.updated_at = time_now();
    return DB_CALL(tx, marketplace, client_update, &t->c);
}

static int client_change_in(int argc, char **argv, bool disable, struct arena *a)
{
    struct common co = {0};
    struct client_update_ctx x = {.t.a = a};
    struct update_args *u = &x.u;
    const char *what = disable ? "marketplace client disable" : "marketplace client update";
    if (argc < 2 || argv[1][0] == '-')
        return cmd_usage_error(usage, "%s: CLIENT_ID is required", what);
    if (!parse_int(argv[1], 1, 99999, &x.t.c.client_id))
        return cmd_usage_error(usage, "%s: CLIENT_ID must be a whole number from 1 to 99999", what);
    int rc;
    if (disable)
        rc = cmd_parse_options(argc - 1, argv + 1, what, usage,
                               (const struct cmd_option[]){COMMON_OPTIONS(co), {NULL, NULL, NULL}});
    else
        rc = cmd_parse_options(
            argc - 1, argv + 1, what, usage,
            (const struct cmd_option[]){{"name", &u->name, NULL},
                                        {"funding-source-id", &u->funding, NULL},
                                        {"result-url", &u->url, NULL},
                                        {"require-signature", NULL, &u->sign},
                                        {"no-require-signature", NULL, &u->no_sign},
                                        {"environment", &u->env, NULL},
                                        COMMON_OPTIONS(co),
                                        {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    u->disable = disable;
    if (!disable && !u->name && !u->funding && !u->url && !u->env && !u->sign && !u->no_sign)
        return cmd_usage_error(usage, "marketplace client update: nothing to change");
    if (u->name && !cmd_name_ok(u->name))
        return cmd_usage_error(usage, "--name: " CMD_NAME_RULE);
    if (u->funding && !parse_int(u->funding, 1, 99999, &u->funding_v))
        return cmd_usage_error(usage, "--funding-source-id: a whole number from 1 to 99999");
    if (u->env && !parse_env(u->env, &u->env_v))
        return cmd_usage_error(usage, "--environment: sandbox or production");
    if (u->sign && u->no_sign)
        return cmd_usage_error(usage, "--require-signature and --no-require-signature together");
    if (u->url && strcmp(u->url, "none") != 0 && strlen(u->url) > DB_URL_MAX)
        return cmd_usage_error(usage, "--result-url: at most %d bytes", DB_URL_MAX);
    if (u->url && strcmp(u->url, "none") != 0) {
        char why[256];
        if (net_check_url(u->url, true, false, why, sizeof why) == NET_BAD_URL)
            return cmd_usage_error(usage, "--result-url: %s", why);
    }
    static struct config cfg;
    struct db *db = open_db(&co, &cfg);
    if (!db)
        return EXIT_RUNTIME;
    enum db_status st = db_run(db, DB_WRITE, "mp_client_update", apply_txn, &x);
    db_close(db);
    if (u->rc)
        return u->rc;
    if (x.t.missing)
        return cmd_fail("no client %lld", (long long)x.t.c.client_id);
    if (st < 0)
        return cmd_fail("could not update the client");
    if (co.json) {
        json_object *o = client_json(&x.t.c);
        if (u->api_key[0])
            json_object_object_add(o, "apiKey", json_object_new_string(u->api_key));
        cmd_print_json(o);
    } else {
        client_print(&x.t.c);
        if (u->api_key[0])
            printf("  apiKey:          %s\n"
                   "  (a new API key for the %s environment, shown once: store it now; the old "
                   "key is refused from now on)\n",
                   u->api_key, x.t.c.environment == ENV_PRODUCTION ? "production" : "sandbox");
    }
    return 0;
}

static int client_show_in(int argc, char **argv, struct arena *a)
{
    struct common co = {0};
    struct client_txn t = {.a = a};
    if (argc < 2 || argv[1][0] == '-')
        return cmd_usage_error(usage, "marketplace client show: CLIENT_ID is required");
    if (!parse_int(argv[1], 1, 99999, &t.c.client_id))
        return cmd_usage_error(usage, "CLIENT_ID must be a whole number from 1 to 99999");
    int rc = cmd_parse_options(argc - 1, argv + 1, "marketplace client show", usage,
                               (const struct cmd_option[]){COMMON_OPTIONS(co), {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    static struct config cfg;
    struct db *db = open_db(&co, &cfg);
    if (!db)
        return EXIT_RUNTIME;
    int64_t id = t.c.client_id;
    enum db_status st = db_run(db, DB_READ, "mp_client_show", get_txn, &t);
    db_close(db);
    if (st < 0)
        return cmd_fail("could not read the client");
    if (st == 0)
        return cmd_fail("no client %lld", (long long)id);
    if (co.json)
        cmd_print_json(client_json(&t.c));
    else
        client_print(&t.c);
    return 0;
}

struct list_txn_ctx {
    struct arena *a;
    json_object *arr;
    bool json;
};

static void client_list_cb(void *cls, const struct db_mp_client *c)
{
    struct list_txn_ctx *l = cls;
    if (l->json)
        json_object_array_add(l->arr, client_json(c));
    else
        client_print(c);
}

static enum db_status client_list_txn(struct db_tx *tx, void *cls)
{
    struct list_txn_ctx *l = cls;
    return DB_CALL(tx, marketplace, client_list, l->a, client_list_cb, l);
}

static int client_list_in(int argc, char **argv, struct arena *a)
{
    struct common co = {0};
    int rc = cmd_parse_options(argc, argv, "marketplace client list", usage,
                               (const struct cmd_option[]){COMMON_OPTIONS(co), {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    static struct config cfg;
    struct db *db = open_db(&co, &cfg);
    if (!db)
        return EXIT_RUNTIME;
    struct list_txn_ctx l = {.a = a, .json = co.json};
    l.arr = json_object_new_array();
    enum db_status st = db_run(db, DB_READ, "mp_client_list", client_list_txn, &l);
    db_close(db);
    if (st < 0) {
        json_object_put(l.arr);
        return cmd_fail("could not read the clients");
    }
    if (co.json)
        cmd_print_json(l.arr);
    else
        json_object_put(l.arr);
    return 0;
}

/* ---- products ----------------------------------------------------------------------------- */

static void product_print(const struct db_mp_product *p)
{
    printf("%-5lld  %-11s  %s  %12lld..%-12lld fee %-8lld %-8s  %s (%s)\n", (long long)p->id,
           mp_product_type_name(p->type), p->currency, (long long)p->min_amount,
           (long long)p->max_amount, (long long)p->fee, p->active ? "active" : "inactive", p->name,
           p->vendor);
}

struct product_txn {
    struct db_mp_product p;
    bool exists, full, missing;
    /* update: what was given */
    const char *name, *vendor;
    bool has_min, has_max, has_fee, active, inactive;
    int64_t min, max, fee;
    bool bad_range;
};

static enum db_status product_insert_txn(struct db_tx *tx, void *cls)
{
    struct product_txn *t = cls;
    int64_t n = 0;
    enum db_status st = DB_CALL(tx, marketplace, product_count, &n);
    if (st < 0)
        return st;
    if (n >= PRODUCTS_MAX) {
        t->full = true;
        return DB_ROLLBACK;
    }
    st = DB_CALL(tx, marketplace, product_insert, &t->p);
    if (st == 0)
        t->exists = true;
    return st == 0 ? DB_ROLLBACK : st;
}

bool cmd_marketplace_product_add(struct db *db, const struct db_mp_product *p, char *err,
                                 size_t errlen)
{
    struct product_txn t = {.p = *p};
    enum db_status st = db_run(db, DB_WRITE, "mp_product_add", product_insert_txn, &t);
    if (t.exists)
        snprintf(err, errlen, "product %lld exists already", (long long)p->id);
    else if (t.full)
        snprintf(err, errlen, "the catalogue has %d products, the most it may have", PRODUCTS_MAX);
    else if (st < 0)
        snprintf(err, errlen, "could not store the product");
    return st > 0;
}

static int product_add(int argc, char **argv)
{
    struct common co = {0};
    const char *id = NULL, *name = NULL, *type = NULL, *vendor = NULL, *currency = NULL;
    const char *min = NULL, *max = NULL, *fee = NULL;
    bool inactive = false;
    int rc = cmd_parse_options(argc, argv, "marketplace product add", usage,
                               (const struct cmd_option[]){{"id", &id, NULL},
                                                           {"name", &name, NULL},
                                                           {"type", &type, NULL},
                                                           {"vendor", &vendor, NULL},
                                                           {"currency", &currency, NULL},
                                                           {"min", &min, NULL},
                                                           {"max", &max, NULL},
                                                           {"fee", &fee, NULL},
                                                           {"inactive", NULL, &inactive},
                                                           COMMON_OPTIONS(co),
                                                           {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    struct db_mp_product p = {.active = !inactive};
    if (!id || !parse_int(id, 1, 99999, &p.id))
        return cmd_usage_error(usage, "--id: a whole number from 1 to 99999 is required");
    if (!name || !cmd_name_ok(name))
        return cmd_usage_error(usage, "--name: " CMD_NAME_RULE " is required");
    if (!type || !mp_product_type_parse(type, &p.type))
        return cmd_usage_error(usage, "--type: one of airtime, data, electricity, bill, voucher");
    if (!vendor || !cmd_name_ok(vendor))
        return cmd_usage_error(usage, "--vendor: " CMD_NAME_RULE " is required");
    const struct currency *cur = currency ? currency_find(currency) : NULL;
    if (!cur)
        return cmd_usage_error(usage, "--currency: an ISO 4217 code is required (e.g. NGN)");
    if (!min || !parse_int(min, 1, AMOUNT_MAX, &p.min_amount))
        return cmd_usage_error(usage, "--min: a whole number of minor units from 1 is required");
    if (!max || !parse_int(max, 1, AMOUNT_MAX, &p.max_amount) || p.max_amount < p.min_amount)
        return cmd_usage_error(usage, "--max: a whole number of minor units, at least --min");
    if (fee && !parse_int(fee, 0, AMOUNT_MAX, &p.fee))
        return cmd_usage_error(usage, "--fee: a whole number of minor units from 0");
    snprintf(p.name, sizeof p.name, "%s", name);
    snprintf(p.vendor, sizeof p.vendor, "%s", vendor);
    snprintf(p.currency, sizeof p.currency, "%s", cur->code);
    p.created_at = p.updated_at = time_now();
    static struct config cfg;
    struct db *db = open_db(&co, &cfg);
    if (!db)
        return EXIT_RUNTIME;
    char err[200];
    bool ok = cmd_marketplace_product_add(db, &p, err, sizeof err);
    db_close(db);
    if (!ok)
        return cmd_fail("%s", err);
    if (co.json)
        cmd_print_json(svc_mp_product_json(&p));
    else
        product_print(&p);
    return 0;
}

static enum db_status product_update_txn(struct db_tx *tx, void *cls)
{
    struct product_txn *t = cls;
    enum db_status st = DB_CALL(tx, marketplace, product_get, t->p.id, &t->p);
    if (st <= 0) {
        t->missing = st == 0;
        return st == 0 ? DB_ROLLBACK : st;
    }
    if (t->name)
        snprintf(t->p.name, sizeof t->p.name, "%s", t->name);
    if (t->vendor)
        snprintf(t->p.vendor, sizeof t->p.vendor, "%s", t->vendor);
    if (t->has_min)
        t->p.min_amount = t->min;
    if (t->has_max)
        t->p.max_amount = t->max;
    if (t->has_fee)
        t->p.fee = t->fee;
    if (t->active)
        t->p.active = true;
    if (t->inactive)
        t->p.active = false;
    if (t->p.max_amount < t->p.min_amount) {
        t->bad_range = true;
        return DB_ROLLBACK;
    }
    t->p.updated_at = time_now();
    return DB_CALL(tx, marketplace, product_update, &t->p);
}

static int product_update(int argc, char **argv)
{
    struct common co = {0};
    struct product_txn t = {0};
    const char *min = NULL, *max = NULL, *fee = NULL;
    if (argc < 2 || argv[1][0] == '-')
        return cmd_usage_error(usage, "marketplace product update: ID is required");
    if (!parse_int(argv[1], 1, 99999, &t.p.id))
        return cmd_usage_error(usage, "ID must be a whole number from 1 to 99999");
    int rc = cmd_parse_options(argc - 1, argv + 1, "marketplace product update", usage,
                               (const struct cmd_option[]){{"name", &t.name, NULL},
                                                           {"vendor", &t.vendor, NULL},
                                                           {"min", &min, NULL},
                                                           {"max", &max, NULL},
                                                           {"fee", &fee, NULL},
                                                           {"active", NULL, &t.active},
                                                           {"inactive", NULL, &t.inactive},
                                                           COMMON_OPTIONS(co),
                                                           {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    if (t.name && !cmd_name_ok(t.name))
        return cmd_usage_error(usage, "--name: " CMD_NAME_RULE);
    if (t.vendor && !cmd_name_ok(t.vendor))
        return cmd_usage_error(usage, "--vendor: " CMD_NAME_RULE);
    if (min && !(t.has_min = parse_int(min, 1, AMOUNT_MAX, &t.min)))
        return cmd_usage_error(usage, "--min: a whole number of minor units from 1");
    if (max && !(t.has_max = parse_int(max, 1, AMOUNT_MAX, &t.max)))
        return cmd_usage_error(usage, "--max: a whole number of minor units from 1");
    if (fee && !(t.has_fee = parse_int(fee, 0, AMOUNT_MAX, &t.fee)))
        return cmd_usage_error(usage, "--fee: a whole number of minor units from 0");
    if (t.active && t.inactive)
        return cmd_usage_error(usage, "--active and --inactive together");
    if (t.has_min && t.has_max && t.max < t.min)
        return cmd_usage_error(usage, "--max must be at least --min");
    if (!t.name && !t.vendor && !min && !max && !fee && !t.active && !t.inactive)
        return cmd_usage_error(usage, "marketplace product update: nothing to change");
    static struct config cfg;
    struct db *db = open_db(&co, &cfg);
    if (!db)
        return EXIT_RUNTIME;
    int64_t id = t.p.id;
    enum db_status st = db_run(db, DB_WRITE, "mp_product_update", product_update_txn, &t);
    db_close(db);
    if (t.missing)
        return cmd_fail("no product %lld", (long long)id);
    if (t.bad_range)
        return cmd_fail("the maximum would be below the minimum");
    if (st < 0)
        return cmd_fail("could not update the product");
    if (co.json)
        cmd_print_json(svc_mp_product_json(&t.p));
    else
        product_print(&t.p);
    return 0;
}

static void product_list_cb(void *cls, const struct db_mp_product *p)
{
    struct list_txn_ctx *l = cls;
    if (l->json)
        json_object_array_add(l->arr, svc_mp_product_json(p));
    else
        product_print(p);
}

static enum db_status product_list_txn(struct db_tx *tx, void *cls)
{
    return DB_CALL(tx, marketplace, product_list, -1, product_list_cb, cls);
}

/* Print the catalogue (serve --dev uses it too). */
bool cmd_marketplace_product_print(struct db *db, bool json)
{
    struct list_txn_ctx l = {.json = json};
    l.arr = json_object_new_array();
    enum db_status st = db_run(db, DB_READ, "mp_product_list", product_list_txn, &l);
    if (st >= 0 && json)
        cmd_print_json(l.arr);
    else
        json_object_put(l.arr);
    return st >= 0;
}

static int product_list(int argc, char **argv)
{
    struct common co = {0};
    int rc = cmd_parse_options(argc, argv, "marketplace product list", usage,
                               (const struct cmd_option[]){COMMON_OPTIONS(co), {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    static struct config cfg;
    struct db *db = open_db(&co, &cfg);
    if (!db)
        return EXIT_RUNTIME;
    bool ok = cmd_marketplace_product_print(db, co.json);
    db_close(db);
    return ok ? 0 : cmd_fail("could not read the catalogue");
}

/* ---- MNO prefixes ------------------------------------------------------------------------- */

struct mno_file {
    struct db_mp_mno *rows;
    size_t n;
};

static enum db_status mno_txn(struct db_tx *tx, void *cls)
{
    struct mno_file *f = cls;
    enum db_status st = db_marketplace_ops(tx)->mno_clear(tx);
    for (size_t i = 0; st >= 0 && i < f->n; i++)
        st = DB_CALL(tx, marketplace, mno_insert, &f->rows[i]);
    return st < 0 ? st : DB_ONE_RESULT;
}

static int cmp_prefix(const void *a, const void *b)
{
    return strcmp(((const struct db_mp_mno *)a)->prefix, ((const struct db_mp_mno *)b)->prefix);
}

/* Parse the file's lines into f: 0, or the exit code after the message. */
static int mno_parse(FILE *in, const char *path, struct mno_file *f)
{
    char line[1024];
    size_t lineno = 0, cap = 0;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n')
            return cmd_fail("%s:%zu: line too long", path, lineno);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        if (lineno == 1 && strncasecmp(line, "prefix,", 7) == 0)
            continue;
        if (f->n >= MNO_LINES_MAX)
            return cmd_fail("%s: more than %d prefixes", path, MNO_LINES_MAX);
        char *prefix = line, *mno = strchr(line, ','), *cc = NULL;
        if (mno) {
            *mno++ = '\0';
            cc = strchr(mno, ',');
            if (cc)
                *cc++ = '\0';
        }
        size_t digits = strspn(prefix, "0123456789");
        if (digits == 0 || digits > 15 || prefix[digits])
            return cmd_fail("%s:%zu: the prefix must be 1 to 15 digits", path, lineno);
        if (!mno || !cmd_name_ok(mno))
            return cmd_fail("%s:%zu: the operator's name is missing or not valid", path, lineno);
        if (cc && *cc) {
            size_t k = strspn(cc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
            if (k > 7 || cc[k])
                return cmd_fail("%s:%zu: the country code must be 1 to 7 letters or digits", path,
                                lineno);
        }
        if (f->n == cap) {
            cap = cap ? 2 * cap : 256;
            struct db_mp_mno *rows = realloc(f->rows, cap * sizeof *rows);
            if (!rows)
                return cmd_fail("out of memory");
            f->rows = rows;
        }
        struct db_mp_mno *m = &f->rows[f->n++];
        memset(m, 0, sizeof *m);
        /* lengths checked above */
        snprintf(m->prefix, sizeof m->prefix, "%.15s", prefix);
        snprintf(m->mno, sizeof m->mno, "%.*s", (int)sizeof m->mno - 1, mno);
        snprintf(m->country_code, sizeof m->country_code, "%.7s", cc ? cc : "");
    }
    if (ferror(in))
        return cmd_fail("%s: cannot read it", path);
    if (f->n == 0) /* an empty file is more likely a mistake than a wish to drop them all */
        return cmd_fail("%s: no prefixes in it; the table is kept as it is", path);
    if (f->n > 1) {
        qsort(f->rows, f->n, sizeof *f->rows, cmp_prefix);
        for (size_t i = 1; i < f->n; i++)
            if (strcmp(f->rows[i].prefix, f->rows[i - 1].prefix) == 0)
                return cmd_fail("%s: prefix %s is given more than once", path, f->rows[i].prefix);
    }
    return 0;
}

bool cmd_marketplace_mno_load(struct db *db, const struct db_mp_mno *rows, size_t n)
{
    struct mno_file f = {.rows = (struct db_mp_mno *)rows, .n = n};
    return db_run(db, DB_WRITE, "mp_mno_import", mno_txn, &f) >= 0;
}

static int mno_import(int argc, char **argv)
{
    struct common co = {0};
    if (argc < 2 || argv[1][0] == '-')
        return cmd_usage_error(usage, "marketplace mno import: FILE is required");
    const char *path = argv[1];
    int rc = cmd_parse_options(argc - 1, argv + 1, "marketplace mno import", usage,
                               (const struct cmd_option[]){COMMON_OPTIONS(co), {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    FILE *in = fopen(path, "r");
    if (!in)
        return cmd_fail("%s: %s", path, strerror(errno));
    struct mno_file f = {0};
    rc = mno_parse(in, path, &f);
    fclose(in);
    if (rc) {
        free(f.rows);
        return rc;
    }
    static struct config cfg;
    struct db *db = open_db(&co, &cfg);
    if (!db) {
        free(f.rows);
        return EXIT_RUNTIME;
    }
    bool ok = cmd_marketplace_mno_load(db, f.rows, f.n);
    db_close(db);
    free(f.rows);
    if (!ok)
        return cmd_fail("could not store the prefixes");
    if (co.json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "prefixes", json_object_new_int64((int64_t)f.n));
        cmd_print_json(o);
    } else {
        printf("%zu prefixes imported (the table was replaced)\n", f.n);
    }
    return 0;
}

/* The client commands, each with an arena freed on every way out. */
#define WITH_ARENA(call)                                                                           \
    do {                                                                                           \
        struct arena *a_ = arena_new(0);                                                           \
        int rc_ = call;                                                                            \
        arena_free(a_);                                                                            \
        return rc_;                                                                                \
    } while (0)

static int client_create(int argc, char **argv)
{
    WITH_ARENA(client_create_in(argc, argv, a_));
}

static int client_change(int argc, char **argv, bool disable)
{
    WITH_ARENA(client_change_in(argc, argv, disable, a_));
}

static int client_show(int argc, char **argv)
{
    WITH_ARENA(client_show_in(argc, argv, a_));
}

static int client_list(int argc, char **argv)
{
    WITH_ARENA(client_list_in(argc, argv, a_));
}

/* ---- the command -------------------------------------------------------------------------- */

int cmd_marketplace(int argc, char **argv)
{
    /* "marketplace --help", and "marketplace client --help" too */
    if (argc < 2 || cmd_is_help(argv[1]) || (argc > 2 && cmd_is_help(argv[2]))) {
        if (argc < 2)
            return cmd_usage_error(usage, "marketplace: missing subcommand");
        fputs(usage, stdout);
        return 0;
    }
    const char *what = argv[1], *sub = argc > 2 ? argv[2] : "";
    argc -= 2;
    argv += 2;
    if (strcmp(what, "client") == 0) {
        if (strcmp(sub, "create") == 0)
            return client_create(argc, argv);
        if (strcmp(sub, "list") == 0)
            return client_list(argc, argv);
        if (strcmp(sub, "show") == 0)
            return client_show(argc, argv);
        if (strcmp(sub, "update") == 0)
            return client_change(argc, argv, false);
        if (strcmp(sub, "disable") == 0)
            return client_change(argc, argv, true);
    } else if (strcmp(what, "product") == 0) {
        if (strcmp(sub, "add") == 0)
            return product_add(argc, argv);
        if (strcmp(sub, "list") == 0)
            return product_list(argc, argv);
        if (strcmp(sub, "update") == 0)
            return product_update(argc, argv);
    } else if (strcmp(what, "mno") == 0) {
        if (strcmp(sub, "import") == 0)
            return mno_import(argc, argv);
    }
    return cmd_usage_error(usage, "marketplace: unknown command \"%s %s\"", what, sub);
}
