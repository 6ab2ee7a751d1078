/*
 * chat2pay_create.c — POST /api/v2/chat-2-pay: create a payment link and send
 * it to the customer (PayByLinkRequest → 201 PayByLinkTransactionLogResponse).
 *
 * The body is parsed and checked here (field spec, amounts exact in the
 * currency); one transaction then lets the service check the rules that
 * need the merchant's configuration and store the link, its first status
 * and the job that sends it (service/links.c). Every problem with the
 * request is reported at once.
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/status.h"
#include "service/links.h"
#include "service/views.h"
#include "util/json.h"

/* Bounds of the published schema and ours. */
enum {
    ORDER_NUMBER_MAX = 32,
    RECONCILIATION_ID_MAX = 60,
    TEXT_MAX = 255,
    LINE_ITEMS_MAX = 100,
    QUANTITY_MAX = 1000000,
};

struct item_body {
    const char *code, *name, *sku;
    struct fv_int quantity;
    struct fv_dec unit_price, tax_amount;
};

struct create_body {
    struct fv_enum channel;
    const char *from, *to, *order_number;
    struct fv_time timestamp;
    const struct currency *currency;
    struct fv_dec tax_amount, subtotal_amount, total_amount;
    const char *gateway_settings_id;
    json_object *additional_data;
    struct fv_bool return_link;
    const char *application_id;
    struct fv_bool auto_reversal;
    struct fv_enum transaction_type;
    const char *reconciliation_id, *merchant_descriptor;
    struct fv_array items;
};

#define ITEM(f) offsetof(struct item_body, f)
static const struct field_spec item_spec[] = {
    {.name = "name",
     .kind = FIELD_STRING,
     .offset = ITEM(name),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = TEXT_MAX},
    {.name = "unitPrice",
     .kind = FIELD_DECIMAL,
     .offset = ITEM(unit_price),
     .flags = FIELD_REQUIRED | FIELD_POSITIVE},
    {.name = "quantity",
     .kind = FIELD_INT,
     .offset = ITEM(quantity),
     .min = 1,
     .max = QUANTITY_MAX},
    {.name = "code", .kind = FIELD_STRING, .offset = ITEM(code), .max = TEXT_MAX},
    {.name = "sku", .kind = FIELD_STRING, .offset = ITEM(sku), .max = TEXT_MAX},
    {.name = "taxAmount",
     .kind = FIELD_DECIMAL,
     .offset = ITEM(tax_amount),
     .flags = FIELD_POSITIVE},
    {.name = NULL},
};

#define BODY(f) offsetof(struct create_body, f)
static const struct field_spec create_spec[] = {
    {.name = "channel",
     .kind = FIELD_ENUM,
     .offset = BODY(channel),
     .flags = FIELD_REQUIRED,
     .enums = channel_spellings,
     .enum_hint = CHANNEL_HINT},
    {.name = "from", .kind = FIELD_MSISDN, .offset = BODY(from)},
    {.name = "to", .kind = FIELD_MSISDN, .offset = BODY(to), .flags = FIELD_REQUIRED},
    {.name = "orderNumber",
     .kind = FIELD_STRING,
     .offset = BODY(order_number),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = ORDER_NUMBER_MAX},
    {.name = "timestamp",
     .kind = FIELD_TIMESTAMP,
     .offset = BODY(timestamp),
     .flags = FIELD_REQUIRED},
    {.name = "currency", .kind = FIELD_CURRENCY, .offset = BODY(currency), .flags = FIELD_REQUIRED},
    {.name = "taxAmount", .kind = FIELD_DECIMAL, .offset = BODY(tax_amount), .flags = FIELD_NONNEG},
    {.name = "subTotalAmount",
     .kind = FIELD_DECIMAL,
     .offset = BODY(subtotal_amount),
     .flags = FIELD_POSITIVE},
    {.name = "totalAmount",
     .kind = FIELD_DECIMAL,
     .offset = BODY(total_amount),
     .flags = FIELD_REQUIRED | FIELD_POSITIVE},
    {.name = "paymentGatewaySettingsId",
     .kind = FIELD_STRING,
     .offset = BODY(gateway_settings_id),
     .flags = FIELD_NOTBLANK,
     .max = 64},
    {.name = "additionalData", .kind = FIELD_OBJECT, .offset = BODY(additional_data)},
    {.name = "returnPaymentLink", .kind = FIELD_BOOL, .offset = BODY(return_link)},
    {.name = "applicationId",
     .kind = FIELD_STRING,
     .offset = BODY(application_id),
     .flags = FIELD_NOTBLANK,
     .max = 64},
    {.name = "paymentReviewAutoReversal", .kind = FIELD_BOOL, .offset = BODY(auto_reversal)},
    {.name = "transactionType",
     .kind = FIELD_ENUM,
     .offset = BODY(transaction_type),
     .enums = transaction_type_spellings,
     .enum_hint = TRANSACTION_TYPE_HINT},
    {.name = "reconciliationId",
     .kind = FIELD_STRING,
     .offset = BODY(reconciliation_id),
     .max = RECONCILIATION_ID_MAX},
    {.name = "merchantDescriptor",
     .kind = FIELD_STRING,
     .offset = BODY(merchant_descriptor),
     .max = TEXT_MAX},
    {.name = "orderLineItems",
     .kind = FIELD_ARRAY,
     .offset = BODY(items),
     .max = LINE_ITEMS_MAX,
     .sub = item_spec,
     .sub_size = sizeof(struct item_body)},
    {.name = NULL},
};

