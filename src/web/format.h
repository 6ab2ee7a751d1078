/*
 * format.h — numbers and amounts for a customer's language, with ICU.
 *
 * Only src/web/format.c includes ICU headers. Amounts are formatted from
 * their exact decimal text (never through a double) with the currency's
 * minor-unit digits from our table, so that what is shown is exactly what is
 * charged. ICU formatters are costly to open: each thread keeps the last
 * FORMAT_CACHE_MAX it used (by kind, locale and currency) and closes them
 * when it exits.
 *
 * Locales are tags as in web/i18n.h ("en", "fr-CA", "ar"); anything ICU
 * cannot use gives its root locale's formats.
 */
#ifndef CHATPAY_WEB_FORMAT_H
#define CHATPAY_WEB_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/currency.h"
#include "util/arena.h"
#include "util/time.h"

/* An amount in minor units as the locale writes it, e.g. en "ZAR 115.00"
 * (with U+00A0 between code and number), fr "115,00 ZAR", en EUR
 * "€1,234.56". When ICU fails: "ZAR 115.00" (code, space, decimal). */
char *web_format_amount(struct arena *a, const char *locale, const struct currency *c,
                        int64_t minor);

/* The same from a decimal string ("115.00", "5000"; digits and at most one
 * '.', no sign). NULL when the text is not such a number. */
char *web_format_decimal(struct arena *a, const char *locale, const char *currency_code,
                         const char *decimal, int fraction_digits);

/* A whole number as the locale writes it ("1,234", "1 234", "١٬٢٣٤"). */
char *web_format_int(struct arena *a, const char *locale, int64_t n);

/* A date and time in UTC as the locale writes it (medium date, short time:
 * en "Nov 22, 2026, 5:04 AM", fr "22 nov. 2026, 05:04"), without the zone.
 * When ICU fails: "2026-11-22 05:04". NULL only for an instant outside
 * what RFC 3339 can write. */
char *web_format_datetime(struct arena *a, const char *locale, usec_t t);

/* The CLDR plural category of n in the locale's language: "zero", "one",
 * "two", "few", "many" or "other" (static strings; "other" when unknown). */
const char *web_plural_category(const char *locale, int64_t n);

/* The locale's numbering system, a CLDR name such as "latn" or "arab"
 * (for the page's script, so that it writes the same digits). */
const char *web_format_numbering(struct arena *a, const char *locale);

/* Whether ICU is usable (it opened a formatter for "en"). For tests. */
bool web_format_icu_ok(void);

#endif
