/*
 * IMAP response parser, stage 1: the input buffer, the tokenizer and the
 * framer.
 *
 * Tokens are recognised in place in the input buffer.  A token that is not
 * complete yet makes the lexer ask for more input, unless the token fills
 * the whole buffer: then strings, atoms and text are handed out in pieces
 * (PARTIAL), so memory never grows with the length of a line.  The framer
 * (mailproto__imap_skip) finds the end of a response that stage 2 could not
 * parse: a line ends at LF, and a line whose last token is {n} announces a
 * literal of n bytes that belongs to the same response.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "imap_int.h"

int mailproto__imap_fail(mailproto_imap_parser *p, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mailproto__vfmt(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    p->fatal = status;
    return LEX_FATAL;
}

void mailproto__imap_lex_reset(mailproto_imap_parser *p)
{
    p->rs_ok = 0;
    p->qcont = p->acont = p->tcont = 0;
    p->have_peek = 0;
    p->lit_chunked = 0;
    p->skip_tlen = 0;
}

static int buffer_full(const mailproto_imap_parser *p)
{
    return p->start == 0 && p->end == p->cap;
}

/* Character classes: bit 1 ends an atom, bit 2 ends an atom in M_CODE,
 * bit 4 is special inside a quoted string, bit 8 is '['. */
#define C_ASTOP 1
#define C_CSTOP 2
#define C_QSPEC 4
#define C_LBR 8
static const unsigned char cls[256] = {
    /* 0x00-0x1f: controls end atoms; NUL, CR, LF are special in quoted strings */
    [0x00] = C_ASTOP | C_CSTOP | C_QSPEC, [0x01] = 3, [0x02] = 3, [0x03] = 3, [0x04] = 3, [0x05] = 3,
    [0x06] = 3, [0x07] = 3, [0x08] = 3, [0x09] = 3, [0x0a] = 3 | C_QSPEC, [0x0b] = 3, [0x0c] = 3,
    [0x0d] = 3 | C_QSPEC, [0x0e] = 3, [0x0f] = 3, [0x10] = 3, [0x11] = 3, [0x12] = 3, [0x13] = 3,
    [0x14] = 3, [0x15] = 3, [0x16] = 3, [0x17] = 3, [0x18] = 3, [0x19] = 3, [0x1a] = 3, [0x1b] = 3,
    [0x1c] = 3, [0x1d] = 3, [0x1e] = 3, [0x1f] = 3,
    [' '] = 3, ['('] = 3, [')'] = 3, ['"'] = 3 | C_QSPEC, ['{'] = 3, [0x7f] = 3,
    [']'] = C_CSTOP, ['\\'] = C_QSPEC, ['['] = C_LBR,
};



/* Does the atom so far name a FETCH item whose "[...]" section may hold
 * spaces and parentheses? */
static int section_prefix(const char *s, size_t n)
{
    return mailproto__span_ieq(s, n, "BODY") || mailproto__span_ieq(s, n, "BINARY") ||
           mailproto__span_ieq(s, n, "BINARY.SIZE") || mailproto__span_ieq(s, n, "BODY.PEEK") ||
           mailproto__span_ieq(s, n, "BINARY.PEEK");
}

/* Quoted-string content from s[i]; closes on '"'. */
/* Resume a scan that stopped for lack of input at a known position. */
static size_t resume_at(mailproto_imap_parser *p, size_t i, unsigned *state)
{
    if (p->rs_ok && p->rs_pos >= i) {
        *state = p->rs_state;
        return p->rs_pos;
    }
    *state = 0;
    return i;
}

static int need_at(mailproto_imap_parser *p, size_t j, unsigned state)
{
    p->rs_ok = 1;
    p->rs_pos = j;
    p->rs_state = state;
    return LEX_NEED;
}

static int lex_quoted(mailproto_imap_parser *p, const char *s, size_t n, size_t i, imap_tok *t)
{
    unsigned esc;
    size_t j = resume_at(p, i, &esc);
    while (j < n) {
        unsigned char c = (unsigned char)s[j];
        if (!(cls[c] & C_QSPEC)) {
            j++;
            continue;
        }
        if (c == '\\') {
            if (j + 1 >= n)
                break;
            if (s[j + 1] != '"' && s[j + 1] != '\\')
                return LEX_GARBLED;
            esc = 1;
            j += 2;
            continue;
        }
        if (c == '"') {
            t->type = T_QUOTED;
            t->off = i;
            t->len = j - i;
            t->consumed = j + 1;
            t->partial = 0;
            t->esc = esc;
            return LEX_OK;
        }
        return LEX_GARBLED; /* CR, LF or NUL */
    }
    if (!buffer_full(p))
        return need_at(p, j, esc);
    /* j stops before a lone trailing backslash, which waits for the next piece */
    t->type = T_QUOTED;
    t->off = i;
    t->len = j - i;
    t->consumed = j;
    t->partial = 1;
    t->esc = esc;
    return LEX_OK;
}

