/*
 * api.h — the route table of every API family, and helpers all families
 * share.
 *
 * Each family lives in its own folder (api/chat2pay/, api/pages/,
 * api/ops/) with a header that declares its family (authentication, error
 * bodies, hooks: struct http_family) and its handlers. One file per
 * endpoint, all of one shape: a context struct, a field spec for the body
 * (if any), a validate step, a transaction callback that makes one service
 * call, and one reply builder.
 */
#ifndef CHATPAY_API_API_H
#define CHATPAY_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include "core/provider.h"
#include "db/db.h"
#include "http/http.h"

extern const struct route api_routes[];
extern const size_t api_route_count;

/* The family that answers requests matching no route. */
extern const struct http_family *const api_fallback_family;

/* Answer a failed db_run: 503 for transient trouble, 500 for faults. */
void api_reply_db_error(struct req *r, enum db_status st);

/* The request as a provider's inbound call (a webhook, a gateway's form
 * POST) for its kind to check: public URL, `rest` (the path after the
 * provider's token, or what the caller names it), headers, query, raw body.
 * Valid for the request's life. */
struct provider_inbound api_inbound_request(struct req *r, const char *rest);

/* The masked form of the caller's key: prefix, stars, last four. */
const char *api_masked_key(struct req *r);

/* The query parameter `limit`: *out keeps its default when absent; a value
 * that is not a whole number from 1 to max is added to errs. */
struct field_errors;
void api_query_limit(struct req *r, int max, int *out, struct field_errors *errs);

#endif
