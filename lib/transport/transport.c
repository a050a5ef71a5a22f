/*
 * The transport object: dispatch between the TCP socket, the caller's
 * callbacks and Mbed TLS on top of either; the blocking loops (one code
 * path for both modes: every inner call is non-blocking, blocking mode
 * waits and calls again); io_interest, fd and deadline bookkeeping; the
 * last-error record.
 *
 * SPDX-License-Identifier: MIT
 */
#include <limits.h>
#include <string.h>

#include "transport_int.h"

static mailproto_transport *tp_new(const mailproto_mem *mem)
{
    mailproto_transport *t = mailproto__calloc(mem, 1, sizeof *t);
    if (!t)
        return NULL;
    if (mem) {
        t->mem = *mem;
        t->memp = &t->mem;
    }
    t->fd = -1;
    t->connect_timeout_ms = MAILPROTO__DEFAULT_CONNECT_MS;
    t->io_timeout_ms = MAILPROTO__DEFAULT_IO_MS;
    t->clock = mailproto_clock_monotonic_ms;
    mailproto__err_clear(&t->err);
    return t;
}

int mailproto__tp_fail(mailproto_transport *t, int status, const char *fmt, ...)
{
    t->err.pub.status = status;
    t->err.pub.tls_error = 0; /* the caller sets what applies */
    t->err.pub.sys_errno = 0;
    t->err.pub.text = t->err.text;
    t->err.pub.message = t->err.msg;
    va_list ap;
    va_start(ap, fmt);
    mailproto__vfmt(t->err.msg, sizeof t->err.msg, fmt, ap);
    va_end(ap);
    mailproto__trace_note(&t->trace, "%s", t->err.msg);
    if (mailproto_is_fatal(status))
        t->state = MAILPROTO__ST_DEAD;
    return status;
}

/* A status from the caller's callback: library statuses pass through. */
static int cb_status(int rc)
{
    if (rc < 0 && rc >= MAILPROTO_E_CANCELLED)
        return rc;
    return MAILPROTO_E_CALLBACK;
}

static int tcp_common(mailproto_transport **out, const mailproto_tcp_config *cfg,
                      const mailproto_mem *mem, mailproto_transport **tp)
{
    if (!out)
        return MAILPROTO_E_INVALID;
    *out = NULL;
    if (!cfg || cfg->port == 0 || cfg->connect_timeout_ms < 0 || cfg->io_timeout_ms < 0 ||
        (cfg->family != 0 && cfg->family != 4 && cfg->family != 6))
        return MAILPROTO_E_INVALID;
    mailproto_transport *t = tp_new(mem);
    if (!t)
        return MAILPROTO_E_NOMEM;
    t->kind = MAILPROTO__TP_TCP;
    t->state = MAILPROTO__ST_CONNECTING;
    t->nonblocking = cfg->nonblocking != 0;
    t->port = cfg->port;
    if (cfg->connect_timeout_ms)
        t->connect_timeout_ms = cfg->connect_timeout_ms;
    if (cfg->io_timeout_ms)
        t->io_timeout_ms = cfg->io_timeout_ms;
    if (cfg->clock) {
        t->clock = cfg->clock;
        t->clock_ctx = cfg->clock_ctx;
    }
    t->trace.fn = cfg->trace;
    t->trace.ctx = cfg->trace_ctx;
    if (cfg->host && mailproto__strdup(t->memp, cfg->host, &t->host) != MAILPROTO_OK) {
        mailproto_transport_free(t);
        return MAILPROTO_E_NOMEM;
    }
    *tp = t;
    return MAILPROTO_OK;
}

/* Finish (blocking) or report (non-blocking) the connect that just started. */
static int tcp_finish(mailproto_transport **out, mailproto_transport *t, int rc)
{
    uint64_t now = mailproto__tp_now(t);
    while (rc == MAILPROTO_AGAIN && !t->nonblocking) {
        int wait = mailproto__sock_timeout(t, now);
        rc = mailproto__sock_step(t, now, wait < 0 ? 1000 : wait);
        now = mailproto__tp_now(t);
    }
    if (rc == MAILPROTO_OK || rc == MAILPROTO_AGAIN) {
        if (rc == MAILPROTO_OK)
            t->state = MAILPROTO__ST_OPEN;
        *out = t;
        return rc;
    }
    /* A connect that fails at once leaves nothing to free (the sentence went
     * to the trace); one that fails later in step() keeps its record. */
    mailproto_transport_free(t);
    *out = NULL;
    return rc;
}

