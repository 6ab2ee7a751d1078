/*
 * webhook.h — Standard Webhooks signatures (https://www.standardwebhooks.com/).
 *
 * A secret is "whsec_" followed by the base64 of its bytes (32 random bytes
 * here). A message is signed as
 *   v1,<base64(HMAC-SHA256(secret bytes, "<webhook-id>.<webhook-timestamp>.<body>"))>
 * and the webhook-signature header lists one such entry per secret in use,
 * separated by spaces (two while a rotated secret still signs).
 */
#ifndef CHATPAY_UTIL_WEBHOOK_H
#define CHATPAY_UTIL_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_SECRET_LEN 64 /* a secret: "whsec_" + at most 56 base64 characters, and the NUL */
#define WEBHOOK_SIG_LEN    48 /* "v1," + 44 base64 characters, and the NUL */

/* A new random secret (32 bytes: "whsec_" + 44 characters) into
 * out[WEBHOOK_SECRET_LEN]. */
void webhook_new_secret(char *out);

/* Is s a secret of the form above (with 24 to 42 bytes)? */
bool webhook_secret_valid(const char *s);

/* The "v1,<base64>" signature of a message into out[WEBHOOK_SIG_LEN];
 * false when the secret is not valid. */
bool webhook_sign(const char *secret, const char *id, int64_t timestamp, const char *body,
                  size_t body_len, char *out);

#endif
