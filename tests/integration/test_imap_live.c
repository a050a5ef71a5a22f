/*
 * The IMAP client against the real Dovecot of tests/servers (run through
 * tests/servers/with-servers, which exports the stack's env keys).
 *
 * Checks: LIST, STATUS, SEARCH, flags, COPY, MOVE, delete + expunge,
 * CREATE/RENAME/DELETE of a mailbox, APPEND returning a UID, IDLE seeing a
 * message delivered through submission (Postfix -> LMTP -> Dovecot) within
 * 15 s, 20 connections driven at once from one poll() loop with the
 * non-blocking API, a wrong password (MAILPROTO_E_AUTH), and an untrusted
 * CA (a certificate status, nothing sent after the handshake).
 *
 * Messages are found by a unique Message-ID, so a shared stack is fine.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mailproto/mailproto.h>
#include <mailproto/transport.h>

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_RC(h, call)                                                                          \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != MAILPROTO_OK) {                                                                 \
            const mailproto_reply *r_ = mailproto_imap_last_reply(h);                              \
            fprintf(stderr, "FAIL %s:%d: %s -> %s (%s) %.*s\n", __FILE__, __LINE__, #call,         \
                    mailproto_errname(rc_), r_->message ? r_->message : "", (int)r_->text_len,      \
                    r_->text);                                                                     \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static const char *env(const char *k)
{
    const char *v = getenv(k);
    if (!v || !*v) {
        fprintf(stderr, "missing %s (run through tests/servers/with-servers)\n", k);
        exit(1);
    }
    return v;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static mailproto_tls_config *tls;
static char uniq[64];

static mailproto_imap_config cfg_for(const char *user, const char *pass, int implicit)
{
    mailproto_imap_config c;
    memset(&c, 0, sizeof c);
    c.host = "localhost";
    c.port = (uint16_t)atoi(env(implicit ? "IMAPS_PORT" : "IMAP_PORT"));
    c.security = implicit ? MAILPROTO_SEC_TLS : MAILPROTO_SEC_STARTTLS;
    c.tls = tls;
    c.username = user;
    c.password = pass;
    c.timeout_ms = 10000;
    c.inactivity_timeout_ms = 10000;
    return c;
}

static mailproto_imap *open_session(int implicit)
{
    mailproto_imap_config c = cfg_for(env("USER1"), env("PASS1"), implicit);
    mailproto_imap *h = NULL;
    if (mailproto_imap_new(&h, &c, NULL) != MAILPROTO_OK)
        return NULL;
    int rc = mailproto_imap_connect(h);
    if (rc != MAILPROTO_OK) {
        fprintf(stderr, "connect: %s %s\n", mailproto_errname(rc), mailproto_imap_last_reply(h)->message);
        mailproto_imap_free(h);
        return NULL;
    }
    return h;
}

static void msg_text(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap,
             "From: Bob <bob@mailproto.test>\r\nTo: alice@mailproto.test\r\nSubject: live %s %s\r\n"
             "Message-ID: <%s.%s@mailproto.test>\r\n\r\nbody of %s\r\n",
             tag, uniq, tag, uniq, tag);
}

/* UIDs of messages whose Message-ID is <tag.uniq@...> */
static uint32_t find_uid(mailproto_imap *h, const char *tag)
{
    char mid[128];
    snprintf(mid, sizeof mid, "<%s.%s@mailproto.test>", tag, uniq);
    mailproto_imap_criteria c;
    mailproto_imap_criteria_init(&c);
    mailproto_imap_criteria_header(&c, "Message-ID", mid);
    mailproto_imap_range r[4];
    mailproto_imap_uidset set;
    memset(&set, 0, sizeof set);
    set.ranges = r;
    set.cap = 4;
    if (mailproto_imap_search(h, 1, &c, 0, &set) != MAILPROTO_OK || set.n != 1 || r[0].first != r[0].last)
        return 0;
    return r[0].first;
}

static int list_found;
static int list_cb(void *ctx, const mailproto_imap_list_entry *e)
{
    const char *want = ctx;
    if (!e->is_status && !strcmp(e->name, want))
        list_found++;
    return 0;
}

