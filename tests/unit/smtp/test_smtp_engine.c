/* The SMTP engine against scripted servers: every byte the client sends is
 * checked, every conversation is replayed whole, byte by byte and split at
 * every position. */
#include "convo.h"

#define GREET "S:220 mx.example.test ESMTP\r\n"
#define EHLO_C "C:EHLO localhost\r\n"

static const char *const one_rcpt[] = {"b@example.test"};
static const char *const two_rcpt[] = {"b@example.test", "c@example.test"};
static const char *const three_rcpt[] = {"b@example.test", "c@example.test", "d@example.test"};

static convo *new_convo(int security)
{
    convo *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->cfg.security = security;
    return c;
}

static void plain_session_one_message(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "Subject: x\n\n.hi\na";
    c->body_len = strlen(c->body);
    c->events = "READY;RCPT 0 250 2.1.5;SENT MAILPROTO_OK 250;CLOSED;";
    CONVO(c, GREET, EHLO_C,
          "S:250-mx.example.test\r\n250-8BITMIME\r\n250-SIZE\r\n250 ENHANCEDSTATUSCODES\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test> SIZE=17 BODY=8BITMIME\r\n", "S:250 2.1.0 ok\r\n",
          "C:RCPT TO:<b@example.test>\r\n", "S:250 2.1.5 ok\r\n", "C:DATA\r\n", "S:354 go ahead\r\n",
          "C:Subject: x\r\n\r\n..hi\r\na\r\n.\r\n", "S:250 2.0.0 queued as 1\r\n", "QUIT",
          "C:QUIT\r\n", "S:221 2.0.0 bye\r\n");
    assert_int_equal(c->res.status, MAILPROTO_OK);
    assert_int_equal(c->res.code, 250);
    assert_string_equal(c->res.enhanced, "2.0.0");
    assert_int_equal(c->res.n_accepted, 1);
    assert_int_equal(c->res.data_complete, 1);
    assert_string_equal(c->rcpt0.enhanced, "2.1.5");
    assert_string_equal(c->rcpt0.text, "ok");
    free(c);
}

/* Two messages on one connection: RSET in between (its own round trip
 * without PIPELINING). */
static void two_messages_rset_between(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "x";
    c->body_len = 1;
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_OK 250;RCPT 0 250;SENT MAILPROTO_OK 250;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n", "S:250 ok\r\n",
          "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n",
          "C:x\r\n.\r\n", "S:250 ok\r\n", "SUBMIT", "C:RSET\r\n", "S:250 ok\r\n",
          "C:MAIL FROM:<a@example.test>\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n",
          "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:x\r\n.\r\n", "S:250 ok\r\n");
    free(c);
}

/* STARTTLS, then EHLO again; what the server said before TLS is forgotten
 * (pre-TLS AUTH PLAIN only, post-TLS SCRAM offered too). */
static void starttls_forgets_and_auth_plain(void **state)
{
    (void)state;
    convo *c = new_convo(MAILPROTO_SEC_STARTTLS);
    c->cfg.username = "tim";
    c->cfg.password = "tanstaaftanstaaf";
    c->cfg.auth_mech = MAILPROTO_AUTH_PLAIN;
    c->events = "STARTTLS;READY;";
    CONVO(c, GREET, EHLO_C,
          "S:250-mx.example.test\r\n250-PIPELINING\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
          "C:STARTTLS\r\n", "S:220 2.0.0 go ahead\r\n", "TLS", EHLO_C,
          "S:250-mx.example.test\r\n250-AUTH SCRAM-SHA-256 PLAIN\r\n250 ENHANCEDSTATUSCODES\r\n",
          "C:AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", "S:235 2.7.0 ok\r\n");
    free(c);
    /* The trace never shows the credentials. */
}

static void trace_redacts_credentials(void **state)
{
    (void)state;
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "tim";
    c->cfg.password = "tanstaaftanstaaf";
    c->cfg.allow_plaintext_auth = 1;
    c->events = "READY;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 AUTH LOGIN\r\n", "C:AUTH LOGIN\r\n",
          "S:334 VXNlcm5hbWU6\r\n", "C:dGlt\r\n", "S:334 UGFzc3dvcmQ6\r\n",
          "C:dGFuc3RhYWZ0YW5zdGFhZg==\r\n", "S:235 ok\r\n");
    assert_null(strstr(c->trace.buf, "dGlt"));
    assert_null(strstr(c->trace.buf, "dGFuc3RhYWZ0YW5zdGFhZg"));
    assert_null(strstr(c->trace.buf, "tanstaaf"));
    assert_non_null(strstr(c->trace.buf, MAILPROTO_TRACE_REDACTED));
    assert_int_equal(c->trace.secrets, 2);
    free(c);
    /* without allow_plaintext_auth nothing is sent */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "tim";
    c->cfg.password = "x";
    c->final_rc = MAILPROTO_E_TLS_REQUIRED;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    free(c);
}

