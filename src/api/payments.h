/*
 * payments.h — recording what a gateway answered, shared by the customer
 * pages, the capture/reverse endpoints and the workers that repair pending
 * operations.
 */
#ifndef CHATPAY_API_PAYMENTS_H
#define CHATPAY_API_PAYMENTS_H

#include <json-c/json.h>

#include "db/db.h"
#include "gateway/gateway.h"

struct app;

/* The gateway of a merchant (the sandbox for sandbox merchants; NULL when a
 * production merchant has none configured). */
const struct gateway_ops *payments_gateway(const struct db_merchant *m);

/* A new operation reference ("op_" + 96 random bits) into out[DB_REF_LEN]. */
void payments_new_ref(char *out);

/* Record the gateway's answer `res` for the pending operation `ref` of a
 * link, inside tx: finish the operation, move the link's payment status, add
 * PAYMENT_STATUS_RECEIVED to its history and queue follow-up jobs (query an
 * unanswered payment, settle or auto-reverse a REVIEW). An operation that is
 * already finished is left alone (a repeated answer changes nothing).
 * GW_NO_ANSWER leaves the operation pending and the payment UNKNOWN.
 * *link and *op receive the state after recording. */
enum db_status payments_record(struct db_tx *tx, struct arena *a, const char *merchant_id,
                               const char *ref, const struct gw_result *res, usec_t now,
                               struct db_link *link, struct db_payment_op *op);

/* PaymentStatusLogResponse (also PaymentGatewayOperationResultResponse) of
 * one operation of link l. */
json_object *payments_op_json(const struct db_payment_op *op, const struct db_link *l);

/* The payment status that an operation's outcome gives the link. */
int payments_status_after(const struct db_payment_op *op, int current);

#endif
