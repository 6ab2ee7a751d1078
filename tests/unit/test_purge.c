/*
 * test_purge.c — the sweeper's purge (src/jobs/sweeper.c) on SQLite: a table
 * with more old rows than a batch is purged batch after batch, each batch
 * and each table in a transaction of its own, its young rows kept; a table
 * whose purge fails keeps none of the others from being purged, and the
 * pass says that it failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "db/db.h"
#include "db/jobs.h"
#include "db/providers.h"
#include "db/sandbox.h"
#include "jobs/jobs.h"

#include "db_temp.h"

#define NOW   (100LL * 24 * 3600 * 1000000) /* the purge's time: rows at 1000 µs are old */
#define YOUNG (NOW - 1000)

enum { OLD_NOTICES = 2 * JOBS_PURGE_BATCH + 7 }; /* three batches */

static enum db_status notices_cb(struct db_tx *tx, void *cls)
{
    (void)cls;
    char id[32];
    for (int i = 0; i <= OLD_NOTICES; i++) {
        snprintf(id, sizeof id, "ev-%d", i);
        if (DB_CALL(tx, providers, notice_add, "gw", id, i < OLD_NOTICES ? 1000 + i : YOUNG) != 1)
            return DB_HARD_ERROR;
    }
    return DB_ONE_RESULT;
}

/* found[i]: whether notice ev-i is still there */
static enum db_status notices_left_cb(struct db_tx *tx, void *cls)
{
    enum db_status *found = cls;
    const int which[4] = {0, JOBS_PURGE_BATCH, OLD_NOTICES - 1, OLD_NOTICES};
    char id[32];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "ev-%d", which[i]);
        found[i] = DB_CALL(tx, providers, notice_seen, "gw", id);
    }
    return DB_ONE_RESULT;
}

static void test_a_pass_purges_batch_after_batch(void **state)
{
    struct db *db = *state;
    struct app app = {.db = db};
    assert_int_equal(db_run(db, DB_WRITE, "t", notices_cb, NULL), 1);
    struct db_stats before, after;
    db_stats(db, &before);
    assert_true(jobs_purge(&app, NOW));
    db_stats(db, &after);
    /* the notices in three transactions, each other table in one */
    assert_int_equal(after.write_commits - before.write_commits, 3 + 5);
    enum db_status found[4];
    assert_int_equal(db_run(db, DB_READ, "t", notices_left_cb, found), 1);
    assert_int_equal(found[0], 0);
    assert_int_equal(found[1], 0);
    assert_int_equal(found[2], 0);
    assert_int_equal(found[3], 1); /* the young one stays */
}

/* An old and a young row of jobs (then a job not finished, the newest),
 * sandbox messages and gateway notices. */
struct rows {
    struct db_job job[2];
    enum db_status job_left[2], message_left[2], notice_left[2];
};

static enum db_status rows_cb(struct db_tx *tx, void *cls)
{
    struct rows *r = cls;
    for (int i = 0; i < 2; i++) {
        r->job[i] = (struct db_job){.merchant_id = "m_1", .kind = JOB_SEND_LINK, .run_at = NOW};
        struct db_message m = {.merchant_id = "m_1",
                               .job_id = 100 + i,
                               .text = "t",
                               .status = "SENT",
                               .created_at = i ? YOUNG : 1000};
        if (DB_CALL(tx, jobs, insert, &r->job[i]) != 1 || DB_CALL(tx, messages, insert, &m) != 1 ||
            DB_CALL(tx, providers, notice_add, "gw", i ? "young" : "old", i ? YOUNG : 1000) != 1)
            return DB_HARD_ERROR;
    }
    return DB_CALL(tx, jobs, complete, &r->job[0], 1000);
}

static enum db_status rows_left_cb(struct db_tx *tx, void *cls)
{
    struct rows *r = cls;
    struct arena *a = arena_new(0);
    struct db_message m;
    for (int i = 0; i < 2; i++) {
        r->job_left[i] = DB_CALL(tx, jobs, get, "m_1", r->job[i].id, &(struct db_job){0});
        r->message_left[i] = DB_CALL(tx, messages, get_by_job, 100 + i, a, &m);
        r->notice_left[i] = DB_CALL(tx, providers, notice_seen, "gw", i ? "young" : "old");
    }
    arena_free(a);
    return DB_ONE_RESULT;
}

static void test_a_failed_table_stops_no_other(void **state)
{
    struct db *db = *state;
    struct app app = {.db = db};
    struct rows r;
    assert_int_equal(db_run(db, DB_WRITE, "t", rows_cb, &r), 1);
    /* the first table purged is gone: its purge fails */
    sqlite3 *other;
    assert_int_equal(sqlite3_open(db_temp_path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "DROP TABLE idempotency_keys", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(other);
    assert_false(jobs_purge(&app, NOW));
    assert_int_equal(db_run(db, DB_READ, "t", rows_left_cb, &r), 1);
    assert_int_equal(r.job_left[0], 0);
    assert_int_equal(r.job_left[1], 1);
    assert_int_equal(r.message_left[0], 0);
    assert_int_equal(r.message_left[1], 1);
    assert_int_equal(r.notice_left[0], 0);
    assert_int_equal(r.notice_left[1], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_pass_purges_batch_after_batch, db_temp_setup,
                                        db_temp_teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_table_stops_no_other, db_temp_setup,
                                        db_temp_teardown),
    };
    return cmocka_run_group_tests_name("purge", tests, NULL, NULL);
}
