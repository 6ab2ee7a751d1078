/*
 * idempotency.c — the Idempotency-Key header of the Chat 2 Pay family
 * (create, capture, reverse, cancel, order-receipt).
 *
 * The first request with a key (per merchant) claims it and its reply is
 * stored with it, inside the handler's own write transactions: a create or
 * a cancel claims the key, does its work and stores its reply in ONE
 * transaction, so that the record and the effect commit together (or not at
 * all); a capture or reverse claims the key with its pending operation and
 * stores the reply with the gateway's answer. Later requests with the same
 * key:
 *   same request, reply stored (within 24 h) → the stored reply, Idempotent-Replayed: true
 *   different request                       → 422
 *   first request still running             → 409 (a claim older than IDEM_LEASE is
 *                                             considered abandoned and taken over)
 * A reply not stored in a transaction (an early refusal, field errors) is
 * stored after the handler; a 5xx forgets the key so that the request can be
 * retried.
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "db/idempotency.h"
#include "db/links.h"
#include "util/crypto.h"
#include "util/log.h"

enum { IDEM_KEY_MAX = 255 };
#define IDEM_LEASE (60LL * 1000000)        /* µs before an unfinished claim is abandoned */
#define IDEM_TTL   (24LL * 3600 * 1000000) /* µs a stored reply is replayed */

/* The request's key, in r->family_state. */
struct idem {
    const char *key;
    uint8_t hash[32];
    bool claimed;      /* claimed by this request's last attempt (committed or not) */
    usec_t claimed_at; /* the claim's time: with the hash, what tells it from another's */
    bool stored;       /* the reply is stored */
};

