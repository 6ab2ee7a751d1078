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
