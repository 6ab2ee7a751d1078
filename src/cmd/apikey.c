/*
 * apikey.c — `chatpay apikey create|list|revoke`.
 */
#include "cmd/cmd.h"
#include "db/merchants.h"
#include "service/settings.h"

#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

static const char usage[] =
    "usage: chatpay apikey create --merchant MERCHANT_ID [--db URL] [--config FILE] [--json]\n"
    "       chatpay apikey list   --merchant MERCHANT_ID [--db URL] [--config FILE] [--json]\n"
    "       chatpay apikey revoke KEY_ID [--db URL] [--config FILE] [--json]\n"
    "\n"
    "create  a new API key for the merchant, printed once (only its hash is stored).\n"
    "list    the merchant's keys, masked (prefix and last four characters).\n"
    "revoke  stop a key from working; takes effect on the next request.\n";

enum { OPT_MERCHANT = 1, OPT_DB, OPT_CONFIG, OPT_JSON, OPT_HELP };

static const struct option options[] = {
    {"merchant", required_argument, NULL, OPT_MERCHANT},
    {"db", required_argument, NULL, OPT_DB},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct get_ctx {
    const char *id;
    struct db_merchant m;
};

static enum db_status get_merchant_txn(struct db_tx *tx, void *cls)
{
    struct get_ctx *c = cls;
    return DB_CALL(tx, merchants, get, c->id, &c->m);
}

static void list_cb(void *cls, const struct db_api_key *k)
{
    json_object *arr = cls;
    char masked[64];
    snprintf(masked, sizeof masked, "%s****%s", k->prefix, k->last4);
    char ts[40];
    time_format_rfc3339(k->created_at, ts, sizeof ts);
    if (!arr) {
        printf("%-16s  %-24s  %s%s\n", k->id, masked, ts, k->revoked_at ? "  revoked" : "");
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "apiKeyId", json_object_new_string(k->id));
    json_object_object_add(o, "apiKey", json_object_new_string(masked));
    json_object_object_add(o, "createdAt", json_object_new_string(ts));
    json_object_object_add(o, "revoked", json_object_new_boolean(k->revoked_at != 0));
    json_object_array_add(arr, o);
}

struct list_ctx {
    const char *merchant;
    json_object *arr;
};

static enum db_status list_txn(struct db_tx *tx, void *cls)
{
    struct list_ctx *c = cls;
    return DB_CALL(tx, api_keys, list, c->merchant, list_cb, c->arr);
}

struct revoke_ctx {
    const char *id;
};

static enum db_status revoke_txn(struct db_tx *tx, void *cls)
{
    struct revoke_ctx *c = cls;
    struct arena *a = arena_new(0);
    struct svc s = {.tx = tx, .a = a, .now = time_now()};
    enum db_status st = svc_apikey_revoke(&s, c->id);
    arena_free(a);
    return st;
}

int cmd_apikey(int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage_error(usage, "apikey: missing subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    const char *merchant = NULL, *dburl = NULL, *config = NULL;
    bool json = false;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_MERCHANT:
            merchant = optarg;
            break;
        case OPT_DB:
            dburl = optarg;
            break;
        case OPT_CONFIG:
            config = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            return 0;
        default:
            return cmd_usage_error(usage, "apikey %s: unknown or incomplete option %s", sub,
                                   argv[optind]);
        }
    }
    int npos = argc - 1 - optind;
    char **pos = argv + 1 + optind;
    bool is_create = strcmp(sub, "create") == 0, is_list = strcmp(sub, "list") == 0,
         is_revoke = strcmp(sub, "revoke") == 0;
    if (!is_create && !is_list && !is_revoke)
        return cmd_usage_error(usage, "apikey: unknown subcommand \"%s\"", sub);
    if ((is_create || is_list) && (!merchant || npos != 0))
        return cmd_usage_error(usage, "apikey %s: needs --merchant MERCHANT_ID and nothing else",
                               sub);
    if (is_revoke && npos != 1)
        return cmd_usage_error(usage, "apikey revoke: expected one KEY_ID");

    struct config cfg;
    struct db *db = cmd_config_open_db(&cfg, config, dburl);
    if (!db)
        return EXIT_RUNTIME;
    int rc = 0;
    if (is_create || is_list) {
        struct get_ctx g = {.id = merchant};
        enum db_status st = db_run(db, DB_READ, "merchant_get", get_merchant_txn, &g);
        if (st <= 0) {
            rc = st < 0 ? cmd_fail("could not read merchant %s", merchant)
                        : cmd_fail("no merchant %s", merchant);
            goto out;
        }
        if (is_create) {
            char key[API_KEY_MAX];
            struct db_api_key k;
            if (!admin_apikey_create(db, merchant, g.m.environment, key, &k)) {
                rc = cmd_fail("could not store the API key");
                goto out;
            }
            if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "merchantId", json_object_new_string(merchant));
                json_object_object_add(o, "apiKeyId", json_object_new_string(k.id));
                json_object_object_add(o, "apiKey", json_object_new_string(key));
                json_object_object_add(
                    o, "environment", json_object_new_string(db_environment_name(g.m.environment)));
                cmd_print_json(o);
            } else {
                printf("API key id: %s\nAPI key:    %s\n"
                       "The API key is shown only once: store it now.\n",
                       k.id, key);
            }
        } else {
            struct list_ctx l = {.merchant = merchant,
                                 .arr = json ? json_object_new_array() : NULL};
            if (db_run(db, DB_READ, "apikey_list", list_txn, &l) < 0) {
                json_object_put(l.arr);
                rc = cmd_fail("could not list API keys");
                goto out;
            }
            if (l.arr)
                cmd_print_json(l.arr);
        }
    } else {
        struct revoke_ctx c = {.id = pos[0]};
        enum db_status st = db_run(db, DB_WRITE, "apikey_revoke", revoke_txn, &c);
        if (st < 0)
            rc = cmd_fail("could not revoke %s", pos[0]);
        else if (st == 0)
            rc = cmd_fail("no active API key %s", pos[0]);
        else if (json) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "apiKeyId", json_object_new_string(pos[0]));
            json_object_object_add(o, "revoked", json_object_new_boolean(true));
            cmd_print_json(o);
        } else
            printf("API key %s revoked.\n", pos[0]);
    }
out:
    db_close(db);
    return rc;
}
