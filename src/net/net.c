/*
 * net.c — outbound HTTP on a libcurl multi handle (see net.h).
 *
 * Threads. net_start() starts one thread that owns the CURLM handle. A
 * caller of net_perform() checks the URL, resolves and checks the host,
 * builds an easy handle and appends it (a struct xfer on the caller's
 * stack) to n->incoming under n->mu, then wakes the net thread with
 * curl_multi_wakeup() and waits on the transfer's condition variable. From
 * then on only the net thread touches the easy handle: it adds it to the
 * multi handle, drives it, and when it ends (or is cancelled, or its
 * deadline passes) reads what it needs, removes and frees it, sets
 * x->done and signals. The caller, woken, builds the response.
 *
 * The net thread's loop waits in curl_multi_poll() for at most
 * POLL_MS, so a cancel flag or a deadline is seen within that time even
 * when no socket is ready. Deadlines are kept here too, not only by
 * libcurl: libcurl does not time out a transfer that waits for a free
 * connection (max_per_host, max_total).
 *
 * net_stop() sets n->stopping, wakes the thread and joins it (the thread
 * ends every transfer it holds with NET_CANCELLED), then waits until no
 * caller is inside net_perform() (n->callers) before freeing anything, so
 * a caller never touches freed memory.
 *
 * SSRF guard. The host is resolved with getaddrinfo() in the calling
 * thread; every address is checked (net_address_refused) and the transfer
 * is pinned to exactly those addresses with CURLOPT_RESOLVE, so libcurl
 * does not ask DNS again. The URL is parsed once with libcurl's URL API and
 * the parsed handle itself is given to the transfer (CURLOPT_CURLU), so the
 * host checked, the host pinned and the host connected to are the same
 * string. As a second line, CURLOPT_OPENSOCKETFUNCTION checks the address
 * of every socket libcurl opens and refuses it unless allowed; since a
 * reused connection opens no socket, transfers that allow private
 * addresses never leave their connection for reuse (CURLOPT_FORBID_REUSE).
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/uidna.h>

#include "util/log.h"
#include "util/thread.h"
#include "util/time.h"

enum {
    POLL_MS = 100,                  /* longest wait of the net thread between checks */
    DEFAULT_CONNECT_MS = 5000,      /* net_request.connect_timeout_ms when 0 */
    DEFAULT_TIMEOUT_MS = 15000,     /* net_request.timeout_ms when 0 */
    DEFAULT_MAX_RESPONSE = 65536,   /* net_request.max_response when 0 */
    DEFAULT_PER_HOST = 8,           /* net_config.max_per_host when 0 */
    DEFAULT_TOTAL = 64,             /* net_config.max_total when 0 */
    MAX_ADDRS = 16,                 /* addresses of one host pinned at most */
    DNS_CACHE_SECONDS = 3600,       /* lifetime of a pinned entry in libcurl's cache */
    FIRST_BUFFER = 4096,            /* first allocation of a response body */
    MAX_HOST = 256,                 /* longest host name (253) + brackets, NUL */
    IP_TEXT = INET6_ADDRSTRLEN + 2, /* an address as text, with [] for IPv6 */
};

struct net {
    CURLM *multi;
    pthread_t thread;
    char *user_agent;
    pthread_mutex_t mu;
    pthread_cond_t idle;            /* signalled when callers drops to 0 while stopping */
    struct xfer *in_head, *in_tail; /* under mu: handed over, not yet started */
    unsigned callers;               /* under mu: net_perform() calls under way */
    bool stopping;                  /* under mu: net_stop() was called */
    struct xfer *active;            /* net thread only: in the multi handle */
    unsigned max_per_host, max_total;
};

/* One transfer, on the stack of its net_perform() call. */
struct xfer {
    struct xfer *prev, *next; /* in n->in_head's list (next only) or n->active */
    CURL *easy;
    bool added; /* easy is in the multi handle */
    bool allow_private;
    const _Atomic bool *cancel;
    usec_t deadline; /* time_mono() when the whole call must end */
    unsigned timeout_ms;

    /* the response body, written by on_body() in the net thread */
    char *buf;
    size_t len, cap, max;
    bool too_large, out_of_memory;

    /* set by on_open_socket() when it refused an address */
    const char *refused_what;
    char refused_ip[IP_TEXT];

