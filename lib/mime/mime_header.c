/*
 * MIME headers: address lists (parsed from caller text or from a message),
 * folding at 78 columns (never over 998), RFC 2047 for non-ASCII text,
 * RFC 2231 parameters, RFC 5322 dates, IDNA A-labels.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "mime_internal.h"

#if MAILPROTO_HAS_IDN
#include <idn2.h>
#endif

#define FOLD_AT 78u
#define HARD_MAX 998u

/* ---- string builder ---- */

void mailproto__sb_init(mailproto__sb *b, const mailproto_mem *mem)
{
    memset(b, 0, sizeof *b);
    b->mem = mem;
}

void mailproto__sb_put(mailproto__sb *b, const void *s, size_t n)
{
    if (b->err || n == 0)
        return;
    size_t need;
    if (mailproto__add_overflow(b->len, n + 1, &need)) {
        b->err = MAILPROTO_E_LIMIT;
        return;
    }
    if (need > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < need) {
            if (nc > SIZE_MAX / 2) {
                b->err = MAILPROTO_E_LIMIT;
                return;
            }
            nc *= 2;
        }
        char *np = mailproto__realloc(b->mem, b->p, b->cap, nc);
        if (!np) {
            b->err = MAILPROTO_E_NOMEM;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void mailproto__sb_puts(mailproto__sb *b, const char *s) { mailproto__sb_put(b, s, strlen(s)); }

void mailproto__sb_free(mailproto__sb *b)
{
    if (b->p)
        mailproto__free(b->mem, b->p, b->cap);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- validation ---- */

int mailproto__no_crlf(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 0;
    return 1;
}

int mailproto__hdr_name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 76)
        return 0;
    for (; *s; s++)
        if (*s < 33 || *s > 126 || *s == ':')
            return 0;
    return 1;
}

static int is_atext(int c)
{
    return mailproto__is_alpha(c) || mailproto__is_digit(c) ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_ws(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int all_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* ---- address parsing ---- */

static size_t skip_cfws(const char *s, size_t i, size_t n)
{
    for (;;) {
        while (i < n && is_ws((unsigned char)s[i]))
            i++;
        if (i < n && s[i] == '(') {
            size_t depth = 0;
            while (i < n) {
                if (s[i] == '\\' && i + 1 < n) {
                    i += 2;
                    continue;
                }
                if (s[i] == '(')
                    depth++;
                else if (s[i] == ')' && --depth == 0) {
                    i++;
                    break;
                }
                i++;
            }
            continue;
        }
        return i;
    }
}

/* Copy s[a..e) with quotes removed, escapes resolved, comments dropped
 * and runs of whitespace collapsed to one space. */
static char *phrase_dup(const mailproto_mem *mem, const char *s, size_t a, size_t e, int decode)
{
    char *out = mailproto__alloc(mem, (e - a) * 3 + 8);
    if (!out)
        return NULL;
    size_t o = 0, i = a;
    int sp = 0;
    char *tmp = mailproto__alloc(mem, e - a + 1);
    if (!tmp) {
        mailproto__free(mem, out, (e - a) * 3 + 8);
        return NULL;
    }
    size_t t = 0;
    while (i < e) {
        char c = s[i];
        if (c == '"') {
            i++;
            while (i < e && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < e)
                    i++;
                if (sp && t) {
                    tmp[t++] = ' ';
                }
                sp = 0;
                tmp[t++] = s[i++];
            }
            i++;
            continue;
        }
        if (c == '(') {
            size_t j = skip_cfws(s, i, e);
            i = j > i ? j : i + 1;
            sp = 1;
            continue;
        }
        if (is_ws((unsigned char)c)) {
            sp = 1;
            i++;
            continue;
        }
        if (sp && t)
            tmp[t++] = ' ';
        sp = 0;
        tmp[t++] = c;
        i++;
    }
    if (decode) {
        size_t got = 0;
        (void)mailproto_rfc2047_decode(tmp, t, out, (e - a) * 3 + 8, &got);
        o = got;
    } else {
        memcpy(out, tmp, t);
        o = t;
    }
    out[o] = '\0';
    mailproto__free(mem, tmp, e - a + 1);
    /* give back the unused tail only through a copy: keep it simple */
    char *fin = NULL;
    if (mailproto__strdup(mem, out, &fin) != MAILPROTO_OK)
        fin = NULL;
    mailproto__free(mem, out, (e - a) * 3 + 8);
    return fin;
}

/* Strip comments and whitespace from an addr-spec s[a..e) into a copy. */
static char *spec_dup(const mailproto_mem *mem, const char *s, size_t a, size_t e)
{
    char *out = mailproto__alloc(mem, e - a + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = a; i < e;) {
        if (s[i] == '"') {
            size_t j = i + 1;
            while (j < e && s[j] != '"') {
                if (s[j] == '\\' && j + 1 < e)
                    j++;
                j++;
            }
            if (j < e)
                j++;
            memcpy(out + o, s + i, j - i);
            o += j - i;
            i = j;
        } else if (s[i] == '(') {
            size_t j = skip_cfws(s, i, e);
            i = j > i ? j : i + 1;
        } else if (is_ws((unsigned char)s[i])) {
            i++;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = '\0';
    char *fin = NULL;
    if (mailproto__strdup(mem, out, &fin) != MAILPROTO_OK)
        fin = NULL;
    mailproto__free(mem, out, e - a + 1);
    return fin;
}

void mailproto__addr_free(const mailproto_mem *mem, mailproto__addr *a)
{
    while (a) {
        mailproto__addr *next = a->next;
        mailproto__strfree(mem, a->name);
        mailproto__strfree(mem, a->local);
        mailproto__strfree(mem, a->domain);
        mailproto__strfree(mem, a->group);
        mailproto__free(mem, a, sizeof *a);
        a = next;
    }
}

static int split_spec(const mailproto_mem *mem, mailproto__addr *it, char *spec)
{
    /* the last '@' outside quotes separates local and domain */
    size_t at = SIZE_MAX;
    int inq = 0;
    for (size_t i = 0; spec[i]; i++) {
        if (spec[i] == '"')
            inq = !inq;
        else if (spec[i] == '\\' && inq && spec[i + 1])
            i++;
        else if (spec[i] == '@' && !inq)
            at = i;
    }
    int rc = MAILPROTO_OK;
    if (at == SIZE_MAX) {
        rc = mailproto__strdup(mem, spec, &it->local);
        if (rc == MAILPROTO_OK)
            rc = mailproto__strdup(mem, "", &it->domain);
    } else {
        spec[at] = '\0';
        rc = mailproto__strdup(mem, spec, &it->local);
        if (rc == MAILPROTO_OK)
            rc = mailproto__strdup(mem, spec + at + 1, &it->domain);
        spec[at] = '@';
    }
    return rc;
}

int mailproto__addr_parse(const mailproto_mem *mem, const char *s, size_t n, int decode,
                          mailproto__addr **out)
{
    mailproto__addr *head = NULL, **tail = &head, *last = NULL;
    char *group = NULL;
    int in_group = 0, group_fresh = 0;
    size_t i = 0, count = 0;
    int rc = MAILPROTO_OK;
    *out = NULL;
    while (rc == MAILPROTO_OK) {
        i = skip_cfws(s, i, n);
        if (i >= n)
            break;
        if (s[i] == ',') {
            i++;
            continue;
        }
        if (s[i] == ';') {
            if (in_group) {
                if (group_fresh) {
                    /* an empty group */
                    mailproto__addr *it = mailproto__calloc(mem, 1, sizeof *it);
                    if (!it) {
                        rc = MAILPROTO_E_NOMEM;
                        break;
                    }
                    it->group = group;
                    group = NULL;
                    it->empty_group = 1;
                    it->group_end = 1;
                    *tail = it;
                    tail = &it->next;
                    last = it;
                } else if (last) {
                    last->group_end = 1;
                }
                in_group = 0;
            }
            mailproto__strfree(mem, group);
            group = NULL;
            i++;
            continue;
        }
        if (++count > 10000) {
            rc = decode ? MAILPROTO_OK : MAILPROTO_E_LIMIT;
            break;
        }
        size_t a = i;
        int inq = 0;
        while (i < n) {
            char c = s[i];
            if (inq) {
                if (c == '\\' && i + 1 < n)
                    i++;
                else if (c == '"')
                    inq = 0;
                i++;
                continue;
            }
            if (c == '"') {
                inq = 1;
                i++;
                continue;
            }
            if (c == '(') {
                size_t j = skip_cfws(s, i, n);
                i = j > i ? j : i + 1;
                continue;
            }
            if (c == '<' || c == ',' || c == ';' || c == ':')
                break;
            i++;
        }
        size_t e = i;
        if (i < n && s[i] == ':' && !in_group) {
            group = phrase_dup(mem, s, a, e, decode);
            if (!group) {
                rc = MAILPROTO_E_NOMEM;
                break;
            }
            in_group = 1;
            group_fresh = 1;
            i++;
            continue;
        }
        mailproto__addr *it = mailproto__calloc(mem, 1, sizeof *it);
        if (!it) {
            rc = MAILPROTO_E_NOMEM;
            break;
        }
        *tail = it;
        tail = &it->next;
        last = it;
        if (in_group && group_fresh) {
            it->group = group;
            group = NULL;
            group_fresh = 0;
        }
        char *spec;
        if (i < n && s[i] == '<') {
            it->name = phrase_dup(mem, s, a, e, decode);
            size_t b = ++i;
            while (i < n && s[i] != '>')
                i++;
            spec = spec_dup(mem, s, b, i);
            if (i < n)
                i++;
            else if (!decode)
                rc = MAILPROTO_E_INVALID; /* unclosed '<' */
            if (!it->name) {
                mailproto__strfree(mem, spec);
                rc = MAILPROTO_E_NOMEM;
                break;
            }
        } else {
            spec = spec_dup(mem, s, a, e);
            if (i < n && s[i] == ':')
                i++; /* a second ':' inside a group: skip it */
        }
        if (!spec) {
            rc = MAILPROTO_E_NOMEM;
            break;
        }
        int r2 = split_spec(mem, it, spec);
        mailproto__strfree(mem, spec);
        if (r2 != MAILPROTO_OK)
            rc = r2;
    }
    mailproto__strfree(mem, group);
    if (in_group && last && rc == MAILPROTO_OK)
        last->group_end = 1;
    if (rc != MAILPROTO_OK) {
        mailproto__addr_free(mem, head);
        return rc;
    }
    *out = head;
    return MAILPROTO_OK;
}

/* ---- folding ---- */

static size_t last_line_len(const mailproto__sb *b)
{
    size_t i = b->len;
    while (i > 0 && b->p[i - 1] != '\n')
        i--;
    return b->len - i;
}

/* Append s folded at whitespace; returns 0, or -1 when a word would make a
 * line longer than 998. */
static int fold_words(mailproto__sb *b, const char *s, size_t n)
{
    size_t col = last_line_len(b);
    size_t start_col = col;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        size_t k = j;
        while (k < n && s[k] != ' ' && s[k] != '\t')
            k++;
        size_t seg = k - i;
        if (col + seg > FOLD_AT && col > start_col && j > i && k > j) {
            mailproto__sb_put(b, "\r\n", 2);
            col = 0;
        }
        mailproto__sb_put(b, s + i, seg);
        col += seg;
        if (col > HARD_MAX)
            return -1;
        i = k;
    }
    return 0;
}

static int needs_words(const char *v, size_t n, int utf8)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 32 && c != '\t') || c == 127 || (c >= 0x80 && !utf8))
            return 1;
        if (c == '=' && i + 1 < n && v[i + 1] == '?')
            return 1;
    }
    return 0;
}

