/* The POP3 engine over scripted server bytes, each conversation whole, one
 * byte at a time and split at every position: session setup and TLS
 * policy, every login method, every transaction command with +OK and
 * -ERR, dot-unstuffing, limits, pipelining, QUIT outcomes, timeouts. */
#include "convo3.h"

#include <mailproto/codec.h>

#define CAPA_PLAIN "S:+OK\r\nUSER\r\nTOP\r\nUIDL\r\n.\r\n"
/* plain text session (allow_plaintext_auth), USER/PASS */
#define PLAIN_LOGIN                                                                                \
    "S:+OK POP3 ready\r\n", "C:CAPA\r\n", CAPA_PLAIN, "C:USER alice\r\n", "S:+OK\r\n",           \
        "C:PASS s3cret pw\r\n", "S:+OK maildrop locked\r\n"

static void plain_cfg(convo *c)
{
    convo_init(c);
    c->cfg.security = MAILPROTO_SEC_PLAIN;
    c->cfg.allow_plaintext_auth = 1;
    c->cfg.username = "alice";
    c->cfg.password = "s3cret pw";
}

static void tls_cfg(convo *c)
{
    convo_init(c);
    c->cfg.username = "alice";
    c->cfg.password = "s3cret pw";
}

/* ---- session setup and TLS policy ---- */

static void test_stls_login(void **state)
{
    (void)state;
    static convo c;
    tls_cfg(&c);
    c.events = "STARTTLS;READY;";
    c.final_rc = MAILPROTO_OK;
    CONVO(&c, "S:+OK ready <1.2@x>\r\n", "C:CAPA\r\n",
          "S:+OK\r\nSTLS\r\nSASL PLAIN\r\nPIPELINING\r\n.\r\n", "C:STLS\r\n",
          "S:+OK begin TLS\r\n", "TLS", "C:CAPA\r\n",
          /* after TLS: only what is said now counts (no SASL, no PIPELINING) */
          "S:+OK\r\nUSER\r\nUIDL\r\n.\r\n", "C:USER alice\r\n", "S:+OK\r\n",
          "C:PASS s3cret pw\r\n", "S:+OK\r\n");
    assert_true(c.capa.caps & MAILPROTO_POP3_CAP_USER);
    assert_false(c.capa.caps & MAILPROTO_POP3_CAP_SASL);
    assert_false(c.capa.caps & MAILPROTO_POP3_CAP_PIPELINING);
    assert_null(strstr(c.trace.buf, "s3cret"));
    assert_non_null(strstr(c.trace.buf, "PASS "));
    assert_true(c.trace.secrets >= 1);
}

static void test_implicit_tls(void **state)
{
    (void)state;
    static convo c;
    tls_cfg(&c);
    c.cfg.port = 995; /* default security: implicit TLS */
    c.events = "STARTTLS;READY;";
    CONVO(&c, "TLS", "S:+OK ready\r\n", "C:CAPA\r\n", CAPA_PLAIN, "C:USER alice\r\n",
          "S:+OK\r\n", "C:PASS s3cret pw\r\n", "S:+OK\r\n");
}

static void test_stls_missing(void **state)
{
    (void)state;
    static convo c;
    tls_cfg(&c);
    c.events = "";
    c.final_rc = MAILPROTO_E_TLS_REQUIRED;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n");
    assert_null(strstr(c.trace.buf, "USER alice"));
    assert_null(strstr(c.trace.buf, "AUTH"));
}

static void test_stls_refused(void **state)
{
    (void)state;
    static convo c;
    tls_cfg(&c);
    c.final_rc = MAILPROTO_E_TLS_REQUIRED;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSTLS\r\nUSER\r\n.\r\n", "C:STLS\r\n",
          "S:-ERR not now\r\n");
    assert_int_equal(c.err.pub.status, MAILPROTO_E_TLS_REQUIRED);
    assert_string_equal(c.err.pub.text, "not now");
}

static void test_capa_fails_tls_required(void **state)
{
    (void)state;
    static convo c;
    tls_cfg(&c);
    c.final_rc = MAILPROTO_E_TLS_REQUIRED;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:-ERR what?\r\n");
}

static void test_stls_injection(void **state)
{
    (void)state;
    static convo c;
    tls_cfg(&c);
    c.whole_only = 1; /* split, the extra bytes arrive after the go-ahead and are never read */
    c.final_rc = MAILPROTO_E_STARTTLS_INJECTION;
    c.events = "";
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSTLS\r\n.\r\n", "C:STLS\r\n",
          "S:+OK go\r\n+OK\r\nUSER\r\n.\r\n");
}

static void test_stls_late_bytes_not_read(void **state)
{
    (void)state;
    static convo c;
    tls_cfg(&c);
    /* bytes after the go-ahead in a later segment belong to the TLS layer:
     * the engine does not take them */
    c.events = "STARTTLS;";
    c.final_rc = MAILPROTO_AGAIN;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSTLS\r\n.\r\n", "C:STLS\r\n",
          "S:+OK go\r\n", "S:-ERR injected\r\n");
}

static void test_plain_needs_permission(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.allow_plaintext_auth = 0;
    c.final_rc = MAILPROTO_E_TLS_REQUIRED;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", CAPA_PLAIN);
    assert_null(strstr(c.trace.buf, "alice"));
    /* every login method: forced USER, AUTH and even APOP's digest */
    static const int logins[] = {MAILPROTO_POP3_LOGIN_USER, MAILPROTO_POP3_LOGIN_SASL,
                                 MAILPROTO_POP3_LOGIN_APOP};
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(logins); i++) {
        plain_cfg(&c);
        c.cfg.allow_plaintext_auth = 0;
        c.cfg.login = logins[i];
        c.final_rc = MAILPROTO_E_TLS_REQUIRED;
        c.events = "";
        CONVO(&c, "S:+OK ready <1.2@x>\r\n", "C:CAPA\r\n",
              "S:+OK\r\nUSER\r\nSASL PLAIN CRAM-MD5\r\n.\r\n");
        assert_null(strstr(c.trace.buf, "alice"));
    }
}

