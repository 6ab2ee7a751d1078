/*
 * integrator.c — `chatpay integrator add|list|update`: the applications
 * (integrators) that may create payment links for a merchant, and where
 * their links' callbacks go.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#include "util/crypto.h"
#include "db/callbacks.h"
#include "db/merchants.h"
#include "service/settings.h"

static const char usage[] =
    "usage: chatpay integrator add  --merchant MERCHANT_ID --name NAME\n"
    "                               --type OMS|CLICKATELL_PRODUCT|APPLICATION\n"
    "                               [--db URL] [--config FILE] [--json]\n"
    "       chatpay integrator list --merchant MERCHANT_ID [--db URL] [--config FILE] [--json]\n"
    "       chatpay integrator update APPLICATION_ID [" CMD_CALLBACK_OPTIONS "]\n"
    "                               [--db URL] [--config FILE] [--json]\n"
    "\n"
    "add     register an integrator; it starts ACTIVATED and its applicationId is printed.\n"
    "        Its status is then changed with PUT /api/v2/integration.\n"
    "list    the merchant's integrators.\n"
    "update  where the callbacks of the integrator's links go (links created with its\n"
    "        applicationId), instead of the merchant's URLs; `none` clears one (the\n"
    "        merchant's is used again). Settings callbacks go to the merchant's URL and\n"
    "        to every integrator's. Production merchants need https URLs on public\n"
    "        addresses.\n";

enum {
    OPT_MERCHANT = 1,
    OPT_NAME,
    OPT_TYPE,
    OPT_DB,
    OPT_CONFIG,
    OPT_JSON,
    OPT_HELP,
    OPT_CB_PAYMENT,
    OPT_CB_EVENT,
    OPT_CB_SETTINGS,
};

static const struct option options[] = {
    {"merchant", required_argument, NULL, OPT_MERCHANT},
    {"name", required_argument, NULL, OPT_NAME},
    {"type", required_argument, NULL, OPT_TYPE},
    {"db", required_argument, NULL, OPT_DB},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {"payment-status-callback", required_argument, NULL, OPT_CB_PAYMENT},
    {"transaction-event-callback", required_argument, NULL, OPT_CB_EVENT},
    {"settings-callback", required_argument, NULL, OPT_CB_SETTINGS},
    {NULL, 0, NULL, 0},
};

struct add_ctx {
    const char *merchant;
    struct db_integrator it;
    bool no_merchant;
};

static enum db_status add_txn(struct db_tx *tx, void *cls)
{
    struct add_ctx *c = cls;
    struct arena *a = arena_new(0);
    struct svc s = {.tx = tx, .a = a, .now = c->it.created_at};
    enum db_status st = svc_integrator_add(&s, c->merchant, &c->it);
    arena_free(a);
    if (st == 0)
        c->no_merchant = true;
    return st == 0 ? DB_ROLLBACK : st;
}

static json_object *integrator_json(const char *merchant, const struct db_integrator *it)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "applicationId", json_object_new_string(it->application_id));
    json_object_object_add(o, "merchantId", json_object_new_string(merchant));
    json_object_object_add(o, "name", json_object_new_string(it->name));
    json_object_object_add(o, "type", json_object_new_string(db_integrator_type_name(it->type)));
    json_object_object_add(o, "status",
                           json_object_new_string(db_integrator_status_name(it->status)));
    return o;
}

struct list_ctx {
    const char *merchant;
    json_object *arr;
    bool no_merchant;
    struct arena *a;
};

static void list_cb(void *cls, const struct db_integrator *it)
{
    struct list_ctx *c = cls;
    if (c->arr)
        json_object_array_add(c->arr, integrator_json(c->merchant, it));
    else
        printf("%s  %-18s  %-11s  %s\n", it->application_id, db_integrator_type_name(it->type),
               db_integrator_status_name(it->status), it->name);
}

static enum db_status list_txn(struct db_tx *tx, void *cls)
{
    struct list_ctx *c = cls;
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, c->merchant, &m);
    if (st <= 0) {
        c->no_merchant = st == 0;
        return st == 0 ? DB_ROLLBACK : st;
    }
    if (c->arr) { /* on a retry, start again */
        json_object_put(c->arr);
        c->arr = json_object_new_array();
    }
    st = DB_CALL(tx, integrators, list, c->merchant, list_cb, c);
    for (size_t i = 0; st >= 0 && c->arr && i < json_object_array_length(c->arr); i++) {
        json_object *it = json_object_array_get_idx(c->arr, i), *v;
        json_object_object_get_ex(it, "applicationId", &v);
        const char *urls[CB_KINDS] = {0};
        st = DB_CALL(tx, callbacks, integrator_urls, c->merchant, json_object_get_string(v), c->a,
                     urls);
        cmd_callbacks_json(it, urls);
    }
    return st;
}

