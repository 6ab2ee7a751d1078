/*
 * utf8.c — decoding UTF-8, one code point at a time (see utf8.h).
 */
#include "util/utf8.h"

#include <string.h>

/* Decode one UTF-8 sequence from s[0..len) (len >= 1). Returns its length
 * (1..4) and the code point, or 0 when the bytes are not well-formed UTF-8
 * (Unicode Table 3-7: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence). */
size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char b0 = s[0];
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    size_t n;
    uint32_t c;

    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
        c = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        c = b0 & 0x0Fu;
        if (b0 == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (b0 == 0xED)
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        c = b0 & 0x07u;
        if (b0 == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (b0 == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 (overlong) or F5..FF */
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char b = s[i];
        if (b < lo || b > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
        c = (c << 6) | (b & 0x3Fu);
    }
    *cp = c;
    return n;
}

int32_t utf8_decode_z(const unsigned char *s, size_t *n)
{
    uint32_t cp;
    size_t k = utf8_next(s, strnlen((const char *)s, 4), &cp);
    if (k == 0) {
        *n = 1;
        return -1;
    }
    *n = k;
    return (int32_t)cp;
}

bool utf8_is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

bool utf8_is_separator(uint32_t cp)
{
    return cp == 0x2028 || cp == 0x2029;
}

bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_next(p + i, len - i, &cp);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

char *utf8_clean(const char *s, char *out, size_t cap)
{
    static const char replacement[] = "\xEF\xBF\xBD", ellipsis[] = "\xE2\x80\xA6";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), w = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_next(p + i, len - i, &cp);
        const char *src = k ? s + i : replacement;
        size_t n = k ? k : 3;
        /* room for this character, and for "…" if more follows */
        size_t need = n + (i + (k ? k : 1) < len ? 3 : 0);
        if (w + need + 1 > cap) {
            memcpy(out + w, ellipsis, 3);
            w += 3;
            break;
        }
        memcpy(out + w, src, n);
        w += n;
        i += k ? k : 1;
    }
    out[w] = '\0';
    return out;
}
