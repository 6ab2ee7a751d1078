/*
 * payments_common.h — the payment operations of one link, for the payment
 * jobs (jobs/ only).
 */
#ifndef CHATPAY_JOBS_PAYMENTS_COMMON_H
#define CHATPAY_JOBS_PAYMENTS_COMMON_H

#include "db/merchants.h"
#include "db/payments.h"
#include "gateway/gateway.h"
#include "jobs/jobs.h"

/* The job's payment operation (its arg) and its merchant's gateway, held
 * until job_release_gateway. JOB_DONE with *op zeroed (ref "") when there is
 * nothing to do (no such operation, no gateway); JOB_RETRY when the database
 * failed or the merchant's gateway cannot be used now. */
enum job_result job_load_payment(struct job_ctx *jc, struct db_payment_op *op,
                                 struct db_merchant *m, const struct gateway **gw);
void job_release_gateway(struct job_ctx *jc, const struct gateway *gw);

#endif
