/*
 * server.c — the libmicrohttpd daemon and the request dispatcher.
 *
 * libmicrohttpd runs a poll thread pool (one thread per core by default) fed
 * by the acceptor's thread (acceptor.c says why not epoll).
 * Each request goes through on_request() several times:
 *   1st call: create the request (arena, id, route match); answer nothing yet
 *             (answering on the first call makes MHD close the connection).
 *   upload calls: append body bytes up to the route's cap.
 *   last call: dispatch — the common checks in one place, then the handler —
 *             and queue the reply.
 * on_completed() logs the request, records metrics and frees the arena.
 */
#include "http/internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/crypto.h"
#include "util/form.h"
#include "util/json.h"
#include "util/json_check.h"
#include "util/log.h"
#include "util/utf8.h"

struct http_server {
    struct MHD_Daemon *daemon;
    const struct route *routes;
    size_t nroutes;
    struct route_view view;
    const struct http_family *fallback;
    bool hsts;
    struct app *app;
    size_t default_max_body;
    _Atomic unsigned dispatched; /* requests past their body, not yet completed */
    _Atomic unsigned uploading;  /* requests still receiving their body */
    _Atomic int64_t last_upload; /* monotonic µs of the latest upload activity */
    struct conn_guard *guard;
    struct acceptor *acceptor;
    _Atomic bool draining; /* quiesced: every answer closes its connection */
};

/* Maximum JSON nesting accepted in request bodies. */
enum { JSON_MAX_DEPTH = 32 };

static const char *conn_value(const struct req *r, enum MHD_ValueKind kind, const char *name)
{
    return MHD_lookup_connection_value(r->priv->conn, kind, name);
}

const char *req_header(const struct req *r, const char *name)
{
    return conn_value(r, MHD_HEADER_KIND, name);
}

const char *req_query(const struct req *r, const char *name)
{
    return conn_value(r, MHD_GET_ARGUMENT_KIND, name);
}

struct query_text {
    struct req *r;
    char *text;
};

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct query_text *q = cls;
    q->text = q->text ? arena_printf(q->r->arena, "%s&%s=%s", q->text, key, value ? value : "")
                      : arena_printf(q->r->arena, "%s=%s", key, value ? value : "");
    return MHD_YES;
}

const char *req_query_string(struct req *r)
{
    struct query_text q = {.r = r};
    MHD_get_connection_values(r->priv->conn, MHD_GET_ARGUMENT_KIND, query_cb, &q);
    return q.text;
}

bool req_draining(const struct req *r)
{
    return atomic_load(&r->priv->server->draining);
}

bool req_serves(const struct req *r, unsigned route_flags)
{
    const struct route_view *v = &r->priv->server->view;
    return !(v->hide & route_flags) && (!v->only || (v->only & route_flags));
}

const char *req_raw_query(const struct req *r)
{
    return r->priv->raw_query;
}

const char *req_param(const struct req *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->param_names[i], name) == 0)
            return r->param_values[i];
    return NULL;
}

const char *req_body(const struct req *r, size_t *len)
{
    if (r->priv->too_large) { /* dropped (ROUTE_OVERSIZE_DROPPED): none of it */
        *len = 0;
        return "";
    }
    *len = r->priv->body_len;
    return r->priv->body ? r->priv->body : "";
}

int req_status(const struct req *r)
{
    return r->priv->status;
}

const char *req_reply_body(const struct req *r, size_t *len)
{
    *len = r->priv->resp_len;
    return r->priv->resp_body ? r->priv->resp_body : "";
}

/* A request id from the client is kept when it is short and plain. */
/* A path as it may be shown (logs, error bodies): the secret segment of a
 * customer page (/p/{token}, /wa/{token}) or a provider's hook
 * (/hooks/{providerId}/{token}) as "{token}": whoever holds the token can
 * pay or post, and a log or a page quoting it would hand it on. */
