/*
 * Streaming sources, and the default clock.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "internal.h"

#if MAILPROTO_HAS_SOCKETS
#include <time.h>
#endif

static int mem_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    mailproto_source *s = ctx;
    size_t n = MAILPROTO__MIN(cap, s->mem_len - s->mem_off);
    if (n)
        memcpy(buf, s->mem_ptr + s->mem_off, n);
    s->mem_off += n;
    *got = n;
    return MAILPROTO_OK;
}

static int mem_rewind(void *ctx)
{
    mailproto_source *s = ctx;
    s->mem_off = 0;
    return MAILPROTO_OK;
}

int mailproto_source_mem(mailproto_source *src, const void *data, size_t len)
{
    if (!src || (!data && len))
        return MAILPROTO_E_INVALID;
    memset(src, 0, sizeof *src);
    src->read = mem_read;
    src->rewind = mem_rewind;
    src->ctx = src;
    src->size = len;
    src->mem_ptr = data;
    src->mem_len = len;
    return MAILPROTO_OK;
}

int mailproto_source_read(mailproto_source *src, void *buf, size_t cap, size_t *got)
{
    if (!got)
        return MAILPROTO_E_INVALID;
    *got = 0;
    if (!src || !src->read || (!buf && cap))
        return MAILPROTO_E_INVALID;
    size_t n = 0;
    int rc = src->read(src->ctx, buf, cap, &n);
    if (rc == MAILPROTO_OK || rc == MAILPROTO_AGAIN) {
        if (n > cap)
            return MAILPROTO_E_CALLBACK; /* a read callback must not overrun */
        *got = rc == MAILPROTO_OK ? n : 0;
        return rc;
    }
    if (rc > 0)
        return MAILPROTO_E_CALLBACK;
    /* library statuses pass through; anything else is the callback's own */
    return (rc <= MAILPROTO_E_INVALID && rc >= MAILPROTO_E_CANCELLED) ? rc : MAILPROTO_E_CALLBACK;
}

int mailproto_source_rewind(mailproto_source *src)
{
    if (!src)
        return MAILPROTO_E_INVALID;
    if (!src->rewind)
        return MAILPROTO_E_UNSUPPORTED;
    int rc = src->rewind(src->ctx);
    if (rc == MAILPROTO_OK)
        return MAILPROTO_OK;
    return rc < 0 && rc >= MAILPROTO_E_CANCELLED ? rc : MAILPROTO_E_CALLBACK;
}

uint64_t mailproto_clock_monotonic_ms(void *ctx)
{
    (void)ctx;
#if MAILPROTO_HAS_SOCKETS
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#else
    return 0;
#endif
}
