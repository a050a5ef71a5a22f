/*
 * libmailproto: SMTP submission (RFC 5321, 6409) and LMTP (RFC 2033).
 *
 * One opaque handle, mailproto_smtp, driven in one of three ways:
 *
 *   blocking      mailproto_smtp_connect(), mailproto_smtp_send(),
 *                 mailproto_smtp_quit(): each returns when done.
 *   non-blocking  cfg.nonblocking = 1.  mailproto_smtp_connect(),
 *                 mailproto_smtp_submit() and mailproto_smtp_quit() only
 *                 start an operation; call mailproto_smtp_poll() whenever
 *                 mailproto_smtp_fd() is ready for mailproto_smtp_io_interest()
 *                 or mailproto_smtp_timeout_ms() has passed.  Outcomes come
 *                 as events (READY, RCPT, SENT, CLOSED).
 *   engine        The caller owns the connection: mailproto_smtp_start(),
 *                 then move bytes with mailproto_smtp_input_buf()/_done() and
 *                 mailproto_smtp_output_buf()/_done(), and pull events with
 *                 mailproto_smtp_next().  STARTTLS (and implicit TLS) show up
 *                 as MAILPROTO_SMTP_EV_STARTTLS: switch the connection to TLS,
 *                 then call mailproto_smtp_tls_ready().
 *
 * Security defaults: implicit TLS for port 465, STARTTLS required otherwise;
 * plain text only with security = MAILPROTO_SEC_PLAIN; credentials are sent
 * only over TLS unless allow_plaintext_auth is set.
 *
 * A handle is used by one thread at a time.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_SMTP_H
#define MAILPROTO_SMTP_H

#include <mailproto/common.h>
#include <mailproto/sasl.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mailproto_smtp mailproto_smtp;
struct mailproto_tls_config; /* <mailproto/transport.h> */
struct mailproto_io;         /* <mailproto/transport.h> */

/* Connection security (config field security). */
#define MAILPROTO_SEC_DEFAULT 0   /* MAILPROTO_SEC_TLS for port 465, else _STARTTLS */
#define MAILPROTO_SEC_TLS 1       /* implicit TLS from the first byte */
#define MAILPROTO_SEC_STARTTLS 2  /* STARTTLS required: no TLS, no session */
#define MAILPROTO_SEC_PLAIN 3     /* no TLS at all (asked for by name) */

/* Capabilities from the EHLO reply (mailproto_smtp_caps). */
#define MAILPROTO_SMTP_CAP_PIPELINING (1u << 0)
#define MAILPROTO_SMTP_CAP_8BITMIME (1u << 1)
#define MAILPROTO_SMTP_CAP_SMTPUTF8 (1u << 2)
#define MAILPROTO_SMTP_CAP_CHUNKING (1u << 3)
#define MAILPROTO_SMTP_CAP_BINARYMIME (1u << 4)
#define MAILPROTO_SMTP_CAP_DSN (1u << 5)
#define MAILPROTO_SMTP_CAP_ENHANCEDSTATUSCODES (1u << 6)
#define MAILPROTO_SMTP_CAP_AUTH (1u << 7)
#define MAILPROTO_SMTP_CAP_STARTTLS (1u << 8)
#define MAILPROTO_SMTP_CAP_REQUIRETLS (1u << 9)
#define MAILPROTO_SMTP_CAP_SIZE (1u << 10)
#define MAILPROTO_SMTP_CAP_EHLO (1u << 11) /* the server answered EHLO (not HELO) */

/* Called when the server rejects an OAuth token (XOAUTH2/OAUTHBEARER):
 * store a fresh token in *token (caller-owned, valid until the next call
 * or the handle is freed) and return 0 to retry once; nonzero gives up. */
typedef int (*mailproto_smtp_token_fn)(void *ctx, const char **token);

