/*
 * logo.c — telling the accepted logo formats apart by content (see logo.h).
 *
 * Raster formats by their signatures: PNG's 8-byte header, JPEG's SOI marker
 * followed by another marker, WebP's RIFF container with the "WEBP" form
 * type. SVG is text: it must be well-formed UTF-8 without NUL, and the first
 * element after the prolog must be <svg> (any namespace prefix is refused:
 * browsers render only the plain name as an image).
 *
 * An SVG logo must also be a drawing and nothing more (web_logo_svg_problem):
 * a small scanner walks its tags, attributes and style text and refuses
 * scripts, event handlers, foreign objects, external references and entity
 * declarations. Refusing is safer than cleaning: a cleaner has to get every
 * corner of XML and SVG right to be safe, a refusal only has to see.
 */
#include "web/logo.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/utf8.h"

static const char *const known[] = {"image/png", "image/jpeg", "image/webp", "image/svg+xml"};

static bool xml_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Well-formed UTF-8 with no NUL (a text file). */
static bool utf8_text(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_next(s + i, n - i, &cp);
        if (k == 0 || cp == 0)
            return false;
        i += k;
    }
    return true;
}

/* Past the end of "<start ... end" at s[i], or 0 when it never ends. */
static size_t skip_until(const unsigned char *s, size_t n, size_t i, const char *end)
{
    size_t m = strlen(end);
    for (; i + m <= n; i++)
        if (memcmp(s + i, end, m) == 0)
            return i + m;
    return 0;
}

static bool is_svg(const unsigned char *s, size_t n)
{
    size_t i = 0;
    if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        i = 3;
    if (!utf8_text(s + i, n - i))
        return false;
    for (;;) {
        while (i < n && xml_space(s[i]))
            i++;
        if (i >= n || s[i] != '<')
            return false;
        if (n - i >= 5 && memcmp(s + i, "<?xml", 5) == 0) {
            i = skip_until(s, n, i + 5, "?>");
        } else if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            i = skip_until(s, n, i + 4, "-->");
        } else if (n - i >= 9 && memcmp(s + i, "<!DOCTYPE", 9) == 0) {
            /* an internal subset "[...]" may hold '>' */
            size_t j = i + 9;
            while (j < n && s[j] != '>' && s[j] != '[')
                j++;
            if (j < n && s[j] == '[')
                j = skip_until(s, n, j, "]");
            i = j != 0 ? skip_until(s, n, j, ">") : 0;
        } else {
            break;
        }
        if (i == 0)
            return false;
    }
    if (n - i < 5 || memcmp(s + i, "<svg", 4) != 0)
        return false;
    unsigned char c = s[i + 4];
    return xml_space(c) || c == '>' || c == '/';
}

const char *web_logo_type(const void *data, size_t len)
{
    const unsigned char *s = data;
    if (s == NULL || len == 0 || len > WEB_LOGO_MAX)
        return NULL;
    if (len >= 8 && memcmp(s, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "image/png";
    if (len >= 4 && s[0] == 0xFF && s[1] == 0xD8 && s[2] == 0xFF)
        return "image/jpeg";
    if (len >= 16 && memcmp(s, "RIFF", 4) == 0 && memcmp(s + 8, "WEBP", 4) == 0 &&
        (memcmp(s + 12, "VP8 ", 4) == 0 || memcmp(s + 12, "VP8L", 4) == 0 ||
         memcmp(s + 12, "VP8X", 4) == 0))
        return "image/webp";
    if (is_svg(s, len))
        return "image/svg+xml";
    return NULL;
}

bool web_logo_type_known(const char *type)
{
    if (type == NULL)
        return false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(type, known[i]) == 0)
            return true;
    return false;
}

/* ---- what an SVG logo may hold --------------------------------------------------- */

struct svg_scan {
    const unsigned char *s;
    size_t n;
    char *buf;
    size_t cap;
    const char *problem; /* set on the first problem (points into buf) */
};

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Case-insensitive: does s[0..n) equal the lowercase word w? */
static bool word_is(const unsigned char *s, size_t n, const char *w)
{
    size_t m = strlen(w);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != (unsigned char)w[i])
            return false;
    return true;
}

