/*
 * arena.c — per-request bump allocator (see arena.h).
 *
 * Normal build: memory comes from blocks of `block` bytes. An allocation is
 * carved from the current block by bumping a pointer; when it does not fit, a
 * new block becomes current (the rest of the old one is abandoned). Requests
 * larger than a quarter of a block get a block of their own, so one big
 * allocation neither wastes a shared block nor forces huge blocks. Blocks are
 * calloc()ed, and bump memory is never reused, so every allocation is zero.
 * The first block lives in the same allocation as the arena itself, so a
 * request that stays within one block costs a single malloc.
 *
 * -DARENA_MALLOC: every allocation is its own posix_memalign() region of
 * exactly the requested size (so ASan's redzones sit right at both ends); the
 * pointers are kept in a growable array (not in a header in front of the
 * region, where an underrun would corrupt the list) and freed by arena_free.
 *
 * Any failure (out of memory, size arithmetic overflow) aborts with a message
 * on stderr: callers bound their sizes, so this only fires on real exhaustion
 * or on a programming error.
 */
#include "util/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN         16
#define ARENA_DEFAULT_BLOCK 8192

/* Print why and abort; never returns. */
static _Noreturn void arena_die(const char *what, size_t n)
{
    fprintf(stderr, "chatpay: arena: %s (%zu bytes)\n", what, n);
    abort();
}

#ifndef ARENA_MALLOC

/* n rounded up to a multiple of ARENA_ALIGN, aborting on overflow. */
static size_t arena_round(size_t n)
{
    if (n > SIZE_MAX - (ARENA_ALIGN - 1))
        arena_die("allocation size overflow", n);
    return (n + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
}

/* A block header; its usable bytes follow it, starting at an aligned address. */
struct arena_block {
    struct arena_block *next;
    unsigned char *cur; /* next free byte (always ARENA_ALIGN-aligned) */
    unsigned char *end; /* one past the last usable byte */
};

struct arena {
    struct arena_block *head; /* current block: small allocations come from here */
    size_t block_size;        /* usable bytes in a regular block, multiple of 16 */
    size_t used;              /* bytes handed out (sum of requested sizes) */
    struct arena_block first; /* embedded block; its bytes follow this struct */
};

/* First ARENA_ALIGN-aligned address at or after p. */
static unsigned char *arena_align_ptr(void *p)
{
    uintptr_t u = (uintptr_t)p;
    u = (u + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1);
    return (unsigned char *)u;
}

/* Allocate a zeroed block with `size` usable bytes (size is a multiple of 16). */
static struct arena_block *arena_block_new(size_t size)
{
    size_t overhead = sizeof(struct arena_block) + (ARENA_ALIGN - 1);
    if (size > SIZE_MAX - overhead)
        arena_die("allocation size overflow", size);
    struct arena_block *b = calloc(1, overhead + size);
    if (b == NULL)
        arena_die("out of memory", overhead + size);
    b->cur = arena_align_ptr(b + 1);
    b->end = b->cur + size;
    return b;
}

struct arena *arena_new(size_t block)
{
    size_t size = arena_round(block == 0 ? ARENA_DEFAULT_BLOCK : block);
    size_t overhead = sizeof(struct arena) + (ARENA_ALIGN - 1);
    if (size > SIZE_MAX - overhead)
        arena_die("allocation size overflow", size);
    struct arena *a = calloc(1, overhead + size);
    if (a == NULL)
        arena_die("out of memory", overhead + size);
    a->block_size = size;
    a->first.cur = arena_align_ptr(a + 1);
    a->first.end = a->first.cur + size;
    a->head = &a->first;
    return a;
}

void arena_free(struct arena *a)
{
    if (a == NULL)
        return;
    struct arena_block *b = a->head;
    while (b != NULL) {
        struct arena_block *next = b->next;
        if (b != &a->first)
            free(b);
        b = next;
    }
    free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
    /* A zero-byte request still gets a distinct, valid pointer. */
    size_t need = arena_round(n == 0 ? 1 : n);
    struct arena_block *b = a->head;

    if ((size_t)(b->end - b->cur) < need) {
        if (need > a->block_size / 4) {
            /* Own block, linked behind the current one so the current
             * block's free space stays available for small requests. */
            struct arena_block *big = arena_block_new(need);
            big->next = b->next;
            b->next = big;
            b = big;
        } else {
            b = arena_block_new(a->block_size);
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->cur;
    b->cur += need;
    a->used += n;
    return p;
}

#else /* ARENA_MALLOC */

struct arena {
    void **ptrs; /* every allocation, freed by arena_free */
    size_t count, cap;
    size_t used; /* bytes handed out (sum of requested sizes) */
};

struct arena *arena_new(size_t block)
{
    (void)block;
    struct arena *a = calloc(1, sizeof(*a));
    if (a == NULL)
        arena_die("out of memory", sizeof(*a));
    return a;
}

void arena_free(struct arena *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->count; i++)
        free(a->ptrs[i]);
    free(a->ptrs);
    free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
    size_t size = n == 0 ? 1 : n;

    /* Make room in the pointer list first so a failure leaks nothing. */
    if (a->count == a->cap) {
        size_t cap = a->cap == 0 ? 16 : a->cap * 2;
        if (cap > SIZE_MAX / sizeof(void *))
            arena_die("allocation size overflow", cap);
        void **ptrs = realloc(a->ptrs, cap * sizeof(void *));
        if (ptrs == NULL)
            arena_die("out of memory", cap * sizeof(void *));
        a->ptrs = ptrs;
        a->cap = cap;
    }
    void *p = NULL;
    if (posix_memalign(&p, ARENA_ALIGN, size) != 0)
        arena_die("out of memory", size);
    memset(p, 0, size);
    a->ptrs[a->count++] = p;
    a->used += n;
    return p;
}

#endif /* ARENA_MALLOC */

void *arena_calloc(struct arena *a, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        arena_die("allocation size overflow", count);
    return arena_alloc(a, count * size);
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    size_t len = strnlen(s, n);
    if (len == SIZE_MAX)
        arena_die("allocation size overflow", len);
    char *p = arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    if (s == NULL)
        return NULL;
    return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
    /* Also tells GCC that fmt is non-null: its UBSan instrumentation would
     * otherwise warn about a NULL format on a path it invents. */
    if (fmt == NULL)
        arena_die("null format string", 0);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    /* Only an output longer than INT_MAX or a bad conversion fails here. */
    if (n < 0)
        arena_die("formatting failed", 0);
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

size_t arena_used(const struct arena *a)
{
    return a->used;
}
