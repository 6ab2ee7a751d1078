/*
 * guard.c — slow and idle clients do not hold the server's connections.
 *
 * libmicrohttpd closes a connection only after `connection_timeout` seconds
 * without a byte: a client that trickles its headers one line every few
 * seconds keeps its connection for ever, and a few thousand of them fill
 * every slot. The guard follows each connection through its phases,
 *
 *   HEAD  waiting for the request line and headers (since the connection
 *         opened, or since the previous response on it was sent)
 *   BODY  receiving the body (bytes counted)
 *   BUSY  being answered
 *
 * and a thread closes, ten times a second:
 *   - a connection in HEAD for longer than header_timeout;
 *   - a connection in BODY for longer than header_timeout that has received
 *     less than body_min_rate bytes per second since its body began;
 *   - when the server is near its connection limit (GUARD_PRESSURE), every
 *     connection that has been in HEAD for more than GUARD_PRESSURE_IDLE: a
 *     real client sends its request at once, so these are the slow ones
 *     (or idle keep-alive connections, which their clients simply open
 *     again), and the slots they free let the server take the connections
 *     waiting in its listen queue, new clients among them.
 *
 * While the server drains (guard_drain(), on SIGTERM), it also closes
 *   - a connection idle between requests for GUARD_DRAIN_IDLE: nothing has
 *     come of its next request (no request line, no byte waiting on the
 *     socket). Its client sees a closed connection before it sends, and
 *     opens another (to a node still serving, behind a load balancer). One
 *     in use is left the time to send its next request, which is answered
 *     with "Connection: close": closing it at once would cut off a request
 *     sent at that moment, which a client does not retry when it is a POST;
 *   - a connection whose body has not moved for GUARD_DRAIN_STALLED: its
 *     client has most likely gone;
 * so that the drain ends when the last connection closes.
 *
 * Closing is shutdown(2) of the socket, which libmicrohttpd then sees and
 * cleans up itself. The guard's mutex is held from finding a connection to
 * its shutdown, and libmicrohttpd tells the guard that a connection closes
 * (NOTIFY_CLOSED, under the same mutex) before it closes the descriptor, so
 * a descriptor number is never shut down after it was reused.
 */
#include "http/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util/log.h"
#include "util/thread.h"

enum { GUARD_TICK_MS = 100 };
/* near the limit: this share of max_connections is open (percent) */
enum { GUARD_PRESSURE = 75 };
/* under pressure, a connection that waited this long for its request is closed */
#define GUARD_PRESSURE_IDLE (250LL * 1000)
/* while draining: idle this long, a connection is closed (µs) */
#define GUARD_DRAIN_IDLE (100LL * 1000)
/* while draining: a body without a byte for this long, the connection is closed (µs) */
#define GUARD_DRAIN_STALLED (2LL * 1000000)

enum phase { PHASE_HEAD, PHASE_BODY, PHASE_BUSY };

struct guard_conn {
    struct guard_conn *prev, *next;
    int fd;
    _Atomic int phase;     /* enum phase */
    _Atomic int64_t since; /* monotonic µs the phase began */
    _Atomic uint64_t body; /* body bytes received in BODY */
    _Atomic int64_t moved; /* monotonic µs of the latest body bytes (or BODY's start) */
    _Atomic bool line;     /* in HEAD: the next request's line has come */
    char *query;           /* the query of the request being read, as sent */
};

struct conn_guard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct guard_conn *head;
    unsigned count;
    uint64_t begun; /* connections reported started, ever */
    unsigned max_connections;
    int64_t header_timeout_us;
    uint64_t body_min_rate; /* bytes per second; 0: no minimum */
    bool stop;
    _Atomic bool draining; /* close idle and stalled connections (guard_drain) */
    pthread_t thread;
    bool started;
};

static void set_phase(struct guard_conn *c, enum phase p)
{
    int64_t now = time_mono();
    atomic_store(&c->since, now);
    atomic_store(&c->moved, now);
    atomic_store(&c->phase, (int)p);
}

void guard_notify_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
    struct conn_guard *g = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct guard_conn *c = calloc(1, sizeof *c);
        *socket_context = c;
        if (c) {
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
            c->fd = ci ? ci->connect_fd : -1;
            set_phase(c, PHASE_HEAD);
        }
        pthread_mutex_lock(&g->mu);
        g->begun++;
        if (c) {
            c->next = g->head;
            if (g->head)
                g->head->prev = c;
            g->head = c;
            g->count++;
        }
        pthread_mutex_unlock(&g->mu);
        return;
    }
    struct guard_conn *c = *socket_context;
    if (!c)
        return;
    pthread_mutex_lock(&g->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g->count--;
    pthread_mutex_unlock(&g->mu);
    *socket_context = NULL;
    free(c->query);
    free(c);
}

struct guard_conn *guard_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void guard_keep_query(struct guard_conn *c, const char *query)
{
    if (!c)
        return;
    atomic_store(&c->line, true);
    free(c->query);
    c->query = query ? strdup(query) : NULL;
}

char *guard_take_query(struct guard_conn *c)
{
    if (!c)
        return NULL;
    char *q = c->query;
    c->query = NULL;
    return q;
}

void guard_request_begins(struct guard_conn *c, bool has_body)
{
    if (!c)
        return;
    atomic_store(&c->body, 0);
    set_phase(c, has_body ? PHASE_BODY : PHASE_BUSY);
}

void guard_body_bytes(struct guard_conn *c, size_t n)
{
    if (!c)
        return;
    atomic_fetch_add(&c->body, n);
    atomic_store(&c->moved, time_mono());
}