/* Case-insensitive search for the lowercase word w in s[0..n). */
static bool contains(const unsigned char *s, size_t n, const char *w)
{
    size_t m = strlen(w);
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && lower(s[i + k]) == (unsigned char)w[k])
            k++;
        if (k == m)
            return true;
    }
    return false;
}

static bool refuse(struct svg_scan *c, size_t at, const char *what)
{
    size_t line = 1;
    for (size_t i = 0; i < at && i < c->n; i++)
        line += c->s[i] == '\n';
    snprintf(c->buf, c->cap, "SVG logos may not contain %s (line %zu)", what, line);
    c->problem = c->buf;
    return false;
}

/* The local name of a possibly prefixed name ("xlink:href" → "href"). */
static void local_name(const unsigned char **s, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        if ((*s)[i] == ':') {
            *s += i + 1;
            *n -= i + 1;
            return;
        }
    }
}

/* A value with spaces and control characters taken out and lowercased
 * (browsers ignore them inside "java\tscript:"), at most cap-1 bytes. */
static size_t squeeze(const unsigned char *v, size_t n, unsigned char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        if (v[i] > ' ')
            out[k++] = lower(v[i]);
    out[k] = '\0';
    return k;
}

/* CSS (a style attribute or a <style> element): no @import, and url()
 * only to "#id". */
static bool css_ok(struct svg_scan *c, size_t at, const unsigned char *v, size_t n)
{
    if (contains(v, n, "@import"))
        return refuse(c, at, "a CSS @import (an external reference)");
    if (contains(v, n, "expression("))
        return refuse(c, at, "a CSS expression() (a script)");
    for (size_t i = 0; i + 4 <= n; i++) {
        if (!(lower(v[i]) == 'u' && lower(v[i + 1]) == 'r' && lower(v[i + 2]) == 'l' &&
              v[i + 3] == '('))
            continue;
        size_t j = i + 4;
        while (j < n && (v[j] == ' ' || v[j] == '\t' || v[j] == '\n' || v[j] == '\r' ||
                         v[j] == '"' || v[j] == '\''))
            j++;
        if (j >= n || v[j] != '#')
            return refuse(c, at, "a CSS url() that is not a reference inside the image");
    }
    return true;
}

/* A link target: "#id", or an embedded raster image. */
static bool link_ok(const unsigned char *v, size_t n)
{
    unsigned char t[64];
    size_t k = squeeze(v, n, t, sizeof t);
    if (k >= 1 && t[0] == '#')
        return memchr(v, '&', n) == NULL; /* no entity tricks */
    static const char *const images[] = {"data:image/png;", "data:image/jpeg;", "data:image/gif;",
                                         "data:image/webp;"};
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++)
        if (k >= strlen(images[i]) && memcmp(t, images[i], strlen(images[i])) == 0)
            return true;
    return false;
}

static bool attribute_ok(struct svg_scan *c, size_t at, const unsigned char *name, size_t nl,
                         const unsigned char *v, size_t vl)
{
    unsigned char t[32];
    local_name(&name, &nl);
    if (nl >= 2 && lower(name[0]) == 'o' && lower(name[1]) == 'n')
        return refuse(c, at, "event handler attributes such as on… (scripts)");
    squeeze(v, vl, t, sizeof t);
    if (memcmp(t, "javascript:", 11) == 0 || memcmp(t, "vbscript:", 9) == 0 ||
        contains(v, vl, "javascript:"))
        return refuse(c, at, "javascript: URLs (scripts)");
    if ((word_is(name, nl, "href") || word_is(name, nl, "src")) && !link_ok(v, vl))
        return refuse(c, at,
                      "links to other documents (only #id and embedded PNG, JPEG, GIF "
                      "or WebP images)");
    if (word_is(name, nl, "attributename")) {
        const unsigned char *an = v;
        size_t al = vl;
        local_name(&an, &al);
        if (word_is(an, al, "href") || word_is(an, al, "src") ||
            (al >= 2 && lower(an[0]) == 'o' && lower(an[1]) == 'n'))
            return refuse(c, at, "animations that change links or event handlers");
    }
    if (word_is(name, nl, "style"))
        return css_ok(c, at, v, vl);
    return true;
}

