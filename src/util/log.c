/*
 * log.c — JSON-lines logger (see log.h).
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/time.h"

static _Atomic int log_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(enum log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&log_level);
}

bool log_parse_level(const char *name, enum log_level *out)
{
    for (int i = 0; i <= LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

/* A fixed line buffer: lines longer than LINE_MAX are cut and closed. */
enum { LOG_LINE_MAX = 2048 };
struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
};

static void put_raw(struct line *l, const char *s, size_t n)
{
    /* keep room for the closing "}\n" */
    if (l->len + n > LOG_LINE_MAX - 2)
        n = LOG_LINE_MAX - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_str(struct line *l, const char *s)
{
    put_raw(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put_raw(l, esc, 2);
        } else if (*p < 0x20) {
            int n = snprintf(esc, sizeof esc, "\\u%04x", *p);
            put_raw(l, esc, (size_t)n);
        } else {
            put_raw(l, (const char *)p, 1);
        }
    }
    put_raw(l, "\"", 1);
}

static void put_key(struct line *l, const char *k)
{
    put_raw(l, ",", 1);
    put_str(l, k);
    put_raw(l, ":", 1);
}

static void begin_line(struct line *l, enum log_level level, const char *msg)
{
    char ts[40];
    time_format_rfc3339_us(time_now(), ts, sizeof ts);
    l->len = 0;
    put_raw(l, "{\"ts\":", 6);
    put_str(l, ts);
    put_key(l, "level");
    put_str(l, level_names[level]);
    put_key(l, "msg");
    put_str(l, msg);
}

static void end_line(struct line *l)
{
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    /* one write per line; a short write on stderr is not retried */
    ssize_t w = write(STDERR_FILENO, l->buf, l->len);
    (void)w;
}

void log_fields(enum log_level level, const char *msg, const struct log_field *f, int n)
{
    if (level < log_get_level())
        return;
    struct line l;
    begin_line(&l, level, msg);
    for (int i = 0; i < n; i++) {
        char num[40];
        int k;
        switch (f[i].kind) {
        case LF_STR:
            if (!f[i].s)
                continue;
            put_key(&l, f[i].key);
            put_str(&l, f[i].s);
            break;
        case LF_INT:
            put_key(&l, f[i].key);
            k = snprintf(num, sizeof num, "%lld", (long long)f[i].i);
            put_raw(&l, num, (size_t)k);
            break;
        case LF_MS:
            put_key(&l, f[i].key);
            k = snprintf(num, sizeof num, "%.3f", f[i].ms);
            put_raw(&l, num, (size_t)k);
            break;
        }
    }
    end_line(&l);
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    if (level < log_get_level())
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct line l;
    begin_line(&l, level, msg);
    if (level >= LOG_ERROR) {
        char where[256];
        snprintf(where, sizeof where, "%s:%d", file, line);
        put_key(&l, "at");
        put_str(&l, where);
    }
    end_line(&l);
}
