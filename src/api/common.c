/*
 * common.c — small helpers shared by handlers.
 */
#include "api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"

void api_reply_db_error(struct req *r, enum db_status st)
{
    if (st == DB_SOFT_ERROR)
        reply_error(r, ERR_UNAVAILABLE, "The database is busy; try again");
    else
        reply_error(r, ERR_INTERNAL, NULL);
}

const char *api_masked_key(struct req *r)
{
    return arena_printf(r->arena, "%s****%s", r->auth.key_prefix, r->auth.key_last4);
}

void api_query_limit(struct req *r, int max, int *out, struct field_errors *errs)
{
    const char *limit = req_query(r, "limit");
    if (!limit)
        return;
    size_t digits = strspn(limit, "0123456789");
    char *end;
    errno = 0;
    long v = strtol(limit, &end, 10);
    if (digits == 0 || limit[digits] || errno || *end || v < 1 || v > max)
        field_errors_add(errs, r->arena, "limit", "must be a whole number from 1 to %d", max);
    else
        *out = (int)v;
}

static const char *header_of(const void *cls, const char *name)
{
    return req_header(cls, name);
}

static const char *query_of(const void *cls, const char *name)
{
    return req_query(cls, name);
}

struct provider_inbound api_inbound_request(struct req *r, const char *rest)
{
    size_t len = 0;
    const char *body = req_body(r, &len);
    /* the URL as the provider sent it: its signature covers the query's
     * escapes as written */
    const char *query = req_raw_query(r);
    return (struct provider_inbound){
        .method = r->method,
        .url = arena_printf(r->arena, "%s%s%s%s", r->app->cfg->public_url, r->path,
                            query ? "?" : "", query ? query : ""),
        .rest = rest,
        .content_type = req_header(r, "Content-Type") ? req_header(r, "Content-Type") : "",
        .body = body ? body : "",
        .body_len = len,
        .header = header_of,
        .header_cls = r,
        .query = query_of,
        .query_cls = r,
    };
}
