/*
 * test_webhook.c — unit tests for util/webhook.c (Standard Webhooks
 * signatures) and the base64 helpers of util/crypto.c.
 *
 * The reference signature was computed independently (Python: hmac,
 * hashlib, base64) for the secret, id, timestamp and body below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/crypto.h"
#include "util/webhook.h"

static void test_base64(void **state)
{
    char out[64];
    assert_int_equal(crypto_base64("", 0, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(crypto_base64("f", 1, out, sizeof out), 4);
    assert_string_equal(out, "Zg==");
    assert_int_equal(crypto_base64("foobar", 6, out, sizeof out), 8);
    assert_string_equal(out, "Zm9vYmFy");
    assert_int_equal(crypto_base64("foobar", 6, out, 8), 0); /* no room for the NUL */
    uint8_t bytes[32];
    size_t n;
    assert_true(crypto_base64_decode("Zm9vYg==", bytes, sizeof bytes, &n));
    assert_int_equal(n, 4);
    assert_memory_equal(bytes, "foob", 4);
    assert_false(crypto_base64_decode("Zm9vYg=", bytes, sizeof bytes, &n));  /* length */
    assert_false(crypto_base64_decode("Zm9v*g==", bytes, sizeof bytes, &n)); /* character */
    assert_false(crypto_base64_decode("Zm=vYg==", bytes, sizeof bytes, &n)); /* = inside */
    assert_false(crypto_base64_decode("", bytes, sizeof bytes, &n));
    assert_false(crypto_base64_decode("Zm9vYmFy", bytes, 5, &n)); /* does not fit */
}

static void test_known_signature(void **state)
{
    /* secret bytes 0x00..0x1f */
    const char *secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const char *body = "{\"paymentLinkRef\":\"abc\",\"amount\":12.5}";
    char sig[WEBHOOK_SIG_LEN];
    assert_true(webhook_sign(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1700000000, body,
                             strlen(body), sig));
    assert_string_equal(sig, "v1,NvLNNCZapZ1yNC9/YnBvD1vrvHIQ8E+Opbv55ORzhpc=");
    /* any change of id, time or body changes it */
    char other[WEBHOOK_SIG_LEN];
    assert_true(webhook_sign(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4X", 1700000000, body,
                             strlen(body), other));
    assert_string_not_equal(sig, other);
    assert_true(webhook_sign(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1700000001, body,
                             strlen(body), other));
    assert_string_not_equal(sig, other);
}

static void test_secrets(void **state)
{
    char a[WEBHOOK_SECRET_LEN], b[WEBHOOK_SECRET_LEN];
    webhook_new_secret(a);
    webhook_new_secret(b);
    assert_int_equal(strlen(a), 50);
    assert_memory_equal(a, "whsec_", 6);
    assert_string_not_equal(a, b);
    assert_true(webhook_secret_valid(a));
    assert_false(webhook_secret_valid("whsec_"));
    assert_false(webhook_secret_valid("wh_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));
    assert_false(webhook_secret_valid("whsec_AAECAw==")); /* too short */
    assert_false(webhook_secret_valid(NULL));
    char sig[WEBHOOK_SIG_LEN];
    assert_false(webhook_sign("not a secret", "msg_x", 1, "{}", 2, sig));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_known_signature),
        cmocka_unit_test(test_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
