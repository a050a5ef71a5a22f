/*
 * The mailproto_smtp handle: the engine coupled with a transport through
 * the shared drive loop (lib/core/drive.c), or lent to the caller in
 * engine mode.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <mailproto/smtp.h>
#include <mailproto/transport.h>

#include "../core/drive.h"
#include "smtp_int.h"

#define MODE_NONE 0
#define MODE_ENGINE 1
#define MODE_NET 2

struct mailproto_smtp {
    mailproto_mem mem;
    int has_mem;
    size_t block_size;
    mailproto__err err;
    mailproto__smtp_engine e;
    mailproto__drive drive;
    mailproto__drive_tp tp;
    mailproto_transport *t;
    int mode;
};

static const mailproto_mem *mem_of(const mailproto_smtp *s) { return s->has_mem ? &s->mem : NULL; }

/* ---- layout of the one allocation ---- */

#define ALIGN_UP(n) (((n) + 15u) & ~(size_t)15u)

typedef struct layout {
    size_t rcpt_off, in_off, out_off, work_off, work_size, total;
} layout;

static int compute_layout(const mailproto_smtp_config *c, layout *l)
{
    size_t off = ALIGN_UP(sizeof(mailproto_smtp));
    l->rcpt_off = off;
    if (c->max_rcpt > (SIZE_MAX / 2) / sizeof(mailproto_smtp_rcpt))
        return -1;
    off = ALIGN_UP(off + c->max_rcpt * sizeof(mailproto_smtp_rcpt));
    l->in_off = off;
    if (c->in_buf_size > SIZE_MAX / 4 || c->out_buf_size > SIZE_MAX / 4)
        return -1;
    off = ALIGN_UP(off + c->in_buf_size);
    l->out_off = off;
    off = ALIGN_UP(off + c->out_buf_size);
    l->work_off = off;
    /* SASL scratch only when there is something to authenticate with */
    l->work_size = c->username && *c->username ? MAILPROTO__SASL_WORK_MIN * 4 : 0;
    off += l->work_size;
    l->total = off;
    return 0;
}

static int copy_config(mailproto_smtp_config *dst, const mailproto_smtp_config *cfg, size_t sz)
{
    memset(dst, 0, sizeof *dst);
    if (sz <= sizeof *dst) {
        memcpy(dst, cfg, sz);
        return 0;
    }
    /* a newer, longer struct: accepted only if what we do not know is zero */
    const unsigned char *extra = (const unsigned char *)cfg + sizeof *dst;
    for (size_t i = 0; i < sz - sizeof *dst; i++)
        if (extra[i])
            return -1;
    memcpy(dst, cfg, sizeof *dst);
    return 0;
}

static int bad_token(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || n >= max)
            return 1;
    return 0;
}

size_t mailproto_smtp_memory_needed_sz(const mailproto_smtp_config *cfg, size_t cfg_size)
{
    mailproto_smtp_config c;
    if (!cfg || copy_config(&c, cfg, cfg_size) != 0)
        return 0;
    mailproto__smtp_config_defaults(&c);
    layout l;
    return compute_layout(&c, &l) == 0 ? l.total : 0;
}

int mailproto_smtp_new_sz(mailproto_smtp **out, const mailproto_smtp_config *cfg, size_t cfg_size,
                          const mailproto_mem *mem)
{
    if (!out)
        return MAILPROTO_E_INVALID;
    *out = NULL;
    mailproto_smtp_config c;
    if (!cfg || copy_config(&c, cfg, cfg_size) != 0)
        return MAILPROTO_E_INVALID;
    if (c.security < 0 || c.security > MAILPROTO_SEC_PLAIN || c.auth_mech < 0 ||
        c.auth_mech > MAILPROTO_AUTH_SCRAM_SHA256 || bad_token(c.helo_name, 255) ||
        bad_token(c.host, 255))
        return MAILPROTO_E_INVALID;
    mailproto__smtp_config_defaults(&c);
    layout l;
    if (compute_layout(&c, &l) != 0)
        return MAILPROTO_E_INVALID;
    unsigned char *block = mailproto__alloc(mem, l.total);
    if (!block)
        return MAILPROTO_E_NOMEM;
    memset(block, 0, l.total);
    mailproto_smtp *s = (mailproto_smtp *)(void *)block;
    if (mem) {
        s->mem = *mem;
        s->has_mem = 1;
    }
    s->block_size = l.total;
    mailproto__err_clear(&s->err);
    mailproto__smtp_engine_init(&s->e, &c, &s->err, block + l.in_off, c.in_buf_size,
                                block + l.out_off, c.out_buf_size,
                                l.work_size ? block + l.work_off : NULL, l.work_size,
                                (mailproto_smtp_rcpt *)(void *)(block + l.rcpt_off), c.max_rcpt);
    *out = s;
    return MAILPROTO_OK;
}

