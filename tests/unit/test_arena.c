/*
 * test_arena.c — unit tests for util/arena.
 *
 * Runs in both builds: the block allocator (default) and -DARENA_MALLOC (one
 * allocation per request). Tests that depend on block layout are compiled
 * only for the block allocator; the abort paths run in a forked child.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/arena.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

#ifdef TEST_ASAN
/* Let a huge malloc return NULL (as glibc does) instead of ASan stopping the
 * process, so the out-of-memory path of the arena itself is what runs. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

static bool is_aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

static bool is_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return false;
    }
    return true;
}

/* Sizes that cross block boundaries and the "own block" threshold of a
 * 256-byte block arena. */
static const size_t sizes[] = {1,   0,   15,  16,  17,  31,   64, 65,
                               100, 200, 255, 256, 300, 1000, 3,  5000};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void test_alloc_aligned_zeroed_distinct(void **state)
{
    (void)state;
    struct arena *a = arena_new(256);
    unsigned char *p[NSIZES];

    for (size_t i = 0; i < NSIZES; i++) {
        p[i] = arena_alloc(a, sizes[i]);
        assert_non_null(p[i]);
        assert_true(is_aligned16(p[i]));
        assert_true(is_zero(p[i], sizes[i]));
        /* Fill the whole allocation so overlaps show up below. */
        memset(p[i], (int)(i + 1), sizes[i]);
    }
    for (size_t i = 0; i < NSIZES; i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(p[i][j], i + 1);
        for (size_t j = 0; j < i; j++)
            assert_ptr_not_equal(p[i], p[j]); /* zero-size ones too */
    }
    arena_free(a);
}

static void test_many_small_allocations(void **state)
{
    (void)state;
    struct arena *a = arena_new(0); /* default block size */
    enum { N = 5000 };
    static uint32_t *p[N];

    for (size_t i = 0; i < N; i++) {
        p[i] = arena_alloc(a, sizeof(uint32_t) * 3);
        assert_true(is_aligned16(p[i]));
        assert_true(is_zero(p[i], sizeof(uint32_t) * 3));
        p[i][0] = (uint32_t)i;
        p[i][2] = (uint32_t)~i;
    }
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(p[i][0], (uint32_t)i);
        assert_int_equal(p[i][1], 0);
        assert_int_equal(p[i][2], (uint32_t)~i);
    }
    assert_int_equal(arena_used(a), N * sizeof(uint32_t) * 3);
    arena_free(a);
}

static void test_used_counts_requested_bytes(void **state)
{
    (void)state;
    struct arena *a = arena_new(128);
    assert_int_equal(arena_used(a), 0);
    arena_alloc(a, 10);
    assert_int_equal(arena_used(a), 10);
    arena_alloc(a, 1000); /* own block */
    assert_int_equal(arena_used(a), 1010);
    arena_calloc(a, 3, 7);
    assert_int_equal(arena_used(a), 1031);
    arena_strdup(a, "abc");
    assert_int_equal(arena_used(a), 1035);
    arena_printf(a, "%d", 12345);
    assert_int_equal(arena_used(a), 1041);
    arena_free(a);
}

#ifndef ARENA_MALLOC
/* A large request gets its own block: the current block keeps serving small
 * requests right after the previous one. */
static void test_large_allocation_own_block(void **state)
{
    (void)state;
    struct arena *a = arena_new(1024);
    unsigned char *p1 = arena_alloc(a, 16);
    unsigned char *big = arena_alloc(a, 4096);
    unsigned char *p2 = arena_alloc(a, 16);

    assert_ptr_equal(p2, p1 + 16);
    assert_true(big + 4096 <= p1 || big >= p1 + 1024);
    assert_true(is_aligned16(big));
    assert_true(is_zero(big, 4096));
    memset(big, 0xAB, 4096);
    assert_true(is_zero(p1, 16));
    assert_true(is_zero(p2, 16));

    /* A small request that does not fit starts a new block. */
    unsigned char *last = NULL;
    for (int i = 0; i < 100; i++)
        last = arena_alloc(a, 200);
    assert_true(is_zero(last, 200));
    arena_free(a);
}

/* A block is filled exactly before another one is started. */
static void test_block_filled_contiguously(void **state)
{
    (void)state;
    struct arena *a = arena_new(64);
    unsigned char *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = arena_alloc(a, 16);
    for (int i = 1; i < 4; i++)
        assert_ptr_equal(p[i], p[i - 1] + 16);
    arena_free(a);
}
#endif

