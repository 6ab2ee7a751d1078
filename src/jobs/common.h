/*
 * common.h — what several job runners share (jobs/ only).
 */
#ifndef CHATPAY_JOBS_COMMON_H
#define CHATPAY_JOBS_COMMON_H

#include "channel/channel.h"
#include "core/message.h"
#include "db/links.h"
#include "db/merchants.h"
#include "gateway/gateway.h"
#include "jobs/jobs.h"
#include "service/service.h"

/* A service context for a transaction of a job. */
struct svc job_svc(struct job_ctx *jc, struct db_tx *tx);

/* The job's link and its merchant, read in one transaction. false when
 * there is nothing to run: the link is gone (*res is JOB_DONE) or the
 * database failed (JOB_RETRY). */
bool job_load_link(struct job_ctx *jc, struct db_link *l, struct db_merchant *m,
                   enum job_result *res);

/* The link as the message composer (core/message.h) takes it. */
struct message_link job_message_link(const struct db_link *l, const struct db_merchant *m,
                                     const char *url);

/* Send `text` to the link's customer on its channel, as this job (the
 * provider sends once per job, however often the job runs). JOB_RETRY when
 * the provider could not be reached; otherwise *res holds its answer (a
 * merchant without a provider gets CHANNEL_REJECTED). */
enum job_result job_send_text(struct job_ctx *jc, const struct db_link *l,
                              const struct db_merchant *m, const char *text,
                              struct channel_result *res);

/* Ask the gateway about payment operation `ref` and record a final answer.
 * false when there was none yet (or it could not be recorded). */
bool job_ask_and_record(struct job_ctx *jc, const struct gateway *gw, const char *merchant_id,
                        const char *ref);

/* Record a gateway answer for operation `ref`. */
bool job_record_answer(struct job_ctx *jc, const char *merchant_id, const char *ref,
                       const struct gw_result *res);

#endif
