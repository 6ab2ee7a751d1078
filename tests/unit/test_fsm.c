/*
 * test_fsm.c — unit tests for core/link_fsm.c and core/payment_fsm.c: every
 * (state, event) pair of both tables against an expected table written here
 * in a notation of its own:
 *
 *   ">NAME"  move to state NAME      "="  stay (history only)
 *   "-"      ignore                  "!k" refuse with message k (below)
 *
 * plus the status mappings and names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/link_fsm.h"
#include "core/payment_fsm.h"
#include "core/status.h"

/* ---- links ---------------------------------------------------------------------------- */

static const char *const link_messages[] = {
    ['o'] = "The payment link has been opened by the customer and can no longer be cancelled",
    ['c'] = "The payment link is already cancelled",
    ['x'] = "The payment link has expired",
    ['u'] = "The payment link could not be sent and can no longer be used",
    ['C'] = "The payment link was cancelled",
};

/* columns: SENT, SEND_FAILED, DELIVERED, DELIVERY_FAILED, OPEN, CANCEL, EXPIRE */
static const char *const link_expected[LINK_STATE_COUNT][LINK_EVENT_COUNT] = {
    [LINK_S_REQUESTED] = {">SENT", ">SEND_FAILED", "=", "=", ">OPENED", ">CANCELLED", ">EXPIRED"},
    [LINK_S_SENT] = {"=", "=", ">DELIVERED", ">UNDELIVERED", ">OPENED", ">CANCELLED", ">EXPIRED"},
    [LINK_S_DELIVERED] = {"=", "=", "=", "=", ">OPENED", ">CANCELLED", ">EXPIRED"},
    [LINK_S_UNDELIVERED] = {"=", "=", ">DELIVERED", "=", ">OPENED", ">CANCELLED", ">EXPIRED"},
    [LINK_S_OPENED] = {"=", "=", "=", "=", "-", "!o", ">EXPIRED"},
    [LINK_S_SEND_FAILED] = {"=", "=", "=", "=", "!u", "!u", "-"},
    [LINK_S_CANCELLED] = {"=", "=", "=", "=", "!C", "!c", "-"},
    [LINK_S_EXPIRED] = {"=", "=", "=", "=", "!x", "!x", "-"},
};

static enum link_state link_state_named(const char *name)
{
    for (int s = 0; s < LINK_STATE_COUNT; s++)
        if (strcmp(link_state_name((enum link_state)s), name) == 0)
            return (enum link_state)s;
    fail_msg("no link state %s", name);
    return LINK_S_REQUESTED;
}

static void test_link_every_pair(void **state)
{
    int pairs = 0;
    for (int s = 0; s < LINK_STATE_COUNT; s++) {
        for (int e = 0; e < LINK_EVENT_COUNT; e++) {
            const char *want = link_expected[s][e];
            const struct link_rule *r = link_fsm((enum link_state)s, (enum link_event)e);
            char where[80];
            snprintf(where, sizeof where, "%s + %s", link_state_name((enum link_state)s),
                     link_event_name((enum link_event)e));
            switch (want[0]) {
            case '>':
                if (r->verdict != FSM_MOVE || r->next != link_state_named(want + 1))
                    fail_msg("%s: want move to %s", where, want + 1);
                break;
            case '=':
                if (r->verdict != FSM_STAY)
                    fail_msg("%s: want stay", where);
                break;
            case '-':
                if (r->verdict != FSM_IGNORE)
                    fail_msg("%s: want ignore", where);
                break;
            case '!':
                if (r->verdict != FSM_REFUSE || !r->reason ||
                    strcmp(r->reason, link_messages[(unsigned char)want[1]]) != 0)
                    fail_msg("%s: want refusal \"%s\", got \"%s\"", where,
                             link_messages[(unsigned char)want[1]], r->reason ? r->reason : "");
                break;
            default:
                fail_msg("bad expectation %s", want);
            }
            pairs++;
        }
    }
    assert_int_equal(pairs, 8 * 7);
}

