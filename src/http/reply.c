/*
 * reply.c — building replies, error replies included.
 *
 * An error reply is logged here (client mistakes as warnings, our own faults
 * as errors) and its body rendered by the route's family (or, for requests
 * that matched no route, the server's fallback family). Texts are made
 * well-formed UTF-8 first.
 */
#include "http/internal.h"

#include <string.h>

#include "util/log.h"
#include "util/utf8.h"

void reply_header(struct req *r, const char *name, const char *value)
{
    struct req_private *p = r->priv;
    if (p->nhdr >= REPLY_MAX_HEADERS) {
        log_error("too many reply headers; dropped %s", name);
        return;
    }
    p->hdr_names[p->nhdr] = arena_strdup(r->arena, name);
    p->hdr_values[p->nhdr] = arena_strdup(r->arena, value);
    p->nhdr++;
}

void reply_text(struct req *r, int status, const char *content_type, const char *body, size_t len)
{
    struct req_private *p = r->priv;
    if (p->status) {
        log_error("second reply for %s %s ignored", r->method_text, r->path_text);
        return;
    }
    p->status = status;
    p->content_type = arena_strdup(r->arena, content_type);
    /* byte for byte: a body may hold NUL (images) */
    char *copy = arena_alloc(r->arena, len + 1);
    if (len > 0)
        memcpy(copy, body, len);
    copy[len] = '\0';
    p->resp_body = copy;
    p->resp_len = len;
}

void reply_json(struct req *r, int status, json_object *body)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    reply_text(r, status, "application/json", s, len);
}

/* An error text as well-formed UTF-8: a message may quote what the client
 * sent, and JSON must not carry malformed bytes (each becomes U+FFFD). */
static const char *text(struct req *r, const char *s)
{
    if (utf8_valid(s))
        return s;
    size_t cap = strlen(s) * 3 + 8;
    return utf8_clean(s, arena_alloc(r->arena, cap), cap);
}

static void reply_error_list(struct req *r, enum err_code code, const char *message,
                             const char *const *items, size_t n)
{
    const struct err_info *e = err_info(code);
    const char *msg = text(r, message ? message : e->message);
    const char **clean = n ? arena_alloc(r->arena, n * sizeof *clean) : NULL;
    for (size_t i = 0; i < n; i++)
        clean[i] = text(r, items[i]);
    int status = e->http_status;
    if (status >= 500)
        log_error("%s %s → %d: %s", r->method_text, r->path_text, status, msg);
    else if (status != 404 && status != 401)
        log_fields(LOG_WARN, "client error",
                   (struct log_field[]){LFS("request_id", r->request_id), LFS("code", e->name),
                                        LFS("detail", msg)},
                   3);
    const struct http_family *f = r->route ? r->route->family : r->priv->server_fallback;
    if (f && f->render_error) {
        f->render_error(r, status, e->name, msg, clean, n);
        if (r->priv->status)
            return;
    }
    /* no family to render it: the message as text */
    reply_text(r, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

void reply_error(struct req *r, enum err_code code, const char *message)
{
    reply_error_list(r, code, message, NULL, 0);
}

void reply_field_errors(struct req *r, const struct field_errors *errs)
{
    const char *msg = errs->count == 1 ? "Validation failed: 1 problem"
                                       : arena_printf(r->arena, "Validation failed: %zu problems",
                                                      errs->count + errs->dropped);
    reply_error_list(r, ERR_VALIDATION, msg, errs->items, errs->count);
}