    /* the outcome, set by the net thread before done */
    CURLcode rc;
    enum net_error forced; /* not NET_OK: the net thread ended it (cancel, deadline, ...) */
    const char *forced_msg;
    long status;
    bool sent;               /* the request (its headers at least) went out */
    char retry_after[32];    /* the response's Retry-After header, "" when none */
    const char *want_header; /* another response header to keep (NULL none) */
    char header[128];        /* its value, "" when none */
    char content_type[128];
    char ip[46];
    char errbuf[CURL_ERROR_SIZE];
    bool done;         /* under n->mu */
    pthread_cond_t cv; /* signalled with done */
};

/* The URL of a call, parsed, and the addresses its host resolves to. */
struct target {
    CURLU *url;
    bool https;
    bool literal;        /* host is an IP address */
    char host[MAX_HOST]; /* as libcurl looks it up: ASCII, IPv6 without brackets */
    long port;
    char addrs[MAX_ADDRS][IP_TEXT]; /* host's addresses, IPv6 in brackets */
    size_t naddrs;
};

const char *net_error_name(enum net_error e)
{
    switch (e) {
    case NET_OK:
        return "ok";
    case NET_BAD_URL:
        return "bad_url";
    case NET_REFUSED_ADDRESS:
        return "refused_address";
    case NET_RESOLVE:
        return "resolve";
    case NET_CONNECT:
        return "connect";
    case NET_TIMEOUT:
        return "timeout";
    case NET_TLS:
        return "tls";
    case NET_TOO_LARGE:
        return "too_large";
    case NET_CANCELLED:
        return "cancelled";
    case NET_FAILED:
        return "failed";
    }
    return "unknown";
}