static int lex_atom(mailproto_imap_parser *p, const char *s, size_t n, size_t i, int mode, int cont,
                    imap_tok *t)
{
    unsigned inbr;
    size_t j = resume_at(p, i, &inbr);
    unsigned stop = mode == M_CODE ? C_CSTOP : C_ASTOP;
    while (j < n) {
        unsigned char c = (unsigned char)s[j];
        if (inbr) {
            if (c == '\r' || c == '\n' || c == 0)
                return LEX_GARBLED;
            if (c == ']')
                inbr = 0;
            j++;
            continue;
        }
        unsigned k = cls[c];
        if (k & stop)
            break;
        if ((k & C_LBR) && !cont && section_prefix(s + i, j - i))
            inbr = 1;
        j++;
    }
    if (j == n) {
        if (!buffer_full(p))
            return need_at(p, j, inbr);
        if (inbr)
            return LEX_GARBLED;
        t->partial = 1;
    } else {
        t->partial = 0;
        if (j == i && !cont)
            return LEX_GARBLED; /* a control character or NUL where a token belongs */
    }
    t->type = T_ATOM;
    t->off = i;
    t->len = j - i;
    t->consumed = j;
    return LEX_OK;
}

static int lex_text(mailproto_imap_parser *p, const char *s, size_t n, size_t i, int code, imap_tok *t)
{
    unsigned unused;
    size_t j = resume_at(p, i, &unused);
    while (j < n) {
        unsigned char c = (unsigned char)s[j];
        if (c == '\r' || c == '\n' || (code && c == ']'))
            break;
        if (c == 0)
            return LEX_GARBLED;
        j++;
    }
    t->type = T_TEXT;
    t->off = i;
    t->len = j - i;
    t->consumed = j;
    t->partial = 0;
    if (j == n) {
        if (!buffer_full(p))
            return need_at(p, j, 0);
        t->partial = 1;
    }
    return LEX_OK;
}

/* {n} / {n+} / ~{n} followed by CRLF, starting at s[i] == '{'. */
static int lex_literal(mailproto_imap_parser *p, const char *s, size_t n, size_t i, int lit8, imap_tok *t)
{
    size_t j = i + 1, d0 = j;
    uint64_t v = 0;
    while (j < n && mailproto__is_digit((unsigned char)s[j])) {
        unsigned dg = (unsigned)(s[j] - '0');
        if (v > (UINT64_MAX - dg) / 10)
            return mailproto__imap_fail(p, MAILPROTO_E_PROTOCOL, "literal count does not fit in 64 bits");
        v = v * 10 + dg;
        j++;
    }
    if (j == n)
        goto need;
    if (j == d0)
        return mailproto__imap_fail(p, MAILPROTO_E_PROTOCOL, "malformed literal count");
    if (s[j] == '+')
        return mailproto__imap_fail(p, MAILPROTO_E_PROTOCOL, "non-synchronizing literal from the server");
    if (s[j] != '}')
        return mailproto__imap_fail(p, MAILPROTO_E_PROTOCOL, "malformed literal count");
    j++;
    if (j == n)
        goto need;
    if (s[j] != '\r')
        return mailproto__imap_fail(p, MAILPROTO_E_PROTOCOL, "literal count not at the end of a line");
    j++;
    if (j == n)
        goto need;
    if (s[j] != '\n')
        return mailproto__imap_fail(p, MAILPROTO_E_PROTOCOL, "literal count not followed by CRLF");
    t->type = T_LITERAL;
    t->num = v;
    t->lit8 = (unsigned)lit8;
    t->off = i;
    t->len = 0;
    t->consumed = j + 1;
    t->partial = 0;
    return LEX_OK;
need:
    if (buffer_full(p))
        return mailproto__imap_fail(p, MAILPROTO_E_PROTOCOL, "malformed literal count");
    return LEX_NEED;
}