void guard_request_dispatched(struct guard_conn *c)
{
    if (c && atomic_load(&c->phase) != PHASE_BUSY)
        set_phase(c, PHASE_BUSY);
}

void guard_request_done(struct guard_conn *c)
{
    if (!c)
        return;
    atomic_store(&c->line, false);
    set_phase(c, PHASE_HEAD); /* keep-alive: waiting for the next request */
}

/* Has the client sent bytes that libmicrohttpd has not read yet (the
 * start of its next request)? */
static bool bytes_waiting(int fd)
{
    char b;
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Why a connection is closed. */
enum close_why {
    KEEP,
    CLOSE_HEADER_TIMEOUT,
    CLOSE_BODY_MIN_RATE,
    CLOSE_PRESSURE,
    CLOSE_DRAIN_IDLE,
    CLOSE_DRAIN_STALLED,
    CLOSE_WHYS
};

/* Why connection c should be closed now, or KEEP. */
static enum close_why verdict(const struct conn_guard *g, struct guard_conn *c, int64_t now,
                              bool pressure)
{
    int64_t age = now - atomic_load(&c->since);
    bool draining = atomic_load(&g->draining);
    switch ((enum phase)atomic_load(&c->phase)) {
    case PHASE_HEAD:
        if (age > g->header_timeout_us)
            return CLOSE_HEADER_TIMEOUT;
        if (pressure && age > GUARD_PRESSURE_IDLE)
            return CLOSE_PRESSURE;
        if (draining && age > GUARD_DRAIN_IDLE && !atomic_load(&c->line) && !bytes_waiting(c->fd))
            return CLOSE_DRAIN_IDLE;
        return KEEP;
    case PHASE_BODY:
        if (g->body_min_rate && age > g->header_timeout_us &&
            atomic_load(&c->body) < g->body_min_rate * (uint64_t)(age / 1000000))
            return CLOSE_BODY_MIN_RATE;
        if (draining && now - atomic_load(&c->moved) > GUARD_DRAIN_STALLED)
            return CLOSE_DRAIN_STALLED;
        return KEEP;
    case PHASE_BUSY:
        return KEEP;
    }
    return KEEP;
}

static void sweep(struct conn_guard *g)
{
    int64_t now = time_mono();
    unsigned closed[CLOSE_WHYS] = {0};
    pthread_mutex_lock(&g->mu);
    bool pressure = (uint64_t)g->count * 100 >= (uint64_t)g->max_connections * GUARD_PRESSURE;
    for (struct guard_conn *c = g->head; c; c = c->next) {
        enum close_why why = c->fd >= 0 ? verdict(g, c, now, pressure) : KEEP;
        if (why == KEEP)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        /* not again until libmicrohttpd has cleaned it up */
        set_phase(c, PHASE_BUSY);
        closed[why]++;
    }
    unsigned open = g->count;
    pthread_mutex_unlock(&g->mu);
    if (closed[CLOSE_DRAIN_IDLE] || closed[CLOSE_DRAIN_STALLED])
        log_fields(LOG_INFO, "draining: connections closed",
                   (struct log_field[]){LFI("idle", closed[CLOSE_DRAIN_IDLE]),
                                        LFI("stalled_upload", closed[CLOSE_DRAIN_STALLED]),
                                        LFI("open", open)},
                   3);
    if (closed[CLOSE_HEADER_TIMEOUT] || closed[CLOSE_BODY_MIN_RATE] || closed[CLOSE_PRESSURE])
        log_fields(LOG_WARN, "slow connections closed",
                   (struct log_field[]){LFI("header_timeout", closed[CLOSE_HEADER_TIMEOUT]),
                                        LFI("body_min_rate", closed[CLOSE_BODY_MIN_RATE]),
                                        LFI("near_limit", closed[CLOSE_PRESSURE]),
                                        LFI("open", open)},
                   4);
}

static void *guard_thread(void *arg)
{
    struct conn_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec ts = thread_deadline_mono(GUARD_TICK_MS);
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        if (g->stop)
            break;
        pthread_mutex_unlock(&g->mu);
        sweep(g);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

struct conn_guard *guard_new(unsigned max_connections, unsigned header_timeout_s,
                             unsigned body_min_rate)
{
    struct conn_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    pthread_mutex_init(&g->mu, NULL);
    thread_cond_init_mono(&g->cv);
    g->max_connections = max_connections ? max_connections : 1;
    g->header_timeout_us = (int64_t)header_timeout_s * 1000000;
    g->body_min_rate = body_min_rate;
    return g;
}

void guard_counts(struct conn_guard *g, unsigned *open, uint64_t *started)
{
    pthread_mutex_lock(&g->mu);
    *open = g->count;
    *started = g->begun;
    pthread_mutex_unlock(&g->mu);
}

void guard_drain(struct conn_guard *g)
{
    pthread_mutex_lock(&g->mu);
    atomic_store(&g->draining, true);
    pthread_cond_broadcast(&g->cv); /* the idle ones go now, not at the next tick */
    pthread_mutex_unlock(&g->mu);
}

bool guard_start(struct conn_guard *g)
{
    g->started = pthread_create(&g->thread, NULL, guard_thread, g) == 0;
    return g->started;
}

void guard_free(struct conn_guard *g)
{
    if (!g)
        return;
    if (g->started) {
        pthread_mutex_lock(&g->mu);
        g->stop = true;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
    }
    /* the daemon is stopped: every connection has been reported closed */
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
