/*
 * webhook.c — Standard Webhooks signatures (see webhook.h).
 */
#include "util/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

enum { SECRET_BYTES = 32, SECRET_MAX_BYTES = 42 }; /* 42 bytes: 56 base64 characters */

void webhook_new_secret(char *out)
{
    uint8_t key[SECRET_BYTES];
    crypto_random(key, sizeof key);
    memcpy(out, "whsec_", 6);
    crypto_base64(key, sizeof key, out + 6, 45); /* 44 characters and the NUL */
    memset(key, 0, sizeof key);
}

static bool secret_key(const char *secret, uint8_t *key, size_t *n)
{
    if (!secret || strncmp(secret, "whsec_", 6) != 0)
        return false;
    return crypto_base64_decode(secret + 6, key, SECRET_MAX_BYTES, n) && *n >= 24;
}

bool webhook_secret_valid(const char *s)
{
    uint8_t key[SECRET_MAX_BYTES];
    size_t n;
    bool ok = secret_key(s, key, &n);
    memset(key, 0, sizeof key);
    return ok;
}

bool webhook_sign(const char *secret, const char *id, int64_t timestamp, const char *body,
                  size_t body_len, char *out)
{
    uint8_t key[SECRET_MAX_BYTES];
    size_t n;
    if (!secret_key(secret, key, &n))
        return false;
    char head[128];
    int hl = snprintf(head, sizeof head, "%s.%lld.", id, (long long)timestamp);
    if (hl < 0 || (size_t)hl >= sizeof head) {
        memset(key, 0, sizeof key);
        return false;
    }
    size_t total = (size_t)hl + body_len;
    char *msg = malloc(total ? total : 1);
    if (!msg)
        abort();
    memcpy(msg, head, (size_t)hl);
    if (body_len)
        memcpy(msg + hl, body, body_len);
    uint8_t mac[32];
    crypto_hmac_sha256(key, n, msg, total, mac);
    free(msg);
    memset(key, 0, sizeof key);
    memcpy(out, "v1,", 3);
    crypto_base64(mac, sizeof mac, out + 3, WEBHOOK_SIG_LEN - 3);
    return true;
}
