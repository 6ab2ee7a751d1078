/*
 * test_db.c — the storage contract, run against each backend (db_target.h):
 * migrations, every operation, merchant scoping, the
 * transaction runner (rollback writes nothing; concurrent writers all land;
 * a request that fails in a group fails alone)
 * and the configuration epoch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/callbacks.h"
#include "db/db.h"
#include "db/db_internal.h" /* db_batch_waiting */
#include "db/idempotency.h"
#include "db/jobs.h"
#include "db/links.h"
#include "db/payments.h"
#include "db/marketplace.h"
#include "db/whatsapp.h"
#include "db/providers.h"
#include "db/merchants.h"
#include "util/crypto.h"

#include "db_target.h"

static void make_merchant(struct db_merchant *m, const char *name)
{
    memset(m, 0, sizeof *m);
    crypto_uuid_v4(m->id);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->environment = ENV_SANDBOX;
    m->sms_enabled = true;
    m->created_at = m->updated_at = time_now();
}

struct insert_ctx {
    struct db_merchant m;
    struct db_currency cur[2];
    struct db_integrator it;
    struct db_api_key key;
    uint8_t hash[32];
    bool fail_after_insert;
};

static enum db_status insert_cb(struct db_tx *tx, void *cls)
{
    struct insert_ctx *c = cls;
    enum db_status st = DB_CALL(tx, merchants, insert, &c->m);
    if (st != 1)
        return st < 0 ? st : DB_HARD_ERROR;
    if (c->fail_after_insert)
        return DB_ROLLBACK;
    st = DB_CALL(tx, currencies, set, c->m.id, c->cur, 2);
    if (st < 0)
        return st;
    st = DB_CALL(tx, integrators, insert, c->m.id, &c->it);
    if (st < 0)
        return st;
    return DB_CALL(tx, api_keys, insert, &c->key, c->hash);
}

static void fill(struct insert_ctx *c, const char *name)
{
    memset(c, 0, sizeof *c);
    make_merchant(&c->m, name);
    memcpy(c->cur[0].code, "EUR", 4);
    c->cur[0].is_default = true;
    memcpy(c->cur[1].code, "ZAR", 4);
    crypto_uuid_v4(c->it.application_id);
    snprintf(c->it.name, sizeof c->it.name, "shop of %s", name);
    c->it.type = INTEGRATOR_OMS;
    c->it.status = INTEGRATOR_ACTIVATED;
    c->it.created_at = c->it.updated_at = time_now();
    crypto_random_base62(64, c->key.id, 12);
    memcpy(c->key.merchant_id, c->m.id, DB_UUID_LEN);
    snprintf(c->key.prefix, sizeof c->key.prefix, "cp_sandbox_");
    snprintf(c->key.last4, sizeof c->key.last4, "abcd");
    crypto_random(c->hash, sizeof c->hash);
}

/* Merchants "A" and "B", each with its currencies, integrator and key. */
static void two_merchants(struct db *db, struct insert_ctx *a, struct insert_ctx *b)
{
    fill(a, "A");
    fill(b, "B");
    assert_int_equal(db_run(db, DB_WRITE, "t", insert_cb, a), 1);
    assert_int_equal(db_run(db, DB_WRITE, "t", insert_cb, b), 1);
}

struct read_ctx {
    const char *merchant_id;
    const char *app_id;
    const uint8_t *hash;
    struct db_merchant m;
    struct db_currency cur[8];
    size_t ncur;
    struct db_integrator it;
    enum db_status it_status;
    struct db_api_key key;
    uint8_t stored[32];
    enum db_status key_status;
    int integrators_listed;
};

static void count_integrator(void *cls, const struct db_integrator *it)
{
    (void)it;
    ((struct read_ctx *)cls)->integrators_listed++;
}

static enum db_status read_cb(struct db_tx *tx, void *cls)
{
    struct read_ctx *c = cls;
    enum db_status st = DB_CALL(tx, merchants, get, c->merchant_id, &c->m);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, currencies, list, c->merchant_id, c->cur, 8, &c->ncur);
    if (st < 0)
        return st;
    c->it_status = DB_CALL(tx, integrators, get, c->merchant_id, c->app_id, &c->it);
    if (c->it_status < 0)
        return c->it_status;
    c->integrators_listed = 0;
    st = DB_CALL(tx, integrators, list, c->merchant_id, count_integrator, c);
    if (st < 0)
        return st;
    c->key_status = DB_CALL(tx, api_keys, find_by_hash, c->hash, &c->key, c->stored);
    return c->key_status < 0 ? c->key_status : DB_ONE_RESULT;
}

static void test_migrate_is_idempotent(void **state)
{
    struct db *db = *state;
    assert_true(db_migrate(db) >= 0);
    assert_true(db_migrate(db) >= 0);
}

static void test_roundtrip_and_scoping(void **state)
{
    struct db *db = *state;
    struct insert_ctx a, b;
    two_merchants(db, &a, &b);

    struct read_ctx r = {.merchant_id = a.m.id, .app_id = a.it.application_id, .hash = a.hash};
    assert_int_equal(db_run(db, DB_READ, "t", read_cb, &r), 1);
    assert_string_equal(r.m.name, "A");
    assert_int_equal(r.ncur, 2);
    assert_string_equal(r.cur[0].code, "EUR");
    assert_true(r.cur[0].is_default);
    assert_string_equal(r.cur[1].code, "ZAR");
    assert_false(r.cur[1].is_default);
    assert_int_equal(r.it_status, 1);
    assert_string_equal(r.it.name, "shop of A");
    assert_int_equal(r.integrators_listed, 1);
    assert_int_equal(r.key_status, 1);
    assert_string_equal(r.key.merchant_id, a.m.id);
    assert_memory_equal(r.stored, a.hash, 32);

    /* merchant A cannot see merchant B's integrator */
    struct read_ctx cross = {.merchant_id = a.m.id, .app_id = b.it.application_id, .hash = b.hash};
    assert_int_equal(db_run(db, DB_READ, "t", read_cb, &cross), 1);
    assert_int_equal(cross.it_status, 0);
    assert_int_equal(cross.integrators_listed, 1);
}

static void test_rollback_writes_nothing(void **state)
{
    struct db *db = *state;
    struct insert_ctx a;
    fill(&a, "gone");
    a.fail_after_insert = true;
    assert_int_equal(db_run(db, DB_WRITE, "t", insert_cb, &a), DB_ROLLBACK);
    struct read_ctx r = {.merchant_id = a.m.id, .app_id = "", .hash = a.hash};
    assert_int_equal(db_run(db, DB_READ, "t", read_cb, &r), 0);
}

struct revoke_ctx {
    const char *id;
    char merchant_id[DB_UUID_LEN];
};

static enum db_status revoke_cb(struct db_tx *tx, void *cls)
{
    struct revoke_ctx *c = cls;
    return DB_CALL(tx, api_keys, revoke, c->id, time_now(), c->merchant_id);
}

static void test_revoked_key_is_not_found_and_epoch_moves(void **state)
{
    struct db *db = *state;
    struct insert_ctx a;
    fill(&a, "R");
    uint64_t e0 = db_config_epoch(db);
    assert_int_equal(db_run(db, DB_WRITE, "t", insert_cb, &a), 1);
    uint64_t e1 = db_config_epoch(db);
    assert_true(e1 > e0);

    /* on PostgreSQL the notice of that change comes back to this process
     * too (and moves the epoch again, harmlessly): let it arrive */
    if (strcmp(target_backend(), "postgresql") == 0) {
        usleep(1200000);
        e1 = db_config_epoch(db);
    }
    struct read_ctx r = {.merchant_id = a.m.id, .app_id = "", .hash = a.hash};
    assert_int_equal(db_run(db, DB_READ, "t", read_cb, &r), 1);
    assert_int_equal(db_config_epoch(db), e1); /* reads do not move it */

    struct revoke_ctx rv = {.id = a.key.id};
    assert_int_equal(db_run(db, DB_WRITE, "t", revoke_cb, &rv), 1);
    assert_string_equal(rv.merchant_id, a.m.id);
    assert_true(db_config_epoch(db) > e1);
    assert_int_equal(db_run(db, DB_WRITE, "t", revoke_cb, &rv), 0); /* already revoked */
    assert_int_equal(db_run(db, DB_READ, "t", read_cb, &r), 1);
    assert_int_equal(r.key_status, 0);
}

static void test_epoch_is_shared_between_handles(void **state)
{
    struct db *db = *state;
    char err[256];
    struct db *other = db_open(url, err, sizeof err); /* as another process would */
    assert_non_null(other);
    uint64_t before = db_config_epoch(db);
    struct insert_ctx a;
    fill(&a, "other");
    assert_int_equal(db_run(other, DB_WRITE, "t", insert_cb, &a), 1);
    /* at once on SQLite (a shared file), within a second on PostgreSQL */
    for (int i = 0; i < 100 && db_config_epoch(db) == before; i++)
        usleep(10000);
    assert_true(db_config_epoch(db) > before);
    db_close(other);
}

/* Several threads each insert merchants on their own connection at once:
 * the runner retries SQLITE_BUSY and every row lands. */
enum { WRITERS = 4, PER_WRITER = 50 };

static enum db_status count_cb(struct db_tx *tx, void *cls)
{
    return DB_CALL(tx, merchants, count, (int64_t *)cls);
}

static void *writer(void *p)
{
    struct db *db = p;
    for (int i = 0; i < PER_WRITER; i++) {
        struct insert_ctx c;
        fill(&c, "w");
        if (db_run(db, DB_WRITE, "t", insert_cb, &c) != 1)
            return (void *)1;
    }
    db_thread_release(db);
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct db *db = *state;
    int64_t before = 0, after = 0;
    assert_int_equal(db_run(db, DB_READ, "t", count_cb, &before), 1);
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, db), 0);
    for (int i = 0; i < WRITERS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    assert_int_equal(db_run(db, DB_READ, "t", count_cb, &after), 1);
    assert_int_equal(after - before, WRITERS * PER_WRITER);
}

/* Writers at the same time share groups (db/batch.c); some of them fail: a
 * request that refuses, or one whose statement fails (a duplicate key, which
 * PostgreSQL answers by aborting the savepoint's work), fails alone and
 * leaves nothing, and every other request of its group lands. */
enum { MIXED = 32, MIXED_ROUNDS = 4 };
enum mixed_mode { MIX_OK, MIX_REFUSE, MIX_DUPLICATE };

struct mixed {
    struct db *db;
    enum mixed_mode mode;
    struct db_merchant m;
    enum db_status st, dup_st;
};

static enum db_status mixed_cb(struct db_tx *tx, void *cls)
{
    struct mixed *x = cls;
    enum db_status st = DB_CALL(tx, merchants, insert, &x->m);
    if (st != 1)
        return st < 0 ? st : DB_HARD_ERROR;
    if (x->mode == MIX_REFUSE)
        return DB_ROLLBACK;
    if (x->mode == MIX_DUPLICATE) {
        x->dup_st = DB_CALL(tx, merchants, insert, &x->m); /* the same id again */
        return x->dup_st < 0 ? x->dup_st : DB_HARD_ERROR;
    }
    return DB_ONE_RESULT;
}

static void *mixed_writer(void *p)
{
    struct mixed *x = p;
    x->st = db_run(x->db, DB_WRITE, "mixed", mixed_cb, x);
    db_thread_release(x->db);
    return NULL;
}

static enum db_status merchant_get_cb(struct db_tx *tx, void *cls)
{
    struct db_merchant *m = cls;
    return DB_CALL(tx, merchants, get, m->id, m);
}

static void test_group_failures_stay_alone(void **state)
{
    struct db *db = *state;
    struct db_stats s0, s1;
    db_stats(db, &s0);
    int landed = 0;
    for (int round = 0; round < MIXED_ROUNDS; round++) {
        static struct mixed x[MIXED];
        pthread_t t[MIXED];
        for (int i = 0; i < MIXED; i++) {
            memset(&x[i], 0, sizeof x[i]);
            x[i].db = db;
            x[i].mode = (enum mixed_mode)(i % 3);
            make_merchant(&x[i].m, "mixed");
            assert_int_equal(pthread_create(&t[i], NULL, mixed_writer, &x[i]), 0);
        }
        for (int i = 0; i < MIXED; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < MIXED; i++) {
            struct db_merchant got = x[i].m;
            enum db_status found = db_run(db, DB_READ, "t", merchant_get_cb, &got);
            switch (x[i].mode) {
            case MIX_OK:
                assert_int_equal(x[i].st, 1);
                assert_int_equal(found, 1);
                landed++;
                break;
            case MIX_REFUSE:
                assert_int_equal(x[i].st, DB_ROLLBACK);
                assert_int_equal(found, DB_NO_RESULTS);
                break;
            case MIX_DUPLICATE:
                assert_true(x[i].dup_st < 0);
                assert_int_equal(x[i].st, DB_HARD_ERROR);
                assert_int_equal(found, DB_NO_RESULTS);
                break;
            }
        }
    }
    db_stats(db, &s1);
    /* they did share commits */
    assert_int_equal(s1.write_commits - s0.write_commits, landed);
    assert_true(s1.durable_commits - s0.durable_commits < (uint64_t)landed);
}

/* ---- callbacks ------------------------------------------------------------------------ */