/* libcurl is initialized once per process, by the first net_start() or
 * URL check. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- URL and SSRF checks -------------------------------------------------- */

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Write a reason into why[cap] (nothing when cap is 0). */
static void say(char *why, size_t cap, const char *fmt, ...)
{
    if (!why || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    if (r < 0)
        why[0] = '\0';
}

/* "a" or "an" before an address class. */
static const char *article(const char *what)
{
    return strcmp(what, "unspecified") == 0 ? "an" : "a";
}

static void target_free(struct target *t)
{
    curl_url_cleanup(t->url);
    t->url = NULL;
}

/* host (UTF-8) in ASCII into out[cap]: international names to punycode
 * (UTS #46, with ICU: libcurl's own conversion depends on the locale). */
static bool host_to_ascii(const char *host, char *out, size_t cap)
{
    bool ascii = true;
    for (const char *p = host; *p; p++)
        ascii &= (unsigned char)*p < 0x80;
    if (ascii) {
        int w = snprintf(out, cap, "%s", host);
        return w > 0 && (size_t)w < cap;
    }
    UErrorCode st = U_ZERO_ERROR;
    UIDNA *idna = uidna_openUTS46(
        UIDNA_NONTRANSITIONAL_TO_ASCII | UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ, &st);
    if (U_FAILURE(st))
        return false;
    UIDNAInfo info = UIDNA_INFO_INITIALIZER;
    int32_t len = uidna_nameToASCII_UTF8(idna, host, -1, out, (int32_t)cap - 1, &info, &st);
    uidna_close(idna);
    if (U_FAILURE(st) || info.errors || len <= 0 || (size_t)len >= cap)
        return false;
    out[len] = '\0';
    return true;
}

/* Parse url into t (t->url must be freed with target_free, also on failure). */
static enum net_error target_parse(const char *url, bool https_only, struct target *t, char *why,
                                   size_t cap)
{
    enum net_error e = NET_BAD_URL;
    char *scheme = NULL, *host = NULL, *port = NULL;
    memset(t, 0, sizeof *t);
    pthread_once(&curl_once, curl_init);
    if (!url || !url[0]) {
        say(why, cap, "the URL is empty");
        goto out;
    }
    t->url = curl_url();
    if (!t->url) {
        e = NET_FAILED;
        say(why, cap, "out of memory");
        goto out;
    }
    CURLUcode uc = curl_url_set(t->url, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(t->url, CURLUPART_SCHEME, &scheme, 0);
    if (uc != CURLUE_OK) {
        say(why, cap, "not a valid URL (%s)", curl_url_strerror(uc));
        goto out;
    }
    if (strcmp(scheme, "https") == 0) {
        t->https = true;
    } else if (strcmp(scheme, "http") != 0) {
        say(why, cap, "the URL must be http:// or https://");
        goto out;
    }
    if (https_only && !t->https) {
        say(why, cap, "https is required");
        goto out;
    }
    uc = curl_url_get(t->url, CURLUPART_HOST, &host, 0);
    if (uc != CURLUE_OK || !host[0]) {
        say(why, cap, "the URL has no valid host");
        goto out;
    }
    size_t hl = strlen(host);
    if (host[0] == '[') { /* IPv6 literal, without brackets for lookups */
        if (hl - 2 >= sizeof t->host) {
            say(why, cap, "the URL has no valid host");
            goto out;
        }
        memcpy(t->host, host + 1, hl - 2);
        t->host[hl - 2] = '\0';
        t->literal = true;
    } else {
        if (!host_to_ascii(host, t->host, sizeof t->host)) {
            say(why, cap, "the URL has no valid host");
            goto out;
        }
        struct in_addr a4;
        t->literal = inet_pton(AF_INET, t->host, &a4) == 1;
        /* the transfer gets the ASCII name, so that the name looked up and
         * pinned here is the name libcurl looks up in its cache */
        if (strcmp(t->host, host) != 0 &&
            curl_url_set(t->url, CURLUPART_HOST, t->host, 0) != CURLUE_OK) {
            say(why, cap, "the URL has no valid host");
            goto out;
        }
    }
    uc = curl_url_get(t->url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    char *end = NULL;
    t->port = uc == CURLUE_OK ? strtol(port, &end, 10) : 0;
    if (uc != CURLUE_OK || !end || *end || t->port < 1 || t->port > 65535) {
        say(why, cap, "the URL has no valid port");
        goto out;
    }
    e = NET_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return e;
}

/* Add the address sa to t->addrs (unless already there). */
static void target_add(struct target *t, const struct sockaddr *sa)
{
    char text[INET6_ADDRSTRLEN], item[IP_TEXT];
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        if (!inet_ntop(AF_INET, &in.sin_addr, text, sizeof text))
            return;
        snprintf(item, sizeof item, "%s", text);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        if (!inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text))
            return;
        snprintf(item, sizeof item, "[%s]", text);
    } else {
        return;
    }
    for (size_t i = 0; i < t->naddrs; i++)
        if (strcmp(t->addrs[i], item) == 0)
            return;
    if (t->naddrs < MAX_ADDRS)
        memcpy(t->addrs[t->naddrs++], item, sizeof item);
}

/* Resolve t->host (a literal needs no lookup) and refuse it when any of
 * its addresses is refused, unless allow_private. */
static enum net_error target_resolve(struct target *t, bool allow_private, char *why, size_t cap)
{
    t->naddrs = 0;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (t->literal) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, t->host, &in->sin_addr) == 1) {
            in->sin_family = AF_INET;
        } else if (inet_pton(AF_INET6, t->host, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
        } else {
            say(why, cap, "host %s is not a valid address", t->host);
            return NET_BAD_URL;
        }
        const char *what = net_address_class((struct sockaddr *)&ss);
        if (what && !allow_private) {
            say(why, cap, "host %s is %s %s address", t->host, article(what), what);
            return NET_REFUSED_ADDRESS;
        }
        target_add(t, (struct sockaddr *)&ss);
        return NET_OK;
    }

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(t->host, NULL, &hints, &res);
    if (rc != 0) {
        if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAIL)
            say(why, cap, "host does not resolve");
        else if (rc == EAI_AGAIN)
            say(why, cap, "host does not resolve (temporary failure)");
        else
            say(why, cap, "host does not resolve (%s)", gai_strerror(rc));
        return NET_RESOLVE;
    }
    enum net_error e = NET_OK;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        const char *what = net_address_class(ai->ai_addr);
        if (what && !allow_private) {
            char text[INET6_ADDRSTRLEN] = "";
            const void *a = ai->ai_family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
            inet_ntop(ai->ai_family, a, text, sizeof text);
            say(why, cap, "host %s resolves to %s, %s %s address", t->host, text, article(what),
                what);
            e = NET_REFUSED_ADDRESS;
            goto out;
        }
        target_add(t, ai->ai_addr);
    }
    if (t->naddrs == 0) {
        say(why, cap, "host does not resolve");
        e = NET_RESOLVE;
    }
