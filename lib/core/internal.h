/*
 * Internal helpers shared by every module.  Never installed.
 * Cross-file internal symbols are mailproto__* (two underscores).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_INTERNAL_H
#define MAILPROTO_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <mailproto/common.h>

#define MAILPROTO__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAILPROTO__MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAILPROTO__MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- memory: NULL mem means malloc (unless -Dmalloc=false) ---- */
void *mailproto__alloc(const mailproto_mem *mem, size_t size);
void *mailproto__calloc(const mailproto_mem *mem, size_t n, size_t size); /* overflow-checked, zeroed */
void *mailproto__realloc(const mailproto_mem *mem, void *p, size_t old_size, size_t new_size);
void mailproto__free(const mailproto_mem *mem, void *p, size_t size);
/* Copy a NUL-terminated string (NULL gives NULL without error). */
int mailproto__strdup(const mailproto_mem *mem, const char *s, char **out);
void mailproto__strfree(const mailproto_mem *mem, char *s);

/* ---- overflow-checked arithmetic ---- */
static inline int mailproto__add_overflow(size_t a, size_t b, size_t *r)
{
    if (a > SIZE_MAX - b)
        return 1;
    *r = a + b;
    return 0;
}

/* Parse a decimal number of at most max; returns 0 on success, -1 when the
 * text is empty, has a non-digit, or exceeds max.  No sign is accepted. */
int mailproto__parse_u64(const char *p, size_t len, uint64_t max, uint64_t *out);

/* ---- ASCII helpers (locale-free) ---- */
static inline int mailproto__is_digit(int c) { return c >= '0' && c <= '9'; }
static inline int mailproto__is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline int mailproto__lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
static inline int mailproto__upper(int c) { return (c >= 'a' && c <= 'z') ? c - 32 : c; }
/* Case-insensitive ASCII compare of n bytes; 0 when equal. */
int mailproto__strncasecmp(const char *a, const char *b, size_t n);
/* Case-insensitive equality of a span and a C string. */
int mailproto__span_ieq(const char *p, size_t len, const char *s);

/* ---- small formatter: no stdio in the library (firmware) ----
 * Supports %s, %.*s, %d, %u, %ld, %lu, %lld, %llu, %zu, %x, %c, %%.
 * Always NUL terminates (when cap > 0) and truncates silently; returns
 * the number of bytes written without the NUL. */
size_t mailproto__fmt(char *buf, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
size_t mailproto__vfmt(char *buf, size_t cap, const char *fmt, va_list ap);

/* ---- the last error of a handle ---- */
#define MAILPROTO__ERR_TEXT_MAX 512
#define MAILPROTO__ERR_MSG_MAX 256

typedef struct mailproto__err {
    mailproto_reply pub;
    char text[MAILPROTO__ERR_TEXT_MAX];
    char msg[MAILPROTO__ERR_MSG_MAX];
} mailproto__err;

/* Reset to "no error" (all strings empty). */
void mailproto__err_clear(mailproto__err *e);
/* Record a status and a readable sentence; returns status. */
int mailproto__err_set(mailproto__err *e, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Record the server's text (control characters dropped, bounded). */
void mailproto__err_text(mailproto__err *e, const char *text, size_t len);
/* Record an SMTP-style code and optional enhanced code "x.y.z" (len may be 0). */
void mailproto__err_code(mailproto__err *e, int code, const char *enh, size_t enh_len);
/* Parse "x.yyy.zzz" at p; returns its length or 0 when it is not one. */
size_t mailproto__parse_enhanced(const char *p, size_t len, int *cls, int *subj, int *detail);
/* The static empty record for NULL handles. */
const mailproto_reply *mailproto__reply_empty(void);

/* ---- trace ---- */
typedef struct mailproto__trace {
    mailproto_trace_fn fn;
    void *ctx;
    int data_bytes; /* 1: give message data bytes, not just counts */
} mailproto__trace;

void mailproto__trace_emit(const mailproto__trace *t, int dir, int kind, const void *p, size_t n);
/* A credential: the hook sees MAILPROTO_TRACE_REDACTED only. */
void mailproto__trace_secret(const mailproto__trace *t, int dir);
/* Message data: a byte count, or the bytes when asked for. */
void mailproto__trace_data(const mailproto__trace *t, int dir, const void *p, size_t n);
void mailproto__trace_note(const mailproto__trace *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;


/* ---- a protocol command written into an engine's output buffer ----
 * The engine's unsent bytes are buf[*off, *len).  A command is appended
 * piece by piece; if it does not fit, the whole command is taken back at
 * mailproto__ob_end, so a half command never leaves. */
typedef struct mailproto__ob {
    unsigned char *buf;
    size_t cap;
    size_t *off, *len;
    size_t start; /* where this command begins */
    int over;     /* it did not fit */
} mailproto__ob;

/* Start a command (an empty buffer is rewound to its start first). */
void mailproto__ob_begin(mailproto__ob *o, unsigned char *buf, size_t cap, size_t *off, size_t *len);
void mailproto__ob_put(mailproto__ob *o, const void *s, size_t n);
void mailproto__ob_str(mailproto__ob *o, const char *s);
void mailproto__ob_u64(mailproto__ob *o, uint64_t v);
/* Finish the command and trace it: secret_from < 0 traces all of it,
 * otherwise its first secret_from bytes and then the redaction marker.
 * Returns -1 when it did not fit (taken back, nothing traced), 1 when it
 * is the first unsent command (the engine arms sending), 0 otherwise. */
int mailproto__ob_end(mailproto__ob *o, const mailproto__trace *t, int secret_from);

#endif /* MAILPROTO_INTERNAL_H */
