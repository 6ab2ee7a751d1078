/*
 * test_json_check.c — unit tests for util/json_check.c, the strict RFC 8259
 * syntax check run on every request body before json-c parses it.
 *
 * Valid documents must pass; invalid ones must fail with the exact byte
 * offset and reason (API clients see both in the error message). Inputs are
 * copied into heap buffers of exactly their length, so that the ASan build
 * catches any read past `len`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util/json_check.h"

/* the server's limit (src/http/server.c JSON_MAX_DEPTH) */
#define DEPTH 32

/* a string literal and its length, embedded NUL bytes included */
#define T(s) s, sizeof(s) - 1

/* the reasons, verbatim */
#define E_CTRL     "control character in a string (escape it)"
#define E_U_ESC    "bad \\u escape in a string"
#define E_ESC      "bad escape in a string"
#define E_UTF8     "invalid UTF-8 in a string"
#define E_STR_END  "unexpected end of input in a string"
#define E_NUL      "\\u0000 in a string (a NUL character is not accepted)"
#define E_SURR     "lone surrogate \\u escape in a string"
#define E_NUM      "bad number"
#define E_NUM_FRAC "bad number: digits must follow the decimal point"
#define E_NUM_EXP  "bad number: digits must follow the exponent"
#define E_CHAR     "unexpected character"
#define E_END      "unexpected end of input"
#define E_NAME     "expected a member name in double quotes"
#define E_COLON    "expected ':'"
#define E_DEEP     "nested too deeply"
#define E_OBJ      "expected ',' or '}'"
#define E_ARR      "expected ',' or ']'"
#define E_TRAIL    "unexpected data after the JSON value"

/* ---- helpers ---------------------------------------------------------------- */

/* `text` with non-printable bytes as \xNN, for failure messages. */
static const char *show(const char *text, size_t len)
{
    static char buf[512];
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < sizeof buf; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f)
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", c);
    }
    if (o + 8 >= sizeof buf)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "...");
    buf[o] = '\0';
    return buf;
}

/* json_check on an exact-size heap copy of text[0..len). */
static bool check(const char *text, size_t len, int max_depth, size_t *at, const char **why)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, text, len);
    *at = SIZE_MAX;
    *why = NULL;
    bool ok = json_check(copy, len, max_depth, at, why);
    free(copy);
    return ok;
}

static void expect_ok_depth(const char *text, size_t len, int max_depth)
{
    size_t at;
    const char *why;
    if (!check(text, len, max_depth, &at, &why)) {
        print_error("input \"%s\" (max_depth %d): rejected at %zu: %s\n", show(text, len),
                    max_depth, at, why ? why : "(null)");
        fail();
    }
}

static void expect_ok(const char *text, size_t len)
{
    expect_ok_depth(text, len, DEPTH);
}

static void expect_bad_depth(const char *text, size_t len, int max_depth, size_t want_at,
                             const char *want_why)
{
    size_t at;
    const char *why;
    bool ok = check(text, len, max_depth, &at, &why);
    if (ok || at != want_at || !why || strcmp(why, want_why) != 0) {
        print_error("input \"%s\" (max_depth %d): %s at %zu: %s; want rejected at %zu: %s\n",
                    show(text, len), max_depth, ok ? "accepted" : "rejected", at,
                    why ? why : "(null)", want_at, want_why);
        fail();
    }
}

static void expect_bad(const char *text, size_t len, size_t want_at, const char *want_why)
{
    expect_bad_depth(text, len, DEPTH, want_at, want_why);
}

struct ok_case {
    const char *text;
    size_t len;
};

struct bad_case {
    const char *text;
    size_t len;
    size_t at;
    const char *why;
};

static void run_ok(const struct ok_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_ok(cases[i].text, cases[i].len);
}

static void run_bad(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_bad(cases[i].text, cases[i].len, cases[i].at, cases[i].why);
}

#define RUN_OK(cases)  run_ok(cases, sizeof(cases) / sizeof(cases[0]))
#define RUN_BAD(cases) run_bad(cases, sizeof(cases) / sizeof(cases[0]))

