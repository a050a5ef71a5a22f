/*
 * libmailproto: the IMAP codec (no I/O).
 *
 *  - mailproto_imap_parser: an incremental response parser.  Bytes go into
 *    a buffer it owns (lent with _input_buf/_input_done, or copied in with
 *    _feed); typed events come out one at a time with _next().  Memory is
 *    the input buffer (4 KiB by default) plus a fixed state: long tokens (a
 *    1 MiB quoted string, a huge SEARCH answer, a 1 GiB literal) stream
 *    through as several events.
 *  - mailproto_imap_cmd: a command encoder that writes into a caller buffer
 *    and splits the command into fragments at synchronizing literals.
 *  - modified UTF-7 (RFC 3501 section 5.1.3) for mailbox names, IMAP dates,
 *    and a builder that assembles ENVELOPE and BODYSTRUCTURE into an arena.
 *
 * The IMAP client handle (mailproto_imap) is built on this codec and
 * declared separately.
 *
 * Typical parser loop (engine style):
 *
 *     for (;;) {
 *         const mailproto_imap_event *ev;
 *         int rc = mailproto_imap_parser_next(p, &ev);
 *         if (rc == MAILPROTO_EVENT) { handle(ev); continue; }   // spans valid until the next call
 *         if (rc != MAILPROTO_AGAIN) break;                      // E_CLOSED, E_PROTOCOL, E_LIMIT
 *         char *buf; size_t cap;
 *         mailproto_imap_parser_input_buf(p, &buf, &cap);        // or _feed(p, bytes, n, &used)
 *         ssize_t n = recv(fd, buf, cap, 0);
 *         if (n <= 0) mailproto_imap_parser_eof(p); else mailproto_imap_parser_input_done(p, n);
 *     }
 *
 * Every response is one begin event (EV_STATUS, EV_FETCH, ...), its items,
 * and EV_END (or EV_UNPARSED when it was skipped).  A message body arrives
 * as EV_LITERAL_BEGIN, EV_LITERAL_CHUNK..., EV_LITERAL_END.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_IMAP_H
#define MAILPROTO_IMAP_H

#include <mailproto/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Status words (mailproto_reply.imap_status, event status)            */
/* ------------------------------------------------------------------ */
#define MAILPROTO_IMAP_OK 1
#define MAILPROTO_IMAP_NO 2
#define MAILPROTO_IMAP_BAD 3
#define MAILPROTO_IMAP_BYE 4
#define MAILPROTO_IMAP_PREAUTH 5

/* Hard ceiling of nesting (parentheses) in one response. */
#define MAILPROTO_IMAP_MAX_DEPTH 64

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

/* Every response starts with one "begin" event (its type is also copied
 * into ev->resp of every event of that response) and ends with either
 * MAILPROTO_IMAP_EV_END or MAILPROTO_IMAP_EV_UNPARSED. */
enum {
    /* response begin events */
    MAILPROTO_IMAP_EV_STATUS = 1,   /* OK/NO/BAD/BYE/PREAUTH (ev->status); tag set
                                       when tagged.  Then: EV_CODE (+ its
                                       argument events) if any, one EV_TEXT
                                       (maybe in PARTIAL pieces), EV_END */
    MAILPROTO_IMAP_EV_CONTINUE,     /* "+": optional EV_CODE, EV_TEXT, EV_END */
    MAILPROTO_IMAP_EV_CAPABILITY,   /* EV_ATOM per capability */
    MAILPROTO_IMAP_EV_ENABLED,      /* EV_ATOM per capability */
    MAILPROTO_IMAP_EV_LIST,         /* EV_OPEN, EV_FLAG (ITEM_MBX_ATTR)..., EV_CLOSE,
                                       EV_STRING ITEM_DELIM (NIL flag possible),
                                       EV_STRING ITEM_MAILBOX, then extended data:
                                       CHILDINFO/OLDNAME as token events with item
                                       ITEM_CHILDINFO/ITEM_OLDNAME, others as an
                                       EV_ATOM ITEM_LIST_EXT (the tag) followed by
                                       token events with item ITEM_LIST_EXT */
    MAILPROTO_IMAP_EV_LSUB,         /* as EV_LIST */
    MAILPROTO_IMAP_EV_MBSTATUS,     /* "* STATUS": EV_STRING ITEM_MAILBOX, then
                                       EV_NUMBER per attribute (item ITEM_MESSAGES...,
                                       or ITEM_OTHER; name = attribute) */
    MAILPROTO_IMAP_EV_SEARCH,       /* EV_NUMBER per number; "(MODSEQ n)" as
                                       EV_NUMBER item ITEM_MODSEQ */
    MAILPROTO_IMAP_EV_ESEARCH,      /* EV_STRING ITEM_TAG (correlator), EV_ATOM
                                       ITEM_UID ("UID" indicator), EV_NUMBER
                                       ITEM_MIN/MAX/COUNT/MODSEQ, EV_RANGE ITEM_ALL;
                                       unknown return data skipped */
    MAILPROTO_IMAP_EV_SORT,         /* as EV_SEARCH */
    MAILPROTO_IMAP_EV_THREAD,       /* token events with a path (see below) */
    MAILPROTO_IMAP_EV_FLAGS,        /* EV_OPEN, EV_FLAG..., EV_CLOSE (item ITEM_FLAGS) */
    MAILPROTO_IMAP_EV_EXISTS,       /* number = count; then EV_END */
    MAILPROTO_IMAP_EV_RECENT,       /* number = count; then EV_END */
    MAILPROTO_IMAP_EV_EXPUNGE,      /* number = sequence number; then EV_END */
    MAILPROTO_IMAP_EV_VANISHED,     /* flags EVF_EARLIER; EV_RANGE per UID range */
    MAILPROTO_IMAP_EV_FETCH,        /* seq = message number; item events follow */
    MAILPROTO_IMAP_EV_NAMESPACE,    /* token events with a path */
    MAILPROTO_IMAP_EV_ID,           /* token events with a path */
    MAILPROTO_IMAP_EV_QUOTA,        /* token events with a path */
    MAILPROTO_IMAP_EV_QUOTAROOT,    /* token events with a path */
    MAILPROTO_IMAP_EV_METADATA,     /* token events with a path */

    /* end events */
    MAILPROTO_IMAP_EV_END = 40,     /* the response ended (tag/status repeated) */
    MAILPROTO_IMAP_EV_UNPARSED,     /* the response was skipped up to its end,
                                       literals included: unknown response
                                       (error 0, name = its keyword) or garbled
                                       (error MAILPROTO_E_PROTOCOL; the reason is in
                                       mailproto_imap_parser_last_error()) */

    /* item events */
    MAILPROTO_IMAP_EV_CODE = 50,    /* response code: item = CODE_*, name = the code
                                       atom; number for UIDVALIDITY, UIDNEXT, UNSEEN,
                                       HIGHESTMODSEQ, APPENDUID and COPYUID
                                       (uidvalidity); data = the URL of REFERRAL
                                       (reported, never followed) and the
                                       arguments of unknown codes.  Arguments of CAPABILITY (EV_ATOM),
                                       PERMANENTFLAGS (EV_OPEN/EV_FLAG/EV_CLOSE),
                                       APPENDUID, COPYUID (EV_RANGE, destination set
                                       with EVF_SECOND) and MODIFIED (EV_RANGE)
                                       follow with item = the code */
    MAILPROTO_IMAP_EV_TEXT,         /* human-readable text (or base64 after "+") */
    MAILPROTO_IMAP_EV_ATOM,         /* data = an atom */
    MAILPROTO_IMAP_EV_FLAG,         /* data = a flag ("\Seen", "$Junk") */
    MAILPROTO_IMAP_EV_NUMBER,       /* number (overflow checked) */
    MAILPROTO_IMAP_EV_RANGE,        /* number..number2 of a sequence set; EVF_STAR1/2
                                       mark "*" ends; number == number2 for a
                                       single value */
    MAILPROTO_IMAP_EV_STRING,       /* data = a string (quoted or literal), EVF_NIL
                                       for NIL */
    MAILPROTO_IMAP_EV_OPEN,         /* "(": path = its position */
    MAILPROTO_IMAP_EV_CLOSE,        /* ")": path = the position of its list */
    MAILPROTO_IMAP_EV_LITERAL_BEGIN, /* a message body literal: number = size,
                                       item ITEM_BODY_SECTION/BINARY/RFC822..., name =
                                       section, number2 = origin when EVF_ORIGIN,
                                       EVF_LITERAL8 for ~{n} */
    MAILPROTO_IMAP_EV_LITERAL_CHUNK, /* data = next bytes of the literal */
    MAILPROTO_IMAP_EV_LITERAL_END   /* the literal is complete */
};

