/*
 * The MIME builder's tree: the message handle, its headers and parts.
 * Everything is allocated here, while the message is built; reading it out
 * (mime_write.c) allocates nothing per byte.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "mime_internal.h"

static int set_err(mailproto_mime *m, int rc, const char *what)
{
    if (rc < 0)
        mailproto__err_set(&m->err, rc, "%s", what);
    return rc;
}

int mailproto_mime_new(mailproto_mime **out, const mailproto_mem *mem)
{
    if (!out)
        return MAILPROTO_E_INVALID;
    *out = NULL;
    mailproto_mime *m = mailproto__calloc(mem, 1, sizeof *m);
    if (!m)
        return MAILPROTO_E_NOMEM;
    if (mem) {
        m->mem_copy = *mem;
        m->mem = &m->mem_copy;
    }
    m->dirty = 1;
    mailproto__sb_init(&m->top, m->mem);
    mailproto__err_clear(&m->err);
    *out = m;
    return MAILPROTO_OK;
}

static void hdr_free(const mailproto_mem *mem, mailproto__hdr *h)
{
    while (h) {
        mailproto__hdr *n = h->next;
        mailproto__strfree(mem, h->name);
        mailproto__strfree(mem, h->value);
        mailproto__addr_free(mem, h->addrs);
        mailproto__free(mem, h, sizeof *h);
        h = n;
    }
}

static void part_free(const mailproto_mem *mem, mailproto_mime_part *p)
{
    mailproto__part_close_file(p);
    mailproto__strfree(mem, p->type);
    mailproto__strfree(mem, p->charset);
    mailproto__strfree(mem, p->filename);
    mailproto__strfree(mem, p->cid);
    mailproto__strfree(mem, p->disp);
    mailproto__strfree(mem, p->path);
    hdr_free(mem, p->hdrs);
    if (p->data)
        mailproto__free(mem, p->data, p->len ? p->len : 1);
    mailproto__sb_free(&p->head);
    mailproto__free(mem, p, sizeof *p);
}

void mailproto_mime_free(mailproto_mime *m)
{
    if (!m)
        return;
    const mailproto_mem *mem = m->mem;
    mailproto__mime_unlayout(m);
    mailproto_mime_part *p = m->all_first;
    while (p) {
        mailproto_mime_part *n = p->all_next;
        part_free(mem, p);
        p = n;
    }
    hdr_free(mem, m->hdrs);
    mailproto__strfree(mem, m->hostname);
    mailproto__strfree(mem, m->text_charset);
    mailproto__sb_free(&m->top);
    mailproto__free(mem, m, sizeof *m);
}

int mailproto_mime_set_options(mailproto_mime *m, unsigned flags)
{
    if (!m || (flags & ~0x3Fu))
        return MAILPROTO_E_INVALID;
    if (flags & MAILPROTO_MIME_BINARY)
        flags |= MAILPROTO_MIME_8BIT;
    m->flags = flags;
    m->dirty = 1;
    return MAILPROTO_OK;
}

int mailproto_mime_set_clock(mailproto_mime *m, mailproto_wallclock_fn fn, void *ctx)
{
    if (!m)
        return MAILPROTO_E_INVALID;
    m->clock = fn;
    m->clock_ctx = ctx;
    m->date[0] = '\0';
    m->dirty = 1;
    return MAILPROTO_OK;
}

int mailproto_mime_set_random(mailproto_mime *m, mailproto_random_fn fn, void *ctx)
{
    if (!m)
        return MAILPROTO_E_INVALID;
    m->rnd = fn;
    m->rnd_ctx = ctx;
    m->msgid[0] = '\0';
    m->dirty = 1;
    return MAILPROTO_OK;
}

int mailproto_mime_set_hostname(mailproto_mime *m, const char *host)
{
    if (!m || !host || !*host || strlen(host) > 255)
        return MAILPROTO_E_INVALID;
    for (const char *s = host; *s; s++)
        if (!mailproto__is_alpha((unsigned char)*s) && !mailproto__is_digit((unsigned char)*s) &&
            *s != '-' && *s != '.' && *s != '_')
            return set_err(m, MAILPROTO_E_INVALID, "host name is not a dot-atom");
    char *c;
    if (mailproto__strdup(m->mem, host, &c) != MAILPROTO_OK)
        return MAILPROTO_E_NOMEM;
    mailproto__strfree(m->mem, m->hostname);
    m->hostname = c;
    m->msgid[0] = '\0';
    m->dirty = 1;
    return MAILPROTO_OK;
}

int mailproto_mime_set_text_charset(mailproto_mime *m, const char *charset)
{
    if (!m || !charset)
        return MAILPROTO_E_INVALID;
    if (!mailproto_charset_supported(charset))
        return set_err(m, MAILPROTO_E_UNSUPPORTED, "text charset not supported");
    char *c;
    if (mailproto__strdup(m->mem, charset, &c) != MAILPROTO_OK)
        return MAILPROTO_E_NOMEM;
    for (char *s = c; *s; s++)
        *s = (char)mailproto__lower((unsigned char)*s);
    mailproto__strfree(m->mem, m->text_charset);
    m->text_charset = c;
    return MAILPROTO_OK;
}

/* ---- headers ---- */