struct cb_ctx {
    const char *merchant_id, *other_id, *app_id;
    struct arena *a;
    int step;
    struct db_callback cb[3];
    struct db_callback_config cfg, with_cfg;
    struct db_merchant with_m;
    enum db_status with_st, with_missing;
    const char *app_urls[CB_KINDS];
    char app_merchant[DB_UUID_LEN];
    struct db_callback got, by_ref, settings;
    enum db_status cross_ref, cross_app, cross_url;
    int listed, listed_failed, listed_after;
    struct db_callback_attempt attempts[4];
    int nattempts;
};

static void count_callback(void *cls, const struct db_callback *cb)
{
    (void)cb;
    (*(int *)cls)++;
}

static void keep_attempt(void *cls, const struct db_callback_attempt *a)
{
    struct cb_ctx *c = cls;
    if (c->nattempts < 4)
        c->attempts[c->nattempts++] = *a;
}

static enum db_status callbacks_write_cb(struct db_tx *tx, void *cls)
{
    struct cb_ctx *c = cls;
    enum db_status st = DB_CALL(tx, callbacks, url_set, c->merchant_id, CB_PAYMENT_STATUS,
                                "https://shop.example/ps");
    if (st != 1)
        return st < 0 ? st : DB_HARD_ERROR;
    st = DB_CALL(tx, callbacks, url_set, c->merchant_id, CB_SETTINGS, "https://shop.example/s");
    if (st < 0)
        return st;
    st = DB_CALL(tx, callbacks, url_set, c->merchant_id, CB_SETTINGS, NULL); /* cleared */
    if (st < 0)
        return st;
    st = DB_CALL(tx, callbacks, secret_set, c->merchant_id, "whsec_new", "whsec_old", 1234);
    if (st < 0)
        return st;
    st = DB_CALL(tx, callbacks, integrator_url_set, c->merchant_id, c->app_id, CB_TRANSACTION_EVENT,
                 "https://oms.example/te");
    if (st != 1)
        return st < 0 ? st : DB_HARD_ERROR;
    /* another merchant cannot set this merchant's integrator's URL */
    c->cross_url = DB_CALL(tx, callbacks, integrator_url_set, c->other_id, c->app_id,
                           CB_TRANSACTION_EVENT, "https://evil.example/");
    for (int i = 0; i < 3; i++) {
        struct db_callback *cb = &c->cb[i];
        snprintf(cb->ref, sizeof cb->ref, "cb_test%d%s", i, c->merchant_id + 30);
        snprintf(cb->webhook_id, sizeof cb->webhook_id, "msg_test%d", i);
        snprintf(cb->merchant_id, sizeof cb->merchant_id, "%s", c->merchant_id);
        cb->kind = i == 2 ? CB_SETTINGS : CB_TRANSACTION_EVENT;
        cb->url = "https://oms.example/te";
        if (i == 2) /* for the integrator */
            snprintf(cb->app_id, sizeof cb->app_id, "%s", c->app_id);
        cb->body = "{\"n\":1}";
        cb->created_at = cb->updated_at = cb->next_at = 1000 + i;
        st = DB_CALL(tx, callbacks, insert, cb);
        if (st != 1)
            return st < 0 ? st : DB_HARD_ERROR;
    }
    /* the first is tried twice and given up; the second delivered */
    struct db_callback_attempt a1 = {.at = 2000,
                                     .http_status = 500,
                                     .latency_ms = 12,
                                     .url = "https://oms.example/te",
                                     .error = "HTTP 500"};
    struct db_callback_attempt a2 = {
        .at = 3000, .http_status = 0, .latency_ms = 0, .error = "the callback URL was removed"};
    if ((st = DB_CALL(tx, callbacks, attempt_insert, c->cb[0].id, &a1)) < 0 ||
        (st = DB_CALL(tx, callbacks, attempt_insert, c->cb[0].id, &a2)) < 0)
        return st;
    c->cb[0].state = CB_FAILED;
    c->cb[0].attempts = 2;
    c->cb[0].url = "https://oms.example/moved"; /* where the latest try went */
    c->cb[0].updated_at = 3000;
    c->cb[1].state = CB_DELIVERED;
    c->cb[1].attempts = 1;
    c->cb[1].last_http = 200;
    c->cb[1].delivered_at = c->cb[1].updated_at = 900000;
    if ((st = DB_CALL(tx, callbacks, update, &c->cb[0])) < 0 ||
        (st = DB_CALL(tx, callbacks, update, &c->cb[1])) < 0)
        return st;
    return DB_ONE_RESULT;
}

static enum db_status callbacks_read_cb(struct db_tx *tx, void *cls)
{
    struct cb_ctx *c = cls;
    enum db_status st = DB_CALL(tx, callbacks, config_get, c->merchant_id, c->a, &c->cfg);
    if (st <= 0)
        return st;
    c->with_st =
        DB_CALL(tx, merchants, get_with_callbacks, c->merchant_id, &c->with_m, c->a, &c->with_cfg);
    struct db_merchant none;
    struct db_callback_config none_cfg;
    c->with_missing =
        DB_CALL(tx, merchants, get_with_callbacks, "no-such-merchant", &none, c->a, &none_cfg);
    st = DB_CALL(tx, callbacks, integrator_urls, c->merchant_id, c->app_id, c->a, c->app_urls);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    c->cross_app = DB_CALL(tx, callbacks, integrator_urls, c->other_id, c->app_id, c->a,
                           (const char *[CB_KINDS]){0});
    st = DB_CALL(tx, callbacks, integrator_merchant, c->app_id, c->app_merchant);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = DB_CALL(tx, callbacks, get, c->cb[0].id, c->a, &c->got);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = DB_CALL(tx, callbacks, get_by_ref, c->merchant_id, c->cb[1].ref, c->a, &c->by_ref);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    c->cross_ref = DB_CALL(tx, callbacks, get_by_ref, c->other_id, c->cb[1].ref, c->a, &c->got);
    st = DB_CALL(tx, callbacks, get, c->cb[2].id, c->a, &c->settings);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = DB_CALL(tx, callbacks, get, c->cb[0].id, c->a, &c->got);
    if (st < 0)
        return st;
    c->listed = c->listed_failed = c->listed_after = 0;
    struct db_callback_filter all = {.state = -1, .limit = 10};
    struct db_callback_filter failed = {.state = CB_FAILED, .limit = 10};
    struct db_callback_filter after = {.state = -1, .starting_after = c->cb[2].id, .limit = 1};
    if ((st = DB_CALL(tx, callbacks, list, c->merchant_id, &all, c->a, count_callback,
                      &c->listed)) < 0 ||
        (st = DB_CALL(tx, callbacks, list, c->merchant_id, &failed, c->a, count_callback,
                      &c->listed_failed)) < 0 ||
        (st = DB_CALL(tx, callbacks, list, c->merchant_id, &after, c->a, count_callback,
                      &c->listed_after)) < 0)
        return st;
    c->nattempts = 0;
    st = DB_CALL(tx, callbacks, attempts, c->cb[0].id, c->a, keep_attempt, c);
    return st < 0 ? st : DB_ONE_RESULT;
}

static enum db_status callbacks_purge_cb(struct db_tx *tx, void *cls)
{
    (void)cls;
    return DB_CALL(tx, callbacks, purge, 500000, 10);
}

