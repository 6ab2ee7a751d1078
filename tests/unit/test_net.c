/*
 * test_net.c — unit tests for net/: the SSRF guard (addresses, URLs) and
 * live transfers against a small HTTP server the test runs on loopback.
 *
 * The server (struct srv) listens on 127.0.0.1 (or ::1) on a port the
 * system picks, accepts in its own thread and answers each connection in a
 * thread of its own, by path:
 *   /hello     200, text/plain, "hello world"
 *   /echo      200 "ok"; the request (method, headers, body) is recorded
 *   /redirect  302 to /hello
 *   /big       200 with 100 000 bytes and a Content-Length
 *   /stream    200 with 100 000 bytes and no Content-Length (ends at close)
 *   /empty     204, no body
 *   /status500 500 "boom"
 *   /slow      200 "slow" after 200 ms
 *   /hang      never answers (until the client leaves or the server stops)
 * Every connection gets "Connection: close". Every wait is bounded: reads
 * poll in 50 ms slices, handlers give up after a few seconds, the accept
 * loop checks a stop flag, and alarm() ends the binary if anything hangs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"

/* ---- helpers ---------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- the test server ------------------------------------------------------ */

enum { MAX_HANDLERS = 128, REQ_MAX = 16384, BODY_MAX = 8192, BIG = 100000 };

struct srv {
    int fd;
    int port;
    bool v6;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    /* under mu */
    int accepted;   /* connections accepted */
    int active;     /* connections accepted and not answered yet */
    int max_active; /* the most at once */
    int requests;   /* requests read */
    char method[16];
    char path[256];
    char headers[REQ_MAX]; /* the last request's header lines */
    char body[BODY_MAX];   /* the last request's body */
    size_t body_len;
    pthread_t handlers[MAX_HANDLERS];
    int nhandlers;
};

struct conn {
    struct srv *s;
    int fd;
};

/* Read at least one byte within ms (stops early when the server stops);
 * returns bytes read, 0 at end of stream, -1 on error or timeout. */
static ssize_t read_some(struct srv *s, int fd, char *buf, size_t cap, unsigned ms)
{
    for (unsigned waited = 0; waited < ms && !atomic_load(&s->stop); waited += 50) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 50);
        if (r < 0)
            return -1;
        if (r == 1)
            return read(fd, buf, cap);
    }
    return -1;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* The connection is answered (or given up): no longer active. */
static void conn_answered(struct srv *s, bool *counted)
{
    if (*counted)
        return;
    *counted = true;
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_mutex_unlock(&s->mu);
}

static void respond(struct srv *s, int fd, bool *counted, const char *status, const char *extra,
                    const char *body, size_t len, bool with_length)
{
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\n%sConnection: close\r\n", status, extra);
    if (with_length)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    /* counted as done before the client can see the answer */
    conn_answered(s, counted);
    send_all(fd, head, (size_t)n);
    if (len)
        send_all(fd, body, len);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct srv *s = c->s;
    int fd = c->fd;
    free(c);
    bool counted = false;
    char *req = calloc(1, REQ_MAX + BODY_MAX + 1);
    if (!req)
        goto out;
    size_t len = 0;
    char *end = NULL;
    /* the request head */
    while (!end && len < REQ_MAX) {
        ssize_t r = read_some(s, fd, req + len, REQ_MAX - len, 3000);
        if (r <= 0)
            goto out;
        len += (size_t)r;
        req[len] = '\0';
        if (req[0] < 'A' || req[0] > 'Z') { /* not HTTP (a TLS hello): answer in plain text */
            respond(s, fd, &counted, "400 Bad Request", "", NULL, 0, true);
            goto out;
        }
        end = strstr(req, "\r\n\r\n");
    }
    if (!end)
        goto out;
    char method[16] = "", path[256] = "";
    if (sscanf(req, "%15s %255s", method, path) != 2)
        goto out;
    size_t head_len = (size_t)(end + 4 - req);
    size_t want = 0;
    for (char *h = strstr(req, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
        if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
            want = strtoul(h + 17, NULL, 10);
    if (want > BODY_MAX)
        goto out;
    while (len - head_len < want) {
        ssize_t r = read_some(s, fd, req + len, head_len + want - len, 3000);
        if (r <= 0)
            goto out;
        len += (size_t)r;
    }
    char *first_eol = strstr(req, "\r\n");
    pthread_mutex_lock(&s->mu);
    s->requests++;
    snprintf(s->method, sizeof s->method, "%s", method);
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->headers, sizeof s->headers, "%.*s", (int)(end + 2 - (first_eol + 2)),
             first_eol + 2);
    memcpy(s->body, req + head_len, want);
    s->body_len = want;
    pthread_mutex_unlock(&s->mu);

    path[strcspn(path, "?")] = '\0'; /* answer by path alone */
    if (strcmp(path, "/hello") == 0) {
        respond(s, fd, &counted, "200 OK", "Content-Type: text/plain; charset=utf-8\r\n",
                "hello world", 11, true);
    } else if (strcmp(path, "/echo") == 0) {
        respond(s, fd, &counted, "200 OK", "Content-Type: text/plain\r\n", "ok", 2, true);
    } else if (strcmp(path, "/redirect") == 0) {
        respond(s, fd, &counted, "302 Found", "Location: /hello\r\n", "", 0, true);
    } else if (strcmp(path, "/big") == 0 || strcmp(path, "/stream") == 0) {
        char *big = malloc(BIG);
        if (big) {
            memset(big, 'x', BIG);
            respond(s, fd, &counted, "200 OK", "", big, BIG, strcmp(path, "/big") == 0);
            free(big);
        }
    } else if (strcmp(path, "/empty") == 0) {
        respond(s, fd, &counted, "204 No Content", "", "", 0, false);
    } else if (strcmp(path, "/status500") == 0) {
        respond(s, fd, &counted, "500 Internal Server Error", "", "boom", 4, true);
    } else if (strcmp(path, "/slow") == 0) {
        sleep_ms(200);
        respond(s, fd, &counted, "200 OK", "", "slow", 4, true);
    } else if (strcmp(path, "/hang") == 0) {
        /* until the client goes away or the server stops, 5 s at most */
        char sink[256];
        for (int i = 0; i < 100 && !atomic_load(&s->stop); i++) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 50) == 1 && read(fd, sink, sizeof sink) <= 0)
                break;
        }
    } else {
        respond(s, fd, &counted, "404 Not Found", "", "", 0, true);
    }