static bool is_name_char(unsigned char ch)
{
    return ch > ' ' && ch != '>' && ch != '/' && ch != '=' && ch != '"' && ch != '\'' && ch != '<';
}

/* One start tag at s[i] ('<' then a name): checks it and its attributes;
 * returns the index after '>' or 0 after a problem. *style: the element is
 * <style> (its text is CSS). */
static size_t start_tag(struct svg_scan *c, size_t i, bool *style)
{
    const unsigned char *s = c->s;
    size_t n = c->n, p = i + 1;
    while (p < n && is_name_char(s[p]))
        p++;
    const unsigned char *name = s + i + 1;
    size_t nl = p - i - 1;
    local_name(&name, &nl);
    static const char *const banned[] = {"script", "foreignobject", "iframe",  "object",
                                         "embed",  "handler",       "listener"};
    for (size_t k = 0; k < sizeof banned / sizeof banned[0]; k++)
        if (word_is(name, nl, banned[k])) {
            refuse(c, i,
                   k == 0 ? "scripts (<script>)"
                          : "foreign objects or embedded documents (<foreignObject>, <iframe>, "
                            "<object>, <embed>, <handler>, <listener>)");
            return 0;
        }
    *style = word_is(name, nl, "style");
    for (;;) {
        while (p < n && xml_space(s[p]))
            p++;
        if (p >= n)
            break;
        if (s[p] == '>')
            return p + 1;
        if (s[p] == '/' && p + 1 < n && s[p + 1] == '>') {
            *style = false; /* <style/> has no text */
            return p + 2;
        }
        size_t an = p;
        while (p < n && is_name_char(s[p]))
            p++;
        if (p == an)
            break;
        size_t al = p - an;
        while (p < n && xml_space(s[p]))
            p++;
        const unsigned char *v = s + p;
        size_t vl = 0;
        if (p < n && s[p] == '=') {
            p++;
            while (p < n && xml_space(s[p]))
                p++;
            if (p >= n || (s[p] != '"' && s[p] != '\''))
                break;
            unsigned char q = s[p++];
            size_t vs = p;
            while (p < n && s[p] != q)
                p++;
            if (p >= n)
                break;
            v = s + vs;
            vl = p - vs;
            p++;
        }
        if (!attribute_ok(c, an, s + an, al, v, vl))
            return 0;
    }
    refuse(c, i, "unfinished tags (the file is not well-formed)");
    return 0;
}

const char *web_logo_svg_problem(const void *data, size_t len, char *buf, size_t cap)
{
    struct svg_scan c = {.s = data, .n = len, .buf = buf, .cap = cap};
    const unsigned char *s = c.s;
    size_t i = 0;
    bool in_style = false;
    size_t text_from = 0;
    while (i < len) {
        if (s[i] != '<') {
            i++;
            continue;
        }
        if (in_style && !css_ok(&c, text_from, s + text_from, i - text_from))
            return c.problem;
        size_t next;
        if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            next = skip_until(s, len, i + 4, "-->");
        } else if (len - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
            next = skip_until(s, len, i + 9, "]]>");
            if (next && in_style && !css_ok(&c, i, s + i + 9, next - 3 - (i + 9)))
                return c.problem;
        } else if (len - i >= 2 && (s[i + 1] == '!' || s[i + 1] == '?')) {
            next = skip_until(s, len, i + 2, ">");
            if (next && contains(s + i, next - i, "<!entity"))
                return refuse(&c, i, "entity declarations (<!ENTITY>)"), c.problem;
            if (next && s[i + 1] == '!' && memchr(s + i, '[', next - i))
                return refuse(&c, i, "an internal DTD subset (<!DOCTYPE … [ ]>)"), c.problem;
        } else if (len - i >= 2 && s[i + 1] == '/') {
            next = skip_until(s, len, i + 2, ">");
            in_style = false;
        } else {
            next = start_tag(&c, i, &in_style);
            if (c.problem)
                return c.problem;
        }
        if (next == 0) {
            refuse(&c, i, "unfinished markup (the file is not well-formed)");
            return c.problem;
        }
        i = next;
        text_from = i;
    }
    return NULL;
}
