/* The SMTP client over real loopback TCP (the built-in transport) against
 * a scripted server thread on a free port: a plain session, STARTTLS with
 * forged plaintext after the go-ahead (in the same segment and in a later
 * one), a server that drops the connection during the data, a 421 on an
 * idle session. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#include <mailproto/smtp.h>

#include "tcp_peer.h"


static mailproto_smtp_config tcp_cfg(const peer *p, int security)
{
    mailproto_smtp_config c;
    memset(&c, 0, sizeof c);
    c.host = "127.0.0.1";
    c.port = p->port;
    c.security = security;
    c.timeout_ms = 5000;
    c.inactivity_timeout_ms = 5000;
    return c;
}

static void plain_session(void **state)
{
    (void)state;
    static const char *const steps[] = {
        "S:220 mx ESMTP\r\n", "C:EHLO localhost\r\n", "S:250-mx\r\n250 PIPELINING\r\n",
        "C:MAIL FROM:<a@example.test>\r\n", "C:RCPT TO:<b@example.test>\r\n", "C:DATA\r\n",
        "S:250 ok\r\n250 ok\r\n354 go\r\n", "C:..dot\r\n", "C:.\r\n", "S:250 queued\r\n", "C:QUIT\r\n",
        "S:221 bye\r\n"};
    peer p = {.steps = steps, .n = sizeof steps / sizeof steps[0]};
    pthread_t th;
    peer_start(&p, &th);
    mailproto_smtp_config cfg = tcp_cfg(&p, MAILPROTO_SEC_PLAIN);
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_connect(h), MAILPROTO_OK);
    assert_true(mailproto_smtp_fd(h) >= 0);
    static const char *const one[] = {"b@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = one, .n_rcpt = 1};
    mailproto_source src;
    mailproto_source_mem(&src, ".dot", 4);
    assert_int_equal(mailproto_smtp_send(h, &env, &src, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_quit(h), MAILPROTO_OK);
    mailproto_smtp_free(h);
    peer_join(&p, th);
    assert_true(p.ok);
}

/* Forged plaintext after the STARTTLS go-ahead never reaches the SMTP
 * engine: it is refused as injection (engine buffer or transport peek), or
 * the TLS layer chokes on it; no second EHLO goes out in plain text. */
static void starttls_injection_tcp(void **state)
{
    (void)state;
    static const char *const same[] = {"S:220 mx\r\n", "C:EHLO localhost\r\n",
                                       "S:250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n", "C:STARTTLS\r\n",
                                       "S:220 go\r\n250-mx\r\n250 AUTH PLAIN\r\n"};
    static const char *const later[] = {"S:220 mx\r\n", "C:EHLO localhost\r\n",
                                        "S:250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n", "C:STARTTLS\r\n",
                                        "S:220 go\r\n", "W", "S:250-mx\r\n250 AUTH PLAIN\r\n"};
    for (int v = 0; v < 2; v++) {
        peer p = {.steps = v ? later : same, .n = v ? 7 : 5};
        pthread_t th;
        peer_start(&p, &th);
        mailproto_smtp_config cfg = tcp_cfg(&p, MAILPROTO_SEC_STARTTLS);
        cfg.host = "localhost";
        cfg.username = "u";
        cfg.password = "secret";
        mailproto_smtp *h = NULL;
        assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
        int rc = mailproto_smtp_connect(h);
        if (v == 0)
            assert_int_equal(rc, MAILPROTO_E_STARTTLS_INJECTION);
        else
            assert_true(rc == MAILPROTO_E_STARTTLS_INJECTION || rc == MAILPROTO_E_TLS ||
                        rc == MAILPROTO_E_CLOSED || rc == MAILPROTO_E_TIMEOUT);
        printf("forged bytes %s: %s\n", v ? "in a later segment" : "in the same segment", mailproto_errname(rc));
        assert_true(mailproto_is_fatal(rc));
        mailproto_smtp_free(h);
        peer_join(&p, th);
        assert_true(p.ok);
        /* after STARTTLS: nothing, or a TLS ClientHello (0x16 0x03) -- never SMTP */
        assert_true(p.got_len == 0 || (p.got_len >= 2 && (unsigned char)p.got[0] == 0x16 &&
                                       (unsigned char)p.got[1] == 0x03));
    }
}

