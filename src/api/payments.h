/*
 * payments.h — recording what a gateway answered, shared by the customer
 * pages, the capture/reverse endpoints and the workers that repair pending
 * operations.
 */
#ifndef CHATPAY_API_PAYMENTS_H
#define CHATPAY_API_PAYMENTS_H

#include <json-c/json.h>

#include "db/db.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"
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
 *
 * A payment the gateway accepted (or holds for review) when its link can no
 * longer take it — the link expired, was cancelled or is paid already, the
 * order was paid with another link, or chatpay had closed the checkout — is
 * an orphan: it is recorded with the reason (DB_OP_ORPHAN, note, a history
 * entry), the link's payment status is left as it is, and a job returns
 * the money at once (payments_return_op). An order never keeps two
 * successful payments.
 * *link and *op receive the state after recording. */
enum db_status payments_record(struct db_tx *tx, struct arena *a, const char *merchant_id,
                               const char *ref, const struct gw_result *res, usec_t now,
                               struct db_link *link, struct db_payment_op *op);

/* Close a payment operation whose checkout the customer never completed,
 * after the gateway has closed it too (gateway_ops.cancel): no money moved.
 * A payment shown as UNKNOWN becomes FAILED. An operation answered
 * meanwhile is left alone. */
enum db_status payments_close_abandoned(struct db_tx *tx, struct arena *a, const char *merchant_id,
                                        const char *ref, usec_t now, struct db_link *link,
                                        struct db_payment_op *op);

/* The operation that returns a payment chatpay could not take: a void of an
 * accepted sale, else a reversal. */
enum gw_operation payments_return_op(const struct db_payment_op *payment);

/* How long after a payment operation begins its hosted checkout stays open:
 * the payment page's life plus this grace (seconds). Past it, the repair
 * sweep closes the checkout at the gateway. */
#define PAYMENTS_CHECKOUT_GRACE_S 300

/* PaymentStatusLogResponse (also PaymentGatewayOperationResultResponse) of
 * one operation of link l. */
json_object *payments_op_json(const struct db_payment_op *op, const struct db_link *l);

/* The payment status that an operation's outcome gives the link. */
int payments_status_after(const struct db_payment_op *op, int current);

#endif
