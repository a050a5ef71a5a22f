/*
 * libmailproto: byte codecs shared by every module (base64 here; the MIME
 * issue adds quoted-printable, RFC 2047/2231 and charsets, the IMAP codec
 * modified UTF-7).
 *
 * The streaming coders keep a few bytes of state in a caller-allocated
 * struct (treat its fields as private) and never allocate.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_CODEC_H
#define MAILPROTO_CODEC_H

#include <mailproto/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- base64 (RFC 4648 section 4) ---- */

/* Streaming base64 encoder state. */
typedef struct mailproto_b64_enc {
    unsigned char carry[3];
    unsigned ncarry;
    unsigned col;       /* characters on the current output line */
    unsigned line_len;  /* 0: one line; otherwise CRLF after this many (multiple of 4) */
} mailproto_b64_enc;

/* Start encoding.  line_len 0 gives one unbroken line; 76 gives MIME lines
 * (CRLF after every 76 characters).  A line_len that is not a multiple of
 * 4 is rounded down (minimum 4). */
MAILPROTO_API void mailproto_b64_enc_init(mailproto_b64_enc *e, unsigned line_len);

/* The most output mailproto_b64_enc_update/_final can produce for n input
 * bytes with this encoder (0 on overflow). */
MAILPROTO_API size_t mailproto_b64_enc_bound(const mailproto_b64_enc *e, size_t n);

/* Encode n bytes into out (room for mailproto_b64_enc_bound(e, n) bytes
 * needed).  Returns the number of characters written; up to 2 input bytes
 * are carried to the next call. */
MAILPROTO_API size_t mailproto_b64_enc_update(mailproto_b64_enc *e, const void *in, size_t n,
                                              char *out);

/* Flush the carried bytes with '=' padding.  out needs room for 6 bytes
 * (a CRLF when the current line is full, then 4 characters); no CRLF is
 * added after the last line: the caller ends it.  Returns the number of
 * characters written (0 when nothing was carried). */
MAILPROTO_API size_t mailproto_b64_enc_final(mailproto_b64_enc *e, char *out);

/* Streaming base64 decoder state. */
typedef struct mailproto_b64_dec {
    uint32_t acc;
    unsigned nbits;
    unsigned npad;
    unsigned nquad;     /* characters in the current quantum */
    int error;
} mailproto_b64_dec;

/* Start decoding.  Whitespace (SP, TAB, CR, LF) is skipped; any other
 * character outside the alphabet, or data after '=' padding, is an error. */
MAILPROTO_API void mailproto_b64_dec_init(mailproto_b64_dec *d);

/* Decode n characters into out (room for n / 4 * 3 + 3 bytes needed);
 * *out_len gets the bytes written.  Returns MAILPROTO_OK or
 * MAILPROTO_E_INVALID at the first bad character (sticky). */
MAILPROTO_API int mailproto_b64_dec_update(mailproto_b64_dec *d, const char *in, size_t n,
                                           void *out, size_t *out_len);

/* Check the input ended on a whole quantum (padding optional).  Returns
 * MAILPROTO_OK or MAILPROTO_E_INVALID. */
MAILPROTO_API int mailproto_b64_dec_final(mailproto_b64_dec *d);

/* One-shot encode without line breaks.  *out_len gets the length (always
 * set, even when cap is too small: then MAILPROTO_E_LIMIT).  out is NUL
 * terminated when there is room for it. */
MAILPROTO_API int mailproto_base64_encode(const void *in, size_t n, char *out, size_t cap,
                                          size_t *out_len);

/* One-shot decode (whitespace skipped).  MAILPROTO_OK, MAILPROTO_E_INVALID
 * for bad input, MAILPROTO_E_LIMIT when cap is too small. */
MAILPROTO_API int mailproto_base64_decode(const char *in, size_t n, void *out, size_t cap,
                                          size_t *out_len);


/* ---- quoted-printable (RFC 2045 section 6.7) ---- */

