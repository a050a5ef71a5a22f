/*
 * Scripted SMTP conversations against the sans-I/O engine.
 *
 * A script is a list of steps:
 *   "S:bytes"   the server sends these bytes
 *   "C:bytes"   the client must have sent exactly these bytes next
 *               (checked cumulatively: all output so far == all C: so far)
 *   "SUBMIT"    submit the conversation's envelope and body
 *   "QUIT"      queue QUIT
 *   "TLS"       the caller finished the TLS handshake (tls_done)
 *   "NOTLS"     the caller's connection cannot do TLS (fail UNSUPPORTED)
 *   "EOF"       the server closed the connection
 *   "HOLD"      stop draining the output (the peer stops reading)
 *   "TIME:n"    the clock moves n ms forward
 * Every run is repeated with the server bytes delivered whole, one byte
 * at a time, and split at every position k of every S: step.
 */
#ifndef CONVO_H
#define CONVO_H

#include <stdio.h>

#include "testutil.h"

#include "core/internal.h"
#include "smtp/smtp_int.h"

#define CONVO_OUT_MAX (1u << 16)

typedef struct convo {
    mailproto_smtp_config cfg;
    const char *const *script;
    size_t n_steps;
    const mailproto_envelope *env;
    const char *body;
    size_t body_len;
    int body_unknown_size;  /* the source does not know its size */
    int body_no_rewind;     /* the source cannot rewind */
    const char *events;     /* expected event log */
    int final_rc;           /* the last non-event status */
    int submit_rc;          /* expected submit status */
    int tls_event;          /* engine mode: EV_STARTTLS reported */
    /* results */
    mailproto_smtp_result res;
    mailproto_smtp_rcpt rcpt0;
    char log[4096];
    mailproto__err err;
    test_trace trace;
} convo;

typedef struct convo_run {
    convo *c;
    mailproto__smtp_engine e;
    unsigned char in[8194];
    unsigned char out[4096];
    unsigned char work[4096];
    mailproto_smtp_rcpt rcpt[128];
    char sent[CONVO_OUT_MAX];
    size_t sent_len;
    char expect[CONVO_OUT_MAX];
    size_t expect_len;
    uint64_t now;
    int hold;
    int last_rc;
    size_t logged;
    mailproto_source src;
} convo_run;

