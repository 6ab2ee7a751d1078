/*
 * views.c — the wire format's views of links and payments (see views.h).
 */
#include "service/views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/currency.h"
#include "db/merchants.h"
#include "db/providers.h"
#include "core/status.h"
#include "service/payments.h"
#include "util/json.h"

const char *svc_link_url(struct svc *s, const char *token)
{
    return arena_printf(s->a, "%s/p/%s", s->cfg->public_url, token);
}

struct message_link svc_message_link(const struct db_link *l, const struct db_merchant *m,
                                     const char *url)
{
    return (struct message_link){
        .channel = l->channel,
        .merchant_name = m->name,
        .order_number = l->order_number,
        .total_minor = l->total_minor,
        .currency = currency_find(l->currency),
        .link_url = url,
    };
}

json_object *svc_amount_json(int64_t minor, const char *currency)
{
    const struct currency *c = currency_find(currency);
    char text[32];
    money_format(minor, c ? c->exponent : 2, text, sizeof text);
    return json_object_new_double_s(strtod(text, NULL), text);
}

struct ops_ctx {
    const struct db_link *l;
    json_object *list;
    json_object *refunds;
    int64_t refunded;
};

static void add_payment_entry(void *cls, const struct db_payment_op *op)
{
    struct ops_ctx *c = cls;
    if (op->op == GW_OP_REFUND) {
        if (c->refunds)
            json_object_array_add(c->refunds, svc_refund_view(op, c->l));
        if (op->state == 1 && op->decision == GW_ACCEPT)
            c->refunded += op->amount_minor;
        return;
    }
    if (c->list)
        json_object_array_add(c->list, svc_op_view(op, c->l));
}

/* What the gateway answered to an operation (UNKNOWN while pending). */
static void add_gateway_answer(json_object *o, const struct db_payment_op *op)
{
    json_object_object_add(
        o, "paymentGatewayDecision",
        json_object_new_string(op->state ? gw_decision_name(op->decision) : "UNKNOWN"));
    json_add_string(o, "paymentGatewayReqReferenceNumber", op->request_ref, true);
    if (op->gateway_at)
        json_object_object_add(o, "paymentGatewayResponseTimestamp", json_time(op->gateway_at));
    if (op->response_code)
        json_object_object_add(o, "paymentGatewayResponseCode",
                               json_object_new_int(op->response_code));
    json_add_string(o, "paymentGatewayErrorDecision", op->error_text, true);
}

enum db_status svc_refunded(struct svc *s, const struct db_link *l, int64_t *out)
{
    struct ops_ctx ops = {.l = l};
    enum db_status st =
        DB_CALL(s->tx, payments, list, l->merchant_id, l->id, add_payment_entry, &ops);
    *out = ops.refunded;
    return st;
}

json_object *svc_refund_view(const struct db_payment_op *op, const struct db_link *l)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "refundRef", json_object_new_string(op->ref));
    json_object_object_add(o, "amount", svc_amount_json(op->amount_minor, l->currency));
    const char *status = op->state == 0              ? "PENDING"
                         : op->decision == GW_ACCEPT ? "SUCCEEDED"
                                                     : "FAILED";
    json_object_object_add(o, "status", json_object_new_string(status));
    json_object_object_add(o, "created", json_time(op->created_at));
    if (op->state)
        json_object_object_add(o, "updated", json_time(op->updated_at));
    add_gateway_answer(o, op);
    return o;
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
    json_add_string(e, "responseCode", s->response_code, false);
    json_add_string(e, "responseCodeDescription", s->response_desc, false);
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
                                   svc_amount_json(json_object_get_int64(v), currency));
        if (json_object_object_get_ex(it, "taxAmountMinor", &v))
            json_object_object_add(o, "taxAmount",
                                   svc_amount_json(json_object_get_int64(v), currency));
        json_object_array_add(out, o);
    }
    json_object_put(in);
    return out;
}

