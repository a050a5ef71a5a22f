/* The mailproto_smtp handle over a scripted server behind mailproto_io
 * callbacks: blocking, non-blocking (several sends from one poll loop) and
 * engine mode; a 10 MiB body in constant memory measured through the
 * allocator hook; drops; NULL safety. */
#include <stdio.h>

#include "testutil.h"

#include <mailproto/smtp.h>
#include <mailproto/transport.h>

/* ---- a reactive scripted server ----
 * steps: "S:bytes" (the server sends), "C:bytes" (the client must send
 * exactly these), "DATA*" (swallow the client's data up to and including
 * "\r\n.\r\n", counting it), "TLS" (the client's start_tls must come now),
 * "EOF" (the server closes). */
typedef struct server {
    const char *const *steps;
    size_t n, idx, off;
    size_t chunk;            /* bytes per recv (0: all) */
    int again_every;         /* every Nth recv/send says AGAIN first */
    int sends, recvs;
    int secure;
    int mismatch;
    char got[1024];          /* client bytes not yet matched */
    size_t got_len;
    uint64_t data_bytes;     /* bytes swallowed by DATA* */
    int data_tail;           /* matched prefix of "\r\n.\r\n" */
    uint64_t clock;
    char log[8192];          /* every client byte outside DATA* */
    size_t log_len;
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
    const unsigned char *p = buf;
    size_t i = 0;
    if (strcmp(step(s), "EOF") == 0)
        return MAILPROTO_E_CLOSED;
    while (i < len) {
        if (strcmp(step(s), "DATA*") == 0) {
            static const char end[] = "\r\n.\r\n";
            s->data_bytes++;
            if (p[i] == (unsigned char)end[s->data_tail])
                s->data_tail++;
            else
                s->data_tail = p[i] == '\r' ? 1 : 0;
            i++;
            if (s->data_tail == 5) {
                s->data_tail = 0;
                s->idx++;
            }
            continue;
        }
        if (s->got_len == sizeof s->got) {
            s->mismatch = 1;
            break;
        }
        if (s->log_len < sizeof s->log)
            s->log[s->log_len++] = (char)p[i];
        s->got[s->got_len++] = (char)p[i++];
        advance_matches(s);
    }
    *done = len;
    return MAILPROTO_OK;
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
    int can = (interest & MAILPROTO_IO_WRITE) || strncmp(st, "S:", 2) == 0 || strcmp(st, "EOF") == 0 ||
              s->again_every;
    if (can)
        return MAILPROTO_OK;
    s->clock += timeout_ms < 0 ? 1000000 : (uint64_t)timeout_ms;
    return MAILPROTO_E_TIMEOUT;
}

static uint64_t srv_clock(void *ctx) { return ((server *)ctx)->clock; }

static mailproto_io srv_io(server *s, int with_wait)
{
    mailproto_io io;
    memset(&io, 0, sizeof io);
    io.version = MAILPROTO_IO_VERSION;
    io.user = s;
    io.send = srv_send;
    io.recv = srv_recv;
    io.start_tls = srv_start_tls;
    io.is_secure = srv_is_secure;
    if (with_wait)
        io.wait = srv_wait;
    return io;
}

static mailproto_smtp_config base_cfg(server *s, const mailproto_io *io)
{
    mailproto_smtp_config c;
    memset(&c, 0, sizeof c);
    c.host = "mx.example.test";
    c.io = io;
    c.clock = srv_clock;
    c.clock_ctx = s;
    return c;
}

#define STEPS(s, ...)                                                                             \
    do {                                                                                          \
        static const char *const st_[] = {__VA_ARGS__};                                           \
        (s)->steps = st_;                                                                         \
        (s)->n = sizeof st_ / sizeof st_[0];                                                      \
    } while (0)

static const char *const rcpts[] = {"b@example.test", "c@example.test"};