static void starttls_injection(void **state)
{
    (void)state;
    /* forged replies in the same segment as the go-ahead */
    convo *c = new_convo(MAILPROTO_SEC_STARTTLS);
    c->cfg.username = "u";
    c->cfg.password = "p";
    c->final_rc = MAILPROTO_E_STARTTLS_INJECTION;
    c->events = "";
    static const char *const inj[] = {GREET, EHLO_C, "S:250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
                                      "C:STARTTLS\r\n", "S:220 go\r\n250-x\r\n250 AUTH PLAIN\r\n"};
    c->script = inj;
    c->n_steps = 5;
    /* whole, and split anywhere inside the 220 line: the forged bytes are
     * in the buffer when the go-ahead completes */
    convo_run_once(c, 0);
    for (size_t k = 2; k < 8; k++) /* "220 go\r\n" is 8 bytes */
        convo_run_once(c, k);
    assert_int_equal(c->err.pub.status, MAILPROTO_E_STARTTLS_INJECTION);
    free(c);
    /* in the next segment: the engine takes no input after the go-ahead,
     * those bytes belong to the TLS layer (which fails on them) */
    c = new_convo(MAILPROTO_SEC_STARTTLS);
    c->cfg.username = "u";
    c->cfg.password = "p";
    c->final_rc = MAILPROTO_AGAIN;
    c->events = "STARTTLS;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n", "C:STARTTLS\r\n",
          "S:220 go\r\n", "S:250-x\r\n250 AUTH PLAIN\r\n");
    free(c);
}

static void starttls_missing_or_refused(void **state)
{
    (void)state;
    convo *c = new_convo(MAILPROTO_SEC_STARTTLS);
    c->cfg.username = "u";
    c->cfg.password = "p";
    c->final_rc = MAILPROTO_E_TLS_REQUIRED;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 AUTH PLAIN\r\n");
    free(c);
    static const char *const codes[] = {"221", "354", "421", "454", "500", "501", "530"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "S:%s nope\r\n", codes[i]);
        c = new_convo(MAILPROTO_SEC_STARTTLS);
        c->cfg.username = "u";
        c->cfg.password = "p";
        c->final_rc = MAILPROTO_E_TLS_REQUIRED;
        c->events = "";
        const char *steps[] = {GREET, EHLO_C, "S:250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
                               "C:STARTTLS\r\n", line};
        c->script = steps;
        c->n_steps = 5;
        convo_check(c);
        free(c);
    }
    /* EHLO failing while TLS is required: no HELO in plain text */
    c = new_convo(MAILPROTO_SEC_STARTTLS);
    c->final_rc = MAILPROTO_E_TLS_REQUIRED;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "S:502 no EHLO\r\n");
    free(c);
}

static void implicit_tls_first(void **state)
{
    (void)state;
    convo *c = new_convo(MAILPROTO_SEC_TLS);
    c->events = "STARTTLS;READY;";
    CONVO(c, "TLS", GREET, EHLO_C, "S:250 mx\r\n");
    free(c);
}

static void helo_fallback(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "", .rcpt = one_rcpt, .n_rcpt = 1};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "x\r\n";
    c->body_len = 3;
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_OK 250;";
    CONVO(c, GREET, EHLO_C, "S:502 command not implemented\r\n", "C:HELO localhost\r\n",
          "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<>\r\n", "S:250 ok\r\n",
          "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n",
          "C:x\r\n.\r\n", "S:250 ok\r\n");
    free(c);
    /* any other refusal ends the session */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_REJECTED;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "S:421 4.3.2 shutting down\r\n");
    assert_int_equal(c->err.pub.code, 421);
    assert_int_equal(c->err.pub.temporary, 1);
    free(c);
    /* a refused greeting */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_REJECTED;
    c->events = "";
    CONVO(c, "S:554 go away\r\n");
    assert_int_equal(c->err.pub.code, 554);
    free(c);
}

#define PIPE_EHLO "S:250-mx\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n"

/* The whole envelope and DATA in one flight; a 4xx and a 5xx recipient. */
static void pipelined_partial(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = three_rcpt, .n_rcpt = 3};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "hi\n";
    c->body_len = 3;
    c->events = "READY;RCPT 0 250 2.1.5;RCPT 1 550 5.1.1;RCPT 2 451 4.2.0;SENT MAILPROTO_OK 250;";
    CONVO(c, GREET, EHLO_C, PIPE_EHLO, "SUBMIT",
          "C:MAIL FROM:<a@example.test> BODY=8BITMIME\r\nRCPT TO:<b@example.test>\r\n"
          "RCPT TO:<c@example.test>\r\nRCPT TO:<d@example.test>\r\nDATA\r\n",
          "S:250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n451 4.2.0 later\r\n354 go\r\n",
          "C:hi\r\n.\r\n", "S:250 2.0.0 ok\r\n");
    assert_int_equal(c->res.n_accepted, 1);
    assert_int_equal(c->res.n_rejected, 2);
    assert_int_equal(c->res.first_rejected, 1);
    free(c);
}

static void pipelined_all_refused(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = two_rcpt, .n_rcpt = 2};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "hi\n";
    c->body_len = 3;
    c->events = "READY;RCPT 0 550 5.1.1;RCPT 1 550 5.1.1;SENT MAILPROTO_E_REJECTED 554;";
    CONVO(c, GREET, EHLO_C, PIPE_EHLO, "SUBMIT",
          "C:MAIL FROM:<a@example.test> BODY=8BITMIME\r\nRCPT TO:<b@example.test>\r\n"
          "RCPT TO:<c@example.test>\r\nDATA\r\n",
          "S:250 ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n",
          "C:RSET\r\n", "S:250 ok\r\n");
    assert_int_equal(c->res.n_accepted, 0);
    free(c);
    /* a server that says 354 although nothing was accepted: empty data */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "hi\n";
    c->body_len = 3;
    c->events = "READY;RCPT 0 550;RCPT 1 550;SENT MAILPROTO_E_REJECTED 550;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 PIPELINING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"
          "RCPT TO:<c@example.test>\r\nDATA\r\n",
          "S:250 ok\r\n550 no\r\n550 no\r\n354 go\r\n", "C:.\r\n", "S:554 no recipients\r\n",
          "C:RSET\r\n", "S:250 ok\r\n");
    free(c);
    /* MAIL refused: RCPT and DATA replies still consumed, then RSET */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "hi\n";
    c->body_len = 3;
    c->events = "READY;RCPT 0 503;RCPT 1 503;SENT MAILPROTO_E_REJECTED 451;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 PIPELINING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"
          "RCPT TO:<c@example.test>\r\nDATA\r\n",
          "S:451 try later\r\n503 need MAIL\r\n503 need MAIL\r\n503 need RCPT\r\n", "C:RSET\r\n",
          "S:250 ok\r\n");
    free(c);
}

