/*
 * link_fsm.c — the payment link's state table (see link_fsm.h).
 */
#include "core/link_fsm.h"

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

static const char opened[] =
    "The payment link has been opened by the customer and can no longer be cancelled";
static const char cancelled[] = "The payment link is already cancelled";
static const char expired[] = "The payment link has expired";
static const char unusable[] = "The payment link could not be sent and can no longer be used";
static const char is_cancelled[] = "The payment link was cancelled";

static const struct link_rule rules[LINK_STATE_COUNT][LINK_EVENT_COUNT] = {
    [LINK_S_REQUESTED] =
        {
            [LINK_E_SENT] = MOVE(LINK_S_SENT),
            [LINK_E_SEND_FAILED] = MOVE(LINK_S_SEND_FAILED),
            [LINK_E_DELIVERED] = STAY,
            [LINK_E_DELIVERY_FAILED] = STAY,
            [LINK_E_OPEN] = MOVE(LINK_S_OPENED),
            [LINK_E_CANCEL] = MOVE(LINK_S_CANCELLED),
            [LINK_E_EXPIRE] = MOVE(LINK_S_EXPIRED),
        },
    [LINK_S_SENT] =
        {
            [LINK_E_SENT] = STAY,
            [LINK_E_SEND_FAILED] = STAY,
            [LINK_E_DELIVERED] = MOVE(LINK_S_DELIVERED),
            [LINK_E_DELIVERY_FAILED] = MOVE(LINK_S_UNDELIVERED),
            [LINK_E_OPEN] = MOVE(LINK_S_OPENED),
            [LINK_E_CANCEL] = MOVE(LINK_S_CANCELLED),
            [LINK_E_EXPIRE] = MOVE(LINK_S_EXPIRED),
        },
    [LINK_S_DELIVERED] =
        {
            [LINK_E_SENT] = STAY,
            [LINK_E_SEND_FAILED] = STAY,
            [LINK_E_DELIVERED] = STAY,
            [LINK_E_DELIVERY_FAILED] = STAY,
            [LINK_E_OPEN] = MOVE(LINK_S_OPENED),
            [LINK_E_CANCEL] = MOVE(LINK_S_CANCELLED),
            [LINK_E_EXPIRE] = MOVE(LINK_S_EXPIRED),
        },
    [LINK_S_UNDELIVERED] =
        {
            [LINK_E_SENT] = STAY,
            [LINK_E_SEND_FAILED] = STAY,
            [LINK_E_DELIVERED] = MOVE(LINK_S_DELIVERED), /* a late receipt says otherwise */
            [LINK_E_DELIVERY_FAILED] = STAY,
            [LINK_E_OPEN] = MOVE(LINK_S_OPENED),
            [LINK_E_CANCEL] = MOVE(LINK_S_CANCELLED),
            [LINK_E_EXPIRE] = MOVE(LINK_S_EXPIRED),
        },
    [LINK_S_OPENED] =
        {
            /* the customer has the link already (the merchant passed it on):
             * what the channel says later is history only */
            [LINK_E_SENT] = STAY,
            [LINK_E_SEND_FAILED] = STAY,
            [LINK_E_DELIVERED] = STAY,
            [LINK_E_DELIVERY_FAILED] = STAY,
            [LINK_E_OPEN] = IGNORE,
            [LINK_E_CANCEL] = REFUSE(opened),
            [LINK_E_EXPIRE] = MOVE(LINK_S_EXPIRED),
        },
    [LINK_S_SEND_FAILED] =
        {
            [LINK_E_SENT] = STAY,
            [LINK_E_SEND_FAILED] = STAY,
            [LINK_E_DELIVERED] = STAY,
            [LINK_E_DELIVERY_FAILED] = STAY,
            [LINK_E_OPEN] = REFUSE(unusable),
            [LINK_E_CANCEL] = REFUSE(unusable),
            [LINK_E_EXPIRE] = IGNORE,
        },
    [LINK_S_CANCELLED] =
        {
            [LINK_E_SENT] = STAY,
            [LINK_E_SEND_FAILED] = STAY,
            [LINK_E_DELIVERED] = STAY,
            [LINK_E_DELIVERY_FAILED] = STAY,
            [LINK_E_OPEN] = REFUSE(is_cancelled),
            [LINK_E_CANCEL] = REFUSE(cancelled),
            [LINK_E_EXPIRE] = IGNORE,
        },
    [LINK_S_EXPIRED] =
        {
            [LINK_E_SENT] = STAY,
            [LINK_E_SEND_FAILED] = STAY,
            [LINK_E_DELIVERED] = STAY,
            [LINK_E_DELIVERY_FAILED] = STAY,
            [LINK_E_OPEN] = REFUSE(expired),
            [LINK_E_CANCEL] = REFUSE(expired),
            [LINK_E_EXPIRE] = IGNORE,
        },
};