static struct idem *idem_of(struct req *r)
{
    return r->family_state;
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

bool c2p_idem_prepare_or_reply(struct req *r)
{
    if (!(r->route->flags & ROUTE_IDEMPOTENT))
        return true;
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
    struct idem *k = arena_calloc(r->arena, 1, sizeof *k);
    k->key = arena_strdup(r->arena, key);
    /* the request is its method, path, query and body */
    size_t blen;
    const char *body = req_body(r, &blen);
    const char *query = req_query_string(r);
    char *whole = arena_printf(r->arena, "%s %s?%s\n", r->method, r->path, query ? query : "");
    size_t wlen = strlen(whole);
    char *buf = arena_alloc(r->arena, wlen + blen + 1);
    memcpy(buf, whole, wlen);
    memcpy(buf + wlen, body, blen);
    crypto_sha256(buf, wlen + blen, k->hash);
    r->family_state = k;
    return true;
}

static enum idem_verdict claim(struct db_tx *tx, struct req *r, usec_t now,
                               struct c2p_idem_reply *replay, enum db_status *st)
{
    struct idem *k = idem_of(r);
    *st = DB_ONE_RESULT;
    if (!k)
        return IDEM_PROCEED;
    const char *mid = r->auth.merchant_id;
    k->claimed = false; /* (an earlier attempt's claim was rolled back with it) */
    *st = DB_CALL(tx, idempotency, begin, mid, k->key, k->hash, now);
    if (*st < 0)
        return IDEM_PROCEED;
    if (*st > 0) {
        k->claimed = true;
        k->claimed_at = now;
        return IDEM_PROCEED;
    }
    struct db_idempotency rec;
    *st = DB_CALL(tx, idempotency, get, mid, k->key, r->arena, &rec);
    if (*st <= 0) {
        if (*st == 0)
            *st = DB_SOFT_ERROR; /* deleted meanwhile: try again */
        return IDEM_PROCEED;
    }
    bool expired = rec.created_at + IDEM_TTL < now;
    bool abandoned = rec.state == IDEM_IN_PROGRESS && rec.created_at + IDEM_LEASE < now;
    if (expired || abandoned) {
        *st = DB_CALL(tx, idempotency, restart, mid, k->key, k->hash, now);
        k->claimed = *st > 0;
        k->claimed_at = now;
        return IDEM_PROCEED;
    }
    if (!crypto_equal(rec.request_hash, k->hash, 32))
        return IDEM_MISMATCH;
    if (rec.state == IDEM_IN_PROGRESS)
        return IDEM_BUSY;
    replay->status = rec.status;
    replay->body = rec.body ? rec.body : "";
    return IDEM_REPLAY;
}

bool c2p_idem_keyed(struct req *r)
{
    return idem_of(r) != NULL;
}

enum db_status c2p_idem_store(struct db_tx *tx, struct req *r, int status, const char *body)
{
    struct idem *k = idem_of(r);
    if (!k)
        return DB_NO_RESULTS;
    /* only over this request's own claim: one another request took over
     * after the lease keeps that request's reply */
    enum db_status st = DB_CALL(tx, idempotency, finish, r->auth.merchant_id, k->key, k->hash,
                                k->claimed_at, status, body);
    if (st >= 0)
        k->stored = true;
    return st;
}

enum db_status c2p_idem_begin(struct db_tx *tx, struct req *r, usec_t now,
                              struct c2p_idem_claim *out)
{
    enum db_status st;
    out->verdict = claim(tx, r, now, &out->replay, &st);
    if (st < 0)
        return st;
    return out->verdict == IDEM_PROCEED ? DB_ONE_RESULT : DB_ROLLBACK;
}

bool c2p_idem_answer(struct req *r, const struct c2p_idem_claim *c)
{
    struct idem *k = idem_of(r);
    const struct c2p_idem_reply *replay = &c->replay;
    switch (c->verdict) {
    case IDEM_PROCEED:
        return false;
    case IDEM_REPLAY:
        k->stored = true; /* nothing more to store */
        reply_header(r, "Idempotent-Replayed", "true");
        reply_text(r, replay->status, "application/json", replay->body, strlen(replay->body));
        return true;
    case IDEM_MISMATCH:
        k->stored = true;
        reply_error(r, ERR_UNPROCESSABLE,
                    "This Idempotency-Key was already used with a different request");
        return true;
    case IDEM_BUSY:
        k->stored = true;
        reply_error(r, ERR_CONFLICT,
                    "A request with this Idempotency-Key is still being processed; retry later");
        return true;
    }
    return false;
}

bool c2p_idem_ref(struct req *r, const char *prefix, char *out)
{
    struct idem *k = idem_of(r);
    if (!k)
        return false;
    const char *text = arena_printf(r->arena, "%s\n%s", r->auth.merchant_id, k->key);
    uint8_t h[32];
    crypto_sha256(text, strlen(text), h);
    char hex[65];
    crypto_hex(h, 32, hex);
    snprintf(out, DB_REF_LEN, "%s%.26s", prefix, hex);
    return true;
}

struct end_ctx {
    struct req *r;
    bool forget;
};

static enum db_status end_cb(struct db_tx *tx, void *cls)
{
    struct end_ctx *c = cls;
    struct req *r = c->r;
    struct idem *k = idem_of(r);
    const char *mid = r->auth.merchant_id;
    if (c->forget) /* only our own unfinished claim: a reply stored by a commit whose
                      answer was lost stays, and so does another request's claim */
        return DB_CALL(tx, idempotency, forget, mid, k->key, k->hash, k->claimed_at);
    /* claim (or take over) and store in one go */
    usec_t now = time_now();
    struct c2p_idem_reply replay;
    enum db_status st;
    enum idem_verdict v = claim(tx, r, now, &replay, &st);
    if (st < 0)
        return st;
    if (v != IDEM_PROCEED)
        return DB_ROLLBACK; /* another request stored its reply first */
    size_t len;
    const char *body = req_reply_body(r, &len);
    return c2p_idem_store(tx, r, req_status(r), arena_strndup(r->arena, body, len));
}

void c2p_idem_after(struct req *r)
{
    struct idem *k = idem_of(r);
    if (!k || (k->stored && req_status(r) < 500))
        return;
    bool forget = req_status(r) >= 500;
    if (forget && !k->claimed)
        return; /* nothing of ours is there */
    struct end_ctx c = {.r = r, .forget = forget};
    enum db_status st = db_run(r->app->db, DB_WRITE, "idempotency_end", end_cb, &c);
    if (st < 0 && st != DB_ROLLBACK)
        log_error("idempotency key of request %s not recorded", r->request_id);
}

bool c2p_reply_link_op(struct req *r, enum db_status st, const struct c2p_idem_claim *idem,
                       const char *refused)
{
    if (st == DB_ROLLBACK && c2p_idem_answer(r, idem))
        return true;
    static const char amount_problem[] = "amount: ";
    if (st == DB_ROLLBACK && refused &&
        strncmp(refused, amount_problem, sizeof amount_problem - 1) == 0) {
        /* a problem with the amount is told like the amount's syntax errors */
        struct field_errors errs = {0};
        field_errors_add(&errs, r->arena, "amount", "%s", refused + sizeof amount_problem - 1);
        reply_field_errors(r, &errs);
    } else if (st == DB_ROLLBACK)
        reply_error(r, refused ? ERR_BAD_REQUEST : ERR_NOT_FOUND,
                    refused ? refused : "No payment link with this reference");
    else if (st < 0)
        api_reply_db_error(r, st);
    return st == DB_ROLLBACK || st < 0;
}
