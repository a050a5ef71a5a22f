/*
 * Scripted IMAP conversations against the client handle in engine mode.
 *
 * A script is a list of steps:
 *   "S:bytes"   the server sends these bytes
 *   "C:bytes"   the client must have sent exactly these bytes next
 *               (checked cumulatively: all output so far == all C: so far)
 *   "DO:name"   the test's action callback runs (queues commands, checks state)
 *   "TLS"       the caller finished the TLS handshake (mailproto_imap_tls_ready)
 *   "EOF"       the server closed the connection
 *   "TIME:n"    the clock moves n ms forward
 *   "HOLD"      stop draining the client's output / "FLUSH" resume
 * Each script runs with the server bytes delivered whole, one byte at a
 * time, and split in two at every position k of every S: step.  The
 * event log of every run must equal the expected one.
 *
 * Tags: the random hook returns 0,1,2,3..., so the tag prefix is "ABCD".
 */
#ifndef CLIENT_SCRIPT_H
#define CLIENT_SCRIPT_H

#include <stdio.h>

#include "testutil.h"

#include <mailproto/imap.h>

#define SCRIPT_OUT_MAX (1u << 16)

typedef void (*script_act)(mailproto_imap *h, const char *name, void *ctx);

typedef struct script {
    mailproto_imap_config cfg;
    const char *const *steps;
    size_t n_steps;
    script_act act;
    void *act_ctx;
    const char *expect_log;
    int whole_only;         /* 1: deliver S: steps whole only */
    /* results of the last run */
    char log[8192];
    size_t log_len;
    char body[4096];
    size_t body_len;
    test_trace trace;
    int last_err;
} script;

static int script_random(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)buf)[i] = (unsigned char)i;
    return MAILPROTO_OK;
}

static void slog(script *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t cap = sizeof s->log - s->log_len;
    int n = vsnprintf(s->log + s->log_len, cap, fmt, ap);
    va_end(ap);
    if (n > 0)
        s->log_len += (size_t)n < cap ? (size_t)n : cap - 1;
}

static const char *status_name(int st)
{
    switch (st) {
    case MAILPROTO_IMAP_OK: return "OK";
    case MAILPROTO_IMAP_NO: return "NO";
    case MAILPROTO_IMAP_BAD: return "BAD";
    case MAILPROTO_IMAP_BYE: return "BYE";
    case MAILPROTO_IMAP_PREAUTH: return "PREAUTH";
    default: return "?";
    }
}

/* Log one event (only what the tests look at). */
static void script_event(script *s, const mailproto_imap_event *ev)
{
    switch (ev->type) {
    case MAILPROTO_IMAP_EV_READY: slog(s, "READY;"); break;
    case MAILPROTO_IMAP_EV_STARTTLS: slog(s, "STARTTLS;"); break;
    case MAILPROTO_IMAP_EV_COMPLETED:
        slog(s, "DONE %llu %s%s%s;", (unsigned long long)ev->number, status_name(ev->status),
             ev->name.len ? " " : "", ev->name.len ? ev->name.ptr : "");
        break;
    case MAILPROTO_IMAP_EV_IDLING: slog(s, "IDLING %llu;", (unsigned long long)ev->number); break;
    case MAILPROTO_IMAP_EV_ALERT: slog(s, "ALERT %.*s;", (int)ev->data.len, ev->data.ptr); break;
    case MAILPROTO_IMAP_EV_CLOSED: slog(s, "CLOSED %.*s;", (int)ev->data.len, ev->data.ptr); break;
    case MAILPROTO_IMAP_EV_EXISTS: slog(s, "EXISTS %llu;", (unsigned long long)ev->number); break;
    case MAILPROTO_IMAP_EV_EXPUNGE: slog(s, "EXPUNGE %llu;", (unsigned long long)ev->number); break;
    case MAILPROTO_IMAP_EV_FETCH: slog(s, "FETCH %u;", (unsigned)ev->seq); break;
    case MAILPROTO_IMAP_EV_VANISHED: slog(s, "VANISHED;"); break;
    case MAILPROTO_IMAP_EV_LITERAL_BEGIN: slog(s, "LIT %llu;", (unsigned long long)ev->number); break;
    case MAILPROTO_IMAP_EV_LITERAL_CHUNK:
        if (ev->data.len <= sizeof s->body - s->body_len) {
            memcpy(s->body + s->body_len, ev->data.ptr, ev->data.len);
            s->body_len += ev->data.len;
        }
        break;
    case MAILPROTO_IMAP_EV_STATUS:
        if (ev->status == MAILPROTO_IMAP_BYE)
            slog(s, "BYE;");
        break;
    default: break;
    }
}

typedef struct script_run {
    script *s;
    mailproto_imap *h;
    char sent[SCRIPT_OUT_MAX];
    size_t sent_len;
    char expect[SCRIPT_OUT_MAX];
    size_t expect_len;
    uint64_t now;
    int hold;
    int last_rc;
} script_run;

static uint64_t script_clock(void *ctx) { return ((script_run *)ctx)->now; }

static void run_pump(script_run *r)
{
    for (int guard = 0; guard < 200000; guard++) {
        const mailproto_imap_event *ev;
        int rc = mailproto_imap_next(r->h, r->now, &ev);
        if (rc == MAILPROTO_EVENT) {
            script_event(r->s, ev);
            continue;
        }
        if (rc < 0 && rc != r->last_rc) {
            slog(r->s, "ERR %s;", mailproto_errname(rc));
            r->s->last_err = rc;
        }
        r->last_rc = rc;
        if (r->hold)
            return;
        const unsigned char *p;
        size_t n = 0;
        if (mailproto_imap_output_buf(r->h, &p, &n) != MAILPROTO_OK || n == 0)
            return;
        assert_true(r->sent_len + n <= sizeof r->sent);
        memcpy(r->sent + r->sent_len, p, n);
        r->sent_len += n;
        assert_int_equal(mailproto_imap_output_done(r->h, n), MAILPROTO_OK);
    }
    fail_msg("pump does not settle");
}

