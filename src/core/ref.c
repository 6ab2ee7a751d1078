/*
 * ref.c — base62 encoding of random bytes (see ref.h).
 *
 * The bytes are one big-endian integer; its base62 digits are produced least
 * significant first by repeated long division by 62 of a scratch copy. n is at
 * most 64 bytes and outlen at most a few hundred characters, so the quadratic
 * cost is negligible. The scratch copy holds secret material (API key secrets)
 * and is wiped before returning.
 */
#include "core/ref.h"

#include <limits.h>
#include <string.h>

#define REF_MAX_BYTES 64

static const char base62_digits[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* log_62(2) = 1 / log2(62) = 0.16794955..., in 0.64 fixed point, rounded up:
 * floor(2^64 * log_62(2)) + 1. Using an upper bound can only over-estimate the
 * length; with a 64-bit fraction and bits < 2^32 the error stays below 2^-32,
 * and for every 32-bit `bits` the result equals the one computed with the
 * lower bound (checked exhaustively when this constant was chosen), so it is
 * the exact ceiling. */
#define LOG62_2_Q64_HI 0x2AFEB0F1060C7E42ULL

_Static_assert(UINT_MAX <= 0xFFFFFFFFu, "ref_base62_len assumes a 32-bit unsigned");

size_t ref_base62_len(unsigned bits)
{
    /* ceil(bits * C / 2^64) with C split into 32-bit halves so that the
     * 96-bit product needs no wider type. */
    uint64_t b = bits;
    uint64_t c_hi = LOG62_2_Q64_HI >> 32;         /* < 2^30 */
    uint64_t c_lo = LOG62_2_Q64_HI & 0xFFFFFFFFu; /* < 2^32 */
    uint64_t lo = b * c_lo;                       /* < 2^64 */
    uint64_t mid = b * c_hi + (lo >> 32);         /* < 2^62 + 2^32 */
    uint64_t whole = mid >> 32;
    bool frac = (mid & 0xFFFFFFFFu) != 0 || (lo & 0xFFFFFFFFu) != 0;

    return (size_t)whole + (frac ? 1 : 0);
}

/* Wipe through a volatile pointer so the stores are not optimised away. */
static void wipe(uint8_t *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n-- > 0)
        *v++ = 0;
}

bool ref_base62_encode(const uint8_t *bytes, size_t n, char *out, size_t outlen)
{
    uint8_t work[REF_MAX_BYTES];
    size_t first = 0; /* index of the first non-zero byte of work */

    if (out == NULL || n > REF_MAX_BYTES || (bytes == NULL && n > 0))
        return false;
    if (outlen < ref_base62_len((unsigned)(8 * n)))
        return false;

    if (n > 0)
        memcpy(work, bytes, n);
    for (size_t k = outlen; k > 0; k--) {
        unsigned rem = 0;

        /* work /= 62, rem = work % 62; each step's value is < 62 * 256. */
        while (first < n && work[first] == 0)
            first++;
        for (size_t i = first; i < n; i++) {
            unsigned cur = rem * 256u + work[i];
            work[i] = (uint8_t)(cur / 62u);
            rem = cur % 62u;
        }
        out[k - 1] = base62_digits[rem]; /* once work is 0 this pads with '0' */
    }
    out[outlen] = '\0';
    wipe(work, sizeof work);
    return true;
}

void ref_base62_put_u64(uint64_t v, char *out, size_t outlen)
{
    for (size_t k = outlen; k > 0; k--) {
        out[k - 1] = base62_digits[v % 62u];
        v /= 62u;
    }
    out[outlen] = '\0';
}

bool ref_is_base62(const char *s, size_t len)
{
    if (s == NULL || len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}
