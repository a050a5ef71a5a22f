/*
 * The IMAP client engine: a sans-I/O state machine over the codec.
 *
 * Bytes come in through the parser's input buffer, go out from three
 * places (in this order of priority): the side buffer (DONE, SASL
 * responses, "*"), an APPEND chunk pulled from the caller's source, and the
 * stage buffer, where each queued command was encoded when it was queued.
 * A command is a record in a bounded ring (creation order == stage order)
 * with its tag, its fragments (cut at synchronizing literals) and its
 * collectors (search set, status items, list callback, body sink).
 *
 * Tags are a random prefix plus a counter; a tagged reply for a tag that
 * is not in the ring, or whose command has not been written yet, ends the
 * session with MAILPROTO_E_PROTOCOL (security.md row 9).  A "+"
 * continuation goes to the command whose literal waits for it, to the
 * running AUTHENTICATE, or to IDLE.
 *
 * The connection phase (greeting, CAPABILITY, STARTTLS, CAPABILITY,
 * LOGIN/AUTHENTICATE, CAPABILITY) runs internal commands that are written
 * before any command the caller queued.  Until the session is ready,
 * nothing the server sends reaches the caller, and after STARTTLS
 * everything learned before it is dropped.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "imap_eng.h"
#include "imap_int.h"
#include "../core/crypto.h"

enum {
    S_NONE,
    S_TLS_FIRST,
    S_GREETING,
    S_CAPA,       /* CAPABILITY before TLS / auth */
    S_STARTTLS,
    S_UPGRADE,
    S_AUTH,
    S_CAPA_AUTH,
    S_READY,
    S_NOAUTH,     /* authentication failed: the session is not usable for mail */
    S_COUNT
};

static const char *const state_names[S_COUNT] = {
    "NONE", "TLS_FIRST", "GREETING", "CAPA", "STARTTLS", "UPGRADE", "AUTH", "CAPA_AUTH", "READY", "NOAUTH",
};

static void set_state(mailproto__imap_engine *e, int st)
{
    if (e->state != st)
        mailproto__trace_note(&e->trace, "imap: %s -> %s", state_names[e->state], state_names[st]);
    e->state = st;
}

void mailproto__imap_config_defaults(mailproto_imap_config *c)
{
    if (c->security == MAILPROTO_SEC_DEFAULT)
        c->security = c->port == 993 ? MAILPROTO_SEC_TLS : MAILPROTO_SEC_STARTTLS;
    if (!c->port)
        c->port = c->security == MAILPROTO_SEC_TLS ? 993 : 143;
    if (c->timeout_ms <= 0)
        c->timeout_ms = 30000;
    if (c->inactivity_timeout_ms <= 0)
        c->inactivity_timeout_ms = 60000;
    if (c->idle_refresh_ms <= 0)
        c->idle_refresh_ms = 25 * 60 * 1000;
    if (!c->in_buf_size)
        c->in_buf_size = 8192;
    if (c->in_buf_size < 512)
        c->in_buf_size = 512;
    if (!c->out_buf_size)
        c->out_buf_size = 16384;
    if (c->out_buf_size < 1024)
        c->out_buf_size = 1024;
    if (!c->max_inflight)
        c->max_inflight = 64;
}

void mailproto__imap_engine_init(mailproto__imap_engine *e, const mailproto_imap_config *cfg,
                                 mailproto__err *err, mailproto_imap_parser *p, unsigned char *stage,
                                 size_t stage_cap, unsigned char *side, size_t side_cap,
                                 unsigned char *xbuf, size_t xbuf_cap, unsigned char *work,
                                 size_t work_cap, char *chal, size_t chal_cap, imap_qcmd *q,
                                 size_t q_cap)
{
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    e->trace.fn = cfg->trace;
    e->trace.ctx = cfg->trace_ctx;
    e->trace.data_bytes = cfg->trace_data;
    e->err = err;
    e->p = p;
    e->stage = stage;
    e->stage_cap = stage_cap;
    e->side = side;
    e->side_cap = side_cap;
    e->xbuf = xbuf;
    e->xbuf_cap = xbuf_cap;
    e->sasl_work = work;
    e->sasl_work_cap = work_cap;
    e->chal = chal;
    e->chal_cap = chal_cap;
    e->q = q;
    e->q_cap = q_cap;
    e->cur = -1;
    e->idle_idx = -1;
    e->resp_idx = -1;
    e->lit_rec = -1;
    e->next_id = 1;
    e->cred.authzid = cfg->authzid;
    e->cred.user = cfg->username;
    e->cred.password = cfg->password;
    e->cred.token = cfg->oauth_token;
    e->cred.host = cfg->host;
    e->cred.port = cfg->port;
    e->implicit_tls = cfg->security == MAILPROTO_SEC_TLS;
}

/* ---- errors ---- */

static int die(mailproto__imap_engine *e, int status)
{
    if (!e->dead) {
        e->dead = status;
        e->want_tls = 0;
        e->side_len = e->side_off = 0;
        e->xbuf_len = e->xbuf_off = 0;
        if (e->err->pub.status >= 0)
            mailproto__err_set(e->err, status, NULL);
        mailproto__trace_note(&e->trace, "imap: fatal: %s", mailproto_errname(status));
        mailproto__sasl_clear(&e->sasl);
    }
    return status;
}

static int fail_msg(mailproto__imap_engine *e, int status, const char *msg)
{
    if (!e->dead)
        mailproto__err_set(e->err, status, "%s", msg);
    return die(e, status);
}

int mailproto__imap_engine_fail(mailproto__imap_engine *e, int status)
{
    if (status == MAILPROTO_OK || status == MAILPROTO_AGAIN)
        status = MAILPROTO_E_IO;
    if (e->dead)
        return e->dead;
    return die(e, status);
}

/* ---- the queue ---- */

static imap_qcmd *rec(mailproto__imap_engine *e, size_t i) { return &e->q[i]; }

static size_t ring_idx(const mailproto__imap_engine *e, size_t k) { return (e->q_head + k) % e->q_cap; }

static void pop_done(mailproto__imap_engine *e)
{
    while (e->q_count && e->q[e->q_head].state == Q_DONE) {
        e->q[e->q_head].state = Q_FREE;
        e->q_head = (e->q_head + 1) % e->q_cap;
        e->q_count--;
    }
    if (!e->q_count)
        e->q_head = 0;
}

imap_qcmd *mailproto__imap_find(mailproto__imap_engine *e, unsigned id)
{
    for (size_t k = 0; k < e->q_count; k++) {
        imap_qcmd *r = rec(e, ring_idx(e, k));
        if (r->id == id && r->state != Q_DONE && r->state != Q_FREE)
            return r;
    }
    return NULL;
}

size_t mailproto__imap_engine_busy(const mailproto__imap_engine *e)
{
    size_t n = 0;
    for (size_t k = 0; k < e->q_count; k++) {
        const imap_qcmd *r = &e->q[ring_idx(e, k)];
        if (r->state != Q_DONE && r->state != Q_FREE)
            n++;
    }
    return n;
}

int mailproto__imap_engine_ready(const mailproto__imap_engine *e)
{
    return !e->dead && e->state == S_READY;
}

/* Move the bytes of records not yet written to the front of the stage. */
static void stage_compact(mailproto__imap_engine *e)
{
    size_t dst = 0;
    for (size_t k = 0; k < e->q_count; k++) {
        imap_qcmd *r = rec(e, ring_idx(e, k));
        if (r->state != Q_QUEUED && r->state != Q_WRITING)
            continue;
        if (r->start != dst)
            memmove(e->stage + dst, e->stage + r->start, r->len);
        r->start = dst;
        dst += r->len;
    }
    e->stage_len = dst;
}

static unsigned enc_caps(const mailproto__imap_engine *e)
{
    unsigned c = 0;
    if (e->state != S_READY)
        return 0; /* capabilities may still change (TLS, auth): be conservative */
    if (e->caps & MAILPROTO_IMAP_CAP_LITERALPLUS)
        c |= MAILPROTO_IMAP_CMD_LITERALPLUS;
    if (e->caps & MAILPROTO_IMAP_CAP_LITERALMINUS)
        c |= MAILPROTO_IMAP_CMD_LITERALMINUS;
    if (e->utf8_enabled)
        c |= MAILPROTO_IMAP_CMD_UTF8;
    return c;
}

mailproto_imap_cmd *mailproto__imap_cmd_open(mailproto__imap_engine *e, int kind, const char *name,
                                             int *rc)
{
    (void)kind;
    *rc = MAILPROTO_OK;
    if (e->dead) {
        *rc = e->dead;
        return NULL;
    }
    if (e->q_count >= e->q_cap) {
        *rc = mailproto__err_set(e->err, MAILPROTO_E_LIMIT, "command queue full (max_inflight %zu)",
                                 e->q_cap);
        return NULL;
    }
    stage_compact(e);
    imap_qcmd *r = rec(e, ring_idx(e, e->q_count));
    memset(r, 0, sizeof *r);
    if (mailproto_imap_tagger_next(&e->tagger, r->tag, sizeof r->tag) != MAILPROTO_OK) {
        *rc = MAILPROTO_E_LIMIT;
        return NULL;
    }
    r->tag_len = strlen(r->tag);
    e->secret_from = 0;
    int x = mailproto_imap_cmd_begin(&e->enc, (char *)e->stage + e->stage_len, e->stage_cap - e->stage_len,
                                     enc_caps(e), r->tag, name);
    if (x != MAILPROTO_OK) {
        *rc = x;
        return NULL;
    }
    return &e->enc;
}

