/*
 * receipt.c — POST /api/v2/order-receipt: send the customer a link to the
 * order's receipt on the channel that carried the payment link
 * (PaymentReceiptRequest → 201 PaymentReceiptResponse). The message goes
 * out in the background; the link's history follows it
 * (RECEIPT_LINK_SENT / _SENT_FAILED, then _DELIVERED / _DELIVERY_FAILED).
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "core/message.h"
#include "core/status.h"
#include "service/receipts.h"
#include "util/json.h"

struct receipt_body {
    const char *receipt_link;
    const char *payment_link_ref;
    struct fv_time timestamp;
};

static const struct field_spec receipt_spec[] = {
    {.name = "receiptLink",
     .kind = FIELD_STRING,
     .offset = offsetof(struct receipt_body, receipt_link),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = 1024},
    {.name = "paymentLinkRef",
     .kind = FIELD_STRING,
     .offset = offsetof(struct receipt_body, payment_link_ref),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = 64},
    {.name = "timestamp",
     .kind = FIELD_TIMESTAMP,
     .offset = offsetof(struct receipt_body, timestamp),
     .flags = FIELD_REQUIRED},
    {.name = NULL},
};

/* An absolute http(s) URL with a host, made of characters a message
 * carries (no spaces or control characters; only GSM-7, so that SMS and
 * WhatsApp show it the same). */
static const char *url_problem(const char *url)
{
    const char *rest = strncasecmp(url, "https://", 8) == 0  ? url + 8
                       : strncasecmp(url, "http://", 7) == 0 ? url + 7
                                                             : NULL;
    if (!rest)
        return "must be an absolute http:// or https:// URL";
    if (*rest == '\0' || *rest == '/' || *rest == '?' || *rest == '#' || *rest == ':')
        return "must name a host after the scheme";
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return "must not contain spaces or control characters";
    bool gsm7;
    message_gsm7_septets(url, &gsm7);
    if (!gsm7)
        return "must contain only characters a text message carries (letters, digits and URL "
               "punctuation other than `; encode others as %XX)";
    return NULL;
}

struct receipt_ctx {
    struct req *r;
    struct receipt_body body;
    usec_t now;
    const char *refused;
    struct db_link link;
    struct c2p_idem_claim idem;
    struct field_errors errs; /* problems found against the link */
    const char *reply;
    size_t reply_len;
    unsigned queued;
};

/* PaymentReceiptResponse */
static const char *receipt_json(struct receipt_ctx *c, size_t *len)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "receiptLinkRef", json_object_new_string(c->link.receipt_ref));
    json_object_object_add(o, "orderNumber", json_object_new_string(c->link.order_number));
    json_object_object_add(o, "timestamp", json_time(c->now));
    json_object_object_add(
        o, "transactionStatus",
        json_object_new_string(link_status_name(LINK_RECEIPT_LINK_REQUEST_RECEIVED)));
    json_object_object_add(o, "transactionStatusId",
                           json_object_new_int(LINK_RECEIPT_LINK_REQUEST_RECEIVED));
    const char *text = json_text(c->r->arena, o, len);
    json_object_put(o);
    return text;
}

static enum db_status receipt_cb(struct db_tx *tx, void *cls)
{
    struct receipt_ctx *c = cls;
    /* the time of the change, taken under the write lock: history entries
     * are in the order of their times */
    c->now = time_now();
    enum db_status st = c2p_idem_begin(tx, c->r, c->now, &c->idem);
    if (st <= 0)
        return st;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = c->now, .cfg = c->r->app->cfg};
    memset(&c->errs, 0, sizeof c->errs);
    st = svc_receipt_request(&s, c->r->auth.merchant_id, c->body.payment_link_ref,
                             c->body.receipt_link, &c->link, &c->refused, &c->errs);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    c->queued = s.queued;
    c->reply = receipt_json(c, &c->reply_len);
    st = c2p_idem_store(tx, c->r, 201, c->reply);
    return st < 0 ? st : DB_ONE_RESULT;
}

void api_order_receipt(struct req *r)
{
    struct receipt_ctx *c = arena_alloc(r->arena, sizeof *c);
    memset(c, 0, sizeof *c);
    c->r = r;
    c->now = time_now();
    struct field_errors errs = {0};
    fieldspec_parse(receipt_spec, r->json, &c->body, r->arena, &errs);
    const char *problem = c->body.receipt_link ? url_problem(c->body.receipt_link) : NULL;
    if (problem)
        field_errors_add(&errs, r->arena, "receiptLink", "%s", problem);
    if (errs.count || errs.dropped) {
        reply_field_errors(r, &errs);
        return;
    }
    enum db_status st = db_run(r->app->db, DB_WRITE, "order_receipt", receipt_cb, c);
    if (st == DB_ROLLBACK && c->errs.count) {
        reply_field_errors(r, &c->errs);
        return;
    }
    if (c2p_reply_link_op(r, st, &c->idem, c->refused))
        return;
    app_wake_workers(r->app, c->queued);
    reply_text(r, 201, "application/json", c->reply, c->reply_len);
}
