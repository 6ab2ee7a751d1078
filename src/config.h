/*
 * config.h — server configuration: defaults < INI file < environment < flags.
 *
 * The INI file (inih) takes these keys, in a [chatpay] section or at the top:
 *   listen, db, public_url, threads, max_connections, per_ip_connections,
 *   connection_timeout, header_timeout, body_min_rate, max_body, log_level,
 *   drain_timeout, admin_listen, metrics_token, callback_workers,
 *   callback_retry_schedule, secrets_key, db_pool_size, db_pool_wait_ms,
 *   db_statement_timeout_ms, mp_token_ttl
 */
#ifndef CHATPAY_CONFIG_H
#define CHATPAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8080"
#define CONFIG_DEFAULT_DB     "sqlite:var/chatpay.db"

/* The waits between tries of a merchant callback (then it is given up). */
#define CONFIG_DEFAULT_CALLBACK_RETRY_SCHEDULE "5s,5m,30m,2h,5h,10h,10h"
#define CONFIG_RETRY_MAX                       16

struct config {
    char listen[256];     /* HOST:PORT; [v6]:PORT for IPv6 */
    char db[1024];        /* database URL */
    char public_url[512]; /* base of links and docs; default http://<listen> */
    bool public_url_set;  /* given (file, environment or flag), not the default */
    char config_file[1024];
    bool dev;
    unsigned threads;            /* HTTP thread pool size; 0 → 64 (or the cores, if more) */
    unsigned max_connections;    /* total open connections */
    unsigned per_ip_connections; /* open connections per client address */
    unsigned connection_timeout; /* seconds of inactivity before a connection is closed */
    unsigned header_timeout;     /* seconds for a request line and headers to arrive */
    unsigned body_min_rate;      /* bytes/s a request body must average; 0: no minimum */
    size_t max_body;             /* default request body cap in bytes */
    unsigned drain_timeout;      /* seconds to wait for in-flight requests on shutdown */
    char log_level[16];
    char admin_listen[256];    /* HOST:PORT of the operators' listener (/metrics); "" none */
    char metrics_token[256];   /* GET /metrics needs "Authorization: Bearer <it>"; "" open */
    unsigned callback_workers; /* threads that deliver merchant callbacks */
    unsigned mp_token_ttl;     /* seconds a marketplace access token lives (300) */
    /* a callback not delivered is tried again after each of these waits in
     * turn, then given up */
    int64_t callback_retry[CONFIG_RETRY_MAX]; /* µs */
    unsigned callback_retries;
    /* PostgreSQL: connections per process, how long a request waits for one
     * (ms), and the server-side statement timeout (ms) */
    unsigned db_pool_size, db_pool_wait_ms, db_statement_timeout_ms;
    /* seals providers' credentials at rest (util/secretbox.h); 64 hex digits */
    char secrets_key[65]; /* "" when not configured */
};

/* The secrets key of c as bytes into key[32]; false when none is set. */
bool config_secrets_key(const struct config *c, uint8_t key[32]);

/* Parse a list of waits ("5s,5m,30m": 1 to CONFIG_RETRY_MAX durations, see
 * time_parse_duration, each at most 7 days) into out. false when malformed,
 * and then out and *n are left as they were. */
bool config_parse_schedule(const char *text, int64_t *out, unsigned *n);

/* Defaults. */
void config_init(struct config *c);

/* Read an INI file into c. Returns false with a one-line message in err. */
bool config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/* Apply CHATPAY_* environment variables. Returns false with a message. */
bool config_load_env(struct config *c, char *err, size_t errlen);

/* Set one key (as in the INI file) from text. Returns false with a message. */
bool config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);

/* Fill derived values (public_url from listen) and check consistency. */
bool config_finish(struct config *c, char *err, size_t errlen);

/* May the default public_url (http://<listen>) be used? Customers and
 * providers must reach the links and webhooks built from it: `required`
 * (a worker, a command that prints webhook URLs) needs public_url given;
 * otherwise (serve) it may be left out only while listen is a loopback
 * address (development). false with a message naming the option. */
bool config_public_url_ok(const struct config *c, bool required, char *err, size_t errlen);

/* Split "host:port" / "[v6]:port". Returns false when malformed. */
bool config_split_listen(const char *listen, char *host, size_t hostcap, uint16_t *port);

#endif