int mailproto_transport_tcp(mailproto_transport **out, const mailproto_tcp_config *cfg,
                            const mailproto_mem *mem)
{
    mailproto_transport *t = NULL;
    int rc = tcp_common(out, cfg, mem, &t);
    if (rc != MAILPROTO_OK)
        return rc;
    if (!t->host || !t->host[0]) {
        mailproto_transport_free(t);
        return MAILPROTO_E_INVALID;
    }
    rc = mailproto__sock_resolve_start(t, cfg->family, mailproto__tp_now(t));
    return tcp_finish(out, t, rc);
}

int mailproto_transport_tcp_addrs(mailproto_transport **out, const mailproto_tcp_config *cfg,
                                  const void *const *addrs, const unsigned *addr_lens,
                                  size_t n_addrs, const mailproto_mem *mem)
{
    if (out)
        *out = NULL;
    if (!addrs || !addr_lens || n_addrs == 0)
        return MAILPROTO_E_INVALID;
    for (size_t i = 0; i < n_addrs; i++)
        if (!addrs[i])
            return MAILPROTO_E_INVALID;
    mailproto_transport *t = NULL;
    int rc = tcp_common(out, cfg, mem, &t);
    if (rc != MAILPROTO_OK)
        return rc;
    rc = mailproto__sock_start(t, addrs, addr_lens, n_addrs, mailproto__tp_now(t));
    if (rc == MAILPROTO_E_INVALID) {
        mailproto_transport_free(t);
        *out = NULL;
        return rc;
    }
    return tcp_finish(out, t, rc);
}

int mailproto_transport_io(mailproto_transport **out, const mailproto_io *io,
                           const mailproto_mem *mem)
{
    if (!out)
        return MAILPROTO_E_INVALID;
    *out = NULL;
    if (!io || io->version != MAILPROTO_IO_VERSION || !io->send || !io->recv)
        return MAILPROTO_E_INVALID;
    mailproto_transport *t = tp_new(mem);
    if (!t)
        return MAILPROTO_E_NOMEM;
    t->kind = MAILPROTO__TP_IO;
    t->state = MAILPROTO__ST_OPEN;
    t->io = *io;
    /* Without a wait callback, AGAIN always reaches the caller. */
    t->nonblocking = io->wait == NULL;
    *out = t;
    return MAILPROTO_OK;
}

void mailproto_transport_free(mailproto_transport *t)
{
    if (!t)
        return;
    if (t->tls)
        mailproto__tls_free(t);
    if (t->kind == MAILPROTO__TP_TCP)
        mailproto__sock_close(t);
    else if (t->kind == MAILPROTO__TP_IO && t->io.close)
        t->io.close(t->io.user);
    mailproto__strfree(t->memp, t->host);
    mailproto_mem mem = t->mem;
    const mailproto_mem *memp = t->memp ? &mem : NULL;
    mailproto__free(memp, t, sizeof *t);
}

/* ------------------------------------------------------------------ */
/* The layer under TLS                                                 */
/* ------------------------------------------------------------------ */

int mailproto__raw_send(mailproto_transport *t, const void *buf, size_t len, size_t *done)
{
    *done = 0;
    if (t->kind == MAILPROTO__TP_TCP)
        return mailproto__sock_send(t, buf, len, done);
    size_t n = 0;
    int rc = t->io.send(t->io.user, buf, len, &n);
    if (rc == MAILPROTO_AGAIN || (rc == MAILPROTO_OK && n == 0 && len > 0)) {
        t->interest = MAILPROTO_IO_WRITE;
        return MAILPROTO_AGAIN;
    }
    if (rc != MAILPROTO_OK)
        return mailproto__tp_fail(t, cb_status(rc), "the send callback failed: %s (%d)",
                                  mailproto_errname(rc), rc);
    if (n > len)
        return mailproto__tp_fail(t, MAILPROTO_E_CALLBACK,
                                  "the send callback reported more bytes than it was given");
    *done = n;
    return MAILPROTO_OK;
}

