/*
 * test_crypto.c — unit tests for util/crypto.c against published vectors:
 * SHA-256 (FIPS 180-2 examples), HMAC-SHA256 (RFC 4231), HMAC-SHA1
 * (RFC 2202) and base64 (RFC 4648 section 10).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/crypto.h"

static void hex_of(const uint8_t *in, size_t n, char *out)
{
    crypto_hex(in, n, out);
}

static void test_sha256(void **state)
{
    (void)state;
    uint8_t md[32];
    char hex[65];
    crypto_sha256("abc", 3, md);
    hex_of(md, sizeof md, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_sha256("", 0, md);
    hex_of(md, sizeof md, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* A key of `keylen` bytes: the text `key` when set, else `fill` repeated. */
struct hmac_vector {
    const char *name;
    size_t mdlen; /* 20: HMAC-SHA1, 32: HMAC-SHA256 */
    const char *key;
    uint8_t fill;
    size_t keylen;
    const char *data;
    const char *hex;
};

static const char JEFE[] = "what do ya want for nothing?";
static const char LONG_KEY[] = "Test Using Larger Than Block-Size Key - Hash Key First";

static const struct hmac_vector HMACS[] = {
    {"RFC 4231 case 2", 32, "Jefe", 0, 4, JEFE,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"RFC 4231 case 6 (a key longer than the block)", 32, NULL, 0xaa, 131, LONG_KEY,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {"RFC 2202 case 1", 20, NULL, 0x0b, 20, "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"},
    {"RFC 2202 case 2", 20, "Jefe", 0, 4, JEFE, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
    {"RFC 2202 case 6 (a key longer than the block)", 20, NULL, 0xaa, 80, LONG_KEY,
     "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
};

static void test_hmac(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof HMACS / sizeof *HMACS; i++) {
        const struct hmac_vector *v = &HMACS[i];
        uint8_t key[256], md[32];
        char hex[65];
        if (v->key)
            memcpy(key, v->key, v->keylen);
        else
            memset(key, v->fill, v->keylen);
        if (v->mdlen == 20)
            crypto_hmac_sha1(key, v->keylen, v->data, strlen(v->data), md);
        else
            crypto_hmac_sha256(key, v->keylen, v->data, strlen(v->data), md);
        hex_of(md, v->mdlen, hex);
        if (strcmp(hex, v->hex) != 0)
            fail_msg("%s: %s, want %s", v->name, hex, v->hex);
    }
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        char out[16];
        size_t n = strlen(plain[i]);
        assert_int_equal(crypto_base64(plain[i], n, out, sizeof out), strlen(coded[i]));
        assert_string_equal(out, coded[i]);
        if (n == 0)
            continue; /* an empty text is not a value to decode */
        uint8_t back[16];
        size_t m = 99;
        assert_true(crypto_base64_decode(coded[i], back, sizeof back, &m));
        assert_int_equal(m, n);
        assert_memory_equal(back, plain[i], n);
    }
    /* too small an output: nothing written, 0 */
    char small[8];
    assert_int_equal(crypto_base64("foobar", 6, small, sizeof small), 0);
    /* not base64, or too long for the buffer */
    uint8_t back[4];
    size_t m;
    assert_false(crypto_base64_decode("Zm9v!", back, sizeof back, &m));
    assert_false(crypto_base64_decode("Zm9vYmFy", back, sizeof back, &m));
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(crypto_equal("abcdef", "abcdef", 6));
    assert_false(crypto_equal("abcdef", "abcdeg", 6));
    assert_false(crypto_equal("xbcdef", "abcdef", 6));
    assert_true(crypto_equal("a", "b", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
