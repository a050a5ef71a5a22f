/*
 * libmailproto: transports.
 *
 * A mailproto_transport carries bytes to a server: over the OS's TCP
 * sockets, over TLS (Mbed TLS) wrapping any other transport, or over I/O
 * callbacks the caller supplies (lwIP, an RTOS socket, a modem, a vendor TLS
 * stack).  The protocol engines never see a transport; the client handles
 * (mailproto_smtp, mailproto_imap, mailproto_pop3) own one each.
 *
 * Every function may be called in blocking or non-blocking mode.  In
 * non-blocking mode MAILPROTO_AGAIN means "wait for
 * mailproto_transport_io_interest() on mailproto_transport_fd(), or until
 * mailproto_transport_timeout_ms(), then call again".
 *
 * A transport is used by one thread at a time.  A mailproto_tls_config may
 * be shared read-only by many transports of one thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_TRANSPORT_H
#define MAILPROTO_TRANSPORT_H

#include <mailproto/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mailproto_transport mailproto_transport;
typedef struct mailproto_tls_config mailproto_tls_config;

/* ------------------------------------------------------------------ */
/* Caller-supplied I/O                                                 */
/* ------------------------------------------------------------------ */

#define MAILPROTO_IO_VERSION 1

/* I/O callbacks of the caller's own network stack.  Each returns
 * MAILPROTO_OK with the byte count in *done (recv: 0 means the peer closed),
 * MAILPROTO_AGAIN when it would block, or a negative status.  Set version to
 * MAILPROTO_IO_VERSION; zeroed optional members are simply absent. */
typedef struct mailproto_io {
    unsigned version;
    void *user;
    int (*send)(void *user, const void *buf, size_t len, size_t *done);
    int (*recv)(void *user, void *buf, size_t cap, size_t *done);
    void (*close)(void *user);                  /* optional */
    /* Optional: switch the connection to TLS with the caller's own stack
     * (may return MAILPROTO_AGAIN; it is called again until OK).  Without it,
     * mailproto_transport_start_tls() runs Mbed TLS over send/recv. */
    int (*start_tls)(void *user, const char *host);
    int (*is_secure)(void *user);               /* optional: nonzero once TLS is up */
    int (*fd)(void *user);                      /* optional: a pollable fd, or -1 */
    /* Optional, for blocking use: wait until interest (MAILPROTO_IO_*) is
     * possible or timeout_ms passes.  Returns MAILPROTO_OK or
     * MAILPROTO_E_TIMEOUT.  Without it, AGAIN from send/recv is returned to
     * the caller even by blocking calls. */
    int (*wait)(void *user, int interest, int timeout_ms);
} mailproto_io;

/* ------------------------------------------------------------------ */
/* Creating transports                                                 */
/* ------------------------------------------------------------------ */

/* How to reach a server over TCP.  Zero means the default. */
typedef struct mailproto_tcp_config {
    const char *host;          /* name or address literal */
    uint16_t port;
    int connect_timeout_ms;    /* whole connect budget; default 30000 */
    int io_timeout_ms;         /* blocking send/recv wait; default 60000 */
    int nonblocking;           /* 1: never block, return MAILPROTO_AGAIN */
    int family;                /* 0 any, 4 IPv4 only, 6 IPv6 only */
    mailproto_clock_fn clock;  /* default: mailproto_clock_monotonic_ms */
    void *clock_ctx;
    mailproto_trace_fn trace;  /* notes (addresses tried, TLS state) */
    void *trace_ctx;
} mailproto_tcp_config;

/* Resolve cfg->host with getaddrinfo and connect, racing the addresses
 * RFC 8305-style (IPv6 first, the families interleaved, the next address
 * 250 ms after the previous one started, or at once when it failed) within
 * connect_timeout_ms.  Blocking: returns MAILPROTO_OK when connected, or
 * MAILPROTO_E_RESOLVE / _E_CONNECT / _E_TIMEOUT.  Non-blocking: may return
 * MAILPROTO_AGAIN with *out set; finish with mailproto_transport_step()
 * (while several attempts are in flight, timeout_ms is at most 25 ms so
 * that the ones not behind mailproto_transport_fd() are looked at too).
 * When the call itself fails, *out is NULL and nothing needs freeing (the
 * reason went to cfg->trace); a failure reported later by step() keeps
 * its sentence in mailproto_transport_last_error() until the transport is
 * freed.  (Name resolution itself may block; use
 * mailproto_transport_tcp_addrs to avoid that.)  mem may be NULL (malloc).
 * Sockets never raise SIGPIPE (MSG_NOSIGNAL / SO_NOSIGPIPE). */
MAILPROTO_API int mailproto_transport_tcp(mailproto_transport **out, const mailproto_tcp_config *cfg,
                                          const mailproto_mem *mem);

