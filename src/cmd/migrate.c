/*
 * migrate.c — `chatpay migrate`: apply pending database migrations and exit.
 */
#include "cmd/cmd.h"

#include <string.h>

static const char usage[] = "usage: chatpay migrate [--db URL] [--config FILE]\n"
                            "\n"
                            "Apply the pending schema migrations to the database and exit.\n"
                            "`chatpay serve` also applies them at start.\n";

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
    int rc =
        cmd_parse_options(argc, argv, "migrate", usage,
                          (const struct cmd_option[]){
                              {"db", &dburl, NULL}, {"config", &config, NULL}, {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    struct config cfg;
    struct db *db = cmd_config(&cfg, config, dburl) ? cmd_create_db(&cfg) : NULL;
    if (!db)
        return EXIT_RUNTIME;
    struct version_ctx v = {0};
    rc = 0;
    if (db_run(db, DB_READ, "schema_version", version_txn, &v) < 0)
        rc = cmd_fail("could not read the schema version");
    else {
        char shown[sizeof cfg.db]; /* without its password */
        db_url_display(cfg.db, shown, sizeof shown);
        printf("Database %s is at schema version %d.\n", shown, v.current);
    }
    db_close(db);
    return rc;
}