static void test_plain_login_and_capa(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;";
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n",
          "S:+OK Capability list follows\r\nTOP\r\nUSER\r\nSASL PLAIN CRAM-MD5\r\n"
          "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nUIDL\r\nEXPIRE NEVER\r\n"
          "LOGIN-DELAY 900 USER\r\nUTF8 USER\r\nIMPLEMENTATION Shlemazle-\x01Plotz-v302\r\n"
          "X-UNKNOWN\r\n.\r\n",
          "C:AUTH CRAM-MD5\r\n",
          "S:+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
          "C:YWxpY2UgMDMyNDcyMWM1ZjkwM2ZmY2UyMDI0NGJhZDBkZmMwMzQ=\r\n", "S:+OK\r\n");
    unsigned all = MAILPROTO_POP3_CAP_TOP | MAILPROTO_POP3_CAP_USER | MAILPROTO_POP3_CAP_SASL |
                   MAILPROTO_POP3_CAP_RESP_CODES | MAILPROTO_POP3_CAP_AUTH_RESP_CODE |
                   MAILPROTO_POP3_CAP_PIPELINING | MAILPROTO_POP3_CAP_UIDL |
                   MAILPROTO_POP3_CAP_EXPIRE | MAILPROTO_POP3_CAP_LOGIN_DELAY |
                   MAILPROTO_POP3_CAP_UTF8 | MAILPROTO_POP3_CAP_IMPLEMENTATION |
                   MAILPROTO_POP3_CAP_CAPA;
    assert_int_equal(c.capa.caps, all);
    assert_int_equal(c.capa.expire_days, MAILPROTO_POP3_EXPIRE_NEVER);
    assert_int_equal(c.capa.login_delay_s, 900);
    assert_int_equal(c.capa.login_delay_user, 1);
    assert_int_equal(c.capa.utf8_user, 1);
    assert_string_equal(c.capa.implementation, "Shlemazle-Plotz-v302");
    assert_int_equal(c.capa.sasl, MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_PLAIN) |
                                      MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_CRAM_MD5));
    assert_null(strstr(c.trace.buf, "YWxpY2Ug"));
}

static void test_auth_plain_ir(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;";
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSASL PLAIN\r\n.\r\n",
          "C:AUTH PLAIN AGFsaWNlAHMzY3JldCBwdw==\r\n", "S:+OK welcome\r\n");
    assert_null(strstr(c.trace.buf, "AGFsaWNl"));
}

static void test_auth_fail_codes(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_AUTH; /* reported once; the session stays (QUIT possible) */
    c.events = "";
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSASL PLAIN\r\nAUTH-RESP-CODE\r\n.\r\n",
          "C:AUTH PLAIN AGFsaWNlAHMzY3JldCBwdw==\r\n", "S:-ERR [AUTH] bad credentials\r\n");
    assert_int_equal(c.err.pub.status, MAILPROTO_E_AUTH);
    assert_string_equal(c.err.pub.resp_code, "AUTH");
    assert_int_equal(c.err.pub.temporary, 0);
    assert_string_equal(c.err.pub.text, "bad credentials");
}

static void login_err(const char *reply, const char *code, int temporary)
{
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_AUTH;
    const char *script[] = {"S:+OK ready\r\n", "C:CAPA\r\n", CAPA_PLAIN, "C:USER alice\r\n",
                            "S:+OK\r\n", "C:PASS s3cret pw\r\n", reply};
    c.script = script;
    c.n_steps = 7;
    convo_check(&c);
    assert_int_equal(c.err.pub.status, MAILPROTO_E_AUTH);
    assert_string_equal(c.err.pub.resp_code, code);
    assert_int_equal(c.err.pub.temporary, temporary);
}

static void test_login_resp_codes(void **state)
{
    (void)state;
    login_err("S:-ERR [IN-USE] mailbox locked\r\n", "IN-USE", 1);
    login_err("S:-ERR [LOGIN-DELAY] wait\r\n", "LOGIN-DELAY", 1);
    login_err("S:-ERR [SYS/TEMP] try later\r\n", "SYS/TEMP", 1);
    login_err("S:-ERR [SYS/TEMP/DISK] try later\r\n", "SYS/TEMP/DISK", 1);
    login_err("S:-ERR [SYS/PERM] account disabled\r\n", "SYS/PERM", 0);
    login_err("S:-ERR [AUTH] no\r\n", "AUTH", 0);
    login_err("S:-ERR no\r\n", "", 0);
    login_err("S:-ERR [unterminated no\r\n", "", 0);
}

static void test_user_refused(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_AUTH;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", CAPA_PLAIN, "C:USER alice\r\n",
          "S:-ERR unknown\r\n");
    assert_int_equal(c.err.pub.status, MAILPROTO_E_AUTH);
    assert_null(strstr(c.trace.buf, "PASS"));
}

static void test_apop(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.login = MAILPROTO_POP3_LOGIN_APOP;
    c.cfg.username = "mrose";
    c.cfg.password = "tanstaaf";
    c.events = "READY;";
    /* RFC 1939 section 7's example */
    CONVO(&c, "S:+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n", "C:CAPA\r\n",
          "S:-ERR\r\n", "C:APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
          "S:+OK maildrop has 1 message (369 octets)\r\n");
    assert_null(strstr(c.trace.buf, "c4c9334b"));
}

static void apop_bad(const char *greeting)
{
    static convo c;
    plain_cfg(&c);
    c.cfg.login = MAILPROTO_POP3_LOGIN_APOP;
    c.final_rc = MAILPROTO_E_UNSUPPORTED;
    c.events = "";
    const char *script[] = {greeting, "C:CAPA\r\n", "S:+OK\r\n.\r\n"};
    c.script = script;
    c.n_steps = 3;
    convo_check(&c);
    assert_int_equal(c.err.pub.status, MAILPROTO_E_UNSUPPORTED);
    assert_null(strstr(c.trace.buf, "APOP alice"));
}

static void test_apop_malformed_timestamp(void **state)
{
    (void)state;
    apop_bad("S:+OK ready <1896.697170952dbc.mtview.ca.us>\r\n"); /* no @ */
    apop_bad("S:+OK ready <1896.697170952@dbc.mtview.ca.us\r\n"); /* unterminated */
    apop_bad("S:+OK ready <a b@c>\r\n");                          /* space */
    apop_bad("S:+OK ready <a@b@c>\r\n");                          /* two @ */
    apop_bad("S:+OK ready <@x>\r\n");
    apop_bad("S:+OK ready\r\n"); /* none at all */
}

