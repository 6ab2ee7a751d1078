/*
 * db.c — `chatpay db copy|backup|check`: move a deployment between
 * databases, back up a SQLite database while it serves, and check a
 * database's integrity and chatpay's invariants.
 */
#include "cmd/cmd.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: chatpay db copy   --from URL --to URL [--config FILE] [--json]\n"
    "       chatpay db backup --to FILE [--db URL] [--config FILE]\n"
    "       chatpay db check  [--db URL] [--config FILE] [--json]\n"
    "\n"
    "copy    copies a whole deployment (merchants, keys, providers, opt-outs, links and\n"
    "        their history, payments, refunds, jobs, idempotency records, callbacks)\n"
    "        from one database into a new, empty one, e.g.\n"
    "          chatpay db copy --from sqlite:var/chatpay.db --to postgresql://host/chatpay\n"
    "        The target must have no tables (it is then migrated to this version's\n"
    "        schema), or this version's schema with no rows; any other is refused before\n"
    "        anything is written to it. The source must be at this version's schema\n"
    "        already, and is not changed. Stop every chatpay process using the source\n"
    "        first: the copy holds its write lock throughout (PostgreSQL: its tables\n"
    "        locked against writes; reads go on).\n"
    "        Each table is read back from the target and compared with the source\n"
    "        (row count and SHA-256 checksum); any difference or failure rolls back\n"
    "        every row copied (the target keeps its schema).\n"
    "backup  writes a consistent copy of a SQLite database to FILE (which must not\n"
    "        exist) while servers keep using it (SQLite's online backup API). A\n"
    "        database locked for longer than db_statement_timeout_ms (another\n"
    "        process's exclusive lock, a recovery) fails it, and nothing is written.\n"
    "check   runs the database's integrity check and chatpay's invariants (every\n"
    "        payment belongs to a link, amounts add up, no job for a missing link, ...).\n"
    "        Exits 1 when any check fails.\n"
    "backup and check only read the database, and copy only reads its source: none\n"
    "migrates it (a database without chatpay's schema is refused).\n";

static void print_copy(void *cls, const char *table, int64_t rows, int64_t copied,
                       const uint8_t checksum[32], bool same)
{
    json_object *list = cls;
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", checksum[i]);
    if (list) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "table", json_object_new_string(table));
        json_object_object_add(o, "rows", json_object_new_int64(rows));
        json_object_object_add(o, "copied", json_object_new_int64(copied));
        json_object_object_add(o, "checksum", json_object_new_string(hex));
        json_object_object_add(o, "same", json_object_new_boolean(same));
        json_object_array_add(list, o);
    } else {
        printf("%-20s %8" PRId64 " rows  %.16s…  %s\n", table, rows, hex,
               same ? "same" : "DIFFERENT");
    }
}

/* Is chatpay's schema in it (exact: at this binary's version)? If not,
 * says so and what to do. */
static bool schema_ok(struct db *db, const struct config *c, bool exact)
{
    char err[512], shown[sizeof c->db]; /* without its password */
    if (db_schema_check(db, exact, err, sizeof err))
        return true;
    db_url_display(c->db, shown, sizeof shown);
    cmd_fail("database %s: %s", shown, err);
    return false;
}

/* What a database opened as it is must hold before the command runs on it. */
enum need { NEED_NOTHING, NEED_THIS_SCHEMA };

/* A database that must be there already (what is backed up, checked or
 * copied from), opened as it is: a mistyped SQLite path would otherwise
 * open a new, empty one, and migrating would write chatpay's schema into
 * an empty or foreign file (and change a backup) before the command
 * succeeded on it. read_only: a SQLite file is only read (check, backup). */
static struct db *open_existing(struct config *c, const char *config_flag, const char *db_flag,
                                bool read_only, enum need need)
{
    if (!cmd_config(c, config_flag, db_flag))
        return NULL;
    if (!db_url_exists(c->db)) {
        char shown[sizeof c->db]; /* without its password */
        db_url_display(c->db, shown, sizeof shown);
        cmd_fail("no database at %s", shown);
        return NULL;
    }
    char err[512];
    struct db *db = db_open_existing(c->db, read_only, err, sizeof err);
    if (!db) {
        cmd_fail("%s", err);
        return NULL;
    }
    db_configure(db, (int)c->db_pool_size, (int)c->db_pool_wait_ms,
                 (int)c->db_statement_timeout_ms);
    if (need == NEED_THIS_SCHEMA && !schema_ok(db, c, true)) {
        db_close(db);
        return NULL;
    }
    return db;
}

