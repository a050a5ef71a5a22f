/*
 * The mailproto_imap handle: the engine (imap_engine.c) coupled with a
 * transport through the shared drive loop (lib/core/drive.c), or lent to
 * the caller in engine mode; and the command calls, which encode with the
 * codec's command encoder.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <mailproto/imap.h>
#include <mailproto/transport.h>

#include "../core/drive.h"
#include "imap_eng.h"

#define MODE_NONE 0
#define MODE_ENGINE 1
#define MODE_NET 2

#define SIDE_SIZE 4096
#define XBUF_SIZE 4096
#define CHAL_SIZE 4096
#define WORK_SIZE (MAILPROTO__SASL_WORK_MIN * 4)

struct mailproto_imap {
    mailproto_mem mem;
    int has_mem;
    size_t block_size;
    mailproto__err err;
    mailproto__imap_engine e;
    mailproto__drive drive;
    mailproto__drive_tp tp;
    mailproto_transport *t;
    int mode;
    int in_call;            /* a blocking call runs: events go to on_event */
};

static const mailproto_mem *mem_of(const mailproto_imap *h) { return h->has_mem ? &h->mem : NULL; }

#define ALIGN_UP(n) (((n) + 15u) & ~(size_t)15u)

typedef struct layout {
    size_t q_off, stage_off, side_off, xbuf_off, work_off, chal_off, total;
} layout;

static int compute_layout(const mailproto_imap_config *c, layout *l)
{
    if (c->max_inflight > 65536 || c->out_buf_size > SIZE_MAX / 8)
        return -1;
    size_t off = ALIGN_UP(sizeof(mailproto_imap));
    l->q_off = off;
    off = ALIGN_UP(off + c->max_inflight * sizeof(imap_qcmd));
    l->stage_off = off;
    off = ALIGN_UP(off + c->out_buf_size);
    l->side_off = off;
    off = ALIGN_UP(off + SIDE_SIZE);
    l->xbuf_off = off;
    off = ALIGN_UP(off + XBUF_SIZE);
    l->work_off = off;
    off = ALIGN_UP(off + WORK_SIZE);
    l->chal_off = off;
    off = ALIGN_UP(off + CHAL_SIZE);
    l->total = off;
    return 0;
}

static int copy_config(mailproto_imap_config *dst, const mailproto_imap_config *cfg, size_t sz)
{
    memset(dst, 0, sizeof *dst);
    if (sz <= sizeof *dst) {
        memcpy(dst, cfg, sz);
        return 0;
    }
    const unsigned char *extra = (const unsigned char *)cfg + sizeof *dst;
    for (size_t i = 0; i < sz - sizeof *dst; i++)
        if (extra[i])
            return -1;
    memcpy(dst, cfg, sizeof *dst);
    return 0;
}

static int bad_host(const char *s)
{
    if (!s)
        return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || n >= 255)
            return 1;
    return 0;
}

size_t mailproto_imap_memory_needed_sz(const mailproto_imap_config *cfg, size_t cfg_size)
{
    mailproto_imap_config c;
    if (!cfg || copy_config(&c, cfg, cfg_size) != 0)
        return 0;
    mailproto__imap_config_defaults(&c);
    layout l;
    if (compute_layout(&c, &l) != 0)
        return 0;
    mailproto_imap_parser_config pc;
    memset(&pc, 0, sizeof pc);
    pc.input_size = c.in_buf_size;
    pc.max_line = c.max_line;
    pc.max_string = c.max_string;
    size_t p = mailproto_imap_parser_memory_needed_sz(&pc, sizeof pc);
    return p ? l.total + p : 0;
}

int mailproto_imap_new_sz(mailproto_imap **out, const mailproto_imap_config *cfg, size_t cfg_size,
                          const mailproto_mem *mem)
{
    if (!out)
        return MAILPROTO_E_INVALID;
    *out = NULL;
    mailproto_imap_config c;
    if (!cfg || copy_config(&c, cfg, cfg_size) != 0)
        return MAILPROTO_E_INVALID;
    if (c.security < 0 || c.security > MAILPROTO_SEC_PLAIN || c.auth_mech < 0 ||
        c.auth_mech > MAILPROTO_AUTH_SCRAM_SHA256 || bad_host(c.host))
        return MAILPROTO_E_INVALID;
    mailproto__imap_config_defaults(&c);
    layout l;
    if (compute_layout(&c, &l) != 0)
        return MAILPROTO_E_INVALID;
    mailproto_imap_parser_config pc;
    memset(&pc, 0, sizeof pc);
    pc.input_size = c.in_buf_size;
    pc.max_line = c.max_line;
    pc.max_string = c.max_string;
    mailproto_imap_parser *p = NULL;
    int rc = mailproto_imap_parser_new(&p, &pc, mem);
    if (rc != MAILPROTO_OK)
        return rc;
    unsigned char *block = mailproto__alloc(mem, l.total);
    if (!block) {
        mailproto_imap_parser_free(p);
        return MAILPROTO_E_NOMEM;
    }
    memset(block, 0, l.total);
    mailproto_imap *h = (mailproto_imap *)(void *)block;
    if (mem) {
        h->mem = *mem;
        h->has_mem = 1;
    }
    h->block_size = l.total;
    mailproto__err_clear(&h->err);
    mailproto__imap_engine_init(&h->e, &c, &h->err, p, block + l.stage_off, c.out_buf_size,
                                block + l.side_off, SIDE_SIZE, block + l.xbuf_off, XBUF_SIZE,
                                block + l.work_off, WORK_SIZE, (char *)(block + l.chal_off), CHAL_SIZE,
                                (imap_qcmd *)(void *)(block + l.q_off), c.max_inflight);
    *out = h;
    return MAILPROTO_OK;
}

/* ---- the engine as the drive loop sees it ---- */

static int vt_next(void *self, uint64_t now, const void **ev)
{
    const mailproto_imap_event *e = NULL;
    int rc = mailproto__imap_engine_next(self, now, &e);
    *ev = e;
    return rc;
}

static int vt_want(void *self)
{
    int w = mailproto__imap_engine_want(self), r = 0;
    if (w & MAILPROTO__IMAP_WANT_READ)
        r |= MAILPROTO__DRIVE_WANT_READ;
    if (w & MAILPROTO__IMAP_WANT_WRITE)
        r |= MAILPROTO__DRIVE_WANT_WRITE;
    if (w & MAILPROTO__IMAP_WANT_TLS)
        r |= MAILPROTO__DRIVE_WANT_TLS;
    return r;
}

static void vt_output(void *self, const unsigned char **p, size_t *len)
{
    mailproto__imap_engine_output(self, p, len);
}
static void vt_output_done(void *self, size_t n) { mailproto__imap_engine_output_done(self, n); }
static void vt_input(void *self, unsigned char **p, size_t *cap) { mailproto__imap_engine_input(self, p, cap); }
static void vt_input_done(void *self, size_t n) { mailproto__imap_engine_input_done(self, n); }
static void vt_tls_done(void *self) { mailproto__imap_engine_tls_done(self); }
static int vt_io_error(void *self, int status) { return mailproto__imap_engine_fail(self, status); }
static int64_t vt_deadline(void *self, uint64_t now) { return mailproto__imap_engine_deadline(self, now); }

