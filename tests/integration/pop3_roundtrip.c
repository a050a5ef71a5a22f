/*
 * POP3 against the local Dovecot (run through tests/servers/with-servers):
 * a message sent through Postfix with the SMTP client is listed, fetched
 * byte for byte (the sent bytes are the tail of what RETR gives, after the
 * headers the servers prepend), deleted, and gone after QUIT -- once over
 * STLS (POP3_PORT) and once over implicit TLS (POP3S_PORT).  Also a
 * non-blocking session driven by poll(2), the TLS-required refusal of a
 * plain login, and a wrong password reported as MAILPROTO_E_AUTH.
 * Exits 0 on success, 1 with a reason on failure.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mailproto/mailproto.h>
#include <mailproto/transport.h>

static const char *host, *user1, *pass1, *user2, *pass2;
static int smtp_port, pop3_port, pop3s_port;
static mailproto_tls_config *tls;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "pop3_roundtrip: " __VA_ARGS__);                                           \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

static const char *need(const char *k)
{
    const char *v = getenv(k);
    if (!v || !*v) {
        fprintf(stderr, "pop3_roundtrip: %s is not set (run through tests/servers/with-servers)\n", k);
        exit(77);
    }
    return v;
}

static void send_message(const char *msg)
{
    mailproto_smtp_config c;
    memset(&c, 0, sizeof c);
    c.host = host;
    c.port = (uint16_t)smtp_port;
    c.security = MAILPROTO_SEC_STARTTLS;
    c.tls = tls;
    c.username = user1;
    c.password = pass1;
    mailproto_smtp *s = NULL;
    if (mailproto_smtp_new(&s, &c, NULL) != MAILPROTO_OK)
        FAIL("smtp_new");
    int rc = mailproto_smtp_connect(s);
    if (rc != MAILPROTO_OK)
        FAIL("SMTP connect: %s (%s)", mailproto_errname(rc), mailproto_smtp_last_reply(s)->message);
    const char *rcpt[] = {user2};
    mailproto_envelope env;
    memset(&env, 0, sizeof env);
    env.from = user1;
    env.rcpt = rcpt;
    env.n_rcpt = 1;
    mailproto_source src;
    mailproto_source_mem(&src, msg, strlen(msg));
    rc = mailproto_smtp_send(s, &env, &src, NULL);
    if (rc != MAILPROTO_OK)
        FAIL("SMTP send: %s (%s)", mailproto_errname(rc), mailproto_smtp_last_reply(s)->text);
    mailproto_smtp_quit(s);
    mailproto_smtp_free(s);
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int buf_write(void *ctx, const void *d, size_t n)
{
    buf *b = ctx;
    if (b->len + n > b->cap) {
        size_t nc = (b->len + n) * 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return MAILPROTO_E_NOMEM;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    return MAILPROTO_OK;
}

/* What the progress callback saw last (RETR: total from "+OK n octets"). */
static uint64_t prog_done, prog_total;

static int on_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    prog_done = done;
    prog_total = total;
    return 0;
}

static mailproto_pop3 *pop3_open(int implicit, int nonblocking)
{
    mailproto_pop3_config c;
    memset(&c, 0, sizeof c);
    c.host = host;
    c.port = (uint16_t)(implicit ? pop3s_port : pop3_port);
    c.security = implicit ? MAILPROTO_SEC_TLS : MAILPROTO_SEC_STARTTLS;
    c.tls = tls;
    c.username = user2;
    c.password = pass2;
    c.nonblocking = nonblocking;
    c.timeout_ms = 15000;
    c.inactivity_timeout_ms = 15000;
    c.progress = on_progress;
    mailproto_pop3 *p = NULL;
    if (mailproto_pop3_new(&p, &c, NULL) != MAILPROTO_OK)
        FAIL("pop3_new");
    if (nonblocking)
        return p;
    int rc = mailproto_pop3_connect(p);
    if (rc != MAILPROTO_OK)
        FAIL("POP3 connect (%s): %s (%s / %s)", implicit ? "implicit TLS" : "STLS",
             mailproto_errname(rc), mailproto_pop3_last_reply(p)->message,
             mailproto_pop3_last_reply(p)->text);
    if (!mailproto_pop3_is_secure(p))
        FAIL("POP3 session not secure");
    return p;
}

typedef struct listing {
    uint32_t msgs[4096];
    uint64_t sizes[4096];
    size_t n;
} listing;

