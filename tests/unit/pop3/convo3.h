/*
 * Scripted POP3 conversations against the sans-I/O engine.
 *
 * Steps:
 *   "S:bytes"      the server sends these bytes
 *   "C:bytes"      the client must have sent exactly these bytes next
 *                  (cumulative: all output so far == all C: so far)
 *   "CMD:NAME [msg [lines]]"  submit a command (STAT LIST UIDL RETR TOP
 *                  DELE RSET NOOP); RETR/TOP write to the conversation's sink
 *   "QUIT"         queue QUIT
 *   "TLS"          the caller finished the TLS handshake
 *   "EOF"          the server closed the connection
 *   "FAIL:n"       the transport failed with status n (a negative number)
 *   "HOLD"/"FLOW"  stop / resume draining the client's output
 *   "TIME:n"       the clock moves n ms forward
 * Every conversation runs with the server bytes whole, one byte at a time,
 * and each S: step split in two at every position.
 */
#ifndef CONVO3_H
#define CONVO3_H

#include <stdio.h>

#include <mailproto/codec.h>

#include "testutil.h"

#include "core/internal.h"
#include "pop3/pop3_int.h"

typedef struct convo {
    mailproto_pop3_config cfg;
    const char *const *script;
    size_t n_steps;
    const char *events;     /* expected event log (NULL: not checked) */
    const char *body;       /* expected sink bytes (NULL: not checked) */
    int final_rc;           /* the last status of next() */
    int submit_rc;          /* expected status of CMD: steps */
    int whole_only;         /* only the unsplit run (the split changes the meaning) */
    int sink_fail_after;    /* the sink fails once it holds this many bytes (0: never) */
    int outcome;            /* expected outcome (-1: not checked) */
    /* results */
    char log[8192];
    char got[65536];
    size_t got_len;
    mailproto__err err;
    test_trace trace;
    mailproto_pop3_capa_info capa;
} convo;