out:
    conn_answered(s, &counted);
    free(req);
    close(fd);
    return NULL;
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 50) != 1)
            continue;
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct conn *c = malloc(sizeof *c);
        pthread_mutex_lock(&s->mu);
        bool room = c && s->nhandlers < MAX_HANDLERS;
        if (room) {
            s->accepted++;
            s->active++;
            if (s->active > s->max_active)
                s->max_active = s->active;
            c->s = s;
            c->fd = fd;
            room = pthread_create(&s->handlers[s->nhandlers], NULL, conn_main, c) == 0;
            if (room)
                s->nhandlers++;
            else
                s->active--;
        }
        pthread_mutex_unlock(&s->mu);
        if (!room) {
            free(c);
            close(fd);
        }
    }
    return NULL;
}

/* Start a server on 127.0.0.1 (or ::1); false when it cannot listen there. */
static bool srv_start(struct srv *s, bool v6)
{
    memset(s, 0, sizeof *s);
    s->v6 = v6;
    s->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        return false;
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof *a;
    }
    if (bind(s->fd, (struct sockaddr *)&ss, sl) != 0 || listen(s->fd, 64) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&ss, &sl) != 0) {
        close(s->fd);
        return false;
    }
    s->port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    pthread_mutex_init(&s->mu, NULL);
    atomic_store(&s->stop, false);
    if (pthread_create(&s->thread, NULL, srv_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        close(s->fd);
        return false;
    }
    return true;
}

static void srv_stop(struct srv *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    /* no more handlers are created now */
    for (int i = 0; i < s->nhandlers; i++)
        pthread_join(s->handlers[i], NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->mu);
}

static int srv_get(struct srv *s, const int *field)
{
    pthread_mutex_lock(&s->mu);
    int v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* Wait (at most ms) until the server has accepted n connections. */
static bool srv_wait_accepted(struct srv *s, int n, unsigned ms)
{
    for (unsigned waited = 0; waited < ms; waited += 10) {
        if (srv_get(s, &s->accepted) >= n)
            return true;
        sleep_ms(10);
    }
    return false;
}

static void url_of(const struct srv *s, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "http://%s:%d%s", s->v6 ? "[::1]" : "127.0.0.1", s->port, path);
}

/* ---- fixtures --------------------------------------------------------------- */

static struct net *shared_net;
static struct srv server;

static int group_setup(void **state)
{
    char err[256];
    struct net_config cfg = {.user_agent = "chatpay-test/1"};
    shared_net = net_start(&cfg, err, sizeof err);
    return shared_net ? 0 : -1;
}

static int group_teardown(void **state)
{
    net_stop(shared_net);
    shared_net = NULL;
    return 0;
}

static int server_setup(void **state)
{
    return srv_start(&server, false) ? 0 : -1;
}

static int server_teardown(void **state)
{
    srv_stop(&server);
    return 0;
}