enum { HK_TEXT, HK_ADDR, HK_STRUCT, HK_RESERVED };

static int hdr_kind(const char *name)
{
    static const char *const addr[] = {"from",     "to",     "cc", "bcc", "reply-to",
                                       "sender",   "disposition-notification-to",
                                       "resent-from", "resent-to", "resent-cc"};
    static const char *const st[] = {"date", "message-id", "in-reply-to", "references"};
    size_t n = strlen(name);
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(addr); i++)
        if (mailproto__span_ieq(name, n, addr[i]))
            return HK_ADDR;
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(st); i++)
        if (mailproto__span_ieq(name, n, st[i]))
            return HK_STRUCT;
    if (mailproto__span_ieq(name, n, "mime-version") ||
        (n >= 8 && mailproto__strncasecmp(name, "content-", 8) == 0))
        return HK_RESERVED;
    return HK_TEXT;
}

static mailproto__hdr *hdr_find(mailproto__hdr *h, const char *name)
{
    for (; h; h = h->next)
        if (mailproto__span_ieq(h->name, strlen(h->name), name))
            return h;
    return NULL;
}

static void hdr_remove(const mailproto_mem *mem, mailproto__hdr **list, const char *name)
{
    while (*list) {
        mailproto__hdr *h = *list;
        if (mailproto__span_ieq(h->name, strlen(h->name), name)) {
            *list = h->next;
            h->next = NULL;
            hdr_free(mem, h);
        } else {
            list = &h->next;
        }
    }
}

/* Render the addresses once to check they can be written. */
static int addrs_check(mailproto_mime *m, const char *name, const mailproto__addr *a)
{
    mailproto__sb b;
    mailproto__sb_init(&b, m->mem);
    char msg[200];
    msg[0] = '\0';
    int rc = mailproto__hdr_addrs(&b, name, a, (m->flags & MAILPROTO_MIME_UTF8_HEADERS) != 0, msg,
                                  sizeof msg);
    mailproto__sb_free(&b);
    if (rc < 0)
        mailproto__err_set(&m->err, rc, "%s", msg[0] ? msg : "bad address");
    return rc;
}

static int hdr_append(mailproto_mime *m, mailproto__hdr **list, const char *name, const char *value,
                      mailproto__addr *addrs)
{
    mailproto__hdr *h = mailproto__calloc(m->mem, 1, sizeof *h);
    if (!h)
        return MAILPROTO_E_NOMEM;
    if (mailproto__strdup(m->mem, name, &h->name) != MAILPROTO_OK ||
        (value && mailproto__strdup(m->mem, value, &h->value) != MAILPROTO_OK)) {
        hdr_free(m->mem, h);
        return MAILPROTO_E_NOMEM;
    }
    h->addrs = addrs;
    while (*list)
        list = &(*list)->next;
    *list = h;
    return MAILPROTO_OK;
}

