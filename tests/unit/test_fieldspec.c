/*
 * test_fieldspec.c — unit tests for core/fieldspec.
 *
 * Each test parses a JSON text with json_tokener_parse, runs fieldspec_parse
 * with a spec table and checks the converted struct and the exact error
 * messages (API clients see them verbatim).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/fieldspec.h"

/* ---- fixture ---------------------------------------------------------------- */

static struct arena *arena;
static struct field_errors errs;
static json_object *root;

static int setup(void **state)
{
    (void)state;
    arena = arena_new(0);
    memset(&errs, 0, sizeof(errs));
    root = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_object_put(root);
    root = NULL;
    arena_free(arena);
    arena = NULL;
    return 0;
}

/* Parse `json` (must be valid JSON) and run the spec over it. The tree stays
 * alive until teardown (parsed values may borrow from it). */
static bool parse(const struct field_spec *spec, const char *json, void *out)
{
    json_object_put(root);
    root = json_tokener_parse(json);
    assert_non_null(root);
    return fieldspec_parse(spec, root, out, arena, &errs);
}

/* The collected errors are exactly `want` (n of them), in order. */
static void expect_errors(const char *const *want, size_t n)
{
    if (errs.count != n) {
        for (size_t i = 0; i < errs.count; i++)
            print_error("got error: %s\n", errs.items[i]);
    }
    for (size_t i = 0; i < errs.count && i < n; i++)
        assert_string_equal(errs.items[i], want[i]);
    assert_int_equal(errs.count, n);
    assert_int_equal(errs.dropped, 0);
}

#define EXPECT_ERRORS(...)                                                                         \
    do {                                                                                           \
        static const char *const want_[] = {__VA_ARGS__};                                          \
        expect_errors(want_, sizeof(want_) / sizeof(want_[0]));                                    \
    } while (0)

static void expect_no_errors(void)
{
    if (errs.count > 0)
        print_error("unexpected error: %s\n", errs.items[0]);
    assert_int_equal(errs.count, 0);
    assert_int_equal(errs.dropped, 0);
}

/* Forget the errors of a previous parse (the arena keeps their text). */
static void reset_errors(void)
{
    memset(&errs, 0, sizeof(errs));
}

/* ---- one spec covering every kind -------------------------------------------- */

struct tag {
    const char *label;
};

static const struct field_spec tag_spec[] = {
    {.name = "label",
     .kind = FIELD_STRING,
     .offset = offsetof(struct tag, label),
     .flags = FIELD_REQUIRED,
     .max = 5},
    {0},
};

struct line {
    const char *name;
    struct fv_int qty;
    struct fv_array tags;
};

static const struct field_spec line_spec[] = {
    {.name = "name",
     .kind = FIELD_STRING,
     .offset = offsetof(struct line, name),
     .flags = FIELD_REQUIRED | FIELD_NOTBLANK,
     .max = 20},
    {.name = "qty", .kind = FIELD_INT, .offset = offsetof(struct line, qty), .min = 1, .max = 100},
    {.name = "tags",
     .kind = FIELD_ARRAY,
     .offset = offsetof(struct line, tags),
     .max = 3,
     .sub = tag_spec,
     .sub_size = sizeof(struct tag)},
    {0},
};

enum channel { CH_NONE, CH_SMS, CH_WHATSAPP };

static const struct field_enum channel_enums[] = {
    {"sms", CH_SMS, 1},
    {"SMS", CH_SMS, -1},
    {"ChannelType.SMS(name=SMS, id=1)", CH_SMS, -1},
    {"whatsapp", CH_WHATSAPP, 2},
    {"ChannelType.WHATSAPP(name=WHATSAPP, id=2)", CH_WHATSAPP, -1},
    {NULL, 0, 0},
};

struct body {
    const char *name;
    struct fv_bool flag;
    struct fv_int count;
    struct fv_dec amount;
    const char *phone;
    const struct currency *cur;
    struct fv_time when;
    struct fv_enum channel;
    json_object *meta;
    struct fv_array items;
};

static const struct field_spec body_spec[] = {
    {.name = "name",
     .kind = FIELD_STRING,
     .offset = offsetof(struct body, name),
     .flags = FIELD_REQUIRED,
     .max = 10},
    {.name = "flag", .kind = FIELD_BOOL, .offset = offsetof(struct body, flag)},
    {.name = "count", .kind = FIELD_INT, .offset = offsetof(struct body, count)},
    {.name = "amount",
     .kind = FIELD_DECIMAL,
     .offset = offsetof(struct body, amount),
     .flags = FIELD_POSITIVE},
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
     .flags = FIELD_REQUIRED,
     .min = 1,
     .max = 5,
     .sub = line_spec,
     .sub_size = sizeof(struct line)},
    {0},
};

/* A spec with one member "v" of a given kind, for focused tests. */
struct one {
    union {
        const char *s;
        struct fv_bool b;
        struct fv_int i;
        struct fv_dec d;
        const struct currency *cur;
        struct fv_time t;
        struct fv_enum e;
        json_object *obj;
        struct fv_array arr;
    } v;
};

static struct field_spec one_spec[2];

static void use_one(enum field_kind kind, unsigned flags, int64_t min, int64_t max)
{
    memset(one_spec, 0, sizeof(one_spec));
    one_spec[0] = (struct field_spec){.name = "v",
                                      .kind = kind,
                                      .offset = offsetof(struct one, v),
                                      .flags = flags,
                                      .min = min,
                                      .max = max,
                                      .enums = channel_enums,
                                      .enum_hint = "sms, whatsapp"};
}

/* Parse `json` into a fresh struct one using one_spec. */
static bool parse_one(const char *json, struct one *out)
{
    memset(out, 0, sizeof(*out));
    reset_errors();
    return parse(one_spec, json, out);
}