/* A GET of path on the test server, private addresses allowed. */
static void get(const char *path, size_t max_response, struct net_response *out)
{
    char url[128];
    url_of(&server, path, url, sizeof url);
    struct net_request rq = {.url = url, .allow_private = true, .max_response = max_response};
    net_perform(shared_net, &rq, out);
}

/* ---- the SSRF guard: addresses ---------------------------------------------------------- */

static bool refused(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
    } else {
        fail_msg("bad address in the test: %s", text);
    }
    bool r = net_address_refused((struct sockaddr *)&ss);
    assert_int_equal(r, net_address_class((struct sockaddr *)&ss) != NULL);
    return r;
}

static void test_addresses_refused(void **state)
{
    static const char *const bad[] = {
        /* IPv4, each class and its edges */
        "0.0.0.0", "0.255.255.255", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255",
        "127.0.0.1", "127.255.255.254", "169.254.169.254", "169.254.0.1", "172.16.0.1",
        "172.31.255.255", "192.0.0.1", "192.0.0.255", "192.0.2.1", "192.168.0.1", "192.168.255.255",
        "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1",
        "239.255.255.250", "240.0.0.1", "255.255.255.255",
        /* IPv6 */
        "::", "::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",
        "::ffff:0.0.0.0", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::192.168.1.1",
        "fc00::1", "fd00::1", "fd00:ec2::254", "fdff:ffff::1", "fe80::1", "febf::1", "ff02::1",
        "ff0e::1", "2001:db8::1", "2001:db8:ffff::1", "100::1", "100::ffff:ffff:ffff:ffff",
        /* also refused: IPv4-compatible, local-use NAT64, 6to4 of a private address */
        "::127.0.0.1", "::8.8.8.8", "64:ff9b:1::1", "2002:7f00:1::1", "2002:c0a8:101::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!refused(bad[i]))
            fail_msg("%s should be refused", bad[i]);
}

static void test_addresses_allowed(void **state)
{
    static const char *const good[] = {
        "8.8.8.8",         "1.1.1.1",          "9.255.255.255",    "11.0.0.0",
        "100.63.255.255",  "100.128.0.0",      "126.255.255.255",  "128.0.0.0",
        "169.253.255.255", "169.255.0.0",      "172.15.255.255",   "172.32.0.0",
        "192.0.1.1",       "192.0.3.1",        "192.167.255.255",  "192.169.0.0",
        "198.17.255.255",  "198.20.0.0",       "198.51.99.1",      "203.0.112.1",
        "223.255.255.255", "2606:4700::1111",  "2001:4860::8888",  "2001:4860:4860::8888",
        "::ffff:8.8.8.8",  "64:ff9b::8.8.8.8", "2002:808:808::1",  "100:0:0:1::1",
        "2001:db9::1",     "fec0::1",          "2a00:1450:4001::1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (refused(good[i]))
            fail_msg("%s should not be refused", good[i]);
}

static void test_address_classes(void **state)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "169.254.169.254", &in.sin_addr);
    assert_string_equal(net_address_class((struct sockaddr *)&in), "link-local");
    inet_pton(AF_INET, "10.0.0.1", &in.sin_addr);
    assert_string_equal(net_address_class((struct sockaddr *)&in), "private");
    inet_pton(AF_INET, "100.64.1.1", &in.sin_addr);
    assert_string_equal(net_address_class((struct sockaddr *)&in), "carrier-grade NAT");
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
    assert_string_equal(net_address_class((struct sockaddr *)&in6), "loopback");
    inet_pton(AF_INET6, "64:ff9b::10.0.0.1", &in6.sin6_addr);
    assert_string_equal(net_address_class((struct sockaddr *)&in6), "private");
    inet_pton(AF_INET6, "fd00:ec2::254", &in6.sin6_addr);
    assert_string_equal(net_address_class((struct sockaddr *)&in6), "unique local");
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_true(net_address_refused(&un));
}

static void test_error_names(void **state)
{
    assert_string_equal(net_error_name(NET_OK), "ok");
    assert_string_equal(net_error_name(NET_BAD_URL), "bad_url");
    assert_string_equal(net_error_name(NET_REFUSED_ADDRESS), "refused_address");
    assert_string_equal(net_error_name(NET_RESOLVE), "resolve");
    assert_string_equal(net_error_name(NET_CONNECT), "connect");
    assert_string_equal(net_error_name(NET_TIMEOUT), "timeout");
    assert_string_equal(net_error_name(NET_TLS), "tls");
    assert_string_equal(net_error_name(NET_TOO_LARGE), "too_large");
    assert_string_equal(net_error_name(NET_CANCELLED), "cancelled");
    assert_string_equal(net_error_name(NET_FAILED), "failed");
    assert_string_equal(net_error_name((enum net_error)99), "unknown");
}

/* ---- the SSRF guard: URLs ----------------------------------------------------- */