enum db_status svc_link_view(struct svc *s, const struct db_link *l, enum db_environment env,
                             json_object **out)
{
    struct db_tx *tx = s->tx;
    struct arena *a = s->a;
    json_object *history = json_object_new_array();
    enum db_status st =
        DB_CALL(tx, links, status_list, l->merchant_id, l->id, a, add_status_entry, history);
    if (st < 0) {
        json_object_put(history);
        return st;
    }
    struct ops_ctx ops = {
        .l = l, .list = json_object_new_array(), .refunds = json_object_new_array()};
    st = DB_CALL(tx, payments, list, l->merchant_id, l->id, add_payment_entry, &ops);
    if (st < 0) {
        json_object_put(history);
        json_object_put(ops.list);
        json_object_put(ops.refunds);
        return st;
    }
    json_object *integrator = NULL;
    if (l->application_id[0]) {
        struct db_integrator it;
        st = DB_CALL(tx, integrators, get, l->merchant_id, l->application_id, &it);
        if (st < 0) {
            json_object_put(history);
            json_object_put(ops.list);
            json_object_put(ops.refunds);
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
    json_object_object_add(o, "totalAmount", svc_amount_json(l->total_minor, l->currency));
    json_add_string(o, "receiptLinkRef", l->receipt_ref, false);
    json_object_object_add(o, "channelName", json_object_new_string(channel_name(l->channel)));
    json_object_object_add(o, "currency", json_object_new_string(l->currency));
    if (l->has_tax)
        json_object_object_add(o, "taxAmount", svc_amount_json(l->tax_minor, l->currency));
    if (l->has_subtotal)
        json_object_object_add(o, "subTotalAmount",
                               svc_amount_json(l->subtotal_minor, l->currency));
    json_add_string(o, "additionalData", l->additional_data, false);
    if (integrator)
        json_object_object_add(o, "integrator", integrator);
    json_object_object_add(o, "paymentReviewAutoReversal",
                           json_object_new_boolean(l->auto_reversal));
    json_object_object_add(o, "transactionType",
                           json_object_new_string(transaction_type_name(l->transaction_type)));
    json_object_object_add(o, "environment", json_object_new_string(db_environment_name(env)));
    json_add_string(o, "reconciliationId", l->reconciliation_id, false);
    json_add_string(o, "merchantDescriptor", l->merchant_descriptor, false);
    json_object_object_add(o, "orderLineItems", line_items_json(l->line_items, l->currency));
    /* chatpay's extension: refunds of the payment */
    json_object_object_add(o, "refunds", ops.refunds);
    json_object_object_add(o, "refundedAmount", svc_amount_json(ops.refunded, l->currency));
    *out = o;
    return DB_ONE_RESULT;
}

json_object *svc_op_view(const struct db_payment_op *op, const struct db_link *l)
{
    static const char *const op_names[] = {"",        "Authorization", "Sale",
                                           "Capture", "Authorization", "Void"};
    json_object *o = json_object_new_object();
    json_object_object_add(
        o, "transactionType",
        json_object_new_string(op->op >= 1 && op->op <= 5 ? op_names[op->op] : "Sale"));
    json_object_object_add(o, "totalAmount", svc_amount_json(op->amount_minor, l->currency));
    add_gateway_answer(o, op);
    json_add_string(o, "paymentGatewayAuthReconciliationReferenceNumber", op->auth_ref, true);
    json_add_string(o, "cardType", op->card_type, true);
    json_add_string(o, "maskedCardNumber", op->masked_pan, true);
    json_add_string(o, "cardExpiryDate", op->expiry, true);
    json_add_string(o, "statusReason", op->note, true);
    /* the status this operation produced (a capture: the payment stays SUCCESS),
     * not the link's current one */
    int status = op->state ? svc_payment_status_after(op, PAY_SUCCESS) : PAY_UNKNOWN;
    json_object_object_add(o, "paymentStatus", json_object_new_string(payment_status_name(status)));
    char id[8];
    snprintf(id, sizeof id, "%d", status);
    json_object_object_add(o, "paymentStatusId", json_object_new_string(id));
    return o;
}

enum db_status svc_link_find_view(struct svc *s, const char *merchant_id, const char *ref,
                                  const char *order, const char *receipt, json_object **out)
{
    struct db_link l;
    enum db_status st;
    if (ref)
        st = DB_CALL(s->tx, links, get_by_ref, merchant_id, ref, s->a, &l);
    else if (order)
        st = DB_CALL(s->tx, links, get_by_order, merchant_id, order, s->a, &l);
    else
        st = DB_CALL(s->tx, links, get_by_receipt, merchant_id, receipt, s->a, &l);
    if (st <= 0)
        return st;
    struct db_merchant m;
    st = DB_CALL(s->tx, merchants, get, merchant_id, &m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    return svc_link_view(s, &l, m.environment, out);
}

/* ---- configuration ------------------------------------------------------------------ */

static json_object *currency_json(const struct db_currency *dc)
{
    const struct currency *cur = currency_find(dc->code);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int(cur ? cur->numeric : 0));
    json_object_object_add(o, "iso", json_object_new_string(dc->code));
    json_object_object_add(o, "name", json_object_new_string(cur ? cur->name : dc->code));
    json_object_object_add(o, "symbol", json_object_new_string(cur ? cur->symbol : dc->code));
    json_object_object_add(o, "isDefault", json_object_new_boolean(dc->is_default));
    return o;
}

static void add_integrator(void *cls, const struct db_integrator *it)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "applicationId", json_object_new_string(it->application_id));
    json_object_object_add(o, "name", json_object_new_string(it->name));
    json_object_object_add(o, "status",
                           json_object_new_string(db_integrator_status_name(it->status)));
    json_object_object_add(o, "type", json_object_new_string(db_integrator_type_name(it->type)));
    json_object_array_add(cls, o);
}

