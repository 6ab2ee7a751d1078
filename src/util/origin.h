/*
 * origin.h — is a browser's form post from our own pages?
 *
 * Browsers say where a request comes from with `Origin` (scheme, host and
 * port of the page; "null" when hidden, as for form posts from a page with
 * `Referrer-Policy: no-referrer`) and `Sec-Fetch-Site` (same-origin,
 * same-site, cross-site, none). A form post is ours when its Origin is the
 * public URL's origin, or, when the Origin is absent or "null", when
 * Sec-Fetch-Site does not name another site. A client that sends neither
 * (curl, an old browser) is let through: the check stops forged posts from
 * other sites in browsers, which always send one of them.
 */
#ifndef CHATPAY_UTIL_ORIGIN_H
#define CHATPAY_UTIL_ORIGIN_H

#include <stdbool.h>

/* public_url: "http(s)://host[:port][/path]". origin, fetch_site: the
 * request's header values or NULL. */
bool origin_is_same_site(const char *public_url, const char *origin, const char *fetch_site);

#endif
