/*
 * messages.c — POST /v1/{sid}/messages: send an order_details message (a
 * WhatsApp Pay order) to a customer. JSON, or a form whose `action` is JSON
 * text. Every field is checked (all problems at once, as {field: reason});
 * then, in one transaction, the business number and payment configuration
 * must be this account's, and the order is stored with the job that sends
 * it (service/whatsapp.c).
 */
#include "api/whatsapp/whatsapp.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "core/currency.h"
#include "core/fieldspec.h"
#include "db/merchants.h"
#include "db/providers.h"
#include "service/whatsapp.h"
#include "util/form.h"
#include "util/json.h"

enum { ITEMS_MAX = 999, NOTES_MAX = 15, TEXT_MAX = 256 };
#define VALUE_MAX 999999999999999LL

struct amount {
    struct fv_int value, offset;
};
#define AM(f) offsetof(struct amount, f)
static const struct field_spec amount_spec[] = {
    {.name = "value",
     .kind = FIELD_INT,
     .offset = AM(value),
     .flags = FIELD_REQUIRED,
     .min = 0,
     .max = VALUE_MAX},
    {.name = "offset",
     .kind = FIELD_INT,
     .offset = AM(offset),
     .flags = FIELD_REQUIRED,
     .min = 1,
     .max = 1000000000},
    {.name = NULL},
};

struct item {
    const char *retailer_id, *name;
    json_object *amount;
    struct fv_int quantity;
};
#define IT(f) offsetof(struct item, f)
static const struct field_spec item_spec[] = {
    {.name = "retailer_id",
     .kind = FIELD_STRING,
     .offset = IT(retailer_id),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = 100},
    {.name = "name",
     .kind = FIELD_STRING,
     .offset = IT(name),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = 60},
    {.name = "amount", .kind = FIELD_OBJECT, .offset = IT(amount), .flags = FIELD_REQUIRED},
    {.name = "quantity",
     .kind = FIELD_INT,
     .offset = IT(quantity),
     .flags = FIELD_REQUIRED,
     .min = 1,
     .max = 10000},
    {.name = NULL},
};

struct order {
    const char *status;
    struct fv_array items;
    json_object *subtotal, *tax;
};
#define OR(f) offsetof(struct order, f)
static const struct field_spec order_spec[] = {
    {.name = "status",
     .kind = FIELD_STRING,
     .offset = OR(status),
     .flags = FIELD_REQUIRED,
     .max = 16},
    {.name = "items",
     .kind = FIELD_ARRAY,
     .offset = OR(items),
     .flags = FIELD_REQUIRED,
     .min = 1,
     .max = ITEMS_MAX,
     .sub = item_spec,
     .sub_size = sizeof(struct item)},
    {.name = "subtotal", .kind = FIELD_OBJECT, .offset = OR(subtotal), .flags = FIELD_REQUIRED},
    {.name = "tax", .kind = FIELD_OBJECT, .offset = OR(tax)},
    {.name = NULL},
};

struct params {
    const char *reference_id, *type, *payment_configuration, *currency, *receipt;
    json_object *total_amount, *order, *notes;
    const char *udf[4], *info[7];
};
#define PA(f) offsetof(struct params, f)
#define TEXT_FIELD(n, f)                                                                           \
    {                                                                                              \
        .name = n, .kind = FIELD_STRING, .offset = PA(f), .max = TEXT_MAX                          \
    }
