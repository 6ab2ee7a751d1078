/*
 * test_db_url.c — unit tests for what db/db.c makes of database URLs:
 * db_url_display (no password shown), db_url_exists (no SQLite file made
 * up by a typo) and db_url_same (one file however its path is spelled).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db/db.h"

static void check_display(const char *url, const char *shown)
{
    char out[256];
    db_url_display(url, out, sizeof out);
    assert_string_equal(out, shown);
}

static void test_display_hides_passwords(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"sqlite:var/chatpay.db", "sqlite:var/chatpay.db"},
        {"postgresql://chatpay@db.internal/chatpay", "postgresql://chatpay@db.internal/chatpay"},
        {"postgresql://chatpay:s3cr%40t@db.internal:5432/chatpay",
         "postgresql://chatpay:****@db.internal:5432/chatpay"},
        {"postgres://u:p@h/d?sslmode=require", "postgres://u:****@h/d?sslmode=require"},
        {"postgresql://h/d?user=u&password=p%20q&sslmode=require",
         "postgresql://h/d?user=u&password=****&sslmode=require"},
        {"host=/tmp dbname=chatpay password=secret user=u",
         "host=/tmp dbname=chatpay password=**** user=u"},
        {"host=h password = 'a \\' b' dbname=d", "host=h password = **** dbname=d"},
        {"host=h password='a b' dbname=d", "host=h password=**** dbname=d"},
        {"host=h dbname=password_db", "host=h dbname=password_db"},
        {"password=x", "password=****"},
        /* a mistyped scheme is shown in the error that refuses it */
        {"postgresq://u:hunter2@h/d", "postgresq://u:****@h/d"},
        {"mysql://u:hunter2@h/d?password=p", "mysql://u:****@h/d?password=****"},
        {"sqlite://a:b@c.db", "sqlite://a:b@c.db"}, /* a path, not a userinfo */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_display(cases[i][0], cases[i][1]);
}

static void test_display_cuts_to_fit(void **state)
{
    (void)state;
    char out[12];
    db_url_display("postgresql://u:secret@host/db", out, sizeof out);
    assert_string_equal(out, "postgresql:");
    db_url_display("sqlite:x", out, 1);
    assert_string_equal(out, "");
}

static void test_exists(void **state)
{
    (void)state;
    assert_true(db_url_exists("sqlite:/"));
    assert_false(db_url_exists("sqlite:/no/such/dir/chatpay.db"));
    assert_true(db_url_exists("sqlite::memory:"));
    assert_true(db_url_exists("postgresql://h/d")); /* the server knows */
    assert_true(db_url_exists("mysql://h/d"));      /* db_open says what is wrong */
}

static void test_same(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_db_url_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[64], url[96], other[128];
    snprintf(file, sizeof file, "%s/a.db", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(url, sizeof url, "sqlite:%s", file);
    assert_true(db_url_same(url, url));
    snprintf(other, sizeof other, "sqlite:%s/./a.db", dir);
    assert_true(db_url_same(url, other));
    snprintf(other, sizeof other, "sqlite://%s/a.db", dir);
    assert_true(db_url_same(url, other));
    snprintf(other, sizeof other, "sqlite:%s/b.db", dir); /* not there: another database */
    assert_false(db_url_same(url, other));
    assert_false(db_url_same("sqlite::memory:", "sqlite://:memory:"));
    assert_false(db_url_same("postgresql://h/a", "postgresql://h/b"));
    assert_true(db_url_same("postgresql://h/a", "postgresql://h/a"));
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_display_hides_passwords),
        cmocka_unit_test(test_display_cuts_to_fit),
        cmocka_unit_test(test_exists),
        cmocka_unit_test(test_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