static const mailproto__drive_engine imap_vt = {
    vt_next, vt_want, vt_output, vt_output_done, vt_input, vt_input_done, vt_tls_done, vt_io_error,
    vt_deadline,
};

static uint64_t now_ms(const mailproto_imap *h)
{
    mailproto_clock_fn clk = h->e.cfg.clock ? h->e.cfg.clock : mailproto_clock_monotonic_ms;
    return clk(h->e.cfg.clock_ctx);
}

static int drive(mailproto_imap *h, uint64_t now, const mailproto_imap_event **ev)
{
    *ev = NULL;
    const void *v = NULL;
    int rc = mailproto__drive_run(&h->drive, &imap_vt, &h->e, now, &v);
    *ev = v;
    if (rc < 0 && h->t) {
        const mailproto_reply *te = mailproto_transport_last_error(h->t);
        if (te && (te->tls_error || te->sys_errno)) {
            h->err.pub.tls_error = te->tls_error;
            h->err.pub.sys_errno = te->sys_errno;
        }
        if (te && te->message && te->message[0] && h->err.pub.status == rc &&
            (!h->err.pub.message || !h->err.pub.message[0] || te->tls_error || te->sys_errno))
            mailproto__fmt(h->err.msg, sizeof h->err.msg, "%s", te->message);
    }
    return rc;
}

static void deliver(mailproto_imap *h, const mailproto_imap_event *ev)
{
    if (h->e.cfg.on_event)
        h->e.cfg.on_event(h->e.cfg.event_ctx, ev);
}

int mailproto_imap_connect(mailproto_imap *h)
{
    if (!h)
        return MAILPROTO_E_INVALID;
    if (h->mode != MODE_NONE)
        return mailproto__err_set(&h->err, MAILPROTO_E_STATE, "already started");
    const mailproto_imap_config *c = &h->e.cfg;
    mailproto__err_clear(&h->err);
    int rc;
    if (c->io) {
        rc = mailproto_transport_io(&h->t, c->io, mem_of(h));
        if (rc == MAILPROTO_OK) {
            mailproto_transport_set_nonblocking(h->t, 1);
            if (c->clock)
                mailproto_transport_set_clock(h->t, c->clock, c->clock_ctx);
            if (c->trace)
                mailproto_transport_set_trace(h->t, c->trace, c->trace_ctx);
        }
    } else {
        if (!c->host || !*c->host)
            return mailproto__err_set(&h->err, MAILPROTO_E_INVALID, "no host");
        mailproto_tcp_config tc;
        memset(&tc, 0, sizeof tc);
        tc.host = c->host;
        tc.port = c->port;
        tc.connect_timeout_ms = c->timeout_ms;
        tc.nonblocking = 1;
        tc.clock = c->clock;
        tc.clock_ctx = c->clock_ctx;
        tc.trace = c->trace;
        tc.trace_ctx = c->trace_ctx;
        rc = mailproto_transport_tcp(&h->t, &tc, mem_of(h));
        if (rc == MAILPROTO_AGAIN)
            h->drive.connecting = 1;
        else if (rc != MAILPROTO_OK && h->t)
            h->err.pub.sys_errno = mailproto_transport_last_error(h->t)->sys_errno;
    }
    if (rc != MAILPROTO_OK && rc != MAILPROTO_AGAIN) {
        mailproto__err_set(&h->err, rc, "cannot connect to %s", c->host ? c->host : "the server");
        if (h->t) {
            mailproto_transport_free(h->t);
            h->t = NULL;
        }
        return rc;
    }
    if (h->t)
        mailproto_transport_set_timeouts(h->t, c->timeout_ms, 0);
    h->mode = MODE_NET;
    int connecting = h->drive.connecting;
    h->tp.t = h->t;
    h->tp.tls = c->tls;
    h->tp.host = c->host;
    mailproto__drive_io io;
    mailproto__drive_io_transport(&io, &h->tp);
    mailproto__drive_init(&h->drive, &io, !c->nonblocking, c->clock ? c->clock : mailproto_clock_monotonic_ms,
                          c->clock_ctx);
    h->drive.connecting = connecting;
    h->e.now = c->nonblocking ? 0 : now_ms(h);
    mailproto__imap_engine_start(&h->e);
    if (c->nonblocking)
        return MAILPROTO_AGAIN;
    h->in_call = 1;
    for (;;) {
        const mailproto_imap_event *ev;
        rc = drive(h, now_ms(h), &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_IMAP_EV_READY) {
                rc = MAILPROTO_OK;
                break;
            }
            deliver(h, ev);
            continue;
        }
        if (rc == MAILPROTO_OK)
            rc = MAILPROTO_E_STATE;
        break;
    }
    h->in_call = 0;
    return rc;
}

int mailproto_imap_login(mailproto_imap *h)
{
    if (!h)
        return MAILPROTO_E_INVALID;
    if (h->mode == MODE_NONE)
        return mailproto__err_set(&h->err, MAILPROTO_E_STATE, "not connected");
    if (h->e.dead)
        return h->e.dead;
    return mailproto__imap_engine_ready(&h->e) ? MAILPROTO_OK : MAILPROTO_AGAIN;
}

int mailproto_imap_poll(mailproto_imap *h, uint64_t now, const mailproto_imap_event **ev)
{
    if (ev)
        *ev = NULL;
    if (!h || !ev)
        return MAILPROTO_E_INVALID;
    if (h->mode != MODE_NET)
        return mailproto__err_set(&h->err, MAILPROTO_E_STATE, "not connected");
    return drive(h, now, ev);
}

int mailproto_imap_wait(mailproto_imap *h, int timeout_ms, const mailproto_imap_event **ev)
{
    if (ev)
        *ev = NULL;
    if (!h || !ev)
        return MAILPROTO_E_INVALID;
    if (h->mode != MODE_NET)
        return mailproto__err_set(&h->err, MAILPROTO_E_STATE, "not connected");
    uint64_t now = now_ms(h);
    h->e.wait_active = timeout_ms >= 0;
    h->e.wait_until = now + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    h->e.wait_expired = 0;
    int blocking = h->drive.blocking;
    h->drive.blocking = 1;
    int rc = drive(h, now, ev);
    h->drive.blocking = blocking;
    h->e.wait_active = 0;
    h->e.wait_expired = 0;
    if (rc == MAILPROTO_OK)
        rc = MAILPROTO_AGAIN;
    return rc;
}

int mailproto_imap_fd(const mailproto_imap *h) { return h && h->t ? mailproto_transport_fd(h->t) : -1; }