/* ---- the engine as the drive loop sees it ---- */

static int vt_next(void *self, uint64_t now, const void **ev)
{
    const mailproto_smtp_event *e = NULL;
    int rc = mailproto__smtp_engine_next(self, now, &e);
    *ev = e;
    return rc;
}

static int vt_want(void *self)
{
    int w = mailproto__smtp_engine_want(self), r = 0;
    if (w & MAILPROTO__SMTP_WANT_READ)
        r |= MAILPROTO__DRIVE_WANT_READ;
    if (w & MAILPROTO__SMTP_WANT_WRITE)
        r |= MAILPROTO__DRIVE_WANT_WRITE;
    if (w & MAILPROTO__SMTP_WANT_TLS)
        r |= MAILPROTO__DRIVE_WANT_TLS;
    return r;
}

static void vt_output(void *self, const unsigned char **p, size_t *len)
{
    mailproto__smtp_engine_output(self, p, len);
}

static void vt_output_done(void *self, size_t n) { mailproto__smtp_engine_output_done(self, n); }

static void vt_input(void *self, unsigned char **p, size_t *cap)
{
    mailproto__smtp_engine_input(self, p, cap);
}

static void vt_input_done(void *self, size_t n) { mailproto__smtp_engine_input_done(self, n); }

static void vt_tls_done(void *self) { mailproto__smtp_engine_tls_done(self); }

static int vt_io_error(void *self, int status) { return mailproto__smtp_engine_fail(self, status); }

static int64_t vt_deadline(void *self, uint64_t now)
{
    return mailproto__smtp_engine_deadline(self, now);
}

static const mailproto__drive_engine smtp_vt = {
    vt_next, vt_want, vt_output, vt_output_done, vt_input, vt_input_done, vt_tls_done, vt_io_error,
    vt_deadline,
};

/* One drive pass; transport details are added to errors. */
static int drive(mailproto_smtp *s, uint64_t now, const mailproto_smtp_event **ev)
{
    const void *v = NULL;
    int rc = mailproto__drive_run(&s->drive, &smtp_vt, &s->e, now, &v);
    *ev = v;
    if (rc < 0 && s->t) {
        const mailproto_reply *te = mailproto_transport_last_error(s->t);
        if (te && (te->tls_error || te->sys_errno)) {
            s->err.pub.tls_error = te->tls_error;
            s->err.pub.sys_errno = te->sys_errno;
        }
        /* the transport's own sentence says more (which certificate check) */
        if (te && te->status == rc && s->err.pub.status == rc && te->message && te->message[0])
            mailproto__fmt(s->err.msg, sizeof s->err.msg, "%s", te->message);
    }
    return rc;
}

/* An idle session over a socket: read what the server sent unasked (a
 * 421 before it closes, or the close itself) without waiting, so that the
 * next poll, send or submit reports the closed session instead of writing
 * a command into it.  Callback transports (cfg.io) are left alone: their
 * recv may block.  Returns 1 when something arrived (drive again), else 0. */
static int idle_read(mailproto_smtp *s)
{
    if (s->mode != MODE_NET || !s->t || s->e.cfg.io || s->drive.connecting || s->drive.tls_busy ||
        !mailproto__smtp_engine_idle(&s->e) || mailproto_transport_fd(s->t) < 0)
        return 0;
    unsigned char *p;
    size_t cap = 0, done = 0;
    mailproto__smtp_engine_input(&s->e, &p, &cap);
    if (!cap)
        return 0;
    int rc = mailproto_transport_recv(s->t, p, cap, &done);
    if (rc == MAILPROTO_AGAIN)
        return 0;
    if (rc == MAILPROTO_OK)
        mailproto__smtp_engine_input_done(&s->e, done > cap ? cap : done);
    else
        mailproto__smtp_engine_fail(&s->e, rc);
    return 1;
}

