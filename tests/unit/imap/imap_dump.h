/*
 * Test helper: run the IMAP parser over bytes fed in pieces and render the
 * events as text, joining the PARTIAL pieces of one token, so that parses
 * with different splits can be compared.
 */
#ifndef IMAP_DUMP_H
#define IMAP_DUMP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailproto/imap.h>

typedef struct dumpbuf {
    char *s;
    size_t len, cap;
    int in_partial;        /* the last event was PARTIAL: the next piece joins it */
    int last_type;
    uint64_t literal_bytes; /* literal chunk bytes seen (not rendered byte by byte when big) */
} dumpbuf;

static inline void db_put(dumpbuf *d, const char *p, size_t n)
{
    if (d->len + n + 1 > d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 4096;
        while (nc < d->len + n + 1)
            nc *= 2;
        char *ns = realloc(d->s, nc);
        if (!ns)
            abort();
        d->s = ns;
        d->cap = nc;
    }
    memcpy(d->s + d->len, p, n);
    d->len += n;
    d->s[d->len] = '\0';
}

static inline void db_printf(dumpbuf *d, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        db_put(d, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static inline void db_event(dumpbuf *d, const mailproto_imap_event *e)
{
    if (d->in_partial && e->type == d->last_type) {
        db_put(d, e->data.ptr, e->data.len);
    } else {
        if (d->in_partial)
            db_put(d, "|\n", 2);
        if (e->type == MAILPROTO_IMAP_EV_LITERAL_CHUNK) {
            /* chunks of a body are joined too */
            if (d->last_type != MAILPROTO_IMAP_EV_LITERAL_CHUNK)
                db_put(d, "CHUNK ", 6);
            db_put(d, e->data.ptr, e->data.len);
            d->last_type = e->type;
            d->in_partial = 0;
            return;
        }
        if (d->last_type == MAILPROTO_IMAP_EV_LITERAL_CHUNK)
            db_put(d, "\n", 1);
        db_printf(d, "%d r%d s%d i%d f%x e%d seq%u n%llu/%llu tag[%.*s] name[%.*s] path[", e->type, e->resp,
                  e->status, e->item, e->flags & ~MAILPROTO_IMAP_EVF_PARTIAL, e->error, (unsigned)e->seq,
                  (unsigned long long)e->number, (unsigned long long)e->number2, (int)e->tag.len,
                  e->tag.ptr ? e->tag.ptr : "", (int)e->name.len, e->name.ptr ? e->name.ptr : "");
        for (unsigned i = 0; i < e->path_len; i++)
            db_printf(d, "%s%u", i ? "." : "", (unsigned)e->path[i]);
        db_put(d, "] |", 3);
        if (e->data.len)
            db_put(d, e->data.ptr, e->data.len);
    }
    d->in_partial = (e->flags & MAILPROTO_IMAP_EVF_PARTIAL) != 0;
    d->last_type = e->type;
    if (!d->in_partial)
        db_put(d, "|\n", 2);
}

/* Parse data[0..len) fed in pieces of `step` bytes (0: whole) and return
 * the rendered events plus the final status line.  cfg may be NULL. */
static inline char *dump_parse(const char *data, size_t len, size_t step,
                               const mailproto_imap_parser_config *cfg, int authed, int *final_rc)
{
    mailproto_imap_parser *p = NULL;
    dumpbuf d = {0};
    if (mailproto_imap_parser_new(&p, cfg, NULL) != MAILPROTO_OK)
        abort();
    mailproto_imap_parser_set_authenticated(p, authed);
    size_t off = 0;
    int rc;
    for (;;) {
        const mailproto_imap_event *e;
        rc = mailproto_imap_parser_next(p, &e);
        if (rc == MAILPROTO_EVENT) {
            db_event(&d, e);
            continue;
        }
        if (rc != MAILPROTO_AGAIN)
            break;
        if (off == len) {
            mailproto_imap_parser_eof(p);
            continue;
        }
        size_t n = step ? step : len - off;
        if (n > len - off)
            n = len - off;
        size_t used;
        mailproto_imap_parser_feed(p, data + off, n, &used);
        off += used;
    }
    if (d.in_partial)
        db_put(&d, "|\n", 2);
    if (d.last_type == MAILPROTO_IMAP_EV_LITERAL_CHUNK)
        db_put(&d, "\n", 1);
    db_printf(&d, "RC %d %s\n", rc, rc < 0 && rc != MAILPROTO_E_CLOSED ? mailproto_imap_parser_last_error(p) : "");
    if (final_rc)
        *final_rc = rc;
    mailproto_imap_parser_free(p);
    if (!d.s)
        db_put(&d, "", 0);
    return d.s;
}

#endif
