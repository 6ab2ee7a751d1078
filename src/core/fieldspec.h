/*
 * fieldspec.h — declarative parsing and validation of JSON request bodies.
 *
 * A handler describes its body as a table of field specs; fieldspec_parse()
 * walks a json-c object, converts every described member into the handler's
 * struct, and collects every problem at once as "<field>: <what is wrong>"
 * (nested fields as "orderLineItems[2].name: ..."). Members not described are
 * ignored. A JSON null counts as absent. All memory comes from the arena;
 * the json_object tree must outlive the parsed struct (strings are copied,
 * FIELD_OBJECT keeps a borrowed pointer).
 *
 * Optional scalars are stored in small {set, v} wrappers so a handler can tell
 * "absent" from "zero"; strings, currencies, objects are NULL when absent.
 */
#ifndef CHATPAY_CORE_FIELDSPEC_H
#define CHATPAY_CORE_FIELDSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/currency.h"
#include "core/money.h"
#include "util/arena.h"
#include "util/time.h"

enum field_kind {
    FIELD_STRING,    /* out: const char * (UTF-8, validated; length counted in code points) */
    FIELD_BOOL,      /* out: struct fv_bool */
    FIELD_INT,       /* out: struct fv_int; JSON integer within [min, max] */
    FIELD_DECIMAL,   /* out: struct fv_dec; exact decimal from the number's source text */
    FIELD_MSISDN,    /* out: const char *, digits only (leading '+' removed), 7..15 digits */
    FIELD_CURRENCY,  /* out: const struct currency *; [A-Za-z]{3} and in the ISO table */
    FIELD_TIMESTAMP, /* out: struct fv_time; ISO 8601 date-time string (time_parse_iso8601) */
    FIELD_ENUM,   /* out: struct fv_enum; string (case-insensitive) or integer matched in .enums */
    FIELD_OBJECT, /* out: json_object * (borrowed), any JSON object */
    FIELD_ARRAY,  /* out: struct fv_array; array of objects parsed with .sub */
};

/* flags */
#define FIELD_REQUIRED (1u << 0) /* absent or null → "<name>: is required" */
#define FIELD_POSITIVE (1u << 1) /* FIELD_DECIMAL: must be > 0 */
#define FIELD_NONNEG   (1u << 2) /* FIELD_DECIMAL: must be >= 0 (and not "-0") */
#define FIELD_NOTBLANK (1u << 3) /* FIELD_STRING: not empty / not only whitespace */
/* Where a contract gives one type and clients send the other: FIELD_INT also
 * takes a string of an integer ("10000"), FIELD_STRING also takes a JSON
 * integer (1234 → "1234"). Anything else stays an error. */
#define FIELD_LENIENT (1u << 4)

struct fv_bool {
    bool set;
    bool v;
};
struct fv_int {
    bool set;
    int64_t v;
};
struct fv_dec {
    bool set;
    struct money_dec v;
};
struct fv_time {
    bool set;
    usec_t v;
};
struct fv_enum {
    bool set;
    int v;
};
struct fv_array {
    size_t count;
    void *items; /* count × spec.sub_size bytes, arena-allocated */
};

/* One accepted spelling of an enum value. Several entries may share a value
 * (aliases). `name` is matched case-insensitively against JSON strings;
 * `id` (>= 0) is matched against JSON integers and against strings made only
 * of digits; id -1 means "no numeric spelling". The list ends with name NULL. */
struct field_enum {
    const char *name;
    int value;
    int id;
};

struct field_spec {
    const char *name; /* JSON member name; NULL ends a table */
    enum field_kind kind;
    size_t offset; /* offsetof(out struct, member) */
    unsigned flags;
    int64_t min, max;               /* STRING: code points (max 0 = unlimited); INT: value range
                                       (both 0 = any int32); ARRAY: item count (max 0 = 1000) */
    const struct field_enum *enums; /* FIELD_ENUM */
    const char *enum_hint;          /* FIELD_ENUM: "A, B, C" listed in the error message */
    const struct field_spec *sub;   /* FIELD_ARRAY: spec of each item */
    size_t sub_size;                /* FIELD_ARRAY: sizeof each item struct */
};

/* Collected problems, each "<path>: <reason>", arena-allocated. At most
 * FIELD_ERRORS_MAX are kept (further ones are counted in `dropped`). */
#define FIELD_ERRORS_MAX 64
struct field_errors {
    const char *items[FIELD_ERRORS_MAX];
    size_t count;
    size_t dropped;
};

/* Add a problem (for handler-level rules that the table cannot express),
 * stored as "<field>: <message>"; a NULL field stores the message alone. */
void field_errors_add(struct field_errors *e, struct arena *a, const char *field, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* May a FIELD_STRING hold code point cp? Every character but the controls
 * (Unicode Cc), tab and newline excepted: what a parameter matched against
 * a stored string must allow too. */
bool fieldspec_char_ok(uint32_t cp);

/* Is s[0..len) text that a FIELD_STRING takes (well-formed UTF-8, no
 * control character but tab and newline)? Then *chars is its length in
 * characters (code points): for the text of a free-form object, whose
 * names no spec table can list. */
bool fieldspec_text(const char *s, size_t len, size_t *chars);

/* Parse `obj` into `out` (zeroed by the caller). If obj is not a JSON object,
 * records "body: must be a JSON object". Returns true when no problem was
 * added by this call. Nesting depth of FIELD_ARRAY is limited to 4. */
bool fieldspec_parse(const struct field_spec *spec, json_object *obj, void *out, struct arena *a,
                     struct field_errors *errs);

#endif
