/*
 * The SMTP submission engine: a sans-I/O state machine.  Bytes come in
 * through the input buffer, go out through the output buffer, and the
 * caller pulls events with next(now).  No clock, socket or TLS here.
 *
 * Written the curl way: one set_state() with debug names, and
 * perform_x() (queue a command and count the reply it expects) paired
 * with on_x_reply().  Replies are matched to commands FIFO: the number of
 * replies owed is e->pending; the envelope keeps two cursors (commands
 * written, replies read) over the fixed order MAIL, RCPT..., [DATA].
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "smtp_int.h"

#if MAILPROTO_HAS_IDN
#include <idn2.h>
#endif

enum {
    ST_NONE,
    ST_TLS_FIRST, /* implicit TLS: waiting for the handshake */
    ST_GREETING,
    ST_EHLO,
    ST_HELO,
    ST_STARTTLS,
    ST_UPGRADE,   /* STARTTLS go-ahead: waiting for the handshake */
    ST_AUTH,
    ST_READY,
    ST_ENVELOPE,  /* MAIL, RCPT..., [pipelined DATA] */
    ST_DATA,      /* DATA sent, 354 awaited */
    ST_BODY,      /* writing the body */
    ST_DATA_END,  /* end of data written, final reply(ies) awaited */
    ST_BDAT,      /* BDAT chunks */
    ST_RSET,
    ST_QUIT,
    ST_CLOSED,
    ST_COUNT
};

static const char *const state_names[ST_COUNT] = {
    "NONE",  "TLS_FIRST", "GREETING", "EHLO", "HELO",     "STARTTLS", "UPGRADE", "AUTH", "READY",
    "ENVELOPE", "DATA",   "BODY",     "DATA_END", "BDAT", "RSET",     "QUIT",    "CLOSED",
};

/* Timeout kinds */
enum { TO_INACT, TO_GREETING, TO_MAIL, TO_RCPT, TO_DATA, TO_BLOCK, TO_END };

static void set_state(mailproto__smtp_engine *e, int st)
{
    if (e->state != st)
        mailproto__trace_note(&e->trace, "smtp: %s -> %s", state_names[e->state], state_names[st]);
    e->state = st;
    e->timeout_kind = TO_INACT;
}

/* ---- defaults ---- */

void mailproto__smtp_config_defaults(mailproto_smtp_config *c)
{
    if (c->security == MAILPROTO_SEC_DEFAULT)
        c->security = c->port == 465 ? MAILPROTO_SEC_TLS : MAILPROTO_SEC_STARTTLS;
    if (!c->port)
        c->port = c->lmtp ? 24 : (c->security == MAILPROTO_SEC_TLS ? 465 : 587);
    if (!c->helo_name || !*c->helo_name)
        c->helo_name = "localhost";
    if (c->timeout_ms <= 0)
        c->timeout_ms = 30000;
    if (c->inactivity_timeout_ms <= 0)
        c->inactivity_timeout_ms = 60000;
    if (c->greeting_timeout_ms <= 0)
        c->greeting_timeout_ms = 300000;
    if (c->mail_timeout_ms <= 0)
        c->mail_timeout_ms = 300000;
    if (c->rcpt_timeout_ms <= 0)
        c->rcpt_timeout_ms = 300000;
    if (c->data_timeout_ms <= 0)
        c->data_timeout_ms = 120000;
    if (c->block_timeout_ms <= 0)
        c->block_timeout_ms = 180000;
    if (c->data_end_timeout_ms <= 0)
        c->data_end_timeout_ms = 600000;
    if (!c->in_buf_size)
        c->in_buf_size = 8192 + 2;
    if (c->in_buf_size < 1024)
        c->in_buf_size = 1024;
    if (!c->out_buf_size)
        c->out_buf_size = 4096;
    if (c->out_buf_size < 1024)
        c->out_buf_size = 1024;
    if (!c->max_line)
        c->max_line = 8192;
    if (c->max_line > c->in_buf_size - 2)
        c->max_line = c->in_buf_size - 2;
    if (!c->max_reply)
        c->max_reply = 65536;
    if (!c->max_reply_lines)
        c->max_reply_lines = 1000;
    if (!c->max_rcpt)
        c->max_rcpt = 100;
}

void mailproto__smtp_engine_init(mailproto__smtp_engine *e, const mailproto_smtp_config *cfg,
                                 mailproto__err *err, unsigned char *in, size_t in_cap,
                                 unsigned char *out, size_t out_cap, unsigned char *work,
                                 size_t work_cap, mailproto_smtp_rcpt *rcpt, size_t rcpt_cap)
{
    memset(e, 0, sizeof *e);
    e->cfg = *cfg;
    e->trace.fn = cfg->trace;
    e->trace.ctx = cfg->trace_ctx;
    e->trace.data_bytes = cfg->trace_data;
    e->err = err;
    e->in = in;
    e->in_cap = in_cap;
    e->out = out;
    e->out_cap = out_cap;
    e->sasl_work = work;
    e->sasl_work_cap = work_cap;
    e->rcpt = rcpt;
    e->rcpt_cap = rcpt_cap;
    e->reply.max_line = cfg->max_line;
    e->reply.max_bytes = cfg->max_reply;
    e->reply.max_lines = cfg->max_reply_lines;
    mailproto__smtp_reply_reset(&e->reply);
    e->cred.authzid = cfg->authzid;
    e->cred.user = cfg->username;
    e->cred.password = cfg->password;
    e->cred.token = cfg->oauth_token;
    e->cred.host = cfg->host;
    e->cred.port = cfg->port;
    e->implicit_tls = cfg->security == MAILPROTO_SEC_TLS;
}

/* ---- errors ---- */

/* Record the current reply in the last-error record. */
static void record_reply(mailproto__smtp_engine *e)
{
    mailproto__err_code(e->err, e->reply.code, e->reply.enhanced, strlen(e->reply.enhanced));
    mailproto__err_text(e->err, e->reply.text, e->reply.text_len);
}

/* A fatal error: the session is over.  Later calls get MAILPROTO_E_CLOSED
 * (a late reply is never taken for the next command). */
static int die(mailproto__smtp_engine *e, int status)
{
    if (!e->dead) {
        e->dead = status;
        if (e->env) {
            int st = status;
            if (e->res.data_complete && status != MAILPROTO_E_OUTCOME_UNKNOWN) {
                /* a timeout, a malformed or oversized reply after the end
                 * of data: the server may have taken the message, so the
                 * caller must not simply send it again */
                char why[MAILPROTO__ERR_MSG_MAX];
                mailproto__fmt(why, sizeof why, "%s",
                               e->err->pub.status < 0 ? e->err->msg : mailproto_strerror(status));
                mailproto__err_set(e->err, MAILPROTO_E_OUTCOME_UNKNOWN,
                                   "%s, after the end of data was sent: the message may have been "
                                   "delivered",
                                   why);
                st = MAILPROTO_E_OUTCOME_UNKNOWN;
            }
            e->res.status = st;
            e->env = NULL;
        }
        e->want_tls = 0;
        e->out_len = e->out_off = 0;
        if (e->err->pub.status >= 0)
            mailproto__err_set(e->err, status, NULL);
        mailproto__trace_note(&e->trace, "smtp: fatal: %s", mailproto_errname(status));
    }
    return status;
}

/* ---- output ---- */

typedef struct ob {
    mailproto__ob b;
    mailproto__smtp_engine *e;
} ob;

static ob ob_begin(mailproto__smtp_engine *e)
{
    ob o;
    o.e = e;
    mailproto__ob_begin(&o.b, e->out, e->out_cap, &e->out_off, &e->out_len);
    return o;
}

static void ob_put(ob *o, const char *s, size_t n) { mailproto__ob_put(&o->b, s, n); }

static void ob_str(ob *o, const char *s) { mailproto__ob_str(&o->b, s); }

static void ob_u64(ob *o, uint64_t v) { mailproto__ob_u64(&o->b, v); }

/* Finish a command (see mailproto__ob_end); 0 when it did not fit. */
static int ob_end(ob *o, int secret_from)
{
    int r = mailproto__ob_end(&o->b, &o->e->trace, secret_from);
    if (r < 0)
        return 0;
    if (r)
        o->e->arm_tx = 1;
    o->e->pending++;
    return 1;
}

