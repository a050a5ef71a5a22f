/* The mailproto_pop3 handle over a scripted server behind mailproto_io
 * callbacks: blocking (every command, STLS through the transport, QUIT
 * outcomes), non-blocking (a poll loop with pipelined commands), engine
 * mode through the public calls, the UIDL sync helper over several passes,
 * a 1 GiB RETR in constant memory, argument checks and NULL safety. */
#include <stdio.h>
#include <time.h>

#include "testutil.h"

#include <mailproto/pop3.h>
#include <mailproto/transport.h>

/* ---- a reactive scripted server ----
 * steps: "S:bytes", "C:bytes" (the client must send exactly these), "TLS"
 * (start_tls must come now), "EOF" (the server closes), "BIG" (a RETR
 * reply of big_lines generated lines, sent as it is read). */
typedef struct server {
    const char *const *steps;
    size_t n, idx, off;
    size_t chunk;
    int again_every;
    int sends, recvs;
    int secure;
    int mismatch;
    char got[1024];
    size_t got_len;
    uint64_t clock;
    /* BIG */
    uint64_t big_lines, big_line;
    int big_phase;          /* 0 "+OK", 1 lines, 2 terminator, 3 done */
    char pend[128];
    size_t pend_len, pend_off;
} server;

static const char *step(const server *s) { return s->idx < s->n ? s->steps[s->idx] : ""; }

static void advance_matches(server *s)
{
    for (;;) {
        const char *st = step(s);
        if (strncmp(st, "C:", 2) != 0)
            return;
        size_t need = strlen(st + 2);
        size_t m = s->got_len < need ? s->got_len : need;
        if (memcmp(s->got, st + 2, m) != 0) {
            fprintf(stderr, "client sent [%.*s], expected [%s]\n", (int)s->got_len, s->got, st + 2);
            s->mismatch = 1;
            s->got_len = 0;
            return;
        }
        if (m < need)
            return;
        memmove(s->got, s->got + need, s->got_len - need);
        s->got_len -= need;
        s->idx++;
    }
}

static int srv_send(void *user, const void *buf, size_t len, size_t *done)
{
    server *s = user;
    *done = 0;
    if (s->again_every && ++s->sends % s->again_every == 0)
        return MAILPROTO_AGAIN;
    if (strcmp(step(s), "EOF") == 0)
        return MAILPROTO_E_CLOSED;
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        if (s->got_len == sizeof s->got) {
            s->mismatch = 1;
            break;
        }
        s->got[s->got_len++] = (char)p[i];
        advance_matches(s);
    }
    *done = len;
    return MAILPROTO_OK;
}

/* Line i of the big message: on the wire (stuffed) or as delivered. */
static size_t big_line(uint64_t i, int wire, char *out)
{
    size_t o = 0;
    if (i % 10 == 0) {
        out[o++] = '.';
        if (wire)
            out[o++] = '.';
    }
    memset(out + o, 'a' + (int)(i % 26), 76);
    o += 76;
    out[o++] = '\r';
    out[o++] = '\n';
    return o;
}

static size_t big_fill(server *s, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap && s->big_phase < 3) {
        if (s->pend_off == s->pend_len) {
            s->pend_off = 0;
            if (s->big_phase == 0) {
                memcpy(s->pend, "+OK big\r\n", 9);
                s->pend_len = 9;
                s->big_phase = 1;
            } else if (s->big_phase == 1 && s->big_line < s->big_lines) {
                s->pend_len = big_line(s->big_line++, 1, s->pend);
            } else if (s->big_phase == 1) {
                memcpy(s->pend, ".\r\n", 3);
                s->pend_len = 3;
                s->big_phase = 2;
            } else {
                s->big_phase = 3;
                s->pend_len = 0;
                break;
            }
        }
        size_t k = s->pend_len - s->pend_off;
        if (k > cap - n)
            k = cap - n;
        memcpy(buf + n, s->pend + s->pend_off, k);
        s->pend_off += k;
        n += k;
    }
    if (s->big_phase == 3 || (s->big_phase == 2 && s->pend_off == s->pend_len)) {
        s->big_phase = 0;
        s->pend_len = s->pend_off = 0;
        s->idx++;
    }
    return n;
}

static int srv_recv(void *user, void *buf, size_t cap, size_t *done)
{
    server *s = user;
    *done = 0;
    if (s->again_every && ++s->recvs % s->again_every == 0)
        return MAILPROTO_AGAIN;
    const char *st = step(s);
    if (strcmp(st, "EOF") == 0)
        return MAILPROTO_OK;
    if (strcmp(st, "BIG") == 0) {
        *done = big_fill(s, buf, cap);
        return MAILPROTO_OK;
    }
    if (strncmp(st, "S:", 2) != 0)
        return MAILPROTO_AGAIN;
    size_t len = strlen(st + 2) - s->off;
    size_t n = len < cap ? len : cap;
    if (s->chunk && n > s->chunk)
        n = s->chunk;
    memcpy(buf, st + 2 + s->off, n);
    s->off += n;
    if (s->off == strlen(st + 2)) {
        s->off = 0;
        s->idx++;
    }
    *done = n;
    return MAILPROTO_OK;
}

