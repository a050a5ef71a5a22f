/*
 * IMAP command encoder: typed arguments into a caller buffer, split into
 * fragments at synchronizing literals; unique tags; IMAP dates.
 *
 * Every string argument is encoded by its bytes: an atom when it is one, a
 * quoted string when printable, a literal otherwise.  CR and LF can only
 * travel inside a literal, NUL is refused, so no argument can end the
 * command line early (research/security.md, row 28).  {n+} is used only
 * with LITERAL+ or (LITERAL- and n <= 4096) (row 29).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "imap_int.h"

#define CMD_LINE_MAX 8192
#define QUOTED_MAX 1024

/* ---- tags ---- */

void mailproto_imap_tagger_init(mailproto_imap_tagger *t, const unsigned char random4[4])
{
    if (!t)
        return;
    for (int i = 0; i < 4; i++)
        t->prefix[i] = (char)('A' + (random4 ? random4[i] % 26 : 0));
    t->prefix[4] = '\0';
    t->counter = 0;
}

int mailproto_imap_tagger_next(mailproto_imap_tagger *t, char *out, size_t cap)
{
    if (!t || !out || cap < 25)
        return MAILPROTO_E_INVALID;
    if (t->counter == UINT64_MAX)
        return MAILPROTO_E_LIMIT;
    t->counter++;
    mailproto__fmt(out, cap, "%s%llu", t->prefix, (unsigned long long)t->counter);
    return MAILPROTO_OK;
}

/* ---- character classes ---- */

static int atom_char(unsigned char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return 0;
    switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
        return 0;
    default:
        return 1;
    }
}

static int is_atom(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!atom_char((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Strict UTF-8 check (no overlongs, surrogates or > U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned min, cp;
        if ((c & 0xe0) == 0xc0) {
            k = 1; cp = c & 0x1f; min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2; cp = c & 0x0f; min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* ---- output ---- */

static int fail(mailproto_imap_cmd *c, int rc)
{
    if (!c->err)
        c->err = rc;
    return c->err;
}

static int put(mailproto_imap_cmd *c, const void *p, size_t n)
{
    if (c->err)
        return c->err;
    if (n > c->cap - c->len)
        return fail(c, MAILPROTO_E_LIMIT);
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    return MAILPROTO_OK;
}

static int line_check(mailproto_imap_cmd *c)
{
    if (c->len - c->line_start > c->max_line)
        return fail(c, MAILPROTO_E_LIMIT);
    return c->err;
}

static int sep(mailproto_imap_cmd *c)
{
    if (c->err)
        return c->err;
    if (c->need_sp)
        return put(c, " ", 1);
    return MAILPROTO_OK;
}

/* Close the current fragment at the current length. */
static int frag_cut(mailproto_imap_cmd *c, uint64_t ext_len, int next_waits)
{
    if (c->err)
        return c->err;
    if (c->nfrags + 1 >= MAILPROTO_IMAP_CMD_MAX_FRAGS)
        return fail(c, MAILPROTO_E_LIMIT);
    unsigned i = c->nfrags;
    c->frags[i].len = c->len - c->frags[i].off;
    c->frags[i].ext_len = ext_len;
    c->nfrags++;
    c->frags[c->nfrags].off = c->len;
    c->frags[c->nfrags].len = 0;
    c->frags[c->nfrags].ext_len = 0;
    c->frags[c->nfrags].wait = next_waits;
    return MAILPROTO_OK;
}

static int put_num(mailproto_imap_cmd *c, uint64_t n)
{
    char tmp[24];
    size_t k = mailproto__fmt(tmp, sizeof tmp, "%llu", (unsigned long long)n);
    return put(c, tmp, k);
}

/* Literal header "{n}" or "{n+}" and CRLF; then a new line segment. */
static int literal_head(mailproto_imap_cmd *c, uint64_t n, int *sync)
{
    int nonsync = (c->caps & MAILPROTO_IMAP_CMD_LITERALPLUS) ||
                  ((c->caps & MAILPROTO_IMAP_CMD_LITERALMINUS) && n <= 4096);
    put(c, "{", 1);
    put_num(c, n);
    if (nonsync)
        put(c, "+", 1);
    put(c, "}\r\n", 3);
    line_check(c);
    *sync = !nonsync;
    return c->err;
}

int mailproto_imap_cmd_begin(mailproto_imap_cmd *c, char *buf, size_t cap, unsigned caps, const char *tag,
                             const char *name)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    memset(c, 0, sizeof *c);
    c->buf = buf;
    c->cap = buf ? cap : 0;
    c->caps = caps;
    c->max_line = CMD_LINE_MAX;
    if (!buf || !tag || !name || !is_atom(tag, strlen(tag)) || strchr(tag, '+'))
        return fail(c, MAILPROTO_E_INVALID);
    size_t nl = strlen(name);
    if (nl == 0 || name[0] == ' ' || name[nl - 1] == ' ' || strstr(name, "  "))
        return fail(c, MAILPROTO_E_INVALID);
    for (size_t i = 0; i < nl; i++)
        if (name[i] != ' ' && !atom_char((unsigned char)name[i]))
            return fail(c, MAILPROTO_E_INVALID);
    put(c, tag, strlen(tag));
    put(c, " ", 1);
    put(c, name, nl);
    c->need_sp = 1;
    return line_check(c);
}

int mailproto_imap_cmd_atom(mailproto_imap_cmd *c, const char *atom)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (!atom || !is_atom(atom, strlen(atom)))
        return fail(c, MAILPROTO_E_INVALID);
    sep(c);
    put(c, atom, strlen(atom));
    c->need_sp = 1;
    return line_check(c);
}

int mailproto_imap_cmd_flag(mailproto_imap_cmd *c, const char *flag)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (!flag)
        return fail(c, MAILPROTO_E_INVALID);
    size_t n = strlen(flag);
    const char *a = flag[0] == '\\' ? flag + 1 : flag;
    if (!is_atom(a, n - (size_t)(a - flag)))
        return fail(c, MAILPROTO_E_INVALID);
    sep(c);
    put(c, flag, n);
    c->need_sp = 1;
    return line_check(c);
}

int mailproto_imap_cmd_raw(mailproto_imap_cmd *c, const char *text)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (!text || !*text)
        return fail(c, MAILPROTO_E_INVALID);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch < 0x20 || ch >= 0x7f)
            return fail(c, MAILPROTO_E_INVALID);
    }
    sep(c);
    put(c, text, n);
    c->need_sp = 1;
    return line_check(c);
}

