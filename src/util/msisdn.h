/*
 * msisdn.h — the other way a phone number is written for the same phone.
 *
 * WhatsApp names a sender by its wa_id, which for some countries is not the
 * number a merchant dials: in Brazil an account made before mobile numbers
 * got their ninth digit keeps the eight-digit form (55 AA 8xxx xxxx for
 * 55 AA 98xxx xxxx), and in Mexico mobiles carry the old "1" after the
 * country code (521 + 10 digits for 52 + 10 digits). An opt-out written
 * under one form must stop sends to the other.
 */
#ifndef CHATPAY_UTIL_MSISDN_H
#define CHATPAY_UTIL_MSISDN_H

#include <stdbool.h>

#define MSISDN_MAX 16 /* 15 digits and the NUL */

/* The other form of `msisdn` (digits only, no '+') into out: true when it
 * has one, false (out empty) otherwise. */
bool msisdn_alternate(const char *msisdn, char out[MSISDN_MAX]);

#endif
