/*
 * marketplace.h — the marketplace: its clients (banks and other buyers of
 * digital products), their access tokens, the product catalogue, purchases
 * and the MNO prefix table.
 *
 * Part of the storage interface (db/db.h has the transaction runner): the
 * records of this aggregate and the operations on them, reached with
 * DB_CALL(tx, marketplace, op, ...) inside db_run. A client is a tenant of
 * its own: every operation on purchases takes the client's internal id
 * (client_uuid) and scopes its query by it. Products and MNO prefixes are
 * shared by every client.
 */
#ifndef CHATPAY_DB_MARKETPLACE_H
#define CHATPAY_DB_MARKETPLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "db/merchants.h"
#include "util/arena.h"
#include "util/time.h"

enum mp_client_status { MP_CLIENT_ACTIVE = 0, MP_CLIENT_DISABLED = 1 };

struct db_mp_client {
    char id[DB_UUID_LEN]; /* internal id (tenant) */
    int64_t client_id;    /* the published clientId, 1..99999 */
    int64_t funding_source_id;
    const char *name;       /* in the arena */
    const char *result_url; /* NULL: none */
    bool require_signature;
    enum db_environment environment;
    enum mp_client_status status;
    uint8_t secret_hash[32];  /* SHA-256 of clientSecret */
    uint8_t api_key_hash[32]; /* SHA-256 of apiKey */
    char api_key_prefix[24], api_key_last4[5];
    const char *signature_secret; /* sealed (util/secretbox.h, ad = id) */
    usec_t created_at, updated_at;
};

/* How the API key of a client of environment env starts: "mak_sandbox_" or
 * "mak_live_". A key is good only while it fits its client's environment. */
const char *mp_api_key_prefix(enum db_environment env);

enum mp_product_type { MP_AIRTIME = 0, MP_DATA, MP_ELECTRICITY, MP_BILL, MP_VOUCHER };
#define MP_PRODUCT_TYPES 5
const char *mp_product_type_name(enum mp_product_type t);
bool mp_product_type_parse(const char *s, enum mp_product_type *out);
/* electricity and voucher products issue a token */
bool mp_product_issues_tokens(enum mp_product_type t);

struct db_mp_product {
    int64_t id; /* 1..99999 */
    char name[DB_NAME_MAX + 1];
    enum mp_product_type type;
    char vendor[DB_NAME_MAX + 1];
    char currency[4];
    int64_t min_amount, max_amount, fee; /* minor units */
    bool active;
    usec_t created_at, updated_at;
};

enum mp_purchase_status { MP_PROCESSING = 0, MP_SUCCESS = 1, MP_FAILED = 2 };
const char *mp_purchase_status_name(enum mp_purchase_status s);

/* The delivery of a purchase's result to the client's result URL. */
enum mp_result_state {
    MP_RESULT_NONE = 0, /* the client has no result URL */
    MP_RESULT_PENDING,  /* to be delivered (or the purchase is not over) */
    MP_RESULT_DELIVERED,
    MP_RESULT_FAILED, /* given up */
};
const char *mp_result_state_name(enum mp_result_state s);

struct db_mp_purchase {
    int64_t id;
    char raas_ref[DB_UUID_LEN];
    char client_uuid[DB_UUID_LEN];
    uint8_t body_hash[32]; /* SHA-256 of the request's fields, its timestamp left out */
    /* the request; strings in the arena (NULL: not given) */
    /* account_identifier is stored masked (all but its last 4 characters as
     * '*') and auth_code not at all (NULL): body_hash covers both as sent */
    const char *client_txn_ref, *reserve_ref, *account_identifier, *auth_code;
    const char *source_identifier, *target_identifier;
    const char *channel_name, *channel_session_id, *request_timestamp, *additional_data;
    int64_t product_id, funding_source_id, channel_id;
    char currency[4];
    int64_t purchase_amount, fee_amount;
    /* the fulfilment */
    enum mp_purchase_status status;
    const char *result_code, *result_message; /* NULL while nothing is known */
    const char *tokens;                       /* JSON array text, NULL when none */
    int status_checks;                        /* times the vendor was asked again */
    /* the result's delivery */
    const char *result_body; /* made when the purchase ends */
    enum mp_result_state result_state;
    int result_attempts, result_last_http;
    usec_t result_delivered_at; /* 0: not delivered */
    usec_t created_at, updated_at, completed_at;
};

/* Which purchase: by any of its references (NULL: not given); all that are
 * given must match. */
struct db_mp_refs {
    const char *raas_ref, *client_txn_ref, *reserve_ref;
};

struct db_mp_mno {
    char prefix[16];
    char mno[DB_NAME_MAX + 1];
    char country_code[8]; /* "" when none */
};

