/*
 * libmailproto: POP3 client (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH
 * RFC 5034, UTF8 RFC 6856, implicit TLS RFC 8314).
 *
 * One opaque handle, mailproto_pop3, driven in one of three ways (as
 * mailproto_smtp):
 *
 *   blocking      mailproto_pop3_connect(), then mailproto_pop3_stat(),
 *                 _list(), _uidl(), _retr(), _top(), _dele(), _rset(),
 *                 _noop(), _sync(), mailproto_pop3_quit(): each returns when
 *                 done.
 *   non-blocking  cfg.nonblocking = 1.  mailproto_pop3_connect(),
 *                 mailproto_pop3_submit() and mailproto_pop3_quit() only
 *                 start an operation; call mailproto_pop3_poll() whenever
 *                 mailproto_pop3_fd() is ready for _io_interest() or
 *                 _timeout_ms() has passed.  Results come as events.
 *   engine        The caller owns the connection: mailproto_pop3_start(),
 *                 then move bytes with _input_buf()/_input_done() and
 *                 _output_buf()/_output_done(), and pull events with
 *                 mailproto_pop3_next().  STLS (and implicit TLS) show up as
 *                 MAILPROTO_POP3_EV_STARTTLS: switch the connection to TLS,
 *                 then call mailproto_pop3_tls_ready().
 *
 * Security defaults: implicit TLS for port 995, STLS required otherwise
 * (a server without STLS, or refusing it, gives MAILPROTO_E_TLS_REQUIRED
 * before any credential is sent); plain text only with security =
 * MAILPROTO_SEC_PLAIN; credentials (USER/PASS, AUTH, even APOP's digest)
 * are sent only over TLS unless allow_plaintext_auth is set.  After STLS
 * everything learned in plain text (CAPA, the APOP timestamp) is forgotten
 * and CAPA is asked again.
 *
 * Memory: everything is allocated by mailproto_pop3_new_sz (buffers sized
 * by the config); nothing grows with what the server announces.  Message
 * bodies (RETR, TOP) are dot-unstuffed and streamed to a mailproto_sink in
 * constant memory.
 *
 * A handle is used by one thread at a time.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_POP3_H
#define MAILPROTO_POP3_H

#include <mailproto/common.h>
#include <mailproto/sasl.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mailproto_pop3 mailproto_pop3;
struct mailproto_tls_config; /* <mailproto/transport.h> */
struct mailproto_io;         /* <mailproto/transport.h> */

/* Connection security (config field security); the same values as in
 * <mailproto/smtp.h>. */
#ifndef MAILPROTO_SEC_DEFAULT
#define MAILPROTO_SEC_DEFAULT 0   /* MAILPROTO_SEC_TLS for port 995, else _STARTTLS */
#define MAILPROTO_SEC_TLS 1       /* implicit TLS from the first byte */
#define MAILPROTO_SEC_STARTTLS 2  /* STLS required */
#define MAILPROTO_SEC_PLAIN 3     /* no TLS at all (asked for by name) */
#endif

/* How to log in (config field login). */
#define MAILPROTO_POP3_LOGIN_AUTO 0 /* AUTH (SASL) when a usable mechanism is offered, else USER/PASS */
#define MAILPROTO_POP3_LOGIN_SASL 1 /* AUTH only (auth_mech picks the mechanism) */
#define MAILPROTO_POP3_LOGIN_USER 2 /* USER/PASS only */
#define MAILPROTO_POP3_LOGIN_APOP 3 /* APOP (MD5 of the greeting timestamp); only when asked */

/* Capabilities from CAPA (mailproto_pop3_caps). */
#define MAILPROTO_POP3_CAP_TOP (1u << 0)
#define MAILPROTO_POP3_CAP_USER (1u << 1)
#define MAILPROTO_POP3_CAP_SASL (1u << 2)
#define MAILPROTO_POP3_CAP_RESP_CODES (1u << 3)
#define MAILPROTO_POP3_CAP_AUTH_RESP_CODE (1u << 4)
#define MAILPROTO_POP3_CAP_PIPELINING (1u << 5)
#define MAILPROTO_POP3_CAP_UIDL (1u << 6)
#define MAILPROTO_POP3_CAP_EXPIRE (1u << 7)
#define MAILPROTO_POP3_CAP_LOGIN_DELAY (1u << 8)
#define MAILPROTO_POP3_CAP_STLS (1u << 9)
#define MAILPROTO_POP3_CAP_UTF8 (1u << 10)
#define MAILPROTO_POP3_CAP_IMPLEMENTATION (1u << 11)
#define MAILPROTO_POP3_CAP_CAPA (1u << 12) /* the server answered CAPA with +OK */