/* Event flags. */
#define MAILPROTO_IMAP_EVF_PARTIAL 0x01u  /* data continues in the next event of the same type */
#define MAILPROTO_IMAP_EVF_NIL 0x02u      /* EV_STRING: NIL */
#define MAILPROTO_IMAP_EVF_STAR1 0x04u    /* EV_RANGE: first end is "*" */
#define MAILPROTO_IMAP_EVF_STAR2 0x08u    /* EV_RANGE: last end is "*" */
#define MAILPROTO_IMAP_EVF_EARLIER 0x10u  /* EV_VANISHED (EARLIER) */
#define MAILPROTO_IMAP_EVF_ORIGIN 0x20u   /* number2 holds the <origin> of a body section */
#define MAILPROTO_IMAP_EVF_LITERAL8 0x40u /* the value was a literal8 ~{n} */
#define MAILPROTO_IMAP_EVF_SECOND 0x80u   /* EV_RANGE: COPYUID destination set */
#define MAILPROTO_IMAP_EVF_LITERAL 0x100u /* EV_STRING: the value came as a literal */

/* Items (ev->item).  0 when none. */
enum {
    MAILPROTO_IMAP_ITEM_NONE = 0,
    /* FETCH */
    MAILPROTO_IMAP_ITEM_UID = 1,
    MAILPROTO_IMAP_ITEM_FLAGS,
    MAILPROTO_IMAP_ITEM_INTERNALDATE,   /* EV_STRING; see mailproto_imap_parse_datetime */
    MAILPROTO_IMAP_ITEM_RFC822_SIZE,
    MAILPROTO_IMAP_ITEM_ENVELOPE,       /* token events with a path */
    MAILPROTO_IMAP_ITEM_BODYSTRUCTURE,  /* token events with a path */
    MAILPROTO_IMAP_ITEM_BODY,           /* BODY without section: as BODYSTRUCTURE */
    MAILPROTO_IMAP_ITEM_BODY_SECTION,   /* BODY[section]<origin> */
    MAILPROTO_IMAP_ITEM_BINARY,         /* BINARY[section]<origin> */
    MAILPROTO_IMAP_ITEM_BINARY_SIZE,    /* EV_NUMBER, name = section */
    MAILPROTO_IMAP_ITEM_MODSEQ,
    MAILPROTO_IMAP_ITEM_RFC822,
    MAILPROTO_IMAP_ITEM_RFC822_HEADER,
    MAILPROTO_IMAP_ITEM_RFC822_TEXT,
    /* LIST */
    MAILPROTO_IMAP_ITEM_MBX_ATTR = 20,
    MAILPROTO_IMAP_ITEM_DELIM,
    MAILPROTO_IMAP_ITEM_MAILBOX,
    MAILPROTO_IMAP_ITEM_CHILDINFO,
    MAILPROTO_IMAP_ITEM_OLDNAME,
    MAILPROTO_IMAP_ITEM_LIST_EXT,
    /* STATUS attributes */
    MAILPROTO_IMAP_ITEM_MESSAGES = 30,
    MAILPROTO_IMAP_ITEM_RECENT,
    MAILPROTO_IMAP_ITEM_UIDNEXT,
    MAILPROTO_IMAP_ITEM_UIDVALIDITY,
    MAILPROTO_IMAP_ITEM_UNSEEN,
    MAILPROTO_IMAP_ITEM_DELETED,
    MAILPROTO_IMAP_ITEM_SIZE,
    MAILPROTO_IMAP_ITEM_HIGHESTMODSEQ,
    MAILPROTO_IMAP_ITEM_OTHER,
    /* ESEARCH */
    MAILPROTO_IMAP_ITEM_TAG = 40,
    MAILPROTO_IMAP_ITEM_MIN,
    MAILPROTO_IMAP_ITEM_MAX,
    MAILPROTO_IMAP_ITEM_COUNT,
    MAILPROTO_IMAP_ITEM_ALL,

    /* response codes (EV_CODE and its arguments) */
    MAILPROTO_IMAP_CODE_OTHER = 100,    /* unknown: name and data as text */
    MAILPROTO_IMAP_CODE_ALERT,
    MAILPROTO_IMAP_CODE_CAPABILITY,
    MAILPROTO_IMAP_CODE_PERMANENTFLAGS,
    MAILPROTO_IMAP_CODE_UIDVALIDITY,
    MAILPROTO_IMAP_CODE_UIDNEXT,
    MAILPROTO_IMAP_CODE_UNSEEN,
    MAILPROTO_IMAP_CODE_HIGHESTMODSEQ,
    MAILPROTO_IMAP_CODE_NOMODSEQ,
    MAILPROTO_IMAP_CODE_READ_ONLY,
    MAILPROTO_IMAP_CODE_READ_WRITE,
    MAILPROTO_IMAP_CODE_TRYCREATE,
    MAILPROTO_IMAP_CODE_APPENDUID,
    MAILPROTO_IMAP_CODE_COPYUID,
    MAILPROTO_IMAP_CODE_UIDNOTSTICKY,
    MAILPROTO_IMAP_CODE_CLOSED,
    MAILPROTO_IMAP_CODE_MODIFIED,
    MAILPROTO_IMAP_CODE_PARSE,
    MAILPROTO_IMAP_CODE_REFERRAL,
    MAILPROTO_IMAP_CODE_AUTHENTICATIONFAILED,
    MAILPROTO_IMAP_CODE_UNAVAILABLE
};

/*
 * One event.  Owned by the parser; every span (and path) is valid until the
 * next call on the parser.  Fields that do not apply are zero.
 *
 * Token events with a path (ENVELOPE, BODYSTRUCTURE, unknown LIST extended
 * data, THREAD, NAMESPACE, ID, QUOTA, QUOTAROOT, METADATA) are EV_OPEN,
 * EV_CLOSE, EV_NUMBER (an atom of digits), EV_STRING (quoted, literal or
 * NIL) and EV_ATOM (any other atom).  path[0..path_len) gives the position:
 * for a FETCH item the item's own list has path_len 0 and its elements
 * path [i]; for whole-response data (THREAD ...) the top-level values have
 * path [i].  Example: the mailbox name of the first From address of an
 * ENVELOPE is at path {2, 0, 2}.
 */
typedef struct mailproto_imap_event {
    int type;               /* MAILPROTO_IMAP_EV_* */
    int resp;               /* begin event type of the response this belongs to */
    int status;             /* MAILPROTO_IMAP_OK... for EV_STATUS responses */
    int item;               /* MAILPROTO_IMAP_ITEM_* or MAILPROTO_IMAP_CODE_* */
    unsigned flags;         /* MAILPROTO_IMAP_EVF_* */
    int error;              /* EV_UNPARSED: MAILPROTO_E_PROTOCOL, or 0 (unknown response) */
    mailproto_span tag;     /* tag of a tagged response (valid for the whole response) */
    mailproto_span data;    /* string, atom, flag, text or literal bytes */
    mailproto_span name;    /* section, code name, attribute name, unknown keyword */
    uint32_t seq;           /* FETCH message sequence number */
    uint64_t number;        /* count, number, range start, literal size */
    uint64_t number2;       /* range end, origin */
    const uint32_t *path;   /* token position (see above) */
    unsigned path_len;
} mailproto_imap_event;

/* ------------------------------------------------------------------ */
/* The response parser                                                 */
/* ------------------------------------------------------------------ */

typedef struct mailproto_imap_parser mailproto_imap_parser;

/* Limits; zero means the default. */
typedef struct mailproto_imap_parser_config {
    size_t input_size;          /* input buffer (4096; minimum 512) */
    uint64_t max_line;          /* non-literal bytes in one response (1 MiB); the
                                   numbers of SEARCH, SORT, ESEARCH ALL and
                                   VANISHED stream as events and are not counted */
    unsigned max_depth;         /* nesting once authenticated (64, at most 64) */
    unsigned max_depth_preauth; /* nesting before authentication (4) */
    uint32_t max_items;         /* items in one list (4096) */
    uint64_t max_string;        /* a literal outside a message body (1 MiB) */
    uint64_t max_literal;       /* a message body literal (no limit) */
} mailproto_imap_parser_config;

/* Create a parser (cfg NULL: defaults; mem NULL: malloc).  The only
 * allocations are here.  Returns MAILPROTO_OK, MAILPROTO_E_INVALID or
 * MAILPROTO_E_NOMEM. */
MAILPROTO_API int mailproto_imap_parser_new(mailproto_imap_parser **out,
                                            const mailproto_imap_parser_config *cfg,
                                            const mailproto_mem *mem);