/* Creation-time configuration.  Zero means the default everywhere. */
typedef struct mailproto_smtp_config {
    const char *host;           /* server name (TLS name check, SNI) */
    uint16_t port;              /* default 587 (465 with MAILPROTO_SEC_TLS, 24 with lmtp) */
    int security;               /* MAILPROTO_SEC_* */
    const struct mailproto_tls_config *tls; /* NULL: system CAs, TLS 1.2+ */
    const struct mailproto_io *io; /* non-NULL: talk through these callbacks, not TCP */
    const char *helo_name;      /* EHLO argument; default "localhost" */
    int lmtp;                   /* 1: LMTP (LHLO, one reply per recipient after data) */

    const char *username;       /* NULL: no AUTH */
    const char *password;
    const char *authzid;        /* optional authorization identity */
    const char *oauth_token;    /* bearer token for XOAUTH2/OAUTHBEARER */
    mailproto_smtp_token_fn token_refresh;
    void *token_ctx;
    int auth_mech;              /* MAILPROTO_AUTH_*; 0: strongest advertised */
    int allow_plaintext_auth;   /* 1: allow AUTH without TLS (MAILPROTO_SEC_PLAIN) */

    int nonblocking;            /* 1: operations return MAILPROTO_AGAIN, use _poll */
    int timeout_ms;             /* blocking connect budget; default 30000 */
    int inactivity_timeout_ms;  /* no byte while a reply is awaited; default 60000 */
    int greeting_timeout_ms;    /* RFC 5321 4.5.3.2: default 300000 */
    int mail_timeout_ms;        /* default 300000 */
    int rcpt_timeout_ms;        /* default 300000 */
    int data_timeout_ms;        /* DATA initiation; default 120000 */
    int block_timeout_ms;       /* each data block written; default 180000 */
    int data_end_timeout_ms;    /* reply to the end of data; default 600000 */

    size_t in_buf_size;         /* default 8192 + 2 (a whole reply line); min 1024 */
    size_t out_buf_size;        /* default 4096; min 1024 */
    size_t max_line;            /* reply line; default 8192 (capped by in_buf_size) */
    size_t max_reply;           /* one multi-line reply; default 65536 */
    size_t max_reply_lines;     /* default 1000 */
    size_t max_rcpt;            /* recipients per message; default 100 */
    int no_pipelining;          /* 1: never pipeline even if offered */
    int no_chunking;            /* 1: never use BDAT even if offered */

    mailproto_trace_fn trace;   /* protocol trace; credentials always redacted */
    void *trace_ctx;
    int trace_data;             /* 1: the trace gets message bytes, not counts */
    mailproto_clock_fn clock;   /* blocking mode; default mailproto_clock_monotonic_ms */
    void *clock_ctx;
    mailproto_progress_fn progress; /* during the body; nonzero cancels */
    void *progress_ctx;
    /* Random bytes (SCRAM nonce); default the OS.  Returns MAILPROTO_OK. */
    int (*random)(void *ctx, void *buf, size_t n);
    void *random_ctx;
} mailproto_smtp_config;

/* Create a handle (no I/O yet).  cfg is copied; the strings it points to
 * must stay valid for the handle's life.  mem may be NULL (malloc).  All
 * memory is allocated here (see mailproto_smtp_memory_needed).  Returns
 * MAILPROTO_OK, _E_INVALID (NULL out/cfg, bad values), _E_NOMEM. */
MAILPROTO_API int mailproto_smtp_new_sz(mailproto_smtp **out, const mailproto_smtp_config *cfg,
                                        size_t cfg_size, const mailproto_mem *mem);
#define mailproto_smtp_new(out, cfg, mem) mailproto_smtp_new_sz((out), (cfg), sizeof *(cfg), (mem))

/* Bytes mailproto_smtp_new_sz allocates for this config (for arenas), not
 * counting the transport. */
MAILPROTO_API size_t mailproto_smtp_memory_needed_sz(const mailproto_smtp_config *cfg,
                                                     size_t cfg_size);
#define mailproto_smtp_memory_needed(cfg) mailproto_smtp_memory_needed_sz((cfg), sizeof *(cfg))

