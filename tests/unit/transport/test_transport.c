/*
 * Transport tests: TCP, the connect race, timeouts, SIGPIPE, the callback
 * transport, and TLS against real peers on loopback (tests/unit/transport/
 * peer.py, started once per run with certificates generated into a temp
 * directory, killed by PID at the end).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#if __has_include(<mbedtls/version.h>)
#include <mbedtls/version.h>
#else
#define MBEDTLS_VERSION_NUMBER 0
#endif
#include "testutil.h"

#include <mailproto/transport.h>

#define PEER MAILPROTO_TEST_SRCDIR "/unit/transport/peer.py"

/* Builds without Mbed TLS (-Dtls=disabled) skip the TLS cases. */
#define NEED_TLS()                                                                                 \
    do {                                                                                           \
        if (!MAILPROTO_HAS_TLS)                                                                    \
            skip();                                                                                \
    } while (0)

/* ------------------------------------------------------------------ */
/* The peer process                                                    */
/* ------------------------------------------------------------------ */

static char g_dir[64];
static pid_t g_peer = -1;
static int g_peer_out = -1; /* the peer's stdout */
static char g_linebuf[4096];
static size_t g_linelen;

struct port_entry {
    const char *name;
    uint16_t port;
};
static struct port_entry g_ports[] = {
    {"good", 0},      {"wrongname", 0},  {"expired", 0},  {"notyet", 0}, {"untrusted", 0},
    {"self", 0},      {"self2", 0},      {"clientauth", 0}, {"starttls", 0}, {"inject", 0},
    {"tls11", 0},
};

static uint16_t port_of(const char *name)
{
    for (size_t i = 0; i < sizeof g_ports / sizeof g_ports[0]; i++)
        if (strcmp(g_ports[i].name, name) == 0)
            return g_ports[i].port;
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One line from the peer's stdout, waiting at most timeout_ms. */
static int peer_line(char *out, size_t cap, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        char *nl = memchr(g_linebuf, '\n', g_linelen);
        if (nl) {
            size_t n = (size_t)(nl - g_linebuf);
            snprintf(out, cap, "%.*s", (int)n, g_linebuf);
            memmove(g_linebuf, nl + 1, g_linelen - n - 1);
            g_linelen -= n + 1;
            return 0;
        }
        uint64_t now = now_ms();
        if (now >= end)
            return -1;
        struct pollfd p = {g_peer_out, POLLIN, 0};
        if (poll(&p, 1, (int)(end - now)) <= 0)
            continue;
        ssize_t r = read(g_peer_out, g_linebuf + g_linelen, sizeof g_linebuf - 1 - g_linelen);
        if (r <= 0)
            return -1;
        g_linelen += (size_t)r;
    }
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mailproto-tp-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 '%s' gen '%s'", PEER, g_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "certificate generation failed\n");
        return -1;
    }
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    g_peer = fork();
    if (g_peer < 0)
        return -1;
    if (g_peer == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execlp("python3", "python3", PEER, "serve", g_dir, "120", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    g_peer_out = pfd[0];
    char line[256];
    while (peer_line(line, sizeof line, 20000) == 0) {
        if (strcmp(line, "ready") == 0)
            return 0;
        char name[64];
        unsigned port;
        if (sscanf(line, "%63s %u", name, &port) == 2)
            for (size_t i = 0; i < sizeof g_ports / sizeof g_ports[0]; i++)
                if (strcmp(g_ports[i].name, name) == 0)
                    g_ports[i].port = (uint16_t)port;
    }
    fprintf(stderr, "the peer did not start\n");
    return -1;
}

static pid_t g_sserver = -1; /* openssl s_server of test_renegotiation_refused */

static int group_teardown(void **state)
{
    (void)state;
    if (g_sserver > 0) { /* left behind by a failed assertion */
        kill(g_sserver, SIGTERM);
        waitpid(g_sserver, NULL, 0);
        g_sserver = -1;
    }
    if (g_peer > 0) {
        kill(g_peer, SIGTERM);
        waitpid(g_peer, NULL, 0);
        g_peer = -1;
    }
    if (g_peer_out >= 0)
        close(g_peer_out);
    if (g_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return 0;
}

static void path(char *buf, size_t cap, const char *file)
{
    snprintf(buf, cap, "%s/%s", g_dir, file);
}

static char *slurp(const char *file, size_t *len)
{
    char p[256];
    path(p, sizeof p, file);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static uint64_t g_fake_now;
static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return g_fake_now;
}

static mailproto_tcp_config tcp_cfg(uint16_t port)
{
    mailproto_tcp_config c;
    memset(&c, 0, sizeof c);
    c.host = "127.0.0.1";
    c.port = port;
    c.connect_timeout_ms = 10000;
    c.io_timeout_ms = 10000;
    return c;
}

/* Read exactly n bytes (blocking transport). */
static void recv_exact(mailproto_transport *t, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t d = 0;
        int rc = mailproto_transport_recv(t, buf + got, n - got, &d);
        assert_int_equal(rc, MAILPROTO_OK);
        assert_true(d > 0);
        got += d;
    }
    buf[n] = '\0';
}

static void recv_line(mailproto_transport *t, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        size_t d = 0;
        assert_int_equal(mailproto_transport_recv(t, buf + n, 1, &d), MAILPROTO_OK);
        assert_int_equal(d, 1);
        n++;
        if (buf[n - 1] == '\n')
            break;
    }
    buf[n] = '\0';
}

static void send_all(mailproto_transport *t, const void *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t d = 0;
        assert_int_equal(mailproto_transport_send(t, (const char *)p + off, n - off, &d),
                         MAILPROTO_OK);
        off += d;
    }
}

static mailproto_tls_config *tls_cfg_ca(void)
{
    char ca[256];
    path(ca, sizeof ca, "ca.pem");
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    o.ca_file = ca;
    mailproto_tls_config *c = NULL;
    char err[200];
    assert_int_equal(mailproto_tls_config_new(&c, &o, NULL, err, sizeof err), MAILPROTO_OK);
    return c;
}

/* Connect to a peer scenario and run the TLS handshake. */
static int tls_connect(const char *scenario, const mailproto_tls_config *cfg, const char *host,
                       mailproto_transport **out, test_trace *tr)
{
    mailproto_tcp_config c = tcp_cfg(port_of(scenario));
    if (tr) {
        c.trace = test_trace_fn;
        c.trace_ctx = tr;
    }
    int rc = mailproto_transport_tcp(out, &c, NULL);
    assert_int_equal(rc, MAILPROTO_OK);
    return mailproto_transport_start_tls(*out, cfg, host);
}

static void check_echo(mailproto_transport *t)
{
    char line[128];
    recv_line(t, line, sizeof line);
    assert_string_equal(line, "SNI localhost\r\n");
    send_all(t, "hello\r\n", 7);
    char back[8];
    recv_exact(t, back, 7);
    assert_string_equal(back, "hello\r\n");
}

/* ------------------------------------------------------------------ */
/* TLS: verification                                                   */
/* ------------------------------------------------------------------ */

static void test_tls_good_chain(void **state)
{
    NEED_TLS();
    (void)state;
    mailproto_tls_config *cfg = tls_cfg_ca();
    mailproto_transport *t = NULL;
    test_trace tr;
    memset(&tr, 0, sizeof tr);
    assert_int_equal(tls_connect("good", cfg, "localhost", &t, &tr), MAILPROTO_OK);
    assert_true(mailproto_transport_is_secure(t));
    assert_false(mailproto_transport_tls_resumed(t));
    check_echo(t); /* the peer reports the SNI it saw */
    assert_true(!MAILPROTO_HAS_TRACE || strstr(tr.buf, "TLS established with localhost"));
    assert_null(strstr(tr.buf, "DISABLED"));
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
}

static void expect_cert_failure(const char *scenario, int status, const char *words)
{
    NEED_TLS();
    mailproto_tls_config *cfg = tls_cfg_ca();
    mailproto_transport *t = NULL;
    assert_int_equal(tls_connect(scenario, cfg, "localhost", &t, NULL), status);
    const mailproto_reply *e = mailproto_transport_last_error(t);
    assert_int_equal(e->status, status);
    assert_non_null(strstr(e->message, words));
    assert_int_not_equal(e->tls_error, 0);
    assert_false(mailproto_transport_is_secure(t));
    size_t d = 0;
    assert_true(mailproto_transport_send(t, "x", 1, &d) < 0); /* dead */
    assert_int_equal(d, 0);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
}

