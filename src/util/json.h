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

#endif