/* Send QUIT when a session is open and idle (blocking handles wait up to
 * one second of inactivity for the reply; non-blocking ones only queue it),
 * close the connection and free everything.  NULL is ignored. */
MAILPROTO_API void mailproto_smtp_free(mailproto_smtp *s);

/* ---- envelope and results ---- */

#define MAILPROTO_BODY_AUTO 0       /* BODY=8BITMIME when offered; 8-bit data needs it */
#define MAILPROTO_BODY_7BIT 1       /* no BODY=; an 8-bit byte is an error */
#define MAILPROTO_BODY_8BITMIME 2   /* needs 8BITMIME */
#define MAILPROTO_BODY_BINARYMIME 3 /* needs BINARYMIME and CHUNKING; sent byte-exact */

#define MAILPROTO_DSN_NOTIFY_NEVER 1u
#define MAILPROTO_DSN_NOTIFY_SUCCESS 2u
#define MAILPROTO_DSN_NOTIFY_FAILURE 4u
#define MAILPROTO_DSN_NOTIFY_DELAY 8u
#define MAILPROTO_DSN_RET_FULL 1
#define MAILPROTO_DSN_RET_HDRS 2

/* One message's envelope.  Addresses are bare ("a@example.org", no angle
 * brackets); from may be "" for the null reverse path.  CR, LF, control
 * characters and angle brackets, or paths over RFC 5321's lengths (local
 * part 64, domain 255, path 256) give MAILPROTO_E_INVALID with nothing
 * written.  A non-ASCII domain is sent as its IDNA A-label when the server
 * lacks SMTPUTF8 (builds with libidn2); a non-ASCII local part needs
 * SMTPUTF8 (else MAILPROTO_E_UNSUPPORTED before MAIL FROM).  DSN
 * parameters are sent only when the server offers DSN. */
typedef struct mailproto_envelope {
    const char *from;
    const char *const *rcpt;
    size_t n_rcpt;
    const char *const *orcpt;   /* optional: n_rcpt original recipients (NULL entries: none) */
    unsigned dsn_notify;        /* MAILPROTO_DSN_NOTIFY_* bits; 0: none */
    int dsn_ret;                /* MAILPROTO_DSN_RET_*; 0: none */
    const char *dsn_envid;      /* ENVID, or NULL */
    int body;                   /* MAILPROTO_BODY_* */
    int smtputf8;               /* 1: the message needs SMTPUTF8 (UTF-8 headers) */
    int requiretls;             /* 1: REQUIRETLS (RFC 8689); refused if not offered */
    int require_all;            /* 1: all-or-nothing: RSET unless every RCPT is accepted */
    uint64_t size;              /* 0: the source's size, if known */
} mailproto_envelope;

/* One recipient's result.  code/enhanced/text are those of the reply that
 * decided it: the RCPT reply, or with LMTP the reply after the data. */
typedef struct mailproto_smtp_rcpt {
    int code;           /* 0 when no reply came */
    int accepted;       /* 1: the server took the message for this recipient */
    char enhanced[16];  /* "2.1.5" or "" */
    char text[96];      /* first reply line, sanitized, truncated */
} mailproto_smtp_rcpt;

/* The outcome of one message. */
typedef struct mailproto_smtp_result {
    int status;             /* MAILPROTO_OK or the error */
    int code;               /* reply to the end of data (or the failing command) */
    char enhanced[16];
    size_t n_rcpt;
    size_t n_accepted;
    size_t n_rejected;
    size_t first_rejected;  /* index of the first refused recipient (n_rcpt if none) */
    int data_complete;      /* 1: the end of data was written (see OUTCOME_UNKNOWN) */
} mailproto_smtp_result;

/* ---- blocking and non-blocking operations ---- */