/* One number or '*' of a sequence set at s[*j]. */
static int set_elem(const char *s, size_t n, size_t *j, uint64_t *v, int *star)
{
    size_t k = *j;
    if (k >= n)
        return LEX_NEED;
    if (s[k] == '*') {
        *star = 1;
        *v = 0;
        *j = k + 1;
        return LEX_OK;
    }
    *star = 0;
    uint64_t x = 0;
    size_t d0 = k;
    while (k < n && mailproto__is_digit((unsigned char)s[k])) {
        x = x * 10 + (uint64_t)(s[k] - '0');
        if (x > UINT32_MAX)
            return LEX_GARBLED;
        k++;
    }
    if (k == d0)
        return LEX_GARBLED;
    if (k == n)
        return LEX_NEED;
    if (x == 0)
        return LEX_GARBLED;
    *v = x;
    *j = k;
    return LEX_OK;
}

static int lex_set(mailproto_imap_parser *p, const char *s, size_t n, size_t i, imap_tok *t)
{
    size_t j = i;
    int s1, s2, r;
    uint64_t a, b;
    if ((r = set_elem(s, n, &j, &a, &s1)) != LEX_OK)
        goto out;
    b = a;
    s2 = s1;
    if (j >= n) {
        r = LEX_NEED;
        goto out;
    }
    if (s[j] == ':') {
        j++;
        if ((r = set_elem(s, n, &j, &b, &s2)) != LEX_OK)
            goto out;
    }
    if (j >= n) {
        r = LEX_NEED;
        goto out;
    }
    t->more = 0;
    if (s[j] == ',') {
        t->more = 1;
        j++;
    } else if (s[j] != ' ' && s[j] != ')' && s[j] != ']' && s[j] != '\r') {
        return LEX_GARBLED;
    }
    t->type = T_RANGE;
    t->num = a;
    t->num2 = b;
    t->star = (unsigned)(s1 | (s2 << 1));
    t->off = i;
    t->len = 0;
    t->consumed = j;
    t->partial = 0;
    return LEX_OK;
out:
    if (r == LEX_NEED && buffer_full(p))
        return LEX_GARBLED;
    return r;
}

int mailproto__imap_peek(mailproto_imap_parser *p, int mode, imap_tok **out)
{
    imap_tok *t = &p->pk;
    if (p->have_peek && t->mode == mode) {
        *out = t;
        return LEX_OK;
    }
    const char *s = p->buf + p->start;
    size_t n = p->end - p->start, i = 0;
    int r;
    if (p->rs_ok && p->rs_mode != mode)
        p->rs_ok = 0;
    p->rs_mode = mode;
    t->mode = mode;
    t->partial = 0;
    t->lit8 = 0;
    t->star = 0;
    t->more = 0;
    t->esc = 0;
    t->off = 0;
    t->len = 0;
    if (p->qcont)
        r = lex_quoted(p, s, n, 0, t);
    else if (p->acont)
        r = lex_atom(p, s, n, 0, mode, 1, t);
    else if (p->tcont)
        r = lex_text(p, s, n, 0, p->tcont == 2, t);
    else if (mode == M_TEXT || mode == M_TEXTSTART || mode == M_CODETEXT) {
        if (n == 0)
            return LEX_NEED;
        if (s[0] == ' ')
            i = 1;
        if (mode == M_TEXTSTART) {
            if (i == n)
                return buffer_full(p) ? LEX_GARBLED : LEX_NEED;
            if (s[i] == '[') {
                t->type = T_LBRACKET;
                t->consumed = i + 1;
                r = LEX_OK;
                goto done;
            }
        }
        r = lex_text(p, s, n, i, mode == M_CODETEXT, t);
    } else {
        while (i < n && s[i] == ' ')
            i++;
        if (i == n) {
            p->rs_ok = 0;
            if (buffer_full(p))
                return LEX_GARBLED;
            return LEX_NEED;
        }
        if (mode == M_SET) {
            r = lex_set(p, s, n, i, t);
            goto done;
        }
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\r':
            if (i + 1 == n)
                return buffer_full(p) ? LEX_GARBLED : LEX_NEED;
            if (s[i + 1] != '\n')
                return LEX_GARBLED;
            t->type = T_CRLF;
            t->consumed = i + 2;
            r = LEX_OK;
            break;
        case '(':
            t->type = T_LPAREN;
            t->consumed = i + 1;
            r = LEX_OK;
            break;
        case ')':
            t->type = T_RPAREN;
            t->consumed = i + 1;
            r = LEX_OK;
            break;
        case '"':
            r = lex_quoted(p, s, n, i + 1, t);
            break;
        case '{':
            r = lex_literal(p, s, n, i, 0, t);
            break;
        case '~':
            if (i + 1 == n)
                return buffer_full(p) ? LEX_GARBLED : LEX_NEED;
            if (s[i + 1] == '{') {
                r = lex_literal(p, s, n, i + 1, 1, t);
                break;
            }
            r = lex_atom(p, s, n, i, mode, 0, t);
            break;
        case ']':
            if (mode == M_CODE) {
                t->type = T_RBRACKET;
                t->consumed = i + 1;
                r = LEX_OK;
                break;
            }
            r = lex_atom(p, s, n, i, mode, 0, t);
            break;
        default:
            r = lex_atom(p, s, n, i, mode, 0, t);
            break;
        }
    }