static int put_words_w(mailproto__sb *b, const char *v, size_t n, size_t line_max)
{
    size_t need;
    size_t col = last_line_len(b);
    int rc = mailproto__rfc2047_encode_w(v, n, col, line_max, NULL, 0, &need);
    if (rc != MAILPROTO_E_LIMIT && rc != MAILPROTO_OK)
        return rc;
    char *tmp = mailproto__alloc(b->mem, need + 1);
    if (!tmp)
        return MAILPROTO_E_NOMEM;
    rc = mailproto__rfc2047_encode_w(v, n, col, line_max, tmp, need + 1, &need);
    if (rc == MAILPROTO_OK)
        mailproto__sb_put(b, tmp, need);
    mailproto__free(b->mem, tmp, need + 1);
    return rc;
}

static int put_words(mailproto__sb *b, const char *v, size_t n) { return put_words_w(b, v, n, 76); }

int mailproto__hdr_text(mailproto__sb *b, const char *name, const char *value, int utf8)
{
    size_t n = strlen(value);
    if (!mailproto__no_crlf(value, n) || mailproto_utf8_check(value, n) != MAILPROTO_OK)
        return MAILPROTO_E_INVALID;
    size_t mark = b->len;
    mailproto__sb_puts(b, name);
    mailproto__sb_put(b, ": ", 2);
    int rc = MAILPROTO_OK;
    if (needs_words(value, n, utf8)) {
        rc = put_words(b, value, n);
    } else if (fold_words(b, value, n) != 0) {
        b->len = mark;
        mailproto__sb_puts(b, name);
        mailproto__sb_put(b, ": ", 2);
        rc = put_words(b, value, n);
    }
    mailproto__sb_put(b, "\r\n", 2);
    return rc != MAILPROTO_OK ? rc : b->err;
}