static void run_feed(script_run *r, const char *p, size_t n)
{
    while (n) {
        unsigned char *b;
        size_t cap = 0;
        if (mailproto_imap_input_buf(r->h, &b, &cap) != MAILPROTO_OK || cap == 0) {
            run_pump(r);
            if (mailproto_imap_input_buf(r->h, &b, &cap) != MAILPROTO_OK || cap == 0)
                return; /* the engine takes no more (dead, or TLS pending) */
        }
        size_t k = n < cap ? n : cap;
        memcpy(b, p, k);
        assert_int_equal(mailproto_imap_input_done(r->h, k), MAILPROTO_OK);
        p += k;
        n -= k;
        run_pump(r);
    }
}

/* mode: 0 whole, 1 byte by byte, 2 split at position k */
static void script_run_once(script *s, int mode, size_t k)
{
    static script_run r_;
    script_run *r = &r_;
    memset(r, 0, sizeof *r);
    r->s = s;
    s->log_len = 0;
    s->log[0] = '\0';
    s->body_len = 0;
    s->last_err = 0;
    memset(&s->trace, 0, sizeof s->trace);
    mailproto_imap_config cfg = s->cfg;
    cfg.random = script_random;
    cfg.trace = test_trace_fn;
    cfg.trace_ctx = &s->trace;
    cfg.clock = script_clock;
    cfg.clock_ctx = r;
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    assert_int_equal(mailproto_imap_new(&r->h, &cfg, &mem), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_start(r->h), MAILPROTO_OK);
    size_t allocs = ta.count;
    run_pump(r);
    for (size_t i = 0; i < s->n_steps; i++) {
        const char *st = s->steps[i];
        if (!strncmp(st, "S:", 2)) {
            const char *p = st + 2;
            size_t n = strlen(p);
            if (mode == 0 || s->whole_only) {
                run_feed(r, p, n);
            } else if (mode == 1) {
                for (size_t j = 0; j < n; j++)
                    run_feed(r, p + j, 1);
            } else {
                size_t cut = k < n ? k : n;
                run_feed(r, p, cut);
                run_feed(r, p + cut, n - cut);
            }
        } else if (!strncmp(st, "C:", 2)) {
            size_t n = strlen(st + 2);
            memcpy(r->expect + r->expect_len, st + 2, n);
            r->expect_len += n;
            if (r->sent_len != r->expect_len || memcmp(r->sent, r->expect, r->sent_len) != 0)
                fail_msg("step %zu (mode %d k %zu): client sent\n[%.*s]\nexpected\n[%.*s]\nlog: %s", i, mode, k,
                         (int)r->sent_len, r->sent, (int)r->expect_len, r->expect, s->log);
        } else if (!strncmp(st, "DO:", 3)) {
            s->act(r->h, st + 3, s->act_ctx);
            run_pump(r);
        } else if (!strcmp(st, "TLS")) {
            assert_int_equal(mailproto_imap_tls_ready(r->h), MAILPROTO_OK);
            run_pump(r);
        } else if (!strcmp(st, "EOF")) {
            assert_int_equal(mailproto_imap_input_done(r->h, 0), MAILPROTO_OK);
            run_pump(r);
        } else if (!strncmp(st, "TIME:", 5)) {
            r->now += (uint64_t)strtoull(st + 5, NULL, 10);
            run_pump(r);
        } else if (!strcmp(st, "HOLD")) {
            r->hold = 1;
        } else if (!strcmp(st, "FLUSH")) {
            r->hold = 0;
            run_pump(r);
        } else {
            fail_msg("bad step %s", st);
        }
    }
    /* whatever the client still wants to send must have been expected */
    if (r->sent_len != r->expect_len || memcmp(r->sent, r->expect, r->sent_len) != 0)
        fail_msg("at the end (mode %d k %zu): client sent\n[%.*s]\nexpected\n[%.*s]", mode, k, (int)r->sent_len,
                 r->sent, (int)r->expect_len, r->expect);
    if (s->expect_log && strcmp(s->log, s->expect_log) != 0)
        fail_msg("mode %d k %zu: log\n%s\nexpected\n%s", mode, k, s->log, s->expect_log);
    /* nothing is allocated after the handle was made */
    assert_int_equal(ta.count, allocs);
    mailproto_imap_free(r->h);
    assert_int_equal(ta.live, 0);
    assert_int_equal(ta.size_errors, 0);
}

/* Whole, byte by byte, then split at every position of every S: step. */
static void script_run_all(script *s)
{
    size_t maxlen = 0;
    for (size_t i = 0; i < s->n_steps; i++)
        if (!strncmp(s->steps[i], "S:", 2) && strlen(s->steps[i]) - 2 > maxlen)
            maxlen = strlen(s->steps[i]) - 2;
    script_run_once(s, 0, 0);
    if (s->whole_only)
        return;
    script_run_once(s, 1, 0);
    for (size_t k = 1; k < maxlen; k++)
        script_run_once(s, 2, k);
    script_run_once(s, 0, 0); /* leave the whole-delivery results in s */
}

#define SET_STEPS(s, ...)                                                                        \
    do {                                                                                         \
        static const char *const steps_[] = {__VA_ARGS__};                                       \
        (s).steps = steps_;                                                                      \
        (s).n_steps = sizeof steps_ / sizeof steps_[0];                                          \
    } while (0)

#endif /* CLIENT_SCRIPT_H */