const struct link_rule *link_fsm(enum link_state s, enum link_event e)
{
    static const struct link_rule bad = REFUSE("Unknown link state or event");
    if ((unsigned)s >= LINK_STATE_COUNT || (unsigned)e >= LINK_EVENT_COUNT)
        return &bad;
    return &rules[s][e];
}

bool link_state_final(enum link_state s)
{
    return s == LINK_S_SEND_FAILED || s == LINK_S_CANCELLED || s == LINK_S_EXPIRED;
}

static const int state_status[LINK_STATE_COUNT] = {
    [LINK_S_REQUESTED] = LINK_PAYMENT_LINK_REQUEST_RECEIVED,
    [LINK_S_SENT] = LINK_PAYMENT_LINK_SENT,
    [LINK_S_DELIVERED] = LINK_PAYMENT_LINK_DELIVERED,
    [LINK_S_UNDELIVERED] = LINK_PAYMENT_LINK_DELIVERY_FAILED,
    [LINK_S_OPENED] = LINK_PAYMENT_LINK_CLICKED,
    [LINK_S_SEND_FAILED] = LINK_PAYMENT_LINK_SENT_FAILED,
    [LINK_S_CANCELLED] = LINK_PAYMENT_LINK_CANCELLED,
    [LINK_S_EXPIRED] = LINK_PAYMENT_URL_EXPIRED,
};

int link_state_status(enum link_state s)
{
    return (unsigned)s < LINK_STATE_COUNT ? state_status[s] : LINK_PAYMENT_LINK_REQUEST_RECEIVED;
}

enum link_state link_state_from_status(int status)
{
    for (int s = 0; s < LINK_STATE_COUNT; s++)
        if (state_status[s] == status)
            return (enum link_state)s;
    return LINK_S_REQUESTED;
}

int link_event_status(enum link_event e)
{
    static const int st[LINK_EVENT_COUNT] = {
        [LINK_E_SENT] = LINK_PAYMENT_LINK_SENT,
        [LINK_E_SEND_FAILED] = LINK_PAYMENT_LINK_SENT_FAILED,
        [LINK_E_DELIVERED] = LINK_PAYMENT_LINK_DELIVERED,
        [LINK_E_DELIVERY_FAILED] = LINK_PAYMENT_LINK_DELIVERY_FAILED,
        [LINK_E_OPEN] = LINK_PAYMENT_LINK_CLICKED,
        [LINK_E_CANCEL] = LINK_PAYMENT_LINK_CANCELLED,
        [LINK_E_EXPIRE] = LINK_PAYMENT_URL_EXPIRED,
    };
    return (unsigned)e < LINK_EVENT_COUNT ? st[e] : 0;
}

const char *link_state_name(enum link_state s)
{
    static const char *const names[LINK_STATE_COUNT] = {"REQUESTED",   "SENT",   "DELIVERED",
                                                        "UNDELIVERED", "OPENED", "SEND_FAILED",
                                                        "CANCELLED",   "EXPIRED"};
    return (unsigned)s < LINK_STATE_COUNT ? names[s] : "?";
}

const char *link_event_name(enum link_event e)
{
    static const char *const names[LINK_EVENT_COUNT] = {
        "SENT", "SEND_FAILED", "DELIVERED", "DELIVERY_FAILED", "OPEN", "CANCEL", "EXPIRE"};
    return (unsigned)e < LINK_EVENT_COUNT ? names[e] : "?";
}
