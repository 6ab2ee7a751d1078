/*
 * migrate.c — `chatpay migrate`: apply pending database migrations and exit.
 */
#include "cmd/cmd.h"

#include <getopt.h>
#include <string.h>

static const char usage[] = "usage: chatpay migrate [--db URL] [--config FILE]\n"
                            "\n"
                            "Apply the pending schema migrations to the database and exit.\n"
                            "`chatpay serve` also applies them at start.\n";

enum { OPT_DB = 1, OPT_CONFIG, OPT_HELP };

static const struct option options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct version_ctx {
    int current, latest;
};

static enum db_status version_txn(struct db_tx *tx, void *cls)
{
    struct version_ctx *c = cls;
    return db_schema_version(tx, &c->current, &c->latest);
}

int cmd_migrate(int argc, char **argv)
{
    const char *dburl = NULL, *config = NULL;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_DB:
            dburl = optarg;
            break;
        case OPT_CONFIG:
            config = optarg;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            return 0;
        default:
            return cmd_usage_error(usage, "migrate: unknown or incomplete option %s",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cmd_usage_error(usage, "migrate: unexpected argument \"%s\"", argv[optind]);
    struct config cfg;
    if (!cmd_config(&cfg, config, dburl))
        return EXIT_RUNTIME;
    struct db *db = cmd_open_db(&cfg);
    if (!db)
        return EXIT_RUNTIME;
    struct version_ctx v = {0};
    int rc = 0;
    if (db_run(db, DB_READ, "schema_version", version_txn, &v) < 0)
        rc = cmd_fail("could not read the schema version");
    else
        printf("Database %s is at schema version %d.\n", cfg.db, v.current);
    db_close(db);
    return rc;
}
