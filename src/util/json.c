/*
 * json.c — small json-c helpers (see json.h).
 */
#include "util/json.h"
#include "util/json_check.h"

#include <stdint.h>
#include <string.h>

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

json_object *json_parse_whole(const char *s, size_t n)
{
    if (!s || n == 0 || n > (size_t)INT32_MAX || memchr(s, '\0', n))
        return NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, s, (int)n);
    size_t end = json_tokener_get_parse_end(tok);
    if (!o && json_tokener_get_error(tok) == json_tokener_continue && end == n) {
        /* a number or literal at the very end waits for more: end the input */
        o = json_tokener_parse_ex(tok, "", 1);
        end = n;
    }
    bool ok = o && json_tokener_get_error(tok) == json_tokener_success;
    if (!ok)
        end = n;
    json_tokener_free(tok);
    for (; ok && end < n; end++)
        ok = s[end] == ' ' || s[end] == '\t' || s[end] == '\r' || s[end] == '\n';
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

json_object *json_parse_object(const char *s, size_t n)
{
    json_object *o = json_parse_whole(s, n);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

json_object *json_parse_request_object(const char *s, size_t n)
{
    size_t at, members;
    const char *why;
    if (!json_check_count(s, n, 32, &members, &at, &why))
        return NULL;
    json_object *o = json_parse_object(s, n);
    if (o && json_members(o) != members) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

size_t json_members(json_object *o)
{
    size_t n = 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, k, v)
        {
            (void)k;
            n += 1 + json_members(v);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            n += json_members(json_object_array_get_idx(o, i));
    }
    return n;
}

json_object *json_member(json_object *o, const char *key, json_type t)
{
    json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, t))
        return NULL;
    return v;
}

const char *json_member_string(json_object *o, const char *key)
{
    json_object *v = json_member(o, key, json_type_string);
    return v ? json_object_get_string(v) : NULL;
}