static enum db_status callbacks_left_cb(struct db_tx *tx, void *cls)
{
    struct cb_ctx *c = cls;
    struct db_callback cb;
    for (int i = 0; i < 3; i++) {
        enum db_status st = DB_CALL(tx, callbacks, get, c->cb[i].id, c->a, &cb);
        if (st < 0)
            return st;
        c->cb[i].state = st == 1 ? cb.state : -1;
    }
    c->nattempts = 0;
    enum db_status st = DB_CALL(tx, callbacks, attempts, c->cb[0].id, c->a, keep_attempt, c);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* The callback configuration callbacks_write_cb set. */
static void assert_written_config(const struct db_callback_config *cfg)
{
    assert_string_equal(cfg->url[CB_PAYMENT_STATUS], "https://shop.example/ps");
    assert_null(cfg->url[CB_TRANSACTION_EVENT]);
    assert_null(cfg->url[CB_SETTINGS]);
    assert_string_equal(cfg->secret, "whsec_new");
    assert_string_equal(cfg->old_secret, "whsec_old");
    assert_int_equal(cfg->old_until, 1234);
}

static void test_callbacks(void **state)
{
    struct db *db = *state;
    struct insert_ctx a, b;
    two_merchants(db, &a, &b);
    struct cb_ctx c = {.merchant_id = a.m.id,
                       .other_id = b.m.id,
                       .app_id = a.it.application_id,
                       .a = arena_new(0)};
    assert_int_equal(db_run(db, DB_WRITE, "t", callbacks_write_cb, &c), 1);
    assert_int_equal(c.cross_url, 0);
    assert_int_equal(db_run(db, DB_READ, "t", callbacks_read_cb, &c), 1);
    assert_written_config(&c.cfg);
    /* the merchant and the same configuration in one read */
    assert_int_equal(c.with_st, 1);
    assert_int_equal(c.with_missing, DB_NO_RESULTS);
    assert_string_equal(c.with_m.id, a.m.id);
    assert_string_equal(c.with_m.name, a.m.name);
    assert_written_config(&c.with_cfg);
    assert_string_equal(c.app_urls[CB_TRANSACTION_EVENT], "https://oms.example/te");
    assert_null(c.app_urls[CB_PAYMENT_STATUS]);
    assert_int_equal(c.cross_app, 0);
    assert_string_equal(c.app_merchant, a.m.id);
    assert_int_equal(c.got.state, CB_FAILED);
    assert_int_equal(c.got.attempts, 2);
    assert_string_equal(c.got.url, "https://oms.example/moved");
    assert_string_equal(c.got.app_id, ""); /* a link's: no recipient of its own */
    assert_string_equal(c.by_ref.url, "https://oms.example/te");
    assert_string_equal(c.settings.app_id, a.it.application_id);
    assert_string_equal(c.got.webhook_id, "msg_test0");
    assert_string_equal(c.got.body, "{\"n\":1}");
    assert_int_equal(c.by_ref.state, CB_DELIVERED);
    assert_int_equal(c.by_ref.delivered_at, 900000);
    assert_int_equal(c.by_ref.last_http, 200);
    assert_int_equal(c.cross_ref, 0);
    assert_int_equal(c.listed, 3);
    assert_int_equal(c.listed_failed, 1);
    assert_int_equal(c.listed_after, 1); /* the page after the newest holds the next one only */
    assert_int_equal(c.nattempts, 2);
    assert_int_equal(c.attempts[0].http_status, 500);
    assert_string_equal(c.attempts[0].error, "HTTP 500");
    assert_string_equal(c.attempts[0].url, "https://oms.example/te");
    assert_null(c.attempts[1].url); /* no URL: nowhere */
    assert_string_equal(c.attempts[1].error, "the callback URL was removed");
    /* the purge drops what ended before the cut (the failed one, and its tries); the
     * delivered one ended later and stays */
    assert_int_equal(db_run(db, DB_WRITE, "t", callbacks_purge_cb, NULL), 1);
    assert_int_equal(db_run(db, DB_READ, "t", callbacks_left_cb, &c), 1);
    assert_int_equal(c.cb[0].state, -1);
    assert_int_equal(c.nattempts, 0);
    assert_int_equal(c.cb[1].state, CB_DELIVERED);
    assert_int_equal(c.cb[2].state, CB_PENDING); /* pending ones are never purged */
    arena_free(c.a);
}

/* ---- providers, their messages, opt-outs ---------------------------------------------- */

struct prov_ctx {
    struct insert_ctx *a, *b;
    struct arena *ar;
    int step;
    struct db_provider got;
    enum db_status cross, health1, health2, dup, removed, remove_again, opt1, opt2, optget;
    struct db_provider_message m, found_by_ref, found_by_pref;
    enum db_status miss;
    enum db_status reached, reached_other_merchant, reached_other_link, reached_failed;
    int listed, listed_all, optouts;
};

static void count_provider(void *cls, const struct db_provider *p)
{
    (void)p;
    (*(int *)cls)++;
}

static void count_optout(void *cls, const char *msisdn, const char *source, usec_t at)
{
    (void)msisdn;
    (void)source;
    (void)at;
    (*(int *)cls)++;
}

static enum db_status prov_cb(struct db_tx *tx, void *cls)
{
    struct prov_ctx *c = cls;
    enum db_status st;
    switch (c->step) {
    case 0: {
        struct db_provider p = {.settings = "{\"sms_from\":\"15551230000\"}",
                                .secrets = "v1.sealed",
                                .created_at = 1,
                                .updated_at = 1};
        snprintf(p.id, sizeof p.id, "prv_%.8s", c->a->m.id);
        snprintf(p.merchant_id, sizeof p.merchant_id, "%s", c->a->m.id);
        snprintf(p.kind, sizeof p.kind, "twilio");
        snprintf(p.inbound_token, sizeof p.inbound_token, "tok");
        st = DB_CALL(tx, providers, insert, &p);
        if (st != 1)
            return DB_HARD_ERROR;
        c->got = p;
        return DB_ONE_RESULT;
    }
    case 1:
        st = DB_CALL(tx, providers, get, c->a->m.id, c->got.id, c->ar, &c->got);
        if (st != 1)
            return DB_HARD_ERROR;
        c->cross =
            DB_CALL(tx, providers, get, c->b->m.id, c->got.id, c->ar, &(struct db_provider){0});
        c->listed = c->listed_all = 0;
        if (DB_CALL(tx, providers, list, c->a->m.id, c->ar, count_provider, &c->listed) < 0 ||
            DB_CALL(tx, providers, list_all, c->ar, count_provider, &c->listed_all) < 0)
            return DB_HARD_ERROR;
        c->health1 = DB_CALL(tx, providers, set_health, c->got.id, false, "refused", 5);
        c->health2 = DB_CALL(tx, providers, set_health, c->got.id, false, "refused", 6);
        return DB_ONE_RESULT;
    case 2: {
        snprintf(c->m.merchant_id, sizeof c->m.merchant_id, "%s", c->a->m.id);
        snprintf(c->m.provider_id, sizeof c->m.provider_id, "%s", c->got.id);
        c->m.link_id = 7;
        c->m.purpose = PM_LINK;
        c->m.channel = 1;
        snprintf(c->m.ref, sizeof c->m.ref, "cpm_%.8s", c->a->m.id);
        c->m.state = PM_UNKNOWN;
        c->m.created_at = 9;
        st = DB_CALL(tx, providers, message_insert, &c->m);
        if (st != 1)
            return DB_HARD_ERROR;
        struct db_provider_message again = c->m;
        c->dup = DB_CALL(tx, providers, message_insert, &again);
        /* learnt later: the provider's id */
        snprintf(c->m.provider_ref, sizeof c->m.provider_ref, "SM123");
        c->m.state = PM_DELIVERED;
        snprintf(c->m.status, sizeof c->m.status, "delivered");
        c->m.status_at = 11;
        if (DB_CALL(tx, providers, message_update, &c->m) != 1)
            return DB_HARD_ERROR;
        if (DB_CALL(tx, providers, message_find, c->got.id, "", c->m.ref, &c->found_by_ref) != 1 ||
            DB_CALL(tx, providers, message_find, c->got.id, "SM123", NULL, &c->found_by_pref) != 1)
            return DB_HARD_ERROR;
        c->miss = DB_CALL(tx, providers, message_find, "prv_other", "SM123", c->m.ref,
                          &(struct db_provider_message){0});
        /* link 7's message was delivered; link 9's only failed */
        c->reached = DB_CALL(tx, providers, link_reached, c->a->m.id, 7);
        c->reached_other_merchant = DB_CALL(tx, providers, link_reached, c->b->m.id, 7);
        c->reached_other_link = DB_CALL(tx, providers, link_reached, c->a->m.id, 8);
        struct db_provider_message failed = c->m;
        failed.link_id = 9;
        failed.state = PM_FAILED;
        snprintf(failed.ref, sizeof failed.ref, "cpm_f%.8s", c->a->m.id);
        if (DB_CALL(tx, providers, message_insert, &failed) != 1)
            return DB_HARD_ERROR;
        c->reached_failed = DB_CALL(tx, providers, link_reached, c->a->m.id, 9);
        c->opt1 = DB_CALL(tx, providers, optout_add, c->a->m.id, "27820001111", "reply", 3);
        c->opt2 = DB_CALL(tx, providers, optout_add, c->a->m.id, "27820001111", "reply", 4);
        c->optget = DB_CALL(tx, providers, optout_get, c->b->m.id, "27820001111");
        c->optouts = 0;
        if (DB_CALL(tx, providers, optout_list, c->a->m.id, c->ar, count_optout, &c->optouts) < 0)
            return DB_HARD_ERROR;
        return DB_ONE_RESULT;
    }
    default:
        c->removed = DB_CALL(tx, providers, remove, c->b->m.id, c->got.id); /* not B's */
        c->remove_again = DB_CALL(tx, providers, remove, c->a->m.id, c->got.id);
        /* the opt-out was made at 3, and again at 4: a removal made before
         * the latest (a START written between the two STOPs) leaves it */
        if (DB_CALL(tx, providers, optout_remove, c->a->m.id, "27820001111", 2) != 0 ||
            DB_CALL(tx, providers, optout_remove, c->a->m.id, "27820001111", 3) != 0 ||
            DB_CALL(tx, providers, optout_get, c->a->m.id, "27820001111") != 1)
            return DB_HARD_ERROR;
        if (DB_CALL(tx, providers, optout_remove, c->a->m.id, "27820001111", 4) != 1)
            return DB_HARD_ERROR;
        if (DB_CALL(tx, providers, optout_get, c->a->m.id, "27820001111") != 0)
            return DB_HARD_ERROR;
        /* a Brazilian WhatsApp STOP under the wa_id of an older account
         * stops sends to the number as dialled, and the dialled number's
         * START lifts it; likewise Mexico's 521 and 52 */
        if (DB_CALL(tx, providers, optout_add, c->a->m.id, "551187654321", "reply", 5) != 1 ||
            DB_CALL(tx, providers, optout_get, c->a->m.id, "5511987654321") != 1 ||
            DB_CALL(tx, providers, optout_get, c->a->m.id, "551187654321") != 1 ||
            DB_CALL(tx, providers, optout_get, c->b->m.id, "5511987654321") != 0 ||
            DB_CALL(tx, providers, optout_remove, c->a->m.id, "5511987654321", 6) != 1 ||
            DB_CALL(tx, providers, optout_get, c->a->m.id, "551187654321") != 0)
            return DB_HARD_ERROR;
        if (DB_CALL(tx, providers, optout_add, c->a->m.id, "5215512345678", "reply", 7) != 1 ||
            DB_CALL(tx, providers, optout_get, c->a->m.id, "525512345678") != 1 ||
            DB_CALL(tx, providers, optout_get, c->a->m.id, "5255123456789") != 0)
            return DB_HARD_ERROR;
        return DB_ONE_RESULT;
    }
}

static void test_providers(void **state)
{
    struct db *db = *state;
    struct insert_ctx a, b;
    two_merchants(db, &a, &b);
    struct prov_ctx c = {.a = &a, .b = &b, .ar = arena_new(0)};
    uint64_t e0 = db_config_epoch(db);
    assert_int_equal(db_run(db, DB_WRITE, "t", prov_cb, &c), 1);
    assert_true(db_config_epoch(db) > e0); /* a provider is configuration */
    c.step = 1;
    assert_int_equal(db_run(db, DB_WRITE, "t", prov_cb, &c), 1);
    assert_string_equal(c.got.kind, "twilio");
    assert_string_equal(c.got.settings, "{\"sms_from\":\"15551230000\"}");
    assert_string_equal(c.got.secrets, "v1.sealed");
    assert_true(c.got.healthy);
    assert_int_equal(c.cross, 0);
    assert_int_equal(c.listed, 1);
    assert_int_equal(c.listed_all, 1);
    assert_int_equal(c.health1, 1);
    assert_int_equal(c.health2, 0); /* unhealthy already */
    c.step = 2;
    assert_int_equal(db_run(db, DB_WRITE, "t", prov_cb, &c), 1);
    assert_int_equal(c.dup, 0);
    assert_int_equal(c.found_by_ref.id, c.m.id);
    assert_int_equal(c.found_by_pref.state, PM_DELIVERED);
    assert_string_equal(c.found_by_pref.status, "delivered");
    assert_int_equal(c.found_by_pref.link_id, 7);
    assert_int_equal(c.miss, 0);
    assert_int_equal(c.reached, 1);
    assert_int_equal(c.reached_other_merchant, 0);
    assert_int_equal(c.reached_other_link, 0);
    assert_int_equal(c.reached_failed, 0);
    assert_int_equal(c.opt1, 1);
    assert_int_equal(c.opt2, 0);
    assert_int_equal(c.optget, 0); /* B's list is its own */
    assert_int_equal(c.optouts, 1);
    c.step = 3;
    assert_int_equal(db_run(db, DB_WRITE, "t", prov_cb, &c), 1);
    assert_int_equal(c.removed, 0);
    assert_int_equal(c.remove_again, 1);
    arena_free(c.ar);
}

/* jobs.hurry moves a pending job up (never back), not one another worker
 * holds, and says when there is none; jobs.get finds a job of its merchant
 * only, finished or not, until it is purged. */
struct hurry_ctx {
    int step;
    struct db_job j, claimed, after, got, done;
    enum db_status up, later, other, none, held, get, cross, get_done, get_purged;
    enum db_status exists, exists_cross, exists_arg, exists_done;
};

static enum db_status hurry_cb(struct db_tx *tx, void *cls)
{
    struct hurry_ctx *c = cls;
    if (c->step == 0) {
        c->j =
            (struct db_job){.kind = JOB_DELIVERY_RECEIPT, .link_id = 3, .arg = 5, .run_at = 1000};
        snprintf(c->j.merchant_id, sizeof c->j.merchant_id, "m_1");
        if (DB_CALL(tx, jobs, insert, &c->j) != 1)
            return DB_HARD_ERROR;
        c->up = DB_CALL(tx, jobs, hurry, JOB_DELIVERY_RECEIPT, 5, 500);
        c->later = DB_CALL(tx, jobs, hurry, JOB_DELIVERY_RECEIPT, 5, 2000);
        c->other = DB_CALL(tx, jobs, hurry, JOB_DELIVERY_RECEIPT, 6, 500);
        c->none = DB_CALL(tx, jobs, hurry, JOB_SEND_LINK, 5, 500);
        c->get = DB_CALL(tx, jobs, get, "m_1", c->j.id, &c->got);
        c->cross = DB_CALL(tx, jobs, get, "m_2", c->j.id, &(struct db_job){0});
        c->exists = DB_CALL(tx, jobs, exists, "m_1", JOB_DELIVERY_RECEIPT, 5);
        c->exists_cross = DB_CALL(tx, jobs, exists, "m_2", JOB_DELIVERY_RECEIPT, 5);
        c->exists_arg = DB_CALL(tx, jobs, exists, "m_1", JOB_DELIVERY_RECEIPT, 6);
        return DB_ONE_RESULT;
    }
    if (DB_CALL(tx, jobs, claim, POOL_MESSAGES, 499, 100, &c->claimed) != 0)
        return DB_HARD_ERROR; /* not due before 500 */
    if (DB_CALL(tx, jobs, claim, POOL_MESSAGES, 500, 100, &c->claimed) != 1)
        return DB_HARD_ERROR;
    c->held = DB_CALL(tx, jobs, hurry, JOB_DELIVERY_RECEIPT, 5, 550);
    /* all done and purged: a new job still gets a new id */
    if (DB_CALL(tx, jobs, complete, &c->claimed, 600) != 1)
        return DB_HARD_ERROR;
    c->get_done = DB_CALL(tx, jobs, get, "m_1", c->j.id, &c->done);
    c->exists_done = DB_CALL(tx, jobs, exists, "m_1", JOB_DELIVERY_RECEIPT, 5);
    if (DB_CALL(tx, jobs, purge, (usec_t)1 << 60, 10) != 0) /* the newest job stays */
        return DB_HARD_ERROR;