/* n times `open`, then `middle`, then n times `close`, NUL-terminated. */
static char *nest(const char *open, const char *middle, const char *close, size_t n, size_t *len)
{
    size_t lo = strlen(open), lm = strlen(middle), lc = strlen(close);
    size_t total = n * lo + lm + n * lc;
    char *s = malloc(total + 1);
    assert_non_null(s);
    char *p = s;
    for (size_t i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, middle, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    *len = total;
    return s;
}

/* ---- valid documents -------------------------------------------------------- */

static void test_valid_containers(void **state)
{
    (void)state;
    static const struct ok_case cases[] = {
        {T("{}")},
        {T("[]")},
        {T("{\"a\":1}")},
        {T("{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":false,\"e\":null,\"f\":[],\"g\":{}}")},
        {T("{\"\":0}")},
        {T("{\"a\":1,\"a\":2}")}, /* duplicate names are syntactically valid */
        {T("[1]")},
        {T("[1,2,3]")},
        {T("[1,\"a\",true,false,null,[],{},-0.5e+3]")},
        {T("[[]]")},
        {T("[[],[]]")},
        {T("[{}]")},
        {T("[{},{}]")},
        {T("{\"a\":{}}")},
        {T("{\"a\":[]}")},
        {T("{\"a\":{\"b\":{\"c\":[1,[2,[3,{\"d\":null}]]]}},\"e\":[{}, {\"f\":[]}]}")},
        {T("[[[[[[[[[[]]]]]]]]]]")},
        {T("[[1,2],[3,[4,5]],{\"x\":[6]}]")},
        {T("{\"amount\":\"12.50\",\"currency\":\"EUR\",\"metadata\":{\"order\":\"A-1\"}}")},
        {T("[\"]\",\"}\",\",\",\":\",\"[\",\"{\"]")}, /* structural characters inside strings */
        {T("{\"{\":\"}\",\"[\":\"]\"}")},
    };
    RUN_OK(cases);
}

static void test_valid_scalars(void **state)
{
    (void)state;
    static const struct ok_case cases[] = {
        /* top-level scalars (RFC 8259 allows any value) */
        {T("1")},
        {T("null")},
        {T("true")},
        {T("false")},
        {T("\"x\"")},
        {T("\"\"")},
        /* numbers */
        {T("0")},
        {T("-0")},
        {T("-0.0")},
        {T("0.5")},
        {T("0.5e-3")},
        {T("1E+2")},
        {T("1e2")},
        {T("1E2")},
        {T("1e-2")},
        {T("1e+0")},
        {T("0e0")},
        {T("-0E-0")},
        {T("1e007")},
        {T("123")},
        {T("-123")},
        {T("10")},
        {T("100.001")},
        {T("-1.5E+10")},
        {T("3.141592653589793")},
        {T("1.7976931348623157e308")},
        {T("1e999")}, /* out of double range: still valid syntax */
        {T("-1e-999")},
        {T("123456789012345678901234567890")},
        {T("0.000000000000000000000000000001")},
        {T("[0,-0,0.0,-0.0,1e1,1E1,1e+1,1e-1,10,-10]")},
    };
    RUN_OK(cases);
}

static void test_valid_whitespace(void **state)
{
    (void)state;
    static const struct ok_case cases[] = {
        {T(" 1")},
        {T("1 ")},
        {T(" \t\r\n1 \t\r\n")},
        {T("\n\n{}\n")},
        {T("\r\n[\r\n]\r\n")},
        {T(" { \"a\" : 1 , \"b\" : [ 1 , 2 ] } ")},
        {T("{\t\"a\"\t:\t[\t]\t}")},
        {T("[\n  {\n    \"a\": null\n  },\n  true\n]\n")},
        {T("  \"x\"  ")},
        {T("\tnull\t")},
    };
    RUN_OK(cases);
}

static void test_valid_strings(void **state)
{
    (void)state;
    static const struct ok_case cases[] = {
        /* every simple escape */
        {T("\"\\\"\"")},
        {T("\"\\\\\"")},
        {T("\"\\/\"")},
        {T("\"\\b\"")},
        {T("\"\\f\"")},
        {T("\"\\n\"")},
        {T("\"\\r\"")},
        {T("\"\\t\"")},
        {T("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"")},
        {T("\"a\\\\\"")}, /* escaped backslash right before the closing quote */
        {T("\"\\\\\\\\\"")},
        /* \uXXXX, both cases of hex digits */
        {T("\"\\u0001\"")},
        {T("\"\\u0041\"")},
        {T("\"\\u00e9\\u00E9\"")},
        {T("\"\\uABCD\\uabcd\\uAbCd\"")},
        {T("\"\\u20AC\"")},
        {T("\"\\uFFFF\"")},
        {T("\"\\u001f\"")},
        /* surrogate pairs as escapes (lone ones are refused: see the errors) */
        {T("\"\\uD83D\\uDE00\"")},
        {T("\"\\ud83d\\ude00\"")},
        {T("\"\\uDBFF\\uDFFF\"")},
        {T("\"\\uD800\\uDC00x\"")},
        {T("\"\\u12345\"")}, /* \u1234 then a plain '5' */
        /* multi-byte UTF-8 at every length and boundary */
        {T("\"\xc2\x80\"")},         /* U+0080 */
        {T("\"\xc3\xa9\"")},         /* U+00E9 é */
        {T("\"\xdf\xbf\"")},         /* U+07FF */
        {T("\"\xe0\xa0\x80\"")},     /* U+0800 */
        {T("\"\xe2\x82\xac\"")},     /* U+20AC € */
        {T("\"\xed\x9f\xbf\"")},     /* U+D7FF, below the surrogates */
        {T("\"\xee\x80\x80\"")},     /* U+E000, above the surrogates */
        {T("\"\xef\xbb\xbf\"")},     /* U+FEFF inside a string */
        {T("\"\xef\xbf\xbf\"")},     /* U+FFFF */
        {T("\"\xf0\x90\x80\x80\"")}, /* U+10000 */
        {T("\"\xf0\x9f\x98\x80\"")}, /* U+1F600 😀 */
        {T("\"\xf4\x8f\xbf\xbf\"")}, /* U+10FFFF */
        {T("\"Gr\xc3\xbc\xc3\x9f"
           "e \xe2\x82\xac"
           "5\"")},                                     /* mixed */
        {T("{\"\xe2\x82\xac\":\"\xf0\x9f\x98\x80\"}")}, /* in a member name */
        /* DEL and other printable bytes need no escape */
        {T("\"\x7f\"")},
        {T("\" !#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}~\"")},
        {T("\"'single' quotes inside\"")},
    };
    RUN_OK(cases);
}

/* The check reads text[0..len) only: what follows does not count and an
 * embedded NUL is an ordinary (invalid) byte. */
static void test_uses_len_not_nul(void **state)
{
    (void)state;
    expect_ok("[1]garbage", 3);
    expect_ok("truex", 4);
    expect_ok("12", 1);
    expect_ok("\"ab\"cd", 4);
    expect_bad("true", 3, 0, E_CHAR);
    expect_bad("\"abc\"", 4, 4, E_STR_END);
    expect_bad("[1]", 2, 2, E_END);
    expect_bad("1.5", 2, 2, E_NUM_FRAC);
    expect_bad("\"\\u1234\"", 5, 1, E_U_ESC);
    expect_bad("\"\xe2\x82\xac\"", 3, 1, E_UTF8);
    expect_bad(T("1\0"), 1, E_TRAIL);
    expect_bad(T("\0"
                 "1"),
               0, E_CHAR);
    expect_bad(T("[1\0]"), 2, E_ARR);
    expect_bad(T("\"a\0b\""), 2, E_CTRL);
    expect_bad(T("\"\\\0\""), 2, E_ESC);
    expect_bad(T("{\"a\0\":1}"), 3, E_CTRL);
}

/* ---- invalid documents ------------------------------------------------------ */

static void test_empty(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {T(""), 0, E_END},
        {T(" "), 1, E_END},
        {T(" \t\r\n"), 4, E_END},
    };
    RUN_BAD(cases);
}

static void test_structure_errors(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        /* trailing commas */
        {T("[1,]"), 3, E_CHAR},
        {T("[1, ]"), 4, E_CHAR},
        {T("{\"a\":1,}"), 7, E_NAME},
        {T("{\"a\":1 , }"), 9, E_NAME},
        {T("[[],]"), 4, E_CHAR},
        {T("{\"a\":[1,],\"b\":2}"), 8, E_CHAR},
        /* leading, double and lone commas */
        {T("[,1]"), 1, E_CHAR},
        {T("[,]"), 1, E_CHAR},
        {T("[1,,2]"), 3, E_CHAR},
        {T("{,}"), 1, E_NAME},
        {T("{,\"a\":1}"), 1, E_NAME},
        {T("{\"a\":1,,\"b\":2}"), 7, E_NAME},
        {T(","), 0, E_CHAR},
        /* missing commas */
        {T("[1 2]"), 3, E_ARR},
        {T("[1\"a\"]"), 2, E_ARR},
        {T("[[] []]"), 4, E_ARR},
        {T("[{}{}]"), 3, E_ARR},
        {T("{\"a\":1 \"b\":2}"), 7, E_OBJ},
        {T("{\"a\":{}\"b\":2}"), 7, E_OBJ},
        /* missing colons, missing values, missing names */
        {T("{\"a\" 1}"), 5, E_COLON},
        {T("{\"a\"}"), 4, E_COLON},
        {T("{\"a\",\"b\"}"), 4, E_COLON},
        {T("{\"a\"=1}"), 4, E_COLON},
        {T("{\"a\"::1}"), 5, E_CHAR},
        {T("{\"a\":}"), 5, E_CHAR},
        {T("{\"a\":,\"b\":1}"), 5, E_CHAR},
        {T("{:1}"), 1, E_NAME},
        {T("{a:1}"), 1, E_NAME},
        {T("{1:1}"), 1, E_NAME},
        {T("{null:1}"), 1, E_NAME},
        {T("{[]:1}"), 1, E_NAME},
        {T("[\"a\":1]"), 4, E_ARR},
        /* mismatched and stray closers */
        {T("[}"), 1, E_CHAR},
        {T("{]"), 1, E_NAME},
        {T("[1}"), 2, E_ARR},
        {T("{\"a\":1]"), 6, E_OBJ},
        {T("[[]}"), 3, E_ARR},
        {T("]"), 0, E_CHAR},
        {T("}"), 0, E_CHAR},
        {T(":"), 0, E_CHAR},
        /* single quotes */
        {T("'a'"), 0, E_CHAR},
        {T("['a']"), 1, E_CHAR},
        {T("{'a':1}"), 1, E_NAME},
        {T("{\"a\":'b'}"), 5, E_CHAR},
        /* other non-JSON: comments, bare words, wrong literals */
        {T("[1]//c"), 3, E_TRAIL},
        {T("/*c*/1"), 0, E_CHAR},
        {T("[1/*c*/]"), 2, E_ARR},
        {T("undefined"), 0, E_CHAR},
        {T("abc"), 0, E_CHAR},
        {T("True"), 0, E_CHAR},
        {T("NULL"), 0, E_CHAR},
        {T("nul"), 0, E_CHAR},
        {T("tru"), 0, E_CHAR},
        {T("fals"), 0, E_CHAR},
        {T("nulL"), 0, E_CHAR},
        {T("[tru]"), 1, E_CHAR},
        {T("{\"a\":nil}"), 5, E_CHAR},
        /* whitespace that JSON does not allow */
        {T("\f1"), 0, E_CHAR},
        {T("\v1"), 0, E_CHAR},
        {T("1\f"), 1, E_TRAIL},
        {T("[1,\v2]"), 3, E_CHAR},
        {T("\xc2\xa0"
           "1"),
         0, E_CHAR}, /* U+00A0 no-break space */
        {T("\xef\xbb\xbf"
           "{}"),
         0, E_CHAR}, /* byte order mark */
    };
    RUN_BAD(cases);
}

static void test_number_errors(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {T("NaN"), 0, E_CHAR},
        {T("nan"), 0, E_CHAR},
        {T("Infinity"), 0, E_CHAR},
        {T("-Infinity"), 1, E_NUM},
        {T("+Infinity"), 0, E_CHAR},
        {T("[NaN]"), 1, E_CHAR},
        {T("{\"a\":Infinity}"), 5, E_CHAR},
        {T("{\"a\":-NaN}"), 6, E_NUM},
        {T("1."), 2, E_NUM_FRAC},
        {T("1.e5"), 2, E_NUM_FRAC},
        {T("-1."), 3, E_NUM_FRAC},
        {T("[1.]"), 3, E_NUM_FRAC},
        {T("1.x"), 2, E_NUM_FRAC},
        {T(".5"), 0, E_CHAR},
        {T("-.5"), 1, E_NUM},
        {T("[.5]"), 1, E_CHAR},
        {T("01"), 1, E_TRAIL},
        {T("00"), 1, E_TRAIL},
        {T("-01"), 2, E_TRAIL},
        {T("0123.4"), 1, E_TRAIL},
        {T("[01]"), 2, E_ARR},
        {T("{\"a\":00}"), 6, E_OBJ},
        {T("+1"), 0, E_CHAR},
        {T("[+1]"), 1, E_CHAR},
        {T("-"), 1, E_NUM},
        {T("[-]"), 2, E_NUM},
        {T("- 1"), 1, E_NUM},
        {T("--1"), 1, E_NUM},
        {T("-a"), 1, E_NUM},
        {T("1e"), 2, E_NUM_EXP},
        {T("1E"), 2, E_NUM_EXP},
        {T("1e+"), 3, E_NUM_EXP},
        {T("1e-"), 3, E_NUM_EXP},
        {T("1e+-1"), 3, E_NUM_EXP},
        {T("1ee1"), 2, E_NUM_EXP},
        {T("[1e]"), 3, E_NUM_EXP},
        {T("1.5e"), 4, E_NUM_EXP},
        {T("1e1.5"), 3, E_TRAIL},
        {T("1.2.3"), 3, E_TRAIL},
        {T("0x10"), 1, E_TRAIL},
        {T("1_000"), 1, E_TRAIL},
        {T("1 2"), 2, E_TRAIL},
        {T("1,2"), 1, E_TRAIL},
        {T("1e5x"), 3, E_TRAIL},
    };
    RUN_BAD(cases);
}