/* The single error for `json` is "v: <reason>". */
static void expect_one_error(const char *json, const char *reason)
{
    struct one o;
    char want[256];
    bool ok = parse_one(json, &o);
    snprintf(want, sizeof(want), "v: %s", reason);
    if (errs.count != 1 || strcmp(errs.items[0], want) != 0)
        print_error("input %s: got %s\n", json, errs.count ? errs.items[0] : "(no error)");
    assert_false(ok);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0], want);
}

/* ---- whole-body tests ---------------------------------------------------------- */

static void test_valid_body(void **state)
{
    (void)state;
    struct body b = {0};
    bool ok = parse(body_spec,
                    "{\"name\": \"Ann\", \"flag\": true, \"count\": -12, \"amount\": 12.50,"
                    " \"phone\": \"+27821234567\", \"cur\": \"zar\","
                    " \"when\": \"2026-01-31T12:00:00Z\", \"channel\": \"SMS\","
                    " \"meta\": {\"k\": 1}, \"unknown\": [1, 2, 3],"
                    " \"items\": [{\"name\": \"tea\", \"qty\": 2,"
                    "              \"tags\": [{\"label\": \"hot\"}, {\"label\": \"x\"}]},"
                    "            {\"name\": \"cake\", \"tags\": []}]}",
                    &b);
    expect_no_errors();
    assert_true(ok);

    assert_string_equal(b.name, "Ann");
    assert_true(b.flag.set);
    assert_true(b.flag.v);
    assert_true(b.count.set);
    assert_int_equal(b.count.v, -12);
    assert_true(b.amount.set);
    assert_int_equal(b.amount.v.coef, 125);
    assert_int_equal(b.amount.v.scale, 1);
    assert_false(b.amount.v.negative);
    assert_string_equal(b.phone, "27821234567");
    assert_non_null(b.cur);
    assert_string_equal(b.cur->code, "ZAR");
    assert_true(b.when.set);
    assert_int_equal(b.when.v, INT64_C(1769860800) * 1000000);
    assert_true(b.channel.set);
    assert_int_equal(b.channel.v, CH_SMS);
    json_object *meta = NULL;
    assert_true(json_object_object_get_ex(root, "meta", &meta));
    assert_ptr_equal(b.meta, meta); /* borrowed, not copied */

    assert_int_equal(b.items.count, 2);
    const struct line *lines = b.items.items;
    assert_non_null(lines);
    assert_string_equal(lines[0].name, "tea");
    assert_true(lines[0].qty.set);
    assert_int_equal(lines[0].qty.v, 2);
    assert_int_equal(lines[0].tags.count, 2);
    const struct tag *tags = lines[0].tags.items;
    assert_string_equal(tags[0].label, "hot");
    assert_string_equal(tags[1].label, "x");
    assert_string_equal(lines[1].name, "cake");
    assert_false(lines[1].qty.set);
    assert_int_equal(lines[1].tags.count, 0);
    assert_null(lines[1].tags.items);
}

/* Strings are copied into the arena, not borrowed from the JSON tree. */
static void test_string_copied(void **state)
{
    (void)state;
    struct body b = {0};
    assert_true(parse(body_spec, "{\"name\": \"Ann\", \"items\": [{\"name\": \"t\"}]}", &b));
    json_object *name = NULL;
    assert_true(json_object_object_get_ex(root, "name", &name));
    assert_ptr_not_equal(b.name, json_object_get_string(name));
    json_object_put(root);
    root = NULL;
    assert_string_equal(b.name, "Ann");
}

static void test_absent_and_null(void **state)
{
    (void)state;
    struct body b = {0};
    bool ok = parse(body_spec,
                    "{\"flag\": null, \"count\": null, \"amount\": null, \"phone\": null,"
                    " \"cur\": null, \"when\": null, \"channel\": null, \"meta\": null}",
                    &b);
    assert_false(ok);
    EXPECT_ERRORS("name: is required", "items: is required");
    assert_null(b.name);
    assert_false(b.flag.set);
    assert_false(b.count.set);
    assert_false(b.amount.set);
    assert_null(b.phone);
    assert_null(b.cur);
    assert_false(b.when.set);
    assert_false(b.channel.set);
    assert_null(b.meta);
    assert_int_equal(b.items.count, 0);

    reset_errors();
    memset(&b, 0, sizeof(b));
    assert_false(parse(body_spec, "{\"name\": null, \"items\": null}", &b));
    EXPECT_ERRORS("name: is required", "items: is required");
}

static void test_wrong_types_all_reported(void **state)
{
    (void)state;
    struct body b = {0};
    bool ok = parse(body_spec,
                    "{\"name\": 5, \"flag\": \"true\", \"count\": 1.5, \"amount\": \"12\","
                    " \"phone\": 27821234567, \"cur\": [], \"when\": 0, \"channel\": true,"
                    " \"meta\": [], \"items\": {}}",
                    &b);
    assert_false(ok);
    EXPECT_ERRORS("name: must be a string", "flag: must be a boolean", "count: must be an integer",
                  "amount: must be a number", "phone: must be a string", "cur: must be a string",
                  "when: must be a string", "channel: must be one of: sms, whatsapp",
                  "meta: must be an object", "items: must be an array");
    /* Nothing rejected is stored. */
    assert_null(b.name);
    assert_false(b.flag.set);
    assert_false(b.count.set);
    assert_false(b.amount.set);
    assert_null(b.phone);
    assert_null(b.cur);
    assert_false(b.when.set);
    assert_false(b.channel.set);
    assert_null(b.meta);
    assert_int_equal(b.items.count, 0);
}