out:
    freeaddrinfo(res);
    return e;
}

enum net_error net_check_url(const char *url, bool allow_private, bool https_only, char *why,
                             size_t cap)
{
    struct target t;
    say(why, cap, "%s", "");
    enum net_error e = target_parse(url, https_only, &t, why, cap);
    if (e == NET_OK)
        e = target_resolve(&t, allow_private, why, cap);
    target_free(&t);
    return e;
}

bool net_url_is_https(const char *url)
{
    struct target t;
    bool https = target_parse(url, true, &t, NULL, 0) == NET_OK;
    target_free(&t);
    return https;
}

/* ---- the net thread ----------------------------------------------------- */

/* End x: take what the response needs from its easy handle, free the
 * handle, and wake its caller. forced: NET_OK when libcurl ended it (the
 * result is x->rc), otherwise why the net thread ended it. */
static void xfer_finish(struct net *n, struct xfer *x, enum net_error forced, const char *msg)
{
    if (x->added) {
        long status = 0;
        char *ctype = NULL, *ip = NULL;
        if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
            x->status = status;
        if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
            snprintf(x->content_type, sizeof x->content_type, "%s", ctype);
        if (curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
            snprintf(x->ip, sizeof x->ip, "%s", ip);
        long request_size = 0;
        if (curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &request_size) == CURLE_OK)
            x->sent = request_size > 0;
        struct curl_header *h;
        if (curl_easy_header(x->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
            snprintf(x->retry_after, sizeof x->retry_after, "%s", h->value);
        if (x->want_header &&
            curl_easy_header(x->easy, x->want_header, 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
            snprintf(x->header, sizeof x->header, "%s", h->value);
        curl_multi_remove_handle(n->multi, x->easy);
        x->added = false;
        /* unlink from n->active */
        if (x->prev)
            x->prev->next = x->next;
        else
            n->active = x->next;
        if (x->next)
            x->next->prev = x->prev;
        x->prev = x->next = NULL;
    }
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    x->forced = forced;
    x->forced_msg = msg;
    pthread_mutex_lock(&n->mu);
    x->done = true;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&n->mu);
    /* x may be gone now */
}

/* Add x to the multi handle (or end it at once when that fails). */
static void xfer_start(struct net *n, struct xfer *x)
{
    x->next = x->prev = NULL;
    if (curl_multi_add_handle(n->multi, x->easy) != CURLM_OK) {
        xfer_finish(n, x, NET_FAILED, "the transfer could not be started");
        return;
    }
    x->added = true;
    x->next = n->active;
    if (n->active)
        n->active->prev = x;
    n->active = x;
}

/* End the transfers libcurl has finished. */
static void collect_done(struct net *n)
{
    CURLMsg *m;
    int left = 0;
    while ((m = curl_multi_info_read(n->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode rc = m->data.result; /* m dies with the handle */
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        struct xfer *x = (struct xfer *)priv;
        x->rc = rc;
        xfer_finish(n, x, NET_OK, NULL);
    }
}

/* End the transfers cancelled or past their deadline. */
static void sweep(struct net *n)
{
    usec_t now = time_mono();
    struct xfer *x = n->active;
    while (x) {
        struct xfer *next = x->next;
        if (x->cancel && atomic_load(x->cancel))
            xfer_finish(n, x, NET_CANCELLED, "cancelled");
        else if (now >= x->deadline)
            xfer_finish(n, x, NET_TIMEOUT, "timed out");
        x = next;
    }
}

static void *net_main(void *arg)
{
    struct net *n = arg;
    for (;;) {
        pthread_mutex_lock(&n->mu);
        struct xfer *x = n->in_head;
        n->in_head = n->in_tail = NULL;
        bool stopping = n->stopping;
        pthread_mutex_unlock(&n->mu);
        while (x) {
            struct xfer *next = x->next;
            if (stopping)
                xfer_finish(n, x, NET_CANCELLED, "the net module is stopping");
            else
                xfer_start(n, x);
            x = next;
        }
        if (stopping)
            break;
        int running = 0;
        curl_multi_perform(n->multi, &running);
        collect_done(n);
        sweep(n);
        curl_multi_poll(n->multi, NULL, 0, POLL_MS, NULL);
    }
    while (n->active)
        xfer_finish(n, n->active, NET_CANCELLED, "the net module is stopping");
    return NULL;
}

struct net *net_start(const struct net_config *cfg, char *err, size_t errlen)
{
    struct net *n = NULL;
    bool mu_ok = false, idle_ok = false;
    say(err, errlen, "%s", "");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        say(err, errlen, "libcurl did not initialize: %s", curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    n = calloc(1, sizeof *n);
    if (!n)
        goto oom;
    const char *ua = cfg && cfg->user_agent && cfg->user_agent[0] ? cfg->user_agent : "chatpay";
    n->user_agent = strdup(ua);
    n->max_per_host = cfg && cfg->max_per_host ? cfg->max_per_host : DEFAULT_PER_HOST;
    n->max_total = cfg && cfg->max_total ? cfg->max_total : DEFAULT_TOTAL;
    n->multi = curl_multi_init();
    if (!n->user_agent || !n->multi)
        goto oom;
    if (curl_multi_setopt(n->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)n->max_per_host) ||
        curl_multi_setopt(n->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n->max_total) ||
        curl_multi_setopt(n->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING)) {
        say(err, errlen, "libcurl refused the connection limits");
        goto fail;
    }
    mu_ok = pthread_mutex_init(&n->mu, NULL) == 0;
    idle_ok = pthread_cond_init(&n->idle, NULL) == 0;
    if (!mu_ok || !idle_ok)
        goto oom;

    int rc = thread_start_quiet(&n->thread, net_main, n);
    if (rc != 0) {
        log_error("net: cannot start the net thread: %s", strerror(rc));
        say(err, errlen, "cannot start the net thread: %s", strerror(rc));
        goto fail;
    }
    return n;

oom:
    say(err, errlen, "out of memory");
fail:
    if (n) {
        if (mu_ok)
            pthread_mutex_destroy(&n->mu);
        if (idle_ok)
            pthread_cond_destroy(&n->idle);
        curl_multi_cleanup(n->multi);
        free(n->user_agent);
        free(n);
    }
    return NULL;
}

void net_stop(struct net *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_mutex_unlock(&n->mu);
    curl_multi_wakeup(n->multi);
    pthread_join(n->thread, NULL);
    pthread_mutex_lock(&n->mu);
    while (n->callers > 0)
        pthread_cond_wait(&n->idle, &n->mu);
    pthread_mutex_unlock(&n->mu);
    curl_multi_cleanup(n->multi);
    pthread_cond_destroy(&n->idle);
    pthread_mutex_destroy(&n->mu);
    free(n->user_agent);
    free(n);
}

/* ---- one call ------------------------------------------------------------- */

/* libcurl's write callback: keep at most x->max bytes, abort beyond. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct xfer *x = userp;
    size_t n = size * nmemb;
    if (n > x->max - x->len) {
        x->too_large = true;
        return 0;
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : FIRST_BUFFER;
        if (cap < x->len + n + 1)
            cap = x->len + n + 1;
        if (cap > x->max + 1)
            cap = x->max + 1;
        char *p = realloc(x->buf, cap);
        if (!p) {
            x->out_of_memory = true;
            return 0;
        }
        x->buf = p;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return n;
}

/* libcurl's socket opener: the last check of the address connected to. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct xfer *x = clientp;
    if (!x->allow_private) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, &a->addr, a->addrlen < sizeof ss ? a->addrlen : sizeof ss);
        const char *what = net_address_class((struct sockaddr *)&ss);
        if (what) {
            x->refused_what = what;
            const void *p = ss.ss_family == AF_INET6
                                ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                                : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
            if (!inet_ntop(ss.ss_family, p, x->refused_ip, sizeof x->refused_ip))
                snprintf(x->refused_ip, sizeof x->refused_ip, "?");
            return CURL_SOCKET_BAD;
        }
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* An HTTP token, and not one of the headers net sets itself from the URL
 * and the body (a Host or framing header of the caller's could send the
 * request somewhere else than checked, or split it in two). */
static bool header_name_ok(const char *s)
{
    if (!s || !*s)
        return false;
    if (strcasecmp(s, "Host") == 0 || strcasecmp(s, "Content-Length") == 0 ||
        strcasecmp(s, "Transfer-Encoding") == 0)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c && strchr("!#$%&'*+-.^_`|~", c))))
            return false;
    }
    return true;
}

static bool header_value_ok(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

/* Append "name: value" to *list ("name;" for an empty value, which is how
 * libcurl is told to send an empty header). */
static bool add_header(struct curl_slist **list, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = malloc(len);
    if (!line)
        return false;
    if (value[0])
        snprintf(line, len, "%s: %s", name, value);
    else
        snprintf(line, len, "%s;", name);
    struct curl_slist *l = curl_slist_append(*list, line);
    free(line);
    if (!l)
        return false;
    *list = l;
    return true;
}

/* The "+host:port:addr,addr" entry of CURLOPT_RESOLVE that pins t's host
 * to its checked addresses ('+': it leaves libcurl's cache in time). */
static bool add_pin(struct curl_slist **list, const struct target *t)
{
    size_t len = strlen(t->host) + 16 + t->naddrs * IP_TEXT;
    char *line = malloc(len);
    if (!line)
        return false;
    int w = snprintf(line, len, "+%s:%ld:", t->host, t->port);
    for (size_t i = 0; i < t->naddrs && w > 0 && (size_t)w < len; i++)
        w += snprintf(line + w, len - (size_t)w, "%s%s", i ? "," : "", t->addrs[i]);
    struct curl_slist *l = w > 0 && (size_t)w < len ? curl_slist_append(*list, line) : NULL;
    free(line);
    if (!l)
        return false;
    *list = l;
    return true;
}

/* Set the easy handle's options for rq; false when libcurl refuses one. */
static bool xfer_setup(struct net *n, struct xfer *x, const struct net_request *rq,
                       const struct target *t, struct curl_slist *headers, struct curl_slist *pins,
                       unsigned connect_ms, long timeout_ms)
{
    CURL *e = x->easy;
    const char *method = rq->method ? rq->method : "GET";
    static const char empty[] = "";
    const void *body = rq->body ? rq->body : empty;
    bool ok = true;

    ok &= curl_easy_setopt(e, CURLOPT_CURLU, t->url) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, n->user_agent) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, x) == CURLE_OK;
    /* a Content-Length above the cap ends the transfer before the body */
    ok &= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, (long)DNS_CACHE_SECONDS) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
    if (pins)
        ok &= curl_easy_setopt(e, CURLOPT_RESOLVE, pins) == CURLE_OK;
    if (x->allow_private)
        ok &= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) == CURLE_OK;

    if (strcmp(method, "GET") == 0) {
        ok &= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    } else if (strcmp(method, "DELETE") == 0 && !rq->body) {
        ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    } else {
        /* POST, PUT, PATCH, DELETE with a body: the body as POST fields
         * (rq outlives the transfer), under the method's own name */
        ok &=
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len) == CURLE_OK;
        ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDS, body) == CURLE_OK;
        if (strcmp(method, "POST") != 0)
            ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    }
    return ok;
}

