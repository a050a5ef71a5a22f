/*
 * The MIME writer: lays the tree out (automatic layout, encodings chosen by
 * scanning, boundaries, Date and Message-ID, rendered headers), then pulls
 * the message out chunk by chunk through fixed buffers, so memory does not
 * depend on the attachment sizes.  No recursion: the tree is walked through
 * parent pointers.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "mime_internal.h"

enum { W_TOP, W_HEAD, W_OPEN, W_BODY, W_END, W_DONE };

static int fail(mailproto_mime *m, int rc, const char *msg)
{
    mailproto__err_set(&m->err, rc, "%s", msg);
    return rc;
}

void mailproto__part_close_file(mailproto_mime_part *p)
{
    if (p->file_open) {
        mailproto__file_close(&p->fsrc);
        p->file_open = 0;
    }
}

/* ---- tree walking ---- */

static mailproto_mime_part *next_preorder(mailproto_mime_part *p)
{
    if (p->kind == MAILPROTO__MP_MULTI && p->first)
        return p->first;
    while (p) {
        if (p->next)
            return p->next;
        p = p->parent;
    }
    return NULL;
}

/* ---- layout ---- */

void mailproto__mime_unlayout(mailproto_mime *m)
{
    const mailproto_mem *mem = m->mem;
    /* free implicit containers; detach the automatic parts again */
    mailproto_mime_part **pp = &m->all_first;
    while (*pp) {
        mailproto_mime_part *p = *pp;
        if (p->implicit) {
            *pp = p->all_next;
            mailproto__sb_free(&p->head);
            mailproto__strfree(mem, p->type);
            mailproto__strfree(mem, p->charset);
            if (p->data)
                mailproto__free(mem, p->data, 1);
            mailproto__free(mem, p, sizeof *p);
            continue;
        }
        mailproto__sb_free(&p->head);
        mailproto__sb_init(&p->head, mem);
        pp = &p->all_next;
    }
    for (mailproto_mime_part *p = m->auto_first; p; p = p->auto_next) {
        p->parent = NULL;
        p->next = NULL;
    }
    mailproto__sb_free(&m->top);
    mailproto__sb_init(&m->top, mem);
    for (size_t i = 0; i < m->n_rcpt; i++)
        mailproto__strfree(mem, m->rcpt[i]);
    if (m->rcpt)
        mailproto__free(mem, m->rcpt, m->n_rcpt * sizeof *m->rcpt);
    m->rcpt = NULL;
    m->n_rcpt = 0;
    mailproto__strfree(mem, m->sender);
    m->sender = NULL;
    m->root = NULL;
    m->laid_out = 0;
}

static mailproto_mime_part *implicit_part(mailproto_mime *m, const char *type, int kind)
{
    mailproto_mime_part *p = mailproto__calloc(m->mem, 1, sizeof *p);
    if (!p)
        return NULL;
    p->m = m;
    p->kind = kind;
    p->implicit = 1;
    mailproto__sb_init(&p->head, m->mem);
    if (mailproto__strdup(m->mem, type, &p->type) != MAILPROTO_OK) {
        mailproto__free(m->mem, p, sizeof *p);
        return NULL;
    }
    p->is_text = strncmp(type, "text/", 5) == 0;
    p->all_next = m->all_first;
    m->all_first = p;
    return p;
}

static void adopt(mailproto_mime_part *parent, mailproto_mime_part *c)
{
    c->parent = parent;
    c->next = NULL;
    if (parent->last)
        parent->last->next = c;
    else
        parent->first = c;
    parent->last = c;
}

static int is_body(const mailproto_mime_part *p)
{
    if (p->cid)
        return 0;
    if (p->kind == MAILPROTO__MP_MULTI)
        return 1;
    if (p->filename || (p->disp && strcmp(p->disp, "attachment") == 0))
        return 0;
    return strcmp(p->type, "text/plain") == 0 || strcmp(p->type, "text/html") == 0;
}

static int is_resource(const mailproto_mime_part *p)
{
    return p->cid && p->kind != MAILPROTO__MP_MULTI;
}