    c->after = c->j;
    enum db_status st = DB_CALL(tx, jobs, insert, &c->after);
    if (st != 1 || DB_CALL(tx, jobs, purge, (usec_t)1 << 60, 10) != 1)
        return DB_HARD_ERROR;
    /* no longer the newest: gone */
    c->get_purged = DB_CALL(tx, jobs, get, "m_1", c->j.id, &(struct db_job){0});
    return st;
}

static void test_jobs_hurry(void **state)
{
    struct db *db = *state;
    struct hurry_ctx c = {0};
    assert_int_equal(db_run(db, DB_WRITE, "t", hurry_cb, &c), 1);
    assert_int_equal(c.up, 1);
    assert_int_equal(c.later, 1);
    assert_int_equal(c.other, 0);
    assert_int_equal(c.none, 0);
    assert_int_equal(c.get, 1);
    assert_int_equal(c.got.id, c.j.id);
    assert_string_equal(c.got.merchant_id, "m_1");
    assert_int_equal(c.got.kind, JOB_DELIVERY_RECEIPT);
    assert_int_equal(c.got.link_id, 3);
    assert_int_equal(c.got.arg, 5);
    assert_int_equal(c.got.run_at, 500);
    assert_int_equal(c.cross, 0); /* another merchant's */
    assert_int_equal(c.exists, 1);
    assert_int_equal(c.exists_cross, 0);
    assert_int_equal(c.exists_arg, 0);
    c.step = 1;
    assert_int_equal(db_run(db, DB_WRITE, "t", hurry_cb, &c), 1);
    assert_int_equal(c.claimed.id, c.j.id);
    assert_int_equal(c.held, 1);      /* running: it counts (its retry comes soon enough) */
    assert_true(c.after.id > c.j.id); /* ids never come back */
    assert_int_equal(c.got.done_at, 0);
    assert_int_equal(c.get_done, 1);
    assert_int_equal(c.exists_done, 1); /* finished jobs count too */
    assert_int_equal(c.done.attempts, 1);
    assert_int_equal(c.done.done_at, 600);
    assert_int_equal(c.get_purged, 0);
}

/* A run that outlived its lease (the job claimed again since) can neither
 * retry, lease, say it is acting nor complete the job: the new claim's run
 * owns it. Its own `acting` is read back with the job. */
struct stale_ctx {
    struct db_job j, first, second, read;
    enum db_status retry, lease, acting_stale, acting, complete, own;
};

static enum db_status stale_cb(struct db_tx *tx, void *cls)
{
    struct stale_ctx *c = cls;
    c->j = (struct db_job){.kind = JOB_SEND_LINK, .link_id = 4, .run_at = 1000};
    snprintf(c->j.merchant_id, sizeof c->j.merchant_id, "m_s");
    if (DB_CALL(tx, jobs, insert, &c->j) != 1 ||
        DB_CALL(tx, jobs, claim, POOL_MESSAGES, 1000, 100, &c->first) != 1 ||
        c->first.id != c->j.id ||
        DB_CALL(tx, jobs, claim, POOL_MESSAGES, 1200, 100, &c->second) != 1 ||
        c->second.id != c->j.id)
        return DB_HARD_ERROR; /* the first lease ended at 1100 */
    c->retry = DB_CALL(tx, jobs, retry, &c->first, 5000, "late");
    c->lease = DB_CALL(tx, jobs, lease, &c->first, 9000);
    c->acting_stale = DB_CALL(tx, jobs, acting, &c->first);
    c->acting = DB_CALL(tx, jobs, acting, &c->second);
    if (DB_CALL(tx, jobs, get, "m_s", c->j.id, &c->read) != 1)
        return DB_HARD_ERROR;
    c->complete = DB_CALL(tx, jobs, complete, &c->first, 1250);
    c->own = DB_CALL(tx, jobs, complete, &c->second, 1260);
    return DB_ONE_RESULT;
}

static void test_jobs_stale_run_changes_nothing(void **state)
{
    struct db *db = *state;
    struct stale_ctx c;
    assert_int_equal(db_run(db, DB_WRITE, "t", stale_cb, &c), 1);
    assert_int_equal(c.first.attempts, 1);
    assert_int_equal(c.second.attempts, 2);
    assert_int_equal(c.retry, 0);
    assert_int_equal(c.lease, 0);
    assert_int_equal(c.acting_stale, 0);
    assert_int_equal(c.acting, 1);
    assert_int_equal(c.read.acted, 2);
    assert_int_equal(c.read.retried, 0);
    assert_int_equal(c.complete, 0);
    assert_int_equal(c.own, 1);
}

/* idempotency.forget drops, and idempotency.finish stores a reply over, only
 * the claim it names: IN_PROGRESS, with its request hash and claim time; a
 * stored reply, another request's claim and another merchant's key stay. */
struct idem_ctx {
    enum db_status other_time, other_hash, other_merchant, stored, own, gone;
    enum db_status finish_other_hash, finish_other_time, finish_again;
};

static enum db_status idem_cb(struct db_tx *tx, void *cls)
{
    struct idem_ctx *c = cls;
    uint8_t h1[32], h2[32];
    memset(h1, 1, sizeof h1);
    memset(h2, 2, sizeof h2);
    if (DB_CALL(tx, idempotency, begin, "m_1", "k", h1, 100) != 1 ||
        DB_CALL(tx, idempotency, begin, "m_2", "k", h1, 100) != 1)
        return DB_HARD_ERROR;
    c->other_time = DB_CALL(tx, idempotency, forget, "m_1", "k", h1, 101);
    c->other_hash = DB_CALL(tx, idempotency, forget, "m_1", "k", h2, 100);
    c->other_merchant = DB_CALL(tx, idempotency, forget, "m_3", "k", h1, 100);
    /* a reply is stored over its own claim only */
    c->finish_other_hash = DB_CALL(tx, idempotency, finish, "m_1", "k", h2, 100, 400, "{}");
    c->finish_other_time = DB_CALL(tx, idempotency, finish, "m_1", "k", h1, 99, 400, "{}");
    /* the reply stored (a commit whose answer was lost): kept */
    if (DB_CALL(tx, idempotency, finish, "m_1", "k", h1, 100, 201, "{}") != 1)
        return DB_HARD_ERROR;
    c->finish_again = DB_CALL(tx, idempotency, finish, "m_1", "k", h1, 100, 400, "{}");
    c->stored = DB_CALL(tx, idempotency, forget, "m_1", "k", h1, 100);
    /* taken over by another request: its claim is its own */
    if (DB_CALL(tx, idempotency, restart, "m_1", "k", h2, 200) != 1)
        return DB_HARD_ERROR;
    c->own = DB_CALL(tx, idempotency, forget, "m_1", "k", h2, 200);
    struct arena *a = arena_new(0);
    struct db_idempotency rec;
    c->gone = DB_CALL(tx, idempotency, get, "m_1", "k", a, &rec);
    enum db_status kept = DB_CALL(tx, idempotency, get, "m_2", "k", a, &rec);
    arena_free(a);
    return kept == 1 ? DB_ONE_RESULT : DB_HARD_ERROR;
}

static void test_idempotency_forget(void **state)
{
    struct db *db = *state;
    struct idem_ctx c;
    assert_int_equal(db_run(db, DB_WRITE, "t", idem_cb, &c), 1);
    assert_int_equal(c.other_time, 0);
    assert_int_equal(c.other_hash, 0);
    assert_int_equal(c.other_merchant, 0);
    assert_int_equal(c.stored, 0);
    assert_int_equal(c.own, 1);
    assert_int_equal(c.gone, 0);
    assert_int_equal(c.finish_other_hash, 0);
    assert_int_equal(c.finish_other_time, 0);
    assert_int_equal(c.finish_again, 0);
}

/* PostgreSQL: a write that waits on a row another connection holds ends at
 * its statement timeout (set by db_configure, on connections opened before
 * it too) and is answered at once, not tried again on the node's writer
 * while the row stays held. */
struct holder {
    struct db *db;
    _Atomic bool holding;
};

static enum db_status hold_cb(struct db_tx *tx, void *cls)
{
    struct holder *h = cls;
    uint8_t hash[32] = {7};
    if (DB_CALL(tx, idempotency, begin, "m_t", "k-lock", hash, 1) != 1)
        return DB_HARD_ERROR;
    atomic_store(&h->holding, true);
    usleep(2500 * 1000); /* the row stays locked, uncommitted */
    return DB_ROLLBACK;
}

static void *holder_main(void *p)
{
    struct holder *h = p;
    db_run(h->db, DB_WRITE, "hold", hold_cb, h);
    db_thread_release(h->db);
    return NULL;
}

static enum db_status wait_cb(struct db_tx *tx, void *cls)
{
    uint8_t hash[32] = {8};
    return DB_CALL(tx, idempotency, begin, "m_t", "k-lock", hash, 2);
}

static void test_statement_timeout_is_answered_at_once(void **state)
{
    if (strcmp(target_backend(), "postgresql") != 0)
        skip();
    struct db *db = *state;
    assert_int_equal(db_run(db, DB_READ, "t", count_cb, &(int64_t){0}), 1); /* a connection */
    db_configure(db, 0, 0, 300);
    char err[256];
    struct holder h = {.db = db_open(url, err, sizeof err)};
    assert_non_null(h.db);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, holder_main, &h), 0);
    for (int i = 0; i < 200 && !atomic_load(&h.holding); i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&h.holding));
    /* the timeout, answered: not tried again until the holder gives up
     * (2.5 s) and then the insert */
    assert_int_equal(db_run(db, DB_WRITE, "t", wait_cb, NULL), DB_SOFT_ERROR);
    pthread_join(t, NULL);
    db_close(h.db);
    /* the row free again: the same write lands */
    assert_int_equal(db_run(db, DB_WRITE, "t", wait_cb, NULL), 1);
}

/* A dynamic statement (STMT_DYNAMIC_3) made anew after a failed statement
 * aborted the transaction: its old text cannot be deallocated there. cls:
 * the value the new text selects. */
static enum db_status redo_dynamic_cb(struct db_tx *tx, void *cls)
{
    int64_t v = 0;
    enum db_status s = db_one_int(db_stmt(tx, STMT_DYNAMIC_3, "SELECT 1"), &v, "first");
    assert_int_equal(s, DB_ONE_RESULT);
    assert_true(db_one_int(db_stmt(tx, STMT_DYNAMIC_2, "SELECT 1 / (SELECT 0)"), &v, "fails") < 0);
    /* an error, or none: the transaction is failed either way */
    (void)db_one_int(db_stmt(tx, STMT_DYNAMIC_3, cls), &v, "again");
    return DB_ROLLBACK;
}

static enum db_status dynamic_cb(struct db_tx *tx, void *cls)
{
    int64_t *v = cls;
    return db_one_int(db_stmt(tx, STMT_DYNAMIC_3, "SELECT 2"), v, "dynamic");
}

/* PostgreSQL: a dynamic statement made anew in a failed transaction (whose
 * DEALLOCATE of the old text the server refuses) works in the transactions
 * after it: the old prepared statement must not keep its name taken. */
static void test_a_dynamic_statement_redone_in_a_failed_transaction_works_after(void **state)
{
    if (strcmp(target_backend(), "postgresql") != 0)
        skip();
    struct db *db = *state;
    db_configure(db, 1, 0, 0); /* one connection: the next transaction is on it */
    assert_true(db_run(db, DB_READ, "t", redo_dynamic_cb, "SELECT 2") < 0);
    int64_t v = 0;
    assert_int_equal(db_run(db, DB_READ, "t", dynamic_cb, &v), DB_ONE_RESULT);
    assert_int_equal(v, 2);
}

/* PostgreSQL: a write the server cannot take for want of resources (disk
 * full, 53100, raised here by a trigger) is unavailable, answered at once
 * like the statement timeout, not a fault of the request. */
static void test_insufficient_resources_are_unavailable(void **state)
{
    if (strcmp(target_backend(), "postgresql") != 0)
        skip();
    struct db *db = *state;
    char cmd[1600];
    snprintf(cmd, sizeof cmd,
             "psql \"%s dbname=%s\" -qAt -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL'\n"
             "CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS\n"
             "$$BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END$$;\n"
             "CREATE TRIGGER test_disk_full BEFORE INSERT ON idempotency_keys\n"
             "FOR EACH ROW EXECUTE FUNCTION test_disk_full();\n"
             "SQL",
             getenv("CHATPAY_TEST_PG"), target_name);
    assert_int_equal(system(cmd), 0);
    usec_t t0 = time_mono();
    assert_int_equal(db_run(db, DB_WRITE, "t", wait_cb, NULL), DB_SOFT_ERROR);
    assert_true(time_mono() - t0 < 2 * 1000 * 1000); /* not retried for long */
    snprintf(cmd, sizeof cmd,
             "psql \"%s dbname=%s\" -qAt -v ON_ERROR_STOP=1 -c 'DROP TRIGGER test_disk_full ON"
             " idempotency_keys' -c 'DROP FUNCTION test_disk_full()' >/dev/null 2>&1",
             getenv("CHATPAY_TEST_PG"), target_name);
    assert_int_equal(system(cmd), 0);
    /* room again: the same write lands */
    assert_int_equal(db_run(db, DB_WRITE, "t", wait_cb, NULL), 1);
}

/* PostgreSQL: migrations wait for another node's (the advisory lock) past
 * the statement timeout. */
static void test_migrations_wait_past_the_statement_timeout(void **state)
{
    if (strcmp(target_backend(), "postgresql") != 0)
        skip();
    struct db *db = *state;
    db_configure(db, 0, 0, 200);
    assert_int_equal(db_run(db, DB_READ, "t", count_cb, &(int64_t){0}), 1); /* 200 ms set */
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "psql \"%s dbname=%s\" -qAt -c 'SELECT pg_advisory_lock(%lld), pg_sleep(3)'"
             " >/dev/null 2>&1 &",
             getenv("CHATPAY_TEST_PG"), target_name, 0x63686174706d6967LL /* "chatpmig" */);
    assert_int_equal(system(cmd), 0);
    /* until psql holds the lock (bounded: however slow psql starts) */
    snprintf(cmd, sizeof cmd,
             "test \"$(psql \"%s dbname=%s\" -qAt -c \"SELECT count(*) FROM pg_locks WHERE"
             " locktype = 'advisory' AND granted AND classid = 1667785076"
             " AND objid = 1886218599\")\" = 1",
             getenv("CHATPAY_TEST_PG"), target_name);
    bool held = false;
    for (int i = 0; i < 100 && !held; i++)
        if (!(held = system(cmd) == 0))
            usleep(50 * 1000);
    assert_true(held);
    usec_t t0 = time_mono();
    assert_true(db_migrate(db) >= 0);
    assert_true(time_mono() - t0 > 200 * 1000); /* it did wait for the lock */
    assert_int_equal(db_run(db, DB_READ, "t", count_cb, &(int64_t){0}), 1);
}

/* The marketplace aggregate: clients (by id and uuid, updates advance the
 * epoch), tokens (expiry, a disabled client's are not found, purge), the
 * catalogue, purchases (one per clientTxnRef, found by any reference and
 * only by their client, fulfilment and result tries recorded, in flight)
 * and the longest MNO prefix. */
struct mp_ctx {
    int step;
    struct arena *a;
    struct db_mp_client c1, c2, got;
    struct db_mp_product prod;
    struct db_mp_purchase p, again, found, other_found, miss_found;
    uint8_t tok[32];
    enum db_status dup_client, tok_live, tok_expired, tok_disabled, purged, dup_purchase;
    enum db_status by_raas, by_client_ref, by_reserve, mismatch, other_client, in_flight;
    enum db_status mno_hit, mno_miss;
    int listed_products, flights;
    struct db_mp_mno mno;
    usec_t expires;
};

static void mp_client(struct db_mp_client *c, int64_t id)
{
    memset(c, 0, sizeof *c);
    crypto_uuid_v4(c->id);
    c->client_id = id;
    c->funding_source_id = id;
    c->name = "Bank";
    c->environment = ENV_SANDBOX;
    crypto_random(c->secret_hash, 32);
    crypto_random(c->api_key_hash, 32);
    snprintf(c->api_key_prefix, sizeof c->api_key_prefix, "mak_sandbox_");
    snprintf(c->api_key_last4, sizeof c->api_key_last4, "abcd");
    c->signature_secret = "v1.sealed";
    c->created_at = c->updated_at = 1000;
}

static void count_product(void *cls, const struct db_mp_product *p)
{
    (void)p;
    ((struct mp_ctx *)cls)->listed_products++;
}