int mailproto__raw_recv(mailproto_transport *t, void *buf, size_t cap, size_t *done)
{
    *done = 0;
    if (t->kind == MAILPROTO__TP_TCP)
        return mailproto__sock_recv(t, buf, cap, done);
    size_t n = 0;
    int rc = t->io.recv(t->io.user, buf, cap, &n);
    if (rc == MAILPROTO_AGAIN) {
        t->interest = MAILPROTO_IO_READ;
        return MAILPROTO_AGAIN;
    }
    if (rc != MAILPROTO_OK)
        return mailproto__tp_fail(t, cb_status(rc), "the recv callback failed: %s (%d)",
                                  mailproto_errname(rc), rc);
    if (n > cap)
        return mailproto__tp_fail(t, MAILPROTO_E_CALLBACK,
                                  "the recv callback reported more bytes than fit the buffer");
    *done = n;
    return MAILPROTO_OK;
}

/* ------------------------------------------------------------------ */
/* Blocking                                                            */
/* ------------------------------------------------------------------ */

static int can_block(const mailproto_transport *t)
{
    return !t->nonblocking && (t->kind == MAILPROTO__TP_TCP || t->io.wait);
}

static int wait_fd(const mailproto_transport *t)
{
    if (t->kind != MAILPROTO__TP_TCP)
        return -1;
    return t->state == MAILPROTO__ST_CONNECTING ? mailproto__sock_fd(t) : t->fd;
}

static int do_wait(mailproto_transport *t, int interest, int timeout_ms)
{
    if (t->kind == MAILPROTO__TP_TCP)
        return mailproto__sock_wait(t, wait_fd(t), interest, timeout_ms);
    if (!t->io.wait)
        return MAILPROTO_E_UNSUPPORTED;
    int rc = t->io.wait(t->io.user, interest, timeout_ms);
    if (rc == MAILPROTO_OK || rc == MAILPROTO_E_TIMEOUT)
        return rc;
    return mailproto__tp_fail(t, cb_status(rc), "the wait callback failed: %s (%d)",
                                  mailproto_errname(rc), rc);
}

/* Wait for t->interest until *deadline (set from budget_ms on first use). */
static int block_wait(mailproto_transport *t, uint64_t *deadline, int budget_ms, const char *what)
{
    uint64_t now = mailproto__tp_now(t);
    if (*deadline == 0)
        *deadline = now + (uint64_t)budget_ms;
    if (now >= *deadline)
        return mailproto__tp_fail(t, MAILPROTO_E_TIMEOUT, "%s timed out after %d ms", what,
                                  budget_ms);
    uint64_t left = *deadline - now;
    int ms = left > INT_MAX ? INT_MAX : (int)left;
    int rc = do_wait(t, t->interest ? t->interest : MAILPROTO_IO_READ, ms);
    if (rc == MAILPROTO_E_TIMEOUT)
        return mailproto__tp_fail(t, MAILPROTO_E_TIMEOUT, "%s timed out after %d ms", what,
                                  budget_ms);
    return rc;
}

/* ------------------------------------------------------------------ */
/* TLS                                                                 */
/* ------------------------------------------------------------------ */

static int hs_step(mailproto_transport *t)
{
    int rc;
    if (t->state == MAILPROTO__ST_IO_TLS) {
        rc = t->io.start_tls(t->io.user, t->host);
        if (rc == MAILPROTO_AGAIN) {
            t->interest = MAILPROTO_IO_READ | MAILPROTO_IO_WRITE;
            return rc;
        }
        if (rc != MAILPROTO_OK)
            return mailproto__tp_fail(t, cb_status(rc), "the start_tls callback failed: %s (%d)",
                                      mailproto_errname(rc), rc);
        t->io_secure = 1;
        t->state = MAILPROTO__ST_OPEN;
        return MAILPROTO_OK;
    }
    rc = mailproto__tls_handshake(t);
    if (rc == MAILPROTO_OK) {
        t->tls_up = 1;
        t->state = MAILPROTO__ST_OPEN;
    } else if (rc < 0 && t->state != MAILPROTO__ST_DEAD) {
        t->state = MAILPROTO__ST_DEAD;
    }
    return rc;
}

static int hs_run(mailproto_transport *t)
{
    uint64_t deadline = t->hs_deadline;
    for (;;) {
        int rc = hs_step(t);
        if (rc != MAILPROTO_AGAIN || !can_block(t))
            return rc;
        rc = block_wait(t, &deadline, t->connect_timeout_ms, "the TLS handshake");
        if (rc != MAILPROTO_OK)
            return rc;
    }
}

