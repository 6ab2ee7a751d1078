/*
 * config.c — configuration sources and their precedence (see config.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "util/log.h"
#include "util/secretbox.h"
#include "util/time.h"

void config_init(struct config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "%s", CONFIG_DEFAULT_LISTEN);
    snprintf(c->db, sizeof c->db, "%s", CONFIG_DEFAULT_DB);
    c->threads = 0;
    c->max_connections = 4096;
    c->per_ip_connections = 1024;
    c->connection_timeout = 30;
    c->header_timeout = 10;
    c->body_min_rate = 1024;
    c->max_body = 64 * 1024;
    c->drain_timeout = 15;
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->callback_workers = 16;
    c->mp_token_ttl = 300;
    c->db_pool_size = 16;
    c->db_pool_wait_ms = 5000;
    c->db_statement_timeout_ms = 5000;
    config_parse_schedule(CONFIG_DEFAULT_CALLBACK_RETRY_SCHEDULE, c->callback_retry,
                          &c->callback_retries);
}

bool config_parse_schedule(const char *text, int64_t *out, unsigned *n)
{
    usec_t waits[CONFIG_RETRY_MAX];
    int count =
        time_parse_durations(text, waits, CONFIG_RETRY_MAX, 1000, 7LL * 24 * 3600 * 1000000);
    if (count <= 0)
        return false;
    memcpy(out, waits, (size_t)count * sizeof *waits);
    *n = (unsigned)count;
    return true;
}

static bool copy_str(char *dst, size_t cap, const char *key, const char *v, char *err,
                     size_t errlen)
{
    size_t n = strlen(v);
    if (n == 0 || n >= cap) {
        snprintf(err, errlen, "%s: must be 1 to %zu characters", key, cap - 1);
        return false;
    }
    memcpy(dst, v, n + 1);
    return true;
}

static bool parse_uint(const char *key, const char *v, unsigned long min, unsigned long max,
                       unsigned long *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max) {
        snprintf(err, errlen, "%s: must be a whole number from %lu to %lu", key, min, max);
        return false;
    }
    *out = x;
    return true;
}

/* The numeric settings: key, bounds, and where the value goes. */
static const struct {
    const char *key;
    unsigned long min, max;
    size_t offset;
    bool is_size; /* a size_t member; else unsigned */
} numbers[] = {
    {"threads", 0, 256, offsetof(struct config, threads), false},
    {"max_connections", 1, 1000000, offsetof(struct config, max_connections), false},
    {"per_ip_connections", 0, 1000000, offsetof(struct config, per_ip_connections), false},
    {"connection_timeout", 1, 3600, offsetof(struct config, connection_timeout), false},
    {"header_timeout", 1, 300, offsetof(struct config, header_timeout), false},
    {"body_min_rate", 0, 100000000, offsetof(struct config, body_min_rate), false},
    {"max_body", 1024, 16 * 1024 * 1024, offsetof(struct config, max_body), true},
    {"drain_timeout", 0, 600, offsetof(struct config, drain_timeout), false},
    {"callback_workers", 1, 128, offsetof(struct config, callback_workers), false},
    {"mp_token_ttl", 1, 86400, offsetof(struct config, mp_token_ttl), false},
    {"db_pool_size", 1, 1000, offsetof(struct config, db_pool_size), false},
    {"db_pool_wait_ms", 10, 600000, offsetof(struct config, db_pool_wait_ms), false},
    {"db_statement_timeout_ms", 100, 3600000, offsetof(struct config, db_statement_timeout_ms),
     false},
};

/* public_url: http(s)://host[:port] and nothing more. The pages, their
 * forms and assets and the webhooks are served at the root of that
 * address: a path prefix would send browsers and providers elsewhere. */
static bool public_url_ok(const char *v, char *err, size_t errlen)
{
    const char *host;
    if (strncasecmp(v, "http://", 7) == 0)
        host = v + 7;
    else if (strncasecmp(v, "https://", 8) == 0)
        host = v + 8;
    else {
        snprintf(err, errlen, "public_url: must start with http:// or https://");
        return false;
    }
    size_t n = strcspn(host, "/?#");
    const char *port = NULL;
    if (host[0] == '[') { /* an IPv6 literal */
        const char *end = memchr(host, ']', n);
        if (!end || end == host + 1 || (end + 1 < host + n && end[1] != ':')) {
            snprintf(err, errlen, "public_url: an IPv6 host must be written [address]");
            return false;
        }
        port = end + 1 < host + n ? end + 2 : NULL;
    } else {
        const char *colon = memchr(host, ':', n);
        if (colon && memchr(colon + 1, ':', (size_t)(host + n - colon - 1))) {
            snprintf(err, errlen, "public_url: an IPv6 host must be written [address]");
            return false;
        }
        port = colon ? colon + 1 : NULL;
        if ((colon ? (size_t)(colon - host) : n) == 0) {
            snprintf(err, errlen, "public_url: has no host");
            return false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)host[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '@' || ch == '\\') {
            snprintf(err, errlen,
                     "public_url: the host must not contain spaces, control characters, '@' "
                     "or '\\'");
            return false;
        }
    }
    if (port) {
        size_t digits = (size_t)(host + n - port);
        unsigned long p = 0;
        bool ok = digits > 0 && digits <= 5 && strspn(port, "0123456789") >= digits;
        for (size_t i = 0; ok && i < digits; i++)
            p = p * 10 + (unsigned long)(port[i] - '0');
        if (!ok || p == 0 || p > 65535) {
            snprintf(err, errlen, "public_url: the port must be a number from 1 to 65535");
            return false;
        }
    }
    const char *rest = host + n;
    while (*rest == '/')
        rest++;
    if (*rest) {
        snprintf(err, errlen,
                 "public_url: must be only the scheme, host and port (no path, query or "
                 "fragment): chatpay serves its pages and webhooks at the root of that address");
        return false;
    }
    return true;
}