/* Read what an idle session holds and let the engine judge it; returns the
 * engine's sticky error when the session is over, else MAILPROTO_OK. */
static int idle_check(mailproto_smtp *s)
{
    if (!idle_read(s))
        return MAILPROTO_OK;
    const mailproto_smtp_event *ev;
    int rc = drive(s, 0, &ev);
    return rc < 0 ? rc : MAILPROTO_OK;
}

int mailproto_smtp_connect(mailproto_smtp *s)
{
    if (!s)
        return MAILPROTO_E_INVALID;
    if (s->mode != MODE_NONE)
        return mailproto__err_set(&s->err, MAILPROTO_E_STATE, "already started");
    const mailproto_smtp_config *c = &s->e.cfg;
    mailproto__err_clear(&s->err);
    int rc;
    if (c->io) {
        rc = mailproto_transport_io(&s->t, c->io, mem_of(s));
        if (rc == MAILPROTO_OK) {
            /* the drive loop does the waiting, with the engine's deadlines */
            mailproto_transport_set_nonblocking(s->t, 1);
            if (c->clock)
                mailproto_transport_set_clock(s->t, c->clock, c->clock_ctx);
            if (c->trace)
                mailproto_transport_set_trace(s->t, c->trace, c->trace_ctx);
        }
    } else {
        if (!c->host || !*c->host)
            return mailproto__err_set(&s->err, MAILPROTO_E_INVALID, "no host");
        mailproto_tcp_config tc;
        memset(&tc, 0, sizeof tc);
        tc.host = c->host;
        tc.port = c->port;
        tc.connect_timeout_ms = c->timeout_ms;
        tc.nonblocking = 1; /* the drive loop does all the waiting */
        tc.clock = c->clock;
        tc.clock_ctx = c->clock_ctx;
        tc.trace = c->trace;
        tc.trace_ctx = c->trace_ctx;
        rc = mailproto_transport_tcp(&s->t, &tc, mem_of(s));
        if (rc == MAILPROTO_AGAIN)
            s->drive.connecting = 1;
        else if (rc != MAILPROTO_OK && s->t) {
            const mailproto_reply *te = mailproto_transport_last_error(s->t);
            s->err.pub.sys_errno = te->sys_errno;
        }
    }
    if (rc != MAILPROTO_OK && rc != MAILPROTO_AGAIN) {
        mailproto__err_set(&s->err, rc, "cannot connect to %s", c->host ? c->host : "the server");
        if (s->t) {
            mailproto_transport_free(s->t);
            s->t = NULL;
        }
        return rc;
    }
    s->mode = MODE_NET;
    int connecting = s->drive.connecting;
    s->tp.t = s->t;
    s->tp.tls = c->tls;
    s->tp.host = c->host;
    mailproto__drive_io io;
    mailproto__drive_io_transport(&io, &s->tp);
    mailproto__drive_init(&s->drive, &io, !c->nonblocking, c->clock ? c->clock : mailproto_clock_monotonic_ms,
                          c->clock_ctx);
    s->drive.connecting = connecting;
    mailproto__smtp_engine_start(&s->e);
    if (c->nonblocking)
        return MAILPROTO_AGAIN;
    /* blocking: connect (the drive steps it), then run until the session is ready */
    for (;;) {
        const mailproto_smtp_event *ev;
        rc = drive(s, 0, &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_SMTP_EV_READY)
                return MAILPROTO_OK;
            continue;
        }
        if (rc == MAILPROTO_OK)
            return mailproto__smtp_engine_idle(&s->e) ? MAILPROTO_OK : MAILPROTO_E_STATE;
        return rc; /* errors; AGAIN from a callback transport without wait */
    }
}

int mailproto_smtp_submit(mailproto_smtp *s, const mailproto_envelope *env, mailproto_source *body)
{
    if (!s)
        return MAILPROTO_E_INVALID;
    if (s->mode == MODE_NONE)
        return mailproto__err_set(&s->err, MAILPROTO_E_STATE, "not connected");
    int rc = idle_check(s);
    if (rc < 0)
        return rc;
    return mailproto__smtp_engine_submit(&s->e, env, body);
}