static void addrs_append(mailproto__addr **list, mailproto__addr *more)
{
    while (*list)
        list = &(*list)->next;
    *list = more;
}

static int header_common(mailproto_mime *m, const char *name, const char *value, int replace)
{
    if (!m || !name)
        return MAILPROTO_E_INVALID;
    if (!mailproto__hdr_name_ok(name))
        return set_err(m, MAILPROTO_E_INVALID, "bad header name");
    int kind = hdr_kind(name);
    if (kind == HK_RESERVED)
        return set_err(m, MAILPROTO_E_INVALID, "MIME-Version and Content-* are set by the builder");
    m->dirty = 1;
    if (!value) {
        hdr_remove(m->mem, &m->hdrs, name);
        return MAILPROTO_OK;
    }
    size_t n = strlen(value);
    if (!mailproto__no_crlf(value, n))
        return set_err(m, MAILPROTO_E_INVALID, "CR, LF or NUL in a header value");
    if (mailproto_utf8_check(value, n) != MAILPROTO_OK)
        return set_err(m, MAILPROTO_E_INVALID, "header value is not UTF-8");
    if (kind == HK_ADDR) {
        mailproto__addr *a = NULL;
        int rc = mailproto__addr_parse(m->mem, value, n, 0, &a);
        if (rc != MAILPROTO_OK)
            return set_err(m, rc, "bad address list");
        rc = addrs_check(m, name, a);
        if (rc != MAILPROTO_OK) {
            mailproto__addr_free(m->mem, a);
            return rc;
        }
        if (replace)
            hdr_remove(m->mem, &m->hdrs, name);
        mailproto__hdr *h = hdr_find(m->hdrs, name);
        if (h) {
            addrs_append(&h->addrs, a);
            return MAILPROTO_OK;
        }
        rc = hdr_append(m, &m->hdrs, name, NULL, a);
        if (rc != MAILPROTO_OK)
            mailproto__addr_free(m->mem, a);
        return rc;
    }
    if (kind == HK_STRUCT) {
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)value[i] >= 0x80)
                return set_err(m, MAILPROTO_E_INVALID, "Date, Message-ID, In-Reply-To and References are ASCII");
        mailproto__sb b;
        mailproto__sb_init(&b, m->mem);
        int rc = mailproto__hdr_structured(&b, name, value);
        mailproto__sb_free(&b);
        if (rc != MAILPROTO_OK)
            return set_err(m, rc, "header value cannot be folded within 998 octets");
    } else {
        /* check it can be written (e.g. very long words get encoded) */
        mailproto__sb b;
        mailproto__sb_init(&b, m->mem);
        int rc = mailproto__hdr_text(&b, name, value, (m->flags & MAILPROTO_MIME_UTF8_HEADERS) != 0);
        mailproto__sb_free(&b);
        if (rc != MAILPROTO_OK)
            return set_err(m, rc, "header value cannot be written");
    }
    if (replace)
        hdr_remove(m->mem, &m->hdrs, name);
    return hdr_append(m, &m->hdrs, name, value, NULL);
}

int mailproto_mime_set_header(mailproto_mime *m, const char *name, const char *value)
{
    return header_common(m, name, value, 1);
}

int mailproto_mime_add_header(mailproto_mime *m, const char *name, const char *value)
{
    return header_common(m, name, value, 0);
}

int mailproto_mime_set_subject(mailproto_mime *m, const char *utf8)
{
    return header_common(m, "Subject", utf8, 1);
}

