/*
 * optout.c — `chatpay optout list|add|remove`: the numbers that opted out
 * of a merchant's messages (a reply STOP adds one, START removes it). A new
 * link to such a number is refused.
 */
#include "cmd/cmd.h"

#include <json-c/json.h>
#include <string.h>

#include "db/providers.h"
#include "util/json.h"

static const char usage[] =
    "usage: chatpay optout list   --merchant MERCHANT_ID [--json]\n"
    "       chatpay optout add    --merchant MERCHANT_ID --number MSISDN\n"
    "       chatpay optout remove --merchant MERCHANT_ID --number MSISDN\n"
    "                             [--db URL] [--config FILE]\n"
    "\n"
    "MSISDN: the customer's international number, 7 to 15 digits (a leading + is\n"
    "ignored).\n";

struct optout_ctx {
    const char *sub, *merchant;
    char number[16];
    struct arena *a;
    json_object *list;
    bool no_merchant;
};

static void list_cb(void *cls, const char *msisdn, const char *source, usec_t at)
{
    struct optout_ctx *c = cls;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "number", json_object_new_string(msisdn));
    json_object_object_add(o, "source", json_object_new_string(source));
    json_object_object_add(o, "at", json_time(at));
    json_object_array_add(c->list, o);
}

static enum db_status optout_txn(struct db_tx *tx, void *cls)
{
    struct optout_ctx *c = cls;
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, c->merchant, &m);
    if (st <= 0) {
        c->no_merchant = st == 0;
        return st == 0 ? DB_ROLLBACK : st;
    }
    if (strcmp(c->sub, "add") == 0)
        return DB_CALL(tx, providers, optout_add, c->merchant, c->number, "operator", time_now());
    if (strcmp(c->sub, "remove") == 0)
        return DB_CALL(tx, providers, optout_remove, c->merchant, c->number, INT64_MAX);
    json_object_put(c->list);
    c->list = json_object_new_array();
    return DB_CALL(tx, providers, optout_list, c->merchant, c->a, list_cb, c);
}

int cmd_optout(int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage_error(usage, "optout: missing subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    bool list = strcmp(sub, "list") == 0;
    if (!list && strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0)
        return cmd_usage_error(usage, "optout: unknown subcommand \"%s\"", sub);
    const char *merchant = NULL, *number = NULL, *dburl = NULL, *config = NULL;
    bool json = false;
    int rc = cmd_parse_options(argc - 1, argv + 1, "optout", usage,
                               (const struct cmd_option[]){{"merchant", &merchant, NULL},
                                                           {"number", &number, NULL},
                                                           {"db", &dburl, NULL},
                                                           {"config", &config, NULL},
                                                           {"json", NULL, &json},
                                                           {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    if (!merchant)
        return cmd_usage_error(usage, "optout %s: --merchant is required", sub);
    struct optout_ctx c = {.sub = sub, .merchant = merchant, .a = arena_new(0)};
    if (!list) {
        const char *d = number && number[0] == '+' ? number + 1 : number;
        size_t n = d ? strlen(d) : 0;
        if (!d || n < 7 || n > 15 || d[0] == '0' || strspn(d, "0123456789") != n) {
            arena_free(c.a);
            return cmd_usage_error(usage,
                                   "optout %s: --number must be an international phone number "
                                   "(7 to 15 digits, optional leading +, no leading 0)",
                                   sub);
        }
        memcpy(c.number, d, n + 1);
    } else if (number) {
        arena_free(c.a);
        return cmd_usage_error(usage, "optout list: takes no --number");
    }
    struct config cfg;
    struct db *db = cmd_config_open_db(&cfg, config, dburl);
    if (!db) {
        arena_free(c.a);
        return EXIT_RUNTIME;
    }
    enum db_status st = db_run(db, DB_WRITE, "optout", optout_txn, &c);
    db_close(db);
    arena_free(c.a);
    rc = 0;
    if (st == DB_ROLLBACK && c.no_merchant) {
        rc = cmd_fail("no merchant %s", merchant);
    } else if (st < 0) {
        rc = cmd_fail("could not change the opt-out list");
    } else if (list && json) {
        cmd_print_json(c.list);
        c.list = NULL;
    } else if (list) {
        for (size_t i = 0; i < json_object_array_length(c.list); i++) {
            json_object *o = json_object_array_get_idx(c.list, i), *v, *src;
            json_object_object_get_ex(o, "number", &v);
            json_object_object_get_ex(o, "source", &src);
            printf("%-16s %s\n", json_object_get_string(v), json_object_get_string(src));
        }
    } else if (json) {
        /* what the list holds now, and whether this command changed it */
        json_object *o = json_object_new_object();
        json_object_object_add(o, "number", json_object_new_string(c.number));
        json_object_object_add(o, "optedOut", json_object_new_boolean(strcmp(sub, "add") == 0));
        json_object_object_add(o, "changed", json_object_new_boolean(st > 0));
        cmd_print_json(o);
    } else if (strcmp(sub, "add") == 0) {
        printf(st > 0 ? "%s is on the opt-out list now.\n"
                      : "%s was on the opt-out list already.\n",
               c.number);
    } else {
        printf(st > 0 ? "%s is off the opt-out list now.\n" : "%s was not on the opt-out list.\n",
               c.number);
    }
    json_object_put(c.list);
    return rc;
}