static int assemble(mailproto_mime *m)
{
    size_t nb = 0, nr = 0, na = 0;
    mailproto_mime_part *html = NULL, *single = NULL;
    for (mailproto_mime_part *p = m->auto_first; p; p = p->auto_next) {
        if (is_resource(p)) {
            nr++;
        } else if (is_body(p)) {
            nb++;
            single = p;
            if (strcmp(p->type, "text/html") == 0)
                html = p;
        } else {
            na++;
        }
    }
    mailproto_mime_part *alt = NULL, *rel = NULL, *body = NULL;
    /* the part the inline resources belong to */
    mailproto_mime_part *target = html ? html : (nb == 1 ? single : NULL);
    if (nr) {
        rel = implicit_part(m, "multipart/related", MAILPROTO__MP_MULTI);
        if (!rel)
            return MAILPROTO_E_NOMEM;
        if (target)
            adopt(rel, target);
    }
    if (nb > 1) {
        alt = implicit_part(m, "multipart/alternative", MAILPROTO__MP_MULTI);
        if (!alt)
            return MAILPROTO_E_NOMEM;
        for (mailproto_mime_part *p = m->auto_first; p; p = p->auto_next)
            if (!is_resource(p) && is_body(p))
                adopt(alt, p == target && rel ? rel : p);
        body = alt;
        if (rel && !target) {
            /* no HTML among several bodies: the whole alternative is related's root */
            adopt(rel, alt);
            body = rel;
        }
    } else if (nb == 1) {
        body = rel ? rel : single;
    } else if (rel) {
        body = rel;
    }
    if (rel) {
        for (mailproto_mime_part *p = m->auto_first; p; p = p->auto_next)
            if (is_resource(p))
                adopt(rel, p);
    }
    if (na) {
        mailproto_mime_part *mixed = implicit_part(m, "multipart/mixed", MAILPROTO__MP_MULTI);
        if (!mixed)
            return MAILPROTO_E_NOMEM;
        if (body)
            adopt(mixed, body);
        for (mailproto_mime_part *p = m->auto_first; p; p = p->auto_next)
            if (!is_resource(p) && !is_body(p))
                adopt(mixed, p);
        body = mixed;
    }
    if (!body) {
        body = implicit_part(m, "text/plain", MAILPROTO__MP_TEXT);
        if (!body)
            return MAILPROTO_E_NOMEM;
        body->data = mailproto__alloc(m->mem, 1);
        if (!body->data)
            return MAILPROTO_E_NOMEM;
        body->len = 0;
        if (mailproto__strdup(m->mem, "us-ascii", &body->charset) != MAILPROTO_OK)
            return MAILPROTO_E_NOMEM;
    }
    body->parent = NULL;
    body->next = NULL;
    m->root = body;
    return MAILPROTO_OK;
}

/* ---- scanning: pick the transfer encoding ---- */


typedef mailproto__scan scan;

#define DELIM_LEN 33 /* "--" + "=_mp_" + 26 */

static void scan_line_head(scan *s)
{
    if (s->nhead < DELIM_LEN || s->head[0] != '-' || s->head[1] != '-')
        return;
    for (const mailproto_mime_part *a = s->part->parent; a; a = a->parent)
        if (memcmp(s->head + 2, a->boundary, DELIM_LEN - 2) == 0)
            s->boundary_like = 1;
}

/* A strict UTF-8 check for text parts (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), one byte at a time so that it works
 * across reads.  u8lo/u8hi bound the next continuation byte. */
static void u8_step(scan *s, unsigned char b)
{
    if (s->u8need) {
        if (b < s->u8lo || b > s->u8hi) {
            s->not_utf8 = 1;
            s->u8need = 0;
        } else {
            s->u8need--;
        }
        s->u8lo = 0x80;
        s->u8hi = 0xBF;
        return;
    }
    s->u8lo = 0x80;
    s->u8hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        s->u8need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        s->u8need = 2;
        if (b == 0xE0)
            s->u8lo = 0xA0; /* overlong below U+0800 */
        else if (b == 0xED)
            s->u8hi = 0x9F; /* surrogates U+D800..U+DFFF */
    } else if (b >= 0xF0 && b <= 0xF4) {
        s->u8need = 3;
        if (b == 0xF0)
            s->u8lo = 0x90; /* overlong below U+10000 */
        else if (b == 0xF4)
            s->u8hi = 0x8F; /* above U+10FFFF */
    } else if (b >= 0x80) {
        s->not_utf8 = 1; /* C0, C1, F5..FF or a stray continuation byte */
    }
}

static void scan_feed(scan *s, const unsigned char *p, size_t n, int text)
{
    (void)text;
    for (size_t i = 0; i < n; i++) {
        if (s->nhead >= DELIM_LEN && !s->prev_cr) {
            /* fast path: the middle of a line, no control characters */
            size_t j = i;
            uint64_t hi = 0;
            while (j < n && p[j] >= 32 && p[j] != 127) {
                unsigned char b = p[j];
                if (b >= 0x80 || s->u8need)
                    u8_step(s, b);
                hi += b >> 7;
                j++;
            }
            s->len += j - i;
            s->col += j - i;
            s->nonascii += hi;
            i = j;
            if (i == n)
                break;
        }
        unsigned char c = p[i];
        s->len++;
        if (c >= 0x80)
            s->nonascii++;
        if (c >= 0x80 || s->u8need)
            u8_step(s, c);
        if (c == 0)
            s->nul = 1;
        else if ((c < 32 && c != '\t' && c != '\r' && c != '\n') || c == 127)
            s->ctrl = 1;
        if (c == '\n') {
            if (!s->prev_cr) {
                s->bare = 1;
                if (s->col > s->maxline)
                    s->maxline = s->col;
            }
            s->col = 0;
            s->nhead = 0;
            s->prev_cr = 0;
            continue;
        }
        if (s->prev_cr) {
            s->bare = 1; /* CR not followed by LF */
            if (s->col > s->maxline)
                s->maxline = s->col;
            s->col = 0;
            s->nhead = 0;
        }
        if (c == '\r') {
            if (s->col > s->maxline)
                s->maxline = s->col;
            s->prev_cr = 1;
            continue;
        }
        s->prev_cr = 0;
        s->col++;
        if (s->nhead < DELIM_LEN) {
            s->head[s->nhead++] = (char)c;
            if (s->nhead == DELIM_LEN)
                scan_line_head(s);
        }
    }
}

