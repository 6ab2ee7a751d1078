/*
 * callbacks.h — merchant callbacks (Chat 2 Pay's three kinds), queued by the
 * changes that cause them, in the same transaction (see service.h).
 *
 *   payment status     after every change of a link's payment status (an
 *                      outcome, reversal, void, review settled, auto
 *                      reversal) and after a capture (which leaves it
 *                      SUCCESS): the link as transaction-status shows it at
 *                      that moment
 *   transaction event  on every entry of a link's history, except the
 *                      entries about payment status notifications
 *                      themselves: {paymentLinkRef, orderNumber,
 *                      transactionStatus, transactionStatusId, timestamp,
 *                      from, to, applicationId}
 *   settings           on every change of the merchant's configuration: the
 *                      GET /api/v2/config reply plus `changed`
 *
 * A link's callbacks go to its integrator's URL of that kind when the link
 * has an applicationId whose integrator (not deleted) has one, else to the
 * merchant's. Settings callbacks go to the merchant's URL and to every
 * integrator's (not deleted), one callback for each of these recipients.
 * Nothing is queued where no URL is set.
 *
 * Each event is a row of the delivery log (db/callbacks.h) with its own
 * webhook-id, and a JOB_DELIVER_CALLBACK job delivers it (jobs/
 * deliver_callback.c): signed with the merchant's secret (util/webhook.h),
 * whoever the recipient, delivered when the URL answers 200 within 15
 * seconds, else tried again after each wait of the retry schedule (setting
 * callback_retry_schedule) and then given up. Each try and each replay goes
 * where the rule above points at that moment (svc_cb_destination): a URL
 * replaced, cleared or taken over by the merchant's (an integrator deleted)
 * counts from the next try on.
 */
#ifndef CHATPAY_SERVICE_CALLBACKS_H
#define CHATPAY_SERVICE_CALLBACKS_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "db/callbacks.h"
#include "db/links.h"
#include "db/merchants.h"
#include "service/service.h"
#include "util/webhook.h"

/* Queue link l's payment status callback (after its payment status changed
 * and the change is in its history). */
enum db_status svc_cb_payment_status(struct svc *s, const struct db_link *l);

/* Read merchant merchant_id into *m together with its callback
 * configuration (merchants.get_with_callbacks, one read; strings in s->a),
 * which the callbacks queued later in this transaction then use instead of
 * reading it again. For a transaction that may record history: DB_ONE_RESULT,
 * DB_NO_RESULTS (no such merchant) or an error. */
enum db_status svc_merchant_get(struct svc *s, const char *merchant_id, struct db_merchant *m);

/* Queue link l's transaction event callback for history entry e (svc_history
 * calls it for every entry). */
enum db_status svc_cb_transaction_event(struct svc *s, const struct db_link *l,
                                        const struct db_link_status *e);

/* Queue a payment status callback of the merchant's own (of no link: a
 * WhatsApp Pay order's payment or refund) with this body, to the
 * merchant's payment status URL (nothing when it has none). */
enum db_status svc_cb_merchant_payment(struct svc *s, const char *merchant_id, const char *body);
/* The merchant's configuration changed: queue its settings callbacks with
 * the names (of GET /api/v2/config's fields) of what changed. */
enum db_status svc_cb_settings(struct svc *s, const char *merchant_id, const char *const *changed,
                               size_t n);

/* The merchant's signing secret into out, made now when it has none.
 * DB_NO_RESULTS: no such merchant. */
enum db_status svc_cb_secret(struct svc *s, const char *merchant_id, char out[WEBHOOK_SECRET_LEN]);

/* A new signing secret into out; the one it replaces keeps signing too for
 * SVC_CB_ROTATION_OVERLAP. */
#define SVC_CB_ROTATION_OVERLAP (24LL * 3600 * 1000000)
enum db_status svc_cb_rotate_secret(struct svc *s, const char *merchant_id,
                                    char out[WEBHOOK_SECRET_LEN]);

/* Set (url) or clear (NULL) the merchant's URL of a kind, or an
 * integrator's (app_id not NULL). The URL has been checked by the caller
 * (net_check_url). DB_NO_RESULTS: no such merchant or integrator. */
enum db_status svc_cb_url_set(struct svc *s, const char *merchant_id, const char *app_id, int kind,
                              const char *url);

/* Where delivery cb goes now: *url, its recipient's current URL (the
 * rule above: a link's callback follows its link; a settings callback, and
 * a merchant's own payment status callback, their recipient), strings in
 * s->a. *url NULL when the recipient has none any more, and *none then
 * says why ("the callback URL was removed", "the integrator was
 * deleted"). */
enum db_status svc_cb_destination(struct svc *s, const struct db_callback *cb, const char **url,
                                  const char **none);

/* The most tries one callback takes, first round and replays together:
 * each try is kept with it and, for a link's callback, adds to the link's
 * history. */
enum { CB_TRIES_MAX = 100 };

/* The outcome of one try of delivery `cb` (read in this transaction): the
 * try goes into the log (a->url: where it went, which becomes cb's url),
 * the delivery is done, failed or due again at *next_at (0 when it is
 * over), and a payment status callback's link history records
 * PAYMENT_STATUS_NOTIFICATION_SENT (first try) and then
 * _DELIVERY_SUCCESSFUL or _DELIVERY_FAILED with the HTTP status. The
 * waits between tries are s->cfg's retry schedule; it is given up after
 * the last of them, at once when `last` (there is nowhere to send it), and
 * once it has been tried CB_TRIES_MAX times in all. */
enum db_status svc_cb_attempt(struct svc *s, struct db_callback *cb,
                              const struct db_callback_attempt *a, bool delivered, bool last,
                              usec_t *next_at);

/* The merchant asks for delivery `ref` again (same webhook-id, new
 * timestamp and signature): a new round of tries begins now, to where its
 * recipient wants it now (cb->url), and ends given up once the delivery
 * has been tried CB_TRIES_MAX times in all. Refused (*refused,
 * DB_ROLLBACK) while the delivery is still being tried, once it has been
 * tried CB_TRIES_MAX times, or when its recipient has no URL any more;
 * DB_NO_RESULTS when the merchant has no such delivery. */
enum db_status svc_cb_replay(struct svc *s, const char *merchant_id, const char *ref,
                             struct db_callback *cb, const char **refused);

/* The delivery log: the merchant's deliveries, newest first, each with
 * every try ({"data": [...], "hasMore"}). link_ref (NULL: all) limits it to
 * one link's, state (-1: any) to one state; starting_after (NULL: from the
 * newest) continues after that delivery. *problem names a parameter that
 * does not fit (DB_ROLLBACK); DB_NO_RESULTS: no such link. */
enum db_status svc_cb_list(struct svc *s, const char *merchant_id, const char *link_ref, int state,
                           const char *starting_after, int limit, json_object **out,
                           const char **problem);

/* One delivery as the log shows it (reads its tries). */
enum db_status svc_cb_view(struct svc *s, const struct db_callback *cb, json_object **out);

/* "payment_status", "transaction_event", "settings" ("" otherwise). */
const char *svc_cb_kind_name(int kind);
/* "pending", "delivered", "failed" ("" otherwise); and back (-1: unknown). */
const char *svc_cb_state_name(int state);
int svc_cb_state_parse(const char *name);

#endif
