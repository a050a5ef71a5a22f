/*
 * Charsets: UTF-8 validation, US-ASCII and ISO-8859-1 built in, everything
 * else through iconv behind an allow-list (glibc's ISO-2022-CN-EXT
 * converter overflows its output buffer, CVE-2024-2961; it, and any name
 * not listed here, is refused whatever iconv would accept).
 *
 * A character the target cannot represent is an error: no transliteration,
 * no '?'.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <mailproto/codec.h>

#include "../core/internal.h"
#include "codec_internal.h"

typedef struct cs_entry {
    const char *alias; /* lower case, letters and digits only */
    const char *iconv_name;
    int cs;
} cs_entry;

static const cs_entry cs_table[] = {
    {"utf8", "UTF-8", MAILPROTO__CS_UTF8},
    {"usascii", "ASCII", MAILPROTO__CS_ASCII},
    {"ascii", "ASCII", MAILPROTO__CS_ASCII},
    {"ansix341968", "ASCII", MAILPROTO__CS_ASCII},
    {"us", "ASCII", MAILPROTO__CS_ASCII},
    {"iso88591", "ISO-8859-1", MAILPROTO__CS_LATIN1},
    {"iso885911987", "ISO-8859-1", MAILPROTO__CS_LATIN1},
    {"latin1", "ISO-8859-1", MAILPROTO__CS_LATIN1},
    {"l1", "ISO-8859-1", MAILPROTO__CS_LATIN1},
    {"cp819", "ISO-8859-1", MAILPROTO__CS_LATIN1},
    {"ibm819", "ISO-8859-1", MAILPROTO__CS_LATIN1},
    {"iso88592", "ISO-8859-2", MAILPROTO__CS_ICONV},
    {"iso88593", "ISO-8859-3", MAILPROTO__CS_ICONV},
    {"iso88594", "ISO-8859-4", MAILPROTO__CS_ICONV},
    {"iso88595", "ISO-8859-5", MAILPROTO__CS_ICONV},
    {"iso88596", "ISO-8859-6", MAILPROTO__CS_ICONV},
    {"iso88597", "ISO-8859-7", MAILPROTO__CS_ICONV},
    {"iso88598", "ISO-8859-8", MAILPROTO__CS_ICONV},
    {"iso88598i", "ISO-8859-8", MAILPROTO__CS_ICONV},
    {"iso88599", "ISO-8859-9", MAILPROTO__CS_ICONV},
    {"iso885910", "ISO-8859-10", MAILPROTO__CS_ICONV},
    {"iso885911", "ISO-8859-11", MAILPROTO__CS_ICONV},
    {"iso885913", "ISO-8859-13", MAILPROTO__CS_ICONV},
    {"iso885914", "ISO-8859-14", MAILPROTO__CS_ICONV},
    {"iso885915", "ISO-8859-15", MAILPROTO__CS_ICONV},
    {"latin9", "ISO-8859-15", MAILPROTO__CS_ICONV},
    {"iso885916", "ISO-8859-16", MAILPROTO__CS_ICONV},
    {"windows1250", "WINDOWS-1250", MAILPROTO__CS_ICONV},
    {"windows1251", "WINDOWS-1251", MAILPROTO__CS_ICONV},
    {"windows1252", "WINDOWS-1252", MAILPROTO__CS_ICONV},
    {"windows1253", "WINDOWS-1253", MAILPROTO__CS_ICONV},
    {"windows1254", "WINDOWS-1254", MAILPROTO__CS_ICONV},
    {"windows1255", "WINDOWS-1255", MAILPROTO__CS_ICONV},
    {"windows1256", "WINDOWS-1256", MAILPROTO__CS_ICONV},
    {"windows1257", "WINDOWS-1257", MAILPROTO__CS_ICONV},
    {"windows1258", "WINDOWS-1258", MAILPROTO__CS_ICONV},
    {"cp1250", "WINDOWS-1250", MAILPROTO__CS_ICONV},
    {"cp1251", "WINDOWS-1251", MAILPROTO__CS_ICONV},
    {"cp1252", "WINDOWS-1252", MAILPROTO__CS_ICONV},
    {"cp1253", "WINDOWS-1253", MAILPROTO__CS_ICONV},
    {"cp1254", "WINDOWS-1254", MAILPROTO__CS_ICONV},
    {"cp1255", "WINDOWS-1255", MAILPROTO__CS_ICONV},
    {"cp1256", "WINDOWS-1256", MAILPROTO__CS_ICONV},
    {"cp1257", "WINDOWS-1257", MAILPROTO__CS_ICONV},
    {"cp1258", "WINDOWS-1258", MAILPROTO__CS_ICONV},
    {"windows874", "CP874", MAILPROTO__CS_ICONV},
    {"tis620", "TIS-620", MAILPROTO__CS_ICONV},
    {"koi8r", "KOI8-R", MAILPROTO__CS_ICONV},
    {"koi8u", "KOI8-U", MAILPROTO__CS_ICONV},
    {"cp866", "CP866", MAILPROTO__CS_ICONV},
    {"ibm866", "CP866", MAILPROTO__CS_ICONV},
    {"cp437", "CP437", MAILPROTO__CS_ICONV},
    {"cp850", "CP850", MAILPROTO__CS_ICONV},
    {"macintosh", "MACINTOSH", MAILPROTO__CS_ICONV},
    {"macroman", "MACINTOSH", MAILPROTO__CS_ICONV},
    {"gb2312", "GB2312", MAILPROTO__CS_ICONV},
    {"gbk", "GBK", MAILPROTO__CS_ICONV},
    {"cp936", "GBK", MAILPROTO__CS_ICONV},
    {"gb18030", "GB18030", MAILPROTO__CS_ICONV},
    {"big5", "BIG5", MAILPROTO__CS_ICONV},
    {"big5hkscs", "BIG5-HKSCS", MAILPROTO__CS_ICONV},
    {"eucjp", "EUC-JP", MAILPROTO__CS_ICONV},
    {"shiftjis", "SHIFT_JIS", MAILPROTO__CS_ICONV},
    {"sjis", "SHIFT_JIS", MAILPROTO__CS_ICONV},
    {"xsjis", "SHIFT_JIS", MAILPROTO__CS_ICONV},
    {"cp932", "CP932", MAILPROTO__CS_ICONV},
    {"windows31j", "CP932", MAILPROTO__CS_ICONV},
    {"iso2022jp", "ISO-2022-JP", MAILPROTO__CS_ICONV},
    {"euckr", "EUC-KR", MAILPROTO__CS_ICONV},
    {"cp949", "CP949", MAILPROTO__CS_ICONV},
    {"ksc56011987", "CP949", MAILPROTO__CS_ICONV},
    {"iso2022kr", "ISO-2022-KR", MAILPROTO__CS_ICONV},
    {"utf16", "UTF-16", MAILPROTO__CS_ICONV},
    {"utf16le", "UTF-16LE", MAILPROTO__CS_ICONV},
    {"utf16be", "UTF-16BE", MAILPROTO__CS_ICONV},
    {"utf32", "UTF-32", MAILPROTO__CS_ICONV},
    {"utf32le", "UTF-32LE", MAILPROTO__CS_ICONV},
    {"utf32be", "UTF-32BE", MAILPROTO__CS_ICONV},
    {"utf7", "UTF-7", MAILPROTO__CS_ICONV},
    /* deliberately absent: iso2022cn, iso2022cnext (CVE-2024-2961) */
};

