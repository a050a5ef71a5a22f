/*
 * libmailproto: MIME message builder and reader.
 *
 * Builder: a tree of parts (text, HTML, attachments from memory, a file or a
 * mailproto_source, multipart/alternative|mixed|related, message/rfc822),
 * read out through a mailproto_source in constant memory whatever the
 * attachment sizes (usable as the SMTP body or the IMAP APPEND literal).
 * Policy (DESIGN.md section 20): CRLF only; text parts have LF and lone CR
 * turned into CRLF, other parts are byte-exact; 7-bit output unless 8bit,
 * binary or UTF-8 headers are asked for; CR, LF or NUL in any header name,
 * value, parameter, filename or address is MAILPROTO_E_INVALID; headers
 * folded at 78 columns, never over 998; RFC 2047 words <= 75 octets; a
 * multipart without children is an error; boundaries random (130 bits).
 *
 * Reader: parses a message from memory or fed in pieces into a part tree
 * with offsets, decodes headers (RFC 2047/2231, charsets to UTF-8) and
 * part contents (base64, quoted-printable, charsets).  It is total: any
 * input gives a result or a clear error, in bounded time and memory,
 * without recursion.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_MIME_H
#define MAILPROTO_MIME_H

#include <mailproto/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#if MAILPROTO_HAS_MIME

/* ================================================================== */
/* Builder                                                             */
/* ================================================================== */

typedef struct mailproto_mime mailproto_mime;
typedef struct mailproto_mime_part mailproto_mime_part;

/* Options for mailproto_mime_set_options (bit mask; 0 is the default). */
#define MAILPROTO_MIME_8BIT 0x01          /* 8bit text parts allowed (needs 8BITMIME) */
#define MAILPROTO_MIME_BINARY 0x02        /* binary parts allowed (needs BINARYMIME); implies 8BIT */
#define MAILPROTO_MIME_UTF8_HEADERS 0x04  /* RFC 6532 UTF-8 headers and domains (needs SMTPUTF8) */
#define MAILPROTO_MIME_NAME_RFC2047 0x08  /* also an RFC 2047 name= on Content-Type (Outlook) */
#define MAILPROTO_MIME_NO_DATE 0x10       /* do not add a Date header */
#define MAILPROTO_MIME_NO_MESSAGE_ID 0x20 /* do not add a Message-ID header */

/* Content-Transfer-Encodings (mailproto_mime_part_set_encoding). */
#define MAILPROTO_CTE_AUTO 0   /* chosen by scanning the content */
#define MAILPROTO_CTE_7BIT 1
#define MAILPROTO_CTE_8BIT 2
#define MAILPROTO_CTE_BINARY 3
#define MAILPROTO_CTE_QP 4
#define MAILPROTO_CTE_BASE64 5

/* What the built message needs from the SMTP server (mailproto_mime_needs). */
#define MAILPROTO_MIME_NEEDS_8BITMIME 0x01
#define MAILPROTO_MIME_NEEDS_BINARYMIME 0x02
#define MAILPROTO_MIME_NEEDS_SMTPUTF8 0x04

/* Wall clock: seconds since 1970-01-01 UTC; *tz_minutes gets the local
 * offset from UTC in minutes (e.g. 60 for +0100). */
typedef int64_t (*mailproto_wallclock_fn)(void *ctx, int *tz_minutes);

/* Random bytes: fill buf with n bytes; return MAILPROTO_OK or an error. */
typedef int (*mailproto_random_fn)(void *ctx, void *buf, size_t n);

/* Create an empty message.  mem: allocator (NULL: malloc).  Everything the
 * message holds is allocated while it is built; reading it out allocates
 * nothing.  Returns MAILPROTO_OK, MAILPROTO_E_INVALID or MAILPROTO_E_NOMEM. */
MAILPROTO_API int mailproto_mime_new(mailproto_mime **out, const mailproto_mem *mem);

/* Free the message, its parts and copies.  Sources given by the caller are
 * not freed.  NULL is allowed. */
MAILPROTO_API void mailproto_mime_free(mailproto_mime *m);

/* Set MAILPROTO_MIME_* option bits.  Returns MAILPROTO_OK or _E_INVALID. */
MAILPROTO_API int mailproto_mime_set_options(mailproto_mime *m, unsigned flags);