int mailproto_transport_start_tls(mailproto_transport *t, const mailproto_tls_config *tls,
                                  const char *host)
{
    if (!t)
        return MAILPROTO_E_INVALID;
    if (t->state != MAILPROTO__ST_OPEN || t->tls || t->io_secure)
        return MAILPROTO_E_STATE;
    if (host && host != t->host) {
        char *h = NULL;
        if (mailproto__strdup(t->memp, host, &h) != MAILPROTO_OK)
            return MAILPROTO_E_NOMEM;
        mailproto__strfree(t->memp, t->host);
        t->host = h;
    }
    if (!t->host || !t->host[0])
        return mailproto__err_set(&t->err, MAILPROTO_E_INVALID,
                                  "TLS needs the server's host name to check its certificate");
    mailproto__err_clear(&t->err);
    t->hs_deadline = mailproto__tp_now(t) + (uint64_t)t->connect_timeout_ms;
    if (t->kind == MAILPROTO__TP_IO && t->io.start_tls) {
        t->state = MAILPROTO__ST_IO_TLS;
        return hs_run(t);
    }
    /* The STARTTLS rule: nothing may wait unread in plaintext at the switch,
     * or a man in the middle could have injected it.  Nothing is sent. */
    if (t->kind == MAILPROTO__TP_TCP) {
        int rc = mailproto__sock_peek(t);
        if (rc == 1)
            return mailproto__tp_fail(t, MAILPROTO_E_STARTTLS_INJECTION,
                                      "the server sent plaintext after its TLS go-ahead; "
                                      "refusing to start TLS");
        if (rc < 0)
            return rc;
    } else if (t->io.fd) {
        int fd = t->io.fd(t->io.user);
        if (fd >= 0 && mailproto__sock_peek_fd(fd) == 1)
            return mailproto__tp_fail(t, MAILPROTO_E_STARTTLS_INJECTION,
                                      "the server sent plaintext after its TLS go-ahead; "
                                      "refusing to start TLS");
    }
    int rc = mailproto__tls_begin(t, tls, t->host);
    if (rc != MAILPROTO_OK)
        return rc;
    t->state = MAILPROTO__ST_HANDSHAKE;
    return hs_run(t);
}

int mailproto_transport_is_secure(const mailproto_transport *t)
{
    return t && (t->tls_up || t->io_secure || (t->io.is_secure && t->io.is_secure(t->io.user)));
}

int mailproto_transport_tls_resumed(const mailproto_transport *t)
{
    return t && t->tls_up ? mailproto__tls_resumed(t) : 0;
}

/* ------------------------------------------------------------------ */
/* Moving bytes                                                        */
/* ------------------------------------------------------------------ */

int mailproto_transport_step(mailproto_transport *t, uint64_t now_ms)
{
    if (!t)
        return MAILPROTO_E_INVALID;
    switch (t->state) {
    case MAILPROTO__ST_CONNECTING: {
        int rc = mailproto__sock_step(t, now_ms, 0);
        if (rc == MAILPROTO_OK)
            t->state = MAILPROTO__ST_OPEN;
        return rc;
    }
    case MAILPROTO__ST_HANDSHAKE:
    case MAILPROTO__ST_IO_TLS:
        if (now_ms >= t->hs_deadline)
            return mailproto__tp_fail(t, MAILPROTO_E_TIMEOUT,
                                      "the TLS handshake timed out after %d ms",
                                      t->connect_timeout_ms);
        return hs_step(t);
    case MAILPROTO__ST_OPEN:
        return MAILPROTO_OK;
    default:
        return t->err.pub.status < 0 ? t->err.pub.status : MAILPROTO_E_STATE;
    }
}

static int ready_for_data(mailproto_transport *t)
{
    if (t->state == MAILPROTO__ST_OPEN)
        return MAILPROTO_OK;
    if (t->state == MAILPROTO__ST_DEAD)
        return t->err.pub.status < 0 ? t->err.pub.status : MAILPROTO_E_STATE;
    return MAILPROTO_E_STATE; /* connect or handshake not finished: call step */
}

int mailproto_transport_send(mailproto_transport *t, const void *buf, size_t len, size_t *done)
{
    if (done)
        *done = 0;
    if (!t || !done || (!buf && len))
        return MAILPROTO_E_INVALID;
    int rc = ready_for_data(t);
    if (rc != MAILPROTO_OK)
        return rc;
    if (len == 0)
        return MAILPROTO_OK;
    uint64_t deadline = 0;
    for (;;) {
        rc = t->tls_up ? mailproto__tls_send(t, buf, len, done)
                       : mailproto__raw_send(t, buf, len, done);
        if (rc != MAILPROTO_AGAIN || !can_block(t))
            return rc;
        rc = block_wait(t, &deadline, t->io_timeout_ms, "sending");
        if (rc != MAILPROTO_OK)
            return rc;
    }
}

