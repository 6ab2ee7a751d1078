/*
 * test_ref.c — unit tests for core/ref.c: base62 length, encoding and the
 * character-class check.
 *
 * Reference values for long inputs were computed independently (Python
 * big integers); the test also decodes every output back with its own
 * big-number code and compares the bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ref.h"

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static uint64_t rng_state = 0xD1B54A32D192ED03ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static int digit_value(char c)
{
    const char *p = strchr(alphabet, c);
    return (c != '\0' && p != NULL) ? (int)(p - alphabet) : -1;
}

/* Decode s (base62) into a big-endian integer of exactly n bytes. Returns
 * false if it does not fit. Independent of the encoder: multiply-add. */
static bool decode(const char *s, uint8_t *out, size_t n)
{
    memset(out, 0, n);
    for (; *s; s++) {
        int v = digit_value(*s);
        unsigned carry;
        if (v < 0)
            return false;
        carry = (unsigned)v;
        for (size_t i = n; i > 0; i--) {
            unsigned cur = out[i - 1] * 62u + carry;
            out[i - 1] = (uint8_t)(cur & 0xFF);
            carry = cur >> 8;
        }
        if (carry != 0)
            return false;
    }
    return true;
}

/* ---- ref_base62_len ------------------------------------------------------ */

/* Reference: the least L with 62^L >= 2^bits, by big-number powers of 62.
 * pow62 holds 62^L little-endian in 32-bit limbs. */
static void test_len_matches_powers(void **state)
{
    uint32_t pow62[200] = {1};
    size_t limbs = 1;
    size_t L = 0;
    (void)state;

    for (unsigned bits = 0; bits <= 4096; bits++) {
        /* Raise L until 62^L >= 2^bits, i.e. its bit length exceeds bits. */
        for (;;) {
            size_t bitlen = 32 * (limbs - 1);
            for (uint32_t top = pow62[limbs - 1]; top != 0; top >>= 1)
                bitlen++;
            if (bitlen > bits)
                break;
            uint64_t carry = 0;
            for (size_t i = 0; i < limbs; i++) {
                uint64_t cur = (uint64_t)pow62[i] * 62u + carry;
                pow62[i] = (uint32_t)cur;
                carry = cur >> 32;
            }
            if (carry != 0)
                pow62[limbs++] = (uint32_t)carry;
            L++;
        }
        if (ref_base62_len(bits) != L)
            print_error("bits %u: got %zu want %zu\n", bits, ref_base62_len(bits), L);
        assert_int_equal(ref_base62_len(bits), L);
    }
}

static void test_len_known(void **state)
{
    (void)state;
    assert_int_equal(ref_base62_len(0), 0);
    assert_int_equal(ref_base62_len(1), 1);
    assert_int_equal(ref_base62_len(5), 1); /* 32 <= 62 */
    assert_int_equal(ref_base62_len(6), 2); /* 64 > 62 */
    assert_int_equal(ref_base62_len(8), 2);
    assert_int_equal(ref_base62_len(64), 11);
    assert_int_equal(ref_base62_len(128), 22);
    assert_int_equal(ref_base62_len(256), 43);
    assert_int_equal(ref_base62_len(512), 86);
    /* Large inputs (ceil(bits * log_62 2), computed to 60 digits). */
    assert_int_equal(ref_base62_len(1073741824u), 180333629);
    assert_int_equal(ref_base62_len(1000000000u), 167948779);
    assert_int_equal(ref_base62_len(2147483648u), 360667257);
    assert_int_equal(ref_base62_len(4294967295u), 721334513);
}

static void test_len_monotonic(void **state)
{
    (void)state;
    /* Never decreases and grows by at most one per extra bit. */
    for (unsigned b = 4000000000u; b < 4000200000u; b++) {
        size_t a = ref_base62_len(b), c = ref_base62_len(b + 1);
        assert_true(c == a || c == a + 1);
    }
}

/* ---- ref_base62_encode ------------------------------------------------- */