/* As mailproto_transport_tcp, with addresses the caller resolved itself:
 * addrs points to n_addrs struct sockaddr pointers (sockaddr_in or
 * sockaddr_in6, lengths in addr_lens).  Nothing blocks in non-blocking mode.
 * cfg->host is still used for TLS (SNI, name check).  Returns as
 * mailproto_transport_tcp (never _E_RESOLVE); _E_INVALID for no or
 * malformed addresses. */
MAILPROTO_API int mailproto_transport_tcp_addrs(mailproto_transport **out,
                                                const mailproto_tcp_config *cfg,
                                                const void *const *addrs,
                                                const unsigned *addr_lens, size_t n_addrs,
                                                const mailproto_mem *mem);

/* A transport over the caller's callbacks (copied; io->user must stay
 * valid).  Returns MAILPROTO_OK, _E_INVALID (missing send/recv or bad
 * version) or _E_NOMEM. */
MAILPROTO_API int mailproto_transport_io(mailproto_transport **out, const mailproto_io *io,
                                         const mailproto_mem *mem);

/* Close the connection and free the transport.  NULL is ignored. */
MAILPROTO_API void mailproto_transport_free(mailproto_transport *t);

/* ------------------------------------------------------------------ */
/* TLS                                                                 */
/* ------------------------------------------------------------------ */

#define MAILPROTO_TLS_1_2 0x0303
#define MAILPROTO_TLS_1_3 0x0304

/* TLS settings, shared by every connection made with the config.  Zero
 * means the default: verify against the system CA bundle
 * (/etc/ssl/certs/ca-certificates.crt), TLS 1.2 minimum. */
typedef struct mailproto_tls_options {
    const char *ca_file;        /* PEM bundle */
    const char *ca_dir;         /* directory of PEM files */
    const char *ca_pem;         /* PEM text in memory ... */
    size_t ca_pem_len;          /* ... and its length (0: strlen) */
    const char *cert_file;      /* client certificate (PEM), optional */
    const char *key_file;       /* its private key (PEM) */
    const char *key_password;   /* optional (Mbed TLS 2.28 reads encrypted keys in
                                   the traditional PEM format, not PKCS#8 with AES) */
    /* Pin: "sha256:HEX" of the server certificate (DER) or of its public
     * key (SubjectPublicKeyInfo DER).  When set, a certificate matching the
     * pin is accepted even if self-signed; any other is refused with
     * MAILPROTO_E_CERT_PIN. */
    const char *pin_cert_sha256;
    const char *pin_pubkey_sha256;
    int min_version;            /* MAILPROTO_TLS_1_2 (default) or _1_3 */
    /* Accept any certificate.  Only for tests; the trace says so on every
     * connection. */
    int insecure_skip_verify;
    int no_session_cache;       /* 1: never resume sessions */
} mailproto_tls_options;

/* Build a TLS configuration (parses the CA chain once).  The config also
 * holds the random generator and a session cache (16 host:port entries)
 * that every handshake updates, so share one config among the transports
 * of one thread (or serialise the handshakes of several threads); it must
 * outlive them.  Without a CA option, the system bundle is used, unless a
 * pin is set (then the pin alone decides).  Returns
 * MAILPROTO_OK, _E_INVALID (unreadable CA, certificate, key or pin; see
 * errbuf when given), _E_UNSUPPORTED (built without TLS) or _E_NOMEM.
 * errbuf (may be NULL) receives a readable reason. */
MAILPROTO_API int mailproto_tls_config_new(mailproto_tls_config **out,
                                           const mailproto_tls_options *opt,
                                           const mailproto_mem *mem, char *errbuf,
                                           size_t errbuf_len);

/* Free a TLS configuration.  Every transport using it must be freed first. */
MAILPROTO_API void mailproto_tls_config_free(mailproto_tls_config *cfg);

/* Switch the connection to TLS, checking the certificate against host
 * (also sent as SNI; NULL: cfg->host of the TCP transport).  host should
 * be a DNS name: Mbed TLS 2.28 does not match IP-address subjectAltNames
 * (use a pin for a server known only by its address).  tls may be
 * NULL for the defaults (the system bundle parsed for this connection
 * alone, no resumption: pass a shared config instead).  On a TCP
 * transport, unread plaintext already waiting in the socket fails the
 * upgrade with MAILPROTO_E_STARTTLS_INJECTION before anything is sent (the
 * engines check their own buffers; a callback transport is checked the
 * same way when io->fd gives a socket, and otherwise is the caller's to
 * check).  Used right after
 * connecting (implicit TLS) or after a STARTTLS go-ahead.  Blocking: returns
 * when the handshake is done; non-blocking: may return MAILPROTO_AGAIN,
 * then call mailproto_transport_step().  Errors: _E_TLS, _E_CERT_*,
 * _E_UNSUPPORTED (no TLS in this build and no io->start_tls). */