/* Streaming quoted-printable encoder state (fields private). */
typedef struct mailproto_qp_enc {
    unsigned col;       /* characters on the current output line */
    int binary;         /* 1: CR and LF are data (=0D/=0A); 0: text */
    int last_cr;        /* text mode: the previous input byte was CR */
    int pend_ws;        /* a SP or TAB held back until we know what follows */
} mailproto_qp_enc;

/* Start encoding.  Text mode (binary 0) turns CRLF, a bare LF and a lone CR
 * into one CRLF line break; binary mode encodes CR and LF as =0D and =0A so
 * the bytes come back exactly.  Output lines are at most 76 characters
 * (soft breaks "=" CRLF), '=' and every byte outside 33..126 are encoded,
 * whitespace before a line break is encoded, and so is an 'F' or a '.'
 * at the start of a line (after a hard or a soft break), so that "From "
 * lines survive mbox tools and a lone "." survives careless transports. */
MAILPROTO_API void mailproto_qp_enc_init(mailproto_qp_enc *e, int binary);

/* The most output mailproto_qp_enc_update can produce for n input bytes
 * (0 on overflow).  mailproto_qp_enc_final needs at most 8 bytes. */
MAILPROTO_API size_t mailproto_qp_enc_bound(size_t n);

/* Encode n bytes into out (room for mailproto_qp_enc_bound(n)).  Returns
 * the number of characters written; a trailing SP/TAB is held back. */
MAILPROTO_API size_t mailproto_qp_enc_update(mailproto_qp_enc *e, const void *in, size_t n,
                                             char *out);

/* Flush the held-back whitespace (encoded).  The last line gets no line
 * break; the caller ends it.  Returns the number of characters written. */
MAILPROTO_API size_t mailproto_qp_enc_final(mailproto_qp_enc *e, char *out);

/* Streaming quoted-printable decoder state (fields private). */
typedef struct mailproto_qp_dec {
    int state;
    int hi;
    unsigned nws;
    char ws[32];
} mailproto_qp_dec;

/* Start decoding.  The decoder is total: soft breaks ("=" CRLF, "=" LF,
 * with optional whitespace after the "=") are removed, =XX (either case)
 * becomes the byte, trailing whitespace on a line is dropped, and a
 * malformed "=" sequence is kept as it is. */
MAILPROTO_API void mailproto_qp_dec_init(mailproto_qp_dec *d);

/* Decode n characters into out (room for n + 40 bytes); *out_len gets the
 * bytes written.  Returns MAILPROTO_OK, or MAILPROTO_E_INVALID for NULL
 * arguments. */
MAILPROTO_API int mailproto_qp_dec_update(mailproto_qp_dec *d, const char *in, size_t n,
                                          void *out, size_t *out_len);

/* Finish: out needs 40 bytes for a held-back partial sequence. */
MAILPROTO_API int mailproto_qp_dec_final(mailproto_qp_dec *d, void *out, size_t *out_len);

/* ---- charsets ---- */

/* Flag for mailproto_charset_to_utf8 and the RFC 2047 decoder: replace
 * invalid input with U+FFFD instead of failing. */
#define MAILPROTO_CHARSET_REPLACE 1

/* MAILPROTO_OK when p[0..n) is well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF), else MAILPROTO_E_INVALID. */
MAILPROTO_API int mailproto_utf8_check(const void *p, size_t n);

/* 1 when the charset name (any common spelling: "latin1", "ISO_8859-1",
 * "utf8", "cp1252", ...) is one this build converts, else 0.  UTF-8,
 * US-ASCII and ISO-8859-1 are built in; the rest need iconv and must be on
 * the allow-list (ISO-2022-CN-EXT, CVE-2024-2961, is not). */
MAILPROTO_API int mailproto_charset_supported(const char *charset);

/* Convert n bytes in charset to UTF-8 into out[0..cap).  Without
 * MAILPROTO_CHARSET_REPLACE invalid input is MAILPROTO_E_INVALID; with it
 * each bad sequence becomes U+FFFD.  *out_len gets the length needed or
 * written.  Returns MAILPROTO_OK, MAILPROTO_E_UNSUPPORTED (charset not
 * supported), MAILPROTO_E_INVALID, or MAILPROTO_E_LIMIT (cap too small;
 * 3 * n + 8 is always enough). */
