/*
 * Modified UTF-7 for IMAP mailbox names (RFC 3501 section 5.1.3), strict.
 *
 * Decoding rejects everything that has a different canonical spelling, so
 * one name has exactly one encoding: "&" not followed by base64 or "-",
 * a missing "-", non-zero pad bits, bits left for a partial UTF-16 unit,
 * printable ASCII inside a shifted run, two shifted runs back to back,
 * unpaired surrogates, U+0000 and raw bytes outside 0x20..0x7e.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "imap_int.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == ',')
        return 63;
    return -1;
}

static void out_byte(char *out, size_t cap, size_t *n, unsigned char b)
{
    if (*n < cap)
        out[*n] = (char)b;
    (*n)++;
}

static void out_utf8(char *out, size_t cap, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out_byte(out, cap, n, (unsigned char)cp);
    } else if (cp < 0x800) {
        out_byte(out, cap, n, (unsigned char)(0xc0 | (cp >> 6)));
        out_byte(out, cap, n, (unsigned char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        out_byte(out, cap, n, (unsigned char)(0xe0 | (cp >> 12)));
        out_byte(out, cap, n, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        out_byte(out, cap, n, (unsigned char)(0x80 | (cp & 0x3f)));
    } else {
        out_byte(out, cap, n, (unsigned char)(0xf0 | (cp >> 18)));
        out_byte(out, cap, n, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
        out_byte(out, cap, n, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        out_byte(out, cap, n, (unsigned char)(0x80 | (cp & 0x3f)));
    }
}

int mailproto_imap_mutf7_decode(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    if ((!in && len) || !out_len || (!out && cap))
        return MAILPROTO_E_INVALID;
    size_t n = 0, i = 0;
    int prev_shift_end = 0; /* the previous bytes closed a shifted run */
    *out_len = 0;
    while (i < len) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c > 0x7e)
            return MAILPROTO_E_INVALID;
        if (c != '&') {
            out_byte(out, cap, &n, c);
            i++;
            prev_shift_end = 0;
            continue;
        }
        i++;
        if (i < len && in[i] == '-') {
            out_byte(out, cap, &n, '&');
            i++;
            prev_shift_end = 0;
            continue;
        }
        if (prev_shift_end)
            return MAILPROTO_E_INVALID; /* "&AOQ-&AOQ-" must be one run */
        uint32_t bits = 0;
        unsigned nbits = 0;
        uint32_t hi = 0; /* pending high surrogate */
        size_t units = 0;
        for (;;) {
            if (i >= len)
                return MAILPROTO_E_INVALID; /* no closing '-' */
            unsigned char d = (unsigned char)in[i++];
            if (d == '-')
                break;
            int v = b64val(d);
            if (v < 0)
                return MAILPROTO_E_INVALID;
            bits = (bits << 6) | (uint32_t)v;
            nbits += 6;
            if (nbits >= 16) {
                nbits -= 16;
                uint32_t u = (bits >> nbits) & 0xffff;
                bits &= (1u << nbits) - 1;
                units++;
                if (hi) {
                    if (u < 0xdc00 || u > 0xdfff)
                        return MAILPROTO_E_INVALID;
                    out_utf8(out, cap, &n, 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00));
                    hi = 0;
                } else if (u >= 0xd800 && u <= 0xdbff) {
                    hi = u;
                } else if (u >= 0xdc00 && u <= 0xdfff) {
                    return MAILPROTO_E_INVALID;
                } else if (u == 0 || (u >= 0x20 && u <= 0x7e)) {
                    return MAILPROTO_E_INVALID; /* NUL, or printable ASCII that must stand for itself */
                } else {
                    out_utf8(out, cap, &n, u);
                }
            }
        }
        if (units == 0 || hi || nbits >= 6 || bits != 0)
            return MAILPROTO_E_INVALID;
        prev_shift_end = 1;
    }
    *out_len = n;
    return n > cap ? MAILPROTO_E_LIMIT : MAILPROTO_OK;
}

