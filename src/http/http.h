/*
 * http.h — what endpoint handlers and API families see of the HTTP layer.
 *
 * http/ is transport only: it knows routes, requests and replies, not
 * storage and not the shapes of any API. The dispatcher (server.c) does
 * everything common before a handler runs: route lookup (404/405 + Allow),
 * request framing (400), body size limit (413), request id, JSON parsing of
 * the body for routes that take one (400 naming the position). Everything
 * that depends on the API a route belongs to comes from the route's family
 * (struct http_family): authentication, the body of error replies, and
 * hooks around the handler (such as Idempotency-Key). A handler then reads
 * its inputs through req_*(), does its work and answers with exactly one
 * reply_*() call. Every allocation of a request comes from r->arena, freed
 * when the response has been sent.
 *
 * Only src/http/ includes <microhttpd.h>.
 */
#ifndef CHATPAY_HTTP_HTTP_H
#define CHATPAY_HTTP_HTTP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/errors.h"
#include "core/fieldspec.h"
#include "util/arena.h"
#include "util/time.h"

struct app;
struct req;

typedef void (*handler_fn)(struct req *r);

/* An API family: what the routes of one API (Chat 2 Pay, the customer
 * pages, operations, ...) have in common. */
struct http_family {
    const char *name;
    /* Authenticate the request (fill r->auth), or answer (401, 503) and
     * return false. NULL: public routes. */
    bool (*authenticate_or_reply)(struct req *r);
    /* The body of an error reply: `status` and machine `code` from the
     * error registry, `message`, and the n problems in items (n may be 0).
     * Calls reply_text() (or reply_json()) once. */
    void (*render_error)(struct req *r, int status, const char *code, const char *message,
                         const char *const *items, size_t n);
    /* Before the handler, after authentication and body parsing: answer and
     * return false to skip it (NULL: none). */
    bool (*before_or_reply)(struct req *r);
    /* After the handler has replied (NULL: none). */
    void (*after)(struct req *r);
    /* ROUTE_OVERSIZE_DROPPED routes: once authenticated (before the body
     * is read), may this request's body over the limit be read and dropped
     * and the request still handled? (NULL or false: 413) */
    bool (*drops_oversize)(struct req *r);
};

/* route flags */
#define ROUTE_JSON_BODY  (1u << 0) /* body must be a JSON object; parsed into r->json */
#define ROUTE_IDEMPOTENT (1u << 1) /* honours the Idempotency-Key header (see idempotency.c) */
#define ROUTE_ADMIN      (1u << 2) /* operators only: on the admin listener when there is one */
#define ROUTE_HEALTH     (1u << 3) /* health checks: on every listener */
/* a body over max_body may be read and dropped (up to 64 MiB) and the
 * request still go to its handler, which sees req_body_dropped(): when the
 * family, having authenticated the request from its headers alone, says so
 * (drops_oversize); otherwise, and on other routes, 413 */
#define ROUTE_OVERSIZE_DROPPED (1u << 4)

/* A route: one entry of the table in api/routes.c. Patterns are absolute
 * paths whose segments are literal or "{name}" (matches one non-empty
 * segment). */
struct route {
    const char *method;
    const char *pattern;
    handler_fn handler;
    const struct http_family *family;
    unsigned flags;
    size_t max_body; /* bytes; 0 → the server default (64 KiB) */
};

/* The authenticated caller (routes whose family authenticates): the
 * merchant (tenant) it acts for and the credential it used. */
struct req_auth {
    char merchant_id[40]; /* a UUID */
    char key_id[40];      /* the credential's public id (an API key id, a provider id) */
    char key_prefix[24];  /* how it starts, for display ("cp_sandbox_") */
    char key_last4[5];    /* its last four characters, for display */
};

#define REQ_MAX_PARAMS 4
#define REQ_ID_LEN     33

struct req {
    struct app *app;
    struct arena *arena;
    const struct route *route; /* NULL when no route matched */
    const char *method;        /* "GET" for a HEAD request: its handler is GET's */
    bool head;                 /* a HEAD request: the reply's body is not sent */
    const char *path;          /* without the query string, percent-decoded: any bytes */
    /* method and path as text to show (messages, logs): well-formed UTF-8,
     * at most about 256 characters */
    const char *method_text, *path_text;
    char request_id[REQ_ID_LEN];
    usec_t started; /* monotonic */

    const char *param_names[REQ_MAX_PARAMS];
    const char *param_values[REQ_MAX_PARAMS];
    size_t nparams;

    json_object *json; /* parsed body (ROUTE_JSON_BODY routes), owned by the request */
    struct req_auth auth;
    bool authenticated;
    void *family_state; /* the family's own per-request state (its hooks), in the arena */

    /* filled by the HTTP layer; handlers do not touch these */
    struct req_private *priv;
};

/* Inputs. Returned strings live until the request completes. */
const char *req_param(const struct req *r, const char *name); /* path parameter */
const char *req_query(const struct req *r, const char *name); /* query parameter or NULL */
/* every query parameter as "name=value&..." (decoded, in the order sent),
 * NULL when there are none */
const char *req_query_string(struct req *r);
/* does the listener that took r serve routes with these flags (ROUTE_*)? */
bool req_serves(const struct req *r, unsigned route_flags);
/* is the server draining (stopping: it should get no more traffic)? */
bool req_draining(const struct req *r);
/* the query exactly as the client sent it (not decoded), NULL when none */
const char *req_raw_query(const struct req *r);
const char *req_header(const struct req *r, const char *name); /* request header or NULL */
const char *req_body(const struct req *r, size_t *len);        /* raw body (may be empty) */
/* ROUTE_OVERSIZE_DROPPED: bytes of a body over the route's limit that were
 * read and dropped (req_body is then empty); 0 when the body was kept */
size_t req_body_dropped(const struct req *r);

/* Replies. Each takes ownership of nothing; bodies are copied (len bytes,
 * which may include NUL). Every reply carries Cache-Control: no-store unless
 * the handler sets its own with reply_header(r, "Cache-Control", ...). */
void reply_json(struct req *r, int status, json_object *body);
void reply_text(struct req *r, int status, const char *content_type, const char *body, size_t len);
/* An error from the registry, with an optional message (NULL → the
 * default), in the shape of the route's family. */
void reply_error(struct req *r, enum err_code code, const char *message);
/* 400 with every problem found by a field spec or a handler rule. */
void reply_field_errors(struct req *r, const struct field_errors *errs);
/* Add a header to the reply that this request will send. */
void reply_header(struct req *r, const char *name, const char *value);

/* The status answered so far (0 before any reply), and the body. */
int req_status(const struct req *r);
const char *req_reply_body(const struct req *r, size_t *len);

#endif