/* STARTTLS, AUTH, one message with one refused recipient, QUIT. */
static void blocking_session(void **state)
{
    (void)state;
    for (size_t chunk = 0; chunk < 4; chunk++) {
        server s;
        memset(&s, 0, sizeof s);
        s.chunk = chunk;
        s.again_every = chunk == 3 ? 3 : 0;
        STEPS(&s, "S:220 mx ESMTP\r\n", "C:EHLO localhost\r\n",
              "S:250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n", "C:STARTTLS\r\n", "S:220 go\r\n", "TLS",
              "C:EHLO localhost\r\n",
              "S:250-mx\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n",
              "C:AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", "S:235 2.7.0 ok\r\n",
              "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n",
              "S:250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 unknown\r\n354 go\r\n",
              "C:Subject: t\r\n\r\nbody\r\n.\r\n", "S:250 2.0.0 queued\r\n", "C:QUIT\r\n", "S:221 bye\r\n");
        mailproto_io io = srv_io(&s, 1);
        mailproto_smtp_config cfg = base_cfg(&s, &io);
        cfg.username = "tim";
        cfg.password = "tanstaaftanstaaf";
        test_trace tr;
        memset(&tr, 0, sizeof tr);
        cfg.trace = test_trace_fn;
        cfg.trace_ctx = &tr;
        mailproto_smtp *h = NULL;
        assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
        assert_int_equal(mailproto_smtp_connect(h), MAILPROTO_OK);
        assert_true(mailproto_smtp_is_secure(h));
        assert_true(mailproto_smtp_caps(h) & MAILPROTO_SMTP_CAP_PIPELINING);
        assert_false(mailproto_smtp_caps(h) & MAILPROTO_SMTP_CAP_STARTTLS); /* forgotten */
        assert_int_equal(mailproto_smtp_auth_mechs(h),
                         MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_PLAIN) | MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_LOGIN));
        mailproto_envelope env = {.from = "a@example.test", .rcpt = rcpts, .n_rcpt = 2};
        mailproto_source src;
        mailproto_source_mem(&src, "Subject: t\n\nbody\n", 17);
        mailproto_smtp_result res;
        assert_int_equal(mailproto_smtp_send(h, &env, &src, &res), MAILPROTO_OK);
        assert_int_equal(res.n_accepted, 1);
        assert_int_equal(res.n_rejected, 1);
        assert_int_equal(res.first_rejected, 1);
        assert_int_equal(res.code, 250);
        assert_string_equal(res.enhanced, "2.0.0");
        const mailproto_smtp_rcpt *r1 = mailproto_smtp_rcpt_result(h, 1);
        assert_non_null(r1);
        assert_int_equal(r1->code, 550);
        assert_false(r1->accepted);
        assert_string_equal(r1->enhanced, "5.1.1");
        assert_string_equal(r1->text, "unknown");
        assert_null(mailproto_smtp_rcpt_result(h, 2));
        assert_int_equal(mailproto_smtp_quit(h), MAILPROTO_OK);
        mailproto_smtp_free(h);
        assert_false(s.mismatch);
        assert_int_equal(s.idx, s.n);
        assert_null(strstr(tr.buf, "AHRpbQB0"));
        assert_null(strstr(tr.buf, "tanstaaf"));
    }
}

/* Several messages from one non-blocking poll loop. */
static void nonblocking_several_sends(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    s.chunk = 5;
    s.again_every = 2;
    STEPS(&s, "S:220 mx ESMTP\r\n", "C:EHLO localhost\r\n", "S:250-mx\r\n250 PIPELINING\r\n",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
          "S:250 ok\r\n250 ok\r\n354 go\r\n", "C:one\r\n.\r\n", "S:250 ok 1\r\n",
          "C:RSET\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
          "S:250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", "C:two\r\n.\r\n", "S:250 ok 2\r\n", "C:QUIT\r\n",
          "S:221 bye\r\n");
    mailproto_io io = srv_io(&s, 0);
    mailproto_smtp_config cfg = base_cfg(&s, &io);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.nonblocking = 1;
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_connect(h), MAILPROTO_AGAIN);
    static const char *const one[] = {"b@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = one, .n_rcpt = 1};
    const char *bodies[] = {"one", "two"};
    mailproto_source src;
    int sent = 0, submitted = 0, closed = 0, rounds = 0;
    uint64_t now = 0;
    while (!closed && rounds++ < 10000) {
        const mailproto_smtp_event *ev;
        int rc;
        while ((rc = mailproto_smtp_poll(h, now, &ev)) == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_SMTP_EV_READY || ev->type == MAILPROTO_SMTP_EV_SENT) {
                if (ev->type == MAILPROTO_SMTP_EV_SENT) {
                    assert_int_equal(ev->status, MAILPROTO_OK);
                    sent++;
                }
                if (submitted < 2) {
                    mailproto_source_mem(&src, bodies[submitted], 3);
                    assert_int_equal(mailproto_smtp_submit(h, &env, &src), MAILPROTO_OK);
                    assert_int_equal(mailproto_smtp_submit(h, &env, &src), MAILPROTO_E_STATE);
                    submitted++;
                } else {
                    assert_int_equal(mailproto_smtp_quit(h), MAILPROTO_OK);
                }
            } else if (ev->type == MAILPROTO_SMTP_EV_CLOSED) {
                closed = 1;
                break;
            }
        }
        if (closed)
            break;
        assert_true(rc == MAILPROTO_AGAIN || rc == MAILPROTO_OK);
        if (rc == MAILPROTO_AGAIN)
            assert_true(mailproto_smtp_io_interest(h) != 0);
        assert_true(mailproto_smtp_timeout_ms(h, now) != 0);
        now += 5;
    }
    assert_int_equal(sent, 2);
    assert_true(closed);
    assert_false(s.mismatch);
    assert_int_equal(s.idx, s.n);
    assert_int_equal(mailproto_smtp_fd(h), -1);
    mailproto_smtp_free(h);
}

