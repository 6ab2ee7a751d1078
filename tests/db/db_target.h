/*
 * db_target.h — where the storage contract suites run: a fresh SQLite file in
 * a temporary folder, or, when CHATPAY_TEST_PG holds libpq settings of a
 * running cluster ("host=/tmp/x user=postgres"), a fresh database on it
 * (made and dropped with psql). Each test gets its own (setup/teardown, for
 * cmocka; include after cmocka.h and db/db.h).
 */
#ifndef CHATPAY_TESTS_DB_TARGET_H
#define CHATPAY_TESTS_DB_TARGET_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char target_dir[64];
static char target_name[64];

/* The backend the suite runs on, for its name. */
static inline const char *target_backend(void)
{
    const char *pg = getenv("CHATPAY_TEST_PG");
    return pg && *pg ? "postgresql" : "sqlite";
}

/* A URL of a new, empty database into url[cap]; false on failure. */
static inline bool target_create(char *url, size_t cap)
{
    static unsigned seq;
    const char *pg = getenv("CHATPAY_TEST_PG");
    if (pg && *pg) {
        snprintf(target_name, sizeof target_name, "contract_%d_%u", (int)getpid(), ++seq);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "psql \"%s dbname=postgres\" -qAt -c 'CREATE DATABASE %s'", pg,
                 target_name);
        if (system(cmd) != 0)
            return false;
        snprintf(url, cap, "%s dbname=%s", pg, target_name);
        return true;
    }
    snprintf(target_dir, sizeof target_dir, "/tmp/chatpay-test-db.XXXXXX");
    if (!mkdtemp(target_dir))
        return false;
    snprintf(url, cap, "sqlite:%s/sub/t.db", target_dir);
    return true;
}

/* Remove what target_create made (the database must be closed). */
static inline bool target_drop(void)
{
    const char *pg = getenv("CHATPAY_TEST_PG");
    char cmd[1024];
    if (pg && *pg)
        snprintf(cmd, sizeof cmd,
                 "psql \"%s dbname=postgres\" -qAt -c 'DROP DATABASE IF EXISTS %s WITH (FORCE)'",
                 pg, target_name);
    else
        snprintf(cmd, sizeof cmd, "rm -rf %s", target_dir);
    return system(cmd) == 0;
}

/* The database of the test running: made by setup, dropped by teardown. */
static char url[1024];

static int setup(void **state)
{
    assert_true(target_create(url, sizeof url));
    char err[256];
    struct db *db = db_open(url, err, sizeof err);
    if (!db)
        fail_msg("%s", err);
    assert_true(db_migrate(db) >= 0);
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    db_close(*state);
    assert_true(target_drop());
    return 0;
}

#endif