/* Is method one net_perform() sends? */
static bool method_ok(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    if (!m)
        return true;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return true;
    return false;
}

/* Check rq's fields other than the URL. */
static bool request_ok(const struct net_request *rq, char *why, size_t cap)
{
    if (!method_ok(rq->method)) {
        say(why, cap, "method %.32s is not supported", rq->method);
        return false;
    }
    if (!rq->body && rq->body_len > 0) {
        say(why, cap, "body is NULL but body_len is %zu", rq->body_len);
        return false;
    }
    if ((!rq->method || strcmp(rq->method, "GET") == 0) && rq->body) {
        say(why, cap, "a GET carries no body");
        return false;
    }
    if (rq->nheaders > 0 && !rq->headers) {
        say(why, cap, "headers is NULL but nheaders is %zu", rq->nheaders);
        return false;
    }
    for (size_t i = 0; i < rq->nheaders; i++) {
        if (!header_name_ok(rq->headers[i].name)) {
            say(why, cap, "header %zu has an invalid or reserved name", i);
            return false;
        }
        if (!header_value_ok(rq->headers[i].value)) {
            say(why, cap, "header %zu has an invalid value", i);
            return false;
        }
    }
    return true;
}

/* The outcome of a transfer the net thread ended, into out. */
static void xfer_result(const struct xfer *x, struct net_response *out)
{
    out->status = (int)x->status;
    out->sent = x->sent;
    snprintf(out->retry_after, sizeof out->retry_after, "%s", x->retry_after);
    snprintf(out->header, sizeof out->header, "%s", x->header);
    snprintf(out->content_type, sizeof out->content_type, "%s", x->content_type);
    snprintf(out->ip, sizeof out->ip, "%s", x->ip);
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->rc);
    if (x->forced == NET_TIMEOUT) {
        out->error = NET_TIMEOUT;
        snprintf(out->message, sizeof out->message, "timed out after %u ms", x->timeout_ms);
        return;
    }
    if (x->forced != NET_OK) {
        out->error = x->forced;
        snprintf(out->message, sizeof out->message, "%s", x->forced_msg);
        return;
    }
    switch (x->rc) {
    case CURLE_OK:
        out->error = NET_OK;
        return;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (x->too_large || x->rc == CURLE_FILESIZE_EXCEEDED) {
            out->error = NET_TOO_LARGE;
            snprintf(out->message, sizeof out->message,
                     "the response body is larger than %zu bytes", x->max);
            return;
        }
        if (x->out_of_memory) {
            out->error = NET_FAILED;
            snprintf(out->message, sizeof out->message, "out of memory for the response body");
            return;
        }
        out->error = NET_FAILED;
        break;
    case CURLE_COULDNT_CONNECT:
        if (x->refused_what) {
            out->error = NET_REFUSED_ADDRESS;
            snprintf(out->message, sizeof out->message, "refused to connect to %s, %s %s address",
                     x->refused_ip, article(x->refused_what), x->refused_what);
            return;
        }
        out->error = NET_CONNECT;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        out->error = NET_RESOLVE;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        out->error = NET_TIMEOUT;
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CLIENTCERT:
        out->error = NET_TLS;
        break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        out->error = NET_BAD_URL;
        break;
    default:
        out->error = NET_FAILED;
        break;
    }
    snprintf(out->message, sizeof out->message, "%s", detail);
}

