/*
 * common.h — what several job runners share (jobs/ only).
 */
#ifndef CHATPAY_JOBS_COMMON_H
#define CHATPAY_JOBS_COMMON_H

#include "channel/channel.h"
#include "core/message.h"
#include "db/links.h"
#include "db/merchants.h"
#include "db/payments.h"
#include "gateway/gateway.h"
#include "jobs/jobs.h"
#include "net/net.h"
#include "service/service.h"

/* A service context for a transaction of a job. */
struct svc job_svc(struct job_ctx *jc, struct db_tx *tx);

/* The job's link and its merchant, read in one transaction. false when
 * there is nothing to run: the link is gone (*res is JOB_DONE) or the
 * database failed (JOB_RETRY). */
bool job_load_link(struct job_ctx *jc, struct db_link *l, struct db_merchant *m,
                   enum job_result *res);

/* A JSON body POSTed for a job: a merchant's callback, a client's result. */
struct job_post {
    const char *what; /* "callback", "result": for the texts */
    const char *url;
    const struct net_header *headers; /* Content-Type and signature headers */
    size_t nheaders;
    const char *body;
    unsigned connect_timeout_ms, timeout_ms;
    bool allow_private; /* sandbox: loopback and private addresses allowed */
    bool only_200;      /* delivered means 200; otherwise any 2xx */
};

/* The answer to a job_post. */
struct job_post_answer {
    int http;          /* its status, 0 when none came */
    int latency_ms;    /* how long the call took */
    bool delivered;    /* a status that counts as delivered, body read (or too large) */
    const char *error; /* why not delivered (in jc->a); NULL when it was */
};

/* POST p's body and say how it went in *out. false when the worker began to
 * stop before the answer came: that was not a try, and jc->error and
 * jc->retry_at are set so that the job runs again as soon as a worker is
 * back (return JOB_RETRY). */
bool job_post(struct job_ctx *jc, const struct job_post *p, struct job_post_answer *out);

/* A message for a link's customer. */
struct job_text {
    const char *text; /* NULL: it could not be composed (why says why) */
    const char *why;
    const char *button_text, *button_url; /* WhatsApp: the link as a button (NULL: none) */
    bool template_ok;                     /* outside WhatsApp's window, the merchant's template
                                             may carry it (links and reminders) */
    int purpose;                          /* enum provider_message_purpose */
    int reminder;                         /* PM_LINK: 0 for the first send, n for reminder n */
    bool template_only;                   /* WhatsApp: the template alone (SEND_LINK_TEMPLATE) */
    bool again; /* a link sent again after a later report of non-delivery: its reminders
                   are queued already */
};

/* Send a message to the link's customer on the link's channel through the
 * merchant's provider, as this job (its reference: "cpm_<job id>"), and
 * record the outcome (svc_message_sent) in the transaction that completes
 * the job. A provider that cannot take it now: JOB_RETRY (not before its
 * retry_after). Nothing is sent to a number that opted out, nor again after
 * a run that died before recording its outcome (it may have sent). */
enum job_result job_send_and_record(struct job_ctx *jc, const struct db_link *l,
                                    const struct db_merchant *m, const struct job_text *t);

/* Did an earlier run of this job stop before recording its outcome (it
 * died, lost its lease, or could not write down a provider's answer) after
 * it said it was calling the provider (job_acting)? It may have acted: the
 * provider may have the message, and sending it again could reach the
 * customer twice. A run that stopped before that point did not send. */
bool job_earlier_run_unrecorded(const struct job_ctx *jc);

/* Say, in a transaction of its own, that this run is about to call a real
 * provider. false (jc->error set) when that cannot be recorded, or the run
 * holds its claim no more: then it must not call the provider. */
bool job_acting(struct job_ctx *jc);

/* After writing down a provider's answer (st): when it could not be written
 * though a real provider was asked (real_acted: not the sandbox outbox,
 * which keeps the message by the job, so a run again sends nothing twice),
 * the job is left as a run that died is (jc->unrecorded), and its next run
 * does not send again. DB_ROLLBACK: another run recorded it, or owns it. */
void job_note_unrecorded(struct job_ctx *jc, enum db_status st, bool real_acted);

/* After a channel's answer *res: true when the job is to be tried again
 * (the provider could not take the message now, and the kind has tries
 * left); jc->error and jc->retry_at are then set. The wait is the longer of
 * the provider's (res->retry_after) and the job's backoff, so that a rate
 * limit that lasts spreads the tries over the backoff's minutes rather than
 * using them up at the provider's pace. */
bool job_channel_retry(struct job_ctx *jc, const struct channel_result *res);

/* Is the link still worth sending again (a reminder, or a resend after a
 * report of non-delivery): svc_link_awaits_customer now (send_link.c). */
bool job_link_awaited(const struct db_link *l);

/* The link's payment request (reminder 0) or reminder n, sent when due(l)
 * says it still is (send_link.c). */
enum job_result job_send_link_text(struct job_ctx *jc, int reminder,
                                   bool (*due)(const struct db_link *l));

/* What a gateway call about `op` needs (svc_gw_target, read in its own
 * transaction); false when it cannot be read. */
bool job_target(struct job_ctx *jc, const struct db_payment_op *op, bool again,
                struct gw_target *t);

/* Ask the gateway about payment operation `op` and record a final answer
 * (the answer into *res). false when there was none yet (or it could not be
 * recorded). */
bool job_ask_and_record(struct job_ctx *jc, const struct gateway *gw,
                        const struct db_payment_op *op, struct gw_result *res);

/* Have the gateway do follow-up `op` (again: its answer was lost before)
 * and record the answer; false when none came (or it could not be
 * recorded). *res receives the answer. */
bool job_operate_and_record(struct job_ctx *jc, const struct gateway *gw,
                            const struct db_payment_op *op, bool again, struct gw_result *res);

/* Record a gateway answer for operation `ref`. */
bool job_record_answer(struct job_ctx *jc, const char *merchant_id, const char *ref,
                       const struct gw_result *res);

#endif