static void test_string_errors(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        /* raw control characters */
        {T("\"a\tb\""), 2, E_CTRL},
        {T("\"a\nb\""), 2, E_CTRL},
        {T("\"\r\""), 1, E_CTRL},
        {T("\"\x01\""), 1, E_CTRL},
        {T("\"\x1f\""), 1, E_CTRL},
        {T("\"\x08\""), 1, E_CTRL},
        {T("[\"ok\",\"x\ty\"]"), 8, E_CTRL},
        {T("{\"a\tb\":1}"), 3, E_CTRL},
        {T("{\"a\":\"\n\"}"), 6, E_CTRL},
        /* bad escapes: the offset is the character after the backslash */
        {T("\"\\x41\""), 2, E_ESC},
        {T("\"\\'\""), 2, E_ESC},
        {T("\"\\a\""), 2, E_ESC},
        {T("\"\\0\""), 2, E_ESC},
        {T("\"\\v\""), 2, E_ESC},
        {T("\"\\ \""), 2, E_ESC},
        {T("\"\\U0041\""), 2, E_ESC},
        {T("\"\\N\""), 2, E_ESC},
        {T("\"\\\xc3\xa9\""), 2, E_ESC},
        {T("\"\\\t\""), 2, E_ESC},
        {T("\"ab\\c\""), 4, E_ESC},
        {T("{\"\\q\":1}"), 3, E_ESC},
        /* bad \u: the offset is the backslash */
        {T("\"\\u\""), 1, E_U_ESC},
        {T("\"\\u1\""), 1, E_U_ESC},
        {T("\"\\u12\""), 1, E_U_ESC},
        {T("\"\\u123\""), 1, E_U_ESC},
        {T("\"\\u12G4\""), 1, E_U_ESC},
        {T("\"\\uGHIJ\""), 1, E_U_ESC},
        {T("\"\\u-123\""), 1, E_U_ESC},
        {T("\"\\u 123\""), 1, E_U_ESC},
        {T("\"\\u{41}\""), 1, E_U_ESC},
        {T("\"\\x\\u00zz\""), 2, E_ESC}, /* the first error wins */
        {T("\"ab\\uD83D\\uDE0\""), 9, E_U_ESC},
        {T("\"\\u"), 1, E_U_ESC},
        {T("\"\\u12"), 1, E_U_ESC},
        {T("\"\\u123"), 1, E_U_ESC},
        /* escapes other readers take otherwise than json-c: a NUL (json-c
         * cuts a member name there) and a lone surrogate (stored as U+FFFD);
         * the offset is the backslash */
        {T("\"\\u0000\""), 1, E_NUL},
        {T("{\"totalAmount\\u0000\":1}"), 13, E_NUL},
        {T("\"ab\\u0000cd\""), 3, E_NUL},
        {T("\"\\uD800\""), 1, E_SURR},
        {T("\"\\uDC00\""), 1, E_SURR},
        {T("\"\\uDBFFx\""), 1, E_SURR},
        {T("\"\\uD800\\u0041\""), 1, E_SURR},
        {T("\"\\uD800\\uD800\""), 1, E_SURR},
        {T("\"a\\uDE00\\uD83D\""), 2, E_SURR},
        {T("\"\\uD83D\\n\""), 1, E_SURR},
        /* unterminated */
        {T("\""), 1, E_STR_END},
        {T("\"abc"), 4, E_STR_END},
        {T("\"\\\""), 3, E_STR_END},
        {T("\"\\"), 2, E_STR_END}, /* at len, not at the backslash */
        {T("\"abc\\"), 5, E_STR_END},
        {T("\"\\u1234"), 7, E_STR_END},
        {T("[\"a"), 3, E_STR_END},
        {T("{\"a"), 3, E_STR_END},
        {T("{\"a\":\"b"), 7, E_STR_END},
        {T("\"\xc3\xa9"), 3, E_STR_END},
    };
    RUN_BAD(cases);
}