static void test_apop_timestamp_forgotten_after_tls(void **state)
{
    (void)state;
    static convo c;
    tls_cfg(&c);
    c.cfg.login = MAILPROTO_POP3_LOGIN_APOP;
    c.final_rc = MAILPROTO_E_UNSUPPORTED;
    c.events = "STARTTLS;";
    CONVO(&c, "S:+OK ready <1.2@host>\r\n", "C:CAPA\r\n", "S:+OK\r\nSTLS\r\n.\r\n", "C:STLS\r\n",
          "S:+OK\r\n", "TLS", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n");
    assert_int_equal(c.err.pub.status, MAILPROTO_E_UNSUPPORTED);
}

static void test_greeting_refused(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_REJECTED;
    CONVO(&c, "S:-ERR [SYS/TEMP] overloaded\r\n");
    assert_int_equal(c.err.pub.status, MAILPROTO_E_REJECTED);
    assert_int_equal(c.err.pub.temporary, 1);
    assert_string_equal(c.err.pub.resp_code, "SYS/TEMP");
}

static void test_greeting_garbage(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_PROTOCOL;
    CONVO(&c, "S:* OK imap\r\n");
    assert_int_equal(c.err.pub.status, MAILPROTO_E_PROTOCOL);
}

static void test_no_username(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.username = NULL;
    c.events = "READY;";
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", CAPA_PLAIN);
}

static void test_utf8(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.utf8 = 1;
    c.events = "READY;";
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUTF8 USER\r\nUSER\r\n.\r\n",
          "C:UTF8\r\n", "S:+OK\r\n", "C:USER alice\r\n", "S:+OK\r\n", "C:PASS s3cret pw\r\n",
          "S:+OK\r\n");
}


static void test_auth_cancel(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.auth_mech = MAILPROTO_AUTH_CRAM_MD5;
    c.final_rc = MAILPROTO_E_AUTH;
    c.events = "";
    /* a challenge that is not base64: the client cancels with "*" */
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSASL CRAM-MD5\r\n.\r\n",
          "C:AUTH CRAM-MD5\r\n", "S:+ !!!not base64!!!\r\n", "C:*\r\n", "S:-ERR cancelled\r\n");
    /* a second challenge after the cancel is a protocol error */
    plain_cfg(&c);
    c.cfg.auth_mech = MAILPROTO_AUTH_CRAM_MD5;
    c.final_rc = MAILPROTO_E_PROTOCOL;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSASL CRAM-MD5\r\n.\r\n",
          "C:AUTH CRAM-MD5\r\n", "S:+ !!!\r\n", "C:*\r\n", "S:+ again\r\n");
    /* +OK after the cancel is too */
    plain_cfg(&c);
    c.cfg.auth_mech = MAILPROTO_AUTH_CRAM_MD5;
    c.final_rc = MAILPROTO_E_PROTOCOL;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSASL CRAM-MD5\r\n.\r\n",
          "C:AUTH CRAM-MD5\r\n", "S:+ !!!\r\n", "C:*\r\n", "S:+OK\r\n");
}

static void test_auth_long_ir(void **state)
{
    (void)state;
    /* RFC 5034 4: over 255 octets, the initial response waits for "+ " */
    static char tok[301], raw[400], b64[600], line[700];
    memset(tok, 'T', 300);
    tok[300] = '\0';
    int n = snprintf(raw, sizeof raw, "user=alice\001auth=Bearer %s\001\001", tok);
    size_t bl = 0;
    assert_int_equal(mailproto_base64_encode(raw, (size_t)n, b64, sizeof b64, &bl), MAILPROTO_OK);
    snprintf(line, sizeof line, "C:%s\r\n", b64);
    static convo c;
    plain_cfg(&c);
    c.cfg.password = NULL;
    c.cfg.oauth_token = tok;
    c.events = "READY;";
    const char *script[] = {"S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSASL XOAUTH2\r\n.\r\n",
                            "C:AUTH XOAUTH2\r\n", "S:+ \r\n", line, "S:+OK\r\n"};
    c.script = script;
    c.n_steps = MAILPROTO__ARRAY_LEN(script);
    convo_check(&c);
    assert_null(strstr(c.trace.buf, "TVFRU"));
}

static int fixed_random(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    memset(buf, 'A', n);
    return MAILPROTO_OK;
}

/* SCRAM: a server that says +OK without proving it knows the password
 * (no server-final message, or a wrong signature) is not trusted. */
static void test_scram_unverified_server(void **state)
{
    (void)state;
    static char first[200], b64[300], auth[400];
    snprintf(first, sizeof first, "n,,n=alice,r=QUFBQUFBQUFBQUFBQUFBQUFB");
    size_t bl = 0;
    assert_int_equal(mailproto_base64_encode(first, strlen(first), b64, sizeof b64, &bl),
                     MAILPROTO_OK);
    snprintf(auth, sizeof auth, "C:AUTH SCRAM-SHA-256 %s\r\n", b64);
    static convo c;
    plain_cfg(&c);
    c.cfg.auth_mech = MAILPROTO_AUTH_SCRAM_SHA256;
    c.cfg.random = fixed_random;
    c.final_rc = MAILPROTO_E_AUTH;
    c.events = "";
    const char *script[] = {"S:+OK ready\r\n", "C:CAPA\r\n",
                            "S:+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n", auth, "S:+OK welcome\r\n"};
    c.script = script;
    c.n_steps = MAILPROTO__ARRAY_LEN(script);
    convo_check(&c);
    assert_non_null(strstr(c.err.pub.message, "not verified"));
}

static int refresh(void *ctx, const char **token)
{
    int *calls = ctx;
    (*calls)++;
    *token = "new";
    return 0;
}

static void test_token_refresh(void **state)
{
    (void)state;
    static convo c;
    static int calls;
    plain_cfg(&c);
    c.cfg.password = NULL;
    c.cfg.oauth_token = "old";
    c.cfg.token_refresh = refresh;
    c.cfg.token_ctx = &calls;
    c.events = "READY;";
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nSASL XOAUTH2\r\n.\r\n",
          "C:AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciBvbGQBAQ==\r\n",
          "S:-ERR [AUTH] expired\r\n",
          "C:AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciBuZXcBAQ==\r\n", "S:+OK\r\n");
    assert_true(calls > 0);
}

/* ---- transaction ---- */

