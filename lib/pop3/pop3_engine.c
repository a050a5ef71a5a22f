/*
 * The POP3 engine: a sans-I/O state machine (bytes in, bytes out, pulled
 * events, the time as an argument).  No clock, socket or TLS here.
 *
 * Session: GREETING -> CAPA -> [STLS -> UPGRADE -> CAPA] -> [UTF8] ->
 * AUTH | USER, PASS | APOP -> READY (TRANSACTION) -> QUIT (UPDATE).
 * In READY the caller's commands sit in a fixed ring; they are written one
 * at a time, or all at once (up to pipeline_depth) when the server offers
 * PIPELINING, and replies are matched to them in order.  A reply is read
 * in one of three modes: a status line, listing lines (CAPA, LIST, UIDL;
 * each bounded by max_line, their number by max_list), or message data
 * (RETR, TOP) dot-unstuffed straight from the input buffer into the sink,
 * so memory never depends on the message.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "pop3_int.h"

#include "../core/crypto.h"

enum {
    ST_NONE,
    ST_TLS_FIRST, /* implicit TLS: waiting for the handshake */
    ST_GREETING,
    ST_CAPA,
    ST_STLS,
    ST_UPGRADE,   /* STLS go-ahead: waiting for the handshake */
    ST_UTF8,
    ST_AUTH,
    ST_USER,
    ST_PASS,
    ST_APOP,
    ST_NOAUTH,    /* login failed or impossible: only QUIT makes sense */
    ST_READY,
    ST_CLOSED,
    ST_COUNT
};

static const char *const state_names[ST_COUNT] = {
    "NONE", "TLS_FIRST", "GREETING", "CAPA", "STLS", "UPGRADE", "UTF8",
    "AUTH", "USER",      "PASS",     "APOP", "NOAUTH", "READY", "CLOSED",
};

/* message data unstuffing states */
enum { D_BOL, D_MID, D_DOT, D_DOTCR };

/* reply modes */
enum { ML_STATUS, ML_LINES, ML_DATA };

static void set_state(mailproto__pop3_engine *e, int st)
{
    if (e->state != st)
        mailproto__trace_note(&e->trace, "pop3: %s -> %s", state_names[e->state], state_names[st]);
    e->state = st;
}

void mailproto__pop3_config_defaults(mailproto_pop3_config *c)
{
    if (c->security == MAILPROTO_SEC_DEFAULT)
        c->security = c->port == 995 ? MAILPROTO_SEC_TLS : MAILPROTO_SEC_STARTTLS;
    if (!c->port)
        c->port = c->security == MAILPROTO_SEC_TLS ? 995 : 110;
    if (c->timeout_ms <= 0)
        c->timeout_ms = 30000;
    if (c->inactivity_timeout_ms <= 0)
        c->inactivity_timeout_ms = 60000;
    if (!c->max_line)
        c->max_line = 8192;
    if (c->max_line < 512)
        c->max_line = 512;
    if (c->max_line > ((size_t)1 << 24))
        c->max_line = (size_t)1 << 24;
    if (!c->in_buf_size)
        c->in_buf_size = 16384;
    if (c->in_buf_size < c->max_line + 2)
        c->in_buf_size = c->max_line + 2;
    if (c->in_buf_size > ((size_t)1 << 26))
        c->in_buf_size = (size_t)1 << 26;
    if (!c->out_buf_size)
        c->out_buf_size = 2048;
    if (c->out_buf_size < 1024)
        c->out_buf_size = 1024;
    if (c->out_buf_size > ((size_t)1 << 24))
        c->out_buf_size = (size_t)1 << 24;
    if (!c->max_list)
        c->max_list = 1000000;
    if (!c->max_capa_lines)
        c->max_capa_lines = 4096;
    if (!c->pipeline_depth)
        c->pipeline_depth = 16;
    if (c->pipeline_depth > MAILPROTO__POP3_QUEUE)
        c->pipeline_depth = MAILPROTO__POP3_QUEUE;
    if (!c->sync_batch)
        c->sync_batch = 64;
    if (c->sync_batch > 65536)
        c->sync_batch = 65536;
}

void mailproto__pop3_engine_init(mailproto__pop3_engine *e, const mailproto_pop3_config *cfg,
                                 mailproto__err *err, unsigned char *in, size_t in_cap,
                                 unsigned char *out, size_t out_cap, unsigned char *work,
                                 size_t work_cap)
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
    e->cred.authzid = cfg->authzid;
    e->cred.user = cfg->username;
    e->cred.password = cfg->password;
    e->cred.token = cfg->oauth_token;
    e->cred.host = cfg->host;
    e->cred.port = cfg->port;
    e->implicit_tls = cfg->security == MAILPROTO_SEC_TLS;
    e->depth = 1;
    e->ev.resp_code = "";
}

/* ---- errors ---- */

/* The current status line into the last-error record. */
static void record_reply(mailproto__pop3_engine *e)
{
    mailproto__err_text(e->err, e->text, e->text_len);
    memcpy(e->err->pub.resp_code, e->resp_code, sizeof e->err->pub.resp_code);
    e->err->pub.resp_code[sizeof e->err->pub.resp_code - 1] = '\0';
    e->err->pub.temporary = e->temporary;
    e->err->pub.code = 0;
}

static void forget_reply(mailproto__pop3_engine *e)
{
    e->err->pub.resp_code[0] = '\0';
    e->err->pub.temporary = 0;
}

/* QUIT is queued and the session fails: whatever the cause (the peer
 * closed, a TLS or I/O error, a timeout, a malformed or overlong reply),
 * the deletions were not committed when QUIT never fully went out, and
 * nobody knows when it did.  Returns the status that says so. */
static int quit_failure(mailproto__pop3_engine *e, int status)
{
    if (!e->quit_queued || status == MAILPROTO_E_NOT_SENT ||
        status == MAILPROTO_E_OUTCOME_UNKNOWN)
        return status;
    int st = e->quit_sent ? MAILPROTO_E_OUTCOME_UNKNOWN : MAILPROTO_E_NOT_SENT;
    e->outcome = e->quit_sent ? MAILPROTO_POP3_OUTCOME_UNKNOWN
                              : MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
    char why[MAILPROTO__ERR_MSG_MAX];
    mailproto__fmt(why, sizeof why, "%s",
                   e->err->pub.status < 0 && e->err->msg[0] ? e->err->msg
                                                             : mailproto_errname(status));
    mailproto__err_set(e->err, st, "%s: %s", why,
                       st == MAILPROTO_E_NOT_SENT
                           ? "QUIT was not sent, nothing deleted"
                           : "QUIT was sent but not answered, deletions unknown");
    return st;
}

