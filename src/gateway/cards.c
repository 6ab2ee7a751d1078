/*
 * cards.c — the sandbox gateway's test cards and card-form checks (see
 * cards.h).
 *
 * Card data (number, CVC) is only read here, or copied into one local
 * buffer that is wiped before returning; nothing is logged or printed.
 *
 * Beyond cards.h:
 *   - On failure *out is zeroed except out->brand, which is the brand
 *     implied by the number's leading digits (BRAND_UNKNOWN when the number
 *     is unreadable), e.g. for a brand hint next to the field.
 *   - The expected CVC length follows that brand: 4 digits for AMEX, else 3.
 *     When the number is missing or contains invalid characters the brand
 *     cannot be known, so 3 or 4 digits are taken for the CVC (the number
 *     field is already in error).
 *   - The expiry month may have one digit ("1/30"). The separate month/year
 *     fields are used when either is non-NULL and not blank; otherwise the
 *     combined `expiry` field is used.
 *   - Leading and trailing blanks are ignored in the name, expiry and CVC.
 *     The name must be valid UTF-8 without control characters.
 */
#include "gateway/cards.h"

#include <stdint.h>
#include <string.h>

#include "util/utf8.h"

#define NUMBER_MIN     12
#define NUMBER_MAX     19
#define NAME_MAX_CHARS 100
#define NAME_MAX_BYTES 400
#define YEARS_AHEAD    20

struct test_card {
    const char *number;
    enum card_behaviour behaviour;
};

/* Every number here passes the Luhn check. */
static const struct test_card test_cards[] = {
    {"4111111111111111", CARD_ACCEPT},       {"4242424242424242", CARD_ACCEPT},
    {"5555555555554444", CARD_ACCEPT},       {"378282246310005", CARD_ACCEPT},
    {"4000000000000002", CARD_DECLINE},      {"4000000000009995", CARD_INSUFFICIENT},
    {"4000000000000101", CARD_REVIEW},       {"4000000000000119", CARD_ERROR},
    {"4000000000000259", CARD_TIMEOUT},      {"4000002760003184", CARD_3DS},
    {"4000000000005126", CARD_REFUND_FAILS},
};