static int simple_cmd(mailproto__smtp_engine *e, const char *a, const char *b)
{
    ob o = ob_begin(e);
    ob_str(&o, a);
    if (b) {
        ob_str(&o, " ");
        ob_str(&o, b);
    }
    ob_str(&o, "\r\n");
    return ob_end(&o, -1) ? MAILPROTO_OK : MAILPROTO_E_LIMIT;
}

/* ---- addresses ---- */

static int ascii_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

int mailproto__smtp_path(const char *addr, int is_from, int utf8, char *out, size_t cap,
                         int *needs_utf8)
{
    if (!addr)
        return MAILPROTO_E_INVALID;
    size_t n = strlen(addr);
    *needs_utf8 = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)addr[i];
        if (c < 0x21 || c == 0x7f || c == '<' || c == '>')
            return MAILPROTO_E_INVALID; /* CR, LF, controls, spaces, brackets */
    }
    if (n == 0) {
        if (!is_from)
            return MAILPROTO_E_INVALID;
        if (cap < 3)
            return MAILPROTO_E_LIMIT;
        memcpy(out, "<>", 3);
        return 2;
    }
    const char *at = strrchr(addr, '@');
    if (!at || at == addr || !at[1])
        return MAILPROTO_E_INVALID;
    size_t local = (size_t)(at - addr), dom = n - local - 1;
    if (local > 64 || dom > 255 || n + 2 > 256)
        return MAILPROTO_E_INVALID;
    int local8 = !ascii_only(addr, local), dom8 = !ascii_only(at + 1, dom);
    *needs_utf8 = local8 || dom8;
    if (local8 && !utf8)
        return MAILPROTO_E_UNSUPPORTED;
    if (n + 3 > cap)
        return MAILPROTO_E_LIMIT;
    out[0] = '<';
    memcpy(out + 1, addr, local + 1);
    size_t o = local + 2;
    if (dom8 && !utf8) {
#if MAILPROTO_HAS_IDN
        char *a = NULL;
        if (idn2_to_ascii_8z(at + 1, &a, IDN2_NONTRANSITIONAL) != IDN2_OK || !a)
            return MAILPROTO_E_INVALID;
        size_t al = strlen(a);
        if (al > 255 || local + 1 + al + 2 > 256 || o + al + 2 > cap) {
            idn2_free(a);
            return al > 255 ? MAILPROTO_E_INVALID : MAILPROTO_E_LIMIT;
        }
        memcpy(out + o, a, al);
        o += al;
        idn2_free(a);
#else
        return MAILPROTO_E_UNSUPPORTED;
#endif
    } else {
        memcpy(out + o, at + 1, dom);
        o += dom;
    }
    out[o++] = '>';
    out[o] = '\0';
    return (int)o;
}

/* xtext (RFC 3461 4): '+' and '=' and anything outside '!'..'~' as +HH. */
static void ob_xtext(ob *o, const char *s)
{
    static const char h[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < '!' || c > '~' || c == '+' || c == '=') {
            char b[3] = {'+', h[c >> 4], h[c & 15]};
            ob_put(o, b, 3);
        } else {
            ob_put(o, (const char *)&c, 1);
        }
    }
}

static int printable_ascii(const char *s, size_t max)
{
    size_t n = 0;
    for (; *s; s++, n++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || n >= max)
            return 0;
    return 1;
}

/* ---- commands ---- */

static int perform_ehlo(mailproto__smtp_engine *e)
{
    memset(&e->caps, 0, sizeof e->caps);
    e->reply.enhanced_on = 0;
    set_state(e, ST_EHLO);
    return simple_cmd(e, e->cfg.lmtp ? "LHLO" : "EHLO", e->cfg.helo_name);
}

static int perform_helo(mailproto__smtp_engine *e)
{
    memset(&e->caps, 0, sizeof e->caps);
    set_state(e, ST_HELO);
    return simple_cmd(e, "HELO", e->cfg.helo_name);
}

static int ready(mailproto__smtp_engine *e)
{
    set_state(e, ST_READY);
    if (!e->ready_once) {
        e->ready_once = 1;
        memset(&e->ev, 0, sizeof e->ev);
        e->ev.type = MAILPROTO_SMTP_EV_READY;
        e->ev.enhanced = "";
        return MAILPROTO_EVENT;
    }
    return MAILPROTO_OK;
}

static int perform_auth(mailproto__smtp_engine *e)
{
    int mech = mailproto__sasl_choose(e->caps.auth, e->cfg.auth_mech, &e->cred);
    if (mech < 0) {
        set_state(e, ST_READY);
        return mailproto__err_set(e->err, mech,
                                  mech == MAILPROTO_E_UNSUPPORTED
                                      ? "no usable AUTH mechanism offered by the server"
                                      : "credentials missing for the chosen AUTH mechanism");
    }
    int rc = mailproto__sasl_start(&e->sasl, mech, &e->cred, e->cfg.random, e->cfg.random_ctx,
                                   e->sasl_work, e->sasl_work_cap);
    if (rc != MAILPROTO_OK) {
        set_state(e, ST_READY);
        return mailproto__err_set(e->err, rc, "cannot start AUTH %s", mailproto__sasl_name(mech));
    }
    e->auth_mech = mech;
    e->auth_err = 0;
    set_state(e, ST_AUTH);
    ob o = ob_begin(e);
    ob_str(&o, "AUTH ");
    ob_str(&o, mailproto__sasl_name(mech));
    size_t head = e->out_len - o.b.start;
    int secret = -1;
    if (mailproto__sasl_has_ir(mech) && !o.b.over) {
        /* RFC 4954: the whole line within 512 octets, else no IR */
        size_t room = e->out_cap - e->out_len;
        if (room > 512 - head)
            room = 512 - head;
        size_t n = 0;
        char *p = (char *)e->out + e->out_len + 1;
        if (room > 3 && mailproto__sasl_initial(&e->sasl, p, room - 3, &n) == MAILPROTO_OK) {
            e->out[e->out_len] = ' ';
            e->out_len += 1 + n;
            if (n == 0)
                ob_str(&o, "=");
            secret = (int)head;
        } else {
            /* no room for the initial response: the server asks with 334 */
            mailproto__sasl_start(&e->sasl, mech, &e->cred, e->cfg.random, e->cfg.random_ctx,
                                  e->sasl_work, e->sasl_work_cap);
        }
    }
    ob_str(&o, "\r\n");
    if (!ob_end(&o, secret))
        return die(e, MAILPROTO_E_LIMIT);
    return MAILPROTO_OK;
}

static int after_hello(mailproto__smtp_engine *e)
{
    if (e->cfg.security == MAILPROTO_SEC_STARTTLS && !e->secure) {
        if (!(e->caps.mask & MAILPROTO_SMTP_CAP_STARTTLS)) {
            mailproto__err_set(e->err, MAILPROTO_E_TLS_REQUIRED,
                               "the server does not offer STARTTLS");
            return die(e, MAILPROTO_E_TLS_REQUIRED);
        }
        set_state(e, ST_STARTTLS);
        return simple_cmd(e, "STARTTLS", NULL);
    }
    if (e->cfg.username && *e->cfg.username) {
        if (!e->secure && !e->cfg.allow_plaintext_auth) {
            mailproto__err_set(e->err, MAILPROTO_E_TLS_REQUIRED,
                               "AUTH without TLS needs allow_plaintext_auth");
            return die(e, MAILPROTO_E_TLS_REQUIRED);
        }
        return perform_auth(e);
    }
    return ready(e);
}

/* ---- replies before the session is ready ---- */

static int on_greeting_reply(mailproto__smtp_engine *e)
{
    int code = e->reply.code;
    if (code != 220) {
        record_reply(e);
        mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "the server refused the session");
        die(e, MAILPROTO_E_CLOSED);
        return MAILPROTO_E_REJECTED;
    }
    return perform_ehlo(e);
}

