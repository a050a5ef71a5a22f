/* The shared drive loop, with a toy line engine and a scripted transport. */
#include <stdio.h>

#include "testutil.h"

#include "core/drive.h"

/* ---- a toy engine: writes its script of commands one at a time, expects
 * one line back for each; "TLS" as a reply asks for an upgrade; each line
 * received is an event. ---- */
typedef struct toy {
    const char *const *cmds;
    size_t n_cmds, next_cmd;
    char out[64];
    size_t out_len, out_off;
    unsigned char in[64];
    size_t in_len;
    char line[64];
    int waiting, want_tls, secure, eof, dead;
    int tls_done_calls;
    uint64_t deadline_at; /* absolute; 0: none */
    uint64_t timeout;     /* reply timeout */
    uint64_t now;
} toy;

static int toy_next(void *self, uint64_t now, const void **ev)
{
    toy *t = self;
    t->now = now;
    if (t->dead)
        return t->dead;
    unsigned char *nl = memchr(t->in, '\n', t->in_len);
    if (nl && t->out_off == t->out_len) { /* a reply only counts once the command went out */
        size_t n = (size_t)(nl - t->in) + 1;
        memcpy(t->line, t->in, n - 1);
        t->line[n - 1] = '\0';
        memmove(t->in, t->in + n, t->in_len - n);
        t->in_len -= n;
        t->waiting = 0;
        t->deadline_at = 0;
        if (strcmp(t->line, "TLS") == 0)
            t->want_tls = 1;
        *ev = t->line;
        return MAILPROTO_EVENT;
    }
    if (t->eof)
        return t->dead = MAILPROTO_E_CLOSED;
    if (t->waiting && t->deadline_at && now >= t->deadline_at)
        return t->dead = MAILPROTO_E_TIMEOUT;
    if (!t->waiting && !t->want_tls && t->next_cmd < t->n_cmds) {
        t->out_len = (size_t)snprintf(t->out, sizeof t->out, "%s\r\n", t->cmds[t->next_cmd++]);
        t->out_off = 0;
        t->waiting = 1;
        t->deadline_at = t->timeout ? now + t->timeout : 0;
    }
    return (t->waiting || t->want_tls) ? MAILPROTO_AGAIN : MAILPROTO_OK;
}

static int toy_want(void *self)
{
    toy *t = self;
    int w = 0;
    if (t->out_off < t->out_len)
        w |= MAILPROTO__DRIVE_WANT_WRITE;
    if (t->want_tls)
        return w | MAILPROTO__DRIVE_WANT_TLS;
    if (t->waiting)
        w |= MAILPROTO__DRIVE_WANT_READ;
    return w;
}

static void toy_output(void *self, const unsigned char **p, size_t *len)
{
    toy *t = self;
    *p = (const unsigned char *)t->out + t->out_off;
    *len = t->out_len - t->out_off;
}

static void toy_output_done(void *self, size_t n) { ((toy *)self)->out_off += n; }

static void toy_input(void *self, unsigned char **p, size_t *cap)
{
    toy *t = self;
    *p = t->in + t->in_len;
    *cap = sizeof t->in - t->in_len;
}

static void toy_input_done(void *self, size_t n)
{
    toy *t = self;
    if (n == 0)
        t->eof = 1;
    t->in_len += n;
}

static void toy_tls_done(void *self)
{
    toy *t = self;
    t->want_tls = 0;
    t->secure = 1;
    t->tls_done_calls++;
}

static int toy_io_error(void *self, int status)
{
    toy *t = self;
    return t->dead = status;
}

static int64_t toy_deadline(void *self, uint64_t now)
{
    toy *t = self;
    if (!t->waiting || !t->deadline_at)
        return -1;
    return t->deadline_at > now ? (int64_t)(t->deadline_at - now) : 0;
}

static const mailproto__drive_engine toy_vt = {
    toy_next, toy_want, toy_output, toy_output_done, toy_input, toy_input_done, toy_tls_done,
    toy_io_error, toy_deadline,
};

/* ---- a scripted transport ---- */
typedef struct script {
    const char *const *segs; /* what recv returns, one segment per call; "" = AGAIN */
    size_t n_segs, next_seg;
    size_t seg_off;
    size_t max_send;          /* bytes per send call (0: all) */
    int send_again_every;     /* every Nth send says AGAIN */
    int sends;
    char sent[512];
    size_t sent_len;
    int tls_steps;            /* AGAINs before the handshake completes */
    int connect_steps;        /* AGAINs before the TCP connect completes */
    int tls_started;
    int tls_fail;
    uint64_t clock;
    int waits;
    int last_wait_timeout;
    int plaintext_seen_by_tls; /* bytes in the script when TLS started */
} script;