int mailproto__charset_lookup(const char *name, size_t len, const char **iconv_name)
{
    char norm[32];
    size_t k = 0;
    if (!name)
        return MAILPROTO__CS_UNKNOWN;
    for (size_t i = 0; i < len; i++) {
        int c = mailproto__lower((unsigned char)name[i]);
        if (mailproto__is_alpha(c) || mailproto__is_digit(c)) {
            if (k == sizeof norm - 1)
                return MAILPROTO__CS_UNKNOWN;
            norm[k++] = (char)c;
        } else if (c != '-' && c != '_' && c != ':' && c != '.' && c != ' ') {
            return MAILPROTO__CS_UNKNOWN;
        }
    }
    norm[k] = '\0';
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(cs_table); i++) {
        if (strcmp(norm, cs_table[i].alias) == 0) {
            if (iconv_name)
                *iconv_name = cs_table[i].iconv_name;
            return cs_table[i].cs;
        }
    }
    return MAILPROTO__CS_UNKNOWN;
}

size_t mailproto__utf8_seq(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* 1 when p[0..n) (n < 4) could be the start of a valid sequence. */
static int utf8_prefix(const unsigned char *p, size_t n)
{
    unsigned char tmp[4] = {0, 0x80, 0x80, 0x80};
    memcpy(tmp, p, n);
    /* complete it with the smallest continuation bytes that fit */
    if (n >= 1) {
        unsigned c = p[0];
        if (c == 0xE0 && n < 2)
            tmp[1] = 0xA0;
        if (c == 0xF0 && n < 2)
            tmp[1] = 0x90;
    }
    return mailproto__utf8_seq(tmp, 4) > n;
}

int mailproto_utf8_check(const void *p, size_t n)
{
    const unsigned char *s = p;
    if (!s && n)
        return MAILPROTO_E_INVALID;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = mailproto__utf8_seq(s + i, n - i);
        if (!l)
            return MAILPROTO_E_INVALID;
        i += l;
    }
    return MAILPROTO_OK;
}