/* EXPIRE value meaning "never" (mailproto_pop3_capa). */
#define MAILPROTO_POP3_EXPIRE_NEVER UINT32_MAX

/* What CAPA said besides the bits. */
typedef struct mailproto_pop3_capa_info {
    unsigned caps;              /* MAILPROTO_POP3_CAP_* */
    unsigned sasl;              /* mask of MAILPROTO_AUTH_BIT(id) from "SASL ..." */
    uint32_t expire_days;       /* EXPIRE n (days), _EXPIRE_NEVER, 0 when absent */
    int expire_user;            /* EXPIRE ... USER: the value may differ per user */
    uint32_t login_delay_s;     /* LOGIN-DELAY n (seconds), 0 when absent */
    int login_delay_user;
    int utf8_user;              /* "UTF8 USER": USER/PASS take UTF-8 */
    char implementation[64];    /* IMPLEMENTATION text (sanitized, truncated), "" */
} mailproto_pop3_capa_info;

/* Called when the server rejects an OAuth token: store a fresh token in
 * *token (caller-owned, valid until the next call or the handle is freed)
 * and return 0 to retry once; nonzero gives up. */
typedef int (*mailproto_pop3_token_fn)(void *ctx, const char **token);

/* Creation-time configuration.  Zero means the default everywhere. */
typedef struct mailproto_pop3_config {
    const char *host;           /* server name (TLS name check, SNI) */
    uint16_t port;              /* default 110 (995 with MAILPROTO_SEC_TLS) */
    int security;               /* MAILPROTO_SEC_* */
    const struct mailproto_tls_config *tls; /* NULL: system CAs, TLS 1.2+ */
    const struct mailproto_io *io; /* non-NULL: talk through these callbacks, not TCP */

    const char *username;       /* NULL: no login (the session stops at EV_READY unauthenticated) */
    const char *password;
    const char *authzid;        /* optional SASL authorization identity */
    const char *oauth_token;    /* bearer token for XOAUTH2/OAUTHBEARER */
    mailproto_pop3_token_fn token_refresh;
    void *token_ctx;
    int login;                  /* MAILPROTO_POP3_LOGIN_* */
    int auth_mech;              /* MAILPROTO_AUTH_*; 0: strongest advertised */
    int allow_plaintext_auth;   /* 1: allow credentials without TLS (MAILPROTO_SEC_PLAIN) */
    int utf8;                   /* 1: send "UTF8" (RFC 6856) when offered, before login */

    int nonblocking;            /* 1: operations return MAILPROTO_AGAIN, use _poll */
    int timeout_ms;             /* connect / TLS budget; default 30000 */
    int inactivity_timeout_ms;  /* no byte while a reply is awaited or output
                                   stalls; default 60000 */

    size_t max_line;            /* status or listing line, CRLF excluded; default 8192, min 512 */
    size_t in_buf_size;         /* default 16384 (at least max_line + 2) */
    size_t out_buf_size;        /* default 2048; min 1024 */
    uint32_t max_list;          /* entries in one LIST/UIDL listing; default 1000000 */
    size_t max_capa_lines;      /* default 4096 */
    size_t pipeline_depth;      /* commands in flight with PIPELINING; default 16, max 64 */
    int no_pipelining;          /* 1: one command at a time even if PIPELINING is offered */
    size_t sync_batch;          /* messages handled per UIDL pass of _sync; default 64 */

    mailproto_trace_fn trace;   /* protocol trace; credentials always redacted */
    void *trace_ctx;
    int trace_data;             /* 1: the trace gets message bytes, not counts */
    mailproto_clock_fn clock;   /* blocking mode; default mailproto_clock_monotonic_ms */
    void *clock_ctx;
    mailproto_progress_fn progress; /* during RETR/TOP; total is RETR's "+OK n octets"
                                       when the server says it (a hint, never below
                                       done), else MAILPROTO_SIZE_UNKNOWN; nonzero
                                       cancels with MAILPROTO_E_CANCELLED */
    void *progress_ctx;
    /* Random bytes (SCRAM nonce); default the OS.  Returns MAILPROTO_OK. */
    int (*random)(void *ctx, void *buf, size_t n);
    void *random_ctx;
} mailproto_pop3_config;