static int run_copy(const char *from_url, const char *to_url, const char *config, bool json)
{
    struct config cf, ct;
    struct db *from = open_existing(&cf, config, from_url, false, NEED_THIS_SCHEMA);
    if (!from)
        return EXIT_RUNTIME;
    bool made = !db_url_exists(to_url); /* a new SQLite file */
    if (!cmd_config(&ct, config, to_url)) {
        db_close(from);
        return EXIT_RUNTIME;
    }
    char err[512];
    /* a database there already is looked at as it is first: migrating a
     * deployment (of an older chatpay, say) named by mistake would change
     * it for good before the copy refused it */
    int had_schema = 0;
    if (!made) {
        struct db *probe = db_open_existing(ct.db, false, err, sizeof err);
        if (!probe) {
            db_close(from);
            return cmd_fail("%s", err);
        }
        db_configure(probe, (int)ct.db_pool_size, (int)ct.db_pool_wait_ms,
                     (int)ct.db_statement_timeout_ms);
        had_schema = db_copy_target_check(probe, err, sizeof err);
        db_close(probe);
        if (had_schema < 0) {
            db_close(from);
            return cmd_fail("db copy: %s", err);
        }
    }
    struct db *to = cmd_create_db(&ct);
    if (!to) {
        db_close(from);
        return EXIT_RUNTIME;
    }
    json_object *list = json ? json_object_new_array() : NULL;
    int rc = db_copy(from, to, print_copy, list, err, sizeof err);
    db_close(to);
    db_close(from);
    if (rc != 0) {
        json_object_put(list);
        /* what was copied is rolled back; the target's schema stays */
        return cmd_fail("db copy: %s; %s", err,
                        made         ? "the target was made, with this version's schema and no rows"
                        : had_schema ? "no row was copied into the target (its schema was this"
                                       " version's already)"
                                     : "no row was copied into the target (it was migrated to this"
                                       " version's schema)");
    }
    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "tables", list);
        json_object_object_add(o, "verified", json_object_new_boolean(1));
        cmd_print_json(o);
    } else {
        printf("copied and verified: every table has the same rows and checksum\n");
    }
    return 0;
}

struct check_out {
    json_object *list;
};

static void print_check(void *cls, const char *check, int64_t problems, const char *detail)
{
    struct check_out *c = cls;
    if (c->list) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "check", json_object_new_string(check));
        json_object_object_add(o, "problems", json_object_new_int64(problems));
        json_object_object_add(o, "ok", json_object_new_boolean(problems == 0));
        if (detail && *detail)
            json_object_object_add(o, "detail", json_object_new_string(detail));
        json_object_array_add(c->list, o);
    } else if (problems == 0) {
        printf("ok    %s\n", check);
    } else {
        printf("FAIL  %s: %" PRId64 " %s%s%s\n", check, problems,
               problems == 1 ? "problem" : "problems", detail && *detail ? ": " : "",
               detail ? detail : "");
    }
}

/* db check --json: {"checks": [...], "ok"} (takes the list) */
static void print_checks_json(json_object *list, bool ok)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "checks", list);
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    cmd_print_json(o);
}

int cmd_db(int argc, char **argv)
{
    if (argc < 2 || cmd_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    const char *dburl = NULL, *config = NULL, *from = NULL, *to = NULL;
    bool json = false;
    int rc;
    if (strcmp(sub, "copy") == 0) {
        rc = cmd_parse_options(argc - 1, argv + 1, "db copy", usage,
                               (const struct cmd_option[]){{"from", &from, NULL},
                                                           {"to", &to, NULL},
                                                           {"config", &config, NULL},
                                                           {"json", NULL, &json},
                                                           {NULL, NULL, NULL}});
        if (rc >= 0)
            return rc;
        if (!from || !to)
            return cmd_usage_error(usage, "db copy: --from and --to are required");
        if (db_url_same(from, to))
            return cmd_usage_error(usage, "db copy: --from and --to name the same database");
        return run_copy(from, to, config, json);
    }
    if (strcmp(sub, "backup") == 0) {
        rc = cmd_parse_options(argc - 1, argv + 1, "db backup", usage,
                               (const struct cmd_option[]){{"to", &to, NULL},
                                                           {"db", &dburl, NULL},
                                                           {"config", &config, NULL},
                                                           {NULL, NULL, NULL}});
        if (rc >= 0)
            return rc;
        if (!to || !*to)
            return cmd_usage_error(usage, "db backup: --to FILE is required");
        struct config cfg;
        struct db *db = open_existing(&cfg, config, dburl, true, NEED_NOTHING);
        if (!db)
            return EXIT_RUNTIME;
        /* a copy of the file, whatever its schema's version; PostgreSQL is
         * refused by db_backup, with the tools to use */
        if (strcmp(db_backend_name(db), "sqlite") == 0 && !schema_ok(db, &cfg, false)) {
            db_close(db);
            return EXIT_RUNTIME;
        }
        char err[512];
        bool ok = db_backup(db, to, err, sizeof err);
        db_close(db);
        if (!ok)
            return cmd_fail("db backup: %s", err);
        if (err[0]) /* made, with a warning */
            fprintf(stderr, "chatpay: warning: db backup: %s\n", err);
        char shown[sizeof cfg.db]; /* without its password */
        db_url_display(cfg.db, shown, sizeof shown);
        printf("backed up %s to %s\n", shown, to);
        return 0;
    }
    if (strcmp(sub, "check") == 0) {
        rc = cmd_parse_options(argc - 1, argv + 1, "db check", usage,
                               (const struct cmd_option[]){{"db", &dburl, NULL},
                                                           {"config", &config, NULL},
                                                           {"json", NULL, &json},
                                                           {NULL, NULL, NULL}});
        if (rc >= 0)
            return rc;
        struct config cfg;
        struct db *db = open_existing(&cfg, config, dburl, true, NEED_THIS_SCHEMA);
        if (!db)
            return EXIT_RUNTIME;
        struct check_out out = {.list = json ? json_object_new_array() : NULL};
        int failed = db_check(db, print_check, &out);
        db_close(db);
        if (failed < 0) {
            /* what was checked before the database stopped answering */
            if (json)
                print_checks_json(out.list, false);
            return cmd_fail("db check: the database could not be read (see the log above)");
        }
        if (json) {
            print_checks_json(out.list, failed == 0);
        } else {
            printf(failed ? "%d check(s) failed\n" : "every check passed\n", failed);
        }
        return failed ? EXIT_RUNTIME : 0;
    }
    return cmd_usage_error(usage, "db: unknown command \"%s\"", sub);
}
