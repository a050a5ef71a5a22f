/*
 * The drive loop: the ONE piece of code that moves bytes between a
 * sans-I/O protocol engine (SMTP, IMAP, POP3) and a transport, for both
 * blocking and non-blocking clients (DESIGN.md sections 1 and 4).
 *
 * A client handle owns three things: its engine, a mailproto__drive, and
 * (through mailproto__drive_io) its transport.  Every public operation of
 * the client becomes
 *
 *     rc = mailproto__drive_run(&h->drive, &my_engine_vtable, h->engine, now, &ev);
 *
 * which returns
 *     MAILPROTO_EVENT   the engine produced an event (*ev): hand it over or
 *                       act on it, then call again;
 *     MAILPROTO_OK      the engine is idle (nothing to write, no reply
 *                       awaited): the operation is complete;
 *     MAILPROTO_AGAIN   non-blocking only: the transport would block; wait
 *                       for mailproto__drive_interest() on the fd, or
 *                       mailproto__drive_timeout_ms();
 *     < 0               an error (the engine has been told of transport
 *                       failures through io_error first, so that it can
 *                       turn them into protocol meanings such as SMTP's
 *                       NOT_SENT / OUTCOME_UNKNOWN).
 *
 * In blocking mode (drive->blocking) the loop never returns AGAIN: it
 * waits with io->wait for the interest, bounded by the nearest deadline of
 * the engine and the transport, reads the clock hook and goes on.
 *
 * What the loop does, in order, each turn:
 *   0. A TCP connect still running (drive->connecting, set by the client
 *      when mailproto_transport_tcp returned MAILPROTO_AGAIN) is stepped
 *      with io->step until the connection is up.
 *   1. A TLS handshake in progress is stepped (io->step) until done; then
 *      engine->tls_done() tells the engine (which forgets what it learned
 *      in plain text and, e.g., sends EHLO again).
 *   2. engine->next(now) runs the protocol on the bytes already received;
 *      an event or an error returns at once.
 *   3. engine->want() says what the engine needs:
 *        WANT_TLS    upgrade now (implicit TLS before the greeting, or
 *                    after a STARTTLS go-ahead).  Pending output is
 *                    written first; then io->start_tls starts the
 *                    handshake.  The engine must already have checked that
 *                    no plaintext byte is left (the STARTTLS injection
 *                    rule); the loop itself never reads plaintext while
 *                    WANT_TLS is set, so bytes a MitM sends after the
 *                    go-ahead reach the TLS layer, never the engine.
 *        WANT_WRITE  output(&p,&n) is sent; output_done(sent) reports it.
 *        WANT_READ   input(&p,&cap) is filled by io->recv; input_done(n)
 *                    reports it (n == 0: the peer closed).
 *      After any progress the loop goes back to step 2, so the engine
 *      sees every segment before more is read (edge-triggered epoll is safe:
 *      AGAIN is returned only after the transport itself said would-block,
 *      TLS plaintext drained first).
 *   4. Nothing moved: the deadline is min(engine->deadline, io->timeout_ms).
 *      Blocking: io->wait(interest, deadline); non-blocking: return AGAIN.
 *      A deadline that has passed is the engine's to report (next() returns
 *      MAILPROTO_E_TIMEOUT); a transport deadline gives MAILPROTO_E_TIMEOUT.
 *
 * Everything here is allocation-free and has no global state.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_DRIVE_H
#define MAILPROTO_DRIVE_H

#include <stddef.h>
#include <stdint.h>

#include <mailproto/common.h>

/* engine->want() bits */
#define MAILPROTO__DRIVE_WANT_READ 1
#define MAILPROTO__DRIVE_WANT_WRITE 2
#define MAILPROTO__DRIVE_WANT_TLS 4

/* The protocol engine, as the loop sees it.  self is the engine. */
typedef struct mailproto__drive_engine {
    /* Run the protocol at time now.  MAILPROTO_EVENT with *ev set,
     * MAILPROTO_OK (idle), MAILPROTO_AGAIN (waiting for I/O: see want) or
     * an error. */
    int (*next)(void *self, uint64_t now, const void **ev);
    /* MAILPROTO__DRIVE_WANT_* bits. */
    int (*want)(void *self);
    /* Bytes to send (*len may be 0). */
    void (*output)(void *self, const unsigned char **p, size_t *len);
    void (*output_done)(void *self, size_t n);
    /* Room for received bytes (*cap may be 0). */
    void (*input)(void *self, unsigned char **p, size_t *cap);
    /* n bytes were received; 0 means the peer closed. */
    void (*input_done)(void *self, size_t n);
    /* The connection is now protected by TLS. */
    void (*tls_done)(void *self);
    /* The transport failed with status (sticky in the engine); returns the
     * status to report (it may map it, e.g. to NOT_SENT). */
    int (*io_error)(void *self, int status);
    /* Milliseconds from now until the engine's next deadline, 0 when it
     * has passed, -1 when there is none. */
    int64_t (*deadline)(void *self, uint64_t now);
} mailproto__drive_engine;

