/*
 * ref.h — random references in base62.
 *
 * References (payment link refs, link tokens, application ids, API key
 * secrets) are random bytes encoded in base62 [0-9A-Za-z]; a payment link ref
 * begins with the time (ref_base62_put_u64). The randomness is supplied by
 * the caller (util/crypto.h: crypto_random) so this file does no I/O and is
 * deterministic under test.
 */
#ifndef CHATPAY_CORE_REF_H
#define CHATPAY_CORE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of base62 characters needed to carry `bits` bits: ceil(bits / log2 62). */
size_t ref_base62_len(unsigned bits);

/* Encode `n` random bytes as exactly `outlen` base62 characters plus NUL
 * (out must hold outlen + 1). The encoding treats the bytes as one big-endian
 * integer and writes its base62 digits, left-padded with '0'. Requires
 * outlen >= ref_base62_len(8 * n). Returns false if outlen is too small or
 * n > 64. */
bool ref_base62_encode(const uint8_t *bytes, size_t n, char *out, size_t outlen);

/* Write v modulo 62^outlen as exactly `outlen` base62 digits plus NUL (out
 * must hold outlen + 1), most significant first and left-padded with '0', so
 * that a larger v (below 62^outlen) is also a later string in byte order. */
void ref_base62_put_u64(uint64_t v, char *out, size_t outlen);

/* True if s[0..len) is non-empty and made only of base62 characters. */
bool ref_is_base62(const char *s, size_t len);

#endif