/* Inject the wall clock (Date header), the random source (boundaries,
 * Message-ID) and the host name (right side of the Message-ID; by default
 * the domain of From, else "localhost").  fn NULL restores the default
 * (the OS clock and random source, where the build has them).  The host
 * name must be a dot-atom.  Each returns MAILPROTO_OK or _E_INVALID. */
MAILPROTO_API int mailproto_mime_set_clock(mailproto_mime *m, mailproto_wallclock_fn fn, void *ctx);
MAILPROTO_API int mailproto_mime_set_random(mailproto_mime *m, mailproto_random_fn fn, void *ctx);
MAILPROTO_API int mailproto_mime_set_hostname(mailproto_mime *m, const char *host);

/* Set a message header, replacing an earlier one of that name.  The value
 * is UTF-8.  From, To, Cc, Bcc, Reply-To, Sender and
 * Disposition-Notification-To take address lists ("Name <a@b>, c@d,
 * Group: e@f;"), which are parsed and written back quoted or encoded as
 * needed (Bcc is kept for mailproto_mime_rcpt but never written); Subject
 * and unknown headers are text (RFC 2047 when not ASCII); Date,
 * Message-ID, In-Reply-To and References must be ASCII.  MIME-Version and
 * Content-* belong to the builder.  value NULL removes the header.
 * Returns MAILPROTO_OK, MAILPROTO_E_INVALID (CR, LF or NUL anywhere, a bad
 * name, a bad address, not UTF-8, a reserved header), MAILPROTO_E_UNSUPPORTED
 * (a non-ASCII domain without libidn2, or a non-ASCII local part without
 * MAILPROTO_MIME_UTF8_HEADERS), MAILPROTO_E_LIMIT (a Message-ID, In-Reply-To
 * or References word that cannot be folded within 998 octets) or
 * MAILPROTO_E_NOMEM.  mailproto_mime_last_error() says which. */
MAILPROTO_API int mailproto_mime_set_header(mailproto_mime *m, const char *name, const char *value);

/* Like mailproto_mime_set_header, but adds one more header of that name
 * (for address headers: adds the addresses to the list). */
MAILPROTO_API int mailproto_mime_add_header(mailproto_mime *m, const char *name, const char *value);

/* mailproto_mime_set_header(m, "Subject", utf8). */
MAILPROTO_API int mailproto_mime_set_subject(mailproto_mime *m, const char *utf8);

/* Add one address to an address header: display_name (UTF-8, may be NULL)
 * and address ("user@example.org", IDN allowed).  Returns as
 * mailproto_mime_set_header. */
MAILPROTO_API int mailproto_mime_add_address(mailproto_mime *m, const char *header,
                                             const char *display_name, const char *address);

/* Target charset for text parts created afterwards (default "UTF-8"; text
 * that is all ASCII is labelled US-ASCII).  A character the charset cannot
 * represent makes the later mailproto_mime_text call fail with
 * MAILPROTO_E_INVALID.  Returns MAILPROTO_OK, or MAILPROTO_E_UNSUPPORTED for
 * a charset this build cannot convert to. */
MAILPROTO_API int mailproto_mime_set_text_charset(mailproto_mime *m, const char *charset);

/* ---- parts ----
 * parent names the multipart to append to; NULL puts the part in the
 * message's automatic layout: text/plain and text/html parts form the
 * body (two or more become multipart/alternative), parts with a Content-ID
 * go in a multipart/related with the HTML, any other part is an
 * attachment (multipart/mixed), and a multipart created with parent NULL
 * is a body part.  *out (may be NULL) gets the new part, owned by m. */

/* A text part (type "text/plain", "text/html", ...) from len bytes in
 * charset (NULL: UTF-8), copied and converted to the message's text
 * charset.  Line breaks become CRLF on output. */
MAILPROTO_API int mailproto_mime_text(mailproto_mime *m, mailproto_mime_part *parent,
                                      const char *type, const void *text, size_t len,
                                      const char *charset, mailproto_mime_part **out);

/* A part from len bytes in memory (copied), written byte-exact.  filename
 * (UTF-8, may be NULL) makes it an attachment with that name. */
MAILPROTO_API int mailproto_mime_data(mailproto_mime *m, mailproto_mime_part *parent,
                                      const char *type, const char *filename, const void *data,
                                      size_t len, mailproto_mime_part **out);