static void check_url_is(const char *url, bool allow_private, bool https_only, enum net_error want,
                         const char *want_why)
{
    char why[256] = "junk";
    enum net_error e = net_check_url(url, allow_private, https_only, why, sizeof why);
    if (e != want)
        fail_msg("%s: got %s (%s), want %s", url ? url : "(null)", net_error_name(e), why,
                 net_error_name(want));
    if (want == NET_OK)
        assert_string_equal(why, "");
    else
        assert_true(why[0] != '\0');
    if (want_why)
        assert_string_equal(why, want_why);
}

static void test_check_url_bad(void **state)
{
    static const char *const bad[] = {"",
                                      "ftp://8.8.8.8/",
                                      "file:///etc/passwd",
                                      "gopher://8.8.8.8/",
                                      "http://",
                                      "https://",
                                      "garbage",
                                      "not a url",
                                      "http://exa mple.com/",
                                      "http://8.8.8.8/a b",
                                      " http://8.8.8.8/",
                                      "//8.8.8.8/",
                                      "8.8.8.8",
                                      "http://8.8.8.8:0/",
                                      "http://8.8.8.8:99999/",
                                      "http://8.8.8.8:port/",
                                      "http://[::1/",
                                      "http://[zz::1]/",
                                      "javascript:alert(1)"};
    check_url_is("http://8.8.8.8/\r\nX: y", true, false, NET_BAD_URL, NULL);
    check_url_is(NULL, true, false, NET_BAD_URL, "the URL is empty");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_url_is(bad[i], true, false, NET_BAD_URL, NULL);
    check_url_is("ftp://8.8.8.8/", false, false, NET_BAD_URL,
                 "the URL must be http:// or https://");
    /* a zero-width joiner between two letters: not a valid international name */
    check_url_is("http://a\xe2\x80\x8d"
                 "b.example/",
                 true, false, NET_BAD_URL, "the URL has no valid host");
}

static void test_check_url_https_only(void **state)
{
    check_url_is("http://8.8.8.8/pay", false, true, NET_BAD_URL, "https is required");
    check_url_is("https://8.8.8.8/pay", false, true, NET_OK, NULL);
    check_url_is("HTTPS://8.8.8.8:8443/pay?x=1#f", false, true, NET_OK, NULL);
    check_url_is("http://8.8.8.8/pay", false, false, NET_OK, NULL);
    check_url_is("https://[2606:4700::1111]/x", false, true, NET_OK, NULL);
    check_url_is("http://1.1.1.1:8080/", false, false, NET_OK, NULL);
    /* the same reading without a lookup: what a delivery checks */
    assert_true(net_url_is_https("https://pay.example/cb"));
    assert_true(net_url_is_https("HTTPS://pay.example/cb"));
    assert_true(net_url_is_https("https:/pay.example/cb")); /* read as https://pay.example/cb */
    assert_false(net_url_is_https("http://pay.example/cb"));
    assert_false(net_url_is_https("HTTP://pay.example/cb"));
    assert_false(net_url_is_https("ftp://pay.example/cb"));
    assert_false(net_url_is_https("https://"));
    assert_false(net_url_is_https(""));
}

static void test_check_url_private(void **state)
{
    check_url_is("http://127.0.0.1/", false, false, NET_REFUSED_ADDRESS,
                 "host 127.0.0.1 is a loopback address");
    check_url_is("http://10.0.0.1/", false, false, NET_REFUSED_ADDRESS,
                 "host 10.0.0.1 is a private address");
    check_url_is("http://169.254.169.254/latest/meta-data", false, false, NET_REFUSED_ADDRESS,
                 "host 169.254.169.254 is a link-local address");
    check_url_is("http://[::1]/", false, false, NET_REFUSED_ADDRESS,
                 "host ::1 is a loopback address");
    check_url_is("http://[fd00:ec2::254]/", false, false, NET_REFUSED_ADDRESS, NULL);
    check_url_is("http://[::ffff:127.0.0.1]:8080/", false, false, NET_REFUSED_ADDRESS, NULL);
    check_url_is("http://[::ffff:a9fe:a9fe]/", false, false, NET_REFUSED_ADDRESS, NULL);
    check_url_is("http://0.0.0.0:8080/", false, false, NET_REFUSED_ADDRESS,
                 "host 0.0.0.0 is an unspecified address");
    check_url_is("https://192.168.1.1/", false, true, NET_REFUSED_ADDRESS, NULL);
    /* other spellings of 127.0.0.1 */
    check_url_is("http://127.1/", false, false, NET_REFUSED_ADDRESS, NULL);
    check_url_is("http://2130706433/", false, false, NET_REFUSED_ADDRESS, NULL);
    check_url_is("http://0x7f.0.0.1/", false, false, NET_REFUSED_ADDRESS, NULL);
    check_url_is("http://%31%32%37.0.0.1/", false, false, NET_REFUSED_ADDRESS, NULL);
    /* a name: localhost resolves to loopback through /etc/hosts */
    char why[256];
    assert_int_equal(net_check_url("http://localhost/", false, false, why, sizeof why),
                     NET_REFUSED_ADDRESS);
    assert_non_null(strstr(why, "host localhost resolves to "));
    assert_non_null(strstr(why, "a loopback address"));
    assert_int_equal(net_check_url("http://LocalHost:8080/x", false, false, why, sizeof why),
                     NET_REFUSED_ADDRESS);
    /* allowed in the sandbox */
    check_url_is("http://127.0.0.1/", true, false, NET_OK, NULL);
    check_url_is("http://10.0.0.1/", true, false, NET_OK, NULL);
    check_url_is("http://169.254.169.254/latest/meta-data", true, false, NET_OK, NULL);
    check_url_is("http://[::1]:8080/x", true, false, NET_OK, NULL);
    check_url_is("http://localhost/", true, false, NET_OK, NULL);
    /* https_only still applies in the sandbox */
    check_url_is("http://localhost/", true, true, NET_BAD_URL, "https is required");
    /* why may be left out */
    assert_int_equal(net_check_url("http://10.0.0.1/", false, false, NULL, 0), NET_REFUSED_ADDRESS);
}

