/*
 * whatsapp.c — `chatpay whatsapp number|payment-config
 * add|list|disable|enable`: a merchant's WhatsApp business numbers and
 * WhatsApp Pay payment configurations (docs/whatsapp-pay.md).
 */
#include "cmd/cmd.h"

#include <json-c/json.h>
#include <string.h>

#include "db/merchants.h"
#include "db/whatsapp.h"

static const char usage[] =
    "usage: chatpay whatsapp number add --merchant ID --phone-number-id PNID\n"
    "                                   --display-number MSISDN [--json]\n"
    "       chatpay whatsapp number list --merchant ID [--json]\n"
    "       chatpay whatsapp number disable|enable --merchant ID --phone-number-id PNID\n"
    "                                   [--json]\n"
    "       chatpay whatsapp payment-config add --merchant ID --name CONFIG_ID\n"
    "                      --gateway sandbox|razorpay|payu|billdesk|zaakpay [--json]\n"
    "       chatpay whatsapp payment-config list --merchant ID [--json]\n"
    "       chatpay whatsapp payment-config disable|enable --merchant ID --name CONFIG_ID\n"
    "                                   [--json]\n"
    "   (each also takes [--db URL] [--config FILE])\n"
    "\n"
    "number          a WhatsApp business number of the merchant: WhatsApp's phone number id\n"
    "                (1 to 64 digits, unique) and the number customers see (its MSISDN).\n"
    "payment-config  a WhatsApp Pay payment configuration (the name orders give as\n"
    "                payment_configuration: 1 to 64 of A-Z a-z 0-9 _ -) and its gateway.\n"
    "At most 100 of each per merchant. Disabled ones count as not registered for new\n"
    "orders (and their orders' pages take no payment); the orders sent with them can\n"
    "still be looked up and refunded. enable undoes disable.\n";

#define PER_MERCHANT_MAX 100

struct args {
    const char *merchant, *pnid, *display, *name, *gateway, *db, *config;
    bool json;
};

struct wa_txn {
    const struct args *a;
    bool number; /* else a configuration */
    int op;      /* 0 add, 1 list, 2 disable, 3 enable */
    struct db_wa_number n;
    struct db_wa_config c;
    json_object *list;
    bool no_merchant, exists, missing, full;
    int count;
};

static json_object *number_json(const struct db_wa_number *n)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "phoneNumberId", json_object_new_string(n->phone_number_id));
    json_object_object_add(o, "merchantId", json_object_new_string(n->merchant_id));
    json_object_object_add(o, "displayNumber", json_object_new_string(n->display_number));
    json_object_object_add(o, "enabled", json_object_new_boolean(n->enabled));
    return o;
}

static json_object *config_json(const struct db_wa_config *c)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(c->name));
    json_object_object_add(o, "merchantId", json_object_new_string(c->merchant_id));
    json_object_object_add(o, "gateway", json_object_new_string(c->gateway));
    json_object_object_add(o, "enabled", json_object_new_boolean(c->enabled));
    return o;
}

static void number_cb(void *cls, const struct db_wa_number *n)
{
    struct wa_txn *t = cls;
    t->count++;
    if (t->list)
        json_object_array_add(t->list, number_json(n));
}

static void config_cb(void *cls, const struct db_wa_config *c)
{
    struct wa_txn *t = cls;
    t->count++;
    if (t->list)
        json_object_array_add(t->list, config_json(c));
}

static enum db_status wa_txn(struct db_tx *tx, void *cls)
{
    struct wa_txn *t = cls;
    const char *mid = t->a->merchant;
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, mid, &m);
    if (st <= 0) {
        t->no_merchant = st == 0;
        return st == 0 ? DB_ROLLBACK : st;
    }
    usec_t now = time_now();
    json_object_put(t->list); /* a retry starts again */
    t->list = json_object_new_array();
    t->count = 0;
    if (t->op == 1 || t->op == 0) {
        st = t->number ? DB_CALL(tx, whatsapp, number_list, mid, number_cb, t)
                       : DB_CALL(tx, whatsapp, config_list, mid, config_cb, t);
        if (st < 0 || t->op == 1)
            return st;
        if (t->count >= PER_MERCHANT_MAX) {
            t->full = true;
            return DB_ROLLBACK;
        }
        st = t->number ? DB_CALL(tx, whatsapp, number_add, &t->n)
                       : DB_CALL(tx, whatsapp, config_add, &t->c);
        if (st == 0)
            t->exists = true;
        return st == 0 ? DB_ROLLBACK : st;
    }
    bool on = t->op == 3;
    st = t->number ? DB_CALL(tx, whatsapp, number_enable, mid, t->a->pnid, on, now)
                   : DB_CALL(tx, whatsapp, config_enable, mid, t->a->name, on, now);
    if (st == 0)
        t->missing = true;
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    st = t->number ? DB_CALL(tx, whatsapp, number_get, mid, t->a->pnid, &t->n)
                   : DB_CALL(tx, whatsapp, config_get, mid, t->a->name, &t->c);
    return st;
}

static bool all_of(const char *s, const char *set, size_t min, size_t max)
{
    size_t n = strlen(s);
    return n >= min && n <= max && strspn(s, set) == n;
}

#define DIGITS     "0123456789"
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