static int on_ehlo_reply(mailproto__smtp_engine *e)
{
    int code = e->reply.code;
    if (code == 250) {
        e->caps.mask |= MAILPROTO_SMTP_CAP_EHLO;
        e->reply.enhanced_on = (e->caps.mask & MAILPROTO_SMTP_CAP_ENHANCEDSTATUSCODES) != 0;
        return after_hello(e);
    }
    record_reply(e);
    if (e->cfg.security == MAILPROTO_SEC_STARTTLS && !e->secure) {
        mailproto__err_set(e->err, MAILPROTO_E_TLS_REQUIRED, "EHLO failed: no STARTTLS");
        return die(e, MAILPROTO_E_TLS_REQUIRED);
    }
    if (!e->cfg.lmtp && (code == 500 || code == 502))
        return perform_helo(e);
    mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "%s refused", e->cfg.lmtp ? "LHLO" : "EHLO");
    die(e, MAILPROTO_E_CLOSED);
    return MAILPROTO_E_REJECTED;
}

static int on_helo_reply(mailproto__smtp_engine *e)
{
    if (e->reply.code == 250)
        return after_hello(e);
    record_reply(e);
    mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "HELO refused");
    die(e, MAILPROTO_E_CLOSED);
    return MAILPROTO_E_REJECTED;
}

static int on_starttls_reply(mailproto__smtp_engine *e)
{
    if (e->reply.code != 220) {
        record_reply(e);
        mailproto__err_set(e->err, MAILPROTO_E_TLS_REQUIRED, "STARTTLS refused");
        return die(e, MAILPROTO_E_TLS_REQUIRED);
    }
    if (e->in_len > e->in_off || e->eof) {
        mailproto__err_set(e->err, MAILPROTO_E_STARTTLS_INJECTION,
                           "bytes after the STARTTLS go-ahead");
        return die(e, MAILPROTO_E_STARTTLS_INJECTION);
    }
    set_state(e, ST_UPGRADE);
    e->want_tls = 1;
    e->tls_reported = 0;
    return MAILPROTO_OK;
}

void mailproto__smtp_engine_tls_done(mailproto__smtp_engine *e)
{
    if (!e->want_tls || e->dead)
        return;
    e->want_tls = 0;
    e->secure = 1;
    /* Forget everything learned before TLS (RFC 3207 4.2). */
    memset(&e->caps, 0, sizeof e->caps);
    e->reply.enhanced_on = 0;
    mailproto__smtp_reply_reset(&e->reply);
    e->in_len = e->in_off = 0;
    if (e->state == ST_TLS_FIRST) {
        set_state(e, ST_GREETING);
        e->pending = 1;
        e->arm_wait = 1;
        e->timeout_kind = TO_GREETING;
    } else {
        perform_ehlo(e);
    }
}

static int on_auth_reply(mailproto__smtp_engine *e)
{
    int code = e->reply.code;
    if (code == 334) {
        if (e->auth_err) {
            mailproto__err_set(e->err, MAILPROTO_E_PROTOCOL, "challenge after AUTH cancel");
            return die(e, MAILPROTO_E_PROTOCOL);
        }
        size_t n = 0;
        ob o = ob_begin(e);
        size_t room = e->out_cap - e->out_len;
        if (room < 8)
            return die(e, MAILPROTO_E_LIMIT);
        char *p = (char *)e->out + e->out_len;
        int rc = mailproto__sasl_step(&e->sasl, e->reply.line_text, e->reply.line_len, p,
                                      room - 2, &n);
        if (rc == MAILPROTO_OK) {
            e->out_len += n;
        } else {
            e->auth_err = rc;
            ob_str(&o, "*");
        }
        ob_str(&o, "\r\n");
        if (!ob_end(&o, rc == MAILPROTO_OK ? 0 : -1))
            return die(e, MAILPROTO_E_LIMIT);
        return MAILPROTO_OK;
    }
    int sasl_rc = mailproto__sasl_finish(&e->sasl);
    mailproto__sasl_clear(&e->sasl);
    if (code == 235 && !e->auth_err) {
        if (sasl_rc != MAILPROTO_OK) {
            /* success without the server's proof: not the real server */
            mailproto__err_set(e->err, MAILPROTO_E_AUTH, "server signature not verified");
            return die(e, MAILPROTO_E_AUTH);
        }
        return ready(e);
    }
    record_reply(e);
    if (code == 235) {
        mailproto__err_set(e->err, MAILPROTO_E_PROTOCOL, "AUTH succeeded after cancel");
        return die(e, MAILPROTO_E_PROTOCOL);
    }
    if (e->auth_err) {
        int rc = e->auth_err;
        set_state(e, ST_READY);
        return mailproto__err_set(e->err, rc == MAILPROTO_E_PROTOCOL ? MAILPROTO_E_AUTH : rc,
                                  "AUTH %s aborted by the client",
                                  mailproto__sasl_name(e->auth_mech));
    }
    if ((e->auth_mech == MAILPROTO__SASL_XOAUTH2 || e->auth_mech == MAILPROTO__SASL_OAUTHBEARER) &&
        e->cfg.token_refresh && !e->auth_retried && code >= 500) {
        const char *tok = NULL;
        e->auth_retried = 1;
        if (e->cfg.token_refresh(e->cfg.token_ctx, &tok) == 0 && tok && *tok) {
            e->cred.token = tok;
            mailproto__trace_note(&e->trace, "smtp: token refreshed, AUTH again");
            return perform_auth(e);
        }
    }
    set_state(e, ST_READY);
    return mailproto__err_set(e->err, MAILPROTO_E_AUTH, "AUTH %s failed",
                              mailproto__sasl_name(e->auth_mech));
}

/* ---- the message ---- */

static int is2(int code) { return code >= 200 && code < 300; }

static int finish_msg(mailproto__smtp_engine *e, int status)
{
    e->res.status = status;
    e->env = NULL;
    e->body = NULL;
    set_state(e, ST_READY);
    memset(&e->ev, 0, sizeof e->ev);
    e->ev.type = MAILPROTO_SMTP_EV_SENT;
    e->ev.status = status;
    e->ev.code = e->res.code;
    e->ev.enhanced = e->res.enhanced;
    e->ev.text.ptr = e->reply.text;
    e->ev.text.len = e->reply.text_len;
    return MAILPROTO_EVENT;
}

static int perform_rset(mailproto__smtp_engine *e, int status)
{
    e->msg_fail = status;
    set_state(e, ST_RSET);
    e->out_len = e->out_off; /* nothing else of this message goes out */
    return simple_cmd(e, "RSET", NULL);
}

static void res_code(mailproto__smtp_engine *e)
{
    e->res.code = e->reply.code;
    memcpy(e->res.enhanced, e->reply.enhanced, sizeof e->res.enhanced);
}

static void rcpt_set(mailproto__smtp_engine *e, size_t i, int accepted)
{
    mailproto_smtp_rcpt *r = &e->rcpt[i];
    r->code = e->reply.code;
    r->accepted = accepted;
    memcpy(r->enhanced, e->reply.enhanced, sizeof r->enhanced);
    size_t n = e->reply.text_len < sizeof r->text - 1 ? e->reply.text_len : sizeof r->text - 1;
    memcpy(r->text, e->reply.text, n);
    r->text[n] = '\0';
}

static int rcpt_event(mailproto__smtp_engine *e, size_t i)
{
    memset(&e->ev, 0, sizeof e->ev);
    e->ev.type = MAILPROTO_SMTP_EV_RCPT;
    e->ev.index = i;
    e->ev.code = e->rcpt[i].code;
    e->ev.enhanced = e->rcpt[i].enhanced;
    e->ev.text.ptr = e->reply.text;
    e->ev.text.len = e->reply.text_len;
    return MAILPROTO_EVENT;
}

