/*
 * send_receipt.c — job JOB_SEND_RECEIPT: send the customer the link to the
 * order's receipt and record RECEIPT_LINK_SENT or RECEIPT_LINK_SENT_FAILED;
 * a delivery receipt follows.
 */
#include "core/message.h"
#include "db/providers.h"
#include "jobs/common.h"
#include "service/receipts.h"
#include "service/views.h"

enum job_result job_send_receipt(struct job_ctx *jc)
{
    struct db_link l;
    struct db_merchant m;
    enum job_result res;
    if (!job_load_link(jc, &l, &m, &res))
        return res;
    if (l.receipt_state != RECEIPT_REQUESTED || !l.receipt_link)
        return JOB_DONE; /* recorded by an earlier run */
    char text[MESSAGE_MAX];
    struct message_link ml = svc_message_link(&l, &m, NULL);
    bool composed = ml.currency && message_receipt(&ml, l.receipt_link, text, sizeof text) >= 0;
    struct job_text t = {.text = composed ? text : NULL,
                         .why = "The receipt message could not be composed",
                         .purpose = PM_RECEIPT};
    return job_send_and_record(jc, &l, &m, &t);
}
