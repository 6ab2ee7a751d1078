/*
 * db_temp.h — the storage tests' fixture: each test gets a new SQLite
 * database, migrated, in a temporary folder of its own that is removed
 * afterwards. Include after cmocka.h.
 */
#ifndef CHATPAY_TESTS_DB_TEMP_H
#define CHATPAY_TESTS_DB_TEMP_H

#include <stdio.h>
#include <stdlib.h>

#include "db/db.h"

static char db_temp_dir[64];
static char db_temp_path[128]; /* the database file */

static int db_temp_setup(void **state)
{
    snprintf(db_temp_dir, sizeof db_temp_dir, "/tmp/chatpay-test-db.XXXXXX");
    assert_non_null(mkdtemp(db_temp_dir));
    snprintf(db_temp_path, sizeof db_temp_path, "%s/t.db", db_temp_dir);
    char url[160], err[256];
    snprintf(url, sizeof url, "sqlite:%s", db_temp_path);
    struct db *db = db_open(url, err, sizeof err);
    assert_non_null(db);
    assert_true(db_migrate(db) >= 0);
    *state = db;
    return 0;
}

static int db_temp_teardown(void **state)
{
    db_close(*state);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", db_temp_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

#endif