/* Write command i of the envelope (0 = MAIL, 1..n = RCPT, n+1 = DATA). */
static int write_env_cmd(mailproto__smtp_engine *e, size_t i)
{
    const mailproto_envelope *env = e->env;
    ob o = ob_begin(e);
    char path[300];
    int u8;
    if (e->pre_rset) {
        if (i == 0) {
            ob_str(&o, "RSET\r\n");
            if (!ob_end(&o, -1))
                return 0;
            e->arm_wait = 1;
            return 1;
        }
        i--;
    }
    if (i == 0) {
        int n = mailproto__smtp_path(env->from, 1, e->utf8, path, sizeof path, &u8);
        if (n < 0)
            return n;
        ob_str(&o, "MAIL FROM:");
        ob_put(&o, path, (size_t)n);
        uint64_t size = env->size ? env->size
                                  : (e->body && e->body->size != MAILPROTO_SIZE_UNKNOWN ? e->body->size : 0);
        if ((e->caps.mask & MAILPROTO_SMTP_CAP_SIZE) && size) {
            ob_str(&o, " SIZE=");
            ob_u64(&o, size);
        }
        if (e->body_param == MAILPROTO_BODY_8BITMIME)
            ob_str(&o, " BODY=8BITMIME");
        else if (e->body_param == MAILPROTO_BODY_BINARYMIME)
            ob_str(&o, " BODY=BINARYMIME");
        if (e->utf8)
            ob_str(&o, " SMTPUTF8");
        if (e->caps.mask & MAILPROTO_SMTP_CAP_DSN) {
            if (env->dsn_ret == MAILPROTO_DSN_RET_FULL)
                ob_str(&o, " RET=FULL");
            else if (env->dsn_ret == MAILPROTO_DSN_RET_HDRS)
                ob_str(&o, " RET=HDRS");
            if (env->dsn_envid) {
                ob_str(&o, " ENVID=");
                ob_xtext(&o, env->dsn_envid);
            }
        }
        if (env->requiretls)
            ob_str(&o, " REQUIRETLS");
    } else if (i <= env->n_rcpt) {
        size_t r = i - 1;
        int n = mailproto__smtp_path(env->rcpt[r], 0, e->utf8, path, sizeof path, &u8);
        if (n < 0)
            return n;
        ob_str(&o, "RCPT TO:");
        ob_put(&o, path, (size_t)n);
        if (e->caps.mask & MAILPROTO_SMTP_CAP_DSN) {
            unsigned nt = env->dsn_notify;
            if (nt & MAILPROTO_DSN_NOTIFY_NEVER) {
                ob_str(&o, " NOTIFY=NEVER");
            } else if (nt) {
                const char *sep = " NOTIFY=";
                if (nt & MAILPROTO_DSN_NOTIFY_SUCCESS) {
                    ob_str(&o, sep);
                    ob_str(&o, "SUCCESS");
                    sep = ",";
                }
                if (nt & MAILPROTO_DSN_NOTIFY_FAILURE) {
                    ob_str(&o, sep);
                    ob_str(&o, "FAILURE");
                    sep = ",";
                }
                if (nt & MAILPROTO_DSN_NOTIFY_DELAY) {
                    ob_str(&o, sep);
                    ob_str(&o, "DELAY");
                }
            }
            if (env->orcpt && env->orcpt[r]) {
                ob_str(&o, " ORCPT=rfc822;");
                ob_xtext(&o, env->orcpt[r]);
            }
        }
    } else {
        ob_str(&o, "DATA");
    }
    ob_str(&o, "\r\n");
    if (!ob_end(&o, -1))
        return 0; /* no room now */
    e->arm_wait = 1;
    return 1;
}

/* Validate everything about a message before a byte is written. */
static int check_envelope(mailproto__smtp_engine *e, const mailproto_envelope *env,
                          mailproto_source *body)
{
    mailproto__err *er = e->err;
    if (!env || !body || !body->read || !env->from || !env->rcpt || env->n_rcpt == 0)
        return mailproto__err_set(er, MAILPROTO_E_INVALID, "envelope or body missing");
    if (env->n_rcpt > e->rcpt_cap)
        return mailproto__err_set(er, MAILPROTO_E_LIMIT, "more than max_rcpt (%zu) recipients",
                                  e->rcpt_cap);
    unsigned caps = e->caps.mask;
    int have_utf8 = (caps & MAILPROTO_SMTP_CAP_SMTPUTF8) != 0;
    int want_utf8 = env->smtputf8;
    char path[300];
    int u8, any8 = 0;
    /* first pass: which addresses need UTF-8 */
    int rc = mailproto__smtp_path(env->from, 1, 1, path, sizeof path, &u8);
    if (rc < 0)
        return mailproto__err_set(er, rc, "bad sender address");
    any8 |= u8;
    for (size_t i = 0; i < env->n_rcpt; i++) {
        rc = mailproto__smtp_path(env->rcpt[i], 0, 1, path, sizeof path, &u8);
        if (rc < 0)
            return mailproto__err_set(er, rc, "bad recipient address %zu", i);
        any8 |= u8;
        if (env->orcpt && env->orcpt[i] && !printable_ascii(env->orcpt[i], 500))
            return mailproto__err_set(er, MAILPROTO_E_INVALID, "bad ORCPT %zu", i);
    }
    if (want_utf8 && !have_utf8)
        return mailproto__err_set(er, MAILPROTO_E_UNSUPPORTED, "the server lacks SMTPUTF8");
    int utf8 = want_utf8 || (any8 && have_utf8);
    /* second pass with the decision (non-ASCII local part without SMTPUTF8,
     * IDNA conversion) */
    rc = mailproto__smtp_path(env->from, 1, utf8, path, sizeof path, &u8);
    for (size_t i = 0; rc >= 0 && i < env->n_rcpt; i++)
        rc = mailproto__smtp_path(env->rcpt[i], 0, utf8, path, sizeof path, &u8);
    if (rc < 0)
        return mailproto__err_set(er, rc,
                                  rc == MAILPROTO_E_UNSUPPORTED
                                      ? "non-ASCII address needs SMTPUTF8 (or IDNA support)"
                                      : "bad address");
    if (env->dsn_envid && !printable_ascii(env->dsn_envid, 100))
        return mailproto__err_set(er, MAILPROTO_E_INVALID, "bad ENVID");
    if (env->dsn_notify & ~15u ||
        ((env->dsn_notify & MAILPROTO_DSN_NOTIFY_NEVER) && env->dsn_notify != MAILPROTO_DSN_NOTIFY_NEVER))
        return mailproto__err_set(er, MAILPROTO_E_INVALID, "bad NOTIFY");
    if (env->dsn_ret < 0 || env->dsn_ret > 2 || env->body < 0 || env->body > 3)
        return mailproto__err_set(er, MAILPROTO_E_INVALID, "bad RET or BODY");
    if (env->requiretls && (!(caps & MAILPROTO_SMTP_CAP_REQUIRETLS) || !e->secure))
        return mailproto__err_set(er, MAILPROTO_E_UNSUPPORTED, "REQUIRETLS not offered over TLS");
    int chunking = (caps & MAILPROTO_SMTP_CAP_CHUNKING) && !e->cfg.no_chunking;
    int bp;
    switch (env->body) {
    case MAILPROTO_BODY_7BIT:
        bp = MAILPROTO_BODY_7BIT;
        break;
    case MAILPROTO_BODY_8BITMIME:
        if (!(caps & MAILPROTO_SMTP_CAP_8BITMIME))
            return mailproto__err_set(er, MAILPROTO_E_UNSUPPORTED, "the server lacks 8BITMIME");
        bp = MAILPROTO_BODY_8BITMIME;
        break;
    case MAILPROTO_BODY_BINARYMIME:
        if (!(caps & MAILPROTO_SMTP_CAP_BINARYMIME) || !chunking)
            return mailproto__err_set(er, MAILPROTO_E_UNSUPPORTED,
                                      "the server lacks BINARYMIME with CHUNKING");
        bp = MAILPROTO_BODY_BINARYMIME;
        break;
    default:
        bp = (caps & MAILPROTO_SMTP_CAP_8BITMIME) ? MAILPROTO_BODY_8BITMIME : MAILPROTO_BODY_7BIT;
        break;
    }
    uint64_t size = env->size ? env->size
                              : (body->size != MAILPROTO_SIZE_UNKNOWN ? body->size : 0);
    if ((caps & MAILPROTO_SMTP_CAP_SIZE) && e->caps.size && size > e->caps.size)
        return mailproto__err_set(er, MAILPROTO_E_LIMIT,
                                  "message (%llu bytes) larger than the server's SIZE %llu",
                                  (unsigned long long)size, (unsigned long long)e->caps.size);
    if (bp == MAILPROTO_BODY_7BIT && body->rewind) {
        /* Find 8-bit data now, while the session can still say no cleanly.
         * The output buffer is idle and serves as scratch. */
        size_t got;
        int bad = 0;
        do {
            rc = mailproto_source_read(body, e->out, e->out_cap, &got);
            if (rc != MAILPROTO_OK)
                break;
            for (size_t i = 0; i < got && !bad; i++)
                bad = e->out[i] >= 0x80 ? 1 : e->out[i] == 0 ? 2 : 0;
        } while (got && !bad);
        int rw = mailproto_source_rewind(body);
        if (rc != MAILPROTO_OK && rc != MAILPROTO_AGAIN)
            return mailproto__err_set(er, rc, "body source failed");
        if (rw != MAILPROTO_OK)
            return mailproto__err_set(er, rw, "body source cannot rewind");
        if (bad == 2)
            return mailproto__err_set(er, MAILPROTO_E_INVALID,
                                      "NUL byte in the body (only BODY=BINARYMIME can carry it)");
        if (bad)
            return mailproto__err_set(er, MAILPROTO_E_UNSUPPORTED,
                                      env->body == MAILPROTO_BODY_7BIT
                                          ? "8-bit data in a body declared 7bit"
                                          : "8-bit body but the server lacks 8BITMIME");
    }
    e->utf8 = utf8;
    e->body_param = bp;
    e->use_bdat = chunking;
    return MAILPROTO_OK;
}

