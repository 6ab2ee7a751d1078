/*
 * common.c — configuration, database opening and output helpers shared by
 * the commands.
 */
#include "cmd/cmd.h"

#include "app.h"
#include "channel/registry.h"
#include "gateway/registry.h"
#include "net/net.h"
#include "util/log.h"
#include "util/secretbox.h"
#include "util/utf8.h"
#include "db/callbacks.h"
#include "service/callbacks.h"

#include <getopt.h>
#include <pthread.h>

#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cmd_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("chatpay: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n\n", stderr);
    va_end(ap);
    fputs(usage, stderr);
    return EXIT_USAGE;
}

int cmd_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("chatpay: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_RUNTIME;
}

bool cmd_config(struct config *c, const char *config_flag, const char *db_flag)
{
    char err[512];
    config_init(c);
    const char *file = config_flag ? config_flag : getenv("CHATPAY_CONFIG");
    if (file && *file && !config_load_file(c, file, err, sizeof err)) {
        cmd_fail("%s", err);
        return false;
    }
    if (!config_load_env(c, err, sizeof err)) {
        cmd_fail("%s", err);
        return false;
    }
    if (db_flag && !config_set(c, "db", db_flag, err, sizeof err)) {
        cmd_fail("--db: %s", err);
        return false;
    }
    /* log_level holds for every command, not only for serve and worker */
    enum log_level level;
    if (log_parse_level(c->log_level, &level))
        log_set_level(level);
    return true;
}

struct db *cmd_open_db(const struct config *c)
{
    /* a mistyped SQLite path would otherwise make a new, empty database
     * and the command would succeed on it */
    if (!db_url_exists(c->db)) {
        char shown[sizeof c->db]; /* without its password */
        db_url_display(c->db, shown, sizeof shown);
        cmd_fail("no database at %s: is the path right? (`chatpay migrate` makes a new one)",
                 shown);
        return NULL;
    }
    return cmd_create_db(c);
}

struct db *cmd_create_db(const struct config *c)
{
    char err[512];
    struct db *db = db_open(c->db, err, sizeof err);
    if (!db) {
        cmd_fail("%s", err);
        return NULL;
    }
    db_configure(db, (int)c->db_pool_size, (int)c->db_pool_wait_ms,
                 (int)c->db_statement_timeout_ms);
    if (db_migrate(db) < 0) {
        char shown[sizeof c->db]; /* without its password */
        db_url_display(c->db, shown, sizeof shown);
        cmd_fail("database %s: migrations failed (see the log above)", shown);
        db_close(db);
        return NULL;
    }
    return db;
}

void cmd_print_json(struct json_object *o)
{
    puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

int cmd_parse_options(int argc, char **argv, const char *name, const char *usage,
                      const struct cmd_option *opts)
{
    enum { OPTS_MAX = 16 };
    struct option longopts[OPTS_MAX + 2];
    size_t n = 0;
    for (; opts[n].name && n < OPTS_MAX; n++)
        longopts[n] = (struct option){opts[n].name, opts[n].value ? required_argument : no_argument,
                                      NULL, (int)n + 1};
    longopts[n] = (struct option){"help", no_argument, NULL, (int)n + 1};
    longopts[n + 1] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt >= 1 && (size_t)opt <= n) {
            const struct cmd_option *o = &opts[opt - 1];
            if (o->value)
                *o->value = optarg;
            else
                *o->flag = true;
        } else if ((size_t)opt == n + 1) {
            fputs(usage, stdout);
            return 0;
        } else {
            return cmd_usage_error(usage, "%s: unknown or incomplete option %s", name,
                                   argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cmd_usage_error(usage, "%s: unexpected argument \"%s\"", name, argv[optind]);
    return -1;
}

void cmd_block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool cmd_is_help(const char *arg)
{
    return arg &&
           (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0);
}

bool cmd_name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > DB_NAME_MAX || !utf8_valid(s))
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_next((const unsigned char *)s + i, len - i, &cp);
        /* C0 and C1 controls (U+009B is a terminal's CSI, U+0085 a line
         * break) and the line and paragraph separators: a name is one
         * line on pages, in messages and in the CLI's output */
        if (k == 0 || utf8_is_control(cp) || utf8_is_separator(cp))
            return false;
        i += k;
    }
    return true;
}