static void test_body_not_object(void **state)
{
    (void)state;
    struct body b = {0};
    assert_false(parse(body_spec, "[{\"name\": \"x\"}]", &b));
    EXPECT_ERRORS("body: must be a JSON object");
    reset_errors();
    assert_false(parse(body_spec, "\"text\"", &b));
    EXPECT_ERRORS("body: must be a JSON object");
    reset_errors();
    assert_false(fieldspec_parse(body_spec, NULL, &b, arena, &errs)); /* JSON null */
    EXPECT_ERRORS("body: must be a JSON object");
}

/* ---- arrays -------------------------------------------------------------------- */

static void test_nested_array_paths(void **state)
{
    (void)state;
    struct body b = {0};
    bool ok = parse(body_spec,
                    "{\"name\": \"x\", \"items\": ["
                    "  {\"name\": \"ok\", \"tags\": [{\"label\": \"a\"}, {\"label\": 7},"
                    "                              {\"label\": \"toolong\"}]},"
                    "  {\"qty\": 0},"
                    "  5,"
                    "  null,"
                    "  {\"name\": \"  \", \"tags\": [{}, []]}]}",
                    &b);
    assert_false(ok);
    EXPECT_ERRORS("items[0].tags[1].label: must be a string",
                  "items[0].tags[2].label: must be at most 5 characters",
                  "items[1].name: is required", "items[1].qty: must be between 1 and 100",
                  "items[2]: must be an object", "items[3]: must be an object",
                  "items[4].name: must not be blank", "items[4].tags[0].label: is required",
                  "items[4].tags[1]: must be an object");
    /* The well-formed parts of the array are still converted. */
    assert_int_equal(b.items.count, 5);
    const struct line *lines = b.items.items;
    assert_string_equal(lines[0].name, "ok");
    const struct tag *tags = lines[0].tags.items;
    assert_string_equal(tags[0].label, "a");
    assert_null(tags[1].label);
}

static void test_array_item_limits(void **state)
{
    (void)state;
    struct body b = {0};
    assert_false(parse(body_spec, "{\"name\": \"x\", \"items\": []}", &b));
    EXPECT_ERRORS("items: must have at least 1 items");

    reset_errors();
    memset(&b, 0, sizeof(b));
    assert_false(parse(body_spec,
                       "{\"name\": \"x\", \"items\": [{\"name\": \"a\"}, {\"name\": \"b\"},"
                       " {\"name\": \"c\"}, {\"name\": \"d\"}, {\"name\": \"e\"}, 6]}",
                       &b));
    /* Over the limit: the items are not looked at (no "items[5]" error). */
    EXPECT_ERRORS("items: must have at most 5 items");
    assert_int_equal(b.items.count, 0);

    reset_errors();
    memset(&b, 0, sizeof(b));
    assert_true(parse(body_spec,
                      "{\"name\": \"x\", \"items\": [{\"name\": \"a\"}, {\"name\": \"b\"},"
                      " {\"name\": \"c\"}, {\"name\": \"d\"}, {\"name\": \"e\"}]}",
                      &b));
    expect_no_errors();
    assert_int_equal(b.items.count, 5);
}

/* Under the minimum, the items present are still checked. */
static void test_array_min_still_checks_items(void **state)
{
    (void)state;
    use_one(FIELD_ARRAY, 0, 3, 0);
    one_spec[0].sub = tag_spec;
    one_spec[0].sub_size = sizeof(struct tag);
    struct one o;
    assert_false(parse_one("{\"v\": [{\"label\": 1}]}", &o));
    EXPECT_ERRORS("v: must have at least 3 items", "v[0].label: must be a string");
}

/* spec.max 0 means 1000 items. */
static void test_array_default_max(void **state)
{
    (void)state;
    use_one(FIELD_ARRAY, 0, 0, 0);
    one_spec[0].sub = tag_spec;
    one_spec[0].sub_size = sizeof(struct tag);

    char *json = test_malloc(1001 * 16 + 32);
    for (int n = 1000; n <= 1001; n++) {
        size_t len = 0;
        len += (size_t)snprintf(json + len, 32, "{\"v\": [");
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(json + len, 32, "%s{\"label\": \"a\"}", i ? "," : "");
        snprintf(json + len, 32, "]}");
        struct one o;
        bool ok = parse_one(json, &o);
        if (n == 1000) {
            expect_no_errors();
            assert_true(ok);
            assert_int_equal(o.v.arr.count, 1000);
            assert_string_equal(((const struct tag *)o.v.arr.items)[999].label, "a");
        } else {
            assert_false(ok);
            EXPECT_ERRORS("v: must have at most 1000 items");
        }
    }
    test_free(json);
}

/* A self-referencing spec: nesting of FIELD_ARRAY stops at depth 4. */
struct node {
    struct fv_int id;
    struct fv_array kids;
};

static const struct field_spec node_spec[3] = {
    {.name = "id", .kind = FIELD_INT, .offset = offsetof(struct node, id), .flags = FIELD_REQUIRED},
    {.name = "kids",
     .kind = FIELD_ARRAY,
     .offset = offsetof(struct node, kids),
     .sub = node_spec,
     .sub_size = sizeof(struct node)},
    {0},
};

static void test_array_depth_limit(void **state)
{
    (void)state;
    struct node n = {0};
    /* Four nested arrays are fine (an empty one below them too). */
    assert_true(parse(node_spec,
                      "{\"id\": 0, \"kids\": [{\"id\": 1, \"kids\": [{\"id\": 2, \"kids\": "
                      "[{\"id\": 3, \"kids\": [{\"id\": 4, \"kids\": []}]}]}]}]}",
                      &n));
    expect_no_errors();
    const struct node *k = &n;
    for (int depth = 1; depth <= 4; depth++) {
        assert_int_equal(k->kids.count, 1);
        k = k->kids.items;
        assert_int_equal(k->id.v, depth);
    }

    memset(&n, 0, sizeof(n));
    assert_false(parse(node_spec,
                       "{\"id\": 0, \"kids\": [{\"id\": 1, \"kids\": [{\"id\": 2, \"kids\": "
                       "[{\"id\": 3, \"kids\": [{\"id\": 4, \"kids\": [{\"id\": 5}]}]}]}]}]}",
                       &n));
    EXPECT_ERRORS("kids[0].kids[0].kids[0].kids[0].kids: is nested too deeply");
}

