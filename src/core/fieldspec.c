/*
 * fieldspec.c — table-driven parsing and validation of JSON bodies (see
 * fieldspec.h).
 *
 * The walk keeps the current member path ("items[2].name") in a fixed buffer
 * that is extended on the way down and cut back on the way up, so reporting a
 * problem is the only thing that allocates a path. Every described member is
 * checked even after a failure, so a client sees all of its mistakes at once.
 * A field whose value is rejected is left as the caller zeroed it.
 */
#include "core/fieldspec.h"

#include "util/utf8.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Longest path kept for messages; a longer one is cut (never overflows). */
#define FIELD_PATH_MAX 256

/* FIELD_ARRAY nesting allowed below the top-level object. */
#define FIELD_ARRAY_DEPTH_MAX 4

/* Item limit of a FIELD_ARRAY whose spec.max is 0. */
#define FIELD_ARRAY_DEFAULT_MAX 1000

struct fs_ctx {
    struct arena *a;
    struct field_errors *errs;
    size_t len;                /* strlen(path) */
    char path[FIELD_PATH_MAX]; /* current member path, NUL-terminated */
};

void field_errors_add(struct field_errors *e, struct arena *a, const char *field, const char *fmt,
                      ...)
{
    if (e->count >= FIELD_ERRORS_MAX) {
        e->dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = arena_vprintf(a, fmt, ap);
    va_end(ap);
    /* NULL field: a message that belongs to no member is kept as is. */
    e->items[e->count++] = field == NULL ? msg : arena_printf(a, "%s: %s", field, msg);
}

/* ---- path ----------------------------------------------------------------- */

/* Append s[0..n) to the path, cutting it at the buffer's end. */
static void path_append(struct fs_ctx *c, const char *s, size_t n)
{
    size_t room = sizeof(c->path) - 1 - c->len;
    if (n > room)
        n = room;
    memcpy(c->path + c->len, s, n);
    c->len += n;
    c->path[c->len] = '\0';
}

/* Enter member `name`; returns the mark to restore with path_pop(). */
static size_t path_push_member(struct fs_ctx *c, const char *name)
{
    size_t mark = c->len;
    if (c->len > 0)
        path_append(c, ".", 1);
    path_append(c, name, strlen(name));
    return mark;
}

/* Enter array item `i`; returns the mark to restore with path_pop(). */
static size_t path_push_index(struct fs_ctx *c, size_t i)
{
    size_t mark = c->len;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "[%zu]", i);
    if (n > 0)
        path_append(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    return mark;
}

static void path_pop(struct fs_ctx *c, size_t mark)
{
    c->len = mark;
    c->path[mark] = '\0';
}

/* Record "<current path>: <reason>". */
static void fs_error(struct fs_ctx *c, const char *reason)
{
    field_errors_add(c->errs, c->a, c->path, "%s", reason);
}

/* ---- text checks ---------------------------------------------------------- */

/* Unicode general category Cc, except tab and newline. */
static bool is_control(uint32_t cp)
{
    if (cp == '\t' || cp == '\n')
        return false;
    return utf8_is_control(cp);
}

bool fieldspec_char_ok(uint32_t cp)
{
    return !is_control(cp);
}

/* Unicode White_Space property. */
static bool is_space(uint32_t cp)
{
    switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

enum text_status { TEXT_OK, TEXT_BAD_UTF8, TEXT_CONTROL };

/* Validate s[0..len) as UTF-8 text without control characters; on success
 * *chars is the number of code points and *blank whether all are white space.
 * Malformed UTF-8 anywhere wins over a control character. */
static enum text_status text_check(const char *s, size_t len, size_t *chars, bool *blank)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    bool control = false, all_space = true;

    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_next(p + i, len - i, &cp);
        if (k == 0)
            return TEXT_BAD_UTF8;
        if (is_control(cp))
            control = true;
        if (!is_space(cp))
            all_space = false;
        i += k;
        n++;
    }
    if (control)
        return TEXT_CONTROL;
    *chars = n;
    *blank = all_space;
    return TEXT_OK;
}

