/*
 * whatsapp.c — WhatsApp Pay orders, payments and refunds (see whatsapp.h).
 */
#include "service/whatsapp.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "db/sandbox.h"
#include "gateway/gateway.h"
#include "service/callbacks.h"
#include "util/crypto.h"
#include "util/json.h"

void svc_wa_sid(const char *merchant_id, char out[17])
{
    size_t n = 0;
    out[n++] = 'H';
    out[n++] = 'X';
    for (const char *p = merchant_id; *p && n < 16; p++)
        if (isxdigit((unsigned char)*p))
            out[n++] = (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

const char *wa_status_name(enum wa_status s)
{
    return s == WA_SUCCESS ? "success" : s == WA_FAILED ? "failed" : "pending";
}

const char *wa_order_status_name(enum wa_order_status s)
{
    return s == WA_ORDER_CAPTURED ? "captured" : s == WA_ORDER_FAILED ? "failed" : "pending";
}

enum db_status svc_wa_order_create(struct svc *s, const struct db_merchant *m,
                                   const char *from_display, struct db_wa_order *o,
                                   enum wa_refusal *refusal, const char **field, const char **why)
{
    *refusal = WA_OK;
    if (m->environment == ENV_PRODUCTION) {
        *refusal = WA_R_PRODUCTION;
        *why = "WhatsApp Pay orders are sandbox only in this version: no live payment gateway "
               "is connected";
        return DB_ONE_RESULT;
    }
    if (!m->whatsapp_enabled) {
        *refusal = WA_R_FIELD;
        *field = "channel";
        *why = WA_CHANNEL_OFF;
        return DB_ONE_RESULT;
    }
    struct db_wa_number num;
    enum db_status st = DB_CALL(s->tx, whatsapp, number_by_display, m->id, from_display, &num);
    if (st < 0)
        return st;
    if (st == 0) {
        *refusal = WA_R_FIELD;
        *field = "from";
        *why = "is not a registered WhatsApp business number of this account";
        return DB_ONE_RESULT;
    }
    struct db_wa_config cfg;
    st = DB_CALL(s->tx, whatsapp, config_get, m->id, o->payment_config, &cfg);
    if (st < 0)
        return st;
    if (st == 0 || !cfg.enabled) {
        *refusal = WA_R_FIELD;
        *field = "action.parameters.payment_configuration";
        *why = "is not a payment configuration of this account";
        return DB_ONE_RESULT;
    }
    snprintf(o->merchant_id, sizeof o->merchant_id, "%s", m->id);
    snprintf(o->phone_number_id, sizeof o->phone_number_id, "%s", num.phone_number_id);
    snprintf(o->gateway, sizeof o->gateway, "%s", cfg.gateway);
    crypto_uuid_v4(o->message_id);
    crypto_random_base62(128, o->token, 22);
    o->status = WA_ORDER_PENDING;
    o->message_state = WA_MSG_QUEUED;
    o->created_at = o->updated_at = s->now;
    st = DB_CALL(s->tx, whatsapp, order_insert, o);
    if (st < 0)
        return st;
    if (st == 0) {
        *refusal = WA_R_DUPLICATE;
        return DB_ONE_RESULT;
    }
    st = svc_enqueue_for(s, m->id, 0, JOB_WA_SEND_ORDER, o->id, s->now);
    return st < 0 ? st : DB_ONE_RESULT;
}

static json_object *amount_json(int64_t value, int64_t offset)
{
    json_object *a = json_object_new_object();
    json_object_object_add(a, "value", json_object_new_int64(value));
    json_object_object_add(a, "offset", json_object_new_int64(offset));
    return a;
}

json_object *svc_wa_refund_json(const struct db_wa_refund *r, int64_t offset)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(r->ref));
    json_object_object_add(o, "amount", amount_json(r->amount, offset));
    json_object_object_add(o, "speed_processed", json_object_new_string(r->speed));
    json_object_object_add(o, "status", json_object_new_string(wa_status_name(r->status)));
    json_object_object_add(o, "created_timestamp", json_object_new_int64(r->created_at / 1000000));
    json_object_object_add(o, "updated_timestamp", json_object_new_int64(r->updated_at / 1000000));
    return o;
}