/* ---- error collection ------------------------------------------------------------ */

static void test_error_cap(void **state)
{
    (void)state;
    /* 70 items, each missing its required label: 64 kept, 6 dropped. */
    use_one(FIELD_ARRAY, 0, 0, 0);
    one_spec[0].sub = tag_spec;
    one_spec[0].sub_size = sizeof(struct tag);
    char json[1024];
    size_t len = (size_t)snprintf(json, sizeof(json), "{\"v\": [");
    for (int i = 0; i < 70; i++)
        len += (size_t)snprintf(json + len, sizeof(json) - len, "%s{}", i ? "," : "");
    snprintf(json + len, sizeof(json) - len, "]}");

    struct one o;
    assert_false(parse_one(json, &o));
    assert_int_equal(errs.count, FIELD_ERRORS_MAX);
    assert_int_equal(errs.dropped, 70 - FIELD_ERRORS_MAX);
    assert_string_equal(errs.items[0], "v[0].label: is required");
    assert_string_equal(errs.items[63], "v[63].label: is required");

    /* A call that only adds dropped errors still reports failure. */
    assert_false(fieldspec_parse(one_spec, root, &o, arena, &errs));
    assert_int_equal(errs.count, FIELD_ERRORS_MAX);
    assert_int_equal(errs.dropped, 2 * 70 - FIELD_ERRORS_MAX);
}

static void test_field_errors_add(void **state)
{
    (void)state;
    field_errors_add(&errs, arena, "amount", "must be at most %d %s", 10, "USD");
    field_errors_add(&errs, arena, "items[2].name", "%s", "is taken");
    field_errors_add(&errs, arena, "", "odd");
    field_errors_add(&errs, arena, NULL, "no field");
    EXPECT_ERRORS("amount: must be at most 10 USD", "items[2].name: is taken", ": odd", "no field");

    for (int i = 0; i < FIELD_ERRORS_MAX; i++)
        field_errors_add(&errs, arena, "f", "e%d", i);
    assert_int_equal(errs.count, FIELD_ERRORS_MAX);
    assert_int_equal(errs.dropped, 4);
    assert_string_equal(errs.items[FIELD_ERRORS_MAX - 1], "f: e59");
}

/* The result reflects only this call: earlier errors do not make it fail. */
static void test_result_per_call(void **state)
{
    (void)state;
    field_errors_add(&errs, arena, "earlier", "problem");
    struct one o = {0};
    use_one(FIELD_BOOL, 0, 0, 0);
    assert_true(parse(one_spec, "{\"v\": false}", &o));
    assert_true(o.v.b.set);
    assert_false(o.v.b.v);
    assert_int_equal(errs.count, 1);
    assert_false(parse(one_spec, "{\"v\": 0}", &o));
    assert_int_equal(errs.count, 2);
    assert_string_equal(errs.items[1], "v: must be a boolean");
}

/* ---- strings --------------------------------------------------------------------- */

static void test_string_length_in_code_points(void **state)
{
    (void)state;
    struct one o;
    use_one(FIELD_STRING, 0, 2, 3);

    /* é (2 bytes), 日 (3 bytes), 😀 (4 bytes, here as a surrogate-pair escape). */
    assert_true(parse_one("{\"v\": \"h\xC3\xA9y\"}", &o));
    assert_string_equal(o.v.s, "h\xC3\xA9y");
    assert_true(parse_one("{\"v\": \"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\"}", &o));
    assert_string_equal(o.v.s, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");
    assert_true(parse_one("{\"v\": \"\\ud83d\\ude00\\u00e9\"}", &o));
    assert_string_equal(o.v.s, "\xF0\x9F\x98\x80\xC3\xA9");
    assert_true(parse_one("{\"v\": \"\xF4\x8F\xBF\xBF\xEF\xBF\xBF\"}", &o)); /* U+10FFFF, U+FFFF */

    expect_one_error("{\"v\": \"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE8\xAA\x9E\"}",
                     "must be at most 3 characters");
    expect_one_error("{\"v\": \"abcd\"}", "must be at most 3 characters");
    expect_one_error("{\"v\": \"\xF0\x9F\x98\x80\"}", "must be at least 2 characters");
    expect_one_error("{\"v\": \"\"}", "must be at least 2 characters");
}

static void test_string_unlimited(void **state)
{
    (void)state;
    struct one o;
    use_one(FIELD_STRING, 0, 0, 0); /* max 0: no limit */
    char json[3000];
    memcpy(json, "{\"v\": \"", 7);
    memset(json + 7, 'x', 2500);
    memcpy(json + 2507, "\"}", 3);
    assert_true(parse_one(json, &o));
    assert_int_equal(strlen(o.v.s), 2500);
    assert_true(parse_one("{\"v\": \"\"}", &o));
    assert_string_equal(o.v.s, "");
}

static void test_string_invalid_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"v\": \"\xC0\x80\"}",         /* overlong NUL */
        "{\"v\": \"\xC1\xBF\"}",         /* overlong '\x7f' */
        "{\"v\": \"\xE0\x80\xAF\"}",     /* overlong '/' */
        "{\"v\": \"\xE0\x9F\xBF\"}",     /* overlong U+07FF */
        "{\"v\": \"\xF0\x8F\xBF\xBF\"}", /* overlong U+FFFF */
        "{\"v\": \"\xED\xA0\x80\"}",     /* surrogate U+D800 */
        "{\"v\": \"\xED\xBF\xBF\"}",     /* surrogate U+DFFF */
        "{\"v\": \"\xF4\x90\x80\x80\"}", /* U+110000 */
        "{\"v\": \"\xF5\x80\x80\x80\"}", /* lead byte F5 */
        "{\"v\": \"a\xFF\"}",            /* FF */
        "{\"v\": \"\x80\"}",             /* lone continuation */
        "{\"v\": \"\xC3\"}",             /* truncated 2-byte */
        "{\"v\": \"\xE6\x97\"}",         /* truncated 3-byte */
        "{\"v\": \"\xF0\x9F\x98\"}",     /* truncated 4-byte */
        "{\"v\": \"\xC3(\"}",            /* bad continuation */
        "{\"v\": \"\x01\xC3\"}",         /* bad UTF-8 wins over a control */
    };
    use_one(FIELD_STRING, 0, 0, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_one_error(bad[i], "must be valid UTF-8");
}

