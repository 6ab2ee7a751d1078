/*
 * money.h — exact decimal amounts and integer minor units.
 *
 * Amounts arrive as JSON number text ("12.50", "1e3", "7"). They are parsed
 * into an exact decimal (coefficient × 10^-scale) without ever going through
 * a binary floating point value, then converted into integer minor units of a
 * currency whose exponent (ISO 4217 minor-unit digits, 0..4) is known.
 * Invariant: nothing in this file rounds. A value that cannot be represented
 * exactly is an error.
 *
 * No I/O; no allocation.
 */
#ifndef CHATPAY_CORE_MONEY_H
#define CHATPAY_CORE_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest coefficient accepted: 10^18 - 1, so any coefficient fits int64. */
#define MONEY_MAX_COEF 999999999999999999LL

/* Largest amount in minor units that chatpay stores: 10^15 - 1. */
#define MONEY_MAX_MINOR 999999999999999LL

enum money_status {
    MONEY_OK = 0,
    MONEY_SYNTAX,       /* not a JSON number: "abc", "1.", ".5", "01", "+1", "" */
    MONEY_NEGATIVE,     /* a leading minus sign, including "-0" and "-0.00" */
    MONEY_TOO_PRECISE,  /* more significant decimals than the currency allows */
    MONEY_OUT_OF_RANGE, /* too many digits, exponent too large, or > MONEY_MAX_MINOR */
};

/* An exact decimal: value = coef × 10^(-scale), normalised so that coef has
 * no trailing zero digits when scale > 0 (so "1.50" is {15, 1}; "0" is
 * {0, 0}; "1e3" is {1000, 0}). scale is in 0..MONEY_MAX_SCALE. */
#define MONEY_MAX_SCALE 18
struct money_dec {
    int64_t coef; /* >= 0 */
    int scale;    /* digits after the decimal point, 0..MONEY_MAX_SCALE */
    bool negative;
};

/* Parse the JSON number grammar (RFC 8259 §6) from text[0..len):
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  and nothing else (no spaces).
 * Exponents are applied exactly; an exponent of any size is handled without
 * overflow: "0e999999999999" is 0, "1e999999999999" is MONEY_OUT_OF_RANGE,
 * "1e-999999999999" (scale beyond MONEY_MAX_SCALE) is MONEY_TOO_PRECISE, and
 * more than 18 significant digits is MONEY_OUT_OF_RANGE.
 * A negative value (any leading '-') parses successfully with negative=true;
 * callers that need a non-negative amount check it (see money_to_minor).
 * On error coef and scale are 0; negative still reports a leading '-' for
 * MONEY_TOO_PRECISE / MONEY_OUT_OF_RANGE (a well-formed number), and is false
 * for MONEY_SYNTAX. */
enum money_status money_dec_parse(const char *text, size_t len, struct money_dec *out);

/* Convert to minor units of a currency with `exponent` decimals (0..4).
 * Errors: MONEY_NEGATIVE if d->negative (even for zero), MONEY_TOO_PRECISE if
 * d->scale > exponent (after dropping trailing zeros of a non-normalised
 * coef), MONEY_OUT_OF_RANGE if the result > MONEY_MAX_MINOR, or if exponent is
 * outside 0..4 or *d is malformed (coef < 0, scale outside 0..MONEY_MAX_SCALE).
 * *minor is 0 on error. */
enum money_status money_to_minor(const struct money_dec *d, int exponent, int64_t *minor);

/* Convenience: money_dec_parse then money_to_minor. A well-formed number with a
 * leading '-' gives MONEY_NEGATIVE even if it is also out of range or too
 * precise ("-1e999"), matching money_to_minor's order of checks. *minor is 0
 * on error. */
enum money_status money_parse_minor(const char *text, size_t len, int exponent, int64_t *minor);

/* Format minor units as a plain decimal with exactly `exponent` decimals:
 * (1250, 2) → "12.50"; (5, 0) → "5"; (-5, 3) → "-0.005".  Writes a NUL-terminated
 * string; returns its length, or -1 if cap is too small or exponent is outside
 * 0..4 (out is then "" when cap > 0). Any int64_t, INT64_MIN included, fits
 * in cap 32. */
int money_format(int64_t minor, int exponent, char *out, size_t cap);

/* A short English phrase for a status, to follow a field name in an error:
 * "is not a valid number", "must not be negative", "has too many decimal
 * places", "is out of range". MONEY_OK gives "is valid". */
const char *money_status_text(enum money_status st);

#endif