static int srv_start_tls(void *user, const char *host)
{
    server *s = user;
    (void)host;
    if (strcmp(step(s), "TLS") != 0) {
        s->mismatch = 1;
        return MAILPROTO_E_TLS;
    }
    s->idx++;
    s->secure = 1;
    return MAILPROTO_OK;
}

static int srv_is_secure(void *user) { return ((server *)user)->secure; }

static int srv_wait(void *user, int interest, int timeout_ms)
{
    server *s = user;
    const char *st = step(s);
    int can = (interest & MAILPROTO_IO_WRITE) || strncmp(st, "S:", 2) == 0 ||
              strcmp(st, "EOF") == 0 || strcmp(st, "BIG") == 0 || s->again_every;
    if (can)
        return MAILPROTO_OK;
    s->clock += timeout_ms < 0 ? 1000000 : (uint64_t)timeout_ms;
    return MAILPROTO_E_TIMEOUT;
}

static uint64_t srv_clock(void *ctx) { return ((server *)ctx)->clock; }

static mailproto_io srv_io(server *s)
{
    mailproto_io io;
    memset(&io, 0, sizeof io);
    io.version = MAILPROTO_IO_VERSION;
    io.user = s;
    io.send = srv_send;
    io.recv = srv_recv;
    io.start_tls = srv_start_tls;
    io.is_secure = srv_is_secure;
    io.wait = srv_wait;
    return io;
}

static mailproto_pop3_config base_cfg(server *s, const mailproto_io *io)
{
    mailproto_pop3_config c;
    memset(&c, 0, sizeof c);
    c.host = "pop.example.test";
    c.io = io;
    c.clock = srv_clock;
    c.clock_ctx = s;
    c.username = "alice";
    c.password = "pw";
    return c;
}

#define STEPS(s, ...)                                                                              \
    do {                                                                                           \
        static const char *const st_[] = {__VA_ARGS__};                                            \
        (s)->steps = st_;                                                                          \
        (s)->n = sizeof st_ / sizeof st_[0];                                                       \
    } while (0)

#define STLS_LOGIN                                                                                 \
    "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSTLS\r\nUSER\r\n.\r\n", "C:STLS\r\n",             \
        "S:+OK go\r\n", "TLS", "C:CAPA\r\n",                                                     \
        "S:+OK\r\nUSER\r\nTOP\r\nUIDL\r\nIMPLEMENTATION test\r\n.\r\n", "C:USER alice\r\n",       \
        "S:+OK\r\n", "C:PASS pw\r\n", "S:+OK\r\n"

typedef struct membuf {
    char buf[4096];
    size_t len;
} membuf;

static int mem_write(void *ctx, const void *data, size_t len)
{
    membuf *m = ctx;
    if (len > sizeof m->buf - m->len)
        return MAILPROTO_E_LIMIT;
    memcpy(m->buf + m->len, data, len);
    m->len += len;
    return MAILPROTO_OK;
}

typedef struct entries {
    char log[1024];
    size_t len;
    int stop_at;
    int seen;
} entries;

static int entry_fn(void *ctx, const mailproto_pop3_event *ev)
{
    entries *e = ctx;
    int n;
    if (ev->cmd == MAILPROTO_POP3_UIDL)
        n = snprintf(e->log + e->len, sizeof e->log - e->len, "%lu:%.*s;", (unsigned long)ev->msg,
                     (int)ev->uid.len, ev->uid.ptr);
    else
        n = snprintf(e->log + e->len, sizeof e->log - e->len, "%lu:%llu;", (unsigned long)ev->msg,
                     (unsigned long long)ev->size);
    if (n > 0)
        e->len += (size_t)n;
    return ++e->seen == e->stop_at;
}