/* Engine mode through the public handle: the caller moves the bytes. */
static void engine_mode_handle(void **state)
{
    (void)state;
    mailproto_smtp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.security = MAILPROTO_SEC_STARTTLS;
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_start(h), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_start(h), MAILPROTO_E_STATE);
    const char *srv[] = {"220 hi\r\n", "250-x\r\n250 STARTTLS\r\n", "220 go\r\n", "250 x\r\n"};
    const char *expect[] = {"EHLO localhost\r\n", "STARTTLS\r\n", "EHLO localhost\r\n", ""};
    char sent[256];
    for (size_t i = 0; i < 4; i++) {
        unsigned char *in;
        size_t cap;
        assert_int_equal(mailproto_smtp_input_buf(h, &in, &cap), MAILPROTO_OK);
        assert_true(cap >= strlen(srv[i]));
        memcpy(in, srv[i], strlen(srv[i]));
        assert_int_equal(mailproto_smtp_input_done(h, strlen(srv[i])), MAILPROTO_OK);
        const mailproto_smtp_event *ev;
        int rc = mailproto_smtp_next(h, 1000, &ev);
        if (i == 2) {
            assert_int_equal(rc, MAILPROTO_EVENT);
            assert_int_equal(ev->type, MAILPROTO_SMTP_EV_STARTTLS);
            /* while waiting for TLS the engine takes no plaintext */
            assert_int_equal(mailproto_smtp_input_buf(h, &in, &cap), MAILPROTO_OK);
            assert_int_equal(cap, 0);
            assert_int_equal(mailproto_smtp_tls_ready(h), MAILPROTO_OK);
            rc = mailproto_smtp_next(h, 1000, &ev);
        }
        if (i == 3) {
            assert_int_equal(rc, MAILPROTO_EVENT);
            assert_int_equal(ev->type, MAILPROTO_SMTP_EV_READY);
        } else {
            assert_int_equal(rc, MAILPROTO_AGAIN);
        }
        const unsigned char *out;
        size_t len = 0, total = 0;
        while (mailproto_smtp_output_buf(h, &out, &len) == MAILPROTO_OK && len) {
            memcpy(sent + total, out, len);
            total += len;
            assert_int_equal(mailproto_smtp_output_done(h, len), MAILPROTO_OK);
        }
        assert_int_equal(total, strlen(expect[i]));
        assert_memory_equal(sent, expect[i], total);
        assert_int_equal(mailproto_smtp_output_done(h, 1), MAILPROTO_E_INVALID);
    }
    assert_true(mailproto_smtp_is_secure(h));
    assert_int_equal(mailproto_smtp_timeout_ms(h, 1000), -1);
    assert_int_equal(mailproto_smtp_poll(h, 0, &(const mailproto_smtp_event *){NULL}), MAILPROTO_E_STATE);
    mailproto_smtp_free(h);
}

/* A generated body: "line NNNNNNNN\n" lines, never held in memory. */
typedef struct gen {
    uint64_t left, made;
} gen;

static int gen_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    gen *g = ctx;
    size_t n = cap < g->left ? cap : (size_t)g->left;
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++, g->made++)
        p[i] = (g->made % 64 == 63) ? '\n' : (g->made % 64 == 0 ? '.' : 'a' + (char)(g->made % 26));
    g->left -= n;
    *got = n;
    return MAILPROTO_OK;
}

static int progress_calls;
static int progress_fn(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    progress_calls++;
    assert_true(done <= total);
    return 0;
}

