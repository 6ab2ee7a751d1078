/*
 * serve.c — `chatpay serve`: the HTTP API and pages.
 *
 * Start-up: configuration (flags > environment > INI file > defaults), open
 * the database and migrate, in --dev create a sandbox merchant if there is
 * none, start the HTTP server. SIGTERM/SIGINT drain: stop accepting
 * connections, answer the requests in flight and those still coming on open
 * connections with "Connection: close", close idle connections, and exit 0
 * once no connection is open (or after drain_timeout).
 */
#include "cmd/cmd.h"
#include "db/marketplace.h"
#include "util/webhook.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include "api/api.h"
#include "app.h"
#include "util/webhook.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "util/log.h"
#include "util/secretbox.h"
#include "db/merchants.h"

static const char usage[] =
    "usage: chatpay serve [--listen HOST:PORT] [--db URL] [--public-url URL]\n"
    "                     [--config FILE] [--dev] [--no-workers]\n"
    "\n"
    "  --listen HOST:PORT   address to listen on (CHATPAY_LISTEN; default " CONFIG_DEFAULT_LISTEN
    ")\n"
    "  --db URL             database (CHATPAY_DB; default " CONFIG_DEFAULT_DB ")\n"
    "  --public-url URL     base URL of links, webhooks and documents, the address\n"
    "                       customers and providers reach (CHATPAY_PUBLIC_URL); required\n"
    "                       unless listen is a loopback address (then http://<listen>)\n"
    "  --config FILE        INI file with the same settings (CHATPAY_CONFIG)\n"
    "  --dev                development: create a sandbox merchant when the database has\n"
    "                       none and print its API key; without a secrets_key, use (or\n"
    "                       make) one in secrets.key beside the database\n"
    "  --no-workers         serve HTTP only; background jobs are run by `chatpay worker`\n"
    "                       processes on the same database\n"
    "\n"
    "Flags override environment variables, which override the file.\n";

static enum db_status count_txn(struct db_tx *tx, void *cls)
{
    return DB_CALL(tx, merchants, count, (int64_t *)cls);
}

/* --dev without a secrets_key: read it from (or write a new one to)
 * secrets.key beside the SQLite database, readable by its owner only. */
static bool dev_secrets_key(struct config *cfg)
{
    if (cfg->secrets_key[0] || strncmp(cfg->db, "sqlite:", 7) != 0)
        return true;
    char path[1100];
    const char *file = cfg->db + 7, *slash = strrchr(file, '/');
    snprintf(path, sizeof path, "%.*s%ssecrets.key", slash ? (int)(slash - file) : 0, file,
             slash ? "/" : "");
    char key[2 * SECRETBOX_KEY_LEN + 2] = "", err[300];
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(key, sizeof key, f))
            key[0] = '\0';
        fclose(f);
        key[strcspn(key, "\n")] = '\0';
    } else {
        secretbox_key_new(key);
        if (slash) { /* the database's folder (./var) may not exist yet */
            char dir[1100];
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                cmd_fail("cannot make %s", dir);
                return false;
            }
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f || fprintf(f, "%s\n", key) < 0 || fclose(f) != 0) {
            cmd_fail("cannot write %s", path);
            return false;
        }
        printf("  Secrets key: written to %s (for the CLI: export CHATPAY_SECRETS_KEY=$(cat %s))\n",
               path, path);
    }
    if (!config_set(cfg, "secrets_key", key, err, sizeof err)) {
        cmd_fail("%s: %s", path, err);
        return false;
    }
    return true;
}

/* --dev: make sure there is a merchant to try the API with. */
static bool dev_merchant(struct db *db, const struct config *cfg)
{
    int64_t n = 0;
    if (db_run(db, DB_READ, "merchant_count", count_txn, &n) < 0) {
        cmd_fail("could not count merchants");
        return false;
    }
    if (n > 0) {
        printf("  Merchants:  %lld in the database (chatpay merchant list; a new key:\n"
               "              chatpay apikey create --merchant MERCHANT_ID)\n",
               (long long)n);
        return true;
    }
    struct merchant_new in = {
        .name = "Sandbox Store",
        .environment = ENV_SANDBOX,
        .currencies = "ZAR,USD,EUR",
        .sms_enabled = true,
        .whatsapp_enabled = true,
    };
    struct db_merchant m;
    struct db_api_key k;
    char key[API_KEY_MAX], err[300];
    char secret[WEBHOOK_SECRET_LEN];
    if (!admin_merchant_create(db, &in, &m, key, &k, secret, err, sizeof err)) {
        cmd_fail("%s", err);
        return false;
    }
    printf("  Sandbox merchant \"%s\" created: merchantId %s\n"
           "  API key:    %s   (shown once: store it now)\n"
           "  Try:        curl -H 'Authorization: %s' %s/api/v2/config\n",
           m.name, m.id, key, key, cfg->public_url);
    return true;
}

/* --dev: a sandbox catalogue and a few MNO prefixes for the marketplace
 * APIs, when there are no products. */
