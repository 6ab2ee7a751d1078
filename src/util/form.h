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

#endif