/* Create a handle (no I/O yet).  cfg is copied; the strings it points to
 * must stay valid for the handle's life.  mem may be NULL (malloc).  All
 * memory is allocated here.  Returns MAILPROTO_OK, _E_INVALID (NULL
 * out/cfg, bad values, CR/LF in a name), _E_NOMEM. */
MAILPROTO_API int mailproto_pop3_new_sz(mailproto_pop3 **out, const mailproto_pop3_config *cfg,
                                        size_t cfg_size, const mailproto_mem *mem);
#define mailproto_pop3_new(out, cfg, mem) mailproto_pop3_new_sz((out), (cfg), sizeof *(cfg), (mem))

/* Bytes mailproto_pop3_new_sz allocates for this config (for arenas), not
 * counting the transport; 0 for an invalid config. */
MAILPROTO_API size_t mailproto_pop3_memory_needed_sz(const mailproto_pop3_config *cfg,
                                                     size_t cfg_size);
#define mailproto_pop3_memory_needed(cfg) mailproto_pop3_memory_needed_sz((cfg), sizeof *(cfg))

/* Close the connection WITHOUT sending QUIT (so messages marked with DELE
 * are kept: call mailproto_pop3_quit first to commit them) and free
 * everything.  NULL is ignored. */
MAILPROTO_API void mailproto_pop3_free(mailproto_pop3 *p);

/* ---- commands ---- */

#define MAILPROTO_POP3_STAT 1
#define MAILPROTO_POP3_LIST 2       /* msg 0: all messages */
#define MAILPROTO_POP3_UIDL 3       /* msg 0: all messages */
#define MAILPROTO_POP3_RETR 4       /* body to the sink */
#define MAILPROTO_POP3_TOP 5        /* header + lines body lines to the sink */
#define MAILPROTO_POP3_DELE 6
#define MAILPROTO_POP3_RSET 7
#define MAILPROTO_POP3_NOOP 8
#define MAILPROTO_POP3_QUIT 9

/* The outcome of the session's deletions (mailproto_pop3_outcome). */
#define MAILPROTO_POP3_OUTCOME_NONE 0          /* the session has not ended */
#define MAILPROTO_POP3_OUTCOME_COMMITTED 1     /* +OK to QUIT: deletions done */
#define MAILPROTO_POP3_OUTCOME_NOT_COMMITTED 2 /* lost before QUIT was sent, or -ERR to it */
#define MAILPROTO_POP3_OUTCOME_UNKNOWN 3       /* lost after QUIT was sent, before its reply */

/* ---- events ---- */

#define MAILPROTO_POP3_EV_READY 1    /* logged in (or greeted, without username) */
#define MAILPROTO_POP3_EV_STARTTLS 2 /* engine mode: switch to TLS now, then _tls_ready() */
#define MAILPROTO_POP3_EV_ENTRY 3    /* one LIST (msg, size) or UIDL (msg, uid) line */
#define MAILPROTO_POP3_EV_DONE 4     /* a command finished: cmd, msg, status, ... */
#define MAILPROTO_POP3_EV_CLOSED 5   /* QUIT answered (or the session ended): outcome */

/* An event, owned by the handle, valid until the next call on it. */
typedef struct mailproto_pop3_event {
    int type;               /* MAILPROTO_POP3_EV_* */
    int cmd;                /* ENTRY, DONE: MAILPROTO_POP3_* */
    int status;             /* DONE: MAILPROTO_OK, _E_REJECTED (-ERR; see temporary,
                               resp_code), _E_CALLBACK (the sink failed; the rest of
                               the message was read and dropped), _E_CANCELLED;
                               CLOSED: as mailproto_pop3_quit returns */
    uint32_t msg;           /* the message number (0 for all / none) */
    uint32_t count;         /* DONE of STAT: messages; of LIST/UIDL (all): entries */
    uint64_t size;          /* ENTRY of LIST, DONE of STAT: octets; DONE of RETR/TOP:
                               bytes given to the sink */
    mailproto_span uid;     /* ENTRY of UIDL */
    int temporary;          /* DONE with -ERR: [IN-USE], [LOGIN-DELAY], [SYS/TEMP] */
    const char *resp_code;  /* extended response code ("SYS/PERM") or "" */
    mailproto_span text;    /* the status line's text (sanitized) */
    int outcome;            /* CLOSED: MAILPROTO_POP3_OUTCOME_* */
} mailproto_pop3_event;