static void test_utf8_errors(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        /* overlong encodings */
        {T("\"\xc0\x80\""), 1, E_UTF8},         /* U+0000 in 2 bytes */
        {T("\"\xc0\xaf\""), 1, E_UTF8},         /* '/' in 2 bytes */
        {T("\"\xc1\xbf\""), 1, E_UTF8},         /* U+007F in 2 bytes */
        {T("\"\xe0\x80\x80\""), 1, E_UTF8},     /* U+0000 in 3 bytes */
        {T("\"\xe0\x9f\xbf\""), 1, E_UTF8},     /* U+07FF in 3 bytes */
        {T("\"\xf0\x80\x80\x80\""), 1, E_UTF8}, /* U+0000 in 4 bytes */
        {T("\"\xf0\x8f\xbf\xbf\""), 1, E_UTF8}, /* U+FFFF in 4 bytes */
        /* surrogates encoded in UTF-8 (CESU-8 and lone) */
        {T("\"\xed\xa0\x80\""), 1, E_UTF8},             /* U+D800 */
        {T("\"\xed\xaf\xbf\""), 1, E_UTF8},             /* U+DBFF */
        {T("\"\xed\xb0\x80\""), 1, E_UTF8},             /* U+DC00 */
        {T("\"\xed\xbf\xbf\""), 1, E_UTF8},             /* U+DFFF */
        {T("\"\xed\xa0\xbd\xed\xb8\x80\""), 1, E_UTF8}, /* U+1F600 as CESU-8 */
        /* beyond U+10FFFF */
        {T("\"\xf4\x90\x80\x80\""), 1, E_UTF8}, /* U+110000 */
        {T("\"\xf4\xbf\xbf\xbf\""), 1, E_UTF8},
        {T("\"\xf5\x80\x80\x80\""), 1, E_UTF8},
        {T("\"\xf7\xbf\xbf\xbf\""), 1, E_UTF8},
        {T("\"\xf8\x88\x80\x80\x80\""), 1, E_UTF8},     /* old 5-byte form */
        {T("\"\xfc\x84\x80\x80\x80\x80\""), 1, E_UTF8}, /* old 6-byte form */
        /* bytes that never occur */
        {T("\"\xfe\""), 1, E_UTF8},
        {T("\"\xff\""), 1, E_UTF8},
        /* stray continuation bytes */
        {T("\"\x80\""), 1, E_UTF8},
        {T("\"\xbf\""), 1, E_UTF8},
        {T("\"a\xc3\xa9\xa9\""), 4, E_UTF8},
        /* truncated sequences, before the quote and at the end of input */
        {T("\"\xc3\""), 1, E_UTF8},
        {T("\"\xe2\x82\""), 1, E_UTF8},
        {T("\"\xf0\x9f\x98\""), 1, E_UTF8},
        {T("\"\xe2\x82x\""), 1, E_UTF8},
        {T("\"\xc3"), 1, E_UTF8},
        {T("\"\xe2\x82"), 1, E_UTF8},
        {T("\"\xf0\x9f\x98"), 1, E_UTF8},
        {T("\"\xc3\xc3\xa9\""), 1, E_UTF8},
        /* in a member name, after valid text */
        {T("{\"ok\xc3\xa9\xe0\x80\x80\":1}"), 6, E_UTF8},
        /* outside strings nothing but ASCII JSON is allowed */
        {T("\xc3\xa9"), 0, E_CHAR},
        {T("[\xc3\xa9]"), 1, E_CHAR},
        {T("\x80"), 0, E_CHAR},
    };
    RUN_BAD(cases);
}

