/*
 * Quoted-printable (RFC 2045 section 6.7): a streaming encoder with lines
 * of at most 76 characters, and a total streaming decoder.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <mailproto/codec.h>

#include "../core/internal.h"
#include "codec_internal.h"

/* Content of a line before the soft break '=': 75 characters. */
#define QP_ROOM 75u

void mailproto_qp_enc_init(mailproto_qp_enc *e, int binary)
{
    memset(e, 0, sizeof *e);
    e->binary = binary ? 1 : 0;
}

size_t mailproto_qp_enc_bound(size_t n)
{
    /* each byte at most "=XX" (3); a line break may add "=\r\n" (3) every
     * 25 encoded bytes; a held-back SP/TAB adds 3 more; text-mode breaks
     * are 2 characters for 1 byte. */
    if (n > SIZE_MAX / 8 - 16)
        return 0;
    return n * 3 + (n * 3 / 72 + 2) * 3 + 16;
}

static char *put_token(mailproto_qp_enc *e, char *o, const char *tok, unsigned len)
{
    if (e->col + len > QP_ROOM) {
        *o++ = '=';
        *o++ = '\r';
        *o++ = '\n';
        e->col = 0;
    }
    memcpy(o, tok, len);
    e->col += len;
    return o + len;
}

static char *put_encoded(mailproto_qp_enc *e, char *o, unsigned char c)
{
    char t[3] = {'=', MAILPROTO__HEX_UP[c >> 4], MAILPROTO__HEX_UP[c & 15]};
    return put_token(e, o, t, 3);
}

static char *flush_ws(mailproto_qp_enc *e, char *o, int before_break)
{
    if (!e->pend_ws)
        return o;
    unsigned char c = (unsigned char)e->pend_ws;
    e->pend_ws = 0;
    if (before_break)
        return put_encoded(e, o, c);
    char t = (char)c;
    return put_token(e, o, &t, 1);
}

size_t mailproto_qp_enc_update(mailproto_qp_enc *e, const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (!e->binary && (c == '\r' || c == '\n')) {
            if (c == '\n' && e->last_cr) {
                e->last_cr = 0;
                continue;
            }
            e->last_cr = c == '\r';
            o = flush_ws(e, o, 1);
            *o++ = '\r';
            *o++ = '\n';
            e->col = 0;
            continue;
        }
        e->last_cr = 0;
        if (c == ' ' || c == '\t') {
            o = flush_ws(e, o, 0);
            e->pend_ws = c;
            continue;
        }
        o = flush_ws(e, o, 0);
        if (c >= 33 && c <= 126 && c != '=') {
            if (e->col + 1 > QP_ROOM) {
                *o++ = '=';
                *o++ = '\r';
                *o++ = '\n';
                e->col = 0;
            }
            /* An 'F' or '.' starting a line is encoded: "From " is not
             * mangled into ">From " by mbox tools, and a line of a lone "."
             * survives transports that forget dot-stuffing. */
            if (e->col == 0 && (c == 'F' || c == '.')) {
                o = put_encoded(e, o, c);
            } else {
                char t = (char)c;
                o = put_token(e, o, &t, 1);
            }
        } else {
            o = put_encoded(e, o, c);
        }
    }
    return (size_t)(o - out);
}

size_t mailproto_qp_enc_final(mailproto_qp_enc *e, char *out)
{
    char *o = flush_ws(e, out, 1);
    e->last_cr = 0;
    return (size_t)(o - out);
}

/* ---- decoder ---- */

enum { D_TEXT, D_EQ, D_EQ_HEX, D_EQ_WS, D_SOFT_CR };

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = mailproto__lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

void mailproto_qp_dec_init(mailproto_qp_dec *d) { memset(d, 0, sizeof *d); }

static unsigned char *ws_flush(mailproto_qp_dec *d, unsigned char *o)
{
    memcpy(o, d->ws, d->nws);
    o += d->nws;
    d->nws = 0;
    return o;
}

int mailproto_qp_dec_update(mailproto_qp_dec *d, const char *in, size_t n, void *out,
                            size_t *out_len)
{
    if (!out_len || (!in && n) || !out)
        return MAILPROTO_E_INVALID;
    unsigned char *o = out;
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)in[i];
        switch (d->state) {
        case D_TEXT:
            if (c == ' ' || c == '\t') {
                if (d->nws == sizeof d->ws)
                    o = ws_flush(d, o);
                d->ws[d->nws++] = (char)c;
            } else if (c == '\r' || c == '\n') {
                d->nws = 0; /* trailing whitespace is dropped */
                *o++ = c;
            } else if (c == '=') {
                o = ws_flush(d, o);
                d->state = D_EQ;
            } else {
                o = ws_flush(d, o);
                *o++ = c;
            }
            i++;
            break;
        case D_EQ:
            if (hexval(c) >= 0) {
                d->hi = hexval(c);
                d->state = D_EQ_HEX;
                i++;
            } else if (c == '\r') {
                d->state = D_SOFT_CR;
                i++;
            } else if (c == '\n') {
                d->state = D_TEXT;
                i++;
            } else if (c == ' ' || c == '\t') {
                d->state = D_EQ_WS;
                d->nws = 0;
                i++;
            } else {
                *o++ = '='; /* malformed: keep it, look at c again */
                d->state = D_TEXT;
            }
            break;
        case D_EQ_HEX:
            if (hexval(c) >= 0) {
                *o++ = (unsigned char)(d->hi << 4 | hexval(c));
                i++;
            } else {
                *o++ = '=';
                *o++ = (unsigned char)MAILPROTO__HEX_UP[d->hi];
            }
            d->state = D_TEXT;
            break;
        case D_EQ_WS:
            if (c == ' ' || c == '\t') {
                if (d->nws < sizeof d->ws)
                    d->ws[d->nws++] = (char)c;
                i++;
            } else if (c == '\r') {
                d->nws = 0;
                d->state = D_SOFT_CR;
                i++;
            } else if (c == '\n') {
                d->nws = 0;
                d->state = D_TEXT;
                i++;
            } else {
                *o++ = '=';
                o = ws_flush(d, o);
                d->state = D_TEXT;
            }
            break;
        default: /* D_SOFT_CR */
            if (c == '\n')
                i++;
            d->state = D_TEXT;
            break;
        }
    }
    *out_len = (size_t)(o - (unsigned char *)out);
    return MAILPROTO_OK;
}

int mailproto_qp_dec_final(mailproto_qp_dec *d, void *out, size_t *out_len)
{
    if (!out || !out_len)
        return MAILPROTO_E_INVALID;
    unsigned char *o = out;
    if (d->state == D_EQ) {
        *o++ = '=';
    } else if (d->state == D_EQ_HEX) {
        *o++ = '=';
        *o++ = (unsigned char)MAILPROTO__HEX_UP[d->hi];
    } else if (d->state == D_EQ_WS) {
        /* "=" and whitespace at the very end: a soft break without CRLF */
    }
    d->nws = 0; /* trailing whitespace at the end is dropped */
    d->state = D_TEXT;
    *out_len = (size_t)(o - (unsigned char *)out);
    return MAILPROTO_OK;
}
