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

/* Send `text` to the link's customer on its channel, as this job (the
 * provider sends once per job, however often the job runs). JOB_RETRY when
 * the provider could not be reached; otherwise *res holds its answer (a
 * merchant without a provider gets CHANNEL_REJECTED). */
enum job_result job_send_text(struct job_ctx *jc, const struct db_link *l,
                              const struct db_merchant *m, const char *text,
                              struct channel_result *res);

/* Records the outcome of sending a message for a link (svc_link_send_result,
 * svc_receipt_send_result). */
typedef enum db_status (*job_sent_fn)(struct svc *s, const char *merchant_id, int64_t link_id,
                                      bool sent, const struct svc_entry *detail, int64_t message_id,
                                      usec_t receipt_at);

/* Send `text` (NULL: it could not be composed, which `why` explains; a
 * permanent failure) to the link's customer and record the outcome with
 * `record` in the transaction that completes the job; when sent, the
 * delivery receipt is asked for after the provider's receipt delay. */
enum job_result job_send_and_record(struct job_ctx *jc, const struct db_link *l,
                                    const struct db_merchant *m, const char *text, const char *why,
                                    job_sent_fn record);

/* Ask the gateway about payment operation `ref` and record a final answer.
 * false when there was none yet (or it could not be recorded). */
bool job_ask_and_record(struct job_ctx *jc, const struct gateway *gw, const char *merchant_id,
                        const char *ref);

/* Record a gateway answer for operation `ref`. */
bool job_record_answer(struct job_ctx *jc, const char *merchant_id, const char *ref,
                       const struct gw_result *res);

#endif