static int die(mailproto__pop3_engine *e, int status)
{
    if (!e->dead) {
        status = quit_failure(e, status);
        e->dead = status;
        e->want_tls = 0;
        e->out_len = e->out_off = 0;
        if (e->logged_in && !e->outcome)
            e->outcome = MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
        if (e->err->pub.status >= 0)
            mailproto__err_set(e->err, status, NULL);
        mailproto__trace_note(&e->trace, "pop3: fatal: %s", mailproto_errname(status));
    }
    return status;
}

/* die() with a sentence. */
static int die_msg(mailproto__pop3_engine *e, int status, const char *msg)
{
    forget_reply(e);
    mailproto__err_set(e->err, status, "%s", msg);
    return die(e, status);
}

/* ---- output ---- */

typedef struct ob {
    mailproto__ob b;
    mailproto__pop3_engine *e;
} ob;

static ob ob_begin(mailproto__pop3_engine *e)
{
    ob o;
    o.e = e;
    mailproto__ob_begin(&o.b, e->out, e->out_cap, &e->out_off, &e->out_len);
    return o;
}

static void ob_str(ob *o, const char *s) { mailproto__ob_str(&o->b, s); }

static void ob_u32(ob *o, uint32_t v) { mailproto__ob_u64(&o->b, v); }

/* Finish a command (see mailproto__ob_end); 0 when it did not fit. */
static int ob_end(ob *o, int secret_from)
{
    int r = mailproto__ob_end(&o->b, &o->e->trace, secret_from);
    if (r < 0)
        return 0;
    if (r)
        o->e->arm_tx = 1;
    return 1;
}

/* A session command (one reply owed). */
static int session_cmd(mailproto__pop3_engine *e, int st, const char *a, const char *b,
                       int secret)
{
    ob o = ob_begin(e);
    ob_str(&o, a);
    size_t head = e->out_len - o.b.start;
    if (b) {
        ob_str(&o, " ");
        head++;
        ob_str(&o, b);
    }
    ob_str(&o, "\r\n");
    if (!ob_end(&o, secret ? (int)head : -1))
        return die_msg(e, MAILPROTO_E_LIMIT, "command longer than the output buffer");
    set_state(e, st);
    e->pending = 1;
    e->ml = ML_STATUS;
    return MAILPROTO_OK;
}

/* Text that may go into a command line: no CR, LF, NUL or other controls. */
static int clean_arg(const char *s, size_t max, int allow_space)
{
    size_t n = 0;
    for (; *s; s++, n++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || (!allow_space && c == ' ') || n >= max)
            return 0;
    }
    return n > 0;
}

/* ---- the session ---- */

static int ready(mailproto__pop3_engine *e, int logged_in)
{
    set_state(e, ST_READY);
    e->logged_in = logged_in;
    e->depth = 1;
    if (!e->cfg.no_pipelining && (e->capa.caps & MAILPROTO_POP3_CAP_PIPELINING))
        e->depth = e->cfg.pipeline_depth;
    memset(&e->ev, 0, sizeof e->ev);
    e->ev.type = MAILPROTO_POP3_EV_READY;
    e->ev.resp_code = "";
    e->ev.text.ptr = e->text;
    e->ev.text.len = e->text_len;
    return MAILPROTO_EVENT;
}

static int perform_capa(mailproto__pop3_engine *e)
{
    memset(&e->capa, 0, sizeof e->capa);
    e->capa_lines = 0;
    return session_cmd(e, ST_CAPA, "CAPA", NULL, 0);
}

/* Login failed or impossible: the session stays open (QUIT still works). */
static int no_login(mailproto__pop3_engine *e, int status, const char *msg)
{
    set_state(e, ST_NOAUTH);
    mailproto__sasl_clear(&e->sasl);
    return mailproto__err_set(e->err, status, "%s", msg);
}

static int perform_sasl(mailproto__pop3_engine *e)
{
    int mech = mailproto__sasl_choose(e->capa.sasl, e->cfg.auth_mech, &e->cred);
    if (mech < 0) {
        forget_reply(e);
        return no_login(e, mech, mech == MAILPROTO_E_UNSUPPORTED
                                     ? "no usable SASL mechanism offered by the server"
                                     : "credentials missing for the chosen SASL mechanism");
    }
    int rc = mailproto__sasl_start(&e->sasl, mech, &e->cred, e->cfg.random, e->cfg.random_ctx,
                                   e->sasl_work, e->sasl_work_cap);
    if (rc != MAILPROTO_OK) {
        forget_reply(e);
        return no_login(e, rc, "cannot start AUTH");
    }
    e->auth_mech = mech;
    e->auth_err = 0;
    ob o = ob_begin(e);
    ob_str(&o, "AUTH ");
    ob_str(&o, mailproto__sasl_name(mech));
    size_t head = e->out_len - o.b.start;
    int secret = -1;
    if (mailproto__sasl_has_ir(mech) && !o.b.over) {
        /* RFC 5034 4: the command with its initial response fits in 255
         * octets, else the response waits for the first challenge */
        size_t room = e->out_cap - e->out_len;
        if (room > 255 - head)
            room = 255 - head;
        size_t n = 0;
        char *p = (char *)e->out + e->out_len + 1;
        if (room > 3 && mailproto__sasl_initial(&e->sasl, p, room - 3, &n) == MAILPROTO_OK) {
            e->out[e->out_len] = ' ';
            e->out_len += 1 + n;
            if (n == 0)
                ob_str(&o, "=");
            secret = (int)head;
        } else {
            mailproto__sasl_start(&e->sasl, mech, &e->cred, e->cfg.random, e->cfg.random_ctx,
                                  e->sasl_work, e->sasl_work_cap);
        }
    }
    ob_str(&o, "\r\n");
    if (!ob_end(&o, secret))
        return die_msg(e, MAILPROTO_E_LIMIT, "AUTH longer than the output buffer");
    set_state(e, ST_AUTH);
    e->pending = 1;
    return MAILPROTO_OK;
}