static void test_tls_wrong_name(void **state)
{
    (void)state;
    expect_cert_failure("wrongname", MAILPROTO_E_CERT_NAME, "does not name localhost");
}

static void test_tls_expired(void **state)
{
    (void)state;
    expect_cert_failure("expired", MAILPROTO_E_CERT_EXPIRED, "has expired");
}

static void test_tls_not_yet_valid(void **state)
{
    (void)state;
    expect_cert_failure("notyet", MAILPROTO_E_CERT_EXPIRED, "not valid yet");
}

static void test_tls_untrusted_root(void **state)
{
    (void)state;
    expect_cert_failure("untrusted", MAILPROTO_E_CERT_UNTRUSTED, "trusted authority");
}

static void test_tls_self_signed_untrusted(void **state)
{
    (void)state;
    expect_cert_failure("self", MAILPROTO_E_CERT_UNTRUSTED, "trusted authority");
}

static void test_tls_name_checked_against_host(void **state)
{
    NEED_TLS();
    (void)state;
    /* The good certificate names localhost; asking for another name must
     * fail: the check is really made (mbedtls_ssl_set_hostname). */
    mailproto_tls_config *cfg = tls_cfg_ca();
    mailproto_transport *t = NULL;
    assert_int_equal(tls_connect("good", cfg, "mail.example.org", &t, NULL),
                     MAILPROTO_E_CERT_NAME);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
}

/* A server known by its address: Mbed TLS 2.28 matches the host only
 * against DNS names and the CN, so a certificate whose iPAddress SAN names
 * 127.0.0.1 still fails the name check (closed, never skipped); a pin is
 * the documented way to reach such a server. */
static void test_ip_host(void **state)
{
    NEED_TLS();
    (void)state;
    mailproto_tls_config *cfg = tls_cfg_ca();
    mailproto_transport *t = NULL;
    int rc = tls_connect("good", cfg, "127.0.0.1", &t, NULL);
#if MBEDTLS_VERSION_NUMBER < 0x03000000
    assert_int_equal(rc, MAILPROTO_E_CERT_NAME);
#else
    assert_true(rc == MAILPROTO_E_CERT_NAME || rc == MAILPROTO_OK);
#endif
    mailproto_transport_free(t);
    /* a certificate naming neither: refused whatever the version */
    t = NULL;
    assert_int_equal(tls_connect("wrongname", cfg, "127.0.0.1", &t, NULL), MAILPROTO_E_CERT_NAME);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
    /* pinned: the pin decides, the address is fine */
    char good_pin[128];
    snprintf(good_pin, sizeof good_pin, "%s", slurp("good.pin", NULL));
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    o.pin_cert_sha256 = good_pin;
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, NULL, 0), MAILPROTO_OK);
    t = NULL;
    assert_int_equal(tls_connect("good", cfg, "127.0.0.1", &t, NULL), MAILPROTO_OK);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* TLS: pins                                                           */
/* ------------------------------------------------------------------ */

static int pin_connect(const char *scenario, const char *pin_cert, const char *pin_key,
                       int with_ca)
{
    char ca[256];
    path(ca, sizeof ca, "ca.pem");
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    o.pin_cert_sha256 = pin_cert;
    o.pin_pubkey_sha256 = pin_key;
    if (with_ca)
        o.ca_file = ca;
    mailproto_tls_config *cfg = NULL;
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, NULL, 0), MAILPROTO_OK);
    mailproto_transport *t = NULL;
    int rc = tls_connect(scenario, cfg, "localhost", &t, NULL);
    if (rc == MAILPROTO_OK)
        check_echo(t);
    if (rc == MAILPROTO_E_CERT_PIN) {
        assert_non_null(strstr(mailproto_transport_last_error(t)->message, "pin"));
        assert_int_not_equal(mailproto_transport_last_error(t)->tls_error, 0);
    }
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
    return rc;
}

static void test_pin(void **state)
{
    NEED_TLS();
    (void)state;
    char self_pin[128], self_spki[128], self2_pin[128], good_pin[128];
    snprintf(self_pin, sizeof self_pin, "%s", slurp("self.pin", NULL));
    snprintf(self_spki, sizeof self_spki, "%s", slurp("self.spki", NULL));
    snprintf(self2_pin, sizeof self2_pin, "%s", slurp("self2.pin", NULL));
    snprintf(good_pin, sizeof good_pin, "%s", slurp("good.pin", NULL));
    /* the pinned self-signed certificate is accepted, by cert or by key */
    assert_int_equal(pin_connect("self", self_pin, NULL, 0), MAILPROTO_OK);
    assert_int_equal(pin_connect("self", NULL, self_spki, 0), MAILPROTO_OK);
    /* another self-signed certificate is refused */
    assert_int_equal(pin_connect("self2", self_pin, NULL, 0), MAILPROTO_E_CERT_PIN);
    assert_int_equal(pin_connect("self2", NULL, self_spki, 0), MAILPROTO_E_CERT_PIN);
    /* a pin also refuses a certificate that a CA would have accepted */
    assert_int_equal(pin_connect("good", self_pin, NULL, 1), MAILPROTO_E_CERT_PIN);
    assert_int_equal(pin_connect("good", good_pin, NULL, 1), MAILPROTO_OK);
}

static void test_bad_options(void **state)
{
    NEED_TLS();
    (void)state;
    mailproto_tls_options o;
    mailproto_tls_config *cfg = (mailproto_tls_config *)&o; /* must be reset to NULL */
    char err[200];
    memset(&o, 0, sizeof o);
    o.pin_cert_sha256 = "sha256:1234";
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, err, sizeof err),
                     MAILPROTO_E_INVALID);
    assert_null(cfg);
    assert_non_null(strstr(err, "pin_cert_sha256"));
    memset(&o, 0, sizeof o);
    o.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, err, sizeof err),
                     MAILPROTO_E_INVALID);
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    memset(&o, 0, sizeof o);
    o.ca_pem = "not a certificate";
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, err, sizeof err),
                     MAILPROTO_E_INVALID);
    memset(&o, 0, sizeof o);
    o.min_version = MAILPROTO_TLS_1_3; /* Debian's Mbed TLS 2.28 has no TLS 1.3 */
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, err, sizeof err),
                     MAILPROTO_E_UNSUPPORTED);
    memset(&o, 0, sizeof o);
    o.min_version = 0x0301;
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, err, sizeof err),
                     MAILPROTO_E_INVALID);
    memset(&o, 0, sizeof o);
    o.cert_file = "x.pem"; /* no key */
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, err, sizeof err),
                     MAILPROTO_E_INVALID);
    /* defaults: the system bundle */
    assert_int_equal(mailproto_tls_config_new(&cfg, NULL, NULL, err, sizeof err), MAILPROTO_OK);
    mailproto_tls_config_free(cfg);
    mailproto_tls_config_free(NULL);
}

static void test_insecure_says_so(void **state)
{
    NEED_TLS();
    (void)state;
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    o.insecure_skip_verify = 1;
    mailproto_tls_config *cfg = NULL;
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, NULL, 0), MAILPROTO_OK);
    for (int i = 0; i < 2; i++) { /* on every connection */
        test_trace tr;
        memset(&tr, 0, sizeof tr);
        mailproto_transport *t = NULL;
        assert_int_equal(tls_connect("self", cfg, "localhost", &t, &tr), MAILPROTO_OK);
        assert_true(!MAILPROTO_HAS_TRACE || strstr(tr.buf, "verification is DISABLED"));
        check_echo(t);
        mailproto_transport_free(t);
    }
    mailproto_tls_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* TLS: CA sources, client certificate, resumption                     */
/* ------------------------------------------------------------------ */

static void test_ca_dir_and_pem(void **state)
{
    NEED_TLS();
    (void)state;
    char dir[256];
    path(dir, sizeof dir, "cadir");
    size_t len = 0;
    const char *pem = slurp("ca.pem", &len);
    for (int variant = 0; variant < 3; variant++) {
        mailproto_tls_options o;
        memset(&o, 0, sizeof o);
        if (variant == 0)
            o.ca_dir = dir;
        else {
            o.ca_pem = pem;
            o.ca_pem_len = variant == 1 ? len : 0; /* explicit length, or strlen */
        }
        mailproto_tls_config *cfg = NULL;
        assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, NULL, 0), MAILPROTO_OK);
        mailproto_transport *t = NULL;
        assert_int_equal(tls_connect("good", cfg, "localhost", &t, NULL), MAILPROTO_OK);
        check_echo(t);
        mailproto_transport_free(t);
        /* and the same CA source still refuses a foreign root */
        assert_int_equal(tls_connect("untrusted", cfg, "localhost", &t, NULL),
                         MAILPROTO_E_CERT_UNTRUSTED);
        mailproto_transport_free(t);
        mailproto_tls_config_free(cfg);
    }
}

