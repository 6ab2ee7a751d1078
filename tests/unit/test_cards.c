/*
 * test_cards.c — unit tests for gateway/cards.c: the sandbox test cards,
 * brands, masking, the Luhn check, and the card-form checks (number,
 * expiry, CVC, name), with "today" fixed so that nothing depends on the clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/cards.h"

/* "today" for most tests: November 2026 */
#define NOW_Y 2026
#define NOW_M 11

#define MSG_NUM_MISSING "Enter the card number"
#define MSG_NUM_INVALID "Enter a valid card number"
#define MSG_NUM_LUHN    "This card number does not pass the check digit test"
#define MSG_NUM_NOTTEST "Use one of the sandbox test cards"
#define MSG_EXP_MISSING "Enter the expiry date"
#define MSG_EXP_FORMAT  "Enter the expiry date as MM/YY"
#define MSG_EXP_MONTH   "The expiry month must be from 01 to 12"
#define MSG_EXP_PAST    "This card has expired"
#define MSG_EXP_FAR     "Enter a valid expiry year"
#define MSG_CVC_MISSING "Enter the security code (CVC)"
#define MSG_CVC_3       "Enter the 3-digit security code from the back of the card"
#define MSG_CVC_4       "Enter the 4-digit security code from the front of the card"
#define MSG_CVC_ANY     "Enter a valid security code (CVC)"
#define MSG_NAME_EMPTY  "Enter the name on the card"
#define MSG_NAME_LONG   "The name can be at most 100 characters"
#define MSG_NAME_CHARS  "The name contains characters that are not allowed"

#define VISA "4111111111111111"
#define AMEX "378282246310005"

struct form {
    struct card_check out;
    struct card_errors errs;
    bool ok;
};

/* A form with everything fine except what the test changes. */
static struct form check(const char *name, const char *number, const char *expiry,
                         const char *exp_month, const char *exp_year, const char *cvc, int now_y,
                         int now_m)
{
    struct form f;
    /* stale garbage, to see that both structs are always written */
    memset(&f, 0xA5, sizeof f);
    f.ok =
        cards_check(name, number, expiry, exp_month, exp_year, cvc, now_y, now_m, &f.out, &f.errs);
    return f;
}

static struct form check_number(const char *number, const char *cvc)
{
    return check("Ada Lovelace", number, "12/30", NULL, NULL, cvc, NOW_Y, NOW_M);
}

static struct form check_expiry(const char *expiry, int now_y, int now_m)
{
    return check("Ada Lovelace", VISA, expiry, NULL, NULL, "123", now_y, now_m);
}

static struct form check_expiry2(const char *month, const char *year)
{
    return check("Ada Lovelace", VISA, NULL, month, year, "123", NOW_Y, NOW_M);
}

static struct form check_name(const char *name)
{
    return check(name, VISA, "12/30", NULL, NULL, "123", NOW_Y, NOW_M);
}

static void assert_only_error(const struct form *f, bool number, bool expiry, bool cvc, bool name)
{
    assert_false(f->ok);
    assert_int_equal(f->errs.number, number);
    assert_int_equal(f->errs.expiry, expiry);
    assert_int_equal(f->errs.cvc, cvc);
    assert_int_equal(f->errs.name, name);
    /* a message exactly for the fields in error */
    assert_int_equal(f->errs.number_msg != NULL, number);
    assert_int_equal(f->errs.expiry_msg != NULL, expiry);
    assert_int_equal(f->errs.cvc_msg != NULL, cvc);
    assert_int_equal(f->errs.name_msg != NULL, name);
    /* nothing derived from the card is handed out for a bad form */
    assert_string_equal(f->out.masked, "");
    assert_string_equal(f->out.expiry, "");
}

static void assert_ok(const struct form *f)
{
    assert_true(f->ok);
    assert_false(f->errs.number);
    assert_false(f->errs.expiry);
    assert_false(f->errs.cvc);
    assert_false(f->errs.name);
    assert_null(f->errs.number_msg);
    assert_null(f->errs.expiry_msg);
    assert_null(f->errs.cvc_msg);
    assert_null(f->errs.name_msg);
}

static void assert_number_error(const char *number, const char *msg)
{
    struct form f = check_number(number, "123");
    assert_only_error(&f, true, false, false, false);
    assert_string_equal(f.errs.number_msg, msg);
}

static void assert_expiry_ok(const char *expiry, int now_y, int now_m, const char *want)
{
    struct form f = check_expiry(expiry, now_y, now_m);
    assert_ok(&f);
    assert_string_equal(f.out.expiry, want);
}

static void assert_expiry_error(const char *expiry, int now_y, int now_m, const char *msg)
{
    struct form f = check_expiry(expiry, now_y, now_m);
    assert_only_error(&f, false, true, false, false);
    assert_string_equal(f.errs.expiry_msg, msg);
}

static void assert_expiry2_ok(const char *month, const char *year, const char *want)
{
    struct form f = check_expiry2(month, year);
    assert_ok(&f);
    assert_string_equal(f.out.expiry, want);
}

static void assert_expiry2_error(const char *month, const char *year, const char *msg)
{
    struct form f = check_expiry2(month, year);
    assert_only_error(&f, false, true, false, false);
    assert_string_equal(f.errs.expiry_msg, msg);
}

static void assert_cvc(const char *number, const char *cvc, const char *msg)
{
    struct form f = check_number(number, cvc);
    if (msg == NULL) {
        assert_ok(&f);
        return;
    }
    assert_only_error(&f, false, false, true, false);
    assert_string_equal(f.errs.cvc_msg, msg);
}

static void assert_name_ok(const char *name)
{
    struct form f = check_name(name);
    assert_ok(&f);
}