static int perform_apop(mailproto__pop3_engine *e)
{
    if (!e->ts[0]) {
        forget_reply(e);
        return no_login(e, MAILPROTO_E_UNSUPPORTED,
                        e->ts_bad ? "APOP: the greeting's timestamp is malformed"
                                  : "APOP: the greeting has no timestamp");
    }
    if (!clean_arg(e->cfg.username, 250, 0)) {
        forget_reply(e);
        return no_login(e, MAILPROTO_E_INVALID, "APOP: a user name with a space cannot be sent");
    }
    const char *pw = e->cfg.password ? e->cfg.password : "";
    size_t tl = strlen(e->ts), pl = strlen(pw);
    unsigned char md[16];
    /* MD5(timestamp || secret) without a copy: hash in two parts is not in
     * the crypto interface, so the pair goes through the SASL work buffer */
    if (tl + pl > e->sasl_work_cap)
        return no_login(e, MAILPROTO_E_LIMIT, "APOP: password too long");
    memcpy(e->sasl_work, e->ts, tl);
    memcpy(e->sasl_work + tl, pw, pl);
    int rc = mailproto__hash(MAILPROTO__MD5, e->sasl_work, tl + pl, md);
    memset(e->sasl_work, 0, tl + pl);
    if (rc != MAILPROTO_OK)
        return no_login(e, MAILPROTO_E_UNSUPPORTED, "APOP: MD5 is not available in this build");
    char hex[33];
    static const char h[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = h[md[i] >> 4];
        hex[2 * i + 1] = h[md[i] & 15];
    }
    hex[32] = '\0';
    ob o = ob_begin(e);
    ob_str(&o, "APOP ");
    ob_str(&o, e->cfg.username);
    ob_str(&o, " ");
    size_t head = e->out_len - o.b.start;
    ob_str(&o, hex);
    ob_str(&o, "\r\n");
    memset(hex, 0, sizeof hex);
    memset(md, 0, sizeof md);
    if (!ob_end(&o, (int)head))
        return die_msg(e, MAILPROTO_E_LIMIT, "APOP longer than the output buffer");
    set_state(e, ST_APOP);
    e->pending = 1;
    return MAILPROTO_OK;
}

static int perform_login(mailproto__pop3_engine *e)
{
    const mailproto_pop3_config *c = &e->cfg;
    if (!c->username || !*c->username)
        return ready(e, 0);
    /* never a credential in clear unless asked for by name */
    if (!e->secure && !c->allow_plaintext_auth) {
        forget_reply(e);
        mailproto__err_set(e->err, MAILPROTO_E_TLS_REQUIRED,
                           "login without TLS needs allow_plaintext_auth");
        return die(e, MAILPROTO_E_TLS_REQUIRED);
    }
    if (!clean_arg(c->username, 250, 1)) {
        forget_reply(e);
        return no_login(e, MAILPROTO_E_INVALID, "user name with control characters or too long");
    }
    int capa_ok = (e->capa.caps & MAILPROTO_POP3_CAP_CAPA) != 0;
    switch (c->login) {
    case MAILPROTO_POP3_LOGIN_APOP:
        return perform_apop(e);
    case MAILPROTO_POP3_LOGIN_SASL:
        return perform_sasl(e);
    case MAILPROTO_POP3_LOGIN_USER:
        break;
    default:
        if (c->auth_mech || !c->password ||
            (e->capa.sasl && mailproto__sasl_choose(e->capa.sasl, 0, &e->cred) > 0))
            return perform_sasl(e);
        if (capa_ok && !(e->capa.caps & MAILPROTO_POP3_CAP_USER)) {
            forget_reply(e);
            return no_login(e, MAILPROTO_E_UNSUPPORTED,
                            "the server offers neither USER nor a usable SASL mechanism");
        }
        break;
    }
    /* the password is checked before USER goes out, not after */
    if (!c->password || !clean_arg(c->password, 250, 1)) {
        forget_reply(e);
        return no_login(e, MAILPROTO_E_INVALID,
                        "USER/PASS needs a password without control characters");
    }
    return session_cmd(e, ST_USER, "USER", c->username, 0);
}

static int after_capa(mailproto__pop3_engine *e)
{
    if (e->cfg.security == MAILPROTO_SEC_STARTTLS && !e->secure) {
        if (!(e->capa.caps & MAILPROTO_POP3_CAP_STLS)) {
            mailproto__err_set(e->err, MAILPROTO_E_TLS_REQUIRED,
                               (e->capa.caps & MAILPROTO_POP3_CAP_CAPA)
                                   ? "the server does not offer STLS"
                                   : "CAPA failed: STLS unknown, TLS required");
            return die(e, MAILPROTO_E_TLS_REQUIRED);
        }
        return session_cmd(e, ST_STLS, "STLS", NULL, 0);
    }
    if (e->cfg.utf8 && (e->capa.caps & MAILPROTO_POP3_CAP_UTF8) && e->state != ST_UTF8)
        return session_cmd(e, ST_UTF8, "UTF8", NULL, 0);
    return perform_login(e);
}

void mailproto__pop3_engine_tls_done(mailproto__pop3_engine *e)
{
    if (!e->want_tls || e->dead)
        return;
    e->want_tls = 0;
    e->secure = 1;
    /* Forget everything learned in plain text (RFC 2595 4). */
    memset(&e->capa, 0, sizeof e->capa);
    e->ts[0] = '\0';
    e->ts_bad = 0;
    e->in_len = e->in_off = 0;
    e->arm_wait = 1;
    if (e->state == ST_TLS_FIRST) {
        set_state(e, ST_GREETING);
        e->pending = 1;
        e->ml = ML_STATUS;
    } else {
        perform_capa(e);
    }
}

/* ---- commands of the transaction ---- */

static mailproto__pop3_cmd *q_at(mailproto__pop3_engine *e, size_t i)
{
    return &e->q[(e->q_head + i) % MAILPROTO__POP3_QUEUE];
}

