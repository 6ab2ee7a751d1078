/*
 * links.h — helpers shared by the payment-link endpoints.
 */
#ifndef CHATPAY_API_LINKS_H
#define CHATPAY_API_LINKS_H

#include "db/db.h"
#include "db/links.h"
#include "db/merchants.h"
#include "http/http.h"

struct app;

/* A new paymentLinkRef (128 random bits, base62) into out[DB_REF_LEN]. */
void links_new_ref(char *out);
/* A new page token (96 random bits, base62, 17 characters) into out[DB_REF_LEN]. */
void links_new_token(char *out);
/* "<public-url>/p/<token>" in the request's arena. */
const char *links_url(struct req *r, const char *token);

/* Tell the background workers that a job is waiting (they also poll). */
void links_wake_workers(struct app *app);

/* An amount in minor units as a JSON number with the currency's decimals
 * ("12.50"), printed exactly as written. */
json_object *links_amount_json(int64_t minor, const char *currency);

/* The customer opens the link for the first time (the page, or the Pay
 * button straight away): PAYMENT_LINK_CLICKED, the link lives click TTL from
 * now and the payment page page TTL. Updates *l and stores it, inside tx. */
enum db_status links_first_open(struct db_tx *tx, struct db_link *l, const struct db_merchant *m,
                                usec_t now);

/* TransactionStatusEndpointResponse of a link. Reads the history and the
 * integrator through tx. */
enum db_status links_status_json(struct db_tx *tx, struct arena *a, const struct db_link *l,
                                 enum db_environment env, json_object **out);

#endif