/* Connect, (TLS,) read the greeting, EHLO, (STARTTLS, EHLO,) AUTH.
 * Blocking: returns MAILPROTO_OK when the session is ready, or an error:
 * _E_TLS_REQUIRED, network and TLS errors (fatal); _E_REJECTED (greeting or
 * EHLO refused: the session is over, later calls give _E_CLOSED); _E_AUTH
 * or _E_UNSUPPORTED (no usable AUTH mechanism): the session stays open
 * without authentication, the caller may QUIT or try to send anyway.
 * Non-blocking: returns MAILPROTO_AGAIN; _poll then gives
 * MAILPROTO_SMTP_EV_READY. */
MAILPROTO_API int mailproto_smtp_connect(mailproto_smtp *s);

/* Send one message: MAIL, RCPT..., DATA or BDAT, the body streamed from
 * body (constant memory).  Blocking only.  Returns MAILPROTO_OK when the
 * message was accepted for at least one recipient (all of them with
 * require_all) -- partial refusals are in res->n_rejected -- or an error:
 * _E_INVALID (nothing written), _E_UNSUPPORTED, _E_LIMIT (larger than the
 * server's SIZE), _E_REJECTED, _E_NOT_SENT, _E_OUTCOME_UNKNOWN,
 * _E_CANCELLED, _E_TIMEOUT.  res may be NULL.  A body source that answers
 * MAILPROTO_AGAIN makes it return MAILPROTO_AGAIN: continue with
 * mailproto_smtp_poll until MAILPROTO_SMTP_EV_SENT. */
MAILPROTO_API int mailproto_smtp_send(mailproto_smtp *s, const mailproto_envelope *env,
                                      mailproto_source *body, mailproto_smtp_result *res);

/* Start sending one message (non-blocking and engine modes; also allowed
 * in blocking mode, then drive it with _poll).  env and body must stay
 * valid until MAILPROTO_SMTP_EV_SENT.  Returns MAILPROTO_OK (queued),
 * _E_INVALID (nothing written), _E_UNSUPPORTED, _E_LIMIT, or _E_STATE
 * (not ready, or another operation runs). */
MAILPROTO_API int mailproto_smtp_submit(mailproto_smtp *s, const mailproto_envelope *env,
                                        mailproto_source *body);

/* QUIT.  Blocking: waits for the reply and closes; MAILPROTO_OK.
 * Non-blocking/engine: queues it; MAILPROTO_SMTP_EV_CLOSED follows. */
MAILPROTO_API int mailproto_smtp_quit(mailproto_smtp *s);

/* ---- events ---- */

#define MAILPROTO_SMTP_EV_READY 1    /* the session is ready for messages */
#define MAILPROTO_SMTP_EV_STARTTLS 2 /* engine mode: switch to TLS now, then _tls_ready() */
#define MAILPROTO_SMTP_EV_RCPT 3     /* a recipient's reply: index, code, enhanced, text */
#define MAILPROTO_SMTP_EV_SENT 4     /* a message finished: status; see _last_result */
#define MAILPROTO_SMTP_EV_CLOSED 5   /* QUIT answered; the session is over */

/* An event, owned by the handle, valid until the next call on it. */
typedef struct mailproto_smtp_event {
    int type;               /* MAILPROTO_SMTP_EV_* */
    int status;             /* SENT: MAILPROTO_OK or the message's error */
    size_t index;           /* RCPT: recipient index */
    int code;               /* RCPT, SENT: reply code */
    const char *enhanced;   /* "" when none */
    mailproto_span text;    /* reply text (sanitized) */
} mailproto_smtp_event;

/* Non-blocking step: do all the I/O possible now, then return
 * MAILPROTO_EVENT (*ev set; call again), MAILPROTO_AGAIN (wait), MAILPROTO_OK
 * (nothing to do: no operation runs) or an error.  now_ms is the caller's
 * monotonic clock.  AGAIN with mailproto_smtp_io_interest() == 0 means the
 * body source said AGAIN: poll again when it has data. */
MAILPROTO_API int mailproto_smtp_poll(mailproto_smtp *s, uint64_t now_ms,
                                      const mailproto_smtp_event **ev);

