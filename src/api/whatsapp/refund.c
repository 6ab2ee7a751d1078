/*
 * refund.c — POST .../payments/{paymentConfigId}/{referenceId}/refunds:
 * refund a paid WhatsApp Pay order, in part or in full. The check of what
 * is left and the new refund are one transaction (with the Idempotency-Key
 * claim), so refunds that arrive at once never add up to more than was
 * paid. The gateway settles it in the background (jobs/wa_refund.c).
 */
#include "api/whatsapp/whatsapp.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/chat2pay/chat2pay.h"
#include "app.h"
#include "core/currency.h"
#include "service/whatsapp.h"
#include "util/json.h"

struct amount_body {
    struct fv_int value, offset;
};
static const struct field_spec amount_spec[] = {
    {.name = "value",
     .kind = FIELD_INT,
     .offset = offsetof(struct amount_body, value),
     .flags = FIELD_REQUIRED,
     .min = 1,
     .max = 999999999999999LL},
    {.name = "offset",
     .kind = FIELD_INT,
     .offset = offsetof(struct amount_body, offset),
     .flags = FIELD_REQUIRED,
     .min = 1,
     .max = 1000000000},
    {.name = NULL},
};

struct refund_body {
    json_object *amount;
    const char *speed;
};
static const struct field_spec refund_spec[] = {
    {.name = "amount",
     .kind = FIELD_OBJECT,
     .offset = offsetof(struct refund_body, amount),
     .flags = FIELD_REQUIRED},
    {.name = "speed",
     .kind = FIELD_STRING,
     .offset = offsetof(struct refund_body, speed),
     .max = 16},
    {.name = NULL},
};

struct refund_ctx {
    struct req *r;
    struct wa_path path;
    struct amount_body amount;
    const char *speed;
    struct c2p_idem_claim idem;
    struct db_wa_refund refund;
    enum wa_refund_refusal refusal;
    int64_t left;
    bool bad_offset;
    const char *reply;
    unsigned queued;
};

static enum db_status refund_cb(struct db_tx *tx, void *cls)
{
    struct refund_ctx *c = cls;
    struct req *r = c->r;
    usec_t now = time_now();
    c->bad_offset = false;
    c->refusal = WA_RR_OK;
    enum db_status st = c2p_idem_begin(tx, r, now, &c->idem);
    if (st <= 0)
        return st;
    st = wa_path_load(tx, r, &c->path);
    if (st <= 0)
        return st;
    if (c->amount.offset.v != c->path.order.amount_offset) {
        c->bad_offset = true;
        return DB_ROLLBACK;
    }
    struct db_merchant m;
    st = DB_CALL(tx, merchants, get, r->auth.merchant_id, &m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    struct svc s = {.tx = tx, .a = r->arena, .now = now, .cfg = r->app->cfg};
    st = svc_wa_refund_create(&s, &m, &c->path.order, c->amount.value.v, c->speed, &c->refund,
                              &c->refusal, &c->left);
    if (st <= 0 || c->refusal != WA_RR_OK)
        return st < 0 ? st : DB_ROLLBACK;
    c->queued = s.queued;
    json_object *o = svc_wa_refund_json(&c->refund, c->path.order.amount_offset);
    json_object_object_add(o, "reference_id", json_object_new_string(c->path.order.reference_id));
    c->reply = json_text(r->arena, o, NULL);
    json_object_put(o);
    st = c2p_idem_store(tx, r, 201, c->reply);
    return st < 0 ? st : DB_ONE_RESULT;
}

static void field_error(struct req *r, const char *field, const char *reason)
{
    wa_reply_error(r, 400, "WA400", "Validation failed", &field, &reason, 1);
}

void api_wa_refund(struct req *r)
{
    size_t len = 0;
    const char *raw = req_body(r, &len);
    const char *ct = req_header(r, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        const char *f = "body", *why = "must be application/json";
        wa_reply_error(r, 415, "WA415", "Unsupported media type", &f, &why, 1);
        return;
    }
    json_object *body = json_parse_request_object(raw, len);
    struct refund_ctx *c = arena_calloc(r->arena, 1, sizeof *c);
    c->r = r;
    if (!body) {
        field_error(r, "body", "must be a JSON object");
        return;
    }
    struct refund_body b = {0};
    struct field_errors errs = {0};
    fieldspec_parse(refund_spec, body, &b, r->arena, &errs);
    if (b.amount) {
        struct field_errors sub = {0};
        fieldspec_parse(amount_spec, b.amount, &c->amount, r->arena, &sub);
        for (size_t i = 0; i < sub.count; i++)
            field_errors_add(&errs, r->arena, NULL, "amount.%s", sub.items[i]);
    }
    c->speed = b.speed ? b.speed : "normal";
    if (strcmp(c->speed, "normal") != 0 && strcmp(c->speed, "instant") != 0)
        field_errors_add(&errs, r->arena, "speed", "must be normal or instant");
    json_object_put(body);
    if (errs.count) {
        reply_field_errors(r, &errs);
        return;
    }
    enum db_status st = db_run(r->app->db, DB_WRITE, "wa_refund", refund_cb, c);
    if (st == DB_ROLLBACK && c2p_idem_answer(r, &c->idem))
        return;
    if (st == DB_ROLLBACK && wa_path_reply(r, &c->path))
        return;
    if (st == DB_ROLLBACK && c->bad_offset) {
        field_error(r, "amount.offset",
                    arena_printf(r->arena, "must be %lld for %s",
                                 (long long)c->path.order.amount_offset, c->path.order.currency));
        return;
    }
    if (st == DB_ROLLBACK && c->refusal == WA_RR_PRODUCTION) {
        const char *f = "error", *why = "WhatsApp Pay refunds are sandbox only in this version: no "
                                        "live payment gateway is connected";
        wa_reply_error(r, 403, "WA403", why, &f, &why, 1);
        return;
    }
    if (st == DB_ROLLBACK && c->refusal == WA_RR_NOT_CAPTURED) {
        const char *f = "status", *why = "the order is not paid: there is nothing to refund";
        wa_reply_error(r, 409, "WA409", "Order not paid", &f, &why, 1);
        return;
    }
    if (st == DB_ROLLBACK && c->refusal == WA_RR_TOO_MANY) {
        const char *f = "amount", *why = arena_printf(r->arena,
                                                      "the order has had %d refunds, the most one "
                                                      "order takes",
                                                      WA_REFUNDS_MAX);
        wa_reply_error(r, 422, "WA422", "Too many refunds", &f, &why, 1);
        return;
    }
    if (st == DB_ROLLBACK && c->refusal == WA_RR_TOO_MUCH) {
        const char *f = "amount",
                   *why = arena_printf(r->arena, "is more than is left to refund (%lld)",
                                       (long long)c->left);
        wa_reply_error(r, 422, "WA422", "Refund amount too large", &f, &why, 1);
        return;
    }
    if (st < 0) {
        api_reply_db_error(r, st);
        return;
    }
    app_wake_workers(r->app, c->queued);
    reply_text(r, 201, "application/json", c->reply, strlen(c->reply));
}
