/*
 * net.h — the only outbound HTTP of chatpay (libcurl multi interface).
 *
 * Payment gateways, SMS providers and merchants' callback URLs are called
 * through this module and nothing else includes <curl/curl.h>. One thread
 * per process (struct net) runs a libcurl multi handle for every transfer;
 * net_perform() hands a request to it from any thread and blocks until the
 * transfer ends. Transfers run concurrently, at most max_per_host to one
 * host and max_total in all; the others wait their turn, with their timeout
 * running.
 *
 * Every call is guarded against server-side request forgery: the host is
 * resolved before the transfer (in the calling thread), refused when any of
 * its addresses is one outbound calls may not reach (loopback, private,
 * link-local, cloud metadata, ...; see net_address_refused), and the
 * connection is pinned to the addresses checked, so that a second DNS answer
 * (DNS rebinding) cannot send it elsewhere. Every socket libcurl opens is
 * checked again just before it connects. Sandbox calls may set
 * allow_private.
 *
 * Fixed behaviour: HTTP/1.1 only (one transfer per connection, so the
 * limits above count transfers); redirects are never followed (a 3xx is a
 * response like any other); http and https only; certificates and host
 * names are always verified; proxies from the environment (http_proxy, ...)
 * are ignored; no cookies. The module never logs request or response
 * contents; it logs one error line if its thread cannot start.
 */
#ifndef CHATPAY_NET_NET_H
#define CHATPAY_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "util/time.h"

/* One per process: a thread that runs curl_multi for every transfer. */
struct net;

struct net_config {
    const char *user_agent; /* User-Agent of every request, e.g. "chatpay/0.1.0"; copied;
                               NULL or "" sends "chatpay" */
    unsigned max_per_host;  /* concurrent transfers to one host:port (default 8 when 0) */
    unsigned max_total;     /* concurrent transfers in all (default 64 when 0); more wait
                               their turn */
};

/* Start the net thread (and initialize libcurl once per process). Returns
 * NULL with a message in err[errlen] on failure. */
struct net *net_start(const struct net_config *cfg, char *err, size_t errlen);

/* End the thread: transfers in flight (and waiting) end with NET_CANCELLED,
 * calls that have not handed their transfer over yet return NET_CANCELLED
 * too. Returns once every net_perform() call has returned (a caller still in
 * its name lookup delays it by that lookup), then frees everything. No
 * net_perform() may start after net_stop() returns. NULL is ok. */
void net_stop(struct net *n);

enum net_error {
    NET_OK = 0,          /* a response came (any HTTP status, 3xx included: redirects are
                            never followed) */
    NET_BAD_URL,         /* not an absolute http:// or https:// URL with a host */
    NET_REFUSED_ADDRESS, /* the host resolves to an address outbound calls may not reach
                            (SSRF guard) */
    NET_RESOLVE,         /* the name does not resolve */
    NET_CONNECT,         /* connection refused / unreachable */
    NET_TIMEOUT,         /* connect or total timeout */
    NET_TLS,             /* certificate or TLS failure */
    NET_TOO_LARGE,       /* the response body exceeded max_response */
    NET_CANCELLED,       /* *cancel became true, or net_stop */
    NET_FAILED,          /* anything else (message says what) */
};

/* "ok", "bad_url", "refused_address", "resolve", "connect", "timeout", "tls",
 * "too_large", "cancelled", "failed" ("unknown" for other values). */
const char *net_error_name(enum net_error e);

/* One request header. name: an HTTP token (letters, digits, !#$%&'*+-.^_`|~),
 * not Host, Content-Length or Transfer-Encoding (net sets those from the URL
 * and the body); value: no CR or LF ("" sends the header with an empty
 * value). A header the request would carry anyway (User-Agent,
 * Content-Type, Accept, ...) is replaced by the one given here. */
struct net_header {
    const char *name, *value;
};