/* The same with the size of the caller's config struct, so that a program
 * built against an older (shorter) struct keeps working: missing fields
 * read as zero (defaults).  A longer struct must be zero beyond the fields
 * this library knows, else MAILPROTO_E_INVALID. */
MAILPROTO_API int mailproto_imap_parser_new_sz(mailproto_imap_parser **out,
                                               const mailproto_imap_parser_config *cfg, size_t cfg_size,
                                               const mailproto_mem *mem);

/* Bytes mailproto_imap_parser_new allocates for this config (NULL:
 * defaults), to size an arena; 0 for an invalid config. */
MAILPROTO_API size_t mailproto_imap_parser_memory_needed_sz(const mailproto_imap_parser_config *cfg,
                                                            size_t cfg_size);

/* Free a parser (NULL is fine). */
MAILPROTO_API void mailproto_imap_parser_free(mailproto_imap_parser *p);

/* Forget all input and state (a new connection, or after STARTTLS). */
MAILPROTO_API void mailproto_imap_parser_reset(mailproto_imap_parser *p);

/* Lend the free part of the input buffer: receive up to *cap bytes into
 * *buf, then call _input_done(n).  Invalidates the spans of the last event.
 * Returns MAILPROTO_OK (*cap may be 0 when the buffer is full: call _next
 * first), or MAILPROTO_E_INVALID / MAILPROTO_E_STATE (after EOF). */
MAILPROTO_API int mailproto_imap_parser_input_buf(mailproto_imap_parser *p, char **buf, size_t *cap);

/* n bytes were written into the lent buffer.  MAILPROTO_OK or
 * MAILPROTO_E_INVALID (n larger than lent). */
MAILPROTO_API int mailproto_imap_parser_input_done(mailproto_imap_parser *p, size_t n);

/* Copy caller bytes in; *used says how many were taken (maybe fewer than
 * len when the buffer is full: call _next, then feed the rest).
 * Returns MAILPROTO_OK, MAILPROTO_E_INVALID or MAILPROTO_E_STATE. */
MAILPROTO_API int mailproto_imap_parser_feed(mailproto_imap_parser *p, const void *data, size_t len,
                                             size_t *used);

/* The peer closed the connection: no more input. */
MAILPROTO_API void mailproto_imap_parser_eof(mailproto_imap_parser *p);

/* Switch the nesting limit between max_depth_preauth (0) and max_depth (1). */
MAILPROTO_API void mailproto_imap_parser_set_authenticated(mailproto_imap_parser *p, int authenticated);

/*
 * Pull the next event.  Returns MAILPROTO_EVENT with *ev set, MAILPROTO_AGAIN
 * when more input is needed, MAILPROTO_E_CLOSED after _eof at a response
 * boundary, or a sticky error: MAILPROTO_E_PROTOCOL (framing lost: bad
 * literal count, input ended inside a response) or MAILPROTO_E_LIMIT (a
 * configured limit).  A garbled but framed response is not an error: it is
 * skipped and reported as EV_UNPARSED.
 */
MAILPROTO_API int mailproto_imap_parser_next(mailproto_imap_parser *p, const mailproto_imap_event **ev);

/* After an EV_LITERAL_BEGIN: pull the literal's chunks into sink until its
 * EV_LITERAL_END.  Returns MAILPROTO_OK (literal complete), MAILPROTO_AGAIN
 * (feed more input and call again), MAILPROTO_E_STATE (no literal in
 * progress), the sink's error, or a parser error. */
MAILPROTO_API int mailproto_imap_parser_drain_literal(mailproto_imap_parser *p, const mailproto_sink *sink);

/* A readable sentence about the last error or EV_UNPARSED ("" when none). */
MAILPROTO_API const char *mailproto_imap_parser_last_error(const mailproto_imap_parser *p);

/* Input bytes received but not parsed yet.  After the tagged OK to
 * STARTTLS this must be 0, or the server injected plaintext
 * (MAILPROTO_E_STARTTLS_INJECTION). */
MAILPROTO_API size_t mailproto_imap_parser_buffered(const mailproto_imap_parser *p);

/* Bytes the parser allocated (the input buffer and its state). */
MAILPROTO_API size_t mailproto_imap_parser_memory(const mailproto_imap_parser *p);

/* ------------------------------------------------------------------ */
/* Helpers for values                                                  */
/* ------------------------------------------------------------------ */

/* Parse an IMAP date-time "17-Jul-1996 02:44:25 -0700" (a leading space for
 * one-digit days is accepted).  *utc = seconds since 1970 UTC, *tz_minutes =
 * the zone offset.  Returns MAILPROTO_OK or MAILPROTO_E_INVALID. */
MAILPROTO_API int mailproto_imap_parse_datetime(const char *s, size_t len, int64_t *utc, int *tz_minutes);

/* Decode modified UTF-7 (RFC 3501 5.1.3) strictly into UTF-8: bad base64,
 * missing "-", non-zero padding bits, an encoded printable ASCII character,
 * unpaired surrogates, NUL, adjacent encoded runs and 8-bit bytes are
 * rejected.  *out_len receives the decoded length even when cap is too
 * small.  out may be NULL with cap 0 to measure.  Returns MAILPROTO_OK,
 * MAILPROTO_E_INVALID (bad input) or MAILPROTO_E_LIMIT (cap too small). */
MAILPROTO_API int mailproto_imap_mutf7_decode(const char *in, size_t len, char *out, size_t cap,
                                              size_t *out_len);

/* A mailbox name from the server into UTF-8: modified UTF-7 decoding
 * (utf8_accept 0), or, once UTF8=ACCEPT is enabled (utf8_accept 1), a copy
 * after a strict UTF-8 check (NUL refused).  Conventions as _decode. */
MAILPROTO_API int mailproto_imap_mailbox_decode(const char *in, size_t len, int utf8_accept, char *out,
                                                size_t cap, size_t *out_len);

/* Encode UTF-8 (strictly validated; NUL refused) as modified UTF-7.
 * Same conventions as _decode. */
MAILPROTO_API int mailproto_imap_mutf7_encode(const char *in, size_t len, char *out, size_t cap,
                                              size_t *out_len);

/* ------------------------------------------------------------------ */
/* Tags                                                                */
/* ------------------------------------------------------------------ */

/* Unique tags: a random per-connection prefix plus a counter. */
typedef struct mailproto_imap_tagger {
    char prefix[5];
    uint64_t counter;
} mailproto_imap_tagger;

/* Start a tag sequence.  random4 supplies 4 random bytes from the caller's
 * random source (the codec does no I/O); they become a 4-letter prefix. */
MAILPROTO_API void mailproto_imap_tagger_init(mailproto_imap_tagger *t, const unsigned char random4[4]);

/* Write the next tag (NUL terminated, at most 24 bytes) into out[cap].
 * Tags are never repeated.  Returns MAILPROTO_OK, MAILPROTO_E_INVALID or
 * MAILPROTO_E_LIMIT (counter exhausted). */
MAILPROTO_API int mailproto_imap_tagger_next(mailproto_imap_tagger *t, char *out, size_t cap);

/* ------------------------------------------------------------------ */
/* The command encoder                                                 */
/* ------------------------------------------------------------------ */

/* Server capabilities the encoder uses (bit mask). */
#define MAILPROTO_IMAP_CMD_LITERALPLUS 0x01u  /* LITERAL+: every literal {n+} */
#define MAILPROTO_IMAP_CMD_LITERALMINUS 0x02u /* LITERAL-: {n+} up to 4096 bytes */
#define MAILPROTO_IMAP_CMD_UTF8 0x04u         /* UTF8=ACCEPT enabled: UTF-8 quoted strings
                                                 and mailbox names */

/* The maximum number of fragments of one command. */
#define MAILPROTO_IMAP_CMD_MAX_FRAGS 16

/* One piece of a command to send. */
typedef struct mailproto_imap_frag {
    const char *ptr;        /* bytes to send (in the encoder's buffer) */
    size_t len;
    uint64_t ext_len;       /* after ptr: this many literal bytes the caller sends
                               itself (mailproto_imap_cmd_literal_ext), else 0 */
    int wait_continue;      /* 1: wait for a "+" continuation before sending this fragment */
} mailproto_imap_frag;

/* Encoder state; treat the fields as private. */
typedef struct mailproto_imap_cmd {
    char *buf;
    size_t cap;
    size_t len;
    size_t line_start;      /* start of the current line (for the line limit) */
    size_t max_line;
    unsigned caps;
    int err;                /* sticky error */
    int need_sp;
    unsigned depth;
    unsigned nfrags;
    struct {
        size_t off, len;
        uint64_t ext_len;
        int wait;
    } frags[MAILPROTO_IMAP_CMD_MAX_FRAGS];
} mailproto_imap_cmd;

