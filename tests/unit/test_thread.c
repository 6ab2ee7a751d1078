/*
 * test_thread.c — the timed waits of the background threads (util/thread.c):
 * a condition variable on CLOCK_MONOTONIC and deadlines on the same clock.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "util/thread.h"
#include "util/time.h"

static usec_t ts_usec(struct timespec ts)
{
    return (usec_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The deadline is on the monotonic clock, normalised. */
static void test_deadline(void **state)
{
    (void)state;
    long cases[] = {0, 1, 999, 1000, 1999, 250000};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        usec_t before = time_mono();
        struct timespec ts = thread_deadline_mono(cases[i]);
        usec_t after = time_mono();
        assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
        usec_t at = ts_usec(ts);
        assert_true(at >= before + cases[i] * 1000);
        assert_true(at <= after + cases[i] * 1000);
    }
}

/* A timed wait on a thread_cond_init_mono condition variable, to a
 * thread_deadline_mono deadline, lasts its time: the two agree on the clock
 * (on the wall clock's condition variable the monotonic deadline, long past
 * as an epoch time, would end the wait at once). */
static void test_timed_wait(void **state)
{
    (void)state;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    assert_int_equal(thread_cond_init_mono(&cv), 0);
    pthread_mutex_lock(&mu);
    usec_t start = time_mono();
    struct timespec ts = thread_deadline_mono(80);
    int rc;
    do
        rc = pthread_cond_timedwait(&cv, &mu, &ts);
    while (rc == 0); /* a spurious wake */
    usec_t took = time_mono() - start;
    pthread_mutex_unlock(&mu);
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(took >= 80000);
    assert_true(took < 5000000);
    pthread_cond_destroy(&cv);
    pthread_mutex_destroy(&mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_timed_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