static void test_client_certificate(void **state)
{
    NEED_TLS();
    (void)state;
    char ca[256], cert[256], key[256];
    path(ca, sizeof ca, "ca.pem");
    path(cert, sizeof cert, "client.pem");
    path(key, sizeof key, "client.key");
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    o.ca_file = ca;
    o.cert_file = cert;
    o.key_file = key;
    mailproto_tls_config *cfg = NULL;
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, NULL, 0), MAILPROTO_OK);
    mailproto_transport *t = NULL;
    assert_int_equal(tls_connect("clientauth", cfg, "localhost", &t, NULL), MAILPROTO_OK);
    char line[128];
    recv_line(t, line, sizeof line);
    assert_string_equal(line, "CLIENT mailproto client\r\n");
    check_echo(t);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);

    /* an encrypted key: the right password works, a wrong one is refused */
    path(key, sizeof key, "client-enc.key");
    o.key_file = key;
    o.key_password = "wrong";
    char err[200];
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, err, sizeof err),
                     MAILPROTO_E_INVALID);
    assert_non_null(strstr(err, "client-enc.key"));
    o.key_password = "s3cret";
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, NULL, 0), MAILPROTO_OK);
    assert_int_equal(tls_connect("clientauth", cfg, "localhost", &t, NULL), MAILPROTO_OK);
    recv_line(t, line, sizeof line);
    assert_string_equal(line, "CLIENT mailproto client\r\n");
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);

    /* without one, the peer refuses us */
    cfg = tls_cfg_ca();
    int rc = tls_connect("clientauth", cfg, "localhost", &t, NULL);
    if (rc == MAILPROTO_OK) { /* refused after our Finished: the first read fails */
        size_t d = 0;
        rc = mailproto_transport_recv(t, line, sizeof line, &d);
        if (rc == MAILPROTO_OK && d == 0)
            rc = MAILPROTO_E_CLOSED;
    }
    assert_true(rc < 0);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
}

static void test_session_resumption(void **state)
{
    NEED_TLS();
    (void)state;
    mailproto_tls_config *cfg = tls_cfg_ca();
    uint64_t ms[3];
    for (int i = 0; i < 3; i++) {
        mailproto_transport *t = NULL;
        uint64_t t0 = now_ms();
        assert_int_equal(tls_connect("good", cfg, "localhost", &t, NULL), MAILPROTO_OK);
        ms[i] = now_ms() - t0;
        assert_int_equal(mailproto_transport_tls_resumed(t), i > 0);
        check_echo(t);
        mailproto_transport_free(t);
    }
    printf("# TLS connect+handshake: full %llu ms, resumed %llu / %llu ms\n",
           (unsigned long long)ms[0], (unsigned long long)ms[1], (unsigned long long)ms[2]);
    /* the cache is per host: another name does not resume (and fails its check) */
    mailproto_transport *t = NULL;
    assert_int_equal(tls_connect("good", cfg, "other.example", &t, NULL), MAILPROTO_E_CERT_NAME);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);

    /* no_session_cache: never resumes */
    char ca[256];
    path(ca, sizeof ca, "ca.pem");
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    o.ca_file = ca;
    o.no_session_cache = 1;
    assert_int_equal(mailproto_tls_config_new(&cfg, &o, NULL, NULL, 0), MAILPROTO_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tls_connect("good", cfg, "localhost", &t, NULL), MAILPROTO_OK);
        assert_false(mailproto_transport_tls_resumed(t));
        mailproto_transport_free(t);
    }
    mailproto_tls_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* STARTTLS                                                            */
/* ------------------------------------------------------------------ */


/* TLS over callbacks that wrap a real socket (defined further down). */
struct sock_io {
    int fd;
    unsigned calls; /* recv calls */
    size_t chunk;
    unsigned scalls; /* send calls: a counter of its own, or a strict
                        alternation could starve one direction */
};
static int sio_send(void *u, const void *buf, size_t len, size_t *done);
static int sio_recv(void *u, void *buf, size_t cap, size_t *done);
static int sio_fd(void *u);

static mailproto_transport *starttls_prelude(const char *scenario)
{
    mailproto_tcp_config c = tcp_cfg(port_of(scenario));
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_OK);
    char line[64];
    recv_exact(t, line, 11);
    assert_string_equal(line, "220 ready\r\n");
    send_all(t, "STARTTLS\r\n", 10);
    recv_exact(t, line, 14); /* exactly the go-ahead line, as an engine would */
    assert_string_equal(line, "220 go ahead\r\n");
    return t;
}

static void test_starttls_upgrade(void **state)
{
    NEED_TLS();
    (void)state;
    mailproto_tls_config *cfg = tls_cfg_ca();
    mailproto_transport *t = starttls_prelude("starttls");
    assert_false(mailproto_transport_is_secure(t));
    assert_int_equal(mailproto_transport_start_tls(t, cfg, "localhost"), MAILPROTO_OK);
    assert_true(mailproto_transport_is_secure(t));
    check_echo(t);
    /* a second upgrade is a state error */
    assert_int_equal(mailproto_transport_start_tls(t, cfg, "localhost"), MAILPROTO_E_STATE);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
}

static void test_starttls_injection(void **state)
{
    NEED_TLS();
    (void)state;
    mailproto_tls_config *cfg = tls_cfg_ca();
    mailproto_transport *t = starttls_prelude("inject");
    /* the injected line came in the same segment; make sure it is here */
    assert_int_equal(mailproto_transport_wait(t, MAILPROTO_IO_READ, 5000), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_start_tls(t, cfg, "localhost"),
                     MAILPROTO_E_STARTTLS_INJECTION);
    assert_int_equal(mailproto_transport_last_error(t)->status, MAILPROTO_E_STARTTLS_INJECTION);
    assert_false(mailproto_transport_is_secure(t));
    size_t d = 0;
    assert_true(mailproto_transport_send(t, "x", 1, &d) < 0);
    mailproto_transport_free(t);
    /* nothing more was sent: no ClientHello, no byte at all */
    char line[128];
    assert_int_equal(peer_line(line, sizeof line, 10000), 0);
    assert_string_equal(line, "inject-received 0");

    /* the same over a callback transport whose io->fd is the socket */
    t = starttls_prelude("inject");
    assert_int_equal(mailproto_transport_wait(t, MAILPROTO_IO_READ, 5000), MAILPROTO_OK);
    int fd = dup(mailproto_transport_fd(t));
    mailproto_transport_free(t);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    struct sock_io s = {fd, 1, 4096, 1};
    mailproto_io io = {MAILPROTO_IO_VERSION, &s, sio_send, sio_recv, NULL, NULL, NULL, sio_fd, NULL};
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_start_tls(t, cfg, "localhost"),
                     MAILPROTO_E_STARTTLS_INJECTION);
    assert_int_equal(s.scalls, 1); /* no send was even tried */
    mailproto_transport_free(t);
    close(fd);
    assert_int_equal(peer_line(line, sizeof line, 10000), 0);
    assert_string_equal(line, "inject-received 0");
    mailproto_tls_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* TCP: the race, timeouts, resets                                     */
/* ------------------------------------------------------------------ */