/* ---- live transfers ------------------------------------------------------------ */

static void test_get(void **state)
{
    struct net_response r;
    get("/hello", 0, &r);
    assert_int_equal(r.error, NET_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(r.body);
    assert_int_equal(r.body_len, 11);
    assert_string_equal(r.body, "hello world");
    assert_string_equal(r.content_type, "text/plain; charset=utf-8");
    assert_string_equal(r.ip, "127.0.0.1");
    assert_string_equal(r.message, "");
    assert_true(r.seconds > 0 && r.seconds < 5);
    net_response_free(&r);
    assert_null(r.body);
    net_response_free(&r); /* twice is fine */
    net_response_free(NULL);

    pthread_mutex_lock(&server.mu);
    assert_string_equal(server.method, "GET");
    assert_string_equal(server.path, "/hello");
    assert_non_null(strstr(server.headers, "User-Agent: chatpay-test/1\r\n"));
    assert_non_null(strstr(server.headers, "Host: 127.0.0.1:"));
    pthread_mutex_unlock(&server.mu);

    /* any status is a response */
    get("/status500", 0, &r);
    assert_int_equal(r.error, NET_OK);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "boom");
    assert_string_equal(r.content_type, "");
    net_response_free(&r);

    /* no body: "" all the same */
    get("/empty", 0, &r);
    assert_int_equal(r.error, NET_OK);
    assert_int_equal(r.status, 204);
    assert_non_null(r.body);
    assert_string_equal(r.body, "");
    assert_int_equal(r.body_len, 0);
    net_response_free(&r);
}

static void test_post_headers_body(void **state)
{
    static const char body[] = "{\"a\":1}\0binary\xff";
    const struct net_header headers[] = {
        {"Content-Type", "application/json"},
        {"Authorization", "Bearer s3cr3t"},
        {"X-Test", "abc def"},
        {"X-Empty", ""},
    };
    char url[128];
    url_of(&server, "/echo?q=1", url, sizeof url);
    struct net_request rq = {.method = "POST",
                             .url = url,
                             .headers = headers,
                             .nheaders = 4,
                             .body = body,
                             .body_len = sizeof body - 1,
                             .allow_private = true};
    struct net_response r;
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok");
    net_response_free(&r);

    pthread_mutex_lock(&server.mu);
    assert_string_equal(server.method, "POST");
    assert_string_equal(server.path, "/echo?q=1");
    assert_int_equal(server.body_len, sizeof body - 1);
    assert_memory_equal(server.body, body, sizeof body - 1);
    assert_non_null(strstr(server.headers, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(server.headers, "Authorization: Bearer s3cr3t\r\n"));
    assert_non_null(strstr(server.headers, "X-Test: abc def\r\n"));
    assert_non_null(strstr(server.headers, "X-Empty:"));
    assert_null(strstr(server.headers, "form-urlencoded"));
    assert_null(strcasestr(server.headers, "Expect:"));
    pthread_mutex_unlock(&server.mu);

    /* the other methods */
    static const char *const methods[] = {"PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < 3; i++) {
        rq.method = methods[i];
        net_perform(shared_net, &rq, &r);
        assert_int_equal(r.error, NET_OK);
        net_response_free(&r);
        pthread_mutex_lock(&server.mu);
        assert_string_equal(server.method, methods[i]);
        assert_int_equal(server.body_len, sizeof body - 1);
        pthread_mutex_unlock(&server.mu);
    }
    /* DELETE and POST without a body */
    rq.body = NULL;
    rq.body_len = 0;
    rq.method = "DELETE";
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_OK);
    net_response_free(&r);
    pthread_mutex_lock(&server.mu);
    assert_string_equal(server.method, "DELETE");
    assert_int_equal(server.body_len, 0);
    pthread_mutex_unlock(&server.mu);
    rq.method = "POST";
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_OK);
    net_response_free(&r);
    pthread_mutex_lock(&server.mu);
    assert_string_equal(server.method, "POST");
    assert_non_null(strstr(server.headers, "Content-Length: 0\r\n"));
    pthread_mutex_unlock(&server.mu);
    assert_int_equal(srv_get(&server, &server.requests), 6);
}