/* Register a caller; false when the net is stopping. */
static bool enter(struct net *n)
{
    pthread_mutex_lock(&n->mu);
    bool ok = !n->stopping;
    if (ok)
        n->callers++;
    pthread_mutex_unlock(&n->mu);
    return ok;
}

static void leave(struct net *n)
{
    pthread_mutex_lock(&n->mu);
    if (--n->callers == 0 && n->stopping)
        pthread_cond_broadcast(&n->idle);
    pthread_mutex_unlock(&n->mu);
}

/* Hand x to the net thread and wait for its end; false (x untouched) when
 * the net is stopping. */
static bool hand_over_and_wait(struct net *n, struct xfer *x)
{
    pthread_mutex_lock(&n->mu);
    if (n->stopping) {
        pthread_mutex_unlock(&n->mu);
        return false;
    }
    x->next = NULL;
    if (n->in_tail)
        n->in_tail->next = x;
    else
        n->in_head = x;
    n->in_tail = x;
    pthread_mutex_unlock(&n->mu);
    /* n->multi lives while callers > 0 */
    curl_multi_wakeup(n->multi);
    pthread_mutex_lock(&n->mu);
    while (!x->done)
        pthread_cond_wait(&x->cv, &n->mu);
    pthread_mutex_unlock(&n->mu);
    return true;
}

