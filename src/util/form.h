/*
 * form.h — application/x-www-form-urlencoded bodies (HTML forms).
 */
#ifndef CHATPAY_UTIL_FORM_H
#define CHATPAY_UTIL_FORM_H

#include <stddef.h>

#include "util/arena.h"

/* The value of a hexadecimal digit, or -1. */
int form_hexval(char c);

/* The decoded value of the first field `name` in body[0..len), copied into
 * the arena ('+' → space, %XX decoded; a value decoding to a NUL byte or
 * malformed escapes give NULL). NULL when absent. */
char *form_get(struct arena *a, const char *body, size_t len, const char *name);

/* Percent-encode s into out (3 * strlen(s) + 1 bytes): every byte but the
 * unreserved ones (RFC 3986: letters, digits, - . _ ~). Returns the end. */
char *form_percent_encode(const char *s, char *out);

/* An application/x-www-form-urlencoded body of n name/value pairs (kv[2i],
 * kv[2i+1]; a NULL value leaves its pair out), in the arena. */
const char *form_encode(struct arena *a, const char *const *kv, size_t n);

#endif