static void ten_mib_constant_memory(void **state)
{
    (void)state;
    const uint64_t size = 10u << 20;
    server s;
    memset(&s, 0, sizeof s);
    STEPS(&s, "S:220 mx\r\n", "C:EHLO localhost\r\n", "S:250-mx\r\n250 SIZE 20000000\r\n",
          "C:MAIL FROM:<a@example.test> SIZE=10485760\r\n", "S:250 ok\r\n",
          "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "DATA*",
          "S:250 ok\r\n");
    mailproto_io io = srv_io(&s, 1);
    mailproto_smtp_config cfg = base_cfg(&s, &io);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.progress = progress_fn;
    test_alloc a;
    mailproto_mem mem = test_mem(&a);
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, &mem), MAILPROTO_OK);
    assert_int_equal(a.live, mailproto_smtp_memory_needed(&cfg));
    assert_int_equal(mailproto_smtp_connect(h), MAILPROTO_OK);
    size_t count_before = a.count, live_before = a.live, peak_before = a.peak;
    static const char *const one[] = {"b@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = one, .n_rcpt = 1};
    gen g = {size, 0};
    mailproto_source src = {gen_read, NULL, &g, size, NULL, 0, 0};
    mailproto_smtp_result res;
    assert_int_equal(mailproto_smtp_send(h, &env, &src, &res), MAILPROTO_OK);
    /* not one allocation while 10 MiB went through */
    assert_int_equal(a.count, count_before);
    assert_int_equal(a.live, live_before);
    assert_int_equal(a.peak, peak_before);
    /* every line starts with '.', so each is stuffed; LF became CRLF */
    uint64_t lines = size / 64;
    assert_int_equal(s.data_bytes, size + lines /* CR */ + lines /* dots */ + 3);
    assert_true(progress_calls > 0);
    mailproto_smtp_free(h);
    assert_int_equal(a.live, 0);
    assert_int_equal(a.size_errors, 0);
    printf("10 MiB body: heap %zu bytes (handle %zu), allocations during the send: %zu\n", peak_before,
           mailproto_smtp_memory_needed(&cfg), a.count - count_before);
}

/* Drops: NOT_SENT before the end of data was written, OUTCOME_UNKNOWN
 * after; the handle is dead afterwards. */
static void drops_blocking(void **state)
{
    (void)state;
    static const char *const one[] = {"b@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = one, .n_rcpt = 1};
    for (int after_end = 0; after_end < 2; after_end++) {
        server s;
        memset(&s, 0, sizeof s);
        if (after_end)
            STEPS(&s, "S:220 mx\r\n", "C:EHLO localhost\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@example.test>\r\n",
                  "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
                  "S:354 go\r\n", "C:x\r\n.\r\n", "EOF");
        else
            STEPS(&s, "S:220 mx\r\n", "C:EHLO localhost\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@example.test>\r\n",
                  "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
                  "S:354 go\r\n", "EOF");
        mailproto_io io = srv_io(&s, 1);
        mailproto_smtp_config cfg = base_cfg(&s, &io);
        cfg.security = MAILPROTO_SEC_PLAIN;
        mailproto_smtp *h = NULL;
        assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
        assert_int_equal(mailproto_smtp_connect(h), MAILPROTO_OK);
        mailproto_source src;
        mailproto_source_mem(&src, "x", 1);
        mailproto_smtp_result res;
        int want = after_end ? MAILPROTO_E_OUTCOME_UNKNOWN : MAILPROTO_E_NOT_SENT;
        assert_int_equal(mailproto_smtp_send(h, &env, &src, &res), want);
        assert_int_equal(res.status, want);
        assert_int_equal(res.data_complete, after_end);
        assert_int_equal(mailproto_smtp_last_reply(h)->status, want);
        assert_true(mailproto_is_fatal(want));
        assert_int_equal(mailproto_smtp_send(h, &env, &src, &res), MAILPROTO_E_CLOSED);
        mailproto_smtp_free(h);
    }
}

/* A silent server: the greeting timeout ends a blocking connect. */
static void blocking_greeting_timeout(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    STEPS(&s, "C:never\r\n");
    mailproto_io io = srv_io(&s, 1);
    mailproto_smtp_config cfg = base_cfg(&s, &io);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.greeting_timeout_ms = 5000;
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_connect(h), MAILPROTO_E_TIMEOUT);
    assert_true(s.clock >= 5000 && s.clock < 10000);
    mailproto_smtp_free(h);
}

