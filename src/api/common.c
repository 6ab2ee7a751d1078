/*
 * common.c — small helpers shared by handlers.
 */
#include "api/api.h"

#include <string.h>

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