static int on_list(void *ctx, const mailproto_pop3_event *ev)
{
    listing *l = ctx;
    if (l->n < 4096) {
        l->msgs[l->n] = ev->msg;
        l->sizes[l->n++] = ev->size;
    }
    return 0;
}

/* The number of the message whose headers carry mid, or 0. */
static uint32_t find(mailproto_pop3 *p, const char *mid, uint64_t *size)
{
    static listing l;
    l.n = 0;
    int rc = mailproto_pop3_list(p, 0, on_list, &l);
    if (rc != MAILPROTO_OK)
        FAIL("LIST: %s", mailproto_errname(rc));
    for (size_t i = 0; i < l.n; i++) {
        buf b = {NULL, 0, 0};
        mailproto_sink sink = {buf_write, &b};
        rc = mailproto_pop3_top(p, l.msgs[i], 0, &sink, NULL);
        if (rc != MAILPROTO_OK)
            FAIL("TOP %lu: %s", (unsigned long)l.msgs[i], mailproto_errname(rc));
        int hit = b.len && buf_write(&b, "", 1) == MAILPROTO_OK && strstr(b.p, mid) != NULL;
        free(b.p);
        if (hit) {
            *size = l.sizes[i];
            return l.msgs[i];
        }
    }
    return 0;
}