struct update_ctx {
    const char *app_id;
    const struct cmd_callbacks *callbacks;
    char merchant[DB_UUID_LEN];
    struct db_merchant m;
    struct db_integrator it;
    const char *urls[CB_KINDS];
    struct arena *a;
};

/* The integrator's merchant (whose environment the URLs must suit). */
static enum db_status find_txn(struct db_tx *tx, void *cls)
{
    struct update_ctx *c = cls;
    enum db_status st = DB_CALL(tx, callbacks, integrator_merchant, c->app_id, c->merchant);
    if (st <= 0)
        return st;
    return DB_CALL(tx, merchants, get, c->merchant, &c->m);
}

static enum db_status update_txn(struct db_tx *tx, void *cls)
{
    struct update_ctx *c = cls;
    enum db_status st = cmd_callbacks_store(tx, c->merchant, c->app_id, c->callbacks);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    st = DB_CALL(tx, integrators, get, c->merchant, c->app_id, &c->it);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    return DB_CALL(tx, callbacks, integrator_urls, c->merchant, c->app_id, c->a, c->urls);
}

static int do_update(const char *app_id, const struct cmd_callbacks *callbacks, bool json,
                     struct db *db)
{
    struct update_ctx c = {.app_id = app_id, .callbacks = callbacks, .a = arena_new(0)};
    enum db_status st = db_run(db, DB_READ, "integrator_find", find_txn, &c);
    int rc = st < 0    ? cmd_fail("could not read integrator %s", app_id)
             : st == 0 ? cmd_fail("no integrator %s", app_id)
                       : cmd_callbacks_check(callbacks, c.m.environment, usage);
    if (rc == 0) {
        st = db_run(db, DB_WRITE, "integrator_update", update_txn, &c);
        if (st == DB_ROLLBACK)
            rc = cmd_fail("no integrator %s", app_id);
        else if (st < 0)
            rc = cmd_fail("could not update integrator %s", app_id);
    }
    if (rc == 0 && json) {
        json_object *o = integrator_json(c.merchant, &c.it);
        cmd_callbacks_json(o, c.urls);
        cmd_print_json(o);
    } else if (rc == 0) {
        printf("Integrator %s updated.\n", app_id);
        for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS; k++)
            printf("  %-27s %s\n", cmd_callback_option(k),
                   c.urls[k] ? c.urls[k] : "none (the merchant's)");
    }
    arena_free(c.a);
    return rc;
}

