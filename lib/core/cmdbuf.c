/*
 * Writing one protocol command into an engine's bounded output buffer,
 * all or nothing, and tracing it with credentials redacted.  Shared by the
 * SMTP and POP3 engines.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "internal.h"

void mailproto__ob_begin(mailproto__ob *o, unsigned char *buf, size_t cap, size_t *off, size_t *len)
{
    if (*off == *len)
        *off = *len = 0;
    o->buf = buf;
    o->cap = cap;
    o->off = off;
    o->len = len;
    o->start = *len;
    o->over = 0;
}

void mailproto__ob_put(mailproto__ob *o, const void *s, size_t n)
{
    if (o->over || n > o->cap - *o->len) {
        o->over = 1;
        return;
    }
    memcpy(o->buf + *o->len, s, n);
    *o->len += n;
}

void mailproto__ob_str(mailproto__ob *o, const char *s) { mailproto__ob_put(o, s, strlen(s)); }

void mailproto__ob_u64(mailproto__ob *o, uint64_t v)
{
    char b[24];
    size_t n = mailproto__fmt(b, sizeof b, "%llu", (unsigned long long)v);
    mailproto__ob_put(o, b, n);
}

int mailproto__ob_end(mailproto__ob *o, const mailproto__trace *t, int secret_from)
{
    if (o->over) {
        *o->len = o->start;
        return -1;
    }
    const char *cmd = (const char *)o->buf + o->start;
    if (secret_from >= 0) {
        if (secret_from)
            mailproto__trace_emit(t, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_COMMAND, cmd,
                                  (size_t)secret_from);
        mailproto__trace_secret(t, MAILPROTO_TRACE_SENT);
    } else {
        mailproto__trace_emit(t, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_COMMAND, cmd,
                              *o->len - o->start);
    }
    return o->start == *o->off ? 1 : 0;
}
