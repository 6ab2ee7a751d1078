/*
 * json.c — small json-c helpers (see json.h).
 */
#include "util/json.h"

json_object *json_time(usec_t t)
{
    char buf[40];
    time_format_rfc3339(t, buf, sizeof buf);
    return json_object_new_string(buf);
}

void json_add_string(json_object *o, const char *key, const char *v, bool nonempty)
{
    if (v && (!nonempty || *v))
        json_object_object_add(o, key, json_object_new_string(v));
}

const char *json_text(struct arena *a, json_object *o, size_t *len)
{
    size_t n;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (len)
        *len = n;
    return arena_strndup(a, s, n);
}
