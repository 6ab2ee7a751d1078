/*
 * fuzz_fieldspec.c — libFuzzer target for core/fieldspec.
 *
 * Each input is parsed as JSON (bounded nesting) and run through a spec table
 * that uses every field kind, a nested array and a self-referencing array
 * (which hits the FIELD_ARRAY depth limit). Besides the sanitizers, the
 * target checks what the parser promises about its output: messages are
 * "<path>: <reason>", stored strings are valid UTF-8 within their limits,
 * phone numbers are digits only, and the return value matches the errors.
 * A broken promise aborts. The arena and the JSON tree are freed per input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "core/fieldspec.h"

/* Bound json-c's own recursion as the server does. */
#define FUZZ_JSON_DEPTH 32

struct tag {
    const char *label;
    struct fv_enum kind;
};

static const struct field_enum kind_enums[] = {
    {"red", 1, 1}, {"RED", 1, -1}, {"Colour.RED(id=1)", 1, -1}, {"green", 2, 2}, {NULL, 0, 0},
};

static const struct field_spec tag_spec[] = {
    {.name = "label",
     .kind = FIELD_STRING,
     .offset = offsetof(struct tag, label),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .min = 1,
     .max = 8},
    {.name = "kind",
     .kind = FIELD_ENUM,
     .offset = offsetof(struct tag, kind),
     .enums = kind_enums}, /* no hint: the names are listed */
    {0},
};

struct line {
    const char *name;
    struct fv_int qty;
    struct fv_dec price;
    struct fv_array tags;
};

static const struct field_spec line_spec[] = {
    {.name = "name",
     .kind = FIELD_STRING,
     .offset = offsetof(struct line, name),
     .flags = FIELD_REQUIRED,
     .max = 40},
    {.name = "qty", .kind = FIELD_INT, .offset = offsetof(struct line, qty), .min = 1, .max = 1000},
    {.name = "price",
     .kind = FIELD_DECIMAL,
     .offset = offsetof(struct line, price),
     .flags = FIELD_NONNEG},
    {.name = "tags",
     .kind = FIELD_ARRAY,
     .offset = offsetof(struct line, tags),
     .max = 4,
     .sub = tag_spec,
     .sub_size = sizeof(struct tag)},
    {0},
};

/* Self-referencing: only the depth limit stops it. */
struct node {
    struct fv_int id;
    struct fv_array kids;
};

static const struct field_spec node_spec[3] = {
    {.name = "id", .kind = FIELD_INT, .offset = offsetof(struct node, id)},
    {.name = "kids",
     .kind = FIELD_ARRAY,
     .offset = offsetof(struct node, kids),
     .max = 3,
     .sub = node_spec,
     .sub_size = sizeof(struct node)},
    {0},
};

static const struct field_enum channel_enums[] = {
    {"sms", 1, 1},
    {"whatsapp", 2, 2},
    {"ChannelType.SMS(name=SMS, id=1)", 1, -1},
    {NULL, 0, 0},
};

struct body {
    const char *name;
    const char *any;
    struct fv_bool flag;
    struct fv_int count;
    struct fv_int big;
    struct fv_dec amount;
    struct fv_dec fee;
    struct fv_dec raw;
    const char *phone;
    const struct currency *cur;
    struct fv_time when;
    struct fv_enum channel;
    json_object *meta;
    struct fv_array items;
    struct fv_array tree;
    struct fv_int lenient_int;  /* FIELD_LENIENT: "123" too */
    const char *lenient_string; /* FIELD_LENIENT: 123 too */
};

static const struct field_spec body_spec[] = {
    {.name = "name",
     .kind = FIELD_STRING,
     .offset = offsetof(struct body, name),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .min = 2,
     .max = 16},
    {.name = "any", .kind = FIELD_STRING, .offset = offsetof(struct body, any)},
    {.name = "lint",
     .kind = FIELD_INT,
     .offset = offsetof(struct body, lenient_int),
     .flags = FIELD_LENIENT,
     .min = 1,
     .max = 999999999999},
    {.name = "lstr",
     .kind = FIELD_STRING,
     .offset = offsetof(struct body, lenient_string),
     .flags = FIELD_LENIENT,
     .max = 12},
    {.name = "flag", .kind = FIELD_BOOL, .offset = offsetof(struct body, flag)},
    {.name = "count", .kind = FIELD_INT, .offset = offsetof(struct body, count)},
    {.name = "big",
     .kind = FIELD_INT,
     .offset = offsetof(struct body, big),
     .min = INT64_MIN,
     .max = INT64_MAX},
    {.name = "amount",
     .kind = FIELD_DECIMAL,
     .offset = offsetof(struct body, amount),
     .flags = FIELD_REQUIRED | FIELD_POSITIVE},
    {.name = "fee",
     .kind = FIELD_DECIMAL,
     .offset = offsetof(struct body, fee),
     .flags = FIELD_NONNEG},
    {.name = "raw", .kind = FIELD_DECIMAL, .offset = offsetof(struct body, raw)},
    {.name = "phone", .kind = FIELD_MSISDN, .offset = offsetof(struct body, phone)},
    {.name = "cur", .kind = FIELD_CURRENCY, .offset = offsetof(struct body, cur)},
    {.name = "when", .kind = FIELD_TIMESTAMP, .offset = offsetof(struct body, when)},
    {.name = "channel",
     .kind = FIELD_ENUM,
     .offset = offsetof(struct body, channel),
     .enums = channel_enums,
     .enum_hint = "sms, whatsapp"},
    {.name = "meta", .kind = FIELD_OBJECT, .offset = offsetof(struct body, meta)},
    {.name = "items",
     .kind = FIELD_ARRAY,
     .offset = offsetof(struct body, items),
     .min = 1,
     .max = 20,
     .sub = line_spec,
     .sub_size = sizeof(struct line)},
    {.name = "tree",
     .kind = FIELD_ARRAY,
     .offset = offsetof(struct body, tree),
     .sub = node_spec,
     .sub_size = sizeof(struct node)},
    {0},
};

