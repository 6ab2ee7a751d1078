/*
 * assets.h — files embedded into the binary at build time (assets.c): the
 * message catalogs src/web/i18n/<lang>.txt (every file found there; the
 * Makefile lists them in $(BUILD)/gen/i18n_list.h) and the pages' script
 * src/web/chatpay.js.
 */
#ifndef CHATPAY_WEB_ASSETS_H
#define CHATPAY_WEB_ASSETS_H

#include <stddef.h>

#include "web/i18n.h"

/* The catalogs, in file-name order. */
extern const struct web_i18n_source web_assets_catalogs[];
extern const size_t web_assets_catalog_count;

/* src/web/chatpay.js (static, NUL-terminated). */
const char *web_assets_js(size_t *len);

#endif