static void count_flight(void *cls, const struct db_mp_purchase *p)
{
    (void)p;
    ((struct mp_ctx *)cls)->flights++;
}

static enum db_status mp_cb(struct db_tx *tx, void *cls)
{
    struct mp_ctx *c = cls;
    const struct db_marketplace_ops *ops = db_marketplace_ops(tx);
    if (c->step == 0) {
        if (ops->client_insert(tx, &c->c1) != 1 || ops->client_insert(tx, &c->c2) != 1)
            return DB_HARD_ERROR;
        struct db_mp_client dup = c->c1;
        crypto_uuid_v4(dup.id);
        c->dup_client = ops->client_insert(tx, &dup); /* same clientId */
        c->prod = (struct db_mp_product){120,  "Power", MP_ELECTRICITY, "IKEDC", "NGN", 100,
                                         1000, 10,      true,           1,       1};
        struct db_mp_product voucher = {140, "Voucher", MP_VOUCHER, "V", "ZAR", 1,
                                        5,   0,         false,      1,   1};
        if (ops->product_insert(tx, &c->prod) != 1 || ops->product_insert(tx, &voucher) != 1 ||
            ops->product_insert(tx, &voucher) != 0)
            return DB_HARD_ERROR;
        crypto_random(c->tok, 32);
        return ops->token_insert(tx, c->tok, c->c1.id, 2000, 1000);
    }
    if (c->step == 1) {
        c->tok_live = ops->token_find(tx, c->tok, 1999, c->a, &c->got, &c->expires);
        c->tok_expired = ops->token_find(tx, c->tok, 2000, c->a, &c->got, &c->expires);
        if (ops->product_list(tx, -1, count_product, c) != 2 ||
            ops->product_list(tx, MP_VOUCHER, count_product, c) != 1)
            return DB_HARD_ERROR;
        /* a purchase, then the same clientTxnRef again */
        struct db_mp_purchase *p = &c->p;
        memset(p, 0, sizeof *p);
        crypto_uuid_v4(p->raas_ref);
        snprintf(p->client_uuid, sizeof p->client_uuid, "%s", c->c1.id);
        p->client_txn_ref = "ref-1";
        p->reserve_ref = "res-1";
        p->source_identifier = "234";
        p->target_identifier = "2348012345555";
        p->channel_name = "USSD";
        p->channel_session_id = "s";
        p->request_timestamp = "2026-12-06T10:00:00Z";
        p->product_id = 120;
        p->funding_source_id = 200;
        p->channel_id = 7;
        memcpy(p->currency, "NGN", 4);
        p->purchase_amount = 500;
        p->fee_amount = 10;
        p->result_state = MP_RESULT_PENDING;
        p->created_at = p->updated_at = 1500;
        if (ops->purchase_insert(tx, p) != 1)
            return DB_HARD_ERROR;
        c->again = *p;
        crypto_uuid_v4(c->again.raas_ref);
        c->dup_purchase = ops->purchase_insert(tx, &c->again);
        return DB_ONE_RESULT;
    }
    if (c->step == 2) {
        struct db_mp_refs r = {.raas_ref = c->p.raas_ref};
        c->by_raas = ops->purchase_find(tx, c->c1.id, &r, c->a, &c->found);
        r = (struct db_mp_refs){.client_txn_ref = "ref-1"};
        c->by_client_ref = ops->purchase_find(tx, c->c1.id, &r, c->a, &c->found);
        r = (struct db_mp_refs){.reserve_ref = "res-1"};
        c->by_reserve = ops->purchase_find(tx, c->c1.id, &r, c->a, &c->found);
        r = (struct db_mp_refs){.raas_ref = c->p.raas_ref, .client_txn_ref = "ref-2"};
        c->mismatch = ops->purchase_find(tx, c->c1.id, &r, c->a, &c->miss_found);
        r = (struct db_mp_refs){.raas_ref = c->p.raas_ref};
        c->other_client = ops->purchase_find(tx, c->c2.id, &r, c->a, &c->other_found);
        c->in_flight = ops->purchase_in_flight(tx, c->c1.id, &c->p, NULL, 5, c->a, count_flight, c);
        /* ... but for the one asked about, by any of its references */
        struct db_mp_refs mine = {.reserve_ref = "res-1"};
        if (ops->purchase_in_flight(tx, c->c1.id, &c->p, &mine, 5, c->a, count_flight, c) != 0)
            return DB_HARD_ERROR;
        /* fulfilled, then a result try */
        struct db_mp_purchase f = c->found;
        f.status = MP_SUCCESS;
        f.result_code = "0000";
        f.result_message = "Success";
        f.tokens = "[{\"type\":\"ELECTRICITY_TOKEN\",\"value\":\"1\"}]";
        f.result_body = "{}";
        f.completed_at = f.updated_at = 1600;
        if (ops->purchase_fulfilment(tx, &f) != 1)
            return DB_HARD_ERROR;
        f.result_state = MP_RESULT_DELIVERED;
        f.result_attempts = 2;
        f.result_last_http = 204;
        f.result_delivered_at = 1700;
        if (ops->purchase_result_try(tx, &f) != 1)
            return DB_HARD_ERROR;
        if (ops->purchase_get(tx, f.id, c->a, &c->found) != 1)
            return DB_HARD_ERROR;
        int before = c->flights;
        if (ops->purchase_in_flight(tx, c->c1.id, &c->p, NULL, 5, c->a, count_flight, c) != 0 ||
            c->flights != before)
            return DB_HARD_ERROR;
        /* MNO prefixes: the longest that matches */
        static const struct db_mp_mno rows[] = {
            {"234", "Any Nigeria", ""}, {"234803", "MTN", "NG"}, {"2348", "Other", "NG"}};
        if (ops->mno_clear(tx) < 0)
            return DB_HARD_ERROR;
        for (size_t i = 0; i < 3; i++)
            if (ops->mno_insert(tx, &rows[i]) != 1)
                return DB_HARD_ERROR;
        c->mno_hit = ops->mno_lookup(tx, "2348031234567", &c->mno);
        struct db_mp_mno none;
        c->mno_miss = ops->mno_lookup(tx, "27821234567", &none);
        /* disabled: its tokens are not found */
        struct db_mp_client d = c->c1;
        d.status = MP_CLIENT_DISABLED;
        if (ops->client_update(tx, &d) != 1)
            return DB_HARD_ERROR;
        c->tok_disabled = ops->token_find(tx, c->tok, 1500, c->a, &c->got, &c->expires);
        c->purged = ops->token_purge(tx, 2001, 10);
        return DB_ONE_RESULT;
    }
    return DB_HARD_ERROR;
}

static void test_marketplace(void **state)
{
    struct db *db = *state;
    struct mp_ctx c = {.a = arena_new(0)};
    mp_client(&c.c1, 200);
    mp_client(&c.c2, 201);
    uint64_t e0 = db_config_epoch(db);
    assert_int_equal(db_run(db, DB_WRITE, "t", mp_cb, &c), 1);
    assert_true(db_config_epoch(db) > e0); /* clients are configuration */
    assert_int_equal(c.dup_client, 0);
    c.step = 1;
    assert_int_equal(db_run(db, DB_WRITE, "t", mp_cb, &c), 1);
    assert_int_equal(c.tok_live, 1);
    assert_string_equal(c.got.id, c.c1.id);
    assert_int_equal(c.got.client_id, 200);
    assert_int_equal(c.expires, 2000);
    assert_string_equal(c.got.signature_secret, "v1.sealed");
    assert_memory_equal(c.got.api_key_hash, c.c1.api_key_hash, 32);
    assert_int_equal(c.tok_expired, 0);
    assert_int_equal(c.listed_products, 3);
    assert_true(c.p.id > 0);
    assert_int_equal(c.dup_purchase, 0); /* one purchase per clientTxnRef */
    c.step = 2;
    assert_int_equal(db_run(db, DB_WRITE, "t", mp_cb, &c), 1);
    assert_int_equal(c.by_raas, 1);
    assert_int_equal(c.by_client_ref, 1);
    assert_int_equal(c.by_reserve, 1);
    assert_int_equal(c.mismatch, 0);
    assert_int_equal(c.other_client, 0);
    assert_int_equal(c.in_flight, 1);
    assert_int_equal(c.flights, 1);
    assert_int_equal(c.found.status, MP_SUCCESS);
    assert_string_equal(c.found.result_code, "0000");
    assert_string_equal(c.found.tokens, "[{\"type\":\"ELECTRICITY_TOKEN\",\"value\":\"1\"}]");
    assert_int_equal(c.found.result_state, MP_RESULT_DELIVERED);
    assert_int_equal(c.found.result_attempts, 2);
    assert_int_equal(c.found.result_last_http, 204);
    assert_int_equal(c.found.result_delivered_at, 1700);
    assert_int_equal(c.found.completed_at, 1600);
    assert_int_equal(c.found.purchase_amount, 500);
    assert_string_equal(c.found.client_txn_ref, "ref-1");
    assert_int_equal(c.mno_hit, 1);
    assert_string_equal(c.mno.prefix, "234803");
    assert_string_equal(c.mno.mno, "MTN");
    assert_string_equal(c.mno.country_code, "NG");
    assert_int_equal(c.mno_miss, 0);
    assert_int_equal(c.tok_disabled, 0);
    assert_int_equal(c.purged, 1);
    arena_free(c.a);
}

/* WhatsApp Pay: numbers and configurations (unique, enabled or not),
 * orders (one per reference per merchant, found by reference, token and
 * id, only by their merchant), transactions and refunds (what counts
 * against the payment). */
struct wa_ctx {
    struct insert_ctx *a, *b;
    struct arena *ar;
    enum db_status num_dup, by_display, by_display_other, disabled_display, cfg_dup, cfg_other;
    enum db_status order_dup, by_ref_other, by_token, txn_listed, refunds_listed;
    struct db_wa_order o, got;
    int64_t total_before, total_after;
    int txns, refunds;
};

static void count_txn(void *cls, const struct db_wa_txn *t)
{
    (void)t;
    ((struct wa_ctx *)cls)->txns++;
}

static void count_refund(void *cls, const struct db_wa_refund *r)
{
    (void)r;
    ((struct wa_ctx *)cls)->refunds++;
}

static enum db_status wa_cb(struct db_tx *tx, void *cls)
{
    struct wa_ctx *c = cls;
    const struct db_whatsapp_ops *ops = db_whatsapp_ops(tx);
    const char *ma = c->a->m.id, *mb = c->b->m.id;
    struct db_wa_number n = {.enabled = true, .created_at = 1, .updated_at = 1};
    snprintf(n.phone_number_id, sizeof n.phone_number_id, "1409");
    snprintf(n.merchant_id, sizeof n.merchant_id, "%s", ma);
    snprintf(n.display_number, sizeof n.display_number, "919876500000");
    if (ops->number_add(tx, &n) != 1)
        return DB_HARD_ERROR;
    struct db_wa_number n2 = n;
    snprintf(n2.merchant_id, sizeof n2.merchant_id, "%s", mb);
    c->num_dup = ops->number_add(tx, &n2); /* the id is WhatsApp's: one merchant */
    struct db_wa_number got;
    c->by_display = ops->number_by_display(tx, ma, "919876500000", &got);
    c->by_display_other = ops->number_by_display(tx, mb, "919876500000", &got);
    struct db_wa_config cfg = {.enabled = true, .created_at = 1, .updated_at = 1};
    snprintf(cfg.merchant_id, sizeof cfg.merchant_id, "%s", ma);
    snprintf(cfg.name, sizeof cfg.name, "cfg");
    snprintf(cfg.gateway, sizeof cfg.gateway, "razorpay");
    if (ops->config_add(tx, &cfg) != 1)
        return DB_HARD_ERROR;
    c->cfg_dup = ops->config_add(tx, &cfg);
    struct db_wa_config cg;
    c->cfg_other = ops->config_get(tx, mb, "cfg", &cg);
    /* an order, and the same reference again */
    struct db_wa_order *o = &c->o;
    memset(o, 0, sizeof *o);
    snprintf(o->merchant_id, sizeof o->merchant_id, "%s", ma);
    snprintf(o->reference_id, sizeof o->reference_id, "order-1");
    crypto_uuid_v4(o->message_id);
    snprintf(o->token, sizeof o->token, "tok1");
    snprintf(o->phone_number_id, sizeof o->phone_number_id, "1409");
    snprintf(o->payment_config, sizeof o->payment_config, "cfg");
    snprintf(o->gateway, sizeof o->gateway, "razorpay");
    snprintf(o->msisdn_to, sizeof o->msisdn_to, "919812345678");
    snprintf(o->currency, sizeof o->currency, "INR");
    o->total_value = 21000;
    o->amount_offset = 100;
    o->message_text = "hi";
    o->order_json = "{}";
    o->echo = "{\"udf1\":\"u\"}";
    o->created_at = o->updated_at = 5;
    if (ops->order_insert(tx, o) != 1)
        return DB_HARD_ERROR;
    struct db_wa_order again = *o;
    crypto_uuid_v4(again.message_id);
    snprintf(again.token, sizeof again.token, "tok2");
    c->order_dup = ops->order_insert(tx, &again);
    c->by_ref_other = ops->order_by_ref(tx, mb, "order-1", c->ar, &c->got);
    c->by_token = ops->order_by_token(tx, "tok1", c->ar, &c->got);
    /* a payment, then refunds */
    struct db_wa_txn txn = {
        .order_id = o->id, .status = WA_SUCCESS, .created_at = 6, .updated_at = 6};
    snprintf(txn.merchant_id, sizeof txn.merchant_id, "%s", ma);
    snprintf(txn.ref, sizeof txn.ref, "pay_1");
    snprintf(txn.method, sizeof txn.method, "upi");
    if (ops->txn_insert(tx, &txn) != 1)
        return DB_HARD_ERROR;
    struct db_wa_refund r = {.transaction_id = txn.id,
                             .order_id = o->id,
                             .amount = 5000,
                             .status = WA_PENDING,
                             .created_at = 7,
                             .updated_at = 7};
    snprintf(r.merchant_id, sizeof r.merchant_id, "%s", ma);
    snprintf(r.ref, sizeof r.ref, "rfnd_1");
    snprintf(r.speed, sizeof r.speed, "instant");
    struct db_wa_refund r2 = r;
    snprintf(r2.ref, sizeof r2.ref, "rfnd_2");
    r2.amount = 113;
    if (ops->refund_insert(tx, &r) != 1 || ops->refund_insert(tx, &r2) != 1)
        return DB_HARD_ERROR;
    if (ops->refund_total(tx, ma, txn.id, &c->total_before) != 1)
        return DB_HARD_ERROR;
    r2.status = WA_FAILED; /* a failed refund does not count */
    if (ops->refund_update(tx, &r2) != 1 || ops->refund_total(tx, ma, txn.id, &c->total_after) != 1)
        return DB_HARD_ERROR;
    c->txn_listed = ops->txn_list(tx, ma, o->id, c->ar, count_txn, c);
    c->refunds_listed = ops->refund_list(tx, ma, o->id, count_refund, c);
    int before = c->refunds;
    if (ops->refund_list(tx, mb, o->id, count_refund, c) != 0 || c->refunds != before)
        return DB_HARD_ERROR;
    if (ops->number_enable(tx, ma, "1409", false, 8) != 1)
        return DB_HARD_ERROR;
    c->disabled_display = ops->number_by_display(tx, ma, "919876500000", &got);
    return DB_ONE_RESULT;
}