static const char *cmd_name(int cmd)
{
    switch (cmd) {
    case MAILPROTO_POP3_STAT: return "STAT";
    case MAILPROTO_POP3_LIST: return "LIST";
    case MAILPROTO_POP3_UIDL: return "UIDL";
    case MAILPROTO_POP3_RETR: return "RETR";
    case MAILPROTO_POP3_TOP: return "TOP";
    case MAILPROTO_POP3_DELE: return "DELE";
    case MAILPROTO_POP3_RSET: return "RSET";
    case MAILPROTO_POP3_NOOP: return "NOOP";
    case MAILPROTO_POP3_QUIT: return "QUIT";
    default: return "?";
    }
}

int mailproto__pop3_engine_submit(mailproto__pop3_engine *e, int cmd, uint32_t msg,
                                  uint32_t lines, const mailproto_sink *sink)
{
    if (e->dead)
        return e->dead;
    if (cmd < MAILPROTO_POP3_STAT || cmd > MAILPROTO_POP3_NOOP)
        return mailproto__err_set(e->err, MAILPROTO_E_INVALID, "unknown POP3 command %d", cmd);
    if (e->state != ST_READY || e->quit_queued)
        return mailproto__err_set(e->err, MAILPROTO_E_STATE, "the session is not in TRANSACTION");
    if ((cmd == MAILPROTO_POP3_RETR || cmd == MAILPROTO_POP3_TOP) && (!sink || !sink->write))
        return mailproto__err_set(e->err, MAILPROTO_E_INVALID, "%s needs a sink", cmd_name(cmd));
    if ((cmd == MAILPROTO_POP3_RETR || cmd == MAILPROTO_POP3_TOP || cmd == MAILPROTO_POP3_DELE) &&
        msg == 0)
        return mailproto__err_set(e->err, MAILPROTO_E_INVALID, "%s needs a message number",
                                  cmd_name(cmd));
    if ((e->capa.caps & MAILPROTO_POP3_CAP_CAPA) &&
        ((cmd == MAILPROTO_POP3_TOP && !(e->capa.caps & MAILPROTO_POP3_CAP_TOP)) ||
         (cmd == MAILPROTO_POP3_UIDL && !(e->capa.caps & MAILPROTO_POP3_CAP_UIDL))))
        return mailproto__err_set(e->err, MAILPROTO_E_UNSUPPORTED, "the server has no %s",
                                  cmd_name(cmd));
    if (e->q_len >= MAILPROTO__POP3_QUEUE - 1)
        return mailproto__err_set(e->err, MAILPROTO_E_LIMIT, "command queue full");
    mailproto__pop3_cmd *c = q_at(e, e->q_len);
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->msg = msg;
    c->lines = lines;
    if (sink)
        c->sink = *sink;
    e->q_len++;
    return MAILPROTO_OK;
}

int mailproto__pop3_engine_quit(mailproto__pop3_engine *e)
{
    if (e->dead) {
        /* the session died in TRANSACTION before QUIT: say so (the reason
         * stays in the message) */
        if (e->logged_in && e->state != ST_CLOSED &&
            e->outcome == MAILPROTO_POP3_OUTCOME_NOT_COMMITTED &&
            e->dead != MAILPROTO_E_NOT_SENT) {
            char why[MAILPROTO__ERR_MSG_MAX];
            mailproto__fmt(why, sizeof why, "%s",
                           e->err->msg[0] ? e->err->msg : mailproto_errname(e->dead));
            return mailproto__err_set(e->err, MAILPROTO_E_NOT_SENT,
                                      "%s: QUIT was not sent, nothing deleted", why);
        }
        return e->dead;
    }
    if (e->quit_queued || e->state == ST_CLOSED)
        return MAILPROTO_OK;
    if (e->state == ST_NONE || e->state == ST_TLS_FIRST || e->state == ST_UPGRADE)
        return mailproto__err_set(e->err, MAILPROTO_E_STATE, "no session to quit");
    if (e->state != ST_READY && e->state != ST_NOAUTH)
        return mailproto__err_set(e->err, MAILPROTO_E_STATE, "login still running");
    if (e->state == ST_NOAUTH)
        set_state(e, ST_READY); /* QUIT goes through the queue; nothing to commit */
    mailproto__pop3_cmd *c = q_at(e, e->q_len);
    memset(c, 0, sizeof *c);
    c->cmd = MAILPROTO_POP3_QUIT;
    e->q_len++;
    e->quit_queued = 1;
    return MAILPROTO_OK;
}

/* Write the queued commands the window allows. */
static int produce(mailproto__pop3_engine *e)
{
    if (e->state != ST_READY || e->want_tls)
        return MAILPROTO_OK;
    while (e->q_sent < e->q_len && e->q_sent < e->depth) {
        mailproto__pop3_cmd *c = q_at(e, e->q_sent);
        ob o = ob_begin(e);
        ob_str(&o, cmd_name(c->cmd));
        int with_msg = c->msg && c->cmd != MAILPROTO_POP3_STAT && c->cmd != MAILPROTO_POP3_RSET &&
                       c->cmd != MAILPROTO_POP3_NOOP && c->cmd != MAILPROTO_POP3_QUIT;
        if (with_msg || c->cmd == MAILPROTO_POP3_TOP) {
            ob_str(&o, " ");
            ob_u32(&o, c->msg);
        }
        if (c->cmd == MAILPROTO_POP3_TOP) {
            ob_str(&o, " ");
            ob_u32(&o, c->lines);
        }
        ob_str(&o, "\r\n");
        if (!ob_end(&o, -1))
            break; /* the buffer is full: the rest goes when it drains */
        if (c->cmd == MAILPROTO_POP3_QUIT)
            e->quit_mark = e->out_len - e->out_off;
        e->q_sent++;
    }
    return MAILPROTO_OK;
}

/* ---- replies ---- */

static void keep_text(mailproto__pop3_engine *e, const char *t, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof e->text; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '\t')
            c = ' ';
        if (c < 0x20 || c == 0x7f)
            continue;
        e->text[o++] = (char)c;
    }
    e->text_len = o;
}

/* Parse a status line into e->text/resp_code/temporary: 1 +OK, 0 -ERR, -1. */
static int status_line(mailproto__pop3_engine *e, const char *line, size_t len)
{
    const char *t;
    size_t tl;
    int rc = mailproto__pop3_status(line, len, &t, &tl, e->resp_code, sizeof e->resp_code,
                                    &e->temporary);
    keep_text(e, t, tl);
    return rc;
}

