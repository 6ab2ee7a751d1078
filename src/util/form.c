/*
 * form.c — reading fields of application/x-www-form-urlencoded bodies.
 */
#include "util/form.h"

#include <stdbool.h>
#include <string.h>

int form_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..n) into out (n + 1 bytes); false on a bad escape or a NUL. */
static bool decode(const char *s, size_t n, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            out[w++] = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = form_hexval(s[i + 1])) < 0 || (lo = form_hexval(s[i + 2])) < 0)
                return false;
            char v = (char)(hi * 16 + lo);
            if (v == '\0')
                return false;
            out[w++] = v;
            i += 2;
        } else {
            out[w++] = c;
        }
    }
    out[w] = '\0';
    return true;
}

char *form_get(struct arena *a, const char *body, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        const char *eq = memchr(body + i, '=', end - i);
        size_t klen = eq ? (size_t)(eq - (body + i)) : end - i;
        char *key = arena_alloc(a, klen + 1);
        if (decode(body + i, klen, key) && strlen(key) == nlen && memcmp(key, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : body + end;
            size_t vlen = (size_t)(body + end - v);
            char *out = arena_alloc(a, vlen + 1);
            return decode(v, vlen, out) ? out : NULL;
        }
        i = end + 1;
    }
    return NULL;
}

/* Percent-encode s into out (3 * strlen(s) + 1 bytes): every byte but the
 * unreserved ones (RFC 3986: letters, digits, - . _ ~). Returns the end. */
char *form_percent_encode(const char *s, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *out++ = (char)*p;
        } else {
            *out++ = '%';
            *out++ = hex[*p >> 4];
            *out++ = hex[*p & 15];
        }
    }
    *out = '\0';
    return out;
}

/* An application/x-www-form-urlencoded body of n name/value pairs (kv[2i],
 * kv[2i+1]; a NULL value leaves its pair out), in the arena. */
const char *form_encode(struct arena *a, const char *const *kv, size_t n)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        if (kv[2 * i + 1])
            cap += 3 * strlen(kv[2 * i]) + 3 * strlen(kv[2 * i + 1]) + 2;
    char *buf = arena_alloc(a, cap), *p = buf;
    *p = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!kv[2 * i + 1])
            continue;
        if (p != buf)
            *p++ = '&';
        p = form_percent_encode(kv[2 * i], p);
        *p++ = '=';
        p = form_percent_encode(kv[2 * i + 1], p);
    }
    return buf;
}
