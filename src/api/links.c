/*
 * links.c — helpers shared by the payment-link endpoints (see links.h).
 */
#include "api/links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/payments.h"
#include "app.h"
#include "core/currency.h"
#include "core/status.h"
#include "jobs/worker.h"
#include "util/crypto.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"

void links_new_ref(char *out)
{
    crypto_random_base62(128, out, 22);
}

void links_new_token(char *out)
{
    crypto_random_base62(96, out, 17);
}

const char *links_url(struct req *r, const char *token)
{
    return arena_printf(r->arena, "%s/p/%s", r->app->cfg->public_url, token);
}

void links_wake_workers(struct app *app)
{
    if (app->workers)
        workers_wake(app->workers);
}

enum db_status links_first_open(struct db_tx *tx, struct db_link *l, const struct db_merchant *m,
                                usec_t now)
{
    l->clicked_at = now;
    l->expires_at = now + m->click_ttl_s * 1000000;
    l->page_expires_at = now + m->page_ttl_s * 1000000;
    l->status = LINK_PAYMENT_LINK_CLICKED;
    enum db_status st = DB_CALL(tx, links, update, l);
    if (st < 0)
        return st;
    struct db_link_status s = {.status = LINK_PAYMENT_LINK_CLICKED, .created_at = now};
    return DB_CALL(tx, links, status_append, l->merchant_id, l->id, &s);
}

json_object *links_amount_json(int64_t minor, const char *currency)
{
    const struct currency *c = currency_find(currency);
    char text[32];
    money_format(minor, c ? c->exponent : 2, text, sizeof text);
    return json_object_new_double_s(strtod(text, NULL), text);
}

static void add_string(json_object *o, const char *key, const char *v)
{
    if (v)
        json_object_object_add(o, key, json_object_new_string(v));
}

struct ops_ctx {
    const struct db_link *l;
    json_object *list;
};

static void add_payment_entry(void *cls, const struct db_payment_op *op)
{
    struct ops_ctx *c = cls;
    json_object_array_add(c->list, payments_op_json(op, c->l));
}

static void add_status_entry(void *cls, const struct db_link_status *s)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "transactionStatusId", json_object_new_int(s->status));
    json_object_object_add(e, "transactionStatusName",
                           json_object_new_string(link_status_name(s->status)));
    json_object_object_add(e, "created", json_time(s->created_at));
    if (s->http_code)
        json_object_object_add(e, "httpResponseCode", json_object_new_int(s->http_code));
    add_string(e, "responseCode", s->response_code);
    add_string(e, "responseCodeDescription", s->response_desc);
    json_object_array_add(cls, e);
}

/* Stored line items (minor units) → LineItemResponse objects. */
static json_object *line_items_json(const char *stored, const char *currency)
{
    json_object *out = json_object_new_array();
    json_object *in = stored ? json_tokener_parse(stored) : NULL;
    size_t n = in && json_object_is_type(in, json_type_array) ? json_object_array_length(in) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *it = json_object_array_get_idx(in, i), *v;
        json_object *o = json_object_new_object();
        if (json_object_object_get_ex(it, "code", &v))
            json_object_object_add(o, "code", json_object_get(v));
        if (json_object_object_get_ex(it, "name", &v))
            json_object_object_add(o, "name", json_object_get(v));
        if (json_object_object_get_ex(it, "quantity", &v))
            json_object_object_add(o, "quantity", json_object_get(v));
        if (json_object_object_get_ex(it, "sku", &v))
            json_object_object_add(o, "sku", json_object_get(v));
        if (json_object_object_get_ex(it, "unitPriceMinor", &v))
            json_object_object_add(o, "unitPrice",
                                   links_amount_json(json_object_get_int64(v), currency));
        if (json_object_object_get_ex(it, "taxAmountMinor", &v))
            json_object_object_add(o, "taxAmount",
                                   links_amount_json(json_object_get_int64(v), currency));
        json_object_array_add(out, o);
    }
    json_object_put(in);
    return out;
}

enum db_status links_status_json(struct db_tx *tx, struct arena *a, const struct db_link *l,
                                 enum db_environment env, json_object **out)
{
    json_object *history = json_object_new_array();
    enum db_status st =
        DB_CALL(tx, links, status_list, l->merchant_id, l->id, a, add_status_entry, history);
    if (st < 0) {
        json_object_put(history);
        return st;
    }
    struct ops_ctx ops = {.l = l, .list = json_object_new_array()};
    st = DB_CALL(tx, payments, list, l->merchant_id, l->id, add_payment_entry, &ops);
    if (st < 0) {
        json_object_put(history);
        json_object_put(ops.list);
        return st;
    }
    json_object *integrator = NULL;
    if (l->application_id[0]) {
        struct db_integrator it;
        st = DB_CALL(tx, integrators, get, l->merchant_id, l->application_id, &it);
        if (st < 0) {
            json_object_put(history);
            json_object_put(ops.list);
            return st;
        }
        if (st > 0) {
            integrator = json_object_new_object();
            json_object_object_add(integrator, "applicationId",
                                   json_object_new_string(it.application_id));
            json_object_object_add(integrator, "name", json_object_new_string(it.name));
        }
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "orderNumber", json_object_new_string(l->order_number));
    json_object_object_add(o, "paymentLinkRef", json_object_new_string(l->ref));
    json_object_object_add(o, "transactionStatuses", history);
    json_object_object_add(o, "paymentStatuses", ops.list);
    json_object_object_add(o, "paymentStatus",
                           json_object_new_string(payment_status_name(l->payment_status)));
    char id[8];
    snprintf(id, sizeof id, "%d", l->payment_status);
    json_object_object_add(o, "paymentStatusId", json_object_new_string(id));
    if (l->payment_status_at)
        json_object_object_add(o, "paymentStatusTimestamp", json_time(l->payment_status_at));
    if (l->conversion_at)
        json_object_object_add(o, "paymentStatusConversionTime", json_time(l->conversion_at));
    json_object_object_add(o, "totalAmount", links_amount_json(l->total_minor, l->currency));
    add_string(o, "receiptLinkRef", l->receipt_ref);
    json_object_object_add(o, "channelName", json_object_new_string(channel_name(l->channel)));
    json_object_object_add(o, "currency", json_object_new_string(l->currency));
    if (l->has_tax)
        json_object_object_add(o, "taxAmount", links_amount_json(l->tax_minor, l->currency));
    if (l->has_subtotal)
        json_object_object_add(o, "subTotalAmount",
                               links_amount_json(l->subtotal_minor, l->currency));
    add_string(o, "additionalData", l->additional_data);
    if (integrator)
        json_object_object_add(o, "integrator", integrator);
    json_object_object_add(o, "paymentReviewAutoReversal",
                           json_object_new_boolean(l->auto_reversal));
    json_object_object_add(o, "transactionType",
                           json_object_new_string(transaction_type_name(l->transaction_type)));
    json_object_object_add(o, "environment", json_object_new_string(db_environment_name(env)));
    add_string(o, "reconciliationId", l->reconciliation_id);
    add_string(o, "merchantDescriptor", l->merchant_descriptor);
    json_object_object_add(o, "orderLineItems", line_items_json(l->line_items, l->currency));
    *out = o;
    return DB_ONE_RESULT;
}