static void scan_end(scan *s)
{
    if (s->prev_cr)
        s->bare = 1;
    if (s->col > s->maxline)
        s->maxline = s->col;
}

static int choose_cte(mailproto_mime *m, mailproto_mime_part *p, const scan *s)
{
    int b8 = (m->flags & MAILPROTO_MIME_8BIT) != 0, bin = (m->flags & MAILPROTO_MIME_BINARY) != 0;
    int clean_lines = s->maxline <= 998 && !s->boundary_like;
    p->ascii = s->nonascii == 0;
    if (p->is_message) {
        if (clean_lines && !s->nul && !s->nonascii && !s->bare)
            return MAILPROTO_CTE_7BIT;
        if (b8 && clean_lines && !s->nul && !s->bare)
            return MAILPROTO_CTE_8BIT;
        if (bin && !s->boundary_like)
            return MAILPROTO_CTE_BINARY;
        return fail(m, MAILPROTO_E_INVALID,
                    "a message/ part must be 7bit (or 8bit/binary when allowed)");
    }
    if (p->is_text) {
        if (clean_lines && !s->nul && !s->nonascii)
            return MAILPROTO_CTE_7BIT;
        if (b8 && clean_lines && !s->nul)
            return MAILPROTO_CTE_8BIT;
        if (s->nonascii * 100 <= s->len * 17)
            return MAILPROTO_CTE_QP;
        return MAILPROTO_CTE_BASE64;
    }
    if (bin && !s->boundary_like)
        return MAILPROTO_CTE_BINARY;
    /* other parts go as they are only when they look like text */
    if (clean_lines && !s->nul && !s->bare && !s->ctrl && !s->nonascii)
        return MAILPROTO_CTE_7BIT;
    if (b8 && clean_lines && !s->nul && !s->bare && !s->ctrl)
        return MAILPROTO_CTE_8BIT;
    return MAILPROTO_CTE_BASE64;
}

/* Check a declared encoding against the scan. */
static int check_declared(mailproto_mime *m, mailproto_mime_part *p, const scan *s)
{
    int cte = p->cte_declared;
    int clean = s->maxline <= 998 && !s->boundary_like && !s->nul && (p->is_text || !s->bare);
    if (cte == MAILPROTO_CTE_7BIT && !(clean && !s->nonascii))
        return fail(m, MAILPROTO_E_INVALID, "declared 7bit, content is not");
    if (cte == MAILPROTO_CTE_8BIT && !clean)
        return fail(m, MAILPROTO_E_INVALID, "declared 8bit, content is not");
    if (cte == MAILPROTO_CTE_BINARY && s->boundary_like)
        return fail(m, MAILPROTO_E_INVALID, "binary content holds a delimiter-like line");
    if ((cte == MAILPROTO_CTE_QP || cte == MAILPROTO_CTE_BASE64) && p->is_message)
        return fail(m, MAILPROTO_E_INVALID, "message/ parts cannot be base64 or quoted-printable");
    return MAILPROTO_OK;
}

