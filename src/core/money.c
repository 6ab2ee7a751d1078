/*
 * money.c — exact decimal parsing and minor-unit conversion (see money.h).
 *
 * The parser makes two passes over the text: the first checks the JSON number
 * grammar and records where the integer, fraction and exponent parts are; the
 * second walks the digits to build the coefficient. Keeping them apart means
 * a syntax error is always reported as MONEY_SYNTAX, even when the digits
 * before it would already be out of range.
 *
 * All arithmetic is on int64_t/uint64_t; there is no floating point here.
 */
#include "core/money.h"

#include <limits.h>

/* Powers of ten up to 10^18, the largest that fits int64_t. */
static const int64_t pow10_tab[19] = {
    1LL,
    10LL,
    100LL,
    1000LL,
    10000LL,
    100000LL,
    1000000LL,
    10000000LL,
    100000000LL,
    1000000000LL,
    10000000000LL,
    100000000000LL,
    1000000000000LL,
    10000000000000LL,
    100000000000000LL,
    1000000000000000LL,
    10000000000000000LL,
    100000000000000000LL,
    1000000000000000000LL,
};

/* Most significant digits a coefficient may carry (MONEY_MAX_COEF = 10^18 - 1). */
#define MAX_SIG_DIGITS 18

/* Magnitudes (digit counts, exponents) saturate here. It is far above any
 * length that can exist in memory, and low enough that adding or subtracting
 * two saturated values cannot overflow int64_t. */
#define MAG_LIMIT (INT64_MAX / 4)

/* Exponent supported by money_to_minor / money_format (ISO 4217 uses 0..4). */
#define MAX_EXPONENT 4

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Where the parts of a syntactically valid number lie in the text. */
struct num_parts {
    bool negative;
    size_t int_start, int_len;   /* integer digits, int_len >= 1 */
    size_t frac_start, frac_len; /* fraction digits, frac_len 0 when absent */
    int64_t exp;                 /* decimal exponent, saturated at ±MAG_LIMIT */
};

/* Pass 1: check text[0..len) against the JSON number grammar. */
static bool scan_number(const char *text, size_t len, struct num_parts *p)
{
    size_t i = 0;

    p->negative = false;
    p->frac_start = p->frac_len = 0;
    p->exp = 0;

    if (i < len && text[i] == '-') {
        p->negative = true;
        i++;
    }

    /* int = "0" / digit1-9 *DIGIT */
    p->int_start = i;
    if (i >= len || !is_digit(text[i]))
        return false;
    if (text[i] == '0') {
        i++;
    } else {
        while (i < len && is_digit(text[i]))
            i++;
    }
    p->int_len = i - p->int_start;

    /* frac = "." 1*DIGIT */
    if (i < len && text[i] == '.') {
        i++;
        p->frac_start = i;
        while (i < len && is_digit(text[i]))
            i++;
        p->frac_len = i - p->frac_start;
        if (p->frac_len == 0)
            return false;
    }

    /* exp = ("e" / "E") [ "-" / "+" ] 1*DIGIT */
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        bool exp_neg = false;
        size_t exp_start;
        int64_t e = 0;

        i++;
        if (i < len && (text[i] == '-' || text[i] == '+')) {
            exp_neg = text[i] == '-';
            i++;
        }
        exp_start = i;
        while (i < len && is_digit(text[i])) {
            int64_t d = text[i] - '0';
            /* Saturate rather than overflow: any exponent this large already
             * decides the result (out of range, too precise, or zero). */
            e = (e > (MAG_LIMIT - d) / 10) ? MAG_LIMIT : e * 10 + d;
            i++;
        }
        if (i == exp_start)
            return false;
        p->exp = exp_neg ? -e : e;
    }

    return i == len;
}

enum money_status money_dec_parse(const char *text, size_t len, struct money_dec *out)
{
    struct num_parts p;
    int64_t coef = 0;
    int64_t sig = 0;      /* significant digits taken into coef so far */
    int64_t pending = 0;  /* zeros seen after the last non-zero digit */
    bool started = false; /* a non-zero digit has been seen */
    int64_t power;        /* value = coef × 10^power once trailing zeros are dropped */

    out->coef = 0;
    out->scale = 0;
    out->negative = false;

    if (text == NULL)
        return MONEY_SYNTAX;
    if (!scan_number(text, len, &p))
        return MONEY_SYNTAX;
    /* Keeps every digit count below MAG_LIMIT; no real input comes close. */
    out->negative = p.negative; /* kept on range errors too; see money.h */
    if (len > (size_t)MAG_LIMIT)
        return MONEY_OUT_OF_RANGE;