struct db *cmd_config_open_db(struct config *c, const char *config_flag, const char *db_flag)
{
    return cmd_config(c, config_flag, db_flag) ? cmd_open_db(c) : NULL;
}

bool cmd_app_init(struct app *app, const struct config *cfg, struct db *db)
{
    app->cfg = cfg;
    app->db = db;
    app->started_at = time_now();
    atomic_store(&app->stopping, false);
    char err[256];
    app->net =
        net_start(&(struct net_config){.user_agent = "chatpay/" CHATPAY_VERSION}, err, sizeof err);
    if (!app->net) {
        cmd_app_free(app);
        cmd_fail("cannot start outbound HTTP: %s", err);
        return false;
    }
    uint8_t key[SECRETBOX_KEY_LEN];
    bool has_key = config_secrets_key(cfg, key);
    app->channels = channel_registry_new(db, cfg, has_key ? key : NULL, app->net, &app->stopping);
    app->gateways = gateway_registry_new(db, cfg, has_key ? key : NULL, app->net, &app->stopping);
    memset(key, 0, sizeof key);
    if (!app->channels || !app->gateways) {
        cmd_app_free(app);
        cmd_fail("out of memory");
        return false;
    }
    return true;
}

void cmd_app_stopping(struct app *app)
{
    atomic_store(&app->stopping, true);
}

void cmd_app_free(struct app *app)
{
    channel_registry_free(app->channels);
    gateway_registry_free(app->gateways);
    net_stop(app->net);
    app->net = NULL;
    app->channels = NULL;
    app->gateways = NULL;
}

/* ---- callback URLs ------------------------------------------------------------------- */

const char *cmd_callback_option(int kind)
{
    switch (kind) {
    case CB_PAYMENT_STATUS:
        return "payment-status-callback";
    case CB_TRANSACTION_EVENT:
        return "transaction-event-callback";
    case CB_SETTINGS:
        return "settings-callback";
    default:
        return "?";
    }
}

bool cmd_callbacks_given(const struct cmd_callbacks *c)
{
    for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS; k++)
        if (c->arg[k])
            return true;
    return false;
}

int cmd_callbacks_check(const struct cmd_callbacks *c, enum db_environment env, const char *usage)
{
    for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS; k++) {
        const char *url = c->arg[k];
        if (!url || strcmp(url, "none") == 0)
            continue;
        if (strlen(url) > DB_URL_MAX)
            return cmd_usage_error(usage, "--%s: at most %d bytes", cmd_callback_option(k),
                                   DB_URL_MAX);
        char why[256];
        bool sandbox = env == ENV_SANDBOX;
        enum net_error e = net_check_url(url, sandbox, !sandbox, why, sizeof why);
        if (e == NET_BAD_URL)
            return cmd_usage_error(usage, "--%s: %s", cmd_callback_option(k), why);
        if (e != NET_OK)
            return cmd_fail(
                "--%s: %s%s", cmd_callback_option(k), why,
                e == NET_REFUSED_ADDRESS ? " (only sandbox merchants may use such addresses)" : "");
    }
    return 0;
}

enum db_status cmd_callbacks_store(struct db_tx *tx, const char *merchant_id, const char *app_id,
                                   const struct cmd_callbacks *c)
{
    struct arena *a = arena_new(0);
    struct svc s = {.tx = tx, .a = a, .now = time_now()};
    enum db_status st = DB_ONE_RESULT;
    for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS && st > 0; k++)
        if (c->arg[k])
            st = svc_cb_url_set(&s, merchant_id, app_id, k,
                                strcmp(c->arg[k], "none") == 0 ? NULL : c->arg[k]);
    arena_free(a);
    return st;
}

void cmd_callbacks_json(struct json_object *o, const char *const urls[4])
{
    static const char *const names[] = {NULL, "paymentStatusCallback", "transactionEventCallback",
                                        "settingsCallback"};
    for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS; k++)
        json_object_object_add(o, names[k], urls[k] ? json_object_new_string(urls[k]) : NULL);
}