static void ev_begin(mailproto__pop3_engine *e, int type, const mailproto__pop3_cmd *c)
{
    memset(&e->ev, 0, sizeof e->ev);
    e->ev.type = type;
    e->ev.cmd = c ? c->cmd : 0;
    e->ev.msg = c ? c->msg : 0;
    e->ev.resp_code = e->resp_code;
    e->ev.temporary = e->temporary;
    e->ev.text.ptr = e->text;
    e->ev.text.len = e->text_len;
}

/* The head command is answered: pop it and report. */
static int cmd_done(mailproto__pop3_engine *e, int status)
{
    mailproto__pop3_cmd c = *q_at(e, 0);
    e->q_head = (e->q_head + 1) % MAILPROTO__POP3_QUEUE;
    e->q_len--;
    e->q_sent--;
    e->ml = ML_STATUS;
    if (c.cmd == MAILPROTO_POP3_QUIT) {
        e->quit_queued = 0;
        set_state(e, ST_CLOSED);
        ev_begin(e, MAILPROTO_POP3_EV_CLOSED, &c);
        e->ev.status = status;
        e->outcome = status == MAILPROTO_OK ? MAILPROTO_POP3_OUTCOME_COMMITTED
                                            : MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
        if (!e->logged_in && status == MAILPROTO_OK)
            e->outcome = MAILPROTO_POP3_OUTCOME_COMMITTED;
        e->ev.outcome = e->outcome;
        return MAILPROTO_EVENT;
    }
    uint32_t count = e->ev.count;
    uint64_t size = e->ev.size;
    ev_begin(e, MAILPROTO_POP3_EV_DONE, &c);
    e->ev.status = status;
    e->ev.count = count;
    e->ev.size = size;
    return MAILPROTO_EVENT;
}

static int rejected(mailproto__pop3_engine *e)
{
    record_reply(e);
    const mailproto__pop3_cmd *c = q_at(e, 0);
    mailproto__err_set(e->err, MAILPROTO_E_REJECTED, "%s refused", cmd_name(c->cmd));
    e->ev.count = 0;
    e->ev.size = 0;
    return cmd_done(e, MAILPROTO_E_REJECTED);
}

static int on_cmd_status(mailproto__pop3_engine *e, const char *line, size_t len)
{
    int st = status_line(e, line, len);
    if (st < 0)
        return die_msg(e, MAILPROTO_E_PROTOCOL, "reply is neither +OK nor -ERR");
    if (st == 0)
        return rejected(e);
    mailproto__pop3_cmd *c = q_at(e, 0);
    e->ev.count = 0;
    e->ev.size = 0;
    switch (c->cmd) {
    case MAILPROTO_POP3_STAT: {
        uint32_t n;
        uint64_t sz;
        if (mailproto__pop3_parse_stat(e->text, e->text_len, &n, &sz) != 0)
            return die_msg(e, MAILPROTO_E_PROTOCOL, "malformed STAT reply");
        e->ev.count = n;
        e->ev.size = sz;
        return cmd_done(e, MAILPROTO_OK);
    }
    case MAILPROTO_POP3_LIST:
    case MAILPROTO_POP3_UIDL:
        if (c->msg == 0) {
            e->ml = ML_LINES;
            e->list_n = 0;
            e->list_last = 0;
            return MAILPROTO_OK;
        } else {
            uint32_t m;
            uint64_t sz = 0;
            const char *uid = NULL;
            size_t ul = 0;
            int rc = c->cmd == MAILPROTO_POP3_LIST
                         ? mailproto__pop3_parse_list(e->text, e->text_len, &m, &sz)
                         : mailproto__pop3_parse_uidl(e->text, e->text_len, &m, &uid, &ul);
            if (rc != 0 || m != c->msg)
                return die_msg(e, MAILPROTO_E_PROTOCOL, "malformed LIST/UIDL reply");
            ev_begin(e, MAILPROTO_POP3_EV_ENTRY, c);
            e->ev.size = sz;
            e->ev.uid.ptr = uid;
            e->ev.uid.len = ul;
            e->ev_done_pending = 1;
            return MAILPROTO_EVENT;
        }
    case MAILPROTO_POP3_RETR:
    case MAILPROTO_POP3_TOP:
        e->ml = ML_DATA;
        e->dstate = D_BOL;
        e->data_bytes = 0;
        e->data_fail = 0;
        e->data_total = c->cmd == MAILPROTO_POP3_RETR
                            ? mailproto__pop3_octets_hint(e->text, e->text_len)
                            : MAILPROTO_SIZE_UNKNOWN;
        return MAILPROTO_OK;
    default:
        return cmd_done(e, MAILPROTO_OK);
    }
}

static int on_list_line(mailproto__pop3_engine *e, const char *line, size_t len)
{
    mailproto__pop3_cmd *c = q_at(e, 0);
    if (len == 1 && line[0] == '.') {
        e->ev.count = e->list_n;
        e->ev.size = 0;
        return cmd_done(e, MAILPROTO_OK);
    }
    if (len && line[0] == '.') { /* byte-stuffed */
        line++;
        len--;
    }
    if (e->list_n >= e->cfg.max_list)
        return die_msg(e, MAILPROTO_E_LIMIT, "listing longer than max_list entries");
    uint32_t m;
    uint64_t sz = 0;
    const char *uid = NULL;
    size_t ul = 0;
    int rc = c->cmd == MAILPROTO_POP3_LIST ? mailproto__pop3_parse_list(line, len, &m, &sz)
                                           : mailproto__pop3_parse_uidl(line, len, &m, &uid, &ul);
    if (rc != 0)
        return die_msg(e, MAILPROTO_E_PROTOCOL, "malformed listing line");
    /* RFC 1939 lists the messages in order; a repeated or backwards number
     * would make one message look like two (the sync helper relies on it) */
    if (e->list_n && m <= e->list_last)
        return die_msg(e, MAILPROTO_E_PROTOCOL,
                       "listing repeats a message number or is out of order");
    e->list_n++;
    e->list_last = m;
    ev_begin(e, MAILPROTO_POP3_EV_ENTRY, c);
    e->ev.msg = m;
    e->ev.size = sz;
    e->ev.uid.ptr = uid;
    e->ev.uid.len = ul;
    return MAILPROTO_EVENT;
}

