/*
 * The mailproto_pop3 handle: the engine coupled with a transport through
 * the shared drive loop (lib/core/drive.c), or lent to the caller in
 * engine mode; the blocking commands and the UIDL sync helper.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include <mailproto/pop3.h>
#include <mailproto/transport.h>

#include "../core/drive.h"
#include "pop3_int.h"

#define MODE_NONE 0
#define MODE_ENGINE 1
#define MODE_NET 2

/* One message of a sync batch. */
typedef struct sync_item {
    uint32_t msg;
    int del_only;   /* known and old: only DELE */
    char uid[MAILPROTO__POP3_UID_MAX + 1];
} sync_item;

struct mailproto_pop3 {
    mailproto_mem mem;
    int has_mem;
    size_t block_size;
    mailproto__err err;
    mailproto__pop3_engine e;
    mailproto__drive drive;
    mailproto__drive_tp tp;
    mailproto_transport *t;
    int mode;
    sync_item *batch;
    size_t batch_cap;
};

static const mailproto_mem *mem_of(const mailproto_pop3 *p) { return p->has_mem ? &p->mem : NULL; }

/* ---- layout of the one allocation ---- */

#define ALIGN_UP(n) (((n) + 15u) & ~(size_t)15u)

typedef struct layout {
    size_t in_off, out_off, work_off, batch_off, total;
} layout;

/* SASL / APOP scratch: only a handle that logs in needs it. */
static size_t work_size(const mailproto_pop3_config *c)
{
    return c->username && *c->username ? MAILPROTO__SASL_WORK_MIN * 4 : 0;
}

static int compute_layout(const mailproto_pop3_config *c, layout *l)
{
    size_t off = ALIGN_UP(sizeof(mailproto_pop3));
    l->in_off = off;
    off = ALIGN_UP(off + c->in_buf_size);
    l->out_off = off;
    off = ALIGN_UP(off + c->out_buf_size);
    l->work_off = off;
    off = ALIGN_UP(off + work_size(c));
    l->batch_off = off;
    if (c->sync_batch > SIZE_MAX / 4 / sizeof(sync_item))
        return -1;
    off += c->sync_batch * sizeof(sync_item);
    l->total = off;
    return 0;
}

static int copy_config(mailproto_pop3_config *dst, const mailproto_pop3_config *cfg, size_t sz)
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

static int bad_text(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f || n >= max)
            return 1;
    return 0;
}

static int check_config(const mailproto_pop3_config *c)
{
    if (c->security < 0 || c->security > MAILPROTO_SEC_PLAIN || c->auth_mech < 0 ||
        c->auth_mech > MAILPROTO_AUTH_SCRAM_SHA256 || c->login < 0 ||
        c->login > MAILPROTO_POP3_LOGIN_APOP || bad_text(c->host, 255) ||
        bad_text(c->username, 250) || bad_text(c->password, 250) || bad_text(c->authzid, 250))
        return -1;
    return 0;
}

size_t mailproto_pop3_memory_needed_sz(const mailproto_pop3_config *cfg, size_t cfg_size)
{
    mailproto_pop3_config c;
    if (!cfg || copy_config(&c, cfg, cfg_size) != 0 || check_config(&c) != 0)
        return 0;
    mailproto__pop3_config_defaults(&c);
    layout l;
    return compute_layout(&c, &l) == 0 ? l.total : 0;
}

int mailproto_pop3_new_sz(mailproto_pop3 **out, const mailproto_pop3_config *cfg, size_t cfg_size,
                          const mailproto_mem *mem)
{
    if (!out)
        return MAILPROTO_E_INVALID;
    *out = NULL;
    mailproto_pop3_config c;
    if (!cfg || copy_config(&c, cfg, cfg_size) != 0 || check_config(&c) != 0)
        return MAILPROTO_E_INVALID;
    mailproto__pop3_config_defaults(&c);
    layout l;
    if (compute_layout(&c, &l) != 0)
        return MAILPROTO_E_INVALID;
    unsigned char *block = mailproto__alloc(mem, l.total);
    if (!block)
        return MAILPROTO_E_NOMEM;
    memset(block, 0, l.total);
    mailproto_pop3 *p = (mailproto_pop3 *)(void *)block;
    if (mem) {
        p->mem = *mem;
        p->has_mem = 1;
    }
    p->block_size = l.total;
    mailproto__err_clear(&p->err);
    mailproto__pop3_engine_init(&p->e, &c, &p->err, block + l.in_off, c.in_buf_size,
                                block + l.out_off, c.out_buf_size, block + l.work_off,
                                work_size(&c));
    p->batch = (sync_item *)(void *)(block + l.batch_off);
    p->batch_cap = c.sync_batch;
    *out = p;
    return MAILPROTO_OK;
}

