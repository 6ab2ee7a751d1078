/*
 * codes.c — the marketplace family's response codes (docs/marketplace.md)
 * and the bodies made from them.
 */
#include "api/transact/transact.h"

#include <stdlib.h>
#include <string.h>

#include "util/json.h"

static const struct mp_code_info codes[MPC__COUNT] = {
    [MPC_OK] = {"0000", 200, "Success"},
    [MPC_PROCESSING] = {"0000", 202, "Processing request"},
    [MPC_INVALID] = {"1000", 400, "Invalid request"},
    [MPC_BAD_TOKEN] = {"1001", 401, "Invalid or expired access token"},
    [MPC_BAD_API_KEY] = {"1002", 401, "Invalid API key"},
    [MPC_NEED_SIGNATURE] = {"1003", 401, "Signature required"},
    [MPC_BAD_SIGNATURE] = {"1004", 401, "Invalid signature"},
    [MPC_CLIENT_MISMATCH] = {"1005", 403, "Client mismatch"},
    [MPC_FUNDING_MISMATCH] = {"1006", 403, "Funding source mismatch"},
    [MPC_NOT_FOUND] = {"1404", 404, "Not found"},
    [MPC_METHOD] = {"1405", 405, "Method not allowed"},
    [MPC_TOO_LARGE] = {"1413", 413, "Request too large"},
    [MPC_MEDIA_TYPE] = {"1415", 415, "Unsupported media type"},
    [MPC_TOO_MANY] = {"1429", 429, "Too many requests"},
    [MPC_UNKNOWN_PRODUCT] = {"2001", 422, "Unknown product"},
    [MPC_INACTIVE] = {"2002", 422, "Product not active"},
    [MPC_BELOW_MIN] = {"2003", 422, "Amount below minimum"},
    [MPC_ABOVE_MAX] = {"2004", 422, "Amount above maximum"},
    [MPC_WRONG_FEE] = {"2005", 422, "Invalid fee amount"},
    [MPC_CURRENCY] = {"2006", 422, "Currency mismatch"},
    [MPC_DUPLICATE] = {"2007", 409, "Duplicate transaction reference"},
    [MPC_IN_PROGRESS] = {"2008", 409, "Transaction in progress"},
    [MPC_FAILED] = {"2009", 422, "Transaction failed"},
    [MPC_NOT_AVAILABLE] = {"2010", 422, "Product not available"},
    [MPC_INTERNAL] = {"9000", 500, "Internal error"},
    [MPC_UNAVAILABLE] = {"9001", 503, "Service unavailable"},
};

const struct mp_code_info *mp_code_info(enum mp_code c)
{
    return &codes[(unsigned)c < MPC__COUNT ? c : MPC_INTERNAL];
}

json_object *mp_body(enum mp_code c)
{
    const struct mp_code_info *i = mp_code_info(c);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "responseCode", json_object_new_string(i->code));
    json_object_object_add(o, "responseMessage", json_object_new_string(i->message));
    return o;
}

void mp_reply_body(struct req *r, enum mp_code c, json_object *o)
{
    reply_json(r, mp_code_info(c)->http, o);
    json_object_put(o);
}

void mp_refuse(struct req *r, enum mp_code c, const char *const *errors, size_t n)
{
    const struct mp_code_info *i = mp_code_info(c);
    json_object *o = mp_body(c);
    json_object *a = json_object_new_array();
    for (size_t k = 0; k < n; k++)
        json_object_array_add(a, json_object_new_string(errors[k]));
    if (n == 0)
        json_object_array_add(a, json_object_new_string(i->message));
    json_object_object_add(o, "errors", a);
    if (i->http == 401)
        reply_header(r, "WWW-Authenticate", "Bearer realm=\"chatpay\"");
    mp_reply_body(r, c, o);
}

void mp_refuse1(struct req *r, enum mp_code c, const char *error)
{
    mp_refuse(r, c, &error, error ? 1 : 0);
}

void mp_reply_db_error(struct req *r, enum db_status st)
{
    if (st == DB_SOFT_ERROR)
        mp_refuse1(r, MPC_UNAVAILABLE, "The database is busy; try again");
    else
        mp_refuse1(r, MPC_INTERNAL, NULL);
}

/* The code of an HTTP status the server answered by itself. */
static enum mp_code code_of_status(int status)
{
    switch (status) {
    case 400:
        return MPC_INVALID;
    case 401:
        return MPC_BAD_TOKEN;
    case 403:
        return MPC_CLIENT_MISMATCH;
    case 404:
        return MPC_NOT_FOUND;
    case 405:
        return MPC_METHOD;
    case 413:
        return MPC_TOO_LARGE;
    case 415:
        return MPC_MEDIA_TYPE;
    case 429:
        return MPC_TOO_MANY;
    case 503:
        return MPC_UNAVAILABLE;
    default:
        return MPC_INTERNAL;
    }
}

static void mp_render_error(struct req *r, int status, const char *code, const char *message,
                            const char *const *items, size_t n)
{
    (void)code;
    enum mp_code c = code_of_status(status);
    if (n > 0)
        mp_refuse(r, c, items, n);
    else
        mp_refuse1(r, c, message);
}

/* The OAuth 2.0 error shape of POST /token. */
static void token_render_error(struct req *r, int status, const char *code, const char *message,
                               const char *const *items, size_t n)
{
    (void)code;
    const char *error = status == 401   ? "invalid_client"
                        : status == 500 ? "server_error"
                        : status == 503 ? "temporarily_unavailable"
                                        : "invalid_request";
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(error));
    json_object_object_add(o, "error_description",
                           json_object_new_string(n > 0 ? items[0] : message));
    reply_json(r, status, o);
    json_object_put(o);
}

const struct http_family mp_token_family = {
    .name = "marketplace-token",
    .render_error = token_render_error,
};

const struct http_family mp_family = {
    .name = "marketplace",
    .authenticate_or_reply = mp_authenticate_or_reply,
    .render_error = mp_render_error,
};