static void test_mailbox_ops(void)
{
    mailproto_imap *h = open_session(0);
    CHECK(h != NULL);
    if (!h)
        return;
    CHECK(mailproto_imap_is_secure(h));
    /* APPEND returning a UID */
    char msg[512];
    msg_text(msg, sizeof msg, "append");
    mailproto_source src;
    mailproto_source_mem(&src, msg, strlen(msg));
    CHECK_RC(h, mailproto_imap_append(h, "INBOX", "\\Seen", 0, 0, &src));
    uint32_t appended = mailproto_imap_last_result(h)->append_uid;
    CHECK(appended > 0);
    /* STATUS */
    mailproto_imap_status_items st;
    CHECK_RC(h, mailproto_imap_status(h, "INBOX", MAILPROTO_IMAP_STATUS_MESSAGES | MAILPROTO_IMAP_STATUS_UIDNEXT, &st));
    CHECK(st.messages >= 1 && st.uidnext > appended);
    /* SEARCH */
    CHECK_RC(h, mailproto_imap_select(h, "INBOX", 0));
    CHECK(mailproto_imap_mailbox_state(h)->exists >= 1);
    CHECK(mailproto_imap_mailbox_state(h)->uidvalidity > 0);
    uint32_t uid = find_uid(h, "append");
    CHECK(uid == appended);
    /* flags */
    mailproto_imap_range r = {uid, uid};
    CHECK_RC(h, mailproto_imap_store(h, 1, &r, 1, MAILPROTO_IMAP_STORE_ADD, "\\Flagged", 0));
    mailproto_imap_criteria fc;
    mailproto_imap_criteria_init(&fc);
    mailproto_imap_criteria_key(&fc, "FLAGGED");
    mailproto_imap_criteria_set(&fc, 1, &r, 1);
    mailproto_imap_range fr[4];
    mailproto_imap_uidset fs;
    memset(&fs, 0, sizeof fs);
    fs.ranges = fr;
    fs.cap = 4;
    CHECK_RC(h, mailproto_imap_search(h, 1, &fc, 0, &fs));
    CHECK(fs.count == 1);
    /* CREATE / RENAME, COPY, MOVE, delete + expunge, DELETE */
    char box[128], box2[128];
    snprintf(box, sizeof box, "Live-%s-\xc3\xa4", uniq);
    snprintf(box2, sizeof box2, "Live2-%s", uniq);
    CHECK_RC(h, mailproto_imap_create(h, box));
    list_found = 0;
    CHECK_RC(h, mailproto_imap_list(h, "", "*", MAILPROTO_IMAP_LIST_SPECIAL_USE, list_cb, box));
    CHECK(list_found == 1);
    CHECK_RC(h, mailproto_imap_rename(h, box, box2));
    CHECK_RC(h, mailproto_imap_copy(h, 1, &r, 1, box2));
    CHECK(mailproto_imap_last_result(h)->n_copy_dst == 1);
    CHECK_RC(h, mailproto_imap_move(h, 1, &r, 1, box2));
    CHECK(find_uid(h, "append") == 0);
    CHECK_RC(h, mailproto_imap_status(h, box2, MAILPROTO_IMAP_STATUS_MESSAGES, &st));
    CHECK(st.messages == 2);
    CHECK_RC(h, mailproto_imap_select(h, box2, 0));
    mailproto_imap_range all = {1, 0};
    CHECK_RC(h, mailproto_imap_store(h, 0, &all, 1, MAILPROTO_IMAP_STORE_ADD | MAILPROTO_IMAP_STORE_SILENT,
                                     "\\Deleted", 0));
    CHECK_RC(h, mailproto_imap_expunge(h));
    CHECK(mailproto_imap_mailbox_state(h)->exists == 0);
    CHECK_RC(h, mailproto_imap_close(h));
    CHECK_RC(h, mailproto_imap_delete(h, box2));
    CHECK(mailproto_imap_delete(h, box2) == MAILPROTO_E_REJECTED);
    CHECK_RC(h, mailproto_imap_logout(h));
    mailproto_imap_free(h);
}