bool cards_refunds_fail(const char *masked)
{
    return masked && strcmp(masked, "400000******5126") == 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The string s without leading and trailing blanks: [*start, *start + len).
 * NULL counts as empty. */
static size_t trim(const char *s, const char **start)
{
    if (s == NULL) {
        *start = "";
        return 0;
    }
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    *start = s;
    return n;
}

/* true when s[0..n) is all digits (n may be 0). */
static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* The value of the digits s[0..n) (n <= 4, all digits). */
static int digits_value(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bool cards_luhn(const char *digits)
{
    if (digits == NULL || digits[0] == '\0')
        return false;
    size_t n = strlen(digits);
    unsigned sum = 0;
    bool dbl = false;
    for (size_t i = n; i-- > 0;) {
        if (!is_digit(digits[i]))
            return false;
        unsigned d = (unsigned)(digits[i] - '0');
        if (dbl) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum = (sum + d) % 10;
        dbl = !dbl;
    }
    return sum == 0;
}

const char *cards_brand_name(enum card_brand b)
{
    switch (b) {
    case BRAND_VISA:
        return "VISA";
    case BRAND_MASTERCARD:
        return "MASTERCARD";
    case BRAND_AMEX:
        return "AMEX";
    default:
        return "UNKNOWN";
    }
}

void cards_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        explicit_bzero(p, n);
}

void cards_ascii_digits(char *s)
{
    if (s == NULL)
        return;
    const unsigned char *in = (const unsigned char *)s;
    char *out = s;
    size_t len = strlen(s);
    while (*in) {
        if (in[0] == 0xD9 && in[1] >= 0xA0 && in[1] <= 0xA9) { /* U+0660.. */
            *out++ = (char)('0' + (in[1] - 0xA0));
            in += 2;
        } else if (in[0] == 0xDB && in[1] >= 0xB0 && in[1] <= 0xB9) { /* U+06F0.. */
            *out++ = (char)('0' + (in[1] - 0xB0));
            in += 2;
        } else if (in[0] == 0xEF && in[1] == 0xBC && in[2] >= 0x90 && in[2] <= 0x99) {
            *out++ = (char)('0' + (in[2] - 0x90)); /* U+FF10.. */
            in += 3;
        } else {
            *out++ = (char)*in++;
        }
    }
    size_t n = (size_t)(out - s);
    cards_wipe(out, len - n + 1); /* the old tail held card digits too */
}

/* The brand implied by the leading digits d[0..n). */
static enum card_brand brand_of(const char *d, size_t n)
{
    if (n >= 1 && d[0] == '4')
        return BRAND_VISA;
    if (n >= 2) {
        int p2 = digits_value(d, 2);
        if (p2 >= 51 && p2 <= 55)
            return BRAND_MASTERCARD;
        if (p2 == 34 || p2 == 37)
            return BRAND_AMEX;
    }
    if (n >= 4) {
        int p4 = digits_value(d, 4);
        if (p4 >= 2221 && p4 <= 2720)
            return BRAND_MASTERCARD;
    }
    return BRAND_UNKNOWN;
}

/* ---- number ------------------------------------------------------------ */

enum num_state { NUM_MISSING, NUM_CHARS, NUM_LENGTH, NUM_LUHN, NUM_NOT_TEST, NUM_OK };

/* Copy the digits of `number` (spaces and dashes dropped) into buf (at most
 * NUMBER_MAX digits are kept; *ndigits counts them all). */
static enum num_state read_number(const char *number, char buf[NUMBER_MAX + 1], size_t *ndigits,
                                  enum card_behaviour *behaviour)
{
    size_t n = 0;
    *ndigits = 0;
    buf[0] = '\0';
    if (number == NULL)
        return NUM_MISSING;
    for (const char *s = number; *s != '\0'; s++) {
        if (*s == ' ' || *s == '-')
            continue;
        if (!is_digit(*s)) {
            *ndigits = n < NUMBER_MAX ? n : NUMBER_MAX;
            buf[*ndigits] = '\0';
            return NUM_CHARS;
        }
        if (n < NUMBER_MAX)
            buf[n] = *s;
        n++;
    }
    *ndigits = n;
    buf[n < NUMBER_MAX ? n : NUMBER_MAX] = '\0';
    if (n == 0)
        return NUM_MISSING;
    if (n < NUMBER_MIN || n > NUMBER_MAX)
        return NUM_LENGTH;
    if (!cards_luhn(buf))
        return NUM_LUHN;
    for (size_t i = 0; i < sizeof test_cards / sizeof test_cards[0]; i++) {
        if (strcmp(buf, test_cards[i].number) == 0) {
            *behaviour = test_cards[i].behaviour;
            return NUM_OK;
        }
    }
    return NUM_NOT_TEST;
}

static const char *number_message(enum num_state st)
{
    switch (st) {
    case NUM_MISSING:
        return "Enter the card number";
    case NUM_CHARS:
    case NUM_LENGTH:
        return "Enter a valid card number";
    case NUM_LUHN:
        return "This card number does not pass the check digit test";
    case NUM_NOT_TEST:
        return "Use one of the sandbox test cards";
    default:
        return NULL;
    }
}

/* ---- expiry ------------------------------------------------------------ */

enum exp_state { EXP_MISSING, EXP_FORMAT, EXP_MONTH, EXP_PAST, EXP_FAR, EXP_OK };

/* A month of 1 or 2 digits into *m. */
static bool read_month(const char *s, size_t n, int *m)
{
    if (n < 1 || n > 2 || !all_digits(s, n))
        return false;
    *m = digits_value(s, n);
    return true;
}

/* A year of 2 digits (20YY) or 4 digits into *y. */
static bool read_year(const char *s, size_t n, int *y)
{
    if ((n != 2 && n != 4) || !all_digits(s, n))
        return false;
    *y = digits_value(s, n);
    if (n == 2)
        *y += 2000;
    return true;
}

/* "M/YY", "MM/YY", "MM/YYYY", with blanks allowed around the slash; or
 * digits only, "MMYY" or "MMYYYY" (a phone's numeric keypad has no slash). */
static enum exp_state parse_combined(const char *expiry, int *m, int *y)
{
    const char *s;
    size_t n = trim(expiry, &s);
    if (n == 0)
        return EXP_MISSING;
    const char *slash = memchr(s, '/', n);
    if (slash == NULL) {
        if ((n != 4 && n != 6) || !read_month(s, 2, m) || !read_year(s + 2, n - 2, y))
            return EXP_FORMAT;
        return EXP_OK;
    }
    size_t mlen = (size_t)(slash - s);
    while (mlen > 0 && is_blank(s[mlen - 1]))
        mlen--;
    const char *ys = slash + 1;
    size_t ylen = n - (size_t)(ys - s);
    while (ylen > 0 && is_blank(*ys)) {
        ys++;
        ylen--;
    }
    if (!read_month(s, mlen, m) || !read_year(ys, ylen, y))
        return EXP_FORMAT;
    return EXP_OK;
}

static enum exp_state parse_separate(const char *exp_month, const char *exp_year, int *m, int *y)
{
    const char *ms, *ys;
    size_t mlen = trim(exp_month, &ms), ylen = trim(exp_year, &ys);
    if (mlen == 0 && ylen == 0)
        return EXP_MISSING;
    if (!read_month(ms, mlen, m) || !read_year(ys, ylen, y))
        return EXP_FORMAT;
    return EXP_OK;
}

static enum exp_state check_expiry(const char *expiry, const char *exp_month, const char *exp_year,
                                   int now_year, int now_month, int *m, int *y)
{
    const char *tmp;
    bool separate = trim(exp_month, &tmp) > 0 || trim(exp_year, &tmp) > 0;
    enum exp_state st =
        separate ? parse_separate(exp_month, exp_year, m, y) : parse_combined(expiry, m, y);
    if (st != EXP_OK)
        return st;
    if (*m < 1 || *m > 12)
        return EXP_MONTH;
    /* long long: now_year comes from the caller and may be anything */
    long long when = (long long)*y * 12 + *m;
    long long now = (long long)now_year * 12 + now_month;
    if (when < now)
        return EXP_PAST;
    if ((long long)*y > (long long)now_year + YEARS_AHEAD)
        return EXP_FAR;
    return EXP_OK;
}

static const char *expiry_message(enum exp_state st)
{
    switch (st) {
    case EXP_MISSING:
        return "Enter the expiry date";
    case EXP_FORMAT:
        return "Enter the expiry date as MM/YY";
    case EXP_MONTH:
        return "The expiry month must be from 01 to 12";
    case EXP_PAST:
        return "This card has expired";
    case EXP_FAR:
        return "Enter a valid expiry year";
    default:
        return NULL;
    }
}

/* ---- CVC and name --------------------------------------------------------- */

/* NULL when fine, else the message. `brand_known` false: 3 or 4 digits. */
static const char *check_cvc(const char *cvc, enum card_brand brand, bool brand_known)
{
    const char *s;
    size_t n = trim(cvc, &s);
    if (n == 0)
        return "Enter the security code (CVC)";
    bool ok = all_digits(s, n);
    if (!brand_known)
        ok = ok && (n == 3 || n == 4);
    else if (brand == BRAND_AMEX)
        ok = ok && n == 4;
    else
        ok = ok && n == 3;
    if (ok)
        return NULL;
    if (brand_known && brand == BRAND_AMEX)
        return "Enter the 4-digit security code from the front of the card";
    if (brand_known)
        return "Enter the 3-digit security code from the back of the card";
    return "Enter a valid security code (CVC)";
}

static const char *check_name(const char *name)
{
    const char *s;
    size_t n = trim(name, &s);
    if (n == 0)
        return "Enter the name on the card";
    if (n > NAME_MAX_BYTES)
        return "The name can be at most 100 characters";
    size_t chars = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (k == 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            return "The name contains characters that are not allowed";
        i += k;
        chars++;
    }
    if (chars > NAME_MAX_CHARS)
        return "The name can be at most 100 characters";
    return NULL;
}

/* ---- the form ------------------------------------------------------------- */

static void mask(const char *d, size_t n, char out[24])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < 24; i++)
        out[k++] = (i < 6 || i + 4 >= n) ? d[i] : '*';
    out[k] = '\0';
}