static const char *without_secrets(struct arena *a, const char *path)
{
    static const struct {
        const char *prefix;
        int skip; /* segments after the prefix before the secret one */
    } secret[] = {{"/p/", 0}, {"/wa/", 0}, {"/hooks/", 1}};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        size_t n = strlen(secret[i].prefix);
        if (strncmp(path, secret[i].prefix, n) != 0)
            continue;
        const char *seg = path + n;
        for (int k = 0; k < secret[i].skip && seg; k++)
            seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL;
        if (!seg || !*seg)
            return path;
        const char *rest = seg + strcspn(seg, "/?");
        return arena_printf(a, "%.*s{token}%s", (int)(seg - path), path, rest);
    }
    return path;
}

static bool plain_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= REQ_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* Request framing that a proxy in front of chatpay might read differently
 * (request smuggling): found while the headers are walked. */
enum { FRAMING_SPANS = 64 };
struct framing {
    unsigned content_length, transfer_encoding;
    bool chunked;
    const char *error;
    /* where each header's name and value lie in the request's buffer */
    const char *key[FRAMING_SPANS], *value_end[FRAMING_SPANS];
    size_t n; /* headers seen (may exceed FRAMING_SPANS) */
};

/* Is any byte of s[0..n) a control character (NUL included; HTAB is
 * allowed in values)? */
static bool has_control(const char *s, size_t n, bool tab_ok)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(tab_ok && c == '\t')) || c == 0x7f)
            return true;
    }
    return false;
}

static enum MHD_Result framing_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    struct framing *f = cls;
    /* libmicrohttpd gives the sizes: a NUL shows as a size beyond strlen */
    if (has_control(key, key_size, false) || (value && has_control(value, value_size, true))) {
        f->error = "a header name or value contains a control character";
        return MHD_NO;
    }
    if (f->n < FRAMING_SPANS) {
        f->key[f->n] = key;
        f->value_end[f->n] = value ? value + value_size : key + key_size;
    }
    f->n++;
    if (strcasecmp(key, "Content-Length") == 0) {
        f->content_length++;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        f->transfer_encoding++;
        const char *v = value ? value : "";
        size_t b = strspn(v, " \t"), e = strlen(v);
        while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        f->chunked = e - b == 7 && strncasecmp(v + b, "chunked", 7) == 0;
    }
    return MHD_YES;
}

/* A NUL inside a header value: libmicrohttpd 0.9.75 cuts the value there
 * and reports the cut length, so the NUL is not seen in the value. It is
 * seen in the request's buffer, where the headers lie in order, each line
 * ending in its CR LF (or LF), which libmicrohttpd overwrites with zeros:
 * between the end of one value and the next name there must be one or two
 * zero bytes, and two to four after the last value (the empty line). When
 * the layout is not that (a buffer that grew while the headers came in, or
 * too many headers to follow), nothing can be told and nothing is refused.
 * `method` is where the request starts, `size` the bytes of its head. */
static bool nul_in_value(const struct framing *f, const char *method, size_t size)
{
    if (f->n == 0 || f->n > FRAMING_SPANS || !method || !size)
        return false;
    const char *end = method + size;
    for (size_t i = 0; i < f->n; i++) {
        const char *next = i + 1 < f->n ? f->key[i + 1] : end;
        if (f->key[i] <= method || f->value_end[i] < f->key[i] || next <= f->value_end[i] ||
            next > end)
            return false; /* not the layout described above */
        size_t gap = (size_t)(next - f->value_end[i]);
        if (gap > (i + 1 < f->n ? 2u : 4u))
            return true;
        for (const char *g = f->value_end[i]; g < next; g++)
            if (*g != '\0')
                return true;
    }
    return false;
}

/* Why the request's framing is refused, or NULL: no control character or
 * NUL in a header, one Content-Length at most, no Content-Length beside
 * Transfer-Encoding, and no Transfer-Encoding but "chunked". */