/* Number of code points if s is well-formed UTF-8, else SIZE_MAX. */
static size_t utf8_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p != '\0') {
        size_t k = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        if (*p >= 0x80 && (*p < 0xC2 || *p > 0xF4))
            return SIZE_MAX;
        for (size_t i = 1; i < k; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return SIZE_MAX;
        }
        p += k;
        n++;
    }
    return n;
}

static void check_string(const char *s, size_t min, size_t max)
{
    if (s == NULL)
        return;
    size_t n = utf8_chars(s);
    if (n == SIZE_MAX || n < min || (max > 0 && n > max))
        abort();
}

static void check_tags(const struct fv_array *a)
{
    const struct tag *t = a->items;
    if (a->count > 4 || (a->count > 0 && t == NULL))
        abort();
    for (size_t i = 0; i < a->count; i++) {
        check_string(t[i].label, 1, 8);
        if (t[i].kind.set && t[i].kind.v != 1 && t[i].kind.v != 2)
            abort();
    }
}

static void check_body(const struct body *b)
{
    check_string(b->name, 2, 16);
    check_string(b->any, 0, 0);
    check_string(b->lenient_string, 0, 12);
    if (b->lenient_int.set && (b->lenient_int.v < 1 || b->lenient_int.v > 999999999999))
        abort();
    if (b->count.set && (b->count.v < INT32_MIN || b->count.v > INT32_MAX))
        abort();
    if (b->big.set && (b->big.v == INT64_MIN || b->big.v == INT64_MAX))
        abort();
    if (b->amount.set && (b->amount.v.negative || b->amount.v.coef <= 0))
        abort();
    if (b->fee.set && b->fee.v.negative)
        abort();
    if (b->phone != NULL) {
        size_t n = strlen(b->phone);
        if (n < 7 || n > 15 || b->phone[0] == '0' || strspn(b->phone, "0123456789") != n)
            abort();
    }
    if (b->cur != NULL && strlen(b->cur->code) != 3)
        abort();
    if (b->channel.set && b->channel.v != 1 && b->channel.v != 2)
        abort();
    if (b->meta != NULL && !json_object_is_type(b->meta, json_type_object))
        abort();
    const struct line *l = b->items.items;
    if (b->items.count > 20 || (b->items.count > 0 && l == NULL))
        abort();
    for (size_t i = 0; i < b->items.count; i++) {
        check_string(l[i].name, 0, 40);
        if (l[i].qty.set && (l[i].qty.v < 1 || l[i].qty.v > 1000))
            abort();
        if (l[i].price.set && l[i].price.v.negative)
            abort();
        check_tags(&l[i].tags);
    }
}

/* Every message is "<path>: <reason>" with a non-empty path. */
static void check_errors(const struct field_errors *e, bool ok, size_t before)
{
    if (e->count > FIELD_ERRORS_MAX)
        abort();
    if (ok != (e->count + e->dropped == before))
        abort();
    for (size_t i = 0; i < e->count; i++) {
        const char *sep = strstr(e->items[i], ": ");
        if (sep == NULL || sep == e->items[i] || sep[2] == '\0')
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_tokener *tok = json_tokener_new_ex(FUZZ_JSON_DEPTH);
    if (tok == NULL)
        return 0;
    json_object *root =
        json_tokener_parse_ex(tok, (const char *)data, (int)(size > INT32_MAX ? INT32_MAX : size));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        json_object_put(root); /* NULL unless complete */
        return 0;
    }

    struct arena *a = arena_new(0);
    struct field_errors errs = {0};
    struct body b = {0};

    bool ok = fieldspec_parse(body_spec, root, &b, a, &errs);
    check_errors(&errs, ok, 0);
    check_body(&b);

    /* A second pass into a fresh struct must agree with the first. */
    struct body b2 = {0};
    size_t before = errs.count + errs.dropped;
    bool ok2 = fieldspec_parse(body_spec, root, &b2, a, &errs);
    check_errors(&errs, ok2, before);
    if (ok2 != ok)
        abort();
    if (!ok)
        field_errors_add(&errs, a, "fuzz", "saw %zu problems", errs.count);

    arena_free(a);
    json_object_put(root);
    return 0;
}
