/*
 * arena.h — a per-request memory pool.
 *
 * Everything a request allocates comes from its arena and is released at once
 * when the request completes. Allocations are zeroed and 16-byte aligned.
 * Building with -DARENA_MALLOC turns every allocation into its own malloc()
 * (kept on a list) so ASan and valgrind see overruns and use-after-free.
 * Allocation failure aborts the process (out of memory is not recoverable
 * in a request path); callers bound their sizes instead.
 */
#ifndef CHATPAY_UTIL_ARENA_H
#define CHATPAY_UTIL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* block: bytes per block (0 → 8 KiB). */
struct arena *arena_new(size_t block);
void arena_free(struct arena *a);

void *arena_alloc(struct arena *a, size_t n);
void *arena_calloc(struct arena *a, size_t count, size_t size); /* overflow-checked */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Bytes handed out so far (for limits and tests). */
size_t arena_used(const struct arena *a);

#endif