/* RFC 2920: every reply matched to its command; a surplus reply is a
 * protocol error, a missing one ends in the RCPT/DATA timeout. */
static void pipelined_surplus_and_missing(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "hi\n";
    c->body_len = 3;
    c->final_rc = MAILPROTO_E_PROTOCOL;
    c->events = NULL;
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 PIPELINING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
          "S:250 ok\r\n250 ok\r\n354 go\r\n", "C:hi\r\n.\r\n", "S:250 ok\r\n250 surplus\r\n");
    free(c);
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "hi\n";
    c->body_len = 3;
    c->final_rc = MAILPROTO_E_TIMEOUT;
    c->events = NULL;
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 PIPELINING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
          "S:250 ok\r\n250 ok\r\n", "TIME:120000");
    assert_int_equal(c->res.status, MAILPROTO_E_TIMEOUT);
    free(c);
}

/* All-or-nothing never pipelines DATA: RSET instead of DATA. */
static void all_or_nothing(void **state)
{
    (void)state;
    static const mailproto_envelope env = {
        .from = "a@example.test", .rcpt = two_rcpt, .n_rcpt = 2, .require_all = 1};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "hi\n";
    c->body_len = 3;
    c->events = "READY;RCPT 0 250;RCPT 1 550;SENT MAILPROTO_E_REJECTED 550;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 PIPELINING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\n",
          "S:250 ok\r\n250 ok\r\n550 no\r\n", "C:RSET\r\n", "S:250 ok\r\n");
    assert_int_equal(c->res.data_complete, 0);
    free(c);
    /* without PIPELINING it stops at the first refusal */
    static const mailproto_envelope env3 = {
        .from = "a@example.test", .rcpt = three_rcpt, .n_rcpt = 3, .require_all = 1};
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env3;
    c->body = "hi\n";
    c->body_len = 3;
    c->events = "READY;RCPT 0 550;SENT MAILPROTO_E_REJECTED 550;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n",
          "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:550 no\r\n", "C:RSET\r\n",
          "S:250 ok\r\n");
    free(c);
    /* all accepted: DATA after the last RCPT reply */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "hi\n";
    c->body_len = 3;
    c->events = "READY;RCPT 0 250;RCPT 1 250;SENT MAILPROTO_OK 250;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 PIPELINING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\n",
          "S:250 ok\r\n250 ok\r\n250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:hi\r\n.\r\n",
          "S:250 ok\r\n");
    free(c);
}

static void errors_at_every_step(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1};
    static const char *const codes[] = {"421", "451", "452", "550", "554"};
    for (size_t i = 0; i < 5; i++) {
        char line[64];
        int code = atoi(codes[i]);
        char ev[128];
        snprintf(line, sizeof line, "S:%s no\r\n", codes[i]);
        /* MAIL refused */
        convo *c = new_convo(MAILPROTO_SEC_PLAIN);
        c->env = &env;
        c->body = "x";
        c->body_len = 1;
        snprintf(ev, sizeof ev, "READY;SENT MAILPROTO_E_REJECTED %d;", code);
        c->events = ev;
        const char *s1[] = {GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n",
                            line, "C:RSET\r\n", "S:250 ok\r\n"};
        c->script = s1;
        c->n_steps = 8;
        convo_check(c);
        free(c);
        /* RCPT refused */
        c = new_convo(MAILPROTO_SEC_PLAIN);
        c->env = &env;
        c->body = "x";
        c->body_len = 1;
        snprintf(ev, sizeof ev, "READY;RCPT 0 %d;SENT MAILPROTO_E_REJECTED %d;", code, code);
        c->events = ev;
        const char *s2[] = {GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n",
                            "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", line, "C:RSET\r\n",
                            "S:250 ok\r\n"};
        c->script = s2;
        c->n_steps = 10;
        convo_check(c);
        free(c);
        /* DATA refused */
        c = new_convo(MAILPROTO_SEC_PLAIN);
        c->env = &env;
        c->body = "x";
        c->body_len = 1;
        snprintf(ev, sizeof ev, "READY;RCPT 0 250;SENT MAILPROTO_E_REJECTED %d;", code);
        c->events = ev;
        const char *s3[] = {GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n",
                            "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n",
                            "C:DATA\r\n", line, "C:RSET\r\n", "S:250 ok\r\n"};
        c->script = s3;
        c->n_steps = 12;
        convo_check(c);
        free(c);
        /* end of data refused */
        c = new_convo(MAILPROTO_SEC_PLAIN);
        c->env = &env;
        c->body = "x";
        c->body_len = 1;
        snprintf(ev, sizeof ev, "READY;RCPT 0 250;SENT MAILPROTO_E_REJECTED %d;", code);
        c->events = ev;
        const char *s4[] = {GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n",
                            "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n",
                            "C:DATA\r\n", "S:354 go\r\n", "C:x\r\n.\r\n", line};
        c->script = s4;
        c->n_steps = 12;
        convo_check(c);
        assert_int_equal(c->res.data_complete, 1);
        assert_int_equal(c->err.pub.code, code);
        free(c);
    }
}

