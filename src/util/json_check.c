/*
 * json_check.c — a strict RFC 8259 syntax check of request bodies.
 *
 * json-c accepts more than JSON even in strict mode (single-quoted strings,
 * NaN and Infinity, "1.", raw control characters in strings), and cannot
 * tell where a top-level number ends. Bodies are therefore checked here
 * first: one JSON value, optionally surrounded by whitespace, nothing else.
 * The check is iterative (an explicit stack of at most `max_depth` levels),
 * so hostile nesting costs no C stack.
 *
 * Text that json-c would read otherwise than other parsers is refused too:
 * a \u0000 escape (json-c cuts a member name at it, so "totalAmount\u0000"
 * would be read as totalAmount) and a lone surrogate escape (stored as
 * U+FFFD, not what was sent). The member names are counted, so that the
 * caller can refuse an object whose names repeat (json_members).
 */
#include "util/json_check.h"

#include <stdint.h>
#include <string.h>

struct scan {
    const unsigned char *s;
    size_t n, i;
    const char *why;
    size_t members; /* member names read */
};

static void skip_ws(struct scan *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool fail(struct scan *p, const char *why)
{
    p->why = why;
    return false;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of a valid UTF-8 sequence at s[0..n), 0 when invalid (overlong,
 * surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* The value of the 4 hex digits at s. */
static unsigned hex4(const unsigned char *s)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++)
        v = v * 16 + (unsigned)(is_digit(s[k]) ? s[k] - '0' : (s[k] | 0x20) - 'a' + 10);
    return v;
}

/* A \u escape at p->i (its four hex digits checked): a NUL and a lone
 * surrogate are refused; a high surrogate takes its low one with it. */
static bool scan_u_escape(struct scan *p)
{
    unsigned v = hex4(p->s + p->i + 2);
    if (v == 0)
        return fail(p, "\\u0000 in a string (a NUL character is not accepted)");
    if (v >= 0xdc00 && v <= 0xdfff)
        return fail(p, "lone surrogate \\u escape in a string");
    if (v >= 0xd800 && v <= 0xdbff) {
        const unsigned char *lo = p->s + p->i + 6;
        size_t left = p->n - (p->i + 6);
        if (left < 2 || lo[0] != '\\' || lo[1] != 'u')
            return fail(p, "lone surrogate \\u escape in a string");
        bool hex = left >= 6 && is_hex(lo[2]) && is_hex(lo[3]) && is_hex(lo[4]) && is_hex(lo[5]);
        if (hex && (hex4(lo + 2) < 0xdc00 || hex4(lo + 2) > 0xdfff))
            return fail(p, "lone surrogate \\u escape in a string");
        if (hex)
            p->i += 6; /* the pair */
        /* else the next escape is malformed: the scan reports it */
    }
    p->i += 6;
    return true;
}

static bool scan_string(struct scan *p)
{
    p->i++; /* opening quote */
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            return true;
        }
        if (c < 0x20)
            return fail(p, "control character in a string (escape it)");
        if (c == '\\') {
            if (p->i + 1 >= p->n) {
                p->i = p->n; /* a premature end is reported at len */
                break;
            }
            unsigned char e = p->s[p->i + 1];
            if (e == 'u') {
                for (size_t k = 2; k < 6; k++)
                    if (p->i + k >= p->n || !is_hex(p->s[p->i + k]))
                        return fail(p, "bad \\u escape in a string");
                if (!scan_u_escape(p))
                    return false;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                p->i++;
                return fail(p, "bad escape in a string");
            }
            p->i += 2;
            continue;
        }
        size_t len = utf8_len(p->s + p->i, p->n - p->i);
        if (!len)
            return fail(p, "invalid UTF-8 in a string");
        p->i += len;
    }
    return fail(p, "unexpected end of input in a string");
}

static bool scan_number(struct scan *p)
{
    if (p->s[p->i] == '-')
        p->i++;
    if (p->i >= p->n || !is_digit(p->s[p->i]))
        return fail(p, "bad number");
    if (p->s[p->i] == '0') {
        p->i++;
    } else {
        while (p->i < p->n && is_digit(p->s[p->i]))
            p->i++;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || !is_digit(p->s[p->i]))
            return fail(p, "bad number: digits must follow the decimal point");
        while (p->i < p->n && is_digit(p->s[p->i]))
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (p->i >= p->n || !is_digit(p->s[p->i]))
            return fail(p, "bad number: digits must follow the exponent");
        while (p->i < p->n && is_digit(p->s[p->i]))
            p->i++;
    }
    return true;
}