/* ---- IDLE sees a message delivered through submission ---- */
static int submit(const char *tag)
{
    mailproto_smtp_config c;
    memset(&c, 0, sizeof c);
    c.host = "localhost";
    c.port = (uint16_t)atoi(env("SMTP_PORT"));
    c.security = MAILPROTO_SEC_STARTTLS;
    c.tls = tls;
    c.username = env("USER2");
    c.password = env("PASS2");
    mailproto_smtp *s = NULL;
    int rc = mailproto_smtp_new(&s, &c, NULL);
    if (rc == MAILPROTO_OK)
        rc = mailproto_smtp_connect(s);
    char msg[512];
    msg_text(msg, sizeof msg, tag);
    mailproto_source src;
    mailproto_source_mem(&src, msg, strlen(msg));
    const char *rcpt[] = {env("USER1")};
    mailproto_envelope envl;
    memset(&envl, 0, sizeof envl);
    envl.from = env("USER2");
    envl.rcpt = rcpt;
    envl.n_rcpt = 1;
    if (rc == MAILPROTO_OK)
        rc = mailproto_smtp_send(s, &envl, &src, NULL);
    if (rc != MAILPROTO_OK)
        fprintf(stderr, "submit: %s %s\n", mailproto_errname(rc), mailproto_smtp_last_reply(s)->message);
    mailproto_smtp_free(s);
    return rc;
}

static void test_idle_delivery(void)
{
    mailproto_imap *h = open_session(1);
    CHECK(h != NULL);
    if (!h)
        return;
    CHECK_RC(h, mailproto_imap_select(h, "INBOX", 0));
    uint32_t before = mailproto_imap_mailbox_state(h)->exists;
    CHECK_RC(h, mailproto_imap_idle(h));
    uint64_t t0 = now_ms();
    CHECK(submit("idle") == MAILPROTO_OK);
    int seen = 0;
    while (!seen && now_ms() - t0 < 15000) {
        const mailproto_imap_event *ev;
        int rc = mailproto_imap_wait(h, (int)(15000 - (now_ms() - t0)), &ev);
        if (rc == MAILPROTO_EVENT && ev->type == MAILPROTO_IMAP_EV_EXISTS && ev->number > before)
            seen = 1;
        else if (rc != MAILPROTO_EVENT && rc != MAILPROTO_AGAIN)
            break;
    }
    CHECK(seen);
    fprintf(stderr, "idle: EXISTS after %llu ms\n", (unsigned long long)(now_ms() - t0));
    CHECK_RC(h, mailproto_imap_idle_done(h));
    CHECK(find_uid(h, "idle") > 0);
    mailproto_imap_free(h); /* LOGOUT */
}

/* ---- 20 connections from one poll() loop ---- */
static void test_twenty_nonblocking(void)
{
    enum { N = 20 };
    mailproto_imap *h[N];
    int state[N];
    uint64_t t0 = now_ms();
    for (int i = 0; i < N; i++) {
        mailproto_imap_config c = cfg_for(env("USER1"), env("PASS1"), i % 2);
        c.nonblocking = 1;
        h[i] = NULL;
        CHECK(mailproto_imap_new(&h[i], &c, NULL) == MAILPROTO_OK);
        CHECK(mailproto_imap_connect(h[i]) == MAILPROTO_AGAIN);
        CHECK(mailproto_imap_select(h[i], "INBOX", MAILPROTO_IMAP_EXAMINE) == MAILPROTO_AGAIN);
        CHECK(mailproto_imap_noop(h[i]) == MAILPROTO_AGAIN);
        state[i] = 0; /* 1: done, -1: failed */
    }
    int done = 0;
    while (done < N && now_ms() - t0 < 60000) {
        struct pollfd pfd[N];
        int map[N], n = 0, tmo = 1000;
        for (int i = 0; i < N; i++) {
            if (state[i])
                continue;
            const mailproto_imap_event *ev;
            int rc;
            while ((rc = mailproto_imap_poll(h[i], now_ms(), &ev)) == MAILPROTO_EVENT)
                if (ev->type == MAILPROTO_IMAP_EV_COMPLETED && ev->number == 2) {
                    state[i] = ev->status == MAILPROTO_IMAP_OK ? 1 : -1;
                    done++;
                    break;
                }
            if (state[i])
                continue;
            if (rc != MAILPROTO_AGAIN) {
                fprintf(stderr, "conn %d: %s %s\n", i, mailproto_errname(rc), mailproto_imap_last_reply(h[i])->message);
                state[i] = -1;
                done++;
                continue;
            }
            pfd[n].fd = mailproto_imap_fd(h[i]);
            pfd[n].events = (short)(((mailproto_imap_io_interest(h[i]) & MAILPROTO_IO_WRITE) ? POLLOUT : 0) | POLLIN);
            map[n++] = i;
            int t = mailproto_imap_timeout_ms(h[i], now_ms());
            if (t >= 0 && t < tmo)
                tmo = t;
        }
        if (n)
            poll(pfd, (nfds_t)n, tmo);
        (void)map;
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        ok += state[i] == 1;
        mailproto_imap_free(h[i]);
    }
    fprintf(stderr, "20 connections: %d ready and served in %llu ms\n", ok, (unsigned long long)(now_ms() - t0));
    CHECK(ok == N);
}

