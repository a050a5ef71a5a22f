/* The SMTP client over real loopback TCP (the built-in transport) against
 * a scripted server thread on a free port: a plain session, STARTTLS with
 * forged plaintext after the go-ahead (in the same segment and in a later
 * one), a server that drops the connection during the data. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#include <mailproto/smtp.h>

typedef struct peer {
    int lfd;
    uint16_t port;
    const char *const *steps; /* "S:" send, "C:" read a line (checked), "W" pause 50 ms, "X" close */
    size_t n;
    char got[4096];
    size_t got_len;
    int ok;
} peer;

static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, 1, 0);
        if (r <= 0)
            return -1;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return (int)n;
}

static void *peer_main(void *arg)
{
    peer *p = arg;
    int fd = accept(p->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    p->ok = 1;
    for (size_t i = 0; i < p->n; i++) {
        const char *st = p->steps[i];
        if (st[0] == 'S') {
            if (send(fd, st + 2, strlen(st + 2), MSG_NOSIGNAL) < 0)
                break;
        } else if (st[0] == 'C') {
            char line[1024];
            if (read_line(fd, line, sizeof line) < 0 || strcmp(line, st + 2) != 0) {
                p->ok = 0;
                break;
            }
        } else if (st[0] == 'W') {
            usleep(50000);
        } else if (st[0] == 'X') {
            close(fd); /* drop the connection now */
            return NULL;
        }
    }
    /* whatever else the client sends (a ClientHello, ...) until it closes */
    ssize_t r;
    while (p->got_len < sizeof p->got &&
           (r = recv(fd, p->got + p->got_len, sizeof p->got - p->got_len, 0)) > 0)
        p->got_len += (size_t)r;
    close(fd);
    return NULL;
}

static void peer_start(peer *p, pthread_t *th)
{
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(p->lfd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0; /* a free port */
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->lfd, 1), 0);
    socklen_t l = sizeof a;
    getsockname(p->lfd, (struct sockaddr *)&a, &l);
    p->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(th, NULL, peer_main, p), 0);
}

static void peer_join(peer *p, pthread_t th)
{
    pthread_join(th, NULL);
    close(p->lfd);
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_session),
        cmocka_unit_test(starttls_injection_tcp),
        cmocka_unit_test(drop_during_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
