/*
 * secretbox.c — AES-256-GCM sealing of secrets (see secretbox.h).
 */
#include "util/secretbox.h"

#include <openssl/evp.h>
#include <string.h>

#include "util/crypto.h"
#include "util/form.h"

enum { NONCE = 12, TAG = 16 };

bool secretbox_key_parse(const char *hex, uint8_t key[SECRETBOX_KEY_LEN])
{
    if (!hex || strlen(hex) != 2 * SECRETBOX_KEY_LEN)
        return false;
    for (size_t i = 0; i < SECRETBOX_KEY_LEN; i++) {
        int hi = form_hexval(hex[2 * i]), lo = form_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void secretbox_key_new(char out[2 * SECRETBOX_KEY_LEN + 1])
{
    uint8_t key[SECRETBOX_KEY_LEN];
    crypto_random(key, sizeof key);
    crypto_hex(key, sizeof key, out);
    memset(key, 0, sizeof key);
}

/* One AES-256-GCM pass; false on any failure (a wrong tag when opening). */
static bool gcm(bool seal, const uint8_t *key, const uint8_t *nonce, const char *ad,
                const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    bool ok = ctx && (seal ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce)
                           : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce)) == 1;
    size_t adlen = strlen(ad);
    if (ok && adlen)
        ok = (seal ? EVP_EncryptUpdate(ctx, NULL, &len, (const uint8_t *)ad, (int)adlen)
                   : EVP_DecryptUpdate(ctx, NULL, &len, (const uint8_t *)ad, (int)adlen)) == 1;
    if (ok && n)
        ok = (seal ? EVP_EncryptUpdate(ctx, out, &len, in, (int)n)
                   : EVP_DecryptUpdate(ctx, out, &len, in, (int)n)) == 1;
    if (ok && !seal)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag) == 1;
    if (ok)
        ok = (seal ? EVP_EncryptFinal_ex(ctx, out + n, &len)
                   : EVP_DecryptFinal_ex(ctx, out + n, &len)) == 1;
    if (ok && seal)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

const char *secretbox_seal(const uint8_t key[SECRETBOX_KEY_LEN], const char *ad, const void *data,
                           size_t len, struct arena *a)
{
    size_t raw_len = NONCE + len + TAG;
    uint8_t *raw = arena_alloc(a, raw_len + 1);
    crypto_random(raw, NONCE);
    if (!gcm(true, key, raw, ad ? ad : "", data, len, raw + NONCE, raw + NONCE + len))
        return NULL;
    size_t cap = 3 + (raw_len + 2) / 3 * 4 + 1;
    char *out = arena_alloc(a, cap);
    memcpy(out, "v1.", 3);
    if (crypto_base64(raw, raw_len, out + 3, cap - 3) == 0)
        return NULL;
    memset(raw, 0, raw_len);
    return out;
}

const char *secretbox_open(const uint8_t key[SECRETBOX_KEY_LEN], const char *ad, const char *sealed,
                           struct arena *a, size_t *len)
{
    if (!sealed || strncmp(sealed, "v1.", 3) != 0)
        return NULL;
    size_t b64 = strlen(sealed + 3);
    size_t cap = b64 / 4 * 3 + 3;
    uint8_t *raw = arena_alloc(a, cap);
    size_t raw_len;
    if (!crypto_base64_decode(sealed + 3, raw, cap, &raw_len) || raw_len < NONCE + TAG)
        return NULL;
    size_t n = raw_len - NONCE - TAG;
    char *out = arena_alloc(a, n + 1);
    if (!gcm(false, key, raw, ad ? ad : "", raw + NONCE, n, (uint8_t *)out, raw + NONCE + n)) {
        memset(out, 0, n + 1);
        return NULL;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

json_object *secretbox_open_settings(const uint8_t *key, const char *ad, const char *public_json,
                                     const char *sealed, struct arena *a, const char **why)
{
    json_object *all = json_tokener_parse(public_json ? public_json : "{}");
    if (!all || !json_object_is_type(all, json_type_object)) {
        json_object_put(all);
        *why = "its stored settings are not readable";
        return NULL;
    }
    if (!sealed || !sealed[0])
        return all;
    if (!key) {
        json_object_put(all);
        *why = "the server has no secrets_key to open its credentials";
        return NULL;
    }
    size_t n;
    const char *text = secretbox_open(key, ad, sealed, a, &n);
    json_object *secret = text ? json_tokener_parse(text) : NULL;
    if (text)
        memset((char *)text, 0, n);
    if (!secret || !json_object_is_type(secret, json_type_object)) {
        json_object_put(all);
        json_object_put(secret);
        *why = "its credentials do not open with this server's secrets_key";
        return NULL;
    }
    json_object_object_foreach(secret, k, v) json_object_object_add(all, k, json_object_get(v));
    json_object_put(secret);
    return all;
}