static void test_bad_requests(void **state)
{
    char url[128];
    url_of(&server, "/echo", url, sizeof url);
    struct net_response r;
    struct net_request rq = {.url = url, .allow_private = true};

    rq.method = "PROPFIND";
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_FAILED);
    assert_non_null(strstr(r.message, "PROPFIND"));
    assert_non_null(r.body);
    net_response_free(&r);

    rq.method = "GET";
    rq.body = "x";
    rq.body_len = 1;
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_FAILED);
    net_response_free(&r);
    rq.body = NULL;
    net_perform(shared_net, &rq, &r); /* body_len without a body */
    assert_int_equal(r.error, NET_FAILED);
    assert_string_equal(r.message, "body is NULL but body_len is 1");
    net_response_free(&r);
    rq.body_len = 0;

    const struct net_header crlf[] = {{"X-Evil", "a\r\nHost: evil.example"}};
    rq.headers = crlf;
    rq.nheaders = 1;
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_FAILED);
    assert_string_equal(r.message, "header 0 has an invalid value");
    net_response_free(&r);
    static const char *const badnames[] = {
        "X Evil", "", "X:Y", "Host", "content-length", "Transfer-Encoding", "X\xc3\xa9"};
    for (size_t i = 0; i < sizeof badnames / sizeof badnames[0]; i++) {
        const struct net_header bad[] = {{"X-Fine", "1"}, {badnames[i], "a"}};
        rq.headers = bad;
        rq.nheaders = 2;
        net_perform(shared_net, &rq, &r);
        assert_int_equal(r.error, NET_FAILED);
        assert_string_equal(r.message, "header 1 has an invalid or reserved name");
        net_response_free(&r);
    }
    rq.headers = NULL;
    rq.nheaders = 0;

    rq.url = "ftp://127.0.0.1/";
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_BAD_URL);
    net_response_free(&r);
    rq.url = "http://";
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_BAD_URL);
    net_response_free(&r);

    rq.url = url;
    net_perform(NULL, &rq, &r);
    assert_int_equal(r.error, NET_FAILED);
    net_response_free(&r);

    /* a cancel flag already set: nothing is sent */
    _Atomic bool cancel = true;
    rq.cancel = &cancel;
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_CANCELLED);
    net_response_free(&r);

    sleep_ms(50);
    assert_int_equal(srv_get(&server, &server.accepted), 0);
}

static void test_redirect_not_followed(void **state)
{
    struct net_response r;
    get("/redirect", 0, &r);
    assert_int_equal(r.error, NET_OK);
    assert_int_equal(r.status, 302);
    assert_string_equal(r.body, "");
    net_response_free(&r);
    sleep_ms(50);
    assert_int_equal(srv_get(&server, &server.requests), 1);
    assert_int_equal(srv_get(&server, &server.accepted), 1);
}

static void test_too_large(void **state)
{
    struct net_response r;
    get("/big", 1000, &r); /* Content-Length above the cap */
    assert_int_equal(r.error, NET_TOO_LARGE);
    assert_non_null(strstr(r.message, "1000"));
    assert_string_equal(r.body, "");
    assert_int_equal(r.body_len, 0);
    net_response_free(&r);

    get("/stream", 1000, &r); /* no length: cut while reading */
    assert_int_equal(r.error, NET_TOO_LARGE);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    net_response_free(&r);

    get("/big", 0, &r); /* the default cap, 64 KiB */
    assert_int_equal(r.error, NET_TOO_LARGE);
    net_response_free(&r);

    get("/stream", BIG, &r); /* exactly the cap */
    assert_int_equal(r.error, NET_OK);
    assert_int_equal(r.body_len, BIG);
    assert_int_equal(strlen(r.body), BIG);
    assert_int_equal(r.body[0], 'x');
    assert_int_equal(r.body[BIG - 1], 'x');
    net_response_free(&r);
}

