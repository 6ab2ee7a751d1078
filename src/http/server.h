/*
 * server.h — starting and stopping the HTTP server (used by `chatpay serve`).
 */
#ifndef CHATPAY_HTTP_SERVER_H
#define CHATPAY_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

struct http_server;

struct http_server_config {
    const char *host; /* numeric address or name */
    uint16_t port;
    unsigned threads; /* 0 → number of cores */
    unsigned max_connections;
    unsigned per_ip_connections; /* 0 → unlimited */
    unsigned connection_timeout; /* seconds of silence before a connection is closed */
    unsigned header_timeout;     /* seconds to send the request line and headers */
    unsigned body_min_rate;      /* bytes per second a body must average (after
                                    header_timeout); 0: no minimum */
    size_t max_body;             /* default body cap for routes that do not set one */
    /* which routes this listener serves (ROUTE_* flags): the main listener
     * hides ROUTE_ADMIN routes when an admin listener serves them; the admin
     * listener serves only ROUTE_ADMIN | ROUTE_HEALTH routes */
    unsigned hide_routes, only_routes;
    /* renders the errors of requests that match no route (404, 405, ...) */
    const struct http_family *fallback;
    /* every answer carries Strict-Transport-Security (the public URL is
     * https: browsers are to come back over TLS only) */
    bool hsts;
};

/* Start serving `routes` (a table of n entries, kept by reference). Returns
 * NULL with a message in err on failure (address in use, bad address). */
struct http_server *http_server_start(const struct http_server_config *cfg,
                                      const struct route *routes, size_t n, struct app *app,
                                      char *err, size_t errlen);

/* Start draining: stop accepting new connections; requests in flight go
 * on, every answer from now on closes its connection ("Connection: close"),
 * connections idle between requests and stalled uploads are closed, and
 * /readyz answers 503 (req_draining()). */
void http_server_quiesce(struct http_server *s);

/* Connections still open (after http_server_quiesce: they only go down). */
unsigned http_server_connections(const struct http_server *s);

/* Requests being answered, plus requests still uploading their body while
 * uploads keep making progress (see UPLOAD_QUIET in server.c). */
unsigned http_server_inflight(const struct http_server *s);

/* Close everything and free the server. */
void http_server_stop(struct http_server *s);

/* Prometheus text exposition of the server's metrics, into the arena. */
char *http_metrics_text(struct arena *a, size_t *len);

#endif