static void blocking_session(void **state)
{
    (void)state;
    for (size_t chunk = 0; chunk < 4; chunk++) {
        server s;
        memset(&s, 0, sizeof s);
        s.chunk = chunk;
        s.again_every = chunk == 3 ? 3 : 0;
        STEPS(&s, STLS_LOGIN, "C:STAT\r\n", "S:+OK 2 300\r\n", "C:LIST\r\n",
              "S:+OK\r\n1 100\r\n2 200\r\n.\r\n", "C:UIDL 2\r\n", "S:+OK 2 u-two\r\n",
              "C:RETR 1\r\n", "S:+OK\r\nSubject: x\r\n\r\n..dot\r\n.\r\n", "C:TOP 2 0\r\n",
              "S:+OK\r\nSubject: y\r\n.\r\n", "C:DELE 1\r\n", "S:+OK\r\n", "C:NOOP\r\n",
              "S:+OK\r\n", "C:RSET\r\n", "S:+OK\r\n", "C:DELE 2\r\n", "S:-ERR [IN-USE] no\r\n",
              "C:LIST\r\n", "S:+OK\r\n1 100\r\n2 200\r\n.\r\n", "C:QUIT\r\n", "S:+OK bye\r\n");
        mailproto_io io = srv_io(&s);
        mailproto_pop3_config cfg = base_cfg(&s, &io);
        test_trace tr;
        memset(&tr, 0, sizeof tr);
        cfg.trace = test_trace_fn;
        cfg.trace_ctx = &tr;
        test_alloc ta;
        mailproto_mem mem = test_mem(&ta);
        mailproto_pop3 *h = NULL;
        assert_int_equal(mailproto_pop3_new(&h, &cfg, &mem), MAILPROTO_OK);
        assert_int_equal(ta.live, mailproto_pop3_memory_needed(&cfg));
        assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
        size_t allocs = ta.count;
        assert_true(mailproto_pop3_is_secure(h));
        assert_false(mailproto_pop3_caps(h) & MAILPROTO_POP3_CAP_STLS); /* forgotten */
        mailproto_pop3_capa_info ci;
        assert_int_equal(mailproto_pop3_capa(h, &ci), MAILPROTO_OK);
        assert_string_equal(ci.implementation, "test");
        uint32_t count = 0;
        uint64_t size = 0;
        assert_int_equal(mailproto_pop3_stat(h, &count, &size), MAILPROTO_OK);
        assert_int_equal(count, 2);
        assert_int_equal(size, 300);
        entries en;
        memset(&en, 0, sizeof en);
        assert_int_equal(mailproto_pop3_list(h, 0, entry_fn, &en), MAILPROTO_OK);
        assert_int_equal(mailproto_pop3_uidl(h, 2, entry_fn, &en), MAILPROTO_OK);
        assert_string_equal(en.log, "1:100;2:200;2:u-two;");
        membuf mb;
        memset(&mb, 0, sizeof mb);
        mailproto_sink sink = {mem_write, &mb};
        uint64_t w = 0;
        assert_int_equal(mailproto_pop3_retr(h, 1, &sink, &w), MAILPROTO_OK);
        assert_int_equal(w, 20);
        assert_int_equal(mailproto_pop3_top(h, 2, 0, &sink, &w), MAILPROTO_OK);
        assert_int_equal(w, 12);
        assert_int_equal(mb.len, 32);
        assert_memory_equal(mb.buf, "Subject: x\r\n\r\n.dot\r\nSubject: y\r\n", 32);
        assert_int_equal(mailproto_pop3_dele(h, 1), MAILPROTO_OK);
        assert_int_equal(mailproto_pop3_noop(h), MAILPROTO_OK);
        assert_int_equal(mailproto_pop3_rset(h), MAILPROTO_OK);
        assert_int_equal(mailproto_pop3_dele(h, 2), MAILPROTO_E_REJECTED);
        const mailproto_reply *r = mailproto_pop3_last_reply(h);
        assert_string_equal(r->resp_code, "IN-USE");
        assert_int_equal(r->temporary, 1);
        /* a callback that stops: the listing is still read to its end */
        memset(&en, 0, sizeof en);
        en.stop_at = 1;
        assert_int_equal(mailproto_pop3_list(h, 0, entry_fn, &en), MAILPROTO_E_CALLBACK);
        assert_int_equal(en.seen, 1);
        assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_OK);
        assert_int_equal(mailproto_pop3_outcome(h), MAILPROTO_POP3_OUTCOME_COMMITTED);
        assert_int_equal(ta.count, allocs); /* nothing allocated per command */
        assert_null(strstr(tr.buf, "PASS pw"));
        assert_false(s.mismatch);
        assert_int_equal(s.idx, s.n);
        mailproto_pop3_free(h);
        assert_int_equal(ta.live, 0);
        assert_int_equal(ta.size_errors, 0);
    }
}

static void blocking_tls_required(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    STEPS(&s, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n");
    mailproto_io io = srv_io(&s);
    mailproto_pop3_config cfg = base_cfg(&s, &io);
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_E_TLS_REQUIRED);
    assert_int_equal(mailproto_pop3_last_reply(h)->status, MAILPROTO_E_TLS_REQUIRED);
    assert_int_equal(mailproto_pop3_stat(h, NULL, NULL), MAILPROTO_E_STATE);
    assert_false(s.mismatch);
    mailproto_pop3_free(h);
}