/* The transport, as the loop sees it: the client adapts its
 * mailproto_transport (or anything else) to this.  Return conventions are
 * those of <mailproto/transport.h>. */
typedef struct mailproto__drive_io {
    void *ctx;
    int (*send)(void *ctx, const void *buf, size_t len, size_t *done);
    int (*recv)(void *ctx, void *buf, size_t cap, size_t *done);
    /* Begin TLS: MAILPROTO_OK when done, MAILPROTO_AGAIN (continue with
     * step), or an error. */
    int (*start_tls)(void *ctx);
    int (*step)(void *ctx, uint64_t now);
    /* Blocking wait for interest (MAILPROTO_IO_*) up to timeout_ms (-1: no
     * limit): MAILPROTO_OK or MAILPROTO_E_TIMEOUT (or another error). */
    int (*wait)(void *ctx, int interest, int timeout_ms);
    /* What the last AGAIN waits for (MAILPROTO_IO_*). */
    int (*interest)(void *ctx);
    /* The transport's own deadline in ms from now (connect/handshake), -1. */
    int (*timeout_ms)(void *ctx, uint64_t now);
} mailproto__drive_io;

typedef struct mailproto__drive {
    mailproto__drive_io io;
    int blocking;
    int connecting;             /* a TCP connect runs: step it first */
    mailproto_clock_fn clock;   /* blocking mode: the clock hook */
    void *clock_ctx;
    int tls_busy;               /* a handshake is running */
    int interest;               /* MAILPROTO_IO_* of the last AGAIN */
} mailproto__drive;

/* The usual I/O: a mailproto_transport.  Clients keep one of these next to
 * their drive and call mailproto__drive_io_transport() to get the adapter
 * functions; start_tls then runs mailproto_transport_start_tls(t, tls,
 * host) (which also enforces the STARTTLS rule on TCP transports). */
struct mailproto_transport;
struct mailproto_tls_config;
typedef struct mailproto__drive_tp {
    struct mailproto_transport *t;
    const struct mailproto_tls_config *tls;
    const char *host;
} mailproto__drive_tp;

/* Fill *io with adapters over tp (which must outlive the drive). */
void mailproto__drive_io_transport(mailproto__drive_io *io, mailproto__drive_tp *tp);

/* Set up (no I/O).  clock may be NULL in non-blocking use. */
void mailproto__drive_init(mailproto__drive *d, const mailproto__drive_io *io, int blocking,
                           mailproto_clock_fn clock, void *clock_ctx);

/* Run the engine as described above.  now is used in non-blocking mode;
 * blocking mode reads the clock hook each turn. */
int mailproto__drive_run(mailproto__drive *d, const mailproto__drive_engine *vt, void *eng,
                         uint64_t now, const void **ev);

/* What the last MAILPROTO_AGAIN waits for. */
int mailproto__drive_interest(const mailproto__drive *d);

/* Milliseconds until the nearest deadline (engine or transport), -1 none. */
int mailproto__drive_timeout_ms(const mailproto__drive *d, const mailproto__drive_engine *vt,
                                void *eng, uint64_t now);


/* ---- engine mode (the caller does the I/O) ----
 * The public _input_buf / _input_done / _output_buf / _output_done of every
 * client are these four over its engine vtable.  gate is the client's
 * verdict on the handle: MAILPROTO_OK when it is in engine mode (and, for
 * all but ack_output, not dead), otherwise the status to return
 * (MAILPROTO_E_INVALID for a NULL handle, MAILPROTO_E_STATE, or the
 * engine's sticky error).  Lend calls clear *p and *n first; ack calls
 * refuse a count larger than what was lent with MAILPROTO_E_INVALID. */
int mailproto__drive_lend_input(const mailproto__drive_engine *vt, void *eng, int gate,
                                unsigned char **p, size_t *cap);
int mailproto__drive_ack_input(const mailproto__drive_engine *vt, void *eng, int gate, size_t n);
int mailproto__drive_lend_output(const mailproto__drive_engine *vt, void *eng, int gate,
                                 const unsigned char **p, size_t *len);
int mailproto__drive_ack_output(const mailproto__drive_engine *vt, void *eng, int gate, size_t n);

#endif /* MAILPROTO_DRIVE_H */