static void test_every_command(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;DONE STAT OK 2 320;ENTRY 1 120;ENTRY 2 200;DONE LIST OK;ENTRY 2 200;"
               "DONE LIST OK;ENTRY 1 whqtswO00WBw418f9t5JxYwZ;ENTRY 2 QhdPYR:00WBw1Ph7x7;"
               "DONE UIDL OK;ENTRY 2 QhdPYR:00WBw1Ph7x7;DONE UIDL OK;DONE RETR OK 14;"
               "DONE TOP OK 12;DONE DELE OK;DONE RSET OK;DONE NOOP OK;DONE DELE OK;CLOSED OK 1;";
    c.body = "Subject: a\r\n\r\nSubject: b\r\n";
    c.outcome = MAILPROTO_POP3_OUTCOME_COMMITTED;
    c.final_rc = MAILPROTO_OK;
    CONVO(&c, PLAIN_LOGIN, "CMD:STAT", "C:STAT\r\n", "S:+OK 2 320\r\n", "CMD:LIST", "C:LIST\r\n",
          "S:+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n", "CMD:LIST 2",
          "C:LIST 2\r\n", "S:+OK 2 200\r\n", "CMD:UIDL", "C:UIDL\r\n",
          "S:+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n", "CMD:UIDL 2",
          "C:UIDL 2\r\n", "S:+OK 2 QhdPYR:00WBw1Ph7x7\r\n", "CMD:RETR 1", "C:RETR 1\r\n",
          "S:+OK 120 octets\r\nSubject: a\r\n\r\n.\r\n", "CMD:TOP 2 0", "C:TOP 2 0\r\n",
          "S:+OK\r\nSubject: b\r\n.\r\n", "CMD:DELE 1", "C:DELE 1\r\n", "S:+OK deleted\r\n",
          "CMD:RSET", "C:RSET\r\n", "S:+OK\r\n", "CMD:NOOP", "C:NOOP\r\n", "S:+OK\r\n",
          "CMD:DELE 2", "C:DELE 2\r\n", "S:+OK\r\n", "QUIT", "C:QUIT\r\n", "S:+OK bye\r\n",
          "EOF");
}

static void test_err_at_each_command(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;DONE STAT REJECTED 0 0;DONE LIST REJECTED;DONE LIST REJECTED;"
               "DONE UIDL REJECTED;DONE RETR REJECTED 0 [SYS/PERM];DONE TOP REJECTED 0;"
               "DONE DELE REJECTED [IN-USE] temp;DONE RSET REJECTED;DONE NOOP REJECTED;"
               "DONE STAT OK 0 0;CLOSED REJECTED 2;";
    c.body = "";
    c.outcome = MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
    CONVO(&c, PLAIN_LOGIN, "CMD:STAT", "C:STAT\r\n", "S:-ERR\r\n", "CMD:LIST", "C:LIST\r\n",
          "S:-ERR no\r\n", "CMD:LIST 9", "C:LIST 9\r\n", "S:-ERR no such message\r\n",
          "CMD:UIDL", "C:UIDL\r\n", "S:-ERR\r\n", "CMD:RETR 1", "C:RETR 1\r\n",
          "S:-ERR [SYS/PERM] gone\r\n", "CMD:TOP 1 3", "C:TOP 1 3\r\n", "S:-ERR\r\n",
          "CMD:DELE 1", "C:DELE 1\r\n", "S:-ERR [IN-USE] locked\r\n", "CMD:RSET", "C:RSET\r\n",
          "S:-ERR\r\n", "CMD:NOOP", "C:NOOP\r\n", "S:-ERR\r\n",
          /* the session goes on after -ERR */
          "CMD:STAT", "C:STAT\r\n", "S:+OK 0 0\r\n", "QUIT", "C:QUIT\r\n",
          "S:-ERR some deleted messages not removed\r\n");
}

static void test_submit_checks(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.submit_rc = MAILPROTO_E_INVALID;
    CONVO(&c, PLAIN_LOGIN, "CMD:RETR 0", "CMD:DELE 0");
    /* TOP / UIDL when CAPA said the server lacks them */
    plain_cfg(&c);
    c.submit_rc = MAILPROTO_E_UNSUPPORTED;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n.\r\n", "C:USER alice\r\n",
          "S:+OK\r\n", "C:PASS s3cret pw\r\n", "S:+OK\r\n", "CMD:TOP 1 1", "CMD:UIDL");
    /* before login */
    plain_cfg(&c);
    c.submit_rc = MAILPROTO_E_STATE;
    c.final_rc = MAILPROTO_AGAIN;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "CMD:STAT");
}

static void test_dot_unstuffing(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;DONE RETR OK 52;";
    /* "..x" is ".x"; a line that is a lone "." in the message arrives as
     * ".."; ".\rx" keeps the CR; a bare LF line ending is data */
    c.body = ".x\r\nline\r\n.\r\n..two\r\n.\rx\r\nend\nlast. \r\nno-final-crlf\r\n";
    CONVO(&c, PLAIN_LOGIN, "CMD:RETR 1", "C:RETR 1\r\n",
          "S:+OK\r\n..x\r\nline\r\n..\r\n...two\r\n..\rx\r\nend\nlast. \r\nno-final-crlf\r\n."
          "\r\n");
}

static void test_dot_terminator_bare_lf(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;DONE RETR OK 3;DONE NOOP OK;";
    c.body = "a\r\n";
    CONVO(&c, PLAIN_LOGIN, "CMD:RETR 1", "C:RETR 1\r\n", "S:+OK\r\na\r\n.\n", "CMD:NOOP",
          "C:NOOP\r\n", "S:+OK\r\n");
}

static void test_listing_unstuffed(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;ENTRY 1 5;DONE LIST OK;";
    CONVO(&c, PLAIN_LOGIN, "CMD:LIST", "C:LIST\r\n", "S:+OK\r\n1 5\r\n.\r\n");
}

static void test_never_terminated(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;";
    c.final_rc = MAILPROTO_E_TIMEOUT;
    c.body = "line one\r\n.end\r\n";
    c.outcome = MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
    CONVO(&c, PLAIN_LOGIN, "CMD:RETR 1", "C:RETR 1\r\n", "S:+OK\r\nline one\r\n..end\r\n",
          "TIME:59999", "S:", "TIME:59999", "TIME:2");
    assert_int_equal(c.err.pub.status, MAILPROTO_E_TIMEOUT);
}

static void test_sink_fails(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.sink_fail_after = -1; /* every write fails */
    c.events = "READY;DONE RETR CALLBACK 0;DONE NOOP OK;";
    c.body = "";
    CONVO(&c, PLAIN_LOGIN, "CMD:RETR 1", "C:RETR 1\r\n", "S:+OK\r\nabcdef\r\nmore\r\n.\r\n",
          "CMD:NOOP", "C:NOOP\r\n", "S:+OK\r\n");
}

/* ---- limits and malformed replies ---- */

static void test_status_line_over_limit(void **state)
{
    (void)state;
    static convo c;
    static char line[700];
    plain_cfg(&c);
    c.cfg.max_line = 512;
    memcpy(line, "S:+OK ", 6);
    memset(line + 6, 'A', 600);
    memcpy(line + 606, "\r\n", 3);
    c.final_rc = MAILPROTO_E_LIMIT;
    c.events = "";
    const char *script[] = {line};
    c.script = script;
    c.n_steps = 1;
    convo_check(&c);
    /* exactly at the limit is fine */
    plain_cfg(&c);
    c.cfg.max_line = 512;
    c.cfg.username = NULL;
    memset(line + 6, 'A', 506);
    memcpy(line + 512, "\r\n", 3);
    c.events = "READY;";
    const char *script2[] = {line, "C:CAPA\r\n", "S:+OK\r\n.\r\n"};
    c.script = script2;
    c.n_steps = 3;
    convo_check(&c);
}

