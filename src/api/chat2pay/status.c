/*
 * chat2pay_status.c — GET /api/v2/chat-2-pay/transaction-status: a link's
 * full history (TransactionStatusEndpointResponse), found by paymentLinkRef,
 * orderNumber (the newest link for it) or receiptLinkRef, among the caller's
 * links only.
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include <string.h>

#include "app.h"
#include "service/views.h"

enum { QUERY_MAX = 128 };

struct status_ctx {
    struct req *r;
    const char *ref, *order, *receipt;
    json_object *reply;
};

static enum db_status status_cb(struct db_tx *tx, void *cls)
{
    struct status_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    json_object_put(c->reply);
    c->reply = NULL;
    return svc_link_find_view(&s, c->r->auth.merchant_id, c->ref, c->order, c->receipt, &c->reply);
}

void api_chat2pay_status(struct req *r)
{
    struct status_ctx c = {.r = r};
    c.ref = req_query(r, "paymentLinkRef");
    c.order = req_query(r, "orderNumber");
    c.receipt = req_query(r, "receiptLinkRef");
    struct field_errors errs = {0};
    const char *names[] = {"paymentLinkRef", "orderNumber", "receiptLinkRef"};
    const char *values[] = {c.ref, c.order, c.receipt};
    for (int i = 0; i < 3; i++)
        if (values[i] && (!*values[i] || strlen(values[i]) > QUERY_MAX))
            field_errors_add(&errs, r->arena, names[i], "must be 1 to %d characters", QUERY_MAX);
    if (!c.ref && !c.order && !c.receipt)
        field_errors_add(&errs, r->arena, "query",
                         "one of paymentLinkRef, orderNumber or receiptLinkRef is required");
    if (errs.count) {
        reply_field_errors(r, &errs);
        return;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "chat2pay_status", status_cb, &c);
    if (st < 0) {
        json_object_put(c.reply);
        api_reply_db_error(r, st);
        return;
    }
    if (st == DB_NO_RESULTS) {
        json_object_put(c.reply);
        reply_error(r, ERR_NOT_FOUND, "No payment link matches the given reference");
        return;
    }
    reply_json(r, 200, c.reply);
    json_object_put(c.reply);
}