int mailproto__hdr_structured(mailproto__sb *b, const char *name, const char *value)
{
    size_t n = strlen(value);
    if (!mailproto__no_crlf(value, n) || !all_ascii(value, n))
        return MAILPROTO_E_INVALID;
    mailproto__sb_puts(b, name);
    mailproto__sb_put(b, ": ", 2);
    if (fold_words(b, value, n) != 0)
        return MAILPROTO_E_LIMIT;
    mailproto__sb_put(b, "\r\n", 2);
    return b->err;
}

/* ---- addresses out ---- */

static int local_ok(const char *s, int utf8, int *quote)
{
    /* dot-atom, or anything printable that we quote */
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return MAILPROTO_E_INVALID;
    *quote = 0;
    if (s[0] == '"')
        return MAILPROTO_E_INVALID; /* pass it unquoted; we quote it */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            if (!utf8)
                return MAILPROTO_E_UNSUPPORTED;
            continue;
        }
        if (c < 32 || c == 127)
            return MAILPROTO_E_INVALID;
        if (!is_atext(c) && c != '.')
            *quote = 1;
    }
    if (s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
        *quote = 1;
    return MAILPROTO_OK;
}

int mailproto__idna(const char *domain, char *out, size_t cap)
{
#if MAILPROTO_HAS_IDN
    char *a = NULL;
    if (idn2_to_ascii_8z(domain, &a, IDN2_NONTRANSITIONAL) != IDN2_OK || !a)
        return MAILPROTO_E_INVALID;
    size_t l = strlen(a);
    int rc = MAILPROTO_OK;
    if (l + 1 > cap)
        rc = MAILPROTO_E_LIMIT;
    else
        memcpy(out, a, l + 1);
    idn2_free(a);
    return rc;
#else
    (void)domain;
    (void)out;
    (void)cap;
    return MAILPROTO_E_UNSUPPORTED;
#endif
}

