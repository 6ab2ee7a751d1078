/*
 * crypto.h — the few primitives chatpay needs, over OpenSSL libcrypto.
 */
#ifndef CHATPAY_UTIL_CRYPTO_H
#define CHATPAY_UTIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fill buf with n bytes from the CSPRNG. Aborts if the CSPRNG fails: no
 * reference or key may ever be made from weak randomness. */
void crypto_random(void *buf, size_t n);

/* SHA-256 of data → out[32]. */
void crypto_sha256(const void *data, size_t n, uint8_t out[32]);

/* HMAC-SHA256(key, data) → out[32]. */
void crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
                        uint8_t out[32]);

/* HMAC-SHA1(key, data) → out[20]: only for providers that sign with it
 * (Twilio's X-Twilio-Signature); chatpay's own signatures use SHA-256. */
void crypto_hmac_sha1(const void *key, size_t keylen, const void *data, size_t n, uint8_t out[20]);

/* Constant-time comparison of two n-byte buffers. */
bool crypto_equal(const void *a, const void *b, size_t n);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void crypto_hex(const uint8_t *in, size_t n, char *out);

/* A random base62 string of `len` characters carrying `bits` bits of entropy
 * (a multiple of 8; out holds len + 1). Aborts if len is too short for bits. */
void crypto_random_base62(unsigned bits, char *out, size_t len);

/* Standard base64 (with padding) of n bytes into out[cap] (4 * ceil(n / 3)
 * + 1 bytes). Returns the length, or 0 when it does not fit. */
size_t crypto_base64(const void *in, size_t n, char *out, size_t cap);

/* Decode standard base64 (with padding, no spaces) into out[cap]. Returns
 * false when it is not base64 or does not fit; *n gets the byte count. */
bool crypto_base64_decode(const char *in, uint8_t *out, size_t cap, size_t *n);

/* A random RFC 4122 version 4 UUID, lower case, into out[37]. */
void crypto_uuid_v4(char out[37]);

#endif
