/*
 * integrator.c — `chatpay integrator add|list`: the applications (integrators)
 * that may create payment links for a merchant.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#include "util/crypto.h"
#include "db/merchants.h"

static const char usage[] =
    "usage: chatpay integrator add  --merchant MERCHANT_ID --name NAME\n"
    "                               --type OMS|CLICKATELL_PRODUCT|APPLICATION\n"
    "                               [--db URL] [--config FILE] [--json]\n"
    "       chatpay integrator list --merchant MERCHANT_ID [--db URL] [--config FILE] [--json]\n"
    "\n"
    "add   register an integrator; it starts ACTIVATED and its applicationId is printed.\n"
    "      Its status is then changed with PUT /api/v2/integration.\n"
    "list  the merchant's integrators.\n";

enum { OPT_MERCHANT = 1, OPT_NAME, OPT_TYPE, OPT_DB, OPT_CONFIG, OPT_JSON, OPT_HELP };

static const struct option options[] = {
    {"merchant", required_argument, NULL, OPT_MERCHANT},
    {"name", required_argument, NULL, OPT_NAME},
    {"type", required_argument, NULL, OPT_TYPE},
    {"db", required_argument, NULL, OPT_DB},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
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
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, c->merchant, &m);
    if (st < 0)
        return st;
    if (st == 0) {
        c->no_merchant = true;
        return DB_ROLLBACK;
    }
    st = DB_CALL(tx, integrators, insert, c->merchant, &c->it);
    if (st < 0)
        return st;
    st = DB_CALL(tx, merchants, touch, c->merchant, c->it.created_at);
    return st < 0 ? st : DB_ONE_RESULT;
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
    return DB_CALL(tx, integrators, list, c->merchant, list_cb, c);
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
        default:
            return cmd_usage_error(usage, "integrator %s: unknown or incomplete option %s", sub,
                                   argv[optind]);
        }
    }
    if (argc - 1 - optind != 0)
        return cmd_usage_error(usage, "integrator %s: unexpected argument \"%s\"", sub,
                               argv[1 + optind]);
    bool is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0;
    if (!is_add && !is_list)
        return cmd_usage_error(usage, "integrator: unknown subcommand \"%s\"", sub);
    if (!merchant)
        return cmd_usage_error(usage, "integrator %s: --merchant is required", sub);
    struct add_ctx c = {.merchant = merchant};
    if (is_add) {
        if (!name || !type)
            return cmd_usage_error(usage, "integrator add: --name and --type are required");
        if (!db_integrator_type_parse(type, &c.it.type))
            return cmd_usage_error(usage, "--type: must be OMS, CLICKATELL_PRODUCT or APPLICATION");
        size_t n = strlen(name);
        if (n == 0 || n > DB_NAME_MAX)
            return cmd_usage_error(usage, "--name: must be 1 to %d characters", DB_NAME_MAX);
        memcpy(c.it.name, name, n + 1);
    } else if (name || type) {
        return cmd_usage_error(usage, "integrator list: takes no --name or --type");
    }

    struct config cfg;
    if (!cmd_config(&cfg, config, dburl))
        return EXIT_RUNTIME;
    struct db *db = cmd_open_db(&cfg);
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
        struct list_ctx l = {.merchant = merchant, .arr = json ? json_object_new_array() : NULL};
        enum db_status st = db_run(db, DB_READ, "integrator_list", list_txn, &l);
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