static enum db_status product_count_txn(struct db_tx *tx, void *cls)
{
    return DB_CALL(tx, marketplace, product_count, (int64_t *)cls);
}

static bool dev_catalogue(struct db *db)
{
    int64_t n = 0;
    if (db_run(db, DB_READ, "product_count", product_count_txn, &n) < 0)
        return cmd_fail("could not count products"), false;
    if (n > 0)
        return true;
    static const struct db_mp_product seed[] = {
        {110, "MTN Airtime", MP_AIRTIME, "MTN", "NGN", 5000, 5000000, 0, true, 0, 0},
        {111, "MTN Data 1GB", MP_DATA, "MTN", "NGN", 100000, 100000, 0, true, 0, 0},
        {120, "Prepaid Electricity", MP_ELECTRICITY, "IKEDC", "NGN", 100000, 10000000, 10000, true,
         0, 0},
        {130, "DStv Subscription", MP_BILL, "MultiChoice", "NGN", 100000, 50000000, 10000, true, 0,
         0},
        {140, "Gift Voucher", MP_VOUCHER, "Sandbox Vouchers", "ZAR", 5000, 200000, 500, true, 0, 0},
    };
    static const struct db_mp_mno mno[] = {
        {"234703", "MTN Nigeria", "NG"},    {"234803", "MTN Nigeria", "NG"},
        {"234802", "Airtel Nigeria", "NG"}, {"2782", "Vodacom", "ZA"},
        {"2783", "MTN South Africa", "ZA"},
    };
    char err[200];
    for (size_t i = 0; i < sizeof seed / sizeof seed[0]; i++) {
        struct db_mp_product p = seed[i];
        p.created_at = p.updated_at = time_now();
        if (!cmd_marketplace_product_add(db, &p, err, sizeof err))
            return cmd_fail("%s", err), false;
    }
    if (!cmd_marketplace_mno_load(db, mno, sizeof mno / sizeof mno[0]))
        return cmd_fail("could not store the MNO prefixes"), false;
    printf("  Marketplace: a sandbox catalogue (to buy, make a client: chatpay marketplace\n"
           "              client create --client-id 200 --name \"My Bank\"):\n");
    return cmd_marketplace_product_print(db, false);
}

/* Open files: every connection is one, and so are each HTTP thread's
 * wake-up pipe, the database's connections, the outbound calls (callbacks,
 * providers, gateways) and the logs. A service's soft limit is often 1024
 * (systemd's default), where the default max_connections (4096) cannot
 * fit: accept() then fails while the slow-client guard, which acts at 75%
 * of max_connections, never does. The soft limit is raised to the hard one;
 * when that still does not hold max_connections and the rest, it is
 * lowered, with a warning. */
enum { FILES_OUTBOUND = 64, FILES_OTHER = 64 };

static void fit_open_files(struct config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    if (rl.rlim_cur == RLIM_INFINITY)
        return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    rlim_t threads = cfg->threads ? cfg->threads : cores > 64 ? (rlim_t)cores : 64;
    rlim_t reserve =
        2 * threads + cfg->db_pool_size + 2 + cfg->callback_workers + FILES_OUTBOUND + FILES_OTHER;
    rlim_t room = rl.rlim_cur > reserve ? rl.rlim_cur - reserve : 0;
    if (cfg->max_connections <= room)
        return;
    unsigned lowered = room > 16 ? (unsigned)room : 16;
    log_warn("open files: the limit is %llu (LimitNOFILE=, ulimit -n), and about %llu are needed "
             "besides connections; max_connections is lowered from %u to %u (raise the limit "
             "to keep it)",
             (unsigned long long)rl.rlim_cur, (unsigned long long)reserve, cfg->max_connections,
             lowered);
    cfg->max_connections = lowered;
}