int mailproto_imap_io_interest(const mailproto_imap *h)
{
    if (!h)
        return 0;
    if (h->mode == MODE_NET && h->drive.interest)
        return h->drive.interest;
    int w = mailproto__imap_engine_want(&h->e), r = 0;
    if (w & MAILPROTO__IMAP_WANT_READ)
        r |= MAILPROTO_IO_READ;
    if (w & MAILPROTO__IMAP_WANT_WRITE)
        r |= MAILPROTO_IO_WRITE;
    return r;
}

int mailproto_imap_timeout_ms(const mailproto_imap *h, uint64_t now)
{
    if (!h)
        return -1;
    if (h->mode == MODE_NET && h->t) {
        mailproto_imap *m = (mailproto_imap *)h;
        return mailproto__drive_timeout_ms(&m->drive, &imap_vt, &m->e, now);
    }
    int64_t d = mailproto__imap_engine_deadline(&h->e, now);
    return d > INT32_MAX ? INT32_MAX : (int)d;
}

/* ---- engine mode ---- */

int mailproto_imap_start(mailproto_imap *h)
{
    if (!h)
        return MAILPROTO_E_INVALID;
    if (h->mode != MODE_NONE)
        return MAILPROTO_E_STATE;
    h->mode = MODE_ENGINE;
    h->e.tls_event = 1;
    return mailproto__imap_engine_start(&h->e);
}

/* MAILPROTO_OK when h is in engine mode (and alive, unless any_state). */
static int engine_gate(const mailproto_imap *h, int any_state)
{
    if (!h)
        return MAILPROTO_E_INVALID;
    if (h->mode != MODE_ENGINE)
        return MAILPROTO_E_STATE;
    return !any_state && h->e.dead ? h->e.dead : MAILPROTO_OK;
}

int mailproto_imap_input_buf(mailproto_imap *h, unsigned char **p, size_t *cap)
{
    return mailproto__drive_lend_input(&imap_vt, h ? &h->e : NULL, engine_gate(h, 0), p,
                                       cap);
}

int mailproto_imap_input_done(mailproto_imap *h, size_t n)
{
    return mailproto__drive_ack_input(&imap_vt, h ? &h->e : NULL, engine_gate(h, 0), n);
}

int mailproto_imap_output_buf(mailproto_imap *h, const unsigned char **p, size_t *len)
{
    return mailproto__drive_lend_output(&imap_vt, h ? &h->e : NULL, engine_gate(h, 0), p,
                                        len);
}

int mailproto_imap_output_done(mailproto_imap *h, size_t n)
{
    return mailproto__drive_ack_output(&imap_vt, h ? &h->e : NULL, engine_gate(h, 1), n);
}

int mailproto_imap_next(mailproto_imap *h, uint64_t now, const mailproto_imap_event **ev)
{
    if (ev)
        *ev = NULL;
    if (!h || !ev)
        return MAILPROTO_E_INVALID;
    if (h->mode != MODE_ENGINE)
        return MAILPROTO_E_STATE;
    return mailproto__imap_engine_next(&h->e, now, ev);
}

int mailproto_imap_tls_ready(mailproto_imap *h)
{
    if (!h)
        return MAILPROTO_E_INVALID;
    if (h->mode != MODE_ENGINE || !h->e.want_tls)
        return MAILPROTO_E_STATE;
    mailproto__imap_engine_tls_done(&h->e);
    return MAILPROTO_OK;
}

/* ---- state ---- */

const mailproto_reply *mailproto_imap_last_reply(const mailproto_imap *h)
{
    return h ? &h->err.pub : mailproto__reply_empty();
}

unsigned mailproto_imap_last_id(const mailproto_imap *h) { return h ? h->e.last_id : 0; }
unsigned mailproto_imap_caps(const mailproto_imap *h) { return h ? h->e.caps : 0; }
unsigned mailproto_imap_auth_mechs(const mailproto_imap *h) { return h ? h->e.auth_mask : 0; }
int mailproto_imap_is_secure(const mailproto_imap *h) { return h ? h->e.secure : 0; }

const mailproto_imap_mailbox *mailproto_imap_mailbox_state(const mailproto_imap *h)
{
    static const mailproto_imap_mailbox none;
    return h ? &h->e.mbx : &none;
}

const mailproto_imap_result *mailproto_imap_last_result(const mailproto_imap *h)
{
    static const mailproto_imap_result none;
    return h ? &h->e.res : &none;
}

void mailproto_imap_free(mailproto_imap *h)
{
    if (!h)
        return;
    if (h->mode == MODE_NET && h->t && !h->e.dead && !h->drive.connecting && !h->e.cfg.nonblocking &&
        mailproto__imap_engine_ready(&h->e) && h->e.idle_idx < 0 && !h->e.logout_sent) {
        h->e.cfg.inactivity_timeout_ms = 1000;
        h->e.cfg.on_event = NULL;
        mailproto_imap_logout(h);
    }
    if (h->t)
        mailproto_transport_free(h->t);
    mailproto__sasl_clear(&h->e.sasl);
    mailproto_imap_parser_free(h->e.p);
    const mailproto_mem *m = mem_of(h);
    mailproto_mem copy;
    if (m) {
        copy = *m;
        m = &copy;
    }
    size_t n = h->block_size;
    memset(h, 0, n);
    mailproto__free(m, h, n);
}

/* ================================================================== */
/* Commands                                                            */
/* ================================================================== */

static int check(mailproto_imap *h)
{
    if (!h)
        return MAILPROTO_E_INVALID;
    if (h->mode == MODE_NONE)
        return mailproto__err_set(&h->err, MAILPROTO_E_STATE, "not connected");
    if (h->e.dead)
        return h->e.dead;
    return MAILPROTO_OK;
}

static int blocking(const mailproto_imap *h) { return h->mode == MODE_NET && !h->e.cfg.nonblocking; }

/* Run until the command idx completes (blocking), or return AGAIN. */
static int run(mailproto_imap *h, int idx, int until_idling)
{
    if (idx < 0)
        return idx;
    unsigned id = h->e.q[idx].id;
    if (!blocking(h))
        return MAILPROTO_AGAIN;
    int logout = h->e.q[idx].kind == K_LOGOUT;
    int rc;
    h->in_call = 1;
    for (;;) {
        const mailproto_imap_event *ev;
        rc = drive(h, now_ms(h), &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_IMAP_EV_COMPLETED && ev->number == id) {
                rc = ev->error;
                break;
            }
            if (until_idling && ev->type == MAILPROTO_IMAP_EV_IDLING && ev->number == id) {
                rc = MAILPROTO_OK;
                break;
            }
            if (ev->type == MAILPROTO_IMAP_EV_CLOSED) {
                deliver(h, ev);
                rc = logout ? MAILPROTO_OK : MAILPROTO_E_CLOSED;
                break;
            }
            deliver(h, ev);
            continue;
        }
        if (rc == MAILPROTO_OK)
            rc = MAILPROTO_E_STATE;
        if (logout && rc == MAILPROTO_E_CLOSED)
            rc = MAILPROTO_OK;
        break;
    }
    h->in_call = 0;
    return rc;
}