static int enc_literal(mailproto_imap_cmd *c, const void *s, size_t len)
{
    int sync;
    sep(c);
    literal_head(c, len, &sync);
    frag_cut(c, 0, sync);
    c->line_start = c->len;
    put(c, s, len);
    c->line_start = c->len;
    c->need_sp = 1;
    return c->err;
}

/* how: 0 astring, 1 string, 2 literal */
static int enc_string(mailproto_imap_cmd *c, const void *sv, size_t len, int how)
{
    const char *s = sv;
    if (!c)
        return MAILPROTO_E_INVALID;
    if (!s && len)
        return fail(c, MAILPROTO_E_INVALID);
    if (len && memchr(s, 0, len))
        return fail(c, MAILPROTO_E_INVALID);
    if (c->err)
        return c->err;
    if (how == 2)
        return enc_literal(c, s, len);
    if (how == 0 && is_atom(s, len) && !mailproto__span_ieq(s, len, "NIL")) {
        sep(c);
        put(c, s, len);
        c->need_sp = 1;
        return line_check(c);
    }
    int quotable = len <= QUOTED_MAX;
    int eight = 0;
    for (size_t i = 0; i < len && quotable; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\r' || ch == '\n')
            quotable = 0;
        else if (ch >= 0x80)
            eight = 1;
    }
    if (eight && !((c->caps & MAILPROTO_IMAP_CMD_UTF8) && utf8_valid((const unsigned char *)s, len)))
        quotable = 0;
    if (!quotable)
        return enc_literal(c, s, len);
    sep(c);
    put(c, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            put(c, "\\", 1);
        put(c, s + i, 1);
    }
    put(c, "\"", 1);
    c->need_sp = 1;
    return line_check(c);
}

int mailproto_imap_cmd_astring(mailproto_imap_cmd *c, const void *s, size_t len)
{
    return enc_string(c, s, len, 0);
}

int mailproto_imap_cmd_string(mailproto_imap_cmd *c, const void *s, size_t len)
{
    return enc_string(c, s, len, 1);
}

