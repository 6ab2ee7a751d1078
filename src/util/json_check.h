/*
 * json_check.h — strict JSON syntax check (RFC 8259) with error positions.
 */
#ifndef CHATPAY_UTIL_JSON_CHECK_H
#define CHATPAY_UTIL_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_CHECK_MAX_DEPTH 256

/* True when text[0..len) is exactly one JSON value with optional surrounding
 * whitespace, nested at most max_depth (<= JSON_CHECK_MAX_DEPTH) levels.
 * Otherwise *err_offset is the byte offset of the offending character (len
 * for a premature end) and *err_why a short English reason. */
bool json_check(const char *text, size_t len, int max_depth, size_t *err_offset,
                const char **err_why);

/* json_check, and *members (when not NULL) the number of member names the
 * text holds, in all its objects: json-c keeps the last of repeated names,
 * so a parsed tree with fewer (json_members) had names repeated. */
bool json_check_count(const char *text, size_t len, int max_depth, size_t *members,
                      size_t *err_offset, const char **err_why);

#endif