static int scan_part(mailproto_mime *m, mailproto_mime_part *p)
{
    scan s;
    memset(&s, 0, sizeof s);
    s.part = p;
    p->scanned = 0;
    p->ascii = 0;
    int text_norm = p->is_text;
    if ((p->cte_declared == MAILPROTO_CTE_BASE64 || p->cte_declared == MAILPROTO_CTE_QP) &&
        !p->is_message) {
        /* always safe: nothing to check */
        p->cte = p->cte_declared;
        return MAILPROTO_OK;
    }
    if (p->kind == MAILPROTO__MP_TEXT || p->kind == MAILPROTO__MP_DATA) {
        scan_feed(&s, p->data, p->len, text_norm);
    } else {
        mailproto_source *src = p->src;
        if (p->read_before || src->rewind) {
            if (p->read_before) {
                int rc = mailproto_source_rewind(src);
                if (rc != MAILPROTO_OK)
                    return fail(m, rc, "a part's source cannot be rewound");
            }
        }
        if (!src->rewind) {
            /* read once only: no scan */
            if (p->cte_declared)
                p->cte = p->cte_declared;
            else if (p->is_message)
                p->cte = MAILPROTO_CTE_7BIT;
            else
                p->cte = p->is_text ? MAILPROTO_CTE_QP : MAILPROTO_CTE_BASE64;
            return MAILPROTO_OK;
        }
        int b8 = (m->flags & MAILPROTO_MIME_8BIT) != 0;
        for (;;) {
            /* other parts: base64 is certain once the content is not text-like */
            if (!p->is_text && !p->is_message && !p->cte_declared &&
                !(m->flags & MAILPROTO_MIME_BINARY) &&
                (s.nul || s.ctrl || s.bare || (s.nonascii && !b8)))
                break;
            size_t got = 0;
            int rc = mailproto_source_read(src, m->w.ibuf, sizeof m->w.ibuf, &got);
            if (rc == MAILPROTO_AGAIN)
                return fail(m, MAILPROTO_E_UNSUPPORTED,
                            "a part's source said AGAIN while the message was laid out");
            if (rc != MAILPROTO_OK)
                return fail(m, rc, "reading a part's source failed");
            if (got == 0)
                break;
            scan_feed(&s, m->w.ibuf, got, text_norm);
        }
        p->read_before = 1;
    }
    scan_end(&s);
    p->scanned = 1;
    if (p->is_text && !p->charset && (s.not_utf8 || s.u8need))
        return fail(m, MAILPROTO_E_INVALID, "a text part is not UTF-8: give its charset");
    if (p->is_text) {
        /* text is normalised to CRLF, so bare line breaks are fine */
    }
    if (p->cte_declared) {
        int rc = check_declared(m, p, &s);
        if (rc != MAILPROTO_OK)
            return rc;
        p->cte = p->cte_declared;
        p->ascii = s.nonascii == 0;
        return MAILPROTO_OK;
    }
    int cte = choose_cte(m, p, &s);
    if (cte < 0)
        return cte;
    p->cte = cte;
    return MAILPROTO_OK;
}

/* ---- random values ---- */

static int random_chars(mailproto_mime *m, char *out, size_t nchars)
{
    static const char alpha[32] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char r[32];
    if (nchars > sizeof r)
        nchars = sizeof r;
    int rc = m->rnd ? m->rnd(m->rnd_ctx, r, nchars) : mailproto__random(NULL, r, nchars);
    if (rc != MAILPROTO_OK)
        return fail(m, MAILPROTO_E_UNSUPPORTED, "no random source (inject one)");
    for (size_t i = 0; i < nchars; i++)
        out[i] = alpha[r[i] & 31];
    out[nchars] = '\0';
    return MAILPROTO_OK;
}

/* ---- rendering ---- */

static const char *cte_name(int cte)
{
    switch (cte) {
    case MAILPROTO_CTE_8BIT: return "8bit";
    case MAILPROTO_CTE_BINARY: return "binary";
    case MAILPROTO_CTE_QP: return "quoted-printable";
    case MAILPROTO_CTE_BASE64: return "base64";
    default: return "7bit";
    }
}

static int render_part(mailproto_mime *m, mailproto_mime_part *p)
{
    mailproto__sb *b = &p->head;
    mailproto__param prm[4];
    size_t np = 0;
    int utf8 = (m->flags & MAILPROTO_MIME_UTF8_HEADERS) != 0;
    int rc;
    if (p->kind == MAILPROTO__MP_MULTI) {
        prm[np++] = (mailproto__param){"boundary", p->boundary, 0};
        if (strcmp(p->type, "multipart/related") == 0 && p->first)
            prm[np++] = (mailproto__param){"type", p->first->type, 0};
    } else {
        if (p->is_text)
            prm[np++] = (mailproto__param){"charset", p->charset ? p->charset : "utf-8", 0};
        if (p->filename) {
            int ascii = 1;
            for (const char *s = p->filename; *s; s++)
                if ((unsigned char)*s >= 0x80)
                    ascii = 0;
            int w2047 = (m->flags & MAILPROTO_MIME_NAME_RFC2047) && !ascii;
            prm[np++] = (mailproto__param){"name", p->filename, w2047};
        }
    }
    rc = mailproto__hdr_params(b, "Content-Type", p->type, prm, np);
    if (rc != MAILPROTO_OK)
        return rc;
    if (p->kind != MAILPROTO__MP_MULTI) {
        mailproto__sb_puts(b, "Content-Transfer-Encoding: ");
        mailproto__sb_puts(b, cte_name(p->cte));
        mailproto__sb_put(b, "\r\n", 2);
        const char *disp = p->disp ? p->disp : p->filename ? "attachment" : p->cid ? "inline" : NULL;
        if (disp || p->filename) {
            mailproto__param fp = {"filename", p->filename, 0};
            rc = mailproto__hdr_params(b, "Content-Disposition", disp ? disp : "attachment", &fp,
                                       p->filename ? 1 : 0);
            if (rc != MAILPROTO_OK)
                return rc;
        }
    }
    if (p->cid) {
        mailproto__sb_puts(b, "Content-ID: <");
        mailproto__sb_puts(b, p->cid);
        mailproto__sb_put(b, ">\r\n", 3);
    }
    for (mailproto__hdr *h = p->hdrs; h; h = h->next) {
        rc = mailproto__hdr_text(b, h->name, h->value, utf8);
        if (rc != MAILPROTO_OK)
            return rc;
    }
    mailproto__sb_put(b, "\r\n", 2);
    return b->err;
}