static const struct field_spec params_spec[] = {
    {.name = "reference_id",
     .kind = FIELD_STRING,
     .offset = PA(reference_id),
     .flags = FIELD_REQUIRED,
     .max = 35},
    {.name = "type", .kind = FIELD_STRING, .offset = PA(type), .flags = FIELD_REQUIRED, .max = 32},
    {.name = "payment_configuration",
     .kind = FIELD_STRING,
     .offset = PA(payment_configuration),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = WA_ID_MAX},
    {.name = "currency",
     .kind = FIELD_STRING,
     .offset = PA(currency),
     .flags = FIELD_REQUIRED,
     .max = 3},
    {.name = "total_amount",
     .kind = FIELD_OBJECT,
     .offset = PA(total_amount),
     .flags = FIELD_REQUIRED},
    {.name = "order", .kind = FIELD_OBJECT, .offset = PA(order), .flags = FIELD_REQUIRED},
    {.name = "receipt", .kind = FIELD_STRING, .offset = PA(receipt), .max = 100},
    {.name = "notes", .kind = FIELD_OBJECT, .offset = PA(notes)},
    TEXT_FIELD("udf1", udf[0]),
    TEXT_FIELD("udf2", udf[1]),
    TEXT_FIELD("udf3", udf[2]),
    TEXT_FIELD("udf4", udf[3]),
    TEXT_FIELD("additional_info1", info[0]),
    TEXT_FIELD("additional_info2", info[1]),
    TEXT_FIELD("additional_info3", info[2]),
    TEXT_FIELD("additional_info4", info[3]),
    TEXT_FIELD("additional_info5", info[4]),
    TEXT_FIELD("additional_info6", info[5]),
    TEXT_FIELD("additional_info7", info[6]),
    {.name = NULL},
};

struct action {
    const char *name;
    json_object *parameters;
};
static const struct field_spec action_spec[] = {
    {.name = "name",
     .kind = FIELD_STRING,
     .offset = offsetof(struct action, name),
     .flags = FIELD_REQUIRED,
     .max = 32},
    {.name = "parameters",
     .kind = FIELD_OBJECT,
     .offset = offsetof(struct action, parameters),
     .flags = FIELD_REQUIRED},
    {.name = NULL},
};

struct message {
    const char *to, *from, *channel, *type, *body, *footer;
    json_object *action;
};
#define MS(f) offsetof(struct message, f)
static const struct field_spec message_spec[] = {
    {.name = "to", .kind = FIELD_MSISDN, .offset = MS(to), .flags = FIELD_REQUIRED},
    {.name = "from", .kind = FIELD_MSISDN, .offset = MS(from), .flags = FIELD_REQUIRED},
    {.name = "channel",
     .kind = FIELD_STRING,
     .offset = MS(channel),
     .flags = FIELD_REQUIRED,
     .max = 16},
    {.name = "type", .kind = FIELD_STRING, .offset = MS(type), .flags = FIELD_REQUIRED, .max = 32},
    {.name = "body",
     .kind = FIELD_STRING,
     .offset = MS(body),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = 1024},
    {.name = "footer", .kind = FIELD_STRING, .offset = MS(footer), .max = 60},
    {.name = "action", .kind = FIELD_OBJECT, .offset = MS(action), .flags = FIELD_REQUIRED},
    {.name = NULL},
};

struct check {
    struct req *r;
    struct field_errors *errs;
    const struct currency *cur;
    int64_t offset; /* 10^exponent */
};

/* Parse obj with spec, its problems under `prefix.`. */
static void parse_under(struct check *k, const struct field_spec *spec, json_object *obj, void *out,
                        const char *prefix)
{
    struct field_errors sub = {0};
    fieldspec_parse(spec, obj, out, k->r->arena, &sub);
    for (size_t i = 0; i < sub.count; i++)
        field_errors_add(k->errs, k->r->arena, NULL, "%s.%s", prefix, sub.items[i]);
}

/* An amount {value, offset} in the currency: its value, or -1. */
static int64_t amount_of(struct check *k, json_object *obj, const char *path)
{
    struct amount a = {0};
    struct field_errors *e = k->errs;
    size_t before = e->count;
    parse_under(k, amount_spec, obj, &a, path);
    if (e->count != before || !a.value.set || !a.offset.set)
        return -1;
    if (k->cur && a.offset.v != k->offset) {
        field_errors_add(e, k->r->arena, NULL, "%s.offset: must be %lld for %s", path,
                         (long long)k->offset, k->cur->code);
        return -1;
    }
    return k->cur ? a.value.v : -1;
}

static bool reference_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 35 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

struct send_ctx {
    struct req *r;
    const char *from;
    struct db_wa_order o;
    enum wa_refusal refusal;
    const char *field, *why;
    unsigned queued;
};

static enum db_status send_cb(struct db_tx *tx, void *cls)
{
    struct send_ctx *c = cls;
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, c->r->auth.merchant_id, &m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    st = svc_wa_order_create(&s, &m, c->from, &c->o, &c->refusal, &c->field, &c->why);
    if (st < 0)
        return st;
    if (c->refusal != WA_OK)
        return DB_ROLLBACK;
    c->queued = s.queued;
    return DB_ONE_RESULT;
}