int mailproto_mime_add_address(mailproto_mime *m, const char *header, const char *display_name,
                               const char *address)
{
    if (!m || !header || !address)
        return MAILPROTO_E_INVALID;
    if (!mailproto__hdr_name_ok(header) || hdr_kind(header) != HK_ADDR)
        return set_err(m, MAILPROTO_E_INVALID, "not an address header");
    size_t al = strlen(address), nl = display_name ? strlen(display_name) : 0;
    if (!mailproto__no_crlf(address, al) || (display_name && !mailproto__no_crlf(display_name, nl)))
        return set_err(m, MAILPROTO_E_INVALID, "CR, LF or NUL in an address");
    if (mailproto_utf8_check(address, al) != MAILPROTO_OK ||
        (display_name && mailproto_utf8_check(display_name, nl) != MAILPROTO_OK))
        return set_err(m, MAILPROTO_E_INVALID, "address is not UTF-8");
    const char *at = strrchr(address, '@');
    if (!at || at == address || !at[1])
        return set_err(m, MAILPROTO_E_INVALID, "address needs local@domain");
    mailproto__addr *a = mailproto__calloc(m->mem, 1, sizeof *a);
    if (!a)
        return MAILPROTO_E_NOMEM;
    char *local = mailproto__alloc(m->mem, (size_t)(at - address) + 1);
    if (!local) {
        mailproto__free(m->mem, a, sizeof *a);
        return MAILPROTO_E_NOMEM;
    }
    memcpy(local, address, (size_t)(at - address));
    local[at - address] = '\0';
    a->local = local;
    if (mailproto__strdup(m->mem, at + 1, &a->domain) != MAILPROTO_OK ||
        (nl && mailproto__strdup(m->mem, display_name, &a->name) != MAILPROTO_OK)) {
        mailproto__addr_free(m->mem, a);
        return MAILPROTO_E_NOMEM;
    }
    int rc = addrs_check(m, header, a);
    if (rc != MAILPROTO_OK) {
        mailproto__addr_free(m->mem, a);
        return rc;
    }
    m->dirty = 1;
    mailproto__hdr *h = hdr_find(m->hdrs, header);
    if (h) {
        addrs_append(&h->addrs, a);
        return MAILPROTO_OK;
    }
    rc = hdr_append(m, &m->hdrs, header, NULL, a);
    if (rc != MAILPROTO_OK)
        mailproto__addr_free(m->mem, a);
    return rc;
}

/* ---- parts ---- */

static int type_ok(const char *t)
{
    const char *slash = strchr(t, '/');
    if (!slash || slash == t || !slash[1] || strlen(t) > 127)
        return 0;
    for (const char *s = t; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"[]?=", c))
            if (c != '/' || s != slash)
                return 0;
    }
    return strchr(slash + 1, '/') == NULL;
}

static int new_part(mailproto_mime *m, mailproto_mime_part *parent, const char *type, int kind,
                    mailproto_mime_part **out)
{
    if (parent && (parent->kind != MAILPROTO__MP_MULTI || parent->m != m))
        return set_err(m, MAILPROTO_E_INVALID, "parent is not a multipart of this message");
    if (!type || !type_ok(type))
        return set_err(m, MAILPROTO_E_INVALID, "bad content type");
    mailproto_mime_part *p = mailproto__calloc(m->mem, 1, sizeof *p);
    if (!p)
        return MAILPROTO_E_NOMEM;
    p->m = m;
    p->kind = kind;
    mailproto__sb_init(&p->head, m->mem);
    if (mailproto__strdup(m->mem, type, &p->type) != MAILPROTO_OK) {
        part_free(m->mem, p);
        return MAILPROTO_E_NOMEM;
    }
    for (char *s = p->type; *s; s++)
        *s = (char)mailproto__lower((unsigned char)*s);
    p->is_text = strncmp(p->type, "text/", 5) == 0;
    p->is_message = strncmp(p->type, "message/", 8) == 0;
    if ((kind == MAILPROTO__MP_MULTI) != (strncmp(p->type, "multipart/", 10) == 0)) {
        part_free(m->mem, p);
        return set_err(m, MAILPROTO_E_INVALID, "multipart types are for containers only");
    }
    *out = p;
    return MAILPROTO_OK;
}

