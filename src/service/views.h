/*
 * views.h — links and payments as the Chat 2 Pay wire format shows them:
 * what GET /api/v2/chat-2-pay/transaction-status answers, and what the
 * payment status callbacks send (the same body). Built inside the caller's
 * transaction, from what it reads there.
 */
#ifndef CHATPAY_SERVICE_VIEWS_H
#define CHATPAY_SERVICE_VIEWS_H

#include <json-c/json.h>

#include "core/message.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"
#include "service/service.h"

/* An amount in minor units as a JSON number with the currency's decimals
 * ("12.50"), printed exactly as written. */
json_object *svc_amount_json(int64_t minor, const char *currency);

/* TransactionStatusEndpointResponse of link l (reads its history, payment
 * operations and integrator), with chatpay's extension fields `refunds`
 * and `refundedAmount`: refunds are not in paymentStatuses. The caller puts
 * *out. */
enum db_status svc_link_view(struct svc *s, const struct db_link *l, enum db_environment env,
                             json_object **out);

/* Find one of the merchant's links by paymentLinkRef, orderNumber (the newest
 * link for it) or receiptLinkRef (the first given one) and view it.
 * DB_NO_RESULTS when there is none. */
enum db_status svc_link_find_view(struct svc *s, const char *merchant_id, const char *ref,
                                  const char *order, const char *receipt, json_object **out);

/* PaymentStatusLogResponse (also PaymentGatewayOperationResultResponse) of
 * one operation of link l. */
json_object *svc_op_view(const struct db_payment_op *op, const struct db_link *l);

/* A refund of link l (the `refunds` extension of the status; also the
 * refund endpoint's reply): refundRef, amount, status PENDING, SUCCEEDED or
 * FAILED, and the gateway's answer. */
json_object *svc_refund_view(const struct db_payment_op *op, const struct db_link *l);

/* The total of link l's accepted refunds, in minor units (refundedAmount). */
enum db_status svc_refunded(struct svc *s, const struct db_link *l, int64_t *out);

/* DetailedWidgetConfigResponse: the merchant's configuration as GET
 * /api/v2/config answers it, with `api_key` (masked) as its key. NULL
 * api_key: the newest active key (what settings callbacks show).
 * DB_NO_RESULTS when there is no such merchant. The caller puts *out. */
enum db_status svc_config_view(struct svc *s, const char *merchant_id, const char *api_key,
                               json_object **out);

/* The link as the message composer (core/message.h) takes it. */
struct message_link svc_message_link(const struct db_link *l, const struct db_merchant *m,
                                     const char *url);

/* "<public-url>/p/<token>" in the arena. */
const char *svc_link_url(struct svc *s, const char *token);

#endif
