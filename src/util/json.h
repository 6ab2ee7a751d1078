/*
 * json.h — small json-c helpers shared by the layers that build JSON.
 */
#ifndef CHATPAY_UTIL_JSON_H
#define CHATPAY_UTIL_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/arena.h"
#include "util/time.h"

/* An RFC 3339 time (UTC, milliseconds) as a JSON string. */
json_object *json_time(usec_t t);

/* Add key: string when v is not NULL (and, with nonempty, not ""). */
void json_add_string(json_object *o, const char *key, const char *v, bool nonempty);

/* The compact text of o (no escaped slashes), copied into the arena; its
 * length in *len when len is not NULL. */
const char *json_text(struct arena *a, json_object *o, size_t *len);

/* The whole of s[0..n) as one JSON value (white space after it allowed);
 * NULL when it is anything else: nothing, bytes after the value, a NUL. */
json_object *json_parse_whole(const char *s, size_t n);

/* The same, NULL unless the value is an object. */
json_object *json_parse_object(const char *s, size_t n);
/* The same for text from a client: NULL unless it is strict JSON (RFC 8259,
 * well-formed UTF-8 in every string, at most 32 levels deep, no member name
 * repeated in an object). */
json_object *json_parse_request_object(const char *s, size_t n);

/* The number of members of all the objects in o (o included). */
size_t json_members(json_object *o);

/* o[key] when o is an object and the member has type t, else NULL. */
json_object *json_member(json_object *o, const char *key, json_type t);

/* o[key] as a string, NULL when absent or not a string. */
const char *json_member_string(json_object *o, const char *key);

#endif