static mailproto__hdr *find_hdr(mailproto_mime *m, const char *name)
{
    for (mailproto__hdr *h = m->hdrs; h; h = h->next)
        if (mailproto__span_ieq(h->name, strlen(h->name), name))
            return h;
    return NULL;
}

static int add_rcpts(mailproto_mime *m, const mailproto__addr *a, int utf8)
{
    for (; a; a = a->next) {
        if (a->empty_group)
            continue;
        mailproto__sb s;
        mailproto__sb_init(&s, m->mem);
        int rc = mailproto__addr_spec(&s, a, utf8);
        if (rc != MAILPROTO_OK || !s.p) {
            mailproto__sb_free(&s);
            return rc != MAILPROTO_OK ? rc : MAILPROTO_E_NOMEM;
        }
        char *copy;
        rc = mailproto__strdup(m->mem, s.p, &copy);
        mailproto__sb_free(&s);
        if (rc != MAILPROTO_OK)
            return rc;
        char **nr = mailproto__realloc(m->mem, m->rcpt, m->n_rcpt * sizeof *nr,
                                       (m->n_rcpt + 1) * sizeof *nr);
        if (!nr) {
            mailproto__strfree(m->mem, copy);
            return MAILPROTO_E_NOMEM;
        }
        m->rcpt = nr;
        m->rcpt[m->n_rcpt++] = copy;
    }
    return MAILPROTO_OK;
}

static int render_top(mailproto_mime *m)
{
    mailproto__sb *b = &m->top;
    int utf8 = (m->flags & MAILPROTO_MIME_UTF8_HEADERS) != 0;
    int rc = MAILPROTO_OK;
    /* Date */
    mailproto__hdr *h = find_hdr(m, "Date");
    if (h) {
        rc = mailproto__hdr_structured(b, "Date", h->value);
    } else if (!(m->flags & MAILPROTO_MIME_NO_DATE)) {
        if (!m->date[0]) {
            int tz = 0;
            int64_t t = m->clock ? m->clock(m->clock_ctx, &tz) : mailproto__mime_os_time(NULL, &tz);
            mailproto__fmt_date(m->date, sizeof m->date, t, tz);
        }
        rc = mailproto__hdr_structured(b, "Date", m->date);
    }
    static const char *const order[] = {"From", "Sender", "Reply-To", "To", "Cc", "Subject"};
    for (size_t i = 0; rc == MAILPROTO_OK && i < MAILPROTO__ARRAY_LEN(order); i++) {
        h = find_hdr(m, order[i]);
        if (!h)
            continue;
        if (h->addrs)
            rc = mailproto__hdr_addrs(b, order[i], h->addrs, utf8, NULL, 0);
        else
            rc = mailproto__hdr_text(b, order[i], h->value, utf8);
    }
    if (rc != MAILPROTO_OK)
        return rc;
    /* Message-ID */
    h = find_hdr(m, "Message-ID");
    if (h) {
        rc = mailproto__hdr_structured(b, "Message-ID", h->value);
    } else if (!(m->flags & MAILPROTO_MIME_NO_MESSAGE_ID)) {
        if (!m->msgid[0]) {
            char rnd[32];
            rc = random_chars(m, rnd, 26);
            if (rc != MAILPROTO_OK)
                return rc;
            char host[300] = "localhost";
            if (m->hostname) {
                mailproto__fmt(host, sizeof host, "%s", m->hostname);
            } else {
                mailproto__hdr *from = find_hdr(m, "From");
                if (from && from->addrs && from->addrs->domain && from->addrs->domain[0]) {
                    char d[300];
                    const char *dom = from->addrs->domain;
                    int ascii = 1;
                    for (const char *s = dom; *s; s++)
                        if ((unsigned char)*s >= 0x80 || *s == '[')
                            ascii = 0;
                    if (ascii)
                        mailproto__fmt(host, sizeof host, "%s", dom);
                    else if (mailproto__idna(dom, d, sizeof d) == MAILPROTO_OK)
                        mailproto__fmt(host, sizeof host, "%s", d);
                }
            }
            mailproto__fmt(m->msgid, sizeof m->msgid, "<%s@%s>", rnd, host);
        }
        rc = mailproto__hdr_structured(b, "Message-ID", m->msgid);
    }
    static const char *const order2[] = {"In-Reply-To", "References"};
    for (size_t i = 0; rc == MAILPROTO_OK && i < 2; i++) {
        h = find_hdr(m, order2[i]);
        if (h)
            rc = mailproto__hdr_structured(b, order2[i], h->value);
    }
    /* everything else, in the order set (Bcc never) */
    for (h = m->hdrs; rc == MAILPROTO_OK && h; h = h->next) {
        static const char *const done[] = {"Date", "From", "Sender", "Reply-To", "To", "Cc",
                                           "Subject", "Message-ID", "In-Reply-To", "References",
                                           "Bcc"};
        int skip = 0;
        for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(done); i++)
            if (mailproto__span_ieq(h->name, strlen(h->name), done[i]))
                skip = 1;
        if (skip)
            continue;
        if (h->addrs)
            rc = mailproto__hdr_addrs(b, h->name, h->addrs, utf8, NULL, 0);
        else
            rc = mailproto__hdr_text(b, h->name, h->value, utf8);
    }
    if (rc != MAILPROTO_OK)
        return rc;
    mailproto__sb_puts(b, "MIME-Version: 1.0\r\n");
    /* envelope helpers */
    static const char *const rc_hdrs[] = {"To", "Cc", "Bcc"};
    for (size_t i = 0; rc == MAILPROTO_OK && i < 3; i++) {
        h = find_hdr(m, rc_hdrs[i]);
        for (; h; h = h->next)
            if (h->addrs && mailproto__span_ieq(h->name, strlen(h->name), rc_hdrs[i]))
                rc = add_rcpts(m, h->addrs, utf8);
    }
    h = find_hdr(m, "From");
    if (rc == MAILPROTO_OK && h && h->addrs && !h->addrs->empty_group) {
        mailproto__sb s;
        mailproto__sb_init(&s, m->mem);
        rc = mailproto__addr_spec(&s, h->addrs, utf8);
        if (rc == MAILPROTO_OK && s.p)
            rc = mailproto__strdup(m->mem, s.p, &m->sender);
        mailproto__sb_free(&s);
    }
    return rc != MAILPROTO_OK ? rc : b->err;
}

