/* The POP3 client over real loopback TCP (the built-in transport) against
 * a scripted server thread on a free port: a plain session with a
 * dot-stuffed RETR, STLS with forged plaintext after the go-ahead (in the
 * same segment and in a later one: never a POP3 byte in clear afterwards,
 * never a credential), and a drop right after QUIT (outcome unknown). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#include <mailproto/pop3.h>

#include "tcp_peer.h"


static mailproto_pop3_config tcp_cfg(const peer *p, int security)
{
    mailproto_pop3_config c;
    memset(&c, 0, sizeof c);
    c.host = "127.0.0.1";
    c.port = p->port;
    c.security = security;
    c.timeout_ms = 5000;
    c.inactivity_timeout_ms = 5000;
    c.username = "alice";
    c.password = "secret";
    c.allow_plaintext_auth = security == MAILPROTO_SEC_PLAIN;
    return c;
}

typedef struct membuf {
    char buf[256];
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

static void plain_session(void **state)
{
    (void)state;
    static const char *const steps[] = {
        "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n", "C:USER alice\r\n",
        "S:+OK\r\n", "C:PASS secret\r\n", "S:+OK\r\n", "C:RETR 1\r\n",
        "S:+OK\r\n..dot\r\n", "W", "S:body\r\n.\r\n", "C:QUIT\r\n", "S:+OK\r\n"};
    peer p = {.steps = steps, .n = sizeof steps / sizeof steps[0]};
    pthread_t th;
    peer_start(&p, &th);
    mailproto_pop3_config cfg = tcp_cfg(&p, MAILPROTO_SEC_PLAIN);
    static test_trace tr; /* engine and transport trace: the password stays out */
    memset(&tr, 0, sizeof tr);
    cfg.trace = test_trace_fn;
    cfg.trace_ctx = &tr;
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
    assert_true(mailproto_pop3_fd(h) >= 0);
    assert_non_null(strstr(tr.buf, "USER alice"));
    assert_null(strstr(tr.buf, "secret"));
    assert_true(tr.secrets >= 1);
    membuf mb;
    memset(&mb, 0, sizeof mb);
    mailproto_sink sink = {mem_write, &mb};
    assert_int_equal(mailproto_pop3_retr(h, 1, &sink, NULL), MAILPROTO_OK);
    assert_int_equal(mb.len, 12);
    assert_memory_equal(mb.buf, ".dot\r\nbody\r\n", 12);
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_OK);
    mailproto_pop3_free(h);
    peer_join(&p, th);
    assert_true(p.ok);
}

static void stls_injection_tcp(void **state)
{
    (void)state;
    static const char *const same[] = {"S:+OK ready\r\n", "C:CAPA\r\n",
                                       "S:+OK\r\nSTLS\r\nUSER\r\n.\r\n", "C:STLS\r\n",
                                       "S:+OK go\r\n+OK\r\nUSER\r\n.\r\n"};
    static const char *const later[] = {"S:+OK ready\r\n", "C:CAPA\r\n",
                                        "S:+OK\r\nSTLS\r\nUSER\r\n.\r\n", "C:STLS\r\n",
                                        "S:+OK go\r\n", "W", "S:+OK\r\nUSER\r\n.\r\n"};
    for (int v = 0; v < 2; v++) {
        peer p = {.steps = v ? later : same, .n = v ? 7 : 5};
        pthread_t th;
        peer_start(&p, &th);
        mailproto_pop3_config cfg = tcp_cfg(&p, MAILPROTO_SEC_STARTTLS);
        cfg.host = "localhost";
        mailproto_pop3 *h = NULL;
        assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
        int rc = mailproto_pop3_connect(h);
        if (v == 0)
            assert_int_equal(rc, MAILPROTO_E_STARTTLS_INJECTION);
        else
            assert_true(rc == MAILPROTO_E_STARTTLS_INJECTION || rc == MAILPROTO_E_TLS ||
                        rc == MAILPROTO_E_CLOSED || rc == MAILPROTO_E_TIMEOUT);
        printf("# forged bytes %s: %s\n", v ? "in a later segment" : "in the same segment",
               mailproto_errname(rc));
        assert_true(mailproto_is_fatal(rc));
        mailproto_pop3_free(h);
        peer_join(&p, th);
        assert_true(p.ok);
        /* after STLS: nothing, or a TLS ClientHello (0x16 0x03) -- never POP3 */
        assert_true(p.got_len == 0 || (p.got_len >= 2 && (unsigned char)p.got[0] == 0x16 &&
                                       (unsigned char)p.got[1] == 0x03));
    }
}

static void drop_after_quit(void **state)
{
    (void)state;
    static const char *const steps[] = {
        "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n", "C:USER alice\r\n",
        "S:+OK\r\n", "C:PASS secret\r\n", "S:+OK\r\n", "C:DELE 1\r\n", "S:+OK\r\n",
        "C:QUIT\r\n", "X"};
    peer p = {.steps = steps, .n = sizeof steps / sizeof steps[0]};
    pthread_t th;
    peer_start(&p, &th);
    mailproto_pop3_config cfg = tcp_cfg(&p, MAILPROTO_SEC_PLAIN);
    mailproto_pop3 *h = NULL;
    assert_int_equal(mailproto_pop3_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_connect(h), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_dele(h, 1), MAILPROTO_OK);
    assert_int_equal(mailproto_pop3_quit(h), MAILPROTO_E_OUTCOME_UNKNOWN);
    assert_int_equal(mailproto_pop3_outcome(h), MAILPROTO_POP3_OUTCOME_UNKNOWN);
    mailproto_pop3_free(h);
    peer_join(&p, th);
    assert_true(p.ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_session),
        cmocka_unit_test(stls_injection_tcp),
        cmocka_unit_test(drop_after_quit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