/* A part read from a file.  The file is opened here (a missing file is
 * MAILPROTO_E_IO now, not later), kept open until mailproto_mime_free, and
 * read from its start to choose the encoding and again for each pass.
 * filename NULL uses the file's base name.  Returns MAILPROTO_OK,
 * MAILPROTO_E_INVALID, MAILPROTO_E_IO, MAILPROTO_E_NOMEM, or
 * MAILPROTO_E_UNSUPPORTED in builds without file access. */
MAILPROTO_API int mailproto_mime_file(mailproto_mime *m, mailproto_mime_part *parent,
                                      const char *type, const char *filename, const char *path,
                                      mailproto_mime_part **out);

/* A part pulled from src (not copied: it must outlive the message).  The
 * source is read (to choose the encoding) when the message is first laid
 * out; it must not return MAILPROTO_AGAIN then (AGAIN while the message is
 * being read out is passed on).  When src cannot be rewound, the part is read once, so its encoding cannot be
 * chosen by scanning: it is base64 (quoted-printable for text/ types)
 * unless declared with mailproto_mime_part_set_encoding, and
 * mailproto_mime_size works only when src->size is known and the encoding
 * is base64, binary, or 7bit/8bit for a non-text part.  A read-once
 * message/ part is written as 7bit unless declared; a read-once part
 * written as 7bit or 8bit is checked as it goes out, and NUL, an 8-bit
 * byte in 7bit, a line over 998 octets, a bare CR or LF (non-text parts)
 * or a line starting like the enclosing delimiter fails that read with
 * MAILPROTO_E_INVALID.  A type of
 * "message/rfc822" embeds a whole message (e.g. the source of another
 * mailproto_mime). */
MAILPROTO_API int mailproto_mime_source_part(mailproto_mime *m, mailproto_mime_part *parent,
                                             const char *type, const char *filename,
                                             mailproto_source *src, mailproto_mime_part **out);

/* A multipart container; subtype "mixed", "alternative", "related", ... */
MAILPROTO_API int mailproto_mime_multipart(mailproto_mime *m, mailproto_mime_part *parent,
                                           const char *subtype, mailproto_mime_part **out);

/* Shorthands for the automatic layout: a NUL-terminated UTF-8 text part,
 * and an attachment from a source (see mailproto_mime_source_part). */
MAILPROTO_API int mailproto_mime_add_text(mailproto_mime *m, const char *type, const char *text);
MAILPROTO_API int mailproto_mime_add_source(mailproto_mime *m, const char *type,
                                            const char *filename, mailproto_source *src);

/* Part settings.  Content-ID without the angle brackets ("logo@x");
 * disposition "inline" or "attachment"; encoding MAILPROTO_CTE_*;
 * set_header adds a custom part header (Content-Description, ...).  Return
 * MAILPROTO_OK, MAILPROTO_E_INVALID or MAILPROTO_E_NOMEM. */
MAILPROTO_API int mailproto_mime_part_set_cid(mailproto_mime_part *p, const char *cid);
MAILPROTO_API int mailproto_mime_part_set_disposition(mailproto_mime_part *p, const char *disp);
MAILPROTO_API int mailproto_mime_part_set_encoding(mailproto_mime_part *p, int cte);
MAILPROTO_API int mailproto_mime_part_set_header(mailproto_mime_part *p, const char *name,
                                                 const char *value);

/* The charset label of a text part read from a file or a source (its bytes
 * are written as they are, not converted).  Without one, such a part must
 * be UTF-8 (labelled utf-8, or us-ascii when it is all ASCII), else reading
 * the message fails with MAILPROTO_E_INVALID.  Returns MAILPROTO_OK,
 * MAILPROTO_E_INVALID (not a text part, a bad name) or MAILPROTO_E_NOMEM. */
MAILPROTO_API int mailproto_mime_part_set_charset(mailproto_mime_part *p, const char *charset);

/* ---- reading the message out ---- */

/* The message as a source: each read fills the buffer with the next bytes.
 * The first read lays the tree out, chooses encodings and boundaries, and
 * renders headers (errors show up then, as the read's status).  Rewind
 * starts over with the same Date, Message-ID and boundaries.  The source
 * is owned by m; its size field is set once mailproto_mime_size ran.
 * Returns NULL only for a NULL m. */
MAILPROTO_API mailproto_source *mailproto_mime_source(mailproto_mime *m);