static void roundtrip(int implicit)
{
    char mid[128], msg[1024];
    snprintf(mid, sizeof mid, "<pop3-%s-%ld-%ld@mailproto.test>", implicit ? "tls" : "stls",
             (long)getpid(), (long)time(NULL));
    snprintf(msg, sizeof msg,
             "From: %s\r\nTo: %s\r\nSubject: pop3 round trip\r\nMessage-ID: %s\r\n"
             "Date: Mon, 30 Nov 2026 01:00:00 +0000\r\n\r\nfirst line\r\n.a line with a dot\r\n"
             "..two dots\r\n.\r\n\r\nlast line\r\n",
             user1, user2, mid);
    send_message(msg);
    /* delivery is asynchronous; a POP3 session sees the mailbox as it was at login */
    uint32_t n = 0;
    uint64_t size = 0;
    mailproto_pop3 *p = NULL;
    for (int tries = 0; tries < 100 && !n; tries++) {
        p = pop3_open(implicit, 0);
        n = find(p, mid, &size);
        if (!n) {
            mailproto_pop3_quit(p);
            mailproto_pop3_free(p);
            p = NULL;
            usleep(200000);
        }
    }
    if (!n)
        FAIL("%s: the message never arrived", implicit ? "implicit TLS" : "STLS");
    buf b = {NULL, 0, 0};
    mailproto_sink sink = {buf_write, &b};
    uint64_t w = 0;
    prog_done = 0;
    prog_total = 0;
    int rc = mailproto_pop3_retr(p, n, &sink, &w);
    if (rc != MAILPROTO_OK)
        FAIL("RETR: %s", mailproto_errname(rc));
    size_t ml = strlen(msg);
    if (w != b.len || b.len < ml || memcmp(b.p + b.len - ml, msg, ml) != 0)
        FAIL("RETR: the message is not byte-for-byte what was sent (%zu bytes)", b.len);
    if (size != b.len)
        FAIL("LIST said %llu octets, RETR gave %zu", (unsigned long long)size, b.len);
    if (prog_done != b.len || prog_total != size)
        FAIL("RETR progress ended at %llu of %llu, expected %zu of %llu",
             (unsigned long long)prog_done, (unsigned long long)prog_total, b.len,
             (unsigned long long)size);
    free(b.p);
    rc = mailproto_pop3_dele(p, n);
    if (rc != MAILPROTO_OK)
        FAIL("DELE: %s", mailproto_errname(rc));
    rc = mailproto_pop3_quit(p);
    if (rc != MAILPROTO_OK || mailproto_pop3_outcome(p) != MAILPROTO_POP3_OUTCOME_COMMITTED)
        FAIL("QUIT: %s", mailproto_errname(rc));
    mailproto_pop3_free(p);
    p = pop3_open(implicit, 0);
    if (find(p, mid, &size) != 0)
        FAIL("the message is still there after DELE and QUIT");
    mailproto_pop3_quit(p);
    mailproto_pop3_free(p);
    printf("ok %s: listed, fetched byte for byte (%llu octets), deleted\n",
           implicit ? "implicit TLS" : "STLS", (unsigned long long)size);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void nonblocking_stat(void)
{
    mailproto_pop3 *p = pop3_open(1, 1);
    int rc = mailproto_pop3_connect(p);
    if (rc != MAILPROTO_AGAIN)
        FAIL("non-blocking connect: %s", mailproto_errname(rc));
    int done = 0;
    uint32_t count = 0;
    uint64_t deadline = now_ms() + 20000;
    while (!done && now_ms() < deadline) {
        const mailproto_pop3_event *ev;
        rc = mailproto_pop3_poll(p, now_ms(), &ev);
        if (rc == MAILPROTO_AGAIN) {
            struct pollfd pf = {mailproto_pop3_fd(p), 0, 0};
            int in = mailproto_pop3_io_interest(p);
            pf.events = (short)(((in & MAILPROTO_IO_READ) ? POLLIN : 0) |
                                ((in & MAILPROTO_IO_WRITE) ? POLLOUT : 0));
            int t = mailproto_pop3_timeout_ms(p, now_ms());
            poll(&pf, 1, t < 0 || t > 1000 ? 1000 : t);
            continue;
        }
        if (rc != MAILPROTO_EVENT)
            FAIL("non-blocking poll: %s (%s)", mailproto_errname(rc),
                 mailproto_pop3_last_reply(p)->message);
        if (ev->type == MAILPROTO_POP3_EV_READY) {
            if (mailproto_pop3_submit(p, MAILPROTO_POP3_STAT, 0, 0, NULL) != MAILPROTO_OK ||
                mailproto_pop3_quit(p) != MAILPROTO_OK)
                FAIL("submit");
        } else if (ev->type == MAILPROTO_POP3_EV_DONE) {
            if (ev->status != MAILPROTO_OK)
                FAIL("STAT: %s", mailproto_errname(ev->status));
            count = ev->count;
        } else if (ev->type == MAILPROTO_POP3_EV_CLOSED) {
            done = ev->status == MAILPROTO_OK;
        }
    }
    if (!done)
        FAIL("non-blocking session did not finish");
    mailproto_pop3_free(p);
    printf("ok non-blocking: STAT %lu messages, QUIT\n", (unsigned long)count);
}

static void refusals(void)
{
    /* PLAIN with credentials but without allow_plaintext_auth: nothing sent */
    mailproto_pop3_config c;
    memset(&c, 0, sizeof c);
    c.host = host;
    c.port = (uint16_t)pop3_port;
    c.security = MAILPROTO_SEC_PLAIN;
    c.username = user2;
    c.password = pass2;
    mailproto_pop3 *p = NULL;
    if (mailproto_pop3_new(&p, &c, NULL) != MAILPROTO_OK)
        FAIL("pop3_new");
    int rc = mailproto_pop3_connect(p);
    if (rc != MAILPROTO_E_TLS_REQUIRED)
        FAIL("plain login without permission gave %s", mailproto_errname(rc));
    mailproto_pop3_free(p);
    /* a wrong password */
    memset(&c, 0, sizeof c);
    c.host = host;
    c.port = (uint16_t)pop3s_port;
    c.security = MAILPROTO_SEC_TLS;
    c.inactivity_timeout_ms = 15000;
    c.tls = tls;
    c.username = user2;
    c.password = "wrong password";
    c.login = MAILPROTO_POP3_LOGIN_USER;
    if (mailproto_pop3_new(&p, &c, NULL) != MAILPROTO_OK)
        FAIL("pop3_new");
    rc = mailproto_pop3_connect(p);
    if (rc != MAILPROTO_E_AUTH)
        FAIL("wrong password gave %s", mailproto_errname(rc));
    printf("ok refusals: TLS required before USER; wrong password -> E_AUTH [%s] %s\n",
           mailproto_pop3_last_reply(p)->resp_code, mailproto_pop3_last_reply(p)->text);
    mailproto_pop3_quit(p);
    mailproto_pop3_free(p);
}

int main(void)
{
    host = "localhost";
    smtp_port = atoi(need("SMTP_PORT"));
    pop3_port = atoi(need("POP3_PORT"));
    pop3s_port = atoi(need("POP3S_PORT"));
    user1 = need("USER1");
    pass1 = need("PASS1");
    user2 = need("USER2");
    pass2 = need("PASS2");
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    o.ca_file = need("CA_FILE");
    char err[256] = "";
    if (mailproto_tls_config_new(&tls, &o, NULL, err, sizeof err) != MAILPROTO_OK)
        FAIL("TLS config: %s", err);
    roundtrip(0);
    roundtrip(1);
    nonblocking_stat();
    refusals();
    mailproto_tls_config_free(tls);
    return 0;
}
