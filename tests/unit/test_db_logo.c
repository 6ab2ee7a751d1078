/*
 * test_db_logo.c — the merchant logo operations of the storage interface
 * (migration 4), against the SQLite backend on a temporary file: set, read
 * back byte for byte (NUL bytes included), replace, remove, the type and size
 * seen by merchants.get/list, scoping by merchant, and the type check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/merchants.h"
#include "util/crypto.h"

#include "db_temp.h"

struct ctx {
    struct db_merchant m;
    const char *id;
    const char *type;
    const void *data;
    size_t len;
    usec_t now;
    struct arena *a;
    struct db_logo logo;
    struct db_merchant got;
};

static enum db_status insert_cb(struct db_tx *tx, void *cls)
{
    struct ctx *c = cls;
    return DB_CALL(tx, merchants, insert, &c->m);
}

static enum db_status set_cb(struct db_tx *tx, void *cls)
{
    struct ctx *c = cls;
    return DB_CALL(tx, merchants, logo_set, c->id, c->type, c->data, c->len, c->now);
}

static enum db_status get_cb(struct db_tx *tx, void *cls)
{
    struct ctx *c = cls;
    enum db_status st = DB_CALL(tx, merchants, get, c->id, &c->got);
    if (st <= 0)
        return st;
    return DB_CALL(tx, merchants, logo_get, c->id, c->a, &c->logo);
}

static void new_merchant(struct db *db, struct ctx *c)
{
    memset(&c->m, 0, sizeof c->m);
    crypto_uuid_v4(c->m.id);
    snprintf(c->m.name, sizeof c->m.name, "Logo Shop");
    c->m.created_at = c->m.updated_at = 1000;
    assert_int_equal(db_run(db, DB_WRITE, "insert", insert_cb, c), 1);
    c->id = c->m.id;
}

static void test_logo_roundtrip(void **state)
{
    struct db *db = *state;
    struct ctx c = {.a = arena_new(0)}, other = {.a = c.a};
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                                        0,    0,   0,   13,  'I',  'H',  'D',  'R'};
    new_merchant(db, &c);
    new_merchant(db, &other);

    /* none yet */
    assert_int_equal(db_run(db, DB_READ, "get", get_cb, &c), 0);

    c.type = "image/png";
    c.data = png;
    c.len = sizeof png;
    c.now = 5000;
    assert_int_equal(db_run(db, DB_WRITE, "set", set_cb, &c), 1);
    assert_int_equal(db_run(db, DB_READ, "get", get_cb, &c), 1);
    assert_string_equal(c.logo.type, "image/png");
    assert_int_equal(c.logo.len, sizeof png);
    assert_memory_equal(c.logo.data, png, sizeof png); /* NUL bytes kept */
    assert_int_equal(c.logo.updated_at, 5000);
    assert_string_equal(c.got.logo_type, "image/png");
    assert_int_equal(c.got.logo_bytes, sizeof png);
    assert_int_equal(c.got.updated_at, 5000);

    /* the other merchant has none */
    assert_int_equal(db_run(db, DB_READ, "get", get_cb, &other), 0);
    assert_string_equal(other.got.logo_type, "");
    assert_int_equal(other.got.logo_bytes, 0);

    /* replace; updated_at never goes back */
    c.type = "image/svg+xml";
    c.data = "<svg/>";
    c.len = 6;
    c.now = 4000;
    assert_int_equal(db_run(db, DB_WRITE, "set", set_cb, &c), 1);
    assert_int_equal(db_run(db, DB_READ, "get", get_cb, &c), 1);
    assert_string_equal(c.logo.type, "image/svg+xml");
    assert_int_equal(c.logo.len, 6);
    assert_memory_equal(c.logo.data, "<svg/>", 6);
    assert_int_equal(c.logo.updated_at, 5000);

    /* remove */
    c.type = NULL;
    c.now = 6000;
    assert_int_equal(db_run(db, DB_WRITE, "set", set_cb, &c), 1);
    assert_int_equal(db_run(db, DB_READ, "get", get_cb, &c), 0);
    assert_string_equal(c.got.logo_type, "");
    assert_int_equal(c.got.logo_bytes, 0);
    assert_int_equal(c.got.updated_at, 6000);

    /* no such merchant */
    c.id = "00000000-0000-4000-8000-000000000000";
    c.type = "image/png";
    assert_int_equal(db_run(db, DB_WRITE, "set", set_cb, &c), 0);
    assert_int_equal(db_run(db, DB_READ, "get", get_cb, &c), 0);

    /* only image types are stored (the schema checks) */
    c.id = c.m.id;
    c.type = "text/html";
    c.data = "<p>";
    c.len = 3;
    assert_true(db_run(db, DB_WRITE, "set", set_cb, &c) < 0);
    arena_free(c.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_logo_roundtrip, db_temp_setup, db_temp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
