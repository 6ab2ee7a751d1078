/*
 * receipts.c — the customer's receipt (see receipts.h).
 */
#include "service/receipts.h"

#include <stdio.h>
#include <string.h>

#include "core/message.h"
#include "core/status.h"
#include "db/merchants.h"
#include "service/views.h"
#include "util/crypto.h"

static enum db_status refuse(const char **refused, const char *why)
{
    *refused = why;
    return DB_ROLLBACK;
}

enum db_status svc_receipt_request(struct svc *s, const char *merchant_id, const char *ref,
                                   const char *receipt_url, struct db_link *l, const char **refused,
                                   struct field_errors *errs)
{
    *refused = NULL;
    enum db_status st = DB_CALL(s->tx, links, get_by_ref, merchant_id, ref, s->a, l);
    if (st <= 0)
        return st;
    if (l->payment_status != PAY_SUCCESS)
        return refuse(refused, arena_printf(s->a,
                                            "The payment of this link is %s: a receipt is sent "
                                            "only for a successful payment (SUCCESS)",
                                            payment_status_name(l->payment_status)));
    if (l->channel == CHANNEL_NONE)
        return refuse(refused, "The link was not sent on a channel (channel none): there is no "
                               "chat to send the receipt to");
    if (l->receipt_state == RECEIPT_REQUESTED || l->receipt_state == RECEIPT_SENT ||
        l->receipt_state == RECEIPT_DELIVERED)
        return refuse(refused, arena_printf(s->a,
                                            "A receipt has already been sent for this payment "
                                            "link (receiptLinkRef %s)",
                                            l->receipt_ref ? l->receipt_ref : ""));
    struct db_merchant m;
    st = DB_CALL(s->tx, merchants, get, merchant_id, &m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    struct message_link ml = svc_message_link(l, &m, NULL);
    char text[MESSAGE_MAX];
    if (!ml.currency || message_receipt(&ml, receipt_url, text, sizeof text) < 0) {
        field_errors_add(errs, s->a, "receiptLink",
                         l->channel == CHANNEL_SMS
                             ? "is too long for one SMS with the order number; use a shorter URL"
                             : "cannot be sent in a message");
        return DB_ROLLBACK;
    }
    char r[24];
    crypto_random_base62(128, r, 22);
    l->receipt_ref = arena_strdup(s->a, r);
    l->receipt_link = receipt_url;
    l->receipt_state = RECEIPT_REQUESTED;
    st = DB_CALL(s->tx, links, update, l);
    if (st < 0)
        return st;
    st = svc_history(s, l, &(struct svc_entry){.status = LINK_RECEIPT_LINK_REQUEST_RECEIVED});
    if (st < 0)
        return st;
    st = svc_enqueue(s, l, JOB_SEND_RECEIPT, 0, s->now);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* Move the receipt of link `link_id` from state `from` to `to`, recording
 * `status` with the provider's answer. Nothing when it is no longer in
 * `from` (recorded before). */
static enum db_status receipt_step(struct svc *s, const char *merchant_id, int64_t link_id,
                                   int from, int to, int status, const struct svc_entry *detail,
                                   struct db_link *l)
{
    enum db_status st = DB_CALL(s->tx, links, get_by_id, merchant_id, link_id, s->a, l);
    if (st <= 0)
        return st;
    if (l->receipt_state != from)
        return DB_NO_RESULTS;
    l->receipt_state = to;
    st = DB_CALL(s->tx, links, update, l);
    if (st < 0)
        return st;
    struct svc_entry e = {.status = status};
    if (detail) {
        e.http = detail->http;
        e.code = detail->code;
        e.desc = detail->desc;
    }
    st = svc_history(s, l, &e);
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_receipt_send_result(struct svc *s, const char *merchant_id, int64_t link_id,
                                       bool sent, const struct svc_entry *detail)
{
    struct db_link l;
    enum db_status st = receipt_step(
        s, merchant_id, link_id, RECEIPT_REQUESTED, sent ? RECEIPT_SENT : RECEIPT_FAILED,
        sent ? LINK_RECEIPT_LINK_SENT : LINK_RECEIPT_LINK_SENT_FAILED, detail, &l);
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_receipt_delivery(struct svc *s, const char *merchant_id, int64_t link_id,
                                    bool delivered, const struct svc_entry *detail)
{
    struct db_link l;
    enum db_status st = receipt_step(
        s, merchant_id, link_id, RECEIPT_SENT, delivered ? RECEIPT_DELIVERED : RECEIPT_FAILED,
        delivered ? LINK_RECEIPT_LINK_DELIVERED : LINK_RECEIPT_LINK_DELIVERY_FAILED, detail, &l);
    return st < 0 ? st : DB_ONE_RESULT;
}