static int s_send(void *ctx, const void *buf, size_t len, size_t *done)
{
    script *s = ctx;
    *done = 0;
    s->sends++;
    if (s->send_again_every && s->sends % s->send_again_every == 0)
        return MAILPROTO_AGAIN;
    size_t n = s->max_send && len > s->max_send ? s->max_send : len;
    memcpy(s->sent + s->sent_len, buf, n);
    s->sent_len += n;
    *done = n;
    return MAILPROTO_OK;
}

static int s_recv(void *ctx, void *buf, size_t cap, size_t *done)
{
    script *s = ctx;
    *done = 0;
    if (s->next_seg >= s->n_segs)
        return MAILPROTO_AGAIN;
    const char *seg = s->segs[s->next_seg];
    size_t len = strlen(seg);
    if (len == 0) { /* one AGAIN, then the next segment */
        s->next_seg++;
        return MAILPROTO_AGAIN;
    }
    if (strcmp(seg, "EOF") == 0) {
        return MAILPROTO_OK;
    }
    size_t n = len - s->seg_off < cap ? len - s->seg_off : cap;
    memcpy(buf, seg + s->seg_off, n);
    s->seg_off += n;
    if (s->seg_off == len) {
        s->seg_off = 0;
        s->next_seg++;
    }
    *done = n;
    return MAILPROTO_OK;
}

static int s_start_tls(void *ctx)
{
    script *s = ctx;
    s->tls_started = 1;
    /* what a MitM queued after the go-ahead is the TLS layer's, not the engine's */
    s->plaintext_seen_by_tls = s->next_seg < s->n_segs && strlen(s->segs[s->next_seg]) > 0;
    if (s->tls_fail)
        return MAILPROTO_E_TLS;
    return s->tls_steps ? MAILPROTO_AGAIN : MAILPROTO_OK;
}

static int s_step(void *ctx, uint64_t now)
{
    script *s = ctx;
    (void)now;
    if (s->connect_steps > 0)
        return --s->connect_steps ? MAILPROTO_AGAIN : MAILPROTO_OK;
    if (s->tls_steps > 0)
        s->tls_steps--;
    return s->tls_steps ? MAILPROTO_AGAIN : MAILPROTO_OK;
}

static int s_wait(void *ctx, int interest, int timeout_ms)
{
    script *s = ctx;
    (void)interest;
    s->waits++;
    s->last_wait_timeout = timeout_ms;
    /* Time passes: the whole timeout when nothing will come, else 10 ms. */
    int nothing = s->next_seg >= s->n_segs;
    s->clock += nothing && timeout_ms >= 0 ? (uint64_t)timeout_ms : 10;
    return nothing ? MAILPROTO_E_TIMEOUT : MAILPROTO_OK;
}

static uint64_t s_clock(void *ctx) { return ((script *)ctx)->clock; }

static void setup(mailproto__drive *d, script *s, int blocking)
{
    mailproto__drive_io io = {s, s_send, s_recv, s_start_tls, s_step, s_wait, NULL, NULL};
    mailproto__drive_init(d, &io, blocking, s_clock, s);
}

static void nonblocking_round_trip(void **state)
{
    (void)state;
    static const char *const cmds[] = {"HELLO", "WORLD"};
    static const char *const segs[] = {"", "one\n", "", "tw", "", "o\n"};
    toy t = {.cmds = cmds, .n_cmds = 2};
    script s = {.segs = segs, .n_segs = 6, .max_send = 3, .send_again_every = 2};
    mailproto__drive d;
    setup(&d, &s, 0);
    const void *ev;
    int events = 0, agains = 0, rc;
    uint64_t now = 0;
    while ((rc = mailproto__drive_run(&d, &toy_vt, &t, now++, &ev)) != MAILPROTO_OK) {
        if (rc == MAILPROTO_AGAIN) {
            agains++;
            assert_true(mailproto__drive_interest(&d) != 0);
            assert_true(agains < 100);
            continue;
        }
        assert_int_equal(rc, MAILPROTO_EVENT);
        assert_string_equal(ev, events == 0 ? "one" : "two");
        events++;
    }
    assert_int_equal(events, 2);
    assert_true(agains >= 3);
    assert_int_equal(s.sent_len, 14);
    assert_memory_equal(s.sent, "HELLO\r\nWORLD\r\n", 14);
}