static int listen_on(int family, uint16_t *port, int backlog)
{
    int fd = socket(family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    if (backlog >= 0)
        assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                               : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void test_ipv6_refused_then_ipv4(void **state)
{
    (void)state;
    uint16_t p6, p4;
    int closed6 = listen_on(AF_INET6, &p6, -1); /* bound, not listening: refused */
    int open4 = listen_on(AF_INET, &p4, 4);
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    a6.sin6_port = htons(p6);
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a4.sin_port = htons(p4);
    /* given IPv4 first: the race still tries IPv6 first */
    const void *addrs[2] = {&a4, &a6};
    unsigned lens[2] = {sizeof a4, sizeof a6};
    test_trace tr;
    memset(&tr, 0, sizeof tr);
    mailproto_tcp_config c = tcp_cfg(p4);
    c.host = "localhost";
    c.trace = test_trace_fn;
    c.trace_ctx = &tr;
    mailproto_transport *t = NULL;
    /* a refusal starts the next address at once, not after 250 ms: the
     * fake clock never moves, yet the connect completes */
    c.nonblocking = 1;
    c.clock = fake_clock;
    g_fake_now = 7000;
    int rc = mailproto_transport_tcp_addrs(&t, &c, addrs, lens, 2, NULL);
    for (int i = 0; rc == MAILPROTO_AGAIN && i < 100; i++) {
        assert_int_equal(mailproto_transport_wait(t, mailproto_transport_io_interest(t), 1000),
                         MAILPROTO_OK);
        rc = mailproto_transport_step(t, g_fake_now);
    }
    assert_int_equal(rc, MAILPROTO_OK);
    if (MAILPROTO_HAS_TRACE) { /* IPv6 was tried first */
        char *v6 = strstr(tr.buf, "connecting to [::1]");
        char *v4 = strstr(tr.buf, "connecting to 127.0.0.1");
        assert_non_null(v6);
        assert_non_null(v4);
        assert_true(v6 < v4);
    }
    assert_true(!MAILPROTO_HAS_TRACE || strstr(tr.buf, "connected to 127.0.0.1"));
    int fd = mailproto_transport_fd(t);
    assert_true(fd >= 0);
    /* the accepted connection carries bytes */
    int s = accept(open4, NULL, NULL);
    assert_true(s >= 0);
    send_all(t, "ping", 4);
    char b[5] = {0};
    assert_int_equal(recv(s, b, 4, MSG_WAITALL), 4);
    assert_string_equal(b, "ping");
    close(s);
    mailproto_transport_free(t);

    /* everything refused: E_CONNECT, nothing handed back */
    c.nonblocking = 0;
    c.clock = NULL;
    const void *only6[1] = {&a6};
    unsigned l6[1] = {sizeof a6};
    t = (mailproto_transport *)&c;
    assert_int_equal(mailproto_transport_tcp_addrs(&t, &c, only6, l6, 1, NULL), MAILPROTO_E_CONNECT);
    assert_null(t);
    close(closed6);
    close(open4);
}

static void test_resolve_by_name(void **state)
{
    (void)state;
    uint16_t p4;
    int open4 = listen_on(AF_INET, &p4, 4);
    mailproto_tcp_config c = tcp_cfg(p4);
    c.host = "localhost";
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_OK);
    mailproto_transport_free(t);
    c.host = "nonexistent.invalid"; /* RFC 6761: never resolves */
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_E_RESOLVE);
    assert_null(t);
    /* the family filter */
    c.host = "127.0.0.1";
    c.family = 6;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_E_RESOLVE);
    c.family = 4;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_OK);
    mailproto_transport_free(t);
    c.family = 5;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_E_INVALID);
    c.family = 0;
    c.port = 0;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_E_INVALID);
    c.port = p4;
    c.host = NULL;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_transport_tcp(&t, NULL, NULL), MAILPROTO_E_INVALID);
    /* addresses of no usable family */
    struct sockaddr_storage un;
    memset(&un, 0, sizeof un);
    un.ss_family = AF_UNIX;
    const void *addrs[1] = {&un};
    unsigned lens[1] = {sizeof un};
    assert_int_equal(mailproto_transport_tcp_addrs(&t, &c, addrs, lens, 1, NULL),
                     MAILPROTO_E_INVALID);
    assert_null(t);
    assert_int_equal(mailproto_transport_tcp_addrs(&t, &c, addrs, lens, 0, NULL),
                     MAILPROTO_E_INVALID);
    close(open4);
}

/* A listening socket whose accept queue is full: new SYNs are dropped, so
 * a connect to it never completes. */
static int full_listener(uint16_t *port, int fill[4])
{
    int ls = listen_on(AF_INET, port, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(*port);
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM, 0);
        fcntl(fill[i], F_SETFL, O_NONBLOCK);
        (void)connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(50000);
    return ls;
}


static void test_connect_timeout_fake_clock(void **state)
{
    (void)state;
    uint16_t port;
    int fill[4];
    int ls = full_listener(&port, fill);
    mailproto_tcp_config c = tcp_cfg(port);
    c.nonblocking = 1;
    c.connect_timeout_ms = 30000;
    c.clock = fake_clock;
    g_fake_now = 1000000;
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_AGAIN);
    assert_non_null(t);
    assert_true(mailproto_transport_fd(t) >= 0);
    size_t d = 0;
    assert_int_equal(mailproto_transport_send(t, "x", 1, &d), MAILPROTO_E_STATE); /* not yet */
    assert_int_equal(mailproto_transport_start_tls(t, NULL, "localhost"), MAILPROTO_E_STATE);
    assert_int_equal(mailproto_transport_io_interest(t), MAILPROTO_IO_WRITE);
    assert_int_equal(mailproto_transport_timeout_ms(t, g_fake_now), 30000);
    assert_int_equal(mailproto_transport_step(t, g_fake_now + 100), MAILPROTO_AGAIN);
    assert_int_equal(mailproto_transport_timeout_ms(t, g_fake_now + 29000), 1000);
    assert_int_equal(mailproto_transport_step(t, g_fake_now + 29999), MAILPROTO_AGAIN);
    assert_int_equal(mailproto_transport_step(t, g_fake_now + 30000), MAILPROTO_E_TIMEOUT);
    assert_int_equal(mailproto_transport_last_error(t)->status, MAILPROTO_E_TIMEOUT);
    mailproto_transport_free(t);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(ls);
}

static void test_connect_timeout_blocking(void **state)
{
    (void)state;
    uint16_t port;
    int fill[4];
    int ls = full_listener(&port, fill);
    mailproto_tcp_config c = tcp_cfg(port);
    c.connect_timeout_ms = 300;
    mailproto_transport *t = NULL;
    uint64_t t0 = now_ms();
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_E_TIMEOUT);
    uint64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 5000);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(ls);
}

static void test_read_timeout(void **state)
{
    (void)state;
    uint16_t port;
    int ls = listen_on(AF_INET, &port, 4); /* the kernel accepts; nobody speaks */
    mailproto_tcp_config c = tcp_cfg(port);
    c.io_timeout_ms = 300;
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_OK);
    char b[16];
    size_t d = 99;
    uint64_t t0 = now_ms();
    assert_int_equal(mailproto_transport_recv(t, b, sizeof b, &d), MAILPROTO_E_TIMEOUT);
    uint64_t took = now_ms() - t0;
    assert_int_equal(d, 0);
    assert_true(took >= 250 && took < 5000);
    assert_non_null(strstr(mailproto_transport_last_error(t)->message, "timed out"));
    mailproto_transport_free(t);

    /* non-blocking: AGAIN with read interest, and wait() times out */
    c.nonblocking = 1;
    int rc = mailproto_transport_tcp(&t, &c, NULL);
    while (rc == MAILPROTO_AGAIN) {
        assert_int_equal(mailproto_transport_wait(t, MAILPROTO_IO_WRITE, 2000), MAILPROTO_OK);
        rc = mailproto_transport_step(t, now_ms());
    }
    assert_int_equal(rc, MAILPROTO_OK);
    assert_int_equal(mailproto_transport_recv(t, b, sizeof b, &d), MAILPROTO_AGAIN);
    assert_int_equal(mailproto_transport_io_interest(t), MAILPROTO_IO_READ);
    assert_int_equal(mailproto_transport_wait(t, MAILPROTO_IO_READ, 100), MAILPROTO_E_TIMEOUT);
    mailproto_transport_free(t);
    close(ls);
}

static void test_handshake_timeout_fake_clock(void **state)
{
    NEED_TLS();
    (void)state;
    uint16_t port;
    int ls = listen_on(AF_INET, &port, 4); /* never answers the ClientHello */
    mailproto_tcp_config c = tcp_cfg(port);
    c.nonblocking = 1;
    c.clock = fake_clock;
    c.connect_timeout_ms = 30000;
    g_fake_now = 5000;
    mailproto_transport *t = NULL;
    int rc = mailproto_transport_tcp(&t, &c, NULL);
    for (int i = 0; rc == MAILPROTO_AGAIN && i < 100; i++) {
        assert_int_equal(mailproto_transport_wait(t, mailproto_transport_io_interest(t), 2000),
                         MAILPROTO_OK);
        rc = mailproto_transport_step(t, g_fake_now);
    }
    assert_int_equal(rc, MAILPROTO_OK);
    mailproto_tls_config *cfg = tls_cfg_ca();
    g_fake_now = 10000;
    assert_int_equal(mailproto_transport_start_tls(t, cfg, "localhost"), MAILPROTO_AGAIN);
    assert_int_equal(mailproto_transport_io_interest(t), MAILPROTO_IO_READ);
    assert_int_equal(mailproto_transport_timeout_ms(t, 10000), 30000);
    assert_int_equal(mailproto_transport_step(t, 39999), MAILPROTO_AGAIN);
    assert_int_equal(mailproto_transport_step(t, 40000), MAILPROTO_E_TIMEOUT);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
    close(ls);
}