static void trace_cmd(mailproto__imap_engine *e, const imap_qcmd *r)
{
    if (!e->trace.fn)
        return;
    const char *p = (const char *)e->stage + r->start;
    if (e->secret_from) {
        mailproto__trace_emit(&e->trace, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_COMMAND, p, e->secret_from);
        mailproto__trace_secret(&e->trace, MAILPROTO_TRACE_SENT);
        return;
    }
    mailproto__trace_emit(&e->trace, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_COMMAND, p, r->len);
}

int mailproto__imap_cmd_commit(mailproto__imap_engine *e, mailproto_imap_cmd *c, int kind, int internal)
{
    int rc = mailproto_imap_cmd_end(c);
    if (rc != MAILPROTO_OK) {
        if (rc == MAILPROTO_E_LIMIT)
            return mailproto__err_set(e->err, rc, "command does not fit (out_buf_size or line limit)");
        return mailproto__err_set(e->err, rc, "invalid command argument");
    }
    imap_qcmd *r = rec(e, ring_idx(e, e->q_count));
    size_t n = mailproto_imap_cmd_nfrags(c);
    if (n == 0 || n > MAILPROTO_IMAP_CMD_MAX_FRAGS)
        return MAILPROTO_E_INVALID;
    r->start = e->stage_len;
    r->len = 0;
    for (size_t i = 0; i < n; i++) {
        mailproto_imap_frag f;
        mailproto_imap_cmd_frag(c, i, &f);
        r->f[i].off = (uint32_t)((const unsigned char *)f.ptr - (e->stage + r->start));
        r->f[i].len = (uint32_t)f.len;
        r->f[i].ext = f.ext_len;
        r->f[i].wait = f.wait_continue;
        r->len = r->f[i].off + f.len;
    }
    r->nfrags = (unsigned)n;
    r->kind = kind;
    r->internal = internal;
    r->state = Q_QUEUED;
    r->id = internal ? 0 : e->next_id++;
    if (!internal)
        e->last_id = r->id;
    e->stage_len += r->len;
    e->q_count++;
    trace_cmd(e, r);
    e->secret_from = 0;
    /* a caller command while IDLE runs: end IDLE first */
    if (!internal && kind != K_IDLE && e->idle_idx >= 0)
        e->idle_done_req = 1;
    return (int)ring_idx(e, e->q_count - 1);
}

/* A simple internal command "CAPABILITY" / "STARTTLS". */
static int internal_cmd(mailproto__imap_engine *e, int kind, const char *name)
{
    int rc;
    mailproto_imap_cmd *c = mailproto__imap_cmd_open(e, kind, name, &rc);
    if (!c)
        return die(e, rc);
    rc = mailproto__imap_cmd_commit(e, c, kind, 1);
    return rc < 0 ? die(e, rc) : MAILPROTO_OK;
}

/* ---- writing ---- */

static void settle(mailproto__imap_engine *e, imap_qcmd *r)
{
    for (;;) {
        if (r->cont_wait || r->ext_active)
            return;
        if (r->frag >= r->nfrags) {
            r->state = Q_SENT;
            e->cur = -1;
            return;
        }
        size_t end = (size_t)r->f[r->frag].off + r->f[r->frag].len;
        if (r->sent < end)
            return;
        if (r->f[r->frag].ext && !r->ext_started) {
            r->ext_started = 1;
            r->ext_active = 1;
            r->ext_left = r->f[r->frag].ext;
            return;
        }
        r->frag++;
        r->ext_started = 0;
        if (r->frag < r->nfrags && r->f[r->frag].wait)
            r->cont_wait = 1;
    }
}

/* A record that holds back everything queued after it. */
static int is_barrier(const mailproto__imap_engine *e, const imap_qcmd *r)
{
    if (r->state != Q_WRITING && r->state != Q_SENT)
        return 0;
    switch (r->kind) {
    case K_STARTTLS:
    case K_AUTHENTICATE:
    case K_LOGIN:
    case K_LOGOUT:
        return 1;
    case K_IDLE:
        return !e->done_sent;
    default:
        return 0;
    }
}

static void pick_next(mailproto__imap_engine *e)
{
    if (e->cur >= 0 || e->dead || e->want_tls || e->state == S_UPGRADE || e->state == S_TLS_FIRST ||
        e->state == S_GREETING || e->state == S_NONE)
        return;
    for (size_t k = 0; k < e->q_count; k++) {
        size_t i = ring_idx(e, k);
        imap_qcmd *r = rec(e, i);
        if (is_barrier(e, r))
            return;
        if (r->state != Q_QUEUED)
            continue;
        if (!r->internal && e->state != S_READY)
            continue;
        if (r->kind == K_IDLE && e->idle_idx >= 0)
            return; /* the previous IDLE has not completed yet */
        if (r->held)
            return; /* a MOVE fallback step waits for the previous step */
        if (r->internal || e->state == S_READY) {
            /* internal commands go before queued caller commands */
            if (!r->internal) {
                for (size_t j = k + 1; j < e->q_count; j++) {
                    imap_qcmd *o = rec(e, ring_idx(e, j));
                    if (o->internal && o->state == Q_QUEUED) {
                        r = o;
                        i = ring_idx(e, j);
                        break;
                    }
                }
            }
            r->state = Q_WRITING;
            r->started = e->now;
            r->frag = 0;
            r->sent = 0;
            r->cont_wait = 0;
            e->cur = (int)i;
            if (r->kind == K_SELECT || r->kind == K_EXAMINE) {
                memset(&e->mbx, 0, sizeof e->mbx);
            }
            if (r->kind == K_IDLE) {
                e->idle_idx = (int)i;
                e->idling = 0;
                e->done_sent = 0;
                e->idle_refresh = 0;
                /* a caller command queued behind it ends it at once */
                e->idle_done_req = 0;
                for (size_t j = k + 1; j < e->q_count; j++) {
                    const imap_qcmd *o = rec(e, ring_idx(e, j));
                    if (o->state == Q_QUEUED && !o->internal)
                        e->idle_done_req = 1;
                }
            }
            if (r->kind == K_LOGOUT)
                e->logout_sent = 1;
            settle(e, r);
            return;
        }
    }
}

void mailproto__imap_engine_output(mailproto__imap_engine *e, const unsigned char **p, size_t *len)
{
    *p = NULL;
    *len = 0;
    if (e->dead)
        return;
    if (e->side_off < e->side_len) {
        *p = e->side + e->side_off;
        *len = e->side_len - e->side_off;
        return;
    }
    if (e->cur < 0)
        return;
    imap_qcmd *r = rec(e, (size_t)e->cur);
    if (r->ext_active) {
        *p = e->xbuf + e->xbuf_off;
        *len = e->xbuf_len - e->xbuf_off;
        return;
    }
    if (r->cont_wait || r->frag >= r->nfrags)
        return;
    size_t end = (size_t)r->f[r->frag].off + r->f[r->frag].len;
    *p = e->stage + r->start + r->sent;
    *len = end - r->sent;
}

void mailproto__imap_engine_output_done(mailproto__imap_engine *e, size_t n)
{
    if (e->dead || n == 0)
        return;
    e->rx_flag = 1; /* progress counts as activity */
    if (e->side_off < e->side_len) {
        e->side_off += n;
        if (e->side_off >= e->side_len)
            e->side_off = e->side_len = 0;
        return;
    }
    if (e->cur < 0)
        return;
    imap_qcmd *r = rec(e, (size_t)e->cur);
    if (r->ext_active) {
        e->xbuf_off += n;
        if (e->xbuf_off >= e->xbuf_len) {
            e->xbuf_off = e->xbuf_len = 0;
            if (r->ext_left == 0) {
                r->ext_active = 0;
                settle(e, r);
            }
        }
        return;
    }
    r->sent += n;
    settle(e, r);
}

int mailproto__imap_engine_want(const mailproto__imap_engine *e)
{
    if (e->dead || !e->started)
        return 0;
    if (e->want_tls)
        return e->tls_event ? 0 : MAILPROTO__IMAP_WANT_TLS;
    if (e->wait_expired)
        return 0;
    int w = 0;
    if (e->side_off < e->side_len)
        w |= MAILPROTO__IMAP_WANT_WRITE;
    else if (e->cur >= 0) {
        const imap_qcmd *r = &e->q[e->cur];
        if (r->ext_active ? e->xbuf_len > e->xbuf_off : (!r->cont_wait && r->frag < r->nfrags))
            w |= MAILPROTO__IMAP_WANT_WRITE;
    }
    if (!e->eof)
        w |= MAILPROTO__IMAP_WANT_READ;
    return w;
}

void mailproto__imap_engine_input(mailproto__imap_engine *e, unsigned char **p, size_t *cap)
{
    *p = NULL;
    *cap = 0;
    if (e->dead || e->eof || e->want_tls)
        return;
    char *b = NULL;
    if (mailproto_imap_parser_input_buf(e->p, &b, cap) != MAILPROTO_OK) {
        *cap = 0;
        return;
    }
    *p = (unsigned char *)b;
}

void mailproto__imap_engine_input_done(mailproto__imap_engine *e, size_t n)
{
    if (e->dead)
        return;
    if (n == 0) {
        e->eof = 1;
        mailproto_imap_parser_eof(e->p);
        mailproto__trace_note(&e->trace, "imap: the server closed the connection");
        return;
    }
    char *b = NULL;
    size_t cap = 0;
    mailproto_imap_parser_input_buf(e->p, &b, &cap);
    if (e->trace.fn && b)
        mailproto__trace_emit(&e->trace, MAILPROTO_TRACE_RECEIVED, MAILPROTO_TRACE_REPLY, b, n);
    mailproto_imap_parser_input_done(e->p, n);
    e->rx_flag = 1;
}