/* Start a command in buf[cap]: "tag name".  caps are MAILPROTO_IMAP_CMD_*.
 * tag and name must be atoms ("UID FETCH" is accepted as name: atoms
 * separated by single spaces).  Every call below returns MAILPROTO_OK or
 * the first error, which is sticky: MAILPROTO_E_INVALID (bad argument:
 * NUL, a non-atom where an atom is needed, bad UTF-8), MAILPROTO_E_LIMIT
 * (buffer full, a line longer than 8192 bytes, too many literals). */
MAILPROTO_API int mailproto_imap_cmd_begin(mailproto_imap_cmd *c, char *buf, size_t cap, unsigned caps,
                                           const char *tag, const char *name);

/* An atom (validated). */
MAILPROTO_API int mailproto_imap_cmd_atom(mailproto_imap_cmd *c, const char *atom);

/* A flag: a system flag "\\Seen" (backslash + atom) or a keyword atom
 * "$Junk"; anything else is MAILPROTO_E_INVALID. */
MAILPROTO_API int mailproto_imap_cmd_flag(mailproto_imap_cmd *c, const char *flag);

/* Protocol text the caller built, such as a FETCH item list "(UID FLAGS
 * BODY.PEEK[HEADER])": any printable ASCII; CR, LF, NUL and 8-bit refused. */
MAILPROTO_API int mailproto_imap_cmd_raw(mailproto_imap_cmd *c, const char *text);

/* An astring: an atom when it is one (and not NIL), a quoted string when
 * printable (UTF-8 allowed with UTF8=ACCEPT), else a literal (CR, LF,
 * 8-bit, or longer than 1024 bytes).  NUL refused. */
MAILPROTO_API int mailproto_imap_cmd_astring(mailproto_imap_cmd *c, const void *s, size_t len);

/* A string: quoted or literal, never an atom. */
MAILPROTO_API int mailproto_imap_cmd_string(mailproto_imap_cmd *c, const void *s, size_t len);

/* Always a literal (in the buffer).  NUL refused. */
MAILPROTO_API int mailproto_imap_cmd_literal(mailproto_imap_cmd *c, const void *s, size_t len);

/* A literal header for size bytes that the caller sends itself (APPEND
 * streamed from a source); the command continues after those bytes. */
MAILPROTO_API int mailproto_imap_cmd_literal_ext(mailproto_imap_cmd *c, uint64_t size);

/* A mailbox name given in UTF-8: modified UTF-7 unless UTF8=ACCEPT, then
 * as an astring.  "INBOX" in any case is sent as INBOX. */
MAILPROTO_API int mailproto_imap_cmd_mailbox(mailproto_imap_cmd *c, const char *utf8, size_t len);

/* A decimal number. */
MAILPROTO_API int mailproto_imap_cmd_number(mailproto_imap_cmd *c, uint64_t n);

/* A sequence-set range; 0 stands for "*". */
typedef struct mailproto_imap_range {
    uint32_t first;
    uint32_t last;
} mailproto_imap_range;

/* A sequence set from n ranges (n > 0), compressed: the array is sorted in
 * place, overlapping and adjacent ranges merged ("1:3,5,7:*"). */
MAILPROTO_API int mailproto_imap_cmd_seqset(mailproto_imap_cmd *c, mailproto_imap_range *r, size_t n);

/* "(" and ")". */
MAILPROTO_API int mailproto_imap_cmd_open(mailproto_imap_cmd *c);
MAILPROTO_API int mailproto_imap_cmd_close(mailproto_imap_cmd *c);

/* A SEARCH date "1-Feb-1994". */
MAILPROTO_API int mailproto_imap_cmd_date(mailproto_imap_cmd *c, int year, int month, int day);

/* An APPEND date-time "\"17-Jul-1996 02:44:25 -0700\"" from UTC seconds
 * and a zone offset in minutes. */
MAILPROTO_API int mailproto_imap_cmd_datetime(mailproto_imap_cmd *c, int64_t utc, int tz_minutes);

/* SEARCH criteria helpers.  _search starts "[UID ]SEARCH" with
 * "CHARSET UTF-8" when utf8_charset is set; the keys follow. */
MAILPROTO_API int mailproto_imap_cmd_search(mailproto_imap_cmd *c, int uid, int utf8_charset);
/* key + string ("SUBJECT", "FROM", "BODY", "TEXT", "TO", "CC", ...). */
MAILPROTO_API int mailproto_imap_cmd_key_string(mailproto_imap_cmd *c, const char *key, const void *s,
                                                size_t len);
/* "HEADER field value". */
MAILPROTO_API int mailproto_imap_cmd_key_header(mailproto_imap_cmd *c, const char *field, const void *s,
                                                size_t len);
/* key + date ("SINCE", "BEFORE", "ON", "SENTSINCE", ...). */
MAILPROTO_API int mailproto_imap_cmd_key_date(mailproto_imap_cmd *c, const char *key, int year, int month,
                                              int day);
/* key + number ("LARGER", "SMALLER", "MODSEQ"). */
MAILPROTO_API int mailproto_imap_cmd_key_number(mailproto_imap_cmd *c, const char *key, uint64_t n);

/* Finish the command with CRLF.  Returns MAILPROTO_OK or the sticky error. */
MAILPROTO_API int mailproto_imap_cmd_end(mailproto_imap_cmd *c);

/* The number of fragments of a finished command (0 after an error). */
MAILPROTO_API size_t mailproto_imap_cmd_nfrags(const mailproto_imap_cmd *c);

/* Fragment i of a finished command.  Returns MAILPROTO_OK or
 * MAILPROTO_E_INVALID. */
MAILPROTO_API int mailproto_imap_cmd_frag(const mailproto_imap_cmd *c, size_t i, mailproto_imap_frag *f);

/* ------------------------------------------------------------------ */
/* ENVELOPE / BODYSTRUCTURE builder                                    */
/* ------------------------------------------------------------------ */

/* All strings are NUL terminated copies (NULL for NIL). */
typedef struct mailproto_imap_address {
    const char *name, *adl, *mailbox, *host;
    int group;              /* 1: start of group "mailbox:" (host NIL), 2: end of group */
    struct mailproto_imap_address *next;
} mailproto_imap_address;

typedef struct mailproto_imap_envelope {
    const char *date, *subject, *in_reply_to, *message_id;
    mailproto_imap_address *from, *sender, *reply_to, *to, *cc, *bcc;
} mailproto_imap_envelope;

typedef struct mailproto_imap_param {
    const char *name, *value;
    struct mailproto_imap_param *next;
} mailproto_imap_param;

typedef struct mailproto_imap_body {
    const char *type;       /* "multipart" for multiparts */
    const char *subtype;
    mailproto_imap_param *params;
    const char *id, *description, *encoding, *md5;
    uint64_t octets;
    uint64_t lines;
    const char *disposition;
    mailproto_imap_param *disp_params;
    const char *language;   /* the first language */
    const char *location;
    mailproto_imap_envelope *envelope;  /* message/rfc822 */
    struct mailproto_imap_body *child;  /* first part, or the encapsulated message body */
    struct mailproto_imap_body *next;   /* next sibling */
    struct mailproto_imap_body *parent;
    unsigned nchildren;
} mailproto_imap_body;

/* Builder state; fields private. */
typedef struct mailproto_imap_builder {
    const mailproto_mem *mem;
    int item;
    int done;
    int err;
    unsigned parts;
    unsigned max_parts;
    unsigned depth;
    mailproto_imap_envelope *env;
    mailproto_imap_body *root;
    unsigned body_depth;
    struct {
        int kind;
        void *obj;
        void *aux;
        uint32_t field;
        unsigned nchild;
        int multi;
    } st[MAILPROTO_IMAP_MAX_DEPTH + 1];
    char *pbuf;             /* string being assembled from PARTIAL pieces */
    size_t plen;
} mailproto_imap_builder;

/* Start building an ENVELOPE (item MAILPROTO_IMAP_ITEM_ENVELOPE) or a body
 * structure (ITEM_BODYSTRUCTURE or ITEM_BODY) with memory from mem (use an
 * arena: mailproto_arena_init gives the hooks; nodes are freed with the
 * arena).  max_parts 0 means 10 000.  Returns MAILPROTO_OK or
 * MAILPROTO_E_INVALID. */
MAILPROTO_API int mailproto_imap_build_begin(mailproto_imap_builder *b, const mailproto_mem *mem, int item,
                                             unsigned max_parts);

/* Give it every event of that FETCH item, starting with the item's
 * EV_OPEN (others are ignored).  Returns MAILPROTO_OK (more needed),
 * MAILPROTO_EVENT (complete), MAILPROTO_E_PROTOCOL (not a valid
 * structure), MAILPROTO_E_LIMIT (more than max_parts parts or depth 32) or
 * MAILPROTO_E_NOMEM. */