/* Is the merchant's WhatsApp channel on, are the business number and the
 * payment configuration this account's, and has the customer not opted out
 * of its messages? */
struct reg_ctx {
    struct req *r;
    struct field_errors *errs;
    const char *from, *config, *to;
    size_t base;
};

static enum db_status registered_cb(struct db_tx *tx, void *cls)
{
    struct reg_ctx *c = cls;
    const char *mid = c->r->auth.merchant_id;
    if (c->base == 0)
        c->base = c->errs->count + 1;
    c->errs->count = c->base - 1; /* a retry starts again */
    struct db_merchant m;
    enum db_status st = DB_CALL(tx, merchants, get, mid, &m);
    if (st == 0)
        st = DB_HARD_ERROR;
    if (st > 0 && !m.whatsapp_enabled)
        field_errors_add(c->errs, c->r->arena, "channel", "%s", WA_CHANNEL_OFF);
    if (st >= 0 && c->from) {
        struct db_wa_number n;
        st = DB_CALL(tx, whatsapp, number_by_display, mid, c->from, &n);
        if (st == 0)
            field_errors_add(c->errs, c->r->arena, "from",
                             "is not a registered WhatsApp business number of this account");
    }
    if (st >= 0 && c->config) {
        struct db_wa_config cfg;
        st = DB_CALL(tx, whatsapp, config_get, mid, c->config, &cfg);
        if (st == 0 || (st > 0 && !cfg.enabled))
            field_errors_add(c->errs, c->r->arena, "action.parameters.payment_configuration",
                             "is not a payment configuration of this account");
    }
    if (st >= 0 && c->to) {
        st = DB_CALL(tx, providers, optout_get, mid, c->to);
        if (st > 0)
            field_errors_add(c->errs, c->r->arena, "to",
                             "%s opted out of this merchant's messages (replied STOP); they can "
                             "opt back in by replying START",
                             c->to);
    }
    return st < 0 ? st : DB_ONE_RESULT;
}

/* The request's body as a JSON object (a form's fields as strings, its
 * action parsed), or NULL with *why. */
static json_object *request_object(struct req *r, const char **why)
{
    size_t len = 0;
    const char *body = req_body(r, &len);
    const char *ct = req_header(r, "Content-Type");
    if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0) {
        json_object *o = json_object_new_object();
        static const char *const names[] = {"to", "from", "channel", "type", "body", "footer"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            const char *v = form_get(r->arena, body, len, names[i]);
            if (v)
                json_object_object_add(o, names[i], json_object_new_string(v));
        }
        const char *action = form_get(r->arena, body, len, "action");
        if (action) {
            json_object *a = json_parse_request_object(action, strlen(action));
            json_object_object_add(o, "action", a ? a : json_object_new_string(action));
        }
        return o;
    }
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        *why = "must be application/json or application/x-www-form-urlencoded";
        return NULL;
    }
    json_object *o = json_parse_request_object(body, len);
    if (!o)
        *why = "must be a JSON object";
    return o;
}

