/*
 * chat2pay_create.c — POST /api/v2/chat-2-pay: create a payment link and send
 * it to the customer (PayByLinkRequest → 201 PayByLinkTransactionLogResponse).
 *
 * One transaction stores the link, its first status
 * PAYMENT_LINK_REQUEST_RECEIVED and the job that sends it; the message itself
 * goes out from a worker (jobs/). Every problem with the request is reported
 * at once: the syntax checks of the field spec, the amount rules, and the
 * rules that need the merchant's configuration (currency, channel,
 * integrator, gateway settings, one live link per order).
 */
#include "api/api.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/links.h"
#include "app.h"
#include "core/status.h"
#include "util/crypto.h"
#include "db/jobs.h"
#include "db/links.h"
#include "db/merchants.h"

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
    struct req *r;
    struct create_body body;
    struct field_errors errs;
    struct db_link link;
    json_object *items_json; /* normalised line items (minor units) */
    usec_t now;
    int64_t link_ttl_s, page_ttl_s;
    const char *reply; /* the 201 body, built inside the transaction */
    size_t reply_len;
    size_t errs_base, dropped_base; /* problems found before the transaction */
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
 * line items; fills the link's amounts and the normalised items. */
static void check_amounts(struct create_ctx *c)
{
    struct create_body *b = &c->body;
    struct db_link *l = &c->link;
    struct arena *a = c->r->arena;
    if (!b->currency)
        return;
    bool ok = true;
    if (b->total_amount.set)
        ok &= to_minor(c, "totalAmount", &b->total_amount, &l->total_minor);
    if (b->subtotal_amount.set) {
        l->has_subtotal = to_minor(c, "subTotalAmount", &b->subtotal_amount, &l->subtotal_minor);
        ok &= l->has_subtotal;
    }
    if (b->tax_amount.set) {
        l->has_tax = to_minor(c, "taxAmount", &b->tax_amount, &l->tax_minor);
        ok &= l->has_tax;
    }
    if (ok && b->total_amount.set && l->has_subtotal && l->has_tax &&
        l->subtotal_minor + l->tax_minor != l->total_minor) {
        char s[32], t[32], sum[32], tot[32];
        int e = b->currency->exponent;
        money_format(l->subtotal_minor, e, s, sizeof s);
        money_format(l->tax_minor, e, t, sizeof t);
        money_format(l->subtotal_minor + l->tax_minor, e, sum, sizeof sum);
        money_format(l->total_minor, e, tot, sizeof tot);
        field_errors_add(&c->errs, a, "totalAmount",
                         "must equal subTotalAmount + taxAmount (%s + %s = %s, not %s)", s, t, sum,
                         tot);
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
}

/* Rules that need the merchant's configuration; then the writes. */
static enum db_status create_cb(struct db_tx *tx, void *cls)
{
    struct create_ctx *c = cls;
    struct create_body *b = &c->body;
    struct req *r = c->r;
    struct arena *a = r->arena;
    /* a retried transaction starts again from the problems found before it */
    c->errs.count = c->errs_base;
    c->errs.dropped = c->dropped_base;
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, r->auth.merchant_id, &m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;

    if (b->currency) {
        struct db_currency cur[DB_MAX_CURRENCIES];
        size_t n = 0;
        st = DB_CALL(tx, currencies, list, m.id, cur, DB_MAX_CURRENCIES, &n);
        if (st < 0)
            return st;
        bool found = false;
        char list[DB_MAX_CURRENCIES * 5 + 1] = "";
        size_t used = 0;
        for (size_t i = 0; i < n; i++) {
            found |= strcmp(cur[i].code, b->currency->code) == 0;
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                     cur[i].code);
        }
        if (!found)
            field_errors_add(&c->errs, a, "currency",
                             "%s is not a supported currency of this merchant (supported: %s)",
                             b->currency->code, n ? list : "none");
    }
    if (b->channel.set) {
        bool enabled = b->channel.v == CHANNEL_NONE ||
                       (b->channel.v == CHANNEL_SMS && m.sms_enabled) ||
                       (b->channel.v == CHANNEL_WHATSAPP && m.whatsapp_enabled);
        if (!enabled)
            field_errors_add(&c->errs, a, "channel", "%s is not enabled for this merchant",
                             channel_name(b->channel.v));
    }
    if (b->application_id) {
        struct db_integrator it;
        st = DB_CALL(tx, integrators, get, m.id, b->application_id, &it);
        if (st < 0)
            return st;
        if (st == 0)
            field_errors_add(&c->errs, a, "applicationId", "no such application for this merchant");
        else if (it.status != INTEGRATOR_ACTIVATED)
            field_errors_add(&c->errs, a, "applicationId", "application is %s, not ACTIVATED",
                             db_integrator_status_name(it.status));
    }
    if (b->gateway_settings_id) {
        st = DB_CALL(tx, settings, gateway_settings_exists, m.id, b->gateway_settings_id);
        if (st < 0)
            return st;
        if (st == 0)
            field_errors_add(&c->errs, a, "paymentGatewaySettingsId",
                             "no such payment gateway settings for this merchant");
    }
    if (b->order_number) {
        enum order_block why;
        char ref[DB_REF_LEN];
        st = DB_CALL(tx, links, order_block, m.id, b->order_number, 0, c->now, &why, ref);
        if (st < 0)
            return st;
        if (why == ORDER_PAID)
            field_errors_add(&c->errs, a, "orderNumber",
                             "order %s is already paid (payment link %s); reverse or void that "
                             "payment before asking for a new one",
                             b->order_number, ref);
        else if (why == ORDER_IN_PROGRESS)
            field_errors_add(&c->errs, a, "orderNumber",
                             "order %s has a payment in progress (payment link %s); wait for "
                             "its outcome",
                             b->order_number, ref);
        else if (why == ORDER_LIVE)
            field_errors_add(&c->errs, a, "orderNumber",
                             "order %s already has a live payment link (%s); cancel it or wait "
                             "until it expires",
                             b->order_number, ref);
    }
    if (c->errs.count || c->errs.dropped)
        return DB_ROLLBACK;

    /* the link */
    struct db_link *l = &c->link;
    memcpy(l->merchant_id, m.id, sizeof l->merchant_id);
    links_new_ref(l->ref);
    links_new_token(l->token);
    l->order_number = b->order_number;
    l->channel = b->channel.v;
    snprintf(l->msisdn_to, sizeof l->msisdn_to, "%s", b->to);
    snprintf(l->msisdn_from, sizeof l->msisdn_from, "%s",
             b->from ? b->from : (l->channel == CHANNEL_WHATSAPP ? m.whatsapp_from : m.sms_from));
    memcpy(l->currency, b->currency->code, 4);
    l->transaction_type =
        b->transaction_type.set ? b->transaction_type.v : m.default_transaction_type;
    snprintf(l->application_id, sizeof l->application_id, "%s",
             b->application_id ? b->application_id : "");
    snprintf(l->gateway_settings_id, sizeof l->gateway_settings_id, "%s",
             b->gateway_settings_id ? b->gateway_settings_id : "");
    l->reconciliation_id = b->reconciliation_id;
    l->merchant_descriptor = b->merchant_descriptor;
    l->additional_data =
        b->additional_data
            ? json_object_to_json_string_ext(b->additional_data, JSON_C_TO_STRING_PLAIN |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE)
            : NULL;
    l->line_items =
        b->items.count ? json_object_to_json_string_ext(
                             c->items_json, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                       : NULL;
    l->auto_reversal = b->auto_reversal.set && b->auto_reversal.v;
    l->request_timestamp = b->timestamp.v;
    l->status = LINK_PAYMENT_LINK_REQUEST_RECEIVED;
    l->payment_status = PAY_PENDING;
    l->live = true;
    l->created_at = c->now;
    l->expires_at = c->now + m.link_ttl_s * 1000000;
    c->link_ttl_s = m.link_ttl_s;
    c->page_ttl_s = m.page_ttl_s;
    st = DB_CALL(tx, links, insert, l);
    if (st < 0)
        return st;
    struct db_link_status first = {.status = LINK_PAYMENT_LINK_REQUEST_RECEIVED,
                                   .created_at = c->now};
    st = DB_CALL(tx, links, status_append, m.id, l->id, &first);
    if (st < 0)
        return st;
    if (l->channel != CHANNEL_NONE) {
        struct db_job job = {.kind = JOB_SEND_LINK, .link_id = l->id, .run_at = c->now};
        memcpy(job.merchant_id, m.id, sizeof job.merchant_id);
        st = DB_CALL(tx, jobs, insert, &job);
        if (st < 0)
            return st;
    }

    /* the reply, stored with the idempotency key in this same transaction */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "paymentLinkRef", json_object_new_string(l->ref));
    json_object_object_add(o, "transactionStatus",
                           json_object_new_string(link_status_name(l->status)));
    json_object_object_add(o, "transactionStatusId", json_object_new_int(l->status));
    json_object_object_add(o, "timestamp", json_time(c->now));
    json_object_object_add(o, "paymentLinkTTL", json_object_new_int64(c->link_ttl_s / 60));
    json_object_object_add(o, "paymentPageTTL", json_object_new_int64(c->page_ttl_s / 60));
    if (b->return_link.set && b->return_link.v)
        json_object_object_add(o, "paymentLink", json_object_new_string(links_url(r, l->token)));
    size_t len;
    const char *text = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    c->reply = arena_strndup(a, text, len);
    c->reply_len = len;
    json_object_put(o);
    st = http_idempotency_store(tx, r, 201, c->reply);
    if (st < 0)
        return st;
    return DB_ONE_RESULT;
}

void api_chat2pay_create(struct req *r)
{
    struct create_ctx *c = arena_alloc(r->arena, sizeof *c);
    c->r = r;
    c->now = time_now();
    fieldspec_parse(create_spec, r->json, &c->body, r->arena, &c->errs);
    check_amounts(c);
    c->errs_base = c->errs.count;
    c->dropped_base = c->errs.dropped;
    /* the configuration rules run (and report) even when the syntax had problems */
    enum db_status st = db_run(r->app->db, DB_WRITE, "chat2pay_create", create_cb, c);
    json_object_put(c->items_json);
    if (st == DB_ROLLBACK) {
        reply_field_errors(r, &c->errs);
        return;
    }
    if (st < 0) {
        api_reply_db_error(r, st);
        return;
    }
    links_wake_workers(r->app);
    reply_text(r, 201, "application/json", c->reply, c->reply_len);
}