static void drop_during_data(void **state)
{
    (void)state;
    static const char *const steps[] = {"S:220 mx\r\n", "C:EHLO localhost\r\n", "S:250 mx\r\n",
                                        "C:MAIL FROM:<a@example.test>\r\n", "S:250 ok\r\n",
                                        "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
                                        "S:354 go\r\n", "X"};
    peer p = {.steps = steps, .n = sizeof steps / sizeof steps[0]};
    pthread_t th;
    peer_start(&p, &th);
    mailproto_smtp_config cfg = tcp_cfg(&p, MAILPROTO_SEC_PLAIN);
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_connect(h), MAILPROTO_OK);
    static const char *const one[] = {"b@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = one, .n_rcpt = 1};
    /* a body far larger than the socket buffers: the peer closes first */
    static char big[4 << 20];
    memset(big, 'a', sizeof big);
    for (size_t i = 99; i < sizeof big; i += 100)
        big[i] = '\n';
    mailproto_source src;
    mailproto_source_mem(&src, big, sizeof big);
    mailproto_smtp_result res;
    int rc = mailproto_smtp_send(h, &env, &src, &res);
    assert_int_equal(rc, MAILPROTO_E_NOT_SENT);
    assert_int_equal(res.data_complete, 0);
    mailproto_smtp_free(h);
    peer_join(&p, th);
}

/* Wait (bounded) until the client's socket has something to read. */
static void wait_readable(mailproto_smtp *h)
{
    struct pollfd pf = {mailproto_smtp_fd(h), POLLIN, 0};
    assert_int_equal(poll(&pf, 1, 5000), 1);
}

/* RFC 5321 3.8: a 421 while the session is idle (and the close after it)
 * is noticed by the next send before any command is written, and by poll
 * in a non-blocking loop, which watches for it (io_interest READ). */