static void lmtp_per_recipient(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = three_rcpt, .n_rcpt = 3};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.lmtp = 1;
    c->env = &env;
    c->body = "hi";
    c->body_len = 2;
    c->events = "READY;RCPT 0 250;RCPT 1 550;RCPT 2 250;RCPT 0 250;RCPT 2 452;SENT MAILPROTO_OK 452;";
    CONVO(c, GREET, "C:LHLO localhost\r\n", "S:250-lmtp\r\n250 PIPELINING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"
          "RCPT TO:<c@example.test>\r\nRCPT TO:<d@example.test>\r\nDATA\r\n",
          "S:250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n", "C:hi\r\n.\r\n",
          "S:250 delivered b\r\n452 mailbox full d\r\n");
    assert_int_equal(c->res.n_accepted, 1);
    assert_int_equal(c->res.n_rejected, 2);
    assert_int_equal(c->res.first_rejected, 1);
    free(c);
}

static void chunking_bdat(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "a\n.b";
    c->body_len = 4;
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_OK 250;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n",
          "S:250 ok\r\n250 ok\r\n", "C:BDAT 5\r\na\r\n.bBDAT 2 LAST\r\n\r\n",
          "S:250 ok\r\n250 queued\r\n");
    free(c);
    /* pipelined chunks, the first refused: RSET after every owed reply */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "a\n.b";
    c->body_len = 4;
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_E_REJECTED 552;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n",
          "S:250 ok\r\n250 ok\r\n", "C:BDAT 5\r\na\r\n.bBDAT 2 LAST\r\n\r\n",
          "S:552 too big\r\n503 no\r\n", "C:RSET\r\n", "S:250 ok\r\n");
    free(c);
    /* BINARYMIME: byte-exact, no canonicalization */
    static const mailproto_envelope benv = {
        .from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1, .body = MAILPROTO_BODY_BINARYMIME};
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &benv;
    c->body = "a\n\r\x80";
    c->body_len = 4;
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_OK 250;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250-BINARYMIME\r\n250 CHUNKING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test> BODY=BINARYMIME\r\n", "S:250 ok\r\n",
          "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:BDAT 4\r\na\n\r\x80",
          "S:250 ok\r\n", "C:BDAT 0 LAST\r\n", "S:250 queued\r\n");
    free(c);
    /* a refused chunk: RSET (possible with BDAT) */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "abc";
    c->body_len = 3;
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_E_REJECTED 552;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 CHUNKING\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test>\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n",
          "S:250 ok\r\n", "C:BDAT 3\r\nabc", "S:552 too big\r\n", "C:RSET\r\n", "S:250 ok\r\n");
    free(c);
}

static void eightbit_size_dsn_utf8(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1};
    /* 8-bit body, no 8BITMIME: refused before a byte is written */
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "caf\xc3\xa9\n";
    c->body_len = 6;
    c->submit_rc = MAILPROTO_E_UNSUPPORTED;
    c->events = "READY;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT");
    free(c);
    /* same with a source that cannot rewind: found mid-body, the connection
     * has to be dropped (after DATA/354 there is no clean way out) */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "caf\xc3\xa9\n";
    c->body_len = 6;
    c->body_no_rewind = 1;
    c->final_rc = MAILPROTO_E_UNSUPPORTED;
    c->events = "READY;RCPT 0 250;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n",
          "S:354 go\r\n");
    assert_int_equal(c->res.status, MAILPROTO_E_UNSUPPORTED);
    free(c);
    /* SIZE over the server's limit */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "0123456789";
    c->body_len = 10;
    c->submit_rc = MAILPROTO_E_LIMIT;
    c->events = "READY;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 SIZE 9\r\n", "SUBMIT");
    free(c);
    /* DSN, SMTPUTF8, REQUIRETLS (over TLS) */
    static const char *const u8rcpt[] = {"j\xc3\xb6rg@example.test"};
    static const char *const orcpt[] = {"x+y=z@example.test"};
    static const mailproto_envelope denv = {
        .from = "a@example.test", .rcpt = u8rcpt, .n_rcpt = 1, .orcpt = orcpt,
        .dsn_notify = MAILPROTO_DSN_NOTIFY_FAILURE | MAILPROTO_DSN_NOTIFY_DELAY,
        .dsn_ret = MAILPROTO_DSN_RET_HDRS, .dsn_envid = "id 1", .requiretls = 1};
    c = new_convo(MAILPROTO_SEC_TLS);
    c->env = &denv;
    c->body = "x";
    c->body_len = 1;
    c->body_unknown_size = 1;
    c->events = "STARTTLS;READY;RCPT 0 250;SENT MAILPROTO_OK 250;";
    CONVO(c, "TLS", GREET, EHLO_C,
          "S:250-mx\r\n250-DSN\r\n250-SMTPUTF8\r\n250-8BITMIME\r\n250-SIZE 100\r\n250 REQUIRETLS\r\n",
          "SUBMIT",
          "C:MAIL FROM:<a@example.test> BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+201 REQUIRETLS\r\n",
          "S:250 ok\r\n",
          "C:RCPT TO:<j\xc3\xb6rg@example.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;x+2By+3Dz@example.test\r\n",
          "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n", "C:x\r\n.\r\n", "S:250 ok\r\n");
    free(c);
    /* non-ASCII local part without SMTPUTF8 */
    static const mailproto_envelope uenv = {.from = "a@example.test", .rcpt = u8rcpt, .n_rcpt = 1};
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &uenv;
    c->body = "x";
    c->body_len = 1;
    c->submit_rc = MAILPROTO_E_UNSUPPORTED;
    c->events = "READY;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT");
    free(c);
    /* REQUIRETLS without TLS */
    static const mailproto_envelope renv = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1,
                                            .requiretls = 1};
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &renv;
    c->body = "x";
    c->body_len = 1;
    c->submit_rc = MAILPROTO_E_UNSUPPORTED;
    c->events = "READY;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 REQUIRETLS\r\n", "SUBMIT");
    free(c);
}