static void test_endless_line_bounded(void **state)
{
    (void)state;
    /* 10 MiB without a line end: E_LIMIT as soon as max_line is passed */
    static convo c;
    plain_cfg(&c);
    mailproto_pop3_config cfg = c.cfg;
    mailproto__pop3_config_defaults(&cfg);
    static unsigned char in[16384], out[2048], work[4096];
    mailproto__pop3_engine e;
    mailproto__err err;
    mailproto__err_clear(&err);
    mailproto__pop3_engine_init(&e, &cfg, &err, in, sizeof in, out, sizeof out, work, sizeof work);
    assert_int_equal(mailproto__pop3_engine_start(&e), MAILPROTO_OK);
    int rc = MAILPROTO_AGAIN;
    size_t fed = 0;
    while (rc == MAILPROTO_AGAIN && fed < (10u << 20)) {
        unsigned char *p;
        size_t cap;
        mailproto__pop3_engine_input(&e, &p, &cap);
        if (!cap)
            break;
        memset(p, 'A', cap);
        mailproto__pop3_engine_input_done(&e, cap);
        fed += cap;
        const mailproto_pop3_event *ev;
        rc = mailproto__pop3_engine_next(&e, 0, &ev);
    }
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    assert_true(fed <= sizeof in);
}

static void list_bad(const char *line)
{
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_PROTOCOL;
    c.events = "READY;";
    const char *script[] = {PLAIN_LOGIN, "CMD:LIST", "C:LIST\r\n", line};
    c.script = script;
    c.n_steps = MAILPROTO__ARRAY_LEN(script);
    convo_check(&c);
}

static void test_list_bad_sizes(void **state)
{
    (void)state;
    list_bad("S:+OK\r\n1 -5\r\n.\r\n");
    list_bad("S:+OK\r\n1 +5\r\n.\r\n");
    list_bad("S:+OK\r\n1 18446744073709551616\r\n.\r\n"); /* 2^64 */
    list_bad("S:+OK\r\n1 18446744073709551615\r\n.\r\n"); /* 2^64 - 1: over 2^62 */
    list_bad("S:+OK\r\n1 99999999999999999999999\r\n.\r\n");
    list_bad("S:+OK\r\n0 5\r\n.\r\n");                    /* message 0 */
    list_bad("S:+OK\r\n4294967296 5\r\n.\r\n");           /* 2^32 */
    list_bad("S:+OK\r\n-1 5\r\n.\r\n");
    list_bad("S:+OK\r\n1 0x10\r\n.\r\n");
    list_bad("S:+OK\r\n1\r\n.\r\n");
    list_bad("S:+OK\r\n\r\n.\r\n");
}

static void test_stat_bad(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_PROTOCOL;
    CONVO(&c, PLAIN_LOGIN, "CMD:STAT", "C:STAT\r\n", "S:+OK 2 -320\r\n");
}

static void test_uidl_bad(void **state)
{
    (void)state;
    static convo c;
    static char line[200];
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_PROTOCOL;
    /* a 71-character UIDL */
    memcpy(line, "S:+OK\r\n1 ", 9);
    memset(line + 9, 'u', 71);
    memcpy(line + 80, "\r\n.\r\n", 6);
    const char *script[] = {PLAIN_LOGIN, "CMD:UIDL", "C:UIDL\r\n", line};
    c.script = script;
    c.n_steps = MAILPROTO__ARRAY_LEN(script);
    convo_check(&c);
}

static void test_max_list(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.max_list = 2;
    c.final_rc = MAILPROTO_E_LIMIT;
    c.events = "READY;ENTRY 1 1;ENTRY 2 2;";
    CONVO(&c, PLAIN_LOGIN, "CMD:LIST", "C:LIST\r\n", "S:+OK\r\n1 1\r\n2 2\r\n3 3\r\n.\r\n");
}

static void test_capa_lines_bounded(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.max_capa_lines = 2;
    c.final_rc = MAILPROTO_E_LIMIT;
    CONVO(&c, "S:+OK\r\n", "C:CAPA\r\n", "S:+OK\r\nA\r\nB\r\nC\r\n.\r\n");
}

static void test_unsolicited(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_PROTOCOL;
    c.whole_only = 1;
    CONVO(&c, PLAIN_LOGIN, "S:+OK surprise\r\n");
}

/* ---- pipelining ---- */

#define PIPE_LOGIN                                                                                 \
    "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\nPIPELINING\r\nUIDL\r\n.\r\n",             \
        "C:USER alice\r\n", "S:+OK\r\n", "C:PASS s3cret pw\r\n", "S:+OK\r\n"

static void test_pipelined(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;DONE RETR OK 3;DONE RETR OK 3;DONE DELE OK;DONE DELE REJECTED;CLOSED OK 1;";
    c.body = "a\r\nb\r\n";
    c.outcome = MAILPROTO_POP3_OUTCOME_COMMITTED;
    CONVO(&c, PIPE_LOGIN, "HOLD", "CMD:RETR 1", "CMD:RETR 2", "CMD:DELE 1", "CMD:DELE 2", "QUIT",
          "FLOW", "C:RETR 1\r\nRETR 2\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n",
          "S:+OK\r\na\r\n.\r\n+OK\r\nb\r\n.\r\n+OK\r\n-ERR\r\n+OK\r\n");
}

static void test_pipelined_reply_missing(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;DONE DELE OK;DONE DELE OK;";
    c.final_rc = MAILPROTO_E_TIMEOUT;
    c.outcome = MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
    CONVO(&c, PIPE_LOGIN, "HOLD", "CMD:DELE 1", "CMD:DELE 2", "CMD:DELE 3", "FLOW",
          "C:DELE 1\r\nDELE 2\r\nDELE 3\r\n", "S:+OK\r\n+OK\r\n", "TIME:60000");
}

static void test_not_pipelined_without_capa(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "READY;DONE DELE OK;DONE DELE OK;";
    CONVO(&c, PLAIN_LOGIN, "CMD:DELE 1", "CMD:DELE 2", "C:DELE 1\r\n", "S:+OK\r\n",
          "C:DELE 2\r\n", "S:+OK\r\n");
}