void api_wa_messages(struct req *r)
{
    const char *why = NULL;
    json_object *root = request_object(r, &why);
    if (!root) {
        const char *f = "body";
        wa_reply_error(r, strstr(why, "application/json or") ? 415 : 400,
                       strstr(why, "application/json or") ? "WA415" : "WA400", "Validation failed",
                       &f, &why, 1);
        return;
    }
    struct field_errors errs = {0};
    struct check k = {.r = r, .errs = &errs};
    struct message m = {0};
    struct action act = {0};
    struct params p = {0};
    struct order ord = {0};
    struct arena *a = r->arena;
    fieldspec_parse(message_spec, root, &m, a, &errs);
    if (m.channel && strcmp(m.channel, "whatsapp") != 0)
        field_errors_add(&errs, a, "channel", "must be whatsapp");
    if (m.type && strcmp(m.type, "order_details") != 0)
        field_errors_add(&errs, a, "type", "must be order_details");
    if (m.action)
        parse_under(&k, action_spec, m.action, &act, "action");
    if (act.name && strcmp(act.name, "review_and_pay") != 0)
        field_errors_add(&errs, a, "action.name", "must be review_and_pay");
    if (act.parameters)
        parse_under(&k, params_spec, act.parameters, &p, "action.parameters");
    const char *P = "action.parameters";
    if (p.reference_id && !reference_ok(p.reference_id))
        field_errors_add(&errs, a, NULL, "%s.reference_id: must be 1 to 35 of A-Z a-z 0-9 _ . -",
                         P);
    if (p.type && strcmp(p.type, "digital-goods") != 0 && strcmp(p.type, "physical-goods") != 0)
        field_errors_add(&errs, a, NULL, "%s.type: must be digital-goods or physical-goods", P);
    if (p.currency) {
        k.cur = currency_find_upper(p.currency);
        if (!k.cur)
            field_errors_add(&errs, a, NULL,
                             "%s.currency: must be an ISO 4217 code in upper case (e.g. INR)", P);
        k.offset = 1;
        for (int i = 0; k.cur && i < k.cur->exponent; i++)
            k.offset *= 10;
    }
    if (p.notes) {
        int n = 0;
        json_object_object_foreach(p.notes, key, v)
        {
            if (++n > NOTES_MAX) {
                field_errors_add(&errs, a, NULL, "%s.notes: at most %d notes", P, NOTES_MAX);
                break;
            }
            /* characters, not bytes, and no control character: the rule
             * of every text field */
            size_t name_chars = 0, value_chars = 0;
            if (!json_object_is_type(v, json_type_string) ||
                !fieldspec_text(json_object_get_string(v), (size_t)json_object_get_string_len(v),
                                &value_chars) ||
                !fieldspec_text(key, strlen(key), &name_chars) || value_chars > TEXT_MAX ||
                name_chars > TEXT_MAX)
                field_errors_add(&errs, a, NULL,
                                 "%s.notes: each note must be a string of at most %d characters "
                                 "under a name of at most %d, without control characters",
                                 P, TEXT_MAX, TEXT_MAX);
        }
    }
    int64_t total =
        p.total_amount ? amount_of(&k, p.total_amount, "action.parameters.total_amount") : -1;
    if (total == 0)
        field_errors_add(&errs, a, NULL, "%s.total_amount.value: must be at least 1", P);
    int64_t subtotal = -1, tax = 0, items_sum = 0;
    bool items_ok = true;
    if (p.order) {
        parse_under(&k, order_spec, p.order, &ord, "action.parameters.order");
        if (ord.status && strcmp(ord.status, "pending") != 0)
            field_errors_add(&errs, a, NULL, "%s.order.status: must be pending", P);
        if (ord.subtotal)
            subtotal = amount_of(&k, ord.subtotal, "action.parameters.order.subtotal");
        if (ord.tax)
            tax = amount_of(&k, ord.tax, "action.parameters.order.tax");
        const struct item *it = ord.items.items;
        for (size_t i = 0; i < ord.items.count; i++) {
            char path[80];
            snprintf(path, sizeof path, "action.parameters.order.items[%zu].amount", i);
            int64_t v = it[i].amount ? amount_of(&k, it[i].amount, path) : -1, line;
            if (v < 0 || !it[i].quantity.set) {
                items_ok = false;
            } else if (__builtin_mul_overflow(v, it[i].quantity.v, &line) ||
                       __builtin_add_overflow(items_sum, line, &items_sum) ||
                       items_sum > VALUE_MAX) {
                /* no order is worth more than an amount can say */
                field_errors_add(&errs, a, NULL,
                                 "%s.order.items: the amounts times the quantities add up to "
                                 "more than %lld",
                                 P, (long long)VALUE_MAX);
                items_ok = false;
                break;
            }
        }
        items_ok = items_ok && ord.items.count > 0;
    }
    if (items_ok && subtotal >= 0 && items_sum != subtotal)
        field_errors_add(&errs, a, NULL,
                         "%s.order.subtotal: must equal the items' amounts times their "
                         "quantities (%lld, not %lld)",
                         P, (long long)items_sum, (long long)subtotal);
    if (subtotal >= 0 && tax >= 0 && total > 0 && subtotal + tax != total)
        field_errors_add(&errs, a, NULL,
                         "%s.total_amount: must equal order.subtotal + order.tax (%lld, not %lld)",
                         P, (long long)(subtotal + tax), (long long)total);
    /* the account's rules too, so that every problem is reported at once
     * (the transaction that stores the order checks them again) */
    struct reg_ctx rc = {
        .r = r, .errs = &errs, .from = m.from, .config = p.payment_configuration, .to = m.to};
    enum db_status rst = db_run(r->app->db, DB_READ, "wa_order_check", registered_cb, &rc);
    if (rst < 0) {
        json_object_put(root);
        api_reply_db_error(r, rst);
        return;
    }
    if (errs.count) {
        json_object_put(root);
        reply_field_errors(r, &errs);
        return;
    }
    struct send_ctx *c = arena_calloc(a, 1, sizeof *c);
    c->r = r;
    c->from = m.from;
    struct db_wa_order *o = &c->o;
    snprintf(o->reference_id, sizeof o->reference_id, "%s", p.reference_id);
    snprintf(o->payment_config, sizeof o->payment_config, "%s", p.payment_configuration);
    snprintf(o->msisdn_to, sizeof o->msisdn_to, "%s", m.to);
    snprintf(o->currency, sizeof o->currency, "%s", k.cur->code);
    o->total_value = total;
    o->amount_offset = k.offset;
    o->message_text = m.footer ? arena_printf(a, "%s\n%s", m.body, m.footer) : m.body;
    json_object *order = json_object_new_object();
    json_object_object_add(order, "type", json_object_new_string(p.type));
    json_object_object_add(order, "items",
                           json_object_get(json_object_object_get(p.order, "items")));
    json_object_object_add(order, "subtotal", json_object_get(ord.subtotal));
    if (ord.tax)
        json_object_object_add(order, "tax", json_object_get(ord.tax));
    o->order_json = json_text(a, order, NULL);
    json_object_put(order);
    /* what the lookup gives back, as given */
    json_object *echo = json_object_new_object();
    static const char *const echo_names[] = {"receipt",
                                             "notes",
                                             "udf1",
                                             "udf2",
                                             "udf3",
                                             "udf4",
                                             "additional_info1",
                                             "additional_info2",
                                             "additional_info3",
                                             "additional_info4",
                                             "additional_info5",
                                             "additional_info6",
                                             "additional_info7"};
    for (size_t i = 0; i < sizeof echo_names / sizeof echo_names[0]; i++) {
        json_object *v;
        if (json_object_object_get_ex(act.parameters, echo_names[i], &v) && v)
            json_object_object_add(echo, echo_names[i], json_object_get(v));
    }
    o->echo = json_text(a, echo, NULL);
    json_object_put(echo);
    json_object_put(root);

    enum db_status st = db_run(r->app->db, DB_WRITE, "wa_order", send_cb, c);
    if (st == DB_ROLLBACK && c->refusal == WA_R_FIELD) {
        wa_reply_error(r, 400, "WA400", "Validation failed", &c->field, &c->why, 1);
        return;
    }
    if (st == DB_ROLLBACK && c->refusal == WA_R_PRODUCTION) {
        const char *f = "error";
        wa_reply_error(r, 403, "WA403", c->why, &f, &c->why, 1);
        return;
    }
    if (st == DB_ROLLBACK && c->refusal == WA_R_DUPLICATE) {
        const char *f = "reference_id",
                   *dup = arena_printf(a, "%s is used by another order", o->reference_id);
        wa_reply_error(r, 409, "WA409", "Duplicate reference_id", &f, &dup, 1);
        return;
    }
    if (st < 0) {
        api_reply_db_error(r, st);
        return;
    }
    app_wake_workers(r->app, c->queued);
    json_object *res = json_object_new_object(), *data = json_object_new_array(),
                *d = json_object_new_object();
    json_object_object_add(res, "id", json_object_new_string(o->message_id));
    json_object_object_add(d, "message_id", json_object_new_string(o->message_id));
    json_object_object_add(d, "recipient", json_object_new_string(o->msisdn_to));
    json_object_object_add(d, "reference_id", json_object_new_string(o->reference_id));
    json_object_array_add(data, d);
    json_object_object_add(res, "data", data);
    json_object_object_add(res, "total_count", json_object_new_int(1));
    reply_json(r, 202, res);
    json_object_put(res);
}