int mailproto_smtp_send(mailproto_smtp *s, const mailproto_envelope *env, mailproto_source *body,
                        mailproto_smtp_result *res)
{
    if (res)
        memset(res, 0, sizeof *res);
    int rc;
    if (!s)
        rc = MAILPROTO_E_INVALID;
    else if (s->mode != MODE_NET || s->e.cfg.nonblocking)
        rc = mailproto__err_set(&s->err, MAILPROTO_E_STATE,
                                "mailproto_smtp_send needs a connected blocking handle");
    else if ((rc = idle_check(s)) == MAILPROTO_OK)
        rc = mailproto__smtp_engine_submit(&s->e, env, body);
    if (rc != MAILPROTO_OK) {
        /* nothing was written: the result says why, never "OK" */
        if (res) {
            res->status = rc;
            res->n_rcpt = env ? env->n_rcpt : 0;
            res->first_rejected = res->n_rcpt;
        }
        return rc;
    }
    for (;;) {
        const mailproto_smtp_event *ev;
        rc = drive(s, 0, &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type != MAILPROTO_SMTP_EV_SENT)
                continue;
            rc = ev->status;
            break;
        }
        if (rc == MAILPROTO_OK)
            rc = MAILPROTO_E_STATE;
        if (rc < 0 && s->e.res.status == 0)
            s->e.res.status = rc;
        if (rc < 0 && s->e.res.status < 0)
            rc = s->e.res.status;
        break;
    }
    if (res)
        *res = s->e.res;
    return rc;
}

int mailproto_smtp_quit(mailproto_smtp *s)
{
    if (!s)
        return MAILPROTO_E_INVALID;
    if (s->mode == MODE_NONE)
        return MAILPROTO_OK;
    int rc = mailproto__smtp_engine_quit(&s->e);
    if (rc != MAILPROTO_OK || s->mode != MODE_NET || s->e.cfg.nonblocking)
        return rc;
    for (;;) {
        const mailproto_smtp_event *ev;
        rc = drive(s, 0, &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_SMTP_EV_CLOSED)
                return MAILPROTO_OK;
            continue;
        }
        if (rc == MAILPROTO_E_CLOSED || rc == MAILPROTO_OK)
            return MAILPROTO_OK;
        return rc;
    }
}

void mailproto_smtp_free(mailproto_smtp *s)
{
    if (!s)
        return;
    if (s->mode == MODE_NET && s->t && mailproto__smtp_engine_idle(&s->e) && !s->drive.connecting) {
        if (!s->e.cfg.nonblocking) {
            s->e.cfg.inactivity_timeout_ms = 1000;
            mailproto_smtp_quit(s);
        } else if (mailproto__smtp_engine_quit(&s->e) == MAILPROTO_OK) {
            const mailproto_smtp_event *ev;
            drive(s, 0, &ev); /* what goes out without waiting */
        }
    }
    if (s->t)
        mailproto_transport_free(s->t);
    mailproto__sasl_clear(&s->e.sasl);
    const mailproto_mem *m = mem_of(s);
    mailproto_mem copy;
    if (m) {
        copy = *m;
        m = &copy;
    }
    size_t n = s->block_size;
    memset(s, 0, n);
    mailproto__free(m, s, n);
}

int mailproto_smtp_poll(mailproto_smtp *s, uint64_t now_ms_, const mailproto_smtp_event **ev)
{
    if (ev)
        *ev = NULL;
    if (!s || !ev)
        return MAILPROTO_E_INVALID;
    if (s->mode != MODE_NET)
        return mailproto__err_set(&s->err, MAILPROTO_E_STATE, "not connected");
    int rc = drive(s, now_ms_, ev);
    if (rc == MAILPROTO_OK && idle_read(s))
        rc = drive(s, now_ms_, ev);
    return rc;
}

int mailproto_smtp_fd(const mailproto_smtp *s)
{
    return s && s->t ? mailproto_transport_fd(s->t) : -1;
}

int mailproto_smtp_io_interest(const mailproto_smtp *s)
{
    if (!s)
        return 0;
    if (s->mode == MODE_NET && s->t && !s->e.cfg.io && mailproto_transport_fd(s->t) >= 0 &&
        !s->drive.connecting && !s->drive.tls_busy && mailproto__smtp_engine_idle(&s->e))
        return MAILPROTO_IO_READ; /* an idle session: watch for a 421 or a close */
    if (s->mode == MODE_NET && s->drive.interest)
        return s->drive.interest;
    int w = mailproto__smtp_engine_want(&s->e), r = 0;
    if (w & MAILPROTO__SMTP_WANT_READ)
        r |= MAILPROTO_IO_READ;
    if (w & MAILPROTO__SMTP_WANT_WRITE)
        r |= MAILPROTO_IO_WRITE;
    return r;
}

