/*
 * fuzz_money.c — libFuzzer target for core/money.c.
 *
 * The input is used twice:
 *   1. as number text for money_dec_parse / money_to_minor / money_parse_minor
 *      with every exponent 0..4, checking the documented invariants and that
 *      a successful conversion survives money_format → parse unchanged;
 *   2. its first 8 bytes as an int64_t for money_format, checking that every
 *      value (INT64_MIN included) formats within 32 bytes and, when the digits
 *      fit a coefficient, parses back to the same magnitude and sign.
 * Any violated invariant aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/money.h"

static const int64_t pow10_small[5] = {1, 10, 100, 1000, 10000};

static void check_status(enum money_status st)
{
    CHECK(st == MONEY_OK || st == MONEY_SYNTAX || st == MONEY_NEGATIVE || st == MONEY_TOO_PRECISE ||
          st == MONEY_OUT_OF_RANGE);
    CHECK(money_status_text(st) != NULL);
}

static void check_text(const char *text, size_t len)
{
    struct money_dec d;
    enum money_status st = money_dec_parse(text, len, &d);

    check_status(st);
    CHECK(st != MONEY_NEGATIVE); /* the parser never reports the sign */
    if (st != MONEY_OK) {
        CHECK(d.coef == 0 && d.scale == 0);
        CHECK(st != MONEY_SYNTAX || !d.negative);
    } else {
        /* Normalised exact decimal. */
        CHECK(d.coef >= 0 && d.coef <= MONEY_MAX_COEF);
        CHECK(d.scale >= 0 && d.scale <= MONEY_MAX_SCALE);
        CHECK(d.scale == 0 || d.coef % 10 != 0);
        CHECK(d.coef != 0 || d.scale == 0);
        CHECK(d.negative == (len > 0 && text[0] == '-'));
    }

    for (int e = 0; e <= 4; e++) {
        int64_t minor = -1, via_parse = -1;
        enum money_status mst, pst;

        pst = money_parse_minor(text, len, e, &via_parse);
        check_status(pst);
        if (st != MONEY_OK) {
            /* A well-formed negative number reports its sign first. */
            CHECK(pst == ((st != MONEY_SYNTAX && d.negative) ? MONEY_NEGATIVE : st));
            CHECK(via_parse == 0);
            continue;
        }

        mst = money_to_minor(&d, e, &minor);
        check_status(mst);
        CHECK(mst == pst);
        CHECK(minor == via_parse);
        if (d.negative) {
            CHECK(mst == MONEY_NEGATIVE);
            continue;
        }
        if (mst != MONEY_OK) {
            CHECK(minor == 0);
            CHECK(mst == MONEY_TOO_PRECISE || mst == MONEY_OUT_OF_RANGE);
            CHECK((mst == MONEY_TOO_PRECISE) == (d.scale > e));
            continue;
        }
        CHECK(d.scale <= e);
        CHECK(minor >= 0 && minor <= MONEY_MAX_MINOR);
        /* minor = coef × 10^(e - scale), exactly. */
        CHECK(minor / pow10_small[e - d.scale] == d.coef);
        CHECK(minor % pow10_small[e - d.scale] == 0);

        /* format → parse round trip. */
        {
            char buf[32];
            int64_t back = -1;
            int n = money_format(minor, e, buf, sizeof buf);
            CHECK(n > 0 && (size_t)n < sizeof buf);
            CHECK(strlen(buf) == (size_t)n);
            CHECK(money_parse_minor(buf, (size_t)n, e, &back) == MONEY_OK);
            CHECK(back == minor);
        }
    }
}

static void check_format(int64_t v)
{
    for (int e = 0; e <= 4; e++) {
        char buf[32];
        struct money_dec d;
        int n = money_format(v, e, buf, sizeof buf);
        uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

        CHECK(n > 0 && (size_t)n < sizeof buf && strlen(buf) == (size_t)n);
        CHECK((buf[0] == '-') == (v < 0));
        /* One byte less than needed must fail cleanly. */
        CHECK(money_format(v, e, buf, (size_t)n) == -1 && buf[0] == '\0');
        n = money_format(v, e, buf, sizeof buf);

        if (mag <= (uint64_t)MONEY_MAX_COEF) {
            CHECK(money_dec_parse(buf, (size_t)n, &d) == MONEY_OK);
            CHECK(d.negative == (v < 0));
            /* Re-scale the normalised decimal to e places and compare. */
            CHECK(d.scale <= e);
            CHECK((uint64_t)d.coef * (uint64_t)pow10_small[e - d.scale] == mag);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_text((const char *)data, size);

    if (size >= 8) {
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = (u << 8) | data[i];
        check_format((int64_t)u);
    }
    return 0;
}
