/*
 * Helpers shared by the integration tests (public API only): the stack's
 * env keys, TLS and SMTP configs, a memory sink, and finding a delivered
 * message in the stack's maildirs by its Message-ID.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef IT_UTIL_H
#define IT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <mailproto/mailproto.h>

/* Failed checks print where and why, then count; it_done() reports. */
extern int it_failures;
#define IT_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            it_failures++;                                                                         \
            it_fail_msg(__FILE__, __LINE__, #cond, __VA_ARGS__);                                   \
        }                                                                                          \
    } while (0)
void it_fail_msg(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void it_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the result; returns the exit status (0 or 1). */
int it_done(const char *name);

/* Environment of the server stack.  Exits 77 (skip) when SMTP_PORT is not
 * set, i.e. not run through tests/servers/with-servers. */
void it_require_stack(void);
const char *it_env(const char *name);
uint16_t it_port(const char *name);

/* A TLS config trusting the stack's CA (shared, freed by it_done). */
mailproto_tls_config *it_tls(void);

/* A blocking SMTP config: STARTTLS on SMTP_PORT, or implicit TLS on
 * SMTPS_PORT, host "localhost", the CA, 60 s timeouts. */
mailproto_smtp_config it_smtp_config(int implicit_tls, const char *user, const char *pass);

/* A growing memory buffer (a mailproto_sink). */
typedef struct it_buf {
    unsigned char *data;
    size_t len, cap;
} it_buf;
mailproto_sink it_buf_sink(it_buf *b);
int it_buf_add(it_buf *b, const void *data, size_t len);
void it_buf_free(it_buf *b);

/* A unique Message-ID ("<tag.pid.counter.random@mailproto.test>"). */
void it_message_id(char *out, size_t cap, const char *tag);

/* Wait up to timeout_ms for the message with this Message-ID in the
 * maildir of local part user (new/ or cur/); on success *out holds the
 * file's bytes.  Returns 0 when found, -1 when not. */
int it_find_delivered(const char *user_local, const char *message_id, int timeout_ms, it_buf *out);

/* Count the messages among ids[0..n) delivered to user_local, waiting up
 * to timeout_ms for all of them. */
size_t it_count_delivered(const char *user_local, const char *const *ids, size_t n, int timeout_ms);

/* Dovecot stores maildir files with LF line ends: turn bare LF into CRLF
 * (a file already in CRLF is left as it is). */
void it_lf_to_crlf(const it_buf *in, it_buf *out);

/* Local part of an address (static buffer). */
const char *it_local(const char *addr);

/* Deterministic pseudo-random bytes (xorshift) for attachments. */
void it_fill(unsigned char *p, size_t n, uint64_t seed);

#endif /* IT_UTIL_H */
