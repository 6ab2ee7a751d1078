/*
 * fuzz_json_check.c — libFuzzer target for util/json_check.c.
 *
 * The input is a request body. Checked:
 *   1. json_check never reads outside the input (ASan), and on failure gives
 *      an offset within [0, size] and a reason;
 *   2. the depth limit only ever adds a "nested too deeply" failure: an input
 *      that passes at the server's limit (32) passes at JSON_CHECK_MAX_DEPTH,
 *      and any other failure is the same at both limits;
 *   3. differential against json-c, called exactly as src/http/server.c
 *      parse_json_or_reply calls it: whatever json_check accepts, json-c
 *      (json_tokener_new_ex(33), the text plus its terminating NUL) must parse
 *      without error, into a value of the kind the text starts with. json-c
 *      being more lenient (NaN, single quotes, ...) is fine and not checked.
 * A body containing a NUL byte is rejected by the server before json_check
 * runs, so it gets no differential check; json_check must reject it anyway
 * (a NUL is valid nowhere in JSON text).
 * Any violated invariant aborts, which libFuzzer reports as a crash.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "util/json_check.h"

/* src/http/server.c JSON_MAX_DEPTH */
#define SERVER_DEPTH 32

static const char reason_deep[] = "nested too deeply";

/* The json-c type a valid JSON text starting with `c` must parse to. */
static bool type_matches(char c, json_object *obj)
{
    enum json_type t = json_object_get_type(obj); /* json_type_null for NULL */
    switch (c) {
    case '{':
        return t == json_type_object;
    case '[':
        return t == json_type_array;
    case '"':
        return t == json_type_string;
    case 't':
        return t == json_type_boolean && json_object_get_boolean(obj);
    case 'f':
        return t == json_type_boolean && !json_object_get_boolean(obj);
    case 'n':
        return t == json_type_null;
    default: /* '-' or a digit */
        return t == json_type_int || t == json_type_double;
    }
}

static void differential(const char *text, size_t size)
{
    char *buf = malloc(size + 1);
    CHECK(buf);
    memcpy(buf, text, size);
    buf[size] = '\0';

    struct json_tokener *tok = json_tokener_new_ex(SERVER_DEPTH + 1);
    CHECK(tok);
    json_object *obj = json_tokener_parse_ex(tok, buf, (int)size + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    CHECK(jerr == json_tokener_success);
    size_t start = strspn(buf, " \t\r\n");
    CHECK(start < size && type_matches(buf[start], obj));
    json_object_put(obj);
    json_tokener_free(tok);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t at = SIZE_MAX, at_max = SIZE_MAX;
    const char *why = NULL, *why_max = NULL;

    if (size >= INT_MAX)
        return 0;
    bool ok = json_check(text, size, SERVER_DEPTH, &at, &why);
    bool ok_max = json_check(text, size, JSON_CHECK_MAX_DEPTH, &at_max, &why_max);

    if (!ok)
        CHECK(at <= size && why && *why);
    if (!ok_max)
        CHECK(at_max <= size && why_max && *why_max);
    if (ok)
        CHECK(ok_max);
    else if (strcmp(why, reason_deep) != 0)
        CHECK(!ok_max && at_max == at && strcmp(why_max, why) == 0);
    else
        CHECK(ok_max || at_max >= at);

    if (memchr(data, '\0', size)) {
        CHECK(!ok && !ok_max);
        return 0;
    }
    if (ok)
        differential(text, size);
    return 0;
}