int mailproto__smtp_engine_submit(mailproto__smtp_engine *e, const mailproto_envelope *env,
                                  mailproto_source *body)
{
    if (e->dead)
        return MAILPROTO_E_CLOSED;
    if (e->state != ST_READY || e->pending || e->out_len != e->out_off)
        return mailproto__err_set(e->err, MAILPROTO_E_STATE, "the session is not ready");
    if (e->eof) {
        mailproto__err_set(e->err, MAILPROTO_E_CLOSED, "the server closed the connection");
        return die(e, MAILPROTO_E_CLOSED);
    }
    if (e->in_len > e->in_off) {
        /* bytes nobody asked for: taking them as the next reply would
         * desynchronize the session */
        mailproto__err_set(e->err, MAILPROTO_E_PROTOCOL, "the server sent data without a command");
        return die(e, MAILPROTO_E_PROTOCOL);
    }
    mailproto__err_clear(e->err);
    int rc = check_envelope(e, env, body);
    if (rc != MAILPROTO_OK)
        return rc;
    if (!(e->caps.mask & MAILPROTO_SMTP_CAP_DSN) &&
        (env->dsn_notify || env->dsn_ret || env->dsn_envid || env->orcpt))
        mailproto__trace_note(&e->trace, "smtp: the server lacks DSN: NOTIFY, RET, ENVID and "
                                         "ORCPT left out (the server's own failure notices apply)");
    memset(&e->res, 0, sizeof e->res);
    memset(e->rcpt, 0, sizeof *e->rcpt * env->n_rcpt);
    e->res.n_rcpt = env->n_rcpt;
    e->res.first_rejected = env->n_rcpt;
    e->env = env;
    e->body = body;
    e->pipeline = (e->caps.mask & MAILPROTO_SMTP_CAP_PIPELINING) && !e->cfg.no_pipelining;
    e->pipeline_data = e->pipeline && !env->require_all && !e->use_bdat;
    /* RFC 5321 allows MAIL right after a completed transaction; an RSET in
     * between (pipelined when possible) makes a clean start certain. */
    e->pre_rset = e->need_rset;
    e->n_cmds = (e->pre_rset ? 1u : 0u) + 1 + env->n_rcpt + (e->pipeline_data ? 1 : 0);
    e->cmd_sent = e->cmd_replied = 0;
    e->body_eof = e->end_queued = e->bdat_last = 0;
    e->bdat_inflight = 0;
    e->body_done = 0;
    e->final_left = 0;
    e->lmtp_idx = 0;
    e->msg_fail = 0;
    int canon = e->body_param != MAILPROTO_BODY_BINARYMIME;
    mailproto__smtp_enc_init(&e->enc, !e->use_bdat, canon,
                             e->body_param != MAILPROTO_BODY_7BIT);
    set_state(e, ST_ENVELOPE);
    return MAILPROTO_OK;
}

int mailproto__smtp_engine_quit(mailproto__smtp_engine *e)
{
    if (e->dead)
        return MAILPROTO_E_CLOSED;
    if (e->state == ST_CLOSED)
        return MAILPROTO_OK;
    if (e->state != ST_READY || e->pending)
        return mailproto__err_set(e->err, MAILPROTO_E_STATE, "an operation is running");
    set_state(e, ST_QUIT);
    e->timeout_kind = TO_INACT;
    return simple_cmd(e, "QUIT", NULL);
}

/* After the envelope replies: DATA/BDAT, or RSET. */
static int envelope_done(mailproto__smtp_engine *e)
{
    const mailproto_envelope *env = e->env;
    if (e->msg_fail)
        return perform_rset(e, e->msg_fail);
    if (e->res.n_accepted == 0 || (env->require_all && e->res.n_rejected)) {
        mailproto__err_set(e->err, MAILPROTO_E_REJECTED,
                           e->res.n_accepted ? "a recipient was refused (all-or-nothing)"
                                             : "every recipient was refused");
        return perform_rset(e, MAILPROTO_E_REJECTED);
    }
    if (e->use_bdat) {
        set_state(e, ST_BDAT);
        return MAILPROTO_OK;
    }
    set_state(e, ST_DATA);
    e->timeout_kind = TO_DATA;
    e->arm_wait = 1;
    return simple_cmd(e, "DATA", NULL);
}

static int on_envelope_reply(mailproto__smtp_engine *e)
{
    const mailproto_envelope *env = e->env;
    size_t i = e->cmd_replied++;
    int code = e->reply.code;
    e->arm_wait = 1;
    if (e->pre_rset) {
        if (i == 0) { /* RSET between messages */
            e->need_rset = 0;
            if (!is2(code)) {
                record_reply(e);
                res_code(e);
                mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "RSET refused");
                e->msg_fail = MAILPROTO_E_REJECTED;
                if (!e->pipeline) {
                    e->cmd_sent = e->n_cmds;
                    return finish_msg(e, MAILPROTO_E_REJECTED);
                }
            }
            e->timeout_kind = TO_MAIL;
            return MAILPROTO_OK;
        }
        i--;
    }
    if (i == 0) { /* MAIL */
        if (!is2(code)) {
            record_reply(e);
            res_code(e);
            mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "MAIL FROM refused");
            e->msg_fail = MAILPROTO_E_REJECTED;
            if (!e->pipeline) {
                e->cmd_sent = e->n_cmds; /* send nothing more */
                return perform_rset(e, MAILPROTO_E_REJECTED);
            }
        }
        e->timeout_kind = TO_RCPT;
        return MAILPROTO_OK;
    }
    if (i <= env->n_rcpt) {
        size_t r = i - 1;
        int ok = is2(code) && !e->msg_fail;
        rcpt_set(e, r, ok);
        if (ok) {
            e->res.n_accepted++;
        } else {
            if (!e->res.n_rejected)
                e->res.first_rejected = r;
            e->res.n_rejected++;
            if (!e->msg_fail) {
                record_reply(e);
                res_code(e);
            }
        }
        int last = i == env->n_rcpt;
        if (!e->pipeline && env->require_all && !ok && !last) {
            /* all-or-nothing without pipelining: stop at the first refusal */
            e->cmd_sent = e->n_cmds;
            mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "a recipient was refused (all-or-nothing)");
            perform_rset(e, MAILPROTO_E_REJECTED);
            return rcpt_event(e, r);
        }
        if (last) {
            if (e->pipeline_data)
                e->timeout_kind = TO_DATA;
            else
                envelope_done(e);
        }
        return rcpt_event(e, r);
    }
    /* pipelined DATA */
    if (code == 354) {
        if (e->msg_fail || e->res.n_accepted == 0) {
            /* RFC 2920 3.1: a 354 although nothing was accepted: end the
             * empty data at once, then reset. */
            if (!e->msg_fail)
                e->msg_fail = MAILPROTO_E_REJECTED;
            set_state(e, ST_DATA_END);
            e->end_queued = 1;
            e->final_left = 1;
            e->timeout_kind = TO_END;
            return simple_cmd(e, ".", NULL);
        }
        set_state(e, ST_BODY);
        return MAILPROTO_OK;
    }
    if (!e->msg_fail) {
        record_reply(e);
        res_code(e);
        mailproto__err_set(e->err, MAILPROTO_E_REJECTED,
                           e->res.n_accepted ? "DATA refused" : "every recipient was refused");
        e->msg_fail = MAILPROTO_E_REJECTED;
    }
    return perform_rset(e, e->msg_fail);
}

