/*
 * whatsapp.h — WhatsApp Pay orders: accepting an order, a payment try and
 * its outcome, refunds and their settlement, and the payment as the lookup
 * (and the merchant's callback) shows it. Each runs inside the caller's
 * transaction and queues its jobs and callbacks there (see service.h).
 */
#ifndef CHATPAY_SERVICE_WHATSAPP_H
#define CHATPAY_SERVICE_WHATSAPP_H

#include <json-c/json.h>

#include "db/merchants.h"
#include "db/whatsapp.h"
#include "service/service.h"

/* The merchant's account SID: "HX" and the first 14 hex digits of its id,
 * upper case (out[17]). */
void svc_wa_sid(const char *merchant_id, char out[17]);

/* Why an order is refused (besides its fields). */
enum wa_refusal {
    WA_OK = 0,
    WA_R_FIELD,      /* *field and *why name the problem (400) */
    WA_R_PRODUCTION, /* a production merchant: no live WhatsApp Pay gateway (403) */
    WA_R_DUPLICATE,  /* the merchant has an order with this reference id (409) */
};

/* The refusal (on `channel`) of an order for a merchant whose WhatsApp
 * channel is switched off (whatsappChannelEnabled false). */
#define WA_CHANNEL_OFF "whatsapp is not enabled for this merchant"

/* Accept order o (its request filled in; from_display: the `from` number)
 * for merchant m: its WhatsApp channel must be on, and the business number
 * and the payment configuration registered and enabled; the order is
 * stored with its message job. */
enum db_status svc_wa_order_create(struct svc *s, const struct db_merchant *m,
                                   const char *from_display, struct db_wa_order *o,
                                   enum wa_refusal *refusal, const char **field, const char **why);

/* The payment of order o as the lookup shows it: {reference_id, status,
 * currency, total_amount, transactions[...], receipt, notes, udf*,
 * additional_info*}. The caller puts it. */
enum db_status svc_wa_payment_json(struct svc *s, const struct db_wa_order *o, json_object **out);

/* The most payment tries (transactions) one order takes: each adds to the
 * order's payment record and to every callback about it after it. A
 * pending try decided by the next one is one try. */
enum { WA_TRIES_MAX = 20 };

/* Whether order o still takes payment tries (*open): its business number
 * and payment configuration are both enabled still. */
enum db_status svc_wa_order_open(struct svc *s, const struct db_wa_order *o, bool *open);

/* A payment try on the sandbox page: method, outcome (WA_SUCCESS,
 * WA_FAILED with code and reason, WA_PENDING). A pending try is decided by
 * the next one. *refused (DB_ROLLBACK, nothing stored) when the order's
 * merchant is in production (WA_PAY_PRODUCTION: the simulated payment is
 * for the sandbox only, as are orders and refunds), the order is paid
 * already, its number or configuration has been disabled since it was sent
 * (WA_PAY_WITHDRAWN) or it has had WA_TRIES_MAX tries. */
enum wa_pay_refusal {
    WA_PAY_OK = 0,
    WA_PAY_PRODUCTION,
    WA_PAY_PAID,
    WA_PAY_WITHDRAWN,
    WA_PAY_TOO_MANY
};
enum db_status svc_wa_pay(struct svc *s, struct db_wa_order *o, const char *method,
                          enum wa_status outcome, const char *code, const char *reason,
                          enum wa_pay_refusal *refused);

/* A refund of a captured order of merchant m: *left_out is what is left to
 * refund; a refusal (nothing stored) is WA_RR_PRODUCTION (m is a production
 * merchant: the refund job's gateway serves sandbox merchants only, so the
 * refund could never be made), WA_RR_NOT_CAPTURED, WA_RR_TOO_MUCH or
 * WA_RR_TOO_MANY. */
enum wa_refund_refusal {
    WA_RR_OK = 0,
    WA_RR_PRODUCTION,
    WA_RR_NOT_CAPTURED,
    WA_RR_TOO_MUCH,
    WA_RR_TOO_MANY
};
/* The most refunds one order takes, whatever their outcome: each adds to
 * the order's payment record and to every callback about it after it. */
enum { WA_REFUNDS_MAX = 100 };
enum db_status svc_wa_refund_create(struct svc *s, const struct db_merchant *m,
                                    const struct db_wa_order *o, int64_t amount, const char *speed,
                                    struct db_wa_refund *out, enum wa_refund_refusal *refusal,
                                    int64_t *left_out);

/* The gateway settled refund r (read in this transaction). */
enum db_status svc_wa_refund_settled(struct svc *s, struct db_wa_refund *r, enum wa_status status);

/* A refund as the API shows it. */
json_object *svc_wa_refund_json(const struct db_wa_refund *r, int64_t offset);

const char *wa_status_name(enum wa_status s);
const char *wa_order_status_name(enum wa_order_status s);

#endif
