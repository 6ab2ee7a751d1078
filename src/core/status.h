/*
 * status.h — the published API's enumerations and their ids.
 *
 * Link statuses (transactionStatus) and payment statuses keep the order of
 * the published enums; an id is the 1-based position in that enum. Channel
 * and transaction types use the ids printed in the published long forms
 * ("ChannelType.SMS(name=SMS, id=1)"). The alias tables accept every
 * spelling the published API is used with (short name in any case, long
 * form, id) for field specs; replies use the short names.
 */
#ifndef CHATPAY_CORE_STATUS_H
#define CHATPAY_CORE_STATUS_H

#include <stdbool.h>

#include "core/fieldspec.h"

enum link_status {
    LINK_PAYMENT_LINK_REQUEST_RECEIVED = 1,
    LINK_PAYMENT_LINK_SENT,
    LINK_PAYMENT_LINK_DELIVERED,
    LINK_PAYMENT_STATUS_RECEIVED,
    LINK_PAYMENT_STATUS_NOTIFICATION_SENT,
    LINK_RECEIPT_LINK_REQUEST_RECEIVED,
    LINK_RECEIPT_LINK_SENT,
    LINK_PAYMENT_LINK_REQUEST_FAILED,
    LINK_PAYMENT_LINK_SENT_FAILED,
    LINK_PAYMENT_URL_EXPIRED,
    LINK_PAYMENT_LINK_DELIVERY_FAILED,
    LINK_PAYMENT_STATUS_NOTIFICATION_DELIVERY_SUCCESSFUL,
    LINK_PAYMENT_STATUS_NOTIFICATION_DELIVERY_FAILED,
    LINK_RECEIPT_LINK_REQUEST_FAILED,
    LINK_RECEIPT_LINK_SENT_FAILED,
    LINK_RECEIPT_LINK_DELIVERED,
    LINK_RECEIPT_LINK_DELIVERY_FAILED,
    LINK_PAYMENT_LINK_CANCELLED,
    LINK_PAYMENT_LINK_CLICKED,
};
#define LINK_STATUS_COUNT 19

/* "PAYMENT_LINK_SENT" for LINK_PAYMENT_LINK_SENT; "UNKNOWN" out of range. */
const char *link_status_name(int id);

enum payment_status {
    PAY_SUCCESS = 1,
    PAY_FAILED,
    PAY_PENDING,
    PAY_UNKNOWN,
    PAY_REVIEW,
    PAY_REVERSED,
    PAY_VOIDED,
};
const char *payment_status_name(int id);

enum channel_type { CHANNEL_NONE = 0, CHANNEL_SMS = 1, CHANNEL_WHATSAPP = 2 };
const char *channel_name(int channel); /* "SMS", "WHATSAPP", "NONE" */
extern const struct field_enum channel_spellings[];
#define CHANNEL_HINT "sms, whatsapp, none"

enum transaction_type { TXN_AUTHORIZATION = 1, TXN_SALE = 2, TXN_VOID = 3, TXN_CAPTURE = 4 };
const char *transaction_type_name(int t);      /* "Sale", "Authorization", ... */
const char *transaction_type_long_name(int t); /* "TransactionType.SALE(name=Sale, id=2)" */
extern const struct field_enum transaction_type_spellings[]; /* Sale and Authorization only */
#define TRANSACTION_TYPE_HINT "Sale, Authorization"

#endif
