/*
 * Internal interface between transport.c (object, dispatch, callback
 * transport, blocking loops), sock_posix.c (TCP) and tls_mbedtls.c (TLS).
 * Never installed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_TRANSPORT_INT_H
#define MAILPROTO_TRANSPORT_INT_H

#include <mailproto/transport.h>

#include "../core/internal.h"

#define MAILPROTO__TP_TCP 1
#define MAILPROTO__TP_IO 2

#define MAILPROTO__ST_CONNECTING 1 /* TCP connect race in progress */
#define MAILPROTO__ST_OPEN 2       /* connected (plain or TLS) */
#define MAILPROTO__ST_HANDSHAKE 3  /* Mbed TLS handshake in progress */
#define MAILPROTO__ST_IO_TLS 4     /* io->start_tls in progress */
#define MAILPROTO__ST_DEAD 5       /* failed: only free is useful */

#define MAILPROTO__DEFAULT_CONNECT_MS 30000
#define MAILPROTO__DEFAULT_IO_MS 60000

struct mailproto__sock_conn; /* sock_posix.c: the connect race */
struct mailproto__tls;       /* tls_mbedtls.c: one TLS session */

struct mailproto_transport {
    mailproto_mem mem;
    const mailproto_mem *memp; /* &mem, or NULL for malloc */
    int kind;
    int state;
    int nonblocking;
    int interest;
    int connect_timeout_ms; /* also the TLS handshake budget */
    int io_timeout_ms;
    mailproto_clock_fn clock;
    void *clock_ctx;
    mailproto__trace trace;
    mailproto__err err;
    char *host;    /* configured host name (TLS name check, SNI), or NULL */
    uint16_t port; /* 0 for a callback transport */

    /* TCP */
    int fd;
    struct mailproto__sock_conn *conn;

    /* callbacks */
    mailproto_io io;

    /* TLS (ours) */
    struct mailproto__tls *tls;
    int tls_up;        /* Mbed TLS handshake finished */
    int io_secure;     /* io->start_tls finished */
    uint64_t hs_deadline;
};

static inline uint64_t mailproto__tp_now(const mailproto_transport *t)
{
    return t->clock(t->clock_ctx);
}

/* ---- transport.c: the layer under TLS (socket or callbacks), never blocks ---- */
int mailproto__raw_send(mailproto_transport *t, const void *buf, size_t len, size_t *done);
int mailproto__raw_recv(mailproto_transport *t, void *buf, size_t cap, size_t *done);
/* Fail the transport: record status + sentence, mark it dead. */
int mailproto__tp_fail(mailproto_transport *t, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- sock_posix.c (or its fallback) ---- */
/* Start connecting to the addresses (struct sockaddr, lengths); copies them. */
int mailproto__sock_start(mailproto_transport *t, const void *const *addrs, const unsigned *lens,
                          size_t n, uint64_t now);
/* Resolve t->host:t->port (may block) and start connecting. */
int mailproto__sock_resolve_start(mailproto_transport *t, int family, uint64_t now);
/* Advance the race, waiting at most wait_ms (0: do not wait).  OK once
 * connected (t->fd set), AGAIN, or an error. */
int mailproto__sock_step(mailproto_transport *t, uint64_t now, int wait_ms);
/* Milliseconds until the race needs attention, or -1. */
int mailproto__sock_timeout(const mailproto_transport *t, uint64_t now);
int mailproto__sock_fd(const mailproto_transport *t); /* fd to poll while connecting */
int mailproto__sock_send(mailproto_transport *t, const void *buf, size_t len, size_t *done);
int mailproto__sock_recv(mailproto_transport *t, void *buf, size_t cap, size_t *done);
/* 1 when unread bytes wait in the socket, 0 when none, or an error. */
int mailproto__sock_peek(mailproto_transport *t);
/* The same on a caller's fd (a callback transport's io->fd): 1 when bytes
 * wait, 0 otherwise (also when fd is not a socket). */
int mailproto__sock_peek_fd(int fd);
/* poll(): OK when ready, E_TIMEOUT, or an error. */
int mailproto__sock_wait(mailproto_transport *t, int fd, int interest, int timeout_ms);
void mailproto__sock_close(mailproto_transport *t);

/* ---- tls_mbedtls.c (or its fallback) ---- */
int mailproto__tls_begin(mailproto_transport *t, const mailproto_tls_config *cfg, const char *host);
int mailproto__tls_handshake(mailproto_transport *t);
int mailproto__tls_send(mailproto_transport *t, const void *buf, size_t len, size_t *done);
int mailproto__tls_recv(mailproto_transport *t, void *buf, size_t cap, size_t *done);
size_t mailproto__tls_pending(const mailproto_transport *t);
int mailproto__tls_resumed(const mailproto_transport *t);
/* Send close_notify (best effort, never blocks) and free the session. */
void mailproto__tls_free(mailproto_transport *t);

#endif /* MAILPROTO_TRANSPORT_INT_H */