/* Queue a command (non-blocking and engine modes; also allowed in
 * blocking mode, then drive it with _poll).  msg is the message number (0
 * for "all" with LIST/UIDL; required >= 1 for RETR, TOP, DELE), lines the
 * body lines of TOP, sink receives RETR/TOP data (copied; its ctx must
 * stay valid until the command's EV_DONE).  Commands are answered in
 * order; with PIPELINING up to pipeline_depth go out at once.  Returns
 * MAILPROTO_OK (queued), _E_INVALID, _E_UNSUPPORTED (TOP or UIDL when CAPA
 * said the server lacks it), _E_LIMIT (the queue is full: wait for an
 * EV_DONE), _E_STATE (not logged in, or QUIT queued) or, once the
 * session has failed, its sticky fatal status. */
MAILPROTO_API int mailproto_pop3_submit(mailproto_pop3 *p, int cmd, uint32_t msg, uint32_t lines,
                                        const mailproto_sink *sink);

/* Non-blocking step: do all the I/O possible now, then return
 * MAILPROTO_EVENT (*ev set; call again), MAILPROTO_AGAIN (wait),
 * MAILPROTO_OK (nothing to do) or an error.  now_ms is the caller's
 * monotonic clock. */
MAILPROTO_API int mailproto_pop3_poll(mailproto_pop3 *p, uint64_t now_ms,
                                      const mailproto_pop3_event **ev);

/* The socket to wait on, or -1. */
MAILPROTO_API int mailproto_pop3_fd(const mailproto_pop3 *p);

/* MAILPROTO_IO_READ and/or MAILPROTO_IO_WRITE: what the last AGAIN waits for. */
MAILPROTO_API int mailproto_pop3_io_interest(const mailproto_pop3 *p);

/* Milliseconds until the next deadline, 0 when it has passed, -1 none. */
MAILPROTO_API int mailproto_pop3_timeout_ms(const mailproto_pop3 *p, uint64_t now_ms);

/* ---- blocking operations (and the start of non-blocking ones) ---- */

/* Connect, (TLS,) read the greeting, CAPA, (STLS, CAPA,) [UTF8,] log in.
 * Blocking: MAILPROTO_OK when the session is in the TRANSACTION state, or
 * an error: _E_TLS_REQUIRED, _E_AUTH (with last_reply temporary/resp_code
 * telling "try later" from "wrong credentials"), _E_REJECTED (greeting
 * -ERR), _E_UNSUPPORTED (no usable login method; APOP without a valid
 * timestamp), network and TLS errors.  Non-blocking: MAILPROTO_AGAIN;
 * _poll then gives MAILPROTO_POP3_EV_READY. */
MAILPROTO_API int mailproto_pop3_connect(mailproto_pop3 *p);

/* Called for each LIST/UIDL entry by the blocking listing calls; a
 * nonzero return stops the calls (the listing is still read to its end)
 * and the call returns MAILPROTO_E_CALLBACK. */
typedef int (*mailproto_pop3_entry_fn)(void *ctx, const mailproto_pop3_event *ev);

/* The blocking commands below (blocking handles only, one at a time)
 * return MAILPROTO_OK, _E_REJECTED (-ERR; last_reply has resp_code and
 * temporary), _E_INVALID, _E_UNSUPPORTED, _E_STATE (not in TRANSACTION,
 * a non-blocking handle, or the session is over) or a fatal session
 * error (_E_CLOSED, _E_IO, _E_TLS, _E_TIMEOUT, _E_PROTOCOL, _E_LIMIT).
 * Nothing they return is owned by the caller beyond the call. */

/* STAT: *count messages, *size octets (either may be NULL). */
MAILPROTO_API int mailproto_pop3_stat(mailproto_pop3 *p, uint32_t *count, uint64_t *size);

/* LIST (msg 0: all) and UIDL (msg 0: all); fn sees each entry.  A full
 * listing must give each message number once, in ascending order (as
 * RFC 1939 servers do); a repeated or backwards number is
 * MAILPROTO_E_PROTOCOL (fatal).  Returns MAILPROTO_OK, _E_REJECTED (-ERR),
 * _E_CALLBACK (fn stopped), _E_UNSUPPORTED (UIDL not in CAPA), _E_STATE,
 * _E_LIMIT (more than max_list entries) or a session error. */
