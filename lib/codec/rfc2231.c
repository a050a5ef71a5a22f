/*
 * RFC 2231 MIME parameters: encoding with continuations (one section per
 * line, split at character boundaries), and a total decoder that joins
 * sections, percent-decodes them in their charset and falls back to
 * RFC 2047 words inside quoted values (what Outlook and Gmail send).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <mailproto/codec.h>

#include "../core/internal.h"
#include "codec_internal.h"

#define LINE 78u
#define MAX_SECTIONS 256u
#define RAW_MAX 4096u

static const char hex_up[16] = "0123456789ABCDEF";

typedef struct outbuf {
    char *p;
    size_t cap, len;
} outbuf;

static void put(outbuf *o, const void *s, size_t n)
{
    if (o->len <= o->cap && n <= o->cap - o->len)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

static int is_tspecial(int c) { return c && strchr("()<>@,;:\\\"/[]?=", c) != NULL; }

static int is_token(int c) { return c > 32 && c < 127 && !is_tspecial(c); }

static int is_attr_char(int c) { return is_token(c) && c != '*' && c != '\'' && c != '%'; }

/* characters of one quoted-string character ("\x" for '"' and '\') */
static size_t q_cost(unsigned char c) { return (c == '"' || c == '\\') ? 2 : 1; }

static void put_quoted(outbuf *o, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            put(o, "\\", 1);
        put(o, s + i, 1);
    }
}

static void put_pct(outbuf *o, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (is_attr_char(s[i])) {
            put(o, s + i, 1);
        } else {
            char t[3] = {'%', hex_up[s[i] >> 4], hex_up[s[i] & 15]};
            put(o, t, 3);
        }
    }
}

static size_t pct_cost(unsigned char c) { return is_attr_char(c) ? 1 : 3; }

int mailproto_rfc2231_encode(const char *name, const char *value, size_t n, size_t *col,
                             char *out, size_t cap, size_t *out_len)
{
    if (!out_len)
        return MAILPROTO_E_INVALID;
    *out_len = 0;
    if (!name || !col || (!value && n) || (!out && cap))
        return MAILPROTO_E_INVALID;
    size_t nl = strlen(name);
    if (!nl || nl > 60)
        return MAILPROTO_E_INVALID;
    for (size_t i = 0; i < nl; i++)
        if (!is_attr_char((unsigned char)name[i]))
            return MAILPROTO_E_INVALID;
    const unsigned char *v = (const unsigned char *)value;
    if (mailproto_utf8_check(v, n) != MAILPROTO_OK)
        return MAILPROTO_E_INVALID;
    int ascii = 1, token = n > 0;
    size_t qlen = 2, plen = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\r' || v[i] == '\n' || v[i] == 0)
            return MAILPROTO_E_INVALID;
        if (v[i] >= 0x80)
            ascii = 0;
        if (!is_token(v[i]))
            token = 0;
        qlen += q_cost(v[i]);
        plen += pct_cost(v[i]);
    }
    /* a quoted "=?...?=" would be read back as RFC 2047: use the extended form */
    for (size_t i = 0; i + 1 < n; i++)
        if (v[i] == '=' && v[i + 1] == '?')
            ascii = 0;
    outbuf o = {out, cap, 0};
    size_t c = *col;
    /* one piece: name=value or name*=UTF-8''... */
    size_t single = ascii ? nl + 1 + (token ? n : qlen) : nl + 2 + 7 + plen;
    if (single + 2 <= LINE) {
        if (c + 2 + single + 1 <= LINE) {
            put(&o, "; ", 2);
            c += 2;
        } else {
            put(&o, ";\r\n ", 4);
            c = 1;
        }
        put(&o, name, nl);
        if (ascii) {
            put(&o, "=", 1);
            if (token) {
                put(&o, v, n);
            } else {
                put(&o, "\"", 1);
                put_quoted(&o, v, n);
                put(&o, "\"", 1);
            }
        } else {
            put(&o, "*=UTF-8''", 9);
            put_pct(&o, v, n);
        }
        c += single;
    } else {
        /* continuations, one section per line, at character boundaries */
        size_t pos = 0, k = 0;
        while (pos < n) {
            put(&o, ";\r\n ", 4);
            c = 1;
            char num[24];
            size_t numl = mailproto__fmt(num, sizeof num, "*%zu", k);
            put(&o, name, nl);
            put(&o, num, numl);
            size_t head = nl + numl + (ascii ? 2 : 2 + (k == 0 ? 7 : 0));
            if (ascii) {
                put(&o, "=\"", 2);
            } else {
                put(&o, "*=", 2);
                if (k == 0)
                    put(&o, "UTF-8''", 7);
            }
            size_t room = LINE - 2 - head - (ascii ? 1 : 0); /* ';' may follow */
            size_t used = 0, end = pos;
            while (end < n) {
                size_t l = ascii ? 1 : mailproto__utf8_seq(v + end, n - end);
                size_t cost = 0;
                for (size_t j = 0; j < l; j++)
                    cost += ascii ? q_cost(v[end + j]) : pct_cost(v[end + j]);
                if (used + cost > room && end > pos)
                    break;
                used += cost;
                end += l;
            }
            if (ascii) {
                put_quoted(&o, v + pos, end - pos);
                put(&o, "\"", 1);
            } else {
                put_pct(&o, v + pos, end - pos);
            }
            c = 1 + head + used + (ascii ? 1 : 0);
            pos = end;
            k++;
        }
    }
    *out_len = o.len;
    if (o.len > cap)
        return MAILPROTO_E_LIMIT;
    *col = c;
    if (o.len < cap)
        out[o.len] = '\0';
    return MAILPROTO_OK;
}