static void test_reset_no_sigpipe(void **state)
{
    (void)state;
    struct sigaction old, dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, &old); /* the default: SIGPIPE would kill us */
    uint16_t port;
    int ls = listen_on(AF_INET, &port, 4);
    mailproto_tcp_config c = tcp_cfg(port);
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_OK);
    int s = accept(ls, NULL, NULL);
    assert_true(s >= 0);
    struct linger lg = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s); /* RST */
    usleep(20000);
    int rc = MAILPROTO_OK;
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 100 && rc == MAILPROTO_OK; i++) {
        size_t d = 0;
        rc = mailproto_transport_send(t, buf, sizeof buf, &d);
    }
    assert_true(rc == MAILPROTO_E_CLOSED || rc == MAILPROTO_E_IO);
    assert_int_not_equal(mailproto_transport_last_error(t)->sys_errno, 0);
    mailproto_transport_free(t);
    close(ls);
    sigaction(SIGPIPE, &old, NULL);
}

/* ------------------------------------------------------------------ */
/* The callback transport                                              */
/* ------------------------------------------------------------------ */

/* An in-memory peer: what the client sends is appended to `sent`; recv
 * serves `script`.  Every other call answers AGAIN, and each call moves at
 * most `chunk` bytes. */
struct mem_peer {
    unsigned char sent[1 << 16];
    size_t sent_len;
    const unsigned char *script;
    size_t script_len, script_off;
    size_t chunk;
    unsigned calls, scalls;
    int closed;
};

static int mp_send(void *u, const void *buf, size_t len, size_t *done)
{
    struct mem_peer *p = u;
    if (p->scalls++ % 2 == 0)
        return MAILPROTO_AGAIN;
    size_t n = len < p->chunk ? len : p->chunk;
    if (n > sizeof p->sent - p->sent_len)
        return MAILPROTO_E_IO;
    memcpy(p->sent + p->sent_len, buf, n);
    p->sent_len += n;
    *done = n;
    return MAILPROTO_OK;
}

static int mp_recv(void *u, void *buf, size_t cap, size_t *done)
{
    struct mem_peer *p = u;
    if (p->calls++ % 2 == 0)
        return MAILPROTO_AGAIN;
    size_t n = p->script_len - p->script_off;
    if (n > cap)
        n = cap;
    if (n > p->chunk)
        n = p->chunk;
    memcpy(buf, p->script + p->script_off, n);
    p->script_off += n;
    *done = n;
    return MAILPROTO_OK;
}

static void mp_close(void *u)
{
    ((struct mem_peer *)u)->closed++;
}

static int mp_wait(void *u, int interest, int timeout_ms)
{
    (void)u;
    (void)timeout_ms;
    return interest ? MAILPROTO_OK : MAILPROTO_E_INVALID;
}

static void test_io_again_every_other_step(void **state)
{
    (void)state;
    static unsigned char script[5000], out[5000];
    for (size_t i = 0; i < sizeof script; i++)
        script[i] = (unsigned char)(i * 7 + 3);
    static struct mem_peer p;
    for (size_t chunk = 1; chunk <= 4099; chunk += 2049) {
        for (int blocking = 0; blocking < 2; blocking++) {
            memset(&p, 0, sizeof p);
            p.script = script;
            p.script_len = sizeof script;
            p.chunk = chunk;
            mailproto_io io = {MAILPROTO_IO_VERSION, &p, mp_send, mp_recv, mp_close, NULL, NULL,
                               NULL, blocking ? mp_wait : NULL};
            test_alloc a;
            mailproto_mem mem = test_mem(&a);
            mailproto_transport *t = NULL;
            assert_int_equal(mailproto_transport_io(&t, &io, &mem), MAILPROTO_OK);
            assert_int_equal(mailproto_transport_fd(t), -1);
            assert_false(mailproto_transport_is_secure(t));
            size_t off = 0;
            unsigned agains = 0;
            while (off < sizeof out) {
                size_t d = 0;
                int rc = mailproto_transport_send(t, script + off, sizeof out - off, &d);
                if (rc == MAILPROTO_AGAIN) {
                    assert_false(blocking);
                    assert_int_equal(d, 0);
                    assert_int_equal(mailproto_transport_io_interest(t), MAILPROTO_IO_WRITE);
                    agains++;
                    continue;
                }
                assert_int_equal(rc, MAILPROTO_OK);
                off += d;
            }
            off = 0;
            while (off < sizeof out) {
                size_t d = 0;
                int rc = mailproto_transport_recv(t, out + off, sizeof out - off, &d);
                if (rc == MAILPROTO_AGAIN) {
                    assert_false(blocking);
                    assert_int_equal(mailproto_transport_io_interest(t), MAILPROTO_IO_READ);
                    agains++;
                    continue;
                }
                assert_int_equal(rc, MAILPROTO_OK);
                assert_true(d > 0 && d <= chunk);
                off += d;
            }
            assert_true(blocking ? agains == 0 : agains > 0);
            assert_memory_equal(out, script, sizeof out);
            assert_int_equal(p.sent_len, sizeof script);
            assert_memory_equal(p.sent, script, sizeof script);
            /* the end: recv gives OK with 0 bytes */
            size_t d = 1;
            int rc;
            while ((rc = mailproto_transport_recv(t, out, 10, &d)) == MAILPROTO_AGAIN)
                ;
            assert_int_equal(rc, MAILPROTO_OK);
            assert_int_equal(d, 0);
            mailproto_transport_free(t);
            assert_int_equal(p.closed, 1);
            assert_int_equal(a.live, 0);
            assert_int_equal(a.size_errors, 0);
        }
    }
}

static int bad_send(void *u, const void *buf, size_t len, size_t *done)
{
    (void)u;
    (void)buf;
    *done = len + 1; /* lies */
    return MAILPROTO_OK;
}

static int err_recv(void *u, void *buf, size_t cap, size_t *done)
{
    (void)u;
    (void)buf;
    (void)cap;
    (void)done;
    return -1000; /* not a library status */
}

static void test_io_misbehaving_callbacks(void **state)
{
    (void)state;
    mailproto_io io = {MAILPROTO_IO_VERSION, NULL, bad_send, err_recv, NULL, NULL, NULL, NULL, NULL};
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
    size_t d = 0;
    char b[4];
    assert_int_equal(mailproto_transport_recv(t, b, sizeof b, &d), MAILPROTO_E_CALLBACK);
    mailproto_transport_free(t);
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_send(t, "ab", 2, &d), MAILPROTO_E_CALLBACK);
    assert_int_equal(d, 0);
    assert_int_equal(mailproto_transport_wait(t, MAILPROTO_IO_READ, 0), MAILPROTO_E_UNSUPPORTED);
    mailproto_transport_free(t);

    io.version = 99;
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_E_INVALID);
    io.version = MAILPROTO_IO_VERSION;
    io.recv = NULL;
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_transport_io(NULL, &io, NULL), MAILPROTO_E_INVALID);
    assert_non_null(mailproto_transport_last_error(NULL));
    assert_int_equal(mailproto_transport_fd(NULL), -1);
    mailproto_transport_free(NULL);
}

/* TLS over callbacks that wrap a real socket and answer AGAIN every other
 * call (and whenever the socket would block). */