static int domain_out(const char *d, int utf8, char *out, size_t cap)
{
    size_t n = strlen(d);
    if (n == 0 || n > 255 || d[0] == '.' || d[n - 1] == '.' || strstr(d, ".."))
        return MAILPROTO_E_INVALID;
    if (d[0] == '[') { /* address literal */
        if (d[n - 1] != ']')
            return MAILPROTO_E_INVALID;
    } else {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)d[i];
            if (c < 0x80 && !mailproto__is_alpha(c) && !mailproto__is_digit(c) && c != '-' &&
                c != '.' && c != '_')
                return MAILPROTO_E_INVALID;
        }
    }
    if (all_ascii(d, n) || utf8) {
        if (n + 1 > cap)
            return MAILPROTO_E_LIMIT;
        memcpy(out, d, n + 1);
        return MAILPROTO_OK;
    }
    return mailproto__idna(d, out, cap);
}

static void put_quoted(mailproto__sb *b, const char *s)
{
    mailproto__sb_put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            mailproto__sb_put(b, "\\", 1);
        mailproto__sb_put(b, s, 1);
    }
    mailproto__sb_put(b, "\"", 1);
}

/* The addr-spec as it is written, into out. */
int mailproto__addr_spec(mailproto__sb *o, const mailproto__addr *a, int utf8)
{
    int quote;
    int rc = local_ok(a->local, utf8, &quote);
    if (rc != MAILPROTO_OK)
        return rc;
    char dom[300];
    rc = domain_out(a->domain, utf8, dom, sizeof dom);
    if (rc != MAILPROTO_OK)
        return rc;
    if (quote)
        put_quoted(o, a->local);
    else
        mailproto__sb_puts(o, a->local);
    mailproto__sb_put(o, "@", 1);
    mailproto__sb_puts(o, dom);
    return o->err;
}

