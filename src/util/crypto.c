/*
 * crypto.c — OpenSSL libcrypto wrappers (see crypto.h).
 */
#include "util/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ref.h"

void crypto_random(void *buf, size_t n)
{
    if (n > (size_t)INT32_MAX || RAND_bytes(buf, (int)n) != 1) {
        fputs("chatpay: CSPRNG failure\n", stderr);
        abort();
    }
}

void crypto_sha256(const void *data, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    if (EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) != 1) {
        fputs("chatpay: SHA-256 failure\n", stderr);
        abort();
    }
}

/* HMAC with md, whose digest is `size` bytes, into out[size]. */
static void hmac(const EVP_MD *md, unsigned int size, const void *key, size_t keylen,
                 const void *data, size_t n, uint8_t *out)
{
    unsigned int len = size;
    if (keylen > (size_t)INT32_MAX || !HMAC(md, key, (int)keylen, data, n, out, &len) ||
        len != size) {
        fputs("chatpay: HMAC failure\n", stderr);
        abort();
    }
}

void crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, uint8_t out[32])
{
    hmac(EVP_sha256(), 32, key, keylen, data, n, out);
}

void crypto_hmac_sha1(const void *key, size_t keylen, const void *data, size_t n, uint8_t out[20])
{
    hmac(EVP_sha1(), 20, key, keylen, data, n, out);
}

size_t crypto_base64(const void *in, size_t n, char *out, size_t cap)
{
    size_t need = 4 * ((n + 2) / 3) + 1;
    if (cap < need || n > (size_t)INT32_MAX / 2)
        return 0;
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

bool crypto_base64_decode(const char *in, uint8_t *out, size_t cap, size_t *n)
{
    size_t len = strlen(in);
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > cap + 2 || len > (size_t)INT32_MAX / 2)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || (c == '=' && i >= len - 2);
        if (!ok || (c != '=' && i > 0 && in[i - 1] == '='))
            return false;
    }
    uint8_t buf[4096];
    if (len / 4 * 3 > sizeof buf)
        return false;
    int got = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
    if (got < 0)
        return false;
    size_t pad = (in[len - 1] == '=') + (in[len - 2] == '=');
    size_t bytes = (size_t)got - pad;
    if (bytes > cap)
        return false;
    memcpy(out, buf, bytes);
    *n = bytes;
    return true;
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void crypto_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void crypto_random_base62(unsigned bits, char *out, size_t len)
{
    uint8_t bytes[64];
    size_t n = (bits + 7) / 8;
    if (bits % 8 || n > sizeof bytes || len < ref_base62_len(bits)) {
        fputs("chatpay: reference too short for its entropy\n", stderr);
        abort();
    }
    crypto_random(bytes, n);
    if (!ref_base62_encode(bytes, n, out, len)) {
        fputs("chatpay: base62 encoding failed\n", stderr);
        abort();
    }
}

void crypto_uuid_v4(char out[37])
{
    uint8_t b[16];
    crypto_random(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char hex[33];
    crypto_hex(b, 16, hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}