static int has_8bit(const mailproto__sb *b)
{
    for (size_t i = 0; i < b->len; i++)
        if ((unsigned char)b->p[i] >= 0x80)
            return 1;
    return 0;
}

int mailproto__mime_layout(mailproto_mime *m)
{
    if (m->laid_out && !m->dirty)
        return MAILPROTO_OK;
    mailproto__mime_unlayout(m);
    m->size_known = 0;
    m->needs = 0;
    int rc = assemble(m);
    for (mailproto_mime_part *p = m->root; rc == MAILPROTO_OK && p; p = next_preorder(p)) {
        if (p->kind == MAILPROTO__MP_MULTI) {
            if (!p->first) {
                rc = fail(m, MAILPROTO_E_INVALID, "a multipart has no parts");
                break;
            }
            memcpy(p->boundary, "=_mp_", 5);
            rc = random_chars(m, p->boundary + 5, 26);
        } else {
            rc = scan_part(m, p);
            if (rc == MAILPROTO_OK && p->is_text && !p->charset)
                rc = mailproto__strdup(m->mem, p->scanned && p->ascii ? "us-ascii" : "utf-8",
                                       &p->charset);
            if (p->cte == MAILPROTO_CTE_8BIT)
                m->needs |= MAILPROTO_MIME_NEEDS_8BITMIME;
            if (p->cte == MAILPROTO_CTE_BINARY)
                m->needs |= MAILPROTO_MIME_NEEDS_BINARYMIME;
        }
    }
    for (mailproto_mime_part *p = m->root; rc == MAILPROTO_OK && p; p = next_preorder(p)) {
        rc = render_part(m, p);
        if (rc == MAILPROTO_OK && has_8bit(&p->head))
            m->needs |= MAILPROTO_MIME_NEEDS_SMTPUTF8;
        if (rc != MAILPROTO_OK)
            fail(m, rc, "a part's headers cannot be written");
    }
    if (rc == MAILPROTO_OK) {
        rc = render_top(m);
        if (rc != MAILPROTO_OK)
            fail(m, rc, "the message headers cannot be written");
        else if (has_8bit(&m->top))
            m->needs |= MAILPROTO_MIME_NEEDS_SMTPUTF8;
    }
    if (rc != MAILPROTO_OK) {
        mailproto__mime_unlayout(m);
        return rc;
    }
    m->laid_out = 1;
    m->dirty = 0;
    return MAILPROTO_OK;
}

/* ---- the pull writer ---- */