static const char *framing_error(struct MHD_Connection *conn, const char *method)
{
    struct framing f = {0};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, framing_cb, &f);
    if (f.error)
        return f.error;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && nul_in_value(&f, method, ci->header_size))
        return "a header value contains a NUL byte";
    if (f.content_length > 1)
        return "more than one Content-Length header";
    if (f.transfer_encoding && f.content_length)
        return "both Content-Length and Transfer-Encoding";
    if (f.transfer_encoding > 1)
        return "more than one Transfer-Encoding header";
    if (f.transfer_encoding && !f.chunked)
        return "a Transfer-Encoding other than chunked";
    return NULL;
}

/* 16 random bytes for a request id. They come from a per-thread supply
 * filled 1 KiB at a time: one call to the random generator per 64 requests
 * rather than one (with its lock) per request. */
static void request_id_bytes(uint8_t out[16])
{
    static _Thread_local uint8_t supply[1024];
    static _Thread_local size_t used = sizeof supply;
    if (used == sizeof supply) {
        crypto_random(supply, sizeof supply);
        used = 0;
    }
    memcpy(out, supply + used, 16);
    used += 16;
}

static struct req *req_new(struct http_server *s, struct MHD_Connection *conn, const char *url,
                           const char *method)
{
    struct arena *a = arena_new(0);
    struct req *r = arena_alloc(a, sizeof *r);
    struct req_private *p = arena_alloc(a, sizeof *p);
    r->arena = a;
    r->priv = p;
    r->app = s->app;
    r->started = time_mono();
    /* HEAD is GET without the body (RFC 9110 9.3.2), which libmicrohttpd
     * leaves out; health checks and uptime monitors send it */
    r->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    r->method = r->head ? MHD_HTTP_METHOD_GET : arena_strdup(a, method);
    r->path = arena_strdup(a, url);
    r->method_text = utf8_clean(method, arena_alloc(a, 64), 64);
    r->path_text = without_secrets(a, utf8_valid(url) && strlen(url) < 256
                                          ? r->path
                                          : utf8_clean(url, arena_alloc(a, 768), 768));
    p->server = s;
    p->conn = conn;
    p->server_fallback = s->fallback;

    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && plain_id(rid)) {
        snprintf(r->request_id, sizeof r->request_id, "%s", rid);
    } else {
        uint8_t b[16];
        request_id_bytes(b);
        crypto_hex(b, sizeof b, r->request_id);
    }

    const char *allow = NULL;
    p->route_index = route_match(s->routes, s->nroutes, &s->view, r->method, url, r, &allow,
                                 &p->server_fallback);
    if (p->route_index == SIZE_MAX) {
        p->route_error = allow ? ERR_METHOD_NOT_ALLOWED : ERR_NO_ROUTE;
        p->allow = allow;
        p->max_body = 0;
    } else {
        r->route = &s->routes[p->route_index];
        p->max_body = r->route->max_body ? r->route->max_body : s->default_max_body;
    }

    p->framing_error = framing_error(conn, method);
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    bool has_body = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    if (cl) {
        char *end;
        unsigned long long v = strtoull(cl, &end, 10);
        if (*end == '\0' && v > p->max_body) {
            p->too_large = true;
            p->declared = v;
        }
        has_body = has_body || v > 0;
    }
    p->guard = guard_conn_of(conn);
    char *raw_query = guard_take_query(p->guard);
    p->raw_query = raw_query ? arena_strdup(a, raw_query) : NULL;
    free(raw_query);
    guard_request_begins(p->guard, has_body);
    atomic_fetch_add(&s->uploading, 1);
    atomic_store(&s->last_upload, time_mono());
    return r;
}

/* Bytes of an oversized body read and dropped before the connection is cut
 * (a client that streams without end must not hold a thread forever);
 * ROUTE_OVERSIZE_DROPPED routes read more of it, to answer at its end. */
enum { DISCARD_MAX = 1024 * 1024, DROP_MAX = 64 * 1024 * 1024 };