int mailproto_imap_cmd_literal(mailproto_imap_cmd *c, const void *s, size_t len)
{
    return enc_string(c, s, len, 2);
}

int mailproto_imap_cmd_literal_ext(mailproto_imap_cmd *c, uint64_t size)
{
    int sync;
    if (!c)
        return MAILPROTO_E_INVALID;
    sep(c);
    literal_head(c, size, &sync);
    frag_cut(c, 0, sync);
    /* the caller's bytes come right after this (empty) fragment */
    frag_cut(c, size, 0);
    c->line_start = c->len;
    c->need_sp = 1;
    return c->err;
}

int mailproto_imap_cmd_mailbox(mailproto_imap_cmd *c, const char *utf8, size_t len)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (!utf8 || !utf8_valid((const unsigned char *)utf8, len) || (len && memchr(utf8, 0, len)))
        return fail(c, MAILPROTO_E_INVALID);
    if (mailproto__span_ieq(utf8, len, "INBOX"))
        return enc_string(c, "INBOX", 5, 0);
    if (c->caps & MAILPROTO_IMAP_CMD_UTF8)
        return enc_string(c, utf8, len, 0);
    char tmp[1024];
    size_t n;
    int rc = mailproto_imap_mutf7_encode(utf8, len, tmp, sizeof tmp, &n);
    if (rc)
        return fail(c, rc);
    return enc_string(c, tmp, n, 0);
}

int mailproto_imap_cmd_number(mailproto_imap_cmd *c, uint64_t n)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    sep(c);
    put_num(c, n);
    c->need_sp = 1;
    return line_check(c);
}

/* heapsort by (first, last) with 0 ("*") sorting last; no recursion */
static int rless(const mailproto_imap_range *a, const mailproto_imap_range *b)
{
    uint64_t af = a->first ? a->first : (uint64_t)UINT32_MAX + 1, bf = b->first ? b->first : (uint64_t)UINT32_MAX + 1;
    uint64_t al = a->last ? a->last : (uint64_t)UINT32_MAX + 1, bl = b->last ? b->last : (uint64_t)UINT32_MAX + 1;
    return af < bf || (af == bf && al < bl);
}

static void sift(mailproto_imap_range *r, size_t i, size_t n)
{
    for (;;) {
        size_t m = i, l = 2 * i + 1, k = l + 1;
        if (l < n && rless(&r[m], &r[l]))
            m = l;
        if (k < n && rless(&r[m], &r[k]))
            m = k;
        if (m == i)
            return;
        mailproto_imap_range t = r[i];
        r[i] = r[m];
        r[m] = t;
        i = m;
    }
}

int mailproto_imap_cmd_seqset(mailproto_imap_cmd *c, mailproto_imap_range *r, size_t n)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (!r || n == 0)
        return fail(c, MAILPROTO_E_INVALID);
    if (c->err)
        return c->err;
    /* normalise each range to lo <= hi, with "*" as 2^32 */
    for (size_t i = 0; i < n; i++) {
        uint64_t a = r[i].first ? r[i].first : (uint64_t)UINT32_MAX + 1;
        uint64_t b = r[i].last ? r[i].last : (uint64_t)UINT32_MAX + 1;
        if (a > b) {
            uint32_t t = r[i].first;
            r[i].first = r[i].last;
            r[i].last = t;
        }
    }
    for (size_t i = n / 2; i-- > 0;)
        sift(r, i, n);
    for (size_t i = n; i-- > 1;) {
        mailproto_imap_range t = r[0];
        r[0] = r[i];
        r[i] = t;
        sift(r, 0, i);
    }
    sep(c);
    size_t i = 0;
    int first = 1;
    while (i < n) {
        uint64_t lo = r[i].first ? r[i].first : (uint64_t)UINT32_MAX + 1;
        uint64_t hi = r[i].last ? r[i].last : (uint64_t)UINT32_MAX + 1;
        size_t j = i + 1;
        while (j < n) {
            uint64_t a = r[j].first ? r[j].first : (uint64_t)UINT32_MAX + 1;
            uint64_t b = r[j].last ? r[j].last : (uint64_t)UINT32_MAX + 1;
            if (a > hi + 1)
                break;
            if (b > hi)
                hi = b;
            j++;
        }
        if (!first)
            put(c, ",", 1);
        first = 0;
        if (lo > UINT32_MAX)
            put(c, "*", 1);
        else
            put_num(c, lo);
        if (hi != lo) {
            put(c, ":", 1);
            if (hi > UINT32_MAX)
                put(c, "*", 1);
            else
                put_num(c, hi);
        }
        if (line_check(c))
            return c->err;
        i = j;
    }
    c->need_sp = 1;
    return c->err;
}