/* ---- decoding ---- */

typedef struct param {
    size_t an, al;   /* attribute */
    size_t vn, vl;   /* value (inside the quotes when quoted) */
    int quoted;
} param;

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* Parse the parameter starting at or after i (i points just past a ';').
 * Returns the index after it, and whether one was found in *p. */
static size_t next_param(const char *s, size_t i, size_t n, param *p, int *found)
{
    *found = 0;
    i = skip_ws(s, i, n);
    size_t a = i;
    while (i < n && s[i] != '=' && s[i] != ';')
        i++;
    size_t ae = i;
    while (ae > a && (s[ae - 1] == ' ' || s[ae - 1] == '\t'))
        ae--;
    if (i >= n || s[i] == ';')
        return i < n ? i + 1 : n;
    i = skip_ws(s, i + 1, n);
    p->an = a;
    p->al = ae - a;
    p->quoted = 0;
    if (i < n && s[i] == '"') {
        i++;
        p->vn = i;
        p->quoted = 1;
        while (i < n && s[i] != '"') {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            i++;
        }
        p->vl = i - p->vn;
        if (i < n)
            i++;
        while (i < n && s[i] != ';')
            i++;
    } else {
        p->vn = i;
        while (i < n && s[i] != ';')
            i++;
        size_t ve = i;
        while (ve > p->vn && (s[ve - 1] == ' ' || s[ve - 1] == '\t' || s[ve - 1] == '\r' ||
                              s[ve - 1] == '\n'))
            ve--;
        p->vl = ve - p->vn;
    }
    *found = 1;
    return i < n ? i + 1 : n;
}

/* Classify an attribute against name: 0 no match, 1 plain, 2 "name*",
 * 3 "name*K", 4 "name*K*" (section in *k). */
static int classify(const char *s, const param *p, const char *name, size_t nl, size_t *k)
{
    if (p->al < nl || mailproto__strncasecmp(s + p->an, name, nl) != 0)
        return 0;
    size_t r = p->an + nl, re = p->an + p->al;
    if (r == re)
        return 1;
    if (s[r] != '*')
        return 0;
    r++;
    if (r == re)
        return 2;
    size_t d = r;
    while (r < re && mailproto__is_digit((unsigned char)s[r]))
        r++;
    uint64_t v;
    if (r == d || mailproto__parse_u64(s + d, r - d, MAX_SECTIONS - 1, &v) != 0)
        return 0;
    *k = (size_t)v;
    if (r == re)
        return 3;
    if (s[r] == '*' && r + 1 == re)
        return 4;
    return 0;
}