bool config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
    unsigned long x;
    if (strcmp(key, "listen") == 0) {
        char host[256];
        uint16_t port;
        if (!config_split_listen(value, host, sizeof host, &port)) {
            snprintf(err, errlen, "listen: expected HOST:PORT (port 1 to 65535), got \"%s\"",
                     value);
            return false;
        }
        return copy_str(c->listen, sizeof c->listen, key, value, err, errlen);
    }
    if (strcmp(key, "db") == 0)
        return copy_str(c->db, sizeof c->db, key, value, err, errlen);
    if (strcmp(key, "public_url") == 0) {
        if (!public_url_ok(value, err, errlen))
            return false;
        if (!copy_str(c->public_url, sizeof c->public_url, key, value, err, errlen))
            return false;
        c->public_url_set = true;
        size_t n = strlen(c->public_url);
        while (n > 8 && c->public_url[n - 1] == '/')
            c->public_url[--n] = '\0';
        for (char *p = c->public_url; *p && *p != ':'; p++) /* the scheme as links write it */
            *p = (char)tolower((unsigned char)*p);
        return true;
    }
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (strcmp(key, numbers[i].key) != 0)
            continue;
        if (!parse_uint(key, value, numbers[i].min, numbers[i].max, &x, err, errlen))
            return false;
        if (numbers[i].is_size)
            *(size_t *)((char *)c + numbers[i].offset) = x;
        else
            *(unsigned *)((char *)c + numbers[i].offset) = (unsigned)x;
        return true;
    }
    if (strcmp(key, "callback_retry_schedule") == 0) {
        if (!config_parse_schedule(value, c->callback_retry, &c->callback_retries)) {
            snprintf(err, errlen,
                     "callback_retry_schedule: 1 to %d waits from 1ms to 7d, separated by "
                     "commas, like 5s,5m,30m",
                     CONFIG_RETRY_MAX);
            return false;
        }
        return true;
    }
    if (strcmp(key, "secrets_key") == 0) {
        uint8_t k[SECRETBOX_KEY_LEN];
        if (!secretbox_key_parse(value, k)) {
            snprintf(err, errlen,
                     "secrets_key: must be 64 hexadecimal digits (32 bytes), e.g. from "
                     "`openssl rand -hex 32`");
            return false;
        }
        memset(k, 0, sizeof k);
        return copy_str(c->secrets_key, sizeof c->secrets_key, key, value, err, errlen);
    }
    if (strcmp(key, "admin_listen") == 0) {
        char host[256];
        uint16_t port;
        if (!config_split_listen(value, host, sizeof host, &port)) {
            snprintf(err, errlen, "admin_listen: expected HOST:PORT (port 1 to 65535), got \"%s\"",
                     value);
            return false;
        }
        return copy_str(c->admin_listen, sizeof c->admin_listen, key, value, err, errlen);
    }
    if (strcmp(key, "metrics_token") == 0) {
        size_t n = strlen(value);
        bool plain = n >= 16 && n < sizeof c->metrics_token;
        for (size_t i = 0; plain && i < n; i++)
            plain = value[i] > ' ' && value[i] < 0x7f;
        if (!plain) {
            snprintf(err, errlen,
                     "metrics_token: must be 16 to %zu printable ASCII characters without spaces",
                     sizeof c->metrics_token - 1);
            return false;
        }
        return copy_str(c->metrics_token, sizeof c->metrics_token, key, value, err, errlen);
    }
    if (strcmp(key, "log_level") == 0) {
        enum log_level l;
        if (!log_parse_level(value, &l)) {
            snprintf(err, errlen, "log_level: must be debug, info, warn, error or off");
            return false;
        }
        return copy_str(c->log_level, sizeof c->log_level, key, value, err, errlen);
    }
    snprintf(err, errlen, "unknown setting \"%s\"", key);
    return false;
}