MAILPROTO_API int mailproto_imap_build_feed(mailproto_imap_builder *b, const mailproto_imap_event *ev);

/* The result once complete (NULL before, or for the other kind). */
MAILPROTO_API const mailproto_imap_envelope *mailproto_imap_build_envelope(const mailproto_imap_builder *b);
MAILPROTO_API const mailproto_imap_body *mailproto_imap_build_body(const mailproto_imap_builder *b);

/* ================================================================== */
/* The IMAP client handle (issue 6).  Kept apart from the codec above.  */
/* ================================================================== */

/*
 * mailproto_imap: one opaque handle over the codec and a transport, driven
 * in one of three ways (DESIGN.md section 4):
 *
 *   blocking      each command call returns when its tagged reply arrived:
 *                 MAILPROTO_OK (OK), MAILPROTO_E_REJECTED (NO/BAD; see
 *                 mailproto_imap_last_reply) or a fatal error.  Untagged
 *                 data that arrives meanwhile goes to cfg.on_event (when
 *                 set) and updates the mailbox state.  Between commands,
 *                 mailproto_imap_wait() pulls unsolicited events (IDLE).
 *   non-blocking  cfg.nonblocking = 1: command calls only queue (they
 *                 return MAILPROTO_AGAIN; the id is mailproto_imap_last_id)
 *                 and mailproto_imap_poll() does the I/O and hands out
 *                 events, MAILPROTO_IMAP_EV_COMPLETED (number = id) when a
 *                 command's tagged reply came.  Several commands may be in
 *                 flight at once (pipelined, tags matched to replies).
 *   engine        the caller owns the connection: mailproto_imap_start(),
 *                 _input_buf/_input_done, _output_buf/_output_done, _next.
 *
 * Events are mailproto_imap_event (above): every event of every untagged
 * response after the session is ready (EXISTS, EXPUNGE, FETCH items,
 * VANISHED, LIST, ... with their item events), plus the client events
 * below.  A message body literal goes to the command's sink when one was
 * given, else it arrives as EV_LITERAL_BEGIN / _CHUNK... / _END events.
 * Events are owned by the handle and valid until the next call on it.
 *
 * Security: implicit TLS for port 993, STARTTLS required otherwise, plain
 * text only with MAILPROTO_SEC_PLAIN.  After STARTTLS all that was learned
 * before is dropped and CAPABILITY asked again; bytes after the STARTTLS
 * go-ahead end the session (MAILPROTO_E_STARTTLS_INJECTION); PREAUTH on a
 * connection that must first start TLS gives MAILPROTO_E_TLS_REQUIRED;
 * credentials are sent only over TLS unless allow_plaintext_auth; LOGIN is
 * refused when the server says LOGINDISABLED; referrals are reported (the
 * REFERRAL response code in the last reply), never followed; credentials
 * never reach the trace.
 */

#include <mailproto/sasl.h>

typedef struct mailproto_imap mailproto_imap;
struct mailproto_tls_config; /* <mailproto/transport.h> */
struct mailproto_io;         /* <mailproto/transport.h> */

/* Connection security (same values as the SMTP client's MAILPROTO_SEC_*). */
#ifndef MAILPROTO_SEC_DEFAULT
#define MAILPROTO_SEC_DEFAULT 0   /* implicit TLS for port 993, else STARTTLS */
#define MAILPROTO_SEC_TLS 1       /* implicit TLS */
#define MAILPROTO_SEC_STARTTLS 2  /* STARTTLS required */
#define MAILPROTO_SEC_PLAIN 3     /* no TLS at all (asked for by name) */
#endif

/* Client events (ev->type), beyond the codec's. */
#define MAILPROTO_IMAP_EV_READY 80     /* connected (and authenticated when credentials
                                          were given): the session is usable */
#define MAILPROTO_IMAP_EV_COMPLETED 81 /* a command finished: number = its id, status =
                                          MAILPROTO_IMAP_OK/NO/BAD, item = response code
                                          (CODE_*), name = code atom, data = text;
                                          error = MAILPROTO_OK or the status the
                                          blocking call returns */
#define MAILPROTO_IMAP_EV_STARTTLS 82  /* engine mode: switch the connection to TLS
                                          now, then call mailproto_imap_tls_ready() */
#define MAILPROTO_IMAP_EV_IDLING 83    /* the server accepted IDLE (number = id) */
#define MAILPROTO_IMAP_EV_ALERT 84     /* [ALERT] text from the server (data); show it
                                          to the user as the server's words.  Control
                                          characters (ESC...) are removed from it, as
                                          from every server text the handle hands out
                                          (COMPLETED, CLOSED, last_reply); other bytes
                                          are as sent (not checked as UTF-8). */
#define MAILPROTO_IMAP_EV_CLOSED 85    /* the connection ended (BYE or EOF, also during
                                          IDLE): error = the status; data = BYE text */

/* Capabilities (mailproto_imap_caps). */
#define MAILPROTO_IMAP_CAP_IMAP4REV1 (1u << 0)
#define MAILPROTO_IMAP_CAP_IMAP4REV2 (1u << 1)
#define MAILPROTO_IMAP_CAP_STARTTLS (1u << 2)
#define MAILPROTO_IMAP_CAP_LOGINDISABLED (1u << 3)
#define MAILPROTO_IMAP_CAP_SASL_IR (1u << 4)
#define MAILPROTO_IMAP_CAP_LITERALPLUS (1u << 5)
#define MAILPROTO_IMAP_CAP_LITERALMINUS (1u << 6)
#define MAILPROTO_IMAP_CAP_IDLE (1u << 7)
#define MAILPROTO_IMAP_CAP_MOVE (1u << 8)
#define MAILPROTO_IMAP_CAP_UIDPLUS (1u << 9)
#define MAILPROTO_IMAP_CAP_CONDSTORE (1u << 10)
#define MAILPROTO_IMAP_CAP_QRESYNC (1u << 11)
#define MAILPROTO_IMAP_CAP_ENABLE (1u << 12)
#define MAILPROTO_IMAP_CAP_ID (1u << 13)
#define MAILPROTO_IMAP_CAP_NAMESPACE (1u << 14)
#define MAILPROTO_IMAP_CAP_SPECIAL_USE (1u << 15)
#define MAILPROTO_IMAP_CAP_LIST_STATUS (1u << 16)
#define MAILPROTO_IMAP_CAP_LIST_EXTENDED (1u << 17)
#define MAILPROTO_IMAP_CAP_ESEARCH (1u << 18)
#define MAILPROTO_IMAP_CAP_SORT (1u << 19)
#define MAILPROTO_IMAP_CAP_UNSELECT (1u << 20)
#define MAILPROTO_IMAP_CAP_UTF8_ACCEPT (1u << 21)
#define MAILPROTO_IMAP_CAP_CHILDREN (1u << 22)
#define MAILPROTO_IMAP_CAP_BINARY (1u << 23)

/* Called with every event while a blocking call runs (optional). */
typedef void (*mailproto_imap_event_fn)(void *ctx, const mailproto_imap_event *ev);

/* Creation-time configuration.  Zero means the default everywhere. */
typedef struct mailproto_imap_config {
    const char *host;           /* server name (TLS name check, SNI) */
    uint16_t port;              /* default 143 (993 with MAILPROTO_SEC_TLS) */
    int security;               /* MAILPROTO_SEC_* */
    const struct mailproto_tls_config *tls; /* NULL: system CAs, TLS 1.2+ */
    const struct mailproto_io *io; /* non-NULL: talk through these callbacks, not TCP */

    const char *username;       /* NULL: no authentication (PREAUTH or anonymous use) */
    const char *password;
    const char *authzid;        /* optional authorization identity (SASL) */
    const char *oauth_token;    /* bearer token for XOAUTH2/OAUTHBEARER */
    /* Called when the server refuses an OAuth token (XOAUTH2/OAUTHBEARER):
     * store a fresh token in *token (caller-owned, valid for the handle's
     * life or until the next call) and return 0 to try once more. */
    int (*token_refresh)(void *ctx, const char **token);
    void *token_ctx;
    int auth_mech;              /* MAILPROTO_AUTH_*; MAILPROTO_AUTH_LOGIN means the IMAP
                                   LOGIN command; 0: strongest advertised SASL
                                   mechanism, else LOGIN */
    int allow_plaintext_auth;   /* 1: credentials may go out without TLS */

    int nonblocking;            /* 1: commands only queue; use _poll */
    int timeout_ms;             /* connect (and TLS handshake) budget; default 30000 */
    int inactivity_timeout_ms;  /* no byte while a reply is awaited; default 60000 */
    int command_timeout_ms;     /* a command's whole reply; default none (0) */
    int idle_refresh_ms;        /* IDLE re-issued after this; default 25 min */

    size_t in_buf_size;         /* parser input buffer; default 8192, min 512 */
    size_t out_buf_size;        /* queued command bytes; default 16384, min 1024 */
    size_t max_inflight;        /* commands queued or in flight; default 64 */
    uint64_t max_line;          /* non-literal bytes of one response; default 1 MiB */
    uint64_t max_string;        /* literal outside a body; default 1 MiB */

    int move_allow_expunge;     /* 1: the MOVE fallback may use EXPUNGE without UIDPLUS
                                   (removes every message marked \Deleted) */

    mailproto_imap_event_fn on_event; /* blocking calls: events meanwhile */
    void *event_ctx;
    mailproto_trace_fn trace;   /* protocol trace; credentials always redacted */
    void *trace_ctx;
    int trace_data;             /* 1: the trace gets message bytes, not counts */
    mailproto_clock_fn clock;   /* blocking mode; default mailproto_clock_monotonic_ms */
    void *clock_ctx;
    /* Random bytes (tag prefix, SCRAM nonce); default the OS. */
    int (*random)(void *ctx, void *buf, size_t n);
    void *random_ctx;
} mailproto_imap_config;

