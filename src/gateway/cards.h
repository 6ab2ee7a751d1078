/*
 * cards.h — the sandbox gateway's test cards and card-form checks.
 *
 * Pure functions, no I/O. Card numbers pass through here only in memory
 * while a sandbox payment form is checked; nothing here stores or logs them.
 * Callers wipe their copies after use (cards_wipe).
 */
#ifndef CHATPAY_GATEWAY_CARDS_H
#define CHATPAY_GATEWAY_CARDS_H

#include <stdbool.h>
#include <stddef.h>

/* What the sandbox gateway does with a test card. */
enum card_behaviour {
    CARD_ACCEPT,       /* ACCEPT, code 100 */
    CARD_DECLINE,      /* DECLINE, code 203 */
    CARD_INSUFFICIENT, /* DECLINE, insufficient funds, code 204 */
    CARD_REVIEW,       /* REVIEW, code 480 */
    CARD_ERROR,        /* ERROR, code 150 */
    CARD_TIMEOUT,      /* no answer; a later query finds it ACCEPTED (code 100) */
    CARD_3DS,          /* 3-D Secure challenge: approve → ACCEPT, deny → DECLINE */
    CARD_REFUND_FAILS, /* ACCEPT, code 100; every refund of it is declined */
};

enum card_brand { BRAND_VISA, BRAND_MASTERCARD, BRAND_AMEX, BRAND_UNKNOWN };

/* A checked card form. Only derived, non-sensitive data is kept. */
struct card_check {
    enum card_behaviour behaviour;
    enum card_brand brand;
    char masked[24]; /* first 6 + asterisks + last 4, e.g. "411111******1111" */
    char expiry[8];  /* "MM/YYYY" */
};

/* Problems with a form, one flag per field (shown next to the field). */
struct card_errors {
    bool number; /* not 12–19 digits, bad Luhn, or not a sandbox test card */
    bool expiry; /* not MM/YY, MM/YYYY, MMYY or MMYYYY (or separate fields), or in the past */
    bool cvc;    /* not 3 digits (4 for Amex) */
    bool name;   /* empty or over 100 characters */
    const char *number_msg, *expiry_msg, *cvc_msg, *name_msg; /* English reasons */
};

/* Check a submitted form. `number` may contain spaces or dashes (removed);
 * `expiry` is "MM/YY", "MM/YYYY", "MM / YY", digits only "MMYY" or "MMYYYY"
 * (M/ takes one digit too) or, when exp_month/exp_year are
 * given instead (non-NULL), those. now_year/now_month give "today" (UTC).
 * Returns true and fills *out when every field is fine; else fills *errs. */
bool cards_check(const char *name, const char *number, const char *expiry, const char *exp_month,
                 const char *exp_year, const char *cvc, int now_year, int now_month,
                 struct card_check *out, struct card_errors *errs);

/* Are refunds of the card with this masked number (as in card_check.masked)
 * declined by the sandbox gateway? */
bool cards_refunds_fail(const char *masked);

/* Luhn check of a digit string. */
bool cards_luhn(const char *digits);

/* "VISA", "MASTERCARD", "AMEX", "UNKNOWN". */
const char *cards_brand_name(enum card_brand b);

/* Overwrite a buffer holding card data (not optimised away). */
void cards_wipe(void *p, size_t n);

/* Rewrite, in place, the digits a phone keyboard may type in place of ASCII
 * ones (Arabic-Indic U+0660..U+0669, Extended Arabic-Indic U+06F0..U+06F9,
 * fullwidth U+FF10..U+FF19) as ASCII digits; the bytes freed at the end are
 * wiped. NULL is left as it is. */
void cards_ascii_digits(char *s);

#endif
