/*
 * MIME builder and reader internals.  Never installed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_MIME_INTERNAL_H
#define MAILPROTO_MIME_INTERNAL_H

#include <mailproto/codec.h>
#include <mailproto/mime.h>

#include "../codec/codec_internal.h"
#include "../core/crypto.h"
#include "../core/internal.h"

/* ---- a growable string, allocated while the message is built ---- */
typedef struct mailproto__sb {
    const mailproto_mem *mem;
    char *p;
    size_t len, cap;
    int err; /* sticky: MAILPROTO_E_NOMEM or _E_LIMIT */
} mailproto__sb;

void mailproto__sb_init(mailproto__sb *b, const mailproto_mem *mem);
void mailproto__sb_put(mailproto__sb *b, const void *s, size_t n);
void mailproto__sb_puts(mailproto__sb *b, const char *s);
void mailproto__sb_free(mailproto__sb *b);

/* ---- addresses ---- */
typedef struct mailproto__addr {
    struct mailproto__addr *next;
    char *name;    /* display name, UTF-8 (may be NULL) */
    char *local;   /* local part as written (unquoted) */
    char *domain;  /* domain (UTF-8 or A-labels) */
    char *group;   /* set on the first member (or the empty marker) of a group */
    int group_end; /* last item of a group */
    int empty_group;
} mailproto__addr;

/* Parse a caller's address list into a chain of allocated items.  Returns
 * MAILPROTO_OK, MAILPROTO_E_INVALID or MAILPROTO_E_NOMEM. */
int mailproto__addr_parse(const mailproto_mem *mem, const char *s, size_t n, int decode_words,
                          mailproto__addr **out);
void mailproto__addr_free(const mailproto_mem *mem, mailproto__addr *a);

/* "local@domain" as written in a header or an SMTP path (IDNA unless utf8). */
int mailproto__addr_spec(mailproto__sb *o, const mailproto__addr *a, int utf8);

/* ---- header rendering ---- */
/* Fold and append "Name: value\r\n" for unstructured text (RFC 2047 when
 * not ASCII or when a word cannot be folded, unless utf8 is set). */
int mailproto__hdr_text(mailproto__sb *b, const char *name, const char *value, int utf8);
/* Structured ASCII value folded at whitespace (Message-ID, References). */
int mailproto__hdr_structured(mailproto__sb *b, const char *name, const char *value);
/* Address list header. */
int mailproto__hdr_addrs(mailproto__sb *b, const char *name, const mailproto__addr *list,
                         int utf8, char *err, size_t err_cap);
/* "Content-Type: type" or a similar header with parameters, folded. */
typedef struct mailproto__param {
    const char *name;
    const char *value; /* NULL: skip */
    int rfc2047;       /* write an RFC 2047 quoted value instead (Outlook name=) */
} mailproto__param;
int mailproto__hdr_params(mailproto__sb *b, const char *name, const char *value,
                          const mailproto__param *params, size_t n);

/* RFC 5322 date text for t (UTC seconds) and offset (minutes). */
size_t mailproto__fmt_date(char *out, size_t cap, int64_t t, int tz_minutes);
/* Parse an RFC 5322 (or obsolete) date.  0 on success. */
int mailproto__parse_date(const char *s, size_t n, int64_t *t, int *tz);

/* Validation helpers: 1 when s[0..n) holds no CR, LF or NUL. */
int mailproto__no_crlf(const char *s, size_t n);
/* 1 for a valid header field name (printable ASCII, no colon). */
int mailproto__hdr_name_ok(const char *s);

/* IDNA: UTF-8 domain to A-labels (libidn2) into out. */
int mailproto__idna(const char *domain, char *out, size_t cap);

/* ---- OS glue (mime_os.c): the only file that touches time, randomness
 * and files; stubs return MAILPROTO_E_UNSUPPORTED in builds without an OS.
 * Random bytes come from mailproto__random (core/crypto.h). */
int64_t mailproto__mime_os_time(void *ctx, int *tz_minutes);
/* A file as a rewindable source; *handle is closed by _file_close. */
int mailproto__file_open(const char *path, mailproto_source *src, uint64_t *size);
void mailproto__file_close(mailproto_source *src);
const char *mailproto__basename(const char *path);


/* ---- the builder's objects ---- */
enum { MAILPROTO__MP_TEXT = 1, MAILPROTO__MP_DATA, MAILPROTO__MP_FILE, MAILPROTO__MP_SOURCE,
       MAILPROTO__MP_MULTI };