static void link_part(mailproto_mime *m, mailproto_mime_part *parent, mailproto_mime_part *p)
{
    p->all_next = m->all_first;
    m->all_first = p;
    if (parent) {
        p->parent = parent;
        if (parent->last)
            parent->last->next = p;
        else
            parent->first = p;
        parent->last = p;
    } else {
        if (m->auto_last)
            m->auto_last->auto_next = p;
        else
            m->auto_first = p;
        m->auto_last = p;
    }
    m->dirty = 1;
}

static int set_filename(mailproto_mime *m, mailproto_mime_part *p, const char *filename)
{
    if (!filename)
        return MAILPROTO_OK;
    size_t n = strlen(filename);
    if (!n || !mailproto__no_crlf(filename, n) || mailproto_utf8_check(filename, n) != MAILPROTO_OK)
        return set_err(m, MAILPROTO_E_INVALID, "bad filename (empty, CR, LF, NUL or not UTF-8)");
    return mailproto__strdup(m->mem, filename, &p->filename);
}

int mailproto_mime_text(mailproto_mime *m, mailproto_mime_part *parent, const char *type,
                        const void *text, size_t len, const char *charset,
                        mailproto_mime_part **out)
{
    if (out)
        *out = NULL;
    if (!m || (!text && len))
        return MAILPROTO_E_INVALID;
    mailproto_mime_part *p;
    int rc = new_part(m, parent, type, MAILPROTO__MP_TEXT, &p);
    if (rc != MAILPROTO_OK)
        return rc;
    if (!p->is_text) {
        part_free(m->mem, p);
        return set_err(m, MAILPROTO_E_INVALID, "mailproto_mime_text needs a text/ type");
    }
    /* to UTF-8, then to the target charset */
    const char *target = m->text_charset ? m->text_charset : "utf-8";
    size_t cap = len * 4 + 16, n = 0;
    char *utf8 = mailproto__alloc(m->mem, cap);
    if (!utf8) {
        part_free(m->mem, p);
        return MAILPROTO_E_NOMEM;
    }
    rc = mailproto_charset_to_utf8(charset ? charset : "utf-8", text, len, utf8, cap, &n, 0);
    char *final = NULL;
    size_t fcap = n * 4 + 16, fn = 0;
    if (rc == MAILPROTO_OK) {
        final = mailproto__alloc(m->mem, fcap);
        if (!final)
            rc = MAILPROTO_E_NOMEM;
        else
            rc = mailproto_charset_from_utf8(target, utf8, n, final, fcap, &fn);
    }
    mailproto__free(m->mem, utf8, cap);
    if (rc != MAILPROTO_OK) {
        if (final)
            mailproto__free(m->mem, final, fcap);
        part_free(m->mem, p);
        return set_err(m, rc, rc == MAILPROTO_E_UNSUPPORTED ? "charset not supported"
                                                           : "text not representable in the charset");
    }
    p->data = mailproto__alloc(m->mem, fn ? fn : 1);
    if (!p->data) {
        mailproto__free(m->mem, final, fcap);
        part_free(m->mem, p);
        return MAILPROTO_E_NOMEM;
    }
    memcpy(p->data, final, fn);
    p->len = fn;
    mailproto__free(m->mem, final, fcap);
    int ascii = 1;
    for (size_t i = 0; i < fn; i++)
        if (p->data[i] >= 0x80)
            ascii = 0;
    const char *label = target;
    if (ascii && mailproto__charset_lookup(target, strlen(target), NULL) == MAILPROTO__CS_UTF8)
        label = "us-ascii";
    if (mailproto__strdup(m->mem, label, &p->charset) != MAILPROTO_OK) {
        part_free(m->mem, p);
        return MAILPROTO_E_NOMEM;
    }
    link_part(m, parent, p);
    if (out)
        *out = p;
    return MAILPROTO_OK;
}