static void test_whatsapp(void **state)
{
    struct db *db = *state;
    struct insert_ctx a, b;
    two_merchants(db, &a, &b);
    struct wa_ctx c = {.a = &a, .b = &b, .ar = arena_new(0)};
    assert_int_equal(db_run(db, DB_WRITE, "t", wa_cb, &c), 1);
    assert_int_equal(c.num_dup, 0);
    assert_int_equal(c.by_display, 1);
    assert_int_equal(c.by_display_other, 0);
    assert_int_equal(c.cfg_dup, 0);
    assert_int_equal(c.cfg_other, 0);
    assert_true(c.o.id > 0);
    assert_int_equal(c.order_dup, 0);
    assert_int_equal(c.by_ref_other, 0);
    assert_int_equal(c.by_token, 1);
    assert_int_equal(c.got.id, c.o.id);
    assert_string_equal(c.got.echo, "{\"udf1\":\"u\"}");
    assert_int_equal(c.got.total_value, 21000);
    assert_int_equal(c.total_before, 5113);
    assert_int_equal(c.total_after, 5000);
    assert_int_equal(c.txn_listed, 1);
    assert_int_equal(c.txns, 1);
    assert_int_equal(c.refunds_listed, 2);
    assert_int_equal(c.disabled_display, 0);
    arena_free(c.ar);
}

/* ---- a group's reads of a merchant ------------------------------------------------------- */

/* A group commit keeps what its transaction read of a merchant for the
 * group's later requests: they must still see what earlier ones wrote, and
 * not what a request that failed wrote. */
enum group_step {
    G_GATE,   /* hold the writer until the others are queued: they form one group */
    G_READ,   /* read the merchant and its currencies */
    G_REFUSE, /* change the currencies, read them, and fail */
    G_CHANGE, /* change a callback URL and the secret */
};
enum { GROUP_REQS = 6 };

struct group_req {
    struct db *db;
    enum group_step step;
    const char *merchant_id;
    struct arena *a;
    enum db_status st;
    struct db_currency cur[DB_MAX_CURRENCIES];
    size_t ncur;
    struct db_merchant m;
    struct db_callback_config cfg;
};

/* The gate's request is running (open) and has seen every other request
 * queued behind it (passed): the writer then takes them, and the queue can
 * be empty again before the test's thread looks. */
static atomic_bool group_gate_open, group_gate_passed;

static enum db_status group_cb(struct db_tx *tx, void *cls)
{
    struct group_req *r = cls;
    enum db_status st;
    switch (r->step) {
    case G_GATE: {
        atomic_store(&group_gate_open, true);
        usec_t t0 = time_now();
        while (db_batch_waiting(r->db) < GROUP_REQS - 1) {
            if (time_now() - t0 > 20 * 1000000LL)
                return DB_HARD_ERROR; /* the others never queued */
            usleep(1000);
        }
        atomic_store(&group_gate_passed, true);
        return DB_ONE_RESULT;
    }
    case G_REFUSE: {
        struct db_currency usd = {.code = "USD", .is_default = true};
        st = DB_CALL(tx, currencies, set, r->merchant_id, &usd, 1);
        if (st < 0)
            return st;
        st = DB_CALL(tx, currencies, list, r->merchant_id, r->cur, DB_MAX_CURRENCIES, &r->ncur);
        return st < 0 ? st : DB_ROLLBACK;
    }
    case G_CHANGE:
        st = DB_CALL(tx, callbacks, url_set, r->merchant_id, CB_PAYMENT_STATUS,
                     "https://shop.example/changed");
        if (st < 0)
            return st;
        st = DB_CALL(tx, callbacks, secret_set, r->merchant_id, "whsec_changed", "", 0);
        return st < 0 ? st : DB_ONE_RESULT;
    case G_READ:
        break;
    }
    st = DB_CALL(tx, merchants, get_with_callbacks, r->merchant_id, &r->m, r->a, &r->cfg);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = DB_CALL(tx, currencies, list, r->merchant_id, r->cur, DB_MAX_CURRENCIES, &r->ncur);
    return st < 0 ? st : DB_ONE_RESULT;
}

static void *group_run(void *arg)
{
    struct group_req *r = arg;
    r->st = db_run(r->db, DB_WRITE, "t", group_cb, r);
    return NULL;
}

static void test_group_reads_see_the_group_writes(void **state)
{
    struct db *db = *state;
    struct insert_ctx a;
    fill(&a, "group");
    assert_int_equal(db_run(db, DB_WRITE, "t", insert_cb, &a), 1);
    static const enum group_step steps[GROUP_REQS] = {G_GATE, G_READ,   G_REFUSE,
                                                      G_READ, G_CHANGE, G_READ};
    struct group_req r[GROUP_REQS];
    pthread_t t[GROUP_REQS];
    struct db_stats s0, s1;
    db_stats(db, &s0);
    atomic_store(&group_gate_open, false);
    atomic_store(&group_gate_passed, false);
    for (int i = 0; i < GROUP_REQS; i++) {
        r[i] = (struct group_req){
            .db = db, .step = steps[i], .merchant_id = a.m.id, .a = arena_new(0)};
        assert_int_equal(pthread_create(&t[i], NULL, group_run, &r[i]), 0);
        /* in this order: the gate first, then each queued behind it (the
         * last may be taken as soon as it is queued: the gate has passed) */
        usec_t t0 = time_now();
        while (i == 0 ? !atomic_load(&group_gate_open)
                      : db_batch_waiting(db) < i && !atomic_load(&group_gate_passed)) {
            if (time_now() - t0 > 30 * 1000000LL)
                fail_msg("request %d was not queued in 30 s", i);
            usleep(200);
        }
    }
    for (int i = 0; i < GROUP_REQS; i++)
        pthread_join(t[i], NULL);
    db_stats(db, &s1);
    /* the gate's group, then one group of the other five */
    assert_int_equal(s1.durable_commits - s0.durable_commits, 2);

    assert_int_equal(r[0].st, 1);
    /* the first read: as made */
    assert_int_equal(r[1].st, 1);
    assert_string_equal(r[1].m.name, "group");
    assert_int_equal(r[1].ncur, 2);
    assert_string_equal(r[1].cur[0].code, "EUR");
    assert_null(r[1].cfg.url[CB_PAYMENT_STATUS]);
    /* the failed request saw its own change, */
    assert_int_equal(r[2].st, DB_ROLLBACK);
    assert_int_equal(r[2].ncur, 1);
    assert_string_equal(r[2].cur[0].code, "USD");
    /* the next did not */
    assert_int_equal(r[3].st, 1);
    assert_int_equal(r[3].ncur, 2);
    assert_string_equal(r[3].cur[0].code, "EUR");
    assert_string_equal(r[3].cur[1].code, "ZAR");
    /* a change that stayed is seen by the requests after it */
    assert_int_equal(r[4].st, 1);
    assert_int_equal(r[5].st, 1);
    assert_non_null(r[5].cfg.url[CB_PAYMENT_STATUS]);
    assert_string_equal(r[5].cfg.url[CB_PAYMENT_STATUS], "https://shop.example/changed");
    assert_string_equal(r[5].cfg.secret, "whsec_changed");
    assert_int_equal(r[5].ncur, 2);
    for (int i = 0; i < GROUP_REQS; i++)
        arena_free(r[i].a);
}

/* ---- order lookups ---------------------------------------------------------------- */

enum { ORDER_LINKS = 60 };

struct order_ctx {
    const char *merchant_id;
    enum order_block why[2];
    char ref[2][DB_REF_LEN];
    int history[4]; /* the statuses of link ref-7's history */
    int nhistory;
};

static void keep_status(void *cls, const struct db_link_status *s)
{
    struct order_ctx *c = cls;
    if (c->nhistory < 4)
        c->history[c->nhistory] = s->status;
    c->nhistory++;
}

/* ORDER_LINKS live links of orders o-0..., each with a payment waiting for
 * the gateway. */
static enum db_status orders_cb(struct db_tx *tx, void *cls)
{
    const struct order_ctx *c = cls;
    for (int i = 0; i < ORDER_LINKS; i++) {
        char order[16];
        snprintf(order, sizeof order, "o-%d", i);
        struct db_link l = {.order_number = order,
                            .currency = "ZAR",
                            .total_minor = 100,
                            .status = 1,
                            .live = true,
                            .created_at = time_now(),
                            .expires_at = time_now() + 3600 * 1000000LL};
        memcpy(l.merchant_id, c->merchant_id, DB_UUID_LEN);
        snprintf(l.ref, sizeof l.ref, "ref-%d", i);
        snprintf(l.token, sizeof l.token, "token-%d", i);
        struct db_link_status first = {.status = 1, .created_at = time_now(), .response_code = "0"};
        enum order_block why;
        char taken_by[DB_REF_LEN];
        enum db_status st = DB_CALL(tx, links, insert, &l, &first, &why, taken_by);
        if (st < 0)
            return st;
        struct db_payment_op op = {
            .link_id = l.id, .op = 1, .amount_minor = 100, .created_at = time_now()};
        memcpy(op.merchant_id, c->merchant_id, DB_UUID_LEN);
        snprintf(op.ref, sizeof op.ref, "pay-%d", i);
        st = DB_CALL(tx, payments, insert, &op);
        if (st != DB_ONE_RESULT)
            return st < 0 ? st : DB_HARD_ERROR;
    }
    return DB_ONE_RESULT;
}

/* a payment's gateway reference, found by the payment's ref */
static enum db_status gateway_ref_cb(struct db_tx *tx, void *cls)
{
    const struct order_ctx *c = cls;
    enum db_status st = DB_CALL(tx, payments, set_gateway_ref, c->merchant_id, "pay-3", "gw-3");
    if (st < 0)
        return st;
    struct db_payment_op op;
    st = DB_CALL(tx, payments, get, c->merchant_id, "pay-3", &op);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    return strcmp(op.gateway_ref, "gw-3") == 0 ? DB_ONE_RESULT : DB_HARD_ERROR;
}

/* a payment's answer stored, with what a partial approval held */
static enum db_status partial_finish_cb(struct db_tx *tx, void *cls)
{
    const struct order_ctx *c = cls;
    struct db_payment_op op;
    enum db_status st = DB_CALL(tx, payments, get, c->merchant_id, "pay-4", &op);
    if (st <= 0 || op.held_minor != 0)
        return st < 0 ? st : DB_HARD_ERROR;
    op.state = 1;
    op.decision = 1;
    op.flags = DB_OP_ORPHAN | DB_OP_PARTIAL;
    op.held_minor = 40;
    snprintf(op.note, sizeof op.note, "Not taken");
    st = DB_CALL(tx, payments, finish, &op);
    if (st < 0)
        return st;
    struct db_payment_op again;
    st = DB_CALL(tx, payments, get, c->merchant_id, "pay-4", &again);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    return again.state == 1 && again.held_minor == 40 && again.amount_minor == 100 &&
                   again.flags == (DB_OP_ORPHAN | DB_OP_PARTIAL) &&
                   strcmp(again.note, "Not taken") == 0
               ? DB_ONE_RESULT
               : DB_HARD_ERROR;
}