static void test_unterminated(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {T("["), 1, E_END},         {T("{"), 1, E_END},        {T("[1"), 2, E_END},
        {T("[1,"), 3, E_END},       {T("[1, "), 4, E_END},     {T("[[]"), 3, E_END},
        {T("[[1,[2]]"), 8, E_END},  {T("{\"a\""), 4, E_END},   {T("{\"a\" "), 5, E_END},
        {T("{\"a\":"), 5, E_END},   {T("{\"a\":1"), 6, E_END}, {T("{\"a\":1,"), 7, E_END},
        {T("{\"a\":{}"), 7, E_END}, {T("{\"a\":["), 6, E_END}, {T("[{\"a\":[1]}"), 10, E_END},
        {T("[\n"), 2, E_END},
    };
    RUN_BAD(cases);
}

static void test_trailing_data(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {T("{}x"), 2, E_TRAIL},
        {T("{} {}"), 3, E_TRAIL},
        {T("[][]"), 2, E_TRAIL},
        {T("[]]"), 2, E_TRAIL},
        {T("{}}"), 2, E_TRAIL},
        {T("[1],"), 3, E_TRAIL},
        {T("[1] ,"), 4, E_TRAIL},
        {T("null x"), 5, E_TRAIL},
        {T("nulll"), 4, E_TRAIL},
        {T("truex"), 4, E_TRAIL},
        {T("false0"), 5, E_TRAIL},
        {T("\"a\"\"b\""), 3, E_TRAIL},
        {T("\"a\" \"b\""), 4, E_TRAIL},
        {T("1 1"), 2, E_TRAIL},
        {T("{\"a\":1}\n{\"b\":2}\n"), 8, E_TRAIL}, /* JSON lines is not one value */
        {T("{}\x01"), 2, E_TRAIL},
        {T("{} \xc3\xa9"), 3, E_TRAIL},
    };
    RUN_BAD(cases);
}

