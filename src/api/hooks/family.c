/*
 * family.c — the inbound webhooks family (see hooks.h): the provider and its
 * token in the URL are the credential.
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"
#include "api/hooks/hooks.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "channel/channel.h"
#include "db/providers.h"
#include "util/crypto.h"

struct auth_ctx {
    struct req *r;
    struct db_provider p;
};

static enum db_status auth_cb(struct db_tx *tx, void *cls)
{
    struct auth_ctx *c = cls;
    return DB_CALL(tx, providers, get, NULL, req_param(c->r, "providerId"), c->r->arena, &c->p);
}

static bool hooks_authenticate_or_reply(struct req *r)
{
    const char *id = req_param(r, "providerId"), *token = req_param(r, "token");
    struct auth_ctx c = {.r = r};
    enum db_status st = id && token && strlen(id) < DB_UUID_LEN && strlen(token) < DB_TOKEN_LEN
                            ? db_run(r->app->db, DB_READ, "hook_auth", auth_cb, &c)
                            : DB_NO_RESULTS;
    if (st < 0) {
        api_reply_db_error(r, st);
        return false;
    }
    size_t n = strlen(c.p.inbound_token);
    if (st == 0 || n != strlen(token) || !crypto_equal(c.p.inbound_token, token, n)) {
        reply_error(r, ERR_NOT_FOUND, "No such webhook");
        return false;
    }
    snprintf(r->auth.merchant_id, sizeof r->auth.merchant_id, "%s", c.p.merchant_id);
    snprintf(r->auth.key_id, sizeof r->auth.key_id, "%s", c.p.id);
    r->family_state = arena_strdup(r->arena, c.p.kind); /* which kind answers */
    return true;
}

/* A body over the limit is read and dropped only for a kind that posts
 * what chatpay has no use for that large (Clickatell's inline media): the
 * others' are answered 413 before they are read. */
static bool hooks_drops_oversize(struct req *r)
{
    const struct channel_ops *ops = r->family_state ? channel_kind(r->family_state) : NULL;
    return ops && ops->drops_oversize;
}

const struct http_family hooks_family = {
    .name = "hooks",
    .authenticate_or_reply = hooks_authenticate_or_reply,
    .render_error = c2p_render_error,
    .drops_oversize = hooks_drops_oversize,
};