MAILPROTO_API int mailproto_charset_to_utf8(const char *charset, const void *in, size_t n,
                                            char *out, size_t cap, size_t *out_len, int flags);

/* Convert UTF-8 text to charset.  A character the charset cannot represent
 * is MAILPROTO_E_INVALID (never a '?').  4 * n + 16 bytes are always
 * enough.  Returns as mailproto_charset_to_utf8. */
MAILPROTO_API int mailproto_charset_from_utf8(const char *charset, const char *in, size_t n,
                                              char *out, size_t cap, size_t *out_len);

/* ---- RFC 2047 encoded-words ---- */

/* Encode UTF-8 text as a run of encoded-words ("=?UTF-8?B?...?=" or
 * "=?UTF-8?Q?...?="), separated by folding (CRLF SP) so that every line
 * holds at most 76 characters, given that the first word starts at column
 * col.  Each word is at most 75 octets and holds whole characters; B or Q
 * is chosen per word, whichever carries more text; no B word but the last
 * ends in '=' padding.  The Q alphabet is the one safe in phrases.
 * *out_len gets the length (needed or written); out is NUL terminated when
 * there is room.  Returns MAILPROTO_OK, MAILPROTO_E_INVALID (not UTF-8, or
 * CR/LF/NUL in the text) or MAILPROTO_E_LIMIT (cap too small). */
MAILPROTO_API int mailproto_rfc2047_encode(const char *utf8, size_t n, size_t col, char *out,
                                           size_t cap, size_t *out_len);

/* Decode a header value holding encoded-words into UTF-8.  Whitespace
 * between adjacent encoded-words is dropped; adjacent words of one charset
 * are joined before conversion (so a character split across words comes
 * back whole); malformed words stay as they are; invalid bytes or unknown
 * charsets give U+FFFD.  Total: never fails on content.  out needs 3 * n + 8
 * bytes at most.  Returns MAILPROTO_OK, MAILPROTO_E_INVALID (NULL
 * arguments) or MAILPROTO_E_LIMIT (cap too small). */
MAILPROTO_API int mailproto_rfc2047_decode(const char *in, size_t n, char *out, size_t cap,
                                           size_t *out_len);

/* ---- RFC 2231 parameters ---- */

/* Write one MIME parameter as it goes after a header value:
 * "; name=value", or ";" CRLF SP "name=value" when it does not fit the
 * 78-column line starting at *col (updated).  A token value is written as
 * is, other ASCII as a quoted-string, and a value that is non-ASCII (UTF-8),
 * holds "=?" (readers would take it for RFC 2047) or is too long for one
 * line as RFC 2231 (name*=UTF-8''%XX.. or continuations
 * name*0*=, name*1*=, ... at character boundaries, one per line).
 * Returns MAILPROTO_OK, MAILPROTO_E_INVALID (CR/LF/NUL, bad UTF-8, bad name)
 * or MAILPROTO_E_LIMIT (cap too small; *out_len gets what is needed). */
MAILPROTO_API int mailproto_rfc2231_encode(const char *name, const char *value, size_t n,
                                           size_t *col, char *out, size_t cap,
                                           size_t *out_len);

/* Find parameter name in a header value such as
 * "attachment; filename*0*=UTF-8''%C3%A9; filename*1=t.txt" and decode it
 * to UTF-8: quoted-strings unescaped, RFC 2231 continuations joined in
 * order and percent-decoded in their charset, RFC 2047 words inside a
 * quoted value decoded.  Returns MAILPROTO_OK, MAILPROTO_E_INVALID (not
 * present), or MAILPROTO_E_LIMIT (cap too small; 3 * n + 8 always enough).
 * Never fails on malformed text: it decodes what it can. */
MAILPROTO_API int mailproto_param_get(const char *hvalue, size_t n, const char *name,
                                      char *out, size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* MAILPROTO_CODEC_H */