int mailproto_smtp_timeout_ms(const mailproto_smtp *s, uint64_t now)
{
    if (!s)
        return -1;
    if (s->mode == MODE_NET && s->t) {
        mailproto_smtp *m = (mailproto_smtp *)s; /* the vtable takes a non-const self */
        return mailproto__drive_timeout_ms(&m->drive, &smtp_vt, &m->e, now);
    }
    int64_t d = mailproto__smtp_engine_deadline(&s->e, now);
    return d > INT32_MAX ? INT32_MAX : (int)d;
}

/* ---- engine mode ---- */

int mailproto_smtp_start(mailproto_smtp *s)
{
    if (!s)
        return MAILPROTO_E_INVALID;
    if (s->mode != MODE_NONE)
        return MAILPROTO_E_STATE;
    s->mode = MODE_ENGINE;
    s->e.tls_event = 1;
    return mailproto__smtp_engine_start(&s->e);
}

/* MAILPROTO_OK when s is in engine mode (and alive, unless any_state). */
static int engine_gate(const mailproto_smtp *s, int any_state)
{
    if (!s)
        return MAILPROTO_E_INVALID;
    if (s->mode != MODE_ENGINE)
        return MAILPROTO_E_STATE;
    return !any_state && s->e.dead ? s->e.dead : MAILPROTO_OK;
}

int mailproto_smtp_input_buf(mailproto_smtp *s, unsigned char **p, size_t *cap)
{
    return mailproto__drive_lend_input(&smtp_vt, s ? &s->e : NULL, engine_gate(s, 0), p,
                                       cap);
}

int mailproto_smtp_input_done(mailproto_smtp *s, size_t n)
{
    return mailproto__drive_ack_input(&smtp_vt, s ? &s->e : NULL, engine_gate(s, 0), n);
}

int mailproto_smtp_output_buf(mailproto_smtp *s, const unsigned char **p, size_t *len)
{
    return mailproto__drive_lend_output(&smtp_vt, s ? &s->e : NULL, engine_gate(s, 0), p,
                                        len);
}

int mailproto_smtp_output_done(mailproto_smtp *s, size_t n)
{
    return mailproto__drive_ack_output(&smtp_vt, s ? &s->e : NULL, engine_gate(s, 1), n);
}

int mailproto_smtp_next(mailproto_smtp *s, uint64_t now, const mailproto_smtp_event **ev)
{
    if (ev)
        *ev = NULL;
    if (!s || !ev)
        return MAILPROTO_E_INVALID;
    if (s->mode != MODE_ENGINE)
        return MAILPROTO_E_STATE;
    return mailproto__smtp_engine_next(&s->e, now, ev);
}

int mailproto_smtp_tls_ready(mailproto_smtp *s)
{
    if (!s)
        return MAILPROTO_E_INVALID;
    if (s->mode != MODE_ENGINE || !s->e.want_tls)
        return MAILPROTO_E_STATE;
    mailproto__smtp_engine_tls_done(&s->e);
    return MAILPROTO_OK;
}

/* ---- results ---- */

const mailproto_reply *mailproto_smtp_last_reply(const mailproto_smtp *s)
{
    return s ? &s->err.pub : mailproto__reply_empty();
}

int mailproto_smtp_last_result(const mailproto_smtp *s, mailproto_smtp_result *out)
{
    if (!s || !out)
        return MAILPROTO_E_INVALID;
    *out = s->e.res;
    return MAILPROTO_OK;
}

const mailproto_smtp_rcpt *mailproto_smtp_rcpt_result(const mailproto_smtp *s, size_t i)
{
    if (!s || i >= s->e.res.n_rcpt)
        return NULL;
    return &s->e.rcpt[i];
}

unsigned mailproto_smtp_caps(const mailproto_smtp *s) { return s ? s->e.caps.mask : 0; }

uint64_t mailproto_smtp_size_limit(const mailproto_smtp *s) { return s ? s->e.caps.size : 0; }

unsigned mailproto_smtp_auth_mechs(const mailproto_smtp *s) { return s ? s->e.caps.auth : 0; }

int mailproto_smtp_is_secure(const mailproto_smtp *s) { return s ? s->e.secure : 0; }
