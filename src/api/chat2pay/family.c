/*
 * family.c — the Chat 2 Pay family: authentication, error bodies and hooks
 * (see chat2pay.h).
 */
#include "api/chat2pay/chat2pay.h"

#include "core/status.h"
#include "util/json.h"

static json_object *string_list(const char *const *items, size_t n)
{
    json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(items[i]));
    return a;
}

/* message, errors (at least one) and code: the BadRequest members */
static void add_problems(json_object *o, const char *code, const char *message,
                         const char *const *items, size_t n)
{
    json_object_object_add(o, "message", json_object_new_string(message));
    json_object_object_add(o, "errors", n ? string_list(items, n) : string_list(&message, 1));
    json_object_object_add(o, "code", json_object_new_string(code));
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
        add_problems(o, code, message, items, n);
    }
    reply_json(r, status, o);
    json_object_put(o);
}

/* POST /api/v2/order-receipt: the published 400 is a PaymentReceiptResponse
 * ("receipt link sent failed"), so a refusal carries its members too (the
 * request failed: RECEIPT_LINK_REQUEST_FAILED, and the reason in `error`)
 * besides the usual message, errors and code: a client written against
 * either description finds what it reads. */
static void c2p_receipt_render_error(struct req *r, int status, const char *code,
                                     const char *message, const char *const *items, size_t n)
{
    if (status != 400) {
        c2p_render_error(r, status, code, message, items, n);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "timestamp", json_time(time_now()));
    json_object_object_add(
        o, "transactionStatus",
        json_object_new_string(link_status_name(LINK_RECEIPT_LINK_REQUEST_FAILED)));
    json_object_object_add(o, "transactionStatusId",
                           json_object_new_int(LINK_RECEIPT_LINK_REQUEST_FAILED));
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_int(status));
    json_object_object_add(e, "description", json_object_new_string(message));
    json_object_object_add(o, "error", e);
    add_problems(o, code, message, items, n);
    reply_json(r, status, o);
    json_object_put(o);
}

const struct http_family c2p_receipt_family = {
    .name = "chat2pay",
    .authenticate_or_reply = c2p_authenticate_or_reply,
    .render_error = c2p_receipt_render_error,
    .before_or_reply = c2p_idem_prepare_or_reply,
    .after = c2p_idem_after,
};

const struct http_family c2p_family = {
    .name = "chat2pay",
    .authenticate_or_reply = c2p_authenticate_or_reply,
    .render_error = c2p_render_error,
    .before_or_reply = c2p_idem_prepare_or_reply,
    .after = c2p_idem_after,
};