/* ---- session phase ---- */

static int need_tls(const mailproto__imap_engine *e)
{
    return e->cfg.security != MAILPROTO_SEC_PLAIN && !e->secure;
}

static void reset_learned(mailproto__imap_engine *e)
{
    e->caps = 0;
    e->auth_mask = 0;
    e->caps_known = 0;
    e->utf8_enabled = 0;
    e->qresync_enabled = 0;
    memset(&e->mbx, 0, sizeof e->mbx);
    e->bye = 0;
}

static void event_client(mailproto__imap_engine *e, int type)
{
    memset(&e->ev, 0, sizeof e->ev);
    e->ev.type = type;
    e->ev_pending = 1;
}

static int ready(mailproto__imap_engine *e)
{
    set_state(e, S_READY);
    mailproto_imap_parser_set_authenticated(e->p, 1);
    if (!e->ready_reported) {
        e->ready_reported = 1;
        event_client(e, MAILPROTO_IMAP_EV_READY);
    }
    return MAILPROTO_OK;
}

static int start_auth(mailproto__imap_engine *e);

/* After the greeting or a CAPABILITY: what comes next. */
static int decide(mailproto__imap_engine *e)
{
    if (need_tls(e) && e->cfg.security == MAILPROTO_SEC_STARTTLS) {
        if (!(e->caps & MAILPROTO_IMAP_CAP_STARTTLS))
            return fail_msg(e, MAILPROTO_E_TLS_REQUIRED, "the server does not offer STARTTLS");
        set_state(e, S_STARTTLS);
        return internal_cmd(e, K_STARTTLS, "STARTTLS");
    }
    if (e->authed)
        return ready(e);
    if (e->cfg.username || e->cfg.oauth_token)
        return start_auth(e);
    return ready(e);
}

static int start_auth(mailproto__imap_engine *e)
{
    if (!e->secure && !e->cfg.allow_plaintext_auth)
        return fail_msg(e, MAILPROTO_E_TLS_REQUIRED,
                        "credentials would be sent in clear (set allow_plaintext_auth)");
    int use_login = 0, mech = 0;
    unsigned mask = e->auth_mask & ~MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_LOGIN);
    if (e->cfg.auth_mech == MAILPROTO_AUTH_LOGIN) {
        use_login = 1;
    } else {
        mech = mailproto__sasl_choose(mask, e->cfg.auth_mech, &e->cred);
        if (mech < 0) {
            if (e->cfg.auth_mech == 0 && e->cfg.password && e->cfg.username)
                use_login = 1;
            else {
                set_state(e, S_NOAUTH);
                mailproto__err_set(e->err, mech,
                                   mech == MAILPROTO_E_UNSUPPORTED
                                       ? "no usable authentication mechanism offered by the server"
                                       : "credentials missing for the chosen mechanism");
                return mech;
            }
        }
    }
    int rc;
    mailproto_imap_cmd *c;
    if (use_login) {
        if (e->caps & MAILPROTO_IMAP_CAP_LOGINDISABLED) {
            set_state(e, S_NOAUTH);
            return mailproto__err_set(e->err, MAILPROTO_E_UNSUPPORTED,
                                      "the server says LOGINDISABLED and offers no usable mechanism");
        }
        if (!e->cfg.username || !e->cfg.password) {
            set_state(e, S_NOAUTH);
            return mailproto__err_set(e->err, MAILPROTO_E_INVALID, "LOGIN needs a user name and password");
        }
        c = mailproto__imap_cmd_open(e, K_LOGIN, "LOGIN", &rc);
        if (!c)
            return die(e, rc);
        e->secret_from = c->len + 1; /* "tag LOGIN " */
        mailproto_imap_cmd_astring(c, e->cfg.username, strlen(e->cfg.username));
        mailproto_imap_cmd_astring(c, e->cfg.password, strlen(e->cfg.password));
        rc = mailproto__imap_cmd_commit(e, c, K_LOGIN, 1);
        if (rc < 0) {
            set_state(e, S_NOAUTH);
            return mailproto__err_set(e->err, MAILPROTO_E_INVALID, "user name or password cannot be sent");
        }
        set_state(e, S_AUTH);
        return MAILPROTO_OK;
    }
    rc = mailproto__sasl_start(&e->sasl, mech, &e->cred, e->cfg.random, e->cfg.random_ctx, e->sasl_work,
                               e->sasl_work_cap);
    if (rc != MAILPROTO_OK) {
        set_state(e, S_NOAUTH);
        return mailproto__err_set(e->err, rc, "cannot start AUTHENTICATE %s", mailproto__sasl_name(mech));
    }
    e->auth_mech = mech;
    e->auth_err = 0;
    c = mailproto__imap_cmd_open(e, K_AUTHENTICATE, "AUTHENTICATE", &rc);
    if (!c)
        return die(e, rc);
    mailproto_imap_cmd_atom(c, mailproto__sasl_name(mech));
    if ((e->caps & MAILPROTO_IMAP_CAP_SASL_IR) && mailproto__sasl_has_ir(mech)) {
        size_t n = 0;
        if (mailproto__sasl_initial(&e->sasl, e->chal, e->chal_cap, &n) == MAILPROTO_OK) {
            e->secret_from = c->len + 1;
            mailproto_imap_cmd_raw(c, n ? e->chal : "=");
            memset(e->chal, 0, n);
        }
    }
    rc = mailproto__imap_cmd_commit(e, c, K_AUTHENTICATE, 1);
    if (rc < 0)
        return die(e, rc);
    set_state(e, S_AUTH);
    return MAILPROTO_OK;
}

int mailproto__imap_engine_start(mailproto__imap_engine *e)
{
    if (e->started)
        return MAILPROTO_E_STATE;
    unsigned char rnd[4] = {0, 0, 0, 0};
    int (*rf)(void *, void *, size_t) = e->cfg.random;
    if (rf)
        rf(e->cfg.random_ctx, rnd, sizeof rnd);
    else
        mailproto__random(NULL, rnd, sizeof rnd);
    mailproto_imap_tagger_init(&e->tagger, rnd);
    e->started = 1;
    e->rx_armed = 1;
    e->rx_flag = 1; /* the clock starts at the first next() */
    if (e->implicit_tls) {
        set_state(e, S_TLS_FIRST);
        e->want_tls = 1;
    } else {
        set_state(e, S_GREETING);
    }
    return MAILPROTO_OK;
}

void mailproto__imap_engine_tls_done(mailproto__imap_engine *e)
{
    if (e->dead || !e->want_tls)
        return;
    e->want_tls = 0;
    e->tls_reported = 0;
    e->secure = 1;
    e->rx_flag = 1;
    mailproto__trace_note(&e->trace, "imap: TLS is up");
    mailproto_imap_parser_reset(e->p);
    if (e->state == S_TLS_FIRST) {
        set_state(e, S_GREETING);
        return;
    }
    /* RFC 3501 6.2.1 / RFC 9051 6.2.1: forget what was learned, ask again */
    reset_learned(e);
    set_state(e, S_CAPA);
    internal_cmd(e, K_CAPABILITY, "CAPABILITY");
}

/* ---- reading ---- */

static int awaiting(const mailproto__imap_engine *e)
{
    if (e->state == S_GREETING)
        return 1;
    for (size_t k = 0; k < e->q_count; k++) {
        size_t i = ring_idx(e, k);
        const imap_qcmd *r = &e->q[i];
        if (r->state != Q_WRITING && r->state != Q_SENT)
            continue;
        if ((int)i == e->idle_idx && e->idling && !e->done_sent)
            continue;
        return 1;
    }
    return 0;
}

static unsigned cap_bit(const char *p, size_t n)
{
    static const struct {
        const char *name;
        unsigned bit;
    } tab[] = {
        {"IMAP4rev1", MAILPROTO_IMAP_CAP_IMAP4REV1},   {"IMAP4rev2", MAILPROTO_IMAP_CAP_IMAP4REV2},
        {"STARTTLS", MAILPROTO_IMAP_CAP_STARTTLS},     {"LOGINDISABLED", MAILPROTO_IMAP_CAP_LOGINDISABLED},
        {"SASL-IR", MAILPROTO_IMAP_CAP_SASL_IR},       {"LITERAL+", MAILPROTO_IMAP_CAP_LITERALPLUS},
        {"LITERAL-", MAILPROTO_IMAP_CAP_LITERALMINUS}, {"IDLE", MAILPROTO_IMAP_CAP_IDLE},
        {"MOVE", MAILPROTO_IMAP_CAP_MOVE},             {"UIDPLUS", MAILPROTO_IMAP_CAP_UIDPLUS},
        {"CONDSTORE", MAILPROTO_IMAP_CAP_CONDSTORE},   {"QRESYNC", MAILPROTO_IMAP_CAP_QRESYNC},
        {"ENABLE", MAILPROTO_IMAP_CAP_ENABLE},         {"ID", MAILPROTO_IMAP_CAP_ID},
        {"NAMESPACE", MAILPROTO_IMAP_CAP_NAMESPACE},   {"SPECIAL-USE", MAILPROTO_IMAP_CAP_SPECIAL_USE},
        {"LIST-STATUS", MAILPROTO_IMAP_CAP_LIST_STATUS}, {"LIST-EXTENDED", MAILPROTO_IMAP_CAP_LIST_EXTENDED},
        {"ESEARCH", MAILPROTO_IMAP_CAP_ESEARCH},       {"SORT", MAILPROTO_IMAP_CAP_SORT},
        {"UNSELECT", MAILPROTO_IMAP_CAP_UNSELECT},     {"UTF8=ACCEPT", MAILPROTO_IMAP_CAP_UTF8_ACCEPT},
        {"CHILDREN", MAILPROTO_IMAP_CAP_CHILDREN},     {"BINARY", MAILPROTO_IMAP_CAP_BINARY},
    };
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(tab); i++)
        if (mailproto__span_ieq(p, n, tab[i].name))
            return tab[i].bit;
    return 0;
}