static void test_link_final_states(void **state)
{
    for (int s = 0; s < LINK_STATE_COUNT; s++) {
        bool final = s == LINK_S_SEND_FAILED || s == LINK_S_CANCELLED || s == LINK_S_EXPIRED;
        assert_int_equal(link_state_final((enum link_state)s), final);
        /* a final state is never left */
        for (int e = 0; e < LINK_EVENT_COUNT; e++)
            if (final)
                assert_int_not_equal(link_fsm((enum link_state)s, (enum link_event)e)->verdict,
                                     FSM_MOVE);
    }
}

static void test_link_status_mapping(void **state)
{
    static const struct {
        enum link_state s;
        int status;
    } map[] = {
        {LINK_S_REQUESTED, LINK_PAYMENT_LINK_REQUEST_RECEIVED},
        {LINK_S_SENT, LINK_PAYMENT_LINK_SENT},
        {LINK_S_DELIVERED, LINK_PAYMENT_LINK_DELIVERED},
        {LINK_S_UNDELIVERED, LINK_PAYMENT_LINK_DELIVERY_FAILED},
        {LINK_S_OPENED, LINK_PAYMENT_LINK_CLICKED},
        {LINK_S_SEND_FAILED, LINK_PAYMENT_LINK_SENT_FAILED},
        {LINK_S_CANCELLED, LINK_PAYMENT_LINK_CANCELLED},
        {LINK_S_EXPIRED, LINK_PAYMENT_URL_EXPIRED},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        assert_int_equal(link_state_status(map[i].s), map[i].status);
        assert_int_equal(link_state_from_status(map[i].status), map[i].s);
    }
    /* statuses that are no state's (history only) */
    assert_int_equal(link_state_from_status(LINK_PAYMENT_STATUS_RECEIVED), LINK_S_REQUESTED);
    assert_int_equal(link_state_from_status(0), LINK_S_REQUESTED);
    assert_int_equal(link_event_status(LINK_E_SENT), LINK_PAYMENT_LINK_SENT);
    assert_int_equal(link_event_status(LINK_E_SEND_FAILED), LINK_PAYMENT_LINK_SENT_FAILED);
    assert_int_equal(link_event_status(LINK_E_DELIVERED), LINK_PAYMENT_LINK_DELIVERED);
    assert_int_equal(link_event_status(LINK_E_DELIVERY_FAILED), LINK_PAYMENT_LINK_DELIVERY_FAILED);
    assert_int_equal(link_event_status(LINK_E_OPEN), LINK_PAYMENT_LINK_CLICKED);
    assert_int_equal(link_event_status(LINK_E_CANCEL), LINK_PAYMENT_LINK_CANCELLED);
    assert_int_equal(link_event_status(LINK_E_EXPIRE), LINK_PAYMENT_URL_EXPIRED);
    /* out of range */
    assert_int_equal(link_fsm(LINK_STATE_COUNT, LINK_E_SENT)->verdict, FSM_REFUSE);
    assert_int_equal(link_fsm(LINK_S_SENT, LINK_EVENT_COUNT)->verdict, FSM_REFUSE);
}

/* ---- payments ------------------------------------------------------------------------- */

static const char *const pay_messages[] = {
    ['p'] = "The payment has been made already",
    ['k'] = "The payment is being confirmed",
    ['r'] = "The payment is under review",
    ['m'] = "The payment was cancelled by the merchant",
    ['c'] = "There is no successful payment to capture (payment status is %s)",
    ['v'] = "There is no successful payment to reverse (payment status is %s)",
    ['R'] = "The payment has already been reversed",
    ['V'] = "The payment has already been voided",
};

/* columns: BEGIN, NO_ANSWER, ACCEPTED, HELD, DECLINED, REVIEW_ACCEPTED, REVIEW_DECLINED,
 *          CAPTURE, REVERSE, CAPTURED, REVERSED, VOIDED, ABANDONED
 * rows: payment status id - 1 (SUCCESS, FAILED, PENDING, UNKNOWN, REVIEW, REVERSED, VOIDED) */