static int on_data_reply(mailproto__smtp_engine *e)
{
    if (e->reply.code == 354) {
        set_state(e, ST_BODY);
        return MAILPROTO_OK;
    }
    record_reply(e);
    res_code(e);
    mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "DATA refused");
    return perform_rset(e, MAILPROTO_E_REJECTED);
}

/* One final reply (one per accepted recipient with LMTP). */
static int on_data_end_reply(mailproto__smtp_engine *e)
{
    int code = e->reply.code;
    e->final_left--;
    e->arm_wait = 1;
    if (e->msg_fail) { /* the empty data after an unexpected 354, a refused chunk */
        return e->final_left == 0 ? perform_rset(e, e->msg_fail) : MAILPROTO_OK;
    }
    res_code(e);
    if (e->cfg.lmtp) {
        const mailproto_envelope *env = e->env;
        while (e->lmtp_idx < env->n_rcpt && !e->rcpt[e->lmtp_idx].accepted)
            e->lmtp_idx++;
        if (e->lmtp_idx >= env->n_rcpt) {
            mailproto__err_set(e->err, MAILPROTO_E_PROTOCOL, "surplus LMTP reply");
            return die(e, MAILPROTO_E_PROTOCOL);
        }
        size_t r = e->lmtp_idx++;
        int ok = is2(code);
        rcpt_set(e, r, ok);
        if (!ok) {
            e->res.n_accepted--;
            if (!e->res.n_rejected || r < e->res.first_rejected)
                e->res.first_rejected = r;
            e->res.n_rejected++;
            record_reply(e);
        }
        rcpt_event(e, r);
        if (e->final_left == 0) {
            e->need_rset = 1;
            e->msg_fail = e->res.n_accepted ? MAILPROTO_OK : MAILPROTO_E_REJECTED;
            if (e->msg_fail)
                mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "every recipient was refused");
            e->sent_pending = 1;
        }
        return MAILPROTO_EVENT;
    }
    if (is2(code)) {
        e->need_rset = 1;
        return finish_msg(e, MAILPROTO_OK);
    }
    e->need_rset = 1;
    record_reply(e);
    mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "the message was refused");
    return finish_msg(e, MAILPROTO_E_REJECTED);
}

/* The reply to a BDAT chunk other than the last.  With PIPELINING up to
 * BDAT_WINDOW chunks are in flight; after a refusal no more chunks go out,
 * and once every owed reply came, RSET discards the transaction (RFC 3030). */
static int on_bdat_reply(mailproto__smtp_engine *e)
{
    e->bdat_inflight--;
    e->arm_wait = 1;
    if (!is2(e->reply.code) && !e->msg_fail) {
        record_reply(e);
        res_code(e);
        mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "BDAT refused");
        e->msg_fail = MAILPROTO_E_REJECTED;
    }
    if (e->msg_fail && e->state == ST_BDAT && e->pending == 0)
        return perform_rset(e, e->msg_fail);
    return MAILPROTO_OK;
}

static int on_rset_reply(mailproto__smtp_engine *e)
{
    e->need_rset = 0;
    int st = e->msg_fail ? e->msg_fail : MAILPROTO_E_REJECTED;
    return finish_msg(e, st);
}

static int on_reply(mailproto__smtp_engine *e)
{
    if (e->pending == 0) {
        if (e->reply.code == 421) {
            /* RFC 5321 3.8: the server may announce that it closes the
             * session at any time, also while no command is outstanding */
            record_reply(e);
            mailproto__err_set(e->err, MAILPROTO_E_CLOSED, "the server closed the session (421)");
            return die(e, MAILPROTO_E_CLOSED);
        }
        mailproto__err_set(e->err, MAILPROTO_E_PROTOCOL, "reply without a command");
        return die(e, MAILPROTO_E_PROTOCOL);
    }
    e->pending--;
    mailproto__trace_note(&e->trace, "smtp: reply %d in %s", e->reply.code, state_names[e->state]);
    if (e->reply.code == 421 && e->state == ST_AUTH) {
        /* not a verdict on the credentials: the server closes the channel */
        mailproto__sasl_clear(&e->sasl);
        record_reply(e);
        mailproto__err_set(e->err, MAILPROTO_E_CLOSED, "the server closed the session during AUTH (421)");
        return die(e, MAILPROTO_E_CLOSED);
    }
    if (e->reply.code == 421 && e->env && e->state != ST_RSET &&
        !(e->cfg.lmtp && e->state == ST_DATA_END)) {
        /* RFC 5321 3.8: the server is closing the channel.  The message
         * was refused (its reply decides it); no RSET into a closing
         * connection, the session is over. */
        record_reply(e);
        res_code(e);
        mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "the server is closing the session (421)");
        e->out_len = e->out_off; /* nothing more goes out */
        e->cmd_sent = e->n_cmds;
        size_t k = e->cmd_replied;
        if (e->state == ST_ENVELOPE && (!e->pre_rset || k-- > 0) && k >= 1 &&
            k <= e->env->n_rcpt) {
            /* the refused recipient gets its event first, then SENT */
            size_t r = k - 1;
            rcpt_set(e, r, 0);
            if (!e->res.n_rejected)
                e->res.first_rejected = r;
            e->res.n_rejected++;
            e->msg_fail = MAILPROTO_E_REJECTED;
            e->sent_pending = 1;
            e->closing = 1;
            return rcpt_event(e, r);
        }
        int rc = finish_msg(e, MAILPROTO_E_REJECTED);
        die(e, MAILPROTO_E_CLOSED);
        return rc;
    }
    switch (e->state) {
    case ST_GREETING:
        return on_greeting_reply(e);
    case ST_EHLO:
        return on_ehlo_reply(e);
    case ST_HELO:
        return on_helo_reply(e);
    case ST_STARTTLS:
        return on_starttls_reply(e);
    case ST_AUTH:
        return on_auth_reply(e);
    case ST_ENVELOPE:
        return on_envelope_reply(e);
    case ST_DATA:
        return on_data_reply(e);
    case ST_DATA_END:
        if (e->bdat_inflight)
            return on_bdat_reply(e);
        return on_data_end_reply(e);
    case ST_BDAT:
        return on_bdat_reply(e);
    case ST_RSET:
        return on_rset_reply(e);
    case ST_QUIT:
        set_state(e, ST_CLOSED);
        memset(&e->ev, 0, sizeof e->ev);
        e->ev.type = MAILPROTO_SMTP_EV_CLOSED;
        e->ev.code = e->reply.code;
        e->ev.enhanced = "";
        return MAILPROTO_EVENT;
    default:
        mailproto__err_set(e->err, MAILPROTO_E_PROTOCOL, "unexpected reply");
        return die(e, MAILPROTO_E_PROTOCOL);
    }
}

/* ---- body ---- */

/* Abort a message in the middle of its data.  With BDAT an RSET discards
 * the chunks; after DATA/354 the only way out is dropping the connection. */
static int abort_body(mailproto__smtp_engine *e, int status, const char *why)
{
    mailproto__err_set(e->err, status, "%s", why);
    if (e->use_bdat && !e->bdat_last && e->state == ST_BDAT) {
        /* RSET once the chunks in flight are answered */
        if (e->bdat_inflight)
            e->msg_fail = status;
        else
            perform_rset(e, status);
        return MAILPROTO_OK;
    }
    die(e, MAILPROTO_E_CLOSED);
    e->res.status = status;
    return status;
}