static void test_timeout(void **state)
{
    char url[128];
    url_of(&server, "/hang", url, sizeof url);
    struct net_request rq = {.url = url, .allow_private = true, .timeout_ms = 300};
    struct net_response r;
    double t0 = now_s();
    net_perform(shared_net, &rq, &r);
    double took = now_s() - t0;
    assert_int_equal(r.error, NET_TIMEOUT);
    assert_int_equal(r.status, 0);
    assert_true(r.message[0] != '\0');
    assert_true(took >= 0.29 && took < 1.0);
    assert_true(r.seconds >= 0.29 && r.seconds < 1.0);
    net_response_free(&r);
}

static void test_connect_refused(void **state)
{
    /* a port nobody listens on: bound, then closed */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sl), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    struct net_request rq = {.url = url, .allow_private = true, .timeout_ms = 3000};
    struct net_response r;
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_CONNECT);
    assert_true(r.message[0] != '\0');
    assert_true(r.seconds < 2.0);
    net_response_free(&r);
}

static void test_refused_address(void **state)
{
    char url[128];
    url_of(&server, "/hello", url, sizeof url);
    struct net_request rq = {.url = url}; /* allow_private false */
    struct net_response r;
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_REFUSED_ADDRESS);
    assert_string_equal(r.message, "host 127.0.0.1 is a loopback address");
    assert_string_equal(r.body, "");
    assert_string_equal(r.ip, "");
    net_response_free(&r);

    snprintf(url, sizeof url, "http://localhost:%d/hello", server.port);
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_REFUSED_ADDRESS);
    net_response_free(&r);

    snprintf(url, sizeof url, "http://[::1]:%d/hello", server.port);
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_REFUSED_ADDRESS);
    net_response_free(&r);

    sleep_ms(50);
    assert_int_equal(srv_get(&server, &server.accepted), 0);
}

/* A name, not an address: resolved here and pinned for libcurl. */
static void test_name_pinned(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "http://localhost:%d/hello", server.port);
    struct net_request rq = {.url = url, .allow_private = true};
    struct net_response r;
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello world");
    assert_string_equal(r.ip, "127.0.0.1");
    net_response_free(&r);
    pthread_mutex_lock(&server.mu);
    assert_non_null(strstr(server.headers, "Host: localhost:"));
    pthread_mutex_unlock(&server.mu);
}

static void test_tls_failure(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/hello", server.port);
    struct net_request rq = {.url = url, .allow_private = true, .timeout_ms = 3000};
    struct net_response r;
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_TLS);
    assert_true(r.message[0] != '\0');
    net_response_free(&r);
}

static void test_ipv6_literal(void **state)
{
    struct srv s6;
    if (!srv_start(&s6, true)) {
        print_message("no IPv6 loopback here: skipped\n");
        skip();
    }
    char url[128];
    url_of(&s6, "/echo", url, sizeof url);
    struct net_request rq = {.url = url, .allow_private = true};
    struct net_response r;
    net_perform(shared_net, &rq, &r);
    assert_int_equal(r.error, NET_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ip, "::1");
    net_response_free(&r);
    pthread_mutex_lock(&s6.mu);
    assert_non_null(strstr(s6.headers, "Host: [::1]:"));
    pthread_mutex_unlock(&s6.mu);
    srv_stop(&s6);
}

struct canceller {
    _Atomic bool *flag;
    unsigned after_ms;
};

static void *cancel_main(void *arg)
{
    struct canceller *c = arg;
    sleep_ms(c->after_ms);
    atomic_store(c->flag, true);
    return NULL;
}

static void test_cancel(void **state)
{
    char url[128];
    url_of(&server, "/hang", url, sizeof url);
    _Atomic bool flag = false;
    struct net_request rq = {
        .url = url, .allow_private = true, .timeout_ms = 5000, .cancel = &flag};
    struct canceller c = {.flag = &flag, .after_ms = 200};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_main, &c), 0);
    struct net_response r;
    double t0 = now_s();
    net_perform(shared_net, &rq, &r);
    double took = now_s() - t0;
    pthread_join(th, NULL);
    assert_int_equal(r.error, NET_CANCELLED);
    assert_string_equal(r.message, "cancelled");
    assert_true(took >= 0.19 && took < 1.0);
    net_response_free(&r);
    assert_int_equal(srv_get(&server, &server.accepted), 1);
}

struct call {
    struct net *n;
    struct net_request rq;
    struct net_response r;
};

static void *call_main(void *arg)
{
    struct call *c = arg;
    net_perform(c->n, &c->rq, &c->r);
    return NULL;
}