struct payment_build {
    const struct db_wa_order *o;
    struct arena *a;
    json_object *txns; /* the transactions' JSON, in order */
    int64_t *ids;      /* their ids, in the same order */
    size_t cap;
};

static void txn_cb(void *cls, const struct db_wa_txn *t)
{
    struct payment_build *b = cls;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(t->ref));
    json_object_object_add(o, "type", json_object_new_string(b->o->gateway));
    json_object_object_add(o, "status", json_object_new_string(wa_status_name(t->status)));
    json_object_object_add(o, "created_timestamp", json_object_new_int64(t->created_at / 1000000));
    json_object_object_add(o, "updated_timestamp", json_object_new_int64(t->updated_at / 1000000));
    json_object *m = json_object_new_object();
    json_object_object_add(m, "type", json_object_new_string(t->method));
    json_object_object_add(o, "method", m);
    if (t->status == WA_FAILED) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "code",
                               json_object_new_string(t->error_code ? t->error_code : ""));
        json_object_object_add(e, "reason",
                               json_object_new_string(t->error_reason ? t->error_reason : ""));
        json_object_object_add(o, "error", e);
    }
    json_object_object_add(o, "refunds", json_object_new_array());
    size_t n = json_object_array_length(b->txns);
    if (n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 8;
        int64_t *ids = arena_calloc(b->a, cap, sizeof *ids);
        if (n)
            memcpy(ids, b->ids, n * sizeof *ids);
        b->ids = ids;
        b->cap = cap;
    }
    b->ids[n] = t->id;
    json_object_array_add(b->txns, o);
}

static void refund_cb(void *cls, const struct db_wa_refund *r)
{
    struct payment_build *b = cls;
    for (size_t i = 0; i < json_object_array_length(b->txns); i++) {
        json_object *list;
        if (b->ids[i] == r->transaction_id &&
            json_object_object_get_ex(json_object_array_get_idx(b->txns, i), "refunds", &list))
            json_object_array_add(list, svc_wa_refund_json(r, b->o->amount_offset));
    }
}

enum db_status svc_wa_payment_json(struct svc *s, const struct db_wa_order *o, json_object **out)
{
    struct payment_build b = {.o = o, .a = s->a, .txns = json_object_new_array()};
    enum db_status st = DB_CALL(s->tx, whatsapp, txn_list, o->merchant_id, o->id, s->a, txn_cb, &b);
    if (st >= 0)
        st = DB_CALL(s->tx, whatsapp, refund_list, o->merchant_id, o->id, refund_cb, &b);
    if (st < 0) {
        json_object_put(b.txns);
        return st;
    }
    json_object *p = json_object_new_object();
    json_object_object_add(p, "reference_id", json_object_new_string(o->reference_id));
    json_object_object_add(p, "status", json_object_new_string(wa_order_status_name(o->status)));
    json_object_object_add(p, "currency", json_object_new_string(o->currency));
    json_object_object_add(p, "total_amount", amount_json(o->total_value, o->amount_offset));
    json_object_object_add(p, "transactions", b.txns);
    /* what the order gave, as given */
    json_object *echo = o->echo ? json_tokener_parse(o->echo) : NULL;
    if (echo && json_object_is_type(echo, json_type_object)) {
        json_object_object_foreach(echo, k, v) json_object_object_add(p, k, json_object_get(v));
    }
    json_object_put(echo);
    *out = p;
    return DB_ONE_RESULT;
}

/* The merchant's callback of this order now. */
static enum db_status callback(struct svc *s, const struct db_wa_order *o, const char *event)
{
    json_object *payment;
    enum db_status st = svc_wa_payment_json(s, o, &payment);
    if (st < 0)
        return st;
    json_object *body = json_object_new_object();
    json_object_object_add(body, "event", json_object_new_string(event));
    json_object_object_add(body, "payment", payment);
    const char *text = json_text(s->a, body, NULL);
    json_object_put(body);
    return svc_cb_merchant_payment(s, o->merchant_id, text);
}

struct pending_find {
    struct db_wa_txn pending;
    bool found;
    int tries;
};

static void pending_cb(void *cls, const struct db_wa_txn *t)
{
    struct pending_find *f = cls;
    f->tries++;
    if (t->status == WA_PENDING) {
        f->pending = *t;
        f->found = true;
    }
}

