/*
 * RFC 2047 encoded-words.
 *
 * Encoding: UTF-8 text becomes a run of words of at most 75 octets, each
 * holding whole characters, B or Q chosen per word by how much text it
 * carries, B words other than the last sized to a multiple of 3 bytes so
 * they end without '=' padding (GMime 3.2.13 truncates a subject after a
 * padded word), folded so no line exceeds 76 characters.
 *
 * Decoding is total: whatever the input, the output is UTF-8.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <mailproto/codec.h>

#include "../core/internal.h"
#include "codec_internal.h"

#define WORD_MAX 75u
#define LINE_MAX_ 76u
#define OVERHEAD 12u /* "=?UTF-8?B?" + "?=" */
#define MIN_ROOM 28u /* a word this long always holds one character */

static int q_safe(unsigned char c)
{
    return mailproto__is_alpha(c) || mailproto__is_digit(c) || c == '!' || c == '*' ||
           c == '+' || c == '-' || c == '/';
}

static size_t q_len(unsigned char c) { return (q_safe(c) || c == ' ') ? 1 : 3; }

int mailproto_rfc2047_encode(const char *utf8, size_t n, size_t col, char *out, size_t cap,
                             size_t *out_len)
{
    return mailproto__rfc2047_encode_w(utf8, n, col, LINE_MAX_, out, cap, out_len);
}

int mailproto__rfc2047_encode_w(const char *utf8, size_t n, size_t col, size_t line_max,
                                char *out, size_t cap, size_t *out_len)
{
    if (!out_len)
        return MAILPROTO_E_INVALID;
    *out_len = 0;
    if ((!utf8 && n) || (!out && cap))
        return MAILPROTO_E_INVALID;
    const unsigned char *s = (const unsigned char *)utf8;
    if (mailproto_utf8_check(s, n) != MAILPROTO_OK)
        return MAILPROTO_E_INVALID;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == 0)
            return MAILPROTO_E_INVALID;
    mailproto__outbuf o = {out, cap, 0};
    size_t pos = 0;
    int first = 1;
    while (pos < n) {
        size_t limit;
        if (first) {
            limit = col < line_max ? line_max - col : 0;
            if (limit < MIN_ROOM) {
                mailproto__out_put(&o, "\r\n ", 3);
                col = 1;
                limit = line_max - 1;
            }
        } else {
            limit = col + 1 < line_max ? line_max - col - 1 : 0;
            if (limit < MIN_ROOM) {
                mailproto__out_put(&o, "\r\n ", 3);
                col = 1;
                limit = line_max - 1;
            } else {
                mailproto__out_putc(&o, ' ');
                col++;
            }
        }
        if (limit > WORD_MAX)
            limit = WORD_MAX;
        size_t payload = limit - OVERHEAD;
        /* the longest whole-character prefixes for B and for Q */
        size_t bmax = payload / 4 * 3, bbytes = 0, qbytes = 0, qlen = 0, p = pos;
        int q_done = 0;
        while (p < n) {
            size_t l = mailproto__utf8_seq(s + p, n - p);
            size_t ql = 0;
            for (size_t k = 0; k < l; k++)
                ql += q_len(s[p + k]);
            if (!q_done && qlen + ql <= payload) {
                qlen += ql;
                qbytes = p + l - pos;
            } else {
                q_done = 1;
            }
            if (p + l - pos <= bmax && ((p + l - pos) % 3 == 0 || p + l == n))
                bbytes = p + l - pos;
            if (p + l - pos > bmax && q_done)
                break;
            p += l;
        }
        if (bbytes > qbytes || (bbytes == qbytes && (bbytes + 2) / 3 * 4 < qlen)) {
            mailproto__out_put(&o, "=?UTF-8?B?", 10);
            char tmp[80];
            size_t w;
            (void)mailproto_base64_encode(s + pos, bbytes, tmp, sizeof tmp, &w);
            mailproto__out_put(&o, tmp, w);
            mailproto__out_put(&o, "?=", 2);
            col += OVERHEAD + w;
            pos += bbytes;
        } else {
            mailproto__out_put(&o, "=?UTF-8?Q?", 10);
            for (size_t k = pos; k < pos + qbytes; k++) {
                unsigned char c = s[k];
                if (c == ' ') {
                    mailproto__out_putc(&o, '_');
                } else if (q_safe(c)) {
                    mailproto__out_putc(&o, (char)c);
                } else {
                    char t[3] = {'=', MAILPROTO__HEX_UP[c >> 4], MAILPROTO__HEX_UP[c & 15]};
                    mailproto__out_put(&o, t, 3);
                }
            }
            mailproto__out_put(&o, "?=", 2);
            col += OVERHEAD + qlen;
            pos += qbytes;
        }
        first = 0;
    }
    *out_len = o.len;
    if (o.len > cap)
        return MAILPROTO_E_LIMIT;
    if (o.len < cap)
        out[o.len] = '\0';
    return MAILPROTO_OK;
}

