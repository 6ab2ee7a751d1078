/*
 * logo.c — telling the accepted logo formats apart by content (see logo.h).
 *
 * Raster formats by their signatures: PNG's 8-byte header, JPEG's SOI marker
 * followed by another marker, WebP's RIFF container with the "WEBP" form
 * type. SVG is text: it must be well-formed UTF-8 without NUL, and the first
 * element after the prolog must be <svg> (any namespace prefix is refused:
 * browsers render only the plain name as an image).
 */
#include "web/logo.h"

#include <stdbool.h>
#include <stdint.h>
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
