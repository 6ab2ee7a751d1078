/*
 * internal.h — shared by the files of src/http/ only.
 */
#ifndef CHATPAY_HTTP_INTERNAL_H
#define CHATPAY_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdint.h>
#include <sys/socket.h>

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
    size_t body_cap; /* bytes allocated for body (with its NUL) */
    size_t max_body;
    bool too_large;
    struct guard_conn *guard;    /* the connection's entry in the guard (may be NULL) */
    const char *raw_query;       /* the query as sent (not decoded), NULL when none */
    const char *framing_error;   /* why the request's framing is refused (400, then close) */
    size_t discarded;            /* bytes of an oversized body dropped so far */
    unsigned long long declared; /* its Content-Length, when it declared one over the cap */
    int drop;                    /* an oversized body: 0 undecided, 1 read and dropped, -1 413 */
    bool pre_authenticated;      /* authenticated before the body (to decide drop) */
    bool dispatched;             /* the body is complete and the request is being answered */

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

    /* renders errors of requests that matched no route: the family of the
     * path's routes for a 405, else the server's fallback */
    const struct http_family *server_fallback;
};

/* Which routes of the table a listener serves: none with a flag in
 * `hide`, and, when `only` is not 0, only those with a flag in it. */
struct route_view {
    unsigned hide, only;
};

/* Route matching (route.c). Returns the index of the matching route or
 * SIZE_MAX; when the path matches with another method, *allow receives the
 * comma-separated list of methods (arena) and *family the family of the
 * path's first route (whose error body the 405 takes); *family is left
 * alone otherwise. Routes the view leaves out do not exist for this
 * listener. */
size_t route_match(const struct route *routes, size_t n, const struct route_view *view,
                   const char *method, const char *path, struct req *r, const char **allow,
                   const struct http_family **family);

/* The connection guard (guard.c): closes connections whose client is too
 * slow with its headers or body, and idle ones near the connection limit. */
struct conn_guard;
struct guard_conn;
struct conn_guard *guard_new(unsigned max_connections, unsigned header_timeout_s,
                             unsigned body_min_rate);
bool guard_start(struct conn_guard *g);
/* The server drains: from now on, close the connections idle between
 * requests and those whose upload stalled (guard.c says when). */
void guard_drain(struct conn_guard *g);
void guard_free(struct conn_guard *g); /* after the daemon has stopped */
/* Connections open now, and connections reported started since the start. */
void guard_counts(struct conn_guard *g, unsigned *open, uint64_t *started);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the guard) */
void guard_notify_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe);
struct guard_conn *guard_conn_of(struct MHD_Connection *conn);
/* The phases of a request on its connection (any argument may be NULL). */
/* The query of the request being read, exactly as sent (the request line
 * is seen before the request; its query is taken by the request, malloc'd
 * or NULL when there was none). */
void guard_keep_query(struct guard_conn *c, const char *query);
char *guard_take_query(struct guard_conn *c);
void guard_request_begins(struct guard_conn *c, bool has_body);
void guard_body_bytes(struct guard_conn *c, size_t n);
void guard_request_dispatched(struct guard_conn *c);
void guard_request_done(struct guard_conn *c);

/* The acceptor (acceptor.c): the listening socket, and a thread that
 * accepts the connections waiting on it and hands them to the daemon's
 * threads, at most max_connections open at once (counted by the guard). */
struct acceptor;
struct acceptor *acceptor_listen(const struct sockaddr *addr, socklen_t len); /* NULL: errno */
bool acceptor_start(struct acceptor *a, struct MHD_Daemon *daemon, struct conn_guard *guard,
                    unsigned max_connections);
void acceptor_close(struct acceptor *a); /* stops accepting and closes the socket */
/* Connections handed to libmicrohttpd and not closed yet (started or not). */
unsigned acceptor_connections(const struct acceptor *a);
void acceptor_free(struct acceptor *a); /* closes first; NULL: nothing */

/* Metrics (metrics.c). */
void metrics_init(const struct route *routes, size_t n);
void metrics_observe(size_t route_index, int status, double seconds);

#endif
