/*
 * test_log.c — unit tests for util/log.c: every line is one complete JSON
 * object of well-formed UTF-8, whatever the values; long values are cut
 * inside their quotes; the first fields (the request id) always stay.
 *
 * The test points the logger at a temporary file and reads the lines back,
 * parsing each with json-c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "util/log.h"
#include "util/utf8.h"

static FILE *capture;

static int setup(void **state)
{
    capture = tmpfile();
    if (!capture)
        return -1;
    log_set_output(fileno(capture));
    log_set_level(LOG_DEBUG);
    return 0;
}

static int teardown(void **state)
{
    log_set_output(STDERR_FILENO);
    fclose(capture);
    return 0;
}

/* The lines written since the last call, each checked: valid UTF-8, one
 * JSON object, ending in '\n'. Returns the number of lines; *last gets the
 * last one parsed (caller puts it). */
static int read_lines(json_object **last)
{
    static long pos = 0;
    fseek(capture, pos, SEEK_SET);
    static char line[16384];
    int n = 0;
    *last = NULL;
    while (fgets(line, sizeof line, capture)) {
        size_t len = strlen(line);
        assert_true(len > 0 && line[len - 1] == '\n');
        assert_true(len <= 4096);
        line[len - 1] = '\0';
        assert_true(utf8_valid(line));
        json_object *o = json_tokener_parse(line);
        if (!o || !json_object_is_type(o, json_type_object))
            fail_msg("not a JSON object: %s", line);
        json_object_put(*last);
        *last = o;
        n++;
    }
    pos = ftell(capture);
    return n;
}

static const char *get(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void test_plain_line(void **state)
{
    log_fields(LOG_INFO, "request",
               (struct log_field[]){LFS("request_id", "abc"), LFI("status", 200),
                                    LFMS("duration_ms", 1.5), LFS("skipped", NULL)},
               4);
    json_object *o;
    assert_int_equal(read_lines(&o), 1);
    assert_string_equal(get(o, "msg"), "request");
    assert_string_equal(get(o, "request_id"), "abc");
    assert_string_equal(get(o, "status"), "200");
    assert_null(get(o, "skipped"));
    json_object_put(o);
}

static void test_long_values_are_cut_inside_the_value(void **state)
{
    char *big = malloc(20000);
    memset(big, 'x', 19999);
    big[19999] = '\0';
    /* quotes and backslashes double in size when escaped */
    char *quotes = malloc(5000);
    memset(quotes, '"', 4999);
    quotes[4999] = '\0';
    log_fields(LOG_WARN, "client error",
               (struct log_field[]){LFS("request_id", "rid-1"), LFS("path", big),
                                    LFS("detail", quotes), LFS("a", big), LFS("b", big),
                                    LFS("c", big), LFS("d", big), LFS("e", big), LFI("n", 7)},
               9);
    json_object *o;
    assert_int_equal(read_lines(&o), 1);
    assert_string_equal(get(o, "request_id"), "rid-1");
    const char *path = get(o, "path");
    assert_non_null(path);
    assert_true(strlen(path) < 1100);
    assert_non_null(strstr(path, "\xe2\x80\xa6")); /* ends with "…" */
    assert_int_equal(strncmp(path, "xxxx", 4), 0);
    const char *detail = get(o, "detail");
    assert_non_null(detail);
    assert_int_equal(detail[0], '"');
    json_object_put(o);
    free(big);
    free(quotes);
}

static void test_bad_bytes_and_controls(void **state)
{
    log_fields(LOG_INFO, "request",
               (struct log_field[]){LFS("request_id", "r"), LFS("path", "/a\xff\xfe\x01\n\"\\b"),
                                    LFS("method", "G\xc3T")},
               3);
    json_object *o;
    assert_int_equal(read_lines(&o), 1);
    assert_string_equal(get(o, "path"), "/a\xef\xbf\xbd\xef\xbf\xbd\x01\n\"\\b");
    assert_string_equal(get(o, "method"), "G\xef\xbf\xbdT");
    json_object_put(o);
    log_error("failure with \xff in it and a %s", "value");
    assert_int_equal(read_lines(&o), 1);
    assert_non_null(get(o, "at"));
    assert_true(utf8_valid(get(o, "msg")));
    json_object_put(o);
}

static void test_long_message(void **state)
{
    char msg[3000];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    log_error("%s", msg);
    json_object *o;
    assert_int_equal(read_lines(&o), 1);
    assert_non_null(get(o, "at")); /* the location survives a long message */
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_line),
        cmocka_unit_test(test_long_values_are_cut_inside_the_value),
        cmocka_unit_test(test_bad_bytes_and_controls),
        cmocka_unit_test(test_long_message),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