static void cap_atom(mailproto__imap_engine *e, mailproto_span a)
{
    if (a.len > 5 && mailproto__strncasecmp(a.ptr, "AUTH=", 5) == 0) {
        int id = mailproto__sasl_from_name(a.ptr + 5, a.len - 5);
        if (id > 0)
            e->new_auth |= MAILPROTO_AUTH_BIT(id);
        return;
    }
    e->new_caps |= cap_bit(a.ptr, a.len);
}

static unsigned flag_bit(mailproto_span f)
{
    static const struct {
        const char *name;
        unsigned bit;
    } tab[] = {
        {"\\Seen", MAILPROTO_IMAP_FLAG_SEEN},       {"\\Answered", MAILPROTO_IMAP_FLAG_ANSWERED},
        {"\\Flagged", MAILPROTO_IMAP_FLAG_FLAGGED}, {"\\Deleted", MAILPROTO_IMAP_FLAG_DELETED},
        {"\\Draft", MAILPROTO_IMAP_FLAG_DRAFT},     {"\\Recent", MAILPROTO_IMAP_FLAG_RECENT},
        {"\\*", MAILPROTO_IMAP_FLAG_KEYWORDS},
    };
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(tab); i++)
        if (mailproto__span_ieq(f.ptr, f.len, tab[i].name))
            return tab[i].bit;
    return MAILPROTO_IMAP_FLAG_OTHER;
}

static unsigned mbx_attr_bit(mailproto_span f)
{
    static const struct {
        const char *name;
        unsigned bit;
    } tab[] = {
        {"\\Noselect", MAILPROTO_IMAP_MBX_NOSELECT},           {"\\NoInferiors", MAILPROTO_IMAP_MBX_NOINFERIORS},
        {"\\HasChildren", MAILPROTO_IMAP_MBX_HASCHILDREN},     {"\\HasNoChildren", MAILPROTO_IMAP_MBX_HASNOCHILDREN},
        {"\\Marked", MAILPROTO_IMAP_MBX_MARKED},               {"\\Unmarked", MAILPROTO_IMAP_MBX_UNMARKED},
        {"\\NonExistent", MAILPROTO_IMAP_MBX_NONEXISTENT},     {"\\Subscribed", MAILPROTO_IMAP_MBX_SUBSCRIBED},
        {"\\Remote", MAILPROTO_IMAP_MBX_REMOTE},               {"\\All", MAILPROTO_IMAP_MBX_ALL},
        {"\\Archive", MAILPROTO_IMAP_MBX_ARCHIVE},             {"\\Drafts", MAILPROTO_IMAP_MBX_DRAFTS},
        {"\\Flagged", MAILPROTO_IMAP_MBX_FLAGGED},             {"\\Junk", MAILPROTO_IMAP_MBX_JUNK},
        {"\\Sent", MAILPROTO_IMAP_MBX_SENT},                   {"\\Trash", MAILPROTO_IMAP_MBX_TRASH},
    };
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(tab); i++)
        if (mailproto__span_ieq(f.ptr, f.len, tab[i].name))
            return tab[i].bit;
    return 0;
}

/* The oldest command of kind in flight (written or being written). */
static imap_qcmd *inflight(mailproto__imap_engine *e, int kind)
{
    for (size_t k = 0; k < e->q_count; k++) {
        imap_qcmd *r = rec(e, ring_idx(e, k));
        if ((r->state == Q_SENT || r->state == Q_WRITING) && r->kind == kind)
            return r;
    }
    return NULL;
}

static void set_add(mailproto_imap_uidset *s, uint32_t a, uint32_t b)
{
    if (!s)
        return;
    s->count += (uint64_t)(b - a) + 1;
    if (!s->min || a < s->min)
        s->min = a;
    if (b > s->max)
        s->max = b;
    if (s->n && s->ranges[s->n - 1].last != 0 && s->ranges[s->n - 1].last + 1 == a) {
        s->ranges[s->n - 1].last = b;
        return;
    }
    if (s->n < s->cap && s->ranges) {
        s->ranges[s->n].first = a;
        s->ranges[s->n].last = b;
        s->n++;
    } else {
        s->truncated = 1;
    }
}

static void status_item(mailproto_imap_status_items *st, const mailproto_imap_event *v)
{
    switch (v->item) {
    case MAILPROTO_IMAP_ITEM_MESSAGES: st->messages = v->number; st->have |= MAILPROTO_IMAP_STATUS_MESSAGES; break;
    case MAILPROTO_IMAP_ITEM_RECENT: st->recent = v->number; st->have |= MAILPROTO_IMAP_STATUS_RECENT; break;
    case MAILPROTO_IMAP_ITEM_UIDNEXT: st->uidnext = v->number; st->have |= MAILPROTO_IMAP_STATUS_UIDNEXT; break;
    case MAILPROTO_IMAP_ITEM_UIDVALIDITY:
        st->uidvalidity = v->number;
        st->have |= MAILPROTO_IMAP_STATUS_UIDVALIDITY;
        break;
    case MAILPROTO_IMAP_ITEM_UNSEEN: st->unseen = v->number; st->have |= MAILPROTO_IMAP_STATUS_UNSEEN; break;
    case MAILPROTO_IMAP_ITEM_DELETED: st->deleted = v->number; st->have |= MAILPROTO_IMAP_STATUS_DELETED; break;
    case MAILPROTO_IMAP_ITEM_SIZE: st->size = v->number; st->have |= MAILPROTO_IMAP_STATUS_SIZE; break;
    case MAILPROTO_IMAP_ITEM_HIGHESTMODSEQ:
        st->highestmodseq = v->number;
        st->have |= MAILPROTO_IMAP_STATUS_HIGHESTMODSEQ;
        break;
    default: break;
    }
}

/* Human-readable server text (completion, ALERT, BYE): as in
 * mailproto__err_text, control characters never reach the caller (a tab
 * becomes a space), so an ALERT cannot carry terminal escapes. */
static void text_add(mailproto__imap_engine *e, mailproto_span t)
{
    const unsigned char *p = (const unsigned char *)t.ptr;
    for (size_t i = 0; i < t.len && e->text_len + 1 < sizeof e->text; i++) {
        unsigned char c = p[i];
        if (c == '\t')
            c = ' ';
        if (c < 0x20 || c == 0x7f)
            continue;
        e->text[e->text_len++] = (char)c;
    }
    e->text[e->text_len] = '\0';
}

static void name_add(mailproto__imap_engine *e, mailproto_span t)
{
    if (t.len > sizeof e->le_raw - 1 - e->le_raw_len) {
        e->le_over = 1;
        return;
    }
    memcpy(e->le_raw + e->le_raw_len, t.ptr, t.len);
    e->le_raw_len += t.len;
    e->le_raw[e->le_raw_len] = '\0';
}

/* The entry is complete: decode the name, call the callback. */
static void list_done(mailproto__imap_engine *e, int is_status)
{
    imap_qcmd *r = inflight(e, e->resp_type == MAILPROTO_IMAP_EV_LSUB ? K_LSUB : K_LIST);
    if (!r || !r->list_fn || r->list_stop || e->le_over)
        return;
    size_t n = 0;
    const char *name = e->le_raw;
    if (!e->utf8_enabled &&
        mailproto_imap_mutf7_decode(e->le_raw, e->le_raw_len, e->le_name, sizeof e->le_name - 1, &n) ==
            MAILPROTO_OK) {
        e->le_name[n] = '\0';
        name = e->le_name;
    }
    e->le.name = name;
    e->le.raw_name = e->le_raw;
    e->le.is_status = is_status;
    if (r->list_fn(r->list_ctx, &e->le) != 0)
        r->list_stop = 1;
}

static void resp_begin(mailproto__imap_engine *e, const mailproto_imap_event *v)
{
    e->in_resp = 1;
    e->resp_type = v->type;
    e->resp_tagged = v->type == MAILPROTO_IMAP_EV_STATUS && v->tag.len > 0;
    e->resp_status = v->status;
    e->resp_idx = -1;
    e->resp_code = 0;
    e->resp_code_name[0] = '\0';
    e->resp_alert = 0;
    e->cap_resp = 0;
    e->cap_in_tagged = 0;
    e->text_len = 0;
    e->text[0] = '\0';
    e->van_count = 0;
    if (e->resp_tagged)
        memset(&e->cur_res, 0, sizeof e->cur_res);
    e->resp_pass = !e->resp_tagged && v->type != MAILPROTO_IMAP_EV_CONTINUE && e->state == S_READY;
    if (v->type == MAILPROTO_IMAP_EV_CAPABILITY) {
        e->cap_resp = 1;
        e->new_caps = 0;
        e->new_auth = 0;
    }
    if (v->type == MAILPROTO_IMAP_EV_CONTINUE) {
        e->chal_len = 0;
        e->chal_over = 0;
    }
    if (v->type == MAILPROTO_IMAP_EV_LIST || v->type == MAILPROTO_IMAP_EV_LSUB ||
        v->type == MAILPROTO_IMAP_EV_MBSTATUS) {
        memset(&e->le, 0, sizeof e->le);
        e->le_raw_len = 0;
        e->le_raw[0] = '\0';
        e->le_over = 0;
    }
    if (v->type == MAILPROTO_IMAP_EV_FLAGS && e->state == S_READY)
        e->mbx.flags = 0;
}

