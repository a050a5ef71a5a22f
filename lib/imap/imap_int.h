/*
 * IMAP codec internals shared by imap_lex.c (stage 1) and imap_resp.c
 * (stage 2).  Never installed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_IMAP_INT_H
#define MAILPROTO_IMAP_INT_H

#include <mailproto/imap.h>

#include "../core/internal.h"

/* Token types of stage 1. */
enum {
    T_ATOM = 1,   /* off/len: the atom (may be PARTIAL when longer than the buffer) */
    T_QUOTED,     /* off/len: raw content (escapes still in); PARTIAL when long */
    T_LITERAL,    /* num = size, lit8 */
    T_LPAREN,
    T_RPAREN,
    T_RBRACKET,   /* only in M_CODE */
    T_LBRACKET,   /* only in M_TEXTSTART */
    T_CRLF,
    T_TEXT,       /* M_TEXT / M_CODETEXT: off/len, PARTIAL when long */
    T_RANGE       /* M_SET: num..num2, star bits, more = 1 when ',' follows */
};

/* Lexer modes. */
enum {
    M_NORMAL = 0,
    M_CODE,       /* like NORMAL but ']' ends atoms and is a token */
    M_TEXTSTART,  /* after a status word: optional SP, then '[' or text */
    M_TEXT,       /* rest of the line */
    M_CODETEXT,   /* up to ']' */
    M_SET         /* one sequence-set element */
};

/* peek results */
#define LEX_OK 1
#define LEX_NEED 0
#define LEX_GARBLED (-1)
#define LEX_FATAL (-2)

typedef struct imap_tok {
    int type;
    int mode;
    unsigned partial;
    unsigned lit8;
    unsigned star;      /* bit 0: first is '*', bit 1: second */
    unsigned more;
    unsigned esc;       /* T_QUOTED: holds a backslash escape */
    size_t off;         /* data offset relative to p->start */
    size_t len;         /* data length */
    size_t consumed;    /* bytes to consume from p->start */
    const char *ptr;    /* set by take: the data (valid until the next call) */
    uint64_t num, num2;
} imap_tok;

#define IMAP_NAME_MAX 64
#define IMAP_SECT_MAX 1024

struct mailproto_imap_parser {
    mailproto_mem mem;
    int has_mem;
    /* limits */
    size_t cap;
    uint64_t max_line;
    unsigned max_depth, max_depth_pre;
    uint32_t max_items;
    uint64_t max_string, max_literal;
    int authed;
    /* input */
    char *buf;
    size_t start, end;
    int eof;
    int fatal;
    char errmsg[160];
    /* lexer */
    uint64_t line;          /* non-literal bytes of the current response */
    int qcont;              /* inside a quoted string that was cut */
    int acont;              /* inside an atom that was cut */
    int tcont;              /* inside a text that was cut */
    int have_peek;
    int rs_ok;              /* an incomplete token was scanned up to rs_pos */
    int rs_mode;
    unsigned rs_state;      /* escape seen (quoted) / inside [...] (atom) */
    size_t rs_pos;
    imap_tok pk;
    uint64_t lit_left;      /* literal bytes still to come */
    int lit_chunked;        /* a string literal being delivered in pieces */
    int lret;               /* state after a string literal */
    char skip_tail[32];     /* last bytes of the line while skipping */
    size_t skip_tlen;
    /* stage 2 */
    int st;                 /* state */
    int ret;                /* state to return to after a sub-parse */
    int resp;
    int status;
    int item;
    int code;
    unsigned evflags;
    uint32_t seq;
    uint64_t num;
    unsigned depth;         /* open parentheses in this response */
    uint32_t nitems;        /* items in the current flat list */
    int unparsed_err;
    /* walker */
    int w_active, w_emit, w_top;
    unsigned w_depth, w_base;
    int w_pending;
    uint32_t wpath[MAILPROTO_IMAP_MAX_DEPTH + 2];
    /* copies that outlive the input buffer */
    char tag[IMAP_NAME_MAX];
    size_t tag_len;
    char name[IMAP_NAME_MAX];
    size_t name_len;
    char sect[IMAP_SECT_MAX];
    size_t sect_len;
    uint64_t origin;
    int has_origin;
    mailproto_imap_event ev;
};

/* Case-insensitive compare of a span with a string literal, length first. */
#define IMAP_KW(s, n, lit) ((n) == sizeof(lit) - 1 && mailproto__strncasecmp((s), (lit), sizeof(lit) - 1) == 0)

static inline int imap_is_nil(const char *s, size_t n)
{
    return n == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'i' && (s[2] | 0x20) == 'l';
}

/* stage 1 (imap_lex.c) */
int mailproto__imap_peek(mailproto_imap_parser *p, int mode, imap_tok **out);
/* Consume the peeked token; for T_QUOTED returns the unescaped length.
 * Returns 0, or MAILPROTO_E_LIMIT when the line limit is crossed. */
int mailproto__imap_take(mailproto_imap_parser *p, imap_tok *t);
int mailproto__imap_fail(mailproto_imap_parser *p, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Skip to the end of the garbled response (literals included).
 * Returns LEX_OK at the end, LEX_NEED, or LEX_FATAL. */
int mailproto__imap_skip(mailproto_imap_parser *p);
void mailproto__imap_lex_reset(mailproto_imap_parser *p);

#endif /* MAILPROTO_IMAP_INT_H */