typedef struct mailproto__hdr {
    struct mailproto__hdr *next;
    char *name;
    char *value;
    mailproto__addr *addrs; /* address headers */
} mailproto__hdr;

struct mailproto_mime_part {
    mailproto_mime *m;
    int kind;
    int implicit;     /* a container made by the automatic layout */
    int is_text;      /* type text/ */
    int is_message;   /* type message/ */
    char *type;       /* lower case "type/subtype" */
    char *charset;    /* text: label written */
    char *filename, *cid, *disp;
    mailproto__hdr *hdrs; /* custom part headers */
    unsigned char *data;  /* TEXT, DATA: owned copy */
    size_t len;
    char *path;             /* FILE */
    mailproto_source *src;  /* SOURCE: the caller's; FILE: &fsrc */
    mailproto_source fsrc;
    int file_open;
    int cte_declared;       /* MAILPROTO_CTE_* or AUTO */
    int cte;                /* chosen */
    int scanned;            /* content was checked */
    int ascii;              /* scan: all ASCII */
    int read_before;        /* the source was read since it was opened */
    char boundary[48];
    mailproto_mime_part *parent, *first, *last, *next;
    mailproto_mime_part *auto_next;
    mailproto_mime_part *all_next;
    mailproto__sb head;     /* rendered Content-* headers and blank line */
};

/* Content scan (mime_write.c): line lengths, bare CR/LF, 8-bit bytes,
 * lines that start like an enclosing delimiter, UTF-8 well-formedness. */
typedef struct mailproto__scan {
    uint64_t len, nonascii;
    int nul, bare, ctrl;
    size_t col, maxline;
    int prev_cr;
    int boundary_like;
    const mailproto_mime_part *part; /* its ancestors' delimiters must not occur */
    unsigned u8need;                /* UTF-8 continuation bytes still expected */
    unsigned char u8lo, u8hi;       /* range of the next continuation byte */
    int not_utf8;
    char head[36];                  /* the first bytes of the current line */
    size_t nhead;
} mailproto__scan;

#define MAILPROTO__IBUF 3072
#define MAILPROTO__NBUF (2 * MAILPROTO__IBUF + 2)
#define MAILPROTO__OBUF 16384

typedef struct mailproto__writer {
    int state;
    mailproto_mime_part *cur;
    const char *out_p;      /* pending bytes owned elsewhere */
    size_t out_len;
    size_t opos, olen;      /* pending bytes in obuf */
    int measure;
    uint64_t computed;      /* measure: bytes counted without reading */
    int last_cr;            /* text normalisation across chunks */
    int eof;
    size_t mem_off;         /* TEXT/DATA read position */
    mailproto_b64_enc b64;
    mailproto_qp_enc qp;
    char line[80];          /* a delimiter line */
    mailproto__scan vscan;             /* checks an unscanned part written as 7bit/8bit */
    unsigned char ibuf[MAILPROTO__IBUF];
    char nbuf[MAILPROTO__NBUF];
    char obuf[MAILPROTO__OBUF];
} mailproto__writer;

struct mailproto_mime {
    const mailproto_mem *mem;
    mailproto_mem mem_copy;
    int has_mem;
    unsigned flags;
    mailproto_wallclock_fn clock;
    void *clock_ctx;
    mailproto_random_fn rnd;
    void *rnd_ctx;
    char *hostname;
    char *text_charset;     /* NULL: UTF-8 */
    mailproto__hdr *hdrs;   /* message headers in order of first setting */
    mailproto_mime_part *auto_first, *auto_last;
    mailproto_mime_part *all_first; /* every part (also implicit), for freeing */
    mailproto_mime_part *root;
    int dirty;              /* changed since the last layout */
    int laid_out;
    char date[64];
    char msgid[400];
    mailproto__sb top;      /* rendered message headers */
    unsigned needs;
    char **rcpt;
    size_t n_rcpt;
    char *sender;
    mailproto_source src;
    uint64_t size;
    int size_known;
    mailproto__err err;
    mailproto__writer w;
};

/* mime_write.c */
int mailproto__mime_layout(mailproto_mime *m);
void mailproto__mime_unlayout(mailproto_mime *m);
void mailproto__writer_reset(mailproto_mime *m);
int mailproto__writer_read(mailproto_mime *m, void *buf, size_t cap, size_t *got);
void mailproto__part_close_file(mailproto_mime_part *p);

#endif /* MAILPROTO_MIME_INTERNAL_H */
