/*
 * providers.h — a merchant's messaging providers (their settings, sealed
 * secrets and health), every message sent through a channel with the
 * provider's id for it, and the numbers that opted out.
 *
 * Part of the storage interface (db/db.h has the transaction runner). Every
 * operation that touches merchant data takes the merchant id and scopes its
 * query by it; the inbound webhooks find a provider by its id (the URL's)
 * and then check the token stored with it.
 */
#ifndef CHATPAY_DB_PROVIDERS_H
#define CHATPAY_DB_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "util/arena.h"
#include "util/time.h"

#define DB_PROVIDER_KIND_MAX 24
#define DB_TOKEN_LEN         48 /* an inbound URL token: 43 base62 characters and the NUL */

/* A configured messaging provider of a merchant. Strings live in the arena
 * given to the read. */
struct db_provider {
    char id[DB_UUID_LEN]; /* "prv_" + base62 */
    char merchant_id[DB_UUID_LEN];
    char kind[DB_PROVIDER_KIND_MAX]; /* "clickatell", "whatsapp-cloud", "twilio" */
    const char *settings;            /* JSON object of the settings that are not secret */
    const char *secrets;             /* the secret ones: a JSON object sealed (util/secretbox) */
    char inbound_token[DB_TOKEN_LEN];
    bool live;                 /* a gateway's credentials are live ones (production) */
    bool healthy;              /* false once the provider refused its credentials */
    const char *health_reason; /* why not (NULL when healthy) */
    usec_t health_at;
    usec_t created_at, updated_at;
};

/* What a message sent through a channel was for. */
enum provider_message_purpose {
    PM_LINK = 1, /* the payment link (also a reminder or a fallback) */
    PM_CANCEL,   /* the cancellation notice */
    PM_RECEIPT,  /* the receipt link */
};

/* Where a message is, as its provider last reported it (forward only). */
enum provider_message_state {
    PM_UNKNOWN = 0, /* the provider did not answer the send: it may have it */
    PM_SENT,        /* the provider took it */
    PM_DELIVERED,   /* on the customer's phone (or read) */
    PM_FAILED,      /* not delivered */
};

struct db_provider_message {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
    char provider_id[DB_UUID_LEN]; /* "sandbox" for the sandbox channel */
    int64_t link_id;
    int purpose;           /* enum provider_message_purpose */
    int channel;           /* CHANNEL_SMS / CHANNEL_WHATSAPP */
    char ref[40];          /* ours, sent along where the provider echoes it */
    char provider_ref[96]; /* the provider's id of the message ("" until known) */
    int state;             /* enum provider_message_state */
    char status[32];       /* the provider's last status name */
    usec_t status_at;      /* the provider's time of that status (0: none yet) */
    usec_t created_at;
};

typedef void (*db_provider_cb)(void *cls, const struct db_provider *p);

struct db_providers_ops {
    enum db_status (*insert)(struct db_tx *tx, const struct db_provider *p);
    /* by id within a merchant (merchant_id NULL: any merchant, for inbound
     * webhooks, which then check the token) */
    enum db_status (*get)(struct db_tx *tx, const char *merchant_id, const char *id,
                          struct arena *a, struct db_provider *out);
    enum db_status (*list)(struct db_tx *tx, const char *merchant_id, struct arena *a,
                           db_provider_cb cb, void *cls);
    /* store settings, secrets and updated_at */
    enum db_status (*update)(struct db_tx *tx, const struct db_provider *p);
    /* DB_NO_RESULTS when there was no such provider */
    enum db_status (*remove)(struct db_tx *tx, const char *merchant_id, const char *id);
    /* healthy, or not with the reason; DB_NO_RESULTS when it was so already */
    enum db_status (*set_health)(struct db_tx *tx, const char *id, bool healthy, const char *reason,
                                 usec_t now);
    /* every provider (the registry of a process) */
    enum db_status (*list_all)(struct db_tx *tx, struct arena *a, db_provider_cb cb, void *cls);

    /* messages: sets m->id; DB_NO_RESULTS when `ref` is taken (sent before) */
    enum db_status (*message_insert)(struct db_tx *tx, struct db_provider_message *m);
    /* by id (jobs), by the provider's id, or by our ref (inbound) */
    enum db_status (*message_get)(struct db_tx *tx, int64_t id, struct db_provider_message *out);
    enum db_status (*message_find)(struct db_tx *tx, const char *provider_id,
                                   const char *provider_ref, const char *ref,
                                   struct db_provider_message *out);
    /* store provider_ref, state, status, status_at */
    enum db_status (*message_update)(struct db_tx *tx, const struct db_provider_message *m);
    /* may one of the link's messages (PM_LINK: the link, a reminder, a
     * resend) have reached the customer: taken by the provider, or its
     * answer lost, and not reported failed? DB_ONE_RESULT when one may */
    enum db_status (*link_reached)(struct db_tx *tx, const char *merchant_id, int64_t link_id);

    /* opt-outs: DB_NO_RESULTS when it was so already (its time becomes
     * `at` when that is later). An opt-out last made at `at` is removed only
     * by a removal made at `at` or later (`until`): a re-delivered old START
     * does not lift a newer STOP, even one that repeated an older STOP. */
    enum db_status (*optout_add)(struct db_tx *tx, const char *merchant_id, const char *msisdn,
                                 const char *source, usec_t at);
    enum db_status (*optout_remove)(struct db_tx *tx, const char *merchant_id, const char *msisdn,
                                    usec_t until);
    /* DB_ONE_RESULT when the number opted out. Removal and lookup match
     * either form of a number (util/msisdn.h: a Brazilian or Mexican
     * WhatsApp sender's wa_id and the number dialled). */
    enum db_status (*optout_get)(struct db_tx *tx, const char *merchant_id, const char *msisdn);
    enum db_status (*optout_list)(struct db_tx *tx, const char *merchant_id, struct arena *a,
                                  void (*cb)(void *cls, const char *msisdn, const char *source,
                                             usec_t at),
                                  void *cls);

    /* a gateway's notices already handled (dropped when they come again):
     * seen → DB_ONE_RESULT; add keeps one (DB_NO_RESULTS when it was there);
     * purge drops at most `limit` of those received before `before`, the
     * oldest first, and says how many */
    enum db_status (*notice_seen)(struct db_tx *tx, const char *provider_id, const char *event_id);
    enum db_status (*notice_add)(struct db_tx *tx, const char *provider_id, const char *event_id,
                                 usec_t now);
    enum db_status (*notice_purge)(struct db_tx *tx, usec_t before, int limit);
};

const struct db_providers_ops *db_providers_ops(struct db_tx *tx);

#endif