/* ---- nesting ------------------------------------------------------------------ */

static void test_depth_limit_arrays(void **state)
{
    (void)state;
    size_t len;
    char *s;

    s = nest("[", "", "]", DEPTH, &len);
    expect_ok(s, len);
    free(s);
    s = nest("[", "1", "]", DEPTH, &len);
    expect_ok(s, len);
    free(s);
    /* a scalar does not count as a level; an empty container does */
    s = nest("[", "[]", "]", DEPTH - 1, &len);
    expect_ok(s, len);
    free(s);
    s = nest("[", "[]", "]", DEPTH, &len);
    expect_bad(s, len, DEPTH, E_DEEP);
    free(s);
    s = nest("[", "", "]", DEPTH + 1, &len);
    expect_bad(s, len, DEPTH, E_DEEP);
    free(s);
    /* only the open count matters: siblings at the limit are fine */
    expect_ok_depth(T("[[1],[2],[[]],[]]"), 3);
    expect_bad_depth(T("[[1],[2],[[[]]],[]]"), 3, 11, E_DEEP);
    expect_ok_depth(T("[]"), 1);
    expect_ok_depth(T("[1,2,3]"), 1);
    expect_bad_depth(T("[[]]"), 1, 1, E_DEEP);
    expect_bad_depth(T("[1, {}]"), 1, 4, E_DEEP);
}