static void assert_name_error(const char *name, const char *msg)
{
    struct form f = check_name(name);
    assert_only_error(&f, false, false, false, true);
    assert_string_equal(f.errs.name_msg, msg);
}

/* ---- the test cards ------------------------------------------------------ */

static const struct {
    const char *number;
    enum card_behaviour behaviour;
    enum card_brand brand;
    const char *masked;
    const char *cvc;
} cards[] = {
    {"4111111111111111", CARD_ACCEPT, BRAND_VISA, "411111******1111", "123"},
    {"4242424242424242", CARD_ACCEPT, BRAND_VISA, "424242******4242", "123"},
    {"5555555555554444", CARD_ACCEPT, BRAND_MASTERCARD, "555555******4444", "123"},
    {"378282246310005", CARD_ACCEPT, BRAND_AMEX, "378282*****0005", "1234"},
    {"4000000000000002", CARD_DECLINE, BRAND_VISA, "400000******0002", "123"},
    {"4000000000009995", CARD_INSUFFICIENT, BRAND_VISA, "400000******9995", "123"},
    {"4000000000000101", CARD_REVIEW, BRAND_VISA, "400000******0101", "123"},
    {"4000000000000119", CARD_ERROR, BRAND_VISA, "400000******0119", "123"},
    {"4000000000000259", CARD_TIMEOUT, BRAND_VISA, "400000******0259", "123"},
    {"4000002760003184", CARD_3DS, BRAND_VISA, "400000******3184", "123"},
    {"4000000000005126", CARD_REFUND_FAILS, BRAND_VISA, "400000******5126", "123"},
};
#define NCARDS (sizeof cards / sizeof cards[0])

/* Every listed test card is Luhn-valid (none needed an exception). */
static void test_listed_cards_pass_luhn(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCARDS; i++)
        assert_true(cards_luhn(cards[i].number));
}

static void test_every_card(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCARDS; i++) {
        struct form f = check_number(cards[i].number, cards[i].cvc);
        assert_ok(&f);
        assert_int_equal(f.out.behaviour, cards[i].behaviour);
        assert_int_equal(f.out.brand, cards[i].brand);
        assert_string_equal(f.out.masked, cards[i].masked);
        assert_string_equal(f.out.expiry, "12/2030");
    }
}

