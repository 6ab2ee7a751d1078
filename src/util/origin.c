/*
 * origin.c — same-origin checks of form posts (see origin.h).
 */
#include "util/origin.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The parts of an origin: scheme ("http"/"https"), host, port (the
 * scheme's default when not written). */
struct origin {
    bool https;
    const char *host;
    size_t host_len;
    unsigned port;
};

/* Parse "scheme://host[:port]" followed by "/...", "?...", "#..." or the
 * end; *rest points after the port. */
static bool origin_parse(const char *s, struct origin *o, const char **rest)
{
    const char *p;
    if (strncasecmp(s, "https://", 8) == 0) {
        o->https = true;
        p = s + 8;
    } else if (strncasecmp(s, "http://", 7) == 0) {
        o->https = false;
        p = s + 7;
    } else {
        return false;
    }
    const char *end = p + strcspn(p, "/?#");
    *rest = end;
    const char *colon = NULL;
    if (*p == '[') { /* IPv6 literal */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close)
            return false;
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
        if (!colon && close + 1 != end)
            return false;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
    }
    o->host = p;
    o->host_len = (size_t)((colon ? colon : end) - p);
    if (o->host_len == 0)
        return false;
    o->port = o->https ? 443 : 80;
    if (colon) {
        if (colon + 1 == end)
            return false;
        unsigned long v = 0;
        for (const char *q = colon + 1; q < end; q++) {
            if (*q < '0' || *q > '9')
                return false;
            v = v * 10 + (unsigned long)(*q - '0');
            if (v > 65535)
                return false;
        }
        o->port = (unsigned)v;
    }
    return true;
}

bool origin_is_same_site(const char *public_url, const char *origin, const char *fetch_site)
{
    if (origin && *origin && strcmp(origin, "null") != 0) {
        struct origin mine, theirs;
        const char *rest;
        if (!origin_parse(public_url, &mine, &rest) || !origin_parse(origin, &theirs, &rest))
            return false;
        if (*rest != '\0') /* an Origin is exactly scheme://host[:port] */
            return false;
        return mine.https == theirs.https && mine.port == theirs.port &&
               mine.host_len == theirs.host_len &&
               strncasecmp(mine.host, theirs.host, mine.host_len) == 0;
    }
    /* no usable Origin: the browser's own word on where the post comes from */
    if (!fetch_site)
        return true;
    return strcasecmp(fetch_site, "same-origin") == 0 || strcasecmp(fetch_site, "none") == 0;
}