/* Create a handle (no I/O).  cfg is copied; the strings it points to must
 * stay valid for the handle's life.  All memory is allocated here.
 * Returns MAILPROTO_OK, _E_INVALID, _E_NOMEM. */
MAILPROTO_API int mailproto_imap_new_sz(mailproto_imap **out, const mailproto_imap_config *cfg,
                                        size_t cfg_size, const mailproto_mem *mem);
#define mailproto_imap_new(out, cfg, mem) mailproto_imap_new_sz((out), (cfg), sizeof *(cfg), (mem))

/* Bytes mailproto_imap_new_sz allocates for this config (size a
 * mailproto_arena with it; add 16 bytes of alignment slack per block, two
 * blocks plus the transport's own), 0 for a bad config. */
MAILPROTO_API size_t mailproto_imap_memory_needed_sz(const mailproto_imap_config *cfg, size_t cfg_size);
#define mailproto_imap_memory_needed(cfg) mailproto_imap_memory_needed_sz((cfg), sizeof *(cfg))

/* Close the connection (sending LOGOUT first when a blocking session is
 * idle) and free everything.  NULL is ignored. */
MAILPROTO_API void mailproto_imap_free(mailproto_imap *h);

/* Connect: (TLS,) greeting, CAPABILITY, (STARTTLS, CAPABILITY,)
 * authentication when credentials are configured, CAPABILITY again.
 * Blocking: MAILPROTO_OK when ready, or an error (_E_TLS_REQUIRED,
 * _E_STARTTLS_INJECTION, _E_AUTH, _E_UNSUPPORTED (no usable mechanism,
 * LOGINDISABLED), network, TLS and protocol errors).  Non-blocking:
 * MAILPROTO_AGAIN; MAILPROTO_IMAP_EV_READY follows from _poll. */
MAILPROTO_API int mailproto_imap_connect(mailproto_imap *h);

/* Authenticate with the configured credentials.  connect() already does
 * this, so this sends nothing; it reports where the session is:
 * MAILPROTO_OK when the session is ready (authenticated when credentials
 * were configured), MAILPROTO_AGAIN while connecting or authenticating is
 * still under way, MAILPROTO_E_STATE before connect/start, the fatal status
 * of a dead session, MAILPROTO_E_INVALID for NULL. */
MAILPROTO_API int mailproto_imap_login(mailproto_imap *h);

/* Non-blocking step: all the I/O possible now, then MAILPROTO_EVENT (*ev
 * set; call again), MAILPROTO_AGAIN (wait for _fd/_io_interest or
 * _timeout_ms) or a fatal error.  now_ms: the caller's monotonic clock. */
MAILPROTO_API int mailproto_imap_poll(mailproto_imap *h, uint64_t now_ms,
                                      const mailproto_imap_event **ev);

/* Blocking: wait up to timeout_ms (-1: no limit) for the next event
 * (unsolicited data, IDLE).  MAILPROTO_EVENT (*ev set), MAILPROTO_AGAIN (no
 * event in time), or a fatal error. */
MAILPROTO_API int mailproto_imap_wait(mailproto_imap *h, int timeout_ms,
                                      const mailproto_imap_event **ev);

/* The socket to wait on, or -1. */
MAILPROTO_API int mailproto_imap_fd(const mailproto_imap *h);
/* MAILPROTO_IO_READ / _WRITE: what the last AGAIN waits for. */
MAILPROTO_API int mailproto_imap_io_interest(const mailproto_imap *h);
/* Milliseconds to the next deadline (reply timeouts, IDLE refresh,
 * connect/TLS budget), 0 when passed, -1 none. */
MAILPROTO_API int mailproto_imap_timeout_ms(const mailproto_imap *h, uint64_t now_ms);

/* ---- engine mode ---- */

/* Begin on a connection the caller opened.  MAILPROTO_OK or _E_STATE. */
MAILPROTO_API int mailproto_imap_start(mailproto_imap *h);
/* Room for received bytes (*cap 0: pull events first). */
MAILPROTO_API int mailproto_imap_input_buf(mailproto_imap *h, unsigned char **p, size_t *cap);
/* n bytes were received; 0: the peer closed. */
MAILPROTO_API int mailproto_imap_input_done(mailproto_imap *h, size_t n);
/* Bytes to send (*len 0: nothing now). */
MAILPROTO_API int mailproto_imap_output_buf(mailproto_imap *h, const unsigned char **p, size_t *len);
/* n of them were sent. */
MAILPROTO_API int mailproto_imap_output_done(mailproto_imap *h, size_t n);
/* Advance: MAILPROTO_EVENT, MAILPROTO_AGAIN (move bytes), or an error. */
MAILPROTO_API int mailproto_imap_next(mailproto_imap *h, uint64_t now_ms, const mailproto_imap_event **ev);
/* The connection is now TLS (after MAILPROTO_IMAP_EV_STARTTLS). */
MAILPROTO_API int mailproto_imap_tls_ready(mailproto_imap *h);

/* ---- state and results ---- */

/* The last error: status, IMAP status word, response code, server text
 * (REFERRAL URLs are reported here, never followed).  Never NULL. */
MAILPROTO_API const mailproto_reply *mailproto_imap_last_reply(const mailproto_imap *h);

/* The id of the command queued last (0 none).  Ids start at 1. */
MAILPROTO_API unsigned mailproto_imap_last_id(const mailproto_imap *h);

/* MAILPROTO_IMAP_CAP_* of the session (after TLS: only what the server
 * said over TLS). */
MAILPROTO_API unsigned mailproto_imap_caps(const mailproto_imap *h);
/* SASL mechanisms offered (mask of MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_*)) in
 * the last capability list; after STARTTLS only what the server said over
 * TLS (0 until it said it).  0 for NULL. */
MAILPROTO_API unsigned mailproto_imap_auth_mechs(const mailproto_imap *h);
/* Nonzero when the session runs over TLS. */
MAILPROTO_API int mailproto_imap_is_secure(const mailproto_imap *h);

/* System flags (bit masks in mailbox state). */
#define MAILPROTO_IMAP_FLAG_SEEN (1u << 0)
#define MAILPROTO_IMAP_FLAG_ANSWERED (1u << 1)
#define MAILPROTO_IMAP_FLAG_FLAGGED (1u << 2)
#define MAILPROTO_IMAP_FLAG_DELETED (1u << 3)
#define MAILPROTO_IMAP_FLAG_DRAFT (1u << 4)
#define MAILPROTO_IMAP_FLAG_RECENT (1u << 5)
#define MAILPROTO_IMAP_FLAG_KEYWORDS (1u << 6) /* PERMANENTFLAGS \* */
#define MAILPROTO_IMAP_FLAG_OTHER (1u << 7)    /* some other keyword */

/* The selected mailbox as the handle knows it; consistent under EXISTS,
 * EXPUNGE and VANISHED. */
typedef struct mailproto_imap_mailbox {
    int selected;           /* 1 while a mailbox is selected */
    int read_only;          /* EXAMINE, or [READ-ONLY] */
    uint32_t exists;
    uint32_t recent;
    uint32_t uidvalidity;
    uint32_t uidnext;
    uint32_t unseen;        /* [UNSEEN n] of the SELECT, 0 none */
    uint64_t highestmodseq; /* 0 when none (or [NOMODSEQ]) */
    unsigned flags;         /* FLAGS: MAILPROTO_IMAP_FLAG_* */
    unsigned permanent_flags;
    uint64_t expunged;      /* messages removed since the SELECT (EXPUNGE, VANISHED) */
} mailproto_imap_mailbox;

