/*
 * acceptor.c — the listening socket, and the thread that takes new
 * connections off it and hands them to libmicrohttpd's threads.
 *
 * Why not libmicrohttpd's own listening socket and epoll loop: that loop
 * (0.9.75, and still in later versions) reads at most 128 events per
 * epoll_wait and, when it got exactly 128, waits again with its full
 * timeout, up to the connection timeout, before answering any of them. A
 * thread whose connections all have a request waiting, 128 or 256 of them,
 * stalls until some other event arrives (tests/api/test_event_loop.py): a
 * load test with 256 connections, split 128 and 128 over two threads, got a
 * few hundred answers per second instead of tens of thousands. The server
 * therefore runs libmicrohttpd's poll loop, which has no such batch; but
 * that loop accepts one connection per round, so a thousand clients
 * connecting at once would wait hundreds of rounds, a second and more.
 *
 * So libmicrohttpd has no listening socket (MHD_USE_NO_LISTEN_SOCKET; in
 * 0.9.75 its thread pool works with it, whatever its header says), and
 * this thread accepts every connection waiting and hands it over with
 * MHD_add_connection(), which gives the pool's threads one each in turn.
 *
 * The connection limit is kept here: at max_connections open (the guard's
 * count) plus handed over and not yet started, nothing more is accepted and
 * new clients wait in the listen queue until a connection closes, as they
 * did with libmicrohttpd's own accept. libmicrohttpd's limit is set above
 * it (server.c), so a thread of its pool never refuses a connection this
 * thread handed over. The per-address limit stays libmicrohttpd's. (A
 * connection libmicrohttpd drops before it starts, for want of memory,
 * would stay counted as handed over: one slot fewer.)
 */
#include "http/internal.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

/* The listen queue; Linux caps it at net.core.somaxconn (4096 by default
 * since 5.4). */
enum { LISTEN_BACKLOG = 4096 };
/* Out of descriptors, or at the connection limit: look again after (ms). */
enum { ACCEPT_RETRY_MS = 10, ACCEPT_BACKOFF_MS = 100 };

struct acceptor {
    int fd;      /* the listening socket; -1 once closed */
    int stop_fd; /* eventfd: readable once the thread is to end */
    struct MHD_Daemon *daemon;
    struct conn_guard *guard;
    unsigned max_connections;
    uint64_t handed; /* connections handed to libmicrohttpd, ever */
    pthread_t thread;
    bool running;
};

struct acceptor *acceptor_listen(const struct sockaddr *addr, socklen_t len)
{
    struct acceptor *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->stop_fd = -1;
    a->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    if (a->fd < 0 || setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        (addr->sa_family == AF_INET6 &&
         setsockopt(a->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) ||
        bind(a->fd, addr, len) != 0 || listen(a->fd, LISTEN_BACKLOG) != 0) {
        if (a->fd >= 0)
            close(a->fd);
        free(a);
        return NULL;
    }
    return a;
}

/* Read by another thread only once this one has ended (acceptor_close). */
unsigned acceptor_connections(const struct acceptor *a)
{
    unsigned open;
    uint64_t started;
    guard_counts(a->guard, &open, &started);
    uint64_t busy = open + (a->handed > started ? a->handed - started : 0);
    return busy < UINT_MAX ? (unsigned)busy : UINT_MAX;
}

/* How many more connections may be accepted now. */
static unsigned room(const struct acceptor *a)
{
    unsigned busy = acceptor_connections(a);
    return busy < a->max_connections ? a->max_connections - busy : 0;
}

/* Accept what is waiting, while there is room. Returns how long to wait
 * before looking again without the listening socket (ms), or -1 to wait
 * for it. */
static int accept_waiting(struct acceptor *a)
{
    unsigned left = 0;
    for (;;) {
        if (left == 0 && (left = room(a)) == 0)
            return ACCEPT_RETRY_MS; /* full: new clients wait in the listen queue */
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd = accept4(a->fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return -1; /* nothing waiting */
            /* a connection that failed before it was taken (Linux reports
             * its network error here): the next one may be fine */
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == ENETDOWN ||
                errno == ENETUNREACH || errno == EHOSTDOWN || errno == EHOSTUNREACH ||
                errno == ENONET || errno == ENOPROTOOPT || errno == EOPNOTSUPP)
                continue;
            /* out of descriptors or memory, mostly: not in a tight loop */
            log_warn("http: cannot accept a connection: %s; trying again in %d ms", strerror(errno),
                     ACCEPT_BACKOFF_MS);
            return ACCEPT_BACKOFF_MS;
        }
        left--;
        /* refused by the per-address limit: libmicrohttpd has closed it */
        if (MHD_add_connection(a->daemon, fd, (struct sockaddr *)&addr, len) == MHD_YES)
            a->handed++;
    }
}

static void *acceptor_thread(void *arg)
{
    struct acceptor *a = arg;
    struct pollfd p[2] = {{.fd = a->stop_fd, .events = POLLIN}, {.fd = a->fd, .events = POLLIN}};
    int wait_ms = -1; /* -1: wait for the listening socket */
    for (;;) {
        int n = poll(p, wait_ms < 0 ? 2 : 1, wait_ms);
        if (n < 0 && errno != EINTR) {
            log_error("http: accepting connections: poll: %s", strerror(errno));
            return NULL;
        }
        if (n > 0 && p[0].revents)
            return NULL;
        wait_ms = accept_waiting(a);
    }
}

bool acceptor_start(struct acceptor *a, struct MHD_Daemon *daemon, struct conn_guard *guard,
                    unsigned max_connections)
{
    a->daemon = daemon;
    a->guard = guard;
    a->max_connections = max_connections;
    a->stop_fd = eventfd(0, EFD_CLOEXEC);
    a->running = a->stop_fd >= 0 && pthread_create(&a->thread, NULL, acceptor_thread, a) == 0;
    return a->running;
}

void acceptor_close(struct acceptor *a)
{
    if (!a)
        return;
    if (a->running) {
        uint64_t one = 1;
        while (write(a->stop_fd, &one, sizeof one) < 0 && errno == EINTR)
            ;
        pthread_join(a->thread, NULL);
        a->running = false;
    }
    if (a->stop_fd >= 0)
        close(a->stop_fd);
    a->stop_fd = -1;
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

void acceptor_free(struct acceptor *a)
{
    acceptor_close(a);
    free(a);
}
