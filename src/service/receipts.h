/*
 * receipts.h — the customer's receipt: after a payment, the merchant sends
 * the customer a link to the order's receipt on the channel that carried the
 * payment link (POST /api/v2/order-receipt; see service.h).
 *
 * A link has at most one receipt at a time (receiptLinkRef): another may be
 * asked for only once the last one could not be sent or delivered. Its
 * history records RECEIPT_LINK_REQUEST_RECEIVED, then RECEIPT_LINK_SENT or
 * _SENT_FAILED, then RECEIPT_LINK_DELIVERED or _DELIVERY_FAILED.
 */
#ifndef CHATPAY_SERVICE_RECEIPTS_H
#define CHATPAY_SERVICE_RECEIPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fieldspec.h"
#include "db/links.h"
#include "service/service.h"

/* The merchant asks for a receipt at `receipt_url` (an absolute http(s)
 * URL of characters a message carries, checked by the caller) for its link
 * `ref`: refused (*refused, DB_ROLLBACK) unless the link's payment is
 * SUCCESS, it was sent on a channel and no receipt is under way or done; a
 * URL too long for the link's message (one SMS) is a problem added to errs
 * (DB_ROLLBACK). DB_NO_RESULTS when the merchant has no such link.
 * Otherwise the receipt is recorded and the job that sends it queued; *l is
 * the link after. */
enum db_status svc_receipt_request(struct svc *s, const char *merchant_id, const char *ref,
                                   const char *receipt_url, struct db_link *l, const char **refused,
                                   struct field_errors *errs);

/* The outcome of sending the receipt of link `link_id` (svc_message_sent
 * calls it). */
enum db_status svc_receipt_send_result(struct svc *s, const char *merchant_id, int64_t link_id,
                                       bool sent, const struct svc_entry *detail);

/* The receipt message's delivery receipt. */
enum db_status svc_receipt_delivery(struct svc *s, const char *merchant_id, int64_t link_id,
                                    bool delivered, const struct svc_entry *detail);

#endif
