/*
 * merchants.h — merchants and what belongs to them: currencies, API keys,
 * integrators (applications), payment gateway settings.
 *
 * Part of the storage interface (db/db.h has the transaction runner): the
 * records of this aggregate and the operations on them, which callers reach
 * with DB_CALL(tx, group, op, ...) inside db_run. Every operation that
 * touches merchant data takes the merchant id and scopes its query by it.
 */
#ifndef CHATPAY_DB_MERCHANTS_H
#define CHATPAY_DB_MERCHANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#include "util/arena.h"
#include "util/time.h"

enum db_environment { ENV_SANDBOX = 0, ENV_PRODUCTION = 1 };
enum integrator_status { INTEGRATOR_ACTIVATED = 0, INTEGRATOR_DEACTIVATED, INTEGRATOR_DELETED };
enum integrator_type { INTEGRATOR_OMS = 0, INTEGRATOR_CLICKATELL_PRODUCT, INTEGRATOR_APPLICATION };

const char *db_environment_name(enum db_environment e); /* "SANDBOX" / "PRODUCTION" */
bool db_environment_parse(const char *s, enum db_environment *out);
const char *db_integrator_status_name(enum integrator_status s);
bool db_integrator_status_parse(const char *s, enum integrator_status *out);
const char *db_integrator_type_name(enum integrator_type t);
bool db_integrator_type_parse(const char *s, enum integrator_type *out);

struct db_merchant {
    char id[DB_UUID_LEN];
    char name[DB_NAME_MAX + 1];
    enum db_environment environment;
    bool sms_enabled;
    bool whatsapp_enabled;
    usec_t created_at;
    usec_t updated_at;              /* last change to the merchant's configuration */
    int default_transaction_type;   /* TXN_SALE or TXN_AUTHORIZATION (core/status.h) */
    int64_t link_ttl_s;             /* an unopened link expires after this many seconds */
    int64_t click_ttl_s;            /* the first open extends the link to now + this */
    int64_t page_ttl_s;             /* the payment page lives this long after the first open */
    char sms_from[16];              /* sender number for SMS ("" = the provider's default) */
    char whatsapp_from[16];         /* sender number for WhatsApp */
    int max_payment_attempts;       /* failed payments allowed on one link before it locks */
    int64_t settlement_delay_s;     /* a sale or capture settles this long after it succeeded */
    int64_t review_settle_s;        /* sandbox: a REVIEW outcome is decided this long after */
    char sms_provider[DB_UUID_LEN]; /* the provider that carries SMS ("" none) */
    char whatsapp_provider[DB_UUID_LEN]; /* the provider that carries WhatsApp ("" none) */
    char gateway_provider[DB_UUID_LEN];  /* the payment gateway ("" none: the sandbox's for a
                                            sandbox merchant, none for a production one) */
    bool fallback_sms;                   /* a WhatsApp link that cannot be sent goes out by SMS */
    char reminders[64];           /* waits after the first send for reminders ("10m,2h"; "" none) */
    int quiet_start;              /* reminders are held from this minute of the day... (none when
                                     negative or equal to quiet_end) */
    int quiet_end;                /* ...until this one (local time of `timezone`) */
    char timezone[64];            /* IANA name, for quiet hours */
    char wa_template[128];        /* WhatsApp template outside the 24-hour window ("" none) */
    char wa_template_lang[16];    /* its language code */
    char wa_template_params[128]; /* what fills its body parameters, in order (comma list of
                                     merchant, amount, order, url) */
    /* read only (set with merchants.logo_set): */
    char logo_type[16]; /* media type of the logo, "" when none */
    int64_t logo_bytes; /* its size */
};

/* A merchant's logo (the bytes live in the arena given to the read). */
struct db_logo {
    char type[16]; /* "image/png", "image/jpeg", "image/webp", "image/svg+xml" */
    const void *data;
    size_t len;
    usec_t updated_at; /* the merchant's updated_at */
};

/* Defaults of a new merchant (the published API's behaviour). */
#define DB_DEFAULT_LINK_TTL_S       300
#define DB_DEFAULT_CLICK_TTL_S      900
#define DB_DEFAULT_PAGE_TTL_S       900
#define DB_DEFAULT_PAYMENT_ATTEMPTS 3
#define DB_DEFAULT_SETTLEMENT_S     86400
#define DB_DEFAULT_REVIEW_S         60

/* A supported currency of a merchant, in the merchant's order. */
struct db_currency {
    char code[4];
    bool is_default;
};

struct db_integrator {
    char application_id[DB_UUID_LEN];
    char name[DB_NAME_MAX + 1];
    enum integrator_type type;
    enum integrator_status status;
    usec_t created_at;
    usec_t updated_at;
};

