/*
 * metrics.c — request counters and latency histograms, Prometheus text format.
 *
 * Labels are the route pattern (never a path with ids in it, never a
 * merchant id) and the status code. Counters are lock-free atomics indexed by
 * route and by a small table of status codes.
 */
#include "http/internal.h"

#include "revision.h"
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { METRICS_MAX_ROUTES = 64 };

/* Every status chatpay answers with (the error registry of core/errors.c,
 * the families' own tables, 202 for work still going on, 303 for the pages'
 * redirects, 499 for a client gone before its answer); anything else is
 * counted as "other". */
static const int status_codes[] = {200, 201, 202, 204, 303, 400, 401, 403, 404, 405,
                                   408, 409, 410, 413, 415, 422, 429, 499, 500, 503};
enum { NSTATUS = sizeof status_codes / sizeof status_codes[0], STATUS_OTHER = NSTATUS };

/* Histogram bucket upper bounds in seconds (+Inf is implicit). */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
enum { NBUCKETS = sizeof buckets / sizeof buckets[0] };

struct route_metrics {
    _Atomic uint64_t by_status[NSTATUS + 1];
    _Atomic uint64_t bucket[NBUCKETS + 1]; /* non-cumulative; last is +Inf */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t count;
};

static const struct route *metric_routes;
static size_t metric_nroutes;
/* one slot per route, plus one for requests that matched no route */
static struct route_metrics per_route[METRICS_MAX_ROUTES + 1];

void metrics_init(const struct route *routes, size_t n)
{
    metric_routes = routes;
    metric_nroutes = n < METRICS_MAX_ROUTES ? n : METRICS_MAX_ROUTES;
}

void metrics_observe(size_t route_index, int status, double seconds)
{
    struct route_metrics *m =
        &per_route[route_index < metric_nroutes ? route_index : METRICS_MAX_ROUTES];
    size_t s = STATUS_OTHER;
    for (size_t i = 0; i < NSTATUS; i++)
        if (status_codes[i] == status) {
            s = i;
            break;
        }
    atomic_fetch_add_explicit(&m->by_status[s], 1, memory_order_relaxed);
    size_t b = NBUCKETS;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= buckets[i]) {
            b = i;
            break;
        }
    atomic_fetch_add_explicit(&m->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

/* A growable text buffer in the arena. */
struct text {
    struct arena *a;
    char *buf;
    size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = t->cap * 2 + (size_t)n;
        char *nb = arena_alloc(t->a, ncap);
        memcpy(nb, t->buf, t->len);
        t->buf = nb;
        t->cap = ncap;
    }
}

static void route_label(size_t i, const char **method, const char **pattern)
{
    if (i < metric_nroutes) {
        *method = metric_routes[i].method;
        *pattern = metric_routes[i].pattern;
    } else {
        *method = "";
        *pattern = "(unmatched)";
    }
}

char *http_metrics_text(struct arena *a, size_t *len)
{
    struct text t = {.a = a, .cap = 16384};
    t.buf = arena_alloc(a, t.cap);
    put(&t,
        "# HELP chatpay_build_info Build information.\n"
        "# TYPE chatpay_build_info gauge\n"
        "chatpay_build_info{version=\"%s\",revision=\"%s\"} 1\n",
        CHATPAY_VERSION, CHATPAY_REVISION);
    put(&t, "# HELP chatpay_http_requests_total HTTP requests by route and status.\n"
            "# TYPE chatpay_http_requests_total counter\n");
    for (size_t i = 0; i <= METRICS_MAX_ROUTES; i++) {
        if (i >= metric_nroutes && i != METRICS_MAX_ROUTES)
            continue;
        const char *method, *pattern;
        route_label(i, &method, &pattern);
        for (size_t s = 0; s <= NSTATUS; s++) {
            uint64_t v = atomic_load_explicit(&per_route[i].by_status[s], memory_order_relaxed);
            if (!v)
                continue;
            if (s == STATUS_OTHER)
                put(&t,
                    "chatpay_http_requests_total{method=\"%s\",route=\"%s\",status=\"other\"} "
                    "%llu\n",
                    method, pattern, (unsigned long long)v);
            else
                put(&t,
                    "chatpay_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                    method, pattern, status_codes[s], (unsigned long long)v);
        }
    }
    put(&t, "# HELP chatpay_http_request_duration_seconds Time from request to reply.\n"
            "# TYPE chatpay_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= METRICS_MAX_ROUTES; i++) {
        if (i >= metric_nroutes && i != METRICS_MAX_ROUTES)
            continue;
        struct route_metrics *m = &per_route[i];
        uint64_t count = atomic_load_explicit(&m->count, memory_order_relaxed);
        if (!count)
            continue;
        const char *method, *pattern;
        route_label(i, &method, &pattern);
        uint64_t cum = 0;
        for (size_t b = 0; b <= NBUCKETS; b++) {
            cum += atomic_load_explicit(&m->bucket[b], memory_order_relaxed);
            if (b < NBUCKETS)
                put(&t,
                    "chatpay_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                    "le=\"%g\"} %llu\n",
                    method, pattern, buckets[b], (unsigned long long)cum);
            else
                put(&t,
                    "chatpay_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                    "le=\"+Inf\"} %llu\n",
                    method, pattern, (unsigned long long)cum);
        }
        put(&t,
            "chatpay_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
            "chatpay_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
            method, pattern, (double)atomic_load_explicit(&m->sum_us, memory_order_relaxed) / 1e6,
            method, pattern, (unsigned long long)cum);
    }
    *len = t.len;
    return t.buf;
}
