/*
 * errors.h — the one registry of API errors.
 *
 * Every error chatpay answers with has a code here, mapped to its HTTP status,
 * a stable machine name (the "code" member of error bodies) and a default
 * message. The HTTP layer chooses the body shape from the status (see
 * http/reply.c): 400/409/413/422 {message, errors[], code}; 401 the spec's
 * UnauthorizedErrorResponse; everything else the spec's NotFoundErrorResponse
 * {status, message, errors[], code}.
 */
#ifndef CHATPAY_CORE_ERRORS_H
#define CHATPAY_CORE_ERRORS_H

enum err_code {
    ERR_NONE = 0,
    ERR_VALIDATION,         /* 400: field problems listed in errors[] */
    ERR_MALFORMED_JSON,     /* 400: body is not JSON */
    ERR_BAD_REQUEST,        /* 400: a rule of the operation, message says which */
    ERR_MALFORMED_REQUEST,  /* 400: the HTTP request itself is ambiguous or malformed */
    ERR_UNAUTHORIZED,       /* 401: missing or wrong API key */
    ERR_FORBIDDEN,          /* 403: a signature that does not verify */
    ERR_NOT_FOUND,          /* 404: no such resource for this merchant */
    ERR_NO_ROUTE,           /* 404: no such path */
    ERR_METHOD_NOT_ALLOWED, /* 405: path exists, method does not */
    ERR_CONFLICT,           /* 409 */
    ERR_GONE,               /* 410 */
    ERR_PAYLOAD_TOO_LARGE,  /* 413 */
    ERR_UNSUPPORTED_MEDIA,  /* 415 */
    ERR_UNPROCESSABLE,      /* 422 */
    ERR_TOO_MANY_REQUESTS,  /* 429 */
    ERR_INTERNAL,           /* 500 */
    ERR_UNAVAILABLE,        /* 503 */
    ERR__COUNT
};

struct err_info {
    int http_status;
    const char *name;    /* machine code, e.g. "validation_failed" */
    const char *message; /* default human message */
};

const struct err_info *err_info(enum err_code code);

/* "404 NOT_FOUND" style text used by NotFoundErrorResponse.status. */
const char *err_status_text(int http_status);

/* The HTTP reason phrase, e.g. "Unauthorized". */
const char *err_reason(int http_status);

#endif