MAILPROTO_API int mailproto_pop3_list(mailproto_pop3 *p, uint32_t msg, mailproto_pop3_entry_fn fn,
                                      void *ctx);
MAILPROTO_API int mailproto_pop3_uidl(mailproto_pop3 *p, uint32_t msg, mailproto_pop3_entry_fn fn,
                                      void *ctx);

/* RETR / TOP msg, streamed to sink (dot-unstuffed; the sink is only
 * used during the call).  *written (may be NULL) gets the bytes
 * delivered.  Besides the above: _E_CALLBACK (the sink failed; the rest
 * of the message was read and dropped, the session goes on),
 * _E_CANCELLED (the progress callback said stop; likewise). */
MAILPROTO_API int mailproto_pop3_retr(mailproto_pop3 *p, uint32_t msg, const mailproto_sink *sink,
                                      uint64_t *written);
MAILPROTO_API int mailproto_pop3_top(mailproto_pop3 *p, uint32_t msg, uint32_t lines,
                                     const mailproto_sink *sink, uint64_t *written);

/* DELE, RSET, NOOP.  (Deletions take effect only after QUIT.) */
MAILPROTO_API int mailproto_pop3_dele(mailproto_pop3 *p, uint32_t msg);
MAILPROTO_API int mailproto_pop3_rset(mailproto_pop3 *p);
MAILPROTO_API int mailproto_pop3_noop(mailproto_pop3 *p);

/* QUIT.  Blocking: waits for the reply and closes.  Returns MAILPROTO_OK
 * (committed), _E_REJECTED (-ERR: not committed), _E_NOT_SENT (the
 * session failed -- connection lost, TLS or I/O error, timeout, malformed
 * reply -- before QUIT went out: not committed), _E_OUTCOME_UNKNOWN (the
 * same after QUIT was sent, before its reply; last_reply says the cause;
 * also _E_NOT_SENT when the session had already failed in TRANSACTION).
 * Non-blocking/engine: queues it; MAILPROTO_POP3_EV_CLOSED follows (with
 * the status and outcome), or _poll/_next return _E_NOT_SENT or
 * _E_OUTCOME_UNKNOWN when the session fails first.  mailproto_pop3_free
 * never sends QUIT: deletions are committed only by this call. */
MAILPROTO_API int mailproto_pop3_quit(mailproto_pop3 *p);

/* MAILPROTO_POP3_OUTCOME_* of the session's end. */
MAILPROTO_API int mailproto_pop3_outcome(const mailproto_pop3 *p);

/* ---- the classic "leave on server" sync ---- */

typedef struct mailproto_pop3_sync_config {
    void *ctx;
    /* Required.  Does the caller already have the message with this UIDL?
     * Return 1 (yes; set *fetched_at to when it was fetched, in the same
     * unit as now_s, or leave -1 when unknown), 0 (new), or a negative
     * value to stop the sync (MAILPROTO_E_CALLBACK). */
    int (*known)(void *ctx, const char *uid, int64_t *fetched_at);
    /* Optional.  Set *sink for the new message msg; return 0 (fetch it),
     * 1 (skip it this time) or a negative value (stop).  NULL: new
     * messages are only reported to done(), with status MAILPROTO_OK and
     * nothing fetched or deleted. */
    int (*open)(void *ctx, uint32_t msg, const char *uid, mailproto_sink *sink);
    /* Required.  A new message was fetched into its sink (status
     * MAILPROTO_OK: remember uid now) or failed (the error).  Return 0
     * to go on, nonzero to stop. */
    int (*done)(void *ctx, uint32_t msg, const char *uid, int status);
    int delete_after_fetch;     /* 1: DELE each message once fetched and done() */
    uint32_t delete_after_days; /* > 0: DELE known messages fetched that long ago */
    int64_t now_s;              /* current time in seconds (for delete_after_days) */
} mailproto_pop3_sync_config;

typedef struct mailproto_pop3_sync_result {
    uint32_t listed;            /* messages on the server (UIDL entries) */
    uint32_t new_msgs;          /* not known to the caller */
    uint32_t fetched;           /* fetched and reported done with OK */
    uint32_t failed;            /* fetches that failed (the sync went on) */
    uint32_t deleted;           /* DELE accepted (committed only by QUIT) */
} mailproto_pop3_sync_result;