static void test_encode_known(void **state)
{
    char out[128];
    (void)state;

    assert_true(ref_base62_encode((const uint8_t[]){0xFF}, 1, out, 2));
    assert_string_equal(out, "47"); /* 255 = 4*62 + 7 */
    assert_true(ref_base62_encode((const uint8_t[]){61}, 1, out, 2));
    assert_string_equal(out, "0z");
    assert_true(ref_base62_encode((const uint8_t[]){62}, 1, out, 2));
    assert_string_equal(out, "10");
    assert_true(ref_base62_encode((const uint8_t[]){10}, 1, out, 2));
    assert_string_equal(out, "0A");
    assert_true(ref_base62_encode((const uint8_t[]){36}, 1, out, 2));
    assert_string_equal(out, "0a");
    assert_true(ref_base62_encode((const uint8_t[]){0x01, 0x00}, 2, out, 3));
    assert_string_equal(out, "048"); /* 256 = 4*62 + 8 */

    {
        uint8_t ff[64];
        memset(ff, 0xFF, sizeof ff);
        assert_true(ref_base62_encode(ff, 8, out, 11));
        assert_string_equal(out, "LygHa16AHYF"); /* 2^64 - 1 */
        assert_true(ref_base62_encode(ff, 16, out, 22));
        assert_string_equal(out, "7n42DGM5Tflk9n8mt7Fhc7"); /* 2^128 - 1 */
        assert_true(ref_base62_encode(ff, 64, out, 86));
        assert_string_equal(out, "xR9fAlrdKvCIINsqEkJZSfvkAt8lzmSSSSwEFE05v06EBY3r5dlozuRxnvOf5LFQ"
                                 "W8jES7aPVEzqA5lO3MW8I3"); /* 2^512 - 1 */
    }
    {
        uint8_t seq[16];
        for (int i = 0; i < 16; i++)
            seq[i] = (uint8_t)(i + 1);
        assert_true(ref_base62_encode(seq, 16, out, 22));
        assert_string_equal(out, "01tuWckR0Qgud2DqqiTysq"); /* 0x0102...10 */
    }
}

static void test_encode_zero_and_padding(void **state)
{
    uint8_t zero[32] = {0};
    char out[64];
    (void)state;

    assert_true(ref_base62_encode(zero, 16, out, 22));
    assert_string_equal(out, "0000000000000000000000");

    /* A longer output is left-padded with '0'. */
    assert_true(ref_base62_encode((const uint8_t[]){62}, 1, out, 6));
    assert_string_equal(out, "000010");

    /* No bytes: outlen '0's (here none). */
    assert_true(ref_base62_encode(NULL, 0, out, 0));
    assert_string_equal(out, "");
    assert_true(ref_base62_encode(NULL, 0, out, 3));
    assert_string_equal(out, "000");
}

static void test_encode_rejects(void **state)
{
    uint8_t bytes[65] = {1};
    char out[128];
    (void)state;

    memset(out, 'x', sizeof out);
    assert_false(ref_base62_encode(bytes, 16, out, 21));  /* needs 22 */
    assert_false(ref_base62_encode(bytes, 1, out, 1));    /* needs 2 */
    assert_false(ref_base62_encode(bytes, 65, out, 120)); /* n > 64 */
    assert_false(ref_base62_encode(bytes, 16, NULL, 22));
    assert_false(ref_base62_encode(NULL, 1, out, 2));
    assert_int_equal(out[0], 'x'); /* nothing written on failure */
    assert_true(ref_base62_encode(bytes, 64, out, 86));
}

/* Random bytes of every length 0..64: exact length, alphabet only, NUL at
 * outlen, nothing written past it, input unchanged, decodes to the input. */
static void test_encode_round_trip(void **state)
{
    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = (size_t)iter % 65;
        size_t len = ref_base62_len((unsigned)(8 * n)) + (size_t)(iter % 3);
        uint8_t in[64], copy[64], back[64];
        char out[96];

        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)rng();
        if (iter % 5 == 0 && n > 0)
            memset(in, 0xFF, n); /* the largest value of that length */
        if (n > 0)
            memcpy(copy, in, n);
        memset(out, '#', sizeof out);

        assert_true(ref_base62_encode(in, n, out, len));
        assert_int_equal(strlen(out), len);
        assert_int_equal(out[len + 1], '#');
        assert_true(len == 0 || ref_is_base62(out, len));
        assert_true(n == 0 || memcmp(in, copy, n) == 0);
        assert_true(decode(out, back, n));
        assert_true(n == 0 || memcmp(back, in, n) == 0);

        /* For up to 8 bytes, compare with plain 64-bit arithmetic. */
        if (n <= 8) {
            uint64_t v = 0;
            char want[16];
            for (size_t i = 0; i < n; i++)
                v = (v << 8) | in[i];
            want[len] = '\0';
            for (size_t k = len; k > 0; k--) {
                want[k - 1] = alphabet[v % 62];
                v /= 62;
            }
            assert_string_equal(out, want);
        }
    }
}