/* Read and encode the next piece of body into out at offset off, using at
 * most room bytes.  Returns bytes produced (>= 0), or a negative status. */
static int body_piece(mailproto__smtp_engine *e, size_t off, size_t room, size_t *produced)
{
    *produced = 0;
    size_t n = room / 2;
    if (n == 0)
        return MAILPROTO_OK;
    unsigned char *dst = e->out + off;
    unsigned char *src = dst + n;
    size_t got = 0;
    int rc = mailproto_source_read(e->body, src, n, &got);
    if (rc == MAILPROTO_AGAIN && got == 0) {
        e->source_again = 1;
        return MAILPROTO_AGAIN;
    }
    if (rc < 0)
        return abort_body(e, rc, "the body source failed");
    if (got == 0) {
        e->body_eof = 1;
        return MAILPROTO_OK;
    }
    e->body_done += got;
    if (e->cfg.progress &&
        e->cfg.progress(e->cfg.progress_ctx, e->body_done, e->body->size) != 0)
        return abort_body(e, MAILPROTO_E_CANCELLED, "cancelled by the progress callback");
    size_t w = mailproto__smtp_enc_run(&e->enc, src, got, dst);
    if (e->enc.bad8)
        return abort_body(e, MAILPROTO_E_UNSUPPORTED, "8-bit body but the server lacks 8BITMIME");
    if (e->enc.nul)
        return abort_body(e, MAILPROTO_E_INVALID,
                          "NUL byte in the body (only BODY=BINARYMIME can carry it)");
    if (!e->use_bdat) /* BDAT traces its chunk after the command */
        mailproto__trace_data(&e->trace, MAILPROTO_TRACE_SENT, dst, w);
    *produced = w;
    return MAILPROTO_OK;
}

static int produce_body(mailproto__smtp_engine *e)
{
    for (;;) {
        if (e->end_queued)
            return MAILPROTO_OK;
        if (e->out_off == e->out_len)
            e->out_off = e->out_len = 0;
        size_t room = e->out_cap - e->out_len;
        if (e->body_eof) {
            if (room < 5)
                return MAILPROTO_OK;
            size_t w = mailproto__smtp_enc_end(&e->enc, e->out + e->out_len);
            mailproto__trace_data(&e->trace, MAILPROTO_TRACE_SENT, e->out + e->out_len, w);
            if (e->out_len == e->out_off)
                e->arm_tx = 1;
            e->out_len += w;
            e->end_queued = 1;
            e->end_mark = e->out_len - e->out_off;
            e->pending += e->final_left = e->cfg.lmtp ? e->res.n_accepted : 1;
            set_state(e, ST_DATA_END);
            e->timeout_kind = TO_END;
            return MAILPROTO_OK;
        }
        if (room < 64 + 5)
            return MAILPROTO_OK;
        size_t w;
        int rc = body_piece(e, e->out_len, room - 5, &w);
        if (rc != MAILPROTO_OK)
            return rc;
        if (w && e->out_len == e->out_off)
            e->arm_tx = 1;
        e->out_len += w;
    }
}

#define BDAT_HEAD 32
#define BDAT_WINDOW 16

static int produce_bdat(mailproto__smtp_engine *e)
{
    if (e->out_off != e->out_len || e->bdat_last || e->msg_fail)
        return MAILPROTO_OK;
    if (e->pipeline ? e->bdat_inflight >= BDAT_WINDOW : e->pending != 0)
        return MAILPROTO_OK;
    e->out_off = e->out_len = 0;
    size_t w = 0;
    while (w == 0 && !e->body_eof) {
        int rc = body_piece(e, BDAT_HEAD, e->out_cap - BDAT_HEAD - 5, &w);
        if (rc != MAILPROTO_OK || e->state != ST_BDAT || e->msg_fail)
            return rc;
    }
    if (e->body_eof && !w) {
        w = mailproto__smtp_enc_end(&e->enc, e->out + BDAT_HEAD);
        e->bdat_last = 1;
    }
    char head[BDAT_HEAD];
    size_t h = mailproto__fmt(head, sizeof head, "BDAT %zu%s\r\n", w, e->bdat_last ? " LAST" : "");
    memmove(e->out + h, e->out + BDAT_HEAD, w);
    memcpy(e->out, head, h);
    e->out_len = h + w;
    mailproto__trace_emit(&e->trace, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_COMMAND, head, h);
    if (w)
        mailproto__trace_data(&e->trace, MAILPROTO_TRACE_SENT, e->out + h, w);
    e->arm_tx = 1;
    e->arm_wait = 1;
    if (e->bdat_last) {
        e->end_queued = 1;
        e->end_mark = e->out_len;
        e->pending += e->final_left = e->cfg.lmtp ? e->res.n_accepted : 1;
        set_state(e, ST_DATA_END);
        e->timeout_kind = TO_END;
    } else {
        e->pending++;
        e->bdat_inflight++;
        e->timeout_kind = TO_BLOCK;
    }
    return MAILPROTO_OK;
}

/* Queue whatever can be written now. */
static int produce(mailproto__smtp_engine *e)
{
    switch (e->state) {
    case ST_ENVELOPE:
        while (e->cmd_sent < e->n_cmds && (e->pipeline || e->cmd_sent == e->cmd_replied)) {
            if (e->cmd_sent == 0)
                e->timeout_kind = TO_MAIL;
            int rc = write_env_cmd(e, e->cmd_sent);
            if (rc < 0)
                return abort_body(e, rc, "address conversion failed");
            if (rc == 0)
                break;
            e->cmd_sent++;
        }
        return MAILPROTO_OK;
    case ST_BODY:
        return produce_body(e);
    case ST_BDAT:
        return produce_bdat(e);
    default:
        return MAILPROTO_OK;
    }
}

/* ---- input ---- */

void mailproto__smtp_engine_input(mailproto__smtp_engine *e, unsigned char **p, size_t *cap)
{
    if (e->in_off && e->in_off == e->in_len) {
        e->in_off = e->in_len = 0;
    } else if (e->in_off && e->in_len == e->in_cap) {
        memmove(e->in, e->in + e->in_off, e->in_len - e->in_off);
        e->in_len -= e->in_off;
        e->in_off = 0;
    }
    if (e->dead || e->eof || e->want_tls) {
        *p = e->in + e->in_len;
        *cap = 0;
        return;
    }
    *p = e->in + e->in_len;
    *cap = e->in_cap - e->in_len;
}

void mailproto__smtp_engine_input_done(mailproto__smtp_engine *e, size_t n)
{
    if (n == 0) {
        e->eof = 1;
        return;
    }
    if (n > e->in_cap - e->in_len)
        n = e->in_cap - e->in_len;
    e->in_len += n;
    e->arm_rx = 1;
}

void mailproto__smtp_engine_output(mailproto__smtp_engine *e, const unsigned char **p,
                                   size_t *len)
{
    *p = e->out + e->out_off;
    *len = e->dead ? 0 : e->out_len - e->out_off;
}

void mailproto__smtp_engine_output_done(mailproto__smtp_engine *e, size_t n)
{
    if (n > e->out_len - e->out_off)
        n = e->out_len - e->out_off;
    e->out_off += n;
    if (n)
        e->arm_tx = 1;
    if (e->end_queued && !e->res.data_complete && e->env) {
        e->end_mark = e->end_mark > n ? e->end_mark - n : 0;
        if (e->end_mark == 0)
            e->res.data_complete = 1;
    }
    if (e->out_off == e->out_len) {
        e->out_off = e->out_len = 0;
        e->arm_wait = 1;
    }
}

int mailproto__smtp_engine_want(const mailproto__smtp_engine *e)
{
    if (e->dead)
        return 0;
    int w = 0;
    if (e->want_tls)
        return MAILPROTO__SMTP_WANT_TLS | (e->out_len > e->out_off ? MAILPROTO__SMTP_WANT_WRITE : 0);
    if (e->out_len > e->out_off)
        w |= MAILPROTO__SMTP_WANT_WRITE;
    if (e->pending && !e->eof)
        w |= MAILPROTO__SMTP_WANT_READ;
    return w;
}