/* A tagged reply: find its command.  A tag never sent is an attack. */
static int match_tag(mailproto__imap_engine *e, mailproto_span tag)
{
    for (size_t k = 0; k < e->q_count; k++) {
        size_t i = ring_idx(e, k);
        imap_qcmd *r = rec(e, i);
        if (r->state == Q_FREE || r->state == Q_DONE)
            continue;
        if (r->tag_len != tag.len || memcmp(r->tag, tag.ptr, tag.len) != 0)
            continue;
        int line_sent = r->state == Q_SENT ||
                        (r->state == Q_WRITING && (r->frag > 0 || r->sent >= r->f[0].len));
        if (!line_sent)
            return fail_msg(e, MAILPROTO_E_PROTOCOL, "tagged reply for a command not yet sent");
        e->resp_idx = (int)i;
        return MAILPROTO_OK;
    }
    return fail_msg(e, MAILPROTO_E_PROTOCOL, "tagged reply with an unknown tag");
}

static void code_event(mailproto__imap_engine *e, const mailproto_imap_event *v)
{
    int ready_st = e->state == S_READY;
    if (v->type == MAILPROTO_IMAP_EV_CODE) {
        e->resp_code = v->item;
        if (v->item == MAILPROTO_IMAP_CODE_OTHER && mailproto__span_ieq(v->name.ptr, v->name.len, "REFERRAL")) {
            /* RFC 2221: reported, never followed */
            e->resp_code = MAILPROTO_IMAP_CODE_REFERRAL;
            e->cur_res.referral = 1;
        }
        size_t n = v->name.len < sizeof e->resp_code_name - 1 ? v->name.len : sizeof e->resp_code_name - 1;
        memcpy(e->resp_code_name, v->name.ptr, n);
        e->resp_code_name[n] = '\0';
        switch (v->item) {
        case MAILPROTO_IMAP_CODE_CAPABILITY:
            e->cap_resp = 1;
            e->cap_in_tagged = 1;
            e->new_caps = 0;
            e->new_auth = 0;
            break;
        case MAILPROTO_IMAP_CODE_ALERT: e->resp_alert = 1; break;
        case MAILPROTO_IMAP_CODE_PERMANENTFLAGS:
            if (ready_st)
                e->mbx.permanent_flags = 0;
            break;
        case MAILPROTO_IMAP_CODE_UIDVALIDITY:
            if (ready_st)
                e->mbx.uidvalidity = (uint32_t)v->number;
            break;
        case MAILPROTO_IMAP_CODE_UIDNEXT:
            if (ready_st)
                e->mbx.uidnext = (uint32_t)v->number;
            break;
        case MAILPROTO_IMAP_CODE_UNSEEN:
            if (ready_st)
                e->mbx.unseen = (uint32_t)v->number;
            break;
        case MAILPROTO_IMAP_CODE_HIGHESTMODSEQ:
            if (ready_st)
                e->mbx.highestmodseq = v->number;
            break;
        case MAILPROTO_IMAP_CODE_NOMODSEQ:
            if (ready_st)
                e->mbx.highestmodseq = 0;
            break;
        case MAILPROTO_IMAP_CODE_READ_ONLY:
            if (ready_st)
                e->mbx.read_only = 1;
            break;
        case MAILPROTO_IMAP_CODE_READ_WRITE:
            if (ready_st)
                e->mbx.read_only = 0;
            break;
        case MAILPROTO_IMAP_CODE_CLOSED:
            if (ready_st && !e->resp_tagged)
                memset(&e->mbx, 0, sizeof e->mbx);
            break;
        case MAILPROTO_IMAP_CODE_APPENDUID:
            e->cur_res.append_uidvalidity = (uint32_t)v->number;
            break;
        case MAILPROTO_IMAP_CODE_COPYUID:
            e->cur_res.copy_uidvalidity = (uint32_t)v->number;
            break;
        case MAILPROTO_IMAP_CODE_REFERRAL: {
            e->cur_res.referral = 1;
            /* the URL, for the caller to show: printable ASCII only */
            size_t o = strlen(e->cur_res.referral_url);
            for (size_t k = 0; k < v->data.len && o + 1 < sizeof e->cur_res.referral_url; k++) {
                unsigned char ch = (unsigned char)v->data.ptr[k];
                if (ch > 0x20 && ch < 0x7f)
                    e->cur_res.referral_url[o++] = (char)ch;
            }
            e->cur_res.referral_url[o] = '\0';
            break;
        }
        default: break;
        }
        return;
    }
    switch (v->item) {
    case MAILPROTO_IMAP_CODE_CAPABILITY:
        if (v->type == MAILPROTO_IMAP_EV_ATOM)
            cap_atom(e, v->data);
        break;
    case MAILPROTO_IMAP_CODE_PERMANENTFLAGS:
        if (v->type == MAILPROTO_IMAP_EV_FLAG && ready_st)
            e->mbx.permanent_flags |= flag_bit(v->data);
        break;
    case MAILPROTO_IMAP_CODE_APPENDUID:
        if (v->type == MAILPROTO_IMAP_EV_RANGE)
            e->cur_res.append_uid = (uint32_t)v->number;
        break;
    case MAILPROTO_IMAP_CODE_COPYUID:
        if (v->type == MAILPROTO_IMAP_EV_RANGE) {
            mailproto_imap_range *a = (v->flags & MAILPROTO_IMAP_EVF_SECOND) ? e->cur_res.copy_dst
                                                                              : e->cur_res.copy_src;
            size_t *n = (v->flags & MAILPROTO_IMAP_EVF_SECOND) ? &e->cur_res.n_copy_dst : &e->cur_res.n_copy_src;
            if (*n < MAILPROTO_IMAP_MAX_UIDSET) {
                a[*n].first = (uint32_t)v->number;
                a[*n].last = (uint32_t)v->number2;
                (*n)++;
            }
        }
        break;
    default: break;
    }
}

static void side_put(mailproto__imap_engine *e, const char *s, size_t n)
{
    if (n > e->side_cap - e->side_len)
        n = e->side_cap - e->side_len;
    memcpy(e->side + e->side_len, s, n);
    e->side_len += n;
}

static void complete_event(mailproto__imap_engine *e, imap_qcmd *r, int error)
{
    event_client(e, MAILPROTO_IMAP_EV_COMPLETED);
    e->ev.number = r->id;
    e->ev.status = e->resp_status;
    e->ev.item = e->resp_code;
    e->ev.error = error;
    e->ev.tag.ptr = r->tag;
    e->ev.tag.len = r->tag_len;
    e->ev.name.ptr = e->resp_code_name;
    e->ev.name.len = strlen(e->resp_code_name);
    e->ev.data.ptr = e->text;
    e->ev.data.len = e->text_len;
}

static void record_reply(mailproto__imap_engine *e, int status)
{
    mailproto__err_set(e->err, status, NULL);
    e->err->pub.imap_status = e->resp_status;
    mailproto__fmt(e->err->pub.resp_code, sizeof e->err->pub.resp_code, "%s", e->resp_code_name);
    mailproto__err_text(e->err, e->text, e->text_len);
    e->err->pub.temporary = e->resp_code == MAILPROTO_IMAP_CODE_UNAVAILABLE;
}

static void auth_failed(mailproto__imap_engine *e, int status, const char *why)
{
    mailproto__sasl_clear(&e->sasl);
    record_reply(e, status);
    mailproto__fmt(e->err->msg, sizeof e->err->msg, "%s", why);
    e->err->pub.message = e->err->msg;
    set_state(e, S_NOAUTH);
    e->pending_err = status;
}