static void blocking_auth_failure(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    STEPS(&s, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n", "C:USER alice\r\n",
          "S:+OK\r\n", "C:PASS pw\r\n", "S:-ERR [LOGIN-DELAY] too soon\r\n", "C:QUIT\r\n",
          "S:+OK\r\n");
    mailproto_io io = srv_io(&s);
    mailproto_pop3_config cfg = base_cfg(&s, &io);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.allow_plaintext_auth = 1;
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_E_AUTH);
    const mailproto_reply *r = mailproto_pop3_last_reply(h);
    assert_int_equal(r->temporary, 1);
    assert_string_equal(r->resp_code, "LOGIN-DELAY");
    assert_string_equal(r->text, "too soon");
    assert_int_equal(mailproto_pop3_stat(h, NULL, NULL), MAILPROTO_E_STATE);
    assert_non_null(strstr(mailproto_pop3_last_reply(h)->message, "TRANSACTION"));
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_OK);
    assert_int_equal(s.idx, s.n);
    mailproto_pop3_free(h);
}

static void quit_outcomes(void **state)
{
    (void)state;
    /* lost after QUIT went out */
    server s;
    memset(&s, 0, sizeof s);
    STEPS(&s, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n", "C:USER alice\r\n",
          "S:+OK\r\n", "C:PASS pw\r\n", "S:+OK\r\n", "C:DELE 1\r\n", "S:+OK\r\n", "C:QUIT\r\n",
          "EOF");
    mailproto_io io = srv_io(&s);
    mailproto_pop3_config cfg = base_cfg(&s, &io);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.allow_plaintext_auth = 1;
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_dele(h, 1), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_E_OUTCOME_UNKNOWN);
    assert_int_equal(mailproto_pop3_outcome(h), MAILPROTO_POP3_OUTCOME_UNKNOWN);
    mailproto_pop3_free(h);
    /* -ERR to QUIT */
    memset(&s, 0, sizeof s);
    STEPS(&s, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n", "C:USER alice\r\n",
          "S:+OK\r\n", "C:PASS pw\r\n", "S:+OK\r\n", "C:QUIT\r\n", "S:-ERR not removed\r\n");
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_E_REJECTED);
    assert_int_equal(mailproto_pop3_outcome(h), MAILPROTO_POP3_OUTCOME_NOT_COMMITTED);
    mailproto_pop3_free(h);
    /* the connection drops in TRANSACTION, then QUIT: not sent, not committed */
    memset(&s, 0, sizeof s);
    STEPS(&s, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n", "C:USER alice\r\n",
          "S:+OK\r\n", "C:PASS pw\r\n", "S:+OK\r\n", "C:DELE 1\r\n", "EOF");
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_dele(h, 1), MAILPROTO_E_CLOSED);
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_E_NOT_SENT);
    assert_int_equal(mailproto_pop3_last_reply(h)->status, MAILPROTO_E_NOT_SENT);
    assert_non_null(strstr(mailproto_pop3_last_reply(h)->message, "closed"));
    assert_int_equal(mailproto_pop3_outcome(h), MAILPROTO_POP3_OUTCOME_NOT_COMMITTED);
    mailproto_pop3_free(h);
    /* free without QUIT: nothing is sent, nothing committed */
    memset(&s, 0, sizeof s);
    STEPS(&s, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n", "C:USER alice\r\n",
          "S:+OK\r\n", "C:PASS pw\r\n", "S:+OK\r\n");
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
    mailproto_pop3_free(h);
    assert_int_equal(s.got_len, 0);
}

/* ---- non-blocking: pipelined commands from one poll loop ---- */