/* The selected mailbox's state (never NULL; all zero when none). */
MAILPROTO_API const mailproto_imap_mailbox *mailproto_imap_mailbox_state(const mailproto_imap *h);

#define MAILPROTO_IMAP_MAX_UIDSET 16

/* Typed results of the last completed command. */
typedef struct mailproto_imap_result {
    unsigned id;            /* command id */
    int status;             /* MAILPROTO_IMAP_OK/NO/BAD, 0 none */
    int code;               /* response code item (MAILPROTO_IMAP_CODE_*), 0 none */
    int referral;           /* 1: [REFERRAL url] (not followed; url in last_reply text) */
    uint32_t append_uidvalidity; /* APPENDUID */
    uint32_t append_uid;
    uint32_t copy_uidvalidity;   /* COPYUID (also MOVE) */
    mailproto_imap_range copy_src[MAILPROTO_IMAP_MAX_UIDSET];
    mailproto_imap_range copy_dst[MAILPROTO_IMAP_MAX_UIDSET];
    size_t n_copy_src, n_copy_dst;  /* ranges kept (sets longer than 16 ranges are cut) */
    char referral_url[256];     /* the [REFERRAL] URL (sanitized, cut at 255), "" none */
} mailproto_imap_result;

/* The results of the last completed command (never NULL). */
MAILPROTO_API const mailproto_imap_result *mailproto_imap_last_result(const mailproto_imap *h);

/* ---- typed result holders ---- */

/* A set of numbers (UIDs, or sequence numbers) as ranges, in the caller's
 * array.  SEARCH numbers are merged into ranges as they come; ESEARCH
 * fills min/max/count too. */
typedef struct mailproto_imap_uidset {
    mailproto_imap_range *ranges;   /* caller's array */
    size_t cap;
    size_t n;                       /* ranges stored */
    uint64_t count;                 /* numbers seen in total (also beyond cap) */
    int truncated;                  /* 1: more ranges than cap */
    uint32_t min, max;              /* ESEARCH MIN/MAX (or computed) */
    uint64_t modseq;                /* (MODSEQ n) / ESEARCH MODSEQ, 0 none */
} mailproto_imap_uidset;

/* STATUS items (mask for mailproto_imap_status and the have field). */
#define MAILPROTO_IMAP_STATUS_MESSAGES (1u << 0)
#define MAILPROTO_IMAP_STATUS_RECENT (1u << 1)
#define MAILPROTO_IMAP_STATUS_UIDNEXT (1u << 2)
#define MAILPROTO_IMAP_STATUS_UIDVALIDITY (1u << 3)
#define MAILPROTO_IMAP_STATUS_UNSEEN (1u << 4)
#define MAILPROTO_IMAP_STATUS_DELETED (1u << 5)
#define MAILPROTO_IMAP_STATUS_SIZE (1u << 6)
#define MAILPROTO_IMAP_STATUS_HIGHESTMODSEQ (1u << 7)

typedef struct mailproto_imap_status_items {
    unsigned have;          /* MAILPROTO_IMAP_STATUS_* received */
    uint64_t messages, recent, uidnext, uidvalidity, unseen, deleted, size, highestmodseq;
} mailproto_imap_status_items;

/* Mailbox attributes of a LIST entry. */
#define MAILPROTO_IMAP_MBX_NOSELECT (1u << 0)
#define MAILPROTO_IMAP_MBX_NOINFERIORS (1u << 1)
#define MAILPROTO_IMAP_MBX_HASCHILDREN (1u << 2)
#define MAILPROTO_IMAP_MBX_HASNOCHILDREN (1u << 3)
#define MAILPROTO_IMAP_MBX_MARKED (1u << 4)
#define MAILPROTO_IMAP_MBX_UNMARKED (1u << 5)
#define MAILPROTO_IMAP_MBX_NONEXISTENT (1u << 6)
#define MAILPROTO_IMAP_MBX_SUBSCRIBED (1u << 7)
#define MAILPROTO_IMAP_MBX_REMOTE (1u << 8)
#define MAILPROTO_IMAP_MBX_ALL (1u << 9)       /* RFC 6154 special use */
#define MAILPROTO_IMAP_MBX_ARCHIVE (1u << 10)
#define MAILPROTO_IMAP_MBX_DRAFTS (1u << 11)
#define MAILPROTO_IMAP_MBX_FLAGGED (1u << 12)
#define MAILPROTO_IMAP_MBX_JUNK (1u << 13)
#define MAILPROTO_IMAP_MBX_SENT (1u << 14)
#define MAILPROTO_IMAP_MBX_TRASH (1u << 15)

/* One LIST/LSUB entry (or, with LIST-STATUS, the STATUS of one). */
typedef struct mailproto_imap_list_entry {
    const char *name;       /* UTF-8 (modified UTF-7 decoded), NUL terminated */
    const char *raw_name;   /* as the server sent it */
    char delim;             /* hierarchy delimiter, 0 for NIL */
    unsigned attrs;         /* MAILPROTO_IMAP_MBX_* */
    int is_status;          /* 1: this is the LIST-STATUS data of name */
    mailproto_imap_status_items status;
} mailproto_imap_list_entry;

/* Called once per entry; a nonzero return stops collecting (the command
 * still runs to its end). */
typedef int (*mailproto_imap_list_fn)(void *ctx, const mailproto_imap_list_entry *e);

/* LIST options. */
#define MAILPROTO_IMAP_LIST_SPECIAL_USE 1u  /* RETURN (SPECIAL-USE) when offered */
#define MAILPROTO_IMAP_LIST_SUBSCRIBED 2u   /* (SUBSCRIBED) selection (LIST-EXTENDED) */
#define MAILPROTO_IMAP_LIST_STATUS 4u       /* RETURN (STATUS (MESSAGES UNSEEN)) when offered */

/* Command set kinds. */
#define MAILPROTO_IMAP_SEQ 0    /* message sequence numbers */
#define MAILPROTO_IMAP_UID 1    /* UIDs */

/* A search criteria builder: keys are kept in a fixed buffer and encoded
 * (with literals where needed) when the command is queued.  Any error is
 * sticky and returned by the search call. */
typedef struct mailproto_imap_criteria {
    unsigned char buf[1024];
    size_t len;
    int err;
} mailproto_imap_criteria;

/* Start empty (an empty criteria means ALL). */
MAILPROTO_API void mailproto_imap_criteria_init(mailproto_imap_criteria *c);
/* A key without argument: "ALL", "UNSEEN", "DELETED", "NOT", "OR", "(" ,
 * ")"; any atom. */
MAILPROTO_API int mailproto_imap_criteria_key(mailproto_imap_criteria *c, const char *key);
/* key + string: "SUBJECT", "FROM", "TO", "BODY", "TEXT", "KEYWORD"... */
MAILPROTO_API int mailproto_imap_criteria_string(mailproto_imap_criteria *c, const char *key,
                                                 const char *value);
/* HEADER field value. */
MAILPROTO_API int mailproto_imap_criteria_header(mailproto_imap_criteria *c, const char *field,
                                                 const char *value);
/* key + date: "SINCE", "BEFORE", "ON", "SENTSINCE"... */
MAILPROTO_API int mailproto_imap_criteria_date(mailproto_imap_criteria *c, const char *key, int year,
                                               int month, int day);
/* key + number: "LARGER", "SMALLER", "MODSEQ". */
MAILPROTO_API int mailproto_imap_criteria_number(mailproto_imap_criteria *c, const char *key, uint64_t n);
/* "UID set" (uid 1) or a sequence set (uid 0). */
MAILPROTO_API int mailproto_imap_criteria_set(mailproto_imap_criteria *c, int uid,
                                              const mailproto_imap_range *r, size_t n);

/* ESEARCH return options (mailproto_imap_search). */
#define MAILPROTO_IMAP_RETURN_MIN 1u
#define MAILPROTO_IMAP_RETURN_MAX 2u
#define MAILPROTO_IMAP_RETURN_COUNT 4u
#define MAILPROTO_IMAP_RETURN_ALL 8u

/* SELECT options. */
#define MAILPROTO_IMAP_EXAMINE 1u     /* read-only (EXAMINE) */
#define MAILPROTO_IMAP_CONDSTORE 2u   /* (CONDSTORE) parameter */

/* STORE operations. */
#define MAILPROTO_IMAP_STORE_SET 0
#define MAILPROTO_IMAP_STORE_ADD 1    /* +FLAGS */
#define MAILPROTO_IMAP_STORE_REMOVE 2 /* -FLAGS */
#define MAILPROTO_IMAP_STORE_SILENT 4 /* .SILENT (or-ed in) */

