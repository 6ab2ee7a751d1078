/*
 * idempotency.c — the Idempotency-Key header on routes that create things.
 *
 * The first request with a key (per merchant) claims it; its reply is stored
 * with the key — by the handler inside its own transaction where it can
 * (http_idempotency_store), so that a crash cannot separate the effect from
 * the record. Later requests with the same key:
 *   same body, reply stored (within 24 h)  → the stored reply, Idempotent-Replayed: true
 *   different body                         → 422
 *   first request still running            → 409 (a claim older than IDEM_LEASE is
 *                                            considered abandoned and taken over)
 * A request that failed with a 5xx forgets its key, so that it can be retried.
 */
#include "http/internal.h"

#include <string.h>

#include "app.h"
#include "util/crypto.h"
#include "util/log.h"
#include "db/idempotency.h"

enum { IDEM_KEY_MAX = 255 };
#define IDEM_LEASE (60LL * 1000000)        /* µs before an unfinished claim is abandoned */
#define IDEM_TTL   (24LL * 3600 * 1000000) /* µs a stored reply is replayed */

enum idem_verdict { IDEM_PROCEED, IDEM_REPLAY, IDEM_MISMATCH, IDEM_BUSY };

struct idem_ctx {
    struct req *r;
    usec_t now;
    enum idem_verdict verdict;
    struct db_idempotency rec;
};

static enum db_status begin_cb(struct db_tx *tx, void *cls)
{
    struct idem_ctx *c = cls;
    struct req_private *p = c->r->priv;
    const char *mid = c->r->auth.merchant_id;
    enum db_status st = DB_CALL(tx, idempotency, begin, mid, p->idem_key, p->idem_hash, c->now);
    if (st < 0)
        return st;
    if (st > 0) {
        c->verdict = IDEM_PROCEED;
        return DB_ONE_RESULT;
    }
    st = DB_CALL(tx, idempotency, get, mid, p->idem_key, c->r->arena, &c->rec);
    if (st <= 0)
        return st < 0 ? st : DB_SOFT_ERROR; /* deleted meanwhile: try again */
    bool expired = c->rec.created_at + IDEM_TTL < c->now;
    bool abandoned = c->rec.state == IDEM_IN_PROGRESS && c->rec.created_at + IDEM_LEASE < c->now;
    if (expired || abandoned) {
        st = DB_CALL(tx, idempotency, restart, mid, p->idem_key, p->idem_hash, c->now);
        if (st < 0)
            return st;
        c->verdict = IDEM_PROCEED;
        return DB_ONE_RESULT;
    }
    if (!crypto_equal(c->rec.request_hash, p->idem_hash, 32))
        c->verdict = IDEM_MISMATCH;
    else if (c->rec.state == IDEM_IN_PROGRESS)
        c->verdict = IDEM_BUSY;
    else
        c->verdict = IDEM_REPLAY;
    return DB_ONE_RESULT;
}

static bool plain_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > IDEM_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e)
            return false;
    return true;
}

bool idempotency_begin_or_reply(struct req *r)
{
    const char *key = req_header(r, "Idempotency-Key");
    if (!key)
        return true;
    if (!plain_key(key)) {
        struct field_errors e = {0};
        field_errors_add(&e, r->arena, "Idempotency-Key",
                         "must be 1 to %d printable ASCII characters without spaces", IDEM_KEY_MAX);
        reply_field_errors(r, &e);
        return false;
    }
    struct req_private *p = r->priv;
    p->idem_key = arena_strdup(r->arena, key);
    /* the request is its method, path and body */
    size_t blen;
    const char *body = req_body(r, &blen);
    char *whole = arena_printf(r->arena, "%s %s\n", r->method, r->path);
    size_t wlen = strlen(whole);
    char *buf = arena_alloc(r->arena, wlen + blen + 1);
    memcpy(buf, whole, wlen);
    memcpy(buf + wlen, body, blen);
    crypto_sha256(buf, wlen + blen, p->idem_hash);

    struct idem_ctx c = {.r = r, .now = time_now()};
    enum db_status st = db_run(r->app->db, DB_WRITE, "idempotency_begin", begin_cb, &c);
    if (st < 0) {
        p->idem_key = NULL;
        reply_error(r, st == DB_SOFT_ERROR ? ERR_UNAVAILABLE : ERR_INTERNAL, NULL);
        return false;
    }
    switch (c.verdict) {
    case IDEM_PROCEED:
        return true;
    case IDEM_REPLAY:
        p->idem_key = NULL;
        reply_header(r, "Idempotent-Replayed", "true");
        reply_text(r, c.rec.status, "application/json", c.rec.body ? c.rec.body : "",
                   c.rec.body ? strlen(c.rec.body) : 0);
        return false;
    case IDEM_MISMATCH:
        p->idem_key = NULL;
        reply_error(r, ERR_UNPROCESSABLE,
                    "This Idempotency-Key was already used with a different request");
        return false;
    case IDEM_BUSY:
        p->idem_key = NULL;
        reply_error(r, ERR_CONFLICT,
                    "A request with this Idempotency-Key is still being processed; retry later");
        return false;
    }
    return false;
}

enum db_status http_idempotency_store(struct db_tx *tx, struct req *r, int status, const char *body)
{
    struct req_private *p = r->priv;
    if (!p->idem_key)
        return DB_NO_RESULTS;
    enum db_status st =
        DB_CALL(tx, idempotency, finish, r->auth.merchant_id, p->idem_key, status, body);
    if (st >= 0)
        p->idem_stored = true;
    return st;
}

struct end_ctx {
    struct req *r;
    bool forget;
};

static enum db_status end_cb(struct db_tx *tx, void *cls)
{
    struct end_ctx *c = cls;
    struct req_private *p = c->r->priv;
    if (c->forget)
        return DB_CALL(tx, idempotency, forget, c->r->auth.merchant_id, p->idem_key);
    char *body = arena_strndup(c->r->arena, p->resp_body ? p->resp_body : "", p->resp_len);
    return DB_CALL(tx, idempotency, finish, c->r->auth.merchant_id, p->idem_key, p->status, body);
}

void idempotency_end(struct req *r)
{
    struct req_private *p = r->priv;
    bool forget = p->status >= 500;
    if (p->idem_stored && !forget)
        return;
    struct end_ctx c = {.r = r, .forget = forget};
    if (db_run(r->app->db, DB_WRITE, "idempotency_end", end_cb, &c) < 0)
        log_error("idempotency key of request %s not recorded", r->request_id);
}