/* Extensions off: DSN parameters left out, enhanced codes read as text. */
static void extensions_off(void **state)
{
    (void)state;
    static const char *const orcpt[] = {"x@example.test"};
    static const mailproto_envelope env = {
        .from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1, .orcpt = orcpt,
        .dsn_notify = MAILPROTO_DSN_NOTIFY_NEVER, .dsn_ret = MAILPROTO_DSN_RET_FULL, .dsn_envid = "e1"};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "x";
    c->body_len = 1;
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_OK 250;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n",
          "S:250 2.1.0 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 2.1.5 ok\r\n",
          "C:DATA\r\n", "S:354 go\r\n", "C:x\r\n.\r\n", "S:250 2.0.0 ok\r\n");
    assert_string_equal(c->rcpt0.enhanced, "");
    assert_string_equal(c->rcpt0.text, "2.1.5 ok");
    assert_string_equal(c->res.enhanced, "");
    free(c);
    /* with DSN offered the same envelope carries them */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "x";
    c->body_len = 1;
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_OK 250;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 DSN\r\n", "SUBMIT",
          "C:MAIL FROM:<a@example.test> RET=FULL ENVID=e1\r\n", "S:250 ok\r\n",
          "C:RCPT TO:<b@example.test> NOTIFY=NEVER ORCPT=rfc822;x@example.test\r\n", "S:250 ok\r\n",
          "C:DATA\r\n", "S:354 go\r\n", "C:x\r\n.\r\n", "S:250 ok\r\n");
    free(c);
}

static void idna_domain(void **state)
{
    (void)state;
    static const char *const rc[] = {"b@b\xc3\xbc" "cher.example"};
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = rc, .n_rcpt = 1};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "x";
    c->body_len = 1;
#if MAILPROTO_HAS_IDN
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_OK 250;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n", "S:250 ok\r\n", "C:RCPT TO:<b@xn--bcher-kva.example>\r\n", "S:250 ok\r\n",
          "C:DATA\r\n", "S:354 go\r\n", "C:x\r\n.\r\n", "S:250 ok\r\n");
#else
    c->submit_rc = MAILPROTO_E_UNSUPPORTED;
    c->events = "READY;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT");
#endif
    free(c);
}

/* CR/LF injection in addresses and parameters: nothing is written. */
static void injection_in_envelope(void **state)
{
    (void)state;
    static const char *const bad_addrs[] = {
        "a@b>\r\nRCPT TO:<x@y", "a\r@b", "a\n@b", "a@b\r\n", "<a@b>", "a b@c", "noat", "@b", "a@",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b"};
    for (size_t i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++) {
        for (int as_from = 0; as_from < 2; as_from++) {
            const char *rc[] = {as_from ? "ok@example.test" : bad_addrs[i]};
            mailproto_envelope env = {.from = as_from ? bad_addrs[i] : "a@example.test",
                                      .rcpt = rc, .n_rcpt = 1};
            convo *c = new_convo(MAILPROTO_SEC_PLAIN);
            c->env = &env;
            c->body = "x";
            c->body_len = 1;
            c->submit_rc = MAILPROTO_E_INVALID;
            c->events = "READY;";
            CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT");
            free(c);
        }
    }
    /* a too long domain, and ENVID/ORCPT injection */
    char longdom[300];
    memset(longdom, 'd', sizeof longdom);
    longdom[0] = 'a';
    longdom[1] = '@';
    longdom[299] = '\0';
    const char *rc[] = {longdom};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = rc, .n_rcpt = 1};
    static const char *const good[] = {"b@example.test"};
    static const char *const orcpt_bad[] = {"x@y\r\nDATA"};
    mailproto_envelope env2 = {.from = "a@example.test", .rcpt = good, .n_rcpt = 1, .dsn_envid = "a\r\nb"};
    mailproto_envelope env3 = {.from = "a@example.test", .rcpt = good, .n_rcpt = 1, .orcpt = orcpt_bad};
    mailproto_envelope *envs[] = {&env, &env2, &env3};
    for (size_t i = 0; i < 3; i++) {
        convo *c = new_convo(MAILPROTO_SEC_PLAIN);
        c->env = envs[i];
        c->body = "x";
        c->body_len = 1;
        c->submit_rc = MAILPROTO_E_INVALID;
        c->events = "READY;";
        CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 DSN\r\n", "SUBMIT");
        free(c);
    }
}