/* Is this oversized body read and dropped, the request still handled?
 * Decided once, before more of the body is read: on a route that allows
 * it, the family authenticates the request from its headers (a wrong
 * credential is answered at once) and says whether it takes it. */
static bool drops_oversize(struct req *r)
{
    struct req_private *p = r->priv;
    if (p->drop)
        return p->drop > 0;
    p->drop = -1;
    const struct http_family *f = r->route ? r->route->family : NULL;
    if (!f || !(r->route->flags & ROUTE_OVERSIZE_DROPPED) || !f->drops_oversize)
        return false;
    if (f->authenticate_or_reply) {
        if (!f->authenticate_or_reply(r))
            return false; /* answered */
        p->pre_authenticated = true;
    }
    if (f->drops_oversize(r))
        p->drop = 1;
    return p->drop > 0;
}

size_t req_body_dropped(const struct req *r)
{
    const struct req_private *p = r->priv;
    if (!p->too_large)
        return 0;
    size_t read = p->body_len + p->discarded;
    return read > p->declared ? read : (size_t)p->declared;
}

/* Append upload data; false when the connection should be dropped. */
static bool append_body(struct req *r, const char *data, size_t n)
{
    struct req_private *p = r->priv;
    guard_body_bytes(p->guard, n);
    if (p->too_large) {
        p->discarded += n;
        return p->discarded <= (p->drop > 0 ? DROP_MAX : DISCARD_MAX);
    }
    if (n > p->max_body - p->body_len) {
        p->too_large = true;
        p->discarded = n;
        (void)drops_oversize(r); /* decided now: how much more is read */
        return true;
    }
    if (p->body_len + n + 1 > p->body_cap) {
        /* grown by doubling: a small body does not cost a max_body buffer
         * (zeroed by the arena) */
        size_t cap = p->body_cap ? p->body_cap : 1024;
        while (cap < p->body_len + n + 1)
            cap *= 2;
        if (cap > p->max_body + 1)
            cap = p->max_body + 1;
        char *body = arena_alloc(r->arena, cap);
        if (p->body_len)
            memcpy(body, p->body, p->body_len);
        p->body = body;
        p->body_cap = cap;
    }
    memcpy(p->body + p->body_len, data, n);
    p->body_len += n;
    p->body[p->body_len] = '\0';
    return true;
}