int mailproto_charset_supported(const char *charset)
{
    if (!charset)
        return 0;
    const char *iname = NULL;
    int cs = mailproto__charset_lookup(charset, strlen(charset), &iname);
    if (cs == MAILPROTO__CS_UNKNOWN)
        return 0;
    if (cs != MAILPROTO__CS_ICONV)
        return 1;
    void *cd;
    if (mailproto__iconv_open(&cd, "UTF-8", iname) != MAILPROTO_OK)
        return 0;
    mailproto__iconv_close(cd);
    return 1;
}

int mailproto__conv_open(mailproto__conv *c, const char *charset, size_t len, int dir, int replace)
{
    memset(c, 0, sizeof *c);
    const char *iname = NULL;
    c->cs = mailproto__charset_lookup(charset, len, &iname);
    c->dir = dir;
    c->replace = replace && dir == MAILPROTO__CONV_TO_UTF8;
    if (c->cs == MAILPROTO__CS_UNKNOWN)
        return MAILPROTO_E_UNSUPPORTED;
    if (c->cs == MAILPROTO__CS_ICONV) {
        int rc = dir == MAILPROTO__CONV_TO_UTF8 ? mailproto__iconv_open(&c->cd, "UTF-8", iname)
                                                : mailproto__iconv_open(&c->cd, iname, "UTF-8");
        if (rc != MAILPROTO_OK) {
            c->cs = MAILPROTO__CS_UNKNOWN;
            return MAILPROTO_E_UNSUPPORTED;
        }
    }
    return MAILPROTO_OK;
}

void mailproto__conv_close(mailproto__conv *c)
{
    if (c->cd)
        mailproto__iconv_close(c->cd);
    c->cd = NULL;
}

static char *put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