/* RFC 5321 4.5.3.2 timeouts with a fake clock. */
static void timeouts(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_TIMEOUT;
    c->events = "";
    CONVO(c, "TIME:299999", "TIME:1");
    free(c);
    /* the greeting timeout: 299999 ms is still fine */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_AGAIN;
    c->events = "";
    CONVO(c, "TIME:299999", GREET, EHLO_C);
    free(c);
    /* EHLO: the inactivity timeout (60 s) */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_TIMEOUT;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "TIME:60000");
    free(c);
    /* a dribbling server keeps the inactivity timeout from firing */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_AGAIN;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "TIME:50000", "S:250-mx\r\n", "TIME:50000", "S:250-8BITMIME\r\n",
          "TIME:50000");
    free(c);
    struct {
        const char *at;
        int ms;
    } phases[] = {{"MAIL", 300000}, {"RCPT", 300000}, {"DATA", 120000}, {"END", 600000}};
    for (size_t i = 0; i < 4; i++) {
        for (int late = 0; late < 2; late++) {
            char t[32];
            snprintf(t, sizeof t, "TIME:%d", phases[i].ms - 1 + late);
            c = new_convo(MAILPROTO_SEC_PLAIN);
            c->env = &env;
            c->body = "x";
            c->body_len = 1;
            c->final_rc = late ? MAILPROTO_E_TIMEOUT : MAILPROTO_AGAIN;
            const char *steps[16] = {GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT"};
            size_t n = 4;
            steps[n++] = "C:MAIL FROM:<a@example.test>\r\n";
            if (i >= 1) {
                steps[n++] = "S:250 ok\r\n";
                steps[n++] = "C:RCPT TO:<b@example.test>\r\n";
            }
            if (i >= 2) {
                steps[n++] = "S:250 ok\r\n";
                steps[n++] = "C:DATA\r\n";
            }
            if (i >= 3) {
                steps[n++] = "S:354 go\r\n";
                steps[n++] = "C:x\r\n.\r\n";
            }
            steps[n++] = t;
            c->script = steps;
            c->n_steps = n;
            c->events = NULL;
            convo_check(c);
            if (late)
                assert_int_equal(c->res.status, MAILPROTO_E_TIMEOUT);
            if (late && i == 3)
                assert_int_equal(c->res.data_complete, 1);
            free(c);
        }
    }
    /* a late reply is never taken as the answer: the session is dead */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_TIMEOUT;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "TIME:60000", "S:250 mx\r\n");
    free(c);
    /* the data block timeout: the peer stops reading */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->env = &env;
    c->body = "x";
    c->body_len = 1;
    c->final_rc = MAILPROTO_E_TIMEOUT;
    c->events = NULL;
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n",
          "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "HOLD",
          "S:354 go\r\n", "TIME:179999", "TIME:1");
    assert_int_equal(c->res.status, MAILPROTO_E_TIMEOUT);
    assert_int_equal(c->res.data_complete, 0);
    free(c);
}

/* A dropped connection: NOT_SENT before the end of data went out,
 * OUTCOME_UNKNOWN after it, never success. */
static void drops(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1};
    const char *pre[] = {GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n",
                         "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n",
                         "C:DATA\r\n", "S:354 go\r\n", "C:x\r\n.\r\n"};
    struct {
        size_t n_pre;
        int hold;
        int want;
    } cases[] = {
        {5, 0, MAILPROTO_E_NOT_SENT},   /* after MAIL */
        {7, 0, MAILPROTO_E_NOT_SENT},   /* after RCPT */
        {9, 0, MAILPROTO_E_NOT_SENT},   /* after DATA */
        {10, 1, MAILPROTO_E_NOT_SENT},  /* body not fully written */
        {11, 0, MAILPROTO_E_OUTCOME_UNKNOWN}, /* end of data written, no reply */
    };
    for (size_t i = 0; i < 5; i++) {
        const char *steps[16];
        size_t n = 0;
        for (size_t k = 0; k < cases[i].n_pre; k++) {
            if (cases[i].hold && k == cases[i].n_pre - 1)
                steps[n++] = "HOLD";
            steps[n++] = pre[k];
        }
        steps[n++] = "EOF";
        convo *c = new_convo(MAILPROTO_SEC_PLAIN);
        c->env = &env;
        c->body = "x";
        c->body_len = 1;
        c->final_rc = cases[i].want;
        c->events = NULL;
        c->script = steps;
        c->n_steps = n;
        convo_check(c);
        assert_int_equal(c->res.status, cases[i].want);
        free(c);
    }
    /* outside a message: closed */
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_CLOSED;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "EOF");
    free(c);
}

static void reply_limits_and_protocol(void **state)
{
    (void)state;
    /* continuation with another code */
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_PROTOCOL;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n251 x\r\n");
    free(c);
    /* garbage */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_PROTOCOL;
    c->events = "";
    CONVO(c, "S:HTTP/1.1 400\r\n");
    free(c);
    /* a surplus reply */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_PROTOCOL;
    c->events = "READY;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n250 extra\r\n");
    free(c);
    /* 1001 lines */
    static char big[1001 * 10 + 16];
    size_t o = 0;
    for (int i = 0; i < 1001; i++)
        o += (size_t)sprintf(big + o, "250-x%02d\r\n", i % 100);
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_LIMIT;
    c->events = "";
    static char sbig[sizeof big + 2];
    sprintf(sbig, "S:%s", big);
    const char *steps[] = {GREET, EHLO_C, sbig};
    c->script = steps;
    c->n_steps = 3;
    convo_run_once(c, 0);
    convo_run_once(c, 1);
    convo_run_once(c, 777);
    free(c);
    /* a line over the limit (no CRLF) */
    static char longline[9000];
    memset(longline, 'a', sizeof longline - 1);
    memcpy(longline, "S:250-", 6);
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->final_rc = MAILPROTO_E_LIMIT;
    c->events = "";
    const char *steps2[] = {GREET, EHLO_C, longline};
    c->script = steps2;
    c->n_steps = 3;
    convo_run_once(c, 0);
    convo_run_once(c, 1);
    free(c);
    /* configured smaller limits */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.max_reply_lines = 3;
    c->final_rc = MAILPROTO_E_LIMIT;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "S:250-a\r\n250-b\r\n250-c\r\n250 d\r\n");
    free(c);
}