struct net_request {
    const char *method;               /* "GET", "POST", "PUT", "PATCH" or "DELETE"; NULL is GET.
                                         A GET carries no body */
    const char *url;                  /* absolute http:// or https:// URL */
    const struct net_header *headers; /* nheaders headers to send; may be NULL */
    size_t nheaders;
    const void *body; /* body_len bytes to send, may be NULL (then no body for DELETE,
                         an empty one for POST/PUT/PATCH); give its Content-Type in
                         headers (libcurl's default for a body is
                         application/x-www-form-urlencoded) */
    size_t body_len;
    unsigned connect_timeout_ms; /* TCP + TLS connect, ms; 0 → 5000 */
    unsigned timeout_ms;         /* the whole call, waiting for a connection included,
                                    ms; 0 → 15000. The name lookup runs first and is
                                    bounded by the system resolver's own timeouts only */
    size_t max_response;         /* bytes of response body accepted; 0 → 64 KiB */
    bool allow_private;          /* sandbox only: loopback/private addresses allowed */
    const _Atomic bool *cancel;  /* may be NULL; when it becomes true the transfer ends
                                    (NET_CANCELLED) within ~100 ms */
    const char *want_header;     /* one more response header to return in
                                    net_response.header (e.g. "Stripe-Should-Retry"); NULL none */
};

struct net_response {
    enum net_error error;
    int status;             /* HTTP status of the response, 0 when none came (it may be
                               set with an error, e.g. NET_TOO_LARGE or a timeout while
                               the body was read) */
    char *body;             /* malloc'd, NUL-terminated (also when empty, and "" whenever
                               error != NET_OK); NULL only when memory ran out; free
                               with net_response_free */
    size_t body_len;        /* bytes in body, not counting the NUL */
    char content_type[128]; /* the response's Content-Type (truncated), "" when none */
    char ip[46];            /* the address connected to, "" when none */
    bool sent;              /* the request went out (at least its headers): a failure after
                               this may have been acted on by the server (a read timeout is
                               an unknown outcome, not a safe retry) */
    char retry_after[32];   /* the response's Retry-After header (truncated), "" when none */
    char header[128];       /* the header named by want_header (truncated), "" when none */
    double seconds;         /* wall time of the whole call, in seconds */
    char message[256];      /* human-readable reason when error != NET_OK, "" otherwise;
                               never holds header values or bodies */
};

/* Blocking and thread-safe: hands the request to the net thread and waits
 * for its end. Many threads may call it at once; transfers run concurrently
 * on the multi handle. *out is always filled in (n == NULL gives
 * NET_FAILED). rq and everything it points to must stay valid until it
 * returns. */
void net_perform(struct net *n, const struct net_request *rq, struct net_response *out);

/* Free r->body (and set it NULL, body_len 0). NULL is ok. */
void net_response_free(struct net_response *r);

/*
 * The SSRF guard, also used when a URL is configured (before any call).
 *
 * net_address_refused: true for addresses outbound calls must never reach
 * unless allowed: 0.0.0.0/8, 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16
 * (link-local, cloud metadata 169.254.169.254), 172.16/12, 192.0.0/24,
 * 192.0.2/24, 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24, 224/4
 * (multicast), 240/4 (incl. 255.255.255.255); IPv6 ::/96 (::, ::1 and the
 * deprecated IPv4-compatible addresses), ::ffff:0:0/96 (IPv4-mapped: judges
 * the embedded IPv4), 64:ff9b::/96 (NAT64: judges the embedded IPv4),
 * 64:ff9b:1::/48 (local-use NAT64), 2002::/16 (6to4: judges the embedded
 * IPv4), fc00::/7 (ULA, incl. fd00:ec2::254), fe80::/10, ff00::/8,
 * 2001:db8::/32 and 100::/64. Families other than AF_INET/AF_INET6 are
 * refused.
 *
 * net_address_class: what kind of refused address sa is ("loopback",
 * "private", "link-local", ...), NULL when it is not refused.
 *
 * net_check_url: parses the URL (http/https only; https required when
 * https_only), resolves the host with getaddrinfo and refuses it when ANY
 * address is refused (unless allow_private). Returns NET_OK, NET_BAD_URL,
 * NET_REFUSED_ADDRESS or NET_RESOLVE; on failure writes a short English
 * reason into why[cap] (e.g. "host 10.0.0.1 is a private address", "https
 * is required", "host does not resolve"), "" on success. why may be NULL
 * when cap is 0.
 */
bool net_address_refused(const struct sockaddr *sa);
const char *net_address_class(const struct sockaddr *sa);
enum net_error net_check_url(const char *url, bool allow_private, bool https_only, char *why,
                             size_t cap);
/* Is url an https URL, as a transfer would read it ("HTTPS://host" and
 * "https:/host" are)? Parses only: no lookup. */
bool net_url_is_https(const char *url);

/* A Retry-After value in seconds (digits only; an HTTP-date is not read)
 * as µs, at most max; 0 when absent or not a number of seconds. */
usec_t net_retry_after(const char *value, usec_t max);

#endif
