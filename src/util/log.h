/*
 * log.h — structured logging: one JSON object per line on stderr.
 *
 * Every line has "ts" (RFC 3339, UTC), "level" and "msg"; callers add fields
 * as key/value pairs. Lines are written with a single write(2) so lines from
 * different threads never interleave. Never log API keys, card data or
 * request bodies.
 */
#ifndef CHATPAY_UTIL_LOG_H
#define CHATPAY_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_parse_level(const char *name, enum log_level *out);
/* Where lines go (a file descriptor; stderr unless set, e.g. by tests). */
void log_set_output(int fd);

/* A field to add to a line. Use the LF_* helpers. */
enum log_field_kind { LF_STR, LF_INT, LF_MS };
struct log_field {
    const char *key;
    enum log_field_kind kind;
    const char *s;
    int64_t i;
    double ms;
};
#define LFS(k, v)  ((struct log_field){.key = (k), .kind = LF_STR, .s = (v)})
#define LFI(k, v)  ((struct log_field){.key = (k), .kind = LF_INT, .i = (v)})
#define LFMS(k, v) ((struct log_field){.key = (k), .kind = LF_MS, .ms = (v)})

/* Write one line with n fields (NULL string values are skipped). */
void log_fields(enum log_level level, const char *msg, const struct log_field *f, int n);

/* printf-style message; error lines carry the source location. */
void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)

#endif
