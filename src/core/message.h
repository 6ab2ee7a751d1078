/*
 * message.h — the texts chatpay sends to customers over SMS and WhatsApp.
 *
 * Pure functions: they fill a caller's buffer and do no I/O. SMS texts fit in
 * one 160-septet GSM 03.38 (GSM-7) message: characters outside GSM-7 in the
 * merchant name or order number are replaced (see message_gsm7_clean), and
 * when the full template does not fit, shorter templates are tried before
 * the merchant name is shortened. The link URL is never shortened or cut.
 */
#ifndef CHATPAY_CORE_MESSAGE_H
#define CHATPAY_CORE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/currency.h"

#define MESSAGE_SMS_SEPTETS 160
#define MESSAGE_MAX         2048 /* bytes: every text fits in a buffer of this size */

struct message_link {
    int channel;                     /* CHANNEL_SMS or CHANNEL_WHATSAPP (core/status.h) */
    const char *merchant_name;       /* UTF-8 */
    const char *order_number;        /* UTF-8, at most 32 code points */
    int64_t total_minor;             /* amount due, in minor units of currency */
    const struct currency *currency; /* for its exponent and code */
    const char *link_url;            /* e.g. "https://pay.example.com/p/AbC123..." */
};

/* "Sandbox Store asks you to pay ZAR 125.50 for order 1001: https://…/p/xyz"
 * (the wording is the implementation's; WhatsApp may be longer and friendlier).
 * Returns the length written (NUL-terminated) or -1 when it cannot fit cap or,
 * for SMS, cannot fit 160 septets even in the shortest form (only possible
 * with an absurdly long URL). */
int message_payment_request(const struct message_link *m, char *out, size_t cap);

/* "Reminder: Sandbox Store asks you to pay ZAR 125.50 for order 1001: https://…"
 * — sent again when the link has not been opened (the merchant's reminders).
 * Same return convention. */
int message_reminder(const struct message_link *m, char *out, size_t cap);

/* "Order 1001 from Sandbox Store was cancelled. No payment is due." — sent
 * when a link is cancelled. link_url is not used. Same return convention. */
int message_cancelled(const struct message_link *m, char *out, size_t cap);

/* "Thank you for paying Sandbox Store ZAR 125.50 for order 1001. Your
 * receipt: https://…" — sent when the merchant asks for a receipt (after a
 * payment); receipt_url takes the place of the link URL, which is not used.
 * The receipt URL, like a link URL, is never shortened: -1 when it has
 * spaces or control characters, is not GSM-7, or is too long for one SMS.
 * Same return convention. */
int message_receipt(const struct message_link *m, const char *receipt_url, char *out, size_t cap);

/* Length of UTF-8 text in GSM-7 septets (extension-table characters such as
 * '€', '[', '{' count two). *all_gsm7 is false when some character is not in
 * GSM-7 at all (such characters are counted as one). */
size_t message_gsm7_septets(const char *utf8, bool *all_gsm7);

/* Copy UTF-8 text replacing every character that is not GSM-7 by '?'
 * (common look-alikes first: typographic quotes → '"' / '\'', dashes → '-',
 * non-breaking space → ' ', accented letters outside GSM-7 → base letter
 * where obvious). Returns length or -1 if cap is too small. */
int message_gsm7_clean(const char *utf8, char *out, size_t cap);

#endif