static uint32_t utf8_cp(const unsigned char *p, size_t l)
{
    if (l == 1)
        return p[0];
    if (l == 2)
        return (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
    if (l == 3)
        return (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
    return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
           (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
}

/* Built-in conversions over a contiguous buffer; *used gets the bytes
 * consumed (less than n when an incomplete sequence ends it). */
static int conv_builtin(mailproto__conv *c, const unsigned char *p, size_t n, char **po,
                        size_t *used, int final)
{
    char *o = *po;
    size_t i = 0;
    int rc = MAILPROTO_OK;
    while (i < n) {
        unsigned b = p[i];
        if (c->dir == MAILPROTO__CONV_TO_UTF8 && c->cs == MAILPROTO__CS_LATIN1) {
            o = put_utf8(o, b);
            i++;
            continue;
        }
        if (b < 0x80) {
            *o++ = (char)b;
            i++;
            continue;
        }
        if (c->dir == MAILPROTO__CONV_TO_UTF8 && c->cs == MAILPROTO__CS_ASCII) {
            if (!c->replace) {
                rc = MAILPROTO_E_INVALID;
                break;
            }
            o = put_utf8(o, 0xFFFD);
            i++;
            continue;
        }
        /* UTF-8 input (to UTF-8 validation, or from UTF-8) */
        size_t l = mailproto__utf8_seq(p + i, n - i);
        if (!l) {
            if (!final && n - i < 4 && utf8_prefix(p + i, n - i))
                break; /* carry the incomplete tail */
            if (!c->replace) {
                rc = MAILPROTO_E_INVALID;
                break;
            }
            o = put_utf8(o, 0xFFFD);
            i++;
            continue;
        }
        if (c->dir == MAILPROTO__CONV_TO_UTF8 || c->cs == MAILPROTO__CS_UTF8) {
            memcpy(o, p + i, l);
            o += l;
        } else if (c->cs == MAILPROTO__CS_LATIN1 && utf8_cp(p + i, l) <= 0xFF) {
            *o++ = (char)utf8_cp(p + i, l);
        } else {
            rc = MAILPROTO_E_INVALID; /* not representable in the target */
            break;
        }
        i += l;
    }
    *po = o;
    *used = i;
    return rc;
}

static int conv_iconv(mailproto__conv *c, const unsigned char *p, size_t n, char **po, size_t cap,
                      size_t *used, int final)
{
    char *o = *po;
    size_t i = 0;
    while (i < n) {
        size_t in_used = 0, out_used = 0;
        int r = mailproto__iconv_run(c->cd, (const char *)p + i, n - i, &in_used, o, cap,
                                     &out_used);
        i += in_used;
        o += out_used;
        cap -= out_used;
        if (r == 0)
            continue;
        if (r == -2 && !final && n - i < sizeof c->carry)
            break;
        if ((r == -1 || r == -2) && c->replace && cap >= 3) {
            o = put_utf8(o, 0xFFFD);
            cap -= 3;
            i++;
            continue;
        }
        *po = o;
        *used = i;
        return MAILPROTO_E_INVALID;
    }
    if (final && i == n) {
        size_t out_used = 0;
        (void)mailproto__iconv_run(c->cd, NULL, 0, NULL, o, cap, &out_used);
        o += out_used;
    }
    *po = o;
    *used = i;
    return MAILPROTO_OK;
}

static int conv_some(mailproto__conv *c, const unsigned char *p, size_t n, char **po, size_t cap,
                     size_t *used, int final)
{
    if (c->cs == MAILPROTO__CS_ICONV)
        return conv_iconv(c, p, n, po, cap, used, final);
    return conv_builtin(c, p, n, po, used, final);
}

int mailproto__conv_feed(mailproto__conv *c, const void *in, size_t n, char *out,
                         size_t *out_len, int final)
{
    const unsigned char *p = in;
    char *o = out;
    size_t cap = MAILPROTO__CONV_BOUND(n);
    size_t used;
    int rc;
    *out_len = 0;
    if (c->cs == MAILPROTO__CS_UNKNOWN)
        return MAILPROTO_E_UNSUPPORTED;
    if (c->ncarry) {
        /* finish the carried sequence with a few bytes of the new input */
        unsigned char tmp[32];
        size_t take = MAILPROTO__MIN(n, sizeof tmp - c->ncarry);
        memcpy(tmp, c->carry, c->ncarry);
        memcpy(tmp + c->ncarry, p, take);
        size_t tn = c->ncarry + take;
        int last = final && take == n;
        rc = conv_some(c, tmp, tn, &o, cap, &used, last);
        if (rc != MAILPROTO_OK) {
            *out_len = (size_t)(o - out);
            return rc;
        }
        if (used < c->ncarry) {
            /* still incomplete: keep it all (n was tiny) */
            memmove(c->carry, tmp + used, tn - used);
            c->ncarry = tn - used;
            *out_len = (size_t)(o - out);
            return MAILPROTO_OK;
        }
        size_t from_in = used - c->ncarry;
        c->ncarry = 0;
        p += from_in;
        n -= from_in;
        cap -= (size_t)(o - out);
    }
    rc = conv_some(c, p, n, &o, cap, &used, final);
    if (rc == MAILPROTO_OK && used < n) {
        if (n - used > sizeof c->carry) {
            rc = MAILPROTO_E_INVALID;
        } else {
            memcpy(c->carry, p + used, n - used);
            c->ncarry = n - used;
        }
    }
    *out_len = (size_t)(o - out);
    return rc;
}

static int convert_all(const char *charset, int dir, const void *in, size_t n, char *out,
                       size_t cap, size_t *out_len, int replace)
{
    if (!out_len)
        return MAILPROTO_E_INVALID;
    *out_len = 0;
    if (!charset || (!in && n) || (!out && cap))
        return MAILPROTO_E_INVALID;
    mailproto__conv c;
    int rc = mailproto__conv_open(&c, charset, strlen(charset), dir, replace);
    if (rc != MAILPROTO_OK)
        return rc;
    /* convert in blocks through a stack buffer so cap is never overrun */
    char tmp[MAILPROTO__CONV_BOUND(256)];
    const unsigned char *p = in;
    size_t total = 0;
    int over = 0;
    do {
        size_t take = MAILPROTO__MIN(n, (size_t)256);
        size_t got;
        rc = mailproto__conv_feed(&c, p, take, tmp, &got, take == n);
        if (rc != MAILPROTO_OK)
            break;
        if (!over && got <= cap - total)
            memcpy(out + total, tmp, got);
        else
            over = 1;
        total += got;
        p += take;
        n -= take;
    } while (n);
    mailproto__conv_close(&c);
    if (rc != MAILPROTO_OK)
        return rc;
    *out_len = total;
    if (over)
        return MAILPROTO_E_LIMIT;
    if (total < cap)
        out[total] = '\0';
    return MAILPROTO_OK;
}

int mailproto_charset_to_utf8(const char *charset, const void *in, size_t n, char *out,
                              size_t cap, size_t *out_len, int flags)
{
    return convert_all(charset, MAILPROTO__CONV_TO_UTF8, in, n, out, cap, out_len,
                       (flags & MAILPROTO_CHARSET_REPLACE) != 0);
}

int mailproto_charset_from_utf8(const char *charset, const char *in, size_t n, char *out,
                                size_t cap, size_t *out_len)
{
    return convert_all(charset, MAILPROTO__CONV_FROM_UTF8, in, n, out, cap, out_len, 0);
}