MAILPROTO_API int mailproto_transport_start_tls(mailproto_transport *t,
                                                const mailproto_tls_config *tls,
                                                const char *host);

/* Nonzero once the connection is protected by TLS. */
MAILPROTO_API int mailproto_transport_is_secure(const mailproto_transport *t);

/* Nonzero when the last handshake resumed an earlier session. */
MAILPROTO_API int mailproto_transport_tls_resumed(const mailproto_transport *t);

/* ------------------------------------------------------------------ */
/* Moving bytes                                                        */
/* ------------------------------------------------------------------ */

/* Continue a connect or TLS handshake that returned MAILPROTO_AGAIN.
 * now_ms is the caller's clock (for the connect race and deadline).
 * Returns MAILPROTO_OK when ready, MAILPROTO_AGAIN, or an error. */
MAILPROTO_API int mailproto_transport_step(mailproto_transport *t, uint64_t now_ms);

/* Send up to len bytes; *done tells how many went.  MAILPROTO_OK,
 * MAILPROTO_AGAIN (nothing sent) or an error (_E_IO, _E_CLOSED,
 * _E_TIMEOUT in blocking mode).  Never raises SIGPIPE.  Over TLS, bytes
 * reported sent may still sit in an encrypted record that the socket did
 * not take; the next send or recv pushes it out first (a recv then waits
 * for READ|WRITE), as a kernel buffer would. */
MAILPROTO_API int mailproto_transport_send(mailproto_transport *t, const void *buf, size_t len,
                                           size_t *done);

/* Receive up to cap bytes; *done == 0 with MAILPROTO_OK means the peer
 * closed.  MAILPROTO_AGAIN when nothing is there yet. */
MAILPROTO_API int mailproto_transport_recv(mailproto_transport *t, void *buf, size_t cap,
                                           size_t *done);

/* Bytes already received and decrypted but not yet read by recv (TLS). */
MAILPROTO_API size_t mailproto_transport_pending(const mailproto_transport *t);

/* Block until interest (MAILPROTO_IO_*) is possible or timeout_ms passes
 * (-1: no limit; interest 0 just sleeps).  Returns at once for READ when
 * decrypted bytes are pending.  MAILPROTO_OK, MAILPROTO_E_TIMEOUT, or
 * _E_UNSUPPORTED for a callback transport without wait. */
MAILPROTO_API int mailproto_transport_wait(mailproto_transport *t, int interest, int timeout_ms);

/* The socket to poll, or -1 (callback transport without fd). */
MAILPROTO_API int mailproto_transport_fd(const mailproto_transport *t);

/* The directions (MAILPROTO_IO_READ/WRITE) the last MAILPROTO_AGAIN waits
 * for. */
MAILPROTO_API int mailproto_transport_io_interest(const mailproto_transport *t);

/* Milliseconds until the transport's next deadline (connect race or
 * budget, handshake), or -1 when it has none. */
MAILPROTO_API int mailproto_transport_timeout_ms(const mailproto_transport *t, uint64_t now_ms);

/* ------------------------------------------------------------------ */
/* Settings (for transports made by mailproto_transport_io, or to      */
/* change a TCP transport after it connected)                          */
/* ------------------------------------------------------------------ */

/* 1: never block, return MAILPROTO_AGAIN.  A callback transport without a
 * wait callback is always non-blocking.  MAILPROTO_OK or _E_INVALID. */
MAILPROTO_API int mailproto_transport_set_nonblocking(mailproto_transport *t, int on);

/* The TLS handshake budget and the blocking send/recv wait (inactivity),
 * in milliseconds; 0 keeps the current value (defaults 30000 / 60000).
 * MAILPROTO_OK or _E_INVALID (negative values). */
MAILPROTO_API int mailproto_transport_set_timeouts(mailproto_transport *t, int handshake_ms,
                                                   int io_ms);

/* The clock blocking calls measure their deadlines with (NULL: the OS
 * monotonic clock).  MAILPROTO_OK or _E_INVALID. */
MAILPROTO_API int mailproto_transport_set_clock(mailproto_transport *t, mailproto_clock_fn clock,
                                                void *ctx);

/* The hook that receives the transport's notes (MAILPROTO_TRACE_INFO /
 * MAILPROTO_TRACE_NOTE: addresses tried, TLS state, errors); NULL: none.
 * MAILPROTO_OK or _E_INVALID. */
MAILPROTO_API int mailproto_transport_set_trace(mailproto_transport *t, mailproto_trace_fn fn,
                                                void *ctx);

/* Details of the transport's last error (errno, Mbed TLS code, sentence).
 * Never NULL; a static empty record for a NULL transport. */
MAILPROTO_API const mailproto_reply *mailproto_transport_last_error(const mailproto_transport *t);

#ifdef __cplusplus
}
#endif

#endif /* MAILPROTO_TRANSPORT_H */