/* ---- the engine as the drive loop sees it ---- */

static int vt_next(void *self, uint64_t now, const void **ev)
{
    const mailproto_pop3_event *e = NULL;
    int rc = mailproto__pop3_engine_next(self, now, &e);
    *ev = e;
    return rc;
}

static int vt_want(void *self) { return mailproto__pop3_engine_want(self); }

static void vt_output(void *self, const unsigned char **p, size_t *len)
{
    mailproto__pop3_engine_output(self, p, len);
}

static void vt_output_done(void *self, size_t n) { mailproto__pop3_engine_output_done(self, n); }

static void vt_input(void *self, unsigned char **p, size_t *cap)
{
    mailproto__pop3_engine_input(self, p, cap);
}

static void vt_input_done(void *self, size_t n) { mailproto__pop3_engine_input_done(self, n); }

static void vt_tls_done(void *self) { mailproto__pop3_engine_tls_done(self); }

static int vt_io_error(void *self, int status) { return mailproto__pop3_engine_fail(self, status); }

static int64_t vt_deadline(void *self, uint64_t now)
{
    return mailproto__pop3_engine_deadline(self, now);
}

static const mailproto__drive_engine pop3_vt = {
    vt_next, vt_want, vt_output, vt_output_done, vt_input, vt_input_done, vt_tls_done, vt_io_error,
    vt_deadline,
};

/* One drive pass; transport details are added to errors. */
static int drive(mailproto_pop3 *p, uint64_t now, const mailproto_pop3_event **ev)
{
    const void *v = NULL;
    int rc = mailproto__drive_run(&p->drive, &pop3_vt, &p->e, now, &v);
    *ev = v;
    if (rc < 0 && p->t) {
        const mailproto_reply *te = mailproto_transport_last_error(p->t);
        if (te && (te->tls_error || te->sys_errno)) {
            p->err.pub.tls_error = te->tls_error;
            p->err.pub.sys_errno = te->sys_errno;
        }
        /* the transport's own sentence says more (which certificate check) */
        if (te && te->status == rc && p->err.pub.status == rc && te->message && te->message[0])
            mailproto__fmt(p->err.msg, sizeof p->err.msg, "%s", te->message);
    }
    return rc;
}

int mailproto_pop3_connect(mailproto_pop3 *p)
{
    if (!p)
        return MAILPROTO_E_INVALID;
    if (p->mode != MODE_NONE)
        return mailproto__err_set(&p->err, MAILPROTO_E_STATE, "already started");
    const mailproto_pop3_config *c = &p->e.cfg;
    mailproto__err_clear(&p->err);
    int rc;
    if (c->io) {
        rc = mailproto_transport_io(&p->t, c->io, mem_of(p));
        if (rc == MAILPROTO_OK) {
            mailproto_transport_set_nonblocking(p->t, 1);
            if (c->clock)
                mailproto_transport_set_clock(p->t, c->clock, c->clock_ctx);
            if (c->trace)
                mailproto_transport_set_trace(p->t, c->trace, c->trace_ctx);
        }
    } else {
        if (!c->host || !*c->host)
            return mailproto__err_set(&p->err, MAILPROTO_E_INVALID, "no host");
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
        rc = mailproto_transport_tcp(&p->t, &tc, mem_of(p));
        if (rc == MAILPROTO_AGAIN)
            p->drive.connecting = 1;
        else if (rc != MAILPROTO_OK && p->t)
            p->err.pub.sys_errno = mailproto_transport_last_error(p->t)->sys_errno;
    }
    if (rc != MAILPROTO_OK && rc != MAILPROTO_AGAIN) {
        mailproto__err_set(&p->err, rc, "cannot connect to %s", c->host ? c->host : "the server");
        if (p->t) {
            mailproto_transport_free(p->t);
            p->t = NULL;
        }
        return rc;
    }
    p->mode = MODE_NET;
    int connecting = p->drive.connecting;
    p->tp.t = p->t;
    p->tp.tls = c->tls;
    p->tp.host = c->host;
    mailproto__drive_io io;
    mailproto__drive_io_transport(&io, &p->tp);
    mailproto__drive_init(&p->drive, &io, !c->nonblocking,
                          c->clock ? c->clock : mailproto_clock_monotonic_ms, c->clock_ctx);
    p->drive.connecting = connecting;
    mailproto__pop3_engine_start(&p->e);
    if (c->nonblocking)
        return MAILPROTO_AGAIN;
    /* blocking: connect (the drive steps it), then run until logged in */
    for (;;) {
        const mailproto_pop3_event *ev;
        rc = drive(p, 0, &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_POP3_EV_READY)
                return MAILPROTO_OK;
            continue;
        }
        if (rc == MAILPROTO_OK) {
            /* idle without READY: the login failed (the reason is recorded) */
            int st = p->err.pub.status;
            return st < 0 ? st : MAILPROTO_E_STATE;
        }
        return rc;
    }
}