struct create_ctx {
    unsigned queued; /* pools of the jobs queued */
    struct req *r;
    struct create_body body;
    struct field_errors errs;
    struct link_request rq;
    json_object *items_json; /* normalised line items (minor units) */
    usec_t now;
    const char *reply; /* the 201 body (built in the transaction when it is stored
                        * with an Idempotency-Key, after it otherwise) */
    size_t reply_len;
    struct db_link link; /* the link made, and its merchant */
    struct db_merchant merchant;
    size_t errs_base, dropped_base; /* problems found before the transaction */
    struct c2p_idem_claim idem;     /* Idempotency-Key */
};

/* Convert a parsed decimal to minor units of the link's currency, adding a
 * field error when it has more decimals than the currency. */
static bool to_minor(struct create_ctx *c, const char *field, const struct fv_dec *d, int64_t *out)
{
    int exp = c->body.currency->exponent;
    enum money_status st = money_to_minor(&d->v, exp, out);
    if (st == MONEY_OK)
        return true;
    if (st == MONEY_TOO_PRECISE)
        field_errors_add(&c->errs, c->r->arena, field,
                         "has more decimal places than %s allows (%d)", c->body.currency->code,
                         exp);
    else
        field_errors_add(&c->errs, c->r->arena, field, "%s", money_status_text(st));
    return false;
}

/* The amount rules that need the currency: exactness, subtotal + tax = total,
 * line items; fills the request's amounts and the normalised items. */
static void check_amounts(struct create_ctx *c)
{
    struct create_body *b = &c->body;
    struct link_request *rq = &c->rq;
    struct arena *a = c->r->arena;
    if (!b->currency)
        return;
    bool ok = b->total_amount.set;
    if (b->total_amount.set)
        ok &= to_minor(c, "totalAmount", &b->total_amount, &rq->total_minor);
    if (b->subtotal_amount.set) {
        rq->has_subtotal = to_minor(c, "subTotalAmount", &b->subtotal_amount, &rq->subtotal_minor);
        ok &= rq->has_subtotal;
    }
    if (b->tax_amount.set) {
        rq->has_tax = to_minor(c, "taxAmount", &b->tax_amount, &rq->tax_minor);
        ok &= rq->has_tax;
    }
    if (ok && rq->has_subtotal && rq->has_tax &&
        rq->subtotal_minor + rq->tax_minor != rq->total_minor) {
        char s[32], t[32], sum[32], tot[32];
        int e = b->currency->exponent;
        money_format(rq->subtotal_minor, e, s, sizeof s);
        money_format(rq->tax_minor, e, t, sizeof t);
        money_format(rq->subtotal_minor + rq->tax_minor, e, sum, sizeof sum);
        money_format(rq->total_minor, e, tot, sizeof tot);
        field_errors_add(&c->errs, a, "totalAmount",
                         "must equal subTotalAmount + taxAmount (%s + %s = %s, not %s)", s, t, sum,
                         tot);
        ok = false;
    }
    const struct item_body *items = b->items.items;
    c->items_json = json_object_new_array();
    for (size_t i = 0; i < b->items.count; i++) {
        const struct item_body *it = &items[i];
        char field[64];
        int64_t unit = 0, tax = 0;
        snprintf(field, sizeof field, "orderLineItems[%zu].unitPrice", i);
        bool item_ok = it->unit_price.set && to_minor(c, field, &it->unit_price, &unit);
        if (it->tax_amount.set) {
            snprintf(field, sizeof field, "orderLineItems[%zu].taxAmount", i);
            item_ok &= to_minor(c, field, &it->tax_amount, &tax);
        }
        if (!item_ok || !it->name)
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(it->name));
        json_object_object_add(o, "unitPriceMinor", json_object_new_int64(unit));
        json_object_object_add(o, "quantity",
                               json_object_new_int64(it->quantity.set ? it->quantity.v : 1));
        if (it->code)
            json_object_object_add(o, "code", json_object_new_string(it->code));
        if (it->sku)
            json_object_object_add(o, "sku", json_object_new_string(it->sku));
        if (it->tax_amount.set)
            json_object_object_add(o, "taxAmountMinor", json_object_new_int64(tax));
        json_object_array_add(c->items_json, o);
    }
    rq->amounts_ok = ok;
}