/* A tagged reply ended. */
static int complete(mailproto__imap_engine *e, imap_qcmd *r)
{
    int ok = e->resp_status == MAILPROTO_IMAP_OK;
    int kind = r->kind;
    int internal = r->internal;
    r->state = Q_DONE;
    if (e->cur >= 0 && rec(e, (size_t)e->cur) == r) {
        /* refused before its literal was sent: nothing more of it goes out */
        e->cur = -1;
        e->xbuf_len = e->xbuf_off = 0;
    }
    if (internal) {
        switch (kind) {
        case K_CAPABILITY:
            if (!ok && need_tls(e) && e->cfg.security == MAILPROTO_SEC_STARTTLS)
                return fail_msg(e, MAILPROTO_E_TLS_REQUIRED, "CAPABILITY failed and TLS is required");
            if (e->state == S_CAPA_AUTH)
                return ready(e);
            return decide(e);
        case K_STARTTLS:
            if (!ok) {
                record_reply(e, MAILPROTO_E_TLS_REQUIRED);
                return die(e, MAILPROTO_E_TLS_REQUIRED);
            }
            if (e->p->end > e->p->start)
                return fail_msg(e, MAILPROTO_E_STARTTLS_INJECTION,
                                "bytes after the STARTTLS go-ahead (response injection)");
            e->want_tls = 1;
            set_state(e, S_UPGRADE);
            return MAILPROTO_OK;
        case K_LOGIN:
        case K_AUTHENTICATE:
            if (!ok) {
                int st = e->auth_err && e->auth_err != MAILPROTO_E_AUTH ? e->auth_err : MAILPROTO_E_AUTH;
                int oauth = e->auth_mech == MAILPROTO_AUTH_XOAUTH2 || e->auth_mech == MAILPROTO_AUTH_OAUTHBEARER;
                const char *tok = NULL;
                if (kind == K_AUTHENTICATE && oauth && e->cfg.token_refresh && !e->auth_retried &&
                    e->cfg.token_refresh(e->cfg.token_ctx, &tok) == 0 && tok) {
                    /* one more try with a fresh token */
                    e->auth_retried = 1;
                    mailproto__sasl_clear(&e->sasl);
                    e->cred.token = tok;
                    mailproto__trace_note(&e->trace, "imap: OAuth token refreshed, trying again");
                    return start_auth(e);
                }
                auth_failed(e, st, "authentication failed");
                return MAILPROTO_OK;
            }
            if (kind == K_AUTHENTICATE && (e->auth_err || mailproto__sasl_finish(&e->sasl) != MAILPROTO_OK)) {
                mailproto__sasl_clear(&e->sasl);
                return fail_msg(e, MAILPROTO_E_AUTH, "the server accepted an authentication that did not finish");
            }
            mailproto__sasl_clear(&e->sasl);
            e->authed = 1;
            mailproto_imap_parser_set_authenticated(e->p, 1);
            if (e->cap_in_tagged)
                return ready(e);
            set_state(e, S_CAPA_AUTH);
            return internal_cmd(e, K_CAPABILITY, "CAPABILITY");
        default:
            return MAILPROTO_OK;
        }
    }
    int error = ok ? MAILPROTO_OK : MAILPROTO_E_REJECTED;
    if (r->sink_err && ok)
        error = MAILPROTO_E_CALLBACK;
    if (r->chain) {
        /* the MOVE fallback: go on with the next step, or stop them all */
        imap_qcmd *next = NULL;
        for (size_t k = 0; k < e->q_count; k++) {
            imap_qcmd *o = rec(e, ring_idx(e, k));
            if (o != r && o->chain && o->held && o->id == r->id && o->state == Q_QUEUED) {
                if (!ok) {
                    o->state = Q_DONE; /* never sent */
                    continue;
                }
                if (!next)
                    next = o;
            }
        }
        if (r->kind == K_COPY && ok)
            e->chain_res = e->cur_res;
        if (ok && next) {
            next->held = 0;
            return MAILPROTO_OK;
        }
        if (ok) {
            /* the last step: report the COPYUID of the COPY */
            e->cur_res.copy_uidvalidity = e->chain_res.copy_uidvalidity;
            memcpy(e->cur_res.copy_src, e->chain_res.copy_src, sizeof e->cur_res.copy_src);
            memcpy(e->cur_res.copy_dst, e->chain_res.copy_dst, sizeof e->cur_res.copy_dst);
            e->cur_res.n_copy_src = e->chain_res.n_copy_src;
            e->cur_res.n_copy_dst = e->chain_res.n_copy_dst;
        }
    }
    switch (kind) {
    case K_SELECT:
    case K_EXAMINE:
        if (ok) {
            e->mbx.selected = 1;
            if (kind == K_EXAMINE)
                e->mbx.read_only = 1;
        } else {
            memset(&e->mbx, 0, sizeof e->mbx);
        }
        break;
    case K_CLOSE:
    case K_UNSELECT:
        if (ok)
            memset(&e->mbx, 0, sizeof e->mbx);
        break;
    case K_ENABLE:
        break;
    case K_IDLE:
        if (e->idle_idx >= 0 && rec(e, (size_t)e->idle_idx) != r)
            break; /* not the running one (cannot happen: one IDLE at a time) */
        e->idle_idx = -1;
        e->idling = 0;
        if (ok && e->idle_refresh && !e->idle_done_req) {
            /* re-issue, same id, no COMPLETED for the caller */
            unsigned id = r->id;
            int rc;
            mailproto_imap_cmd *c = mailproto__imap_cmd_open(e, K_IDLE, "IDLE", &rc);
            if (!c)
                return die(e, rc);
            rc = mailproto__imap_cmd_commit(e, c, K_IDLE, 0);
            if (rc < 0)
                return die(e, rc);
            imap_qcmd *n = rec(e, (size_t)rc);
            n->id = id;
            n->silent = 1;
            e->next_id--;
            e->last_id = id;
            e->idle_refresh = 0;
            return MAILPROTO_OK;
        }
        e->idle_done_req = 0;
        e->idle_refresh = 0;
        e->done_sent = 0;
        break;
    default:
        break;
    }
    e->cur_res.id = r->id;
    e->cur_res.status = e->resp_status;
    e->cur_res.code = e->resp_code;
    e->res = e->cur_res;
    if (error == MAILPROTO_E_REJECTED)
        record_reply(e, error);
    else if (error == MAILPROTO_E_CALLBACK)
        mailproto__err_set(e->err, error, "the body sink reported an error");
    if (e->cur_res.referral) {
        record_reply(e, error ? error : MAILPROTO_OK);
        mailproto__trace_note(&e->trace, "imap: referral reported, not followed");
    }
    complete_event(e, r, error);
    return MAILPROTO_OK;
}

/* A "+" continuation ended: route it. */
static int on_continue(mailproto__imap_engine *e)
{
    if (e->cur >= 0) {
        imap_qcmd *r = rec(e, (size_t)e->cur);
        if (r->cont_wait) {
            r->cont_wait = 0;
            settle(e, r);
            return MAILPROTO_OK;
        }
    }
    imap_qcmd *a = inflight(e, K_AUTHENTICATE);
    if (a && a->state == Q_SENT) {
        if (e->auth_err)
            return fail_msg(e, MAILPROTO_E_PROTOCOL, "challenge after the exchange was cancelled");
        size_t n = 0;
        int rc;
        e->side_len = e->side_off = 0;
        if (e->chal_over)
            rc = MAILPROTO_E_LIMIT;
        else if (e->sasl.step == 0 && mailproto__sasl_has_ir(e->auth_mech))
            rc = mailproto__sasl_initial(&e->sasl, (char *)e->side, e->side_cap - 2, &n);
        else
            rc = mailproto__sasl_step(&e->sasl, e->chal, e->chal_len, (char *)e->side, e->side_cap - 2, &n);
        if (rc != MAILPROTO_OK) {
            e->auth_err = rc;
            e->side_len = 0;
            side_put(e, "*\r\n", 3);
            mailproto__trace_emit(&e->trace, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_COMMAND, "*\r\n", 3);
            return MAILPROTO_OK;
        }
        e->side_len = n;
        side_put(e, "\r\n", 2);
        mailproto__trace_secret(&e->trace, MAILPROTO_TRACE_SENT);
        return MAILPROTO_OK;
    }
    if (e->idle_idx >= 0) {
        imap_qcmd *r = rec(e, (size_t)e->idle_idx);
        if (r->state == Q_SENT && !e->idling) {
            e->idling = 1;
            e->idle_since = e->now;
            if (!r->silent) {
                event_client(e, MAILPROTO_IMAP_EV_IDLING);
                e->ev.number = r->id;
            }
            return MAILPROTO_OK;
        }
    }
    return fail_msg(e, MAILPROTO_E_PROTOCOL, "unexpected continuation request");
}

/* The end of any response. */
static int resp_end(mailproto__imap_engine *e)
{
    int t = e->resp_type;
    e->in_resp = 0;
    if (e->cap_resp) {
        e->caps = e->new_caps;
        e->auth_mask = e->new_auth;
        e->caps_known = 1;
        e->cap_resp = 0;
    }
    if (e->state == S_GREETING) {
        if (t != MAILPROTO_IMAP_EV_STATUS || e->resp_tagged)
            return fail_msg(e, MAILPROTO_E_PROTOCOL, "no greeting");
        if (e->resp_status == MAILPROTO_IMAP_BYE) {
            record_reply(e, MAILPROTO_E_CLOSED);
            return die(e, MAILPROTO_E_CLOSED);
        }
        if (e->resp_status == MAILPROTO_IMAP_PREAUTH) {
            if (need_tls(e))
                return fail_msg(e, MAILPROTO_E_TLS_REQUIRED,
                                "PREAUTH greeting on a connection that must first start TLS");
            e->authed = 1;
            mailproto_imap_parser_set_authenticated(e->p, 1);
        } else if (e->resp_status != MAILPROTO_IMAP_OK) {
            return fail_msg(e, MAILPROTO_E_PROTOCOL, "bad greeting");
        }
        if (e->caps_known)
            return decide(e);
        set_state(e, S_CAPA);
        return internal_cmd(e, K_CAPABILITY, "CAPABILITY");
    }
    if (t == MAILPROTO_IMAP_EV_CONTINUE)
        return on_continue(e);
    if (e->resp_tagged) {
        if (e->resp_idx < 0)
            return MAILPROTO_OK;
        imap_qcmd *r = rec(e, (size_t)e->resp_idx);
        e->resp_idx = -1;
        int rc = complete(e, r);
        pop_done(e);
        return rc;
    }
    if (t == MAILPROTO_IMAP_EV_STATUS) {
        if (e->resp_status == MAILPROTO_IMAP_BYE) {
            e->bye = 1;
            e->bye_len = e->text_len < sizeof e->bye_text ? e->text_len : sizeof e->bye_text;
            memcpy(e->bye_text, e->text, e->bye_len);
            if (!e->logout_sent) {
                mailproto__err_set(e->err, MAILPROTO_E_CLOSED, "the server said BYE");
                mailproto__err_text(e->err, e->text, e->text_len);
            }
        }
        if (e->resp_alert && (!need_tls(e) || e->cfg.security == MAILPROTO_SEC_PLAIN)) {
            event_client(e, MAILPROTO_IMAP_EV_ALERT);
            e->ev.data.ptr = e->text;
            e->ev.data.len = e->text_len;
        }
        return MAILPROTO_OK;
    }
    if (e->state != S_READY)
        return MAILPROTO_OK;
    switch (t) {
    case MAILPROTO_IMAP_EV_LIST:
    case MAILPROTO_IMAP_EV_LSUB:
        list_done(e, 0);
        break;
    case MAILPROTO_IMAP_EV_MBSTATUS: {
        imap_qcmd *r = inflight(e, K_STATUS);
        if (r) {
            if (r->status)
                *r->status = e->le.status;
        } else {
            e->resp_type = MAILPROTO_IMAP_EV_LIST;
            list_done(e, 1);
        }
        break;
    }
    case MAILPROTO_IMAP_EV_VANISHED:
        if (e->van_count > e->mbx.exists)
            return fail_msg(e, MAILPROTO_E_PROTOCOL, "VANISHED more messages than exist");
        e->mbx.exists -= (uint32_t)e->van_count;
        e->mbx.expunged += e->van_count;
        break;
    default:
        break;
    }
    return MAILPROTO_OK;
}

