/*
 * i18n.h — the languages of the customer-facing pages: message catalogs and
 * the choice of a language from the Accept-Language header.
 *
 * A catalog is a UTF-8 text file src/web/i18n/<lang>.txt of `key = text`
 * lines (the format is described at the top of en.txt). Every file found
 * there is embedded into the binary at build time (web/assets.c), so adding
 * a language takes no code. English ("en") is the reference: it defines
 * every key, and a key that a catalog lacks, or whose placeholders do not
 * match the English text, is shown in English.
 *
 * No I/O and no ICU header: the plural rules come from web/format.h. Catalog
 * sets are immutable once loaded and may be shared between threads.
 */
#ifndef CHATPAY_WEB_I18N_H
#define CHATPAY_WEB_I18N_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

/* A locale tag as used here: language, optional script and region, e.g.
 * "en", "fr-CA", "zh-Hant-TW", "es-419" (at most 3+1+4+1+3 characters). */
#define WEB_LOCALE_MAX 16
/* The most placeholders one text may use (%1$s .. %9$s). */
#define WEB_TEXT_ARGS_MAX 9

/* One catalog file: its language tag (the file name without ".txt") and its
 * NUL-terminated text. */
struct web_i18n_source {
    const char *tag;
    const char *text;
};

struct web_catalog; /* one language's texts */
struct web_i18n;    /* a set of catalogs, one of them English */

/* Parse catalogs. The set needs an "en" catalog; without one the first
 * source is the reference. Problems (malformed lines, duplicate or unknown
 * keys, placeholders that do not match English) drop the line concerned and
 * are recorded (web_i18n_problem). Returns NULL only when n is 0 or memory
 * runs out. */
struct web_i18n *web_i18n_load(const struct web_i18n_source *src, size_t n);
void web_i18n_free(struct web_i18n *set);

/* The catalogs built into the binary (loaded on first use, thread-safe,
 * never freed). */
const struct web_i18n *web_i18n_builtin(void);

/* Problems found while loading: how many, and the i-th as one line
 * ("fr.txt:12: ..."). The first WEB_I18N_PROBLEMS_KEPT are kept. */
#define WEB_I18N_PROBLEMS_KEPT 32
size_t web_i18n_problem_count(const struct web_i18n *set);
const char *web_i18n_problem(const struct web_i18n *set, size_t i);

/* Catalogs of a set, in source order. */
size_t web_i18n_count(const struct web_i18n *set);
const struct web_catalog *web_i18n_at(const struct web_i18n *set, size_t i);
/* The catalog of a tag (case-insensitive, exact), or NULL. */
const struct web_catalog *web_i18n_find(const struct web_i18n *set, const char *tag);

const char *web_catalog_tag(const struct web_catalog *c);
bool web_catalog_rtl(const struct web_catalog *c); /* `meta.dir = rtl` */
/* The text of a key in this catalog only (no fallback), or NULL. */
const char *web_catalog_get(const struct web_catalog *c, const char *key);
/* English keys this catalog has no (valid) text for; *first receives the
 * first of them (or NULL). Plural keys count once, by their "other" form. */
size_t web_catalog_missing(const struct web_i18n *set, const struct web_catalog *c,
                           const char **first);

/* The language of a page: the catalog its texts come from, English for
 * what that catalog lacks, and the locale for formatting numbers and
 * amounts (the catalog's language, with the region the customer asked for,
 * e.g. "fr-CA"). A plain value; copy freely. */
struct web_locale {
    const struct web_catalog *cat;
    const struct web_catalog *base;
    char tag[WEB_LOCALE_MAX];
};

/* Choose from an Accept-Language header value (NULL or "" → English):
 * language ranges by descending q-value (ties in header order, q=0 never),
 * each matched RFC 4647-lookup style (fr-CA-x → fr-CA → fr); "*" means the
 * default. Malformed elements are skipped; at most 4096 bytes and 32
 * ranges of the header are considered. set NULL → the built-in set. */
void web_locale_negotiate(const struct web_i18n *set, const char *accept_language,
                          struct web_locale *out);
/* A locale for a catalog tag (unknown → English). */
void web_locale_for(const struct web_i18n *set, const char *tag, struct web_locale *out);

const char *web_locale_lang(const struct web_locale *l); /* the catalog's tag: <html lang> */
bool web_locale_rtl(const struct web_locale *l);

/* The text of key: from the locale's catalog, else English, else the key
 * itself (a visible bug rather than a crash). Never NULL. */
const char *web_text(const struct web_locale *l, const char *key);

/* The text of a counted key: "<key>.<category>" where the category
 * ("zero", "one", "two", "few", "many", "other") comes from the plural rules
 * of the catalog's language (web_plural_category), falling back to
 * "<key>.other", then to English chosen by English rules. Never NULL. */
const char *web_text_plural(const struct web_locale *l, const char *key, int64_t n);

/* Fill a text's placeholders: "%s" takes the next argument, "%N$s" the N-th
 * (1-9, for languages that need another order), "%%" is a percent sign.
 * Missing arguments are empty. With esc non-NULL the template's own text is
 * passed through esc (HTML-escaping) and the arguments are inserted as they
 * are (already HTML). */
char *web_text_fill(struct arena *a, const char *tmpl, const char *const *args, size_t nargs,
                    char *(*esc)(struct arena *, const char *));

/* web_text + web_text_fill, for plain text: WEB_TEXTF(a, l, "key", x, y). */
char *web_textv(struct arena *a, const struct web_locale *l, const char *key,
                const char *const *args, size_t nargs);
#define WEB_TEXTF(a, l, key, ...)                                                                  \
    web_textv((a), (l), (key), (const char *const[]){__VA_ARGS__},                                 \
              sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Which placeholders a template uses: bit i set for argument i+1. -1 when
 * the template is malformed (a lone or unknown %, %0$s, mixed %s and %N$s). */
int web_text_placeholders(const char *tmpl);

#endif