static void test_utf8_refused(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.utf8 = 1;
    c.events = "READY;";
    /* -ERR to UTF8: the session goes on without it */
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUTF8\r\nUSER\r\n.\r\n", "C:UTF8\r\n",
          "S:-ERR no\r\n", "C:USER alice\r\n", "S:+OK\r\n", "C:PASS s3cret pw\r\n", "S:+OK\r\n");
}

static void test_greeting_timeout(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_TIMEOUT;
    CONVO(&c, "TIME:59999", "S:+OK", "TIME:59999", "TIME:1");
}

static void test_capa_timeout(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_TIMEOUT;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\n", "TIME:60000");
}

static void test_pipeline_window(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.pipeline_depth = 2;
    c.events = "READY;DONE DELE OK;DONE DELE OK;DONE DELE OK;DONE DELE OK;";
    CONVO(&c, PIPE_LOGIN, "HOLD", "CMD:DELE 1", "CMD:DELE 2", "CMD:DELE 3", "CMD:DELE 4", "FLOW",
          "C:DELE 1\r\nDELE 2\r\n", "S:+OK\r\n", "C:DELE 3\r\n", "S:+OK\r\n", "C:DELE 4\r\n",
          "S:+OK\r\n+OK\r\n");
}

static void test_queue_full(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    mailproto_pop3_config cfg = c.cfg;
    mailproto__pop3_config_defaults(&cfg);
    static unsigned char in[16384], out[2048], work[4096];
    mailproto__pop3_engine e;
    mailproto__err err;
    mailproto__err_clear(&err);
    mailproto__pop3_engine_init(&e, &cfg, &err, in, sizeof in, out, sizeof out, work, sizeof work);
    assert_int_equal(mailproto__pop3_engine_start(&e), MAILPROTO_OK);
    static const char *const srv[] = {"+OK\r\n", "+OK\r\nUSER\r\n.\r\n", "+OK\r\n", "+OK\r\n"};
    const mailproto_pop3_event *ev;
    int ready = 0;
    for (size_t i = 0; i < 4; i++) {
        unsigned char *p;
        size_t cap;
        mailproto__pop3_engine_input(&e, &p, &cap);
        memcpy(p, srv[i], strlen(srv[i]));
        mailproto__pop3_engine_input_done(&e, strlen(srv[i]));
        int rc;
        while ((rc = mailproto__pop3_engine_next(&e, 0, &ev)) == MAILPROTO_EVENT)
            ready |= ev->type == MAILPROTO_POP3_EV_READY;
        const unsigned char *o;
        size_t n;
        mailproto__pop3_engine_output(&e, &o, &n);
        mailproto__pop3_engine_output_done(&e, n);
    }
    assert_true(ready);
    size_t queued = 0;
    while (mailproto__pop3_engine_submit(&e, MAILPROTO_POP3_NOOP, 0, 0, NULL) == MAILPROTO_OK)
        queued++;
    assert_int_equal(queued, MAILPROTO__POP3_QUEUE - 1);
    assert_int_equal(mailproto__pop3_engine_submit(&e, MAILPROTO_POP3_NOOP, 0, 0, NULL),
                     MAILPROTO_E_LIMIT);
    assert_int_equal(mailproto__pop3_engine_submit(&e, 42, 0, 0, NULL), MAILPROTO_E_INVALID);
}

/* ---- QUIT outcomes ---- */

static void test_quit_lost_before_sent(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_NOT_SENT;
    c.outcome = MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
    CONVO(&c, PLAIN_LOGIN, "CMD:DELE 1", "C:DELE 1\r\n", "S:+OK\r\n", "HOLD", "QUIT", "EOF");
}

static void test_quit_lost_after_sent(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_OUTCOME_UNKNOWN;
    c.outcome = MAILPROTO_POP3_OUTCOME_UNKNOWN;
    CONVO(&c, PLAIN_LOGIN, "CMD:DELE 1", "C:DELE 1\r\n", "S:+OK\r\n", "QUIT", "C:QUIT\r\n",
          "EOF");
}

static void test_quit_timeout_after_sent(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_OUTCOME_UNKNOWN;
    c.outcome = MAILPROTO_POP3_OUTCOME_UNKNOWN;
    CONVO(&c, PLAIN_LOGIN, "QUIT", "C:QUIT\r\n", "TIME:60000");
}

static void test_drop_in_transaction(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_CLOSED;
    c.outcome = MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
    CONVO(&c, PLAIN_LOGIN, "CMD:DELE 1", "C:DELE 1\r\n", "EOF");
}

static void test_quit_after_failed_login(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.events = "CLOSED OK 1;";
    c.final_rc = MAILPROTO_OK;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", CAPA_PLAIN, "C:USER alice\r\n",
          "S:-ERR [AUTH] no\r\n", "QUIT", "C:QUIT\r\n", "S:+OK\r\n");
}

/* Progress: RETR's "+OK n octets" is the total (never below done),
 * otherwise unknown; a nonzero return cancels the command, not the
 * session. */
typedef struct prog {
    unsigned calls;
    uint64_t done, total;
    uint64_t cancel_at; /* cancel once done reaches this (0: never) */
} prog;

static int prog_fn(void *ctx, uint64_t done, uint64_t total)
{
    prog *p = ctx;
    if (done < p->done)
        p->calls = 0; /* the conversation runs again with another split */
    p->calls++;
    p->done = done;
    p->total = total;
    return p->cancel_at && done >= p->cancel_at;
}