static void auth_mechanisms(void **state)
{
    (void)state;
    /* SASL-IR, 535, then the session is still usable */
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "tim";
    c->cfg.password = "tanstaaftanstaaf";
    c->cfg.allow_plaintext_auth = 1;
    c->final_rc = MAILPROTO_E_AUTH;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN\r\n",
          "C:AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", "S:535 5.7.8 bad credentials\r\n");
    assert_int_equal(c->err.pub.code, 535);
    assert_string_equal(c->err.pub.enhanced, "5.7.8");
    assert_null(strstr(c->err.pub.message, "tanstaaf"));
    free(c);
    /* CRAM-MD5 (RFC 2195) */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "tim";
    c->cfg.password = "tanstaaftanstaaf";
    c->cfg.allow_plaintext_auth = 1;
    c->events = "READY;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 AUTH PLAIN CRAM-MD5\r\n", "C:AUTH CRAM-MD5\r\n",
          "S:334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
          "C:dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n", "S:235 ok\r\n");
    free(c);
    /* endless challenges: cancelled with "*" after 5 rounds */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "tim";
    c->cfg.password = "p";
    c->cfg.allow_plaintext_auth = 1;
    c->cfg.auth_mech = MAILPROTO_AUTH_LOGIN;
    c->final_rc = MAILPROTO_E_AUTH;
    c->events = "";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 AUTH LOGIN\r\n", "C:AUTH LOGIN\r\n", "S:334 VXNlcm5hbWU6\r\n",
          "C:dGlt\r\n", "S:334 UGFzc3dvcmQ6\r\n", "C:cA==\r\n", "S:334 UGFzc3dvcmQ6\r\n", "C:*\r\n",
          "S:501 cancelled\r\n");
    free(c);
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "tim";
    c->cfg.password = "p";
    c->cfg.allow_plaintext_auth = 1;
    c->cfg.auth_mech = MAILPROTO_AUTH_PLAIN;
    c->final_rc = MAILPROTO_E_AUTH;
    c->events = "";
    /* a challenge after PLAIN's initial response: cancelled */
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 AUTH PLAIN\r\n", "C:AUTH PLAIN AHRpbQBw\r\n",
          "S:334 \r\n", "C:*\r\n", "S:501 cancelled\r\n");
    free(c);
}

/* XOAUTH2 / OAUTHBEARER error challenges and the token refresh. */
static int refresh_calls;
static int refresh(void *ctx, const char **token)
{
    (void)ctx;
    refresh_calls++;
    *token = "fresh";
    return 0;
}

static void oauth_refresh_once(void **state)
{
    (void)state;
    refresh_calls = 0;
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "u@example.test";
    c->cfg.oauth_token = "old";
    c->cfg.token_refresh = refresh;
    c->cfg.allow_plaintext_auth = 1;
    c->events = "READY;";
    /* XOAUTH2: "user=u@example.test\1auth=Bearer old\1\1" */
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 AUTH XOAUTH2\r\n",
          "C:AUTH XOAUTH2 dXNlcj11QGV4YW1wbGUudGVzdAFhdXRoPUJlYXJlciBvbGQBAQ==\r\n",
          "S:334 eyJzdGF0dXMiOiI0MDEifQ==\r\n", "C:\r\n", "S:535 5.7.8 token expired\r\n",
          "C:AUTH XOAUTH2 dXNlcj11QGV4YW1wbGUudGVzdAFhdXRoPUJlYXJlciBmcmVzaAEB\r\n", "S:235 ok\r\n");
    assert_true(refresh_calls > 0);
    free(c);
    /* OAUTHBEARER: the error challenge is answered with %x01; a second
     * rejection is final */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.host = "mx";
    c->cfg.port = 25;
    c->cfg.username = "u";
    c->cfg.oauth_token = "t";
    c->cfg.token_refresh = refresh;
    c->cfg.allow_plaintext_auth = 1;
    c->final_rc = MAILPROTO_E_AUTH;
    c->events = "";
    /* "n,a=u,\1host=mx\1port=25\1auth=Bearer t\1\1" / with "fresh" */
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 AUTH OAUTHBEARER XOAUTH2\r\n",
          "C:AUTH OAUTHBEARER bixhPXUsAWhvc3Q9bXgBcG9ydD0yNQFhdXRoPUJlYXJlciB0AQE=\r\n",
          "S:334 eyJzdGF0dXMiOiI0MDEifQ==\r\n", "C:AQ==\r\n", "S:535 no\r\n",
          "C:AUTH OAUTHBEARER bixhPXUsAWhvc3Q9bXgBcG9ydD0yNQFhdXRoPUJlYXJlciBmcmVzaAEB\r\n",
          "S:334 eyJzdGF0dXMiOiI0MDEifQ==\r\n", "C:AQ==\r\n", "S:535 still no\r\n");
    free(c);
}

/* SCRAM-SHA-256 through the engine (the RFC vectors are replayed by the
 * SASL unit test), and a server that cannot prove it knows the password. */