/* ---- decoder ---- */

typedef struct pend {
    char charset[48];
    int open;           /* a run of words is being converted */
    int known;          /* conv is usable */
    mailproto__conv conv;
} pend;

/* Emit bytes that should be UTF-8; invalid bytes become U+FFFD. */
static void put_utf8_lenient(mailproto__outbuf *o, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            mailproto__out_putc(o, (char)p[i]);
            i++;
            continue;
        }
        size_t l = mailproto__utf8_seq(p + i, n - i);
        if (l) {
            mailproto__out_put(o, p + i, l);
            i += l;
        } else {
            mailproto__out_put(o, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

/* End the current run of same-charset words. */
static void pend_flush(mailproto__outbuf *o, pend *pd)
{
    if (!pd->open)
        return;
    if (pd->known) {
        char tmp[MAILPROTO__CONV_BOUND(0)];
        size_t got = 0;
        (void)mailproto__conv_feed(&pd->conv, "", 0, tmp, &got, 1);
        mailproto__out_put(o, tmp, got);
        mailproto__conv_close(&pd->conv);
    }
    pd->open = 0;
}

static void pend_add(mailproto__outbuf *o, pend *pd, const unsigned char *p, size_t n)
{
    if (!pd->open) {
        pd->open = 1;
        pd->known = mailproto__conv_open(&pd->conv, pd->charset, strlen(pd->charset),
                                         MAILPROTO__CONV_TO_UTF8, 1) == MAILPROTO_OK;
    }
    if (!pd->known) {
        put_utf8_lenient(o, p, n); /* unknown charset */
        return;
    }
    while (n) {
        char tmp[MAILPROTO__CONV_BOUND(256)];
        size_t take = MAILPROTO__MIN(n, (size_t)256), got = 0;
        (void)mailproto__conv_feed(&pd->conv, p, take, tmp, &got, 0);
        mailproto__out_put(o, tmp, got);
        p += take;
        n -= take;
    }
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = mailproto__lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Try to parse an encoded-word at s[i..n); on success returns its length
 * and fills the charset span, encoding and text span. */
static size_t parse_word(const char *s, size_t i, size_t n, size_t *cs, size_t *cs_len, int *enc,
                         size_t *tx, size_t *tx_len)
{
    size_t j = i + 2;
    if (n - i < 8 || s[i] != '=' || s[i + 1] != '?')
        return 0;
    size_t c0 = j;
    while (j < n && j - c0 < 40 && s[j] != '?' && s[j] > 32 && s[j] < 127)
        j++;
    if (j >= n || s[j] != '?' || j == c0)
        return 0;
    size_t clen = j - c0;
    for (size_t k = c0; k < j; k++)
        if (s[k] == '*') { /* RFC 2231 language suffix */
            clen = k - c0;
            break;
        }
    j++;
    if (j + 1 >= n || s[j + 1] != '?')
        return 0;
    int e = mailproto__lower((unsigned char)s[j]);
    if (e != 'b' && e != 'q')
        return 0;
    j += 2;
    size_t t0 = j;
    while (j + 1 < n && j - t0 < 1024) {
        if (s[j] == '?' && s[j + 1] == '=')
            break;
        if (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n')
            return 0;
        j++;
    }
    if (j + 1 >= n || s[j] != '?' || s[j + 1] != '=')
        return 0;
    *cs = c0;
    *cs_len = clen;
    *enc = e;
    *tx = t0;
    *tx_len = j - t0;
    return j + 2 - i;
}

int mailproto_rfc2047_decode(const char *in, size_t n, char *out, size_t cap, size_t *out_len)
{
    if (!out_len)
        return MAILPROTO_E_INVALID;
    *out_len = 0;
    if ((!in && n) || (!out && cap))
        return MAILPROTO_E_INVALID;
    mailproto__outbuf o = {out, cap, 0};
    pend pd;
    memset(&pd, 0, sizeof pd);
    size_t i = 0;
    size_t lit = 0;        /* start of pending literal text */
    int after_word = 0;    /* the last thing emitted was an encoded-word */
    while (i < n) {
        size_t cs, cs_len, tx, tx_len;
        int enc;
        size_t wl = (in[i] == '=') ? parse_word(in, i, n, &cs, &cs_len, &enc, &tx, &tx_len) : 0;
        if (!wl) {
            i++;
            continue;
        }
        /* literal text before this word */
        int only_ws = 1;
        for (size_t k = lit; k < i; k++)
            if (in[k] != ' ' && in[k] != '\t' && in[k] != '\r' && in[k] != '\n')
                only_ws = 0;
        if (!(after_word && only_ws) && i > lit) {
            pend_flush(&o, &pd);
            put_utf8_lenient(&o, (const unsigned char *)in + lit, i - lit);
        }
        /* a different charset ends the pending run */
        if (cs_len >= sizeof pd.charset || !mailproto__span_ieq(in + cs, cs_len, pd.charset))
            pend_flush(&o, &pd);
        if (pd.open) {
            /* same charset: the run goes on */
        } else if (cs_len < sizeof pd.charset) {
            memcpy(pd.charset, in + cs, cs_len);
            pd.charset[cs_len] = '\0';
        } else {
            pd.charset[0] = '\0';
        }
        unsigned char tmp[1100];
        size_t got = 0;
        if (enc == 'b') {
            mailproto_b64_dec d;
            mailproto_b64_dec_init(&d);
            (void)mailproto_b64_dec_update(&d, in + tx, tx_len, tmp, &got); /* keep what decoded */
        } else {
            for (size_t k = tx; k < tx + tx_len; k++) {
                unsigned char c = (unsigned char)in[k];
                if (c == '_') {
                    tmp[got++] = ' ';
                } else if (c == '=' && k + 2 < tx + tx_len &&
                           hexv((unsigned char)in[k + 1]) >= 0 && hexv((unsigned char)in[k + 2]) >= 0) {
                    tmp[got++] = (unsigned char)(hexv((unsigned char)in[k + 1]) << 4 |
                                                 hexv((unsigned char)in[k + 2]));
                    k += 2;
                } else {
                    tmp[got++] = c;
                }
            }
        }
        pend_add(&o, &pd, tmp, got);
        i += wl;
        lit = i;
        after_word = 1;
    }
    pend_flush(&o, &pd);
    if (n > lit)
        put_utf8_lenient(&o, (const unsigned char *)in + lit, n - lit);
    *out_len = o.len;
    if (o.len > cap)
        return MAILPROTO_E_LIMIT;
    if (o.len < cap)
        out[o.len] = '\0';
    return MAILPROTO_OK;
}