int cmd_serve(int argc, char **argv)
{
    const char *listen = NULL, *dburl = NULL, *public_url = NULL, *config = NULL;
    bool dev = false, no_workers = false;
    int rc = cmd_parse_options(argc, argv, "serve", usage,
                               (const struct cmd_option[]){{"listen", &listen, NULL},
                                                           {"db", &dburl, NULL},
                                                           {"public-url", &public_url, NULL},
                                                           {"config", &config, NULL},
                                                           {"dev", NULL, &dev},
                                                           {"no-workers", NULL, &no_workers},
                                                           {NULL, NULL, NULL}});
    if (rc >= 0)
        return rc;

    static struct config cfg;
    if (!cmd_config(&cfg, config, dburl))
        return EXIT_RUNTIME;
    char err[512];
    if (listen && !config_set(&cfg, "listen", listen, err, sizeof err))
        return cmd_usage_error(usage, "--%s", err);
    if (public_url && !config_set(&cfg, "public_url", public_url, err, sizeof err))
        return cmd_usage_error(usage, "--public-url: %s", err);
    cfg.dev = dev;
    if (!config_public_url_ok(&cfg, false, err, sizeof err))
        return cmd_fail("%s", err);
    if (!config_finish(&cfg, err, sizeof err))
        return cmd_fail("%s", err);
    if (dev && !dev_secrets_key(&cfg))
        return EXIT_RUNTIME;

    char host[256];
    uint16_t port;
    if (!config_split_listen(cfg.listen, host, sizeof host, &port))
        return cmd_fail("listen: expected HOST:PORT, got \"%s\"", cfg.listen);

    /* Block the stop signals before any thread starts, so that every thread
     * inherits the mask and only sigwait() below receives them. */
    sigset_t stop;
    cmd_block_stop_signals(&stop);
    fit_open_files(&cfg);

    struct db *db = cmd_create_db(&cfg);
    if (!db)
        return EXIT_RUNTIME;
    static struct app app;
    if (!cmd_app_init(&app, &cfg, db)) {
        db_close(db);
        return EXIT_RUNTIME;
    }
    rc = EXIT_RUNTIME;
    struct http_server *srv = NULL, *admin = NULL;
    struct http_server_config hc = {
        .host = host,
        .port = port,
        .threads = cfg.threads,
        .max_connections = cfg.max_connections,
        .per_ip_connections = cfg.per_ip_connections,
        .connection_timeout = cfg.connection_timeout,
        .header_timeout = cfg.header_timeout,
        .body_min_rate = cfg.body_min_rate,
        .max_body = cfg.max_body,
        /* with an admin listener, /metrics is served there only */
        .hide_routes = cfg.admin_listen[0] ? ROUTE_ADMIN : 0,
        .fallback = api_fallback_family,
        /* served through a TLS proxy at the public URL: browsers that came
         * by a short link over http once are kept on https */
        .hsts = strncasecmp(cfg.public_url, "https://", 8) == 0,
    };
    srv = http_server_start(&hc, api_routes, api_route_count, &app, err, sizeof err);
    if (!srv) {
        cmd_fail("%s", err);
        goto out;
    }
    if (cfg.admin_listen[0]) {
        char ahost[256];
        struct http_server_config ac = hc;
        if (!config_split_listen(cfg.admin_listen, ahost, sizeof ahost, &ac.port)) {
            cmd_fail("admin_listen: expected HOST:PORT, got \"%s\"", cfg.admin_listen);
            goto out;
        }
        ac.host = ahost;
        ac.threads = 1;
        ac.max_connections = 64;
        ac.hide_routes = 0;
        ac.hsts = false; /* an internal listener, not reached by browsers */
        ac.only_routes = ROUTE_ADMIN | ROUTE_HEALTH;
        admin = http_server_start(&ac, api_routes, api_route_count, &app, err, sizeof err);
        if (!admin) {
            cmd_fail("admin_listen: %s", err);
            goto out;
        }
    }
    if (!no_workers) {
        app.workers = workers_start(
            &app, &(struct workers_config){.threads[POOL_CALLBACKS] = cfg.callback_workers,
                                           .sweeper = true});
        app.wake = workers_wake;
        if (!app.workers) {
            cmd_fail("cannot start the background workers");
            goto out;
        }
    }
    char shown_db[sizeof cfg.db]; /* without its password */
    db_url_display(cfg.db, shown_db, sizeof shown_db);
    printf("chatpay %s listening on http://%s\n"
           "  API docs:   %s/openapi.json\n"
           "  Database:   %s\n",
           CHATPAY_VERSION, cfg.listen, cfg.public_url, shown_db);
    if (admin)
        printf("  Admin:      http://%s/metrics (and /livez, /readyz)\n", cfg.admin_listen);
    if (no_workers)
        printf("  Workers:    none here (run `chatpay worker` on this database)\n");
    if (dev && (!dev_merchant(db, &cfg) || !dev_catalogue(db)))
        goto out;
    fflush(stdout);
    log_fields(LOG_INFO, "listening",
               (struct log_field[]){LFS("listen", cfg.listen), LFS("public_url", cfg.public_url),
                                    LFS("db", shown_db), LFS("version", CHATPAY_VERSION),
                                    LFS("admin_listen", admin ? cfg.admin_listen : NULL)},
               5);

    int sig = 0;
    sigwait(&stop, &sig);
    log_info("signal %d: draining requests in flight", sig);
    http_server_quiesce(srv);
    http_server_stop(admin); /* operators' requests are not waited for */
    admin = NULL;
    usec_t deadline = time_mono() + (usec_t)cfg.drain_timeout * 1000000;
    /* not merely until no request is in flight: a keep-alive client may be
     * sending its next one, which is answered (and its connection closed) */
    while ((http_server_connections(srv) > 0 || http_server_inflight(srv) > 0) &&
           time_mono() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    unsigned left = http_server_inflight(srv), open = http_server_connections(srv);
    if (left || open)
        log_warn("%u requests still in flight, %u connections open after %us; closing", left, open,
                 cfg.drain_timeout);
    rc = 0;
out:
    http_server_stop(admin);
    http_server_stop(srv);
    cmd_app_stopping(&app);
    workers_stop(app.workers);
    cmd_app_free(&app);
    db_close(db);
    if (rc == 0)
        log_info("stopped");
    return rc;
}