/* The socket to wait on, or -1 (none yet, or a callback transport). */
MAILPROTO_API int mailproto_smtp_fd(const mailproto_smtp *s);

/* MAILPROTO_IO_READ and/or MAILPROTO_IO_WRITE: what the last AGAIN waits for. */
MAILPROTO_API int mailproto_smtp_io_interest(const mailproto_smtp *s);

/* Milliseconds until the next deadline (a reply timeout, the connect or
 * TLS budget), 0 when it has passed, -1 when there is none. */
MAILPROTO_API int mailproto_smtp_timeout_ms(const mailproto_smtp *s, uint64_t now_ms);

/* ---- engine mode (the caller owns the connection) ---- */

/* Begin a session on a connection the caller has opened: the engine
 * expects the greeting (or first asks for TLS with EV_STARTTLS when
 * security is MAILPROTO_SEC_TLS).  Returns MAILPROTO_OK or _E_STATE. */
MAILPROTO_API int mailproto_smtp_start(mailproto_smtp *s);

/* Where to put received bytes: *p and *cap (0 when the engine wants no
 * input now).  Returns MAILPROTO_OK or a sticky error. */
MAILPROTO_API int mailproto_smtp_input_buf(mailproto_smtp *s, unsigned char **p, size_t *cap);

/* n bytes were stored at the input buffer; n == 0 means the peer closed. */
MAILPROTO_API int mailproto_smtp_input_done(mailproto_smtp *s, size_t n);

/* Bytes to send: *p and *len (0: nothing now). */
MAILPROTO_API int mailproto_smtp_output_buf(mailproto_smtp *s, const unsigned char **p,
                                            size_t *len);

/* n bytes of the output buffer were sent. */
MAILPROTO_API int mailproto_smtp_output_done(mailproto_smtp *s, size_t n);

/* Advance with the caller's clock: MAILPROTO_EVENT (*ev), MAILPROTO_AGAIN
 * (move bytes, see _input_buf/_output_buf and _timeout_ms), MAILPROTO_OK
 * (idle) or an error (fatal ones are sticky). */
MAILPROTO_API int mailproto_smtp_next(mailproto_smtp *s, uint64_t now_ms,
                                      const mailproto_smtp_event **ev);

/* The connection is now TLS (after MAILPROTO_SMTP_EV_STARTTLS). */
MAILPROTO_API int mailproto_smtp_tls_ready(mailproto_smtp *s);

/* ---- what the server said ---- */

/* The last error: status, reply code, enhanced code, server text, a
 * sentence.  Never NULL (a static empty record for NULL). */
MAILPROTO_API const mailproto_reply *mailproto_smtp_last_reply(const mailproto_smtp *s);

/* The outcome of the last message (zeroed before the first).  Returns
 * MAILPROTO_OK or _E_INVALID. */
MAILPROTO_API int mailproto_smtp_last_result(const mailproto_smtp *s, mailproto_smtp_result *out);

/* Recipient i of the last message, or NULL when out of range. */
MAILPROTO_API const mailproto_smtp_rcpt *mailproto_smtp_rcpt_result(const mailproto_smtp *s,
                                                                   size_t i);

/* MAILPROTO_SMTP_CAP_* of the current session (after TLS: only what the
 * server said over TLS). */
MAILPROTO_API unsigned mailproto_smtp_caps(const mailproto_smtp *s);

/* The server's SIZE limit (0: none announced). */
MAILPROTO_API uint64_t mailproto_smtp_size_limit(const mailproto_smtp *s);

/* The AUTH mechanisms offered, as a mask of MAILPROTO_AUTH_BIT(id). */
MAILPROTO_API unsigned mailproto_smtp_auth_mechs(const mailproto_smtp *s);

/* Nonzero when the session runs over TLS. */
MAILPROTO_API int mailproto_smtp_is_secure(const mailproto_smtp *s);

#ifdef __cplusplus
}
#endif

#endif /* MAILPROTO_SMTP_H */