    /* Pass 2: the digits of int and frac form one integer D, and the value is
     * D × 10^(exp - frac_len). Leading zeros of D are skipped; zeros are held
     * in `pending` until a later non-zero digit shows they are not trailing. */
    for (size_t k = 0; k < p.int_len + p.frac_len; k++) {
        size_t pos = k < p.int_len ? p.int_start + k : p.frac_start + (k - p.int_len);
        int64_t d = text[pos] - '0';

        if (d == 0) {
            if (started)
                pending++;
            continue;
        }
        started = true;
        sig += pending + 1;
        if (sig > MAX_SIG_DIGITS)
            return MONEY_OUT_OF_RANGE;
        /* sig <= 18 digits, so coef stays below 10^18. */
        coef = coef * pow10_tab[pending] * 10 + d;
        pending = 0;
    }

    if (coef == 0)
        return MONEY_OK; /* zero, whatever the exponent: {0, 0} */

    /* |exp| <= MAG_LIMIT and pending, frac_len <= len <= MAG_LIMIT, so this
     * cannot overflow, and a saturated exponent keeps its meaning. */
    power = p.exp + pending - (int64_t)p.frac_len;

    if (power < 0) {
        if (power < -MONEY_MAX_SCALE)
            return MONEY_TOO_PRECISE;
        out->coef = coef;
        out->scale = (int)-power;
        return MONEY_OK;
    }
    /* coef has sig digits; coef × 10^power must stay <= MONEY_MAX_COEF. */
    if (power > MAX_SIG_DIGITS - sig)
        return MONEY_OUT_OF_RANGE;
    out->coef = coef * pow10_tab[power];
    out->scale = 0;
    return MONEY_OK;
}

enum money_status money_to_minor(const struct money_dec *d, int exponent, int64_t *minor)
{
    int64_t coef;
    int scale;

    *minor = 0;
    if (d->negative)
        return MONEY_NEGATIVE;
    if (exponent < 0 || exponent > MAX_EXPONENT)
        return MONEY_OUT_OF_RANGE; /* no currency has such an exponent */
    if (d->coef < 0 || d->scale < 0 || d->scale > MONEY_MAX_SCALE)
        return MONEY_OUT_OF_RANGE; /* not a value money_dec_parse produces */

    /* Accept a hand-built, non-normalised value such as {150, 2} for exponent 1. */
    coef = d->coef;
    scale = d->scale;
    while (scale > exponent && coef % 10 == 0) {
        coef /= 10;
        scale--;
    }
    if (scale > exponent)
        return MONEY_TOO_PRECISE;

    /* exponent - scale is in 0..4 here. */
    if (coef > MONEY_MAX_MINOR / pow10_tab[exponent - scale])
        return MONEY_OUT_OF_RANGE;
    *minor = coef * pow10_tab[exponent - scale];
    return MONEY_OK;
}

enum money_status money_parse_minor(const char *text, size_t len, int exponent, int64_t *minor)
{
    struct money_dec d;
    enum money_status st = money_dec_parse(text, len, &d);

    *minor = 0;
    if (st == MONEY_OK)
        return money_to_minor(&d, exponent, minor);
    /* A well-formed number with a leading '-' is reported as negative even
     * when it is also too large or too precise: the sign is the first fault,
     * as in money_to_minor. */
    if (st != MONEY_SYNTAX && d.negative)
        return MONEY_NEGATIVE;
    return st;
}

int money_format(int64_t minor, int exponent, char *out, size_t cap)
{
    char digits[24]; /* reversed decimal digits of |minor|; 20 suffice for 2^64 */
    size_t nd = 0;
    size_t need, i = 0;
    uint64_t mag;
    bool neg = minor < 0;

    if (out == NULL)
        return -1;
    if (cap > 0)
        out[0] = '\0';
    if (exponent < 0 || exponent > MAX_EXPONENT)
        return -1;

    /* |INT64_MIN| does not fit int64_t; compute the magnitude in uint64_t. */
    mag = neg ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    do {
        digits[nd++] = (char)('0' + (int)(mag % 10));
        mag /= 10;
    } while (mag != 0);
    /* At least exponent + 1 digits, so there is always an integer digit. */
    while (nd < (size_t)exponent + 1)
        digits[nd++] = '0';

    need = (neg ? 1u : 0u) + nd + (exponent > 0 ? 1u : 0u);
    if (need + 1 > cap)
        return -1;

    if (neg)
        out[i++] = '-';
    while (nd > 0) {
        if (exponent > 0 && nd == (size_t)exponent)
            out[i++] = '.';
        out[i++] = digits[--nd];
    }
    out[i] = '\0';
    return (int)i;
}

const char *money_status_text(enum money_status st)
{
    switch (st) {
    case MONEY_OK:
        return "is valid";
    case MONEY_SYNTAX:
        return "is not a valid number";
    case MONEY_NEGATIVE:
        return "must not be negative";
    case MONEY_TOO_PRECISE:
        return "has too many decimal places";
    case MONEY_OUT_OF_RANGE:
        return "is out of range";
    }
    return "is invalid";
}