/* The exact size in bytes of the message, measured by running the writer
 * into a counting sink (then rewound).  Returns MAILPROTO_OK, an error from
 * building or from a part's source, or MAILPROTO_E_UNSUPPORTED when a part
 * cannot be read twice and its size cannot be computed. */
MAILPROTO_API int mailproto_mime_size(mailproto_mime *m, uint64_t *size);

/* Write the whole message into sink.  Returns MAILPROTO_OK or an error. */
MAILPROTO_API int mailproto_mime_write(mailproto_mime *m, const mailproto_sink *sink);

/* After a successful read, size or write: MAILPROTO_MIME_NEEDS_* bits. */
MAILPROTO_API unsigned mailproto_mime_needs(const mailproto_mime *m);

/* Envelope recipients (To, Cc and Bcc addresses, in that order) and the
 * sender (the first From address): library-owned strings, NULL past the
 * end. */
MAILPROTO_API const char *mailproto_mime_rcpt(const mailproto_mime *m, size_t i);
MAILPROTO_API const char *mailproto_mime_sender(const mailproto_mime *m);

/* Details of the last error (a sentence naming the header or part). */
MAILPROTO_API const mailproto_reply *mailproto_mime_last_error(const mailproto_mime *m);

/* ================================================================== */
/* Reader                                                              */
/* ================================================================== */

typedef struct mailproto_mime_reader mailproto_mime_reader;

/* Limits (zero fields mean the defaults shown). */
typedef struct mailproto_mime_limits {
    size_t max_depth;        /* nested multiparts followed: 32; deeper ones are leaves */
    size_t max_parts;        /* parts recorded: 10000; later ones are counted, not kept */
    size_t max_header_bytes; /* bytes of one (unfolded) header field kept: 64 KiB; the rest is dropped */
} mailproto_mime_limits;

/* One part of a parsed message.  Library-owned, valid until the reader is
 * freed; strings are UTF-8 and never NULL ("" when absent).  Offsets are
 * byte offsets in the message as fed.  Parts come in document order (a
 * parent before its children).  A message/rfc822 part that is not
 * transfer-encoded has one child: the embedded message, whose parts
 * follow.  One that is base64 or quoted-printable encoded is a leaf: decode
 * it (mailproto_mime_reader_decode with MAILPROTO_MIME_DECODE_RAW) and feed
 * the result to a second reader to see inside it. */
typedef struct mailproto_mime_info {
    const char *type;        /* "text/plain", lower case (the default when absent) */
    const char *charset;     /* lower case, "" for non-text parts without one */
    const char *disposition; /* "inline", "attachment" or "" */
    const char *filename;    /* decoded (RFC 2231, RFC 2047, name= fallback) */
    const char *content_id;  /* without angle brackets */
    const char *encoding;    /* Content-Transfer-Encoding, lower case, "" */
    const char *description;
    uint64_t header_off;     /* first byte of the part's headers */
    uint64_t body_off;       /* first byte of the body */
    uint64_t body_end;       /* one past the last byte (before the CRLF of the delimiter) */
    size_t depth;            /* 0 for the message itself */
    size_t parent;           /* index of the parent, or (size_t)-1 */
    size_t n_children;
    int multipart;           /* 1 for multipart/ types */
    int truncated;           /* 1: ended without its closing delimiter or at the end of input */
} mailproto_mime_info;

/* One address of an address header (groups flattened, group names kept). */
typedef struct mailproto_mime_address {
    const char *name;    /* decoded display name, "" */
    const char *address; /* "user@example.org", "" for an empty group */
    const char *group;   /* the group's display name, "" */
} mailproto_mime_address;

/* Create a reader.  lim may be NULL.  Returns MAILPROTO_OK, _E_INVALID or
 * _E_NOMEM. */
MAILPROTO_API int mailproto_mime_reader_new(mailproto_mime_reader **out, const mailproto_mem *mem,
                                            const mailproto_mime_limits *lim);
/* Free the reader, its part table and every string it handed out.  NULL is
 * allowed. */
MAILPROTO_API void mailproto_mime_reader_free(mailproto_mime_reader *r);

/* Feed the next len bytes of the message (any split; bodies are not kept,
 * only the headers the reader exposes).  Returns MAILPROTO_OK,
 * MAILPROTO_E_STATE after _finish, or MAILPROTO_E_NOMEM. */