typedef void (*db_mp_client_cb)(void *cls, const struct db_mp_client *c);
typedef void (*db_mp_product_cb)(void *cls, const struct db_mp_product *p);
typedef void (*db_mp_purchase_cb)(void *cls, const struct db_mp_purchase *p);

/* The live access tokens a marketplace client holds at most (a client asks
 * for one every few minutes: a new one beyond these ends the oldest). */
enum { MP_TOKENS_LIVE_MAX = 100 };

struct db_marketplace_ops {
    /* clients (changes advance the configuration epoch) */
    enum db_status (*client_insert)(struct db_tx *tx, const struct db_mp_client *c);
    enum db_status (*client_get)(struct db_tx *tx, int64_t client_id, struct arena *a,
                                 struct db_mp_client *out);
    enum db_status (*client_get_by_uuid)(struct db_tx *tx, const char *uuid, struct arena *a,
                                         struct db_mp_client *out);
    /* name, funding source, result URL, signature, environment, status */
    enum db_status (*client_update)(struct db_tx *tx, const struct db_mp_client *c);
    enum db_status (*client_list)(struct db_tx *tx, struct arena *a, db_mp_client_cb cb, void *cls);

    /* access tokens: stored as the SHA-256 of the token; the client's
     * expired ones are dropped, and its oldest live ones beyond the newest
     * MP_TOKENS_LIVE_MAX */
    enum db_status (*token_insert)(struct db_tx *tx, const uint8_t hash[32],
                                   const char *client_uuid, usec_t expires_at, usec_t now);
    /* the active client of an unexpired token (and when it expires) */
    enum db_status (*token_find)(struct db_tx *tx, const uint8_t hash[32], usec_t now,
                                 struct arena *a, struct db_mp_client *out, usec_t *expires_at);
    /* drop at most `limit` of the tokens that expired before `before`, the
     * first expired first: how many it dropped */
    enum db_status (*token_purge)(struct db_tx *tx, usec_t before, int limit);

    /* the catalogue */
    enum db_status (*product_insert)(struct db_tx *tx, const struct db_mp_product *p);
    enum db_status (*product_get)(struct db_tx *tx, int64_t id, struct db_mp_product *out);
    /* name, vendor, amounts, fee, active */
    enum db_status (*product_update)(struct db_tx *tx, const struct db_mp_product *p);
    /* ordered by id; type -1: every type */
    enum db_status (*product_list)(struct db_tx *tx, int type, db_mp_product_cb cb, void *cls);
    enum db_status (*product_count)(struct db_tx *tx, int64_t *n);

    /* purchases: DB_NO_RESULTS when the client has one with this
     * client_txn_ref already (nothing inserted); sets p->id */
    enum db_status (*purchase_insert)(struct db_tx *tx, struct db_mp_purchase *p);
    enum db_status (*purchase_find)(struct db_tx *tx, const char *client_uuid,
                                    const struct db_mp_refs *refs, struct arena *a,
                                    struct db_mp_purchase *out);
    enum db_status (*purchase_get)(struct db_tx *tx, int64_t id, struct arena *a,
                                   struct db_mp_purchase *out);
    /* record the fulfilment: status, result code/message, tokens,
     * status_checks, result_body, result_state, completed_at (0: not over),
     * updated_at */
    enum db_status (*purchase_fulfilment)(struct db_tx *tx, const struct db_mp_purchase *p);
    /* record a try of the result's delivery: result_state, attempts,
     * last_http, delivered_at, updated_at */
    enum db_status (*purchase_result_try)(struct db_tx *tx, const struct db_mp_purchase *p);
    /* the client's PROCESSING purchases of this source, target, product and
     * amount, but for those with one of the references in `except` (may be
     * NULL; NULL members match nothing); at most `limit`, oldest first */
    enum db_status (*purchase_in_flight)(struct db_tx *tx, const char *client_uuid,
                                         const struct db_mp_purchase *like,
                                         const struct db_mp_refs *except, int limit,
                                         struct arena *a, db_mp_purchase_cb cb, void *cls);

    /* the MNO prefix table */
    enum db_status (*mno_clear)(struct db_tx *tx);
    enum db_status (*mno_insert)(struct db_tx *tx, const struct db_mp_mno *m);
    /* the longest prefix of msisdn (digits) in the table */
    enum db_status (*mno_lookup)(struct db_tx *tx, const char *msisdn, struct db_mp_mno *out);
    enum db_status (*mno_count)(struct db_tx *tx, int64_t *n);
};

const struct db_marketplace_ops *db_marketplace_ops(struct db_tx *tx);

#endif