/* Display name or group name: as atoms, quoted, or encoded. */
static int phrase_out(mailproto__sb *b, const char *name, int utf8)
{
    size_t n = strlen(name);
    if (!mailproto__no_crlf(name, n) || mailproto_utf8_check(name, n) != MAILPROTO_OK)
        return MAILPROTO_E_INVALID;
    int plain = 1, printable = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 32 || c == 127)
            printable = 0;
        if (!is_atext(c) && c != ' ')
            plain = 0;
    }
    if (name[0] == ' ' || (n && name[n - 1] == ' ') || strstr(name, "  "))
        plain = 0;
    if ((plain || printable) && (all_ascii(name, n) || utf8) && n <= 60 &&
        !(name[0] == '=' && n > 1 && name[1] == '?') && !strstr(name, "=?")) {
        if (plain)
            mailproto__sb_puts(b, name);
        else
            put_quoted(b, name);
        return b->err;
    }
    return put_words(b, name, n);
}

int mailproto__hdr_addrs(mailproto__sb *b, const char *name, const mailproto__addr *list,
                         int utf8, char *err, size_t err_cap)
{
    mailproto__sb_puts(b, name);
    mailproto__sb_put(b, ":", 1);
    int first = 1;
    for (const mailproto__addr *a = list; a; a = a->next) {
        mailproto__sb item;
        mailproto__sb_init(&item, b->mem);
        mailproto__sb_put(&item, " ", 1); /* the separator's space: words fold from column 1 */
        int rc = MAILPROTO_OK;
        if (a->group) {
            /* the group name goes before its first member */
            mailproto__sb g;
            mailproto__sb_init(&g, b->mem);
            rc = phrase_out(&g, a->group, utf8);
            if (rc == MAILPROTO_OK) {
                mailproto__sb_put(&item, g.p, g.len);
                mailproto__sb_put(&item, ":", 1);
            }
            mailproto__sb_free(&g);
        }
        if (rc == MAILPROTO_OK && !a->empty_group) {
            mailproto__sb spec;
            mailproto__sb_init(&spec, b->mem);
            rc = mailproto__addr_spec(&spec, a, utf8);
            if (rc == MAILPROTO_OK) {
                if (a->group)
                    mailproto__sb_put(&item, " ", 1);
                if (a->name && a->name[0]) {
                    rc = phrase_out(&item, a->name, utf8);
                    /* a line holding encoded words stays within 76 */
                    if (item.p && strstr(item.p, "=?") && last_line_len(&item) + spec.len + 4 > 76)
                        mailproto__sb_put(&item, "\r\n <", 4);
                    else
                        mailproto__sb_put(&item, " <", 2);
                    mailproto__sb_put(&item, spec.p, spec.len);
                    mailproto__sb_put(&item, ">", 1);
                } else {
                    mailproto__sb_put(&item, spec.p, spec.len);
                }
            }
            mailproto__sb_free(&spec);
        }
        if (rc == MAILPROTO_OK && a->group_end)
            mailproto__sb_put(&item, ";", 1);
        if (rc == MAILPROTO_OK)
            rc = item.err;
        if (rc != MAILPROTO_OK) {
            if (err)
                mailproto__fmt(err, err_cap, "%s: bad address \"%s@%s\"", name,
                               a->local ? a->local : "", a->domain ? a->domain : "");
            mailproto__sb_free(&item);
            return rc;
        }
        /* place the item: on this line when it fits, else on a new one.
         * Encoded words inside were folded for a start at column 1. */
        size_t col = last_line_len(b);
        int has_fold = memchr(item.p, '\n', item.len) != NULL;
        size_t limit = item.p && strstr(item.p, "=?") ? 75 : FOLD_AT - 1; /* room for ',' */
        if (!first) {
            mailproto__sb_put(b, ",", 1);
            col++;
        }
        if (has_fold || col + item.len > limit)
            mailproto__sb_put(b, "\r\n", 2);
        mailproto__sb_put(b, item.p, item.len);
        mailproto__sb_free(&item);
        first = 0;
    }
    mailproto__sb_put(b, "\r\n", 2);
    return b->err;
}

