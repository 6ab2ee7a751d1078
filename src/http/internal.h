/*
 * internal.h — shared by the files of src/http/ only.
 */
#ifndef CHATPAY_HTTP_INTERNAL_H
#define CHATPAY_HTTP_INTERNAL_H

#include <microhttpd.h>

#include "http/server.h"

#define REPLY_MAX_HEADERS 12

/* Per-request state that handlers do not see. */
struct req_private {
    struct http_server *server;
    struct MHD_Connection *conn;
    size_t route_index; /* index into the route table; SIZE_MAX when none */

    /* request body, capped at max_body */
    char *body;
    size_t body_len;
    size_t max_body;
    bool too_large;
    size_t discarded; /* bytes of an oversized body dropped so far */
    bool dispatched;  /* the body is complete and the request is being answered */

    /* set on the first call when no route matched */
    enum err_code route_error;
    const char *allow; /* Allow header value for 405 */

    /* the reply */
    int status;
    const char *content_type;
    const char *resp_body;
    size_t resp_len;
    const char *hdr_names[REPLY_MAX_HEADERS];
    const char *hdr_values[REPLY_MAX_HEADERS];
    size_t nhdr;
    bool queued;

    /* idempotency (ROUTE_IDEMPOTENT routes with an Idempotency-Key header) */
    const char *idem_key;
    uint8_t idem_hash[32];
    bool idem_stored; /* the handler stored its reply in its transaction */
};

/* Which routes of the table a listener serves: none with a flag in
 * `hide`, and, when `only` is not 0, only those with a flag in it. */
struct route_view {
    unsigned hide, only;
};

/* Route matching (route.c). Returns the index of the matching route or
 * SIZE_MAX; when the path matches with another method, *allow receives the
 * comma-separated list of methods (arena). Routes the view leaves out do
 * not exist for this listener. */
size_t route_match(const struct route *routes, size_t n, const struct route_view *view,
                   const char *method, const char *path, struct req *r, const char **allow);

/* Authentication (auth.c): fills r->auth or answers 401/503 itself. */
bool auth_api_key_or_reply(struct req *r);

/* Idempotency (idempotency.c): before the handler, either claims the key
 * (returns true: run the handler) or answers (replay, 409, 422) and returns
 * false; after the handler, stores the reply unless the handler did. */
bool idempotency_begin_or_reply(struct req *r);
void idempotency_end(struct req *r);

/* Metrics (metrics.c). */
void metrics_init(const struct route *routes, size_t n);
void metrics_observe(size_t route_index, int status, double seconds);

#endif