static size_t unquote(const char *s, const param *p, unsigned char *raw, size_t len, size_t cap)
{
    for (size_t i = p->vn; i < p->vn + p->vl && len < cap; i++) {
        if (p->quoted && s[i] == '\\' && i + 1 < p->vn + p->vl)
            i++;
        raw[len++] = (unsigned char)s[i];
    }
    return len;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = mailproto__lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static size_t pct_decode(const char *s, size_t a, size_t e, unsigned char *raw, size_t len,
                         size_t cap)
{
    for (size_t i = a; i < e && len < cap; i++) {
        if (s[i] == '%' && i + 2 < e && hexv((unsigned char)s[i + 1]) >= 0 &&
            hexv((unsigned char)s[i + 2]) >= 0) {
            raw[len++] = (unsigned char)(hexv((unsigned char)s[i + 1]) << 4 |
                                         hexv((unsigned char)s[i + 2]));
            i += 2;
        } else {
            raw[len++] = (unsigned char)s[i];
        }
    }
    return len;
}

/* Value of an extended section: the first one starts with charset'lang'. */
static size_t ext_value(const char *s, const param *p, int first, char *charset, size_t cs_cap,
                        unsigned char *raw, size_t len, size_t cap)
{
    size_t a = p->vn, e = p->vn + p->vl;
    if (first) {
        const char *q1 = memchr(s + a, '\'', e - a);
        const char *q2 = q1 ? memchr(q1 + 1, '\'', (size_t)(s + e - q1 - 1)) : NULL;
        if (q1 && q2) {
            size_t cl = (size_t)(q1 - (s + a));
            if (cl < cs_cap) {
                memcpy(charset, s + a, cl);
                charset[cl] = '\0';
            }
            a = (size_t)(q2 + 1 - s);
        }
    }
    return pct_decode(s, a, e, raw, len, cap);
}

static void emit_lenient(outbuf *o, const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t l = p[i] < 0x80 ? 1 : mailproto__utf8_seq(p + i, n - i);
        if (l) {
            put(o, p + i, l);
            i += l;
        } else {
            put(o, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

int mailproto_param_get(const char *hvalue, size_t n, const char *name, char *out, size_t cap,
                        size_t *out_len)
{
    if (!out_len)
        return MAILPROTO_E_INVALID;
    *out_len = 0;
    if ((!hvalue && n) || !name || (!out && cap))
        return MAILPROTO_E_INVALID;
    size_t nl = strlen(name);
    const char *s = hvalue;
    /* skip the value before the first ';' (quotes respected) */
    size_t i = 0;
    int inq = 0;
    while (i < n && (inq || s[i] != ';')) {
        if (s[i] == '"')
            inq = !inq;
        else if (inq && s[i] == '\\')
            i++;
        i++;
    }
    if (i < n)
        i++;
    size_t start = i;
    param plain = {0, 0, 0, 0, 0}, ext = {0, 0, 0, 0, 0};
    int have_plain = 0, have_ext = 0, have_sec0 = 0;
    while (i < n) {
        param p;
        int found;
        i = next_param(s, i, n, &p, &found);
        if (!found)
            continue;
        size_t k = 0;
        int t = classify(s, &p, name, nl, &k);
        if (t == 1 && !have_plain) {
            plain = p;
            have_plain = 1;
        } else if (t == 2 && !have_ext) {
            ext = p;
            have_ext = 1;
        } else if ((t == 3 || t == 4) && k == 0) {
            have_sec0 = 1;
        }
    }
    unsigned char raw[RAW_MAX];
    size_t len = 0;
    char charset[48] = "";
    outbuf o = {out, cap, 0};
    if (have_ext || have_sec0) {
        if (have_ext) {
            len = ext_value(s, &ext, 1, charset, sizeof charset, raw, 0, sizeof raw);
        } else {
            for (size_t want = 0; want < MAX_SECTIONS; want++) {
                int got = 0;
                for (i = start; i < n && !got;) {
                    param p;
                    int found;
                    i = next_param(s, i, n, &p, &found);
                    size_t k = 0;
                    int t = found ? classify(s, &p, name, nl, &k) : 0;
                    if ((t == 3 || t == 4) && k == want) {
                        if (t == 4)
                            len = ext_value(s, &p, want == 0, charset, sizeof charset, raw, len,
                                            sizeof raw);
                        else
                            len = unquote(s, &p, raw, len, sizeof raw);
                        got = 1;
                    }
                }
                if (!got)
                    break;
            }
        }
        mailproto__conv c;
        if (charset[0] &&
            mailproto__conv_open(&c, charset, strlen(charset), MAILPROTO__CONV_TO_UTF8, 1) ==
                MAILPROTO_OK) {
            char tmp[MAILPROTO__CONV_BOUND(512)];
            size_t off = 0;
            while (off < len || off == 0) {
                size_t take = MAILPROTO__MIN(len - off, (size_t)512), got = 0;
                (void)mailproto__conv_feed(&c, raw + off, take, tmp, &got, off + take == len);
                put(&o, tmp, got);
                off += take;
                if (take == 0)
                    break;
            }
            mailproto__conv_close(&c);
        } else {
            emit_lenient(&o, raw, len);
        }
    } else if (have_plain) {
        len = unquote(s, &plain, raw, 0, sizeof raw);
        int has_word = 0;
        for (size_t k = 0; k + 1 < len; k++)
            if (raw[k] == '=' && raw[k + 1] == '?')
                has_word = 1;
        if (has_word) {
            char tmp[RAW_MAX * 3 + 8];
            size_t got = 0;
            (void)mailproto_rfc2047_decode((const char *)raw, len, tmp, sizeof tmp, &got);
            put(&o, tmp, MAILPROTO__MIN(got, sizeof tmp));
        } else {
            emit_lenient(&o, raw, len);
        }
    } else {
        return MAILPROTO_E_INVALID;
    }
    *out_len = o.len;
    if (o.len > cap)
        return MAILPROTO_E_LIMIT;
    if (o.len < cap)
        out[o.len] = '\0';
    return MAILPROTO_OK;
}