/* The request as the service takes it. */
static void fill_request(struct create_ctx *c)
{
    struct create_body *b = &c->body;
    struct link_request *rq = &c->rq;
    struct arena *a = c->r->arena;
    rq->channel_set = b->channel.set;
    rq->channel = b->channel.v;
    rq->from = b->from;
    rq->to = b->to;
    rq->order_number = b->order_number;
    rq->currency = b->currency;
    rq->gateway_settings_id = b->gateway_settings_id;
    rq->application_id = b->application_id;
    rq->reconciliation_id = b->reconciliation_id;
    rq->merchant_descriptor = b->merchant_descriptor;
    rq->additional_data = b->additional_data ? json_text(a, b->additional_data, NULL) : NULL;
    rq->line_items = b->items.count ? json_text(a, c->items_json, NULL) : NULL;
    rq->auto_reversal = b->auto_reversal.set && b->auto_reversal.v;
    rq->transaction_type_set = b->transaction_type.set;
    rq->transaction_type = b->transaction_type.v;
    rq->request_timestamp = b->timestamp.v;
}

/* The 201 body of the link made (c->link, c->merchant). */
static void build_reply(struct create_ctx *c)
{
    struct req *r = c->r;
    const struct db_link *l = &c->link;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "paymentLinkRef", json_object_new_string(l->ref));
    json_object_object_add(o, "transactionStatus",
                           json_object_new_string(link_status_name(l->status)));
    json_object_object_add(o, "transactionStatusId", json_object_new_int(l->status));
    json_object_object_add(o, "timestamp", json_time(c->now));
    json_object_object_add(o, "paymentLinkTTL", json_object_new_int64(c->merchant.link_ttl_s / 60));
    json_object_object_add(o, "paymentPageTTL", json_object_new_int64(c->merchant.page_ttl_s / 60));
    if (c->body.return_link.set && c->body.return_link.v) {
        struct svc s = {.a = r->arena, .now = c->now, .cfg = r->app->cfg};
        json_object_object_add(o, "paymentLink",
                               json_object_new_string(svc_link_url(&s, l->token)));
    }
    c->reply = json_text(r->arena, o, &c->reply_len);
    json_object_put(o);
}

static enum db_status create_cb(struct db_tx *tx, void *cls)
{
    struct create_ctx *c = cls;
    struct req *r = c->r;
    /* the time of the change, taken under the write lock: history entries
     * are in the order of their times */
    c->now = time_now();
    /* a retried transaction starts again from the problems found before it */
    c->errs.count = c->errs_base;
    c->errs.dropped = c->dropped_base;
    enum db_status st = c2p_idem_begin(tx, r, c->now, &c->idem);
    if (st <= 0)
        return st;
    struct svc s = {.tx = tx, .a = r->arena, .now = c->now, .cfg = r->app->cfg};
    st = svc_link_create(&s, r->auth.merchant_id, &c->rq, &c->errs, &c->link, &c->merchant);
    if (st < 0)
        return st;
    c->queued = s.queued;
    if (!c2p_idem_keyed(r))
        return DB_ONE_RESULT;
    /* the reply, stored with the idempotency key in this same transaction */
    build_reply(c);
    st = c2p_idem_store(tx, r, 201, c->reply);
    return st < 0 ? st : DB_ONE_RESULT;
}

void api_chat2pay_create(struct req *r)
{
    struct create_ctx *c = arena_alloc(r->arena, sizeof *c);
    c->r = r;
    c->now = time_now();
    fieldspec_parse(create_spec, r->json, &c->body, r->arena, &c->errs);
    check_amounts(c);
    fill_request(c);
    svc_link_request_ids(&c->rq);
    c->errs_base = c->errs.count;
    c->dropped_base = c->errs.dropped;
    /* the configuration rules run (and report) even when the syntax had problems */
    enum db_status st = db_run(r->app->db, DB_WRITE, "chat2pay_create", create_cb, c);
    json_object_put(c->items_json);
    if (st == DB_ROLLBACK && c2p_idem_answer(r, &c->idem))
        return;
    if (st == DB_ROLLBACK) {
        reply_field_errors(r, &c->errs);
        return;
    }
    if (st < 0) {
        api_reply_db_error(r, st);
        return;
    }
    app_wake_workers(r->app, c->queued);
    if (!c->reply)
        build_reply(c);
    reply_text(r, 201, "application/json", c->reply, c->reply_len);
}