enum db_status svc_wa_order_open(struct svc *s, const struct db_wa_order *o, bool *open)
{
    struct db_wa_number num;
    struct db_wa_config cfg;
    *open = false;
    enum db_status st =
        DB_CALL(s->tx, whatsapp, number_get, o->merchant_id, o->phone_number_id, &num);
    if (st <= 0 || !num.enabled)
        return st < 0 ? st : DB_ONE_RESULT;
    st = DB_CALL(s->tx, whatsapp, config_get, o->merchant_id, o->payment_config, &cfg);
    if (st <= 0 || !cfg.enabled)
        return st < 0 ? st : DB_ONE_RESULT;
    *open = true;
    return DB_ONE_RESULT;
}

enum db_status svc_wa_pay(struct svc *s, struct db_wa_order *o, const char *method,
                          enum wa_status outcome, const char *code, const char *reason,
                          enum wa_pay_refusal *refused)
{
    *refused = WA_PAY_OK;
    struct db_merchant m;
    enum db_status mst = svc_merchant_get(s, o->merchant_id, &m);
    if (mst <= 0)
        return mst < 0 ? mst : DB_HARD_ERROR;
    if (m.environment == ENV_PRODUCTION) {
        *refused = WA_PAY_PRODUCTION;
        return DB_ROLLBACK;
    }
    if (o->status == WA_ORDER_CAPTURED) {
        *refused = WA_PAY_PAID;
        return DB_ROLLBACK;
    }
    bool open = false;
    enum db_status st = svc_wa_order_open(s, o, &open);
    if (st < 0)
        return st;
    struct pending_find f = {0};
    st = DB_CALL(s->tx, whatsapp, txn_list, o->merchant_id, o->id, s->a, pending_cb, &f);
    if (st < 0)
        return st;
    /* a disabled number or configuration takes no new try; a pending one
     * is still decided (else it would stay pending for ever) */
    if (!open && !f.found) {
        *refused = WA_PAY_WITHDRAWN;
        return DB_ROLLBACK;
    }
    if (!f.found && f.tries >= WA_TRIES_MAX) {
        *refused = WA_PAY_TOO_MANY;
        return DB_ROLLBACK;
    }
    struct db_wa_txn t = f.pending;
    if (!f.found) {
        memset(&t, 0, sizeof t);
        t.order_id = o->id;
        snprintf(t.merchant_id, sizeof t.merchant_id, "%s", o->merchant_id);
        char r[24];
        crypto_random_base62(96, r, 17);
        snprintf(t.ref, sizeof t.ref, "pay_%s", r);
        t.created_at = s->now;
    }
    t.status = outcome;
    snprintf(t.method, sizeof t.method, "%s", method);
    t.error_code = outcome == WA_FAILED ? code : NULL;
    t.error_reason = outcome == WA_FAILED ? reason : NULL;
    t.updated_at = s->now;
    st = f.found ? DB_CALL(s->tx, whatsapp, txn_update, &t)
                 : DB_CALL(s->tx, whatsapp, txn_insert, &t);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    if (outcome == WA_SUCCESS) {
        /* the sandbox gateway's record of the payment, which its refunds
         * (the gateway's refund operation) act on */
        struct db_sandbox_gw g = {.op = GW_OP_SALE,
                                  .amount_minor = o->total_value,
                                  .state = SANDBOX_GW_DECIDED,
                                  .decision = GW_ACCEPT,
                                  .response_code = 100,
                                  .answered = true,
                                  .created_at = s->now,
                                  .decided_at = s->now};
        snprintf(g.ref, sizeof g.ref, "%.*s", (int)sizeof g.ref - 1, t.ref);
        snprintf(g.merchant_id, sizeof g.merchant_id, "%s", o->merchant_id);
        snprintf(g.currency, sizeof g.currency, "%s", o->currency);
        snprintf(g.card_type, sizeof g.card_type, "%s%s", SANDBOX_GW_WHATSAPP, method);
        char r[24];
        crypto_random_base62(96, r, 17);
        snprintf(g.request_ref, sizeof g.request_ref, "SBX%s", r);
        crypto_random_base62(96, r, 17);
        snprintf(g.auth_ref, sizeof g.auth_ref, "AUTH%s", r);
        st = DB_CALL(s->tx, sandbox_gateway, insert, &g);
        if (st >= 0)
            st = DB_CALL(s->tx, sandbox_gateway, update, &g);
        if (st < 0)
            return st;
    }
    o->status = outcome == WA_SUCCESS  ? WA_ORDER_CAPTURED
                : outcome == WA_FAILED ? WA_ORDER_FAILED
                                       : WA_ORDER_PENDING;
    o->updated_at = s->now;
    st = DB_CALL(s->tx, whatsapp, order_update, o);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = callback(s, o, "whatsapp.payment");
    return st < 0 ? st : DB_ONE_RESULT;
}