bool fieldspec_text(const char *s, size_t len, size_t *chars)
{
    bool blank;
    return text_check(s, len, chars, &blank) == TEXT_OK;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static char ascii_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Case-insensitive (ASCII) comparison of a NUL-terminated name with s[0..len). */
static bool name_equal(const char *name, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '\0' || ascii_lower(name[i]) != ascii_lower(s[i]))
            return false;
    }
    return name[len] == '\0';
}

/* ---- kinds ---------------------------------------------------------------- */

/* json-c silently clamps integers it cannot hold to these values, so they
 * cannot be told apart from a real overflow and count as out of range. */
static bool is_clamped(int64_t v)
{
    return v == INT64_MAX || v == INT64_MIN;
}

/* The value as a string, or record "must be a string". */
static bool get_string(struct fs_ctx *c, json_object *v, const char **s, size_t *len)
{
    if (!json_object_is_type(v, json_type_string)) {
        fs_error(c, "must be a string");
        return false;
    }
    *s = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    return true;
}

static void parse_string(struct fs_ctx *c, const struct field_spec *f, json_object *v, void *dst)
{
    const char *s;
    size_t len, chars = 0;
    bool blank = false;

    if ((f->flags & FIELD_LENIENT) && json_object_is_type(v, json_type_int)) {
        /* an integer where a string is wanted: its text as written */
        s = json_object_get_string(v);
        len = strlen(s);
        if (is_clamped(json_object_get_int64(v))) {
            fs_error(c, "is out of range");
            return;
        }
    } else if (f->flags & FIELD_LENIENT) {
        if (!json_object_is_type(v, json_type_string)) {
            fs_error(c, "must be a string (or an integer)");
            return;
        }
        s = json_object_get_string(v);
        len = (size_t)json_object_get_string_len(v);
    } else if (!get_string(c, v, &s, &len)) {
        return;
    }
    switch (text_check(s, len, &chars, &blank)) {
    case TEXT_BAD_UTF8:
        fs_error(c, "must be valid UTF-8");
        return;
    case TEXT_CONTROL:
        fs_error(c, "must not contain control characters");
        return;
    case TEXT_OK:
        break;
    }
    if (f->max > 0 && (uint64_t)chars > (uint64_t)f->max) {
        field_errors_add(c->errs, c->a, c->path, "must be at most %" PRId64 " characters", f->max);
    } else if ((f->flags & FIELD_NOTBLANK) && blank) {
        fs_error(c, "must not be blank");
    } else if (f->min > 0 && (uint64_t)chars < (uint64_t)f->min) {
        field_errors_add(c->errs, c->a, c->path, "must be at least %" PRId64 " characters", f->min);
    } else {
        /* No NUL inside (it is a control character), so strndup keeps it all. */
        *(const char **)dst = arena_strndup(c->a, s, len);
    }
}

static void parse_bool(struct fs_ctx *c, json_object *v, void *dst)
{
    if (!json_object_is_type(v, json_type_boolean)) {
        fs_error(c, "must be a boolean");
        return;
    }
    struct fv_bool *out = dst;
    out->set = true;
    out->v = json_object_get_boolean(v) != 0;
}

/* A string holding an integer: an optional '-', then 1 to 18 digits. */
static bool string_int(json_object *v, int64_t *out)
{
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v), i = s[0] == '-';
    if (len <= i || len - i > 18)
        return false;
    int64_t n = 0;
    for (size_t k = i; k < len; k++) {
        if (!is_digit(s[k]))
            return false;
        n = n * 10 + (s[k] - '0');
    }
    *out = i ? -n : n;
    return true;
}