static int sio_send(void *u, const void *buf, size_t len, size_t *done)
{
    struct sock_io *s = u;
    if (s->scalls++ % 2 == 0)
        return MAILPROTO_AGAIN;
    ssize_t r = send(s->fd, buf, len < s->chunk ? len : s->chunk, MSG_NOSIGNAL);
    if (r < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? MAILPROTO_AGAIN : MAILPROTO_E_IO;
    *done = (size_t)r;
    return MAILPROTO_OK;
}

static int sio_recv(void *u, void *buf, size_t cap, size_t *done)
{
    struct sock_io *s = u;
    if (s->calls++ % 2 == 0)
        return MAILPROTO_AGAIN;
    ssize_t r = recv(s->fd, buf, cap < s->chunk ? cap : s->chunk, 0);
    if (r < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? MAILPROTO_AGAIN : MAILPROTO_E_IO;
    *done = (size_t)r;
    return MAILPROTO_OK;
}

static int sio_fd(void *u)
{
    return ((struct sock_io *)u)->fd;
}

static int sio_wait(void *u, int interest, int timeout_ms)
{
    struct sock_io *s = u;
    struct pollfd p = {s->fd, (short)(((interest & MAILPROTO_IO_READ) ? POLLIN : 0) |
                                      ((interest & MAILPROTO_IO_WRITE) ? POLLOUT : 0)), 0};
    /* every other call is spurious AGAIN, so a ready socket may see
     * several waits: never block when the last call was a fake AGAIN */
    if (s->calls % 2 == 1 || s->scalls % 2 == 1)
        return MAILPROTO_OK;
    return poll(&p, 1, timeout_ms) > 0 ? MAILPROTO_OK : MAILPROTO_E_TIMEOUT;
}

static int raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Drive one non-blocking operation: poll on the fd for the interest. */
static void nb_wait(mailproto_transport *t)
{
    int in = mailproto_transport_io_interest(t);
    assert_true(in != 0);
    struct pollfd p = {mailproto_transport_fd(t),
                       (short)(((in & MAILPROTO_IO_READ) ? POLLIN : 0) |
                               ((in & MAILPROTO_IO_WRITE) ? POLLOUT : 0)),
                       0};
    assert_true(p.fd >= 0);
    poll(&p, 1, 50); /* short: fake AGAINs need no readiness */
}

static void test_tls_over_callbacks(void **state)
{
    NEED_TLS();
    (void)state;
    mailproto_tls_config *cfg = tls_cfg_ca();
    enum { N = 40000 };
    static unsigned char data[N], back[N];
    for (size_t i = 0; i < N; i++)
        data[i] = (unsigned char)(i * 31 + 1);
    for (int blocking = 0; blocking < 2; blocking++) {
        struct sock_io s = {raw_connect(port_of("good")), 0, blocking ? 7 : 1500, 0};
        mailproto_io io = {MAILPROTO_IO_VERSION, &s, sio_send, sio_recv, NULL, NULL, NULL,
                           sio_fd, blocking ? sio_wait : NULL};
        mailproto_transport *t = NULL;
        assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
        assert_int_equal(mailproto_transport_fd(t), s.fd);
        int rc = mailproto_transport_start_tls(t, cfg, "localhost");
        unsigned agains = 0;
        while (rc == MAILPROTO_AGAIN) {
            agains++;
            nb_wait(t);
            rc = mailproto_transport_step(t, now_ms());
        }
        assert_int_equal(rc, MAILPROTO_OK);
        assert_true(blocking ? agains == 0 : agains > 0);
        assert_true(mailproto_transport_is_secure(t));
        char line[64];
        size_t ln = 0;
        while (ln < 15) { /* "SNI localhost\r\n" */
            size_t d = 0;
            rc = mailproto_transport_recv(t, line + ln, 15 - ln, &d);
            if (rc == MAILPROTO_AGAIN) {
                nb_wait(t);
                continue;
            }
            assert_int_equal(rc, MAILPROTO_OK);
            assert_true(d > 0);
            ln += d;
        }
        assert_memory_equal(line, "SNI localhost\r\n", 15);
        /* interleave sending and receiving so the echo never stalls */
        size_t so = 0, ro = 0;
        while (ro < N) {
            if (so < N) {
                size_t d = 0;
                rc = mailproto_transport_send(t, data + so, N - so > 3000 ? 3000 : N - so, &d);
                assert_true(rc == MAILPROTO_OK || rc == MAILPROTO_AGAIN);
                so += d;
            }
            size_t d = 0;
            rc = mailproto_transport_recv(t, back + ro, N - ro, &d);
            if (rc == MAILPROTO_AGAIN) {
                /* edge-triggered safety: nothing decrypted is left behind */
                assert_int_equal(mailproto_transport_pending(t), 0);
                if (so >= N)
                    nb_wait(t);
                continue;
            }
            assert_int_equal(rc, MAILPROTO_OK);
            assert_true(d > 0);
            ro += d;
        }
        assert_memory_equal(back, data, N);
        mailproto_transport_free(t);
        close(s.fd);
    }
    mailproto_tls_config_free(cfg);
}

/* A callback transport made blocking by its wait callback measures its
 * handshake budget with the clock given by set_clock (here one that jumps
 * 300 ms per reading, so a silent peer times out after a few waits), and
 * its notes go to the hook given by set_trace. */
static uint64_t jumping_clock(void *ctx)
{
    (void)ctx;
    return g_fake_now += 300;
}

static void note_trace(void *ctx, int dir, int kind, const char *data, size_t len)
{
    (void)dir;
    (void)kind;
    char *buf = ctx;
    size_t have = strlen(buf);
    if (len > 1023 - have)
        len = 1023 - have;
    memcpy(buf + have, data, len);
    buf[have + len] = '\0';
}

static void test_io_set_clock_and_trace(void **state)
{
    NEED_TLS();
    (void)state;
    uint16_t port;
    int ls = listen_on(AF_INET, &port, 4); /* never answers the ClientHello */
    struct sock_io s = {raw_connect(port), 0, 4096, 0};
    mailproto_io io = {MAILPROTO_IO_VERSION, &s, sio_send, sio_recv, NULL, NULL, NULL, sio_fd, sio_wait};
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_set_clock(NULL, jumping_clock, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_transport_set_trace(NULL, note_trace, NULL), MAILPROTO_E_INVALID);
    static char notes[1024];
    notes[0] = '\0';
    assert_int_equal(mailproto_transport_set_trace(t, note_trace, notes), MAILPROTO_OK);
    g_fake_now = 1000;
    assert_int_equal(mailproto_transport_set_clock(t, jumping_clock, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_set_timeouts(t, 1000, 0), MAILPROTO_OK);
    mailproto_tls_config *cfg = tls_cfg_ca();
    uint64_t t0 = now_ms();
    assert_int_equal(mailproto_transport_start_tls(t, cfg, "localhost"), MAILPROTO_E_TIMEOUT);
    /* the fake clock ran out the 1000 ms budget, not the real one */
    assert_true(g_fake_now - 1000 >= 1000);
    assert_true(now_ms() - t0 < 1000 * 5);
    assert_non_null(strstr(notes, "TLS handshake with localhost"));
    /* NULL: the OS clock again; no hook: no notes */
    assert_int_equal(mailproto_transport_set_clock(t, NULL, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_set_trace(t, NULL, NULL), MAILPROTO_OK);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
    close(s.fd);
    close(ls);
}

/* Renegotiation is off: when the server asks for one (openssl s_server's
 * "r" command sends a TLS 1.2 HelloRequest), the client answers with the
 * no_renegotiation alert, which OpenSSL reports as "no renegotiation", and
 * never runs a second handshake.  Skipped without the openssl tool. */
static int read_until(int fd, char *buf, size_t cap, size_t *len, const char *what, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!strstr(buf, what)) {
        uint64_t t = now_ms();
        if (t >= end || *len + 1 >= cap)
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(end - t)) <= 0)
            continue;
        ssize_t r = read(fd, buf + *len, cap - 1 - *len);
        if (r <= 0)
            return 0;
        *len += (size_t)r;
        buf[*len] = '\0';
    }
    return 1;
}

static void test_renegotiation_refused(void **state)
{
    NEED_TLS();
    (void)state;
    if (access("/usr/bin/openssl", X_OK) != 0)
        skip();
    char cert[256], key[256];
    path(cert, sizeof cert, "good.pem");
    path(key, sizeof key, "good.key");
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(in[1]);
        close(out[0]);
        execl("/usr/bin/openssl", "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert,
              "-key", key, "-tls1_2", "-naccept", "1", (char *)NULL);
        _exit(127);
    }
    g_sserver = pid;
    close(in[0]);
    close(out[1]);
    static char log[8192];
    size_t len = 0;
    log[0] = '\0';
    assert_true(read_until(out[0], log, sizeof log, &len, "ACCEPT", 10000));
    const char *colon = strrchr(strstr(log, "ACCEPT"), ':');
    assert_non_null(colon);
    uint16_t port = (uint16_t)atoi(colon + 1);
    assert_true(port > 0);
    mailproto_tls_config *cfg = tls_cfg_ca();
    mailproto_tcp_config c = tcp_cfg(port);
    c.io_timeout_ms = 5000;
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_start_tls(t, cfg, "localhost"), MAILPROTO_OK);
    assert_true(read_until(out[0], log, sizeof log, &len, "CIPHER", 10000));
    assert_int_equal(write(in[1], "r\n", 2), 2);
    char b[64];
    size_t d = 0;
    int rc = mailproto_transport_recv(t, b, sizeof b, &d);
    /* the server gives up on the session: an error or a close, never data */
    assert_true(rc < 0 || (rc == MAILPROTO_OK && d == 0));
    assert_true(read_until(out[0], log, sizeof log, &len, "no renegotiation", 5000));
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
    close(in[1]);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    g_sserver = -1;
    close(out[0]);
}