struct newest_key {
    struct arena *a;
    usec_t created_at;
    const char *masked;
};

static void newest_key_cb(void *cls, const struct db_api_key *k)
{
    struct newest_key *n = cls;
    if (k->revoked_at || (n->masked && k->created_at < n->created_at))
        return;
    n->created_at = k->created_at;
    n->masked = arena_printf(n->a, "%s****%s", k->prefix, k->last4);
}

/* Can the merchant send on a channel whose provider is provider_id ("":
 * none selected)? The sandbox channel serves sandbox merchants; a selected
 * provider must be healthy. */
static enum db_status channel_works(struct svc *s, const struct db_merchant *m,
                                    const char *provider_id, bool *works)
{
    *works = false;
    if (!provider_id[0]) {
        *works = m->environment == ENV_SANDBOX;
        return DB_ONE_RESULT;
    }
    struct db_provider p;
    enum db_status st = DB_CALL(s->tx, providers, get, m->id, provider_id, s->a, &p);
    *works = st > 0 && p.healthy;
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_config_view(struct svc *s, const char *merchant_id, const char *api_key,
                               json_object **out)
{
    struct db_merchant m;
    enum db_status st = DB_CALL(s->tx, merchants, get, merchant_id, &m);
    if (st <= 0)
        return st;
    struct db_currency cur[DB_MAX_CURRENCIES];
    size_t ncur = 0;
    st = DB_CALL(s->tx, currencies, list, merchant_id, cur, DB_MAX_CURRENCIES, &ncur);
    if (st < 0)
        return st;
    if (!api_key) {
        struct newest_key n = {.a = s->a};
        st = DB_CALL(s->tx, api_keys, list, merchant_id, newest_key_cb, &n);
        if (st < 0)
            return st;
        api_key = n.masked;
    }
    bool sms_works, wa_works;
    if ((st = channel_works(s, &m, m.sms_provider, &sms_works)) < 0 ||
        (st = channel_works(s, &m, m.whatsapp_provider, &wa_works)) < 0)
        return st;
    json_object *integrators = json_object_new_array();
    st = DB_CALL(s->tx, integrators, list, merchant_id, add_integrator, integrators);
    if (st < 0) {
        json_object_put(integrators);
        return st;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "updateTime", json_time(m.updated_at));
    json_object_object_add(o, "whatsappChannelEnabled",
                           json_object_new_boolean(m.whatsapp_enabled && wa_works));
    json_object_object_add(o, "smsChannelEnabled",
                           json_object_new_boolean(m.sms_enabled && sms_works));
    json_object_object_add(o, "integrators", integrators);
    json_add_string(o, "apiKey", api_key, false);
    json_object *curs = json_object_new_array_ext((int)ncur);
    for (size_t i = 0; i < ncur; i++)
        json_object_array_add(curs, currency_json(&cur[i]));
    json_object_object_add(o, "supportedCurrencies", curs);
    json_object_object_add(o, "environment",
                           json_object_new_string(db_environment_name(m.environment)));
    *out = o;
    return DB_ONE_RESULT;
}