/* ---- commands ----
 * Each queues one command (or a short sequence) and returns, blocking:
 * MAILPROTO_OK, MAILPROTO_E_REJECTED (NO/BAD), a fatal error;
 * non-blocking: MAILPROTO_AGAIN (queued; EV_COMPLETED with
 * number = mailproto_imap_last_id() follows).  Before sending anything:
 * MAILPROTO_E_INVALID (bad argument: NUL, CR/LF in an atom...),
 * MAILPROTO_E_UNSUPPORTED (the server lacks the extension),
 * MAILPROTO_E_LIMIT (queue or buffer full), MAILPROTO_E_STATE (not
 * connected, dead).  Pointers to results (sets, status, sinks, sources,
 * callbacks) must stay valid until the command completes. */

MAILPROTO_API int mailproto_imap_capability(mailproto_imap *h);
MAILPROTO_API int mailproto_imap_noop(mailproto_imap *h);
/* LOGOUT; the connection then closes (EV_CLOSED follows when non-blocking). */
MAILPROTO_API int mailproto_imap_logout(mailproto_imap *h);
/* ID with n field/value pairs (kv[2i], kv[2i+1]; value may be NULL), or
 * "ID NIL" when n is 0. */
MAILPROTO_API int mailproto_imap_id(mailproto_imap *h, const char *const *kv, size_t n);
/* ENABLE with space separated capability names ("QRESYNC", "UTF8=ACCEPT"). */
MAILPROTO_API int mailproto_imap_enable(mailproto_imap *h, const char *caps);
MAILPROTO_API int mailproto_imap_namespace(mailproto_imap *h);
/* LIST ref pattern (UTF-8); opts MAILPROTO_IMAP_LIST_*; fn may be NULL. */
MAILPROTO_API int mailproto_imap_list(mailproto_imap *h, const char *ref, const char *pattern,
                                      unsigned opts, mailproto_imap_list_fn fn, void *ctx);
MAILPROTO_API int mailproto_imap_lsub(mailproto_imap *h, const char *ref, const char *pattern,
                                      mailproto_imap_list_fn fn, void *ctx);
MAILPROTO_API int mailproto_imap_create(mailproto_imap *h, const char *mailbox);
MAILPROTO_API int mailproto_imap_delete(mailproto_imap *h, const char *mailbox);
MAILPROTO_API int mailproto_imap_rename(mailproto_imap *h, const char *from, const char *to);
MAILPROTO_API int mailproto_imap_subscribe(mailproto_imap *h, const char *mailbox);
MAILPROTO_API int mailproto_imap_unsubscribe(mailproto_imap *h, const char *mailbox);
/* SELECT (EXAMINE with MAILPROTO_IMAP_EXAMINE). */
MAILPROTO_API int mailproto_imap_select(mailproto_imap *h, const char *mailbox, unsigned opts);
/* SELECT/EXAMINE with (QRESYNC (uidvalidity modseq [known-uids])); QRESYNC
 * must have been enabled.  known may be NULL. */
MAILPROTO_API int mailproto_imap_select_qresync(mailproto_imap *h, const char *mailbox, unsigned opts,
                                                uint32_t uidvalidity, uint64_t modseq,
                                                const mailproto_imap_range *known, size_t n_known);
/* STATUS mailbox (items: MAILPROTO_IMAP_STATUS_*); out may be NULL. */
MAILPROTO_API int mailproto_imap_status(mailproto_imap *h, const char *mailbox, unsigned items,
                                        mailproto_imap_status_items *out);
/* FETCH / UID FETCH first:last (0 = "*") with an item list such as
 * "(UID FLAGS BODY.PEEK[HEADER])". */
MAILPROTO_API int mailproto_imap_fetch(mailproto_imap *h, int uid, uint32_t first, uint32_t last,
                                       const char *items);
/* The general FETCH: a set, items, CHANGEDSINCE (0: none; with vanished
 * and UID: VANISHED), and a sink that receives every body literal (NULL:
 * literal chunk events). */
MAILPROTO_API int mailproto_imap_fetch_set(mailproto_imap *h, int uid, const mailproto_imap_range *set,
                                           size_t n, const char *items, uint64_t changedsince,
                                           int vanished, const mailproto_sink *sink);
/* BODY.PEEK[section]<offset.len> of one message into sink (len 0: whole). */
MAILPROTO_API int mailproto_imap_fetch_body(mailproto_imap *h, int uid, uint32_t n, const char *section,
                                            uint64_t offset, uint64_t len, const mailproto_sink *sink);
/* SEARCH / UID SEARCH (crit NULL: ALL).  ret: MAILPROTO_IMAP_RETURN_* for
 * ESEARCH when offered (0: plain SEARCH).  out may be NULL. */
MAILPROTO_API int mailproto_imap_search(mailproto_imap *h, int uid, const mailproto_imap_criteria *crit,
                                        unsigned ret, mailproto_imap_uidset *out);
/* SORT (sort criteria such as "REVERSE DATE") CHARSET UTF-8. */
MAILPROTO_API int mailproto_imap_sort(mailproto_imap *h, int uid, const char *sort,
                                      const mailproto_imap_criteria *crit, mailproto_imap_uidset *out);
/* STORE / UID STORE set [(UNCHANGEDSINCE m)] op FLAGS (flags: "\\Seen \\Flagged"). */
MAILPROTO_API int mailproto_imap_store(mailproto_imap *h, int uid, const mailproto_imap_range *set,
                                       size_t n, int op, const char *flags, uint64_t unchangedsince);
MAILPROTO_API int mailproto_imap_copy(mailproto_imap *h, int uid, const mailproto_imap_range *set,
                                      size_t n, const char *dest);
/* MOVE; without MOVE: COPY, STORE +FLAGS.SILENT (\Deleted), UID EXPUNGE,
 * queued under one id, each step sent only after the previous one's OK (a
 * refused COPY deletes nothing); COPYUID of the COPY in the result.  The
 * fallback needs UIDPLUS (and UIDs); without it MAILPROTO_E_UNSUPPORTED
 * unless move_allow_expunge (then a plain EXPUNGE).  The session must be
 * ready (the capabilities decide): else MAILPROTO_E_STATE. */
MAILPROTO_API int mailproto_imap_move(mailproto_imap *h, int uid, const mailproto_imap_range *set,
                                      size_t n, const char *dest);
/* APPEND mailbox [(flags)] [date] {size}: the message streamed from src
 * (its size must be known).  flags may be NULL; utc 0: no date.  APPENDUID
 * in mailproto_imap_last_result. */
MAILPROTO_API int mailproto_imap_append(mailproto_imap *h, const char *mailbox, const char *flags,
                                        int64_t utc, int tz_minutes, mailproto_source *src);
/* EXPUNGE: remove every \Deleted message of the selected mailbox.
 * UID EXPUNGE (UIDPLUS): only the \Deleted messages among the UIDs in set
 * (n ranges); MAILPROTO_E_UNSUPPORTED without UIDPLUS.  The removals
 * arrive as EXPUNGE (or VANISHED) events and update the mailbox state. */
MAILPROTO_API int mailproto_imap_expunge(mailproto_imap *h);
MAILPROTO_API int mailproto_imap_uid_expunge(mailproto_imap *h, const mailproto_imap_range *set, size_t n);
/* Leave the selected mailbox: CLOSE also expunges \Deleted messages,
 * UNSELECT (RFC 3691) does not (MAILPROTO_E_UNSUPPORTED when the server
 * does not advertise UNSELECT).  Return codes as for every command above. */
MAILPROTO_API int mailproto_imap_close(mailproto_imap *h);
MAILPROTO_API int mailproto_imap_unselect(mailproto_imap *h);
/* IDLE.  Blocking: returns MAILPROTO_OK once the server accepted it; then
 * mailproto_imap_wait() gives events; it is re-issued before
 * idle_refresh_ms on its own.  Non-blocking: EV_IDLING, then events. */
MAILPROTO_API int mailproto_imap_idle(mailproto_imap *h);
/* DONE: end IDLE.  Blocking: waits for IDLE's tagged reply. */
MAILPROTO_API int mailproto_imap_idle_done(mailproto_imap *h);
/* A raw command: text after the tag ("GETQUOTAROOT INBOX"), printable
 * ASCII, no CR/LF.  Its responses are parsed and handed out as events. */
MAILPROTO_API int mailproto_imap_raw(mailproto_imap *h, const char *command);

#ifdef __cplusplus
}
#endif

#endif /* MAILPROTO_IMAP_H */