int mailproto_imap_cmd_open(mailproto_imap_cmd *c)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    sep(c);
    put(c, "(", 1);
    c->depth++;
    c->need_sp = 0;
    return line_check(c);
}

int mailproto_imap_cmd_close(mailproto_imap_cmd *c)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (c->depth == 0)
        return fail(c, MAILPROTO_E_INVALID);
    c->depth--;
    put(c, ")", 1);
    c->need_sp = 1;
    return line_check(c);
}

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int mdays(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d[m - 1] + (m == 2 && leap);
}

static char *dig(char *o, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + width;
}

int mailproto_imap_cmd_date(mailproto_imap_cmd *c, int year, int month, int day)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > mdays(year, month))
        return fail(c, MAILPROTO_E_INVALID);
    char tmp[16], *o = tmp;
    o = dig(o, (unsigned)day, day < 10 ? 1 : 2);
    *o++ = '-';
    memcpy(o, months[month - 1], 3);
    o += 3;
    *o++ = '-';
    o = dig(o, (unsigned)year, 4);
    sep(c);
    put(c, tmp, (size_t)(o - tmp));
    c->need_sp = 1;
    return line_check(c);
}

/* days since 1970-01-01 <-> civil date (Howard Hinnant's algorithms) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int mailproto_imap_cmd_datetime(mailproto_imap_cmd *c, int64_t utc, int tz_minutes)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (tz_minutes <= -24 * 60 || tz_minutes >= 24 * 60 || utc < -62135596800LL || utc > 253402300799LL)
        return fail(c, MAILPROTO_E_INVALID);
    int64_t local = utc + (int64_t)tz_minutes * 60;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t secs = local - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 1 || y > 9999)
        return fail(c, MAILPROTO_E_INVALID);
    int tz = tz_minutes < 0 ? -tz_minutes : tz_minutes;
    char tmp[40], *o = tmp;
    *o++ = '"';
    o = dig(o, (unsigned)d, 2);
    *o++ = '-';
    memcpy(o, months[m - 1], 3);
    o += 3;
    *o++ = '-';
    o = dig(o, (unsigned)y, 4);
    *o++ = ' ';
    o = dig(o, (unsigned)(secs / 3600), 2);
    *o++ = ':';
    o = dig(o, (unsigned)(secs / 60 % 60), 2);
    *o++ = ':';
    o = dig(o, (unsigned)(secs % 60), 2);
    *o++ = ' ';
    *o++ = tz_minutes < 0 ? '-' : '+';
    o = dig(o, (unsigned)(tz / 60), 2);
    o = dig(o, (unsigned)(tz % 60), 2);
    *o++ = '"';
    sep(c);
    put(c, tmp, (size_t)(o - tmp));
    c->need_sp = 1;
    return line_check(c);
}

int mailproto_imap_parse_datetime(const char *s, size_t len, int64_t *utc, int *tz_minutes)
{
    if (!s || !utc || !tz_minutes)
        return MAILPROTO_E_INVALID;
    /* "dd-Mon-yyyy hh:mm:ss +zzzz" with day " d" or "d" allowed */
    char b[32];
    if (len > 27 || len < 25)
        return MAILPROTO_E_INVALID;
    memcpy(b, s, len);
    b[len] = '\0';
    size_t i = 0;
    if (b[0] == ' ')
        i = 1;
    uint64_t day, yr, hh, mi, ss, tz;
    const char *dash = memchr(b + i, '-', len - i);
    if (!dash || mailproto__parse_u64(b + i, (size_t)(dash - (b + i)), 31, &day) || dash - (b + i) > 2)
        return MAILPROTO_E_INVALID;
    i = (size_t)(dash - b) + 1;
    if (len - i != 23)
        return MAILPROTO_E_INVALID;
    int mon = 0;
    for (int k = 0; k < 12; k++)
        if (mailproto__strncasecmp(b + i, months[k], 3) == 0)
            mon = k + 1;
    if (!mon || b[i + 3] != '-' || b[i + 8] != ' ' || b[i + 11] != ':' || b[i + 14] != ':' || b[i + 17] != ' ' ||
        (b[i + 18] != '+' && b[i + 18] != '-'))
        return MAILPROTO_E_INVALID;
    if (mailproto__parse_u64(b + i + 4, 4, 9999, &yr) || mailproto__parse_u64(b + i + 9, 2, 23, &hh) ||
        mailproto__parse_u64(b + i + 12, 2, 59, &mi) || mailproto__parse_u64(b + i + 15, 2, 60, &ss) ||
        mailproto__parse_u64(b + i + 19, 4, 9999, &tz))
        return MAILPROTO_E_INVALID;
    if (yr < 1 || day < 1 || (int)day > mdays((int)yr, mon) || tz % 100 >= 60)
        return MAILPROTO_E_INVALID;
    int off = (int)(tz / 100 * 60 + tz % 100);
    if (b[i + 18] == '-')
        off = -off;
    int64_t t = days_from_civil((int64_t)yr, mon, (int)day) * 86400 + (int64_t)(hh * 3600 + mi * 60 + ss);
    *utc = t - (int64_t)off * 60;
    *tz_minutes = off;
    return MAILPROTO_OK;
}

