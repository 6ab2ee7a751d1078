/*
 * currency.h — the compiled-in ISO 4217 table.
 *
 * Every active ISO 4217 currency: alphabetic code, numeric code, English name,
 * display symbol (UTF-8, as commonly printed; the code itself where none is
 * usual) and exponent (minor-unit digits, 0..4). Codes without minor units
 * (XAU, XDR, XXX, ...) are not included; see currency.c for the full list of
 * exclusions. The table is sorted by code and never changes at run time. No I/O.
 */
#ifndef CHATPAY_CORE_CURRENCY_H
#define CHATPAY_CORE_CURRENCY_H

#include <stddef.h>

struct currency {
    char code[4];       /* "ZAR", upper case, NUL-terminated */
    int numeric;        /* ISO 4217 numeric code, e.g. 710 */
    const char *name;   /* "South African Rand" */
    const char *symbol; /* "R" */
    int exponent;       /* minor-unit digits: 0 (JPY), 2 (ZAR), 3 (KWD), 4 (CLF) */
};

/* Look up by alphabetic code, case-insensitively ("zar" finds ZAR). Only exact
 * 3-letter input matches. Returns NULL when unknown. */
const struct currency *currency_find(const char *code);

/* The same, for a code written exactly as ISO 4217 does: three upper-case
 * letters (NULL for "zar" or "ZA R" too). */
const struct currency *currency_find_upper(const char *code);

/* Look up by numeric code. Returns NULL when unknown. */
const struct currency *currency_find_numeric(int numeric);

/* The whole table, sorted by code; *count receives its length. */
const struct currency *currency_table(size_t *count);

#endif
