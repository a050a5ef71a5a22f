/*
 * The drive loop shared by the SMTP, IMAP and POP3 clients (see drive.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "drive.h"

#include <string.h>

#include <mailproto/transport.h>

/* ---- adapters over a mailproto_transport ---- */

static int tp_send(void *ctx, const void *buf, size_t len, size_t *done)
{
    return mailproto_transport_send(((mailproto__drive_tp *)ctx)->t, buf, len, done);
}

static int tp_recv(void *ctx, void *buf, size_t cap, size_t *done)
{
    return mailproto_transport_recv(((mailproto__drive_tp *)ctx)->t, buf, cap, done);
}

static int tp_start_tls(void *ctx)
{
    mailproto__drive_tp *tp = ctx;
    return mailproto_transport_start_tls(tp->t, tp->tls, tp->host);
}

static int tp_step(void *ctx, uint64_t now)
{
    return mailproto_transport_step(((mailproto__drive_tp *)ctx)->t, now);
}

static int tp_wait(void *ctx, int interest, int timeout_ms)
{
    return mailproto_transport_wait(((mailproto__drive_tp *)ctx)->t, interest, timeout_ms);
}

static int tp_interest(void *ctx)
{
    return mailproto_transport_io_interest(((mailproto__drive_tp *)ctx)->t);
}

static int tp_timeout(void *ctx, uint64_t now)
{
    return mailproto_transport_timeout_ms(((mailproto__drive_tp *)ctx)->t, now);
}

void mailproto__drive_io_transport(mailproto__drive_io *io, mailproto__drive_tp *tp)
{
    io->ctx = tp;
    io->send = tp_send;
    io->recv = tp_recv;
    io->start_tls = tp_start_tls;
    io->step = tp_step;
    io->wait = tp_wait;
    io->interest = tp_interest;
    io->timeout_ms = tp_timeout;
}

void mailproto__drive_init(mailproto__drive *d, const mailproto__drive_io *io, int blocking,
                           mailproto_clock_fn clock, void *clock_ctx)
{
    memset(d, 0, sizeof *d);
    if (io)
        d->io = *io;
    d->blocking = blocking;
    d->clock = clock;
    d->clock_ctx = clock_ctx;
}

static int io_interest(const mailproto__drive *d, int fallback)
{
    int i = d->io.interest ? d->io.interest(d->io.ctx) : 0;
    return i ? i : fallback;
}

int mailproto__drive_timeout_ms(const mailproto__drive *d, const mailproto__drive_engine *vt,
                                void *eng, uint64_t now)
{
    int64_t e = vt->deadline(eng, now);
    int t = d->io.timeout_ms ? d->io.timeout_ms(d->io.ctx, now) : -1;
    if (e >= 0 && (t < 0 || e < t))
        return e > INT32_MAX ? INT32_MAX : (int)e;
    return t;
}

int mailproto__drive_interest(const mailproto__drive *d) { return d->interest; }