int mailproto__smtp_engine_fail(mailproto__smtp_engine *e, int status)
{
    if (e->dead)
        return e->dead;
    if (e->state == ST_QUIT) {
        set_state(e, ST_CLOSED);
        e->dead = MAILPROTO_E_CLOSED;
        return MAILPROTO_E_CLOSED;
    }
    if (e->want_tls && status == MAILPROTO_E_UNSUPPORTED) {
        /* the connection cannot do TLS (a build without it, a callback
         * transport without start_tls): TLS was required */
        mailproto__err_set(e->err, MAILPROTO_E_TLS_REQUIRED,
                           "TLS is required but the connection cannot do TLS");
        return die(e, MAILPROTO_E_TLS_REQUIRED);
    }
    if (e->env) {
        /* Whatever broke the connection, what the caller needs to know is
         * whether the message may have been delivered. */
        int st = e->res.data_complete ? MAILPROTO_E_OUTCOME_UNKNOWN : MAILPROTO_E_NOT_SENT;
        mailproto__err_set(e->err, st,
                           st == MAILPROTO_E_NOT_SENT
                               ? "connection lost before the end of data was sent (%s)"
                               : "connection lost after the end of data, before the reply (%s)",
                           mailproto_strerror(status));
        return die(e, st);
    }
    if (e->err->pub.status != status)
        mailproto__err_set(e->err, status, "%s", status == MAILPROTO_E_CLOSED
                                                     ? "the server closed the connection"
                                                     : mailproto_strerror(status));
    return die(e, status);
}

static uint64_t phase_ms(const mailproto__smtp_engine *e)
{
    const mailproto_smtp_config *c = &e->cfg;
    switch (e->timeout_kind) {
    case TO_GREETING:
        return (uint64_t)c->greeting_timeout_ms;
    case TO_MAIL:
        return (uint64_t)c->mail_timeout_ms;
    case TO_RCPT:
        return (uint64_t)c->rcpt_timeout_ms;
    case TO_DATA:
        return (uint64_t)c->data_timeout_ms;
    case TO_BLOCK:
        return (uint64_t)c->block_timeout_ms;
    case TO_END:
        return (uint64_t)c->data_end_timeout_ms;
    default:
        return 0;
    }
}

/* Absolute deadline, or UINT64_MAX. */
static uint64_t deadline_abs(const mailproto__smtp_engine *e)
{
    if (e->dead || e->want_tls)
        return UINT64_MAX;
    if (e->out_len > e->out_off)
        return e->last_tx + (uint64_t)e->cfg.block_timeout_ms;
    if (e->pending) {
        uint64_t p = phase_ms(e);
        if (p)
            return e->wait_start + p;
        uint64_t base = e->last_rx > e->wait_start ? e->last_rx : e->wait_start;
        return base + (uint64_t)e->cfg.inactivity_timeout_ms;
    }
    return UINT64_MAX;
}

int64_t mailproto__smtp_engine_deadline(const mailproto__smtp_engine *e, uint64_t now)
{
    uint64_t d = deadline_abs(e);
    if (d == UINT64_MAX)
        return -1;
    if (d <= now)
        return 0;
    uint64_t left = d - now;
    return left > INT32_MAX ? INT32_MAX : (int64_t)left;
}

int mailproto__smtp_engine_idle(const mailproto__smtp_engine *e)
{
    return !e->dead && e->state == ST_READY && !e->pending && e->out_len == e->out_off;
}

int mailproto__smtp_engine_start(mailproto__smtp_engine *e)
{
    if (e->state != ST_NONE)
        return MAILPROTO_E_STATE;
    mailproto__err_clear(e->err);
    if (e->implicit_tls && !e->secure) {
        set_state(e, ST_TLS_FIRST);
        e->want_tls = 1;
        return MAILPROTO_OK;
    }
    set_state(e, ST_GREETING);
    e->pending = 1;
    e->arm_wait = 1;
    e->timeout_kind = TO_GREETING;
    return MAILPROTO_OK;
}

/* Start the timers that events since the last call asked for. */
static void apply_arms(mailproto__smtp_engine *e, uint64_t now)
{
    if (e->arm_wait)
        e->wait_start = now;
    if (e->arm_rx)
        e->last_rx = now;
    if (e->arm_tx)
        e->last_tx = now;
    e->arm_wait = e->arm_rx = e->arm_tx = 0;
}

/* Find one line in the input; returns 1 and the line, 0 when incomplete. */
static int take_line(mailproto__smtp_engine *e, const char **line, size_t *len)
{
    const unsigned char *p = e->in + e->in_off;
    size_t avail = e->in_len - e->in_off;
    const unsigned char *nl = memchr(p, '\n', avail);
    if (!nl)
        return 0;
    size_t n = (size_t)(nl - p);
    e->in_off += n + 1;
    if (n && p[n - 1] == '\r')
        n--;
    *line = (const char *)p;
    *len = n;
    return 1;
}

int mailproto__smtp_engine_next(mailproto__smtp_engine *e, uint64_t now,
                                const mailproto_smtp_event **ev)
{
    *ev = NULL;
    e->now = now;
    apply_arms(e, now);
    if (e->dead)
        return e->dead;
    if (e->sent_pending) {
        e->sent_pending = 0;
        *ev = &e->ev;
        int st = e->msg_fail;
        finish_msg(e, st);
        if (e->closing)
            die(e, MAILPROTO_E_CLOSED);
        return MAILPROTO_EVENT;
    }
    if (e->want_tls) {
        if (e->tls_event && !e->tls_reported) {
            e->tls_reported = 1;
            memset(&e->ev, 0, sizeof e->ev);
            e->ev.type = MAILPROTO_SMTP_EV_STARTTLS;
            e->ev.enhanced = "";
            *ev = &e->ev;
            return MAILPROTO_EVENT;
        }
        return MAILPROTO_AGAIN;
    }
    e->source_again = 0;
    for (;;) {
        int rc = produce(e);
        if (rc < 0)
            return rc;
        if (e->dead)
            return e->dead;
        const char *line;
        size_t len;
        if (!take_line(e, &line, &len))
            break;
        /* the trace sees the line with its line ending, as sent */
        mailproto__trace_emit(&e->trace, MAILPROTO_TRACE_RECEIVED, MAILPROTO_TRACE_REPLY, line,
                              (size_t)((const char *)e->in + e->in_off - line));
        rc = mailproto__smtp_reply_line(&e->reply, line, len);
        if (rc < 0) {
            mailproto__err_set(e->err, rc, rc == MAILPROTO_E_LIMIT
                                               ? "reply over the configured limits"
                                               : "malformed reply line");
            return die(e, rc);
        }
        if (e->state == ST_EHLO && e->reply.lines > 1 && e->reply.code == 250)
            mailproto__smtp_caps_line(&e->caps, e->reply.line_text, e->reply.line_len);
        if (rc == 0)
            continue;
        rc = on_reply(e); /* the reply's text stays for the event until the next line */
        if (rc == MAILPROTO_EVENT) {
            *ev = &e->ev;
            return MAILPROTO_EVENT;
        }
        if (rc < 0)
            return rc;
        if (e->want_tls)
            return mailproto__smtp_engine_next(e, now, ev);
    }
    if (e->in_off == 0 && e->in_len == e->in_cap) {
        mailproto__err_set(e->err, MAILPROTO_E_LIMIT, "reply line longer than the input buffer");
        return die(e, MAILPROTO_E_LIMIT);
    }
    if (e->eof) {
        if (e->state == ST_CLOSED)
            return MAILPROTO_OK;
        return mailproto__smtp_engine_fail(e, MAILPROTO_E_CLOSED);
    }
    apply_arms(e, now);
    if (deadline_abs(e) <= now) {
        mailproto__err_set(e->err, MAILPROTO_E_TIMEOUT, "no reply within the %s timeout",
                           e->timeout_kind == TO_INACT ? "inactivity" : "RFC 5321");
        return die(e, MAILPROTO_E_TIMEOUT);
    }
    if (mailproto__smtp_engine_want(e) || e->source_again)
        return MAILPROTO_AGAIN;
    return MAILPROTO_OK;
}
