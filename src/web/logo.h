/*
 * logo.h — a merchant's logo: which image types are accepted, told from the
 * file's content (never from its name).
 *
 * Pure, no I/O. Used by `chatpay merchant update --logo` before storing and
 * by the server when answering GET /m/{merchantId}/logo.
 */
#ifndef CHATPAY_WEB_LOGO_H
#define CHATPAY_WEB_LOGO_H

#include <stdbool.h>
#include <stddef.h>

/* The largest logo accepted, in bytes (256 KiB). */
#define WEB_LOGO_MAX (256 * 1024)

/* The Content-Security-Policy a logo is served with: an SVG opened on its
 * own runs no script and loads nothing. */
#define WEB_LOGO_CSP "default-src 'none'; style-src 'unsafe-inline'; sandbox"

/* The media type of an image by its first bytes: "image/png",
 * "image/jpeg", "image/webp" or "image/svg+xml" (UTF-8 text whose root
 * element is <svg>, after an optional BOM, XML declaration, comments and
 * doctype). NULL for anything else, an empty input, or more than
 * WEB_LOGO_MAX bytes. */
const char *web_logo_type(const void *data, size_t len);

/* What keeps an SVG logo from being safe to show, or NULL when nothing
 * does. SVG logos are refused, not cleaned, when they hold anything beyond
 * a drawing: a script (<script>, an on* event handler, a javascript: URL),
 * a foreign object or other embedded document (<foreignObject>, <iframe>,
 * <object>, <embed>), an external reference (href/src other than "#id" or
 * a data: PNG, JPEG, GIF or WebP image; CSS url() other than "#id";
 * @import), an animation that rewrites a link or handler, or an entity
 * declaration. The message names what was found and its line, in buf. */
const char *web_logo_svg_problem(const void *data, size_t len, char *buf, size_t cap);

/* Whether a stored type is one of those above (and so safe to send as the
 * Content-Type). */
bool web_logo_type_known(const char *type);

#endif
