/*
 * base64: a table-driven streaming encoder and decoder.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <mailproto/codec.h>

#include "../core/internal.h"

static const char enc_tab[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for the alphabet, 64 '=', 65 whitespace, 255 invalid */
#define D_PAD 64
#define D_WS 65
#define D_BAD 255
static const unsigned char dec_tab[256] = {
#define B D_BAD
    B, B, B, B, B, B, B, B, B, 65, 65, B, B, 65, B, B,  /* 0x00 */
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,     /* 0x10 */
    65, B, B, B, B, B, B, B, B, B, B, 62, B, B, B, 63,  /* 0x20 */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, B, B, B, 64, B, B, /* 0x30 */
    B, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, /* 0x40 */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, B, B, B, B, B, /* 0x50 */
    B, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, B, B, B, B, B, /* 0x70 */
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
    B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
#undef B
};

void mailproto_b64_enc_init(mailproto_b64_enc *e, unsigned line_len)
{
    memset(e, 0, sizeof *e);
    if (line_len) {
        line_len &= ~3u;
        if (line_len < 4)
            line_len = 4;
    }
    e->line_len = line_len;
}

size_t mailproto_b64_enc_bound(const mailproto_b64_enc *e, size_t n)
{
    size_t total = n + e->ncarry;
    if (total < n || total / 3 >= SIZE_MAX / 8)
        return 0;
    size_t chars = (total / 3 + 1) * 4;
    if (e->line_len)
        chars += (chars / e->line_len + 1) * 2;
    return chars;
}

static char *emit4(mailproto_b64_enc *e, char *o, uint32_t v)
{
    if (e->line_len && e->col == e->line_len) {
        *o++ = '\r';
        *o++ = '\n';
        e->col = 0;
    }
    o[0] = enc_tab[(v >> 18) & 63];
    o[1] = enc_tab[(v >> 12) & 63];
    o[2] = enc_tab[(v >> 6) & 63];
    o[3] = enc_tab[v & 63];
    e->col += 4;
    return o + 4;
}

size_t mailproto_b64_enc_update(mailproto_b64_enc *e, const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    char *o = out;
    while (e->ncarry && e->ncarry < 3 && n) {
        e->carry[e->ncarry++] = *p++;
        n--;
    }
    if (e->ncarry == 3) {
        o = emit4(e, o, (uint32_t)e->carry[0] << 16 | (uint32_t)e->carry[1] << 8 | e->carry[2]);
        e->ncarry = 0;
    }
    if (!e->line_len) {
        /* hot path: no line breaks */
        while (n >= 3) {
            uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
            o[0] = enc_tab[v >> 18];
            o[1] = enc_tab[(v >> 12) & 63];
            o[2] = enc_tab[(v >> 6) & 63];
            o[3] = enc_tab[v & 63];
            o += 4;
            p += 3;
            n -= 3;
        }
    } else {
        /* whole quads up to the end of each line, then CRLF */
        while (n >= 3) {
            if (e->col >= e->line_len) {
                *o++ = '\r';
                *o++ = '\n';
                e->col = 0;
            }
            size_t q = MAILPROTO__MIN(n / 3, (size_t)(e->line_len - e->col) / 4);
            for (size_t k = 0; k < q; k++) {
                uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
                o[0] = enc_tab[v >> 18];
                o[1] = enc_tab[(v >> 12) & 63];
                o[2] = enc_tab[(v >> 6) & 63];
                o[3] = enc_tab[v & 63];
                o += 4;
                p += 3;
            }
            n -= q * 3;
            e->col += (unsigned)q * 4;
        }
    }
    while (n) {
        e->carry[e->ncarry++] = *p++;
        n--;
    }
    return (size_t)(o - out);
}

size_t mailproto_b64_enc_final(mailproto_b64_enc *e, char *out)
{
    char *o = out;
    if (e->ncarry) {
        uint32_t v = (uint32_t)e->carry[0] << 16;
        if (e->ncarry == 2)
            v |= (uint32_t)e->carry[1] << 8;
        o = emit4(e, o, v);
        o[-1] = '=';
        if (e->ncarry == 1)
            o[-2] = '=';
        e->ncarry = 0;
    }
    return (size_t)(o - out);
}

