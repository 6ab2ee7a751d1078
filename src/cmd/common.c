/*
 * common.c — configuration, database opening and output helpers shared by
 * the commands.
 */
#include "cmd/cmd.h"

#include "app.h"
#include "channel/registry.h"
#include "gateway/registry.h"

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
    return true;
}

struct db *cmd_open_db(const struct config *c)
{
    char err[512];
    struct db *db = db_open(c->db, err, sizeof err);
    if (!db) {
        cmd_fail("%s", err);
        return NULL;
    }
    if (db_migrate(db) < 0) {
        cmd_fail("database %s: migrations failed (see the log above)", c->db);
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

bool cmd_app_init(struct app *app, const struct config *cfg, struct db *db)
{
    app->cfg = cfg;
    app->db = db;
    app->started_at = time_now();
    atomic_store(&app->stopping, false);
    app->channels = channel_registry_new(db, &app->stopping);
    app->gateways = gateway_registry_new(db, &app->stopping);
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
    app->channels = NULL;
    app->gateways = NULL;
}