int mailproto_pop3_submit(mailproto_pop3 *p, int cmd, uint32_t msg, uint32_t lines,
                          const mailproto_sink *sink)
{
    if (!p)
        return MAILPROTO_E_INVALID;
    if (p->mode == MODE_NONE)
        return mailproto__err_set(&p->err, MAILPROTO_E_STATE, "not connected");
    return mailproto__pop3_engine_submit(&p->e, cmd, msg, lines, sink);
}

/* Blocking: run one command to its EV_DONE; ENTRY events go to fn. */
static int run_cmd(mailproto_pop3 *p, int cmd, uint32_t msg, uint32_t lines,
                   const mailproto_sink *sink, mailproto_pop3_entry_fn fn, void *ctx,
                   mailproto_pop3_event *done)
{
    if (!p)
        return MAILPROTO_E_INVALID;
    if (p->mode != MODE_NET || p->e.cfg.nonblocking)
        return mailproto__err_set(&p->err, MAILPROTO_E_STATE,
                                  "blocking POP3 calls need a connected blocking handle");
    if (p->e.dead)
        return mailproto__err_set(&p->err, MAILPROTO_E_STATE, "the session is over");
    if (!mailproto__pop3_engine_idle(&p->e))
        return mailproto__err_set(&p->err, MAILPROTO_E_STATE,
                                  mailproto__pop3_engine_in_transaction(&p->e)
                                      ? "another command runs"
                                      : "the session is not in TRANSACTION (login failed?)");
    int rc = mailproto__pop3_engine_submit(&p->e, cmd, msg, lines, sink);
    if (rc != MAILPROTO_OK)
        return rc;
    int cb_fail = 0;
    for (;;) {
        const mailproto_pop3_event *ev;
        rc = drive(p, 0, &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_POP3_EV_ENTRY) {
                if (fn && !cb_fail && fn(ctx, ev) != 0)
                    cb_fail = 1;
                continue;
            }
            if (ev->type != MAILPROTO_POP3_EV_DONE)
                continue;
            if (done)
                *done = *ev;
            rc = ev->status;
            if (rc == MAILPROTO_OK && cb_fail)
                rc = mailproto__err_set(&p->err, MAILPROTO_E_CALLBACK,
                                        "the entry callback stopped the listing");
            return rc;
        }
        if (rc == MAILPROTO_OK)
            rc = MAILPROTO_E_STATE;
        return rc;
    }
}

int mailproto_pop3_stat(mailproto_pop3 *p, uint32_t *count, uint64_t *size)
{
    mailproto_pop3_event d;
    memset(&d, 0, sizeof d);
    int rc = run_cmd(p, MAILPROTO_POP3_STAT, 0, 0, NULL, NULL, NULL, &d);
    if (count)
        *count = d.count;
    if (size)
        *size = d.size;
    return rc;
}

int mailproto_pop3_list(mailproto_pop3 *p, uint32_t msg, mailproto_pop3_entry_fn fn, void *ctx)
{
    return run_cmd(p, MAILPROTO_POP3_LIST, msg, 0, NULL, fn, ctx, NULL);
}

int mailproto_pop3_uidl(mailproto_pop3 *p, uint32_t msg, mailproto_pop3_entry_fn fn, void *ctx)
{
    return run_cmd(p, MAILPROTO_POP3_UIDL, msg, 0, NULL, fn, ctx, NULL);
}

