/*
 * transact.h — the marketplace family: the Security Service (access
 * tokens), Transact, and the lookups (see docs/marketplace.md).
 *
 * Two families: `mp_token_family` for POST /token (no authentication;
 * OAuth 2.0 error bodies) and `mp_family` for the rest (an access token and
 * the client's API key; bodies with a 4-digit responseCode from one
 * registry, codes.c).
 */
#ifndef CHATPAY_API_TRANSACT_TRANSACT_H
#define CHATPAY_API_TRANSACT_TRANSACT_H

#include <stdbool.h>

#include "api/api.h"
#include "db/marketplace.h"
#include "http/http.h"
#include "service/purchases.h"

extern const struct http_family mp_family;
extern const struct http_family mp_token_family;

/* The family's authentication (auth.c). */
bool mp_authenticate_or_reply(struct req *r);

/* The registry of response codes. */
enum mp_code {
    MPC_OK,               /* 0000 */
    MPC_PROCESSING,       /* 0000, 202 */
    MPC_INVALID,          /* 1000 */
    MPC_BAD_TOKEN,        /* 1001 */
    MPC_BAD_API_KEY,      /* 1002 */
    MPC_NEED_SIGNATURE,   /* 1003 */
    MPC_BAD_SIGNATURE,    /* 1004 */
    MPC_CLIENT_MISMATCH,  /* 1005 */
    MPC_FUNDING_MISMATCH, /* 1006 */
    MPC_NOT_FOUND,        /* 1404 */
    MPC_METHOD,           /* 1405 */
    MPC_TOO_LARGE,        /* 1413 */
    MPC_MEDIA_TYPE,       /* 1415 */
    MPC_TOO_MANY,         /* 1429 */
    MPC_UNKNOWN_PRODUCT,  /* 2001 */
    MPC_INACTIVE,         /* 2002 */
    MPC_BELOW_MIN,        /* 2003 */
    MPC_ABOVE_MAX,        /* 2004 */
    MPC_WRONG_FEE,        /* 2005 */
    MPC_CURRENCY,         /* 2006 */
    MPC_DUPLICATE,        /* 2007 */
    MPC_IN_PROGRESS,      /* 2008 */
    MPC_FAILED,           /* 2009 */
    MPC_NOT_AVAILABLE,    /* 2010 */
    MPC_INTERNAL,         /* 9000 */
    MPC_UNAVAILABLE,      /* 9001 */
    MPC__COUNT
};

struct mp_code_info {
    const char *code; /* 4 digits */
    int http;
    const char *message;
};
const struct mp_code_info *mp_code_info(enum mp_code c);

/* A body with responseCode and responseMessage of `c` (the caller adds its
 * fields and replies with mp_reply_body). */
json_object *mp_body(enum mp_code c);
void mp_reply_body(struct req *r, enum mp_code c, json_object *o); /* puts o */
/* A refusal: `c` with errors[] = the problems given (or its message). */
void mp_refuse(struct req *r, enum mp_code c, const char *const *errors, size_t n);
void mp_refuse1(struct req *r, enum mp_code c, const char *error);
/* A failed db_run: 9001 for transient trouble, 9000 for faults. */
void mp_reply_db_error(struct req *r, enum db_status st);

/* The authenticated client (mp_family routes), in the request's arena. */
struct mp_auth {
    char uuid[DB_UUID_LEN];
    int64_t client_id, funding_source_id;
    bool require_signature;
    enum db_environment environment;
    const char *signature_secret; /* sealed */
};
const struct mp_auth *mp_auth(const struct req *r);

/* Query parameters. A whole number from min to max (required: a missing
 * one is an error too); false (and an error added) when it is not. */
bool mp_query_int(struct req *r, const char *name, int64_t min, int64_t max, bool required,
                  int64_t *out, struct field_errors *errs);
/* A text parameter of at most max characters (NULL when absent). */
const char *mp_query_text(struct req *r, const char *name, size_t max, struct field_errors *errs);
/* clientId (required, the caller's: else 1005 is answered and false
 * returned) and the references of a purchase (at least one required). */
bool mp_query_client_or_reply(struct req *r, struct field_errors *errs);
void mp_query_refs(struct req *r, struct db_mp_refs *refs, struct field_errors *errs);

/* The code of a refusal of the purchase rules. */
enum mp_code mp_refusal_code(enum mp_refusal f);

/* The purchase a lookup names (clientId and its references in the query)
 * and its product; false after answering (400, 403, 404, 503). */
bool mp_find_purchase_or_reply(struct req *r, struct db_mp_purchase *out,
                               struct db_mp_product *product);

/* handlers */
void api_mp_token(struct req *r);
void api_mp_transact(struct req *r);
void api_mp_lookup(struct req *r);
void api_mp_financial_terms(struct req *r);
void api_mp_products(struct req *r);
void api_mp_product(struct req *r);
void api_mp_in_flight(struct req *r);
void api_mp_mno(struct req *r);
void api_mp_token_lookup(struct req *r);

#endif
