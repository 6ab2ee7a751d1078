/*
 * errors.c — the error registry (see errors.h).
 */
#include "core/errors.h"

#include <assert.h>
#include <stddef.h>

static const struct err_info registry[ERR__COUNT] = {
    [ERR_NONE] = {200, "ok", "OK"},
    [ERR_VALIDATION] = {400, "validation_failed", "Validation failed"},
    [ERR_MALFORMED_JSON] = {400, "malformed_json", "Malformed JSON request body"},
    [ERR_BAD_REQUEST] = {400, "bad_request", "Bad request"},
    [ERR_MALFORMED_REQUEST] = {400, "malformed_request", "Malformed HTTP request"},
    [ERR_UNAUTHORIZED] = {401, "unauthorized", "Invalid Chat 2 Pay API key"},
    [ERR_FORBIDDEN] = {403, "forbidden", "Forbidden"},
    [ERR_NOT_FOUND] = {404, "not_found", "Not found"},
    [ERR_NO_ROUTE] = {404, "no_route", "No such endpoint"},
    [ERR_METHOD_NOT_ALLOWED] = {405, "method_not_allowed", "Method not allowed"},
    [ERR_CONFLICT] = {409, "conflict", "Conflict"},
    [ERR_GONE] = {410, "gone", "Gone"},
    [ERR_PAYLOAD_TOO_LARGE] = {413, "payload_too_large", "Request body too large"},
    [ERR_UNSUPPORTED_MEDIA] = {415, "unsupported_media_type",
                               "Content-Type must be application/json"},
    [ERR_UNPROCESSABLE] = {422, "unprocessable", "Unprocessable request"},
    [ERR_TOO_MANY_REQUESTS] = {429, "too_many_requests", "Too many requests"},
    [ERR_INTERNAL] = {500, "internal_error", "Internal server error"},
    [ERR_UNAVAILABLE] = {503, "unavailable", "Service unavailable"},
};

const struct err_info *err_info(enum err_code code)
{
    if ((unsigned)code >= ERR__COUNT)
        code = ERR_INTERNAL;
    return &registry[code];
}

struct status_name {
    int status;
    const char *text;   /* NotFoundErrorResponse.status enum value */
    const char *reason; /* reason phrase */
};

static const struct status_name statuses[] = {
    {200, "200 OK", "OK"},
    {201, "201 CREATED", "Created"},
    {400, "400 BAD_REQUEST", "Bad Request"},
    {401, "401 UNAUTHORIZED", "Unauthorized"},
    {403, "403 FORBIDDEN", "Forbidden"},
    {404, "404 NOT_FOUND", "Not Found"},
    {405, "405 METHOD_NOT_ALLOWED", "Method Not Allowed"},
    {408, "408 REQUEST_TIMEOUT", "Request Timeout"},
    {409, "409 CONFLICT", "Conflict"},
    {410, "410 GONE", "Gone"},
    {413, "413 PAYLOAD_TOO_LARGE", "Payload Too Large"},
    {415, "415 UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type"},
    {422, "422 UNPROCESSABLE_ENTITY", "Unprocessable Entity"},
    {429, "429 TOO_MANY_REQUESTS", "Too Many Requests"},
    {500, "500 INTERNAL_SERVER_ERROR", "Internal Server Error"},
    {503, "503 SERVICE_UNAVAILABLE", "Service Unavailable"},
};

static const struct status_name *find_status(int status)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].status == status)
            return &statuses[i];
    return NULL;
}

const char *err_status_text(int http_status)
{
    const struct status_name *s = find_status(http_status);
    return s ? s->text : "500 INTERNAL_SERVER_ERROR";
}

const char *err_reason(int http_status)
{
    const struct status_name *s = find_status(http_status);
    return s ? s->reason : "Error";
}