typedef struct convo_run {
    convo *c;
    mailproto__pop3_engine e;
    unsigned char in[16384];
    unsigned char out[2048];
    unsigned char work[4096];
    char sent[1 << 16];
    size_t sent_len;
    char expect[1 << 16];
    size_t expect_len;
    uint64_t now;
    int hold;
    int last_rc;
    size_t logged;
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

static int convo_sink(void *ctx, const void *data, size_t len)
{
    convo *c = ctx;
    if (c->sink_fail_after < 0 ||
        (c->sink_fail_after > 0 && c->got_len + len > (size_t)c->sink_fail_after))
        return MAILPROTO_E_IO;
    if (len > sizeof c->got - c->got_len)
        fail_msg("sink overflow");
    memcpy(c->got + c->got_len, data, len);
    c->got_len += len;
    return MAILPROTO_OK;
}

static const char *cmd_str(int cmd)
{
    static const char *const n[] = {"?", "STAT", "LIST", "UIDL", "RETR", "TOP",
                                    "DELE", "RSET", "NOOP", "QUIT"};
    return cmd >= 0 && cmd <= 9 ? n[cmd] : "?";
}

static const char *short_err(int rc)
{
    const char *s = mailproto_errname(rc);
    if (strncmp(s, "MAILPROTO_E_", 12) == 0)
        return s + 12;
    return strncmp(s, "MAILPROTO_", 10) == 0 ? s + 10 : s;
}

static void convo_event(convo_run *r, const mailproto_pop3_event *ev)
{
    switch (ev->type) {
    case MAILPROTO_POP3_EV_READY:
        convo_log(r, "READY;");
        break;
    case MAILPROTO_POP3_EV_STARTTLS:
        convo_log(r, "STARTTLS;");
        break;
    case MAILPROTO_POP3_EV_ENTRY:
        if (ev->cmd == MAILPROTO_POP3_UIDL)
            convo_log(r, "ENTRY %lu %.*s;", (unsigned long)ev->msg, (int)ev->uid.len, ev->uid.ptr);
        else
            convo_log(r, "ENTRY %lu %llu;", (unsigned long)ev->msg, (unsigned long long)ev->size);
        break;
    case MAILPROTO_POP3_EV_DONE:
        convo_log(r, "DONE %s %s", cmd_str(ev->cmd), short_err(ev->status));
        if (ev->cmd == MAILPROTO_POP3_STAT)
            convo_log(r, " %lu %llu", (unsigned long)ev->count, (unsigned long long)ev->size);
        if (ev->cmd == MAILPROTO_POP3_RETR || ev->cmd == MAILPROTO_POP3_TOP)
            convo_log(r, " %llu", (unsigned long long)ev->size);
        if (ev->resp_code && ev->resp_code[0])
            convo_log(r, " [%s]", ev->resp_code);
        if (ev->temporary)
            convo_log(r, " temp");
        convo_log(r, ";");
        break;
    case MAILPROTO_POP3_EV_CLOSED:
        convo_log(r, "CLOSED %s %d;", short_err(ev->status), ev->outcome);
        break;
    default:
        fail_msg("unknown event %d", ev->type);
    }
}

static void convo_pump(convo_run *r)
{
    for (int guard = 0; guard < 100000; guard++) {
        const mailproto_pop3_event *ev;
        int rc = mailproto__pop3_engine_next(&r->e, r->now, &ev);
        if (rc == MAILPROTO_EVENT) {
            convo_event(r, ev);
            continue;
        }
        r->last_rc = rc;
        const unsigned char *p;
        size_t n;
        mailproto__pop3_engine_output(&r->e, &p, &n);
        if (n && !r->hold) {
            assert_true(r->sent_len + n <= sizeof r->sent);
            memcpy(r->sent + r->sent_len, p, n);
            r->sent_len += n;
            mailproto__pop3_engine_output_done(&r->e, n);
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
        mailproto__pop3_engine_input(&r->e, &p, &cap);
        if (cap == 0)
            return; /* dead, closed or waiting for TLS: the rest is not read */
        size_t n = len < cap ? len : cap;
        memcpy(p, bytes, n);
        mailproto__pop3_engine_input_done(&r->e, n);
        bytes += n;
        len -= n;
        convo_pump(r);
    }
}

static int cmd_id(const char *s, size_t n)
{
    static const char *const names[] = {"STAT", "LIST", "UIDL", "RETR", "TOP",
                                        "DELE", "RSET", "NOOP"};
    for (int i = 0; i < 8; i++)
        if (strlen(names[i]) == n && memcmp(s, names[i], n) == 0)
            return i + 1;
    return 0;
}

/* No run may put a credential in the trace: not the password (nor
 * "PASS <password>"), not the token, not the SASL PLAIN message in
 * base64.  Checked after every run of every conversation. */
static void convo_no_secret(const convo *c, size_t split)
{
    const mailproto_pop3_config *k = &c->cfg;
    const char *t = c->trace.buf;
    if (k->password && strlen(k->password) >= 4 && strstr(t, k->password))
        fail_msg("split %zu: the password is in the trace", split);
    if (k->password && k->password[0]) {
        char pass[300];
        snprintf(pass, sizeof pass, "PASS %s", k->password);
        if (strstr(t, pass))
            fail_msg("split %zu: PASS in the trace", split);
    }
    if (k->oauth_token && strlen(k->oauth_token) >= 4 && strstr(t, k->oauth_token))
        fail_msg("split %zu: the token is in the trace", split);
    if (k->username && k->password) {
        char raw[600], b64[900];
        size_t az = k->authzid ? strlen(k->authzid) : 0, ul = strlen(k->username),
               pl = strlen(k->password), n = 0;
        if (az + ul + pl + 2 <= sizeof raw) {
            memcpy(raw, k->authzid ? k->authzid : "", az);
            raw[az] = '\0';
            memcpy(raw + az + 1, k->username, ul);
            raw[az + 1 + ul] = '\0';
            memcpy(raw + az + 2 + ul, k->password, pl);
            assert_int_equal(mailproto_base64_encode(raw, az + ul + pl + 2, b64, sizeof b64, &n),
                             MAILPROTO_OK);
            if (strstr(t, b64))
                fail_msg("split %zu: the AUTH PLAIN response is in the trace", split);
        }
    }
}

static void convo_run_once(convo *c, size_t split)
{
    convo_run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->c = c;
    r->now = 1000000;
    c->log[0] = '\0';
    c->got_len = 0;
    mailproto__err_clear(&c->err);
    memset(&c->trace, 0, sizeof c->trace);
    mailproto_pop3_config cfg = c->cfg;
    cfg.trace = test_trace_fn;
    cfg.trace_ctx = &c->trace;
    mailproto__pop3_config_defaults(&cfg);
    size_t in_cap = cfg.in_buf_size < sizeof r->in ? cfg.in_buf_size : sizeof r->in;
    mailproto__pop3_engine_init(&r->e, &cfg, &c->err, r->in, in_cap, r->out, sizeof r->out,
                                r->work, sizeof r->work);
    r->e.tls_event = 1;
    mailproto_sink sink = {convo_sink, c};
    assert_int_equal(mailproto__pop3_engine_start(&r->e), MAILPROTO_OK);
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
                fail_msg("step %zu (split %zu) [%s]: client sent\n[%.*s]\nexpected\n[%.*s]", i,
                         split, c->err.pub.message, (int)r->sent_len, r->sent,
                         (int)r->expect_len, r->expect);
        } else if (strncmp(s, "CMD:", 4) == 0) {
            const char *a = s + 4;
            size_t n = strcspn(a, " ");
            int id = cmd_id(a, n);
            assert_true(id > 0);
            unsigned long msg = 0, lines = 0;
            if (a[n])
                sscanf(a + n, "%lu %lu", &msg, &lines);
            int rc = mailproto__pop3_engine_submit(&r->e, id, (uint32_t)msg, (uint32_t)lines,
                                                   &sink);
            if (rc != c->submit_rc)
                fail_msg("submit %s returned %s, expected %s (%s)", s, mailproto_errname(rc),
                         mailproto_errname(c->submit_rc), c->err.pub.message);
            convo_pump(r);
        } else if (strcmp(s, "QUIT") == 0) {
            assert_int_equal(mailproto__pop3_engine_quit(&r->e), MAILPROTO_OK);
            convo_pump(r);
        } else if (strcmp(s, "TLS") == 0) {
            mailproto__pop3_engine_tls_done(&r->e);
            convo_pump(r);
        } else if (strcmp(s, "EOF") == 0) {
            mailproto__pop3_engine_input_done(&r->e, 0);
            convo_pump(r);
        } else if (strncmp(s, "FAIL:", 5) == 0) {
            /* the transport failed with this status (e.g. "FAIL:-12") */
            r->last_rc = mailproto__pop3_engine_fail(&r->e, atoi(s + 5));
            convo_pump(r);
        } else if (strcmp(s, "HOLD") == 0) {
            r->hold = 1;
        } else if (strcmp(s, "FLOW") == 0) {
            r->hold = 0;
            convo_pump(r);
        } else if (strncmp(s, "TIME:", 5) == 0) {
            r->now += strtoull(s + 5, NULL, 10);
            convo_pump(r);
        } else {
            fail_msg("bad step %s", s);
        }
    }
    if (r->sent_len != r->expect_len || memcmp(r->sent, r->expect, r->sent_len) != 0)
        fail_msg("end (split %zu): client sent\n[%.*s]\nexpected\n[%.*s]", split,
                 (int)r->sent_len, r->sent, (int)r->expect_len, r->expect);
    if (c->events && strcmp(c->log, c->events) != 0)
        fail_msg("split %zu: events\n[%s]\nexpected\n[%s]", split, c->log, c->events);
    if (r->last_rc != c->final_rc)
        fail_msg("split %zu: final status %s, expected %s (%s)", split,
                 mailproto_errname(r->last_rc), mailproto_errname(c->final_rc),
                 c->err.pub.message);
    if (c->body && (c->got_len != strlen(c->body) || memcmp(c->got, c->body, c->got_len) != 0))
        fail_msg("split %zu: sink got\n[%.*s]\nexpected\n[%s]", split, (int)c->got_len, c->got,
                 c->body);
    if (c->outcome >= 0 && r->e.outcome != c->outcome)
        fail_msg("split %zu: outcome %d, expected %d", split, r->e.outcome, c->outcome);
    convo_no_secret(c, split);
    c->capa = r->e.capa;
    free(r);
}

static void convo_check(convo *c)
{
    size_t longest = 0;
    for (size_t i = 0; i < c->n_steps; i++)
        if (strncmp(c->script[i], "S:", 2) == 0 && strlen(c->script[i]) > longest)
            longest = strlen(c->script[i]);
    if (!c->whole_only) {
        convo_run_once(c, 1);
        for (size_t k = 2; k < longest; k++)
            convo_run_once(c, k);
    }
    convo_run_once(c, 0);
}

#define CONVO(c, ...)                                                                              \
    do {                                                                                           \
        static const char *const steps_[] = {__VA_ARGS__};                                         \
        (c)->script = steps_;                                                                      \
        (c)->n_steps = sizeof steps_ / sizeof steps_[0];                                           \
        convo_check(c);                                                                            \
    } while (0)

/* A conversation with defaults: plain text allowed, user/pass set. */
static void convo_init(convo *c)
{
    memset(c, 0, sizeof *c);
    c->outcome = -1;
}

#endif /* CONVO3_H */