int mailproto_pop3_retr(mailproto_pop3 *p, uint32_t msg, const mailproto_sink *sink,
                        uint64_t *written)
{
    mailproto_pop3_event d;
    memset(&d, 0, sizeof d);
    int rc = run_cmd(p, MAILPROTO_POP3_RETR, msg, 0, sink, NULL, NULL, &d);
    if (written)
        *written = d.size;
    return rc;
}

int mailproto_pop3_top(mailproto_pop3 *p, uint32_t msg, uint32_t lines,
                       const mailproto_sink *sink, uint64_t *written)
{
    mailproto_pop3_event d;
    memset(&d, 0, sizeof d);
    int rc = run_cmd(p, MAILPROTO_POP3_TOP, msg, lines, sink, NULL, NULL, &d);
    if (written)
        *written = d.size;
    return rc;
}

int mailproto_pop3_dele(mailproto_pop3 *p, uint32_t msg)
{
    return run_cmd(p, MAILPROTO_POP3_DELE, msg, 0, NULL, NULL, NULL, NULL);
}

int mailproto_pop3_rset(mailproto_pop3 *p)
{
    return run_cmd(p, MAILPROTO_POP3_RSET, 0, 0, NULL, NULL, NULL, NULL);
}

int mailproto_pop3_noop(mailproto_pop3 *p)
{
    return run_cmd(p, MAILPROTO_POP3_NOOP, 0, 0, NULL, NULL, NULL, NULL);
}

int mailproto_pop3_quit(mailproto_pop3 *p)
{
    if (!p)
        return MAILPROTO_E_INVALID;
    if (p->mode == MODE_NONE)
        return MAILPROTO_OK;
    int rc = mailproto__pop3_engine_quit(&p->e);
    if (rc != MAILPROTO_OK || p->mode != MODE_NET || p->e.cfg.nonblocking)
        return rc;
    for (;;) {
        const mailproto_pop3_event *ev;
        rc = drive(p, 0, &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_POP3_EV_CLOSED)
                return ev->status;
            continue;
        }
        if (rc == MAILPROTO_OK)
            return p->e.outcome == MAILPROTO_POP3_OUTCOME_COMMITTED ? MAILPROTO_OK
                                                                    : MAILPROTO_E_STATE;
        return rc;
    }
}

int mailproto_pop3_outcome(const mailproto_pop3 *p) { return p ? p->e.outcome : 0; }

void mailproto_pop3_free(mailproto_pop3 *p)
{
    if (!p)
        return;
    if (p->t)
        mailproto_transport_free(p->t);
    mailproto__sasl_clear(&p->e.sasl);
    const mailproto_mem *m = mem_of(p);
    mailproto_mem copy;
    if (m) {
        copy = *m;
        m = &copy;
    }
    size_t n = p->block_size;
    memset(p, 0, n);
    mailproto__free(m, p, n);
}

int mailproto_pop3_poll(mailproto_pop3 *p, uint64_t now, const mailproto_pop3_event **ev)
{
    if (ev)
        *ev = NULL;
    if (!p || !ev)
        return MAILPROTO_E_INVALID;
    if (p->mode != MODE_NET)
        return mailproto__err_set(&p->err, MAILPROTO_E_STATE, "not connected");
    return drive(p, now, ev);
}

int mailproto_pop3_fd(const mailproto_pop3 *p)
{
    return p && p->t ? mailproto_transport_fd(p->t) : -1;
}

int mailproto_pop3_io_interest(const mailproto_pop3 *p)
{
    if (!p)
        return 0;
    if (p->mode == MODE_NET && p->drive.interest)
        return p->drive.interest;
    int w = mailproto__pop3_engine_want(&p->e), r = 0;
    if (w & MAILPROTO__POP3_WANT_READ)
        r |= MAILPROTO_IO_READ;
    if (w & MAILPROTO__POP3_WANT_WRITE)
        r |= MAILPROTO_IO_WRITE;
    return r;
}