int mailproto_mime_data(mailproto_mime *m, mailproto_mime_part *parent, const char *type,
                        const char *filename, const void *data, size_t len,
                        mailproto_mime_part **out)
{
    if (out)
        *out = NULL;
    if (!m || (!data && len))
        return MAILPROTO_E_INVALID;
    mailproto_mime_part *p;
    int rc = new_part(m, parent, type, MAILPROTO__MP_DATA, &p);
    if (rc != MAILPROTO_OK)
        return rc;
    rc = set_filename(m, p, filename);
    if (rc == MAILPROTO_OK) {
        p->data = mailproto__alloc(m->mem, len ? len : 1);
        if (!p->data)
            rc = MAILPROTO_E_NOMEM;
        else if (len)
            memcpy(p->data, data, len);
        p->len = len;
    }
    if (rc != MAILPROTO_OK) {
        part_free(m->mem, p);
        return rc;
    }
    link_part(m, parent, p);
    if (out)
        *out = p;
    return MAILPROTO_OK;
}

int mailproto_mime_file(mailproto_mime *m, mailproto_mime_part *parent, const char *type,
                        const char *filename, const char *path, mailproto_mime_part **out)
{
    if (out)
        *out = NULL;
    if (!m || !path || !*path)
        return MAILPROTO_E_INVALID;
    mailproto_mime_part *p;
    int rc = new_part(m, parent, type, MAILPROTO__MP_FILE, &p);
    if (rc != MAILPROTO_OK)
        return rc;
    rc = set_filename(m, p, filename ? filename : mailproto__basename(path));
    if (rc == MAILPROTO_OK)
        rc = mailproto__strdup(m->mem, path, &p->path);
    if (rc == MAILPROTO_OK) {
        /* open it now: a missing file is the caller's error, found early */
        rc = mailproto__file_open(path, &p->fsrc, NULL);
        if (rc == MAILPROTO_OK) {
            p->file_open = 1;
            p->src = &p->fsrc;
        } else {
            set_err(m, rc, "cannot open the file");
        }
    }
    if (rc != MAILPROTO_OK) {
        part_free(m->mem, p);
        return rc;
    }
    link_part(m, parent, p);
    if (out)
        *out = p;
    return MAILPROTO_OK;
}

int mailproto_mime_source_part(mailproto_mime *m, mailproto_mime_part *parent, const char *type,
                               const char *filename, mailproto_source *src,
                               mailproto_mime_part **out)
{
    if (out)
        *out = NULL;
    if (!m || !src || !src->read)
        return MAILPROTO_E_INVALID;
    if (src == &m->src)
        return set_err(m, MAILPROTO_E_INVALID, "a message cannot contain itself");
    mailproto_mime_part *p;
    int rc = new_part(m, parent, type, MAILPROTO__MP_SOURCE, &p);
    if (rc != MAILPROTO_OK)
        return rc;
    rc = set_filename(m, p, filename);
    if (rc != MAILPROTO_OK) {
        part_free(m->mem, p);
        return rc;
    }
    p->src = src;
    link_part(m, parent, p);
    if (out)
        *out = p;
    return MAILPROTO_OK;
}

int mailproto_mime_multipart(mailproto_mime *m, mailproto_mime_part *parent, const char *subtype,
                             mailproto_mime_part **out)
{
    if (out)
        *out = NULL;
    if (!m || !subtype || strlen(subtype) > 60)
        return MAILPROTO_E_INVALID;
    char type[80];
    mailproto__fmt(type, sizeof type, "multipart/%s", subtype);
    mailproto_mime_part *p;
    int rc = new_part(m, parent, type, MAILPROTO__MP_MULTI, &p);
    if (rc != MAILPROTO_OK)
        return rc;
    link_part(m, parent, p);
    if (out)
        *out = p;
    return MAILPROTO_OK;
}