static void parse_int(struct fs_ctx *c, const struct field_spec *f, json_object *v, void *dst)
{
    int64_t n;
    if ((f->flags & FIELD_LENIENT) && json_object_is_type(v, json_type_string)) {
        if (!string_int(v, &n)) {
            fs_error(c, "must be an integer (or a string of one)");
            return;
        }
    } else if (!json_object_is_type(v, json_type_int)) {
        fs_error(c, (f->flags & FIELD_LENIENT) ? "must be an integer (or a string of one)"
                                               : "must be an integer");
        return;
    } else {
        n = json_object_get_int64(v); /* a uint64 above INT64_MAX reads as INT64_MAX */
    }
    if (is_clamped(n)) {
        fs_error(c, "is out of range");
        return;
    }
    int64_t min = f->min, max = f->max;
    if (min == 0 && max == 0) {
        min = INT32_MIN;
        max = INT32_MAX;
    }
    if (n < min || n > max) {
        if (max == INT64_MAX)
            field_errors_add(c->errs, c->a, c->path, "must be at least %" PRId64, min);
        else if (min == INT64_MIN)
            field_errors_add(c->errs, c->a, c->path, "must be at most %" PRId64, max);
        else
            field_errors_add(c->errs, c->a, c->path, "must be between %" PRId64 " and %" PRId64,
                             min, max);
        return;
    }
    struct fv_int *out = dst;
    out->set = true;
    out->v = n;
}

static void parse_decimal(struct fs_ctx *c, const struct field_spec *f, json_object *v, void *dst)
{
    char buf[32];
    const char *text;
    size_t len;

    if (json_object_is_type(v, json_type_double)) {
        /* For a parsed number json-c returns the source text, so the value
         * never passes through a binary double. */
        text = json_object_get_string(v);
        len = text != NULL ? strlen(text) : 0;
    } else if (json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (is_clamped(n)) {
            fs_error(c, "is out of range");
            return;
        }
        int k = snprintf(buf, sizeof(buf), "%" PRId64, n);
        text = buf;
        len = k > 0 ? (size_t)k : 0;
    } else {
        fs_error(c, "must be a number");
        return;
    }

    struct money_dec d = {0};
    enum money_status st = text != NULL ? money_dec_parse(text, len, &d) : MONEY_SYNTAX;
    switch (st) {
    case MONEY_OK:
        break;
    case MONEY_NEGATIVE:
        /* money_dec_parse reports signs through d.negative; should it ever
         * refuse one instead, report it the way the flags ask. */
        fs_error(c,
                 (f->flags & FIELD_POSITIVE) ? "must be greater than 0" : "must not be negative");
        return;
    case MONEY_TOO_PRECISE:
        fs_error(c, "has too many decimal places");
        return;
    case MONEY_OUT_OF_RANGE:
        fs_error(c, "is out of range");
        return;
    case MONEY_SYNTAX:
    default:
        fs_error(c, "must be a number");
        return;
    }
    /* zero has no sign: -0.0, which common JSON encoders write for a
     * negative zero, is 0 (and 0 is what a non-negative field allows) */
    if (d.coef == 0)
        d.negative = false;
    if ((f->flags & FIELD_POSITIVE) && (d.negative || d.coef == 0)) {
        fs_error(c, "must be greater than 0");
        return;
    }
    if ((f->flags & FIELD_NONNEG) && d.negative) {
        fs_error(c, "must not be negative");
        return;
    }
    struct fv_dec *out = dst;
    out->set = true;
    out->v = d;
}

static void parse_msisdn(struct fs_ctx *c, json_object *v, void *dst)
{
    const char *s;
    size_t len;

    if (!get_string(c, v, &s, &len))
        return;
    if (len > 0 && s[0] == '+') {
        s++;
        len--;
    }
    /* digits, with the spaces, dashes, dots and brackets people write
     * between them ("+27 82 123-4567", "+1 (415) 555.0100"), which are
     * dropped; it starts with a digit */
    char digits[16];
    size_t n = 0;
    bool ok = len > 0 && is_digit(s[0]);
    for (size_t i = 0; ok && i < len; i++) {
        if (!is_digit(s[i]))
            ok = s[i] != '\0' && strchr(" -.()", s[i]) != NULL;
        else if (n < 15)
            digits[n++] = s[i];
        else
            ok = false; /* more than 15 digits */
    }
    if (!ok || n < 7 || digits[0] == '0') {
        fs_error(c, "must be an international phone number (7 to 15 digits, optional leading +)");
        return;
    }
    *(const char **)dst = arena_strndup(c->a, digits, n);
}

