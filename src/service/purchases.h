/*
 * purchases.h — marketplace purchases: accepting one (the Transact rules),
 * recording what the vendor did, and the delivery of the result to the
 * client. Each runs inside the caller's transaction and queues its jobs
 * there (see service.h).
 */
#ifndef CHATPAY_SERVICE_PURCHASES_H
#define CHATPAY_SERVICE_PURCHASES_H

#include <json-c/json.h>

#include "db/marketplace.h"
#include "service/service.h"

/* Why a purchase (or its financial terms) is refused. */
enum mp_refusal {
    MP_ACCEPTED = 0,
    MP_UNKNOWN_PRODUCT,
    MP_PRODUCT_INACTIVE,
    MP_BELOW_MIN,
    MP_ABOVE_MAX,
    MP_WRONG_FEE,
    MP_CURRENCY_MISMATCH,
    MP_DUPLICATE_REF, /* the client used this clientTxnRef for another request, or this
                         reserveFundsTxnRef for another purchase */
    MP_NOT_AVAILABLE, /* no live vendor for a production client */
};

/* The product and amount rules (Transact, Financial Terms): the product
 * exists and is active, the amount is within its limits. *p is filled when
 * the product exists; *why says what is wrong (in the arena). */
enum db_status svc_mp_terms(struct svc *s, int64_t product_id, int64_t amount,
                            struct db_mp_product *p, enum mp_refusal *refusal, const char **why);

/* Is there a vendor for a client of this environment? Only the sandbox
 * vendor exists in this version: a production client is refused
 * (MP_NOT_AVAILABLE, *why), by Transact and Financial Terms alike. */
bool svc_mp_vendor_for(int environment, enum mp_refusal *refusal, const char **why);

/* Accept purchase p (the request, with body_hash) for client c: a repeat of
 * an earlier request with the same clientTxnRef and body gives that
 * purchase back (*replay): the same body_hash, or, for a purchase stored
 * when the hash was of the raw body, raw_hash (the SHA-256 of this request's
 * raw body). Another body is MP_DUPLICATE_REF, and so is a
 * reserveFundsTxnRef that paid for another purchase; otherwise the
 * product rules, then the purchase is stored (raas_ref made here) with its
 * fulfilment job. A refusal stores nothing (*refusal, *why). */
enum db_status svc_mp_purchase_accept(struct svc *s, const struct db_mp_client *c,
                                      struct db_mp_purchase *p, const uint8_t raw_hash[32],
                                      bool *replay, enum mp_refusal *refusal, const char **why);

/* What the vendor did with a purchase. */
struct mp_fulfilment {
    enum mp_purchase_status status; /* MP_PROCESSING: not known yet (ask again) */
    const char *code, *message;     /* result code and message */
    const char *tokens;             /* JSON array text of what it issued, or NULL */
};

/* Record the vendor's answer for purchase p (read in this transaction).
 * When it is final, the result's body is made and its delivery queued
 * (when the client has a result URL). */
enum db_status svc_mp_purchase_fulfilled(struct svc *s, struct db_mp_purchase *p,
                                         const struct db_mp_client *c,
                                         const struct mp_fulfilment *f);

/* The result of a delivery try of purchase p's result: delivered, or not
 * (http: the answer's status, 0 for none). *next_at is when to try again,
 * 0 when it is over (delivered or given up after MP_RESULT_TRIES). */
#define MP_RESULT_TRIES 20
enum db_status svc_mp_result_try(struct svc *s, struct db_mp_purchase *p, int http, bool delivered,
                                 usec_t *next_at);

/* A product as the lookups and the CLI show it. */
json_object *svc_mp_product_json(const struct db_mp_product *p);

#endif