/* Non-blocking TCP + TLS driven by fd / io_interest / timeout_ms only. */
static void test_nonblocking_tcp_tls(void **state)
{
    NEED_TLS();
    (void)state;
    mailproto_tls_config *cfg = tls_cfg_ca();
    mailproto_tcp_config c = tcp_cfg(port_of("good"));
    c.nonblocking = 1;
    mailproto_transport *t = NULL;
    int rc = mailproto_transport_tcp(&t, &c, NULL);
    while (rc == MAILPROTO_AGAIN) {
        assert_true(mailproto_transport_timeout_ms(t, now_ms()) >= 0);
        nb_wait(t);
        rc = mailproto_transport_step(t, now_ms());
    }
    assert_int_equal(rc, MAILPROTO_OK);
    assert_int_equal(mailproto_transport_timeout_ms(t, now_ms()), -1);
    rc = mailproto_transport_start_tls(t, cfg, "localhost");
    while (rc == MAILPROTO_AGAIN) {
        nb_wait(t);
        rc = mailproto_transport_step(t, now_ms());
    }
    assert_int_equal(rc, MAILPROTO_OK);
    /* data before the handshake finished would have been a state error */
    char line[32];
    size_t got = 0;
    while (got < 15) {
        size_t d = 0;
        rc = mailproto_transport_recv(t, line + got, 15 - got, &d);
        if (rc == MAILPROTO_AGAIN) {
            assert_int_equal(mailproto_transport_pending(t), 0);
            nb_wait(t);
            continue;
        }
        assert_int_equal(rc, MAILPROTO_OK);
        got += d;
    }
    assert_memory_equal(line, "SNI localhost\r\n", 15);
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
}

static void test_alloc_failures(void **state)
{
    NEED_TLS();
    (void)state;
    /* every allocation of config + connect + handshake failing in turn gives
     * NOMEM (or a TLS error wrapping it), never a crash or a leak */
    char ca[256];
    path(ca, sizeof ca, "ca.pem");
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    o.ca_file = ca;
    size_t n_ok = 0;
    for (size_t fail = 1; fail < 64; fail++) {
        test_alloc a;
        mailproto_mem mem = test_mem(&a);
        a.fail_at = fail;
        mailproto_tls_config *cfg = NULL;
        mailproto_transport *t = NULL;
        int rc = mailproto_tls_config_new(&cfg, &o, &mem, NULL, 0);
        if (rc == MAILPROTO_OK) {
            mailproto_tcp_config c = tcp_cfg(port_of("good"));
            rc = mailproto_transport_tcp(&t, &c, &mem);
            if (rc == MAILPROTO_OK)
                rc = mailproto_transport_start_tls(t, cfg, "localhost");
            mailproto_transport_free(t);
        }
        mailproto_tls_config_free(cfg);
        assert_int_equal(a.live, 0);
        assert_int_equal(a.size_errors, 0);
        if (rc == MAILPROTO_OK) {
            n_ok++;
            if (a.count < fail)
                break; /* no allocation left to fail */
        } else {
            assert_true(rc == MAILPROTO_E_NOMEM || rc == MAILPROTO_E_TLS ||
                        rc == MAILPROTO_E_INVALID);
        }
    }
    assert_true(n_ok >= 1);
}


static void test_tls_minimum_version(void **state)
{
    NEED_TLS();
    (void)state;
    /* the peer speaks TLS 1.0/1.1 only, which Mbed TLS 2.28 could do: our
     * TLS 1.2 floor refuses it */
    mailproto_tls_config *cfg = tls_cfg_ca();
    mailproto_transport *t = NULL;
    assert_int_equal(tls_connect("tls11", cfg, "localhost", &t, NULL), MAILPROTO_E_TLS);
    assert_int_not_equal(mailproto_transport_last_error(t)->tls_error, 0);
    assert_false(mailproto_transport_is_secure(t));
    mailproto_transport_free(t);
    mailproto_tls_config_free(cfg);
}

static void test_race_next_after_250ms(void **state)
{
    (void)state;
    /* IPv6 never answers (full accept queue), IPv4 is open: with a fake
     * clock, IPv4 is tried exactly 250 ms after IPv6 started */
    uint16_t p6, p4;
    int ls6 = listen_on(AF_INET6, &p6, 0);
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_loopback;
    a6.sin6_port = htons(p6);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET6, SOCK_STREAM, 0);
        fcntl(fill[i], F_SETFL, O_NONBLOCK);
        (void)connect(fill[i], (struct sockaddr *)&a6, sizeof a6);
    }
    usleep(50000);
    int open4 = listen_on(AF_INET, &p4, 4);
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a4.sin_port = htons(p4);
    const void *addrs[2] = {&a6, &a4};
    unsigned lens[2] = {sizeof a6, sizeof a4};
    test_trace tr;
    memset(&tr, 0, sizeof tr);
    mailproto_tcp_config c = tcp_cfg(p4);
    c.nonblocking = 1;
    c.clock = fake_clock;
    c.trace = test_trace_fn;
    c.trace_ctx = &tr;
    g_fake_now = 500;
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_tcp_addrs(&t, &c, addrs, lens, 2, NULL), MAILPROTO_AGAIN);
    assert_true(!MAILPROTO_HAS_TRACE || strstr(tr.buf, "connecting to [::1]"));
    assert_int_equal(mailproto_transport_timeout_ms(t, 500), 250);
    usleep(30000);
    assert_int_equal(mailproto_transport_step(t, 749), MAILPROTO_AGAIN);
    assert_null(strstr(tr.buf, "connecting to 127.0.0.1"));
    assert_int_equal(mailproto_transport_timeout_ms(t, 749), 1);
    int rc = mailproto_transport_step(t, 750);
    assert_true(!MAILPROTO_HAS_TRACE || strstr(tr.buf, "connecting to 127.0.0.1"));
    for (int i = 0; rc == MAILPROTO_AGAIN && i < 200; i++) {
        /* two attempts in flight: the caller is told to look again soon */
        assert_true(mailproto_transport_timeout_ms(t, 760) <= 25);
        usleep(5000);
        rc = mailproto_transport_step(t, 760);
    }
    assert_int_equal(rc, MAILPROTO_OK);
    assert_true(!MAILPROTO_HAS_TRACE || strstr(tr.buf, "connected to 127.0.0.1"));
    mailproto_transport_free(t);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(ls6);
    close(open4);
}

/* The caller's own TLS: start_tls answering AGAIN twice, then OK. */
struct own_tls {
    int calls;
    char host[64];
    int secure;
};

static int ot_send(void *u, const void *buf, size_t len, size_t *done)
{
    (void)u;
    (void)buf;
    *done = len;
    return MAILPROTO_OK;
}

static int ot_recv(void *u, void *buf, size_t cap, size_t *done)
{
    (void)u;
    (void)buf;
    (void)cap;
    *done = 0;
    return MAILPROTO_OK;
}

static int ot_start(void *u, const char *host)
{
    struct own_tls *o = u;
    snprintf(o->host, sizeof o->host, "%s", host);
    if (++o->calls < 3)
        return MAILPROTO_AGAIN;
    o->secure = 1;
    return MAILPROTO_OK;
}

static int ot_secure(void *u)
{
    return ((struct own_tls *)u)->secure;
}