static mailproto_imap_cmd *open_cmd(mailproto_imap *h, int kind, const char *name, int *rc)
{
    *rc = check(h);
    if (*rc != MAILPROTO_OK)
        return NULL;
    mailproto__err_clear(&h->err);
    return mailproto__imap_cmd_open(&h->e, kind, name, rc);
}

static int commit_run(mailproto_imap *h, mailproto_imap_cmd *c, int kind)
{
    int idx = mailproto__imap_cmd_commit(&h->e, c, kind, 0);
    return run(h, idx, 0);
}

static int simple(mailproto_imap *h, int kind, const char *name)
{
    int rc;
    mailproto_imap_cmd *c = open_cmd(h, kind, name, &rc);
    if (!c)
        return rc;
    return commit_run(h, c, kind);
}

/* Refuse a command the server does not offer.  Before the session is
 * ready the capabilities are not known yet: the command is queued and the
 * server answers it. */
static int need_cap(mailproto_imap *h, unsigned cap, const char *what)
{
    if (h && mailproto__imap_engine_ready(&h->e) && !(h->e.caps & cap))
        return mailproto__err_set(&h->err, MAILPROTO_E_UNSUPPORTED, "the server does not offer %s", what);
    return MAILPROTO_OK;
}

static int with_mailbox(mailproto_imap *h, int kind, const char *name, const char *mbox)
{
    if (h && !mbox)
        return MAILPROTO_E_INVALID;
    int rc;
    mailproto_imap_cmd *c = open_cmd(h, kind, name, &rc);
    if (!c)
        return rc;
    mailproto_imap_cmd_mailbox(c, mbox, strlen(mbox));
    return commit_run(h, c, kind);
}

int mailproto_imap_capability(mailproto_imap *h) { return simple(h, K_CAPABILITY, "CAPABILITY"); }
int mailproto_imap_noop(mailproto_imap *h) { return simple(h, K_OTHER, "NOOP"); }
int mailproto_imap_logout(mailproto_imap *h) { return simple(h, K_LOGOUT, "LOGOUT"); }
int mailproto_imap_namespace(mailproto_imap *h) { return simple(h, K_OTHER, "NAMESPACE"); }
int mailproto_imap_expunge(mailproto_imap *h) { return simple(h, K_EXPUNGE, "EXPUNGE"); }
int mailproto_imap_close(mailproto_imap *h) { return simple(h, K_CLOSE, "CLOSE"); }

int mailproto_imap_unselect(mailproto_imap *h)
{
    int rc = check(h);
    if (rc == MAILPROTO_OK)
        rc = need_cap(h, MAILPROTO_IMAP_CAP_UNSELECT, "UNSELECT");
    return rc != MAILPROTO_OK ? rc : simple(h, K_UNSELECT, "UNSELECT");
}

int mailproto_imap_create(mailproto_imap *h, const char *m) { return with_mailbox(h, K_OTHER, "CREATE", m); }
int mailproto_imap_delete(mailproto_imap *h, const char *m) { return with_mailbox(h, K_OTHER, "DELETE", m); }
int mailproto_imap_subscribe(mailproto_imap *h, const char *m) { return with_mailbox(h, K_OTHER, "SUBSCRIBE", m); }
int mailproto_imap_unsubscribe(mailproto_imap *h, const char *m)
{
    return with_mailbox(h, K_OTHER, "UNSUBSCRIBE", m);
}

int mailproto_imap_rename(mailproto_imap *h, const char *from, const char *to)
{
    if (h && (!from || !to))
        return MAILPROTO_E_INVALID;
    int rc;
    mailproto_imap_cmd *c = open_cmd(h, K_OTHER, "RENAME", &rc);
    if (!c)
        return rc;
    mailproto_imap_cmd_mailbox(c, from, strlen(from));
    mailproto_imap_cmd_mailbox(c, to, strlen(to));
    return commit_run(h, c, K_OTHER);
}

int mailproto_imap_id(mailproto_imap *h, const char *const *kv, size_t n)
{
    if (h && n && !kv)
        return MAILPROTO_E_INVALID;
    int rc;
    mailproto_imap_cmd *c = open_cmd(h, K_OTHER, "ID", &rc);
    if (!c)
        return rc;
    if (!n) {
        mailproto_imap_cmd_atom(c, "NIL");
    } else {
        mailproto_imap_cmd_open(c);
        for (size_t i = 0; i < n; i++) {
            mailproto_imap_cmd_string(c, kv[2 * i], kv[2 * i] ? strlen(kv[2 * i]) : 0);
            if (kv[2 * i + 1])
                mailproto_imap_cmd_string(c, kv[2 * i + 1], strlen(kv[2 * i + 1]));
            else
                mailproto_imap_cmd_atom(c, "NIL");
        }
        mailproto_imap_cmd_close(c);
    }
    return commit_run(h, c, K_OTHER);
}

/* Split space separated words into atoms. */
static void atoms(mailproto_imap_cmd *c, const char *s)
{
    char w[64];
    while (*s) {
        while (*s == ' ')
            s++;
        size_t n = 0;
        while (s[n] && s[n] != ' ')
            n++;
        if (!n)
            break;
        if (n >= sizeof w) {
            mailproto_imap_cmd_atom(c, ""); /* sets the error */
            return;
        }
        memcpy(w, s, n);
        w[n] = '\0';
        mailproto_imap_cmd_atom(c, w);
        s += n;
    }
}

/* Space separated flags ("\\Seen $Junk"): each an atom, maybe after one
 * backslash. */
static void flag_words(mailproto_imap_cmd *c, const char *s)
{
    char w[128];
    while (*s) {
        while (*s == ' ')
            s++;
        size_t n = 0;
        while (s[n] && s[n] != ' ')
            n++;
        if (!n)
            break;
        int ok = n < sizeof w;
        for (size_t i = 0; i < n && ok; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"]\\", ch))
                ok = ch == '\\' && i == 0 && n > 1;
        }
        if (!ok) {
            mailproto_imap_cmd_atom(c, ""); /* sets the error */
            return;
        }
        memcpy(w, s, n);
        w[n] = '\0';
        mailproto_imap_cmd_raw(c, w);
        s += n;
    }
}

int mailproto_imap_enable(mailproto_imap *h, const char *caps)
{
    if (h && (!caps || !*caps))
        return MAILPROTO_E_INVALID;
    int rc = check(h);
    if (rc == MAILPROTO_OK)
        rc = need_cap(h, MAILPROTO_IMAP_CAP_ENABLE, "ENABLE");
    if (rc != MAILPROTO_OK)
        return rc;
    mailproto_imap_cmd *c = open_cmd(h, K_ENABLE, "ENABLE", &rc);
    if (!c)
        return rc;
    atoms(c, caps);
    return commit_run(h, c, K_ENABLE);
}