/* ---- ref_is_base62 --------------------------------------------------------- */

static void test_is_base62(void **state)
{
    (void)state;
    assert_true(ref_is_base62("0", 1));
    assert_true(ref_is_base62("azAZ09", 6));
    assert_true(ref_is_base62(alphabet, 62));
    assert_true(ref_is_base62("abc-", 3)); /* only len characters are looked at */

    assert_false(ref_is_base62("", 0));
    assert_false(ref_is_base62("abc", 0));
    assert_false(ref_is_base62(NULL, 3));
    assert_false(ref_is_base62("abc-", 4));
    assert_false(ref_is_base62("a b", 3));
    assert_false(ref_is_base62("a_b", 3));
    assert_false(ref_is_base62("a+b", 3));
    assert_false(ref_is_base62("ab\0", 3)); /* embedded NUL */
    assert_false(ref_is_base62("\xc3\xa9", 2));
    /* The neighbours of each range: '/' ':' '@' '[' '`' '{'. */
    assert_false(ref_is_base62("/", 1));
    assert_false(ref_is_base62(":", 1));
    assert_false(ref_is_base62("@", 1));
    assert_false(ref_is_base62("[", 1));
    assert_false(ref_is_base62("`", 1));
    assert_false(ref_is_base62("{", 1));
    assert_false(ref_is_base62("\x80", 1));
    assert_false(ref_is_base62("\xff", 1));
}

/* ---- ref_base62_put_u64 --------------------------------------------------- */

static void test_put_known(void **state)
{
    (void)state;
    char out[16];
    memset(out, '#', sizeof out);
    ref_base62_put_u64(0, out, 7);
    assert_string_equal(out, "0000000");
    ref_base62_put_u64(61, out, 3);
    assert_string_equal(out, "00z");
    ref_base62_put_u64(62, out, 3);
    assert_string_equal(out, "010");
    /* 2026-12-06T00:00:00Z in milliseconds: 1796515200000 */
    ref_base62_put_u64(1796515200000ULL, out, 7);
    uint8_t be[8];
    assert_true(decode(out, be, sizeof be));
    uint64_t back = 0;
    for (size_t i = 0; i < sizeof be; i++)
        back = back << 8 | be[i];
    assert_true(back == 1796515200000ULL);
    /* only the low digits are kept: 62^3 wraps to "000" */
    ref_base62_put_u64(62 * 62 * 62, out, 3);
    assert_string_equal(out, "000");
    ref_base62_put_u64(62 * 62 * 62 - 1, out, 3);
    assert_string_equal(out, "zzz");
    ref_base62_put_u64(UINT64_MAX, out, 0);
    assert_string_equal(out, "");
}

/* A larger value is a later string in byte order (strcmp, SQLite's BINARY
 * collation): what keeps the references of new links together. */
static void test_put_sorts(void **state)
{
    (void)state;
    char a[8], b[8];
    uint64_t v = 1796515200000ULL;
    for (int i = 0; i < 100000; i++) {
        uint64_t w = v + 1 + (uint64_t)(i % 7) * 997u;
        ref_base62_put_u64(v, a, 7);
        ref_base62_put_u64(w, b, 7);
        if (strcmp(a, b) >= 0)
            print_error("%" PRIu64 " -> %s, %" PRIu64 " -> %s\n", v, a, w, b);
        assert_true(strcmp(a, b) < 0);
        assert_true(ref_is_base62(a, 7));
        v = w;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_len_matches_powers),
        cmocka_unit_test(test_len_known),
        cmocka_unit_test(test_len_monotonic),
        cmocka_unit_test(test_encode_known),
        cmocka_unit_test(test_encode_zero_and_padding),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_is_base62),
        cmocka_unit_test(test_put_known),
        cmocka_unit_test(test_put_sorts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