static void test_io_own_start_tls(void **state)
{
    (void)state;
    struct own_tls o;
    memset(&o, 0, sizeof o);
    mailproto_io io = {MAILPROTO_IO_VERSION, &o, ot_send, ot_recv, NULL, ot_start, ot_secure,
                       NULL, NULL};
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_start_tls(t, NULL, NULL), MAILPROTO_E_INVALID); /* no host */
    assert_int_equal(mailproto_transport_start_tls(t, NULL, "mx.example"), MAILPROTO_AGAIN);
    assert_false(mailproto_transport_is_secure(t));
    size_t d = 0;
    assert_int_equal(mailproto_transport_send(t, "x", 1, &d), MAILPROTO_E_STATE); /* not yet */
    assert_int_equal(mailproto_transport_step(t, 0), MAILPROTO_AGAIN);
    assert_int_equal(mailproto_transport_step(t, 0), MAILPROTO_OK);
    assert_int_equal(o.calls, 3);
    assert_string_equal(o.host, "mx.example");
    assert_true(mailproto_transport_is_secure(t));
    assert_int_equal(mailproto_transport_send(t, "x", 1, &d), MAILPROTO_OK);
    assert_int_equal(d, 1);
    mailproto_transport_free(t);
#if !MAILPROTO_HAS_TLS
    /* a build without Mbed TLS: same functions, MAILPROTO_E_UNSUPPORTED */
    mailproto_tls_config *cfg = NULL;
    char err[100];
    assert_int_equal(mailproto_tls_config_new(&cfg, NULL, NULL, err, sizeof err),
                     MAILPROTO_E_UNSUPPORTED);
    assert_null(cfg);
    io.start_tls = NULL;
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_start_tls(t, NULL, "mx.example"), MAILPROTO_E_UNSUPPORTED);
    mailproto_transport_free(t);
#endif
}

/* A plaintext server on a TLS port (or a MitM answering the ClientHello
 * with garbage), its bytes given one at a time with AGAIN in between: a
 * clean MAILPROTO_E_TLS, never a crash. */
static void test_tls_garbage_from_server(void **state)
{
    (void)state;
    NEED_TLS();
    static const char garbage[][40] = {
        "220 mail.example ESMTP ready\r\n",
        "\x16\x03\x03\x00\x05\x02\x00\x00\x01\x00",  /* a truncated ServerHello */
        "\x15\x03\x03\x00\x02\x02\x28",              /* a fatal handshake_failure alert */
        "\x17\x03\x03\xff\xff",                      /* application data, too long */
    };
    static const size_t glen[] = {30, 10, 7, 5};
    mailproto_tls_config *cfg = tls_cfg_ca();
    for (size_t g = 0; g < sizeof glen / sizeof glen[0]; g++) {
        static struct mem_peer p;
        memset(&p, 0, sizeof p);
        p.script = (const unsigned char *)garbage[g];
        p.script_len = glen[g];
        p.chunk = 1;
        mailproto_io io = {MAILPROTO_IO_VERSION, &p, mp_send, mp_recv, NULL, NULL, NULL, NULL, NULL};
        mailproto_transport *t = NULL;
        assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
        int rc = mailproto_transport_start_tls(t, cfg, "localhost");
        for (int i = 0; rc == MAILPROTO_AGAIN && i < 10000; i++)
            rc = mailproto_transport_step(t, 0);
        /* the truncated ServerHello ends in EOF: closed; the rest: TLS */
        assert_true(rc == MAILPROTO_E_TLS || rc == MAILPROTO_E_CLOSED);
        if (g != 1)
            assert_int_equal(rc, MAILPROTO_E_TLS);
        assert_int_equal(mailproto_transport_last_error(t)->status, rc);
        assert_false(mailproto_transport_is_secure(t));
        assert_true(p.sent_len > 0); /* the ClientHello went out */
        assert_int_equal(p.sent[0], 0x16);
        mailproto_transport_free(t);
    }
    mailproto_tls_config_free(cfg);
}

static void test_write_timeout(void **state)
{
    (void)state;
    uint16_t port;
    int ls = listen_on(AF_INET, &port, 4); /* accepted by the kernel, never read */
    mailproto_tcp_config c = tcp_cfg(port);
    c.io_timeout_ms = 300;
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_tcp(&t, &c, NULL), MAILPROTO_OK);
    static char buf[65536];
    memset(buf, 'w', sizeof buf);
    int rc = MAILPROTO_OK;
    uint64_t total = 0, t0 = 0;
    for (int i = 0; i < 4096 && rc == MAILPROTO_OK; i++) { /* at most 256 MiB */
        size_t d = 0;
        t0 = now_ms();
        rc = mailproto_transport_send(t, buf, sizeof buf, &d);
        total += d;
    }
    uint64_t took = now_ms() - t0;
    assert_int_equal(rc, MAILPROTO_E_TIMEOUT);
    assert_true(total > 0);
    assert_true(took >= 250 && took < 5000);
    mailproto_transport_free(t);
    close(ls);
}

static int never_recv(void *u, void *buf, size_t cap, size_t *done)
{
    (void)u;
    (void)buf;
    (void)cap;
    (void)done;
    return MAILPROTO_AGAIN;
}

static int wait_times_out(void *u, int interest, int timeout_ms)
{
    int *calls = u;
    (*calls)++;
    (void)interest;
    return timeout_ms >= 0 ? MAILPROTO_E_TIMEOUT : MAILPROTO_E_INVALID;
}

static void test_io_wait_timeout(void **state)
{
    (void)state;
    int calls = 0;
    mailproto_io io = {MAILPROTO_IO_VERSION, &calls, ot_send, never_recv, NULL, NULL, NULL, NULL,
                       wait_times_out};
    mailproto_transport *t = NULL;
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_set_timeouts(t, 0, 1234), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_set_timeouts(t, -1, 0), MAILPROTO_E_INVALID);
    char b[4];
    size_t d = 0;
    assert_int_equal(mailproto_transport_recv(t, b, sizeof b, &d), MAILPROTO_E_TIMEOUT);
    assert_int_equal(calls, 1);
    assert_non_null(strstr(mailproto_transport_last_error(t)->message, "1234 ms"));
    /* switched to non-blocking, the same call says AGAIN */
    mailproto_transport_free(t);
    assert_int_equal(mailproto_transport_io(&t, &io, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_set_nonblocking(t, 1), MAILPROTO_OK);
    assert_int_equal(mailproto_transport_recv(t, b, sizeof b, &d), MAILPROTO_AGAIN);
    assert_int_equal(mailproto_transport_io_interest(t), MAILPROTO_IO_READ);
    assert_int_equal(calls, 1);
    mailproto_transport_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_good_chain),
        cmocka_unit_test(test_tls_wrong_name),
        cmocka_unit_test(test_tls_expired),
        cmocka_unit_test(test_tls_not_yet_valid),
        cmocka_unit_test(test_tls_untrusted_root),
        cmocka_unit_test(test_tls_self_signed_untrusted),
        cmocka_unit_test(test_tls_name_checked_against_host),
        cmocka_unit_test(test_pin),
        cmocka_unit_test(test_ip_host),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_insecure_says_so),
        cmocka_unit_test(test_ca_dir_and_pem),
        cmocka_unit_test(test_client_certificate),
        cmocka_unit_test(test_session_resumption),
        cmocka_unit_test(test_starttls_upgrade),
        cmocka_unit_test(test_starttls_injection),
        cmocka_unit_test(test_ipv6_refused_then_ipv4),
        cmocka_unit_test(test_resolve_by_name),
        cmocka_unit_test(test_connect_timeout_fake_clock),
        cmocka_unit_test(test_connect_timeout_blocking),
        cmocka_unit_test(test_read_timeout),
        cmocka_unit_test(test_handshake_timeout_fake_clock),
        cmocka_unit_test(test_reset_no_sigpipe),
        cmocka_unit_test(test_io_again_every_other_step),
        cmocka_unit_test(test_io_misbehaving_callbacks),
        cmocka_unit_test(test_tls_over_callbacks),
        cmocka_unit_test(test_io_set_clock_and_trace),
        cmocka_unit_test(test_renegotiation_refused),
        cmocka_unit_test(test_nonblocking_tcp_tls),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_tls_minimum_version),
        cmocka_unit_test(test_race_next_after_250ms),
        cmocka_unit_test(test_io_own_start_tls),
        cmocka_unit_test(test_tls_garbage_from_server),
        cmocka_unit_test(test_write_timeout),
        cmocka_unit_test(test_io_wait_timeout),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