static void test_depth_limit_objects(void **state)
{
    (void)state;
    size_t len;
    char *s;

    s = nest("{\"a\":", "1", "}", DEPTH, &len);
    expect_ok(s, len);
    free(s);
    s = nest("{\"a\":", "{}", "}", DEPTH - 1, &len);
    expect_ok(s, len);
    free(s);
    s = nest("{\"a\":", "{}", "}", DEPTH, &len);
    expect_bad(s, len, DEPTH * 5, E_DEEP);
    free(s);
    /* mixed: [{"a": repeated, 2 levels per step */
    s = nest("[{\"a\":", "1", "}]", DEPTH / 2, &len);
    expect_ok(s, len);
    free(s);
    s = nest("[{\"a\":", "[]", "}]", DEPTH / 2, &len);
    expect_bad(s, len, DEPTH / 2 * 6, E_DEEP);
    free(s);
    /* the limit stops the scan even when the rest is broken */
    s = nest("[", "", "", DEPTH + 10, &len);
    expect_bad(s, len, DEPTH, E_DEEP);
    free(s);
}

/* max_depth above JSON_CHECK_MAX_DEPTH is clamped to it. */
static void test_depth_limit_clamped(void **state)
{
    (void)state;
    static const int depths[] = {JSON_CHECK_MAX_DEPTH, JSON_CHECK_MAX_DEPTH + 1, 1000, INT_MAX};
    size_t len;
    char *ok = nest("[", "", "]", JSON_CHECK_MAX_DEPTH, &len);
    size_t len2;
    char *deep = nest("[", "", "]", JSON_CHECK_MAX_DEPTH + 1, &len2);
    size_t len3;
    char *obj = nest("{\"\":", "{}", "}", JSON_CHECK_MAX_DEPTH, &len3);

    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        expect_ok_depth(ok, len, depths[i]);
        expect_bad_depth(deep, len2, depths[i], JSON_CHECK_MAX_DEPTH, E_DEEP);
        expect_bad_depth(obj, len3, depths[i], (size_t)JSON_CHECK_MAX_DEPTH * 4, E_DEEP);
    }
    expect_bad_depth(ok, len, JSON_CHECK_MAX_DEPTH - 1, JSON_CHECK_MAX_DEPTH - 1, E_DEEP);
    free(ok);
    free(deep);
    free(obj);
}

/* max_depth < 1 allows no container at all (but any scalar). */
static void test_depth_limit_zero(void **state)
{
    (void)state;
    static const int depths[] = {0, -1, INT_MIN};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        expect_ok_depth(T("1"), depths[i]);
        expect_ok_depth(T(" \"[\" "), depths[i]);
        expect_bad_depth(T("[]"), depths[i], 0, E_DEEP);
        expect_bad_depth(T("  {\"a\":1}"), depths[i], 2, E_DEEP);
    }
}

/* Hostile nesting costs neither C stack nor time. */
static void test_deep_nesting_no_overflow(void **state)
{
    (void)state;
    static const int depths[] = {DEPTH, JSON_CHECK_MAX_DEPTH, INT_MAX};
    size_t len;
    char *open = nest("[", "", "", 100000, &len);
    size_t len2;
    char *both = nest("[", "", "]", 100000, &len2);
    size_t len3;
    char *obj = nest("{\"a\":", "", "", 100000, &len3);

    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        size_t lim = (size_t)(depths[i] < JSON_CHECK_MAX_DEPTH ? depths[i] : JSON_CHECK_MAX_DEPTH);
        expect_bad_depth(open, len, depths[i], lim, E_DEEP);
        expect_bad_depth(both, len2, depths[i], lim, E_DEEP);
        expect_bad_depth(obj, len3, depths[i], lim * 5, E_DEEP);
    }
    free(open);
    free(both);
    free(obj);

    /* wide is fine: 100000 elements at depth 1 */
    size_t n = 100000;
    char *wide = malloc(2 * n + 1);
    assert_non_null(wide);
    wide[0] = '[';
    for (size_t i = 0; i < n; i++) {
        wide[1 + 2 * i] = '0';
        wide[2 + 2 * i] = ',';
    }
    wide[2 * n] = ']';
    expect_ok(wide, 2 * n + 1);
    wide[2 * n - 1] = ' ';
    wide[2 * n - 2] = ',';
    expect_bad(wide, 2 * n + 1, 2 * n, E_CHAR);
    free(wide);
}

/* ---- properties --------------------------------------------------------------- */