static int list_cmd(mailproto_imap *h, int kind, const char *name, const char *ref, const char *pattern,
                    unsigned opts, mailproto_imap_list_fn fn, void *ctx)
{
    if (h && (!pattern))
        return MAILPROTO_E_INVALID;
    int rc;
    mailproto_imap_cmd *c = open_cmd(h, kind, name, &rc);
    if (!c)
        return rc;
    if (!ref)
        ref = "";
    if ((opts & MAILPROTO_IMAP_LIST_SUBSCRIBED) && (h->e.caps & MAILPROTO_IMAP_CAP_LIST_EXTENDED))
        mailproto_imap_cmd_raw(c, "(SUBSCRIBED)");
    mailproto_imap_cmd_mailbox(c, ref, strlen(ref));
    mailproto_imap_cmd_mailbox(c, pattern, strlen(pattern));
    int su = (opts & MAILPROTO_IMAP_LIST_SPECIAL_USE) && (h->e.caps & MAILPROTO_IMAP_CAP_SPECIAL_USE);
    int st = (opts & MAILPROTO_IMAP_LIST_STATUS) && (h->e.caps & MAILPROTO_IMAP_CAP_LIST_STATUS);
    if (su && st)
        mailproto_imap_cmd_raw(c, "RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN UIDNEXT UIDVALIDITY))");
    else if (su)
        mailproto_imap_cmd_raw(c, "RETURN (SPECIAL-USE)");
    else if (st)
        mailproto_imap_cmd_raw(c, "RETURN (STATUS (MESSAGES UNSEEN UIDNEXT UIDVALIDITY))");
    int idx = mailproto__imap_cmd_commit(&h->e, c, kind, 0);
    if (idx >= 0) {
        h->e.q[idx].list_fn = fn;
        h->e.q[idx].list_ctx = ctx;
    }
    return run(h, idx, 0);
}

int mailproto_imap_list(mailproto_imap *h, const char *ref, const char *pattern, unsigned opts,
                        mailproto_imap_list_fn fn, void *ctx)
{
    return list_cmd(h, K_LIST, "LIST", ref, pattern, opts, fn, ctx);
}

int mailproto_imap_lsub(mailproto_imap *h, const char *ref, const char *pattern, mailproto_imap_list_fn fn,
                        void *ctx)
{
    return list_cmd(h, K_LSUB, "LSUB", ref, pattern, 0, fn, ctx);
}

static int select_cmd(mailproto_imap *h, const char *mbox, unsigned opts, int qresync, uint32_t uidvalidity,
                      uint64_t modseq, const mailproto_imap_range *known, size_t n_known)
{
    if (h && !mbox)
        return MAILPROTO_E_INVALID;
    int rc = check(h);
    if (rc != MAILPROTO_OK)
        return rc;
    if (qresync && !h->e.qresync_enabled)
        return mailproto__err_set(&h->err, MAILPROTO_E_STATE, "QRESYNC is not enabled (mailproto_imap_enable)");
    if ((opts & MAILPROTO_IMAP_CONDSTORE) && (rc = need_cap(h, MAILPROTO_IMAP_CAP_CONDSTORE, "CONDSTORE")) != 0)
        return rc;
    if (n_known > 64)
        return MAILPROTO_E_LIMIT;
    int kind = (opts & MAILPROTO_IMAP_EXAMINE) ? K_EXAMINE : K_SELECT;
    mailproto_imap_cmd *c = open_cmd(h, kind, kind == K_EXAMINE ? "EXAMINE" : "SELECT", &rc);
    if (!c)
        return rc;
    mailproto_imap_cmd_mailbox(c, mbox, strlen(mbox));
    if (qresync) {
        mailproto_imap_cmd_open(c);
        mailproto_imap_cmd_atom(c, "QRESYNC");
        mailproto_imap_cmd_open(c);
        mailproto_imap_cmd_number(c, uidvalidity);
        mailproto_imap_cmd_number(c, modseq);
        if (known && n_known) {
            mailproto_imap_range tmp[64];
            memcpy(tmp, known, n_known * sizeof *tmp);
            mailproto_imap_cmd_seqset(c, tmp, n_known);
        }
        mailproto_imap_cmd_close(c);
        mailproto_imap_cmd_close(c);
    } else if (opts & MAILPROTO_IMAP_CONDSTORE) {
        mailproto_imap_cmd_raw(c, "(CONDSTORE)");
    }
    return commit_run(h, c, kind);
}

int mailproto_imap_select(mailproto_imap *h, const char *mbox, unsigned opts)
{
    return select_cmd(h, mbox, opts, 0, 0, 0, NULL, 0);
}

int mailproto_imap_select_qresync(mailproto_imap *h, const char *mbox, unsigned opts, uint32_t uidvalidity,
                                  uint64_t modseq, const mailproto_imap_range *known, size_t n_known)
{
    return select_cmd(h, mbox, opts, 1, uidvalidity, modseq, known, n_known);
}

int mailproto_imap_status(mailproto_imap *h, const char *mbox, unsigned items, mailproto_imap_status_items *out)
{
    if (h && (!mbox || !items))
        return MAILPROTO_E_INVALID;
    if (out)
        memset(out, 0, sizeof *out);
    int rc;
    mailproto_imap_cmd *c = open_cmd(h, K_STATUS, "STATUS", &rc);
    if (!c)
        return rc;
    static const char *const names[] = {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY",
                                        "UNSEEN",   "DELETED", "SIZE",   "HIGHESTMODSEQ"};
    mailproto_imap_cmd_mailbox(c, mbox, strlen(mbox));
    mailproto_imap_cmd_open(c);
    for (unsigned i = 0; i < 8; i++)
        if (items & (1u << i))
            mailproto_imap_cmd_atom(c, names[i]);
    mailproto_imap_cmd_close(c);
    int idx = mailproto__imap_cmd_commit(&h->e, c, K_STATUS, 0);
    if (idx >= 0)
        h->e.q[idx].status = out;
    return run(h, idx, 0);
}

static int put_set(mailproto_imap_cmd *c, const mailproto_imap_range *set, size_t n)
{
    mailproto_imap_range tmp[256];
    if (!set || !n || n > 256)
        return mailproto_imap_cmd_atom(c, ""); /* invalid: sticky error */
    memcpy(tmp, set, n * sizeof *tmp);
    return mailproto_imap_cmd_seqset(c, tmp, n);
}