int mailproto_pop3_timeout_ms(const mailproto_pop3 *p, uint64_t now)
{
    if (!p)
        return -1;
    if (p->mode == MODE_NET && p->t) {
        mailproto_pop3 *m = (mailproto_pop3 *)p; /* the vtable takes a non-const self */
        return mailproto__drive_timeout_ms(&m->drive, &pop3_vt, &m->e, now);
    }
    int64_t d = mailproto__pop3_engine_deadline(&p->e, now);
    return d > INT32_MAX ? INT32_MAX : (int)d;
}

/* ---- the sync helper ---- */

typedef struct sync_pass {
    mailproto_pop3 *p;
    const mailproto_pop3_sync_config *sc;
    mailproto_pop3_sync_result *res;
    uint32_t after;     /* only messages above this number */
    size_t n;           /* items in the batch (sorted by msg) */
    int more;           /* candidates did not fit */
    int stop;           /* a callback said stop */
    int first;          /* first pass: count */
} sync_pass;

static void batch_add(sync_pass *s, uint32_t msg, const char *uid, size_t ul, int del_only)
{
    mailproto_pop3 *p = s->p;
    size_t i = s->n;
    if (s->n == p->batch_cap) {
        s->more = 1;
        if (p->batch[s->n - 1].msg < msg)
            return;
        i = --s->n; /* drop the largest; it comes in a later pass */
    }
    while (i > 0 && p->batch[i - 1].msg > msg) {
        p->batch[i] = p->batch[i - 1];
        i--;
    }
    p->batch[i].msg = msg;
    p->batch[i].del_only = del_only;
    memcpy(p->batch[i].uid, uid, ul);
    p->batch[i].uid[ul] = '\0';
    s->n++;
}

static int sync_entry(void *ctx, const mailproto_pop3_event *ev)
{
    sync_pass *s = ctx;
    if (s->stop)
        return 1;
    if (s->first)
        s->res->listed++;
    if (ev->msg <= s->after)
        return 0;
    char uid[MAILPROTO__POP3_UID_MAX + 1];
    size_t ul = ev->uid.len > MAILPROTO__POP3_UID_MAX ? MAILPROTO__POP3_UID_MAX : ev->uid.len;
    memcpy(uid, ev->uid.ptr, ul);
    uid[ul] = '\0';
    int64_t at = -1;
    int k = s->sc->known(s->sc->ctx, uid, &at);
    if (k < 0) {
        s->stop = 1;
        return 1;
    }
    if (!k) {
        if (s->first)
            s->res->new_msgs++;
        if (s->sc->open)
            batch_add(s, ev->msg, uid, ul, 0);
        else if (s->first && s->sc->done(s->sc->ctx, ev->msg, uid, MAILPROTO_OK) != 0)
            s->stop = 1;
        return s->stop;
    }
    if (s->sc->delete_after_days && s->sc->open && at >= 0 && s->sc->now_s >= at &&
        (uint64_t)(s->sc->now_s - at) >= (uint64_t)s->sc->delete_after_days * 86400u)
        batch_add(s, ev->msg, uid, ul, 1);
    return 0;
}

int mailproto_pop3_sync(mailproto_pop3 *p, const mailproto_pop3_sync_config *sc,
                        mailproto_pop3_sync_result *res)
{
    mailproto_pop3_sync_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    if (!p || !sc || !sc->known || !sc->done)
        return MAILPROTO_E_INVALID;
    if ((p->e.capa.caps & MAILPROTO_POP3_CAP_CAPA) && !(p->e.capa.caps & MAILPROTO_POP3_CAP_UIDL))
        return mailproto__err_set(&p->err, MAILPROTO_E_UNSUPPORTED, "the server has no UIDL");
    sync_pass s;
    memset(&s, 0, sizeof s);
    s.p = p;
    s.sc = sc;
    s.res = res;
    s.first = 1;
    for (;;) {
        s.n = 0;
        s.more = 0;
        int rc = mailproto_pop3_uidl(p, 0, sync_entry, &s);
        if (rc == MAILPROTO_E_CALLBACK || s.stop)
            return mailproto__err_set(&p->err, MAILPROTO_E_CALLBACK, "a sync callback stopped");
        if (rc != MAILPROTO_OK)
            return rc;
        s.first = 0;
        for (size_t i = 0; i < s.n; i++) {
            sync_item *it = &p->batch[i];
            s.after = it->msg;
            if (!it->del_only) {
                mailproto_sink sink = {NULL, NULL};
                int o = sc->open(sc->ctx, it->msg, it->uid, &sink);
                if (o < 0)
                    return mailproto__err_set(&p->err, MAILPROTO_E_CALLBACK,
                                              "the sync open callback stopped");
                if (o > 0)
                    continue;
                rc = mailproto_pop3_retr(p, it->msg, &sink, NULL);
                if (rc == MAILPROTO_OK)
                    res->fetched++;
                else
                    res->failed++;
                if (rc < 0 && mailproto_is_fatal(rc)) {
                    sc->done(sc->ctx, it->msg, it->uid, rc);
                    return rc;
                }
                if (sc->done(sc->ctx, it->msg, it->uid, rc) != 0)
                    return mailproto__err_set(&p->err, MAILPROTO_E_CALLBACK,
                                              "the sync done callback stopped");
                if (rc != MAILPROTO_OK || !sc->delete_after_fetch)
                    continue;
            }
            rc = mailproto_pop3_dele(p, it->msg);
            if (rc == MAILPROTO_OK)
                res->deleted++;
            else if (mailproto_is_fatal(rc))
                return rc;
        }
        if (!s.more)
            return MAILPROTO_OK;
    }
}