int mailproto_mime_add_text(mailproto_mime *m, const char *type, const char *text)
{
    if (!m || !text)
        return MAILPROTO_E_INVALID;
    return mailproto_mime_text(m, NULL, type, text, strlen(text), NULL, NULL);
}

int mailproto_mime_add_source(mailproto_mime *m, const char *type, const char *filename,
                              mailproto_source *src)
{
    mailproto_mime_part *p = NULL;
    int rc = mailproto_mime_source_part(m, NULL, type, filename, src, &p);
    if (rc == MAILPROTO_OK && !filename)
        rc = mailproto_mime_part_set_disposition(p, "attachment");
    return rc;
}

int mailproto_mime_part_set_cid(mailproto_mime_part *p, const char *cid)
{
    if (!p || !cid || !*cid || strlen(cid) > 250)
        return MAILPROTO_E_INVALID;
    for (const char *s = cid; *s; s++)
        if (*s <= 32 || *s >= 127 || *s == '<' || *s == '>' || *s == '"' || *s == '\\')
            return set_err(p->m, MAILPROTO_E_INVALID, "bad Content-ID");
    char *c;
    if (mailproto__strdup(p->m->mem, cid, &c) != MAILPROTO_OK)
        return MAILPROTO_E_NOMEM;
    mailproto__strfree(p->m->mem, p->cid);
    p->cid = c;
    p->m->dirty = 1;
    return MAILPROTO_OK;
}

int mailproto_mime_part_set_disposition(mailproto_mime_part *p, const char *disp)
{
    if (!p || !disp)
        return MAILPROTO_E_INVALID;
    if (strcmp(disp, "inline") != 0 && strcmp(disp, "attachment") != 0)
        return set_err(p->m, MAILPROTO_E_INVALID, "disposition is inline or attachment");
    char *c;
    if (mailproto__strdup(p->m->mem, disp, &c) != MAILPROTO_OK)
        return MAILPROTO_E_NOMEM;
    mailproto__strfree(p->m->mem, p->disp);
    p->disp = c;
    p->m->dirty = 1;
    return MAILPROTO_OK;
}

int mailproto_mime_part_set_encoding(mailproto_mime_part *p, int cte)
{
    if (!p || cte < MAILPROTO_CTE_AUTO || cte > MAILPROTO_CTE_BASE64 || p->kind == MAILPROTO__MP_MULTI)
        return MAILPROTO_E_INVALID;
    p->cte_declared = cte;
    p->m->dirty = 1;
    return MAILPROTO_OK;
}

int mailproto_mime_part_set_charset(mailproto_mime_part *p, const char *charset)
{
    if (!p || !charset || !p->is_text || p->kind == MAILPROTO__MP_TEXT || !*charset ||
        strlen(charset) > 40)
        return MAILPROTO_E_INVALID;
    for (const char *s = charset; *s; s++)
        if (!mailproto__is_alpha((unsigned char)*s) && !mailproto__is_digit((unsigned char)*s) &&
            !strchr("-_.:+", *s))
            return set_err(p->m, MAILPROTO_E_INVALID, "bad charset name");
    char *c;
    if (mailproto__strdup(p->m->mem, charset, &c) != MAILPROTO_OK)
        return MAILPROTO_E_NOMEM;
    for (char *s = c; *s; s++)
        *s = (char)mailproto__lower((unsigned char)*s);
    mailproto__strfree(p->m->mem, p->charset);
    p->charset = c;
    p->m->dirty = 1;
    return MAILPROTO_OK;
}

