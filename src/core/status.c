/*
 * status.c — names and spellings of the published enumerations.
 */
#include "core/status.h"

static const char *const link_status_names[LINK_STATUS_COUNT + 1] = {
    [0] = "UNKNOWN",
    [LINK_PAYMENT_LINK_REQUEST_RECEIVED] = "PAYMENT_LINK_REQUEST_RECEIVED",
    [LINK_PAYMENT_LINK_SENT] = "PAYMENT_LINK_SENT",
    [LINK_PAYMENT_LINK_DELIVERED] = "PAYMENT_LINK_DELIVERED",
    [LINK_PAYMENT_STATUS_RECEIVED] = "PAYMENT_STATUS_RECEIVED",
    [LINK_PAYMENT_STATUS_NOTIFICATION_SENT] = "PAYMENT_STATUS_NOTIFICATION_SENT",
    [LINK_RECEIPT_LINK_REQUEST_RECEIVED] = "RECEIPT_LINK_REQUEST_RECEIVED",
    [LINK_RECEIPT_LINK_SENT] = "RECEIPT_LINK_SENT",
    [LINK_PAYMENT_LINK_REQUEST_FAILED] = "PAYMENT_LINK_REQUEST_FAILED",
    [LINK_PAYMENT_LINK_SENT_FAILED] = "PAYMENT_LINK_SENT_FAILED",
    [LINK_PAYMENT_URL_EXPIRED] = "PAYMENT_URL_EXPIRED",
    [LINK_PAYMENT_LINK_DELIVERY_FAILED] = "PAYMENT_LINK_DELIVERY_FAILED",
    [LINK_PAYMENT_STATUS_NOTIFICATION_DELIVERY_SUCCESSFUL] =
        "PAYMENT_STATUS_NOTIFICATION_DELIVERY_SUCCESSFUL",
    [LINK_PAYMENT_STATUS_NOTIFICATION_DELIVERY_FAILED] =
        "PAYMENT_STATUS_NOTIFICATION_DELIVERY_FAILED",
    [LINK_RECEIPT_LINK_REQUEST_FAILED] = "RECEIPT_LINK_REQUEST_FAILED",
    [LINK_RECEIPT_LINK_SENT_FAILED] = "RECEIPT_LINK_SENT_FAILED",
    [LINK_RECEIPT_LINK_DELIVERED] = "RECEIPT_LINK_DELIVERED",
    [LINK_RECEIPT_LINK_DELIVERY_FAILED] = "RECEIPT_LINK_DELIVERY_FAILED",
    [LINK_PAYMENT_LINK_CANCELLED] = "PAYMENT_LINK_CANCELLED",
    [LINK_PAYMENT_LINK_CLICKED] = "PAYMENT_LINK_CLICKED",
};

const char *link_status_name(int id)
{
    return id >= 1 && id <= LINK_STATUS_COUNT ? link_status_names[id] : link_status_names[0];
}

static const char *const payment_status_names[] = {
    "UNKNOWN", "SUCCESS", "FAILED", "PENDING", "UNKNOWN", "REVIEW", "REVERSED", "VOIDED",
};

const char *payment_status_name(int id)
{
    return id >= PAY_SUCCESS && id <= PAY_VOIDED ? payment_status_names[id] : "UNKNOWN";
}

const char *channel_name(int channel)
{
    switch (channel) {
    case CHANNEL_SMS:
        return "SMS";
    case CHANNEL_WHATSAPP:
        return "WHATSAPP";
    default:
        return "NONE";
    }
}

const struct field_enum channel_spellings[] = {
    {"sms", CHANNEL_SMS, CHANNEL_SMS},
    {"ChannelType.SMS(name=SMS, id=1)", CHANNEL_SMS, -1},
    {"whatsapp", CHANNEL_WHATSAPP, CHANNEL_WHATSAPP},
    {"ChannelType.WHATSAPP(name=WHATSAPP, id=2)", CHANNEL_WHATSAPP, -1},
    {"none", CHANNEL_NONE, CHANNEL_NONE},
    {"ChannelType.NONE(name=NONE, id=0)", CHANNEL_NONE, -1},
    {NULL, 0, -1},
};

const char *transaction_type_name(int t)
{
    switch (t) {
    case TXN_AUTHORIZATION:
        return "Authorization";
    case TXN_SALE:
        return "Sale";
    case TXN_VOID:
        return "Void";
    case TXN_CAPTURE:
        return "Capture";
    default:
        return "Sale";
    }
}

const char *transaction_type_long_name(int t)
{
    switch (t) {
    case TXN_AUTHORIZATION:
        return "TransactionType.AUTHORIZATION(name=Authorization, id=1)";
    case TXN_VOID:
        return "TransactionType.VOID(name=Void, id=3)";
    case TXN_CAPTURE:
        return "TransactionType.CAPTURE(name=Capture, id=4)";
    default:
        return "TransactionType.SALE(name=Sale, id=2)";
    }
}

const struct field_enum transaction_type_spellings[] = {
    {"Sale", TXN_SALE, TXN_SALE},
    {"TransactionType.SALE(name=Sale, id=2)", TXN_SALE, -1},
    {"Authorization", TXN_AUTHORIZATION, TXN_AUTHORIZATION},
    {"TransactionType.AUTHORIZATION(name=Authorization, id=1)", TXN_AUTHORIZATION, -1},
    {NULL, 0, -1},
};