#define R_CONSUME 0
#define R_PASS 1

static int handle(mailproto__imap_engine *e, const mailproto_imap_event *v)
{
    int t = v->type;
    if (!e->in_resp) {
        resp_begin(e, v);
        if (e->resp_tagged && match_tag(e, v->tag) != MAILPROTO_OK)
            return e->dead;
    }
    int ready_st = e->state == S_READY;
    if (t == MAILPROTO_IMAP_EV_UNPARSED) {
        if (e->resp_tagged || (v->tag.len && !e->resp_pass))
            return fail_msg(e, MAILPROTO_E_PROTOCOL, "unreadable tagged reply");
        if (e->state == S_GREETING)
            return fail_msg(e, MAILPROTO_E_PROTOCOL, "unreadable greeting");
        int pass = e->resp_pass;
        e->in_resp = 0;
        return pass ? R_PASS : R_CONSUME;
    }
    if (t == MAILPROTO_IMAP_EV_END) {
        int pass = e->resp_pass;
        int rc = resp_end(e);
        if (rc < 0)
            return rc;
        return pass ? R_PASS : R_CONSUME;
    }
    if (t >= MAILPROTO_IMAP_EV_CODE && (v->item >= MAILPROTO_IMAP_CODE_OTHER))
        code_event(e, v);
    switch (t) {
    case MAILPROTO_IMAP_EV_TEXT:
        if (e->resp_type == MAILPROTO_IMAP_EV_CONTINUE) {
            if (v->data.len > e->chal_cap - 1 - e->chal_len)
                e->chal_over = 1;
            else {
                memcpy(e->chal + e->chal_len, v->data.ptr, v->data.len);
                e->chal_len += v->data.len;
            }
        } else {
            text_add(e, v->data);
        }
        break;
    case MAILPROTO_IMAP_EV_ATOM:
        if (e->resp_type == MAILPROTO_IMAP_EV_CAPABILITY)
            cap_atom(e, v->data);
        else if (e->resp_type == MAILPROTO_IMAP_EV_ENABLED && ready_st) {
            if (mailproto__span_ieq(v->data.ptr, v->data.len, "UTF8=ACCEPT"))
                e->utf8_enabled = 1;
            else if (mailproto__span_ieq(v->data.ptr, v->data.len, "QRESYNC"))
                e->qresync_enabled = 1;
        }
        break;
    case MAILPROTO_IMAP_EV_EXISTS:
        if (ready_st)
            e->mbx.exists = v->number > UINT32_MAX ? UINT32_MAX : (uint32_t)v->number;
        break;
    case MAILPROTO_IMAP_EV_RECENT:
        if (ready_st)
            e->mbx.recent = v->number > UINT32_MAX ? UINT32_MAX : (uint32_t)v->number;
        break;
    case MAILPROTO_IMAP_EV_EXPUNGE:
        if (ready_st) {
            if (v->number == 0 || v->number > e->mbx.exists)
                return fail_msg(e, MAILPROTO_E_PROTOCOL, "EXPUNGE of a message that does not exist");
            e->mbx.exists--;
            e->mbx.expunged++;
        }
        break;
    case MAILPROTO_IMAP_EV_FLAG:
        if (!ready_st)
            break;
        if (e->resp_type == MAILPROTO_IMAP_EV_FLAGS)
            e->mbx.flags |= flag_bit(v->data);
        else if ((e->resp_type == MAILPROTO_IMAP_EV_LIST || e->resp_type == MAILPROTO_IMAP_EV_LSUB) &&
                 v->item == MAILPROTO_IMAP_ITEM_MBX_ATTR)
            e->le.attrs |= mbx_attr_bit(v->data);
        break;
    case MAILPROTO_IMAP_EV_STRING:
        if (!ready_st)
            break;
        if (v->item == MAILPROTO_IMAP_ITEM_DELIM)
            e->le.delim = (v->flags & MAILPROTO_IMAP_EVF_NIL) || !v->data.len ? 0 : v->data.ptr[0];
        else if (v->item == MAILPROTO_IMAP_ITEM_MAILBOX)
            name_add(e, v->data);
        else if (v->item == MAILPROTO_IMAP_ITEM_TAG && e->resp_type == MAILPROTO_IMAP_EV_ESEARCH) {
            e->resp_idx = -1;
            for (size_t k = 0; k < e->q_count; k++) {
                size_t i = ring_idx(e, k);
                imap_qcmd *r = rec(e, i);
                if (r->state == Q_SENT && r->tag_len == v->data.len &&
                    memcmp(r->tag, v->data.ptr, v->data.len) == 0)
                    e->resp_idx = (int)i;
            }
        }
        break;
    case MAILPROTO_IMAP_EV_NUMBER:
        if (!ready_st)
            break;
        if (e->resp_type == MAILPROTO_IMAP_EV_MBSTATUS) {
            status_item(&e->le.status, v);
        } else if (e->resp_type == MAILPROTO_IMAP_EV_SEARCH || e->resp_type == MAILPROTO_IMAP_EV_SORT) {
            imap_qcmd *r = inflight(e, e->resp_type == MAILPROTO_IMAP_EV_SORT ? K_SORT : K_SEARCH);
            if (r && r->set) {
                if (v->item == MAILPROTO_IMAP_ITEM_MODSEQ)
                    r->set->modseq = v->number;
                else if (v->number && v->number <= UINT32_MAX)
                    set_add(r->set, (uint32_t)v->number, (uint32_t)v->number);
            }
        } else if (e->resp_type == MAILPROTO_IMAP_EV_ESEARCH) {
            imap_qcmd *r = e->resp_idx >= 0 ? rec(e, (size_t)e->resp_idx) : inflight(e, K_SEARCH);
            if (r && r->set) {
                uint32_t n32 = v->number > UINT32_MAX ? UINT32_MAX : (uint32_t)v->number;
                if (v->item == MAILPROTO_IMAP_ITEM_MIN)
                    r->set->min = n32;
                else if (v->item == MAILPROTO_IMAP_ITEM_MAX)
                    r->set->max = n32;
                else if (v->item == MAILPROTO_IMAP_ITEM_COUNT)
                    r->set->count = v->number;
                else if (v->item == MAILPROTO_IMAP_ITEM_MODSEQ)
                    r->set->modseq = v->number;
            }
        }
        break;
    case MAILPROTO_IMAP_EV_RANGE:
        if (!ready_st)
            break;
        if (e->resp_type == MAILPROTO_IMAP_EV_VANISHED && !(v->flags & MAILPROTO_IMAP_EVF_EARLIER) &&
            !e->resp_code) {
            if (v->flags & (MAILPROTO_IMAP_EVF_STAR1 | MAILPROTO_IMAP_EVF_STAR2))
                return fail_msg(e, MAILPROTO_E_PROTOCOL, "VANISHED with '*'");
            uint64_t a = v->number < v->number2 ? v->number : v->number2;
            uint64_t b = v->number < v->number2 ? v->number2 : v->number;
            e->van_count += b - a + 1;
        } else if (e->resp_type == MAILPROTO_IMAP_EV_ESEARCH && v->item == MAILPROTO_IMAP_ITEM_ALL) {
            imap_qcmd *r = e->resp_idx >= 0 ? rec(e, (size_t)e->resp_idx) : inflight(e, K_SEARCH);
            if (r && r->set && v->number && v->number2 && v->number <= UINT32_MAX && v->number2 <= UINT32_MAX) {
                uint64_t keep = r->set->count;
                set_add(r->set, (uint32_t)MAILPROTO__MIN(v->number, v->number2),
                        (uint32_t)MAILPROTO__MAX(v->number, v->number2));
                if (keep)
                    r->set->count = keep; /* COUNT given: keep it */
            }
        }
        break;
    case MAILPROTO_IMAP_EV_LITERAL_BEGIN:
        e->lit_rec = -1;
        for (size_t k = 0; k < e->q_count; k++) {
            size_t i = ring_idx(e, k);
            imap_qcmd *r = rec(e, i);
            if ((r->state == Q_SENT || r->state == Q_WRITING) && r->kind == K_FETCH && r->sink) {
                e->lit_rec = (int)i;
                break;
            }
        }
        break;
    case MAILPROTO_IMAP_EV_LITERAL_CHUNK:
        if (e->lit_rec >= 0) {
            imap_qcmd *r = rec(e, (size_t)e->lit_rec);
            if (!r->sink_err && r->sink->write(r->sink->ctx, v->data.ptr, v->data.len) < 0)
                r->sink_err = 1;
            return R_CONSUME;
        }
        break;
    case MAILPROTO_IMAP_EV_LITERAL_END:
        e->lit_rec = -1;
        break;
    default:
        break;
    }
    if (e->resp_type == MAILPROTO_IMAP_EV_VANISHED && t == MAILPROTO_IMAP_EV_VANISHED &&
        (v->flags & MAILPROTO_IMAP_EVF_EARLIER))
        e->resp_code = -1; /* EARLIER: the count does not change */
    return e->resp_pass ? R_PASS : R_CONSUME;
}

