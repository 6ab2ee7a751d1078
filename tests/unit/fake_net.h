/*
 * fake_net.h — the fake transport of the gateway adapters' unit tests:
 * included after the adapter's .c, it replaces its `perform` (net_perform)
 * with one that records each request (struct seen) and answers the next of
 * the answers queued with fake_add / fake_add_full / fake_fail.
 */
#ifndef CHATPAY_TESTS_FAKE_NET_H
#define CHATPAY_TESTS_FAKE_NET_H

#define MAX_SEEN 8

struct seen {
    char method[8], url[512], body[4096], want[64];
    bool has_body;
    size_t nheaders;
    char hname[8][64], hval[8][512];
    unsigned timeout_ms;
    bool allow_private, has_cancel;
};

struct answer {
    enum net_error error;
    int status;
    const char *body;
    bool sent;
    const char *header;      /* the want_header's value ("Stripe-Should-Retry") */
    const char *retry_after; /* Retry-After */
};

static struct {
    struct seen seen[MAX_SEEN];
    size_t nseen;
    struct answer answers[MAX_SEEN];
    unsigned delay_ms[MAX_SEEN]; /* how long the transfer of answer i takes */
    size_t nanswers, next;
} fake;

static inline void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
}

static void fake_perform(struct net *n, const struct net_request *rq, struct net_response *out);

static inline void fake_use(void)
{
    fake_reset();
    perform = fake_perform;
}

static inline void fake_add(int status, const char *body)
{
    assert_true(fake.nanswers < MAX_SEEN);
    fake.answers[fake.nanswers++] = (struct answer){NET_OK, status, body, true, NULL, NULL};
}

static inline void fake_add_full(struct answer a)
{
    assert_true(fake.nanswers < MAX_SEEN);
    fake.answers[fake.nanswers++] = a;
}

static void fake_perform(struct net *n, const struct net_request *rq, struct net_response *out)
{
    assert_true(fake.nseen < MAX_SEEN);
    struct seen *s = &fake.seen[fake.nseen++];
    snprintf(s->method, sizeof s->method, "%s", rq->method ? rq->method : "GET");
    snprintf(s->url, sizeof s->url, "%s", rq->url);
    s->has_body = rq->body != NULL;
    assert_true(rq->body_len < sizeof s->body);
    if (rq->body)
        memcpy(s->body, rq->body, rq->body_len);
    s->body[rq->body_len] = '\0';
    snprintf(s->want, sizeof s->want, "%s", rq->want_header ? rq->want_header : "");
    assert_true(rq->nheaders <= 8);
    s->nheaders = rq->nheaders;
    for (size_t i = 0; i < rq->nheaders; i++) {
        snprintf(s->hname[i], sizeof s->hname[i], "%s", rq->headers[i].name);
        snprintf(s->hval[i], sizeof s->hval[i], "%s", rq->headers[i].value);
    }
    s->timeout_ms = rq->timeout_ms;
    s->allow_private = rq->allow_private;
    s->has_cancel = rq->cancel != NULL;

    memset(out, 0, sizeof *out);
    assert_true(fake.next < fake.nanswers);
    unsigned delay_ms = fake.delay_ms[fake.next];
    const struct answer *a = &fake.answers[fake.next++];
    if (delay_ms) {
        struct timespec ts = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    out->error = a->error;
    out->status = a->status;
    out->sent = a->error == NET_OK ? true : a->sent;
    const char *body = a->error == NET_OK && a->body ? a->body : "";
    out->body = strdup(body);
    out->body_len = strlen(body);
    snprintf(out->header, sizeof out->header, "%s", a->header ? a->header : "");
    snprintf(out->retry_after, sizeof out->retry_after, "%s", a->retry_after ? a->retry_after : "");
    if (a->error != NET_OK)
        snprintf(out->message, sizeof out->message, "fake %s", net_error_name(a->error));
}

/* A request header as sent, NULL when absent. */
static inline const char *sent_header(const struct seen *s, const char *name)
{
    for (size_t i = 0; i < s->nheaders; i++)
        if (strcasecmp(s->hname[i], name) == 0)
            return s->hval[i];
    return NULL;
}

/* The answer queued last takes ms milliseconds to come. */
static inline void fake_delay_last(unsigned ms)
{
    assert_true(fake.nanswers > 0);
    fake.delay_ms[fake.nanswers - 1] = ms;
}

/* A transfer that fails (e: the error; sent: the request went out first). */
static inline void fake_fail(enum net_error e, bool sent)
{
    assert_true(fake.nanswers < MAX_SEEN);
    fake.answers[fake.nanswers++] = (struct answer){e, 0, NULL, sent, NULL, NULL};
}

#endif