static void nonblocking_pipelined(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    s.again_every = 2;
    STEPS(&s, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\nPIPELINING\r\n.\r\n",
          "C:USER alice\r\n", "S:+OK\r\n", "C:PASS pw\r\n", "S:+OK\r\n",
          "C:RETR 1\r\nRETR 2\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n",
          "S:+OK\r\nm1\r\n.\r\n+OK\r\nm2\r\n.\r\n+OK\r\n+OK\r\n+OK\r\n");
    mailproto_io io = srv_io(&s);
    io.wait = NULL;
    mailproto_pop3_config cfg = base_cfg(&s, &io);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.allow_plaintext_auth = 1;
    cfg.nonblocking = 1;
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_AGAIN);
    membuf mb;
    memset(&mb, 0, sizeof mb);
    mailproto_sink sink = {mem_write, &mb};
    char log[512] = "";
    size_t ll = 0;
    int closed = 0;
    for (int i = 0; i < 1000 && !closed; i++) {
        const mailproto_pop3_event *ev;
        int rc = mailproto_pop3_poll(h, 5, &ev);
        if (rc == MAILPROTO_AGAIN) {
            assert_true(mailproto_pop3_io_interest(h) != 0);
            assert_true(mailproto_pop3_timeout_ms(h, 5) > 0);
            continue;
        }
        assert_int_equal(rc, MAILPROTO_EVENT);
        ll += (size_t)snprintf(log + ll, sizeof log - ll, "%d/%d/%d;", ev->type, ev->cmd,
                               ev->status);
        if (ev->type == MAILPROTO_POP3_EV_READY) {
            assert_int_equal(mailproto_pop3_submit(h, MAILPROTO_POP3_RETR, 1, 0, &sink),
                             MAILPROTO_OK);
            assert_int_equal(mailproto_pop3_submit(h, MAILPROTO_POP3_RETR, 2, 0, &sink),
                             MAILPROTO_OK);
            assert_int_equal(mailproto_pop3_submit(h, MAILPROTO_POP3_DELE, 1, 0, NULL),
                             MAILPROTO_OK);
            assert_int_equal(mailproto_pop3_submit(h, MAILPROTO_POP3_DELE, 2, 0, NULL),
                             MAILPROTO_OK);
            assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_OK);
        }
        if (ev->type == MAILPROTO_POP3_EV_CLOSED)
            closed = 1;
    }
    assert_true(closed);
    assert_string_equal(log, "1/0/0;4/4/0;4/4/0;4/6/0;4/6/0;5/9/0;");
    assert_int_equal(mb.len, 8);
    assert_memory_equal(mb.buf, "m1\r\nm2\r\n", 8);
    assert_int_equal(mailproto_pop3_outcome(h), MAILPROTO_POP3_OUTCOME_COMMITTED);
    assert_false(s.mismatch);
    mailproto_pop3_free(h);
}

/* ---- engine mode through the public calls ---- */

static void feed(mailproto_pop3 *h, const char *s)
{
    unsigned char *p;
    size_t cap;
    assert_int_equal(mailproto_pop3_input_buf(h, &p, &cap), MAILPROTO_OK);
    assert_true(cap >= strlen(s));
    memcpy(p, s, strlen(s));
    assert_int_equal(mailproto_pop3_input_done(h, strlen(s)), MAILPROTO_OK);
}

static void expect_out(mailproto_pop3 *h, const char *s)
{
    const unsigned char *p;
    size_t len;
    assert_int_equal(mailproto_pop3_output_buf(h, &p, &len), MAILPROTO_OK);
    assert_int_equal(len, strlen(s));
    assert_memory_equal(p, s, len);
    assert_int_equal(mailproto_pop3_output_done(h, len), MAILPROTO_OK);
}