/* Bytes of message data for the sink. */
static void data_out(mailproto__pop3_engine *e, const unsigned char *p, size_t n)
{
    if (!n || e->data_fail)
        return;
    mailproto__pop3_cmd *c = q_at(e, 0);
    mailproto__trace_data(&e->trace, MAILPROTO_TRACE_RECEIVED, p, n);
    int rc = c->sink.write(c->sink.ctx, p, n);
    if (rc != MAILPROTO_OK) {
        e->data_fail = MAILPROTO_E_CALLBACK;
        mailproto__trace_note(&e->trace, "pop3: the sink failed (%d); the rest is dropped", rc);
        return;
    }
    e->data_bytes += n;
    /* the announced size counts the server's octets (stuffed dots, line
     * ends as stored): never report more done than total */
    uint64_t total = e->data_total;
    if (total != MAILPROTO_SIZE_UNKNOWN && total < e->data_bytes)
        total = e->data_bytes;
    if (e->cfg.progress && e->cfg.progress(e->cfg.progress_ctx, e->data_bytes, total) != 0)
        e->data_fail = MAILPROTO_E_CANCELLED;
}

/* Dot-unstuff the message data in the input buffer.  Returns 1 when the
 * terminating line was read, 0 when all input was used. */
static int data_run(mailproto__pop3_engine *e)
{
    const unsigned char *p = e->in + e->in_off;
    size_t n = e->in_len - e->in_off, rs = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        switch (e->dstate) {
        case D_BOL:
            if (c == '.') {
                data_out(e, p + rs, i - rs);
                rs = i + 1;
                e->dstate = D_DOT;
            } else if (c != '\n') {
                e->dstate = D_MID;
            }
            break;
        case D_MID:
            if (c == '\n')
                e->dstate = D_BOL;
            break;
        case D_DOT:
            if (c == '\r') {
                rs = i + 1;
                e->dstate = D_DOTCR;
            } else if (c == '\n') {
                e->in_off += i + 1;
                return 1;
            } else {
                e->dstate = D_MID; /* the stuffed dot is gone; c is data */
            }
            break;
        default: /* D_DOTCR */
            if (c == '\n') {
                e->in_off += i + 1;
                return 1;
            }
            data_out(e, (const unsigned char *)"\r", 1); /* ".\rx": the CR was data */
            rs = i;
            e->dstate = D_MID;
            break;
        }
    }
    data_out(e, p + rs, n - rs);
    e->in_off = e->in_len;
    return 0;
}

/* ---- replies to session commands ---- */

static int on_greeting(mailproto__pop3_engine *e, int st)
{
    if (st != 1) {
        record_reply(e);
        mailproto__err_set(e->err, st == 0 ? MAILPROTO_E_REJECTED : MAILPROTO_E_PROTOCOL,
                           st == 0 ? "the server refused the session" : "malformed greeting");
        die(e, MAILPROTO_E_CLOSED);
        return st == 0 ? MAILPROTO_E_REJECTED : MAILPROTO_E_PROTOCOL;
    }
    int t = mailproto__pop3_timestamp(e->text, e->text_len, e->ts, sizeof e->ts);
    e->ts_bad = t < 0;
    if (t < 0)
        mailproto__trace_note(&e->trace, "pop3: malformed APOP timestamp ignored");
    return perform_capa(e);
}

static int on_auth_reply(mailproto__pop3_engine *e, const char *line, size_t len)
{
    if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
        /* a challenge */
        if (e->auth_err)
            return die_msg(e, MAILPROTO_E_PROTOCOL, "challenge after AUTH cancel");
        const char *chal = len > 2 ? line + 2 : line + len;
        size_t cl = len > 2 ? len - 2 : 0;
        ob o = ob_begin(e);
        size_t room = e->out_cap - e->out_len;
        if (room < 8)
            return die_msg(e, MAILPROTO_E_LIMIT, "output buffer too small for AUTH");
        size_t n = 0;
        char *p = (char *)e->out + e->out_len;
        int rc = mailproto__sasl_step(&e->sasl, chal, cl, p, room - 2, &n);
        if (rc == MAILPROTO_OK) {
            e->out_len += n;
        } else {
            e->auth_err = rc;
            ob_str(&o, "*");
        }
        ob_str(&o, "\r\n");
        if (!ob_end(&o, rc == MAILPROTO_OK ? 0 : -1))
            return die_msg(e, MAILPROTO_E_LIMIT, "output buffer too small for AUTH");
        e->pending = 1;
        return MAILPROTO_OK;
    }
    int st = status_line(e, line, len);
    if (st < 0)
        return die_msg(e, MAILPROTO_E_PROTOCOL, "malformed reply to AUTH");
    int sasl_rc = mailproto__sasl_finish(&e->sasl);
    mailproto__sasl_clear(&e->sasl);
    if (st == 1 && !e->auth_err) {
        if (sasl_rc != MAILPROTO_OK)
            return die_msg(e, MAILPROTO_E_AUTH, "server signature not verified");
        return ready(e, 1);
    }
    if (st == 1)
        return die_msg(e, MAILPROTO_E_PROTOCOL, "AUTH succeeded after cancel");
    record_reply(e);
    if (e->auth_err) {
        int rc = e->auth_err == MAILPROTO_E_PROTOCOL ? MAILPROTO_E_AUTH : e->auth_err;
        return no_login(e, rc, "AUTH aborted by the client");
    }
    if ((e->auth_mech == MAILPROTO__SASL_XOAUTH2 || e->auth_mech == MAILPROTO__SASL_OAUTHBEARER) &&
        e->cfg.token_refresh && !e->auth_retried && !e->temporary) {
        const char *tok = NULL;
        e->auth_retried = 1;
        if (e->cfg.token_refresh(e->cfg.token_ctx, &tok) == 0 && tok && *tok) {
            e->cred.token = tok;
            mailproto__trace_note(&e->trace, "pop3: token refreshed, AUTH again");
            return perform_sasl(e);
        }
    }
    return no_login(e, MAILPROTO_E_AUTH, "AUTH failed");
}