static void idle_421(void **state)
{
    (void)state;
    static const char *const steps[] = {"S:220 mx\r\n", "C:EHLO localhost\r\n",
                                        "S:250-mx\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 1000\r\n", "W", "W",
                                        "S:421 4.3.2 shutting down\r\n"};
    static const char *const one[] = {"b@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = one, .n_rcpt = 1};
    for (int nb = 0; nb < 2; nb++) {
        peer p = {.steps = steps, .n = sizeof steps / sizeof steps[0]};
        pthread_t th;
        peer_start(&p, &th);
        mailproto_smtp_config cfg = tcp_cfg(&p, MAILPROTO_SEC_PLAIN);
        cfg.nonblocking = nb;
        mailproto_smtp *h = NULL;
        assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
        const mailproto_smtp_event *ev;
        int rc = mailproto_smtp_connect(h);
        if (nb) {
            assert_int_equal(rc, MAILPROTO_AGAIN);
            uint64_t until = mailproto_clock_monotonic_ms(NULL) + 5000;
            while ((rc = mailproto_smtp_poll(h, mailproto_clock_monotonic_ms(NULL), &ev)) ==
                   MAILPROTO_AGAIN) {
                assert_true(mailproto_clock_monotonic_ms(NULL) < until);
                wait_readable(h);
            }
            assert_int_equal(rc, MAILPROTO_EVENT);
            assert_int_equal(ev->type, MAILPROTO_SMTP_EV_READY);
            assert_int_equal(mailproto_smtp_poll(h, mailproto_clock_monotonic_ms(NULL), &ev),
                             MAILPROTO_OK);
            /* idle: the caller's loop is told to watch the socket */
            assert_int_equal(mailproto_smtp_io_interest(h), MAILPROTO_IO_READ);
        } else {
            assert_int_equal(rc, MAILPROTO_OK);
        }
        assert_int_equal(mailproto_smtp_size_limit(h), 1000);
        assert_true(mailproto_smtp_caps(h) & MAILPROTO_SMTP_CAP_SIZE);
        wait_readable(h);
        mailproto_source src;
        mailproto_source_mem(&src, "x", 1);
        mailproto_smtp_result res;
        if (nb) {
            rc = mailproto_smtp_poll(h, mailproto_clock_monotonic_ms(NULL), &ev);
        } else {
            rc = mailproto_smtp_send(h, &env, &src, &res);
            assert_int_equal(res.status, MAILPROTO_E_CLOSED);
            assert_int_equal(res.data_complete, 0);
        }
        assert_int_equal(rc, MAILPROTO_E_CLOSED);
        const mailproto_reply *r = mailproto_smtp_last_reply(h);
        assert_int_equal(r->status, MAILPROTO_E_CLOSED);
        assert_int_equal(r->code, 421);
        assert_string_equal(r->enhanced, "4.3.2");
        /* the session is over: nothing more is written */
        assert_int_equal(mailproto_smtp_submit(h, &env, &src), MAILPROTO_E_CLOSED);
        mailproto_smtp_free(h);
        peer_join(&p, th);
        assert_true(p.ok);
        assert_int_equal(p.got_len, 0); /* no MAIL FROM, no QUIT after the 421 */
    }
}

/* The result of the last message, and the same record from send. */
static void last_result(void **state)
{
    (void)state;
    static const char *const steps[] = {
        "S:220 mx\r\n", "C:EHLO localhost\r\n", "S:250-mx\r\n250 ENHANCEDSTATUSCODES\r\n",
        "C:MAIL FROM:<a@example.test>\r\n", "S:250 2.1.0 ok\r\n", "C:RCPT TO:<b@example.test>\r\n",
        "S:250 2.1.5 ok\r\n", "C:RCPT TO:<c@example.test>\r\n", "S:550 5.1.1 unknown\r\n",
        "C:DATA\r\n", "S:354 go\r\n", "C:x\r\n", "C:.\r\n", "S:250 2.0.0 queued\r\n",
        "C:QUIT\r\n", "S:221 bye\r\n"};
    peer p = {.steps = steps, .n = sizeof steps / sizeof steps[0]};
    pthread_t th;
    peer_start(&p, &th);
    mailproto_smtp_config cfg = tcp_cfg(&p, MAILPROTO_SEC_PLAIN);
    mailproto_smtp *h = NULL;
    assert_int_equal(mailproto_smtp_new(&h, &cfg, NULL), MAILPROTO_OK);
    mailproto_smtp_result lr;
    assert_int_equal(mailproto_smtp_last_result(h, &lr), MAILPROTO_OK);
    assert_int_equal(lr.n_rcpt, 0); /* zeroed before the first message */
    assert_int_equal(mailproto_smtp_last_result(h, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_smtp_last_result(NULL, &lr), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_smtp_connect(h), MAILPROTO_OK);
    static const char *const two[] = {"b@example.test", "c@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = two, .n_rcpt = 2};
    mailproto_source src;
    mailproto_source_mem(&src, "x", 1);
    mailproto_smtp_result res;
    /* refused before anything is written: the result says so too */
    static const char *const bad[] = {"b@example.test\r\nRSET"};
    mailproto_envelope benv = {.from = "a@example.test", .rcpt = bad, .n_rcpt = 1};
    assert_int_equal(mailproto_smtp_send(h, &benv, &src, &res), MAILPROTO_E_INVALID);
    assert_int_equal(res.status, MAILPROTO_E_INVALID);
    assert_int_equal(res.data_complete, 0);
    assert_int_equal(mailproto_smtp_send(h, &env, &src, &res), MAILPROTO_OK);
    assert_int_equal(mailproto_smtp_last_result(h, &lr), MAILPROTO_OK);
    assert_memory_equal(&lr, &res, sizeof lr);
    assert_int_equal(lr.status, MAILPROTO_OK);
    assert_int_equal(lr.code, 250);
    assert_string_equal(lr.enhanced, "2.0.0");
    assert_int_equal(lr.n_rcpt, 2);
    assert_int_equal(lr.n_accepted, 1);
    assert_int_equal(lr.n_rejected, 1);
    assert_int_equal(lr.first_rejected, 1);
    assert_int_equal(lr.data_complete, 1);
    assert_int_equal(mailproto_smtp_rcpt_result(h, 1)->code, 550);
    assert_int_equal(mailproto_smtp_quit(h), MAILPROTO_OK);
    mailproto_smtp_free(h);
    peer_join(&p, th);
    assert_true(p.ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_session),
        cmocka_unit_test(starttls_injection_tcp),
        cmocka_unit_test(drop_during_data),
        cmocka_unit_test(idle_421),
        cmocka_unit_test(last_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
