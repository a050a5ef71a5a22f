/*
 * Locale-free string helpers and a small formatter (the library uses no
 * stdio, so firmware links no printf).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "internal.h"

int mailproto__parse_u64(const char *p, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9)
            return -1;
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int mailproto__strncasecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int ca = mailproto__lower((unsigned char)a[i]);
        int cb = mailproto__lower((unsigned char)b[i]);
        if (ca != cb)
            return ca - cb;
        if (ca == 0)
            return 0;
    }
    return 0;
}

int mailproto__span_ieq(const char *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    return n == len && mailproto__strncasecmp(p, s, n) == 0;
}

/* ---- formatter ---- */

typedef struct out {
    char *buf;
    size_t cap, len;
} out;

static void put(out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (o->len + 1 < o->cap)
            o->buf[o->len] = s[i];
        o->len++;
    }
}

static void put_u(out *o, unsigned long long v, unsigned base)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    put(o, tmp + i, sizeof tmp - i);
}

static void put_d(out *o, long long v)
{
    if (v < 0) {
        put(o, "-", 1);
        put_u(o, (unsigned long long)(-(v + 1)) + 1u, 10);
    } else {
        put_u(o, (unsigned long long)v, 10);
    }
}

size_t mailproto__vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
    out o = {buf, cap, 0};
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put(&o, f, 1);
            continue;
        }
        f++;
        int prec = -1;
        if (f[0] == '.' && f[1] == '*') {
            prec = va_arg(ap, int);
            f += 2;
        }
        int lng = 0, sz = 0;
        while (*f == 'l') {
            lng++;
            f++;
        }
        if (*f == 'z') {
            sz = 1;
            f++;
        }
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
            put(&o, s, n);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            put(&o, &c, 1);
            break;
        }
        case 'd':
        case 'i':
            if (lng >= 2)
                put_d(&o, va_arg(ap, long long));
            else if (lng == 1)
                put_d(&o, va_arg(ap, long));
            else if (sz)
                put_d(&o, (long long)va_arg(ap, size_t));
            else
                put_d(&o, va_arg(ap, int));
            break;
        case 'u':
        case 'x': {
            unsigned base = *f == 'x' ? 16 : 10;
            if (lng >= 2)
                put_u(&o, va_arg(ap, unsigned long long), base);
            else if (lng == 1)
                put_u(&o, va_arg(ap, unsigned long), base);
            else if (sz)
                put_u(&o, va_arg(ap, size_t), base);
            else
                put_u(&o, va_arg(ap, unsigned), base);
            break;
        }
        case '%':
            put(&o, "%", 1);
            break;
        case '\0':
            f--;
            break;
        default:
            put(&o, "%", 1);
            put(&o, f, 1);
            break;
        }
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len < cap ? o.len : (cap ? cap - 1 : 0);
}

size_t mailproto__fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = mailproto__vfmt(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}
