/*
 * payment_fsm.c — the payment's status table (see payment_fsm.h).
 */
#include "core/payment_fsm.h"

#include "core/status.h"

#define MOVE(to)                                                                                   \
    {                                                                                              \
        FSM_MOVE, (to), NULL                                                                       \
    }
#define STAY                                                                                       \
    {                                                                                              \
        FSM_STAY, 0, NULL                                                                          \
    }
#define IGNORE                                                                                     \
    {                                                                                              \
        FSM_IGNORE, 0, NULL                                                                        \
    }
#define REFUSE(why)                                                                                \
    {                                                                                              \
        FSM_REFUSE, 0, (why)                                                                       \
    }

static const char paid[] = "The payment has been made already";
static const char confirming[] = "The payment is being confirmed";
static const char reviewed[] = "The payment is under review";
static const char returned[] = "The payment was cancelled by the merchant";
static const char not_capturable[] = "There is no successful payment to capture (payment status "
                                     "is %s)";
static const char not_reversible[] = "There is no successful payment to reverse (payment status "
                                     "is %s)";
static const char was_reversed[] = "The payment has already been reversed";
static const char was_voided[] = "The payment has already been voided";

/* [status - 1][event] */
static const struct pay_rule rules[PAY_STATUS_MAX][PAY_EVENT_COUNT] =
    {
        [PAY_PENDING - 1] =
            {
                [PAY_E_BEGIN] = STAY,
                [PAY_E_NO_ANSWER] = MOVE(PAY_UNKNOWN),
                [PAY_E_ACCEPTED] = MOVE(PAY_SUCCESS),
                [PAY_E_HELD] = MOVE(PAY_REVIEW),
                [PAY_E_DECLINED] = MOVE(PAY_FAILED),
                [PAY_E_REVIEW_ACCEPTED] = IGNORE,
                [PAY_E_REVIEW_DECLINED] = IGNORE,
                [PAY_E_CAPTURE] = REFUSE(not_capturable),
                [PAY_E_REVERSE] = REFUSE(not_reversible),
                [PAY_E_CAPTURED] = IGNORE,
                [PAY_E_REVERSED] = IGNORE,
                [PAY_E_VOIDED] = IGNORE,
                [PAY_E_ABANDONED] = IGNORE,
            },
        [PAY_FAILED - 1] =
            {
                [PAY_E_BEGIN] = STAY, /* another card */
                [PAY_E_NO_ANSWER] = MOVE(PAY_UNKNOWN),
                [PAY_E_ACCEPTED] = MOVE(PAY_SUCCESS),
                [PAY_E_HELD] = MOVE(PAY_REVIEW),
                [PAY_E_DECLINED] = MOVE(PAY_FAILED),
                [PAY_E_REVIEW_ACCEPTED] = IGNORE,
                [PAY_E_REVIEW_DECLINED] = IGNORE,
                [PAY_E_CAPTURE] = REFUSE(not_capturable),
                [PAY_E_REVERSE] = REFUSE(not_reversible),
                [PAY_E_CAPTURED] = IGNORE,
                [PAY_E_REVERSED] = IGNORE,
                [PAY_E_VOIDED] = IGNORE,
                [PAY_E_ABANDONED] = IGNORE,
            },
        [PAY_UNKNOWN - 1] =
            {
                [PAY_E_BEGIN] = REFUSE(confirming),
                [PAY_E_NO_ANSWER] = IGNORE,
                [PAY_E_ACCEPTED] = MOVE(PAY_SUCCESS),
                [PAY_E_HELD] = MOVE(PAY_REVIEW),
                [PAY_E_DECLINED] = MOVE(PAY_FAILED),
                [PAY_E_REVIEW_ACCEPTED] = IGNORE,
                [PAY_E_REVIEW_DECLINED] = IGNORE,
                [PAY_E_CAPTURE] = REFUSE(not_capturable),
                [PAY_E_REVERSE] = REFUSE(not_reversible),
                [PAY_E_CAPTURED] = IGNORE,
                [PAY_E_REVERSED] = IGNORE,
                [PAY_E_VOIDED] = IGNORE,
                [PAY_E_ABANDONED] = MOVE(PAY_FAILED),
            },
        [PAY_SUCCESS - 1] =
            {
                [PAY_E_BEGIN] = REFUSE(paid),
                [PAY_E_NO_ANSWER] = IGNORE,
                [PAY_E_ACCEPTED] = REFUSE(paid), /* a second payment: returned */
                [PAY_E_HELD] = REFUSE(paid),
                [PAY_E_DECLINED] = STAY, /* a stray attempt's decline: history only */
                [PAY_E_REVIEW_ACCEPTED] = IGNORE,
                [PAY_E_REVIEW_DECLINED] = IGNORE,
                [PAY_E_CAPTURE] = STAY,
                [PAY_E_REVERSE] = STAY,
                [PAY_E_CAPTURED] = STAY,
                [PAY_E_REVERSED] = MOVE(PAY_REVERSED),
                [PAY_E_VOIDED] = MOVE(PAY_VOIDED),
                [PAY_E_ABANDONED] = IGNORE,
            },
        [PAY_REVIEW - 1] =
            {
                [PAY_E_BEGIN] = REFUSE(reviewed),
                [PAY_E_NO_ANSWER] = IGNORE,
                [PAY_E_ACCEPTED] = REFUSE(reviewed),
                [PAY_E_HELD] = REFUSE(reviewed),
                [PAY_E_DECLINED] = STAY,
                [PAY_E_REVIEW_ACCEPTED] = MOVE(PAY_SUCCESS),
                [PAY_E_REVIEW_DECLINED] = MOVE(PAY_FAILED),
                [PAY_E_CAPTURE] = REFUSE(not_capturable),
                [PAY_E_REVERSE] = REFUSE(not_reversible),
                [PAY_E_CAPTURED] = IGNORE,
                [PAY_E_REVERSED] = MOVE(PAY_REVERSED), /* paymentReviewAutoReversal */
                [PAY_E_VOIDED] = IGNORE,
                [PAY_E_ABANDONED] = IGNORE,
            },
        [PAY_REVERSED - 1] =
            {
                [PAY_E_BEGIN] = REFUSE(returned),
                [PAY_E_NO_ANSWER] = IGNORE,
                [PAY_E_ACCEPTED] = REFUSE(returned),
                [PAY_E_HELD] = REFUSE(returned),
                [PAY_E_DECLINED] = STAY,
                [PAY_E_REVIEW_ACCEPTED] = IGNORE,
                [PAY_E_REVIEW_DECLINED] = IGNORE,
                [PAY_E_CAPTURE] = REFUSE(was_reversed),
                [PAY_E_REVERSE] = REFUSE(was_reversed),
                [PAY_E_CAPTURED] = IGNORE,
                [PAY_E_REVERSED] = IGNORE,
                [PAY_E_VOIDED] = IGNORE,
                [PAY_E_ABANDONED] = IGNORE,
            },
        [PAY_VOIDED - 1] =
            {
                [PAY_E_BEGIN] = REFUSE(returned),
                [PAY_E_NO_ANSWER] = IGNORE,
                [PAY_E_ACCEPTED] = REFUSE(returned),
                [PAY_E_HELD] = REFUSE(returned),
                [PAY_E_DECLINED] = STAY,
                [PAY_E_REVIEW_ACCEPTED] = IGNORE,
                [PAY_E_REVIEW_DECLINED] = IGNORE,
                [PAY_E_CAPTURE] = REFUSE(was_voided),
                [PAY_E_REVERSE] = REFUSE(was_voided),
                [PAY_E_CAPTURED] = IGNORE,
                [PAY_E_REVERSED] = IGNORE,
                [PAY_E_VOIDED] = IGNORE,
                [PAY_E_ABANDONED] = IGNORE,
            },
};

const struct pay_rule *payment_fsm(int status, enum pay_event e)
{
    static const struct pay_rule bad = REFUSE("Unknown payment status or event");
    if (status < PAY_STATUS_MIN || status > PAY_STATUS_MAX || (unsigned)e >= PAY_EVENT_COUNT)
        return &bad;
    return &rules[status - 1][e];
}

const char *pay_event_name(enum pay_event e)
{
    static const char *const names[PAY_EVENT_COUNT] = {
        "BEGIN",           "NO_ANSWER",       "ACCEPTED", "HELD",    "DECLINED",
        "REVIEW_ACCEPTED", "REVIEW_DECLINED", "CAPTURE",  "REVERSE", "CAPTURED",
        "REVERSED",        "VOIDED",          "ABANDONED"};
    return (unsigned)e < PAY_EVENT_COUNT ? names[e] : "?";
}