int cmd_whatsapp(int argc, char **argv)
{
    /* "whatsapp --help", and "whatsapp number --help" too */
    if (argc < 2 || cmd_is_help(argv[1]) || (argc > 2 && cmd_is_help(argv[2]))) {
        if (argc < 2)
            return cmd_usage_error(usage, "whatsapp: missing subcommand");
        fputs(usage, stdout);
        return 0;
    }
    struct args a = {0};
    struct wa_txn t = {.a = &a};
    const char *what = argv[1], *sub = argc > 2 ? argv[2] : "";
    t.number = strcmp(what, "number") == 0;
    if (!t.number && strcmp(what, "payment-config") != 0)
        return cmd_usage_error(usage, "whatsapp: unknown command \"%s\"", what);
    t.op = strcmp(sub, "add") == 0       ? 0
           : strcmp(sub, "list") == 0    ? 1
           : strcmp(sub, "disable") == 0 ? 2
           : strcmp(sub, "enable") == 0  ? 3
                                         : -1;
    if (t.op < 0)
        return cmd_usage_error(usage, "whatsapp %s: unknown command \"%s\"", what, sub);
    int rc = cmd_parse_options(argc - 2, argv + 2, "whatsapp", usage,
                               (const struct cmd_option[]){{"merchant", &a.merchant, NULL},
                                                           {"phone-number-id", &a.pnid, NULL},
                                                           {"display-number", &a.display, NULL},
                                                           {"name", &a.name, NULL},
                                                           {"gateway", &a.gateway, NULL},
                                                           {"json", NULL, &a.json},
                                                           {"db", &a.db, NULL},
                                                           {"config", &a.config, NULL},
                                                           {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    rc = 0;
    if (!a.merchant)
        return cmd_usage_error(usage, "--merchant is required");
    /* an option the command does not take is a mistake, not something to drop */
    static const char *const subs[] = {"add", "list", "disable", "enable"};
    const struct {
        const char *name, *value;
        bool taken;
    } given[] = {
        {"phone-number-id", a.pnid, t.number && t.op != 1},
        {"display-number", a.display, t.number && t.op == 0},
        {"name", a.name, !t.number && t.op != 1},
        {"gateway", a.gateway, !t.number && t.op == 0},
    };
    for (size_t i = 0; i < sizeof given / sizeof given[0]; i++)
        if (given[i].value && !given[i].taken)
            return cmd_usage_error(usage, "whatsapp %s %s: takes no --%s", what, subs[t.op],
                                   given[i].name);
    if (t.number && t.op != 1 && (!a.pnid || !all_of(a.pnid, DIGITS, 1, WA_ID_MAX)))
        return cmd_usage_error(usage, "--phone-number-id: 1 to %d digits are required", WA_ID_MAX);
    if (!t.number && t.op != 1 && (!a.name || !all_of(a.name, NAME_CHARS, 1, WA_ID_MAX)))
        return cmd_usage_error(usage, "--name: 1 to %d of A-Z a-z 0-9 _ - are required", WA_ID_MAX);
    usec_t now = time_now();
    if (t.number && t.op == 0) {
        const char *d = a.display ? a.display : "";
        if (*d == '+')
            d++;
        if (!all_of(d, DIGITS, 7, 15) || d[0] == '0')
            return cmd_usage_error(usage, "--display-number: an MSISDN of 7 to 15 digits");
        snprintf(t.n.phone_number_id, sizeof t.n.phone_number_id, "%s", a.pnid);
        snprintf(t.n.merchant_id, sizeof t.n.merchant_id, "%s", a.merchant);
        snprintf(t.n.display_number, sizeof t.n.display_number, "%s", d);
        t.n.enabled = true;
        t.n.created_at = t.n.updated_at = now;
    }
    if (!t.number && t.op == 0) {
        static const char *const gateways[] = {"sandbox", "razorpay", "payu", "billdesk",
                                               "zaakpay"};
        bool ok = false;
        for (size_t i = 0; a.gateway && i < 5; i++)
            ok |= strcmp(a.gateway, gateways[i]) == 0;
        if (!ok)
            return cmd_usage_error(usage,
                                   "--gateway: sandbox, razorpay, payu, billdesk or zaakpay");
        snprintf(t.c.merchant_id, sizeof t.c.merchant_id, "%s", a.merchant);
        snprintf(t.c.name, sizeof t.c.name, "%s", a.name);
        snprintf(t.c.gateway, sizeof t.c.gateway, "%s", a.gateway);
        t.c.enabled = true;
        t.c.created_at = t.c.updated_at = now;
    }
    static struct config cfg;
    struct db *db = cmd_config_open_db(&cfg, a.config, a.db);
    if (!db)
        return EXIT_RUNTIME;
    enum db_status st = db_run(db, t.op == 1 ? DB_READ : DB_WRITE, "whatsapp", wa_txn, &t);
    db_close(db);
    if (t.no_merchant)
        rc = cmd_fail("no merchant %s", a.merchant);
    else if (t.exists)
        rc = t.number ? cmd_fail("phone number id %s is registered already", a.pnid)
                      : cmd_fail("the merchant has a payment configuration %s already", a.name);
    else if (t.full)
        rc = cmd_fail("the merchant has %d already, the most it may have", PER_MERCHANT_MAX);
    else if (t.missing)
        rc = t.number ? cmd_fail("the merchant has no number %s", a.pnid)
                      : cmd_fail("the merchant has no payment configuration %s", a.name);
    else if (st < 0)
        rc = cmd_fail("the database failed");
    if (rc) {
        json_object_put(t.list);
        return rc;
    }
    json_object *out = t.op == 1  ? json_object_get(t.list)
                       : t.number ? number_json(&t.n)
                                  : config_json(&t.c);
    json_object_put(t.list);
    if (a.json) {
        cmd_print_json(out);
        return 0;
    }
    if (t.op == 1) {
        for (size_t i = 0; i < json_object_array_length(out); i++) {
            json_object *o = json_object_array_get_idx(out, i);
            printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        }
    } else {
        printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(out);
    return 0;
}
