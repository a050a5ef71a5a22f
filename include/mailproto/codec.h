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

/* Flush the carried bytes with '=' padding (out needs 6 bytes: 4 plus a
 * possible CRLF is not added; the caller ends the last line).  Returns the
 * number of characters written. */
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

#ifdef __cplusplus
}
#endif

#endif /* MAILPROTO_CODEC_H */