void mailproto_b64_dec_init(mailproto_b64_dec *d) { memset(d, 0, sizeof *d); }

int mailproto_b64_dec_update(mailproto_b64_dec *d, const char *in, size_t n, void *out,
                             size_t *out_len)
{
    unsigned char *o = out;
    *out_len = 0;
    if (d->error)
        return MAILPROTO_E_INVALID;
    for (size_t i = 0; i < n; i++) {
        unsigned v = dec_tab[(unsigned char)in[i]];
        if (v < 64) {
            if (d->npad) {
                d->error = 1; /* data after padding */
                break;
            }
            d->acc = d->acc << 6 | v;
            d->nbits += 6;
            d->nquad = (d->nquad + 1) & 3;
            if (d->nbits >= 8) {
                d->nbits -= 8;
                *o++ = (unsigned char)(d->acc >> d->nbits);
                d->acc &= (1u << d->nbits) - 1;
            }
        } else if (v == D_WS) {
            continue;
        } else if (v == D_PAD) {
            /* '=' only after 2 or 3 characters of a quantum, at most two of them */
            if ((d->npad == 0 && d->nquad < 2) || d->npad >= 2 ||
                (d->npad == 1 && d->nquad != 3)) {
                d->error = 1;
                break;
            }
            d->npad++;
            d->nquad = (d->nquad + 1) & 3;
        } else {
            d->error = 1;
            break;
        }
    }
    *out_len = (size_t)(o - (unsigned char *)out);
    return d->error ? MAILPROTO_E_INVALID : MAILPROTO_OK;
}

int mailproto_b64_dec_final(mailproto_b64_dec *d)
{
    if (d->error)
        return MAILPROTO_E_INVALID;
    /* unpadded input may stop after 2 or 3 characters of a quantum, never 1 */
    if (d->nquad == 1)
        return MAILPROTO_E_INVALID;
    return MAILPROTO_OK;
}

int mailproto_base64_encode(const void *in, size_t n, char *out, size_t cap, size_t *out_len)
{
    if (!out_len || (!in && n) || (!out && cap))
        return MAILPROTO_E_INVALID;
    if (n > (SIZE_MAX / 4 - 1) * 3) {
        *out_len = 0;
        return MAILPROTO_E_LIMIT;
    }
    size_t need = (n + 2) / 3 * 4;
    *out_len = need;
    if (need > cap)
        return MAILPROTO_E_LIMIT;
    mailproto_b64_enc e;
    mailproto_b64_enc_init(&e, 0);
    size_t w = mailproto_b64_enc_update(&e, in, n, out);
    w += mailproto_b64_enc_final(&e, out + w);
    if (w < cap)
        out[w] = '\0';
    return MAILPROTO_OK;
}

int mailproto_base64_decode(const char *in, size_t n, void *out, size_t cap, size_t *out_len)
{
    if (!out_len || (!in && n) || (!out && cap))
        return MAILPROTO_E_INVALID;
    *out_len = 0;
    /* decode in blocks through a small stack buffer so cap is never overrun */
    mailproto_b64_dec d;
    mailproto_b64_dec_init(&d);
    unsigned char tmp[195];
    size_t total = 0;
    while (n) {
        size_t take = MAILPROTO__MIN(n, (size_t)256);
        size_t got;
        if (mailproto_b64_dec_update(&d, in, take, tmp, &got) != MAILPROTO_OK)
            return MAILPROTO_E_INVALID;
        if (got > cap - total)
            return MAILPROTO_E_LIMIT;
        memcpy((unsigned char *)out + total, tmp, got);
        total += got;
        in += take;
        n -= take;
    }
    if (mailproto_b64_dec_final(&d) != MAILPROTO_OK)
        return MAILPROTO_E_INVALID;
    *out_len = total;
    return MAILPROTO_OK;
}