void mailproto__writer_reset(mailproto_mime *m)
{
    mailproto__writer *w = &m->w;
    w->state = W_TOP;
    w->cur = NULL;
    w->out_p = NULL;
    w->out_len = 0;
    w->opos = w->olen = 0;
    w->measure = 0;
    w->computed = 0;
}

static void emit(mailproto__writer *w, const char *p, size_t n)
{
    w->out_p = p;
    w->out_len = n;
}

static size_t normalize(mailproto__writer *w, const unsigned char *in, size_t n, char *out)
{
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (c == '\r') {
            *o++ = '\r';
            *o++ = '\n';
            w->last_cr = 1;
        } else if (c == '\n') {
            if (!w->last_cr) {
                *o++ = '\r';
                *o++ = '\n';
            }
            w->last_cr = 0;
        } else {
            *o++ = (char)c;
            w->last_cr = 0;
        }
    }
    return (size_t)(o - out);
}

static uint64_t b64_size(uint64_t n)
{
    uint64_t chars = (n + 2) / 3 * 4;
    if (!chars)
        return 0;
    return chars + 2 * ((chars + 75) / 76 - 1);
}

static int open_body(mailproto_mime *m, mailproto_mime_part *p)
{
    mailproto__writer *w = &m->w;
    w->eof = 0;
    w->last_cr = 0;
    w->mem_off = 0;
    mailproto_b64_enc_init(&w->b64, 76);
    mailproto_qp_enc_init(&w->qp, !p->is_text);
    memset(&w->vscan, 0, sizeof w->vscan);
    w->vscan.part = p;
    if (p->kind == MAILPROTO__MP_TEXT || p->kind == MAILPROTO__MP_DATA)
        return MAILPROTO_OK;
    if (w->measure && !p->src->rewind) {
        /* read once only: count without reading when the size allows */
        uint64_t sz = p->src->size;
        if (sz == MAILPROTO_SIZE_UNKNOWN)
            return fail(m, MAILPROTO_E_UNSUPPORTED, "a part's source has no size and cannot be read twice");
        if (p->cte == MAILPROTO_CTE_BASE64 && !p->is_text)
            w->computed += b64_size(sz);
        else if (!p->is_text && p->cte != MAILPROTO_CTE_QP && p->cte != MAILPROTO_CTE_BASE64)
            w->computed += sz;
        else
            return fail(m, MAILPROTO_E_UNSUPPORTED,
                        "a part's encoded size cannot be known without reading it twice");
        w->eof = 2; /* skip the body */
        return MAILPROTO_OK;
    }
    if (p->read_before) {
        int rc = mailproto_source_rewind(p->src);
        if (rc != MAILPROTO_OK)
            return fail(m, rc, "a part's source cannot be read twice");
    }
    p->read_before = 1;
    return MAILPROTO_OK;
}

/* Verify content of an unscanned part (a read-once source) written as
 * 7bit or 8bit as it goes out: no NUL, no 8-bit byte in 7bit, no line over
 * 998 octets, no bare CR or LF outside text parts (text is normalised),
 * no line that starts like an enclosing delimiter.  A violation stops the
 * read-out with MAILPROTO_E_INVALID rather than sending a broken message.
 * n == 0 checks the end of the body. */
static int verify_plain(mailproto_mime *m, const mailproto_mime_part *p, const unsigned char *d,
                        size_t n)
{
    if (p->scanned || (p->cte != MAILPROTO_CTE_7BIT && p->cte != MAILPROTO_CTE_8BIT))
        return MAILPROTO_OK;
    scan *s = &m->w.vscan;
    if (n)
        scan_feed(s, d, n, p->is_text);
    else
        scan_end(s);
    if (s->nul || (s->nonascii && p->cte == MAILPROTO_CTE_7BIT))
        return fail(m, MAILPROTO_E_INVALID, "content does not fit its declared 7bit/8bit encoding");
    if (s->maxline > 998 || s->col > 998)
        return fail(m, MAILPROTO_E_INVALID, "a 7bit/8bit part has a line over 998 octets");
    if (s->bare && !p->is_text)
        return fail(m, MAILPROTO_E_INVALID, "a 7bit/8bit part has a bare CR or LF");
    if (s->boundary_like)
        return fail(m, MAILPROTO_E_INVALID, "a part holds a line that starts like its delimiter");
    return MAILPROTO_OK;
}