/* ---- failures ---- */
static void test_wrong_password(void)
{
    mailproto_imap_config c = cfg_for(env("USER1"), "definitely-wrong", 1);
    mailproto_imap *h = NULL;
    CHECK(mailproto_imap_new(&h, &c, NULL) == MAILPROTO_OK);
    CHECK(mailproto_imap_connect(h) == MAILPROTO_E_AUTH);
    CHECK(!strcmp(mailproto_imap_last_reply(h)->resp_code, "AUTHENTICATIONFAILED"));
    mailproto_imap_free(h);
}

/* every mechanism against Dovecot (for the OAuth ones the token is the
 * password in the test stack) */
static void test_mechanisms(void)
{
    static const int mechs[] = {MAILPROTO_AUTH_LOGIN, MAILPROTO_AUTH_PLAIN, MAILPROTO_AUTH_CRAM_MD5,
                                MAILPROTO_AUTH_XOAUTH2, MAILPROTO_AUTH_OAUTHBEARER, MAILPROTO_AUTH_SCRAM_SHA1,
                                MAILPROTO_AUTH_SCRAM_SHA256};
    for (size_t i = 0; i < sizeof mechs / sizeof *mechs; i++) {
        mailproto_imap_config c = cfg_for(env("USER1"), env("PASS1"), (int)(i % 2));
        c.auth_mech = mechs[i];
        if (mechs[i] == MAILPROTO_AUTH_XOAUTH2 || mechs[i] == MAILPROTO_AUTH_OAUTHBEARER) {
            c.password = NULL;
            c.oauth_token = env("PASS1");
        }
        mailproto_imap *h = NULL;
        CHECK(mailproto_imap_new(&h, &c, NULL) == MAILPROTO_OK);
        int rc = mailproto_imap_connect(h);
        if (rc != MAILPROTO_OK)
            fprintf(stderr, "mechanism %d: %s %s\n", mechs[i], mailproto_errname(rc),
                    mailproto_imap_last_reply(h)->message);
        CHECK(rc == MAILPROTO_OK);
        if (rc == MAILPROTO_OK)
            CHECK_RC(h, mailproto_imap_noop(h));
        mailproto_imap_free(h);
    }
}

typedef struct rec_trace {
    int sent_after_tls;
} rec_trace;

static void trace_cb(void *ctx, int dir, int kind, const char *data, size_t len)
{
    rec_trace *t = ctx;
    (void)data;
    (void)len;
    if (dir == MAILPROTO_TRACE_SENT && kind != MAILPROTO_TRACE_NOTE)
        t->sent_after_tls++;
}

static void test_untrusted_ca(void)
{
    mailproto_imap_config c = cfg_for(env("USER1"), env("PASS1"), 1);
    c.tls = NULL; /* system CAs: the test CA is not among them */
    rec_trace t = {0};
    c.trace = trace_cb;
    c.trace_ctx = &t;
    mailproto_imap *h = NULL;
    CHECK(mailproto_imap_new(&h, &c, NULL) == MAILPROTO_OK);
    int rc = mailproto_imap_connect(h);
    CHECK(rc == MAILPROTO_E_CERT_UNTRUSTED);
    CHECK(t.sent_after_tls == 0); /* no IMAP command, no credential */
    mailproto_imap_free(h);
}

int main(void)
{
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    o.ca_file = env("CA_FILE");
    char eb[256] = "";
    if (mailproto_tls_config_new(&tls, &o, NULL, eb, sizeof eb) != MAILPROTO_OK) {
        fprintf(stderr, "TLS config: %s\n", eb);
        return 1;
    }
    snprintf(uniq, sizeof uniq, "%ld-%d", (long)time(NULL), (int)getpid());
    test_mailbox_ops();
    test_idle_delivery();
    test_twenty_nonblocking();
    test_mechanisms();
    test_wrong_password();
    test_untrusted_ca();
    mailproto_tls_config_free(tls);
    fprintf(stderr, "%s\n", failures ? "FAILED" : "all IMAP live checks passed");
    return failures ? 1 : 0;
}