/* Blocking only.  UIDL, then for each message whose UIDL is not known:
 * open(), RETR into the sink, done(); optionally DELE after the fetch, or
 * for known messages fetched delete_after_days ago.  At most sync_batch
 * messages are handled per UIDL pass (the batch lives in the handle), so
 * memory does not depend on the mailbox.  The price: each pass lists the
 * mailbox again, so N messages with K to handle cost about N * K /
 * sync_batch listing lines (and known() calls); raise sync_batch (about
 * 80 bytes each, at most 65536) for big first syncs.  Relies on the
 * listing being in ascending message order (see mailproto_pop3_list).
 * Needs the server's UIDL.
 * Returns MAILPROTO_OK (per-message failures are counted in res->failed),
 * _E_UNSUPPORTED (no UIDL), _E_CALLBACK, or a session error.  Call
 * mailproto_pop3_quit afterwards to commit deletions.  res may be NULL. */
MAILPROTO_API int mailproto_pop3_sync(mailproto_pop3 *p, const mailproto_pop3_sync_config *sc,
                                      mailproto_pop3_sync_result *res);

/* ---- engine mode (the caller owns the connection) ---- */

/* Begin a session on a connection the caller opened.  MAILPROTO_OK or _E_STATE. */
MAILPROTO_API int mailproto_pop3_start(mailproto_pop3 *p);

/* Where to put received bytes: *buf and *cap (0 when no input is wanted:
 * waiting for TLS, closed or failed).  The buffer belongs to the handle.
 * Returns MAILPROTO_OK, _E_INVALID, _E_STATE (not in engine mode) or the
 * sticky fatal status. */
MAILPROTO_API int mailproto_pop3_input_buf(mailproto_pop3 *p, unsigned char **buf, size_t *cap);

/* n bytes were stored at the input buffer; n == 0 means the peer closed.
 * Returns MAILPROTO_OK, _E_INVALID (n larger than the offered room),
 * _E_STATE or the sticky fatal status. */
MAILPROTO_API int mailproto_pop3_input_done(mailproto_pop3 *p, size_t n);

/* Bytes to send: *buf and *len (0: nothing now); the bytes belong to the
 * handle and stay valid until _output_done or the next _next.  Returns
 * MAILPROTO_OK, _E_INVALID, _E_STATE or the sticky fatal status. */
MAILPROTO_API int mailproto_pop3_output_buf(mailproto_pop3 *p, const unsigned char **buf,
                                            size_t *len);

/* n bytes of the output buffer were sent.  Returns MAILPROTO_OK,
 * _E_INVALID (more than offered) or _E_STATE. */
MAILPROTO_API int mailproto_pop3_output_done(mailproto_pop3 *p, size_t n);

/* Advance with the caller's clock: MAILPROTO_EVENT (*ev), MAILPROTO_AGAIN
 * (move bytes), MAILPROTO_OK (idle) or an error (fatal ones are sticky). */
MAILPROTO_API int mailproto_pop3_next(mailproto_pop3 *p, uint64_t now_ms,
                                      const mailproto_pop3_event **ev);

/* The connection is now TLS (after MAILPROTO_POP3_EV_STARTTLS): everything
 * learned before is forgotten.  MAILPROTO_OK, _E_INVALID or _E_STATE (no
 * TLS upgrade pending). */
MAILPROTO_API int mailproto_pop3_tls_ready(mailproto_pop3 *p);

/* ---- what the server said ---- */

/* The last error: status, POP3 extended code (resp_code), temporary,
 * server text, a sentence.  Never NULL. */
MAILPROTO_API const mailproto_reply *mailproto_pop3_last_reply(const mailproto_pop3 *p);

/* MAILPROTO_POP3_CAP_* of the current session (after TLS: only what was
 * said over TLS). */
MAILPROTO_API unsigned mailproto_pop3_caps(const mailproto_pop3 *p);

/* Everything CAPA said.  Returns MAILPROTO_OK or _E_INVALID. */
MAILPROTO_API int mailproto_pop3_capa(const mailproto_pop3 *p, mailproto_pop3_capa_info *out);

/* Nonzero when the session runs over TLS. */
MAILPROTO_API int mailproto_pop3_is_secure(const mailproto_pop3 *p);

#ifdef __cplusplus
}
#endif

#endif /* MAILPROTO_POP3_H */