int mailproto_imap_fetch_set(mailproto_imap *h, int uid, const mailproto_imap_range *set, size_t n,
                             const char *items, uint64_t changedsince, int vanished, const mailproto_sink *sink)
{
    if (h && (!items || !set || !n))
        return MAILPROTO_E_INVALID;
    if (sink && !sink->write)
        return MAILPROTO_E_INVALID;
    int rc = check(h);
    if (rc != MAILPROTO_OK)
        return rc;
    if (changedsince && (rc = need_cap(h, MAILPROTO_IMAP_CAP_CONDSTORE, "CONDSTORE")) != 0)
        return rc;
    if (vanished && (!uid || !h->e.qresync_enabled))
        return mailproto__err_set(&h->err, MAILPROTO_E_STATE, "VANISHED needs UID FETCH and QRESYNC enabled");
    mailproto_imap_cmd *c = open_cmd(h, K_FETCH, uid ? "UID FETCH" : "FETCH", &rc);
    if (!c)
        return rc;
    put_set(c, set, n);
    mailproto_imap_cmd_raw(c, items);
    if (changedsince) {
        mailproto_imap_cmd_open(c);
        mailproto_imap_cmd_atom(c, "CHANGEDSINCE");
        mailproto_imap_cmd_number(c, changedsince);
        if (vanished)
            mailproto_imap_cmd_atom(c, "VANISHED");
        mailproto_imap_cmd_close(c);
    }
    int idx = mailproto__imap_cmd_commit(&h->e, c, K_FETCH, 0);
    if (idx >= 0)
        h->e.q[idx].sink = sink;
    return run(h, idx, 0);
}

int mailproto_imap_fetch(mailproto_imap *h, int uid, uint32_t first, uint32_t last, const char *items)
{
    mailproto_imap_range r = {first, last};
    return mailproto_imap_fetch_set(h, uid, &r, 1, items, 0, 0, NULL);
}

int mailproto_imap_fetch_body(mailproto_imap *h, int uid, uint32_t n, const char *section, uint64_t offset,
                              uint64_t len, const mailproto_sink *sink)
{
    if (!section)
        section = "";
    for (const char *s = section; *s; s++)
        if ((unsigned char)*s < 0x21 && *s != ' ')
            return MAILPROTO_E_INVALID;
    if (strchr(section, ']') || strlen(section) > 200 || !n)
        return MAILPROTO_E_INVALID;
    char items[320];
    if (len)
        mailproto__fmt(items, sizeof items, "(BODY.PEEK[%s]<%llu.%llu>)", section, (unsigned long long)offset,
                       (unsigned long long)len);
    else
        mailproto__fmt(items, sizeof items, "(BODY.PEEK[%s])", section);
    mailproto_imap_range r = {n, n};
    return mailproto_imap_fetch_set(h, uid, &r, 1, items, 0, 0, sink);
}

/* ---- search criteria ---- */

enum { CR_KEY = 1, CR_STRING, CR_DATE, CR_NUMBER, CR_SET, CR_UIDSET };

void mailproto_imap_criteria_init(mailproto_imap_criteria *c)
{
    if (c)
        memset(c, 0, sizeof *c);
}

static int cr_put(mailproto_imap_criteria *c, int type, const void *p, size_t n)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (c->err)
        return c->err;
    if (n > 0xffff || n + 3 > sizeof c->buf - c->len)
        return c->err = MAILPROTO_E_LIMIT;
    c->buf[c->len] = (unsigned char)type;
    c->buf[c->len + 1] = (unsigned char)(n >> 8);
    c->buf[c->len + 2] = (unsigned char)n;
    if (n)
        memcpy(c->buf + c->len + 3, p, n);
    c->len += n + 3;
    return MAILPROTO_OK;
}

static int cr_key(mailproto_imap_criteria *c, const char *key)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (!key || !*key)
        return c->err = MAILPROTO_E_INVALID;
    for (const char *s = key; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return c->err = MAILPROTO_E_INVALID;
    return cr_put(c, CR_KEY, key, strlen(key));
}

int mailproto_imap_criteria_key(mailproto_imap_criteria *c, const char *key) { return cr_key(c, key); }

int mailproto_imap_criteria_string(mailproto_imap_criteria *c, const char *key, const char *value)
{
    int rc = cr_key(c, key);
    if (rc == MAILPROTO_OK && !value)
        return c->err = MAILPROTO_E_INVALID;
    return rc != MAILPROTO_OK ? rc : cr_put(c, CR_STRING, value, strlen(value));
}

int mailproto_imap_criteria_header(mailproto_imap_criteria *c, const char *field, const char *value)
{
    int rc = cr_key(c, "HEADER");
    if (rc == MAILPROTO_OK && (!field || !value))
        return c->err = MAILPROTO_E_INVALID;
    if (rc == MAILPROTO_OK)
        rc = cr_put(c, CR_STRING, field, strlen(field));
    return rc != MAILPROTO_OK ? rc : cr_put(c, CR_STRING, value, strlen(value));
}

int mailproto_imap_criteria_date(mailproto_imap_criteria *c, const char *key, int year, int month, int day)
{
    int rc = cr_key(c, key);
    if (rc != MAILPROTO_OK)
        return rc;
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31)
        return c->err = MAILPROTO_E_INVALID;
    unsigned char d[4] = {(unsigned char)(year >> 8), (unsigned char)year, (unsigned char)month,
                          (unsigned char)day};
    return cr_put(c, CR_DATE, d, 4);
}

int mailproto_imap_criteria_number(mailproto_imap_criteria *c, const char *key, uint64_t n)
{
    int rc = cr_key(c, key);
    return rc != MAILPROTO_OK ? rc : cr_put(c, CR_NUMBER, &n, sizeof n);
}

int mailproto_imap_criteria_set(mailproto_imap_criteria *c, int uid, const mailproto_imap_range *r, size_t n)
{
    if (!c)
        return MAILPROTO_E_INVALID;
    if (!r || !n || n > 64)
        return c->err = MAILPROTO_E_INVALID;
    return cr_put(c, uid ? CR_UIDSET : CR_SET, r, n * sizeof *r);
}

static int criteria_utf8(const mailproto_imap_criteria *c)
{
    for (size_t i = 0; i + 3 <= c->len;) {
        size_t n = ((size_t)c->buf[i + 1] << 8) | c->buf[i + 2];
        if (c->buf[i] == CR_STRING)
            for (size_t k = 0; k < n; k++)
                if (c->buf[i + 3 + k] >= 0x80)
                    return 1;
        i += 3 + n;
    }
    return 0;
}

static void put_criteria(mailproto_imap_cmd *c, const mailproto_imap_criteria *cr)
{
    if (!cr || !cr->len) {
        mailproto_imap_cmd_atom(c, "ALL");
        return;
    }
    for (size_t i = 0; i + 3 <= cr->len;) {
        int type = cr->buf[i];
        size_t n = ((size_t)cr->buf[i + 1] << 8) | cr->buf[i + 2];
        const unsigned char *p = cr->buf + i + 3;
        char w[128];
        mailproto_imap_range tmp[64];
        uint64_t num;
        switch (type) {
        case CR_KEY:
            if (n >= sizeof w) {
                mailproto_imap_cmd_atom(c, "");
                return;
            }
            memcpy(w, p, n);
            w[n] = '\0';
            if (!strcmp(w, "(") || !strcmp(w, ")"))
                (w[0] == '(' ? mailproto_imap_cmd_open : mailproto_imap_cmd_close)(c);
            else
                mailproto_imap_cmd_atom(c, w);
            break;
        case CR_STRING:
            mailproto_imap_cmd_astring(c, p, n);
            break;
        case CR_DATE:
            mailproto_imap_cmd_date(c, (p[0] << 8) | p[1], p[2], p[3]);
            break;
        case CR_NUMBER:
            memcpy(&num, p, sizeof num);
            mailproto_imap_cmd_number(c, num);
            break;
        case CR_SET:
        case CR_UIDSET:
            if (type == CR_UIDSET)
                mailproto_imap_cmd_atom(c, "UID");
            memcpy(tmp, p, n);
            mailproto_imap_cmd_seqset(c, tmp, n / sizeof *tmp);
            break;
        default:
            break;
        }
        i += 3 + n;
    }
}