static void engine_mode(void **state)
{
    (void)state;
    mailproto_pop3_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.port = 995;
    cfg.username = "alice";
    cfg.password = "pw";
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_start(h), MAILPROTO_OK);
    const mailproto_pop3_event *ev;
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_EVENT);
    assert_int_equal(ev->type, MAILPROTO_POP3_EV_STARTTLS);
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_AGAIN);
    assert_int_equal(mailproto_pop3_tls_ready(h), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_tls_ready(h), MAILPROTO_E_STATE);
    assert_true(mailproto_pop3_is_secure(h));
    feed(h, "+OK hi\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_AGAIN);
    expect_out(h, "CAPA\r\n");
    feed(h, "+OK\r\nSASL PLAIN\r\nUIDL\r\n.\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_AGAIN);
    expect_out(h, "AUTH PLAIN AGFsaWNlAHB3\r\n");
    feed(h, "+OK\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_EVENT);
    assert_int_equal(ev->type, MAILPROTO_POP3_EV_READY);
    assert_int_equal(mailproto_pop3_submit(h, MAILPROTO_POP3_UIDL, 0, 0, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_AGAIN);
    expect_out(h, "UIDL\r\n");
    assert_int_equal(mailproto_pop3_timeout_ms(h, 1000), 59000);
    feed(h, "+OK\r\n1 abc\r\n.\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_EVENT);
    assert_int_equal(ev->type, MAILPROTO_POP3_EV_ENTRY);
    assert_int_equal(ev->uid.len, 3);
    assert_memory_equal(ev->uid.ptr, "abc", 3);
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_EVENT);
    assert_int_equal(ev->type, MAILPROTO_POP3_EV_DONE);
    assert_int_equal(ev->count, 1);
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_timeout_ms(h, 0), -1);
    /* the wrong mode */
    assert_int_equal(mailproto_pop3_poll(h, 0, &ev), MAILPROTO_E_STATE);
    assert_int_equal(mailproto_pop3_stat(h, NULL, NULL), MAILPROTO_E_STATE);
    mailproto_pop3_free(h);
}

/* ---- the sync helper ---- */

typedef struct syncer {
    const char *known[8];
    int64_t at[8];
    membuf box;
    char log[512];
    size_t ll;
} syncer;

static int s_known(void *ctx, const char *uid, int64_t *at)
{
    syncer *y = ctx;
    for (int i = 0; i < 8 && y->known[i]; i++)
        if (strcmp(uid, y->known[i]) == 0) {
            *at = y->at[i];
            return 1;
        }
    return 0;
}

static int s_open(void *ctx, uint32_t msg, const char *uid, mailproto_sink *sink)
{
    syncer *y = ctx;
    y->ll += (size_t)snprintf(y->log + y->ll, sizeof y->log - y->ll, "open %lu %s;",
                              (unsigned long)msg, uid);
    sink->write = mem_write;
    sink->ctx = &y->box;
    return 0;
}

static int s_done(void *ctx, uint32_t msg, const char *uid, int status)
{
    syncer *y = ctx;
    y->ll += (size_t)snprintf(y->log + y->ll, sizeof y->log - y->ll, "done %lu %s %d;",
                              (unsigned long)msg, uid, status);
    return 0;
}

static void sync_helper(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    STEPS(&s, STLS_LOGIN, "C:UIDL\r\n", "S:+OK\r\n1 u1\r\n2 u2\r\n3 u3\r\n4 u4\r\n5 u5\r\n.\r\n",
          "C:DELE 1\r\n", "S:+OK\r\n", "C:RETR 2\r\n", "S:+OK\r\ntwo\r\n.\r\n", "C:DELE 2\r\n",
          "S:+OK\r\n", "C:UIDL\r\n", "S:+OK\r\n3 u3\r\n4 u4\r\n5 u5\r\n.\r\n", "C:RETR 4\r\n",
          "S:-ERR [SYS/TEMP] busy\r\n", "C:RETR 5\r\n", "S:+OK\r\nfive\r\n.\r\n", "C:DELE 5\r\n",
          "S:+OK\r\n", "C:QUIT\r\n", "S:+OK\r\n");
    mailproto_io io = srv_io(&s);
    mailproto_pop3_config cfg = base_cfg(&s, &io);
    cfg.sync_batch = 2;
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
    syncer y;
    memset(&y, 0, sizeof y);
    y.known[0] = "u1";
    y.at[0] = 1000000 - 8 * 86400; /* 8 days old */
    y.known[1] = "u3";
    y.at[1] = 1000000 - 86400;
    mailproto_pop3_sync_config sc;
    memset(&sc, 0, sizeof sc);
    sc.ctx = &y;
    sc.known = s_known;
    sc.open = s_open;
    sc.done = s_done;
    sc.delete_after_fetch = 1;
    sc.delete_after_days = 7;
    sc.now_s = 1000000;
    mailproto_pop3_sync_result res;
    assert_int_equal(mailproto_pop3_sync(h, &sc, &res), MAILPROTO_OK);
    assert_string_equal(y.log, "open 2 u2;done 2 u2 0;open 4 u4;done 4 u4 -32;open 5 u5;"
                               "done 5 u5 0;");
    assert_int_equal(res.listed, 5);
    assert_int_equal(res.new_msgs, 3);
    assert_int_equal(res.fetched, 2);
    assert_int_equal(res.failed, 1);
    assert_int_equal(res.deleted, 3);
    assert_int_equal(y.box.len, 11);
    assert_memory_equal(y.box.buf, "two\r\nfive\r\n", 11);
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_OK);
    assert_false(s.mismatch);
    assert_int_equal(s.idx, s.n);
    mailproto_pop3_free(h);
}

static void sync_report_only(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    STEPS(&s, STLS_LOGIN, "C:UIDL\r\n", "S:+OK\r\n1 u1\r\n2 u2\r\n.\r\n");
    mailproto_io io = srv_io(&s);
    mailproto_pop3_config cfg = base_cfg(&s, &io);
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
    syncer y;
    memset(&y, 0, sizeof y);
    y.known[0] = "u1";
    mailproto_pop3_sync_config sc;
    memset(&sc, 0, sizeof sc);
    sc.ctx = &y;
    sc.known = s_known;
    sc.done = s_done;
    mailproto_pop3_sync_result res;
    assert_int_equal(mailproto_pop3_sync(h, &sc, &res), MAILPROTO_OK);
    assert_string_equal(y.log, "done 2 u2 0;");
    assert_int_equal(res.new_msgs, 1);
    assert_int_equal(res.fetched, 0);
    assert_int_equal(mailproto_pop3_sync(h, NULL, &res), MAILPROTO_E_INVALID);
    assert_int_equal(s.idx, s.n);
    mailproto_pop3_free(h);
}

/* ---- 1 GiB RETR in constant memory ---- */

typedef struct checker {
    uint64_t line;
    char want[128];
    size_t want_len, want_off;
    uint64_t bytes;
    int bad;
} checker;

static int check_write(void *ctx, const void *data, size_t len)
{
    checker *k = ctx;
    const char *p = data;
    while (len) {
        if (k->want_off == k->want_len) {
            k->want_len = big_line(k->line++, 0, k->want);
            k->want_off = 0;
        }
        size_t n = k->want_len - k->want_off;
        if (n > len)
            n = len;
        if (memcmp(p, k->want + k->want_off, n) != 0) {
            k->bad = 1;
            return MAILPROTO_E_IO;
        }
        k->want_off += n;
        k->bytes += n;
        p += n;
        len -= n;
    }
    return MAILPROTO_OK;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define BIG_SHRUNK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIG_SHRUNK 1
#endif
#endif

static void retr_one_gib(void **state)
{
    (void)state;
    uint64_t target = (uint64_t)1 << 30;
#ifdef BIG_SHRUNK
    target = (uint64_t)64 << 20;
    printf("# sanitizer build: the 1 GiB RETR shrinks to 64 MiB\n");
#endif
    uint64_t lines = target / 78 + 1; /* 78 octets per line, one in ten 79 */
    server s;
    memset(&s, 0, sizeof s);
    s.big_lines = lines;
    STEPS(&s, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n", "C:USER alice\r\n",
          "S:+OK\r\n", "C:PASS pw\r\n", "S:+OK\r\n", "C:RETR 1\r\n", "BIG", "C:QUIT\r\n",
          "S:+OK\r\n");
    mailproto_io io = srv_io(&s);
    mailproto_pop3_config cfg = base_cfg(&s, &io);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.allow_plaintext_auth = 1;
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, &mem), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
    size_t allocs = ta.count, peak = ta.peak;
    checker *k = calloc(1, sizeof *k);
    assert_non_null(k);
    mailproto_sink sink = {check_write, k};
    uint64_t w = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mailproto_pop3_retr(h, 1, &sink, &w), MAILPROTO_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t expect = lines * 78 + (lines + 9) / 10;
    assert_false(k->bad);
    assert_int_equal(k->line, lines);
    assert_int_equal(w, expect);
    assert_int_equal(k->bytes, expect);
    assert_true(w >= target);
    assert_int_equal(ta.count, allocs); /* no allocation during the transfer */
    assert_int_equal(ta.peak, peak);
    printf("# RETR of %llu bytes: %.2f s, %.0f MiB/s, heap %zu bytes (fixed at connect)\n",
           (unsigned long long)w, secs, secs > 0 ? (double)w / 1048576.0 / secs : 0.0, ta.peak);
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_OK);
    mailproto_pop3_free(h);
    free(k);
}