static int body_step(mailproto_mime *m)
{
    mailproto__writer *w = &m->w;
    mailproto_mime_part *p = w->cur;
    if (w->eof == 2) {
        w->state = W_END;
        return MAILPROTO_OK;
    }
    const unsigned char *in;
    size_t n;
    if (p->kind == MAILPROTO__MP_TEXT || p->kind == MAILPROTO__MP_DATA) {
        n = MAILPROTO__MIN(p->len - w->mem_off, (size_t)MAILPROTO__IBUF);
        in = p->data + w->mem_off;
        w->mem_off += n;
    } else {
        int rc = mailproto_source_read(p->src, w->ibuf, sizeof w->ibuf, &n);
        if (rc != MAILPROTO_OK)
            return rc == MAILPROTO_AGAIN ? rc : fail(m, rc, "reading a part's source failed");
        in = w->ibuf;
    }
    if (n == 0) {
        /* end of the body */
        int vrc = verify_plain(m, p, NULL, 0);
        if (vrc != MAILPROTO_OK)
            return vrc;
        size_t k = 0;
        if (p->cte == MAILPROTO_CTE_BASE64)
            k = mailproto_b64_enc_final(&w->b64, w->obuf);
        else if (p->cte == MAILPROTO_CTE_QP)
            k = mailproto_qp_enc_final(&w->qp, w->obuf);
        if (p == m->root && p->cte == MAILPROTO_CTE_BASE64) {
            w->obuf[k++] = '\r';
            w->obuf[k++] = '\n';
        }
        w->opos = 0;
        w->olen = k;
        w->state = W_END;
        return MAILPROTO_OK;
    }
    switch (p->cte) {
    case MAILPROTO_CTE_QP:
        w->olen = mailproto_qp_enc_update(&w->qp, in, n, w->obuf);
        w->opos = 0;
        break;
    case MAILPROTO_CTE_BASE64:
        if (p->is_text) {
            size_t k = normalize(w, in, n, w->nbuf);
            w->olen = mailproto_b64_enc_update(&w->b64, w->nbuf, k, w->obuf);
        } else {
            w->olen = mailproto_b64_enc_update(&w->b64, in, n, w->obuf);
        }
        w->opos = 0;
        break;
    default: {
        int rc = verify_plain(m, p, in, n);
        if (rc != MAILPROTO_OK)
            return rc;
        if (p->is_text) {
            size_t k = normalize(w, in, n, w->nbuf);
            emit(w, w->nbuf, k);
        } else {
            emit(w, (const char *)in, n);
        }
        break;
    }
    }
    return MAILPROTO_OK;
}

static int step(mailproto_mime *m)
{
    mailproto__writer *w = &m->w;
    switch (w->state) {
    case W_TOP:
        emit(w, m->top.p, m->top.len);
        w->cur = m->root;
        w->state = W_HEAD;
        return MAILPROTO_OK;
    case W_HEAD:
        emit(w, w->cur->head.p, w->cur->head.len);
        w->state = W_OPEN;
        return MAILPROTO_OK;
    case W_OPEN: {
        mailproto_mime_part *p = w->cur;
        if (p->kind == MAILPROTO__MP_MULTI) {
            size_t k = mailproto__fmt(w->line, sizeof w->line, "--%s\r\n", p->boundary);
            emit(w, w->line, k);
            w->cur = p->first;
            w->state = W_HEAD;
            return MAILPROTO_OK;
        }
        int rc = open_body(m, p);
        if (rc != MAILPROTO_OK)
            return rc;
        w->state = W_BODY;
        return MAILPROTO_OK;
    }
    case W_BODY:
        return body_step(m);
    case W_END: {
        mailproto_mime_part *p = w->cur;
        if (p == m->root || !p->parent) {
            w->state = W_DONE;
            return MAILPROTO_OK;
        }
        mailproto_mime_part *parent = p->parent;
        size_t k;
        if (p->next) {
            k = mailproto__fmt(w->line, sizeof w->line, "\r\n--%s\r\n", parent->boundary);
            w->cur = p->next;
            w->state = W_HEAD;
        } else {
            k = mailproto__fmt(w->line, sizeof w->line, "\r\n--%s--%s", parent->boundary,
                               parent == m->root ? "\r\n" : "");
            w->cur = parent;
            w->state = W_END;
        }
        emit(w, w->line, k);
        return MAILPROTO_OK;
    }
    default:
        return MAILPROTO_OK;
    }
}

int mailproto__writer_read(mailproto_mime *m, void *buf, size_t cap, size_t *got)
{
    mailproto__writer *w = &m->w;
    unsigned char *o = buf;
    size_t n = 0;
    *got = 0;
    while (n < cap) {
        if (w->out_len) {
            size_t k = MAILPROTO__MIN(cap - n, w->out_len);
            memcpy(o + n, w->out_p, k);
            w->out_p += k;
            w->out_len -= k;
            n += k;
            continue;
        }
        if (w->opos < w->olen) {
            size_t k = MAILPROTO__MIN(cap - n, w->olen - w->opos);
            memcpy(o + n, w->obuf + w->opos, k);
            w->opos += k;
            n += k;
            continue;
        }
        if (w->state == W_DONE)
            break;
        int rc = step(m);
        if (rc == MAILPROTO_AGAIN) {
            if (n)
                break;
            return MAILPROTO_AGAIN;
        }
        if (rc != MAILPROTO_OK)
            return rc;
    }
    *got = n;
    return MAILPROTO_OK;
}