static void test_calloc_zeroed(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    uint64_t *v = arena_calloc(a, 100, sizeof(uint64_t));
    assert_true(is_aligned16(v));
    assert_true(is_zero(v, 100 * sizeof(uint64_t)));
    v[99] = 7;
    assert_int_equal(v[99], 7);
    assert_non_null(arena_calloc(a, 0, 8));
    assert_non_null(arena_calloc(a, 8, 0));
    arena_free(a);
}

static void test_strdup_strndup(void **state)
{
    (void)state;
    struct arena *a = arena_new(0);
    const char *src = "hello, world";

    char *d = arena_strdup(a, src);
    assert_string_equal(d, src);
    assert_ptr_not_equal(d, src);

    assert_string_equal(arena_strndup(a, src, 5), "hello");
    assert_string_equal(arena_strndup(a, src, 0), "");
    assert_string_equal(arena_strndup(a, src, 1000), src); /* stops at the NUL */
    assert_string_equal(arena_strndup(a, "a\0b", 3), "a");
    assert_null(arena_strdup(a, NULL));
    assert_null(arena_strndup(a, NULL, 4));
    arena_free(a);
}

static char *vprintf_helper(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *vprintf_helper(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

static void test_printf(void **state)
{
    (void)state;
    struct arena *a = arena_new(64);

    assert_string_equal(arena_printf(a, "%s=%d", "n", -42), "n=-42");
    assert_string_equal(arena_printf(a, "%s", ""), "");
    assert_string_equal(vprintf_helper(a, "[%03d|%s]", 7, "x"), "[007|x]");

    /* Longer than a block. */
    char *s = arena_printf(a, "%0500d", 1);
    assert_int_equal(strlen(s), 500);
    assert_int_equal(s[0], '0');
    assert_int_equal(s[499], '1');
    arena_free(a);
}

static void test_free_null(void **state)
{
    (void)state;
    arena_free(NULL); /* must not crash */
    struct arena *a = arena_new(0);
    assert_non_null(a);
    arena_free(a); /* an arena that never allocated */
}

/* Run fn in a child; return its stderr and whether it died of SIGABRT. */
static bool child_aborts(void (*fn)(void), char *err, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        fn();
        _exit(0); /* not reached when fn aborts */
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fds[0], err + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    err[n] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void do_calloc_overflow(void)
{
    struct arena *a = arena_new(0);
    /* The product wraps to 2: only the overflow check can catch it. */
    arena_calloc(a, SIZE_MAX / 2 + 2, 2);
}

static void do_alloc_overflow(void)
{
    struct arena *a = arena_new(0);
    arena_alloc(a, SIZE_MAX - 3);
}

static void do_out_of_memory(void)
{
    struct arena *a = arena_new(0);
    arena_alloc(a, (size_t)1 << 62);
}

static void test_abort_on_overflow_and_oom(void **state)
{
    (void)state;
    char err[512];

    assert_true(child_aborts(do_calloc_overflow, err, sizeof(err)));
    assert_non_null(strstr(err, "arena: allocation size overflow"));

    assert_true(child_aborts(do_out_of_memory, err, sizeof(err)));
    assert_non_null(strstr(err, "arena: out of memory"));

    /* Block build: rounding overflows. ARENA_MALLOC: the request itself
     * cannot be satisfied. Either way it aborts with a message. */
    assert_true(child_aborts(do_alloc_overflow, err, sizeof(err)));
    assert_non_null(strstr(err, "arena: "));
}

#if defined(ARENA_MALLOC) && defined(TEST_ASAN)
static void do_overrun(void)
{
    struct arena *a = arena_new(0);
    volatile char *p = arena_alloc(a, 10);
    p[10] = 1; /* one past the end: ASan must catch it */
}

/* Under ASan, ARENA_MALLOC makes a one-byte overrun fatal. */
static void test_overrun_detected(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        do_overrun();
        _exit(0);
    }
    close(fds[1]);
    char buf[4096];
    size_t n = 0;
    ssize_t k;
    while (n + 1 < sizeof(buf) && (k = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(strstr(buf, "heap-buffer-overflow"));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_aligned_zeroed_distinct),
        cmocka_unit_test(test_many_small_allocations),
        cmocka_unit_test(test_used_counts_requested_bytes),
#ifndef ARENA_MALLOC
        cmocka_unit_test(test_large_allocation_own_block),
        cmocka_unit_test(test_block_filled_contiguously),
#endif
        cmocka_unit_test(test_calloc_zeroed),
        cmocka_unit_test(test_strdup_strndup),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_abort_on_overflow_and_oom),
#if defined(ARENA_MALLOC) && defined(TEST_ASAN)
        cmocka_unit_test(test_overrun_detected),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
