/*
 * The trace hook.  Credentials reach it only as MAILPROTO_TRACE_REDACTED;
 * there is no switch to turn redaction off.  -Dtrace=false compiles the
 * calls down to nothing.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "internal.h"

void mailproto__trace_emit(const mailproto__trace *t, int dir, int kind, const void *p, size_t n)
{
#if MAILPROTO_HAS_TRACE
    if (!t || !t->fn)
        return;
    if (kind == MAILPROTO_TRACE_SECRET) {
        mailproto__trace_secret(t, dir);
        return;
    }
    if (kind == MAILPROTO_TRACE_DATA) {
        mailproto__trace_data(t, dir, p, n);
        return;
    }
    t->fn(t->ctx, dir, kind, p, n);
#else
    (void)t, (void)dir, (void)kind, (void)p, (void)n;
#endif
}

void mailproto__trace_secret(const mailproto__trace *t, int dir)
{
#if MAILPROTO_HAS_TRACE
    if (t && t->fn)
        t->fn(t->ctx, dir, MAILPROTO_TRACE_SECRET, MAILPROTO_TRACE_REDACTED,
              sizeof MAILPROTO_TRACE_REDACTED - 1);
#else
    (void)t, (void)dir;
#endif
}

void mailproto__trace_data(const mailproto__trace *t, int dir, const void *p, size_t n)
{
#if MAILPROTO_HAS_TRACE
    if (t && t->fn)
        t->fn(t->ctx, dir, MAILPROTO_TRACE_DATA, t->data_bytes ? p : NULL, n);
#else
    (void)t, (void)dir, (void)p, (void)n;
#endif
}

void mailproto__trace_note(const mailproto__trace *t, const char *fmt, ...)
{
#if MAILPROTO_HAS_TRACE
    if (!t || !t->fn)
        return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = mailproto__vfmt(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->fn(t->ctx, MAILPROTO_TRACE_INFO, MAILPROTO_TRACE_NOTE, buf, n);
#else
    (void)t, (void)fmt;
#endif
}