static void test_string_control_characters(void **state)
{
    (void)state;
    struct one o;
    static const char *const bad[] = {
        "{\"v\": \"a\\u0000b\"}", "{\"v\": \"\\u0001\"}", "{\"v\": \"a\\rb\"}",
        "{\"v\": \"\\u001f\"}",   "{\"v\": \"\\u007f\"}", "{\"v\": \"\\u0085\"}",
        "{\"v\": \"\\u009f\"}",   "{\"v\": \"\\f\"}",     "{\"v\": \"\\b\"}",
    };
    use_one(FIELD_STRING, 0, 0, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_one_error(bad[i], "must not contain control characters");

    /* Tab and newline are text. */
    assert_true(parse_one("{\"v\": \"a\\tb\\nc\"}", &o));
    assert_string_equal(o.v.s, "a\tb\nc");
    /* U+00A0 is not a control character. */
    assert_true(parse_one("{\"v\": \"\\u00a0x\"}", &o));
    assert_string_equal(o.v.s, "\xC2\xA0x");
}

static void test_string_not_blank(void **state)
{
    (void)state;
    struct one o;
    use_one(FIELD_STRING, FIELD_NOTBLANK, 0, 0);
    expect_one_error("{\"v\": \"\"}", "must not be blank");
    expect_one_error("{\"v\": \" \"}", "must not be blank");
    expect_one_error("{\"v\": \" \\t\\n \"}", "must not be blank");
    expect_one_error("{\"v\": \"\\u00a0\\u3000\\u2003\"}", "must not be blank");
    assert_true(parse_one("{\"v\": \"  x  \"}", &o));
    assert_string_equal(o.v.s, "  x  "); /* kept as sent */

    /* Without the flag, blank strings are accepted. */
    use_one(FIELD_STRING, 0, 0, 0);
    assert_true(parse_one("{\"v\": \"  \"}", &o));
    assert_string_equal(o.v.s, "  ");
}

/* ---- integers -------------------------------------------------------------------- */

static void test_int_ranges(void **state)
{
    (void)state;
    struct one o;

    use_one(FIELD_INT, 0, 0, 0); /* int32 */
    assert_true(parse_one("{\"v\": 2147483647}", &o));
    assert_true(o.v.i.set);
    assert_int_equal(o.v.i.v, 2147483647);
    assert_true(parse_one("{\"v\": -2147483648}", &o));
    assert_int_equal(o.v.i.v, INT32_MIN);
    expect_one_error("{\"v\": 2147483648}", "must be between -2147483648 and 2147483647");
    expect_one_error("{\"v\": -2147483649}", "must be between -2147483648 and 2147483647");

    use_one(FIELD_INT, 0, -5, 5);
    assert_true(parse_one("{\"v\": -5}", &o));
    assert_int_equal(o.v.i.v, -5);
    expect_one_error("{\"v\": 6}", "must be between -5 and 5");
    expect_one_error("{\"v\": -6}", "must be between -5 and 5");

    use_one(FIELD_INT, 0, 1, INT64_MAX);
    assert_true(parse_one("{\"v\": 9223372036854775806}", &o));
    assert_int_equal(o.v.i.v, INT64_MAX - 1);
    expect_one_error("{\"v\": 0}", "must be at least 1");

    use_one(FIELD_INT, 0, INT64_MIN, 10);
    expect_one_error("{\"v\": 11}", "must be at most 10");

    use_one(FIELD_INT, 0, 0, 0);
    expect_one_error("{\"v\": 1.0}", "must be an integer");
    expect_one_error("{\"v\": 1e2}", "must be an integer");
    expect_one_error("{\"v\": \"5\"}", "must be an integer");
    expect_one_error("{\"v\": false}", "must be an integer");
}

/* json-c clamps integers it cannot represent; the clamp values are refused. */
static void test_int_clamped(void **state)
{
    (void)state;
    use_one(FIELD_INT, 0, INT64_MIN, INT64_MAX);
    expect_one_error("{\"v\": 99999999999999999999}", "is out of range");
    expect_one_error("{\"v\": -99999999999999999999}", "is out of range");
    expect_one_error("{\"v\": 18446744073709551615}", "is out of range");
    expect_one_error("{\"v\": 9223372036854775808}", "is out of range");
    expect_one_error("{\"v\": 9223372036854775807}", "is out of range");

    /* The exact case from the API contract. */
    static const struct field_spec n_int[] = {{.name = "n", .kind = FIELD_INT}, {0}};
    static const struct field_spec n_dec[] = {{.name = "n", .kind = FIELD_DECIMAL}, {0}};
    struct fv_int vi = {0};
    struct fv_dec vd = {0};
    reset_errors();
    assert_false(parse(n_int, "{\"n\": 99999999999999999999}", &vi));
    EXPECT_ERRORS("n: is out of range");
    assert_false(vi.set);
    reset_errors();
    assert_false(parse(n_dec, "{\"n\": 99999999999999999999}", &vd));
    EXPECT_ERRORS("n: is out of range");
    assert_false(vd.set);
}

/* FIELD_LENIENT: an integer-valued string for an integer, an integer for a
 * string (what the Transact contract's own example sends); nothing else. */
static void test_lenient(void **state)
{
    (void)state;
    struct one o;

    use_one(FIELD_INT, FIELD_LENIENT, 1, 999999999999);
    assert_true(parse_one("{\"v\": \"10000\"}", &o));
    assert_true(o.v.i.set);
    assert_int_equal(o.v.i.v, 10000);
    assert_true(parse_one("{\"v\": 10000}", &o));
    assert_int_equal(o.v.i.v, 10000);
    expect_one_error("{\"v\": \"10.5\"}", "must be an integer (or a string of one)");
    expect_one_error("{\"v\": \"1e3\"}", "must be an integer (or a string of one)");
    expect_one_error("{\"v\": \" 5\"}", "must be an integer (or a string of one)");
    expect_one_error("{\"v\": \"\"}", "must be an integer (or a string of one)");
    expect_one_error("{\"v\": 12.5}", "must be an integer (or a string of one)");
    expect_one_error("{\"v\": true}", "must be an integer (or a string of one)");
    expect_one_error("{\"v\": \"0\"}", "must be between 1 and 999999999999");
    expect_one_error("{\"v\": \"1000000000000\"}", "must be between 1 and 999999999999");
    expect_one_error("{\"v\": \"9999999999999999999\"}", "must be an integer (or a string of one)");

    use_one(FIELD_STRING, FIELD_LENIENT, 0, 4);
    assert_true(parse_one("{\"v\": 1234}", &o));
    assert_string_equal(o.v.s, "1234");
    assert_true(parse_one("{\"v\": \"12ab\"}", &o));
    assert_string_equal(o.v.s, "12ab");
    expect_one_error("{\"v\": 12345}", "must be at most 4 characters");
    expect_one_error("{\"v\": 12.5}", "must be a string (or an integer)");
    expect_one_error("{\"v\": false}", "must be a string (or an integer)");
    expect_one_error("{\"v\": [1]}", "must be a string (or an integer)");

    /* without the flag, the other type stays an error */
    use_one(FIELD_STRING, 0, 0, 0);
    expect_one_error("{\"v\": 1234}", "must be a string");
}

/* ---- decimals -------------------------------------------------------------------- */

static void expect_dec(const char *json, int64_t coef, int scale, bool negative)
{
    struct one o;
    bool ok = parse_one(json, &o);
    if (!ok)
        print_error("input %s: %s\n", json, errs.count ? errs.items[0] : "?");
    assert_true(ok);
    assert_true(o.v.d.set);
    assert_int_equal(o.v.d.v.coef, coef);
    assert_int_equal(o.v.d.v.scale, scale);
    assert_int_equal(o.v.d.v.negative, negative);
}

static void test_decimal_values(void **state)
{
    (void)state;
    use_one(FIELD_DECIMAL, 0, 0, 0);
    expect_dec("{\"v\": 12.50}", 125, 1, false);
    expect_dec("{\"v\": 7}", 7, 0, false);
    expect_dec("{\"v\": 0}", 0, 0, false);
    expect_dec("{\"v\": 1e3}", 1000, 0, false);
    expect_dec("{\"v\": 1E+03}", 1000, 0, false);
    expect_dec("{\"v\": 0.1}", 1, 1, false); /* exact, not 0.1000000000000000055... */
    expect_dec("{\"v\": -1.5}", 15, 1, true);
    expect_dec("{\"v\": -3}", 3, 0, true);
    expect_dec("{\"v\": -0.0}", 0, 0, false);
    expect_dec("{\"v\": 999999999999999999}", INT64_C(999999999999999999), 0, false);
}

static void test_decimal_errors(void **state)
{
    (void)state;
    use_one(FIELD_DECIMAL, 0, 0, 0);
    expect_one_error("{\"v\": \"12.50\"}", "must be a number");
    expect_one_error("{\"v\": true}", "must be a number");
    expect_one_error("{\"v\": {}}", "must be a number");
    expect_one_error("{\"v\": NaN}", "must be a number");      /* json-c extension */
    expect_one_error("{\"v\": Infinity}", "must be a number"); /* json-c extension */
    expect_one_error("{\"v\": 1e999}", "is out of range");
    expect_one_error("{\"v\": 1000000000000000000}", "is out of range"); /* 19 digits */
    expect_one_error("{\"v\": 12345678901234567890.5}", "is out of range");
    expect_one_error("{\"v\": 1e-30}", "has too many decimal places");
    expect_one_error("{\"v\": 0.0000000000000000001}", "has too many decimal places");
}

static void test_decimal_sign_flags(void **state)
{
    (void)state;
    use_one(FIELD_DECIMAL, FIELD_POSITIVE, 0, 0);
    expect_dec("{\"v\": 0.01}", 1, 2, false);
    expect_one_error("{\"v\": 0}", "must be greater than 0");
    expect_one_error("{\"v\": 0.00}", "must be greater than 0");
    expect_one_error("{\"v\": -0.0}", "must be greater than 0");
    expect_one_error("{\"v\": -1}", "must be greater than 0");
    expect_one_error("{\"v\": -0.5}", "must be greater than 0");

    use_one(FIELD_DECIMAL, FIELD_NONNEG, 0, 0);
    expect_dec("{\"v\": 0}", 0, 0, false);
    expect_dec("{\"v\": 0.0}", 0, 0, false);
    expect_dec("{\"v\": 3.25}", 325, 2, false);
    /* a negative zero is zero */
    expect_dec("{\"v\": -0.0}", 0, 0, false);
    expect_dec("{\"v\": -0.00}", 0, 0, false);
    expect_dec("{\"v\": -0e5}", 0, 0, false);
    expect_one_error("{\"v\": -1}", "must not be negative");
    expect_one_error("{\"v\": -0.01}", "must not be negative");
}

/* ---- phone numbers ------------------------------------------------------------------ */

static void test_msisdn(void **state)
{
    (void)state;
    static const char msg[] =
        "must be an international phone number (7 to 15 digits, optional leading +)";
    struct one o;
    use_one(FIELD_MSISDN, 0, 0, 0);

    assert_true(parse_one("{\"v\": \"+27821234567\"}", &o));
    assert_string_equal(o.v.s, "27821234567");
    assert_true(parse_one("{\"v\": \"27821234567\"}", &o));
    assert_string_equal(o.v.s, "27821234567");
    assert_true(parse_one("{\"v\": \"1234567\"}", &o)); /* 7 digits */
    assert_string_equal(o.v.s, "1234567");
    assert_true(parse_one("{\"v\": \"+123456789012345\"}", &o)); /* 15 digits */
    assert_string_equal(o.v.s, "123456789012345");

    expect_one_error("{\"v\": \"123456\"}", msg);
    expect_one_error("{\"v\": \"+123456\"}", msg);
    expect_one_error("{\"v\": \"1234567890123456\"}", msg);
    expect_one_error("{\"v\": \"0821234567\"}", msg);
    expect_one_error("{\"v\": \"+0821234567\"}", msg);
    expect_one_error("{\"v\": \"++27821234567\"}", msg);
    /* the separators people write are dropped */
    assert_true(parse_one("{\"v\": \"+27 82 123-4567\"}", &o));
    assert_string_equal(o.v.s, "27821234567");
    assert_true(parse_one("{\"v\": \"+1 (415) 555.0100\"}", &o));
    assert_string_equal(o.v.s, "14155550100");
    expect_one_error("{\"v\": \" 27821234567\"}", msg);
    expect_one_error("{\"v\": \"+ 27821234567\"}", msg);
    expect_one_error("{\"v\": \"27/82/123/4567\"}", msg);
    expect_one_error("{\"v\": \"1 2 3 4 5 6\"}", msg);
    expect_one_error("{\"v\": \"1234 5678 9012 3456\"}", msg);
    expect_one_error("{\"v\": \"2782123456a\"}", msg);
    expect_one_error("{\"v\": \"27821234567+\"}", msg);
    expect_one_error("{\"v\": \"2782123\\u00004567\"}", msg);
    expect_one_error("{\"v\": \"\\uff12\\uff17\\uff18\\uff12\\uff11\\uff12\\uff13\"}", msg);
    expect_one_error("{\"v\": \"\"}", msg);
    expect_one_error("{\"v\": \"+\"}", msg);
    expect_one_error("{\"v\": 27821234567}", "must be a string");
}

/* ---- currencies -------------------------------------------------------------------- */

static void test_currency(void **state)
{
    (void)state;
    struct one o;
    use_one(FIELD_CURRENCY, 0, 0, 0);

    assert_true(parse_one("{\"v\": \"ZAR\"}", &o));
    assert_non_null(o.v.cur);
    assert_string_equal(o.v.cur->code, "ZAR");
    assert_int_equal(o.v.cur->exponent, 2);
    assert_true(parse_one("{\"v\": \"jpy\"}", &o));
    assert_non_null(o.v.cur);
    assert_string_equal(o.v.cur->code, "JPY");
    assert_true(parse_one("{\"v\": \"kWd\"}", &o));
    assert_non_null(o.v.cur);
    assert_string_equal(o.v.cur->code, "KWD");

    expect_one_error("{\"v\": \"ZA\"}", "must be a three-letter currency code");
    expect_one_error("{\"v\": \"ZARR\"}", "must be a three-letter currency code");
    expect_one_error("{\"v\": \"Z1R\"}", "must be a three-letter currency code");
    expect_one_error("{\"v\": \"ZA \"}", "must be a three-letter currency code");
    expect_one_error("{\"v\": \"ZA\\u0000\"}", "must be a three-letter currency code");
    expect_one_error("{\"v\": \"\xC3\x84U\"}", "must be a three-letter currency code");
    expect_one_error("{\"v\": \"\"}", "must be a three-letter currency code");
    expect_one_error("{\"v\": \"QQQ\"}", "is not a known ISO 4217 currency");
    expect_one_error("{\"v\": \"abc\"}", "is not a known ISO 4217 currency");
    expect_one_error("{\"v\": 710}", "must be a string");
}

/* ---- timestamps -------------------------------------------------------------------- */

static void test_timestamp(void **state)
{
    (void)state;
    static const char msg[] = "must be an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)";
    struct one o;
    use_one(FIELD_TIMESTAMP, 0, 0, 0);

    assert_true(parse_one("{\"v\": \"2026-01-31T12:00:00Z\"}", &o));
    assert_true(o.v.t.set);
    assert_int_equal(o.v.t.v, INT64_C(1769860800) * 1000000);
    assert_true(parse_one("{\"v\": \"2026-01-31T12:00:00.25+02:00\"}", &o));
    assert_int_equal(o.v.t.v, INT64_C(1769853600) * 1000000 + 250000);
    /* as Java and others write ISO 8601: offsets without a colon, no
     * seconds, no offset (UTC) */
    assert_true(parse_one("{\"v\": \"2026-01-31T12:00:00.000+0200\"}", &o));
    assert_int_equal(o.v.t.v, INT64_C(1769853600) * 1000000);
    assert_true(parse_one("{\"v\": \"2026-01-31T12:00\"}", &o));
    assert_int_equal(o.v.t.v, INT64_C(1769860800) * 1000000);

    expect_one_error("{\"v\": \"2026-13-01T00:00:00Z\"}", msg);
    expect_one_error("{\"v\": \"2026-01-31\"}", msg);
    expect_one_error("{\"v\": \"yesterday\"}", msg);
    expect_one_error("{\"v\": \"\"}", msg);
    expect_one_error("{\"v\": \"2026-01-31T12:00:00Z\\u0000junk\"}", msg);
    expect_one_error("{\"v\": 1769860800}", "must be a string");
}

/* ---- enums ------------------------------------------------------------------------- */

static void expect_enum(const char *json, int value)
{
    struct one o;
    bool ok = parse_one(json, &o);
    if (!ok)
        print_error("input %s: %s\n", json, errs.count ? errs.items[0] : "?");
    assert_true(ok);
    assert_true(o.v.e.set);
    assert_int_equal(o.v.e.v, value);
}

static void test_enum_aliases(void **state)
{
    (void)state;
    use_one(FIELD_ENUM, 0, 0, 0);
    expect_enum("{\"v\": \"sms\"}", CH_SMS);
    expect_enum("{\"v\": \"SMS\"}", CH_SMS);
    expect_enum("{\"v\": \"sMs\"}", CH_SMS);
    expect_enum("{\"v\": \"ChannelType.SMS(name=SMS, id=1)\"}", CH_SMS);
    expect_enum("{\"v\": \"channeltype.sms(NAME=sms, ID=1)\"}", CH_SMS);
    expect_enum("{\"v\": \"WhatsApp\"}", CH_WHATSAPP);
    expect_enum("{\"v\": \"ChannelType.WHATSAPP(name=WHATSAPP, id=2)\"}", CH_WHATSAPP);
    /* Numeric spellings: integers and digit-only strings. */
    expect_enum("{\"v\": 1}", CH_SMS);
    expect_enum("{\"v\": 2}", CH_WHATSAPP);
    expect_enum("{\"v\": \"1\"}", CH_SMS);
    expect_enum("{\"v\": \"02\"}", CH_WHATSAPP);
    expect_enum("{\"v\": \"000000000000000000000000000001\"}", CH_SMS);
}

static void test_enum_errors(void **state)
{
    (void)state;
    static const char msg[] = "must be one of: sms, whatsapp";
    use_one(FIELD_ENUM, 0, 0, 0);
    expect_one_error("{\"v\": \"email\"}", msg);
    expect_one_error("{\"v\": \"\"}", msg);
    expect_one_error("{\"v\": \"sms \"}", msg);
    expect_one_error("{\"v\": \"sm\"}", msg);
    expect_one_error("{\"v\": \"smss\"}", msg);
    expect_one_error("{\"v\": \"sms\\u0000\"}", msg);
    expect_one_error("{\"v\": 3}", msg);
    expect_one_error("{\"v\": 0}", msg);
    expect_one_error("{\"v\": -1}", msg); /* id -1 means "no numeric spelling" */
    expect_one_error("{\"v\": \"-1\"}", msg);
    expect_one_error("{\"v\": \"4294967297\"}", msg); /* 2^32 + 1 does not wrap to 1 */
    expect_one_error("{\"v\": 4294967297}", msg);
    expect_one_error("{\"v\": \"18446744073709551617\"}", msg); /* 2^64 + 1 */
    expect_one_error("{\"v\": 99999999999999999999}", msg);
    expect_one_error("{\"v\": 1.0}", msg);
    expect_one_error("{\"v\": true}", msg);
    expect_one_error("{\"v\": [\"sms\"]}", msg);

    /* Without a hint, the names themselves are listed. */
    static const struct field_enum yn[] = {{"yes", 1, -1}, {"no", 0, -1}, {NULL, 0, 0}};
    use_one(FIELD_ENUM, 0, 0, 0);
    one_spec[0].enums = yn;
    one_spec[0].enum_hint = NULL;
    expect_one_error("{\"v\": \"maybe\"}", "must be one of: yes, no");
    expect_one_error("{\"v\": 1}", "must be one of: yes, no");
}

/* ---- objects ----------------------------------------------------------------------- */

static void test_object(void **state)
{
    (void)state;
    struct one o;
    use_one(FIELD_OBJECT, FIELD_REQUIRED, 0, 0);
    assert_true(parse_one("{\"v\": {\"a\": [1]}}", &o));
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(root, "v", &v));
    assert_ptr_equal(o.v.obj, v);
    assert_true(parse_one("{\"v\": {}}", &o));
    assert_non_null(o.v.obj);
    expect_one_error("{\"v\": []}", "must be an object");
    expect_one_error("{\"v\": \"{}\"}", "must be an object");
    expect_one_error("{\"v\": null}", "is required");
    expect_one_error("{}", "is required");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_valid_body),
        T(test_string_copied),
        T(test_absent_and_null),
        T(test_wrong_types_all_reported),
        T(test_body_not_object),
        T(test_nested_array_paths),
        T(test_array_item_limits),
        T(test_array_min_still_checks_items),
        T(test_array_default_max),
        T(test_array_depth_limit),
        T(test_error_cap),
        T(test_field_errors_add),
        T(test_result_per_call),
        T(test_string_length_in_code_points),
        T(test_string_unlimited),
        T(test_string_invalid_utf8),
        T(test_string_control_characters),
        T(test_string_not_blank),
        T(test_int_ranges),
        T(test_int_clamped),
        T(test_lenient),
        T(test_decimal_values),
        T(test_decimal_errors),
        T(test_decimal_sign_flags),
        T(test_msisdn),
        T(test_currency),
        T(test_timestamp),
        T(test_enum_aliases),
        T(test_enum_errors),
        T(test_object),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