static void parse_currency(struct fs_ctx *c, json_object *v, void *dst)
{
    const char *s;
    size_t len;

    if (!get_string(c, v, &s, &len))
        return;
    if (len != 3 || !is_alpha(s[0]) || !is_alpha(s[1]) || !is_alpha(s[2])) {
        fs_error(c, "must be a three-letter currency code");
        return;
    }
    const struct currency *cur = currency_find(s);
    if (cur == NULL) {
        fs_error(c, "is not a known ISO 4217 currency");
        return;
    }
    *(const struct currency **)dst = cur;
}

static void parse_timestamp(struct fs_ctx *c, json_object *v, void *dst)
{
    const char *s;
    size_t len;
    usec_t t;

    if (!get_string(c, v, &s, &len))
        return;
    if (!time_parse_iso8601(s, len, &t)) {
        fs_error(c, "must be an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)");
        return;
    }
    struct fv_time *out = dst;
    out->set = true;
    out->v = t;
}

/* Find the value of an enum spelling: a string by name (any case) or, when
 * made only of digits, by id; an integer by id. */
static bool enum_match(const struct field_enum *enums, json_object *v, int *value)
{
    int64_t id = -1;

    if (enums == NULL)
        return false;
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        for (const struct field_enum *e = enums; e->name != NULL; e++) {
            if (name_equal(e->name, s, len)) {
                *value = e->value;
                return true;
            }
        }
        bool digits = len > 0;
        int64_t n = 0;
        for (size_t i = 0; digits && i < len; i++) {
            digits = is_digit(s[i]);
            if (digits && n <= INT_MAX) /* stop growing once no id can match */
                n = n * 10 + (s[i] - '0');
        }
        if (!digits)
            return false;
        id = n;
    } else if (json_object_is_type(v, json_type_int)) {
        id = json_object_get_int64(v);
    } else {
        return false;
    }
    for (const struct field_enum *e = enums; e->name != NULL; e++) {
        if (e->id >= 0 && (int64_t)e->id == id) {
            *value = e->value;
            return true;
        }
    }
    return false;
}

/* The spellings to list in an error: the spec's hint, else every name. */
static const char *enum_hint(struct fs_ctx *c, const struct field_spec *f)
{
    if (f->enum_hint != NULL)
        return f->enum_hint;
    const char *hint = "";
    for (const struct field_enum *e = f->enums; e != NULL && e->name != NULL; e++)
        hint = *hint == '\0' ? e->name : arena_printf(c->a, "%s, %s", hint, e->name);
    return hint;
}

static void parse_enum(struct fs_ctx *c, const struct field_spec *f, json_object *v, void *dst)
{
    int value;
    if (!enum_match(f->enums, v, &value)) {
        field_errors_add(c->errs, c->a, c->path, "must be one of: %s", enum_hint(c, f));
        return;
    }
    struct fv_enum *out = dst;
    out->set = true;
    out->v = value;
}

static void parse_object_field(struct fs_ctx *c, json_object *v, void *dst)
{
    if (!json_object_is_type(v, json_type_object)) {
        fs_error(c, "must be an object");
        return;
    }
    *(json_object **)dst = v;
}

static void parse_members(struct fs_ctx *c, const struct field_spec *spec, json_object *obj,
                          void *out, int depth);

