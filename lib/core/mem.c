/*
 * Allocator hooks, the arena, and span copies.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "internal.h"

#if MAILPROTO_HAS_MALLOC
#include <stdlib.h>
#endif

void *mailproto__alloc(const mailproto_mem *mem, size_t size)
{
    if (size == 0)
        size = 1;
    if (mem && mem->alloc)
        return mem->alloc(mem->ctx, size);
#if MAILPROTO_HAS_MALLOC
    return malloc(size);
#else
    return NULL;
#endif
}

void *mailproto__calloc(const mailproto_mem *mem, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    void *p = mailproto__alloc(mem, total);
    if (p)
        memset(p, 0, total ? total : 1);
    return p;
}

void *mailproto__realloc(const mailproto_mem *mem, void *p, size_t old_size, size_t new_size)
{
    if (!p)
        return mailproto__alloc(mem, new_size);
    if (mem && mem->alloc) {
        if (mem->realloc)
            return mem->realloc(mem->ctx, p, old_size, new_size ? new_size : 1);
        void *q = mem->alloc(mem->ctx, new_size ? new_size : 1);
        if (!q)
            return NULL;
        memcpy(q, p, MAILPROTO__MIN(old_size, new_size));
        if (mem->free)
            mem->free(mem->ctx, p, old_size);
        return q;
    }
#if MAILPROTO_HAS_MALLOC
    (void)old_size;
    return realloc(p, new_size ? new_size : 1);
#else
    return NULL;
#endif
}

void mailproto__free(const mailproto_mem *mem, void *p, size_t size)
{
    if (!p)
        return;
    if (mem && mem->alloc) {
        if (mem->free)
            mem->free(mem->ctx, p, size ? size : 1);
        return;
    }
#if MAILPROTO_HAS_MALLOC
    (void)size;
    free(p);
#endif
}

int mailproto__strdup(const mailproto_mem *mem, const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return MAILPROTO_OK;
    size_t n = strlen(s);
    char *d = mailproto__alloc(mem, n + 1);
    if (!d)
        return MAILPROTO_E_NOMEM;
    memcpy(d, s, n + 1);
    *out = d;
    return MAILPROTO_OK;
}

void mailproto__strfree(const mailproto_mem *mem, char *s)
{
    if (s)
        mailproto__free(mem, s, strlen(s) + 1);
}

/* ---- arena ---- */

#define ARENA_ALIGN _Alignof(max_align_t)

static void *arena_alloc(void *ctx, size_t size)
{
    mailproto_arena *a = ctx;
    uintptr_t base = (uintptr_t)a->base;
    uintptr_t at = base + a->used;
    size_t pad = (size_t)((ARENA_ALIGN - (at % ARENA_ALIGN)) % ARENA_ALIGN);
    size_t need;
    if (mailproto__add_overflow(pad, size, &need) || need > a->cap - a->used)
        return NULL;
    a->last = a->used + pad;
    a->used += need;
    if (a->used > a->peak)
        a->peak = a->used;
    return a->base + a->last;
}

static void arena_free(void *ctx, void *ptr, size_t size)
{
    mailproto_arena *a = ctx;
    unsigned char *p = ptr;
    /* only the most recent block can be given back */
    if (p == a->base + a->last && a->last + size == a->used) {
        a->used = a->last;
        a->last = a->used;
    }
}

static void *arena_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size)
{
    mailproto_arena *a = ctx;
    unsigned char *p = ptr;
    if (p == a->base + a->last && a->last + old_size == a->used) {
        /* grow or shrink the last block in place */
        if (new_size > a->cap - a->last)
            return NULL;
        a->used = a->last + new_size;
        if (a->used > a->peak)
            a->peak = a->used;
        return p;
    }
    void *q = arena_alloc(ctx, new_size);
    if (q)
        memcpy(q, ptr, MAILPROTO__MIN(old_size, new_size));
    return q;
}

int mailproto_arena_init(mailproto_arena *a, void *buf, size_t len, mailproto_mem *mem)
{
    if (!a || (!buf && len))
        return MAILPROTO_E_INVALID;
    a->base = buf;
    a->cap = len;
    a->used = a->peak = a->last = 0;
    if (mem) {
        mem->ctx = a;
        mem->alloc = arena_alloc;
        mem->realloc = arena_realloc;
        mem->free = arena_free;
    }
    return MAILPROTO_OK;
}

void mailproto_arena_reset(mailproto_arena *a)
{
    if (a)
        a->used = a->last = 0;
}

size_t mailproto_arena_peak(const mailproto_arena *a) { return a ? a->peak : 0; }

/* ---- spans ---- */

int mailproto_span_dup(const mailproto_mem *mem, mailproto_span span, char **out)
{
    if (!out || (!span.ptr && span.len))
        return MAILPROTO_E_INVALID;
    *out = NULL;
    if (span.len == SIZE_MAX)
        return MAILPROTO_E_LIMIT;
    char *d = mailproto__alloc(mem, span.len + 1);
    if (!d)
        return MAILPROTO_E_NOMEM;
    if (span.len)
        memcpy(d, span.ptr, span.len);
    d[span.len] = '\0';
    *out = d;
    return MAILPROTO_OK;
}

void mailproto_span_free(const mailproto_mem *mem, char *s, size_t len)
{
    mailproto__free(mem, s, len + 1);
}
