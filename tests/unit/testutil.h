/*
 * Helpers shared by the unit tests: a counting allocator that can fail the
 * N-th allocation (nghttp2 failmalloc, curl torture) and reports the peak
 * heap, and a trace recorder.
 */
#ifndef MAILPROTO_TESTUTIL_H
#define MAILPROTO_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mailproto/common.h>

typedef struct test_alloc {
    size_t live;        /* bytes currently allocated */
    size_t peak;        /* high-water mark */
    size_t count;       /* allocations made */
    size_t fail_at;     /* fail the allocation with this 1-based index (0: never) */
    size_t size_errors; /* free/realloc called with a size that does not match */
} test_alloc;

typedef struct test_block {
    size_t size;
    size_t pad;
} test_block;

static inline void *test_alloc_fn(void *ctx, size_t size)
{
    test_alloc *a = ctx;
    a->count++;
    if (a->fail_at && a->count == a->fail_at)
        return NULL;
    test_block *b = malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->size = size;
    a->live += size;
    if (a->live > a->peak)
        a->peak = a->live;
    return b + 1;
}

static inline void test_free_fn(void *ctx, void *p, size_t size)
{
    test_alloc *a = ctx;
    if (!p)
        return;
    test_block *b = (test_block *)p - 1;
    if (b->size != size)
        a->size_errors++;
    a->live -= b->size;
    free(b);
}

static inline void *test_realloc_fn(void *ctx, void *p, size_t old_size, size_t new_size)
{
    test_alloc *a = ctx;
    void *q = test_alloc_fn(ctx, new_size);
    if (!q)
        return NULL;
    if (p) {
        test_block *b = (test_block *)p - 1;
        if (b->size != old_size)
            a->size_errors++;
        memcpy(q, p, old_size < new_size ? old_size : new_size);
        test_free_fn(ctx, p, b->size);
    }
    return q;
}

static inline mailproto_mem test_mem(test_alloc *a)
{
    memset(a, 0, sizeof *a);
    mailproto_mem m = {a, test_alloc_fn, test_realloc_fn, test_free_fn};
    return m;
}

/* A trace recorder: concatenates everything the hook sees. */
typedef struct test_trace {
    char buf[1 << 16];
    size_t len;
    unsigned secrets;
    uint64_t data_bytes;
} test_trace;

static inline void test_trace_fn(void *ctx, int dir, int kind, const char *data, size_t len)
{
    test_trace *t = ctx;
    (void)dir;
    if (kind == MAILPROTO_TRACE_SECRET)
        t->secrets++;
    if (kind == MAILPROTO_TRACE_DATA && !data) {
        t->data_bytes += len;
        return;
    }
    if (len > sizeof t->buf - 1 - t->len)
        len = sizeof t->buf - 1 - t->len;
    memcpy(t->buf + t->len, data, len);
    t->len += len;
    t->buf[t->len] = '\0';
}

#endif /* MAILPROTO_TESTUTIL_H */