static void parse_array(struct fs_ctx *c, const struct field_spec *f, json_object *v, void *dst,
                        int depth)
{
    if (!json_object_is_type(v, json_type_array)) {
        fs_error(c, "must be an array");
        return;
    }
    size_t n = json_object_array_length(v);
    int64_t max = f->max > 0 ? f->max : FIELD_ARRAY_DEFAULT_MAX;
    if ((uint64_t)n > (uint64_t)max) {
        /* Too many to be worth looking at: skip the items entirely. */
        field_errors_add(c->errs, c->a, c->path, "must have at most %" PRId64 " items", max);
        return;
    }
    if (f->min > 0 && (uint64_t)n < (uint64_t)f->min) /* items are still checked */
        field_errors_add(c->errs, c->a, c->path, "must have at least %" PRId64 " items", f->min);
    if (n == 0)
        return;
    if (depth >= FIELD_ARRAY_DEPTH_MAX) {
        /* Only a self-referencing spec gets here; the input decides how deep. */
        fs_error(c, "is nested too deeply");
        return;
    }

    unsigned char *items = NULL;
    if (f->sub != NULL && f->sub_size > 0)
        items = arena_calloc(c->a, n, f->sub_size);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(v, i);
        size_t mark = path_push_index(c, i);
        if (!json_object_is_type(item, json_type_object))
            fs_error(c, "must be an object");
        else if (items != NULL)
            parse_members(c, f->sub, item, items + i * f->sub_size, depth + 1);
        path_pop(c, mark);
    }
    struct fv_array *out = dst;
    out->count = n;
    out->items = items;
}

/* Convert one present, non-null member into dst. */
static void parse_value(struct fs_ctx *c, const struct field_spec *f, json_object *v, void *dst,
                        int depth)
{
    switch (f->kind) {
    case FIELD_STRING:
        parse_string(c, f, v, dst);
        break;
    case FIELD_BOOL:
        parse_bool(c, v, dst);
        break;
    case FIELD_INT:
        parse_int(c, f, v, dst);
        break;
    case FIELD_DECIMAL:
        parse_decimal(c, f, v, dst);
        break;
    case FIELD_MSISDN:
        parse_msisdn(c, v, dst);
        break;
    case FIELD_CURRENCY:
        parse_currency(c, v, dst);
        break;
    case FIELD_TIMESTAMP:
        parse_timestamp(c, v, dst);
        break;
    case FIELD_ENUM:
        parse_enum(c, f, v, dst);
        break;
    case FIELD_OBJECT:
        parse_object_field(c, v, dst);
        break;
    case FIELD_ARRAY:
        parse_array(c, f, v, dst, depth);
        break;
    default:
        fs_error(c, "has an unsupported field kind"); /* a broken spec table */
        break;
    }
}

/* Walk a spec table over the members of obj (a JSON object). */
static void parse_members(struct fs_ctx *c, const struct field_spec *spec, json_object *obj,
                          void *out, int depth)
{
    for (const struct field_spec *f = spec; f->name != NULL; f++) {
        json_object *v = NULL;
        size_t mark = path_push_member(c, f->name);
        /* json-c stores a JSON null as a NULL member value: same as absent. */
        if (!json_object_object_get_ex(obj, f->name, &v) || v == NULL) {
            if (f->flags & FIELD_REQUIRED)
                fs_error(c, "is required");
        } else {
            parse_value(c, f, v, (unsigned char *)out + f->offset, depth);
        }
        path_pop(c, mark);
    }
}

bool fieldspec_parse(const struct field_spec *spec, json_object *obj, void *out, struct arena *a,
                     struct field_errors *errs)
{
    size_t before = errs->count + errs->dropped;
    struct fs_ctx c = {.a = a, .errs = errs, .len = 0, .path = ""};

    if (!json_object_is_type(obj, json_type_object))
        field_errors_add(errs, a, "body", "must be a JSON object");
    else
        parse_members(&c, spec, obj, out, 0);
    return errs->count + errs->dropped == before;
}