int cmd_integrator(int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage_error(usage, "integrator: missing subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    const char *merchant = NULL, *name = NULL, *type = NULL, *dburl = NULL, *config = NULL;
    struct cmd_callbacks callbacks = {0};
    bool json = false;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_MERCHANT:
            merchant = optarg;
            break;
        case OPT_NAME:
            name = optarg;
            break;
        case OPT_TYPE:
            type = optarg;
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
        case OPT_CB_PAYMENT:
            callbacks.arg[CB_PAYMENT_STATUS] = optarg;
            break;
        case OPT_CB_EVENT:
            callbacks.arg[CB_TRANSACTION_EVENT] = optarg;
            break;
        case OPT_CB_SETTINGS:
            callbacks.arg[CB_SETTINGS] = optarg;
            break;
        default:
            return cmd_usage_error(usage, "integrator %s: unknown or incomplete option %s", sub,
                                   argv[optind]);
        }
    }
    bool is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0,
         is_update = strcmp(sub, "update") == 0;
    if (!is_add && !is_list && !is_update)
        return cmd_usage_error(usage, "integrator: unknown subcommand \"%s\"", sub);
    int npos = argc - 1 - optind;
    if (npos != (is_update ? 1 : 0))
        return is_update ? cmd_usage_error(usage, "integrator update: expected one APPLICATION_ID")
                         : cmd_usage_error(usage, "integrator %s: unexpected argument \"%s\"", sub,
                                           argv[1 + optind]);
    if (is_update) {
        if (merchant || name || type)
            return cmd_usage_error(usage, "integrator update: takes no --merchant, --name or "
                                          "--type");
        if (!cmd_callbacks_given(&callbacks))
            return cmd_usage_error(usage, "integrator update: nothing to change");
        struct config cfg;
        struct db *db = cmd_config_open_db(&cfg, config, dburl);
        if (!db)
            return EXIT_RUNTIME;
        int rc = do_update(argv[1 + optind], &callbacks, json, db);
        db_close(db);
        return rc;
    }
    if (cmd_callbacks_given(&callbacks))
        return cmd_usage_error(usage,
                               "integrator %s: the callback URLs are options of "
                               "integrator update",
                               sub);
    if (!merchant)
        return cmd_usage_error(usage, "integrator %s: --merchant is required", sub);
    struct add_ctx c = {.merchant = merchant};
    if (is_add) {
        if (!name || !type)
            return cmd_usage_error(usage, "integrator add: --name and --type are required");
        if (!db_integrator_type_parse(type, &c.it.type))
            return cmd_usage_error(usage, "--type: must be OMS, CLICKATELL_PRODUCT or APPLICATION");
        if (!cmd_name_ok(name))
            return cmd_usage_error(usage, "--name: must be " CMD_NAME_RULE);
        memcpy(c.it.name, name, strlen(name) + 1);
    } else if (name || type) {
        return cmd_usage_error(usage, "integrator list: takes no --name or --type");
    }

    struct config cfg;
    struct db *db = cmd_config_open_db(&cfg, config, dburl);
    if (!db)
        return EXIT_RUNTIME;
    int rc = 0;
    if (is_add) {
        crypto_uuid_v4(c.it.application_id);
        c.it.status = INTEGRATOR_ACTIVATED;
        c.it.created_at = c.it.updated_at = time_now();
        enum db_status st = db_run(db, DB_WRITE, "integrator_add", add_txn, &c);
        if (st == DB_ROLLBACK && c.no_merchant)
            rc = cmd_fail("no merchant %s", merchant);
        else if (st <= 0)
            rc = cmd_fail("could not store the integrator");
        else if (json)
            cmd_print_json(integrator_json(merchant, &c.it));
        else
            printf("Integrator added.\n  applicationId: %s\n  name:          %s\n"
                   "  type:          %s\n  status:        ACTIVATED\n",
                   c.it.application_id, c.it.name, db_integrator_type_name(c.it.type));
    } else {
        struct list_ctx l = {
            .merchant = merchant, .arr = json ? json_object_new_array() : NULL, .a = arena_new(0)};
        enum db_status st = db_run(db, DB_READ, "integrator_list", list_txn, &l);
        arena_free(l.a);
        if (st == DB_ROLLBACK && l.no_merchant) {
            json_object_put(l.arr);
            rc = cmd_fail("no merchant %s", merchant);
        } else if (st < 0) {
            json_object_put(l.arr);
            rc = cmd_fail("could not list integrators");
        } else if (l.arr) {
            cmd_print_json(l.arr);
        }
    }
    db_close(db);
    return rc;
}