int mailproto_transport_recv(mailproto_transport *t, void *buf, size_t cap, size_t *done)
{
    if (done)
        *done = 0;
    if (!t || !done || !buf || cap == 0)
        return MAILPROTO_E_INVALID;
    int rc = ready_for_data(t);
    if (rc != MAILPROTO_OK)
        return rc;
    uint64_t deadline = 0;
    for (;;) {
        rc = t->tls_up ? mailproto__tls_recv(t, buf, cap, done)
                       : mailproto__raw_recv(t, buf, cap, done);
        if (rc != MAILPROTO_AGAIN || !can_block(t))
            return rc;
        rc = block_wait(t, &deadline, t->io_timeout_ms, "waiting for the server");
        if (rc != MAILPROTO_OK)
            return rc;
    }
}

size_t mailproto_transport_pending(const mailproto_transport *t)
{
    return t && t->tls_up ? mailproto__tls_pending(t) : 0;
}

int mailproto_transport_wait(mailproto_transport *t, int interest, int timeout_ms)
{
    if (!t || (interest & ~(MAILPROTO_IO_READ | MAILPROTO_IO_WRITE)))
        return MAILPROTO_E_INVALID;
    if ((interest & MAILPROTO_IO_READ) && mailproto_transport_pending(t) > 0)
        return MAILPROTO_OK;
    if (t->state == MAILPROTO__ST_DEAD)
        return t->err.pub.status < 0 ? t->err.pub.status : MAILPROTO_E_STATE;
    return do_wait(t, interest, timeout_ms < 0 ? -1 : timeout_ms);
}

int mailproto_transport_fd(const mailproto_transport *t)
{
    if (!t)
        return -1;
    if (t->kind == MAILPROTO__TP_IO)
        return t->io.fd ? t->io.fd(t->io.user) : -1;
    return wait_fd(t);
}

int mailproto_transport_io_interest(const mailproto_transport *t)
{
    return t ? t->interest : 0;
}

int mailproto_transport_timeout_ms(const mailproto_transport *t, uint64_t now_ms)
{
    if (!t)
        return -1;
    if (t->state == MAILPROTO__ST_CONNECTING)
        return mailproto__sock_timeout(t, now_ms);
    if (t->state == MAILPROTO__ST_HANDSHAKE || t->state == MAILPROTO__ST_IO_TLS) {
        if (now_ms >= t->hs_deadline)
            return 0;
        uint64_t left = t->hs_deadline - now_ms;
        return left > INT_MAX ? INT_MAX : (int)left;
    }
    return -1;
}

const mailproto_reply *mailproto_transport_last_error(const mailproto_transport *t)
{
    return t ? &t->err.pub : mailproto__reply_empty();
}

/* ------------------------------------------------------------------ */
/* Settings (additions to the contract)                                */
/* ------------------------------------------------------------------ */

int mailproto_transport_set_nonblocking(mailproto_transport *t, int on)
{
    if (!t)
        return MAILPROTO_E_INVALID;
    t->nonblocking = on != 0;
    return MAILPROTO_OK;
}

int mailproto_transport_set_timeouts(mailproto_transport *t, int handshake_ms, int io_ms)
{
    if (!t || handshake_ms < 0 || io_ms < 0)
        return MAILPROTO_E_INVALID;
    if (handshake_ms)
        t->connect_timeout_ms = handshake_ms;
    if (io_ms)
        t->io_timeout_ms = io_ms;
    return MAILPROTO_OK;
}

int mailproto_transport_set_clock(mailproto_transport *t, mailproto_clock_fn clock, void *ctx)
{
    if (!t)
        return MAILPROTO_E_INVALID;
    t->clock = clock ? clock : mailproto_clock_monotonic_ms;
    t->clock_ctx = clock ? ctx : NULL;
    return MAILPROTO_OK;
}

int mailproto_transport_set_trace(mailproto_transport *t, mailproto_trace_fn fn, void *ctx)
{
    if (!t)
        return MAILPROTO_E_INVALID;
    t->trace.fn = fn;
    t->trace.ctx = ctx;
    return MAILPROTO_OK;
}