static void convo_log(convo_run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t cap = sizeof r->c->log - r->logged;
    int n = vsnprintf(r->c->log + r->logged, cap, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->logged += (size_t)n < cap ? (size_t)n : cap - 1;
}

static int body_read_nosize(void *ctx, void *buf, size_t cap, size_t *got)
{
    mailproto_source *inner = ctx;
    return mailproto_source_read(inner, buf, cap, got);
}

/* Run next() until it wants I/O; record events; drain the output. */
static void convo_pump(convo_run *r)
{
    for (int guard = 0; guard < 100000; guard++) {
        const mailproto_smtp_event *ev;
        int rc = mailproto__smtp_engine_next(&r->e, r->now, &ev);
        if (rc == MAILPROTO_EVENT) {
            switch (ev->type) {
            case MAILPROTO_SMTP_EV_READY:
                convo_log(r, "READY;");
                break;
            case MAILPROTO_SMTP_EV_STARTTLS:
                convo_log(r, "STARTTLS;");
                break;
            case MAILPROTO_SMTP_EV_RCPT:
                convo_log(r, "RCPT %zu %d%s%s;", ev->index, ev->code, ev->enhanced[0] ? " " : "",
                          ev->enhanced);
                break;
            case MAILPROTO_SMTP_EV_SENT:
                convo_log(r, "SENT %s %d;", mailproto_errname(ev->status), ev->code);
                break;
            case MAILPROTO_SMTP_EV_CLOSED:
                convo_log(r, "CLOSED;");
                break;
            default:
                fail_msg("unknown event %d", ev->type);
            }
            continue;
        }
        r->last_rc = rc;
        if (rc < 0) {
            static const char *last;
            (void)last;
        }
        const unsigned char *p;
        size_t n;
        mailproto__smtp_engine_output(&r->e, &p, &n);
        if (n && !r->hold) {
            assert_true(r->sent_len + n <= sizeof r->sent);
            memcpy(r->sent + r->sent_len, p, n);
            r->sent_len += n;
            mailproto__smtp_engine_output_done(&r->e, n);
            continue;
        }
        return;
    }
    fail_msg("engine does not settle");
}

static void convo_feed(convo_run *r, const char *bytes, size_t len)
{
    while (len) {
        unsigned char *p;
        size_t cap;
        mailproto__smtp_engine_input(&r->e, &p, &cap);
        if (cap == 0)
            return; /* the engine takes no more (dead, or waiting for TLS) */
        size_t n = len < cap ? len : cap;
        memcpy(p, bytes, n);
        mailproto__smtp_engine_input_done(&r->e, n);
        bytes += n;
        len -= n;
        convo_pump(r);
    }
}

/* Credentials never reach the trace: the password and tokens, and every
 * line the client sent as part of an AUTH exchange (the initial response
 * and each answer to a 334) are absent from what the trace hook saw. */
static int convo_is_command(const char *l, size_t n)
{
    static const char *const cmds[] = {"AUTH ", "MAIL ", "RCPT ", "DATA", "BDAT ", "RSET", "QUIT",
                                       "EHLO ", "HELO ", "LHLO ", "STARTTLS", "NOOP"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (n >= strlen(cmds[i]) && memcmp(l, cmds[i], strlen(cmds[i])) == 0)
            return 1;
    return 0;
}

static void convo_secret_absent(const test_trace *t, const char *what, const char *p, size_t n)
{
    if (n < 2)
        return; /* "*", "=" and empty answers carry nothing */
    for (size_t i = 0; i + n <= t->len; i++)
        if (memcmp(t->buf + i, p, n) == 0)
            fail_msg("the trace shows %s [%.*s]:\n%s", what, (int)n, p, t->buf);
}

static void convo_check_redaction(const convo *c, const convo_run *r)
{
    const test_trace *t = &c->trace;
    const char *secrets[] = {c->cfg.password, c->cfg.oauth_token, "Fr3shT0ken"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (secrets[i] && strlen(secrets[i]) >= 4)
            convo_secret_absent(t, "a credential", secrets[i], strlen(secrets[i]));
    int in_auth = 0;
    const char *s = r->sent, *end = r->sent + r->sent_len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        size_t len = n && s[n - 1] == '\r' ? n - 1 : n;
        if (len >= 5 && memcmp(s, "AUTH ", 5) == 0) {
            in_auth = 1;
            const char *ir = memchr(s + 5, ' ', len - 5);
            if (ir)
                convo_secret_absent(t, "an AUTH initial response", ir + 1,
                                    (size_t)(s + len - ir - 1));
        } else if (in_auth && !convo_is_command(s, len)) {
            convo_secret_absent(t, "an AUTH answer", s, len);
        } else {
            in_auth = 0;
        }
        s += n + (nl != NULL);
    }
}

/* split: 0 whole; 1 one byte at a time; k > 1: each S: step in two at k. */
static void convo_run_once(convo *c, size_t split)
{
    convo_run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->c = c;
    r->now = 1000000;
    c->log[0] = '\0';
    mailproto__err_clear(&c->err);
    memset(&c->trace, 0, sizeof c->trace);
    mailproto_smtp_config cfg = c->cfg;
    cfg.trace = test_trace_fn;
    cfg.trace_ctx = &c->trace;
    mailproto__smtp_config_defaults(&cfg);
    mailproto__smtp_engine_init(&r->e, &cfg, &c->err, r->in, sizeof r->in, r->out, sizeof r->out,
                                r->work, sizeof r->work, r->rcpt, 100);
    r->e.tls_event = 1;
    mailproto_source_mem(&r->src, c->body ? c->body : "", c->body_len);
    mailproto_source inner = r->src;
    mailproto_source wrapped = {body_read_nosize, NULL, &inner, MAILPROTO_SIZE_UNKNOWN, NULL, 0, 0};
    if (c->body_no_rewind)
        r->src.rewind = NULL;
    mailproto_source *body = c->body_unknown_size ? &wrapped : &r->src;
    assert_int_equal(mailproto__smtp_engine_start(&r->e), MAILPROTO_OK);
    convo_pump(r);
    for (size_t i = 0; i < c->n_steps; i++) {
        const char *s = c->script[i];
        if (strncmp(s, "S:", 2) == 0) {
            size_t len = strlen(s + 2);
            if (split == 1) {
                for (size_t k = 0; k < len; k++)
                    convo_feed(r, s + 2 + k, 1);
            } else if (split > 1 && split < len) {
                convo_feed(r, s + 2, split);
                convo_feed(r, s + 2 + split, len - split);
            } else {
                convo_feed(r, s + 2, len);
            }
        } else if (strncmp(s, "C:", 2) == 0) {
            size_t len = strlen(s + 2);
            memcpy(r->expect + r->expect_len, s + 2, len);
            r->expect_len += len;
            if (r->sent_len != r->expect_len || memcmp(r->sent, r->expect, r->sent_len) != 0)
                fail_msg("step %zu (split %zu) [%s] [%s]: client sent\n[%.*s]\nexpected\n[%.*s]", i, split, c->err.pub.message, c->trace.buf,
                         (int)r->sent_len, r->sent, (int)r->expect_len, r->expect);
        } else if (strcmp(s, "SUBMIT") == 0) {
            int rc = mailproto__smtp_engine_submit(&r->e, c->env, body);
            if (rc != c->submit_rc)
                fail_msg("submit returned %s, expected %s (%s)", mailproto_errname(rc),
                         mailproto_errname(c->submit_rc), c->err.pub.message);
            convo_pump(r);
        } else if (strcmp(s, "QUIT") == 0) {
            assert_int_equal(mailproto__smtp_engine_quit(&r->e), MAILPROTO_OK);
            convo_pump(r);
        } else if (strcmp(s, "TLS") == 0) {
            mailproto__smtp_engine_tls_done(&r->e);
            convo_pump(r);
        } else if (strcmp(s, "NOTLS") == 0) {
            /* the caller's connection cannot switch to TLS */
            mailproto__smtp_engine_fail(&r->e, MAILPROTO_E_UNSUPPORTED);
            convo_pump(r);
        } else if (strcmp(s, "EOF") == 0) {
            mailproto__smtp_engine_input_done(&r->e, 0);
            convo_pump(r);
        } else if (strcmp(s, "HOLD") == 0) {
            r->hold = 1;
        } else if (strncmp(s, "TIME:", 5) == 0) {
            r->now += strtoull(s + 5, NULL, 10);
            convo_pump(r);
        } else {
            fail_msg("bad step %s", s);
        }
    }
    if (r->sent_len != r->expect_len || memcmp(r->sent, r->expect, r->sent_len) != 0)
        fail_msg("end (split %zu): client sent\n[%.*s]\nexpected\n[%.*s]", split, (int)r->sent_len,
                 r->sent, (int)r->expect_len, r->expect);
    if (c->events && strcmp(c->log, c->events) != 0)
        fail_msg("split %zu: events\n[%s]\nexpected\n[%s]", split, c->log, c->events);
    if (r->last_rc != c->final_rc)
        fail_msg("split %zu: final status %s, expected %s (%s)", split, mailproto_errname(r->last_rc),
                 mailproto_errname(c->final_rc), c->err.pub.message);
    convo_check_redaction(c, r);
    c->res = r->e.res;
    c->rcpt0 = r->rcpt[0];
    free(r);
}

/* Whole, byte by byte, and split at every position of every S: step. */
static void convo_check(convo *c)
{
    size_t longest = 0;
    for (size_t i = 0; i < c->n_steps; i++)
        if (strncmp(c->script[i], "S:", 2) == 0 && strlen(c->script[i]) > longest)
            longest = strlen(c->script[i]);
    convo_run_once(c, 1);
    for (size_t k = 2; k < longest; k++)
        convo_run_once(c, k);
    convo_run_once(c, 0);
}

#define CONVO(c, ...)                                                                             \
    do {                                                                                          \
        static const char *const steps_[] = {__VA_ARGS__};                                        \
        (c)->script = steps_;                                                                     \
        (c)->n_steps = sizeof steps_ / sizeof steps_[0];                                          \
        convo_check(c);                                                                           \
    } while (0)

#endif