int mailproto_imap_search(mailproto_imap *h, int uid, const mailproto_imap_criteria *crit, unsigned ret,
                          mailproto_imap_uidset *out)
{
    if (crit && crit->err)
        return crit->err;
    if (out) {
        out->n = 0;
        out->count = 0;
        out->truncated = 0;
        out->min = out->max = 0;
        out->modseq = 0;
    }
    int rc;
    mailproto_imap_cmd *c = open_cmd(h, K_SEARCH, uid ? "UID SEARCH" : "SEARCH", &rc);
    if (!c)
        return rc;
    if (ret && (h->e.caps & MAILPROTO_IMAP_CAP_ESEARCH)) {
        mailproto_imap_cmd_atom(c, "RETURN");
        mailproto_imap_cmd_open(c);
        if (ret & MAILPROTO_IMAP_RETURN_MIN)
            mailproto_imap_cmd_atom(c, "MIN");
        if (ret & MAILPROTO_IMAP_RETURN_MAX)
            mailproto_imap_cmd_atom(c, "MAX");
        if (ret & MAILPROTO_IMAP_RETURN_COUNT)
            mailproto_imap_cmd_atom(c, "COUNT");
        if (ret & MAILPROTO_IMAP_RETURN_ALL)
            mailproto_imap_cmd_atom(c, "ALL");
        mailproto_imap_cmd_close(c);
    }
    if (crit && criteria_utf8(crit) && !h->e.utf8_enabled) {
        mailproto_imap_cmd_atom(c, "CHARSET");
        mailproto_imap_cmd_atom(c, "UTF-8");
    }
    put_criteria(c, crit);
    int idx = mailproto__imap_cmd_commit(&h->e, c, K_SEARCH, 0);
    if (idx >= 0)
        h->e.q[idx].set = out;
    return run(h, idx, 0);
}

int mailproto_imap_sort(mailproto_imap *h, int uid, const char *sort, const mailproto_imap_criteria *crit,
                        mailproto_imap_uidset *out)
{
    if (h && (!sort || !*sort))
        return MAILPROTO_E_INVALID;
    if (crit && crit->err)
        return crit->err;
    int rc = check(h);
    if (rc == MAILPROTO_OK)
        rc = need_cap(h, MAILPROTO_IMAP_CAP_SORT, "SORT");
    if (rc != MAILPROTO_OK)
        return rc;
    if (out) {
        out->n = 0;
        out->count = 0;
        out->truncated = 0;
        out->min = out->max = 0;
        out->modseq = 0;
    }
    mailproto_imap_cmd *c = open_cmd(h, K_SORT, uid ? "UID SORT" : "SORT", &rc);
    if (!c)
        return rc;
    mailproto_imap_cmd_open(c);
    atoms(c, sort);
    mailproto_imap_cmd_close(c);
    mailproto_imap_cmd_atom(c, "UTF-8");
    put_criteria(c, crit);
    int idx = mailproto__imap_cmd_commit(&h->e, c, K_SORT, 0);
    if (idx >= 0)
        h->e.q[idx].set = out;
    return run(h, idx, 0);
}

int mailproto_imap_store(mailproto_imap *h, int uid, const mailproto_imap_range *set, size_t n, int op,
                         const char *flags, uint64_t unchangedsince)
{
    if (h && (!flags || !set || !n || (op & 3) == 3))
        return MAILPROTO_E_INVALID;
    int rc = check(h);
    if (rc != MAILPROTO_OK)
        return rc;
    if (unchangedsince && (rc = need_cap(h, MAILPROTO_IMAP_CAP_CONDSTORE, "CONDSTORE")) != 0)
        return rc;
    mailproto_imap_cmd *c = open_cmd(h, K_STORE, uid ? "UID STORE" : "STORE", &rc);
    if (!c)
        return rc;
    put_set(c, set, n);
    if (unchangedsince) {
        mailproto_imap_cmd_open(c);
        mailproto_imap_cmd_atom(c, "UNCHANGEDSINCE");
        mailproto_imap_cmd_number(c, unchangedsince);
        mailproto_imap_cmd_close(c);
    }
    const char *item = (op & 3) == MAILPROTO_IMAP_STORE_ADD ? "+FLAGS" : (op & 3) == MAILPROTO_IMAP_STORE_REMOVE ? "-FLAGS" : "FLAGS";
    char w[24];
    mailproto__fmt(w, sizeof w, "%s%s", item, (op & MAILPROTO_IMAP_STORE_SILENT) ? ".SILENT" : "");
    mailproto_imap_cmd_atom(c, w);
    mailproto_imap_cmd_open(c);
    flag_words(c, flags);
    mailproto_imap_cmd_close(c);
    return commit_run(h, c, K_STORE);
}

static int copy_move(mailproto_imap *h, int kind, int uid, const mailproto_imap_range *set, size_t n,
                     const char *dest)
{
    if (h && (!dest || !set || !n))
        return MAILPROTO_E_INVALID;
    int rc;
    const char *name = kind == K_MOVE ? (uid ? "UID MOVE" : "MOVE") : (uid ? "UID COPY" : "COPY");
    mailproto_imap_cmd *c = open_cmd(h, kind, name, &rc);
    if (!c)
        return rc;
    put_set(c, set, n);
    mailproto_imap_cmd_mailbox(c, dest, strlen(dest));
    return commit_run(h, c, kind);
}

int mailproto_imap_copy(mailproto_imap *h, int uid, const mailproto_imap_range *set, size_t n, const char *dest)
{
    return copy_move(h, K_COPY, uid, set, n, dest);
}

int mailproto_imap_uid_expunge(mailproto_imap *h, const mailproto_imap_range *set, size_t n)
{
    if (h && (!set || !n))
        return MAILPROTO_E_INVALID;
    int rc = check(h);
    if (rc == MAILPROTO_OK)
        rc = need_cap(h, MAILPROTO_IMAP_CAP_UIDPLUS, "UIDPLUS (UID EXPUNGE)");
    if (rc != MAILPROTO_OK)
        return rc;
    mailproto_imap_cmd *c = open_cmd(h, K_EXPUNGE, "UID EXPUNGE", &rc);
    if (!c)
        return rc;
    put_set(c, set, n);
    return commit_run(h, c, K_EXPUNGE);
}