struct ini_ctx {
    struct config *c;
    char *err;
    size_t errlen;
    const char *path;
    bool failed;
};

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *x = user;
    if (x->failed)
        return 0;
    if (section[0] && strcmp(section, "chatpay") != 0) {
        snprintf(x->err, x->errlen, "%s: unknown section [%s]", x->path, section);
        x->failed = true;
        return 0;
    }
    char msg[300];
    if (!config_set(x->c, name, value, msg, sizeof msg)) {
        snprintf(x->err, x->errlen, "%s: %s", x->path, msg);
        x->failed = true;
        return 0;
    }
    return 1;
}

bool config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    struct ini_ctx x = {.c = c, .err = err, .errlen = errlen, .path = path};
    /* a folder or a file that cannot be read would otherwise read as an
     * empty file: every setting at its default, without a word */
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file (the config file must be an INI file)", path);
        fclose(f);
        return false;
    }
    int rc = ini_parse_file(f, ini_cb, &x);
    int read_errno = ferror(f) ? errno : 0;
    bool read_failed = ferror(f) != 0;
    fclose(f);
    if (x.failed)
        return false;
    if (read_failed) {
        snprintf(err, errlen, "%s: cannot read: %s", path,
                 read_errno ? strerror(read_errno) : "read error");
        return false;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: syntax error on line %d", path, rc);
        return false;
    }
    snprintf(c->config_file, sizeof c->config_file, "%s", path);
    return true;
}

bool config_load_env(struct config *c, char *err, size_t errlen)
{
    static const struct {
        const char *env, *key;
    } vars[] = {
        {"CHATPAY_LISTEN", "listen"},
        {"CHATPAY_DB", "db"},
        {"CHATPAY_PUBLIC_URL", "public_url"},
        {"CHATPAY_LOG_LEVEL", "log_level"},
        {"CHATPAY_ADMIN_LISTEN", "admin_listen"},
        {"CHATPAY_METRICS_TOKEN", "metrics_token"},
        {"CHATPAY_CALLBACK_WORKERS", "callback_workers"},
        {"CHATPAY_MP_TOKEN_TTL", "mp_token_ttl"},
        {"CHATPAY_CALLBACK_RETRY_SCHEDULE", "callback_retry_schedule"},
        {"CHATPAY_SECRETS_KEY", "secrets_key"},
        {"CHATPAY_DB_POOL_SIZE", "db_pool_size"},
        {"CHATPAY_DB_POOL_WAIT_MS", "db_pool_wait_ms"},
        {"CHATPAY_DB_STATEMENT_TIMEOUT_MS", "db_statement_timeout_ms"},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i].env);
        if (!v || !*v)
            continue;
        char msg[300];
        if (!config_set(c, vars[i].key, v, msg, sizeof msg)) {
            snprintf(err, errlen, "%s: %s", vars[i].env, msg);
            return false;
        }
    }
    return true;
}

bool config_split_listen(const char *listen, char *host, size_t hostcap, uint16_t *port)
{
    const char *colon;
    const char *h = listen;
    size_t hl;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return false;
        h = listen + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - listen);
    }
    if (hl == 0 || hl >= hostcap)
        return false;
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    /* port 0 would listen on a port the kernel picks, which the public URL
     * and the load balancer cannot know */
    if (errno || end == colon + 1 || *end || p == 0 || p > 65535 || colon[1] == '-')
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return true;
}

bool config_finish(struct config *c, char *err, size_t errlen)
{
    if (!c->public_url[0]) {
        int n = snprintf(c->public_url, sizeof c->public_url, "http://%s", c->listen);
        if (n < 0 || (size_t)n >= sizeof c->public_url) {
            snprintf(err, errlen, "public_url: too long");
            return false;
        }
    }
    enum log_level l;
    if (log_parse_level(c->log_level, &l))
        log_set_level(l);
    return true;
}

/* Is host (as config_split_listen gives it) a loopback address? */
static bool loopback_host(const char *host)
{
    unsigned char a[16];
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char one[16] = {[15] = 1};
        static const unsigned char v4mapped[12] = {[10] = 0xff, [11] = 0xff};
        return memcmp(a, one, 16) == 0 || (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
    }
    return false;
}

bool config_public_url_ok(const struct config *c, bool required, char *err, size_t errlen)
{
    if (c->public_url_set)
        return true;
    static const char how[] = "give --public-url URL (or public_url in the config file, or "
                              "CHATPAY_PUBLIC_URL): the https:// address customers and "
                              "providers reach";
    if (required) {
        snprintf(err, errlen,
                 "public_url is not set: the payment links sent to customers and the URLs "
                 "given to providers would be http://%s/…, which they cannot reach; %s",
                 c->listen, how);
        return false;
    }
    char host[256];
    uint16_t port;
    if (config_split_listen(c->listen, host, sizeof host, &port) && loopback_host(host))
        return true;
    snprintf(err, errlen,
             "public_url is not set and listen %s is not a loopback address: payment links "
             "would be http://%s/…, which customers cannot reach; %s",
             c->listen, c->listen, how);
    return false;
}

bool config_secrets_key(const struct config *c, uint8_t key[32])
{
    return c->secrets_key[0] && secretbox_key_parse(c->secrets_key, key);
}