int mailproto_mime_part_set_header(mailproto_mime_part *p, const char *name, const char *value)
{
    if (!p || !name || !value)
        return MAILPROTO_E_INVALID;
    mailproto_mime *m = p->m;
    if (!mailproto__hdr_name_ok(name))
        return set_err(m, MAILPROTO_E_INVALID, "bad header name");
    if (mailproto__span_ieq(name, strlen(name), "content-type") ||
        mailproto__span_ieq(name, strlen(name), "content-transfer-encoding") ||
        mailproto__span_ieq(name, strlen(name), "content-disposition") ||
        mailproto__span_ieq(name, strlen(name), "content-id") ||
        mailproto__span_ieq(name, strlen(name), "mime-version"))
        return set_err(m, MAILPROTO_E_INVALID, "that header is set by the builder");
    mailproto__sb b;
    mailproto__sb_init(&b, m->mem);
    int rc = mailproto__hdr_text(&b, name, value, (m->flags & MAILPROTO_MIME_UTF8_HEADERS) != 0);
    mailproto__sb_free(&b);
    if (rc != MAILPROTO_OK)
        return set_err(m, rc, "bad part header value");
    m->dirty = 1;
    return hdr_append(m, &p->hdrs, name, value, NULL);
}

/* ---- reading out ---- */

static int src_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    mailproto_mime *m = ctx;
    *got = 0;
    if (m->dirty || !m->laid_out) {
        int rc = mailproto__mime_layout(m);
        if (rc != MAILPROTO_OK)
            return rc;
        mailproto__writer_reset(m);
    }
    return mailproto__writer_read(m, buf, cap, got);
}

static int src_rewind(void *ctx)
{
    mailproto_mime *m = ctx;
    if (m->dirty || !m->laid_out) {
        int rc = mailproto__mime_layout(m);
        if (rc != MAILPROTO_OK)
            return rc;
    }
    mailproto__writer_reset(m);
    return MAILPROTO_OK;
}

mailproto_source *mailproto_mime_source(mailproto_mime *m)
{
    if (!m)
        return NULL;
    m->src.read = src_read;
    m->src.rewind = src_rewind;
    m->src.ctx = m;
    m->src.size = m->size_known && !m->dirty ? m->size : MAILPROTO_SIZE_UNKNOWN;
    return &m->src;
}

int mailproto_mime_size(mailproto_mime *m, uint64_t *size)
{
    if (!m || !size)
        return MAILPROTO_E_INVALID;
    int rc = mailproto__mime_layout(m);
    if (rc != MAILPROTO_OK)
        return rc;
    mailproto__writer_reset(m);
    m->w.measure = 1;
    uint64_t total = 0;
    unsigned char scratch[4096]; /* counting sink: nothing is kept */
    for (;;) {
        size_t got = 0;
        rc = mailproto__writer_read(m, scratch, sizeof scratch, &got);
        if (rc != MAILPROTO_OK || got == 0)
            break;
        total += got;
    }
    total += m->w.computed;
    mailproto__writer_reset(m);
    if (rc != MAILPROTO_OK)
        return rc;
    *size = total;
    m->size = total;
    m->size_known = 1;
    m->src.size = total;
    return MAILPROTO_OK;
}

int mailproto_mime_write(mailproto_mime *m, const mailproto_sink *sink)
{
    if (!m || !sink || !sink->write)
        return MAILPROTO_E_INVALID;
    mailproto_source *s = mailproto_mime_source(m);
    int rc = src_rewind(m);
    char buf[4096];
    while (rc == MAILPROTO_OK) {
        size_t got = 0;
        rc = src_read(s->ctx, buf, sizeof buf, &got);
        if (rc != MAILPROTO_OK || got == 0)
            break;
        rc = sink->write(sink->ctx, buf, got);
        if (rc > 0)
            rc = MAILPROTO_E_CALLBACK;
    }
    return rc;
}

unsigned mailproto_mime_needs(const mailproto_mime *m) { return m ? m->needs : 0; }

const char *mailproto_mime_rcpt(const mailproto_mime *m, size_t i)
{
    if (!m || i >= m->n_rcpt)
        return NULL;
    return m->rcpt[i];
}

const char *mailproto_mime_sender(const mailproto_mime *m) { return m ? m->sender : NULL; }

const mailproto_reply *mailproto_mime_last_error(const mailproto_mime *m)
{
    return m ? &m->err.pub : mailproto__reply_empty();
}