/* Line and column (1-based) of a byte offset, for JSON error messages. */
static void line_col(const char *s, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static bool content_type_is_json(const char *ct)
{
    if (!ct)
        return true; /* clients of the published API often omit it */
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    /* application/something+json */
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* Why a JSON body's encoding is not one that is read (NULL: it is): a
 * charset other than UTF-8 (JSON is UTF-8, RFC 8259), or a Content-Encoding
 * (a compressed body would be read as text). */
static const char *encoding_problem(struct req *r)
{
    const char *ce = req_header(r, "Content-Encoding");
    if (ce && *ce && strcasecmp(ce, "identity") != 0)
        return "Content-Encoding is not accepted: send the body uncompressed";
    const char *ct = req_header(r, "Content-Type");
    for (const char *p = ct ? strchr(ct, ';') : NULL; p; p = strchr(p + 1, ';')) {
        const char *v = p + 1 + strspn(p + 1, " \t");
        if (strncasecmp(v, "charset=", 8) != 0)
            continue;
        v += 8;
        bool quoted = *v == '"';
        v += quoted;
        size_t n = strcspn(v, quoted ? "\"" : "; \t");
        if (!((n == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
              (n == 4 && strncasecmp(v, "utf8", 4) == 0)))
            return "Only UTF-8 JSON is accepted (charset=utf-8, or no charset)";
    }
    return NULL;
}

/* Parse the body as one JSON value; answer 400/415 and return false on error. */
static bool parse_json_or_reply(struct req *r)
{
    if (!content_type_is_json(req_header(r, "Content-Type"))) {
        reply_error(r, ERR_UNSUPPORTED_MEDIA, NULL);
        return false;
    }
    const char *why_not = encoding_problem(r);
    if (why_not) {
        reply_error(r, ERR_UNSUPPORTED_MEDIA, why_not);
        return false;
    }
    size_t len;
    const char *body = req_body(r, &len);
    size_t start = strspn(body, " \t\r\n");
    if (start == len) {
        struct field_errors e = {0};
        field_errors_add(&e, r->arena, "body", "is required (a JSON object)");
        reply_field_errors(r, &e);
        return false;
    }
    if (strlen(body) != len) {
        reply_error(r, ERR_MALFORMED_JSON, "Malformed JSON: the body contains a NUL byte");
        return false;
    }
    size_t at, members;
    const char *why;
    if (!json_check_count(body, len, JSON_MAX_DEPTH, &members, &at, &why)) {
        size_t line, col;
        line_col(body, at, &line, &col);
        reply_error(r, ERR_MALFORMED_JSON,
                    arena_printf(r->arena,
                                 "Malformed JSON at line %zu, column %zu (byte offset %zu): %s",
                                 line, col, at, why));
        return false;
    }
    /* the text is valid JSON: json-c builds the tree (the terminating NUL,
     * passed too, ends a top-level number) */
    struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH + 1);
    if (!tok) {
        reply_error(r, ERR_INTERNAL, NULL);
        return false;
    }
    json_object *obj = json_tokener_parse_ex(tok, body, (int)len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        json_object_put(obj);
        reply_error(r, ERR_MALFORMED_JSON,
                    arena_printf(r->arena, "Malformed JSON: %s", json_tokener_error_desc(jerr)));
        return false;
    }
    /* json-c keeps the last of repeated member names: another reader of
     * the same text (a proxy, a log, the client) could take the first */
    if (json_members(obj) != members) {
        json_object_put(obj);
        reply_error(r, ERR_MALFORMED_JSON,
                    "Malformed JSON: a member name is repeated in an object");
        return false;
    }
    r->json = obj;
    return true;
}

/* Everything common to all requests, then the handler. A request counts as
 * in flight from here (its body is complete) until MHD reports it done. */
static void dispatch(struct req *r)
{
    struct req_private *p = r->priv;
    guard_request_dispatched(p->guard);
    if (!p->dispatched) {
        p->dispatched = true;
        atomic_fetch_sub(&p->server->uploading, 1);
        atomic_fetch_add(&p->server->dispatched, 1);
    }
    if (p->framing_error) {
        /* answered before any body is read; the connection is not reused */
        reply_header(r, "Connection", "close");
        reply_error(r, ERR_MALFORMED_REQUEST,
                    arena_printf(r->arena, "Malformed HTTP request: %s", p->framing_error));
        return;
    }
    if (p->route_error == ERR_METHOD_NOT_ALLOWED) {
        reply_header(r, "Allow", p->allow);
        reply_error(r, ERR_METHOD_NOT_ALLOWED,
                    arena_printf(r->arena, "Method %s is not allowed on %s; allowed: %s",
                                 r->method_text, r->path_text, p->allow));
        return;
    }
    if (p->route_error == ERR_NO_ROUTE) {
        reply_error(r, ERR_NO_ROUTE, arena_printf(r->arena, "No endpoint at %s", r->path_text));
        return;
    }
    if (p->status)
        return; /* answered before the body (a credential refused) */
    if (p->too_large && p->drop <= 0) {
        reply_error(r, ERR_PAYLOAD_TOO_LARGE,
                    arena_printf(r->arena, "Request body exceeds %zu bytes", p->max_body));
        return;
    }
    const struct http_family *f = r->route->family;
    if (f->authenticate_or_reply && !p->pre_authenticated && !f->authenticate_or_reply(r))
        return;
    if ((r->route->flags & ROUTE_JSON_BODY) && !parse_json_or_reply(r))
        return;
    if (f->before_or_reply && !f->before_or_reply(r))
        return;
    r->route->handler(r);
    if (f->after)
        f->after(r);
    if (!p->status) {
        log_error("handler for %s %s gave no reply", r->route->method, r->route->pattern);
        reply_error(r, ERR_INTERNAL, NULL);
    }
}

static enum MHD_Result queue_reply(struct req *r)
{
    struct req_private *p = r->priv;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        p->resp_len, (void *)(p->resp_body ? p->resp_body : ""), MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, p->content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* a year, this host only (other hosts of the domain may not have TLS) */
    if (p->server->hsts)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    /* no-store unless the handler chose its own Cache-Control */
    bool own_cache = false;
    for (size_t i = 0; i < p->nhdr; i++)
        own_cache = own_cache || strcasecmp(p->hdr_names[i], "Cache-Control") == 0;
    if (!own_cache)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    bool has_connection = false;
    for (size_t i = 0; i < p->nhdr; i++) {
        MHD_add_response_header(resp, p->hdr_names[i], p->hdr_values[i]);
        has_connection = has_connection || strcasecmp(p->hdr_names[i], "Connection") == 0;
    }
    /* draining: the client is told, and libmicrohttpd closes the connection
     * once the answer is sent, so no request comes on it to be cut off */
    if (!has_connection && atomic_load(&p->server->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(p->conn, (unsigned)p->status, resp);
    MHD_destroy_response(resp);
    p->queued = true;
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct http_server *s = cls;
    struct req *r = *con_cls;
    if (!r) {
        r = req_new(s, conn, url, method);
        *con_cls = r;
        struct req_private *p = r->priv;
        if (p->framing_error || (p->too_large && (!drops_oversize(r) || p->declared > DROP_MAX))) {
            /* Content-Length is over the cap (and the body is not to be
             * dropped, or is more than is ever read), or the framing is
             * refused: answer before the body is sent (no "100 Continue");
             * MHD then closes the connection */
            dispatch(r);
            return queue_reply(r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* an oversized body without Content-Length is read and dropped (MHD
         * cannot answer in the middle of an upload); 413 comes at its end */
        atomic_store(&s->last_upload, time_mono());
        bool keep = append_body(r, upload, *upload_size);
        *upload_size = 0;
        return keep ? MHD_YES : MHD_NO;
    }
    if (r->priv->queued)
        return MHD_YES;
    dispatch(r);
    return queue_reply(r);
}

static void log_request(const struct req *r, double ms)
{
    /* the request id first: whatever is cut from a long line, it stays */
    struct log_field f[] = {
        LFS("request_id", r->request_id),
        LFS("method", r->method_text),
        LFS("route", r->route ? r->route->pattern : "(none)"),
        LFI("status", r->priv->status),
        LFMS("duration_ms", ms),
        LFS("merchant", r->authenticated ? r->auth.merchant_id : NULL),
        LFS("path", r->route ? NULL : r->path_text),
    };
    enum log_level lvl = r->priv->status >= 500 ? LOG_ERROR : LOG_INFO;
    log_fields(lvl, "request", f, (int)(sizeof f / sizeof f[0]));
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    double secs = (double)(time_mono() - r->started) / 1e6;
    /* the client went away (or was cut off) before a reply was sent; one
     * decided before the body ended (a refused credential) never went */
    if (!r->priv->status || !r->priv->queued)
        r->priv->status = 499;
    metrics_observe(r->priv->route_index, r->priv->status, secs);
    log_request(r, secs * 1e3);
    bool dispatched = r->priv->dispatched;
    guard_request_done(r->priv->guard);
    json_object_put(r->json);
    arena_free(r->arena);
    atomic_fetch_sub(dispatched ? &s->dispatched : &s->uploading, 1);
}

/* The request line's target, before it is decoded: its query is kept for
 * the request (a provider's signature covers the URL as it was sent). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    const char *q = strchr(uri, '?');
    guard_keep_query(guard_conn_of(conn), q ? q + 1 : NULL);
    return NULL;
}

/* Percent-decoding of paths and query arguments, except that "%00" stays as
 * written: a decoded NUL would cut the string short ("/livez%00x" must not
 * be "/livez"). Returns the new length. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (p[0] == '%' && (hi = form_hexval(p[1])) >= 0 && (lo = form_hexval(p[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_warn("http: %s", msg);
}

/* HTTP threads when not configured (or the cores, if more). A thread waits
 * while its request's writes reach the disk; writes that wait at the same
 * time share one commit (db/batch.c), so the more threads, the more
 * requests per commit: with one per core, at most that many. */
enum { HTTP_THREADS_DEFAULT = 64 };

struct http_server *http_server_start(const struct http_server_config *cfg,
                                      const struct route *routes, size_t n, struct app *app,
                                      char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", cfg->host, gai_strerror(gai));
        return NULL;
    }
    struct http_server *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->routes = routes;
    s->nroutes = n;
    s->view = (struct route_view){.hide = cfg->hide_routes, .only = cfg->only_routes};
    s->fallback = cfg->fallback;
    s->hsts = cfg->hsts;
    s->app = app;
    s->default_max_body = cfg->max_body;
    metrics_init(routes, n);
    s->guard = guard_new(cfg->max_connections, cfg->header_timeout, cfg->body_min_rate);
    if (!s->guard) {
        freeaddrinfo(ai);
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    unsigned threads = cfg->threads;
    if (!threads) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > HTTP_THREADS_DEFAULT ? (unsigned)c : HTTP_THREADS_DEFAULT;
    }
    s->acceptor = acceptor_listen(ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (!s->acceptor) {
        snprintf(err, errlen, "cannot listen on %s:%u (address in use or not available)", cfg->host,
                 cfg->port);
        guard_free(s->guard);
        free(s);
        return NULL;
    }
    unsigned flags =
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    /* the acceptor keeps max_connections; each thread of the pool may take
     * them all, so that none refuses a connection the acceptor handed over */
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        /* the logger must come first so that every message goes through it */
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections * threads,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        cfg->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, guard_notify_cb,
        s->guard, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
        NULL, MHD_OPTION_END);
    const char *failed = !s->daemon ? "cannot start the HTTP server"
                         : !acceptor_start(s->acceptor, s->daemon, s->guard, cfg->max_connections)
                             ? "cannot start the accepting thread"
                         : !guard_start(s->guard) ? "cannot start the connection guard thread"
                                                  : NULL;
    if (failed) {
        snprintf(err, errlen, "%s", failed);
        acceptor_close(s->acceptor);
        if (s->daemon)
            MHD_stop_daemon(s->daemon);
        acceptor_free(s->acceptor);
        guard_free(s->guard);
        free(s);
        return NULL;
    }
    return s;
}

void http_server_quiesce(struct http_server *s)
{
    /* first, so that no answer sent after the last accept keeps its
     * connection open */
    atomic_store(&s->draining, true);
    /* new connections are refused at once; those open finish their
     * request, idle ones are closed */
    acceptor_close(s->acceptor);
    guard_drain(s->guard);
}

unsigned http_server_connections(const struct http_server *s)
{
    return acceptor_connections(s->acceptor);
}

/* An upload with no new data for this long is not waited for on shutdown:
 * its client has most likely gone (MHD notices a closed connection only when
 * it next reads from it). */
#define UPLOAD_QUIET (2LL * 1000000)

unsigned http_server_inflight(const struct http_server *cs)
{
    struct http_server *s = (struct http_server *)cs;
    unsigned n = atomic_load(&s->dispatched);
    unsigned up = atomic_load(&s->uploading);
    if (up && time_mono() - atomic_load(&s->last_upload) < UPLOAD_QUIET)
        n += up;
    return n;
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    acceptor_close(s->acceptor);
    MHD_stop_daemon(s->daemon);
    acceptor_free(s->acceptor);
    guard_free(s->guard);
    free(s);
}