int mailproto__drive_run(mailproto__drive *d, const mailproto__drive_engine *vt, void *eng,
                         uint64_t now, const void **ev)
{
    *ev = NULL;
    for (;;) {
        if (d->blocking && d->clock)
            now = d->clock(d->clock_ctx);
        int interest = 0;
        int rc;
        if (d->connecting) {
            rc = d->io.step(d->io.ctx, now);
            if (rc == MAILPROTO_OK) {
                d->connecting = 0;
                continue;
            }
            if (rc != MAILPROTO_AGAIN)
                return vt->io_error(eng, rc);
            interest = io_interest(d, MAILPROTO_IO_READ | MAILPROTO_IO_WRITE);
        } else if (d->tls_busy) {
            rc = d->io.step(d->io.ctx, now);
            if (rc == MAILPROTO_OK) {
                d->tls_busy = 0;
                vt->tls_done(eng);
                continue;
            }
            if (rc != MAILPROTO_AGAIN)
                return vt->io_error(eng, rc);
            interest = io_interest(d, MAILPROTO_IO_READ);
        } else {
            rc = vt->next(eng, now, ev);
            if (rc == MAILPROTO_EVENT || rc < 0)
                return rc;
            int want = vt->want(eng);
            if (!want) {
                if (rc == MAILPROTO_AGAIN) {
                    /* waiting for something that is not I/O (a body
                     * source that said AGAIN) */
                    d->interest = 0;
                    return MAILPROTO_AGAIN;
                }
                return MAILPROTO_OK;
            }
            int progress = 0;
            if (want & MAILPROTO__DRIVE_WANT_WRITE) {
                const unsigned char *p;
                size_t n = 0, done = 0;
                vt->output(eng, &p, &n);
                if (n) {
                    rc = d->io.send(d->io.ctx, p, n, &done);
                    if (rc == MAILPROTO_OK) {
                        vt->output_done(eng, done > n ? n : done);
                        progress = done > 0;
                    } else if (rc == MAILPROTO_AGAIN) {
                        interest |= io_interest(d, MAILPROTO_IO_WRITE);
                    } else {
                        return vt->io_error(eng, rc);
                    }
                }
            } else if (want & MAILPROTO__DRIVE_WANT_TLS) {
                if (!d->io.start_tls)
                    return vt->io_error(eng, MAILPROTO_E_UNSUPPORTED);
                rc = d->io.start_tls(d->io.ctx);
                if (rc == MAILPROTO_OK) {
                    vt->tls_done(eng);
                    continue;
                }
                if (rc != MAILPROTO_AGAIN)
                    return vt->io_error(eng, rc);
                d->tls_busy = 1;
                interest |= io_interest(d, MAILPROTO_IO_READ);
            }
            if (progress)
                continue;
            if ((want & MAILPROTO__DRIVE_WANT_READ) && !d->tls_busy) {
                unsigned char *p;
                size_t cap = 0, done = 0;
                vt->input(eng, &p, &cap);
                if (cap) {
                    rc = d->io.recv(d->io.ctx, p, cap, &done);
                    if (rc == MAILPROTO_OK) {
                        vt->input_done(eng, done > cap ? cap : done);
                        continue; /* the engine sees every segment first */
                    }
                    if (rc != MAILPROTO_AGAIN)
                        return vt->io_error(eng, rc);
                    interest |= io_interest(d, MAILPROTO_IO_READ);
                }
            }
        }
        /* Nothing moved: wait. */
        d->interest = interest;
        if (!d->blocking)
            return MAILPROTO_AGAIN;
        int64_t eng_left = vt->deadline(eng, now);
        int t = mailproto__drive_timeout_ms(d, vt, eng, now);
        if (t == 0) {
            if (eng_left == 0)
                continue; /* the engine reports its own timeout */
            return vt->io_error(eng, MAILPROTO_E_TIMEOUT);
        }
        if (!d->io.wait)
            return MAILPROTO_AGAIN; /* a callback transport without wait */
        rc = d->io.wait(d->io.ctx, interest ? interest : MAILPROTO_IO_READ, t);
        if (rc == MAILPROTO_E_UNSUPPORTED)
            return MAILPROTO_AGAIN; /* the transport cannot wait: the caller does */
        if (rc != MAILPROTO_OK && rc != MAILPROTO_E_TIMEOUT)
            return vt->io_error(eng, rc);
    }
}

/* ---- engine mode ---- */

int mailproto__drive_lend_input(const mailproto__drive_engine *vt, void *eng, int gate,
                                unsigned char **p, size_t *cap)
{
    if (!p || !cap)
        return MAILPROTO_E_INVALID;
    *p = NULL;
    *cap = 0;
    if (gate != MAILPROTO_OK)
        return gate;
    vt->input(eng, p, cap);
    return MAILPROTO_OK;
}

int mailproto__drive_ack_input(const mailproto__drive_engine *vt, void *eng, int gate, size_t n)
{
    unsigned char *p;
    size_t cap;
    if (gate != MAILPROTO_OK)
        return gate;
    vt->input(eng, &p, &cap);
    if (n > cap)
        return MAILPROTO_E_INVALID;
    vt->input_done(eng, n);
    return MAILPROTO_OK;
}

int mailproto__drive_lend_output(const mailproto__drive_engine *vt, void *eng, int gate,
                                 const unsigned char **p, size_t *len)
{
    if (!p || !len)
        return MAILPROTO_E_INVALID;
    *p = NULL;
    *len = 0;
    if (gate != MAILPROTO_OK)
        return gate;
    vt->output(eng, p, len);
    return MAILPROTO_OK;
}

int mailproto__drive_ack_output(const mailproto__drive_engine *vt, void *eng, int gate, size_t n)
{
    const unsigned char *p;
    size_t len;
    if (gate != MAILPROTO_OK)
        return gate;
    vt->output(eng, &p, &len);
    if (n > len)
        return MAILPROTO_E_INVALID;
    vt->output_done(eng, n);
    return MAILPROTO_OK;
}
