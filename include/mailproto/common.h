/*
 * libmailproto: what every module shares.
 *
 * Status codes, the allocator hooks and the arena, spans, streaming sources
 * and sinks, the last-reply record, the trace, clock and progress hooks, and
 * the version.
 *
 * Threads: the library has no global mutable state and needs no init call.
 * A handle (mailproto_smtp, mailproto_imap, mailproto_transport, ...) must be
 * used by one thread at a time; different handles need no locks.  Read-only
 * shared objects (mailproto_tls_config) may be used by many handles at once.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_COMMON_H
#define MAILPROTO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <mailproto/features.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MAILPROTO_API marks every exported function; everything else is hidden. */
#if defined(MAILPROTO_BUILDING) && defined(__GNUC__)
#define MAILPROTO_API __attribute__((visibility("default")))
#else
#define MAILPROTO_API
#endif

#if defined(__GNUC__)
#define MAILPROTO_DEPRECATED_FOR(f) __attribute__((deprecated("use " #f)))
#else
#define MAILPROTO_DEPRECATED_FOR(f)
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

/* The version these headers belong to: 0xMMmmpp. */
#define MAILPROTO_VERSION_NUMBER 0x000100
#define MAILPROTO_VERSION_STRING "0.1.0"

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH".
 * Compare mailproto_version_number() with MAILPROTO_VERSION_NUMBER to detect
 * a header/library mismatch. */
MAILPROTO_API const char *mailproto_version(void);

/* The runtime version as 0xMMmmpp. */
MAILPROTO_API unsigned long mailproto_version_number(void);

/* ------------------------------------------------------------------ */
/* Status codes                                                        */
/* ------------------------------------------------------------------ */

/* Every function returns an int: 0 (MAILPROTO_OK), a positive
 * "something to look at", or a negative error. */
enum {
    MAILPROTO_OK = 0,               /* done */
    MAILPROTO_EVENT = 1,            /* an event was returned; call again */
    MAILPROTO_AGAIN = 2,            /* would block: wait (see _io_interest) */

    /* Caller errors: the handle stays usable. */
    MAILPROTO_E_INVALID = -1,       /* bad argument (e.g. CR/LF in an address) */
    MAILPROTO_E_STATE = -2,         /* call not allowed in this state */
    MAILPROTO_E_UNSUPPORTED = -3,   /* server or build lacks the feature */
    MAILPROTO_E_LIMIT = -4,         /* a configured limit was crossed */
    MAILPROTO_E_NOMEM = -5,         /* the allocator failed */

    /* Network. */
    MAILPROTO_E_RESOLVE = -10,      /* host name did not resolve */
    MAILPROTO_E_CONNECT = -11,      /* connection refused / unreachable */
    MAILPROTO_E_IO = -12,           /* read or write failed */
    MAILPROTO_E_CLOSED = -13,       /* peer closed the connection */
    MAILPROTO_E_TIMEOUT = -14,      /* a deadline passed */

    /* TLS. */
    MAILPROTO_E_TLS = -20,              /* handshake or record failure */
    MAILPROTO_E_CERT_UNTRUSTED = -21,   /* chain not trusted (incl. self-signed) */
    MAILPROTO_E_CERT_EXPIRED = -22,     /* expired or not yet valid */
    MAILPROTO_E_CERT_NAME = -23,        /* certificate does not name the host */
    MAILPROTO_E_CERT_PIN = -24,         /* pinned hash did not match */
    MAILPROTO_E_TLS_REQUIRED = -25,     /* TLS required but not available */
    MAILPROTO_E_STARTTLS_INJECTION = -26, /* bytes after the STARTTLS go-ahead */

    /* Peer. */
    MAILPROTO_E_PROTOCOL = -30,     /* the server broke the protocol */
    MAILPROTO_E_AUTH = -31,         /* authentication failed */
    MAILPROTO_E_REJECTED = -32,     /* the server refused (4xx/5xx, NO/BAD, -ERR) */
    MAILPROTO_E_NOT_SENT = -33,     /* connection lost before the message was complete */
    MAILPROTO_E_OUTCOME_UNKNOWN = -34, /* lost after the end of data, before the reply */

    /* Callbacks. */
    MAILPROTO_E_CALLBACK = -40,     /* a caller callback reported an error */
    MAILPROTO_E_CANCELLED = -41     /* the progress callback cancelled */
};

/* A static English name of a status ("connection refused"); never NULL. */
MAILPROTO_API const char *mailproto_strerror(int status);