static int fixed_nonce(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    memset(buf, 0x5a, n);
    return MAILPROTO_OK;
}

static void scram_server_signature(void **state)
{
    (void)state;
    /* Expected bytes computed independently (Python hashlib) for user
     * "user", password "pencil", client nonce base64(18 x 0x5a). */
#define SCRAM_PRE GREET, EHLO_C, "S:250-mx\r\n250 AUTH PLAIN SCRAM-SHA-256\r\n", \
        "C:AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9V2xwYVdscGFXbHBhV2xwYVdscGFXbHBh\r\n", \
        "S:334 cj1XbHBhV2xwYVdscGFXbHBhV2xwYVdscGFzcnYscz1XMjJaYUowU05ZN3NvRXNVRWpiNmdRPT0saT00MDk2\r\n", \
        "C:Yz1iaXdzLHI9V2xwYVdscGFXbHBhV2xwYVdscGFXbHBhc3J2LHA9OVZWUUxab1lKSlFLQ2tGdVlBOTBtckk1cFVZcWIybXJLN0pqN1BpWTBuaz0=\r\n"
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "user";
    c->cfg.password = "pencil";
    c->cfg.allow_plaintext_auth = 1;
    c->cfg.random = fixed_nonce;
    c->events = "READY;";
    CONVO(c, SCRAM_PRE, "S:334 dj1haVUvbUpYWVNwczkvZmZiY28xUTBhYUxpRXFSQXVVYnZzS2tDNHcyV1BrPQ==\r\n",
          "C:\r\n", "S:235 2.7.0 ok\r\n");
    free(c);
    /* a wrong server signature: cancelled, authentication fails */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "user";
    c->cfg.password = "pencil";
    c->cfg.allow_plaintext_auth = 1;
    c->cfg.random = fixed_nonce;
    c->final_rc = MAILPROTO_E_AUTH;
    c->events = "";
    CONVO(c, SCRAM_PRE, "S:334 dj1heVUvbUpYWVNwczkvZmZiY28xUTBhYUxpRXFSQXVVYnZzS2tDNHcyV1BrPQ==\r\n",
          "C:*\r\n", "S:501 5.7.0 cancelled\r\n");
    free(c);
    /* success claimed without the server's proof: not trusted, session ends */
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.username = "user";
    c->cfg.password = "pencil";
    c->cfg.allow_plaintext_auth = 1;
    c->cfg.random = fixed_nonce;
    c->final_rc = MAILPROTO_E_AUTH;
    c->events = "";
    CONVO(c, SCRAM_PRE, "S:235 2.7.0 ok\r\n");
    free(c);
}

/* The progress callback cancels: after DATA/354 the connection must be
 * dropped (the message must not be completed); with BDAT an RSET does. */
static int cancel_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    (void)total;
    return done > 0;
}

static void progress_cancels(void **state)
{
    (void)state;
    static const mailproto_envelope env = {.from = "a@example.test", .rcpt = one_rcpt, .n_rcpt = 1};
    convo *c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.progress = cancel_progress;
    c->env = &env;
    c->body = "body";
    c->body_len = 4;
    c->final_rc = MAILPROTO_E_CANCELLED;
    c->events = "READY;RCPT 0 250;";
    CONVO(c, GREET, EHLO_C, "S:250 mx\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n", "S:250 ok\r\n",
          "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:DATA\r\n", "S:354 go\r\n");
    assert_int_equal(c->res.status, MAILPROTO_E_CANCELLED);
    assert_int_equal(c->res.data_complete, 0);
    free(c);
    c = new_convo(MAILPROTO_SEC_PLAIN);
    c->cfg.progress = cancel_progress;
    c->env = &env;
    c->body = "body";
    c->body_len = 4;
    c->events = "READY;RCPT 0 250;SENT MAILPROTO_E_CANCELLED 0;";
    CONVO(c, GREET, EHLO_C, "S:250-mx\r\n250 CHUNKING\r\n", "SUBMIT", "C:MAIL FROM:<a@example.test>\r\n",
          "S:250 ok\r\n", "C:RCPT TO:<b@example.test>\r\n", "S:250 ok\r\n", "C:RSET\r\n", "S:250 ok\r\n");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_session_one_message),
        cmocka_unit_test(two_messages_rset_between),
        cmocka_unit_test(starttls_forgets_and_auth_plain),
        cmocka_unit_test(trace_redacts_credentials),
        cmocka_unit_test(starttls_injection),
        cmocka_unit_test(starttls_missing_or_refused),
        cmocka_unit_test(implicit_tls_first),
        cmocka_unit_test(helo_fallback),
        cmocka_unit_test(pipelined_partial),
        cmocka_unit_test(pipelined_all_refused),
        cmocka_unit_test(pipelined_surplus_and_missing),
        cmocka_unit_test(all_or_nothing),
        cmocka_unit_test(errors_at_every_step),
        cmocka_unit_test(lmtp_per_recipient),
        cmocka_unit_test(chunking_bdat),
        cmocka_unit_test(eightbit_size_dsn_utf8),
        cmocka_unit_test(extensions_off),
        cmocka_unit_test(idna_domain),
        cmocka_unit_test(injection_in_envelope),
        cmocka_unit_test(timeouts),
        cmocka_unit_test(drops),
        cmocka_unit_test(reply_limits_and_protocol),
        cmocka_unit_test(auth_mechanisms),
        cmocka_unit_test(oauth_refresh_once),
        cmocka_unit_test(scram_server_signature),
        cmocka_unit_test(progress_cancels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