static void tls_upgrade_and_injection_isolation(void **state)
{
    (void)state;
    static const char *const cmds[] = {"STARTTLS", "EHLO"};
    /* The go-ahead, then a MitM's forged reply in the next segment. */
    static const char *const segs[] = {"TLS\n", "250 forged\n"};
    toy t = {.cmds = cmds, .n_cmds = 2};
    script s = {.segs = segs, .n_segs = 2, .tls_steps = 2};
    mailproto__drive d;
    setup(&d, &s, 0);
    const void *ev;
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &t, 0, &ev), MAILPROTO_EVENT);
    assert_string_equal(ev, "TLS");
    /* handshake: AGAIN twice (step), then tls_done */
    int rc, again = 0;
    while ((rc = mailproto__drive_run(&d, &toy_vt, &t, 0, &ev)) == MAILPROTO_AGAIN && again < 10)
        again++;
    assert_true(s.tls_started);
    assert_int_equal(t.tls_done_calls, 1);
    assert_true(t.secure);
    /* the forged bytes were left for the TLS layer: the engine never read
     * them before the handshake started */
    assert_true(s.plaintext_seen_by_tls);
    assert_memory_equal(s.sent, "STARTTLS\r\n", 10);
    /* a failing handshake is reported through the engine */
    toy t2 = {.cmds = cmds, .n_cmds = 2};
    script s2 = {.segs = segs, .n_segs = 1, .tls_fail = 1};
    setup(&d, &s2, 0);
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &t2, 0, &ev), MAILPROTO_EVENT);
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &t2, 0, &ev), MAILPROTO_E_TLS);
    assert_int_equal(t2.dead, MAILPROTO_E_TLS);
}

static void blocking_waits_and_times_out(void **state)
{
    (void)state;
    static const char *const cmds[] = {"PING", "PING"};
    static const char *const segs[] = {"", "", "pong\n"};
    toy t = {.cmds = cmds, .n_cmds = 2, .timeout = 5000};
    script s = {.segs = segs, .n_segs = 3, .clock = 1000};
    mailproto__drive d;
    setup(&d, &s, 1);
    const void *ev;
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &t, 0, &ev), MAILPROTO_EVENT);
    assert_string_equal(ev, "pong");
    assert_true(s.waits >= 2);
    assert_true(s.last_wait_timeout > 0 && s.last_wait_timeout <= 5000);
    /* the second PING gets no answer: the engine's deadline ends the wait */
    int waits = s.waits;
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &t, 0, &ev), MAILPROTO_E_TIMEOUT);
    assert_true(s.waits > waits);
    assert_int_equal(s.clock, 1000 + 20 + 5000);
}

/* A TCP connect still running is stepped before the engine writes. */
static void connect_stepping(void **state)
{
    (void)state;
    static const char *const cmds[] = {"HI"};
    static const char *const segs[] = {"ok\n"};
    toy t = {.cmds = cmds, .n_cmds = 1};
    script s = {.segs = segs, .n_segs = 1, .connect_steps = 3};
    mailproto__drive d;
    setup(&d, &s, 0);
    d.connecting = 1;
    const void *ev;
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &t, 0, &ev), MAILPROTO_AGAIN);
    assert_int_equal(s.sends, 0);
    assert_int_equal(mailproto__drive_interest(&d), MAILPROTO_IO_READ | MAILPROTO_IO_WRITE);
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &t, 0, &ev), MAILPROTO_AGAIN);
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &t, 0, &ev), MAILPROTO_EVENT);
    assert_string_equal(ev, "ok");
    assert_memory_equal(s.sent, "HI\r\n", 4);
    assert_false(d.connecting);
}

static void eof_and_io_errors(void **state)
{
    (void)state;
    static const char *const cmds[] = {"A"};
    static const char *const segs[] = {"EOF"};
    toy t = {.cmds = cmds, .n_cmds = 1};
    script s = {.segs = segs, .n_segs = 1};
    mailproto__drive d;
    setup(&d, &s, 0);
    const void *ev;
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &t, 0, &ev), MAILPROTO_E_CLOSED);
    /* idle engine: OK without I/O */
    toy idle = {.n_cmds = 0};
    script s2 = {.n_segs = 0};
    setup(&d, &s2, 0);
    assert_int_equal(mailproto__drive_run(&d, &toy_vt, &idle, 0, &ev), MAILPROTO_OK);
    assert_int_equal(s2.sends, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nonblocking_round_trip),
        cmocka_unit_test(tls_upgrade_and_injection_isolation),
        cmocka_unit_test(blocking_waits_and_times_out),
        cmocka_unit_test(connect_stepping),
        cmocka_unit_test(eof_and_io_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