done:
    if (r != LEX_NEED)
        p->rs_ok = 0;
    if (r == LEX_OK) {
        p->have_peek = 1;
        *out = t;
    }
    return r;
}

int mailproto__imap_take(mailproto_imap_parser *p, imap_tok *t)
{
    char *d = p->buf + p->start + t->off;
    if (t->type == T_QUOTED) {
        /* unescape in place: the result is never longer */
        size_t r = 0, w = 0;
        if (!t->esc)
            r = w = t->len;
        while (r < t->len) {
            if (d[r] == '\\' && r + 1 < t->len)
                r++;
            d[w++] = d[r++];
        }
        t->len = w;
        p->qcont = (int)t->partial;
    } else if (t->type == T_ATOM) {
        p->acont = (int)t->partial;
    } else if (t->type == T_TEXT) {
        p->tcont = t->partial ? (t->mode == M_CODETEXT ? 2 : 1) : 0;
    }
    t->ptr = d;
    p->rs_ok = 0;
    p->start += t->consumed;
    p->line += t->consumed;
    p->have_peek = 0;
    if (t->type == T_LITERAL)
        p->lit_left = t->num;
    if (p->line > p->max_line) {
        mailproto__imap_fail(p, MAILPROTO_E_LIMIT, "response longer than %llu bytes (literals aside)",
                             (unsigned long long)p->max_line);
        return MAILPROTO_E_LIMIT;
    }
    return 0;
}

/* Is the tail of a line (without CRLF) a literal announcement? */
static int tail_literal(const char *s, size_t n, uint64_t *v)
{
    if (n < 3 || s[n - 1] != '}')
        return 0;
    size_t e = n - 1;
    if (e > 0 && s[e - 1] == '+')
        e--;
    size_t b = e;
    while (b > 0 && mailproto__is_digit((unsigned char)s[b - 1]))
        b--;
    if (b == e || b == 0 || s[b - 1] != '{')
        return 0;
    return mailproto__parse_u64(s + b, e - b, UINT64_MAX, v) == 0;
}

static void tail_add(mailproto_imap_parser *p, const char *s, size_t n)
{
    size_t keep = sizeof p->skip_tail;
    if (n >= keep) {
        memcpy(p->skip_tail, s + n - keep, keep);
        p->skip_tlen = keep;
        return;
    }
    if (p->skip_tlen + n > keep) {
        size_t drop = p->skip_tlen + n - keep;
        memmove(p->skip_tail, p->skip_tail + drop, p->skip_tlen - drop);
        p->skip_tlen -= drop;
    }
    memcpy(p->skip_tail + p->skip_tlen, s, n);
    p->skip_tlen += n;
}

int mailproto__imap_skip(mailproto_imap_parser *p)
{
    p->rs_ok = 0;
    p->qcont = p->acont = p->tcont = 0;
    p->have_peek = 0;
    for (;;) {
        if (p->lit_left > 0) {
            size_t avail = p->end - p->start;
            if (avail == 0)
                return LEX_NEED;
            size_t k = avail < p->lit_left ? avail : (size_t)p->lit_left;
            p->start += k;
            p->lit_left -= k;
            continue;
        }
        const char *s = p->buf + p->start;
        size_t n = p->end - p->start;
        if (n == 0)
            return LEX_NEED;
        const char *lf = memchr(s, '\n', n);
        size_t k = lf ? (size_t)(lf - s) + 1 : n;
        p->line += k;
        if (p->line > p->max_line) {
            mailproto__imap_fail(p, MAILPROTO_E_LIMIT, "response longer than %llu bytes (literals aside)",
                                 (unsigned long long)p->max_line);
            return LEX_FATAL;
        }
        tail_add(p, s, lf ? k - 1 : k);
        p->start += k;
        if (!lf)
            return LEX_NEED;
        size_t tl = p->skip_tlen;
        if (tl > 0 && p->skip_tail[tl - 1] == '\r')
            tl--;
        uint64_t v;
        int lit = tail_literal(p->skip_tail, tl, &v);
        p->skip_tlen = 0;
        if (!lit)
            return LEX_OK;
        p->lit_left = v;
    }
}