static void format_expiry(int m, int y, char out[8])
{
    out[0] = (char)('0' + m / 10);
    out[1] = (char)('0' + m % 10);
    out[2] = '/';
    out[3] = (char)('0' + y / 1000 % 10);
    out[4] = (char)('0' + y / 100 % 10);
    out[5] = (char)('0' + y / 10 % 10);
    out[6] = (char)('0' + y % 10);
    out[7] = '\0';
}

bool cards_check(const char *name, const char *number, const char *expiry, const char *exp_month,
                 const char *exp_year, const char *cvc, int now_year, int now_month,
                 struct card_check *out, struct card_errors *errs)
{
    struct card_errors e;
    struct card_check c;
    char digits[NUMBER_MAX + 1];
    size_t ndigits;
    enum card_behaviour behaviour = CARD_ACCEPT;
    int m = 0, y = 0;

    memset(&e, 0, sizeof e);
    memset(&c, 0, sizeof c);

    enum num_state ns = read_number(number, digits, &ndigits, &behaviour);
    bool brand_known = ns != NUM_MISSING && ns != NUM_CHARS;
    c.brand = brand_known ? brand_of(digits, ndigits) : BRAND_UNKNOWN;
    e.number_msg = number_message(ns);
    e.number = e.number_msg != NULL;

    e.expiry_msg =
        expiry_message(check_expiry(expiry, exp_month, exp_year, now_year, now_month, &m, &y));
    e.expiry = e.expiry_msg != NULL;

    e.cvc_msg = check_cvc(cvc, c.brand, brand_known);
    e.cvc = e.cvc_msg != NULL;

    e.name_msg = check_name(name);
    e.name = e.name_msg != NULL;

    bool ok = !e.number && !e.expiry && !e.cvc && !e.name;
    if (ok) {
        c.behaviour = behaviour;
        mask(digits, ndigits, c.masked);
        format_expiry(m, y, c.expiry);
    }
    cards_wipe(digits, sizeof digits);

    if (out != NULL)
        *out = c;
    if (errs != NULL)
        *errs = e;
    return ok;
}