/* The symbolic name of a status ("MAILPROTO_E_CONNECT"); never NULL. */
MAILPROTO_API const char *mailproto_errname(int status);

/* Nonzero when a handle that returned this status is dead and may only be
 * freed (connection-level failures); zero for OK/EVENT/AGAIN and for errors
 * that leave the session usable (INVALID, STATE, UNSUPPORTED, LIMIT, NOMEM,
 * AUTH, REJECTED, CALLBACK). */
MAILPROTO_API int mailproto_is_fatal(int status);

/* Directions a non-blocking handle waits for (bit mask). */
#define MAILPROTO_IO_READ 1
#define MAILPROTO_IO_WRITE 2

/* ------------------------------------------------------------------ */
/* Memory                                                              */
/* ------------------------------------------------------------------ */

/* Allocator hooks, set per handle.  Sizes are passed back to free and
 * realloc so that pools need no headers.  A NULL mailproto_mem pointer means
 * the C library's malloc (unless built with -Dmalloc=false, where it is an
 * error).  realloc may be NULL: then alloc + copy + free is used. */
typedef struct mailproto_mem {
    void *ctx;
    void *(*alloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
    void (*free)(void *ctx, void *ptr, size_t size);
} mailproto_mem;

/* A bump allocator over a caller's buffer, for firmware without malloc.
 * Treat the fields as private. Freeing the most recent block gives its
 * memory back; other frees are no-ops until mailproto_arena_reset(). */
typedef struct mailproto_arena {
    unsigned char *base;
    size_t cap;
    size_t used;
    size_t peak;
    size_t last; /* offset of the most recent block */
} mailproto_arena;

/* Set up an arena over buf[0..len) and fill *mem with hooks that allocate
 * from it (mem may be NULL).  Blocks are aligned to max_align_t.
 * Returns MAILPROTO_OK, or MAILPROTO_E_INVALID for a NULL arena/buffer. */
MAILPROTO_API int mailproto_arena_init(mailproto_arena *a, void *buf, size_t len,
                                       mailproto_mem *mem);

/* Forget every block: the whole buffer is free again. */
MAILPROTO_API void mailproto_arena_reset(mailproto_arena *a);

/* The high-water mark in bytes since init (for sizing a static buffer). */
MAILPROTO_API size_t mailproto_arena_peak(const mailproto_arena *a);

/* ------------------------------------------------------------------ */
/* Spans                                                               */
/* ------------------------------------------------------------------ */

/* Bytes borrowed from a buffer the library or the caller owns; not NUL
 * terminated.  Spans in events stay valid until the next call on the
 * handle that produced them. */
typedef struct mailproto_span {
    const char *ptr;
    size_t len;
} mailproto_span;

/* Copy a span into a new NUL-terminated string allocated with mem (NULL
 * means malloc).  Free it with mailproto_span_free(mem, s, span.len).
 * Returns MAILPROTO_OK, MAILPROTO_E_INVALID or MAILPROTO_E_NOMEM. */
MAILPROTO_API int mailproto_span_dup(const mailproto_mem *mem, mailproto_span span, char **out);

/* Free a string returned by mailproto_span_dup; len is the span length. */
MAILPROTO_API void mailproto_span_free(const mailproto_mem *mem, char *s, size_t len);

/* ------------------------------------------------------------------ */
/* Streaming sources and sinks                                         */
/* ------------------------------------------------------------------ */

/* Size of a source whose length is not known in advance. */
#define MAILPROTO_SIZE_UNKNOWN UINT64_MAX

/* Something the library pulls bytes from (a message body, an attachment,
 * an APPEND literal).  read() fills buf with up to cap bytes and sets *got;
 * MAILPROTO_OK with *got == 0 means the end.  It may return MAILPROTO_AGAIN
 * (non-blocking callers) or a negative status, which aborts the operation
 * with MAILPROTO_E_CALLBACK unless it is a library status.  rewind() is
 * optional: when set, the source can be read again from the start (needed
 * to measure a MIME message before sending it).  size is the total length,
 * or MAILPROTO_SIZE_UNKNOWN.  The mem_* fields belong to
 * mailproto_source_mem(); leave them zero otherwise. */
typedef struct mailproto_source {
    int (*read)(void *ctx, void *buf, size_t cap, size_t *got);
    int (*rewind)(void *ctx);
    void *ctx;
    uint64_t size;
    const unsigned char *mem_ptr;
    size_t mem_len;
    size_t mem_off;
} mailproto_source;

/* Make *src read the len bytes at data (not copied: they must outlive the
 * source).  The source is rewindable and knows its size.  Returns
 * MAILPROTO_OK or MAILPROTO_E_INVALID. */
MAILPROTO_API int mailproto_source_mem(mailproto_source *src, const void *data, size_t len);

/* Read from a source: *got bytes (0 at the end).  A thin, checked wrapper
 * over src->read.  Returns MAILPROTO_OK, MAILPROTO_AGAIN or an error. */
MAILPROTO_API int mailproto_source_read(mailproto_source *src, void *buf, size_t cap, size_t *got);

/* Start the source again from its first byte.  Returns MAILPROTO_OK, or
 * MAILPROTO_E_UNSUPPORTED when the source cannot be read twice. */
MAILPROTO_API int mailproto_source_rewind(mailproto_source *src);

/* Something the library pushes bytes into (a fetched body, a decoded part).
 * write() returns MAILPROTO_OK, or a negative status to stop the transfer. */
typedef struct mailproto_sink {
    int (*write)(void *ctx, const void *data, size_t len);
    void *ctx;
} mailproto_sink;

/* ------------------------------------------------------------------ */
/* The last reply: what went wrong, in detail                          */
/* ------------------------------------------------------------------ */

/* Library-owned record of the last error of a handle.  Every field is
 * valid (empty strings, zeros) when nothing went wrong.  The strings are
 * NUL terminated, bounded, and free of control characters. */
typedef struct mailproto_reply {
    int status;             /* the status that was returned (0 if none) */
    int code;               /* SMTP reply code, or 0 */
    char enhanced[16];      /* enhanced status code "5.7.8", or "" */
    int enh_class;          /* 2, 4 or 5; 0 when absent */
    int enh_subject;
    int enh_detail;
    int imap_status;        /* IMAP: MAILPROTO_IMAP_OK/NO/BAD/BYE/PREAUTH, or 0 */
    char resp_code[48];     /* IMAP response code or POP3 extended code, or "" */
    int temporary;          /* 1 when the server said "try again later" (4xx, [IN-USE], ...) */
    const char *text;       /* the server's text (sanitized), "" when none */
    size_t text_len;
    const char *message;    /* one readable sentence from the library */
    int tls_error;          /* the Mbed TLS error code, or 0 */
    int sys_errno;          /* errno of a failed system call, or 0 */
} mailproto_reply;

/* ------------------------------------------------------------------ */
/* Hooks: trace, clock, progress                                       */
/* ------------------------------------------------------------------ */

/* Trace direction. */
#define MAILPROTO_TRACE_SENT 1
#define MAILPROTO_TRACE_RECEIVED 2
#define MAILPROTO_TRACE_INFO 3      /* a note from the library (e.g. TLS state) */

/* Trace kinds. */
#define MAILPROTO_TRACE_COMMAND 1   /* protocol command line */
#define MAILPROTO_TRACE_REPLY 2     /* protocol reply line */
#define MAILPROTO_TRACE_DATA 3      /* message data: data==NULL, len = byte count,
                                       unless the caller asked for the bytes */
#define MAILPROTO_TRACE_SECRET 4    /* a credential: data is MAILPROTO_TRACE_REDACTED */
#define MAILPROTO_TRACE_NOTE 5      /* library note (direction INFO) */

/* What the trace hook sees in place of any credential.  Redaction cannot be
 * turned off. */
#define MAILPROTO_TRACE_REDACTED "<redacted>"

/* Called with each chunk sent or received.  Lines include their CRLF. */
typedef void (*mailproto_trace_fn)(void *ctx, int direction, int kind, const char *data,
                                   size_t len);

/* Monotonic milliseconds.  Firmware supplies its own tick counter. */
typedef uint64_t (*mailproto_clock_fn)(void *ctx);

/* The OS monotonic clock in milliseconds (the default clock hook), or 0
 * in builds without an OS clock (-Dsockets=disabled). */
MAILPROTO_API uint64_t mailproto_clock_monotonic_ms(void *ctx);

/* Progress of a long transfer: done bytes of total (MAILPROTO_SIZE_UNKNOWN
 * when not known).  Return 0 to go on; any other value cancels the
 * operation cleanly with MAILPROTO_E_CANCELLED.  This is also how a
 * blocking call is cancelled. */
typedef int (*mailproto_progress_fn)(void *ctx, uint64_t done, uint64_t total);

#ifdef __cplusplus
}
#endif

#endif /* MAILPROTO_COMMON_H */