int mailproto__hdr_params(mailproto__sb *b, const char *name, const char *value,
                          const mailproto__param *params, size_t n)
{
    mailproto__sb_puts(b, name);
    mailproto__sb_put(b, ": ", 2);
    mailproto__sb_puts(b, value);
    size_t col = last_line_len(b);
    for (size_t i = 0; i < n && !b->err; i++) {
        const mailproto__param *p = &params[i];
        if (!p->value)
            continue;
        size_t vl = strlen(p->value);
        if (!mailproto__no_crlf(p->value, vl))
            return MAILPROTO_E_INVALID;
        if (p->rfc2047) {
            /* name="=?UTF-8?...?=" on a line of its own */
            mailproto__sb_put(b, ";\r\n ", 4);
            mailproto__sb_puts(b, p->name);
            mailproto__sb_put(b, "=\"", 2);
            int rc = put_words_w(b, p->value, vl, 74); /* room for '"' and ';' */
            if (rc != MAILPROTO_OK)
                return rc;
            mailproto__sb_put(b, "\"", 1);
            col = last_line_len(b);
            continue;
        }
        size_t need;
        size_t c = col;
        int rc = mailproto_rfc2231_encode(p->name, p->value, vl, &c, NULL, 0, &need);
        if (rc != MAILPROTO_OK && rc != MAILPROTO_E_LIMIT)
            return rc;
        char *tmp = mailproto__alloc(b->mem, need + 1);
        if (!tmp)
            return MAILPROTO_E_NOMEM;
        c = col;
        rc = mailproto_rfc2231_encode(p->name, p->value, vl, &c, tmp, need + 1, &need);
        if (rc == MAILPROTO_OK)
            mailproto__sb_put(b, tmp, need);
        mailproto__free(b->mem, tmp, need + 1);
        if (rc != MAILPROTO_OK)
            return rc;
        col = c;
    }
    mailproto__sb_put(b, "\r\n", 2);
    return b->err;
}

