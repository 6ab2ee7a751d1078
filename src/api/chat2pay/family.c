/*
 * family.c — the Chat 2 Pay family: authentication, error bodies and hooks
 * (see chat2pay.h).
 */
#include "api/chat2pay/chat2pay.h"

#include "util/json.h"

static json_object *string_list(const char *const *items, size_t n)
{
    json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(items[i]));
    return a;
}

void c2p_render_error(struct req *r, int status, const char *code, const char *message,
                      const char *const *items, size_t n)
{
    json_object *o = json_object_new_object();
    if (status == 401) {
        json_object_object_add(o, "timestamp", json_time(time_now()));
        json_object_object_add(o, "status", json_object_new_int(status));
        json_object_object_add(o, "error", json_object_new_string(err_reason(status)));
        json_object_object_add(o, "message", json_object_new_string(message));
        json_object_object_add(o, "path", json_object_new_string(r->path_text));
    } else {
        bool bad_request_shape =
            status == 400 || status == 409 || status == 413 || status == 415 || status == 422;
        if (!bad_request_shape)
            json_object_object_add(o, "status", json_object_new_string(err_status_text(status)));
        json_object_object_add(o, "message", json_object_new_string(message));
        json_object_object_add(o, "errors", n ? string_list(items, n) : string_list(&message, 1));
        json_object_object_add(o, "code", json_object_new_string(code));
    }
    reply_json(r, status, o);
    json_object_put(o);
}

const struct http_family c2p_family = {
    .name = "chat2pay",
    .authenticate_or_reply = c2p_authenticate_or_reply,
    .render_error = c2p_render_error,
    .before_or_reply = c2p_idem_prepare_or_reply,
    .after = c2p_idem_after,
};