/* Freeing an idle session says QUIT first; AUTH failure leaves it usable. */
static void free_sends_quit(void **state)
{
    (void)state;
    server s;
    memset(&s, 0, sizeof s);
    STEPS(&s, "S:220 mx\r\n", "C:EHLO localhost\r\n", "S:250-mx\r\n250 AUTH PLAIN\r\n",
          "C:AUTH PLAIN AHUAeA==\r\n", "S:535 5.7.8 no\r\n", "C:QUIT\r\n", "S:221 bye\r\n");
    mailproto_io io = srv_io(&s, 1);
    mailproto_smtp_config cfg = base_cfg(&s, &io);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.allow_plaintext_auth = 1;
    cfg.username = "u";
    cfg.password = "x";
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_connect(h), MAILPROTO_E_AUTH);
    assert_false(mailproto_is_fatal(MAILPROTO_E_AUTH));
    assert_int_equal(mailproto_smtp_last_reply(h)->code, 535);
    assert_string_equal(mailproto_smtp_last_reply(h)->enhanced, "");
    mailproto_smtp_free(h);
    assert_false(s.mismatch);
    assert_int_equal(s.idx, s.n);
}

/* Fail the N-th allocation for every N: a clean error, nothing leaked. */
static void allocation_failures(void **state)
{
    (void)state;
    int saw_ok = 0;
    for (size_t n = 1; n < 8; n++) {
        server s;
        memset(&s, 0, sizeof s);
        STEPS(&s, "S:220 mx\r\n", "C:EHLO localhost\r\n", "S:250 mx\r\n", "C:MAIL FROM:<a@example.test>\r\n",
              "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
              "S:354 go\r\n", "C:x\r\n.\r\n", "S:250 ok\r\n", "C:QUIT\r\n", "S:221 bye\r\n");
        mailproto_io io = srv_io(&s, 1);
        mailproto_smtp_config cfg = base_cfg(&s, &io);
        cfg.security = MAILPROTO_SEC_PLAIN;
        test_alloc a;
        mailproto_mem mem = test_mem(&a);
        a.fail_at = n;
        mailproto_smtp *h = NULL;
        int rc = mailproto_smtp_new(&h, &cfg, &mem);
        if (rc == MAILPROTO_OK)
            rc = mailproto_smtp_connect(h);
        if (rc == MAILPROTO_OK) {
            static const char *const one[] = {"b@example.test"};
            mailproto_envelope env = {.from = "a@example.test", .rcpt = one, .n_rcpt = 1};
            mailproto_source src;
            mailproto_source_mem(&src, "x", 1);
            rc = mailproto_smtp_send(h, &env, &src, NULL);
        }
        assert_true(rc == MAILPROTO_OK || rc == MAILPROTO_E_NOMEM);
        saw_ok |= rc == MAILPROTO_OK;
        mailproto_smtp_free(h);
        assert_int_equal(a.live, 0);
        assert_int_equal(a.size_errors, 0);
    }
    assert_true(saw_ok); /* past the last allocation everything works */
}

/* Firmware: the handle in an arena sized by mailproto_smtp_memory_needed,
 * run in engine mode through a whole message. */
static void arena_engine_mode(void **state)
{
    (void)state;
    mailproto_smtp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.security = MAILPROTO_SEC_PLAIN;
    cfg.in_buf_size = 1024;
    cfg.out_buf_size = 1024;
    cfg.max_rcpt = 2;
    size_t need = mailproto_smtp_memory_needed(&cfg);
    static _Alignas(max_align_t) unsigned char buf[16384];
    assert_true(need <= sizeof buf);
    mailproto_arena a;
    mailproto_mem mem;
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_arena_init(&a, buf, need - 1, &mem), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_new(&h, &cfg, &mem), MAILPROTO_E_NOMEM);
    assert_int_equal(mailproto_arena_init(&a, buf, need, &mem), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_new(&h, &cfg, &mem), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_start(h), MAILPROTO_OK);
    static const char *const one[] = {"b@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = one, .n_rcpt = 1};
    mailproto_source src;
    mailproto_source_mem(&src, "hi\n", 3);
    const char *srv[] = {"220 hi\r\n", "250 mx\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n"};
    char sent[512];
    size_t total = 0;
    int sent_ev = 0;
    for (size_t i = 0; i < 6; i++) {
        unsigned char *in;
        size_t cap;
        assert_int_equal(mailproto_smtp_input_buf(h, &in, &cap), MAILPROTO_OK);
        memcpy(in, srv[i], strlen(srv[i]));
        assert_int_equal(mailproto_smtp_input_done(h, strlen(srv[i])), MAILPROTO_OK);
        for (;;) {
            const mailproto_smtp_event *ev;
            int rc = mailproto_smtp_next(h, 5, &ev);
            if (rc == MAILPROTO_EVENT) {
                if (ev->type == MAILPROTO_SMTP_EV_READY)
                    assert_int_equal(mailproto_smtp_submit(h, &env, &src), MAILPROTO_OK);
                if (ev->type == MAILPROTO_SMTP_EV_SENT) {
                    assert_int_equal(ev->status, MAILPROTO_OK);
                    sent_ev = 1;
                }
                continue;
            }
            const unsigned char *out;
            size_t len;
            assert_int_equal(mailproto_smtp_output_buf(h, &out, &len), MAILPROTO_OK);
            if (!len)
                break;
            memcpy(sent + total, out, len);
            total += len;
            assert_int_equal(mailproto_smtp_output_done(h, len), MAILPROTO_OK);
        }
    }
    assert_true(sent_ev);
    const char want[] = "EHLO localhost\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"
                        "DATA\r\nhi\r\n.\r\n";
    assert_int_equal(total, sizeof want - 1);
    assert_memory_equal(sent, want, total);
    assert_true(mailproto_arena_peak(&a) <= need);
    mailproto_smtp_free(h);
    printf("arena: %zu bytes for a 1 KiB/1 KiB SMTP handle\n", need);
}

