/*
 * Internal interface of the codecs: streaming charset conversion (used by
 * the MIME builder and reader) and the iconv shim.  Never installed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_CODEC_INTERNAL_H
#define MAILPROTO_CODEC_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include <mailproto/codec.h>

/* Upper-case hex digits for %XX and =XX escapes. */
#define MAILPROTO__HEX_UP "0123456789ABCDEF"

/* An output buffer that keeps counting past its capacity, so a caller
 * learns the size it needs from one dry run. */
typedef struct mailproto__outbuf {
    char *p;
    size_t cap, len;
} mailproto__outbuf;

static inline void mailproto__out_put(mailproto__outbuf *o, const void *s, size_t n)
{
    if (o->len <= o->cap && n <= o->cap - o->len)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

static inline void mailproto__out_putc(mailproto__outbuf *o, char c) { mailproto__out_put(o, &c, 1); }

/* Canonical charset identifiers. */
enum {
    MAILPROTO__CS_UNKNOWN = 0,
    MAILPROTO__CS_UTF8,
    MAILPROTO__CS_ASCII,
    MAILPROTO__CS_LATIN1,
    MAILPROTO__CS_ICONV /* on the allow-list, converted through iconv */
};

/* Look a charset name up.  Returns one of MAILPROTO__CS_*; for ICONV,
 * *iconv_name gets the name to hand to iconv_open.  Names not on the
 * allow-list are UNKNOWN, whatever iconv would accept. */
int mailproto__charset_lookup(const char *name, size_t len, const char **iconv_name);

#define MAILPROTO__CONV_TO_UTF8 0
#define MAILPROTO__CONV_FROM_UTF8 1

typedef struct mailproto__conv {
    int cs;
    int dir;
    int replace;          /* to UTF-8: U+FFFD for bad input instead of an error */
    void *cd;             /* iconv handle */
    unsigned char carry[16];
    size_t ncarry;
} mailproto__conv;

/* Output needed for n input bytes (plus what is carried). */
#define MAILPROTO__CONV_BOUND(n) ((n) * 4 + 64)

int mailproto__conv_open(mailproto__conv *c, const char *charset, size_t len, int dir,
                         int replace);
/* Convert; out must hold MAILPROTO__CONV_BOUND(n).  An incomplete sequence
 * at the end is carried (final != 0: it is invalid).  Returns MAILPROTO_OK,
 * MAILPROTO_E_INVALID (bad or unrepresentable input, when not replacing). */
int mailproto__conv_feed(mailproto__conv *c, const void *in, size_t n, char *out,
                         size_t *out_len, int final);
void mailproto__conv_close(mailproto__conv *c);

/* Length of the UTF-8 sequence starting at p (1..4), or 0 when it is not
 * a well-formed sequence within n bytes. */
size_t mailproto__utf8_seq(const unsigned char *p, size_t n);

/* RFC 2047 encoding with lines of at most line_max (>= 40) characters. */
int mailproto__rfc2047_encode_w(const char *utf8, size_t n, size_t col, size_t line_max,
                                char *out, size_t cap, size_t *out_len);

/* iconv shim (charset_iconv.c); E_UNSUPPORTED without iconv. */
int mailproto__iconv_open(void **cd, const char *to, const char *from);
/* Convert as much as possible.  Returns 0, or -1 EILSEQ (*in_used at the
 * bad byte), -2 EINVAL (incomplete at the end), -3 E2BIG. */
int mailproto__iconv_run(void *cd, const char *in, size_t n, size_t *in_used, char *out,
                         size_t cap, size_t *out_used);
void mailproto__iconv_close(void *cd);

#endif /* MAILPROTO_CODEC_INTERNAL_H */