static void test_retr_progress(void **state)
{
    (void)state;
    static convo c;
    static prog pg;
    plain_cfg(&c);
    memset(&pg, 0, sizeof pg);
    c.cfg.progress = prog_fn;
    c.cfg.progress_ctx = &pg;
    c.final_rc = MAILPROTO_OK;
    c.body = "line1\r\n.x\r\n";
    c.events = "READY;DONE RETR OK 11;";
    CONVO(&c, PLAIN_LOGIN, "CMD:RETR 1", "C:RETR 1\r\n",
          "S:+OK 14 octets\r\nline1\r\n..x\r\n.\r\n");
    assert_true(pg.calls >= 1);
    assert_int_equal(pg.done, 11);
    assert_int_equal(pg.total, 14);
    /* a server that under-announces: total follows done */
    plain_cfg(&c);
    memset(&pg, 0, sizeof pg);
    c.cfg.progress = prog_fn;
    c.cfg.progress_ctx = &pg;
    c.events = "READY;DONE RETR OK 11;";
    CONVO(&c, PLAIN_LOGIN, "CMD:RETR 1", "C:RETR 1\r\n",
          "S:+OK 5 octets\r\nline1\r\n..x\r\n.\r\n");
    assert_int_equal(pg.done, 11);
    assert_int_equal(pg.total, 11);
    /* no size, and TOP: unknown */
    plain_cfg(&c);
    memset(&pg, 0, sizeof pg);
    c.cfg.progress = prog_fn;
    c.cfg.progress_ctx = &pg;
    c.events = "READY;DONE RETR OK 7;DONE TOP OK 3;";
    CONVO(&c, PLAIN_LOGIN, "CMD:RETR 1", "C:RETR 1\r\n", "S:+OK message follows\r\nline1\r\n.\r\n",
          "CMD:TOP 1 0", "C:TOP 1 0\r\n", "S:+OK 99 octets\r\nh\r\n.\r\n");
    assert_int_equal(pg.total, MAILPROTO_SIZE_UNKNOWN);
    /* cancel: the rest of the message is read and dropped, the session goes on */
    plain_cfg(&c);
    memset(&pg, 0, sizeof pg);
    pg.cancel_at = 1;
    c.cfg.progress = prog_fn;
    c.cfg.progress_ctx = &pg;
    c.whole_only = 1;
    c.events = "READY;DONE RETR CANCELLED 10;DONE NOOP OK;";
    CONVO(&c, PLAIN_LOGIN, "CMD:RETR 1", "C:RETR 1\r\n", "S:+OK\r\nabc\r\ndef\r\n.\r\n",
          "CMD:NOOP", "C:NOOP\r\n", "S:+OK\r\n");
    assert_int_equal(pg.calls, 1);

    assert_int_equal(mailproto__pop3_octets_hint("120 octets", 10), 120);
    assert_int_equal(mailproto__pop3_octets_hint("120 OCTETS follow", 17), 120);
    assert_int_equal(mailproto__pop3_octets_hint("120", 3), MAILPROTO_SIZE_UNKNOWN);
    assert_int_equal(mailproto__pop3_octets_hint("120 octetsX", 11), MAILPROTO_SIZE_UNKNOWN);
    assert_int_equal(mailproto__pop3_octets_hint("-1 octets", 9), MAILPROTO_SIZE_UNKNOWN);
    assert_int_equal(mailproto__pop3_octets_hint("+1 octets", 9), MAILPROTO_SIZE_UNKNOWN);
    assert_int_equal(mailproto__pop3_octets_hint("18446744073709551616 octets", 27),
                     MAILPROTO_SIZE_UNKNOWN);
    assert_int_equal(mailproto__pop3_octets_hint("", 0), MAILPROTO_SIZE_UNKNOWN);
}

/* A password that cannot be sent stops the login before USER goes out;
 * CR/LF in the names never reach the wire. */
static void test_bad_password_before_user(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.cfg.password = "";
    c.cfg.login = MAILPROTO_POP3_LOGIN_USER;
    c.final_rc = MAILPROTO_E_INVALID;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", CAPA_PLAIN);
    assert_int_equal(c.err.pub.status, MAILPROTO_E_INVALID);
    plain_cfg(&c);
    c.cfg.password = "pw\r\nDELE 1";
    c.cfg.login = MAILPROTO_POP3_LOGIN_USER;
    c.final_rc = MAILPROTO_E_INVALID;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", CAPA_PLAIN);
    assert_int_equal(c.err.pub.status, MAILPROTO_E_INVALID);
    plain_cfg(&c);
    c.cfg.username = "alice\r\nDELE 1";
    c.final_rc = MAILPROTO_E_INVALID;
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", CAPA_PLAIN);
    assert_int_equal(c.err.pub.status, MAILPROTO_E_INVALID);
    plain_cfg(&c);
    c.cfg.username = "alice\nDELE 1";
    c.cfg.login = MAILPROTO_POP3_LOGIN_APOP;
    c.final_rc = MAILPROTO_E_INVALID;
    CONVO(&c, "S:+OK ready <1.2@x>\r\n", "C:CAPA\r\n", CAPA_PLAIN);
    assert_int_equal(c.err.pub.status, MAILPROTO_E_INVALID);
}

/* A full listing must name each message once, in ascending order. */
static void test_listing_order(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_PROTOCOL;
    c.events = "READY;ENTRY 1 100;ENTRY 2 200;";
    CONVO(&c, PLAIN_LOGIN, "CMD:LIST", "C:LIST\r\n", "S:+OK\r\n1 100\r\n2 200\r\n2 200\r\n.\r\n");
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_PROTOCOL;
    c.events = "READY;ENTRY 2 b;";
    CONVO(&c, PLAIN_LOGIN, "CMD:UIDL", "C:UIDL\r\n", "S:+OK\r\n2 b\r\n1 a\r\n.\r\n");
    assert_non_null(strstr(c.err.pub.message, "out of order"));
    /* gaps are fine (deleted messages are not listed) */
    plain_cfg(&c);
    c.final_rc = MAILPROTO_OK;
    c.events = "READY;ENTRY 1 a;ENTRY 3 c;DONE UIDL OK;";
    CONVO(&c, PLAIN_LOGIN, "CMD:UIDL", "C:UIDL\r\n", "S:+OK\r\n1 a\r\n3 c\r\n.\r\n");
}

/* Whatever ends the session after QUIT went out, the deletions are in
 * doubt; whatever ends it before, nothing was deleted. */
static void test_quit_garbage_reply(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_OUTCOME_UNKNOWN;
    c.outcome = MAILPROTO_POP3_OUTCOME_UNKNOWN;
    CONVO(&c, PLAIN_LOGIN, "CMD:DELE 1", "C:DELE 1\r\n", "S:+OK\r\n", "QUIT", "C:QUIT\r\n",
          "S:* BYE\r\n");
    assert_int_equal(c.err.pub.status, MAILPROTO_E_OUTCOME_UNKNOWN);
    assert_non_null(strstr(c.err.pub.message, "neither +OK nor -ERR"));
}

static void test_quit_tls_error_after_sent(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_OUTCOME_UNKNOWN;
    c.outcome = MAILPROTO_POP3_OUTCOME_UNKNOWN;
    CONVO(&c, PLAIN_LOGIN, "CMD:DELE 1", "C:DELE 1\r\n", "S:+OK\r\n", "QUIT", "C:QUIT\r\n",
          "FAIL:-20");
    assert_int_equal(c.err.pub.status, MAILPROTO_E_OUTCOME_UNKNOWN);
}

static void test_quit_tls_error_before_sent(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_NOT_SENT;
    c.outcome = MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
    /* no PIPELINING: QUIT waits for DELE's reply, and the link fails first */
    CONVO(&c, PLAIN_LOGIN, "CMD:DELE 1", "C:DELE 1\r\n", "QUIT", "FAIL:-20");
}