static void flush_units(char *out, size_t cap, size_t *n, uint32_t *bits, unsigned *nbits)
{
    while (*nbits >= 6) {
        *nbits -= 6;
        out_byte(out, cap, n, (unsigned char)b64[(*bits >> *nbits) & 0x3f]);
    }
    *bits &= (1u << *nbits) - 1;
}

int mailproto_imap_mutf7_encode(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    if ((!in && len) || !out_len || (!out && cap))
        return MAILPROTO_E_INVALID;
    const unsigned char *s = (const unsigned char *)in;
    size_t n = 0, i = 0;
    int shifted = 0;
    uint32_t bits = 0;
    unsigned nbits = 0;
    *out_len = 0;
    while (i < len) {
        uint32_t cp = s[i];
        size_t k = 1;
        if (cp >= 0x80) {
            unsigned min;
            if ((cp & 0xe0) == 0xc0) {
                k = 2; cp &= 0x1f; min = 0x80;
            } else if ((cp & 0xf0) == 0xe0) {
                k = 3; cp &= 0x0f; min = 0x800;
            } else if ((cp & 0xf8) == 0xf0) {
                k = 4; cp &= 0x07; min = 0x10000;
            } else {
                return MAILPROTO_E_INVALID;
            }
            if (len - i < k)
                return MAILPROTO_E_INVALID;
            for (size_t j = 1; j < k; j++) {
                if ((s[i + j] & 0xc0) != 0x80)
                    return MAILPROTO_E_INVALID;
                cp = (cp << 6) | (s[i + j] & 0x3f);
            }
            if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return MAILPROTO_E_INVALID;
        }
        if (cp == 0)
            return MAILPROTO_E_INVALID;
        i += k;
        if (cp >= 0x20 && cp <= 0x7e) {
            if (shifted) {
                if (nbits)
                    out_byte(out, cap, &n, (unsigned char)b64[(bits << (6 - nbits)) & 0x3f]);
                out_byte(out, cap, &n, '-');
                shifted = 0;
                bits = 0;
                nbits = 0;
            }
            out_byte(out, cap, &n, (unsigned char)cp);
            if (cp == '&')
                out_byte(out, cap, &n, '-');
            continue;
        }
        if (!shifted) {
            out_byte(out, cap, &n, '&');
            shifted = 1;
        }
        uint32_t u[2];
        int nu = 1;
        if (cp >= 0x10000) {
            u[0] = 0xd800 + ((cp - 0x10000) >> 10);
            u[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
            nu = 2;
        } else {
            u[0] = cp;
        }
        for (int j = 0; j < nu; j++) {
            bits = (bits << 16) | u[j];
            nbits += 16;
            flush_units(out, cap, &n, &bits, &nbits);
        }
    }
    if (shifted) {
        if (nbits)
            out_byte(out, cap, &n, (unsigned char)b64[(bits << (6 - nbits)) & 0x3f]);
        out_byte(out, cap, &n, '-');
    }
    *out_len = n;
    return n > cap ? MAILPROTO_E_LIMIT : MAILPROTO_OK;
}

int mailproto_imap_mailbox_decode(const char *in, size_t len, int utf8_accept, char *out, size_t cap,
                                  size_t *out_len)
{
    if (!utf8_accept)
        return mailproto_imap_mutf7_decode(in, len, out, cap, out_len);
    if ((!in && len) || !out_len || (!out && cap))
        return MAILPROTO_E_INVALID;
    *out_len = 0;
    /* validate by encoding into nothing: the encoder checks UTF-8 strictly */
    size_t need;
    int rc = mailproto_imap_mutf7_encode(in, len, NULL, 0, &need);
    if (rc == MAILPROTO_E_INVALID)
        return rc;
    *out_len = len;
    if (len > cap)
        return MAILPROTO_E_LIMIT;
    if (len)
        memcpy(out, in, len);
    return MAILPROTO_OK;
}