static bool scan_literal(struct scan *p, const char *word)
{
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k) != 0)
        return fail(p, "unexpected character");
    p->i += k;
    return true;
}

/* A scalar or the opening of a container at p->i. *opened gets '{' / '[' or 0. */
static bool scan_value_start(struct scan *p, char *opened)
{
    *opened = 0;
    if (p->i >= p->n)
        return fail(p, "unexpected end of input");
    unsigned char c = p->s[p->i];
    switch (c) {
    case '{':
    case '[':
        *opened = (char)c;
        p->i++;
        return true;
    case '"':
        return scan_string(p);
    case 't':
        return scan_literal(p, "true");
    case 'f':
        return scan_literal(p, "false");
    case 'n':
        return scan_literal(p, "null");
    default:
        if (c == '-' || is_digit(c))
            return scan_number(p);
        return fail(p, "unexpected character");
    }
}

bool json_check(const char *text, size_t len, int max_depth, size_t *err_offset,
                const char **err_why)
{
    return json_check_count(text, len, max_depth, NULL, err_offset, err_why);
}

bool json_check_count(const char *text, size_t len, int max_depth, size_t *members,
                      size_t *err_offset, const char **err_why)
{
    struct scan p = {.s = (const unsigned char *)text, .n = len};
    char stack[JSON_CHECK_MAX_DEPTH];
    int depth = 0;
    if (max_depth > JSON_CHECK_MAX_DEPTH)
        max_depth = JSON_CHECK_MAX_DEPTH;
    bool ok;
    skip_ws(&p);
    char opened;
    if (!(ok = scan_value_start(&p, &opened)))
        goto out;
    if (opened) {
        if (max_depth < 1) {
            p.i--;
            ok = fail(&p, "nested too deeply");
            goto out;
        }
        stack[depth++] = opened;
        /* inside a container: expect a member/element or the close */
        bool first = true;
        while (depth > 0) {
            char top = stack[depth - 1];
            skip_ws(&p);
            if (p.i >= p.n) {
                ok = fail(&p, "unexpected end of input");
                goto out;
            }
            char close = top == '{' ? '}' : ']';
            if (p.s[p.i] == close && first) {
                p.i++;
                depth--;
                first = false;
                goto after_value;
            }
            if (top == '{') {
                if (p.s[p.i] != '"') {
                    ok = fail(&p, "expected a member name in double quotes");
                    goto out;
                }
                if (!(ok = scan_string(&p)))
                    goto out;
                p.members++;
                skip_ws(&p);
                if (p.i >= p.n || p.s[p.i] != ':') {
                    ok = fail(&p, p.i >= p.n ? "unexpected end of input" : "expected ':'");
                    goto out;
                }
                p.i++;
                skip_ws(&p);
            }
            if (!(ok = scan_value_start(&p, &opened)))
                goto out;
            if (opened) {
                if (depth >= max_depth) {
                    p.i--;
                    ok = fail(&p, "nested too deeply");
                    goto out;
                }
                stack[depth++] = opened;
                first = true;
                continue;
            }
        after_value:
            /* after a value inside the container(s): ',' or the close */
            for (;;) {
                if (depth == 0)
                    break;
                skip_ws(&p);
                if (p.i >= p.n) {
                    ok = fail(&p, "unexpected end of input");
                    goto out;
                }
                char t = stack[depth - 1];
                if (p.s[p.i] == ',') {
                    p.i++;
                    first = false;
                    break;
                }
                if (p.s[p.i] == (t == '{' ? '}' : ']')) {
                    p.i++;
                    depth--;
                    continue;
                }
                ok = fail(&p, t == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
                goto out;
            }
        }
    }
    skip_ws(&p);
    if (p.i < p.n)
        ok = fail(&p, "unexpected data after the JSON value");
out:
    if (!ok) {
        *err_offset = p.i < p.n ? p.i : p.n;
        *err_why = p.why;
    }
    if (members)
        *members = p.members;
    return ok;
}