MAILPROTO_API int mailproto_mime_reader_feed(mailproto_mime_reader *r, const void *data, size_t len);

/* End of input: parts left open are closed (and marked truncated), and the
 * headers are decoded.  Returns MAILPROTO_OK or MAILPROTO_E_NOMEM. */
MAILPROTO_API int mailproto_mime_reader_finish(mailproto_mime_reader *r);

/* feed(data, len) + finish. */
MAILPROTO_API int mailproto_mime_reader_parse(mailproto_mime_reader *r, const void *data, size_t len);

/* Parts, in the order they start (index 0 is the message).  count is 0
 * before finish; part returns NULL past the end. */
MAILPROTO_API size_t mailproto_mime_reader_count(const mailproto_mime_reader *r);
MAILPROTO_API const mailproto_mime_info *mailproto_mime_reader_part(const mailproto_mime_reader *r,
                                                                   size_t i);

/* A top-level header, decoded to UTF-8 (RFC 2047, whitespace of folding
 * removed): Subject, From, To, Cc, Reply-To, Sender, Date, Message-ID,
 * In-Reply-To, References, Disposition-Notification-To, MIME-Version.
 * Returns "" when absent, and for any other header: the reader keeps only
 * these (bounded memory); callers who need another header read it from the
 * bytes between the part's header_off and body_off. */
MAILPROTO_API const char *mailproto_mime_reader_header(const mailproto_mime_reader *r,
                                                       const char *name);

/* The addresses of an address header (From, To, Cc, Reply-To, Sender,
 * Disposition-Notification-To).  *n gets the count.  Returns MAILPROTO_OK
 * (n 0 when absent) or MAILPROTO_E_INVALID. */
MAILPROTO_API int mailproto_mime_reader_addresses(const mailproto_mime_reader *r, const char *name,
                                                  const mailproto_mime_address **list, size_t *n);

/* The Date header as seconds since the epoch (UTC) and its zone offset in
 * minutes.  Returns MAILPROTO_OK, or MAILPROTO_E_INVALID when absent or not
 * an RFC 5322 date (obsolete forms and zone names accepted). */
MAILPROTO_API int mailproto_mime_reader_date(const mailproto_mime_reader *r, int64_t *when,
                                             int *tz_minutes);

/* Decode a part's body: the raw body bytes (or any split of them, through
 * several calls) go through the part's transfer decoding and, for text
 * parts unless flags has MAILPROTO_MIME_DECODE_RAW, a conversion to UTF-8
 * (bad bytes become U+FFFD).  The result is pushed into sink. */
#define MAILPROTO_MIME_DECODE_RAW 1 /* no charset conversion */

typedef struct mailproto_mime_decoder {
    const mailproto_sink *sink;
    int cte;
    int convert;
    int fail;
    union {
        unsigned char bytes[512];
        void *align_p;
        uint64_t align_u;
    } state; /* private */
} mailproto_mime_decoder;

/* Start decoding part i of r.  Returns MAILPROTO_OK, MAILPROTO_E_INVALID (no
 * such part or a multipart), or MAILPROTO_E_UNSUPPORTED (a text part in a
 * charset this build cannot convert; use MAILPROTO_MIME_DECODE_RAW). */
MAILPROTO_API int mailproto_mime_decoder_init(mailproto_mime_decoder *d, const mailproto_mime_reader *r,
                                              size_t i, int flags, const mailproto_sink *sink);
/* Decode the next raw bytes.  Returns MAILPROTO_OK or the sink's error.
 * Bad base64 is skipped (decoding goes on after it). */
MAILPROTO_API int mailproto_mime_decoder_update(mailproto_mime_decoder *d, const void *raw, size_t n);
/* Flush; returns MAILPROTO_OK or the sink's error. */
MAILPROTO_API int mailproto_mime_decoder_final(mailproto_mime_decoder *d);

/* Decode part i of a message held in memory (msg, len: the bytes fed to
 * the reader) into sink.  Returns as the decoder functions. */
MAILPROTO_API int mailproto_mime_reader_decode(const mailproto_mime_reader *r, size_t i,
                                               const void *msg, size_t len, int flags,
                                               const mailproto_sink *sink);

#endif /* MAILPROTO_HAS_MIME */

#ifdef __cplusplus
}
#endif

#endif /* MAILPROTO_MIME_H */