/* ---- engine mode ---- */

int mailproto_pop3_start(mailproto_pop3 *p)
{
    if (!p)
        return MAILPROTO_E_INVALID;
    if (p->mode != MODE_NONE)
        return MAILPROTO_E_STATE;
    p->mode = MODE_ENGINE;
    p->e.tls_event = 1;
    return mailproto__pop3_engine_start(&p->e);
}

/* MAILPROTO_OK when p is in engine mode (and alive, unless any_state). */
static int engine_gate(const mailproto_pop3 *p, int any_state)
{
    if (!p)
        return MAILPROTO_E_INVALID;
    if (p->mode != MODE_ENGINE)
        return MAILPROTO_E_STATE;
    return !any_state && p->e.dead ? p->e.dead : MAILPROTO_OK;
}

int mailproto_pop3_input_buf(mailproto_pop3 *p, unsigned char **buf, size_t *cap)
{
    return mailproto__drive_lend_input(&pop3_vt, p ? &p->e : NULL, engine_gate(p, 0), buf,
                                       cap);
}

int mailproto_pop3_input_done(mailproto_pop3 *p, size_t n)
{
    return mailproto__drive_ack_input(&pop3_vt, p ? &p->e : NULL, engine_gate(p, 0), n);
}

int mailproto_pop3_output_buf(mailproto_pop3 *p, const unsigned char **buf, size_t *len)
{
    return mailproto__drive_lend_output(&pop3_vt, p ? &p->e : NULL, engine_gate(p, 0), buf,
                                        len);
}

int mailproto_pop3_output_done(mailproto_pop3 *p, size_t n)
{
    return mailproto__drive_ack_output(&pop3_vt, p ? &p->e : NULL, engine_gate(p, 1), n);
}

int mailproto_pop3_next(mailproto_pop3 *p, uint64_t now, const mailproto_pop3_event **ev)
{
    if (ev)
        *ev = NULL;
    if (!p || !ev)
        return MAILPROTO_E_INVALID;
    if (p->mode != MODE_ENGINE)
        return MAILPROTO_E_STATE;
    return mailproto__pop3_engine_next(&p->e, now, ev);
}

int mailproto_pop3_tls_ready(mailproto_pop3 *p)
{
    if (!p)
        return MAILPROTO_E_INVALID;
    if (p->mode != MODE_ENGINE || !p->e.want_tls)
        return MAILPROTO_E_STATE;
    mailproto__pop3_engine_tls_done(&p->e);
    return MAILPROTO_OK;
}

/* ---- results ---- */

const mailproto_reply *mailproto_pop3_last_reply(const mailproto_pop3 *p)
{
    return p ? &p->err.pub : mailproto__reply_empty();
}

unsigned mailproto_pop3_caps(const mailproto_pop3 *p) { return p ? p->e.capa.caps : 0; }

int mailproto_pop3_capa(const mailproto_pop3 *p, mailproto_pop3_capa_info *out)
{
    if (!p || !out)
        return MAILPROTO_E_INVALID;
    *out = p->e.capa;
    return MAILPROTO_OK;
}

int mailproto_pop3_is_secure(const mailproto_pop3 *p) { return p ? p->e.secure : 0; }
