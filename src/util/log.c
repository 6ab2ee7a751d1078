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
#include "util/utf8.h"

static _Atomic int log_level = LOG_INFO;
static _Atomic int log_fd = STDERR_FILENO;

void log_set_output(int fd)
{
    atomic_store(&log_fd, fd);
}

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

/* A line is built in a fixed buffer and is always one complete JSON object
 * of well-formed UTF-8: a long value is cut inside its quotes (ending with
 * "…"), a field that no longer fits at all is left out, and the closing
 * "}\n" always has its room. */
enum {
    LOG_LINE_MAX = 4096,
    LOG_VALUE_MAX = 1024, /* bytes of one value, escaped */
    LOG_RESERVE = 2,      /* "}\n" */
};
struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
};

static size_t room(const struct line *l)
{
    return LOG_LINE_MAX - LOG_RESERVE - l->len;
}

static void put_raw(struct line *l, const char *s, size_t n)
{
    if (n > room(l))
        n = room(l);
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* A JSON string of at most `max` bytes (quotes included, max >= 8): escaped,
 * malformed UTF-8 replaced by U+FFFD, cut with "…" when longer. */
static void put_str_max(struct line *l, const char *s, size_t max)
{
    static const char ellipsis[] = "\xE2\x80\xA6";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    size_t end = l->len + max - 1; /* where the closing quote goes */
    l->buf[l->len++] = '"';
    for (size_t i = 0; i < len;) {
        char esc[8];
        const char *piece = esc;
        size_t n, k = 1;
        uint32_t cp;
        if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)p[i];
            n = 2;
        } else if (p[i] < 0x20 || p[i] == 0x7f) {
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", p[i]);
        } else if (p[i] < 0x80) {
            piece = s + i;
            n = 1;
        } else if ((k = utf8_next(p + i, len - i, &cp)) != 0) {
            piece = s + i;
            n = k;
        } else {
            piece = "\xEF\xBF\xBD";
            n = 3;
            k = 1;
        }
        /* keep room for "…" unless this is the last piece */
        if (l->len + n + (i + k < len ? 3 : 0) > end) {
            memcpy(l->buf + l->len, ellipsis, 3);
            l->len += 3;
            break;
        }
        memcpy(l->buf + l->len, piece, n);
        l->len += n;
        i += k;
    }
    l->buf[l->len++] = '"';
}

static void put_str(struct line *l, const char *s)
{
    put_str_max(l, s, LOG_VALUE_MAX);
}

/* ,"key": — only when the key and at least a short value still fit. */
static bool put_key(struct line *l, const char *k)
{
    size_t need = strlen(k) + 4 + 24; /* a number, or a short string */
    if (need > room(l))
        return false;
    /* keys are the program's own names: plain ASCII, nothing to escape */
    put_raw(l, ",\"", 2);
    put_raw(l, k, strlen(k));
    put_raw(l, "\":", 2);
    return true;
}

/* A string value after put_key: as much as fits. */
static void put_value(struct line *l, const char *s)
{
    size_t max = room(l) < LOG_VALUE_MAX ? room(l) : LOG_VALUE_MAX;
    put_str_max(l, s, max);
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
    /* LOG_RESERVE keeps room for these two */
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    /* one write per line; a short write on stderr is not retried */
    ssize_t w = write(atomic_load(&log_fd), l->buf, l->len);
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
            if (f[i].s && put_key(&l, f[i].key))
                put_value(&l, f[i].s);
            break;
        case LF_INT:
            if (put_key(&l, f[i].key)) {
                k = snprintf(num, sizeof num, "%lld", (long long)f[i].i);
                put_raw(&l, num, (size_t)k);
            }
            break;
        case LF_MS:
            if (put_key(&l, f[i].key)) {
                k = snprintf(num, sizeof num, "%.3f", f[i].ms);
                put_raw(&l, num, (size_t)k);
            }
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
        if (put_key(&l, "at"))
            put_value(&l, where);
    }
    end_line(&l);
}