/* What a valid API key tells about its caller. */
struct db_api_key {
    char id[DB_KEY_ID_LEN]; /* public key id, e.g. for revocation */
    char merchant_id[DB_UUID_LEN];
    char prefix[24]; /* "cp_sandbox_" / "cp_live_" */
    char last4[5];
    usec_t created_at;
    usec_t revoked_at;                /* 0 when active */
    enum db_environment merchant_env; /* read only: its merchant's environment now */
};

/* The key prefix of an environment: "cp_sandbox_" or "cp_live_". A key
 * works only while its merchant is in the environment of its prefix. */
const char *db_key_prefix(enum db_environment env);

typedef void (*db_merchant_cb)(void *cls, const struct db_merchant *m);
typedef void (*db_api_key_cb)(void *cls, const struct db_api_key *k);
typedef void (*db_integrator_cb)(void *cls, const struct db_integrator *it);

struct db_callback_config; /* db/callbacks.h */

struct db_merchants_ops {
    enum db_status (*insert)(struct db_tx *tx, const struct db_merchant *m);
    enum db_status (*get)(struct db_tx *tx, const char *merchant_id, struct db_merchant *out);
    enum db_status (*update)(struct db_tx *tx, const struct db_merchant *m);
    enum db_status (*touch)(struct db_tx *tx, const char *merchant_id, usec_t now);
    enum db_status (*count)(struct db_tx *tx, int64_t *n);
    enum db_status (*list)(struct db_tx *tx, db_merchant_cb cb, void *cls);
    /* set the logo (type: a media type, data/len its bytes) or remove it
     * (type NULL); updated_at becomes now. DB_NO_RESULTS: no merchant */
    enum db_status (*logo_set)(struct db_tx *tx, const char *merchant_id, const char *type,
                               const void *data, size_t len, usec_t now);
    /* DB_NO_RESULTS when the merchant has no logo or does not exist */
    enum db_status (*logo_get)(struct db_tx *tx, const char *merchant_id, struct arena *a,
                               struct db_logo *out);
    /* get, and the merchant's callback configuration (callbacks.config_get)
     * with it, in one read */
    enum db_status (*get_with_callbacks)(struct db_tx *tx, const char *merchant_id,
                                         struct db_merchant *out, struct arena *a,
                                         struct db_callback_config *cfg);
};

struct db_currencies_ops {
    /* replace the whole list: codes in order, the first is the default */
    enum db_status (*set)(struct db_tx *tx, const char *merchant_id, const struct db_currency *list,
                          size_t n);
    enum db_status (*list)(struct db_tx *tx, const char *merchant_id, struct db_currency *out,
                           size_t cap, size_t *n);
};

struct db_api_keys_ops {
    enum db_status (*insert)(struct db_tx *tx, const struct db_api_key *k, const uint8_t hash[32]);
    /* an active (not revoked) key by the SHA-256 of its full text */
    enum db_status (*find_by_hash)(struct db_tx *tx, const uint8_t hash[32], struct db_api_key *out,
                                   uint8_t stored_hash[32]);
    /* DB_NO_RESULTS when there is no such active key; merchant_id: the key's */
    enum db_status (*revoke)(struct db_tx *tx, const char *key_id, usec_t now,
                             char merchant_id[DB_UUID_LEN]);
    enum db_status (*list)(struct db_tx *tx, const char *merchant_id, db_api_key_cb cb, void *cls);
};

struct db_settings_ops {
    /* is `id` one of the merchant's payment gateway settings? */
    enum db_status (*gateway_settings_exists)(struct db_tx *tx, const char *merchant_id,
                                              const char *id);
    enum db_status (*gateway_settings_insert)(struct db_tx *tx, const char *merchant_id,
                                              const char *id, const char *name, usec_t now);
};

struct db_integrators_ops {
    enum db_status (*insert)(struct db_tx *tx, const char *merchant_id,
                             const struct db_integrator *it);
    enum db_status (*get)(struct db_tx *tx, const char *merchant_id, const char *app_id,
                          struct db_integrator *out);
    enum db_status (*set_status)(struct db_tx *tx, const char *merchant_id, const char *app_id,
                                 enum integrator_status st, usec_t now);
    /* oldest first */
    enum db_status (*list)(struct db_tx *tx, const char *merchant_id, db_integrator_cb cb,
                           void *cls);
};

const struct db_merchants_ops *db_merchants_ops(struct db_tx *tx);
const struct db_currencies_ops *db_currencies_ops(struct db_tx *tx);
const struct db_api_keys_ops *db_api_keys_ops(struct db_tx *tx);
const struct db_settings_ops *db_settings_ops(struct db_tx *tx);
const struct db_integrators_ops *db_integrators_ops(struct db_tx *tx);

#endif