static enum db_status order_block_cb(struct db_tx *tx, void *cls)
{
    struct order_ctx *c = cls;
    const char *orders[2] = {"o-7", "o-new"};
    for (int i = 0; i < 2; i++) {
        enum db_status st = DB_CALL(tx, links, order_block, c->merchant_id, orders[i], 0,
                                    time_now(), &c->why[i], c->ref[i]);
        if (st < 0)
            return st;
    }
    /* each link was written with its first history entry */
    struct arena *a = arena_new(0);
    struct db_link l;
    enum db_status st = DB_CALL(tx, links, get_by_ref, c->merchant_id, "ref-7", a, &l);
    c->nhistory = 0;
    if (st > 0)
        st = DB_CALL(tx, links, status_list, c->merchant_id, l.id, a, keep_status, c);
    arena_free(a);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* How often an index of this test's PostgreSQL database was scanned, as its
 * statistics say (-1 on failure). */
static long index_scans(const char *index)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "psql \"%s\" -qAt -c \"SELECT COALESCE(sum(idx_scan), 0) FROM pg_stat_user_indexes"
             " WHERE indexrelname = '%s'\"",
             url, index);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    long n = -1;
    if (fscanf(p, "%ld", &n) != 1)
        n = -1;
    pclose(p);
    return n;
}

/* End the test's session (its statistics reach the server as it ends; a new
 * handle for teardown), then wait up to 5 s for `used` to show scans: its
 * count then. */
static long scans_after_close(void **state, const char *used)
{
    db_close(*state);
    char err[256];
    *state = db_open(url, err, sizeof err);
    assert_non_null(*state);
    long n = 0;
    for (int i = 0; i < 100 && n <= 0; i++) {
        n = index_scans(used);
        if (n <= 0)
            usleep(50 * 1000);
    }
    return n;
}

/* A merchant (into a) with ORDER_LINKS links (orders_cb), c for its lookups. */
static void orders_of_a_merchant(struct db *db, struct insert_ctx *a, struct order_ctx *c)
{
    fill(a, "orders");
    assert_int_equal(db_run(db, DB_WRITE, "t", insert_cb, a), 1);
    *c = (struct order_ctx){.merchant_id = a->m.id};
    assert_int_equal(db_run(db, DB_WRITE, "t", orders_cb, c), 1);
}

/* Whether a new link may be made for an order reads that order's links only,
 * through the order index, and a payment's gateway reference is set through
 * the payment's ref: not through every live link, nor every payment waiting
 * at the gateway, which PostgreSQL's planner picked on tables it had not
 * analyzed yet (each creation slower than the last). */
static void test_order_lookups_use_the_order_index(void **state)
{
    struct db *db = *state;
    struct insert_ctx a;
    struct order_ctx c;
    orders_of_a_merchant(db, &a, &c);
    /* more than five times: PostgreSQL plans a prepared statement anew for
     * the first five runs, then may keep a generic plan */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(db_run(db, DB_READ, "t", order_block_cb, &c), 1);
        assert_int_equal(c.why[0], ORDER_IN_PROGRESS);
        assert_string_equal(c.ref[0], "ref-7");
        assert_int_equal(c.why[1], ORDER_FREE);
        assert_int_equal(c.nhistory, 1);
        assert_int_equal(c.history[0], 1);
        assert_int_equal(db_run(db, DB_WRITE, "t", gateway_ref_cb, &c), 1);
    }
    assert_int_equal(db_run(db, DB_WRITE, "t", partial_finish_cb, &c), 1);
    if (strcmp(target_backend(), "postgresql") != 0)
        return;
    assert_true(scans_after_close(state, "links_order") >= 16);
    assert_int_equal(index_scans("links_expiry"), 0);
    assert_int_equal(index_scans("payment_ops_pending"), 0);
}

/* A payment of link ref-7 that went through the gateway provider "gw-1". */
static enum db_status gateway_payment_cb(struct db_tx *tx, void *cls)
{
    const struct order_ctx *c = cls;
    struct arena *a = arena_new(0);
    struct db_link l;
    enum db_status st = DB_CALL(tx, links, get_by_ref, c->merchant_id, "ref-7", a, &l);
    arena_free(a);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    struct db_payment_op op = {
        .link_id = l.id, .op = 1, .amount_minor = 100, .created_at = time_now()};
    memcpy(op.merchant_id, c->merchant_id, DB_UUID_LEN);
    snprintf(op.ref, sizeof op.ref, "pay-gw");
    snprintf(op.gateway_id, sizeof op.gateway_id, "gw-1");
    return DB_CALL(tx, payments, insert, &op);
}

struct gateway_use {
    const char *merchant_id;
    int used[3]; /* gw-1 by its merchant, gw-2 by it, gw-1 by another merchant */
};

static enum db_status gateway_use_cb(struct db_tx *tx, void *cls)
{
    struct gateway_use *u = cls;
    const char *merchants[3] = {u->merchant_id, u->merchant_id,
                                "00000000-0000-0000-0000-000000000000"};
    const char *gateways[3] = {"gw-1", "gw-2", "gw-1"};
    for (int i = 0; i < 3; i++) {
        enum db_status st = DB_CALL(tx, payments, uses_gateway, merchants[i], gateways[i]);
        if (st < 0)
            return st;
        u->used[i] = st;
    }
    return DB_ONE_RESULT;
}

/* Whether a gateway provider has payments (asked before it is removed)
 * reads that merchant's payments through that gateway, by an index: not
 * every payment operation of every merchant. */
static void test_gateway_use_is_found_by_its_index(void **state)
{
    struct db *db = *state;
    struct insert_ctx a;
    struct order_ctx c;
    orders_of_a_merchant(db, &a, &c);
    assert_int_equal(db_run(db, DB_WRITE, "t", gateway_payment_cb, &c), 1);
    struct gateway_use u = {.merchant_id = c.merchant_id};
    for (int i = 0; i < 8; i++) { /* past PostgreSQL's first five plans */
        assert_int_equal(db_run(db, DB_READ, "t", gateway_use_cb, &u), 1);
        assert_int_equal(u.used[0], 1);
        assert_int_equal(u.used[1], 0);
        assert_int_equal(u.used[2], 0);
    }
    if (strcmp(target_backend(), "postgresql") != 0)
        return;
    assert_true(scans_after_close(state, "payment_ops_gateway") >= 24);
}

/* The repair sweep's schedule: pay-5 due long ago, pay-7 due less long ago,
 * pay-6 not due, pay-8 finished (then not rescheduled); the others due since
 * they were stored. */
struct repair_ctx {
    const char *merchant_id;
    usec_t now, created0; /* created0: pay-0's created_at */
    enum db_status set[5];
    usec_t at7, at1, created1;
    char refs[3][DB_REF_LEN];
    int n;
};

#define SECONDS(n) ((usec_t)(n)*1000000)

static enum db_status repair_schedule_cb(struct db_tx *tx, void *cls)
{
    struct repair_ctx *c = cls;
    const char *refs[4] = {"pay-5", "pay-7", "pay-6", "pay-8"};
    const usec_t at[4] = {c->now - SECONDS(100), c->now - SECONDS(50), c->now + SECONDS(3600),
                          c->now - SECONDS(200)};
    for (int i = 0; i < 4; i++)
        if ((c->set[i] =
                 DB_CALL(tx, payments, claim_repair, c->merchant_id, refs[i], c->now, at[i])) < 0)
            return c->set[i];
    struct db_payment_op op;
    enum db_status st = DB_CALL(tx, payments, get, c->merchant_id, "pay-8", &op);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    op.state = 1;
    op.decision = 1;
    if ((st = DB_CALL(tx, payments, finish, &op)) < 0)
        return st;
    c->set[4] = DB_CALL(tx, payments, claim_repair, c->merchant_id, "pay-8", c->now, c->now);
    if (c->set[4] < 0)
        return c->set[4];
    const char *read[3] = {"pay-7", "pay-1", "pay-0"};
    usec_t *into[3][2] = {{&c->at7, NULL}, {&c->at1, &c->created1}, {NULL, &c->created0}};
    for (int i = 0; i < 3; i++) {
        if ((st = DB_CALL(tx, payments, get, c->merchant_id, read[i], &op)) <= 0)
            return st < 0 ? st : DB_HARD_ERROR;
        if (into[i][0])
            *into[i][0] = op.repair_at;
        if (into[i][1])
            *into[i][1] = op.created_at;
    }
    return DB_ONE_RESULT;
}

/* A claim on an operation another repair holds (pay-6, until an hour from
 * now) is refused; one whose time has come (pay-5) is taken. */
static enum db_status repair_claim_again_cb(struct db_tx *tx, void *cls)
{
    struct repair_ctx *c = cls;
    c->set[0] = DB_CALL(tx, payments, claim_repair, c->merchant_id, "pay-6", c->now, c->now);
    c->set[1] =
        DB_CALL(tx, payments, claim_repair, c->merchant_id, "pay-5", c->now, c->now - SECONDS(100));
    return c->set[0] < 0 ? c->set[0] : c->set[1] < 0 ? c->set[1] : DB_ONE_RESULT;
}

static void keep_repair_ref(void *cls, const struct db_payment_op *op)
{
    struct repair_ctx *c = cls;
    if (c->n < 3)
        snprintf(c->refs[c->n], sizeof c->refs[c->n], "%s", op->ref);
    c->n++;
}

struct repair_list {
    struct repair_ctx *c;
    usec_t before;
    int limit;
};

