/*
 * test_secretbox.c — unit tests for util/secretbox.c (secrets sealed with
 * AES-256-GCM under the server's key).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/secretbox.h"

static const char *const HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void test_key_parse(void **state)
{
    uint8_t key[SECRETBOX_KEY_LEN];
    assert_true(secretbox_key_parse(HEX, key));
    assert_int_equal(key[0], 0);
    assert_int_equal(key[31], 0x1f);
    assert_true(secretbox_key_parse(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", key));
    assert_false(secretbox_key_parse("00", key));
    assert_false(secretbox_key_parse(NULL, key));
    assert_false(secretbox_key_parse(
        "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", key));
    char fresh[65], other[65];
    secretbox_key_new(fresh);
    secretbox_key_new(other);
    assert_int_equal(strlen(fresh), 64);
    assert_string_not_equal(fresh, other);
    assert_true(secretbox_key_parse(fresh, key));
}

static void test_round_trip(void **state)
{
    uint8_t key[SECRETBOX_KEY_LEN], wrong[SECRETBOX_KEY_LEN];
    assert_true(secretbox_key_parse(HEX, key));
    memcpy(wrong, key, sizeof wrong);
    wrong[5] ^= 1;
    struct arena *a = arena_new(0);
    const char *secret = "{\"auth_token\":\"abc123\"}";
    const char *sealed = secretbox_seal(key, "prv_1", secret, strlen(secret), a);
    assert_non_null(sealed);
    assert_memory_equal(sealed, "v1.", 3);
    assert_null(strstr(sealed, "abc123"));
    /* a new nonce each time */
    const char *again = secretbox_seal(key, "prv_1", secret, strlen(secret), a);
    assert_string_not_equal(sealed, again);
    size_t n = 0;
    const char *open = secretbox_open(key, "prv_1", sealed, a, &n);
    assert_non_null(open);
    assert_int_equal(n, strlen(secret));
    assert_string_equal(open, secret);
    /* wrong key, other row, altered text, malformed: refused */
    assert_null(secretbox_open(wrong, "prv_1", sealed, a, &n));
    assert_null(secretbox_open(key, "prv_2", sealed, a, &n));
    char *altered = arena_strdup(a, sealed);
    altered[10] = altered[10] == 'A' ? 'B' : 'A';
    assert_null(secretbox_open(key, "prv_1", altered, a, &n));
    assert_null(secretbox_open(key, "prv_1", "v1.AAAA", a, &n));
    assert_null(secretbox_open(key, "prv_1", "v2.AAAA", a, &n));
    assert_null(secretbox_open(key, "prv_1", "plain", a, &n));
    /* empty plaintext */
    const char *empty = secretbox_seal(key, "", "", 0, a);
    assert_non_null(empty);
    assert_string_equal(secretbox_open(key, "", empty, a, &n), "");
    assert_int_equal(n, 0);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
