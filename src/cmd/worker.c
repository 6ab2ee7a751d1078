/*
 * worker.c — `chatpay worker`: the background workers without the HTTP
 * server, for running them on their own (many nodes on one database, or a
 * server started with `chatpay serve --no-workers`).
 *
 * The job threads of every pool and the sweeper run until SIGTERM/SIGINT;
 * then each thread finishes the job in hand and the process exits 0. Jobs
 * are claimed with a lease, so any number of workers (and servers with
 * workers) can share one database.
 */
#include "cmd/cmd.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "jobs/jobs.h"
#include "util/log.h"

static const char usage[] =
    "usage: chatpay worker --public-url URL [--db URL] [--config FILE] [--no-sweeper]\n"
    "\n"
    "Run the background jobs (send links, delivery receipts, payment queries, review\n"
    "settlement, reversals, merchant callbacks) and the sweeper (link expiry, payment\n"
    "repair, purge) without serving HTTP, until SIGTERM or SIGINT.\n"
    "\n"
    "  --public-url URL  base URL of the links it sends and of the providers' callbacks:\n"
    "                  the address customers and providers reach, as the servers'\n"
    "                  (CHATPAY_PUBLIC_URL, or public_url in the config file; required)\n"
    "  --db URL        database (CHATPAY_DB)\n"
    "  --config FILE   INI file with the same settings as `chatpay serve` (CHATPAY_CONFIG)\n"
    "  --no-sweeper    run jobs only (another process sweeps)\n";

int cmd_worker(int argc, char **argv)
{
    const char *dburl = NULL, *config = NULL, *public_url = NULL;
    bool no_sweeper = false;
    int rc = cmd_parse_options(argc, argv, "worker", usage,
                               (const struct cmd_option[]){{"db", &dburl, NULL},
                                                           {"public-url", &public_url, NULL},
                                                           {"config", &config, NULL},
                                                           {"no-sweeper", NULL, &no_sweeper},
                                                           {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;
    bool sweeper = !no_sweeper;
    static struct config cfg;
    if (!cmd_config(&cfg, config, dburl))
        return EXIT_RUNTIME;
    char err[512];
    if (public_url && !config_set(&cfg, "public_url", public_url, err, sizeof err))
        return cmd_usage_error(usage, "--public-url: %s", err);
    if (!config_public_url_ok(&cfg, true, err, sizeof err))
        return cmd_fail("%s", err);
    if (!config_finish(&cfg, err, sizeof err))
        return cmd_fail("%s", err);

    sigset_t stop;
    cmd_block_stop_signals(&stop);

    struct db *db = cmd_create_db(&cfg);
    if (!db)
        return EXIT_RUNTIME;
    static struct app app;
    if (!cmd_app_init(&app, &cfg, db)) {
        db_close(db);
        return EXIT_RUNTIME;
    }
    app.workers = workers_start(
        &app, &(struct workers_config){.threads[POOL_CALLBACKS] = cfg.callback_workers,
                                       .sweeper = sweeper});
    app.wake = workers_wake;
    if (!app.workers) {
        cmd_app_free(&app);
        db_close(db);
        return cmd_fail("cannot start the background workers");
    }
    char shown_db[sizeof cfg.db]; /* without its password */
    db_url_display(cfg.db, shown_db, sizeof shown_db);
    printf("chatpay %s worker running\n  Database:   %s\n", CHATPAY_VERSION, shown_db);
    fflush(stdout);
    log_fields(LOG_INFO, "worker running",
               (struct log_field[]){LFS("db", shown_db), LFS("version", CHATPAY_VERSION),
                                    LFS("sweeper", sweeper ? "yes" : "no")},
               3);
    int sig = 0;
    sigwait(&stop, &sig);
    log_info("signal %d: finishing the jobs in hand", sig);
    cmd_app_stopping(&app);
    workers_stop(app.workers);
    cmd_app_free(&app);
    db_close(db);
    log_info("stopped");
    return 0;
}