static void api_edges(void **state)
{
    (void)state;
    assert_non_null(mailproto_smtp_last_reply(NULL));
    assert_int_equal(mailproto_smtp_last_reply(NULL)->status, 0);
    assert_int_equal(mailproto_smtp_connect(NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_smtp_caps(NULL), 0);
    assert_null(mailproto_smtp_rcpt_result(NULL, 0));
    mailproto_smtp_free(NULL);
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_smtp_new_sz(&h, NULL, sizeof(mailproto_smtp_config), NULL), MAILPROTO_E_INVALID);
    mailproto_smtp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.helo_name = "bad name\r\n";
    assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_E_INVALID);
    cfg.helo_name = NULL;
    cfg.security = 9;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_E_INVALID);
    cfg.security = 0;
    /* an older, shorter config struct reads as zero-filled */
    assert_int_equal(mailproto_smtp_new_sz(&h, &cfg, 16, NULL), MAILPROTO_OK);
    mailproto_smtp_free(h);
    /* a longer one with unknown non-zero fields is refused */
    struct {
        mailproto_smtp_config c;
        int future;
    } big;
    memset(&big, 0, sizeof big);
    big.future = 1;
    assert_int_equal(mailproto_smtp_new_sz(&h, &big.c, sizeof big, NULL), MAILPROTO_E_INVALID);
    big.future = 0;
    assert_int_equal(mailproto_smtp_new_sz(&h, &big.c, sizeof big, NULL), MAILPROTO_OK);
    /* not connected */
    mailproto_source src;
    mailproto_source_mem(&src, "x", 1);
    static const char *const one[] = {"b@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = one, .n_rcpt = 1};
    assert_int_equal(mailproto_smtp_send(h, &env, &src, NULL), MAILPROTO_E_STATE);
    assert_int_equal(mailproto_smtp_submit(h, &env, &src), MAILPROTO_E_STATE);
    mailproto_smtp_free(h);
    /* allocation failure */
    test_alloc a;
    mailproto_mem mem = test_mem(&a);
    a.fail_at = 1;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, &mem), MAILPROTO_E_NOMEM);
    assert_null(h);
    /* the memory needed grows with the buffers asked for */
    mailproto_smtp_config small = cfg;
    small.in_buf_size = 1024;
    small.out_buf_size = 1024;
    small.max_rcpt = 1;
    assert_true(mailproto_smtp_memory_needed(&small) < mailproto_smtp_memory_needed(&cfg));
    printf("smallest SMTP handle: %zu bytes; default: %zu bytes\n", mailproto_smtp_memory_needed(&small),
           mailproto_smtp_memory_needed(&cfg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocking_session),
        cmocka_unit_test(nonblocking_several_sends),
        cmocka_unit_test(engine_mode_handle),
        cmocka_unit_test(ten_mib_constant_memory),
        cmocka_unit_test(drops_blocking),
        cmocka_unit_test(blocking_greeting_timeout),
        cmocka_unit_test(free_sends_quit),
        cmocka_unit_test(arena_engine_mode),
        cmocka_unit_test(allocation_failures),
        cmocka_unit_test(api_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