static void test_quit_queued_protocol_error(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_NOT_SENT;
    c.outcome = MAILPROTO_POP3_OUTCOME_NOT_COMMITTED;
    CONVO(&c, PLAIN_LOGIN, "CMD:DELE 1", "C:DELE 1\r\n", "QUIT", "S:what?\r\n");
}

static void test_quit_pipelined_protocol_error(void **state)
{
    (void)state;
    static convo c;
    plain_cfg(&c);
    c.final_rc = MAILPROTO_E_OUTCOME_UNKNOWN;
    c.outcome = MAILPROTO_POP3_OUTCOME_UNKNOWN;
    /* PIPELINING: DELE and QUIT go out together; the reply to DELE is bad */
    CONVO(&c, "S:+OK ready\r\n", "C:CAPA\r\n", "S:+OK\r\nUSER\r\nPIPELINING\r\n.\r\n",
          "C:USER alice\r\n", "S:+OK\r\n", "C:PASS s3cret pw\r\n", "S:+OK\r\n", "CMD:DELE 1",
          "QUIT", "C:DELE 1\r\nQUIT\r\n", "S:what?\r\n");
}

/* ---- parsers directly ---- */

static void test_parsers(void **state)
{
    (void)state;
    const char *t;
    size_t tl;
    char code[48];
    int temp;
    assert_int_equal(mailproto__pop3_status("+OK", 3, &t, &tl, code, sizeof code, &temp), 1);
    assert_int_equal(mailproto__pop3_status("-ERR", 4, &t, &tl, code, sizeof code, &temp), 0);
    assert_int_equal(mailproto__pop3_status("+OKAY", 5, &t, &tl, code, sizeof code, &temp), -1);
    assert_int_equal(mailproto__pop3_status("+", 1, &t, &tl, code, sizeof code, &temp), -1);
    assert_int_equal(mailproto__pop3_status("", 0, &t, &tl, code, sizeof code, &temp), -1);
    assert_int_equal(
        mailproto__pop3_status("-ERR [LOGIN-DELAY] x", 20, &t, &tl, code, sizeof code, &temp), 0);
    assert_string_equal(code, "LOGIN-DELAY");
    assert_int_equal(temp, 1);
    assert_int_equal(tl, 1);
    uint32_t n;
    uint64_t sz;
    assert_int_equal(mailproto__pop3_parse_stat("3 100 extra", 11, &n, &sz), 0);
    assert_int_equal(n, 3);
    assert_int_equal(sz, 100);
    assert_int_equal(mailproto__pop3_parse_stat("3", 1, &n, &sz), MAILPROTO_E_PROTOCOL);
    assert_int_equal(mailproto__pop3_parse_list("4294967295 4611686018427387904", 30, &n, &sz), 0);
    assert_int_equal(n, UINT32_MAX);
    assert_int_equal(sz, (uint64_t)1 << 62);
    const char *uid;
    size_t ul;
    assert_int_equal(mailproto__pop3_parse_uidl("1 a\x7f", 4, &n, &uid, &ul), MAILPROTO_E_PROTOCOL);
    char ts[64];
    assert_int_equal(mailproto__pop3_timestamp("hi <a@b> x", 10, ts, sizeof ts), 1);
    assert_string_equal(ts, "<a@b>");
    assert_int_equal(mailproto__pop3_timestamp("hi <a@b> x", 10, ts, 5), -1); /* too long */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stls_login),
        cmocka_unit_test(test_implicit_tls),
        cmocka_unit_test(test_stls_missing),
        cmocka_unit_test(test_stls_refused),
        cmocka_unit_test(test_capa_fails_tls_required),
        cmocka_unit_test(test_stls_injection),
        cmocka_unit_test(test_stls_late_bytes_not_read),
        cmocka_unit_test(test_plain_needs_permission),
        cmocka_unit_test(test_plain_login_and_capa),
        cmocka_unit_test(test_auth_plain_ir),
        cmocka_unit_test(test_auth_fail_codes),
        cmocka_unit_test(test_login_resp_codes),
        cmocka_unit_test(test_user_refused),
        cmocka_unit_test(test_auth_cancel),
        cmocka_unit_test(test_auth_long_ir),
        cmocka_unit_test(test_token_refresh),
        cmocka_unit_test(test_apop),
        cmocka_unit_test(test_apop_malformed_timestamp),
        cmocka_unit_test(test_apop_timestamp_forgotten_after_tls),
        cmocka_unit_test(test_greeting_refused),
        cmocka_unit_test(test_greeting_garbage),
        cmocka_unit_test(test_no_username),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_every_command),
        cmocka_unit_test(test_err_at_each_command),
        cmocka_unit_test(test_submit_checks),
        cmocka_unit_test(test_dot_unstuffing),
        cmocka_unit_test(test_dot_terminator_bare_lf),
        cmocka_unit_test(test_listing_unstuffed),
        cmocka_unit_test(test_never_terminated),
        cmocka_unit_test(test_sink_fails),
        cmocka_unit_test(test_status_line_over_limit),
        cmocka_unit_test(test_endless_line_bounded),
        cmocka_unit_test(test_list_bad_sizes),
        cmocka_unit_test(test_stat_bad),
        cmocka_unit_test(test_uidl_bad),
        cmocka_unit_test(test_max_list),
        cmocka_unit_test(test_capa_lines_bounded),
        cmocka_unit_test(test_unsolicited),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_pipelined_reply_missing),
        cmocka_unit_test(test_not_pipelined_without_capa),
        cmocka_unit_test(test_utf8_refused),
        cmocka_unit_test(test_greeting_timeout),
        cmocka_unit_test(test_capa_timeout),
        cmocka_unit_test(test_pipeline_window),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_quit_lost_before_sent),
        cmocka_unit_test(test_quit_lost_after_sent),
        cmocka_unit_test(test_quit_timeout_after_sent),
        cmocka_unit_test(test_drop_in_transaction),
        cmocka_unit_test(test_quit_after_failed_login),
        cmocka_unit_test(test_scram_unverified_server),
        cmocka_unit_test(test_retr_progress),
        cmocka_unit_test(test_bad_password_before_user),
        cmocka_unit_test(test_listing_order),
        cmocka_unit_test(test_quit_garbage_reply),
        cmocka_unit_test(test_quit_tls_error_after_sent),
        cmocka_unit_test(test_quit_tls_error_before_sent),
        cmocka_unit_test(test_quit_queued_protocol_error),
        cmocka_unit_test(test_quit_pipelined_protocol_error),
        cmocka_unit_test(test_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