/* ---- firmware: a whole session in an arena of exactly memory_needed bytes ---- */

static void arena_engine_session(void **state)
{
    (void)state;
    mailproto_pop3_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.allow_plaintext_auth = 1;
    cfg.username = "alice";
    cfg.password = "pw";
    cfg.max_line = 512;
    cfg.in_buf_size = 1024;
    cfg.sync_batch = 1;
    size_t need = mailproto_pop3_memory_needed(&cfg);
    assert_true(need > 0 && need < 16384);
    static _Alignas(16) unsigned char heap[16384];
    mailproto_arena a;
    mailproto_mem mem;
    assert_int_equal(mailproto_arena_init(&a, heap, need, &mem), MAILPROTO_OK);
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, &mem), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_start(h), MAILPROTO_OK);
    const mailproto_pop3_event *ev;
    feed(h, "+OK hi\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_AGAIN);
    expect_out(h, "CAPA\r\n");
    feed(h, "-ERR\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_AGAIN);
    expect_out(h, "USER alice\r\n");
    feed(h, "+OK\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_AGAIN);
    expect_out(h, "PASS pw\r\n");
    feed(h, "+OK\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_EVENT);
    assert_int_equal(ev->type, MAILPROTO_POP3_EV_READY);
    membuf mb;
    memset(&mb, 0, sizeof mb);
    mailproto_sink sink = {mem_write, &mb};
    assert_int_equal(mailproto_pop3_submit(h, MAILPROTO_POP3_RETR, 1, 0, &sink), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_AGAIN);
    expect_out(h, "RETR 1\r\n");
    feed(h, "+OK\r\nhello\r\n.\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_EVENT);
    assert_int_equal(ev->type, MAILPROTO_POP3_EV_DONE);
    assert_int_equal(ev->size, 7);
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_AGAIN);
    expect_out(h, "QUIT\r\n");
    feed(h, "+OK\r\n");
    assert_int_equal(mailproto_pop3_next(h, 0, &ev), MAILPROTO_EVENT);
    assert_int_equal(ev->type, MAILPROTO_POP3_EV_CLOSED);
    assert_int_equal(ev->outcome, MAILPROTO_POP3_OUTCOME_COMMITTED);
    assert_int_equal(mailproto_arena_peak(&a), need);
    mailproto_pop3_free(h);
    mailproto_pop3_config anon = cfg;
    anon.username = NULL;
    size_t need_anon = mailproto_pop3_memory_needed(&anon);
    assert_true(need_anon + 4096 <= need); /* no login: no SASL/APOP scratch */
    printf("# handle with max_line 512, 1 KiB input: %zu bytes (%zu without a login)\n", need,
           need_anon);
    /* one byte less does not fit */
    assert_int_equal(mailproto_arena_init(&a, heap, need - 1, &mem), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_new(&h, &cfg, &mem), MAILPROTO_E_NOMEM);
}

static void transport_alloc_fails(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    STEPS(&s, "S:+OK\r\n");
    mailproto_io io = srv_io(&s);
    mailproto_pop3_config cfg = base_cfg(&s, &io);
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    ta.fail_at = 2; /* the transport, at connect */
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, &mem), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_E_NOMEM);
    mailproto_pop3_free(h);
    assert_int_equal(ta.live, 0);
}

/* ---- arguments ---- */

static void arguments(void **state)
{
    (void)state;
    mailproto_pop3 *h = NULL;
    mailproto_pop3_config cfg;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(mailproto_pop3_new(NULL, &cfg, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_new_sz(&h, NULL, sizeof cfg, NULL), MAILPROTO_E_INVALID);
    cfg.username = "a\r\nDELE 1";
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_memory_needed(&cfg), 0);
    cfg.username = "a";
    cfg.password = "p\n";
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_E_INVALID);
    cfg.password = NULL;
    cfg.security = 9;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_E_INVALID);
    cfg.security = 0;
    cfg.login = 7;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_E_INVALID);
    cfg.login = 0;
    /* a longer struct with unknown nonzero bytes is refused, zeros accepted */
    struct {
        mailproto_pop3_config c;
        int extra;
    } big;
    memset(&big, 0, sizeof big);
    assert_int_equal(mailproto_pop3_new_sz(&h, &big.c, sizeof big, NULL), MAILPROTO_OK);
    mailproto_pop3_free(h);
    big.extra = 1;
    assert_int_equal(mailproto_pop3_new_sz(&h, &big.c, sizeof big, NULL), MAILPROTO_E_INVALID);
    /* allocation failure */
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    ta.fail_at = 1;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, &mem), MAILPROTO_E_NOMEM);
    /* NULL handles */
    const mailproto_pop3_event *ev;
    mailproto_pop3_free(NULL);
    assert_int_equal(mailproto_pop3_connect(NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_poll(NULL, 0, &ev), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_next(NULL, 0, &ev), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_submit(NULL, 1, 0, 0, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_stat(NULL, NULL, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_quit(NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_sync(NULL, NULL, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_fd(NULL), -1);
    assert_int_equal(mailproto_pop3_io_interest(NULL), 0);
    assert_int_equal(mailproto_pop3_timeout_ms(NULL, 0), -1);
    assert_int_equal(mailproto_pop3_caps(NULL), 0);
    assert_int_equal(mailproto_pop3_is_secure(NULL), 0);
    assert_int_equal(mailproto_pop3_outcome(NULL), 0);
    assert_non_null(mailproto_pop3_last_reply(NULL));
    assert_int_equal(mailproto_pop3_last_reply(NULL)->status, 0);
    assert_int_equal(mailproto_pop3_tls_ready(NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_pop3_start(NULL), MAILPROTO_E_INVALID);
    /* not connected */
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_submit(h, MAILPROTO_POP3_STAT, 0, 0, NULL), MAILPROTO_E_STATE);
    assert_int_equal(mailproto_pop3_poll(h, 0, &ev), MAILPROTO_E_STATE);
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_E_INVALID); /* no host */
    mailproto_pop3_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocking_session),
        cmocka_unit_test(blocking_tls_required),
        cmocka_unit_test(blocking_auth_failure),
        cmocka_unit_test(quit_outcomes),
        cmocka_unit_test(nonblocking_pipelined),
        cmocka_unit_test(engine_mode),
        cmocka_unit_test(sync_helper),
        cmocka_unit_test(sync_report_only),
        cmocka_unit_test(retr_one_gib),
        cmocka_unit_test(arena_engine_session),
        cmocka_unit_test(transport_alloc_fails),
        cmocka_unit_test(arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