/* The cards as printed, with spaces or dashes. */
static void test_spaces_and_dashes(void **state)
{
    static const struct {
        const char *in;
        enum card_behaviour behaviour;
        const char *masked;
    } cases[] = {
        {"4111 1111 1111 1111", CARD_ACCEPT, "411111******1111"},
        {"4242-4242-4242-4242", CARD_ACCEPT, "424242******4242"},
        {"5555 5555 5555 4444", CARD_ACCEPT, "555555******4444"},
        {"3782 822463 10005", CARD_ACCEPT, "378282*****0005"},
        {"3782-822463-10005", CARD_ACCEPT, "378282*****0005"},
        {"4000 0000 0000 0002", CARD_DECLINE, "400000******0002"},
        {"4000 0000 0000 9995", CARD_INSUFFICIENT, "400000******9995"},
        {"4000 0000 0000 0101", CARD_REVIEW, "400000******0101"},
        {"4000 0000 0000 0119", CARD_ERROR, "400000******0119"},
        {"4000 0000 0000 0259", CARD_TIMEOUT, "400000******0259"},
        {"4000 0027 6000 3184", CARD_3DS, "400000******3184"},
        {"  4111111111111111  ", CARD_ACCEPT, "411111******1111"},
        {"4-1-1-1 1-1-1-1 -- 1111  1111", CARD_ACCEPT, "411111******1111"},
        {"-4000000000000259-", CARD_TIMEOUT, "400000******0259"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *cvc = cases[i].in[0] == '3' ? "1234" : "123";
        struct form f = check_number(cases[i].in, cvc);
        assert_ok(&f);
        assert_int_equal(f.out.behaviour, cases[i].behaviour);
        assert_string_equal(f.out.masked, cases[i].masked);
    }
}

/* ---- Luhn ---------------------------------------------------------------- */

static void test_luhn_known(void **state)
{
    static const char *good[] = {
        "4012888888881881",
        "5105105105105100",
        "371449635398431",
        "6011111111111117",
        "79927398713",
        "0",
        "00",
        "18",
        "059",
        "2223000048400011",
    };
    static const char *bad[] = {
        "4012888888881882", "5105105105105101", "371449635398432", "79927398710", "79927398711",
        "79927398712",      "79927398714",      "79927398719",     "1",           "10",
        "4111111111111112",
    };
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(cards_luhn(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cards_luhn(bad[i]));
}

/* Changing any one digit of a valid number by one breaks the check. */
static void test_luhn_off_by_one(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCARDS; i++) {
        char buf[20];
        size_t n = strlen(cards[i].number);
        for (size_t pos = 0; pos < n; pos++) {
            for (int delta = -1; delta <= 1; delta += 2) {
                memcpy(buf, cards[i].number, n + 1);
                int d = buf[pos] - '0' + delta;
                if (d < 0 || d > 9)
                    continue;
                buf[pos] = (char)('0' + d);
                assert_false(cards_luhn(buf));
            }
        }
    }
}

static void test_luhn_rejects(void **state)
{
    (void)state;
    assert_false(cards_luhn(NULL));
    assert_false(cards_luhn(""));
    assert_false(cards_luhn("4111 1111 1111 1111"));
    assert_false(cards_luhn("4111-1111-1111-1111"));
    assert_false(cards_luhn("411111111111111a"));
    assert_false(cards_luhn("a"));
    assert_false(cards_luhn("18 "));
    assert_false(cards_luhn("\xd9\xa1\xd9\xa8")); /* Arabic-Indic digits one, eight */
}

static void test_luhn_long(void **state)
{
    char big[10001];
    (void)state;
    memset(big, '0', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_true(cards_luhn(big));
    /* the first of 10000 digits is doubled (odd offset from the end): 1 -> 2 */
    big[0] = '1';
    assert_false(cards_luhn(big));
    big[sizeof big - 2] = '8'; /* 2 + 8 = 10 */
    assert_true(cards_luhn(big));
}

/* ---- the number field ---------------------------------------------------- */

static void test_number_off_by_one_in_form(void **state)
{
    (void)state;
    assert_number_error("4111111111111112", MSG_NUM_LUHN);
    assert_number_error("4111111111111110", MSG_NUM_LUHN);
    assert_number_error("4242424242424241", MSG_NUM_LUHN);
    assert_number_error("5555555555554445", MSG_NUM_LUHN);
    assert_number_error("4000000000000003", MSG_NUM_LUHN);
    assert_number_error("4000000000000258", MSG_NUM_LUHN);
    assert_number_error("4000 0027 6000 3185", MSG_NUM_LUHN);
    struct form f = check_number("378282246310006", "1234");
    assert_only_error(&f, true, false, false, false);
    assert_string_equal(f.errs.number_msg, MSG_NUM_LUHN);
}

static void test_number_not_a_test_card(void **state)
{
    (void)state;
    assert_number_error("4012888888881881", MSG_NUM_NOTTEST);
    assert_number_error("4012 8888 8888 1881", MSG_NUM_NOTTEST);
    assert_number_error("5105105105105100", MSG_NUM_NOTTEST);
    assert_number_error("6011111111111117", MSG_NUM_NOTTEST);
    assert_number_error("2223000048400011", MSG_NUM_NOTTEST);
    assert_number_error("000000000000", MSG_NUM_NOTTEST);        /* 12 digits */
    assert_number_error("0000000000000000000", MSG_NUM_NOTTEST); /* 19 digits */
    /* a test card with a digit more or less is not a test card */
    assert_number_error("04111111111111111", MSG_NUM_NOTTEST);
    struct form f = check_number("371449635398431", "1234");
    assert_only_error(&f, true, false, false, false);
    assert_string_equal(f.errs.number_msg, MSG_NUM_NOTTEST);
}

static void test_number_missing(void **state)
{
    (void)state;
    assert_number_error(NULL, MSG_NUM_MISSING);
    assert_number_error("", MSG_NUM_MISSING);
    assert_number_error("    ", MSG_NUM_MISSING);
    assert_number_error(" - - ", MSG_NUM_MISSING);
}

static void test_number_bad_characters(void **state)
{
    (void)state;
    assert_number_error("4111 1111 1111 111a", MSG_NUM_INVALID);
    assert_number_error("a111111111111111", MSG_NUM_INVALID);
    assert_number_error("abcd", MSG_NUM_INVALID);
    assert_number_error("4111.1111.1111.1111", MSG_NUM_INVALID);
    assert_number_error("4111_1111_1111_1111", MSG_NUM_INVALID);
    assert_number_error("4111/1111/1111/1111", MSG_NUM_INVALID);
    assert_number_error("4111\t1111\t1111\t1111", MSG_NUM_INVALID);
    assert_number_error("+4111111111111111", MSG_NUM_INVALID);
    assert_number_error("4111111111111111\n", MSG_NUM_INVALID);
    assert_number_error("\xef\xbc\x94\xef\xbc\x91", MSG_NUM_INVALID); /* fullwidth "41" */
    assert_number_error("4111111111111111\xc2\xa0", MSG_NUM_INVALID); /* no-break space */
}

static void test_number_length(void **state)
{
    char big[101];
    char huge[100001];
    (void)state;
    assert_number_error("4", MSG_NUM_INVALID);
    assert_number_error("18", MSG_NUM_INVALID);
    assert_number_error("00000000000", MSG_NUM_INVALID);          /* 11 digits */
    assert_number_error("00000000000000000000", MSG_NUM_INVALID); /* 20 digits */
    assert_number_error("411111111111111", MSG_NUM_LUHN);         /* 15 digits: length is fine */
    assert_number_error("41111111111111111", MSG_NUM_LUHN);
    /* 20 digits that start like a test card */
    assert_number_error("41111111111111111111", MSG_NUM_INVALID);
    assert_number_error("4111 1111 1111 1111 0000", MSG_NUM_INVALID);

    memset(big, '4', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_number_error(big, MSG_NUM_INVALID); /* 100 digits */
    memcpy(big, VISA, 16);                     /* a test card followed by 84 more digits */
    assert_number_error(big, MSG_NUM_INVALID);

    memset(huge, '0', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    assert_number_error(huge, MSG_NUM_INVALID);
    huge[50000] = 'x'; /* a bad character far beyond the buffer */
    assert_number_error(huge, MSG_NUM_INVALID);
    memset(huge, ' ', sizeof huge - 1); /* long, but only separators */
    assert_number_error(huge, MSG_NUM_MISSING);
    memcpy(huge + 500, VISA, 16); /* separators around a test card */
    struct form f = check_number(huge, "123");
    assert_ok(&f);
    assert_string_equal(f.out.masked, "411111******1111");
}

/* ---- brands ---------------------------------------------------------------- */

/* On a bad form out->brand still tells the brand of the number's digits. */
static void assert_brand(const char *number, enum card_brand brand)
{
    struct form f = check_number(number, brand == BRAND_AMEX ? "1234" : "123");
    assert_false(f.ok);
    assert_true(f.errs.number);
    assert_false(f.errs.cvc);
    assert_int_equal(f.out.brand, brand);
}

static void test_brands(void **state)
{
    (void)state;
    assert_brand("4000000000000000", BRAND_VISA);
    assert_brand("4999999999999999", BRAND_VISA);
    assert_brand("4012888888881881", BRAND_VISA);
    assert_brand("4", BRAND_VISA);
    assert_brand("5000000000000000", BRAND_UNKNOWN);
    assert_brand("5099999999999999", BRAND_UNKNOWN);
    assert_brand("5100000000000000", BRAND_MASTERCARD);
    assert_brand("5200000000000000", BRAND_MASTERCARD);
    assert_brand("5300000000000000", BRAND_MASTERCARD);
    assert_brand("5400000000000000", BRAND_MASTERCARD);
    assert_brand("5599999999999999", BRAND_MASTERCARD);
    assert_brand("5600000000000000", BRAND_UNKNOWN);
    assert_brand("5", BRAND_UNKNOWN);
    assert_brand("2220999999999999", BRAND_UNKNOWN);
    assert_brand("2221000000000000", BRAND_MASTERCARD);
    assert_brand("2223000048400011", BRAND_MASTERCARD);
    assert_brand("2500000000000000", BRAND_MASTERCARD);
    assert_brand("2720999999999999", BRAND_MASTERCARD);
    assert_brand("2721000000000000", BRAND_UNKNOWN);
    assert_brand("222", BRAND_UNKNOWN);
    assert_brand("340000000000000", BRAND_AMEX);
    assert_brand("370000000000000", BRAND_AMEX);
    assert_brand("371449635398431", BRAND_AMEX);
    assert_brand("3400 0000 0000 000", BRAND_AMEX);
    assert_brand("350000000000000", BRAND_UNKNOWN);
    assert_brand("360000000000000", BRAND_UNKNOWN);
    assert_brand("380000000000000", BRAND_UNKNOWN);
    assert_brand("3", BRAND_UNKNOWN);
    assert_brand("6011111111111117", BRAND_UNKNOWN);
    assert_brand("0000000000000000", BRAND_UNKNOWN);
    assert_brand("1111111111111111", BRAND_UNKNOWN);
}

static void test_brand_names(void **state)
{
    (void)state;
    assert_string_equal(cards_brand_name(BRAND_VISA), "VISA");
    assert_string_equal(cards_brand_name(BRAND_MASTERCARD), "MASTERCARD");
    assert_string_equal(cards_brand_name(BRAND_AMEX), "AMEX");
    assert_string_equal(cards_brand_name(BRAND_UNKNOWN), "UNKNOWN");
    assert_string_equal(cards_brand_name((enum card_brand)42), "UNKNOWN");
    assert_string_equal(cards_brand_name((enum card_brand) - 1), "UNKNOWN");
}

/* ---- masking ------------------------------------------------------------- */

static void test_masking(void **state)
{
    (void)state;
    /* 16 digits: 6 + 6 asterisks + 4 */
    struct form f = check_number("4242 4242 4242 4242", "123");
    assert_ok(&f);
    assert_string_equal(f.out.masked, "424242******4242");
    assert_int_equal(strlen(f.out.masked), 16);
    /* 15 digits: 6 + 5 asterisks + 4 */
    f = check_number("3782 822463 10005", "1234");
    assert_ok(&f);
    assert_string_equal(f.out.masked, "378282*****0005");
    assert_int_equal(strlen(f.out.masked), 15);
    /* the middle digits are gone */
    f = check_number("4000 0027 6000 3184", "123");
    assert_ok(&f);
    assert_null(strstr(f.out.masked, "276"));
}

/* ---- expiry -------------------------------------------------------------- */

static void test_expiry_forms(void **state)
{
    (void)state;
    assert_expiry_ok("12/30", NOW_Y, NOW_M, "12/2030");
    assert_expiry_ok("01/30", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("1/30", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("01/2030", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("1/2030", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("01 / 30", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("01 / 2030", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("01/ 30", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("01 /30", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("  07/29  ", NOW_Y, NOW_M, "07/2029");
    assert_expiry_ok("09/28", NOW_Y, NOW_M, "09/2028");
    assert_expiry_ok("10/27", NOW_Y, NOW_M, "10/2027");
    /* digits only (no slash on a phone's numeric keypad) */
    assert_expiry_ok("0130", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("1230", NOW_Y, NOW_M, "12/2030");
    assert_expiry_ok("012030", NOW_Y, NOW_M, "01/2030");
    assert_expiry_ok("122030", NOW_Y, NOW_M, "12/2030");
    assert_expiry_ok(" 0729 ", NOW_Y, NOW_M, "07/2029");
}

static void test_expiry_digits_only_checked_like_the_others(void **state)
{
    (void)state;
    assert_expiry_error("1330", NOW_Y, NOW_M, MSG_EXP_MONTH);
    assert_expiry_error("0030", NOW_Y, NOW_M, MSG_EXP_MONTH);
    assert_expiry_error("132030", NOW_Y, NOW_M, MSG_EXP_MONTH);
    assert_expiry_ok("1126", 2026, 11, "11/2026");
    assert_expiry_error("1026", 2026, 11, MSG_EXP_PAST);
    assert_expiry_error("102026", 2026, 11, MSG_EXP_PAST);
}

static void test_expiry_bad_format(void **state)
{
    static const char *bad[] = {
        "013",      "01303",   "0120300",  "0 130",  "+130",    "-130",    "12a0",   "1230x",
        "１２３０", "12 2030", "01-30",    "01.30",  "01\\30",  "/30",     "01/",    "/",
        "01/3",     "01/203",  "01/20300", "001/30", "011/30",  "ab/cd",   "1a/30",  "01/3a",
        "01/30/31", "01//30",  "o1/30",    "-1/30",  "+1/30",   "01/+30",  "01/-30", "01 30",
        "1 2/30",   "01/3 0",  "12/30x",   "x12/30", "１２/30", "12/３０",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_expiry_error(bad[i], NOW_Y, NOW_M, MSG_EXP_FORMAT);
}

static void test_expiry_missing(void **state)
{
    (void)state;
    assert_expiry_error(NULL, NOW_Y, NOW_M, MSG_EXP_MISSING);
    assert_expiry_error("", NOW_Y, NOW_M, MSG_EXP_MISSING);
    assert_expiry_error("   ", NOW_Y, NOW_M, MSG_EXP_MISSING);
}

static void test_expiry_month_range(void **state)
{
    (void)state;
    assert_expiry_error("13/30", NOW_Y, NOW_M, MSG_EXP_MONTH);
    assert_expiry_error("00/30", NOW_Y, NOW_M, MSG_EXP_MONTH);
    assert_expiry_error("0/30", NOW_Y, NOW_M, MSG_EXP_MONTH);
    assert_expiry_error("99/30", NOW_Y, NOW_M, MSG_EXP_MONTH);
    assert_expiry_error("13/2030", NOW_Y, NOW_M, MSG_EXP_MONTH);
    assert_expiry_error("00/2030", NOW_Y, NOW_M, MSG_EXP_MONTH);
    assert_expiry_ok("12/2030", NOW_Y, NOW_M, "12/2030");
    assert_expiry_ok("01/2030", NOW_Y, NOW_M, "01/2030");
}

static void test_expiry_this_month_and_last(void **state)
{
    (void)state;
    /* November 2026: November is still valid, October is not */
    assert_expiry_ok("11/26", 2026, 11, "11/2026");
    assert_expiry_ok("11/2026", 2026, 11, "11/2026");
    assert_expiry_ok("12/26", 2026, 11, "12/2026");
    assert_expiry_error("10/26", 2026, 11, MSG_EXP_PAST);
    assert_expiry_error("10/2026", 2026, 11, MSG_EXP_PAST);
    assert_expiry_error("11/25", 2026, 11, MSG_EXP_PAST);
    assert_expiry_error("12/2025", 2026, 11, MSG_EXP_PAST);
    /* across the year: in January, last December has passed */
    assert_expiry_ok("01/27", 2027, 1, "01/2027");
    assert_expiry_error("12/26", 2027, 1, MSG_EXP_PAST);
    /* in December, December counts and November does not */
    assert_expiry_ok("12/26", 2026, 12, "12/2026");
    assert_expiry_error("11/26", 2026, 12, MSG_EXP_PAST);
    assert_expiry_ok("01/27", 2026, 12, "01/2027");
    /* long past, including a 4-digit year before 2000 */
    assert_expiry_error("01/00", 2026, 11, MSG_EXP_PAST);
    assert_expiry_error("12/1999", 2026, 11, MSG_EXP_PAST);
    assert_expiry_error("01/0000", 2026, 11, MSG_EXP_PAST);
}

static void test_expiry_two_digit_years(void **state)
{
    (void)state;
    /* YY is always 20YY: "99" is 2099 (too far), not 1999 */
    assert_expiry_ok("05/40", NOW_Y, NOW_M, "05/2040");
    assert_expiry_error("05/99", NOW_Y, NOW_M, MSG_EXP_FAR);
    assert_expiry_ok("05/99", 2090, 1, "05/2099");
    assert_expiry_ok("05/00", 2000, 1, "05/2000");
}

static void test_expiry_far_future(void **state)
{
    (void)state;
    /* 2026 + 20 = 2046 is the last year taken, in any month */
    assert_expiry_ok("12/46", 2026, 11, "12/2046");
    assert_expiry_ok("12/2046", 2026, 11, "12/2046");
    assert_expiry_ok("01/2046", 2026, 11, "01/2046");
    assert_expiry_error("01/47", 2026, 11, MSG_EXP_FAR);
    assert_expiry_error("01/2047", 2026, 11, MSG_EXP_FAR);
    assert_expiry_error("12/9999", 2026, 11, MSG_EXP_FAR);
    assert_expiry_ok("12/2046", 2026, 1, "12/2046");
    assert_expiry_ok("01/2046", 2026, 12, "01/2046");
}

/* Odd values of "today" do not overflow. */
static void test_expiry_odd_today(void **state)
{
    (void)state;
    assert_expiry_error("12/30", INT32_MAX, 12, MSG_EXP_PAST);
    assert_expiry_error("12/30", INT32_MIN, 1, MSG_EXP_FAR);
    assert_expiry_error("12/30", 2026, INT32_MAX, MSG_EXP_PAST);
    struct form f = check_expiry("12/30", 2026, INT32_MIN);
    assert_ok(&f);
}

static void test_expiry_separate_fields(void **state)
{
    (void)state;
    assert_expiry2_ok("1", "2030", "01/2030");
    assert_expiry2_ok("01", "30", "01/2030");
    assert_expiry2_ok("12", "2030", "12/2030");
    assert_expiry2_ok(" 12 ", " 30 ", "12/2030");
    assert_expiry2_ok("11", "2026", "11/2026"); /* this month */
    assert_expiry2_ok("12", "2046", "12/2046");
    assert_expiry2_error("10", "2026", MSG_EXP_PAST); /* last month */
    assert_expiry2_error("10", "26", MSG_EXP_PAST);
    assert_expiry2_error("13", "2030", MSG_EXP_MONTH);
    assert_expiry2_error("00", "2030", MSG_EXP_MONTH);
    assert_expiry2_error("0", "30", MSG_EXP_MONTH);
    assert_expiry2_error("01", "2047", MSG_EXP_FAR);
    assert_expiry2_error("001", "2030", MSG_EXP_FORMAT);
    assert_expiry2_error("01", "203", MSG_EXP_FORMAT);
    assert_expiry2_error("01", "3", MSG_EXP_FORMAT);
    assert_expiry2_error("01", "20300", MSG_EXP_FORMAT);
    assert_expiry2_error("1a", "2030", MSG_EXP_FORMAT);
    assert_expiry2_error("01", "x030", MSG_EXP_FORMAT);
    assert_expiry2_error("01/", "30", MSG_EXP_FORMAT);
    assert_expiry2_error("-1", "30", MSG_EXP_FORMAT);
    /* one of the two given */
    assert_expiry2_error("01", NULL, MSG_EXP_FORMAT);
    assert_expiry2_error(NULL, "2030", MSG_EXP_FORMAT);
    assert_expiry2_error("01", "", MSG_EXP_FORMAT);
    assert_expiry2_error("", "2030", MSG_EXP_FORMAT);
    /* both blank and no combined field */
    assert_expiry2_error("", "", MSG_EXP_MISSING);
    assert_expiry2_error(" ", NULL, MSG_EXP_MISSING);
}

/* The separate fields win over the combined one when given; blank ones are
 * as good as absent. */
static void test_expiry_field_choice(void **state)
{
    (void)state;
    struct form f = check("A", VISA, "01/27", "02", "2028", "123", NOW_Y, NOW_M);
    assert_ok(&f);
    assert_string_equal(f.out.expiry, "02/2028");
    f = check("A", VISA, "01/27", "13", "2028", "123", NOW_Y, NOW_M);
    assert_only_error(&f, false, true, false, false);
    assert_string_equal(f.errs.expiry_msg, MSG_EXP_MONTH);
    f = check("A", VISA, "01/27", "", "", "123", NOW_Y, NOW_M);
    assert_ok(&f);
    assert_string_equal(f.out.expiry, "01/2027");
    f = check("A", VISA, "garbage", NULL, NULL, "123", NOW_Y, NOW_M);
    assert_only_error(&f, false, true, false, false);
    assert_string_equal(f.errs.expiry_msg, MSG_EXP_FORMAT);
}

static void test_expiry_long_input(void **state)
{
    char big[4097];
    (void)state;
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_expiry_error(big, NOW_Y, NOW_M, MSG_EXP_FORMAT);
    big[2] = '/';
    assert_expiry_error(big, NOW_Y, NOW_M, MSG_EXP_FORMAT);
    assert_expiry2_error(big, "2030", MSG_EXP_FORMAT);
    assert_expiry2_error("01", big, MSG_EXP_FORMAT);
}

/* ---- CVC ------------------------------------------------------------------ */

static void test_cvc(void **state)
{
    (void)state;
    assert_cvc(VISA, "123", NULL);
    assert_cvc(VISA, "000", NULL);
    assert_cvc(VISA, " 999 ", NULL);
    assert_cvc("5555555555554444", "321", NULL);
    assert_cvc(VISA, "12", MSG_CVC_3);
    assert_cvc(VISA, "1", MSG_CVC_3);
    assert_cvc(VISA, "1234", MSG_CVC_3);
    assert_cvc("5555555555554444", "1234", MSG_CVC_3);
    assert_cvc(VISA, "12a", MSG_CVC_3);
    assert_cvc(VISA, "abc", MSG_CVC_3);
    assert_cvc(VISA, "1 3", MSG_CVC_3);
    assert_cvc(VISA, "-12", MSG_CVC_3);
    assert_cvc(VISA, "１２３", MSG_CVC_3); /* fullwidth digits */
    assert_cvc(VISA, "", MSG_CVC_MISSING);
    assert_cvc(VISA, "   ", MSG_CVC_MISSING);
    assert_cvc(VISA, NULL, MSG_CVC_MISSING);
}

static void test_cvc_amex(void **state)
{
    (void)state;
    assert_cvc(AMEX, "1234", NULL);
    assert_cvc("3782 822463 10005", "0000", NULL);
    assert_cvc(AMEX, "123", MSG_CVC_4);
    assert_cvc(AMEX, "12345", MSG_CVC_4);
    assert_cvc(AMEX, "12a4", MSG_CVC_4);
    assert_cvc(AMEX, NULL, MSG_CVC_MISSING);
}

/* When the number cannot be read the brand is unknown: 3 or 4 digits do. */
static void test_cvc_unknown_brand(void **state)
{
    (void)state;
    struct form f = check_number("abc", "123");
    assert_only_error(&f, true, false, false, false);
    f = check_number(NULL, "1234");
    assert_only_error(&f, true, false, false, false);
    assert_int_equal(f.out.brand, BRAND_UNKNOWN);
    f = check_number("abc", "12");
    assert_only_error(&f, true, false, true, false);
    assert_string_equal(f.errs.cvc_msg, MSG_CVC_ANY);
    f = check_number("", "12345");
    assert_only_error(&f, true, false, true, false);
    assert_string_equal(f.errs.cvc_msg, MSG_CVC_ANY);
    /* a readable but wrong number still has a brand: Amex wants 4 */
    f = check_number("3782822463", "123");
    assert_only_error(&f, true, false, true, false);
    assert_string_equal(f.errs.cvc_msg, MSG_CVC_4);
    /* an unknown brand with readable digits wants 3 */
    f = check_number("6011111111111117", "1234");
    assert_only_error(&f, true, false, true, false);
    assert_string_equal(f.errs.cvc_msg, MSG_CVC_3);
}

static void test_cvc_long_input(void **state)
{
    char big[1001];
    (void)state;
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_cvc(VISA, big, MSG_CVC_3);
    assert_cvc(AMEX, big, MSG_CVC_4);
}

/* ---- name ------------------------------------------------------------------ */

static void test_name(void **state)
{
    char buf[512];
    (void)state;
    assert_name_ok("Ada Lovelace");
    assert_name_ok("A");
    assert_name_ok("  Zoë O'Brien-Núñez  ");
    assert_name_ok("山田 太郎");
    assert_name_error(NULL, MSG_NAME_EMPTY);
    assert_name_error("", MSG_NAME_EMPTY);
    assert_name_error("    ", MSG_NAME_EMPTY);
    assert_name_error(" \t\r\n ", MSG_NAME_EMPTY);

    /* 100 ASCII characters fine, 101 not */
    memset(buf, 'a', 100);
    buf[100] = '\0';
    assert_name_ok(buf);
    buf[100] = 'a';
    buf[101] = '\0';
    assert_name_error(buf, MSG_NAME_LONG);
    /* surrounding blanks do not count */
    memset(buf, ' ', 50);
    memset(buf + 50, 'b', 100);
    memset(buf + 150, ' ', 50);
    buf[200] = '\0';
    assert_name_ok(buf);
}

static void fill_utf8(char *buf, const char *ch, size_t count)
{
    size_t n = strlen(ch), k = 0;
    for (size_t i = 0; i < count; i++, k += n)
        memcpy(buf + k, ch, n);
    buf[k] = '\0';
}

/* The limit counts characters, not bytes; 100 characters are at most 400 bytes. */
static void test_name_multibyte(void **state)
{
    char buf[1024];
    (void)state;
    fill_utf8(buf, "\xc3\xa9", 100); /* é: 200 bytes */
    assert_name_ok(buf);
    fill_utf8(buf, "\xc3\xa9", 101);
    assert_name_error(buf, MSG_NAME_LONG);
    fill_utf8(buf, "\xe5\xb1\xb1", 100); /* 山: 300 bytes */
    assert_name_ok(buf);
    fill_utf8(buf, "\xf0\x9f\x98\x80", 100); /* U+1F600: 400 bytes */
    assert_int_equal(strlen(buf), 400);
    assert_name_ok(buf);
    fill_utf8(buf, "\xf0\x9f\x98\x80", 101); /* 404 bytes */
    assert_name_error(buf, MSG_NAME_LONG);
    fill_utf8(buf, "\xf0\x9f\x98\x80", 100);
    buf[400] = 'a'; /* 401 bytes, 101 characters */
    buf[401] = '\0';
    assert_name_error(buf, MSG_NAME_LONG);
}

static void test_name_bad_characters(void **state)
{
    char big[100001];
    (void)state;
    assert_name_error("Ada\nLovelace", MSG_NAME_CHARS);
    assert_name_error("Ada\tLovelace", MSG_NAME_CHARS);
    assert_name_error("Ada\x1b[31m", MSG_NAME_CHARS);
    assert_name_error("Ada\x7f", MSG_NAME_CHARS);
    assert_name_error("Ada\xc2\x85", MSG_NAME_CHARS); /* U+0085 NEL */
    assert_name_error("Ada \xff", MSG_NAME_CHARS);
    assert_name_error("Ada \xc3", MSG_NAME_CHARS);     /* truncated */
    assert_name_error("Ada \xc0\xa0", MSG_NAME_CHARS); /* overlong */
    assert_name_error("\xed\xa0\x80", MSG_NAME_CHARS); /* surrogate */
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_name_error(big, MSG_NAME_LONG);
}

/* ---- whole forms ------------------------------------------------------------ */

static void test_multiple_errors(void **state)
{
    (void)state;
    struct form f = check("", "4111111111111112", "13/30", NULL, NULL, "12", NOW_Y, NOW_M);
    assert_only_error(&f, true, true, true, true);
    assert_string_equal(f.errs.number_msg, MSG_NUM_LUHN);
    assert_string_equal(f.errs.expiry_msg, MSG_EXP_MONTH);
    assert_string_equal(f.errs.cvc_msg, MSG_CVC_3);
    assert_string_equal(f.errs.name_msg, MSG_NAME_EMPTY);

    f = check("Ada", "4012888888881881", "10/26", NULL, NULL, "1234", NOW_Y, NOW_M);
    assert_only_error(&f, true, true, true, false);
    assert_string_equal(f.errs.number_msg, MSG_NUM_NOTTEST);
    assert_string_equal(f.errs.expiry_msg, MSG_EXP_PAST);
    assert_string_equal(f.errs.cvc_msg, MSG_CVC_3);

    f = check("Ada", AMEX, "12/30", NULL, NULL, "123", NOW_Y, NOW_M);
    assert_only_error(&f, false, false, true, false);
    f = check("Ada\n", VISA, "12/30", NULL, NULL, "123", NOW_Y, NOW_M);
    assert_ok(&f); /* a trailing newline is a blank and is trimmed */
    f = check("A\nB", VISA, "12.30", NULL, NULL, "123", NOW_Y, NOW_M);
    assert_only_error(&f, false, true, false, true);
}

static void test_all_null(void **state)
{
    (void)state;
    struct form f = check(NULL, NULL, NULL, NULL, NULL, NULL, NOW_Y, NOW_M);
    assert_only_error(&f, true, true, true, true);
    assert_string_equal(f.errs.cvc_msg, MSG_CVC_MISSING);
    assert_string_equal(f.errs.number_msg, MSG_NUM_MISSING);
    assert_string_equal(f.errs.expiry_msg, MSG_EXP_MISSING);
    assert_string_equal(f.errs.name_msg, MSG_NAME_EMPTY);
    assert_int_equal(f.out.brand, BRAND_UNKNOWN);
}

static void test_null_outputs(void **state)
{
    struct card_check out;
    struct card_errors errs;
    (void)state;
    assert_true(cards_check("A", VISA, "12/30", NULL, NULL, "123", NOW_Y, NOW_M, NULL, NULL));
    assert_false(cards_check("A", "x", "12/30", NULL, NULL, "123", NOW_Y, NOW_M, NULL, NULL));
    assert_true(cards_check("A", VISA, "12/30", NULL, NULL, "123", NOW_Y, NOW_M, &out, NULL));
    assert_string_equal(out.masked, "411111******1111");
    assert_false(cards_check("A", "x", "12/30", NULL, NULL, "123", NOW_Y, NOW_M, NULL, &errs));
    assert_true(errs.number);
}

/* A good form after a bad one (and the other way round) leaves nothing stale. */
static void test_outputs_overwritten(void **state)
{
    struct card_check out;
    struct card_errors errs;
    (void)state;
    assert_false(cards_check("", "x", "", NULL, NULL, "", NOW_Y, NOW_M, &out, &errs));
    assert_true(errs.number && errs.expiry && errs.cvc && errs.name);
    assert_true(cards_check("A", AMEX, "12/30", NULL, NULL, "1234", NOW_Y, NOW_M, &out, &errs));
    assert_false(errs.number || errs.expiry || errs.cvc || errs.name);
    assert_null(errs.number_msg);
    assert_int_equal(out.brand, BRAND_AMEX);
    assert_false(cards_check("A", AMEX, "12/30", NULL, NULL, "123", NOW_Y, NOW_M, &out, &errs));
    assert_string_equal(out.masked, "");
    assert_string_equal(out.expiry, "");
    assert_int_equal(out.behaviour, CARD_ACCEPT);
}

/* ---- wipe ------------------------------------------------------------------- */

static void test_wipe(void **state)
{
    char buf[32];
    unsigned char *heap = malloc(64);
    (void)state;
    assert_non_null(heap);
    memcpy(buf, "4111111111111111", 17);
    cards_wipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    memset(heap, 0x5A, 64);
    cards_wipe(heap + 8, 16); /* only the given range */
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(heap[i], i >= 8 && i < 24 ? 0 : 0x5A);
    free(heap);
    cards_wipe(NULL, 0);
    cards_wipe(NULL, 16);
    cards_wipe(buf, 0);
}

/* Only the refund-failing card's refunds fail, by its masked number. */
static void test_refunds_fail(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCARDS; i++)
        assert_int_equal(cards_refunds_fail(cards[i].masked),
                         cards[i].behaviour == CARD_REFUND_FAILS);
    assert_false(cards_refunds_fail(NULL));
    assert_false(cards_refunds_fail(""));
    assert_false(cards_refunds_fail("400000******512"));
}

/* Digits from Arabic and fullwidth keyboards become ASCII, in place, the
 * rest is kept, and the freed tail is wiped (it held card digits). */
static void test_ascii_digits(void **state)
{
    (void)state;
    char buf[64];
    /* ٤١١١ ١١١١ (Arabic-Indic), then ۱۲/۳۰ (Extended), then ４２ (fullwidth) */
    strcpy(buf, "\xd9\xa4\xd9\xa1\xd9\xa1\xd9\xa1 \xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1");
    size_t before = strlen(buf);
    cards_ascii_digits(buf);
    assert_string_equal(buf, "4111 1111");
    for (size_t i = strlen(buf); i <= before; i++)
        assert_int_equal(buf[i], 0);
    strcpy(buf, "\xdb\xb1\xdb\xb2/\xdb\xb3\xdb\xb0");
    cards_ascii_digits(buf);
    assert_string_equal(buf, "12/30");
    strcpy(buf, "\xef\xbc\x94\xef\xbc\x92x");
    cards_ascii_digits(buf);
    assert_string_equal(buf, "42x");
    /* other letters, a cut sequence and ASCII stay as they are */
    strcpy(buf, "4111-\xd9\xaa\xd9\xef\xbc\xc3\xa9");
    cards_ascii_digits(buf);
    assert_string_equal(buf, "4111-\xd9\xaa\xd9\xef\xbc\xc3\xa9");
    cards_ascii_digits(NULL);
    /* and what it gives passes the card check */
    strcpy(buf, "\xd9\xa4\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1"
                "\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1");
    cards_ascii_digits(buf);
    assert_string_equal(buf, "4111111111111111");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refunds_fail),
        cmocka_unit_test(test_listed_cards_pass_luhn),
        cmocka_unit_test(test_every_card),
        cmocka_unit_test(test_spaces_and_dashes),
        cmocka_unit_test(test_luhn_known),
        cmocka_unit_test(test_luhn_off_by_one),
        cmocka_unit_test(test_luhn_rejects),
        cmocka_unit_test(test_luhn_long),
        cmocka_unit_test(test_number_off_by_one_in_form),
        cmocka_unit_test(test_number_not_a_test_card),
        cmocka_unit_test(test_number_missing),
        cmocka_unit_test(test_number_bad_characters),
        cmocka_unit_test(test_number_length),
        cmocka_unit_test(test_brands),
        cmocka_unit_test(test_brand_names),
        cmocka_unit_test(test_masking),
        cmocka_unit_test(test_expiry_forms),
        cmocka_unit_test(test_expiry_digits_only_checked_like_the_others),
        cmocka_unit_test(test_expiry_bad_format),
        cmocka_unit_test(test_expiry_missing),
        cmocka_unit_test(test_expiry_month_range),
        cmocka_unit_test(test_expiry_this_month_and_last),
        cmocka_unit_test(test_expiry_two_digit_years),
        cmocka_unit_test(test_expiry_far_future),
        cmocka_unit_test(test_expiry_odd_today),
        cmocka_unit_test(test_expiry_separate_fields),
        cmocka_unit_test(test_expiry_field_choice),
        cmocka_unit_test(test_expiry_long_input),
        cmocka_unit_test(test_cvc),
        cmocka_unit_test(test_cvc_amex),
        cmocka_unit_test(test_cvc_unknown_brand),
        cmocka_unit_test(test_cvc_long_input),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_name_multibyte),
        cmocka_unit_test(test_name_bad_characters),
        cmocka_unit_test(test_multiple_errors),
        cmocka_unit_test(test_all_null),
        cmocka_unit_test(test_null_outputs),
        cmocka_unit_test(test_outputs_overwritten),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_ascii_digits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