static int on_session_reply(mailproto__pop3_engine *e, const char *line, size_t len)
{
    e->pending = 0;
    if (e->state == ST_AUTH)
        return on_auth_reply(e, line, len);
    int st = status_line(e, line, len);
    switch (e->state) {
    case ST_GREETING:
        return on_greeting(e, st);
    case ST_CAPA:
        if (st == 1) {
            e->capa.caps |= MAILPROTO_POP3_CAP_CAPA;
            e->ml = ML_LINES;
            e->pending = 1;
            return MAILPROTO_OK;
        }
        if (st < 0)
            return die_msg(e, MAILPROTO_E_PROTOCOL, "malformed reply to CAPA");
        return after_capa(e); /* no CAPA: nothing is known */
    case ST_STLS:
        if (st != 1) {
            record_reply(e);
            mailproto__err_set(e->err, MAILPROTO_E_TLS_REQUIRED, "STLS refused");
            return die(e, MAILPROTO_E_TLS_REQUIRED);
        }
        if (e->in_len > e->in_off || e->eof)
            return die_msg(e, MAILPROTO_E_STARTTLS_INJECTION, "bytes after the STLS go-ahead");
        set_state(e, ST_UPGRADE);
        e->want_tls = 1;
        e->tls_reported = 0;
        return MAILPROTO_OK;
    case ST_UTF8:
        if (st < 0)
            return die_msg(e, MAILPROTO_E_PROTOCOL, "malformed reply to UTF8");
        return perform_login(e); /* -ERR: go on without UTF-8 */
    case ST_USER:
        if (st == 1) {
            if (!clean_arg(e->cfg.password, 250, 1))
                return no_login(e, MAILPROTO_E_INVALID, "password empty or with control characters");
            return session_cmd(e, ST_PASS, "PASS", e->cfg.password, 1);
        }
        /* fall through */
    case ST_PASS:
    case ST_APOP:
        if (st < 0)
            return die_msg(e, MAILPROTO_E_PROTOCOL, "malformed reply to the login");
        if (st == 1)
            return ready(e, 1);
        record_reply(e);
        return no_login(e, MAILPROTO_E_AUTH, e->temporary ? "login refused for now (try later)"
                                                          : "login refused");
    default:
        return die_msg(e, MAILPROTO_E_PROTOCOL, "unexpected reply");
    }
}

/* ---- input / output ---- */

void mailproto__pop3_engine_input(mailproto__pop3_engine *e, unsigned char **p, size_t *cap)
{
    if (e->in_off && e->in_off == e->in_len) {
        e->in_off = e->in_len = 0;
    } else if (e->in_off && e->in_len == e->in_cap) {
        memmove(e->in, e->in + e->in_off, e->in_len - e->in_off);
        e->in_len -= e->in_off;
        e->in_off = 0;
    }
    *p = e->in + e->in_len;
    *cap = (e->dead || e->eof || e->want_tls) ? 0 : e->in_cap - e->in_len;
}

void mailproto__pop3_engine_input_done(mailproto__pop3_engine *e, size_t n)
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

void mailproto__pop3_engine_output(mailproto__pop3_engine *e, const unsigned char **p,
                                   size_t *len)
{
    *p = e->out + e->out_off;
    *len = e->dead ? 0 : e->out_len - e->out_off;
}

void mailproto__pop3_engine_output_done(mailproto__pop3_engine *e, size_t n)
{
    if (n > e->out_len - e->out_off)
        n = e->out_len - e->out_off;
    e->out_off += n;
    if (n)
        e->arm_tx = 1;
    if (e->quit_mark) {
        e->quit_mark = e->quit_mark > n ? e->quit_mark - n : 0;
        if (!e->quit_mark)
            e->quit_sent = 1;
    }
    if (e->out_off == e->out_len) {
        e->out_off = e->out_len = 0;
        e->arm_wait = 1;
    }
}

static int awaiting(const mailproto__pop3_engine *e) { return e->pending || e->q_sent; }

int mailproto__pop3_engine_want(const mailproto__pop3_engine *e)
{
    if (e->dead)
        return 0;
    int out = e->out_len > e->out_off ? MAILPROTO__POP3_WANT_WRITE : 0;
    if (e->want_tls)
        return MAILPROTO__POP3_WANT_TLS | out;
    if (awaiting(e) && !e->eof)
        out |= MAILPROTO__POP3_WANT_READ;
    return out;
}

int mailproto__pop3_engine_fail(mailproto__pop3_engine *e, int status)
{
    if (e->dead)
        return e->dead;
    if (e->state == ST_CLOSED) {
        e->dead = MAILPROTO_E_CLOSED;
        return MAILPROTO_E_CLOSED;
    }
    if (e->quit_queued && (status == MAILPROTO_E_CLOSED || status == MAILPROTO_E_IO ||
                           status == MAILPROTO_E_TIMEOUT)) {
        int st;
        if (e->quit_sent) {
            st = MAILPROTO_E_OUTCOME_UNKNOWN;
            e->outcome = MAILPROTO_POP3_OUTCOME_UNKNOWN;
        } else {
            st = MAILPROTO_E_NOT_SENT;
            e->outcome = MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
        }
        forget_reply(e);
        mailproto__err_set(e->err, st, "%s",
                           st == MAILPROTO_E_NOT_SENT
                               ? "connection lost before QUIT was sent: nothing deleted"
                               : "connection lost after QUIT, before its reply: deletions unknown");
        return die(e, st);
    }
    if (e->err->pub.status != status) {
        forget_reply(e);
        mailproto__err_set(e->err, status, "%s", status == MAILPROTO_E_CLOSED
                                                     ? "the server closed the connection"
                                                     : mailproto_strerror(status));
    }
    return die(e, status);
}

static uint64_t deadline_abs(const mailproto__pop3_engine *e)
{
    if (e->dead || e->want_tls)
        return UINT64_MAX;
    uint64_t t = (uint64_t)e->cfg.inactivity_timeout_ms;
    if (e->out_len > e->out_off)
        return e->last_tx + t;
    if (awaiting(e)) {
        uint64_t base = e->last_rx > e->wait_start ? e->last_rx : e->wait_start;
        return base + t;
    }
    return UINT64_MAX;
}

int64_t mailproto__pop3_engine_deadline(const mailproto__pop3_engine *e, uint64_t now)
{
    uint64_t d = deadline_abs(e);
    if (d == UINT64_MAX)
        return -1;
    if (d <= now)
        return 0;
    uint64_t left = d - now;
    return left > INT32_MAX ? INT32_MAX : (int64_t)left;
}