/* Deterministic xorshift64* generator. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

struct gen {
    char buf[65536];
    size_t n;
};

static void put(struct gen *g, const char *s)
{
    size_t k = strlen(s);
    assert_true(g->n + k < sizeof g->buf);
    memcpy(g->buf + g->n, s, k);
    g->n += k;
}

static void gen_ws(struct gen *g)
{
    static const char *const ws[] = {"", "", "", " ", "\n", "\t", "\r\n", "  "};
    put(g, ws[rng() % 8]);
}

static void gen_string(struct gen *g)
{
    static const char *const parts[] = {
        "a",
        "Z",
        " ",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\n",
        "\\r",
        "\\t",
        "\\u00e9",
        "\\uD83D\\uDE00",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "'",
        "\x7f",
        "{",
        "]",
        ",",
        ":",
    };
    put(g, "\"");
    for (uint64_t k = rng() % 5; k > 0; k--)
        put(g, parts[rng() % (sizeof parts / sizeof parts[0])]);
    put(g, "\"");
}

static void gen_value(struct gen *g, int depth)
{
    static const char *const scalars[] = {"0",    "-0",   "1",     "-12",    "0.5",  "0.5e-3",
                                          "1E+2", "1e2",  "-3.25", "1e-9",   "true", "false",
                                          "null", "1e99", "10",    "1234567"};
    /* 0 scalar, 1 string, 2-3 array, 4-5 object */
    unsigned kind = (unsigned)(rng() % (depth > 0 ? 6 : 2));
    if (kind == 0) {
        put(g, scalars[rng() % (sizeof scalars / sizeof scalars[0])]);
    } else if (kind == 1) {
        gen_string(g);
    } else {
        bool obj = kind >= 4;
        put(g, obj ? "{" : "[");
        uint64_t count = rng() % 4;
        for (uint64_t i = 0; i < count; i++) {
            if (i)
                put(g, ",");
            gen_ws(g);
            if (obj) {
                gen_string(g);
                gen_ws(g);
                put(g, ":");
                gen_ws(g);
            }
            gen_value(g, depth - 1);
            gen_ws(g);
        }
        if (!count)
            gen_ws(g);
        put(g, obj ? "}" : "]");
    }
}

/* Random valid documents pass, and json-c (as the server calls it) parses
 * them; every strict prefix of a container or string document fails, with
 * an offset within the prefix. */
static void test_random_documents(void **state)
{
    (void)state;
    static struct gen g;
    for (int round = 0; round < 2000; round++) {
        g.n = 0;
        gen_ws(&g);
        gen_value(&g, 1 + (int)(rng() % 5));
        gen_ws(&g);
        g.buf[g.n] = '\0';
        expect_ok(g.buf, g.n);

        struct json_tokener *tok = json_tokener_new_ex(DEPTH + 1);
        assert_non_null(tok);
        json_object *o = json_tokener_parse_ex(tok, g.buf, (int)g.n + 1);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        json_tokener_free(tok);
        json_object_put(o);
        if (jerr != json_tokener_success) {
            print_error("json-c rejects \"%s\": %s\n", show(g.buf, g.n),
                        json_tokener_error_desc(jerr));
            fail();
        }

        size_t start = strspn(g.buf, " \t\r\n");
        char first = g.buf[start];
        if ((first != '[' && first != '{' && first != '"') || g.n > 512)
            continue;
        size_t end = g.n;
        while (end > start && strchr(" \t\r\n", g.buf[end - 1]))
            end--;
        for (size_t k = 0; k < end; k++) {
            size_t at;
            const char *why;
            if (check(g.buf, k, DEPTH, &at, &why) || at > k || !why) {
                print_error("prefix %zu of \"%s\" accepted or bad offset %zu\n", k,
                            show(g.buf, g.n), at);
                fail();
            }
        }
    }
}

/* For any byte soup: no read outside text[0..len) (ASan build), on failure
 * an offset within [0, len] and a reason; what passes at the server's limit
 * passes at the highest one. */
static void test_random_bytes(void **state)
{
    (void)state;
    static const char alphabet[] =
        "[]{},:\"\\ u0123456789abcdefABCDEF.eE+-truefalsenull\t\n\x01\x80"
        "\xc3\xa9\xed\xf4";
    char buf[64];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rng() % sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = alphabet[rng() % (sizeof alphabet - 1)];
        size_t at;
        const char *why;
        bool ok = check(buf, len, DEPTH, &at, &why);
        if (!ok && (at > len || !why || !*why)) {
            print_error("\"%s\": offset %zu of %zu\n", show(buf, len), at, len);
            fail();
        }
        if (ok)
            assert_true(json_check(buf, len, JSON_CHECK_MAX_DEPTH, &at, &why));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_containers),
        cmocka_unit_test(test_valid_scalars),
        cmocka_unit_test(test_valid_whitespace),
        cmocka_unit_test(test_valid_strings),
        cmocka_unit_test(test_uses_len_not_nul),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_number_errors),
        cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_utf8_errors),
        cmocka_unit_test(test_unterminated),
        cmocka_unit_test(test_trailing_data),
        cmocka_unit_test(test_depth_limit_arrays),
        cmocka_unit_test(test_depth_limit_objects),
        cmocka_unit_test(test_depth_limit_clamped),
        cmocka_unit_test(test_depth_limit_zero),
        cmocka_unit_test(test_deep_nesting_no_overflow),
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