static const char *const pay_expected[7][PAY_EVENT_COUNT] = {
    /* SUCCESS */
    {"!p", "-", "!p", "!p", "=", "-", "-", "=", "=", "=", ">REVERSED", ">VOIDED", "-"},
    /* FAILED */
    {"=", ">UNKNOWN", ">SUCCESS", ">REVIEW", ">FAILED", "-", "-", "!c", "!v", "-", "-", "-", "-"},
    /* PENDING */
    {"=", ">UNKNOWN", ">SUCCESS", ">REVIEW", ">FAILED", "-", "-", "!c", "!v", "-", "-", "-", "-"},
    /* UNKNOWN */
    {"!k", "-", ">SUCCESS", ">REVIEW", ">FAILED", "-", "-", "!c", "!v", "-", "-", "-", ">FAILED"},
    /* REVIEW */
    {"!r", "-", "!r", "!r", "=", ">SUCCESS", ">FAILED", "!c", "!v", "-", ">REVERSED", "-", "-"},
    /* REVERSED */
    {"!m", "-", "!m", "!m", "=", "-", "-", "!R", "!R", "-", "-", "-", "-"},
    /* VOIDED */
    {"!m", "-", "!m", "!m", "=", "-", "-", "!V", "!V", "-", "-", "-", "-"},
};

static int pay_status_named(const char *name)
{
    for (int s = PAY_STATUS_MIN; s <= PAY_STATUS_MAX; s++)
        if (strcmp(payment_status_name(s), name) == 0)
            return s;
    fail_msg("no payment status %s", name);
    return 0;
}

static void test_payment_every_pair(void **state)
{
    int pairs = 0;
    for (int s = PAY_STATUS_MIN; s <= PAY_STATUS_MAX; s++) {
        for (int e = 0; e < PAY_EVENT_COUNT; e++) {
            const char *want = pay_expected[s - 1][e];
            const struct pay_rule *r = payment_fsm(s, (enum pay_event)e);
            char where[80];
            snprintf(where, sizeof where, "%s + %s", payment_status_name(s),
                     pay_event_name((enum pay_event)e));
            switch (want[0]) {
            case '>':
                if (r->verdict != FSM_MOVE || r->next != pay_status_named(want + 1))
                    fail_msg("%s: want move to %s", where, want + 1);
                break;
            case '=':
                if (r->verdict != FSM_STAY)
                    fail_msg("%s: want stay", where);
                break;
            case '-':
                if (r->verdict != FSM_IGNORE)
                    fail_msg("%s: want ignore", where);
                break;
            case '!':
                if (r->verdict != FSM_REFUSE || !r->reason ||
                    strcmp(r->reason, pay_messages[(unsigned char)want[1]]) != 0)
                    fail_msg("%s: want refusal \"%s\", got \"%s\"", where,
                             pay_messages[(unsigned char)want[1]], r->reason ? r->reason : "");
                break;
            default:
                fail_msg("bad expectation %s", want);
            }
            pairs++;
        }
    }
    assert_int_equal(pairs, 7 * 13);
}

static void test_payment_out_of_range(void **state)
{
    assert_int_equal(payment_fsm(0, PAY_E_BEGIN)->verdict, FSM_REFUSE);
    assert_int_equal(payment_fsm(8, PAY_E_BEGIN)->verdict, FSM_REFUSE);
    assert_int_equal(payment_fsm(PAY_SUCCESS, PAY_EVENT_COUNT)->verdict, FSM_REFUSE);
    assert_string_equal(pay_event_name(PAY_E_ABANDONED), "ABANDONED");
    assert_string_equal(pay_event_name(PAY_EVENT_COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_every_pair),      cmocka_unit_test(test_link_final_states),
        cmocka_unit_test(test_link_status_mapping),  cmocka_unit_test(test_payment_every_pair),
        cmocka_unit_test(test_payment_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