/* ---- dates ---- */

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* days since 1970-01-01 -> civil date (Howard Hinnant's algorithm) */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

size_t mailproto__fmt_date(char *out, size_t cap, int64_t t, int tz)
{
    if (tz < -1439 || tz > 1439)
        tz = 0;
    int64_t lt = t + (int64_t)tz * 60;
    int64_t days = lt >= 0 ? lt / 86400 : -((-lt + 86399) / 86400);
    int64_t secs = lt - days * 86400;
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    int wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    int atz = tz < 0 ? -tz : tz;
    int hh = (int)(secs / 3600), mi = (int)(secs / 60 % 60), ss = (int)(secs % 60);
    char tail[32];
    tail[0] = (char)('0' + hh / 10);
    tail[1] = (char)('0' + hh % 10);
    tail[2] = ':';
    tail[3] = (char)('0' + mi / 10);
    tail[4] = (char)('0' + mi % 10);
    tail[5] = ':';
    tail[6] = (char)('0' + ss / 10);
    tail[7] = (char)('0' + ss % 10);
    tail[8] = ' ';
    tail[9] = tz < 0 ? '-' : '+';
    tail[10] = (char)('0' + atz / 600);
    tail[11] = (char)('0' + atz / 60 % 10);
    tail[12] = (char)('0' + atz % 60 / 10);
    tail[13] = (char)('0' + atz % 10);
    tail[14] = '\0';
    return mailproto__fmt(out, cap, "%s, %u %s %lld %s", wdays[wd], d, months[m - 1], (long long)y,
                          tail);
}

int mailproto__parse_date(const char *s, size_t n, int64_t *t, int *tz)
{
    /* tokens: [wday ,] day month year hh:mm[:ss] zone */
    size_t i = 0;
    int64_t vals[3] = {0, 0, 0};
    int nv = 0, month = -1, have_time = 0, zone = 0, have_zone = 0;
    int hh = 0, mi = 0, ss = 0;
    while (i < n) {
        while (i < n && (is_ws((unsigned char)s[i]) || s[i] == ','))
            i++;
        if (i < n && s[i] == '(') {
            i = skip_cfws(s, i, n);
            continue;
        }
        size_t a = i;
        while (i < n && !is_ws((unsigned char)s[i]) && s[i] != ',' && s[i] != '(')
            i++;
        size_t l = i - a;
        if (!l)
            continue;
        const char *w = s + a;
        if (mailproto__is_digit((unsigned char)w[0]) && memchr(w, ':', l)) {
            /* hh:mm[:ss] */
            int parts[3] = {0, 0, 0}, np = 0;
            size_t k = 0;
            while (k < l && np < 3) {
                size_t b = k;
                while (k < l && mailproto__is_digit((unsigned char)w[k]))
                    k++;
                uint64_t v;
                if (k == b || k - b > 2 || mailproto__parse_u64(w + b, k - b, 99, &v) != 0)
                    return -1;
                parts[np++] = (int)v;
                if (k < l && w[k] == ':')
                    k++;
                else
                    break;
            }
            if (np < 2 || parts[0] > 23 || parts[1] > 59 || parts[2] > 60)
                return -1;
            hh = parts[0];
            mi = parts[1];
            ss = parts[2];
            have_time = 1;
        } else if ((w[0] == '+' || w[0] == '-') && l == 5) {
            uint64_t v;
            if (mailproto__parse_u64(w + 1, 4, 9999, &v) != 0 || v % 100 > 59)
                return -1;
            zone = (int)(v / 100 * 60 + v % 100) * (w[0] == '-' ? -1 : 1);
            have_zone = 1;
        } else if (mailproto__is_digit((unsigned char)w[0])) {
            uint64_t v;
            if (nv >= 2 || mailproto__parse_u64(w, l, 99999, &v) != 0)
                return -1;
            vals[nv++] = (int64_t)v;
        } else if (l >= 3) {
            int found = 0;
            for (int k = 0; k < 12; k++)
                if (mailproto__strncasecmp(w, months[k], 3) == 0 && month < 0 &&
                    (l == 3 || nv > 0)) {
                    month = k;
                    found = 1;
                }
            static const struct {
                const char *z;
                int off;
            } zones[] = {{"UT", 0},         {"UTC", 0},        {"GMT", 0},        {"EST", -300},
                         {"EDT", -240},     {"CST", -360},     {"CDT", -300},     {"MST", -420},
                         {"MDT", -360},     {"PST", -480},     {"PDT", -420}};
            for (size_t k = 0; !found && k < MAILPROTO__ARRAY_LEN(zones); k++)
                if (mailproto__span_ieq(w, l, zones[k].z)) {
                    zone = zones[k].off;
                    have_zone = 1;
                    found = 1;
                }
            (void)found; /* weekday names and unknown words are ignored */
        } else if (l <= 2 && mailproto__is_alpha((unsigned char)w[0])) {
            /* military zones: treated as UTC (RFC 5322 4.3) */
            have_zone = 1;
        }
    }
    (void)have_zone;
    if (nv != 2 || month < 0 || !have_time)
        return -1;
    int64_t day = vals[0], year = vals[1];
    if (year < 50)
        year += 2000;
    else if (year < 1000)
        year += 1900;
    if (day < 1 || day > 31 || year > 9999)
        return -1;
    int64_t days = days_from_civil(year, (unsigned)month + 1, (unsigned)day);
    *t = days * 86400 + hh * 3600 + mi * 60 + ss - (int64_t)zone * 60;
    *tz = zone;
    return 0;
}