/* ---- time ---- */

static int64_t left(uint64_t start, uint64_t span, uint64_t now)
{
    uint64_t end = start + span;
    return now >= end ? 0 : (int64_t)(end - now);
}

int64_t mailproto__imap_engine_deadline(const mailproto__imap_engine *e, uint64_t now)
{
    if (e->dead || !e->started || e->want_tls)
        return -1;
    int64_t best = -1;
#define TAKE(x)                                                                                   \
    do {                                                                                          \
        int64_t x_ = (x);                                                                         \
        if (best < 0 || x_ < best)                                                                \
            best = x_;                                                                            \
    } while (0)
    uint64_t last = e->rx_flag ? now : e->last_rx;
    if (awaiting(e))
        TAKE(left(last, (uint64_t)e->cfg.inactivity_timeout_ms, now));
    if (e->cfg.command_timeout_ms > 0) {
        for (size_t k = 0; k < e->q_count; k++) {
            size_t i = ring_idx(e, k);
            const imap_qcmd *r = &e->q[i];
            if (r->state != Q_WRITING && r->state != Q_SENT)
                continue;
            if ((int)i == e->idle_idx && e->idling && !e->done_sent)
                continue;
            TAKE(left(r->started, (uint64_t)e->cfg.command_timeout_ms, now));
            break; /* the oldest is the nearest */
        }
    }
    if (e->idle_idx >= 0 && e->idling && !e->done_sent)
        TAKE(left(e->idle_since, (uint64_t)e->cfg.idle_refresh_ms, now));
    if (e->wait_active && !e->wait_expired)
        TAKE(left(e->wait_until, 0, now));
#undef TAKE
    return best;
}

static int check_time(mailproto__imap_engine *e)
{
    uint64_t now = e->now;
    if (awaiting(e) && now - e->last_rx >= (uint64_t)e->cfg.inactivity_timeout_ms && now >= e->last_rx)
        return fail_msg(e, MAILPROTO_E_TIMEOUT, "no reply from the server (inactivity timeout)");
    if (e->cfg.command_timeout_ms > 0) {
        for (size_t k = 0; k < e->q_count; k++) {
            size_t i = ring_idx(e, k);
            const imap_qcmd *r = &e->q[i];
            if (r->state != Q_WRITING && r->state != Q_SENT)
                continue;
            if ((int)i == e->idle_idx && e->idling && !e->done_sent)
                continue;
            if (now >= r->started && now - r->started >= (uint64_t)e->cfg.command_timeout_ms)
                return fail_msg(e, MAILPROTO_E_TIMEOUT, "command timeout");
            break;
        }
    }
    if (e->idle_idx >= 0 && e->idling && !e->done_sent && now - e->idle_since >= (uint64_t)e->cfg.idle_refresh_ms &&
        !e->idle_done_req) {
        e->idle_refresh = 1;
        mailproto__trace_note(&e->trace, "imap: IDLE refresh");
    }
    return MAILPROTO_OK;
}

int mailproto__imap_engine_idle_done(mailproto__imap_engine *e)
{
    if (e->dead)
        return e->dead;
    if (e->idle_idx < 0)
        return MAILPROTO_E_STATE;
    e->idle_done_req = 1;
    return MAILPROTO_OK;
}

/* Fill the APPEND chunk from the caller's source. */
static int fill_ext(mailproto__imap_engine *e)
{
    if (e->cur < 0)
        return MAILPROTO_OK;
    imap_qcmd *r = rec(e, (size_t)e->cur);
    if (!r->ext_active || e->xbuf_len > e->xbuf_off)
        return MAILPROTO_OK;
    if (r->ext_left == 0) {
        r->ext_active = 0;
        settle(e, r);
        return MAILPROTO_OK;
    }
    size_t want = e->xbuf_cap;
    if (want > r->ext_left)
        want = (size_t)r->ext_left;
    size_t got = 0;
    int rc = r->src ? mailproto_source_read(r->src, e->xbuf, want, &got) : MAILPROTO_E_INVALID;
    if (rc == MAILPROTO_AGAIN) {
        e->src_again = 1;
        return MAILPROTO_AGAIN;
    }
    e->src_again = 0;
    if (rc < 0)
        return fail_msg(e, MAILPROTO_E_CALLBACK, "the APPEND source failed in the middle of the literal");
    if (got == 0)
        return fail_msg(e, MAILPROTO_E_CALLBACK, "the APPEND source ended before its announced size");
    if (got > want)
        got = want;
    e->xbuf_len = got;
    e->xbuf_off = 0;
    r->ext_left -= got;
    mailproto__trace_data(&e->trace, MAILPROTO_TRACE_SENT, e->xbuf, got);
    return MAILPROTO_OK;
}

static int closed(mailproto__imap_engine *e)
{
    if (e->state != S_READY && e->state != S_NOAUTH)
        return fail_msg(e, MAILPROTO_E_CLOSED, "the server closed the connection during setup");
    event_client(e, MAILPROTO_IMAP_EV_CLOSED);
    e->ev.error = MAILPROTO_E_CLOSED;
    if (e->bye) {
        e->ev.data.ptr = e->bye_text;
        e->ev.data.len = e->bye_len;
    }
    if (!e->bye && !e->logout_sent)
        mailproto__err_set(e->err, MAILPROTO_E_CLOSED, "the server closed the connection");
    e->closed_reported = 1;
    e->dead = MAILPROTO_E_CLOSED;
    return MAILPROTO_OK;
}

static int tls_wanted(mailproto__imap_engine *e, const mailproto_imap_event **ev)
{
    if (e->tls_event && !e->tls_reported) {
        e->tls_reported = 1;
        event_client(e, MAILPROTO_IMAP_EV_STARTTLS);
        e->ev_pending = 0;
        *ev = &e->ev;
        return MAILPROTO_EVENT;
    }
    return MAILPROTO_AGAIN;
}

int mailproto__imap_engine_next(mailproto__imap_engine *e, uint64_t now, const mailproto_imap_event **ev)
{
    *ev = NULL;
    e->now = now;
    if (e->rx_flag) {
        e->rx_flag = 0;
        e->last_rx = now;
    }
    if (e->ev_pending) {
        e->ev_pending = 0;
        *ev = &e->ev;
        return MAILPROTO_EVENT;
    }
    if (e->dead)
        return e->dead;
    if (e->pending_err) {
        int rc = e->pending_err;
        e->pending_err = 0;
        return rc;
    }
    if (!e->started)
        return MAILPROTO_OK;
    if (e->want_tls)
        return tls_wanted(e, ev);
    int rc = check_time(e);
    if (rc < 0)
        return rc;
    for (int guard = 0;; guard++) {
        /* DONE when asked for (or to refresh) once the server idles */
        if (e->idle_idx >= 0 && e->idling && !e->done_sent && (e->idle_done_req || e->idle_refresh) &&
            e->side_len == 0) {
            side_put(e, "DONE\r\n", 6);
            e->done_sent = 1;
            e->last_rx = now;
            mailproto__trace_emit(&e->trace, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_COMMAND, "DONE\r\n", 6);
        }
        if (e->cur < 0) {
            int was = awaiting(e);
            pick_next(e);
            if (!was && e->cur >= 0)
                e->last_rx = now;
        }
        rc = fill_ext(e);
        if (rc < 0)
            return rc;
        if (e->want_tls)
            return tls_wanted(e, ev);
        const mailproto_imap_event *v;
        rc = mailproto_imap_parser_next(e->p, &v);
        if (rc == MAILPROTO_AGAIN)
            break;
        if (rc == MAILPROTO_E_CLOSED) {
            rc = closed(e);
            if (rc < 0)
                return rc;
            e->ev_pending = 0;
            *ev = &e->ev;
            return MAILPROTO_EVENT;
        }
        if (rc < 0) {
            if (e->eof && rc == MAILPROTO_E_PROTOCOL)
                return fail_msg(e, MAILPROTO_E_CLOSED, "the connection closed in the middle of a response");
            mailproto__err_set(e->err, rc, "%s", mailproto_imap_parser_last_error(e->p));
            return die(e, rc);
        }
        rc = handle(e, v);
        if (rc < 0)
            return rc;
        if (rc == R_PASS) {
            *ev = v;
            return MAILPROTO_EVENT;
        }
        if (e->ev_pending) {
            e->ev_pending = 0;
            *ev = &e->ev;
            return MAILPROTO_EVENT;
        }
        if (e->pending_err) {
            rc = e->pending_err;
            e->pending_err = 0;
            return rc;
        }
        if (e->dead)
            return e->dead;
    }
    if (e->wait_active && now >= e->wait_until) {
        e->wait_expired = 1;
        return MAILPROTO_OK;
    }
    if (e->src_again)
        return MAILPROTO_AGAIN;
    return MAILPROTO_AGAIN;
}