struct success_find {
    struct db_wa_txn txn;
    bool found;
};

static void count_cb(void *cls, const struct db_wa_refund *r)
{
    (void)r;
    ++*(int *)cls;
}

static void success_cb(void *cls, const struct db_wa_txn *t)
{
    struct success_find *f = cls;
    if (t->status == WA_SUCCESS) {
        f->txn = *t;
        f->found = true;
    }
}

enum db_status svc_wa_refund_create(struct svc *s, const struct db_merchant *m,
                                    const struct db_wa_order *o, int64_t amount, const char *speed,
                                    struct db_wa_refund *out, enum wa_refund_refusal *refusal,
                                    int64_t *left_out)
{
    *refusal = WA_RR_OK;
    *left_out = 0;
    if (m->environment == ENV_PRODUCTION) {
        *refusal = WA_RR_PRODUCTION;
        return DB_ROLLBACK;
    }
    struct success_find f = {0};
    enum db_status st =
        o->status == WA_ORDER_CAPTURED
            ? DB_CALL(s->tx, whatsapp, txn_list, o->merchant_id, o->id, s->a, success_cb, &f)
            : DB_NO_RESULTS;
    if (st < 0)
        return st;
    if (!f.found) {
        *refusal = WA_RR_NOT_CAPTURED;
        return DB_ROLLBACK;
    }
    int64_t refunded = 0;
    st = DB_CALL(s->tx, whatsapp, refund_total, o->merchant_id, f.txn.id, &refunded);
    if (st < 0)
        return st;
    *left_out = o->total_value - refunded;
    if (amount > *left_out) {
        *refusal = WA_RR_TOO_MUCH;
        return DB_ROLLBACK;
    }
    int refunds = 0;
    st = DB_CALL(s->tx, whatsapp, refund_list, o->merchant_id, o->id, count_cb, &refunds);
    if (st < 0)
        return st;
    if (refunds >= WA_REFUNDS_MAX) {
        *refusal = WA_RR_TOO_MANY;
        return DB_ROLLBACK;
    }
    memset(out, 0, sizeof *out);
    out->transaction_id = f.txn.id;
    out->order_id = o->id;
    snprintf(out->merchant_id, sizeof out->merchant_id, "%s", o->merchant_id);
    char r[24];
    crypto_random_base62(96, r, 17);
    snprintf(out->ref, sizeof out->ref, "rfnd_%s", r);
    out->amount = amount;
    snprintf(out->speed, sizeof out->speed, "%s", speed);
    out->status = WA_PENDING;
    out->created_at = out->updated_at = s->now;
    st = DB_CALL(s->tx, whatsapp, refund_insert, out);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    *left_out -= amount;
    st = svc_enqueue_for(s, o->merchant_id, 0, JOB_WA_REFUND, out->id, s->now);
    if (st < 0)
        return st;
    /* the merchant's systems learn of the refund when it is made (pending),
     * whichever of them made it, and again when it settles */
    st = callback(s, o, "whatsapp.refund");
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_wa_refund_settled(struct svc *s, struct db_wa_refund *r, enum wa_status status)
{
    if (r->status != WA_PENDING)
        return DB_NO_RESULTS; /* settled before */
    r->status = status;
    r->updated_at = s->now;
    enum db_status st = DB_CALL(s->tx, whatsapp, refund_update, r);
    if (st <= 0)
        return st;
    struct db_wa_order o;
    st = DB_CALL(s->tx, whatsapp, order_get, r->merchant_id, r->order_id, s->a, &o);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = callback(s, &o, "whatsapp.refund");
    return st < 0 ? st : DB_ONE_RESULT;
}