static void fail(struct net_response *out, enum net_error e, const char *msg)
{
    out->error = e;
    if (msg != out->message)
        snprintf(out->message, sizeof out->message, "%s", msg);
}

void net_perform(struct net *n, const struct net_request *rq, struct net_response *out)
{
    usec_t t0 = time_mono();
    struct target t = {0};
    struct curl_slist *headers = NULL, *pins = NULL;
    struct xfer x;
    bool entered = false, cv_ok = false;
    memset(out, 0, sizeof *out);
    memset(&x, 0, sizeof x);
    out->body = malloc(1);
    if (out->body)
        out->body[0] = '\0';
    if (!n || !rq) {
        fail(out, NET_FAILED, !n ? "the net module is not started" : "no request");
        goto out;
    }
    if (!out->body) {
        fail(out, NET_FAILED, "out of memory");
        goto out;
    }
    if (!(entered = enter(n))) {
        fail(out, NET_CANCELLED, "the net module is stopping");
        goto out;
    }
    if (!request_ok(rq, out->message, sizeof out->message)) {
        fail(out, NET_FAILED, out->message);
        goto out;
    }
    enum net_error e = target_parse(rq->url, false, &t, out->message, sizeof out->message);
    if (e != NET_OK) {
        fail(out, e, out->message);
        goto out;
    }
    if (rq->cancel && atomic_load(rq->cancel)) {
        fail(out, NET_CANCELLED, "cancelled");
        goto out;
    }
    e = target_resolve(&t, rq->allow_private, out->message, sizeof out->message);
    if (e != NET_OK) {
        fail(out, e, out->message);
        goto out;
    }

    unsigned timeout_ms = rq->timeout_ms ? rq->timeout_ms : DEFAULT_TIMEOUT_MS;
    unsigned connect_ms = rq->connect_timeout_ms ? rq->connect_timeout_ms : DEFAULT_CONNECT_MS;
    usec_t deadline = t0 + (usec_t)timeout_ms * 1000;
    usec_t left_us = deadline - time_mono();
    if (left_us <= 0) {
        fail(out, NET_TIMEOUT, "the name lookup took longer than the timeout");
        goto out;
    }
    if (rq->cancel && atomic_load(rq->cancel)) {
        fail(out, NET_CANCELLED, "cancelled");
        goto out;
    }

    bool ok = true;
    for (size_t i = 0; ok && i < rq->nheaders; i++)
        ok = add_header(&headers, rq->headers[i].name, rq->headers[i].value);
    /* no "Expect: 100-continue" round trip before large bodies ("Name:"
     * removes a header libcurl would add) */
    struct curl_slist *l = ok ? curl_slist_append(headers, "Expect:") : NULL;
    ok = l != NULL;
    if (l)
        headers = l;
    /* pin a name to its checked addresses; a literal needs no lookup */
    if (ok && !t.literal)
        ok = add_pin(&pins, &t);
    cv_ok = pthread_cond_init(&x.cv, NULL) == 0;
    x.easy = curl_easy_init();
    if (!ok || !cv_ok || !x.easy) {
        fail(out, NET_FAILED, "out of memory");
        goto out;
    }
    x.allow_private = rq->allow_private;
    x.cancel = rq->cancel;
    x.want_header = rq->want_header;
    x.deadline = deadline;
    x.timeout_ms = timeout_ms;
    x.max = rq->max_response ? rq->max_response : DEFAULT_MAX_RESPONSE;
    if (x.max > (size_t)INT32_MAX)
        x.max = (size_t)INT32_MAX; /* keeps max + 1 and the curl_off_t cast sane */
    long curl_timeout = (long)((left_us + 999) / 1000);
    if (!xfer_setup(n, &x, rq, &t, headers, pins, connect_ms, curl_timeout)) {
        fail(out, NET_FAILED, "libcurl refused an option of the transfer");
        goto out;
    }
    if (!hand_over_and_wait(n, &x)) {
        fail(out, NET_CANCELLED, "the net module is stopping");
        goto out;
    }
    /* the net thread has freed x.easy */
    xfer_result(&x, out);
    if (out->error == NET_OK && x.buf) {
        free(out->body);
        out->body = x.buf;
        out->body_len = x.len;
        x.buf = NULL;
    }

out:
    if (x.easy)
        curl_easy_cleanup(x.easy);
    if (cv_ok)
        pthread_cond_destroy(&x.cv);
    free(x.buf);
    curl_slist_free_all(headers);
    curl_slist_free_all(pins);
    target_free(&t);
    if (entered)
        leave(n);
    if (out->error == NET_OK)
        out->message[0] = '\0';
    out->seconds = (double)(time_mono() - t0) / 1e6;
}

void net_response_free(struct net_response *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

usec_t net_retry_after(const char *v, usec_t max)
{
    if (!v)
        return 0;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v < '0' || *v > '9')
        return 0;
    long long s = 0;
    for (; *v >= '0' && *v <= '9'; v++)
        if (s <= max / 1000000)
            s = s * 10 + (*v - '0');
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v)
        return 0;
    usec_t us = (usec_t)s * 1000000;
    return us > max ? max : us;
}
