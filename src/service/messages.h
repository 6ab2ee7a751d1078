/*
 * messages.h — what happens to the messages chatpay sends (payment links,
 * reminders, cancellation notices, receipts): the outcome of each send, the
 * provider's later reports (delivery receipts, replies), fallback from
 * WhatsApp to SMS, reminders, opt-outs, and providers' health (see
 * service.h).
 *
 * Every message sent through a channel is a row of provider_messages with
 * our reference and the provider's, whatever the outcome; its state only
 * moves forward (sent → delivered or failed), so duplicate and late reports
 * change nothing, and a report older than the last one applied is ignored.
 */
#ifndef CHATPAY_SERVICE_MESSAGES_H
#define CHATPAY_SERVICE_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel/channel.h"
#include "db/merchants.h"
#include "db/providers.h"
#include "service/service.h"

/* The outcome of one job's send. */
struct svc_send {
    int purpose;             /* enum provider_message_purpose */
    int channel;             /* the channel it went on */
    int reminder;            /* PM_LINK: 0 for the first send, n for reminder n */
    bool again;              /* PM_LINK: sent again after a report of non-delivery (its
                                reminders are queued already) */
    const char *provider_id; /* the instance's id ("sandbox") */
    const char *ref;         /* our reference */
    const struct channel_result *res;
    usec_t receipt_delay; /* ask the provider after this long (0: never) */
};

/* Record a send (inside the job's transaction): the message's row, the
 * link's history (and its state through core/link_fsm.h), the receipt
 * follow-up, the provider's health when it refused its credentials, the
 * first reminder after a link's first send, and — for a WhatsApp link the
 * channel cannot carry (the number is not on WhatsApp, or its window is
 * closed with no template) when the merchant asked for it — the same link
 * again by SMS, with both in the history. */
enum db_status svc_message_sent(struct svc *s, const struct db_merchant *m, int64_t link_id,
                                const struct svc_send *snd);

/* A report about a message: what the provider says became of it. */
struct svc_report {
    enum channel_delivery delivery;
    const char *status;      /* the provider's name of the state */
    const char *code, *desc; /* the provider's error, NULL when none */
    int http;
    usec_t at;                  /* the provider's time (0: now) */
    const char *provider_ref;   /* the provider's id of it, when it says ("" or NULL) */
    enum channel_reason reason; /* FAILED: why, where it matters */
};

/* Apply a report to message `msg` (read in this transaction): forward
 * only; a final state records PAYMENT_LINK_DELIVERED / _DELIVERY_FAILED or
 * the receipt's. A WhatsApp link's first send reported undelivered because
 * the number is not on WhatsApp or the 24-hour window is closed (providers
 * often take the message and say so only later) goes again: as the
 * merchant's template for the closed window, else by SMS when the merchant
 * asked for the fallback. DB_NO_RESULTS when it changed nothing. */
enum db_status svc_message_report(struct svc *s, struct db_provider_message *msg,
                                  const struct svc_report *r);

/* What a provider posted (its events, already verified): reports for the
 * messages they name, and the customers' replies (STOP and its synonyms
 * put the number on the merchant's opt-out list; START takes it off).
 * With `confirm` (a provider whose reports are not signed) a report of a
 * final state is not applied: the message's status query is run at once
 * instead (one pending query per message), and its answer is applied.
 * *applied counts what changed something (or was sent to be confirmed);
 * *early the reports about a message whose send is not recorded yet (its
 * job still runs): the caller has the provider send them again. */
enum db_status svc_channel_events(struct svc *s, const char *provider_id, const char *merchant_id,
                                  bool confirm, const struct channel_event *events, size_t n,
                                  int *applied, int *early);

/* Does link l still wait for its customer, so that sending it again (a
 * reminder, a resend after a report of non-delivery) makes sense? Sent
 * (delivered or not), never opened, not paid, not expired at `now`. */
bool svc_link_awaits_customer(const struct db_link *l, usec_t now);

/* Is the number on the merchant's opt-out list? */
enum db_status svc_opted_out(struct svc *s, const char *merchant_id, const char *msisdn, bool *out);

/* The opt-out words: 1 for STOP and its synonyms, -1 for START and its
 * synonyms, 0 otherwise (the whole reply, case-insensitive, spaces around
 * ignored). */
int svc_optout_word(const char *text);

/* The waits of a reminders setting ("10m,2h"): how many (at most
 * SVC_REMINDERS_MAX) into out; -1 when malformed. */
#define SVC_REMINDERS_MAX 5
int svc_reminders_parse(const char *text, usec_t out[SVC_REMINDERS_MAX]);

/* When a reminder due at `at` may go, given the merchant's quiet hours:
 * `at` itself, or the end of the quiet window it falls in. */
usec_t svc_quiet_release(const struct db_merchant *m, usec_t at);

#endif
