/*
 * common.c — configuration, database opening and output helpers shared by
 * the commands.
 */
#include "cmd/cmd.h"

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
