/*
 * openapi.c — GET /openapi.json (the API document, compiled into the binary
 * from docs/openapi.json so that it always matches the code it ships with)
 * and GET / (where to find it).
 */
#include "api/api.h"
#include "api/ops/ops.h"

#include <string.h>

#include "app.h"

/* docs/openapi.json, embedded by the assembler; NUL-terminated. */
__asm__(".section .rodata\n"
        ".global chatpay_openapi_json\n"
        ".type chatpay_openapi_json, @object\n"
        ".balign 16\n"
        "chatpay_openapi_json:\n"
        ".incbin \"docs/openapi.json\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char chatpay_openapi_json[];

void api_openapi(struct req *r)
{
    reply_text(r, 200, "application/json", chatpay_openapi_json, strlen(chatpay_openapi_json));
}

void api_index(struct req *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string("chatpay"));
    json_object_object_add(o, "version", json_object_new_string(CHATPAY_VERSION));
    json_object_object_add(
        o, "openapi",
        json_object_new_string(arena_printf(r->arena, "%s/openapi.json", r->app->cfg->public_url)));
    reply_json(r, 200, o);
    json_object_put(o);
}
