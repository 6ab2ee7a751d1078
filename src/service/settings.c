/*
 * settings.c — configuration changes that the merchant's systems see (see
 * settings.h).
 */
#include "service/settings.h"

#include "service/callbacks.h"

static enum db_status changed(struct svc *s, const char *merchant_id, const char *what)
{
    return svc_cb_settings(s, merchant_id, &what, 1);
}

/* The merchant's integrators changed: its configuration is newer. */
static enum db_status integrators_changed(struct svc *s, const char *merchant_id, usec_t at)
{
    enum db_status st = DB_CALL(s->tx, merchants, touch, merchant_id, at);
    if (st < 0)
        return st;
    st = changed(s, merchant_id, "integrators");
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_apikey_add(struct svc *s, const struct db_api_key *k, const uint8_t hash[32])
{
    enum db_status st = DB_CALL(s->tx, api_keys, insert, k, hash);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = changed(s, k->merchant_id, "apiKey");
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_apikey_revoke(struct svc *s, const char *key_id)
{
    char merchant_id[DB_UUID_LEN];
    enum db_status st = DB_CALL(s->tx, api_keys, revoke, key_id, s->now, merchant_id);
    if (st <= 0)
        return st;
    st = changed(s, merchant_id, "apiKey");
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_integrator_set_status(struct svc *s, const char *merchant_id, const char *app_id,
                                         enum integrator_status status, enum integrator_change *out)
{
    struct db_integrator it;
    enum db_status st = DB_CALL(s->tx, integrators, get, merchant_id, app_id, &it);
    if (st < 0)
        return st;
    if (st == DB_NO_RESULTS || it.status == INTEGRATOR_DELETED) {
        *out = st == DB_NO_RESULTS ? INTEGRATOR_UNKNOWN : INTEGRATOR_IS_DELETED;
        return DB_ROLLBACK;
    }
    if (it.status == status) { /* nothing changes: no settings callback */
        *out = INTEGRATOR_CHANGED;
        return DB_ONE_RESULT;
    }
    st = DB_CALL(s->tx, integrators, set_status, merchant_id, app_id, status, s->now);
    if (st < 0)
        return st;
    *out = INTEGRATOR_CHANGED;
    return integrators_changed(s, merchant_id, s->now);
}

enum db_status svc_integrator_add(struct svc *s, const char *merchant_id,
                                  const struct db_integrator *it)
{
    struct db_merchant m;
    enum db_status st = DB_CALL(s->tx, merchants, get, merchant_id, &m);
    if (st <= 0)
        return st;
    st = DB_CALL(s->tx, integrators, insert, merchant_id, it);
    if (st < 0)
        return st;
    return integrators_changed(s, merchant_id, it->created_at);
}