int mailproto_imap_cmd_search(mailproto_imap_cmd *c, int uid, int utf8_charset)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (uid)
        mailproto_imap_cmd_atom(c, "UID");
    mailproto_imap_cmd_atom(c, "SEARCH");
    if (utf8_charset) {
        mailproto_imap_cmd_atom(c, "CHARSET");
        mailproto_imap_cmd_atom(c, "UTF-8");
    }
    return c->err;
}

static int key_atom(mailproto_imap_cmd *c, const char *key)
{
    if (!key || !is_atom(key, strlen(key)))
        return fail(c, MAILPROTO_E_INVALID);
    return mailproto_imap_cmd_atom(c, key);
}

static int utf8_search_ok(mailproto_imap_cmd *c, const void *s, size_t len)
{
    if (s && len && !utf8_valid(s, len))
        return fail(c, MAILPROTO_E_INVALID);
    return c->err;
}

int mailproto_imap_cmd_key_string(mailproto_imap_cmd *c, const char *key, const void *s, size_t len)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    key_atom(c, key);
    utf8_search_ok(c, s, len);
    return enc_string(c, s, len, 0);
}

int mailproto_imap_cmd_key_header(mailproto_imap_cmd *c, const char *field, const void *s, size_t len)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    mailproto_imap_cmd_atom(c, "HEADER");
    if (!field)
        return fail(c, MAILPROTO_E_INVALID);
    enc_string(c, field, strlen(field), 0);
    utf8_search_ok(c, s, len);
    return enc_string(c, s, len, 0);
}

int mailproto_imap_cmd_key_date(mailproto_imap_cmd *c, const char *key, int year, int month, int day)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    key_atom(c, key);
    return mailproto_imap_cmd_date(c, year, month, day);
}

int mailproto_imap_cmd_key_number(mailproto_imap_cmd *c, const char *key, uint64_t n)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    key_atom(c, key);
    return mailproto_imap_cmd_number(c, n);
}

int mailproto_imap_cmd_end(mailproto_imap_cmd *c)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (c->depth)
        return fail(c, MAILPROTO_E_INVALID);
    put(c, "\r\n", 2);
    line_check(c);
    if (c->err)
        return c->err;
    c->frags[c->nfrags].len = c->len - c->frags[c->nfrags].off;
    c->nfrags++;
    return MAILPROTO_OK;
}

size_t mailproto_imap_cmd_nfrags(const mailproto_imap_cmd *c)
{
    return c && !c->err ? c->nfrags : 0;
}

int mailproto_imap_cmd_frag(const mailproto_imap_cmd *c, size_t i, mailproto_imap_frag *f)
{
    if (!c || !f || c->err || i >= c->nfrags)
        return MAILPROTO_E_INVALID;
    f->ptr = c->buf + c->frags[i].off;
    f->len = c->frags[i].len;
    f->ext_len = c->frags[i].ext_len;
    f->wait_continue = c->frags[i].wait;
    return MAILPROTO_OK;
}