static void test_concurrency(void **state)
{
    enum { CALLS = 20 };
    char err[256];
    struct net_config cfg = {.user_agent = "chatpay-test/1", .max_per_host = 4};
    struct net *n = net_start(&cfg, err, sizeof err);
    assert_non_null(n);
    char url[128];
    url_of(&server, "/slow", url, sizeof url);
    struct call calls[CALLS];
    pthread_t th[CALLS];
    double t0 = now_s();
    for (int i = 0; i < CALLS; i++) {
        calls[i] = (struct call){.n = n, .rq = {.url = url, .allow_private = true}};
        assert_int_equal(pthread_create(&th[i], NULL, call_main, &calls[i]), 0);
    }
    for (int i = 0; i < CALLS; i++)
        pthread_join(th[i], NULL);
    double took = now_s() - t0;
    for (int i = 0; i < CALLS; i++) {
        if (calls[i].r.error != NET_OK)
            fail_msg("call %d: %s (%s)", i, net_error_name(calls[i].r.error), calls[i].r.message);
        assert_int_equal(calls[i].r.status, 200);
        assert_string_equal(calls[i].r.body, "slow");
        net_response_free(&calls[i].r);
    }
    int most = srv_get(&server, &server.max_active);
    assert_int_equal(srv_get(&server, &server.requests), CALLS);
    assert_true(most >= 1 && most <= 4);
    assert_true(took >= 1.0 && took < 5.0);
    net_stop(n);
}

/* A transfer waiting for a connection still ends at its timeout. */
static void test_queued_timeout(void **state)
{
    char err[256];
    struct net_config cfg = {.max_per_host = 1};
    struct net *n = net_start(&cfg, err, sizeof err);
    assert_non_null(n);
    char hang[128], hello[128];
    url_of(&server, "/hang", hang, sizeof hang);
    url_of(&server, "/hello", hello, sizeof hello);
    struct call first = {.n = n, .rq = {.url = hang, .allow_private = true, .timeout_ms = 1500}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, call_main, &first), 0);
    assert_true(srv_wait_accepted(&server, 1, 2000));
    struct net_request rq = {.url = hello, .allow_private = true, .timeout_ms = 300};
    struct net_response r;
    double t0 = now_s();
    net_perform(n, &rq, &r);
    double took = now_s() - t0;
    assert_int_equal(r.error, NET_TIMEOUT);
    assert_true(took >= 0.29 && took < 1.0);
    net_response_free(&r);
    pthread_join(th, NULL);
    assert_int_equal(first.r.error, NET_TIMEOUT);
    net_response_free(&first.r);
    assert_int_equal(srv_get(&server, &server.accepted), 1);
    net_stop(n);
}

static void test_stop_in_flight(void **state)
{
    char err[256];
    struct net *n = net_start(NULL, err, sizeof err);
    assert_non_null(n);
    char url[128];
    url_of(&server, "/hang", url, sizeof url);
    struct call c = {.n = n, .rq = {.url = url, .allow_private = true, .timeout_ms = 10000}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, call_main, &c), 0);
    assert_true(srv_wait_accepted(&server, 1, 2000));
    double t0 = now_s();
    net_stop(n);
    double took = now_s() - t0;
    pthread_join(th, NULL);
    assert_true(took < 1.0);
    assert_int_equal(c.r.error, NET_CANCELLED);
    assert_true(c.r.seconds < 3.0);
    net_response_free(&c.r);
    net_stop(NULL);
}

static void test_start_stop(void **state)
{
    char err[256];
    for (int i = 0; i < 3; i++) {
        struct net_config cfg = {.user_agent = "", .max_per_host = 1, .max_total = 2};
        struct net *n = net_start(&cfg, err, sizeof err);
        assert_non_null(n);
        assert_string_equal(err, "");
        net_stop(n);
    }
}

int main(void)
{
    /* a watchdog: nothing here may take this long */
    alarm(60);
    signal(SIGPIPE, SIG_IGN);
    /* proxies from the environment must be ignored: were they used, every
     * live test would fail (nothing listens on port 9) */
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("https_proxy", "http://127.0.0.1:9", 1);
    setenv("all_proxy", "http://127.0.0.1:9", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_addresses_refused),
        cmocka_unit_test(test_addresses_allowed),
        cmocka_unit_test(test_address_classes),
        cmocka_unit_test(test_check_url_bad),
        cmocka_unit_test(test_check_url_https_only),
        cmocka_unit_test(test_check_url_private),
        cmocka_unit_test(test_start_stop),
        cmocka_unit_test_setup_teardown(test_get, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_post_headers_body, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_redirect_not_followed, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_too_large, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_refused_address, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_name_pinned, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_tls_failure, server_setup, server_teardown),
        cmocka_unit_test(test_ipv6_literal),
        cmocka_unit_test_setup_teardown(test_cancel, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_concurrency, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_queued_timeout, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_stop_in_flight, server_setup, server_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