static enum db_status repair_list_cb(struct db_tx *tx, void *cls)
{
    struct repair_list *l = cls;
    l->c->n = 0;
    enum db_status st =
        DB_CALL(tx, payments, list_pending, l->c->now, l->before, l->limit, keep_repair_ref, l->c);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* The repair sweep takes the pending operations whose repair time is due,
 * the longest due first, so that none starves behind operations asked about
 * again and again; an operation is stored due at once, a finished one is
 * neither listed nor rescheduled, and one held by another repair is not
 * claimed. Through payment_ops_repair. */
static void test_repair_schedule(void **state)
{
    struct db *db = *state;
    struct insert_ctx a;
    struct repair_ctx c;
    struct order_ctx oc;
    orders_of_a_merchant(db, &a, &oc); /* pay-0 … pay-59, pending */
    c = (struct repair_ctx){.merchant_id = oc.merchant_id, .now = time_now() + SECONDS(1)};
    assert_int_equal(db_run(db, DB_WRITE, "t", repair_schedule_cb, &c), 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(c.set[i], 1);
    assert_int_equal(c.set[4], 0);
    assert_int_equal(db_run(db, DB_WRITE, "t", repair_claim_again_cb, &c), 1);
    assert_int_equal(c.set[0], 0); /* held by another repair */
    assert_int_equal(c.set[1], 1);
    assert_true(c.at7 == c.now - SECONDS(50));
    assert_true(c.at1 == c.created1);
    for (int i = 0; i < 8; i++) { /* past PostgreSQL's first five plans */
        struct repair_list first = {.c = &c, .before = c.now, .limit = 3};
        assert_int_equal(db_run(db, DB_READ, "t", repair_list_cb, &first), 1);
        assert_int_equal(c.n, 3);
        assert_string_equal(c.refs[0], "pay-5");
        assert_string_equal(c.refs[1], "pay-7");
        assert_string_equal(c.refs[2], "pay-0");
    }
    struct repair_list all = {.c = &c, .before = c.now, .limit = 100};
    assert_int_equal(db_run(db, DB_READ, "t", repair_list_cb, &all), 1);
    assert_int_equal(c.n, ORDER_LINKS - 2);
    /* none was created before pay-0 */
    struct repair_list none = {.c = &c, .before = c.created0, .limit = 100};
    assert_int_equal(db_run(db, DB_READ, "t", repair_list_cb, &none), 1);
    assert_int_equal(c.n, 0);
    if (strcmp(target_backend(), "postgresql") != 0)
        return;
    assert_true(scans_after_close(state, "payment_ops_repair") >= 8);
    assert_int_equal(index_scans("payment_ops_pending"), 0);
}

/* links.insert writes a link only when its order is free, and says why not
 * (the check and the writes are one statement on PostgreSQL). */
struct one_link {
    const char *merchant_id, *order, *ref;
    usec_t expires_at;
    enum db_status st;
    enum order_block why;
    char taken_by[DB_REF_LEN];
    int64_t id;
};

static enum db_status one_link_cb(struct db_tx *tx, void *cls)
{
    struct one_link *c = cls;
    struct db_link l = {.order_number = c->order,
                        .currency = "ZAR",
                        .total_minor = 100,
                        .status = 1,
                        .live = true,
                        .created_at = time_now(),
                        .expires_at = c->expires_at};
    memcpy(l.merchant_id, c->merchant_id, DB_UUID_LEN);
    snprintf(l.ref, sizeof l.ref, "%s", c->ref);
    snprintf(l.token, sizeof l.token, "t-%s", c->ref);
    struct db_link_status first = {.status = 1, .created_at = l.created_at};
    c->st = DB_CALL(tx, links, insert, &l, &first, &c->why, c->taken_by);
    c->id = l.id;
    return c->st < 0 ? c->st : DB_ONE_RESULT;
}

static struct one_link new_link(struct db *db, const char *merchant_id, const char *order,
                                const char *ref, usec_t expires_at)
{
    struct one_link c = {
        .merchant_id = merchant_id, .order = order, .ref = ref, .expires_at = expires_at};
    assert_int_equal(db_run(db, DB_WRITE, "t", one_link_cb, &c), 1);
    return c;
}

static void test_link_insert_refuses_a_taken_order(void **state)
{
    struct db *db = *state;
    struct insert_ctx a;
    struct order_ctx c;
    orders_of_a_merchant(db, &a, &c);
    usec_t hour = 3600 * 1000000LL;
    for (int i = 0; i < 8; i++) { /* past PostgreSQL's first five plans */
        /* o-7 has a payment waiting at the gateway */
        struct one_link r = new_link(db, a.m.id, "o-7", "again-7", time_now() + hour);
        assert_int_equal(r.st, DB_NO_RESULTS);
        assert_int_equal(r.why, ORDER_IN_PROGRESS);
        assert_string_equal(r.taken_by, "ref-7");
        assert_int_equal(r.id, 0);
    }
    /* nothing was written for it: its newest link is the first */
    assert_int_equal(db_run(db, DB_READ, "t", order_block_cb, &c), 1);
    assert_string_equal(c.ref[0], "ref-7");
    assert_int_equal(c.nhistory, 1);

    struct one_link live = new_link(db, a.m.id, "o-live", "live-1", time_now() + hour);
    assert_int_equal(live.st, DB_ONE_RESULT);
    assert_true(live.id > 0);
    struct one_link again = new_link(db, a.m.id, "o-live", "live-2", time_now() + hour);
    assert_int_equal(again.st, DB_NO_RESULTS);
    assert_int_equal(again.why, ORDER_LIVE);
    assert_string_equal(again.taken_by, "live-1");

    /* an expired, unpaid link does not hold its order */
    struct one_link old = new_link(db, a.m.id, "o-old", "old-1", time_now() - hour);
    assert_int_equal(old.st, DB_ONE_RESULT);
    struct one_link after = new_link(db, a.m.id, "o-old", "old-2", time_now() + hour);
    assert_int_equal(after.st, DB_ONE_RESULT);
    assert_true(after.id > old.id);
    assert_int_equal(after.why, ORDER_FREE);
    assert_string_equal(after.taken_by, "");
}

/* jobs.hurry finds a message's status query through jobs_target, not by
 * scanning every job waiting in its pool (jobs_due), which PostgreSQL's
 * planner would pick on a table it has not analyzed yet. */
enum { HURRY_JOBS = 40 };

static enum db_status pending_jobs_cb(struct db_tx *tx, void *cls)
{
    (void)cls;
    for (int i = 1; i <= HURRY_JOBS; i++) {
        struct db_job j = {.kind = JOB_DELIVERY_RECEIPT,
                           .link_id = 3,
                           .arg = i,
                           .run_at = time_now() + 3600 * 1000000LL};
        snprintf(j.merchant_id, sizeof j.merchant_id, "m_1");
        enum db_status st = DB_CALL(tx, jobs, insert, &j);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

static enum db_status hurry_one_cb(struct db_tx *tx, void *cls)
{
    return DB_CALL(tx, jobs, hurry, JOB_DELIVERY_RECEIPT, 7, *(usec_t *)cls);
}

/* The scans of index once the counts of sessions that ended have arrived:
 * the same twice 200 ms apart. */
static long settled_scans(const char *index)
{
    long n = index_scans(index);
    for (int i = 0; i < 25; i++) {
        usleep(200 * 1000);
        long again = index_scans(index);
        if (again == n)
            break;
        n = again;
    }
    return n;
}

static void test_jobs_hurry_uses_its_index(void **state)
{
    bool pg = strcmp(target_backend(), "postgresql") == 0;
    long due_before = 0;
    if (pg) { /* what making the database scanned (the migrations), counted */
        db_close(*state);
        char err[256];
        *state = db_open(url, err, sizeof err);
        assert_non_null(*state);
        due_before = settled_scans("jobs_due");
    }
    struct db *db = *state;
    assert_int_equal(db_run(db, DB_WRITE, "t", pending_jobs_cb, NULL), 1);
    usec_t soon = time_now() + 60 * 1000000LL;
    for (int i = 0; i < 8; i++, soon -= 1000000)
        assert_int_equal(db_run(db, DB_WRITE, "t", hurry_one_cb, &soon), 1);
    if (!pg)
        return;
    assert_true(scans_after_close(state, "jobs_target") >= 8);
    assert_int_equal(index_scans("jobs_due"), due_before);
}

/* ---- purges ------------------------------------------------------------------------- */

/* Each table's purge, with its limit, and the index it finds its rows
 * through (migration 20 made the last three) */
enum { PURGE_OLD = 5, PURGE_LIMIT = 3, PURGE_TABLES = 6 };
#define PURGE_CUT   500000 /* the purges' cut: rows from before it are old */
#define PURGE_YOUNG 900000

static const char *const purge_index[PURGE_TABLES] = {
    "idempotency_age",      "mp_tokens_expiry", "gateway_notices_age",
    "sandbox_messages_age", "jobs_done",        "callbacks_ended",
};

static enum db_status purge_table_cb(struct db_tx *tx, void *cls)
{
    switch (*(const int *)cls) {
    case 0:
        return DB_CALL(tx, idempotency, purge, PURGE_CUT, PURGE_LIMIT);
    case 1:
        return DB_CALL(tx, marketplace, token_purge, PURGE_CUT, PURGE_LIMIT);
    case 2:
        return DB_CALL(tx, providers, notice_purge, PURGE_CUT, PURGE_LIMIT);
    case 3:
        return DB_CALL(tx, messages, purge, PURGE_CUT, PURGE_LIMIT);
    case 4:
        return DB_CALL(tx, jobs, purge, PURGE_CUT, PURGE_LIMIT);
    default:
        return DB_CALL(tx, callbacks, purge, PURGE_CUT, PURGE_LIMIT);
    }
}

/* In each table PURGE_OLD rows from before the cut, and rows that stay: one
 * after it, a callback still pending from before it, a job not finished,
 * and the newest job, finished before the cut. Row i < PURGE_OLD is old. */
struct purge_rows {
    const char *merchant_id;
    struct db_mp_client client;
    uint8_t hash[32];
    uint8_t token[PURGE_OLD + 1][32];
    struct db_job job[PURGE_OLD + 3];     /* then: not finished, young, the newest */
    struct db_callback cb[PURGE_OLD + 2]; /* then: young, pending */
    /* what is found after the purges, per table and row (1: found) */
    enum db_status found[PURGE_TABLES][PURGE_OLD + 3];
};

static enum db_status purge_rows_cb(struct db_tx *tx, void *cls)
{
    struct purge_rows *r = cls;
    if (DB_CALL(tx, marketplace, client_insert, &r->client) != 1)
        return DB_HARD_ERROR;
    for (int i = 0; i <= PURGE_OLD; i++) {
        usec_t at = i < PURGE_OLD ? 1000 + i : PURGE_YOUNG;
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        struct db_message m = {
            .job_id = 100 + i, .channel = 1, .text = "t", .status = "SENT", .created_at = at};
        snprintf(m.merchant_id, sizeof m.merchant_id, "%s", r->merchant_id);
        crypto_random(r->token[i], 32);
        if (DB_CALL(tx, idempotency, begin, r->merchant_id, key, r->hash, at) != 1 ||
            DB_CALL(tx, marketplace, token_insert, r->token[i], r->client.id, at, 0) != 1 ||
            DB_CALL(tx, providers, notice_add, "gw-p", key, at) != 1 ||
            DB_CALL(tx, messages, insert, &m) != 1)
            return DB_HARD_ERROR;
    }
    for (int i = 0; i < PURGE_OLD + 2; i++) {
        struct db_callback *cb = &r->cb[i];
        snprintf(cb->ref, sizeof cb->ref, "cb_purge%d%s", i, r->merchant_id + 30);
        snprintf(cb->webhook_id, sizeof cb->webhook_id, "msg_purge%d", i);
        snprintf(cb->merchant_id, sizeof cb->merchant_id, "%s", r->merchant_id);
        cb->kind = CB_PAYMENT_STATUS;
        cb->url = "https://shop.example/ps";
        cb->body = "{}";
        cb->created_at = cb->updated_at = cb->next_at = 1000;
        if (DB_CALL(tx, callbacks, insert, cb) != 1)
            return DB_HARD_ERROR;
        if (i == PURGE_OLD + 1)
            continue; /* pending */
        cb->state = i % 2 ? CB_DELIVERED : CB_FAILED;
        cb->updated_at = i < PURGE_OLD ? 1000 + i : PURGE_YOUNG;
        if (DB_CALL(tx, callbacks, update, cb) != 1)
            return DB_HARD_ERROR;
    }
    for (int i = 0; i < PURGE_OLD + 3; i++) {
        struct db_job *j = &r->job[i];
        *j = (struct db_job){.kind = JOB_SEND_LINK, .link_id = 1, .run_at = (usec_t)1 << 60};
        snprintf(j->merchant_id, sizeof j->merchant_id, "%s", r->merchant_id);
        if (DB_CALL(tx, jobs, insert, j) != 1)
            return DB_HARD_ERROR;
        usec_t done = i < PURGE_OLD ? 1000 + i : i == PURGE_OLD + 1 ? PURGE_YOUNG : 1000;
        if (i != PURGE_OLD && DB_CALL(tx, jobs, complete, j, done) != 1)
            return DB_HARD_ERROR;
    }
    return DB_ONE_RESULT;
}

static enum db_status purge_left_cb(struct db_tx *tx, void *cls)
{
    struct purge_rows *r = cls;
    struct arena *a = arena_new(0);
    for (int i = 0; i < PURGE_OLD + 3; i++) {
        enum db_status *f[PURGE_TABLES];
        for (int t = 0; t < PURGE_TABLES; t++)
            f[t] = &r->found[t][i];
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        struct db_idempotency idem;
        struct db_mp_client client;
        usec_t expires;
        struct db_message m;
        struct db_callback cb;
        if (i <= PURGE_OLD) {
            *f[0] = DB_CALL(tx, idempotency, get, r->merchant_id, key, a, &idem);
            *f[1] = DB_CALL(tx, marketplace, token_find, r->token[i], 0, a, &client, &expires);
            *f[2] = DB_CALL(tx, providers, notice_seen, "gw-p", key);
            *f[3] = DB_CALL(tx, messages, get_by_job, 100 + i, a, &m);
        }
        *f[4] = DB_CALL(tx, jobs, get, r->merchant_id, r->job[i].id, &(struct db_job){0});
        if (i < PURGE_OLD + 2)
            *f[5] = DB_CALL(tx, callbacks, get, r->cb[i].id, a, &cb);
    }
    arena_free(a);
    return DB_ONE_RESULT;
}

/* Each purge drops at most its limit, the oldest first, and says how many;
 * the rows after the cut, a pending callback, a job not finished and the
 * newest job stay. On PostgreSQL each finds its rows through its index:
 * before migration 20, jobs, callbacks and sandbox messages had none, and
 * every purge read the whole table (at some size, past the statement
 * timeout: the purge never went through again). */
static void test_purges_are_bounded_and_use_their_indexes(void **state)
{
    struct db *db = *state;
    struct insert_ctx a;
    fill(&a, "purges");
    assert_int_equal(db_run(db, DB_WRITE, "t", insert_cb, &a), 1);
    struct purge_rows r = {.merchant_id = a.m.id};
    mp_client(&r.client, 77);
    crypto_random(r.hash, sizeof r.hash);
    assert_int_equal(db_run(db, DB_WRITE, "t", purge_rows_cb, &r), 1);
    for (int t = 0; t < PURGE_TABLES; t++) {
        /* more old rows than the limit: the limit, the rest, then none */
        const int expect[3] = {PURGE_LIMIT, PURGE_OLD - PURGE_LIMIT, 0};
        for (int k = 0; k < 3; k++) {
            enum db_status n = db_run(db, DB_WRITE, "t", purge_table_cb, &t);
            if ((int)n != expect[k])
                fail_msg("purge through %s, batch %d: %d dropped, not %d", purge_index[t], k,
                         (int)n, expect[k]);
        }
    }
    assert_int_equal(db_run(db, DB_READ, "t", purge_left_cb, &r), 1);
    for (int t = 0; t < PURGE_TABLES; t++)
        for (int i = 0; i < PURGE_OLD + 3; i++) {
            bool rows = t == 4 || i <= PURGE_OLD + (t == 5); /* jobs and callbacks have more */
            if (!rows)
                continue;
            int stays = i >= PURGE_OLD;
            if ((int)r.found[t][i] != stays)
                fail_msg("purge through %s: row %d %s", purge_index[t], i,
                         stays ? "was dropped" : "stayed");
        }
    if (strcmp(target_backend(), "postgresql") != 0)
        return;
    char unused[256] = "";
    for (int t = 0; t < PURGE_TABLES; t++) {
        long n = scans_after_close(state, purge_index[t]);
        if (n < 3)
            snprintf(unused + strlen(unused), sizeof unused - strlen(unused), " %s (%ld scans)",
                     purge_index[t], n);
    }
    if (*unused)
        fail_msg("indexes not used by 3 purges each:%s", unused);
}

static void test_bad_urls(void **state)
{
    (void)state;
    char err[256];
    assert_null(db_open("mysql://x", err, sizeof err));
    assert_non_null(strstr(err, "expected sqlite:PATH"));
    assert_null(db_open("sqlite:", err, sizeof err));
    assert_null(db_open("sqlite:/proc/forbidden/x.db", err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_and_scoping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_key_is_not_found_and_epoch_moves, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_epoch_is_shared_between_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_failures_stay_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callbacks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_providers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_hurry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_stale_run_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statement_timeout_is_answered_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_insufficient_resources_are_unavailable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_a_dynamic_statement_redone_in_a_failed_transaction_works_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_wait_past_the_statement_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_marketplace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whatsapp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_lookups_use_the_order_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_reads_see_the_group_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_hurry_uses_its_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_insert_refuses_a_taken_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gateway_use_is_found_by_its_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purges_are_bounded_and_use_their_indexes, setup,
                                        teardown),
        cmocka_unit_test(test_bad_urls),
    };
    char name[64];
    snprintf(name, sizeof name, "db (%s)", target_backend());
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