int mailproto_imap_move(mailproto_imap *h, int uid, const mailproto_imap_range *set, size_t n, const char *dest)
{
    int rc = check(h);
    if (rc != MAILPROTO_OK)
        return rc;
    if (!dest || !set || !n)
        return MAILPROTO_E_INVALID;
    if (!mailproto__imap_engine_ready(&h->e))
        return mailproto__err_set(&h->err, MAILPROTO_E_STATE,
                                  "MOVE needs the server's capabilities: wait for the ready session");
    if (h->e.caps & MAILPROTO_IMAP_CAP_MOVE)
        return copy_move(h, K_MOVE, uid, set, n, dest);
    int uidplus = (h->e.caps & MAILPROTO_IMAP_CAP_UIDPLUS) != 0;
    if (!uidplus && !h->e.cfg.move_allow_expunge)
        return mailproto__err_set(&h->err, MAILPROTO_E_UNSUPPORTED,
                                  "no MOVE and no UIDPLUS: EXPUNGE would also remove other messages marked "
                                  "\\Deleted (set move_allow_expunge to accept that)");
    if (uidplus && !uid)
        return mailproto__err_set(&h->err, MAILPROTO_E_INVALID, "the MOVE fallback needs UIDs");
    if (h->e.q_count + 3 > h->e.q_cap)
        return mailproto__err_set(&h->err, MAILPROTO_E_LIMIT, "command queue full (max_inflight)");
    /* COPY, then STORE +FLAGS.SILENT (\Deleted), then [UID] EXPUNGE: queued
     * together under one id, each step sent only after the previous OK */
    mailproto_imap_cmd *c = open_cmd(h, K_COPY, uid ? "UID COPY" : "COPY", &rc);
    if (!c)
        return rc;
    put_set(c, set, n);
    mailproto_imap_cmd_mailbox(c, dest, strlen(dest));
    int first = mailproto__imap_cmd_commit(&h->e, c, K_COPY, 0);
    if (first < 0)
        return first;
    unsigned id = h->e.q[first].id;
    h->e.q[first].chain = 1;
    for (int step = 0; step < 2; step++) {
        int kind = step ? K_EXPUNGE : K_STORE;
        c = mailproto__imap_cmd_open(&h->e, kind,
                                     step ? (uidplus ? "UID EXPUNGE" : "EXPUNGE") : (uid ? "UID STORE" : "STORE"), &rc);
        if (c && !step) {
            put_set(c, set, n);
            mailproto_imap_cmd_atom(c, "+FLAGS.SILENT");
            mailproto_imap_cmd_raw(c, "(\\Deleted)");
        } else if (c && uidplus) {
            put_set(c, set, n);
        }
        int idx = c ? mailproto__imap_cmd_commit(&h->e, c, kind, 0) : rc;
        if (idx < 0) {
            /* nothing was sent yet: take the whole chain back */
            for (size_t k = 0; k < h->e.q_count; k++) {
                imap_qcmd *o = &h->e.q[(h->e.q_head + k) % h->e.q_cap];
                if (o->id == id && o->state == Q_QUEUED)
                    o->state = Q_DONE;
            }
            return idx;
        }
        h->e.q[idx].id = id;
        h->e.q[idx].chain = 1;
        h->e.q[idx].held = 1;
        h->e.next_id--;
        h->e.last_id = id;
    }
    return run(h, first, 0);
}

int mailproto_imap_append(mailproto_imap *h, const char *mbox, const char *flags, int64_t utc, int tz_minutes,
                          mailproto_source *src)
{
    if (h && (!mbox || !src || !src->read || src->size == MAILPROTO_SIZE_UNKNOWN))
        return MAILPROTO_E_INVALID;
    int rc;
    mailproto_imap_cmd *c = open_cmd(h, K_APPEND, "APPEND", &rc);
    if (!c)
        return rc;
    mailproto_imap_cmd_mailbox(c, mbox, strlen(mbox));
    if (flags && *flags) {
        mailproto_imap_cmd_open(c);
        flag_words(c, flags);
        mailproto_imap_cmd_close(c);
    }
    if (utc)
        mailproto_imap_cmd_datetime(c, utc, tz_minutes);
    mailproto_imap_cmd_literal_ext(c, src->size);
    int idx = mailproto__imap_cmd_commit(&h->e, c, K_APPEND, 0);
    if (idx >= 0)
        h->e.q[idx].src = src;
    return run(h, idx, 0);
}

int mailproto_imap_idle(mailproto_imap *h)
{
    int rc = check(h);
    if (rc == MAILPROTO_OK)
        rc = need_cap(h, MAILPROTO_IMAP_CAP_IDLE, "IDLE");
    if (rc != MAILPROTO_OK)
        return rc;
    /* one IDLE at a time; a new one may be queued once DONE was asked for */
    for (size_t k = 0; k < h->e.q_count; k++) {
        const imap_qcmd *r = &h->e.q[(h->e.q_head + k) % h->e.q_cap];
        if (r->kind == K_IDLE && r->state != Q_DONE && r->state != Q_FREE &&
            !(h->e.idle_done_req && r->state != Q_QUEUED))
            return mailproto__err_set(&h->err, MAILPROTO_E_STATE, "IDLE already runs");
    }
    mailproto_imap_cmd *c = open_cmd(h, K_IDLE, "IDLE", &rc);
    if (!c)
        return rc;
    int idx = mailproto__imap_cmd_commit(&h->e, c, K_IDLE, 0);
    return run(h, idx, 1);
}

int mailproto_imap_idle_done(mailproto_imap *h)
{
    int rc = check(h);
    if (rc != MAILPROTO_OK)
        return rc;
    int found = -1;
    for (size_t k = 0; k < h->e.q_count; k++) {
        size_t i = (h->e.q_head + k) % h->e.q_cap;
        const imap_qcmd *r = &h->e.q[i];
        if (r->kind == K_IDLE && r->state != Q_DONE && r->state != Q_FREE)
            found = (int)i;
    }
    if (found < 0)
        return mailproto__err_set(&h->err, MAILPROTO_E_STATE, "no IDLE runs");
    h->e.idle_done_req = 1;
    return run(h, found, 0);
}

int mailproto_imap_raw(mailproto_imap *h, const char *command)
{
    if (h && (!command || !*command))
        return MAILPROTO_E_INVALID;
    char name[64];
    size_t n = 0;
    if (command) {
        while (command[n] && command[n] != ' ')
            n++;
    }
    if (h && (n == 0 || n >= sizeof name))
        return MAILPROTO_E_INVALID;
    if (!h)
        return MAILPROTO_E_INVALID;
    memcpy(name, command, n);
    name[n] = '\0';
    int rc;
    mailproto_imap_cmd *c = open_cmd(h, K_OTHER, name, &rc);
    if (!c)
        return rc;
    const char *rest = command + n;
    while (*rest == ' ')
        rest++;
    if (*rest)
        mailproto_imap_cmd_raw(c, rest);
    return commit_run(h, c, K_OTHER);
}