int mailproto__pop3_engine_idle(const mailproto__pop3_engine *e)
{
    return !e->dead && e->state == ST_READY && !e->q_len && e->out_len == e->out_off &&
           !e->ev_done_pending;
}

int mailproto__pop3_engine_in_transaction(const mailproto__pop3_engine *e)
{
    return !e->dead && e->state == ST_READY && !e->quit_queued;
}

int mailproto__pop3_engine_start(mailproto__pop3_engine *e)
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
    return MAILPROTO_OK;
}

static void apply_arms(mailproto__pop3_engine *e, uint64_t now)
{
    if (e->arm_wait)
        e->wait_start = now;
    if (e->arm_rx)
        e->last_rx = now;
    if (e->arm_tx)
        e->last_tx = now;
    e->arm_wait = e->arm_rx = e->arm_tx = 0;
}

/* One line from the input: 1 (line set, CRLF removed), 0 incomplete, or
 * MAILPROTO_E_LIMIT when it is longer than max_line. */
static int take_line(mailproto__pop3_engine *e, const char **line, size_t *len)
{
    const unsigned char *p = e->in + e->in_off;
    size_t avail = e->in_len - e->in_off;
    size_t look = avail < e->cfg.max_line + 2 ? avail : e->cfg.max_line + 2;
    const unsigned char *nl = memchr(p, '\n', look);
    if (!nl)
        return avail > e->cfg.max_line + 1 ? MAILPROTO_E_LIMIT : 0;
    size_t n = (size_t)(nl - p);
    if (n && p[n - 1] == '\r')
        n--;
    if (n > e->cfg.max_line)
        return MAILPROTO_E_LIMIT;
    e->in_off += (size_t)(nl - p) + 1;
    *line = (const char *)p;
    *len = n;
    return 1;
}

/* Process buffered input: an event, MAILPROTO_OK (need more), or an error. */
static int process(mailproto__pop3_engine *e)
{
    for (;;) {
        if (e->dead)
            return e->dead;
        if (e->want_tls)
            return MAILPROTO_OK;
        int rc = produce(e);
        if (rc < 0)
            return rc;
        if (e->state == ST_READY && e->q_sent && e->ml == ML_DATA) {
            if (!data_run(e))
                return MAILPROTO_OK;
            e->ev.count = 0;
            e->ev.size = e->data_bytes;
            int st = e->data_fail ? e->data_fail : MAILPROTO_OK;
            if (st != MAILPROTO_OK) {
                forget_reply(e);
                mailproto__err_set(e->err, st, "%s", st == MAILPROTO_E_CANCELLED
                                                         ? "cancelled by the progress callback"
                                                         : "the sink refused the data");
            }
            return cmd_done(e, st);
        }
        if (!awaiting(e)) {
            if (e->in_len > e->in_off && e->state != ST_CLOSED && e->state != ST_NOAUTH)
                return die_msg(e, MAILPROTO_E_PROTOCOL, "unsolicited bytes from the server");
            return MAILPROTO_OK;
        }
        const char *line;
        size_t len;
        rc = take_line(e, &line, &len);
        if (rc < 0)
            return die_msg(e, MAILPROTO_E_LIMIT, "reply line longer than max_line");
        if (rc == 0)
            return MAILPROTO_OK;
        mailproto__trace_emit(&e->trace, MAILPROTO_TRACE_RECEIVED, MAILPROTO_TRACE_REPLY, line,
                              len);
        if (e->state == ST_READY) {
            rc = e->ml == ML_LINES ? on_list_line(e, line, len) : on_cmd_status(e, line, len);
        } else if (e->ml == ML_LINES) {
            /* CAPA listing */
            if (len == 1 && line[0] == '.') {
                e->pending = 0;
                e->ml = ML_STATUS;
                rc = after_capa(e);
            } else {
                if (++e->capa_lines > e->cfg.max_capa_lines)
                    return die_msg(e, MAILPROTO_E_LIMIT, "CAPA longer than max_capa_lines");
                if (len && line[0] == '.') {
                    line++;
                    len--;
                }
                mailproto__pop3_capa_line(&e->capa, line, len);
                rc = MAILPROTO_OK;
            }
        } else {
            rc = on_session_reply(e, line, len);
        }
        if (rc != MAILPROTO_OK)
            return rc;
    }
}

int mailproto__pop3_engine_next(mailproto__pop3_engine *e, uint64_t now,
                                const mailproto_pop3_event **ev)
{
    *ev = NULL;
    e->now = now;
    apply_arms(e, now);
    if (e->dead)
        return e->dead;
    if (e->ev_done_pending) {
        e->ev_done_pending = 0;
        mailproto_pop3_event keep = e->ev;
        cmd_done(e, MAILPROTO_OK);
        e->ev.size = keep.size;
        e->ev.count = 0;
        *ev = &e->ev;
        return MAILPROTO_EVENT;
    }
    if (e->want_tls) {
        if (e->tls_event && !e->tls_reported) {
            e->tls_reported = 1;
            ev_begin(e, MAILPROTO_POP3_EV_STARTTLS, NULL);
            *ev = &e->ev;
            return MAILPROTO_EVENT;
        }
        return MAILPROTO_AGAIN;
    }
    int rc = process(e);
    if (rc == MAILPROTO_EVENT) {
        *ev = &e->ev;
        return rc;
    }
    if (rc < 0)
        return rc;
    if (e->want_tls)
        return mailproto__pop3_engine_next(e, now, ev);
    if (e->eof) {
        if (e->state == ST_CLOSED) {
            e->dead = MAILPROTO_E_CLOSED;
            return MAILPROTO_OK;
        }
        if (awaiting(e) || e->q_len || e->state != ST_NOAUTH)
            return mailproto__pop3_engine_fail(e, MAILPROTO_E_CLOSED);
    }
    apply_arms(e, now);
    if (deadline_abs(e) <= now) {
        forget_reply(e);
        mailproto__err_set(e->err, MAILPROTO_E_TIMEOUT, "no reply within the inactivity timeout");
        return mailproto__pop3_engine_fail(e, MAILPROTO_E_TIMEOUT);
    }
    if (mailproto__pop3_engine_want(e))
        return MAILPROTO_AGAIN;
    return MAILPROTO_OK;
}
